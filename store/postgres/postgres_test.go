package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestStore runs the conformance suite of relais.Store on a new database per test, copied from a
// migrated template on the test process's private cluster.
func TestStore(t *testing.T) {
	storetest.Run(t, openStore)
}

// BenchmarkStore runs the stores' benchmarks on a database of the test cluster (no fsync).
//
//	go test ./store/postgres -run '^$' -bench Store
func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, openStore) }

func openStore(t testing.TB, now func() time.Time) relais.Store {
	db := open(t)
	if now != nil {
		db.SetClock(now)
	}
	return db
}

// open returns the store on a new database holding the schema.
func open(t testing.TB) *postgres.DB {
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

// TestOpenConcurrently starts several processes' worth of stores on an empty database at once: the
// advisory lock lets one apply the migrations and the others find them applied.
func TestOpenConcurrently(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	errs := make(chan error, 4)
	for i := 0; i < cap(errs); i++ {
		go func() {
			db, err := postgres.Open(ctx, url)
			if err == nil {
				err = db.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var applied, versions int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&applied, &versions); err != nil {
		t.Fatal(err)
	}
	if applied != versions || applied == 0 {
		t.Errorf("goose_db_version holds %d applications of %d migrations", applied, versions)
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.Pool().QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&name); err != nil || name != "relais" {
		t.Errorf("application_name %q, %v; want relais", name, err)
	}
}

// TestOpenDownNamesURLWithoutPassword: a database that does not answer at start is an error naming
// the URL, never its password.
func TestOpenDownNamesURLWithoutPassword(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	for _, url := range []string{
		"postgres://relais:s3cret@" + addr + "/relais?connect_timeout=2",
		"postgres://relais@" + addr + "/relais?password=s3cret&connect_timeout=2",
	} {
		_, err := postgres.Open(context.Background(), url)
		if err == nil {
			t.Fatalf("open %s: no error", addr)
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, addr+"/relais") {
			t.Errorf("error %q: want the URL without its password", msg)
		}
	}
	if _, err := postgres.Open(context.Background(), "postgres://relais:s3cret@host:notaport/db"); err == nil ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("unparsable URL: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://relais:s3cret@db:5432/relais?sslmode=require":     "postgres://relais:xxxxx@db:5432/relais?sslmode=require",
		"postgres://relais@db/relais?password=s3cret&sslmode=disable": "postgres://relais@db/relais?password=xxxxx&sslmode=disable",
		"postgres://db/relais": "postgres://db/relais",
		"postgres://u:p@h:x/d": "(unreadable URL)",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConcurrentPlannersPlanOnce: two workers planning the same pages of a lesson at once plan each
// key once, with one history; both hand on only pending rows.
func TestConcurrentPlannersPlanOnce(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	other := open2(t, db)
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	hs := make([]relais.Household, 2000)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", i), Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
			Phone: fmt.Sprintf("+336%08d", i)}
	}
	if err := db.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	plan := func(s relais.Store) error {
		for start := 0; start < len(hs); start += 250 {
			var ds []relais.Delivery
			for _, h := range hs[start : start+250] {
				ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS},
					relais.Delivery{LessonID: l.ID, HouseholdID: h.ID, Channel: relais.ChannelReminder, Occurrence: 0})
			}
			if _, err := s.PlanDeliveries(ctx, ds); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make(chan error, 2)
	go func() { errs <- plan(db) }()
	go func() { errs <- plan(other) }()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	counts, err := db.DeliveryCounts(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []relais.DeliveryCount{{Channel: relais.ChannelReminder, Status: relais.DeliveryPending, Count: 2000},
		{Channel: relais.ChannelSMS, Status: relais.DeliveryPending, Count: 2000}}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	tl, err := db.DeliveryTimeline(ctx, relais.TimelineFilter{LessonID: l.ID, From: hour.Add(-time.Hour), To: hour.Add(2 * time.Hour), Bucket: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var planned int64
	for _, c := range tl {
		planned += c.Count
	}
	if planned != 4000 {
		t.Errorf("the timeline counts %d plannings, want 4000", planned)
	}
}

// open2 opens a second store (a second worker process's) on db's database.
func open2(t *testing.T, db *postgres.DB) *postgres.DB {
	t.Helper()
	other, err := postgres.Open(context.Background(), db.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// BenchmarkDeliveryCounts times the counts of the dashboards, /metrics and the lesson API as the
// deliveries table grows (scripts/bench-counts.sh).
func BenchmarkDeliveryCounts(b *testing.B) { storetest.BenchmarkDeliveryCounts(b, openStore) }
