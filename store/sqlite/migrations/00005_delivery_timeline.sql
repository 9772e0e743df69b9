-- +goose Up
-- A delivery's history holds its status changes and notes that repeat the current status (a bounce
-- report, a resend). The delivery dashboard charts changes only: notes are marked. Existing notes are
-- the events whose status an earlier event of the same delivery already had, a status being reached
-- once (statuses only move forward).
ALTER TABLE delivery_events ADD COLUMN note INTEGER NOT NULL DEFAULT 0;
UPDATE delivery_events SET note = 1 WHERE EXISTS (SELECT 1 FROM delivery_events p
    WHERE p.delivery_id = delivery_events.delivery_id AND p.status = delivery_events.status AND p.id < delivery_events.id);

-- The status changes per minute, lesson, channel and status: the delivery dashboard's timeline sums
-- these rows instead of grouping millions of events. A trigger keeps them in the transaction that
-- records the event, whichever code records it. opted_out counts the skips whose reason says the
-- family opted out (relais.OptedOutPrefix).
CREATE TABLE delivery_minutes (
    minute    INTEGER NOT NULL, -- Unix time / 60
    lesson_id INTEGER NOT NULL,
    channel   TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    changes   INTEGER NOT NULL,
    opted_out INTEGER NOT NULL,
    PRIMARY KEY (minute, lesson_id, channel, status)
) WITHOUT ROWID;

INSERT INTO delivery_minutes (minute, lesson_id, channel, status, changes, opted_out)
SELECT e.at / 60000, d.lesson_id, d.channel, e.status, COUNT(*), SUM(e.status = 'skipped' AND d.reason LIKE 'opted out of %')
FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id
WHERE e.note = 0
GROUP BY 1, 2, 3, 4;

-- +goose StatementBegin
CREATE TRIGGER delivery_minutes_count AFTER INSERT ON delivery_events WHEN NEW.note = 0
BEGIN
    INSERT INTO delivery_minutes (minute, lesson_id, channel, status, changes, opted_out)
    SELECT NEW.at / 60000, d.lesson_id, d.channel, NEW.status, 1, NEW.status = 'skipped' AND d.reason LIKE 'opted out of %'
    FROM deliveries d WHERE d.id = NEW.delivery_id
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE SET changes = changes + 1, opted_out = opted_out + excluded.opted_out;
END;
-- +goose StatementEnd

-- The failure reasons of a period read failed deliveries by the time they failed (their last change).
CREATE INDEX deliveries_failed ON deliveries (updated_at, channel, status, reason) WHERE status IN ('failed', 'undelivered');

-- When a lesson's deliveries began: the start of its dashboard's timeline.
CREATE INDEX deliveries_lesson_created ON deliveries (lesson_id, created_at);

-- +goose Down
DROP INDEX deliveries_lesson_created;
DROP INDEX deliveries_failed;
DROP TRIGGER delivery_minutes_count;
DROP TABLE delivery_minutes;
ALTER TABLE delivery_events DROP COLUMN note;
