package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/benchdata"
	"github.com/relais-edu/relais/internal/testenv"
)

// BenchmarkDashboards times, over HTTP on a running relais api on PostgreSQL, what shows delivery
// figures — the overview dashboard, a lesson's deliveries page, /metrics and the lesson status API —
// with one national lesson grown to each size of RELAIS_BENCH_DASHBOARD_SIZES deliveries (default
// 2,000,000; issue 17 asks 20,000,000) beside a small one. It prints p50 and p99 of 200 requests per
// endpoint and size (scripts/bench-counts.sh runs it after the stores' own counts).
func BenchmarkDashboards(b *testing.B) {
	sizes, err := benchdata.Sizes("RELAIS_BENCH_DASHBOARD_SIZES", 2_000_000)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ctx := context.Background()
		dbURL := testenv.Postgres(b)
		redisAddr, redisDB := testenv.Redis(b)
		cfg := DefaultConfig()
		cfg.DataDir, cfg.DatabaseURL, cfg.HTTPAddr = b.TempDir(), dbURL, "127.0.0.1:0"
		cfg.RedisAddr, cfg.RedisDB = redisAddr, redisDB
		cfg.resolve()
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
		a, err := start(ctx, cfg, parts{api: true}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a.stop(sctx)
		})
		pool, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)

		national := relais.Lesson{Title: "National", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		small := relais.Lesson{Title: "Small", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		for _, l := range []*relais.Lesson{&national, &small} {
			if err := a.store.CreateLesson(ctx, l); err != nil {
				b.Fatal(err)
			}
		}
		if err := benchdata.Postgres(ctx, pool, small.ID, 0, 2000); err != nil {
			b.Fatal(err)
		}
		staff := signIn(b, a, relais.User{ID: "media", Name: "Media unit", Role: relais.RoleMedia})
		tok, err := newToken(ctx, a.store, relais.User{ID: "media-api", Name: "Media unit", Role: relais.RoleMedia})
		if err != nil {
			b.Fatal(err)
		}
		api := func(path string) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, a.URL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			return req, err
		}
		ui := func(path string) (*http.Request, error) { return http.NewRequest(http.MethodGet, a.URL()+path, nil) }
		endpoints := []struct {
			name string
			hc   *http.Client
			req  func(string) (*http.Request, error)
			path string
		}{
			{"overview dashboard", staff, ui, "/ui/dashboard"},
			{"lesson deliveries page", staff, ui, fmt.Sprintf("/ui/lessons/%d/deliveries", national.ID)},
			{"/metrics", http.DefaultClient, ui, "/metrics"},
			{"lesson status API", http.DefaultClient, api, fmt.Sprintf("/api/v1/lessons/%d", national.ID)},
		}

		fmt.Printf("%-24s %11s %9s %9s\n", "endpoint (PostgreSQL)", "deliveries", "p50 ms", "p99 ms")
		filled := 0
		for _, size := range sizes {
			start := time.Now()
			if err := benchdata.Postgres(ctx, pool, national.ID, 2000+filled/2, size-filled); err != nil {
				b.Fatal(err)
			}
			filled = size
			b.Logf("%d deliveries filled in %s", size, time.Since(start).Round(time.Second))
			for _, e := range endpoints {
				ds := make([]time.Duration, 200)
				for i := range ds {
					req, err := e.req(e.path)
					if err != nil {
						b.Fatal(err)
					}
					t0 := time.Now()
					resp, err := e.hc.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ds[i] = time.Since(t0)
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("GET %s = %s", e.path, resp.Status)
					}
				}
				slices.Sort(ds)
				p50, p99 := ds[len(ds)/2], ds[len(ds)*99/100]
				fmt.Printf("%-24s %11d %9.2f %9.2f\n", e.name, size+2000, ms(p50), ms(p99))
				b.ReportMetric(ms(p99), fmt.Sprintf("p99-ms-%s@%d", strings.ReplaceAll(strings.Trim(e.name, "/"), " ", "-"), size))
			}
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
