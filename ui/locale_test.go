package ui

import (
	"html/template"
	"net/url"
	"strings"
	"testing"
)

// TestErrorsInPageLanguage checks that a page shows errors in its own language: the API's refusals
// (the UI asks the API in the page's language) and the UI's own.
func TestErrorsInPageLanguage(t *testing.T) {
	f := newFixture(t, nil)
	teacher, media := f.browser("t1"), f.browser("m")
	if status, _, _ := teacher.postRedirect("/ui/lessons/1/submit", url.Values{}); status != 303 {
		t.Fatalf("submit lesson 1: %d", status)
	}
	textFile := func(c *client) (int, string) {
		return c.postMultipart("/ui/lessons", map[string]string{"title": "T", "subject": "s", "grade": "5",
			"language": "fr", "text": "- un"}, map[string][]byte{"media": []byte("just some text, not a video\n")})
	}
	tests := []struct {
		name   string
		c      *client
		send   func(c *client) (int, string)
		status int
		en, fr string
	}{
		{"upload without JavaScript refused by the API", teacher, textFile, 400,
			"This is not a video or audio file (it looks like text). Export the lesson from your camera or editing app as MP4.",
			"Ce n'est pas un fichier vidéo ou audio (cela ressemble à du texte). Exportez la leçon en MP4 depuis votre caméra ou votre logiciel de montage."},
		{"rejection without a reason", media, func(c *client) (int, string) {
			status, _, body := c.postRedirect("/ui/lessons/1/reject", url.Values{"reason": {" "}})
			return status, body
		}, 400, "Lesson 1: Say why the lesson is rejected.", "Leçon 1 : Dites pourquoi la leçon est refusée."},
		{"the UI's own error", teacher, func(c *client) (int, string) {
			status, _, body := c.postRedirect("/ui/lessons/x1/submit", url.Values{})
			return status, body
		}, 404, `Lesson "x1" not found.`, `Leçon "x1" introuvable.`},
	}
	for _, tt := range tests {
		for _, lang := range []string{"en", "fr"} {
			t.Run(tt.name+"/"+lang, func(t *testing.T) {
				tt.c.get("/ui/lessons") // a fresh CSRF token
				tt.c.lang = lang
				defer func() { tt.c.lang = "en" }()
				want, other := tt.en, tt.fr
				if lang == "fr" {
					want, other = tt.fr, tt.en
				}
				status, body := tt.send(tt.c)
				if status != tt.status || !strings.Contains(body, template.HTMLEscapeString(want)) ||
					strings.Contains(body, template.HTMLEscapeString(other)) || !strings.Contains(body, `role="alert"`) {
					t.Errorf("%d, want %d and %q:\n%.3000s", status, tt.status, want, body)
				}
			})
		}
	}
}
