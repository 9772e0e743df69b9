package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	relais "github.com/relais-edu/relais"
)

func TestReportCompute(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	recs := []Record{
		{ID: 1, To: "+1", Status: relais.DeliveryDelivered, ProviderID: "SM1"},     // once: fine
		{ID: 2, To: "+2", Status: relais.DeliveryDelivered, ProviderID: "SM2b"},    // twice: 1 duplicate
		{ID: 3, To: "+3", Status: relais.DeliveryDelivered},                        // nothing at the sink: lost, disagrees
		{ID: 4, To: "+4", Status: relais.DeliveryFailed, Reason: "invalid number"}, // nothing, failed with a reason: accounted
		{ID: 5, To: "+5", Status: relais.DeliveryFailed},                           // nothing, failed without a reason: lost
		{ID: 6, To: "+6", Status: relais.DeliveryQueued},                           // at the sink, delivered there: disagrees, unsettled
		{ID: 7, To: "+7", Status: relais.DeliveryPending},                          // at the sink: disagrees, unsettled
		{ID: 8, To: "+8", Status: "unknown", Reason: "claimed, no outcome"},        // unknown, nothing: accounted
		{ID: 9, To: "+9", Status: relais.DeliverySkipped, Reason: "opted out"},     // skipped: accounted
		{ID: 10, To: "+10", Status: relais.DeliveryPending},                        // nothing, pending: lost, unsettled
	}
	sink := []Receipt{
		{To: "+1", At: at(1), ID: "SM1", Status: "delivered"},
		{To: "+2", At: at(2), ID: "SM2a", Status: "delivered"},
		{To: "+6", At: at(3), ID: "SM6", Status: "delivered"},
		{To: "+2", At: at(13), ID: "SM2b", Status: "delivered"},
		{To: "+7", At: at(14), ID: "SM7", Status: "delivered"},
		{To: "+99", At: at(15), ID: "SM99", Status: "delivered"}, // nobody planned it
	}
	got := compute(relais.ChannelSMS, recs, sink, true, at(0), at(20))
	want := ChannelReport{
		Channel: relais.ChannelSMS, Expected: 10, Received: 5, Duplicates: 1, Lost: 3, LostInFlight: 1, Unknown: 1,
		Disagreements: 3, Stray: 1, Unsettled: 3,
		LongestStall: 10 * time.Second, LongestStallAt: at(3),
		Statuses: map[relais.DeliveryStatus]int{"delivered": 3, "failed": 2, "queued": 1, "pending": 2, "unknown": 1, "skipped": 1},
		LostIDs:  []int64{3, 5, 10}, DuplicateIDs: []int64{2}, DisagreementIDs: []int64{3, 6, 7},
		DisagreementKinds: map[string]int{"delivered / none": 1, "queued / delivered": 1, "pending / delivered": 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compute (-want +got):\n%s", diff)
	}

	// Email: the sink has no status of its own; "sent" agrees with a receipt and is final.
	erecs := []Record{{ID: 20, To: "a@x", Status: relais.DeliverySent}, {ID: 21, To: "b@x", Status: relais.DeliverySent}}
	esink := []Receipt{{To: "a@x", At: at(5)}}
	got = compute(relais.ChannelEmail, erecs, esink, false, at(0), at(20))
	want = ChannelReport{Channel: relais.ChannelEmail, Expected: 2, Received: 1, Lost: 1, Disagreements: 1,
		LongestStall: 15 * time.Second, LongestStallAt: at(5), Statuses: map[relais.DeliveryStatus]int{"sent": 2},
		LostIDs: []int64{21}, DisagreementIDs: []int64{21}, DisagreementKinds: map[string]int{"sent / none": 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compute email (-want +got):\n%s", diff)
	}

	// A status that never settled while the message is at the sink (a lost callback) leaves no work:
	// the time after the last receipt is no stall.
	srecs := []Record{{ID: 30, To: "+30", Status: relais.DeliverySent}, {ID: 31, To: "+31", Status: relais.DeliveryDelivered}}
	ssink := []Receipt{{To: "+30", At: at(1), Status: "delivered"}, {To: "+31", At: at(2), Status: "delivered"}}
	got = compute(relais.ChannelSMS, srecs, ssink, true, at(0), at(600))
	if got.Unsettled != 1 || got.Disagreements != 1 || got.LongestStall != time.Second {
		t.Errorf("a lost callback: unsettled %d, disagreements %d, longest stall %s; want 1, 1, 1s", got.Unsettled, got.Disagreements, got.LongestStall)
	}
}

func TestReportStalls(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var smsRecs, mailRecs []Record
	var smsSink, mailSink []Receipt
	// SMS every second from 1 to 10, then a hole to 40 (a kill at 10.5), then 41 to 45.
	for i, s := range []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 40, 41, 42, 43, 44, 45} {
		to := "+" + string(rune('a'+i))
		smsRecs = append(smsRecs, Record{ID: int64(i), To: to, Status: relais.DeliveryDelivered})
		smsSink = append(smsSink, Receipt{To: to, At: at(s), Status: "delivered"})
	}
	// Email done by 5: no work left at the kill.
	for i, s := range []float64{1, 3, 5} {
		to := string(rune('a'+i)) + "@x"
		mailRecs = append(mailRecs, Record{ID: int64(100 + i), To: to, Status: relais.DeliverySent})
		mailSink = append(mailSink, Receipt{To: to, At: at(s)})
	}
	rep := &Report{Published: at(0), End: at(50), Events: []Event{
		{Kind: EventWorkerKill, At: at(10.5)},
		{Kind: EventWorkerRestart, At: at(12)},
		{Kind: EventRedisKill, At: at(2.5)},
		{Kind: EventRedisRestart, At: at(4)},
		{Kind: EventWorkerKill, At: at(42.2)},
	}}
	summarize(rep, map[relais.ChannelName][]Record{relais.ChannelSMS: smsRecs, relais.ChannelEmail: mailRecs},
		map[relais.ChannelName][]Receipt{relais.ChannelSMS: smsSink, relais.ChannelEmail: mailSink},
		map[relais.ChannelName]bool{relais.ChannelSMS: true})
	if got := rep.Channel(relais.ChannelSMS).LongestStall; got != 30*time.Second {
		t.Errorf("SMS longest stall %s, want 30s", got)
	}
	wantNext := []map[relais.ChannelName]time.Duration{
		{relais.ChannelSMS: 29500 * time.Millisecond}, // email had no work left
		nil, // a restart measures nothing
		{relais.ChannelSMS: 500 * time.Millisecond, relais.ChannelEmail: 500 * time.Millisecond},
		{relais.ChannelSMS: time.Second, relais.ChannelEmail: time.Second},
		{relais.ChannelSMS: 800 * time.Millisecond},
	}
	for i, e := range rep.Events {
		if diff := cmp.Diff(wantNext[i], e.Next, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0)); diff != "" {
			t.Errorf("event %d %s: next receipt (-want +got):\n%s", i, e.Kind, diff)
		}
	}
	if d, _ := rep.StallAfter(EventWorkerKill); d != 29500*time.Millisecond {
		t.Errorf("stall after a worker kill %s, want 29.5s", d)
	}
	if d, _ := rep.StallAfter(EventRedisRestart); d != time.Second {
		t.Errorf("stall after the Redis restart %s, want 1s", d)
	}
	s := rep.String()
	for _, want := range []string{"CHANNEL", "sms", "email", "29.5s", "longest stall after worker-kill: 29.5s"} {
		if !strings.Contains(s, want) {
			t.Errorf("the report does not show %q:\n%s", want, s)
		}
	}
}

// The bound on unknowns: no SMS, and an email per SMTP connection that died mid-send, those the proxy
// cut and each killed worker's.
func TestUnknownProblems(t *testing.T) {
	rep := func(sms, email, cuts, kills int) *Report {
		r := &Report{SMTPCuts: cuts, Channels: []ChannelReport{{Channel: relais.ChannelSMS, Unknown: sms},
			{Channel: relais.ChannelEmail, Unknown: email}}}
		for range kills {
			r.Events = append(r.Events, Event{Kind: EventWorkerKill}, Event{Kind: EventWorkerRestart})
		}
		return r
	}
	for _, c := range []struct {
		name                    string
		sms, email, cuts, kills int
		want                    int // problems
	}{
		{"within the bound", 0, 232, 192, 10, 0},
		{"one email over", 0, 233, 192, 10, 1},
		{"an SMS unknown", 1, 0, 0, 0, 1},
		{"no kill, no cut", 0, 1, 0, 0, 1},
	} {
		if got := rep(c.sms, c.email, c.cuts, c.kills).UnknownProblems(4); len(got) != c.want {
			t.Errorf("%s: %q, want %d problems", c.name, got, c.want)
		}
	}
}
