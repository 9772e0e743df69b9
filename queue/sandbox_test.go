package queue

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/templates"
)

// The Twilio sandbox takes one family's SMS and drops its answer: the send cannot tell, leaves the
// delivery claimed, and the sweep finds the message at the sandbox (Twilio's list of messages, through
// twilio-go) and records its SID and status: the family gets one SMS, not two.
func TestDroppedSMSAnswerIsReconciledFromTheSandbox(t *testing.T) {
	ctx := context.Background()
	store := stores(t)["sqlite"](t)
	rig := newClaimRig(t, store, 3)
	dropped := rig.hs[1].Phone
	sb := sandboxSMS(t, rig, store, sandbox.Rule{To: dropped, DropAnswer: true})
	ids := rig.plan(t, relais.ChannelSMS)
	if err := rig.w.handleSend(ctx, task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[relais.DeliveryStatus]int{"queued": 2, "claimed": 1}, rig.statuses(t, ids)); diff != "" {
		t.Errorf("after the send (-want +got):\n%s", diff)
	}
	rig.wait(rig.w.cfg.OrphanAfter + time.Second)
	if n, err := rig.w.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep settled %d, %v", n, err)
	}
	ds, _ := store.DeliveriesByIDs(ctx, ids[1:2])
	var sid string
	perNumber := map[string]int{}
	for _, m := range sb.Messages() {
		perNumber[m.To]++
		if m.To == dropped {
			sid = m.Sid
		}
	}
	if ds[0].Status == relais.DeliveryClaimed || ds[0].Status == relais.DeliveryPending || ds[0].ProviderID != sid {
		t.Errorf("reconciled delivery: %s with SID %q, the sandbox holds %q", ds[0].Status, ds[0].ProviderID, sid)
	}
	if tasks, err := rig.insp.ListPendingTasks(QueueSend); err == nil && len(tasks) != 0 {
		t.Errorf("the sweep queued %d send tasks, want none", len(tasks))
	}
	want := map[string]int{rig.hs[0].Phone: 1, dropped: 1, rig.hs[2].Phone: 1}
	if diff := cmp.Diff(want, perNumber); diff != "" {
		t.Errorf("messages at the sandbox per number (-want +got):\n%s", diff)
	}
}

// The status callbacks of an SMS never came (the sandbox sends none): once the delivery has been
// queued for StatusCheckAfter, the periodic check fetches its status from the sandbox by SID.
func TestStuckSMSStatusIsFetchedFromTheSandbox(t *testing.T) {
	ctx := context.Background()
	store := stores(t)["sqlite"](t)
	rig := newClaimRig(t, store, 2)
	sandboxSMS(t, rig, store, sandbox.Rule{NoCallbacks: true})
	ids := rig.plan(t, relais.ChannelSMS)
	if err := rig.w.handleSend(ctx, task(TypeSend, SendPayload{Channel: relais.ChannelSMS, DeliveryIDs: ids})); err != nil {
		t.Fatal(err)
	}
	if n, err := rig.w.CheckStatuses(ctx); err != nil || n != 0 {
		t.Fatalf("check before StatusCheckAfter moved %d, %v", n, err)
	}
	rig.wait(rig.w.cfg.StatusCheckAfter + time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := rig.w.CheckStatuses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st := rig.statuses(t, ids); st[relais.DeliveryDelivered] == 2 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("statuses %v after the check (moved %d)", st, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sandboxSMS gives the rig's worker a real SMS channel (twilio-go) talking to a Twilio sandbox that
// applies rules, and returns the sandbox.
func sandboxSMS(t *testing.T, rig *claimRig, store relais.Store, rules ...sandbox.Rule) *sandbox.Server {
	t.Helper()
	sb, ch := sandboxChannel(t, store, func(cfg *sms.Config) { cfg.Senders = map[string]string{sms.DefaultCountry: "Ecole"} }, rules...)
	rig.w.channels = relaisRegistry(ch)
	return sb
}

// sandboxChannel is the SMS channel on a Twilio sandbox that follows rules, its senders set by
// configure.
func sandboxChannel(t *testing.T, store relais.Store, configure func(*sms.Config), rules ...sandbox.Rule) (*sandbox.Server, *sms.Channel) {
	t.Helper()
	const sid, token = "AC00000000000000000000000000000000", "token"
	sb := sandbox.New(sandbox.Config{AccountSID: sid, AuthToken: token, Rules: rules, StepDelay: time.Millisecond})
	api := httptest.NewServer(sb)
	t.Cleanup(func() { api.Close(); sb.Close() })
	ts, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := sms.DefaultConfig()
	cfg.AccountSID, cfg.AuthToken, cfg.APIURL = sid, token, api.URL
	configure(&cfg)
	ch, err := sms.New(cfg, store, channels.NewLedger(store, nil), ts)
	if err != nil {
		t.Fatal(err)
	}
	return sb, ch
}
