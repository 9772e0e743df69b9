package email

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// The channel's caches keep what every message of a lesson shares, so that a page of messages does
// not repeat it per message (the profile of the send path showed both per message): the worksheet's
// bytes (read from disk once, not once per message) and the rendered bodies (rendered once per
// language and lesson, the household's own links put in afterwards).

// maxCached bounds each cache: lessons sent at the same time, times languages.
const maxCached = 64

// worksheets caches worksheet files by path. An entry is used while the file's size and modification
// time are those it was read with, so a worksheet replaced at the same path is read again.
type worksheets struct {
	mu      sync.Mutex
	entries map[string]worksheetEntry
}

type worksheetEntry struct {
	size    int64
	modTime time.Time
	data    []byte
}

// read returns the contents of the file at path.
func (w *worksheets) read(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	e, ok := w.entries[path]
	w.mu.Unlock()
	if ok && e.size == fi.Size() && e.modTime.Equal(fi.ModTime()) {
		return e.data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != fi.Size() {
		return data, nil // changed while read: use it, cache it next time
	}
	w.mu.Lock()
	if w.entries == nil || len(w.entries) >= maxCached {
		w.entries = map[string]worksheetEntry{}
	}
	w.entries[path] = worksheetEntry{size: fi.Size(), modTime: fi.ModTime(), data: data}
	w.mu.Unlock()
	return data, nil
}

// Bodies are rendered with these placeholders for the household's own links, then the links are put
// in their place. The placeholders pass every escaper of html/template unchanged, as do links made only
// of urlSafe characters: other links are rendered in full, message by message.
const (
	lessonURLMark      = "https://relais.invalid/l/RelaisLessonURLMark"
	unsubscribeURLMark = "https://relais.invalid/u/RelaisUnsubscribeURLMark"
)

// bodies caches rendered bodies by language and what the templates see, the links aside.
type bodies struct {
	mu      sync.Mutex
	entries map[bodyKey]*bodyEntry
}

// bodyKey is what a body depends on besides its links: whether each link is there (the templates
// test them) stands for the link itself.
type bodyKey struct {
	lang                 string
	data                 TemplateData // its links are "" or the placeholders
	hasLesson, hasUnsubs bool
}

type bodyEntry struct {
	text, html string
	// usable is false when putting a household's links in the placeholders' place did not give what
	// rendering with them gives (a template that transforms a link): such bodies are rendered in full.
	usable bool
}

// renderCached is render, from the cache when data's links allow it.
func (c *Channel) renderCached(lang string, data TemplateData) (text, html string, err error) {
	if !urlSafe(data.LessonURL) || !urlSafe(data.UnsubscribeURL) {
		return c.render(lang, data)
	}
	key := bodyKey{lang: lang, data: data, hasLesson: data.LessonURL != "", hasUnsubs: data.UnsubscribeURL != ""}
	key.data.LessonURL, key.data.UnsubscribeURL = "", ""
	if key.hasLesson {
		key.data.LessonURL = lessonURLMark
	}
	if key.hasUnsubs {
		key.data.UnsubscribeURL = unsubscribeURLMark
	}
	c.bodies.mu.Lock()
	e, ok := c.bodies.entries[key]
	c.bodies.mu.Unlock()
	if ok {
		if !e.usable {
			return c.render(lang, data)
		}
		text, html = e.fill(data)
		if len(html) > MaxHTMLBytes {
			return "", "", fmt.Errorf("email html is %d bytes, over %d", len(html), MaxHTMLBytes)
		}
		return text, html, nil
	}

	// First of its kind: render the placeholders' bodies, and this message's in full to check that
	// filling the former gives the latter.
	mt, mh, err := c.render(lang, key.data)
	if err != nil {
		return "", "", err
	}
	if text, html, err = c.render(lang, data); err != nil {
		return "", "", err
	}
	e = &bodyEntry{text: mt, html: mh}
	ft, fh := e.fill(data)
	e.usable = ft == text && fh == html
	c.bodies.mu.Lock()
	if c.bodies.entries == nil || len(c.bodies.entries) >= maxCached {
		c.bodies.entries = map[bodyKey]*bodyEntry{}
	}
	c.bodies.entries[key] = e
	c.bodies.mu.Unlock()
	return text, html, nil
}

// fill puts data's links in the placeholders' place.
func (e *bodyEntry) fill(data TemplateData) (text, html string) {
	r := strings.NewReplacer(lessonURLMark, data.LessonURL, unsubscribeURLMark, data.UnsubscribeURL)
	return r.Replace(e.text), r.Replace(e.html)
}

// urlSafe reports whether s is made only of characters that html/template writes as they are in
// text, in a quoted attribute and in a URL: letters, digits and - . _ ~ : / ? = #. An ampersand, a
// plus, a quote or a percent sign would be escaped, differently by context.
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("-._~:/?=#", b) >= 0:
		default:
			return false
		}
	}
	return true
}
