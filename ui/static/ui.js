// Relais UI: the upload page's resumable upload and progress bar, and the Markdown preview. Every page
// works without this file: the upload form then posts the file as multipart.
//
// The recording goes up with the tus protocol (tus.min.js, tus-js-client) to /ui/uploads in chunks of
// the form's data-chunk-size bytes (8 MiB), retried after a dropped connection; tus-js-client keeps
// the upload's URL in localStorage, so choosing the same file again after a reload resumes it. Then
// the lesson's fields are posted to /ui/lessons with the upload's URL in 'upload'. A browser without
// tus support, or a file of unknown type, posts the file itself as before.
//
// What the page shows, for people and for tests:
//   form#upload data-state: idle, uploading, resuming, saving (creating the lesson), error
//   #progress-bar: value in percent; data-uploaded and data-total in bytes
//   #progress-text: the percentage or what is happening; #upload-error: the reason of a failure
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

  var box = document.getElementById("progress");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var errBox = document.getElementById("upload-error");
  var media = document.getElementById("media");
  var submit = form.querySelector("button[type=submit]");
  var resumable = typeof window.tus === "object" && window.tus.isSupported;
  if (resumable) document.getElementById("media-help").hidden = false;

  function setState(s) { form.dataset.state = s; }

  function showProgress(sent, total) {
    var pct = total > 0 ? Math.floor((sent / total) * 100) : 0;
    if (form.dataset.state === "resuming") setState("uploading");
    bar.value = pct;
    bar.dataset.uploaded = String(sent);
    bar.dataset.total = String(total);
    text.textContent = pct + " %";
  }

  function fail(msg) {
    setState("error");
    submit.disabled = false;
    if (!(bar.value > 0)) box.hidden = true; // nothing was sent: no progress to show
    errBox.textContent = form.dataset.failed + " " + msg;
    errBox.hidden = false;
    errBox.focus();
  }

  // reason reads an error answer: the API's JSON error, the UI's {"error": "..."}, tusd's
  // "ERR_CODE: text", or, for the UI's HTML error pages, a sentence chosen by status.
  function reason(status, body, contentType) {
    if (!status) return form.dataset.network;
    body = body || "";
    contentType = contentType || "";
    if (contentType.indexOf("json") >= 0) {
      try {
        var e = JSON.parse(body).error;
        if (typeof e === "string" && e) return e;
        if (e && e.message) return e.message;
      } catch (ignored) { /* not JSON after all */ }
    }
    if (contentType.indexOf("text/plain") === 0 && body.trim()) return body.trim().replace(/^ERR_[A-Z_]+: /, "");
    if (status === 401) return form.dataset.signin;
    if (status === 403) return form.dataset.expired;
    return String(status);
  }

  // createLesson posts the form's fields (and the file itself when it is still in fd), then opens the
  // new lesson; done runs first.
  function createLesson(fd, withProgress, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/ui/lessons");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    if (withProgress) {
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) showProgress(e.loaded, e.total);
      };
    }
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { /* an HTML error page */ }
      if (xhr.status === 201 && body.location) {
        Promise.resolve(done && done()).then(function () { window.location.assign(body.location); });
        return;
      }
      fail(reason(xhr.status, xhr.responseText, xhr.getResponseHeader("Content-Type")));
    };
    xhr.onerror = function () { fail(form.dataset.network); };
    xhr.send(fd);
  }

  // forget drops the stored URLs of this file's uploads once a lesson was made from it, so that the
  // same file chosen again later is a new upload.
  function forget(upload) {
    return upload.findPreviousUploads().then(function (previous) {
      previous.forEach(function (p) { window.tus.defaultOptions.urlStorage.removeUpload(p.urlStorageKey); });
    }).catch(function () { /* nothing stored */ });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    errBox.hidden = true;
    box.hidden = false;
    submit.disabled = true;
    var file = media.files[0];
    var fd = new FormData(form);
    if (!resumable || !file || !file.type) {
      setState("uploading");
      createLesson(fd, true, null);
      return;
    }
    fd.delete("media");
    var chunk = parseInt(form.dataset.chunkSize, 10);
    if (!(chunk > 0)) chunk = 8 << 20;
    var upload = new window.tus.Upload(file, {
      endpoint: form.dataset.tusEndpoint,
      chunkSize: chunk,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
      metadata: { filename: file.name, filetype: file.type },
      headers: { "X-CSRF-Token": csrf },
      // The connection dropped or the server had a moment's trouble: tus-js-client asks the server how
      // much it has (HEAD) and sends the rest. Say so rather than look stuck.
      onShouldRetry: function (err) {
        var res = err && err.originalResponse;
        var status = res ? res.getStatus() : 0;
        var retry = !(status >= 400 && status < 500) || status === 409 || status === 423;
        if (retry) {
          setState("resuming");
          text.textContent = form.dataset.retrying;
        }
        return retry;
      },
      removeFingerprintOnSuccess: false, // kept until the lesson is made: a failed form can be sent again
      onProgress: showProgress,
      onError: function (err) {
        var res = err && err.originalResponse;
        fail(res ? reason(res.getStatus(), res.getBody(), res.getHeader("Content-Type")) : form.dataset.network);
      },
      onSuccess: function () {
        showProgress(file.size, file.size);
        setState("saving");
        text.textContent = form.dataset.saving;
        fd.append("upload", upload.url);
        createLesson(fd, false, function () { return forget(upload); });
      }
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length > 0) {
        previous.sort(function (a, b) { return a.creationTime < b.creationTime ? 1 : -1; });
        upload.resumeFromPreviousUpload(previous[0]);
        setState("resuming");
        text.textContent = form.dataset.resuming;
      } else {
        setState("uploading");
      }
      upload.start();
    }, function () {
      setState("uploading");
      upload.start();
    });
  });
});
