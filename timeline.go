package relais

import (
	"slices"
	"strings"
	"time"
)

// OptedOutPrefix begins the reason of every delivery skipped because the family opted out of its
// channel (a STOP reply, an unsubscribe link, or a provider reporting the number unsubscribed). The
// delivery timeline counts those skips as "opted out".
const OptedOutPrefix = "opted out of "

// OptedOutReason is the reason recorded on a delivery not sent because the family opted out of ch.
func OptedOutReason(ch ChannelName) string { return OptedOutPrefix + string(ch) }

// TimelineFilter selects the delivery status changes a timeline counts.
type TimelineFilter struct {
	LessonID int64     // 0: every lesson
	From, To time.Time // status changes at or after From and before To
	Bucket   time.Duration
}

// TimelineCount is how many deliveries of one channel moved to one status within the bucket that
// starts at Start (buckets are Bucket wide, the first starting at the filter's From).
type TimelineCount struct {
	Start   time.Time
	Channel ChannelName
	Status  DeliveryStatus
	Count   int64
	// OptedOut is how many of Count were skipped because the family opted out (status skipped only).
	OptedOut int64
}

// TimelineBuckets are the bucket widths a timeline offers, narrowest first.
var TimelineBuckets = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour,
	6 * time.Hour, 24 * time.Hour}

// MaxTimelineBuckets bounds the points of one timeline.
const MaxTimelineBuckets = 1000

// TimelineBucket picks the narrowest bucket that cuts span into at most 60 points.
func TimelineBucket(span time.Duration) time.Duration {
	for _, b := range TimelineBuckets {
		if span <= 60*b {
			return b
		}
	}
	return TimelineBuckets[len(TimelineBuckets)-1]
}

// FailureFilter selects the failed and undelivered deliveries whose reasons are counted.
type FailureFilter struct {
	LessonID int64     // 0: every lesson
	From, To time.Time // when the delivery failed; zero: no bound
	Limit    int       // the most frequent reasons only; 0: 100
}

// WholeMinutes reports whether a failure period's bounds fall on whole minutes (a zero bound is
// open): the stores then read the failures they keep per minute instead of the deliveries.
func WholeMinutes(from, to time.Time) bool {
	return (!from.IsZero() || !to.IsZero()) && wholeMinute(from) && wholeMinute(to)
}

// wholeMinute reports whether t falls on a whole minute (the zero time does).
func wholeMinute(t time.Time) bool { return t.UnixMilli()%60000 == 0 }

// Check refuses a timeline the stores cannot count from their per-minute rows: its start, end and
// bucket must be whole minutes, the start before the end.
func (f TimelineFilter) Check() error {
	if f.Bucket < time.Minute || f.Bucket%time.Minute != 0 || !f.From.Before(f.To) || !wholeMinute(f.From) || !wholeMinute(f.To) {
		return Errorf(EINVALID, "A timeline counts whole minutes: its start, end and bucket must be whole minutes, the start before the end.")
	}
	return nil
}

// FailureCount is how many deliveries of a channel ended in a status for one reason.
type FailureCount struct {
	Channel ChannelName
	Status  DeliveryStatus
	Reason  string
	Count   int64
}

// OptedOut names the timeline series of deliveries skipped because the family opted out of the
// channel: a part of the skipped series.
const OptedOut = "opted_out"

// Timeline is the JSON form of a delivery timeline: the start of each bucket and, per channel and
// status, how many deliveries moved to that status in each bucket.
type Timeline struct {
	LessonID      int64            `json:"lesson_id,omitempty"`
	From          time.Time        `json:"from"`
	To            time.Time        `json:"to"`
	Bucket        string           `json:"bucket"`
	BucketSeconds int64            `json:"bucket_seconds"`
	Buckets       []time.Time      `json:"buckets"`
	Series        []TimelineSeries `json:"series"`
}

// TimelineSeries is one channel and status over the buckets of a timeline.
type TimelineSeries struct {
	Channel ChannelName `json:"channel"`
	Status  string      `json:"status"` // a delivery status, or OptedOut
	Counts  []int64     `json:"counts"`
	Total   int64       `json:"total"`
}

// bucketNames are the bucket widths offered, by name.
var bucketNames = map[time.Duration]string{time.Minute: "1m", 5 * time.Minute: "5m", 15 * time.Minute: "15m",
	time.Hour: "1h", 6 * time.Hour: "6h", 24 * time.Hour: "1d"}

// BucketName is the name of a bucket width in the API ("5m", "1h", "1d").
func BucketName(d time.Duration) string {
	if n, ok := bucketNames[d]; ok {
		return n
	}
	return d.String()
}

// channelOrder puts the channels of a timeline in a stable, familiar order.
var channelOrder = map[ChannelName]int{ChannelSMS: 0, ChannelEmail: 1, ChannelPostal: 2, ChannelReminder: 3}

// NewTimeline lays the counts of f's period out as series over its buckets, by channel (SMS, email,
// post, reminders, then any other) and status (in pipeline order, opted_out after skipped). A series
// is there when it counts something.
func NewTimeline(f TimelineFilter, counts []TimelineCount) Timeline {
	n := int((f.To.Sub(f.From) + f.Bucket - 1) / f.Bucket)
	t := Timeline{LessonID: f.LessonID, From: f.From, To: f.To, Bucket: BucketName(f.Bucket),
		BucketSeconds: int64(f.Bucket / time.Second), Buckets: make([]time.Time, n), Series: []TimelineSeries{}}
	for i := range t.Buckets {
		t.Buckets[i] = f.From.Add(time.Duration(i) * f.Bucket)
	}
	type key struct {
		ch     ChannelName
		status string
	}
	series := map[key]*TimelineSeries{}
	add := func(k key, i int, v int64) {
		s, ok := series[k]
		if !ok {
			s = &TimelineSeries{Channel: k.ch, Status: k.status, Counts: make([]int64, n)}
			series[k] = s
		}
		s.Counts[i] += v
		s.Total += v
	}
	for _, c := range counts {
		i := int(c.Start.Sub(f.From) / f.Bucket)
		if i < 0 || i >= n || c.Count == 0 {
			continue
		}
		add(key{c.Channel, string(c.Status)}, i, c.Count)
		if c.OptedOut > 0 {
			add(key{c.Channel, OptedOut}, i, c.OptedOut)
		}
	}
	rank := map[string]int{}
	for i, st := range DeliveryStatuses {
		rank[string(st)] = 2 * i
	}
	rank[OptedOut] = rank[string(DeliverySkipped)] + 1
	for _, s := range series {
		t.Series = append(t.Series, *s)
	}
	slices.SortFunc(t.Series, func(a, b TimelineSeries) int {
		ra, oka := channelOrder[a.Channel]
		rb, okb := channelOrder[b.Channel]
		switch {
		case oka != okb && oka:
			return -1
		case oka != okb:
			return 1
		case ra != rb:
			return ra - rb
		case a.Channel != b.Channel:
			return strings.Compare(string(a.Channel), string(b.Channel))
		}
		return rank[a.Status] - rank[b.Status]
	})
	return t
}
