-- +goose Up
-- A lesson's deliveries per channel, status and, for failed and undelivered ones, reason (empty for the
-- others), so that the dashboards, /metrics and the lesson API
-- read a few rows instead of counting the deliveries. Triggers on deliveries record every change, in
-- the transaction that makes it, as rows of delivery_count_changes (one per statement and key): appending takes no lock another writer waits for, so concurrent status changes of one
-- lesson neither queue on a counter row nor deadlock. Readers add the changes to delivery_counts, into
-- which a reader that gets the advisory lock folds them now and then (DeliveryCounts).
CREATE TABLE delivery_counts (
    lesson_id bigint NOT NULL,
    channel   text   NOT NULL,
    status    text   NOT NULL,
    reason    text   NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (lesson_id, channel, status, reason)
);
CREATE TABLE delivery_count_changes (
    lesson_id bigint NOT NULL,
    channel   text   NOT NULL,
    status    text   NOT NULL,
    reason    text   NOT NULL,
    n         bigint NOT NULL
);
CREATE INDEX delivery_count_changes_lesson ON delivery_count_changes (lesson_id);

INSERT INTO delivery_counts (lesson_id, channel, status, reason, n)
SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, count(*)
FROM deliveries GROUP BY 1, 2, 3, 4;

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (lesson_id, channel, status, reason, n)
    SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, count(*) FROM new_rows GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (lesson_id, channel, status, reason, n)
    SELECT lesson_id, channel, status, reason, sum(n) FROM (
        SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END AS reason, 1 AS n FROM new_rows
        UNION ALL
        SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, -1 FROM old_rows
    ) c GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (lesson_id, channel, status, reason, n)
    SELECT lesson_id, channel, status, CASE WHEN status IN ('failed', 'undelivered') THEN reason ELSE '' END, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_insert();
CREATE TRIGGER delivery_counts_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_update();
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_delete();

-- +goose Down
DROP TRIGGER delivery_counts_delete ON deliveries;
DROP TRIGGER delivery_counts_update ON deliveries;
DROP TRIGGER delivery_counts_insert ON deliveries;
DROP FUNCTION delivery_counts_delete();
DROP FUNCTION delivery_counts_update();
DROP FUNCTION delivery_counts_insert();
DROP TABLE delivery_count_changes;
DROP TABLE delivery_counts;
