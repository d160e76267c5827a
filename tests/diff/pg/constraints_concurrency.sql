-- Foreign keys and ON CONFLICT between two sessions: a referenced row is locked FOR KEY SHARE by
-- the check of a referencing row, so it cannot be deleted (or its key changed) until that
-- transaction ends, while other referencing inserts and non-key updates go on; an upsert
-- waits for a concurrent insert of its key and then takes the update path.

@a CREATE TABLE parent (id int PRIMARY KEY, name text);
@a CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent);
@a INSERT INTO parent VALUES (1, 'one'), (2, 'two'), (3, 'three');

-- A child inserted, not yet committed: deleting its parent waits, then fails.
@a BEGIN;
@a INSERT INTO child VALUES (10, 1);
@b & DELETE FROM parent WHERE id = 1;
@a COMMIT;
@b wait
-- ... or succeeds when the child's transaction rolls back.
@a BEGIN;
@a INSERT INTO child VALUES (11, 2);
@b & DELETE FROM parent WHERE id = 2;
@a ROLLBACK;
@b wait
@a INSERT INTO parent VALUES (2, 'two');

-- Two sessions inserting children of one parent do not block each other (FOR KEY SHARE is
-- shared), and a non-key update of the parent does not wait either.
@a BEGIN;
@a INSERT INTO child VALUES (12, 3);
@b BEGIN;
@b INSERT INTO child VALUES (13, 3);
@b UPDATE parent SET name = 'THREE' WHERE id = 3;
@b COMMIT;
@b & UPDATE parent SET id = 33 WHERE id = 3;
@a COMMIT;
@b wait
@a SELECT id, name FROM parent ORDER BY id;

-- The parent being deleted by an uncommitted transaction: the child's check waits for it.
@a BEGIN;
@a DELETE FROM parent WHERE id = 2;
@b & INSERT INTO child VALUES (14, 2);
@a COMMIT;
@b wait
@a INSERT INTO parent VALUES (2, 'two');
@a BEGIN;
@a DELETE FROM parent WHERE id = 2;
@b & INSERT INTO child VALUES (14, 2);
@a ROLLBACK;
@b wait
-- A parent inserted by an uncommitted transaction is not seen: no wait, 23503.
@a BEGIN;
@a INSERT INTO parent VALUES (4, 'four');
@b INSERT INTO child VALUES (15, 4);
@a COMMIT;
@b INSERT INTO child VALUES (15, 4);
-- The key changed by an uncommitted update: the check waits; the old key is then gone.
@a BEGIN;
@a UPDATE parent SET id = 44 WHERE id = 4;
@b & INSERT INTO child VALUES (16, 4);
@a COMMIT;
@b wait
-- A non-key update in progress does not make the check wait.
@a BEGIN;
@a UPDATE parent SET name = 'FOUR' WHERE id = 44;
@b INSERT INTO child VALUES (16, 44);
@a COMMIT;
-- The lock survives a non-key update of the parent: the delete still waits for the child.
@a BEGIN;
@a INSERT INTO child VALUES (17, 1);
@b UPDATE parent SET name = 'ONE' WHERE id = 1;
@b & DELETE FROM parent WHERE id = 1;
@a ROLLBACK;
@b wait
@a SELECT id, pid FROM child ORDER BY id;

-- ON DELETE CASCADE waits for a concurrent update of a child row.
@a CREATE TABLE folder (id int PRIMARY KEY);
@a CREATE TABLE doc (id int PRIMARY KEY, folder int REFERENCES folder ON DELETE CASCADE, body text);
@a INSERT INTO folder VALUES (1), (2);
@a INSERT INTO doc VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z');
@a BEGIN;
@a UPDATE doc SET body = 'edited' WHERE id = 2;
@b & DELETE FROM folder WHERE id = 1;
@a COMMIT;
@b wait
@a SELECT id, folder, body FROM doc ORDER BY id;

-- Deferred checks at COMMIT see what other transactions committed meanwhile.
@a CREATE TABLE league (id int PRIMARY KEY);
@a CREATE TABLE club (id int PRIMARY KEY, league int REFERENCES league DEFERRABLE INITIALLY DEFERRED);
@a BEGIN;
@a INSERT INTO club VALUES (1, 7);
@b INSERT INTO league VALUES (7);
@a COMMIT;
@a SELECT id, league FROM club;

-- ON CONFLICT: a concurrent uncommitted insert of the same key makes the upsert wait; when
-- that commits, the upsert updates the row it inserted; when it rolls back, the upsert inserts.
@a CREATE TABLE counters (k text PRIMARY KEY, n int);
@a BEGIN;
@a INSERT INTO counters VALUES ('x', 1);
@b & INSERT INTO counters VALUES ('x', 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + 1 RETURNING n;
@a COMMIT;
@b wait
@a BEGIN;
@a INSERT INTO counters VALUES ('y', 1);
@b & INSERT INTO counters VALUES ('y', 5) ON CONFLICT (k) DO UPDATE SET n = counters.n + 1 RETURNING n;
@a ROLLBACK;
@b wait
-- DO NOTHING waits too, then skips.
@a BEGIN;
@a INSERT INTO counters VALUES ('z', 1);
@b & INSERT INTO counters VALUES ('z', 9) ON CONFLICT DO NOTHING;
@a COMMIT;
@b wait
-- An upsert of a row another transaction is updating waits for it, then updates the new version.
@a BEGIN;
@a UPDATE counters SET n = 100 WHERE k = 'x';
@b & INSERT INTO counters VALUES ('x', 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + 1 RETURNING n;
@a COMMIT;
@b wait
-- REPEATABLE READ: a conflicting row committed after the snapshot is a serialization failure.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT count(*) FROM counters;
@a INSERT INTO counters VALUES ('w', 1);
@b INSERT INTO counters VALUES ('w', 1) ON CONFLICT (k) DO UPDATE SET n = 0;
@b ROLLBACK;
@a SELECT k, n FROM counters ORDER BY k;

-- A deferred unique check at COMMIT waits for a concurrent insert of the same key.
@a CREATE TABLE slots (n int UNIQUE DEFERRABLE INITIALLY DEFERRED);
@a BEGIN;
@a INSERT INTO slots VALUES (1);
@b BEGIN;
@b INSERT INTO slots VALUES (1);
@b & COMMIT;
@a COMMIT;
@b wait
@a SELECT n FROM slots;

-- FOR UPDATE on a referenced row conflicts with the key-share lock both ways.
@a CREATE TABLE acct (id int PRIMARY KEY, owner text);
@a CREATE TABLE txn (id int PRIMARY KEY, acct int REFERENCES acct);
@a INSERT INTO acct VALUES (1, 'ada'), (2, 'bob');
@a BEGIN;
@a INSERT INTO txn VALUES (1, 1);
@b & SELECT id FROM acct WHERE id = 1 FOR UPDATE;
@a COMMIT;
@b wait
@a BEGIN;
@a SELECT id FROM acct WHERE id = 2 FOR UPDATE;
@b & INSERT INTO txn VALUES (2, 2);
@a COMMIT;
@b wait
-- An upsert whose WHERE is false still locks the row it found.
@a CREATE TABLE u (k int PRIMARY KEY, v int);
@a INSERT INTO u VALUES (1, 1);
@a BEGIN;
@a INSERT INTO u VALUES (1, 5) ON CONFLICT (k) DO UPDATE SET v = 5 WHERE u.v > 10;
@b & UPDATE u SET v = 2 WHERE k = 1;
@a COMMIT;
@b wait
-- REPEATABLE READ: a referenced row deleted by a transaction that committed after the
-- snapshot cannot be key-share locked (40001) ...
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT count(*) FROM acct;
@a DELETE FROM txn WHERE acct = 2;
@a DELETE FROM acct WHERE id = 2;
@b INSERT INTO txn VALUES (3, 2);
@b ROLLBACK;
-- ... and a parent delete sees referencing rows committed after the snapshot.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT count(*) FROM txn;
@a INSERT INTO txn VALUES (4, 1);
@b DELETE FROM acct WHERE id = 1;
@b ROLLBACK;
-- REPEATABLE READ: a parent committed after the snapshot is not seen by the child's check.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT count(*) FROM acct;
@a INSERT INTO acct VALUES (5, 'eve');
@b INSERT INTO txn VALUES (5, 5);
@b ROLLBACK;
@b INSERT INTO txn VALUES (5, 5);
