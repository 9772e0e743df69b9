package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/postgres"
)

// Config is every setting of Relais. Each has an environment variable and a flag (see settings); flags
// win over the environment, which wins over DefaultConfig.
type Config struct {
	DataDir     string
	DatabaseURL string
	MediaDir    string
	RedisAddr   string
	RedisPass   string
	RedisDB     int
	HTTPAddr    string
	PublicURL   string
	Secret      string
	LogLevel    string
	LogFormat   string

	MaxUploadBytes    int64
	MaxMediaDuration  time.Duration
	TVFormat          string
	TVAudioCodec      string
	RadioWAV          bool
	ServiceProvider   string
	WorkerConcurrency int
	MediaConcurrency  int
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
	QuietHours             string
	ReminderLead           time.Duration
	SMSReconcileAfter      time.Duration
	QuietDays              string
	QuietDates             string
	TimeZone               string
	RegionTimeZones        string

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
		DefaultCountry:    "FR",
		SendOrphanAfter:   10 * time.Second,
		SendClaimBatch:    10,
		SMSReconcileAfter: 15 * time.Minute,
		SMSRate:           10,
		QuietHours:        "22:00-08:00",
		ReminderLead:      time.Hour,
		QuietDays:         "sunday",
		TimeZone:          "Europe/Paris",
		SMTPPort:          587,
		SMTPTLS:           "starttls",
		SMTPMaxConns:      4,
		EmailRate:         50,
	}
}

// setting binds one Config field to RELAIS_<ENV> and --<flag>.
type setting struct {
	flag, env, help string
	ptr             any
}

func (c *Config) settings() []setting {
	return []setting{
		{"data-dir", "RELAIS_DATA_DIR", "directory for the SQLite database, media and the private Redis", &c.DataDir},
		{"database-url", "RELAIS_DATABASE_URL", "database: sqlite:PATH or postgres://user:password@host:port/db; empty: SQLite at DATA_DIR/relais.db", &c.DatabaseURL},
		{"media-dir", "RELAIS_MEDIA_DIR", "uploads and renditions; empty: DATA_DIR/media", &c.MediaDir},
		{"redis-addr", "RELAIS_REDIS_ADDR", "Redis host:port; empty: serve and demo start a private redis-server", &c.RedisAddr},
		{"redis-password", "RELAIS_REDIS_PASSWORD", "Redis password", &c.RedisPass},
		{"redis-db", "RELAIS_REDIS_DB", "Redis database number", &c.RedisDB},
		{"http-addr", "RELAIS_HTTP_ADDR", "address the HTTP API listens on", &c.HTTPAddr},
		{"public-url", "RELAIS_PUBLIC_URL", "public base URL in links and webhooks; empty: http://HTTP_ADDR", &c.PublicURL},
		{"secret", "RELAIS_SECRET", "key that signs family links and unsubscribe links; empty: generated in DATA_DIR/secret", &c.Secret},
		{"log-level", "RELAIS_LOG_LEVEL", "debug, info, warn or error", &c.LogLevel},
		{"log-format", "RELAIS_LOG_FORMAT", "text or json", &c.LogFormat},
		{"max-upload-bytes", "RELAIS_MAX_UPLOAD_BYTES", "largest lesson upload, in bytes (suffixes KiB, MiB, GiB accepted)", &c.MaxUploadBytes},
		{"max-media-duration", "RELAIS_MAX_MEDIA_DURATION", "longest lesson accepted (Go duration, e.g. 2h)", &c.MaxMediaDuration},
		{"tv-format", "RELAIS_TV_FORMAT", "TV rendition: 1080i25 or 720p50", &c.TVFormat},
		{"tv-audio-codec", "RELAIS_TV_AUDIO_CODEC", "TV rendition audio: mp2 or aac", &c.TVAudioCodec},
		{"radio-wav", "RELAIS_RADIO_WAV", "also write a 48 kHz WAV master of the radio rendition", &c.RadioWAV},
		{"service-provider", "RELAIS_SERVICE_PROVIDER", "provider name written in the TV transport stream", &c.ServiceProvider},
		{"worker-concurrency", "RELAIS_WORKER_CONCURRENCY", "send, fan-out and text tasks run at once per worker", &c.WorkerConcurrency},
		{"media-concurrency", "RELAIS_MEDIA_CONCURRENCY", "probes and transcodes run at once per worker", &c.MediaConcurrency},
		{"send-orphan-after", "RELAIS_SEND_ORPHAN_AFTER", "a send claim not refreshed for this long belongs to a dead worker and is reconciled", &c.SendOrphanAfter},
		{"send-claim-batch", "RELAIS_SEND_CLAIM_BATCH", "messages a send task claims, then records the outcomes of, at a time", &c.SendClaimBatch},
		{"default-country", "RELAIS_DEFAULT_COUNTRY", "country of phone numbers written without +, ISO code", &c.DefaultCountry},
		{"twilio-account-sid", "RELAIS_TWILIO_ACCOUNT_SID", "Twilio account SID (AC...); empty: no SMS channel", &c.TwilioAccountSID},
		{"twilio-auth-token", "RELAIS_TWILIO_AUTH_TOKEN", "Twilio auth token; also verifies webhook signatures", &c.TwilioAuthToken},
		{"twilio-api-url", "RELAIS_TWILIO_API_URL", "Twilio REST base URL; empty: the real Twilio (set it to a relais twilio-sandbox)", &c.TwilioAPIURL},
		{"sms-from", "RELAIS_SMS_FROM", "SMS sender: alphanumeric sender, short code or phone number", &c.SMSFrom},
		{"sms-messaging-service-sid", "RELAIS_SMS_MESSAGING_SERVICE_SID", "Twilio Messaging Service SID (MG...), instead of sms-from", &c.SMSMessagingServiceSID},
		{"sms-rate", "RELAIS_SMS_RATE", "SMS segments per second per sender, shared by all workers", &c.SMSRate},
		{"sms-senders", "RELAIS_SMS_SENDERS", "senders per recipient country, e.g. FR=Ecole,KZ=+77010000000 (others use sms-from)", &c.SMSSenders},
		{"sms-reminder-lead", "RELAIS_SMS_REMINDER_LEAD", "how long before a broadcast families get a reminder SMS; 0: no reminders", &c.ReminderLead},
		{"sms-reconcile-after", "RELAIS_SMS_RECONCILE_AFTER", "an SMS left queued or sent this long has its status fetched from Twilio; 0: never", &c.SMSReconcileAfter},
		{"sms-quiet-hours", "RELAIS_SMS_QUIET_HOURS", "no SMS between these local times (HH:MM-HH:MM); off: none", &c.QuietHours},
		{"sms-quiet-days", "RELAIS_SMS_QUIET_DAYS", "weekdays without SMS, comma-separated (sunday,saturday); empty: none", &c.QuietDays},
		{"sms-quiet-dates", "RELAIS_SMS_QUIET_DATES", "public holidays without SMS, comma-separated YYYY-MM-DD", &c.QuietDates},
		{"timezone", "RELAIS_TIMEZONE", "time zone of households whose region has none of its own (IANA name)", &c.TimeZone},
		{"region-timezones", "RELAIS_REGION_TIMEZONES", "time zone per household region, e.g. Almaty=Asia/Almaty,Aktobe=Asia/Aqtobe", &c.RegionTimeZones},
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
	}
}

// bind registers the settings named in only (every setting when only is empty) on fs, after applying
// their environment variables. The others keep their defaults. Errors name the variable.
func (c *Config) bind(fs *flag.FlagSet, getenv func(string) string, only ...string) error {
	var errs []error
	for _, s := range c.settings() {
		if len(only) > 0 && !slices.Contains(only, s.flag) {
			continue
		}
		v := value{s.ptr}
		if env := getenv(s.env); env != "" {
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
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("not a whole number")
		}
		*p = n
	case *int64:
		n, err := parseBytes(s)
		if err != nil {
			return err
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New("not a number")
		}
		*p = f
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("not true or false")
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("not a duration such as 90m or 2h")
		}
		*p = d
	}
	return nil
}

func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a size such as 2147483648 or 2GiB")
	}
	return n * mult, nil
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

// Validate checks settings and their combinations, saying what to fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("RELAIS_HTTP_ADDR %q must be host:port, e.g. 127.0.0.1:8080", c.HTTPAddr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("RELAIS_PUBLIC_URL %q must be an absolute http(s) URL", c.PublicURL)
	}
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !isPostgresURL(c.DatabaseURL) {
		bad("RELAIS_DATABASE_URL %q must be sqlite:PATH or postgres://user:password@host:port/database", postgres.Redact(c.DatabaseURL))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("RELAIS_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("RELAIS_LOG_FORMAT %q must be text or json", c.LogFormat)
	}
	if c.TVFormat != "1080i25" && c.TVFormat != "720p50" {
		bad("RELAIS_TV_FORMAT %q must be 1080i25 or 720p50", c.TVFormat)
	}
	if c.TVAudioCodec != "mp2" && c.TVAudioCodec != "aac" {
		bad("RELAIS_TV_AUDIO_CODEC %q must be mp2 or aac", c.TVAudioCodec)
	}
	if c.MaxUploadBytes < 1<<20 {
		bad("RELAIS_MAX_UPLOAD_BYTES %d is below 1 MiB: no lesson would fit", c.MaxUploadBytes)
	}
	if c.MaxMediaDuration < time.Minute {
		bad("RELAIS_MAX_MEDIA_DURATION %s is below one minute", c.MaxMediaDuration)
	}
	if c.SendOrphanAfter < time.Second {
		bad("RELAIS_SEND_ORPHAN_AFTER %s is below one second: live workers' claims would be taken", c.SendOrphanAfter)
	}
	if c.SendClaimBatch < 1 {
		bad("RELAIS_SEND_CLAIM_BATCH %d must be at least 1", c.SendClaimBatch)
	}
	if c.SMSReconcileAfter < 0 {
		bad("RELAIS_SMS_RECONCILE_AFTER %s is negative", c.SMSReconcileAfter)
	}
	if c.WorkerConcurrency < 1 || c.MediaConcurrency < 1 {
		bad("RELAIS_WORKER_CONCURRENCY and RELAIS_MEDIA_CONCURRENCY must be at least 1")
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
		if c.SMSFrom == "" && c.SMSMessagingServiceSID == "" {
			bad("RELAIS_TWILIO_ACCOUNT_SID is set: give a sender in RELAIS_SMS_FROM or RELAIS_SMS_MESSAGING_SERVICE_SID")
		}
		if c.SMSRate <= 0 {
			bad("RELAIS_SMS_RATE must be above 0 segments per second")
		}
	}
	if c.ReminderLead < 0 {
		bad("RELAIS_SMS_REMINDER_LEAD %s must not be negative (0 turns reminders off)", c.ReminderLead)
	}
	if _, err := c.quietHours(); err != nil {
		bad("%v", err)
	}
	if _, _, err := c.zones(); err != nil {
		bad("%v", err)
	}
	if c.TwilioAPIURL != "" {
		if u, err := url.Parse(c.TwilioAPIURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("RELAIS_TWILIO_API_URL %q must be an absolute http(s) URL", c.TwilioAPIURL)
		}
	}
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
	return errors.Join(errs...)
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
// configured SMS and email rates and reminder lead, so that a plan tells what the workers will do.
func (c *Config) planConfig() scheduler.PlanConfig {
	pc := scheduler.DefaultPlanConfig()
	pc.SMSRate, pc.EmailRate, pc.ReminderLead = c.SMSRate, c.EmailRate, c.ReminderLead
	return pc
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
	envErr := cfg.bind(fs, io.getenv, only...)
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
