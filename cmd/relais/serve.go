package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/queue"
)

// onPostgres is the help's paragraph on running on PostgreSQL.
const onPostgres = `
The database is SQLite under the data directory unless RELAIS_DATABASE_URL (--database-url) names a
PostgreSQL database, e.g. postgres://relais:PASSWORD@db:5432/relais?sslmode=verify-full&pool_max_conns=20;
its migrations are applied at start. Move an existing installation there with relais db copy; see
docs/operations.md (PostgreSQL) for the pool, TLS and statement timeout settings.`

func cmdServe(ctx context.Context, io *stdio, args []string) error {
	return runServer(ctx, io, args, "serve", "Runs the HTTP API, the workers and the scheduler in one process: the embedded default.\nWith no RELAIS_REDIS_URL or RELAIS_REDIS_ADDR it starts a private redis-server under the data directory.\n"+onPostgres,
		parts{api: true, worker: true})
}

func cmdAPI(ctx context.Context, io *stdio, args []string) error {
	return runServer(ctx, io, args, "api", "Runs only the HTTP API, for a deployment where several machines share one Redis\n(RELAIS_REDIS_URL or RELAIS_REDIS_ADDR, required) and one database.\n"+onPostgres,
		parts{api: true})
}

func cmdWorker(ctx context.Context, io *stdio, args []string) error {
	return runServer(ctx, io, args, "worker", "Runs only the background workers (probe, transcode, digests, worksheets, fan-out, sends),\nfor a deployment sharing one Redis (RELAIS_REDIS_URL or RELAIS_REDIS_ADDR, required) and one database.\n"+onPostgres,
		parts{worker: true})
}

func runServer(ctx context.Context, io *stdio, args []string, name, summary string, p parts) error {
	fs := newFlagSet(io, name, name+" [flags]", summary)
	cfg, err := loadConfig(fs, args, io)
	if err != nil {
		return err
	}
	if name != "serve" {
		var errs []error
		if cfg.RedisAddr == "" && cfg.RedisURL == "" {
			errs = append(errs, fmt.Errorf("relais %s shares Redis with other machines: set RELAIS_REDIS_URL or RELAIS_REDIS_ADDR (or use relais serve, which starts its own)", name))
		}
		if cfg.Secret == "" {
			errs = append(errs, fmt.Errorf("relais %s runs beside other machines that must sign links alike: set RELAIS_SECRET", name))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("configuration:\n%w", indent(err))
		}
	}
	log := newLogger(io, cfg)
	queue.LogRedisTo(log)
	a, err := start(ctx, cfg, p, log)
	if err != nil {
		return err
	}
	log.Info("relais started", "command", name, "version", relais.Version)
	runErr := a.wait(ctx)
	log.Info("relais stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(runErr, a.stop(sctx))
}

func newLogger(io *stdio, cfg Config) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(io.err, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(io.err, opts)
	}
	return slog.New(h)
}

func cmdVersion(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "version", "version", "Prints the version of relais.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(io.out, "relais %s\n", relais.Version)
	return nil
}
