-- +goose Up
-- Indexes for statements of hot paths that scanned a whole table or index (TestQueriesUseIndexes
-- checks their plans).
--
-- A household's deliveries (a family's access request, its erasure, the API's listing by household)
-- are found on the unique key (lesson_id, household_id, channel), a probe per lesson (lesson_id =
-- ANY(ARRAY(SELECT id FROM lessons))): an index of household_id would cost an entry with each of the
-- 16-24 M deliveries of a national morning and, since status is indexed and no status change is a HOT
-- update, one with each status change (4 or 5 in a delivery's life); lessons are thousands at most.
--
-- A lesson's deliveries in id order, a page after a cursor: a teacher's listing (API), the CSV export
-- of a lesson, the re-sending of its unknown deliveries. deliveries_lesson_created and
-- deliveries_lesson_status hold a lesson's rows in another order, so each page read all the lesson's
-- deliveries and sorted them, or walked the primary key through every other lesson's rows (an export
-- of a national lesson: 16,000 pages of 16 M rows each). (lesson_id, id) replaces
-- deliveries_lesson_created, whose only reader, the start of a lesson's deliveries (the dashboard's
-- timeline), now reads the creation of the lesson's lowest id, its first entry. No cost: a delivery
-- writes as many index entries, of the same size, as before.
DROP INDEX deliveries_lesson_created;
CREATE INDEX deliveries_lesson ON deliveries (lesson_id, id);

-- The deliveries in flight (queued, sending, sent) of a channel by their last change: the periodic check
-- of statuses whose callbacks never came (queue CheckStatuses, at every sweep, three statuses per
-- channel that can be asked) read the whole primary key. Cost: an entry with each change that leaves a
-- delivery in flight (two or three in its life); the settled rows of past mornings hold none.
CREATE INDEX deliveries_in_flight ON deliveries (channel, status, updated_at) WHERE status IN ('queued', 'sending', 'sent');

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
