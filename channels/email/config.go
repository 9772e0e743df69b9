package email

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// TLSPolicy says how the connection to the relay is encrypted.
type TLSPolicy string

const (
	// TLSNone never encrypts: only for a relay on the same host or in tests.
	TLSNone TLSPolicy = "none"
	// TLSOpportunistic uses STARTTLS when the relay offers it, plain text otherwise.
	TLSOpportunistic TLSPolicy = "starttls"
	// TLSMandatory requires STARTTLS and fails the connection when the relay does not offer it.
	TLSMandatory TLSPolicy = "starttls-required"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit TLSPolicy = "tls"
)

// Config is what the email channel needs to reach its relay.
type Config struct {
	Host     string
	Port     int
	Username string // empty: no SMTP AUTH
	Password string
	// AuthMechanism is the SMTP AUTH mechanism when Username is set: PLAIN (default), LOGIN, CRAM-MD5,
	// SCRAM-SHA-256, ... PLAIN and LOGIN are refused by the client over an unencrypted connection to
	// anything but localhost.
	AuthMechanism string
	TLS           TLSPolicy
	// TLSConfig overrides the TLS settings (a private CA, a server name); nil uses the system roots
	// and Host as the server name.
	TLSConfig *tls.Config
	// HELO is the name the channel gives in EHLO; empty: the machine's host name.
	HELO string

	From    string // "Relais <lessons@relais.example>"
	ReplyTo string // where families' replies go; empty: none

	// MaxConns bounds the SMTP connections open at once, shared by every caller.
	MaxConns int
	// MaxPerConn is how many messages go over one connection before it is renewed (relays limit
	// it, often to 100); 0: no limit.
	MaxPerConn int
	// RatePerSecond bounds the messages per second handed to the relay; 0: no limit.
	RatePerSecond float64
	// Timeout bounds each SMTP exchange (connect, a command, the message data).
	Timeout time.Duration
	// IdleTimeout closes a pooled connection unused for that long instead of reusing it.
	IdleTimeout time.Duration

	DKIM DKIMConfig

	// Media reads the worksheets attached to messages (their Path is a location in it); nil: they
	// are files on this machine.
	Media relais.MediaStore
}

// DKIMConfig enables DKIM signing when Domain, Selector and PrivateKeyPEM are all set.
type DKIMConfig struct {
	Domain   string // d=
	Selector string // s=
	// PrivateKeyPEM is an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key in PEM.
	PrivateKeyPEM []byte
}

// Enabled reports whether DKIM signing is configured.
func (d DKIMConfig) Enabled() bool {
	return d.Domain != "" || d.Selector != "" || len(d.PrivateKeyPEM) > 0
}

// DefaultConfig returns the defaults: a local relay on port 587 with opportunistic STARTTLS, four
// connections of at most 100 messages each, no rate limit.
func DefaultConfig() Config {
	return Config{
		Host:        "localhost",
		Port:        587,
		TLS:         TLSOpportunistic,
		MaxConns:    4,
		MaxPerConn:  100,
		Timeout:     30 * time.Second,
		IdleTimeout: 30 * time.Second,
	}
}

// Validate checks the combinations that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("email: host is required"))
	}
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("email: port %d is out of range", c.Port))
	}
	switch c.TLS {
	case TLSNone, TLSOpportunistic, TLSMandatory, TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("email: TLS policy %q is not one of none, starttls, starttls-required, tls", c.TLS))
	}
	switch strings.ToUpper(c.AuthMechanism) {
	case "", "PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "XOAUTH2":
	default:
		errs = append(errs, fmt.Errorf("email: unknown SMTP AUTH mechanism %q", c.AuthMechanism))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("email: a password needs a username"))
	}
	if c.From == "" {
		errs = append(errs, errors.New("email: from address is required"))
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("email: from address: %w", err))
	}
	if c.ReplyTo != "" {
		if _, err := mail.ParseAddress(c.ReplyTo); err != nil {
			errs = append(errs, fmt.Errorf("email: reply-to address: %w", err))
		}
	}
	if c.MaxConns < 1 {
		errs = append(errs, errors.New("email: max connections must be at least 1"))
	}
	if c.MaxPerConn < 0 {
		errs = append(errs, errors.New("email: max messages per connection must not be negative"))
	}
	if c.RatePerSecond < 0 {
		errs = append(errs, errors.New("email: rate must not be negative"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("email: timeout must be positive"))
	}
	if c.DKIM.Enabled() && (c.DKIM.Domain == "" || c.DKIM.Selector == "" || len(c.DKIM.PrivateKeyPEM) == 0) {
		errs = append(errs, errors.New("email: DKIM needs a domain, a selector and a private key"))
	}
	return errors.Join(errs...)
}
