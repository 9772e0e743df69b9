package sms

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relais-edu/relais/channels"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	otherSID  = "ACfedcba9876543210fedcba9876543210"
	testToken = "token123"
)

func poolConfig(senders ...PoolSender) Config {
	c := DefaultConfig()
	c.AccountSID, c.AuthToken = testSID, testToken
	c.Pool = senders
	return c
}

func TestPoolValidate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		senders  []PoolSender
		legacy   map[string]string
		rate     float64
		err      string // a part of the error; "" : valid
		warnings []string
	}{
		{name: "three alphanumeric, one account", senders: []PoolSender{
			{Name: "fr-1", Country: "FR", From: "Ecole1", Rate: 10}, {Name: "fr-2", Country: "FR", From: "Ecole2", Rate: 10},
			{Country: "KZ", From: "+77010000000", Rate: 1}}},
		{name: "messaging service on another account", senders: []PoolSender{
			{Name: "kz", Country: "KZ", From: "MG0123456789abcdef0123456789abcdef", Rate: 50, AccountSID: otherSID, AuthToken: "other1"}}},
		{name: "pool and legacy senders", senders: []PoolSender{{Name: "fr", Country: "FR", From: "38100", Rate: 100}},
			legacy: map[string]string{DefaultCountry: "Ecole"}, rate: 10},
		{name: "one sender for two countries", senders: []PoolSender{
			{Country: "FR", From: "Ecole", Rate: 10}, {Country: "BE", From: "Ecole", Rate: 10}}},
		{name: "unknown kind", senders: []PoolSender{{Country: "FR", From: "Ecole", Kind: "pigeon"}}, err: `unknown kind "pigeon"`},
		{name: "kind not the sender's", senders: []PoolSender{{Country: "FR", From: "Ecole", Kind: SenderShortCode}}, err: `kind short_code, but "Ecole" is a alphanumeric`},
		{name: "alphanumeric to the US", senders: []PoolSender{{Country: "US", From: "Ecole"}}, err: "country US takes no alphanumeric sender ID"},
		{name: "bad from", senders: []PoolSender{{Country: "FR", From: "way too long sender"}}, err: "neither an alphanumeric ID"},
		{name: "no from", senders: []PoolSender{{Country: "FR"}}, err: "from is empty"},
		{name: "lower-case country", senders: []PoolSender{{Country: "fr", From: "Ecole"}}, err: `country "fr"`},
		{name: "duplicate sender", senders: []PoolSender{{Name: "a", Country: "FR", From: "Ecole"}, {Name: "b", Country: "FR", From: "Ecole"}},
			err: "duplicate of sender 1"},
		{name: "one name, two senders", senders: []PoolSender{{Name: "a", Country: "FR", From: "Ecole"}, {Name: "a", Country: "KZ", From: "+77010000000"}},
			err: "each sender needs a name of its own"},
		{name: "negative rate", senders: []PoolSender{{Country: "FR", From: "Ecole", Rate: -1}}, err: "rate must be"},
		{name: "account without token", senders: []PoolSender{{Country: "FR", From: "Ecole", AccountSID: otherSID}}, err: "needs an auth_token"},
		{name: "token without account", senders: []PoolSender{{Country: "FR", From: "Ecole", AuthToken: "x"}}, err: "auth_token without account_sid"},
		{name: "bad account", senders: []PoolSender{{Country: "FR", From: "Ecole", AccountSID: "AC12", AuthToken: "x"}}, err: "account_sid must be AC"},
		{name: "one account, two tokens", senders: []PoolSender{
			{Country: "FR", From: "Ecole", AccountSID: otherSID, AuthToken: "one"}, {Country: "KZ", From: "Mektep", AccountSID: otherSID, AuthToken: "two"}},
			err: "has another auth token"},
		{name: "faster than the kind", senders: []PoolSender{{Name: "lc", Country: "FR", From: "+33757000000", Rate: 5}, {Country: "FR", From: "Ecole", Rate: 10}},
			warnings: []string{`sms sender "lc": rate 5 segments/s is above the 1 a long_code sends at; Twilio will queue the rest`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := poolConfig(tc.senders...)
			c.Senders, c.Rate = tc.legacy, tc.rate
			err := c.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("valid pool refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			}
			if diff := cmp.Diff(tc.warnings, c.Warnings()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPoolLanes(t *testing.T) {
	c := poolConfig(PoolSender{Name: "fr-short", Country: "FR", From: "38100"},
		PoolSender{Country: "KZ", From: "MG0123456789abcdef0123456789abcdef", Rate: 30, AccountSID: otherSID, AuthToken: "other1"})
	c.Senders = map[string]string{DefaultCountry: "Ecole"}
	c.Rate = 8
	want := channels.Pool{
		{Name: "fr-short", Country: "FR", Kind: "short_code", Address: "38100", Account: testSID, Rate: 8},
		{Name: "MG0123456789abcdef0123456789abcdef", Country: "KZ", Kind: "messaging_service", Address: "MG0123456789abcdef0123456789abcdef", Account: otherSID, Rate: 30},
		{Name: "Ecole", Country: "*", Kind: "alphanumeric", Address: "Ecole", Account: testSID, Rate: 8},
	}
	if diff := cmp.Diff(want, c.Lanes()); diff != "" {
		t.Errorf("lanes (-want +got):\n%s", diff)
	}
	c.Rate = 0 // each kind's own
	if got := c.Lanes()[0].Rate; got != 100 {
		t.Errorf("a short code without a rate sends at %g, want 100", got)
	}
	if diff := cmp.Diff(map[string]float64{"fr-short": 100, "MG0123456789abcdef0123456789abcdef": 30, "Ecole": 10}, Rates(c.Lanes())); diff != "" {
		t.Errorf("rates (-want +got):\n%s", diff)
	}
}

func TestReadPool(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KZ_TOKEN": "kztoken1"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name, file, err string
		want            []PoolSender
	}{
		{name: "yaml", file: `
senders:
  - name: fr-1
    country: FR
    from: Ecole
    kind: alphanumeric
    rate: 10
  - country: KZ
    from: "+77010000000"
    account_sid: ` + otherSID + `
    auth_token_env: KZ_TOKEN
`, want: []PoolSender{{Name: "fr-1", Country: "FR", From: "Ecole", Kind: SenderAlphanumeric, Rate: 10},
			{Country: "KZ", From: "+77010000000", AccountSID: otherSID, AuthToken: "kztoken1", AuthTokenEnv: "KZ_TOKEN"}}},
		{name: "json", file: `{"senders": [{"country": "FR", "from": "38100", "rate": 100}]}`,
			want: []PoolSender{{Country: "FR", From: "38100", Rate: 100}}},
		{name: "unknown field", file: "senders:\n  - country: FR\n    form: Ecole\n", err: "field form not found"},
		{name: "empty", file: "senders: []\n", err: "no senders"},
		{name: "token variable unset", file: "senders:\n  - country: FR\n    from: Ecole\n    account_sid: " + otherSID + "\n    auth_token_env: NOPE\n",
			err: "NOPE (auth_token_env) is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPool(path, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("senders (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ReadPool(filepath.Join(dir, "missing.yaml"), getenv); err == nil {
		t.Error("a missing file was read")
	}
}
