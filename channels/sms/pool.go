package sms

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/relais-edu/relais/channels"
)

// PoolSender is one sender of the pool: who messages come from, for which recipients' country, how fast,
// and through which Twilio account. A country with several senders shares its households among them
// (channels.Assign): a family always hears from the same sender and its replies come back to it.
type PoolSender struct {
	// Name identifies the sender on the page and in the limiter; default From.
	Name string `yaml:"name" json:"name"`
	// Country is the ISO 3166 code of the recipients ("FR") or DefaultCountry ("*").
	Country string `yaml:"country" json:"country"`
	// From is an alphanumeric sender ID, a short code, a long code in E.164, or a Messaging Service SID.
	From string `yaml:"from" json:"from"`
	// Kind, when given, must be the kind From is (a check against a typo); empty: recognised from From.
	Kind SenderKind `yaml:"kind" json:"kind"`
	// Rate is the sender's segments per second; 0: Config.Rate, or the kind's default when that is 0.
	Rate float64 `yaml:"rate" json:"rate"`
	// AccountSID and AuthToken (or AuthTokenEnv, the environment variable holding it) name another
	// Twilio account; empty: the default account (Config.AccountSID).
	AccountSID   string `yaml:"account_sid" json:"account_sid"`
	AuthToken    string `yaml:"auth_token" json:"auth_token"`
	AuthTokenEnv string `yaml:"auth_token_env" json:"auth_token_env"`
}

// poolFile is the file RELAIS_SMS_SENDERS names, in YAML or JSON.
type poolFile struct {
	Senders []PoolSender `yaml:"senders"`
}

// ReadPool reads a pool file (YAML or JSON: `senders: [{name, country, from, kind, rate, account_sid,
// auth_token | auth_token_env}]`); getenv resolves auth_token_env. Unknown fields are errors. The
// senders are checked with the rest of the configuration (Config.Validate).
func ReadPool(path string, getenv func(string) string) ([]PoolSender, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sms senders: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f poolFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("sms senders %s: %w", path, err)
	}
	if len(f.Senders) == 0 {
		return nil, fmt.Errorf("sms senders %s: no senders (the file needs a list \"senders:\")", path)
	}
	for i := range f.Senders {
		s := &f.Senders[i]
		if s.AuthTokenEnv != "" {
			if s.AuthToken != "" {
				return nil, fmt.Errorf("sms senders %s: sender %d gives both auth_token and auth_token_env", path, i+1)
			}
			if s.AuthToken = getenv(s.AuthTokenEnv); s.AuthToken == "" {
				return nil, fmt.Errorf("sms senders %s: sender %d: environment variable %s (auth_token_env) is empty", path, i+1, s.AuthTokenEnv)
			}
		}
	}
	return f.Senders, nil
}

// noAlphanumeric are countries where Twilio delivers no message from an alphanumeric sender ID: a sender
// for them must be a number or a Messaging Service (Twilio's SMS country guidelines).
var noAlphanumeric = []string{"US", "CA", "PR", "CN", "MX", "AR", "CL", "CO", "CR", "EC", "SV"}

// maxRate is the throughput Twilio allows a sender of kind k by default, in segments per second; 0: no
// fixed limit (a Messaging Service sums its numbers'). A higher configured rate only queues messages at
// Twilio, whose queue holds them at most 4 hours.
func (k SenderKind) maxRate() float64 {
	switch k {
	case SenderMessagingService:
		return 0
	}
	return float64(k.SegmentsPerSecond())
}

// pool returns the configured senders (with Name, Kind, Rate, AccountSID and AuthToken set), those of Senders (one per country, named by their From) after
// those of Pool, with kinds, rates and accounts resolved; errors say what is wrong with which sender.
// warnings are legal but doubtful settings: a rate above the kind's limit.
func (c Config) pool() (senders []PoolSender, warnings []string, err error) {
	all := slices.Clone(c.Pool)
	countries := make([]string, 0, len(c.Senders))
	for country := range c.Senders {
		countries = append(countries, country)
	}
	slices.Sort(countries)
	for _, country := range countries {
		all = append(all, PoolSender{Country: country, From: c.Senders[country]})
	}
	var errs []error
	names := map[string]int{}
	froms := map[string]int{}
	for i, p := range all {
		what := fmt.Sprintf("sms sender %d", i+1)
		if p.Name != "" {
			what = fmt.Sprintf("sms sender %q", p.Name)
		} else if p.From != "" {
			what = fmt.Sprintf("sms sender %q", p.From)
		}
		bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(what+": "+format, args...)) }
		if p.Country != DefaultCountry && (len(p.Country) != 2 || strings.ToUpper(p.Country) != p.Country) {
			bad("country %q is not an upper-case ISO 3166 code (FR) or %q", p.Country, DefaultCountry)
		}
		s, perr := ParseSender(p.From)
		if p.From == "" {
			bad("from is empty (give a sender ID, a short code, a number or a Messaging Service SID)")
		} else if perr != nil {
			bad("%v", strings.TrimPrefix(perr.Error(), "sms: "))
		}
		switch {
		case p.Kind == "" || perr != nil:
		case !slices.Contains(senderKinds, p.Kind):
			bad("unknown kind %q (one of %s)", p.Kind, kindList())
		case p.Kind != s.Kind:
			bad("kind %s, but %q is a %s", p.Kind, p.From, s.Kind)
		}
		if s.Kind == SenderAlphanumeric && slices.Contains(noAlphanumeric, p.Country) {
			bad("country %s takes no alphanumeric sender ID: use a number, a short code or a Messaging Service", p.Country)
		}
		if p.Name == "" {
			p.Name = p.From
		}
		switch {
		case math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0) || p.Rate < 0:
			bad("rate must be a number of segments per second above 0")
		case p.Rate == 0 && c.Rate > 0:
			p.Rate = c.Rate
		case p.Rate == 0:
			p.Rate = float64(s.Kind.SegmentsPerSecond())
		}
		if m := s.Kind.maxRate(); m > 0 && p.Rate > m && perr == nil {
			warnings = append(warnings, fmt.Sprintf("%s: rate %g segments/s is above the %g a %s sends at; Twilio will queue the rest",
				what, p.Rate, m, s.Kind))
		}
		switch {
		case p.AccountSID == "" && p.AuthToken != "":
			bad("auth_token without account_sid")
		case p.AccountSID == "":
			p.AccountSID, p.AuthToken = c.AccountSID, c.AuthToken
		case !accountSIDPattern.MatchString(p.AccountSID):
			bad("account_sid must be AC followed by 32 hexadecimal digits")
		case p.AccountSID == c.AccountSID && p.AuthToken != "" && p.AuthToken != c.AuthToken:
			bad("account %s is the default account, with another auth token", p.AccountSID)
		case p.AccountSID == c.AccountSID:
			p.AuthToken = c.AuthToken
		case p.AuthToken == "":
			bad("account %s needs an auth_token (or auth_token_env)", p.AccountSID)
		case !credentialPattern.MatchString(p.AuthToken):
			bad("auth token must be letters and digits")
		}
		// One name is one sender at Twilio, with one allowance in the limiter: it may serve several
		// countries, with one from, account and rate.
		if j, ok := names[p.Name]; ok {
			if o := senders[j]; o.From != p.From || o.AccountSID != p.AccountSID || o.Rate != p.Rate {
				bad("the name is also sender %d's, with another from, account or rate: each sender needs a name of its own", j+1)
			}
		} else {
			names[p.Name] = i
		}
		key := p.AccountSID + "/" + p.From + "/" + p.Country
		if j, ok := froms[key]; ok && p.From != "" {
			bad("duplicate of sender %d (same from, country and account)", j+1)
		}
		froms[key] = i
		p.Kind = s.Kind
		senders = append(senders, p)
	}
	if len(all) == 0 {
		errs = append(errs, errors.New("sms: at least one sender is needed (country=sender)"))
	}
	// Accounts shared by several senders must agree on their token.
	tokens := map[string]string{}
	for _, s := range senders {
		if t, ok := tokens[s.AccountSID]; ok && t != s.AuthToken {
			errs = append(errs, fmt.Errorf("sms sender %q: account %s has another auth token in an earlier sender", s.Name, s.AccountSID))
		}
		tokens[s.AccountSID] = s.AuthToken
	}
	return senders, warnings, errors.Join(errs...)
}

var senderKinds = []SenderKind{SenderAlphanumeric, SenderShortCode, SenderLongCode, SenderTollFree, SenderMessagingService}

func kindList() string {
	out := make([]string, len(senderKinds))
	for i, k := range senderKinds {
		out[i] = string(k)
	}
	return strings.Join(out, ", ")
}

// Warnings returns the doubtful settings of a valid configuration, for the log at start: senders faster
// than their kind sends.
func (c Config) Warnings() []string {
	_, w, _ := c.pool()
	return w
}

// Lanes describes the configured senders for the limiter, the publishing plan and the senders page.
func (c Config) Lanes() channels.Pool {
	senders, _, _ := c.pool()
	return lanes(senders)
}

func lanes(senders []PoolSender) channels.Pool {
	out := make(channels.Pool, len(senders))
	for i, s := range senders {
		out[i] = channels.Lane{Name: s.Name, Country: s.Country, Kind: string(s.Kind), Address: s.From, Account: s.AccountSID, Rate: s.Rate}
	}
	return out
}

// Rates returns the rate of each sender by name, for LimiterConfig.Rates.
func Rates(p channels.Pool) map[string]float64 {
	m := make(map[string]float64, len(p))
	for _, l := range p {
		m[l.Name] = l.Rate
	}
	return m
}
