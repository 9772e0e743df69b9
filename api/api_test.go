package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/templates"
)

// fakeQueue records what the API enqueued.
type fakeQueue struct {
	mu                 sync.Mutex
	ingested, publishd []int64
	resent             []int64
	resentUnknown      []int64
	rescheduled        []int64
}

var _ Queue = (*fakeQueue)(nil)

func (q *fakeQueue) Ingest(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ingested = append(q.ingested, id)
	return nil
}

func (q *fakeQueue) RescheduleReminders(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rescheduled = append(q.rescheduled, id)
	return nil
}

func (q *fakeQueue) Resend(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resent = append(q.resent, id)
	return nil
}

func (q *fakeQueue) ResendUnknown(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resentUnknown = append(q.resentUnknown, id)
	return nil
}

func (q *fakeQueue) Publish(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.publishd = append(q.publishd, id)
	return nil
}

type fixture struct {
	t      testing.TB
	srv    *httptest.Server
	store  *sqlite.DB
	queue  *fakeQueue
	tokens map[string]string // user id -> token
	cfg    Config
	signer *links.Signer
}

func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tmpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MediaDir = filepath.Join(dir, "media")
	cfg.Channels = channels.NewRegistry().Know(sms.Rules{}, sms.ReminderRules{}, email.Rules{}, &postal.Channel{})
	if edit != nil {
		edit(&cfg)
	}
	f := &fixture{t: t, store: db, queue: &fakeQueue{}, tokens: map[string]string{}, cfg: cfg,
		signer: links.NewSigner([]byte("0123456789abcdef0123"), "http://relais.test")}
	s := New(db, f.queue, f.signer, tmpl, cfg, slog.New(slog.DiscardHandler), nil)
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	for _, u := range []relais.User{{ID: "t1", Role: relais.RoleTeacher}, {ID: "t2", Role: relais.RoleTeacher},
		{ID: "m", Role: relais.RoleMedia}, {ID: "a", Role: relais.RoleAdmin}} {
		tok := "tok-" + u.ID
		if err := db.CreateToken(ctx, &relais.APIToken{Name: u.ID, User: u}, HashToken(tok)); err != nil {
			t.Fatal(err)
		}
		f.tokens[u.ID] = tok
	}
	return f
}

func (f *fixture) do(method, path, user string, body io.Reader, ct string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// mp4Head is enough of an MP4 for the upload's first look; the probe decides the rest.
var mp4Head = append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}, make([]byte, 600)...)

func multipartBody(fields map[string]string, files map[string][]byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, b := range files {
		fw, _ := mw.CreateFormFile(name, name+".bin")
		fw.Write(b)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func goodFields() map[string]string {
	return map[string]string{"title": "Fractions", "subject": "maths", "grade": "5", "language": "fr", "text": "# Fractions\n- un quart"}
}

func TestUploadValidation(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.MaxUploadBytes = 64 << 10
		c.PickLists = relais.PickLists{Subjects: []string{"maths", "physics"}, Regions: []string{"Almaty", "Aktobe"}}
	})
	with := func(edit func(map[string]string)) map[string]string {
		m := goodFields()
		edit(m)
		return m
	}
	tests := []struct {
		name   string
		fields map[string]string
		media  []byte
		status int
		msg    string
	}{
		{"no media", goodFields(), nil, 400, "The lesson needs a video or audio file in the 'media' field."},
		{"empty media", goodFields(), []byte{}, 400, "The media file is empty."},
		{"html renamed", goodFields(), []byte("<!doctype html><html><body>lesson</body></html>"), 400, "This is not a video or audio file (it looks like text)."},
		{"png renamed", goodFields(), append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...), 400, "This is a picture, not a video or audio file."},
		{"too large", goodFields(), append(mp4Head, make([]byte, 2<<20)...), 413, "The upload is larger than the limit of 64 KiB."},
		{"no title", with(func(m map[string]string) { delete(m, "title") }), mp4Head, 400, "title is required."},
		{"long title", with(func(m map[string]string) { m["title"] = strings.Repeat("é", 201) }), mp4Head, 400, "title is 201 characters long; the limit is 200."},
		{"control char", with(func(m map[string]string) { m["title"] = "Les\x1b[31m fractions" }), mp4Head, 400, "title contains an invisible control character (U+001B); retype it."},
		{"bad language", with(func(m map[string]string) { m["language"] = "de" }), mp4Head, 400, "language must be one of fr, kk, ru, en."},
		{"bad grade", with(func(m map[string]string) { m["grade"] = "CM2" }), mp4Head, 400, "grade must be a school grade from 0 to 13."},
		{"no text", with(func(m map[string]string) { delete(m, "text") }), mp4Head, 400, "The lesson needs its text (Markdown)"},
		{"bad budget", with(func(m map[string]string) { m["segment_budget"] = "50" }), mp4Head, 400, "segment_budget must be a number of SMS segments from 1 to 10."},
		{"subject not listed", with(func(m map[string]string) { m["subject"] = "Mathématiques" }), mp4Head, 400,
			`Subject "Mathématiques" is not in the configured list: pick one of maths, physics (an operator adds subjects with RELAIS_SUBJECTS).`},
		{"region not listed", with(func(m map[string]string) { m["region"] = "Astana" }), mp4Head, 400,
			`Region "Astana" is not in the configured list: pick one of Almaty, Aktobe`},
		{"audience region not listed", with(func(m map[string]string) { m["audience_regions"] = "Almaty, Astana" }), mp4Head, 400,
			`Region "Astana" is not in the configured list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			if tt.media != nil {
				files["media"] = tt.media
			}
			body, ct := multipartBody(tt.fields, files)
			status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct)
			if status != tt.status || !strings.HasPrefix(errMessage(out), strings.TrimSuffix(tt.msg, ".")) {
				t.Errorf("= %d %q, want %d %q", status, errMessage(out), tt.status, tt.msg)
			}
		})
	}
	if len(f.queue.ingested) != 0 {
		t.Errorf("refused uploads were queued: %v", f.queue.ingested)
	}
	// A good upload is stored and queued; markup in the title is kept as text.
	body, ct := multipartBody(with(func(m map[string]string) { m["title"] = "<b>Fractions</b>" }), map[string][]byte{"media": mp4Head})
	status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct)
	if status != 201 || out["title"] != "<b>Fractions</b>" || out["status"] != "uploaded" || out["teacher_id"] != "t1" {
		t.Fatalf("good upload = %d %v", status, out)
	}
	if diff := cmp.Diff([]int64{1}, f.queue.ingested); diff != "" {
		t.Errorf("ingested (-want +got):\n%s", diff)
	}
}

func TestLessonsArePrivateToTheirTeacherAndPaginated(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		l := relais.Lesson{Title: fmt.Sprint("L", i), Subject: "s", Grade: 1, Language: "fr", TeacherID: "t1"}
		if err := f.store.CreateLesson(ctx, &l); err != nil {
			t.Fatal(err)
		}
	}
	other := relais.Lesson{Title: "other", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t2"}
	f.store.CreateLesson(ctx, &other)

	var titles []string
	path := "/api/v1/lessons?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		status, out := f.do("GET", path, "t1", nil, "")
		if status != 200 {
			t.Fatalf("list: %d %v", status, out)
		}
		for _, it := range out["items"].([]any) {
			titles = append(titles, it.(map[string]any)["title"].(string))
		}
		path = ""
		if next, ok := out["next_after"].(float64); ok {
			path = fmt.Sprintf("/api/v1/lessons?limit=2&after=%d", int64(next))
		}
	}
	if diff := cmp.Diff([]string{"L4", "L3", "L2", "L1", "L0"}, titles); diff != "" {
		t.Errorf("t1's lessons, newest first (-want +got):\n%s", diff)
	}
	if status, _ := f.do("GET", fmt.Sprintf("/api/v1/lessons/%d", other.ID), "t1", nil, ""); status != 404 {
		t.Errorf("t1 reading t2's lesson: %d, want 404", status)
	}
	if status, _ := f.do("GET", fmt.Sprintf("/api/v1/lessons/%d", other.ID), "m", nil, ""); status != 200 {
		t.Errorf("media reading t2's lesson: %d, want 200", status)
	}
	if status, out := f.do("GET", "/api/v1/deliveries", "t1", nil, ""); status != 400 || !strings.Contains(errMessage(out), "lesson_id") {
		t.Errorf("teacher listing all deliveries: %d %v", status, out)
	}
	if status, _ := f.do("GET", fmt.Sprintf("/api/v1/deliveries?lesson_id=%d", other.ID), "t1", nil, ""); status != 404 {
		t.Errorf("teacher listing another teacher's deliveries: %d, want 404", status)
	}
	if status, _ := f.do("GET", "/api/v1/lessons?limit=0", "t1", nil, ""); status != 400 {
		t.Errorf("limit=0: %d, want 400", status)
	}
}

func TestRolesOnEveryRoute(t *testing.T) {
	f := newFixture(t, nil)
	s := New(nil, nil, nil, nil, DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	for _, r := range s.apiRoutes() {
		method, path, _ := strings.Cut(r.pattern, " ")
		path = strings.NewReplacer("{id}", "1", "{kind}", "tv").Replace(path)
		for _, user := range []string{"", "t1", "m", "a"} {
			status, _ := f.do(method, path, user, strings.NewReader(""), "text/csv")
			var want []int
			switch {
			case user == "":
				want = []int{401}
			case user == "t1" && (strings.HasSuffix(path, "/publish") || strings.HasPrefix(path, "/api/v1/households")):
				want = []int{403}
			case user == "t1" && !slices.Contains(r.roles, relais.RoleTeacher): // staff-only scheduler routes
				want = []int{403}
			case user == "m" && !slices.Contains(r.roles, relais.RoleMedia): // admin-only routes
				want = []int{403}
			default:
				want = []int{200, 201, 400, 404, 409, 422} // allowed in: the answer is about the request
			}
			ok := false
			for _, w := range want {
				ok = ok || status == w
			}
			if !ok {
				t.Errorf("%s as %q = %d, want one of %v", r.pattern, user, status, want)
			}
		}
	}
}

func TestPublishNeedsAReadyLesson(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t1"}
	f.store.CreateLesson(ctx, &l)
	f.store.SetLessonProgress(ctx, l.ID, "transcode", 40)
	path := fmt.Sprintf("/api/v1/lessons/%d/publish", l.ID)
	if status, out := f.do("POST", path, "m", nil, ""); status != 409 || errMessage(out) != "The lesson is still being processed (transcode, 40 %); publish it when its status is ready." {
		t.Errorf("publish while processing: %d %q", status, errMessage(out))
	}
	f.store.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil)
	for i := 0; i < 2; i++ { // publishing twice is harmless
		if status, out := f.do("POST", path, "m", nil, ""); status != 202 || out["status"] != "published" {
			t.Errorf("publish #%d: %d %v", i+1, status, out)
		}
	}
	if diff := cmp.Diff([]int64{l.ID, l.ID}, f.queue.publishd); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}

// "Resend unknowns" is the media unit's one action per published lesson; a teacher cannot, and a lesson
// not published has nothing to resend.
func TestResendUnknown(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t1"}
	f.store.CreateLesson(ctx, &l)
	f.store.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil)
	path := fmt.Sprintf("/api/v1/lessons/%d/resend-unknown", l.ID)
	if status, out := f.do("POST", path, "m", nil, ""); status != 409 || errMessage(out) != "Only a published lesson has deliveries to send again; this one is ready." {
		t.Errorf("resend unknowns of a ready lesson: %d %q", status, errMessage(out))
	}
	f.store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil)
	if status, _ := f.do("POST", path, "t1", nil, ""); status != 403 {
		t.Errorf("resend unknowns by a teacher: %d", status)
	}
	if status, out := f.do("POST", path, "m", nil, ""); status != 202 || out["status"] != "published" {
		t.Errorf("resend unknowns: %d %v", status, out)
	}
	if diff := cmp.Diff([]int64{l.ID}, f.queue.resentUnknown); diff != "" {
		t.Errorf("resent (-want +got):\n%s", diff)
	}
}

func TestImportHouseholds(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxImportBytes = 4 << 10 })
	csv := "external_ref,language,grades,profile,phone\nH1,fr,5,sms_only,+33612345678\nH2,fr,5,sms_only,+3361\n"
	status, out := f.do("POST", "/api/v1/households/import", "m", strings.NewReader(csv), "text/csv")
	want := map[string]any{"imported": 1.0, "rejected": 1.0, "errors": []any{map[string]any{"row": 3.0,
		"message": `phone "+3361" is not a valid phone number (numbers without + are read as FR numbers)`}}}
	if diff := cmp.Diff(want, out); status != 200 || diff != "" {
		t.Errorf("import = %d (-want +got):\n%s", status, diff)
	}
	bad := "external_ref,language,grades,profile\nX,xx,5,sms_only\n"
	if status, out := f.do("POST", "/api/v1/households/import", "m", strings.NewReader(bad), "text/csv"); status != 422 || out["imported"] != 0.0 {
		t.Errorf("all rows bad: %d %v", status, out)
	}
	big := "external_ref,language,grades,profile,postal_address\n" + strings.Repeat("H,fr,5,offline,somewhere long enough\n", 200)
	if status, out := f.do("POST", "/api/v1/households/import", "m", strings.NewReader(big), "text/csv"); status != 413 || !strings.Contains(errMessage(out), "4.0 KiB") {
		t.Errorf("oversized import: %d %v", status, out)
	}
	if status, out := f.do("POST", "/api/v1/households/import", "m", strings.NewReader("{}"), "application/json"); status != 400 || !strings.Contains(errMessage(out), "text/csv") {
		t.Errorf("JSON body: %d %v", status, out)
	}
}

// TestFullImportMarksRemoved: a full import marks the households it leaves out as removed from the
// roster; one with a refused row marks nothing; retention later erases the removed one.
func TestFullImportMarksRemoved(t *testing.T) {
	f := newFixture(t, nil)
	head := "external_ref,language,grades,profile,phone\n"
	csv := head + "H1,fr,5,sms_only,+33612345671\nH2,fr,5,sms_only,+33612345672\nH3,fr,5,sms_only,+33612345673\n"
	if status, out := f.do("POST", "/api/v1/households/import", "m", strings.NewReader(csv), "text/csv"); status != 200 || out["imported"] != 3.0 {
		t.Fatalf("import: %d %v", status, out)
	}
	refused := head + "H1,fr,5,sms_only,+33612345671\nH2,fr,5,sms_only,+3361\n"
	if status, out := f.do("POST", "/api/v1/households/import?full=true", "m", strings.NewReader(refused), "text/csv"); status != 200 || out["removed"] != nil {
		t.Errorf("full import with a refused row: %d %v; want nothing removed", status, out)
	}
	full := head + "H1,fr,5,sms_only,+33612345671\nH2,fr,5,sms_only,+33612345672\n"
	if status, out := f.do("POST", "/api/v1/households/import?full=true", "m", strings.NewReader(full), "text/csv"); status != 200 || out["removed"] != 1.0 {
		t.Errorf("full import: %d %v; want H3 removed", status, out)
	}
	if status, out := f.do("POST", "/api/v1/households/import?full=yes", "m", strings.NewReader(full), "text/csv"); status != 400 || !strings.Contains(errMessage(out), "full=true") {
		t.Errorf("full=yes: %d %v", status, out)
	}
	p, err := f.store.PruneFamilyData(context.Background(), time.Now().Add(time.Hour), relais.Retention{Removed: time.Minute})
	if err != nil || p.Households != 1 {
		t.Fatalf("retention after the full import = %+v, %v; want H3 erased", p, err)
	}
	if hs, err := f.store.HouseholdsByPhone(context.Background(), "+33612345673"); err != nil || len(hs) != 0 {
		t.Errorf("H3's number after retention: %v %v", hs, err)
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	f := newFixture(t, nil)
	f.store.Close() // every query now fails inside the store
	status, out := f.do("GET", "/api/v1/lessons/1", "t1", nil, "")
	if status != 500 {
		t.Fatalf("status %d, want 500", status)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/readyz with a closed database: %d, want 503", resp.StatusCode)
	}
	if msg := errMessage(out); !strings.HasPrefix(msg, "Internal error; quote request id ") || strings.Contains(msg, "sql") {
		t.Errorf("internal error message %q", msg)
	}
}
