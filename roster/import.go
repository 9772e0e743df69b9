package roster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// Upserter stores households; relais.Store is one.
type Upserter interface {
	UpsertHouseholds(ctx context.Context, hs []relais.Household) error
}

// ImportResult reports a household import.
type ImportResult struct {
	Imported int        `json:"imported"`
	Rejected int        `json:"rejected"`
	Errors   []RowError `json:"errors"`
	// Removed counts, for a full import, the households it newly marked as removed from the roster.
	Removed int64 `json:"removed,omitempty"`
}

// Remover marks the households a full import did not list as removed from the roster;
// relais.PrivacyStore is one.
type Remover interface {
	MarkRemoved(ctx context.Context, listed []string, now time.Time) (int64, error)
}

// importChunk is how many households one transaction stores.
const importChunk = 5000

// importWriters is how many chunks are stored at once: on PostgreSQL two server processes write
// them, where one was the import's bound.
const importWriters = 2

// Importer imports CSVs of households into a store; the JSON API and the import page share one.
type Importer struct {
	Store    Upserter
	Options  Options
	MaxBytes int64 // one CSV; the surfaces limit their request bodies to it
}

// Import reads a CSV of households from r and stores its good rows; the bad rows come back with their
// row number and reason, written in lang. A body cut by http.MaxBytesReader is refused as too large,
// with nothing stored: the body is read whole first. Rows are then checked and stored at once, a
// chunk of good rows stored (one transaction each, importWriters at once) while the next ones are checked.
func (im *Importer) Import(ctx context.Context, r io.Reader, lang string) (ImportResult, error) {
	return im.read(ctx, r, lang, nil)
}

// ImportFull imports a CSV that is the whole roster: after Import's work, the households it does not
// list are marked removed at now (their retention, RELAIS_REMOVED_RETENTION, starts) and those it lists
// are back in. A file with a refused row marks nothing: a family whose row was refused is not gone.
func (im *Importer) ImportFull(ctx context.Context, r io.Reader, lang string, rm Remover, now time.Time) (ImportResult, error) {
	var listed []string
	res, err := im.read(ctx, r, lang, &listed)
	if err != nil || res.Rejected > 0 || res.Imported == 0 {
		return res, err
	}
	if res.Removed, err = rm.MarkRemoved(ctx, listed, now); err != nil {
		return res, err
	}
	return res, nil
}

// read is Import, adding the references stored to listed when it is not nil.
func (im *Importer) read(ctx context.Context, r io.Reader, lang string, listed *[]string) (ImportResult, error) {
	body, err := io.ReadAll(r)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ImportResult{}, relais.Errorf(relais.ETOOLARGE, "The file is larger than the limit of %s; split it into several imports.", relais.HumanBytes(mbe.Limit))
	} else if err != nil {
		return ImportResult{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []relais.Household, 1)
	var bad []RowError
	var parseErr error
	go func() { // owned by Import, which reads chunks until it is closed
		defer close(chunks)
		rows := bytes.Count(body, []byte{'\n'})
		if im.Options.MaxRows > 0 {
			rows = min(rows, im.Options.MaxRows)
		}
		_, bad, parseErr = parse(bytes.NewReader(body), im.Options, rows, importChunk, func(hs []relais.Household) error {
			select {
			case chunks <- hs:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	// The good rows of a file have distinct references (a repeat is a row error): its chunks can be
	// stored in any order, importWriters at a time.
	var (
		mu       sync.Mutex
		imported int
		storeErr error
		wg       sync.WaitGroup
	)
	for range importWriters {
		wg.Go(func() {
			for hs := range chunks {
				if ctx.Err() != nil {
					continue // drain: the parse stops at its next chunk
				}
				err := im.Store.UpsertHouseholds(ctx, hs)
				mu.Lock()
				if err != nil {
					if storeErr == nil {
						storeErr = err
					}
					cancel()
				} else {
					imported += len(hs)
					if listed != nil {
						for _, h := range hs {
							*listed = append(*listed, h.ExternalRef)
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if storeErr == nil && ctx.Err() != nil {
		storeErr = ctx.Err() // the caller's context ended
	}
	if storeErr != nil {
		return ImportResult{}, storeErr
	}
	if parseErr != nil {
		return ImportResult{}, parseErr
	}
	if bad == nil {
		bad = []RowError{}
	}
	for i := range bad {
		if bad[i].Problem != nil {
			bad[i].Message = locale.Message(bad[i].Problem, lang)
		}
	}
	return ImportResult{Imported: imported, Rejected: len(bad), Errors: bad}, nil
}

// AllRefused reports whether an import stored nothing and refused rows: the surfaces answer it as
// unprocessable (422), still with the row errors to show.
func (r ImportResult) AllRefused() bool { return r.Imported == 0 && r.Rejected > 0 }

// CSVBody is the CSV of a household import request: a text/csv body, or the multipart field 'file'.
func CSVBody(r *http.Request) (io.Reader, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "text/csv" || ct == "application/csv" || ct == "text/plain":
		return r.Body, nil
	case strings.HasPrefix(ct, "multipart/"):
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, relais.Errorf(relais.EINVALID, "The multipart body cannot be read: %v.", err)
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				return nil, relais.Errorf(relais.EINVALID, "Send the CSV in a multipart field named 'file'.")
			}
			if p.FormName() == "file" {
				return p, nil
			}
		}
	}
	return nil, relais.Errorf(relais.EINVALID, "Send the households as text/csv (or multipart/form-data with a 'file' field); got %q.", ct)
}
