package email

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// A message's Begin runs while its SMTP transaction starts, and the relay gets the message's end only
// once Begin said yes: Begin is still running when the relay has begun to take the content, and the
// relay holds no message then. A Begin that refuses leaves the relay with nothing (the transaction is
// dropped before its end) and is the message's result, answered before the next message begins, and
// the next message goes over a new connection. With the worksheet attached and without.
func TestBeginOverlapsTheTransaction(t *testing.T) {
	path, pdf := worksheetFile(t)
	for _, withWorksheet := range []bool{false, true} {
		t.Run(fmt.Sprint("worksheet=", withWorksheet), func(t *testing.T) {
			relay := newFakeRelay(t, nil, nil)
			relay.dataStarted = make(chan string, 10)
			cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
			ch := newChannel(t, cfg)
			refused := errors.New("claimed by another send attempt")
			var answered []int64
			var msgs []channels.Message
			for i := int64(1); i <= 3; i++ {
				m := channels.Message{
					Delivery:  relais.Delivery{ID: i},
					Household: relais.Household{ID: i, Language: "fr", Email: fmt.Sprintf("f%d@example.org", i)},
					Lesson:    relais.Lesson{ID: 7, Title: "Les fractions"},
				}
				if withWorksheet {
					m.Worksheet = &relais.Worksheet{LessonID: 7, Path: path, Bytes: int64(len(pdf))}
				}
				m.Begin = func() error {
					select {
					case got := <-relay.dataStarted:
						if got != m.Household.Email {
							t.Errorf("Begin of %s: the relay is taking the content of %s", m.Household.Email, got)
						}
					case <-time.After(5 * time.Second):
						t.Errorf("Begin of %s: the relay did not begin to take the message while Begin ran", m.Household.Email)
					}
					relay.mu.Lock()
					if slices.Contains(relay.accepted, m.Household.Email) {
						t.Errorf("the relay holds %s's message before its Begin returned", m.Household.Email)
					}
					relay.mu.Unlock()
					if i == 2 {
						return refused
					}
					return nil
				}
				m.Answered = func(r channels.Result) {
					answered = append(answered, i)
					if i == 2 && !errors.Is(r.Err, refused) {
						t.Errorf("message 2 answered %+v, want Begin's refusal", r)
					}
				}
				msgs = append(msgs, m)
			}
			rs := ch.SendBatch(context.Background(), msgs)
			for _, i := range []int{0, 2} {
				if rs[i].Err != nil || rs[i].Receipt.ProviderID == "" {
					t.Errorf("message %d: %+v, want sent", i+1, rs[i])
				}
			}
			if !errors.Is(rs[1].Err, refused) {
				t.Errorf("message 2: %v, want Begin's refusal", rs[1].Err)
			}
			if !slices.Equal(answered, []int64{1, 2, 3}) {
				t.Errorf("answered %v, want [1 2 3] (a refused message too, before the next one begins)", answered)
			}
			ch.Close()
			relay.mu.Lock()
			accepted := relay.accepted
			relay.mu.Unlock()
			if want := []string{"f1@example.org", "f3@example.org"}; !slices.Equal(accepted, want) {
				t.Errorf("the relay took %v, want %v", accepted, want)
			}
			// The relay sees the dropped connection's end when it next reads from it, after the send returned.
			waitUntil(t, "the relay to see the dropped transaction", func() bool { return relay.abandoned.Load() >= 1 })
			if n := relay.abandoned.Load(); n != 1 {
				t.Errorf("%d transactions dropped before their end, want 1", n)
			}
			if n := relay.conns.Load(); n != 2 {
				t.Errorf("%d connections, want 2 (a new one after the dropped transaction)", n)
			}
		})
	}
}

// Every message of a batch is answered, those not sent too (one that cannot be built, one whose Begin
// refused), and the last before its connection goes back to the pool: the queue commits the last
// outcome there, before another task's email can take the connection.
func TestEveryMessageIsAnsweredBeforeTheConnectionIsLetGo(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.MaxConns = 1
	ch := newChannel(t, cfg)
	refused := errors.New("claimed by another send attempt")
	answered := map[int64]error{}
	var msgs []channels.Message
	for i := int64(1); i <= 4; i++ {
		addr := fmt.Sprintf("f%d@example.org", i)
		if i == 1 {
			addr = "not an address"
		}
		m := channels.Message{
			Delivery:  relais.Delivery{ID: i},
			Household: relais.Household{ID: i, Language: "fr", Email: addr},
			Lesson:    relais.Lesson{ID: 7, Title: "Les fractions"},
			Begin: func() error {
				if i == 3 {
					return refused
				}
				return nil
			},
		}
		m.Answered = func(r channels.Result) {
			if _, twice := answered[i]; twice {
				t.Errorf("message %d answered twice", i)
			}
			answered[i] = r.Err
			ch.pool.mu.Lock()
			idle := len(ch.pool.idle)
			ch.pool.mu.Unlock()
			if idle != 0 {
				t.Errorf("message %d answered after its connection went back to the pool", i)
			}
		}
		msgs = append(msgs, m)
	}
	rs := ch.SendBatch(context.Background(), msgs)
	if len(answered) != len(msgs) {
		t.Fatalf("answered %v, want every message", answered)
	}
	for i, r := range rs {
		if answered[int64(i+1)] != r.Err {
			t.Errorf("message %d: answered %v, result %v", i+1, answered[int64(i+1)], r.Err)
		}
	}
	if rs[0].Err == nil || !errors.Is(rs[2].Err, refused) || rs[1].Err != nil || rs[3].Err != nil {
		t.Errorf("results %+v: want the bad address and the refused message failed, the others sent", rs)
	}
}

// A batch renews its connection in its own place in the pool: with one connection for two batches
// and a new connection after every message (MaxPerConn 1), the second batch, waiting from the start,
// sends nothing between the first batch's messages, whose answers the queue records with the next
// message's claim.
func TestRenewedConnectionStaysWithItsBatch(t *testing.T) {
	relay := newFakeRelay(t, nil, nil)
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", relay.port()))
	cfg.MaxConns, cfg.MaxPerConn = 1, 1
	ch := newChannel(t, cfg)
	var mu sync.Mutex
	var order []string // "A1 begins", "A1 answered", ...
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	firstBegun := make(chan struct{})
	batch := func(name string) []channels.Message {
		var msgs []channels.Message
		for i := int64(1); i <= 3; i++ {
			id := fmt.Sprintf("%s%d", name, i)
			msgs = append(msgs, channels.Message{
				Delivery:  relais.Delivery{ID: i},
				Household: relais.Household{ID: i, Language: "fr", Email: fmt.Sprintf("%s@example.org", id)},
				Lesson:    relais.Lesson{ID: 7, Title: "Les fractions"},
				Begin: func() error {
					note(id + " begins")
					if id == "A1" {
						close(firstBegun)
					}
					return nil
				},
				Answered: func(channels.Result) { note(id + " answered") },
			})
		}
		return msgs
	}
	var wg sync.WaitGroup
	wg.Go(func() { ch.SendBatch(context.Background(), batch("A")) })
	<-firstBegun
	wg.Go(func() { ch.SendBatch(context.Background(), batch("B")) }) // waits for the one place
	wg.Wait()
	want := []string{"A1 begins", "A1 answered", "A2 begins", "A2 answered", "A3 begins", "A3 answered",
		"B1 begins", "B1 answered", "B2 begins", "B2 answered", "B3 begins", "B3 answered"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order of the two batches (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"A1@example.org", "A2@example.org", "A3@example.org", "B1@example.org", "B2@example.org", "B3@example.org"},
		relay.acceptedRcpts()); diff != "" {
		t.Errorf("recipients at the relay (-want +got):\n%s", diff)
	}
	if d := ch.pool.dialCount(); d != 6 {
		t.Errorf("%d connections dialed, want one per message (MaxPerConn 1)", d)
	}
}
