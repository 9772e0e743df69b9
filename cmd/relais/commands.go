package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
)

// command is relais or one of its subcommands. A command runs (run) or holds subcommands (subs), which
// dispatch picks by name.
type command struct {
	name    string
	summary string // one line, in the parent's list
	// usage is a group's help; empty: its summary and the list of its subcommands.
	usage string
	run   func(ctx context.Context, io *stdio, args []string) error
	subs  []command
}

func root() command {
	return command{name: "relais", subs: []command{
		{name: "serve", summary: "run the HTTP API, the workers and the scheduler in one process (the embedded default)", run: cmdServe},
		{name: "api", summary: "run only the HTTP API (several machines share one Redis and one database)", run: cmdAPI},
		{name: "worker", summary: "run only the background workers", run: cmdWorker},
		{name: "demo", summary: "run one lesson through the whole chain on local services and print a summary", run: cmdDemo},
		{name: "twilio-sandbox", summary: "serve a local Twilio-compatible SMS API for tests and the demo", run: cmdTwilioSandbox},
		{name: "lesson", summary: "upload a lesson to a server with a progress bar, or show its status (lesson upload|status)", usage: lessonUsage,
			subs: []command{{name: "upload", run: lessonUpload}, {name: "status", run: lessonStatus}}},
		{name: "media", summary: "probe or render media files with the worker's own code (media probe|render)", usage: mediaUsage,
			subs: []command{{name: "probe", run: cmdMediaProbe}, {name: "render", run: cmdMediaRender}}},
		{name: "sms", summary: "count SMS segments or write a lesson's digest (sms count|digest)", usage: smsUsage,
			subs: []command{{name: "count", run: cmdSMSCount}, {name: "digest", run: cmdSMSDigest}}},
		{name: "bounces", summary: "apply email bounce reports from a Maildir or mbox (bounces import --maildir DIR | --mbox FILE)", usage: bouncesUsage,
			subs: []command{{name: "import", run: cmdBouncesImport}}},
		{name: "token", summary: "create, list, rotate and revoke API tokens (token create|list|rotate|revoke)", usage: tokenUsage,
			subs: []command{{name: "create", run: cmdTokenCreate}, {name: "list", run: cmdTokenList},
				{name: "rotate", run: cmdTokenRotate}, {name: "revoke", run: cmdTokenRevoke}}},
		{name: "classes", summary: "link a teacher to the classes they teach (classes set --user ID --classes A,B | list --user ID)", usage: classesUsage,
			subs: []command{{name: "set", run: cmdClassesSet}, {name: "list", run: cmdClassesList}}},
		{name: "station", summary: "create or list TV and radio stations (station create|list)", usage: stationUsage,
			subs: []command{{name: "create", run: cmdStationCreate}, {name: "list", run: cmdStationList}}},
		{name: "grid", summary: "build station grids and fill them with approved lessons (grid template|slot|cancel|fill|list)", usage: gridUsage,
			subs: []command{{name: "template", run: cmdGridTemplate}, {name: "slot", run: cmdGridSlot}, {name: "cancel", run: cmdGridCancel},
				{name: "fill", run: cmdGridFill}, {name: "list", run: cmdGridList}}},
		{name: "epg", summary: "write a station's XMLTV guide to standard output (epg export)", usage: epgUsage,
			subs: []command{{name: "export", run: cmdEPGExport}}},
		{name: "playlist", summary: "write a station's playout list for a day to standard output (playlist export)", usage: playlistUsage,
			subs: []command{{name: "export", run: cmdPlaylistExport}}},
		{name: "db", summary: "move an embedded installation onto PostgreSQL (db copy --from sqlite:PATH --to postgres://...)", usage: dbUsage,
			subs: []command{{name: "copy", run: cmdDBCopy}}},
		{name: "plan", summary: "print a lesson's publishing plan and capacity check, sending nothing (plan --lesson ID)", run: cmdPlan},
		{name: "version", summary: "print the version", run: cmdVersion},
		{name: "completion", summary: "print a shell completion script (completion bash|zsh|fish)", run: cmdCompletion},
	}}
}

const rootUsage = `Relais turns one uploaded lesson into TV, radio, SMS, email and postal deliveries.

Usage: relais COMMAND [flags]

Commands:
%s
Run 'relais COMMAND --help' for a command's flags. Configuration is read from RELAIS_* environment
variables; flags override them (see the README's configuration table).
`

// run runs the command args name. Help asked for (-h, --help, help) goes to standard output; a usage
// error goes to standard error and ends with status 2.
func run(ctx context.Context, args []string, io *stdio) error {
	return dispatch(ctx, io, root(), "", args)
}

// dispatch runs the subcommand of c that args[0] names; path is how c was called ("", "grid"...).
func dispatch(ctx context.Context, io *stdio, c command, path string, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(io.err, c.help())
		return exitError(2)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if args[0] == "help" && len(args) > 1 { // relais help grid [fill]: that command's help
			return dispatch(ctx, io, c, path, append(args[1:len(args):len(args)], "--help"))
		}
		fmt.Fprint(io.out, c.help())
		return nil
	}
	for _, sub := range c.subs {
		if sub.name != args[0] {
			continue
		}
		if sub.run != nil {
			return sub.run(ctx, io, args[1:])
		}
		return dispatch(ctx, io, sub, strings.TrimSpace(path+" "+sub.name), args[1:])
	}
	fmt.Fprint(io.err, c.help())
	if path == "" {
		return fmt.Errorf("unknown command %q", args[0])
	}
	return fmt.Errorf("%s: unknown subcommand %q", path, args[0])
}

func (c command) help() string {
	if c.usage != "" {
		return c.usage
	}
	var b strings.Builder
	for _, s := range c.subs {
		fmt.Fprintf(&b, "  %-16s %s\n", s.name, s.summary)
	}
	return fmt.Sprintf(rootUsage, b.String())
}

// newFlagSet returns a flag set that prints a usage line and the command's summary on --help.
func newFlagSet(io *stdio, name, usageLine, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{io: io})
	if io.flagSets != nil {
		*io.flagSets = append(*io.flagSets, fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: relais %s\n\n%s\n\nFlags:\n", usageLine, summary)
		fs.PrintDefaults()
	}
	return fs
}

// flagOutput keeps what the flag package writes while parsing until it is known whether help was asked
// for (standard output) or the arguments were wrong (standard error). Otherwise it writes to stderr.
type flagOutput struct {
	io      *stdio
	parsing bool
	buf     bytes.Buffer
}

func (o *flagOutput) Write(p []byte) (int, error) {
	if o.parsing {
		return o.buf.Write(p)
	}
	return o.io.err.Write(p)
}

// parseFlags parses args. After --help (usage printed on stdout) it ends the process with status 0;
// after a bad flag (said on stderr), with status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	o, _ := fs.Output().(*flagOutput)
	if o != nil {
		o.parsing = true
	}
	err := fs.Parse(args)
	if o != nil {
		o.parsing = false
		w := o.io.err
		if errors.Is(err, flag.ErrHelp) {
			w = o.io.out
		}
		w.Write(o.buf.Bytes())
		o.buf.Reset()
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitError(0)
	}
	if err != nil {
		return exitError(2)
	}
	return nil
}

// parseOneArg parses flags that may come before or after the one positional argument the command
// takes, which it returns. Without exactly one, the usage goes to stderr and the status is 2.
func parseOneArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", exitError(2)
	}
	return pos[0], nil
}

// parseInterspersed parses flags that may come before or after the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
