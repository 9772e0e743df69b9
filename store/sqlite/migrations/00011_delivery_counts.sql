-- +goose Up
-- A lesson's deliveries per channel, status and, for failed and undelivered ones, reason (empty for the
-- others), kept by triggers on deliveries in the transaction that plans, advances or removes them,
-- whichever code writes: the dashboards, /metrics and the lesson API read these few rows instead of
-- counting the deliveries, so their cost does not grow with them. A row whose deliveries all moved on
-- stays with n = 0 (readers leave it out).
CREATE TABLE delivery_counts (
    lesson_id INTEGER NOT NULL,
    channel   TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, channel, status, reason)
) WITHOUT ROWID;

INSERT INTO delivery_counts (lesson_id, channel, status, reason, n)
SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, COUNT(*)
FROM deliveries GROUP BY 1, 2, 3, 4;

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
BEGIN
    INSERT INTO delivery_counts (lesson_id, channel, status, reason, n) VALUES (NEW.lesson_id, NEW.channel, NEW.status,
        CASE WHEN NEW.status IN ('failed', 'undelivered') THEN NEW.reason ELSE '' END, 1)
        ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF lesson_id, channel, status, reason ON deliveries
WHEN OLD.lesson_id <> NEW.lesson_id OR OLD.channel <> NEW.channel OR OLD.status <> NEW.status
    OR (OLD.reason <> NEW.reason AND NEW.status IN ('failed', 'undelivered'))
BEGIN
    UPDATE delivery_counts SET n = n - 1
        WHERE lesson_id = OLD.lesson_id AND channel = OLD.channel AND status = OLD.status
            AND reason = CASE WHEN OLD.status IN ('failed', 'undelivered') THEN OLD.reason ELSE '' END;
    INSERT INTO delivery_counts (lesson_id, channel, status, reason, n) VALUES (NEW.lesson_id, NEW.channel, NEW.status,
        CASE WHEN NEW.status IN ('failed', 'undelivered') THEN NEW.reason ELSE '' END, 1)
        ON CONFLICT (lesson_id, channel, status, reason) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
BEGIN
    UPDATE delivery_counts SET n = n - 1
        WHERE lesson_id = OLD.lesson_id AND channel = OLD.channel AND status = OLD.status
            AND reason = CASE WHEN OLD.status IN ('failed', 'undelivered') THEN OLD.reason ELSE '' END;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER delivery_counts_delete;
DROP TRIGGER delivery_counts_update;
DROP TRIGGER delivery_counts_insert;
DROP TABLE delivery_counts;
