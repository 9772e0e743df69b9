package main

import (
	"os"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// TestREADMEDocumentsEverySetting keeps the README's configuration table complete.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	for _, s := range c.settings() {
		if !strings.Contains(string(readme), "| `"+s.env+"` | `--"+s.flag+"` |") {
			t.Errorf("README lacks a row for %s (--%s)", s.env, s.flag)
		}
	}
}

func TestValidateSaysWhatToFix(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"sid without token", func(c *Config) { c.TwilioAccountSID = "AC123"; c.SMSFrom = "X" },
			"RELAIS_TWILIO_ACCOUNT_SID is set: RELAIS_TWILIO_AUTH_TOKEN is needed too"},
		{"sid without sender", func(c *Config) { c.TwilioAccountSID = "AC123"; c.TwilioAuthToken = "t" },
			"give a sender in RELAIS_SMS_FROM, RELAIS_SMS_MESSAGING_SERVICE_SID or RELAIS_SMS_SENDERS"},
		{"sender pool", func(c *Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.SMSSenders = "AC0123456789abcdef0123456789abcdef", "t", "testdata/senders.yaml"
			c.getenv = func(k string) string { return map[string]string{"RELAIS_TEST_KZ_TOKEN": "kz1"}[k] }
		}, ""},
		{"sender pool token unset", func(c *Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.SMSSenders = "AC0123456789abcdef0123456789abcdef", "t", "testdata/senders.yaml"
		}, "environment variable RELAIS_TEST_KZ_TOKEN (auth_token_env) is empty"},
		{"sender pool unknown kind", func(c *Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.SMSSenders = "AC0123456789abcdef0123456789abcdef", "t", "testdata/senders-bad.yaml"
		}, `sms sender "Ecole": unknown kind "pigeon"`},
		{"sender pool alphanumeric to the US", func(c *Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.SMSSenders = "AC0123456789abcdef0123456789abcdef", "t", "testdata/senders-bad.yaml"
		}, "country US takes no alphanumeric sender ID"},
		{"sender pool missing", func(c *Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.SMSSenders = "AC0123456789abcdef0123456789abcdef", "t", "testdata/nope.yaml"
		}, "RELAIS_SMS_SENDERS: sms senders: open testdata/nope.yaml: no such file or directory"},
		{"load bound under 1", func(c *Config) { c.SMSLoadBound = 0.5 }, "RELAIS_SMS_LOAD_BOUND 0.5 must be 0 (no bound) or at least 1"},
		{"load bound under 1 with senders", func(c *Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.SMSFrom, c.SMSLoadBound = "AC0123456789abcdef0123456789abcdef", "t", "Ecole", 0.9
		}, "sms: load bound 0.9 must be 0 (no bound) or at least 1"},
		{"no load bound", func(c *Config) { c.SMSLoadBound = 0 }, ""},
		{"smtp without from", func(c *Config) { c.SMTPHost = "mail" }, "RELAIS_EMAIL_FROM must be an email address"},
		{"bad tv format", func(c *Config) { c.TVFormat = "4k" }, "RELAIS_TV_FORMAT \"4k\" must be 1080i25 or 720p50"},
		{"bad addr", func(c *Config) { c.HTTPAddr = "8080" }, "RELAIS_HTTP_ADDR \"8080\" must be host:port"},
		{"oidc without client", func(c *Config) { c.OIDCIssuer = "https://id.example.org"; c.OIDCRoles = "staff=media" },
			"RELAIS_OIDC_ISSUER needs RELAIS_OIDC_CLIENT_ID"},
		{"oidc without roles", func(c *Config) { c.OIDCIssuer = "https://id.example.org"; c.OIDCClientID = "relais" },
			"RELAIS_OIDC_ISSUER needs RELAIS_OIDC_ROLES"},
		{"oidc bad role", func(c *Config) {
			c.OIDCIssuer, c.OIDCClientID, c.OIDCRoles = "https://id.example.org", "relais", "staff=root"
		}, `RELAIS_OIDC_ROLES: "staff=root" must be CLAIM_VALUE=ROLE`},
		{"oidc", func(c *Config) {
			c.OIDCIssuer, c.OIDCClientID, c.OIDCRoles = "https://id.example.org", "relais", "relais-admin=admin,teacher=teacher"
		}, ""},
		{"legacy links date", func(c *Config) { c.LegacyLinksUntil = "31/03/2027" }, `RELAIS_LEGACY_LINKS_UNTIL "31/03/2027" must be a date YYYY-MM-DD`},
		{"dkim half set", func(c *Config) { c.DKIMDomain = "example.org" }, "DKIM needs RELAIS_DKIM_DOMAIN"},
		{"pick lists", func(c *Config) { c.Subjects, c.Regions = "maths, physics", "Almaty,Aktobe" }, ""},
		{"a region twice", func(c *Config) { c.Regions = "Almaty,Aktobe,Almaty" }, `RELAIS_REGIONS: "Almaty" is given twice`},
		{"redis sentinel", func(c *Config) { c.RedisURL = "redis-sentinel://u:p@s1:26379,s2:26379,s3:26379/0?master=relais" }, ""},
		{"redis cluster", func(c *Config) { c.RedisURL = "redis-cluster://n1:7000,n2:7000,n3:7000" }, ""},
		{"redis sentinel without master", func(c *Config) { c.RedisURL = "redis-sentinel://u:secret@s1:26379,s2:26379/0" },
			"RELAIS_REDIS_URL redis-sentinel://u:xxxxx@s1:26379,s2:26379/0: a Sentinel URL needs the master's name: add ?master=NAME"},
		{"redis url and addr", func(c *Config) { c.RedisURL, c.RedisAddr = "redis://r:6379", "r:6379" },
			"RELAIS_REDIS_URL is set: leave RELAIS_REDIS_ADDR, RELAIS_REDIS_PASSWORD and RELAIS_REDIS_DB empty"},
		{"redis ca without tls", func(c *Config) { c.RedisURL, c.RedisCAFile = "redis://r:6379", "ca.pem" },
			"RELAIS_REDIS_CA_FILE is set but RELAIS_REDIS_URL redis://r:6379 does not use TLS: write rediss://"},
		{"redis ca missing", func(c *Config) { c.RedisURL, c.RedisCAFile = "rediss://r:6379", "/nonexistent/ca.pem" },
			"RELAIS_REDIS_CA_FILE: open /nonexistent/ca.pem: no such file or directory"},
		{"redis ca not pem", func(c *Config) { c.RedisURL, c.RedisCAFile = "rediss://r:6379", "config_test.go" },
			"RELAIS_REDIS_CA_FILE config_test.go holds no PEM certificate"},
		{"media url not s3", func(c *Config) { c.MediaURL = "gs://bucket" }, "RELAIS_MEDIA_URL \"gs://bucket\" must be s3://bucket/prefix"},
		{"s3 key without secret", func(c *Config) { c.MediaURL, c.S3AccessKey = "s3://b/p", "AK" },
			"RELAIS_S3_ACCESS_KEY and RELAIS_S3_SECRET_KEY go together"},
		{"media redirect too short", func(c *Config) { c.MediaRedirect = time.Second }, "RELAIS_MEDIA_REDIRECT 1s must be 0, or between 2m and 168h"},
		{"media on s3", func(c *Config) { c.MediaURL, c.S3AccessKey, c.S3SecretKey = "s3://b/p", "AK", "SK" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			c.resolve()
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{"RELAIS_MAX_UPLOAD_BYTES": "512MiB", "RELAIS_HTTP_ADDR": "127.0.0.1:9000", "RELAIS_RADIO_WAV": "true"}
	io := &stdio{err: &strings.Builder{}, lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	fs := newFlagSet(io, "serve", "serve", "")
	cfg, err := loadConfig(fs, []string{"--http-addr", "127.0.0.1:9100"}, io)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxUploadBytes != 512<<20 || cfg.HTTPAddr != "127.0.0.1:9100" || !cfg.RadioWAV || cfg.PublicURL != "http://127.0.0.1:9100" {
		t.Errorf("cfg = upload %d addr %s wav %v public %s", cfg.MaxUploadBytes, cfg.HTTPAddr, cfg.RadioWAV, cfg.PublicURL)
	}
	env["RELAIS_MAX_MEDIA_DURATION"] = "two hours"
	_, err = loadConfig(newFlagSet(io, "serve", "serve", ""), nil, io)
	if err == nil || !strings.Contains(err.Error(), `RELAIS_MAX_MEDIA_DURATION="two hours": not a duration such as 90m or 2h`) {
		t.Errorf("bad duration: %v", err)
	}
}

// TestEmptyVariables: a variable set to the empty string means what the help says empty means, and is
// otherwise as if unset (RELAIS_SMS_QUIET_DAYS= once left Sunday quiet, so the SMS bench failed on Sundays).
func TestEmptyVariables(t *testing.T) {
	env := map[string]string{"RELAIS_SMS_QUIET_DAYS": "", "RELAIS_SMS_QUIET_HOURS": "", "RELAIS_SMTP_PORT": "", "RELAIS_LOG_LEVEL": ""}
	io := &stdio{err: &strings.Builder{}, lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	cfg, err := loadConfig(newFlagSet(io, "serve", "serve", ""), nil, io)
	if err != nil {
		t.Fatal(err)
	}
	q, err := cfg.quietHours()
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Days) != 0 || q.Start != 0 || q.End != 0 {
		t.Errorf("empty quiet days and hours gave %+v, want none", q)
	}
	def := DefaultConfig()
	if cfg.SMTPPort != def.SMTPPort || cfg.LogLevel != def.LogLevel {
		t.Errorf("empty SMTP port and log level gave %d %q, want the defaults %d %q", cfg.SMTPPort, cfg.LogLevel, def.SMTPPort, def.LogLevel)
	}
	// Unset, the default quiet day stays.
	delete(env, "RELAIS_SMS_QUIET_DAYS")
	cfg, err = loadConfig(newFlagSet(io, "serve", "serve", ""), nil, io)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := cfg.quietHours(); len(q.Days) != 1 || q.Days[0] != time.Sunday {
		t.Errorf("unset quiet days gave %v, want Sunday", q.Days)
	}
}

// TestOIDCConfig: the UI's OpenID settings come from the environment, its addresses from the public
// URL, the button's name from the issuer's host by default.
func TestOIDCConfig(t *testing.T) {
	c := DefaultConfig()
	c.PublicURL = "https://relais.example.org/"
	c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret = "https://id.education.example/realms/staff", "relais", "s3cret"
	c.OIDCRoles = "relais-admin=admin, teacher=teacher"
	c.resolve()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	o := c.oidc()
	if o.Name != "id.education.example" || o.RedirectURL != "https://relais.example.org/ui/oidc/callback" ||
		o.SignedOutURL != "https://relais.example.org/ui/signin" || o.RoleClaim != "groups" || o.ClientSecret != "s3cret" ||
		o.Roles["relais-admin"] != "admin" || o.Roles["teacher"] != "teacher" || len(o.Roles) != 2 {
		t.Errorf("oidc() = %+v", o)
	}
	c.OIDCName = "EduConnect"
	if o := c.oidc(); o.Name != "EduConnect" {
		t.Errorf("name = %q, want EduConnect", o.Name)
	}
	if o := DefaultConfig().oidc(); o.Enabled() {
		t.Errorf("OpenID sign-in enabled by default: %+v", o)
	}
}

// TestSMSPoolReachesLimiterAndPlan: the senders of a pool file are the plan's capacity and each keeps
// its rate; a sender without a rate sends at RELAIS_SMS_RATE.
func TestSMSPoolReachesLimiterAndPlan(t *testing.T) {
	c := DefaultConfig()
	c.TwilioAccountSID, c.TwilioAuthToken, c.SMSSenders = "AC0123456789abcdef0123456789abcdef", "t", "testdata/senders.yaml"
	c.SMSFrom, c.SMSRate = "Relais", 7
	c.getenv = func(string) string { return "kz1" }
	c.resolve()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pool := c.planConfig().SMSPool
	if got := pool.Capacity("FR"); got != 111 {
		t.Errorf("FR capacity %g, want 111", got)
	}
	if got := pool.Capacity("BE"); got != 7 { // RELAIS_SMS_FROM, for every other country, at RELAIS_SMS_RATE
		t.Errorf("capacity for other countries %g, want 7", got)
	}
	if l, ok := pool.Assign("KZ", 1); !ok || l.Account != "ACfedcba9876543210fedcba9876543210" || l.Rate != 30 {
		t.Errorf("KZ sender %+v", l)
	}
}

// TestPlanWaitsForEachRegionsQuietHours: the publishing plan's simulation holds each region's SMS until
// its own quiet hours end, in the region's time zone, as the workers' send window does.
func TestPlanWaitsForEachRegionsQuietHours(t *testing.T) {
	c := DefaultConfig()
	c.QuietHours, c.TimeZone, c.RegionTimeZones = "20:00-08:00", "Europe/Paris", "KZ-AST=Asia/Almaty"
	pc := c.planConfig()
	if pc.SMSFromIn == nil {
		t.Fatal("no SMS start by region in the plan's configuration")
	}
	window, err := sendWindow(c)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC) // 07:00 in Paris (quiet), 11:00 in Astana
	for region, want := range map[string]time.Time{
		"KZ-AST": at,                                           // open already
		"IDF":    time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), // 08:00 in Paris, the default zone
	} {
		if got := pc.SMSFromIn(region, at); !got.Equal(want) {
			t.Errorf("plan: SMS of %s from %s, want %s", region, got, want)
		}
		if got := window(relais.Household{Region: region}, relais.ChannelSMS, at); !got.Equal(want) {
			t.Errorf("send window: SMS of %s from %s, want %s", region, got, want)
		}
	}
}
