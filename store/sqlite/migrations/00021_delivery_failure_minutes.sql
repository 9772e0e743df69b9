-- +goose Up
-- Failed and undelivered deliveries per minute of their last change, lesson, channel, status and
-- reason, kept by triggers on deliveries: the overview dashboard's failure reasons for a period read
-- these rows (a day is at most 1,440 minutes of them) instead of the period's failed deliveries, so
-- their cost does not grow with the deliveries. A delivery removed by retention stays counted in the
-- minute it failed: the period's history does not change when old rows go.
CREATE TABLE delivery_failure_minutes (
    minute    INTEGER NOT NULL, -- Unix time / 60 of the delivery's updated_at
    lesson_id INTEGER NOT NULL,
    channel   TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (minute, lesson_id, channel, status, reason)
) WITHOUT ROWID;

INSERT INTO delivery_failure_minutes (minute, lesson_id, channel, status, reason, n)
SELECT updated_at / 60000, lesson_id, channel, status, reason, COUNT(*)
FROM deliveries WHERE status IN ('failed', 'undelivered') GROUP BY 1, 2, 3, 4, 5;

-- +goose StatementBegin
CREATE TRIGGER delivery_failure_minutes_insert AFTER INSERT ON deliveries
WHEN NEW.status IN ('failed', 'undelivered')
BEGIN
    INSERT INTO delivery_failure_minutes (minute, lesson_id, channel, status, reason, n)
        VALUES (NEW.updated_at / 60000, NEW.lesson_id, NEW.channel, NEW.status, NEW.reason, 1)
        ON CONFLICT (minute, lesson_id, channel, status, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER delivery_failure_minutes_update AFTER UPDATE OF lesson_id, channel, status, reason, updated_at ON deliveries
WHEN OLD.status IN ('failed', 'undelivered') OR NEW.status IN ('failed', 'undelivered')
BEGIN
    UPDATE delivery_failure_minutes SET n = n - 1
        WHERE OLD.status IN ('failed', 'undelivered') AND minute = OLD.updated_at / 60000 AND lesson_id = OLD.lesson_id
            AND channel = OLD.channel AND status = OLD.status AND reason = OLD.reason;
    INSERT INTO delivery_failure_minutes (minute, lesson_id, channel, status, reason, n)
        SELECT NEW.updated_at / 60000, NEW.lesson_id, NEW.channel, NEW.status, NEW.reason, 1
        WHERE NEW.status IN ('failed', 'undelivered')
        ON CONFLICT (minute, lesson_id, channel, status, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER delivery_failure_minutes_update;
DROP TRIGGER delivery_failure_minutes_insert;
DROP TABLE delivery_failure_minutes;
