-- +goose Up
-- A fan-out wrote, for each delivery it planned pending, a row of delivery_events saying so (pending,
-- no detail, at the delivery's created_at) and, from that row, the timeline's count of the minute (a
-- probe of deliveries by id and an upsert): per household of two channels, two more rows, two more
-- index entries and two probes. The deliveries row already says all of it: such a delivery now marks
-- implied_start instead, DeliveryEvents and the privacy export read its first event from the row
-- (sqlstore.Dialect.DeliveryEvents), and a trigger on deliveries counts it in delivery_minutes as the
-- events' trigger did. PostgreSQL does the same since its 00017. The rows planned otherwise (a
-- reminder, a skip with its reason) and every row planned before keep their first event in
-- delivery_events (implied_start 0).
ALTER TABLE deliveries ADD COLUMN implied_start INTEGER NOT NULL DEFAULT 0;

-- +goose StatementBegin
CREATE TRIGGER delivery_minutes_start AFTER INSERT ON deliveries WHEN NEW.implied_start
BEGIN
    INSERT INTO delivery_minutes (minute, lesson_id, channel, status, changes, opted_out)
    VALUES (NEW.created_at / 60000, NEW.lesson_id, NEW.channel, 'pending', 1, 0)
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE SET changes = changes + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER delivery_minutes_start;
-- The implied first events become rows again, counted already: the events' trigger (00005) is off
-- meanwhile. Their ids come after those of the deliveries' later events, so such a history lists its
-- first event last once rolled back.
DROP TRIGGER delivery_minutes_count;
INSERT INTO delivery_events (delivery_id, status, detail, at)
SELECT id, 'pending', '', created_at FROM deliveries WHERE implied_start ORDER BY id;
-- +goose StatementBegin
CREATE TRIGGER delivery_minutes_count AFTER INSERT ON delivery_events WHEN NEW.note = 0
BEGIN
    INSERT INTO delivery_minutes (minute, lesson_id, channel, status, changes, opted_out)
    SELECT NEW.at / 60000, d.lesson_id, d.channel, NEW.status, 1, NEW.status = 'skipped' AND d.reason LIKE 'opted out of %'
    FROM deliveries d WHERE d.id = NEW.delivery_id
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE SET changes = changes + 1, opted_out = opted_out + excluded.opted_out;
END;
-- +goose StatementEnd
ALTER TABLE deliveries DROP COLUMN implied_start;
