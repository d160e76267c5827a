-- Watching sessions and their locks: pg_stat_activity, pg_locks and pg_blocking_pids() while one
-- session waits for another's row lock; pg_cancel_backend(); lock_timeout and statement_timeout.
-- Process ids and xids differ between the servers, so the queries count, compare and test for
-- NULL rather than show them. PostgreSQL also lists its background processes and other
-- databases' sessions in these views: every query keeps to client backends of this file's
-- database (the runner gives it a database of its own).

@a CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL);
@a INSERT INTO acct VALUES (1, 100), (2, 200), (3, 300);

-- A session sees itself: active, running this very statement, in a transaction that started
-- with it, waiting for nothing, without an xid (it has written nothing).
@a SELECT datname = current_database() AS here, usename, state, query, wait_event_type, wait_event, backend_type, backend_xid IS NULL AS no_xid, xact_start = query_start AS xact_with_query, state_change >= query_start AS changed_after_start, backend_start <= query_start AS started_before, client_addr IS NOT NULL AS tcp, client_port > 0 AS port FROM pg_stat_activity WHERE pid = pg_backend_pid();
@a SELECT pg_backend_pid() = pid AS same FROM pg_stat_activity WHERE pid = pg_backend_pid();
@a SELECT cardinality(pg_blocking_pids(pg_backend_pid())) AS blockers;

-- b waits for a's row lock. The waiter is active and waits for a Lock of type transactionid; the
-- holder is idle in transaction, waiting for its client. Both have an xid: PostgreSQL gives an
-- UPDATE one before it waits.
@a BEGIN;
@a UPDATE acct SET balance = balance + 5 WHERE id = 1;
@b & UPDATE acct SET balance = balance + 1 WHERE id = 1;
@c SELECT state, wait_event_type, wait_event, query, backend_xid IS NOT NULL AS has_xid, cardinality(pg_blocking_pids(pid)) AS blockers FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY state, query;
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock';
-- The usual "who blocks whom" query.
@c SELECT w.query AS waiting, h.query AS blocking, h.state AS blocker_state FROM pg_stat_activity w JOIN pg_stat_activity h ON h.pid = ANY(pg_blocking_pids(w.pid)) WHERE w.datname = current_database();
-- pg_locks: each transaction holds its own xid (ExclusiveLock); the waiter asks for a ShareLock
-- on the holder's xid, not granted. The two ShareLock/ExclusiveLock rows name one xid.
@c SELECT l.locktype, l.mode, l.granted FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE s.datname = current_database() AND s.pid <> pg_backend_pid() AND l.locktype = 'transactionid' ORDER BY l.granted, l.mode;
@c SELECT count(*) AS pairs FROM pg_locks w JOIN pg_locks h ON h.transactionid = w.transactionid AND h.granted AND h.mode = 'ExclusiveLock' WHERE NOT w.granted AND w.pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database());
@c SELECT count(*) AS waiting_since FROM pg_locks WHERE NOT granted AND waitstart IS NOT NULL AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database());
-- Table locks, held until the transaction ends: RowExclusiveLock on the table and its index,
-- for the holder and the waiter alike.
@c SELECT l.relation::regclass::text AS rel, l.mode, count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE s.datname = current_database() AND s.pid <> pg_backend_pid() AND l.locktype = 'relation' GROUP BY 1, 2 ORDER BY 1, 2;
@c SELECT count(*) AS vxids FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE s.datname = current_database() AND l.locktype = 'virtualxid';
@a COMMIT;
@b wait
-- (Not wait_event here: a PostgreSQL backend that has just sent ReadyForQuery reports ClientRead
-- only once it is blocked reading, a moment later.)
@c SELECT state, backend_xid IS NULL AS no_xid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY query;
@c SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE s.datname = current_database() AND s.pid <> pg_backend_pid();

-- A transaction that only reads has no xid, and takes AccessShareLock; one that failed is idle in
-- transaction (aborted) until ROLLBACK.
@a BEGIN;
@a SELECT balance FROM acct WHERE id = 2;
@b BEGIN;
@b SELECT 1 / 0;
@c SELECT state, query, backend_xid IS NULL AS no_xid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY state;
@c SELECT l.relation::regclass::text AS rel, l.mode FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE s.datname = current_database() AND l.locktype = 'relation' AND s.pid <> pg_backend_pid() ORDER BY 1, 2;
@b ROLLBACK;
@a ROLLBACK;

-- SELECT ... FOR UPDATE waits without an xid of its own, and locks tables in RowShareLock.
@a BEGIN;
@a SELECT balance FROM acct WHERE id = 2 FOR UPDATE;
@b & SELECT balance FROM acct WHERE id = 2 FOR UPDATE;
@c SELECT state, wait_event_type, wait_event, backend_xid IS NULL AS no_xid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY state;
@c SELECT l.locktype, l.relation::regclass::text AS rel, l.mode, l.granted FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE s.datname = current_database() AND s.pid <> pg_backend_pid() AND l.locktype IN ('relation', 'transactionid') ORDER BY 1, 2, 3, 4;
@a COMMIT;
@b wait

-- pg_stat_activity is read once per transaction: later reads in the same transaction see the
-- same snapshot, until it ends or pg_stat_clear_snapshot() drops it.
@c BEGIN;
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction';
@a BEGIN;
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction';
@c COMMIT;
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction';
@b BEGIN;
@c BEGIN;
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction';
@b ROLLBACK;
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction';
@c SELECT pg_stat_clear_snapshot();
@c SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction';
@c COMMIT;
@a ROLLBACK;

-- pg_cancel_backend() stops a waiting statement: the waiter gets 57014.
@a BEGIN;
@a UPDATE acct SET balance = balance + 1 WHERE id = 2;
@b & UPDATE acct SET balance = balance + 2 WHERE id = 2;
@c SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock';
@b wait
@a COMMIT;
@b SELECT balance FROM acct WHERE id = 2;

-- lock_timeout: a wait for a row lock longer than this fails with 55P03. Values are read with
-- their unit (milliseconds without one) and shown in the largest unit that divides them.
@b SHOW lock_timeout;
@b SET lock_timeout = 250;
@b SHOW lock_timeout;
@b SET lock_timeout TO '1.5s';
@b SHOW lock_timeout;
@b SET lock_timeout = '60000';
@b SHOW lock_timeout;
@b SET lock_timeout = 'abc';
@b SET lock_timeout = '10 parsecs';
@b SET lock_timeout = -1;
@b SET lock_timeout = '100ms';
@a BEGIN;
@a UPDATE acct SET balance = 0 WHERE id = 3;
@b UPDATE acct SET balance = 1 WHERE id = 3;
-- In a block, the timeout fails the transaction like any error.
@b BEGIN;
@b UPDATE acct SET balance = 1 WHERE id = 3;
@b SELECT 1;
@c SELECT state FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY state;
@b ROLLBACK;
-- SELECT ... FOR UPDATE NOWAIT fails at once, whatever lock_timeout says.
@b SELECT balance FROM acct WHERE id = 3 FOR UPDATE NOWAIT;
@b RESET lock_timeout;
@b SHOW lock_timeout;

-- statement_timeout: the whole statement, lock waits and pg_sleep included, fails with 57014.
@b SET statement_timeout = '200ms';
@b SHOW statement_timeout;
@b UPDATE acct SET balance = 1 WHERE id = 3;
@b SELECT pg_sleep(1);
@b SELECT pg_sleep(0.01);
-- A statement busy computing (nine million joined rows) is stopped too, not only one waiting.
@b SELECT count(*) FROM generate_series(1, 3000) a, generate_series(1, 3000) b WHERE a + b > 0;
-- With both set, the timer that runs out first decides.
@b SET lock_timeout = '2s';
@b UPDATE acct SET balance = 1 WHERE id = 3;
@b SET lock_timeout = '50ms';
@b UPDATE acct SET balance = 1 WHERE id = 3;
@b RESET ALL;
@b SHOW statement_timeout;
@b SHOW deadlock_timeout;
@a ROLLBACK;

-- A session sleeping in pg_sleep waits for a Timeout of type PgSleep.
@b & SELECT pg_sleep(1.5);
@c SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY state;
@b wait

-- Settings follow transactions: SET LOCAL lasts until the block ends (outside one it only warns),
-- and a SET in a block that rolls back, or in a savepoint rolled back to, is undone.
@b SET LOCAL lock_timeout = '1s';
@b SHOW lock_timeout;
@a BEGIN;
@a UPDATE acct SET balance = 0 WHERE id = 3;
@b BEGIN;
@b SET LOCAL lock_timeout = '150ms';
@b SHOW lock_timeout;
@b UPDATE acct SET balance = 1 WHERE id = 3;
@b ROLLBACK;
@b SHOW lock_timeout;
@a ROLLBACK;
@b BEGIN;
@b SET statement_timeout = '5s';
@b SET LOCAL statement_timeout = '6s';
@b SAVEPOINT s;
@b SET statement_timeout = '7s';
@b ROLLBACK TO SAVEPOINT s;
@b SHOW statement_timeout;
@b COMMIT;
@b SHOW statement_timeout;
@b BEGIN;
@b SET statement_timeout = '8s';
@b ROLLBACK;
@b SHOW statement_timeout;
@b RESET statement_timeout;
