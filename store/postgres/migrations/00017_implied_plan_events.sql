-- +goose Up
-- A fan-out wrote, for each delivery it planned pending, a row of delivery_events saying so (pending,
-- no detail, at the delivery's created_at) and, from that row, the timeline's count of the minute: per
-- household of two channels, two more rows, four more index entries and two probes of deliveries by
-- id, a good part of a national fan-out's writes. The deliveries row already says all of it: such a
-- delivery now marks implied_start instead, DeliveryEvents and the privacy export read its first event
-- from the row (sqlstore.Dialect.DeliveryEvents), and a trigger on deliveries counts it in
-- delivery_minutes as the events' trigger did. The rows planned otherwise (a reminder, a skip with its
-- reason) and every row planned before keep their first event in delivery_events (implied_start false).
ALTER TABLE deliveries ADD COLUMN implied_start boolean NOT NULL DEFAULT false;

-- +goose StatementBegin
CREATE FUNCTION delivery_minutes_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In key order, as delivery_minutes_count upserts, so that two writers wait instead of deadlocking.
    INSERT INTO delivery_minutes AS m (minute, lesson_id, channel, status, changes, opted_out)
    SELECT floor(extract(epoch FROM created_at) / 60)::bigint, lesson_id, channel, 'pending', count(*), 0
    FROM new_rows WHERE implied_start
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE SET changes = m.changes + excluded.changes;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER delivery_minutes_start AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_minutes_start();

-- +goose Down
DROP TRIGGER delivery_minutes_start ON deliveries;
DROP FUNCTION delivery_minutes_start();
-- The implied first events become rows again (counted already: the events' trigger is off meanwhile).
-- Their ids come after those of the deliveries' later events, so such a history lists its first
-- event last once rolled back.
ALTER TABLE delivery_events DISABLE TRIGGER delivery_minutes_count;
INSERT INTO delivery_events (delivery_id, status, detail, at)
SELECT id, 'pending', '', created_at FROM deliveries WHERE implied_start ORDER BY id;
ALTER TABLE delivery_events ENABLE TRIGGER delivery_minutes_count;
ALTER TABLE deliveries DROP COLUMN implied_start;
