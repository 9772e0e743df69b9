package postgres

import (
	"context"
	"fmt"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestFirstSendersAreHeapOnlyUpdates: a fan-out page that gives the households of an import their
// first SMS sender, all in one transaction, rewrites each row in its own page (a heap-only update),
// adding nothing to the table's indexes: migration 00020 leaves the room for it.
func TestFirstSendersAreHeapOnlyUpdates(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var hs []relais.Household
	for i := range 1000 {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("H", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileMobileData, Phone: fmt.Sprintf("+3361%07d", i), Email: fmt.Sprintf("f%d@example.org", i),
			PostalAddress: fmt.Sprintf("Famille %d\n3 rue des Lilas\n75020 Paris", i), Consent: true})
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	senders := make([]relais.SenderChoice, len(hs))
	for i, h := range hs {
		senders[i] = relais.SenderChoice{HouseholdID: h.ID, Sender: fmt.Sprint("Ecole-", i%3)}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := rememberSenders(ctx, tx, senders); err != nil {
		t.Fatal(err)
	}
	var updated, hot int64
	if err := tx.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'households'`).
		Scan(&updated, &hot); err != nil {
		t.Fatal(err)
	}
	if updated != int64(len(hs)) || hot < updated*95/100 {
		t.Errorf("%d of %d households' senders written as heap-only updates, want at least 95 %% of %d", hot, updated, len(hs))
	}
}
