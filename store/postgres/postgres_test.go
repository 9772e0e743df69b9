package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestStore runs the conformance suite of relais.Store on a new database per test, copied from a
// migrated template on the test process's private cluster.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) relais.Store {
		db := open(t)
		if now != nil {
			db.SetClock(now)
		}
		return db
	})
}

// open returns the store on a new database holding the schema.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	url := testenv.PostgresFrom(t, "relais_migrated", func(ctx context.Context, url string) error {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			return err
		}
		return db.Close()
	})
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
