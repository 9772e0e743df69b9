-- +goose Up
-- The per-minute counts read each new event's delivery by its primary key, one probe per event. Joined
-- plainly, the trigger's plan, cached by PL/pgSQL while deliveries was small (a new installation, the
-- first fan-out), hashed the whole deliveries table for every statement of events: a fan-out page cost
-- in proportion to the deliveries already planned, and a national fan-out grew quadratically. LIMIT 1
-- keeps the lateral subquery a probe whatever the statistics say.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_minutes_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Rows are upserted in key order so that two transactions counting the same minutes wait for each
    -- other instead of deadlocking.
    INSERT INTO delivery_minutes AS m (minute, lesson_id, channel, status, changes, opted_out)
    SELECT floor(extract(epoch FROM e.at) / 60)::bigint, d.lesson_id, d.channel, e.status, count(*),
        count(*) FILTER (WHERE e.status = 'skipped' AND d.reason ILIKE 'opted out of %')
    FROM new_events e
    CROSS JOIN LATERAL (SELECT lesson_id, channel, reason FROM deliveries WHERE id = e.delivery_id LIMIT 1) d
    WHERE NOT e.note
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE
        SET changes = m.changes + excluded.changes, opted_out = m.opted_out + excluded.opted_out;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- A fan-out writes two rows per delivery (the delivery and its first event), and each foreign key on
-- them was one more query per row (the referential check PostgreSQL runs row by row): three of them
-- cost about a third of a national fan-out's time in the database. They guarded nothing the store does
-- not: lessons and households are never deleted (an erasure blanks a household and keeps its row),
-- deliveries only by retention, which removes their events in the same transaction, and a delivery's
-- events are written by the statement that wrote the delivery, from the ids it returned. store/sqlite keeps its keys: it checks them in-process, at no such price.
ALTER TABLE delivery_events DROP CONSTRAINT delivery_events_delivery_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_lesson_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_household_id_fkey;

-- +goose Down
ALTER TABLE deliveries ADD CONSTRAINT deliveries_household_id_fkey FOREIGN KEY (household_id) REFERENCES households (id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_lesson_id_fkey FOREIGN KEY (lesson_id) REFERENCES lessons (id);
ALTER TABLE delivery_events ADD CONSTRAINT delivery_events_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries (id);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_minutes_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_minutes AS m (minute, lesson_id, channel, status, changes, opted_out)
    SELECT floor(extract(epoch FROM e.at) / 60)::bigint, d.lesson_id, d.channel, e.status, count(*),
        count(*) FILTER (WHERE e.status = 'skipped' AND d.reason ILIKE 'opted out of %')
    FROM new_events e JOIN deliveries d ON d.id = e.delivery_id
    WHERE NOT e.note
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (minute, lesson_id, channel, status) DO UPDATE
        SET changes = m.changes + excluded.changes, opted_out = m.opted_out + excluded.opted_out;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
