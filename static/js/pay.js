// Hosted payment page: a countdown to the order's expiry and a copy button for the number.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : String(n); }

  document.querySelectorAll(".countdown[data-expires-at]").forEach(function (el) {
    var end = Date.parse(el.getAttribute("data-expires-at"));
    if (isNaN(end)) { return; }
    function tick() {
      var left = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
      if (left === 0) { clearInterval(timer); window.location.reload(); }
    }
    var timer = setInterval(tick, 1000);
    tick();
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) { return; }
      var value = source.getAttribute("data-value") || source.textContent.trim();
      navigator.clipboard.writeText(value).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });
})();
