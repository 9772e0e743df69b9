package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/store/storetest"
)

// TestStore runs the conformance suite of relais.Store on a new database file per test.
func TestStore(t *testing.T) {
	storetest.Run(t, openStore)
}

func openStore(t testing.TB, now func() time.Time) relais.Store {
	db := open(t)
	if now != nil {
		db.SetClock(now)
	}
	return db
}

func open(t testing.TB) *sqlite.DB {
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

// BenchmarkStore runs the stores' benchmarks on a database file.
//
//	go test ./store/sqlite -run '^$' -bench Store
func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, openStore) }

// BenchmarkDeliveryCounts times the counts of the dashboards, /metrics and the lesson API as the
// deliveries table grows (scripts/bench-counts.sh).
func BenchmarkDeliveryCounts(b *testing.B) { storetest.BenchmarkDeliveryCounts(b, openStore) }
