package postgres_test

import (
	"context"
	"testing"

	"github.com/relais-edu/relais/store/storetest"
)

// TestPlanImpliesFirstEvent checks that a fan-out's pending deliveries write no row of delivery_events
// (migration 00017): only the skip planned with its reason does. That their histories, the export and
// the timeline read as before is the conformance suite's PlannedHistories.
func TestPlanImpliesFirstEvent(t *testing.T) {
	db := open(t)
	storetest.ImpliedStart(t, db)
	var rows int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM delivery_events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows of delivery_events after planning two pending deliveries and a skip, want 1 (the skip's)", rows)
	}
}
