package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms/sandbox"
)

var uiArtifacts = flag.String("ui-artifacts", "", "directory for the browser test's screenshots (default: a temporary directory)")

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
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
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

// TestBrowser walks the UI as its users would, in a real headless Chromium: a teacher signs in, uploads
// a lesson and watches it become ready; the media unit imports households, publishes the lesson and
// watches the deliveries settle on the dashboard. Screenshots go to -ui-artifacts.
func TestBrowser(t *testing.T) {
	const invalidNumber = "+33612000009"
	r := newRig(t, []sandbox.Rule{{To: invalidNumber, HTTPStatus: 400, ErrorCode: 21211}})
	b := newBrowser(t)
	base := r.app.URL()
	video := makeVideo(t, 3)

	// The teacher uploads a lesson, with a preview of its text and the XHR progress bar.
	b.signIn(base, r.teacher)
	if h1 := b.eval(`document.querySelector("h1").textContent`); h1 != "My lessons" {
		t.Errorf("teacher's first page heading %q, want My lessons", h1)
	}
	b.do(chromedp.Navigate(base+"/ui/lessons/new"), chromedp.WaitVisible(chromedp.CSS("#title")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Les fractions"),
		chromedp.SendKeys(chromedp.CSS("#subject"), "maths"),
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
	b.do(chromedp.Click(chromedp.CSS("#upload button[type=submit]")))
	b.waitFor("the new lesson's page", `/^\/ui\/lessons\/\d+$/.test(location.pathname) && !!document.querySelector("#lesson-status")`, 30*time.Second)
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
	if !regexp.MustCompile(`^2\|4\|\d+ segments\|(GSM-7|UCS-2)\|still$`).MatchString(got) {
		t.Errorf("ready lesson page: audio players|digests|segments|encoding|refresh = %q", got)
	}
	b.shot("3-lesson-ready")
	b.do(chromedp.Click(chromedp.CSS(`form[action="/ui/signout"] button`)), chromedp.WaitVisible(chromedp.CSS("#token")))

	// The media unit imports households (one bad row), publishes, and watches the dashboard.
	b.signIn(base, r.media)
	csv := filepath.Join(t.TempDir(), "households.csv")
	os.WriteFile(csv, []byte(strings.Join([]string{
		"external_ref,region,language,grades,profile,phone,email,postal_address,consent",
		"A,IDF,fr,5,broadband,,a@ui.example,,yes",
		"B,IDF,fr,5,sms_only,+33612000002,,,yes",
		"C,IDF,ru,5,offline,,,\"ул. Абая 1\\n050000 Алматы\",yes",
		"D,IDF,fr,5,sms_only," + invalidNumber + ",,,yes",
		"E,IDF,fr,5,sms_only,12,,,yes",
	}, "\n")), 0o600)
	b.do(chromedp.Navigate(base+"/ui/households/import"), chromedp.WaitVisible(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}), chromedp.Submit(chromedp.CSS("#file")),
		chromedp.WaitVisible(chromedp.CSS("#imported")))
	if got := b.eval(`[document.querySelector("#imported").textContent, document.querySelector("#rejected").textContent,
		document.querySelector("#row-errors tbody td").textContent].join("|")`); got != "Imported: 4|Rejected: 1|6" {
		t.Errorf("import result %q, want Imported: 4|Rejected: 1|6", got)
	}
	b.shot("4-import")

	b.do(chromedp.Navigate(base+"/ui/publish"),
		chromedp.Focus(chromedp.CSS(fmt.Sprintf(`form[action="/ui/lessons/%d/publish"] button`, id))),
		chromedp.KeyEvent("\r")) // with the keyboard
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
	if diff := cmp.Diff("email sent 1, postal queued 1, sms delivered 1, sms failed 1", counts); diff != "" {
		t.Errorf("dashboard counts (-want +got):\n%s", diff)
	}
	if reason := b.eval(`document.querySelector("#failures tbody tr") ? document.querySelector("#failures tbody tr").textContent : ""`); !strings.HasPrefix(reason, "smsfailed") {
		t.Errorf("failure reasons row %q, want the SMS failure", reason)
	}
	b.shot("5-dashboard")
	b.do(chromedp.Click(chromedp.CSS(`form[action="/ui/lang"] button`)))
	b.waitFor("the French dashboard", `document.documentElement.lang === "fr" && !!document.querySelector("#delivery-counts")`, 10*time.Second)
	if h1 := b.eval(`document.querySelector("h1").textContent`); !strings.HasPrefix(h1, "Tableau des envois") {
		t.Errorf("French dashboard heading %q", h1)
	}
	b.shot("6-dashboard-fr")

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
	b.shot("7-queue-monitor")
}
