package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/internal/testenv"
)

const (
	e2eSID   = "AC0000000000000000000000000000e2e0"
	e2eToken = "e2etoken0000000000000000000000e2e"
)

// rig is a running Relais with its SMTP server and Twilio sandbox, and API tokens per role.
type rig struct {
	t        *testing.T
	app      *app
	sandbox  *sandbox.Server
	mailpit  string
	teacher  string
	teacher2 string
	media    string
	logs     *logBuffer // everything the process logged, debug included
}

// logBuffer keeps a process's log output for a test to search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newRig(t *testing.T, rules []sandbox.Rule, edits ...func(*Config)) *rig {
	t.Helper()
	ctx := context.Background()
	redisAddr, db := testenv.Redis(t)
	smtpAddr, mailpitURL := testenv.SMTP(t)
	// Each rig starts with an empty mailbox: the SMTP server is the test process's.
	req, _ := http.NewRequest(http.MethodDelete, mailpitURL+"/api/v1/messages", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emptying mailpit: %s", resp.Status)
	}
	sb := sandbox.New(sandbox.Config{AccountSID: e2eSID, AuthToken: e2eToken, Rules: rules, StepDelay: 5 * time.Millisecond})
	sbURL, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Shutdown(context.Background()) })

	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.RedisAddr, cfg.RedisDB = redisAddr, db
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.QuietHours, cfg.QuietDays = "off", "" // queue tests cover quiet hours with a fixed clock
	host, port, _ := strings.Cut(smtpAddr, ":")
	cfg.SMTPHost, cfg.SMTPTLS, cfg.EmailFrom = host, "none", "Relais <lecons@relais.example>"
	fmt.Sscan(port, &cfg.SMTPPort)
	cfg.TwilioAccountSID, cfg.TwilioAuthToken, cfg.TwilioAPIURL, cfg.SMSFrom = e2eSID, e2eToken, sbURL, "Relais"
	for _, edit := range edits {
		edit(&cfg)
	}
	cfg.resolve()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Warnings and errors go to the test's output; everything, debug included, to logs to be searched.
	logs := &logBuffer{}
	log := slog.New(slog.NewMultiHandler(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}),
		slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	a, err := start(ctx, cfg, parts{api: true, worker: true, mediaExe: os.Args[0]}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	r := &rig{t: t, app: a, sandbox: sb, mailpit: mailpitURL, logs: logs}
	for _, u := range []struct {
		tok  *string
		user relais.User
	}{
		{&r.teacher, relais.User{ID: "t.one", Name: "T One", Role: relais.RoleTeacher}},
		{&r.teacher2, relais.User{ID: "t.two", Name: "T Two", Role: relais.RoleTeacher}},
		{&r.media, relais.User{ID: "media", Name: "Media unit", Role: relais.RoleMedia}},
	} {
		if *u.tok, err = newToken(ctx, a.store, u.user); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// forEachStore runs test on each store engine, as subtests named after them; test passes db to newRig,
// which then runs on that engine: SQLite in the data directory, or a new database of the PostgreSQL
// test cluster.
func forEachStore(t *testing.T, test func(t *testing.T, db func(*Config))) {
	t.Run("sqlite", func(t *testing.T) { test(t, func(*Config) {}) })
	t.Run("postgres", func(t *testing.T) {
		url := testenv.Postgres(t)
		test(t, func(c *Config) { c.DatabaseURL = url })
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// do makes an API call and returns the status and body.
func (r *rig) do(method, path, token string, body io.Reader, contentType string) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.app.URL()+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// call makes an API call that must answer want, decoding the body into out.
func (r *rig) call(method, path, token string, body io.Reader, contentType string, want int, out any) {
	r.t.Helper()
	status, b := r.do(method, path, token, body, contentType)
	if status != want {
		r.t.Fatalf("%s %s = %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			r.t.Fatalf("%s %s: decode: %v: %s", method, path, err, b)
		}
	}
}

// makeVideo writes a short video with a tone, made by the ffmpeg CLI.
func makeVideo(t *testing.T, seconds int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lesson.mp4")
	n := fmt.Sprint(seconds)
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration="+n,
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration="+n,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return path
}

// upload posts a lesson as multipart; fields may include "text".
func (r *rig) upload(token string, fields map[string]string, mediaName string, media []byte) (int, []byte) {
	r.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if media != nil {
		fw, _ := mw.CreateFormFile("media", mediaName)
		fw.Write(media)
	}
	mw.Close()
	return r.do("POST", "/api/v1/lessons", token, &buf, mw.FormDataContentType())
}

func (r *rig) waitLesson(id int64, want relais.LessonStatus, timeout time.Duration) api.Lesson {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var l api.Lesson
		r.call("GET", fmt.Sprintf("/api/v1/lessons/%d", id), r.media, nil, "", 200, &l)
		if l.Status == want {
			return l
		}
		if l.Status == relais.LessonFailed || l.Status == relais.LessonRejected || time.Now().After(deadline) {
			r.t.Fatalf("lesson %d is %s (%s) at step %s %d%%, want %s", id, l.Status, l.StatusReason, l.Progress.Step, l.Progress.Percent, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const e2eMarkdown = "# Les fractions\n\n- Une fraction est une partie d'un tout.\n- 1/4 se lit un quart.\n\n## Exercices\n\n1. Coloriez 1/4 d'un carré.\n"

// TestEndToEnd runs one lesson through upload, probe, renditions, digests, worksheet, fan-out and every
// channel, and checks what the SMTP server and the Twilio sandbox actually received.
func TestEndToEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, db func(*Config)) {
		const invalidNumber = "+33612000009" // the sandbox answers 21211 for it, as Twilio does for a bad To
		r := newRig(t, []sandbox.Rule{{To: invalidNumber, HTTPStatus: 400, ErrorCode: 21211}}, db)

		// Authorization: no token, a wrong token, a teacher on a media route.
		if status, _ := r.do("GET", "/api/v1/lessons", "", nil, ""); status != http.StatusUnauthorized {
			t.Errorf("no token: %d, want 401", status)
		}
		if status, _ := r.do("GET", "/api/v1/lessons", "rl_wrong", nil, ""); status != http.StatusUnauthorized {
			t.Errorf("wrong token: %d, want 401", status)
		}
		if status, _ := r.do("POST", "/api/v1/households/import", r.teacher, strings.NewReader("x"), "text/csv"); status != http.StatusForbidden {
			t.Errorf("teacher importing households: %d, want 403", status)
		}

		csv := strings.Join([]string{
			"external_ref,region,language,grades,profile,phone,email,postal_address,consent,pupils",
			"A,IDF,fr,5,broadband,,a@e2e.example,,yes,",
			// B, E and F speak English, Kazakh and Russian at home; their pupils are taught in French.
			"B,IDF,en,,mobile_data,+33612000002,b@e2e.example,,yes,5:fr",
			"C,IDF,fr,5,sms_only,+33612000003,,,yes,",
			"D,IDF,fr,3;5,sms_only,+33612000003,,,yes,", // shares C's phone: one SMS for both
			"E,IDF,kk,,broadcast_only,+77012000005,,,yes,5:fr",
			"F,IDF,ru,,offline,,,\"Семья Абеновых\\nул. Абая 1\\n050000 Алматы\",yes,5:fr:S1:S1-5A;7:ru",
			"G,IDF,fr,5,sms_only,+33612000007,,,yes,", // says STOP before the lesson goes out
			"H,IDF,fr,5,sms_only,+33612000008,,,no,",  // no consent
			"I,IDF,fr,3,sms_only,+33612000010,,,yes,", // another grade: not targeted
			"J,IDF,fr,5,sms_only," + invalidNumber + ",,,yes,",
			"K,IDF,fr,5,sms_only,12,,,yes,", // a bad row: refused, the rest kept
		}, "\n")
		var imp api.ImportResult
		r.call("POST", "/api/v1/households/import", r.media, strings.NewReader(csv), "text/csv", 200, &imp)
		if imp.Imported != 10 || imp.Rejected != 1 || imp.Errors[0].Row != 12 {
			t.Fatalf("import = %+v", imp)
		}
		var hs struct{ Items []api.Household }
		r.call("GET", "/api/v1/households?limit=100", r.media, nil, "", 200, &hs)
		byRef := map[string]api.Household{}
		for _, h := range hs.Items {
			byRef[h.ExternalRef] = h
		}
		if err := r.app.store.SetSMSOptOut(context.Background(), "+33612000007", true); err != nil {
			t.Fatal(err)
		}

		// Upload refusals come back at once with a reason the teacher can act on.
		if status, body := r.upload(r.teacher, map[string]string{"title": "x", "subject": "maths", "grade": "5", "language": "fr", "text": "t"},
			"notes.mp4", []byte("Bonjour, voici mes notes de cours.\n")); status != 400 || !strings.Contains(string(body), "looks like text") {
			t.Errorf("text renamed .mp4: %d %s", status, body)
		}
		if status, body := r.upload(r.teacher, map[string]string{"title": "a\u202eb", "subject": "maths", "grade": "5", "language": "fr", "text": "t"},
			"v.mp4", []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p'}); status != 400 || !strings.Contains(string(body), "control character") {
			t.Errorf("bidi override in title: %d %s", status, body)
		}

		// A refusal of the media worker (the probe, in its child process) is kept in French too, and the API
		// answers with it in the reader's language.
		noise := make([]byte, 64<<10)
		rand.New(rand.NewSource(1)).Read(noise)
		status, body := r.upload(r.teacher, map[string]string{"title": "Bruit", "subject": "maths", "grade": "5", "language": "fr", "text": "t"},
			"noise.mp4", noise)
		if status != http.StatusCreated {
			t.Fatalf("upload of noise: %d %s", status, body)
		}
		var refused api.Lesson
		json.Unmarshal(body, &refused)
		reasonIn := func(lang string) api.Lesson {
			t.Helper()
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/lessons/%d", r.app.URL(), refused.ID), nil)
			req.Header.Set("Authorization", "Bearer "+r.teacher)
			req.Header.Set("Accept-Language", lang)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var l api.Lesson
			if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET lesson %d in %s: %d %v", refused.ID, lang, resp.StatusCode, err)
			}
			return l
		}
		for deadline := time.Now().Add(time.Minute); refused.Status != relais.LessonRejected; time.Sleep(100 * time.Millisecond) {
			if refused = reasonIn("fr"); time.Now().After(deadline) || refused.Status == relais.LessonReady {
				t.Fatalf("noise upload is %s (%s), want rejected", refused.Status, refused.StatusReason)
			}
		}
		if want := "Ce n'est pas un fichier vidéo ou audio que nous savons lire."; refused.StatusReason != want {
			t.Errorf("French status_reason %q, want %q", refused.StatusReason, want)
		}
		if got, want := reasonIn("en").StatusReason, "This is not a video or audio file we can read."; got != want {
			t.Errorf("English status_reason %q, want %q", got, want)
		}

		hostile := `<script>alert("x")</script> Les fractions`
		video, err := os.ReadFile(makeVideo(t, 3))
		if err != nil {
			t.Fatal(err)
		}
		status, body = r.upload(r.teacher, map[string]string{"title": hostile, "subject": "maths", "grade": "5",
			"language": "fr", "text": e2eMarkdown}, "lesson.mp4", video)
		if status != http.StatusCreated {
			t.Fatalf("upload: %d %s", status, body)
		}
		var l api.Lesson
		json.Unmarshal(body, &l)

		// Another teacher cannot see it; a teacher cannot publish.
		if status, _ := r.do("GET", fmt.Sprintf("/api/v1/lessons/%d", l.ID), r.teacher2, nil, ""); status != http.StatusNotFound {
			t.Errorf("other teacher reading the lesson: %d, want 404", status)
		}
		l = r.waitLesson(l.ID, relais.LessonReady, 3*time.Minute)
		if len(l.Renditions) != 3 || len(l.Digests) != 4 || l.Worksheet == nil || !l.Worksheet.Generated {
			t.Fatalf("ready lesson lacks products: %+v", l)
		}
		for _, rd := range l.Renditions {
			if rd.DurationSeconds < 2.9 || rd.DurationSeconds > 3.1 || rd.Bytes == 0 {
				t.Errorf("%s rendition: %.2f s, %d bytes", rd.Kind, rd.DurationSeconds, rd.Bytes)
			}
		}
		if status, _ := r.do("POST", fmt.Sprintf("/api/v1/lessons/%d/publish", l.ID), r.teacher, nil, ""); status != http.StatusForbidden {
			t.Errorf("teacher publishing: %d, want 403", status)
		}
		r.call("POST", fmt.Sprintf("/api/v1/lessons/%d/publish", l.ID), r.media, nil, "", http.StatusAccepted, nil)

		// Wait until nothing moves any more.
		type outcome struct {
			Channel relais.ChannelName
			Status  relais.DeliveryStatus
		}
		var got map[string][]outcome
		var ds struct{ Items []api.Delivery }
		deadline := time.Now().Add(time.Minute)
		for {
			r.call("GET", fmt.Sprintf("/api/v1/deliveries?lesson_id=%d&limit=100", l.ID), r.media, nil, "", 200, &ds)
			moving := len(ds.Items) == 0
			got = map[string][]outcome{}
			for _, d := range ds.Items {
				if inFlight(d.Channel, d.Status) {
					moving = true
				}
				for ref, h := range byRef {
					if h.ID == d.HouseholdID {
						got[ref] = append(got[ref], outcome{d.Channel, d.Status})
					}
				}
			}
			if !moving {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deliveries still moving: %+v", ds.Items)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// C and D share a phone: whichever goes first is delivered, the other skipped.
		cd := append(got["C"], got["D"]...)
		delete(got, "C")
		delete(got, "D")
		want := map[string][]outcome{
			"A": {{"email", "sent"}},
			"B": {{"email", "sent"}, {"sms", "delivered"}},
			"E": {{"sms", "delivered"}},
			"F": {{"postal", "queued"}},
			"G": {{"sms", "skipped"}},
			"H": {{"sms", "skipped"}},
			"J": {{"sms", "failed"}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("deliveries per household (-want +got):\n%s", diff)
		}
		sort.Slice(cd, func(i, j int) bool { return cd[i].Status < cd[j].Status })
		if diff := cmp.Diff([]outcome{{"sms", "delivered"}, {"sms", "skipped"}}, cd); diff != "" {
			t.Errorf("shared phone C/D (-want +got):\n%s", diff)
		}

		// What the sandbox received: one message per reachable number, none to G, H, I.
		received := map[string]int{}
		for _, m := range r.sandbox.Messages() {
			received[m.To]++
			if m.Sid != "" && !strings.Contains(m.StatusCallback, "/webhooks/sms/status?delivery_id=") {
				t.Errorf("status callback %q lacks the delivery id", m.StatusCallback)
			}
		}
		wantTo := map[string]int{"+33612000002": 1, "+33612000003": 1, "+77012000005": 1, invalidNumber: 1}
		if diff := cmp.Diff(wantTo, received); diff != "" {
			t.Errorf("sandbox received (-want +got):\n%s", diff)
		}
		if j := r.household(byRef["J"].ID); j.PhoneStatus != relais.ContactInvalid {
			t.Errorf("J's phone after 21211: status %q, want invalid", j.PhoneStatus)
		}

		// What the SMTP server received: A and B, with the worksheet and one-click unsubscribe.
		msgA := r.mailTo("a@e2e.example")
		r.mailTo("b@e2e.example")
		if msgA.Subject == "" || !strings.Contains(msgA.Subject, "Les fractions") {
			t.Errorf("subject %q", msgA.Subject)
		}
		if len(msgA.Attachments) != 1 || msgA.Attachments[0].ContentType != "application/pdf" {
			t.Errorf("attachments = %+v, want one application/pdf", msgA.Attachments)
		}
		headers := r.mailHeaders(msgA.ID)
		unsub := strings.Trim(first(headers["List-Unsubscribe"]), "<>")
		if !strings.HasPrefix(unsub, r.app.URL()+"/u/") {
			t.Fatalf("List-Unsubscribe = %q", unsub)
		}

		// The family page from the email link: the hostile title is escaped, the page is small.
		link := regexp.MustCompile(regexp.QuoteMeta(r.app.URL()) + `/l/[A-Za-z0-9_-]+`).FindString(msgA.Text)
		if link == "" {
			t.Fatalf("no lesson link in the email text:\n%s", msgA.Text)
		}
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(page), "<script>") || !strings.Contains(string(page), "&lt;script&gt;") {
			t.Errorf("lesson page %d:\n%s", resp.StatusCode, page)
		}
		if len(page) > 100<<10 {
			t.Errorf("lesson page is %d bytes", len(page))
		}
		if resp, err := http.Get(link + "x"); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("tampered link: %v %v", resp.StatusCode, err)
		}
		// Both links are opaque: neither the address nor the household id, in clear or in base64 (the old
		// unsubscribe token was base64 of "ID:address"). Sealed bytes may hold any byte, ':' and '@'
		// included, so what is looked for is the address and the old shape, not single characters.
		for _, l := range []string{unsub, link} {
			tok := l[strings.LastIndex(l, "/")+1:]
			raw, _ := base64.RawURLEncoding.DecodeString(tok)
			if strings.Contains(l, "e2e.example") || strings.Contains(string(raw), "e2e.example") ||
				regexp.MustCompile(`^[0-9]+:`).Match(raw) {
				t.Errorf("family link %s carries the address or a readable id", l)
			}
		}

		// One-click unsubscribe (RFC 8058) records the opt-out.
		resp, err = http.PostForm(unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("unsubscribe: %v %v", resp, err)
		}
		if a := r.household(byRef["A"].ID); !a.EmailOptOut {
			t.Error("A is not opted out of email after one-click unsubscribe")
		}

		// Erasure: B (SMS and email sent) and F (a postal packet queued, a name in the address) leave no
		// phone, email, address line or name in what the process logged through the import, the
		// sends, the callbacks and the erasure, debug lines included.
		for _, ref := range []string{"B", "F"} {
			r.call("DELETE", fmt.Sprintf("/api/v1/households/%d", byRef[ref].ID), r.media, nil, "", http.StatusNoContent, nil)
		}
		logged := r.logs.String()
		if !strings.Contains(logged, "/api/v1/households/import") || !strings.Contains(logged, fmt.Sprintf("/api/v1/households/%d", byRef["F"].ID)) {
			t.Fatalf("the captured logs lack the import and erasure requests: they are not what the process logged:\n%s", logged)
		}
		for _, secret := range []string{"+33612000002", "33612000002", "612000002", "b@e2e.example", "Семья Абеновых", "Абеновых",
			"ул. Абая 1", "050000 Алматы"} {
			if strings.Contains(logged, secret) {
				i := strings.Index(logged, secret)
				t.Errorf("the logs hold %q of an erased family: ...%s...", secret, logged[max(0, i-200):min(len(logged), i+100)])
			}
		}
	})
}

func (r *rig) household(id int64) api.Household {
	r.t.Helper()
	var hs struct{ Items []api.Household }
	r.call("GET", fmt.Sprintf("/api/v1/households?after=%d&limit=1", id-1), r.media, nil, "", 200, &hs)
	if len(hs.Items) != 1 || hs.Items[0].ID != id {
		r.t.Fatalf("household %d not found", id)
	}
	return hs.Items[0]
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

type mailMessage struct {
	ID          string
	Subject     string
	Text        string
	Attachments []struct{ ContentType, FileName string }
}

// mailTo returns the one message mailpit holds for addr.
func (r *rig) mailTo(addr string) mailMessage {
	r.t.Helper()
	var list struct {
		Messages []struct{ ID string }
	}
	r.mailpitGet("/api/v1/search?query="+url.QueryEscape("to:"+addr), &list)
	if len(list.Messages) != 1 {
		r.t.Fatalf("mailpit holds %d messages to %s, want 1", len(list.Messages), addr)
	}
	var m mailMessage
	r.mailpitGet("/api/v1/message/"+list.Messages[0].ID, &m)
	return m
}

func (r *rig) mailHeaders(id string) map[string][]string {
	var h map[string][]string
	r.mailpitGet("/api/v1/message/"+id+"/headers", &h)
	return h
}

func (r *rig) mailpitGet(path string, out any) {
	r.t.Helper()
	resp, err := http.Get(r.mailpit + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		r.t.Fatalf("mailpit %s: %v", path, err)
	}
}

// TestLessonUploadCommand drives `relais lesson upload` against a running server, as a teacher would.
func TestLessonUploadCommand(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where the command remembers unfinished uploads
	r := newRig(t, nil)
	dir := t.TempDir()
	md := filepath.Join(dir, "lesson.md")
	os.WriteFile(md, []byte(e2eMarkdown), 0o600)
	run1 := func(args ...string) (string, error) {
		out, errOut, err := runCLI(map[string]string{"RELAIS_SERVER": r.app.URL(), "RELAIS_TOKEN": r.teacher}, args...)
		return out + errOut, err
	}
	out, err := run1("lesson", "upload", makeVideo(t, 2), "--text", md, "--title", "Fractions", "--subject", "maths",
		"--grade", "5", "--language", "fr")
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	for _, want := range []string{"Uploading 100 %", "uploaded.", "Rendering", "is ready: 3 renditions, 4 digests, worksheet true."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	notes := filepath.Join(dir, "notes.mp4")
	os.WriteFile(notes, []byte("Bonjour, ceci est du texte.\n"), 0o600)
	out, err = run1("lesson", "upload", notes, "--text", md, "--title", "x", "--subject", "maths", "--grade", "5", "--language", "fr")
	if err != exitError(1) || !strings.Contains(out, "Upload refused: This is not a video or audio file (it looks like text).") {
		t.Errorf("text renamed .mp4: err %v\n%s", err, out)
	}
	out, err = run1("lesson", "upload", notes, "--text", md)
	if err != exitError(2) || !strings.Contains(out, "missing --grade, --language, --subject, --title") {
		t.Errorf("missing flags: err %v\n%s", err, out)
	}
}

// TestScheduledLessonTellsFamiliesWhenItAirs schedules a lesson on a station, publishes it, and checks
// that the SMS the sandbox received says where and when (station local time) it airs.
func TestScheduledLessonTellsFamiliesWhenItAirs(t *testing.T) {
	forEachStore(t, func(t *testing.T, db func(*Config)) {
		// The slot starts in 3 to 4 minutes; a lead of 10 minutes sends the reminder as soon as the lesson
		// is published.
		// RELAIS_SMS_RATE reaches the API's publishing plan too (checked before publishing).
		r := newRig(t, nil, db, func(c *Config) { c.ReminderLead, c.SMSRate = 10*time.Minute, 40 })
		csv := "external_ref,region,language,grades,profile,phone\nS1,Almaty,fr,5,sms_only,+77012000101\n"
		r.call("POST", "/api/v1/households/import", r.media, strings.NewReader(csv), "text/csv", 200, nil)
		video, err := os.ReadFile(makeVideo(t, 2))
		if err != nil {
			t.Fatal(err)
		}
		status, body := r.upload(r.teacher, map[string]string{"title": "Les fractions", "subject": "maths", "grade": "5",
			"language": "fr", "text": e2eMarkdown}, "lesson.mp4", video)
		if status != http.StatusCreated {
			t.Fatalf("upload: %d %s", status, body)
		}
		var l api.Lesson
		json.Unmarshal(body, &l)
		r.waitLesson(l.ID, relais.LessonReady, 3*time.Minute)
		r.call("POST", fmt.Sprintf("/api/v1/lessons/%d/submit", l.ID), r.teacher, nil, "", 200, nil)
		r.call("POST", fmt.Sprintf("/api/v1/lessons/%d/approve", l.ID), r.media, nil, "", 200, nil)

		var st struct{ ID int64 }
		r.call("POST", "/api/v1/stations", r.media, strings.NewReader(`{"name":"Balapan","kind":"tv","region":"Almaty","time_zone":"Asia/Almaty"}`),
			"application/json", http.StatusCreated, &st)
		almaty, _ := time.LoadLocation("Asia/Almaty")
		start := time.Now().In(almaty).Truncate(time.Minute).Add(4 * time.Minute)
		var slot struct{ ID int64 }
		r.call("POST", fmt.Sprintf("/api/v1/stations/%d/slots", st.ID), r.media,
			strings.NewReader(fmt.Sprintf(`{"day":%q,"start":%q,"minutes":30,"grade":5,"subject":"maths","language":"fr"}`,
				start.Format(time.DateOnly), start.Format("15:04"))),
			"application/json", http.StatusCreated, &slot)
		r.call("PUT", fmt.Sprintf("/api/v1/slots/%d/lesson", slot.ID), r.media, strings.NewReader(fmt.Sprintf(`{"lesson_id":%d}`, l.ID)),
			"application/json", 200, nil)

		var plan struct {
			Estimates map[string]struct {
				Segments int64
				Seconds  float64
			}
		}
		r.call("GET", fmt.Sprintf("/api/v1/lessons/%d/plan", l.ID), r.media, nil, "", 200, &plan)
		if e := plan.Estimates["sms"]; e.Segments == 0 || math.Abs(e.Seconds*40-float64(e.Segments)) > 0.01 {
			t.Errorf("the plan sends %d SMS segments in %g s, want at the configured 40 segments/s", e.Segments, e.Seconds)
		}

		r.call("POST", fmt.Sprintf("/api/v1/lessons/%d/publish", l.ID), r.media, nil, "", http.StatusAccepted, nil)
		// The digest, and the reminder (due at once: the airing is inside the lead), once each.
		deadline := time.Now().Add(time.Minute)
		for len(r.sandbox.Messages()) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the sandbox received %d messages, want the digest and a reminder", len(r.sandbox.Messages()))
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // a duplicate would have arrived by now
		msgs := r.sandbox.Messages()
		if len(msgs) != 2 {
			t.Fatalf("the sandbox received %d messages, want 2", len(msgs))
		}
		digest, reminder := msgs[0].Body, msgs[1].Body
		if strings.HasPrefix(digest, "Rappel") {
			digest, reminder = reminder, digest
		}
		at := start.Format("15:04")
		if !strings.Contains(digest, "Balapan") || !strings.Contains(digest, at) {
			t.Errorf("the digest does not say where and when the lesson airs:\n%s", digest)
		}
		if !strings.HasPrefix(reminder, `Rappel : "Les fractions" passe `) || !strings.Contains(reminder, "à "+at+" sur Balapan.") {
			t.Errorf("reminder = %q", reminder)
		}
	})
}
