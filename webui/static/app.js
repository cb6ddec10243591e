// dialgate web UI: progressive enhancement only. Every page works without this file.
// Elements with data-sse="URL" get their contents replaced by each "update" event's HTML.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-sse]").forEach(function (el) {
    if (!window.EventSource) { return; }
    var source = new EventSource(el.getAttribute("data-sse"));
    source.addEventListener("update", function (e) { el.innerHTML = e.data; });
    var live = document.getElementById("live-state");
    source.onopen = function () { if (live) { live.textContent = "live"; } };
    source.onerror = function () { if (live) { live.textContent = "reconnecting"; } };
  });
});

