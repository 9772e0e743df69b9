package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relais-edu/relais/store/storetest"
)

// TestPlanImpliesFirstEvent checks that a fan-out's pending deliveries write no row of delivery_events
// (migration 00024), only the skip planned with its reason does, that the per-minute timeline still
// counts them as if they did, and that a delivery's history finds its implied event by its key (SQLite
// pushes delivery_id into both halves of the union). That the histories, the export and the timeline
// read as before is the conformance suite's PlannedHistories.
func TestPlanImpliesFirstEvent(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := storetest.ImpliedStart(t, db)
	var rows int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows of delivery_events after planning two pending deliveries and a skip, want 1 (the skip's)", rows)
	}
	if diff := cmp.Diff(minutesFromEvents(t, db), minutes(t, db)); diff != "" {
		t.Errorf("delivery_minutes (-from events +kept):\n%s", diff)
	}
	var plan0 strings.Builder
	qrows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT delivery_id, status, detail, at FROM `+dialect.DeliveryEvents+
		` WHERE delivery_id = ? ORDER BY id`, plan[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer qrows.Close()
	for qrows.Next() {
		var id, parent, unused int
		var detail string
		if err := qrows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan0.WriteString(detail + "\n")
	}
	if p := plan0.String(); !strings.Contains(p, "SEARCH deliveries USING INTEGER PRIMARY KEY") ||
		!strings.Contains(p, "SEARCH delivery_events USING") || strings.Contains(p, "SCAN deliveries") {
		t.Errorf("a delivery's history reads\n%s\nwant both halves searched by its id", p)
	}
}
