package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/relais-edu/relais/internal/localserver"
)

// PostgresBin is where Debian's postgresql-15 package puts initdb and postgres.
const PostgresBin = "/usr/lib/postgresql/15/bin"

var (
	pgOnce     sync.Once
	pgURL      string // the cluster's superuser URL, database postgres
	pgExternal bool   // the cluster is RELAIS_TEST_POSTGRES_URL's, not this process's
	pgErr      error

	pgMu        sync.Mutex
	pgNext      int
	pgTemplates = map[string]error{} // templates made in this process, with the error that made them fail
)

// Postgres returns the URL of a new, empty database on a PostgreSQL 15 cluster private to this test
// process; the database is dropped when the test ends. scripts/test.sh installs PostgreSQL; without it
// the test fails saying so.
func Postgres(t testing.TB) string {
	t.Helper()
	return PostgresFrom(t, "", nil)
}

// PostgresFrom returns the URL of a new database copied from the template database named template,
// which prepare fills (applies migrations to, say) the first time a test of this process asks for it.
// Copying a template is much faster than migrating every test's database. With template "" the new
// database is empty.
func PostgresFrom(t testing.TB, template string, prepare func(ctx context.Context, url string) error) string {
	t.Helper()
	admin := postgresCluster(t)
	ctx := context.Background()
	pgMu.Lock()
	defer pgMu.Unlock() // CREATE DATABASE ... TEMPLATE needs the template unused: one copy at a time
	if template != "" {
		// Named for this process: test processes sharing a server (RELAIS_TEST_POSTGRES_URL) each
		// make their own.
		template = fmt.Sprintf("%s_%d", template, os.Getpid())
		err, made := pgTemplates[template]
		if !made {
			err = createDatabase(ctx, admin, template, "")
			if err == nil {
				if pgExternal { // a private cluster goes whole
					started = append(started, func() { dropDatabase(admin, template) })
				}
				err = prepare(ctx, withDatabase(admin, template))
			}
			pgTemplates[template] = err
		}
		if err != nil {
			t.Fatalf("testenv: template database %s: %v", template, err)
		}
	}
	pgNext++
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), pgNext)
	if err := createDatabase(ctx, admin, name, template); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(admin, name); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return withDatabase(admin, name)
}

// PostgresAdmin returns the superuser URL of the test cluster (database postgres), for tests that
// create or inspect databases themselves.
func PostgresAdmin(t testing.TB) string {
	t.Helper()
	return postgresCluster(t)
}

func postgresCluster(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() {
		if u := os.Getenv("RELAIS_TEST_POSTGRES_URL"); u != "" {
			pgURL, pgExternal = u, true
			return
		}
		pgURL, pgErr = startPostgres()
	})
	if pgErr != nil {
		t.Fatalf("testenv: no PostgreSQL (run the tests with scripts/test.sh, which installs postgresql-15): %v", pgErr)
	}
	return pgURL
}

func createDatabase(ctx context.Context, admin, name, template string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	q := `CREATE DATABASE ` + name
	if template != "" {
		// FILE_COPY copies the template's files after a checkpoint, which costs little without fsync:
		// half the time of WAL_LOG, PostgreSQL 15's default, which writes every block to the WAL.
		q += ` TEMPLATE ` + template + ` STRATEGY FILE_COPY`
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// dropDatabase drops a database, ending the sessions left on it (a pool closed late).
func dropDatabase(admin, name string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// withDatabase returns admin with its database replaced by name.
func withDatabase(admin, name string) string {
	cfg := admin
	if i := strings.IndexAny(cfg, "?"); i >= 0 {
		cfg = cfg[:i]
	}
	i := strings.LastIndex(cfg, "/")
	return cfg[:i+1] + name + admin[len(cfg):]
}

// startPostgres makes a throw-away cluster in a temporary directory (initdb) and runs postgres on a
// free loopback port, its unix socket in the same directory, without fsync: the data lives as long as
// the test process. initdb and postgres refuse to run as root, so as root they run as the postgres
// user that Debian's package creates.
func startPostgres() (string, error) {
	for _, bin := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(PostgresBin, bin)); err != nil {
			return "", fmt.Errorf("%s: %w", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "relais-test-postgres-")
	if err != nil {
		return "", err
	}
	cred, err := postgresCredential()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(PostgresBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("initdb: %v\n%s", err, localserver.Tail(string(out), 10))
	}
	port, err := localserver.FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	srv := &pgServer{dir: dir, data: data, port: port, cred: cred,
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if err := srv.start(context.Background()); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	pgRunning = srv
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.mu.Lock()
		srv.proc.Stop(ctx, syscall.SIGINT) // fast shutdown
		srv.mu.Unlock()
		os.RemoveAll(dir)
	}
	started = append(started, stop)
	return srv.url, nil
}

// pgServer is the postgres of this process's cluster: its data directory, port and running process.
type pgServer struct {
	dir, data, url string
	port           int
	cred           *syscall.Credential

	mu   sync.Mutex
	proc *localserver.Process
}

// pgRunning is the cluster startPostgres started (nil: none, or RELAIS_TEST_POSTGRES_URL's).
var pgRunning *pgServer

// start runs postgres on the server's directory and port and waits until it takes connections.
func (s *pgServer) start(ctx context.Context) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(PostgresBin, "postgres"), "-D", s.data,
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(s.port), "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A test process killed before it could stop the server (a timeout) takes the server with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	proc, err := localserver.Start("postgres", cmd)
	if err != nil {
		return err
	}
	err = proc.WaitReady(ctx, 30*time.Second, syscall.SIGINT, func() error {
		conn, err := pgx.Connect(ctx, s.url)
		if err == nil {
			conn.Close(ctx)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, localserver.LogTail(logPath, 10))
	}
	s.proc = proc
	return nil
}

// RestartPostgres stops this test process's PostgreSQL cluster as a crash would (immediate shutdown:
// every session cut, no checkpoint, the WAL replayed at the next start), starts it again on the same
// port and data, and returns once it takes connections. The databases of every test in this process
// go down meanwhile: for a test that runs alone (the chaos run's database restart).
func RestartPostgres(ctx context.Context) error {
	s := pgRunning
	if s == nil {
		return errors.New("testenv: no PostgreSQL cluster of this process's to restart")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.proc.Stop(ctx, syscall.SIGQUIT); err != nil {
		return fmt.Errorf("testenv: stop PostgreSQL: %w", err)
	}
	return s.start(ctx)
}

// postgresCredential returns the postgres user's credential when this process runs as root, nil
// otherwise (the cluster then runs as the current user).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, and there is no postgres user to run initdb and postgres as (install postgresql-15)")
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
