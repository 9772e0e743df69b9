package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	relais "github.com/relais-edu/relais"
)

const householdColumns = `h.id, h.external_ref, h.region, h.language, h.pupils, h.profile, h.phone, h.email,
	h.postal_address, h.consent, h.sms_opt_out, h.email_opt_out, h.phone_status, h.email_status, h.created_at,
	h.removed_at`

func scanHousehold(row interface{ Scan(...any) error }) (relais.Household, error) {
	var h relais.Household
	var pupils string
	var consent, smsOut, emailOut int
	var created, removed int64
	err := row.Scan(&h.ID, &h.ExternalRef, &h.Region, &h.Language, &pupils, &h.Profile, &h.Phone, &h.Email,
		&h.PostalAddress, &consent, &smsOut, &emailOut, &h.PhoneStatus, &h.EmailStatus, &created, &removed)
	if err != nil {
		return h, err
	}
	if h.Pupils, err = decodePupils(pupils); err != nil {
		return h, fmt.Errorf("household %d: pupils: %w", h.ID, err)
	}
	h.Grades = relais.PupilGrades(h.Pupils)
	h.Consent, h.SMSOptOut, h.EmailOptOut = consent == 1, smsOut == 1, emailOut == 1
	h.CreatedAt = fromMS(created)
	if removed > 0 {
		h.RemovedAt = fromMS(removed)
	}
	return h, nil
}

// encodePupils is the households.pupils column: the pupils as a JSON list.
func encodePupils(ps []relais.Pupil) string {
	if len(ps) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ps) // ints and strings: cannot fail
	return string(b)
}

func decodePupils(s string) ([]relais.Pupil, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var ps []relais.Pupil
	err := json.Unmarshal([]byte(s), &ps)
	return ps, err
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

// Household returns one household.
func (db *DB) Household(ctx context.Context, id int64) (relais.Household, error) {
	h, err := scanHousehold(db.read.QueryRowContext(ctx, `SELECT `+householdColumns+` FROM households h WHERE h.id = ?`, id))
	return h, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Household %d not found.", id) })
}

// Households lists households in id order, after the page cursor. With an audience or a grade, the
// households are those of the pupils that match, read on the index pupils_audience (audienceQuery).
func (db *DB) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	p := f.Page.Normalize()
	if f.Audience != nil || f.Grade > 0 {
		q, args := audienceQuery(f, p)
		return db.queryHouseholds(ctx, q, args...)
	}
	q := `SELECT ` + householdColumns + ` FROM households h WHERE h.id > ?`
	args := []any{p.After}
	if f.Search != "" {
		q += ` AND (h.external_ref = ? OR h.phone = ? OR h.email = ?)`
		args = append(args, f.Search, f.Search, f.Search)
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
	type run struct {
		grade int
		lang  *string
	}
	var runs []run
	var a relais.Audience
	if f.Audience != nil {
		a = *f.Audience
		for _, g := range a.Grades {
			for i := range a.Languages {
				runs = append(runs, run{g, &a.Languages[i]})
			}
		}
	} else {
		runs = []run{{grade: f.Grade}}
	}
	if len(runs) == 0 {
		return `SELECT ` + householdColumns + ` FROM households h WHERE 0`, nil
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
	b.WriteString(`SELECT ` + householdColumns + ` FROM (SELECT DISTINCT household_id FROM (`)
	for i, r := range runs {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		b.WriteString(`SELECT household_id FROM (SELECT DISTINCT p.household_id FROM pupils p`)
		if f.Region != "" || f.Profile != "" || len(a.Regions) > 0 {
			b.WriteString(` JOIN households ph ON ph.id = p.household_id`)
		}
		b.WriteString(` WHERE p.grade = ?`)
		args = append(args, r.grade)
		if r.lang != nil {
			b.WriteString(` AND p.language = ?`)
			args = append(args, *r.lang)
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
	return queryAll(ctx, db.read, scanHousehold, q, args...)
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
		hs, err := db.queryHouseholds(ctx, `SELECT `+householdColumns+` FROM households h WHERE h.id IN (`+
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

// HouseholdsByPhone returns every household with that number.
func (db *DB) HouseholdsByPhone(ctx context.Context, phone string) ([]relais.Household, error) {
	return db.queryHouseholds(ctx, `SELECT `+householdColumns+` FROM households h WHERE h.phone = ? ORDER BY h.id`, phone)
}

// SetPhoneStatus records what the SMS provider said of a number.
func (db *DB) SetPhoneStatus(ctx context.Context, phone string, status relais.ContactStatus) error {
	_, err := db.write.ExecContext(ctx, `UPDATE households SET phone_status = ? WHERE phone = ?`, status, phone)
	return err
}

// SetSMSOptOut opts a number out of, or back into, SMS.
func (db *DB) SetSMSOptOut(ctx context.Context, phone string, optOut bool) error {
	_, err := db.write.ExecContext(ctx, `UPDATE households SET sms_opt_out = ? WHERE phone = ?`, boolInt(optOut), phone)
	return err
}

// SetEmailStatus records what the mail system said of an address.
func (db *DB) SetEmailStatus(ctx context.Context, email string, status relais.ContactStatus) error {
	_, err := db.write.ExecContext(ctx, `UPDATE households SET email_status = ? WHERE email = ? COLLATE NOCASE`, status, email)
	return err
}

// SetEmailOptOut opts an address out of, or back into, email.
func (db *DB) SetEmailOptOut(ctx context.Context, email string, optOut bool) error {
	_, err := db.write.ExecContext(ctx, `UPDATE households SET email_opt_out = ? WHERE email = ? COLLATE NOCASE`,
		boolInt(optOut), email)
	return err
}

// CountHouseholds counts every household.
func (db *DB) CountHouseholds(ctx context.Context) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM households`).Scan(&n)
	return n, err
}
