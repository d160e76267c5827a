-- The WAL as the lessons look at it: LSNs that grow with each commit, the segment file an LSN
-- is in, checkpoints and their counters, and the WAL settings. LSN values differ between the
-- servers (PostgreSQL's records are not terrarium's), so the queries compare and subtract them.

CREATE TABLE wal_t (id int PRIMARY KEY, v text);
SELECT pg_current_wal_lsn() > '0/0' AS positive, pg_current_wal_flush_lsn() <= pg_current_wal_lsn() AS flushed_first;
CREATE TABLE marks (before text);
INSERT INTO marks SELECT pg_current_wal_lsn()::text;
INSERT INTO wal_t VALUES (1, 'one');
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), before::pg_lsn) > 0 AS grew FROM marks;

-- Segment names: the byte before the LSN decides, so a boundary names the segment just filled.
SELECT pg_walfile_name('0/1000028'), pg_walfile_name('1/23000000'), pg_walfile_name('0/FFFFFF'), pg_walfile_name('0/1');
SELECT pg_walfile_name('zz');
SELECT pg_walfile_name(NULL);

-- CHECKPOINT, also inside a transaction block; the counter moves; LSNs carry on.
CHECKPOINT;
BEGIN;
CHECKPOINT;
COMMIT;
SELECT checkpoints_req > 0 AS requested, checkpoint_write_time >= 0 AS timed, buffers_clean >= 0 AS clean FROM pg_stat_bgwriter;
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), before::pg_lsn) > 0 AS still_grew FROM marks;
INSERT INTO wal_t VALUES (2, 'two');
SELECT count(*) FROM wal_t;

-- The settings the lessons show, as pg_settings and SHOW give them.
SELECT name, setting, unit, category, short_desc, context, vartype, min_val, max_val, boot_val, reset_val FROM pg_settings WHERE name IN ('wal_level', 'fsync', 'synchronous_commit', 'wal_sync_method', 'wal_buffers', 'checkpoint_timeout', 'checkpoint_completion_target', 'max_wal_size', 'min_wal_size', 'wal_segment_size', 'commit_delay', 'full_page_writes') ORDER BY name;
SHOW wal_level;
SHOW max_wal_size;
SHOW checkpoint_timeout;
SHOW wal_buffers;
SET synchronous_commit = off;
SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit';
RESET synchronous_commit;
SELECT setting FROM pg_settings WHERE name = 'synchronous_commit';
