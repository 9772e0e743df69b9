package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/internal/localserver"
	"github.com/relais-edu/relais/internal/oidcprovider"
)

var uiArtifacts = flag.String("ui-artifacts", "", "directory for the browser test's screenshots (default: $RELAIS_TEST_ARTIFACTS/ui, else a temporary directory)")

// browser is a headless Debian Chromium driven by chromedp, and where its screenshots go.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
}

// newBrowser starts Chromium. A missing chromium fails the test: scripts/test.sh installs it.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): install Debian's chromium package (scripts/test.sh does)", err)
	}
	dir := *uiArtifacts
	if dir == "" && os.Getenv("RELAIS_TEST_ARTIFACTS") != "" {
		dir = filepath.Join(os.Getenv("RELAIS_TEST_ARTIFACTS"), "ui")
	}
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 6*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, dir: dir}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.shot("failure")
		b.t.Fatalf("browser at %s: %v", loc, err)
	}
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor evaluates js until it returns true, across the pages' own refreshes.
func (b *browser) waitFor(what, js string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			b.t.Fatalf("waiting for %s at %s (last error %v):\n%s", what, loc, err, body)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// shot saves a full-page PNG screenshot as name.png.
func (b *browser) shot(name string) {
	// A page that reloads itself (a lesson being processed) has no layout for a moment ("Cannot take
	// screenshot with 0 width"): try again for a few seconds.
	var png []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Error(err)
	}
	b.t.Logf("screenshot %s", path)
}

// signIn signs in with the keyboard only: the token field has the focus, Enter submits.
func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.waitFor("the focus on the token field", `document.activeElement.id === "token"`, 5*time.Second)
	b.do(chromedp.KeyEvent(token + "\r"))
	b.waitFor("the lessons page", `location.pathname === "/ui/lessons" && !!document.querySelector("h1")`, 10*time.Second)
	// The first Tab reaches the skip link, and Enter on it moves the focus to the content.
	b.do(chromedp.KeyEvent("\t"))
	if got := b.eval(`document.activeElement.className + " " + document.activeElement.getAttribute("href")`); got != "skip #main" {
		b.t.Errorf("first Tab focuses %q, want the skip link", got)
	}
	b.do(chromedp.KeyEvent("\r"))
	b.waitFor("the focus on the content", `document.activeElement.id === "main"`, 5*time.Second)
}

// TestBrowser walks the UI as its users would, in a real headless Chromium, reaching Relais through a
// proxy that cuts the connection as a poor line does: a teacher signs in, uploads a lesson (the line
// drops mid-upload and the upload resumes where it stopped), watches it become ready and submits it;
// the media unit imports households, approves the lesson, opens a station's week grid, adds a slot and
// puts the lesson in it, reads the publishing plan, publishes, and watches the deliveries settle on the
// dashboard and its charts; a family on mobile data opens the link its SMS carried, a page under
// 100 KB without JavaScript. Screenshots go to -ui-artifacts.
func TestBrowser(t *testing.T) {
	const invalidNumber = "+33612000009"
	const dataPhone = "+33612000006" // household F, on mobile data
	r := newRig(t, []sandbox.Rule{{To: invalidNumber, HTTPStatus: 400, ErrorCode: 21211}})
	b := newBrowser(t)
	proxy := newCutProxy(t, strings.TrimPrefix(r.app.URL(), "http://"), math.MaxInt64)
	base := proxy.URL()
	video := makeVideo(t, 3)
	fi, err := os.Stat(video)
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()

	// The teacher uploads a lesson, with a preview of its text and the progress bar.
	b.signIn(base, r.teacher)
	if h1 := b.eval(`document.querySelector("h1").textContent`); h1 != "My lessons" {
		t.Errorf("teacher's first page heading %q, want My lessons", h1)
	}
	b.do(chromedp.Navigate(base+"/ui/lessons/new"), chromedp.WaitVisible(chromedp.CSS("#title")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Les fractions"),
		chromedp.SetValue(chromedp.CSS("#subject"), "maths"),
		chromedp.SendKeys(chromedp.CSS("#grade"), "5"),
		chromedp.SetValue(chromedp.CSS("#language"), "fr"),
		chromedp.SetValue(chromedp.CSS("#text"), e2eMarkdown),
		chromedp.Click(chromedp.CSS("#preview-button")),
		chromedp.WaitVisible(chromedp.CSS("#preview h1")),
		chromedp.SetUploadFiles(chromedp.CSS("#media"), []string{video}))
	if got := b.eval(`document.querySelector("#preview h1").textContent`); got != "Les fractions" {
		t.Errorf("preview heading %q", got)
	}
	b.shot("1-upload-form")
	// A text file picked by mistake is refused before any byte is sent, with what to do instead.
	notes := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notes, []byte("Les fractions: notes du cours"), 0o600)
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#media"), []string{notes}), chromedp.Click(chromedp.CSS("#upload button[type=submit]")))
	b.waitFor("the refusal of the text file", `!document.querySelector("#upload-error").hidden && document.querySelector("#upload").dataset.state === "error"`, 10*time.Second)
	if msg := b.eval(`document.querySelector("#upload-error").textContent + (document.querySelector("#progress").hidden ? "" : " (with a progress bar)")`); !strings.Contains(msg, "This is a text file, not a recording") || strings.Contains(msg, "progress bar") {
		t.Errorf("upload error for a text file: %q", msg)
	}
	b.shot("1b-upload-refused")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#media"), []string{video}))
	// Chunks of 64 KiB, and a record of the form's states that outlives the page.
	b.eval(`(() => {
		const f = document.querySelector("#upload");
		f.dataset.chunkSize = "65536";
		sessionStorage.setItem("states", "");
		// Two changes in one task reach the observer together: each record's new value is the next
		// record's old one (the last one's is the current state), so no state is missed.
		new MutationObserver((records) => {
			let s = sessionStorage.getItem("states");
			records.forEach((r, i) => { s += " " + (i + 1 < records.length ? records[i + 1].oldValue : f.dataset.state); });
			sessionStorage.setItem("states", s);
		}).observe(f, {attributes: true, attributeFilter: ["data-state"], attributeOldValue: true});
		return "";
	})()`)
	// The line drops halfway through the file, for long enough that Chrome's own silent resend of the
	// chunk on a fresh connection fails too (it did once in CI, and the page never had to resume).
	sentBefore, _ := proxy.stats()
	proxy.arm(size/2, 1500*time.Millisecond)
	b.do(chromedp.Click(chromedp.CSS("#upload button[type=submit]")))
	b.waitFor("the new lesson's page", `/^\/ui\/lessons\/\d+$/.test(location.pathname) && !!document.querySelector("#lesson-status")`, time.Minute)
	sentAfter, cut := proxy.stats()
	if !cut {
		t.Fatal("the proxy never cut the upload: the test proves nothing")
	}
	if states := strings.Fields(b.eval(`sessionStorage.getItem("states")`)); !slices.Contains(states, "resuming") || states[len(states)-1] != "saving" {
		t.Errorf("upload form states %q: want it to say it was resuming, then saving", states)
	}
	// What crossed the line after the cut is the rest of the file, not the whole file again.
	if sent := sentAfter - sentBefore; sent > size*13/10 {
		t.Errorf("%d bytes sent for a %d-byte file: the upload started again from the beginning", sent, size)
	}
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	id, err := strconv.ParseInt(regexp.MustCompile(`\d+$`).FindString(loc), 10, 64)
	if err != nil {
		t.Fatalf("lesson page URL %q", loc)
	}
	b.shot("2-lesson-processing")
	b.waitFor("the lesson to be ready", `document.querySelector("#lesson-status") && document.querySelector("#lesson-status").dataset.status === "ready"`, 3*time.Minute)
	b.do(chromedp.WaitVisible(chromedp.CSS("#worksheet-link")))
	got := b.eval(`[document.querySelectorAll("audio").length, document.querySelectorAll("section.digest").length,
		document.querySelector("section.digest[lang=fr] .segments").textContent,
		document.querySelector("section.digest[lang=fr] .encoding").textContent,
		document.querySelector("meta[http-equiv=refresh]") ? "refreshing" : "still"].join("|")`)
	if !regexp.MustCompile(`^2\|4\|(1 segment|\d+ segments)\|(GSM-7|UCS-2)\|still$`).MatchString(got) {
		t.Errorf("ready lesson page: audio players|digests|segments|encoding|refresh = %q", got)
	}
	b.shot("3-lesson-ready")
	b.do(chromedp.Click(chromedp.CSS("#submit-approval")))
	b.waitFor("the lesson submitted for approval", `!!document.querySelector("#approval") && document.querySelector("#approval").dataset.state === "submitted"`, 10*time.Second)
	b.do(chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)), chromedp.WaitVisible(chromedp.CSS("#token")))

	// The media unit imports households (one bad row).
	b.signIn(base, r.media)
	csv := filepath.Join(t.TempDir(), "households.csv")
	os.WriteFile(csv, []byte(strings.Join([]string{
		"external_ref,region,language,grades,profile,phone,email,postal_address,consent,pupils",
		"A,IDF,fr,5,broadband,,a@ui.example,,yes,",
		"B,IDF,fr,5,sms_only,+33612000002,,,yes,",
		"C,IDF,ru,,offline,,,\"ул. Абая 1\\n050000 Алматы\",yes,5:fr", // Russian at home, taught in French
		"D,IDF,fr,5,sms_only," + invalidNumber + ",,,yes,",
		"E,IDF,fr,5,sms_only,12,,,yes,",
		"F,IDF,fr,5,mobile_data," + dataPhone + ",f@ui.example,,yes,",
	}, "\n")), 0o600)
	b.do(chromedp.Navigate(base+"/ui/households/import"), chromedp.WaitVisible(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}), chromedp.Submit(chromedp.CSS("#file")),
		chromedp.WaitVisible(chromedp.CSS("#imported")))
	if got := b.eval(`[document.querySelector("#imported").textContent, document.querySelector("#rejected").textContent,
		document.querySelector("#row-errors tbody td").textContent].join("|")`); got != "Imported: 5|Rejected: 1|6" {
		t.Errorf("import result %q, want Imported: 5|Rejected: 1|6", got)
	}
	b.shot("4-import")

	// It approves the lesson from the review list, with the keyboard.
	b.do(chromedp.Navigate(base+"/ui/review"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#review-%d", id))),
		chromedp.Focus(chromedp.CSS(fmt.Sprintf("#review-%d form.approve button", id))), chromedp.KeyEvent("\r"))
	b.waitFor("the lesson to leave the review list", fmt.Sprintf(`location.pathname === "/ui/review" && !document.querySelector("#review-%d")`, id), 10*time.Second)
	b.shot("5-review")

	// It adds a station and, tomorrow at 10:00 station time, a slot, and puts the lesson in it.
	paris, _ := time.LoadLocation("Europe/Paris")
	tomorrow := time.Now().In(paris).AddDate(0, 0, 1).Format(time.DateOnly)
	b.do(chromedp.Navigate(base+"/ui/stations"), chromedp.WaitVisible(chromedp.CSS("#station-name")),
		chromedp.SendKeys(chromedp.CSS("#station-name"), "France 4"),
		chromedp.SetValue(chromedp.CSS("#station-kind"), "tv"),
		chromedp.SetValue(chromedp.CSS("#station-zone"), "Europe/Paris"),
		chromedp.Submit(chromedp.CSS("#station-name")),
		chromedp.WaitVisible(chromedp.CSS("#add-slot-box")))
	b.do(chromedp.Click(chromedp.CSS("#add-slot-box summary")), chromedp.WaitVisible(chromedp.CSS("#slot-day")),
		chromedp.SetValue(chromedp.CSS("#slot-day"), tomorrow),
		chromedp.SetValue(chromedp.CSS("#slot-start"), "10:00"),
		chromedp.SetValue(chromedp.CSS("#slot-minutes"), "30"),
		chromedp.SetValue(chromedp.CSS("#slot-grade"), "5"),
		chromedp.Submit(chromedp.CSS("#slot-day")))
	b.waitFor("the new slot in the grid", fmt.Sprintf(`!!document.querySelector('#grid td.open[data-day="%s"][data-start="10:00"] select')`, tomorrow), 10*time.Second)
	slotSel := fmt.Sprintf(`#grid td[data-day="%s"][data-start="10:00"]`, tomorrow)
	b.do(chromedp.SetValue(chromedp.CSS(slotSel+" select"), strconv.FormatInt(id, 10)),
		chromedp.Submit(chromedp.CSS(slotSel+" select")))
	b.waitFor("the lesson in its slot", fmt.Sprintf(`!!document.querySelector('%s.assigned .slot-lesson[data-lesson-id="%d"]')`, slotSel, id), 10*time.Second)
	if marks := b.eval(fmt.Sprintf(`document.querySelector('%s').className`, slotSel)); strings.Contains(marks, "overrun") || strings.Contains(marks, "conflict") {
		t.Errorf("a 3-second lesson in a 30-minute slot is marked %q", marks)
	}
	b.shot("6-grid")

	// The publishing plan, then publish from it.
	b.do(chromedp.Navigate(fmt.Sprintf("%s/ui/lessons/%d/plan", base, id)), chromedp.WaitVisible(chromedp.CSS("#plan")))
	if chans := b.eval(`[...document.querySelectorAll("#plan-channels tr[data-channel]")].map(tr => tr.dataset.channel).sort().join(",")`); chans != "email,postal,sms,sms_reminder,tv" {
		t.Errorf("plan channels %q, want email,postal,sms,sms_reminder,tv", chans)
	}
	b.shot("7-plan")
	b.do(chromedp.Focus(chromedp.CSS("#publish")), chromedp.KeyEvent("\r"))
	b.waitFor("the settled dashboard", fmt.Sprintf(`location.pathname === "/ui/lessons/%d/deliveries" &&
		!!document.querySelector("#delivery-counts") && !document.querySelector("meta[http-equiv=refresh]")`, id), 2*time.Minute)
	counts := b.eval(`(() => {
		const statuses = [...document.querySelectorAll("#delivery-counts thead th")].slice(1, -1).map(th => th.textContent);
		const out = [];
		for (const tr of document.querySelectorAll("#delivery-counts tbody tr")) {
			tr.querySelectorAll("td").forEach((td, i) => { if (i < statuses.length && td.textContent !== "0") out.push(tr.dataset.channel + " " + statuses[i] + " " + td.textContent); });
		}
		return out.join(", ");
	})()`)
	if diff := cmp.Diff("email sent 2, postal queued 1, sms delivered 2, sms failed 1", counts); diff != "" {
		t.Errorf("dashboard counts (-want +got):\n%s", diff)
	}
	if reason := b.eval(`document.querySelector("#failures tbody tr") ? document.querySelector("#failures tbody tr").textContent : ""`); !strings.HasPrefix(reason, "smsfailed") {
		t.Errorf("failure reasons row %q, want the SMS failure", reason)
	}
	// The charts over time count the same deliveries.
	if got := b.eval(`["sms sent", "sms delivered", "sms failed", "email sent"].map(k => { const [ch, s] = k.split(" ");
		const g = document.querySelector("#chart-" + ch + " g[data-series=" + s + "]"); return g ? g.dataset.total : "none"; }).join(",")`); got != "2,2,1,2" {
		t.Errorf("chart totals sms sent, sms delivered, sms failed, email sent = %s, want 2,2,1,2", got)
	}
	b.shot("8-dashboard")
	b.do(chromedp.Click(chromedp.CSS(`form[action="/ui/lang"] button[value=fr]`)))
	b.waitFor("the French dashboard", `document.documentElement.lang === "fr" && !!document.querySelector("#delivery-counts")`, 10*time.Second)
	if h1 := b.eval(`document.querySelector("h1").textContent`); !strings.HasPrefix(h1, "Tableau des envois") {
		t.Errorf("French dashboard heading %q", h1)
	}
	b.shot("9-dashboard-fr")
	// The same dashboard in Kazakh and in Russian, from the language picker; then back to French.
	for _, tt := range []struct{ lang, heading, shot string }{
		{"kk", "Жөнелтілімдер тақтасы", "9b-dashboard-kk"},
		{"ru", "Панель отправок", "9c-dashboard-ru"},
		{"fr", "Tableau des envois", ""},
	} {
		b.do(chromedp.Click(chromedp.CSS(`form[action="/ui/lang"] button[value=` + tt.lang + `]`)))
		b.waitFor("the dashboard in "+tt.lang, `document.documentElement.lang === "`+tt.lang+`" && !!document.querySelector("#delivery-counts")`, 10*time.Second)
		if h1 := b.eval(`document.querySelector("h1").textContent`); !strings.HasPrefix(h1, tt.heading+": ") {
			t.Errorf("%s dashboard heading %q, want %q", tt.lang, h1, tt.heading)
		}
		// Longer words do not make the page wider than the window: the counts table scrolls in its box.
		if got := b.eval(`document.documentElement.scrollWidth + " " + window.innerWidth`); got != "1280 1280" {
			t.Errorf("%s dashboard: page width and window width %s, want 1280 1280", tt.lang, got)
		}
		if tt.shot != "" {
			b.shot(tt.shot)
		}
	}

	// The family on mobile data opens the link its SMS carried: the lesson page, in French, with when it
	// airs, no script, and under 100 KB with everything it loads before the audio.
	var link string
	for _, m := range r.sandbox.Messages() {
		if m.To == dataPhone {
			link = regexp.MustCompile(regexp.QuoteMeta(r.app.URL()) + `/l/[A-Za-z0-9_-]+`).FindString(m.Body)
		}
	}
	if link == "" {
		t.Fatalf("no lesson link in the SMS to %s: %+v", dataPhone, r.sandbox.Messages())
	}
	b.do(chromedp.Navigate(link))
	b.waitFor("the family page loaded", `document.readyState === "complete"`, 10*time.Second)
	page := b.eval(`(() => {
		let bytes = performance.getEntriesByType("navigation")[0].transferSize;
		for (const e of performance.getEntriesByType("resource")) if (e.initiatorType !== "audio" && !e.name.includes("/audio")) bytes += e.transferSize;
		return [bytes, document.scripts.length, document.documentElement.lang, document.querySelectorAll("audio").length,
			document.body.innerText.includes("France 4") ? "airs" : "no airing", document.querySelector("h1").textContent].join("|");
	})()`)
	parts := strings.Split(page, "|")
	if n, _ := strconv.Atoi(parts[0]); n <= 0 || n > 100<<10 || len(parts) != 6 || parts[1] != "0" || parts[2] != "fr" || parts[3] != "1" || parts[4] != "airs" || parts[5] != "Les fractions" {
		t.Errorf("family page: bytes|scripts|lang|audio players|airing|title = %q; want under 102400 bytes, no script, fr, one player, the airing, the title", page)
	}
	t.Logf("family page from the SMS link: %s bytes before the audio", parts[0])
	b.shot("10-family-page")

	// An admin reaches asynq's queue monitor from the menu; the media unit cannot.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(base + "/ui/admin/queues/"); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("queue monitor without sign-in = %v %v, want 303", resp.StatusCode, err)
	}
	b.do(chromedp.Navigate(base + "/ui/admin/queues/"))
	if h1 := b.eval(`document.querySelector("h1") ? document.querySelector("h1").textContent : ""`); h1 != "Erreur" {
		t.Errorf("media unit on the queue monitor sees %q, want the French error page", h1)
	}
	admin, err := newToken(context.Background(), r.app.store, relais.User{ID: "admin", Name: "Admin", Role: relais.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Navigate(base+"/ui/lessons"), chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#token")))
	b.signIn(base, admin)
	b.do(chromedp.Click(chromedp.CSS(`a[href="/ui/admin/queues/"]`)))
	b.waitFor("the queue monitor", `document.body.innerText.includes("media") && document.body.innerText.includes("send")`, 30*time.Second)
	b.shot("11-queue-monitor")
}

// TestBrowserOIDCSignIn signs staff in through a real OpenID provider (zitadel/oidc's example, started
// on loopback) in headless Chromium: from Relais' sign-in page to the provider's login form and back,
// each role landing on its own pages, the role read from the provider's claims. Screenshots go to
// -ui-artifacts as oidc-*.png.
func TestBrowserOIDCSignIn(t *testing.T) {
	addr, err := localserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	ctx := context.Background()
	p, err := oidcprovider.Start(ctx, t.TempDir(), []oidcprovider.User{
		{ID: "sub-ann", Username: "ann", Password: "pw-ann", FirstName: "Ann", LastName: "Admin"},
		{ID: "sub-mo", Username: "mo", Password: "pw-mo", FirstName: "Mo", LastName: "Media"},
		{ID: "sub-tea", Username: "tea", Password: "pw-tea", FirstName: "Tea", LastName: "Cher"},
	}, base+"/ui/oidc/callback")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Stop(ctx)
	})
	newRig(t, nil, func(c *Config) {
		c.HTTPAddr = addr
		c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret = p.Issuer, oidcprovider.ClientID, oidcprovider.ClientSecret
		c.OIDCName, c.OIDCRoleClaim, c.OIDCRoles = "Ministry ID", "preferred_username", "ann=admin,mo=media,tea=teacher"
	})
	b := newBrowser(t)
	for _, tc := range []struct {
		user, password, name, role string
		heading                    string            // of the lessons page
		pages                      map[string]string // path: what its page shows
		refused                    []string          // paths the role may not open
	}{
		{"tea", "pw-tea", "Tea Cher", "teacher", "My lessons",
			map[string]string{"/ui/lessons/new": "#title"}, []string{"/ui/dashboard", "/ui/review"}},
		{"mo", "pw-mo", "Mo Media", "media", "All lessons",
			map[string]string{"/ui/dashboard": "main h1", "/ui/review": "main h1", "/ui/stations": "main h1"}, []string{"/ui/admin/queues/"}},
		{"ann", "pw-ann", "Ann Admin", "admin", "All lessons",
			map[string]string{"/ui/dashboard": "main h1", "/ui/admin/queues/": "#root"}, nil},
	} {
		t.Run(tc.role, func(t *testing.T) {
			b.t = t
			if _, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil { // the last role's session
				t.Fatal(err)
			}
			b.do(chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#oidc-signin")))
			if got := b.eval(`document.querySelector("#oidc-signin").textContent`); got != "Sign in with Ministry ID" {
				t.Errorf("provider button reads %q", got)
			}
			started := time.Now()
			b.do(chromedp.Click(chromedp.CSS("#oidc-signin")), chromedp.WaitVisible(chromedp.CSS("#username")))
			if host := b.eval(`location.host`); host == addr {
				t.Fatalf("the provider's login form is served by Relais (%s)", host)
			}
			b.shot("oidc-" + tc.role + "-1-provider")
			b.do(chromedp.SendKeys(chromedp.CSS("#username"), tc.user), chromedp.SendKeys(chromedp.CSS("#password"), tc.password),
				chromedp.Click(chromedp.CSS("button[type=submit]")))
			b.waitFor("the lessons page of Relais", `location.host === "`+addr+`" && location.pathname === "/ui/lessons" && !!document.querySelector("h1")`, 20*time.Second)
			t.Logf("%s: from Relais' button to its lessons page through the provider's form in %s (form filled by the test)",
				tc.role, time.Since(started).Round(time.Millisecond))
			roleName := map[string]string{"teacher": "teacher", "media": "media unit", "admin": "admin"}[tc.role]
			if got := b.eval(`document.querySelector(".who").textContent`); got != "Signed in as "+tc.name+" ("+roleName+")" {
				t.Errorf("header says %q, want %s as %s", got, tc.name, tc.role)
			}
			if h1 := b.eval(`document.querySelector("main h1").textContent`); h1 != tc.heading {
				t.Errorf("lessons page heading %q, want %q", h1, tc.heading)
			}
			b.shot("oidc-" + tc.role + "-2-signed-in")
			for path, sel := range tc.pages {
				b.do(chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
				if strings.Contains(b.eval(`document.body.innerText`), "Your role cannot open this page.") {
					t.Errorf("%s refused to the %s", path, tc.role)
				}
			}
			for _, path := range tc.refused {
				b.do(chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("body")))
				if !strings.Contains(b.eval(`document.body.innerText`), "Your role cannot open this page.") {
					t.Errorf("%s opened to the %s", path, tc.role)
				}
			}
		})
	}
}
