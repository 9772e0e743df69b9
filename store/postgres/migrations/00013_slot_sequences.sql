-- +goose Up
-- A slot holds an ordered sequence of lessons, played back to back from its start (several short
-- lessons where their lengths together fit the slot). Each slot that aired one lesson keeps it, first
-- and only in its sequence.
CREATE TABLE slot_lessons (
    slot_id   bigint  NOT NULL REFERENCES slots (id) ON DELETE CASCADE,
    position  integer NOT NULL, -- 0, 1, ... in playing order
    lesson_id bigint  NOT NULL REFERENCES lessons (id),
    rerun     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (slot_id, position)
);
CREATE INDEX slot_lessons_lesson ON slot_lessons (lesson_id);
INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun)
    SELECT id, 0, lesson_id, rerun FROM slots WHERE lesson_id IS NOT NULL;
ALTER TABLE slots DROP COLUMN lesson_id;
ALTER TABLE slots DROP COLUMN rerun;

-- +goose Down
ALTER TABLE slots ADD COLUMN lesson_id bigint REFERENCES lessons (id);
ALTER TABLE slots ADD COLUMN rerun boolean NOT NULL DEFAULT false;
UPDATE slots s SET lesson_id = l.lesson_id, rerun = l.rerun FROM slot_lessons l WHERE l.slot_id = s.id AND l.position = 0;
CREATE INDEX slots_lesson ON slots (lesson_id);
DROP TABLE slot_lessons;
