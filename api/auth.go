package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/audit"
)

type userKey struct{}

// HashToken is how tokens are stored: relais.HashToken.
func HashToken(token string) string { return relais.HashToken(token) }

// audited are the API routes that change something, by pattern: each success is written to the audit
// log.
var audited = map[string]audit.Rule{
	"POST /api/v1/lessons":                     {Action: relais.AuditCreate, Kind: "lesson"},
	"POST /api/v1/lessons/{id}/publish":        {Action: relais.AuditPublish, Kind: "lesson"},
	"POST /api/v1/lessons/{id}/resend-unknown": {Action: relais.AuditEdit, Kind: "lesson"},
	"POST /api/v1/lessons/{id}/submit":         {Action: relais.AuditSubmit, Kind: "lesson"},
	"POST /api/v1/lessons/{id}/approve":        {Action: relais.AuditApprove, Kind: "lesson"},
	"POST /api/v1/lessons/{id}/reject":         {Action: relais.AuditReject, Kind: "lesson"},
	"POST /api/v1/households/import":           {Action: relais.AuditImport, Kind: "households"},
	"GET /api/v1/households/{id}/export":       {Action: relais.AuditExport, Kind: "household"},
	"DELETE /api/v1/households/{id}":           {Action: relais.AuditDelete, Kind: "household"},
	"PUT /api/v1/users/{user}/classes":         {Action: relais.AuditEdit, Kind: "user classes"},
	"POST /api/v1/stations":                    {Action: relais.AuditCreate, Kind: "station"},
	"PATCH /api/v1/stations/{id}":              {Action: relais.AuditEdit, Kind: "station"},
	"DELETE /api/v1/stations/{id}":             {Action: relais.AuditDelete, Kind: "station"},
	"POST /api/v1/stations/{id}/templates":     {Action: relais.AuditEdit, Kind: "station"},
	"POST /api/v1/stations/{id}/slots":         {Action: relais.AuditEdit, Kind: "station"},
	"POST /api/v1/stations/{id}/exceptions":    {Action: relais.AuditEdit, Kind: "station"},
	"PUT /api/v1/slots/{id}/lesson":            {Action: relais.AuditEdit, Kind: "slot"},
	"DELETE /api/v1/slots/{id}/lesson":         {Action: relais.AuditEdit, Kind: "slot"},
	"PUT /api/v1/slots/{id}/lessons":           {Action: relais.AuditEdit, Kind: "slot"},
	"POST /api/v1/schedule/fill":               {Action: relais.AuditEdit, Kind: "schedule"},
	"POST /api/v1/postal-batches":              {Action: relais.AuditCreate, Kind: "postal batch"},
	"POST /api/v1/postal-batches/{id}/printed": {Action: relais.AuditEdit, Kind: "postal batch"},
	"POST /api/v1/postal-batches/{id}/posted":  {Action: relais.AuditEdit, Kind: "postal batch"},
	"POST /api/v1/bounces":                     {Action: relais.AuditImport, Kind: "bounce report"},
}

// auth wraps h: the request needs a bearer token of one of roles, in force (not revoked nor expired),
// or, handed in-process by the web UI, a user it signed in (relais.ContextWithUser).
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
			t, err := s.tokens.Authenticate(r.Context(), tok)
			if err != nil {
				writeError(w, r, err, s.log)
				return
			}
			u = t.User
		}
		if !slices.Contains(roles, u.Role) {
			writeError(w, r, relais.Errorf(relais.EFORBIDDEN, "The %s role cannot do this.", u.Role), s.log)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		if err := h(w, r); err != nil {
			writeError(w, r, err, s.log)
			return
		}
		if rule, ok := audited[r.Pattern]; ok {
			s.audit.Record(r, u, rule)
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
