package scheduler

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// Programme is one lesson of a slot's sequence with what playout and guides need of it. The lessons of a
// slot play back to back from its start; the last one's Last is set, and after it the station's filler
// plays until SlotEnd.
type Programme struct {
	Slot      relais.Slot
	Start     time.Time // the lesson's own start, in the station's zone
	End       time.Time // the lesson's own end: Start plus MediaTime, at most SlotEnd (SlotEnd when unknown)
	SlotEnd   time.Time
	Last      bool // the last lesson of its slot's sequence
	Rerun     bool
	Lesson    relais.Lesson
	Episode   int
	Media     string        // the rendition's path; empty when the lesson has none for this station
	MediaTime time.Duration // the rendition's length (the lesson's when unknown)
}

// Programmes returns the lessons of a station's slots from one local day to another, inclusive, in
// playing order.
func (s *Service) Programmes(ctx context.Context, stationID int64, from, to string) (relais.Station, []Programme, error) {
	st, loc, err := s.station(ctx, stationID)
	if err != nil {
		return st, nil, err
	}
	f, err := relais.ParseDay(from)
	if err != nil {
		return st, nil, err
	}
	t, err := relais.ParseDay(to)
	if err != nil {
		return st, nil, err
	}
	if t.Before(f) || t.Sub(f) > 92*24*time.Hour {
		return st, nil, relais.Errorf(relais.EINVALID, "Give a range of 1 to 93 days, from %s to a later day.", from)
	}
	slots, err := s.store.Slots(ctx, relais.SlotFilter{StationID: stationID, From: from, To: to})
	if err != nil {
		return st, nil, err
	}
	kind := relais.RenditionTV
	if st.Kind == relais.StationRadio {
		kind = relais.RenditionRadio
	}
	lessons := map[int64]Programme{}
	var out []Programme
	for _, sl := range slots {
		if len(sl.Lessons) == 0 {
			continue
		}
		start, end, err := sl.Interval(loc)
		if err != nil {
			return st, nil, err
		}
		at := start
		for i, x := range sl.Lessons {
			p, ok := lessons[x.LessonID]
			if !ok {
				if p, err = s.lessonProgramme(ctx, x.LessonID, kind); err != nil {
					return st, nil, err
				}
				lessons[x.LessonID] = p
			}
			p.Slot, p.SlotEnd, p.Rerun, p.Last = sl, end, x.Rerun, i == len(sl.Lessons)-1
			p.Start, p.End = at, end
			if p.MediaTime > 0 && at.Add(p.MediaTime).Before(end) {
				p.End = at.Add(p.MediaTime)
			}
			at = p.End
			out = append(out, p)
		}
	}
	return st, out, nil
}

func (s *Service) lessonProgramme(ctx context.Context, id int64, kind relais.RenditionKind) (Programme, error) {
	var p Programme
	var err error
	if p.Lesson, err = s.lessons.Lesson(ctx, id); err != nil {
		return p, err
	}
	if p.Episode, err = s.store.Episode(ctx, p.Lesson); err != nil {
		return p, err
	}
	p.MediaTime = time.Duration(p.Lesson.DurationMS) * time.Millisecond
	rs, err := s.lessons.Renditions(ctx, id)
	if err != nil {
		return p, err
	}
	for _, r := range rs {
		if r.Kind == kind {
			p.Media = r.Path
			if r.DurationMS > 0 {
				p.MediaTime = time.Duration(r.DurationMS) * time.Millisecond
			}
		}
	}
	return p, nil
}

// ChannelID is a station's XMLTV channel id.
func ChannelID(st relais.Station) string { return fmt.Sprintf("station-%d.relais", st.ID) }

type xmlText struct {
	Lang string `xml:"lang,attr,omitempty"`
	Text string `xml:",chardata"`
}

type xmlEpisode struct {
	System string `xml:"system,attr"`
	Text   string `xml:",chardata"`
}

type xmlLength struct {
	Units string `xml:"units,attr"`
	Value int    `xml:",chardata"`
}

type xmlProgramme struct {
	Start    string       `xml:"start,attr"`
	Stop     string       `xml:"stop,attr"`
	Channel  string       `xml:"channel,attr"`
	Title    xmlText      `xml:"title"`
	SubTitle *xmlText     `xml:"sub-title"`
	Desc     *xmlText     `xml:"desc,omitempty"`
	Category []xmlText    `xml:"category"`
	Language xmlText      `xml:"language"`
	Length   xmlLength    `xml:"length"`
	Episodes []xmlEpisode `xml:"episode-num"`
	Previous *struct{}    `xml:"previously-shown,omitempty"`
}

type xmlChannel struct {
	ID    string    `xml:"id,attr"`
	Names []xmlText `xml:"display-name"`
}

type xmlTV struct {
	XMLName    xml.Name       `xml:"tv"`
	Generator  string         `xml:"generator-info-name,attr"`
	Channels   []xmlChannel   `xml:"channel"`
	Programmes []xmlProgramme `xml:"programme"`
}

const xmltvTime = "20060102150405 -0700"

// WriteXMLTV writes the guide of a station's assigned slots from one local day to another, with the
// offset of the station's zone on each time.
func WriteXMLTV(w io.Writer, st relais.Station, ps []Programme) error {
	tv := xmlTV{Generator: "Relais", Channels: []xmlChannel{{ID: ChannelID(st), Names: []xmlText{{Text: st.ServiceName}}}}}
	if st.Name != st.ServiceName {
		tv.Channels[0].Names = append(tv.Channels[0].Names, xmlText{Text: st.Name})
	}
	for _, p := range ps {
		l, lang := p.Lesson, p.Lesson.Language
		// The programme is the lesson's own time, after the lessons before it in its slot; the rest of
		// the slot after its last lesson is the station's filler, a programme of its own when there is
		// one (a guide that says a lesson runs for 30 minutes when it lasts 20 misleads the family that
		// tunes in at minute 25).
		start, stop, slotEnd := p.Start.Round(time.Second), p.End.Round(time.Second), p.SlotEnd.Round(time.Second)
		x := xmlProgramme{
			Start: start.Format(xmltvTime), Stop: stop.Format(xmltvTime), Channel: ChannelID(st),
			Title:    xmlText{Lang: lang, Text: l.Title},
			SubTitle: &xmlText{Lang: lang, Text: gradeLabel(lang, l.Grade)},
			Category: []xmlText{{Lang: lang, Text: SubjectName(lang, l.Subject)}, {Lang: "en", Text: "Education"}},
			Language: xmlText{Text: lang},
			Length:   xmlLength{Units: "minutes", Value: int(math.Ceil(p.MediaTime.Minutes()))},
			Episodes: []xmlEpisode{
				{System: "xmltv_ns", Text: fmt.Sprintf("%d.%d.", max(l.Grade-1, 0), max(p.Episode-1, 0))},
				{System: "onscreen", Text: fmt.Sprintf("%s %d", episodeWord(lang), p.Episode)},
			},
		}
		if d := summary(l.Markdown); d != "" {
			x.Desc = &xmlText{Lang: lang, Text: d}
		}
		if p.Rerun {
			x.Previous = &struct{}{}
		}
		tv.Programmes = append(tv.Programmes, x)
		if p.Last && st.Filler != "" && slotEnd.Sub(stop) >= time.Second {
			tv.Programmes = append(tv.Programmes, xmlProgramme{
				Start: stop.Format(xmltvTime), Stop: slotEnd.Format(xmltvTime), Channel: ChannelID(st),
				Title: xmlText{Lang: lang, Text: interludeWord(lang)}, Language: xmlText{Text: lang},
				Length: xmlLength{Units: "minutes", Value: int(math.Ceil(slotEnd.Sub(stop).Minutes()))},
			})
		}
	}
	if _, err := io.WriteString(w, xml.Header+`<!DOCTYPE tv SYSTEM "xmltv.dtd">`+"\n"); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(tv); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// summary is the lesson text's first paragraph that is not a heading, as plain text, at most 400 runes.
func summary(md string) string {
	for _, para := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n\n") {
		p := strings.TrimSpace(para)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		p = strings.Join(strings.Fields(strings.NewReplacer("**", "", "__", "", "`", "").Replace(p)), " ")
		if r := []rune(p); len(r) > 400 {
			p = string(r[:399]) + "…"
		}
		return p
	}
	return ""
}

var subjectNames = map[string]map[string]string{
	"maths":     {"fr": "Mathématiques", "en": "Mathematics", "ru": "Математика", "kk": "Математика"},
	"french":    {"fr": "Français", "en": "French", "ru": "Французский язык", "kk": "Француз тілі"},
	"science":   {"fr": "Sciences", "en": "Science", "ru": "Естествознание", "kk": "Жаратылыстану"},
	"history":   {"fr": "Histoire", "en": "History", "ru": "История", "kk": "Тарих"},
	"geography": {"fr": "Géographie", "en": "Geography", "ru": "География", "kk": "География"},
	"english":   {"fr": "Anglais", "en": "English", "ru": "Английский язык", "kk": "Ағылшын тілі"},
	"kazakh":    {"fr": "Kazakh", "en": "Kazakh", "ru": "Казахский язык", "kk": "Қазақ тілі"},
	"russian":   {"fr": "Russe", "en": "Russian", "ru": "Русский язык", "kk": "Орыс тілі"},
}

// SubjectName names a subject code in lang; an unknown code is shown as given.
func SubjectName(lang, subject string) string {
	if n, ok := subjectNames[strings.ToLower(subject)][lang]; ok {
		return n
	}
	return subject
}

func gradeLabel(lang string, g int) string {
	switch lang {
	case "fr":
		return fmt.Sprintf("Niveau %d", g)
	case "ru":
		return fmt.Sprintf("%d класс", g)
	case "kk":
		return fmt.Sprintf("%d-сынып", g)
	}
	return fmt.Sprintf("Grade %d", g)
}

// interludeWord names the filler in a guide.
func interludeWord(lang string) string {
	switch lang {
	case "ru":
		return "Перерыв"
	case "kk":
		return "Үзіліс"
	}
	return "Interlude" // fr and en
}

func episodeWord(lang string) string {
	switch lang {
	case "fr":
		return "Leçon"
	case "ru":
		return "Урок"
	case "kk":
		return "Сабақ"
	}
	return "Lesson"
}

// PlaylistItem is one entry of a day's playout list: a lesson, or filler for a gap.
type PlaylistItem struct {
	In       float64 `json:"in"`
	Out      float64 `json:"out"`
	Duration float64 `json:"duration"`
	Source   string  `json:"source"`
	Title    string  `json:"title"`
	Category string  `json:"category,omitempty"`
}

// Playlist is a station's playout day in ffplayout's JSON shape. Items play back to back from Begin,
// the station's day start (ffplayout's day_start must be set to it), so the filler fills the time before
// the first slot, between slots and after a slot's sequence of lessons when it is shorter than the slot,
// and each slot's lessons play in order from its slot's time.
type Playlist struct {
	Channel string         `json:"channel"`
	Date    string         `json:"date"`
	Begin   string         `json:"-"`
	Program []PlaylistItem `json:"program"`
}

// BuildPlaylist lays out a station's playout day, from its day start on day to the next day's: the
// lessons at their slots' times and the filler clip (filler, or the station's own when empty) wherever
// no lesson plays. A day that needs filler when none is configured is refused, as is a lesson without
// the station's rendition: dead air is what a playout editor must never be handed.
func BuildPlaylist(st relais.Station, day string, ps []Programme, filler string) (Playlist, error) {
	pl := Playlist{Channel: st.ServiceName, Date: day, Begin: cmp.Or(st.DayStart, "00:00"), Program: []PlaylistItem{}}
	begin, err := dayStart(st, day)
	if err != nil {
		return pl, err
	}
	end := begin.AddDate(0, 0, 1)
	filler = cmp.Or(filler, st.Filler)
	var gaps time.Duration
	addFiller := func(d time.Duration) {
		if d <= 0 {
			return
		}
		gaps += d
		if n := len(pl.Program); n > 0 && pl.Program[n-1].Category == "filler" {
			last := &pl.Program[n-1]
			last.Out = seconds(time.Duration(last.Out*float64(time.Second)) + d)
			last.Duration = last.Out
			return
		}
		sec := seconds(d)
		pl.Program = append(pl.Program, PlaylistItem{Out: sec, Duration: sec, Source: filler, Title: "Filler", Category: "filler"})
	}
	at := begin
	for _, p := range ps {
		if p.Start.Before(begin) || !p.Start.Before(end) {
			continue
		}
		if p.Media == "" {
			return pl, relais.Errorf(relais.ECONFLICT, "Lesson %d has no %s rendition for slot %s %s.", p.Lesson.ID, st.Kind, p.Slot.Day, p.Slot.Start)
		}
		addFiller(p.Start.Sub(at))
		play := p.End.Sub(p.Start)
		pl.Program = append(pl.Program, PlaylistItem{Out: seconds(play), Duration: seconds(p.MediaTime), Source: p.Media,
			Title: p.Lesson.Title})
		at = p.End
		if p.Last {
			addFiller(p.SlotEnd.Sub(at))
			at = p.SlotEnd
		}
	}
	if gaps > 0 && filler == "" {
		return pl, relais.Errorf(relais.ECONFLICT, "Station %q has no filler, and its playout day %s has %s without a lesson: set the station's filler (an absolute path or URL of a %s clip the playout server can read).",
			st.Name, day, relais.HumanDuration(gaps), fillerKind(st))
	}
	return pl, nil
}

// fillerKind is what a station's filler must be: video for TV, audio for radio.
func fillerKind(st relais.Station) string {
	if st.Kind == relais.StationRadio {
		return "audio"
	}
	return "video"
}

// dayStart is when the station's playout day begins on day, in its zone.
func dayStart(st relais.Station, day string) (time.Time, error) {
	loc, err := st.Location()
	if err != nil {
		return time.Time{}, err
	}
	d, err := relais.ParseDay(day)
	if err != nil {
		return time.Time{}, err
	}
	hm, err := time.Parse("15:04", cmp.Or(st.DayStart, "00:00"))
	if err != nil {
		return time.Time{}, relais.Errorf(relais.EINVALID, "The playout day start must be a time such as 06:00, not %q.", st.DayStart)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hm.Hour(), hm.Minute(), 0, 0, loc), nil
}

// nextDay is the day after day (YYYY-MM-DD).
func nextDay(day string) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return d.AddDate(0, 0, 1).Format(time.DateOnly)
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// WriteFFplayout writes pl as ffplayout JSON.
func WriteFFplayout(w io.Writer, pl Playlist) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(pl)
}

// WriteM3U writes pl as an extended M3U list with each item's length and title.
func WriteM3U(w io.Writer, pl Playlist) error {
	var b strings.Builder
	b.WriteString("#EXTM3U\n")
	fmt.Fprintf(&b, "#PLAYLIST:%s %s %s\n", pl.Channel, pl.Date, pl.Begin)
	for _, it := range pl.Program {
		fmt.Fprintf(&b, "#EXTINF:%s,%s\n%s\n", strconv.FormatFloat(it.Out, 'f', -1, 64),
			strings.ReplaceAll(it.Title, "\n", " "), it.Source)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Playlist builds a station's playout list for a local day (from its day start to the next day's).
func (s *Service) Playlist(ctx context.Context, stationID int64, day, filler string) (Playlist, error) {
	st, ps, err := s.Programmes(ctx, stationID, day, nextDay(day))
	if err != nil {
		return Playlist{}, err
	}
	return BuildPlaylist(st, day, ps, filler)
}

// XMLTV writes a station's guide from one local day to another.
func (s *Service) XMLTV(ctx context.Context, w io.Writer, stationID int64, from, to string) error {
	st, ps, err := s.Programmes(ctx, stationID, from, to)
	if err != nil {
		return err
	}
	return WriteXMLTV(w, st, ps)
}

// PlaylistFile is a station's playout list of a local day as a file in format (empty: ffplayout), with
// filler (empty: the station's) where no lesson plays, and its content type.
func (s *Service) PlaylistFile(ctx context.Context, stationID int64, day string, format relais.PlayoutFormat, filler string) (contentType string, body []byte, err error) {
	if format == "" {
		format = relais.FormatFFplayout
	}
	if format != relais.FormatFFplayout && format != relais.FormatM3U {
		return "", nil, relais.Errorf(relais.EINVALID, "format must be ffplayout or m3u.")
	}
	if err := relais.CheckFiller(filler); err != nil {
		return "", nil, err
	}
	pl, err := s.Playlist(ctx, stationID, day, filler)
	if err != nil {
		return "", nil, err
	}
	var b bytes.Buffer
	if format == relais.FormatM3U {
		err, contentType = WriteM3U(&b, pl), "audio/x-mpegurl; charset=utf-8"
	} else {
		err, contentType = WriteFFplayout(&b, pl), "application/json; charset=utf-8"
	}
	return contentType, b.Bytes(), err
}

// XMLTVFile is a station's guide from one local day to another as an XMLTV file.
func (s *Service) XMLTVFile(ctx context.Context, stationID int64, from, to string) ([]byte, error) {
	var b bytes.Buffer
	err := s.XMLTV(ctx, &b, stationID, from, to)
	return b.Bytes(), err
}

// XMLTVType is the content type of an XMLTV file.
const XMLTVType = "application/xml; charset=utf-8"

// MaxFillDays is the most days one auto-fill or one slot listing covers.
const MaxFillDays = 93

// CheckDays checks from and to are days (YYYY-MM-DD), to not before from, at most maxDays apart.
func CheckDays(from, to string, maxDays int) error {
	f, err1 := time.Parse(time.DateOnly, from)
	t, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return relais.Errorf(relais.EINVALID, "Give from and to as days (YYYY-MM-DD).")
	}
	if t.Before(f) || t.Sub(f) >= time.Duration(maxDays)*24*time.Hour {
		return relais.Errorf(relais.EINVALID, "to must be on or after from, at most %d days later.", maxDays-1)
	}
	return nil
}
