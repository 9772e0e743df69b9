package resumable

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

// RedisLocker is tusd's lock of an upload held in Redis: SET NX PX with a random token, renewed while
// held, so a process that dies loses it within TTL. A request that wants a held lock raises a release
// flag that the holder polls for, then asks its request to stop (tusd's requestRelease), as tusd's
// file locker does on one machine.
type RedisLocker struct {
	Client redis.UniversalClient
	Prefix string        // of the keys; default "relais:tus:"
	TTL    time.Duration // how long a lock outlives a dead holder; default 10 s
	// HolderPoll is how often a holder renews the lock and looks for a release request; AcquirerPoll
	// how often a waiting request tries again. Defaults 250 ms and 100 ms.
	HolderPoll, AcquirerPoll time.Duration
}

var _ handler.Locker = (*RedisLocker)(nil)

// NewRedisLocker returns a locker on client with the defaults.
func NewRedisLocker(client redis.UniversalClient) *RedisLocker {
	return &RedisLocker{Client: client, Prefix: "relais:tus:", TTL: 10 * time.Second,
		HolderPoll: 250 * time.Millisecond, AcquirerPoll: 100 * time.Millisecond}
}

// NewLock returns the lock of upload id; nothing is taken until Lock.
func (l *RedisLocker) NewLock(id string) (handler.Lock, error) {
	// {id} keeps the lock and its release flag in one slot of a Redis Cluster.
	base := l.Prefix + "{" + id + "}"
	return &redisLock{l: l, key: base + ":lock", release: base + ":release"}, nil
}

type redisLock struct {
	l            *RedisLocker
	key, release string
	token        string
	stop         context.CancelFunc
	done         chan struct{}
	mu           sync.Mutex
}

// renew extends the lock when it is still ours; unlock deletes it when it is.
var (
	renew  = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)
	unlock = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)
)

// Lock takes the lock, asking its holder to let go, until ctx ends (handler.ErrLockTimeout).
func (r *redisLock) Lock(ctx context.Context, requestRelease func()) error {
	token := randomToken()
	for {
		ok, err := r.l.Client.SetNX(ctx, r.key, token, r.l.TTL).Result()
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ok {
			break
		}
		// Held: ask the holder to let go, and wait.
		r.l.Client.Set(ctx, r.release, "1", r.l.TTL)
		select {
		case <-ctx.Done():
			return handler.ErrLockTimeout
		case <-time.After(r.l.AcquirerPoll):
		}
	}
	r.l.Client.Del(ctx, r.release) // a request from before we held it is not for us
	hctx, stop := context.WithCancel(context.Background())
	r.mu.Lock()
	r.token, r.stop, r.done = token, stop, make(chan struct{})
	r.mu.Unlock()
	go r.hold(hctx, requestRelease)
	return nil
}

// hold renews the lock and passes on release requests until Unlock.
func (r *redisLock) hold(ctx context.Context, requestRelease func()) {
	defer close(r.done)
	t := time.NewTicker(r.l.HolderPoll)
	defer t.Stop()
	lastRenew := time.Now()
	asked := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(lastRenew) >= r.l.TTL/3 {
			if err := renew.Run(ctx, r.l.Client, []string{r.key}, r.token, r.l.TTL.Milliseconds()).Err(); err == nil {
				lastRenew = time.Now()
			}
		}
		if !asked {
			if n, err := r.l.Client.Exists(ctx, r.release).Result(); err == nil && n > 0 {
				asked = true
				requestRelease()
			}
		}
	}
}

// Unlock gives the lock back.
func (r *redisLock) Unlock() error {
	r.mu.Lock()
	stop, done, token := r.stop, r.done, r.token
	r.stop = nil
	r.mu.Unlock()
	if stop == nil {
		return errors.New("tus lock: unlock of a lock not held")
	}
	stop()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return unlock.Run(ctx, r.l.Client, []string{r.key}, token).Err()
}
