// Command relais runs the Relais lesson distribution system: the HTTP API, the workers, the scheduler,
// the end-to-end demo, the Twilio sandbox and the tools for media and SMS staff.
package main

import (
	"context"
	"errors"
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
	err := run(ctx, os.Args[1:], &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv})
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		if !errors.Is(err, errUsageShown) {
			fmt.Fprintln(os.Stderr, "relais:", err)
		}
		os.Exit(2)
	}
}

// stdio is what a command reads and writes; tests give their own.
type stdio struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	getenv func(string) string
}

// exitError ends the process with that status and no further message (the command said why).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
