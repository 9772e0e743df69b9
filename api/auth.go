package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	relais "github.com/relais-edu/relais"
)

type userKey struct{}

// HashToken is how tokens are stored: relais.HashToken.
func HashToken(token string) string { return relais.HashToken(token) }

// auth wraps h: the request needs a bearer token of one of roles, or, handed in-process by the web UI,
// a user it signed in (relais.ContextWithUser).
func (s *Server) auth(h func(http.ResponseWriter, *http.Request) error, roles ...relais.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := relais.UserFromContext(r.Context())
		if !ok {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="relais"`)
				writeError(w, r, relais.Errorf(relais.EUNAUTHORIZED, "Send an API token as 'Authorization: Bearer TOKEN' (create one with 'relais token create')."), s.log)
				return
			}
			var err error
			if u, err = s.store.UserByTokenHash(r.Context(), relais.HashToken(strings.TrimSpace(tok))); err != nil {
				writeError(w, r, err, s.log)
				return
			}
		}
		if !slices.Contains(roles, u.Role) {
			writeError(w, r, relais.Errorf(relais.EFORBIDDEN, "The %s role cannot do this.", u.Role), s.log)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		if err := h(w, r); err != nil {
			writeError(w, r, err, s.log)
		}
	})
}

func userFrom(ctx context.Context) relais.User {
	u, _ := ctx.Value(userKey{}).(relais.User)
	return u
}

// visibleLesson returns the lesson when the request's user may see it (lessons.Service.Visible).
func (s *Server) visibleLesson(ctx context.Context, id int64) (relais.Lesson, error) {
	return s.lessons.Visible(ctx, userFrom(ctx), id)
}

// ownLesson checks a teacher names one of their lessons (lessonID, from a query) where staff may name
// none: a teacher naming none gets refusal.
func (s *Server) ownLesson(ctx context.Context, lessonID int64, refusal error) error {
	if userFrom(ctx).CanSeeAllLessons() {
		return nil
	}
	if lessonID == 0 {
		return refusal
	}
	_, err := s.visibleLesson(ctx, lessonID)
	return err
}
