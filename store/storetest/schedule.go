package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	relais "github.com/relais-edu/relais"
)

// TestStationUpdateAndDeleteAreAtomic shows the store's station writes see the station's slots inside
// their transaction and write nothing when the check refuses them.
func testStationUpdateAndDeleteAreAtomic(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty", ServiceName: "Balapan",
		Playout: relais.FormatFFplayout}
	if err := db.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	tpl := relais.Template{Weekdays: []int{1}, Start: "09:00", End: "09:30", SlotMin: 30, From: "2026-03-02", To: "2026-03-02"}
	slots := []relais.Slot{{Day: "2026-03-02", Start: "09:00", Duration: 30 * time.Minute},
		{Day: "2026-03-03", Start: "09:00", Duration: 30 * time.Minute}}
	if err := db.AddSlots(ctx, st.ID, &tpl, slots, func([]relais.Slot) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddException(ctx, relais.Exception{StationID: st.ID, Day: "2026-03-09", Reason: "holiday"}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	var seen []string
	check := func(ss []relais.Slot) error {
		seen = nil
		for _, s := range ss {
			seen = append(seen, s.Day)
		}
		return refuse
	}

	changed := st
	changed.Name, changed.TimeZone = "Balapan TV", "Europe/Paris"
	if err := db.UpdateStation(ctx, changed, check); !errors.Is(err, refuse) {
		t.Fatalf("update with a refusing check: %v", err)
	}
	if diff := cmp.Diff([]string{"2026-03-02", "2026-03-03"}, seen); diff != "" {
		t.Errorf("slots the update checked (-want +got):\n%s", diff)
	}
	if got, _ := db.Station(ctx, st.ID); got != st {
		t.Errorf("a refused update wrote %+v", got)
	}
	if err := db.UpdateStation(ctx, changed, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Station(ctx, st.ID); got != changed {
		t.Errorf("updated station = %+v, want %+v", got, changed)
	}
	missing := changed
	missing.ID, missing.Name = 99, "Other"
	if err := db.UpdateStation(ctx, missing, nil); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("update of a missing station: %v", err)
	}

	if _, err := db.DeleteStation(ctx, st.ID, check); !errors.Is(err, refuse) {
		t.Fatalf("delete with a refusing check: %v", err)
	}
	if got, err := db.Station(ctx, st.ID); err != nil || got != changed {
		t.Errorf("a refused deletion: %+v, %v", got, err)
	}
	if left, _ := db.Slots(ctx, relais.SlotFilter{StationID: st.ID}); len(left) != 2 {
		t.Errorf("a refused deletion left %d slots", len(left))
	}
	n, err := db.DeleteStation(ctx, st.ID, func([]relais.Slot) error { return nil })
	if err != nil || n != 2 {
		t.Fatalf("delete = %d, %v", n, err)
	}
	tpls, _ := db.Templates(ctx, st.ID)
	exc, _ := db.Exceptions(ctx, st.ID)
	left, _ := db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	if len(tpls)+len(exc)+len(left) != 0 {
		t.Errorf("left behind: %d templates, %d exceptions, %d slots", len(tpls), len(exc), len(left))
	}
	if _, err := db.DeleteStation(ctx, st.ID, nil); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("second deletion: %v", err)
	}
}

// testConcurrentGridWrites: two writers adding slots to one station's day at once each check the grid
// as the other left it: the second sees the first's slot and refuses, so the check cannot be slipped
// past. (Both writers wait in their check for the other to arrive, up to a moment: with the writes
// one at a time per station the second never arrives while the first checks.)
func testConcurrentGridWrites(t *testing.T, open Open) {
	ctx := context.Background()
	db := open(t, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty", ServiceName: "Balapan",
		Playout: relais.FormatFFplayout}
	if err := db.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	taken := errors.New("the day has a slot already")
	var entered sync.WaitGroup
	entered.Add(2)
	arrived := make(chan struct{})
	go func() { entered.Wait(); close(arrived) }()
	add := func(start string) error {
		slots := []relais.Slot{{Day: "2026-03-02", Start: start, Duration: 30 * time.Minute}}
		return db.AddSlots(ctx, st.ID, nil, slots, func(existing []relais.Slot) error {
			entered.Done()
			select {
			case <-arrived:
			case <-time.After(300 * time.Millisecond):
			}
			if len(existing) > 0 {
				return taken
			}
			return nil
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- add("09:00") }()
	go func() { errs <- add("10:00") }()
	var refused int
	for i := 0; i < 2; i++ {
		if err := <-errs; errors.Is(err, taken) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	slots, err := db.Slots(ctx, relais.SlotFilter{StationID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	if refused != 1 || len(slots) != 1 {
		t.Errorf("%d writers refused, %d slots kept; want 1 and 1", refused, len(slots))
	}
}
