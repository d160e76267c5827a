//! What every session is doing, kept by the engine and read by `pg_stat_activity`, `pg_locks`,
//! `pg_blocking_pids()`, `pg_cancel_backend()` and deadlock detection.
//!
//! ```text
//!  connect ───────────────▶ register: idle, query ''
//!  Query / Execute ───────▶ start_query: active, query text, query_start
//!    each statement ──────▶ statement_relations (the relation locks PostgreSQL would take)
//!    exec returns Wait ───▶ set_wait(Lock { xid }) ... set_wait(None) once it may go on
//!    exec returns ────────▶ after_statement: the transaction it is in now (relation locks
//!                            move into the transaction's, or go with it)
//!  ReadyForQuery ─────────▶ ready: idle / idle in transaction / idle in transaction (aborted)
//!  disconnect ────────────▶ remove
//! ```
//!
//! One registry serves the whole engine behind a mutex of its own. The engine never holds it
//! while taking the database lock (the catalogs read it while the database is locked), so the
//! two cannot deadlock.
//!
//! Row locks are not kept here: they live in the row versions (`xmax`), where the catalogs find
//! which transactions have written (and so, in PostgreSQL's terms, hold an xid).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use sqlparser::ast::{self, ObjectName, ObjectNamePart, Statement};

use super::mvcc::Xid;
use super::server::CancelFlag;
use super::types::Datum;

/// `pg_stat_activity.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Active,
    IdleInTransaction,
    IdleInTransactionAborted,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Active => "active",
            State::IdleInTransaction => "idle in transaction",
            State::IdleInTransactionAborted => "idle in transaction (aborted)",
        }
    }
}

/// What an active session waits for (`wait_event_type` / `wait_event`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    /// A row another transaction holds: the xid it waits for, since when, and whether the
    /// statement writes (PostgreSQL gives an UPDATE, DELETE or INSERT its xid before it waits; a
    /// SELECT … FOR UPDATE waits without one). A statement outside a block gives its
    /// transaction up while it waits and runs again in a new one; `attempt` is the xid it ran
    /// under, which stands for the xid PostgreSQL's waiter keeps.
    Lock { xid: Xid, since: SystemTime, writes: bool, attempt: Option<Xid> },
    /// `pg_sleep`.
    Sleep,
    /// COPY FROM STDIN waiting for the client's next data.
    ClientRead,
}

/// The table-level lock modes a statement takes, weakest first (`pg_locks.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
}

impl LockMode {
    pub fn name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
        }
    }
}

/// One client backend.
#[derive(Debug, Clone)]
pub struct Backend {
    pub pid: i32,
    /// PostgreSQL's backend id (its slot in the process array), the first half of a virtual
    /// transaction id: the smallest number no other session has.
    pub backend_id: u32,
    /// Counts the session's transactions: the second half of its virtual transaction id.
    pub local_xid: u32,
    pub database: String,
    pub user: String,
    /// From the startup packet; `SET application_name` replaces it.
    pub application_name: String,
    pub client: Option<SocketAddr>,
    pub backend_start: SystemTime,
    pub xact_start: Option<SystemTime>,
    pub query_start: Option<SystemTime>,
    pub state_change: SystemTime,
    pub state: State,
    /// The running statement's text, or the last one's when idle (`''` before the first).
    pub query: String,
    pub wait: Option<Wait>,
    /// The top-level transaction the session is in, if any.
    pub top: Option<Xid>,
    /// The oldest xid its transaction snapshot (REPEATABLE READ, SERIALIZABLE) still needs.
    pub snapshot_xmin: Option<Xid>,
    /// Relation locks of the transaction (held until it ends, as in PostgreSQL) ...
    pub relations: BTreeSet<(String, LockMode)>,
    /// ... and of the statement running now (they join the transaction's when it ends).
    pub statement_relations: BTreeSet<(String, LockMode)>,
    /// The running query's cancel flag, for `pg_cancel_backend`.
    pub cancel: Option<Arc<CancelFlag>>,
    /// `pg_stat_activity` as this session first read it in its current transaction: PostgreSQL
    /// keeps that snapshot until the transaction ends.
    pub view: Option<(Xid, Vec<Vec<Datum>>)>,
}

impl Backend {
    /// A session that has just connected: idle, no query yet.
    pub fn new(pid: i32, database: &str, user: &str, application_name: &str, client: Option<SocketAddr>) -> Backend {
        let now = SystemTime::now();
        Backend {
            pid,
            backend_id: 0,
            local_xid: 0,
            database: database.into(),
            user: user.into(),
            application_name: application_name.into(),
            client,
            backend_start: now,
            xact_start: None,
            query_start: None,
            state_change: now,
            state: State::Idle,
            query: String::new(),
            wait: None,
            top: None,
            snapshot_xmin: None,
            relations: BTreeSet::new(),
            statement_relations: BTreeSet::new(),
            cancel: None,
            view: None,
        }
    }

    /// Whether the session is inside a transaction (and so holds a virtual transaction id): a
    /// running statement always is.
    pub fn in_transaction(&self) -> bool {
        self.top.is_some() || self.state == State::Active
    }
}

/// The transaction a session is in after a statement, as [`Activity::after_statement`] and
/// [`Activity::ready`] want it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TxnInfo {
    pub top: Xid,
    pub started: SystemTime,
    pub snapshot_xmin: Option<Xid>,
    pub failed: bool,
}

/// The registry of sessions. Every statement updates its own session's entry several times (it
/// starts, it takes relation locks, it ends, the session goes idle), while the whole registry is
/// only read by the views and the deadlock search. So the map of sessions sits behind a
/// read-write lock that only connecting and disconnecting take for writing, and each entry has a
/// mutex of its own: sessions updating their entries never wait for each other. One mutex over
/// the whole map was the simpler alternative, and under pgbench's four clients it was contended
/// on every statement, each contention a futex sleep and wake-up.
#[derive(Debug, Default)]
pub struct Activity {
    backends: RwLock<BTreeMap<i32, Mutex<Backend>>>,
}

impl Activity {
    fn with<T>(&self, pid: i32, f: impl FnOnce(&mut Backend) -> T) -> Option<T> {
        let all = self.backends.read().expect("activity");
        let mut b = all.get(&pid)?.lock().expect("backend");
        Some(f(&mut b))
    }

    pub fn register(&self, mut backend: Backend) {
        let mut all = self.backends.write().expect("activity");
        let taken: BTreeSet<u32> = all.values().map(|b| b.lock().expect("backend").backend_id).collect();
        backend.backend_id = (1..).find(|n| !taken.contains(n)).unwrap_or(0);
        all.insert(backend.pid, Mutex::new(backend));
    }

    pub fn remove(&self, pid: i32) {
        self.backends.write().expect("activity").remove(&pid);
    }

    /// A Query or Execute begins: the session is active with this text.
    pub fn start_query(&self, pid: i32, text: &str, txn: Option<TxnInfo>, cancel: Arc<CancelFlag>) {
        let now = SystemTime::now();
        self.with(pid, |b| {
            b.state = State::Active;
            // The same text again (a prepared statement, a benchmark's loop) keeps its buffer.
            if b.query != text {
                b.query.clear();
                b.query.push_str(text);
            }
            b.query_start = Some(now);
            b.state_change = now;
            b.xact_start = Some(txn.map(|t| t.started).unwrap_or(now));
            b.wait = None;
            b.cancel = Some(cancel);
        });
    }

    /// The relation locks the statement about to run takes.
    pub fn statement_relations(&self, pid: i32, relations: BTreeSet<(String, LockMode)>) {
        self.with(pid, |b| b.statement_relations = relations);
    }

    /// A statement returned (done, failed, or to wait): the transaction the session is in now.
    /// Relation locks stay with a transaction that goes on and go with one that ended.
    pub fn after_statement(&self, pid: i32, txn: Option<TxnInfo>) {
        self.with(pid, |b| {
            let top = txn.map(|t| t.top);
            if top != b.top {
                b.relations.clear();
                b.view = None;
                if top.is_some() {
                    b.local_xid = b.local_xid.wrapping_add(1);
                }
            }
            b.top = top;
            b.snapshot_xmin = txn.and_then(|t| t.snapshot_xmin);
            if top.is_some() {
                let current = b.statement_relations.clone();
                b.relations.extend(current);
            }
        });
    }

    pub fn set_wait(&self, pid: i32, wait: Option<Wait>) {
        self.with(pid, |b| b.wait = wait);
    }

    /// ReadyForQuery: the session is idle, in a transaction or not.
    pub fn ready(&self, pid: i32, txn: Option<TxnInfo>) {
        let now = SystemTime::now();
        self.after_statement(pid, txn);
        self.with(pid, |b| {
            let state = match txn {
                None => State::Idle,
                Some(t) if t.failed => State::IdleInTransactionAborted,
                Some(_) => State::IdleInTransaction,
            };
            if state != b.state {
                b.state_change = now;
            }
            b.state = state;
            b.wait = None;
            b.statement_relations.clear();
            b.xact_start = txn.map(|t| t.started);
            if txn.is_none() {
                b.relations.clear();
            }
        });
    }

    pub fn set_application_name(&self, pid: i32, name: &str) {
        self.with(pid, |b| {
            if b.application_name != name {
                b.application_name = name.to_string();
            }
        });
    }

    /// Every session, by pid.
    pub fn backends(&self) -> Vec<Backend> {
        self.backends.read().expect("activity").values().map(|b| b.lock().expect("backend").clone()).collect()
    }

    /// The xid `pid` waits for, and the session running that transaction.
    pub fn waits_for(&self, pid: i32, top_of: impl Fn(Xid) -> Xid) -> Option<(Xid, Option<i32>)> {
        let all = self.backends.read().expect("activity");
        let Some(Wait::Lock { xid, .. }) = all.get(&pid)?.lock().expect("backend").wait else { return None };
        let top = top_of(xid);
        let holder =
            all.iter().find(|(p, b)| **p != pid && b.lock().expect("backend").top == Some(top)).map(|(p, _)| *p);
        Some((xid, holder))
    }

    /// `pg_stat_activity` as `pid` saw it earlier in transaction `top`, if it did.
    pub fn cached_view(&self, pid: i32, top: Xid) -> Option<Vec<Vec<Datum>>> {
        self.with(pid, |b| match &b.view {
            Some((x, rows)) if *x == top => Some(rows.clone()),
            _ => None,
        })
        .flatten()
    }

    pub fn keep_view(&self, pid: i32, top: Xid, rows: Vec<Vec<Datum>>) {
        self.with(pid, |b| b.view = Some((top, rows)));
    }

    /// `pg_stat_clear_snapshot()`: the next read of `pg_stat_activity` looks again.
    pub fn forget_view(&self, pid: i32) {
        self.with(pid, |b| b.view = None);
    }

    /// `pg_cancel_backend`: asks the session's running statement to stop. False when no session
    /// has that pid.
    pub fn cancel(&self, pid: i32) -> bool {
        self.with(pid, |b| {
            if let Some(flag) = &b.cancel {
                if b.state == State::Active {
                    flag.request();
                }
            }
        })
        .is_some()
    }
}

/// The relation locks PostgreSQL takes for a statement, by table name: RowExclusiveLock on the
/// table an INSERT, UPDATE, DELETE or COPY FROM changes, RowShareLock on the tables of a
/// SELECT … FOR UPDATE / FOR SHARE, AccessShareLock on every other table read. Names that are
/// not tables (a WITH query's, a catalog's) are left for the reader to drop.
pub fn statement_locks(stmt: &Statement) -> BTreeSet<(String, LockMode)> {
    let mut out = BTreeSet::new();
    let mut written: Option<String> = None;
    let mut read_mode = LockMode::AccessShare;
    match stmt {
        Statement::Insert(ins) => {
            if let ast::TableObject::TableName(n) = &ins.table {
                written = Some(table_name(n));
            }
        }
        Statement::Update(up) => {
            if let ast::TableFactor::Table { name, .. } = &up.table.relation {
                written = Some(table_name(name));
            }
        }
        Statement::Delete(del) => {
            let from = match &del.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            if let Some(ast::TableFactor::Table { name, .. }) = from.first().map(|t| &t.relation) {
                written = Some(table_name(name));
            }
        }
        Statement::Copy { source: ast::CopySource::Table { table_name: n, .. }, to, .. } => {
            let mode = if *to { LockMode::AccessShare } else { LockMode::RowExclusive };
            out.insert((table_name(n), mode));
            return out;
        }
        Statement::Query(q) if !q.locks.is_empty() => read_mode = LockMode::RowShare,
        Statement::Query(_) | Statement::Copy { .. } => {}
        _ => return out,
    }
    let mut first_written = written.is_some();
    let _ = ast::visit_relations(stmt, |n| {
        let name = table_name(n);
        // The changed table is visited first, as the statement's target; later mentions of it
        // (a subquery reading it) are reads.
        if first_written && written.as_deref() == Some(name.as_str()) {
            first_written = false;
            out.insert((name, LockMode::RowExclusive));
        } else {
            out.insert((name, read_mode));
        }
        ControlFlow::<()>::Continue(())
    });
    if let Some(w) = written {
        out.insert((w, LockMode::RowExclusive));
    }
    out
}

/// A relation's name as the executor stores tables: the last part, folded to lower case
/// unless quoted.
fn table_name(n: &ObjectName) -> String {
    n.0.iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) if i.quote_style.is_some() => Some(i.value.clone()),
            ObjectNamePart::Identifier(i) => Some(i.value.to_lowercase()),
            _ => None,
        })
        .next_back()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locks(sql: &str) -> Vec<(String, &'static str)> {
        let stmt = crate::sql::exec::parse(sql).unwrap().pop().unwrap();
        statement_locks(&stmt).into_iter().map(|(t, m)| (t, m.name())).collect()
    }

    #[test]
    fn statements_take_postgresql_relation_locks() {
        assert_eq!(
            locks("SELECT * FROM acct a JOIN b ON true"),
            [("acct".into(), "AccessShareLock"), ("b".into(), "AccessShareLock")]
        );
        assert_eq!(
            locks("UPDATE Acct SET v = 1 WHERE id IN (SELECT id FROM other)"),
            [("acct".into(), "RowExclusiveLock"), ("other".into(), "AccessShareLock")]
        );
        assert_eq!(locks("SELECT * FROM acct FOR UPDATE"), [("acct".into(), "RowShareLock")]);
        assert_eq!(locks("DELETE FROM acct"), [("acct".into(), "RowExclusiveLock")]);
        assert_eq!(
            locks("INSERT INTO acct SELECT * FROM acct"),
            [("acct".into(), "AccessShareLock"), ("acct".into(), "RowExclusiveLock")]
        );
        assert_eq!(locks("COPY acct FROM STDIN"), [("acct".into(), "RowExclusiveLock")]);
        assert!(locks("BEGIN").is_empty());
    }

    #[test]
    fn states_follow_the_session() {
        let a = Activity::default();
        a.register(Backend::new(7, "db", "u", "app", None));
        a.register(Backend::new(8, "db", "u", "", None));
        let b = a.backends();
        assert_eq!((b[0].backend_id, b[1].backend_id), (1, 2));
        let flag = Arc::new(CancelFlag::default());
        a.start_query(7, "UPDATE t SET v = 1", None, flag.clone());
        let txn = TxnInfo { top: 40, started: SystemTime::now(), snapshot_xmin: None, failed: false };
        a.statement_relations(7, [("t".to_string(), LockMode::RowExclusive)].into());
        a.after_statement(7, Some(txn));
        a.set_wait(7, Some(Wait::Lock { xid: 41, since: SystemTime::now(), writes: true, attempt: None }));
        a.start_query(8, "x", Some(TxnInfo { top: 41, ..txn }), Arc::new(CancelFlag::default()));
        a.after_statement(8, Some(TxnInfo { top: 41, ..txn }));
        assert_eq!(a.waits_for(7, |x| x), Some((41, Some(8))));
        assert!(a.cancel(7));
        assert!(flag.is_requested());
        a.ready(7, Some(txn));
        let b = &a.backends()[0];
        assert_eq!((b.state, b.wait, b.relations.len()), (State::IdleInTransaction, None, 1));
        a.ready(7, None);
        let b = &a.backends()[0];
        assert_eq!((b.state, b.relations.len(), b.query.as_str()), (State::Idle, 0, "UPDATE t SET v = 1"));
        a.remove(7);
        assert_eq!(a.backends().len(), 1);
    }
}
