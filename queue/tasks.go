// Package queue runs every background step of Relais as an asynq task on Redis: probing an upload,
// rendering, writing digests and worksheets, the fan-out and the sends. It is the one place that knows
// asynq: channel errors are translated to asynq's retry semantics here and nowhere else.
//
// Task flow for one lesson:
//
//	lesson:ingest ──> lesson:transcode ─┐   (a long lesson: lesson:transcode-part per part ──> lesson:transcode-join)
//	             ├──> lesson:digest ────┼──> lesson ready ──(publish)──> lesson:fanout ──> lesson:fanout per segment ...
//	             └──> lesson:worksheet ─┘                                                    └──> delivery:send (a page of ids)
//
// The deliveries table is the source of truth of a fan-out: the publish task queues a fan-out task per
// segment of household ids, which worker processes run in parallel; each pages through its households,
// writes their deliveries a page per transaction (idempotently), and enqueues send tasks carrying a page
// of delivery ids. Redis holds only the work in flight.
package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
)

// Task types.
const (
	TypeIngest    = "lesson:ingest"
	TypeTranscode = "lesson:transcode"
	// TypeTranscodePart renders one part of a long lesson transcoded by several workers at once;
	// TypeTranscodeJoin joins the parts into the renditions once all are done.
	TypeTranscodePart = "lesson:transcode-part"
	TypeTranscodeJoin = "lesson:transcode-join"
	TypeDigest        = "lesson:digest"
	TypeWorksheet     = "lesson:worksheet"
	TypeFanout        = "lesson:fanout"
	TypeSend          = "delivery:send"
	// TypeStatus is one provider status callback; asynq aggregates them (group "status") into one
	// TypeStatusBatch applied in a single transaction.
	TypeStatus      = "delivery:status"
	TypeStatusBatch = "delivery:status-batch"
	// TypeResend sends an email delivery again after its relay gave up on a temporary failure.
	TypeResend = "delivery:resend"
	// TypeResendUnknown sends again a lesson's deliveries whose outcome is unknown (the media unit's
	// one action on the dashboard).
	TypeResendUnknown = "lesson:resend-unknown"
	// TypeRemind sends broadcast reminders shortly before an airing of a published lesson.
	TypeRemind = "lesson:remind"
	// TypeRemindPlan (re)queues a lesson's reminder tasks after its slots changed.
	TypeRemindPlan = "lesson:remind-plan"
)

// statusGroup aggregates status updates.
const statusGroup = "status"

// Queue names. Media work has its own queue and its own server so that a worker runs a bounded number
// of transcodes (CPU-bound) beside many sends (I/O-bound).
const (
	QueueMedia   = "media"
	QueueDefault = "default"
	QueueSend    = "send"
)

// LessonPayload names a lesson.
type LessonPayload struct {
	LessonID int64 `json:"lesson_id"`
}

func (p LessonPayload) lesson() int64 { return p.LessonID }
func (p FanoutPayload) lesson() int64 { return p.LessonID }
func (p RemindPayload) lesson() int64 { return p.LessonID }

// FanoutPayload is a run of a lesson's fan-out: households with an id after After, up to Until (0: to
// the last). The publish task has both 0: it queues the lesson's segments.
type FanoutPayload struct {
	LessonID int64 `json:"lesson_id"`
	After    int64 `json:"after"`
	Until    int64 `json:"until,omitempty"`
}

// RemindPayload names one airing of a lesson; the task checks it still airs then.
type RemindPayload struct {
	LessonID int64  `json:"lesson_id"`
	Station  string `json:"station"`
	Start    int64  `json:"start"` // Unix seconds
}

// ResendPayload names a delivery to send again.
type ResendPayload struct {
	DeliveryID int64 `json:"delivery_id"`
}

// SendPayload carries a page of deliveries of one channel.
type SendPayload struct {
	Channel     relais.ChannelName `json:"channel"`
	DeliveryIDs []int64            `json:"delivery_ids"`
	// Lanes, when set, names the lane (sender) the fan-out chose for each delivery among those of its
	// page (channels.Balancer), in the order of DeliveryIDs.
	Lanes []string `json:"lanes,omitempty"`
}

func newTask(typ string, payload any, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", typ, err)
	}
	return asynq.NewTask(typ, b, opts...), nil
}

// taskLesson decodes the payload of a task about one lesson and loads that lesson; a lesson deleted
// since ends the task without retries.
func taskLesson[P interface{ lesson() int64 }](ctx context.Context, w *Worker, t *asynq.Task) (P, relais.Lesson, error) {
	var p P
	if err := decode(t, &p); err != nil {
		return p, relais.Lesson{}, err
	}
	l, err := w.store.Lesson(ctx, p.lesson())
	if err != nil {
		return p, l, w.lessonGone(p.lesson(), err)
	}
	return p, l, nil
}

func decode(t *asynq.Task, v any) error {
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		// A payload that does not decode will never decode: do not retry it.
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}
