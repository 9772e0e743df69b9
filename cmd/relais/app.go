package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/clients"
	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/redisserver"
	"github.com/relais-edu/relais/internal/redisurl"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/pipeline"
	"github.com/relais-edu/relais/queue"
	"github.com/relais-edu/relais/resumable"
	"github.com/relais-edu/relais/retention"
	"github.com/relais-edu/relais/scheduler"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/templates"
	"github.com/relais-edu/relais/ui"
)

// parts says which pieces a process runs.
type parts struct {
	api    bool
	worker bool
	// mediaExe is the binary re-executed for FFmpeg work; empty: this one. Tests give the test binary.
	mediaExe string
}

// app is a running Relais: every component with an owner and a stop.
type app struct {
	cfg   Config
	log   *slog.Logger
	store relais.Store
	media relais.MediaStore
	redis *redisserver.Server // nil when Redis is external
	queue *queue.Client
	work  *queue.Worker
	srv   *http.Server
	ln    net.Listener
	email *email.Channel
	ui    *ui.Handler
	done  chan error // the HTTP server's end

	redisOpt asynq.RedisConnOpt    // the queue's Redis
	rdb      redis.UniversalClient // the same Redis for the SMS rate limiter and /readyz

	periodic *scheduler.Periodic // writes tomorrow's guides and playlists each evening

	sweepStop context.CancelFunc // ends the hourly sweep of expired uploads and the retention passes
	sweepDone chan struct{}
}

// start builds and starts Relais in dependency order: store, Redis and the queue, the HTTP listener
// (so that a :0 port is known before links and webhook URLs are made), the channels, the workers, then
// the HTTP servers. On error, what was started is stopped.
func start(ctx context.Context, cfg Config, p parts, log *slog.Logger) (a *app, err error) {
	a = &app{cfg: cfg, log: log, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			a.stop(sctx)
			cancel()
		}
	}()
	secret, tmpl, err := prepare(cfg)
	if err != nil {
		return a, err
	}
	if a.store, err = openStore(ctx, cfg); err != nil {
		return a, err
	}
	if a.media, err = openMedia(ctx, cfg, log); err != nil {
		return a, err
	}
	redisOpt, err := a.startRedis(ctx)
	if err != nil {
		return a, err
	}
	if p.api {
		if err := a.listen(); err != nil {
			return a, err
		}
		cfg = a.cfg // the public URL of a :0 port
	}
	signer := links.NewSigner(secret, cfg.PublicURL)
	legacyUntil, _ := cfg.legacyLinksUntil() // checked by Validate
	signer.AcceptLegacyUntil(legacyUntil)

	reg, err := a.channels(cfg, tmpl, secret)
	if err != nil {
		return a, err
	}

	if p.worker {
		if err := a.startWorker(redisOpt, reg, tmpl, signer, secret, p.mediaExe); err != nil {
			return a, err
		}
	}
	if p.api {
		if err := a.serveHTTP(redisOpt, reg, tmpl, signer, secret); err != nil {
			return a, err
		}
	}
	return a, nil
}

// prepare makes the data directories and loads the secret and the templates.
func prepare(cfg Config) (secret []byte, tmpl *templates.Set, err error) {
	for _, d := range []string{cfg.DataDir, cfg.MediaDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, nil, fmt.Errorf("data directory: %w", err)
		}
	}
	if secret, err = loadSecret(cfg); err != nil {
		return nil, nil, err
	}
	tmpl, err = templates.Load()
	return secret, tmpl, err
}

// userError is an application error told as its message for people (the database is not found, the
// slot would overlap...); internal errors stay as they are.
func userError(err error) error {
	if code := relais.ErrorCode(err); code != "" && code != relais.EINTERNAL {
		return errors.New(relais.ErrorMessage(err))
	}
	return err
}

// startRedis starts the private redis-server unless RELAIS_REDIS_URL or RELAIS_REDIS_ADDR names a
// Redis (one server, a Sentinel-watched master or a cluster), checks that it answers, and connects the
// queue client and the client of Relais' own keys (the SMS rate limits) to it.
func (a *app) startRedis(ctx context.Context) (asynq.RedisConnOpt, error) {
	cfg := a.cfg
	opt, err := cfg.redis()
	if err != nil {
		return nil, err
	}
	if opt == nil {
		if a.redis, err = redisserver.Start(ctx, filepath.Join(cfg.DataDir, "redis")); err != nil {
			return nil, err
		}
		a.log.Info("started private redis-server", "addr", a.redis.Addr)
		opt = asynq.RedisClientOpt{Addr: a.redis.Addr, Password: cfg.RedisPass, DB: cfg.RedisDB}
	}
	a.redisOpt, a.rdb = opt, redisurl.Client(opt)
	if err := a.pingRedis(ctx); err != nil {
		return nil, err
	}
	a.queue = queue.NewClient(opt)
	return opt, nil
}

// pingRedis checks that Redis answers: at start, and for /readyz.
func (a *app) pingRedis(ctx context.Context) error {
	if err := redisurl.Ping(ctx, a.rdb); err != nil {
		what := "RELAIS_REDIS_ADDR"
		if a.cfg.RedisURL != "" {
			what = "RELAIS_REDIS_URL"
		}
		return fmt.Errorf("redis %s (%s) does not answer: %w", redisurl.Describe(a.redisOpt), what, err)
	}
	return nil
}

// listen opens the HTTP listener; with a :0 port, the default public URL becomes the port given.
func (a *app) listen() error {
	var err error
	a.ln, err = net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (RELAIS_HTTP_ADDR): %w", a.cfg.HTTPAddr, err)
	}
	if a.cfg.PublicURL == "http://"+a.cfg.HTTPAddr {
		a.cfg.PublicURL = "http://" + a.ln.Addr().String()
	}
	return nil
}

// startWorker starts the task workers (media, digests, fan-out, sends) and the evening export of
// guides and playlists.
func (a *app) startWorker(redisOpt asynq.RedisConnOpt, reg *channels.Registry, tmpl *templates.Set, signer *links.Signer,
	secret []byte, mediaExe string) error {
	cfg := a.cfg
	runner := &ingest.Runner{Exe: mediaExe, Options: ingest.Options{
		TVFormat: cfg.TVFormat, TVAudioCodec: cfg.TVAudioCodec, RadioWAV: cfg.RadioWAV,
		ServiceProvider: cfg.ServiceProvider,
		Limits:          ingest.Limits{MaxDuration: cfg.MaxMediaDuration, MaxBytes: cfg.MaxUploadBytes},
	}}
	qcfg := queue.DefaultConfig()
	qcfg.MediaDir = cfg.MediaDir
	qcfg.Concurrency = cfg.WorkerConcurrency
	qcfg.MediaConcurrency = cfg.MediaConcurrency
	qcfg.ReminderLead = cfg.ReminderLead
	qcfg.OrphanAfter, qcfg.ClaimBatch = cfg.SendOrphanAfter, cfg.SendClaimBatch
	qcfg.SweepEvery = max(cfg.SendOrphanAfter/5, time.Second)
	qcfg.StatusCheckAfter = cfg.SMSReconcileAfter
	var err error
	if qcfg.SendWindow, err = sendWindow(cfg); err != nil {
		return err
	}
	lnk := queue.Links{
		Lesson:      signer.LessonURL,
		Unsubscribe: func(h relais.Household) string { return signer.UnsubscribeURL(h.ID, h.Email) },
	}
	planner := &scheduler.Planner{Store: a.store, Lessons: a.store, Households: a.store, Channels: reg, Config: cfg.planConfig()}
	qcfg.Media = a.media
	staging := pipeline.Staging{Dir: filepath.Join(cfg.DataDir, "staging")}
	if n, err := staging.Sweep(); err != nil {
		a.log.Warn("sweep staging directories of dead workers", "removed", n, "err", err)
	} else if n > 0 {
		a.log.Info("removed staging directories of dead workers", "removed", n)
	}
	a.work = queue.NewWorker(redisOpt, a.store, reg, pipeline.New(runner, a.media, staging, tmpl, planner, signer.MaxURLLength(), cfg.ChunkDuration), lnk, a.queue, qcfg, a.log)
	if err := a.work.Start(); err != nil {
		return err
	}
	a.periodic, err = scheduler.StartPeriodic(redisOpt, "", &scheduler.Exporter{
		Service: scheduler.New(a.store, a.store, nil), Dir: filepath.Join(cfg.DataDir, "playout"), Media: a.sharedMedia(),
		Hour: 18, Log: a.log})
	return err
}

// serveHTTP mounts the API, the channels' webhooks, unsubscribe links, the web UI and /metrics, starts
// the hourly sweep of expired uploads, and serves on the listener.
func (a *app) serveHTTP(redisOpt asynq.RedisConnOpt, reg *channels.Registry, tmpl *templates.Set, signer *links.Signer, secret []byte) error {
	cfg, log := a.cfg, a.log
	tus, err := a.tusStore()
	if err != nil {
		return err
	}
	lists, err := cfg.pickLists() // Validate checked it
	if err != nil {
		return err
	}
	srv := api.New(a.store, a.queue, signer, tmpl, api.Config{
		MediaDir: cfg.MediaDir, Media: a.media, TempDir: a.uploadTempDir(), MediaLinkTTL: cfg.MediaRedirect, Uploads: tus,
		MaxUploadBytes: cfg.MaxUploadBytes, MaxImportBytes: 64 << 20,
		MaxImportRows: 200_000, DefaultCountry: cfg.DefaultCountry, DefaultBudget: 3, Plan: cfg.planConfig(),
		Channels: reg, HSTS: strings.HasPrefix(cfg.PublicURL, "https://"), PickLists: lists,
	}, log, func(ctx context.Context) error {
		if err := a.pingRedis(ctx); err != nil {
			return err
		}
		return a.media.Check(ctx)
	})
	for _, name := range reg.Names() {
		if ch, ok := reg.Get(name); ok {
			if wh, ok := ch.(channels.WebhookHandler); ok {
				srv.Mount("/webhooks/"+string(name)+"/", wh.Webhooks())
			}
		}
	}
	srv.Mount("/u/", email.UnsubscribeHandler(channels.NewLedger(a.store, a.queue.RecordStatus), signer, a.store))
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	a.sweepStop, a.sweepDone = stopSweep, make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Go(func() { srv.RunUploadSweep(sweepCtx, time.Hour) })
	sweeps.Go(func() { srv.Audit().RunRetention(sweepCtx, time.Hour, cfg.AuditRetention, time.Now) })
	aged := &retention.Task{Store: a.store, Media: a.media, Retention: cfg.retention(), Now: time.Now,
		Log: log.With("comp", "retention"), Playout: &scheduler.Exporter{Service: scheduler.New(a.store, a.store, nil),
			Dir: filepath.Join(cfg.DataDir, "playout"), Media: a.sharedMedia()}}
	sweeps.Go(func() { aged.Run(sweepCtx, time.Hour) })
	go func() {
		defer close(a.sweepDone)
		sweeps.Wait()
	}()
	uiCfg := ui.DefaultConfig()
	uiCfg.SecureCookies = strings.HasPrefix(cfg.PublicURL, "https://")
	uiCfg.Redis = redisOpt
	uiCfg.OIDC = cfg.oidc()
	if uiCfg.Location, _, err = cfg.zones(); err != nil {
		return err
	}
	a.ui = ui.New(a.store, srv, tmpl, secret, uiCfg, log)
	srv.Mount("/ui/", a.ui)
	metrics := ui.NewMetrics(a.store, a.queue.QueueStats, a.queue.TaskStats, log)
	if pg, ok := a.store.(*postgres.DB); ok { // main knows the engines; /metrics shows the pool's figures
		metrics.WatchPool(pg.PoolStats)
	}
	srv.Mount("GET /metrics", metrics.Handler())
	limits, err := cfg.limits()
	if err != nil {
		return err
	}
	trusted, err := clients.ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	// Each request's client address (behind trusted proxies) is known to the audit log, and the public
	// endpoints hold each client to its rate; their 429s carry the security headers of every page.
	who := clients.NewResolver(trusted)
	a.srv = &http.Server{Handler: metrics.Instrument(srv.Secure(who.Handler(who.Limit(limits, srv)))), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		err := a.srv.Serve(a.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.done <- err
	}()
	log.Info("HTTP API listening", "addr", a.ln.Addr().String(), "public_url", cfg.PublicURL)
	return nil
}

// channels builds the channels the configuration enables.
func (a *app) channels(cfg Config, tmpl *templates.Set, secret []byte) (*channels.Registry, error) {
	chans := []channels.Channel{&postal.Channel{}}
	if cfg.TwilioAccountSID != "" {
		scfg, err := cfg.smsConfig()
		if err != nil {
			return nil, err
		}
		for _, w := range scfg.Warnings() {
			a.log.Warn("sms sender pool: " + w)
		}
		// The limiter keeps every sliding one-second window of each sender at the provider within its
		// rate, across workers, whatever the delays of a send (see docs/channels/sms.md and bench-sms.sh).
		lim, err := sms.NewLimiter(a.rdb, sms.LimiterConfig{Rate: cfg.SMSRate, Rates: sms.Rates(scfg.Lanes())})
		if err != nil {
			return nil, err
		}
		// Status callbacks reach the ledger batched through the queue, in pipeline order per delivery.
		ch, err := sms.New(scfg, a.store, channels.NewLedger(a.store, a.queue.RecordStatus), tmpl, sms.WithLogger(a.log), sms.WithLimiter(lim))
		if err != nil {
			return nil, err
		}
		chans = append(chans, ch, ch.Reminders())
	}
	if cfg.SMTPHost != "" {
		ecfg := email.DefaultConfig()
		ecfg.Host, ecfg.Port, ecfg.Username, ecfg.Password = cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPUsername, cfg.SMTPPassword
		ecfg.TLS = email.TLSPolicy(cfg.SMTPTLS)
		if cfg.SMTPTLS == "starttls-mandatory" {
			ecfg.TLS = email.TLSMandatory
		}
		ecfg.From, ecfg.ReplyTo, ecfg.MaxConns, ecfg.RatePerSecond = cfg.EmailFrom, cfg.EmailReplyTo, cfg.SMTPMaxConns, cfg.EmailRate
		if cfg.DKIMKeyFile != "" {
			key, err := os.ReadFile(cfg.DKIMKeyFile)
			if err != nil {
				return nil, fmt.Errorf("RELAIS_DKIM_KEY_FILE: %w", err)
			}
			ecfg.DKIM = email.DKIMConfig{Domain: cfg.DKIMDomain, Selector: cfg.DKIMSelector, PrivateKeyPEM: key}
		}
		ecfg.Media = a.media
		ch, err := email.New(ecfg, tmpl)
		if err != nil {
			return nil, err
		}
		a.email = ch
		chans = append(chans, ch)
	}
	// Deliveries are planned on every channel, configured here or not (an API process has no relay).
	return channels.NewRegistry(chans...).Know(channelRules()...), nil
}

// channelRules are the rules of every channel Relais plans deliveries on, configured in this process
// or not (an API process has no relay). A new channel adds its rules here, or registers a sender that
// carries them.
func channelRules() []channels.Rules {
	return []channels.Rules{sms.Rules{}, sms.ReminderRules{}, email.Rules{}, &postal.Channel{}}
}

// knownChannels is a registry of the channels' rules without senders: for plans made outside a server.
func knownChannels() *channels.Registry { return channels.NewRegistry().Know(channelRules()...) }

// sendWindow keeps SMS (the channels that keep quiet hours) out of the quiet hours in each
// household's time zone.
func sendWindow(cfg Config) (queue.SendWindow, error) {
	q, err := cfg.quietHours()
	if err != nil {
		return nil, err
	}
	def, byRegion, err := cfg.zones()
	if err != nil {
		return nil, err
	}
	if q.Start == q.End && len(q.Days) == 0 && len(q.Holidays) == 0 {
		return nil, nil
	}
	// The queue asks only for the channels that keep quiet hours (channels.QuietHoursKeeper).
	from := regionSMSFrom(def, byRegion, q)
	return func(h relais.Household, _ relais.ChannelName, now time.Time) time.Time { return from(h.Region, now) }, nil
}

// wait blocks until ctx ends or the HTTP server fails.
func (a *app) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.done:
		return err
	}
}

// stop stops components in reverse order of start: HTTP, workers, queue client, channels, store, Redis.
func (a *app) stop(ctx context.Context) error {
	var errs []error
	if a.srv != nil {
		errs = append(errs, a.srv.Shutdown(ctx))
	} else if a.ln != nil {
		a.ln.Close()
	}
	if a.sweepStop != nil {
		a.sweepStop()
		<-a.sweepDone
	}
	if a.ui != nil {
		errs = append(errs, a.ui.Close())
	}
	if a.periodic != nil {
		a.periodic.Shutdown()
	}
	if a.work != nil {
		a.work.Shutdown()
	}
	if a.queue != nil {
		errs = append(errs, a.queue.Close())
	}
	if a.rdb != nil {
		errs = append(errs, a.rdb.Close())
	}
	if a.email != nil {
		errs = append(errs, a.email.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	if a.redis != nil {
		errs = append(errs, a.redis.Stop(ctx))
	}
	return errors.Join(errs...)
}

// URL is the API's base URL.
func (a *app) URL() string { return a.cfg.PublicURL }

// loadSecret returns the configured secret, or the one kept in DATA_DIR/secret (made on first start).
func loadSecret(cfg Config) ([]byte, error) {
	if cfg.Secret != "" {
		if len(cfg.Secret) < 16 {
			return nil, errors.New("RELAIS_SECRET must be at least 16 characters")
		}
		return []byte(cfg.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	b = []byte(hex.EncodeToString(raw))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}

// openMedia opens the media store: the bucket of RELAIS_MEDIA_URL, or RELAIS_MEDIA_DIR. A store that
// cannot be used now (bucket missing, credentials refused, server down) is told in the log and keeps
// /readyz at 503 until it can; it does not stop the start, so the process recovers by itself once the
// bucket is there.
func openMedia(ctx context.Context, cfg Config, log *slog.Logger) (relais.MediaStore, error) {
	where := cfg.MediaDir
	if cfg.MediaURL != "" {
		where = cfg.MediaURL
	}
	m, err := mediastore.Open(where, s3Config(cfg))
	if err != nil {
		return nil, fmt.Errorf("RELAIS_MEDIA_URL: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Check(cctx); err != nil {
		log.Error("the media store cannot be used: uploads and transcodes fail and /readyz answers 503 until it can",
			"media", m.String(), "err", err)
	} else {
		log.Info("media store", "media", m.String())
	}
	return m, nil
}

// sharedMedia is the media store when it is object storage, shared by every machine; nil for the
// local directory.
func (a *app) sharedMedia() relais.MediaStore {
	if _, ok := a.media.LocalPath(""); ok {
		return nil
	}
	return a.media
}

// uploadTempDir is where direct uploads are written before they go into object storage; "" (beside
// the media directory) for a local one.
func (a *app) uploadTempDir() string {
	if a.sharedMedia() == nil {
		return ""
	}
	return filepath.Join(a.cfg.DataDir, "tmp")
}

// tusStore keeps resumable uploads in the bucket, locked through Redis, when the media are in object
// storage; nil: tusd's file store in the media directory.
func (a *app) tusStore() (*api.TusStore, error) {
	s3m, ok := a.media.(*mediastore.S3)
	if !ok {
		return nil, nil
	}
	cfg := a.cfg
	tmp := filepath.Join(cfg.DataDir, "tmp", "tus")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, err
	}
	st, err := resumable.NewS3(s3Config(cfg), s3m.Bucket, s3m.Prefix, tmp)
	if err != nil {
		return nil, err
	}
	return &api.TusStore{Store: st, Locker: resumable.NewRedisLocker(a.rdb),
		Location: func(info handler.FileInfo) string { return st.Location(info.Storage) }}, nil
}

// s3Config is how RELAIS_S3_* reach object storage.
func s3Config(cfg Config) mediastore.S3Config {
	return mediastore.S3Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, PathStyle: cfg.S3PathStyle}
}
