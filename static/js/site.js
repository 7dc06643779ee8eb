// Small behaviours shared by every page; no inline script anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  // <select data-submit-on-change>: choosing an option submits its form (the tenant switcher).
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
