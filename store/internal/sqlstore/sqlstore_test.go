package sqlstore

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE id = ?`, `SELECT a FROM t WHERE id = $1`},
		{`INSERT INTO t (a, b, c) VALUES (?,?,?)`, `INSERT INTO t (a, b, c) VALUES ($1,$2,$3)`},
		{`x IN (` + Placeholders(12) + `)`, `x IN ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`},
		{`SELECT id FROM t WHERE id = $1`, `SELECT id FROM t WHERE id = $1`}, // already numbered: left alone
		{`SELECT id FROM t WHERE j ? 'k' AND id = $1`, `SELECT id FROM t WHERE j ? 'k' AND id = $1`},
	} {
		if got := Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Placeholders(0); got != "" {
		t.Errorf("Placeholders(0) = %q", got)
	}
}

// TestDestinations reads each engine's representation of a column into the one Go value.
func TestDestinations(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 30, 0, 123e6, time.UTC)
	paris := at.In(time.FixedZone("CET", 3600))
	type result struct {
		T    time.Time
		B    bool
		S    string
		Fail bool
	}
	for _, tc := range []struct {
		name string
		dest func(*result) any
		src  any
		want result
	}{
		{"time from milliseconds", func(r *result) any { return Time(&r.T) }, at.UnixMilli(), result{T: at}},
		{"time from timestamptz, in UTC", func(r *result) any { return Time(&r.T) }, paris, result{T: at}},
		{"time from NULL", func(r *result) any { return Time(&r.T) }, nil, result{Fail: true}},
		{"time from text", func(r *result) any { return Time(&r.T) }, "2026-03-01", result{Fail: true}},
		{"optional time from 0", func(r *result) any { return OptTime(&r.T) }, int64(0), result{}},
		{"optional time from NULL", func(r *result) any { return OptTime(&r.T) }, nil, result{}},
		{"optional time from the epoch", func(r *result) any { return OptTime(&r.T) }, time.Unix(0, 0), result{}},
		{"optional time set", func(r *result) any { return OptTime(&r.T) }, at.UnixMilli(), result{T: at}},
		{"bool from 1", func(r *result) any { return Bool(&r.B) }, int64(1), result{B: true}},
		{"bool from 0", func(r *result) any { return Bool(&r.B) }, int64(0), result{}},
		{"bool from boolean", func(r *result) any { return Bool(&r.B) }, true, result{B: true}},
		{"bool from NULL", func(r *result) any { return Bool(&r.B) }, nil, result{}},
		{"bool from text", func(r *result) any { return Bool(&r.B) }, "t", result{Fail: true}},
		{"text from jsonb bytes", func(r *result) any { return Text(&r.S) }, []byte(`{"fr":"x"}`), result{S: `{"fr":"x"}`}},
		{"text from text", func(r *result) any { return Text(&r.S) }, "[]", result{S: "[]"}},
		{"text from NULL", func(r *result) any { return Text(&r.S) }, nil, result{}},
		{"text from a number", func(r *result) any { return Text(&r.S) }, int64(3), result{Fail: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got result
			err := tc.dest(&got).(interface{ Scan(any) error }).Scan(tc.src)
			got.Fail = err != nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}
