// Package httpstatus records the status a handler answers, for the request log and the metrics.
package httpstatus

import "net/http"

// Recorder is a ResponseWriter that remembers the status written through it (200 until one is).
type Recorder struct {
	http.ResponseWriter
	Status int
}

// NewRecorder wraps w.
func NewRecorder(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Status: http.StatusOK}
}

func (r *Recorder) WriteHeader(code int) {
	r.Status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
