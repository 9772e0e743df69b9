-- +goose Up
-- When a full import of the roster left the household out (Unix ms; 0: in the roster). Retention erases
-- it RELAIS_REMOVED_RETENTION later; an import that lists it again clears the mark.
ALTER TABLE households ADD COLUMN removed_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX households_removed ON households (removed_at) WHERE removed_at > 0;

-- When retention removed a lesson's files from the media store (Unix ms; 0: they are kept).
ALTER TABLE lessons ADD COLUMN media_removed_at INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE lessons DROP COLUMN media_removed_at;
DROP INDEX households_removed;
ALTER TABLE households DROP COLUMN removed_at;
