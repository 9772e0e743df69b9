package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestLessonPageShowsTheAudience: a teacher linked to classes uploads a lesson from the form; the
// lesson's page says who it goes to (the teacher's classes, in the lesson's grade and language).
func TestLessonPageShowsTheAudience(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.SetUserClasses(context.Background(), "t1", []string{"S1-5A"}); err != nil {
		t.Fatal(err)
	}
	teacher := f.browser("t1")
	mp4 := append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'}, make([]byte, 600)...)
	status, body := teacher.postMultipart("/ui/lessons", map[string]string{"title": "Audience", "subject": "s", "grade": "5",
		"language": "kk", "text": "- un", "audience_languages": "kk,ru"}, map[string][]byte{"media": mp4})
	if status != 200 && status != 303 {
		t.Fatalf("upload %d:\n%.600s", status, body)
	}
	ls, err := f.store.Lessons(context.Background(), relais.LessonFilter{TeacherID: "t1"})
	if err != nil || len(ls) == 0 {
		t.Fatalf("lessons of t1: %v, %v", ls, err)
	}
	l := ls[0]
	if l.Title != "Audience" {
		t.Fatalf("newest lesson %q", l.Title)
	}
	status, body = teacher.get(fmt.Sprintf("/ui/lessons/%d", l.ID))
	i := strings.Index(body, `id="lesson-audience"`)
	if status != 200 || i < 0 {
		t.Fatalf("lesson page %d:\n%.800s", status, body)
	}
	line := body[i:min(len(body), i+300)]
	for _, want := range []string{"5 ·", "kk, ru", "S1-5A"} {
		if !strings.Contains(line, want) {
			t.Errorf("audience line lacks %q: %s", want, line)
		}
	}
}
