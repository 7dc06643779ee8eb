// Trading pages: copy buttons and the cumulative profit chart. No inline script anywhere
// (Content-Security-Policy: script-src 'self'); Chart.js is vendored (static/vendor/chart.umd.min.js).
(function () {
  "use strict";

  // <button data-copy="#selector" hidden>: copies the element's text (shown only where the clipboard works).
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) { return; }
      var text = source.value !== undefined ? source.value : source.textContent;
      navigator.clipboard.writeText(text.trim()).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });

  // <canvas data-pnl-url="…">: running realized PnL, from the account's pnl.json.
  document.querySelectorAll("canvas[data-pnl-url]").forEach(function (canvas) {
    if (typeof window.Chart === "undefined") { return; }
    fetch(canvas.getAttribute("data-pnl-url"), {credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var empty = document.getElementById(canvas.getAttribute("data-empty"));
        if (!data.values.length) {
          canvas.hidden = true;
          if (empty) { empty.hidden = false; }
          return;
        }
        canvas.setAttribute("data-points", String(data.values.length));
        new window.Chart(canvas, {
          type: "line",
          data: {
            labels: data.labels,
            datasets: [{label: "Cumulative realized PnL", data: data.values.map(Number), tension: 0.2,
                         borderColor: "#1e88e5", pointRadius: 2, fill: false}]
          },
          options: {responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: {legend: {display: false}}}
        });
        canvas.setAttribute("data-drawn", "true");
      });
  });
})();
