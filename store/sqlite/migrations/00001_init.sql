-- +goose Up
CREATE TABLE lessons (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    title          TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    grade          INTEGER NOT NULL,
    language       TEXT    NOT NULL,
    region         TEXT    NOT NULL DEFAULT '',
    teacher_id     TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    status_reason  TEXT    NOT NULL DEFAULT '',
    step           TEXT    NOT NULL DEFAULT '',
    progress       INTEGER NOT NULL DEFAULT 0,
    media_path     TEXT    NOT NULL DEFAULT '',
    markdown       TEXT    NOT NULL DEFAULT '',
    worksheet_path TEXT    NOT NULL DEFAULT '',
    segment_budget INTEGER NOT NULL DEFAULT 3,
    duration_ms    INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX lessons_teacher ON lessons (teacher_id, id);

CREATE TABLE renditions (
    lesson_id       INTEGER NOT NULL REFERENCES lessons (id),
    kind            TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    container       TEXT    NOT NULL DEFAULT '',
    video_codec     TEXT    NOT NULL DEFAULT '',
    audio_codec     TEXT    NOT NULL DEFAULT '',
    width           INTEGER NOT NULL DEFAULT 0,
    height          INTEGER NOT NULL DEFAULT 0,
    sample_rate     INTEGER NOT NULL DEFAULT 0,
    channels        INTEGER NOT NULL DEFAULT 0,
    bit_rate        INTEGER NOT NULL DEFAULT 0,
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    integrated_lufs REAL    NOT NULL DEFAULT 0,
    true_peak_dbtp  REAL    NOT NULL DEFAULT 0,
    lra             REAL    NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, kind)
);

CREATE TABLE digests (
    lesson_id  INTEGER NOT NULL REFERENCES lessons (id),
    language   TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    encoding   TEXT    NOT NULL,
    segments   INTEGER NOT NULL,
    characters INTEGER NOT NULL,
    dropped    TEXT    NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, language)
);

CREATE TABLE worksheets (
    lesson_id  INTEGER PRIMARY KEY REFERENCES lessons (id),
    path       TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    generated  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE households (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    external_ref   TEXT    NOT NULL UNIQUE,
    region         TEXT    NOT NULL DEFAULT '',
    language       TEXT    NOT NULL,
    grades         TEXT    NOT NULL DEFAULT '',
    profile        TEXT    NOT NULL,
    phone          TEXT    NOT NULL DEFAULT '',
    email          TEXT    NOT NULL DEFAULT '',
    postal_address TEXT    NOT NULL DEFAULT '',
    consent        INTEGER NOT NULL DEFAULT 0,
    sms_opt_out    INTEGER NOT NULL DEFAULT 0,
    email_opt_out  INTEGER NOT NULL DEFAULT 0,
    phone_status   TEXT    NOT NULL DEFAULT '',
    email_status   TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL
);
CREATE INDEX households_phone ON households (phone) WHERE phone <> '';
CREATE INDEX households_email ON households (email) WHERE email <> '';

-- One row per pupil grade, so that a fan-out pages through the households of a grade on an index.
CREATE TABLE household_grades (
    grade        INTEGER NOT NULL,
    household_id INTEGER NOT NULL REFERENCES households (id) ON DELETE CASCADE,
    PRIMARY KEY (grade, household_id)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    lesson_id    INTEGER NOT NULL REFERENCES lessons (id),
    household_id INTEGER NOT NULL REFERENCES households (id),
    channel      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    provider_id  TEXT    NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (lesson_id, household_id, channel)
);
CREATE INDEX deliveries_provider ON deliveries (channel, provider_id) WHERE provider_id <> '';
CREATE INDEX deliveries_lesson_status ON deliveries (lesson_id, channel, status);

-- The one delivery of a lesson that goes to a phone number or email address shared by several households.
CREATE TABLE contact_claims (
    lesson_id   INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    contact     TEXT    NOT NULL,
    delivery_id INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, channel, contact)
) WITHOUT ROWID;

CREATE TABLE delivery_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    status      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, id);

CREATE TABLE inbound_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    phone       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    provider_id TEXT    NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

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
    start_local TEXT   NOT NULL, -- wall-clock time in the station's zone, "2006-01-02T15:04:05"
    duration_s INTEGER NOT NULL,
    grade      INTEGER NOT NULL DEFAULT 0,
    subject    TEXT    NOT NULL DEFAULT '',
    language   TEXT    NOT NULL DEFAULT '',
    lesson_id  INTEGER REFERENCES lessons (id)
);
CREATE INDEX slots_station_start ON slots (station_id, start_local);

-- +goose Down
DROP TABLE slots;
DROP TABLE stations;
DROP TABLE api_tokens;
DROP TABLE inbound_messages;
DROP TABLE delivery_events;
DROP TABLE contact_claims;
DROP TABLE deliveries;
DROP TABLE household_grades;
DROP TABLE households;
DROP TABLE worksheets;
DROP TABLE digests;
DROP TABLE renditions;
DROP TABLE lessons;
