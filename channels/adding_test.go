package channels_test

// This test is the proof of docs/channels/adding-a-channel.md: a channel that no other package knows
// of, declared in one place (voiceChannel below) and registered in one line, is planned by fan-out,
// sent by the queue, counted by the publishing plan and shown on the dashboard, over the real queue
// (Redis), the real store (SQLite) and the real API and UI handlers.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/queue"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/sqlite"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/ui"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// voice is the test channel: an automated call that reads the lesson's digest to offline families
// that have a phone (a landline does for a call). Everything Relais needs to know of it is here.
const voice relais.ChannelName = "voice"

// voiceChannel is a fake provider with the whole channel contract: it sends, says whom it reaches,
// which profiles it serves, and what a household costs the plan (one call, two calls a second).
type voiceChannel struct {
	mu    sync.Mutex
	calls map[int64]int // by household id
}

var (
	_ channels.Channel = (*voiceChannel)(nil)
	_ channels.Rules   = (*voiceChannel)(nil)
	_ channels.Router  = (*voiceChannel)(nil)
	_ channels.Coster  = (*voiceChannel)(nil)
)

func (*voiceChannel) Name() relais.ChannelName { return voice }

func (v *voiceChannel) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls[m.Household.ID]++
	return channels.Receipt{ProviderID: fmt.Sprintf("CALL%d", m.Delivery.ID), Status: relais.DeliverySent}, nil
}

// Contact is the household's phone; a landline is fine for a call, an invalid number is not.
func (*voiceChannel) Contact(h relais.Household) channels.Contact {
	c := channels.Contact{Kind: "voice", Address: h.Phone, OptedOut: h.SMSOptOut, Shared: true}
	if h.PhoneStatus == relais.ContactInvalid {
		c.Status = relais.ContactInvalid
	}
	return c
}

func (*voiceChannel) Profiles() []relais.Profile { return []relais.Profile{relais.ProfileOffline} }

func (*voiceChannel) Cost(relais.Household, channels.CostInput) channels.Cost {
	return channels.Cost{Units: 1, Rate: 2}
}

func TestAChannelIsOnePackageAndOneLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	addr, db := testenv.Redis(t)
	redis := asynq.RedisClientOpt{Addr: addr, DB: db}
	log := slog.New(slog.DiscardHandler)

	vc := &voiceChannel{calls: map[int64]int{}}
	// The one line of wiring, as in main: the new channel is registered with the others.
	reg := channels.NewRegistry(&postal.Channel{}, vc).Know(sms.Rules{}, sms.ReminderRules{}, email.Rules{})

	l := relais.Lesson{Title: "Fractions", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1"}
	must(t, store.CreateLesson(ctx, &l))
	must(t, store.PutDigest(ctx, relais.Digest{LessonID: l.ID, Language: "fr", Body: "Leçon", Encoding: "GSM-7", Segments: 1}))
	must(t, store.SetLessonStatus(ctx, l.ID, relais.LessonPublished, nil))
	hs := []relais.Household{
		{ExternalRef: "A", Profile: relais.ProfileOffline, Phone: "+33140000001", PostalAddress: "1 rue A\n75001 Paris"},
		{ExternalRef: "B", Profile: relais.ProfileOffline, Phone: "+33140000002", PostalAddress: "2 rue B\n75002 Paris"},
		{ExternalRef: "C", Profile: relais.ProfileOffline, PostalAddress: "3 rue C\n75003 Paris"}, // no phone: post only
		{ExternalRef: "D", Profile: relais.ProfileOffline, Phone: "+33140000004", PostalAddress: "4 rue D"},
	}
	for i := range hs {
		hs[i].Region, hs[i].Language, hs[i].Grades, hs[i].Consent = "IDF", "fr", []int{5}, true
	}
	must(t, store.UpsertHouseholds(ctx, hs))
	// What SMS providers said of the numbers: a landline (no SMS, but a call goes), an invalid one.
	must(t, store.SetPhoneStatus(ctx, hs[0].Phone, relais.ContactLandline))
	must(t, store.SetPhoneStatus(ctx, hs[3].Phone, relais.ContactInvalid))

	// The publishing plan counts the channel and estimates it at its own rate.
	planner := &scheduler.Planner{Store: store, Lessons: store, Households: store, Channels: reg, Config: scheduler.DefaultPlanConfig()}
	sum, err := planner.Plan(ctx, l.ID, time.Now(), nil)
	must(t, err)
	if sum.Counts[string(voice)] != 2 || sum.Counts[string(relais.ChannelPostal)] != 4 {
		t.Errorf("plan counts = %v, want 2 voice calls and 4 packets", sum.Counts)
	}
	if e := sum.Estimates[string(voice)]; e.Messages != 2 || e.Seconds != 1 {
		t.Errorf("voice estimate = %+v, want 2 calls in 1 s at 2 calls a second", e)
	}

	// Fan-out plans and the queue sends the calls, through the real queue.
	client := queue.NewClient(redis)
	t.Cleanup(func() { client.Close() })
	cfg := queue.DefaultConfig()
	cfg.MediaDir = filepath.Join(dir, "media")
	w := queue.NewWorker(redis, store, reg, queue.Pipeline{}, queue.Links{}, client, cfg, log)
	must(t, w.Start())
	t.Cleanup(w.Shutdown)
	must(t, client.Publish(ctx, l.ID))
	counts := func() map[relais.ChannelName]map[relais.DeliveryStatus]int64 {
		cs, err := store.DeliveryCounts(ctx, l.ID)
		must(t, err)
		out := map[relais.ChannelName]map[relais.DeliveryStatus]int64{}
		for _, c := range cs {
			if out[c.Channel] == nil {
				out[c.Channel] = map[relais.DeliveryStatus]int64{}
			}
			out[c.Channel][c.Status] = c.Count
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := counts()
		if c[voice][relais.DeliverySent] == 2 && c[relais.ChannelPostal][relais.DeliveryQueued] == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries after fan-out: %v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	vc.mu.Lock()
	if len(vc.calls) != 2 || vc.calls[hs[0].ID] != 1 || vc.calls[hs[1].ID] != 1 {
		t.Errorf("calls by household = %v, want one each to A (a landline) and B", vc.calls)
	}
	vc.mu.Unlock()

	// The dashboard and the plan page show it, through the API and UI handlers.
	tmpl, err := templates.Load()
	must(t, err)
	acfg := api.DefaultConfig()
	acfg.MediaDir, acfg.Channels = cfg.MediaDir, reg
	srv := api.New(store, client, links.NewSigner([]byte("0123456789abcdef0123"), "http://relais.test"), tmpl, acfg, log, nil)
	h := ui.New(store, srv, tmpl, []byte("ui-test-secret-0123456789"), ui.DefaultConfig(), log)
	t.Cleanup(func() { h.Close() })
	srv.Mount("/ui/", h)
	hts := httptest.NewServer(srv)
	t.Cleanup(hts.Close)
	must(t, store.CreateToken(ctx, &relais.APIToken{Name: "m", User: relais.User{ID: "m", Role: relais.RoleMedia}}, api.HashToken("tok-m")))
	b := signIn(t, hts.URL, "tok-m")

	page := b.get(t, "/ui/dashboard")
	row := regexp.MustCompile(`<tr data-channel="voice"><th scope="row">voice</th>((?:<td class="[a-z]+">\d+</td>)+)`).FindStringSubmatch(page)
	if row == nil {
		t.Fatalf("dashboard has no voice row:\n%s", page)
	}
	var cells []int
	for _, m := range regexp.MustCompile(`>(\d+)<`).FindAllStringSubmatch(row[1], -1) {
		n, _ := strconv.Atoi(m[1])
		cells = append(cells, n)
	}
	want := make([]int, len(relais.DeliveryStatuses))
	want[slicesIndex(relais.DeliveryStatuses, relais.DeliverySent)] = 2
	if fmt.Sprint(cells) != fmt.Sprint(want) {
		t.Errorf("dashboard voice counts = %v, want %v (by status %v)", cells, want, relais.DeliveryStatuses)
	}
	if page := b.get(t, fmt.Sprintf("/ui/lessons/%d/plan", l.ID)); !strings.Contains(page, `data-channel="voice"`) {
		t.Errorf("plan page has no voice row:\n%s", page)
	}
}

func slicesIndex(ss []relais.DeliveryStatus, s relais.DeliveryStatus) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// browser is a signed-in session of the UI.
type browser struct {
	base string
	hc   *http.Client
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func signIn(t *testing.T, base, token string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	m := csrfField.FindStringSubmatch(b.get(t, "/ui/signin"))
	if m == nil {
		t.Fatal("sign-in page has no CSRF token")
	}
	form := url.Values{"token": {token}, "next": {"/ui/lessons"}, "csrf": {m[1]}}
	resp, err := b.hc.PostForm(base+"/ui/signin", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	return b
}

func (b *browser) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept-Language", "en")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
	return string(body)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
