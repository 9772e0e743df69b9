package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-edu/relais/internal/testenv"
)

// TestUploadGivesUp stops after Attempts retries when the server stays away, and says so.
func TestUploadGivesUp(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	f := filepath.Join(t.TempDir(), "a.mp4")
	os.WriteFile(f, append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p'}, make([]byte, 100)...), 0o600)
	var notes []string
	up := &Upload{Client: New("http://"+addr, "x"), Chunk: 1 << 20, Attempts: 2,
		Backoff: func(int) time.Duration { return time.Millisecond },
		Note:    func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }}
	_, err := up.Send(context.Background(), f)
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 retries") {
		t.Errorf("send = %v, want it to give up after 2 retries", err)
	}
	if len(notes) != 2 {
		t.Errorf("notes = %q, want 2 retries", notes)
	}
}

// lateServer speaks enough tus for Send: its first PATCH finds that bytes of an earlier, cut request
// were saved meanwhile (the offset moved on by late), so it answers 409 as tusd does.
type lateServer struct {
	mu      sync.Mutex
	data    []byte
	size    int64
	late    int
	patches int
}

func (s *lateServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Tus-Resumable", "1.0.0")
	switch r.Method {
	case http.MethodPost:
		s.size, _ = strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
		w.Header().Set("Location", "/api/v1/uploads/u1")
		w.WriteHeader(http.StatusCreated)
	case http.MethodHead:
		w.Header().Set("Upload-Offset", strconv.Itoa(len(s.data)))
		w.Header().Set("Upload-Length", strconv.FormatInt(s.size, 10))
	case http.MethodPatch:
		s.patches++
		body, _ := io.ReadAll(r.Body)
		if s.patches == 2 && s.late > 0 {
			// The cut request's tail lands now: the client's offset is stale.
			s.data = append(s.data, body[:s.late]...)
			http.Error(w, "mismatched offset", http.StatusConflict)
			return
		}
		if off, _ := strconv.Atoi(r.Header.Get("Upload-Offset")); off != len(s.data) {
			http.Error(w, "mismatched offset", http.StatusConflict)
			return
		}
		s.data = append(s.data, body...)
		w.Header().Set("Upload-Offset", strconv.Itoa(len(s.data)))
		w.WriteHeader(http.StatusNoContent)
	}
}

// TestUploadResyncsAfterOffsetConflict: a 409 is settled by asking the server its offset and going on
// from there, with no attempt spent, and the file arrives whole.
func TestUploadResyncsAfterOffsetConflict(t *testing.T) {
	file := append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p'}, make([]byte, 4000)...)
	for i := range file[8:] {
		file[8+i] = byte(i)
	}
	f := filepath.Join(t.TempDir(), "a.mp4")
	os.WriteFile(f, file, 0o600)
	s := &lateServer{late: 300}
	srv := httptest.NewServer(s)
	defer srv.Close()
	up := &Upload{Client: New(srv.URL, "x"), Chunk: 1000, Attempts: 0}
	if _, err := up.Send(context.Background(), f); err != nil {
		t.Fatalf("send: %v", err)
	}
	if !bytes.Equal(s.data, file) {
		t.Errorf("the server holds %d bytes, not the file's %d as sent", len(s.data), len(file))
	}
}
