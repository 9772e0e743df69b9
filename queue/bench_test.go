package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// BenchmarkFanout plans a lesson for 20,000 households (two channels each for mobile_data) page by
// page in one fan-out task, and reports households planned per second. BenchmarkFanoutScale measures
// the fan-out as it runs, in worker processes, at national sizes.
//
//	go test ./queue -run '^$' -bench Fanout -benchtime 3x
func BenchmarkFanout(b *testing.B) {
	const n = 20000
	f := newFixture(b, 0, func(c *Config) { c.MaxSendBacklog, c.FanoutSegment, c.FanoutSlice = 1<<30, 0, time.Hour })
	ctx := context.Background()
	var hs []relais.Household
	for i := 0; i < n; i++ {
		hs = append(hs, relais.Household{ExternalRef: fmt.Sprint("B", i), Language: "fr", Grades: []int{5},
			Profile: relais.ProfileMobileData, Phone: fmt.Sprintf("+3361%07d", i), Email: fmt.Sprintf("f%d@example.org", i), Consent: true})
	}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t"}
		f.store.CreateLesson(ctx, &l)
		f.store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil)
		start := time.Now()
		if err := f.w.handleFanout(ctx, task(TypeFanout, FanoutPayload{LessonID: l.ID})); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "households/s")
	b.ReportMetric(float64(2*n*b.N)/total.Seconds(), "deliveries/s")
}
