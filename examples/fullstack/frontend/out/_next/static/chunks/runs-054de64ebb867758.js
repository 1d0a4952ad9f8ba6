// Start a run (POST /api/runs), then follow its events with EventSource on the same origin.
// EventSource reconnects by itself and sends Last-Event-ID, so a dropped connection resumes
// where it stopped; the server ends with `done` (or 204 when there is nothing left).
(function () {
  "use strict";
  var form = document.getElementById("start");
  var state = document.getElementById("state");
  var list = document.getElementById("events");

  function add(text, note) {
    var li = document.createElement("li");
    li.textContent = text;
    if (note) { li.className = "note"; }
    list.appendChild(li);
  }

  function follow(run) {
    var source = new EventSource(run.events);
    source.addEventListener("status", function (e) {
      state.textContent = "Running (" + JSON.parse(e.data).mode + " mode)…";
    });
    source.addEventListener("step", function (e) {
      var d = JSON.parse(e.data);
      add(d.step + "/" + d.of + " " + d.text);
    });
    source.addEventListener("gap", function (e) {
      var d = JSON.parse(e.data);
      add("Missed events " + d.missed_from + " to " + (d.resume_from - 1) + " while away.", true);
    });
    source.addEventListener("shutdown", function () {
      state.textContent = "The server is restarting; reconnecting…";
    });
    source.addEventListener("done", function () {
      state.textContent = "Done.";
      source.close();
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { state.textContent = "Stream closed."; }
    };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    list.textContent = "";
    state.textContent = "Starting…";
    fetch("/api/runs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        prompt: form.prompt.value,
        steps: parseInt(form.steps.value, 10)
      })
    })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(body.error + (body.fields ? ": " + JSON.stringify(body.fields) : "")); }
          return body;
        });
      })
      .then(follow)
      .catch(function (e) { state.textContent = "Could not start: " + e.message; });
  });
})();
