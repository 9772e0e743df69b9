-- +goose Up
-- The first migration's stations and slots tables were placeholders nobody used; the scheduler's own
-- tables replace them. Times are kept as wall-clock text in the station's zone, never as instants, so a
-- daylight-saving change never moves a slot.
DROP TABLE slots;
DROP TABLE stations;

CREATE TABLE stations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    region         TEXT NOT NULL DEFAULT '',
    time_zone      TEXT NOT NULL,
    service_name   TEXT NOT NULL DEFAULT '',
    playout_format TEXT NOT NULL DEFAULT 'ffplayout',
    provider       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE slot_templates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id  INTEGER NOT NULL REFERENCES stations (id),
    weekdays    INTEGER NOT NULL, -- bit d set: airs on time.Weekday(d)
    start_local TEXT    NOT NULL, -- "15:04"
    end_local   TEXT    NOT NULL,
    slot_s      INTEGER NOT NULL,
    grade       INTEGER NOT NULL DEFAULT 0,
    subject     TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL DEFAULT '',
    valid_from  TEXT    NOT NULL, -- "2006-01-02"
    valid_to    TEXT    NOT NULL
);

CREATE TABLE schedule_exceptions (
    station_id INTEGER NOT NULL REFERENCES stations (id),
    day        TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (station_id, day)
);

CREATE TABLE slots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id  INTEGER NOT NULL REFERENCES stations (id),
    day         TEXT    NOT NULL, -- local date in the station's zone, "2006-01-02"
    start_local TEXT    NOT NULL, -- local wall-clock time, "15:04"
    duration_s  INTEGER NOT NULL,
    grade       INTEGER NOT NULL DEFAULT 0,
    subject     TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL DEFAULT '',
    template_id INTEGER REFERENCES slot_templates (id) ON DELETE SET NULL,
    lesson_id   INTEGER REFERENCES lessons (id),
    rerun       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (station_id, day, start_local)
);
CREATE INDEX slots_lesson ON slots (lesson_id);

CREATE TABLE lesson_approvals (
    lesson_id    INTEGER PRIMARY KEY REFERENCES lessons (id),
    state        TEXT    NOT NULL, -- submitted, approved, rejected
    reason       TEXT    NOT NULL DEFAULT '',
    decided_by   TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL
);
CREATE INDEX lesson_approvals_state ON lesson_approvals (state);

-- +goose Down
DROP TABLE lesson_approvals;
DROP TABLE slots;
DROP TABLE schedule_exceptions;
DROP TABLE slot_templates;
DROP TABLE stations;
CREATE TABLE stations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    region       TEXT NOT NULL DEFAULT '',
    time_zone    TEXT NOT NULL,
    service_name TEXT NOT NULL DEFAULT '',
    provider     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE slots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id INTEGER NOT NULL REFERENCES stations (id),
    start_local TEXT   NOT NULL,
    duration_s INTEGER NOT NULL,
    grade      INTEGER NOT NULL DEFAULT 0,
    subject    TEXT    NOT NULL DEFAULT '',
    language   TEXT    NOT NULL DEFAULT '',
    lesson_id  INTEGER REFERENCES lessons (id)
);
CREATE INDEX slots_station_start ON slots (station_id, start_local);
