package queue

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/worksheet"
)

// postalFixture adds offline households with French and Cyrillic addresses, their queued postal
// deliveries and the lesson's worksheet.
func postalFixture(t *testing.T, worksheetFile bool) (*fixture, []relais.Household, []int64) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, 0, nil)
	hs := []relais.Household{
		{ExternalRef: "P1", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "Famille Lefèvre-Noël\n12 rue de l’Église\n94000 Créteil"},
		{ExternalRef: "P2", Region: "IDF", Language: "kk", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "Семья Жанұзақова\r\nул. Абая, д. 15, кв. 3\n\n050000 Алматы"},
		{ExternalRef: "P3", Region: "IDF", Language: "ru", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "Семья Иванова\nул. Пушкина, д. 7\n010000 Астана"},
		{ExternalRef: "P4", Region: "Nord", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "Famille Martin\n1 place du Beffroi\n59000 Lille"},
	}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, h := range hs {
		ids = append(ids, f.queuePostal(t, h))
	}
	if worksheetFile {
		pdf, err := worksheet.Render(worksheet.Input{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr",
			Markdown: "Lisez l’énoncé.\n\n1. Calculez ½ + ¼.\n"})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "worksheet.pdf")
		if err := os.WriteFile(path, pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := f.store.PutWorksheet(ctx, relais.Worksheet{LessonID: f.lesson.ID, Path: path, Bytes: int64(len(pdf)), Generated: true}); err != nil {
			t.Fatal(err)
		}
	}
	return f, hs, ids
}

// queuePostal has the postal channel queue h's (stored) packet of the lesson, as a send does, and
// returns its delivery's id.
func (f *fixture) queuePostal(t *testing.T, h relais.Household) int64 {
	t.Helper()
	ctx := context.Background()
	got, err := f.store.PlanDeliveries(ctx, []relais.Delivery{{LessonID: f.lesson.ID, HouseholdID: h.ID, Channel: relais.ChannelPostal}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := (&postal.Channel{}).Send(ctx, channels.Message{Lesson: f.lesson, Household: h})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AdvanceDelivery(ctx, got[0], rc.Status, "", rc.ProviderID); err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func (f *fixture) newBatch(t *testing.T, region string) relais.PostalBatch {
	t.Helper()
	b := relais.PostalBatch{LessonID: f.lesson.ID, Region: region, CreatedBy: "m"}
	if err := f.store.CreatePostalBatch(context.Background(), &b, postal.BatchKey(region, f.lesson.ID), 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func waitBatch(t *testing.T, f *fixture, id int64, status relais.PostalBatchStatus) relais.PostalBatch {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := f.store.PostalBatch(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status == status {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %d is %s (%s), want %s", id, b.Status, b.Reason, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPostalBatchTaskWritesPDFAndCSV(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f, hs, ids := postalFixture(t, true)
		b := f.newBatch(t, "IDF")
		if err := f.w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.w.Shutdown)
		if err := f.client.PostalBatch(context.Background(), b.ID); err != nil {
			t.Fatal(err)
		}
		b = waitBatch(t, f, b.ID, relais.PostalBatchReady)
		wantPDF, wantCSV := PostalBatchFiles(f.w.cfg.MediaDir, b.ID)
		if b.PDFPath != wantPDF || b.CSVPath != wantCSV || b.Households != 3 {
			t.Errorf("batch %+v", b)
		}
		st, err := os.Stat(b.PDFPath)
		if err != nil || st.Size() != b.PDFBytes {
			t.Fatalf("pdf %v %v, recorded %d bytes", st, err, b.PDFBytes)
		}
		// No temporary file is left behind.
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(b.PDFPath), ".batch-*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}

		// CSV: one row per packet, in PDF order, with the address lines and the first page.
		cf, err := os.Open(b.CSVPath)
		if err != nil {
			t.Fatal(err)
		}
		defer cf.Close()
		rows, err := csv.NewReader(cf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{postal.CSVHeader,
			{"1", "1", fmt.Sprint(ids[0]), "P1", "IDF", "fr", "Famille Lefèvre-Noël", "12 rue de l’Église", "94000 Créteil", "", "", "",
				"Famille Lefèvre-Noël\n12 rue de l’Église\n94000 Créteil"},
			{"2", "3", fmt.Sprint(ids[1]), "P2", "IDF", "kk", "Семья Жанұзақова", "ул. Абая, д. 15, кв. 3", "050000 Алматы", "", "", "",
				"Семья Жанұзақова\nул. Абая, д. 15, кв. 3\n050000 Алматы"},
			{"3", "5", fmt.Sprint(ids[2]), "P3", "IDF", "ru", "Семья Иванова", "ул. Пушкина, д. 7", "010000 Астана", "", "", "",
				"Семья Иванова\nул. Пушкина, д. 7\n010000 Астана"},
		}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("csv (-want +got):\n%s", diff)
		}
		// RFC 4180: lines end in CRLF, which mail houses' tools and spreadsheets expect.
		if raw, _ := os.ReadFile(b.CSVPath); !bytes.HasSuffix(raw, []byte("\r\n")) || bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
			t.Errorf("csv lines do not all end in CRLF: %q", raw[:min(len(raw), 200)])
		}

		// PDF: each packet's letter shows its address in the window field, then the worksheet.
		for i, h := range hs[:3] {
			first, _ := strconv.Atoi(rows[i+1][1])
			window := pdftext(t, b.PDFPath, first, 20, 49, 85, 41)
			if want := strings.Join(postal.AddressLines(h.PostalAddress), " "); window != want {
				t.Errorf("packet %d window %q, want %q", i+1, window, want)
			}
			if sheet := pdftext(t, b.PDFPath, first+1); !strings.Contains(sheet, "Lisez l’énoncé. 1. Calculez ½ + ¼.") {
				t.Errorf("packet %d worksheet page: %q", i+1, sheet)
			}
		}
		// The other region's packet is not in this batch, and still waits.
		if all := pdftext(t, b.PDFPath, 0); strings.Contains(all, "Lille") {
			t.Error("the Nord household is in the IDF batch")
		}
		if ds, _ := f.store.DeliveriesByIDs(context.Background(), ids[3:]); ds[0].Status != relais.DeliveryQueued {
			t.Errorf("Nord delivery %s", ds[0].Status)
		}

		// Running the task again (asynq re-queues on shutdown) changes nothing.
		if err := f.w.handlePostalBatch(context.Background(), task(TypePostalBatch, PostalBatchPayload{BatchID: b.ID})); err != nil {
			t.Fatal(err)
		}
		if again, _ := f.store.PostalBatch(context.Background(), b.ID); again.Status != relais.PostalBatchReady || again.PDFBytes != b.PDFBytes {
			t.Errorf("after a re-run: %+v", again)
		}
	})
}

func TestPostalBatchWithoutWorksheetFails(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f, _, _ := postalFixture(t, false)
		b := f.newBatch(t, "Nord")
		err := f.w.handlePostalBatch(context.Background(), task(TypePostalBatch, PostalBatchPayload{BatchID: b.ID}))
		if err == nil || !strings.Contains(err.Error(), "skip retry") {
			t.Errorf("err = %v, want a permanent failure", err)
		}
		got, _ := f.store.PostalBatch(context.Background(), b.ID)
		if got.Status != relais.PostalBatchFailed || !strings.Contains(got.Reason, "no worksheet") {
			t.Errorf("batch %+v", got)
		}
	})
}

// TestPostalBatchRefusesUnprintableAddress: a household stored before addresses were checked at
// import, whose address the letter cannot print, has its delivery failed with the reason; the batch
// is made for the others (the PDF library used to fail the whole batch on it).
func TestPostalBatchRefusesUnprintableAddress(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		ctx := context.Background()
		f, _, ids := postalFixture(t, true)
		bad := []relais.Household{{ExternalRef: "P5", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "Famille 😀\n3 rue du Port"}}
		if err := f.store.UpsertHouseholds(ctx, bad); err != nil {
			t.Fatal(err)
		}
		badID := f.queuePostal(t, bad[0])
		b := f.newBatch(t, "IDF")
		if err := f.w.handlePostalBatch(ctx, task(TypePostalBatch, PostalBatchPayload{BatchID: b.ID})); err != nil {
			t.Fatal(err)
		}
		b, _ = f.store.PostalBatch(ctx, b.ID)
		if b.Status != relais.PostalBatchReady {
			t.Fatalf("batch %+v, want ready", b)
		}
		if all := pdftext(t, b.PDFPath, 0); !strings.Contains(all, "Créteil") || strings.Contains(all, "du Port") {
			t.Errorf("the batch's letters: %q, want the three printable ones only", all)
		}
		ds, err := f.store.DeliveriesByIDs(ctx, append([]int64{badID}, ids[:3]...))
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 4 {
			t.Fatalf("%d deliveries, want 4", len(ds))
		}
		for _, d := range ds {
			switch {
			case d.ID == badID && (d.Status != relais.DeliveryFailed || !strings.Contains(d.Reason, "cannot print: 😀 (U+1F600)")):
				t.Errorf("the unprintable household's delivery: %s %q, want failed with the characters named", d.Status, d.Reason)
			case d.ID != badID && d.Status != relais.DeliveryQueued:
				t.Errorf("delivery %d is %s, want queued until the batch is posted", d.ID, d.Status)
			}
		}

		// A batch of only unprintable addresses fails, saying why.
		worse := []relais.Household{{ExternalRef: "P6", Region: "Sud", Language: "fr", Grades: []int{5}, Profile: relais.ProfileOffline,
			PostalAddress: "שלום"}}
		if err := f.store.UpsertHouseholds(ctx, worse); err != nil {
			t.Fatal(err)
		}
		f.queuePostal(t, worse[0])
		b = f.newBatch(t, "Sud")
		if err := f.w.handlePostalBatch(ctx, task(TypePostalBatch, PostalBatchPayload{BatchID: b.ID})); err == nil {
			t.Error("a batch of unprintable addresses was made")
		}
		if b, _ = f.store.PostalBatch(ctx, b.ID); b.Status != relais.PostalBatchFailed || !strings.Contains(b.Reason, "1 refused") {
			t.Errorf("batch %s %q, want failed naming the refused household", b.Status, b.Reason)
		}
	})
}

// pdftext returns the text of page (0: all pages), whitespace collapsed, optionally inside a box in
// millimetres from the top left corner.
func pdftext(t *testing.T, path string, page int, box ...float64) string {
	t.Helper()
	args := []string{"-enc", "UTF-8"}
	if page > 0 {
		args = append(args, "-f", strconv.Itoa(page), "-l", strconv.Itoa(page))
	}
	if len(box) == 4 {
		pt := func(mm float64) string { return strconv.Itoa(int(mm * 72 / 25.4)) }
		args = append(args, "-r", "72", "-x", pt(box[0]), "-y", pt(box[1]), "-W", pt(box[2]), "-H", pt(box[3]))
	}
	out, err := exec.Command("pdftotext", append(args, path, "-")...).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func TestPostalLettersCarryTheWeeksSchedule(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		f, _, _ := postalFixture(t, true)
		almaty, _ := time.LoadLocation("Asia/Almaty")
		var asked []any
		f.w.pipeline.GradeSchedule = func(ctx context.Context, grade int, region string, from time.Time) ([]relais.Airing, error) {
			asked = append(asked, grade, region)
			return []relais.Airing{
				{Station: "Balapan", Kind: relais.StationTV, Start: time.Date(2027, 3, 1, 10, 30, 0, 0, almaty), Title: "Les fractions"},
				{Station: "Radio Shalqar", Kind: relais.StationRadio, Start: time.Date(2027, 3, 2, 9, 0, 0, 0, almaty), Title: "Les verbes"},
			}, nil
		}
		b := f.newBatch(t, "IDF")
		if err := f.w.handlePostalBatch(context.Background(), task(TypePostalBatch, PostalBatchPayload{BatchID: b.ID})); err != nil {
			t.Fatal(err)
		}
		b, err := f.store.PostalBatch(context.Background(), b.ID)
		if err != nil || b.Status != relais.PostalBatchReady {
			t.Fatalf("batch %+v %v", b, err)
		}
		if diff := cmp.Diff([]any{f.lesson.Grade, "IDF"}, asked); diff != "" {
			t.Errorf("schedule asked for (-want +got):\n%s", diff)
		}
		letter := pdftext(t, b.PDFPath, 1)
		for _, want := range []string{"2027-03-01 10:30", "Balapan", "Les fractions", "2027-03-02 09:00", "Radio Shalqar", "Les verbes"} {
			if !strings.Contains(letter, want) {
				t.Errorf("the cover letter lacks %q:\n%s", want, letter)
			}
		}
	})
}
