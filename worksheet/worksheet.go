// Package worksheet makes the PDF that goes to families by email and by post: Render draws one from a
// lesson's Markdown, and Validate checks a PDF a teacher uploads instead.
//
// The PDF embeds a subset of DejaVu Sans (fonts/, Bitstream Vera licence in fonts/LICENSE), so French
// accents and Kazakh and Russian Cyrillic print on any reader without depending on the system's fonts.
package worksheet

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	relais "github.com/relais-edu/relais"
)

//go:embed fonts/DejaVuSans.ttf
var fontRegular []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var fontBold []byte

// Input is what a generated worksheet shows.
type Input struct {
	Title    string
	Subject  string
	Grade    int
	Language string // fr, kk, ru or en: the language of the labels; English when unknown
	Markdown string // the lesson text
	// Broadcasts lists when the lesson is on air; the worksheet prints them so families without
	// internet know when to tune in.
	Broadcasts []Broadcast
	// AnswerLines is the number of ruled lines left after each exercise (an item of a numbered list);
	// 0 means DefaultAnswerLines.
	AnswerLines int
	// Created is the PDF's creation date; the zero time gives a fixed date, so the same input renders
	// the same bytes.
	Created time.Time
}

// Broadcast is one airing of the lesson.
type Broadcast struct {
	Station string
	Kind    relais.StationKind
	Start   time.Time // wall-clock time in the station's zone
	Title   string    // the lesson that airs, in a week's schedule; empty: this lesson
}

// DefaultAnswerLines is how many ruled lines follow an exercise.
const DefaultAnswerLines = 3

// FromLesson returns the Input for a lesson.
func FromLesson(l relais.Lesson, broadcasts []Broadcast) Input {
	return Input{Title: l.Title, Subject: l.Subject, Grade: l.Grade, Language: l.Language,
		Markdown: l.Markdown, Broadcasts: broadcasts}
}

// labels are the words the worksheet and the postal cover letter print around the lesson, in each
// language of words.json.
type labels struct {
	Subject, Grade, Language, Name, Date, OnAir, Notes, Page string
	LangName                                                 string
	TV, Radio                                                string
	// The cover letter's.
	Ref, Greeting, Body, Schedule, Closing string
	// Weekdays are the seven day abbreviations from Monday, comma-separated; And joins the last two of a list.
	Weekdays, And string
}

//go:embed words.json
var wordsJSON []byte

var allLabels = mustLabels(wordsJSON)

// mustLabels reads words.json: for each language, every label and no other.
func mustLabels(data []byte) map[string]labels {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var all map[string]labels
	if err := dec.Decode(&all); err != nil {
		panic("worksheet: words.json: " + err.Error())
	}
	for lang, lb := range all {
		v := reflect.ValueOf(lb)
		for i := range v.NumField() {
			if v.Field(i).String() == "" {
				panic("worksheet: words.json: " + lang + " lacks " + v.Type().Field(i).Name)
			}
		}
	}
	if _, ok := all["en"]; !ok {
		panic("worksheet: words.json lacks English")
	}
	return all
}

// labelsFor returns the labels of lang, English when there are none.
func labelsFor(lang string) labels {
	if l, ok := allLabels[lang]; ok {
		return l
	}
	return allLabels["en"]
}

// Page geometry, in millimetres.
const (
	margin     = 18.0
	lineHeight = 6.0
	ruleGap    = 8.0 // distance between answer lines
	family     = "DejaVu"
)

var fixedDate = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// newDoc starts an A4 PDF in Relais' font and margins, titled, whose dates are created (fixedDate when
// zero), so that the same input always gives the same bytes.
func newDoc(title string, created time.Time) *fpdf.Fpdf {
	if created.IsZero() {
		created = fixedDate
	}
	f := fpdf.New("P", "mm", "A4", "")
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, margin)
	f.AddUTF8FontFromBytes(family, "", fontRegular)
	f.AddUTF8FontFromBytes(family, "B", fontBold)
	f.SetCreationDate(created)
	f.SetModificationDate(created)
	f.SetCatalogSort(true)
	f.SetTitle(title, true)
	f.SetCreator("Relais", true)
	f.SetProducer("Relais", true)
	return f
}

// Render draws the worksheet of in as a PDF.
func Render(in Input) ([]byte, error) {
	if strings.TrimSpace(in.Title) == "" {
		return nil, relais.Errorf(relais.EINVALID, "A worksheet needs a lesson title.")
	}
	lb := labelsFor(in.Language)
	answerLines := in.AnswerLines
	if answerLines <= 0 {
		answerLines = DefaultAnswerLines
	}

	f := newDoc(in.Title, in.Created)
	f.SetSubject(in.Subject, true)
	if relais.ValidLanguage(in.Language) {
		f.SetLang(in.Language)
	}
	f.SetFooterFunc(func() {
		f.SetY(-12)
		f.SetFont(family, "", 8)
		f.SetTextColor(110, 110, 110)
		f.CellFormat(0, 4, in.Title+" — "+lb.Page+" "+strconv.Itoa(f.PageNo()), "", 0, "C", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	f.AddPage()

	w := &writer{f: f, answerLines: answerLines}
	w.header(in, lb)
	exercises := w.markdown([]byte(in.Markdown))
	if exercises == 0 {
		// Nothing to answer item by item: leave room to work in.
		w.heading(lb.Notes, 13)
		w.rules(2 * answerLines)
	}

	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("render worksheet: %w", err)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("render worksheet: %w", err)
	}
	return buf.Bytes(), nil
}

type writer struct {
	f           *fpdf.Fpdf
	answerLines int
	exercises   int
}

func (w *writer) header(in Input, lb labels) {
	f := w.f
	f.SetFont(family, "B", 18)
	f.MultiCell(0, 8, in.Title, "", "L", false)
	f.Ln(1)

	var meta []string
	if in.Subject != "" {
		meta = append(meta, lb.Subject+": "+in.Subject)
	}
	if in.Grade > 0 {
		meta = append(meta, lb.Grade+": "+strconv.Itoa(in.Grade))
	}
	if relais.ValidLanguage(in.Language) {
		meta = append(meta, lb.Language+": "+labelsFor(in.Language).LangName)
	}
	if len(meta) > 0 {
		f.SetFont(family, "", 10)
		f.SetTextColor(80, 80, 80)
		f.MultiCell(0, 5, strings.Join(meta, "   ·   "), "", "L", false)
		f.SetTextColor(0, 0, 0)
	}
	f.Ln(3)

	// Name and date to fill in.
	f.SetFont(family, "", 11)
	pageW, _ := f.GetPageSize()
	y := f.GetY() + lineHeight
	f.CellFormat(0, lineHeight, lb.Name+":", "", 0, "L", false, 0, "")
	nameW := f.GetStringWidth(lb.Name+":") + 2
	mid := pageW * 0.62
	f.SetDrawColor(150, 150, 150)
	f.Line(margin+nameW, y, mid-6, y)
	f.SetX(mid)
	f.CellFormat(0, lineHeight, lb.Date+":", "", 1, "L", false, 0, "")
	dateW := f.GetStringWidth(lb.Date+":") + 2
	f.Line(mid+dateW, y, pageW-margin, y)
	f.Ln(4)

	if len(in.Broadcasts) > 0 {
		f.SetFont(family, "B", 11)
		f.CellFormat(0, lineHeight, lb.OnAir, "", 1, "L", false, 0, "")
		f.SetFont(family, "", 10)
		for _, line := range airingLines(in.Broadcasts, lb) {
			f.MultiCell(0, 5, "•  "+line, "", "L", false)
		}
		f.Ln(3)
	}
	f.SetDrawColor(0, 0, 0)
	f.Line(margin, f.GetY(), pageW-margin, f.GetY())
	f.Ln(4)
}

// markdown draws the lesson text and returns the number of exercises it found.
func (w *writer) markdown(src []byte) int {
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		w.block(n, src, 0)
	}
	return w.exercises
}

func (w *writer) block(n ast.Node, src []byte, indent float64) {
	f := w.f
	switch n := n.(type) {
	case *ast.Heading:
		size := 15.0 - float64(n.Level)
		if size < 11 {
			size = 11
		}
		f.SetLeftMargin(margin + indent)
		w.heading(inlineText(n, src), size)
	case *ast.Paragraph, *ast.TextBlock:
		w.paragraph(inlineText(n, src), indent)
	case *ast.List:
		i := n.Start
		if i == 0 {
			i = 1
		}
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			mark := "•"
			if n.IsOrdered() {
				mark = strconv.Itoa(i) + "."
			}
			w.listItem(item, src, indent, mark, n.IsOrdered())
			i++
		}
		f.Ln(1)
	case *ast.Blockquote:
		f.SetTextColor(70, 70, 70)
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			w.block(c, src, indent+6)
		}
		f.SetTextColor(0, 0, 0)
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		var b strings.Builder
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			b.Write(seg.Value(src))
		}
		w.paragraph(strings.TrimRight(b.String(), "\n"), indent+4)
	case *ast.ThematicBreak:
		pageW, _ := f.GetPageSize()
		f.Ln(2)
		f.Line(margin+indent, f.GetY(), pageW-margin, f.GetY())
		f.Ln(3)
	default:
		// HTML blocks and anything unknown: print their children's text, never raw markup.
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			w.block(c, src, indent)
		}
	}
	f.SetLeftMargin(margin)
}

func (w *writer) heading(s string, size float64) {
	f := w.f
	f.Ln(2)
	// Keep a heading with at least two lines of what follows.
	_, pageH := f.GetPageSize()
	if f.GetY()+3*lineHeight > pageH-margin {
		f.AddPage()
	}
	f.SetFont(family, "B", size)
	f.MultiCell(0, size*0.5, s, "", "L", false)
	f.Ln(1)
}

func (w *writer) paragraph(s string, indent float64) {
	if strings.TrimSpace(s) == "" {
		return
	}
	f := w.f
	f.SetFont(family, "", 11)
	f.SetLeftMargin(margin + indent)
	f.SetX(margin + indent)
	f.MultiCell(0, lineHeight, s, "", "L", false)
	f.SetLeftMargin(margin)
	f.Ln(2)
}

// listItem draws one item: its mark, its text, nested blocks, and answer lines for exercises.
func (w *writer) listItem(item ast.Node, src []byte, indent float64, mark string, exercise bool) {
	f := w.f
	const markW = 7.0
	first := true
	for c := item.FirstChild(); c != nil; c = c.NextSibling() {
		switch c.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			s := inlineText(c, src)
			f.SetFont(family, "", 11)
			if first {
				f.SetFont(family, "B", 11)
				f.SetX(margin + indent)
				f.CellFormat(markW, lineHeight, mark, "", 0, "L", false, 0, "")
				f.SetFont(family, "", 11)
				first = false
			}
			f.SetLeftMargin(margin + indent + markW)
			f.SetX(margin + indent + markW)
			f.MultiCell(0, lineHeight, s, "", "L", false)
			f.SetLeftMargin(margin)
		default:
			w.block(c, src, indent+markW)
		}
	}
	if exercise {
		w.exercises++
		w.rulesAt(w.answerLines, margin+indent+markW)
		f.Ln(2)
	}
}

// rules draws n ruled lines across the text width, to answer on.
func (w *writer) rules(n int) { w.rulesAt(n, margin) }

func (w *writer) rulesAt(n int, left float64) {
	f := w.f
	pageW, pageH := f.GetPageSize()
	f.SetDrawColor(170, 170, 170)
	for i := 0; i < n; i++ {
		if f.GetY()+ruleGap > pageH-margin {
			f.AddPage()
		}
		y := f.GetY() + ruleGap
		f.Line(left, y, pageW-margin, y)
		f.SetY(y)
	}
	f.SetDrawColor(0, 0, 0)
	f.Ln(2)
}

// inlineText returns the plain text of a block's inline content: emphasis and links keep their words,
// soft line breaks become spaces, hard ones newlines, and raw HTML is dropped.
func inlineText(n ast.Node, src []byte) string {
	var b strings.Builder
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Value(src))
				if c.HardLineBreak() {
					b.WriteByte('\n')
				} else if c.SoftLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.AutoLink:
				b.Write(c.URL(src))
			case *ast.RawHTML:
				// dropped
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
