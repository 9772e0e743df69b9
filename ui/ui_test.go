package ui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/templates"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// fakeQueue records what the API enqueued.
type fakeQueue struct {
	mu        sync.Mutex
	published []int64
}

var _ api.Queue = (*fakeQueue)(nil)

func (q *fakeQueue) Ingest(context.Context, int64) error { return nil }

func (q *fakeQueue) RescheduleReminders(context.Context, int64) error { return nil }

func (q *fakeQueue) Resend(context.Context, int64) error { return nil }

func (q *fakeQueue) ResendUnknown(context.Context, int64) error { return nil }

func (q *fakeQueue) Publish(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.published = append(q.published, id)
	return nil
}

// fixture is the API with the UI and metrics mounted, on a real SQLite store, with one token per user
// and lessons: 1 (t1, ready, with audio, digest and worksheet), 2 (t1, published, with deliveries).
type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	store *sqlite.DB
	queue *fakeQueue
}

var users = map[string]relais.User{
	"t1": {ID: "t1", Name: "Teacher One", Role: relais.RoleTeacher},
	"t2": {ID: "t2", Name: "Teacher Two", Role: relais.RoleTeacher},
	"m":  {ID: "m", Name: "Media Unit", Role: relais.RoleMedia},
	"a":  {ID: "a", Name: "Admin", Role: relais.RoleAdmin},
}

func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, edit)
}

// newFixtureWith is newFixture with the API's configuration edited too.
func newFixtureWith(t *testing.T, editAPI func(*api.Config), edit func(*Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, nil, editAPI, edit)
}

// newFixtureOn is newFixtureWith serving on ln (nil: a new loopback port), for tests that must know the
// server's address before it is built (the OpenID provider's redirect URI).
func newFixtureOn(t *testing.T, ln net.Listener, editAPI func(*api.Config), edit func(*Config)) *fixture {
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
	acfg := api.DefaultConfig()
	acfg.MediaDir = filepath.Join(dir, "media")
	acfg.Channels = channels.NewRegistry().Know(sms.Rules{}, sms.ReminderRules{}, email.Rules{}, &postal.Channel{})
	if editAPI != nil {
		editAPI(&acfg)
	}
	f := &fixture{t: t, store: db, queue: &fakeQueue{}}
	log := slog.New(slog.DiscardHandler)
	srv := api.New(db, f.queue, links.NewSigner([]byte("0123456789abcdef0123"), "http://relais.test"), tmpl, acfg, log, nil)
	cfg := DefaultConfig()
	redisAddr, redisDB := testenv.Redis(t)
	cfg.Redis = asynq.RedisClientOpt{Addr: redisAddr, DB: redisDB}
	if edit != nil {
		edit(&cfg)
	}
	h := New(db, srv, tmpl, []byte("ui-test-secret-0123456789"), cfg, log)
	t.Cleanup(func() { h.Close() })
	srv.Mount("/ui/", h)
	m := NewMetrics(db, func() (map[string]*asynq.QueueInfo, error) {
		return map[string]*asynq.QueueInfo{"send": {Queue: "send", Pending: 7, Active: 2}}, nil
	}, fakeTaskStats, log)
	srv.Mount("GET /metrics", m.Handler())
	if ln == nil {
		f.srv = httptest.NewServer(m.Instrument(srv))
	} else {
		f.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: m.Instrument(srv)}}
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	for _, u := range users {
		if err := db.CreateToken(ctx, &relais.APIToken{Name: u.ID, User: u}, api.HashToken("tok-"+u.ID)); err != nil {
			t.Fatal(err)
		}
	}
	f.seed(dir)
	return f
}

func (f *fixture) seed(dir string) {
	t, ctx := f.t, context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	l1 := relais.Lesson{Title: `<script>alert(1)</script> Fractions`, Subject: "maths", Grade: 5, Language: "fr",
		TeacherID: "t1", Status: relais.LessonReady, Markdown: "- un\n", SegmentBudget: 3}
	must(f.store.CreateLesson(ctx, &l1))
	must(f.store.SetLessonStatus(ctx, l1.ID, relais.LessonReady, nil))
	audio, sheet := filepath.Join(dir, "lowband.opus"), filepath.Join(dir, "sheet.pdf")
	must(os.WriteFile(audio, []byte("OggS fake opus"), 0o600))
	must(os.WriteFile(sheet, []byte("%PDF-1.4 fake"), 0o600))
	must(f.store.PutRendition(ctx, relais.Rendition{LessonID: l1.ID, Kind: relais.RenditionLowband, Path: audio,
		Container: "ogg", AudioCodec: "opus", SampleRate: 48000, Channels: 1, DurationMS: 3000, Bytes: 14}))
	must(f.store.PutDigest(ctx, relais.Digest{LessonID: l1.ID, Language: "fr", Body: "Leçon: les fractions", Encoding: "UCS-2",
		Segments: 2, Characters: 20}))
	must(f.store.PutWorksheet(ctx, relais.Worksheet{LessonID: l1.ID, Path: sheet, Bytes: 13, Generated: true}))

	l2 := relais.Lesson{Title: "Published lesson", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1",
		Status: relais.LessonReady, Markdown: "- deux\n", SegmentBudget: 3}
	must(f.store.CreateLesson(ctx, &l2))
	must(f.store.SetLessonStatus(ctx, l2.ID, relais.LessonPublished, nil))
	hs := []relais.Household{
		{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000001", Consent: true},
		{ExternalRef: "B", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000002", Consent: true},
		{ExternalRef: "C", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000003", Consent: true},
	}
	must(f.store.UpsertHouseholds(ctx, hs))
	var ds []relais.Delivery
	for _, h := range hs {
		ds = append(ds, relais.Delivery{LessonID: l2.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS, Status: relais.DeliveryPending})
	}
	ids, err := f.store.PlanDeliveries(ctx, ds)
	must(err)
	if len(ids) != 3 {
		t.Fatalf("planned %d deliveries", len(ids))
	}
	_, err = f.store.AdvanceDelivery(ctx, ids[0], relais.DeliveryDelivered, "", "SM1")
	must(err)
	_, err = f.store.AdvanceDelivery(ctx, ids[1], relais.DeliveryFailed, "invalid number (21211)", "")
	must(err)
	_, err = f.store.AdvanceDelivery(ctx, ids[2], relais.DeliveryFailed, "invalid number (21211)", "")
	must(err)
}

// client is a browser: a cookie jar, no redirect following, and the CSRF token of its last page.
type client struct {
	f    *fixture
	hc   *http.Client
	csrf string
	lang string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser returns a client signed in as user ("" for a visitor who is not signed in).
func (f *fixture) browser(user string) *client {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{f: f, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, lang: "en"}
	if status, _ := c.get("/ui/signin"); status != 200 {
		f.t.Fatalf("sign-in page: %d", status)
	}
	if user == "" {
		return c
	}
	status, body := c.postForm("/ui/signin", url.Values{"token": {"tok-" + user}, "next": {"/ui/lessons"}})
	if status != http.StatusSeeOther {
		f.t.Fatalf("sign in as %s: %d %s", user, status, body)
	}
	if status, _ := c.get("/ui/lessons"); status != 200 {
		f.t.Fatalf("lessons after sign-in as %s: %d", user, status)
	}
	return c
}

func (c *client) do(req *http.Request) (int, string) {
	c.f.t.Helper()
	req.Header.Set("Accept-Language", c.lang)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

func (c *client) get(path string) (int, string) {
	req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
	return c.do(req)
}

// postForm posts an urlencoded form with the client's CSRF token.
func (c *client) postForm(path string, v url.Values) (int, string) {
	if v == nil {
		v = url.Values{}
	}
	if !v.Has("csrf") {
		v.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// postMultipart posts files and fields with the CSRF token in the query, as the pages' forms do.
func (c *client) postMultipart(path string, fields map[string]string, files map[string][]byte) (int, string) {
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
	req, _ := http.NewRequest("POST", c.f.srv.URL+path+"?csrf="+url.QueryEscape(c.csrf), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// request is one call of the authorization table.
type request struct {
	pattern string // the route it exercises
	send    func(c *client) (int, string)
}

func get(pattern, path string) request {
	return request{pattern, func(c *client) (int, string) { return c.get(path) }}
}

func post(pattern, path string) request {
	return request{pattern, func(c *client) (int, string) { return c.postForm(path, nil) }}
}

// TestAuthorization calls every route as every role: a visitor is sent to sign in (or refused on
// POST), a teacher cannot reach staff pages nor another teacher's lesson.
func TestAuthorization(t *testing.T) {
	f := newFixture(t, nil)
	csv := "external_ref,region,language,grades,profile,phone,email,postal_address,consent\nZ,IDF,fr,5,sms_only,+33612000099,,,yes\nY,IDF,fr,5,sms_only,12,,,yes\n"
	upload := f.apiUpload("t1", 1000) // t1's resumable upload (ui/uploads_test.go)
	f.seedGrid()                      // station 1 and its slots (ui/schedule_test.go)
	f.seedPostal()                    // postal batch 1, ready (ui/postal_test.go)
	reqs := []request{
		get("GET /ui/{$}", "/ui/"),
		get("GET /ui/signin", "/ui/signin"),
		{"POST /ui/signin", func(c *client) (int, string) { return c.postForm("/ui/signin", url.Values{"token": {"wrong"}}) }},
		post("POST /ui/lang", "/ui/lang"),
		get("GET /ui/lessons", "/ui/lessons"),
		get("GET /ui/lessons/new", "/ui/lessons/new"),
		{"POST /ui/lessons", func(c *client) (int, string) {
			return c.postMultipart("/ui/lessons", map[string]string{"title": "No media"}, nil)
		}},
		{"POST /ui/preview", func(c *client) (int, string) {
			req, _ := http.NewRequest("POST", c.f.srv.URL+"/ui/preview", strings.NewReader("# Titre\n\n- un"))
			req.Header.Set("X-CSRF-Token", c.csrf)
			return c.do(req)
		}},
		tusCreateRequest(), tusHeadRequest(upload), tusPatchRequest(upload),
		get("GET /ui/lessons/{id}", "/ui/lessons/1"),
		get("GET /ui/lessons/{id}/renditions/{kind}", "/ui/lessons/1/renditions/lowband"),
		get("GET /ui/lessons/{id}/worksheet", "/ui/lessons/1/worksheet"),
		get("GET /ui/publish", "/ui/publish"),
		post("POST /ui/lessons/{id}/publish", "/ui/lessons/1/publish"),
		get("GET /ui/lessons/{id}/deliveries", "/ui/lessons/2/deliveries"),
		post("POST /ui/lessons/{id}/resend-unknown", "/ui/lessons/2/resend-unknown"),
		get("GET /ui/dashboard", "/ui/dashboard"),
		get("GET /ui/households", "/ui/households"),
		get("GET /ui/households.csv", "/ui/households.csv"),
		get("GET /ui/lessons/{id}/deliveries.csv", "/ui/lessons/1/deliveries.csv"),
		get("GET /ui/households/import", "/ui/households/import"),
		{"POST /ui/households/import", func(c *client) (int, string) {
			return c.postMultipart("/ui/households/import", nil, map[string][]byte{"file": []byte(csv)})
		}},
		// Broadcast approval, the grid, the plan and postal batches, on seedGrid's station and seedPostal's
		// batch: empty forms get the API's 400; lesson 1, never submitted, cannot be approved or rejected
		// (409); the media unit marks batch 1 printed then posted, so the admin's "printed" comes too late.
		post("POST /ui/lessons/{id}/submit", "/ui/lessons/2/submit"),
		get("GET /ui/review", "/ui/review"),
		post("POST /ui/lessons/{id}/approve", "/ui/lessons/1/approve"),
		post("POST /ui/lessons/{id}/reject", "/ui/lessons/1/reject"),
		get("GET /ui/lessons/{id}/plan", "/ui/lessons/1/plan"),
		get("GET /ui/stations", "/ui/stations"),
		post("POST /ui/stations", "/ui/stations"),
		get("GET /ui/stations/{id}/edit", "/ui/stations/1/edit"),
		post("POST /ui/stations/{id}", "/ui/stations/1"),                // an empty name: the API's 400
		get("GET /ui/stations/{id}/delete", "/ui/stations/1/delete"),    // the confirmation, nothing deleted
		post("POST /ui/stations/{id}/delete", "/ui/stations/99/delete"), // no such station: 404, station 1 stays
		post("POST /ui/stations/{id}/templates", "/ui/stations/1/templates"),
		post("POST /ui/stations/{id}/slots", "/ui/stations/1/slots"),
		post("POST /ui/stations/{id}/exceptions", "/ui/stations/1/exceptions"),
		get("GET /ui/stations/{id}/epg", "/ui/stations/1/epg?from=2026-03-02&to=2026-03-08"),
		get("GET /ui/stations/{id}/playlist", "/ui/stations/1/playlist?date=2026-03-02"),
		get("GET /ui/grid", "/ui/grid?station=1&week=2026-03-02"),
		post("POST /ui/slots/{id}/assign", "/ui/slots/1/assign"),
		post("POST /ui/slots/{id}/unassign", "/ui/slots/1/unassign"),
		post("POST /ui/slots/{id}/sequence", "/ui/slots/1/sequence"),
		post("POST /ui/schedule/fill", "/ui/schedule/fill"),
		get("GET /ui/postal", "/ui/postal"),
		post("POST /ui/postal", "/ui/postal"),
		get("GET /ui/postal/{id}/pdf", "/ui/postal/1/pdf"),
		get("GET /ui/postal/{id}/csv", "/ui/postal/1/csv"),
		post("POST /ui/postal/{id}/printed", "/ui/postal/1/printed"),
		post("POST /ui/postal/{id}/posted", "/ui/postal/1/posted"),
		get("/ui/admin/queues/", "/ui/admin/queues/api/queues"),
		get("GET /ui/admin/tokens", "/ui/admin/tokens"),
		post("POST /ui/admin/tokens", "/ui/admin/tokens"),
		post("POST /ui/admin/tokens/{id}/rotate", "/ui/admin/tokens/999/rotate"),
		post("POST /ui/admin/tokens/{id}/revoke", "/ui/admin/tokens/999/revoke"),
		get("GET /ui/admin/audit", "/ui/admin/audit"),
		get("GET /ui/admin/audit.csv", "/ui/admin/audit.csv"),
		get("GET /ui/admin/senders", "/ui/admin/senders"),
		get("GET /ui/oidc/start", "/ui/oidc/start"),       // no OpenID provider configured here: 404 (oidc_test.go)
		get("GET /ui/oidc/callback", "/ui/oidc/callback"), // likewise
		post("POST /ui/signout", "/ui/signout"),           // last: it ends the session
	}
	// Expected status per role: visitor, t1 (owns lessons 1 and 2), t2, media, admin.
	want := map[string][5]int{
		"GET /ui/{$}":                            {303, 303, 303, 303, 303},
		"GET /ui/signin":                         {200, 303, 303, 303, 303},
		"POST /ui/signin":                        {401, 401, 401, 401, 401},
		"POST /ui/lang":                          {303, 303, 303, 303, 303},
		"GET /ui/lessons":                        {303, 200, 200, 200, 200},
		"GET /ui/lessons/new":                    {303, 200, 200, 200, 200},
		"POST /ui/lessons":                       {401, 400, 400, 400, 400},
		"POST /ui/preview":                       {401, 200, 200, 200, 200},
		"POST /ui/uploads":                       {401, 201, 201, 201, 201},
		"HEAD /ui/uploads/{id}":                  {401, 200, 404, 404, 404},
		"PATCH /ui/uploads/{id}":                 {401, 204, 404, 404, 404},
		"GET /ui/lessons/{id}":                   {303, 200, 404, 200, 200},
		"GET /ui/lessons/{id}/renditions/{kind}": {303, 200, 404, 200, 200},
		"GET /ui/lessons/{id}/worksheet":         {303, 200, 404, 200, 200},
		"GET /ui/publish":                        {303, 403, 403, 200, 200},
		"POST /ui/lessons/{id}/publish":          {401, 403, 403, 303, 303},
		"GET /ui/lessons/{id}/deliveries":        {303, 403, 403, 200, 200},
		"POST /ui/lessons/{id}/resend-unknown":   {401, 403, 403, 303, 303},
		"GET /ui/dashboard":                      {303, 403, 403, 200, 200},
		"GET /ui/households/import":              {303, 403, 403, 200, 200},
		"POST /ui/households/import":             {401, 403, 403, 200, 200},
		"/ui/admin/queues/":                      {303, 403, 403, 403, 200},
		"POST /ui/lessons/{id}/submit":           {401, 303, 404, 303, 303},
		"GET /ui/review":                         {303, 403, 403, 200, 200},
		"POST /ui/lessons/{id}/approve":          {401, 403, 403, 409, 409},
		"POST /ui/lessons/{id}/reject":           {401, 403, 403, 409, 409},
		"GET /ui/lessons/{id}/plan":              {303, 403, 403, 200, 200},
		"GET /ui/stations":                       {303, 403, 403, 200, 200},
		"POST /ui/stations":                      {401, 403, 403, 400, 400},
		"GET /ui/stations/{id}/edit":             {303, 403, 403, 200, 200},
		"POST /ui/stations/{id}":                 {401, 403, 403, 400, 400},
		"GET /ui/stations/{id}/delete":           {303, 403, 403, 200, 200},
		"POST /ui/stations/{id}/delete":          {401, 403, 403, 404, 404},
		"POST /ui/stations/{id}/templates":       {401, 403, 403, 400, 400},
		"POST /ui/stations/{id}/slots":           {401, 403, 403, 400, 400},
		"POST /ui/stations/{id}/exceptions":      {401, 403, 403, 400, 400},
		"GET /ui/stations/{id}/epg":              {303, 403, 403, 200, 200},
		"GET /ui/stations/{id}/playlist":         {303, 403, 403, 200, 200},
		"GET /ui/grid":                           {303, 403, 403, 200, 200},
		"POST /ui/slots/{id}/assign":             {401, 403, 403, 400, 400},
		"POST /ui/slots/{id}/unassign":           {401, 403, 403, 303, 303},
		"POST /ui/slots/{id}/sequence":           {401, 403, 403, 400, 400},
		"POST /ui/schedule/fill":                 {401, 403, 403, 400, 400},
		"GET /ui/postal":                         {303, 403, 403, 200, 200},
		"GET /ui/households":                     {303, 403, 403, 200, 200},
		"GET /ui/households.csv":                 {303, 403, 403, 200, 200},
		"GET /ui/lessons/{id}/deliveries.csv":    {303, 403, 403, 200, 200},
		"POST /ui/postal":                        {401, 403, 403, 400, 400},
		"GET /ui/postal/{id}/pdf":                {303, 403, 403, 200, 200},
		"GET /ui/postal/{id}/csv":                {303, 403, 403, 200, 200},
		"POST /ui/postal/{id}/printed":           {401, 403, 403, 303, 409},
		"POST /ui/postal/{id}/posted":            {401, 403, 403, 303, 303},
		"GET /ui/admin/tokens":                   {303, 403, 403, 403, 200},
		"POST /ui/admin/tokens":                  {401, 403, 403, 403, 400},
		"POST /ui/admin/tokens/{id}/rotate":      {401, 403, 403, 403, 404},
		"POST /ui/admin/tokens/{id}/revoke":      {401, 403, 403, 403, 404},
		"GET /ui/admin/audit":                    {303, 403, 403, 403, 200},
		"GET /ui/admin/audit.csv":                {303, 403, 403, 403, 200},
		"GET /ui/admin/senders":                  {303, 403, 403, 403, 200},
		"GET /ui/oidc/start":                     {404, 404, 404, 404, 404},
		"GET /ui/oidc/callback":                  {404, 404, 404, 404, 404},
		"POST /ui/signout":                       {401, 303, 303, 303, 303},
	}
	var patterns []string
	for _, rt := range (&Handler{}).table() {
		patterns = append(patterns, rt.pattern)
	}
	var tested []string
	for _, rq := range reqs {
		tested = append(tested, rq.pattern)
	}
	slices.Sort(patterns)
	slices.Sort(tested)
	if diff := cmp.Diff(patterns, tested); diff != "" {
		t.Fatalf("routes not in the authorization table (-routes +tested):\n%s", diff)
	}
	for i, role := range []string{"", "t1", "t2", "m", "a"} {
		c := f.browser(role)
		for _, rq := range reqs {
			t.Run(fmt.Sprintf("%s/%s", rq.pattern, role), func(t *testing.T) {
				c.get("/ui/signin") // a fresh CSRF token from a page, as a browser would have
				if role != "" {
					c.get("/ui/lessons")
				}
				status, body := rq.send(c)
				if status != want[rq.pattern][i] {
					t.Errorf("%s as %q = %d, want %d\n%.400s", rq.pattern, role, status, want[rq.pattern][i], body)
				}
			})
		}
	}
	if got := len(f.queue.published); got != 2 {
		t.Errorf("publish queued %d times, want 2 (media and admin)", got)
	}
}

// TestCSRF refuses every POST without the session's token, with another session's token, and from
// another origin.
func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	media := f.browser("m")
	other := f.browser("a")
	posts := []string{"/ui/signout", "/ui/lang", "/ui/lessons/1/publish"}
	for _, path := range posts {
		for name, tok := range map[string]string{"missing": "", "other session": other.csrf, "forged": forge(media.csrf)} {
			t.Run(path+"/"+name, func(t *testing.T) {
				status, body := media.postForm(path, url.Values{"csrf": {tok}})
				if status != http.StatusForbidden || !strings.Contains(body, "expired") {
					t.Errorf("POST %s with %s token = %d, want 403 with the expired message\n%.300s", path, name, status, body)
				}
			})
		}
	}
	for _, path := range []string{"/ui/lessons", "/ui/households/import"} {
		t.Run(path+"/multipart", func(t *testing.T) {
			saved := media.csrf
			media.csrf = ""
			status, _ := media.postMultipart(path, map[string]string{"title": "x"}, map[string][]byte{"file": []byte("a")})
			media.csrf = saved
			if status != http.StatusForbidden {
				t.Errorf("multipart POST %s without token = %d, want 403", path, status)
			}
		})
	}
	t.Run("cross-origin", func(t *testing.T) {
		req, _ := http.NewRequest("POST", f.srv.URL+"/ui/lessons/1/publish", strings.NewReader(url.Values{"csrf": {media.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if status, _ := media.do(req); status != http.StatusForbidden {
			t.Errorf("cross-origin publish = %d, want 403", status)
		}
	})
	t.Run("queue monitor", func(t *testing.T) {
		admin := f.browser("a")
		for origin, want := range map[string]int{"": 403, "https://evil.example": 403, f.srv.URL: 204} {
			req, _ := http.NewRequest("POST", f.srv.URL+"/ui/admin/queues/api/queues/default:pause", nil)
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			if status, body := admin.do(req); status != want {
				t.Errorf("monitor POST with Origin %q = %d, want %d\n%.200s", origin, status, want, body)
			}
		}
	})
	t.Run("sign-in without token", func(t *testing.T) {
		v := f.browser("")
		if status, _ := v.postForm("/ui/signin", url.Values{"csrf": {""}, "token": {"tok-m"}}); status != http.StatusForbidden {
			t.Errorf("sign-in without CSRF token = %d, want 403", status)
		}
	})
	if len(f.queue.published) != 0 {
		t.Errorf("a refused POST published: %v", f.queue.published)
	}
}

// forge returns tok with its first character changed, so it is never equal to tok.
func forge(tok string) string {
	if strings.HasPrefix(tok, "x") {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}

func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprint("secure=", secure), func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.SecureCookies = secure })
			v := f.browser("")
			req, _ := http.NewRequest("POST", f.srv.URL+"/ui/signin", strings.NewReader(url.Values{"csrf": {v.csrf}, "token": {"tok-t1"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := v.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var ck *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == sessionCookie {
					ck = c
				}
			}
			if ck == nil {
				t.Fatalf("no session cookie after sign-in (%d)", resp.StatusCode)
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure || ck.Path != "/ui/" {
				t.Errorf("cookie = %+v, want HttpOnly, SameSite=Lax, Secure=%v, Path=/ui/", ck, secure)
			}
			if strings.Contains(ck.Value, "tok-t1") {
				t.Error("the session cookie shows the API token in clear")
			}
			// A changed cookie is no session.
			raw := []byte(ck.Value)
			raw[len(raw)/2] ^= 1
			if raw[len(raw)/2] == '\\' || raw[len(raw)/2] == ';' {
				raw[len(raw)/2] = 'A'
			}
			req, _ = http.NewRequest("GET", f.srv.URL+"/ui/lessons", nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: string(raw)})
			resp, err = (&http.Client{CheckRedirect: v.hc.CheckRedirect}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/signin") {
				t.Errorf("tampered cookie: %d %s, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

// TestLanguage checks the page language: the browser's most preferred UI language by q-value (a
// Russian browser gets Russian, a Kazakh one Kazakh), the default when it names none, and the picker,
// which names every language in itself and wins over the browser.
func TestLanguage(t *testing.T) {
	f := newFixture(t, nil)
	c := f.browser("t1")
	for _, tt := range []struct{ accept, lang, heading string }{
		{"fr-FR,fr;q=0.9,en;q=0.5", "fr", "Mes leçons"},
		{"en-GB", "en", "My lessons"},
		{"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru", "Мои уроки"},
		{"kk-KZ,kk;q=0.9,ru;q=0.8", "kk", "Менің сабақтарым"},
		{"de-DE,de;q=0.9,ru;q=0.8,fr;q=0.5", "ru", "Мои уроки"},
		{"en;q=0.3,kk;q=0.6", "kk", "Менің сабақтарым"},
		{"ru;q=0,en;q=0.5", "en", "My lessons"},
		{"de", "fr", "Mes leçons"},
	} {
		c.lang = tt.accept
		_, body := c.get("/ui/lessons")
		if !strings.Contains(body, "<h1>"+tt.heading) || !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
			t.Errorf("Accept-Language %q: want the page in %s:\n%.700s", tt.accept, tt.lang, body)
		}
		// The picker names each language in itself, the page's own marked current.
		for _, l := range []struct{ code, name string }{{"fr", "Français"}, {"en", "English"}, {"kk", "Қазақша"}, {"ru", "Русский"}} {
			current := ""
			if l.code == tt.lang {
				current = ` aria-current="true" disabled`
			}
			if want := `<button type="submit" name="lang" value="` + l.code + `" lang="` + l.code + `"` + current + `>` + l.name + `</button>`; !strings.Contains(body, want) {
				t.Errorf("Accept-Language %q: picker lacks %s", tt.accept, want)
			}
		}
	}
	// Lessons' languages are named in themselves too, not by code.
	c.lang = "ru"
	_, form := c.get("/ui/lessons/new")
	for _, want := range []string{`<option value="ru" lang="ru" selected>Русский</option>`, `<option value="kk" lang="kk">Қазақша</option>`, `<option value="fr" lang="fr">Français</option>`} {
		if !strings.Contains(form, want) {
			t.Errorf("upload form lacks %s", want)
		}
	}
	if _, page := c.get("/ui/lessons/1"); !strings.Contains(page, "Язык: Français") {
		t.Errorf("lesson page does not name the lesson's language:\n%.1500s", page)
	}
	// The picker wins over Accept-Language.
	c.lang = "en-GB"
	if status, _ := c.postForm("/ui/lang", url.Values{"lang": {"kk"}, "next": {"/ui/lessons"}}); status != http.StatusSeeOther {
		t.Fatalf("picker: %d", status)
	}
	if _, body := c.get("/ui/lessons"); !strings.Contains(body, "Менің сабақтарым") {
		t.Errorf("after picking Kazakh:\n%.500s", body)
	}
	// Every language has every key; the Kazakh and Russian texts are written in Cyrillic (an English
	// text left there is a forgotten translation), but for names that stay as they are.
	latinOnly := map[string]bool{"app": true, "db_ch_sms": true}
	cyrillic := regexp.MustCompile(`\p{Cyrillic}`)
	for _, lang := range uiLangs {
		for key := range messages["en"] {
			tr, ok := messages[lang][key]
			if !ok || tr == "" {
				t.Errorf("%s lacks %q", lang, key)
			}
			if (lang == "kk" || lang == "ru") && !latinOnly[key] && !cyrillic.MatchString(tr) {
				t.Errorf("%s: %q is not translated: %q", lang, key, tr)
			}
		}
	}
}

// TestPages checks what the pages show: an escaped hostile title, the digest with its segments and
// encoding, the player and worksheet links, delivery counts, failure reasons and import row errors.
func TestPages(t *testing.T) {
	f := newFixture(t, nil)
	teacher := f.browser("t1")
	_, body := teacher.get("/ui/lessons/1")
	for _, want := range []string{
		`<h1 lang="fr">&lt;script&gt;alert(1)&lt;/script&gt; Fractions</h1>`, // a French lesson on an English page
		`<span class="segments">2 segments</span>`, `<span class="encoding">UCS-2</span>`, "Leçon: les fractions",
		`<audio controls preload="none" src="/ui/lessons/1/renditions/lowband"`,
		`href="/ui/lessons/1/worksheet"`, "ready to publish",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("lesson page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, `id="publish"`) {
		t.Error("lesson page: unescaped title, or a publish button for a teacher")
	}
	if _, body := teacher.get("/ui/lessons/1/renditions/lowband"); body != "OggS fake opus" {
		t.Errorf("rendition through the UI = %q", body)
	}
	_, body = teacher.get("/ui/lessons/2")
	if !regexp.MustCompile(`<tr data-channel="sms"><th scope="row">sms</th>(<td[^>]*>\d+</td>){10}<td><strong>3</strong>`).MatchString(body) {
		t.Errorf("lesson 2 deliveries table:\n%s", body)
	}

	media := f.browser("m")
	_, body = media.get("/ui/lessons/2/deliveries")
	if !strings.Contains(body, "<td>sms</td><td>failed</td><td>invalid number (21211)</td><td>2</td>") {
		t.Errorf("dashboard lacks the failure reason with its count:\n%s", body)
	}
	_, body = media.get("/ui/publish")
	if !strings.Contains(body, `action="/ui/lessons/1/publish"`) || strings.Contains(body, `action="/ui/lessons/2/publish"`) {
		t.Errorf("publish list should offer lesson 1 only:\n%s", body)
	}
	csv := "external_ref,region,language,grades,profile,phone,email,postal_address,consent\nZ,IDF,fr,5,sms_only,+33612000099,,,yes\nY,IDF,fr,5,sms_only,12,,,yes\n"
	status, body := media.postMultipart("/ui/households/import", nil, map[string][]byte{"file": []byte(csv)})
	if status != 200 || !strings.Contains(body, "Imported: 1") || !strings.Contains(body, "Rejected: 1") ||
		!regexp.MustCompile(`<tr><td>3</td><td>[^<]+</td></tr>`).MatchString(body) {
		t.Errorf("import result %d:\n%s", status, body)
	}

	// The Markdown preview renders the text but not the HTML in it.
	req, _ := http.NewRequest("POST", f.srv.URL+"/ui/preview", strings.NewReader("# Titre\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n"))
	req.Header.Set("X-CSRF-Token", teacher.csrf)
	if status, body := teacher.do(req); status != 200 || !strings.Contains(body, "<h1>Titre</h1>") ||
		strings.Contains(body, "<script") || strings.Contains(body, "javascript:") {
		t.Errorf("preview %d:\n%s", status, body)
	}

	// A plain form upload (no JavaScript) that the API refuses shows its reason on the form.
	status, body = teacher.postMultipart("/ui/lessons", map[string]string{"title": "T", "subject": "s", "grade": "5",
		"language": "fr", "text": "- un"}, map[string][]byte{"media": []byte("just some text, not a video\n")})
	if status != 400 || !strings.Contains(body, "looks like text") || !strings.Contains(body, `role="alert"`) {
		t.Errorf("refused upload %d:\n%.600s", status, body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, nil)
	f.browser("t1")
	resp, err := http.Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`relais_deliveries{channel="sms",status="failed"} 2`,
		`relais_deliveries{channel="sms",status="delivered"} 1`,
		`relais_queue_tasks{queue="send",state="pending"} 7`,
		`relais_queue_tasks{queue="send",state="active"} 2`,
		`relais_http_requests_total{code="200",method="GET"}`,
		`relais_http_requests_total{code="303",method="POST"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if resp.StatusCode != 200 {
		t.Errorf("/metrics = %d", resp.StatusCode)
	}
}
