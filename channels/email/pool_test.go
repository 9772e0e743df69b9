package email

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// TestPoolAcrossTasks: pages sent one after another (send tasks) share the pooled connections; when
// the relay drops every connection (a restart), the next pages reconnect and every message is sent,
// none failed; Close ends the pooled connections with QUIT.
func TestPoolAcrossTasks(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.MaxConns, cfg.MaxPerConn = 2, 0
	ch, err := New(cfg, loadTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	next := 0
	page := func(n int) []channels.Message {
		var msgs []channels.Message
		for range n {
			next++
			msgs = append(msgs, channels.Message{Delivery: relais.Delivery{ID: int64(next)},
				Household: relais.Household{ID: int64(next), Language: "fr", Email: fmt.Sprintf("f%d@example.org", next)},
				Lesson:    relais.Lesson{Title: "Pool"}})
		}
		return msgs
	}
	// Tasks of one message each, as the queue hands email to the channel, two at a time.
	tasks := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		work := make(chan []channels.Message)
		for range 2 {
			wg.Go(func() {
				for p := range work {
					for _, r := range ch.SendBatch(context.Background(), p) {
						if r.Err != nil {
							t.Errorf("send: %v", r.Err)
						}
					}
				}
			})
		}
		for range n {
			work <- page(1)
		}
		close(work)
		wg.Wait()
	}

	tasks(20)
	if got := relay.conns.Load(); got > 2 {
		t.Fatalf("20 tasks opened %d connections, want at most 2 (pooled across tasks)", got)
	}
	before := relay.conns.Load()

	relay.dropAll()
	waitUntil(t, "the relay to close its connections", func() bool { return relay.openConns() == 0 })
	tasks(20)
	if got := relay.conns.Load() - before; got < 1 || got > 2 {
		t.Errorf("after the relay dropped its connections, %d new ones, want 1 or 2", got)
	}
	if got, want := len(relay.acceptedRcpts()), 40; got != want {
		t.Errorf("relay accepted %d messages, want %d", got, want)
	}
	if ch.pool.dialCount() != int(relay.conns.Load()) {
		t.Errorf("pool dialled %d, relay saw %d", ch.pool.dialCount(), relay.conns.Load())
	}

	open := relay.openConns()
	if open == 0 {
		t.Fatal("no pooled connection left open before Close")
	}
	ch.Close()
	waitUntil(t, "Close to end the pooled connections", func() bool { return relay.openConns() == 0 })
	if got := relay.quitCount(); got != open {
		t.Errorf("%d connections ended with QUIT, want %d", got, open)
	}
	// A page after Close still goes out, over a connection of its own closed at its end.
	tasks(1)
	waitUntil(t, "the connection of a page sent after Close to end", func() bool { return relay.openConns() == 0 })
}

// TestReconnectOnlyBeforeData: a pooled connection that breaks while the message's content is going
// is not retried (the relay may have the message: ambiguous), while one that was already dead before
// the message began is, once.
func TestReconnectOnlyBeforeData(t *testing.T) {
	relay := newFakeRelay(t, nil, func(addr string) string {
		if addr == "cut@example.org" {
			return "drop"
		}
		return ""
	})
	ch := newChannel(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port())))
	msg := func(addr string) channels.Message {
		return channels.Message{Household: relais.Household{Email: addr}, Lesson: relais.Lesson{Title: "T"}}
	}
	if _, err := ch.Send(context.Background(), msg("a@example.org")); err != nil {
		t.Fatal(err)
	}
	_, err := ch.Send(context.Background(), msg("cut@example.org"))
	if se := channels.ClassOf(err); err == nil || !se.Ambiguous {
		t.Fatalf("connection cut after the data: %v, want an ambiguous failure", err)
	}
	if got := len(relay.acceptedRcpts()); got != 1 {
		t.Errorf("%d accepted, want 1", got)
	}
	if got := relay.conns.Load(); got != 1 {
		t.Errorf("the cut message was sent again over %d connections", got-1)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
