-- INSERT ... ON CONFLICT: arbiters, DO NOTHING, DO UPDATE with EXCLUDED and WHERE, RETURNING,
-- and the errors of each.

CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL, n int DEFAULT 0, tag text UNIQUE);
INSERT INTO kv VALUES ('a', 1, 0, 'ta');
INSERT INTO kv VALUES ('a', 2) ON CONFLICT DO NOTHING;
INSERT INTO kv VALUES ('a', 2) ON CONFLICT (k) DO NOTHING RETURNING *;
INSERT INTO kv VALUES ('b', 2) ON CONFLICT (k) DO NOTHING RETURNING k, v;
INSERT INTO kv VALUES ('a', 5) ON CONFLICT (k) DO UPDATE SET v = excluded.v, n = kv.n + 1 RETURNING k, v, n;
INSERT INTO kv VALUES ('a', 7) ON CONFLICT ON CONSTRAINT kv_pkey DO UPDATE SET v = kv.v + EXCLUDED.v RETURNING v;
-- WHERE decides per row: rows it leaves are neither updated nor returned.
INSERT INTO kv VALUES ('a', 100), ('b', 100) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE kv.k = 'b' RETURNING k, v;
SELECT k, v, n FROM kv ORDER BY k;
-- With an alias the table is named by it.
INSERT INTO kv AS t VALUES ('b', 1) ON CONFLICT (k) DO UPDATE SET n = t.n + 10 WHERE t.v > 50 RETURNING n;
INSERT INTO kv AS t VALUES ('b', 1) ON CONFLICT (k) DO UPDATE SET n = kv.n + 10;
-- A mix of new and existing keys; the tag counts both.
INSERT INTO kv VALUES ('b', 3), ('c', 3), ('d', 4) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v * 10;
SELECT k, v FROM kv ORDER BY k;
-- Another unique constraint can be the arbiter; a conflict on a non-arbiter still fails.
INSERT INTO kv VALUES ('e', 1, 0, 'ta') ON CONFLICT (tag) DO UPDATE SET n = 99;
INSERT INTO kv VALUES ('a', 1, 0, 'tz') ON CONFLICT (tag) DO NOTHING;
INSERT INTO kv VALUES ('a', 1, 0, 'ta') ON CONFLICT DO NOTHING;
SELECT k, n, tag FROM kv ORDER BY k;
-- The same key twice in one statement: DO UPDATE refuses, DO NOTHING keeps the first.
INSERT INTO kv VALUES ('f', 1), ('f', 2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO kv VALUES ('f', 1), ('f', 2) ON CONFLICT (k) DO NOTHING;
SELECT k, v FROM kv WHERE k = 'f';
-- Constraint checks apply to the updated row.
INSERT INTO kv VALUES ('f', 1) ON CONFLICT (k) DO UPDATE SET v = NULL;
INSERT INTO kv VALUES ('f', 1) ON CONFLICT (k) DO UPDATE SET tag = 'ta';
-- Errors found before any row is written.
INSERT INTO kv VALUES ('g', 1) ON CONFLICT (v) DO NOTHING;
INSERT INTO kv VALUES ('g', 1) ON CONFLICT (nosuch) DO NOTHING;
INSERT INTO kv VALUES ('g', 1) ON CONFLICT DO UPDATE SET v = 1;
INSERT INTO kv VALUES ('g', 1) ON CONFLICT ON CONSTRAINT nosuch DO NOTHING;
INSERT INTO kv VALUES ('g', 1) ON CONFLICT (k) DO UPDATE SET v = v + 1;
INSERT INTO kv VALUES ('g', 1) ON CONFLICT (k) DO UPDATE SET nosuch = 1;
INSERT INTO kv VALUES ('g', 1) ON CONFLICT (k) DO UPDATE SET v = kv.nosuch;
SELECT count(*) FROM kv WHERE k = 'g';

-- Multi-column arbiters are matched as a set of columns; a unique index counts too.
CREATE TABLE stock (shop int, item text, qty int, PRIMARY KEY (shop, item));
INSERT INTO stock VALUES (1, 'pen', 5) ON CONFLICT (item, shop) DO UPDATE SET qty = stock.qty + EXCLUDED.qty;
INSERT INTO stock VALUES (1, 'pen', 5) ON CONFLICT (shop, item) DO UPDATE SET qty = stock.qty + EXCLUDED.qty RETURNING qty;
INSERT INTO stock VALUES (1, 'pen', 5) ON CONFLICT (shop) DO NOTHING;
CREATE TABLE emails (id serial PRIMARY KEY, address text NOT NULL, hits int DEFAULT 1);
CREATE UNIQUE INDEX emails_lower ON emails (address);
INSERT INTO emails (address) VALUES ('x@y') ON CONFLICT (address) DO UPDATE SET hits = emails.hits + 1 RETURNING id, hits;
INSERT INTO emails (address) VALUES ('x@y') ON CONFLICT (address) DO UPDATE SET hits = emails.hits + 1 RETURNING id, hits;
-- ON CONSTRAINT needs a constraint, not an index.
INSERT INTO emails (address) VALUES ('x@y') ON CONFLICT ON CONSTRAINT emails_lower DO NOTHING;
-- Defaults are applied before the conflict is looked for; EXCLUDED holds them.
INSERT INTO emails (address) VALUES ('z@y'), ('x@y') ON CONFLICT (address) DO UPDATE SET hits = EXCLUDED.hits + 10 RETURNING address, hits;

-- Inside a transaction with savepoints.
BEGIN;
INSERT INTO kv VALUES ('h', 1) ON CONFLICT (k) DO UPDATE SET v = 2;
SAVEPOINT s;
INSERT INTO kv VALUES ('h', 1) ON CONFLICT (k) DO UPDATE SET v = 3;
ROLLBACK TO SAVEPOINT s;
INSERT INTO kv VALUES ('h', 1) ON CONFLICT (k) DO UPDATE SET v = kv.v + 40 RETURNING v;
COMMIT;
SELECT k, v FROM kv WHERE k = 'h';

-- Foreign keys are checked on both paths.
CREATE TABLE owners (id int PRIMARY KEY);
CREATE TABLE pets (name text PRIMARY KEY, owner int REFERENCES owners);
INSERT INTO owners VALUES (1);
INSERT INTO pets VALUES ('rex', 1) ON CONFLICT (name) DO NOTHING;
INSERT INTO pets VALUES ('rex', 2) ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner;
INSERT INTO pets VALUES ('tom', 2) ON CONFLICT (name) DO NOTHING;
SELECT name, owner FROM pets;
