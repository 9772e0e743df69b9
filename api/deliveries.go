package api

import (
	"net/http"
	"net/url"
	"time"

	relais "github.com/relais-edu/relais"
)

// Delivery is the JSON form of a delivery.
type Delivery struct {
	ID          int64                 `json:"id"`
	LessonID    int64                 `json:"lesson_id"`
	HouseholdID int64                 `json:"household_id"`
	Channel     relais.ChannelName    `json:"channel"`
	Status      relais.DeliveryStatus `json:"status"`
	Reason      string                `json:"reason,omitempty"`
	ProviderID  string                `json:"provider_id,omitempty"`
	Attempts    int                   `json:"attempts"`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	History     []DeliveryEvent       `json:"history,omitempty"`
}

// DeliveryEvent is one step of a delivery's history.
type DeliveryEvent struct {
	Status relais.DeliveryStatus `json:"status"`
	Detail string                `json:"detail,omitempty"`
	At     time.Time             `json:"at"`
}

func deliveryJSON(d relais.Delivery) Delivery {
	return Delivery{ID: d.ID, LessonID: d.LessonID, HouseholdID: d.HouseholdID, Channel: d.Channel, Status: d.Status,
		Reason: d.Reason, ProviderID: d.ProviderID, Attempts: d.Attempts, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := listQuery{r: r}
	p, lessonID, householdID := q.page(), q.int("lesson_id"), q.int("household_id")
	if q.err != nil {
		return q.err
	}
	f := relais.DeliveryFilter{LessonID: lessonID, HouseholdID: householdID,
		Channel: relais.ChannelName(r.URL.Query().Get("channel")), Status: relais.DeliveryStatus(r.URL.Query().Get("status")), Page: p}
	if err := s.ownLesson(ctx, lessonID, relais.Errorf(relais.EINVALID, "Teachers list the deliveries of one lesson: add lesson_id.")); err != nil {
		return err
	}
	ds, err := s.store.Deliveries(ctx, f)
	if err != nil {
		return err
	}
	return writePage(w, ds, p, deliveryJSON, func(x relais.Delivery) int64 { return x.ID })
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, id int64) error {
	ctx := r.Context()
	ds, err := s.store.DeliveriesByIDs(ctx, []int64{id})
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return relais.Errorf(relais.ENOTFOUND, "Delivery %d not found.", id)
	}
	if _, err := s.visibleLesson(ctx, ds[0].LessonID); err != nil {
		return relais.Errorf(relais.ENOTFOUND, "Delivery %d not found.", id)
	}
	out := deliveryJSON(ds[0])
	evs, err := s.store.DeliveryEvents(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range evs {
		out.History = append(out.History, DeliveryEvent{Status: e.Status, Detail: e.Detail, At: e.At})
	}
	writeJSON(w, 200, out)
	return nil
}

// TimelineRange reads the from, to and bucket query parameters of a timeline: RFC 3339 times, to
// defaulting to now and from to a day before to; from is taken down and to up to the whole minute;
// the bucket is one of 1m, 5m, 15m, 1h, 6h, 1d, by default the narrowest giving at most 60 points.
func TimelineRange(q url.Values, now time.Time) (relais.TimelineFilter, error) {
	var f relais.TimelineFilter
	parse := func(name string, def time.Time) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return t, relais.Errorf(relais.EINVALID, "%s must be a date and time such as 2025-03-01T08:00:00+01:00 (RFC 3339).", name)
		}
		return t, nil
	}
	to, err := parse("to", now)
	if err != nil {
		return f, err
	}
	from, err := parse("from", to.Add(-24*time.Hour))
	if err != nil {
		return f, err
	}
	f.From = from.Truncate(time.Minute)
	f.To = to.Truncate(time.Minute)
	if f.To.Before(to) {
		f.To = f.To.Add(time.Minute)
	}
	if !f.From.Before(f.To) {
		return f, relais.Errorf(relais.EINVALID, "from must be before to.")
	}
	if v := q.Get("bucket"); v != "" {
		for _, d := range relais.TimelineBuckets {
			if relais.BucketName(d) == v {
				f.Bucket = d
			}
		}
		if f.Bucket == 0 {
			return f, relais.Errorf(relais.EINVALID, "bucket must be one of 1m, 5m, 15m, 1h, 6h or 1d.")
		}
	} else {
		f.Bucket = relais.TimelineBucket(f.To.Sub(f.From))
	}
	if n := (f.To.Sub(f.From) + f.Bucket - 1) / f.Bucket; n > relais.MaxTimelineBuckets {
		from, to := f.From.Format(time.RFC3339), f.To.Format(time.RFC3339)
		if f.Bucket == relais.TimelineBuckets[len(relais.TimelineBuckets)-1] {
			return f, relais.Errorf(relais.EINVALID, "From %s to %s there are %d buckets of %s; a timeline has at most %d: choose a shorter period.",
				from, to, n, relais.BucketName(f.Bucket), relais.MaxTimelineBuckets)
		}
		return f, relais.Errorf(relais.EINVALID, "From %s to %s there are %d buckets of %s; a timeline has at most %d: choose a wider bucket or a shorter period.",
			from, to, n, relais.BucketName(f.Bucket), relais.MaxTimelineBuckets)
	}
	return f, nil
}

// deliveryTimeline counts delivery status changes over time. Like the listing, a teacher must name one
// of their lessons.
func (s *Server) deliveryTimeline(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	lessonID, err := queryInt(r, "lesson_id")
	if err != nil {
		return err
	}
	if err := s.ownLesson(ctx, lessonID, relais.Errorf(relais.EINVALID, "Teachers chart the deliveries of one lesson: add lesson_id.")); err != nil {
		return err
	}
	f, err := TimelineRange(r.URL.Query(), s.now())
	if err != nil {
		return err
	}
	f.LessonID = lessonID
	counts, err := s.store.DeliveryTimeline(ctx, f)
	if err != nil {
		return err
	}
	writeJSON(w, 200, relais.NewTimeline(f, counts))
	return nil
}
