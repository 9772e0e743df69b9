package relais

import "time"

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

// FailureCount is how many deliveries of a channel ended in a status for one reason.
type FailureCount struct {
	Channel ChannelName
	Status  DeliveryStatus
	Reason  string
	Count   int64
}
