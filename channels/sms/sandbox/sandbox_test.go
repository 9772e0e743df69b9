package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "sandboxtoken0123"
)

func post(t *testing.T, base, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return res.StatusCode, body
}

func TestCreateMessageAnswersLikeTwilio(t *testing.T) {
	s := New(Config{AccountSID: sid, AuthToken: token, Now: func() time.Time { return time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC) }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()

	status, body := post(t, srv.URL, sid, token, url.Values{"To": {"+33612345678"}, "From": {"Ecole"}, "Body": {strings.Repeat("é", 161)}})
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, body)
	}
	// Every property of api.v2010.account.message is present.
	var keys []string
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := []string{"account_sid", "api_version", "body", "date_created", "date_sent", "date_updated", "direction",
		"error_code", "error_message", "from", "messaging_service_sid", "num_media", "num_segments", "price", "price_unit",
		"sid", "status", "subresource_uris", "to", "uri"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("message properties (-want +got):\n%s", diff)
	}
	msid, _ := body["sid"].(string)
	if len(msid) != 34 || !strings.HasPrefix(msid, "SM") {
		t.Errorf("sid = %q, want SM + 32 hex", msid)
	}
	want := map[string]any{"status": "queued", "num_segments": "2", "date_created": "Mon, 23 Nov 2026 09:30:00 +0000",
		"direction": "outbound-api", "uri": "/2010-04-01/Accounts/" + sid + "/Messages/" + msid + ".json", "to": "+33612345678"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}

	// GET the same message.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/2010-04-01/Accounts/"+sid+"/Messages/"+msid+".json", nil)
	req.SetBasicAuth(sid, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || got["sid"] != msid || got["body"] != strings.Repeat("é", 161) {
		t.Errorf("GET message: %d %v", res.StatusCode, got)
	}
}

func TestCreateMessageErrors(t *testing.T) {
	s := New(Config{AccountSID: sid, AuthToken: token})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	ok := url.Values{"To": {"+33612345678"}, "From": {"Ecole"}, "Body": {"Bonjour"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range ok {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	tests := []struct {
		name       string
		user, pass string
		form       url.Values
		status     int
		code       float64
	}{
		{"no credentials", "", "", ok, 401, 20003},
		{"wrong token", sid, "wrong", ok, 401, 20003},
		{"To not E.164", sid, token, with("To", "0612345678"), 400, 21211},
		{"To missing", sid, token, with("To", ""), 400, 21604},
		{"body over 1600", sid, token, with("Body", strings.Repeat("a", 1601)), 400, 21617},
		{"body of 1600", sid, token, with("Body", strings.Repeat("a", 1600)), 201, 0},
		{"no sender", sid, token, with("From", ""), 400, 21603},
		{"messaging service", sid, token, url.Values{"To": {"+33612345678"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {"x"}}, 201, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, srv.URL, tt.user, tt.pass, tt.form)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", status, tt.status, body)
			}
			if tt.code != 0 {
				if body["code"] != tt.code || body["status"] != float64(tt.status) || body["more_info"] == "" || body["message"] == "" {
					t.Errorf("error body = %v, want code %v", body, tt.code)
				}
			}
		})
	}
	if n := len(s.Messages()); n != len(tests)-2 {
		t.Errorf("recorded %d requests, want %d (refused auth is not recorded)", n, len(tests)-2)
	}
}

// TestCallbacksSignedAndOrdered: the callbacks reach the StatusCallback in order, signed so that
// twilio-go's validator accepts them.
func TestCallbacksSignedAndOrdered(t *testing.T) {
	var mu sync.Mutex
	var statuses []string
	validator := client.NewRequestValidator(token)
	var hook *httptest.Server
	hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		params := map[string]string{}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		if !validator.Validate(hook.URL+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		mu.Lock()
		statuses = append(statuses, r.PostForm.Get("MessageStatus")+"/"+r.PostForm.Get("ErrorCode"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	s := New(Config{AccountSID: sid, AuthToken: token, StepDelay: time.Millisecond,
		Rules: []Rule{{To: "+33699999999", FinalStatus: "undelivered", ErrorCode: 30006}}})
	srv := httptest.NewServer(s)
	defer srv.Close()

	post(t, srv.URL, sid, token, url.Values{"To": {"+33612345678"}, "From": {"Ecole"}, "Body": {"a"}, "StatusCallback": {hook.URL + "/cb?x=1"}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(statuses)
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	post(t, srv.URL, sid, token, url.Values{"To": {"+33699999999"}, "From": {"Ecole"}, "Body": {"a"}, "StatusCallback": {hook.URL + "/cb"}})
	for {
		mu.Lock()
		n := len(statuses)
		mu.Unlock()
		if n == 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"queued/", "sent/", "delivered/", "queued/", "sent/", "undelivered/30006"}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("callbacks (-want +got):\n%s", diff)
	}
}

func TestRulesShareAndListing(t *testing.T) {
	s := New(Config{AccountSID: sid, AuthToken: token, Seed: 42, Rules: []Rule{{Share: 0.3, HTTPStatus: 429, RetryAfter: 2 * time.Second}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	throttled := 0
	for i := 0; i < 200; i++ {
		if status, body := post(t, srv.URL, sid, token, url.Values{"To": {"+33612345678"}, "From": {"Ecole"}, "Body": {"a"}}); status == 429 {
			throttled++
			if body["code"] != float64(20429) {
				t.Fatalf("429 body = %v", body)
			}
		}
	}
	if throttled < 40 || throttled > 80 {
		t.Errorf("%d of 200 throttled, want about 60", throttled)
	}

	res, err := http.Get(srv.URL + "/sandbox/messages?page=1&page_size=150")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var page struct {
		Total    int       `json:"total"`
		Messages []Message `json:"messages"`
		Next     *string   `json:"next_page_uri"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 200 || len(page.Messages) != 50 || page.Next != nil {
		t.Errorf("page 1: total %d, %d messages, next %v; want 200, 50, none", page.Total, len(page.Messages), page.Next)
	}
}

func TestShutdownStopsPendingCallbacks(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer hook.Close()
	s := New(Config{AccountSID: sid, AuthToken: token, Rules: []Rule{{CallbackDelay: time.Hour}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	post(t, srv.URL, sid, token, url.Values{"To": {"+33612345678"}, "From": {"Ecole"}, "Body": {"a"}, "StatusCallback": {hook.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a callback an hour away: %v", err)
	}
	if cbs := s.Messages()[0].Callbacks; len(cbs) != 0 {
		t.Errorf("callbacks sent after shutdown: %v", cbs)
	}
}

func TestRunServesOnLoopback(t *testing.T) {
	s := New(Config{AccountSID: sid, AuthToken: token})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "127.0.0.1:0", func(base string) { ready <- base }) }()
	base := <-ready
	if status, _ := post(t, base, sid, token, url.Values{"To": {"+33612345678"}, "From": {"Ecole"}, "Body": {"a"}}); status != 201 {
		t.Errorf("status %d", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestRuleJSON(t *testing.T) {
	var rules []Rule
	in := `[{"to":"+33611111111","http_status":429,"retry_after":"2s"},{"share":0.5,"final_status":"undelivered","error_code":30003,"callback_delay":"1m30s"}]`
	if err := json.Unmarshal([]byte(in), &rules); err != nil {
		t.Fatal(err)
	}
	want := []Rule{{To: "+33611111111", HTTPStatus: 429, RetryAfter: 2 * time.Second},
		{Share: 0.5, FinalStatus: "undelivered", ErrorCode: 30003, CallbackDelay: 90 * time.Second}}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	out, _ := json.Marshal(rules)
	var again []Rule
	json.Unmarshal(out, &again)
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("round trip via %s (-want +got):\n%s", out, diff)
	}
	if err := json.Unmarshal([]byte(`[{"retry_after":"soon"}]`), &rules); err == nil {
		t.Error("a bad duration was accepted")
	}
}
