// Package chaos runs Relais as an operator would break it and counts, at the sinks, what families
// received. It starts a real cluster of processes on 127.0.0.1 (Redis with append-only persistence,
// mailpit behind an SMTP proxy that cuts connections mid-DATA, `relais twilio-sandbox` answering a
// share of 429s, 500s and dropped answers, one `relais api` and several `relais worker`), imports
// synthetic households that get both an SMS and an email, publishes a tiny lesson, and during the
// sends kills workers with SIGKILL, kills and restarts Redis on the same port and data, and optionally
// restarts PostgreSQL through a hook. It then compares every delivery Relais recorded with what the
// Twilio sandbox and mailpit received: duplicates, losses, disagreements, and how long sends stalled
// after each blow.
//
// The same harness runs the cluster shape (issue 15, TestCluster): several `relais api` processes
// behind a round-robin Front, each process with a data directory of its own, the caller's database,
// Redis (Sentinel) and bucket named in Options.Env, the lesson uploaded with tus across the API
// processes, and the caller's own blows (the Redis master's kill) beside API kills; and the
// one-machine baseline, one `relais serve` (Options.Serve).
//
// It builds nothing: Options.Relais is the path of a relais binary (scripts/chaos.sh builds one).
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/client"
	"github.com/relais-edu/relais/internal/localserver"
	"github.com/relais-edu/relais/internal/mailpit"
)

// Options sets a run up. Zero values take the defaults of DefaultOptions.
type Options struct {
	Relais     string // path of the relais binary (required)
	Households int    // each gets one SMS and one email
	Workers    int    // `relais worker` processes
	Kills      int    // SIGKILLs of a random worker during the sends
	Seed       uint64 // makes the choices of the run repeatable (not the timing)

	// RedisKill kills Redis once with SIGKILL during the sends and restarts it after RedisDown on
	// the same port and data directory.
	RedisKill bool
	RedisDown time.Duration

	// DatabaseURL is RELAIS_DATABASE_URL for every process; empty: SQLite in the run's directory.
	DatabaseURL string
	// RestartDatabase, when set, is called once during the sends (e.g. to restart PostgreSQL).
	RestartDatabase func(context.Context) error

	SMSRate   float64 // RELAIS_SMS_RATE, segments per second
	EmailRate float64 // RELAIS_EMAIL_RATE, emails per second
	// SMSRules are the sandbox's failure rules (nil: ~10 % 429 with Retry-After, ~10 % 500, ~2 %
	// answers dropped after the message was taken).
	SMSRules []sandbox.Rule
	// SMTPCutShare of the emails have their SMTP connection cut mid-DATA, at most SMTPMaxCuts (0: no
	// limit).
	SMTPCutShare float64
	SMTPMaxCuts  int

	// The worker kills come at random gaps in [KillGapMin, KillGapMax] from the publication; a killed
	// worker is started again after RestartPause.
	KillGapMin, KillGapMax time.Duration
	RestartPause           time.Duration

	ReadyTimeout  time.Duration // for the lesson's media work
	SettleTimeout time.Duration // from the publication, for every delivery to reach a final state
	IdleTimeout   time.Duration // stop waiting when no delivery moved for this long
	Quiet         time.Duration // kept after settling, to catch late copies at the sinks

	Log     io.Writer // progress lines; nil: none
	KeepDir bool      // keep the run's directory (logs, databases) instead of removing it

	// The cluster shape (issue 15); the zero values keep the chaos shape above.

	// APIs is the number of `relais api` processes (default 1). The harness reaches them through a
	// round-robin Front of its own, as a load balancer without sticky sessions would.
	APIs int
	// Env is added to the environment of every Relais process, after the harness's own settings:
	// RELAIS_DATABASE_URL, RELAIS_MEDIA_URL and the S3 settings, say. With RELAIS_REDIS_URL in it the
	// harness starts no Redis of its own (and RedisKill must be off).
	Env []string
	// OwnDataDirs gives every Relais process a data directory of its own, empty at the start, instead of
	// one they share: machines with no shared disk (it needs a database and media that are not files in
	// the data directory: RELAIS_DATABASE_URL and RELAIS_MEDIA_URL).
	OwnDataDirs bool
	// Serve runs one `relais serve` (API, workers and its private Redis in one process, on its data
	// directory) instead of the API and worker processes: the one-machine baseline of the cluster.
	Serve bool
	// TusChunks, when above 0, uploads the lesson with tus in that many PATCHes through the front, each
	// on another API process than the one before (checked), instead of one multipart request.
	TusChunks int
	// APIKills SIGKILLs that many API processes (never the last one) during the sends; they stay down
	// and the front sends their requests to the others.
	APIKills int
	// Blows are faults of the caller's, slotted among the kills: each Do is called once during the sends
	// and recorded as an event of its Kind (EventRedisMasterKill, say).
	Blows []Blow
}

// Blow is a fault the caller brings about during the sends.
type Blow struct {
	Kind   string
	Detail string
	Do     func(context.Context) error
}

// DefaultOptions returns the defaults of a full run (issue 13): 20,000 households, 2 workers, 10 kills,
// a Redis restart, 10 % 429 and 10 % 500 from the SMS provider, 1 % of SMTP connections cut.
func DefaultOptions() Options {
	return Options{Households: 20000, Workers: 2, Kills: 10, Seed: 1, RedisKill: true, RedisDown: 5 * time.Second,
		SMSRate: 200, EmailRate: 200, SMTPCutShare: 0.01,
		KillGapMin: 3 * time.Second, KillGapMax: 12 * time.Second, RestartPause: 2 * time.Second,
		ReadyTimeout: 5 * time.Minute, SettleTimeout: 20 * time.Minute, IdleTimeout: 3 * time.Minute, Quiet: 3 * time.Second}
}

// DefaultSMSRules are the sandbox's faults of a run: a tenth of requests throttled with Retry-After, a
// tenth answered 500, and a few taken but answered with a closed connection.
func DefaultSMSRules() []sandbox.Rule {
	return []sandbox.Rule{
		{Share: 0.10, HTTPStatus: 429, RetryAfter: time.Second},
		{Share: 0.111, HTTPStatus: 500}, // 10 % of all: the first rule took 10 % already
		{Share: 0.025, DropAnswer: true},
	}
}

func (o *Options) defaults() {
	d := DefaultOptions()
	if o.Households == 0 {
		o.Households = d.Households
	}
	if o.Workers == 0 {
		o.Workers = d.Workers
	}
	if o.APIs == 0 {
		o.APIs = 1
	}
	if o.RedisDown == 0 {
		o.RedisDown = d.RedisDown
	}
	if o.SMSRate == 0 {
		o.SMSRate = d.SMSRate
	}
	if o.EmailRate == 0 {
		o.EmailRate = d.EmailRate
	}
	if o.SMSRules == nil {
		o.SMSRules = DefaultSMSRules()
	}
	if o.KillGapMin == 0 {
		o.KillGapMin = d.KillGapMin
	}
	if o.KillGapMax < o.KillGapMin {
		o.KillGapMax = max(d.KillGapMax, o.KillGapMin)
	}
	if o.RestartPause == 0 {
		o.RestartPause = d.RestartPause
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = d.ReadyTimeout
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = d.SettleTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.Quiet == 0 {
		o.Quiet = d.Quiet
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

const (
	accountSID = "AC0000000000000000000000000000c4a0"
	authToken  = "chaostoken000000000000000000000000"
)

// run is one chaos run in progress.
type run struct {
	o     Options
	dir   string
	logs  string
	rng   *mathrand.Rand
	start time.Time

	redisPort int
	redis     *proc
	mailpit   *proc
	mailAPI   string
	proxy     *SMTPProxy
	sandbox   *proc
	sbURL     string
	apis      []*proc
	front     *Front
	apiURL    string // the front's
	workers   []*proc
	env       []string
	c         *client.Client

	pctx context.Context // the processes live as long as it does

	superMu sync.Mutex     // the supervisor's check and restart against the chaos's hold
	held    map[*proc]bool // processes the harness holds down on purpose

	mu     sync.Mutex
	events []Event
	notes  []string
}

// Run starts the cluster, runs the chaos and returns the report. Every process it started is stopped
// and its directory removed before it returns, whatever happened.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	if o.Relais == "" {
		return nil, errors.New("chaos: Options.Relais (the relais binary) is required")
	}
	if o.RedisKill && !o.ownRedis() {
		return nil, errors.New("chaos: RedisKill kills the harness's Redis, and there is none with Serve or RELAIS_REDIS_URL in Env (kill the caller's Redis with a Blow)")
	}
	if o.APIKills >= o.APIs {
		return nil, fmt.Errorf("chaos: %d API kills leave none of the %d API processes to serve", o.APIKills, o.APIs)
	}
	bin, err := filepath.Abs(o.Relais)
	if err != nil {
		return nil, err
	}
	o.Relais = bin
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("chaos: relais binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "relais-chaos-")
	if err != nil {
		return nil, err
	}
	r := &run{o: o, dir: dir, logs: filepath.Join(dir, "logs"), rng: mathrand.New(mathrand.NewPCG(o.Seed, 0xc4a05)),
		start: time.Now(), held: map[*proc]bool{}}
	if o.KeepDir {
		r.logf("run directory %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := os.MkdirAll(r.logs, 0o750); err != nil {
		return nil, err
	}
	// The processes live until Run returns, even when ctx ends first: an interrupted run still reads
	// the sinks and reports. Ending pctx kills every process group left.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	r.pctx = pctx
	defer r.stopAll()
	rep, err := r.run(ctx)
	if err != nil {
		return rep, fmt.Errorf("chaos: %w%s", err, r.tails())
	}
	return rep, nil
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (r *run) event(kind, detail string) Event {
	e := Event{Kind: kind, At: time.Now(), Detail: detail}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.logf("%s %s", kind, detail)
	return e
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	r.logf("note: "+format, args...)
}

// ownRedis reports whether the harness runs Redis itself (not `relais serve`'s private one nor the
// caller's).
func (o *Options) ownRedis() bool {
	return !o.Serve && envValue(o.Env, "RELAIS_REDIS_URL") == ""
}

// envValue returns the value of key in env (the last one set), or "".
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// relaisProcs lists the Relais processes: the API processes (or the one `relais serve`) and the workers.
func (r *run) relaisProcs() []*proc {
	return append(append([]*proc{}, r.apis...), r.workers...)
}

// procs lists every process started, Relais last so that it stops first.
func (r *run) procs() []*proc {
	var ps []*proc
	for _, p := range []*proc{r.redis, r.mailpit, r.sandbox} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return append(ps, r.relaisProcs()...)
}

// stopAll stops every process: Relais first, with a short grace, then the services; all in parallel
// within a tier.
func (r *run) stopAll() {
	var services []*proc
	for _, p := range []*proc{r.redis, r.mailpit, r.sandbox} {
		if p != nil {
			services = append(services, p)
		}
	}
	for _, tier := range [][]*proc{r.relaisProcs(), services} {
		var wg sync.WaitGroup
		for _, p := range tier {
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(3 * time.Second) }()
		}
		wg.Wait()
	}
	if r.proxy != nil {
		r.proxy.Close()
	}
	if r.front != nil {
		r.front.Close()
	}
}

// tails returns the ends of the Relais processes' logs, for an error.
func (r *run) tails() string {
	var b strings.Builder
	for _, p := range r.procs() {
		if t := p.tail(8); t != "" {
			fmt.Fprintf(&b, "\n--- %s (%s):\n%s", p.name, p.log, t)
		}
	}
	return b.String()
}

func (r *run) run(ctx context.Context) (*Report, error) {
	if err := r.startServices(ctx); err != nil {
		return nil, err
	}
	if err := r.startRelais(ctx); err != nil {
		return nil, err
	}
	lessonID, err := r.prepare(ctx)
	if err != nil {
		return nil, err
	}

	superCtx, stopSuper := context.WithCancel(ctx)
	var superDone sync.WaitGroup
	superDone.Add(1)
	go func() { defer superDone.Done(); r.supervise(superCtx) }()
	defer func() { stopSuper(); superDone.Wait() }()

	if err := r.c.Publish(ctx, lessonID); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	rep := &Report{Households: r.o.Households, Workers: len(r.workers), Seed: r.o.Seed, Published: time.Now()}
	r.logf("published lesson %d", lessonID)

	chaosCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); r.chaos(chaosCtx, rep.Published) }()

	rep.Settled = r.waitSettled(ctx, lessonID, rep.Published.Add(r.o.SettleTimeout))
	stopChaos()
	<-chaosDone
	if rep.Settled {
		r.logf("every delivery settled; %s quiet for late copies", r.o.Quiet)
		sleep(ctx, r.o.Quiet)
	}
	rep.End = time.Now()
	interrupted := ctx.Err()
	if interrupted != nil {
		r.note("interrupted %s after the publication: %v", rep.End.Sub(rep.Published).Round(time.Second), interrupted)
	}
	// Read the sinks even when interrupted, within a bound of its own.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer ccancel()
	if err := r.collect(cctx, lessonID, rep); err != nil {
		return nil, err
	}
	return rep, interrupted
}

// startServices starts Redis (unless the caller brings one or `relais serve` starts its own),
// mailpit behind the SMTP proxy, and the Twilio sandbox.
func (r *run) startServices(ctx context.Context) error {
	if r.o.ownRedis() {
		port, err := localserver.FreePort()
		if err != nil {
			return err
		}
		r.redisPort = port
		redisBin, err := exec.LookPath("redis-server")
		if err != nil {
			return errors.New("redis-server is not installed (apt-get install redis-server)")
		}
		rdir := filepath.Join(r.dir, "redis")
		if err := os.MkdirAll(rdir, 0o750); err != nil {
			return err
		}
		r.redis = newProc("redis", r.logs, redisBin, nil, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", rdir,
			"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes", "--daemonize", "no")
		if err := r.startRedis(ctx); err != nil {
			return err
		}
	}

	mpBin, err := mailpit.Binary()
	if err != nil {
		return err
	}
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	smtpAddr, webAddr := addrs[0], addrs[1]
	r.mailAPI = "http://" + webAddr
	r.mailpit = newProc("mailpit", r.logs, mpBin, nil, "--smtp", smtpAddr, "--listen", webAddr, "--disable-version-check",
		"--smtp-disable-rdns", "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--max", "500000", "--quiet",
		"--database", filepath.Join(r.dir, "mailpit.db"))
	if err := r.mailpit.start(r.pctx); err != nil {
		return err
	}
	if err := waitHTTP(ctx, r.mailAPI+"/api/v1/messages?limit=1", r.mailpit, 30*time.Second); err != nil {
		return err
	}
	if err := waitTCP(ctx, smtpAddr, r.mailpit, 10*time.Second); err != nil {
		return err
	}
	if r.proxy, err = StartSMTPProxy(smtpAddr, r.o.SMTPCutShare, r.o.SMTPMaxCuts, r.o.Seed); err != nil {
		return err
	}

	rules, err := json.Marshal(r.o.SMSRules)
	if err != nil {
		return err
	}
	rulesFile := filepath.Join(r.dir, "sms-rules.json")
	if err := os.WriteFile(rulesFile, rules, 0o640); err != nil {
		return err
	}
	sbAddr, err := localserver.FreeAddr()
	if err != nil {
		return err
	}
	r.sbURL = "http://" + sbAddr
	r.sandbox = newProc("twilio-sandbox", r.logs, r.o.Relais, cleanEnv(), "twilio-sandbox", "--listen", sbAddr,
		"--account-sid", accountSID, "--auth-token", authToken, "--rules", rulesFile, "--step-delay", "20ms",
		"--inbound-url", "http://127.0.0.1:9/unused")
	if err := r.sandbox.start(r.pctx); err != nil {
		return err
	}
	if err := waitHTTP(ctx, r.sbURL+"/sandbox/messages?page_size=1", r.sandbox, 30*time.Second); err != nil {
		return err
	}
	r.logf("redis on 127.0.0.1:%d (0: not the harness's), mailpit SMTP %s behind the proxy %s, twilio sandbox %s", r.redisPort, smtpAddr, r.proxy.Addr(), sbAddr)
	return nil
}

// startRedis starts redis-server on its port and data directory and waits until it answers (after
// replaying its append-only file).
func (r *run) startRedis(ctx context.Context) error {
	if err := r.redis.start(r.pctx); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.redisPort), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis-server did not answer: %w", err)
		}
		select {
		case <-r.redis.exited():
			return fmt.Errorf("redis-server exited: %s", r.redis.tail(5))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cleanEnv is this process's environment without RELAIS_* settings, so that the caller's own
// configuration does not leak into the cluster.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RELAIS_") {
			env = append(env, kv)
		}
	}
	return env
}

// SMTPConnsPerWorker is each relais process's SMTP connections (RELAIS_SMTP_MAX_CONNS): a killed worker
// may leave one email of unknown fate on each (Report.UnknownProblems).
const SMTPConnsPerWorker = 4

// relaisEnv is the configuration every Relais process of a run gets, as RELAIS_* variables: the
// secret, the public URL, the Twilio sandbox, the SMTP relay at smtpPort on loopback, the rates, the
// harness's Redis (redisAddr, unless empty), then the caller's Env.
func (o *Options) relaisEnv(publicURL, sandboxURL, smtpPort, redisAddr string) []string {
	env := []string{"RELAIS_SECRET=chaos-secret-0123456789abcdef", "RELAIS_PUBLIC_URL=" + publicURL,
		"RELAIS_LOG_LEVEL=warn",
		"RELAIS_TWILIO_ACCOUNT_SID=" + accountSID, "RELAIS_TWILIO_AUTH_TOKEN=" + authToken, "RELAIS_TWILIO_API_URL=" + sandboxURL,
		"RELAIS_SMS_FROM=Relais", fmt.Sprintf("RELAIS_SMS_RATE=%g", o.SMSRate),
		"RELAIS_SMS_QUIET_HOURS=off", "RELAIS_SMS_QUIET_DAYS=", "RELAIS_SMS_REMINDER_LEAD=0",
		// A status batch held by a killed worker comes back only when asynq's lease expires; the
		// periodic status check (minutes in production) brings it in the run's time scale.
		"RELAIS_SMS_RECONCILE_AFTER=20s",
		"RELAIS_SMTP_HOST=127.0.0.1", "RELAIS_SMTP_PORT=" + smtpPort, "RELAIS_SMTP_TLS=none",
		fmt.Sprintf("RELAIS_SMTP_MAX_CONNS=%d", SMTPConnsPerWorker),
		"RELAIS_EMAIL_FROM=Relais <lecons@relais.example>", "RELAIS_EMAIL_REPLY_TO=ecole@relais.example",
		fmt.Sprintf("RELAIS_EMAIL_RATE=%g", o.EmailRate), "RELAIS_TV_FORMAT=720p50"}
	if redisAddr != "" {
		env = append(env, "RELAIS_REDIS_ADDR="+redisAddr)
	}
	if o.DatabaseURL != "" {
		env = append(env, "RELAIS_DATABASE_URL="+o.DatabaseURL)
	}
	env = append(env, o.Env...)
	return env
}

// processEnv is env with one process's data directory and, for a process that serves HTTP, the address
// it listens on.
func processEnv(env []string, dataDir, listen string) []string {
	env = append(append([]string{}, env...), "RELAIS_DATA_DIR="+dataDir)
	if listen != "" {
		env = append(env, "RELAIS_HTTP_ADDR="+listen)
	}
	return env
}

// startRelais starts the API processes (or the one `relais serve`) behind the front, then the workers.
func (r *run) startRelais(ctx context.Context) error {
	n := r.o.APIs
	if r.o.Serve {
		n = 1
	}
	addrs, err := freeAddrs(n)
	if err != nil {
		return err
	}
	var backends []string
	for _, a := range addrs {
		backends = append(backends, "http://"+a)
	}
	if r.front, err = StartFront(backends); err != nil {
		return err
	}
	r.apiURL = r.front.URL()
	_, proxyPort, _ := net.SplitHostPort(r.proxy.Addr())
	redisAddr := ""
	if r.redis != nil {
		redisAddr = "127.0.0.1:" + strconv.Itoa(r.redisPort)
	}
	r.env = append(cleanEnv(), r.o.relaisEnv(r.apiURL, r.sbURL, proxyPort, redisAddr)...)

	// procEnv is the environment of one process: its data directory (its own, or the one shared) and
	// the address it listens on.
	procEnv := func(name, listen string) ([]string, error) {
		dir := filepath.Join(r.dir, "data")
		if r.o.OwnDataDirs {
			dir = filepath.Join(r.dir, "data-"+name)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		return processEnv(r.env, dir, listen), nil
	}

	for i, addr := range addrs {
		name, cmd := fmt.Sprintf("api%d", i+1), "api"
		if r.o.Serve {
			name, cmd = "serve", "serve"
		}
		env, err := procEnv(name, addr)
		if err != nil {
			return err
		}
		p := newProc(name, r.logs, r.o.Relais, env, cmd)
		r.apis = append(r.apis, p)
		if err := p.start(r.pctx); err != nil {
			return err
		}
	}
	for i, p := range r.apis {
		if err := waitHTTP(ctx, backends[i]+"/readyz", p, 90*time.Second); err != nil {
			return err
		}
	}
	if !r.o.Serve {
		for i := range r.o.Workers {
			name := fmt.Sprintf("worker%d", i+1)
			env, err := procEnv(name, "")
			if err != nil {
				return err
			}
			w := newProc(name, r.logs, r.o.Relais, env, "worker")
			r.workers = append(r.workers, w)
			if err := w.start(r.pctx); err != nil {
				return err
			}
		}
	}
	env, err := procEnv("cli", "")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, r.o.Relais, "token", "create", "--user", "chaos", "--role", "admin")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	tok, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("relais token create: %v: %s", err, stderr.String())
	}
	r.c = client.New(r.apiURL, strings.TrimSpace(string(tok)))
	r.c.HTTP = &http.Client{Timeout: 60 * time.Second}
	if r.o.Serve {
		r.logf("relais serve on %s", addrs[0])
	} else {
		r.logf("relais api on %s behind the front %s, %d workers", strings.Join(addrs, ", "), r.apiURL, r.o.Workers)
	}
	return nil
}

// prepare imports the households and uploads the lesson, and waits until it is ready.
func (r *run) prepare(ctx context.Context) (int64, error) {
	const chunk = 5000
	imported := 0
	for from := 0; from < r.o.Households; from += chunk {
		var buf bytes.Buffer
		buf.WriteString("external_ref,region,language,grades,profile,phone,email,postal_address,consent\n")
		for i := from; i < min(from+chunk, r.o.Households); i++ {
			fmt.Fprintf(&buf, "CH-%06d,Île-de-France,fr,5,mobile_data,%s,%s,,yes\n", i, Phone(i), Email(i))
		}
		res, err := r.c.ImportHouseholds(ctx, &buf)
		if err != nil {
			return 0, fmt.Errorf("import households: %w", err)
		}
		if res.Rejected > 0 {
			return 0, fmt.Errorf("import households: %d rows refused, e.g. %+v", res.Rejected, res.Errors[0])
		}
		imported += res.Imported
	}
	r.logf("imported %d households (SMS + email each)", imported)

	video := filepath.Join(r.dir, "lesson.mp4")
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", video).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	fields := map[string]string{"title": "Fractions", "subject": "maths", "grade": "5",
		"language": "fr", "segment_budget": "1", "text": "# Fractions\n\n- Un quart est une part sur quatre.\n"}
	var parts []client.Part
	if r.o.TusChunks > 0 {
		id, err := r.tusUpload(ctx, video)
		if err != nil {
			return 0, err
		}
		fields["upload"] = id
	} else {
		parts = append(parts, client.FilePart("media", video))
	}
	l, err := r.c.CreateLesson(ctx, fields, parts...)
	if err != nil {
		return 0, fmt.Errorf("upload the lesson: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, r.o.ReadyTimeout)
	defer cancel()
	l, err = r.c.WaitLesson(wctx, l.ID, 500*time.Millisecond, nil)
	if err != nil {
		return 0, fmt.Errorf("lesson %d still %s: %w", l.ID, l.Status, err)
	}
	if l.Status != relais.LessonReady {
		return 0, fmt.Errorf("lesson %d %s: %s", l.ID, l.Status, l.StatusReason)
	}
	r.logf("lesson %d ready", l.ID)
	return l.ID, nil
}

// tusUpload sends the video with tus in TusChunks PATCHes through the front and returns the upload's
// id. It fails unless each PATCH was served by another API process than the one before: the upload
// must not depend on sticky sessions.
func (r *run) tusUpload(ctx context.Context, video string) (string, error) {
	st, err := os.Stat(video)
	if err != nil {
		return "", err
	}
	before := len(r.front.Served())
	up := &client.Upload{Client: r.c, Chunk: st.Size()/int64(r.o.TusChunks) + 1, Attempts: 3}
	loc, err := up.Send(ctx, video)
	if err != nil {
		return "", fmt.Errorf("tus upload: %w", err)
	}
	var backends []int
	for _, s := range r.front.Served()[before:] {
		if s.Method == http.MethodPatch {
			backends = append(backends, s.Backend)
		}
	}
	if len(backends) != r.o.TusChunks {
		return "", fmt.Errorf("tus upload: %d PATCHes went through the front, want %d", len(backends), r.o.TusChunks)
	}
	for i := 1; i < len(backends) && len(r.apis) > 1; i++ {
		if backends[i] == backends[i-1] {
			return "", fmt.Errorf("tus upload: PATCHes %d and %d both went to API process %d (want each on another one)", i, i+1, backends[i]+1)
		}
	}
	r.logf("uploaded the lesson with tus: %d PATCHes on API processes %v", len(backends), backends)
	return loc[strings.LastIndex(loc, "/")+1:], nil
}

// Phone is the phone number of synthetic household i.
func Phone(i int) string { return fmt.Sprintf("+3361%07d", i) }

// Email is the email address of synthetic household i.
func Email(i int) string { return fmt.Sprintf("famille%06d@example.org", i) }

// supervise starts again, as a service manager would, a Relais process or Redis that exited while the
// harness was not holding it down, and records it.
func (r *run) supervise(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range append([]*proc{r.redis}, r.relaisProcs()...) {
			if p != nil {
				r.restartIfCrashed(ctx, p)
			}
		}
	}
}

// restartIfCrashed starts p again if it exited while the harness was not holding it down. It holds
// superMu throughout, so that the chaos cannot take p down in between.
func (r *run) restartIfCrashed(ctx context.Context, p *proc) {
	r.superMu.Lock()
	defer r.superMu.Unlock()
	if r.held[p] || p.running() || ctx.Err() != nil {
		return
	}
	r.event(EventCrash, fmt.Sprintf("%s exited on its own: %s", p.name, lastLine(p.tail(3))))
	var err error
	if p == r.redis {
		err = r.startRedis(r.pctx)
	} else {
		err = p.start(r.pctx)
	}
	if err != nil && !errors.Is(err, errRunning) && ctx.Err() == nil {
		r.note("could not start %s again: %v", p.name, err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "===") {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return ""
}

// hold marks p as taken down on purpose (or not any more), so that the supervisor leaves it alone.
func (r *run) hold(p *proc, down bool) {
	r.superMu.Lock()
	r.held[p] = down
	r.superMu.Unlock()
}

// chaos kills workers at random moments, Redis once, and calls the database hook once, while sends
// go on. It returns when everything is done or ctx ends (the deliveries settled).
func (r *run) chaos(ctx context.Context, published time.Time) {
	// The plan: Kills worker kills, with the Redis kill and the database restart slotted in between.
	type blow struct {
		kind   string
		caller *Blow
	}
	var plan []blow
	for range r.o.Kills {
		plan = append(plan, blow{kind: EventWorkerKill})
	}
	if r.o.RedisKill {
		i := r.rng.IntN(len(plan) + 1)
		plan = append(plan[:i], append([]blow{{kind: EventRedisKill}}, plan[i:]...)...)
	}
	if r.o.RestartDatabase != nil {
		i := r.rng.IntN(len(plan) + 1)
		plan = append(plan[:i], append([]blow{{kind: EventDBRestart}}, plan[i:]...)...)
	}
	for range r.o.APIKills {
		i := r.rng.IntN(len(plan) + 1)
		plan = append(plan[:i], append([]blow{{kind: EventAPIKill}}, plan[i:]...)...)
	}
	for k := range r.o.Blows {
		i := r.rng.IntN(len(plan) + 1)
		plan = append(plan[:i], append([]blow{{kind: "caller", caller: &r.o.Blows[k]}}, plan[i:]...)...)
	}
	span := int64(r.o.KillGapMax - r.o.KillGapMin)
	for _, b := range plan {
		gap := r.o.KillGapMin
		if span > 0 {
			gap += time.Duration(r.rng.Int64N(span + 1))
		}
		if !sleep(ctx, gap) {
			return
		}
		switch b.kind {
		case EventWorkerKill:
			i := r.rng.IntN(len(r.workers))
			w := r.workers[i]
			r.hold(w, true)
			w.kill()
			r.event(EventWorkerKill, w.name)
			sleep(context.Background(), r.o.RestartPause) // the restart happens even when the run ends now
			if err := w.start(r.pctx); err != nil && !errors.Is(err, errRunning) && r.pctx.Err() == nil {
				r.note("could not restart %s: %v", w.name, err)
			}
			r.hold(w, false)
			r.event(EventWorkerRestart, w.name)
		case EventRedisKill:
			r.hold(r.redis, true)
			r.redis.kill()
			r.event(EventRedisKill, fmt.Sprintf("down for %s", r.o.RedisDown))
			sleep(context.Background(), r.o.RedisDown)
			if err := r.startRedis(r.pctx); err != nil && !errors.Is(err, errRunning) && r.pctx.Err() == nil {
				r.note("could not restart redis: %v", err)
			}
			r.hold(r.redis, false)
			r.event(EventRedisRestart, "same port and append-only file")
		case EventAPIKill:
			// A live API process, never the last: the front sends its requests to the others.
			var live []*proc
			for _, p := range r.apis {
				if p.running() {
					live = append(live, p)
				}
			}
			if len(live) < 2 {
				r.note("no API process to kill: %d left", len(live))
				continue
			}
			p := live[r.rng.IntN(len(live))]
			r.hold(p, true) // it stays down
			p.kill()
			r.event(EventAPIKill, p.name+" (stays down)")
		case "caller":
			e := r.event(b.caller.Kind, b.caller.Detail)
			if err := b.caller.Do(ctx); err != nil {
				r.note("%s: %v", b.caller.Kind, err)
			}
			r.logf("%s took %s", b.caller.Kind, time.Since(e.At).Round(100*time.Millisecond))
		case EventDBRestart:
			e := r.event(EventDBRestart, "hook called")
			if err := r.o.RestartDatabase(ctx); err != nil {
				r.note("database restart hook: %v", err)
			}
			r.logf("database restart took %s", time.Since(e.At).Round(100*time.Millisecond))
		}
	}
}

// waitSettled polls the lesson until no SMS or email delivery will move any more, until deadline, or
// until the counts have not changed for IdleTimeout (deliveries stuck for good).
func (r *run) waitSettled(ctx context.Context, lessonID int64, deadline time.Time) bool {
	last, changed := "", time.Now()
	for {
		if time.Now().After(deadline) {
			r.note("deliveries still moving %s after the publication (the settle timeout)", r.o.SettleTimeout)
			return false
		}
		if idle := time.Since(changed); idle > r.o.IdleTimeout {
			r.note("no delivery moved for %s: stopped waiting", idle.Round(time.Second))
			return false
		}
		l, err := r.c.Lesson(ctx, lessonID)
		if err == nil {
			var total, moving int64
			for _, ch := range []relais.ChannelName{relais.ChannelSMS, relais.ChannelEmail} {
				for st, n := range l.Deliveries[ch] {
					total += n
					if !finalFor(ch, st) {
						moving += n
					}
				}
			}
			line := fmt.Sprintf("sms %v; email %v", l.Deliveries[relais.ChannelSMS], l.Deliveries[relais.ChannelEmail])
			if line != last {
				r.logf("deliveries: %s", line)
				last, changed = line, time.Now()
			}
			if total >= int64(2*r.o.Households) && moving == 0 {
				return true
			}
		}
		if !sleep(ctx, time.Second) {
			return false
		}
	}
}

// collect reads the deliveries and households from the API and the sinks, and fills the report.
func (r *run) collect(ctx context.Context, lessonID int64, rep *Report) error {
	r.mu.Lock()
	rep.Events = append([]Event(nil), r.events...)
	rep.Notes = append([]string(nil), r.notes...)
	r.mu.Unlock()
	contacts, err := r.households(ctx)
	if err != nil {
		return err
	}
	recs := map[relais.ChannelName][]Record{}
	for _, ch := range []relais.ChannelName{relais.ChannelSMS, relais.ChannelEmail} {
		ds, err := r.deliveries(ctx, lessonID, ch)
		if err != nil {
			return err
		}
		recs[ch] = []Record{}
		for _, d := range ds {
			c := contacts[d.HouseholdID]
			to := c[0]
			if ch == relais.ChannelEmail {
				to = c[1]
			}
			recs[ch] = append(recs[ch], Record{ID: d.ID, To: to, Status: d.Status, Reason: d.Reason, ProviderID: d.ProviderID})
		}
	}
	smsSink, answers, err := sandboxReceipts(ctx, r.sbURL)
	if err != nil {
		return err
	}
	mailSink, err := mailpitReceipts(ctx, r.mailAPI)
	if err != nil {
		return err
	}
	rep.SandboxAnswers = answers
	rep.SMTPCuts = len(r.proxy.Cuts())
	summarize(rep, recs, map[relais.ChannelName][]Receipt{relais.ChannelSMS: smsSink, relais.ChannelEmail: mailSink},
		map[relais.ChannelName]bool{relais.ChannelSMS: true})
	return nil
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// freeAddrs returns n TCP addresses free on 127.0.0.1.
func freeAddrs(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		a, err := localserver.FreeAddr()
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// waitHTTP waits until url answers 200, p exits, or d passes.
func waitHTTP(ctx context.Context, url string, p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("answered %s", resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready: %v", p.name, err)
		}
		select {
		case <-p.exited():
			return fmt.Errorf("%s exited: %s", p.name, p.tail(5))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string, p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s does not listen on %s: %v", p.name, addr, err)
		}
		select {
		case <-p.exited():
			return fmt.Errorf("%s exited: %s", p.name, p.tail(5))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
