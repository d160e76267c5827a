-- SELECT ... FOR UPDATE / FOR SHARE with NOWAIT and SKIP LOCKED; multi-statement queries as one
-- implicit transaction; txid_current() and xmin.

@a CREATE TABLE seat (id int PRIMARY KEY, holder text);
@a INSERT INTO seat VALUES (1, NULL), (2, NULL), (3, NULL);

-- FOR UPDATE takes the row: another FOR UPDATE waits until the holder ends.
@a BEGIN;
@a SELECT id FROM seat WHERE id = 1 FOR UPDATE;
@b & SELECT id, holder FROM seat WHERE id = 1 FOR UPDATE;
@a UPDATE seat SET holder = 'ada' WHERE id = 1;
@a COMMIT;
@b wait

-- NOWAIT refuses at once with 55P03; SKIP LOCKED leaves the taken row out.
@a BEGIN;
@a SELECT id FROM seat WHERE id = 2 FOR UPDATE;
@b SELECT id FROM seat WHERE id = 2 FOR UPDATE NOWAIT;
@b SELECT id FROM seat WHERE holder IS NULL ORDER BY id FOR UPDATE SKIP LOCKED;
@b SELECT id FROM seat ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
-- A row lock does not block plain readers or hide the row.
@b SELECT id, holder FROM seat ORDER BY id;
-- A writer waits for the lock like it waits for an update.
@b & UPDATE seat SET holder = 'bob' WHERE id = 2;
@a ROLLBACK;
@b wait
@a SELECT id, holder FROM seat ORDER BY id;

-- REPEATABLE READ: locking a row another transaction changed since the snapshot is a 40001.
@b BEGIN ISOLATION LEVEL REPEATABLE READ;
@b SELECT count(*) FROM seat;
@a UPDATE seat SET holder = 'cy' WHERE id = 3;
@b SELECT id FROM seat WHERE id = 3 FOR UPDATE;
@b ROLLBACK;

-- Several statements in one Query share one implicit transaction: an error undoes all of them.
@a INSERT INTO seat VALUES (10, 'x'); INSERT INTO seat VALUES (10, 'dup');
@a SELECT count(*) FROM seat WHERE id = 10;
@a INSERT INTO seat VALUES (11, 'y'); INSERT INTO seat VALUES (12, 'z');
@a SELECT id FROM seat WHERE id > 10 ORDER BY id;
-- A BEGIN inside the string makes it a block that outlives the Query.
@a INSERT INTO seat VALUES (13, 'w'); BEGIN; INSERT INTO seat VALUES (14, 'v');
@a ROLLBACK;
@a SELECT id FROM seat WHERE id > 12 ORDER BY id;

-- txid_current() is the transaction's id, and the rows it writes carry it as xmin.
@a BEGIN;
@a INSERT INTO seat VALUES (20, 'xid');
@a SELECT xmin::text::bigint = txid_current() AS same, xmax::text FROM seat WHERE id = 20;
@a SELECT txid_current() = txid_current();
@a COMMIT;
@a SELECT now() = now(), now() = current_timestamp;
