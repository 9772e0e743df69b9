package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// encodePupils is the households.pupils column: the pupils as a JSON list.
func encodePupils(ps []relais.Pupil) string {
	if len(ps) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ps) // ints and strings: cannot fail
	return string(b)
}

// UpsertHouseholds creates households or updates them by ExternalRef, in one transaction, and replaces
// their pupils (Household.Roll). Opt-outs and contact statuses learnt from providers are kept: an
// import never opts a family back in.
func (db *DB) UpsertHouseholds(ctx context.Context, hs []relais.Household) error {
	now := ms(db.now())
	return db.inTx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `INSERT INTO households (external_ref, region, language, pupils, profile,
			phone, email, postal_address, consent, sms_opt_out, email_opt_out, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (external_ref) DO UPDATE SET region = excluded.region, language = excluded.language,
			pupils = excluded.pupils, profile = excluded.profile, phone = excluded.phone, email = excluded.email,
			postal_address = excluded.postal_address, consent = excluded.consent,
			sms_opt_out = MAX(sms_opt_out, excluded.sms_opt_out),
			email_opt_out = MAX(email_opt_out, excluded.email_opt_out),
			phone_status = CASE WHEN phone = excluded.phone THEN phone_status ELSE '' END,
			email_status = CASE WHEN email = excluded.email THEN email_status ELSE '' END,
			removed_at = 0
			RETURNING id`)
		if err != nil {
			return err
		}
		defer up.Close()
		delPupils, err := tx.PrepareContext(ctx, `DELETE FROM pupils WHERE household_id = ?`)
		if err != nil {
			return err
		}
		defer delPupils.Close()
		addPupil, err := tx.PrepareContext(ctx, `INSERT INTO pupils (household_id, grade, language, school, class)
			VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer addPupil.Close()
		// Ids grow (AUTOINCREMENT): a household whose id is past the largest at the start was created
		// by this transaction and has no pupils to replace, unless it is listed twice.
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM households`).Scan(&last); err != nil {
			return err
		}
		created := map[int64]bool{}
		for i := range hs {
			h := &hs[i]
			h.Pupils = h.Roll()
			h.Grades = relais.PupilGrades(h.Pupils)
			if err := up.QueryRowContext(ctx, h.ExternalRef, h.Region, h.Language, encodePupils(h.Pupils), h.Profile,
				h.Phone, h.Email, h.PostalAddress, boolInt(h.Consent), boolInt(h.SMSOptOut), boolInt(h.EmailOptOut),
				now).Scan(&h.ID); err != nil {
				return fmt.Errorf("upsert household %q: %w", h.ExternalRef, err)
			}
			if h.ID > last && !created[h.ID] {
				created[h.ID] = true
			} else if _, err := delPupils.ExecContext(ctx, h.ID); err != nil {
				return err
			}
			for _, p := range h.Pupils {
				if _, err := addPupil.ExecContext(ctx, h.ID, p.Grade, p.Language, p.School, p.Class); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Households lists households in id order, after the page cursor. With an audience or a grade, the
// households are those of the pupils that match, read on the index pupils_audience (audienceQuery).
func (db *DB) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	p := f.Page.Normalize()
	if f.Audience != nil || f.Grade > 0 {
		q, args := audienceQuery(f, p)
		return db.queryHouseholds(ctx, q, args...)
	}
	q := `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE h.id > ?`
	args := []any{p.After}
	if f.Search != "" {
		// The matches are found on the indexes of each column (the partial indexes' conditions
		// repeated; the address as written, found on its index without case), then read by id: a
		// search with ORDER BY id otherwise walked every household.
		q += ` AND h.id IN (SELECT id FROM households WHERE external_ref = ?
			UNION SELECT id FROM households WHERE phone = ? AND phone <> ''
			UNION SELECT id FROM households WHERE email = ? COLLATE NOCASE AND email = ? AND email <> '')`
		args = append(args, f.Search, f.Search, f.Search, f.Search)
	}
	if f.Region != "" {
		q += ` AND h.region = ?`
		args = append(args, f.Region)
	}
	if f.Profile != "" {
		q += ` AND h.profile = ?`
		args = append(args, f.Profile)
	}
	q += ` ORDER BY h.id LIMIT ?`
	args = append(args, p.Limit)
	return db.queryHouseholds(ctx, q, args...)
}

// audienceQuery is the store's one audience predicate (relais.Audience.Reaches), for a page of
// households. Each pair of a grade and a language of instruction is a run of pupils_audience in
// household order: the page takes the first Limit distinct households after the cursor from each run
// (twins are one household), and of their union the first Limit, each once (a household with several
// pupils in the audience is reached once): a page shorter than Limit is the last. A grade alone
// (HouseholdFilter.Grade) is a run in any language.
func audienceQuery(f relais.HouseholdFilter, p relais.Page) (string, []any) {
	runs, a := sqlstore.AudienceRuns(f)
	if len(runs) == 0 {
		return `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE 0`, nil
	}
	var args []any
	in := func(col string, vs []string) string {
		for _, v := range vs {
			args = append(args, v)
		}
		return ` AND ` + col + ` IN (` + placeholders(len(vs)) + `)`
	}
	// The page's ids are found first, then their households read by primary key.
	var b strings.Builder
	b.WriteString(`SELECT ` + sqlstore.HouseholdColumns + ` FROM (SELECT DISTINCT household_id FROM (`)
	for i, r := range runs {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		b.WriteString(`SELECT household_id FROM (SELECT DISTINCT p.household_id FROM pupils p`)
		if f.Region != "" || f.Profile != "" || len(a.Regions) > 0 {
			b.WriteString(` JOIN households ph ON ph.id = p.household_id`)
		}
		b.WriteString(` WHERE p.grade = ?`)
		args = append(args, r.Grade)
		if r.Lang != nil {
			b.WriteString(` AND p.language = ?`)
			args = append(args, *r.Lang)
		}
		b.WriteString(` AND p.household_id > ?`)
		args = append(args, p.After)
		if len(a.Schools) > 0 {
			b.WriteString(in("p.school", a.Schools))
		}
		if len(a.Classes) > 0 {
			b.WriteString(in("p.class", a.Classes))
		}
		if len(a.Regions) > 0 {
			b.WriteString(in("ph.region", a.Regions))
		}
		if f.Region != "" {
			b.WriteString(` AND ph.region = ?`)
			args = append(args, f.Region)
		}
		if f.Profile != "" {
			b.WriteString(` AND ph.profile = ?`)
			args = append(args, f.Profile)
		}
		b.WriteString(` ORDER BY p.household_id LIMIT ?)`)
		args = append(args, p.Limit)
	}
	b.WriteString(`) ORDER BY household_id LIMIT ?) ids JOIN households h ON h.id = ids.household_id ORDER BY h.id`)
	args = append(args, p.Limit)
	return b.String(), args
}

func (db *DB) queryHouseholds(ctx context.Context, q string, args ...any) ([]relais.Household, error) {
	return queryAll(ctx, db.read, sqlstore.ScanHousehold, q, args...)
}

// HouseholdsByIDs returns the households with those ids.
func (db *DB) HouseholdsByIDs(ctx context.Context, ids []int64) (map[int64]relais.Household, error) {
	out := make(map[int64]relais.Household, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		hs, err := db.queryHouseholds(ctx, `SELECT `+sqlstore.HouseholdColumns+` FROM households h WHERE h.id IN (`+
			placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			out[h.ID] = h
		}
	}
	return out, nil
}
