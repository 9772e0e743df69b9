package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestPlanSimulate: a small French morning through the pool file of the tests: every SMS of the
// country goes through its three senders in proportion to their rates, the figures are printed per
// profile and channel, and the smallest pool is found.
func TestPlanSimulate(t *testing.T) {
	env := map[string]string{"RELAIS_DATA_DIR": t.TempDir(), "RELAIS_TEST_KZ_TOKEN": "kz1", "RELAIS_SMS_QUIET_HOURS": "off"}
	out, errOut, err := runCLI(env, "plan", "simulate", "--shape", "fr", "--households", "20000", "--senders", "testdata/senders.yaml",
		"--publish", "2026-12-07T07:00:00Z", "--first-slot", "07:05", "--digest-segments", "1")
	if err != nil {
		t.Fatalf("plan simulate: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		"Simulated morning: shape fr, 20000 households. Published 2026-12-07 07:00, SMS from 07:00, first slot 07:05 (UTC).",
		"SMS senders: FR 3 senders, 111 segments/s; KZ 1 senders, 30 segments/s.",
		"Smallest pool that sends every SMS before the first slot:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// sms_only households: 10 % of 20,000, one segment each.
	if !regexp.MustCompile(`sms_only\s+sms\s+2000\s+2000\s+2000\s`).MatchString(out) {
		t.Errorf("no sms_only row of 2000 households:\n%s", out)
	}
	// The short code carries about 100/111 of the French messages.
	m := regexp.MustCompile(`fr-short\s+FR\s+100\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no row of fr-short:\n%s", out)
	}
	if _, _, err := runCLI(env, "plan", "simulate", "--shape", "nz"); err == nil || !strings.Contains(err.Error(), `--shape "nz": give fr or kz`) {
		t.Errorf("unknown shape: %v", err)
	}
}
