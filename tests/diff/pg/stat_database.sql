-- pg_stat_database, as the monitoring lesson reads it: this database's row counts its sessions,
-- the transactions committed and rolled back, rows inserted, updated and deleted, and deadlocks.
-- Other sessions of the server (PostgreSQL's background ones, other databases') stay out: the
-- queries read this database's row and compare counters before and after.

@a CREATE TABLE sd (id int PRIMARY KEY, v int);
@a CREATE TABLE sd_before AS SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, deadlocks FROM pg_stat_database WHERE datname = current_database();
@a INSERT INTO sd VALUES (1, 0), (2, 0), (3, 0);
@a UPDATE sd SET v = 1 WHERE id <= 2;
@a DELETE FROM sd WHERE id = 3;
@a BEGIN;
@a INSERT INTO sd VALUES (4, 0);
@a ROLLBACK;
@a BEGIN;
@a SELECT 1;
@a COMMIT;
-- PostgreSQL's backends flush their counters when they go idle, at most once a second.
@a SELECT pg_sleep(1.2);
@a SELECT 1;
@b SELECT numbackends >= 2 AS both_sessions, datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS datid FROM pg_stat_database WHERE datname = current_database();
@a SELECT s.xact_commit - b.xact_commit >= 4 AS commits, s.xact_rollback - b.xact_rollback >= 1 AS rollbacks, s.xact_commit - b.xact_commit < 20 AS few, s.tup_inserted - b.tup_inserted >= 5 AS inserted, s.tup_updated - b.tup_updated AS updated, s.tup_deleted - b.tup_deleted AS deleted, s.deadlocks - b.deadlocks AS deadlocks, s.temp_files, s.conflicts FROM pg_stat_database s, sd_before b WHERE s.datname = current_database();
@a SELECT count(*) FILTER (WHERE datid = 0 AND datname IS NULL) AS shared_row FROM pg_stat_database;
@a SELECT datid, datname, numbackends, xact_commit, deadlocks, checksum_failures IS NULL AS no_checksums, stats_reset IS NULL AS never_reset FROM pg_stat_database WHERE datid = 0;
@a SELECT checksum_failures IS NULL AS no_checksums, stats_reset IS NULL AS never_reset, temp_bytes FROM pg_stat_database WHERE datname = current_database();
