package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/mediastore"
	"github.com/relais-edu/relais/scheduler"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The evening task, run by asynq's scheduler on a real Redis, writes tomorrow's guide and playlist of
// the station whose local hour is 18 (Almaty, 18:10) and leaves the one where it is not (Paris, 14:10).
func TestEveningExportsOnAsynq(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	almaty := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	paris := e.station(t, "France 4", "Europe/Paris", relais.StationTV)
	for _, st := range []relais.Station{almaty, paris} {
		_, err := e.svc.AddTemplate(ctx, relais.Template{StationID: st.ID, Weekdays: []int{1}, Start: "09:00", End: "10:00",
			SlotMin: 30, Grade: 5, Language: "fr", From: "2026-03-02", To: "2026-03-02"})
		must(t, err)
	}
	e.lesson(t, "Les fractions", "maths", 5, "fr", 25*time.Minute, true)
	_, err := e.svc.AutoFill(ctx, nil, "2026-03-02", "2026-03-02", true)
	must(t, err)

	addr, db := testenv.Redis(t)
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 13, 10, 0, 0, time.UTC) // 18:10 in Almaty, 14:10 in Paris
	ex := &scheduler.Exporter{Service: e.svc, Dir: dir, Hour: 18, Now: func() time.Time { return now }}
	p, err := scheduler.StartPeriodic(asynq.RedisClientOpt{Addr: addr, DB: db}, "@every 1s", ex)
	must(t, err)
	defer p.Shutdown()

	guide := filepath.Join(dir, "station-1", "2026-03-02.xml")
	list := filepath.Join(dir, "station-1", "2026-03-02.json")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(list); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no playlist written within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var want bytes.Buffer
	must(t, e.svc.XMLTV(ctx, &want, almaty.ID, "2026-03-02", "2026-03-02"))
	got, err := os.ReadFile(guide)
	must(t, err)
	if !bytes.Equal(want.Bytes(), got) {
		t.Errorf("guide written:\n%s\nwant:\n%s", got, want.Bytes())
	}
	pl, err := os.ReadFile(list)
	must(t, err)
	if !bytes.Contains(pl, []byte(`"source": "/media/lessons/1/tv.ts"`)) || !bytes.Contains(pl, []byte(`"date": "2026-03-02"`)) {
		t.Errorf("playlist written:\n%s", pl)
	}
	if _, err := os.Stat(filepath.Join(dir, "station-2")); !os.IsNotExist(err) {
		t.Errorf("Paris station exported at 14:10 local: %v", err)
	}
	p.Shutdown()

	// A change after the evening export reaches the written day at the next hourly run; a station never
	// exported stays so outside its evening hour.
	slots, err := e.db.Slots(ctx, relais.SlotFilter{StationID: almaty.ID, From: "2026-03-02", To: "2026-03-02"})
	must(t, err)
	must(t, e.db.Unassign(ctx, slots[1].ID))
	now = now.Add(time.Hour)
	files, err := ex.Run(ctx)
	must(t, err)
	if diff := cmp.Diff([]string{guide, list}, files); diff != "" {
		t.Errorf("files rewritten (-want +got):\n%s", diff)
	}
	pl, err = os.ReadFile(list)
	must(t, err)
	if n := bytes.Count(pl, []byte(`"title": "Les fractions"`)); n != 1 {
		t.Errorf("after the change the playlist airs the lesson %d times, want 1:\n%s", n, pl)
	}
}

// TestPrunePlayoutExports: the guides and lists of the days before the cut-off (in the station's zone)
// go, those of the cut-off's day and later stay, in a local directory and in a media store alike.
func TestPrunePlayoutExports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	almaty := e.station(t, "Balapan", "Asia/Almaty", relais.StationTV)
	dir := t.TempDir()
	media := mediastore.NewDir(t.TempDir())
	// 2026-03-01 20:00 UTC is already the 2nd in Almaty: its day before is the 1st.
	before := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ex   *scheduler.Exporter
		root string
	}{
		{"directory", &scheduler.Exporter{Service: e.svc, Dir: dir}, dir},
		{"media store", &scheduler.Exporter{Service: e.svc, Media: media}, filepath.Join(media.Root, "playout")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			station := filepath.Join(tc.root, fmt.Sprintf("station-%d", almaty.ID))
			must(t, os.MkdirAll(station, 0o755))
			files := []string{"2026-02-20.xml", "2026-02-20.json", "2026-03-01.xml", "2026-03-01.m3u", "2026-03-02.xml", "2026-03-02.json", "2026-03-03.xml"}
			for _, f := range files {
				must(t, os.WriteFile(filepath.Join(station, f), []byte("x"), 0o644))
			}
			n, err := tc.ex.Prune(ctx, before)
			must(t, err)
			var left []string
			entries, err := os.ReadDir(station)
			must(t, err)
			for _, en := range entries {
				left = append(left, en.Name())
			}
			if diff := cmp.Diff([]string{"2026-03-02.json", "2026-03-02.xml", "2026-03-03.xml"}, left); n != 4 || diff != "" {
				t.Errorf("pruned %d files, want 4; left (-want +got):\n%s", n, diff)
			}
		})
	}
}
