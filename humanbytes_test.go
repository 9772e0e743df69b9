package relais

import "testing"

// TestHumanBytes: one format for every size Relais shows (the 413 once read "2048.0 MiB, larger than the
// limit of 2 GiB"), and sizes read back as people write them.
func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{12: "12 B", 300 << 10: "300 KiB", 3 << 19: "1.5 MiB", 2 << 30: "2.0 GiB", 2<<30 + 1: "2.0 GiB", -(1 << 10): "-1.0 KiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[string]int64{"2147483648": 2 << 30, "2GiB": 2 << 30, "512 MiB": 512 << 20, "8MiB": 8 << 20, "2GB": 2e9, " 64KiB ": 64 << 10} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "two gigs", "-1", "99999999999 EiB"} {
		if _, err := ParseBytes(s); err == nil {
			t.Errorf("ParseBytes(%q): no error", s)
		}
	}
}
