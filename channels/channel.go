// Package channels defines how Relais hands a delivery to a provider: one small Channel interface, a
// registry, and the typed error every channel returns so the queue can tell a retry from a give-up.
// Each provider lives in its own package below this one (channels/sms, channels/email, ...).
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	relais "github.com/relais-edu/relais"
)

// Message is everything a channel needs to send one delivery.
type Message struct {
	Delivery  relais.Delivery
	Household relais.Household
	Lesson    relais.Lesson
	Digest    *relais.Digest    // in the household's language, for SMS
	Worksheet *relais.Worksheet // for email and post
	// LessonURL is the public page of the lesson (low-bandwidth audio, worksheet), signed for the household.
	LessonURL string
	// UnsubscribeURL is the signed one-click unsubscribe address for this recipient (email).
	UnsubscribeURL string
	// Airing is the broadcast a reminder is about.
	Airing *relais.Airing
	// Lane names the lane (sender) of the channel's pool that the fan-out chose for the message among
	// those of its page (Balancer); "" or a lane the channel no longer has: the channel's own choice
	// (the lane the household remembers, Household.SMSSender, while the channel has it).
	Lane string
	// Begin, when set, is called by the channel right before it hands the message to the provider
	// (after any rate-limit wait or connection set-up): the queue claims the delivery there (channels
	// that call it and cannot be asked afterwards: BeginCaller), so that a worker's death leaves
	// unanswered only the messages really in flight, or checks that a claim made ahead is still safely
	// this attempt's. An error means the message must not be sent (another attempt holds it or may):
	// the channel returns that error as its result. A channel may run Begin while it starts the
	// provider call, only if the provider cannot take the message before Begin has returned nil (email:
	// the end of DATA waits for it; on a refusal the transaction is dropped before its end).
	Begin func() error
	// Answered, when set, is called by a BatchSender once for each message of the batch, with its
	// result: as soon as the provider answered the message, before the next message begins, and for a
	// message not sent (it could not be built, its claim was refused, the batch stopped) before the
	// batch lets go of its connection. A connection renewed mid-batch (it broke, or reached the
	// relay's limit of messages) is renewed in the batch's place, not given up to another batch. So
	// every message of a batch is answered before its connection's place carries another batch's: the
	// queue commits each outcome together with the next message's claim (one commit per message),
	// and the last one before the connection is let go.
	Answered func(Result)
}

// BeginSend calls m.Begin when it is set.
func (m Message) BeginSend() error {
	if m.Begin == nil {
		return nil
	}
	return m.Begin()
}

// Answer calls m.Answered with r when it is set.
func (m Message) Answer(r Result) {
	if m.Answered != nil {
		m.Answered(r)
	}
}

// Receipt is what the provider said when it took the message.
type Receipt struct {
	ProviderID string
	Status     relais.DeliveryStatus // usually queued or sent
}

// Channel hands messages to one provider.
type Channel interface {
	Name() relais.ChannelName
	Send(ctx context.Context, m Message) (Receipt, error)
}

// Result is the outcome of one message of a batch.
type Result struct {
	Receipt Receipt
	Err     error
}

// BeginCaller is implemented by channels that call Message.Begin right before each provider call:
// the queue then claims each delivery at that moment instead of a few ahead (channels whose provider
// cannot be asked afterwards gain the most: fewer messages of unknown fate when a worker dies).
type BeginCaller interface {
	CallsBegin() bool
}

// BatchSender is implemented by channels that send a page of messages more cheaply than one by one
// (email reuses one SMTP connection). Results are in the order of msgs.
type BatchSender interface {
	SendBatch(ctx context.Context, msgs []Message) []Result
}

// Reconciler is implemented by channels whose provider can be asked what became of a message whose
// send had no clear answer (the attempt died, or the answer was lost). Lookup returns the provider's
// receipt for the message it holds for m (found), or found false when the provider has no such
// message: then, and only then, may it be sent again. since is when the message was claimed.
type Reconciler interface {
	Lookup(ctx context.Context, m Message, since time.Time) (r Receipt, found bool, err error)
}

// StatusFetcher is implemented by channels whose provider reports a message's current status by its
// id (Receipt.ProviderID): the periodic check of deliveries whose callbacks never came.
type StatusFetcher interface {
	FetchStatus(ctx context.Context, providerID string) (relais.DeliveryStatus, error)
}

// Pager is implemented by channels that say how many deliveries one send task hands them (the queue's
// Config.SendPageSize overrides it; 100 otherwise).
type Pager interface {
	PageSize() int
}

// Balancer is implemented by channels with a pool of lanes (SMS senders) shared among the households
// of a batch at once: the fan-out asks for the lanes of a page's messages (Pool.BalanceRemembered with
// the channel's bound) and hands each message its lane (Message.Lane), so that the lanes finish
// together. A household keeps the lane it remembers (Household.SMSSender: the pools are the SMS
// senders') while the channel has it for the household; the fan-out records the lane of every other
// (DeliveryStore.PlanPage), so that a family hears from one sender lesson after lesson.
// Balance returns a lane name per household, "" where the channel has none for it.
type Balancer interface {
	Balance(hs []relais.Household) []string
}

// WebhookHandler is implemented by channels that receive callbacks from their provider (delivery
// receipts, replies). The handler is mounted under /webhooks/{channel}/.
type WebhookHandler interface {
	Webhooks() http.Handler
}

// Registry holds the channels wired in main: the senders configured in this process, and the rules
// of every channel Relais plans deliveries on, in the order they were registered. A nil registry
// knows no channel.
type Registry struct {
	channels map[relais.ChannelName]Channel
	rules    map[relais.ChannelName]Rules
	order    []relais.ChannelName // of rules, as registered
}

// NewRegistry returns a registry of chans; a name given twice is a programming error. A channel that
// implements Rules brings its rules.
func NewRegistry(chans ...Channel) *Registry {
	r := &Registry{channels: make(map[relais.ChannelName]Channel), rules: make(map[relais.ChannelName]Rules)}
	for _, c := range chans {
		if _, dup := r.channels[c.Name()]; dup {
			panic(fmt.Sprintf("channels: %s registered twice", c.Name()))
		}
		r.channels[c.Name()] = c
		if rs, ok := c.(Rules); ok {
			r.know(rs)
		}
	}
	return r
}

// Know adds the rules of channels that may have no sender in this process, and returns r. Rules of a
// channel already known are left as they are.
func (r *Registry) Know(rules ...Rules) *Registry {
	for _, rs := range rules {
		r.know(rs)
	}
	return r
}

func (r *Registry) know(rs Rules) {
	if _, ok := r.rules[rs.Name()]; ok {
		return
	}
	r.rules[rs.Name()] = rs
	r.order = append(r.order, rs.Name())
}

// Get returns the sender of that name.
func (r *Registry) Get(name relais.ChannelName) (Channel, bool) {
	if r == nil {
		return nil, false
	}
	c, ok := r.channels[name]
	return c, ok
}

// Rules returns the rules of the channel of that name.
func (r *Registry) Rules(name relais.ChannelName) (Rules, bool) {
	if r == nil {
		return nil, false
	}
	rs, ok := r.rules[name]
	return rs, ok
}

// Contact is h's address on the channel of that name; the zero Contact (unreachable) for an unknown one.
func (r *Registry) Contact(name relais.ChannelName, h relais.Household) Contact {
	rs, ok := r.Rules(name)
	if !ok {
		return Contact{}
	}
	c := rs.Contact(h)
	if c.OptOutOf == "" {
		c.OptOutOf = name
	}
	return c
}

// Known lists the channels whose rules are known, in the order they were registered.
func (r *Registry) Known() []relais.ChannelName {
	if r == nil {
		return nil
	}
	return append([]relais.ChannelName(nil), r.order...)
}

// Followers lists the known channels that follow name (see Follower), in registration order.
func (r *Registry) Followers(name relais.ChannelName) []relais.ChannelName {
	if r == nil {
		return nil
	}
	var out []relais.ChannelName
	for _, n := range r.order {
		if f, ok := r.rules[n].(Follower); ok && f.Follows() == name {
			out = append(out, n)
		}
	}
	return out
}

// Names lists the registered senders, sorted.
func (r *Registry) Names() []relais.ChannelName {
	if r == nil {
		return nil
	}
	names := make([]relais.ChannelName, 0, len(r.channels))
	for n := range r.channels {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// Kind says what the queue should do after a failed send.
type Kind int

const (
	// Retryable failures (connection refused, 5xx, SMTP 4xx, unreachable handset) are tried again with backoff.
	Retryable Kind = iota + 1
	// Throttled failures (HTTP 429, Twilio 20429) were not processed: retry after RetryAfter, not counted
	// as a failure.
	Throttled
	// Permanent failures (invalid number, opted out, hard bounce, bad template) are never retried.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case Throttled:
		return "throttled"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// SendError is the classified failure of a send. Channels classify once, where the provider's answer
// is read; nothing downstream looks at error text.
type SendError struct {
	Kind       Kind
	Code       string        // the provider's code, e.g. "21610" or "550"
	RetryAfter time.Duration // for Throttled, when the provider said
	// Contact, when set, is what the failure tells about the recipient's address (invalid, landline,
	// opted out); the queue records it on the household so nothing is sent there again.
	Contact relais.ContactStatus
	// Ambiguous says the provider may have taken the message all the same: the request was written
	// and no answer came (a timeout, a connection lost after the request, an SMTP failure once DATA
	// began). Such a delivery is never sent again blindly: it stays claimed until reconciled (see
	// Reconciler), while a failure with a clear answer (429, a 5xx, a refused connection) is released
	// to be sent again.
	Ambiguous bool
	Err       error
}

func (e *SendError) Error() string {
	if e.Ambiguous {
		return fmt.Sprintf("%s failure, the message may have been sent: %v", e.Kind, e.Err)
	}
	if e.Code != "" {
		return fmt.Sprintf("%s failure (code %s): %v", e.Kind, e.Code, e.Err)
	}
	return fmt.Sprintf("%s failure: %v", e.Kind, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// ClassOf returns the SendError inside err, or a Retryable one wrapping err when the channel did not
// classify it (an unexpected error is worth one more try, within the queue's retry budget).
func ClassOf(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Kind: Retryable, Err: err}
}
