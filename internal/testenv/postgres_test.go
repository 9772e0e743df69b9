package testenv_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/relais-edu/relais/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestPostgresFrom gives each test its own database, copied from a template made once.
func TestPostgresFrom(t *testing.T) {
	ctx := context.Background()
	prepared := 0
	prepare := func(ctx context.Context, url string) error {
		prepared++
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE t (v int); INSERT INTO t VALUES (42)`)
		return err
	}
	var urls []string
	for i := 0; i < 2; i++ {
		url := testenv.PostgresFrom(t, "testenv_template", prepare)
		urls = append(urls, url)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if err := conn.QueryRow(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != 42 {
			t.Errorf("copy %d: v = %d, %v", i, v, err)
		}
		if _, err := conn.Exec(ctx, `UPDATE t SET v = 7`); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
	}
	if prepared != 1 || urls[0] == urls[1] {
		t.Errorf("prepared %d times, urls %v", prepared, urls)
	}
	empty := testenv.Postgres(t)
	conn, err := pgx.Connect(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("an empty database holds %d tables (%v)", n, err)
	}
}
