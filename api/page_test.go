package api

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestFamilyLinks: the family page opens from its opaque link, which shows neither the household's id
// nor its contacts; a tampered or forged link gets a page saying so in the language the browser asks
// for, the four languages when it asks for none of theirs.
func TestFamilyLinks(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "- un\n", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	hs := []relais.Household{{ExternalRef: "A", Region: "IDF", Language: "kk", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
		Phone: "+33612000001", Email: "famille@example.org", Consent: true}}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	get := func(path, accept string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	link := f.signer.LessonURL(l.ID, hs[0].ID)
	path := strings.TrimPrefix(link, "http://relais.test")
	tok := strings.TrimPrefix(path, "/l/")
	for _, clear := range []string{strconv.FormatInt(hs[0].ID, 10) + "", "33612000001", "famille", "example.org"} {
		if len(clear) > 1 && strings.Contains(tok, clear) {
			t.Errorf("family link %s shows %q", link, clear)
		}
	}
	if status, body := get(path, "en"); status != 200 || !strings.Contains(body, "Les fractions") || !strings.Contains(body, `lang="kk"`) {
		t.Fatalf("family page = %d:\n%s", status, body)
	}
	tampered := "A" + tok[1:]
	if tok[0] == 'A' {
		tampered = "B" + tok[1:]
	}
	for _, tc := range []struct{ path, accept, want, not string }{
		{"/l/" + tampered, "kk-KZ,kk;q=0.9", "Бұл сілтеме жарамсыз.", "This link"},
		{"/l/" + tampered, "ru", "Эта ссылка недействительна.", "This link"},
		{"/l/" + tok[:len(tok)-2], "fr-FR", "Ce lien n’est pas valide.", "This link"},
		{"/l/garbage", "de", "This link is not valid.", "Les fractions"},
	} {
		status, body := get(tc.path, tc.accept)
		if status != http.StatusNotFound || !strings.Contains(body, tc.want) || strings.Contains(body, tc.not) {
			t.Errorf("GET %s (Accept-Language %s) = %d, want 404 saying %q without %q:\n%s", tc.path, tc.accept, status, tc.want, tc.not, body)
		}
	}
	if status, body := get("/l/garbage", "de"); !strings.Contains(body, "Ce lien n’est pas valide.") || !strings.Contains(body, "Эта ссылка") {
		t.Errorf("bad link for a language the families do not read = %d, want the four languages:\n%s", status, body)
	}
}
