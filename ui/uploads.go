package ui

import (
	"net/http"
	"net/url"
	"strings"
)

// Resumable uploads from the browser. The upload page's script (tus-js-client) speaks the tus protocol
// to /ui/uploads, which hands each request to the API's /api/v1/uploads in-process with the signed-in
// user's token: the browser has a session cookie, not the token. The guard has checked the session,
// the role and, on POST and PATCH, the CSRF token (the script sends X-CSRF-Token).

const (
	uiUploads  = "/ui/uploads"
	apiUploads = "/api/v1/uploads"
)

// forwardUpload streams the request body to the API and its answer back, unbuffered: a PATCH may
// carry megabytes, and tusd reads it as it arrives.
func (h *Handler) forwardUpload(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	path := apiUploads
	if id := r.PathValue("id"); id != "" {
		path += "/" + url.PathEscape(id)
	}
	req := r.Clone(r.Context())
	req.URL = &url.URL{Path: path}
	req.RequestURI = path
	req.Header.Del("Cookie")
	req.Header.Del("X-CSRF-Token")
	req = c.asUser(req)
	h.tus.ServeHTTP(&uploadWriter{ResponseWriter: w}, req)
}

// uploadWriter points the Location of a new upload at /ui/uploads, so that the browser's PATCH and
// HEAD come back through the UI.
type uploadWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *uploadWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if loc := w.Header().Get("Location"); loc != "" {
			if u, err := url.Parse(loc); err == nil && strings.HasPrefix(u.Path, apiUploads+"/") {
				w.Header().Set("Location", uiUploads+strings.TrimPrefix(u.Path, apiUploads))
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *uploadWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *uploadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
