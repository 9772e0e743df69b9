package main

// A small client of the tus resumable upload protocol 1.0.0 (https://tus.io/protocols/resumable-upload),
// as the server's /api/v1/uploads speaks it: POST creates the upload, PATCH appends a chunk at an
// offset, HEAD tells how much the server has. After a cut connection the client asks HEAD and sends
// the rest from there, not from zero.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// tusUpload sends one file.
type tusUpload struct {
	c        *apiClient
	chunk    int64 // bytes per PATCH
	attempts int   // retries after a failure, counted from the last chunk that went through
	// backoff is the wait before retry n (1, 2, ...).
	backoff  func(n int) time.Duration
	progress func(sent, total int64)
	// note tells the user about an interruption and where the upload resumes.
	note func(format string, args ...any)
	// memo, when set, remembers the unfinished upload so that running the command again resumes it.
	memo *uploadMemo
	key  string // the file's key in memo
}

// uploadMemo remembers, across runs, the upload each file is going to (as tus-js-client does in the
// browser's localStorage): a file is found again by server, absolute path, size and modification
// time, so an edited file starts a new upload. One small file per upload under dir.
type uploadMemo struct{ dir string }

// newUploadMemo keeps its files in the user's cache directory; nil when there is none.
func newUploadMemo() *uploadMemo {
	d, err := os.UserCacheDir()
	if err != nil {
		return nil
	}
	return &uploadMemo{dir: filepath.Join(d, "relais", "uploads")}
}

func (m *uploadMemo) key(server, path string, st os.FileInfo) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%d\n%d", strings.TrimRight(server, "/"), abs, st.Size(), st.ModTime().UnixNano()))
	return hex.EncodeToString(h[:16])
}

func (m *uploadMemo) get(key string) string {
	b, err := os.ReadFile(filepath.Join(m.dir, key))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// put records loc; failing to is no reason to stop an upload, only to lose the memory of it.
func (m *uploadMemo) put(key, loc string) {
	if os.MkdirAll(m.dir, 0o700) == nil {
		os.WriteFile(filepath.Join(m.dir, key), []byte(loc+"\n"), 0o600)
	}
}

func (m *uploadMemo) forget(key string) { os.Remove(filepath.Join(m.dir, key)) }

// done forgets the upload once the lesson is made from it.
func (t *tusUpload) done() {
	if t.memo != nil && t.key != "" {
		t.memo.forget(t.key)
	}
}

func defaultBackoff(n int) time.Duration {
	return min(time.Second<<(n-1), 30*time.Second)
}

// tusStatusError is an answer of the server that retrying does not change.
type tusStatusError struct {
	status int
	msg    string
}

func (e *tusStatusError) Error() string { return e.msg }

// send uploads the file at path and returns the upload's URL.
func (t *tusUpload) send(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()
	typ, err := mediaType(f, path)
	if err != nil {
		return "", err
	}
	endpoint := strings.TrimRight(t.c.base, "/") + "/api/v1/uploads"
	var loc string
	var offset int64
	if t.memo != nil {
		t.key = t.memo.key(t.c.base, path, st)
		if prev := t.memo.get(t.key); prev != "" {
			// An earlier run's upload of this file: resume it if the server still has it (it drops
			// unfinished uploads after a day, and used ones at once).
			if offset, err = t.head(ctx, prev); err == nil && offset <= size {
				loc = prev
				t.note("Resuming the earlier upload of this file at byte %d of %d (the server has %s).", offset, size, sizeText(offset))
			} else {
				t.memo.forget(t.key)
				offset = 0
			}
		}
	}
	if loc == "" {
		err = t.retrying(ctx, func() error {
			loc, err = t.create(ctx, endpoint, size, filepath.Base(path), typ)
			return err
		}, nil)
		if err != nil {
			return "", err
		}
		if t.memo != nil {
			t.memo.put(t.key, loc)
		}
	}
	for offset < size {
		err := t.retrying(ctx, func() error {
			offset, err = t.patch(ctx, loc, f, offset, min(t.chunk, size-offset), size)
			return err
		}, func() error {
			offset, err = t.head(ctx, loc)
			if err == nil {
				t.note("Resuming at byte %d of %d (the server has %s).", offset, size, sizeText(offset))
			}
			return err
		})
		if err != nil {
			return "", err
		}
	}
	return loc, nil
}

// retrying runs do until it succeeds, a failure is permanent or the attempts are spent; before each
// retry it waits, then runs recover (which may fail and be retried in turn).
func (t *tusUpload) retrying(ctx context.Context, do, recover func() error) error {
	err := do()
	for n := 1; err != nil; n++ {
		var perm *tusStatusError
		if errors.As(err, &perm) || ctx.Err() != nil {
			return err
		}
		if n > t.attempts {
			return fmt.Errorf("%w (gave up after %d retries; run the same command again to resume, or raise --resume-attempts)", err, t.attempts)
		}
		wait := t.backoff(n)
		t.note("Connection lost: %v. Retrying in %s (%d of %d).", err, wait, n, t.attempts)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if recover != nil {
			if err = recover(); err != nil {
				continue
			}
		}
		err = do()
	}
	return nil
}

func (t *tusUpload) create(ctx context.Context, endpoint string, size int64, name, typ string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", "filename "+base64.StdEncoding.EncodeToString([]byte(name))+
		",filetype "+base64.StdEncoding.EncodeToString([]byte(typ)))
	resp, err := t.do(req, http.StatusCreated)
	if err != nil {
		return "", err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path == "" {
		return "", fmt.Errorf("the server made the upload but gave no valid Location (%q)", resp.Header.Get("Location"))
	}
	base, _ := url.Parse(endpoint)
	return base.ResolveReference(loc).String(), nil
}

// patch sends n bytes from offset and returns the server's new offset.
func (t *tusUpload) patch(ctx context.Context, loc string, f *os.File, offset, n, size int64) (int64, error) {
	body := &countingReader{r: io.NewSectionReader(f, offset, n), progress: func(sent int64) { t.progress(offset+sent, size) }}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc, body)
	if err != nil {
		return offset, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, err := t.do(req, http.StatusNoContent)
	if err != nil {
		return offset, err
	}
	got, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || got < offset || got > size {
		return offset, fmt.Errorf("the server answered an offset of %q", resp.Header.Get("Upload-Offset"))
	}
	t.progress(got, size)
	return got, nil
}

func (t *tusUpload) head(ctx context.Context, loc string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, loc, nil)
	if err != nil {
		return 0, err
	}
	resp, err := t.do(req, http.StatusOK)
	if err != nil {
		return 0, err
	}
	got, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || got < 0 {
		return 0, fmt.Errorf("the server answered an offset of %q", resp.Header.Get("Upload-Offset"))
	}
	return got, nil
}

// do sends a tus request. A network failure, a 5xx, an offset conflict (409) or a locked upload (423)
// may pass on a retry; any other unexpected answer is a *tusStatusError with the server's reason.
func (t *tusUpload) do(req *http.Request, want int) (*http.Response, error) {
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+t.c.token)
	resp, err := t.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == want {
		return resp, nil
	}
	msg := serverMessage(resp, b)
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusConflict, resp.StatusCode == http.StatusLocked:
		return nil, fmt.Errorf("server answered %s: %s", resp.Status, msg)
	}
	return nil, &tusStatusError{status: resp.StatusCode, msg: msg}
}

var tusCodeRe = regexp.MustCompile(`^ERR_[A-Z_]+: `)

// serverMessage is the reason in an error answer: the API's JSON error, or tusd's "ERR_CODE: text".
func serverMessage(resp *http.Response, b []byte) string {
	var e struct {
		Error struct{ Message string }
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	if msg := strings.TrimSpace(tusCodeRe.ReplaceAllString(string(b), "")); msg != "" && !strings.HasPrefix(msg, "<") {
		return msg
	}
	return "server answered " + resp.Status
}

// mediaTypes are the file types of common recordings; Go's own table lacks most of them.
var mediaTypes = map[string]string{
	".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
	".webm": "video/webm", ".avi": "video/x-msvideo", ".ts": "video/mp2t", ".mts": "video/mp2t",
	".mpg": "video/mpeg", ".mpeg": "video/mpeg", ".3gp": "video/3gpp", ".wmv": "video/x-ms-wmv",
	".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".wav": "audio/wav",
	".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
	".amr": "audio/amr", ".wma": "audio/x-ms-wma",
}

// mediaType is the file type the upload declares: from the name, else from the first bytes. The
// server refuses what is not video or audio, with the reason.
func mediaType(f *os.File, path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if t, ok := mediaTypes[ext]; ok {
		return t, nil
	}
	if t, _, err := mime.ParseMediaType(mime.TypeByExtension(ext)); err == nil && t != "" {
		return t, nil
	}
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	t, _, _ := mime.ParseMediaType(http.DetectContentType(head[:n]))
	return t, nil
}

// parseSize reads a size such as 8MiB, 512KiB or 1048576 (bytes).
func parseSize(s string) (int64, error) {
	v := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 8MiB, 512KiB or a number of bytes", s)
	}
	return n * mult, nil
}

// sizeText is a size for people: 3.2 MiB.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
