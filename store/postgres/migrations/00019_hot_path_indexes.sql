-- +goose Up
-- Indexes for statements of hot paths that scanned a whole table or index (TestQueriesUseIndexes
-- checks their plans).
--
-- A household's deliveries, in id order: a family's access request (HouseholdRecord), its erasure (one
-- per household in the retention pass over removed households), the API's listing by household. The
-- unique key starts with the lesson, so each of these read all deliveries. Cost: one more entry
-- written with each of the 16-24 M deliveries of a national morning and, since status is indexed and
-- no status change is a HOT update, one more with each status change (4 or 5 in a delivery's life).
CREATE INDEX deliveries_household ON deliveries (household_id, id);

-- A lesson's deliveries in id order, a page after a cursor: a teacher's listing (API), the CSV export
-- of a lesson, the re-sending of its unknown deliveries. deliveries_lesson_created and
-- deliveries_lesson_status hold a lesson's rows in another order, so each page read all the lesson's
-- deliveries and sorted them, or walked the primary key through every other lesson's rows (an export
-- of a national lesson: 16,000 pages of 16 M rows each). Cost: as deliveries_household, an entry with
-- each delivery and with each status change.
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
DROP INDEX deliveries_household;
