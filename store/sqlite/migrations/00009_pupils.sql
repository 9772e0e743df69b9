-- +goose Up
-- A household lists its pupils, each with a grade and a language of instruction, and optionally a
-- school and a class (issue 16). households.pupils is the household's list as written (JSON); the
-- pupils table repeats it one row per pupil so that a lesson's audience pages through its households on
-- an index (keyset pagination: grade = ? AND language = ? AND household_id > ? ORDER BY household_id).
-- It replaces household_grades: every household gets one pupil per grade it had, taught in the
-- household's language.
CREATE TABLE pupils (
    household_id INTEGER NOT NULL,
    grade        INTEGER NOT NULL,
    language     TEXT    NOT NULL,
    school       TEXT    NOT NULL DEFAULT '',
    class        TEXT    NOT NULL DEFAULT ''
);
INSERT INTO pupils (household_id, grade, language)
    SELECT g.household_id, g.grade, h.language FROM household_grades g JOIN households h ON h.id = g.household_id
    ORDER BY g.household_id, g.grade;
CREATE INDEX pupils_audience ON pupils (grade, language, household_id);
CREATE INDEX pupils_household ON pupils (household_id);

ALTER TABLE households ADD COLUMN pupils TEXT NOT NULL DEFAULT '[]';
UPDATE households SET pupils = (
    SELECT json_group_array(json_object('grade', grade, 'language', language))
    FROM (SELECT grade, language FROM pupils p WHERE p.household_id = households.id ORDER BY grade))
WHERE EXISTS (SELECT 1 FROM pupils p WHERE p.household_id = households.id);
ALTER TABLE households DROP COLUMN grades;
DROP TABLE household_grades;

-- Who a lesson is for (relais.Audience as JSON; '' for the lesson's defaults).
ALTER TABLE lessons ADD COLUMN audience TEXT NOT NULL DEFAULT '';

-- The classes a teacher teaches: a teacher's lesson goes to them by default.
CREATE TABLE user_classes (
    user_id TEXT NOT NULL,
    class   TEXT NOT NULL,
    PRIMARY KEY (user_id, class)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE user_classes;
ALTER TABLE lessons DROP COLUMN audience;
CREATE TABLE household_grades (
    grade        INTEGER NOT NULL,
    household_id INTEGER NOT NULL REFERENCES households (id) ON DELETE CASCADE,
    PRIMARY KEY (grade, household_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO household_grades (grade, household_id) SELECT grade, household_id FROM pupils;
CREATE INDEX household_grades_household ON household_grades (household_id);
ALTER TABLE households ADD COLUMN grades TEXT NOT NULL DEFAULT '';
UPDATE households SET grades = coalesce((
    SELECT group_concat(grade, ',') FROM (SELECT DISTINCT grade FROM pupils p WHERE p.household_id = households.id ORDER BY grade)), '');
ALTER TABLE households DROP COLUMN pupils;
DROP TABLE pupils;
