// Package scheduler runs the broadcast grids of TV and radio stations: weekly slot templates, exceptions
// and one-off slots kept in each station's own time zone; the approval of lessons for broadcast; their
// assignment to slots by hand or by auto-fill; and the exports playout and guides need (XMLTV, ffplayout
// JSON, M3U), plus the publishing plan that tells each household when and where its lesson arrives.
//
// Times are wall-clock times in the station's zone (a date and an "HH:MM"), turned into instants only
// when needed, so a daylight-saving change never shifts a slot.
package scheduler

import (
	"fmt"
	_ "time/tzdata" // station zones load even where the system has no zoneinfo
)

func clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }
