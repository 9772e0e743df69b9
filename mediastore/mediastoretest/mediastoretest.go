// Package mediastoretest is the conformance suite of relais.MediaStore: each implementation's tests
// run it, so the local directory and object storage cannot behave differently without a test failing.
package mediastoretest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// Run runs the suite; open returns a new, empty store for each test.
func Run(t *testing.T, open func(t *testing.T) relais.MediaStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, relais.MediaStore)
	}{
		{"PutOpen", testPutOpen},
		{"PutReplaces", testPutReplaces},
		{"Missing", testMissing},
		{"PutFile", testPutFile},
		{"Move", testMove},
		{"Remove", testRemove},
		{"BadKeys", testBadKeys},
		{"FailedPutLeavesNothing", testFailedPut},
		{"RangeRequest", testRange},
		{"Check", testCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// payload is n bytes that differ from one offset to the next.
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func put(t *testing.T, s relais.MediaStore, key string, b []byte) string {
	t.Helper()
	loc, err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
	return loc
}

func read(t *testing.T, s relais.MediaStore, loc string) []byte {
	t.Helper()
	o, err := s.Open(context.Background(), loc)
	if err != nil {
		t.Fatalf("Open %s: %v", loc, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s: %v", loc, err)
	}
	if o.Size() != int64(len(b)) {
		t.Errorf("Size() = %d, read %d bytes", o.Size(), len(b))
	}
	return b
}

func testPutOpen(t *testing.T, s relais.MediaStore) {
	want := payload(300_000, 1)
	before := time.Now().Add(-time.Minute)
	loc := put(t, s, "lessons/7/radio.mp2", want)
	if loc == "" {
		t.Fatal("Put returned an empty location")
	}
	if got := read(t, s, loc); !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, not the %d put", len(got), len(want))
	}
	o, err := s.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.ModTime().Before(before) || o.ModTime().After(time.Now().Add(time.Minute)) {
		t.Errorf("ModTime() = %v, want about now", o.ModTime())
	}
	if _, err := o.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 100)
	if _, err := io.ReadFull(o, part); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(part, want[1000:1100]) {
		t.Error("after Seek(1000), read other bytes than 1000-1099")
	}
	if p, ok := s.LocalPath(loc); ok {
		if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, want) {
			t.Errorf("LocalPath %s: %d bytes, err %v", p, len(b), err)
		}
	}
}

func testPutReplaces(t *testing.T, s relais.MediaStore) {
	put(t, s, "lessons/1/worksheet.pdf", []byte("first"))
	loc := put(t, s, "lessons/1/worksheet.pdf", []byte("second, longer"))
	if got := string(read(t, s, loc)); got != "second, longer" {
		t.Errorf("after a second Put, read %q", got)
	}
}

func testMissing(t *testing.T, s relais.MediaStore) {
	loc := put(t, s, "lessons/2/tv.ts", []byte("x"))
	if err := s.Remove(context.Background(), loc); err != nil {
		t.Fatal(err)
	}
	_, err := s.Open(context.Background(), loc)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a removed object: %v, want fs.ErrNotExist", err)
	}
}

func testPutFile(t *testing.T, s relais.MediaStore) {
	src := filepath.Join(t.TempDir(), "tv.ts")
	want := payload(70_000, 3)
	if err := os.WriteFile(src, want, 0o600); err != nil {
		t.Fatal(err)
	}
	loc, err := s.PutFile(context.Background(), "lessons/3/tv.ts", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file put is still there (%v): PutFile moves it", err)
	}
	if got := read(t, s, loc); !bytes.Equal(got, want) {
		t.Error("PutFile stored other bytes")
	}
}

func testMove(t *testing.T, s relais.MediaStore) {
	want := payload(5000, 4)
	from := put(t, s, "uploads/tus/abc", want)
	to, err := s.Move(context.Background(), from, "lessons/4/source.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, to); !bytes.Equal(got, want) {
		t.Error("the moved object has other bytes")
	}
	if _, err := s.Open(context.Background(), from); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of the moved object's old location: %v, want fs.ErrNotExist", err)
	}
}

func testRemove(t *testing.T, s relais.MediaStore) {
	loc := put(t, s, "postal/batch-1.pdf", []byte("%PDF"))
	for i := range 2 {
		if err := s.Remove(context.Background(), loc); err != nil {
			t.Errorf("Remove #%d: %v", i+1, err)
		}
	}
}

func testBadKeys(t *testing.T, s relais.MediaStore) {
	for _, key := range []string{"", "/etc/passwd", "../outside", "lessons/../../outside", `a\b`} {
		if _, err := s.Put(context.Background(), key, bytes.NewReader([]byte("x")), 1); err == nil {
			t.Errorf("Put(%q) was accepted", key)
		}
	}
}

// failingReader gives n bytes, then an error: a transfer cut in the middle.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection cut")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'z'
	}
	f.n -= k
	return k, nil
}

func testFailedPut(t *testing.T, s relais.MediaStore) {
	ctx := context.Background()
	loc := put(t, s, "lessons/5/tv.ts", []byte("complete"))
	if _, err := s.Put(ctx, "lessons/5/tv.ts", &failingReader{n: 100_000}, 200_000); err == nil {
		t.Fatal("a Put whose reader failed returned no error")
	}
	if got := string(read(t, s, loc)); got != "complete" {
		t.Errorf("after a failed Put, the object reads %d bytes, not the complete earlier one", len(got))
	}
	if _, err := s.Put(ctx, "lessons/6/tv.ts", &failingReader{n: 100_000}, 200_000); err == nil {
		t.Fatal("a Put whose reader failed returned no error")
	}
	loc6, _ := s.Put(ctx, "lessons/6/other", bytes.NewReader(nil), 0) // where lessons/6/tv.ts would be
	s.Remove(ctx, loc6)
	if o, err := s.Open(ctx, sibling(loc6, "tv.ts")); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			o.Close()
		}
		t.Errorf("a failed Put left an object (Open: %v)", err)
	}
}

// sibling is the location next to loc named name (both kinds of location are slash- or
// separator-joined paths).
func sibling(loc, name string) string { return filepath.Join(filepath.Dir(loc), name) }

func testRange(t *testing.T, s relais.MediaStore) {
	want := payload(100_000, 5)
	loc := put(t, s, "lessons/8/lowband.opus", want)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := s.Open(r.Context(), loc)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer o.Close()
		http.ServeContent(w, r, "", o.ModTime(), o)
	}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Range", "bytes=50000-50099")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, want[50000:50100]) {
		t.Errorf("range request: %s, %d bytes (match %v)", resp.Status, len(got), bytes.Equal(got, want[50000:50100]))
	}
	if cr := resp.Header.Get("Content-Range"); cr != "bytes 50000-50099/100000" {
		t.Errorf("Content-Range %q", cr)
	}
}

func testCheck(t *testing.T, s relais.MediaStore) {
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("Check: %v", err)
	}
	if s.String() == "" {
		t.Error("String() is empty")
	}
}
