package sms

import "time"

// QuietHours are when Relais does not send school messages, in the recipient's local time. SPEC:
// marketing SMS is barred in France 22:00-08:00, on Sundays and public holidays; Relais keeps school
// notices to the same hours by default, per region's time zone.
type QuietHours struct {
	// Start and End bound the nightly quiet period as offsets from local midnight; Start after End
	// means the period spans midnight (22:00-08:00). Equal values mean no nightly quiet.
	Start, End time.Duration
	// Days are whole days without messages.
	Days []time.Weekday
	// Holidays are dates ("2026-12-25") without messages.
	Holidays []string
}

// DefaultQuietHours is 22:00 to 08:00 and Sundays.
func DefaultQuietHours() QuietHours {
	return QuietHours{Start: 22 * time.Hour, End: 8 * time.Hour, Days: []time.Weekday{time.Sunday}}
}

// NextSendTime returns now when a message may be sent at now in loc, else the first moment after it
// that is outside the quiet hours. Wall-clock bounds are computed per calendar day, so a change to or
// from daylight-saving time does not shift them.
func NextSendTime(now time.Time, loc *time.Location, q QuietHours) time.Time {
	t := now.In(loc)
	for i := 0; i < 3*366; i++ { // bounded: a rule set that bars every day has no answer
		y, m, d := t.Date()
		if q.quietDay(t) {
			t = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
			continue
		}
		if q.Start == q.End {
			return t
		}
		wall := func(off time.Duration) time.Time { // the wall-clock time off after midnight that day
			return time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second), 0, loc)
		}
		// Compare wall-clock times of the day rather than elapsed time since midnight, which a DST change
		// makes an hour longer or shorter.
		h, mi, s := t.Clock()
		tod := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
		if q.Start > q.End { // spans midnight: quiet from Start to 24:00 and from 00:00 to End
			switch {
			case tod < q.End:
				t = wall(q.End)
				continue // the day was checked; End itself is allowed
			case tod >= q.Start:
				t = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
				continue
			}
			return t
		}
		if tod >= q.Start && tod < q.End { // quiet inside one day
			t = wall(q.End)
			continue
		}
		return t
	}
	return t
}

func (q QuietHours) quietDay(t time.Time) bool {
	for _, d := range q.Days {
		if t.Weekday() == d {
			return true
		}
	}
	day := t.Format(time.DateOnly)
	for _, h := range q.Holidays {
		if h == day {
			return true
		}
	}
	return false
}
