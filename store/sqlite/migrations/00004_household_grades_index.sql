-- +goose Up
-- Re-importing a household replaces its grades: without this index each replacement scanned every
-- household's grades, and an import slowed down with the size of the population.
CREATE INDEX household_grades_household ON household_grades (household_id);

-- +goose Down
DROP INDEX household_grades_household;
