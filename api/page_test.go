package api

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// TestFamilyLinks: the family page opens from its opaque link, which shows neither the household's id
// nor its contacts; a tampered or forged link gets a page saying so in the language the browser asks
// for, the four languages when it asks for none of theirs.
func TestFamilyLinks(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "- un\n", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	hs := []relais.Household{{ExternalRef: "A", Region: "IDF", Language: "kk", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
		Phone: "+33612000001", Email: "famille@example.org", Consent: true}}
	if err := f.store.UpsertHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	get := func(path, accept string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	link := f.signer.LessonURL(l.ID, hs[0].ID)
	path := strings.TrimPrefix(link, "http://relais.test")
	tok := strings.TrimPrefix(path, "/l/")
	for _, clear := range []string{strconv.FormatInt(hs[0].ID, 10) + "", "33612000001", "famille", "example.org"} {
		if len(clear) > 1 && strings.Contains(tok, clear) {
			t.Errorf("family link %s shows %q", link, clear)
		}
	}
	if status, body := get(path, "en"); status != 200 || !strings.Contains(body, "Les fractions") || !strings.Contains(body, `lang="kk"`) {
		t.Fatalf("family page = %d:\n%s", status, body)
	}
	tampered := "A" + tok[1:]
	if tok[0] == 'A' {
		tampered = "B" + tok[1:]
	}
	for _, tc := range []struct{ path, accept, want, not string }{
		{"/l/" + tampered, "kk-KZ,kk;q=0.9", "Бұл сілтеме жарамсыз.", "This link"},
		{"/l/" + tampered, "ru", "Эта ссылка недействительна.", "This link"},
		{"/l/" + tok[:len(tok)-2], "fr-FR", "Ce lien n&#39;est pas valide.", "This link"},
		{"/l/garbage", "de", "This link is not valid.", "Les fractions"},
	} {
		status, body := get(tc.path, tc.accept)
		if status != http.StatusNotFound || !strings.Contains(body, tc.want) || strings.Contains(body, tc.not) {
			t.Errorf("GET %s (Accept-Language %s) = %d, want 404 saying %q without %q:\n%s", tc.path, tc.accept, status, tc.want, tc.not, body)
		}
	}
	if status, body := get("/l/garbage", "de"); !strings.Contains(body, "Ce lien n&#39;est pas valide.") || !strings.Contains(body, "Эта ссылка") {
		t.Errorf("bad link for a language the families do not read = %d, want the four languages:\n%s", status, body)
	}
}

// TestFamilyPageCaching: the page is served from memory while fresh (it still opens with the database
// closed), a client that holds it gets 304, and its audio sits at an address named by the file's
// content that may be cached for ever, while another version's address may not.
func TestFamilyPageCaching(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "Les fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", Markdown: "- un\n", SegmentBudget: 3}
	must(t, f.store.CreateLesson(ctx, &l))
	audio := filepath.Join(t.TempDir(), "lowband.ogg")
	must(t, os.WriteFile(audio, []byte("OggS fake audio"), 0o600))
	must(t, f.store.PutRendition(ctx, relais.Rendition{LessonID: l.ID, Kind: relais.RenditionLowband, Path: audio, Bytes: 15, DurationMS: 1000}))
	hs := []relais.Household{{ExternalRef: "A", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
		Phone: "+33612000001", Consent: true}}
	must(t, f.store.UpsertHouseholds(ctx, hs))
	path := strings.TrimPrefix(f.signer.LessonURL(l.ID, hs[0].ID), "http://relais.test")
	get := func(path, etag string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, page := get(path, "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("family page = %d, ETag %q, Cache-Control %q", resp.StatusCode, etag, resp.Header.Get("Cache-Control"))
	}
	audioURL := regexp.MustCompile(`src="(/l/[^"]+/audio/[0-9a-f]+)"`).FindStringSubmatch(page)
	if audioURL == nil {
		t.Fatalf("no versioned audio address on the page:\n%s", page)
	}

	// The database goes away: what the surge asks for is in memory.
	must(t, f.store.Close())
	if resp, again := get(path, ""); resp.StatusCode != 200 || again != page {
		t.Errorf("page with the database closed = %d, same page %v", resp.StatusCode, again == page)
	}
	if resp, body := get(path, etag); resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("conditional request = %d %q, want 304", resp.StatusCode, body)
	}
	if resp, body := get(audioURL[1], ""); resp.StatusCode != 200 || body != "OggS fake audio" ||
		resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("versioned audio = %d %q, Cache-Control %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	old := audioURL[1][:strings.LastIndex(audioURL[1], "/")] + "/0123456789ab"
	if resp, _ := get(old, ""); resp.StatusCode != 200 || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("another version's address = %d, Cache-Control %q: must not be kept for ever", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPageCacheStaysBounded: past its limit the cache drops a page for each new one, keeping the new.
func TestPageCacheStaysBounded(t *testing.T) {
	c := newPageCache()
	now := time.Now()
	for i := range pageCacheLimit + 100 {
		c.put(strconv.Itoa(i), newFamilyPage([]byte("page")), now)
	}
	if n := len(c.pages); n != pageCacheLimit {
		t.Errorf("%d pages kept, want the limit %d", n, pageCacheLimit)
	}
	if _, ok := c.get(strconv.Itoa(pageCacheLimit+99), now); !ok {
		t.Error("the page put last is not kept")
	}
	if _, ok := c.get("0", now.Add(pageTTL+time.Second)); ok {
		t.Error("a page past its minute is served")
	}
}
