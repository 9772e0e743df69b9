package relais

// StationKind says whether a station broadcasts pictures or sound. Stations, their grids and slots are
// the scheduler package's (scheduler.Station, scheduler.Slot): they only make sense with their time zone
// rules.
type StationKind string

const (
	StationTV    StationKind = "tv"
	StationRadio StationKind = "radio"
)
