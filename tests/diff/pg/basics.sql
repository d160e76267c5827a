-- Tables of every supported type, constraints and defaults; INSERT, UPDATE and DELETE with
-- RETURNING. Each statement goes to terrarium and to PostgreSQL 15; see src/diff/pg.rs.

CREATE TABLE items (
    id int PRIMARY KEY,
    big bigint,
    small smallint,
    name text NOT NULL,
    code varchar(8) UNIQUE,
    active boolean DEFAULT true,
    ratio real,
    score double precision,
    price numeric,
    note text DEFAULT 'none'
);

INSERT INTO items VALUES (1, 10000000000, 7, 'apple', 'A1', true, 0.5, 1.25, 3.10, 'red');
INSERT INTO items (id, name) VALUES (2, 'banana');
INSERT INTO items (id, name, code, price) VALUES (3, 'cherry', 'C3', 12.5), (4, 'date', 'D4', 0.99), (5, 'elder', NULL, NULL);
INSERT INTO items (name, id) VALUES ('fig', 6) RETURNING id, name, active, note;
INSERT INTO items (id, name, small) VALUES (7, 'grape', -32768) RETURNING *;
INSERT INTO items (id, name, big, score) VALUES (8, 'kiwi', -9223372036854775808, -0.125) RETURNING big, score;
INSERT INTO items (id, name, active) VALUES (9, 'lemon', false), (10, 'lime', NULL) RETURNING id, active;

SELECT * FROM items ORDER BY id;
SELECT id, name FROM items WHERE id = 3;
SELECT count(*) FROM items;

UPDATE items SET note = 'green' WHERE name = 'lime';
UPDATE items SET price = price * 2 WHERE price IS NOT NULL RETURNING id, price;
UPDATE items SET small = 1 WHERE id > 100;
-- RETURNING comes in the order rows were visited, which for PostgreSQL depends on the plan (an
-- index scan of the primary key here), so the order is not compared.
UPDATE items SET active = NOT active WHERE id IN (1, 9) RETURNING id, active; -- [unordered]
UPDATE items SET name = name || '!' WHERE id = 2 RETURNING name;
DELETE FROM items WHERE id = 10 RETURNING id, name, note;
DELETE FROM items WHERE id = 999;
DELETE FROM items WHERE active = false RETURNING id;
SELECT id, name, active, price FROM items ORDER BY id;

CREATE TABLE counters (k text PRIMARY KEY, n int NOT NULL DEFAULT 0);
INSERT INTO counters (k) VALUES ('a'), ('b');
UPDATE counters SET n = n + 1 WHERE k = 'a';
UPDATE counters SET n = n + 10;
SELECT k, n FROM counters ORDER BY k;
DELETE FROM counters;
SELECT count(*) FROM counters;

-- Explicit NULL is NULL even where a DEFAULT exists; DEFAULT picks the default.
CREATE TABLE defaults (id serial PRIMARY KEY, label text DEFAULT 'unnamed', qty int DEFAULT 1);
INSERT INTO defaults (label) VALUES ('a') RETURNING *;
INSERT INTO defaults VALUES (DEFAULT, DEFAULT, DEFAULT) RETURNING *;
INSERT INTO defaults (label, qty) VALUES (NULL, NULL) RETURNING *;
INSERT INTO defaults VALUES (NULL, 'no id');
INSERT INTO defaults (id, label) VALUES (10, 'chosen') RETURNING id, label, qty;
SELECT * FROM defaults ORDER BY id;

-- Numbers: numeric keeps its scale through + - *, floats print their shortest exact digits.
CREATE TABLE nums (i int, b bigint, s smallint, r real, d double precision, n numeric);
INSERT INTO nums VALUES (7, 9000000000, 3, 0.1, 0.1, 1.50), (-2, -1, -3, 1.5, 2.25, 0.005), (NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM nums ORDER BY i NULLS LAST;
SELECT n + 1, n - 0.25, n * 2, n * n, -n FROM nums WHERE n IS NOT NULL ORDER BY n;
SELECT i + s, i * b, b - i, i % 3, i / 2 FROM nums WHERE i IS NOT NULL ORDER BY i;
SELECT d * 2, d + 1, r FROM nums WHERE d IS NOT NULL ORDER BY d;
SELECT sum(i), sum(b), sum(s), sum(n), sum(d), min(n), max(b) FROM nums;
SELECT count(*), count(n) FROM nums;
UPDATE nums SET n = n + 10 WHERE i = 7 RETURNING n;
INSERT INTO nums (n) VALUES ('3.140') RETURNING n;
INSERT INTO nums (n, i) VALUES (42, '5') RETURNING n, i;
SELECT 1.5 + 2, 0.1 + 0.2, 10 - 2.5, 1.10 * 3;

-- CREATE TABLE IF NOT EXISTS and DROP TABLE IF EXISTS say what they skipped.
CREATE TABLE IF NOT EXISTS nums (x int);
CREATE TABLE IF NOT EXISTS fresh (x int);
DROP TABLE IF EXISTS fresh, never_was;
DROP TABLE nums, defaults;

DROP TABLE counters;
DROP TABLE items;
DROP TABLE IF EXISTS items;

-- TRUNCATE empties tables, and a ROLLBACK brings the rows back.
CREATE TABLE trunc_a (v int);
CREATE TABLE trunc_b (v int);
INSERT INTO trunc_a VALUES (1), (2);
INSERT INTO trunc_b VALUES (3);
BEGIN;
TRUNCATE trunc_a, trunc_b;
SELECT count(*) FROM trunc_a;
ROLLBACK;
SELECT count(*) FROM trunc_a;
TRUNCATE TABLE trunc_a;
SELECT count(*) FROM trunc_a;
SELECT count(*) FROM trunc_b;
TRUNCATE nosuch_table;

-- ALTER TABLE ADD COLUMN: old rows get the default, or NULL.
CREATE TABLE alt (id int PRIMARY KEY);
INSERT INTO alt VALUES (1), (2);
ALTER TABLE alt ADD COLUMN note text;
ALTER TABLE alt ADD COLUMN score int NOT NULL DEFAULT 7;
ALTER TABLE alt ADD COLUMN IF NOT EXISTS note text;
ALTER TABLE alt ADD COLUMN note text;
ALTER TABLE alt ADD COLUMN must int NOT NULL;
ALTER TABLE nosuch_alt ADD COLUMN x int;
ALTER TABLE IF EXISTS nosuch_alt ADD COLUMN x int;
INSERT INTO alt (id, note) VALUES (3, 'new');
SELECT id, note, score FROM alt ORDER BY id;
