package worksheet

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// pdftotext returns the text poppler extracts from pdf.
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext not found (apt-get install poppler-utils): %v", err)
	}
	path := filepath.Join(t.TempDir(), "w.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// squash collapses whitespace so that line wrapping does not decide a test.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestRenderLanguages(t *testing.T) {
	airing := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   Input
		want []string // fragments that must come out of pdftotext intact
	}{
		{
			name: "french accents",
			in: Input{
				Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5, Language: "fr",
				Markdown: "# Découvrir\n\nÉlèves, préparez une feuille: ça, où, août, Noël, cœur.\n\n" +
					"- Lisez l’énoncé\n- Écrivez lisiblement\n\n## Exercices\n\n1. Calculez ½ + ¼.\n2. Expliquez pourquoi.\n",
				Broadcasts: []Broadcast{{Station: "Télé Éducation", Kind: relais.StationTV, Start: airing}},
			},
			want: []string{"Les fractions à l’école", "Matière: Mathématiques", "Classe: 5", "Langue: Français",
				"Découvrir", "Élèves, préparez une feuille: ça, où, août, Noël, cœur.", "Lisez l’énoncé",
				"1. Calculez ½ + ¼.", "2. Expliquez pourquoi.", "À l’antenne", "2026-11-24 10:30 Télé Éducation (télévision)"},
		},
		{
			name: "kazakh cyrillic",
			in: Input{
				Title: "Бөлшектер", Subject: "Математика", Grade: 6, Language: "kk",
				Markdown:   "Қазақ әліпбиі: ә ғ қ ң ө ұ ү һ і.\n\n1. Есепті шығарыңыз.\n",
				Broadcasts: []Broadcast{{Station: "Balapan", Kind: relais.StationRadio, Start: airing}},
			},
			want: []string{"Бөлшектер", "Пән: Математика", "Сынып: 6", "Тіл: Қазақша",
				"Қазақ әліпбиі: ә ғ қ ң ө ұ ү һ і.", "1. Есепті шығарыңыз.", "Эфирде", "Balapan (радио)"},
		},
		{
			name: "russian cyrillic",
			in: Input{
				Title: "Дроби", Subject: "Математика", Grade: 5, Language: "ru",
				Markdown: "## Задание\n\nПрочитайте текст и ответьте: «ёж», «щука», «объём».\n",
			},
			want: []string{"Дроби", "Предмет: Математика", "Класс: 5", "Язык: Русский", "Задание",
				"Прочитайте текст и ответьте: «ёж», «щука», «объём».", "Заметки и ответы"},
		},
		{
			name: "english fallback for an unknown language",
			in:   Input{Title: "Fractions", Subject: "Maths", Grade: 4, Language: "de", Markdown: "Plain **bold** and `code`."},
			want: []string{"Fractions", "Subject: Maths", "Grade: 4", "Plain bold and code.", "Notes and answers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdf, err := Render(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidateBytes(pdf); err != nil {
				t.Errorf("a rendered worksheet fails Validate: %v", err)
			}
			if len(pdf) > 200<<10 {
				t.Errorf("worksheet is %d bytes, want < 200 KB (fonts should be subset)", len(pdf))
			}
			got := squash(pdftotext(t, pdf))
			for _, w := range tt.want {
				if !strings.Contains(got, squash(w)) {
					t.Errorf("pdftotext output lacks %q\ngot: %s", w, got)
				}
			}
		})
	}
}

func TestRenderLongLessonPaginatesAndStaysSmall(t *testing.T) {
	var md strings.Builder
	for i := 0; i < 40; i++ {
		md.WriteString("## Partie\n\nUn paragraphe assez long pour remplir la ligne, avec des accents é è à ù et du cyrillique Жж Ққ Әә.\n\n")
		md.WriteString("1. Première question ?\n2. Deuxième question ?\n\n")
	}
	pdf, err := Render(Input{Title: "Long", Language: "fr", Markdown: md.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(pdf) > 1<<20 {
		t.Errorf("worksheet is %d bytes, want <= 1 MB", len(pdf))
	}
	text := pdftotext(t, pdf)
	// pdftotext separates pages with form feeds.
	if pages := strings.Count(text, "\f"); pages < 5 {
		t.Errorf("got %d pages, want several for 80 exercises", pages)
	}
	if !strings.Contains(text, "Long — Page 3") {
		t.Errorf("footer with page number missing")
	}
}

func TestRenderIsReproducible(t *testing.T) {
	in := Input{Title: "Même", Language: "fr", Markdown: "1. un\n"}
	a, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the same input rendered different bytes")
	}
}

func TestRenderNeedsTitle(t *testing.T) {
	_, err := Render(Input{Markdown: "text"})
	if relais.ErrorCode(err) != relais.EINVALID {
		t.Fatalf("got %v, want EINVALID", err)
	}
}
