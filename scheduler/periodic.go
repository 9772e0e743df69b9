package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/mediastore"
)

// TypeEveningExports is the periodic task that writes tomorrow's guide and playlist of every station
// whose local evening it is.
const TypeEveningExports = "schedule:evening-exports"

// QueueSchedule is the queue of the scheduler's periodic tasks.
const QueueSchedule = "schedule"

// Exporter writes each station's guide and playout list for its next day into Dir/station-ID/DAY.xml and
// DAY.json (ffplayout) or DAY.m3u, or with Media set, to playout/station-ID/DAY.xml... in the media
// store (object storage shared by several machines). Files are replaced whole, so running twice is
// harmless.
type Exporter struct {
	Service *Service
	Dir     string
	Media   relais.MediaStore
	Hour    int // local hour at which a station's next day is written
	Now     relais.Clock
	Log     *slog.Logger
}

// Run writes the next day of every station whose local hour is e.Hour, and rewrites the days already
// written that have not ended. It returns the files written. One station's failure (a lesson without
// its rendition) does not stop the others; all failures are returned together.
func (e *Exporter) Run(ctx context.Context) ([]string, error) {
	sts, err := e.Service.store.Stations(ctx)
	if err != nil {
		return nil, err
	}
	now := e.Now
	if now == nil {
		now = time.Now
	}
	var written []string
	var errs []error
	for _, st := range sts {
		loc, err := st.Location()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		local := now().In(loc)
		for i, day := range []string{civil(local, 0), civil(local, 1)} {
			// Tomorrow is written in the evening; a day already written (today, or tomorrow after the
			// evening) is written again, so a change to its slots reaches playout within the hour.
			if !(i == 1 && local.Hour() == e.Hour) && !e.exported(st, day) {
				continue
			}
			files, err := e.station(ctx, st, day)
			written = append(written, files...)
			if err != nil {
				errs = append(errs, fmt.Errorf("station %d, %s: %w", st.ID, day, err))
			}
		}
	}
	return written, errors.Join(errs...)
}

// pruneWindow is how many days before the cut-off Prune looks at: a process stopped for longer leaves
// the older days' files behind.
const pruneWindow = 14

// Prune removes the playout exports (guide and list, in either list format) of the days before
// before's day in each station's zone, looking back pruneWindow days, and returns how many files were
// there. A day not exported, or already removed, is no error.
func (e *Exporter) Prune(ctx context.Context, before time.Time) (int, error) {
	sts, err := e.Service.store.Stations(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune playout exports: %w", err)
	}
	removed := 0
	var errs []error
	for _, st := range sts {
		loc, err := time.LoadLocation(st.TimeZone)
		if err != nil {
			errs = append(errs, fmt.Errorf("station %d: %w", st.ID, err))
			continue
		}
		for n := 1; n <= pruneWindow; n++ {
			day := civil(before.In(loc), -n)
			for _, name := range []string{day + ".xml", day + ".json", day + ".m3u"} {
				m, key := e.store(st, name)
				at := key
				if d, ok := m.(*mediastore.Dir); ok {
					at = filepath.Join(d.Root, filepath.FromSlash(key))
				}
				o, err := m.Open(ctx, at)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				} else if err == nil {
					o.Close()
				}
				if err := m.Remove(ctx, at); err != nil {
					errs = append(errs, fmt.Errorf("station %d, %s: %w", st.ID, name, err))
					continue
				}
				removed++
			}
		}
	}
	return removed, errors.Join(errs...)
}

// civil returns the local day n days after t's, as "2006-01-02".
func civil(t time.Time, n int) string {
	return time.Date(t.Year(), t.Month(), t.Day()+n, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// store returns where the files go, and the key of a station's file name in it.
func (e *Exporter) store(st relais.Station, name string) (relais.MediaStore, string) {
	key := fmt.Sprintf("station-%d/%s", st.ID, name)
	if e.Media != nil {
		return e.Media, "playout/" + key
	}
	return mediastore.NewDir(e.Dir), key
}

// exported reports whether the guide of st for day was written before.
func (e *Exporter) exported(st relais.Station, day string) bool {
	m, key := e.store(st, day+".xml")
	loc := key
	if d, ok := m.(*mediastore.Dir); ok {
		loc = filepath.Join(d.Root, filepath.FromSlash(key))
	}
	o, err := m.Open(context.Background(), loc)
	if err == nil {
		o.Close()
	}
	return err == nil
}

// writeFile replaces a station's file with b, whole: playout never reads half a list.
func (e *Exporter) writeFile(ctx context.Context, st relais.Station, name string, b []byte) (string, error) {
	m, key := e.store(st, name)
	return m.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}

func (e *Exporter) station(ctx context.Context, st relais.Station, day string) ([]string, error) {
	// One read serves both: the guide is the day's slots, the playout day runs from the station's day
	// start to the next day's.
	_, ps, err := e.Service.Programmes(ctx, st.ID, day, nextDay(day))
	if err != nil {
		return nil, err
	}
	var guide bytes.Buffer
	if err := WriteXMLTV(&guide, st, onDay(ps, day)); err != nil {
		return nil, err
	}
	xmlPath, err := e.writeFile(ctx, st, day+".xml", guide.Bytes())
	if err != nil {
		return nil, err
	}
	pl, err := BuildPlaylist(st, day, ps, "")
	if err != nil {
		return []string{xmlPath}, err
	}
	var list bytes.Buffer
	ext := ".json"
	if st.Playout == relais.FormatM3U {
		ext = ".m3u"
		err = WriteM3U(&list, pl)
	} else {
		err = WriteFFplayout(&list, pl)
	}
	if err != nil {
		return []string{xmlPath}, err
	}
	listPath, err := e.writeFile(ctx, st, day+ext, list.Bytes())
	if err != nil {
		return []string{xmlPath}, err
	}
	return []string{xmlPath, listPath}, nil
}

// Periodic runs the exporter on asynq: a scheduler enqueues TypeEveningExports on Cron (unique, so
// several processes running it enqueue it once) and a one-worker server handles it.
type Periodic struct {
	sched *asynq.Scheduler
	srv   *asynq.Server
	log   *slog.Logger
	once  sync.Once
}

// StartPeriodic registers the task on cron (default "0 * * * *": every hour, so each station gets its
// next day at its own local e.Hour) and starts the scheduler and its worker.
func StartPeriodic(redis asynq.RedisConnOpt, cron string, e *Exporter) (*Periodic, error) {
	if cron == "" {
		cron = "0 * * * *"
	}
	log := e.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("comp", "scheduler")
	p := &Periodic{log: log}
	p.sched = asynq.NewScheduler(redis, &asynq.SchedulerOpts{Logger: asynqLogger{log}, LogLevel: asynq.WarnLevel})
	if _, err := p.sched.Register(cron, asynq.NewTask(TypeEveningExports, nil),
		asynq.Queue(QueueSchedule), asynq.Unique(50*time.Second), asynq.MaxRetry(3)); err != nil {
		return nil, fmt.Errorf("register %s: %w", TypeEveningExports, err)
	}
	p.srv = asynq.NewServer(redis, asynq.Config{Concurrency: 1, Queues: map[string]int{QueueSchedule: 1},
		Logger: asynqLogger{log}, LogLevel: asynq.WarnLevel, ShutdownTimeout: 10 * time.Second})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeEveningExports, func(ctx context.Context, _ *asynq.Task) error {
		files, err := e.Run(ctx)
		if len(files) > 0 {
			log.Info("wrote tomorrow's guides and playlists", "files", len(files))
		}
		return err
	})
	if err := p.srv.Start(mux); err != nil {
		return nil, fmt.Errorf("start the scheduler's worker: %w", err)
	}
	if err := p.sched.Start(); err != nil {
		p.srv.Shutdown()
		return nil, fmt.Errorf("start the periodic scheduler: %w", err)
	}
	return p, nil
}

// Shutdown stops the scheduler, then its worker. Calling it again does nothing.
func (p *Periodic) Shutdown() {
	p.once.Do(func() {
		p.sched.Shutdown()
		p.srv.Shutdown()
	})
}

// asynqLogger adapts slog to asynq's Logger.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }

// onDay keeps the programmes of day's slots.
func onDay(ps []Programme, day string) []Programme {
	var out []Programme
	for _, p := range ps {
		if p.Slot.Day == day {
			out = append(out, p)
		}
	}
	return out
}
