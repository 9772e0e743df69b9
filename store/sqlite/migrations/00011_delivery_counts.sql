-- +goose Up
-- A lesson's deliveries per channel and status, kept by triggers on deliveries in the transaction that
-- plans, advances or removes them, whichever code writes: the dashboards, /metrics and the lesson API
-- read these few rows instead of counting the deliveries, so their cost does not grow with them. A row
-- whose deliveries all moved on stays with n = 0 (readers leave it out).
CREATE TABLE delivery_counts (
    lesson_id INTEGER NOT NULL,
    channel   TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, channel, status)
) WITHOUT ROWID;

INSERT INTO delivery_counts (lesson_id, channel, status, n)
SELECT lesson_id, channel, status, COUNT(*) FROM deliveries GROUP BY lesson_id, channel, status;

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
BEGIN
    INSERT INTO delivery_counts (lesson_id, channel, status, n) VALUES (NEW.lesson_id, NEW.channel, NEW.status, 1)
        ON CONFLICT (lesson_id, channel, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF lesson_id, channel, status ON deliveries
WHEN OLD.lesson_id <> NEW.lesson_id OR OLD.channel <> NEW.channel OR OLD.status <> NEW.status
BEGIN
    UPDATE delivery_counts SET n = n - 1
        WHERE lesson_id = OLD.lesson_id AND channel = OLD.channel AND status = OLD.status;
    INSERT INTO delivery_counts (lesson_id, channel, status, n) VALUES (NEW.lesson_id, NEW.channel, NEW.status, 1)
        ON CONFLICT (lesson_id, channel, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
BEGIN
    UPDATE delivery_counts SET n = n - 1
        WHERE lesson_id = OLD.lesson_id AND channel = OLD.channel AND status = OLD.status;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER delivery_counts_delete;
DROP TRIGGER delivery_counts_update;
DROP TRIGGER delivery_counts_insert;
DROP TABLE delivery_counts;
