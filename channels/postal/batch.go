package postal

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/worksheet"
)

// BatchStore is what making a batch's files reads.
type BatchStore interface {
	Lesson(ctx context.Context, id int64) (relais.Lesson, error)
	Worksheet(ctx context.Context, lessonID int64) (relais.Worksheet, error)
	// PostalPackets returns a page of a batch's households, in delivery id order after p.After.
	PostalPackets(ctx context.Context, batchID int64, p relais.Page) ([]relais.PostalPacket, error)
	// AdvanceDelivery fails the delivery of a household whose packet cannot be made.
	AdvanceDelivery(ctx context.Context, id int64, status relais.DeliveryStatus, detail, providerID string) (bool, error)
}

// Batch says what a batch's files are made with.
type Batch struct {
	Media   relais.MediaStore // the files go under postal/ in it; the worksheet is read from it
	TempDir string            // where the files are written before they go into Media; "": the system's
	Date    time.Time         // printed on the cover letters
	// Schedule lists the week's broadcasts for the lesson's grade on the stations the batch's region
	// receives, with their lessons' titles: printed on the cover letters. Nil: none printed.
	Schedule func(ctx context.Context, grade int, region string, from time.Time) ([]relais.Airing, error)
}

// BatchFiles says where a batch's files were written.
type BatchFiles struct {
	Households int
	Refused    int // households whose delivery failed because their packet cannot be made
	PDFPath    string
	PDFBytes   int64
	CSVPath    string
}

// packetPageSize is how many households making a batch reads at a time.
const packetPageSize = 500

// Files returns where a batch's PDF and CSV are written under mediaDir, a local media directory.
func Files(mediaDir string, batchID int64) (pdf, csv string) {
	base := filepath.Join(mediaDir, "postal", "batch-"+strconv.FormatInt(batchID, 10))
	return base + ".pdf", base + ".csv"
}

// Write writes b's PDF (per household a cover letter for a window envelope, then the worksheet) and
// its CSV of addresses, reading households a page at a time. The files are written under temporary
// names and renamed, so a second run replaces them whole. An error that retrying cannot fix (no
// worksheet yet, no household) has code invalid.
func (m Batch) Write(ctx context.Context, store BatchStore, b relais.PostalBatch) (BatchFiles, error) {
	l, err := store.Lesson(ctx, b.LessonID)
	if err != nil {
		return BatchFiles{}, err
	}
	ws, err := store.Worksheet(ctx, l.ID)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return BatchFiles{}, relais.Errorf(relais.EINVALID, "Lesson %d has no worksheet yet.", l.ID)
	} else if err != nil {
		return BatchFiles{}, err
	}
	sheet, err := readAll(ctx, m.Media, ws.Path)
	if err != nil {
		return BatchFiles{}, fmt.Errorf("read worksheet of lesson %d: %w", l.ID, err)
	}
	var broadcasts []worksheet.Broadcast
	if m.Schedule != nil {
		airings, err := m.Schedule(ctx, l.Grade, b.Region, m.Date)
		if err != nil {
			return BatchFiles{}, err
		}
		for _, a := range airings {
			broadcasts = append(broadcasts, worksheet.Broadcast{Station: a.Station, Kind: a.Kind, Start: a.Start, Title: a.Title})
		}
	}
	packets, err := worksheet.NewPackets(worksheet.PacketsInput{Title: l.Title, Subject: l.Subject, Grade: l.Grade,
		Sender: "Relais · " + b.Region, Worksheet: sheet, Date: m.Date, Broadcasts: broadcasts})
	if err != nil {
		return BatchFiles{}, err
	}

	pdfKey, csvKey := Files("", b.ID)
	pdfKey, csvKey = filepath.ToSlash(pdfKey), filepath.ToSlash(csvKey)
	dir := m.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return BatchFiles{}, err
	}
	csvTmp, err := os.CreateTemp(dir, ".batch-*.csv")
	if err != nil {
		return BatchFiles{}, err
	}
	defer os.Remove(csvTmp.Name())
	defer csvTmp.Close()
	bw := bufio.NewWriter(csvTmp)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true // RFC 4180: mail houses and spreadsheets expect CRLF
	cw.Write(CSVHeader)

	n, refused := 0, 0
	for after := int64(0); ; {
		page, err := store.PostalPackets(ctx, b.ID, relais.Page{After: after, Limit: packetPageSize})
		if err != nil {
			return BatchFiles{}, err
		}
		for _, pk := range page {
			h := pk.Household
			lines := AddressLines(h.PostalAddress)
			first, err := packets.Add(worksheet.Letter{Address: lines, Language: h.Language, Ref: h.ExternalRef})
			if relais.ErrorCode(err) == relais.EINVALID {
				// This household's letter cannot be printed (its address, imported before addresses were
				// checked): its delivery fails with the reason, the others' packets are made.
				if _, err := store.AdvanceDelivery(ctx, pk.DeliveryID, relais.DeliveryFailed, relais.ErrorMessage(err), ""); err != nil {
					return BatchFiles{}, err
				}
				refused++
				continue
			} else if err != nil {
				return BatchFiles{}, err
			}
			n++
			cw.Write(csvRow(n, first, pk, lines))
		}
		if len(page) < packetPageSize {
			break
		}
		after = page[len(page)-1].DeliveryID
	}
	if n == 0 && refused > 0 {
		return BatchFiles{}, relais.Errorf(relais.EINVALID, "No household of postal batch %d has an address its letter can print (%d refused; see their deliveries).", b.ID, refused)
	} else if n == 0 {
		return BatchFiles{}, relais.Errorf(relais.EINVALID, "Postal batch %d has no household.", b.ID)
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), bw.Flush(), csvTmp.Sync(), csvTmp.Close()); err != nil {
		return BatchFiles{}, fmt.Errorf("write %s: %w", csvKey, err)
	}

	pdfTmp, err := os.CreateTemp(dir, ".batch-*.pdf")
	if err != nil {
		return BatchFiles{}, err
	}
	defer os.Remove(pdfTmp.Name())
	defer pdfTmp.Close()
	pw := bufio.NewWriterSize(pdfTmp, 1<<16)
	size, err := packets.WriteTo(pw)
	if err == nil {
		err = errors.Join(pw.Flush(), pdfTmp.Sync(), pdfTmp.Close())
	}
	if err != nil {
		return BatchFiles{}, fmt.Errorf("write %s: %w", pdfKey, err)
	}
	csvPath, err := m.Media.PutFile(ctx, csvKey, csvTmp.Name())
	if err != nil {
		return BatchFiles{}, err
	}
	pdfPath, err := m.Media.PutFile(ctx, pdfKey, pdfTmp.Name())
	if err != nil {
		return BatchFiles{}, err
	}
	return BatchFiles{Households: n, Refused: refused, PDFPath: pdfPath, PDFBytes: size, CSVPath: csvPath}, nil
}

// AddressLines splits a postal address into its non-empty lines.
func AddressLines(addr string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(addr, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// CSVHeader heads the CSV: one row per packet, in PDF order, for a mail merge or a franking machine.
var CSVHeader = []string{"packet", "first_page", "delivery_id", "household_ref", "region", "language",
	"address_line_1", "address_line_2", "address_line_3", "address_line_4", "address_line_5", "address_line_6", "address"}

const csvLines = 6

func csvRow(n, firstPage int, pk relais.PostalPacket, lines []string) []string {
	h := pk.Household
	row := []string{strconv.Itoa(n), strconv.Itoa(firstPage), strconv.FormatInt(pk.DeliveryID, 10), h.ExternalRef,
		h.Region, h.Language}
	for i := 0; i < csvLines; i++ {
		switch {
		case i == csvLines-1 && len(lines) > csvLines:
			row = append(row, strings.Join(lines[i:], ", "))
		case i < len(lines):
			row = append(row, lines[i])
		default:
			row = append(row, "")
		}
	}
	return append(row, strings.Join(lines, "\n"))
}

// readAll reads the object at loc of media.
func readAll(ctx context.Context, media relais.MediaStore, loc string) ([]byte, error) {
	o, err := media.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}
