package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/store/internal/sqlstore"
)

const deliveryColumns = sqlstore.DeliveryColumns

var scanDelivery = sqlstore.ScanDelivery

// deliveryKeys holds the keys (lesson, household, channel) of a page of deliveries as arrays, the
// parameters of an unnest.
type deliveryKeys struct {
	lessons, households []int64
	channels            []string
}

func keysOf(ds []relais.Delivery) deliveryKeys {
	k := deliveryKeys{make([]int64, len(ds)), make([]int64, len(ds)), make([]string, len(ds))}
	for i, d := range ds {
		k.lessons[i], k.households[i], k.channels[i] = d.LessonID, d.HouseholdID, string(d.Channel)
	}
	return k
}

// PlanDeliveries inserts pending deliveries, leaving existing (lesson, household, channel) rows as they
// are, sets each delivery's ID and Status to its row's, and returns the ids of the given keys that are
// pending, in the order given. The page is one multi-row insert (ON CONFLICT DO NOTHING, so planners
// running at once never plan a key twice) that records the new rows' first events in the same
// statement and returns the new rows; only when some key existed already are the keys read again. A
// row planned pending without a reason, a fan-out's, has its first event implied (implied_start,
// migration 00017): its row says all the event would.
func (db *DB) PlanDeliveries(ctx context.Context, ds []relais.Delivery) ([]int64, error) {
	return db.PlanPage(ctx, ds, nil)
}

// PlanPage is PlanDeliveries with the page's sender choices written in the same transaction
// (rememberSenders).
func (db *DB) PlanPage(ctx context.Context, ds []relais.Delivery, senders []relais.SenderChoice) ([]int64, error) {
	if len(ds) == 0 {
		if len(senders) == 0 {
			return nil, nil
		}
		return nil, db.inTx(ctx, func(tx pgx.Tx) error { return rememberSenders(ctx, tx, senders) })
	}
	now := ts(db.now())
	k := keysOf(ds)
	statuses, reasons := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		statuses[i], reasons[i] = string(d.Status), d.Reason
		if d.Status == "" {
			statuses[i] = string(relais.DeliveryPending)
		}
	}
	type key struct {
		lesson, household int64
		channel           relais.ChannelName
	}
	type row struct {
		id     int64
		status relais.DeliveryStatus
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// The senders first: the insert's trigger upserts the lesson's row of the minute in
		// delivery_minutes, which every page of the lesson planned in that minute upserts too, and
		// holds it until the commit. Written after the insert, the senders of a first lesson (a
		// thousand households rewritten) kept the other pages waiting on that row: the upsert took
		// 20.7 s in all over a fan-out of 1 M households (pg_stat_statements), 3.1 s once the senders
		// went first.
		if err := rememberSenders(ctx, tx, senders); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH ins AS (
				INSERT INTO deliveries (lesson_id, household_id, channel, status, reason, created_at, updated_at, implied_start)
				SELECT l, h, c, s, r, $6, $6, s = 'pending' AND r = '' FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
					WITH ORDINALITY AS u(l, h, c, s, r, n) WHERE `+parentsExist+` ORDER BY n
				ON CONFLICT (lesson_id, household_id, channel) DO NOTHING
				RETURNING id, lesson_id, household_id, channel, status, reason, implied_start),
			ev AS (INSERT INTO delivery_events (delivery_id, status, detail, at)
				SELECT id, status, reason, $6 FROM ins WHERE NOT implied_start ORDER BY id)
			SELECT id, lesson_id, household_id, channel, status FROM ins`,
			k.lessons, k.households, k.channels, statuses, reasons, now)
		if err != nil {
			return fmt.Errorf("plan deliveries: %w", err)
		}
		got := make(map[key]row, len(ds))
		for rows.Next() {
			var k key
			var r row
			if err := rows.Scan(&r.id, &k.lesson, &k.household, &k.channel, &r.status); err != nil {
				rows.Close()
				return fmt.Errorf("plan deliveries: %w", err)
			}
			got[k] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("plan deliveries: %w", err)
		}
		if len(got) < len(ds) {
			// Some keys existed: a statement of its own reads them, so that it also sees the rows a
			// concurrent planner committed meanwhile.
			type keyed struct {
				k key
				r row
			}
			rs, err := queryAll(ctx, tx, func(sc rowScanner) (keyed, error) {
				var v keyed
				return v, sc.Scan(&v.r.id, &v.r.status, &v.k.lesson, &v.k.household, &v.k.channel)
			}, `SELECT d.id, d.status, u.l, u.h, u.c FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(l, h, c)
				CROSS JOIN LATERAL (SELECT id, status FROM deliveries
					WHERE lesson_id = u.l AND household_id = u.h AND channel = u.c LIMIT 1) d`, k.lessons, k.households, k.channels)
			if err != nil {
				return fmt.Errorf("plan deliveries: %w", err)
			}
			for _, v := range rs {
				got[v.k] = v.r
			}
		}
		for i := range ds {
			r, ok := got[key{ds[i].LessonID, ds[i].HouseholdID, ds[i].Channel}]
			if !ok {
				return fmt.Errorf("plan delivery of lesson %d to household %d: %w", ds[i].LessonID, ds[i].HouseholdID, errNoParent)
			}
			ds[i].ID, ds[i].Status = r.id, r.status
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, d := range ds {
		if d.Status == relais.DeliveryPending {
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}

// rememberSenders sets each choice's sender on its household while the household remembers the
// choice's Was: one UPDATE ... FROM unnest for the page, its ids sorted so that two fan-outs writing
// the same households lock them in one order and wait for each other (should a plan lock them in
// another order, the deadlock fails a page, whose task plans it again). The column is in no index:
// the update is a heap-only tuple where the page has room. Only when some household was not written
// (it remembers another sender: a fan-out of another lesson gave it one meanwhile) are they read
// again, and their choices' Sender set to it.
func rememberSenders(ctx context.Context, tx pgx.Tx, senders []relais.SenderChoice) error {
	if len(senders) == 0 {
		return nil
	}
	sorted := slices.Clone(senders)
	slices.SortFunc(sorted, func(a, b relais.SenderChoice) int { return cmp.Compare(a.HouseholdID, b.HouseholdID) })
	ids, was, to := make([]int64, len(sorted)), make([]string, len(sorted)), make([]string, len(sorted))
	for i, c := range sorted {
		ids[i], was[i], to[i] = c.HouseholdID, c.Was, c.Sender
	}
	tag, err := tx.Exec(ctx, `UPDATE households h SET sms_sender = u.s
		FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, was, s)
		WHERE h.id = u.id AND h.sms_sender IS NOT DISTINCT FROM NULLIF(u.was, '')`, ids, was, to)
	if err != nil {
		return fmt.Errorf("remember sms senders: %w", err)
	}
	if tag.RowsAffected() == int64(len(sorted)) {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT h.id, h.sms_sender FROM unnest($1::bigint[], $2::text[]) AS u(id, s)
		JOIN households h ON h.id = u.id WHERE h.sms_sender IS DISTINCT FROM u.s`, ids, to)
	if err != nil {
		return fmt.Errorf("remember sms senders: %w", err)
	}
	now := map[int64]string{}
	for rows.Next() {
		var id int64
		var s *string
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return fmt.Errorf("remember sms senders: %w", err)
		}
		if s != nil {
			now[id] = *s
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("remember sms senders: %w", err)
	}
	for i, c := range senders {
		if s, ok := now[c.HouseholdID]; ok {
			senders[i].Sender = s
		}
	}
	return nil
}

// parentsExist is the condition on a key (u.l, u.h, ...) to insert its delivery: its lesson and its
// household exist. It stands for the foreign keys deliveries no longer have (migration 00012): a
// probe of each primary key for the whole statement instead of a referential check, which locks the
// row it finds, per row.
const parentsExist = `EXISTS (SELECT 1 FROM lessons WHERE id = u.l) AND EXISTS (SELECT 1 FROM households WHERE id = u.h)`

// errNoParent is the error of a delivery or event whose lesson, household or delivery does not exist.
var errNoParent = errors.New("no such lesson, household or delivery")

// byKey reads, for each key of a page (u.l, u.h, u.c), its delivery d: one probe of the unique key
// per key, whatever the planner thinks of the page's size (LIMIT 1 keeps the subquery a probe).
const byKey = `CROSS JOIN LATERAL (SELECT id, status, occurrence FROM deliveries
	WHERE lesson_id = u.l AND household_id = u.h AND channel = u.c LIMIT 1) d`

// airing writes an occurrence (Unix seconds) in a reminder's history as store/sqlite does:
// "the broadcast at 2006-01-02 15:04 UTC".
const airing = `'the broadcast at ' || to_char(to_timestamp(%s) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')`

// RemindDeliveries inserts or re-arms the reminder deliveries of an airing (see relais.DeliveryStore):
// one statement inserts the missing ones, one re-arms those that have left, one reads where each key
// stands.
func (db *DB) RemindDeliveries(ctx context.Context, ds []relais.Delivery) ([]int64, int, error) {
	if len(ds) == 0 {
		return nil, 0, nil
	}
	for _, d := range ds {
		if d.Channel != relais.ChannelReminder || d.Occurrence <= 0 {
			return nil, 0, fmt.Errorf("remind delivery of lesson %d to household %d: not a reminder of an airing", d.LessonID, d.HouseholdID)
		}
	}
	now := ts(db.now())
	k := keysOf(ds)
	occurrences := make([]int64, len(ds))
	for i, d := range ds {
		occurrences[i] = d.Occurrence
	}
	var ids []int64
	held := 0
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		ids, held = nil, 0
		if _, err := tx.Exec(ctx, `WITH ins AS (
				INSERT INTO deliveries (lesson_id, household_id, channel, status, occurrence, created_at, updated_at)
				SELECT l, h, c, 'pending', o, $5, $5 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[])
					WITH ORDINALITY AS u(l, h, c, o, n) WHERE `+parentsExist+` ORDER BY n
				ON CONFLICT (lesson_id, household_id, channel) DO NOTHING
				RETURNING id, occurrence)
			INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT id, 'pending', 'reminder of ' || `+fmt.Sprintf(airing, "occurrence")+`, $5 FROM ins ORDER BY id`,
			k.lessons, k.households, k.channels, occurrences, now); err != nil {
			return fmt.Errorf("plan reminder: %w", err)
		}
		// Only a reminder that has left is re-armed: a pending or claimed one may be in a send task
		// right now.
		if _, err := tx.Exec(ctx, `WITH re AS (
				UPDATE deliveries d SET status = 'pending', reason = '', provider_id = '', attempts = 0,
					occurrence = u.o, updated_at = $5
				FROM (SELECT DISTINCT ON (l, h, c) l, h, c, o -- a key listed twice: its first airing, as one by one
					FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(l, h, c, o, n)
					ORDER BY l, h, c, n) u
				WHERE d.lesson_id = u.l AND d.household_id = u.h AND d.channel = u.c AND d.occurrence < u.o
					AND d.status NOT IN ('pending', 'claimed')
				RETURNING d.id, d.occurrence)
			INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT id, 'pending', 'reminder again, of ' || `+fmt.Sprintf(airing, "occurrence")+`, $5 FROM re ORDER BY id`,
			k.lessons, k.households, k.channels, occurrences, now); err != nil {
			return fmt.Errorf("re-arm reminder: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT d.id, d.status, d.occurrence, u.o
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(l, h, c, o, n) `+byKey+`
			ORDER BY u.n`,
			k.lessons, k.households, k.channels, occurrences)
		if err != nil {
			return err
		}
		defer rows.Close()
		read := 0
		for rows.Next() {
			var id, occurrence, want int64
			var cur relais.DeliveryStatus
			if err := rows.Scan(&id, &cur, &occurrence, &want); err != nil {
				return err
			}
			read++
			switch {
			case cur == relais.DeliveryPending && occurrence == want:
				ids = append(ids, id)
			case (cur == relais.DeliveryPending || cur == relais.DeliveryClaimed) && occurrence < want:
				held++
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if read < len(ds) { // a key without a row: its lesson or its household does not exist
			return fmt.Errorf("plan reminder: %w", errNoParent)
		}
		return nil
	})
	return ids, held, err
}

// DeliveriesByIDs returns the deliveries with those ids, in id order.
func (db *DB) DeliveriesByIDs(ctx context.Context, ids []int64) ([]relais.Delivery, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return queryAll(ctx, db.pool, scanDelivery, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = ANY($1) ORDER BY id`, ids)
}

// AdvanceDelivery moves a delivery forward and records the event.
func (db *DB) AdvanceDelivery(ctx context.Context, id int64, status relais.DeliveryStatus, detail, providerID string) (bool, error) {
	changed, err := db.AdvanceDeliveries(ctx, []relais.DeliveryAdvance{{ID: id, Status: status, Detail: detail, ProviderID: providerID}})
	if err != nil {
		return false, err
	}
	return changed[0], nil
}

// deliveryState is where a delivery stands while a page of advances is applied to it.
type deliveryState struct {
	status             relais.DeliveryStatus
	reason, providerID string
	advanced, touched  bool
}

// AdvanceDeliveries applies many advances in one transaction: it locks the page's deliveries (in id
// order, so that concurrent pages wait rather than deadlock), applies the advances in order in Go as
// store/sqlite does one by one, then writes the rows with one update and the history with one insert.
func (db *DB) AdvanceDeliveries(ctx context.Context, as []relais.DeliveryAdvance) ([]bool, error) {
	changed := make([]bool, len(as))
	if len(as) == 0 {
		return changed, nil
	}
	now := ts(db.now())
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		clear(changed)
		return advanceTx(ctx, tx, as, changed, now)
	})
	return changed, err
}

// advanceTx applies as in tx (see AdvanceDeliveries), setting changed[i] when as[i] changed a status.
func advanceTx(ctx context.Context, tx pgx.Tx, as []relais.DeliveryAdvance, changed []bool, now time.Time) error {
	if len(as) == 0 {
		return nil
	}
	ids := advancedIDs(as)
	rows, err := tx.Query(ctx, lockDeliveries, ids)
	if err != nil {
		return err
	}
	state, err := scanStates(rows)
	if err != nil {
		return err
	}
	w, err := planAdvances(as, state, changed)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	w.queue(b, now)
	if b.Len() == 0 {
		return nil
	}
	return w.results(tx.SendBatch(ctx, b), true)
}

// lockDeliveries reads and locks the deliveries a page of advances moves, in id order.
const lockDeliveries = `SELECT id, status, reason, provider_id FROM deliveries WHERE id = ANY($1) ORDER BY id FOR UPDATE`

// advancedIDs returns the ids as moves, sorted, once each.
func advancedIDs(as []relais.DeliveryAdvance) []int64 {
	ids := make([]int64, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// scanStates reads the rows of lockDeliveries.
func scanStates(rows pgx.Rows) (map[int64]*deliveryState, error) {
	defer rows.Close()
	state := map[int64]*deliveryState{}
	for rows.Next() {
		var id int64
		s := &deliveryState{}
		if err := rows.Scan(&id, &s.status, &s.reason, &s.providerID); err != nil {
			return nil, err
		}
		state[id] = s
	}
	return state, rows.Err()
}

// advanceWrites are the rows and events a page of advances writes.
type advanceWrites struct {
	upIDs                              []int64
	upStatuses, upReasons, upProviders []string
	upAdvanced                         []bool
	evIDs                              []int64
	evStatuses, evDetails              []string
}

// planAdvances applies as, in order, to state (the deliveries as locked), setting changed[i] when
// as[i] changed a status, and returns what to write.
func planAdvances(as []relais.DeliveryAdvance, state map[int64]*deliveryState, changed []bool) (advanceWrites, error) {
	var w advanceWrites
	for i, a := range as {
		s, ok := state[a.ID]
		if !ok {
			return w, relais.Errorf(relais.ENOTFOUND, "Delivery %d not found.", a.ID)
		}
		providerID := a.ProviderID
		if providerID == "" {
			providerID = s.providerID
		}
		if !s.status.Advances(a.Status) {
			if providerID != s.providerID {
				s.providerID, s.touched = providerID, true
			}
			continue
		}
		if (a.Status == relais.DeliveryDelivered || a.Status == relais.DeliveryUndelivered) && s.status.Advances(relais.DeliverySent) {
			// The carrier reported on a message whose "sent" was lost or came late: it was sent all
			// the same, and the history (and the dashboard's "sent" line) says so.
			w.evIDs, w.evStatuses, w.evDetails = append(w.evIDs, a.ID), append(w.evStatuses, string(relais.DeliverySent)),
				append(w.evDetails, "implied by "+string(a.Status))
		}
		w.evIDs, w.evStatuses, w.evDetails = append(w.evIDs, a.ID), append(w.evStatuses, string(a.Status)), append(w.evDetails, a.Detail)
		reason := ""
		if a.Status == relais.DeliveryFailed || a.Status == relais.DeliveryUndelivered || a.Status == relais.DeliverySkipped ||
			a.Status == relais.DeliveryUnknown {
			reason = a.Detail
		}
		s.status, s.reason, s.providerID, s.advanced, s.touched = a.Status, reason, providerID, true, true
		changed[i] = true
	}
	for _, id := range advancedIDs(as) {
		if s := state[id]; s.touched {
			w.upIDs, w.upStatuses, w.upReasons = append(w.upIDs, id), append(w.upStatuses, string(s.status)), append(w.upReasons, s.reason)
			w.upProviders, w.upAdvanced = append(w.upProviders, s.providerID), append(w.upAdvanced, s.advanced)
		}
	}
	return w, nil
}

// queue adds w's statements to b: the rows first, then their events (the timeline's trigger reads
// the new reasons).
func (w advanceWrites) queue(b *pgx.Batch, now time.Time) {
	if len(w.upIDs) > 0 {
		b.Queue(`UPDATE deliveries d SET status = u.s, reason = u.r, provider_id = u.p,
			updated_at = CASE WHEN u.advanced THEN $6 ELSE d.updated_at END
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[]) AS u(id, s, r, p, advanced)
			WHERE d.id = u.id`, w.upIDs, w.upStatuses, w.upReasons, w.upProviders, w.upAdvanced, now)
	}
	if len(w.evIDs) > 0 {
		b.Queue(`INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT id, s, dt, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS u(id, s, dt, n)
			ORDER BY n`, w.evIDs, w.evStatuses, w.evDetails, now)
	}
}

// results reads the results of the statements queue added to br, first in br, and closes br when
// closeAfter.
func (w advanceWrites) results(br pgx.BatchResults, closeAfter bool) error {
	if len(w.upIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("advance deliveries: %w", err)
		}
	}
	if len(w.evIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("advance deliveries: events: %w", err)
		}
	}
	if closeAfter {
		return br.Close()
	}
	return nil
}

// CommitSends applies the steps of send attempts in one transaction (see relais.DeliveryStore): the
// advances of every step, in order, as AdvanceDeliveries does, then every step's claims with one
// update. A delivery that two steps claim goes to the first.
func (db *DB) CommitSends(ctx context.Context, steps []relais.SendStep) ([][]int64, error) {
	var as []relais.DeliveryAdvance
	var claimIDs []int64
	var claimBy []string
	var claimAt []time.Time
	var stepOf []int
	seen := map[int64]bool{}
	for i, s := range steps {
		as = append(as, s.Advances...)
		for _, id := range s.Claims {
			if !seen[id] {
				seen[id] = true
				claimIDs, claimBy, claimAt, stepOf = append(claimIDs, id), append(claimBy, s.Attempt), append(claimAt, ts(s.At)), append(stepOf, i)
			}
		}
	}
	claimed := make([][]int64, len(steps))
	if len(as) == 0 && len(claimIDs) == 0 {
		return claimed, nil
	}
	claimArgs := []any{relais.DeliveryClaimed, claimIDs, claimBy, claimAt, stepOf, relais.DeliveryPending}
	scanClaims := func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var id int64
			var step int
			if err := rows.Scan(&id, &step); err != nil {
				return err
			}
			claimed[step] = append(claimed[step], id)
		}
		return rows.Err()
	}
	claimQueue := func(b *pgx.Batch) {
		if len(claimIDs) > 0 {
			b.Queue(claimDeliveries, claimArgs...)
		}
	}
	claimRead := func(br pgx.BatchResults) error {
		if len(claimIDs) == 0 {
			return nil
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return scanClaims(rows)
	}
	var err error
	switch {
	case len(as) == 0: // one statement: no transaction around it (one round trip)
		var rows pgx.Rows
		if rows, err = db.pool.Query(ctx, claimDeliveries, claimArgs...); err == nil {
			err = scanClaims(rows)
		}
	default:
		// A deadlock (the attempt's heartbeat refreshing its page's rows in another order while this
		// holds one of them) aborts the whole transaction: it is run again, at most three times.
		for try := 0; try == 0 || isDeadlock(err) && try < 3; try++ {
			clear(claimed)
			err = db.commitSends(ctx, as, claimQueue, claimRead)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, ids := range claimed {
		slices.Sort(ids)
	}
	return claimed, nil
}

// isDeadlock reports whether err is PostgreSQL's abort of a transaction caught in a deadlock.
func isDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40P01"
}

// claimDeliveries moves pending deliveries to claimed, each by its attempt at its time, and returns
// them with the index of the step that claimed them.
const claimDeliveries = `UPDATE deliveries d SET status = $1, claimed_by = c.attempt, claimed_at = c.at, updated_at = c.at
	FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::int[]) AS c(id, attempt, at, step)
	WHERE d.id = c.id AND d.status = $6 RETURNING d.id, c.step`

// commitSends applies as (see AdvanceDeliveries), then the statements claims queues, in one
// transaction of two round trips, for a send task's connection waits for it: BEGIN with the lock of
// the deliveries as moves, then their rows and events, the claims (read by claimed) and COMMIT. A
// failure rolls the transaction back (or, when that fails too, the pool drops the connection, which
// it does with any connection left in a transaction).
func (db *DB) commitSends(ctx context.Context, as []relais.DeliveryAdvance, claims func(*pgx.Batch), claimed func(pgx.BatchResults) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockDeliveries, advancedIDs(as))
	var w advanceWrites
	err = func() error {
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		state, err := scanStates(rows)
		if err != nil {
			return err
		}
		if w, err = planAdvances(as, state, make([]bool, len(as))); err != nil {
			return err
		}
		return br.Close()
	}()
	if err == nil {
		b = &pgx.Batch{}
		w.queue(b, ts(db.now()))
		claims(b)
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		err = w.results(br, false)
		if err == nil {
			err = claimed(br)
		}
		if err == nil {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(rctx, "ROLLBACK")
	}
	return err
}

// StartAttempts counts one more try of each delivery.
func (db *DB) StartAttempts(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE deliveries SET attempts = attempts + 1 WHERE id = ANY($1)`, ids)
	return err
}

// ClaimDeliveries moves the pending ones of ids to claimed by attempt (see relais.DeliveryStore).
func (db *DB) ClaimDeliveries(ctx context.Context, ids []int64, attempt string, now time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return db.returnIDs(ctx, `UPDATE deliveries SET status = $1, claimed_by = $2, claimed_at = $3, updated_at = $3
		WHERE status = $4 AND id = ANY($5) RETURNING id`, relais.DeliveryClaimed, attempt, ts(now), relais.DeliveryPending, ids)
}

// ReleaseClaims moves back to pending the ones of ids claimed by attempt.
func (db *DB) ReleaseClaims(ctx context.Context, ids []int64, attempt string) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return db.returnIDs(ctx, `UPDATE deliveries SET status = $1, updated_at = $2
		WHERE status = $3 AND claimed_by = $4 AND id = ANY($5) RETURNING id`, relais.DeliveryPending, ts(db.now()),
		relais.DeliveryClaimed, attempt, ids)
}

func (db *DB) returnIDs(ctx context.Context, q string, args ...any) ([]int64, error) {
	ids, err := queryAll(ctx, db.pool, func(row rowScanner) (int64, error) {
		var id int64
		return id, row.Scan(&id)
	}, q, args...)
	slices.Sort(ids)
	return ids, err
}

// RefreshClaims sets the claim time of attempt's claims and reservations among ids to now.
func (db *DB) RefreshClaims(ctx context.Context, attempt string, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE deliveries SET claimed_at = $1 WHERE claimed_by = $2 AND status IN ($3, $4) AND id = ANY($5)`,
		ts(now), attempt, relais.DeliveryClaimed, relais.DeliveryPending, ids)
	return err
}

// ReserveDeliveries marks the pending ones of ids as attempt's page.
func (db *DB) ReserveDeliveries(ctx context.Context, ids []int64, attempt string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE deliveries SET claimed_by = $1, claimed_at = $2 WHERE status = $3 AND id = ANY($4)`,
		attempt, ts(now), relais.DeliveryPending, ids)
	return err
}

// ClearReservations ends attempt's reservations of the pending deliveries among ids.
func (db *DB) ClearReservations(ctx context.Context, attempt string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE deliveries SET claimed_by = '' WHERE claimed_by = $1 AND status = $2 AND id = ANY($3)`,
		attempt, relais.DeliveryPending, ids)
	return err
}

// ReclaimReserved hands stale reservations of channel to attempt; rows another sweeper is taking are
// skipped. The status is written in the query, not bound: a generic plan finds the partial index
// deliveries_reserved only when the query repeats its condition (with status = $n, every sweep read
// the whole of deliveries_lesson_status).
func (db *DB) ReclaimReserved(ctx context.Context, channel relais.ChannelName, before time.Time, attempt string, now time.Time, limit int) ([]int64, error) {
	return db.returnIDs(ctx, `UPDATE deliveries SET claimed_by = $1, claimed_at = $2 WHERE id IN (
		SELECT id FROM deliveries WHERE status = 'pending' AND channel = $3 AND claimed_by <> '' AND claimed_at < $4 ORDER BY claimed_at
		LIMIT $5 FOR UPDATE SKIP LOCKED) AND status = 'pending' AND claimed_by <> '' AND claimed_at < $4 RETURNING id`,
		attempt, ts(now), channel, ts(before), limit)
}

// ReclaimDeliveries hands claims of channel not refreshed since before to attempt; rows another
// sweeper is taking are skipped, and the update re-checks the claim time. The status is written in
// the query, for the partial index deliveries_claimed (as in ReclaimReserved).
func (db *DB) ReclaimDeliveries(ctx context.Context, channel relais.ChannelName, before time.Time, attempt string, now time.Time, limit int) ([]relais.Delivery, error) {
	out, err := queryAll(ctx, db.pool, scanDelivery, `UPDATE deliveries d SET claimed_by = $1, claimed_at = $2
		FROM (SELECT id, claimed_by AS held_by FROM deliveries WHERE status = 'claimed' AND channel = $3 AND claimed_at < $4
			ORDER BY claimed_at LIMIT $5 FOR UPDATE SKIP LOCKED) o
		WHERE d.id = o.id AND d.status = 'claimed' AND d.claimed_at < $4
		RETURNING d.id, d.lesson_id, d.household_id, d.channel, d.status, d.reason, d.provider_id, d.attempts, d.occurrence,
			o.held_by, d.claimed_at, d.created_at, d.updated_at`,
		attempt, ts(now), channel, ts(before), limit)
	slices.SortFunc(out, func(a, b relais.Delivery) int { return int(a.ID - b.ID) })
	return out, err
}

// ResendUnknown moves a lesson's unknown deliveries back to pending, with an event each.
func (db *DB) ResendUnknown(ctx context.Context, lessonID int64) ([]int64, error) {
	var ids []int64
	now := ts(db.now())
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		ids, err = queryAll(ctx, tx, func(row rowScanner) (int64, error) {
			var id int64
			return id, row.Scan(&id)
		}, `UPDATE deliveries SET status = $1, reason = '', claimed_by = '', updated_at = $2 WHERE lesson_id = $3 AND status = $4 RETURNING id`,
			relais.DeliveryPending, now, lessonID, relais.DeliveryUnknown)
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at)
			SELECT id, $2, $3, $4 FROM unnest($1::bigint[]) AS u(id)`, ids, relais.DeliveryPending,
			"resent by the media unit after an unknown outcome", now)
		return err
	})
	slices.Sort(ids)
	return ids, err
}

// AddDeliveryEvent records a step of a delivery's history, marked as a note: no status changed.
func (db *DB) AddDeliveryEvent(ctx context.Context, e relais.DeliveryEvent) error {
	if e.At.IsZero() {
		e.At = db.now()
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO delivery_events (delivery_id, status, detail, at, note)
		SELECT $1, $2, $3, $4, true WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`,
		e.DeliveryID, e.Status, e.Detail, ts(e.At))
	if err == nil && tag.RowsAffected() == 0 {
		err = errNoParent
	}
	if err != nil {
		return fmt.Errorf("event of delivery %d: %w", e.DeliveryID, err)
	}
	return nil
}

// DeliveryCounts counts a lesson's deliveries per channel and status, every lesson's when lessonID is 0,
// from delivery_counts and the changes not yet folded into it (migration 00006): a few rows per lesson,
// however many deliveries it has. It folds the changes first unless another reader is doing so.
func (db *DB) DeliveryCounts(ctx context.Context, lessonID int64) ([]relais.DeliveryCount, error) {
	if err := db.foldCountChanges(ctx); err != nil {
		return nil, fmt.Errorf("fold delivery count changes: %w", err)
	}
	q, args := `SELECT channel, status, sum(n)::bigint FROM (
			SELECT channel, status, n FROM delivery_counts WHERE lesson_id = $1
			UNION ALL SELECT channel, status, n FROM delivery_count_changes WHERE lesson_id = $1) c`, []any{lessonID}
	if lessonID == 0 {
		q, args = `SELECT channel, status, sum(n)::bigint FROM (
			SELECT channel, status, n FROM delivery_counts
			UNION ALL SELECT channel, status, n FROM delivery_count_changes) c`, nil
	}
	return queryAll(ctx, db.pool, sqlstore.ScanDeliveryCount, q+` GROUP BY channel, status HAVING sum(n) <> 0 ORDER BY channel, status`, args...)
}

// countsLock is the advisory lock key of the reader folding delivery_count_changes ("counts").
const countsLock = 0x636f756e7473

// foldCountChanges moves the rows of delivery_count_changes into delivery_counts in one statement, so
// that readers see each change once, in one place or the other. One reader folds at a time; the others
// read without waiting. The rows to fold are those written since the last fold, whatever the size of
// the deliveries table.
func (db *DB) foldCountChanges(ctx context.Context) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, countsLock).Scan(&locked); err != nil || !locked {
		return err
	}
	// Upserted in key order, as every writer of delivery_counts is a fold holding the lock.
	if _, err := tx.Exec(ctx, `WITH moved AS (DELETE FROM delivery_count_changes RETURNING lesson_id, channel, status, reason, n)
		INSERT INTO delivery_counts AS c (lesson_id, channel, status, reason, n)
		SELECT lesson_id, channel, status, reason, sum(n) FROM moved GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = c.n + excluded.n`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ClaimContact makes deliveryID the holder of (lesson, channel, contact) unless another delivery holds it.
func (db *DB) ClaimContact(ctx context.Context, lessonID int64, channel relais.ChannelName, contact string, deliveryID int64) (int64, error) {
	owners, err := db.ClaimContacts(ctx, []relais.ContactClaim{{LessonID: lessonID, Channel: channel, Contact: contact, DeliveryID: deliveryID}})
	return owners[deliveryID], err
}

// ClaimContacts claims a page of contacts in one transaction: one insert that leaves the claims held
// already, then one read of every claim's holder. The first claim of a contact in the page wins, as
// one by one.
func (db *DB) ClaimContacts(ctx context.Context, claims []relais.ContactClaim) (map[int64]int64, error) {
	owners := make(map[int64]int64, len(claims))
	if len(claims) == 0 {
		return owners, nil
	}
	n := len(claims)
	lessons, channels, contacts, deliveries := make([]int64, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, c := range claims {
		lessons[i], channels[i], contacts[i], deliveries[i] = c.LessonID, string(c.Channel), c.Contact, c.DeliveryID
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		clear(owners)
		// In key order, so that two pages claiming the same contacts wait for each other rather than
		// deadlock; DISTINCT ON keeps the first claim of a contact in the page.
		if _, err := tx.Exec(ctx, `INSERT INTO contact_claims (lesson_id, channel, contact, delivery_id)
			SELECT DISTINCT ON (l, c, ct) l, c, ct, d FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
				WITH ORDINALITY AS u(l, c, ct, d, n)
			ORDER BY l, c, ct, n
			ON CONFLICT DO NOTHING`, lessons, channels, contacts, deliveries); err != nil {
			return fmt.Errorf("claim contacts: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT u.d, cc.delivery_id
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS u(l, c, ct, d, n)
			CROSS JOIN LATERAL (SELECT delivery_id FROM contact_claims
				WHERE lesson_id = u.l AND channel = u.c AND contact = u.ct LIMIT 1) cc
			ORDER BY u.n`,
			lessons, channels, contacts, deliveries)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, owner int64
			if err := rows.Scan(&id, &owner); err != nil {
				return err
			}
			owners[id] = owner
		}
		return rows.Err()
	})
	return owners, err
}
