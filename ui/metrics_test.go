package ui

import (
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relais-edu/relais/queue"
)

// fakeTaskStats stands in for the task statistics the workers keep in Redis (queue.Client.TaskStats,
// tested in package queue against a real Redis).
func fakeTaskStats() (queue.TaskStats, error) {
	return queue.TaskStats{
		Processed: map[string]uint64{queue.TypeSend: 12, queue.TypeTranscode: 2},
		Failed:    map[string]uint64{queue.TypeSend: 3},
		Transcode: queue.Histogram{Count: 2, Sum: 95.5, Buckets: map[float64]uint64{10: 0, 30: 0, 60: 1, 120: 2, 300: 2,
			600: 2, 1200: 2, 1800: 2, 3600: 2}},
	}, nil
}

// TestMetricFamilies scrapes /metrics as Prometheus does and checks every family the operators rely
// on, with its labels and values: queue depth, task runs and failures per type, transcode durations,
// deliveries per channel and status, HTTP requests; and that no source failed.
func TestMetricFamilies(t *testing.T) {
	f := newFixture(t, nil)
	f.browser("") // one GET of the sign-in page, counted in the requests
	want := `
# HELP relais_queue_tasks Tasks in each asynq queue, by state.
# TYPE relais_queue_tasks gauge
relais_queue_tasks{queue="send",state="active"} 2
relais_queue_tasks{queue="send",state="archived"} 0
relais_queue_tasks{queue="send",state="pending"} 7
relais_queue_tasks{queue="send",state="retry"} 0
relais_queue_tasks{queue="send",state="scheduled"} 0
# HELP relais_tasks_processed_total Task runs the workers finished, by task type (a retry is another run).
# TYPE relais_tasks_processed_total counter
relais_tasks_processed_total{type="delivery:send"} 12
relais_tasks_processed_total{type="lesson:transcode"} 2
# HELP relais_tasks_failed_total Task runs that failed, by task type (a throttled send or a waiting fan-out is no failure).
# TYPE relais_tasks_failed_total counter
relais_tasks_failed_total{type="delivery:send"} 3
# HELP relais_transcode_seconds Seconds each transcode run took.
# TYPE relais_transcode_seconds histogram
relais_transcode_seconds_bucket{le="10"} 0
relais_transcode_seconds_bucket{le="30"} 0
relais_transcode_seconds_bucket{le="60"} 1
relais_transcode_seconds_bucket{le="120"} 2
relais_transcode_seconds_bucket{le="300"} 2
relais_transcode_seconds_bucket{le="600"} 2
relais_transcode_seconds_bucket{le="1200"} 2
relais_transcode_seconds_bucket{le="1800"} 2
relais_transcode_seconds_bucket{le="3600"} 2
relais_transcode_seconds_bucket{le="+Inf"} 2
relais_transcode_seconds_sum 95.5
relais_transcode_seconds_count 2
# HELP relais_deliveries Deliveries of every lesson, by channel and status.
# TYPE relais_deliveries gauge
relais_deliveries{channel="sms",status="delivered"} 1
relais_deliveries{channel="sms",status="failed"} 2
`
	resp, err := http.Get(f.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	families := []string{"relais_queue_tasks", "relais_tasks_processed_total", "relais_tasks_failed_total",
		"relais_transcode_seconds", "relais_deliveries", "relais_metrics_scrape_error"}
	if diff := cmp.Diff(exposition(want, families), exposition(string(b), families)); diff != "" {
		t.Errorf("/metrics (-want +got):\n%s", diff)
	}
	// Requests vary with the test's own traffic: the family and its labels are there.
	if !regexp.MustCompile(`(?m)^relais_http_requests_total\{code="200",method="GET"\} [1-9]`).Match(b) {
		t.Errorf("/metrics lacks the requests answered 200 to GET:\n%s", b)
	}
}

// exposition returns the lines of a Prometheus text exposition (help, type and samples) that belong to
// the families, sorted.
func exposition(text string, families []string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if i := strings.IndexAny(name, "{ "); i > 0 {
			name = name[:i]
		}
		for _, f := range families {
			if name == f || name == f+"_bucket" || name == f+"_sum" || name == f+"_count" {
				out = append(out, line)
			}
		}
	}
	slices.Sort(out)
	return out
}
