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
)

// Metrics serves Prometheus metrics at /metrics: queue depth per queue and state, deliveries per
// channel and status (read from the store at scrape time, the store being the source of truth), and
// HTTP requests. /metrics needs no sign-in, like /livez and /readyz: put it behind the network edge.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
}

// QueueStats returns each queue's figures (queue.Client.QueueStats).
type QueueStats func() (map[string]*asynq.QueueInfo, error)

// NewMetrics registers the collectors.
func NewMetrics(store relais.Store, queues QueueStats, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relais_http_requests_total",
			Help: "HTTP requests answered, by method and status code."}, []string{"method", "code"})}
	m.reg.MustRegister(m.requests, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{store: store, queues: queues, log: log.With("comp", "metrics")})
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument counts the requests h answers.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() { m.requests.WithLabelValues(r.Method, strconv.Itoa(rec.code)).Inc() }()
		h.ServeHTTP(rec, r)
	})
}

type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (r *codeRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *codeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

var (
	queueDesc = prometheus.NewDesc("relais_queue_tasks", "Tasks in each asynq queue, by state.",
		[]string{"queue", "state"}, nil)
	deliveriesDesc = prometheus.NewDesc("relais_deliveries", "Deliveries of published lessons, by channel and status.",
		[]string{"channel", "status"}, nil)
	scrapeErrDesc = prometheus.NewDesc("relais_metrics_scrape_error", "1 when a source could not be read in this scrape.",
		[]string{"source"}, nil)
)

// stateCollector reads queue depth and delivery counts when Prometheus scrapes.
type stateCollector struct {
	store  relais.Store
	queues QueueStats
	log    *slog.Logger
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- deliveriesDesc
	ch <- scrapeErrDesc
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.deliveryCounts(ctx)
	if err != nil {
		failed("store", err)
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, float64(n), string(k.Channel), string(k.Status))
	}
}

type channelStatus struct {
	Channel relais.ChannelName
	Status  relais.DeliveryStatus
}

// deliveryCounts sums the delivery counts of every published lesson, a page of lessons at a time.
func (c *stateCollector) deliveryCounts(ctx context.Context) (map[channelStatus]int64, error) {
	out := map[channelStatus]int64{}
	p := relais.Page{Limit: relais.MaxPageLimit}
	for {
		ls, err := c.store.Lessons(ctx, relais.LessonFilter{Status: relais.LessonPublished, Page: p})
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			cs, err := c.store.DeliveryCounts(ctx, l.ID)
			if err != nil {
				return nil, err
			}
			for _, x := range cs {
				out[channelStatus{x.Channel, x.Status}] += x.Count
			}
		}
		if len(ls) < p.Limit {
			return out, nil
		}
		p.After = ls[len(ls)-1].ID
	}
}
