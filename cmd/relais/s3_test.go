package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/s3server"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/mediastore"
)

const s3TestSecret = "s3-test-secret-0123456789abcdef"

// onS3 points a configuration at bucket on srv.
func onS3(srv *s3server.Server, bucket string) func(*Config) {
	return func(c *Config) {
		s := testenv.S3Config(srv)
		c.MediaURL = "s3://" + bucket + "/relais"
		c.S3Endpoint, c.S3Region, c.S3AccessKey, c.S3SecretKey, c.S3PathStyle = s.Endpoint, s.Region, s.AccessKey, s.SecretKey, true
		c.Secret = s3TestSecret
	}
}

// startS3 runs a versitygw private to the test, with an empty bucket.
func startS3(t *testing.T) (*s3server.Server, string) {
	t.Helper()
	srv, err := s3server.Start(context.Background(), filepath.Join(t.TempDir(), "s3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	if err := testenv.MakeBucket(context.Background(), testenv.S3Config(srv), "media"); err != nil {
		t.Fatal(err)
	}
	return srv, "media"
}

// tusReq sends one tus request to base.
func tusReq(t *testing.T, method, url, token string, h map[string]string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestLessonOnObjectStorage runs a lesson with its media in S3 (a real versitygw) and two API processes
// that share no disk: the tus upload's PATCHes go to both in turn, the S3 server is stopped under one
// PATCH and the upload resumes once it is back, the lesson is transcoded through the media store, its
// files are objects of the bucket (nothing in the data directories), and the family page's audio
// answers a range request.
func TestLessonOnObjectStorage(t *testing.T) {
	srv, bucket := startS3(t)
	a := newRig(t, nil, onS3(srv, bucket))
	// A second API process: its own data directory, the same database, Redis, bucket and secret.
	cfgB := a.app.cfg
	cfgB.DataDir, cfgB.HTTPAddr, cfgB.PublicURL, cfgB.MediaDir = t.TempDir(), "127.0.0.1:0", "", ""
	cfgB.resolve()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := start(context.Background(), cfgB, parts{api: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b.stop(ctx)
	})
	apis := []string{a.app.URL(), b.URL()}

	video, err := os.ReadFile(makeVideo(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	size := len(video)
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("fractions.mp4")) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("video/mp4"))
	resp := tusReq(t, "POST", apis[0]+"/api/v1/uploads", a.teacher, map[string]string{"Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create upload: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]

	offset := 0
	patch := func(i int, n int) *http.Response {
		end := min(offset+n, size)
		return tusReq(t, "PATCH", apis[i%2]+loc, a.teacher, map[string]string{"Upload-Offset": strconv.Itoa(offset),
			"Content-Type": "application/offset+octet-stream"}, video[offset:end])
	}
	head := func(i int) int {
		r := tusReq(t, "HEAD", apis[i%2]+loc, a.teacher, nil, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("HEAD on API %d: %s", i%2, r.Status)
		}
		n, _ := strconv.Atoi(r.Header.Get("Upload-Offset"))
		return n
	}
	chunk := size/4 + 1
	for i := 0; offset < size; i++ {
		if i == 2 {
			// Object storage fails under this PATCH: it is refused, and the upload resumes from the
			// offset the other process reads once storage is back.
			if err := srv.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if r := patch(i, chunk); r.StatusCode < 500 {
				t.Errorf("PATCH with the S3 server down: %s, want a 5xx", r.Status)
			}
			if err := srv.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := head(i + 1); got != offset {
				t.Errorf("after the failed PATCH the upload is at %d, want %d", got, offset)
			}
		}
		r := patch(i, chunk)
		if r.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH %d at %d on API %d: %s", i, offset, i%2, r.Status)
		}
		offset, _ = strconv.Atoi(r.Header.Get("Upload-Offset"))
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"upload": id, "title": "Fractions", "subject": "maths", "grade": "5", "language": "fr", "text": e2eMarkdown} {
		mw.WriteField(k, v)
	}
	mw.Close()
	code, out := a.do("POST", "/api/v1/lessons", a.teacher, &body, mw.FormDataContentType())
	if code != http.StatusCreated {
		t.Fatalf("create lesson: %d %s", code, out)
	}
	var l struct{ ID int64 }
	json.Unmarshal(out, &l)
	a.waitLesson(l.ID, relais.LessonReady, 3*time.Minute)

	// Every file of the lesson is an object of the bucket, with the bytes sent.
	ctx := context.Background()
	media, err := mediastore.NewS3(testenv.S3Config(srv), bucket, "relais")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := a.app.store.Lesson(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("lessons/%d/source.mp4", l.ID); stored.MediaPath != want {
		t.Errorf("media at %q, want the key %q", stored.MediaPath, want)
	}
	if got := readObject(t, media, stored.MediaPath); !bytes.Equal(got, video) {
		t.Errorf("the stored upload is %d bytes, not the %d sent", len(got), size)
	}
	rs, err := a.app.store.Renditions(ctx, l.ID)
	if err != nil || len(rs) != 3 {
		t.Fatalf("renditions %+v, %v", rs, err)
	}
	var audio []byte
	for _, r := range rs {
		b := readObject(t, media, r.Path)
		if int64(len(b)) != r.Bytes || len(b) == 0 {
			t.Errorf("rendition %s at %q: %d bytes in the bucket, %d recorded", r.Kind, r.Path, len(b), r.Bytes)
		}
		if r.Kind == relais.RenditionLowband {
			audio = b
		}
	}
	ws, err := a.app.store.Worksheet(ctx, l.ID)
	if err != nil || !bytes.HasPrefix(readObject(t, media, ws.Path), []byte("%PDF-")) {
		t.Errorf("worksheet %+v (%v) is not a PDF in the bucket", ws, err)
	}
	for _, dir := range []string{a.app.cfg.DataDir, cfgB.DataDir} {
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && (strings.Contains(p, "lessons") || strings.Contains(p, "staging")) {
				t.Errorf("a lesson file on disk: %s", p)
			}
			return nil
		})
	}
	for o := range media.Client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "relais/uploads/tus/", Recursive: true}) {
		t.Errorf("the used upload left %s in the bucket (%v)", o.Key, o.Err)
	}

	// The family page's audio, from the other API process, in ranges as a player asks for it.
	hs := []relais.Household{{ExternalRef: "fam-1", Phone: "+33612345678", Language: "fr", Grades: []int{5}, Consent: true}}
	if err := a.app.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	page := links.NewSigner([]byte(s3TestSecret), b.cfg.PublicURL).LessonURL(l.ID, hs[0].ID)
	req, _ := http.NewRequest("GET", page+"/audio", nil)
	req.Header.Set("Range", "bytes=100-1099")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(got, audio[100:1100]) {
		t.Errorf("audio range: %s, %d bytes (the right ones: %v)", res.Status, len(got), bytes.Equal(got, audio[100:1100]))
	}
	if cr, want := res.Header.Get("Content-Range"), fmt.Sprintf("bytes 100-1099/%d", len(audio)); cr != want {
		t.Errorf("Content-Range %q, want %q", cr, want)
	}
	if ct := res.Header.Get("Content-Type"); ct != "audio/ogg" {
		t.Errorf("Content-Type %q", ct)
	}
}

func readObject(t *testing.T, m relais.MediaStore, loc string) []byte {
	t.Helper()
	o, err := m.Open(context.Background(), loc)
	if err != nil {
		t.Errorf("open %s: %v", loc, err)
		return nil
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Errorf("read %s: %v", loc, err)
	}
	return b
}

// TestMediaStoreUnusable: a missing bucket or refused credentials are said at start, in the log, and
// keep /readyz at 503 with the reason; once the bucket exists the process is ready, without a restart.
func TestMediaStoreUnusable(t *testing.T) {
	srv, _ := startS3(t)
	tests := []struct {
		name   string
		edit   func(*Config)
		want   string
		repair func()
	}{
		{"missing bucket", onS3(srv, "lessons"), "does not exist at 127.0.0.1",
			func() { testenv.MakeBucket(context.Background(), testenv.S3Config(srv), "lessons") }},
		{"wrong secret", func(c *Config) { onS3(srv, "media")(c); c.S3SecretKey = "wrong-secret-key" },
			"refused the credentials", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redisAddr, db := testenv.Redis(t)
			cfg := DefaultConfig()
			cfg.DataDir, cfg.HTTPAddr, cfg.RedisAddr, cfg.RedisDB = t.TempDir(), "127.0.0.1:0", redisAddr, db
			tt.edit(&cfg)
			cfg.resolve()
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			logs := &syncWriter{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			a, err := start(context.Background(), cfg, parts{api: true}, log)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer a.stop(context.Background())
			if !strings.Contains(logs.String(), tt.want) {
				t.Errorf("the start-up log does not say %q:\n%s", tt.want, logs.String())
			}
			if strings.Contains(logs.String(), cfg.S3SecretKey) {
				t.Error("the log shows the secret key")
			}
			code, reason := readyz(t, a.URL())
			if code != http.StatusServiceUnavailable || !strings.Contains(reason, tt.want) {
				t.Errorf("/readyz: %d %q, want 503 saying %q", code, reason, tt.want)
			}
			if tt.repair != nil {
				tt.repair()
				if code, reason := readyz(t, a.URL()); code != http.StatusOK {
					t.Errorf("/readyz once the bucket exists: %d %q", code, reason)
				}
			}
		})
	}
}

func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Reason string }
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Reason
}

// syncWriter serialises writes to w (the log is written from several goroutines).
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
