package relais

import "time"

// StationKind says whether a station broadcasts pictures or sound. Stations, their grids and slots are
// the scheduler package's (scheduler.Station, scheduler.Slot): they only make sense with their time zone
// rules.
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
