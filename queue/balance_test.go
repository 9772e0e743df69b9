package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/scheduler"
)

// TestFanoutSharesAPageAmongSenders: the fan-out shares a page's SMS households among the pool's
// senders at once (each at most its share), its send tasks carry each delivery's sender, and every
// family hears from the sender its page chose for it; a re-run of the page chooses the same.
func TestFanoutSharesAPageAmongSenders(t *testing.T) {
	ctx := context.Background()
	store := stores(t)["sqlite"](t)
	rig := newClaimRig(t, store, 0)
	rig.w.cfg.FanoutSegment = 0
	const n = 150
	for i := range n {
		rig.hs = append(rig.hs, relais.Household{ExternalRef: fmt.Sprint("B", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361200%04d", i), Consent: true})
	}
	if err := store.UpsertHouseholds(ctx, rig.hs); err != nil {
		t.Fatal(err)
	}
	sb, ch := sandboxChannel(t, store, func(cfg *sms.Config) {
		cfg.Pool = []sms.PoolSender{{Name: "a", Country: "FR", From: "38101", Rate: 20}, {Name: "b", Country: "FR", From: "38102", Rate: 20},
			{Name: "c", Country: "FR", From: "38103", Rate: 20}}
	})
	rig.w.channels = relaisRegistry(ch, ch.Reminders())
	fanout := task(TypeFanout, FanoutPayload{LessonID: rig.lesson.ID})
	lanes := func() map[int64]string {
		tasks, err := rig.insp.ListPendingTasks(QueueSend)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]string{}
		for _, tk := range tasks {
			var p SendPayload
			if err := json.Unmarshal(tk.Payload, &p); err != nil || len(p.Lanes) != len(p.DeliveryIDs) {
				t.Fatalf("send task %s: %d lanes for %d deliveries, %v", tk.ID, len(p.Lanes), len(p.DeliveryIDs), err)
			}
			for i, id := range p.DeliveryIDs {
				out[id] = p.Lanes[i]
			}
		}
		return out
	}
	if err := rig.w.handleFanout(ctx, fanout); err != nil {
		t.Fatal(err)
	}
	chosen := lanes()
	load := map[string]int{}
	for _, l := range chosen {
		load[l]++
	}
	if len(chosen) != n || len(load) != 3 || load["a"] > 50 || load["b"] > 50 || load["c"] > 50 {
		t.Fatalf("%d deliveries, senders %v; want %d, at most 50 each", len(chosen), load, n)
	}
	// The page again (a re-run): the same senders.
	if _, err := rig.insp.DeleteAllPendingTasks(QueueSend); err != nil {
		t.Fatal(err)
	}
	if err := rig.w.handleFanout(ctx, fanout); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(chosen, lanes()); diff != "" {
		t.Errorf("a re-run of the page chose other senders (-first +again):\n%s", diff)
	}
	tasks, _ := rig.insp.ListPendingTasks(QueueSend)
	for _, tk := range tasks {
		if err := rig.w.handleSend(ctx, asynq.NewTask(tk.Type, tk.Payload)); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := store.Deliveries(ctx, relais.DeliveryFilter{LessonID: rig.lesson.ID, Page: relais.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	phone := map[int64]string{}
	for _, h := range rig.hs {
		phone[h.ID] = h.Phone
	}
	want := map[string]string{} // number -> from
	for _, d := range ds {
		want[phone[d.HouseholdID]] = map[string]string{"a": "38101", "b": "38102", "c": "38103"}[chosen[d.ID]]
	}
	got := map[string]string{}
	for _, m := range sb.Messages() {
		got[m.To] = m.From
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sender of each number (-chosen +sent):\n%s", diff)
	}

	// The reminder of an airing: its pages are the fan-out's, so each family's reminder goes on its
	// digest's sender.
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	airings := []relais.Airing{{Station: "tv", Start: start}}
	rig.w.pipeline.AllAirings = func(context.Context, int64) ([]relais.Airing, error) { return airings, nil }
	if _, err := rig.insp.DeleteAllPendingTasks(QueueSend); err != nil {
		t.Fatal(err)
	}
	if err := rig.w.handleRemind(ctx, task(TypeRemind, RemindPayload{LessonID: rig.lesson.ID, Station: "tv", Start: start.Unix()})); err != nil {
		t.Fatal(err)
	}
	reminded := map[int64]string{} // by household
	for id, lane := range lanes() {
		ds, err := store.DeliveriesByIDs(ctx, []int64{id})
		if err != nil || len(ds) != 1 || ds[0].Channel != relais.ChannelReminder {
			t.Fatalf("reminder delivery %d: %+v, %v", id, ds, err)
		}
		reminded[ds[0].HouseholdID] = lane
	}
	digest := map[int64]string{}
	for _, d := range ds {
		digest[d.HouseholdID] = chosen[d.ID]
	}
	if diff := cmp.Diff(digest, reminded); diff != "" {
		t.Errorf("reminder senders (-digest +reminder):\n%s", diff)
	}
}

// TestRemindersPageAsTheFanout: with segments, the fan-out pages each segment from its start; the
// reminders page the same way, so a page's households share the senders as their digests did.
func TestRemindersPageAsTheFanout(t *testing.T) {
	ctx := context.Background()
	store := stores(t)["sqlite"](t)
	rig := newClaimRig(t, store, 0)
	rig.w.cfg.FanoutSegment, rig.w.cfg.FanoutPageSize = 40, 30
	for i := range 100 {
		rig.hs = append(rig.hs, relais.Household{ExternalRef: fmt.Sprint("B", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361200%04d", i), Consent: true})
	}
	if err := store.UpsertHouseholds(ctx, rig.hs); err != nil {
		t.Fatal(err)
	}
	var pages [][]int64
	rig.w.channels = relaisRegistry(pageRecorder{relais.ChannelSMS, &pages})
	for _, seg := range []FanoutPayload{{LessonID: rig.lesson.ID, After: 0, Until: 40}, {LessonID: rig.lesson.ID, After: 40, Until: 80},
		{LessonID: rig.lesson.ID, After: 80, Until: 120}} {
		if err := rig.w.handleFanout(ctx, task(TypeFanout, seg)); err != nil {
			t.Fatal(err)
		}
	}
	fanout := pages
	pages = nil
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	rig.w.pipeline.AllAirings = func(context.Context, int64) ([]relais.Airing, error) {
		return []relais.Airing{{Station: "tv", Start: start}}, nil
	}
	rig.w.channels = relaisRegistry(pageRecorder{relais.ChannelReminder, &pages})
	if err := rig.w.handleRemind(ctx, task(TypeRemind, RemindPayload{LessonID: rig.lesson.ID, Station: "tv", Start: start.Unix()})); err != nil {
		t.Fatal(err)
	}
	if len(fanout) != 5 { // 30 + 10 households in each of the segments of 40 ids, 20 in the last
		t.Errorf("fan-out pages %v", fanout)
	}
	if diff := cmp.Diff(fanout, pages); diff != "" {
		t.Errorf("reminder pages (-fan-out +reminders):\n%s", diff)
	}
}

// pageRecorder is a channel that balances: it records each page it is asked to share.
type pageRecorder struct {
	name  relais.ChannelName
	pages *[][]int64
}

func (p pageRecorder) Name() relais.ChannelName { return p.name }

var _ channels.Balancer = pageRecorder{}

func (p pageRecorder) Send(context.Context, channels.Message) (channels.Receipt, error) {
	return channels.Receipt{}, nil
}

func (p pageRecorder) Balance(hs []relais.Household) []string {
	var ids []int64
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	*p.pages = append(*p.pages, ids)
	return make([]string, len(hs))
}

// The simulation pages the fan-out as the worker does.
func TestSimulationPagesAsTheFanout(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.FanoutPageSize != scheduler.FanoutPageSize || cfg.FanoutSegment != scheduler.FanoutSegmentSize {
		t.Errorf("worker pages %d households in segments of %d ids; the simulation %d in %d",
			cfg.FanoutPageSize, cfg.FanoutSegment, scheduler.FanoutPageSize, scheduler.FanoutSegmentSize)
	}
}
