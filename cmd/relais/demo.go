package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/client"
	"github.com/relais-edu/relais/internal/mailpit"
	"github.com/relais-edu/relais/internal/redisurl"
	"github.com/relais-edu/relais/worksheet"
)

const demoSummary = `Runs one lesson through the whole chain on local services and prints a summary:
  1. generates a one-minute lesson video with speech (espeak-ng over an FFmpeg test pattern), a French
     Markdown lesson and a worksheet PDF, and 1,000 households across the five connectivity profiles and
     the four languages (fr, kk, ru, en), with a few bad rows to show the import's row errors;
  2. starts a private Redis, a mailpit SMTP server and the Twilio sandbox on 127.0.0.1, and Relais itself
     (API + workers) on SQLite under the data directory;
  3. uploads the lesson as a teacher through the API, waits for the probe, the renditions, the digests and
     the worksheet, publishes it as the media unit, and waits for every delivery;
  4. checks what the SMTP server and the sandbox actually received, and prints renditions with measured
     loudness, the digest with its segment count and encoding, and deliveries per channel and status.
Exits non-zero if any stage failed.

With --serve, everything keeps running after the summary (Relais with its workers, the Twilio sandbox,
mailpit) on the demo's data, so the web UI can be explored: the demo prints the UI's address, a token
for each role (teacher, media unit, admin), the mailpit inbox and the sandbox's list of SMS, and runs
until interrupted (Ctrl-C or SIGTERM). --http-addr (RELAIS_HTTP_ADDR) sets where Relais listens;
unset, the demo picks a free port on 127.0.0.1.`

func cmdDemo(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "demo", "demo [flags]", demoSummary)
	households := fs.Int("households", 1000, "households in the synthetic population")
	seconds := fs.Int("seconds", 60, "length of the generated lesson video")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up the demo after this long (--serve then keeps running)")
	serve := fs.Bool("serve", false, "after the demo, keep everything running on its data until interrupted, and print where to look")
	cfg, err := loadConfig(fs, args, io)
	if err != nil {
		return err
	}
	if *households < 10 || *seconds < 5 {
		return errors.New("--households must be at least 10 and --seconds at least 5")
	}
	httpAddrSet := io.getenv("RELAIS_HTTP_ADDR") != ""
	fs.Visit(func(f *flag.Flag) { httpAddrSet = httpAddrSet || f.Name == "http-addr" })
	d := &demo{io: io, cfg: cfg, households: *households, seconds: *seconds, start: time.Now(),
		timeout: *timeout, serve: *serve, httpAddrSet: httpAddrSet}
	err = d.run(ctx)
	if err != nil && !errors.As(err, new(exitError)) {
		fmt.Fprintf(io.out, "\nDEMO FAILED after %s: %v\n", time.Since(d.start).Round(time.Second), err)
		return exitError(1)
	}
	return err
}

type demo struct {
	io         *stdio
	cfg        Config
	households int
	seconds    int
	start      time.Time
	timeout    time.Duration // of the demo itself, not of --serve's exploring
	serve      bool          // keep running after the demo until interrupted
	// httpAddrSet: --http-addr or RELAIS_HTTP_ADDR was given, and is where Relais listens.
	httpAddrSet bool
	teacher     *client.Client // the API as the teacher who uploads
	media       *client.Client // the API as the media unit that imports and publishes
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.io.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context) error {
	cfg := d.cfg
	if cfg.DataDir == "data" { // the default: a fresh directory for each run
		cfg.DataDir = filepath.Join("data", "demo-"+time.Now().Format("20060102-150405"))
		cfg.DatabaseURL, cfg.MediaDir = "", ""
	}
	if !d.httpAddrSet {
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.PublicURL = ""
	}
	_, hoursSet := d.io.lookupEnv("RELAIS_SMS_QUIET_HOURS")
	if _, daysSet := d.io.lookupEnv("RELAIS_SMS_QUIET_DAYS"); !hoursSet && !daysSet {
		// A demo at 23:00 or on a Sunday would otherwise wait for 08:00 on Monday.
		cfg.QuietHours, cfg.QuietDays = "off", ""
		d.step("SMS quiet hours are off for the demo (set RELAIS_SMS_QUIET_HOURS to keep them)")
	}
	if d.io.getenv("RELAIS_SMS_RATE") == "" {
		cfg.SMSRate = 100 // a short code's pace; an alphanumeric sender's 10 segments/s makes the demo wait minutes
		d.step("SMS paced at %g segments/s (set RELAIS_SMS_RATE to change it)", cfg.SMSRate)
	}
	cfg.resolve()
	d.step("data directory %s", cfg.DataDir)

	work := filepath.Join(cfg.DataDir, "demo-input")
	if err := os.MkdirAll(work, 0o750); err != nil {
		return err
	}
	// The demo's own steps have --timeout; the services run until ctx ends (with --serve, until interrupted).
	wctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	video, err := d.makeVideo(wctx, work)
	if err != nil {
		return fmt.Errorf("generate the lesson video: %w", err)
	}

	// Services: SMTP, the Twilio sandbox, then Relais with both.
	mp := (*mailpit.Server)(nil)
	if cfg.SMTPHost == "" {
		mp, err = mailpit.Start(ctx, filepath.Join(cfg.DataDir, "mailpit"))
		if err != nil {
			return err
		}
		defer mp.Stop(context.Background())
		host, port, _ := strings.Cut(mp.SMTPAddr, ":")
		cfg.SMTPHost, cfg.SMTPTLS, cfg.EmailFrom, cfg.EmailReplyTo = host, "none", "Relais <lecons@relais.example>", "ecole@relais.example"
		fmt.Sscan(port, &cfg.SMTPPort)
		d.step("mailpit SMTP on %s, its inbox at %s", mp.SMTPAddr, mp.APIURL)
	}
	const sid, token = "AC00000000000000000000000000000001", "demoauthtoken0000000000000000001"
	sb := sandbox.New(sandbox.Config{AccountSID: sid, AuthToken: token})
	sbURL, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sb.Shutdown(context.Background())
	cfg.TwilioAccountSID, cfg.TwilioAuthToken, cfg.TwilioAPIURL, cfg.SMSFrom = sid, token, sbURL, "Relais"
	d.step("Twilio sandbox on %s", sbURL)
	if err := cfg.Validate(); err != nil {
		return err
	}

	log := newLogger(&stdio{err: io.Discard}, cfg)
	if cfg.LogLevel == "debug" {
		log = newLogger(d.io, cfg)
	}
	a, err := start(ctx, cfg, parts{api: true, worker: true}, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.stop(sctx)
	}()
	d.step("relais serving on %s (SQLite %s, Redis %s)", a.URL(), cfg.DatabaseURL, redisDesc(a))

	teacher, err := newToken(ctx, a.store, relais.User{ID: "mme.durand", Name: "Mme Durand", Role: relais.RoleTeacher})
	if err != nil {
		return err
	}
	media, err := newToken(ctx, a.store, relais.User{ID: "unite-media", Name: "Unité média", Role: relais.RoleMedia})
	if err != nil {
		return err
	}
	d.teacher, d.media = client.New(a.URL(), teacher), client.New(a.URL(), media)

	err = d.walk(wctx, work, video, mp, sb)
	if !d.serve {
		return err
	}
	if err != nil {
		fmt.Fprintf(d.io.out, "\nDEMO FAILED after %s: %v\n", time.Since(d.start).Round(time.Second), err)
	}
	admin, aerr := newToken(ctx, a.store, relais.User{ID: "admin", Name: "Administrateur", Role: relais.RoleAdmin})
	if aerr != nil {
		return aerr
	}
	d.explore(ctx, a.URL(), []roleToken{{relais.RoleTeacher, "mme.durand", teacher}, {relais.RoleMedia, "unite-media", media},
		{relais.RoleAdmin, "admin", admin}}, mp, sbURL)
	if err != nil {
		return exitError(1)
	}
	return nil
}

// walk is the demo itself: households, the lesson's upload and processing, publishing, deliveries,
// and the summary of what crossed the wire.
func (d *demo) walk(ctx context.Context, work, video string, mp *mailpit.Server, sb *sandbox.Server) error {
	if err := d.importHouseholds(ctx, work); err != nil {
		return err
	}
	lessonID, err := d.upload(ctx, work, video)
	if err != nil {
		return err
	}
	l, err := d.waitLesson(ctx, lessonID)
	if err != nil {
		return err
	}
	if err := d.media.Publish(ctx, lessonID); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	d.step("published lesson %d: fan-out started", lessonID)
	l, err = d.waitDeliveries(ctx, lessonID)
	if err != nil {
		return err
	}
	return d.summary(ctx, l, mp, sb)
}

// roleToken is an API token the demo made for one role.
type roleToken struct {
	role  relais.Role
	user  string
	token string
}

// explore prints where to look at the demo's data, then waits until ctx ends (Ctrl-C or SIGTERM); the
// caller's deferred stops then take everything down in reverse order.
func (d *demo) explore(ctx context.Context, base string, tokens []roleToken, mp *mailpit.Server, sandboxURL string) {
	out := d.io.out
	fmt.Fprintf(out, "\nEverything keeps running on the demo's data until you press Ctrl-C.\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "web UI\t%s/ui/\n", base)
	fmt.Fprintf(tw, "API\t%s/api/v1/\n", base)
	for _, t := range tokens {
		fmt.Fprintf(tw, "token %s\t%s\t(user %s)\n", t.role, t.token, t.user)
	}
	if mp != nil {
		fmt.Fprintf(tw, "mailpit inbox\t%s/\n", mp.APIURL)
	} else {
		fmt.Fprintf(tw, "email\tsent to the SMTP server at %s:%d\n", d.cfg.SMTPHost, d.cfg.SMTPPort)
	}
	fmt.Fprintf(tw, "SMS sandbox\t%s/sandbox/messages\n", sandboxURL)
	tw.Flush()
	fmt.Fprintf(out, "\nSign in to the web UI with one of the tokens.\n")
	<-ctx.Done()
	fmt.Fprintf(out, "\nStopping.\n")
}

func redisDesc(a *app) string {
	if a.redis != nil {
		return "private " + a.redis.Addr
	}
	return redisurl.Describe(a.redisOpt)
}

// makeVideo renders the test lesson: espeak-ng speaks a French text over an FFmpeg test pattern.
func (d *demo) makeVideo(ctx context.Context, dir string) (string, error) {
	for _, bin := range []string{"ffmpeg", "espeak-ng"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("%s is not installed (scripts/setup.sh installs it)", bin)
		}
	}
	speech := filepath.Join(dir, "speech.wav")
	text := "Bonjour à tous. Aujourd'hui, nous apprenons les fractions. Une fraction représente une partie d'un tout. " +
		"Le nombre du haut est le numérateur, le nombre du bas est le dénominateur. Prenez une feuille et un crayon. " +
		"Dessinez une pizza coupée en quatre parts égales. Coloriez une part : vous avez colorié un quart de la pizza. " +
		"Faites les exercices de la fiche, et à demain !"
	if out, err := exec.CommandContext(ctx, "espeak-ng", "-v", "fr", "-s", "140", "-w", speech, text).CombinedOutput(); err != nil {
		return "", fmt.Errorf("espeak-ng: %v: %s", err, out)
	}
	video := filepath.Join(dir, "lecon-fractions.mp4")
	n := fmt.Sprint(d.seconds)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration="+n,
		"-stream_loop", "-1", "-i", speech,
		"-filter_complex", "[1:a]aresample=48000,apad[a]", "-map", "0:v", "-map", "[a]", "-t", n,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
		"-movflags", "+faststart", video)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	st, _ := os.Stat(video)
	d.step("generated a %d s lesson video with speech (%s)", d.seconds, relais.HumanBytes(st.Size()))
	return video, nil
}

const demoMarkdown = `# Les fractions

Une fraction représente une partie d'un tout : le numérateur (en haut) compte les parts prises,
le dénominateur (en bas) compte les parts égales du tout.

## À retenir

- 1/4 se lit « un quart » : une part sur quatre.
- Plus le dénominateur est grand, plus chaque part est petite.
- Deux fractions égales peuvent s'écrire différemment : 1/2 = 2/4.

## Exercices

1. Dessinez une pizza coupée en 4 parts égales et coloriez-en 1. Quelle fraction avez-vous coloriée ?
2. Rangez du plus petit au plus grand : 1/2, 1/4, 3/4.
3. Écrivez deux fractions égales à 1/3.
`

// importHouseholds writes the synthetic population as CSV and imports it through the API.
func (d *demo) importHouseholds(ctx context.Context, dir string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"external_ref", "region", "language", "grades", "pupils", "profile", "phone", "email", "postal_address", "consent"})
	langs := relais.Languages
	regions := map[string]string{"fr": "Île-de-France", "en": "Île-de-France", "kk": "Almaty", "ru": "Almaty"}
	for i := 0; i < d.households; i++ {
		lang := langs[i%len(langs)]
		profile := relais.Profiles[(i/len(langs))%len(relais.Profiles)]
		phone := fmt.Sprintf("+3361%07d", i)
		if lang == "kk" || lang == "ru" {
			phone = fmt.Sprintf("+7701%07d", i)
		}
		if i%97 == 1 { // siblings in two households on one phone: one SMS, not two
			phone = fmt.Sprintf("+3361%07d", i-1)
			if lang == "kk" || lang == "ru" {
				phone = fmt.Sprintf("+7701%07d", i-1)
			}
		}
		email, address := "", ""
		switch profile {
		case relais.ProfileBroadband, relais.ProfileMobileData:
			email = fmt.Sprintf("famille%04d@example.org", i)
		case relais.ProfileOffline:
			address = fmt.Sprintf("Famille %04d\\n%d rue des Écoles\\n75005 Paris", i, i%200+1)
			if lang == "kk" || lang == "ru" {
				address = fmt.Sprintf("Семья %04d\\nул. Абая, %d\\n050000 Алматы", i, i%200+1)
			}
		}
		consent := "yes"
		if i%250 == 7 {
			consent = "no"
		}
		// Every family has a pupil in grade 5 taught in French, the demo lesson's language, whatever the
		// language spoken at home (the messages' frame), and another pupil taught in the family's language.
		pupils := fmt.Sprintf("5:fr:ECOLE-%d:ECOLE-%d-5A;%d:%s", i%3, i%3, 1+i%9, lang)
		w.Write([]string{fmt.Sprintf("HH-%05d", i), regions[lang], lang, "", pupils, string(profile), phone, email, address, consent})
	}
	// Two rows with mistakes a clerk makes: the import keeps the rest and says what to fix.
	w.Write([]string{"HH-BAD-1", "Almaty", "kk", "5", "", "sms_only", "8 701", "", "", "yes"})
	w.Write([]string{"HH-BAD-2", "Île-de-France", "fr", "cinquième", "", "broadband", "", "x@example.org", "", "yes"})
	w.Flush()
	path := filepath.Join(dir, "households.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o640); err != nil {
		return err
	}
	res, err := d.media.ImportHouseholds(ctx, &buf)
	if err != nil {
		return fmt.Errorf("import households: %w", err)
	}
	d.step("imported %d households from %s; %d rows refused:", res.Imported, path, res.Rejected)
	for _, e := range res.Errors {
		fmt.Fprintf(d.io.out, "          row %d: %s\n", e.Row, e.Message)
	}
	if res.Imported != d.households || res.Rejected != 2 {
		return fmt.Errorf("import: %d imported and %d refused, want %d and 2", res.Imported, res.Rejected, d.households)
	}
	return nil
}

// upload sends the lesson as the teacher would.
func (d *demo) upload(ctx context.Context, dir, video string) (int64, error) {
	sheet, err := worksheet.Render(worksheet.Input{Title: "Les fractions", Subject: "Mathématiques", Grade: 5, Language: "fr", Markdown: demoMarkdown})
	if err != nil {
		return 0, fmt.Errorf("worksheet: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fiche.pdf"), sheet, 0o640); err != nil {
		return 0, err
	}
	l, err := d.teacher.CreateLesson(ctx, map[string]string{"title": "Les fractions", "subject": "Mathématiques", "grade": "5",
		"language": "fr", "text": demoMarkdown, "segment_budget": "3"},
		client.BytesPart("worksheet", "fiche.pdf", sheet), client.FilePart("media", video))
	if err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	d.step("uploaded lesson %d %q as teacher %s: %s", l.ID, l.Title, l.TeacherID, l.Status)
	return l.ID, nil
}

// waitLesson polls the lesson until it is ready, printing each step's progress.
func (d *demo) waitLesson(ctx context.Context, id int64) (api.Lesson, error) {
	last := ""
	l, err := d.teacher.WaitLesson(ctx, id, 500*time.Millisecond, func(l api.Lesson) {
		now := fmt.Sprintf("%s %s %d%%", l.Status, l.Progress.Step, l.Progress.Percent/10*10)
		if now != last {
			d.step("lesson %d: %s, step %q, %d %%", id, l.Status, l.Progress.Step, l.Progress.Percent)
			last = now
		}
	})
	switch {
	case ctx.Err() != nil:
		return l, fmt.Errorf("lesson %d still %s (%s %d%%): %w", id, l.Status, l.Progress.Step, l.Progress.Percent, ctx.Err())
	case err != nil:
		return l, err
	case l.Status != relais.LessonReady:
		return l, fmt.Errorf("lesson %d %s: %s", id, l.Status, l.StatusReason)
	}
	return l, nil
}

// waitDeliveries polls until no delivery is still on its way.
func (d *demo) waitDeliveries(ctx context.Context, id int64) (api.Lesson, error) {
	lastLine := ""
	for {
		l, err := d.media.Lesson(ctx, id)
		if err != nil {
			return l, err
		}
		var total, moving int64
		var parts []string
		for ch, byStatus := range l.Deliveries {
			for st, n := range byStatus {
				total += n
				if inFlight(ch, st) {
					moving += n
				}
			}
		}
		for _, ch := range sortedChannels(l.Deliveries) {
			parts = append(parts, fmt.Sprintf("%s %v", ch, l.Deliveries[ch]))
		}
		line := strings.Join(parts, "; ")
		if line != lastLine {
			d.step("deliveries: %s", line)
			lastLine = line
		}
		if total > 0 && moving == 0 {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return l, fmt.Errorf("%d of %d deliveries still in flight: %w", moving, total, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// inFlight reports whether a delivery in that status will still move. A postal packet waits in its
// regional batch (queued) until the office prints it: that is where the demo's part ends.
func inFlight(ch relais.ChannelName, st relais.DeliveryStatus) bool {
	if ch == relais.ChannelPostal && st == relais.DeliveryQueued {
		return false
	}
	if ch == relais.ChannelEmail && st == relais.DeliverySent {
		return false // the relay took it; only a bounce would change that
	}
	return !st.Final()
}

func sortedChannels(m map[relais.ChannelName]map[relais.DeliveryStatus]int64) []relais.ChannelName {
	var out []relais.ChannelName
	for ch := range m {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// summary checks what crossed the wire and prints the result.
func (d *demo) summary(ctx context.Context, l api.Lesson, mp *mailpit.Server, sb *sandbox.Server) error {
	var problems []string
	out := d.io.out
	fmt.Fprintf(out, "\n=== Relais demo: lesson %d %q (%s, grade %d, %s) ===\n\n", l.ID, l.Title, l.Subject, l.Grade, l.Language)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RENDITION\tCODECS\tFORMAT\tDURATION\tSIZE\tLOUDNESS\tTRUE PEAK\tLRA")
	for _, r := range l.Renditions {
		codecs := strings.Trim(r.VideoCodec+"+"+r.AudioCodec, "+")
		format := fmt.Sprintf("%s %d Hz %dch", r.Container, r.SampleRate, r.Channels)
		if r.Width > 0 {
			format = fmt.Sprintf("%s %dx%d %d Hz", r.Container, r.Width, r.Height, r.SampleRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f s\t%s\t%.1f LUFS\t%.1f dBTP\t%.1f LU\n", r.Kind, codecs, format,
			r.DurationSeconds, relais.HumanBytes(r.Bytes), r.Loudness.IntegratedLUFS, r.Loudness.TruePeakDBTP, r.Loudness.LRA)
		if r.Loudness.IntegratedLUFS < -23.5 || r.Loudness.IntegratedLUFS > -22.5 || r.Loudness.TruePeakDBTP > -1 {
			problems = append(problems, fmt.Sprintf("%s rendition loudness out of tolerance", r.Kind))
		}
	}
	tw.Flush()
	if len(l.Renditions) != 3 {
		problems = append(problems, fmt.Sprintf("%d renditions, want 3", len(l.Renditions)))
	}
	for _, dg := range l.Digests {
		if dg.Language != l.Language {
			continue
		}
		fmt.Fprintf(out, "\nSMS digest (%s): %d segment(s), %s, %d characters\n", dg.Language, dg.Segments, dg.Encoding, dg.Characters)
		for _, line := range strings.Split(dg.Body, "\n") {
			fmt.Fprintf(out, "  | %s\n", line)
		}
		if len(dg.Dropped) > 0 {
			fmt.Fprintf(out, "  left out to fit %d segments: %s\n", l.SegmentBudget, strings.Join(dg.Dropped, " / "))
		}
	}
	if l.Worksheet != nil {
		fmt.Fprintf(out, "\nWorksheet: %s PDF (teacher's upload: %v)\n", relais.HumanBytes(l.Worksheet.Bytes), !l.Worksheet.Generated)
	}

	fmt.Fprintln(out, "\nDeliveries per channel and status:")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	statuses := relais.DeliveryStatuses
	fmt.Fprint(tw, "CHANNEL")
	for _, s := range statuses {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(string(s)))
	}
	fmt.Fprintln(tw)
	for _, ch := range sortedChannels(l.Deliveries) {
		fmt.Fprint(tw, ch)
		for _, s := range statuses {
			fmt.Fprintf(tw, "\t%d", l.Deliveries[ch][s])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	skipped, err := d.media.Deliveries(ctx, url.Values{"lesson_id": {strconv.FormatInt(l.ID, 10)}, "status": {"skipped"}, "limit": {"5"}})
	if err == nil && len(skipped) > 0 {
		fmt.Fprintf(out, "  e.g. skipped: %q\n", skipped[0].Reason)
	}

	smsDelivered := l.Deliveries[relais.ChannelSMS][relais.DeliveryDelivered]
	emailSent := l.Deliveries[relais.ChannelEmail][relais.DeliverySent] + l.Deliveries[relais.ChannelEmail][relais.DeliveryDelivered]
	postalQueued := l.Deliveries[relais.ChannelPostal][relais.DeliveryQueued]
	for ch, byStatus := range l.Deliveries {
		if n := byStatus[relais.DeliveryFailed] + byStatus[relais.DeliveryUndelivered]; n > 0 {
			problems = append(problems, fmt.Sprintf("%d %s deliveries failed", n, ch))
		}
	}
	if smsDelivered == 0 || emailSent == 0 || postalQueued == 0 {
		problems = append(problems, "a channel delivered nothing")
	}
	// What really crossed the wire.
	accepted := 0
	for _, m := range sb.Messages() {
		if m.Sid != "" {
			accepted++
		}
	}
	fmt.Fprintf(out, "\nTwilio sandbox received %d messages; Relais recorded %d SMS delivered.\n", accepted, smsDelivered)
	if int64(accepted) != smsDelivered {
		problems = append(problems, "the sandbox and Relais disagree on SMS")
	}
	if mp != nil {
		n, err := mailpit.Total(ctx, mp.APIURL)
		if err != nil {
			problems = append(problems, "mailpit: "+err.Error())
		}
		fmt.Fprintf(out, "SMTP server (mailpit) received %d emails; Relais recorded %d sent.\n", n, emailSent)
		if int64(n) != emailSent {
			problems = append(problems, "the SMTP server and Relais disagree on email")
		}
	}
	fmt.Fprintf(out, "Postal packets waiting in regional batches: %d.\n", postalQueued)
	fmt.Fprintf(out, "\nElapsed: %s\n", time.Since(d.start).Round(100*time.Millisecond))
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "DEMO OK: every stage succeeded and every channel delivered.")
	return nil
}
