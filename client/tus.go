package client

// A small client of the tus resumable upload protocol 1.0.0 (https://tus.io/protocols/resumable-upload),
// as the server's /api/v1/uploads speaks it: POST creates the upload, PATCH appends a chunk at an
// offset, HEAD tells how much the server has. After a cut connection the client asks HEAD and sends
// the rest from there, not from zero.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// Upload sends one file to the server's /api/v1/uploads; the lesson is then made from it (the
// "upload" field of CreateLesson).
type Upload struct {
	Client   *Client
	Chunk    int64 // bytes per PATCH; 0: DefaultChunk
	Attempts int   // retries after a failure, counted from the last chunk that went through
	// Backoff is the wait before retry n (1, 2, ...); nil: DefaultBackoff.
	Backoff func(n int) time.Duration
	// Progress, when set, is told how many bytes the server has.
	Progress func(sent, total int64)
	// Note, when set, tells the user about an interruption and where the upload resumes.
	Note func(format string, args ...any)
	// Memo, when set, remembers the unfinished upload so that running the command again resumes it.
	Memo *UploadMemo
	key  string // the file's key in Memo
}

// UploadMemo remembers, across runs, the upload each file is going to (as tus-js-client does in the
// browser's localStorage): a file is found again by server, absolute path, size and modification
// time, so an edited file starts a new upload. One small file per upload under dir.
type UploadMemo struct{ dir string }

// NewUploadMemo keeps its files in the user's cache directory; nil when there is none.
func NewUploadMemo() *UploadMemo {
	d, err := os.UserCacheDir()
	if err != nil {
		return nil
	}
	return &UploadMemo{dir: filepath.Join(d, "relais", "uploads")}
}

func (m *UploadMemo) key(server, path string, st os.FileInfo) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%d\n%d", strings.TrimRight(server, "/"), abs, st.Size(), st.ModTime().UnixNano()))
	return hex.EncodeToString(h[:16])
}

func (m *UploadMemo) get(key string) string {
	b, err := os.ReadFile(filepath.Join(m.dir, key))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// put records loc; failing to is no reason to stop an upload, only to lose the memory of it.
func (m *UploadMemo) put(key, loc string) {
	if os.MkdirAll(m.dir, 0o700) == nil {
		os.WriteFile(filepath.Join(m.dir, key), []byte(loc+"\n"), 0o600)
	}
}

func (m *UploadMemo) forget(key string) { os.Remove(filepath.Join(m.dir, key)) }

// Done forgets the upload once the lesson is made from it.
func (t *Upload) Done() {
	if t.Memo != nil && t.key != "" {
		t.Memo.forget(t.key)
	}
}

// DefaultChunk is the bytes sent per PATCH when Upload.Chunk is 0.
const DefaultChunk = 8 << 20

func (t *Upload) chunk() int64 {
	if t.Chunk > 0 {
		return t.Chunk
	}
	return DefaultChunk
}

// DefaultBackoff waits 1 s, 2 s, 4 s... and at most 30 s.
func DefaultBackoff(n int) time.Duration {
	return min(time.Second<<(n-1), 30*time.Second)
}

// Send uploads the file at path and returns the upload's URL. A refusal that retrying does not change
// is an *Error that is not Retryable.
func (t *Upload) Send(ctx context.Context, path string) (string, error) {
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
	endpoint := t.Client.url("/api/v1/uploads")
	var loc string
	var offset int64
	if t.Memo != nil {
		t.key = t.Memo.key(t.Client.BaseURL, path, st)
		if prev := t.Memo.get(t.key); prev != "" {
			// An earlier run's upload of this file: resume it if the server still has it (it drops
			// unfinished uploads after a day, and used ones at once).
			if offset, err = t.head(ctx, prev); err == nil && offset <= size {
				loc = prev
				t.note("Resuming the earlier upload of this file at byte %d of %d (the server has %s).", offset, size, relais.HumanBytes(offset))
			} else {
				t.Memo.forget(t.key)
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
		if t.Memo != nil {
			t.Memo.put(t.key, loc)
		}
	}
	for offset < size {
		err := t.retrying(ctx, func() error {
			offset, err = t.patch(ctx, loc, f, offset, min(t.chunk(), size-offset), size)
			return err
		}, func() error {
			offset, err = t.head(ctx, loc)
			if err == nil {
				t.note("Resuming at byte %d of %d (the server has %s).", offset, size, relais.HumanBytes(offset))
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
func (t *Upload) retrying(ctx context.Context, do, recover func() error) error {
	err := do()
	for n := 1; err != nil; n++ {
		var answer *Error
		if (errors.As(err, &answer) && !answer.Retryable()) || ctx.Err() != nil {
			return err
		}
		if n > t.Attempts {
			return fmt.Errorf("%w (gave up after %d retries; run the same command again to resume, or raise --resume-attempts)", err, t.Attempts)
		}
		backoff := t.Backoff
		if backoff == nil {
			backoff = DefaultBackoff
		}
		wait := backoff(n)
		t.note("Connection lost: %v. Retrying in %s (%d of %d).", err, wait, n, t.Attempts)
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

func (t *Upload) create(ctx context.Context, endpoint string, size int64, name, typ string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", "filename "+base64.StdEncoding.EncodeToString([]byte(name))+
		",filetype "+base64.StdEncoding.EncodeToString([]byte(typ)))
	resp, _, err := t.do(req, http.StatusCreated)
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
func (t *Upload) patch(ctx context.Context, loc string, f *os.File, offset, n, size int64) (int64, error) {
	body := &countingReader{r: io.NewSectionReader(f, offset, n), progress: func(sent int64) { t.progress(offset+sent, size) }}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc, body)
	if err != nil {
		return offset, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, _, err := t.do(req, http.StatusNoContent)
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

func (t *Upload) head(ctx context.Context, loc string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, loc, nil)
	if err != nil {
		return 0, err
	}
	resp, _, err := t.do(req, http.StatusOK)
	if err != nil {
		return 0, err
	}
	got, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || got < 0 {
		return 0, fmt.Errorf("the server answered an offset of %q", resp.Header.Get("Upload-Offset"))
	}
	return got, nil
}

// do sends a tus request. A retryable *Error (a 5xx, 409 or 423) carries the status in its text.
func (t *Upload) do(req *http.Request, want int) (*http.Response, []byte, error) {
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, b, err := t.Client.send(req, want)
	var answer *Error
	if errors.As(err, &answer) && answer.Retryable() {
		return nil, nil, fmt.Errorf("server answered %s: %w", resp.Status, err)
	}
	return resp, b, err
}

func (t *Upload) progress(sent, total int64) {
	if t.Progress != nil {
		t.Progress(sent, total)
	}
}

func (t *Upload) note(format string, args ...any) {
	if t.Note != nil {
		t.Note(format, args...)
	}
}

type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress(c.n)
	return n, err
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
