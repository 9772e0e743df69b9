package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

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
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.ReplaceAll(params, " ", "") == "q=0" {
			continue
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := labels[base]; ok {
			return base
		}
	}
	return "en"
}

// familyError answers a family link that leads nowhere with a small HTML page in the family's language
// (the household's, when the link names one; else the browser's), not the API's JSON.
func (s *Server) familyError(w http.ResponseWriter, r *http.Request, h relais.Household, err error) {
	code := relais.ErrorCode(err)
	lang := pageLang(h.Language, r.Header.Get("Accept-Language"))
	msg := locale.Message(err, lang)
	if code == relais.EINTERNAL {
		id, _ := r.Context().Value(requestIDKey{}).(string)
		s.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "Internal error; quote request id " + id + " to the school."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(relais.HTTPStatus(code))
	if err := s.tmpl.Page(w, "lesson_error", map[string]any{"Lang": lang, "T": labels[lang], "Message": msg}); err != nil {
		s.log.Error("render family error page", "err", err)
	}
}

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
		return relais.Lesson{}, relais.Household{}, relais.Errorf(relais.ENOTFOUND, "This link is not valid. Check it was copied whole.")
	}
	h, err := s.store.Household(ctx, hid)
	if err != nil {
		return relais.Lesson{}, h, err
	}
	l, err := s.store.Lesson(ctx, lid)
	return l, h, err
}

// lessonLang is the lang attribute of a lesson's own words (title, subject, key points) on a page in
// pageLang: empty when they are in the page's language, which they then inherit.
func lessonLang(lesson, pageLang string) string {
	if lesson == "" || lesson == pageLang {
		return ""
	}
	return lesson
}

// lessonPage is the public page a family opens from an SMS or an email: no JavaScript, a few KB.
func (s *Server) lessonPage(w http.ResponseWriter, r *http.Request) {
	l, h, err := s.familyLesson(r.Context(), r.PathValue("token"))
	if err != nil {
		s.familyError(w, r, h, err)
		return
	}
	lang := pageLang(h.Language, r.Header.Get("Accept-Language"))
	data := map[string]any{"Lang": lang, "Lesson": l, "LessonLang": lessonLang(l.Language, lang), "T": labels[lang], "Points": lessons.KeyPoints(l.Markdown, 8),
		"Airings": s.familyAirings(r.Context(), l, h, lang)}
	base := "/l/" + r.PathValue("token")
	if rs, err := s.store.Renditions(r.Context(), l.ID); err == nil {
		for _, x := range rs {
			if x.Kind == relais.RenditionLowband {
				data["HasAudio"], data["AudioURL"], data["AudioSize"] = true, base+"/audio", relais.HumanBytes(x.Bytes)
			}
		}
	}
	if ws, err := s.store.Worksheet(r.Context(), l.ID); err == nil {
		data["HasWorksheet"], data["WorksheetURL"], data["WorksheetSize"] = true, base+"/worksheet", relais.HumanBytes(ws.Bytes)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'")
	w.Header().Set("Cache-Control", "private, max-age=300")
	if err := s.tmpl.Page(w, "lesson", data); err != nil {
		s.log.Error("render lesson page", "lesson_id", l.ID, "err", err)
	}
}

// familyFile serves a file of a signed lesson link's lesson, at the path file finds for it; disposition,
// when not nil, names it.
func (s *Server) familyFile(file func(ctx context.Context, l relais.Lesson) (string, error),
	disposition func(l relais.Lesson) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l, h, err := s.familyLesson(r.Context(), r.PathValue("token"))
		var path string
		if err == nil {
			path, err = file(r.Context(), l)
		}
		if err != nil {
			s.familyError(w, r, h, err)
			return
		}
		if disposition != nil {
			w.Header().Set("Content-Disposition", disposition(l))
		}
		lessons.ServeFile(w, r, path)
	}
}

// familyAudio is the low-band audio of the family page.
func (s *Server) familyAudio(ctx context.Context, l relais.Lesson) (string, error) {
	rs, err := s.store.Renditions(ctx, l.ID)
	if err != nil {
		return "", err
	}
	for _, x := range rs {
		if x.Kind == relais.RenditionLowband {
			return x.Path, nil
		}
	}
	return "", relais.Errorf(relais.ENOTFOUND, "The audio of this lesson is not ready yet.")
}

// familyWorksheet is the worksheet of the family page, shown in the browser.
func (s *Server) familyWorksheet(ctx context.Context, l relais.Lesson) (string, error) {
	ws, err := s.store.Worksheet(ctx, l.ID)
	return ws.Path, err
}

func inlinePDF(l relais.Lesson) string { return fmt.Sprintf(`inline; filename="lesson-%d.pdf"`, l.ID) }
