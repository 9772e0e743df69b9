package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relais-edu/relais/channels"
)

// TestSMSSenders: admins see the sender pool, each country's senders and summed rate; no other role does.
func TestSMSSenders(t *testing.T) {
	pool := channels.Pool{
		{Name: "fr-1", Country: "FR", Kind: "short_code", Address: "38101", Account: "AC1", Rate: 20},
		{Name: "fr-2", Country: "FR", Kind: "short_code", Address: "38102", Account: "AC2", Rate: 20},
		{Name: "Relais", Country: "*", Kind: "alphanumeric", Address: "Relais", Account: "AC1", Rate: 10},
	}
	f := newFixture(t, func(c *Config) { c.Plan.SMSPool, c.Plan.SMSLoadBound = pool, 1 })
	if status, _ := f.do("GET", "/api/v1/sms/senders", "m", nil, ""); status != 403 {
		t.Errorf("media role: %d, want 403", status)
	}
	status, body := f.do("GET", "/api/v1/sms/senders", "a", nil, "")
	if status != 200 {
		t.Fatalf("admin: %d %v", status, body)
	}
	want := map[string]any{
		"senders": []any{
			map[string]any{"name": "fr-1", "country": "FR", "kind": "short_code", "address": "38101", "account": "AC1", "rate": 20.0},
			map[string]any{"name": "fr-2", "country": "FR", "kind": "short_code", "address": "38102", "account": "AC2", "rate": 20.0},
			map[string]any{"name": "Relais", "country": "*", "kind": "alphanumeric", "address": "Relais", "account": "AC1", "rate": 10.0},
		},
		"countries": []any{
			map[string]any{"country": "FR", "senders": 2.0, "rate": 40.0},
			map[string]any{"country": "*", "senders": 1.0, "rate": 10.0},
		},
		"load_bound": 1.0,
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("senders (-want +got):\n%s", diff)
	}
}
