package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/worksheet"
)

func loadTemplates(t testing.TB) *templates.Set {
	t.Helper()
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// testConfig returns a config for a plain-text relay at addr.
func testConfig(t testing.TB, addr string) Config {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	cfg.TLS = TLSNone
	cfg.HELO = "relais.test"
	cfg.From = "Relais <lessons@relais.example>"
	cfg.ReplyTo = "school@relais.example"
	cfg.Timeout = 10 * time.Second
	return cfg
}

func newChannel(t testing.TB, cfg Config) *Channel {
	t.Helper()
	ch, err := New(cfg, loadTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// worksheetFile renders a worksheet into a file and returns its path and bytes.
func worksheetFile(t testing.TB) (string, []byte) {
	t.Helper()
	pdf, err := worksheet.Render(worksheet.Input{Title: "Les fractions", Language: "fr", Markdown: "1. Calculez ½ + ¼.\n"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "worksheet.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, pdf
}

// uniq returns a string unique to this test run, for addresses mailpit is searched by.
func uniq(t testing.TB) string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}

// --- mailpit API ---

type mpAddress struct{ Name, Address string }

type mpMessage struct {
	ID, MessageID string
	From          mpAddress
	To, ReplyTo   []mpAddress
	Subject       string
	Date          time.Time
	Text, HTML    string
	Attachments   []struct {
		PartID, FileName, ContentType string
		Size                          int
	}
	ListUnsubscribe struct {
		Header, HeaderPost, Errors string
		Links                      []string
	}
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", u, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func getBytes(t testing.TB, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return b
}

// mailpitMessage finds the message whose Message-ID is id (with or without brackets).
func mailpitMessage(t testing.TB, api, id string) mpMessage {
	t.Helper()
	id = strings.Trim(id, "<>")
	q := url.Values{"query": {"message-id:" + strconv.Quote(id)}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var list struct {
			Messages []struct{ ID string }
		}
		getJSON(t, api+"/api/v1/search?"+q.Encode(), &list)
		if len(list.Messages) == 1 {
			var m mpMessage
			getJSON(t, api+"/api/v1/message/"+list.Messages[0].ID, &m)
			return m
		}
		if len(list.Messages) > 1 {
			t.Fatalf("%d messages with Message-ID %s", len(list.Messages), id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit has no message with Message-ID %s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mailpitHeaders(t testing.TB, api, mpID string) map[string][]string {
	t.Helper()
	var h map[string][]string
	getJSON(t, api+"/api/v1/message/"+mpID+"/headers", &h)
	return h
}

// --- tests ---

func TestSendBatchToMailpit(t *testing.T) {
	smtpAddr, api := testenv.SMTP(t)
	ch := newChannel(t, testConfig(t, smtpAddr))
	fixed := time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC)
	ch.now = func() time.Time { return fixed }
	path, pdf := worksheetFile(t)
	run := uniq(t)

	lesson := relais.Lesson{ID: 7, Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5}
	langs := []struct{ lang, greeting, htmlLang string }{
		{"fr", "Bonjour,", `lang="fr"`},
		{"kk", "Сәлеметсіз бе!", `lang="kk"`},
		{"ru", "Здравствуйте!", `lang="ru"`},
		{"en", "Hello,", `lang="en"`},
		{"de", "Hello,", `lang="en"`}, // no German template: English
	}
	var msgs []channels.Message
	for i, l := range langs {
		id := int64(100 + i)
		msgs = append(msgs, channels.Message{
			Delivery:       relais.Delivery{ID: id, LessonID: lesson.ID, HouseholdID: id, Channel: relais.ChannelEmail},
			Household:      relais.Household{ID: id, Language: l.lang, Email: fmt.Sprintf("family-%s-%s@example.org", l.lang, run)},
			Lesson:         lesson,
			Worksheet:      &relais.Worksheet{LessonID: lesson.ID, Path: path, Bytes: int64(len(pdf))},
			LessonURL:      fmt.Sprintf("https://relais.example/l/7?h=%d", id),
			UnsubscribeURL: fmt.Sprintf("https://relais.example/u/token-%d", id),
		})
	}
	results := ch.SendBatch(context.Background(), msgs)
	if len(results) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(results), len(msgs))
	}
	for i, l := range langs {
		r := results[i]
		if r.Err != nil {
			t.Fatalf("%s: %v", l.lang, r.Err)
		}
		if r.Receipt.Status != relais.DeliverySent || r.Receipt.ProviderID == "" {
			t.Fatalf("%s: receipt %+v", l.lang, r.Receipt)
		}
		if id, ok := DeliveryIDFromMessageID(r.Receipt.ProviderID); !ok || id != msgs[i].Delivery.ID {
			t.Errorf("%s: Message-ID %s does not lead back to delivery %d", l.lang, r.Receipt.ProviderID, msgs[i].Delivery.ID)
		}

		m := mailpitMessage(t, api, r.Receipt.ProviderID)
		if diff := cmp.Diff(mpAddress{Name: "Relais", Address: "lessons@relais.example"}, m.From); diff != "" {
			t.Errorf("%s: From (-want +got):\n%s", l.lang, diff)
		}
		if diff := cmp.Diff([]mpAddress{{Address: msgs[i].Household.Email}}, m.To); diff != "" {
			t.Errorf("%s: To (-want +got):\n%s", l.lang, diff)
		}
		if diff := cmp.Diff([]mpAddress{{Address: "school@relais.example"}}, m.ReplyTo); diff != "" {
			t.Errorf("%s: Reply-To (-want +got):\n%s", l.lang, diff)
		}
		if m.Subject != lesson.Title {
			t.Errorf("%s: Subject = %q, want %q", l.lang, m.Subject, lesson.Title)
		}
		if "<"+m.MessageID+">" != r.Receipt.ProviderID {
			t.Errorf("%s: Message-ID = %q, receipt says %q", l.lang, m.MessageID, r.Receipt.ProviderID)
		}
		if !m.Date.Equal(fixed) {
			t.Errorf("%s: Date = %v, want %v", l.lang, m.Date, fixed)
		}
		h := mailpitHeaders(t, api, m.ID)
		if got := h["Date"]; len(got) != 1 || got[0] != "Mon, 23 Nov 2026 08:30:00 +0000" {
			t.Errorf("%s: Date header = %q", l.lang, got)
		}
		if got, want := h["List-Unsubscribe"], []string{"<" + msgs[i].UnsubscribeURL + ">"}; !cmp.Equal(want, got) {
			t.Errorf("%s: List-Unsubscribe = %q, want %q", l.lang, got, want)
		}
		if got, want := h["List-Unsubscribe-Post"], []string{"List-Unsubscribe=One-Click"}; !cmp.Equal(want, got) {
			t.Errorf("%s: List-Unsubscribe-Post = %q, want %q", l.lang, got, want)
		}
		if m.ListUnsubscribe.Errors != "" {
			t.Errorf("%s: mailpit finds List-Unsubscribe faulty: %s", l.lang, m.ListUnsubscribe.Errors)
		}
		for _, part := range []struct{ name, body string }{{"text", m.Text}, {"html", m.HTML}} {
			if !strings.Contains(part.body, l.greeting) {
				t.Errorf("%s: %s body lacks greeting %q:\n%s", l.lang, part.name, l.greeting, part.body)
			}
			if !strings.Contains(part.body, "https://relais.example/l/7?h="+strconv.FormatInt(msgs[i].Delivery.ID, 10)) {
				t.Errorf("%s: %s body lacks the lesson link", l.lang, part.name)
			}
		}
		if !strings.Contains(m.HTML, l.htmlLang) {
			t.Errorf("%s: HTML is not the %s template", l.lang, l.htmlLang)
		}
		if len(m.Attachments) != 1 {
			t.Fatalf("%s: %d attachments, want 1", l.lang, len(m.Attachments))
		}
		a := m.Attachments[0]
		if a.ContentType != "application/pdf" || a.FileName != "Les-fractions-à-l-école.pdf" {
			t.Errorf("%s: attachment %q of type %q", l.lang, a.FileName, a.ContentType)
		}
		got := getBytes(t, api+"/api/v1/message/"+m.ID+"/part/"+a.PartID)
		if string(got) != string(pdf) {
			t.Errorf("%s: attachment differs from the worksheet file (%d bytes, want %d)", l.lang, len(got), len(pdf))
		}
	}
}

func TestSendWithoutWorksheetOrUnsubscribe(t *testing.T) {
	smtpAddr, api := testenv.SMTP(t)
	ch := newChannel(t, testConfig(t, smtpAddr))
	rc, err := ch.Send(context.Background(), channels.Message{
		Delivery:  relais.Delivery{ID: 1},
		Household: relais.Household{ID: 1, Language: "ru", Email: "plain-" + uniq(t) + "@example.org"},
		Lesson:    relais.Lesson{Title: "Дроби"},
		// An http link is advertised, but one-click (RFC 8058) needs https.
		UnsubscribeURL: "http://localhost:8080/u/tok",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := mailpitMessage(t, api, rc.ProviderID)
	if len(m.Attachments) != 0 {
		t.Errorf("%d attachments, want none", len(m.Attachments))
	}
	if strings.Contains(m.Text, "Рабочий лист") {
		t.Errorf("text mentions an attachment that is not there:\n%s", m.Text)
	}
	h := mailpitHeaders(t, api, m.ID)
	if got := h["List-Unsubscribe"]; !cmp.Equal([]string{"<http://localhost:8080/u/tok>"}, got) {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if got := h["List-Unsubscribe-Post"]; got != nil {
		t.Errorf("List-Unsubscribe-Post = %q on a non-https link", got)
	}
}

// countingProxy forwards TCP connections to target and counts them.
type countingProxy struct {
	ln    net.Listener
	conns atomic.Int32
}

func newCountingProxy(t testing.TB, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, up)
				<-done
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return p
}

func TestPoolReusesConnections(t *testing.T) {
	smtpAddr, api := testenv.SMTP(t)
	proxy := newCountingProxy(t, smtpAddr)
	cfg := testConfig(t, proxy.ln.Addr().String())
	cfg.MaxConns = 2
	cfg.MaxPerConn = 0
	ch := newChannel(t, cfg)
	run := uniq(t)
	page := func(n, from int) []channels.Message {
		var msgs []channels.Message
		for i := 0; i < n; i++ {
			id := int64(from + i)
			msgs = append(msgs, channels.Message{
				Delivery:  relais.Delivery{ID: id},
				Household: relais.Household{ID: id, Language: "en", Email: fmt.Sprintf("pool-%s-%d@example.org", run, id)},
				Lesson:    relais.Lesson{Title: "Pool " + run},
			})
		}
		return msgs
	}
	check := func(rs []channels.Result) {
		t.Helper()
		for i, r := range rs {
			if r.Err != nil {
				t.Fatalf("message %d: %v", i, r.Err)
			}
		}
	}

	// One page of 25 goes over one connection.
	check(ch.SendBatch(context.Background(), page(25, 1)))
	if got := proxy.conns.Load(); got != 1 {
		t.Fatalf("a page of 25 used %d connections, want 1", got)
	}
	// The next page reuses it.
	check(ch.SendBatch(context.Background(), page(25, 26)))
	if got := proxy.conns.Load(); got != 1 {
		t.Fatalf("two pages used %d connections, want 1 (pooled)", got)
	}
	// Eight concurrent pages share at most MaxConns connections.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			check(ch.SendBatch(context.Background(), page(10, 100+10*g)))
		}(g)
	}
	wg.Wait()
	if got := proxy.conns.Load(); got > 2 {
		t.Fatalf("concurrent pages used %d connections, want at most MaxConns=2", got)
	}
	var list struct {
		MessagesCount int `json:"messages_count"`
	}
	getJSON(t, api+"/api/v1/search?"+url.Values{"query": {"subject:\"Pool " + run + "\""}}.Encode(), &list)
	if list.MessagesCount != 130 {
		t.Errorf("mailpit received %d messages, want 130", list.MessagesCount)
	}
}

func TestMaxPerConnRenewsConnection(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.MaxPerConn = 3
	ch := newChannel(t, cfg)
	var msgs []channels.Message
	for i := 0; i < 7; i++ {
		msgs = append(msgs, channels.Message{Household: relais.Household{Email: fmt.Sprintf("n%d@example.org", i)},
			Lesson: relais.Lesson{Title: "T"}})
	}
	for i, r := range ch.SendBatch(context.Background(), msgs) {
		if r.Err != nil {
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
	if got := relay.conns.Load(); got != 3 {
		t.Errorf("7 messages at 3 per connection used %d connections, want 3", got)
	}
}

func TestRateLimit(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.RatePerSecond = 20
	ch := newChannel(t, cfg)
	var msgs []channels.Message
	for i := 0; i < 11; i++ {
		msgs = append(msgs, channels.Message{Household: relais.Household{Email: fmt.Sprintf("r%d@example.org", i)},
			Lesson: relais.Lesson{Title: "T"}})
	}
	start := time.Now()
	for i, r := range ch.SendBatch(context.Background(), msgs) {
		if r.Err != nil {
			t.Fatalf("message %d: %v", i, r.Err)
		}
	}
	// Burst 2 at 20/s: 11 messages need at least (11-2)/20 s.
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("11 messages at 20/s took %v, want >= 450ms", el)
	}
}

// TestClassifyOnTheWire drives classify through real SMTP answers, one message per case, all in one
// batch so that per-message results keep their order.
func TestClassifyOnTheWire(t *testing.T) {
	rcpt := map[string]string{
		"unknown@example.org":   "550 5.1.1 <unknown@example.org>: Recipient address rejected: User unknown",
		"disabled@example.org":  "550 5.2.1 Mailbox disabled",
		"policy@example.org":    "550 5.7.1 Relaying denied",
		"nocode@example.org":    "550 Mailbox unavailable",
		"notlocal@example.org":  "551 User not local",
		"full@example.org":      "452 4.2.2 Mailbox full",
		"grey@example.org":      "451 4.7.1 Greylisted, try again later",
		"busy@example.org":      "421 4.3.2 Service shutting down",
		"dropped@example.org":   "drop",
		"afterdrop@example.org": "",
	}
	dataEnd := map[string]string{
		"spam@example.org": "554 5.6.0 Message content rejected",
		"tmp@example.org":  "451 4.3.0 Temporary failure, try again",
		"lost@example.org": "drop",
	}
	relay := newFakeRelay(t, func(a string) string { return rcpt[a] }, func(a string) string { return dataEnd[a] })
	ch := newChannel(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port())))

	type want struct {
		Kind    channels.Kind
		Code    string
		Contact relais.ContactStatus
	}
	ok := want{}
	tests := []struct {
		household relais.Household
		want      want
	}{
		{relais.Household{Email: "fine@example.org"}, ok},
		{relais.Household{Email: "unknown@example.org"}, want{channels.Permanent, "550 5.1.1", relais.ContactInvalid}},
		{relais.Household{Email: "disabled@example.org"}, want{channels.Permanent, "550 5.2.1", relais.ContactInvalid}},
		{relais.Household{Email: "policy@example.org"}, want{channels.Permanent, "550 5.7.1", ""}},
		{relais.Household{Email: "nocode@example.org"}, want{channels.Permanent, "550", ""}},
		{relais.Household{Email: "notlocal@example.org"}, want{channels.Permanent, "551", relais.ContactInvalid}},
		{relais.Household{Email: "full@example.org"}, want{channels.Retryable, "452 4.2.2", ""}},
		{relais.Household{Email: "grey@example.org"}, want{channels.Throttled, "451 4.7.1", ""}},
		{relais.Household{Email: "spam@example.org"}, want{channels.Permanent, "554 5.6.0", ""}},
		{relais.Household{Email: "tmp@example.org"}, want{channels.Retryable, "451 4.3.0", ""}},
		// Checked before anything is sent.
		{relais.Household{Email: "not an address"}, want{channels.Permanent, "", relais.ContactInvalid}},
		{relais.Household{Email: "someone@localhost"}, want{channels.Permanent, "", relais.ContactInvalid}},
		{relais.Household{Email: "Name <named@example.org>"}, want{channels.Permanent, "", relais.ContactInvalid}},
		{relais.Household{Email: ""}, want{channels.Permanent, "", relais.ContactInvalid}},
		{relais.Household{Email: "out@example.org", EmailOptOut: true}, want{channels.Permanent, "", relais.ContactOptedOut}},
		{relais.Household{Email: "bounced@example.org", EmailStatus: relais.ContactInvalid}, want{channels.Permanent, "", relais.ContactInvalid}},
		// 421 closes the connection: the message is throttled and the rest go on over a new one.
		{relais.Household{Email: "busy@example.org"}, want{channels.Throttled, "421 4.3.2", ""}},
		{relais.Household{Email: "fine2@example.org"}, ok},
		// The relay hangs up after the message's data, before its answer: retryable, and ambiguous.
		{relais.Household{Email: "lost@example.org"}, want{channels.Retryable, "", ""}},
		// The relay hangs up: retryable, and the next message still goes.
		{relais.Household{Email: "dropped@example.org"}, want{channels.Retryable, "", ""}},
		{relais.Household{Email: "afterdrop@example.org"}, ok},
	}
	var msgs []channels.Message
	for _, tt := range tests {
		msgs = append(msgs, channels.Message{Household: tt.household, Lesson: relais.Lesson{Title: "T"}})
	}
	results := ch.SendBatch(context.Background(), msgs)
	for i, tt := range tests {
		var got want
		if err := results[i].Err; err != nil {
			se, isSE := err.(*channels.SendError)
			if !isSE {
				t.Errorf("%q: error %T is not a *channels.SendError: %v", tt.household.Email, err, err)
				continue
			}
			got = want{se.Kind, se.Code, se.Contact}
			if lost := tt.household.Email == "lost@example.org"; se.Ambiguous != lost {
				t.Errorf("%q: ambiguous %v, want %v", tt.household.Email, se.Ambiguous, lost)
			}
			if se.Kind == channels.Throttled && se.RetryAfter <= 0 {
				t.Errorf("%q: throttled without RetryAfter", tt.household.Email)
			}
		} else if results[i].Receipt.ProviderID == "" {
			t.Errorf("%q: no error and no receipt", tt.household.Email)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.household.Email, diff)
		}
	}
	if diff := cmp.Diff([]string{"fine@example.org", "fine2@example.org", "afterdrop@example.org"}, relay.acceptedRcpts()); diff != "" {
		t.Errorf("accepted (-want +got):\n%s", diff)
	}
}

func TestRelayDownIsRetryable(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	ch := newChannel(t, testConfig(t, addr))
	results := ch.SendBatch(context.Background(), []channels.Message{
		{Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"}},
		{Household: relais.Household{Email: "bad"}, Lesson: relais.Lesson{Title: "T"}},
		{Household: relais.Household{Email: "b@example.org"}, Lesson: relais.Lesson{Title: "T"}},
	})
	kinds := []channels.Kind{channels.ClassOf(results[0].Err).Kind, channels.ClassOf(results[1].Err).Kind,
		channels.ClassOf(results[2].Err).Kind}
	if diff := cmp.Diff([]channels.Kind{channels.Retryable, channels.Permanent, channels.Retryable}, kinds); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

func TestMissingWorksheetIsRetryable(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	ch := newChannel(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port())))
	_, err := ch.Send(context.Background(), channels.Message{
		Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"},
		Worksheet: &relais.Worksheet{Path: filepath.Join(t.TempDir(), "missing.pdf")},
	})
	if se := channels.ClassOf(err); err == nil || se.Kind != channels.Retryable || se.Contact != "" {
		t.Fatalf("got %v, want a retryable error with no verdict on the address", err)
	}
	if n := len(relay.acceptedRcpts()); n != 0 {
		t.Errorf("%d messages sent without their worksheet", n)
	}
}

func TestCanceledContext(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	ch := newChannel(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port())))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ch.Send(ctx, channels.Message{Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"}})
	if se := channels.ClassOf(err); err == nil || se.Kind != channels.Retryable {
		t.Fatalf("got %v, want retryable", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.From = "lessons@relais.example"
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // fragment of the error, "" for none
	}{
		{"default with from", func(*Config) {}, ""},
		{"no from", func(c *Config) { c.From = "" }, "from address is required"},
		{"bad from", func(c *Config) { c.From = "not an address" }, "from address"},
		{"bad reply-to", func(c *Config) { c.ReplyTo = "@@" }, "reply-to"},
		{"bad tls", func(c *Config) { c.TLS = "ssl" }, "TLS policy"},
		{"password without user", func(c *Config) { c.Password = "x" }, "needs a username"},
		{"no conns", func(c *Config) { c.MaxConns = 0 }, "max connections"},
		{"half dkim", func(c *Config) { c.DKIM.Domain = "relais.example" }, "DKIM needs"},
		{"port", func(c *Config) { c.Port = 0 }, "port"},
		{"auth mechanism", func(c *Config) { c.Username, c.AuthMechanism = "u", "DIGEST-MD5" }, "AUTH mechanism"},
		{"login auth", func(c *Config) { c.Username, c.Password, c.AuthMechanism = "u", "p", "login" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestAttachmentName(t *testing.T) {
	tests := map[string]string{
		"Les fractions à l’école": "Les-fractions-à-l-école.pdf",
		"Бөлшектер / 5-сынып":     "Бөлшектер-5-сынып.pdf",
		"  ../../etc/passwd  ":    "etc-passwd.pdf",
		"":                        "worksheet.pdf",
		"???":                     "worksheet.pdf",
	}
	for in, want := range tests {
		if got := attachmentName(in); got != want {
			t.Errorf("attachmentName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeliveryIDFromMessageID(t *testing.T) {
	ch := newChannel(t, testConfig(t, "127.0.0.1:25"))
	id := ch.messageID(4242)
	if got, ok := DeliveryIDFromMessageID("<" + id + ">"); !ok || got != 4242 {
		t.Errorf("DeliveryIDFromMessageID(%q) = %d, %v", id, got, ok)
	}
	if !strings.HasSuffix(id, "@relais.example") {
		t.Errorf("Message-ID %q is not in the sender's domain", id)
	}
	for _, bad := range []string{"", "<abc@example.org>", "<relais.x.y@d>", "<relais.0.ab@d>"} {
		if _, ok := DeliveryIDFromMessageID(bad); ok {
			t.Errorf("DeliveryIDFromMessageID(%q) ok", bad)
		}
	}
}

// TestPoolDropsDeadIdleConnection: the relay hung up on an idle pooled connection; the next page
// notices before sending and dials again instead of failing a message.
func TestPoolDropsDeadIdleConnection(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	ch := newChannel(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port())))
	ch.pool.checkAfter = 0
	msg := channels.Message{Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"}}
	relay.hangUpAfterData.Store(true)
	if _, err := ch.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	relay.hangUpAfterData.Store(false)
	time.Sleep(50 * time.Millisecond) // let the hang-up arrive
	if _, err := ch.Send(context.Background(), msg); err != nil {
		t.Fatalf("second send over a dead pooled connection: %v", err)
	}
	if got := relay.conns.Load(); got != 2 {
		t.Errorf("%d connections, want 2", got)
	}
}

func TestErrorsDoNotShowAddresses(t *testing.T) {
	relay := newFakeRelay(t, func(a string) string { return "550 5.1.1 <" + a + ">: User unknown" }, nil)
	ch := newChannel(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port())))
	_, err := ch.Send(context.Background(), channels.Message{Household: relais.Household{ID: 3, Email: "secret.family@example.org"},
		Lesson: relais.Lesson{Title: "T"}})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "secret.family") {
		t.Errorf("error text shows the address: %v", err)
	}
	if want := "permanent failure (code 550 5.1.1): sending SMTP RCPT TO command: smtp 550 5.1.1"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	var mse interface{ IsTemp() bool }
	if !errors.As(err, &mse) || mse.IsTemp() {
		t.Errorf("the go-mail error is not reachable with errors.As")
	}
}

// TestCancelInterruptsSend: a relay that never answers the end of the data holds the send only
// until the context ends, not for the whole SMTP timeout.
func TestCancelInterruptsSend(t *testing.T) {
	relay := newFakeRelay(t, nil, func(string) string { return "stall" })
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.Timeout = 20 * time.Second
	ch := newChannel(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	results := ch.SendBatch(ctx, []channels.Message{
		{Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"}},
		{Household: relais.Household{Email: "b@example.org"}, Lesson: relais.Lesson{Title: "T"}},
	})
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("send took %v after its context ended", el)
	}
	for i, r := range results {
		if se := channels.ClassOf(r.Err); r.Err == nil || se.Kind != channels.Retryable {
			t.Errorf("message %d: %v, want retryable", i, r.Err)
		}
	}
}

// TestPoolReusesConnectionIdleLongerThanTimeout: a connection idle past the SMTP timeout (but within
// IdleTimeout) is still healthy and is reused, not redialled.
func TestPoolReusesConnectionIdleLongerThanTimeout(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.Timeout = 200 * time.Millisecond
	cfg.IdleTimeout = time.Minute
	ch := newChannel(t, cfg)
	ch.pool.checkAfter = 0
	msg := channels.Message{Household: relais.Household{Email: "a@example.org"}, Lesson: relais.Lesson{Title: "T"}}
	for i := 0; i < 2; i++ {
		if _, err := ch.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	if got := relay.conns.Load(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}
