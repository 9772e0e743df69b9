package sms

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/twilio/twilio-go/client"
	"golang.org/x/text/unicode/norm"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Webhooks returns the handler of Twilio's calls to Relais, to be mounted at WebhookPrefix with the full
// path kept: POST StatusPath receives status callbacks, POST InboundPath the families' replies. Every
// request must carry a valid X-Twilio-Signature for PublicURL + path, or it is refused with 403.
func (c *Channel) Webhooks() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+StatusPath, c.signed(http.HandlerFunc(c.handleStatus)))
	mux.Handle("POST "+InboundPath, c.signed(http.HandlerFunc(c.handleInbound)))
	return mux
}

const maxWebhookBody = 64 << 10

// signed refuses requests whose X-Twilio-Signature does not match the form and the public URL, signed
// with the auth token of the account the form names (AccountSid: any account of the pool; the default
// account when the form names none).
func (c *Channel) signed(next http.Handler) http.Handler {
	validators := map[string]client.RequestValidator{}
	for sid, token := range c.accounts {
		validators[sid] = client.NewRequestValidator(token)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		sig := r.Header.Get("X-Twilio-Signature")
		params := make(map[string]string, len(r.PostForm))
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		account := r.PostForm.Get("AccountSid")
		if account == "" {
			account = c.cfg.AccountSID
		}
		validator, known := validators[account]
		if sig == "" || c.cfg.PublicURL == "" || !known ||
			!validator.Validate(strings.TrimRight(c.cfg.PublicURL, "/")+r.URL.RequestURI(), params, sig) {
			c.log.Warn("webhook refused: bad or missing signature", "path", r.URL.Path)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleStatus moves the delivery a status callback is about and records what an error code says of
// the number.
func (c *Channel) handleStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := callbackContext(r)
	defer cancel()
	sid := r.PostForm.Get("MessageSid")
	twStatus := r.PostForm.Get("MessageStatus")
	if twStatus == "" {
		twStatus = r.PostForm.Get("SmsStatus")
	}
	status, ok := deliveryStatus(twStatus)
	if sid == "" || !ok {
		http.Error(w, "unknown message status", http.StatusBadRequest)
		return
	}
	errorCode, _ := strconv.Atoi(r.PostForm.Get("ErrorCode"))
	d, err := c.callbackDelivery(ctx, r, sid)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		http.Error(w, "unknown message", http.StatusNotFound)
		return
	} else if err != nil {
		c.internalError(w, "find delivery", err, "message_sid", sid)
		return
	}
	detail := "twilio: " + twStatus
	if errorCode != 0 {
		detail += fmt.Sprintf(" (error %d)", errorCode)
	}
	// The move is batched: a burst of callbacks never waits on the database.
	v := channels.Verdict{Channel: d.Channel, DeliveryID: d.ID, ProviderID: sid, Status: status, Detail: detail, Batched: true}
	contact, marked := contactStatusOf(errorCode)
	if to := r.PostForm.Get("To"); marked && to != "" {
		v.Contact = channels.ContactVerdict{Kind: channels.ContactPhone, Address: to, Status: contact}
	}
	if _, err := c.verdicts.Record(ctx, v); err != nil {
		c.internalError(w, "record status", err, "delivery_id", d.ID)
		return
	}
	if v.Contact.Address != "" {
		c.log.Info("phone marked", "delivery_id", d.ID, "household_id", d.HouseholdID, "status", contact, "error_code", errorCode)
	}
	w.WriteHeader(http.StatusNoContent)
}

// callbackTimeout bounds the handling of one callback.
const callbackTimeout = 30 * time.Second

// callbackContext is the context a callback is handled in: Twilio does not retry a status callback
// nor resend a reply, so one that arrived is handled to the end even when the caller hangs up (its
// timeout under a burst); only callbackTimeout stops it.
func callbackContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), callbackTimeout)
}

// deliveryParam names the delivery in the StatusCallback URL; occurrenceParam, on a reminder, the
// airing it reminds of, since each airing re-arms the same delivery.
const (
	deliveryParam   = "delivery_id"
	occurrenceParam = "occurrence"
)

// callbackDelivery finds the delivery a status callback is about: by the id in the callback URL (signed
// with the rest of the URL), which works even when the callback overtakes the recording of the SID,
// else by the SID. A late callback about the reminder of an earlier airing names another occurrence
// than the re-armed delivery's, and its SID was cleared: it finds nothing.
func (c *Channel) callbackDelivery(ctx context.Context, r *http.Request, sid string) (relais.Delivery, error) {
	if v := r.URL.Query().Get(deliveryParam); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		occurrence, _ := strconv.ParseInt(r.URL.Query().Get(occurrenceParam), 10, 64)
		if err == nil && id > 0 {
			ds, err := c.store.DeliveriesByIDs(ctx, []int64{id})
			if err != nil {
				return relais.Delivery{}, err
			}
			if len(ds) == 1 && (ds[0].Channel == relais.ChannelSMS || ds[0].Channel == relais.ChannelReminder) &&
				(ds[0].ProviderID == "" || ds[0].ProviderID == sid) && ds[0].Occurrence == occurrence {
				return ds[0], nil
			}
		}
	}
	return c.store.DeliveryByProviderID(ctx, relais.ChannelSMS, sid)
}

// Keyword is what a family's reply asks for.
type Keyword int

const (
	KeywordNone Keyword = iota
	KeywordStop
	KeywordStart
	KeywordHelp
)

func (k Keyword) String() string {
	return [...]string{"none", "stop", "start", "help"}[k]
}

var keywords = map[string]Keyword{
	"STOP": KeywordStop, "STOPALL": KeywordStop, "UNSUBSCRIBE": KeywordStop, "CANCEL": KeywordStop,
	"END": KeywordStop, "QUIT": KeywordStop, "REVOKE": KeywordStop, "OPTOUT": KeywordStop,
	"ARRET": KeywordStop, "ARRETE": KeywordStop,
	"START": KeywordStart, "YES": KeywordStart, "UNSTOP": KeywordStart,
	"HELP": KeywordHelp, "INFO": KeywordHelp, "AIDE": KeywordHelp,
}

// ParseKeyword recognises a single-word reply in any case and with or without accents ("Arrêt",
// "stop!"); anything longer is not a keyword.
func ParseKeyword(body string) Keyword {
	word := strings.TrimFunc(body, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
	if word == "" || strings.IndexFunc(word, unicode.IsSpace) >= 0 {
		return KeywordNone
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(word) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return keywords[b.String()]
}

// handleInbound acts on a family's reply: opt out, opt back in, help, or keep it for the teacher.
func (c *Channel) handleInbound(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := callbackContext(r)
	defer cancel()
	from, body, sid := r.PostForm.Get("From"), r.PostForm.Get("Body"), r.PostForm.Get("MessageSid")
	if from == "" {
		http.Error(w, "no sender", http.StatusBadRequest)
		return
	}
	households, err := c.store.HouseholdsByPhone(ctx, from)
	if err != nil {
		c.internalError(w, "find households", err, "message_sid", sid)
		return
	}
	ids := make([]int64, len(households))
	for i, h := range households {
		ids[i] = h.ID
	}
	kw := ParseKeyword(body)
	reply := ""
	switch kw {
	case KeywordStop, KeywordStart:
		v := channels.Verdict{Channel: relais.ChannelSMS, HouseholdIDs: ids,
			Contact: channels.ContactVerdict{Kind: channels.ContactPhone, Address: from, Status: relais.ContactOptedOut, OptIn: kw == KeywordStart}}
		if _, err := c.verdicts.Record(ctx, v); err != nil {
			c.internalError(w, "set opt-out", err, "message_sid", sid)
			return
		}
	case KeywordHelp:
		lang := relais.Languages[0]
		if len(households) > 0 && households[0].Language != "" {
			lang = households[0].Language
		}
		var b bytes.Buffer
		if err := c.templates.SMS(&b, "help", lang, nil); err != nil {
			c.internalError(w, "render help", err, "message_sid", sid)
			return
		}
		reply = strings.TrimSpace(b.String())
	default:
		v := channels.Verdict{Channel: relais.ChannelSMS, HouseholdIDs: ids,
			Reply: &relais.InboundMessage{Phone: from, Body: body, ProviderID: sid, ReceivedAt: c.now()}}
		if _, err := c.verdicts.Record(ctx, v); err != nil {
			c.internalError(w, "record reply", err, "message_sid", sid)
			return
		}
	}
	c.log.Info("reply received", "message_sid", sid, "keyword", kw.String(), "household_ids", ids, "sender", c.senderAt(r.PostForm.Get("To")))
	writeTwiML(w, reply)
}

// writeTwiML answers Twilio with one message, or with nothing to send when text is empty.
func writeTwiML(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if text == "" {
		b.WriteString("<Response></Response>")
	} else {
		b.WriteString("<Response><Message>")
		_ = xml.EscapeText(&b, []byte(text))
		b.WriteString("</Message></Response>")
	}
	_, _ = w.Write(b.Bytes())
}

func (c *Channel) internalError(w http.ResponseWriter, what string, err error, args ...any) {
	c.log.Error("webhook: "+what, append(args, "err", err)...)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// senderAt names the pool's sender whose address is to (a reply's To): "" when none is.
func (c *Channel) senderAt(to string) string {
	for _, s := range c.senders {
		if s.From == to {
			return s.Name
		}
	}
	return ""
}
