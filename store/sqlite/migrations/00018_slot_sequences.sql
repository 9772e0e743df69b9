-- +goose Up
-- A slot holds an ordered sequence of lessons, played back to back from its start (several short
-- lessons where their lengths together fit the slot). Each slot that aired one lesson keeps it, first
-- and only in its sequence.
CREATE TABLE slot_lessons (
    slot_id   INTEGER NOT NULL REFERENCES slots (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL, -- 0, 1, ... in playing order
    lesson_id INTEGER NOT NULL REFERENCES lessons (id),
    rerun     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (slot_id, position)
);
CREATE INDEX slot_lessons_lesson ON slot_lessons (lesson_id);
INSERT INTO slot_lessons (slot_id, position, lesson_id, rerun)
    SELECT id, 0, lesson_id, rerun FROM slots WHERE lesson_id IS NOT NULL;
DROP INDEX slots_lesson;
ALTER TABLE slots DROP COLUMN lesson_id;
ALTER TABLE slots DROP COLUMN rerun;

-- +goose Down
ALTER TABLE slots ADD COLUMN lesson_id INTEGER REFERENCES lessons (id);
ALTER TABLE slots ADD COLUMN rerun INTEGER NOT NULL DEFAULT 0;
UPDATE slots SET lesson_id = (SELECT lesson_id FROM slot_lessons WHERE slot_id = slots.id AND position = 0),
    rerun = COALESCE((SELECT rerun FROM slot_lessons WHERE slot_id = slots.id AND position = 0), 0);
CREATE INDEX slots_lesson ON slots (lesson_id);
DROP TABLE slot_lessons;
