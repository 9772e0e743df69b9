package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/fanout"
	"github.com/relais-edu/relais/internal/redisurl"
	"github.com/relais-edu/relais/mediastore"
)

// Pipeline is the media and text work the lesson tasks call. main wires it to the ingest, SMS and
// worksheet packages; keeping it as functions keeps this package free of FFmpeg and PDF code.
type Pipeline struct {
	// Probe validates an upload, at a location of the media store. A refusal is a *relais.Error with
	// code invalid whose message the teacher reads; any other error is retried.
	Probe func(ctx context.Context, loc string) (time.Duration, error)
	// Render makes the TV, radio and low-bandwidth renditions and puts them into the media store, all
	// complete, under lessons/ID/; their Path is their location there.
	Render func(ctx context.Context, l relais.Lesson, progress func(step string, percent int)) ([]relais.Rendition, error)
	// Digests writes the SMS digest of the lesson in every language, saying when and where it airs.
	Digests func(ctx context.Context, l relais.Lesson, airings []relais.Airing) ([]relais.Digest, error)
	// Airings lists the lesson's coming broadcasts (from the scheduler), the first on each station; nil
	// when there is none.
	Airings func(ctx context.Context, lessonID int64) ([]relais.Airing, error)
	// AllAirings lists every coming broadcast of the lesson, re-runs included, in time order: each
	// gets its reminders. Nil: Airings stands in for it.
	AllAirings func(ctx context.Context, lessonID int64) ([]relais.Airing, error)
	// GradeSchedule lists the week's broadcasts for a grade from from, on the stations a region
	// receives, with their lessons' titles: the schedule printed on postal cover letters.
	GradeSchedule func(ctx context.Context, grade int, region string, from time.Time) ([]relais.Airing, error)
	// Worksheet validates the teacher's PDF, or renders one from the lesson text into the media store.
	Worksheet func(ctx context.Context, l relais.Lesson) (relais.Worksheet, error)

	// PlanParts decides how a lesson is transcoded: 0 by Render in one process, or n > 0 parts of its
	// picture (RenderPart 0 to n-1) and its whole sound (RenderPart n), rendered by several workers at
	// once into the media store and then joined by JoinParts into the renditions Render would make.
	// Nil: always Render.
	PlanParts func(ctx context.Context, l relais.Lesson) (int, error)
	// RenderPart renders one part; running it again renders it again, in the same place.
	RenderPart func(ctx context.Context, l relais.Lesson, part int, progress func(step string, percent int)) error
	// JoinParts joins the parts into the renditions, in their places as Render puts them.
	JoinParts func(ctx context.Context, l relais.Lesson) ([]relais.Rendition, error)
	// RemoveParts removes what the parts of a lesson left in the media store; none is no error.
	RemoveParts func(ctx context.Context, lessonID int64) error
}

// SendWindow returns when a message to h on ch may go out: now, or the end of the quiet hours in the
// household's time zone. It is asked for the channels that keep quiet hours
// (channels.QuietHoursKeeper). Nil means any time.
type SendWindow func(h relais.Household, ch relais.ChannelName, now time.Time) time.Time

// Links builds the signed public addresses put in messages.
type Links struct {
	Lesson      func(lessonID, householdID int64) string
	Unsubscribe func(h relais.Household) string
}

// Config tunes the workers.
type Config struct {
	MediaDir string // postal batches go under MediaDir/postal, unless Media is set
	// Media keeps the postal batches' files and reads the worksheets they print; nil: the directory
	// MediaDir.
	Media            relais.MediaStore
	Concurrency      int // send, fan-out and text tasks at once
	MediaConcurrency int // probes and transcodes at once (CPU-bound)
	MaxRetry         int
	FanoutPageSize   int                        // households per fan-out page (one transaction)
	FanoutSegment    int64                      // household ids per segment fanned out in parallel; 0: one run
	FanoutSlice      time.Duration              // how long a fan-out task plans pages before it queues its continuation
	FanoutResume     time.Duration              // how long after an error a fan-out that planned some pages goes on (goOnLater)
	SendPageSize     map[relais.ChannelName]int // deliveries per send task, over the channel's own
	MaxSendBacklog   int                        // send tasks waiting in Redis before the fan-out waits
	BacklogWait      time.Duration              // how long a fan-out waits for a full backlog before giving its worker back
	ShutdownTimeout  time.Duration
	SendWindow       SendWindow // quiet hours; nil: none
	// ReminderLead is how long before an airing families get a reminder SMS; 0: no reminders.
	ReminderLead time.Duration
	// ClaimBatch is how many deliveries a send task claims, then records the outcomes of, at a time:
	// at most that many are left to reconcile when a worker dies mid-page.
	ClaimBatch int
	// OrphanAfter is how long a claim may go unrefreshed before the sweep takes it as its attempt's
	// death; SweepEvery how often each worker sweeps (0: never).
	OrphanAfter time.Duration
	SweepEvery  time.Duration
	// OutcomeRetry is how long a send task that ends with outcomes it could not commit (the database
	// restarting) tries again before it gives them up to the sweep, which calls an email unknown; less
	// than ShutdownTimeout, so that a worker stopping meanwhile still records them.
	OutcomeRetry time.Duration
	// StatusCheckAfter is how long a delivery may stay queued or sent before its status is fetched
	// from the provider (channels.StatusFetcher), every StatusCheckEvery; 0: never.
	StatusCheckAfter time.Duration
	StatusCheckEvery time.Duration
	// LessonRetryMax caps the wait between tries of a lesson's processing steps; 0: asynq's backoff.
	LessonRetryMax time.Duration
	// NoClaim sends a page as before the claim, with no claim and its outcomes recorded at its end (for
	// the benchmark measuring the claim's cost only: it does not hold under crashes).
	NoClaim bool
}

// DefaultConfig returns settings for one machine of 2 cores.
func DefaultConfig() Config {
	return Config{
		MediaDir:         "media",
		Concurrency:      20,
		MediaConcurrency: 1,
		MaxRetry:         10,
		FanoutPageSize:   1000,
		FanoutSegment:    25000,
		FanoutSlice:      5 * time.Second,
		FanoutResume:     2 * time.Second,
		SendPageSize:     map[relais.ChannelName]int{}, // each channel's own (channels.Pager)
		MaxSendBacklog:   2000,
		BacklogWait:      time.Second,
		ShutdownTimeout:  25 * time.Second,
		ClaimBatch:       10,
		OrphanAfter:      10 * time.Second,
		SweepEvery:       2 * time.Second,
		OutcomeRetry:     20 * time.Second,
		StatusCheckAfter: 15 * time.Minute,
		StatusCheckEvery: time.Minute,
		LessonRetryMax:   30 * time.Second,
	}
}

// Worker runs the task handlers on two asynq servers: one for media, one for everything else.
type Worker struct {
	store    relais.Store
	channels *channels.Registry
	ledger   *channels.Ledger
	outcomes *groupCommit // send tasks' outcomes, committed together when they come at once
	pipeline Pipeline
	links    Links
	client   *Client
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	// afterSend, in tests, runs after each provider call of a send task; die kills the attempt.
	afterSend func(die func())

	media *asynq.Server
	main  *asynq.Server
	rdb   redis.UniversalClient // task statistics (metrics.go)

	sweeper *sweeper
	// backlogWaiters counts the fan-out tasks waiting in this process for the send backlog to drain.
	backlogWaiters atomic.Int32
}

// NewWorker builds a worker; Start runs it.
func NewWorker(redis asynq.RedisConnOpt, store relais.Store, reg *channels.Registry, p Pipeline, links Links,
	client *Client, cfg Config, log *slog.Logger) *Worker {
	if cfg.Media == nil {
		cfg.Media = mediastore.NewDir(cfg.MediaDir)
	}
	w := &Worker{store: store, channels: reg, pipeline: p, links: links, client: client, cfg: cfg,
		log: log.With("comp", "worker"), now: time.Now, rdb: redisurl.Client(redis)}
	w.ledger = channels.NewLedger(store, client.RecordStatus)
	w.outcomes = newGroupCommit(store)
	base := asynq.Config{
		RetryDelayFunc:  cfg.retryDelay,
		IsFailure:       isFailure,
		Logger:          newAsynqLogger(w.log),
		ShutdownTimeout: cfg.ShutdownTimeout,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			w.log.Warn("task failed", "type", t.Type(), "err", err)
		}),
	}
	mc := base
	mc.Concurrency = max(cfg.MediaConcurrency, 1)
	mc.Queues = map[string]int{QueueMedia: 1}
	w.media = asynq.NewServer(redis, mc)
	oc := base
	oc.Concurrency = max(cfg.Concurrency, 1)
	oc.Queues = map[string]int{QueueDefault: 3, QueueSend: 6}
	oc.GroupAggregator = asynq.GroupAggregatorFunc(aggregateStatus)
	oc.GroupGracePeriod = time.Second
	oc.GroupMaxDelay = 2 * time.Second
	oc.GroupMaxSize = 500
	w.main = asynq.NewServer(redis, oc)
	return w
}

// Start runs both servers.
func (w *Worker) Start() error {
	mm := asynq.NewServeMux()
	mm.HandleFunc(TypeIngest, w.handleIngest)
	mm.HandleFunc(TypeTranscode, w.handleTranscode)
	mm.HandleFunc(TypeTranscodePart, w.handleTranscodePart)
	mm.HandleFunc(TypeTranscodeJoin, w.handleTranscodeJoin)
	om := asynq.NewServeMux()
	om.HandleFunc(TypeDigest, w.handleDigest)
	om.HandleFunc(TypeWorksheet, w.handleWorksheet)
	om.HandleFunc(TypeFanout, w.handleFanout)
	om.HandleFunc(TypePostalBatch, w.handlePostalBatch)
	om.HandleFunc(TypeSend, w.handleSend)
	om.HandleFunc(TypeStatusBatch, w.handleStatusBatch)
	om.HandleFunc(TypeResend, w.handleResend)
	om.HandleFunc(TypeRemind, w.handleRemind)
	om.HandleFunc(TypeResendUnknown, w.handleResendUnknown)
	om.HandleFunc(TypeRemindPlan, func(ctx context.Context, t *asynq.Task) error {
		var p LessonPayload
		if err := decode(t, &p); err != nil {
			return err
		}
		return w.ScheduleReminders(ctx, p.LessonID)
	})
	om.HandleFunc(TypeStatus, w.handleStatusBatch) // a lone update that was not aggregated
	mm.Use(w.measure)
	om.Use(w.measure)
	if err := w.media.Start(mm); err != nil {
		return fmt.Errorf("start media worker: %w", err)
	}
	if err := w.main.Start(om); err != nil {
		w.media.Shutdown()
		return fmt.Errorf("start worker: %w", err)
	}
	w.startSweeper()
	return nil
}

// Shutdown stops taking tasks and waits for running ones (up to ShutdownTimeout); unfinished tasks go
// back to their queue.
func (w *Worker) Shutdown() {
	w.stopSweeper()
	w.main.Shutdown()
	w.media.Shutdown()
	if w.rdb != nil {
		w.rdb.Close()
	}
}

// fanout returns the fan-out rules: the policy over the registry's channels.
func (w *Worker) fanout() *fanout.Rules { return fanout.New(w.channels) }

// lastAttempt reports whether this run of the task is its last.
func lastAttempt(ctx context.Context) bool {
	n, ok1 := asynq.GetRetryCount(ctx)
	m, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && n >= m
}

// errBacklog makes a fan-out page wait while the send queue is full.
type errBacklog struct{ wait time.Duration }

func (e errBacklog) Error() string { return fmt.Sprintf("send backlog full, waiting %s", e.wait) }

// retryDelay honours a provider's Retry-After and the fan-out's backlog wait, else asynq's backoff,
// capped at LessonRetryMax for the steps of a lesson's processing: a teacher learns that a step failed
// for good within minutes (failIfLast on the last try), not after hours of backoff.
func (c Config) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	switch t.Type() {
	case TypeIngest, TypeTranscode, TypeTranscodePart, TypeTranscodeJoin, TypeDigest, TypeWorksheet:
		if c.LessonRetryMax > 0 {
			return min(retryDelay(n, err, t), c.LessonRetryMax)
		}
	}
	return retryDelay(n, err, t)
}

func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	var se *channels.SendError
	if errors.As(err, &se) && se.Kind == channels.Throttled && se.RetryAfter > 0 {
		return se.RetryAfter
	}
	var bl errBacklog
	if errors.As(err, &bl) {
		return bl.wait
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// isFailure: a throttled send or a waiting fan-out was not processed and does not use up a retry.
func isFailure(err error) bool {
	var se *channels.SendError
	if errors.As(err, &se) && se.Kind == channels.Throttled {
		return false
	}
	var bl errBacklog
	return !errors.As(err, &bl)
}

// aggregateStatus joins status updates into one batch task.
func aggregateStatus(group string, tasks []*asynq.Task) *asynq.Task {
	var b []byte
	b = append(b, '[')
	for i, t := range tasks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, t.Payload()...)
	}
	b = append(b, ']')
	return asynq.NewTask(TypeStatusBatch, b, asynq.MaxRetry(25))
}

// handleStatusBatch applies aggregated status updates in one transaction.
func (w *Worker) handleStatusBatch(ctx context.Context, t *asynq.Task) error {
	var as []relais.DeliveryAdvance
	if t.Type() == TypeStatus {
		as = make([]relais.DeliveryAdvance, 1)
		if err := decode(t, &as[0]); err != nil {
			return err
		}
	} else if err := decode(t, &as); err != nil {
		return err
	}
	// A batch holds callbacks in no particular order (asynq groups order tasks of the same instant
	// arbitrarily): apply each delivery's in pipeline order, or a "sent" read after its "delivered"
	// would be refused as a step back.
	slices.SortStableFunc(as, func(a, b relais.DeliveryAdvance) int {
		if a.ID != b.ID {
			return cmp.Compare(a.ID, b.ID)
		}
		return cmp.Compare(slices.Index(relais.DeliveryStatuses, a.Status), slices.Index(relais.DeliveryStatuses, b.Status))
	})
	_, err := w.store.AdvanceDeliveries(ctx, as)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		// A callback about a delivery that no longer exists: apply the others one by one.
		for _, a := range as {
			if _, err := w.store.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{a}); err != nil && relais.ErrorCode(err) != relais.ENOTFOUND {
				return err
			}
		}
		return nil
	}
	return err
}
