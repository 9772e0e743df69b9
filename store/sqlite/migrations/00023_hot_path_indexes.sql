-- +goose Up
-- Indexes for statements of hot paths that scanned a whole table (TestQueriesUseIndexes checks their
-- plans).
--
-- A number's or an address's households, at every inbound SMS, status callback with an error, opt-out
-- and bounce (sqlstore's PhoneIs and EmailIs): addresses are compared without case (COLLATE NOCASE),
-- which an index of the address as written cannot serve, so every such callback read every household.
-- The index of the address as written served nothing else; it is replaced.
DROP INDEX households_email;
CREATE INDEX households_email ON households (email COLLATE NOCASE) WHERE email <> '';

-- A household's deliveries (a family's access request, its erasure, the API's listing by household)
-- are found on the unique key (lesson_id, household_id, channel), a probe per lesson (lesson_id IN
-- (SELECT id FROM lessons)): an index of household_id would cost an entry with each of the 16-24 M
-- deliveries of a national morning, and lessons are thousands at most.
--
-- A lesson's deliveries in id order, a page after a cursor: a teacher's listing (API), the CSV export
-- of a lesson, the re-sending of its unknown deliveries. deliveries_lesson_created and
-- deliveries_lesson_status hold a lesson's rows in another order, so each page read all the lesson's
-- deliveries and sorted them (an export of a national lesson: 16,000 pages of 16 M rows each). An
-- index of the lesson alone holds them in rowid order; it replaces deliveries_lesson_created, whose
-- only reader, the start of a lesson's deliveries (the dashboard's timeline), now reads the creation
-- of the lesson's lowest id, its first entry. No cost: a delivery planned writes as many index
-- entries as before, smaller ones (lesson_id never changes: no status change touches it).
DROP INDEX deliveries_lesson_created;
CREATE INDEX deliveries_lesson ON deliveries (lesson_id);

-- The deliveries in flight (queued, sending, sent) of a channel by their last change: the periodic check
-- of statuses whose callbacks never came (queue CheckStatuses, at every sweep, three statuses per
-- channel that can be asked) read every delivery. Cost: each delivery enters the index when it is queued
-- and leaves it when it is delivered or fails, two or three index writes in its life; the 16 M rows
-- settled after a morning hold no entry. Its condition is checked at each delivery written: as
-- comparisons, not as an IN list of three values, of which SQLite builds a table each time (that took
-- a tenth of the time of planning a fan-out page).
CREATE INDEX deliveries_in_flight ON deliveries (channel, status, updated_at) WHERE (status = 'queued' OR status = 'sending' OR status = 'sent');

-- The contact claims of given deliveries: the retention pass removes them with their deliveries (a batch
-- of 1,000 at a time) and an erasure with the household's; the key starts with the lesson, so each batch
-- read every claim. Cost: one entry per claim, written once (claims never change).
CREATE INDEX contact_claims_delivery ON contact_claims (delivery_id);

-- The replies from a number: a family's access request and its erasure read every reply.
CREATE INDEX inbound_messages_phone ON inbound_messages (phone);

-- +goose Down
DROP INDEX inbound_messages_phone;
DROP INDEX contact_claims_delivery;
DROP INDEX deliveries_in_flight;
DROP INDEX deliveries_lesson;
CREATE INDEX deliveries_lesson_created ON deliveries (lesson_id, created_at);
DROP INDEX households_email;
CREATE INDEX households_email ON households (email) WHERE email <> '';
