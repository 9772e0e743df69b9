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
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/templates"
)

// Queue is what the API asks of the job queue.
type Queue interface {
	Ingest(ctx context.Context, lessonID int64) error
	Publish(ctx context.Context, lessonID int64) error
	// Resend sends an email delivery again after a soft bounce.
	Resend(ctx context.Context, deliveryID int64) error
	// RescheduleReminders queues a lesson's broadcast reminders again after its slots changed.
	RescheduleReminders(ctx context.Context, lessonID int64) error
}

// Config for the API.
type Config struct {
	MediaDir       string // uploads are kept under MediaDir/lessons/ID
	MaxUploadBytes int64  // one lesson upload, media and worksheet together
	MaxImportBytes int64  // one household CSV
	MaxImportRows  int
	DefaultCountry string // for phone numbers without a + prefix
	DefaultBudget  int    // SMS segments per digest when the upload does not say
	// Channels are the channels publishing plans count (see scheduler.Planner.Channels).
	Channels *channels.Registry
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
	// sched runs the stations' grids and the approvals on store.
	sched *scheduler.Service
	// uploads serves resumable uploads (api/uploads.go).
	uploads *uploads
}

// New builds the API. ready is called by /readyz (store and Redis checks).
func New(store relais.Store, q Queue, signer *links.Signer, tmpl *templates.Set, cfg Config, log *slog.Logger,
	ready func(context.Context) error) *Server {
	s := &Server{store: store, queue: q, links: signer, tmpl: tmpl, cfg: cfg, log: log.With("comp", "api"), ready: ready,
		mux: http.NewServeMux(), now: time.Now}
	s.sched = scheduler.New(store, store, func() time.Time { return s.now() })
	s.uploads = newUploads(cfg, s.log)
	s.routes()
	return s
}

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
)

func (s *Server) apiRoutes() []route {
	return []route{
		{"POST /api/v1/lessons", anyRole, s.createLesson},
		{"GET /api/v1/lessons", anyRole, s.listLessons},
		{"GET /api/v1/lessons/{id}", anyRole, s.getLesson},
		{"GET /api/v1/lessons/{id}/renditions/{kind}", anyRole, s.getRenditionFile},
		{"GET /api/v1/lessons/{id}/worksheet", anyRole, s.getWorksheetFile},
		{"POST /api/v1/lessons/{id}/publish", staffRole, s.publishLesson},
		{"GET /api/v1/households", staffRole, s.listHouseholds},
		{"POST /api/v1/households/import", staffRole, s.importHouseholds},
		{"GET /api/v1/deliveries", anyRole, s.listDeliveries},
		{"GET /api/v1/deliveries/timeline", anyRole, s.deliveryTimeline},
		{"GET /api/v1/deliveries/{id}", anyRole, s.getDelivery},
		// The broadcast scheduler (api/schedule.go).
		{"GET /api/v1/stations", anyRole, s.listStations},
		{"POST /api/v1/stations", staffRole, s.createStation},
		{"PATCH /api/v1/stations/{id}", staffRole, s.updateStation},
		{"DELETE /api/v1/stations/{id}", staffRole, s.deleteStation},
		{"POST /api/v1/stations/{id}/templates", staffRole, s.addTemplate},
		{"POST /api/v1/stations/{id}/slots", staffRole, s.addSlot},
		{"GET /api/v1/stations/{id}/slots", anyRole, s.listSlots},
		{"POST /api/v1/stations/{id}/exceptions", staffRole, s.addException},
		{"GET /api/v1/stations/{id}/epg", anyRole, s.getEPG},
		{"GET /api/v1/stations/{id}/playlist", staffRole, s.getPlaylist},
		{"PUT /api/v1/slots/{id}/lesson", staffRole, s.assignSlot},
		{"DELETE /api/v1/slots/{id}/lesson", staffRole, s.unassignSlot},
		{"POST /api/v1/schedule/fill", staffRole, s.autoFill},
		{"POST /api/v1/lessons/{id}/submit", anyRole, s.submitLesson},
		{"POST /api/v1/lessons/{id}/approve", staffRole, s.approveLesson},
		{"POST /api/v1/lessons/{id}/reject", staffRole, s.rejectLesson},
		{"GET /api/v1/lessons/{id}/approval", anyRole, s.getApproval},
		{"GET /api/v1/lessons/{id}/plan", staffRole, s.getPlan},
		// Postal batches and bounce intake (api/postal.go, api/bounces.go).
		{"POST /api/v1/postal-batches", staffRole, s.createPostalBatch},
		{"GET /api/v1/postal-batches", staffRole, s.listPostalBatches},
		{"GET /api/v1/postal-batches/{id}", staffRole, s.getPostalBatch},
		{"GET /api/v1/postal-batches/{id}/pdf", staffRole, s.getPostalBatchPDF},
		{"GET /api/v1/postal-batches/{id}/csv", staffRole, s.getPostalBatchCSV},
		{"POST /api/v1/postal-batches/{id}/printed", staffRole, s.markPostalBatchPrinted},
		{"POST /api/v1/postal-batches/{id}/posted", staffRole, s.markPostalBatchPosted},
		{"POST /api/v1/bounces", staffRole, s.importBounce},
		// Resumable uploads, the tus protocol (api/uploads.go).
		{"POST /api/v1/uploads", anyRole, s.serveUpload},
		{"HEAD /api/v1/uploads/{id}", anyRole, s.serveUpload},
		{"PATCH /api/v1/uploads/{id}", anyRole, s.serveUpload},
		{"DELETE /api/v1/uploads/{id}", anyRole, s.serveUpload},
	}
}

// Routes lists the patterns the server answers, for the documentation test.
func (s *Server) Routes() []string {
	out := []string{"GET /livez", "GET /readyz", "GET /l/{token}", "GET /l/{token}/audio", "GET /l/{token}/worksheet"}
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
	s.mux.HandleFunc("GET /l/{token}/audio", s.lessonPageAudio)
	s.mux.HandleFunc("GET /l/{token}/worksheet", s.lessonPageWorksheet)
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
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	start := s.now()
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic", "request_id", id, "method", r.Method, "path", r.URL.Path, "panic", p)
			writeError(rec, r, relais.Errorf(relais.EINTERNAL, "internal error"), s.log)
		}
		s.log.Debug("request", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"ms", s.now().Sub(start).Milliseconds())
	}()
	s.mux.ServeHTTP(rec, r)
}

type requestIDKey struct{}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

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
