package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/templates"
)

const smsUsage = `Usage: relais sms count|digest [flags]

count   reads a message on stdin and prints its encoding, segments and characters exactly as Twilio's
        segment calculator counts them, and which characters force UCS-2.
digest  condenses a lesson's Markdown into the SMS digest Relais sends, within a segment budget, and
        prints it with its encoding, segment count and what was left out.

Run 'relais sms count --help' or 'relais sms digest --help' for the flags.
`

// cmdSMSCount counts a message's SMS segments as Twilio bills them.
func cmdSMSCount(_ context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "sms count", "sms count [--json] [--smart] < MESSAGE",
		`Counts the message read on stdin as Twilio bills it: GSM-7 (160 characters in one segment, 153 per
segment when concatenated, ^{}\[~]|€ count two) or UCS-2 as soon as one character is outside GSM-7
(70, then 67 per segment; an emoji counts two). One final newline, as echo adds, is not counted.
No character is replaced unless --smart applies Relais' typographic policy (curly quotes, dashes,
ellipsis and no-break spaces become GSM-7; letters are never changed).`)
	asJSON := fs.Bool("json", false, `print only {"encoding":...,"segments":N,"characters":N}`)
	smart := fs.Bool("smart", false, "apply the typographic policy before counting")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError(2)
	}
	b, err := readLimited(io.in)
	if err != nil {
		return fmt.Errorf("sms count: read stdin: %w", err)
	}
	text := strings.TrimSuffix(string(b), "\n")
	if *smart {
		text = sms.Smart(text)
	}
	c := sms.Measure(text)
	if *asJSON {
		out, _ := json.Marshal(struct {
			Encoding   string `json:"encoding"`
			Segments   int    `json:"segments"`
			Characters int    `json:"characters"`
		}{c.Encoding, c.Segments, c.Characters})
		fmt.Fprintf(io.out, "%s\n", out)
		return nil
	}
	fmt.Fprintf(io.out, "encoding:   %s\nsegments:   %d\ncharacters: %d\n", c.Encoding, c.Segments, c.Characters)
	if len(c.NonGSM) > 0 {
		parts := make([]string, len(c.NonGSM))
		for i, g := range c.NonGSM {
			parts[i] = fmt.Sprintf("%q %U", g, []rune(g))
		}
		fmt.Fprintf(io.out, "UCS-2 because of: %s\n", strings.Join(parts, ", "))
	}
	return nil
}

// readLimited reads a message from r, at most 1 MiB (commands take io *stdio, which hides package io).
func readLimited(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 1<<20)) }

// airingsFlag collects --airing STATION@YYYY-MM-DDTHH:MM@ZONE values.
type airingsFlag []sms.Airing

func (a *airingsFlag) String() string { return "" }

func (a *airingsFlag) Set(v string) error {
	parts := strings.Split(v, "@")
	if len(parts) != 3 {
		return fmt.Errorf("want STATION@YYYY-MM-DDTHH:MM@ZONE, got %q", v)
	}
	loc, err := time.LoadLocation(parts[2])
	if err != nil {
		return fmt.Errorf("time zone %q: %w", parts[2], err)
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", parts[1], loc)
	if err != nil {
		return fmt.Errorf("time %q: want YYYY-MM-DDTHH:MM", parts[1])
	}
	*a = append(*a, sms.Airing{Station: parts[0], Start: t})
	return nil
}

func cmdSMSDigest(_ context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "sms digest", "sms digest FILE.md --lang fr [--budget 3] [--title T] [--airing STATION@YYYY-MM-DDTHH:MM@ZONE]...",
		`Writes the SMS digest of a lesson as the worker does: the title, the key points (headings and list
items first, then sentences in order), what to do, and when and where the lesson airs, within the
segment budget. Prints the digest, its encoding, segment and character counts, and what was dropped.`)
	lang := fs.String("lang", "fr", "language of the digest: fr, kk, ru or en")
	budget := fs.Int("budget", sms.DefaultBudget, "SMS segments the digest may use")
	title := fs.String("title", "", "lesson title; empty: the Markdown's first level-1 heading")
	var airings airingsFlag
	fs.Var(&airings, "airing", "an airing, e.g. Balapan@2026-11-27T10:00@Asia/Almaty (repeatable)")
	arg, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	md, err := os.ReadFile(arg)
	if err != nil {
		return fmt.Errorf("sms digest: %w", err)
	}
	ts, err := templates.Load()
	if err != nil {
		return err
	}
	d, err := sms.WriteDigest(ts, sms.DigestInput{Language: *lang, Title: *title, Markdown: string(md), Budget: *budget, Airings: airings})
	if err != nil {
		return fmt.Errorf("sms digest: %w", err)
	}
	fmt.Fprintf(io.out, "%s\n\n", d.Body)
	fmt.Fprintf(io.out, "encoding: %s, %d segment(s) of a budget of %d, %d characters\n", d.Encoding, d.Segments, *budget, d.Characters)
	if len(d.Dropped) == 0 {
		fmt.Fprintln(io.out, "dropped: nothing")
		return nil
	}
	fmt.Fprintf(io.out, "dropped (%d):\n", len(d.Dropped))
	for _, s := range d.Dropped {
		fmt.Fprintf(io.out, "  - %s\n", s)
	}
	return nil
}
