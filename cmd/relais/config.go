package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/clients"
	"github.com/relais-edu/relais/internal/redisurl"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/ui"
)

// Config is every setting of Relais. Each has an environment variable and a flag (see settings); flags
// win over the environment, which wins over DefaultConfig.
type Config struct {
	DataDir     string
	DatabaseURL string
	MediaDir    string
	RedisURL    string
	RedisCAFile string
	RedisAddr   string
	RedisPass   string
	RedisDB     int
	HTTPAddr    string
	PublicURL   string
	Secret      string
	// LegacyLinksUntil (YYYY-MM-DD) ends the acceptance of family links made before they were opaque.
	LegacyLinksUntil string
	LogLevel         string
	LogFormat        string

	MaxUploadBytes    int64
	MaxMediaDuration  time.Duration
	TVFormat          string
	TVAudioCodec      string
	RadioWAV          bool
	ServiceProvider   string
	WorkerConcurrency int
	MediaConcurrency  int
	ChunkDuration     time.Duration
	DefaultCountry    string
	SendOrphanAfter   time.Duration
	SendClaimBatch    int

	TwilioAccountSID       string
	TwilioAuthToken        string
	TwilioAPIURL           string
	SMSFrom                string
	SMSMessagingServiceSID string
	SMSRate                float64
	SMSSenders             string
	SMSLoadBound           float64
	QuietHours             string
	ReminderLead           time.Duration
	SMSReconcileAfter      time.Duration
	QuietDays              string
	QuietDates             string
	TimeZone               string
	RegionTimeZones        string
	Subjects               string // RELAIS_SUBJECTS: the subjects staff pick from
	Regions                string // RELAIS_REGIONS: the regions staff pick from

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPTLS      string
	EmailFrom    string
	EmailReplyTo string
	SMTPMaxConns int
	EmailRate    float64
	DKIMDomain   string
	DKIMSelector string
	DKIMKeyFile  string

	AuditRetention  time.Duration
	ReplyRetention  time.Duration
	BounceRetention time.Duration
	// DeliveryRetention: settled deliveries last changed longer ago go (the lessons' counts stay).
	DeliveryRetention time.Duration
	// RemovedRetention: households a full import left out longer ago are erased.
	RemovedRetention time.Duration
	// MediaRetention: the files of lessons last aired and changed longer ago go, with old playout exports.
	MediaRetention   time.Duration
	TrustedProxies   string
	RateSignIn       string
	RateFamily       string
	RateUnsub        string
	RateWebhooks     string
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	OIDCName         string
	OIDCRoleClaim    string
	OIDCRoles        string
	// MediaURL puts the media in object storage (s3://bucket/prefix) instead of MediaDir, reached
	// with the S3 settings; MediaRedirect > 0 answers downloads with presigned addresses.
	MediaURL      string
	S3Endpoint    string
	S3Region      string
	S3AccessKey   string
	S3SecretKey   string
	S3PathStyle   bool
	MediaRedirect time.Duration

	// getenv reads the variables a senders file names for its auth tokens (auth_token_env); nil: none.
	getenv func(string) string
}

// DefaultConfig is the embedded default: everything under ./data, a private Redis, SQLite.
func DefaultConfig() Config {
	return Config{
		DataDir:           "data",
		HTTPAddr:          "127.0.0.1:8080",
		LogLevel:          "info",
		LogFormat:         "text",
		MaxUploadBytes:    2 << 30,
		MaxMediaDuration:  2 * time.Hour,
		TVFormat:          "1080i25",
		TVAudioCodec:      "mp2",
		ServiceProvider:   "Relais",
		WorkerConcurrency: 20,
		MediaConcurrency:  1,
		ChunkDuration:     2 * time.Minute,
		DefaultCountry:    "FR",
		SendOrphanAfter:   10 * time.Second,
		SendClaimBatch:    10,
		SMSReconcileAfter: 15 * time.Minute,
		SMSRate:           10,
		SMSLoadBound:      1,
		QuietHours:        "22:00-08:00",
		ReminderLead:      time.Hour,
		QuietDays:         "sunday",
		TimeZone:          "Europe/Paris",
		SMTPPort:          587,
		SMTPTLS:           "starttls",
		SMTPMaxConns:      4,
		EmailRate:         50,
		AuditRetention:    365 * 24 * time.Hour,
		ReplyRetention:    180 * 24 * time.Hour,
		BounceRetention:   365 * 24 * time.Hour,
		DeliveryRetention: 365 * 24 * time.Hour,
		RemovedRetention:  90 * 24 * time.Hour,
		MediaRetention:    365 * 24 * time.Hour,
		RateSignIn:        clients.DefaultLimits().SignIn.String(),
		RateFamily:        clients.DefaultLimits().Family.String(),
		RateUnsub:         clients.DefaultLimits().Unsubscribe.String(),
		RateWebhooks:      clients.DefaultLimits().Webhooks.String(),
		OIDCRoleClaim:     "groups",
	}
}

// setting binds one Config field to RELAIS_<ENV> and --<flag>.
type setting struct {
	flag, env, help string
	ptr             any
}

// emptyMeans reports whether the empty value has a meaning of its own, which the help then gives
// ("empty: none"): the help is the one place that says so.
func (s setting) emptyMeans() bool {
	_, ok := s.ptr.(*string)
	return ok && strings.Contains(s.help, "empty: ")
}

func (c *Config) settings() []setting {
	return []setting{
		{"data-dir", "RELAIS_DATA_DIR", "directory for the SQLite database, media and the private Redis", &c.DataDir},
		{"database-url", "RELAIS_DATABASE_URL", "database: sqlite:PATH or postgres://user:password@host:port/db; empty: SQLite at DATA_DIR/relais.db", &c.DatabaseURL},
		{"media-dir", "RELAIS_MEDIA_DIR", "uploads and renditions; empty: DATA_DIR/media", &c.MediaDir},
		{"redis-url", "RELAIS_REDIS_URL", "Redis: redis://[user:password@]host:port/db, rediss:// (TLS), redis-sentinel://[user:password@]h1:p1,h2:p2,h3:p3/db?master=NAME or redis-cluster://[user:password@]h1:p1,h2:p2,...; empty: RELAIS_REDIS_ADDR", &c.RedisURL},
		{"redis-ca-file", "RELAIS_REDIS_CA_FILE", "PEM certificates that sign the Redis servers' TLS certificates (rediss URLs); empty: the system's", &c.RedisCAFile},
		{"redis-addr", "RELAIS_REDIS_ADDR", "Redis host:port (or use RELAIS_REDIS_URL); both empty: serve and demo start a private redis-server", &c.RedisAddr},
		{"media-url", "RELAIS_MEDIA_URL", "media in S3-compatible object storage: s3://bucket/prefix; empty: MEDIA_DIR on this machine", &c.MediaURL},
		{"s3-endpoint", "RELAIS_S3_ENDPOINT", "S3 server: host:port (https) or http(s)://host:port; empty: AWS S3", &c.S3Endpoint},
		{"s3-region", "RELAIS_S3_REGION", "S3 region (us-east-1 for most on-premises servers)", &c.S3Region},
		{"s3-access-key", "RELAIS_S3_ACCESS_KEY", "S3 access key id", &c.S3AccessKey},
		{"s3-secret-key", "RELAIS_S3_SECRET_KEY", "S3 secret access key", &c.S3SecretKey},
		{"s3-path-style", "RELAIS_S3_PATH_STYLE", "address the bucket in the path, not the host name (MinIO, versitygw, Ceph...)", &c.S3PathStyle},
		{"media-redirect", "RELAIS_MEDIA_REDIRECT", "with object storage, answer file downloads with a presigned URL valid this long (e.g. 15m); 0: stream through Relais", &c.MediaRedirect},
		{"redis-password", "RELAIS_REDIS_PASSWORD", "Redis password", &c.RedisPass},
		{"redis-db", "RELAIS_REDIS_DB", "Redis database number", &c.RedisDB},
		{"http-addr", "RELAIS_HTTP_ADDR", "address the HTTP API listens on", &c.HTTPAddr},
		{"public-url", "RELAIS_PUBLIC_URL", "public base URL in links and webhooks; empty: http://HTTP_ADDR", &c.PublicURL},
		{"secret", "RELAIS_SECRET", "key that seals family links (lesson pages, unsubscribe) and UI sessions; empty: generated in DATA_DIR/secret", &c.Secret},
		{"legacy-links-until", "RELAIS_LEGACY_LINKS_UNTIL", "date (YYYY-MM-DD) from which family links of versions before opaque links stop working; empty: they keep working", &c.LegacyLinksUntil},
		{"log-level", "RELAIS_LOG_LEVEL", "debug, info, warn or error", &c.LogLevel},
		{"log-format", "RELAIS_LOG_FORMAT", "text or json", &c.LogFormat},
		{"max-upload-bytes", "RELAIS_MAX_UPLOAD_BYTES", "largest lesson upload, in bytes (units such as MiB, GiB or GB accepted)", &c.MaxUploadBytes},
		{"max-media-duration", "RELAIS_MAX_MEDIA_DURATION", "longest lesson accepted (Go duration, e.g. 2h)", &c.MaxMediaDuration},
		{"tv-format", "RELAIS_TV_FORMAT", "TV rendition: 1080i25 or 720p50", &c.TVFormat},
		{"tv-audio-codec", "RELAIS_TV_AUDIO_CODEC", "TV rendition audio: mp2 or aac", &c.TVAudioCodec},
		{"radio-wav", "RELAIS_RADIO_WAV", "also write a 48 kHz WAV master of the radio rendition", &c.RadioWAV},
		{"service-provider", "RELAIS_SERVICE_PROVIDER", "provider name written in the TV transport stream", &c.ServiceProvider},
		{"worker-concurrency", "RELAIS_WORKER_CONCURRENCY", "send, fan-out and text tasks run at once per worker", &c.WorkerConcurrency},
		{"media-concurrency", "RELAIS_MEDIA_CONCURRENCY", "probes and transcodes run at once per worker", &c.MediaConcurrency},
		{"chunk-duration", "RELAIS_CHUNK_DURATION", "a lesson longer than this is transcoded in parts of this length by several media workers at once (Go duration); 0: always in one process", &c.ChunkDuration},
		{"send-orphan-after", "RELAIS_SEND_ORPHAN_AFTER", "a send claim not refreshed for this long belongs to a dead worker and is reconciled", &c.SendOrphanAfter},
		{"send-claim-batch", "RELAIS_SEND_CLAIM_BATCH", "messages a send task claims, then records the outcomes of, at a time", &c.SendClaimBatch},
		{"default-country", "RELAIS_DEFAULT_COUNTRY", "country of phone numbers written without +, ISO code", &c.DefaultCountry},
		{"twilio-account-sid", "RELAIS_TWILIO_ACCOUNT_SID", "Twilio account SID (AC...); empty: no SMS channel", &c.TwilioAccountSID},
		{"twilio-auth-token", "RELAIS_TWILIO_AUTH_TOKEN", "Twilio auth token; also verifies webhook signatures", &c.TwilioAuthToken},
		{"twilio-api-url", "RELAIS_TWILIO_API_URL", "Twilio REST base URL; empty: the real Twilio (set it to a relais twilio-sandbox)", &c.TwilioAPIURL},
		{"sms-from", "RELAIS_SMS_FROM", "SMS sender: alphanumeric sender, short code or phone number", &c.SMSFrom},
		{"sms-messaging-service-sid", "RELAIS_SMS_MESSAGING_SERVICE_SID", "Twilio Messaging Service SID (MG...), instead of sms-from", &c.SMSMessagingServiceSID},
		{"sms-rate", "RELAIS_SMS_RATE", "SMS segments per second per sender, shared by all workers", &c.SMSRate},
		{"sms-senders", "RELAIS_SMS_SENDERS", "sender pool: a YAML or JSON file of senders (country, from, rate, account), or one sender per country, FR=Ecole,KZ=+77010000000 (others use sms-from)", &c.SMSSenders},
		{"sms-load-bound", "RELAIS_SMS_LOAD_BOUND", "most a sender takes of a fan-out page's households, as a multiple of its share (at least 1); 0: each household on its usual sender whatever the load", &c.SMSLoadBound},
		{"sms-reminder-lead", "RELAIS_SMS_REMINDER_LEAD", "how long before a broadcast families get a reminder SMS; 0: no reminders", &c.ReminderLead},
		{"sms-reconcile-after", "RELAIS_SMS_RECONCILE_AFTER", "an SMS left queued or sent this long has its status fetched from Twilio; 0: never", &c.SMSReconcileAfter},
		{"sms-quiet-hours", "RELAIS_SMS_QUIET_HOURS", "no SMS between these local times (HH:MM-HH:MM); off or empty: none", &c.QuietHours},
		{"sms-quiet-days", "RELAIS_SMS_QUIET_DAYS", "weekdays without SMS, comma-separated (sunday,saturday); empty: none", &c.QuietDays},
		{"sms-quiet-dates", "RELAIS_SMS_QUIET_DATES", "public holidays without SMS, comma-separated YYYY-MM-DD", &c.QuietDates},
		{"timezone", "RELAIS_TIMEZONE", "time zone of households whose region has none of its own (IANA name)", &c.TimeZone},
		{"region-timezones", "RELAIS_REGION_TIMEZONES", "time zone per household region, e.g. Almaty=Asia/Almaty,Aktobe=Asia/Aqtobe", &c.RegionTimeZones},
		{"subjects", "RELAIS_SUBJECTS", "subject codes staff pick from, comma-separated (maths,french,...), enforced on uploads, slots and templates; empty: any, the pages offer the usual eight", &c.Subjects},
		{"regions", "RELAIS_REGIONS", "regions staff pick from, comma-separated, enforced on uploads and stations; empty: any, the pages offer the stations' and households' regions", &c.Regions},
		{"smtp-host", "RELAIS_SMTP_HOST", "SMTP relay host; empty: no email channel", &c.SMTPHost},
		{"smtp-port", "RELAIS_SMTP_PORT", "SMTP relay port", &c.SMTPPort},
		{"smtp-username", "RELAIS_SMTP_USERNAME", "SMTP auth user; empty: no auth", &c.SMTPUsername},
		{"smtp-password", "RELAIS_SMTP_PASSWORD", "SMTP auth password", &c.SMTPPassword},
		{"smtp-tls", "RELAIS_SMTP_TLS", "none, starttls (opportunistic), starttls-mandatory or tls", &c.SMTPTLS},
		{"email-from", "RELAIS_EMAIL_FROM", "From address of worksheet emails", &c.EmailFrom},
		{"email-reply-to", "RELAIS_EMAIL_REPLY_TO", "Reply-To address of worksheet emails", &c.EmailReplyTo},
		{"smtp-max-conns", "RELAIS_SMTP_MAX_CONNS", "SMTP connections kept open per worker", &c.SMTPMaxConns},
		{"email-rate", "RELAIS_EMAIL_RATE", "emails per second per relay", &c.EmailRate},
		{"dkim-domain", "RELAIS_DKIM_DOMAIN", "DKIM signing domain (d=); empty: no DKIM", &c.DKIMDomain},
		{"dkim-selector", "RELAIS_DKIM_SELECTOR", "DKIM selector (s=)", &c.DKIMSelector},
		{"dkim-key-file", "RELAIS_DKIM_KEY_FILE", "PEM private key (RSA or Ed25519) for DKIM", &c.DKIMKeyFile},
		{"audit-retention", "RELAIS_AUDIT_RETENTION", "how long audit log entries are kept (Go duration, 8760h is a year); 0: forever", &c.AuditRetention},
		{"reply-retention", "RELAIS_REPLY_RETENTION", "how long families' SMS replies are kept (Go duration); 0: forever", &c.ReplyRetention},
		{"bounce-retention", "RELAIS_BOUNCE_RETENTION", "how long email bounce reports are kept (Go duration; the address's status stays); 0: forever", &c.BounceRetention},
		{"delivery-retention", "RELAIS_DELIVERY_RETENTION", "how long settled deliveries and their history are kept after their last change (Go duration; the lessons' counts stay); 0: forever", &c.DeliveryRetention},
		{"removed-retention", "RELAIS_REMOVED_RETENTION", "how long after a full import left it out a household is erased (Go duration); 0: never", &c.RemovedRetention},
		{"media-retention", "RELAIS_MEDIA_RETENTION", "how long a lesson's files (upload, renditions, worksheets, postal PDFs and CSVs) are kept after its last airing and change, and playout exports after their day (Go duration); 0: forever", &c.MediaRetention},
		{"trusted-proxies", "RELAIS_TRUSTED_PROXIES", "proxies whose X-Forwarded-For names the client, comma-separated addresses or CIDR prefixes; empty: none", &c.TrustedProxies},
		{"rate-signin", "RELAIS_RATE_SIGNIN", "sign-in requests per client (REQUESTS/SPAN, e.g. 20/1m; off: no limit)", &c.RateSignIn},
		{"rate-family", "RELAIS_RATE_FAMILY", "family page and file requests per client (REQUESTS/SPAN; off: no limit)", &c.RateFamily},
		{"rate-unsubscribe", "RELAIS_RATE_UNSUBSCRIBE", "unsubscribe link requests per client (REQUESTS/SPAN; off: no limit)", &c.RateUnsub},
		{"rate-webhooks", "RELAIS_RATE_WEBHOOKS", "provider webhook requests per client, above the provider's callback rate (REQUESTS/SPAN; off: no limit)", &c.RateWebhooks},
		{"oidc-issuer", "RELAIS_OIDC_ISSUER", "OpenID provider staff sign in through (issuer URL); empty: API tokens only", &c.OIDCIssuer},
		{"oidc-client-id", "RELAIS_OIDC_CLIENT_ID", "Relais' client id at the OpenID provider", &c.OIDCClientID},
		{"oidc-client-secret", "RELAIS_OIDC_CLIENT_SECRET", "Relais' client secret at the OpenID provider; empty: a public client (PKCE only)", &c.OIDCClientSecret},
		{"oidc-name", "RELAIS_OIDC_NAME", "the provider's name on the sign-in button; empty: the issuer's host", &c.OIDCName},
		{"oidc-role-claim", "RELAIS_OIDC_ROLE_CLAIM", "claim whose values map to Relais roles (a string or a list)", &c.OIDCRoleClaim},
		{"oidc-roles", "RELAIS_OIDC_ROLES", "claim values to roles, e.g. relais-admin=admin,relais-media=media,teacher=teacher", &c.OIDCRoles},
	}
}

// bind registers the settings named in only (every setting when only is empty) on fs, after applying
// their environment variables; the others keep their defaults. Errors name the variable. A variable set
// to the empty string means what the setting's help says empty means ("empty: none"); for a setting
// whose help gives empty no meaning, it is as if unset (the default stays), so that `RELAIS_SMTP_PORT=`
// in a compose file is not an error.
func (c *Config) bind(fs *flag.FlagSet, lookupEnv func(string) (string, bool), only ...string) error {
	var errs []error
	for _, s := range c.settings() {
		if len(only) > 0 && !slices.Contains(only, s.flag) {
			continue
		}
		v := value{s.ptr}
		env, set := lookupEnv(s.env)
		if set && env == "" && s.emptyMeans() {
			v.Set("")
		}
		if env != "" {
			if err := v.Set(env); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", s.env, env, err))
			}
		}
		fs.Var(v, s.flag, s.help+" ["+s.env+"]")
	}
	return errors.Join(errs...)
}

// value adapts a Config field to flag.Value.
type value struct{ ptr any }

func (v value) String() string {
	switch p := v.ptr.(type) {
	case nil:
		return ""
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *bool:
		return strconv.FormatBool(*p)
	case *time.Duration:
		return p.String()
	}
	return ""
}

func (v value) IsBoolFlag() bool { _, ok := v.ptr.(*bool); return ok }

func (v value) Set(s string) error {
	switch p := v.ptr.(type) {
	case *string:
		*p = s
	case *int:
		return parseInto(p, s, strconv.Atoi, "not a whole number")
	case *int64:
		return parseInto(p, s, relais.ParseBytes, "not a size such as 2147483648 or 2GiB")
	case *float64:
		return parseInto(p, s, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, "not a number")
	case *bool:
		return parseInto(p, s, strconv.ParseBool, "not true or false")
	case *time.Duration:
		return parseInto(p, s, time.ParseDuration, "not a duration such as 90m or 2h")
	}
	return nil
}

// parseInto sets *p to s parsed, or says what s should have been.
func parseInto[T any](p *T, s string, parse func(string) (T, error), want string) error {
	x, err := parse(s)
	if err != nil {
		return errors.New(want)
	}
	*p = x
	return nil
}

// limits reads the per-client rate limits.
func (c *Config) limits() (clients.Limits, error) {
	var l clients.Limits
	var errs []error
	for _, r := range []struct {
		env, v string
		dst    *clients.Rule
	}{{"RELAIS_RATE_SIGNIN", c.RateSignIn, &l.SignIn}, {"RELAIS_RATE_FAMILY", c.RateFamily, &l.Family},
		{"RELAIS_RATE_UNSUBSCRIBE", c.RateUnsub, &l.Unsubscribe}, {"RELAIS_RATE_WEBHOOKS", c.RateWebhooks, &l.Webhooks}} {
		rule, err := clients.ParseRule(r.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.env, err))
		}
		*r.dst = rule
	}
	return l, errors.Join(errs...)
}

// resolve fills the settings derived from others.
func (c *Config) resolve() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "relais.db")
	}
	if c.MediaDir == "" {
		c.MediaDir = filepath.Join(c.DataDir, "media")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Validate checks settings and their combinations, saying what to fix: every problem at once, so one
// start-up names them all.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c.validateServer(bad)
	c.validateStorage(bad)
	c.validateWork(bad)
	c.validateSMS(bad)
	c.validateEmail(bad)
	return errors.Join(errs...)
}

// validateServer checks the HTTP listener, links, pick lists, sign-in, proxies, rate limits and logs.
func (c *Config) validateServer(bad func(format string, args ...any)) {
	if _, err := c.pickLists(); err != nil {
		bad("%w", err)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("RELAIS_HTTP_ADDR %q must be host:port, e.g. 127.0.0.1:8080", c.HTTPAddr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("RELAIS_PUBLIC_URL %q must be an absolute http(s) URL", c.PublicURL)
	}
	if _, err := c.legacyLinksUntil(); err != nil {
		bad("RELAIS_LEGACY_LINKS_UNTIL %q must be a date YYYY-MM-DD, or empty", c.LegacyLinksUntil)
	}
	if c.OIDCIssuer != "" {
		if u, err := url.Parse(c.OIDCIssuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("RELAIS_OIDC_ISSUER %q must be an absolute http(s) URL, the provider's issuer", c.OIDCIssuer)
		}
		if c.OIDCClientID == "" {
			bad("RELAIS_OIDC_ISSUER needs RELAIS_OIDC_CLIENT_ID, the client registered for Relais at the provider")
		}
		if c.OIDCRoleClaim == "" {
			bad("RELAIS_OIDC_ISSUER needs RELAIS_OIDC_ROLE_CLAIM, the claim roles are read from (e.g. groups)")
		}
		if roles, err := ui.ParseRoleMap(c.OIDCRoles); err != nil {
			bad("RELAIS_OIDC_ROLES: %v", err)
		} else if len(roles) == 0 {
			bad("RELAIS_OIDC_ISSUER needs RELAIS_OIDC_ROLES, e.g. relais-admin=admin,relais-media=media,teacher=teacher")
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("RELAIS_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("RELAIS_LOG_FORMAT %q must be text or json", c.LogFormat)
	}
	if _, err := c.limits(); err != nil {
		bad("%w", err)
	}
	if _, err := clients.ParseTrusted(c.TrustedProxies); err != nil {
		bad("RELAIS_TRUSTED_PROXIES: %v", err)
	}
}

// validateStorage checks the database, the media store, uploads and retention.
func (c *Config) validateStorage(bad func(format string, args ...any)) {
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !isPostgresURL(c.DatabaseURL) {
		bad("RELAIS_DATABASE_URL %q must be sqlite:PATH or postgres://user:password@host:port/database", postgres.Redact(c.DatabaseURL))
	}
	if c.MediaURL != "" {
		if !strings.HasPrefix(c.MediaURL, "s3://") || len(c.MediaURL) <= len("s3://") {
			bad("RELAIS_MEDIA_URL %q must be s3://bucket/prefix (or empty for RELAIS_MEDIA_DIR)", c.MediaURL)
		}
		if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
			bad("RELAIS_S3_ACCESS_KEY and RELAIS_S3_SECRET_KEY go together")
		}
	}
	if c.MediaRedirect < 0 || (c.MediaRedirect > 0 && c.MediaRedirect < 2*time.Minute) || c.MediaRedirect > 7*24*time.Hour {
		bad("RELAIS_MEDIA_REDIRECT %s must be 0, or between 2m and 168h", c.MediaRedirect)
	}
	if c.MaxUploadBytes < 1<<20 {
		bad("RELAIS_MAX_UPLOAD_BYTES %d is below 1 MiB: no lesson would fit", c.MaxUploadBytes)
	}
	if c.MaxMediaDuration < time.Minute {
		bad("RELAIS_MAX_MEDIA_DURATION %s is below one minute", c.MaxMediaDuration)
	}
	if c.ReplyRetention < 0 || c.BounceRetention < 0 || c.DeliveryRetention < 0 || c.RemovedRetention < 0 || c.MediaRetention < 0 {
		bad("RELAIS_REPLY_RETENTION, RELAIS_BOUNCE_RETENTION, RELAIS_DELIVERY_RETENTION, RELAIS_REMOVED_RETENTION and RELAIS_MEDIA_RETENTION cannot be negative")
	}
	if c.AuditRetention < 0 {
		bad("RELAIS_AUDIT_RETENTION %s is negative", c.AuditRetention)
	}
}

// validateWork checks the queue's Redis, the media renditions, the workers and the zones of the stations' regions.
func (c *Config) validateWork(bad func(format string, args ...any)) {
	if c.TVFormat != "1080i25" && c.TVFormat != "720p50" {
		bad("RELAIS_TV_FORMAT %q must be 1080i25 or 720p50", c.TVFormat)
	}
	if c.TVAudioCodec != "mp2" && c.TVAudioCodec != "aac" {
		bad("RELAIS_TV_AUDIO_CODEC %q must be mp2 or aac", c.TVAudioCodec)
	}
	if c.SendOrphanAfter < time.Second {
		bad("RELAIS_SEND_ORPHAN_AFTER %s is below one second: live workers' claims would be taken", c.SendOrphanAfter)
	}
	if c.SendClaimBatch < 1 {
		bad("RELAIS_SEND_CLAIM_BATCH %d must be at least 1", c.SendClaimBatch)
	}
	if c.ChunkDuration < 0 || c.ChunkDuration > 0 && c.ChunkDuration < 10*time.Second {
		bad("RELAIS_CHUNK_DURATION must be 0 (off) or at least 10s")
	}
	if c.WorkerConcurrency < 1 || c.MediaConcurrency < 1 {
		bad("RELAIS_WORKER_CONCURRENCY and RELAIS_MEDIA_CONCURRENCY must be at least 1")
	}
	if _, err := c.redis(); err != nil {
		bad("%w", err)
	}
	if _, _, err := c.zones(); err != nil {
		bad("%w", err)
	}
}

// validateSMS checks Twilio, the senders, reminders and quiet hours.
func (c *Config) validateSMS(bad func(format string, args ...any)) {
	if c.SMSReconcileAfter < 0 {
		bad("RELAIS_SMS_RECONCILE_AFTER %s is negative", c.SMSReconcileAfter)
	}
	if len(c.DefaultCountry) != 2 {
		bad("RELAIS_DEFAULT_COUNTRY %q must be a two-letter country code such as FR or KZ", c.DefaultCountry)
	}
	if c.TwilioAccountSID != "" {
		if !strings.HasPrefix(c.TwilioAccountSID, "AC") {
			bad("RELAIS_TWILIO_ACCOUNT_SID %q must start with AC", c.TwilioAccountSID)
		}
		if c.TwilioAuthToken == "" {
			bad("RELAIS_TWILIO_ACCOUNT_SID is set: RELAIS_TWILIO_AUTH_TOKEN is needed too")
		}
		if c.SMSFrom == "" && c.SMSMessagingServiceSID == "" && c.SMSSenders == "" {
			bad("RELAIS_TWILIO_ACCOUNT_SID is set: give a sender in RELAIS_SMS_FROM, RELAIS_SMS_MESSAGING_SERVICE_SID or RELAIS_SMS_SENDERS")
		} else if _, err := c.smsConfig(); err != nil {
			bad("%w", err)
		}
		if c.SMSRate <= 0 {
			bad("RELAIS_SMS_RATE must be above 0 segments per second")
		}
	}
	if b := c.SMSLoadBound; c.TwilioAccountSID == "" && (math.IsNaN(b) || math.IsInf(b, 0) || (b != 0 && b < 1)) {
		bad("RELAIS_SMS_LOAD_BOUND %g must be 0 (no bound) or at least 1", b) // with Twilio, the SMS configuration says so
	}
	if c.ReminderLead < 0 {
		bad("RELAIS_SMS_REMINDER_LEAD %s must not be negative (0 turns reminders off)", c.ReminderLead)
	}
	if _, err := c.quietHours(); err != nil {
		bad("%w", err)
	}
	if c.TwilioAPIURL != "" {
		if u, err := url.Parse(c.TwilioAPIURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("RELAIS_TWILIO_API_URL %q must be an absolute http(s) URL", c.TwilioAPIURL)
		}
	}
}

// validateEmail checks the SMTP relay and DKIM.
func (c *Config) validateEmail(bad func(format string, args ...any)) {
	if c.SMTPHost != "" {
		if a, err := mail.ParseAddress(c.EmailFrom); err != nil || a.Address == "" {
			bad("RELAIS_SMTP_HOST is set: RELAIS_EMAIL_FROM must be an email address, got %q", c.EmailFrom)
		}
		if c.EmailReplyTo != "" {
			if _, err := mail.ParseAddress(c.EmailReplyTo); err != nil {
				bad("RELAIS_EMAIL_REPLY_TO %q is not an email address", c.EmailReplyTo)
			}
		}
		switch c.SMTPTLS {
		case "none", "starttls", "starttls-mandatory", "tls":
		default:
			bad("RELAIS_SMTP_TLS %q must be none, starttls, starttls-mandatory or tls", c.SMTPTLS)
		}
		if c.SMTPPort < 1 || c.SMTPPort > 65535 {
			bad("RELAIS_SMTP_PORT %d is not a port", c.SMTPPort)
		}
		if c.SMTPUsername != "" && c.SMTPPassword == "" {
			bad("RELAIS_SMTP_USERNAME is set: RELAIS_SMTP_PASSWORD is needed too")
		}
		if c.SMTPMaxConns < 1 || c.EmailRate <= 0 {
			bad("RELAIS_SMTP_MAX_CONNS must be at least 1 and RELAIS_EMAIL_RATE above 0")
		}
	}
	if (c.DKIMDomain != "") != (c.DKIMKeyFile != "") || (c.DKIMDomain != "" && c.DKIMSelector == "") {
		bad("DKIM needs RELAIS_DKIM_DOMAIN, RELAIS_DKIM_SELECTOR and RELAIS_DKIM_KEY_FILE together")
	}
}

// redis returns the connection options of the configured Redis, or nil when there is none (serve and
// demo then start a private redis-server).
func (c *Config) redis() (asynq.RedisConnOpt, error) {
	if c.RedisURL == "" {
		if c.RedisCAFile != "" {
			return nil, errors.New("RELAIS_REDIS_CA_FILE is set: give the TLS Redis in RELAIS_REDIS_URL (rediss://...)")
		}
		if c.RedisAddr == "" {
			return nil, nil
		}
		return asynq.RedisClientOpt{Addr: c.RedisAddr, Password: c.RedisPass, DB: c.RedisDB}, nil
	}
	if c.RedisAddr != "" || c.RedisPass != "" || c.RedisDB != 0 {
		return nil, errors.New("RELAIS_REDIS_URL is set: leave RELAIS_REDIS_ADDR, RELAIS_REDIS_PASSWORD and RELAIS_REDIS_DB empty (the URL carries them)")
	}
	var tc *tls.Config
	if c.RedisCAFile != "" {
		if !strings.HasPrefix(c.RedisURL, "rediss") {
			return nil, fmt.Errorf("RELAIS_REDIS_CA_FILE is set but RELAIS_REDIS_URL %s does not use TLS: write rediss://", redisurl.Redact(c.RedisURL))
		}
		pem, err := os.ReadFile(c.RedisCAFile)
		if err != nil {
			return nil, fmt.Errorf("RELAIS_REDIS_CA_FILE: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("RELAIS_REDIS_CA_FILE %s holds no PEM certificate", c.RedisCAFile)
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	}
	opt, err := redisurl.Parse(c.RedisURL, tc)
	if err != nil {
		return nil, fmt.Errorf("RELAIS_REDIS_URL %s: %w", redisurl.Redact(c.RedisURL), err)
	}
	return opt, nil
}

// quietHours reads the SMS quiet-hours settings.
func (c *Config) quietHours() (sms.QuietHours, error) {
	var q sms.QuietHours
	if v := strings.TrimSpace(c.QuietHours); v != "" && v != "off" {
		from, to, ok := strings.Cut(v, "-")
		start, err1 := time.Parse("15:04", strings.TrimSpace(from))
		end, err2 := time.Parse("15:04", strings.TrimSpace(to))
		if !ok || err1 != nil || err2 != nil {
			return q, fmt.Errorf("RELAIS_SMS_QUIET_HOURS %q must be HH:MM-HH:MM (e.g. 22:00-08:00) or off", v)
		}
		q.Start = time.Duration(start.Hour())*time.Hour + time.Duration(start.Minute())*time.Minute
		q.End = time.Duration(end.Hour())*time.Hour + time.Duration(end.Minute())*time.Minute
	}
	days := map[string]time.Weekday{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		days[strings.ToLower(d.String())] = d
	}
	for _, name := range strings.Split(c.QuietDays, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		d, ok := days[name]
		if !ok {
			return q, fmt.Errorf("RELAIS_SMS_QUIET_DAYS: %q is not a weekday (monday ... sunday)", name)
		}
		q.Days = append(q.Days, d)
	}
	for _, date := range strings.Split(c.QuietDates, ",") {
		date = strings.TrimSpace(date)
		if date == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			return q, fmt.Errorf("RELAIS_SMS_QUIET_DATES: %q is not a date YYYY-MM-DD", date)
		}
		q.Holidays = append(q.Holidays, date)
	}
	return q, nil
}

// zones reads the default time zone and the zone of each region.
func (c *Config) zones() (def *time.Location, byRegion map[string]*time.Location, err error) {
	def, err = time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, nil, fmt.Errorf("RELAIS_TIMEZONE %q is not an IANA time zone such as Europe/Paris", c.TimeZone)
	}
	byRegion = map[string]*time.Location{}
	for _, pair := range strings.Split(c.RegionTimeZones, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		region, zone, ok := strings.Cut(pair, "=")
		loc, err := time.LoadLocation(strings.TrimSpace(zone))
		if !ok || err != nil {
			return nil, nil, fmt.Errorf("RELAIS_REGION_TIMEZONES: %q must be REGION=Area/City", pair)
		}
		byRegion[strings.TrimSpace(region)] = loc
	}
	return def, byRegion, nil
}

// planConfig is what publishing plans assume (the CLI's plan, the API's and the web pages'): the
// configured SMS sender pool (or one sender at RELAIS_SMS_RATE), email rate and reminder lead, so that
// a plan tells what the workers will do.
func (c *Config) planConfig() scheduler.PlanConfig {
	pc := scheduler.DefaultPlanConfig()
	pc.SMSRate, pc.EmailRate, pc.ReminderLead = c.SMSRate, c.EmailRate, c.ReminderLead
	pc.SMSPool, pc.SMSLoadBound = c.smsPool(), c.SMSLoadBound
	q, qerr := c.quietHours()
	loc, byRegion, zerr := c.zones()
	if qerr == nil && zerr == nil && (q.Start != q.End || len(q.Days) > 0 || len(q.Holidays) > 0) { // Validate checked them
		pc.SMSFrom = func(t time.Time) time.Time { return sms.NextSendTime(t, loc, q).UTC() }
		pc.SMSFromIn = regionSMSFrom(loc, byRegion, q)
	}
	return pc
}

// regionSMSFrom is when quiet hours let a region's SMS go after t, in the region's time zone
// (RELAIS_REGION_TIMEZONES) or the default one, as the workers' send window (sendWindow) holds them.
func regionSMSFrom(def *time.Location, byRegion map[string]*time.Location, q sms.QuietHours) func(region string, t time.Time) time.Time {
	return func(region string, t time.Time) time.Time {
		loc, ok := byRegion[region]
		if !ok {
			loc = def
		}
		return sms.NextSendTime(t, loc, q).UTC()
	}
}

// smsConfig is the SMS channel's configuration: the Twilio account, and the senders of RELAIS_SMS_FROM
// or RELAIS_SMS_MESSAGING_SERVICE_SID (for every country) and RELAIS_SMS_SENDERS: a file of senders
// (a value without "="), or one sender per country (FR=Ecole,KZ=+77010000000). A sender without a rate
// sends at RELAIS_SMS_RATE.
func (c *Config) smsConfig() (sms.Config, error) {
	scfg := sms.DefaultConfig()
	scfg.AccountSID, scfg.AuthToken, scfg.APIURL, scfg.PublicURL = c.TwilioAccountSID, c.TwilioAuthToken, c.TwilioAPIURL, c.PublicURL
	scfg.Rate, scfg.LoadBound = c.SMSRate, c.SMSLoadBound
	if c.SMSFrom != "" {
		scfg.Senders[sms.DefaultCountry] = c.SMSFrom
	}
	if c.SMSMessagingServiceSID != "" {
		scfg.Senders[sms.DefaultCountry] = c.SMSMessagingServiceSID
	}
	switch v := strings.TrimSpace(c.SMSSenders); {
	case v == "":
	case strings.Contains(v, "="):
		byCountry, err := sms.ParseSenders(v)
		if err != nil {
			return scfg, fmt.Errorf("RELAIS_SMS_SENDERS: %w", err)
		}
		for country, sender := range byCountry {
			scfg.Senders[country] = sender
		}
	default:
		getenv := c.getenv
		if getenv == nil {
			getenv = func(string) string { return "" }
		}
		pool, err := sms.ReadPool(v, getenv)
		if err != nil {
			return scfg, fmt.Errorf("RELAIS_SMS_SENDERS: %w", err)
		}
		scfg.Pool = pool
	}
	if err := scfg.Validate(); err != nil {
		return scfg, fmt.Errorf("RELAIS_SMS_SENDERS, RELAIS_SMS_FROM, RELAIS_TWILIO_*:\n%w", indent(err))
	}
	return scfg, nil
}

// smsPool describes the SMS senders: those of the configuration, or, without Twilio (a process that
// sends no SMS), one sender at RELAIS_SMS_RATE.
func (c *Config) smsPool() channels.Pool {
	if c.TwilioAccountSID != "" {
		if scfg, err := c.smsConfig(); err == nil {
			return scfg.Lanes()
		}
	}
	return nil
}

// dbSettings are the settings of a command that only opens the database: the help of such a command
// lists these, not the server's SMTP and Twilio settings.
var dbSettings = []string{"data-dir", "database-url"}

// loadConfig reads env and flags for a server command (every setting) and validates the result.
func loadConfig(fs *flag.FlagSet, args []string, io *stdio) (Config, error) {
	return loadSettings(fs, args, io)
}

// loadSettings reads env and flags for a command that uses only the settings named (every setting when
// none is named), and validates the result.
func loadSettings(fs *flag.FlagSet, args []string, io *stdio, only ...string) (Config, error) {
	cfg := DefaultConfig()
	cfg.getenv = io.getenv
	envErr := cfg.bind(fs, io.lookupEnv, only...)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	cfg.resolve()
	if err := errors.Join(envErr, cfg.Validate()); err != nil {
		return cfg, fmt.Errorf("configuration:\n%w", indent(err))
	}
	return cfg, nil
}

func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  - " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// oidc is the UI's sign-in through the OpenID provider; its issuer is empty when none is configured.
func (c Config) oidc() ui.OIDCConfig {
	if c.OIDCIssuer == "" {
		return ui.OIDCConfig{}
	}
	roles, _ := ui.ParseRoleMap(c.OIDCRoles) // checked by Validate
	name := c.OIDCName
	if u, err := url.Parse(c.OIDCIssuer); name == "" && err == nil {
		name = u.Hostname()
	}
	return ui.OIDCConfig{Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret, Name: name,
		RedirectURL: c.PublicURL + "/ui/oidc/callback", SignedOutURL: c.PublicURL + "/ui/signin",
		RoleClaim: c.OIDCRoleClaim, Roles: roles}
}

// legacyLinksUntil is when family links of earlier versions stop working (midnight UTC of the date);
// zero when they keep working.
func (c Config) legacyLinksUntil() (time.Time, error) {
	if c.LegacyLinksUntil == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, c.LegacyLinksUntil)
}

// pickLists reads RELAIS_SUBJECTS and RELAIS_REGIONS.
func (c Config) pickLists() (relais.PickLists, error) {
	subjects, err := relais.ParseList("RELAIS_SUBJECTS", c.Subjects)
	if err != nil {
		return relais.PickLists{}, err
	}
	regions, err := relais.ParseList("RELAIS_REGIONS", c.Regions)
	return relais.PickLists{Subjects: subjects, Regions: regions}, err
}

// retention is how long families' data is kept.
func (c *Config) retention() relais.Retention {
	return relais.Retention{Replies: c.ReplyRetention, Bounces: c.BounceRetention, Deliveries: c.DeliveryRetention,
		Removed: c.RemovedRetention, Media: c.MediaRetention}
}
