package api

// The lesson routes: thin adapters over lessons.Service, which the UI calls too.

import (
	"context"
	"fmt"
	"net/http"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/locale"
)

// Lesson is the JSON form of a lesson.
type Lesson = lessons.Detail

// lang is the language of the request's Accept-Language that messages are written in.
func lang(r *http.Request) string { return locale.Accept(r.Header.Get("Accept-Language")) }

// createLesson stores an upload (multipart: media or upload, text or text_file, worksheet, metadata)
// and queues its probe.
func (s *Server) createLesson(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, s.lessons.UploadLimit())
	mr, err := lessons.Multipart(r)
	if err != nil {
		return err
	}
	l, err := s.lessons.Create(r.Context(), userFrom(r.Context()), mr)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/lessons/%d", l.ID))
	writeJSON(w, http.StatusCreated, lessons.Summary(l, lang(r)))
	return nil
}

func (s *Server) listLessons(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	f := relais.LessonFilter{Status: relais.LessonStatus(r.URL.Query().Get("status")), Page: p}
	if u := userFrom(r.Context()); !u.CanSeeAllLessons() {
		f.TeacherID = u.ID
	} else {
		f.TeacherID = r.URL.Query().Get("teacher_id")
	}
	ls, err := s.store.Lessons(r.Context(), f)
	if err != nil {
		return err
	}
	lg := lang(r)
	toJSON := func(l relais.Lesson) Lesson { return lessons.Summary(l, lg) }
	return writePage(w, ls, p, toJSON, func(l relais.Lesson) int64 { return l.ID }) // lessons are listed newest first
}

func (s *Server) getLesson(w http.ResponseWriter, r *http.Request, id int64) error {
	d, err := s.lessons.Detail(r.Context(), userFrom(r.Context()), id, lang(r))
	return reply(w, http.StatusOK, d, err)
}

func (s *Server) getRenditionFile(w http.ResponseWriter, r *http.Request, id int64) error {
	path, err := s.lessons.RenditionFile(r.Context(), userFrom(r.Context()), id, r.PathValue("kind"))
	if err != nil {
		return err
	}
	return s.lessons.ServeFile(w, r, path)
}

func (s *Server) getWorksheetFile(w http.ResponseWriter, r *http.Request, id int64) error {
	path, err := s.lessons.WorksheetFile(r.Context(), userFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return s.lessons.ServeFile(w, r, path)
}

func (s *Server) publishLesson(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.lessonAction(w, r, id, s.lessons.Publish)
}

// resendUnknown sends again a published lesson's deliveries whose outcome is unknown.
func (s *Server) resendUnknown(w http.ResponseWriter, r *http.Request, id int64) error {
	return s.lessonAction(w, r, id, s.lessons.ResendUnknown)
}

// lessonAction runs an action of the lesson service on lesson id and answers 202 with the lesson.
func (s *Server) lessonAction(w http.ResponseWriter, r *http.Request, id int64,
	act func(ctx context.Context, u relais.User, id int64, lang string) (relais.Lesson, error)) error {
	l, err := act(r.Context(), userFrom(r.Context()), id, lang(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, lessons.Summary(l, lang(r)))
	return nil
}

func (s *Server) getApproval(w http.ResponseWriter, r *http.Request, id int64) error {
	a, err := s.lessons.Approval(r.Context(), userFrom(r.Context()), id)
	return reply(w, http.StatusOK, a, err)
}

// getPlan computes the publishing plan of a lesson. Query: at (RFC 3339, default now), sms_rate
// (segments/s), email_rate (emails/s), postal_lead_days.
func (s *Server) getPlan(w http.ResponseWriter, r *http.Request, id int64) error {
	q := r.URL.Query()
	sum, err := s.lessons.Plan(r.Context(), id, lessons.PlanOptions{At: q.Get("at"), SMSRate: q.Get("sms_rate"),
		EmailRate: q.Get("email_rate"), PostalLeadDays: q.Get("postal_lead_days")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}
