package worksheet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/go-pdf/fpdf/contrib/gofpdi"

	relais "github.com/relais-edu/relais"
)

// PacketsInput is what every packet of a postal batch shares.
type PacketsInput struct {
	Title     string
	Subject   string
	Grade     int
	Sender    string // the return address printed above the window, one line
	Worksheet []byte // the lesson's worksheet PDF, printed after each cover letter
	// Broadcasts is the week's broadcast schedule for the lesson's grade; none: the letter leaves it out.
	Broadcasts []Broadcast
	// Date printed on the letters; the zero time prints none and gives a fixed creation date.
	Date time.Time
}

// Letter is one household's cover letter.
type Letter struct {
	Address  []string // lines, the addressee first
	Language string   // fr, kk, ru or en
	Ref      string   // the household's reference, printed small so a returned letter can be traced
}

// Packets writes the PDF of a postal batch: per household a cover letter whose address shows through
// a window envelope, the worksheet, and the broadcast times. Each packet starts on a new sheet when
// printed on both sides (a blank page pads an odd count).
//
// The worksheet's pages are imported once as PDF form objects and drawn on every packet's pages, so a
// packet adds only its letter to the file (about 1.2 KB). fpdf still keeps every page's content in
// memory until WriteTo: about 18 KB of heap per packet, so callers bound the number of packets per
// batch (the API: 5,000).
type Packets struct {
	in        PacketsInput
	f         *fpdf.Fpdf
	tpls      []int
	imp       *gofpdi.Importer
	count     int
	pageCount int // pages per packet, padding included
}

// DIN 5008 form B puts the address field of an A4 letter 20 mm from the left and 45 mm from the top,
// 85 × 45 mm: a 5 mm return-address line, then up to 9 lines. It shows through the window of DL and
// C5/C6 envelopes (DIN 680: window 90 × 45 mm, 20 mm from the left, 15 mm from the top of a DL).
const (
	addrLeft     = 20.0
	addrTop      = 45.0
	addrWidth    = 85.0
	addrReturnH  = 5.0
	addrHeight   = 45.0
	addrMaxLines = 9
)

// NewPackets starts a batch. It fails with EINVALID when the worksheet is not a PDF it can import.
func NewPackets(in PacketsInput) (p *Packets, err error) {
	if strings.TrimSpace(in.Title) == "" {
		return nil, relais.Errorf(relais.EINVALID, "A postal packet needs a lesson title.")
	}
	f := newDoc(in.Title, in.Date)
	// gofpdi loops on some files that are not PDFs: check first.
	if err := ValidateBytes(in.Worksheet); err != nil {
		return nil, err
	}
	p = &Packets{in: in, f: f, imp: gofpdi.NewImporter()}

	// gofpdi panics on some malformed files: a worksheet that does not import is refused, not a crash.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, relais.Errorf(relais.EINVALID, "The worksheet PDF cannot be put in a postal packet: %v.", r)
		}
	}()
	var rs io.ReadSeeker = bytes.NewReader(in.Worksheet)
	first := p.imp.ImportPageFromStream(f, &rs, 1, "/MediaBox")
	n := len(p.imp.GetPageSizes())
	if n == 0 {
		return nil, relais.Errorf(relais.EINVALID, "The worksheet PDF has no page.")
	}
	p.tpls = append(p.tpls, first)
	for i := 2; i <= n; i++ {
		rs = bytes.NewReader(in.Worksheet)
		p.tpls = append(p.tpls, p.imp.ImportPageFromStream(f, &rs, i, "/MediaBox"))
	}
	if err := f.Error(); err != nil {
		return nil, relais.Errorf(relais.EINVALID, "The worksheet PDF cannot be put in a postal packet: %v.", err)
	}
	return p, nil
}

// PagesPerPacket is the number of pages each packet takes, padding included (known after Add).
func (p *Packets) PagesPerPacket() int { return p.pageCount }

// Add appends one household's packet and returns the number of its first page. An address the
// letter cannot print is refused with code invalid and nothing is added: the PDF library would
// otherwise fail on the whole batch when it writes it.
func (p *Packets) Add(l Letter) (int, error) {
	if err := Printable("postal address", strings.Join(l.Address, "\n")); err != nil {
		return 0, err
	}
	f := p.f
	first := f.PageCount() + 1
	p.letter(l)
	sizes := p.imp.GetPageSizes()
	pageW, pageH := f.GetPageSize()
	for i, tpl := range p.tpls {
		f.AddPage()
		// Fit the worksheet page (in points) in the A4 page, keeping its proportions.
		w, h := pageW, pageH
		if s, ok := sizes[i+1]["/MediaBox"]; ok && s["w"] > 0 && s["h"] > 0 {
			scale := min(pageW/(s["w"]*25.4/72), pageH/(s["h"]*25.4/72))
			w, h = s["w"]*25.4/72*scale, s["h"]*25.4/72*scale
		}
		p.imp.UseImportedTemplate(f, tpl, (pageW-w)/2, (pageH-h)/2, w, h)
	}
	if (f.PageCount()-first+1)%2 == 1 {
		f.AddPage() // the next packet starts on a new sheet
	}
	p.pageCount = f.PageCount() - first + 1
	p.count++
	if err := f.Error(); err != nil {
		return 0, fmt.Errorf("postal packet: %w", err)
	}
	return first, nil
}

// letter draws the cover letter: return address, address field, date, and a note in the household's
// language.
func (p *Packets) letter(l Letter) {
	f := p.f
	lb := labelsFor(l.Language)
	f.AddPage()
	pageW, _ := f.GetPageSize()

	// Sender block, top left above the address field.
	f.SetFont(family, "B", 12)
	f.SetXY(addrLeft, 18)
	f.CellFormat(0, 6, "Relais", "", 1, "L", false, 0, "")

	// Return-address line, small, at the top of the window.
	f.SetFont(family, "", 7)
	f.SetXY(addrLeft, addrTop)
	sender := p.in.Sender
	if sender == "" {
		sender = "Relais"
	}
	f.CellFormat(addrWidth, addrReturnH, fitText(f, sender, addrWidth), "", 0, "L", false, 0, "")

	// Address lines, at most 9, each cut to the field's width.
	f.SetFont(family, "", 11)
	lines := l.Address
	if len(lines) > addrMaxLines {
		lines = lines[:addrMaxLines]
	}
	lineH := (addrHeight - addrReturnH) / addrMaxLines
	for i, line := range lines {
		f.SetXY(addrLeft, addrTop+addrReturnH+float64(i)*lineH)
		f.CellFormat(addrWidth, lineH, fitText(f, line, addrWidth), "", 0, "L", false, 0, "")
	}

	// Information block at the right, level with the address field: reference and date.
	f.SetFont(family, "", 9)
	f.SetXY(125, addrTop+addrReturnH)
	info := lb.Ref + ": " + l.Ref
	if !p.in.Date.IsZero() {
		info += "\n" + lb.Date + ": " + p.in.Date.Format("02.01.2006")
	}
	f.MultiCell(pageW-125-margin, 5, info, "", "L", false)

	// Fold mark (DIN 5008: 105 mm for form B) so the address lands in the window.
	f.SetDrawColor(160, 160, 160)
	f.Line(4, 105, 9, 105)
	f.SetDrawColor(0, 0, 0)

	// Body.
	f.SetXY(25, 105)
	f.SetLeftMargin(25)
	f.SetRightMargin(20)
	f.SetFont(family, "B", 13)
	f.MultiCell(0, 7, p.in.Title, "", "L", false)
	f.SetFont(family, "", 10)
	var meta []string
	if p.in.Subject != "" {
		meta = append(meta, lb.Subject+": "+p.in.Subject)
	}
	if p.in.Grade > 0 {
		meta = append(meta, lb.Grade+": "+strconv.Itoa(p.in.Grade))
	}
	if len(meta) > 0 {
		f.MultiCell(0, 5, strings.Join(meta, "   ·   "), "", "L", false)
	}
	f.Ln(4)
	f.SetFont(family, "", 11)
	f.MultiCell(0, 6, lb.Greeting, "", "L", false)
	f.Ln(2)
	f.MultiCell(0, 6, lb.Body, "", "L", false)
	if len(p.in.Broadcasts) > 0 {
		f.Ln(4)
		f.SetFont(family, "B", 11)
		f.MultiCell(0, 6, lb.Schedule, "", "L", false)
		f.SetFont(family, "", 10)
		for _, line := range airingLines(p.in.Broadcasts, lb) {
			f.MultiCell(0, 5, "•  "+line, "", "L", false)
		}
	}
	f.Ln(4)
	f.SetFont(family, "", 11)
	f.MultiCell(0, 6, lb.Closing, "", "L", false)
	f.SetMargins(margin, margin, margin)
}

// fitText cuts s so that it fits in width, ending in "…" when cut.
func fitText(f *fpdf.Fpdf, s string, width float64) string {
	if f.GetStringWidth(s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && f.GetStringWidth(string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// WriteTo writes the PDF.
func (p *Packets) WriteTo(w io.Writer) (int64, error) {
	if p.count == 0 {
		return 0, errors.New("postal packets: no packet added")
	}
	cw := &countWriter{w: w}
	if err := p.f.Output(cw); err != nil {
		return cw.n, fmt.Errorf("write postal packets: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
