-- +goose Up
-- When a full import of the roster left the household out (NULL: in the roster). Retention erases it
-- RELAIS_REMOVED_RETENTION later; an import that lists it again clears the mark.
ALTER TABLE households ADD COLUMN removed_at timestamptz;
CREATE INDEX households_removed ON households (removed_at) WHERE removed_at IS NOT NULL;

-- When retention removed a lesson's files from the media store (NULL: they are kept).
ALTER TABLE lessons ADD COLUMN media_removed_at timestamptz;

-- +goose Down
ALTER TABLE lessons DROP COLUMN media_removed_at;
DROP INDEX households_removed;
ALTER TABLE households DROP COLUMN removed_at;
