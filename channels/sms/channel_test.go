package sms_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"github.com/twilio/twilio-go/client"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/templates"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "sandboxtoken0123"
	frMobile  = "+33612345678"
	kzMobile  = "+77011234567"
)

// fakeStore records what the channel asks of the store.
type fakeStore struct {
	mu          sync.Mutex
	deliveries  map[string]relais.Delivery // by provider id
	advances    []advance
	phoneStatus map[string]relais.ContactStatus
	optOut      map[string]bool
	households  []relais.Household
	inbound     []inbound
	slow        time.Duration // each Record takes this long, and fails if its context ends first
}

// inbound is a reply the channel handed to the ledger.
type inbound struct {
	Body         string
	HouseholdIDs []int64
}

type advance struct {
	ID     int64
	Status relais.DeliveryStatus
	Detail string
}

var (
	_ sms.Store         = (*fakeStore)(nil)
	_ channels.Recorder = (*fakeStore)(nil)
)

func newFakeStore() *fakeStore {
	return &fakeStore{deliveries: map[string]relais.Delivery{}, phoneStatus: map[string]relais.ContactStatus{}, optOut: map[string]bool{}}
}

func (f *fakeStore) DeliveryByProviderID(_ context.Context, ch relais.ChannelName, id string) (relais.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deliveries[id]
	if !ok || ch != relais.ChannelSMS {
		return relais.Delivery{}, relais.Errorf(relais.ENOTFOUND, "no delivery %s", id)
	}
	return d, nil
}

func (f *fakeStore) DeliveriesByIDs(_ context.Context, ids []int64) ([]relais.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []relais.Delivery
	for _, id := range ids {
		for _, d := range f.deliveries {
			if d.ID == id {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

func (f *fakeStore) HouseholdsByPhone(_ context.Context, phone string) ([]relais.Household, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []relais.Household
	for _, h := range f.households {
		if h.Phone == phone {
			out = append(out, h)
		}
	}
	return out, nil
}

// Record keeps what each verdict says, as the ledger would apply it: the delivery's move, the
// number's status or opt-out, the reply.
func (f *fakeStore) Record(ctx context.Context, v channels.Verdict) (channels.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.slow > 0 {
		select {
		case <-time.After(f.slow):
		case <-ctx.Done():
			return channels.Outcome{}, ctx.Err()
		}
	}
	if c := v.Contact; c.Address != "" {
		if c.Kind != channels.ContactPhone {
			return channels.Outcome{}, fmt.Errorf("verdict on a %s address from the SMS channel", c.Kind)
		}
		switch {
		case c.OptIn:
			f.optOut[c.Address] = false
		case c.Status == relais.ContactOptedOut:
			f.optOut[c.Address] = true
		default:
			f.phoneStatus[c.Address] = c.Status
		}
	}
	if v.Reply != nil {
		f.inbound = append(f.inbound, inbound{Body: v.Reply.Body, HouseholdIDs: v.HouseholdIDs})
	}
	if v.DeliveryID != 0 && v.Status != "" {
		if !v.Batched {
			return channels.Outcome{}, fmt.Errorf("status callback of delivery %d not batched", v.DeliveryID)
		}
		f.advances = append(f.advances, advance{v.DeliveryID, v.Status, v.Detail})
	}
	return channels.Outcome{}, nil
}

func (f *fakeStore) put(d relais.Delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliveries[d.ProviderID] = d
}

func (f *fakeStore) advancesOf(id int64) []relais.DeliveryStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []relais.DeliveryStatus
	for _, a := range f.advances {
		if a.ID == id {
			out = append(out, a.Status)
		}
	}
	return out
}

// rig is Relais' webhook endpoint and the sandbox, both on 127.0.0.1, with a channel between them.
type rig struct {
	store   *fakeStore
	ch      *sms.Channel
	sandbox *sandbox.Server
	relais  *httptest.Server // serves ch.Webhooks() under /webhooks/sms/
	cfg     sms.Config
}

func newRig(t *testing.T, rules ...sandbox.Rule) *rig {
	t.Helper()
	return newRigWith(t, sandbox.Config{Rules: rules}, nil)
}

// newPoolRig is newRig with more accounts in the sandbox and the channel's configuration changed by
// configure (after the senders FR=Ecole, *=+15005550006).
func newPoolRig(t *testing.T, accounts map[string]string, configure func(*sms.Config), rules ...sandbox.Rule) *rig {
	t.Helper()
	return newRigWith(t, sandbox.Config{Accounts: accounts, Rules: rules}, configure)
}

// newRigWith is newRig with the sandbox's accounts, rules and callback settings from sc, and the
// channel's configuration changed by configure.
func newRigWith(t *testing.T, sc sandbox.Config, configure func(*sms.Config)) *rig {
	t.Helper()
	r := &rig{store: newFakeStore()}
	var handler http.Handler = http.NotFoundHandler()
	r.relais = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { handler.ServeHTTP(w, req) }))
	t.Cleanup(r.relais.Close)

	sc.AccountSID, sc.AuthToken, sc.InboundURL, sc.StepDelay = testSID, testToken, r.relais.URL+sms.InboundPath, 5*time.Millisecond
	r.sandbox = sandbox.New(sc)
	api := httptest.NewServer(r.sandbox)
	t.Cleanup(func() {
		api.Close()
		if err := r.sandbox.Close(); err != nil {
			t.Errorf("sandbox shutdown: %v", err)
		}
	})

	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = sms.DefaultConfig()
	r.cfg.AccountSID, r.cfg.AuthToken = testSID, testToken
	r.cfg.APIURL, r.cfg.PublicURL = api.URL, r.relais.URL
	r.cfg.Senders = map[string]string{"FR": "Ecole", sms.DefaultCountry: "+15005550006"}
	if configure != nil {
		configure(&r.cfg)
	}
	r.ch, err = sms.New(r.cfg, r.store, r.store, ts, sms.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(sms.WebhookPrefix, r.ch.Webhooks())
	handler = mux
	return r
}

func message(deliveryID int64, phone, body string) channels.Message {
	return channels.Message{
		Delivery:  relais.Delivery{ID: deliveryID, LessonID: 1, HouseholdID: 10 + deliveryID, Channel: relais.ChannelSMS},
		Household: relais.Household{ID: 10 + deliveryID, Phone: phone, Language: "fr"},
		Lesson:    relais.Lesson{ID: 1},
		Digest:    &relais.Digest{LessonID: 1, Language: "fr", Body: body},
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCallbackRecordedWhenTheCallerHangsUp: a status callback whose caller gives up before Relais
// has recorded it (Twilio's timeout under a burst) is recorded all the same, since Twilio does not
// send it again.
func TestCallbackRecordedWhenTheCallerHangsUp(t *testing.T) {
	r := newRigWith(t, sandbox.Config{CallbackAttempts: 1, Client: &http.Client{Timeout: 100 * time.Millisecond}}, nil)
	r.store.slow = 300 * time.Millisecond
	r.store.put(relais.Delivery{ID: 7, HouseholdID: 17, Channel: relais.ChannelSMS})
	if _, err := r.ch.Send(context.Background(), message(7, frMobile, "Leçon")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered", func() bool {
		s := r.store.advancesOf(7)
		return len(s) > 0 && s[len(s)-1] == relais.DeliveryDelivered
	})
	for _, cb := range r.sandbox.Messages()[0].Callbacks {
		if cb.HTTPStatus != 0 {
			t.Errorf("callback %s answered %d before the sandbox's timeout; the test needs it to hang up", cb.Status, cb.HTTPStatus)
		}
	}
}

func TestSendThroughSandboxAndSignedCallbacks(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	// The planned delivery, whose SID is not recorded yet: the callbacks find it by the id in their URL,
	// even when they overtake the send task.
	r.store.put(relais.Delivery{ID: 7, HouseholdID: 17, Channel: relais.ChannelSMS})

	rc, err := r.ch.Send(ctx, message(7, frMobile, "Révision de géométrie… « les angles » – regardez Balapan à 10:00"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !strings.HasPrefix(rc.ProviderID, "SM") || len(rc.ProviderID) != 34 || rc.Status != relais.DeliveryQueued {
		t.Fatalf("receipt = %+v, want an SM sid and status queued", rc)
	}
	got := r.sandbox.Messages()
	if len(got) != 1 {
		t.Fatalf("sandbox received %d messages, want 1", len(got))
	}
	wantBody := `Révision de géométrie... "les angles" - regardez Balapan à 10:00`
	type seen struct{ Sid, To, From, Body, StatusCallback, Encoding string }
	if diff := cmp.Diff(seen{rc.ProviderID, frMobile, "Ecole", wantBody, r.relais.URL + "/webhooks/sms/status?delivery_id=7", sms.GSM7},
		seen{got[0].Sid, got[0].To, got[0].From, got[0].Body, got[0].StatusCallback, got[0].Encoding}); diff != "" {
		t.Errorf("sandbox received (-want +got):\n%s", diff)
	}

	waitFor(t, "delivered", func() bool {
		s := r.store.advancesOf(7)
		return len(s) > 0 && s[len(s)-1] == relais.DeliveryDelivered
	})
	if diff := cmp.Diff([]relais.DeliveryStatus{relais.DeliveryQueued, relais.DeliverySent, relais.DeliveryDelivered},
		r.store.advancesOf(7)); diff != "" {
		t.Errorf("delivery moved through (-want +got):\n%s", diff)
	}
	// Every callback the sandbox made was accepted at the first try.
	for _, cb := range r.sandbox.Messages()[0].Callbacks {
		if cb.HTTPStatus != http.StatusNoContent {
			t.Errorf("callback %s answered %d (%s)", cb.Status, cb.HTTPStatus, cb.Error)
		}
	}
	// The sender follows the recipient's country: a Kazakh number gets the default long code.
	if _, err := r.ch.Send(ctx, message(8, kzMobile, "Урок")); err != nil {
		t.Fatal(err)
	}
	if m := r.sandbox.Messages()[1]; m.From != "+15005550006" || m.Encoding != sms.UCS2 {
		t.Errorf("message to KZ: from %q encoding %s, want +15005550006 UCS-2", m.From, m.Encoding)
	}
}

func TestWebhookRejectsUnsignedAndMisSigned(t *testing.T) {
	r := newRig(t)
	r.store.put(relais.Delivery{ID: 3, Channel: relais.ChannelSMS, ProviderID: "SM00000000000000000000000000000001"})
	form := url.Values{"MessageSid": {"SM00000000000000000000000000000001"}, "MessageStatus": {"delivered"}, "To": {frMobile}}
	statusURL := r.relais.URL + sms.StatusPath

	post := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, statusURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	tests := []struct {
		name string
		sig  string
		want int
	}{
		{"unsigned", "", http.StatusForbidden},
		{"wrong token", sandbox.Sign("othertoken", statusURL, form), http.StatusForbidden},
		{"other URL", sandbox.Sign(testToken, r.relais.URL+sms.InboundPath, form), http.StatusForbidden},
		{"garbage", "bm90IGEgc2lnbmF0dXJl", http.StatusForbidden},
		{"signed", sandbox.Sign(testToken, statusURL, form), http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.store.advancesOf(3))
			if got := post(tt.sig); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
			after := len(r.store.advancesOf(3))
			if moved := after > before; moved != (tt.want == http.StatusNoContent) {
				t.Errorf("delivery moved = %v for a %d answer", moved, tt.want)
			}
		})
	}
	// The sandbox signs as twilio-go's validator expects.
	v := client.NewRequestValidator(testToken)
	params := map[string]string{"MessageSid": "SM1", "To": frMobile}
	if !v.Validate(statusURL, params, sandbox.Sign(testToken, statusURL, url.Values{"MessageSid": {"SM1"}, "To": {frMobile}})) {
		t.Error("twilio-go's validator refuses the sandbox's signature")
	}
}

func TestSendFailuresAreClassified(t *testing.T) {
	const (
		throttled = "+33611111111"
		broken    = "+33622222222"
		stopped   = "+33633333333"
		landline  = "+33644444444"
	)
	r := newRig(t,
		sandbox.Rule{To: throttled, HTTPStatus: 429, RetryAfter: 7 * time.Second},
		sandbox.Rule{To: broken, HTTPStatus: 503},
		sandbox.Rule{To: stopped, HTTPStatus: 400, ErrorCode: 21610},
		sandbox.Rule{To: landline, FinalStatus: "undelivered", ErrorCode: 30006},
	)
	ctx := context.Background()
	tests := []struct {
		name, phone string
		want        channels.SendError
		reachesAPI  bool
	}{
		{"throttled", throttled, channels.SendError{Kind: channels.Throttled, Code: "20429", RetryAfter: 7 * time.Second}, true},
		{"server error", broken, channels.SendError{Kind: channels.Retryable, Code: "20500"}, true},
		{"opted out", stopped, channels.SendError{Kind: channels.Permanent, Code: "21610", Contact: relais.ContactOptedOut}, true},
		{"not E.164", "0612345678", channels.SendError{Kind: channels.Permanent, Code: "21211", Contact: relais.ContactInvalid}, false},
		{"invalid number", "+3361234", channels.SendError{Kind: channels.Permanent, Code: "21211", Contact: relais.ContactInvalid}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.sandbox.Messages())
			_, err := r.ch.Send(ctx, message(1, tt.phone, "Bonjour"))
			var se *channels.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v, want a *channels.SendError", err)
			}
			got := channels.SendError{Kind: se.Kind, Code: se.Code, RetryAfter: se.RetryAfter, Contact: se.Contact}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if reached := len(r.sandbox.Messages()) > before; reached != tt.reachesAPI {
				t.Errorf("request reached the API = %v, want %v", reached, tt.reachesAPI)
			}
		})
	}

	// Accepted, then undelivered to a landline: the callback marks the number.
	rc, err := r.ch.Send(ctx, message(9, landline, "Bonjour"))
	if err != nil {
		t.Fatal(err)
	}
	r.store.put(relais.Delivery{ID: 9, Channel: relais.ChannelSMS, ProviderID: rc.ProviderID})
	waitFor(t, "undelivered", func() bool {
		s := r.store.advancesOf(9)
		return len(s) > 0 && s[len(s)-1] == relais.DeliveryUndelivered
	})
	r.store.mu.Lock()
	status := r.store.phoneStatus[landline]
	r.store.mu.Unlock()
	if status != relais.ContactLandline {
		t.Errorf("phone status after 30006 = %q, want %q", status, relais.ContactLandline)
	}
}

func TestSendNetworkErrorIsRetryable(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	ts, _ := templates.Load()
	cfg := sms.DefaultConfig()
	cfg.AccountSID, cfg.AuthToken, cfg.APIURL = testSID, testToken, "http://"+addr
	cfg.Senders = map[string]string{"*": "Ecole"}
	ch, err := sms.New(cfg, newFakeStore(), newFakeStore(), ts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.Send(context.Background(), message(1, frMobile, "Bonjour"))
	if se := channels.ClassOf(err); err == nil || se.Kind != channels.Retryable {
		t.Fatalf("Send to a closed port: %v, want a retryable failure", err)
	}
}

func TestInboundKeywords(t *testing.T) {
	r := newRig(t)
	r.store.households = []relais.Household{{ID: 5, Phone: frMobile, Language: "fr"}, {ID: 6, Phone: kzMobile, Language: "kk"}}
	ctx := context.Background()

	reply := func(from, body string) sandbox.InboundResult {
		t.Helper()
		res, err := r.sandbox.Inbound(ctx, from, "Ecole", body)
		if err != nil {
			t.Fatal(err)
		}
		if res.HTTPStatus != http.StatusOK {
			t.Fatalf("inbound %q answered %d: %s", body, res.HTTPStatus, res.TwiML)
		}
		return res
	}
	optOut := func(phone string) (bool, bool) {
		r.store.mu.Lock()
		defer r.store.mu.Unlock()
		v, ok := r.store.optOut[phone]
		return v, ok
	}

	reply(frMobile, " Arrêt ")
	if v, ok := optOut(frMobile); !ok || !v {
		t.Errorf("after ARRÊT: opt-out = %v (set %v), want true", v, ok)
	}
	reply(frMobile, "start")
	if v, _ := optOut(frMobile); v {
		t.Error("after START: still opted out")
	}
	if res := reply(frMobile, "Aide"); !strings.Contains(res.TwiML, "<Message>Relais: résumés des cours") {
		t.Errorf("AIDE answered %q, want the French help text", res.TwiML)
	}
	if res := reply(kzMobile, "help"); !strings.Contains(res.TwiML, "балаңыздың") {
		t.Errorf("HELP from a Kazakh household answered %q, want the Kazakh help text", res.TwiML)
	}
	if res := reply(frMobile, "Merci pour la leçon, stop pas tout de suite"); strings.Contains(res.TwiML, "<Message>") {
		t.Errorf("a free reply was answered %q", res.TwiML)
	}
	r.store.mu.Lock()
	inbound := r.store.inbound
	r.store.mu.Unlock()
	if len(inbound) != 1 || inbound[0].Body != "Merci pour la leçon, stop pas tout de suite" ||
		fmt.Sprint(inbound[0].HouseholdIDs) != "[5]" {
		t.Errorf("replies kept for the teacher = %+v", inbound)
	}
	if v, _ := optOut(frMobile); v {
		t.Error("a sentence containing 'stop' opted the family out")
	}
}

func TestParseKeyword(t *testing.T) {
	tests := []struct {
		body string
		want sms.Keyword
	}{
		{"STOP", sms.KeywordStop}, {"stop", sms.KeywordStop}, {" Stop. ", sms.KeywordStop},
		{"STOPALL", sms.KeywordStop}, {"unsubscribe", sms.KeywordStop}, {"Cancel", sms.KeywordStop},
		{"END", sms.KeywordStop}, {"quit", sms.KeywordStop}, {"REVOKE", sms.KeywordStop}, {"optout", sms.KeywordStop},
		{"ARRET", sms.KeywordStop}, {"Arrêt", sms.KeywordStop}, {"arrête", sms.KeywordStop}, {"ARRETE!", sms.KeywordStop},
		{"START", sms.KeywordStart}, {"yes", sms.KeywordStart}, {"Unstop", sms.KeywordStart},
		{"HELP", sms.KeywordHelp}, {"info", sms.KeywordHelp}, {"Aide", sms.KeywordHelp}, {"AIDE ?", sms.KeywordHelp},
		{"", sms.KeywordNone}, {"stop please", sms.KeywordNone}, {"STOPP", sms.KeywordNone},
		{"Merci", sms.KeywordNone}, {"СТОП", sms.KeywordNone},
	}
	for _, tt := range tests {
		if got := sms.ParseKeyword(tt.body); got != tt.want {
			t.Errorf("ParseKeyword(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestSendWaitsForTheSenderAllowance(t *testing.T) {
	addr, db := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer rdb.Close()
	lim, err := sms.NewLimiter(rdb, sms.LimiterConfig{Rate: 4})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	ts, _ := templates.Load()
	ch, err := sms.New(r.cfg, r.store, r.store, ts, sms.WithLimiter(lim), sms.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 3 { // 2 segments each at 4 segments/s: the third leaves 1 s after the first
		if _, err := ch.Send(context.Background(), message(int64(i), frMobile, strings.Repeat("a", 200))); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("3 messages of 2 segments at 4 segments/s took %v, want about 1 s", d)
	}
	if n := len(r.sandbox.Messages()); n != 3 {
		t.Errorf("sandbox received %d messages, want 3", n)
	}
}

// A household with data gets its lesson link on a line of its own; one with SMS only does not, since
// it could not open it and the link would cost it a segment.
func TestSendAddsTheLessonLinkForHouseholdsWithData(t *testing.T) {
	r := newRig(t)
	const link = "https://relais.example/l/AbCdEfGhIjKlMnOpQrStUvWx"
	for i, p := range []relais.Profile{relais.ProfileMobileData, relais.ProfileSMSOnly, relais.ProfileBroadband, relais.ProfileBroadcastOnly} {
		m := message(int64(20+i), frMobile, "Les fractions")
		m.Household.Profile, m.LessonURL = p, link
		r.store.put(m.Delivery)
		if _, err := r.ch.Send(context.Background(), m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got := r.sandbox.Messages()[i].Body
		want := "Les fractions"
		if sms.HasData(p) {
			want += "\n" + link
		}
		if got != want {
			t.Errorf("%s household received %q, want %q", p, got, want)
		}
	}
}
