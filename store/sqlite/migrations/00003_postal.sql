-- +goose Up
-- One print run: the queued postal deliveries of one lesson in one region.
CREATE TABLE postal_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id   INTEGER NOT NULL REFERENCES lessons (id),
    region      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    households  INTEGER NOT NULL DEFAULT 0,
    pdf_path    TEXT    NOT NULL DEFAULT '',
    pdf_bytes   INTEGER NOT NULL DEFAULT 0,
    csv_path    TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    printed_at  INTEGER NOT NULL DEFAULT 0,
    posted_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX postal_batches_lesson ON postal_batches (lesson_id, region);

-- The deliveries of a batch; a delivery is in at most one batch.
CREATE TABLE postal_batch_deliveries (
    delivery_id INTEGER PRIMARY KEY REFERENCES deliveries (id),
    batch_id    INTEGER NOT NULL REFERENCES postal_batches (id)
);
CREATE INDEX postal_batch_deliveries_batch ON postal_batch_deliveries (batch_id, delivery_id);

-- What delivery status reports (RFC 3464) said, one row per recipient and report.
CREATE TABLE email_bounces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient   TEXT    NOT NULL,
    delivery_id INTEGER NOT NULL DEFAULT 0,
    message_id  TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    hard        INTEGER NOT NULL,
    diagnostic  TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    UNIQUE (recipient, message_id, action, status)
);

-- +goose Down
DROP TABLE email_bounces;
DROP TABLE postal_batch_deliveries;
DROP TABLE postal_batches;
