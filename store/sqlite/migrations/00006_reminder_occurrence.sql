-- +goose Up
-- A family is reminded of every airing of a lesson on its one reminder delivery (the unique key of
-- deliveries stays): occurrence is the Unix time of the airing the row reminds of now, 0 on the other
-- channels. Each coming airing re-arms the row once its previous reminder has left (RemindDeliveries).
ALTER TABLE deliveries ADD COLUMN occurrence INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN occurrence;
