-- Two sessions writing the same rows: who waits, for how long, and what the waiter gets when the
-- holder commits or rolls back. `@b & ...` sends without waiting: whether each server answered
-- at once or blocked is compared, and `@b wait` compares the result once it arrives.

@a CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL);
@a INSERT INTO acct VALUES (1, 100), (2, 200), (3, 300);

-- READ COMMITTED: the second UPDATE of a row waits for the first transaction, then re-reads the
-- newest version and applies itself to it: 100 + 5 + 1 = 106, no update is lost.
@a BEGIN;
@a UPDATE acct SET balance = balance + 5 WHERE id = 1;
@b & UPDATE acct SET balance = balance + 1 WHERE id = 1 RETURNING balance;
@a SELECT balance FROM acct WHERE id = 1;
@a COMMIT;
@b wait
@a SELECT balance FROM acct WHERE id = 1;

-- The waiter re-checks its WHERE on the new version: here the row no longer matches.
@a BEGIN;
@a UPDATE acct SET balance = 0 WHERE id = 2;
@b & UPDATE acct SET balance = balance - 50 WHERE id = 2 AND balance >= 50 RETURNING id, balance;
@a COMMIT;
@b wait
@a SELECT balance FROM acct WHERE id = 2;

-- When the holder rolls back, the waiter goes on with the old version.
@a BEGIN;
@a UPDATE acct SET balance = 999 WHERE id = 3;
@b & UPDATE acct SET balance = balance + 1 WHERE id = 3 RETURNING balance;
@a ROLLBACK;
@b wait

-- A DELETE waits as well, and an UPDATE of a row deleted meanwhile finds nothing.
@a BEGIN;
@a DELETE FROM acct WHERE id = 3;
@b & UPDATE acct SET balance = 1 WHERE id = 3;
@a COMMIT;
@b wait
@a INSERT INTO acct VALUES (3, 300);

-- Rows the other transaction does not touch never wait.
@a BEGIN;
@a UPDATE acct SET balance = balance + 1 WHERE id = 1;
@b UPDATE acct SET balance = balance + 1 WHERE id = 2;
@b SELECT id, balance FROM acct ORDER BY id;
@a COMMIT;

-- REPEATABLE READ: a row changed by a transaction that committed after our snapshot cannot be
-- updated: 40001, and the block is failed until ROLLBACK.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT balance FROM acct WHERE id = 1;
@a UPDATE acct SET balance = balance + 100 WHERE id = 1;
@b UPDATE acct SET balance = balance + 1 WHERE id = 1;
@b SELECT 1;
@b ROLLBACK;

-- REPEATABLE READ waiting for a writer: 40001 when the writer commits ...
@a BEGIN;
@a UPDATE acct SET balance = balance + 1 WHERE id = 2;
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT balance FROM acct WHERE id = 2;
@b & UPDATE acct SET balance = balance * 2 WHERE id = 2;
@a COMMIT;
@b wait
@b ROLLBACK;

-- ... and success when it rolls back.
@a BEGIN;
@a UPDATE acct SET balance = balance + 1 WHERE id = 2;
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT balance FROM acct WHERE id = 2;
@b & UPDATE acct SET balance = balance * 2 WHERE id = 2 RETURNING balance;
@a ROLLBACK;
@b wait
@b COMMIT;
@a SELECT id, balance FROM acct ORDER BY id;

-- REPEATABLE READ may update rows nobody changed since its snapshot.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT count(*) FROM acct;
@a UPDATE acct SET balance = 0 WHERE id = 1;
@b UPDATE acct SET balance = balance + 1 WHERE id = 3 RETURNING balance;
@b COMMIT;

-- An INSERT of a key another transaction inserted and has not committed waits for it: it fails
-- with 23505 when that one commits and goes through when it rolls back.
@a BEGIN;
@a INSERT INTO acct VALUES (10, 1);
@b & INSERT INTO acct VALUES (10, 2);
@a COMMIT;
@b wait
@a BEGIN;
@a INSERT INTO acct VALUES (11, 1);
@b & INSERT INTO acct VALUES (11, 2);
@a ROLLBACK;
@b wait
@a SELECT id, balance FROM acct WHERE id >= 10 ORDER BY id;

-- An error in a block (outside any savepoint) aborts the transaction at once: its row locks go
-- before the client sends ROLLBACK, and its changes are gone for everyone.
@a BEGIN;
@a UPDATE acct SET balance = balance + 1000 WHERE id = 1;
@b & UPDATE acct SET balance = balance + 1 WHERE id = 1 RETURNING balance;
@a SELECT 1 / 0;
@b wait
@a ROLLBACK;
-- Inside a savepoint the error aborts only the savepoint: the transaction keeps its locks.
@a BEGIN;
@a UPDATE acct SET balance = balance + 1000 WHERE id = 1;
@a SAVEPOINT s;
@a SELECT 1 / 0;
@b & UPDATE acct SET balance = balance + 1 WHERE id = 1 RETURNING balance;
@a ROLLBACK TO s;
@a COMMIT;
@b wait

-- A deadlock: a waits for b, then b for a. After deadlock_timeout (1 s on both) the first waiter
-- finds the cycle and fails with 40P01; b then gets its row at once, before a's ROLLBACK, because
-- a failed block has already given up its locks. DETAIL names process ids, which differ between
-- the servers.
@a BEGIN;
@b BEGIN;
@a UPDATE acct SET balance = 1 WHERE id = 1;
@b UPDATE acct SET balance = 2 WHERE id = 2;
@a & UPDATE acct SET balance = 1 WHERE id = 2; -- [no-detail]
@b UPDATE acct SET balance = 2 WHERE id = 1;
@a wait
@a ROLLBACK;
@b COMMIT;
@a SELECT id, balance FROM acct ORDER BY id;
