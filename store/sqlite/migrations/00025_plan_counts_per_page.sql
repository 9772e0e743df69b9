-- +goose Up
-- A fan-out page plans a thousand or more deliveries pending in one transaction on the single writer,
-- and the triggers counted them one by one: an upsert of delivery_counts and one of delivery_minutes
-- per row, a fifth of a fan-out's time. The rows planned pending with their first event implied
-- (implied_start, 00024) are now counted by the statement's caller in the same transaction, one upsert
-- of each table per lesson and channel of the page (PlanPage, the only writer of such rows); the
-- triggers count every other row as before.
DROP TRIGGER delivery_minutes_start;
DROP TRIGGER delivery_counts_insert;
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries WHEN NOT NEW.implied_start
BEGIN
    INSERT INTO delivery_counts (lesson_id, channel, status, reason, n) VALUES (NEW.lesson_id, NEW.channel, NEW.status,
        CASE WHEN NEW.status IN ('failed', 'undelivered') THEN NEW.reason ELSE '' END, 1)
        ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER delivery_counts_insert;
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
BEGIN
    INSERT INTO delivery_counts (lesson_id, channel, status, reason, n) VALUES (NEW.lesson_id, NEW.channel, NEW.status,
        CASE WHEN NEW.status IN ('failed', 'undelivered') THEN NEW.reason ELSE '' END, 1)
        ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER delivery_minutes_start AFTER INSERT ON deliveries WHEN NEW.implied_start
BEGIN
    INSERT INTO delivery_minutes (minute, lesson_id, channel, status, changes, opted_out)
    VALUES (NEW.created_at / 60000, NEW.lesson_id, NEW.channel, 'pending', 1, 0)
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE SET changes = changes + 1;
END;
-- +goose StatementEnd
