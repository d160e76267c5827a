//! The WAL's views: `pg_stat_bgwriter` (checkpoint counters), `pg_ls_waldir()` (the log's files),
//! `pg_walfile_name()`, and `pg_settings` with the WAL and checkpoint settings.
//!
//! ```text
//!   sql::checkpoint::Stats ─▶ pg_stat_bgwriter   checkpoints_timed / _req, write / sync time,
//!                                                buffers_checkpoint (checkpoint file in 8 kB pages)
//!   Wal start..current     ─▶ pg_ls_waldir()     the 16 MB segment names the range spans
//!   SETTINGS (below)       ─▶ pg_settings, SHOW  PostgreSQL 15's rows, values as terrarium runs
//! ```
//!
//! terrarium keeps its log in one file, `pg_wal/wal.log`, rather than PostgreSQL's 16 MB segment
//! files. `pg_ls_waldir()` shows the log as PostgreSQL would name it: one row per 16 MB segment
//! the live part of the log (from the last checkpoint's redo LSN to the current LSN) touches,
//! named as `pg_walfile_name()` names it (timeline 1), with PostgreSQL's segment size (its
//! segments are created full size) and the log file's modification time.

use crate::sql::types::timestamptz_text;

use super::{i, t, Database, Datum, Row, N};

pub(super) const STAT_BGWRITER_COLUMNS: &str = "checkpoints_timed int8, checkpoints_req int8, \
     checkpoint_write_time float8, checkpoint_sync_time float8, buffers_checkpoint int8, buffers_clean int8, \
     maxwritten_clean int8, buffers_backend int8, buffers_backend_fsync int8, buffers_alloc int8, stats_reset tstz";

pub(super) const LS_WALDIR_COLUMNS: &str = "name text, size int8, modification tstz";

pub(super) const SETTINGS_COLUMNS: &str = "name text, setting text, unit text, category text, short_desc text, \
     extra_desc text, context text, vartype text, source text, min_val text, max_val text, enumvals text, \
     boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool";

/// PostgreSQL's WAL segment size: `pg_walfile_name()` and `pg_ls_waldir()` count in it.
pub const WAL_SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// `pg_stat_bgwriter`: one row. terrarium has no shared buffers, so the background writer and
/// backend buffer counters stay 0.
pub(super) fn stat_bgwriter_rows(db: &Database) -> Vec<Row> {
    let s = &db.checkpoints;
    let int = |n: u64| i(n as i64);
    vec![vec![
        int(s.timed),
        int(s.requested),
        Datum::Float(s.write_ms.round()),
        Datum::Float(s.sync_ms.round()),
        int(s.buffers),
        int(0),
        int(0),
        int(0),
        int(0),
        int(0),
        t(&timestamptz_text(s.stats_reset)),
    ]]
}

/// `pg_walfile_name(lsn)`: the segment file holding the byte before `lsn` (an LSN is where
/// writing ends, so one on a segment boundary names the segment just filled, as PostgreSQL's
/// XLByteToPrevSeg does), named as PostgreSQL names it on timeline 1.
pub fn walfile_name(lsn: u64) -> String {
    segment_name(lsn.wrapping_sub(1) / WAL_SEGMENT_BYTES)
}

/// A segment's file name: `TTTTTTTTXXXXXXXXYYYYYYYY`, the timeline, then the segment number in
/// two parts of 256 segments of 16 MB per 4 GB "xlogid".
fn segment_name(segment: u64) -> String {
    let per_id = 0x1_0000_0000 / WAL_SEGMENT_BYTES;
    format!("{:08X}{:08X}{:08X}", 1, segment / per_id, segment % per_id)
}

/// `pg_ls_waldir()`: see the module header. Empty under `--ephemeral`, which writes no log.
pub(super) fn ls_waldir_rows(db: &Database) -> Vec<Row> {
    let (Some(wal), Some(path)) = (db.wal.as_ref(), db.checkpoints.path.as_ref()) else { return Vec::new() };
    let log = path.with_file_name("wal.log");
    let modified = std::fs::metadata(&log).and_then(|m| m.modified()).ok();
    let first = wal.start_lsn().0 / WAL_SEGMENT_BYTES;
    let last = wal.current_lsn().0 / WAL_SEGMENT_BYTES;
    (first..=last)
        .map(|seg| {
            vec![
                t(&segment_name(seg)),
                i(WAL_SEGMENT_BYTES as i64),
                modified.map(|m| t(&timestamptz_text(m))).unwrap_or(N),
            ]
        })
        .collect()
}

/// One row of `pg_settings`, as PostgreSQL 15 reports it with its defaults.
struct Setting {
    name: &'static str,
    /// What SHOW prints (the value with its unit folded in).
    shown: &'static str,
    setting: &'static str,
    unit: Option<&'static str>,
    category: &'static str,
    short_desc: &'static str,
    extra_desc: Option<&'static str>,
    context: &'static str,
    vartype: &'static str,
    min_val: Option<&'static str>,
    max_val: Option<&'static str>,
    enumvals: Option<&'static str>,
    boot_val: &'static str,
    reset_val: &'static str,
}

/// The WAL, checkpoint and replication settings. Each is what terrarium does: the log is
/// fdatasynced at commit (`fsync`, `wal_sync_method`), checkpoints come every 5 minutes or past
/// 1 GB of log, group commit needs no `commit_delay`. Only `synchronous_commit` can be SET.
const SETTINGS: &[Setting] = &[
    Setting {
        name: "archive_mode",
        shown: "off",
        setting: "off",
        unit: None,
        category: "Write-Ahead Log / Archiving",
        short_desc: "Allows archiving of WAL files using archive_command.",
        extra_desc: None,
        context: "postmaster",
        vartype: "enum",
        min_val: None,
        max_val: None,
        enumvals: Some("{always,on,off}"),
        boot_val: "off",
        reset_val: "off",
    },
    Setting {
        name: "checkpoint_completion_target",
        shown: "0.9",
        setting: "0.9",
        unit: None,
        category: "Write-Ahead Log / Checkpoints",
        short_desc: "Time spent flushing dirty buffers during checkpoint, as fraction of checkpoint interval.",
        extra_desc: None,
        context: "sighup",
        vartype: "real",
        min_val: Some("0"),
        max_val: Some("1"),
        enumvals: None,
        boot_val: "0.9",
        reset_val: "0.9",
    },
    Setting {
        name: "checkpoint_flush_after",
        shown: "256kB",
        setting: "32",
        unit: Some("8kB"),
        category: "Write-Ahead Log / Checkpoints",
        short_desc: "Number of pages after which previously performed writes are flushed to disk.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("256"),
        enumvals: None,
        boot_val: "32",
        reset_val: "32",
    },
    Setting {
        name: "checkpoint_timeout",
        shown: "5min",
        setting: "300",
        unit: Some("s"),
        category: "Write-Ahead Log / Checkpoints",
        short_desc: "Sets the maximum time between automatic WAL checkpoints.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("30"),
        max_val: Some("86400"),
        enumvals: None,
        boot_val: "300",
        reset_val: "300",
    },
    Setting {
        name: "checkpoint_warning",
        shown: "30s",
        setting: "30",
        unit: Some("s"),
        category: "Write-Ahead Log / Checkpoints",
        short_desc: "Sets the maximum time before warning if checkpoints triggered by WAL volume happen too frequently.",
        extra_desc: Some("Write a message to the server log if checkpoints caused by the filling of WAL segment files happen more frequently than this amount of time. Zero turns off the warning."),
        context: "sighup",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "30",
        reset_val: "30",
    },
    Setting {
        name: "commit_delay",
        shown: "0",
        setting: "0",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Sets the delay in microseconds between transaction commit and flushing WAL to disk.",
        extra_desc: None,
        context: "superuser",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("100000"),
        enumvals: None,
        boot_val: "0",
        reset_val: "0",
    },
    Setting {
        name: "commit_siblings",
        shown: "5",
        setting: "5",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Sets the minimum number of concurrent open transactions required before performing commit_delay.",
        extra_desc: None,
        context: "user",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("1000"),
        enumvals: None,
        boot_val: "5",
        reset_val: "5",
    },
    Setting {
        name: "fsync",
        shown: "on",
        setting: "on",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Forces synchronization of updates to disk.",
        extra_desc: Some("The server will use the fsync() system call in several places to make sure that updates are physically written to disk. This ensures that a database cluster will recover to a consistent state after an operating system or hardware crash."),
        context: "sighup",
        vartype: "bool",
        min_val: None,
        max_val: None,
        enumvals: None,
        boot_val: "on",
        reset_val: "on",
    },
    Setting {
        name: "full_page_writes",
        shown: "on",
        setting: "on",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Writes full pages to WAL when first modified after a checkpoint.",
        extra_desc: Some("A page write in process during an operating system crash might be only partially written to disk.  During recovery, the row changes stored in WAL are not enough to recover.  This option writes pages when first modified after a checkpoint to WAL so full recovery is possible."),
        context: "sighup",
        vartype: "bool",
        min_val: None,
        max_val: None,
        enumvals: None,
        boot_val: "on",
        reset_val: "on",
    },
    Setting {
        name: "max_wal_senders",
        shown: "10",
        setting: "10",
        unit: None,
        category: "Replication / Sending Servers",
        short_desc: "Sets the maximum number of simultaneously running WAL sender processes.",
        extra_desc: None,
        context: "postmaster",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("262143"),
        enumvals: None,
        boot_val: "10",
        reset_val: "10",
    },
    Setting {
        name: "max_wal_size",
        shown: "1GB",
        setting: "1024",
        unit: Some("MB"),
        category: "Write-Ahead Log / Checkpoints",
        short_desc: "Sets the WAL size that triggers a checkpoint.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("2"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "1024",
        reset_val: "1024",
    },
    Setting {
        name: "min_wal_size",
        shown: "80MB",
        setting: "80",
        unit: Some("MB"),
        category: "Write-Ahead Log / Checkpoints",
        short_desc: "Sets the minimum size to shrink the WAL to.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("2"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "80",
        reset_val: "80",
    },
    Setting {
        name: "synchronous_commit",
        shown: "on",
        setting: "on",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Sets the current transaction's synchronization level.",
        extra_desc: None,
        context: "user",
        vartype: "enum",
        min_val: None,
        max_val: None,
        enumvals: Some("{local,remote_write,remote_apply,on,off}"),
        boot_val: "on",
        reset_val: "on",
    },
    Setting {
        name: "wal_block_size",
        shown: "8192",
        setting: "8192",
        unit: None,
        category: "Preset Options",
        short_desc: "Shows the block size in the write ahead log.",
        extra_desc: None,
        context: "internal",
        vartype: "integer",
        min_val: Some("8192"),
        max_val: Some("8192"),
        enumvals: None,
        boot_val: "8192",
        reset_val: "8192",
    },
    Setting {
        name: "wal_buffers",
        shown: "4MB",
        setting: "512",
        unit: Some("8kB"),
        category: "Write-Ahead Log / Settings",
        short_desc: "Sets the number of disk-page buffers in shared memory for WAL.",
        extra_desc: None,
        context: "postmaster",
        vartype: "integer",
        min_val: Some("-1"),
        max_val: Some("262143"),
        enumvals: None,
        boot_val: "-1",
        reset_val: "512",
    },
    Setting {
        name: "wal_compression",
        shown: "off",
        setting: "off",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Compresses full-page writes written in WAL file with specified method.",
        extra_desc: None,
        context: "superuser",
        vartype: "enum",
        min_val: None,
        max_val: None,
        enumvals: Some("{pglz,lz4,zstd,on,off}"),
        boot_val: "off",
        reset_val: "off",
    },
    Setting {
        name: "wal_decode_buffer_size",
        shown: "512kB",
        setting: "524288",
        unit: Some("B"),
        category: "Write-Ahead Log / Recovery",
        short_desc: "Buffer size for reading ahead in the WAL during recovery.",
        extra_desc: Some("Maximum distance to read ahead in the WAL to prefetch referenced data blocks."),
        context: "postmaster",
        vartype: "integer",
        min_val: Some("65536"),
        max_val: Some("1073741823"),
        enumvals: None,
        boot_val: "524288",
        reset_val: "524288",
    },
    Setting {
        name: "wal_init_zero",
        shown: "on",
        setting: "on",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Writes zeroes to new WAL files before first use.",
        extra_desc: None,
        context: "superuser",
        vartype: "bool",
        min_val: None,
        max_val: None,
        enumvals: None,
        boot_val: "on",
        reset_val: "on",
    },
    Setting {
        name: "wal_keep_size",
        shown: "0",
        setting: "0",
        unit: Some("MB"),
        category: "Replication / Sending Servers",
        short_desc: "Sets the size of WAL files held for standby servers.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "0",
        reset_val: "0",
    },
    Setting {
        name: "wal_level",
        shown: "replica",
        setting: "replica",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Sets the level of information written to the WAL.",
        extra_desc: None,
        context: "postmaster",
        vartype: "enum",
        min_val: None,
        max_val: None,
        enumvals: Some("{minimal,replica,logical}"),
        boot_val: "replica",
        reset_val: "replica",
    },
    Setting {
        name: "wal_log_hints",
        shown: "off",
        setting: "off",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Writes full pages to WAL when first modified after a checkpoint, even for a non-critical modification.",
        extra_desc: None,
        context: "postmaster",
        vartype: "bool",
        min_val: None,
        max_val: None,
        enumvals: None,
        boot_val: "off",
        reset_val: "off",
    },
    Setting {
        name: "wal_receiver_timeout",
        shown: "1min",
        setting: "60000",
        unit: Some("ms"),
        category: "Replication / Standby Servers",
        short_desc: "Sets the maximum wait time to receive data from the sending server.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "60000",
        reset_val: "60000",
    },
    Setting {
        name: "wal_recycle",
        shown: "on",
        setting: "on",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Recycles WAL files by renaming them.",
        extra_desc: None,
        context: "superuser",
        vartype: "bool",
        min_val: None,
        max_val: None,
        enumvals: None,
        boot_val: "on",
        reset_val: "on",
    },
    Setting {
        name: "wal_segment_size",
        shown: "16MB",
        setting: "16777216",
        unit: Some("B"),
        category: "Preset Options",
        short_desc: "Shows the size of write ahead log segments.",
        extra_desc: None,
        context: "internal",
        vartype: "integer",
        min_val: Some("1048576"),
        max_val: Some("1073741824"),
        enumvals: None,
        boot_val: "16777216",
        reset_val: "16777216",
    },
    Setting {
        name: "wal_skip_threshold",
        shown: "2MB",
        setting: "2048",
        unit: Some("kB"),
        category: "Write-Ahead Log / Settings",
        short_desc: "Minimum size of new file to fsync instead of writing WAL.",
        extra_desc: None,
        context: "user",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "2048",
        reset_val: "2048",
    },
    Setting {
        name: "wal_sync_method",
        shown: "fdatasync",
        setting: "fdatasync",
        unit: None,
        category: "Write-Ahead Log / Settings",
        short_desc: "Selects the method used for forcing WAL updates to disk.",
        extra_desc: None,
        context: "sighup",
        vartype: "enum",
        min_val: None,
        max_val: None,
        enumvals: Some("{fsync,fdatasync,open_sync,open_datasync}"),
        boot_val: "fdatasync",
        reset_val: "fdatasync",
    },
    Setting {
        name: "wal_writer_delay",
        shown: "200ms",
        setting: "200",
        unit: Some("ms"),
        category: "Write-Ahead Log / Settings",
        short_desc: "Time between WAL flushes performed in the WAL writer.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("1"),
        max_val: Some("10000"),
        enumvals: None,
        boot_val: "200",
        reset_val: "200",
    },
    Setting {
        name: "wal_writer_flush_after",
        shown: "1MB",
        setting: "128",
        unit: Some("8kB"),
        category: "Write-Ahead Log / Settings",
        short_desc: "Amount of WAL written out by WAL writer that triggers a flush.",
        extra_desc: None,
        context: "sighup",
        vartype: "integer",
        min_val: Some("0"),
        max_val: Some("2147483647"),
        enumvals: None,
        boot_val: "128",
        reset_val: "128",
    },
];

/// What SHOW answers for one of these settings (`None`: not one of them).
pub fn show(name: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|s| s.name == name).map(|s| s.shown)
}

/// `pg_settings`: the settings above, and `synchronous_commit` as the session has it.
pub(super) fn settings_rows(db: &Database) -> Vec<Row> {
    let session = db.catalog.borrow().session_settings.clone();
    let text = |v: Option<&str>| v.map(t).unwrap_or(N);
    SETTINGS
        .iter()
        .map(|s| {
            let set = session.get(s.name).map(|v| v.trim_matches('\'').to_string());
            vec![
                t(s.name),
                t(set.as_deref().unwrap_or(s.setting)),
                text(s.unit),
                t(s.category),
                t(s.short_desc),
                text(s.extra_desc),
                t(s.context),
                t(s.vartype),
                t(if set.is_some() { "session" } else { "default" }),
                text(s.min_val),
                text(s.max_val),
                text(s.enumvals),
                t(s.boot_val),
                t(s.reset_val),
                N,
                N,
                Datum::Bool(false),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_follow_postgresql() {
        // Checked against PostgreSQL 15's pg_walfile_name().
        assert_eq!(walfile_name(0x0100_0028), "000000010000000000000001");
        assert_eq!(walfile_name(0x1_2300_0000), "000000010000000100000022");
        assert_eq!(walfile_name(1), "000000010000000000000000");
        assert_eq!(walfile_name(0), "00000001FFFFFFFF000000FF");
        assert_eq!(walfile_name(0xFF_FFFF), "000000010000000000000000");
    }
}
