package queue

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/internal/smtpsink"
	"github.com/relais-edu/relais/templates"
)

// inDoubt is a store that counts, after each commit that claims deliveries, the lesson's deliveries
// claimed without an outcome (those a worker killed at that moment would leave unknown), and slows
// down the commits of outcomes alone, so that a connection handed to another task before the outcome
// of its last message is committed carries that task's message meanwhile.
type inDoubt struct {
	relais.Store
	lesson int64
	slow   time.Duration

	mu  sync.Mutex
	max int
	err error
}

func (s *inDoubt) CommitSends(ctx context.Context, steps []relais.SendStep) ([][]int64, error) {
	claims := false
	for _, st := range steps {
		claims = claims || len(st.Claims) > 0
	}
	if !claims {
		time.Sleep(s.slow)
	}
	got, err := s.Store.CommitSends(ctx, steps)
	if err != nil || !claims {
		return got, err
	}
	counts, cerr := s.Store.DeliveryCounts(ctx, s.lesson)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cerr != nil {
		s.err = cerr
	}
	for _, c := range counts {
		if c.Status == relais.DeliveryClaimed && c.Channel == relais.ChannelEmail {
			s.max = max(s.max, int(c.Count))
		}
	}
	return got, err
}

// ConcurrentWriters is the wrapped store's (see groupCommit).
func (s *inDoubt) ConcurrentWriters() int {
	if c, ok := s.Store.(concurrentWriters); ok {
		return c.ConcurrentWriters()
	}
	return 1
}

// Two send tasks share the email channel's one SMTP connection: at no moment are more emails claimed
// without an outcome than there are connections, so a worker killed at any moment leaves at most one
// email of unknown fate per connection. The last email of a page has its outcome committed before the
// connection goes back to the pool, where the other task takes it at once; a connection renewed
// mid-page (the relay's limit of messages per connection) is renewed in the page's place in the pool,
// not given up to the other task while the outcome of the email before is not yet committed.
func TestOneEmailInDoubtPerConnection(t *testing.T) {
	tmpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range stores(t) {
		for _, perConn := range []int{100, 2} {
			t.Run(fmt.Sprintf("%s/%d per connection", name, perConn), func(t *testing.T) {
				ctx := context.Background()
				sink, err := smtpsink.Listen("127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { sink.Close() })
				host, port, _ := net.SplitHostPort(sink.Addr())
				cfg := email.DefaultConfig()
				cfg.Host, cfg.TLS, cfg.HELO, cfg.From = host, email.TLSNone, "relais.test", "Relais <lessons@relais.example>"
				cfg.Port, _ = strconv.Atoi(port)
				cfg.MaxConns, cfg.MaxPerConn = 1, perConn
				ch, err := email.New(cfg, tmpl)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ch.Close() })
				store := &inDoubt{Store: open(t), slow: 100 * time.Millisecond}
				r := newClaimRig(t, store, 8, ch)
				store.lesson = r.lesson.ID
				ids := r.plan(t, relais.ChannelEmail)

				var wg sync.WaitGroup
				for _, page := range [][]int64{ids[:4], ids[4:]} {
					wg.Go(func() {
						if err := r.w.handleSend(ctx, task(TypeSend, SendPayload{Channel: relais.ChannelEmail, DeliveryIDs: page})); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if store.err != nil {
					t.Fatal(store.err)
				}
				if got := sink.Messages(); got != int64(len(ids)) {
					t.Errorf("the relay took %d emails, want %d", got, len(ids))
				}
				r.wantStatuses(t, ids, "at the end", map[relais.DeliveryStatus]int{"sent": len(ids)})
				if store.max > cfg.MaxConns {
					t.Errorf("%d emails were claimed without an outcome at once over %d connection(s): a worker killed then leaves them all unknown",
						store.max, cfg.MaxConns)
				}
			})
		}
	}
}
