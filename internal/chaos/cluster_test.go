package chaos

import (
	"context"
	"flag"
	"os/exec"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms/sandbox"
	"github.com/relais-edu/relais/internal/mailpit"
	"github.com/relais-edu/relais/internal/testenv"
)

var clusterHouseholds = flag.Int("cluster-households", 20000, "households of TestCluster and BenchmarkCluster (SMS and email each)")

// Rates of the cluster runs: the sandbox and mailpit take far more than a real sender's pace, so the
// run measures Relais, not a provider's limit.
const clusterRate = 5000

// clusterEnv is the environment an operator gives every `relais api` and `relais worker` of a
// cluster (besides what the harness sets for every shape: the secret, Twilio, SMTP, rates): the shared
// database, Redis through Sentinel, media in S3. deploy/compose.yaml sets the same variables
// (TestComposeFile).
func clusterEnv(databaseURL, redisURL, s3Endpoint, accessKey, secretKey, bucket string) []string {
	return []string{
		"RELAIS_DATABASE_URL=" + databaseURL,
		"RELAIS_REDIS_URL=" + redisURL,
		"RELAIS_MEDIA_URL=s3://" + bucket + "/relais",
		"RELAIS_S3_ENDPOINT=" + s3Endpoint,
		"RELAIS_S3_REGION=us-east-1",
		"RELAIS_S3_ACCESS_KEY=" + accessKey,
		"RELAIS_S3_SECRET_KEY=" + secretKey,
		"RELAIS_S3_PATH_STYLE=true",
	}
}

// clusterOptions is the cluster shape of issue 15: two API processes behind the front and three
// workers, each with its own empty data directory, on PostgreSQL, Redis with Sentinel and S3, the lesson
// uploaded with tus in chunks spread over the API processes; during the sends the Redis master is killed
// (Sentinel promotes the replica) and one API process is killed for good.
func clusterOptions(bin string, households int, env []string, killMaster func(context.Context) error) Options {
	o := DefaultOptions()
	o.Relais, o.Households, o.Seed = bin, households, 15
	o.APIs, o.Workers, o.OwnDataDirs, o.TusChunks = 2, 3, true, 4
	o.Env = env
	o.Kills, o.RedisKill, o.APIKills = 0, false, 1
	o.Blows = []Blow{{Kind: EventRedisMasterKill, Detail: "SIGKILL to the master; Sentinel promotes the replica", Do: killMaster}}
	o.SMSRate, o.EmailRate = clusterRate, clusterRate
	o.SMSRules, o.SMTPCutShare = []sandbox.Rule{}, 0 // the faults here are the machines'
	o.KillGapMin, o.KillGapMax = 4*time.Second, 8*time.Second
	o.SettleTimeout, o.IdleTimeout = 10*time.Minute, 2*time.Minute
	return o
}

// startCluster starts the services a cluster shares (PostgreSQL, Redis with Sentinel, the S3 server)
// and returns the options of a cluster run on them.
func startCluster(tb testing.TB, bin string, households int) Options {
	tb.Helper()
	dbURL := testenv.Postgres(tb)
	s3, bucket := testenv.S3(tb)
	sen := testenv.Sentinel(tb)
	killMaster := func(ctx context.Context) error {
		sen.Master.Kill()
		return sen.WaitMaster(ctx, sen.Replica.Addr, 30*time.Second)
	}
	return clusterOptions(bin, households, clusterEnv(dbURL, sen.URL(), s3.Endpoint,
		s3.AccessKey, s3.SecretKey, bucket), killMaster)
}

// serveOptions is the one-machine baseline of the same lesson to the same population: one `relais
// serve` on its SQLite, local media and private Redis, at the same rates, without faults.
func serveOptions(bin string, households int) Options {
	o := DefaultOptions()
	o.Relais, o.Households, o.Seed = bin, households, 15
	o.Serve, o.Kills, o.RedisKill = true, 0, false
	o.SMSRate, o.EmailRate = clusterRate, clusterRate
	o.SMSRules, o.SMTPCutShare = []sandbox.Rule{}, 0
	o.SettleTimeout, o.IdleTimeout = 10*time.Minute, 2*time.Minute
	return o
}

func needClusterTools(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{"redis-server", "ffmpeg"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("%s is not installed: scripts/test.sh installs it", bin)
		}
	}
	if _, err := mailpit.Binary(); err != nil {
		tb.Fatalf("%v: scripts/test.sh installs mailpit", err)
	}
}

// TestCluster runs several machines' worth of processes on loopback (issue 15): PostgreSQL, versitygw,
// a Redis master with a replica and three sentinels, mailpit and the Twilio sandbox; two `relais api`
// and three `relais worker` with their own empty data directories, configured only through RELAIS_*
// variables. The lesson goes up with tus, each chunk on the other API process, and is published to
// 20,000 households (SMS and email with the worksheet PDF each). During the sends the Redis master and
// one API process are killed with SIGKILL and PostgreSQL crashes and restarts. Every family gets each
// message exactly once.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run takes minutes")
	}
	needClusterTools(t)
	o := startCluster(t, relaisBinary(t), *clusterHouseholds)
	// The database crashes once too (immediate shutdown, every session cut) and comes back on the same
	// port: the processes reconnect and nothing is sent twice or lost.
	o.RestartDatabase = testenv.RestartPostgres
	o.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if rep != nil {
		t.Logf("\n%s", rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, rep, o.Households)
	// Each blow must land while messages were still to go (a receipt came after it).
	during := map[string]bool{}
	for _, e := range rep.Events {
		during[e.Kind] = during[e.Kind] || len(e.Next) > 0
	}
	for _, k := range []string{EventRedisMasterKill, EventAPIKill, EventDBRestart} {
		if !during[k] {
			t.Errorf("no %s while sends went on", k)
		}
	}
	// The database's crash cuts, at most, the email in flight on each SMTP connection from its outcome
	// (RELAIS_SMTP_MAX_CONNS, 4 per worker), and the worker records even that one once the database is
	// back unless the sweep finds its claim first; an SMS in doubt is asked about.
	if c := rep.Channel(relais.ChannelSMS); c.Unknown != 0 {
		t.Errorf("sms: %d unknown, want 0", c.Unknown)
	}
	if c, most := rep.Channel(relais.ChannelEmail), 4*o.Workers; c.Unknown > most {
		t.Errorf("email: %d unknown, want at most %d (one per SMTP connection)", c.Unknown, most)
	}
	for _, k := range []string{EventRedisMasterKill, EventDBRestart} {
		if d, ok := rep.StallAfter(k); ok && d >= 30*time.Second {
			t.Errorf("sends stalled %s after the %s, want < 30s", d.Round(100*time.Millisecond), k)
		}
	}
	wall, rate := rep.Throughput()
	t.Logf("cluster: %d households, %d messages in %s from the publication: %.1f sends/s", o.Households, rep.Sends, wall.Round(100*time.Millisecond), rate)
}

// checkExactlyOnce fails t unless every SMS and email planned reached its sink exactly once, with its
// status in agreement.
func checkExactlyOnce(t testing.TB, rep *Report, households int) {
	t.Helper()
	if !rep.Settled {
		t.Errorf("deliveries still moving at the end")
	}
	for _, ch := range []relais.ChannelName{relais.ChannelSMS, relais.ChannelEmail} {
		c := rep.Channel(ch)
		if c.Expected != households {
			t.Errorf("%s: %d deliveries planned, want %d", ch, c.Expected, households)
		}
		if c.Received != households {
			t.Errorf("%s: %d recipients at the sink, want %d", ch, c.Received, households)
		}
		wantExactlyOnce(t, ch, c)
	}
}

// BenchmarkCluster runs the lesson of TestCluster to the same households twice: on the cluster (with
// its kills) and on one `relais serve`, and reports each run's time from the publication to the last
// message at the sinks, its sends per second, and the cluster's over the one machine's
// (scripts/bench-cluster.sh).
func BenchmarkCluster(b *testing.B) {
	needClusterTools(b)
	bin := relaisBinary(b)
	var clusterWall, serveWall time.Duration
	var clusterRate, serveRate float64
	for range b.N {
		for _, shape := range []string{"cluster", "serve"} {
			var o Options
			if shape == "cluster" {
				o = startCluster(b, bin, *clusterHouseholds)
			} else {
				o = serveOptions(bin, *clusterHouseholds)
			}
			o.Log = benchWriter{b, shape}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			rep, err := Run(ctx, o)
			cancel()
			if rep != nil {
				b.Logf("%s:\n%s", shape, rep)
			}
			if err != nil {
				b.Fatal(err)
			}
			checkExactlyOnce(b, rep, o.Households)
			wall, rate := rep.Throughput()
			b.Logf("%s: %d households, %d messages in %s from the publication: %.1f sends/s", shape, o.Households, rep.Sends, wall.Round(100*time.Millisecond), rate)
			if shape == "cluster" {
				clusterWall, clusterRate = clusterWall+wall, clusterRate+rate
			} else {
				serveWall, serveRate = serveWall+wall, serveRate+rate
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(clusterWall.Seconds()/n, "s-cluster")
	b.ReportMetric(clusterRate/n, "sends/s-cluster")
	b.ReportMetric(serveWall.Seconds()/n, "s-serve")
	b.ReportMetric(serveRate/n, "sends/s-serve")
	b.ReportMetric(clusterRate/serveRate, "x-sends/s-cluster/serve")
}

type benchWriter struct {
	b     *testing.B
	shape string
}

func (w benchWriter) Write(p []byte) (int, error) {
	w.b.Logf("%s: %s", w.shape, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
