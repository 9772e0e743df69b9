// Package api serves Relais' JSON HTTP API (documented in docs/openapi.yaml), the health endpoints and
// the public family lesson page. Every /api route needs a bearer token; roles decide what it may do.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/audit"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/internal/httpstatus"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/roster"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/tokens"
)

// Queue is what the API asks of the job queue: the lesson service's tasks, and these.
type Queue interface {
	lessons.Queue
	// Resend sends an email delivery again after a soft bounce.
	Resend(ctx context.Context, deliveryID int64) error
	// RescheduleReminders queues a lesson's broadcast reminders again after its slots changed.
	RescheduleReminders(ctx context.Context, lessonID int64) error
}

// Config for the API.
type Config struct {
	MediaDir string // uploads are kept under MediaDir/lessons/ID, unless Media is set
	// Media keeps uploads and lesson files; nil: the directory MediaDir (lessons.Config.Media).
	Media relais.MediaStore
	// TempDir is where direct uploads are written before they go into Media; empty: MediaDir/uploads.
	TempDir string
	// MediaLinkTTL: file downloads redirect to presigned object-storage addresses valid this long; 0:
	// streamed through Relais.
	MediaLinkTTL time.Duration
	// Uploads, when set, keeps resumable uploads (object storage with a shared lock); nil: tusd's file
	// store under MediaDir/uploads/tus with file locks, for one machine.
	Uploads        *TusStore
	MaxUploadBytes int64 // one lesson upload, media and worksheet together
	MaxImportBytes int64 // one household CSV
	MaxImportRows  int
	DefaultCountry string // for phone numbers without a + prefix
	DefaultBudget  int    // SMS segments per digest when the upload does not say
	// Plan is what a publishing plan assumes when the request does not say: the configured SMS and email
	// rates and the reminder lead (main passes RELAIS_SMS_RATE and the others). Zero: the defaults.
	Plan scheduler.PlanConfig
	// Channels are the channels publishing plans count (see scheduler.Planner.Channels).
	Channels *channels.Registry
	// HSTS sends Strict-Transport-Security on every response: set it when the public URL is https.
	HSTS bool
	// PickLists are the subjects and regions uploads, templates, slots and stations must use
	// (RELAIS_SUBJECTS, RELAIS_REGIONS); empty lists accept any value.
	PickLists relais.PickLists
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		MediaDir:       "media",
		MaxUploadBytes: 2 << 30,
		MaxImportBytes: 64 << 20,
		MaxImportRows:  200_000,
		DefaultCountry: "FR",
		DefaultBudget:  3,
		Plan:           scheduler.DefaultPlanConfig(),
	}
}

// Server holds the API's dependencies.
type Server struct {
	store relais.Store
	queue Queue
	links *links.Signer
	cfg   Config
	log   *slog.Logger
	ready func(ctx context.Context) error
	mux   *http.ServeMux
	now   func() time.Time
	tmpl  *templates.Set
	// sched runs the stations' grids and the approvals on store; lessons runs uploads, publishing,
	// plans and postal batches; households imports CSVs. The UI calls the same services.
	sched      *scheduler.Service
	lessons    *lessons.Service
	households *roster.Importer
	// uploads serves resumable uploads (api/uploads.go).
	uploads *uploads
	// tokens checks API tokens; audit writes the audit log. The UI shares both.
	tokens *tokens.Service
	audit  *audit.Log
	// pages keeps rendered family pages a minute (api/familycache.go).
	pages *pageCache
}

// New builds the API. ready is called by /readyz (store and Redis checks).
func New(store relais.Store, q Queue, signer *links.Signer, tmpl *templates.Set, cfg Config, log *slog.Logger,
	ready func(context.Context) error) *Server {
	if cfg.Plan.IsZero() {
		cfg.Plan = scheduler.DefaultPlanConfig()
	}
	s := &Server{store: store, queue: q, links: signer, tmpl: tmpl, cfg: cfg, log: log.With("comp", "api"), ready: ready,
		mux: http.NewServeMux(), now: time.Now, pages: newPageCache()}
	now := func() time.Time { return s.now() }
	s.sched = scheduler.New(store, store, now)
	s.sched.RemindWith(q)
	s.sched.PickFrom(cfg.PickLists)
	if cfg.Media == nil {
		cfg.Media = mediastore.NewDir(cfg.MediaDir)
	}
	s.uploads = newUploads(cfg, cfg.Media, s.log)
	s.tokens = tokens.New(store, now)
	s.audit = audit.New(store, log)
	s.lessons = lessons.New(store, q, s.uploads, lessons.Config{MediaDir: cfg.MediaDir, Media: cfg.Media, TempDir: cfg.TempDir, MediaLinkTTL: cfg.MediaLinkTTL, MaxUploadBytes: cfg.MaxUploadBytes,
		DefaultBudget: cfg.DefaultBudget, Plan: cfg.Plan, Channels: cfg.Channels, PickLists: cfg.PickLists}, now)
	s.households = &roster.Importer{Store: store, MaxBytes: cfg.MaxImportBytes,
		Options: roster.Options{DefaultCountry: cfg.DefaultCountry, MaxRows: cfg.MaxImportRows}}
	s.routes()
	return s
}

// Lessons is the lesson service the API runs on, for the UI to share.
func (s *Server) Lessons() *lessons.Service { return s.lessons }

// Schedule is the scheduler service the API runs on, for the UI to share.
func (s *Server) Schedule() *scheduler.Service { return s.sched }

// Tokens is the token service the API authenticates with, for the UI's sign-in and admin page.
func (s *Server) Tokens() *tokens.Service { return s.tokens }

// Audit is the audit log the API writes, for the UI to write to as well.
func (s *Server) Audit() *audit.Log { return s.audit }

// Households is the household importer the API runs on, for the UI's import page to share.
func (s *Server) Households() *roster.Importer { return s.households }

// Mount adds a handler outside the API's auth (provider webhooks, which verify their own signatures).
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// route is one API endpoint: its pattern and the roles allowed (none: public).
type route struct {
	pattern string
	roles   []relais.Role
	h       func(http.ResponseWriter, *http.Request) error
}

var (
	anyRole   = []relais.Role{relais.RoleTeacher, relais.RoleMedia, relais.RoleAdmin}
	staffRole = []relais.Role{relais.RoleMedia, relais.RoleAdmin}
	adminRole = []relais.Role{relais.RoleAdmin}
)

func (s *Server) apiRoutes() []route {
	return []route{
		{"POST /api/v1/lessons", anyRole, s.createLesson},
		{"GET /api/v1/lessons", anyRole, s.listLessons},
		{"GET /api/v1/lessons/{id}", anyRole, withID(s.getLesson)},
		{"GET /api/v1/lessons/{id}/renditions/{kind}", anyRole, withID(s.getRenditionFile)},
		{"GET /api/v1/lessons/{id}/worksheet", anyRole, withID(s.getWorksheetFile)},
		{"POST /api/v1/lessons/{id}/publish", staffRole, withID(s.publishLesson)},
		{"POST /api/v1/lessons/{id}/resend-unknown", staffRole, withID(s.resendUnknown)},
		{"GET /api/v1/households", staffRole, s.listHouseholds},
		{"POST /api/v1/households/import", staffRole, s.importHouseholds},
		{"GET /api/v1/households/{id}/export", staffRole, s.exportHousehold},
		{"DELETE /api/v1/households/{id}", staffRole, s.eraseHousehold},
		{"GET /api/v1/users/{user}/classes", adminRole, s.getUserClasses},
		{"PUT /api/v1/users/{user}/classes", adminRole, s.putUserClasses},
		{"GET /api/v1/deliveries", anyRole, s.listDeliveries},
		{"GET /api/v1/deliveries/timeline", anyRole, s.deliveryTimeline},
		{"GET /api/v1/deliveries/{id}", anyRole, withID(s.getDelivery)},
		// The broadcast scheduler (api/schedule.go).
		{"GET /api/v1/stations", anyRole, s.listStations},
		{"POST /api/v1/stations", staffRole, s.createStation},
		{"PATCH /api/v1/stations/{id}", staffRole, withID(s.updateStation)},
		{"DELETE /api/v1/stations/{id}", staffRole, withID(s.deleteStation)},
		{"POST /api/v1/stations/{id}/templates", staffRole, withID(s.addTemplate)},
		{"POST /api/v1/stations/{id}/slots", staffRole, withID(s.addSlot)},
		{"GET /api/v1/stations/{id}/slots", anyRole, withID(s.listSlots)},
		{"POST /api/v1/stations/{id}/exceptions", staffRole, withID(s.addException)},
		{"GET /api/v1/stations/{id}/epg", anyRole, withID(s.getEPG)},
		{"GET /api/v1/stations/{id}/playlist", staffRole, withID(s.getPlaylist)},
		{"PUT /api/v1/slots/{id}/lesson", staffRole, withID(s.assignSlot)},
		{"DELETE /api/v1/slots/{id}/lesson", staffRole, withID(s.unassignSlot)},
		{"PUT /api/v1/slots/{id}/lessons", staffRole, withID(s.setSlotLessons)},
		{"POST /api/v1/schedule/fill", staffRole, s.autoFill},
		{"POST /api/v1/lessons/{id}/submit", anyRole, withID(s.submitLesson)},
		{"POST /api/v1/lessons/{id}/approve", staffRole, withID(s.approveLesson)},
		{"POST /api/v1/lessons/{id}/reject", staffRole, withID(s.rejectLesson)},
		{"GET /api/v1/lessons/{id}/approval", anyRole, withID(s.getApproval)},
		{"GET /api/v1/lessons/{id}/plan", staffRole, withID(s.getPlan)},
		// Postal batches and bounce intake (api/postal.go, api/bounces.go).
		{"POST /api/v1/postal-batches", staffRole, s.createPostalBatch},
		{"GET /api/v1/postal-batches", staffRole, s.listPostalBatches},
		{"GET /api/v1/postal-batches/{id}", staffRole, withID(s.getPostalBatch)},
		{"GET /api/v1/postal-batches/{id}/pdf", staffRole, withID(s.getPostalBatchPDF)},
		{"GET /api/v1/postal-batches/{id}/csv", staffRole, withID(s.getPostalBatchCSV)},
		{"POST /api/v1/postal-batches/{id}/printed", staffRole, withID(s.markPostalBatchPrinted)},
		{"POST /api/v1/postal-batches/{id}/posted", staffRole, withID(s.markPostalBatchPosted)},
		{"POST /api/v1/bounces", staffRole, s.importBounce},
		// Resumable uploads, the tus protocol (api/uploads.go).
		{"POST /api/v1/uploads", anyRole, s.serveUpload},
		{"HEAD /api/v1/uploads/{id}", anyRole, s.serveUpload},
		{"PATCH /api/v1/uploads/{id}", anyRole, s.serveUpload},
		{"DELETE /api/v1/uploads/{id}", anyRole, s.serveUpload},
		// The audit log, for admins (api/audit.go).
		{"GET /api/v1/audit", adminRole, s.listAudit},
		{"GET /api/v1/audit/export", adminRole, s.exportAudit},
		// The SMS sender pool, for admins (api/senders.go).
		{"GET /api/v1/sms/senders", adminRole, s.getSMSSenders},
	}
}

// Routes lists the patterns the server answers, for the documentation test.
func (s *Server) Routes() []string {
	out := []string{"GET /livez", "GET /readyz", "GET /l/{token}", "GET /l/{token}/audio", "GET /l/{token}/audio/{version}", "GET /l/{token}/worksheet"}
	for _, r := range s.apiRoutes() {
		out = append(out, r.pattern)
	}
	return out
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	for _, r := range s.apiRoutes() {
		s.mux.Handle(r.pattern, s.auth(r.h, r.roles...))
	}
	s.mux.HandleFunc("GET /l/{token}", s.lessonPage)
	noAudio := relais.Errorf(relais.ENOTFOUND, "The audio of this lesson is not ready yet.")
	noSheet := relais.Errorf(relais.ENOTFOUND, "This lesson has no worksheet yet.")
	s.mux.HandleFunc("GET /l/{token}/audio", s.familyFile(familyAudio, noAudio, nil))
	s.mux.HandleFunc("GET /l/{token}/audio/{version}", s.familyFile(familyAudio, noAudio, nil))
	s.mux.HandleFunc("GET /l/{token}/worksheet", s.familyFile(familyWorksheet, noSheet, inlinePDF))
}

// ServeHTTP gives every request an id, recovers panics into a 500, and logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set("X-Request-Id", id)
	s.secure(w.Header())
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	start := s.now()
	rec := httpstatus.NewRecorder(w)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", p)
			writeError(rec, r, relais.Errorf(relais.EINTERNAL, "internal error"), s.log)
		}
		s.log.Debug("request", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.Status,
			"ms", s.now().Sub(start).Milliseconds())
	}()
	s.mux.ServeHTTP(rec, r)
}

type requestIDKey struct{}

// Secure sets the security headers on every response of next, for what answers before the server
// does (the rate limiter's 429s); the server sets them again on its own.
func (s *Server) Secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.secure(w.Header())
		next.ServeHTTP(w, r)
	})
}

// secure sets the security headers of every response. The policy forbids everything: JSON needs
// nothing, and the pages (the family page, the web UI) set their own.
func (s *Server) secure(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	// Family links carry their token in the path: a page they open never sends it on.
	hd.Set("Referrer-Policy", "no-referrer")
	if s.cfg.HSTS {
		hd.Set("Strict-Transport-Security", "max-age=63072000")
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database"})
		return
	}
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, 200, map[string]string{"status": "ok"})
}
