package sms

import (
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/templates"
)

// FuzzWriteDigest writes digests of arbitrary lesson texts: no panic, and a digest that is written
// fits its budget, counted as Twilio counts it; otherwise the refusal is a user's error.
func FuzzWriteDigest(f *testing.F) {
	ts, err := templates.Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"# Les fractions\n\n- 1/2\n- 1/4\n\n## À faire\n\n1. Coloriez.\n",
		"# T\n\n" + strings.Repeat("Une phrase très longue sans fin ", 80),
		"# Бөлшектер\n\n## Тапсырма\n\n- Сурет салыңыз 🎨\n",
		"no title at all",
		"# \n\n```\ncode\n```\n",
		"#" + strings.Repeat("x", 2000),
	} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, md string, budget int) {
		budget = budget%10 + 1
		if budget <= 0 {
			budget += 10
		}
		for _, lang := range []string{"fr", "kk"} {
			d, err := WriteDigest(ts, DigestInput{Language: lang, Markdown: md, Budget: budget, LinkChars: 40})
			if err != nil {
				if relais.ErrorCode(err) != relais.EINVALID {
					t.Fatalf("%s: %v, want a user's error", lang, err)
				}
				continue
			}
			if c := Measure(d.Body + "\n" + strings.Repeat("x", 40)); c.Segments > budget || d.Segments != Measure(d.Body).Segments {
				t.Fatalf("%s digest of %d segments with its link (recorded %d), budget %d:\n%s", lang, c.Segments, d.Segments, budget, d.Body)
			}
		}
	})
}
