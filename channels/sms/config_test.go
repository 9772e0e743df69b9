package sms

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSender(t *testing.T) {
	tests := []struct {
		in   string
		kind SenderKind
		rate int
	}{
		{"Ecole", SenderAlphanumeric, 10},
		{"Relais 2026", SenderAlphanumeric, 10},
		{"38100", SenderShortCode, 100},
		{"+33757000000", SenderLongCode, 1},
		{"+18005550100", SenderTollFree, 3},
		{"MG0123456789abcdef0123456789abcdef", SenderMessagingService, 10},
		{"TwelveLetters", "", 0},
		{"12", "", 0},
		{"33757000000", "", 0}, // 11 digits without +: neither a short code nor E.164
		{"École", "", 0},
	}
	for _, tt := range tests {
		s, err := ParseSender(tt.in)
		if tt.kind == "" {
			if err == nil {
				t.Errorf("ParseSender(%q) = %+v, want an error", tt.in, s)
			}
			continue
		}
		if err != nil || s.Kind != tt.kind || s.Value != tt.in || s.Kind.SegmentsPerSecond() != tt.rate {
			t.Errorf("ParseSender(%q) = %+v, %v; want %s at %d/s", tt.in, s, err, tt.kind, tt.rate)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.AccountSID, good.AuthToken = "AC0123456789abcdef0123456789abcdef", "token123"
	good.Senders = map[string]string{"FR": "Ecole", DefaultCountry: "+33757000000"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.AccountSID = "AC123" },
		func(c *Config) { c.AuthToken = "" },
		func(c *Config) { c.AuthToken = "tok/en" },
		func(c *Config) { c.APIURL = "localhost:8089" },
		func(c *Config) { c.PublicURL = "ftp://x" },
		func(c *Config) { c.Senders = nil },
		func(c *Config) { c.Senders = map[string]string{"fr": "Ecole"} },
		func(c *Config) { c.Senders = map[string]string{"FR": "way too long sender"} },
		func(c *Config) { c.ValidityPeriod = 11 * time.Hour },
	}
	for i, mutate := range bad {
		c := good
		c.Senders = map[string]string{"FR": "Ecole"}
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
	m, err := ParseSenders(" fr=Ecole, KZ=+77010000000,*=MG0123456789abcdef0123456789abcdef ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"FR": "Ecole", "KZ": "+77010000000", "*": "MG0123456789abcdef0123456789abcdef"}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("ParseSenders (-want +got):\n%s", diff)
	}
	if FormatSenders(m) != "*=MG0123456789abcdef0123456789abcdef,FR=Ecole,KZ=+77010000000" {
		t.Errorf("FormatSenders = %q", FormatSenders(m))
	}
}
