-- +goose Up
-- The SMS sender (its configured name) each household was last given by a fan-out: the next lessons
-- keep the family on it while the pool has it for its country (channels.BalanceRemembered). NULL: no
-- sender yet.
ALTER TABLE households ADD COLUMN sms_sender TEXT;

-- +goose Down
ALTER TABLE households DROP COLUMN sms_sender;
