package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-edu/relais/internal/testenv"
)

// syncBuffer is an output a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoServe runs relais demo --serve on a port given with --http-addr, reads the addresses and tokens
// it prints, signs in to the web UI with the printed media token and finds the demo's lesson, reads the
// mailpit inbox and the sandbox's SMS through the printed addresses, then stops it as Ctrl-C does.
func TestDemoServe(t *testing.T) {
	redisAddr, db := testenv.Redis(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	env := map[string]string{"RELAIS_DATA_DIR": t.TempDir(), "RELAIS_REDIS_ADDR": redisAddr, "RELAIS_REDIS_DB": strconv.Itoa(db)}
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--serve", "--households", "20", "--seconds", "5", "--http-addr", addr},
			&stdio{in: strings.NewReader(""), out: &out, err: &errOut, lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	}()
	deadline := time.After(6 * time.Minute)
wait:
	for !strings.Contains(out.String(), "Sign in to the web UI") {
		select {
		case err := <-done:
			t.Fatalf("demo --serve ended (%v) before serving:\n%s\n%s", err, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("demo --serve printed no addresses in 6 minutes:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
			continue wait
		}
	}
	printed := out.String()
	if !strings.Contains(printed, "DEMO OK") {
		t.Errorf("the demo before serving did not succeed:\n%s", printed)
	}
	field := func(label string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `\s+(\S+)`).FindStringSubmatch(printed)
		if m == nil {
			t.Fatalf("no %q line in:\n%s", label, printed)
		}
		return m[1]
	}
	ui, mailInbox, sms := field("web UI"), field("mailpit inbox"), field("SMS sandbox")
	if want := "http://" + addr + "/ui/"; ui != want {
		t.Errorf("web UI at %s, want %s (--http-addr)", ui, want)
	}
	tokens := map[string]string{}
	for _, role := range []string{"teacher", "media", "admin"} {
		tokens[role] = field("token " + role)
	}

	// The media unit signs in with its printed token and sees the demo's lesson, published.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, form := get(ui + "signin")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if csrf == nil {
		t.Fatalf("sign-in form without a CSRF token:\n%s", form)
	}
	req, _ := http.NewRequest(http.MethodPost, ui+"signin", strings.NewReader(url.Values{"csrf": {csrf[1]}, "token": {tokens["media"]}, "next": {"/ui/lessons"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+addr)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if status, page := get(ui + "lessons"); status != 200 || !strings.Contains(page, "Les fractions") || !strings.Contains(page, "status-published") {
		t.Errorf("the media unit's lessons page: %d\n%.2000s", status, page)
	}

	// The printed mailpit inbox and sandbox listing hold what the demo sent.
	var inbox struct {
		Total int `json:"total"`
	}
	if status, body := get(mailInbox + "api/v1/messages?limit=1"); status != 200 || json.Unmarshal([]byte(body), &inbox) != nil || inbox.Total == 0 {
		t.Errorf("mailpit inbox %s: %d %.300s", mailInbox, status, body)
	}
	if status, body := get(sms); status != 200 || !strings.Contains(body, "+7701") {
		t.Errorf("sandbox listing %s: %d %.300s", sms, status, body)
	}

	// Ctrl-C: the demo stops everything and ends with status 0.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo --serve ended with %v after the interrupt", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("demo --serve still running a minute after the interrupt")
	}
	if !strings.HasSuffix(out.String(), "Stopping.\n") {
		t.Errorf("no goodbye:\n%s", out.String())
	}
	if _, err := http.Get(ui); err == nil {
		t.Errorf("the UI still answers at %s after the demo stopped", ui)
	}
}
