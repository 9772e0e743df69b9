// Package testenv gives tests the real services they need: a Redis server, an SMTP server that
// exposes what it received (mailpit) and a PostgreSQL cluster with a fresh database per test. Each test
// process starts private instances on free loopback ports from the installed binaries, unless the
// environment names running ones (RELAIS_TEST_REDIS_ADDR, RELAIS_TEST_SMTP_ADDR,
// RELAIS_TEST_POSTGRES_URL). When neither is possible the test fails with what to do: it never skips.
package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relais-edu/relais/internal/localserver"
	"github.com/relais-edu/relais/internal/mailpit"
	"github.com/relais-edu/relais/internal/redisserver"
)

var (
	redisOnce sync.Once
	redisAddr string
	redisErr  error

	smtpOnce              sync.Once
	smtpAddr, mailpitHTTP string
	smtpErr               error

	dbMu   sync.Mutex
	nextDB = 1
)

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Redis returns the address of a Redis server and a database number that no other test in this
// process uses; the database is flushed before it is handed out.
func Redis(t testing.TB) (addr string, db int) {
	t.Helper()
	redisOnce.Do(func() {
		if a := os.Getenv("RELAIS_TEST_REDIS_ADDR"); a != "" {
			redisAddr = a
			return
		}
		redisAddr, redisErr = startRedis()
	})
	if redisErr != nil {
		t.Fatalf("testenv: no Redis (run the tests with scripts/test.sh, or install redis-server): %v", redisErr)
	}
	dbMu.Lock()
	db = nextDB
	nextDB++
	dbMu.Unlock()
	if db > 15 {
		// Redis has 16 databases; beyond that tests share by process, so flush and reuse db 15 serially.
		db = 15
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, DB: db})
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("testenv: flush redis db %d: %v", db, err)
	}
	return redisAddr, db
}

func startRedis() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "relais-test-redis-")
	if err != nil {
		return "", err
	}
	port, err := localserver.FreePort()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	proc, err := localserver.Start("redis-server", exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no"))
	if err != nil {
		return "", err
	}
	started = append(started, func() { proc.Stop(context.Background(), os.Kill); os.RemoveAll(dir) })
	return addr, proc.WaitReady(context.Background(), 10*time.Second, os.Kill, func() error { return localserver.Listening(addr) })
}

// Sentinel starts a Redis master, its replica and three sentinels for t (see redisserver.StartSentinel),
// stopped when t ends.
func Sentinel(t testing.TB) *redisserver.Sentinel {
	t.Helper()
	s, err := redisserver.StartSentinel(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("testenv: no Redis Sentinel (run the tests with scripts/test.sh, or install redis-server): %v", err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

// Cluster starts a Redis Cluster of three masters for t, stopped when t ends.
func Cluster(t testing.TB) *redisserver.Cluster {
	t.Helper()
	c, err := redisserver.StartCluster(context.Background(), t.TempDir(), 3)
	if err != nil {
		t.Fatalf("testenv: no Redis Cluster (run the tests with scripts/test.sh, or install redis-server): %v", err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c
}

// SMTP returns the SMTP address and the HTTP API base URL of a mailpit server.
func SMTP(t testing.TB) (smtp, httpAPI string) {
	t.Helper()
	smtpOnce.Do(func() {
		if a := os.Getenv("RELAIS_TEST_SMTP_ADDR"); a != "" {
			smtpAddr, mailpitHTTP = a, os.Getenv("RELAIS_TEST_MAILPIT_URL")
			if mailpitHTTP == "" {
				smtpErr = fmt.Errorf("RELAIS_TEST_SMTP_ADDR is set but RELAIS_TEST_MAILPIT_URL is not")
			}
			return
		}
		smtpAddr, mailpitHTTP, smtpErr = startMailpit()
	})
	if smtpErr != nil {
		t.Fatalf("testenv: no SMTP server (run the tests with scripts/test.sh, which installs mailpit): %v", smtpErr)
	}
	return smtpAddr, mailpitHTTP
}

func startMailpit() (string, string, error) {
	dir, err := os.MkdirTemp("", "relais-test-mailpit-")
	if err != nil {
		return "", "", err
	}
	s, err := mailpit.Start(context.Background(), dir)
	if err != nil {
		return "", "", err
	}
	started = append(started, func() { s.Stop(context.Background()); os.RemoveAll(dir) })
	return s.SMTPAddr, s.APIURL, nil
}

// started holds the stop functions of the servers this process started.
var started []func()

// Main runs the tests of a package and then stops the servers testenv started for them:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	for _, stop := range started {
		stop()
	}
	return code
}

// Lines returns the lines of a file, for golden comparisons.
func Lines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out
}
