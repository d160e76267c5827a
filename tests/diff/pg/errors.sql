-- Errors: each one's SQLSTATE, message and DETAIL, and what a failed statement leaves behind.

CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, email varchar(12) UNIQUE, balance int DEFAULT 0);
INSERT INTO accounts VALUES (1, 'ann', 'ann@x.io', 100), (2, 'bob', 'bob@x.io', 50);

-- 23505 unique_violation, on the primary key and on a UNIQUE column.
INSERT INTO accounts VALUES (1, 'again', NULL, 0);
INSERT INTO accounts VALUES (3, 'cat', 'ann@x.io', 0);
UPDATE accounts SET id = 2 WHERE id = 1;
-- A multi-row INSERT that fails halfway leaves nothing behind.
INSERT INTO accounts VALUES (3, 'cat', NULL, 0), (1, 'dup', NULL, 0);
SELECT id FROM accounts ORDER BY id;
-- Two NULLs never collide in a UNIQUE column.
INSERT INTO accounts VALUES (4, 'dan', NULL, 0), (5, 'eve', NULL, 0);

-- 23502 not_null_violation.
INSERT INTO accounts (id) VALUES (6);
INSERT INTO accounts VALUES (6, NULL, NULL, 0);
UPDATE accounts SET owner = NULL WHERE id = 1;
INSERT INTO accounts (owner) VALUES ('nobody');

-- 22001 string_data_right_truncation.
INSERT INTO accounts VALUES (7, 'fay', 'a-very-long-address@x.io', 0);

-- 42P01 undefined_table, 42703 undefined_column, 42P07 duplicate_table.
SELECT * FROM missing;
INSERT INTO missing VALUES (1);
UPDATE missing SET a = 1;
DELETE FROM missing;
DROP TABLE missing;
SELECT nope FROM accounts;
SELECT id FROM accounts WHERE nope = 1;
INSERT INTO accounts (id, nope) VALUES (9, 1);
UPDATE accounts SET nope = 1;
CREATE TABLE accounts (id int);

-- 42601 syntax_error.
SELEC 1;
SELECT * FROM;
SELECT (1;
INSERT INTO accounts VALUES;

-- 22012 division_by_zero, 22003 numeric_value_out_of_range.
SELECT 1 / 0;
SELECT 5 % 0;
SELECT id / 0 FROM accounts;
SELECT 2147483647 + 1;
SELECT 9223372036854775807 + 1;
INSERT INTO accounts VALUES (2147483648, 'big', NULL, 0);
UPDATE accounts SET balance = balance * 100000000 WHERE id = 1;
CREATE TABLE smalls (s smallint);
INSERT INTO smalls VALUES (32767);
INSERT INTO smalls VALUES (32768);
UPDATE smalls SET s = s + 1;

-- 22P02 invalid_text_representation.
INSERT INTO accounts VALUES ('x', 'bad', NULL, 0);
SELECT id FROM accounts WHERE id = 'abc';
INSERT INTO smalls VALUES ('12a');
CREATE TABLE flags (f boolean);
INSERT INTO flags VALUES ('maybe');
INSERT INTO flags VALUES ('yes'), ('off'), ('t'), ('0');
SELECT f FROM flags;

-- More statement errors.
INSERT INTO accounts VALUES (8, 'gus', NULL, 0, 'extra');
INSERT INTO accounts (id, owner) VALUES (8);
INSERT INTO accounts (id, owner) VALUES (8, 'gus', NULL);
SELECT x.id FROM accounts;
SELECT id FROM accounts a WHERE accounts.id = 1;
SELECT count(*) FROM accounts WHERE count(*) > 1;
SELECT nosuchfunction(1);
SELECT 'a' + 1;
SELECT id FROM accounts WHERE owner = 1;
DROP TABLE accounts, missing;
CREATE TABLE twice (a int, a text);
CREATE TABLE badtype (a notatype);
CREATE TABLE twopk (a int PRIMARY KEY, b int PRIMARY KEY);
SET default_transaction_isolation = 'sometimes';
SHOW no_such_setting;
;

-- Nothing above changed the table.
SELECT * FROM accounts ORDER BY id;
