package sms

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relais-edu/relais/channels"
)

// LimiterConfig sets the throughput of each sender in segments per second, shared by every worker
// that uses the same Redis.
type LimiterConfig struct {
	// Rate is the segments per second a sender may send (SPEC: long code 1, toll-free 3, alphanumeric 10,
	// short code about 100). No one-second window, wherever it starts, holds more than Rate segments
	// (rounded down; a rate under 1 allows one segment per 1/Rate seconds).
	Rate float64
	// Rates overrides Rate for given senders (the From value or the Messaging Service SID).
	Rates map[string]float64
	// Margin is how much longer than one second the window the limiter keeps is, to absorb the
	// jitter between a worker's admission and the provider's receipt of the request (scheduling, GC,
	// the HTTP round trip). The sustained rate is about Rate/(1 s + 1.25 Margin); 0 means 12 ms (98.5 %).
	Margin time.Duration
	// MaxWait bounds the wait: when a sender's queue is longer, Wait does not hold the worker but
	// returns a Throttled *channels.SendError whose RetryAfter says when to come back. 0 means 30 s.
	MaxWait time.Duration
	// Prefix starts the Redis keys; default "relais:sms:rate:". The sender follows in braces, a Redis
	// Cluster hash tag, so that a sender's keys share one slot.
	Prefix string
}

// Limiter keeps each sender under its rate in every sliding window, across all workers and machines
// that share one Redis, in two steps that both run as Lua scripts on Redis's clock:
//
//   - reserve: a generic cell rate algorithm with no burst tolerance hands out send times spaced
//     evenly, a message of n segments taking n emission intervals, so callers are served in the
//     order they asked and never bunch up;
//   - admit: just before the send, a log of the last Rate segments' admission times admits a message
//     only when the window ending now (one second plus Margin long) leaves room for all its segments.
//
// The admission log makes the guarantee exact for messages of several segments and for a worker that
// woke late (a late send pushes the next ones back instead of being followed too closely); the even
// spacing of the reservations means admissions rarely wait.
type Limiter struct {
	rdb redis.UniversalClient
	cfg LimiterConfig
}

// NewLimiter returns a limiter on rdb.
func NewLimiter(rdb redis.UniversalClient, cfg LimiterConfig) (*Limiter, error) {
	if cfg.Rate <= 0 || math.IsInf(cfg.Rate, 0) || math.IsNaN(cfg.Rate) {
		return nil, errors.New("sms limiter: rate must be a number above 0 segments per second")
	}
	for s, r := range cfg.Rates {
		if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return nil, fmt.Errorf("sms limiter: rate of sender %q must be a number above 0", s)
		}
	}
	if cfg.Margin < 0 {
		return nil, errors.New("sms limiter: margin must not be negative")
	}
	if cfg.Margin == 0 {
		cfg.Margin = 12 * time.Millisecond
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "relais:sms:rate:"
	}
	return &Limiter{rdb: rdb, cfg: cfg}, nil
}

// reserve is a GCRA without burst tolerance on KEYS[1], the theoretical arrival time in microseconds
// of Redis time: a message of ARGV[2] segments is due at that time (or now, if it is past) and moves
// it on by ARGV[2] intervals of ARGV[1] microseconds, unless its wait would exceed ARGV[3]
// microseconds. It returns {reserved (0|1), wait in microseconds}.
var reserve = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return {0, wait} end
local new_tat = tat + cost * interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, wait}
`)

// admit keeps on the list KEYS[1] the Redis times, in microseconds, at which the last ARGV[1]
// segments were admitted, oldest first. A message of ARGV[3] segments is admitted now when the
// window of ARGV[2] microseconds ending now holds at most ARGV[1] - ARGV[3] of them; a message of
// more than ARGV[1] segments needs the window empty. It returns {admitted (0|1), microseconds until
// it would be, admission time}.
var admit = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local room = limit - cost
if room < 0 then room = 0 end
if redis.call('LLEN', KEYS[1]) > room then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], -(room + 1)))
  if oldest + window > now then return {0, oldest + window - now, now} end
end
local stamp = string.format('%d', now)
for i = 1, math.min(cost, limit) do redis.call('RPUSH', KEYS[1], stamp) end
redis.call('LTRIM', KEYS[1], -limit, -1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
return {1, 0, now}
`)

// allowance is a sender's limit: at most limit segments in any window.
type allowance struct {
	limit    int64
	window   time.Duration // one second (or 1/rate under 1 per second)
	interval time.Duration // the reservations' emission interval, a little longer than window/limit
}

func (l *Limiter) allowance(sender string) allowance {
	rate := l.cfg.Rate
	if r, ok := l.cfg.Rates[sender]; ok {
		rate = r
	}
	a := allowance{limit: int64(math.Floor(rate)), window: time.Second}
	if rate < 1 {
		a.limit, a.window = 1, time.Duration(float64(time.Second)/rate)
	}
	// The admissions' window is window + Margin; the reservations space segments over a quarter of
	// the margin more, so that a worker's small delays do not make every admission wait.
	a.interval = (a.window + l.cfg.Margin + l.cfg.Margin/4) / time.Duration(a.limit)
	a.window += l.cfg.Margin
	return a
}

// keys returns the Redis keys of sender; both carry the hash tag {sender}.
func (l *Limiter) keys(sender string) (tat, log string) {
	base := l.cfg.Prefix + "{" + sender + "}"
	return base + ":tat", base + ":log"
}

// Wait blocks until sender may send segments more segments, or returns ctx's error, or a Throttled
// *channels.SendError when the wait would exceed MaxWait (nothing is reserved then).
func (l *Limiter) Wait(ctx context.Context, sender string, segments int) error {
	_, err := l.acquire(ctx, sender, segments)
	return err
}

// acquire is Wait, returning the Redis time at which the segments were admitted.
func (l *Limiter) acquire(ctx context.Context, sender string, segments int) (time.Time, error) {
	segments = max(segments, 1)
	a := l.allowance(sender)
	tatKey, logKey := l.keys(sender)
	res, err := reserve.Run(ctx, l.rdb, []string{tatKey},
		a.interval.Microseconds(), segments, l.cfg.MaxWait.Microseconds()).Int64Slice()
	if err != nil {
		return time.Time{}, &channels.SendError{Kind: channels.Retryable, Err: fmt.Errorf("sms rate limit: %w", err)}
	}
	wait := time.Duration(res[1]) * time.Microsecond
	if res[0] == 0 {
		return time.Time{}, &channels.SendError{Kind: channels.Throttled, Code: "rate_limit", RetryAfter: wait,
			Err: fmt.Errorf("sender queue is %s long, over %s", wait.Round(time.Millisecond), l.cfg.MaxWait)}
	}
	for {
		if err := sleep(ctx, wait); err != nil {
			return time.Time{}, err
		}
		res, err := admit.Run(ctx, l.rdb, []string{logKey}, a.limit, a.window.Microseconds(), segments).Int64Slice()
		if err != nil {
			return time.Time{}, &channels.SendError{Kind: channels.Retryable, Err: fmt.Errorf("sms rate limit: %w", err)}
		}
		if res[0] == 1 {
			return time.UnixMicro(res[2]), nil
		}
		wait = time.Duration(res[1]) * time.Microsecond
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
