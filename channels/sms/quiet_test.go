package sms

import (
	"testing"
	"time"
)

func TestNextSendTime(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	almaty, _ := time.LoadLocation("Asia/Almaty")
	at := func(loc *time.Location, s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	def := DefaultQuietHours()
	holiday := DefaultQuietHours()
	holiday.Holidays = []string{"2026-12-25"}
	tests := []struct {
		name  string
		now   time.Time
		loc   *time.Location
		rules QuietHours
		want  time.Time
	}{
		{"weekday afternoon: now", at(paris, "2026-11-24 15:00"), paris, def, at(paris, "2026-11-24 15:00")},
		{"08:00 sharp is allowed", at(paris, "2026-11-24 08:00"), paris, def, at(paris, "2026-11-24 08:00")},
		{"21:59 is allowed", at(paris, "2026-11-24 21:59"), paris, def, at(paris, "2026-11-24 21:59")},
		{"22:00 waits for the morning", at(paris, "2026-11-24 22:00"), paris, def, at(paris, "2026-11-25 08:00")},
		{"early morning waits for 08:00", at(paris, "2026-11-24 06:30"), paris, def, at(paris, "2026-11-24 08:00")},
		{"Saturday night waits for Monday", at(paris, "2026-11-28 23:00"), paris, def, at(paris, "2026-11-30 08:00")},
		{"Sunday noon waits for Monday", at(paris, "2026-11-29 12:00"), paris, def, at(paris, "2026-11-30 08:00")},
		// Spring forward in Paris on Sunday 29 March 2026: Monday 08:00 is 06:00 UTC, not 07:00.
		{"across spring DST", at(paris, "2026-03-28 23:00"), paris, def, time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC)},
		// Fall back on Sunday 25 October 2026: Monday 08:00 is 07:00 UTC.
		{"across autumn DST", at(paris, "2026-10-24 22:30"), paris, def, time.Date(2026, 10, 26, 7, 0, 0, 0, time.UTC)},
		{"the night of the change", at(paris, "2026-03-27 23:30"), paris, def, time.Date(2026, 3, 28, 7, 0, 0, 0, time.UTC)},
		// A bound inside the skipped hour (02:30 on 29 March does not exist) resolves to the first valid instant.
		{"bound in the DST gap", time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), paris,
			QuietHours{Start: time.Hour, End: 2*time.Hour + 30*time.Minute}, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
		{"instant given in UTC, rules in Almaty", time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC), almaty, def, at(almaty, "2026-11-25 08:00")},
		{"holiday", at(paris, "2026-12-24 22:30"), paris, holiday, at(paris, "2026-12-26 08:00")},
		{"no quiet hours", at(paris, "2026-11-29 03:00"), paris, QuietHours{}, at(paris, "2026-11-29 03:00")},
		{"daytime window", at(paris, "2026-11-24 12:30"), paris, QuietHours{Start: 12 * time.Hour, End: 14 * time.Hour}, at(paris, "2026-11-24 14:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextSendTime(tt.now, tt.loc, tt.rules)
			if !got.Equal(tt.want) {
				t.Errorf("NextSendTime(%s) = %s, want %s", tt.now, got, tt.want.In(tt.loc))
			}
		})
	}
}
