// Merchant and trader dashboards: Chart.js charts from the page's JSON data blocks, and the trader's
// new-order alert (a banner, the tab title, and a tone when sound is on). A static file: the CSP forbids
// inline scripts; Chart.js is vendored (static/vendor/chart.umd.min.js).
(function () {
  "use strict";

  var CHARTS = {
    turnover: { type: "bar", series: [["turnover", "Turnover"]] },
    orders: { type: "bar", series: [["orders", "Orders"], ["completed", "Completed"]] },
    success_rate: { type: "line", series: [["success_rate", "Success rate, %"]], max: 100 },
    minutes_to_pay: { type: "line", series: [["minutes_to_pay", "Minutes to pay"]] },
    earnings: { type: "bar", series: [["earnings", "Commissions"]] },
    volume: { type: "bar", series: [["volume", "Volume confirmed"]] }
  };
  var COLORS = ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa"];

  function readData(id) {
    var node = document.getElementById(id);
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function drawCharts() {
    if (typeof window.Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = CHARTS[canvas.dataset.chart];
      var data = readData(canvas.dataset.source);
      if (!spec || !data) { return; }
      var chart = new window.Chart(canvas, {
        type: spec.type,
        data: {
          labels: data.labels.map(function (label) { return label.slice(5); }),
          datasets: spec.series.map(function (pair, i) {
            return {
              label: pair[1], data: data[pair[0]], backgroundColor: COLORS[i], borderColor: COLORS[i],
              spanGaps: true, tension: 0.2
            };
          })
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          plugins: { legend: { display: spec.series.length > 1 } },
          scales: { y: { beginAtZero: true, suggestedMax: spec.max } }
        }
      });
      canvas.dataset.drawn = "1";
      canvas.chart = chart;
    });
  }

  // --- the trader's new-order alert ----------------------------------------------------------------
  var known = null;
  var soundOn = false;
  var audio = null;
  var baseTitle = document.title;

  function idsIn(root) {
    var holder = root && root.querySelector("[data-order-ids]");
    if (!holder) { return null; }
    return holder.dataset.orderIds.split(/\s+/).filter(Boolean);
  }

  function beep() {
    if (!soundOn) { return; }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.25].forEach(function (offset) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(audio.currentTime + offset);
        osc.stop(audio.currentTime + offset + 0.15);
      });
    } catch (e) { /* no audio here: the banner still shows */ }
  }

  function alertNew(fresh) {
    var banner = document.getElementById("new-order-alert");
    if (!banner) { return; }
    banner.querySelector("[data-alert-text]").textContent =
      fresh.length === 1 ? "Order " + fresh[0].slice(0, 12) + "… is waiting for you."
                         : fresh.length + " new orders are waiting for you.";
    banner.hidden = false;
    banner.dataset.count = String(fresh.length);
    document.title = "(" + fresh.length + " new) " + baseTitle;
    beep();
  }

  function watchOrders() {
    var box = document.getElementById("active-orders");
    if (!box) { return; }
    known = idsIn(box) || [];
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target !== box) { return; }
      var now = idsIn(box);
      if (now === null) { return; }
      var fresh = now.filter(function (id) { return known.indexOf(id) === -1; });
      known = now;
      if (fresh.length) { alertNew(fresh); }
    });
    var dismiss = document.querySelector("[data-dismiss-alert]");
    if (dismiss) {
      dismiss.addEventListener("click", function () {
        document.getElementById("new-order-alert").hidden = true;
        document.title = baseTitle;
      });
    }
    var toggle = document.querySelector("[data-sound-toggle]");
    if (toggle) {
      soundOn = window.localStorage && localStorage.getItem("traderSound") === "on";
      var show = function () {
        toggle.textContent = "Sound alerts: " + (soundOn ? "on" : "off");
        toggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
      };
      show();
      toggle.addEventListener("click", function () {
        soundOn = !soundOn;
        if (window.localStorage) { localStorage.setItem("traderSound", soundOn ? "on" : "off"); }
        show();
        if (soundOn) { beep(); }  // a click is the gesture browsers want before audio plays
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    watchOrders();
  });
})();
