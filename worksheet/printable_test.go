package worksheet

import (
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestPrintable: text the worksheet can print passes, and every refusal names the characters, for
// which Render would otherwise fail after the lesson was accepted.
func TestPrintable(t *testing.T) {
	tests := []struct {
		name, text, want string // want: part of the refusal; empty: accepted
	}{
		{"French", "Les fractions : ½ + ¼ = ¾ — « exercice » œuvre", ""},
		{"Kazakh and Russian", "Бөлшектер: қосу және азайту. Дроби: сложение ёлка", ""},
		{"Markdown and maths", "# Title\n\n- 3 × 4 = 12\n- π ≈ 3.14, x² ≤ 10 → ∞\n\t**bold**", ""},
		{"the font's own smileys", "Bravo ☺ ☀ ♫", ""},
		{"emoji", "Bravo 🎉 les élèves 😀 🎉", "🎉 (U+1F389), 😀 (U+1F600)."},
		{"Arabic", "الكسور", "right-to-left script"},
		{"Chinese", "分数", "分 (U+5206), 数 (U+6570)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Printable("text", tt.text)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				// What is accepted really renders.
				if _, err := Render(Input{Title: "T", Subject: "S", Language: "fr", Markdown: tt.text}); err != nil {
					t.Errorf("accepted, then Render: %v", err)
				}
				return
			}
			if relais.ErrorCode(err) != relais.EINVALID || !strings.Contains(relais.ErrorMessage(err), tt.want) {
				t.Errorf("Printable = %v, want an invalid-input error naming %q", err, tt.want)
			}
		})
	}
}

// BenchmarkPrintable checks one roster address, as the import does for every row.
func BenchmarkPrintable(b *testing.B) {
	addr := "Famille Lefèvre-Noël\n12 rue de l’Église, bâtiment B\n94000 Créteil\nСемья Жанұзақова"
	Printable("postal_address", addr) // the fonts' coverage is read once, outside the loop
	for b.Loop() {
		if err := Printable("postal_address", addr); err != nil {
			b.Fatal(err)
		}
	}
}
