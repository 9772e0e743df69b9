package queue

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Redis down (nothing listening) or hung (a listener that never answers) during a status callback:
// the ledger cannot queue the batched move and writes it straight into the store; nothing is lost.
func TestStatusCallbackIsRecordedWhileRedisIsDown(t *testing.T) {
	ctx := context.Background()
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	down.Close()
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	for name, addr := range map[string]string{"down": downAddr, "hung": hung.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			r := newClaimRig(t, stores(t)["sqlite"](t), 1)
			ids := r.plan(t, relais.ChannelSMS)
			if _, err := r.store.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliveryQueued, ProviderID: "SM1"}}); err != nil {
				t.Fatal(err)
			}
			client := NewClient(asynq.RedisClientOpt{Addr: addr, DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
			defer client.Close()
			ledger := channels.NewLedger(r.store, client.RecordStatus)
			start := time.Now()
			out, err := ledger.Record(ctx, channels.Verdict{Channel: relais.ChannelSMS, DeliveryID: ids[0], ProviderID: "SM1",
				Status: relais.DeliveryDelivered, Detail: "twilio: delivered", Batched: true})
			if err != nil || !out.Unbatched {
				t.Fatalf("Record = %+v, %v; want it written straight into the store", out, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the callback waited %v for the queue", d)
			}
			if st := r.statuses(t, ids); st[relais.DeliveryDelivered] != 1 {
				t.Errorf("statuses %v, want delivered", st)
			}
		})
	}
}
