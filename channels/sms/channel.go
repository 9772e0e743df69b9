// Package sms sends lesson digests by SMS through Twilio and receives Twilio's status callbacks and the
// families' replies. It also holds what SMS staff need around it: the segment counter that matches
// Twilio's calculator, the typographic policy, and the digest writer that condenses a lesson into a
// few segments.
package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/phone"
	"github.com/relais-edu/relais/templates"
)

// Store is what the webhooks read to find the delivery or the households a callback is about. What
// they learn goes to the delivery ledger as verdicts (channels.Recorder), not to the store.
type Store interface {
	DeliveryByProviderID(ctx context.Context, channel relais.ChannelName, providerID string) (relais.Delivery, error)
	DeliveriesByIDs(ctx context.Context, ids []int64) ([]relais.Delivery, error)
	HouseholdsByPhone(ctx context.Context, phone string) ([]relais.Household, error)
}

// Channel sends SMS through Twilio.
type Channel struct {
	cfg       Config
	senders   []PoolSender
	lanes     channels.Pool
	accounts  map[string]string // auth token by account SID
	apiURL    *url.URL
	base      http.RoundTripper
	store     Store
	verdicts  channels.Recorder
	templates *templates.Set
	log       *slog.Logger
	now       func() time.Time
	limiter   *Limiter
}

var (
	_ channels.Channel        = (*Channel)(nil)
	_ channels.WebhookHandler = (*Channel)(nil)
	_ channels.Balancer       = (*Channel)(nil)
)

// Option changes how New builds a channel.
type Option func(*Channel)

// WithTransport sets the HTTP transport under the channel's own (default http.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option { return func(c *Channel) { c.base = rt } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Channel) { c.log = l } }

// WithLimiter makes Send wait for the sender's allowance of segments, shared through Redis by every
// worker; a wait longer than the limiter's MaxWait fails Send as Throttled.
func WithLimiter(l *Limiter) Option { return func(c *Channel) { c.limiter = l } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Channel) { c.now = now } }

// New returns an SMS channel. The webhooks find deliveries and households in store and hand status
// callbacks, STOP and START, and replies to verdicts; t renders the help reply.
func New(cfg Config, store Store, verdicts channels.Recorder, t *templates.Set, opts ...Option) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || verdicts == nil || t == nil {
		return nil, errors.New("sms: a store, a verdict recorder and templates are needed")
	}
	c := &Channel{cfg: cfg, accounts: map[string]string{}, base: http.DefaultTransport, store: store, verdicts: verdicts,
		templates: t, log: slog.Default(), now: time.Now}
	c.senders, _, _ = cfg.pool() // checked by Validate
	c.lanes = lanes(c.senders)
	for _, s := range c.senders {
		c.accounts[s.AccountSID] = s.AuthToken
	}
	c.accounts[cfg.AccountSID] = cfg.AuthToken
	if cfg.APIURL != "" {
		c.apiURL, _ = url.Parse(cfg.APIURL) // checked by Validate
	}
	for _, o := range opts {
		o(c)
	}
	c.log = c.log.With("comp", "sms")
	return c, nil
}

// Name is relais.ChannelSMS.
func (c *Channel) Name() relais.ChannelName { return relais.ChannelSMS }

// Senders describes the configured senders: the limiter's rates, the plan's capacity, the senders page.
func (c *Channel) Senders() channels.Pool { return c.lanes }

// SenderFor returns the sender of household's messages to phone (E.164), and the number's country: one of
// the senders of that country (else of DefaultCountry), always the same for one household
// (channels.Assign): the sender of a household that remembers none (Household.SMSSender).
func (c *Channel) SenderFor(phone string, household int64) (PoolSender, string, error) {
	return c.senderFor(relais.Household{ID: household, Phone: phone}, "")
}

// senderFor returns the sender of h's messages: the sender named lane (the one the fan-out chose for
// the household's page: Balance), else the one the household remembers (Household.SMSSender: a message
// queued again without its lane, by the sweep or a resend, stays on the family's sender), else its own
// (SenderFor); lane and remembered count only while they serve the number's country.
func (c *Channel) senderFor(h relais.Household, lane string) (PoolSender, string, error) {
	country, err := regionOf(h.Phone)
	if err != nil {
		return PoolSender{}, "", err
	}
	for _, name := range []string{lane, h.SMSSender} {
		if name == "" {
			continue
		}
		for _, l := range c.lanes.Lanes(country) {
			if l.Name == name {
				return c.sender(l), country, nil
			}
		}
	}
	l, ok := c.lanes.Assign(country, h.ID)
	if !ok {
		return PoolSender{}, country, &channels.SendError{Kind: channels.Permanent, Code: "no_sender",
			Err: fmt.Errorf("no SMS sender configured for country %s", country)}
	}
	return c.sender(l), country, nil
}

// sender is the configured sender of lane l.
func (c *Channel) sender(l channels.Lane) PoolSender {
	i := slices.IndexFunc(c.senders, func(s PoolSender) bool { return s.Name == l.Name && s.Country == l.Country })
	return c.senders[i]
}

// Balance returns the sender of each household of a batch (a fan-out page), by name: the sender the
// household remembers (Household.SMSSender) while it serves the household's country, else one of the
// senders of that country shared with bounded loads within the room the others leave
// (channels.Pool.BalanceRemembered with Config.LoadBound); "" for a household with an invalid phone or
// of a country no sender serves. Send and Lookup take it from Message.Lane; the fan-out records it
// as the household's sender.
func (c *Channel) Balance(hs []relais.Household) []string {
	countries := make([]string, len(hs))
	ids := make([]int64, len(hs))
	remembered := make([]string, len(hs))
	for i, h := range hs {
		countries[i], ids[i], remembered[i] = phone.Region(h.Phone), h.ID, h.SMSSender
	}
	out := make([]string, len(hs))
	for i, j := range c.lanes.BalanceRemembered(countries, ids, remembered, c.cfg.LoadBound) {
		if j >= 0 && countries[i] != "" {
			out[i] = c.lanes[j].Name
		}
	}
	return out
}

// regionOf returns the region of a valid number in E.164 form (phone.Region), and a permanent failure
// for any other number.
func regionOf(number string) (string, error) {
	invalid := func(why string) error {
		return &channels.SendError{Kind: channels.Permanent, Code: "21211", Contact: relais.ContactInvalid,
			Err: fmt.Errorf("phone number %s", why)}
	}
	region := phone.Region(number) // "" for a number not in E.164 form too
	switch {
	case region != "":
		return region, nil
	case !phone.IsE164(number):
		return "", invalid("is not in E.164 form")
	}
	return "", invalid("is not a valid number")
}

// Body returns the text Send would send for a digest.
func (c *Channel) Body(d *relais.Digest) string {
	if c.cfg.Smart {
		return Smart(d.Body)
	}
	return d.Body
}

// Send sends the household's digest to its phone. Failures are *channels.SendError. A household with
// data (broadband or mobile data) also gets the link to its lesson page, on a line of its own; the
// digest was written with room for it (DigestInput.LinkChars).
func (c *Channel) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	body, err := c.body(m)
	if err != nil {
		return channels.Receipt{}, err
	}
	return c.sendBody(ctx, m, body)
}

// body is the text Send sends for m.
func (c *Channel) body(m channels.Message) (string, error) {
	if m.Digest == nil || strings.TrimSpace(m.Digest.Body) == "" {
		return "", &channels.SendError{Kind: channels.Permanent, Code: "no_digest",
			Err: fmt.Errorf("lesson %d has no SMS digest in %q", m.Lesson.ID, m.Household.Language)}
	}
	body := c.Body(m.Digest)
	if m.LessonURL != "" && HasData(m.Household.Profile) {
		body += "\n" + m.LessonURL
	}
	return body, nil
}

// HasData reports whether households of profile p can open a web link on their phone.
func HasData(p relais.Profile) bool {
	return p == relais.ProfileBroadband || p == relais.ProfileMobileData
}

// sendBody sends body to the household's phone.
func (c *Channel) sendBody(ctx context.Context, m channels.Message, body string) (channels.Receipt, error) {
	h := m.Household
	switch {
	case h.SMSOptOut:
		return channels.Receipt{}, &channels.SendError{Kind: channels.Permanent, Code: "opted_out",
			Contact: relais.ContactOptedOut, Err: fmt.Errorf("household %d opted out of SMS", h.ID)}
	case h.PhoneStatus != relais.ContactOK:
		return channels.Receipt{}, &channels.SendError{Kind: channels.Permanent, Code: "phone_" + string(h.PhoneStatus),
			Contact: h.PhoneStatus, Err: fmt.Errorf("household %d phone is %s", h.ID, h.PhoneStatus)}
	}
	sender, _, err := c.senderFor(h, m.Lane)
	if err != nil {
		return channels.Receipt{}, err
	}
	if n := len([]rune(body)); n > MaxBodyCharacters {
		return channels.Receipt{}, &channels.SendError{Kind: channels.Permanent, Code: "21617",
			Err: fmt.Errorf("message of lesson %d is %d characters, over Twilio's %d", m.Lesson.ID, n, MaxBodyCharacters)}
	}

	if c.limiter != nil {
		done, err := c.limiter.Wait(ctx, sender.Name, Measure(body).Segments)
		if err != nil {
			return channels.Receipt{}, channels.ClassOf(err) // a context error is worth a retry
		}
		defer done() // the segments count as sent when the call has ended, whatever its outcome
	}
	// The queue's last word before the provider call: after a long wait for the rate, the message's
	// claim may no longer be safely this attempt's (Message.Begin).
	if err := m.BeginSend(); err != nil {
		return channels.Receipt{}, err
	}

	params := &openapi.CreateMessageParams{}
	params.SetTo(h.Phone)
	params.SetBody(body)
	if sender.Kind == SenderMessagingService {
		params.SetMessagingServiceSid(sender.From)
	} else {
		params.SetFrom(sender.From)
	}
	if c.cfg.PublicURL != "" {
		// The delivery id rides in the callback URL: a callback can arrive before the send task has
		// recorded the message SID, and Twilio does not retry a callback we could not place.
		cb := strings.TrimRight(c.cfg.PublicURL, "/") + StatusPath
		if m.Delivery.ID > 0 {
			cb += "?" + deliveryParam + "=" + strconv.FormatInt(m.Delivery.ID, 10)
			if m.Delivery.Occurrence > 0 {
				cb += "&" + occurrenceParam + "=" + strconv.FormatInt(m.Delivery.Occurrence, 10)
			}
		}
		params.SetStatusCallback(cb)
	}
	if c.cfg.ValidityPeriod > 0 {
		params.SetValidityPeriod(int(c.cfg.ValidityPeriod / time.Second))
	}

	api, call := c.api(ctx, sender.AccountSID)
	msg, err := api.CreateMessage(params)
	if err != nil {
		return channels.Receipt{}, classify(err, *call)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return channels.Receipt{}, &channels.SendError{Kind: channels.Retryable, Ambiguous: true, Err: errors.New("twilio answered without a message SID")}
	}
	r := channels.Receipt{ProviderID: *msg.Sid, Status: relais.DeliveryQueued}
	if msg.Status != nil {
		if s, ok := deliveryStatus(*msg.Status); ok {
			r.Status = s
		}
	}
	return r, nil
}

// call is what the transport saw of one API call that twilio-go does not pass on.
type call struct {
	status     int
	retryAfter time.Duration
	wrote      bool // the whole request went out: Twilio may have acted on it
}

// api returns a Twilio API client of account (a SID of the pool) for one call: twilio-go takes no context and has no base-URL setting,
// so its http.Client gets a transport that binds ctx, rewrites scheme and host to APIURL, and keeps the
// HTTP status and Retry-After of the answer.
func (c *Channel) api(ctx context.Context, account string) (*openapi.ApiService, *call) {
	cl := &call{}
	tc := &client.Client{
		Credentials: client.NewCredentials(account, c.accounts[account]),
		HTTPClient: &http.Client{
			Transport:     &transport{ctx: ctx, base: c.base, apiURL: c.apiURL, call: cl, now: c.now},
			Timeout:       c.cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	tc.SetAccountSid(account)
	// A RequestHandler built by hand: NewRequestHandler would read TWILIO_EDGE and TWILIO_REGION.
	return openapi.NewApiService(&client.RequestHandler{Client: tc}), cl
}

type transport struct {
	ctx    context.Context
	base   http.RoundTripper
	apiURL *url.URL
	call   *call
	now    func() time.Time
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cl := t.call
	req = req.Clone(httptrace.WithClientTrace(t.ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { cl.wrote = cl.wrote || i.Err == nil },
	}))
	if t.apiURL != nil {
		req.URL.Scheme = t.apiURL.Scheme
		req.URL.Host = t.apiURL.Host
		req.Host = t.apiURL.Host
	}
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.call.status = res.StatusCode
	t.call.retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), t.now())
	return res, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// classify maps what Twilio answered to a *channels.SendError. It is the one place that reads Twilio's
// error codes for a send; c is what the transport saw: the HTTP status (0 when no answer came), the
// Retry-After, and whether the request was written. A request written with no answer (a timeout, a
// connection lost after the request) or an answer of success that could not be read may have created
// the message: Ambiguous, never sent again before Twilio is asked. A refused connection, a 429 or a
// 5xx with an answer did not: the message may go again.
func classify(err error, c call) *channels.SendError {
	status, retryAfter := c.status, c.retryAfter
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		var v1 *client.RestErrorV1
		if errors.As(err, &v1) {
			te = &client.TwilioRestError{Status: v1.HttpStatusCode, Code: v1.Code, Message: v1.Message}
		}
	}
	if te == nil {
		// No Twilio error body: a network failure, a timeout, or an answer twilio-go could not decode
		// (a proxy's 502 page). The HTTP status, when there was one, decides.
		switch {
		case status == http.StatusTooManyRequests:
			return &channels.SendError{Kind: channels.Throttled, Code: "429", RetryAfter: retryAfter, Err: err}
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout:
			return &channels.SendError{Kind: channels.Permanent, Code: strconv.Itoa(status), Err: err}
		case status >= 200 && status < 300:
			return &channels.SendError{Kind: channels.Retryable, Code: strconv.Itoa(status), Ambiguous: true, Err: err}
		case status != 0:
			return &channels.SendError{Kind: channels.Retryable, Code: strconv.Itoa(status), Err: err}
		}
		return &channels.SendError{Kind: channels.Retryable, Ambiguous: c.wrote, Err: err}
	}
	if te.Status == 0 {
		te.Status = status
	}
	code := strconv.Itoa(te.Code)
	if te.Code == 0 {
		code = strconv.Itoa(te.Status)
	}
	se := &channels.SendError{Code: code, Err: &twilioError{rest: te, cause: err}}
	if contact, ok := contactStatusOf(te.Code); ok {
		se.Kind, se.Contact = channels.Permanent, contact
		return se
	}
	switch {
	case te.Code == 20429 || te.Status == http.StatusTooManyRequests:
		se.Kind, se.RetryAfter = channels.Throttled, retryAfter
	case te.Code == 30003 || te.Status >= 500 || te.Status == http.StatusRequestTimeout:
		se.Kind = channels.Retryable
	default: // any other 4xx: the request itself is wrong (bad sender, body too long, auth): retrying repeats it
		se.Kind = channels.Permanent
	}
	return se
}

// twilioError hides Twilio's message, which quotes the recipient's number, from logs; errors.As still
// finds what twilio-go returned.
type twilioError struct {
	rest  *client.TwilioRestError
	cause error
}

func (e *twilioError) Error() string {
	return fmt.Sprintf("twilio: HTTP %d, error %d (https://www.twilio.com/docs/errors/%d)", e.rest.Status, e.rest.Code, e.rest.Code)
}

func (e *twilioError) Unwrap() error { return e.cause }

// contactStatusOf says what a Twilio error code tells about the recipient's number.
func contactStatusOf(code int) (relais.ContactStatus, bool) {
	switch code {
	case 21211, 30005: // invalid To; unknown destination handset
		return relais.ContactInvalid, true
	case 21614, 30006: // To is not a mobile number; landline or unreachable carrier
		return relais.ContactLandline, true
	case 21610: // the recipient replied STOP
		return relais.ContactOptedOut, true
	}
	return relais.ContactOK, false
}

// deliveryStatus maps a Twilio message status to a delivery status.
func deliveryStatus(s string) (relais.DeliveryStatus, bool) {
	switch s {
	case "accepted", "scheduled", "queued":
		return relais.DeliveryQueued, true
	case "sending":
		return relais.DeliverySending, true
	case "sent":
		return relais.DeliverySent, true
	case "delivered", "read":
		return relais.DeliveryDelivered, true
	case "undelivered":
		return relais.DeliveryUndelivered, true
	case "failed", "canceled":
		return relais.DeliveryFailed, true
	}
	return "", false
}
