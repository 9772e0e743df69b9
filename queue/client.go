package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/redisurl"
)

// Client enqueues work. The API holds one; so does every worker (handlers enqueue the next steps).
type Client struct {
	c    *asynq.Client
	insp *asynq.Inspector
	rdb  redis.UniversalClient // task statistics (metrics.go)
}

// NewClient connects to Redis.
func NewClient(opt asynq.RedisConnOpt) *Client {
	return &Client{c: asynq.NewClient(opt), insp: asynq.NewInspector(opt), rdb: redisurl.Client(opt)}
}

// Close releases the Redis connections.
func (c *Client) Close() error { return errors.Join(c.c.Close(), c.insp.Close(), c.rdb.Close()) }

// enqueue adds a task; a task with the same id already in Redis means the work is already queued, which
// is what a re-run handler wants, so it is not an error.
func (c *Client) enqueue(ctx context.Context, typ string, payload any, opts ...asynq.Option) error {
	t, err := newTask(typ, payload, opts...)
	if err != nil {
		return err
	}
	_, err = c.c.EnqueueContext(ctx, t)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", typ, err)
	}
	return nil
}

func lessonTaskID(typ string, lessonID int64) asynq.Option {
	return asynq.TaskID(typ + ":" + strconv.FormatInt(lessonID, 10))
}

// Ingest queues the probe of a new upload; the rest of the pipeline follows from it.
func (c *Client) Ingest(ctx context.Context, lessonID int64) error {
	return c.enqueue(ctx, TypeIngest, LessonPayload{LessonID: lessonID}, asynq.Queue(QueueMedia),
		lessonTaskID(TypeIngest, lessonID), asynq.MaxRetry(DefaultConfig().MaxRetry))
}

// Publish starts a lesson's fan-out at its first page.
func (c *Client) Publish(ctx context.Context, lessonID int64) error {
	return c.enqueue(ctx, TypeFanout, FanoutPayload{LessonID: lessonID}, asynq.Queue(QueueDefault),
		asynq.TaskID(fmt.Sprintf("%s:%d:0", TypeFanout, lessonID)))
}

// RecordStatus queues a provider's status callback. Webhooks answer the provider at once and the
// workers apply the updates in batches: a burst of callbacks never waits on the database, and nothing
// is lost when it is busy.
func (c *Client) RecordStatus(ctx context.Context, a relais.DeliveryAdvance) error {
	return c.enqueue(ctx, TypeStatus, a, asynq.Queue(QueueDefault), asynq.Group(statusGroup), asynq.MaxRetry(25))
}

// Resend queues an email delivery to be sent again (a soft bounce: its relay gave up on a temporary
// failure). The same delivery is not queued twice within an hour.
func (c *Client) Resend(ctx context.Context, deliveryID int64) error {
	return c.enqueue(ctx, TypeResend, ResendPayload{DeliveryID: deliveryID}, asynq.Queue(QueueSend),
		asynq.Unique(time.Hour), asynq.MaxRetry(5), asynq.ProcessIn(time.Minute))
}

// ResendUnknown asks the workers to send again the deliveries of a lesson whose outcome is unknown
// (their send attempt died before the provider answered, on a channel that cannot be asked).
func (c *Client) ResendUnknown(ctx context.Context, lessonID int64) error {
	return c.enqueue(ctx, TypeResendUnknown, LessonPayload{LessonID: lessonID}, asynq.Queue(QueueDefault),
		asynq.Unique(5*time.Second), asynq.MaxRetry(10))
}

// RescheduleReminders asks the workers to queue the reminders of a lesson's coming airings again, after
// one of its slots was assigned or moved.
func (c *Client) RescheduleReminders(ctx context.Context, lessonID int64) error {
	return c.enqueue(ctx, TypeRemindPlan, LessonPayload{LessonID: lessonID}, asynq.Queue(QueueDefault), asynq.MaxRetry(5))
}

// Backlog counts the send tasks waiting in Redis (pending, scheduled or waiting for a retry). The
// fan-out asks before each page, so it is three counts in one round trip on the send queue's keys
// (asynq's layout, "asynq:{queue}:pending" and so on, one hash slot on a cluster), not the inspector's
// queue statistics: those also sample the memory of the queue's tasks (a hundred and forty MEMORY
// USAGE calls), which took a share of Redis' CPU when a fan-out asked forty times a second.
func (c *Client) Backlog(ctx context.Context) (int, error) {
	prefix := "asynq:{" + QueueSend + "}:"
	var pending, scheduled, retry *redis.IntCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		pending = p.LLen(ctx, prefix+"pending")
		scheduled = p.ZCard(ctx, prefix+"scheduled")
		retry = p.ZCard(ctx, prefix+"retry")
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count queue %s: %w", QueueSend, err)
	}
	return int(pending.Val() + scheduled.Val() + retry.Val()), nil
}

// QueueStats returns the size of each Relais queue that exists yet (asynq creates a queue with its
// first task), for the fan-out's backpressure and for monitoring.
func (c *Client) QueueStats() (map[string]*asynq.QueueInfo, error) {
	names, err := c.insp.Queues()
	if err != nil {
		return nil, err
	}
	out := map[string]*asynq.QueueInfo{}
	for _, q := range names {
		if q != QueueMedia && q != QueueDefault && q != QueueSend {
			continue
		}
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", q, err)
		}
		out[q] = info
	}
	return out, nil
}
