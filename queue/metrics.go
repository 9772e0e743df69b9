package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Task statistics live in Redis beside the queues, so that /metrics, served by the API process, counts
// the work of every worker process, and counts survive a worker's restart. A run updates them in one
// transaction, so on Redis Cluster they share a hash slot: the {tasks} hash tag.
const (
	keyTasksProcessed = "relais:{tasks}:processed" // hash: task type -> runs finished
	keyTasksFailed    = "relais:{tasks}:failed"    // hash: task type -> runs that failed
	keyTranscode      = "relais:{tasks}:transcode" // hash: count, sum (seconds), le:BOUND (cumulative)
)

// TranscodeBuckets are the upper bounds, in seconds, of the transcode duration histogram.
var TranscodeBuckets = []float64{10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// TaskStats is the work the workers have done, as kept in Redis.
type TaskStats struct {
	Processed map[string]uint64 // task runs finished, by task type (a retry is another run)
	Failed    map[string]uint64 // task runs that failed, by task type; a throttled send or a waiting fan-out is no failure
	Transcode Histogram         // seconds of each transcode run
}

// Histogram is a Prometheus histogram: cumulative counts of observations at most each bound.
type Histogram struct {
	Count   uint64
	Sum     float64
	Buckets map[float64]uint64
}

// measure is the workers' middleware: it counts each run of a task by type, whether it failed, and how
// long a transcode took. Counting never fails a task: a Redis error is logged.
func (w *Worker) measure(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		if rerr := w.recordRun(t.Type(), err != nil && isFailure(err), time.Since(start)); rerr != nil {
			w.log.Warn("task metrics not recorded", "type", t.Type(), "err", rerr)
		}
		return err
	})
}

// recordRun adds one run of a task of type typ to the statistics in Redis.
func (w *Worker) recordRun(typ string, failed bool, took time.Duration) error {
	if w.rdb == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, keyTasksProcessed, typ, 1)
		if failed {
			p.HIncrBy(ctx, keyTasksFailed, typ, 1)
		}
		if typ == TypeTranscode {
			secs := took.Seconds()
			p.HIncrBy(ctx, keyTranscode, "count", 1)
			p.HIncrByFloat(ctx, keyTranscode, "sum", secs)
			for _, le := range TranscodeBuckets {
				if secs <= le {
					p.HIncrBy(ctx, keyTranscode, "le:"+strconv.FormatFloat(le, 'g', -1, 64), 1)
				}
			}
		}
		return nil
	})
	return err
}

// TaskStats reads what the workers recorded.
func (c *Client) TaskStats() (TaskStats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := TaskStats{Processed: map[string]uint64{}, Failed: map[string]uint64{}, Transcode: Histogram{Buckets: map[float64]uint64{}}}
	for _, le := range TranscodeBuckets {
		s.Transcode.Buckets[le] = 0
	}
	for key, into := range map[string]map[string]uint64{keyTasksProcessed: s.Processed, keyTasksFailed: s.Failed} {
		m, err := c.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return s, fmt.Errorf("read %s: %w", key, err)
		}
		for typ, v := range m {
			into[typ], _ = strconv.ParseUint(v, 10, 64)
		}
	}
	m, err := c.rdb.HGetAll(ctx, keyTranscode).Result()
	if err != nil {
		return s, fmt.Errorf("read %s: %w", keyTranscode, err)
	}
	for field, v := range m {
		switch {
		case field == "count":
			s.Transcode.Count, _ = strconv.ParseUint(v, 10, 64)
		case field == "sum":
			s.Transcode.Sum, _ = strconv.ParseFloat(v, 64)
		case strings.HasPrefix(field, "le:"):
			le, err := strconv.ParseFloat(strings.TrimPrefix(field, "le:"), 64)
			if err == nil {
				s.Transcode.Buckets[le], _ = strconv.ParseUint(v, 10, 64)
			}
		}
	}
	return s, nil
}
