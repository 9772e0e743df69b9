-- +goose Up
-- Staff who sign in through an OpenID provider: one row per provider (issuer) and person (subject),
-- made on the first sign-in; name and role follow the provider's claims at each sign-in.
CREATE TABLE staff_users (
    id              TEXT    PRIMARY KEY, -- relais.StaffUserID(issuer, subject)
    issuer          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_sign_in_at INTEGER NOT NULL,
    UNIQUE (issuer, subject)
);

-- +goose Down
DROP TABLE staff_users;
