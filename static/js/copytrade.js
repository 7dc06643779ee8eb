// Copy-trading pages (seed 001): the "New Account" <dialog>, closed again once htmx reports the account
// created (HX-Trigger: accounts-changed); copy buttons in fragments htmx swapped in (a revealed key).
// No inline script anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";

  document.querySelectorAll("[data-open-dialog]").forEach(function (button) {
    button.addEventListener("click", function () {
      var dialog = document.getElementById(button.getAttribute("data-open-dialog"));
      if (dialog && !dialog.open) { dialog.showModal(); }
    });
  });
  document.querySelectorAll("[data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", function () {
      var dialog = document.getElementById(button.getAttribute("data-close-dialog"));
      if (dialog) { dialog.close(); }
    });
  });
  document.body.addEventListener("accounts-changed", function () {
    var dialog = document.getElementById("new-account-dialog");
    if (dialog && dialog.open) { dialog.close(); }
  });

  function wireCopy(root) {
    root.querySelectorAll("button[data-copy]:not([data-wired])").forEach(function (button) {
      if (!navigator.clipboard) { return; }
      button.setAttribute("data-wired", "true");
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        if (!source) { return; }
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }
  document.body.addEventListener("htmx:afterSwap", function (event) { wireCopy(event.detail.target.parentNode || document); });
})();
