-- +goose Up
-- What a station plays where no lesson does (absolute path or URL of a clip; empty: none configured),
-- and the local time its playout day starts (ffplayout's day_start), from which its lists are laid out.
ALTER TABLE stations ADD COLUMN filler TEXT NOT NULL DEFAULT '';
ALTER TABLE stations ADD COLUMN day_start TEXT NOT NULL DEFAULT '00:00';

-- +goose Down
ALTER TABLE stations DROP COLUMN day_start;
ALTER TABLE stations DROP COLUMN filler;
