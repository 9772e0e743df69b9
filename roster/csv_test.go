package roster

import (
	"math/rand/v2"
	"net/mail"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

func TestParseKeepsGoodRowsAndNumbersBadOnes(t *testing.T) {
	in := strings.Join([]string{
		"external_ref,region,language,grades,profile,phone,email,postal_address,consent",
		"H1,IDF,fr,3;5,mobile_data,06 12 34 56 78,famille@example.fr,,oui", // row 2: good, national format
		"H2,IDF,de,3,broadband,,x@example.fr,,yes",                         // row 3: language
		"H3,IDF,fr,3,sms_only,0612,,,yes",                                  // row 4: phone too short
		"H4,IDF,fr,3,sms_only,+33 1 42 68 53 00,,,yes",                     // row 5: landline
		"H5,ALA,kk,x,sms_only,+77012345678,,,yes",                          // row 6: grade
		"H6,ALA,ru,4,offline,,,\"ул. Абая 1\\n050000 Алматы\",yes",         // row 7: good, Cyrillic address
		"H7,IDF,fr,3,broadband,,not-an-email,,yes",                         // row 8: email
		"H1,IDF,fr,3,sms_only,+33612345679,,,yes",                          // row 9: duplicate ref
		"H8,IDF,fr,3,sms_only,+33612345670,,,peut-être",                    // row 10: consent
		"H9,IDF,fr,3", // row 11: field count
		"H10,\"IDF,fr,3,sms_only,+33612345671,,,yes", // row 12: bad quote, eats the rest
	}, "\n")
	hs, bad, err := Parse(strings.NewReader(in), Options{DefaultCountry: "FR"})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, h := range hs {
		refs = append(refs, h.ExternalRef)
	}
	if diff := cmp.Diff([]string{"H1", "H6"}, refs); diff != "" {
		t.Errorf("imported (-want +got):\n%s", diff)
	}
	if hs[0].Phone != "+33612345678" || !hs[0].Consent || hs[0].Email != "famille@example.fr" {
		t.Errorf("H1 = %+v", hs[0])
	}
	if diff := cmp.Diff([]int{3, 5}, hs[0].Grades); diff != "" {
		t.Errorf("H1 grades (-want +got):\n%s", diff)
	}
	if hs[1].PostalAddress != "ул. Абая 1\n050000 Алматы" {
		t.Errorf("H6 address = %q", hs[1].PostalAddress)
	}
	want := []rowMessage{
		{3, `language "de" is not one of fr, kk, ru, en`},
		{4, `phone "0612" is not a valid phone number (numbers without + are read as FR numbers)`},
		{5, `phone "+33 1 42 68 53 00" is a landline and cannot receive SMS`},
		{6, `grade "x" is not a school grade from 0 to 13`},
		{8, `email "not-an-email" is not a valid address`},
		{9, `external_ref "H1" already used on row 2`},
		{10, `consent "peut-être" is not yes or no`},
		{11, `has 4 fields, the header has 9`},
		{12, `malformed CSV: extraneous or missing " in quoted-field`},
	}
	if diff := cmp.Diff(want, messages(t, bad)); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
}

func TestParseRefusesUnusableFiles(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "The file is empty: it needs a header row with the columns external_ref, region, language, grades, pupils, profile, phone, email, postal_address, consent."},
		{"missing columns", "external_ref,phone\nH1,+33612345678\n", "The header lacks the column(s) language, grades, profile (expected columns: external_ref, region, language, grades, pupils, profile, phone, email, postal_address, consent)."},
		{"duplicate column", "external_ref,language,grades,profile,phone,phone\n", `The column "phone" appears twice in the header.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.in), Options{DefaultCountry: "FR"})
			if relais.ErrorCode(err) != relais.EINVALID || relais.ErrorMessage(err) != tt.want {
				t.Errorf("err = %v, want invalid: %s", err, tt.want)
			}
		})
	}
}

func TestParseHostileText(t *testing.T) {
	in := "external_ref,language,grades,profile,postal_address\nH1,fr,3,offline,\"1 rue\x07 X\"\nH2,fr,3,offline,\xff\xfe\n" +
		"H3,fr,3,offline,Famille 😀\\n1 rue\nH4,fr,3,offline,שלום\nH5,fr,3,offline,\"Семья Жанұзақова\\nул. Абая, д. 15\"\n"
	hs, bad, err := Parse(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].ExternalRef != "H5" {
		t.Errorf("imported %+v, want only H5, whose Kazakh address prints", hs)
	}
	want := []rowMessage{
		{2, "postal_address contains a control character (U+0007)"},
		{3, "postal_address is not valid UTF-8 text"},
		{4, "The postal_address contains characters that worksheets and postal letters cannot print: 😀 (U+1F600). Remove them or write them as words."},
		{5, `The postal_address is written in a right-to-left script ("ש", U+05E9), which worksheets and postal letters cannot print yet. Write it in French, Kazakh, Russian or English.`},
	}
	if diff := cmp.Diff(want, messages(t, bad)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseMaxRows(t *testing.T) {
	in := "external_ref,language,grades,profile,postal_address\nA,fr,1,offline,x\nB,fr,1,offline,y\nC,fr,1,offline,z\n"
	hs, bad, err := Parse(strings.NewReader(in), Options{MaxRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || len(bad) != 1 || bad[0].Row != 4 {
		t.Errorf("hs=%d bad=%+v", len(hs), bad)
	}
}

// rowMessage is a RowError as an API client reads it.
type rowMessage struct {
	Row     int
	Message string
}

// messages returns the rows and messages of bad, checking each has an invalid Problem saying the same.
func messages(t *testing.T, bad []RowError) []rowMessage {
	t.Helper()
	out := make([]rowMessage, len(bad))
	for i, e := range bad {
		if e.Problem == nil || e.Problem.Code != relais.EINVALID || e.Problem.Message != e.Message {
			t.Errorf("row %d: problem %v does not say %q with code invalid", e.Row, e.Problem, e.Message)
		}
		out[i] = rowMessage{e.Row, e.Message}
	}
	return out
}

// TestRowErrorsInFrench checks every kind of row problem keeps its English message and is written in
// French by locale.Message.
func TestRowErrorsInFrench(t *testing.T) {
	in := strings.Join([]string{
		"external_ref,region,language,grades,profile,phone,email,postal_address,consent",
		",IDF,fr,3,offline,,,Rue 1,yes",                                 // row 2
		"H2,IDF,de,3,offline,,,Rue 1,yes",                               // row 3
		"H3,IDF,fr,3,tv,,,Rue 1,yes",                                    // row 4
		"H4,IDF,fr,,offline,,,Rue 1,yes",                                // row 5
		"H5,IDF,fr,14,offline,,,Rue 1,yes",                              // row 6
		"H6,IDF,fr,3,sms_only,abc,,,yes",                                // row 7
		"H7,IDF,fr,3,sms_only,0612,,,yes",                               // row 8
		"H8,IDF,fr,3,sms_only,+33 1 42 68 53 00,,,yes",                  // row 9
		"H9,IDF,fr,3,broadband,,a@,,yes",                                // row 10
		"H10,IDF,fr,3,offline,,,Rue 1,maybe",                            // row 11
		"H11,IDF,fr,3,sms_only,,,,yes",                                  // row 12
		"H12,IDF,fr,3,broadband,,,,yes",                                 // row 13
		"H13,IDF,fr,3,offline,,,,yes",                                   // row 14
		"H14,\x01,fr,3,offline,,,Rue 1,yes",                             // row 15
		"H15,\xff,fr,3,offline,,,Rue 1,yes",                             // row 16
		"H16," + strings.Repeat("r", 501) + ",fr,3,offline,,,Rue 1,yes", // row 17
		"H17,IDF",                            // row 18
		"H18,IDF,fr,3,offline,,,Rue 1,yes",   // row 19: good
		"H18,IDF,fr,3,offline,,,Rue 2,yes",   // row 20
		"H19,I\"DF,fr,3,offline,,,Rue 1,yes", // row 21
		"H20,IDF,fr,3,offline,,,Rue 1,yes",   // row 22: over the limit
		`H21,"IDF,fr,3,offline,,,Rue 1,yes`,  // row 23 (never read)
	}, "\n")
	_, bad, err := Parse(strings.NewReader(in), Options{DefaultCountry: "FR", MaxRows: 20})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		row    int
		en, fr string
	}{
		{2, "external_ref is empty", "external_ref est vide"},
		{3, `language "de" is not one of fr, kk, ru, en`, `language "de" ne fait pas partie de fr, kk, ru, en`},
		{4, `profile "tv" is not one of broadband, mobile_data, sms_only, broadcast_only, offline`, `profile "tv" ne fait pas partie de broadband, mobile_data, sms_only, broadcast_only, offline`},
		{5, "grades is empty (list the pupils' grades, e.g. 3;5)", "grades est vide (indiquez les niveaux des élèves, par exemple 3;5)"},
		{6, `grade "14" is not a school grade from 0 to 13`, `le niveau "14" n'est pas un niveau scolaire de 0 à 13`},
		{7, `phone "abc" cannot be read as a phone number (write it as +33612345678)`,
			`phone "abc" ne peut pas être lu comme un numéro de téléphone (écrivez-le sous la forme +33612345678)`},
		{8, `phone "0612" is not a valid phone number (numbers without + are read as FR numbers)`,
			`phone "0612" n'est pas un numéro de téléphone valide (les numéros sans + sont lus comme des numéros du pays FR)`},
		{9, `phone "+33 1 42 68 53 00" is a landline and cannot receive SMS`, `phone "+33 1 42 68 53 00" est un numéro fixe et ne peut pas recevoir de SMS`},
		{10, `email "a@" is not a valid address`, `email "a@" n'est pas une adresse valide`},
		{11, `consent "maybe" is not yes or no`, `consent "maybe" ne vaut ni oui ni non (yes ou no)`},
		{12, "profile sms_only needs a phone number", "le profil sms_only exige un numéro de téléphone"},
		{13, "profile broadband needs an email address", "le profil broadband exige une adresse e-mail"},
		{14, "profile offline needs a postal_address", "le profil offline exige une adresse postale (postal_address)"},
		{15, "region contains a control character (U+0001)", "region contient un caractère de contrôle (U+0001)"},
		{16, "region is not valid UTF-8 text", "region n'est pas du texte UTF-8 valide"},
		{17, "region is longer than 500 characters", "region dépasse 500 caractères"},
		{18, "has 2 fields, the header has 9", "a 2 champs, l'en-tête en a 9"},
		{20, `external_ref "H18" already used on row 19`, `external_ref "H18" déjà utilisé à la ligne 19`},
		{21, `malformed CSV: bare " in non-quoted-field`, `CSV mal formé : guillemet " isolé dans un champ sans guillemets`},
		{22, "the import is limited to 20 rows; split the file", "l'import est limité à 20 lignes ; découpez le fichier"},
	}
	if len(bad) != len(tests) {
		t.Fatalf("%d row errors, want %d: %v", len(bad), len(tests), bad)
	}
	for i, tt := range tests {
		e := bad[i]
		if e.Row != tt.row || e.Message != tt.en || locale.Message(e.Problem, "en") != tt.en {
			t.Errorf("row error %d = %d %q, want %d %q", i, e.Row, e.Message, tt.row, tt.en)
		}
		if got := locale.Message(e.Problem, "fr"); got != tt.fr {
			t.Errorf("row %d in French = %q, want %q", tt.row, got, tt.fr)
		}
	}

	_, bad, err = Parse(strings.NewReader("external_ref,language,grades,profile\n\"H1,fr,3,offline\n"), Options{})
	if err != nil || len(bad) != 1 {
		t.Fatalf("bad=%v err=%v", bad, err)
	}
	if got, want := locale.Message(bad[0].Problem, "fr"), `CSV mal formé : guillemet " en trop ou manquant dans un champ entre guillemets`; got != want {
		t.Errorf("quote error in French = %q, want %q", got, want)
	}
}

func TestParsePupils(t *testing.T) {
	in := strings.Join([]string{
		"external_ref,language,grades,pupils,profile,phone",
		"P1,ru,,5:kk:S12:S12-5A;7:ru,sms_only,+77012345678", // row 2: two pupils, contact in Russian
		"P2,fr,3;5,,sms_only,+33612345678",                  // row 3: grades only: pupils in French
		"P3,kk,5,5:KK; 5:kk:S1,sms_only,+77012345679",       // row 4: grades agree with the pupils
		"P4,kk,6,5:kk,sms_only,+77012345670",                // row 5: grades disagree
		"P5,kk,,5,sms_only,+77012345671",                    // row 6: no language of instruction
		"P6,kk,,5:de,sms_only,+77012345672",                 // row 7: unknown language of instruction
		"P7,kk,,14:kk,sms_only,+77012345673",                // row 8: grade
		"P8,kk,,5:kk:a:b:c,sms_only,+77012345674",           // row 9: too many parts
		"P9,kk,,,sms_only,+77012345675",                     // row 10: neither
	}, "\n")
	hs, bad, err := Parse(strings.NewReader(in), Options{DefaultCountry: "FR"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]relais.Pupil{}
	for _, h := range hs {
		got[h.ExternalRef] = h.Pupils
	}
	want := map[string][]relais.Pupil{
		"P1": {{Grade: 5, Language: "kk", School: "S12", Class: "S12-5A"}, {Grade: 7, Language: "ru"}},
		"P2": {{Grade: 3, Language: "fr"}, {Grade: 5, Language: "fr"}},
		"P3": {{Grade: 5, Language: "kk"}, {Grade: 5, Language: "kk", School: "S1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pupils (-want +got):\n%s", diff)
	}
	if hs[0].Language != "ru" || !cmp.Equal(hs[0].Grades, []int{5, 7}) {
		t.Errorf("P1 contact language %q, grades %v; want ru, [5 7]", hs[0].Language, hs[0].Grades)
	}
	wantBad := []rowMessage{
		{5, `grades "6" are not the grades of the pupils "5:kk" (leave grades empty when pupils is given)`},
		{6, `pupil "5" is not grade:language[:school[:class]] (e.g. 5:kk or 5:kk:S12:S12-5A)`},
		{7, `language of instruction "de" is not one of fr, kk, ru, en`},
		{8, `grade "14" is not a school grade from 0 to 13`},
		{9, `pupil "5:kk:a:b:c" is not grade:language[:school[:class]] (e.g. 5:kk or 5:kk:S12:S12-5A)`},
		{10, `grades is empty (list the pupils' grades, e.g. 3;5)`},
	}
	if diff := cmp.Diff(wantBad, messages(t, bad)); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}

	// A file with pupils and no grades column is complete.
	hs, bad, err = Parse(strings.NewReader("external_ref,language,pupils,profile,phone\nQ1,en,4:fr,sms_only,+33612345670\n"), Options{DefaultCountry: "FR"})
	if err != nil || len(bad) != 0 || len(hs) != 1 || !cmp.Equal(hs[0].Pupils, []relais.Pupil{{Grade: 4, Language: "fr"}}) {
		t.Errorf("pupils without grades: %+v, %v, %v", hs, bad, err)
	}
}

// TestFormatPupils: pupils written for an export read back as they were.
func TestFormatPupils(t *testing.T) {
	for _, ps := range [][]relais.Pupil{
		{{Grade: 5, Language: "fr"}},
		{{Grade: 5, Language: "kk", School: "S12", Class: "S12-5A"}, {Grade: 7, Language: "ru"}},
		{{Grade: 3, Language: "en", Class: "C-3B"}},
	} {
		text := FormatPupils(ps)
		got, problem := parsePupils(text)
		if problem != nil {
			t.Fatalf("parse %q: %v", text, problem)
		}
		if diff := cmp.Diff(ps, got); diff != "" {
			t.Errorf("%q read back (-want +got):\n%s", text, diff)
		}
	}
}

// TestPlainAddress: every address plainAddress takes is one net/mail reads as itself with no name, on
// addresses built from every byte on each side of the @ and random ones; and the common forms are taken.
func TestPlainAddress(t *testing.T) {
	var addrs []string
	for c := range 256 {
		b := string(rune(c))
		if c >= 0x80 {
			b = string([]byte{byte(c)})
		}
		addrs = append(addrs, "a"+b+"@example.org", b+"@example.org", "a@ex"+b+"ample.org", "a@"+b, "a."+b+"@x.fr",
			"a@b."+b, b+b+"@"+b+b)
	}
	rng := rand.New(rand.NewPCG(5, 22))
	alphabet := "ab.@-_+\"() <>[]\\,;:!#%'~é\x00"
	runes := []rune(alphabet)
	word := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			if rng.IntN(2) == 0 {
				b.WriteByte('a' + byte(rng.IntN(26)))
			} else {
				b.WriteRune(runes[rng.IntN(len(runes))])
			}
		}
		return b.String()
	}
	for range 50_000 {
		addrs = append(addrs, word()+"@"+word(), word())
	}
	taken := 0
	for _, e := range addrs {
		if !plainAddress(e) {
			continue
		}
		taken++
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" {
			t.Errorf("plainAddress(%q) but net/mail reads %+v, %v", e, a, err)
		}
	}
	for _, e := range []string{"parent1@example.org", "jean.dupont+ecole@mail.example.fr", "A_B-c@x.kz"} {
		if !plainAddress(e) {
			t.Errorf("plainAddress(%q) = false", e)
		}
	}
	t.Logf("%d of %d addresses taken", taken, len(addrs))
}
