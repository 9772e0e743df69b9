package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestLessonReasonLanguage checks that the lesson page gives why a lesson was refused in the page's
// language, as the store kept it when the worker refused the upload.
func TestLessonReasonLanguage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "Silent lesson", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetLessonStatus(ctx, l.ID, relais.LessonRejected, relais.Errorf(relais.EINVALID, "The sound track is silent.")); err != nil {
		t.Fatal(err)
	}
	c := f.browser("t1")
	for _, tt := range []struct{ lang, want string }{
		{"fr-FR,fr;q=0.9", `<dd id="lesson-reason">La piste son est muette.</dd>`},
		{"en", `<dd id="lesson-reason">The sound track is silent.</dd>`},
	} {
		c.lang = tt.lang
		status, body := c.get(fmt.Sprintf("/ui/lessons/%d", l.ID))
		if status != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d, want %s in:\n%s", tt.lang, status, tt.want, body)
		}
	}
}
