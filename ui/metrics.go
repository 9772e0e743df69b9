package ui

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/httpstatus"
	"github.com/relais-edu/relais/queue"
)

// Metrics serves Prometheus metrics at /metrics: queue depth per queue and state, task runs and
// failures per task type and transcode durations (kept in Redis by every worker, see queue/metrics.go),
// deliveries per channel and status (read from the store at scrape time, the store being the source of
// truth), and HTTP requests. /metrics needs no sign-in, like /livez and /readyz: put it behind the
// network edge. Admins see the queues themselves in asynqmon, mounted at /ui/admin/queues/.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
}

// QueueStats returns each queue's figures (queue.Client.QueueStats).
type QueueStats func() (map[string]*asynq.QueueInfo, error)

// TaskStats returns what the workers recorded (queue.Client.TaskStats).
type TaskStats func() (queue.TaskStats, error)

// NewMetrics registers the collectors.
func NewMetrics(store relais.Store, queues QueueStats, tasks TaskStats, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relais_http_requests_total",
			Help: "HTTP requests answered, by method and status code."}, []string{"method", "code"})}
	m.reg.MustRegister(m.requests, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{store: store, queues: queues, tasks: tasks, log: log.With("comp", "metrics")})
	return m
}

// WatchPool adds the figures of the store's connection pool (store/postgres) to the metrics.
func (m *Metrics) WatchPool(stats func() relais.PoolStats) { m.reg.MustRegister(poolCollector{stats}) }

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument counts the requests h answers.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httpstatus.NewRecorder(w)
		defer func() { m.requests.WithLabelValues(r.Method, strconv.Itoa(rec.Status)).Inc() }()
		h.ServeHTTP(rec, r)
	})
}

var (
	queueDesc = prometheus.NewDesc("relais_queue_tasks", "Tasks in each asynq queue, by state.",
		[]string{"queue", "state"}, nil)
	deliveriesDesc = prometheus.NewDesc("relais_deliveries", "Deliveries of every lesson, by channel and status.",
		[]string{"channel", "status"}, nil)
	processedDesc = prometheus.NewDesc("relais_tasks_processed_total", "Task runs the workers finished, by task type (a retry is another run).",
		[]string{"type"}, nil)
	failedDesc = prometheus.NewDesc("relais_tasks_failed_total", "Task runs that failed, by task type (a throttled send or a waiting fan-out is no failure).",
		[]string{"type"}, nil)
	transcodeDesc = prometheus.NewDesc("relais_transcode_seconds", "Seconds each transcode run took.", nil, nil)
	scrapeErrDesc = prometheus.NewDesc("relais_metrics_scrape_error", "1 when a source could not be read in this scrape.",
		[]string{"source"}, nil)
)

// stateCollector reads queue depth, task statistics and delivery counts when Prometheus scrapes.
type stateCollector struct {
	store  relais.Store
	queues QueueStats
	tasks  TaskStats
	log    *slog.Logger
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDesc, deliveriesDesc, processedDesc, failedDesc, transcodeDesc, scrapeErrDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	failed := func(source string, err error) {
		c.log.Warn("metrics source unreadable", "source", source, "err", err)
		ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 1, source)
	}
	if stats, err := c.queues(); err != nil {
		failed("queue", err)
	} else {
		for name, q := range stats {
			for state, n := range map[string]int{"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled,
				"retry": q.Retry, "archived": q.Archived} {
				ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n), name, state)
			}
		}
	}
	if ts, err := c.tasks(); err != nil {
		failed("tasks", err)
	} else {
		for typ, n := range ts.Processed {
			ch <- prometheus.MustNewConstMetric(processedDesc, prometheus.CounterValue, float64(n), typ)
		}
		for typ, n := range ts.Failed {
			ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, float64(n), typ)
		}
		ch <- prometheus.MustNewConstHistogram(transcodeDesc, ts.Transcode.Count, ts.Transcode.Sum, ts.Transcode.Buckets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.DeliveryCounts(ctx, 0)
	if err != nil {
		failed("store", err)
		return
	}
	for _, x := range counts {
		ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, float64(x.Count), string(x.Channel), string(x.Status))
	}
}

// poolMetrics are the figures of the database pool, each read from the statistics of one scrape.
var poolMetrics = []struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(relais.PoolStats) float64
}{
	{prometheus.NewDesc("relais_db_pool_acquired_conns", "Database connections in use.", nil, nil),
		prometheus.GaugeValue, func(s relais.PoolStats) float64 { return float64(s.Acquired) }},
	{prometheus.NewDesc("relais_db_pool_idle_conns", "Database connections open and unused.", nil, nil),
		prometheus.GaugeValue, func(s relais.PoolStats) float64 { return float64(s.Idle) }},
	{prometheus.NewDesc("relais_db_pool_total_conns", "Database connections open, in use, idle or being opened.", nil, nil),
		prometheus.GaugeValue, func(s relais.PoolStats) float64 { return float64(s.Total) }},
	{prometheus.NewDesc("relais_db_pool_max_conns", "The pool's size (pool_max_conns in RELAIS_DATABASE_URL).", nil, nil),
		prometheus.GaugeValue, func(s relais.PoolStats) float64 { return float64(s.Max) }},
	{prometheus.NewDesc("relais_db_pool_acquires_total", "Connections taken from the pool.", nil, nil),
		prometheus.CounterValue, func(s relais.PoolStats) float64 { return float64(s.Acquires) }},
	{prometheus.NewDesc("relais_db_pool_acquire_seconds_total", "Seconds spent waiting for a connection from the pool.", nil, nil),
		prometheus.CounterValue, func(s relais.PoolStats) float64 { return s.AcquireWait.Seconds() }},
	{prometheus.NewDesc("relais_db_pool_empty_acquires_total", "Connections asked for while none was idle: a pool too small shows here.", nil, nil),
		prometheus.CounterValue, func(s relais.PoolStats) float64 { return float64(s.EmptyAcquires) }},
	{prometheus.NewDesc("relais_db_pool_canceled_acquires_total", "Waits for a connection given up because their context ended.", nil, nil),
		prometheus.CounterValue, func(s relais.PoolStats) float64 { return float64(s.Canceled) }},
}

// poolCollector reads a connection pool's statistics at scrape time.
type poolCollector struct{ stats func() relais.PoolStats }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range poolMetrics {
		ch <- m.desc
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, m := range poolMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(st))
	}
}
