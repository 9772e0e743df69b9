package email

import (
	"context"
	"errors"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// throttleDelay is how long to wait after a relay asked us to slow down (421, 4.7.x) without saying
// for how long: SMTP has no Retry-After.
const throttleDelay = time.Minute

// classify maps what go-mail reports for one message to the channel's typed error. It is the only
// place that reads an SMTP answer: code and enhanced status code, never the error's text.
//
//   - a reply in 4xx is temporary: Retryable, or Throttled for 421 and 4.7.x (the relay is closing
//     the connection or rate-limiting us; greylisting is 4.7.1);
//   - a reply in 5xx is permanent; when its enhanced status code says the address does not exist
//     (5.1.x, 5.2.1) the address is marked ContactInvalid so nothing is sent there again; except a
//     5xx refusing MAIL FROM, which is about our sender or session, not the family: Retryable;
//   - an address go-mail could not use is permanent and ContactInvalid;
//   - anything without a reply code (a refused or dropped connection, a timeout) is Retryable; once
//     the message's content began to go (DATA accepted) it is also Ambiguous: the relay may have the
//     whole message and deliver it, so it is not sent again blindly (the queue marks it unknown).
func classify(err error) *channels.SendError {
	if err == nil {
		return nil
	}
	var cse *channels.SendError
	if errors.As(err, &cse) {
		return cse
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &channels.SendError{Kind: channels.Retryable, Err: err}
	}

	var se *mail.SendError
	if errors.As(err, &se) {
		red := redacted{se}
		switch se.Reason {
		case mail.ErrGetRcpts:
			return &channels.SendError{Kind: channels.Permanent, Contact: relais.ContactInvalid, Err: red}
		case mail.ErrGetSender, mail.ErrNoUnencoded:
			return &channels.SendError{Kind: channels.Permanent, Err: red}
		}
		ce := fromReply(se.ErrorCode(), se.EnhancedStatusCode(), se.Reason == mail.ErrSMTPRcptTo, red)
		if se.ErrorCode() == 0 && (se.Reason == mail.ErrWriteContent || se.Reason == mail.ErrSMTPDataClose) {
			ce.Ambiguous = true
		}
		if se.Reason == mail.ErrSMTPMailFrom && ce.Kind == channels.Permanent {
			// Refusing our sender (530 STARTTLS or AUTH required, 5.7.1 sender not allowed) says
			// nothing about the family: it fails every message until the relay or our configuration
			// is fixed, so keep them for later instead of giving up on every household.
			ce.Kind = channels.Retryable
		}
		return ce
	}

	// A reply read outside a message's transaction (greeting, EHLO, AUTH) tells about the relay, not
	// the family: always worth another try once the relay or our configuration is fixed.
	var te *textproto.Error
	if errors.As(err, &te) {
		return &channels.SendError{Kind: channels.Retryable, Code: strconv.Itoa(te.Code), Err: err}
	}
	return &channels.SendError{Kind: channels.Retryable, Err: err}
}

// fromReply classifies an SMTP reply code and its enhanced status code (RFC 3463), "" when the relay
// gave none. rcpt is true when the reply answered RCPT TO, so that it is about the recipient.
func fromReply(code int, enhanced string, rcpt bool, err error) *channels.SendError {
	se := &channels.SendError{Kind: channels.Retryable, Err: err}
	if code != 0 {
		se.Code = strconv.Itoa(code)
		if enhanced != "" {
			se.Code += " " + enhanced
		}
	}
	switch {
	case code >= 400 && code < 500:
		if code == 421 || strings.HasPrefix(enhanced, "4.7.") {
			se.Kind, se.RetryAfter = channels.Throttled, throttleDelay
		}
	case code >= 500 && code < 600:
		se.Kind = channels.Permanent
		if addressGone(enhanced) || (enhanced == "" && rcpt && (code == 551 || code == 553)) {
			se.Contact = relais.ContactInvalid
		}
	}
	return se
}

// addressGone reports whether an enhanced status code says the mailbox does not exist or cannot be
// reached for good: bad mailbox, bad system, bad syntax, moved, null MX, disabled.
func addressGone(enhanced string) bool {
	switch enhanced {
	case "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1":
		return true
	}
	return false
}

// isConnFailure reports whether a failed message says nothing about the message itself but that the
// connection it went over is unusable: no reply code at all.
func isConnFailure(err error) bool {
	var se *mail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case mail.ErrGetRcpts, mail.ErrGetSender, mail.ErrNoUnencoded:
			return false
		}
		return se.ErrorCode() == 0 || se.ErrorCode() == 421
	}
	return err != nil
}

// beforeData reports whether a failure came before any of the message's content went to the relay,
// without a reply: the connection broke at the start of the transaction (MAIL FROM, RCPT TO, the
// DATA command), so the relay certainly does not have the message.
func beforeData(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) || se.ErrorCode() != 0 {
		return false
	}
	switch se.Reason {
	case mail.ErrConnCheck, mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData:
		return true
	}
	return false
}

// redacted is a go-mail send error whose text leaves out the recipient addresses and the server's
// reply text (which usually repeats the address): errors get logged, addresses must not be.
// errors.As still reaches the *mail.SendError.
type redacted struct{ se *mail.SendError }

func (r redacted) Error() string {
	s := r.se.Reason.String()
	if code := r.se.ErrorCode(); code != 0 {
		s += ": smtp " + strconv.Itoa(code)
		if esc := r.se.EnhancedStatusCode(); esc != "" {
			s += " " + esc
		}
	} else {
		s += ": connection failed"
	}
	return s
}

func (r redacted) Unwrap() error { return r.se }
