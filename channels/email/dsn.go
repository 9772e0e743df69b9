package email

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/relais-edu/relais/channels"
)

// Bounce is one recipient's outcome in a delivery status notification (RFC 3464).
type Bounce struct {
	Recipient string // the address, without its "rfc822;" type
	Action    string // failed, delayed, delivered, relayed or expanded
	Status    string // the enhanced status code, e.g. "5.1.1"
	// Hard is true for Action failed with a 5.x.x status: the address must not be mailed again.
	// A failed 4.x.x or a delayed message is soft.
	Hard bool
	// Diagnostic is the remote server's answer when the report gives it, e.g. "smtp; 550 5.1.1 ...".
	Diagnostic string
	// MessageID is the Message-ID of the bounced message, from the returned headers, with its angle
	// brackets; DeliveryIDFromMessageID maps it back to a delivery.
	MessageID string
}

// ErrNotDSN is returned by ParseDSN for a message that is not a delivery status report.
var ErrNotDSN = fmt.Errorf("email: %w", channels.ErrNotReport)

// maxDSNBytes bounds what ParseDSN reads: reports quote at most the original's headers or message.
const maxDSNBytes = 10 << 20

// ParseDSN reads a bounce message (multipart/report; report-type=delivery-status) and returns one
// Bounce per recipient it reports on.
func ParseDSN(r io.Reader) ([]Bounce, error) {
	msg, err := mail.ReadMessage(io.LimitReader(r, maxDSNBytes))
	if err != nil {
		return nil, fmt.Errorf("parse bounce: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["boundary"] == "" {
		return nil, ErrNotDSN
	}
	if rt := strings.ToLower(params["report-type"]); rt != "delivery-status" && rt != "global-delivery-status" {
		return nil, ErrNotDSN
	}

	var bounces []Bounce
	var messageID string
	found := false
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse bounce: %w", err)
		}
		body, err := decodePart(part)
		if err != nil {
			return nil, fmt.Errorf("parse bounce: %w", err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch pt {
		case "message/delivery-status", "message/global-delivery-status":
			bs, err := parseDeliveryStatus(body)
			if err != nil {
				return nil, fmt.Errorf("parse bounce: %w", err)
			}
			bounces = append(bounces, bs...)
			found = true
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			// Only the headers matter; a header block without a body still parses.
			if !bytes.Contains(body, []byte("\r\n\r\n")) && !bytes.Contains(body, []byte("\n\n")) {
				body = append(body, "\r\n\r\n"...)
			}
			if orig, err := mail.ReadMessage(bytes.NewReader(body)); err == nil {
				messageID = strings.TrimSpace(orig.Header.Get("Message-Id"))
			}
		}
	}
	if !found {
		return nil, ErrNotDSN
	}
	for i := range bounces {
		bounces[i].MessageID = messageID
	}
	return bounces, nil
}

// decodePart returns a part's body, undoing its transfer encoding.
func decodePart(p *multipart.Part) ([]byte, error) {
	var r io.Reader = p
	switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineSkipper{r: p})
	case "quoted-printable":
		r = quotedprintable.NewReader(p)
	}
	return io.ReadAll(r)
}

// parseDeliveryStatus parses the body of a message/delivery-status part: a block of per-message
// fields, then one block per recipient, separated by blank lines.
func parseDeliveryStatus(body []byte) ([]Bounce, error) {
	body = bytes.TrimLeft(body, "\r\n \t") // some MTAs start with a blank line
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	// Per-message fields (Reporting-MTA, Arrival-Date, ...): not needed.
	if _, err := tr.ReadMIMEHeader(); err != nil && err != io.EOF {
		return nil, err
	}
	var out []Bounce
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			b := Bounce{
				Recipient:  addressField(h.Get("Final-Recipient")),
				Action:     strings.ToLower(firstWord(h.Get("Action"))),
				Status:     firstWord(h.Get("Status")),
				Diagnostic: strings.TrimSpace(h.Get("Diagnostic-Code")),
			}
			if b.Recipient == "" {
				b.Recipient = addressField(h.Get("Original-Recipient"))
			}
			b.Hard = b.Action == "failed" && strings.HasPrefix(b.Status, "5.")
			if b.Recipient != "" || b.Action != "" {
				out = append(out, b)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("delivery status has no recipient")
	}
	return out, nil
}

// addressField returns the address of "rfc822; user@example.org" (the type is optional in practice).
func addressField(v string) string {
	if _, addr, ok := strings.Cut(v, ";"); ok {
		v = addr
	}
	return strings.Trim(strings.TrimSpace(v), "<>")
}

func firstWord(v string) string {
	f := strings.Fields(v)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// newlineSkipper drops CR and LF so that base64 lines decode as one stream.
type newlineSkipper struct{ r io.Reader }

func (s *newlineSkipper) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}
