//! Checkpoints: the tables' committed state written to disk, so that the WAL before it can go.
//!
//! Without checkpoints the log grows forever and start-up replays all of it. A checkpoint
//! writes what every committed transaction left in the tables into one file, and then starts the
//! log afresh; start-up reads the checkpoint and replays only the log that came after it.
//!
//! ```text
//!   <data-dir>/pg_wal/wal.log      records from the redo LSN on (Wal::reset_after_checkpoint)
//!   <data-dir>/pg_wal/checkpoint   a log of its own, written whole and renamed into place:
//!       Checkpoint { redo }          every record of wal.log before `redo` is reflected below
//!       CreateTable … DropTable …    the DDL history, in order, as the log had it
//!       Insert { table, ctid, … }    one per row version a committed transaction left live,
//!       …                            at the ctid it has now (later records name rows by it)
//!       Commit { xid: 1 }
//! ```
//!
//! The checkpoint runs with the database locked, so no record is appended while it is taken,
//! and the order of the two steps is what makes a crash harmless at any point:
//!
//! ```text
//!   1. write checkpoint.tmp, fsync, rename over checkpoint, fsync the directory
//!        crash before the rename: the old checkpoint and the whole old log replay as before
//!   2. Wal::reset_after_checkpoint: wal.log starts again, empty, at LSN `redo`
//!        crash between 1 and 2: the new checkpoint and the old log, whose records before
//!        `redo` start-up skips (they are in the checkpoint)
//! ```
//!
//! This is a logical snapshot, not PostgreSQL's: PostgreSQL flushes dirty pages of its data
//! files and writes a checkpoint record; terrarium's tables live in memory, so the "pages" are the
//! rows themselves, written in full each time. `buffers_checkpoint` in `pg_stat_bgwriter` counts
//! the checkpoint file's size in 8 kB pages, to give the counter a meaning of the same order.
//!
//! A commit whose record is written but still waiting for its group fsync (`exec::Database::
//! flushing`) counts as committed here: its record is before `redo` and will be dropped from the
//! log, so the checkpoint must carry its rows.
//!
//! Start-up ends with a checkpoint too, as PostgreSQL's end-of-recovery checkpoint: replay gives
//! row versions new ctids, and the records written after start-up name rows by those, so the
//! replayed state has to be what the next start-up reads before them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::exec::Database;
use super::mvcc::Status;
use super::wal::{Lsn, Record, Wal, WalEntry};

/// The checkpoint file, beside the log.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// PostgreSQL's page size, the unit `buffers_checkpoint` counts in.
const PAGE_BYTES: u64 = 8192;

/// What `pg_stat_bgwriter` reports, and when the next timed checkpoint is due.
#[derive(Debug, Clone)]
pub struct Stats {
    /// `checkpoints_timed`: started because `checkpoint_timeout` passed.
    pub timed: u64,
    /// `checkpoints_req`: asked for (CHECKPOINT, or the log grew past `max_wal_size`).
    pub requested: u64,
    /// `checkpoint_write_time` and `checkpoint_sync_time`, in milliseconds.
    pub write_ms: f64,
    pub sync_ms: f64,
    /// `buffers_checkpoint`: 8 kB pages written by checkpoints.
    pub buffers: u64,
    pub stats_reset: SystemTime,
    /// When the last checkpoint (or start-up) happened: `checkpoint_timeout` counts from it.
    pub last: Instant,
    /// The redo LSN of the last checkpoint (`pg_control_checkpoint()`'s `redo_lsn`).
    pub redo: Lsn,
    /// `<data-dir>/pg_wal/checkpoint`; `None` under `--ephemeral`.
    pub path: Option<PathBuf>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            timed: 0,
            requested: 0,
            write_ms: 0.0,
            sync_ms: 0.0,
            buffers: 0,
            stats_reset: SystemTime::now(),
            last: Instant::now(),
            redo: Lsn(0),
            path: None,
        }
    }
}

/// Why a checkpoint is taken: PostgreSQL counts the two kinds apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `checkpoint_timeout` passed.
    Timed,
    /// CHECKPOINT, or the log outgrew `max_wal_size`.
    Requested,
    /// The end of recovery at start-up (not counted, as the counters start there).
    Startup,
}

/// Reads `<wal_dir>/checkpoint`: its records (to be replayed before the log's) and its redo LSN.
/// No file: nothing, and the whole log replays.
pub fn load(wal_dir: &Path) -> std::io::Result<(Vec<Record>, Lsn)> {
    let path = wal_dir.join(CHECKPOINT_FILE);
    if !path.exists() {
        return Ok((Vec::new(), Lsn(0)));
    }
    let (_, records) = Wal::open(&path)?;
    let bad = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {why}", path.display()));
    let first = records.first().ok_or_else(|| bad("empty checkpoint".into()))?;
    match WalEntry::decode(&first.payload) {
        Ok(WalEntry::Checkpoint { redo }) => Ok((records, Lsn(redo))),
        other => Err(bad(format!("does not start with a checkpoint record: {other:?}"))),
    }
}

/// Takes a checkpoint (see the module header). Under `--ephemeral` only the counters move.
pub fn run(db: &mut Database, cause: Cause) -> std::io::Result<()> {
    let started = Instant::now();
    match cause {
        Cause::Timed => db.checkpoints.timed += 1,
        Cause::Requested => db.checkpoints.requested += 1,
        Cause::Startup => {}
    }
    db.checkpoints.last = started;
    let (Some(path), Some(wal)) = (db.checkpoints.path.clone(), db.wal.as_mut()) else { return Ok(()) };
    // A timed checkpoint with nothing logged since the last one has nothing to do (PostgreSQL
    // skips it too, and counts it all the same).
    if cause == Cause::Timed && wal.current_lsn() == wal.start_lsn() {
        return Ok(());
    }
    // Everything appended so far is reflected in the tables: commits append under the lock.
    wal.flush(false)?;
    let redo = wal.current_lsn();
    let image = super::wal::encode_log(payloads(db, redo));
    let written = Instant::now();
    super::wal::write_file_atomically(&path, &image)?;
    let synced = Instant::now();
    let wal = db.wal.as_mut().expect("checked above");
    wal.reset_after_checkpoint()?;
    let stats = &mut db.checkpoints;
    stats.redo = redo;
    stats.buffers += (image.len() as u64).div_ceil(PAGE_BYTES);
    // PostgreSQL's write phase writes the pages and its sync phase fsyncs them; here building
    // the image is the write phase and putting the file in place (write, fsync, rename) the sync.
    stats.write_ms += (written - started).as_secs_f64() * 1000.0;
    stats.sync_ms += (synced - written).as_secs_f64() * 1000.0;
    tracing::debug!(redo = %redo, bytes = image.len(), ?cause, "checkpoint complete");
    Ok(())
}

/// The checkpoint file's records: the redo mark, the DDL history, every live row, a commit.
fn payloads(db: &Database, redo: Lsn) -> Vec<Vec<u8>> {
    const BOOTSTRAP: u32 = 1;
    let mut out = vec![WalEntry::Checkpoint { redo: redo.0 }.encode()];
    out.extend(db.ddl_log.iter().map(WalEntry::encode));
    for (name, t) in db.tables.iter().filter(|(_, t)| t.sequence > 0) {
        out.push(WalEntry::Sequence { table: name.clone(), value: t.sequence }.encode());
    }
    // Committed, or written and waiting for the group fsync (see the module header).
    let done = |x| db.tx.status(x) == Status::Committed || db.flushing.contains(&x);
    for (name, t) in &db.tables {
        for (ctid, v) in t.heap.all() {
            let deleted = v.xmax != 0 && !v.lock_only && done(v.xmax);
            if !done(v.xmin) || deleted {
                continue;
            }
            let row = v.row.iter().map(|d| d.to_text().map(String::into_bytes)).collect();
            out.push(WalEntry::Insert { table: name.clone(), ctid, xid: BOOTSTRAP, cid: 0, row }.encode());
        }
    }
    out.push(WalEntry::Commit { xid: BOOTSTRAP }.encode());
    out
}

/// The checkpoint due at `now`, if any: timed once `checkpoint_timeout` has passed since the
/// last one, requested once the log holds more than `max_wal_size` bytes.
pub fn due(db: &Database, now: Instant, timeout: Duration, max_wal_bytes: u64) -> Option<Cause> {
    let wal_bytes = db.wal.as_ref().map_or(0, |w| w.current_lsn().0 - w.start_lsn().0);
    if wal_bytes > max_wal_bytes {
        Some(Cause::Requested)
    } else if now.duration_since(db.checkpoints.last) >= timeout {
        Some(Cause::Timed)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::exec::{self, Output, Session};

    fn q(db: &mut Database, s: &mut Session, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut rows = Vec::new();
        for stmt in exec::parse(sql).unwrap() {
            match exec::execute(db, s, &stmt) {
                Ok(Output::Rows { rows: r, .. }) => {
                    rows = r.iter().map(|r| r.iter().map(|d| d.to_text()).collect()).collect();
                }
                Ok(_) => {}
                Err(_) => panic!("{sql} failed"),
            }
        }
        rows
    }

    /// A database logging to `dir`, as the engine opens it: checkpoint, then the log after it.
    fn open(dir: &Path) -> Database {
        let (mut records, redo) = load(dir).unwrap();
        let (wal, logged) = Wal::open(&dir.join("wal.log")).unwrap();
        records.extend(logged.into_iter().filter(|r| r.lsn >= redo));
        let mut db = Database::default();
        exec::replay(&mut db, &records).unwrap();
        db.wal = Some(wal);
        db.checkpoints.path = Some(dir.join(CHECKPOINT_FILE));
        db
    }

    #[test]
    fn the_checkpoint_and_the_log_after_it_give_back_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        let mut s = Session::default();
        q(&mut db, &mut s, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        q(&mut db, &mut s, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)");
        q(&mut db, &mut s, "UPDATE t SET v = 'B' WHERE id = 2");
        q(&mut db, &mut s, "ALTER TABLE t ADD COLUMN n int DEFAULT 7");
        // A transaction still open at the checkpoint: its row is not in it, and its later
        // commit (logged after the checkpoint) brings it.
        let mut other = Session::default();
        q(&mut db, &mut other, "BEGIN");
        q(&mut db, &mut other, "INSERT INTO t VALUES (4, 'open')");
        let redo = db.wal.as_ref().unwrap().current_lsn();
        run(&mut db, Cause::Requested).unwrap();
        assert_eq!(db.checkpoints.redo, redo);
        assert_eq!(db.wal.as_ref().unwrap().start_lsn(), redo, "the log starts at the redo LSN");
        q(&mut db, &mut other, "COMMIT");
        q(&mut db, &mut s, "DELETE FROM t WHERE id = 1");
        q(&mut db, &mut s, "UPDATE t SET n = n + 1 WHERE id = 3");
        let all = "SELECT id, v, n FROM t ORDER BY id";
        let expected = q(&mut db, &mut s, all);
        assert_eq!(expected.len(), 3);
        drop(db); // as a crash: nothing more is flushed
        let mut again = open(dir.path());
        assert_eq!(q(&mut again, &mut Session::default(), all), expected);
        // A second checkpoint over the replayed state, and once more.
        run(&mut again, Cause::Timed).unwrap();
        drop(again);
        let mut third = open(dir.path());
        assert_eq!(q(&mut third, &mut Session::default(), all), expected);
    }

    #[test]
    fn a_crash_between_checkpoint_and_log_reset_replays_each_change_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        let mut s = Session::default();
        q(&mut db, &mut s, "CREATE TABLE t (id int)");
        q(&mut db, &mut s, "INSERT INTO t VALUES (1), (2)");
        // Step 1 only: the checkpoint file is in place, the old log is still whole.
        let redo = db.wal.as_mut().unwrap().current_lsn();
        let image = crate::sql::wal::encode_log(payloads(&db, redo));
        crate::sql::wal::write_file_atomically(&dir.path().join(CHECKPOINT_FILE), &image).unwrap();
        q(&mut db, &mut s, "INSERT INTO t VALUES (3)");
        drop(db);
        let mut again = open(dir.path());
        let rows = q(&mut again, &mut Session::default(), "SELECT count(*), sum(id) FROM t");
        assert_eq!(rows, vec![vec![Some("3".to_string()), Some("6".to_string())]]);
    }

    #[test]
    fn checkpoints_fall_due_by_time_and_by_log_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        let start = db.checkpoints.last;
        let timeout = Duration::from_secs(300);
        assert_eq!(due(&db, start + Duration::from_secs(299), timeout, 1 << 30), None);
        assert_eq!(due(&db, start + timeout, timeout, 1 << 30), Some(Cause::Timed));
        q(&mut db, &mut Session::default(), "CREATE TABLE t (id int)");
        assert_eq!(due(&db, start, timeout, 10), Some(Cause::Requested), "the log is past 10 bytes");
        run(&mut db, Cause::Requested).unwrap();
        assert_eq!(due(&db, db.checkpoints.last, timeout, 10), None, "the log starts afresh");
        // A timed checkpoint with nothing new is counted and skipped.
        let buffers = db.checkpoints.buffers;
        run(&mut db, Cause::Timed).unwrap();
        assert_eq!((db.checkpoints.timed, db.checkpoints.requested, db.checkpoints.buffers), (1, 1, buffers));
    }
}
