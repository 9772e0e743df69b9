package scheduler_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/sqlite"
)

var subjects = []string{"maths", "french", "science", "history", "geography", "english", "kazakh", "russian"}

// BenchmarkAutoFillMonth: 20 stations, every day of a 30-day month 09:00-18:00 in 30-minute slots
// (10,800 slots), filled from 2,000 approved lessons, through the SQLite store (read the slots and the
// lessons, place, write every assignment in one transaction).
func BenchmarkAutoFillMonth(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "relais.db"))
		if err != nil {
			b.Fatal(err)
		}
		svc := scheduler.New(db, db, nil)
		langs := []string{"kk", "ru"}
		for s := 0; s < 20; s++ {
			st := relais.Station{Name: fmt.Sprintf("S%02d", s), Kind: relais.StationTV, TimeZone: "Asia/Almaty"}
			if err := svc.CreateStation(ctx, &st); err != nil {
				b.Fatal(err)
			}
			// Each station airs one grade (1-10) in one language; subjects are left to auto-fill.
			if _, err := svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{0, 1, 2, 3, 4, 5, 6},
				Start: "09:00", End: "18:00", SlotMin: 30, Grade: s%10 + 1, Language: langs[s/10],
				From: "2026-09-01", To: "2026-09-30"}); err != nil {
				b.Fatal(err)
			}
		}
		for n := 0; n < 2000; n++ {
			l := relais.Lesson{Title: fmt.Sprintf("L%d", n), Subject: subjects[n%len(subjects)], Grade: n%10 + 1,
				Language: langs[(n/10)%2], TeacherID: "t"}
			must(b, db.CreateLesson(ctx, &l))
			must(b, db.SetLessonDuration(ctx, l.ID, time.Duration(15+n%16)*time.Minute))
			must(b, db.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil))
			must(b, db.SetApproval(ctx, relais.Approval{LessonID: l.ID, State: relais.Approved, UpdatedAt: time.Now()}))
		}
		b.StartTimer()
		start := time.Now()
		rep, err := svc.AutoFill(ctx, nil, "2026-09-01", "2026-09-30", true)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/fill")
		b.ReportMetric(float64(rep.Placed), "placed")
		b.ReportMetric(float64(rep.Reruns), "reruns")
		b.ReportMetric(float64(rep.EmptySlots), "empty")
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkPlanMillion: the publishing plan of one lesson for 1,000,000 households read page by page
// from SQLite. Reports the plan's time and the peak Go heap while it runs (sampled every 10 ms).
func BenchmarkPlanMillion(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc := scheduler.New(db, db, nil)
	st := relais.Station{Name: "Balapan", Kind: relais.StationTV, TimeZone: "Asia/Almaty"}
	must(b, svc.CreateStation(ctx, &st))
	sl, err := svc.AddSlot(ctx, relais.Slot{StationID: st.ID, Day: "2026-09-02", Start: "09:00", Duration: 30 * time.Minute})
	must(b, err)
	l := relais.Lesson{Title: "L", Subject: "maths", Grade: 5, Language: "kk", TeacherID: "t"}
	must(b, db.CreateLesson(ctx, &l))
	must(b, db.SetLessonDuration(ctx, l.ID, 25*time.Minute))
	must(b, db.SetLessonStatus(ctx, l.ID, relais.LessonReady, nil))
	must(b, db.SetApproval(ctx, relais.Approval{LessonID: l.ID, State: relais.Approved, UpdatedAt: time.Now()}))
	must(b, svc.Assign(ctx, sl.ID, l.ID, false))
	const total = 1_000_000
	loadHouseholds(b, filepath.Join(dir, "relais.db"), total)
	p := &scheduler.Planner{Store: db, Lessons: db, Households: db, Channels: relaisChannels(), Config: scheduler.DefaultPlanConfig()}
	at := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var peak atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		sum, err := p.Plan(ctx, l.ID, at, func(scheduler.HouseholdPlan) error { return nil })
		elapsed := time.Since(start)
		close(stop)
		<-done
		if err != nil {
			b.Fatal(err)
		}
		if sum.Households != total {
			b.Fatalf("planned %d households, want %d", sum.Households, total)
		}
		b.ReportMetric(elapsed.Seconds(), "s/plan")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		b.ReportMetric(sum.Estimates["sms"].Seconds, "sms-s")
		b.ReportMetric(sum.Estimates["email"].Seconds, "email-s")
	}
}

// loadHouseholds writes n households of grade 5 in Almaty straight into the database file with one SQL
// statement (the store's row-by-row upsert is made for CSV imports and would take most of the run),
// the five profiles in turn and one in fifty without consent.
func loadHouseholds(b *testing.B, path string, n int) {
	b.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	start := time.Now()
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
		INSERT INTO households (external_ref, region, language, grades, profile, phone, email, postal_address,
			consent, created_at)
		SELECT printf('H%07d', i), 'Almaty', 'kk', '5',
			CASE i % 5 WHEN 0 THEN 'broadband' WHEN 1 THEN 'mobile_data' WHEN 2 THEN 'sms_only'
				WHEN 3 THEN 'broadcast_only' ELSE 'offline' END,
			CASE WHEN i % 5 IN (1, 2, 3) THEN printf('+7701%07d', i) ELSE '' END,
			CASE WHEN i % 5 IN (0, 1) THEN printf('h%d@example.kz', i) ELSE '' END,
			CASE WHEN i % 5 = 4 THEN '1 street' || char(10) || 'Almaty' ELSE '' END,
			i % 50 <> 0, 0
		FROM n`,
		`INSERT INTO household_grades (grade, household_id) SELECT 5, id FROM households`,
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, n)
		}
		if _, err := raw.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d households in %s", n, time.Since(start).Round(time.Millisecond))
}
