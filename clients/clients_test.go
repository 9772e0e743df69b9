package clients

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestAddr(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	rs := NewResolver(trusted)
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"direct", "198.51.100.4:5000", "", "198.51.100.4"},
		{"untrusted peer's header ignored", "198.51.100.4:5000", "203.0.113.9", "198.51.100.4"},
		{"trusted proxy", "10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{"forged left part skipped", "10.1.2.3:5000", "1.1.1.1, 203.0.113.9", "203.0.113.9"},
		{"chain of trusted proxies", "10.1.2.3:5000", "203.0.113.9, 192.0.2.7, 10.9.9.9", "203.0.113.9"},
		{"single trusted address", "192.0.2.7:80", "2001:db8::5", "2001:db8::5"},
		{"malformed hop stops", "10.1.2.3:5000", "203.0.113.9, junk", "10.1.2.3"},
		{"trusted without header", "10.1.2.3:5000", "", "10.1.2.3"},
		{"ipv4-mapped peer", "[::ffff:198.51.100.4]:80", "", "198.51.100.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := rs.Addr(r).String(); got != tc.want {
				t.Errorf("Addr = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := ParseTrusted("10.0.0.0/8, nope"); err == nil {
		t.Error("a bad proxy was accepted")
	}
}

func TestParseRule(t *testing.T) {
	for in, want := range map[string]Rule{"20/1m": {20, time.Minute}, "500/1s": {500, time.Second}, "off": {}, "0": {}} {
		if got, err := ParseRule(in); err != nil || got != want {
			t.Errorf("ParseRule(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "20", "x/1m", "-1/1m", "5/1ms", "5/soon"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) accepted", bad)
		}
	}
}

func TestLimitReplies429WithRetryAfter(t *testing.T) {
	trusted, _ := ParseTrusted("127.0.0.1")
	rs := NewResolver(trusted)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	lim := Limits{SignIn: Rule{2, time.Minute}, Family: Rule{3, time.Minute}, Unsubscribe: Rule{1, time.Minute}, Webhooks: Rule{2, 10 * time.Second}}
	h := rs.Limit(lim, ok)
	send := func(method, path, client string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = "127.0.0.1:4000"
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		method, path string
		allow        int
		retry        time.Duration
	}{{"POST", "/ui/signin", 2, time.Minute}, {"GET", "/ui/oidc/start", 2, time.Minute}, {"GET", "/l/abc", 3, time.Minute},
		{"POST", "/u/xyz", 1, time.Minute}, {"POST", "/webhooks/sms/status", 2, 10 * time.Second}} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			client := "203.0.113.1"
			if tc.path == "/ui/oidc/start" { // the sign-in share is one, whatever the path
				client = "203.0.113.9"
			}
			for i := range tc.allow {
				if w := send(tc.method, tc.path, client); w.Code != http.StatusNoContent {
					t.Fatalf("request %d: %d, want it through", i+1, w.Code)
				}
			}
			w := send(tc.method, tc.path, client)
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("request %d: %d, want 429", tc.allow+1, w.Code)
			}
			if got := w.Header().Get("Retry-After"); got != strconv.Itoa(int(tc.retry.Seconds())) {
				t.Errorf("Retry-After %q, want %v in seconds", got, tc.retry)
			}
			if w := send(tc.method, tc.path, "203.0.113.2"); w.Code != http.StatusNoContent {
				t.Errorf("another client: %d, want it through", w.Code)
			}
		})
	}
	for range 10 {
		for _, path := range []string{"/ui/lessons", "/ui/signin"} {
			if w := send("GET", path, "203.0.113.1"); w.Code != http.StatusNoContent {
				t.Fatalf("GET %s is not limited: %d", path, w.Code)
			}
		}
	}
}
