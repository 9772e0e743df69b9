package sms

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestWriteDigestGolden(t *testing.T) {
	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	balapan := []Airing{{Station: "Balapan", Start: time.Date(2026, 11, 27, 10, 0, 0, 0, almaty)},
		{Station: "Balapan", Start: time.Date(2026, 11, 28, 16, 30, 0, 0, almaty)}}
	tests := []struct {
		name    string
		lang    string
		budget  int
		title   string
		airings []Airing
	}{
		{"fractions", "fr", 3, "", []Airing{{Station: "France 4", Start: time.Date(2026, 11, 27, 9, 0, 0, 0, paris)}}},
		{"fractions", "en", 3, "", balapan},
		{"fractions", "ru", 3, "", balapan},
		{"fractions", "kk", 3, "", balapan},
		{"fractions", "fr", 1, "", nil},
		{"fractions", "en", 1, "", balapan},
		{"fractions", "en", 6, "Maths, grade 3: fractions", nil},
		{"fractions", "ru", 5, "", nil},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s.%s.budget%d", tt.name, tt.lang, tt.budget)
		t.Run(name, func(t *testing.T) {
			md, err := os.ReadFile(filepath.Join("testdata", "digest", tt.name+"."+tt.lang+".md"))
			if err != nil {
				t.Fatal(err)
			}
			d, err := WriteDigest(ts, DigestInput{LessonID: 1, Language: tt.lang, Title: tt.title, Markdown: string(md),
				Budget: tt.budget, Airings: tt.airings})
			if err != nil {
				t.Fatal(err)
			}
			// Invariants that hold whatever the golden file says.
			c := Measure(d.Body)
			if d.Segments > tt.budget || c.Segments != d.Segments || c.Encoding != d.Encoding || c.Characters != d.Characters {
				t.Errorf("digest reports %s/%d segments/%d characters, Measure says %s/%d/%d, budget %d",
					d.Encoding, d.Segments, d.Characters, c.Encoding, c.Segments, c.Characters, tt.budget)
			}
			source := Smart(normalizeSpace(string(md)))
			for _, line := range strings.Split(d.Body, "\n") {
				point, ok := strings.CutPrefix(line, "- ")
				if !ok {
					continue
				}
				short, cut := strings.CutSuffix(point, "...")
				i := strings.Index(source, short)
				if i < 0 {
					t.Errorf("point %q is not in the lesson", point)
				} else if cut && source[i+len(short)] != ' ' {
					t.Errorf("point %q is cut inside a word", point)
				}
			}

			var b strings.Builder
			fmt.Fprintf(&b, "encoding: %s\nsegments: %d\ncharacters: %d\ndropped:\n", d.Encoding, d.Segments, d.Characters)
			for _, s := range d.Dropped {
				fmt.Fprintf(&b, "  - %s\n", s)
			}
			fmt.Fprintf(&b, "---\n%s\n", d.Body)
			golden := filepath.Join("testdata", "digest", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./channels/sms/ -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("digest differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func TestWriteDigestRefusesUnknownLanguageAndMissingTitle(t *testing.T) {
	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDigest(ts, DigestInput{Language: "de", Markdown: "# T\n\nText."}); err == nil {
		t.Error("language de accepted")
	}
	if _, err := WriteDigest(ts, DigestInput{Language: "fr", Markdown: "Juste du texte."}); err == nil {
		t.Error("a lesson without a title accepted")
	}
}

func TestSentences(t *testing.T) {
	got := sentences(`Le nombre du bas dit tout. Par exemple, 3/8 est plus grand. « Oui » dit-il. 3 parts suffisent… Fin ? oui. Voir p. ex. la suite`)
	want := []string{"Le nombre du bas dit tout.", "Par exemple, 3/8 est plus grand.", "« Oui » dit-il.",
		"3 parts suffisent…", "Fin ? oui.", "Voir p. ex. la suite"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A "remember this" heading is a label, not a point: it is left out, and the items under it rank with
// the headings, ahead of the other list items and sentences.
func TestWriteDigestSummarySection(t *testing.T) {
	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	md := "# Les volcans\n\n## Les types\n\n- Le volcan gris explose.\n- Le volcan rouge coule.\n- Un troisième type existe aussi, plus rare.\n\n" +
		"Une longue phrase d'explication qui ne tiendra pas dans le message si le budget est serré.\n\n" +
		"## À retenir\n\n- La lave sort du cratère.\n"
	d, err := WriteDigest(ts, DigestInput{Language: "fr", Markdown: md, Budget: 1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(d.Body, "retenir") {
		t.Errorf("the summary heading became a point:\n%s", d.Body)
	}
	if !strings.Contains(d.Body, "La lave sort du cratère.") {
		t.Errorf("the summary's item was dropped (dropped: %q):\n%s", d.Dropped, d.Body)
	}
	if strings.Contains(d.Body, "Une longue phrase") {
		t.Errorf("a sentence outranked the summary's item:\n%s", d.Body)
	}
}

// The room reserved for a link is taken from the budget: the digest plus a link line of that length
// still fits, and more is left out than without the reservation.
func TestWriteDigestReservesRoomForTheLink(t *testing.T) {
	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join("testdata", "digest", "fractions.fr.md"))
	if err != nil {
		t.Fatal(err)
	}
	const linkChars = 60
	plain, err := WriteDigest(ts, DigestInput{Language: "fr", Markdown: string(md), Budget: 2})
	if err != nil {
		t.Fatal(err)
	}
	withLink, err := WriteDigest(ts, DigestInput{Language: "fr", Markdown: string(md), Budget: 2, LinkChars: linkChars})
	if err != nil {
		t.Fatal(err)
	}
	if c := Measure(withLink.Body + "\n" + strings.Repeat("x", linkChars)); c.Segments > 2 {
		t.Errorf("digest and link take %d segments, budget 2:\n%s", c.Segments, withLink.Body)
	}
	if c := Measure(plain.Body + "\n" + strings.Repeat("x", linkChars)); c.Segments <= 2 {
		t.Fatalf("the plain digest leaves room for the link anyway (%d segments): the test proves nothing", c.Segments)
	}
	if len(withLink.Dropped) <= len(plain.Dropped) {
		t.Errorf("reserving room dropped %d items, without it %d", len(withLink.Dropped), len(plain.Dropped))
	}
}

// TestDigestFrameInTheContactLanguage: a Kazakh-medium lesson sent to a Russian-speaking family keeps
// the teacher's Kazakh words inside a Russian frame (headings, airing days), and the Kazakh frame of
// the same lesson differs only there.
func TestDigestFrameInTheContactLanguage(t *testing.T) {
	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	md := "# Бөлшектер\n\n- Бөлшек дегеніміз не\n- Алымы мен бөлімі\n"
	airings := []Airing{{Station: "Balapan", Start: time.Date(2026, 11, 27, 10, 0, 0, 0, almaty)}}
	bodies := map[string]string{}
	for _, lang := range []string{"ru", "kk"} {
		d, err := WriteDigest(ts, DigestInput{LessonID: 1, Language: lang, LessonLanguage: "kk", Markdown: md, Budget: 3, Airings: airings})
		if err != nil {
			t.Fatal(err)
		}
		if d.Language != lang {
			t.Errorf("digest language %q, want %q", d.Language, lang)
		}
		for _, want := range []string{"Бөлшектер", "- Бөлшек дегеніміз не", "- Алымы мен бөлімі", "Эфир: Balapan " + relais.FormatDayTime(airings[0].Start, lang)} {
			if !strings.Contains(d.Body, want) {
				t.Errorf("%s frame lacks %q:\n%s", lang, want, d.Body)
			}
		}
		bodies[lang] = d.Body
	}
	if relais.DayLabel("ru", airings[0].Start) == relais.DayLabel("kk", airings[0].Start) || bodies["ru"] == bodies["kk"] {
		t.Errorf("the Russian and Kazakh frames print the airing alike:\n%s\n---\n%s", bodies["ru"], bodies["kk"])
	}
}
