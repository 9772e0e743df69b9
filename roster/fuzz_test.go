package roster

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds Parse arbitrary files: it must never panic, and every row it keeps or refuses is
// accounted for with a row number inside the file and a message a user can read.
func FuzzParse(f *testing.F) {
	header := strings.Join(Columns, ",") + "\n"
	for _, s := range []string{
		"",
		header,
		header + "H1,IDF,fr,3;5,,mobile_data,06 12 34 56 78,a@example.fr,,oui\n",
		header + "H2,IDF,fr,,3:fr:S1:S1-3A,offline,,,\"1 rue X\n75001 Paris\",yes\n",
		header + "\"unclosed,IDF,fr,3,,sms_only,+33612345678,,,yes\n",
		header + "H3,IDF,kk,x,,sms_only,0612,,,no\nH3,IDF,kk,3,3:ru;5:kk,sms_only,+77012345678,,,yes\n",
		"external_ref;region\nH1;IDF\n",
		"\xef\xbb\xbf" + header + "H4,,ru,13,,broadcast_only,,,,1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, rowErrs, err := Parse(strings.NewReader(string(data)), Options{DefaultCountry: "FR", MaxRows: 50})
		if err != nil {
			if len(hs) != 0 || len(rowErrs) != 0 {
				t.Fatalf("a file refused whole (%v) also returned %d households and %d row errors", err, len(hs), len(rowErrs))
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, re := range rowErrs {
			if re.Row < 2 || re.Row > lines+1 {
				t.Errorf("row error numbered %d in a file of %d lines: %v", re.Row, lines, re)
			}
			if re.Message == "" || re.Problem == nil || !utf8.ValidString(re.Message) {
				t.Errorf("row %d: unreadable problem %q", re.Row, re.Message)
			}
		}
		for _, h := range hs {
			if h.ExternalRef == "" || h.Profile == "" {
				t.Errorf("kept a household without reference or profile: %+v", h)
			}
		}
	})
}
