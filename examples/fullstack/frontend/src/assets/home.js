// The home page's only job: say whether the backend answers (same origin, /api/health).
(function () {
  "use strict";
  var el = document.getElementById("health");
  fetch("/api/health", { cache: "no-store" })
    .then(function (r) { return r.json(); })
    .then(function (h) { el.textContent = "Backend up (" + h.mode + " mode)."; })
    .catch(function () { el.textContent = "The backend does not answer."; });
})();
