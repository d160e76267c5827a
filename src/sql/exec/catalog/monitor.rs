//! The monitoring views and functions: `pg_stat_activity`, `pg_locks`, `pg_blocking_pids()`,
//! `pg_backend_pid()`, `pg_cancel_backend()`, built from the engine's session registry
//! ([`crate::sql::activity`]) and the row versions.
//!
//! ```text
//!   registry: per session  state, query, times, wait, transaction, relation locks
//!   heaps:    which running transactions wrote or locked a row (xmin / xmax)
//!        │
//!        ├─▶ pg_stat_activity: one row per session (backend_xid when its transaction wrote,
//!        │   or waits to write), kept for the rest of the reader's transaction, as PostgreSQL does
//!        ├─▶ pg_locks: per session its virtualxid, its relation locks (and their indexes'), its
//!        │   transactionid locks, and the ShareLock it waits for (granted = false)
//!        └─▶ pg_blocking_pids(pid): the session running the transaction pid waits for
//! ```
//!
//! PostgreSQL gives a transaction an xid only when it first writes or locks a row; terrarium
//! gives every transaction one at its start. What these views show follows PostgreSQL: a
//! transaction "has" its xid once one of its row versions carries it (or while it waits to
//! write a row another holds).

use std::collections::BTreeSet;

use crate::sql::activity::{Backend, State, Wait};
use crate::sql::mvcc::{Status, Xid};
use crate::sql::types::timestamptz_text;

use super::{b, i, o, oid_for, relations, t, t_name, user_tables, Database, Datum, Kind, Row, N};

pub(super) const STAT_ACTIVITY_COLUMNS: &str = "datid oid, datname name, pid int4, leader_pid int4, usesysid oid, \
     usename name, application_name text, client_addr text, client_hostname text, client_port int4, \
     backend_start tstz, xact_start tstz, query_start tstz, state_change tstz, wait_event_type text, \
     wait_event text, state text, backend_xid xid, backend_xmin xid, query_id int8, query text, backend_type text";

pub(super) const STAT_DATABASE_COLUMNS: &str = "datid oid, datname name, numbackends int4, xact_commit int8, \
     xact_rollback int8, blks_read int8, blks_hit int8, tup_returned int8, tup_fetched int8, tup_inserted int8, \
     tup_updated int8, tup_deleted int8, conflicts int8, temp_files int8, temp_bytes int8, deadlocks int8, \
     checksum_failures int8, checksum_last_failure tstz, blk_read_time float8, blk_write_time float8, \
     session_time float8, active_time float8, idle_in_transaction_time float8, sessions int8, \
     sessions_abandoned int8, sessions_fatal int8, sessions_killed int8, stats_reset tstz";

pub(super) const LOCKS_COLUMNS: &str = "locktype text, database oid, relation oid, page int4, tuple int2, \
     virtualxid text, transactionid xid, classid oid, objid oid, objsubid int2, virtualtransaction text, pid int4, \
     mode text, granted bool, fastpath bool, waitstart tstz";

fn backends(db: &Database) -> Vec<Backend> {
    let activity = db.catalog.borrow().activity.clone();
    activity.map(|a| a.backends()).unwrap_or_default()
}

fn me(db: &Database) -> i32 {
    db.catalog.borrow().pid
}

/// The OID of the database a session connected to (PostgreSQL's three have fixed ones).
fn database_oid(db: &Database, name: &str) -> u32 {
    match name {
        "postgres" => 5,
        "template1" => 1,
        "template0" => 4,
        other => oid_for(db, &format!("db:{other}")),
    }
}

fn role_oid(db: &Database, name: &str) -> u32 {
    match name {
        "postgres" => super::OID_BOOTSTRAP_SUPERUSER,
        other => oid_for(db, &format!("role:{other}")),
    }
}

fn time(t: Option<std::time::SystemTime>) -> Datum {
    t.map(|t| Datum::Text(timestamptz_text(t))).unwrap_or(N)
}

/// The running xids that some row version carries as its creator or deleter (or locker).
fn xids_in_rows(db: &Database) -> BTreeSet<Xid> {
    let mut out = BTreeSet::new();
    for table in user_tables(db) {
        for (_, v) in table.heap.all() {
            for x in [v.xmin, v.xmax] {
                if x != 0 && db.tx.is_active(x) {
                    out.insert(x);
                }
            }
        }
    }
    // FOR SHARE lockers too: PostgreSQL gives a transaction an xid when it locks a row.
    let sharers = db.share_locks.values().flat_map(|t| t.values()).flatten();
    out.extend(sharers.copied().filter(|x| db.tx.is_active(*x)));
    out
}

/// The xids a session holds in PostgreSQL's sense: its top-level transaction's and each live
/// subtransaction's that wrote. Empty while the transaction has written nothing.
fn held_xids(db: &Database, written: &BTreeSet<Xid>, s: &Backend) -> Vec<Xid> {
    let waits_to_write = matches!(s.wait, Some(Wait::Lock { writes: true, .. }));
    let top = match (s.top, s.wait) {
        (Some(top), _) => top,
        (None, Some(Wait::Lock { attempt: Some(x), .. })) if waits_to_write => return vec![x],
        _ => return Vec::new(),
    };
    let mine: Vec<Xid> = written.iter().copied().filter(|x| db.tx.top(*x) == top).collect();
    if mine.is_empty() && !waits_to_write {
        return Vec::new();
    }
    // A rolled-back savepoint gives its xid up; the top level keeps its own.
    let mut out = vec![top];
    out.extend(mine.into_iter().filter(|x| *x != top && db.tx.status(*x) != Status::Aborted));
    out
}

/// `pg_stat_activity`: the client backends (PostgreSQL also lists its background processes,
/// which terrarium does not have).
pub(super) fn stat_activity_rows(db: &Database) -> Vec<Row> {
    let activity = db.catalog.borrow().activity.clone();
    let reader = me(db);
    let txn = db.current.map(|c| c.0);
    if let (Some(a), Some(x)) = (&activity, txn) {
        if let Some(rows) = a.cached_view(reader, x) {
            return rows;
        }
    }
    let all = backends(db);
    let written = xids_in_rows(db);
    let held: Vec<Vec<Xid>> = all.iter().map(|s| held_xids(db, &written, s)).collect();
    // A running statement's snapshot reaches back to the oldest transaction holding an xid.
    let oldest = held.iter().filter_map(|h| h.first().copied()).min().unwrap_or_else(|| db.tx.next_xid());
    let mut rows = Vec::new();
    for (s, held) in all.iter().zip(&held) {
        let (wait_type, wait_event) = match (s.state, s.wait) {
            (State::Active, Some(Wait::Lock { .. })) => (t("Lock"), t("transactionid")),
            (State::Active, Some(Wait::Sleep)) => (t("Timeout"), t("PgSleep")),
            (State::Active, None) => (N, N),
            // Idle sessions, and COPY FROM STDIN, wait for the client.
            _ => (t("Client"), t("ClientRead")),
        };
        let xmin = match s.state {
            State::Active => Some(oldest),
            _ => s.snapshot_xmin,
        };
        let xid = |x: Option<Xid>| x.map(|x| i(i64::from(x))).unwrap_or(N);
        rows.push(vec![
            o(database_oid(db, &s.database)),
            t_name(&s.database),
            i(i64::from(s.pid)),
            N,
            o(role_oid(db, &s.user)),
            t_name(&s.user),
            t(&s.application_name),
            s.client.map(|c| t(&c.ip().to_string())).unwrap_or(N),
            N,
            i(s.client.map(|c| i64::from(c.port())).unwrap_or(-1)),
            time(Some(s.backend_start)),
            time(s.xact_start),
            time(s.query_start),
            time(Some(s.state_change)),
            wait_type,
            wait_event,
            t(s.state.name()),
            xid(held.first().copied()),
            xid(xmin),
            N,
            t(&s.query),
            t("client backend"),
        ]);
    }
    if let (Some(a), Some(x)) = (&activity, txn) {
        a.keep_view(reader, x, rows.clone());
    }
    rows
}

/// `pg_locks`: for each session in a transaction, the locks PostgreSQL would show.
pub(super) fn locks_rows(db: &Database) -> Vec<Row> {
    let written = xids_in_rows(db);
    let rels = relations(db);
    let mut rows = Vec::new();
    for s in backends(db) {
        if !s.in_transaction() {
            continue;
        }
        let vxid = format!("{}/{}", s.backend_id, s.local_xid.max(1));
        let pid = i(i64::from(s.pid));
        let lock = |locktype: &str, database: Datum, relation: Datum, xid: Datum, mode: &str, granted, fast| {
            let virtualxid = if locktype == "virtualxid" { t(&vxid) } else { N };
            vec![
                t(locktype),
                database,
                relation,
                N,
                N,
                virtualxid,
                xid,
                N,
                N,
                N,
                t(&vxid),
                pid.clone(),
                t(mode),
                b(granted),
                b(fast),
                N,
            ]
        };
        rows.push(lock("virtualxid", N, N, N, "ExclusiveLock", true, true));
        let dboid = o(database_oid(db, &s.database));
        let mut taken = s.relations.clone();
        taken.extend(s.statement_relations.iter().cloned());
        for (table, mode) in &taken {
            // A table and its indexes, locked in one mode (the planner opens every index).
            for r in rels.iter().filter(|r| r.table.name == *table && matches!(r.kind, Kind::Table | Kind::Index(_))) {
                rows.push(lock("relation", dboid.clone(), o(r.oid), N, mode.name(), true, true));
            }
        }
        for x in held_xids(db, &written, &s) {
            rows.push(lock("transactionid", N, N, i(i64::from(x)), "ExclusiveLock", true, false));
        }
        if let Some(Wait::Lock { xid, since, .. }) = s.wait {
            let mut row = lock("transactionid", N, N, i(i64::from(xid)), "ShareLock", false, false);
            row[15] = time(Some(since));
            rows.push(row);
        }
    }
    rows
}

/// `pg_blocking_pids(pid)`: the session running the transaction `pid` waits for, as an
/// `integer[]` in its text form (`{}` when it waits for nobody).
pub(super) fn blocking_pids(db: &Database, pid: i64) -> Datum {
    let activity = db.catalog.borrow().activity.clone();
    let holder = activity
        .and_then(|a| i32::try_from(pid).ok().and_then(|p| a.waits_for(p, |x| db.tx.top(x))))
        .and_then(|(_, holder)| holder);
    t(&match holder {
        Some(h) => format!("{{{h}}}"),
        None => "{}".to_string(),
    })
}

/// `pg_backend_pid()`: the process id BackendKeyData gave the session.
pub(super) fn backend_pid(db: &Database) -> Datum {
    i(i64::from(me(db)))
}

/// `pg_stat_clear_snapshot()`: drops the `pg_stat_activity` snapshot the transaction keeps.
pub(super) fn clear_snapshot(db: &Database) -> Datum {
    if let Some(a) = db.catalog.borrow().activity.clone() {
        a.forget_view(me(db));
    }
    t("")
}

/// `pg_cancel_backend(pid)`: true when a session has that pid (its running statement, if any,
/// then fails with 57014), false otherwise (PostgreSQL also warns that the pid is not a
/// PostgreSQL backend process).
pub(super) fn cancel_backend(db: &Database, pid: i64) -> Datum {
    let activity = db.catalog.borrow().activity.clone();
    b(activity.zip(i32::try_from(pid).ok()).is_some_and(|(a, p)| a.cancel(p)))
}

/// `pg_stat_database`: a row for shared objects (datid 0, no name) and one per database, with
/// the sessions connected to it and what they did: transactions committed and rolled back, rows
/// inserted, updated and deleted, deadlocks. terrarium has no buffers, temporary files or
/// checksums, so those counters are 0 (and block times 0); `tup_returned` / `tup_fetched` are not
/// counted (0).
pub(super) fn stat_database_rows(db: &Database) -> Vec<Row> {
    let sessions = backends(db);
    let zero = || i(0);
    let float0 = || Datum::Float(0.0);
    // Checksums are off (checksum_failures NULL) and the counters were never reset (stats_reset
    // NULL), as on a PostgreSQL cluster initialised without data checksums.
    let mut rows = vec![{
        let mut r = vec![o(0), N, i(0)];
        r.extend((0..13).map(|_| zero()));
        r.extend([N, N]);
        r.extend((0..5).map(|_| float0()));
        r.extend((0..4).map(|_| zero()));
        r.push(N);
        r
    }];
    for (oid, name, _, _, _) in super::databases(db) {
        let s = db.db_stats.get(&name).cloned().unwrap_or_default();
        let n = |v: u64| i(v as i64);
        let connected = sessions.iter().filter(|b| b.database == name).count() as i64;
        rows.push(vec![
            o(oid),
            t_name(&name),
            i(connected),
            n(s.xact_commit),
            n(s.xact_rollback),
            zero(),
            zero(),
            zero(),
            zero(),
            n(s.tup_inserted),
            n(s.tup_updated),
            n(s.tup_deleted),
            zero(),
            zero(),
            zero(),
            n(s.deadlocks),
            N,
            N,
            Datum::Float(0.0),
            Datum::Float(0.0),
            Datum::Float(0.0),
            Datum::Float(0.0),
            Datum::Float(0.0),
            i(sessions.iter().filter(|b| b.database == name).count() as i64),
            zero(),
            zero(),
            zero(),
            N,
        ]);
    }
    rows
}
