package ui

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

var secretShown = regexp.MustCompile(`<code id="token-secret-value">(rl_[A-Za-z0-9_-]+)</code>`)

// signInWith signs a new browser in with secret and returns it and the sign-in's status.
func (f *fixture) signInWith(secret string) (*client, int, string) {
	c := f.browser("")
	status, body := c.postForm("/ui/signin", url.Values{"token": {secret}, "next": {"/ui/lessons"}})
	return c, status, body
}

// TestTokenAdminPage: the admin makes a token (its secret shown once, never listed), rotates it (the
// old secret stops at once) and revokes it (a session on it ends); each change is in the audit log.
func TestTokenAdminPage(t *testing.T) {
	f := newFixture(t, nil)
	admin := f.browser("a")
	status, body := admin.postForm("/ui/admin/tokens", url.Values{"user": {"script"}, "role": {"media"}, "name": {"nightly import"}, "days": {"30"}})
	m := secretShown.FindStringSubmatch(body)
	if status != http.StatusCreated || m == nil {
		t.Fatalf("create: %d, secret shown: %v\n%.600s", status, m != nil, body)
	}
	first := m[1]
	status, list := admin.get("/ui/admin/tokens")
	if status != 200 || strings.Contains(list, first) || !strings.Contains(list, "nightly import") {
		t.Fatalf("listing: %d, shows the secret: %v", status, strings.Contains(list, first))
	}
	row := regexp.MustCompile(`<tr id="token-(\d+)" data-token-id="\d+" data-state="active">\s*<th scope="row">\d+</th><td>nightly import</td><td>script</td>`).FindStringSubmatch(list)
	if row == nil {
		t.Fatalf("no active row for the new token:\n%s", list)
	}
	id := row[1]

	script, status, _ := f.signInWith(first)
	if status != http.StatusSeeOther {
		t.Fatalf("sign in with the new token: %d", status)
	}
	if status, _ := script.get("/ui/dashboard"); status != 200 {
		t.Errorf("media token on the dashboard: %d", status)
	}
	if status, _ := script.get("/ui/admin/tokens"); status != http.StatusForbidden {
		t.Errorf("media token on the tokens page: %d, want 403", status)
	}

	status, body = admin.postForm("/ui/admin/tokens/"+id+"/rotate", nil)
	m = secretShown.FindStringSubmatch(body)
	if status != 200 || m == nil || m[1] == first {
		t.Fatalf("rotate: %d, new secret shown: %v", status, m != nil)
	}
	second := m[1]
	if status, _ := script.get("/ui/dashboard"); status != http.StatusSeeOther {
		t.Errorf("a session on the rotated-away secret: %d, want a redirect to sign in", status)
	}
	if _, status, body := f.signInWith(first); status != http.StatusUnauthorized {
		t.Errorf("sign in with the old secret: %d\n%.300s", status, body)
	}
	script, status, _ = f.signInWith(second)
	if status != http.StatusSeeOther {
		t.Fatalf("sign in with the rotated secret: %d", status)
	}

	if status, _ := admin.postForm("/ui/admin/tokens/"+id+"/revoke", nil); status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := script.get("/ui/dashboard"); status != http.StatusSeeOther {
		t.Errorf("a session on a revoked token: %d, want a redirect to sign in", status)
	}
	if _, status, body := f.signInWith(second); status != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("sign in with a revoked token: %d, says revoked: %v", status, strings.Contains(body, "revoked"))
	}
	if _, list := admin.get("/ui/admin/tokens"); !strings.Contains(list, `data-token-id="`+id+`" data-state="revoked"`) {
		t.Errorf("the revoked token is not listed as revoked")
	}
	if status, body := admin.postForm("/ui/admin/tokens/"+id+"/rotate", nil); status != http.StatusConflict {
		t.Errorf("rotate a revoked token: %d\n%.300s", status, body)
	}

	es, err := f.store.AuditEntries(context.Background(), relais.AuditFilter{Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, string(e.Action)+" "+e.Target+" "+e.Address)
	}
	want := []string{"revoke token " + id + " 127.0.0.1", "rotate token " + id + " 127.0.0.1", "create token " + id + " 127.0.0.1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit entries %q, want %q", got, want)
	}
}

// TestExpiredTokenSignIn: an expired token cannot sign in, and the page says it expired.
func TestExpiredTokenSignIn(t *testing.T) {
	f := newFixture(t, nil)
	tok := relais.APIToken{Name: "old", User: relais.User{ID: "old", Role: relais.RoleAdmin}, ExpiresAt: time.Now().Add(-time.Hour)}
	if err := f.store.CreateToken(context.Background(), &tok, relais.HashToken("rl_old")); err != nil {
		t.Fatal(err)
	}
	if _, status, body := f.signInWith("rl_old"); status != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("sign in with an expired token: %d, says expired: %v", status, strings.Contains(body, "expired"))
	}
}

// TestAuditPage: changes made in the pages are in the audit log, which the admin filters, pages and
// exports.
func TestAuditPage(t *testing.T) {
	f := newFixture(t, nil)
	media := f.browser("m")
	if status, body := media.postForm("/ui/lessons/1/publish", nil); status != http.StatusSeeOther {
		t.Fatalf("publish: %d %.300s", status, body)
	}
	if status, _ := media.postForm("/ui/lessons/999/publish", nil); status < 400 {
		t.Fatalf("publish of no lesson: %d", status)
	}
	teacher := f.browser("t1")
	if status, _ := teacher.postForm("/ui/lessons/1/submit", nil); status != http.StatusSeeOther {
		t.Fatalf("submit: %d", status)
	}
	admin := f.browser("a")
	status, page := admin.get("/ui/admin/audit")
	rows := regexp.MustCompile(`<tr id="audit-\d+" data-action="(\w+)">\s*<td>[^<]+</td><td>(\w+)</td><td>(\w+)</td><td>[^<]+</td><td>([^<]+)</td><td>([^<]+)</td>`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join(r[1:], " "))
	}
	want := []string{"submit t1 teacher lesson 1 127.0.0.1", "publish m media lesson 1 127.0.0.1"}
	if status != 200 || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit page: %d %q, want %q", status, got, want)
	}
	if _, page := admin.get("/ui/admin/audit?actor=m&action=publish"); strings.Count(page, `data-action="`) != 1 {
		t.Errorf("filtered page: %d rows, want 1", strings.Count(page, `data-action="`))
	}
	if _, page := admin.get("/ui/admin/audit?until=2000-01-01"); !strings.Contains(page, `id="audit-empty"`) {
		t.Errorf("entries before 2000 listed")
	}
	if status, _ := admin.get("/ui/admin/audit?since=yesterday"); status != http.StatusBadRequest {
		t.Errorf("bad date: %d, want 400", status)
	}
	old := auditPageSize
	auditPageSize = 1
	t.Cleanup(func() { auditPageSize = old })
	_, page = admin.get("/ui/admin/audit")
	next := regexp.MustCompile(`id="audit-next" rel="next" href="([^"]+)"`).FindStringSubmatch(page)
	if next == nil || !strings.Contains(page, `data-action="submit"`) {
		t.Fatalf("first page of one: no next link")
	}
	if _, page := admin.get(strings.ReplaceAll(next[1], "&amp;", "&")); !strings.Contains(page, `data-action="publish"`) || !strings.Contains(page, `id="audit-first"`) {
		t.Errorf("second page lacks the publish entry or the first-page link")
	}

	req, _ := http.NewRequest("GET", f.srv.URL+"/ui/admin/audit.csv?action=submit", nil)
	resp, err := admin.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != 200 || len(recs) != 2 || strings.Join(recs[1][2:], ",") != "t1,teacher,submit,lesson 1,127.0.0.1" {
		t.Errorf("export: %d %q %v", resp.StatusCode, recs, err)
	}
}

// TestStaticAndHeaders: /ui/static/ lists nothing; its files are served; pages carry the security
// headers, with a policy that allows no inline script or style.
func TestStaticAndHeaders(t *testing.T) {
	f := newFixture(t, nil)
	c := f.browser("m")
	for path, want := range map[string]int{"/ui/static/": 404, "/ui/static/ui.css": 200, "/ui/static/ui.js": 200, "/ui/static/nope.js": 404} {
		status, body := c.get(path)
		if status != want || strings.Contains(body, `<a href="ui.css">`) {
			t.Errorf("GET %s = %d, want %d\n%.200s", path, status, want, body)
		}
	}
	for _, path := range []string{"/ui/signin", "/ui/lessons", "/ui/dashboard", "/ui/static/ui.css"} {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
	}
}

// TestEveryChangeIsAudited: every route that changes something is audited, or is on the short list of
// those that change no record (sign-in, language, preview, the tus requests whose lesson is made by
// POST /ui/lessons) or record themselves; every audited pattern is a route.
func TestEveryChangeIsAudited(t *testing.T) {
	exempt := []string{"POST /ui/signin", "POST /ui/signout", "POST /ui/lang", "POST /ui/preview", "POST /ui/uploads",
		"PATCH /ui/uploads/{id}", "POST /ui/admin/tokens", monitorPath + "/"}
	routes := map[string]bool{}
	for _, rt := range (&Handler{}).table() {
		routes[rt.pattern] = true
		method, _, _ := strings.Cut(rt.pattern, " ")
		if _, ok := auditedPages[rt.pattern]; !ok && method != "GET" && method != "HEAD" && !slices.Contains(exempt, rt.pattern) {
			t.Errorf("%s changes something and is not audited: add it to auditedPages", rt.pattern)
		}
	}
	for p := range auditedPages {
		if !routes[p] {
			t.Errorf("auditedPages names %s, which is no route", p)
		}
	}
}
