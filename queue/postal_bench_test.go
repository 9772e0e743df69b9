package queue

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/worksheet"
)

// TestPostalBatchScale builds the batch of RELAIS_BENCH_POSTAL households (default 200; the bench
// script uses 5000) and prints the time, the PDF's size and pages, and the peak Go heap while
// building. It checks every packet is there and the last letter's address is in its window.
//
//	RELAIS_BENCH_POSTAL=5000 go test ./queue/ -run PostalBatchScale -v
func TestPostalBatchScale(t *testing.T) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("RELAIS_BENCH_POSTAL")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	f := newFixture(t, 0, nil)
	langs := []string{"fr", "kk", "ru", "en"}
	addrs := []string{"Famille Lefèvre-Noël %d\n12 rue de l’Église\n94000 Créteil",
		"Семья Жанұзақова %d\nул. Абая, д. 15, кв. 3\n050000 Алматы\nҚазақстан",
		"Семья Иванова %d\nул. Пушкина, д. 7\n010000 Астана", "Family Smith %d\n1 High Street\nLondon"}
	hs := make([]relais.Household, n)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("B", i), Region: "IDF", Language: langs[i%4], Grades: []int{5},
			Profile: relais.ProfileOffline, PostalAddress: fmt.Sprintf(addrs[i%4], i)}
	}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	ds := make([]relais.Delivery, n)
	for i, h := range hs {
		ds[i] = relais.Delivery{LessonID: f.lesson.ID, HouseholdID: h.ID, Channel: relais.ChannelPostal}
	}
	ids, err := f.store.PlanDeliveries(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	key := postal.BatchKey("IDF", f.lesson.ID)
	for _, id := range ids {
		if _, err := f.store.AdvanceDelivery(ctx, id, relais.DeliveryQueued, "", key); err != nil {
			t.Fatal(err)
		}
	}
	pdf, err := worksheet.Render(worksheet.Input{Title: "Les fractions", Subject: "Mathématiques", Grade: 5, Language: "fr",
		Markdown: "# Découvrir\n\nÉlèves, lisez l’énoncé.\n\n1. Calculez ½ + ¼.\n2. Expliquez pourquoi.\n3. Dessinez ⅔ d’un gâteau.\n"})
	if err != nil {
		t.Fatal(err)
	}
	wsPath := filepath.Join(t.TempDir(), "w.pdf")
	os.WriteFile(wsPath, pdf, 0o600)
	f.store.PutWorksheet(ctx, relais.Worksheet{LessonID: f.lesson.ID, Path: wsPath, Bytes: int64(len(pdf)), Generated: true})
	b := f.newBatch(t, "IDF")

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stopSampling := testenv.SampleHeap(20 * time.Millisecond)
	start := time.Now()
	err = f.w.handlePostalBatch(ctx, task(TypePostalBatch, PostalBatchPayload{BatchID: b.ID}))
	el := time.Since(start)
	peak := stopSampling()
	if err != nil {
		t.Fatal(err)
	}
	b, _ = f.store.PostalBatch(ctx, b.ID)
	if b.Status != relais.PostalBatchReady || b.Households != n {
		t.Fatalf("batch %+v", b)
	}
	out, err := exec.Command("pdfinfo", b.PDFPath).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out)
	pages, _ := strconv.Atoi(string(m[1]))
	if pages != 2*n {
		t.Errorf("%d pages, want %d (letter and worksheet per household)", pages, 2*n)
	}
	last := hs[n-1]
	if got, want := pdftext(t, b.PDFPath, pages-1, 20, 49, 85, 41), strings.Join(postal.AddressLines(last.PostalAddress), " "); got != want {
		t.Errorf("last letter's window %q, want %q", got, want)
	}
	t.Logf("postal batch: %d households, %d pages, built in %v (%.0f households/s), PDF %.1f MB (%.1f KB per household), peak heap in use %.1f MB (%.1f MB before)",
		n, pages, el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(b.PDFBytes)/(1<<20),
		float64(b.PDFBytes)/1024/float64(n), float64(peak)/(1<<20), float64(base.HeapInuse)/(1<<20))
}
