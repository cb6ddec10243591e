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
  // Forms with data-upload-progress="ID" show the upload's progress in <progress id=ID>.
  document.querySelectorAll("form[data-upload-progress]").forEach(function (form) {
    if (!window.XMLHttpRequest || !window.FormData) { return; }
    var bar = document.getElementById(form.getAttribute("data-upload-progress"));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      if (bar) { bar.hidden = false; bar.value = 0; }
      xhr.upload.onprogress = function (ev) {
        if (bar && ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
      };
      // The answer (after the redirect, the page with its one-time flash) replaces this one;
      // loading the redirect's URL again would lose the flash.
      xhr.onload = function () {
        var url = xhr.status === 200 ? xhr.responseURL : "";
        document.open(); document.write(xhr.responseText); document.close();
        if (url) { history.replaceState(null, "", url); }
      };
      xhr.onerror = function () { if (bar) { bar.hidden = true; } form.submit(); };
      xhr.send(new FormData(form));
    });
  });
});

