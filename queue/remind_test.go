package queue

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// reminderRecorder keeps what each reminder said, and when it went.
type reminderRecorder struct {
	mu   sync.Mutex
	now  func() time.Time
	sent []reminded
}

type reminded struct {
	Phone   string
	Station string
	Airing  time.Time
	At      time.Time
}

var _ channels.Channel = (*reminderRecorder)(nil)

func (r *reminderRecorder) Name() relais.ChannelName { return relais.ChannelReminder }

func (r *reminderRecorder) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.Airing == nil {
		return channels.Receipt{}, &channels.SendError{Kind: channels.Permanent, Code: "no_airing"}
	}
	r.sent = append(r.sent, reminded{Phone: m.Household.Phone, Station: m.Airing.Station, Airing: m.Airing.Start, At: r.now()})
	return channels.Receipt{ProviderID: "SM" + m.Household.Phone, Status: relais.DeliveryQueued}, nil
}

func (r *reminderRecorder) take() []reminded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	sort.Slice(out, func(i, j int) bool { return out[i].Phone < out[j].Phone })
	return out
}

// TestRemindersOfEveryAiring: a family is reminded of each airing of the lesson on a station its region
// receives, the re-run a week later too, at the airing minus the lead, each reminder naming its own
// station and time; a task run twice sends nothing more, a moved airing reminds at its new time only,
// a cancelled one reminds nobody, quiet hours that outlast the broadcast skip its reminder, and a phone
// shared by two families gets one reminder per airing.
func TestRemindersOfEveryAiring(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		paris, _ := time.LoadLocation("Europe/Paris")
		now := time.Date(2027, 5, 3, 8, 0, 0, 0, paris) // Monday
		f := newFixture(t, 0, func(c *Config) {
			c.ReminderLead = time.Hour
			c.SendWindow = func(_ relais.Household, _ relais.ChannelName, at time.Time) time.Time {
				if at.In(paris).Hour() < 8 { // quiet until 08:00
					return time.Date(at.Year(), at.Month(), at.Day(), 8, 0, 0, 0, paris)
				}
				return at
			}
		})
		ctx := context.Background()
		f.w.now = func() time.Time { return now }
		rec := &reminderRecorder{now: func() time.Time { return now }}
		f.w.channels = relaisRegistry(f.ch, rec)
		hs := []relais.Household{
			{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000301", Consent: true},
			{ExternalRef: "B", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileBroadband, Email: "b@example.org", Consent: true},
			// Speaks Kazakh at home; the pupil is taught in French, the lesson's language.
			{ExternalRef: "C", Region: "Almaty", Language: "kk", Pupils: []relais.Pupil{{Grade: 5, Language: "fr"}}, Profile: relais.ProfileSMSOnly,
				Phone: "+77012000302", Consent: true},
			{ExternalRef: "D", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly, Phone: "+33612000301", Consent: true},
		}
		if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
			t.Fatal(err)
		}
		phoneA, phoneC := hs[0].Phone, hs[2].Phone
		at := func(day, hour, min int) time.Time { return time.Date(2027, 5, day, hour, min, 0, 0, paris) }
		// France 4 reaches IDF, Balapan every region. France 4 airs the lesson on Tuesday and again a week
		// later, and early on Wednesday; Balapan on Wednesday and a week later.
		f4 := func(start time.Time) relais.Airing {
			return relais.Airing{Station: "France 4", Kind: relais.StationTV, Start: start, Region: "IDF"}
		}
		balapan := func(start time.Time) relais.Airing {
			return relais.Airing{Station: "Balapan", Kind: relais.StationRadio, Start: start}
		}
		airings := []relais.Airing{f4(at(4, 10, 0)), f4(at(5, 7, 30)), balapan(at(5, 15, 0)), f4(at(11, 10, 0)), balapan(at(12, 15, 0))}
		f.w.pipeline.AllAirings = func(context.Context, int64) ([]relais.Airing, error) { return airings, nil }
		f.w.pipeline.Airings = func(context.Context, int64) ([]relais.Airing, error) {
			t.Error("reminders read the first airing per station instead of every airing")
			return nil, nil
		}

		if err := f.w.ScheduleReminders(ctx, f.lesson.ID); err != nil {
			t.Fatal(err)
		}
		tasks := f.remindTasks(t)
		var times []time.Time
		for _, p := range tasks {
			times = append(times, time.Unix(p.Start, 0).Add(-time.Hour))
		}
		wantTimes := []time.Time{at(4, 9, 0), at(5, 6, 30), at(5, 14, 0), at(11, 9, 0), at(12, 14, 0)}
		if diff := cmp.Diff(wantTimes, times); diff != "" {
			t.Fatalf("reminder tasks (-want +got):\n%s", diff)
		}
		run := func(p RemindPayload, times int) {
			t.Helper()
			for i := 0; i < times; i++ {
				if err := f.w.handleRemind(ctx, task(TypeRemind, p)); err != nil {
					t.Fatal(err)
				}
				f.drainSends(t)
			}
		}
		check := func(what string, want []reminded) {
			t.Helper()
			if diff := cmp.Diff(want, rec.take()); diff != "" {
				t.Errorf("%s: reminders (-want +got):\n%s", what, diff)
			}
		}

		now = at(4, 9, 0)
		run(tasks[0], 2)
		check("Tuesday on France 4", []reminded{{phoneA, "France 4", at(4, 10, 0), now}})

		now = at(5, 6, 30)
		run(tasks[1], 1)
		check("early Wednesday, in quiet hours", nil)

		now = at(5, 14, 0)
		run(tasks[2], 2)
		check("Wednesday on Balapan", []reminded{{phoneA, "Balapan", at(5, 15, 0), now}, {phoneC, "Balapan", at(5, 15, 0), now}})

		// The re-run on France 4 moves to 14:00, the one on Balapan is cancelled.
		airings = []relais.Airing{f4(at(11, 14, 0))}
		now = at(11, 9, 0)
		run(tasks[3], 1)
		check("the moved airing's first time", nil)
		var moved *RemindPayload
		for _, p := range f.remindTasks(t) {
			if p.Start == at(11, 14, 0).Unix() {
				moved = &p
			}
		}
		if moved == nil {
			t.Fatal("no reminder queued for the moved airing")
		}
		now = at(11, 13, 0)
		run(*moved, 2)
		check("the moved re-run on France 4", []reminded{{phoneA, "France 4", at(11, 14, 0), now}})

		now = at(12, 14, 0)
		run(tasks[4], 1)
		check("the cancelled re-run on Balapan", nil)

		// Every task once more: nothing goes twice.
		for _, p := range append(tasks, *moved) {
			now = time.Unix(p.Start, 0).Add(-time.Hour)
			run(p, 1)
		}
		check("every task run again", nil)

		// The family's one reminder delivery holds each reminder in its history.
		ds, err := f.store.Deliveries(ctx, relais.DeliveryFilter{Channel: relais.ChannelReminder, HouseholdID: hs[0].ID})
		if err != nil || len(ds) != 1 {
			t.Fatalf("reminder deliveries of household A: %v (%v)", ds, err)
		}
		evs, err := f.store.DeliveryEvents(ctx, ds[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var history []relais.DeliveryStatus
		for _, e := range evs {
			history = append(history, e.Status)
		}
		want := []relais.DeliveryStatus{"pending", "queued", "pending", "skipped", "pending", "queued", "pending", "queued"}
		if diff := cmp.Diff(want, history); diff != "" {
			t.Errorf("history of household A's reminder (-want +got):\n%s", diff)
		}
	})
}

// remindTasks lists the queued reminder tasks in time order.
func (f *fixture) remindTasks(t *testing.T) []RemindPayload {
	t.Helper()
	scheduled, err := f.insp.ListScheduledTasks(QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var out []RemindPayload
	for _, ti := range scheduled {
		if ti.Type != TypeRemind {
			continue
		}
		var p RemindPayload
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// drainSends runs the send tasks waiting in the send queue, and removes them as asynq would.
func (f *fixture) drainSends(t *testing.T) {
	t.Helper()
	pending, err := f.insp.ListPendingTasks(QueueSend)
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range pending {
		var sp SendPayload
		if err := json.Unmarshal(ti.Payload, &sp); err != nil {
			t.Fatal(err)
		}
		if err := f.w.handleSend(context.Background(), task(TypeSend, sp)); err != nil {
			t.Fatal(err)
		}
		if err := f.insp.DeleteTask(QueueSend, ti.ID); err != nil {
			t.Fatal(err)
		}
	}
}
