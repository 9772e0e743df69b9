// Package lessons is what teachers and the media unit do with lessons, whichever surface they use:
// upload one, read it with its renditions, digests and delivery counts, publish it, read its approval
// and publishing plan, and gather its postal packets into print runs. The JSON API (package api) and
// the web pages (package ui) are thin HTTP adapters over one Service, so both validate, authorise and
// refuse alike.
package lessons

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/scheduler"
)

// Queue is what the service asks of the job queue.
type Queue interface {
	Ingest(ctx context.Context, lessonID int64) error
	Publish(ctx context.Context, lessonID int64) error
}

// UnknownQueue is the queue's capability of sending again a lesson's deliveries whose outcome is
// unknown. queue.Client has it; the service finds it on its Queue by type assertion.
type UnknownQueue interface {
	ResendUnknown(ctx context.Context, lessonID int64) error
}

// PostalQueue is the queue's postal capability: making a batch's files. queue.Client has it; the
// service finds it on its Queue by type assertion.
type PostalQueue interface {
	PostalBatch(ctx context.Context, batchID int64) error
}

// Config for the service.
type Config struct {
	MediaDir       string // uploads are kept under MediaDir/lessons/ID, unless Media is set
	MaxUploadBytes int64  // one lesson upload, media and worksheet together
	// Media keeps the uploads and serves the lessons' files; nil: the directory MediaDir.
	Media relais.MediaStore
	// TempDir is where a direct upload is written before it goes into Media; empty: MediaDir/uploads.
	TempDir string
	// MediaLinkTTL, when Media presigns (object storage), answers file downloads with a redirect to
	// an address valid this long instead of streaming them through Relais; 0: stream.
	MediaLinkTTL  time.Duration
	DefaultBudget int // SMS segments per digest when the upload does not say
	// Plan is what the publishing plan assumes where the request does not say (RELAIS_SMS_RATE,
	// RELAIS_EMAIL_RATE...); zero: scheduler.DefaultPlanConfig.
	Plan scheduler.PlanConfig
	// Channels are the channels a plan counts (scheduler.Planner.Channels).
	Channels *channels.Registry
	// PickLists are the configured subjects and regions an upload must use (empty lists: any).
	PickLists relais.PickLists
}

// Service runs lessons on a store and a queue.
type Service struct {
	store   relais.Store
	queue   Queue
	uploads Uploads
	cfg     Config
	now     relais.Clock
	media   relais.MediaStore
}

// New returns a Service. uploads holds finished resumable uploads (nil: none can be named); now
// decides the plan's default time (nil: time.Now).
func New(store relais.Store, q Queue, uploads Uploads, cfg Config, now relais.Clock) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.Plan.IsZero() {
		cfg.Plan = scheduler.DefaultPlanConfig()
	}
	media := cfg.Media
	if media == nil {
		media = mediastore.NewDir(cfg.MediaDir)
	}
	if cfg.TempDir == "" {
		cfg.TempDir = filepath.Join(cfg.MediaDir, "uploads")
	}
	return &Service{store: store, queue: q, uploads: uploads, cfg: cfg, now: now, media: media}
}

// Visible returns lesson id when u may see it; a teacher sees only their own, and another teacher's
// lesson is reported as not found so ids leak nothing.
func (s *Service) Visible(ctx context.Context, u relais.User, id int64) (relais.Lesson, error) {
	l, err := s.store.Lesson(ctx, id)
	if err != nil {
		return l, err
	}
	if !u.CanSeeAllLessons() && l.TeacherID != u.ID {
		return relais.Lesson{}, relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", id)
	}
	return l, nil
}

// Publish publishes a ready lesson and queues its fan-out; publishing a published lesson again only
// queues it again, which is harmless. lang is the language of the refusal's reason.
func (s *Service) Publish(ctx context.Context, u relais.User, id int64, lang string) (relais.Lesson, error) {
	l, err := s.Visible(ctx, u, id)
	if err != nil {
		return l, err
	}
	switch l.Status {
	case relais.LessonReady:
		if err := s.store.SetLessonStatus(ctx, id, relais.LessonPublished, nil); err != nil {
			return l, err
		}
	case relais.LessonPublished:
		// Publishing twice is harmless: the fan-out is keyed by lesson and page.
	case relais.LessonUploaded, relais.LessonProcessing:
		return l, relais.Errorf(relais.ECONFLICT, "The lesson is still being processed (%s, %d %%); publish it when its status is ready.", orDash(l.Step), l.Progress)
	default:
		return l, relais.Errorf(relais.ECONFLICT, "The lesson cannot be published: it was %s (%s).", l.Status, l.Reason(lang))
	}
	if err := s.queue.Publish(ctx, id); err != nil {
		return l, err
	}
	return s.store.Lesson(ctx, id)
}

// ResendUnknown sends again, in one action of the media unit, a published lesson's deliveries whose
// outcome is unknown: their send attempt stopped before the provider answered, on a channel that
// cannot be asked (email). Relais under-sends rather than over-sends: nothing resends them by itself.
func (s *Service) ResendUnknown(ctx context.Context, u relais.User, id int64, lang string) (relais.Lesson, error) {
	l, err := s.Visible(ctx, u, id)
	if err != nil {
		return l, err
	}
	if l.Status != relais.LessonPublished {
		return l, relais.Errorf(relais.ECONFLICT, "Only a published lesson has deliveries to send again; this one is %s.", l.Status)
	}
	q, ok := s.queue.(UnknownQueue)
	if !ok {
		return l, errors.New("the queue cannot resend deliveries")
	}
	if err := q.ResendUnknown(ctx, id); err != nil {
		return l, err
	}
	return s.store.Lesson(ctx, id)
}

func orDash(s string) string {
	if s == "" {
		return "waiting"
	}
	return s
}

// Approval returns the broadcast approval of a lesson u may see (not found when never submitted).
func (s *Service) Approval(ctx context.Context, u relais.User, id int64) (relais.Approval, error) {
	if _, err := s.Visible(ctx, u, id); err != nil {
		return relais.Approval{}, err
	}
	return s.store.Approval(ctx, id)
}
