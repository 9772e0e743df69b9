// Command relais runs the Relais lesson distribution system: the HTTP API, the workers, the scheduler,
// the end-to-end demo, the Twilio sandbox and the tools for media and SMS staff.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/relais-edu/relais/ingest"
)

func main() {
	if ingest.IsChild() { // the worker re-executes this binary for FFmpeg work
		os.Exit(ingest.ChildMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, lookupEnv: os.LookupEnv})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode is the process status for what run returned: 0 on success, the status of an exitError (the
// command said why), else 2 after printing the error to stderr.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return int(ee)
	}
	fmt.Fprintln(stderr, "relais:", err)
	return 2
}

// stdio is what a command reads and writes; tests give their own.
type stdio struct {
	in        io.Reader
	out       io.Writer
	err       io.Writer
	lookupEnv func(string) (string, bool)
	// flagSets, when set, collects the flag set of each command run (shell completion reads the
	// commands' flags this way).
	flagSets *[]*flag.FlagSet
}

// getenv is the variable's value, empty when it is unset.
func (s *stdio) getenv(k string) string {
	v, _ := s.lookupEnv(k)
	return v
}

// exitError ends the process with that status and no further message (the command said why).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
