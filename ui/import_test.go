package ui

import (
	"html"
	"strings"
	"testing"
)

// TestImportRowErrorsLanguage checks the import page shows the rows it refused in the page's language.
func TestImportRowErrorsLanguage(t *testing.T) {
	f := newFixture(t, nil)
	media := f.browser("m")
	const csv = "external_ref,region,language,grades,profile,phone,email,postal_address,consent\n" +
		"Z,IDF,fr,5,sms_only,+33612000099,,,yes\n" +
		"Y,IDF,fr,5,sms_only,+3361,,,yes\n" +
		"X,IDF,fr,5,sms_only,+33612000098,,,maybe\n"
	tests := []struct {
		lang       string
		want, lack []string
	}{
		{"fr-FR,fr;q=0.9", []string{"Importés: 1", "Refusés: 2",
			`<tr><td>3</td><td>phone "+3361" n'est pas un numéro de téléphone valide (les numéros sans + sont lus comme des numéros du pays FR)</td></tr>`,
			`<tr><td>4</td><td>consent "maybe" ne vaut ni oui ni non (yes ou no)</td></tr>`},
			[]string{"is not a valid phone number", "is not yes or no"}},
		{"en", []string{"Imported: 1", "Rejected: 2",
			`<tr><td>3</td><td>phone "+3361" is not a valid phone number (numbers without + are read as FR numbers)</td></tr>`,
			`<tr><td>4</td><td>consent "maybe" is not yes or no</td></tr>`},
			[]string{"numéro", "ni oui ni non"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			media.lang = tt.lang
			status, body := media.postMultipart("/ui/households/import", nil, map[string][]byte{"file": []byte(csv)})
			body = html.UnescapeString(body)
			if status != 200 {
				t.Errorf("import: %d", status)
			}
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("import page lacks %q:\n%s", want, body)
				}
			}
			for _, lack := range tt.lack {
				if strings.Contains(body, lack) {
					t.Errorf("import page in %s shows %q", tt.lang, lack)
				}
			}
		})
	}
}
