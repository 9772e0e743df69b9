package relais

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFitSlot(t *testing.T) {
	pad, err := FitSlot(14*time.Minute+20*time.Second, 15*time.Minute)
	if err != nil || pad != 40*time.Second {
		t.Fatalf("FitSlot = %v, %v; want 40s", pad, err)
	}
	if pad, err := FitSlot(15*time.Minute, 15*time.Minute); err != nil || pad != 0 {
		t.Fatalf("exact fit = %v, %v", pad, err)
	}
	_, err = FitSlot(15*time.Minute+2500*time.Millisecond, 15*time.Minute)
	var re *Error
	if !errors.As(err, &re) || re.Code != EINVALID || !strings.Contains(re.Message, "overruns its 15 min slot by 2.5 s") {
		t.Fatalf("overrun = %v", err)
	}
}
