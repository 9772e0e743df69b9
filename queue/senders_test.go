package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/channels/sms/sandbox"
)

// threeSenders is a pool of three French short codes of one rate; fromOf maps their names to their From.
var (
	threeSenders = []sms.PoolSender{{Name: "a", Country: "FR", From: "38101", Rate: 20}, {Name: "b", Country: "FR", From: "38102", Rate: 20},
		{Name: "c", Country: "FR", From: "38103", Rate: 20}}
	fromOf = map[string]string{"a": "38101", "b": "38102", "c": "38103"}
)

// TestEachFamilyKeepsItsSender: lessons fanned out to one population in pages of other compositions
// (other page sizes, families added between lessons), with a pool of three senders: every family gets
// every lesson's SMS from one sender, counted at the Twilio sandbox, including the overflows a page's
// bounded balance sent to their second choice. A sender taken out of the pool between lessons moves
// its families only; they then stay on their new sender.
func TestEachFamilyKeepsItsSender(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { testEachFamilyKeepsItsSender(t, engine) })
	}
}

func testEachFamilyKeepsItsSender(t *testing.T, engine string) {
	ctx := context.Background()
	store := stores(t)[engine](t)
	rig := newClaimRig(t, store, 0)
	rig.w.cfg.FanoutSegment = 0
	family := func(i int) relais.Household {
		return relais.Household{ExternalRef: fmt.Sprint("F", i), Region: "IDF", Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361300%04d", i), Consent: true}
	}
	add := func(from, to int) {
		var hs []relais.Household
		for i := from; i < to; i++ {
			hs = append(hs, family(i))
		}
		if err := store.UpsertHouseholds(ctx, hs); err != nil {
			t.Fatal(err)
		}
	}
	// lesson fans a new lesson out in pages of size through a pool and sends it at a fresh sandbox; it
	// returns the From of each number's message.
	lesson := func(size int, pool []sms.PoolSender) map[string]string {
		t.Helper()
		l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
		if err := store.CreateLesson(ctx, &l); err != nil {
			t.Fatal(err)
		}
		store.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Leçon", Encoding: "GSM-7", Segments: 1})
		if err := store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil); err != nil {
			t.Fatal(err)
		}
		sb, ch := sandboxChannel(t, store, func(cfg *sms.Config) { cfg.Pool = pool })
		rig.w.channels = relaisRegistry(ch, ch.Reminders())
		rig.w.cfg.FanoutPageSize = size
		if err := rig.w.handleFanout(ctx, task(TypeFanout, FanoutPayload{LessonID: l.ID})); err != nil {
			t.Fatal(err)
		}
		sendPending(t, rig)
		from := map[string]string{}
		for _, m := range sb.Messages() {
			if _, twice := from[m.To]; twice {
				t.Errorf("lesson %d: %s got two messages", l.ID, m.To)
			}
			from[m.To] = m.From
		}
		return from
	}
	count := func(from map[string]string) map[string]int {
		n := map[string]int{}
		for _, f := range from {
			n[f]++
		}
		return n
	}

	add(0, 1200)
	first := lesson(1000, threeSenders)
	if len(first) != 1200 {
		t.Fatalf("first lesson: %d families reached, want 1200", len(first))
	}
	for f, n := range count(first) {
		if n > 401 { // ceil(1000/3) + ceil(200/3)
			t.Errorf("first lesson: sender %s took %d families, over its share of the pages", f, n)
		}
	}
	// The overflows of the first lesson, on their second choice, are what a balance without memory moves.
	_, ch := sandboxChannel(t, store, func(cfg *sms.Config) { cfg.Pool = threeSenders })
	hs, err := store.Households(ctx, relais.HouseholdFilter{Page: relais.Page{Limit: relais.MaxPageLimit}})
	if err != nil {
		t.Fatal(err)
	}
	overflows := 0
	for _, h := range hs {
		if own, _, _ := ch.SenderFor(h.Phone, h.ID); own.From != first[h.Phone] {
			overflows++
		}
		if fromOf[h.SMSSender] != first[h.Phone] {
			t.Errorf("household %d remembers sender %q, its SMS came from %s", h.ID, h.SMSSender, first[h.Phone])
		}
	}
	if overflows == 0 {
		t.Fatal("no family of the first lesson was sent off its first choice: the test shows nothing")
	}

	add(1200, 1300) // new families shift the pages
	second := lesson(250, threeSenders)
	for phone, f := range first {
		if second[phone] != f {
			t.Errorf("%s: first lesson from %s, second from %q", phone, f, second[phone])
		}
	}
	if len(second) != 1300 {
		t.Errorf("second lesson: %d families reached, want 1300", len(second))
	}

	// Sender c leaves the pool: its families move to a or b, every other family keeps its sender.
	third := lesson(1000, threeSenders[:2])
	moved := 0
	for phone, f := range second {
		switch {
		case f == fromOf["c"] && third[phone] != fromOf["a"] && third[phone] != fromOf["b"]:
			t.Errorf("%s: on c before, on %q after c left", phone, third[phone])
		case f == fromOf["c"]:
			moved++
		case third[phone] != f:
			t.Errorf("%s: on %s before, moved to %q though its sender stayed", phone, f, third[phone])
		}
	}
	if want := count(second)[fromOf["c"]]; moved != want || want == 0 {
		t.Errorf("%d families moved off c, want its %d", moved, want)
	}
	fourth := lesson(300, threeSenders[:2])
	if diff := cmp.Diff(third, fourth); diff != "" {
		t.Errorf("the lesson after c left (-third +fourth):\n%s", diff)
	}
}

// TestSweepResendsOnTheRememberedSender: a message whose send attempt died unanswered, not found at
// the provider, is queued again by the sweep and goes from the sender the family remembers, not from
// its first rendezvous choice.
func TestSweepResendsOnTheRememberedSender(t *testing.T) {
	ctx := context.Background()
	store := stores(t)["sqlite"](t)
	rig := newClaimRig(t, store, 12)
	sb, ch := sandboxChannel(t, store, func(cfg *sms.Config) { cfg.Pool = threeSenders }, sandbox.Rule{})
	rig.w.channels = relaisRegistry(ch, ch.Reminders())
	// Each family remembers the sender after its first choice (a page's overflow, an earlier pool).
	var ds []relais.Delivery
	var choices []relais.SenderChoice
	want := map[string]string{}
	for _, h := range rig.hs {
		own, _, err := ch.SenderFor(h.Phone, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		other := map[string]string{"a": "b", "b": "c", "c": "a"}[own.Name]
		ds = append(ds, relais.Delivery{LessonID: rig.lesson.ID, HouseholdID: h.ID, Channel: relais.ChannelSMS})
		choices = append(choices, relais.SenderChoice{HouseholdID: h.ID, Sender: other})
		want[h.Phone] = fromOf[other]
	}
	ids, err := store.PlanPage(ctx, ds, choices)
	if err != nil {
		t.Fatal(err)
	}
	// The attempt that claimed them died before calling the provider.
	if _, err := store.ClaimDeliveries(ctx, ids, "send:sms:1#dead", rig.clock()); err != nil {
		t.Fatal(err)
	}
	rig.wait(rig.w.cfg.OrphanAfter + time.Second)
	if n, err := rig.w.Sweep(ctx); err != nil || n != len(ids) {
		t.Fatalf("sweep settled %d, %v; want %d", n, err, len(ids))
	}
	sendPending(t, rig)
	got := map[string]string{}
	for _, m := range sb.Messages() {
		got[m.To] = m.From
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sender of each number after the sweep (-remembered +sent):\n%s", diff)
	}
}

// sendPending runs every send task waiting in Redis, and takes them off.
func sendPending(t *testing.T, rig *claimRig) {
	t.Helper()
	tasks, err := rig.insp.ListPendingTasks(QueueSend, asynq.PageSize(10000))
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if err := rig.w.handleSend(context.Background(), asynq.NewTask(tk.Type, tk.Payload)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rig.insp.DeleteAllPendingTasks(QueueSend); err != nil {
		t.Fatal(err)
	}
}
