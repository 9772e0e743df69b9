// Relais UI: the upload progress bar and the Markdown preview. Every page works without this file
// except the progress bar; the upload form then posts normally.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("upload");
  if (!form) return;
  var csrf = form.dataset.csrf;

  var previewButton = document.getElementById("preview-button");
  var preview = document.getElementById("preview");
  previewButton.hidden = false;
  previewButton.addEventListener("click", function () {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/ui/preview");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", "text/markdown; charset=utf-8");
    xhr.onload = function () {
      if (xhr.status === 200) {
        preview.innerHTML = xhr.responseText; // goldmark output: raw HTML in the text is escaped
        preview.hidden = false;
      }
    };
    xhr.send(document.getElementById("text").value);
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var box = document.getElementById("progress");
    var bar = document.getElementById("progress-bar");
    var text = document.getElementById("progress-text");
    var errBox = document.getElementById("upload-error");
    var submit = form.querySelector("button[type=submit]");
    errBox.hidden = true;
    box.hidden = false;
    submit.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/ui/lessons");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var pct = Math.round((e.loaded / e.total) * 100);
        bar.value = pct;
        text.textContent = pct + " %";
      }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) {}
      if (xhr.status === 201 && body.location) {
        window.location.assign(body.location);
        return;
      }
      submit.disabled = false;
      errBox.textContent = form.dataset.failed + " " + (body.error || xhr.status);
      errBox.hidden = false;
      errBox.focus();
    };
    xhr.onerror = function () {
      submit.disabled = false;
      errBox.textContent = form.dataset.failed + " network";
      errBox.hidden = false;
    };
    xhr.send(new FormData(form));
  });
});
