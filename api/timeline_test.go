package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// timelineLesson publishes a lesson of t1 to four SMS households: one delivered, two failed, one not
// sent because the family opted out. It returns the lesson id.
func timelineLesson(t *testing.T, f *fixture) int64 {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t1"}
	must(f.store.CreateLesson(ctx, &l))
	must(f.store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil))
	hs := make([]relais.Household, 4)
	for i := range hs {
		hs[i] = relais.Household{ExternalRef: fmt.Sprint("h", i), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361200000%d", i), Consent: true}
	}
	must(f.store.UpsertHouseholds(ctx, hs))
	ids, err := f.store.PlanDeliveries(ctx, []relais.Delivery{
		{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[1].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[2].ID, Channel: relais.ChannelSMS},
		{LessonID: l.ID, HouseholdID: hs[3].ID, Channel: relais.ChannelSMS, Status: relais.DeliverySkipped,
			Reason: relais.OptedOutReason(relais.ChannelSMS)},
	})
	must(err)
	_, err = f.store.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: ids[0], Status: relais.DeliveryDelivered},
		{ID: ids[1], Status: relais.DeliveryFailed, Detail: "invalid number"}, {ID: ids[2], Status: relais.DeliveryFailed, Detail: "invalid number"}})
	must(err)
	return l.ID
}

// getTimeline calls the timeline as user and decodes the answer.
func (f *fixture) getTimeline(user string, q url.Values) (int, relais.Timeline, string) {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/deliveries/timeline?"+q.Encode(), nil)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		relais.Timeline
		Error struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("decode timeline: %v", err)
	}
	return resp.StatusCode, out.Timeline, out.Error.Message
}

func TestTimelineRoles(t *testing.T) {
	f := newFixture(t, nil)
	id := timelineLesson(t, f)
	one := url.Values{"lesson_id": {fmt.Sprint(id)}}
	for _, tc := range []struct {
		user   string
		q      url.Values
		status int
		msg    string
	}{
		{"", one, 401, ""},
		{"t1", one, 200, ""},
		{"t2", one, 404, "not found"}, // another teacher's lesson is hidden
		{"t1", url.Values{}, 400, "Teachers chart the deliveries of one lesson: add lesson_id."},
		{"m", url.Values{}, 200, ""},
		{"a", one, 200, ""},
	} {
		t.Run(fmt.Sprintf("%s %v", tc.user, tc.q), func(t *testing.T) {
			status, _, msg := f.getTimeline(tc.user, tc.q)
			if status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Errorf("= %d %q, want %d %q", status, msg, tc.status, tc.msg)
			}
		})
	}
}

func TestTimelineValidation(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		q    url.Values
		msg  string
	}{
		{"from not a time", url.Values{"from": {"yesterday"}}, "from must be a date and time such as 2025-03-01T08:00:00+01:00 (RFC 3339)."},
		{"to without zone", url.Values{"to": {"2025-03-01T08:00:00"}}, "to must be a date and time such as 2025-03-01T08:00:00+01:00 (RFC 3339)."},
		{"from after to", url.Values{"from": {"2025-03-02T00:00:00Z"}, "to": {"2025-03-01T00:00:00Z"}}, "from must be before to."},
		{"empty period", url.Values{"from": {"2025-03-01T00:00:00Z"}, "to": {"2025-03-01T00:00:00Z"}}, "from must be before to."},
		{"unknown bucket", url.Values{"bucket": {"2m"}}, "bucket must be one of 1m, 5m, 15m, 1h, 6h or 1d."},
		{"too many buckets", url.Values{"from": {"2025-01-01T00:00:00Z"}, "to": {"2025-03-01T00:00:00Z"}, "bucket": {"1m"}},
			"From 2025-01-01T00:00:00Z to 2025-03-01T00:00:00Z there are 84960 buckets of 1m; a timeline has at most 1000: choose a wider bucket or a shorter period."},
		{"too long for days", url.Values{"from": {"2020-01-01T00:00:00Z"}, "to": {"2025-01-01T00:00:00Z"}},
			"From 2020-01-01T00:00:00Z to 2025-01-01T00:00:00Z there are 1827 buckets of 1d; a timeline has at most 1000: choose a shorter period."},
		{"lesson not a number", url.Values{"lesson_id": {"abc"}}, "lesson_id must be a positive number."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, msg := f.getTimeline("m", tc.q)
			if status != 400 || msg != tc.msg {
				t.Errorf("= %d %q, want 400 %q", status, msg, tc.msg)
			}
		})
	}
}

func TestTimelineCounts(t *testing.T) {
	f := newFixture(t, nil)
	base := time.Now().UTC().Truncate(time.Minute)
	id := timelineLesson(t, f)
	from, to := base.Add(-5*time.Minute), base.Add(5*time.Minute)
	status, tl, msg := f.getTimeline("t1", url.Values{"lesson_id": {fmt.Sprint(id)}, "bucket": {"1m"},
		"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}})
	if status != 200 {
		t.Fatalf("timeline = %d %q", status, msg)
	}
	if tl.LessonID != id || tl.Bucket != "1m" || tl.BucketSeconds != 60 || len(tl.Buckets) != 10 ||
		!tl.Buckets[0].Equal(from) || !tl.Buckets[9].Equal(to.Add(-time.Minute)) {
		t.Errorf("timeline frame: lesson %d, bucket %s (%d s), buckets %v", tl.LessonID, tl.Bucket, tl.BucketSeconds, tl.Buckets)
	}
	type total struct {
		Channel relais.ChannelName
		Status  string
		Total   int64
	}
	var got []total
	for _, s := range tl.Series {
		got = append(got, total{s.Channel, s.Status, s.Total})
		var sum int64
		for i, n := range s.Counts {
			sum += n
			if n != 0 && i < 5 { // everything happened at or after base, the start of bucket 5
				t.Errorf("%s %s counts %d in bucket %d, before the events", s.Channel, s.Status, n, i)
			}
		}
		if sum != s.Total || len(s.Counts) != 10 {
			t.Errorf("%s %s: %d counts summing to %d, total %d", s.Channel, s.Status, len(s.Counts), sum, s.Total)
		}
	}
	// The delivered SMS went straight from queued: its "sent" is implied.
	want := []total{{"sms", "pending", 3}, {"sms", "sent", 1}, {"sms", "delivered", 1}, {"sms", "failed", 2}, {"sms", "skipped", 1}, {"sms", relais.OptedOut, 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}

	// Without from, to and bucket: the last day, hourly; a period before the events counts nothing.
	status, tl, _ = f.getTimeline("m", url.Values{})
	if status != 200 || tl.Bucket != "1h" || len(tl.Buckets) < 24 || len(tl.Series) != 6 {
		t.Errorf("default timeline = %d, bucket %s, %d buckets, %d series", status, tl.Bucket, len(tl.Buckets), len(tl.Series))
	}
	status, tl, _ = f.getTimeline("m", url.Values{"from": {"2025-03-01T00:00:00+01:00"}, "to": {"2025-03-08T00:00:00+01:00"}})
	if status != 200 || tl.Bucket != "6h" || len(tl.Buckets) != 28 || len(tl.Series) != 0 ||
		tl.Buckets[1].Format(time.RFC3339) != "2025-03-01T06:00:00+01:00" {
		t.Errorf("a week before = %d, bucket %s, buckets %v, series %v", status, tl.Bucket, tl.Buckets, tl.Series)
	}
}
