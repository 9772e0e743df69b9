package roster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/roster"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// BenchmarkImport imports a CSV of 100,000 and of 1,000,000 households, one row in a hundred bad, into
// a new SQLite and a new PostgreSQL store, through roster.Importer as the API and the import page do,
// and reports rows/s (parsing included) and the rows refused. scripts/bench-import.sh runs it.
// RELAIS_BENCH_IMPORT_SIZES (e.g. 1000000) and RELAIS_BENCH_IMPORT_ENGINES (e.g. postgres) narrow it.
//
//	go test ./roster -run '^$' -bench Import -benchtime 1x -timeout 30m
func BenchmarkImport(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) relais.Store
	}{
		{"sqlite", func(b *testing.B) relais.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "relais.db"))
			if err != nil {
				b.Fatal(err)
			}
			return db
		}},
		{"postgres", func(b *testing.B) relais.Store {
			db, err := postgres.Open(context.Background(), testenv.Postgres(b))
			if err != nil {
				b.Fatal(err)
			}
			return db
		}},
	}
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("RELAIS_BENCH_IMPORT_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("RELAIS_BENCH_IMPORT_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	only := os.Getenv("RELAIS_BENCH_IMPORT_ENGINES")
	for _, rows := range sizes {
		var csv []byte
		for _, e := range engines {
			if only != "" && !slices.Contains(strings.Split(only, ","), e.name) {
				continue
			}
			b.Run(fmt.Sprintf("%s/%d", e.name, rows), func(b *testing.B) {
				if csv == nil {
					csv = householdsCSV(rows)
				}
				for range b.N {
					b.StopTimer()
					db := e.open(b)
					im := &roster.Importer{Store: db, Options: roster.Options{DefaultCountry: "FR"}}
					b.StartTimer()
					start := time.Now()
					res, err := im.Import(context.Background(), bytes.NewReader(csv), "en")
					elapsed := time.Since(start)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					if res.Imported != rows-rows/100 || res.Rejected != rows/100 {
						b.Fatalf("imported %d, refused %d; want %d and %d", res.Imported, res.Rejected, rows-rows/100, rows/100)
					}
					if n, err := db.CountHouseholds(context.Background()); err != nil || n != int64(res.Imported) {
						b.Fatalf("store holds %d households (%v), want %d", n, err, res.Imported)
					}
					b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
					b.ReportMetric(float64(res.Rejected), "refused")
					db.Close()
				}
			})
		}
	}
}

// householdsCSV is a ministry export of n households on two grades, with a phone, an email and an
// address each; every hundredth row has a landline, which the import refuses.
func householdsCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("external_ref,region,language,grades,profile,phone,email,postal_address,consent\n")
	for i := range n {
		phone := fmt.Sprintf("+336%08d", i)
		if i%100 == 99 {
			phone = fmt.Sprintf("+331%08d", i)
		}
		fmt.Fprintf(&b, "H%d,IDF,fr,3;5,mobile_data,%s,parent%d@example.org,\"%d rue de la Paix\\n75001 Paris\",yes\n", i, phone, i, i)
	}
	return b.Bytes()
}

// BenchmarkParse reads and checks 100,000 rows, without storing them.
func BenchmarkParse(b *testing.B) {
	csv := householdsCSV(100_000)
	for range b.N {
		start := time.Now()
		hs, bad, err := roster.Parse(bytes.NewReader(csv), roster.Options{DefaultCountry: "FR"})
		if err != nil || len(hs) != 99_000 || len(bad) != 1000 {
			b.Fatalf("%d good, %d bad, %v", len(hs), len(bad), err)
		}
		b.ReportMetric(float64(len(csv))/1e6/time.Since(start).Seconds(), "MB/s")
		b.ReportMetric(100_000/time.Since(start).Seconds(), "rows/s")
	}
}
