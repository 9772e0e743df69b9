-- +goose Up
-- Staff who sign in through an OpenID provider: one row per provider (issuer) and person (subject),
-- made on the first sign-in; name and role follow the provider's claims at each sign-in.
CREATE TABLE staff_users (
    id              text        PRIMARY KEY, -- relais.StaffUserID(issuer, subject)
    issuer          text        NOT NULL,
    subject         text        NOT NULL,
    name            text        NOT NULL,
    role            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    last_sign_in_at timestamptz NOT NULL,
    UNIQUE (issuer, subject)
);

-- +goose Down
DROP TABLE staff_users;
