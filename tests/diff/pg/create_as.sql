-- CREATE TABLE ... AS: the query's columns and rows make the table; the tag counts the rows.

CREATE TABLE src (id int PRIMARY KEY, who text NOT NULL, amount numeric(10,2), at timestamptz DEFAULT now());
INSERT INTO src (id, who, amount) VALUES (1, 'ann', 10.50), (2, 'bob', 3), (3, 'ann', 7.25);
CREATE TABLE totals AS SELECT who, sum(amount) AS total, count(*) AS n FROM src GROUP BY who;
SELECT who, total, n FROM totals ORDER BY who;
SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'totals' ORDER BY ordinal_position;
CREATE TABLE empty_copy AS SELECT * FROM src WHERE false;
SELECT count(*) FROM empty_copy;
CREATE TABLE IF NOT EXISTS totals AS SELECT 1;
CREATE TABLE totals AS SELECT 1;
CREATE TABLE twice AS SELECT 1, 2;
-- The new table is an ordinary one: it takes writes, and its rows are the transaction's.
INSERT INTO totals VALUES ('cy', 1, 1);
BEGIN;
CREATE TABLE in_block AS SELECT id FROM src;
SELECT count(*) FROM in_block;
ROLLBACK;
SELECT count(*) FROM totals;
