-- +goose Up
-- API tokens get an id (listings, revoke and rotate name it), an expiry, a last use and a revocation
-- (Unix ms, 0: none). Tokens made before keep working: no expiry, never used.
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT    NOT NULL UNIQUE,
    user_id      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO api_tokens_new (token_hash, user_id, name, role, created_at)
    SELECT token_hash, user_id, name, role, created_at FROM api_tokens ORDER BY created_at, token_hash;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- The audit log: who changed what, when, from which address.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    role    TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    address TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

-- +goose Down
DROP TABLE audit_log;
CREATE TABLE api_tokens_old (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO api_tokens_old SELECT token_hash, user_id, name, role, created_at FROM api_tokens WHERE revoked_at = 0;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_old RENAME TO api_tokens;
