package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/storetest"
)

// TestErasureLeavesNothing searches every column of every table for what an erased household was
// known by: none of it may remain.
func TestErasureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	url := testenv.Postgres(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	secrets := storetest.Erased(t, db)
	db.Close()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	seen := 0
	for _, table := range tables {
		// Each row as its text form: every column, whatever its type.
		rows, err := conn.Query(ctx, `SELECT t::text FROM "`+table+`" t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			seen++
			for _, s := range secrets {
				if strings.Contains(text, s) || strings.Contains(strings.ReplaceAll(text, `\n`, "\n"), s) {
					t.Errorf("table %s still holds %q: %s", table, s, text)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no row searched: the test proves nothing")
	}
}
