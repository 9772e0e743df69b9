// Package email sends lessons by email through an SMTP relay: a text and an HTML alternative in the
// household's language, the worksheet PDF attached, a link to the lesson's low-bandwidth page, and
// RFC 8058 one-click unsubscribe. Pages of messages go over pooled SMTP connections (one connection
// per page), under a rate limit, optionally DKIM-signed. Failures are classified once, in classify.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wneessen/go-mail"
	"golang.org/x/time/rate"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/templates"
)

// TemplateName is the email template: templates/email/worksheet.{txt,html}.LANG.tmpl.
const TemplateName = "worksheet"

// MaxHTMLBytes is the largest HTML body sent: Gmail clips messages above about 100 KB.
const MaxHTMLBytes = 100 << 10

// signedHeaders are the headers the DKIM signature covers. Listing the unsubscribe headers protects
// them (RFC 8058 section 4) and signs their absence when a message has none; Reply-To is signed so
// that families' replies cannot be redirected.
//
// The list must fit on one header line ("h=" + list + "; " within 77 columns): go-mail v0.8.1 signs
// the DKIM-Signature tags unfolded but emits them folded, even inside a header name, so a longer list
// makes every signature fail to verify (TestDKIM catches it). Message-ID, MIME-Version and
// Content-Type are left out for that reason; the body hash still covers the MIME parts.
var signedHeaders = []string{"From", "Reply-To", "To", "Subject", "Date", "List-Unsubscribe", "List-Unsubscribe-Post"}

// TemplateData is what the email templates see.
type TemplateData struct {
	Title   string
	Subject string
	Grade   int
	// LessonURL is the lesson's public page (low-bandwidth audio, worksheet).
	LessonURL string
	// UnsubscribeURL is the family's unsubscribe link; empty when none.
	UnsubscribeURL string
	// Attachment is the file name of the attached worksheet; empty when none is attached.
	Attachment string
}

// Channel sends email. It is safe for concurrent use.
type Channel struct {
	cfg       Config
	tmpl      *templates.Set
	pool      *pool
	limiter   *rate.Limiter
	dkim      *mail.DKIMSigner
	from      *netmail.Address
	replyTo   *netmail.Address
	idDomain  string // right-hand side of Message-IDs
	tlsConfig *tls.Config
	now       func() time.Time

	worksheets worksheets // worksheet files, read once (cache.go)
	bodies     bodies     // rendered bodies, once per language and lesson (cache.go)
}

var (
	_ channels.Channel     = (*Channel)(nil)
	_ channels.BatchSender = (*Channel)(nil)
)

// New returns an email channel for cfg, rendering with t. It opens no connection yet; Close
// releases the pooled ones.
func New(cfg Config, t *templates.Set) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("email: templates are required")
	}
	from, _ := netmail.ParseAddress(cfg.From) // checked by Validate
	ch := &Channel{cfg: cfg, tmpl: t, from: from, now: time.Now}
	if cfg.ReplyTo != "" {
		ch.replyTo, _ = netmail.ParseAddress(cfg.ReplyTo)
	}
	ch.idDomain = "relais.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		ch.idDomain = from.Address[i+1:]
	}

	opts := []mail.Option{
		mail.WithPort(cfg.Port),
		mail.WithDialContextFunc(ch.dial),
		mail.WithTimeout(cfg.Timeout),
		// The pool checks connections itself; a NOOP before each message and a RSET after each
		// would add two round trips per message. After a failed RCPT go-mail resets anyway.
		mail.WithoutNoop(),
		mail.WithoutRset(),
	}
	switch cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSMandatory:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		// Channel.dial speaks TLS from the start; WithSSL keeps go-mail from trying STARTTLS.
		opts = append(opts, mail.WithSSL())
	}
	ch.tlsConfig = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		ch.tlsConfig = cfg.TLSConfig.Clone()
		if ch.tlsConfig.ServerName == "" {
			ch.tlsConfig.ServerName = cfg.Host
		}
	}
	opts = append(opts, mail.WithTLSConfig(ch.tlsConfig))
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		mech := cfg.AuthMechanism
		if mech == "" {
			mech = string(mail.SMTPAuthPlain)
		}
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthType(strings.ToUpper(mech))),
			mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	client, err := mail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}

	if cfg.DKIM.Enabled() {
		key, err := mail.PrivKeyFromPEM(cfg.DKIM.PrivateKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("email: DKIM private key: %w", err)
		}
		signer := mail.NewDKIMSigner(cfg.DKIM.Domain, cfg.DKIM.Selector, key)
		signer.SignHeaders(signedHeaders...)
		if err := signer.ValidateConfig(); err != nil {
			return nil, fmt.Errorf("email: DKIM: %w", err)
		}
		// The signer records its algorithm on first use: sign once here, before it is shared by
		// concurrent sends, so that they only read it.
		if _, err := signer.Sign([]byte("From: <x@relais.invalid>\r\n"), nil); err != nil {
			return nil, fmt.Errorf("email: DKIM: %w", err)
		}
		ch.dkim = signer
	}

	ch.limiter = rate.NewLimiter(rate.Inf, 1)
	if cfg.RatePerSecond > 0 {
		ch.limiter = rate.NewLimiter(rate.Limit(cfg.RatePerSecond), max(1, int(cfg.RatePerSecond/10)))
	}
	ch.pool = newPool(client, cfg.MaxConns, cfg.IdleTimeout, cfg.Timeout)
	return ch, nil
}

// dial opens the TCP (or, for TLSImplicit, TLS) connection to the relay and leaves it where
// pool.connect can find it.
func (c *Channel) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if c.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: c.tlsConfig}).DialContext(ctx, network, addr)
	} else {
		conn, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	if p, ok := ctx.Value(rawConnKey{}).(*net.Conn); ok {
		*p = conn
	}
	return conn, nil
}

// Name is relais.ChannelEmail.
func (c *Channel) Name() relais.ChannelName { return relais.ChannelEmail }

// Close closes the idle pooled connections. Sends still running finish and close theirs.
func (c *Channel) Close() error {
	c.pool.close()
	return nil
}

// Send sends one message over a pooled connection.
func (c *Channel) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	r := c.SendBatch(ctx, []channels.Message{m})[0]
	return r.Receipt, r.Err
}

// CallsBegin says that SendBatch calls each message's Begin once its connection is ready, right before
// the SMTP transaction (channels.BeginCaller).
func (c *Channel) CallsBegin() bool { return true }

// SendBatch sends msgs over one pooled SMTP connection, in order, under the rate limit, and returns
// one result per message; each message is Answered as soon as the relay answered, before the next
// begins, and every one (those not sent too) before the batch's place in the pool goes back. A
// message that cannot be built (bad address, missing worksheet) fails alone; when the connection
// breaks the message in flight fails as retryable and the rest go on over a new connection, in the
// same place. Errors are *channels.SendError.
//
// A message's Begin runs while its SMTP transaction starts (MAIL FROM, RCPT TO, DATA and the content
// up to its last part), and the message's end (its last part, then the lone dot that makes the relay
// take it) waits for Begin to return: Begin's work (the queue's commit of the claim) overlaps the
// round trips instead of adding to them, and the relay can have the message only once Begin said yes.
// When Begin refuses, the transaction is abandoned mid-content by dropping the connection, which makes
// the relay discard what it got (RFC 5321, 4.1.1.4), and the message's result is Begin's error.
func (c *Channel) SendBatch(ctx context.Context, msgs []channels.Message) []channels.Result {
	results := make([]channels.Result, len(msgs))
	built := make([]*mail.Msg, len(msgs))
	holds := make([]*hold, len(msgs))
	pending := 0
	attachments := make(map[string][]byte) // worksheets are shared by a page: read each once
	for i, m := range msgs {
		holds[i] = &hold{}
		msg, err := c.build(ctx, m, attachments, holds[i])
		if err != nil {
			results[i].Err = classify(err)
			m.Answer(results[i])
			continue
		}
		built[i] = msg
		pending++
	}
	if pending == 0 {
		return results
	}

	// The batch takes a slot of the pool when its first message is ready to go and holds it to its
	// end, every message answered: a connection renewed meanwhile (it broke, or reached MaxPerConn) is
	// renewed in the slot. Given up mid-batch, the slot would carry another batch's message while the
	// answer to this one's last is not yet recorded (Message.Answered): two messages of unknown fate
	// on one connection's worth of the pool.
	var conn *conn
	held := false
	defer func() {
		switch {
		case conn != nil && c.spent(conn): // closed now rather than taken by the next batch
			c.pool.drop(conn, true)
			c.pool.release()
		case conn != nil:
			c.pool.put(conn)
		case held:
			c.pool.release()
		}
	}()
	for i, msg := range built {
		if msg == nil {
			continue
		}
		if err := c.limiter.Wait(ctx); err != nil {
			c.failRest(msgs, results, built, i, err)
			break
		}
		if conn != nil && c.spent(conn) {
			c.pool.drop(conn, true)
			conn = nil
		}
		if !held {
			if err := c.pool.take(ctx); err != nil {
				c.failRest(msgs, results, built, i, fmt.Errorf("connect to relay: %w", err))
				break
			}
			held = true
		}
		if conn == nil {
			var err error
			if conn, err = c.pool.connect(ctx); err != nil {
				c.failRest(msgs, results, built, i, fmt.Errorf("connect to relay: %w", err))
				break
			}
		}
		if msgs[i].Begin != nil {
			holds[i].begin(msgs[i])
		}
		var err error
		for {
			reused := conn.sent > 0
			var interrupted bool
			interrupted, err = c.sendOn(ctx, conn, msg)
			if !interrupted && (err == nil || !isConnFailure(err)) {
				break
			}
			c.pool.drop(conn, false)
			conn = nil
			if interrupted || !reused || !beforeData(err) {
				break
			}
			// The relay had closed the pooled connection before this message went (it hangs up on
			// connections idle for a while, or restarted): the message certainly did not go. It goes
			// again over another pooled connection, or a new one; a new one's failure is its result.
			if conn, err = c.pool.connect(ctx); err != nil {
				err = fmt.Errorf("connect to relay: %w", err)
				break
			}
		}
		if refused := holds[i].wait(); refused != nil {
			// Not sent: its end waited for Begin, and the transaction was dropped (or failed) before it.
			results[i].Err = refused
			msgs[i].Answer(results[i])
			continue
		}
		if err == nil {
			results[i].Receipt = channels.Receipt{ProviderID: msg.GetMessageID(), Status: relais.DeliverySent}
		} else {
			results[i].Err = classify(err)
		}
		msgs[i].Answer(results[i])
	}
	return results
}

// spent reports whether conn carried the relay's limit of messages (MaxPerConn): it is renewed.
func (c *Channel) spent(conn *conn) bool {
	return c.cfg.MaxPerConn > 0 && conn.sent >= c.cfg.MaxPerConn
}

// hold keeps a message's end (its last part) until its Begin has returned: begin starts Begin, and the
// message's last part calls wait before it is written. A message whose Begin was not started goes
// without waiting.
type hold struct {
	done chan struct{} // closed when Begin returned; nil when Begin was not started
	err  error         // Begin's refusal
}

// begin runs m's Begin while the message's transaction starts.
func (h *hold) begin(m channels.Message) {
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		h.err = m.BeginSend()
	}()
}

// wait returns Begin's answer once it has returned: nil to go on, its refusal otherwise.
func (h *hold) wait() error {
	if h.done == nil {
		return nil
	}
	<-h.done
	return h.err
}

// heldReader reads r, then waits for h before it reports the end: the last bytes of an attachment
// written last go only once Begin said yes.
type heldReader struct {
	r *bytes.Reader
	h *hold
}

func (hr heldReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if err == io.EOF {
		if refused := hr.h.wait(); refused != nil {
			return n, refused
		}
	}
	return n, err
}

func (hr heldReader) Seek(offset int64, whence int) (int64, error) { return hr.r.Seek(offset, whence) }

// sendOn sends msg over conn. A context that ends during the send interrupts it (the connection's
// deadline passes at once): interrupted reports it.
func (c *Channel) sendOn(ctx context.Context, conn *conn, msg *mail.Msg) (interrupted bool, err error) {
	raw := conn.raw
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	err = c.pool.client.SendWithSMTPClient(conn.c, msg)
	interrupted = !stop()
	conn.sent++
	return interrupted, err
}

// failRest fails every built message from index from on with err, and answers it.
func (c *Channel) failRest(msgs []channels.Message, results []channels.Result, built []*mail.Msg, from int, err error) {
	for i := from; i < len(built); i++ {
		if built[i] != nil && results[i].Err == nil && results[i].Receipt.ProviderID == "" {
			results[i].Err = classify(err)
			msgs[i].Answer(results[i])
		}
	}
}

// build turns a Message into a go-mail message. Errors are classified: a household that cannot
// receive email fails permanently.
func (c *Channel) build(ctx context.Context, m channels.Message, attachments map[string][]byte, end *hold) (*mail.Msg, error) {
	h := m.Household
	switch {
	case h.EmailOptOut:
		return nil, &channels.SendError{Kind: channels.Permanent, Contact: relais.ContactOptedOut,
			Err: fmt.Errorf("household %d opted out of email", h.ID)}
	case h.EmailStatus == relais.ContactInvalid || h.EmailStatus == relais.ContactOptedOut:
		return nil, &channels.SendError{Kind: channels.Permanent, Contact: h.EmailStatus,
			Err: fmt.Errorf("household %d email is %s", h.ID, h.EmailStatus)}
	}
	to, err := parseRecipient(h.Email)
	if err != nil {
		return nil, &channels.SendError{Kind: channels.Permanent, Contact: relais.ContactInvalid,
			Err: fmt.Errorf("household %d email: %w", h.ID, err)}
	}

	data := TemplateData{Title: m.Lesson.Title, Subject: m.Lesson.Subject, Grade: m.Lesson.Grade,
		LessonURL: m.LessonURL, UnsubscribeURL: m.UnsubscribeURL}
	var pdf []byte
	if m.Worksheet != nil && m.Worksheet.Path != "" {
		pdf = attachments[m.Worksheet.Path]
		if pdf == nil {
			if pdf, err = c.readWorksheet(ctx, m.Worksheet.Path); err != nil {
				// Our storage, not the family: worth another try.
				return nil, &channels.SendError{Kind: channels.Retryable,
					Err: fmt.Errorf("read worksheet of lesson %d: %w", m.Lesson.ID, err)}
			}
			attachments[m.Worksheet.Path] = pdf
		}
		data.Attachment = attachmentName(m.Lesson.Title)
	}
	text, html, err := c.renderCached(h.Language, data)
	if err != nil {
		return nil, &channels.SendError{Kind: channels.Permanent, Err: err}
	}

	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(c.from)
	if c.replyTo != nil {
		msg.ReplyToMailAddress(c.replyTo)
	}
	msg.ToMailAddress(to)
	msg.Subject(m.Lesson.Title)
	msg.SetMessageIDWithValue(c.messageID(m.Delivery.ID))
	msg.SetDateWithValue(c.now())
	msg.SetUserAgent("Relais " + relais.Version)
	// Ask auto-responders not to answer a lesson.
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	if m.UnsubscribeURL != "" {
		if err := msg.SetListUnsubscribeOneClick(m.UnsubscribeURL); err != nil {
			// RFC 8058 one-click needs HTTPS; over plain HTTP only advertise the link.
			msg.SetListUnsubscribe(m.UnsubscribeURL)
		}
	}
	// The part written last (go-mail writes the bodies, then the attachments) waits for end: the
	// worksheet's end, or else the HTML body (see SendBatch).
	msg.SetBodyString(mail.TypeTextPlain, text)
	htmlHold := end
	if pdf != nil {
		htmlHold = &hold{}
	}
	msg.AddAlternativeWriter(mail.TypeTextHTML, func(w io.Writer) (int64, error) {
		if refused := htmlHold.wait(); refused != nil {
			return 0, refused
		}
		n, err := io.WriteString(w, html)
		return int64(n), err
	})
	if pdf != nil {
		msg.AttachReadSeeker(data.Attachment, heldReader{bytes.NewReader(pdf), end}, mail.WithFileContentType(mail.ContentType("application/pdf")))
	}
	if c.dkim != nil {
		msg.SetDKIM(c.dkim)
	}
	return msg, nil
}

// render returns the text and HTML bodies in lang (English when the template has no such language).
func (c *Channel) render(lang string, data TemplateData) (text, html string, err error) {
	var tb, hb bytes.Buffer
	if err := c.tmpl.EmailText(&tb, TemplateName, lang, data); err != nil {
		return "", "", fmt.Errorf("render email text: %w", err)
	}
	if err := c.tmpl.EmailHTML(&hb, TemplateName, lang, data); err != nil {
		return "", "", fmt.Errorf("render email html: %w", err)
	}
	if hb.Len() > MaxHTMLBytes {
		return "", "", fmt.Errorf("email html is %d bytes, over %d", hb.Len(), MaxHTMLBytes)
	}
	return tb.String(), hb.String(), nil
}

// messageID returns a new Message-ID (without angle brackets). It starts with the delivery id so that
// a bounce quoting it leads back to the delivery; the random part keeps it unique per attempt.
func (c *Channel) messageID(deliveryID int64) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "relais." + strconv.FormatInt(deliveryID, 10) + "." + hex.EncodeToString(b[:]) + "@" + c.idDomain
}

// DeliveryIDFromMessageID returns the delivery id in a Message-ID made by this channel ("<...>" or
// bare), for matching bounces.
func DeliveryIDFromMessageID(id string) (int64, bool) {
	id = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
	rest, ok := strings.CutPrefix(id, "relais.")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil && n > 0
}

// parseRecipient accepts a bare address (no display name) with a dotted domain.
func parseRecipient(s string) (*netmail.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("no address")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, err
	}
	if a.Address != s {
		return nil, errors.New("not a bare address")
	}
	at := strings.LastIndexByte(a.Address, '@')
	if domain := a.Address[at+1:]; !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return nil, errors.New("domain is not a host name")
	}
	return a, nil
}

// attachmentName returns a file name for the worksheet from the lesson title: letters (any script),
// digits and dashes, at most 60 of them.
func attachmentName(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.TrimSpace(title) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		name = "worksheet"
	}
	return name + ".pdf"
}

// readWorksheet reads a worksheet from the media store, or the file at loc without one.
func (c *Channel) readWorksheet(ctx context.Context, loc string) ([]byte, error) {
	if c.cfg.Media == nil {
		return c.worksheets.read(loc) // once per lesson, not per message (cache.go)
	}
	o, err := c.cfg.Media.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}
