package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
)

// TestCommitSendsRunsAgainAfterADeadlock: a send step that holds the row of the outcome it records
// while another transaction holds the row it claims, and that other one then waits for the first row
// (as an attempt's heartbeat refreshing its page in another order can), is aborted by PostgreSQL's
// deadlock check; CommitSends runs it again once the other has ended, and the outcome and the claim
// are both committed.
func TestCommitSendsRunsAgainAfterADeadlock(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 1, Language: "fr", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	hs := []relais.Household{{ExternalRef: "D0", Language: "fr", Profile: relais.ProfileBroadband},
		{ExternalRef: "D1", Language: "fr", Profile: relais.ProfileBroadband}}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	ids, err := db.PlanDeliveries(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelEmail},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelEmail}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if got, err := db.CommitSends(ctx, []relais.SendStep{{Claims: ids[:1], Attempt: "a1", At: at}}); err != nil || len(got[0]) != 1 {
		t.Fatalf("claim of the first: %v, %v", got, err)
	}

	// The other transaction holds the second row; it waits long before checking for a deadlock, so
	// that the send step's backend, waiting for it, is the one that finds the deadlock and aborts.
	other, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.Exec(ctx, `SET LOCAL deadlock_timeout = '20s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT id FROM deliveries WHERE id = $1 FOR UPDATE`, ids[1]); err != nil {
		t.Fatal(err)
	}
	type result struct {
		claimed [][]int64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		got, err := db.CommitSends(ctx, []relais.SendStep{{
			Advances: []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliverySent, Detail: "accepted by provider", ProviderID: "m0"}},
			Claims:   ids[1:], Attempt: "a1", At: at}})
		done <- result{got, err}
	}()
	// Wait until the send step holds the first row and waits for the second.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting bool
		if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND datname = current_database() AND query LIKE '%UPDATE deliveries%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the send step never waited for the second row")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := other.Exec(ctx, `SELECT id FROM deliveries WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatalf("the other transaction was the one aborted: %v", err)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("CommitSends after a deadlock: %v", r.err)
	}
	if fmt.Sprint(r.claimed) != fmt.Sprint([][]int64{ids[1:]}) {
		t.Errorf("claimed %v, want %v", r.claimed, ids[1:])
	}
	ds, err := db.DeliveriesByIDs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Status != relais.DeliverySent || ds[0].ProviderID != "m0" || ds[1].Status != relais.DeliveryClaimed || ds[1].ClaimedBy != "a1" {
		t.Errorf("deliveries: %+v", ds)
	}
}

// openDB opens a store on a new database of the tests' cluster, closed when the test ends.
func openDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
