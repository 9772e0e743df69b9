package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"

	"github.com/relais-edu/relais/locale"
	"github.com/relais-edu/relais/scheduler"
)

// pageLabels are the family page's words in each language.
type pageLabels struct {
	Subject, Grade, KeyPoints, OnAir, TV, Radio, Listen, DownloadAudio, Worksheet string
	Problem, Help                                                                 string // the error page's
}

var labels = map[string]pageLabels{
	"fr": {"Matière", "Classe", "À retenir", "À la télévision et à la radio", "télévision", "radio", "Écouter la leçon", "Télécharger l'audio", "Fiche d'exercices (PDF)",
		"Leçon indisponible", "Ouvrez de nouveau le lien du SMS ou de l'e-mail reçu, en entier ; s'il ne marche toujours pas, demandez à l'école."},
	"en": {"Subject", "Grade", "Key points", "On television and radio", "television", "radio", "Listen to the lesson", "Download the audio", "Worksheet (PDF)",
		"Lesson not available", "Open the link from the SMS or email you received again, in full; if it still does not work, ask the school."},
	"ru": {"Предмет", "Класс", "Главное", "По телевидению и радио", "телевидение", "радио", "Слушать урок", "Скачать аудио", "Рабочий лист (PDF)",
		"Урок недоступен", "Снова откройте ссылку из полученного SMS или письма, целиком; если она всё равно не работает, обратитесь в школу."},
	"kk": {"Пән", "Сынып", "Есте сақта", "Теледидар мен радиода", "теледидар", "радио", "Сабақты тыңдау", "Аудионы жүктеу", "Жұмыс парағы (PDF)",
		"Сабақ қолжетімсіз", "Алған SMS немесе хаттағы сілтемені толығымен қайта ашыңыз; бәрібір ашылмаса, мектепке хабарласыңыз."},
}

// pageLang is the language of a family page: the household's when it is one the page is written in,
// else the first such language of the browser's Accept-Language, else English.
func pageLang(householdLang, acceptLanguage string) string {
	if _, ok := labels[householdLang]; ok {
		return householdLang
	}
	if l := locale.Match(acceptLanguage); l != "" {
		return l // the family page is written in every language of the catalogs
	}
	return "en"
}

// familyError answers a family link that leads nowhere with a small HTML page in the family's language
// (the household's, when the link names one; else the browser's), not the API's JSON. A link that does
// not open, from a browser that reads none of the families' languages, gets the page in all of them.
func (s *Server) familyError(w http.ResponseWriter, r *http.Request, h relais.Household, err error) {
	code := relais.ErrorCode(err)
	lang := pageLang(h.Language, r.Header.Get("Accept-Language"))
	if h.Language == "" && locale.Match(r.Header.Get("Accept-Language")) == "" && err == errBadLink {
		lang = ""
	}
	type note struct {
		Lang, Message string
		T             pageLabels
	}
	var notes []note
	for _, l := range relais.Languages {
		if lang == "" || l == lang {
			notes = append(notes, note{l, locale.Message(err, l), labels[l]})
		}
	}
	if code == relais.EINTERNAL {
		id, _ := r.Context().Value(requestIDKey{}).(string)
		s.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		notes[0].Message = "Internal error; quote request id " + id + " to the school."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if lang != "" {
		w.Header().Set("Content-Language", lang)
	}
	w.WriteHeader(relais.HTTPStatus(code))
	if err := s.tmpl.Page(w, "lesson_error", map[string]any{"Lang": lang, "Notes": notes}); err != nil {
		s.log.Error("render family error page", "err", err)
	}
}

// errBadLink is a lesson link that does not verify.
var errBadLink = relais.Errorf(relais.ENOTFOUND, "This link is not valid. Check it was copied whole.")

// pageAiring is one coming broadcast of the lesson on the family page.
type pageAiring struct{ Station, Kind, When string }

// familyAirings lists the lesson's coming broadcasts on the stations the household receives (those of
// its region and those without one), in each station's local time. The page is still worth showing
// without them, so a failure is logged, not returned.
func (s *Server) familyAirings(ctx context.Context, l relais.Lesson, h relais.Household, lang string) []pageAiring {
	p := &scheduler.Planner{Store: s.store, Lessons: s.store, Households: s.store}
	as, err := p.Airings(ctx, l.ID, s.now())
	if err != nil {
		s.log.Warn("family page airings", "lesson_id", l.ID, "err", err)
		return nil
	}
	var out []pageAiring
	for _, a := range as {
		if a.Region != "" && a.Region != h.Region {
			continue
		}
		kind := labels[lang].TV
		if a.Kind == string(relais.StationRadio) {
			kind = labels[lang].Radio
		}
		out = append(out, pageAiring{Station: a.Station, Kind: kind, When: relais.FormatDayTime(a.At, lang)})
	}
	return out
}

// familyLesson resolves a signed lesson link.
func (s *Server) familyLesson(ctx context.Context, token string) (relais.Lesson, relais.Household, error) {
	lid, hid, err := s.links.Verify(token)
	if err != nil {
		return relais.Lesson{}, relais.Household{}, errBadLink
	}
	h, err := s.store.Household(ctx, hid)
	if err != nil {
		return relais.Lesson{}, h, err
	}
	l, err := s.store.Lesson(ctx, lid)
	return l, h, err
}

// familyCSP is the family page's policy: no script at all, its one inline style allowed by its hash
// (TestSecurityHeaders checks the hash against the page), media from here.
const familyCSP = "default-src 'none'; style-src 'sha256-hPap/nKQE8tPj/gxU8Z+w7/8k1W37qnLgU+/LsqOQ2I='; media-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// lessonLang is the lang attribute of a lesson's own words (title, subject, key points) on a page in
// pageLang: empty when they are in the page's language, which they then inherit.
func lessonLang(lesson, pageLang string) string {
	if lesson == "" || lesson == pageLang {
		return ""
	}
	return lesson
}

// lessonPage is the public page a family opens from an SMS or an email: no JavaScript, a few KB, from
// memory while fresh (familycache.go).
func (s *Server) lessonPage(w http.ResponseWriter, r *http.Request) {
	p, h, err := s.familyPage(r.Context(), r.PathValue("token"))
	if err != nil {
		s.familyError(w, r, h, err)
		return
	}
	writeFamilyPage(w, r, p)
}

// familyPage returns the page of a lesson link, rendered now or a moment ago; on an error, the
// household the link names when it is known, for the error page's language.
func (s *Server) familyPage(ctx context.Context, token string) (*familyPage, relais.Household, error) {
	if p, ok := s.pages.get(token, s.now()); ok {
		return p, relais.Household{}, nil
	}
	l, h, err := s.familyLesson(ctx, token)
	if err != nil {
		return nil, h, err
	}
	lang := pageLang(h.Language, "")
	data := map[string]any{"Lang": lang, "Lesson": l, "LessonLang": lessonLang(l.Language, lang), "T": labels[lang], "Points": lessons.KeyPoints(l.Markdown, 8),
		"Airings": s.familyAirings(ctx, l, h, lang)}
	base := "/l/" + token
	var audio relais.Rendition
	rs, err := s.store.Renditions(ctx, l.ID)
	if err != nil {
		return nil, h, err
	}
	var audioVersion string
	for _, x := range rs {
		if x.Kind == relais.RenditionLowband {
			audio, audioVersion = x, renditionVersion(x)
			data["HasAudio"], data["AudioURL"], data["AudioSize"] = true, base+"/audio/"+audioVersion, relais.HumanBytes(x.Bytes)
		}
	}
	ws, err := s.store.Worksheet(ctx, l.ID)
	if err == nil {
		data["HasWorksheet"], data["WorksheetURL"], data["WorksheetSize"] = true, base+"/worksheet", relais.HumanBytes(ws.Bytes)
	} else if relais.ErrorCode(err) != relais.ENOTFOUND {
		return nil, h, err
	}
	var b bytes.Buffer
	if err := s.tmpl.Page(&b, "lesson", data); err != nil {
		return nil, h, fmt.Errorf("render lesson page %d: %w", l.ID, err)
	}
	p := newFamilyPage(b.Bytes())
	p.lessonID, p.lang, p.audio, p.audioVersion, p.worksheet = l.ID, lang, audio.Path, audioVersion, ws.Path
	s.pages.put(token, p, s.now())
	return p, h, nil
}

// familyFile serves a file of a lesson link's page (file picks its path), named by disposition when
// not empty. A versioned audio URL (version set) names content that never changes: browsers and CDNs
// may keep it for ever.
func (s *Server) familyFile(file func(p *familyPage) string, missing error, disposition func(p *familyPage) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, h, err := s.familyPage(r.Context(), r.PathValue("token"))
		if err != nil {
			s.familyError(w, r, h, err)
			return
		}
		family := relais.Household{Language: p.lang}
		path := file(p)
		if path == "" {
			s.familyError(w, r, family, missing)
			return
		}
		if v := r.PathValue("version"); v != "" && v == p.audioVersion {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(pageTTL/time.Second)))
		}
		if disposition != nil {
			w.Header().Set("Content-Disposition", disposition(p))
		}
		if err := s.lessons.ServeFile(w, r, path); err != nil {
			s.familyError(w, r, family, err)
		}
	}
}

// familyAudio and familyWorksheet pick the family page's files.
func familyAudio(p *familyPage) string     { return p.audio }
func familyWorksheet(p *familyPage) string { return p.worksheet }

// inlinePDF shows the worksheet in the browser.
func inlinePDF(p *familyPage) string {
	return fmt.Sprintf(`inline; filename="lesson-%d.pdf"`, p.lessonID)
}
