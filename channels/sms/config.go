package sms

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// WebhookPrefix is where the lead mounts Channel.Webhooks(); Twilio is told to call PublicURL plus
// these paths.
const (
	WebhookPrefix = "/webhooks/sms/"
	StatusPath    = WebhookPrefix + "status"
	InboundPath   = WebhookPrefix + "inbound"
)

// MaxBodyCharacters is Twilio's limit on a message body (error 21617).
const MaxBodyCharacters = 1600

// DefaultCountry keys the sender used for numbers of a country that has none of its own.
const DefaultCountry = "*"

// Config is what the SMS channel needs. Senders are chosen by the recipient's country.
type Config struct {
	AccountSID string
	AuthToken  string
	// APIURL replaces https://api.twilio.com (scheme and host) when set: the local sandbox in tests and
	// the demo. Empty means the real Twilio.
	APIURL string
	// PublicURL is the public base URL of Relais (https://relais.example.org). Status callbacks are
	// requested at PublicURL + StatusPath, and webhook signatures are checked against PublicURL + path.
	PublicURL string
	// Senders maps an ISO 3166 country code ("FR", "KZ") or DefaultCountry to a sender: an alphanumeric
	// sender ID ("Ecole"), a short code ("38100"), a long code in E.164 ("+33757000000") or a Messaging
	// Service SID ("MG" + 32 hex).
	Senders map[string]string
	// Pool lists more senders, each with its rate and account (RELAIS_SMS_SENDERS as a file); Senders
	// adds one per country to them. A country's households are shared among its senders.
	Pool []PoolSender
	// Rate is the segments per second of a sender that names none; 0: its kind's (SegmentsPerSecond).
	Rate float64
	// LoadBound bounds what one sender takes of a fan-out page's households of its country: at most
	// ceil(LoadBound × its rate's share), the overflow going to each household's next sender
	// (channels.BalanceRemembered), so that the senders finish together. It places the households
	// that remember no sender (Household.SMSSender) in the room the others leave: a household keeps
	// the sender it remembers whatever the load. 0: every new household on its first choice, whatever
	// the load; else at least 1 (default 1: the fairest split, a few per cent of new households off
	// their first choice in a page; larger keeps more on it and lets the busiest sender finish later).
	LoadBound float64
	// ValidityPeriod, when set, is how long Twilio may keep a message queued (at most 10 hours).
	ValidityPeriod time.Duration
	// Timeout bounds one call to the API.
	Timeout time.Duration
	// Smart applies the typographic policy (see Smart) to every body before it is sent.
	Smart bool
}

// DefaultConfig returns a configuration with defaults for everything but credentials and senders.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, Smart: true, Senders: map[string]string{}, LoadBound: 1}
}

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	credentialPattern = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
)

// Validate checks the configuration as a whole.
func (c Config) Validate() error {
	var errs []error
	if !accountSIDPattern.MatchString(c.AccountSID) {
		errs = append(errs, errors.New("sms: account SID must be AC followed by 32 hexadecimal digits"))
	}
	if c.AuthToken == "" {
		errs = append(errs, errors.New("sms: an account SID needs an auth token"))
	} else if !credentialPattern.MatchString(c.AuthToken) {
		errs = append(errs, errors.New("sms: auth token must be letters and digits"))
	}
	if c.APIURL != "" {
		if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("sms: API URL %q is not an http(s) URL", c.APIURL))
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("sms: public URL %q is not an http(s) URL", c.PublicURL))
		}
	}
	if _, _, err := c.pool(); err != nil {
		errs = append(errs, err)
	}
	if b := c.LoadBound; math.IsNaN(b) || math.IsInf(b, 0) || (b != 0 && b < 1) {
		errs = append(errs, fmt.Errorf("sms: load bound %g must be 0 (no bound) or at least 1", b))
	}
	if c.ValidityPeriod < 0 || c.ValidityPeriod > 36000*time.Second {
		errs = append(errs, errors.New("sms: validity period must be between 0 and 10 hours"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("sms: timeout must be positive"))
	}
	return errors.Join(errs...)
}

// ParseSenders reads "FR=Ecole,KZ=+77010000000,*=MG0123..." into a Senders map.
func ParseSenders(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		country, sender, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("sms: sender %q is not COUNTRY=SENDER", part)
		}
		m[strings.ToUpper(strings.TrimSpace(country))] = strings.TrimSpace(sender)
	}
	return m, nil
}

// FormatSenders is the inverse of ParseSenders, sorted by country.
func FormatSenders(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// SenderKind says what a sender is; it decides the request field and the throughput Twilio allows.
type SenderKind string

const (
	SenderAlphanumeric     SenderKind = "alphanumeric"
	SenderShortCode        SenderKind = "short_code"
	SenderLongCode         SenderKind = "long_code"
	SenderTollFree         SenderKind = "toll_free"
	SenderMessagingService SenderKind = "messaging_service"
)

// Sender is who a message comes from.
type Sender struct {
	Kind  SenderKind
	Value string // the From value, or the Messaging Service SID
}

var (
	messagingServicePattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	shortCodePattern        = regexp.MustCompile(`^[0-9]{3,8}$`)
	longCodePattern         = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// GSM alphanumeric sender IDs: up to 11 characters, letters, digits, spaces and a few signs, with
	// at least one letter.
	alphanumericPattern = regexp.MustCompile(`^[A-Za-z0-9 +\-_&.]{1,11}$`)
)

// ParseSender recognises the kind of a sender.
func ParseSender(s string) (Sender, error) {
	switch {
	case messagingServicePattern.MatchString(s):
		return Sender{SenderMessagingService, s}, nil
	case longCodePattern.MatchString(s):
		if num, err := phonenumbers.Parse(s, ""); err == nil && phonenumbers.GetNumberType(num) == phonenumbers.TOLL_FREE {
			return Sender{SenderTollFree, s}, nil
		}
		return Sender{SenderLongCode, s}, nil
	case shortCodePattern.MatchString(s):
		return Sender{SenderShortCode, s}, nil
	case alphanumericPattern.MatchString(s) && strings.ContainsAny(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz"):
		return Sender{SenderAlphanumeric, s}, nil
	}
	return Sender{}, fmt.Errorf("sms: sender %q is neither an alphanumeric ID (<= 11 characters), a short code, an E.164 long code nor a Messaging Service SID", s)
}

// SegmentsPerSecond is Twilio's default throughput for a sender of that kind (SPEC: long code 1,
// toll-free 3, alphanumeric 10, short code about 100). A Messaging Service pools its senders; 10 is a safe floor.
func (k SenderKind) SegmentsPerSecond() int {
	switch k {
	case SenderLongCode:
		return 1
	case SenderTollFree:
		return 3
	case SenderShortCode:
		return 100
	}
	return 10
}
