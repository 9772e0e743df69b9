package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/queue"
)

const bouncesUsage = `Usage: relais bounces import --maildir DIR | --mbox FILE

Reads delivery status reports (RFC 3464 bounces) from a Maildir (DIR/new and DIR/cur) or an mbox file
and applies them: a hard bounce (failed, 5.x.x) marks the address invalid, so no later email goes to it,
and fails the delivery named by the bounced message's Message-ID; a soft bounce (delayed, failed 4.x.x)
is recorded in the delivery's history. Other mail is skipped. Reading the same mailbox twice changes
nothing the second time. The API takes one report at a time: POST /api/v1/bounces.
`

func cmdBouncesImport(ctx context.Context, std *stdio, args []string) error {
	fs := newFlagSet(std, "bounces import", "bounces import --maildir DIR | --mbox FILE",
		"Applies the bounce reports of a Maildir or an mbox file: hard bounces suppress the address and fail\n"+
			"the delivery; soft bounces are recorded.")
	maildir := fs.String("maildir", "", "Maildir to read (its new and cur folders)")
	mbox := fs.String("mbox", "", "mbox file to read")
	cfg, err := loadSettings(fs, args, std, dbSettings...)
	if err != nil {
		return err
	}
	if (*maildir == "") == (*mbox == "") {
		fs.Usage()
		return errors.New("bounces import: give exactly one of --maildir and --mbox")
	}
	var total channels.ReportResult
	err = withStore(ctx, cfg, func(db relais.Store) error {
		total, err = importReports(ctx, std, db, *maildir, *mbox)
		return err
	})
	if err != nil || len(total.Resend) == 0 {
		return err
	}
	return resendBounced(ctx, std, cfg, total.Resend)
}

// importReports applies the reports of the Maildir, or else of the mbox file, and says what they did.
func importReports(ctx context.Context, std *stdio, db relais.Store, maildir, mbox string) (channels.ReportResult, error) {
	var total channels.ReportResult
	reports, ok := knownChannels().ReportReader()
	if !ok {
		return total, errors.New("bounces import: no channel reads delivery status reports")
	}
	ledger := channels.NewLedger(db, nil) // a report is applied at once
	var read, other int
	apply := func(name string, r io.Reader) error {
		res, err := reports.ReadReport(ctx, db, ledger, r)
		if errors.Is(err, channels.ErrNotReport) {
			other++
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		read++
		total.Add(res)
		return nil
	}
	var err error
	if maildir != "" {
		err = readMaildir(maildir, apply)
	} else {
		err = readMbox(mbox, apply)
	}
	if err != nil {
		return total, fmt.Errorf("bounces import: %w", err)
	}
	if read > 0 {
		recordShell(ctx, std, db, relais.AuditImport, "bounce report")
	}
	fmt.Fprintf(std.out, "%d reports, %d other messages skipped: %d hard bounces (addresses suppressed, %d deliveries failed), %d soft bounces recorded, %d ignored\n",
		read, other, total.Hard, len(total.Failed), total.Soft, total.Ignored)
	return total, nil
}

// resendBounced queues again the email deliveries whose relay gave up, on the workers' Redis.
func resendBounced(ctx context.Context, std *stdio, cfg Config, ids []int64) error {
	opt, err := cfg.redis() // checked by loadConfig
	if err != nil || opt == nil {
		return fmt.Errorf("%d deliveries whose relay gave up are to be sent again: set RELAIS_REDIS_URL (or RELAIS_REDIS_ADDR) to the workers' Redis, or post the reports to POST /api/v1/bounces", len(ids))
	}
	q := queue.NewClient(opt)
	defer q.Close()
	for _, id := range ids {
		if err := q.Resend(ctx, id); err != nil {
			return err
		}
	}
	fmt.Fprintf(std.out, "%d deliveries queued to be sent again\n", len(ids))
	return nil
}

// readMaildir hands each message of dir/new and dir/cur to fn, in name order.
func readMaildir(dir string, fn func(name string, r io.Reader) error) error {
	var paths []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				paths = append(paths, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	if len(paths) == 0 {
		if _, err := os.Stat(filepath.Join(dir, "cur")); err != nil {
			return fmt.Errorf("%s is not a Maildir (no new or cur folder)", dir)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = fn(p, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// readMbox hands each message of an mbox file to fn. Messages start at a "From " line; a body line
// quoted as ">From " (mboxrd, mboxo) is unquoted.
func readMbox(path string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var msg bytes.Buffer
	n, started := 0, false
	flush := func() error {
		if !started {
			return nil
		}
		n++
		err := fn(fmt.Sprintf("%s message %d", path, n), bytes.NewReader(msg.Bytes()))
		msg.Reset()
		return err
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			switch {
			case bytes.HasPrefix(line, []byte("From ")):
				if err := flush(); err != nil {
					return err
				}
				started = true
			case started:
				if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
					line = line[1:]
				}
				msg.Write(line)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if !started {
		return fmt.Errorf("%s is not an mbox file (no \"From \" line)", path)
	}
	return flush()
}
