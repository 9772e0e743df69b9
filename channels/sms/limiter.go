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
	// short code about 100).
	Rate float64
	// Rates overrides Rate for given senders (the From value or the Messaging Service SID).
	Rates map[string]float64
	// Burst is how many segments may leave at once after a quiet spell; 0 means one second's worth
	// (at least 1).
	Burst int
	// MaxWait bounds the wait: when a sender's queue is longer, Wait does not hold the worker but
	// returns a Throttled *channels.SendError whose RetryAfter says when to come back. 0 means 30 s.
	MaxWait time.Duration
	// Prefix starts the Redis keys; default "relais:sms:rate:".
	Prefix string
}

// Limiter spaces SMS segments per sender with the generic cell rate algorithm, kept in Redis so that
// every worker draws from the same allowance. Each Wait reserves its segments atomically and sleeps
// until they are due, so callers are served in the order they asked.
type Limiter struct {
	rdb redis.UniversalClient
	cfg LimiterConfig
}

// NewLimiter returns a limiter on rdb.
func NewLimiter(rdb redis.UniversalClient, cfg LimiterConfig) (*Limiter, error) {
	if cfg.Rate <= 0 {
		return nil, errors.New("sms limiter: rate must be above 0 segments per second")
	}
	for s, r := range cfg.Rates {
		if r <= 0 {
			return nil, fmt.Errorf("sms limiter: rate of sender %q must be above 0", s)
		}
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "relais:sms:rate:"
	}
	return &Limiter{rdb: rdb, cfg: cfg}, nil
}

// gcra reserves ARGV[3] cells of ARGV[1] microseconds each on KEYS[1], the first of them due when the
// theoretical arrival time is within the burst tolerance ARGV[2] of now, unless that wait would exceed
// ARGV[4] microseconds. It returns {reserved (0|1), wait in microseconds}. Time comes from the Redis
// server so that every worker shares one clock.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
local new_tat = tat + cost * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, wait}
`)

// unavailableRetry is when a send that could not reach Redis comes back: Sentinel promotes a replica
// within seconds of a master's loss (down-after-milliseconds plus the election).
const unavailableRetry = 2 * time.Second

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

// Wait blocks until sender may send segments more segments, or returns ctx's error, or a Throttled
// *channels.SendError when the wait would exceed MaxWait (nothing is reserved then).
func (l *Limiter) Wait(ctx context.Context, sender string, segments int) error {
	if segments < 1 {
		segments = 1
	}
	rate := l.cfg.Rate
	if r, ok := l.cfg.Rates[sender]; ok {
		rate = r
	}
	burst := l.cfg.Burst
	if burst <= 0 {
		burst = max(1, int(math.Floor(rate)))
	}
	interval := int64(math.Ceil(1e6 / rate))
	tolerance := int64(burst-1) * interval
	res, err := gcra.Run(ctx, l.rdb, []string{l.cfg.Prefix + sender},
		interval, tolerance, segments, l.cfg.MaxWait.Microseconds()).Int64Slice()
	if err != nil {
		if redisUnavailable(err) { // nothing was sent: come back once a replica is promoted
			return &channels.SendError{Kind: channels.Throttled, Code: "rate_limit_unavailable", RetryAfter: unavailableRetry,
				Err: fmt.Errorf("sms rate limit: redis unavailable: %w", err)}
		}
		return &channels.SendError{Kind: channels.Retryable, Err: fmt.Errorf("sms rate limit: %w", err)}
	}
	wait := time.Duration(res[1]) * time.Microsecond
	if res[0] == 0 {
		return &channels.SendError{Kind: channels.Throttled, Code: "rate_limit", RetryAfter: wait,
			Err: fmt.Errorf("sender queue is %s long, over %s", wait.Round(time.Millisecond), l.cfg.MaxWait)}
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
