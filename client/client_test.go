package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/internal/testenv"
)

func TestDoSaysWhyTheServerRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"unauthorized","message":"Unknown token."}}`)
			return
		}
		switch r.URL.Path {
		case "/api/v1/lessons/1":
			io.WriteString(w, `{"id":1,"title":"Les fractions","status":"ready"}`)
		case "/tus":
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "ERR_MAX_SIZE_EXCEEDED: The recording is larger than 2 GiB.\n")
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<html>busy</html>")
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	l, err := New(srv.URL+"/", "tok").Lesson(ctx, 1)
	if err != nil || l.ID != 1 || l.Title != "Les fractions" || l.Status != relais.LessonReady {
		t.Errorf("Lesson = %+v, %v", l, err)
	}
	for _, tt := range []struct {
		token, path string
		want        Error
		retryable   bool
	}{
		{"wrong", "/api/v1/lessons/1", Error{401, "Unknown token."}, false},
		{"tok", "/tus", Error{413, "The recording is larger than 2 GiB."}, false},
		{"tok", "/busy", Error{503, "server answered 503 Service Unavailable"}, true},
	} {
		err := New(srv.URL, tt.token).Do(ctx, "GET", tt.path, nil, "", http.StatusOK, nil)
		var got *Error
		if !errors.As(err, &got) || *got != tt.want || got.Retryable() != tt.retryable {
			t.Errorf("GET %s: %#v, want %#v (retryable %v)", tt.path, err, tt.want, tt.retryable)
		}
	}
	if err := New("http://"+testenv.ClosedAddr(t), "tok").Do(ctx, "GET", "/", nil, "", 200, nil); err == nil || !strings.Contains(err.Error(), "cannot reach the server") {
		t.Errorf("bad address: %v", err)
	}
}

func TestCreateLessonSendsFieldsAndFiles(t *testing.T) {
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/api/v1/lessons" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got = map[string]string{}
		for k, v := range r.MultipartForm.Value {
			got[k] = v[0]
		}
		for k, fs := range r.MultipartForm.File {
			f, _ := fs[0].Open()
			b, _ := io.ReadAll(f)
			got[k+" file"] = fs[0].Filename + ": " + string(b)
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(api.Lesson{ID: 9, Title: got["title"]})
	}))
	defer srv.Close()
	l, err := New(srv.URL, "tok").CreateLesson(context.Background(), map[string]string{"title": "Les fractions", "region": ""},
		BytesPart("worksheet", "fiche.pdf", []byte("%PDF-1.4")))
	if err != nil || l.ID != 9 {
		t.Fatalf("CreateLesson = %+v, %v", l, err)
	}
	want := map[string]string{"title": "Les fractions", "worksheet file": "fiche.pdf: %PDF-1.4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the server received (-want +got):\n%s", diff)
	}
}

func TestWaitLessonStopsWhenReady(t *testing.T) {
	var mu sync.Mutex
	reads := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		st := relais.LessonProcessing
		if reads == 3 {
			st = relais.LessonReady
		}
		json.NewEncoder(w).Encode(api.Lesson{ID: 4, Status: st})
	}))
	defer srv.Close()
	var seen []relais.LessonStatus
	l, err := New(srv.URL, "tok").WaitLesson(context.Background(), 4, time.Millisecond, func(l api.Lesson) { seen = append(seen, l.Status) })
	if err != nil || l.Status != relais.LessonReady {
		t.Fatalf("WaitLesson = %+v, %v", l, err)
	}
	want := []relais.LessonStatus{relais.LessonProcessing, relais.LessonProcessing, relais.LessonReady}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("readings (-want +got):\n%s", diff)
	}
}

// TestUploadResumesFromTheServersOffset: a PATCH that fails with a 503 after the server kept part of
// the chunk is resumed from the offset HEAD gives, and the server ends with the exact file.
func TestUploadResumesFromTheServersOffset(t *testing.T) {
	file := []byte(strings.Repeat("0123456789", 100))
	var mu sync.Mutex
	var stored []byte
	failed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Tus-Resumable") != "1.0.0" {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		switch r.Method {
		case "POST":
			if r.Header.Get("Upload-Length") != strconv.Itoa(len(file)) {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("Location", "/api/v1/uploads/u1")
			w.WriteHeader(http.StatusCreated)
		case "HEAD":
			w.Header().Set("Upload-Offset", strconv.Itoa(len(stored)))
		case "PATCH":
			if r.Header.Get("Upload-Offset") != strconv.Itoa(len(stored)) {
				w.WriteHeader(http.StatusConflict)
				return
			}
			b, _ := io.ReadAll(r.Body)
			if !failed && len(stored) > 0 {
				failed = true
				stored = append(stored, b[:len(b)/2]...) // half the chunk arrived before the failure
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			stored = append(stored, b...)
			w.Header().Set("Upload-Offset", strconv.Itoa(len(stored)))
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	path := t.TempDir() + "/lesson.mp4"
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	var notes []string
	var last int64
	up := &Upload{Client: New(srv.URL, "tok"), Chunk: 300, Attempts: 1, Backoff: func(int) time.Duration { return 0 },
		Progress: func(sent, total int64) { last = sent },
		Note:     func(format string, args ...any) { notes = append(notes, format) }}
	loc, err := up.Send(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if loc != srv.URL+"/api/v1/uploads/u1" || string(stored) != string(file) || last != int64(len(file)) {
		t.Errorf("upload at %s: the server has %d bytes (same as the file: %v), progress ended at %d", loc, len(stored), string(stored) == string(file), last)
	}
	want := []string{"Connection lost: %v. Retrying in %s (%d of %d).", "Resuming at byte %d of %d (the server has %s)."}
	if diff := cmp.Diff(want, notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
