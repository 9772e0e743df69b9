package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"

	relais "github.com/relais-edu/relais"
)

// pageLabels are the family page's words in each language.
type pageLabels struct{ Subject, Grade, KeyPoints, Listen, DownloadAudio, Worksheet string }

var labels = map[string]pageLabels{
	"fr": {"Matière", "Classe", "À retenir", "Écouter la leçon", "Télécharger l'audio", "Fiche d'exercices (PDF)"},
	"en": {"Subject", "Grade", "Key points", "Listen to the lesson", "Download the audio", "Worksheet (PDF)"},
	"ru": {"Предмет", "Класс", "Главное", "Слушать урок", "Скачать аудио", "Рабочий лист (PDF)"},
	"kk": {"Пән", "Сынып", "Есте сақта", "Сабақты тыңдау", "Аудионы жүктеу", "Жұмыс парағы (PDF)"},
}

// familyLesson resolves a signed lesson link.
func (s *Server) familyLesson(ctx context.Context, token string) (relais.Lesson, relais.Household, error) {
	lid, hid, err := s.links.Verify(token)
	if err != nil {
		return relais.Lesson{}, relais.Household{}, relais.Errorf(relais.ENOTFOUND, "This link is not valid. Check it was copied whole.")
	}
	l, err := s.store.Lesson(ctx, lid)
	if err != nil {
		return l, relais.Household{}, err
	}
	h, err := s.store.Household(ctx, hid)
	return l, h, err
}

// lessonPage is the public page a family opens from an SMS or an email: no JavaScript, a few KB.
func (s *Server) lessonPage(w http.ResponseWriter, r *http.Request) {
	l, h, err := s.familyLesson(r.Context(), r.PathValue("token"))
	if err != nil {
		writeError(w, r, err, s.log)
		return
	}
	lang := h.Language
	if _, ok := labels[lang]; !ok {
		lang = "en"
	}
	data := map[string]any{"Lang": lang, "Lesson": l, "T": labels[lang], "Points": keyPoints(l.Markdown, 8)}
	base := "/l/" + r.PathValue("token")
	if rs, err := s.store.Renditions(r.Context(), l.ID); err == nil {
		for _, x := range rs {
			if x.Kind == relais.RenditionLowband {
				data["HasAudio"], data["AudioURL"], data["AudioSize"] = true, base+"/audio", humanBytes(x.Bytes)
			}
		}
	}
	if ws, err := s.store.Worksheet(r.Context(), l.ID); err == nil {
		data["HasWorksheet"], data["WorksheetURL"], data["WorksheetSize"] = true, base+"/worksheet", humanBytes(ws.Bytes)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'")
	w.Header().Set("Cache-Control", "private, max-age=300")
	if err := s.tmpl.Page(w, "lesson", data); err != nil {
		s.log.Error("render lesson page", "lesson_id", l.ID, "err", err)
	}
}

func (s *Server) lessonPageAudio(w http.ResponseWriter, r *http.Request) {
	l, _, err := s.familyLesson(r.Context(), r.PathValue("token"))
	if err != nil {
		writeError(w, r, err, s.log)
		return
	}
	rs, err := s.store.Renditions(r.Context(), l.ID)
	if err != nil {
		writeError(w, r, err, s.log)
		return
	}
	for _, x := range rs {
		if x.Kind == relais.RenditionLowband {
			serveFile(w, r, x.Path)
			return
		}
	}
	writeError(w, r, relais.Errorf(relais.ENOTFOUND, "The audio of this lesson is not ready yet."), s.log)
}

func (s *Server) lessonPageWorksheet(w http.ResponseWriter, r *http.Request) {
	l, _, err := s.familyLesson(r.Context(), r.PathValue("token"))
	if err != nil {
		writeError(w, r, err, s.log)
		return
	}
	ws, err := s.store.Worksheet(r.Context(), l.ID)
	if err != nil {
		writeError(w, r, err, s.log)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="lesson-%d.pdf"`, l.ID))
	serveFile(w, r, ws.Path)
}

// keyPoints picks the list items and headings of a Markdown lesson, up to n.
func keyPoints(md string, n int) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() && len(out) < n {
		line := strings.TrimSpace(sc.Text())
		for _, p := range []string{"- ", "* ", "+ "} {
			if rest, ok := strings.CutPrefix(line, p); ok {
				out = append(out, strings.TrimSpace(rest))
			}
		}
	}
	return out
}
