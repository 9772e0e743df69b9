package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// audienceHouseholds is a population where grades, languages of instruction, schools, classes and regions
// cross, and about a third of the households have two or three pupils (twins among them).
func audienceHouseholds(n int) []relais.Household {
	langs := []string{"fr", "kk", "ru"}
	regions := []string{"IDF", "ALA", "AST"}
	r := rand.New(rand.NewPCG(16, 1))
	pupil := func() relais.Pupil {
		s := r.IntN(2) + 1
		return relais.Pupil{Grade: 5 + r.IntN(2), Language: langs[r.IntN(3)], School: fmt.Sprint("S", s), Class: fmt.Sprintf("S%d-%d", s, r.IntN(3))}
	}
	var hs []relais.Household
	for i := range n {
		h := relais.Household{ExternalRef: fmt.Sprint("A", i), Region: regions[r.IntN(3)], Language: langs[r.IntN(3)],
			Profile: relais.ProfileSMSOnly, Phone: fmt.Sprintf("+3361200%04d", i), Consent: true}
		h.Pupils = []relais.Pupil{pupil()}
		if r.IntN(3) == 0 {
			h.Pupils = append(h.Pupils, pupil())
			if r.IntN(2) == 0 { // twins: the same grade, language and class (reached once all the same)
				h.Pupils = append(h.Pupils, h.Pupils[len(h.Pupils)-1])
			}
		}
		hs = append(hs, h)
	}
	return hs
}

// TestPlanFanoutAndRemindersAgreeOnTheAudience: for one population and several audiences, the
// publishing plan, the fan-out (segments and keyset pages) and the reminders reach the same households,
// each once, and exactly those the audience rule (Audience.Reaches) names, on both stores.
func TestPlanFanoutAndRemindersAgreeOnTheAudience(t *testing.T) {
	forEachStore(t, func(t *testing.T) {
		ctx := context.Background()
		now := time.Date(2027, 5, 3, 8, 0, 0, 0, time.UTC)
		f := newFixture(t, 0, func(c *Config) {
			c.FanoutPageSize, c.FanoutSegment = 3, 10
			c.ReminderLead = time.Hour
		})
		f.w.now = func() time.Time { return now }
		hs := audienceHouseholds(60)
		if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
			t.Fatal(err)
		}
		airing := relais.Airing{Station: "Balapan", Kind: relais.StationRadio, Start: now.Add(5 * time.Hour)}
		f.w.pipeline.AllAirings = func(context.Context, int64) ([]relais.Airing, error) { return []relais.Airing{airing}, nil }
		planner := &scheduler.Planner{Store: f.store, Lessons: f.store, Households: f.store, Channels: relaisRegistry(),
			Config: scheduler.DefaultPlanConfig()}
		for _, tc := range []struct {
			name string
			l    relais.Lesson
		}{
			{"grade 5 in French", relais.Lesson{Grade: 5, Language: "fr"}},
			{"grade 6 in Kazakh, Almaty", relais.Lesson{Grade: 6, Language: "kk", Region: "ALA"}},
			{"grades 5 and 6 in Russian and Kazakh", relais.Lesson{Grade: 5, Language: "ru",
				Audience: relais.Audience{Grades: []int{5, 6}, Languages: []string{"ru", "kk"}}}},
			{"a teacher's classes", relais.Lesson{Grade: 5, Language: "kk", Audience: relais.Audience{Classes: []string{"S1-0", "S2-2"}}}},
			{"regions and a school", relais.Lesson{Grade: 5, Language: "fr",
				Audience: relais.Audience{Regions: []string{"IDF", "AST"}, Schools: []string{"S2"}}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := tc.l
				l.Title, l.Subject, l.TeacherID = tc.name, "s", "t"
				must(t, f.store.CreateLesson(ctx, &l))
				must(t, f.store.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "x", Encoding: "GSM-7", Segments: 1}))
				must(t, f.store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil))
				f.lesson = l

				want := 0
				for _, h := range hs {
					if l.Reach().Reaches(h) {
						want++
					}
				}
				if want == 0 || want == len(hs) {
					t.Fatalf("the audience reaches %d of %d households: the case tells nothing", want, len(hs))
				}

				sum, err := planner.Plan(ctx, l.ID, now, nil)
				must(t, err)

				f.fanOut(t)
				fanned := f.households(t, l.ID, relais.ChannelSMS)

				must(t, f.w.handleRemind(ctx, task(TypeRemind, RemindPayload{LessonID: l.ID, Station: airing.Station, Start: airing.Start.Unix()})))
				reminded := f.households(t, l.ID, relais.ChannelReminder)

				if sum.Households != int64(want) || len(fanned) != want || len(reminded) != want {
					t.Errorf("plan %d, fan-out %d, reminders %d households; the audience has %d", sum.Households, len(fanned), len(reminded), want)
				}
				for _, h := range hs {
					if in := l.Reach().Reaches(h); in != fanned[h.ID] || in != reminded[h.ID] {
						t.Errorf("household %d %+v: in the audience %v, fanned out to %v, reminded %v", h.ID, h, in, fanned[h.ID], reminded[h.ID])
					}
				}
			})
		}
	})
}

// households returns the households of a lesson's deliveries on channel, failing on one planned twice.
func (f *fixture) households(t *testing.T, lessonID int64, ch relais.ChannelName) map[int64]bool {
	t.Helper()
	ds, err := f.store.Deliveries(context.Background(), relais.DeliveryFilter{LessonID: lessonID, Channel: ch, Page: relais.Page{Limit: 1000}})
	must(t, err)
	out := map[int64]bool{}
	for _, d := range ds {
		if out[d.HouseholdID] {
			t.Errorf("household %d has two %s deliveries of lesson %d", d.HouseholdID, ch, lessonID)
		}
		out[d.HouseholdID] = true
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
