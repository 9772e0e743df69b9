package api

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestFamilyPageLanguages checks the page a family opens from its link: in the household's language,
// with the lesson's own words marked with the lesson's language when it differs; and a link that leads
// nowhere gets a small HTML page in the family's language (the household's when the link names one,
// else the browser's), never the API's English JSON.
func TestFamilyPageLanguages(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	if err := f.store.UpsertHouseholds(ctx, []relais.Household{
		{ExternalRef: "kk1", Language: "kk", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+77010000001", Consent: true},
		{ExternalRef: "ru1", Language: "ru", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+77010000002", Consent: true},
	}); err != nil {
		t.Fatal(err)
	}
	hs, err := f.store.Households(ctx, relais.HouseholdFilter{})
	if err != nil || len(hs) != 2 {
		t.Fatalf("households %v %v", hs, err)
	}
	byRef := map[string]int64{}
	for _, h := range hs {
		byRef[h.ExternalRef] = h.ID
	}
	l := relais.Lesson{Title: "Дроби", Subject: "математика", Grade: 5, Language: "ru", TeacherID: "t1", Markdown: "- Числитель сверху"}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	get := func(path, acceptLanguage string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		if acceptLanguage != "" {
			req.Header.Set("Accept-Language", acceptLanguage)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	link := func(hid int64) string { return "/l/" + f.signer.Token(l.ID, hid) }

	tests := []struct {
		name, path, accept string
		status             int
		want               []string
	}{
		{"a Kazakh household reading a Russian lesson", link(byRef["kk1"]), "en", 200,
			[]string{`<html lang="kk">`, `<h1 lang="ru">Дроби</h1>`, `Пән: <span lang="ru">математика</span>`, `<ul lang="ru"><li>Числитель сверху</li>`}},
		{"a Russian household reading a Russian lesson", link(byRef["ru1"]), "", 200,
			[]string{`<html lang="ru">`, `<h1>Дроби</h1>`, `Предмет: <span>математика</span>`}},
		{"a mistyped link from a Russian phone", "/l/" + strings.Repeat("x", 30), "ru-RU,ru;q=0.9,en;q=0.8", 404,
			[]string{`<html lang="ru">`, "<h1>Урок недоступен</h1>", "Эта ссылка недействительна. Проверьте, что она скопирована целиком."}},
		{"a mistyped link from a Kazakh phone", "/l/" + strings.Repeat("x", 30), "kk", 404,
			[]string{`<html lang="kk">`, "<h1>Сабақ қолжетімсіз</h1>"}},
		{"a mistyped audio link from a French phone", "/l/abc/audio", "fr-FR", 404,
			[]string{`<html lang="fr">`, "Ce lien n'est pas valide. Vérifiez qu'il a été copié en entier."}},
		{"a link to a lesson since removed, for a Kazakh household", "/l/" + f.signer.Token(l.ID+100, byRef["kk1"]), "ru", 404,
			[]string{`<html lang="kk">`, "<h1>Сабақ қолжетімсіз</h1>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(tt.path, tt.accept)
			if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%d %s, want %d and an HTML page:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) && !strings.Contains(body, template.HTMLEscapeString(w)) {
					t.Errorf("page lacks %s:\n%s", w, body)
				}
			}
			if regexp.MustCompile(`"error"\s*:`).MatchString(body) {
				t.Errorf("page is JSON:\n%s", body)
			}
		})
	}
}
