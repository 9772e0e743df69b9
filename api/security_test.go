package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/tokens"
)

// TestTokenRefusals: an expired, a revoked, an unknown and a rotated-away token are refused with 401
// saying why; a token of a role that may not is refused with 403.
func TestTokenRefusals(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	secrets := f.tokens
	mint := func(user string, role relais.Role, expires time.Time) (string, relais.APIToken) {
		secret := relais.NewTokenSecret()
		tok := relais.APIToken{Name: user, User: relais.User{ID: user, Role: role}, ExpiresAt: expires}
		if err := f.store.CreateToken(ctx, &tok, relais.HashToken(secret)); err != nil {
			t.Fatal(err)
		}
		secrets[user] = secret
		return secret, tok
	}
	mint("old", relais.RoleMedia, time.Now().Add(-time.Minute))
	_, gone := mint("gone", relais.RoleMedia, time.Time{})
	if _, err := f.store.RevokeToken(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	secrets["nobody"] = "rl_not-a-token"
	for _, tc := range []struct {
		user, path string
		status     int
		message    string
	}{
		{"old", "/api/v1/lessons", 401, "This API token expired on"},
		{"gone", "/api/v1/lessons", 401, "This API token was revoked on"},
		{"nobody", "/api/v1/lessons", 401, "Unknown API token."},
		{"t1", "/api/v1/households", 403, "The teacher role cannot do this."},
		{"m", "/api/v1/audit", 403, "The media role cannot do this."},
		{"a", "/api/v1/audit", 200, ""},
	} {
		status, body := f.do("GET", tc.path, tc.user, nil, "")
		if status != tc.status || !strings.HasPrefix(errMessage(body), tc.message) {
			t.Errorf("GET %s as %s = %d %q, want %d %q", tc.path, tc.user, status, errMessage(body), tc.status, tc.message)
		}
	}

	// Rotation: the old secret is refused at once, the new one works.
	fresh, tok := mint("ci", relais.RoleMedia, time.Time{})
	if status, _ := f.do("GET", "/api/v1/lessons", "ci", nil, ""); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	rotated, _, err := tokens.New(f.store, nil).Rotate(ctx, tok.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := f.do("GET", "/api/v1/lessons", "ci", nil, ""); status != 401 || errMessage(body) != "Unknown API token." {
		t.Errorf("old secret after rotation: %d %q", status, errMessage(body))
	}
	secrets["ci"] = rotated
	if status, _ := f.do("GET", "/api/v1/lessons", "ci", nil, ""); status != 200 || rotated == fresh {
		t.Errorf("new secret: %d", status)
	}
}

// TestAuditEntries: each kind of change made through the API is written with its actor, role, target
// and address; a refused change is not; admins read the log by page and filter, and export it.
func TestAuditEntries(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	js := "application/json"
	lesson := func() string {
		l := relais.Lesson{Title: "T", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
		f.store.CreateLesson(ctx, &l)
		f.store.SetLessonDuration(ctx, l.ID, 20*time.Minute)
		f.store.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil)
		return fmt.Sprint(l.ID)
	}
	a, b := lesson(), lesson()
	steps := []struct {
		method, path, user, body string
		status                   int
	}{
		{"POST", "/api/v1/lessons/" + a + "/submit", "t1", "", 200},
		{"POST", "/api/v1/lessons/" + a + "/approve", "m", "", 200},
		{"POST", "/api/v1/lessons/" + b + "/submit", "t1", "", 200},
		{"POST", "/api/v1/lessons/" + b + "/reject", "m", `{"reason":"sound too low"}`, 200},
		{"POST", "/api/v1/lessons/" + a + "/publish", "m", "", 202},
		{"POST", "/api/v1/lessons/999/publish", "m", "", 404}, // refused: not written
		{"POST", "/api/v1/households/import", "a", "external_ref,language,grades,profile,phone\nH1,fr,5,sms_only,+33612345678\n", 200},
		{"POST", "/api/v1/stations", "a", `{"name":"Balapan","kind":"tv","time_zone":"Asia/Almaty"}`, 201},
		{"PATCH", "/api/v1/stations/1", "a", `{"region":"Almaty"}`, 200},
		{"DELETE", "/api/v1/stations/1", "a", "", 200},
	}
	for _, st := range steps {
		ct := js
		if strings.Contains(st.path, "import") {
			ct = "text/csv"
		}
		if status, body := f.do(st.method, st.path, st.user, strings.NewReader(st.body), ct); status != st.status {
			t.Fatalf("%s %s as %s = %d %v, want %d", st.method, st.path, st.user, status, body, st.status)
		}
	}
	type row struct{ Actor, Role, Action, Target, Address string }
	want := []row{
		{"a", "admin", "delete", "station 1", "127.0.0.1"},
		{"a", "admin", "edit", "station 1", "127.0.0.1"},
		{"a", "admin", "create", "station", "127.0.0.1"},
		{"a", "admin", "import", "households", "127.0.0.1"},
		{"m", "media", "publish", "lesson " + a, "127.0.0.1"},
		{"m", "media", "reject", "lesson " + b, "127.0.0.1"},
		{"t1", "teacher", "submit", "lesson " + b, "127.0.0.1"},
		{"m", "media", "approve", "lesson " + a, "127.0.0.1"},
		{"t1", "teacher", "submit", "lesson " + a, "127.0.0.1"},
	}
	list := func(query string) ([]row, any) {
		t.Helper()
		status, body := f.do("GET", "/api/v1/audit"+query, "a", nil, "")
		if status != 200 {
			t.Fatalf("audit%s = %d %v", query, status, body)
		}
		var out []row
		items, _ := body["items"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			out = append(out, row{m["actor"].(string), m["role"].(string), m["action"].(string), m["target"].(string), m["address"].(string)})
			if at, err := time.Parse(time.RFC3339, m["at"].(string)); err != nil || time.Since(at) > time.Minute {
				t.Errorf("entry time %v (%v)", m["at"], err)
			}
		}
		return out, body["next_after"]
	}
	got, _ := list("")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("audit log (-want +got):\n%s", diff)
	}
	if got, _ := list("?actor=m&action=approve"); !cmp.Equal(want[7:8], got) {
		t.Errorf("filtered by actor and action: %v", got)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if got, _ := list("?since=" + today + "&until=" + today); len(got) != len(want) {
		t.Errorf("today's entries: %d, want %d", len(got), len(want))
	}
	if got, _ := list("?until=2000-01-01"); len(got) != 0 {
		t.Errorf("entries before 2000: %v", got)
	}
	page, next := list("?limit=4")
	if !cmp.Equal(want[:4], page) || next == nil {
		t.Fatalf("first page: %v, next %v", page, next)
	}
	if page, _ := list(fmt.Sprintf("?limit=4&after=%v", next)); !cmp.Equal(want[4:8], page) {
		t.Errorf("second page: %v", page)
	}
	if status, body := f.do("GET", "/api/v1/audit?action=steal", "a", nil, ""); status != 400 {
		t.Errorf("unknown action: %d %v", status, body)
	}

	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/audit/export?actor=a", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["a"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("export: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	if len(recs) != 5 || strings.Join(recs[0], ",") != "id,at,actor,role,action,target,address" ||
		strings.Join(recs[1][2:], ",") != "a,admin,delete,station 1,127.0.0.1" {
		t.Errorf("export: %q", recs)
	}
}

// TestSecurityHeaders: every response carries the security headers; the family page's policy allows
// its one inline style by hash and nothing else inline; HSTS only when configured.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "T", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "- un\n"}
	f.store.CreateLesson(ctx, &l)
	hs := []relais.Household{{ExternalRef: "A", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000001", Consent: true}}
	f.store.UpsertHouseholds(ctx, hs)
	page := "/l/" + f.signer.Token(l.ID, hs[0].ID)
	get := func(base, path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, path := range []string{page, "/livez", "/api/v1/lessons", "/nowhere"} {
		resp, _ := get(f.srv.URL, path)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("%s: HSTS %q over plain http", path, hsts)
		}
	}
	resp, body := get(f.srv.URL, page)
	if resp.StatusCode != 200 {
		t.Fatalf("family page: %d", resp.StatusCode)
	}
	styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(body, -1)
	if len(styles) != 1 || strings.Contains(body, "<script") || strings.Contains(body, " style=") {
		t.Fatalf("the family page should have one <style> and nothing else inline: %d styles", len(styles))
	}
	sum := sha256.Sum256([]byte(styles[0][1]))
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(resp.Header.Get("Content-Security-Policy"), hash) {
		t.Errorf("family page CSP %q lacks its style's hash %s: update familyCSP", resp.Header.Get("Content-Security-Policy"), hash)
	}

	hsts := newFixture(t, func(c *Config) { c.HSTS = true })
	if resp, _ := get(hsts.srv.URL, "/livez"); resp.Header.Get("Strict-Transport-Security") != "max-age=63072000" {
		t.Errorf("HSTS configured: %q", resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestEveryChangeIsAudited: every API route that changes something is audited, but for the tus
// requests of resumable uploads (the lesson is made by POST /api/v1/lessons); every audited pattern is
// a route.
func TestEveryChangeIsAudited(t *testing.T) {
	s := New(nil, nil, nil, nil, DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	routes := map[string]bool{}
	for _, r := range s.apiRoutes() {
		routes[r.pattern] = true
		method, path, _ := strings.Cut(r.pattern, " ")
		if _, ok := audited[r.pattern]; !ok && method != "GET" && method != "HEAD" && !strings.HasPrefix(path, "/api/v1/uploads") {
			t.Errorf("%s changes something and is not audited: add it to audited", r.pattern)
		}
	}
	for p := range audited {
		if !routes[p] {
			t.Errorf("audited names %s, which is no route", p)
		}
	}
}
