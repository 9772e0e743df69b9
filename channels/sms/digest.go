package sms

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/templates"
)

// DefaultBudget is the number of segments a digest may use when the lesson does not say.
const DefaultBudget = 3

// DigestInput is what a digest is written from.
type DigestInput struct {
	LessonID int64
	Language string // one of relais.Languages: the language of the digest's frame (labels, day names)
	// LessonLanguage is the language the Markdown is written in (empty: Language). The lesson text is
	// not translated: a digest in another language keeps the teacher's words in its frame.
	LessonLanguage string
	Title          string // empty: the lesson's first level-1 heading
	Markdown       string
	Budget         int      // segments; 0 means DefaultBudget
	Airings        []Airing // when and where the lesson airs, if scheduled
	// LinkChars reserves room, within the budget, for a line of that many characters (the family's
	// lesson link) that the SMS channel appends for households with data. 0: none.
	LinkChars int
}

// Airing is one broadcast of the lesson.
type Airing struct {
	Station string
	Start   time.Time // in the station's time zone: it is printed as local time
}

// DigestData is what templates/sms/digest.LANG.tmpl renders.
type DigestData struct {
	Title   string
	Points  []string // key points, in lesson order
	Todo    []string // what to do, in lesson order
	Airings []string // "Balapan ven. 24.04 10:00"
}

// WriteDigest condenses a lesson into an SMS in one language within a segment budget. Content is
// ranked (the first instruction of the "what to do" section, then headings, then list items, then
// sentences, each by position); the most important items that fit are kept and shown in lesson order,
// the rest are reported in Dropped. Items are kept or dropped whole; only the title, or a lone first
// item when nothing else fits, is shortened, and then at a word boundary. The body has Smart applied,
// and its encoding and segments are counted as Twilio counts them. CreatedAt is left for the store.
func WriteDigest(t *templates.Set, in DigestInput) (relais.Digest, error) {
	if !relais.ValidLanguage(in.Language) {
		return relais.Digest{}, relais.Errorf(relais.EINVALID, "Unknown digest language %q.", in.Language)
	}
	budget := in.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	lesson := extract(in.Markdown)
	title := normalizeSpace(in.Title)
	if title == "" {
		title = lesson.title
	}
	if title == "" {
		return relais.Digest{}, relais.Errorf(relais.EINVALID, "The lesson has no title.")
	}
	w := &digestWriter{t: t, lang: in.Language, budget: budget, link: in.LinkChars, data: DigestData{Title: title}}
	for _, a := range in.Airings {
		w.data.Airings = append(w.data.Airings, formatAiring(a, in.Language))
	}

	// What must be there: the title and the airings. Drop airings from the last, then shorten the title.
	for {
		ok, err := w.fits(w.data)
		if err != nil {
			return relais.Digest{}, err
		}
		if ok {
			break
		}
		if n := len(w.data.Airings); n > 1 {
			w.dropped = append(w.dropped, w.data.Airings[n-1])
			w.data.Airings = w.data.Airings[:n-1]
			continue
		}
		short, tail, err := w.shorten(title, func(s string) DigestData { d := w.data; d.Title = s; return d })
		if err != nil {
			return relais.Digest{}, err
		}
		if short == "" {
			return relais.Digest{}, relais.Errorf(relais.EINVALID, "The title and airing times do not fit in %d SMS segments.", budget)
		}
		w.data.Title = short
		w.dropped = append(w.dropped, tail)
		break
	}

	// The rest by rank, each kept only if the whole still fits.
	ranked := append([]item(nil), lesson.items...)
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].tier != ranked[j].tier {
			return ranked[i].tier < ranked[j].tier
		}
		return ranked[i].pos < ranked[j].pos
	})
	var kept []item
	for _, it := range ranked {
		try := append(append([]item(nil), kept...), it)
		ok, err := w.fits(w.withItems(try))
		if err != nil {
			return relais.Digest{}, err
		}
		if ok {
			kept = try
		} else {
			w.dropped = append(w.dropped, it.text)
		}
	}
	// Nothing fitted whole: shorten the most important item rather than send a title alone.
	if len(kept) == 0 && len(ranked) > 0 {
		first := ranked[0]
		short, tail, err := w.shorten(first.text, func(s string) DigestData {
			it := first
			it.text = s
			return w.withItems([]item{it})
		})
		if err != nil {
			return relais.Digest{}, err
		}
		if short != "" && len(strings.Fields(short)) >= 3 {
			first.text = short
			kept = []item{first}
			w.dropped[indexOf(w.dropped, ranked[0].text)] = tail
		}
	}
	w.data = w.withItems(kept)

	body, err := w.render(w.data)
	if err != nil {
		return relais.Digest{}, err
	}
	c := Measure(body)
	return relais.Digest{LessonID: in.LessonID, Language: in.Language, Body: body, Encoding: c.Encoding,
		Segments: c.Segments, Characters: c.Characters, Dropped: w.dropped}, nil
}

type digestWriter struct {
	t       *templates.Set
	lang    string
	budget  int
	link    int // characters reserved for a link line
	data    DigestData
	dropped []string
}

// withItems returns the data with items placed in their sections, in lesson order.
func (w *digestWriter) withItems(items []item) DigestData {
	sorted := append([]item(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].pos < sorted[j].pos })
	d := w.data
	d.Points, d.Todo = nil, nil
	for _, it := range sorted {
		if it.todo {
			d.Todo = append(d.Todo, it.text)
		} else {
			d.Points = append(d.Points, it.text)
		}
	}
	return d
}

func (w *digestWriter) render(d DigestData) (string, error) {
	var b bytes.Buffer
	if err := w.t.SMS(&b, "digest", w.lang, d); err != nil {
		return "", fmt.Errorf("render digest: %w", err)
	}
	lines := strings.Split(b.String(), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimRightFunc(l, unicode.IsSpace); l != "" {
			out = append(out, l)
		}
	}
	return Smart(strings.Join(out, "\n")), nil
}

func (w *digestWriter) fits(d DigestData) (bool, error) {
	body, err := w.render(d)
	if err != nil {
		return false, err
	}
	if w.link > 0 {
		body += "\n" + strings.Repeat("x", w.link) // a link is ASCII, which every encoding carries
	}
	return Measure(body).Segments <= w.budget, nil
}

// shorten returns the longest word prefix of s, followed by "...", for which with(prefix) fits, and the
// words left out; "" when not even one word fits.
func (w *digestWriter) shorten(s string, with func(string) DigestData) (short, tail string, err error) {
	words := strings.Fields(s)
	lo, hi := 0, len(words)-1 // the answer is in [lo, hi]: k words kept
	for lo < hi {
		k := (lo + hi + 1) / 2
		ok, err := w.fits(with(strings.Join(words[:k], " ") + "..."))
		if err != nil {
			return "", "", err
		}
		if ok {
			lo = k
		} else {
			hi = k - 1
		}
	}
	if lo == 0 {
		return "", s, nil
	}
	return strings.Join(words[:lo], " ") + "...", "..." + strings.Join(words[lo:], " "), nil
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// item is one piece of the lesson that may go into the digest.
type item struct {
	text string
	tier int // 0 first instruction, 1 heading, 2 list item, 3 sentence
	pos  int // position in the lesson
	todo bool
}

const (
	tierFirstTodo = iota
	tierHeading
	tierListItem
	tierSentence
)

type lessonText struct {
	title string
	items []item
}

// todoHeadings start the headings of a "what to do" section, in every language (compared folded).
var todoHeadings = []string{
	"a faire", "à faire", "exercice", "devoir", "travail", "consigne", "activite", "activité",
	"to do", "what to do", "homework", "exercise", "task", "activity",
	"задание", "домашнее", "упражнен", "что сделать", "что нужно сделать",
	"тапсырма", "үй жұмысы", "жаттығу", "не істеу",
}

// summaryHeadings start the headings of a "remember this" section. Such a heading says nothing by
// itself, so it is not a point; the items under it rank with the headings.
var summaryHeadings = []string{
	"a retenir", "à retenir", "retenir", "résumé", "resume", "en bref", "l'essentiel", "l’essentiel", "points clés", "points cles",
	"key points", "summary", "remember", "to remember", "in short", "in brief",
	"запомни", "запомнить", "главное", "итог", "кратко",
	"есте сақта", "қорытынды", "маңызды", "негізгі",
}

func isTodoHeading(s string) bool { return hasAnyPrefix(s, todoHeadings) }

func isSummaryHeading(s string) bool { return hasAnyPrefix(s, summaryHeadings) }

func hasAnyPrefix(s string, prefixes []string) bool {
	s = strings.ToLower(s)
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// extract reads the Markdown into a title and ranked items.
func extract(markdown string) lessonText {
	src := []byte(markdown)
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	var lt lessonText
	pos := 0
	todo := false
	summary := false // under a "remember this" heading
	firstTodo := true
	add := func(s string, tier int) {
		s = normalizeSpace(s)
		if s == "" {
			return
		}
		if todo && firstTodo {
			tier, firstTodo = tierFirstTodo, false
		}
		lt.items = append(lt.items, item{text: s, tier: tier, pos: pos, todo: todo})
		pos++
	}
	var block func(n ast.Node)
	block = func(n ast.Node) {
		switch n := n.(type) {
		case *ast.Heading:
			s := normalizeSpace(inlineText(n, src))
			if n.Level == 1 && lt.title == "" {
				lt.title = s
				return
			}
			todo, summary = isTodoHeading(s), isSummaryHeading(s)
			if !todo && !summary {
				add(s, tierHeading)
			}
		case *ast.List:
			for li := n.FirstChild(); li != nil; li = li.NextSibling() {
				var parts []string
				var nested []ast.Node
				for c := li.FirstChild(); c != nil; c = c.NextSibling() {
					switch c.Kind() {
					case ast.KindParagraph, ast.KindTextBlock:
						parts = append(parts, inlineText(c, src))
					default:
						nested = append(nested, c)
					}
				}
				tier := tierListItem
				if summary {
					tier = tierHeading
				}
				add(strings.Join(parts, " "), tier)
				for _, c := range nested {
					block(c)
				}
			}
		case *ast.Paragraph, *ast.TextBlock:
			for _, s := range sentences(normalizeSpace(inlineText(n, src))) {
				add(s, tierSentence)
			}
		case *ast.Blockquote, *ast.Document:
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				block(c)
			}
		}
		// Code blocks, HTML and rules carry nothing for a family reading an SMS.
	}
	block(doc)
	return lt
}

// inlineText is the plain text of a block's inline content.
func inlineText(n ast.Node, src []byte) string {
	var b strings.Builder
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Segment.Value(src))
				if c.SoftLineBreak() || c.HardLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.AutoLink:
				b.Write(c.URL(src))
			case *ast.Image, *ast.RawHTML:
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return b.String()
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// sentences splits a paragraph after . ! ? or … followed by a space and a capital letter or a digit.
func sentences(p string) []string {
	var out []string
	start := 0
	for i, r := range p {
		if r != '.' && r != '!' && r != '?' && r != '…' {
			continue
		}
		j := i + utf8.RuneLen(r)
		// Closing quotes and brackets stay with their sentence.
		for j < len(p) && strings.ContainsRune(`"'»)]”’`, rune(p[j])) {
			j++
		}
		if j >= len(p) || p[j] != ' ' {
			continue
		}
		next, _ := utf8.DecodeRuneInString(p[j+1:])
		if unicode.IsUpper(next) || unicode.IsDigit(next) || next == '«' || next == '"' {
			out = append(out, strings.TrimSpace(p[start:j]))
			start = j + 1
		}
	}
	if rest := strings.TrimSpace(p[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// formatAiring prints an airing in the station's local time: "Balapan ven. 24.04 10:00".
func formatAiring(a Airing, lang string) string {
	return normalizeSpace(a.Station) + " " + FormatDayTime(a.Start, lang)
}

// FormatDayTime prints a broadcast time as "ven. 24.04 10:00" in lang (see relais.FormatDayTime).
func FormatDayTime(t time.Time, lang string) string { return relais.FormatDayTime(t, lang) }

// dayLabel prints a day as "ven. 24.04" in lang (English when unknown).
func dayLabel(lang string, t time.Time) string { return relais.DayLabel(lang, t) }
