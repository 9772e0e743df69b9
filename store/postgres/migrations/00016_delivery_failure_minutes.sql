-- +goose Up
-- Failed and undelivered deliveries per minute of their last change, lesson, channel, status and
-- reason, kept by triggers on deliveries: the overview dashboard's failure reasons for a period read
-- these rows (a day is at most 1,440 minutes of them) instead of the period's failed deliveries, so
-- their cost does not grow with the deliveries. One upsert per statement and key, in key order as
-- delivery_minutes does, so two writers wait for each other instead of deadlocking. A delivery removed
-- by retention stays counted in the minute it failed.
CREATE TABLE delivery_failure_minutes (
    minute    bigint NOT NULL, -- Unix time / 60 of the delivery's updated_at
    lesson_id bigint NOT NULL,
    channel   text   NOT NULL,
    status    text   NOT NULL,
    reason    text   NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (minute, lesson_id, channel, status, reason)
);

INSERT INTO delivery_failure_minutes (minute, lesson_id, channel, status, reason, n)
SELECT floor(extract(epoch FROM updated_at) / 60)::bigint, lesson_id, channel, status, reason, count(*)
FROM deliveries WHERE status IN ('failed', 'undelivered') GROUP BY 1, 2, 3, 4, 5;

-- +goose StatementBegin
CREATE FUNCTION delivery_failure_minutes_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_failure_minutes AS m (minute, lesson_id, channel, status, reason, n)
    SELECT floor(extract(epoch FROM updated_at) / 60)::bigint, lesson_id, channel, status, reason, count(*)
    FROM new_rows WHERE status IN ('failed', 'undelivered')
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (minute, lesson_id, channel, status, reason) DO UPDATE SET n = m.n + excluded.n;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION delivery_failure_minutes_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_failure_minutes AS m (minute, lesson_id, channel, status, reason, n)
    SELECT minute, lesson_id, channel, status, reason, sum(n) FROM (
        SELECT floor(extract(epoch FROM updated_at) / 60)::bigint AS minute, lesson_id, channel, status, reason, 1 AS n
        FROM new_rows WHERE status IN ('failed', 'undelivered')
        UNION ALL
        SELECT floor(extract(epoch FROM updated_at) / 60)::bigint, lesson_id, channel, status, reason, -1
        FROM old_rows WHERE status IN ('failed', 'undelivered')
    ) c GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (minute, lesson_id, channel, status, reason) DO UPDATE SET n = m.n + excluded.n;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER delivery_failure_minutes_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_failure_minutes_insert();
CREATE TRIGGER delivery_failure_minutes_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_failure_minutes_update();

-- +goose Down
DROP TRIGGER delivery_failure_minutes_update ON deliveries;
DROP TRIGGER delivery_failure_minutes_insert ON deliveries;
DROP FUNCTION delivery_failure_minutes_update();
DROP FUNCTION delivery_failure_minutes_insert();
DROP TABLE delivery_failure_minutes;
