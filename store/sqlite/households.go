package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	relais "github.com/relais-edu/relais"
)

const householdColumns = `h.id, h.external_ref, h.region, h.language, h.grades, h.profile, h.phone, h.email,
	h.postal_address, h.consent, h.sms_opt_out, h.email_opt_out, h.phone_status, h.email_status, h.created_at`

func scanHousehold(row interface{ Scan(...any) error }) (relais.Household, error) {
	var h relais.Household
	var grades string
	var consent, smsOut, emailOut int
	var created int64
	err := row.Scan(&h.ID, &h.ExternalRef, &h.Region, &h.Language, &grades, &h.Profile, &h.Phone, &h.Email,
		&h.PostalAddress, &consent, &smsOut, &emailOut, &h.PhoneStatus, &h.EmailStatus, &created)
	if err != nil {
		return h, err
	}
	h.Grades = parseGrades(grades)
	h.Consent, h.SMSOptOut, h.EmailOptOut = consent == 1, smsOut == 1, emailOut == 1
	h.CreatedAt = fromMS(created)
	return h, nil
}

func formatGrades(gs []int) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strconv.Itoa(g)
	}
	return strings.Join(parts, ",")
}

func parseGrades(s string) []int {
	if s == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		if g, err := strconv.Atoi(p); err == nil {
			out = append(out, g)
		}
	}
	return out
}

// UpsertHouseholds creates households or updates them by ExternalRef, in one transaction. Opt-outs and
// contact statuses learnt from providers are kept: an import never opts a family back in.
func (db *DB) UpsertHouseholds(ctx context.Context, hs []relais.Household) error {
	now := ms(db.now())
	return db.inTx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `INSERT INTO households (external_ref, region, language, grades, profile,
			phone, email, postal_address, consent, sms_opt_out, email_opt_out, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (external_ref) DO UPDATE SET region = excluded.region, language = excluded.language,
			grades = excluded.grades, profile = excluded.profile, phone = excluded.phone, email = excluded.email,
			postal_address = excluded.postal_address, consent = excluded.consent,
			sms_opt_out = MAX(sms_opt_out, excluded.sms_opt_out),
			email_opt_out = MAX(email_opt_out, excluded.email_opt_out),
			phone_status = CASE WHEN phone = excluded.phone THEN phone_status ELSE '' END,
			email_status = CASE WHEN email = excluded.email THEN email_status ELSE '' END
			RETURNING id`)
		if err != nil {
			return err
		}
		defer up.Close()
		delGrades, err := tx.PrepareContext(ctx, `DELETE FROM household_grades WHERE household_id = ?`)
		if err != nil {
			return err
		}
		defer delGrades.Close()
		addGrade, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO household_grades (grade, household_id) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer addGrade.Close()
		for i := range hs {
			h := &hs[i]
			if err := up.QueryRowContext(ctx, h.ExternalRef, h.Region, h.Language, formatGrades(h.Grades), h.Profile,
				h.Phone, h.Email, h.PostalAddress, boolInt(h.Consent), boolInt(h.SMSOptOut), boolInt(h.EmailOptOut),
				now).Scan(&h.ID); err != nil {
				return fmt.Errorf("upsert household %q: %w", h.ExternalRef, err)
			}
			if _, err := delGrades.ExecContext(ctx, h.ID); err != nil {
				return err
			}
			for _, g := range h.Grades {
				if _, err := addGrade.ExecContext(ctx, g, h.ID); err != nil {
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

// Households lists households in id order, after the page cursor.
func (db *DB) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	p := f.Page.Normalize()
	var q string
	var args []any
	if f.Grade > 0 {
		q = `SELECT ` + householdColumns + ` FROM household_grades g JOIN households h ON h.id = g.household_id
			WHERE g.grade = ? AND g.household_id > ?`
		args = append(args, f.Grade, p.After)
	} else {
		q = `SELECT ` + householdColumns + ` FROM households h WHERE h.id > ?`
		args = append(args, p.After)
	}
	if f.Region != "" {
		q += ` AND h.region = ?`
		args = append(args, f.Region)
	}
	if f.Profile != "" {
		q += ` AND h.profile = ?`
		args = append(args, f.Profile)
	}
	if f.Grade > 0 {
		q += ` ORDER BY g.household_id LIMIT ?`
	} else {
		q += ` ORDER BY h.id LIMIT ?`
	}
	args = append(args, p.Limit)
	return db.queryHouseholds(ctx, q, args...)
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
