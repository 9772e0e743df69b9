package main

import (
	"os"
	"strings"
	"testing"
	"time"
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
			"give a sender in RELAIS_SMS_FROM or RELAIS_SMS_MESSAGING_SERVICE_SID"},
		{"smtp without from", func(c *Config) { c.SMTPHost = "mail" }, "RELAIS_EMAIL_FROM must be an email address"},
		{"bad tv format", func(c *Config) { c.TVFormat = "4k" }, "RELAIS_TV_FORMAT \"4k\" must be 1080i25 or 720p50"},
		{"bad addr", func(c *Config) { c.HTTPAddr = "8080" }, "RELAIS_HTTP_ADDR \"8080\" must be host:port"},
		{"dkim half set", func(c *Config) { c.DKIMDomain = "example.org" }, "DKIM needs RELAIS_DKIM_DOMAIN"},
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
	io := &stdio{err: &strings.Builder{}, getenv: func(k string) string { return env[k] }}
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
