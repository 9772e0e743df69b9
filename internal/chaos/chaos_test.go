package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/mailpit"
)

// relaisBinary returns $RELAIS_CHAOS_BIN, or builds cmd/relais into the test's directory.
func relaisBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RELAIS_CHAOS_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "relais")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/relais-edu/relais/cmd/relais")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build relais: %v\n%s", err, out)
	}
	return bin
}

// TestChaos is the short form of scripts/chaos.sh that CI runs: 1,500 households (SMS + email), two
// workers, three worker kills and one Redis restart during the sends, SMTP connections cut mid-DATA and
// provider faults. Every family gets each message exactly once, every status matches its sink, and
// sends resume within 15 s of a worker kill and 30 s of the Redis restart.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes minutes")
	}
	for _, bin := range []string{"redis-server", "ffmpeg"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: scripts/test.sh installs it", bin)
		}
	}
	if _, err := mailpit.Binary(); err != nil {
		t.Fatalf("%v: scripts/test.sh installs mailpit", err)
	}
	o := DefaultOptions()
	o.Relais = relaisBinary(t)
	o.Households, o.Workers, o.Kills, o.Seed = 1500, 2, 3, 13
	// Paced so that the sends last about 30 s and every blow lands while they go on.
	o.SMSRate, o.EmailRate = 50, 50
	o.KillGapMin, o.KillGapMax, o.RestartPause, o.RedisDown = 2*time.Second, 6*time.Second, 2*time.Second, 5*time.Second
	o.SMTPCutShare, o.SMTPMaxCuts = 0.01, 10
	// A status a killed worker held comes back through asynq's lease (30 s, then its minute-long
	// recoverer) or the periodic status check: up to about 2 min after the last kill.
	o.SettleTimeout = 3 * time.Minute
	o.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if rep != nil {
		t.Logf("\n%s", rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Settled {
		t.Errorf("deliveries still moving %s after the publication", o.SettleTimeout)
	}
	for _, ch := range []relais.ChannelName{relais.ChannelSMS, relais.ChannelEmail} {
		c := rep.Channel(ch)
		if c.Expected != o.Households {
			t.Errorf("%s: %d deliveries planned, want %d", ch, c.Expected, o.Households)
		}
		wantExactlyOnce(t, ch, c)
	}
	if rep.Count(EventWorkerKill) == 0 {
		t.Error("no worker was killed while sends went on")
	}
	for _, p := range rep.UnknownProblems(SMTPConnsPerWorker) {
		t.Error(p)
	}
	if d, ok := rep.StallAfter(EventWorkerKill); ok && d >= 15*time.Second {
		t.Errorf("sends stalled %s after a worker kill, want < 15s", d.Round(100*time.Millisecond))
	}
	if d, ok := rep.StallAfter(EventRedisRestart); !ok {
		t.Error("Redis was not restarted while sends went on")
	} else if d >= 30*time.Second {
		t.Errorf("sends stalled %s after the Redis restart, want < 30s", d.Round(100*time.Millisecond))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// wantExactlyOnce fails the test unless the channel's report counts no duplicate, no lost message, no
// recorded status that disagrees with the sink and no message for nobody planned.
func wantExactlyOnce(t testing.TB, ch relais.ChannelName, c ChannelReport) {
	t.Helper()
	if c.Duplicates != 0 {
		t.Errorf("%s: %d duplicates at the sink, want 0 (e.g. deliveries %v)", ch, c.Duplicates, c.DuplicateIDs)
	}
	if c.Lost != 0 {
		t.Errorf("%s: %d lost, want 0 (e.g. deliveries %v)", ch, c.Lost, c.LostIDs)
	}
	if c.Disagreements != 0 {
		t.Errorf("%s: %d recorded statuses disagree with the sink, want 0 (e.g. deliveries %v)", ch, c.Disagreements, c.DisagreementIDs)
	}
	if c.Stray != 0 {
		t.Errorf("%s: %d messages at the sink for nobody planned", ch, c.Stray)
	}
}
