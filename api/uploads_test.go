package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tusReply is the answer to one tus request.
type tusReply struct {
	status int
	header http.Header
	body   string
}

// tus sends one tus request as user ("" for none).
func (f *fixture) tus(method, path, user string, header map[string]string, body []byte) tusReply {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return tusReply{resp.StatusCode, resp.Header, string(b)}
}

func tusMetadata(kv ...string) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// create starts an upload of size bytes and returns its Location.
func (f *fixture) create(user string, size int, filename, filetype string) string {
	f.t.Helper()
	rep := f.tus("POST", "/api/v1/uploads", user, map[string]string{"Upload-Length": strconv.Itoa(size),
		"Upload-Metadata": tusMetadata("filename", filename, "filetype", filetype)}, nil)
	loc := rep.header.Get("Location")
	if rep.status != http.StatusCreated || !strings.HasPrefix(loc, "/api/v1/uploads/") {
		f.t.Fatalf("create upload = %d %q %s", rep.status, loc, rep.body)
	}
	return loc
}

func (f *fixture) patch(loc, user string, offset int, chunk []byte) tusReply {
	f.t.Helper()
	return f.tus("PATCH", loc, user, map[string]string{"Upload-Offset": strconv.Itoa(offset),
		"Content-Type": "application/offset+octet-stream"}, chunk)
}

// uploadFiles lists what the upload store holds.
func (f *fixture) uploadFiles() []string {
	f.t.Helper()
	entries, _ := os.ReadDir(filepath.Join(f.cfg.MediaDir, "uploads", "tus"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestResumableUpload makes a lesson from an upload sent in two PATCHes, the second resumed from the
// offset HEAD reported, and checks that only its owner reaches it.
func TestResumableUpload(t *testing.T) {
	f := newFixture(t, nil)
	media := append(append([]byte{}, mp4Head...), bytes.Repeat([]byte("relais"), 2000)...)
	loc := f.create("t1", len(media), "Fractions.mp4", "video/mp4")
	id := strings.TrimPrefix(loc, "/api/v1/uploads/")

	if rep := f.patch(loc, "t1", 0, media[:5000]); rep.status != http.StatusNoContent || rep.header.Get("Upload-Offset") != "5000" {
		t.Fatalf("first PATCH = %d offset %q %s", rep.status, rep.header.Get("Upload-Offset"), rep.body)
	}
	rep := f.tus("HEAD", loc, "t1", nil, nil)
	if rep.status != 200 || rep.header.Get("Upload-Offset") != "5000" || rep.header.Get("Upload-Length") != strconv.Itoa(len(media)) {
		t.Fatalf("HEAD = %d offset %q length %q", rep.status, rep.header.Get("Upload-Offset"), rep.header.Get("Upload-Length"))
	}

	// Nobody else reaches it, and nothing without a token.
	for _, user := range []string{"t2", "m", "a"} {
		if rep := f.tus("HEAD", loc, user, nil, nil); rep.status != http.StatusNotFound {
			t.Errorf("HEAD as %s = %d, want 404", user, rep.status)
		}
		if rep := f.patch(loc, user, 5000, media[5000:]); rep.status != http.StatusNotFound || !strings.Contains(rep.body, "not found") {
			t.Errorf("PATCH as %s = %d %s, want 404", user, rep.status, rep.body)
		}
		if rep := f.tus("DELETE", loc, user, nil, nil); rep.status != http.StatusNotFound {
			t.Errorf("DELETE as %s = %d, want 404", user, rep.status)
		}
	}
	for _, method := range []string{"HEAD", "PATCH", "DELETE"} {
		if rep := f.tus(method, loc, "", nil, nil); rep.status != http.StatusUnauthorized {
			t.Errorf("%s without a token = %d, want 401", method, rep.status)
		}
	}
	if rep := f.tus("POST", "/api/v1/uploads", "", map[string]string{"Upload-Length": "10"}, nil); rep.status != http.StatusUnauthorized {
		t.Errorf("POST without a token = %d, want 401", rep.status)
	}

	// An unfinished upload makes no lesson; it stays, and resumes.
	fields := goodFields()
	fields["upload"] = id
	body, ct := multipartBody(fields, nil)
	if status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct); status != http.StatusConflict ||
		errMessage(out) != "Upload "+id+" is not finished: the server has 5000 of its "+strconv.Itoa(len(media))+" bytes. Resume it, then create the lesson." {
		t.Errorf("lesson from an unfinished upload = %d %q", status, errMessage(out))
	}
	if rep := f.patch(loc, "t1", 0, media); rep.status != http.StatusConflict {
		t.Errorf("PATCH at offset 0 after 5000 bytes = %d %s, want 409", rep.status, rep.body)
	}
	if rep := f.patch(loc, "t1", 5000, media[5000:]); rep.status != http.StatusNoContent || rep.header.Get("Upload-Offset") != strconv.Itoa(len(media)) {
		t.Fatalf("resumed PATCH = %d offset %q %s", rep.status, rep.header.Get("Upload-Offset"), rep.body)
	}

	// Another teacher cannot use it; sending it with a media file too is refused.
	body, ct = multipartBody(fields, nil)
	if status, out := f.do("POST", "/api/v1/lessons", "t2", body, ct); status != http.StatusNotFound {
		t.Errorf("t2 using t1's upload = %d %v", status, out)
	}
	body, ct = multipartBody(fields, map[string][]byte{"media": mp4Head})
	if status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct); status != 400 || !strings.Contains(errMessage(out), "not both") {
		t.Errorf("media and upload = %d %q", status, errMessage(out))
	}
	// A refused form keeps the upload for the next try.
	delete(fields, "title")
	body, ct = multipartBody(fields, nil)
	if status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct); status != 400 || errMessage(out) != "title is required." {
		t.Errorf("no title = %d %q", status, errMessage(out))
	}
	if len(f.queue.ingested) != 0 {
		t.Fatalf("queued before a lesson was made: %v", f.queue.ingested)
	}

	// The owner makes the lesson, naming the upload by its URL as a tus client knows it.
	fields["title"] = "Fractions"
	fields["upload"] = f.srv.URL + loc
	body, ct = multipartBody(fields, nil)
	status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct)
	if status != http.StatusCreated || out["status"] != "uploaded" || out["teacher_id"] != "t1" {
		t.Fatalf("lesson from the upload = %d %v", status, out)
	}
	lid := int64(out["id"].(float64))
	if diff := cmp.Diff([]int64{lid}, f.queue.ingested); diff != "" {
		t.Errorf("ingested (-want +got):\n%s", diff)
	}
	l, err := f.store.Lesson(t.Context(), lid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(l.MediaPath)
	if err != nil || !bytes.Equal(got, media) || filepath.Base(l.MediaPath) != "source.mp4" {
		t.Errorf("lesson media %s: %d bytes (%v), want the %d uploaded", l.MediaPath, len(got), err, len(media))
	}
	if files := f.uploadFiles(); len(files) != 0 {
		t.Errorf("the used upload left %v", files)
	}
	if rep := f.tus("HEAD", loc, "t1", nil, nil); rep.status != http.StatusNotFound {
		t.Errorf("HEAD of a used upload = %d, want 404", rep.status)
	}
	body, ct = multipartBody(fields, nil)
	if status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct); status != http.StatusNotFound || !strings.Contains(errMessage(out), "Upload the file again") {
		t.Errorf("the upload used twice = %d %q", status, errMessage(out))
	}
}

// TestUploadRefusedAtCreation refuses, before any byte is taken, what can never become a lesson.
func TestUploadRefusedAtCreation(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxUploadBytes = 64 << 10 })
	tests := []struct {
		name   string
		header map[string]string
		status int
		msg    string
	}{
		{"over the limit", map[string]string{"Upload-Length": strconv.Itoa(1 << 20), "Upload-Metadata": tusMetadata("filename", "big.mp4", "filetype", "video/mp4")},
			413, "The file is 1.0 MiB, larger than the limit of 64 KiB. Shorten the lesson or lower its resolution."},
		{"no length", map[string]string{"Upload-Defer-Length": "1", "Upload-Metadata": tusMetadata("filename", "a.mp4", "filetype", "video/mp4")},
			400, "Declare the file's size in the Upload-Length header: uploads of unknown length are not accepted."},
		{"text", map[string]string{"Upload-Length": "100", "Upload-Metadata": tusMetadata("filename", "notes.txt", "filetype", "text/plain")},
			400, "ERR_INVALID: This is a text file, not a recording: put the lesson text in the 'text' field, and upload the video or audio recording here."},
		{"pdf", map[string]string{"Upload-Length": "100", "Upload-Metadata": tusMetadata("filename", "sheet.pdf", "filetype", "application/pdf")},
			400, "ERR_INVALID: This is a PDF document: attach it as the lesson's worksheet, and upload the recording of the lesson here."},
		{"zip", map[string]string{"Upload-Length": "100", "Upload-Metadata": tusMetadata("filename", "a.zip", "filetype", "application/zip")},
			400, "ERR_INVALID: Only video or audio files can be uploaded here, and this one says it is application/zip. Export the lesson from your camera or editing app as MP4."},
		{"no type", map[string]string{"Upload-Length": "100", "Upload-Metadata": tusMetadata("filename", "a.mp4")},
			400, "ERR_INVALID: Name the file and its type in the Upload-Metadata header (filename and filetype, e.g. video/mp4)."},
		{"empty", map[string]string{"Upload-Length": "0", "Upload-Metadata": tusMetadata("filename", "a.mp4", "filetype", "video/mp4")},
			400, "ERR_INVALID: The media file is empty."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := f.tus("POST", "/api/v1/uploads", "t1", tt.header, nil)
			msg := strings.TrimSpace(rep.body)
			if strings.HasPrefix(msg, "{") {
				var e errorBody
				json.Unmarshal([]byte(msg), &e)
				msg = e.Error.Message
			}
			if rep.status != tt.status || msg != tt.msg {
				t.Errorf("= %d %q, want %d %q", rep.status, msg, tt.status, tt.msg)
			}
			if rep.header.Get("Location") != "" {
				t.Errorf("a refused upload has a Location: %q", rep.header.Get("Location"))
			}
		})
	}
	if files := f.uploadFiles(); len(files) != 0 {
		t.Errorf("refused uploads left files: %v", files)
	}
	// A client's own owner is replaced by the caller's.
	loc := f.create("t1", 700, "a.mp4", "video/mp4")
	if rep := f.tus("HEAD", loc, "t1", nil, nil); !strings.Contains(rep.header.Get("Upload-Metadata"), "owner "+base64.StdEncoding.EncodeToString([]byte("t1"))) {
		t.Errorf("metadata %q lacks the owner t1", rep.header.Get("Upload-Metadata"))
	}
	rep := f.tus("POST", "/api/v1/uploads", "t2", map[string]string{"Upload-Length": "700",
		"Upload-Metadata": tusMetadata("filename", "a.mp4", "filetype", "video/mp4", "owner", "t1")}, nil)
	if rep.status != 201 {
		t.Fatalf("create with an owner = %d %s", rep.status, rep.body)
	}
	if st := f.tus("HEAD", rep.header.Get("Location"), "t1", nil, nil); st.status != http.StatusNotFound {
		t.Errorf("t1 reaching the upload t2 made claiming t1 = %d, want 404", st.status)
	}
}

// TestUploadedPDFRefused: bytes that are a PDF under a video/mp4 label are refused when the upload
// completes and when it is used, with the reason; the upload is then gone.
func TestUploadedPDFRefused(t *testing.T) {
	f := newFixture(t, nil)
	pdf := append([]byte("%PDF-1.4\n%âãÏÓ\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), make([]byte, 1000)...)
	loc := f.create("t1", len(pdf), "lesson.mp4", "video/mp4")
	const reason = "This is a PDF document: send it as the worksheet, and the recording as the media."
	if rep := f.patch(loc, "t1", 0, pdf); rep.status != 400 || strings.TrimSpace(rep.body) != "ERR_INVALID: "+reason {
		t.Errorf("last PATCH of a PDF = %d %q", rep.status, rep.body)
	}
	fields := goodFields()
	fields["upload"] = strings.TrimPrefix(loc, "/api/v1/uploads/")
	body, ct := multipartBody(fields, nil)
	if status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct); status != 400 || errMessage(out) != reason {
		t.Errorf("lesson from a PDF upload = %d %q, want 400 %q", status, errMessage(out), reason)
	}
	if len(f.queue.ingested) != 0 {
		t.Errorf("a PDF was queued: %v", f.queue.ingested)
	}
	if files := f.uploadFiles(); len(files) != 0 {
		t.Errorf("the refused upload left %v", files)
	}
}

// TestSweepUploads removes uploads untouched for a day, and only those.
func TestSweepUploads(t *testing.T) {
	f := newFixture(t, nil)
	s := f.srv.Config.Handler.(*Server)
	old := f.create("t1", 2000, "old.mp4", "video/mp4")
	f.patch(old, "t1", 0, mp4Head)
	fresh := f.create("t1", 2000, "fresh.mp4", "video/mp4")
	oldID := strings.TrimPrefix(old, "/api/v1/uploads/")
	dir := filepath.Join(f.cfg.MediaDir, "uploads", "tus")
	past := time.Now().Add(-UploadExpiry - time.Minute)
	for _, p := range []string{oldID, oldID + ".info"} {
		if err := os.Chtimes(filepath.Join(dir, p), past, past); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SweepUploads(time.Now())
	if n != 1 || err != nil {
		t.Errorf("sweep = %d, %v; want 1 removed", n, err)
	}
	if rep := f.tus("HEAD", old, "t1", nil, nil); rep.status != http.StatusNotFound {
		t.Errorf("HEAD of the expired upload = %d, want 404", rep.status)
	}
	if rep := f.tus("HEAD", fresh, "t1", nil, nil); rep.status != 200 {
		t.Errorf("HEAD of the fresh upload = %d, want 200", rep.status)
	}
	if n, _ := s.SweepUploads(time.Now().Add(UploadExpiry + time.Hour)); n != 1 {
		t.Errorf("a day later the sweep removed %d, want the other 1", n)
	}
	if files := f.uploadFiles(); len(files) != 0 {
		t.Errorf("after the sweeps: %v", files)
	}
}
