package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecorder(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want int
	}{
		{"body only", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, 200},
		{"status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }, 418},
		{"error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusNotFound) }, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rec := NewRecorder(w)
			tc.h(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Status != tc.want || w.Code != tc.want {
				t.Errorf("Status = %d, written %d; want %d", rec.Status, w.Code, tc.want)
			}
			if rec.Unwrap() != w {
				t.Error("Unwrap does not give the wrapped writer")
			}
		})
	}
}
