package sms

import (
	"errors"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// TestRegionOf: a valid number in E.164 form gives its region; any other fails permanently as an
// invalid contact (Twilio's 21211), saying which of the two it is.
func TestRegionOf(t *testing.T) {
	for _, c := range []struct{ number, region, why string }{
		{"+33612345678", "FR", ""},
		{"+77012345678", "KZ", ""},
		{"+79123456789", "RU", ""},
		{"0612345678", "", "is not in E.164 form"},
		{"+33 6 12 34 56 78", "", "is not in E.164 form"},
		{"", "", "is not in E.164 form"},
		{"+3361234567", "", "is not a valid number"},
		{"+99912345678", "", "is not a valid number"},
	} {
		region, err := regionOf(c.number)
		if c.why == "" {
			if region != c.region || err != nil {
				t.Errorf("regionOf(%q) = %q, %v; want %q", c.number, region, err, c.region)
			}
			continue
		}
		var se *channels.SendError
		if region != "" || !errors.As(err, &se) || se.Kind != channels.Permanent || se.Code != "21211" ||
			se.Contact != relais.ContactInvalid || !strings.Contains(err.Error(), c.why) {
			t.Errorf("regionOf(%q) = %q, %v; want a permanent invalid contact that %s", c.number, region, err, c.why)
		}
	}
}
