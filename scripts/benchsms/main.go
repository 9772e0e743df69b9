// Command benchsms measures Relais' SMS delivery against the Twilio sandbox, with the real binaries:
// a private Redis, `relais twilio-sandbox`, one `relais api` and several (3) `relais worker` processes on one
// SQLite file. It prints, from the sandbox's own receive timestamps:
//
//   - paced: the achieved rate against the configured segments per second, and the most segments seen
//     in any one-second window (sliding, and aligned to whole seconds);
//   - unthrottled: messages per second from Relais to the sandbox;
//   - faults: with a share of requests answered 429 or 500, whether every message arrived exactly once;
//   - pool: a pool of senders (3 short codes of 20 segments/s, on two Twilio accounts): the pool's
//     utilisation (segments over the first-to-last span times the summed rate), each sender's own
//     throughput and its most segments in any sliding one-second window, from the sandbox's receive
//     timestamps per From; once per load bound of -pool-bounds (RELAIS_SMS_LOAD_BOUND: 0, each family
//     on its first-choice sender, is the baseline), then the utilisations side by side.
//
// Run it through scripts/bench-sms.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/client"
	"github.com/relais-edu/relais/internal/localserver"
	"github.com/relais-edu/relais/internal/redisserver"
	"github.com/relais-edu/relais/scheduler"
)

const (
	sid   = "AC00000000000000000000000000000be1"
	token = "benchtoken00000000000000000000000"
)

func main() {
	relaisBin := flag.String("relais", "bin/relais", "the relais binary")
	scenario := flag.String("scenario", "all", "paced, unthrottled, faults, pool or all")
	n := flag.Int("messages", 10000, "messages in the paced and unthrottled runs")
	faultN := flag.Int("fault-messages", 2000, "messages in the faults run")
	rate := flag.Float64("rate", 50, "configured SMS segments per second in the paced run")
	workers := flag.Int("workers", 3, "worker processes")
	poolN := flag.Int("pool-households", 20000, "households in the pool run")
	poolSenders := flag.Int("pool-senders", 3, "senders in the pool run")
	poolRate := flag.Float64("pool-rate", 20, "segments per second of each sender in the pool run")
	poolBounds := flag.String("pool-bounds", "0,1", "RELAIS_SMS_LOAD_BOUND of each pool run, comma-separated; the first is the baseline")
	flag.Parse()
	ctx := context.Background()
	run := func(name string) bool { return *scenario == "all" || *scenario == name }
	var err error
	if err == nil && run("paced") {
		_, err = bench(ctx, *relaisBin, "paced", *n, *rate, *workers, nil, 0, 0)
	}
	if err == nil && run("unthrottled") {
		_, err = bench(ctx, *relaisBin, "unthrottled", *n, 1e6, *workers, nil, 0, 0)
	}
	if err == nil && run("pool") {
		var bounds []float64
		for _, b := range strings.Split(*poolBounds, ",") {
			f, perr := strconv.ParseFloat(strings.TrimSpace(b), 64)
			if perr != nil {
				err = fmt.Errorf("-pool-bounds: %w", perr)
				break
			}
			bounds = append(bounds, f)
		}
		var utils []float64
		for _, b := range bounds {
			if err != nil {
				break
			}
			var u float64
			u, err = bench(ctx, *relaisBin, "pool", *poolN, *poolRate, *workers, nil, *poolSenders, b)
			utils = append(utils, u)
		}
		if len(utils) > 1 {
			fmt.Printf("\n== pool utilisation by load bound (the first is the baseline)\n")
			for i, u := range utils {
				fmt.Printf("RELAIS_SMS_LOAD_BOUND=%g: %.2f %% of the summed capacity (%.4fx the baseline)\n", bounds[i], u*100, u/utils[0])
			}
		}
	}
	if err == nil && run("faults") {
		rules := []map[string]any{
			{"share": 0.10, "http_status": 429, "retry_after": "1s"},
			{"share": 0.111, "http_status": 500}, // 10 % of all: the first rule took 10 % already
		}
		_, err = bench(ctx, *relaisBin, "faults", *faultN, 1e6, *workers, rules, 0, 0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsms:", err)
		os.Exit(1)
	}
}

type proc struct {
	name string
	cmd  *exec.Cmd
}

// poolAccount is the second Twilio account of the pool run: every other sender is on it.
const (
	poolAccount = "AC00000000000000000000000000000be2"
	poolToken   = "benchtoken00000000000000000000002"
)

// bench runs one scenario; senders > 0 sends through a pool of that many senders of rate each, with
// RELAIS_SMS_LOAD_BOUND bound, and returns the pool's utilisation.
func bench(ctx context.Context, bin, name string, n int, rate float64, workers int, rules []map[string]any, senders int, bound float64) (float64, error) {
	fmt.Printf("\n== %s: %d messages, %g segments/s configured, %d worker processes\n", name, n, rate, workers)
	if senders > 0 {
		fmt.Printf("   a pool of %d senders of %g segments/s each: %g segments/s in all; RELAIS_SMS_LOAD_BOUND=%g\n", senders, rate, rate*float64(senders), bound)
	}
	dir, err := os.MkdirTemp("", "relais-bench-sms-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	rs, err := redisserver.Start(ctx, filepath.Join(dir, "redis"))
	if err != nil {
		return 0, err
	}
	defer rs.Stop(context.Background())

	sbAddr, err := localserver.FreeAddr()
	if err != nil {
		return 0, err
	}
	apiAddr, err := localserver.FreeAddr()
	if err != nil {
		return 0, err
	}
	env := append(os.Environ(),
		"RELAIS_DATA_DIR="+filepath.Join(dir, "data"), "RELAIS_REDIS_ADDR="+rs.Addr, "RELAIS_SECRET=bench-secret-0123456789",
		"RELAIS_HTTP_ADDR="+apiAddr, "RELAIS_PUBLIC_URL=http://"+apiAddr, "RELAIS_LOG_LEVEL=error",
		"RELAIS_TWILIO_ACCOUNT_SID="+sid, "RELAIS_TWILIO_AUTH_TOKEN="+token, "RELAIS_TWILIO_API_URL=http://"+sbAddr,
		fmt.Sprintf("RELAIS_SMS_RATE=%g", rate), "RELAIS_SMS_QUIET_HOURS=off", "RELAIS_SMS_QUIET_DAYS=",
		"RELAIS_WORKER_CONCURRENCY=20", "RELAIS_BENCH_POOL_TOKEN="+poolToken, fmt.Sprintf("RELAIS_SMS_LOAD_BOUND=%g", bound))
	if senders > 0 {
		file, err := writePool(dir, senders, rate)
		if err != nil {
			return 0, err
		}
		env = append(env, "RELAIS_SMS_SENDERS="+file)
	} else {
		env = append(env, "RELAIS_SMS_FROM=Relais")
	}
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.cmd.Process.Signal(os.Interrupt)
		}
		for _, p := range procs {
			p.cmd.Wait()
		}
	}()
	startProc := func(name string, args ...string) error {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		procs = append(procs, &proc{name, cmd})
		return nil
	}
	rulesFile := filepath.Join(dir, "rules.json")
	b, _ := json.Marshal(rules)
	if rules == nil {
		b = []byte("[]")
	}
	os.WriteFile(rulesFile, b, 0o600)
	if err := startProc("sandbox", "twilio-sandbox", "--listen", sbAddr, "--account-sid", sid, "--auth-token", token,
		"--rules", rulesFile, "--step-delay", "20ms", "--accounts", poolAccount+":"+poolToken); err != nil {
		return 0, err
	}
	if err := startProc("api", "api"); err != nil {
		return 0, err
	}
	if err := waitHTTP("http://"+apiAddr+"/readyz", 30*time.Second); err != nil {
		return 0, err
	}
	for i := 0; i < workers; i++ {
		if err := startProc(fmt.Sprint("worker", i), "worker"); err != nil {
			return 0, err
		}
	}
	tok, err := exec.Command(bin, "token", "create", "--user", "bench", "--role", "admin",
		"--data-dir", filepath.Join(dir, "data")).Output()
	if err != nil {
		return 0, fmt.Errorf("token: %w", err)
	}
	c := client.New("http://"+apiAddr, strings.TrimSpace(string(tok)))

	var csv bytes.Buffer
	csv.WriteString("external_ref,language,grades,profile,phone,consent\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "B%06d,en,5,sms_only,+3361%07d,yes\n", i, i) // taught in English, the lesson's language: its audience
	}
	if _, err := c.ImportHouseholds(ctx, &csv); err != nil {
		return 0, err
	}
	lessonID, err := uploadLesson(ctx, c, dir)
	if err != nil {
		return 0, err
	}
	if err := waitReady(ctx, c, lessonID, 5*time.Minute); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := c.Publish(ctx, lessonID); err != nil {
		return 0, err
	}
	counts, err := waitSettled(ctx, c, lessonID, n, 30*time.Minute)
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	msgs, err := sandboxMessages("http://" + sbAddr)
	if err != nil {
		return 0, err
	}
	if senders > 0 {
		return reportPool(n, rate, senders, workers, bound, elapsed, counts, msgs)
	}
	return 0, report(name, n, rate, elapsed, counts, msgs, rules != nil)
}

// simulatePool simulates the pool run's send with the code of relais plan simulate: n SMS-only
// households (ids 1 to n, as the import numbers them) taught in the lesson's language, one segment each.
func simulatePool(n int, rate float64, senders, workers int, bound float64, sendTime time.Duration) (scheduler.Simulation, time.Duration, error) {
	shape := scheduler.Shape{Name: "bench", Households: n, Country: "FR", Language: "en", Grade: 5,
		Shares: []scheduler.ProfileShare{{Profile: relais.ProfileSMSOnly, Share: 1}}}
	var pool channels.Pool
	for i := range senders {
		pool = append(pool, channels.Lane{Name: fmt.Sprintf("bench-%d", i+1), Country: "FR", Kind: "short_code", Address: poolFrom(i), Rate: rate})
	}
	pc := scheduler.DefaultPlanConfig()
	pc.SMSPool, pc.DigestSegs, pc.SMSLoadBound = pool, 1, bound
	start := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	m := scheduler.NewMorning(shape, 1, start.Add(24*time.Hour))
	p := &scheduler.Planner{Store: m, Lessons: m,
		Channels: channels.NewRegistry().Know(sms.Rules{}, sms.ReminderRules{}, email.Rules{}, &postal.Channel{})}
	t0 := time.Now()
	sim, err := scheduler.Simulate(context.Background(), p, shape.Population(), 1,
		scheduler.SimConfig{Plan: pc, Publish: start, FirstSlot: start.Add(24 * time.Hour), Sends: workers * 20, SendTime: sendTime, SkipSmallest: true})
	return sim, time.Since(t0), err
}

// poolFrom is the From of the pool run's sender i: a short code.
func poolFrom(i int) string { return fmt.Sprintf("3810%d", i+1) }

// writePool writes the pool run's senders file: senders short codes of rate, every other one on the
// second account.
func writePool(dir string, senders int, rate float64) (string, error) {
	var b strings.Builder
	b.WriteString("senders:\n")
	for i := range senders {
		fmt.Fprintf(&b, "  - name: bench-%d\n    country: FR\n    from: \"%s\"\n    kind: short_code\n    rate: %g\n", i+1, poolFrom(i), rate)
		if i%2 == 1 {
			fmt.Fprintf(&b, "    account_sid: %s\n    auth_token_env: RELAIS_BENCH_POOL_TOKEN\n", poolAccount)
		}
	}
	file := filepath.Join(dir, "senders.yaml")
	return file, os.WriteFile(file, []byte(b.String()), 0o600)
}

// reportPool prints the pool run's figures and fails when a sender went over its rate in a sliding
// one-second window, or a message was not delivered exactly once.
func reportPool(n int, rate float64, senders, workers int, bound float64, elapsed time.Duration, counts map[relais.DeliveryStatus]int64, msgs []sbMessage) (float64, error) {
	var accepted []sbMessage
	perTo := map[string]int{}
	for _, m := range msgs {
		if m.Sid != "" {
			accepted = append(accepted, m)
			perTo[m.To]++
		}
	}
	sort.Slice(accepted, func(i, j int) bool { return accepted[i].ReceivedAt.Before(accepted[j].ReceivedAt) })
	fmt.Printf("relais deliveries: %v\n", counts)
	if len(accepted) < 2 {
		return 0, errors.New("too few messages")
	}
	bySender := map[string][]sbMessage{}
	segments := 0
	for _, m := range accepted {
		bySender[m.From] = append(bySender[m.From], m)
		segments += m.NumSegments
	}
	span := accepted[len(accepted)-1].ReceivedAt.Sub(accepted[0].ReceivedAt).Seconds()
	capacity := rate * float64(senders)
	utilisation := float64(segments-accepted[0].NumSegments) / span / capacity
	fmt.Printf("publish to last delivery: %s; first to last request: %.1f s\n", elapsed.Round(100*time.Millisecond), span)
	fmt.Printf("pool utilisation: %d segments in %.1f s = %.2f segments/s, %.2f %% of the summed %g segments/s\n",
		segments, span, float64(segments-accepted[0].NumSegments)/span, utilisation*100, capacity)
	// The simulation's one free parameter is how long a send holds its segments in the window after
	// its admission (the call to Twilio, the release in Redis, the machine's stalls), measured on the
	// sender that kept busy (the others also wait for work, held up behind it): the smallest, over the
	// senders, of the mean time from a message to the one int(rate) messages later, less the window.
	sendTime := time.Duration(0)
	for _, ms := range bySender {
		var sum time.Duration
		k := 0
		for i := 0; i+int(rate) < len(ms); i++ {
			sum += ms[i+int(rate)].ReceivedAt.Sub(ms[i].ReceivedAt) - time.Second
			k++
		}
		if k > 0 && sum > 0 && (sendTime == 0 || sum/time.Duration(k) < sendTime) {
			sendTime = sum / time.Duration(k)
		}
	}
	if sendTime == 0 {
		sendTime = 25 * time.Millisecond
	}
	sim, took, err := simulatePool(n, rate, senders, workers, bound, sendTime)
	if err != nil {
		return 0, err
	}
	simSpan := sim.SMSFinish.Sub(sim.SMSStart).Seconds()
	fmt.Printf("simulation of the same population (relais plan simulate's code, %d sends at once, a send holding its window %s as the busiest sender shows): %.1f s in %.2f s of computing\n",
		workers*20, sendTime.Round(time.Millisecond), simSpan, took.Seconds())
	fmt.Printf("finish, first to last request: real %.1f s, simulated %.1f s, difference %+.2f %%\n", span, simSpan, (simSpan-span)/span*100)
	var errs []error
	for i := range senders {
		from := poolFrom(i)
		ms := bySender[from]
		if len(ms) < 2 {
			errs = append(errs, fmt.Errorf("sender %s sent %d messages", from, len(ms)))
			continue
		}
		segs := 0
		for _, m := range ms {
			segs += m.NumSegments
		}
		own := ms[len(ms)-1].ReceivedAt.Sub(ms[0].ReceivedAt).Seconds()
		most := mostInOneSecond(ms)
		fmt.Printf("sender %s (account %s): %d households, %d segments, %.2f segments/s over its own %.1f s (%.2f %% of %g); most in a sliding 1 s window: %d; last at +%.1f s\n",
			from, accountOf(i), len(ms), segs, float64(segs-ms[0].NumSegments)/own, own, float64(segs-ms[0].NumSegments)/own/rate*100, rate,
			most, ms[len(ms)-1].ReceivedAt.Sub(accepted[0].ReceivedAt).Seconds())
		if most > int(rate) {
			errs = append(errs, fmt.Errorf("sender %s: %d segments in a sliding one-second window, over its rate of %g", from, most, rate))
		}
		real := float64(segs-ms[0].NumSegments) / own
		for _, s := range sim.Senders {
			if s.Lane.Name == fmt.Sprintf("bench-%d", i+1) {
				fmt.Printf("  simulated: %d households, %.2f segments/s; throughput difference %+.2f %%\n", s.Messages, s.Throughput(), (s.Throughput()-real)/real*100)
				if s.Messages != int64(len(ms)) {
					fmt.Printf("  NOTE: the simulation assigned %d households to it, the real send %d\n", s.Messages, len(ms))
				}
			}
		}
	}
	dup := 0
	for _, k := range perTo {
		if k > 1 {
			dup++
		}
	}
	fmt.Printf("exactly once: %d numbers received one message, %d more than one, %d none\n", len(perTo)-dup, dup, n-len(perTo))
	if dup > 0 || len(perTo) != n || counts["delivered"] != int64(n) {
		errs = append(errs, errors.New("pool: not every message delivered exactly once"))
	}
	if utilisation < 0.98 {
		fmt.Printf("NOTE: utilisation %.2f %% is under 98 %% of the summed capacity\n", utilisation*100)
	}
	return utilisation, errors.Join(errs...)
}

func accountOf(i int) string {
	if i%2 == 1 {
		return poolAccount
	}
	return sid
}

// mostInOneSecond is the most segments of ms (in time order) in any sliding one-second window.
func mostInOneSecond(ms []sbMessage) int {
	most, j, in := 0, 0, 0
	for _, m := range ms {
		in += m.NumSegments
		for ms[j].ReceivedAt.Add(time.Second).Compare(m.ReceivedAt) <= 0 {
			in -= ms[j].NumSegments
			j++
		}
		most = max(most, in)
	}
	return most
}

type sbMessage struct {
	To          string    `json:"to"`
	From        string    `json:"from"`
	Sid         string    `json:"sid"`
	HTTPStatus  int       `json:"http_status"`
	NumSegments int       `json:"num_segments"`
	ReceivedAt  time.Time `json:"received_at"`
}

func report(name string, n int, rate float64, elapsed time.Duration, counts map[relais.DeliveryStatus]int64, msgs []sbMessage, faults bool) error {
	var accepted []sbMessage
	perTo := map[string]int{}
	refused := 0
	for _, m := range msgs {
		if m.Sid == "" {
			refused++
			continue
		}
		accepted = append(accepted, m)
		perTo[m.To]++
	}
	sort.Slice(accepted, func(i, j int) bool { return accepted[i].ReceivedAt.Before(accepted[j].ReceivedAt) })
	segments := 0
	for _, m := range accepted {
		segments += m.NumSegments
	}
	fmt.Printf("relais deliveries: %v\n", counts)
	fmt.Printf("sandbox: %d requests, %d accepted, %d answered 429/500, %d distinct numbers\n", len(msgs), len(accepted), refused, len(perTo))
	if len(accepted) < 2 {
		return errors.New("too few messages")
	}
	span := accepted[len(accepted)-1].ReceivedAt.Sub(accepted[0].ReceivedAt).Seconds()
	achieved := float64(segments-accepted[0].NumSegments) / span
	fmt.Printf("publish to last delivery: %s; first to last request: %.1f s\n", elapsed.Round(100*time.Millisecond), span)
	switch name {
	case "paced":
		// The most segments in any one-second window, sliding and aligned to whole seconds.
		maxSliding, j, inWindow := 0, 0, 0
		for i, m := range accepted {
			inWindow += m.NumSegments
			for accepted[j].ReceivedAt.Add(time.Second).Compare(m.ReceivedAt) <= 0 {
				inWindow -= accepted[j].NumSegments
				j++
			}
			_ = i
			maxSliding = max(maxSliding, inWindow)
		}
		aligned := map[int64]int{}
		maxAligned := 0
		for _, m := range accepted {
			k := m.ReceivedAt.Unix()
			aligned[k] += m.NumSegments
			maxAligned = max(maxAligned, aligned[k])
		}
		fmt.Printf("achieved %.2f segments/s against %g configured: %.2f %% of it\n", achieved, rate, achieved/rate*100)
		fmt.Printf("most segments in one second: %d in any sliding 1 s window, %d in any whole second\n", maxSliding, maxAligned)
		fmt.Printf("closest: the tightest span of %d+1 segments in a row is %s\n", int(rate), tightest(accepted, int(rate)))
		if maxSliding > int(rate) {
			return fmt.Errorf("paced: %d segments in a sliding one-second window, over the rate of %g", maxSliding, rate)
		}
		if achieved < 0.98*rate {
			return fmt.Errorf("paced: %.2f segments/s, under 98 %% of the rate of %g", achieved, rate)
		}
	default:
		fmt.Printf("throughput: %.0f messages/s (%.0f segments/s) from Relais to the sandbox\n", float64(len(accepted)-1)/span, achieved)
	}
	dup := 0
	for _, k := range perTo {
		if k > 1 {
			dup++
		}
	}
	fmt.Printf("exactly once: %d numbers received one message, %d more than one, %d none\n", len(perTo)-dup, dup, n-len(perTo))
	if dup > 0 || len(perTo) != n || counts["delivered"] != int64(n) {
		return fmt.Errorf("%s: not every message delivered exactly once", name)
	}
	_ = faults
	return nil
}

// tightest returns the shortest time between a message and the first one that would make more than
// limit segments together with it and those in between (over one second: no window exceeded limit).
func tightest(ms []sbMessage, limit int) time.Duration {
	best := time.Duration(math.MaxInt64)
	for i := range ms {
		in := 0
		for j := i; j < len(ms); j++ {
			in += ms[j].NumSegments
			if in > limit {
				best = min(best, ms[j].ReceivedAt.Sub(ms[i].ReceivedAt))
				break
			}
		}
	}
	return best
}

// uploadLesson makes a 3 s test video and creates a lesson from it.
func uploadLesson(ctx context.Context, c *client.Client, dir string) (int64, error) {
	video := filepath.Join(dir, "lesson.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-shortest", video).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	// A one-segment GSM-7 digest, so that messages and segments count alike.
	l, err := c.CreateLesson(ctx, map[string]string{"title": "Fractions", "subject": "maths", "grade": "5", "language": "en",
		"segment_budget": "1", "text": "# Fractions\n\n- A quarter is one part of four.\n"}, client.FilePart("media", video))
	return l.ID, err
}

// waitReady waits until the lesson is ready to publish.
func waitReady(ctx context.Context, c *client.Client, id int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l, err := c.WaitLesson(ctx, id, 500*time.Millisecond, nil)
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("lesson still %s", l.Status)
	case err != nil:
		return err
	case l.Status != relais.LessonReady:
		return fmt.Errorf("lesson %s: %s", l.Status, l.StatusReason)
	}
	return nil
}

// waitSettled waits until every SMS delivery is final.
func waitSettled(ctx context.Context, c *client.Client, id int64, n int, timeout time.Duration) (map[relais.DeliveryStatus]int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := c.Lesson(ctx, id)
		if err != nil {
			return nil, err
		}
		s := l.Deliveries[relais.ChannelSMS]
		var final int64
		for st, k := range s {
			if st.Final() {
				final += k
			}
		}
		if final >= int64(n) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("deliveries not settled: %v", s)
		}
		time.Sleep(time.Second)
	}
}

func sandboxMessages(base string) ([]sbMessage, error) {
	var out []sbMessage
	for page := 0; ; page++ {
		resp, err := http.Get(fmt.Sprintf("%s/sandbox/messages?page=%d&page_size=1000", base, page))
		if err != nil {
			return nil, err
		}
		var body struct {
			Messages    []sbMessage `json:"messages"`
			NextPageURI *string     `json:"next_page_uri"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, body.Messages...)
		if body.NextPageURI == nil {
			return out, nil
		}
	}
}

func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
