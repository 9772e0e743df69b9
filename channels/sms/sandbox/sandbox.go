// Package sandbox is a local Twilio-compatible SMS API for tests and the demo. It accepts messages on
// the same path, form fields, credentials and JSON shapes as api.twilio.com, answers Twilio's errors for
// bad numbers and over-long bodies, then calls the message's StatusCallback (queued, sent, delivered),
// signed with X-Twilio-Signature exactly as Twilio signs. It records everything it received and shows it
// at GET /sandbox/messages. Rules inject failures: a share of 429 or 500 answers, an error code for given
// numbers, delayed or missing callbacks. POST /sandbox/inbound simulates a family's reply.
package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/relais-edu/relais/channels/sms"
)

// Config sets the sandbox up.
type Config struct {
	AccountSID string
	AuthToken  string
	// Accounts are more accounts (SID to auth token) the sandbox serves, as Twilio serves each of a
	// ministry's accounts: a message belongs to the account that sent it, and its callbacks are signed
	// with that account's token.
	Accounts map[string]string
	// InboundURL is Relais' inbound webhook (PUBLIC_URL/webhooks/sms/inbound), where simulated replies
	// are posted.
	InboundURL string
	// StepDelay separates the status callbacks of one message (default 20 ms).
	StepDelay time.Duration
	// CallbackAttempts is how many times a callback answered with an error or not at all is tried
	// (default 5, with a doubling pause from 50 ms).
	CallbackAttempts int
	// Rules inject failures; the first rule that matches a message applies.
	Rules []Rule
	// Seed makes the random shares of Rules repeatable (0: a fixed default seed).
	Seed uint64
	// Client makes the callbacks (default: a client with a 10 s timeout).
	Client *http.Client
	Logger *slog.Logger
	Now    func() time.Time
}

// Rule injects a failure into the messages it matches.
type Rule struct {
	// To matches one recipient number; empty matches every number.
	To string `json:"to,omitempty"`
	// Share is the fraction (0-1] of matching messages the rule applies to; 0 means all of them.
	Share float64 `json:"share,omitempty"`
	// HTTPStatus, when set, refuses the API request with this status (429, 500, 400...) and ErrorCode
	// (default 20429 for 429, 20500 for 5xx, 21211 otherwise). RetryAfter is sent with it when set.
	HTTPStatus int           `json:"http_status,omitempty"`
	RetryAfter time.Duration `json:"-"` // "retry_after": "2s" in JSON
	// FinalStatus ("undelivered" or "failed") with ErrorCode ends the callbacks of an accepted message
	// in that failure instead of "delivered".
	FinalStatus string `json:"final_status,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	// CallbackDelay is added before the first callback; NoCallbacks sends none.
	CallbackDelay time.Duration `json:"-"` // "callback_delay": "1m" in JSON
	NoCallbacks   bool          `json:"no_callbacks,omitempty"`
	// DropAnswer accepts the message (it is recorded, sent and called back as any other) but closes the
	// connection instead of answering: the client cannot know whether the message left, as when a
	// request times out after Twilio took it.
	DropAnswer bool `json:"drop_answer,omitempty"`
}

// ruleJSON is Rule with durations written as Go durations ("1.5s"), for rule files and PUT /sandbox/rules.
type ruleJSON struct {
	rulePlain
	RetryAfter    string `json:"retry_after,omitempty"`
	CallbackDelay string `json:"callback_delay,omitempty"`
}

type rulePlain Rule

// MarshalJSON writes durations as "2s".
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{rulePlain: rulePlain(r)}
	if r.RetryAfter != 0 {
		j.RetryAfter = r.RetryAfter.String()
	}
	if r.CallbackDelay != 0 {
		j.CallbackDelay = r.CallbackDelay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads durations written as "2s".
func (r *Rule) UnmarshalJSON(b []byte) error {
	var j ruleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Rule(j.rulePlain)
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{j.RetryAfter, &r.RetryAfter}, {j.CallbackDelay, &r.CallbackDelay}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("rule: %w", err)
		}
		*d.dst = v
	}
	return nil
}

// Message is one request to create a message, as received, with what became of it.
type Message struct {
	Sid                 string     `json:"sid,omitempty"` // empty when the request was refused
	AccountSID          string     `json:"account_sid"`
	To                  string     `json:"to"`
	From                string     `json:"from,omitempty"`
	MessagingServiceSID string     `json:"messaging_service_sid,omitempty"`
	Body                string     `json:"body"`
	StatusCallback      string     `json:"status_callback,omitempty"`
	Status              string     `json:"status,omitempty"`
	NumSegments         int        `json:"num_segments"`
	Encoding            string     `json:"encoding"`
	HTTPStatus          int        `json:"http_status"` // what the API answered
	ErrorCode           int        `json:"error_code,omitempty"`
	ReceivedAt          time.Time  `json:"received_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
	SentAt              time.Time  `json:"sent_at,omitzero"` // when it left: Twilio's date_sent
	Callbacks           []Callback `json:"callbacks"`
}

// Callback is one status callback attempt.
type Callback struct {
	Status     string    `json:"status"`
	At         time.Time `json:"at"`
	HTTPStatus int       `json:"http_status,omitempty"` // 0 when no answer came
	Error      string    `json:"error,omitempty"`
}

// Server is the sandbox. It is an http.Handler; Start or Run serve it on a loopback address.
type Server struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger

	ctx    context.Context // cancelled by Shutdown: stops the callbacks
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	messages []*Message
	bySid    map[string]*Message
	rng      *mathrand.Rand
	srv      *http.Server
}

// New returns a sandbox; nothing runs until it serves a request.
func New(cfg Config) *Server {
	if cfg.StepDelay == 0 {
		cfg.StepDelay = 20 * time.Millisecond
	}
	if cfg.CallbackAttempts == 0 {
		cfg.CallbackAttempts = 5
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = 0x5eed
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger.With("comp", "twilio-sandbox"),
		ctx: ctx, cancel: cancel, bySid: map[string]*Message{}, rng: mathrand.New(mathrand.NewPCG(seed, seed))}
	s.mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.auth(s.createMessage))
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{file}", s.auth(s.fetchMessage))
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages.json", s.auth(s.readMessages))
	s.mux.HandleFunc("GET /sandbox/messages", s.listMessages)
	s.mux.HandleFunc("POST /sandbox/inbound", s.inbound)
	s.mux.HandleFunc("GET /sandbox/rules", s.getRules)
	s.mux.HandleFunc("PUT /sandbox/rules", s.putRules)
	s.mux.HandleFunc("DELETE /sandbox/messages", s.resetMessages)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start serves the sandbox on addr (e.g. "127.0.0.1:0") in a goroutine that Shutdown stops, and returns
// its base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("twilio sandbox: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Run serves on addr until ctx is done, then shuts down within 5 seconds. ready, when not nil, is
// called with the base URL once the sandbox listens.
func (s *Server) Run(ctx context.Context, addr string, ready func(baseURL string)) error {
	base, err := s.Start(addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(base)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown stops serving (when started), cancels pending callbacks and waits for every goroutine of
// the sandbox, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
}

// Close is Shutdown with a 5-second deadline.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

// Messages returns a copy of every create request received, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = *m
		out[i].Callbacks = append([]Callback{}, m.Callbacks...)
	}
	return out
}

// SetRules replaces the failure rules.
func (s *Server) SetRules(rules []Rule) {
	s.mu.Lock()
	s.cfg.Rules = append([]Rule(nil), rules...)
	s.mu.Unlock()
}

// apiError is Twilio's error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg, MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), Status: status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// auth checks HTTP basic auth and the account in the path as Twilio does.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		token, known := s.token(user)
		if !ok || !known || !hmac.Equal([]byte(pass), []byte(token)) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
			return
		}
		if r.PathValue("account") != user {
			writeError(w, http.StatusNotFound, 20404, "The requested resource was not found")
			return
		}
		next(w, r)
	}
}

// token returns the auth token of account, and whether the sandbox serves it.
func (s *Server) token(account string) (string, bool) {
	if account == s.cfg.AccountSID {
		return s.cfg.AuthToken, true
	}
	t, ok := s.cfg.Accounts[account]
	return t, ok
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Could not parse the request body")
		return
	}
	f := r.PostForm
	now := s.cfg.Now().UTC()
	m := &Message{AccountSID: r.PathValue("account"), To: f.Get("To"), From: f.Get("From"),
		MessagingServiceSID: f.Get("MessagingServiceSid"), Body: f.Get("Body"),
		StatusCallback: f.Get("StatusCallback"), ReceivedAt: now, UpdatedAt: now}
	count := sms.Measure(m.Body)
	m.NumSegments, m.Encoding = count.Segments, count.Encoding

	refuse := func(status, code int, msg string, retryAfter time.Duration) {
		m.HTTPStatus, m.ErrorCode = status, code
		s.record(m)
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
		}
		writeError(w, status, code, msg)
	}
	switch {
	case m.To == "":
		refuse(400, 21604, "A 'To' phone number is required.", 0)
		return
	case !e164.MatchString(m.To):
		refuse(400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", m.To), 0)
		return
	case m.From == "" && m.MessagingServiceSID == "":
		refuse(400, 21603, "A 'From' phone number or a 'MessagingServiceSid' is required.", 0)
		return
	case m.Body == "":
		refuse(400, 21602, "Message body is required.", 0)
		return
	case utf8.RuneCountInString(m.Body) > sms.MaxBodyCharacters:
		refuse(400, 21617, "The concatenated message body exceeds the 1600 character limit.", 0)
		return
	}
	rule := s.match(m.To)
	if rule.HTTPStatus != 0 {
		code := rule.ErrorCode
		if code == 0 {
			switch {
			case rule.HTTPStatus == http.StatusTooManyRequests:
				code = 20429
			case rule.HTTPStatus >= 500:
				code = 20500
			default:
				code = 21211
			}
		}
		msg := map[int]string{20429: "Too Many Requests", 20500: "An internal server error has occurred",
			21610: "Attempt to send to unsubscribed recipient", 21614: "'To' number is not a valid mobile number",
			30003: "Unreachable destination handset"}[code]
		if msg == "" {
			msg = "Injected error"
		}
		refuse(rule.HTTPStatus, code, msg, rule.RetryAfter)
		return
	}

	m.Sid = newSid("SM")
	m.Status = "queued"
	m.HTTPStatus = http.StatusCreated
	res := s.resource(m)
	s.record(m)
	if rule.DropAnswer {
		dropConnection(w)
	} else {
		writeJSON(w, http.StatusCreated, res)
	}

	steps := []string{"queued", "sent", "delivered"}
	if rule.FinalStatus == "failed" {
		steps = []string{"queued", "failed"}
	} else if rule.FinalStatus != "" {
		steps = []string{"queued", "sent", rule.FinalStatus}
	}
	s.wg.Add(1)
	go s.progress(m.Sid, steps, rule)
}

// match returns the first rule that applies to a message to `to`, or the zero Rule.
func (s *Server) match(to string) Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.cfg.Rules {
		if r.To != "" && r.To != to {
			continue
		}
		if r.Share > 0 && r.Share < 1 && s.rng.Float64() >= r.Share {
			continue
		}
		return r
	}
	return Rule{}
}

func (s *Server) record(m *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	if m.Sid != "" {
		s.bySid[m.Sid] = m
	}
}

func newSid(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// resource renders m as Twilio's Message resource (api.v2010.account.message). Call with m not shared
// or s.mu held.
func (s *Server) resource(m *Message) map[string]any {
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s", m.AccountSID, m.Sid)
	var errorCode, errorMessage, dateSent any
	if m.ErrorCode != 0 {
		errorCode, errorMessage = m.ErrorCode, "Injected error"
	}
	if !m.SentAt.IsZero() {
		dateSent = m.SentAt.Format(rfc2822)
	}
	var mss any
	if m.MessagingServiceSID != "" {
		mss = m.MessagingServiceSID
	}
	from := any(m.From)
	if m.From == "" {
		from = nil
	}
	return map[string]any{
		"account_sid":           m.AccountSID,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          m.ReceivedAt.Format(rfc2822),
		"date_sent":             dateSent,
		"date_updated":          m.UpdatedAt.Format(rfc2822),
		"direction":             "outbound-api",
		"error_code":            errorCode,
		"error_message":         errorMessage,
		"from":                  from,
		"messaging_service_sid": mss,
		"num_media":             "0",
		"num_segments":          strconv.Itoa(m.NumSegments),
		"price":                 nil,
		"price_unit":            nil,
		"sid":                   m.Sid,
		"status":                m.Status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	}
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request) {
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	s.mu.Lock()
	m := s.bySid[sid]
	var res map[string]any
	if ok && m != nil && m.AccountSID == r.PathValue("account") {
		res = s.resource(m)
	}
	s.mu.Unlock()
	if res == nil {
		writeError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource /2010-04-01/Accounts/%s/Messages/%s was not found", r.PathValue("account"), r.PathValue("file")))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream instead
}

// readMessages answers Twilio's list of messages (GET .../Messages.json), newest first, filtered as
// Twilio filters: To, From, and DateSent, DateSent< and DateSent> on the GMT day a message was sent
// (a message not yet sent has no date_sent and matches no date filter). The days may be written
// YYYY-MM-DD or as an RFC 3339 instant (as twilio-go writes them), whose day counts. Pages follow
// PageSize (default 50, at most 1000) and the PageToken of next_page_uri.
func (s *Server) readMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, 20001, "PageSize must be between 1 and 1000")
			return
		}
		size = n
	}
	var on, before, after string
	for _, f := range []struct {
		key string
		dst *string
	}{{"DateSent", &on}, {"DateSent<", &before}, {"DateSent>", &after}} {
		v := q.Get(f.key)
		if v == "" {
			continue
		}
		day, ok := gmtDay(v)
		if !ok {
			writeError(w, http.StatusBadRequest, 20001, fmt.Sprintf("Invalid %s: %s", f.key, v))
			return
		}
		*f.dst = day
	}
	offset := 0
	if tok := q.Get("PageToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "PA"))
		if err != nil || n < 0 || !strings.HasPrefix(tok, "PA") {
			writeError(w, http.StatusBadRequest, 20001, "Invalid PageToken")
			return
		}
		offset = n
	}
	page, _ := strconv.Atoi(q.Get("Page"))

	s.mu.Lock()
	var match []map[string]any
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Sid == "" || m.AccountSID != r.PathValue("account") || (q.Has("To") && m.To != q.Get("To")) || (q.Has("From") && m.From != q.Get("From")) {
			continue
		}
		if on != "" || before != "" || after != "" {
			if m.SentAt.IsZero() {
				continue
			}
			day := m.SentAt.Format(time.DateOnly)
			if (on != "" && day != on) || (before != "" && day > before) || (after != "" && day < after) {
				continue
			}
		}
		match = append(match, s.resource(m))
	}
	s.mu.Unlock()

	start := min(offset, len(match))
	end := min(start+size, len(match))
	items := match[start:end]
	if items == nil {
		items = []map[string]any{}
	}
	base := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages.json", r.PathValue("account"))
	pageURI := func(p, off int) string {
		v := url.Values{}
		for _, k := range []string{"To", "From", "DateSent", "DateSent<", "DateSent>"} {
			if q.Has(k) {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		if off > 0 {
			v.Set("PageToken", "PA"+strconv.Itoa(off))
		}
		return base + "?" + v.Encode()
	}
	res := map[string]any{
		"messages": items, "page": page, "page_size": size, "start": start, "end": max(end-1, start),
		"uri": pageURI(page, start), "first_page_uri": pageURI(0, 0), "next_page_uri": nil, "previous_page_uri": nil,
	}
	if end < len(match) {
		res["next_page_uri"] = pageURI(page+1, end)
	}
	if start > 0 {
		res["previous_page_uri"] = pageURI(max(page-1, 0), max(start-size, 0))
	}
	writeJSON(w, http.StatusOK, res)
}

// gmtDay reads a DateSent filter: YYYY-MM-DD, or an RFC 3339 instant whose GMT day counts.
func gmtDay(v string) (string, bool) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		return d.Format(time.DateOnly), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Format(time.DateOnly), true
	}
	return "", false
}

// sentStatus reports whether a message in status has left Twilio, so has a date_sent.
func sentStatus(status string) bool {
	return status == "sent" || status == "delivered" || status == "undelivered"
}

// progress moves a message through steps, as the carrier would, and posts each status to the message's
// StatusCallback, in order, when it has one and the rule does not lose them.
func (s *Server) progress(sid string, steps []string, rule Rule) {
	defer s.wg.Done()
	if !s.sleep(rule.CallbackDelay) {
		return
	}
	for i, status := range steps {
		if i > 0 && !s.sleep(s.cfg.StepDelay) {
			return
		}
		s.mu.Lock()
		m := s.bySid[sid]
		if m == nil { // the messages were reset
			s.mu.Unlock()
			return
		}
		m.Status, m.UpdatedAt = status, s.cfg.Now().UTC()
		if sentStatus(status) && m.SentAt.IsZero() {
			m.SentAt = m.UpdatedAt
		}
		if status == "undelivered" || status == "failed" {
			m.ErrorCode = rule.ErrorCode
		}
		params := url.Values{
			"AccountSid": {m.AccountSID}, "ApiVersion": {"2010-04-01"}, "From": {m.From}, "To": {m.To},
			"MessageSid": {m.Sid}, "SmsSid": {m.Sid}, "MessageStatus": {status}, "SmsStatus": {status},
		}
		if m.MessagingServiceSID != "" {
			params.Set("MessagingServiceSid", m.MessagingServiceSID)
		}
		if m.From == "" {
			params.Del("From")
		}
		if m.ErrorCode != 0 {
			params.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
		}
		target := m.StatusCallback
		s.mu.Unlock()
		if target == "" || rule.NoCallbacks {
			continue
		}
		s.post(target, params, func(cb Callback) {
			cb.Status = status
			s.mu.Lock()
			m.Callbacks = append(m.Callbacks, cb)
			s.mu.Unlock()
		})
	}
}

// post sends one signed webhook, trying again while it fails, and reports each attempt.
func (s *Server) post(target string, params url.Values, report func(Callback)) {
	pause := 50 * time.Millisecond
	for attempt := 1; attempt <= s.cfg.CallbackAttempts; attempt++ {
		status, _, err := s.signedPost(s.ctx, target, params)
		cb := Callback{At: s.cfg.Now().UTC(), HTTPStatus: status}
		if err != nil {
			cb.Error = err.Error()
		}
		report(cb)
		if err == nil && status >= 200 && status < 300 {
			return
		}
		if !s.sleep(pause) {
			return
		}
		pause *= 2
	}
}

// signedPost posts params to target with Twilio's signature by the token of the account they name, and
// returns the answer.
func (s *Server) signedPost(ctx context.Context, target string, params url.Values) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	token, _ := s.token(params.Get("AccountSid"))
	req.Header.Set("X-Twilio-Signature", Sign(token, target, params))
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (relais sandbox)")
	res, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(body), err
}

// sleep waits d unless the sandbox shuts down first; it reports whether to go on.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// Sign computes X-Twilio-Signature: base64 of HMAC-SHA1, keyed with the auth token, of the full URL
// followed by every form field name and value, sorted by name.
func Sign(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// listMessages answers GET /sandbox/messages?page=0&page_size=50[&to=+33...].
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	if page < 0 {
		page = 0
	}
	if size <= 0 || size > 1000 {
		size = 50
	}
	var all []Message
	for _, m := range s.Messages() {
		if to := q.Get("to"); to == "" || m.To == to {
			all = append(all, m)
		}
	}
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	items := all[start:end]
	if items == nil {
		items = []Message{}
	}
	res := map[string]any{"page": page, "page_size": size, "total": len(all), "messages": items, "next_page_uri": nil}
	if end < len(all) {
		nq := url.Values{"page": {strconv.Itoa(page + 1)}, "page_size": {strconv.Itoa(size)}}
		if to := q.Get("to"); to != "" {
			nq.Set("to", to)
		}
		res["next_page_uri"] = "/sandbox/messages?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) resetMessages(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.messages, s.bySid = nil, map[string]*Message{}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getRules(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rules := append([]Rule{}, s.cfg.Rules...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, rules)
}

func (s *Server) putRules(w http.ResponseWriter, r *http.Request) {
	var rules []Rule
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&rules); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "rules must be a JSON array: "+err.Error())
		return
	}
	s.SetRules(rules)
	writeJSON(w, http.StatusOK, rules)
}

// InboundResult is what Relais answered to a simulated reply.
type InboundResult struct {
	Sid        string `json:"sid"`
	HTTPStatus int    `json:"http_status"`
	TwiML      string `json:"twiml"`
}

// Inbound simulates a family replying body from `from` to our sender `to`: it posts a signed inbound
// webhook to Config.InboundURL and returns Relais' answer. The reply belongs to the account that last
// sent from `to` to `from` (the account owning the number), else to the default account.
func (s *Server) Inbound(ctx context.Context, from, to, body string) (InboundResult, error) {
	if s.cfg.InboundURL == "" {
		return InboundResult{}, errors.New("twilio sandbox: no inbound URL configured")
	}
	sid := newSid("SM")
	c := sms.Measure(body)
	account := s.cfg.AccountSID
	s.mu.Lock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		if m := s.messages[i]; m.To == from && m.From == to && m.Sid != "" {
			account = m.AccountSID
			break
		}
	}
	s.mu.Unlock()
	params := url.Values{
		"AccountSid": {account}, "ApiVersion": {"2010-04-01"}, "MessageSid": {sid}, "SmsSid": {sid},
		"SmsMessageSid": {sid}, "SmsStatus": {"received"}, "From": {from}, "To": {to}, "Body": {body},
		"NumMedia": {"0"}, "NumSegments": {strconv.Itoa(c.Segments)},
	}
	status, answer, err := s.signedPost(ctx, s.cfg.InboundURL, params)
	if err != nil {
		return InboundResult{Sid: sid}, fmt.Errorf("twilio sandbox: inbound webhook: %w", err)
	}
	return InboundResult{Sid: sid, HTTPStatus: status, TwiML: answer}, nil
}

// inbound answers POST /sandbox/inbound (form or JSON fields From, To, Body).
func (s *Server) inbound(w http.ResponseWriter, r *http.Request) {
	var in struct{ From, To, Body string }
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
			writeError(w, http.StatusBadRequest, 20001, "bad JSON: "+err.Error())
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, 20001, "bad form")
			return
		}
		in.From, in.To, in.Body = r.PostForm.Get("From"), r.PostForm.Get("To"), r.PostForm.Get("Body")
	}
	if !e164.MatchString(in.From) || in.Body == "" {
		writeError(w, http.StatusBadRequest, 21211, "From must be an E.164 number and Body must not be empty")
		return
	}
	res, err := s.Inbound(r.Context(), in.From, in.To, in.Body)
	if err != nil {
		writeError(w, http.StatusBadGateway, 11200, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}
