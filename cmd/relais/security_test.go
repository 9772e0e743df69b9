package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestTokenCommands: relais token create|list|rotate|revoke on the configured database; the secret
// is printed by create and rotate only, and each change is in the audit log as done by the shell.
func TestTokenCommands(t *testing.T) {
	env := map[string]string{"RELAIS_DATA_DIR": t.TempDir()}
	out, errOut, err := runCLI(env, "token", "create", "--user", "ci", "--role", "media", "--name", "nightly import", "--expires", "30d")
	secret := strings.TrimSpace(out)
	if err != nil || !regexp.MustCompile(`^rl_[A-Za-z0-9_-]{32}$`).MatchString(secret) || !strings.Contains(errOut, "token 1 for ci (media), expires ") {
		t.Fatalf("create: %q %q %v", out, errOut, err)
	}
	out, _, err = runCLI(env, "token", "list")
	if err != nil || strings.Contains(out, secret) || !regexp.MustCompile(`(?m)^1 +nightly import +ci +media +\S+ \S+ +\S+ \S+ +never +active$`).MatchString(out) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = runCLI(env, "token", "rotate", "1")
	rotated := strings.TrimSpace(out)
	if err != nil || rotated == secret || !strings.HasPrefix(rotated, "rl_") {
		t.Fatalf("rotate: %q %v", out, err)
	}
	if out, _, err = runCLI(env, "token", "revoke", "1"); err != nil || out != "token 1 (nightly import, ci) revoked\n" {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if out, _, _ = runCLI(env, "token", "list"); !strings.Contains(out, " revoked\n") {
		t.Errorf("list after revoke:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "rotate", "1"}, "API token 1 is revoked: create a new one."},
		{[]string{"token", "revoke", "9"}, "API token 9 not found."},
		{[]string{"token", "revoke"}, "name one token by its id"},
		{[]string{"token", "create", "--user", "x", "--role", "root"}, "--role must be teacher, media or admin"},
		{[]string{"token", "create", "--user", "x y", "--role", "admin"}, "A user id is 1-64 letters"},
		{[]string{"token", "create", "--user", "x", "--role", "admin", "--expires", "soon"}, `--expires "soon"`},
	} {
		if _, _, err := runCLI(env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}

	// Other changes made from the shell are audited too.
	if _, errOut, err := runCLI(env, "station", "create", "--name", "Balapan", "--tz", "Asia/Almaty"); err != nil {
		t.Fatalf("station create: %v %s", err, errOut)
	}
	if _, errOut, err := runCLI(env, "grid", "template", "--station", "1", "--from", "2026-03-02", "--to", "2026-03-03"); err != nil {
		t.Fatalf("grid template: %v %s", err, errOut)
	}
	if _, _, err := runCLI(env, "grid", "template", "--station", "1", "--from", "2026-03-02", "--to", "2026-03-03"); err == nil {
		t.Fatal("an overlapping template was accepted") // refused: not audited
	}

	cfg := DefaultConfig()
	cfg.DataDir = env["RELAIS_DATA_DIR"]
	cfg.resolve()
	db, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tok, err := db.Token(context.Background(), 1)
	if err != nil || tok.RevokedAt.IsZero() || tok.ExpiresAt.IsZero() {
		t.Errorf("stored token: %+v %v", tok, err)
	}
	es, err := db.AuditEntries(context.Background(), relais.AuditFilter{Actor: "shell"})
	var got []string
	for _, e := range es {
		got = append(got, string(e.Action)+" "+e.Target)
	}
	if err != nil || strings.Join(got, ", ") != "edit station 1, create station 1, revoke token 1, rotate token 1, create token 1" {
		t.Errorf("audit log: %q %v", got, err)
	}
}

// TestPublicLimitsAndClientAddress: through the whole server, a client past its share of family page
// or sign-in requests gets 429 with Retry-After while another client does not; X-Forwarded-For is
// believed from a trusted proxy only, and the audit log keeps the address it names.
func TestPublicLimitsAndClientAddress(t *testing.T) {
	r := newRig(t, nil, func(c *Config) {
		c.RateFamily, c.RateSignIn, c.TrustedProxies = "3/1m", "2/30s", "127.0.0.1"
	})
	send := func(method, path, client, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, r.app.URL()+path, strings.NewReader("external_ref,language,grades,profile,phone\nH1,fr,5,sms_only,+33612345678\n"))
		req.Header.Set("X-Forwarded-For", client)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "text/csv")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		method, path string
		allowed      int
		retry        string
	}{{"GET", "/l/not-a-link", 3, "60"}, {"POST", "/ui/signin", 2, "30"}} {
		for i := range tc.allowed {
			if resp := send(tc.method, tc.path, "203.0.113.5", ""); resp.StatusCode == http.StatusTooManyRequests {
				t.Fatalf("%s %s request %d refused", tc.method, tc.path, i+1)
			}
		}
		resp := send(tc.method, tc.path, "203.0.113.5", "")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != tc.retry {
			t.Errorf("%s %s past the limit: %d, Retry-After %q; want 429, %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), tc.retry)
		}
		// The 429 is a page like any other: the same security headers.
		for h, want := range map[string]string{"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s %s 429: %s %q, want %q", tc.method, tc.path, h, got, want)
			}
		}
		if resp := send(tc.method, tc.path, "203.0.113.6", ""); resp.StatusCode == http.StatusTooManyRequests {
			t.Errorf("%s %s: another client refused", tc.method, tc.path)
		}
	}

	if resp := send("POST", "/api/v1/households/import", "198.51.100.7", r.media); resp.StatusCode != 200 {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	es, err := r.app.store.AuditEntries(context.Background(), relais.AuditFilter{Action: relais.AuditImport})
	if err != nil || len(es) != 1 || es[0].Address != "198.51.100.7" || es[0].Actor != "media" || es[0].Target != "households" {
		t.Errorf("audit entry of the import: %+v %v", es, err)
	}
}
