-- +goose Up
-- The send attempt that claimed a delivery before calling its provider, and when it last refreshed
-- the claim: a claim not refreshed for a while belongs to a dead attempt and is reconciled.
ALTER TABLE deliveries ADD COLUMN claimed_by text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT 'epoch';
CREATE INDEX deliveries_claimed ON deliveries (channel, claimed_at) WHERE status = 'claimed';
-- The pages of send attempts: pending deliveries an attempt reserved (a dead attempt's go out again).
CREATE INDEX deliveries_reserved ON deliveries (channel, claimed_at) WHERE status = 'pending' AND claimed_by <> '';

-- +goose Down
DROP INDEX deliveries_reserved;
DROP INDEX deliveries_claimed;
ALTER TABLE deliveries DROP COLUMN claimed_at;
ALTER TABLE deliveries DROP COLUMN claimed_by;
