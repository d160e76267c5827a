-- Transaction blocks: BEGIN/COMMIT/ROLLBACK, nested savepoints, ROLLBACK TO, RELEASE, failed
-- blocks, and the warnings PostgreSQL gives for misplaced transaction commands. The `ready`
-- line of every result (I, T or E) is compared too.

CREATE TABLE ledger (id int PRIMARY KEY, note text);

-- COMMIT and ROLLBACK outside a block: a WARNING, and the tag all the same.
COMMIT;
ROLLBACK;
END;
ABORT;

BEGIN;
INSERT INTO ledger VALUES (1, 'kept');
SELECT * FROM ledger;
BEGIN;
COMMIT;
SELECT * FROM ledger;

BEGIN;
INSERT INTO ledger VALUES (2, 'undone');
UPDATE ledger SET note = 'changed' WHERE id = 1;
ROLLBACK;
SELECT * FROM ledger ORDER BY id;

START TRANSACTION;
INSERT INTO ledger VALUES (2, 'two');
END;
SELECT * FROM ledger ORDER BY id;

-- Savepoints, nested, with ROLLBACK TO and RELEASE.
BEGIN;
INSERT INTO ledger VALUES (10, 'outer');
SAVEPOINT s1;
INSERT INTO ledger VALUES (11, 'in s1');
SAVEPOINT s2;
INSERT INTO ledger VALUES (12, 'in s2');
SELECT id FROM ledger WHERE id >= 10 ORDER BY id;
ROLLBACK TO SAVEPOINT s2;
SELECT id FROM ledger WHERE id >= 10 ORDER BY id;
INSERT INTO ledger VALUES (13, 'after rollback to s2');
ROLLBACK TO s1;
SELECT id FROM ledger WHERE id >= 10 ORDER BY id;
-- ROLLBACK TO keeps the savepoint: it can be rolled back to again.
INSERT INTO ledger VALUES (14, 'in s1 again');
ROLLBACK TO s1;
SELECT id FROM ledger WHERE id >= 10 ORDER BY id;
SAVEPOINT s3;
INSERT INTO ledger VALUES (15, 'in s3');
RELEASE SAVEPOINT s3;
SELECT id FROM ledger WHERE id >= 10 ORDER BY id;
ROLLBACK TO s3;
RELEASE s1;
ROLLBACK TO s1;
COMMIT;
SELECT id FROM ledger WHERE id >= 10 ORDER BY id;

-- The same savepoint name twice: ROLLBACK TO finds the newer one.
BEGIN;
SAVEPOINT dup;
INSERT INTO ledger VALUES (20, 'first dup');
SAVEPOINT dup;
INSERT INTO ledger VALUES (21, 'second dup');
ROLLBACK TO dup;
SELECT id FROM ledger WHERE id >= 20 ORDER BY id;
RELEASE dup;
ROLLBACK TO dup;
SELECT id FROM ledger WHERE id >= 20 ORDER BY id;
COMMIT;
SELECT id FROM ledger WHERE id >= 20 ORDER BY id;

-- A failed block refuses everything (25P02) until ROLLBACK; COMMIT answers ROLLBACK.
BEGIN;
INSERT INTO ledger VALUES (30, 'lost');
INSERT INTO ledger VALUES (1, 'duplicate');
SELECT 1;
INSERT INTO ledger VALUES (31, 'refused');
SAVEPOINT too_late;
COMMIT;
SELECT id FROM ledger WHERE id >= 30;

BEGIN;
SELECT * FROM nowhere;
ROLLBACK;
SELECT count(*) FROM ledger;

-- A savepoint rescues a block from a failed statement.
BEGIN;
INSERT INTO ledger VALUES (40, 'before');
SAVEPOINT guard;
INSERT INTO ledger VALUES (40, 'duplicate');
SELECT 1;
ROLLBACK TO guard;
INSERT INTO ledger VALUES (41, 'after');
COMMIT;
SELECT id FROM ledger WHERE id >= 40 ORDER BY id;

-- Savepoint commands outside a block.
SAVEPOINT nowhere;
RELEASE nowhere;
ROLLBACK TO nowhere;
-- ... and an unknown name inside one.
BEGIN;
RELEASE missing;
ROLLBACK;
BEGIN;
ROLLBACK TO missing;
ROLLBACK;

-- Isolation levels and SHOW / SET.
SHOW transaction_isolation;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SHOW transaction_isolation;
COMMIT;
BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SHOW transaction_isolation;
ROLLBACK;
SET default_transaction_isolation = 'repeatable read';
SHOW default_transaction_isolation;
BEGIN;
SHOW transaction_isolation;
COMMIT;
SET default_transaction_isolation TO DEFAULT;
SHOW default_transaction_isolation;
BEGIN;
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SHOW transaction_isolation;
COMMIT;
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SHOW transaction_isolation;

SELECT id, note FROM ledger ORDER BY id;

-- synchronous_commit = off: COMMIT returns before the WAL is flushed; the results are the same.
SET synchronous_commit = off;
SHOW synchronous_commit;
CREATE TABLE sc (id int PRIMARY KEY);
INSERT INTO sc VALUES (1);
BEGIN;
INSERT INTO sc VALUES (2);
COMMIT;
SELECT count(*) FROM sc;
SET synchronous_commit TO local;
SHOW synchronous_commit;
RESET synchronous_commit;
SHOW synchronous_commit;
DROP TABLE sc;
