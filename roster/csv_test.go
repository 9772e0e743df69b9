package roster

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
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
	want := []RowError{
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
	if diff := cmp.Diff(want, bad); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
}

func TestParseRefusesUnusableFiles(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "The file is empty: it needs a header row with the columns external_ref, region, language, grades, profile, phone, email, postal_address, consent."},
		{"missing columns", "external_ref,phone\nH1,+33612345678\n", "The header lacks the column(s) language, grades, profile (expected columns: external_ref, region, language, grades, profile, phone, email, postal_address, consent)."},
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
	in := "external_ref,language,grades,profile,postal_address\nH1,fr,3,offline,\"1 rue\x07 X\"\nH2,fr,3,offline,\xff\xfe\n"
	hs, bad, err := Parse(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 0 {
		t.Errorf("imported %d hostile rows", len(hs))
	}
	want := []RowError{
		{2, "postal_address contains a control character (U+0007)"},
		{3, "postal_address is not valid UTF-8 text"},
	}
	if diff := cmp.Diff(want, bad); diff != "" {
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
