package email

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoldenEmails renders the email of every language and compares it with testdata; refresh with
// go test ./channels/email/ -update. The bodies a message gets (renderCached, twice: filling the cache
// and read from it) must be the same.
func TestGoldenEmails(t *testing.T) {
	ch := newChannel(t, testConfig(t, "127.0.0.1:25"))
	data := map[string]TemplateData{
		"fractions": {Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5,
			LessonURL: "https://relais.example/l/7?h=12&sig=a<b", UnsubscribeURL: "https://relais.example/u/TOKEN",
			Attachment: "Les-fractions-à-l-école.pdf"},
		"bare": {Title: "<b>Title</b> & co"},
		"links": {Title: "Les fractions", Subject: "Mathématiques", Grade: 5,
			LessonURL: "https://relais.example/l/AAEC-_x9", UnsubscribeURL: "https://relais.example/u/MTI6YUBleGFtcGxlLm9yZw.c2ln",
			Attachment: "Les-fractions.pdf"},
	}
	for _, lang := range []string{"fr", "kk", "ru", "en"} {
		for name, d := range data {
			text, html, err := ch.render(lang, d)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				ct, chtml, err := ch.renderCached(lang, d)
				if err != nil {
					t.Fatal(err)
				}
				if ct != text || chtml != html {
					t.Errorf("%s %s: the bodies a message gets differ from the rendered ones", name, lang)
				}
			}
			for ext, got := range map[string]string{"txt": text, "html": html} {
				path := filepath.Join("testdata", "worksheet."+name+"."+lang+"."+ext)
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./channels/email/ -update)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
			}
		}
	}
}
