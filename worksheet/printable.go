package worksheet

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/image/font/sfnt"

	relais "github.com/relais-edu/relais"
)

// printable holds, for each character of the Basic Multilingual Plane (the PDF library's Unicode fonts
// reach no further), whether every embedded font has a glyph for it: computed once, at the first
// check, so that checking a roster of a million addresses costs a bit lookup per character.
var printable = sync.OnceValue(func() *[1 << 16 / 64]uint64 {
	var fonts []*sfnt.Font
	for _, b := range [][]byte{fontRegular, fontBold} {
		f, err := sfnt.Parse(b)
		if err != nil {
			panic("worksheet: embedded font: " + err.Error())
		}
		fonts = append(fonts, f)
	}
	var set [1 << 16 / 64]uint64
	var buf sfnt.Buffer
	for r := range rune(1 << 16) {
		ok := true
		for _, f := range fonts {
			if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 {
				ok = false
				break
			}
		}
		if ok {
			set[r/64] |= 1 << (r % 64)
		}
	}
	return &set
})

// hasGlyph reports whether every embedded font has a glyph for r.
func hasGlyph(r rune) bool { return r < 1<<16 && printable()[r/64]&(1<<(r%64)) != 0 }

// rightToLeft are the scripts the worksheet cannot shape: their letters would print unjoined and in
// the wrong order, which is worse than refusing them.
var rightToLeft = []*unicode.RangeTable{unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko}

// Printable checks that the worksheet and the postal cover letter can print text (a lesson's title,
// subject or Markdown, named by field): every character has a glyph in the worksheet's font and no
// right-to-left script is used. A lesson refused here at upload, with the characters named, is
// better than one accepted and then stuck because its worksheet cannot be made.
func Printable(field, text string) error {
	var missing []string
	var reported []rune
	for _, r := range text {
		if r == '\n' || r == '\r' || r == '\t' || r < 0x370 && unicode.Is(unicode.Mn, r) {
			continue
		}
		// Every right-to-left script lies above U+0590: Latin and Cyrillic text skips the tables.
		if r >= 0x0590 && unicode.In(r, rightToLeft...) {
			return relais.Errorf(relais.EINVALID,
				"The %s is written in a right-to-left script (%q, U+%04X), which worksheets and postal letters cannot print yet. Write it in French, Kazakh, Russian or English.", field, string(r), r)
		}
		if !hasGlyph(r) && !slices.Contains(reported, r) {
			reported = append(reported, r)
			missing = append(missing, fmt.Sprintf("%s (U+%04X)", string(r), r))
		}
		if len(missing) == 5 {
			break
		}
	}
	if len(missing) > 0 {
		return relais.Errorf(relais.EINVALID,
			"The %s contains characters that worksheets and postal letters cannot print: %s. Remove them or write them as words.", field, strings.Join(missing, ", "))
	}
	return nil
}
