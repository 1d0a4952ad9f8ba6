// Live figures for the dashboard: a first-party script (the CSP forbids inline and third-party
// scripts). It listens to the server-sent-events stream and updates every [data-metric] value.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var text = document.getElementById("live-text");
  if (!status || !window.EventSource) { return; }
  var url = status.getAttribute("data-events-url") + "?window=" +
    encodeURIComponent(status.getAttribute("data-window") || "24h");

  function format(kind, value) {
    if (value === null || value === undefined) { return "\u2014"; }
    switch (kind) {
      case "int": return String(Math.round(value));
      case "ms": return Math.round(value) + " ms";
      case "pct": return value.toFixed(2) + " %";
      case "rate": return (value * 100).toFixed(2) + " %";
      case "time": return new Date(value * 1000).toLocaleTimeString();
      default: return String(value);
    }
  }

  function apply(figures) {
    var nodes = document.querySelectorAll("[data-metric]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var key = node.getAttribute("data-metric");
      if (!(key in figures)) { continue; }
      var next = format(node.getAttribute("data-format"), figures[key]);
      if (node.textContent !== next) {
        node.textContent = next;
        node.classList.add("changed");
        (function (n) { setTimeout(function () { n.classList.remove("changed"); }, 1500); })(node);
      }
    }
  }

  var source = new EventSource(url);
  source.addEventListener("open", function () {
    status.className = "live on";
    text.textContent = "live";
  });
  source.addEventListener("metrics", function (event) {
    apply(JSON.parse(event.data));
    status.className = "live on";
    text.textContent = "live \u00b7 updated " + new Date().toLocaleTimeString();
  });
  source.addEventListener("bye", function () {
    text.textContent = "reconnecting\u2026";
  });
  source.addEventListener("error", function () {
    status.className = "live off";
    text.textContent = "connection lost, retrying\u2026";
  });
})();
