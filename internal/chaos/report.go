package chaos

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	relais "github.com/relais-edu/relais"
)

// Record is one delivery as Relais recorded it, with the address it was for.
type Record struct {
	ID         int64
	To         string // phone or email address
	Status     relais.DeliveryStatus
	Reason     string
	ProviderID string
}

// Receipt is one message as a sink received it.
type Receipt struct {
	To     string
	At     time.Time
	ID     string // the provider's id (SMS sid, email Message-ID)
	Status string // the provider's own status (SMS), when it has one
}

// Event is something the harness did, or saw happen, during the run.
type Event struct {
	Kind   string // worker-kill, worker-restart, redis-kill, redis-restart, db-restart, crash
	At     time.Time
	Detail string
	// Next is, per channel that still had work at At, the time to that channel's next receipt at its
	// sink (or to the end of the run when none came).
	Next map[relais.ChannelName]time.Duration
}

// The kinds of Event that measure a stall.
const (
	EventWorkerKill    = "worker-kill"
	EventWorkerRestart = "worker-restart"
	EventRedisKill     = "redis-kill"
	EventRedisRestart  = "redis-restart"
	EventDBRestart     = "db-restart"
	EventCrash         = "crash" // a process exited on its own and was started again
	// The cluster's blows: an API process killed for good, and the Redis master killed under
	// Sentinel (the caller's Blow), which promotes the replica.
	EventAPIKill         = "api-kill"
	EventRedisMasterKill = "redis-master-kill"
)

// ChannelReport is the outcome of one channel.
type ChannelReport struct {
	Channel       relais.ChannelName
	Expected      int // deliveries planned
	Received      int // distinct recipients at the sink
	Duplicates    int // copies beyond the first, per recipient
	Lost          int // expected, never at the sink, not recorded as failed, skipped or unknown with a reason
	LostInFlight  int // of Lost, those still moving when the run ended (a deadline, not a verdict)
	Unknown       int // deliveries recorded as "unknown"
	Disagreements int // recorded status contradicts the sink
	Stray         int // recipients at the sink with no delivery planned for them
	Unsettled     int // deliveries not in a final state at the end
	// LongestStall is the longest gap between consecutive receipts while work remained (from the
	// publication, and to the end of the run if a message never reached the sink).
	LongestStall   time.Duration
	LongestStallAt time.Time // when that gap began
	Statuses       map[relais.DeliveryStatus]int
	// DisagreementKinds counts the disagreements by "recorded status / what the sink has" (none,
	// received, or the provider's status).
	DisagreementKinds map[string]int
	// A few delivery ids of each kind of problem, to look at.
	LostIDs, DuplicateIDs, DisagreementIDs []int64
}

// Report is the outcome of a chaos run.
type Report struct {
	Households, Workers int
	Seed                uint64
	Published, End      time.Time
	Settled             bool // every delivery reached a final state before the deadline
	Channels            []ChannelReport
	Events              []Event
	SMTPCuts            int                      // SMTP connections the proxy cut mid-DATA
	SandboxAnswers      map[int]int              // HTTP status -> requests the sandbox answered so
	Notes               []string                 // anything odd the harness saw
	Stalls              map[string]time.Duration // longest time to the next receipt after an event kind, over channels
	Sends               int                      // messages the sinks received, every channel
	LastReceipt         time.Time                // when the last of them arrived
}

// Throughput returns the time from the publication to the last message at a sink, and the messages
// the sinks received per second of it.
func (r *Report) Throughput() (wall time.Duration, perSecond float64) {
	if r.Sends == 0 || !r.LastReceipt.After(r.Published) {
		return 0, 0
	}
	wall = r.LastReceipt.Sub(r.Published)
	return wall, float64(r.Sends) / wall.Seconds()
}

// Count returns how many events of kind the run had.
func (r *Report) Count(kind string) int {
	n := 0
	for _, e := range r.Events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// UnknownProblems says where more messages ended unknown than the guarantee allows: an SMS never (the
// sweep asks the provider about every one in doubt), an email at most one per SMTP connection that
// died mid-send, those the proxy cut and the connsPerWorker (RELAIS_SMTP_MAX_CONNS) of each killed
// worker. Nil when none.
func (r *Report) UnknownProblems(connsPerWorker int) []string {
	var out []string
	if c := r.Channel(relais.ChannelSMS); c.Unknown != 0 {
		out = append(out, fmt.Sprintf("sms: %d unknown, want 0: the sweep asks the provider about every SMS in doubt", c.Unknown))
	}
	kills := r.Count(EventWorkerKill)
	if c, most := r.Channel(relais.ChannelEmail), r.SMTPCuts+connsPerWorker*kills; c.Unknown > most {
		out = append(out, fmt.Sprintf("email: %d unknown, want at most %d (one per connection cut or killed: %d cut, %d workers killed with %d each)",
			c.Unknown, most, r.SMTPCuts, kills, connsPerWorker))
	}
	return out
}

// Channel returns the report of ch (zero if absent).
func (r *Report) Channel(ch relais.ChannelName) ChannelReport {
	for _, c := range r.Channels {
		if c.Channel == ch {
			return c
		}
	}
	return ChannelReport{Channel: ch}
}

// StallAfter returns the longest time from an event of kind to the next receipt of a channel that
// still had work, and whether any such event happened.
func (r *Report) StallAfter(kind string) (time.Duration, bool) {
	d, ok := r.Stalls[kind]
	return d, ok
}

// finalFor reports whether a delivery of ch in status s will not move any more, as far as the
// harness waits: an email the relay took ("sent") only a bounce would change.
func finalFor(ch relais.ChannelName, s relais.DeliveryStatus) bool {
	if ch == relais.ChannelEmail && s == relais.DeliverySent {
		return true
	}
	return s == "unknown" || s.Final()
}

// handedOver reports whether status s says the message went to the provider.
func handedOver(s relais.DeliveryStatus) bool {
	switch s {
	case relais.DeliveryQueued, relais.DeliverySending, relais.DeliverySent, relais.DeliveryDelivered, relais.DeliveryUndelivered:
		return true
	}
	return false
}

// accounted reports whether a delivery that never reached the sink is explained by its record.
func accounted(r Record) bool {
	switch r.Status {
	case relais.DeliveryFailed, relais.DeliverySkipped, "unknown":
		return r.Reason != ""
	}
	return false
}

const maxIDs = 5

// compute builds a channel's report from the deliveries Relais recorded and what its sink received.
// statusful says whether the sink's Receipt.Status is the provider's final word, to compare with the
// record (SMS); otherwise a recipient at the sink agrees with any status that says it was handed over.
func compute(ch relais.ChannelName, recs []Record, sink []Receipt, statusful bool, published, end time.Time) ChannelReport {
	cr := ChannelReport{Channel: ch, Expected: len(recs), Statuses: map[relais.DeliveryStatus]int{}}
	byTo := map[string][]Receipt{}
	for _, m := range sink {
		byTo[m.To] = append(byTo[m.To], m)
	}
	cr.Received = len(byTo)
	planned := map[string]bool{}
	workLeft := false
	for _, r := range recs {
		planned[r.To] = true
		cr.Statuses[r.Status]++
		if !finalFor(ch, r.Status) {
			cr.Unsettled++
		}
		got := byTo[r.To]
		if r.Status == "unknown" {
			cr.Unknown++
		}
		if n := len(got); n > 1 {
			cr.Duplicates += n - 1
			cr.DuplicateIDs = appendID(cr.DuplicateIDs, r.ID)
		}
		if len(got) == 0 {
			if !accounted(r) {
				cr.Lost++
				cr.LostIDs = appendID(cr.LostIDs, r.ID)
				if !finalFor(ch, r.Status) {
					cr.LostInFlight++
				}
				workLeft = true
			}
			if handedOver(r.Status) {
				cr.disagree(r, "none")
			}
			continue
		}
		if r.Status == "unknown" {
			continue // the harness counts it as unknown, not as a contradiction
		}
		sinkSays := "received"
		if statusful {
			sinkSays = got[len(got)-1].Status
			for _, m := range got {
				if m.ID != "" && m.ID == r.ProviderID {
					sinkSays = m.Status
				}
			}
		}
		agree := handedOver(r.Status)
		if agree && statusful {
			agree = sinkSays == "" || string(r.Status) == sinkSays
		}
		if !agree {
			cr.disagree(r, sinkSays)
		}
	}
	for to, got := range byTo {
		if !planned[to] {
			cr.Stray += len(got)
		}
	}
	// Work is left at the end only if a message never reached its sink: a delivery whose message is
	// there but whose record never settled (a lost callback) leaves nothing to send.
	cr.LongestStall, cr.LongestStallAt = longestGap(times(sink), published, end, workLeft)
	return cr
}

func (cr *ChannelReport) disagree(r Record, sinkSays string) {
	cr.Disagreements++
	cr.DisagreementIDs = appendID(cr.DisagreementIDs, r.ID)
	if cr.DisagreementKinds == nil {
		cr.DisagreementKinds = map[string]int{}
	}
	cr.DisagreementKinds[string(r.Status)+" / "+sinkSays]++
}

func appendID(ids []int64, id int64) []int64 {
	if len(ids) < maxIDs {
		ids = append(ids, id)
	}
	return ids
}

// times returns the receipt times, sorted.
func times(sink []Receipt) []time.Time {
	ts := make([]time.Time, len(sink))
	for i, m := range sink {
		ts[i] = m.At
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// longestGap is the longest gap in from, ts..., and end too when work was left at the end.
func longestGap(ts []time.Time, from, end time.Time, workLeft bool) (time.Duration, time.Time) {
	var best time.Duration
	var at time.Time
	prev := from
	for _, t := range ts {
		if t.Before(from) {
			continue
		}
		if d := t.Sub(prev); d > best {
			best, at = d, prev
		}
		prev = t
	}
	if workLeft && end.Sub(prev) > best {
		best, at = end.Sub(prev), prev
	}
	return best, at
}

// nextReceipt fills e.Next: for each channel that still had work at e.At (a receipt came later, or
// the channel ended the run with work left), the time to its next receipt, or to end.
func nextReceipt(e *Event, sinks map[relais.ChannelName][]time.Time, workLeft map[relais.ChannelName]bool, end time.Time) {
	e.Next = map[relais.ChannelName]time.Duration{}
	for ch, ts := range sinks {
		i := sort.Search(len(ts), func(i int) bool { return ts[i].After(e.At) })
		switch {
		case i < len(ts):
			e.Next[ch] = ts[i].Sub(e.At)
		case workLeft[ch]:
			e.Next[ch] = end.Sub(e.At)
		}
	}
}

// summarize computes every channel and the stalls after the events.
func summarize(r *Report, recs map[relais.ChannelName][]Record, sinks map[relais.ChannelName][]Receipt, statusful map[relais.ChannelName]bool) {
	chans := make([]relais.ChannelName, 0, len(recs))
	for ch := range recs {
		chans = append(chans, ch)
	}
	sort.Slice(chans, func(i, j int) bool { return chans[i] > chans[j] }) // sms, email
	r.Channels = nil
	r.Sends, r.LastReceipt = 0, time.Time{}
	for _, ch := range chans {
		for _, m := range sinks[ch] {
			r.Sends++
			if m.At.After(r.LastReceipt) {
				r.LastReceipt = m.At
			}
		}
	}
	ts := map[relais.ChannelName][]time.Time{}
	left := map[relais.ChannelName]bool{}
	for _, ch := range chans {
		cr := compute(ch, recs[ch], sinks[ch], statusful[ch], r.Published, r.End)
		r.Channels = append(r.Channels, cr)
		ts[ch] = times(sinks[ch])
		left[ch] = cr.Lost > 0
	}
	r.Stalls = map[string]time.Duration{}
	for i := range r.Events {
		e := &r.Events[i]
		switch e.Kind {
		case EventWorkerKill, EventRedisRestart, EventRedisKill, EventDBRestart, EventCrash, EventAPIKill, EventRedisMasterKill:
		default:
			continue
		}
		nextReceipt(e, ts, left, r.End)
		d, seen := r.Stalls[e.Kind]
		for _, n := range e.Next {
			d = max(d, n)
		}
		if !seen || d > r.Stalls[e.Kind] {
			r.Stalls[e.Kind] = d
		}
	}
}

// String prints the report: a table per channel, then the stalls after each event.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run: %d households, %d workers, seed %d; publish to end %s; settled: %v\n",
		r.Households, r.Workers, r.Seed, r.End.Sub(r.Published).Round(100*time.Millisecond), r.Settled)
	if wall, rate := r.Throughput(); wall > 0 {
		fmt.Fprintf(&b, "sends: %d messages at the sinks in %s from the publication: %.1f/s\n", r.Sends, wall.Round(100*time.Millisecond), rate)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CHANNEL\tEXPECTED\tRECEIVED\tDUPLICATES\tLOST\tUNKNOWN\tDISAGREE\tSTRAY\tUNSETTLED\tLONGEST STALL\tAFTER KILL\tAFTER REDIS\t")
	for _, c := range r.Channels {
		kill, redis := time.Duration(-1), time.Duration(-1)
		for _, e := range r.Events {
			n, ok := e.Next[c.Channel]
			if !ok {
				continue
			}
			switch e.Kind {
			case EventWorkerKill:
				kill = max(kill, n)
			case EventRedisRestart:
				redis = max(redis, n)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", c.Channel, c.Expected, c.Received, c.Duplicates,
			c.Lost, c.Unknown, c.Disagreements, c.Stray, c.Unsettled, dur(c.LongestStall), dur(kill), dur(redis))
	}
	tw.Flush()
	for _, c := range r.Channels {
		fmt.Fprintf(&b, "%s statuses: %s", c.Channel, statusLine(c.Statuses))
		if len(c.DisagreementKinds) > 0 {
			var ks []string
			for k := range c.DisagreementKinds {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			var parts []string
			for _, k := range ks {
				parts = append(parts, fmt.Sprintf("%d %s", c.DisagreementKinds[k], k))
			}
			fmt.Fprintf(&b, "; disagreements (recorded / sink): %s", strings.Join(parts, ", "))
		}
		if c.LostInFlight > 0 {
			fmt.Fprintf(&b, "; %d of the lost were still moving at the end", c.LostInFlight)
		}
		if len(c.DuplicateIDs)+len(c.LostIDs)+len(c.DisagreementIDs) > 0 {
			fmt.Fprintf(&b, "; e.g. duplicated %v, lost %v, disagreeing %v", c.DuplicateIDs, c.LostIDs, c.DisagreementIDs)
		}
		b.WriteString("\n")
	}
	if len(r.SandboxAnswers) > 0 || r.SMTPCuts > 0 {
		var codes []int
		for k := range r.SandboxAnswers {
			codes = append(codes, k)
		}
		sort.Ints(codes)
		var parts []string
		for _, k := range codes {
			parts = append(parts, fmt.Sprintf("%d×%d", r.SandboxAnswers[k], k))
		}
		fmt.Fprintf(&b, "faults: sandbox answered %s; SMTP connections cut mid-DATA: %d\n", strings.Join(parts, " "), r.SMTPCuts)
	}
	b.WriteString("events (time after publish; time to the next receipt per channel that had work):\n")
	for _, e := range r.Events {
		fmt.Fprintf(&b, "  %8s  %-15s %s", e.At.Sub(r.Published).Round(100*time.Millisecond), e.Kind, e.Detail)
		if e.Next != nil {
			var chans []string
			for ch := range e.Next {
				chans = append(chans, string(ch))
			}
			sort.Sort(sort.Reverse(sort.StringSlice(chans)))
			for _, ch := range chans {
				fmt.Fprintf(&b, "  %s→%s", ch, dur(e.Next[relais.ChannelName(ch)]))
			}
		}
		b.WriteString("\n")
	}
	kinds := []string{EventWorkerKill, EventRedisKill, EventRedisRestart, EventDBRestart, EventCrash, EventAPIKill, EventRedisMasterKill}
	for _, k := range kinds {
		if d, ok := r.Stalls[k]; ok {
			fmt.Fprintf(&b, "longest stall after %s: %s\n", k, dur(d))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

func statusLine(m map[relais.DeliveryStatus]int) string {
	var ks []string
	for k := range m {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[relais.DeliveryStatus(k)]))
	}
	return strings.Join(parts, ", ")
}

func dur(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(100 * time.Millisecond).String()
}
