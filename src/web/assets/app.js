// leadgate web UI: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Live refresh: poll the small pulse endpoint and offer to reload when a newer lead arrived.
  var live = document.getElementById("live");
  if (live && live.dataset.pulseUrl && window.fetch) {
    var latest = parseInt(live.dataset.latest || "0", 10);
    var poll = function () {
      fetch(live.dataset.pulseUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (p && p.latest_id > latest) {
            live.hidden = false;
            document.title = "(" + p.new_count + ") " + document.title.replace(/^\(\d+\) /, "");
          }
        })
        .catch(function () {});
    };
    window.setInterval(poll, 15000);
    // Poll at once when the manager comes back to the tab.
    window.addEventListener("focus", poll);
  }
  document.querySelectorAll("[data-reload]").forEach(function (a) {
    a.addEventListener("click", function (e) { e.preventDefault(); window.location.reload(); });
  });
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); }
    });
  });
  document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () { input.form.submit(); });
  });
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var target = document.getElementById(b.dataset.copy);
      if (target && navigator.clipboard) {
        navigator.clipboard.writeText(target.textContent.trim()).then(function () { b.textContent = "Скопировано"; });
      }
    });
  });
});
