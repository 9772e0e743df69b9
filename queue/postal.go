package queue

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/worksheet"
)

// TypePostalBatch makes the PDF and CSV of a postal batch.
const TypePostalBatch = "postal:batch"

// PostalBatchPayload names a postal batch.
type PostalBatchPayload struct {
	BatchID int64 `json:"batch_id"`
}

// postalPageSize is how many households the batch task reads at a time.
const postalPageSize = 500

// PostalBatch queues the making of a batch's files.
func (c *Client) PostalBatch(ctx context.Context, batchID int64) error {
	return c.enqueue(ctx, TypePostalBatch, PostalBatchPayload{BatchID: batchID}, asynq.Queue(QueueDefault),
		asynq.TaskID(fmt.Sprintf("%s:%d", TypePostalBatch, batchID)), asynq.MaxRetry(5))
}

// PostalBatchFiles returns where a batch's PDF and CSV are written under mediaDir.
func PostalBatchFiles(mediaDir string, batchID int64) (pdf, csv string) {
	base := filepath.Join(mediaDir, "postal", "batch-"+strconv.FormatInt(batchID, 10))
	return base + ".pdf", base + ".csv"
}

// handlePostalBatch writes a pending batch's PDF (per household a cover letter for a window envelope,
// then the worksheet) and its CSV of addresses, reading households a page at a time, and marks the batch
// ready. The files are written under temporary names and renamed, so a re-run replaces them whole.
func (w *Worker) handlePostalBatch(ctx context.Context, t *asynq.Task) error {
	var p PostalBatchPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	b, err := w.store.PostalBatch(ctx, p.BatchID)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return fmt.Errorf("postal batch %d: %w", p.BatchID, errors.Join(err, asynq.SkipRetry))
	} else if err != nil {
		return err
	}
	if b.Status != relais.PostalBatchPending {
		return nil // made by an earlier run
	}
	err = w.writePostalBatch(ctx, b)
	if relais.ErrorCode(err) == relais.EINVALID || relais.ErrorCode(err) == relais.ENOTFOUND || (err != nil && lastAttempt(ctx)) {
		if ferr := w.store.SetPostalBatchFailed(ctx, b.ID, relais.ErrorMessage(err)); ferr != nil {
			return ferr
		}
		return fmt.Errorf("postal batch %d: %w", b.ID, errors.Join(err, asynq.SkipRetry))
	}
	return err
}

func (w *Worker) writePostalBatch(ctx context.Context, b relais.PostalBatch) error {
	l, err := w.store.Lesson(ctx, b.LessonID)
	if err != nil {
		return err
	}
	ws, err := w.store.Worksheet(ctx, l.ID)
	if relais.ErrorCode(err) == relais.ENOTFOUND {
		return relais.Errorf(relais.EINVALID, "Lesson %d has no worksheet yet.", l.ID)
	} else if err != nil {
		return err
	}
	sheet, err := os.ReadFile(ws.Path)
	if err != nil {
		return fmt.Errorf("read worksheet of lesson %d: %w", l.ID, err)
	}
	var broadcasts []worksheet.Broadcast
	if w.pipeline.GradeSchedule != nil {
		airings, err := w.pipeline.GradeSchedule(ctx, l.Grade, b.Region, w.now())
		if err != nil {
			return err
		}
		for _, a := range airings {
			broadcasts = append(broadcasts, worksheet.Broadcast{Station: a.Station, Kind: a.Kind, Start: a.Start, Title: a.Title})
		}
	}
	packets, err := worksheet.NewPackets(worksheet.PacketsInput{Title: l.Title, Subject: l.Subject, Grade: l.Grade,
		Sender: "Relais · " + b.Region, Worksheet: sheet, Date: w.now(), Broadcasts: broadcasts})
	if err != nil {
		return err
	}

	pdfPath, csvPath := PostalBatchFiles(w.cfg.MediaDir, b.ID)
	dir := filepath.Dir(pdfPath)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	csvTmp, err := os.CreateTemp(dir, ".batch-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(csvTmp.Name())
	defer csvTmp.Close()
	bw := bufio.NewWriter(csvTmp)
	cw := csv.NewWriter(bw)
	cw.Write(postalCSVHeader)

	n := 0
	for after := int64(0); ; {
		page, err := w.store.PostalPackets(ctx, b.ID, relais.Page{After: after, Limit: postalPageSize})
		if err != nil {
			return err
		}
		for _, pk := range page {
			h := pk.Household
			lines := addressLines(h.PostalAddress)
			first, err := packets.Add(worksheet.Letter{Address: lines, Language: h.Language, Ref: h.ExternalRef})
			if err != nil {
				return err
			}
			n++
			cw.Write(postalCSVRow(n, first, pk, lines))
		}
		if len(page) < postalPageSize {
			break
		}
		after = page[len(page)-1].DeliveryID
	}
	if n == 0 {
		return relais.Errorf(relais.EINVALID, "Postal batch %d has no household.", b.ID)
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), bw.Flush(), csvTmp.Sync(), csvTmp.Close()); err != nil {
		return fmt.Errorf("write %s: %w", csvPath, err)
	}

	pdfTmp, err := os.CreateTemp(dir, ".batch-*.pdf")
	if err != nil {
		return err
	}
	defer os.Remove(pdfTmp.Name())
	defer pdfTmp.Close()
	pw := bufio.NewWriterSize(pdfTmp, 1<<16)
	size, err := packets.WriteTo(pw)
	if err == nil {
		err = errors.Join(pw.Flush(), pdfTmp.Sync(), pdfTmp.Close())
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", pdfPath, err)
	}
	if err := os.Rename(csvTmp.Name(), csvPath); err != nil {
		return err
	}
	if err := os.Rename(pdfTmp.Name(), pdfPath); err != nil {
		return err
	}
	w.log.Info("postal batch ready", "batch_id", b.ID, "lesson_id", l.ID, "households", n, "pdf_bytes", size)
	return w.store.SetPostalBatchReady(ctx, b.ID, pdfPath, size, csvPath)
}

// addressLines splits a postal address into its non-empty lines.
func addressLines(addr string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(addr, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// The CSV has one row per packet, in PDF order, for a mail merge or a franking machine.
var postalCSVHeader = []string{"packet", "first_page", "delivery_id", "household_ref", "region", "language",
	"address_line_1", "address_line_2", "address_line_3", "address_line_4", "address_line_5", "address_line_6", "address"}

const postalCSVLines = 6

func postalCSVRow(n, firstPage int, pk relais.PostalPacket, lines []string) []string {
	h := pk.Household
	row := []string{strconv.Itoa(n), strconv.Itoa(firstPage), strconv.FormatInt(pk.DeliveryID, 10), h.ExternalRef,
		h.Region, h.Language}
	for i := 0; i < postalCSVLines; i++ {
		switch {
		case i == postalCSVLines-1 && len(lines) > postalCSVLines:
			row = append(row, strings.Join(lines[i:], ", "))
		case i < len(lines):
			row = append(row, lines[i])
		default:
			row = append(row, "")
		}
	}
	return append(row, strings.Join(lines, "\n"))
}
