package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
)

// command is one subcommand of relais.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io *stdio, args []string) error
}

var errUsageShown = errors.New("usage shown")

func commands() []command {
	return []command{
		{"serve", "run the HTTP API, the workers and the scheduler in one process (the embedded default)", cmdServe},
		{"api", "run only the HTTP API (several machines share one Redis and one database)", cmdAPI},
		{"worker", "run only the background workers", cmdWorker},
		{"demo", "run one lesson through the whole chain on local services and print a summary", cmdDemo},
		{"twilio-sandbox", "serve a local Twilio-compatible SMS API for tests and the demo", cmdTwilioSandbox},
		{"lesson", "upload a lesson to a server with a progress bar, or show its status (lesson upload|status)", cmdLesson},
		{"media", "probe or render media files with the worker's own code (media probe|render)", cmdMedia},
		{"sms", "count SMS segments or write a lesson's digest (sms count|digest)", cmdSMS},
		{"bounces", "apply email bounce reports from a Maildir or mbox (bounces import --maildir DIR | --mbox FILE)", cmdBounces},
		{"token", "create API tokens (token create --user ID --role teacher|media|admin)", cmdToken},
		{"station", "create or list TV and radio stations (station create|list)", cmdStation},
		{"grid", "build station grids and fill them with approved lessons (grid template|slot|cancel|fill|list)", cmdGrid},
		{"epg", "write a station's XMLTV guide to standard output (epg export)", cmdEPG},
		{"playlist", "write a station's playout list for a day to standard output (playlist export)", cmdPlaylist},
		{"plan", "print a lesson's publishing plan and capacity check, sending nothing (plan --lesson ID)", cmdPlan},
		{"version", "print the version", cmdVersion},
	}
}

func run(ctx context.Context, args []string, io *stdio) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io)
		if len(args) == 0 {
			return errUsageShown
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, io, args[1:])
		}
	}
	usage(io)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(io *stdio) {
	var b strings.Builder
	b.WriteString("Relais turns one uploaded lesson into TV, radio, SMS, email and postal deliveries.\n\n")
	b.WriteString("Usage: relais COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-16s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'relais COMMAND --help' for a command's flags. Configuration is read from RELAIS_* environment\nvariables; flags override them (see the README's configuration table).\n")
	fmt.Fprint(io.err, b.String())
}

// newFlagSet returns a flag set that prints a usage line and the command's summary on --help.
func newFlagSet(io *stdio, name, usageLine, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {
		fmt.Fprintf(io.err, "Usage: relais %s\n\n%s\n\nFlags:\n", usageLine, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; after --help (usage printed) it ends the process with status 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitError(0)
	}
	if err != nil {
		return exitError(2)
	}
	return nil
}
