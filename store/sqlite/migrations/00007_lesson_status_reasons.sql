-- +goose Up
-- The reason a lesson was refused or failed, in every language other than English (which stays in
-- status_reason): a JSON object by language, {"fr": "..."}, '' when there is no reason.
ALTER TABLE lessons ADD COLUMN status_reasons TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE lessons DROP COLUMN status_reasons;
