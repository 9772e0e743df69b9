package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
)

// TestMetricsShowThePostgresPool: on PostgreSQL, /metrics shows the pool's statistics, and the pool's
// size is the URL's pool_max_conns.
func TestMetricsShowThePostgresPool(t *testing.T) {
	u, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	db, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CountHouseholds(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(db, func() (map[string]*asynq.QueueInfo, error) { return nil, nil }, fakeTaskStats, slog.New(slog.DiscardHandler))
	m.WatchPool(db.PoolStats)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"relais_db_pool_max_conns 3\n", "relais_db_pool_acquired_conns ", "relais_db_pool_idle_conns ",
		"relais_db_pool_total_conns ", "relais_db_pool_acquire_seconds_total ", "relais_db_pool_empty_acquires_total "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(body), "relais_db_pool_acquires_total 0\n") {
		t.Error("relais_db_pool_acquires_total is 0 after a query")
	}
}
