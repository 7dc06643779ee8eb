// Small behaviours shared by every page; no inline script anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  // <select data-submit-on-change>: choosing an option submits its form (the tenant switcher).
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function textOf(id) {
    var node = document.getElementById(id);
    if (!node) { return ""; }
    if (node.tagName === "UL" || node.tagName === "OL") {
      return Array.prototype.map.call(node.querySelectorAll("li"), function (li) {
        return li.textContent.trim();
      }).join("\n") + "\n";
    }
    return node.textContent.trim();
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) { return navigator.clipboard.writeText(text); }
    // Plain http (local runs): a hidden textarea and the old copy command.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  // <button data-copy-target="id">: copies the element's text (a list: one item a line) and says so.
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      copyText(textOf(button.dataset.copyTarget)).then(function () {
        button.textContent = "Copied";
        button.dataset.copied = "1";
      }, function () {
        button.textContent = "Select and copy by hand";
      });
      window.setTimeout(function () { button.textContent = label; }, 2500);
    });
  });

  // <button data-download-target="id" data-filename="…">: saves the element's text as a .txt file.
  document.querySelectorAll("button[data-download-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var blob = new Blob([textOf(button.dataset.downloadTarget)], { type: "text/plain" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = button.dataset.filename || "codes.txt";
      document.body.appendChild(link);
      link.click();
      document.body.removeChild(link);
      window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
  });
})();
