package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

// UpsertHouseholds creates households or updates them by ExternalRef, in one transaction, and replaces
// their pupils (Household.Roll). Opt-outs and contact statuses learnt from providers are kept: an
// import never opts a family back in. The households whose reference is not stored yet — all of them
// in a first import — are copied (COPY) straight into households and their pupils into pupils, with
// ids drawn from the sequence beforehand (insertNew). The others are copied into a staging table of
// the transaction and written by one INSERT ... ON CONFLICT (upsertRun); a household listed twice is
// written twice, in order, as one by one. A household another writer creates between the look-up and
// the copy makes the copy fail on the unique reference: the transaction is then done again the second
// way only.
func (db *DB) UpsertHouseholds(ctx context.Context, hs []relais.Household) error {
	if len(hs) == 0 {
		return nil
	}
	for i := range hs {
		hs[i].Pupils = hs[i].Roll()
		hs[i].Grades = relais.PupilGrades(hs[i].Pupils)
	}
	now := ts(db.now())
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rest, err := insertNew(ctx, tx, hs, now)
		if err != nil || len(rest) == 0 {
			return err
		}
		others := make([]relais.Household, len(rest))
		for k, i := range rest {
			others[k] = hs[i]
		}
		if err := upsertAll(ctx, tx, others, now); err != nil {
			return err
		}
		for k, i := range rest {
			hs[i].ID = others[k].ID
		}
		return nil
	})
	if isUniqueViolation(err) {
		err = db.inTx(ctx, func(tx pgx.Tx) error { return upsertAll(ctx, tx, hs, now) })
	}
	return err
}

// insertNew copies the households of hs whose reference is neither stored nor repeated earlier in hs
// into households and pupils, setting their ids, and returns the indexes of the others, in order.
func insertNew(ctx context.Context, tx pgx.Tx, hs []relais.Household, now time.Time) ([]int, error) {
	refs := make([]string, len(hs))
	for i := range hs {
		refs[i] = hs[i].ExternalRef
	}
	stored := map[string]bool{}
	rows, err := tx.Query(ctx, `SELECT external_ref FROM households WHERE external_ref = ANY($1)`, refs)
	if err != nil {
		return nil, fmt.Errorf("upsert households: %w", err)
	}
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			rows.Close()
			return nil, fmt.Errorf("upsert households: %w", err)
		}
		stored[ref] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("upsert households: %w", err)
	}
	var fresh []*relais.Household
	var rest []int
	for i := range hs {
		if stored[hs[i].ExternalRef] {
			rest = append(rest, i)
			continue
		}
		stored[hs[i].ExternalRef] = true // a repeat is written after, over this one
		fresh = append(fresh, &hs[i])
	}
	if len(fresh) == 0 {
		return rest, nil
	}
	rows, err = tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('households', 'id')) FROM generate_series(1, $1)`, len(fresh))
	if err != nil {
		return nil, fmt.Errorf("upsert households: ids: %w", err)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&fresh[n].ID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("upsert households: ids: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != len(fresh) {
		return nil, fmt.Errorf("upsert households: ids: %d of %d, %v", n, len(fresh), err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"households"}, newColumns, &newRows{hs: fresh, now: now}); err != nil {
		return nil, fmt.Errorf("upsert households: copy: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pupils"}, []string{"household_id", "grade", "language", "school", "class"},
		&pupilRows{hs: fresh, j: -1}); err != nil {
		return nil, fmt.Errorf("upsert households: copy pupils: %w", err)
	}
	return rest, nil
}

// newColumns are the columns of households insertNew copies, in the order newRows gives them.
var newColumns = []string{"id", "external_ref", "region", "language", "pupils", "profile", "phone", "email",
	"postal_address", "consent", "sms_opt_out", "email_opt_out", "created_at"}

// newRows is a pgx.CopyFromSource over new households.
type newRows struct {
	hs  []*relais.Household
	now time.Time
	i   int
	row []any
}

func (r *newRows) Next() bool { r.i++; return r.i <= len(r.hs) }
func (r *newRows) Err() error { return nil }

func (r *newRows) Values() ([]any, error) {
	h := r.hs[r.i-1]
	pupils, err := pupilsJSON(h.Pupils)
	if err != nil {
		return nil, err
	}
	r.row = append(r.row[:0], h.ID, h.ExternalRef, h.Region, h.Language, pupils, string(h.Profile), h.Phone, h.Email,
		h.PostalAddress, h.Consent, h.SMSOptOut, h.EmailOptOut, r.now)
	return r.row, nil
}

// pupilRows is a pgx.CopyFromSource over the pupils of households, one row per pupil.
type pupilRows struct {
	hs  []*relais.Household
	i   int // household
	j   int // its pupil; -1 before the first
	row []any
}

func (r *pupilRows) Next() bool {
	r.j++
	for r.i < len(r.hs) && r.j >= len(r.hs[r.i].Pupils) {
		r.i, r.j = r.i+1, 0
	}
	return r.i < len(r.hs)
}

func (r *pupilRows) Err() error { return nil }

func (r *pupilRows) Values() ([]any, error) {
	h := r.hs[r.i]
	p := &h.Pupils[r.j]
	r.row = append(r.row[:0], h.ID, int32(p.Grade), p.Language, p.School, p.Class)
	return r.row, nil
}

// pupilsJSON is the households.pupils column: the pupils as a JSON list.
func pupilsJSON(ps []relais.Pupil) (string, error) {
	if len(ps) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ps)
	return string(b), err
}

// upsertAll writes hs by upsertRun, in runs in which no reference repeats.
func upsertAll(ctx context.Context, tx pgx.Tx, hs []relais.Household, now time.Time) error {
	if len(hs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE households_import (
		n integer, external_ref text, region text, language text, pupils text, profile text, phone text,
		email text, postal_address text, consent boolean, sms_opt_out boolean, email_opt_out boolean,
		p_grades integer[], p_languages text[], p_schools text[], p_classes text[]
	) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("upsert households: staging table: %w", err)
	}
	// ON CONFLICT DO UPDATE cannot touch a row twice in one statement: cut a run where a reference repeats.
	start, seen := 0, map[string]bool{}
	for i := range hs {
		if seen[hs[i].ExternalRef] {
			if err := upsertRun(ctx, tx, hs[start:i], now); err != nil {
				return err
			}
			start, seen = i, map[string]bool{}
		}
		seen[hs[i].ExternalRef] = true
	}
	return upsertRun(ctx, tx, hs[start:], now)
}

// importColumns are the staging table's columns, in the order householdRows gives them.
var importColumns = []string{"n", "external_ref", "region", "language", "pupils", "profile", "phone", "email",
	"postal_address", "consent", "sms_opt_out", "email_opt_out", "p_grades", "p_languages", "p_schools", "p_classes"}

// householdRows is a pgx.CopyFromSource over households, numbered in their order: each household's
// pupils go as its list (JSON) and as four parallel arrays the pupils table is written from.
type householdRows struct {
	hs                      []relais.Household
	i                       int
	grades                  []int32
	langs, schools, classes []string
	row                     []any
}

func (r *householdRows) Next() bool { r.i++; return r.i <= len(r.hs) }
func (r *householdRows) Err() error { return nil }

func (r *householdRows) Values() ([]any, error) {
	h := &r.hs[r.i-1]
	r.grades, r.langs, r.schools, r.classes = r.grades[:0], r.langs[:0], r.schools[:0], r.classes[:0]
	for _, p := range h.Pupils {
		r.grades = append(r.grades, int32(p.Grade))
		r.langs = append(r.langs, p.Language)
		r.schools = append(r.schools, p.School)
		r.classes = append(r.classes, p.Class)
	}
	pupils, err := pupilsJSON(h.Pupils)
	if err != nil {
		return nil, err
	}
	r.row = append(r.row[:0], int32(r.i), h.ExternalRef, h.Region, h.Language, pupils, string(h.Profile), h.Phone,
		h.Email, h.PostalAddress, h.Consent, h.SMSOptOut, h.EmailOptOut, r.grades, r.langs, r.schools, r.classes)
	return r.row, nil
}

func upsertRun(ctx context.Context, tx pgx.Tx, hs []relais.Household, now time.Time) error {
	if _, err := tx.Exec(ctx, `TRUNCATE households_import`); err != nil {
		return fmt.Errorf("upsert households: staging table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"households_import"}, importColumns, &householdRows{hs: hs}); err != nil {
		return fmt.Errorf("upsert households: copy: %w", err)
	}
	// xmax is 0 on a row this statement inserted: a new household's pupils are written by the same
	// statement; an updated one's are replaced after it.
	rows, err := tx.Query(ctx, `WITH up AS (
		INSERT INTO households AS h (external_ref, region, language, pupils, profile,
			phone, email, postal_address, consent, sms_opt_out, email_opt_out, created_at)
		SELECT external_ref, region, language, pupils, profile, phone, email, postal_address,
			consent, sms_opt_out, email_opt_out, $1
		FROM households_import ORDER BY n
		ON CONFLICT (external_ref) DO UPDATE SET region = excluded.region, language = excluded.language,
		pupils = excluded.pupils, profile = excluded.profile, phone = excluded.phone, email = excluded.email,
		postal_address = excluded.postal_address, consent = excluded.consent,
		sms_opt_out = h.sms_opt_out OR excluded.sms_opt_out,
		email_opt_out = h.email_opt_out OR excluded.email_opt_out,
		phone_status = CASE WHEN h.phone = excluded.phone THEN h.phone_status ELSE '' END,
		email_status = CASE WHEN h.email = excluded.email THEN h.email_status ELSE '' END,
		removed_at = NULL
		RETURNING id, external_ref, xmax = 0 AS inserted
	), pupils AS (
		INSERT INTO pupils (household_id, grade, language, school, class)
		SELECT up.id, p.grade, p.language, p.school, p.class
		FROM up JOIN households_import i ON i.external_ref = up.external_ref,
			unnest(i.p_grades, i.p_languages, i.p_schools, i.p_classes) AS p (grade, language, school, class)
		WHERE up.inserted
	)
	SELECT id, external_ref, inserted FROM up`, now)
	if err != nil {
		return fmt.Errorf("upsert households: %w", err)
	}
	byRef := make(map[string]int64, len(hs))
	var updated []int64
	for rows.Next() {
		var id int64
		var ref string
		var inserted bool
		if err := rows.Scan(&id, &ref, &inserted); err != nil {
			rows.Close()
			return err
		}
		byRef[ref] = id
		if !inserted {
			updated = append(updated, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("upsert households: %w", err)
	}
	for i := range hs {
		hs[i].ID = byRef[hs[i].ExternalRef]
	}
	if len(updated) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pupils WHERE household_id = ANY($1)`, updated); err != nil {
		return fmt.Errorf("upsert households: pupils: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pupils (household_id, grade, language, school, class)
		SELECT h.id, p.grade, p.language, p.school, p.class
		FROM households h JOIN households_import i ON i.external_ref = h.external_ref,
			unnest(i.p_grades, i.p_languages, i.p_schools, i.p_classes) AS p (grade, language, school, class)
		WHERE h.id = ANY($1)`, updated); err != nil {
		return fmt.Errorf("upsert households: pupils: %w", err)
	}
	return nil
}

// Households lists households in id order, after the page cursor. With an audience or a grade, the
// households are those of the pupils that match, read on the index pupils_audience (audienceQuery).
func (db *DB) Households(ctx context.Context, f relais.HouseholdFilter) ([]relais.Household, error) {
	p := f.Page.Normalize()
	if f.Audience != nil || f.Grade > 0 {
		q, args := audienceQuery(f, p)
		return queryAll(ctx, db.pool, sqlstore.ScanHousehold, q, args...)
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	q := `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE h.id > ` + arg(p.After)
	if f.Search != "" {
		s := arg(f.Search)
		// The matches are found on the indexes of each column (the partial indexes' conditions
		// repeated; the address as written, found on its index of lower(email)), then read by id: a
		// search with ORDER BY id otherwise walked every household.
		q += ` AND h.id IN (SELECT id FROM households WHERE external_ref = ` + s + `
			UNION SELECT id FROM households WHERE phone = ` + s + ` AND phone <> ''
			UNION SELECT id FROM households WHERE lower(email) = lower(` + s + `) AND email = ` + s + ` AND email <> '')`
	}
	if f.Region != "" {
		q += ` AND h.region = ` + arg(f.Region)
	}
	if f.Profile != "" {
		q += ` AND h.profile = ` + arg(string(f.Profile))
	}
	q += ` ORDER BY h.id LIMIT ` + arg(p.Limit)
	return queryAll(ctx, db.pool, sqlstore.ScanHousehold, q, args...)
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
		return `SELECT ` + sqlstore.HouseholdColumns + ` FROM households h WHERE false`, nil
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	after, limit := arg(p.After), arg(p.Limit)
	var cond string // the conditions every run shares
	if len(a.Schools) > 0 {
		cond += ` AND p.school = ANY(` + arg(a.Schools) + `)`
	}
	if len(a.Classes) > 0 {
		cond += ` AND p.class = ANY(` + arg(a.Classes) + `)`
	}
	join := ""
	if f.Region != "" || f.Profile != "" || len(a.Regions) > 0 {
		join = ` JOIN households ph ON ph.id = p.household_id`
	}
	if len(a.Regions) > 0 {
		cond += ` AND ph.region = ANY(` + arg(a.Regions) + `)`
	}
	if f.Region != "" {
		cond += ` AND ph.region = ` + arg(f.Region)
	}
	if f.Profile != "" {
		cond += ` AND ph.profile = ` + arg(string(f.Profile))
	}
	// The page's ids are found first, then their households read by primary key: written as
	// "h.id IN (runs)", the planner may walk households in id order testing each against the runs.
	var b strings.Builder
	b.WriteString(`SELECT ` + sqlstore.HouseholdColumns + ` FROM (SELECT DISTINCT household_id FROM (`)
	for i, r := range runs {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		b.WriteString(`(SELECT DISTINCT p.household_id FROM pupils p` + join + ` WHERE p.grade = ` + arg(r.Grade))
		if r.Lang != nil {
			b.WriteString(` AND p.language = ` + arg(*r.Lang))
		}
		b.WriteString(` AND p.household_id > ` + after + cond + ` ORDER BY p.household_id LIMIT ` + limit + `)`)
	}
	b.WriteString(`) runs ORDER BY household_id LIMIT ` + limit + `) ids JOIN households h ON h.id = ids.household_id ORDER BY h.id`)
	return b.String(), args
}

// HouseholdsByIDs returns the households with those ids.
func (db *DB) HouseholdsByIDs(ctx context.Context, ids []int64) (map[int64]relais.Household, error) {
	out := make(map[int64]relais.Household, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	hs, err := queryAll(ctx, db.pool, sqlstore.ScanHousehold, `SELECT `+sqlstore.HouseholdColumns+` FROM households h WHERE h.id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		out[h.ID] = h
	}
	return out, nil
}

// emailIs is the condition on households' email for an address, compared without case as SQLite's
// COLLATE NOCASE does, on the partial index households_email.
func emailIs(email string) string {
	if email == "" {
		return `lower(h.email) = lower(?)`
	}
	return `lower(h.email) = lower(?) AND h.email <> ''`
}
