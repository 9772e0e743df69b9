package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/store/sqlite"
)

const dbUsage = `Usage: relais db copy --from sqlite:PATH --to postgres://USER:PASSWORD@HOST:PORT/DB

Moves an embedded installation onto PostgreSQL: copies every table of the SQLite database (lessons,
households, deliveries with their history and timeline, tokens, stations, grids, postal batches, ...)
into an empty PostgreSQL database, keeping ids, then counts the rows of each table on both sides and
prints them. Stop Relais before copying; see docs/operations.md.
`

func cmdDBCopy(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "db copy", "db copy --from sqlite:PATH --to postgres://...",
		"Copies a whole SQLite installation into an empty PostgreSQL database, keeping ids, and checks the row counts table by table.")
	from := fs.String("from", "", "the SQLite database: sqlite:PATH (the data directory's relais.db)")
	to := fs.String("to", "", "the empty PostgreSQL database: postgres://user:password@host:port/db?sslmode=...")
	batch := fs.Int("batch", 10000, "rows per COPY batch")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !strings.HasPrefix(*from, "sqlite:") || len(*from) == len("sqlite:") {
		return errors.New("--from must be sqlite:PATH, the embedded installation's database file")
	}
	if !isPostgresURL(*to) {
		return errors.New("--to must be a postgres:// URL")
	}
	path := strings.TrimPrefix(*from, "sqlite:")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("--from: %w", err) // sqlite.Open would make an empty database
	}
	src, err := sqlite.Open(ctx, path) // brings an older installation's schema up to date first
	if err != nil {
		return fmt.Errorf("source %s: %w", path, err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		return err // names the URL without its password
	}
	defer dst.Close()
	fmt.Fprintf(io.err, "copying %s into %s\n", path, postgres.Redact(*to))
	counts, err := dst.CopyIn(ctx, src.Reader(), *batch, func(table string, rows int64) {
		fmt.Fprintf(io.err, "  %-24s %d rows\n", table, rows)
	})
	if counts != nil {
		w := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "table\tsqlite\tpostgres\t")
		for _, c := range counts {
			mark := ""
			if c.Source != c.Dest {
				mark = "  differs"
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", c.Table, c.Source, c.Dest, mark)
		}
		w.Flush()
	}
	if err != nil {
		return fmt.Errorf("copy into %s: %w", postgres.Redact(*to), err)
	}
	return nil
}
