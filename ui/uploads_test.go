package ui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mp4Start is enough of an MP4 for the first look at an upload's bytes.
var mp4Start = append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}, make([]byte, 600)...)

var videoMetadata = "filename " + base64.StdEncoding.EncodeToString([]byte("lesson.mp4")) +
	",filetype " + base64.StdEncoding.EncodeToString([]byte("video/mp4"))

// apiUpload starts a resumable upload of size bytes through the API as user and returns its id.
func (f *fixture) apiUpload(user string, size int) string {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/uploads", nil)
	req.Header.Set("Authorization", "Bearer tok-"+user)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(size))
	req.Header.Set("Upload-Metadata", videoMetadata)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/api/v1/uploads/")
	if resp.StatusCode != http.StatusCreated || !ok {
		f.t.Fatalf("API upload = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return id
}

// tus sends a tus request through the UI as the browser's script does: with its session cookie and,
// when csrf, the X-CSRF-Token header.
func (c *client) tus(method, path string, csrf bool, header map[string]string, body io.Reader) *http.Response {
	c.f.t.Helper()
	req, _ := http.NewRequest(method, c.f.srv.URL+path, body)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if csrf {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func bodyOf(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The authorization table's rows for /ui/uploads.
func tusCreateRequest() request {
	return request{"POST /ui/uploads", func(c *client) (int, string) {
		resp := c.tus("POST", "/ui/uploads", true, map[string]string{"Upload-Length": "1000", "Upload-Metadata": videoMetadata}, nil)
		return resp.StatusCode, bodyOf(resp)
	}}
}

func tusHeadRequest(id string) request {
	return request{"HEAD /ui/uploads/{id}", func(c *client) (int, string) {
		resp := c.tus("HEAD", "/ui/uploads/"+id, false, nil, nil)
		return resp.StatusCode, resp.Header.Get("Upload-Offset")
	}}
}

func tusPatchRequest(id string) request {
	return request{"PATCH /ui/uploads/{id}", func(c *client) (int, string) {
		resp := c.tus("PATCH", "/ui/uploads/"+id, true, map[string]string{"Upload-Offset": "0",
			"Content-Type": "application/offset+octet-stream"}, bytes.NewReader(mp4Start[:100]))
		return resp.StatusCode, bodyOf(resp)
	}}
}

// TestUploadForwarding sends a resumable upload through /ui/uploads as the page's script does: the
// CSRF header is required on POST and PATCH, the Location points back at /ui/uploads, a PATCH reaches
// the store while its body is still arriving, and the finished upload becomes a lesson through
// /ui/lessons.
func TestUploadForwarding(t *testing.T) {
	f := newFixture(t, nil)
	c := f.browser("t1")
	create := map[string]string{"Upload-Length": strconv.Itoa(len(mp4Start)), "Upload-Metadata": videoMetadata}

	if resp := c.tus("POST", "/ui/uploads", false, create, nil); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Errorf("POST without the CSRF header = %d %q, want 403", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := c.tus("POST", "/ui/uploads", true, map[string]string{"Origin": "https://evil.example",
		"Upload-Length": "10", "Upload-Metadata": videoMetadata}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST from another origin = %d, want 403", resp.StatusCode)
	}
	resp := c.tus("POST", "/ui/uploads", true, create, nil)
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/ui/uploads/")
	if resp.StatusCode != http.StatusCreated || !ok || id == "" {
		t.Fatalf("POST with the CSRF header = %d Location %q %s", resp.StatusCode, loc, bodyOf(resp))
	}
	// The API's refusals come through as text the page shows, in the page's language (French here).
	if resp := c.tus("POST", "/ui/uploads", true, map[string]string{"Upload-Length": "10",
		"Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("a.pdf")) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("application/pdf"))}, nil); resp.StatusCode != 400 || !strings.Contains(bodyOf(resp), "C'est un document PDF") {
		t.Errorf("PDF through the UI = %d", resp.StatusCode)
	}

	patch := func(csrf bool, offset int, body io.Reader) *http.Response {
		return c.tus("PATCH", loc, csrf, map[string]string{"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream"}, body)
	}
	if resp := patch(false, 0, bytes.NewReader(mp4Start[:100])); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PATCH without the CSRF header = %d, want 403", resp.StatusCode)
	}
	if resp := c.tus("HEAD", loc, false, nil, nil); resp.StatusCode != 200 || resp.Header.Get("Upload-Offset") != "0" {
		t.Errorf("HEAD after a refused PATCH = %d offset %q, want 0", resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}

	// A PATCH is streamed: its first half is on disk before the second is sent.
	pr, pw := io.Pipe()
	done := make(chan *http.Response)
	go func() {
		req, _ := http.NewRequest("PATCH", f.srv.URL+loc, pr)
		req.ContentLength = int64(len(mp4Start))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("X-CSRF-Token", c.csrf)
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		resp.Body.Close()
		done <- resp
	}()
	half := len(mp4Start) / 2
	pw.Write(mp4Start[:half])
	data := uploadData(t, id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := os.Stat(data); err == nil && st.Size() == int64(half) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first %d bytes of the PATCH never reached %s: the body is not streamed", half, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pw.Write(mp4Start[half:])
	pw.Close()
	if resp := <-done; resp == nil || resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(mp4Start)) {
		t.Fatalf("streamed PATCH = %v", resp)
	}

	// The page's script then posts the fields with the upload's URL.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"title": "Fractions", "subject": "maths", "grade": "5", "language": "fr",
		"text": "# Fractions\n- un quart", "upload": f.srv.URL + loc} {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+"/ui/lessons", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-CSRF-Token", c.csrf)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	status, body := c.do(req)
	var created struct{ Location string }
	json.Unmarshal([]byte(body), &created)
	if status != http.StatusCreated || !strings.HasPrefix(created.Location, "/ui/lessons/") {
		t.Fatalf("lesson from the upload = %d %s", status, body)
	}
	lid, _ := strconv.ParseInt(strings.TrimPrefix(created.Location, "/ui/lessons/"), 10, 64)
	l, err := f.store.Lesson(t.Context(), lid)
	if err != nil || l.Title != "Fractions" || l.TeacherID != "t1" {
		t.Fatalf("lesson %d = %+v, %v", lid, l, err)
	}
	if got, err := os.ReadFile(l.MediaPath); err != nil || !bytes.Equal(got, mp4Start) {
		t.Errorf("lesson media %s: %d bytes, %v", l.MediaPath, len(got), err)
	}
	if resp := c.tus("HEAD", loc, false, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the used upload = %d, want 404", resp.StatusCode)
	}

	// Another teacher's session reaches none of it.
	other := f.browser("t2")
	id2 := f.apiUpload("t1", 100)
	if resp := other.tus("HEAD", "/ui/uploads/"+id2, false, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("t2 HEAD of t1's upload = %d, want 404", resp.StatusCode)
	}
}

// uploadData is the file of upload id in the fixture's store (the fixture's media directory is one of
// this test's temporary directories).
func uploadData(t *testing.T, id string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "media", "uploads", "tus", id+".info"))
	if len(matches) != 1 {
		t.Fatalf("upload %s: %d info files found", id, len(matches))
	}
	return strings.TrimSuffix(matches[0], ".info")
}
