-- CREATE [UNIQUE] INDEX and DROP INDEX: names, errors, uniqueness, and lookups through them.

CREATE TABLE people (id int PRIMARY KEY, email text, city text, age int);
INSERT INTO people VALUES (1, 'a@x', 'paris', 30), (2, 'b@x', 'oslo', 40), (3, 'c@x', 'paris', 50);
CREATE INDEX people_city ON people (city);
CREATE INDEX ON people (age);
CREATE INDEX ON people (age);
CREATE INDEX ON people (city, age);
CREATE INDEX people_city ON people (email);
CREATE INDEX IF NOT EXISTS people_city ON people (email);
CREATE INDEX people ON people (email);
CREATE INDEX people_pkey ON people (email);
CREATE INDEX nope ON nosuch (a);
CREATE INDEX nope ON people (nosuch);
CREATE INDEX USING_hash ON people USING hash (email);
-- Lookups through an index find what a scan would, also for rows written later.
SELECT id FROM people WHERE city = 'paris' ORDER BY id;
INSERT INTO people VALUES (4, 'd@x', 'paris', 60);
UPDATE people SET city = 'oslo' WHERE id = 1;
SELECT id FROM people WHERE city = 'paris' ORDER BY id;
SELECT id FROM people WHERE city = 'oslo' ORDER BY id;
DELETE FROM people WHERE city = 'oslo' AND age > 35;
SELECT id, city FROM people ORDER BY id;
BEGIN;
UPDATE people SET age = 31 WHERE age = 30;
SELECT id, age FROM people WHERE age = 31;
ROLLBACK;
SELECT id, age FROM people WHERE age = 30;

-- A unique index enforces uniqueness (23505, named after the index) and is refused over
-- duplicates already there.
CREATE UNIQUE INDEX people_email ON people (email);
INSERT INTO people VALUES (5, 'a@x', 'rome', 20);
INSERT INTO people VALUES (5, NULL, 'rome', 20), (6, NULL, 'rome', 20);
CREATE UNIQUE INDEX people_city_u ON people (city);
CREATE UNIQUE INDEX ON people (email, age);
UPDATE people SET email = 'c@x' WHERE id = 4;
INSERT INTO people VALUES (7, 'e@x', 'rome', 20), (8, 'e@x', 'rome', 21);
-- Under an explicit transaction and savepoints.
BEGIN;
DELETE FROM people WHERE email = 'a@x';
INSERT INTO people VALUES (9, 'a@x', 'lima', 1);
SAVEPOINT s;
INSERT INTO people VALUES (10, 'a@x', 'lima', 1);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT id, email FROM people ORDER BY id;

-- DROP INDEX.
DROP INDEX people_city;
DROP INDEX people_city;
DROP INDEX IF EXISTS people_city;
DROP INDEX people_pkey;
DROP INDEX people_age_idx, people_age_idx1;
DROP INDEX people_email;
INSERT INTO people VALUES (11, 'a@x', 'lima', 1);
SELECT count(*) FROM people WHERE email = 'a@x';
-- An index a foreign key uses cannot go without CASCADE.
CREATE TABLE tags (name text);
CREATE UNIQUE INDEX tags_name ON tags (name);
CREATE TABLE tagged (id int, tag text REFERENCES tags (name));
DROP INDEX tags_name;
DROP INDEX tags_name CASCADE;
INSERT INTO tagged VALUES (1, 'anything');
-- A table's indexes go with it.
DROP TABLE people;
CREATE TABLE people (id int);
CREATE INDEX people_city ON people (id);
