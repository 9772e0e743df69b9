package relais

import "time"

// StationKind says whether a station broadcasts pictures or sound.
type StationKind string

const (
	StationTV    StationKind = "tv"
	StationRadio StationKind = "radio"
)

// Station is a TV or radio service that airs lessons.
type Station struct {
	ID          int64
	Name        string
	Kind        StationKind
	Region      string
	TimeZone    string // IANA name, e.g. "Asia/Almaty"
	ServiceName string
	Provider    string
}

// Slot is one airing of a lesson on a station. Start is kept as a wall-clock time in the station's zone.
type Slot struct {
	ID        int64
	StationID int64
	Start     time.Time
	Duration  time.Duration
	Grade     int
	Subject   string
	Language  string
	LessonID  int64 // 0 when unassigned
}
