package worksheet

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/image/font/sfnt"

	relais "github.com/relais-edu/relais"
)

// fontCoverage parses the embedded fonts once, to tell which characters a worksheet can print.
var fontCoverage = sync.OnceValue(func() []*sfnt.Font {
	var fonts []*sfnt.Font
	for _, b := range [][]byte{fontRegular, fontBold} {
		f, err := sfnt.Parse(b)
		if err != nil {
			panic("worksheet: embedded font: " + err.Error())
		}
		fonts = append(fonts, f)
	}
	return fonts
})

// rightToLeft are the scripts the worksheet cannot shape: their letters would print unjoined and in
// the wrong order, which is worse than refusing them.
var rightToLeft = []*unicode.RangeTable{unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko}

// Printable checks that the worksheet and the postal cover letter can print text (a lesson's title,
// subject or Markdown, named by field): every character has a glyph in the worksheet's font and no
// right-to-left script is used. A lesson refused here at upload, with the characters named, is
// better than one accepted and then stuck because its worksheet cannot be made.
func Printable(field, text string) error {
	var missing []string
	var buf sfnt.Buffer
	seen := map[rune]bool{}
	for _, r := range text {
		if seen[r] || r == '\n' || r == '\r' || r == '\t' || unicode.Is(unicode.Mn, r) && r < 0x370 {
			continue
		}
		seen[r] = true
		for _, rt := range rightToLeft {
			if unicode.Is(rt, r) {
				return relais.Errorf(relais.EINVALID,
					"The %s is written in a right-to-left script (%q, U+%04X), which worksheets and postal letters cannot print yet. Write it in French, Kazakh, Russian or English.", field, string(r), r)
			}
		}
		for _, f := range fontCoverage() {
			// The PDF library's Unicode fonts reach the Basic Multilingual Plane only.
			if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 || r > 0xFFFF {
				missing = append(missing, fmt.Sprintf("%s (U+%04X)", string(r), r))
				break
			}
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
