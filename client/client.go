// Package client is a Go client of the Relais HTTP API (/api/v1): lessons, households, deliveries,
// and the resumable uploads (tus) of recordings. `relais lesson` and `relais demo` use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
)

// Client calls one Relais server as one user.
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8080
	Token   string       // API token (relais token create)
	HTTP    *http.Client // nil: http.DefaultClient
}

// New returns a client of the server at baseURL acting with token.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

// Error is an answer other than the one expected.
type Error struct {
	Status  int    // HTTP status code
	Message string // the server's reason, or "server answered 404 Not Found"
}

func (e *Error) Error() string { return e.Message }

// Retryable reports whether the same request may pass later: a 5xx, an offset conflict (409) or a
// locked upload (423). Any other refusal stays a refusal.
func (e *Error) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusConflict || e.Status == http.StatusLocked
}

// maxAnswer bounds the answers read into memory.
const maxAnswer = 1 << 20

// Do sends a request to path (/api/v1/...) and decodes the JSON answer into out, unless out is nil.
// An answer other than want is an *Error with the server's reason.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, b, err := c.send(req, want)
	if err != nil {
		return err
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	return json.Unmarshal(b, out)
}

// send makes the request with the token and reads the answer, which must have status want.
func (c *Client) send(req *http.Request, want int) (*http.Response, []byte, error) {
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the server at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode != want {
		return resp, b, &Error{Status: resp.StatusCode, Message: serverMessage(resp, b)}
	}
	if err != nil {
		return resp, b, fmt.Errorf("read the answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, b, nil
}

func (c *Client) url(path string) string { return strings.TrimRight(c.BaseURL, "/") + path }

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

// Lesson reads a lesson: its status, progress, renditions, digests and deliveries.
func (c *Client) Lesson(ctx context.Context, id int64) (api.Lesson, error) {
	var l api.Lesson
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/lessons/%d", id), nil, "", http.StatusOK, &l)
	return l, err
}

// Part is a file sent with a lesson: its form field (media, worksheet), name and content.
type Part struct {
	Field, Name string
	Open        func() (io.ReadCloser, error)
}

// FilePart sends the file at path as field.
func FilePart(field, path string) Part {
	return Part{Field: field, Name: filepath.Base(path), Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// BytesPart sends b as field, named name.
func BytesPart(field, name string, b []byte) Part {
	return Part{Field: field, Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// CreateLesson posts a lesson: its fields (title, subject, grade, language, text, upload...; empty
// ones are left out) and files, streamed as they are read.
func (c *Client) CreateLesson(ctx context.Context, fields map[string]string, parts ...Part) (api.Lesson, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(func() error {
			for k, v := range fields {
				if v == "" {
					continue
				}
				if err := mw.WriteField(k, v); err != nil {
					return err
				}
			}
			for _, p := range parts {
				if err := copyPart(mw, p); err != nil {
					return err
				}
			}
			return mw.Close()
		}())
	}()
	var l api.Lesson
	err := c.Do(ctx, http.MethodPost, "/api/v1/lessons", pr, mw.FormDataContentType(), http.StatusCreated, &l)
	pr.Close() // ends the writer if the server answered before reading everything
	return l, err
}

func copyPart(mw *multipart.Writer, p Part) error {
	r, err := p.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := mw.CreateFormFile(p.Field, p.Name)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return err
}

// WaitLesson reads the lesson every interval until it is ready, published, refused or failed, and
// returns it then. seen, when set, is given every reading. When ctx ends first, it returns the last
// reading and ctx's error.
func (c *Client) WaitLesson(ctx context.Context, id int64, every time.Duration, seen func(api.Lesson)) (api.Lesson, error) {
	for {
		l, err := c.Lesson(ctx, id)
		if err != nil {
			return l, err
		}
		if seen != nil {
			seen(l)
		}
		switch l.Status {
		case relais.LessonReady, relais.LessonPublished, relais.LessonRejected, relais.LessonFailed:
			return l, nil
		}
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Publish starts the fan-out of a ready lesson to every targeted household.
func (c *Client) Publish(ctx context.Context, id int64) error {
	return c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/lessons/%d/publish", id), nil, "", http.StatusAccepted, nil)
}

// ImportHouseholds imports a household CSV; refused rows come back with their reasons.
func (c *Client) ImportHouseholds(ctx context.Context, csv io.Reader) (api.ImportResult, error) {
	var res api.ImportResult
	err := c.Do(ctx, http.MethodPost, "/api/v1/households/import", csv, "text/csv", http.StatusOK, &res)
	return res, err
}

// Deliveries lists deliveries; query filters them (lesson_id, status, channel, limit...).
func (c *Client) Deliveries(ctx context.Context, query url.Values) ([]api.Delivery, error) {
	var page struct {
		Items []api.Delivery `json:"items"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/deliveries?"+query.Encode(), nil, "", http.StatusOK, &page)
	return page.Items, err
}
