package roster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/roster"
	"github.com/relais-edu/relais/store/sqlite"
)

func newImporter(t *testing.T) (*roster.Importer, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &roster.Importer{Store: db, Options: roster.Options{DefaultCountry: "FR"}, MaxBytes: 1 << 20}, db
}

func TestImportStoresGoodRowsAndExplainsBadOnesInTheReadersLanguage(t *testing.T) {
	im, db := newImporter(t)
	csv := strings.Join([]string{
		"external_ref,region,language,grades,profile,phone,email,postal_address,consent",
		"H1,IDF,fr,3;5,sms_only,06 12 34 56 78,,,oui",
		"H2,IDF,fr,x,sms_only,+33612345679,,,yes",
	}, "\n")
	res, err := im.Import(context.Background(), strings.NewReader(csv), "fr")
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 1 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Row != 3 || res.AllRefused() {
		t.Fatalf("result = %+v", res)
	}
	if msg := res.Errors[0].Message; msg == res.Errors[0].Problem.Message {
		t.Errorf("row error in English, want French: %q", msg)
	}
	hs, err := db.Households(context.Background(), relais.HouseholdFilter{Page: relais.Page{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, h := range hs {
		refs = append(refs, h.ExternalRef+" "+h.Phone)
	}
	if diff := cmp.Diff([]string{"H1 +33612345678"}, refs); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}

func TestImportAllRefused(t *testing.T) {
	im, _ := newImporter(t)
	csv := "external_ref,region,language,grades,profile\nH1,IDF,de,3,sms_only\n"
	res, err := im.Import(context.Background(), strings.NewReader(csv), "en")
	if err != nil || !res.AllRefused() {
		t.Errorf("result = %+v, %v; want every row refused", res, err)
	}
}

func TestImportOverTheLimitIsTooLarge(t *testing.T) {
	im, _ := newImporter(t)
	body := "external_ref,region,language,grades,profile\n" + strings.Repeat("H1,IDF,fr,3,sms_only\n", 100)
	r := http.MaxBytesReader(nil, nopCloser{strings.NewReader(body)}, 200)
	_, err := im.Import(context.Background(), r, "en")
	if want := "The file is larger than the limit of 200 B; split it into several imports."; relais.ErrorCode(err) != relais.ETOOLARGE || relais.ErrorMessage(err) != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// fakeUpserter stores households with a function.
type fakeUpserter struct {
	upsert func(hs []relais.Household) error
}

var _ roster.Upserter = (*fakeUpserter)(nil)

func (f *fakeUpserter) UpsertHouseholds(_ context.Context, hs []relais.Household) error {
	return f.upsert(hs)
}

// TestImportStopsWhenTheStoreFails: rows are stored in chunks while the next are checked; a store that
// fails ends the import with its error, and no chunk is stored after it.
func TestImportStopsWhenTheStoreFails(t *testing.T) {
	var b strings.Builder
	b.WriteString("external_ref,language,grades,profile,phone\n")
	for i := range 30_000 {
		fmt.Fprintf(&b, "H%d,fr,5,sms_only,+336%08d\n", i, i)
	}
	calls, stored := 0, 0
	fail := errors.New("database down")
	im := &roster.Importer{Options: roster.Options{DefaultCountry: "FR"}, Store: &fakeUpserter{upsert: func(hs []relais.Household) error {
		calls++
		if calls == 2 && fail != nil {
			return fail
		}
		stored += len(hs)
		return nil
	}}}
	_, err := im.Import(context.Background(), strings.NewReader(b.String()), "en")
	if !errors.Is(err, fail) {
		t.Fatalf("import with a failing store: %v", err)
	}
	if calls != 2 || stored != 5000 {
		t.Errorf("%d calls storing %d households; want 2 calls, the first storing 5,000", calls, stored)
	}

	calls, stored = 0, 0
	fail = nil
	res, err := im.Import(context.Background(), strings.NewReader(b.String()), "en")
	if err != nil || res.Imported != 30_000 || stored != 30_000 || calls != 6 {
		t.Errorf("import: %+v, %v; %d calls storing %d", res, err, calls, stored)
	}
}
