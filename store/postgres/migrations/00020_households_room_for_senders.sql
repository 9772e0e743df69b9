-- +goose Up
-- 00018 left a tenth of each page of households free so that the update writing a family's sender
-- at its first SMS lesson is heap-only (the column is in no index). A fan-out page writes the senders
-- of a thousand households in one transaction, so every row of a table page at once, and no old
-- version can be pruned before the commit: a tenth of a page held the new versions of three rows in
-- thirty. Over a fan-out of 1 M households 11.7 % of those updates were heap-only; each of the others
-- added an entry to every index of the table (a million dead entries per index until vacuum), and the
-- updates took 20.4 s of the database's time. With half of each page free, 96.3 % were heap-only, in
-- 6.4 s; the import and the fan-out's reads of households took the same time. The table takes twice
-- the room. Pages filled before keep their fill until they are rewritten (VACUUM FULL, pg_repack).
ALTER TABLE households SET (fillfactor = 50);

-- +goose Down
ALTER TABLE households SET (fillfactor = 90);
