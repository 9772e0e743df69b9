-- +goose Up
-- household_grades is written only by UpsertHouseholds, from the rows the same statement writes, and
-- households are never deleted: the foreign key's check, one per grade row, cost a third of a bulk
-- import's time in the database.
ALTER TABLE household_grades DROP CONSTRAINT household_grades_household_id_fkey;

-- +goose Down
ALTER TABLE household_grades ADD CONSTRAINT household_grades_household_id_fkey
    FOREIGN KEY (household_id) REFERENCES households (id) ON DELETE CASCADE;
