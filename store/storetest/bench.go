package storetest

import (
	"context"
	"fmt"
	"testing"

	relais "github.com/relais-edu/relais"
)

// Benchmark measures the writes of a national fan-out on stores made by open: households imported and
// deliveries planned in pages, each into a growing table, so that a rate falling with the size of the
// tables shows.
//
//	go test ./store/sqlite ./store/postgres -run '^$' -bench Store
func Benchmark(b *testing.B, open Open) {
	b.Run("UpsertHouseholds", func(b *testing.B) { benchUpsertHouseholds(b, open) })
	b.Run("PlanDeliveries", func(b *testing.B) { benchPlanDeliveries(b, open) })
	b.Run("AudiencePages", func(b *testing.B) { benchAudiencePages(b, open) })
}

// benchAudiencePages pages, 1,000 at a time as the fan-out does, through the audience of a lesson among
// 100,000 households whose pupils are spread over two grades and three languages of instruction (a
// third with two pupils): one grade in one language (one run of pupils_audience), then two grades in
// two languages (four runs merged).
func benchAudiencePages(b *testing.B, open Open) {
	ctx := context.Background()
	db := open(b, nil)
	langs := []string{"fr", "kk", "ru"}
	for start := 0; start < 100_000; start += 10_000 {
		hs := make([]relais.Household, 10_000)
		for i := range hs {
			n := start + i
			hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", n), Language: langs[n%3], Profile: relais.ProfileSMSOnly,
				Phone: "+33612345678", Consent: true, Pupils: []relais.Pupil{{Grade: 5 + n%2, Language: langs[(n/2)%3]}}}
			if n%3 == 0 {
				hs[i].Pupils = append(hs[i].Pupils, relais.Pupil{Grade: 5, Language: langs[(n/6)%3]})
			}
		}
		if err := db.UpsertHouseholds(ctx, hs); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		a    relais.Audience
	}{
		{"one_run", relais.Audience{Grades: []int{5}, Languages: []string{"fr"}}},
		{"four_runs", relais.Audience{Grades: []int{5, 6}, Languages: []string{"fr", "kk"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			read := 0
			for b.Loop() {
				for after := int64(0); ; {
					hs, err := db.Households(ctx, relais.HouseholdFilter{Audience: &tc.a, Page: relais.Page{After: after, Limit: 1000}})
					if err != nil {
						b.Fatal(err)
					}
					read += len(hs)
					if len(hs) < 1000 {
						break
					}
					after = hs[len(hs)-1].ID
				}
			}
			b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "households/s")
		})
	}
}

// benchUpsertHouseholds imports households in chunks of 5,000, as the CSV import does.
func benchUpsertHouseholds(b *testing.B, open Open) {
	db := open(b, nil)
	n := 0
	for b.Loop() {
		hs := make([]relais.Household, 5000)
		for i := range hs {
			hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", n), Language: "fr", Grades: []int{3, 5},
				Profile: relais.ProfileSMSOnly, Phone: "+33612345678", Consent: true}
			n++
		}
		if err := db.UpsertHouseholds(context.Background(), hs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "households/s")
}

// benchPlanDeliveries plans pages of 1,000 households on two channels (2,000 deliveries a page), as
// the fan-out does, for households imported beforehand.
func benchPlanDeliveries(b *testing.B, open Open) {
	ctx := context.Background()
	db := open(b, nil)
	l := relais.Lesson{Title: "T", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t"}
	if err := db.CreateLesson(ctx, &l); err != nil {
		b.Fatal(err)
	}
	const page = 1000
	var ids []int64
	grow := func() {
		hs := make([]relais.Household, 10*page)
		for i := range hs {
			hs[i] = relais.Household{ExternalRef: fmt.Sprint("H", len(ids)+i), Language: "fr", Grades: []int{5},
				Profile: relais.ProfileMobileData, Phone: "+33612345678", Email: "a@example.org", Consent: true}
		}
		if err := db.UpsertHouseholds(ctx, hs); err != nil {
			b.Fatal(err)
		}
		for _, h := range hs {
			ids = append(ids, h.ID)
		}
	}
	planned := 0
	for b.Loop() {
		if planned+page > len(ids) {
			b.StopTimer()
			grow()
			b.StartTimer()
		}
		ds := make([]relais.Delivery, 0, 2*page)
		for _, id := range ids[planned : planned+page] {
			ds = append(ds, relais.Delivery{LessonID: l.ID, HouseholdID: id, Channel: relais.ChannelSMS},
				relais.Delivery{LessonID: l.ID, HouseholdID: id, Channel: relais.ChannelEmail})
		}
		got, err := db.PlanDeliveries(ctx, ds)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(ds) {
			b.Fatalf("planned %d of %d", len(got), len(ds))
		}
		planned += page
	}
	b.ReportMetric(float64(planned)/b.Elapsed().Seconds(), "households/s")
}
