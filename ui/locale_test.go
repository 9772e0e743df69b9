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
		want   map[string]string // by language
	}{
		{"upload without JavaScript refused by the API", teacher, textFile, 400, map[string]string{
			"en": "This is not a video or audio file (it looks like text). Export the lesson from your camera or editing app as MP4.",
			"fr": "Ce n'est pas un fichier vidéo ou audio (cela ressemble à du texte). Exportez la leçon en MP4 depuis votre caméra ou votre logiciel de montage.",
			"kk": "Бұл бейне не аудио файл емес (мәтінге ұқсайды). Сабақты камераңыздан немесе монтаж бағдарламасынан MP4 ретінде экспорттаңыз.",
			"ru": "Это не видео- и не аудиофайл (похоже на текст). Экспортируйте урок в MP4 из камеры или программы монтажа."}},
		{"rejection without a reason", media, func(c *client) (int, string) {
			status, _, body := c.postRedirect("/ui/lessons/1/reject", url.Values{"reason": {" "}})
			return status, body
		}, 400, map[string]string{"en": "Lesson 1: Say why the lesson is rejected.", "fr": "Leçon 1 : Dites pourquoi la leçon est refusée.",
			"kk": "1 сабақ: Сабақтың неге қабылданбағанын жазыңыз.", "ru": "Урок 1: Укажите, почему урок отклонён."}},
		{"the UI's own error", teacher, func(c *client) (int, string) {
			status, _, body := c.postRedirect("/ui/lessons/x1/submit", url.Values{})
			return status, body
		}, 404, map[string]string{"en": `Lesson "x1" not found.`, "fr": `Leçon "x1" introuvable.`,
			"kk": `Сабақ "x1" табылмады.`, "ru": `Урок "x1": не найдено.`}},
	}
	for _, tt := range tests {
		for _, lang := range uiLangs {
			t.Run(tt.name+"/"+lang, func(t *testing.T) {
				tt.c.get("/ui/lessons") // a fresh CSRF token
				tt.c.lang = lang
				defer func() { tt.c.lang = "en" }()
				want := tt.want[lang]
				status, body := tt.send(tt.c)
				if status != tt.status || want == "" || !strings.Contains(body, template.HTMLEscapeString(want)) || !strings.Contains(body, `role="alert"`) {
					t.Errorf("%d, want %d and %q:\n%.3000s", status, tt.status, want, body)
				}
				for other, msg := range tt.want {
					if other != lang && strings.Contains(body, template.HTMLEscapeString(msg)) {
						t.Errorf("the page in %s shows the %s message %q", lang, other, msg)
					}
				}
			})
		}
	}
}
