package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// TestAllAiringsListsReruns: Airings gives the first coming airing on each station, AllAirings every
// coming one, re-runs included, in time order; neither lists an airing already begun.
func TestAllAiringsListsReruns(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	tv := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	radio := e.station(t, "Qazaq", "Asia/Almaty", relais.StationRadio)
	l := e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute, true)
	for i, s := range []struct {
		station    int64
		day, start string
	}{
		{tv.ID, "2026-03-02", "09:00"}, // before at: not listed
		{tv.ID, "2026-03-03", "09:00"},
		{radio.ID, "2026-03-04", "16:00"},
		{tv.ID, "2026-03-10", "09:00"},
	} {
		sl, err := e.svc.AddSlot(ctx, relais.Slot{StationID: s.station, Day: s.day, Start: s.start, Duration: 30 * time.Minute})
		must(t, err)
		must(t, e.svc.Assign(ctx, sl.ID, l.ID, i > 0))
	}
	almaty, _ := time.LoadLocation("Asia/Almaty")
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, almaty)
	p := &scheduler.Planner{Store: e.db, Lessons: e.db, Households: e.db, Config: scheduler.DefaultPlanConfig()}
	type airing struct {
		Station string
		At      string
	}
	list := func(as []scheduler.Airing, err error) []airing {
		t.Helper()
		must(t, err)
		var out []airing
		for _, a := range as {
			out = append(out, airing{a.Station, a.At.In(almaty).Format("2006-01-02 15:04")})
		}
		return out
	}
	first := []airing{{"Balapan Sabaq", "2026-03-03 09:00"}, {"Qazaq Sabaq", "2026-03-04 16:00"}}
	if diff := cmp.Diff(first, list(p.Airings(ctx, l.ID, at))); diff != "" {
		t.Errorf("Airings (-want +got):\n%s", diff)
	}
	all := []airing{{"Balapan Sabaq", "2026-03-03 09:00"}, {"Qazaq Sabaq", "2026-03-04 16:00"}, {"Balapan Sabaq", "2026-03-10 09:00"}}
	if diff := cmp.Diff(all, list(p.AllAirings(ctx, l.ID, at))); diff != "" {
		t.Errorf("AllAirings (-want +got):\n%s", diff)
	}
}
