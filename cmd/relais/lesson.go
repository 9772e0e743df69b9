package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/client"
)

const lessonUsage = `Usage: relais lesson upload FILE --text LESSON.md --title T --subject S --grade N --language fr [flags]
       relais lesson status ID

upload sends a lesson to a Relais server through its API, showing the upload's progress, then waits
while the server checks and renders it (unless --no-wait), and exits 0 when it is ready, 1 when it was
refused (with the reason). The recording goes up in chunks with the resumable upload protocol (tus):
when the connection drops, upload waits a little, asks the server how much it has and sends only the
rest (--resume-attempts times at most, from the last chunk that went through). status prints a
lesson's state.

The server and the token come from --server and --token, or RELAIS_SERVER and RELAIS_TOKEN.
`

// serverFlags adds --server and --token (RELAIS_SERVER, RELAIS_TOKEN) to a new flag set; the client is
// ready once the flags are parsed.
func serverFlags(sio *stdio, name, usage, summary string) (*client.Client, *flag.FlagSet) {
	fs := newFlagSet(sio, name, usage, summary)
	c := &client.Client{}
	server := sio.getenv("RELAIS_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.BaseURL, "server", server, "base URL of the Relais server [RELAIS_SERVER]")
	fs.StringVar(&c.Token, "token", sio.getenv("RELAIS_TOKEN"), "API token (relais token create) [RELAIS_TOKEN]")
	return c, fs
}

func lessonUpload(ctx context.Context, sio *stdio, args []string) error {
	c, fs := serverFlags(sio, "lesson upload", "lesson upload FILE --text LESSON.md --title T --subject S --grade N --language fr [flags]",
		"Uploads a lesson, showing the upload's progress and resuming it from where the server stopped when the\nconnection drops, then waits while the server checks and renders it. An upload it gave up on is\nremembered (in the user's cache directory): running the same command again continues it.")
	text := fs.String("text", "", "the lesson text in Markdown (required)")
	title := fs.String("title", "", "title (required)")
	subject := fs.String("subject", "", "subject (required)")
	grade := fs.String("grade", "", "school grade, 0-13 (required)")
	lang := fs.String("language", "", "fr, kk, ru or en (required)")
	region := fs.String("region", "", "only households of this region receive it")
	sheet := fs.String("worksheet", "", "a PDF worksheet; without it one is made from the text")
	budget := fs.String("budget", "", "SMS segments for the digest (default: the server's, 3)")
	noWait := fs.Bool("no-wait", false, "return after the upload instead of waiting for the renditions")
	attempts := fs.Int("resume-attempts", 10, "how often to resume after the connection drops, waiting 1 s, 2 s, 4 s... (at most 30 s) in between")
	chunk := fs.String("chunk-size", "8MiB", "bytes sent per request, e.g. 4MiB; smaller chunks lose less on a poor connection")
	arg, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"--text": *text, "--title": *title, "--subject": *subject, "--grade": *grade, "--language": *lang} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		fmt.Fprintf(sio.err, "relais lesson upload: missing %s (see --help)\n", strings.Join(missing, ", "))
		return exitError(2)
	}
	if c.Token == "" {
		return errors.New("no API token: give --token or set RELAIS_TOKEN (create one with relais token create)")
	}
	chunkSize, err := parseSize(*chunk)
	if err != nil {
		return fmt.Errorf("--chunk-size: %w", err)
	}
	if *attempts < 0 {
		return errors.New("--resume-attempts must be 0 or more")
	}
	media := arg
	if _, err := os.Stat(media); err != nil {
		return fmt.Errorf("media file: %w", err)
	}
	md, err := os.ReadFile(*text)
	if err != nil {
		return fmt.Errorf("--text: %w", err)
	}
	fields := map[string]string{"title": *title, "subject": *subject, "grade": *grade, "language": *lang,
		"region": *region, "segment_budget": *budget, "text": string(md)}

	bar := newProgress(sio.err, "Uploading")
	up := &client.Upload{Client: c, Chunk: chunkSize, Attempts: *attempts,
		Progress: func(sent, total int64) { bar.set(int(sent * 100 / max(total, 1))) },
		Note:     func(format string, args ...any) { bar.interrupt(fmt.Sprintf(format, args...)) },
		Memo:     client.NewUploadMemo()}
	loc, err := up.Send(ctx, media)
	var refused *client.Error
	if errors.As(err, &refused) && !refused.Retryable() {
		bar.fail()
		fmt.Fprintf(sio.err, "Upload refused: %v\n", err)
		return exitError(1)
	} else if err != nil {
		bar.fail()
		return fmt.Errorf("upload %s: %w", media, err)
	}
	fields["upload"] = loc

	// The lesson itself: its fields, the optional worksheet, and the finished upload.
	var parts []client.Part
	if *sheet != "" {
		parts = append(parts, client.FilePart("worksheet", *sheet))
	}
	l, err := c.CreateLesson(ctx, fields, parts...)
	if err != nil {
		bar.fail()
		fmt.Fprintf(sio.err, "Upload refused: %v\n", err)
		return exitError(1)
	}
	up.Done()
	bar.done()
	fmt.Fprintf(sio.out, "Lesson %d %q uploaded.\n", l.ID, l.Title)
	if *noWait {
		return nil
	}
	return waitProcessing(ctx, sio, c, l.ID)
}

// waitProcessing follows the lesson's steps until it is ready or refused.
func waitProcessing(ctx context.Context, sio *stdio, c *client.Client, id int64) error {
	var bar *progress
	step := ""
	l, err := c.WaitLesson(ctx, id, 500*time.Millisecond, func(l api.Lesson) {
		if l.Progress.Step != step && l.Progress.Step != "" && l.Progress.Step != "done" {
			if bar != nil {
				bar.done()
			}
			step = l.Progress.Step
			bar = newProgress(sio.err, stepNames[step]+strings.Repeat(" ", max(0, 9-len(stepNames[step]))))
		}
		if bar != nil {
			bar.set(l.Progress.Percent)
		}
	})
	if err != nil {
		return err
	}
	if l.Status == relais.LessonRejected || l.Status == relais.LessonFailed {
		if bar != nil {
			bar.fail()
		}
		fmt.Fprintf(sio.out, "Lesson %d was %s: %s\n", id, l.Status, l.StatusReason)
		return exitError(1)
	}
	if bar != nil {
		bar.done()
	}
	fmt.Fprintf(sio.out, "Lesson %d is ready: %d renditions, %d digests, worksheet %v.\n", id, len(l.Renditions), len(l.Digests), l.Worksheet != nil)
	return nil
}

var stepNames = map[string]string{"probe": "Checking", "transcode": "Rendering", "measure": "Measuring", "": "Waiting"}

func lessonStatus(ctx context.Context, sio *stdio, args []string) error {
	c, fs := serverFlags(sio, "lesson status", "lesson status ID", "Prints a lesson's status, renditions, digests and deliveries as JSON.")
	arg, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	var l json.RawMessage
	if err := c.Do(ctx, http.MethodGet, "/api/v1/lessons/"+url.PathEscape(arg), nil, "", http.StatusOK, &l); err != nil {
		return err
	}
	_, err = fmt.Fprintf(sio.out, "%s\n", l)
	return err
}

// progress draws a bar on a terminal, and a line per 10 % elsewhere (logs, CI).
type progress struct {
	w     io.Writer
	label string
	tty   bool
	last  int
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, last: -1}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) set(pct int) {
	pct = min(max(pct, 0), 100)
	if p.tty {
		if pct != p.last {
			fmt.Fprintf(p.w, "\r%s [%-30s] %3d %%", p.label, strings.Repeat("#", pct*30/100), pct)
		}
	} else if pct/10 != p.last/10 || p.last < 0 {
		fmt.Fprintf(p.w, "%s %d %%\n", p.label, pct)
	}
	p.last = pct
}

// interrupt prints a message under the bar, which is drawn again on the next set.
func (p *progress) interrupt(msg string) {
	if p.tty {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintln(p.w, msg)
	p.last = -1
}

func (p *progress) done() {
	p.set(100)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) fail() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// parseSize reads a size such as 8MiB, 512KiB or 1048576 (bytes).
func parseSize(s string) (int64, error) {
	n, err := relais.ParseBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 8MiB, 512KiB or a number of bytes", s)
	}
	return n, nil
}
