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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/phone"
	"github.com/relais-edu/relais/worksheet"
)

// Columns of the CSV, in any order. external_ref, language, profile, and grades or pupils are
// required. language is the household's contact language. pupils lists the household's pupils as
// grade:language[:school[:class]], separated by ";" (e.g. "5:kk:S12:S12-5A;7:ru"), language being the
// pupil's language of instruction; a row without pupils has one pupil per grade of grades, taught in the
// household's language (files from before pupils import as they did).
var Columns = []string{"external_ref", "region", "language", "grades", "pupils", "profile", "phone", "email",
	"postal_address", "consent"}

var required = []string{"external_ref", "language", "grades", "profile"} // grades: or pupils

// RowError is a row that was not imported. Message is Problem's message in English; write it in
// another language with locale.Message(e.Problem, lang).
type RowError struct {
	Row     int           `json:"row"` // 1-based line number in the file, the header being row 1
	Message string        `json:"message"`
	Problem *relais.Error `json:"-"` // an EINVALID error saying what is wrong with the row
}

func (e RowError) Error() string { return fmt.Sprintf("row %d: %s", e.Row, e.Message) }

func rowError(row int, problem *relais.Error) RowError {
	return RowError{Row: row, Message: problem.Message, Problem: problem}
}

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
	return parse(r, opt, 0, 0, nil)
}

// parse is Parse handing the good rows to emit in runs of chunk, in file order, as they are checked;
// with emit nil it returns them all. An error from emit stops the parse and is returned. rows, if not
// 0, is about how many rows the file has: the references seen are kept in a map made that large once.
func parse(r io.Reader, opt Options, rows, chunk int, emit func([]relais.Household) error) ([]relais.Household, []RowError, error) {
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
	_, hasPupils := index["pupils"]
	for _, c := range required {
		if _, ok := index[c]; !ok && !(c == "grades" && hasPupils) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, relais.Errorf(relais.EINVALID, "The header lacks the column(s) %s (expected columns: %s).",
			strings.Join(missing, ", "), strings.Join(Columns, ", "))
	}
	p := &parser{cols: newColumns(index), opt: opt, seen: make(map[string]int, rows), chunk: chunk, emit: emit}
	err = p.run(cr, len(header))
	return p.hs, p.bad, err
}

// rowBatch is a run of rows read in file order; the rows are checked in parallel and merged in order.
const rowBatch = 512

// record is a row of the file: its fields, or the problem already found reading it.
type record struct {
	row     int
	fields  []string
	problem *relais.Error
	h       relais.Household // fields checked: the household, or the problem
}

type batch struct {
	recs []record
	done chan struct{}
}

// parser checks the rows of one file: one goroutine reads the file, workers (one per CPU) check the
// fields of each batch of rows, and run merges the batches in file order, so the rows come out, and
// duplicates are found, as one by one.
type parser struct {
	cols  *columns
	opt   Options
	seen  map[string]int
	hs    []relais.Household
	bad   []RowError
	chunk int
	emit  func([]relais.Household) error
	stop  atomic.Bool // emit failed: the reader stops
}

func (p *parser) run(cr *csv.Reader, width int) error {
	jobs := make(chan *batch)
	ordered := make(chan *batch, 2*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for b := range jobs {
				for i := range b.recs {
					if r := &b.recs[i]; r.problem == nil {
						r.h, r.problem = parseRow(fields{p.cols, r.fields}, p.opt)
					}
				}
				close(b.done)
			}
		})
	}
	var readErr error
	go func() { // the reader: owned by run, which drains ordered until it is closed
		defer close(ordered)
		defer close(jobs)
		readErr = p.read(cr, width, func(b *batch) {
			ordered <- b
			jobs <- b
		})
	}()
	var emitErr error
	for b := range ordered {
		<-b.done
		if emitErr != nil {
			continue // drain: the reader stops at its next row
		}
		for _, r := range b.recs {
			p.merge(r)
		}
		for p.emit != nil && emitErr == nil && len(p.hs) >= p.chunk {
			emitErr = p.flush(p.chunk)
		}
	}
	wg.Wait()
	if emitErr == nil && p.emit != nil && len(p.hs) > 0 {
		emitErr = p.flush(len(p.hs))
	}
	if emitErr != nil {
		return emitErr
	}
	return readErr
}

// flush hands the first n good rows merged so far to emit.
func (p *parser) flush(n int) error {
	hs := p.hs[:n:n]
	p.hs = append(make([]relais.Household, 0, p.chunk+rowBatch), p.hs[n:]...)
	if err := p.emit(hs); err != nil {
		p.stop.Store(true)
		return err
	}
	return nil
}

// read reads the records of the file in batches, finding what needs no field checked: malformed CSV,
// a wrong number of fields, rows beyond MaxRows.
func (p *parser) read(cr *csv.Reader, width int, emit func(*batch)) error {
	b := &batch{done: make(chan struct{})}
	flush := func() {
		if len(b.recs) > 0 {
			emit(b)
			b = &batch{done: make(chan struct{})}
		}
	}
	defer flush()
	rows := 0 // rows that have a result, good or bad
	for !p.stop.Load() {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			b.recs = append(b.recs, record{row: pe.StartLine, problem: relais.Errorf(relais.EINVALID, "malformed CSV: %s", csvReason(pe.Err))})
			rows++
			continue
		} else if err != nil {
			return err
		}
		row, _ := cr.FieldPos(0) // after the error: FieldPos panics when no field was read
		if p.opt.MaxRows > 0 && rows >= p.opt.MaxRows {
			b.recs = append(b.recs, record{row: row, problem: relais.Errorf(relais.EINVALID, "the import is limited to %d rows; split the file", p.opt.MaxRows)})
			return nil
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		rows++
		if len(rec) != width {
			b.recs = append(b.recs, record{row: row, problem: relais.Errorf(relais.EINVALID, "has %d fields, the header has %d", len(rec), width)})
		} else {
			b.recs = append(b.recs, record{row: row, fields: slices.Clone(rec)})
		}
		if len(b.recs) == rowBatch {
			flush()
		}
	}
	return nil
}

// columns are the positions of the known columns in the header, -1 for those it lacks: a row's fields
// are found without a look-up by name.
type columns struct {
	ref, region, language, grades, pupils, profile, phone, email, postal, consent int
}

func newColumns(index map[string]int) *columns {
	at := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		return -1
	}
	return &columns{ref: at("external_ref"), region: at("region"), language: at("language"), grades: at("grades"),
		pupils: at("pupils"), profile: at("profile"), phone: at("phone"), email: at("email"), postal: at("postal_address"),
		consent: at("consent")}
}

// fields is one row of the file with its header's columns.
type fields struct {
	cols *columns
	rec  []string
}

// get is the field at column i, trimmed; "" when the header lacks the column (i < 0).
func (f fields) get(i int) string {
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(f.rec[i])
}

// merge takes a checked row, in file order.
func (p *parser) merge(r record) {
	if r.problem != nil {
		p.bad = append(p.bad, rowError(r.row, r.problem))
		return
	}
	if first, dup := p.seen[r.h.ExternalRef]; dup {
		p.bad = append(p.bad, rowError(r.row, relais.Errorf(relais.EINVALID, "external_ref %q already used on row %d", r.h.ExternalRef, first)))
		return
	}
	p.seen[r.h.ExternalRef] = r.row
	p.hs = append(p.hs, r.h)
}

// csvReason is the reason of a CSV syntax error: the reader's own words, translatable for the errors it
// makes.
func csvReason(err error) any {
	switch {
	case errors.Is(err, csv.ErrQuote):
		return relais.Errorf(relais.EINVALID, `extraneous or missing " in quoted-field`)
	case errors.Is(err, csv.ErrBareQuote):
		return relais.Errorf(relais.EINVALID, `bare " in non-quoted-field`)
	}
	return err.Error()
}

// parseRow reads one row; a nil problem means the household is good.
func parseRow(f fields, opt Options) (relais.Household, *relais.Error) {
	c := f.cols
	h := relais.Household{
		ExternalRef:   f.get(c.ref),
		Region:        f.get(c.region),
		Language:      strings.ToLower(f.get(c.language)),
		Profile:       relais.Profile(strings.ToLower(f.get(c.profile))),
		PostalAddress: strings.ReplaceAll(f.get(c.postal), `\n`, "\n"),
	}
	for _, t := range [...]struct{ name, v string }{{"external_ref", h.ExternalRef}, {"region", h.Region}, {"postal_address", h.PostalAddress}} {
		if problem := checkText(t.name, t.v, 500); problem != nil {
			return h, problem
		}
	}
	if h.ExternalRef == "" {
		return h, relais.Errorf(relais.EINVALID, "external_ref is empty")
	}
	// The address is printed on the postal cover letter: refused here, not when the batch is made.
	if err := worksheet.Printable("postal_address", h.PostalAddress); err != nil {
		var problem *relais.Error
		if !errors.As(err, &problem) {
			problem = relais.Errorf(relais.EINVALID, "%s", err)
		}
		return h, problem
	}
	if !relais.ValidLanguage(h.Language) {
		return h, relais.Errorf(relais.EINVALID, "language %q is not one of %s", h.Language, strings.Join(relais.Languages, ", "))
	}
	if !relais.ValidProfile(h.Profile) {
		names := make([]string, len(relais.Profiles))
		for i, p := range relais.Profiles {
			names[i] = string(p)
		}
		return h, relais.Errorf(relais.EINVALID, "profile %q is not one of %s", h.Profile, strings.Join(names, ", "))
	}
	if v := f.get(c.pupils); v != "" {
		pupils, problem := parsePupils(v)
		if problem != nil {
			return h, problem
		}
		h.Pupils = pupils
		if g := f.get(c.grades); g != "" {
			grades, problem := parseGrades(g)
			if problem != nil {
				return h, problem
			}
			if !sameGrades(grades, relais.PupilGrades(pupils)) {
				return h, relais.Errorf(relais.EINVALID, "grades %q are not the grades of the pupils %q (leave grades empty when pupils is given)", g, v)
			}
		}
	} else {
		grades, problem := parseGrades(f.get(c.grades))
		if problem != nil {
			return h, problem
		}
		h.Grades = grades
		h.Pupils = h.Roll()
	}
	h.Grades = relais.PupilGrades(h.Pupils)
	if p := f.get(c.phone); p != "" {
		e164, problem := phone.Normalize(p, opt.DefaultCountry)
		if problem != nil {
			return h, problem
		}
		h.Phone = e164
	}
	if e := f.get(c.email); e != "" {
		if !plainAddress(e) {
			a, err := mail.ParseAddress(e)
			if err != nil || a.Address != e || a.Name != "" {
				return h, relais.Errorf(relais.EINVALID, "email %q is not a valid address", e)
			}
		}
		h.Email = e
	}
	switch strings.ToLower(f.get(c.consent)) {
	case "", "yes", "y", "true", "1", "oui":
		h.Consent = true
	case "no", "n", "false", "0", "non":
		h.Consent = false
	default:
		return h, relais.Errorf(relais.EINVALID, "consent %q is not yes or no", f.get(c.consent))
	}
	switch h.Profile {
	case relais.ProfileSMSOnly:
		if h.Phone == "" {
			return h, relais.Errorf(relais.EINVALID, "profile sms_only needs a phone number")
		}
	case relais.ProfileBroadband:
		if h.Email == "" && h.Phone == "" && h.PostalAddress == "" {
			return h, relais.Errorf(relais.EINVALID, "profile broadband needs an email address")
		}
	case relais.ProfileOffline:
		if h.PostalAddress == "" {
			return h, relais.Errorf(relais.EINVALID, "profile offline needs a postal_address")
		}
	}
	return h, nil
}

// plainAddress reports whether e is an address of the common form, dot-separated atoms of ASCII letters,
// digits and the other characters RFC 5322 allows in an atom on each side of one @: net/mail reads
// such an address as itself, with no name (TestPlainAddress), without its parser's allocations.
func plainAddress(e string) bool {
	at := strings.IndexByte(e, '@')
	return at > 0 && dotAtom(e[:at]) && dotAtom(e[at+1:])
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func parseGrades(s string) ([]int, *relais.Error) {
	if s == "" {
		return nil, relais.Errorf(relais.EINVALID, "grades is empty (list the pupils' grades, e.g. 3;5)")
	}
	var out []int
	for p := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' || r == '|' }) {
		g, err := strconv.Atoi(p)
		if err != nil || g < 0 || g > 13 {
			return nil, relais.Errorf(relais.EINVALID, "grade %q is not a school grade from 0 to 13", p)
		}
		out = append(out, g)
	}
	return out, nil
}

// parsePupils reads a pupils field: grade:language[:school[:class]], separated by ";".
func parsePupils(s string) ([]relais.Pupil, *relais.Error) {
	var out []relais.Pupil
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 4 {
			return nil, relais.Errorf(relais.EINVALID, "pupil %q is not grade:language[:school[:class]] (e.g. 5:kk or 5:kk:S12:S12-5A)", item)
		}
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		g, err := strconv.Atoi(parts[0])
		if err != nil || g < 0 || g > 13 {
			return nil, relais.Errorf(relais.EINVALID, "grade %q is not a school grade from 0 to 13", parts[0])
		}
		p := relais.Pupil{Grade: g, Language: strings.ToLower(parts[1])}
		if !relais.ValidLanguage(p.Language) {
			return nil, relais.Errorf(relais.EINVALID, "language of instruction %q is not one of %s", parts[1], strings.Join(relais.Languages, ", "))
		}
		if len(parts) > 2 {
			p.School = parts[2]
		}
		if len(parts) > 3 {
			p.Class = parts[3]
		}
		for _, t := range [...]struct{ name, v string }{{"school", p.School}, {"class", p.Class}} {
			if problem := checkText(t.name, t.v, 80); problem != nil {
				return nil, problem
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, relais.Errorf(relais.EINVALID, "pupils is empty (list them as grade:language, e.g. 5:kk;7:ru)")
	}
	return out, nil
}

// FormatPupils writes pupils as the pupils column reads them (parsePupils): grade:language[:school[:class]],
// separated by ";". An export of the roster imports again.
func FormatPupils(ps []relais.Pupil) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		s := strconv.Itoa(p.Grade) + ":" + p.Language
		if p.School != "" || p.Class != "" {
			s += ":" + p.School
		}
		if p.Class != "" {
			s += ":" + p.Class
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ";")
}

// sameGrades reports whether a and b hold the same grades, in any order and number.
func sameGrades(a, b []int) bool {
	for _, g := range a {
		if !slices.Contains(b, g) {
			return false
		}
	}
	for _, g := range b {
		if !slices.Contains(a, g) {
			return false
		}
	}
	return true
}

// checkText refuses invalid UTF-8, control characters and overlong values.
func checkText(name, v string, max int) *relais.Error {
	if !utf8.ValidString(v) {
		return relais.Errorf(relais.EINVALID, "%s is not valid UTF-8 text", name)
	}
	if utf8.RuneCountInString(v) > max {
		return relais.Errorf(relais.EINVALID, "%s is longer than %d characters", name, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' {
			return relais.Errorf(relais.EINVALID, "%s contains a control character (U+%04X)", name, r)
		}
	}
	return nil
}
