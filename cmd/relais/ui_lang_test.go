package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// TestBrowserLanguagesAndLayout opens the staff pages in a real Chromium in each UI language, as an
// admin (who has the most links): the page is in the language picked, its heading translated; the
// page links fit on one line at 1280 px in every language; and the week grid does not make a 390 px
// phone scroll sideways. Screenshots of the pages in Kazakh and Russian go to -ui-artifacts.
func TestBrowserLanguagesAndLayout(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	b := newBrowser(t)
	base := r.app.URL()

	// A station with a full week of half-hour slots, this week.
	svc := scheduler.New(r.app.store, r.app.store, nil)
	st := relais.Station{Name: "Балапан", Kind: relais.StationTV, TimeZone: "Asia/Almaty", Playout: relais.FormatFFplayout}
	if err := svc.CreateStation(ctx, &st); err != nil {
		t.Fatal(err)
	}
	almaty, _ := time.LoadLocation("Asia/Almaty")
	today := time.Now().In(almaty)
	if _, err := svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{0, 1, 2, 3, 4, 5, 6}, Start: "09:00", End: "12:00",
		SlotMin: 30, From: today.AddDate(0, 0, -7).Format(time.DateOnly), To: today.AddDate(0, 0, 7).Format(time.DateOnly), Grade: 5, Language: "kk"}); err != nil {
		t.Fatal(err)
	}
	admin, err := newToken(ctx, r.app.store, relais.User{ID: "admin", Name: "Әкімші", Role: relais.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	b.signIn(base, admin)
	grid := fmt.Sprintf("%s/ui/grid?station=%d", base, st.ID)

	// One line of links: every link's top is the same, and the bar is no taller than one link.
	const navOneLine = `(() => {
		const nav = document.querySelector("header nav.pages"), links = [...nav.querySelectorAll("a")];
		const tops = new Set(links.map(a => Math.round(a.getBoundingClientRect().top)));
		return [links.length, tops.size, Math.round(nav.getBoundingClientRect().height), Math.round(links[0].getBoundingClientRect().height)].join(" ");
	})()`
	for _, tt := range []struct{ lang, lessons, grid string }{
		{"en", "All lessons", "Broadcast grid · Балапан"},
		{"fr", "Toutes les leçons", "Grille de diffusion · Балапан"},
		{"kk", "Барлық сабақтар", "Эфир кестесі · Балапан"},
		{"ru", "Все уроки", "Сетка вещания · Балапан"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			b.t = t
			b.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/ui/lessons"), chromedp.WaitVisible(chromedp.CSS("form.langs")))
			if b.eval(`document.documentElement.lang`) != tt.lang {
				b.do(chromedp.Click(chromedp.CSS(`form.langs button[value=` + tt.lang + `]`)))
				b.waitFor("the page in "+tt.lang, `document.documentElement.lang === "`+tt.lang+`" && !!document.querySelector("h1")`, 10*time.Second)
			}
			if h1 := b.eval(`document.querySelector("h1").textContent`); h1 != tt.lessons {
				t.Errorf("lessons page heading %q, want %q", h1, tt.lessons)
			}
			b.shot("20-lessons-" + tt.lang)
			b.do(chromedp.Navigate(grid), chromedp.WaitVisible(chromedp.CSS("#grid")))
			if h1 := b.eval(`document.querySelector("h1").textContent`); h1 != tt.grid {
				t.Errorf("grid heading %q, want %q", h1, tt.grid)
			}
			var links, tops, navHeight, linkHeight, width int
			fmt.Sscan(b.eval(navOneLine+` + " " + window.innerWidth`), &links, &tops, &navHeight, &linkHeight, &width)
			if width != 1280 || links < 8 || tops != 1 || navHeight > linkHeight*3/2 {
				t.Errorf("at %d px the nav's %d links sit on %d lines, %d px high for %d px links; want one line at 1280 px", width, links, tops, navHeight, linkHeight)
			}
			// The admin's own pages sit on the brand's line.
			if got := b.eval(`(() => { const top = el => Math.round(el.getBoundingClientRect().top), brand = top(document.querySelector("header .brand"));
				const links = [...document.querySelectorAll("header nav.admin a")];
				return links.length + " " + links.filter(a => Math.abs(top(a) - brand) > 12).length; })()`); got != "4 0" {
				t.Errorf("at 1280 px, admin links (queues, tokens, audit, SMS senders) and how many are off the brand's line: %s; want 4 0", got)
			}
			b.shot("21-grid-" + tt.lang)

			// On a phone the page does not scroll sideways: the grid scrolls in its own box.
			b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(grid), chromedp.WaitVisible(chromedp.CSS("#grid")))
			var scrollWidth, innerWidth int
			fmt.Sscan(b.eval(`document.documentElement.scrollWidth + " " + window.innerWidth`), &scrollWidth, &innerWidth)
			if innerWidth != 390 || scrollWidth > innerWidth {
				wide := b.eval(`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest(".grid-scroll")).slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className).join(", ")`)
				t.Errorf("at %d px the grid page is %d px wide; too wide: %s", innerWidth, scrollWidth, wide)
			}
			if tt.lang == "kk" || tt.lang == "ru" {
				b.shot("22-grid-phone-" + tt.lang)
			}
		})
	}
	b.t = t
	if strings.Contains(b.eval(`document.body.innerText`), "switch_to") {
		t.Error("a message key shows on the page")
	}
}
