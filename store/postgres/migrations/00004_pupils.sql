-- +goose Up
-- A household lists its pupils, each with a grade and a language of instruction, and optionally a
-- school and a class (issue 16). households.pupils is the household's list as written (JSON); the
-- pupils table repeats it one row per pupil so that a lesson's audience pages through its households on
-- an index (keyset pagination: grade = $1 AND language = $2 AND household_id > $3 ORDER BY household_id).
-- It replaces household_grades: every household gets one pupil per grade it had, taught in the
-- household's language. Like household_grades, it is written only by UpsertHouseholds with the
-- household's own row, and carries no foreign key (a bulk import would pay one check per pupil).
CREATE TABLE pupils (
    household_id bigint  NOT NULL,
    grade        integer NOT NULL,
    language     text    NOT NULL,
    school       text    NOT NULL DEFAULT '',
    class        text    NOT NULL DEFAULT ''
);
INSERT INTO pupils (household_id, grade, language)
    SELECT g.household_id, g.grade, h.language FROM household_grades g JOIN households h ON h.id = g.household_id
    ORDER BY g.household_id, g.grade;
CREATE INDEX pupils_audience ON pupils (grade, language, household_id);
-- Re-importing a household replaces its pupils by household: a hash index, giving no order, never
-- tempts the planner away from pupils_audience for an audience's pages.
CREATE INDEX pupils_household ON pupils USING hash (household_id);

ALTER TABLE households ADD COLUMN pupils text NOT NULL DEFAULT '[]';
UPDATE households h SET pupils = p.list
FROM (SELECT household_id, json_agg(json_build_object('grade', grade, 'language', language) ORDER BY grade)::text AS list
      FROM pupils GROUP BY household_id) p
WHERE p.household_id = h.id;
ALTER TABLE households DROP COLUMN grades;
DROP TABLE household_grades;

-- Who a lesson is for (relais.Audience as JSON; '' for the lesson's defaults).
ALTER TABLE lessons ADD COLUMN audience text NOT NULL DEFAULT '';

-- The classes a teacher teaches: a teacher's lesson goes to them by default.
CREATE TABLE user_classes (
    user_id text NOT NULL,
    class   text NOT NULL,
    PRIMARY KEY (user_id, class)
);

-- +goose Down
DROP TABLE user_classes;
ALTER TABLE lessons DROP COLUMN audience;
CREATE TABLE household_grades (
    grade        integer NOT NULL,
    household_id bigint  NOT NULL,
    PRIMARY KEY (grade, household_id)
);
INSERT INTO household_grades (grade, household_id) SELECT DISTINCT grade, household_id FROM pupils;
CREATE INDEX household_grades_household ON household_grades USING hash (household_id);
ALTER TABLE households ADD COLUMN grades integer[] NOT NULL DEFAULT '{}';
UPDATE households h SET grades = p.grades
FROM (SELECT household_id, array_agg(DISTINCT grade ORDER BY grade) AS grades FROM pupils GROUP BY household_id) p
WHERE p.household_id = h.id;
ALTER TABLE households DROP COLUMN pupils;
DROP TABLE pupils;
