package email

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRenderCache: bodies from the cache are those rendering gives, for links the cache fills in
// (letters, digits, - _ . / : ? = #) and links it leaves to rendering (ampersands, pluses, quotes,
// percent signs, other scripts), with and without each link, in every language and one without a
// template; every lesson and language is rendered with placeholders once.
func TestRenderCache(t *testing.T) {
	ch := newChannel(t, testConfig(t, "127.0.0.1:25"))
	links := []string{
		"https://relais.example/l/AbC-_9xyz",
		"https://relais.example/l/ZZ_-00?x=1#top",
		"https://relais.example/l/7?h=12&sig=a<b",
		"https://relais.example/l/a+b%20c",
		`https://relais.example/l/"quoted'`,
		"https://relais.example/l/уроки",
		"",
	}
	unsubs := []string{"https://relais.example/u/MTI6Zm9vQGV4YW1wbGUub3Jn.c2lnbmF0dXJl", "https://relais.example/u/a&b", ""}
	lessons := []TemplateData{
		{Title: "Les fractions à l’école", Subject: "Mathématiques", Grade: 5, Attachment: "Les-fractions-à-l-école.pdf"},
		{Title: "<b>Title</b> & co"},
	}
	for _, lang := range []string{"fr", "kk", "ru", "en", "xx"} {
		for _, l := range lessons {
			for round := range 2 { // the first fills the cache, the second reads it
				for _, lu := range links {
					for _, uu := range unsubs {
						d := l
						d.LessonURL, d.UnsubscribeURL = lu, uu
						if round == 1 && lu != "" {
							d.LessonURL += "x" // another household's link
						}
						wantText, wantHTML, err := ch.render(lang, d)
						if err != nil {
							t.Fatal(err)
						}
						text, html, err := ch.renderCached(lang, d)
						if err != nil {
							t.Fatal(err)
						}
						if diff := cmp.Diff(wantText, text); diff != "" {
							t.Errorf("%s %q %q text (-render +cache):\n%s", lang, lu, uu, diff)
						}
						if diff := cmp.Diff(wantHTML, html); diff != "" {
							t.Errorf("%s %q %q html (-render +cache):\n%s", lang, lu, uu, diff)
						}
					}
				}
			}
		}
	}
	// Per language and lesson: with or without each link, as the templates test them.
	if got, want := len(ch.bodies.entries), 5*len(lessons)*4; got != want {
		t.Errorf("%d cached bodies, want %d", got, want)
	}
	for k, e := range ch.bodies.entries {
		if !e.usable {
			t.Errorf("the templates' bodies for %v cannot be filled in", k)
		}
	}
}

// TestWorksheetCache: a worksheet is read once; replaced at the same path, it is read again.
func TestWorksheetCache(t *testing.T) {
	var w worksheets
	path := filepath.Join(t.TempDir(), "w.pdf")
	write := func(s string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		t.Helper()
		b, err := w.read(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("%PDF first", t0)
	if got := read(); got != "%PDF first" {
		t.Fatalf("read %q", got)
	}
	first := w.entries[path].data
	if got := read(); got != "%PDF first" || &w.entries[path].data[0] != &first[0] {
		t.Errorf("second read %q was not the cached bytes", got)
	}
	write("%PDF other", t0.Add(time.Second)) // same size, newer
	if got := read(); got != "%PDF other" {
		t.Errorf("after the file was replaced, read %q", got)
	}
	write("%PDF longer one", t0.Add(time.Second)) // same time, another size
	if got := read(); got != "%PDF longer one" {
		t.Errorf("after the file grew, read %q", got)
	}
	os.Remove(path)
	if _, err := w.read(path); err == nil {
		t.Error("a removed worksheet was read from the cache")
	}
	for i := range maxCached + 1 {
		p := filepath.Join(t.TempDir(), fmt.Sprint(i))
		os.WriteFile(p, []byte("x"), 0o600)
		w.read(p)
	}
	if len(w.entries) > maxCached {
		t.Errorf("%d worksheets cached, over %d", len(w.entries), maxCached)
	}
}
