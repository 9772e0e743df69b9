package chaos

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relais-edu/relais/internal/mailpit"
)

// children lists the processes whose parent is this test.
func children(t *testing.T) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 && fields[1] == me {
			out = append(out, s[:i+1])
		}
	}
	return out
}

// TestRunStopsEverythingOnFailure: when the cluster cannot start (here the "relais" binary exits at
// once), Run returns the error with the processes' logs, and leaves no process and no directory.
func TestRunStopsEverythingOnFailure(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: scripts/test.sh installs it")
	}
	if _, err := mailpit.Binary(); err != nil {
		t.Fatalf("%v: scripts/test.sh installs mailpit", err)
	}
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err) // coreutils
	}
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "relais-chaos-*"))
	// Servers the package's other tests share (PostgreSQL, the S3 server, started once by testenv and
	// stopped by TestMain) are children too: only what Run starts counts.
	shared := children(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Relais: falseBin, Households: 10})
	if err == nil || rep != nil {
		t.Fatalf("Run with a relais that exits: report %v, error %v; want an error", rep, err)
	}
	if !strings.Contains(err.Error(), "twilio-sandbox exited") {
		t.Errorf("error %q does not say the sandbox exited", err)
	}
	if c := slices.DeleteFunc(children(t), func(c string) bool { return slices.Contains(shared, c) }); len(c) > 0 {
		t.Errorf("processes left running: %v", c)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "relais-chaos-*"))
	if len(after) > len(before) {
		t.Errorf("directories left: %v (before: %v)", after, before)
	}
}
