// Package scheduler runs the broadcast grids of TV and radio stations: weekly slot templates, exceptions
// and one-off slots kept in each station's own time zone; the approval of lessons for broadcast; their
// assignment to slots by hand or by auto-fill; and the exports playout and guides need (XMLTV, ffplayout
// JSON, M3U), plus the publishing plan that tells each household when and where its lesson arrives.
//
// Times are wall-clock times in the station's zone (a date and an "HH:MM"), turned into instants only
// when needed, so a daylight-saving change never shifts a slot.
package scheduler

import (
	"context"
	"fmt"
	"time"
	_ "time/tzdata" // station zones load even where the system has no zoneinfo

	relais "github.com/relais-edu/relais"
)

// PlayoutFormat is the playlist a station's playout system reads.
type PlayoutFormat string

const (
	FormatFFplayout PlayoutFormat = "ffplayout"
	FormatM3U       PlayoutFormat = "m3u"
)

// Station is a TV or radio service with its grid's time zone and playout format.
type Station struct {
	ID          int64              `json:"id"`
	Name        string             `json:"name"`
	Kind        relais.StationKind `json:"kind"`
	Region      string             `json:"region"`
	TimeZone    string             `json:"time_zone"`
	ServiceName string             `json:"service_name"`
	Playout     PlayoutFormat      `json:"playout_format"`
	Provider    string             `json:"provider"`
}

// Location loads the station's zone.
func (s Station) Location() (*time.Location, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		return nil, relais.Errorf(relais.EINVALID, "Unknown time zone %q: give an IANA name such as Europe/Paris.", s.TimeZone)
	}
	return loc, nil
}

// Validate checks a station before it is stored.
func (s *Station) Validate() error {
	if s.Name == "" {
		return relais.Errorf(relais.EINVALID, "A station needs a name.")
	}
	if s.Kind != relais.StationTV && s.Kind != relais.StationRadio {
		return relais.Errorf(relais.EINVALID, "A station is tv or radio, not %q.", s.Kind)
	}
	if s.Playout == "" {
		s.Playout = FormatFFplayout
	}
	if s.Playout != FormatFFplayout && s.Playout != FormatM3U {
		return relais.Errorf(relais.EINVALID, "Playout format must be ffplayout or m3u, not %q.", s.Playout)
	}
	if s.ServiceName == "" {
		s.ServiceName = s.Name
	}
	_, err := s.Location()
	return err
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

// Slot is one airing on a station: a local day and start time, a length, what it is for, and the lesson
// assigned to it (0: none yet).
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
	LessonID   int64         `json:"lesson_id,omitempty"`
	Rerun      bool          `json:"rerun,omitempty"`
}

// Interval returns the slot's start and end instants in loc. A start that does not exist on that day (in
// a spring-forward gap) is refused rather than silently moved.
func (s Slot) Interval(loc *time.Location) (start, end time.Time, err error) {
	d, err := parseDay(s.Day)
	if err != nil {
		return start, end, err
	}
	hm, err := parseClock(s.Start)
	if err != nil {
		return start, end, err
	}
	start = time.Date(d.Year(), d.Month(), d.Day(), hm/60, hm%60, 0, 0, loc)
	if start.Hour()*60+start.Minute() != hm || start.Day() != d.Day() {
		return start, end, relais.Errorf(relais.EINVALID, "%s %s does not exist in %s (daylight-saving change).", s.Day, s.Start, loc)
	}
	return start, start.Add(s.Duration), nil
}

// SlotFilter selects slots of one station between two local days, inclusive.
type SlotFilter struct {
	StationID  int64
	From, To   string // "2006-01-02"; empty: unbounded
	Unassigned bool
	LessonID   int64 // not 0: only the slots airing this lesson
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
	Lesson   relais.Lesson
	Approval Approval
}

// Assignment puts a lesson in a slot.
type Assignment struct {
	SlotID   int64
	LessonID int64
	Rerun    bool
}

// Store keeps the grids. store/sqlite implements it.
type Store interface {
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
	// Assign fills empty slots; a slot already holding a lesson is a conflict and nothing is written.
	Assign(ctx context.Context, as []Assignment) error
	Unassign(ctx context.Context, slotID int64) error
	SetApproval(ctx context.Context, a Approval) error
	Approval(ctx context.Context, lessonID int64) (Approval, error)
	// Submitted returns up to limit lessons waiting for a decision, the longest waiting first.
	Submitted(ctx context.Context, limit int) ([]Submission, error)
	// ApprovedLessons returns approved lessons that are ready or published, by id.
	ApprovedLessons(ctx context.Context) ([]relais.Lesson, error)
	// AiredLessons returns the ids of lessons assigned to any slot.
	AiredLessons(ctx context.Context) (map[int64]bool, error)
	// Episode returns the lesson's rank (from 1) among lessons of its grade, subject and language.
	Episode(ctx context.Context, l relais.Lesson) (int, error)
}

func parseDay(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return d, relais.Errorf(relais.EINVALID, "%q is not a date (YYYY-MM-DD).", s)
	}
	return d, nil
}

// parseClock returns minutes after midnight of "HH:MM".
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, relais.Errorf(relais.EINVALID, "%q is not a time of day (HH:MM).", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }
