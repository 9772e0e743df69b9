// Package roster reads household lists (the ministry's CSV exports) into relais.Household values. A bad
// row is reported with its row number and reason and the good rows are kept: one typo must not block a
// region's import.
package roster

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	relais "github.com/relais-edu/relais"
)

// Columns of the CSV, in any order. external_ref, language, grades and profile are required.
var Columns = []string{"external_ref", "region", "language", "grades", "profile", "phone", "email",
	"postal_address", "consent"}

var required = []string{"external_ref", "language", "grades", "profile"}

// RowError is a row that was not imported.
type RowError struct {
	Row     int    `json:"row"` // 1-based line number in the file, the header being row 1
	Message string `json:"message"`
}

func (e RowError) Error() string { return fmt.Sprintf("row %d: %s", e.Row, e.Message) }

// Options for parsing.
type Options struct {
	// DefaultCountry is the ISO 3166 region for phone numbers written without a + prefix, e.g. "FR".
	DefaultCountry string
	// MaxRows bounds one import; rows beyond it are reported, not read.
	MaxRows int
}

// Parse reads a CSV of households. It returns the good rows and an error per bad row. The returned
// error is non-nil only when the file cannot be read at all (no header, missing required columns).
func Parse(r io.Reader, opt Options) ([]relais.Household, []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, relais.Errorf(relais.EINVALID, "The file is empty: it needs a header row with the columns %s.",
			strings.Join(Columns, ", "))
	} else if err != nil {
		return nil, nil, relais.Errorf(relais.EINVALID, "The header row cannot be read: %v.", err)
	}
	index := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if _, dup := index[name]; dup {
			return nil, nil, relais.Errorf(relais.EINVALID, "The column %q appears twice in the header.", name)
		}
		index[name] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := index[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, relais.Errorf(relais.EINVALID, "The header lacks the column(s) %s (expected columns: %s).",
			strings.Join(missing, ", "), strings.Join(Columns, ", "))
	}
	var hs []relais.Household
	var bad []RowError
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		row, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad = append(bad, RowError{Row: pe.StartLine, Message: "malformed CSV: " + pe.Err.Error()})
			continue
		} else if err != nil {
			return hs, bad, err
		}
		if opt.MaxRows > 0 && len(hs)+len(bad) >= opt.MaxRows {
			bad = append(bad, RowError{Row: row, Message: fmt.Sprintf("the import is limited to %d rows; split the file", opt.MaxRows)})
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			bad = append(bad, RowError{Row: row, Message: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header))})
			continue
		}
		field := func(name string) string {
			if i, ok := index[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		h, err := parseRow(field, opt)
		if err != nil {
			bad = append(bad, RowError{Row: row, Message: err.Error()})
			continue
		}
		if first, dup := seen[h.ExternalRef]; dup {
			bad = append(bad, RowError{Row: row, Message: fmt.Sprintf("external_ref %q already used on row %d", h.ExternalRef, first)})
			continue
		}
		seen[h.ExternalRef] = row
		hs = append(hs, h)
	}
	return hs, bad, nil
}

func parseRow(field func(string) string, opt Options) (relais.Household, error) {
	h := relais.Household{
		ExternalRef:   field("external_ref"),
		Region:        field("region"),
		Language:      strings.ToLower(field("language")),
		Profile:       relais.Profile(strings.ToLower(field("profile"))),
		PostalAddress: strings.ReplaceAll(field("postal_address"), `\n`, "\n"),
	}
	for name, v := range map[string]string{"external_ref": h.ExternalRef, "region": h.Region, "postal_address": h.PostalAddress} {
		if err := checkText(name, v, 500); err != nil {
			return h, err
		}
	}
	if h.ExternalRef == "" {
		return h, errors.New("external_ref is empty")
	}
	if !relais.ValidLanguage(h.Language) {
		return h, fmt.Errorf("language %q is not one of %s", h.Language, strings.Join(relais.Languages, ", "))
	}
	if !relais.ValidProfile(h.Profile) {
		names := make([]string, len(relais.Profiles))
		for i, p := range relais.Profiles {
			names[i] = string(p)
		}
		return h, fmt.Errorf("profile %q is not one of %s", h.Profile, strings.Join(names, ", "))
	}
	grades, err := parseGrades(field("grades"))
	if err != nil {
		return h, err
	}
	h.Grades = grades
	if p := field("phone"); p != "" {
		e164, err := NormalizePhone(p, opt.DefaultCountry)
		if err != nil {
			return h, err
		}
		h.Phone = e164
	}
	if e := field("email"); e != "" {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" {
			return h, fmt.Errorf("email %q is not a valid address", e)
		}
		h.Email = a.Address
	}
	switch strings.ToLower(field("consent")) {
	case "", "yes", "y", "true", "1", "oui":
		h.Consent = true
	case "no", "n", "false", "0", "non":
		h.Consent = false
	default:
		return h, fmt.Errorf("consent %q is not yes or no", field("consent"))
	}
	switch h.Profile {
	case relais.ProfileSMSOnly:
		if h.Phone == "" {
			return h, errors.New("profile sms_only needs a phone number")
		}
	case relais.ProfileBroadband:
		if h.Email == "" && h.Phone == "" && h.PostalAddress == "" {
			return h, errors.New("profile broadband needs an email address")
		}
	case relais.ProfileOffline:
		if h.PostalAddress == "" {
			return h, errors.New("profile offline needs a postal_address")
		}
	}
	return h, nil
}

func parseGrades(s string) ([]int, error) {
	if s == "" {
		return nil, errors.New("grades is empty (list the pupils' grades, e.g. 3;5)")
	}
	var out []int
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '|' }) {
		g, err := strconv.Atoi(p)
		if err != nil || g < 0 || g > 13 {
			return nil, fmt.Errorf("grade %q is not a school grade from 0 to 13", p)
		}
		out = append(out, g)
	}
	return out, nil
}

// checkText refuses invalid UTF-8, control characters and overlong values.
func checkText(name, v string, max int) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8 text", name)
	}
	if utf8.RuneCountInString(v) > max {
		return fmt.Errorf("%s is longer than %d characters", name, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' {
			return fmt.Errorf("%s contains a control character (U+%04X)", name, r)
		}
	}
	return nil
}

// NormalizePhone returns a mobile-capable number in E.164 form, or an error a clerk can act on.
func NormalizePhone(raw, defaultCountry string) (string, error) {
	num, err := phonenumbers.Parse(raw, strings.ToUpper(defaultCountry))
	if err != nil {
		return "", fmt.Errorf("phone %q cannot be read as a phone number (write it as +33612345678)", raw)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", fmt.Errorf("phone %q is not a valid phone number (numbers without + are read as %s numbers)",
			raw, strings.ToUpper(defaultCountry))
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.FIXED_LINE:
		return "", fmt.Errorf("phone %q is a landline and cannot receive SMS", raw)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}
