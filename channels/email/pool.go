package email

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// pool keeps up to max SMTP connections open and hands them to one caller at a time. A connection
// that failed is closed instead of returned; an idle one past idleTimeout is closed when next seen.
type pool struct {
	client      *mail.Client // dials and sends; safe for concurrent use with distinct smtp.Clients
	slots       chan struct{}
	idleTimeout time.Duration
	// checkAfter is how long a connection may sit idle before it is checked with a NOOP when taken:
	// relays drop idle connections, and a message sent on a dead one would fail.
	checkAfter time.Duration
	timeout    time.Duration // for that NOOP
	now        func() time.Time

	mu     sync.Mutex
	idle   []*conn // most recently used last
	closed bool
	dials  int // connections opened, for tests and metrics
}

type conn struct {
	c        *smtp.Client
	raw      net.Conn // under c, to interrupt a send when its context ends
	sent     int
	lastUsed time.Time
}

func newPool(client *mail.Client, max int, idleTimeout, timeout time.Duration) *pool {
	return &pool{client: client, slots: make(chan struct{}, max), idleTimeout: idleTimeout,
		checkAfter: time.Second, timeout: timeout, now: time.Now}
}

// take waits for a free slot (at most max are taken). The caller holds it until release or put: a batch
// holds one from its first message to its end, renewing connections in it (connect, drop), so that no
// other batch uses the slot while one of its messages may still be in doubt.
func (p *pool) take(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a slot held without a connection.
func (p *pool) release() { <-p.slots }

// connect returns an idle connection, or a new one, for a caller that holds a slot (take); the slot
// stays taken when it fails.
func (p *pool) connect(ctx context.Context) (*conn, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		idle := p.now().Sub(c.lastUsed)
		p.mu.Unlock()
		if p.idleTimeout > 0 && idle > p.idleTimeout {
			p.quit(c)
			p.mu.Lock()
			continue
		}
		if idle >= p.checkAfter {
			// The deadline left by the last send may have passed while idle.
			if err := c.c.UpdateDeadline(p.timeout); err != nil || c.c.Noop() != nil {
				_ = c.c.Close()
				p.mu.Lock()
				continue
			}
		}
		return c, nil
	}
	p.dials++
	p.mu.Unlock()
	// The dialer (Channel.dial) leaves the raw connection here: go-mail does not close it when the
	// greeting, STARTTLS or AUTH fails, and it is what a canceled context interrupts.
	var raw net.Conn
	c, err := p.client.DialToSMTPClientWithContext(context.WithValue(ctx, rawConnKey{}, &raw))
	if err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		return nil, err
	}
	return &conn{c: c, raw: raw, lastUsed: p.now()}, nil
}

// rawConnKey carries a *net.Conn from pool.connect to the dialer.
type rawConnKey struct{}

// put returns c to the pool, or closes it when the pool is closed.
func (p *pool) put(c *conn) {
	defer func() { <-p.slots }()
	c.lastUsed = p.now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.quit(c)
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// drop closes c instead of returning it, keeping its slot for the caller's next connection (connect)
// or release: with QUIT when it is still healthy (it reached its message limit), abruptly when it
// failed.
func (p *pool) drop(c *conn, healthy bool) {
	if healthy {
		p.quit(c)
	} else {
		_ = c.c.Close()
	}
}

func (p *pool) quit(c *conn) {
	if err := p.client.CloseWithSMTPClient(c.c); err != nil {
		_ = c.c.Close()
	}
}

// close says QUIT on every idle connection; connections in use are closed when put back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		p.quit(c)
	}
}

func (p *pool) dialCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dials
}
