// Package ui serves the web pages of teachers and the media unit under /ui/: sign-in (with an API
// token, or through the ministry's OpenID provider: ui/oidc.go), lesson lists, upload, each lesson's
// status and deliveries, publishing, the delivery dashboard and household import, broadcast approval,
// the stations' week grids, the publishing plan and postal batches.
//
// Pages are rendered on the server from templates/web/ui_*.tmpl in French or English. Actions call the
// services the JSON API runs on (lessons.Service, scheduler.Service, roster.Importer) as the signed-in
// user, so the UI enforces exactly the API's validation, visibility and refusals; the UI adds its own
// role check on every route, a session cookie and a CSRF token on every form. Only the resumable
// uploads' tus requests are handed to the API's handler, which speaks that protocol.
package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/audit"
	"github.com/relais-edu/relais/internal/httpstatus"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/locale"
	"github.com/relais-edu/relais/roster"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/tokens"
)

//go:embed static
var static embed.FS

// Config for the UI.
type Config struct {
	// SecureCookies marks cookies Secure; set it when the public URL is https.
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// Redis, when set, is where asynq keeps its queues: the UI then mounts asynq's monitor (asynqmon)
	// for admins at /ui/admin/queues/.
	Redis asynq.RedisConnOpt
	// Location is the time zone of the times the pages show (the delivery dashboard's charts).
	Location *time.Location
	// OIDC, when its issuer is set, adds sign-in through an OpenID provider (ui/oidc.go).
	OIDC OIDCConfig
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{SessionTTL: 12 * time.Hour, Location: time.Local}
}

// Services are what the UI shares with the JSON API: the services its handlers call, and the API's
// handler, to which the upload page's tus requests are forwarded. *api.Server provides them.
type Services interface {
	http.Handler
	Lessons() *lessons.Service
	Schedule() *scheduler.Service
	Households() *roster.Importer
	Tokens() *tokens.Service
	Audit() *audit.Log
}

// Handler serves /ui/.
type Handler struct {
	store      relais.Store
	lessons    *lessons.Service
	sched      *scheduler.Service
	households *roster.Importer
	tokens     *tokens.Service // checks the session's token; the admin page makes, rotates and revokes them
	audit      *audit.Log
	tus        http.Handler // the API, for the tus requests of resumable uploads (ui/uploads.go)
	tmpl       *templates.Set
	sessions   *sessions
	cfg        Config
	log        *slog.Logger
	mux        *http.ServeMux
	now        func() time.Time
	monitor    *asynqmon.HTTPHandler // nil without Config.Redis
	oidc       *oidcClient           // nil without Config.OIDC
}

// New builds the UI on the services of the JSON API (api.Server). secret keys the session cookies.
func New(store relais.Store, svc Services, tmpl *templates.Set, secret []byte, cfg Config, log *slog.Logger) *Handler {
	h := &Handler{store: store, lessons: svc.Lessons(), sched: svc.Schedule(), households: svc.Households(), tokens: svc.Tokens(), audit: svc.Audit(), tus: svc, tmpl: tmpl, sessions: newSessions(secret), cfg: cfg,
		log: log.With("comp", "ui"), mux: http.NewServeMux(), now: time.Now}
	if cfg.OIDC.Enabled() {
		h.oidc = &oidcClient{cfg: cfg.OIDC}
	}
	if cfg.Redis != nil {
		h.monitor = asynqmon.New(asynqmon.Options{RootPath: monitorPath, RedisConnOpt: cfg.Redis})
	}
	h.routes()
	return h
}

// monitorPath is where asynqmon is mounted.
const monitorPath = "/ui/admin/queues"

// Close releases the queue monitor's Redis connection.
func (h *Handler) Close() error {
	if h.monitor == nil {
		return nil
	}
	return h.monitor.Close()
}

// access says who may use a route.
type access int

const (
	public    access = iota // anyone, signed in or not
	anyUser                 // any signed-in role
	staff                   // media and admin
	admin                   // admin
	adminTool               // admin, in a mounted tool (asynqmon) whose script sends no CSRF token: a request
	// that changes something is checked by its Origin header instead
)

func (a access) allows(r relais.Role) bool {
	switch a {
	case public:
		return true
	case anyUser:
		return slices.Contains([]relais.Role{relais.RoleTeacher, relais.RoleMedia, relais.RoleAdmin}, r)
	case staff:
		return r == relais.RoleMedia || r == relais.RoleAdmin
	case admin, adminTool:
		return r == relais.RoleAdmin
	}
	return false
}

type route struct {
	pattern string
	access  access
	h       func(w http.ResponseWriter, r *http.Request, c *reqCtx)
}

func (h *Handler) table() []route {
	return []route{
		{"GET /ui/{$}", public, h.home},
		{"GET /ui/signin", public, h.signinForm},
		{"POST /ui/signin", public, h.signin},
		{"POST /ui/signout", anyUser, h.signout},
		{"GET /ui/oidc/start", public, h.oidcStart},
		{"GET /ui/oidc/callback", public, h.oidcCallback},
		{"POST /ui/lang", public, h.setLang},
		{"GET /ui/lessons", anyUser, h.lessonList},
		{"GET /ui/lessons/new", anyUser, h.newLesson},
		{"POST /ui/lessons", anyUser, h.createLesson},
		{"POST /ui/preview", anyUser, h.preview},
		// Resumable uploads, forwarded to the API's tus endpoint (ui/uploads.go).
		{"POST " + uiUploads, anyUser, h.forwardUpload},
		{"HEAD " + uiUploads + "/{id}", anyUser, h.forwardUpload},
		{"PATCH " + uiUploads + "/{id}", anyUser, h.forwardUpload},
		{"GET /ui/lessons/{id}", anyUser, h.lesson},
		{"GET /ui/lessons/{id}/renditions/{kind}", anyUser, h.withID("kind_lesson", h.lessonFile)},
		{"GET /ui/lessons/{id}/worksheet", anyUser, h.withID("kind_lesson", h.lessonFile)},
		{"GET /ui/publish", staff, h.publishList},
		{"POST /ui/lessons/{id}/publish", staff, h.publish},
		{"GET /ui/lessons/{id}/deliveries", staff, h.dashboard},
		{"POST /ui/lessons/{id}/resend-unknown", staff, h.withID("kind_lesson", h.resendUnknown)},
		{"GET /ui/dashboard", staff, h.overview},
		{"GET /ui/households", staff, h.householdsPage},
		{"GET /ui/households.csv", staff, h.exportHouseholds},
		{"GET /ui/lessons/{id}/deliveries.csv", staff, h.exportDeliveries},
		{"GET /ui/households/import", staff, h.importForm},
		{"POST /ui/households/import", staff, h.importHouseholds},
		// Broadcast approval, the publishing plan, stations, the grid and postal batches (review.go, plan.go,
		// stations.go, grid.go, slots.go, exports.go, postal.go).
		{"POST /ui/lessons/{id}/submit", anyUser, h.withID("kind_lesson", h.submitLesson)},
		{"GET /ui/review", staff, h.review},
		{"POST /ui/lessons/{id}/approve", staff, h.withID("kind_lesson", h.approveLesson)},
		{"POST /ui/lessons/{id}/reject", staff, h.withID("kind_lesson", h.rejectLesson)},
		{"GET /ui/lessons/{id}/plan", staff, h.plan},
		{"GET /ui/stations", staff, h.stations},
		{"POST /ui/stations", staff, h.createStation},
		{"GET /ui/stations/{id}/edit", staff, h.editStation},
		{"POST /ui/stations/{id}", staff, h.updateStation},
		{"GET /ui/stations/{id}/delete", staff, h.confirmDeleteStation},
		{"POST /ui/stations/{id}/delete", staff, h.withID("grid_station", h.deleteStation)},
		{"POST /ui/stations/{id}/templates", staff, h.withID("kind_station", h.addTemplate)},
		{"POST /ui/stations/{id}/slots", staff, h.withID("kind_station", h.addSlot)},
		{"POST /ui/stations/{id}/exceptions", staff, h.withID("kind_station", h.addException)},
		{"GET /ui/stations/{id}/epg", staff, h.withID("kind_station", h.stationEPG)},
		{"GET /ui/stations/{id}/playlist", staff, h.withID("kind_station", h.stationPlaylist)},
		{"GET /ui/grid", staff, h.grid},
		{"POST /ui/slots/{id}/assign", staff, h.assignSlot},
		{"POST /ui/slots/{id}/unassign", staff, h.unassignSlot},
		{"POST /ui/slots/{id}/sequence", staff, h.editSequence},
		{"POST /ui/schedule/fill", staff, h.autoFill},
		{"GET /ui/postal", staff, h.postalBatches},
		{"POST /ui/postal", staff, h.createPostalBatch},
		{"GET /ui/postal/{id}/pdf", staff, h.withID("kind_batch", h.postalFile)},
		{"GET /ui/postal/{id}/csv", staff, h.withID("kind_batch", h.postalFile)},
		{"POST /ui/postal/{id}/printed", staff, h.withID("kind_batch", h.markPostalPrinted)},
		{"POST /ui/postal/{id}/posted", staff, h.withID("kind_batch", h.markPostalPosted)},
		// API tokens and the audit log (tokens.go, audit.go).
		{"GET /ui/admin/tokens", admin, h.tokenList},
		{"POST /ui/admin/tokens", admin, h.createToken},
		{"POST /ui/admin/tokens/{id}/rotate", admin, h.withID("kind_token", h.rotateToken)},
		{"POST /ui/admin/tokens/{id}/revoke", admin, h.withID("kind_token", h.revokeToken)},
		{"GET /ui/admin/audit", admin, h.auditLog},
		{"GET /ui/admin/audit.csv", admin, h.auditExport},
		// The SMS sender pool (senders.go).
		{"GET /ui/admin/senders", admin, h.smsSenders},
		{monitorPath + "/", adminTool, h.queueMonitor},
	}
}

func (h *Handler) routes() {
	for _, rt := range h.table() {
		h.mux.Handle(rt.pattern, h.guard(rt))
	}
	sub, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	h.mux.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files only: a directory (the folder itself) is not found rather than listed.
		name := strings.TrimPrefix(r.URL.Path, "/ui/static/")
		if st, err := fs.Stat(sub, name); name == "" || err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}

// ServeHTTP sets the headers every page carries and routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// reqCtx is what a handler knows of the request: the user (zero when signed out), their token, the
// CSRF token forms must carry, and the UI language.
type reqCtx struct {
	user    relais.User
	token   string // empty for a user signed in through the OpenID provider
	idToken string // the OpenID provider's ID token of the sign-in, for its sign-out
	csrf    string
	lang    string
}

func (c *reqCtx) signedIn() bool { return c.user.ID != "" }

// asUser makes req, a tus request forwarded to the API, the signed-in user's: their token or, signed in
// through the OpenID provider, the user itself in its context, and the page's language for the API's
// error messages.
func (c *reqCtx) asUser(req *http.Request) *http.Request {
	req.Header.Set("Accept-Language", c.lang)
	if c.token == "" {
		return req.WithContext(relais.ContextWithUser(req.Context(), c.user))
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return req
}

// withID adapts a handler of one resource to a route: it reads the route's {id} first, the prologue
// every such handler shares; kind is the UI key naming what the id is of, for the message.
func (h *Handler) withID(kind string, f func(w http.ResponseWriter, r *http.Request, c *reqCtx, id int64)) func(http.ResponseWriter, *http.Request, *reqCtx) {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) {
		id, err := pathNumber(r, c, kind)
		if err != nil {
			h.fail(w, r, c, err)
			return
		}
		f(w, r, c, id)
	}
}

// sessionUser returns the user a session names: the holder of its API token, or the staff user signed
// in through the OpenID provider (their role as the provider's claims gave it at that sign-in).
func (h *Handler) sessionUser(ctx context.Context, s session) (relais.User, error) {
	if s.Token != "" {
		t, err := h.tokens.Authenticate(ctx, s.Token)
		return t.User, err
	}
	return h.store.StaffUser(ctx, s.UserID)
}

// guard resolves the session, checks the route's role and, on a request that changes something, the
// CSRF token.
func (h *Handler) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &reqCtx{lang: pickLang(r)}
		if s, ok := h.sessions.open(r, h.now()); ok {
			u, err := h.sessionUser(r.Context(), s)
			if err == nil {
				c.user, c.token, c.csrf, c.idToken = u, s.Token, s.CSRF, s.IDToken
			} else if relais.ErrorCode(err) != relais.EUNAUTHORIZED && relais.ErrorCode(err) != relais.ENOTFOUND {
				h.fail(w, r, c, err)
				return
			}
		}
		if !c.signedIn() {
			c.csrf = h.preCSRF(w, r)
		}
		if rt.access != public && !c.signedIn() {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.fail(w, r, c, relais.Errorf(relais.EUNAUTHORIZED, "%s", c.t("err_signin")))
			return
		}
		if !rt.access.allows(c.user.Role) {
			h.fail(w, r, c, relais.Errorf(relais.EFORBIDDEN, "%s", c.t("err_forbidden")))
			return
		}
		if changes := r.Method != http.MethodGet && r.Method != http.MethodHead; changes && rt.access == adminTool && !sameOrigin(r) ||
			changes && rt.access != adminTool && !h.csrfOK(r, c) {
			h.fail(w, r, c, relais.Errorf(relais.EFORBIDDEN, "%s", c.t("err_csrf")))
			return
		}
		rule, audited := auditedPages[rt.pattern]
		if !audited {
			rt.h(w, r, c)
			return
		}
		rec := httpstatus.NewRecorder(w)
		rt.h(rec, r, c)
		if rec.Status < 400 {
			h.audit.Record(r, c.user, rule)
		}
	})
}

// page is what every template receives.
type page struct {
	T     map[string]string
	Lang  string
	Langs []langChoice // the language picker
	// LangNames names each language in itself ("kk": "Қазақша"), for lessons' and slots' languages.
	LangNames map[string]string
	User      relais.User
	Staff     bool
	CSRF      string
	Path      string
	Title     string
	Error     string
	Refresh   int // seconds; 0: no automatic refresh
	Data      any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, name, titleKey string, data any) {
	p := page{T: messages[c.lang], Lang: c.lang, Langs: langChoices(c.lang), LangNames: langNames, User: c.user,
		Staff: staff.allows(c.user.Role), CSRF: c.csrf, Path: r.URL.RequestURI(), Title: c.t(titleKey), Data: data}
	if e, ok := data.(pageError); ok {
		p.Error, p.Data = e.msg, e.data
	}
	if rf, ok := data.(refreshing); ok {
		p.Refresh = rf.refresh()
	}
	var buf bytes.Buffer
	if err := h.tmpl.Page(&buf, name, p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageError carries a message shown above a page's data (a form shown again with what was wrong).
type pageError struct {
	msg  string
	data any
}

// refreshing is page data that asks the browser to reload it every few seconds while something moves.
type refreshing interface{ refresh() int }

// fail shows an error page; internal errors are logged once here and shown as "internal error".
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	h.render(w, r, c, relais.HTTPStatus(relais.ErrorCode(err)), "ui_error", "error", pageError{msg: h.message(w, r, c, err)})
}

// refuse shows a refusal of err with show, on the page the form came from (status and message in the
// page's language); an internal error gets the error page instead.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, c *reqCtx, err error, show func(status int, msg string)) {
	if relais.ErrorCode(err) == relais.EINTERNAL {
		h.fail(w, r, c, err)
		return
	}
	show(relais.HTTPStatus(relais.ErrorCode(err)), locale.Message(err, c.lang))
}

// message is what the user reads of err, in the page's language. An internal error is logged here,
// once, and shown as "internal error" with the request id.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) string {
	if relais.ErrorCode(err) != relais.EINTERNAL {
		return locale.Message(err, c.lang)
	}
	id := w.Header().Get("X-Request-Id")
	h.log.Error("internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	return c.t("err_internal") + " " + id
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeNext keeps a post-sign-in redirect on this site's /ui/ pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/ui/lessons"
	}
	return next
}

// queueMonitor serves asynqmon. Its page carries an inline script, so its policy allows one.
func (h *Handler) queueMonitor(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if h.monitor == nil {
		h.fail(w, r, c, relais.Errorf(relais.ENOTFOUND, "The queue monitor is not configured."))
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'")
	h.monitor.ServeHTTP(w, r)
}
