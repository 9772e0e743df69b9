package relais

import (
	"fmt"
	"time"
)

var weekdays = map[string][7]string{
	"fr": {"dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."},
	"en": {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
	"ru": {"вс", "пн", "вт", "ср", "чт", "пт", "сб"},
	"kk": {"жс", "дс", "сс", "ср", "бс", "жм", "сб"},
}

// FormatDayTime prints a broadcast time as "ven. 24.04 10:00" in lang, in t's time zone: the form SMS
// digests, reminders and the family page share.
func FormatDayTime(t time.Time, lang string) string {
	return fmt.Sprintf("%s %02d:%02d", DayLabel(lang, t), t.Hour(), t.Minute())
}

// DayLabel prints a day as "ven. 24.04" in lang (English when unknown).
func DayLabel(lang string, t time.Time) string {
	days, ok := weekdays[lang]
	if !ok {
		days = weekdays["en"]
	}
	return fmt.Sprintf("%s %02d.%02d", days[t.Weekday()], t.Day(), int(t.Month()))
}
