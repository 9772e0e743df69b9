package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/benchdata"
)

// CountsBenchStore is a store that BenchmarkDeliveryCounts can fill fast, with the engine's own SQL.
type CountsBenchStore interface {
	relais.Store
	// FillBenchDeliveries adds n deliveries of lessonID: households from..from+n/2-1, on SMS and email.
	FillBenchDeliveries(ctx context.Context, lessonID int64, from, n int) error
	// ScanDeliveryCounts is the count of the deliveries themselves that DeliveryCounts once was.
	ScanDeliveryCounts(ctx context.Context, lessonID int64) ([]relais.DeliveryCount, error)
}

// BenchmarkDeliveryCounts fills one national lesson up to each size of RELAIS_BENCH_COUNTS_SIZES
// (default 200,000 and 2,000,000 deliveries; a small lesson of 2,000 sits beside it) and prints the
// latency of the figures the dashboard, /metrics (DeliveryCounts of every lesson) and the lesson status
// API (DeliveryCounts of one lesson) read, against the baseline of counting the rows as before, in the
// same run. The kept counts must equal the rows counted. Sizes ten times apart show whether the cost
// grows with the table.
//
//	go test ./store/sqlite ./store/postgres -run '^$' -bench DeliveryCounts -benchtime 1x -timeout 3h
func BenchmarkDeliveryCounts(b *testing.B, open Open) {
	sizes, err := benchdata.Sizes("RELAIS_BENCH_COUNTS_SIZES", 200_000, 2_000_000)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ctx := context.Background()
		db, ok := open(b, nil).(CountsBenchStore)
		if !ok {
			b.Fatal("the store cannot fill deliveries for this benchmark")
		}
		national := relais.Lesson{Title: "National", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		small := relais.Lesson{Title: "Small", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
		if err := db.CreateLesson(ctx, &national); err != nil {
			b.Fatal(err)
		}
		if err := db.CreateLesson(ctx, &small); err != nil {
			b.Fatal(err)
		}
		if err := db.FillBenchDeliveries(ctx, small.ID, 0, 2000); err != nil {
			b.Fatal(err)
		}
		filled := 0
		fmt.Printf("%-10s %11s %13s %13s %13s %13s %10s %15s\n", "engine", "deliveries", "all p50 ms", "all p99 ms", "lesson p99 ms",
			"scan all ms", "scan/kept", "failures p99 ms")

		for _, size := range sizes {
			start := time.Now()
			if err := db.FillBenchDeliveries(ctx, national.ID, filled/2, size-filled); err != nil {
				b.Fatal(err)
			}
			fill := time.Since(start)
			filled = size
			for _, id := range []int64{0, national.ID, small.ID} {
				kept, err := db.DeliveryCounts(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				counted, err := db.ScanDeliveryCounts(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if diff := cmp.Diff(counted, kept); diff != "" {
					b.Fatalf("%d deliveries: kept counts of lesson %d differ from the rows (-counted +kept):\n%s", size, id, diff)
				}
				failures, err := db.FailureCounts(ctx, relais.FailureFilter{LessonID: id})
				if err != nil {
					b.Fatal(err)
				}
				var failed int64
				for _, c := range failures {
					failed += c.Count
				}
				var want int64
				for _, c := range counted {
					if c.Status == relais.DeliveryFailed || c.Status == relais.DeliveryUndelivered {
						want += c.Count
					}
				}
				if failed != want {
					b.Fatalf("%d deliveries: lesson %d has %d failures counted, %d kept", size, id, want, failed)
				}
			}
			all := latencies(b, 300, func() error { _, err := db.DeliveryCounts(ctx, 0); return err })
			lesson := latencies(b, 300, func() error { _, err := db.DeliveryCounts(ctx, national.ID); return err })
			scan := latencies(b, 3, func() error { _, err := db.ScanDeliveryCounts(ctx, 0); return err })
			// The lesson dashboard's failure reasons (2 % of the deliveries failed here).
			failures := latencies(b, 20, func() error {
				_, err := db.FailureCounts(ctx, relais.FailureFilter{LessonID: national.ID, Limit: 10})
				return err
			})
			fmt.Printf("%-10s %11d %13.2f %13.2f %13.2f %13.0f %9.0fx %15.1f   (filled in %s)\n", strings.TrimPrefix(fmt.Sprintf("%T", db), "*"), size+2000,
				ms(all.p50), ms(all.p99), ms(lesson.p99), ms(scan.p50), float64(scan.p50)/float64(all.p99), ms(failures.p99), fill.Round(time.Second))
			b.ReportMetric(ms(all.p99), fmt.Sprintf("all-p99-ms@%d", size))
			b.ReportMetric(ms(lesson.p99), fmt.Sprintf("lesson-p99-ms@%d", size))
		}
	}
}

type spread struct{ p50, p99 time.Duration }

// latencies calls f n times and returns the median and 99th percentile of its durations.
func latencies(b *testing.B, n int, f func() error) spread {
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return spread{p50: ds[n/2], p99: ds[min(n-1, n*99/100)]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
