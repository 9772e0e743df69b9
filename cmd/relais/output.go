package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

// The commands that print what they made or found print it for people by default (a sentence or an
// aligned table), and as JSON with --json, for scripts.

// jsonFlag adds --json to a command.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON for scripts instead of the table")
}

// printOutcome prints what a command did: v as JSON with --json, else text.
func printOutcome(io *stdio, asJSON bool, v any, text string) error {
	if asJSON {
		return writeJSON(io, v)
	}
	fmt.Fprint(io.out, text)
	return nil
}

// none is what a table shows for a value that is not there: a time never set, an empty field.
const none = "—"

// showTime writes t in its own zone to the minute, with its offset; none for the zero time.
func showTime(t time.Time) string {
	if t.IsZero() {
		return none
	}
	return t.Format("2006-01-02 15:04 -07:00")
}

// orNone is s, or none when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// table is an aligned table on w, with a header row.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }
func (t *table) flush() error        { return t.tw.Flush() }

func itoa[T ~int | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// writeStations prints stations as a table.
func writeStations(w io.Writer, sts []relais.Station) error {
	t := newTable(w, "ID", "NAME", "KIND", "ZONE", "REGION", "PLAYOUT")
	for _, s := range sts {
		t.row(itoa(s.ID), s.Name, string(s.Kind), s.TimeZone, orNone(s.Region), string(s.Playout))
	}
	return t.flush()
}

// slotJSON is a slot as --json writes it: with its length in minutes.
type slotJSON struct {
	relais.Slot
	Minutes int `json:"minutes"`
}

func slotsJSON(slots []relais.Slot) []slotJSON {
	out := make([]slotJSON, len(slots))
	for i, s := range slots {
		if s.Lessons == nil {
			s.Lessons = []relais.SlotLesson{} // "lessons": [] for an empty slot, as the API writes it
		}
		out[i] = slotJSON{s, int(s.Duration.Minutes())}
	}
	return out
}

// writeSlots prints a station's slots as a table.
func writeSlots(w io.Writer, slots []relais.Slot) error {
	t := newTable(w, "ID", "DAY", "START", "MIN", "GRADE", "SUBJECT", "LANG", "LESSONS")
	for _, s := range slots {
		lesson, grade := none, none
		var seq []string
		for _, l := range s.Lessons {
			x := itoa(l.LessonID)
			if l.Rerun {
				x += " (rerun)"
			}
			seq = append(seq, x)
		}
		if len(seq) > 0 {
			lesson = strings.Join(seq, ", ") // in playing order
		}
		if s.Grade != 0 {
			grade = itoa(s.Grade)
		}
		t.row(itoa(s.ID), s.Day, s.Start, itoa(int(s.Duration.Minutes())), grade, orNone(s.Subject), orNone(s.Language), lesson)
	}
	return t.flush()
}

// writeFillReport prints what an auto-fill did, and the lessons it could not place with why.
func writeFillReport(w io.Writer, rep scheduler.FillReport) error {
	fmt.Fprintf(w, "%d lessons placed, %d re-runs, %d slots still empty.\n", rep.Placed, rep.Reruns, rep.EmptySlots)
	if len(rep.Unplaced) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nNot placed:\n")
	t := newTable(w, "LESSON", "TITLE", "REASON")
	for _, u := range rep.Unplaced {
		t.row(itoa(u.LessonID), u.Title, u.Reason)
	}
	return t.flush()
}

// writePlan prints a publishing plan: who each channel reaches, how long it takes and whether it
// finishes before the first broadcast, the broadcasts, and the warnings.
func writePlan(w io.Writer, sum scheduler.PlanSummary) error {
	fmt.Fprintf(w, "Publishing plan of lesson %d\n\n", sum.LessonID)
	fmt.Fprintf(w, "Publishing starts  %s\n", showTime(sum.At))
	fmt.Fprintf(w, "First broadcast    %s\n", showTime(sum.FirstBroadcast))
	fmt.Fprintf(w, "Households         %d\n\n", sum.Households)

	channels := slices.Sorted(maps.Keys(sum.Counts))
	for ch := range sum.Skipped {
		if _, ok := sum.Counts[ch]; !ok {
			channels = append(channels, ch)
		}
	}
	slices.Sort(channels)
	t := newTable(w, "CHANNEL", "FAMILIES", "SKIPPED", "MESSAGES", "SEGMENTS", "TAKES", "FINISHES", "DEADLINE")
	for _, ch := range channels {
		messages, segments, takes, finishes, deadline := none, none, none, none, none
		if e, ok := sum.Estimates[ch]; ok {
			messages = itoa(e.Messages)
			if e.Segments > 0 {
				segments = itoa(e.Segments)
			}
			takes = (time.Duration(e.Seconds * float64(time.Second))).Round(time.Second).String()
			finishes, deadline = showTime(e.Finishes), showTime(e.Deadline)
		}
		t.row(ch, itoa(sum.Counts[ch]), itoa(sum.Skipped[ch]), messages, segments, takes, finishes, deadline)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(sum.Airings) > 0 {
		fmt.Fprintf(w, "\nBroadcasts:\n")
		t = newTable(w, "STATION", "KIND", "REGION", "AT")
		for _, a := range sum.Airings {
			t.row(a.Station, a.Kind, orNone(a.Region), showTime(a.At))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(sum.Warnings) > 0 {
		fmt.Fprintf(w, "\nWarnings:\n")
		for _, wn := range sum.Warnings {
			fmt.Fprintf(w, "  - %s\n", wn)
		}
	}
	return nil
}
