package relais

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // station zones load even where the system has no zoneinfo

	"github.com/dustin/go-humanize"
)

// StationKind says whether a station broadcasts pictures or sound.
type StationKind string

const (
	StationTV    StationKind = "tv"
	StationRadio StationKind = "radio"
)

// Airing is one broadcast of a lesson, as families are told of it.
type Airing struct {
	Station string      // the service name families know
	Kind    StationKind // tv or radio
	Start   time.Time   // in the station's time zone
	Title   string      // the lesson's title, in a grade's schedule
	Region  string      // the households that receive the station; empty: every region
}

// PlayoutFormat is the playlist a station's playout system reads.
type PlayoutFormat string

const (
	FormatFFplayout PlayoutFormat = "ffplayout"
	FormatM3U       PlayoutFormat = "m3u"
)

// Station is a TV or radio service with its grid's time zone and playout format.
type Station struct {
	ID          int64         `json:"id"`
	Name        string        `json:"name"`
	Kind        StationKind   `json:"kind"`
	Region      string        `json:"region"`
	TimeZone    string        `json:"time_zone"`
	ServiceName string        `json:"service_name"`
	Playout     PlayoutFormat `json:"playout_format"`
	Provider    string        `json:"provider"`
	// Filler is what plays where no lesson does (between slots, after a lesson shorter than its slot):
	// an absolute path or a URL of a clip the playout server loops, video for TV, audio for radio.
	// Empty: none configured, and a day with gaps cannot be exported for playout.
	Filler string `json:"filler"`
	// DayStart is the local time the station's playout day starts (ffplayout's day_start, "HH:MM"):
	// a day's list begins then, so that each lesson plays at its slot's time. Empty: 00:00.
	DayStart string `json:"day_start"`
}

// Location loads the station's zone.
func (s Station) Location() (*time.Location, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		return nil, Errorf(EINVALID, "Unknown time zone %q: give an IANA name such as Europe/Paris.", s.TimeZone)
	}
	return loc, nil
}

// Validate checks a station before it is stored.
func (s *Station) Validate() error {
	if s.Name == "" {
		return Errorf(EINVALID, "A station needs a name.")
	}
	if s.Kind != StationTV && s.Kind != StationRadio {
		return Errorf(EINVALID, "A station is tv or radio, not %q.", s.Kind)
	}
	if s.Playout == "" {
		s.Playout = FormatFFplayout
	}
	if s.Playout != FormatFFplayout && s.Playout != FormatM3U {
		return Errorf(EINVALID, "Playout format must be ffplayout or m3u, not %q.", s.Playout)
	}
	if s.ServiceName == "" {
		s.ServiceName = s.Name
	}
	if err := CheckFiller(s.Filler); err != nil {
		return err
	}
	if s.DayStart == "" {
		s.DayStart = "00:00"
	}
	if _, err := time.Parse("15:04", s.DayStart); err != nil {
		return Errorf(EINVALID, "The playout day start must be a time such as 06:00, not %q.", s.DayStart)
	}
	_, err := s.Location()
	return err
}

// IsUnderrun reports whether a lesson of length leaves so much of its slot to filler that a playout
// editor would want to know: more than five minutes, and a quarter of the slot or more (a 20-second
// lesson in a 30-minute slot is 29 min 40 s of filler; a 25-minute one leaves a usual 5 minutes).
func IsUnderrun(length, slot time.Duration) bool {
	gap := slot - length
	return gap > 5*time.Minute && gap*4 >= slot
}

// CheckFiller checks a filler clip's location: an absolute path on the playout server, or a URL it can
// read (http, https, rtmp, srt, udp). A relative path would depend on where the playout server runs.
func CheckFiller(f string) error {
	if f == "" || strings.HasPrefix(f, "/") {
		return nil
	}
	if u, err := url.Parse(f); err == nil && u.Host != "" && slices.Contains([]string{"http", "https", "rtmp", "srt", "udp"}, u.Scheme) {
		return nil
	}
	return Errorf(EINVALID, "The filler %q must be an absolute path (/srv/playout/filler.ts) or a URL (https://..., srt://...) the playout server can read.", f)
}

// Template is a recurring weekly block of slots, e.g. Monday to Friday 09:00-18:00 every 30 minutes.
type Template struct {
	ID        int64  `json:"id"`
	StationID int64  `json:"station_id"`
	Weekdays  []int  `json:"weekdays"` // time.Weekday values: 0 Sunday ... 6 Saturday
	Start     string `json:"start"`    // "09:00", station's wall clock
	End       string `json:"end"`      // "18:00"; the last slot ends at or before it
	SlotMin   int    `json:"slot_minutes"`
	Grade     int    `json:"grade"`
	Subject   string `json:"subject"` // empty: any subject, spread across the week by auto-fill
	Language  string `json:"language"`
	From      string `json:"from"` // first day, "2006-01-02"
	To        string `json:"to"`   // last day, inclusive
}

// Exception cancels a station's whole day (a holiday); its slots are removed.
type Exception struct {
	StationID int64  `json:"station_id"`
	Day       string `json:"day"`
	Reason    string `json:"reason"`
}

// Slot is one airing on a station: a local day and start time, a length, what it is for, and the
// lessons assigned to it, played back to back from its start in their order (none yet: empty). Several
// short lessons share a slot where their lengths together fit it.
type Slot struct {
	ID         int64         `json:"id"`
	StationID  int64         `json:"station_id"`
	Day        string        `json:"day"`   // "2006-01-02" in the station's zone
	Start      string        `json:"start"` // "15:04" in the station's zone
	Duration   time.Duration `json:"-"`
	Grade      int           `json:"grade"`
	Subject    string        `json:"subject"`
	Language   string        `json:"language"`
	TemplateID int64         `json:"template_id,omitempty"`
	Lessons    []SlotLesson  `json:"lessons"`
}

// SlotLesson is one lesson of a slot's sequence; Rerun marks a lesson that was scheduled before.
type SlotLesson struct {
	LessonID int64 `json:"lesson_id"`
	Rerun    bool  `json:"rerun,omitempty"`
}

// Holds reports whether the slot's sequence holds the lesson.
func (s Slot) Holds(lessonID int64) bool {
	return slices.ContainsFunc(s.Lessons, func(l SlotLesson) bool { return l.LessonID == lessonID })
}

// LessonIDs lists the lessons of the slot's sequence in their order.
func (s Slot) LessonIDs() []int64 {
	ids := make([]int64, len(s.Lessons))
	for i, l := range s.Lessons {
		ids[i] = l.LessonID
	}
	return ids
}

// SequenceStarts returns when each lesson of a slot's sequence starts, given the lessons' lengths in
// order: back to back from the slot's start, each one when the one before it ends.
func SequenceStarts(start time.Time, lengths []time.Duration) []time.Time {
	out := make([]time.Time, len(lengths))
	at := start
	for i, d := range lengths {
		out[i] = at
		at = at.Add(max(d, 0))
	}
	return out
}

// SequenceLength is how long a sequence of lessons plays, back to back.
func SequenceLength(lengths []time.Duration) time.Duration {
	var total time.Duration
	for _, d := range lengths {
		total += max(d, 0)
	}
	return total
}

// Interval returns the slot's start and end instants in loc. A start that does not exist on that day (in
// a spring-forward gap) is refused rather than silently moved.
func (s Slot) Interval(loc *time.Location) (start, end time.Time, err error) {
	d, err := ParseDay(s.Day)
	if err != nil {
		return start, end, err
	}
	hm, err := ParseClock(s.Start)
	if err != nil {
		return start, end, err
	}
	start = time.Date(d.Year(), d.Month(), d.Day(), hm/60, hm%60, 0, 0, loc)
	if start.Hour()*60+start.Minute() != hm || start.Day() != d.Day() {
		return start, end, Errorf(EINVALID, "%s %s does not exist in %s (daylight-saving change).", s.Day, s.Start, loc)
	}
	return start, start.Add(s.Duration), nil
}

// SlotFilter selects slots of one station between two local days, inclusive.
type SlotFilter struct {
	StationID  int64
	From, To   string // "2006-01-02"; empty: unbounded
	Unassigned bool   // only the slots with no lesson
	LessonID   int64  // not 0: only the slots whose sequence holds this lesson
}

// ApprovalState is where a lesson is in the broadcast approval.
type ApprovalState string

const (
	Submitted ApprovalState = "submitted"
	Approved  ApprovalState = "approved"
	Rejected  ApprovalState = "rejected"
)

// Approval records the media unit's decision on a lesson for broadcast.
type Approval struct {
	LessonID  int64         `json:"lesson_id"`
	State     ApprovalState `json:"state"`
	Reason    string        `json:"reason,omitempty"`
	DecidedBy string        `json:"decided_by,omitempty"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// Submission is a lesson waiting for the media unit's decision.
type Submission struct {
	Lesson   Lesson
	Approval Approval
}

// Assignment appends a lesson to a slot's sequence at Position, which must be the number of lessons
// the slot holds when it is written (0 for an empty slot): a slot changed meanwhile is a conflict.
type Assignment struct {
	SlotID   int64
	Position int
	LessonID int64
	Rerun    bool
}

// ScheduleStore keeps the stations' grids and the broadcast approvals.
type ScheduleStore interface {
	CreateStation(ctx context.Context, s *Station) error
	Station(ctx context.Context, id int64) (Station, error)
	Stations(ctx context.Context) ([]Station, error)
	// UpdateStation writes s over the stored station of the same id in one transaction, after check (when
	// not nil) accepts all the station's slots.
	UpdateStation(ctx context.Context, s Station, check func(slots []Slot) error) error
	// DeleteStation removes a station with its templates, exceptions and slots (past ones included) in
	// one transaction, after check accepts all its slots; it returns how many slots went.
	DeleteStation(ctx context.Context, id int64, check func(slots []Slot) error) (int, error)
	// AddSlots inserts slots of one station (and t, when not nil, the template they come from) in one
	// transaction, after check accepts them against the station's existing slots on the days around them.
	AddSlots(ctx context.Context, stationID int64, t *Template, slots []Slot, check func(existing []Slot) error) error
	Templates(ctx context.Context, stationID int64) ([]Template, error)
	// AddException records a cancelled day and removes its slots; it returns the slots removed.
	AddException(ctx context.Context, e Exception) ([]Slot, error)
	Exceptions(ctx context.Context, stationID int64) ([]Exception, error)
	Slot(ctx context.Context, id int64) (Slot, error)
	Slots(ctx context.Context, f SlotFilter) ([]Slot, error)
	// Assign appends lessons to slots' sequences in one transaction; an assignment whose position is not
	// its slot's length then (the slot changed meanwhile) is a conflict, and nothing is written.
	Assign(ctx context.Context, as []Assignment) error
	// Unassign empties a slot's sequence.
	Unassign(ctx context.Context, slotID int64) error
	// EditSlot replaces a slot's sequence with what edit returns for the slot as stored, in one
	// transaction (edit's error writes nothing), and returns the slot as written.
	EditSlot(ctx context.Context, slotID int64, edit func(Slot) ([]SlotLesson, error)) (Slot, error)
	SetApproval(ctx context.Context, a Approval) error
	Approval(ctx context.Context, lessonID int64) (Approval, error)
	// Submitted returns up to limit lessons waiting for a decision, the longest waiting first.
	Submitted(ctx context.Context, limit int) ([]Submission, error)
	// ApprovedLessons returns approved lessons that are ready or published, by id.
	ApprovedLessons(ctx context.Context) ([]Lesson, error)
	// AiredLessons returns the ids of lessons in any slot's sequence.
	AiredLessons(ctx context.Context) (map[int64]bool, error)
	// Episode returns the lesson's rank (from 1) among lessons of its grade, subject and language.
	Episode(ctx context.Context, l Lesson) (int, error)
}

// ParseDay reads a local day written "2006-01-02".
func ParseDay(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return d, Errorf(EINVALID, "%q is not a date (YYYY-MM-DD).", s)
	}
	return d, nil
}

// ParseClock returns minutes after midnight of "HH:MM".
func ParseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, Errorf(EINVALID, "%q is not a time of day (HH:MM).", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// FitSlot returns the padding that brings a lesson of duration d to a slot of length slot, or an
// error a media unit can act on when the lesson overruns it.
func FitSlot(d, slot time.Duration) (time.Duration, error) {
	if d < 0 || slot <= 0 {
		return 0, Errorf(EINVALID, "The slot and the lesson must have a length.")
	}
	if d > slot {
		over := (d - slot).Seconds()
		return 0, Errorf(EINVALID, "The lesson lasts %s; it overruns its %s slot by %s s.",
			HumanDuration(d), HumanDuration(slot), strconv.FormatFloat(math.Ceil(over*100)/100, 'f', -1, 64))
	}
	return slot - d, nil
}

// HumanDuration writes d the way a teacher reads it: "2 h 14 min", "12 min 5 s", "12 s".
func HumanDuration(d time.Duration) string {
	s := int64(math.Round(d.Seconds()))
	h, m, sec := s/3600, (s%3600)/60, s%60
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	case m > 0 && sec > 0:
		return fmt.Sprintf("%d min %d s", m, sec)
	case m > 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d s", sec)
}

// maxTemplateDays bounds one template's expansion (a school year and some).
const maxTemplateDays = 400

// Validate checks a template's fields and returns its first and last day.
func (t *Template) Validate() (from, to time.Time, err error) {
	if len(t.Weekdays) == 0 {
		return from, to, Errorf(EINVALID, "A template needs at least one weekday (0 Sunday ... 6 Saturday).")
	}
	for _, d := range t.Weekdays {
		if d < 0 || d > 6 {
			return from, to, Errorf(EINVALID, "Weekday %d is not between 0 (Sunday) and 6 (Saturday).", d)
		}
	}
	start, err := ParseClock(t.Start)
	if err != nil {
		return from, to, err
	}
	end, err := ParseClock(t.End)
	if err != nil && t.End != "24:00" {
		return from, to, err
	} else if t.End == "24:00" {
		end = 24 * 60
	}
	if t.SlotMin < 5 || t.SlotMin > 240 {
		return from, to, Errorf(EINVALID, "Slots last 5 to 240 minutes, not %d.", t.SlotMin)
	}
	if end-start < t.SlotMin {
		return from, to, Errorf(EINVALID, "%s-%s holds no %d-minute slot.", t.Start, t.End, t.SlotMin)
	}
	if t.Language != "" && !ValidLanguage(t.Language) {
		return from, to, Errorf(EINVALID, "Language %q is not one of %v.", t.Language, Languages)
	}
	if from, err = ParseDay(t.From); err != nil {
		return from, to, err
	}
	if to, err = ParseDay(t.To); err != nil {
		return from, to, err
	}
	if to.Before(from) {
		return from, to, Errorf(EINVALID, "The template ends (%s) before it starts (%s).", t.To, t.From)
	}
	if to.Sub(from) > maxTemplateDays*24*time.Hour {
		return from, to, Errorf(EINVALID, "A template covers at most %d days.", maxTemplateDays)
	}
	return from, to, nil
}

// HumanBytes writes a size the way people read it, in one format everywhere (binary units, as
// go-humanize writes them): "2.0 GiB", "1.5 MiB", "300 KiB", "12 B".
func HumanBytes(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

// ParseBytes reads a size as people write it: 2147483648, 2GiB, 512 MiB, 2GB (decimal units too).
func ParseBytes(s string) (int64, error) {
	n, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size such as 2147483648, 8MiB or 2GiB", s)
	}
	return int64(n), nil
}
