-- Two sessions and MVCC: what each one sees under READ COMMITTED and REPEATABLE READ, and the
-- xmin/xmax of row versions. Transaction ids differ between the servers, so the scenario asks
-- only whether xmax is zero (`xmax::text = '0'`: xid has no ordering operators, and its `=`
-- takes another xid, so both sides go through text).

@a CREATE TABLE kv (k text PRIMARY KEY, v int NOT NULL);
@a INSERT INTO kv VALUES ('x', 1), ('y', 2);

-- READ COMMITTED: every statement takes a new snapshot, so b sees a's change once a commits.
@a BEGIN;
@a UPDATE kv SET v = 10 WHERE k = 'x';
@a SELECT v FROM kv WHERE k = 'x';
@b BEGIN;
@b SELECT v FROM kv WHERE k = 'x';
@a COMMIT;
@b SELECT v FROM kv WHERE k = 'x';
@b COMMIT;

-- Uncommitted inserts and deletes are invisible to others; a rolled-back one never appears.
@a BEGIN;
@a INSERT INTO kv VALUES ('z', 3);
@a DELETE FROM kv WHERE k = 'y';
@b SELECT k, v FROM kv ORDER BY k;
@a SELECT k, v FROM kv ORDER BY k;
@a ROLLBACK;
@b SELECT k, v FROM kv ORDER BY k;

-- REPEATABLE READ: the snapshot is taken at the first statement and kept to the end.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT k, v FROM kv ORDER BY k;
@a UPDATE kv SET v = 20 WHERE k = 'x';
@a INSERT INTO kv VALUES ('w', 0);
@a DELETE FROM kv WHERE k = 'y';
@b SELECT k, v FROM kv ORDER BY k;
@b SELECT count(*) FROM kv;
@b COMMIT;
@b SELECT k, v FROM kv ORDER BY k;

-- The snapshot starts at the first statement, not at BEGIN.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@a UPDATE kv SET v = 21 WHERE k = 'x';
@b SELECT v FROM kv WHERE k = 'x';
@a UPDATE kv SET v = 22 WHERE k = 'x';
@b SELECT v FROM kv WHERE k = 'x';
@b COMMIT;

-- A transaction always sees its own writes, under either level.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT v FROM kv WHERE k = 'x';
@b UPDATE kv SET v = v + 1 WHERE k = 'x';
@b SELECT v FROM kv WHERE k = 'x';
@b COMMIT;
@a SELECT v FROM kv WHERE k = 'x';

-- xmin and xmax: a committed row has xmax 0; a row another transaction has deleted (or
-- updated) but not committed shows that transaction's xid in xmax to everyone else.
@a SELECT k, xmax::text = '0' AS live FROM kv ORDER BY k;
@a BEGIN;
@a DELETE FROM kv WHERE k = 'w';
@a UPDATE kv SET v = 30 WHERE k = 'x';
@b SELECT k, v, xmax::text = '0' AS xmax_zero FROM kv ORDER BY k;
@a SELECT k, v, xmax::text = '0' AS xmax_zero FROM kv ORDER BY k;
@a ROLLBACK;
-- After a rollback the old versions are live again; xmax still names the aborted deleter.
@b SELECT k, v, xmax::text = '0' AS xmax_zero FROM kv ORDER BY k;
-- A statement that failed inside a block is undone, but PostgreSQL keeps the xmax it set.
@a BEGIN;
@a UPDATE kv SET v = v + 1 WHERE k = 'x';
@a SAVEPOINT s;
@a UPDATE kv SET v = 1 / 0 WHERE k = 'w';
@a ROLLBACK TO s;
@b SELECT k, v, xmax::text = '0' AS xmax_zero FROM kv ORDER BY k;
@a COMMIT;
@b SELECT k, v, xmax::text = '0' AS xmax_zero FROM kv ORDER BY k;
@a BEGIN;
@a INSERT INTO kv VALUES ('n', 9);
@a SELECT k, xmax::text = '0' AS xmax_zero FROM kv WHERE k = 'n';
@a COMMIT;
@b SELECT k, v FROM kv ORDER BY k;
