package sms

import (
	"context"
	"crypto/rand"
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
	// (rounded down; a rate under 1 allows one segment per 1/Rate seconds) at the provider.
	Rate float64
	// Rates overrides Rate for given senders (the From value or the Messaging Service SID).
	Rates map[string]float64
	// Margin makes the window the limiter keeps longer than one second (default none: a message
	// reaches the provider after its admission and before its send ends, so a window of exactly one
	// second between an end and the next admission is enough). The sustained rate is about
	// Rate/(1 s + Margin + the time a send takes).
	Margin time.Duration
	// Lease is how long a send that never reports its end (its worker died) holds its segments' place
	// in the window; 0 means 30 s. Keep it above the API call's timeout (sms Config.Timeout, 10 s).
	Lease time.Duration
	// MaxWait bounds the wait: when a sender's queue is longer, Acquire does not hold the worker but
	// returns a Throttled *channels.SendError whose RetryAfter says when to come back. 0 means 30 s.
	MaxWait time.Duration
	// Prefix starts the Redis keys; default "relais:sms:rate:". The sender follows in braces, a Redis
	// Cluster hash tag, so that a sender's keys share one slot.
	Prefix string
}

// Limiter keeps each sender under its rate in every sliding window at the provider, across all workers
// and machines that share one Redis, in two steps that run as Lua scripts on Redis's clock:
//
//   - reserve: a generic cell rate algorithm with no burst tolerance hands out send times spaced
//     evenly, a message of n segments taking n emission intervals, so callers are served in the
//     order they asked and never bunch up;
//   - admit: when its time comes, a message is admitted only if the window of one second (plus
//     Margin) ending now leaves room for all its segments among those the window holds. A segment
//     is held in the window from its admission until its send ends (the provider answered or the
//     call failed), and from then on as if it had been sent at the end.
//
// Whatever the delays between admission and the provider (a starved process, GC, the network), a
// message reaches the provider after its admission and before its send ends, so any Rate+1 segments
// reach it more than a second apart. The price is the send's own duration added to each window.
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
	if cfg.Margin < 0 || cfg.Lease < 0 {
		return nil, errors.New("sms limiter: margin and lease must not be negative")
	}
	if cfg.Lease == 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "relais:sms:rate:"
	}
	return &Limiter{rdb: rdb, cfg: cfg}, nil
}

// redisNow begins the scripts: now is Redis' time in microseconds, the one clock every process shares.
const redisNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])`

// reserve is a GCRA without burst tolerance on KEYS[1], the theoretical arrival time in microseconds
// of Redis time: a message of ARGV[2] segments is due at that time (or now, if it is past) and moves
// it on by ARGV[2] intervals of ARGV[1] microseconds, unless its wait would exceed ARGV[3]
// microseconds. It returns {reserved (0|1), wait in microseconds}.
var reserve = redis.NewScript(redisNow + `
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

// admit keeps in the sorted set KEYS[1] one member per segment in the window, scored by when the
// segment counts as sent, in microseconds of Redis time: while its send runs, the end of its lease
// (admission + ARGV[4]); once it ended, the end. Members older than the window of ARGV[2]
// microseconds are dropped. A message of ARGV[3] segments (members ARGV[5]:1..n) is admitted when
// the window ending now holds at most ARGV[1] - ARGV[3] segments (none, for a message of more than
// ARGV[1]). It returns {admitted (0|1), microseconds to wait before asking again}.
var admit = redis.NewScript(redisNow + `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local room = limit - cost
if room < 0 then room = 0 end
if redis.call('ZCARD', KEYS[1]) > room then
  local held = redis.call('ZREVRANGE', KEYS[1], room, room, 'WITHSCORES')
  local at = tonumber(held[2])
  if at > now then at = at - lease end -- still sending: it ends at the earliest now
  local wait = at + window - now
  if wait < 1000 then wait = 1000 end
  return {0, wait, now}
end
local score = string.format('%d', now + lease)
for i = 1, math.min(cost, limit) do redis.call('ZADD', KEYS[1], score, ARGV[5] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], math.ceil((window + lease) / 1000) + 1000)
return {1, 0, now}
`)

// release scores the members ARGV[1]:1..ARGV[2] of KEYS[1] that are still there with the time now:
// their send ended. It returns that time in microseconds.
var release = redis.NewScript(redisNow + `
local stamp = string.format('%d', now)
for i = 1, tonumber(ARGV[2]) do redis.call('ZADD', KEYS[1], 'XX', stamp, ARGV[1] .. ':' .. i) end
return now
`)

// allowance is a sender's limit: at most limit segments in any window.
type allowance struct {
	limit    int64
	window   time.Duration // one second (or 1/rate under 1 per second) plus the margin
	interval time.Duration // the reservations' emission interval
}

// allowance is the sender's channels.Allowance: the publishing plan's simulation replays the same.
func (l *Limiter) allowance(sender string) allowance {
	rate := l.cfg.Rate
	if r, ok := l.cfg.Rates[sender]; ok {
		rate = r
	}
	a := channels.NewAllowance(rate, l.cfg.Margin)
	return allowance{limit: a.Limit, window: a.Window, interval: a.Interval}
}

// keys returns the Redis keys of sender; both carry the hash tag {sender}.
func (l *Limiter) keys(sender string) (tat, window string) {
	base := l.cfg.Prefix + "{" + sender + "}"
	return base + ":tat", base + ":window"
}

// Wait blocks until sender may send segments more segments and holds them in the window until done
// is called, when the send has ended (whatever its outcome): call it once, as soon as the provider
// answered or the call failed. Wait returns ctx's error, or a Throttled *channels.SendError when the
// wait would exceed MaxWait (nothing is held then).
func (l *Limiter) Wait(ctx context.Context, sender string, segments int) (done func(), err error) {
	release, _, err := l.acquire(ctx, sender, segments)
	if err != nil {
		return nil, err
	}
	return func() { release() }, nil
}

// acquire is Wait, returning also the Redis time of the admission, and a done that returns the Redis
// time at which the send ended (zero if Redis could not be told).
func (l *Limiter) acquire(ctx context.Context, sender string, segments int) (func() time.Time, time.Time, error) {
	segments = max(segments, 1)
	a := l.allowance(sender)
	tatKey, windowKey := l.keys(sender)
	res, err := reserve.Run(ctx, l.rdb, []string{tatKey},
		a.interval.Microseconds(), segments, l.cfg.MaxWait.Microseconds()).Int64Slice()
	if err != nil {
		return nil, time.Time{}, limitError(err)
	}
	wait := time.Duration(res[1]) * time.Microsecond
	if res[0] == 0 {
		return nil, time.Time{}, &channels.SendError{Kind: channels.Throttled, Code: "rate_limit", RetryAfter: wait,
			Err: fmt.Errorf("sender queue is %s long, over %s", wait.Round(time.Millisecond), l.cfg.MaxWait)}
	}
	token := rand.Text()
	for {
		if err := sleep(ctx, wait); err != nil {
			return nil, time.Time{}, err
		}
		res, err := admit.Run(ctx, l.rdb, []string{windowKey}, a.limit, a.window.Microseconds(), segments,
			l.cfg.Lease.Microseconds(), token).Int64Slice()
		if err != nil {
			return nil, time.Time{}, limitError(err)
		}
		if res[0] == 1 {
			admitted := time.UnixMicro(res[2])
			done := func() time.Time {
				// A context of its own: the send's may have ended, and the segments would then hold
				// their place until the lease ends.
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				end, err := release.Run(ctx, l.rdb, []string{windowKey}, token, segments).Int64()
				if err != nil {
					return time.Time{} // the segments hold their place until the lease ends
				}
				return time.UnixMicro(end)
			}
			return done, admitted, nil
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

// unavailableRetry is when a send that could not reach Redis comes back: Sentinel promotes a replica
// within seconds of a master's loss (down-after-milliseconds plus the election).
const unavailableRetry = 2 * time.Second

// limitError classifies a failure of the limiter's Redis: unreachable or between masters, the send
// waits a moment without spending a retry; any other error is a retryable failure.
func limitError(err error) *channels.SendError {
	if redisUnavailable(err) { // nothing was sent: come back once a replica is promoted
		return &channels.SendError{Kind: channels.Throttled, Code: "rate_limit_unavailable", RetryAfter: unavailableRetry,
			Err: fmt.Errorf("sms rate limit: redis unavailable: %w", err)}
	}
	return &channels.SendError{Kind: channels.Retryable, Err: fmt.Errorf("sms rate limit: %w", err)}
}

// redisUnavailable reports whether err says Redis cannot be reached or is between masters (a failover,
// a cluster's slots moving, a replica still loading): a wait of seconds, not a failure of the message,
// so the send neither spends a retry nor waits for asynq's backoff. Other Redis errors are failures.
func redisUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
			redis.IsTryAgainError(err) || redis.IsMasterDownError(err)
	}
	return true // no reply: the connection failed
}
