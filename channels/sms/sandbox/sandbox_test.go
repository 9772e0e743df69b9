package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
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

// toSandbox sends twilio-go's requests for api.twilio.com to the sandbox at base.
type toSandbox struct{ base *url.URL }

func (t toSandbox) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.base.Scheme, t.base.Host, t.base.Host
	return http.DefaultTransport.RoundTrip(r)
}

// twilioClient is twilio-go's REST client pointed at the sandbox.
func twilioClient(t *testing.T, base string) *openapi.ApiService {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Credentials: client.NewCredentials(sid, token), HTTPClient: &http.Client{Transport: toSandbox{u}}}
	c.SetAccountSid(sid)
	return openapi.NewApiService(&client.RequestHandler{Client: c})
}

// waitStatus waits until every listed message reached status.
func waitStatus(t *testing.T, s *Server, n int, status string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		done := 0
		for _, m := range s.Messages() {
			if m.Status == status {
				done++
			}
		}
		if done >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d messages reached %s", n, status)
}

// TestListMessagesLikeTwilio reads the sandbox with twilio-go's own ListMessage, which Relais uses to
// find out whether a message whose answer was lost left: filters by To and DateSent, newest first,
// pages through PageToken.
func TestListMessagesLikeTwilio(t *testing.T) {
	day := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	var mu sync.Mutex
	now := day
	s := New(Config{AccountSID: sid, AuthToken: token, StepDelay: time.Millisecond, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}, Rules: []Rule{{To: "+33600000003", FinalStatus: "failed", ErrorCode: 30003}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	for _, to := range []string{"+33600000001", "+33600000002", "+33600000001", "+33600000003"} {
		if status, body := post(t, srv.URL, sid, token, url.Values{"To": {to}, "From": {"Ecole"}, "Body": {"Leçon " + to}}); status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, body)
		}
	}
	waitStatus(t, s, 3, "delivered")
	waitStatus(t, s, 1, "failed")
	var sids []string // of +33600000001, newest first
	for _, m := range slices.Backward(s.Messages()) {
		if m.To == "+33600000001" {
			sids = append(sids, m.Sid)
		}
	}

	api := twilioClient(t, srv.URL)
	list := func(p *openapi.ListMessageParams) []string {
		t.Helper()
		ms, err := api.ListMessage(p)
		if err != nil {
			t.Fatalf("ListMessage: %v", err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, *m.Sid)
		}
		return got
	}
	to1 := (&openapi.ListMessageParams{}).SetTo("+33600000001")
	if diff := cmp.Diff(sids, list(to1.SetDateSent(day))); diff != "" {
		t.Errorf("To and DateSent (-want +got):\n%s", diff)
	}
	// One message a page: twilio-go follows next_page_uri and its PageToken.
	paged := (&openapi.ListMessageParams{}).SetTo("+33600000001").SetPageSize(1).SetLimit(10)
	if diff := cmp.Diff(sids, list(paged)); diff != "" {
		t.Errorf("paged (-want +got):\n%s", diff)
	}
	if got := list((&openapi.ListMessageParams{}).SetTo("+33600000001").SetDateSentAfter(day.AddDate(0, 0, 1))); len(got) != 0 {
		t.Errorf("sent after the next day: %v, want none", got)
	}
	if got := list((&openapi.ListMessageParams{}).SetTo("+33600000001").SetDateSentBefore(day)); len(got) != 2 {
		t.Errorf("sent on or before the day: %v, want 2", got)
	}
	// A message that never left has no date_sent: a date filter does not find it, To alone does.
	if got := list((&openapi.ListMessageParams{}).SetTo("+33600000003").SetDateSent(day)); len(got) != 0 {
		t.Errorf("failed message listed by DateSent: %v", got)
	}
	ms, err := api.ListMessage((&openapi.ListMessageParams{}).SetTo("+33600000003"))
	if err != nil || len(ms) != 1 || *ms[0].Status != "failed" || ms[0].DateSent != nil {
		t.Fatalf("failed message by To = %+v, %v", ms, err)
	}
	if got := list((&openapi.ListMessageParams{}).SetFrom("Nobody")); len(got) != 0 {
		t.Errorf("From filter: %v", got)
	}
}

// TestDropAnswer: the message is taken and goes on to the family, but the client gets no answer; the
// list and fetch say it left.
func TestDropAnswer(t *testing.T) {
	s := New(Config{AccountSID: sid, AuthToken: token, StepDelay: time.Millisecond,
		Rules: []Rule{{To: "+33600000009", DropAnswer: true}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()

	api := twilioClient(t, srv.URL)
	_, err := api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+33600000009").SetFrom("Ecole").SetBody("Leçon"))
	if err == nil {
		t.Fatal("a dropped answer reached the client")
	}
	waitStatus(t, s, 1, "delivered")
	ms, err := api.ListMessage((&openapi.ListMessageParams{}).SetTo("+33600000009"))
	if err != nil || len(ms) != 1 {
		t.Fatalf("list = %v, %v", ms, err)
	}
	m, err := api.FetchMessage(*ms[0].Sid, &openapi.FetchMessageParams{})
	if err != nil || *m.Status != "delivered" || *m.Body != "Leçon" {
		t.Fatalf("fetch = %+v, %v", m, err)
	}
}
