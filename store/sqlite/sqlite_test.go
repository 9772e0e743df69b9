package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/store/storetest"
)

// TestStore runs the conformance suite of relais.Store on a new database file per test.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) relais.Store {
		db := open(t)
		if now != nil {
			db.SetClock(now)
		}
		return db
	})
}

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenTwiceAppliesMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relais.db")
	for i := 0; i < 2; i++ {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		db.Close()
	}
}

// BenchmarkUpsertHouseholds imports households in chunks of 5,000 (as the CSV import does) into a
// growing table; the rate must not fall as the population grows.
//
//	go test ./store/sqlite -run '^$' -bench UpsertHouseholds
func BenchmarkUpsertHouseholds(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "relais.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := 0
	for b.Loop() {
		hs := make([]relais.Household, 5000)
		for i := range hs {
			hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", n), Language: "fr", Grades: []int{3, 5},
				Profile: relais.ProfileSMSOnly, Phone: "+33612345678", Consent: true}
			n++
		}
		if err := db.UpsertHouseholds(context.Background(), hs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "households/s")
}
