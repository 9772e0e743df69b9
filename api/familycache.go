package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	relais "github.com/relais-edu/relais"
)

// The family page meets every family of a region within minutes of 9 a.m.: its rendered bytes are kept
// in memory for a short while, so that a link opened again, or by the family's other phone, is served
// without a database round trip, and a CDN or browser in front may keep it too (ETag, public
// Cache-Control: the page holds the lesson and the region's airings, nothing about the household).
const (
	pageTTL        = time.Minute // how stale an airing or a new file on the page may be
	pageCacheLimit = 20_000      // pages kept, about 3 KB each
)

// familyPage is a rendered family page and what its files' handlers need, so that they too skip the
// database while it is fresh.
type familyPage struct {
	body         []byte
	etag         string
	lessonID     int64
	lang         string // the page's language, for the error pages of its files
	audio        string // the low-band audio's path; empty: none yet
	audioVersion string // changes when the audio file does: its URL is then another, so it may be cached for ever
	worksheet    string
	expires      time.Time
}

// pageCache is a bounded map of pages by link token, with an expiry.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]*familyPage
}

func newPageCache() *pageCache { return &pageCache{pages: map[string]*familyPage{}} }

// get returns the fresh page of token.
func (c *pageCache) get(token string, now time.Time) (*familyPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[token]
	if !ok || now.After(p.expires) {
		return nil, false
	}
	return p, true
}

// put keeps p for token until pageTTL from now. A full cache first drops one page, whichever Go's map
// order names first: random enough for a cache that only has to stay bounded, and O(1), where sweeping
// the whole map for expired pages would cost every request of a surge a scan of pageCacheLimit pages.
func (c *pageCache) put(token string, p *familyPage, now time.Time) {
	p.expires = now.Add(pageTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pages[token]; !ok && len(c.pages) >= pageCacheLimit {
		for k := range c.pages {
			delete(c.pages, k)
			break
		}
	}
	c.pages[token] = p
}

// newFamilyPage seals a rendered page with its ETag.
func newFamilyPage(body []byte) *familyPage {
	sum := sha256.Sum256(body)
	return &familyPage{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

// renditionVersion names a rendition's content for an immutable URL: a new render of the lesson has
// another size, length or loudness, hence another URL.
func renditionVersion(x relais.Rendition) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%g", x.Path, x.Bytes, x.DurationMS, x.IntegratedLUFS))
	return hex.EncodeToString(sum[:6])
}

// writeFamilyPage answers with p, or 304 when the client holds it already.
func writeFamilyPage(w http.ResponseWriter, r *http.Request, p *familyPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", familyCSP)
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(pageTTL/time.Second)))
	h.Set("ETag", p.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.body))
}
