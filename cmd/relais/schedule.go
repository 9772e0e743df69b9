package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/scheduler"
)

const epgUsage = `Usage: relais epg export --station ID --from YYYY-MM-DD --to YYYY-MM-DD

Writes a station's programme guide (XMLTV) for the days given, in the station's zone, to standard output.
`

const playlistUsage = `Usage: relais playlist export --station ID --date YYYY-MM-DD [--format ffplayout|m3u] [--filler PATH]

Writes a station's playout list for one day (ffplayout JSON or M3U) to standard output.
`

const stationUsage = `Usage: relais station create --name NAME --kind tv|radio --tz ZONE [--region R] [--service S] [--playout ffplayout|m3u] [--filler PATH|URL] [--day-start HH:MM]
       relais station list

Creates or lists the TV and radio stations that air lessons.
`

const gridUsage = `Usage: relais grid template --station ID --days 1-5 --start 09:00 --end 18:00 --slot 30 --from DAY --to DAY [--grade G --subject S --language L]
       relais grid slot --station ID --date DAY --start HH:MM --minutes N [--grade G --subject S --language L]
       relais grid cancel --station ID --date DAY --reason TEXT
       relais grid fill --from DAY --to DAY [--station ID] [--reruns]
       relais grid list --station ID --from DAY --to DAY

Builds station grids: weekly templates, one-off slots and cancelled days, in the station's own zone; a
slot that would overlap another is refused. fill packs approved lessons into the time slots leave free
(several short lessons back to back where they fit) and reports what it could not place.
`

func cmdEPGExport(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "epg export", "epg export --station ID --from YYYY-MM-DD --to YYYY-MM-DD",
		"Writes the station's XMLTV guide for the days from --from to --to (inclusive) to standard output.")
	station := fs.Int64("station", 0, "station id")
	from, to := dayRangeFlags(fs)
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, _ relais.Store) error {
		return svc.XMLTV(ctx, io.out, *station, *from, *to)
	})
}

func cmdPlaylistExport(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "playlist export", "playlist export --station ID --date YYYY-MM-DD [--format ffplayout|m3u]",
		"Writes the station's playout list for one day to standard output. Items play back to back from the\nfirst slot's start; gaps are filled with --filler.")
	station := fs.Int64("station", 0, "station id")
	date := fs.String("date", "", "the day, in the station's zone")
	format := fs.String("format", "ffplayout", "ffplayout (JSON) or m3u")
	filler := fs.String("filler", "", "clip that fills gaps between lessons (absolute path or URL); default: the station's")
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, _ relais.Store) error {
		if *format != string(relais.FormatFFplayout) && *format != string(relais.FormatM3U) {
			return fmt.Errorf("--format must be ffplayout or m3u")
		}
		pl, err := svc.Playlist(ctx, *station, *date, *filler)
		if err != nil {
			return err
		}
		if *format == string(relais.FormatM3U) {
			return scheduler.WriteM3U(io.out, pl)
		}
		return scheduler.WriteFFplayout(io.out, pl)
	})
}

func cmdStationCreate(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "station create", "station create --name NAME --kind tv|radio --tz ZONE [--json]", "Creates a station and says so with its id (--json: the station as JSON).")
	var st relais.Station
	fs.StringVar(&st.Name, "name", "", "station name, unique")
	kind := fs.String("kind", "tv", "tv or radio")
	fs.StringVar(&st.TimeZone, "tz", "", "IANA time zone of the station's grid, e.g. Asia/Almaty")
	fs.StringVar(&st.Region, "region", "", "region the station serves")
	fs.StringVar(&st.ServiceName, "service", "", "service name shown in guides; default: the name")
	playout := fs.String("playout", "ffplayout", "playout list format: ffplayout or m3u")
	fs.StringVar(&st.Filler, "filler", "", "clip playout loops where no lesson plays: absolute path or URL (video for TV, audio for radio)")
	fs.StringVar(&st.DayStart, "day-start", "00:00", "local time the playout day starts (ffplayout's day_start)")
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, db relais.Store) error {
		st.Kind, st.Playout = relais.StationKind(*kind), relais.PlayoutFormat(*playout)
		if err := svc.CreateStation(ctx, &st); err != nil {
			return err
		}
		recordShell(ctx, io, db, relais.AuditCreate, stationTarget(st.ID))
		return printOutcome(io, *asJSON, st,
			fmt.Sprintf("Station %d created: %s (%s, %s, %s playout).\n", st.ID, st.Name, st.Kind, st.TimeZone, st.Playout))
	})
}

func cmdStationList(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "station list", "station list [--json]", "Lists stations.")
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(_ *scheduler.Service, db relais.Store) error {
		sts, err := db.Stations(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(io, nonNil(sts))
		}
		return writeStations(io.out, sts)
	})
}

// slotFlags adds the flags that say whom slots are for.
func slotFlags(fs *flag.FlagSet) (grade *int, subject, language *string) {
	return fs.Int("grade", 0, "grade the slots are for; 0: any"), fs.String("subject", "", "subject; empty: any, spread by fill"),
		fs.String("language", "", "language (fr, kk, ru, en); empty: any")
}

func cmdGridTemplate(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "grid template", "grid template --station ID --days 1-5 --start 09:00 --end 18:00 --slot 30 --from DAY --to DAY",
		"Adds a weekly template and its slots from --from to --to; refused whole if any slot would overlap.")
	var t relais.Template
	fs.Int64Var(&t.StationID, "station", 0, "station id")
	from, to := dayRangeFlags(fs)
	days := fs.String("days", "1-5", "weekdays, 0 Sunday ... 6 Saturday: a list (1,3,5) or a range (1-5)")
	fs.StringVar(&t.Start, "start", "09:00", "first slot's start, station's wall clock")
	fs.StringVar(&t.End, "end", "18:00", "the last slot ends at or before this time")
	fs.IntVar(&t.SlotMin, "slot", 30, "slot length in minutes")
	grade, subject, language := slotFlags(fs)
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, db relais.Store) error {
		var err error
		if t.Weekdays, err = parseWeekdays(*days); err != nil {
			return err
		}
		t.From, t.To, t.Grade, t.Subject, t.Language = *from, *to, *grade, *subject, *language
		res, err := svc.AddTemplate(ctx, t)
		if err != nil {
			return err
		}
		recordShell(ctx, io, db, relais.AuditEdit, stationTarget(t.StationID))
		text := fmt.Sprintf("template %d: %d slots\n", res.Template.ID, res.Slots)
		for _, s := range res.Skipped {
			text += fmt.Sprintf("skipped %s: that time does not exist (daylight-saving change)\n", s)
		}
		return printOutcome(io, *asJSON, map[string]any{"template_id": res.Template.ID, "slots": res.Slots, "skipped": nonNil(res.Skipped)}, text)
	})
}

func cmdGridSlot(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "grid slot", "grid slot --station ID --date DAY --start HH:MM --minutes N [--json]", "Adds a one-off slot.")
	var s relais.Slot
	stationDayFlags(fs, &s.StationID, &s.Day)
	fs.StringVar(&s.Start, "start", "", "start, station's wall clock (HH:MM)")
	minutes := fs.Int("minutes", 30, "length in minutes")
	grade, subject, language := slotFlags(fs)
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, db relais.Store) error {
		s.Duration, s.Grade, s.Subject, s.Language = time.Duration(*minutes)*time.Minute, *grade, *subject, *language
		s, err := svc.AddSlot(ctx, s)
		if err != nil {
			return err
		}
		recordShell(ctx, io, db, relais.AuditEdit, stationTarget(s.StationID))
		return printOutcome(io, *asJSON, slotsJSON([]relais.Slot{s})[0],
			fmt.Sprintf("Slot %d added: %s %s, %d min.\n", s.ID, s.Day, s.Start, int(s.Duration.Minutes())))
	})
}

func cmdGridCancel(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "grid cancel", "grid cancel --station ID --date DAY --reason TEXT", "Cancels a day (a holiday) and removes its slots.")
	var e relais.Exception
	stationDayFlags(fs, &e.StationID, &e.Day)
	fs.StringVar(&e.Reason, "reason", "", "why, e.g. a public holiday")
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, db relais.Store) error {
		removed, err := svc.AddException(ctx, e)
		if err != nil {
			return err
		}
		recordShell(ctx, io, db, relais.AuditEdit, stationTarget(e.StationID))
		return printOutcome(io, *asJSON, map[string]any{"removed_slots": len(removed)}, fmt.Sprintf("%d slots removed\n", len(removed)))
	})
}

func cmdGridFill(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "grid fill", "grid fill --from DAY --to DAY [--station ID] [--reruns] [--json]",
		"Packs approved lessons into the slots' free time, back to back where they fit, and reports what it placed and what it could not place, with why.")
	station := fs.Int64("station", 0, "station id; 0: every station")
	from, to := dayRangeFlags(fs)
	reruns := fs.Bool("reruns", false, "fill the time still free with re-runs of lessons already scheduled")
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(svc *scheduler.Service, db relais.Store) error {
		var ids []int64
		if *station != 0 {
			ids = []int64{*station}
		}
		rep, err := svc.AutoFill(ctx, ids, *from, *to, *reruns)
		if err != nil {
			return err
		}
		recordShell(ctx, io, db, relais.AuditEdit, "schedule")
		if *asJSON {
			rep.Unplaced = nonNil(rep.Unplaced)
			return writeJSON(io, rep)
		}
		return writeFillReport(io.out, rep)
	})
}

func cmdGridList(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "grid list", "grid list --station ID --from DAY --to DAY [--json]", "Lists a station's slots.")
	var f relais.SlotFilter
	fs.Int64Var(&f.StationID, "station", 0, "station id")
	from, to := dayRangeFlags(fs)
	asJSON := jsonFlag(fs)
	return withScheduler(ctx, io, fs, args, func(_ *scheduler.Service, db relais.Store) error {
		f.From, f.To = *from, *to
		if _, err := db.Station(ctx, f.StationID); err != nil {
			return err
		}
		slots, err := db.Slots(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(io, slotsJSON(slots))
		}
		return writeSlots(io.out, slots)
	})
}

// nonNil is s, or an empty slice for nil, so that JSON shows [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// stationTarget is how the audit log names a station a command changed.
func stationTarget(id int64) string { return fmt.Sprintf("station %d", id) }

// stationDayFlags adds --station and --date, the day of a station's grid a command changes.
func stationDayFlags(fs *flag.FlagSet, station *int64, day *string) {
	fs.Int64Var(station, "station", 0, "station id")
	fs.StringVar(day, "date", "", "day, in the station's zone")
}

// dayRangeFlags adds --from and --to, the days a command covers.
func dayRangeFlags(fs *flag.FlagSet) (from, to *string) {
	return fs.String("from", "", "first day"), fs.String("to", "", "last day, inclusive")
}

// withScheduler loads the configuration (flags in fs plus the RELAIS_* environment), opens the database
// and runs fn with a scheduler on it. Application errors are printed as their user message.
func withScheduler(ctx context.Context, io *stdio, fs *flag.FlagSet, args []string, fn func(*scheduler.Service, relais.Store) error) error {
	cfg, err := loadSettings(fs, args, io, dbSettings...)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(db relais.Store) error {
		return userError(fn(scheduler.New(db, db, nil), db))
	})
}

// parseWeekdays reads "1-5" or "1,3,5" (0 Sunday ... 6 Saturday).
func parseWeekdays(s string) ([]int, error) {
	bad := fmt.Errorf("--days %q: give weekdays 0-6 as a list (1,3,5) or a range (1-5)", s)
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, bad
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, bad
			}
		}
		for d := a; d <= b; d++ {
			if d < 0 || d > 6 {
				return nil, bad
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// cmdPlan prints a lesson's publishing plan: counts per channel, when each goes out, and whether the
// configured rates (RELAIS_SMS_RATE, RELAIS_EMAIL_RATE) let it finish before the first broadcast.
func cmdPlan(ctx context.Context, io *stdio, args []string) error {
	if len(args) > 0 && args[0] == "simulate" {
		return cmdPlanSimulate(ctx, io, args[1:])
	}
	fs := newFlagSet(io, "plan", "plan --lesson ID [--at TIME] [--households] [--json]",
		"Prints the publishing plan of a lesson, without sending anything: who each channel reaches, when it\nfinishes against the first broadcast, the broadcasts and the warnings (--json: as JSON). With\n--households, one JSON line per targeted household comes first (streamed, for any number of households).")
	lesson := fs.Int64("lesson", 0, "lesson id")
	at := fs.String("at", "", "when publishing starts (RFC 3339); default now")
	postalDays := fs.Int("postal-lead-days", 5, "days from the postal batch to the packets arriving")
	each := fs.Bool("households", false, "also print every household's plan, one JSON line each")
	asJSON := jsonFlag(fs)
	cfg, err := loadSettings(fs, args, io, append([]string{"sms-rate", "email-rate", "sms-reminder-lead"}, dbSettings...)...)
	if err != nil {
		return err
	}
	start := time.Now()
	if *at != "" {
		if start, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at %q: give a time such as 2026-03-02T18:00:00Z", *at)
		}
	}
	pc := cfg.planConfig()
	pc.PostalLead = time.Duration(*postalDays) * 24 * time.Hour
	var fn func(scheduler.HouseholdPlan) error
	if *each {
		enc := json.NewEncoder(io.out)
		fn = func(hp scheduler.HouseholdPlan) error { return enc.Encode(hp) }
	}
	return withStore(ctx, cfg, func(db relais.Store) error {
		p := &scheduler.Planner{Store: db, Lessons: db, Households: db, Channels: knownChannels(), Config: pc}
		sum, err := p.Plan(ctx, *lesson, start, fn)
		if err != nil {
			return userError(err)
		}
		if *asJSON {
			return writeJSON(io, sum)
		}
		return writePlan(io.out, sum)
	})
}
