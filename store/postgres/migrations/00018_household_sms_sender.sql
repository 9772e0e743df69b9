-- +goose Up
-- The SMS sender (its configured name) each household was last given by a fan-out: the next lessons
-- keep the family on it while the pool has it for its country (channels.BalanceRemembered). NULL: no
-- sender yet. A nullable column without a default: adding it rewrites no row.
ALTER TABLE households ADD COLUMN sms_sender text;
-- A family's first SMS lesson writes its sender: with room left in each page of the table, that update
-- is a heap-only tuple (the column is in no index), with no new index entries and its old version
-- pruned by the next read of the page, so the next lesson's fan-out reads a table no larger. Pages
-- filled before keep no room until they are rewritten; households imported from now on leave it.
ALTER TABLE households SET (fillfactor = 90);

-- +goose Down
ALTER TABLE households RESET (fillfactor);
ALTER TABLE households DROP COLUMN sms_sender;
