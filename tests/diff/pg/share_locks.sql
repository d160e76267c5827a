-- FOR SHARE is a shared row lock: several transactions hold it on the same row at once, while
-- writers and FOR UPDATE wait for all of them. FOR KEY SHARE (a foreign key check) and FOR SHARE
-- do not block each other.

@a CREATE TABLE doc (id int PRIMARY KEY, body text);
@a INSERT INTO doc VALUES (1, 'v1'), (2, 'v1');
@a CREATE TABLE note (id int PRIMARY KEY, doc_id int REFERENCES doc (id));

-- Two readers share the lock on row 1.
@a BEGIN;
@a SELECT id, body FROM doc WHERE id = 1 FOR SHARE;
@b BEGIN;
@b SELECT id, body FROM doc WHERE id = 1 FOR SHARE;
-- FOR UPDATE NOWAIT cannot have it; SKIP LOCKED leaves it out; plain reads go on.
@c SELECT id FROM doc WHERE id = 1 FOR UPDATE NOWAIT;
@c SELECT id FROM doc ORDER BY id FOR UPDATE SKIP LOCKED;
@c SELECT id FROM doc ORDER BY id FOR SHARE SKIP LOCKED;
@c SELECT id, body FROM doc ORDER BY id;
-- A foreign key check takes FOR KEY SHARE: not blocked by FOR SHARE.
@c INSERT INTO note VALUES (1, 1);
-- A writer waits for both sharers.
@c & UPDATE doc SET body = 'v2' WHERE id = 1;
@a COMMIT;
@b SELECT body FROM doc WHERE id = 1;
@b COMMIT;
@c wait
@a SELECT id, body FROM doc ORDER BY id;

-- A sharer that then writes the row waits for the other sharer (and two that both do deadlock,
-- as in PostgreSQL; not played here, the victim depends on timing).
@a BEGIN;
@a SELECT id FROM doc WHERE id = 2 FOR SHARE;
@b BEGIN;
@b SELECT id FROM doc WHERE id = 2 FOR SHARE;
@a & UPDATE doc SET body = 'a' WHERE id = 2;
@b ROLLBACK;
@a wait
@a COMMIT;
@a SELECT body FROM doc WHERE id = 2;

-- FOR SHARE waits for FOR UPDATE, and a held FOR SHARE makes DELETE wait.
@a BEGIN;
@a SELECT id FROM doc WHERE id = 2 FOR UPDATE;
@b SELECT id FROM doc WHERE id = 2 FOR SHARE NOWAIT;
@a ROLLBACK;
@b BEGIN;
@b SELECT id FROM doc WHERE id = 2 FOR SHARE;
@a DELETE FROM doc WHERE id = 2 AND false;
@c SELECT id FROM doc WHERE id = 2 FOR UPDATE NOWAIT;
@b COMMIT;
@c SELECT id FROM doc WHERE id = 2 FOR UPDATE NOWAIT;
