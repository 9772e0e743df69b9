// Command chaos runs Relais' chaos harness (internal/chaos) with the real binaries: one `relais api`,
// several `relais worker`, Redis, mailpit behind a proxy that cuts SMTP connections mid-DATA, and the
// Twilio sandbox answering 429s, 500s and dropped answers; it kills workers and Redis during the sends
// and prints, per channel, what the sinks received against what Relais recorded. It exits 1 when a
// family got a duplicate or nothing, a status disagrees with its sink, or sends stalled too long.
//
// Run it through scripts/chaos.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/relais-edu/relais/internal/chaos"
)

func main() {
	o := chaos.DefaultOptions()
	flag.StringVar(&o.Relais, "relais", "bin/relais", "the relais binary")
	flag.IntVar(&o.Households, "households", o.Households, "households, each sent one SMS and one email")
	flag.IntVar(&o.Workers, "workers", o.Workers, "relais worker processes")
	flag.IntVar(&o.Kills, "kills", o.Kills, "SIGKILLs of a random worker during the sends")
	flag.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the random choices")
	flag.BoolVar(&o.RedisKill, "redis-kill", o.RedisKill, "kill Redis once during the sends and restart it")
	flag.DurationVar(&o.RedisDown, "redis-down", o.RedisDown, "how long Redis stays down")
	flag.StringVar(&o.DatabaseURL, "database-url", "", "RELAIS_DATABASE_URL for every process; empty: SQLite in the run's directory")
	dbRestart := flag.String("database-restart-cmd", "", "shell command that restarts the database once during the sends (e.g. pg_ctl -D DIR restart -m immediate)")
	flag.Float64Var(&o.SMSRate, "sms-rate", o.SMSRate, "RELAIS_SMS_RATE")
	flag.Float64Var(&o.EmailRate, "email-rate", o.EmailRate, "RELAIS_EMAIL_RATE")
	flag.Float64Var(&o.SMTPCutShare, "smtp-cut-share", o.SMTPCutShare, "share of emails whose SMTP connection is cut mid-DATA")
	flag.DurationVar(&o.KillGapMin, "kill-gap-min", o.KillGapMin, "shortest gap between two blows")
	flag.DurationVar(&o.KillGapMax, "kill-gap-max", o.KillGapMax, "longest gap between two blows")
	flag.DurationVar(&o.RestartPause, "restart-pause", o.RestartPause, "how long a killed worker stays down")
	flag.DurationVar(&o.SettleTimeout, "settle-timeout", o.SettleTimeout, "how long to wait, from the publication, for every delivery to settle")
	flag.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "stop waiting when no delivery moved for this long")
	flag.BoolVar(&o.KeepDir, "keep", false, "keep the run's directory (process logs, databases)")
	maxKillStall := flag.Duration("max-kill-stall", 15*time.Second, "longest acceptable stall of sends after a worker kill")
	maxRedisStall := flag.Duration("max-redis-stall", 30*time.Second, "longest acceptable stall of sends after the Redis restart")
	flag.Parse()
	o.Log = os.Stderr
	if *dbRestart != "" {
		o.RestartDatabase = func(ctx context.Context) error {
			cmd := exec.CommandContext(ctx, "sh", "-c", *dbRestart)
			// A database server the command starts in the background inherits its output: once the
			// command exited, its output is not waited for longer (the harness would hang on it).
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
				return fmt.Errorf("%s: %v: %s", *dbRestart, err, out)
			}
			return nil
		}
	}

	// A first interrupt stops the chaos and the wait, and the report shows what the sinks have; a second
	// one ends the program.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	rep, err := chaos.Run(ctx, o)
	if rep != nil {
		fmt.Print(rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	bad := false
	for _, c := range rep.Channels {
		bad = bad || c.Duplicates > 0 || c.Lost > 0 || c.Disagreements > 0
	}
	if d, ok := rep.StallAfter(chaos.EventWorkerKill); ok && d >= *maxKillStall {
		fmt.Printf("sends stalled %s after a worker kill (limit %s)\n", d.Round(100*time.Millisecond), *maxKillStall)
		bad = true
	}
	if d, ok := rep.StallAfter(chaos.EventRedisRestart); ok && d >= *maxRedisStall {
		fmt.Printf("sends stalled %s after the Redis restart (limit %s)\n", d.Round(100*time.Millisecond), *maxRedisStall)
		bad = true
	}
	for _, p := range rep.UnknownProblems(chaos.SMTPConnsPerWorker) {
		fmt.Println(p)
		bad = true
	}
	if bad || !rep.Settled {
		fmt.Println("CHAOS FAILED: duplicates, losses, more unknown than connections died, disagreements, stalls or unsettled deliveries (see above)")
		os.Exit(1)
	}
	fmt.Println("CHAOS OK: every family got each message exactly once and every status matches its sink")
}
