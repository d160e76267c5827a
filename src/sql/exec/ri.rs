//! Referential integrity and deferrable constraints at run time: what PostgreSQL does with its
//! `RI_FKey_*` after-row triggers and deferred unique checks.
//!
//! # Events
//!
//! A write queues an [`Event`] for each constraint it may break, in `Session::ri_queue`:
//!
//! ```text
//!   INSERT INTO orders ...            Child  (orders, orders_customer_fkey, new row)
//!   UPDATE orders SET customer = ...  Child  (only when the key changed, or the row is ours)
//!   DELETE FROM customers ...         Parent (orders, orders_customer_fkey, old key)
//!   UPDATE customers SET id = ...     Parent (old key, new key)
//!   write under a DEFERRABLE UNIQUE   Unique (table, constraint, new row)
//! ```
//!
//! When the statement's own work is done (`end_of_statement`, inside its subtransaction, so a
//! failure undoes it all), the queue is worked off in order. An event of a constraint that is
//! deferred now (DEFERRABLE INITIALLY DEFERRED, or SET CONSTRAINTS ... DEFERRED) moves to the
//! transaction's `deferred` list instead, worked off at COMMIT or at SET CONSTRAINTS ...
//! IMMEDIATE. Referential actions (CASCADE, SET NULL, SET DEFAULT) and RESTRICT always run at the
//! end of the statement, as PostgreSQL's do; their own writes queue further events, so cascades
//! chain through as many tables as they reach.
//!
//! # Seeing rows, and the FOR KEY SHARE lock
//!
//! Checks see the statement's own writes (as PostgreSQL's triggers run after a command-counter
//! increment). The child side (is the referenced key there?) reads with a fresh snapshot under
//! READ COMMITTED and the transaction's under REPEATABLE READ; the parent side (is the key still
//! referenced?) always with a fresh one, so rows committed meanwhile count.
//!
//! A key found for a child row is locked the way PostgreSQL's `SELECT ... FOR KEY SHARE` locks
//! it, so that it cannot disappear before the child's transaction ends: the locker's xid is
//! recorded in `Database::key_locks` for that version (and the newer versions of its row). A
//! DELETE, or an UPDATE that changes a key column (one in a non-deferrable unique constraint),
//! or SELECT ... FOR UPDATE, of a version another running transaction has key-share locked
//! waits for that transaction; updates of other columns do not, and carry the lock on to the
//! new version. Conversely a check that finds its key being deleted, or key-updated, or locked
//! FOR UPDATE by a running transaction waits for it (PostgreSQL would not wait for FOR NO KEY
//! UPDATE, which terrarium takes as FOR UPDATE: the lock in `xmax` does not record its strength).
//!
//! FOR SHARE locks live in a map of the same shape, `Database::share_locks`: any number of
//! transactions may hold one on a row; every UPDATE, DELETE and FOR UPDATE of the row waits for
//! them, while FOR KEY SHARE and other FOR SHARE lockers do not.

use std::cmp::Ordering::Equal;
use std::collections::HashMap;

use super::super::mvcc::Status;
use super::constraints::{Action, ForeignKey};
use super::*;

/// Table → version → the transactions holding a shared row lock on it: FOR KEY SHARE (foreign
/// key checks, `Database::key_locks`) or FOR SHARE (`Database::share_locks`). Entries whose
/// lockers have all ended are ignored, and pruned when met and by VACUUM.
pub type KeyLocks = HashMap<String, HashMap<Ctid, Vec<Xid>>>;

/// Which shared row locks: the two strengths conflict with different writers (see
/// [`share_lock_holder`] and [`key_lock_holder`]).
#[derive(Clone, Copy)]
pub(super) enum Shared {
    Key,
    Share,
}

/// How many locked versions one table's map holds before ended lockers are swept out of it.
const KEY_LOCK_ENTRIES_PRUNE_MIN: usize = 1024;

/// A constraint check a write made necessary (see the module header).
#[derive(Debug, Clone)]
pub enum Event {
    /// A row version written into a referencing table: its key must be present.
    Child { table: String, fk: String, ctid: Ctid },
    /// A referenced key went away from `parent`: deleted (`new` is `None`) or changed to `new`.
    Parent { parent: String, table: String, fk: String, old: Vec<Datum>, new: Option<Vec<Datum>> },
    /// A row version written under a deferrable unique constraint.
    Unique { table: String, name: String, ctid: Ctid },
}

/// SET CONSTRAINTS: `ALL` and named settings, the named ones winning.
#[derive(Debug, Clone, Default)]
pub struct Deferral {
    pub all: Option<bool>,
    pub named: Vec<(String, bool)>,
}

impl Deferral {
    fn deferred(&self, name: &str, initially: bool) -> bool {
        match self.named.iter().rev().find(|(n, _)| n == name) {
            Some((_, d)) => *d,
            None => self.all.unwrap_or(initially),
        }
    }
}

fn find_fk(db: &Database, table: &str, name: &str) -> Option<ForeignKey> {
    db.constraints.get(table)?.foreign_keys.iter().find(|f| f.name == name).cloned()
}

/// The foreign keys that reference `parent`, with their tables, in creation order.
fn referencing(db: &Database, parent: &str) -> Vec<(String, ForeignKey)> {
    let mut out: Vec<(String, ForeignKey)> = Vec::new();
    for (t, c) in &db.constraints {
        for f in c.foreign_keys.iter().filter(|f| f.parent == parent) {
            out.push((t.clone(), f.clone()));
        }
    }
    out.sort_by_key(|(_, f)| f.seq);
    out
}

/// The columns an update must not change under another transaction's FOR KEY SHARE lock:
/// those of the non-deferrable unique constraints and indexes (what a foreign key can reference).
fn key_changed(t: &Table, old: &Row, new: &Row) -> bool {
    t.uniques
        .iter()
        .filter(|u| !u.deferrable)
        .flat_map(|u| u.columns.iter())
        .any(|&c| old[c].compare(&new[c]) != Some(Equal) && !(old[c].is_null() && new[c].is_null()))
}

fn columns_changed(cols: &[usize], old: &Row, new: &Row) -> bool {
    cols.iter().any(|&c| old[c].compare(&new[c]) != Some(Equal) && !(old[c].is_null() && new[c].is_null()))
}

// ------------------------------------------------------------------------------------------------
// FOR KEY SHARE locks.
// ------------------------------------------------------------------------------------------------

/// Another running transaction's key-share lock on this version: the transaction to wait for.
/// A delete, a key change and FOR UPDATE wait for it.
pub(super) fn key_lock_holder(db: &Database, table: &str, ctid: Ctid, own: &[Xid]) -> Option<Xid> {
    holder(&db.key_locks, db, table, ctid, own)
}

/// Another running transaction's FOR SHARE lock on this version: every update, delete and
/// FOR UPDATE waits for it; other FOR SHARE and FOR KEY SHARE lockers do not.
pub(super) fn share_lock_holder(db: &Database, table: &str, ctid: Ctid, own: &[Xid]) -> Option<Xid> {
    holder(&db.share_locks, db, table, ctid, own)
}

fn holder(locks: &KeyLocks, db: &Database, table: &str, ctid: Ctid, own: &[Xid]) -> Option<Xid> {
    let lockers = locks.get(table)?.get(&ctid)?;
    lockers.iter().find(|x| !own.contains(x) && db.tx.status(**x) == Status::InProgress).map(|x| db.tx.top(*x))
}

fn add_key_lock(db: &mut Database, table: &str, ctid: Ctid, xid: Xid) {
    add_shared_lock(db, Shared::Key, table, ctid, xid)
}

/// Records a shared lock of `xid` on the version at `ctid` and on the newer versions of its row.
pub(super) fn add_shared_lock(db: &mut Database, which: Shared, table: &str, ctid: Ctid, xid: Xid) {
    let mut chain = vec![ctid];
    if let Some(t) = db.tables.get(table) {
        let mut at = ctid;
        while let Some(n) = t.heap.get(at).and_then(|v| v.next) {
            chain.push(n);
            at = n;
        }
    }
    let tx = &db.tx;
    let map = match which {
        Shared::Key => &mut db.key_locks,
        Shared::Share => &mut db.share_locks,
    };
    let locks = map.entry(table.to_string()).or_default();
    // Versions locked once and never met again (updated rows leave their old versions behind)
    // would keep their entries until VACUUM: every time the map doubles past a size, the
    // entries of ended lockers go, which keeps the cost per lock constant.
    if locks.len() >= KEY_LOCK_ENTRIES_PRUNE_MIN && locks.len().is_power_of_two() {
        locks.retain(|_, lockers| {
            lockers.retain(|x| tx.status(*x) == Status::InProgress);
            !lockers.is_empty()
        });
    }
    for c in chain {
        let lockers = locks.entry(c).or_default();
        lockers.retain(|x| tx.status(*x) == Status::InProgress);
        if !lockers.contains(&xid) {
            lockers.push(xid);
        }
    }
}

/// A non-key update keeps the row's key-share locks on its new version.
fn carry_key_locks(db: &mut Database, table: &str, from: Ctid, to: Ctid) {
    let tx = &db.tx;
    let Some(locks) = db.key_locks.get_mut(table) else { return };
    let Some(lockers) = locks.get(&from) else { return };
    let live: Vec<Xid> = lockers.iter().copied().filter(|x| tx.status(*x) == Status::InProgress).collect();
    if live.is_empty() {
        locks.remove(&from);
    } else {
        locks.insert(to, live);
    }
}

/// VACUUM: drops the entries whose lockers have all ended.
pub(super) fn prune_key_locks(db: &mut Database) {
    let tx = &db.tx;
    for map in [&mut db.key_locks, &mut db.share_locks] {
        for locks in map.values_mut() {
            locks.retain(|_, lockers| {
                lockers.retain(|x| tx.status(*x) == Status::InProgress);
                !lockers.is_empty()
            });
        }
        map.retain(|_, l| !l.is_empty());
    }
}

/// Who is locking, for a check that locks what it finds.
struct Locking {
    own: Vec<Xid>,
    xid: Xid,
    /// REPEATABLE READ / SERIALIZABLE: a version changed by a transaction that committed after
    /// the snapshot is a serialization failure rather than something to look past.
    strict: bool,
}

/// Takes a FOR KEY SHARE lock on a visible version: `Ok(false)` if its row is gone (a committed
/// delete or update), `Wait` if a running transaction deletes it, changes its key or holds it
/// FOR UPDATE.
fn key_share(db: &mut Database, table: &str, ctid: Ctid, l: &Locking) -> R<bool> {
    let Some(t) = db.tables.get(table) else { return Ok(false) };
    let Some(v) = t.heap.get(ctid) else { return Ok(false) };
    if v.xmax != 0 && !l.own.contains(&v.xmax) {
        match db.tx.status(v.xmax) {
            Status::Aborted => {}
            Status::InProgress => {
                let compatible =
                    !v.lock_only && v.next.and_then(|n| t.heap.get(n)).is_some_and(|n| !key_changed(t, &v.row, &n.row));
                if !compatible {
                    return Err(ExecError::Wait(db.tx.top(v.xmax)));
                }
            }
            Status::Committed if v.lock_only => {}
            Status::Committed => {
                if l.strict {
                    return Err(super::concurrent_change_error("update").into());
                }
                return Ok(false);
            }
        }
    }
    add_key_lock(db, table, ctid, l.xid);
    Ok(true)
}

// ------------------------------------------------------------------------------------------------
// Writes and the events they queue.
// ------------------------------------------------------------------------------------------------

/// Deletes (`new` is `None`) or replaces the version at `ctid` for the running statement:
/// row conflicts first (as `Heap::check_writable`), then other transactions' key-share locks
/// (for a delete or a key change), then the write with its undo record, index entries, WAL
/// entries and the constraint events it queues.
#[allow(clippy::too_many_arguments)]
pub(super) fn write(
    db: &mut Database,
    sess: &mut Session,
    name: &str,
    ctid: Ctid,
    new: Option<Row>,
    xid: Xid,
    cid: u32,
    own: &[Xid],
) -> WriteOutcome {
    let Some(table) = db.tables.get(name) else { return WriteOutcome::Deleted };
    if let Err(o) = table.heap.check_writable(&db.tx, ctid, own) {
        return o;
    }
    let Some(old) = table.heap.get(ctid) else { return WriteOutcome::Deleted };
    let (old_row, old_ours) = (old.row.clone(), own.contains(&old.xmin));
    if let Some(x) = share_lock_holder(db, name, ctid, own) {
        return WriteOutcome::Wait(x);
    }
    let key_change = match &new {
        None => true,
        Some(r) => key_changed(table, &old_row, r),
    };
    if key_change {
        if let Some(x) = key_lock_holder(db, name, ctid, own) {
            return WriteOutcome::Wait(x);
        }
    }
    let tx = &db.tx;
    let table = db.tables.get_mut(name).expect("exists");
    let saved = table.heap.saved(ctid);
    match new {
        Some(row) => {
            let o = table.heap.update(tx, ctid, xid, cid, own, row);
            if let WriteOutcome::Ok(Some(newc)) = o {
                db_stats(db, &sess.database).tup_updated += 1;
                db.undo.push((name.to_string(), ctid, saved));
                db.undo.push((name.to_string(), newc, None));
                constraints::index_row(db, name, newc);
                let new_row = db.tables[name].heap.get(newc).expect("just written").row.clone();
                let text = new_row.iter().map(|d| d.to_text().map(String::into_bytes)).collect();
                log_change(
                    sess,
                    xid,
                    super::super::wal::WalEntry::Update { table: name.to_string(), ctid, new_ctid: newc, xid },
                );
                log_change(
                    sess,
                    xid,
                    super::super::wal::WalEntry::Insert { table: name.to_string(), ctid: newc, xid, cid, row: text },
                );
                if !key_change {
                    carry_key_locks(db, name, ctid, newc);
                }
                after_update(db, sess, name, &old_row, &new_row, old_ours, newc);
            }
            o
        }
        None => {
            let o = table.heap.delete(tx, ctid, xid, cid, own);
            if matches!(o, WriteOutcome::Ok(_)) {
                db_stats(db, &sess.database).tup_deleted += 1;
                db.undo.push((name.to_string(), ctid, saved));
                log_change(sess, xid, super::super::wal::WalEntry::Delete { table: name.to_string(), ctid, xid });
                after_delete(db, sess, name, &old_row);
            }
            o
        }
    }
}

/// Queues the checks a new row needs: its foreign keys, its deferrable unique constraints.
pub(super) fn after_insert(db: &Database, sess: &mut Session, table: &str, ctid: Ctid) {
    if let Some(c) = db.constraints.get(table) {
        for f in &c.foreign_keys {
            sess.ri_queue.push_back(Event::Child { table: table.to_string(), fk: f.name.clone(), ctid });
        }
    }
    queue_unique_rechecks(db, sess, table, ctid, None);
}

/// A deferrable unique constraint is looked at when the row is written, without waiting: only
/// if another version that may be live holds the key is a recheck queued (PostgreSQL's
/// UNIQUE_CHECK_PARTIAL). So of two transactions inserting one key, only the second rechecks.
fn queue_unique_rechecks(db: &Database, sess: &mut Session, table: &str, ctid: Ctid, changed: Option<&Row>) {
    let Some(t) = db.tables.get(table) else { return };
    let Some(v) = t.heap.get(ctid) else { return };
    let own = sess.txn.as_ref().map(|t| t.own.clone()).unwrap_or_default();
    for (ui, u) in t.uniques.iter().enumerate().filter(|(_, u)| u.deferrable) {
        if changed.is_some_and(|old| !columns_changed(&u.columns, old, &v.row)) {
            continue;
        }
        if maybe_duplicate(db, t, ui, &v.row, &own, ctid) {
            sess.ri_queue.push_back(Event::Unique { table: table.to_string(), name: u.name.clone(), ctid });
        }
    }
}

fn maybe_duplicate(db: &Database, t: &Table, ui: usize, row: &Row, own: &[Xid], itself: Ctid) -> bool {
    let u = &t.uniques[ui];
    let Some(key) = u.columns.iter().map(|&i| row[i].to_text()).collect::<Option<Vec<String>>>() else {
        return false;
    };
    t.candidates(ui, &key).iter().any(|&c| {
        let Some(v) = t.heap.get(c) else { return false };
        if c == itself || !u.columns.iter().all(|&i| v.row[i].compare(&row[i]) == Some(Equal)) {
            return false;
        }
        let created = own.contains(&v.xmin) || db.tx.status(v.xmin) != Status::Aborted;
        let deleted =
            v.xmax != 0 && !v.lock_only && (own.contains(&v.xmax) || db.tx.status(v.xmax) == Status::Committed);
        created && !deleted
    })
}

/// An update queues the child checks of the foreign keys whose columns changed (all of them
/// for a row this transaction wrote, as PostgreSQL's `RI_FKey_fk_upd_check_required`), the
/// parent events of the keys it changed, and the deferrable unique checks of changed keys.
fn after_update(db: &Database, sess: &mut Session, table: &str, old: &Row, new: &Row, old_ours: bool, ctid: Ctid) {
    if let Some(c) = db.constraints.get(table) {
        for f in &c.foreign_keys {
            if old_ours || columns_changed(&f.columns, old, new) {
                sess.ri_queue.push_back(Event::Child { table: table.to_string(), fk: f.name.clone(), ctid });
            }
        }
    }
    for (t, f) in referencing(db, table) {
        let old_key: Vec<Datum> = f.parent_columns.iter().map(|&c| old[c].clone()).collect();
        if old_key.iter().any(Datum::is_null) || !columns_changed(&f.parent_columns, old, new) {
            continue;
        }
        let new_key = f.parent_columns.iter().map(|&c| new[c].clone()).collect();
        sess.ri_queue.push_back(Event::Parent {
            parent: table.to_string(),
            table: t,
            fk: f.name,
            old: old_key,
            new: Some(new_key),
        });
    }
    queue_unique_rechecks(db, sess, table, ctid, Some(old));
}

fn after_delete(db: &Database, sess: &mut Session, table: &str, old: &Row) {
    for (t, f) in referencing(db, table) {
        let old_key: Vec<Datum> = f.parent_columns.iter().map(|&c| old[c].clone()).collect();
        if old_key.iter().any(Datum::is_null) {
            continue;
        }
        sess.ri_queue.push_back(Event::Parent {
            parent: table.to_string(),
            table: t,
            fk: f.name,
            old: old_key,
            new: None,
        });
    }
}

// ------------------------------------------------------------------------------------------------
// Working off the events.
// ------------------------------------------------------------------------------------------------

/// The snapshot checks read with: the statement's writes included; `latest` (or READ
/// COMMITTED) a fresh one, else the transaction's.
fn ri_snapshot(db: &Database, sess: &Session, latest: bool) -> Snapshot {
    let t = sess.txn.as_ref().expect("open");
    let mut s = match (&t.snapshot, latest || !t.isolation.transaction_snapshot()) {
        (Some(s), false) => s.clone(),
        _ => db.tx.snapshot(t.own.clone(), 0),
    };
    s.own = t.own.clone();
    s.curcid = t.cid + 1;
    s
}

fn locking(sess: &Session) -> Locking {
    let t = sess.txn.as_ref().expect("open");
    Locking { own: t.own.clone(), xid: t.current(), strict: t.isolation.transaction_snapshot() }
}

/// Whether an event's constraint is deferred now: its checks then wait for COMMIT.
fn is_deferred(db: &Database, sess: &Session, ev: &Event) -> bool {
    let Some(t) = sess.txn.as_ref() else { return false };
    match ev {
        Event::Child { table, fk, .. } => {
            find_fk(db, table, fk).is_some_and(|f| f.deferrable && t.deferral.deferred(&f.name, f.initially_deferred))
        }
        Event::Parent { table, fk, new, .. } => find_fk(db, table, fk).is_some_and(|f| {
            let a = if new.is_some() { f.on_update } else { f.on_delete };
            a == Action::NoAction && f.deferrable && t.deferral.deferred(&f.name, f.initially_deferred)
        }),
        Event::Unique { table, name, .. } => db
            .tables
            .get(table)
            .and_then(|x| x.uniques.iter().find(|u| &u.name == name))
            .is_some_and(|u| u.deferrable && t.deferral.deferred(&u.name, u.initially_deferred)),
    }
}

/// Works off the running statement's events (see the module header).
pub(super) fn end_of_statement(db: &mut Database, sess: &mut Session) -> R<()> {
    while let Some(ev) = sess.ri_queue.pop_front() {
        if is_deferred(db, sess, &ev) {
            let t = sess.txn.as_mut().expect("open");
            let xid = t.current();
            t.deferred.push((xid, ev));
            continue;
        }
        fire(db, sess, &ev)?;
    }
    Ok(())
}

/// Runs the deferred checks `which` selects, in the order they were queued; they leave the list
/// only when all passed (a lock wait runs them again, an error ends the transaction).
fn run_deferred(db: &mut Database, sess: &mut Session, which: &dyn Fn(&Database, &Session, &Event) -> bool) -> R<()> {
    let Some(t) = sess.txn.as_ref() else { return Ok(()) };
    let picked: Vec<(usize, Event)> = t
        .deferred
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| which(db, sess, e))
        .map(|(i, (_, e))| (i, e.clone()))
        .collect();
    for (_, ev) in &picked {
        fire(db, sess, ev)?;
    }
    if let Some(t) = sess.txn.as_mut() {
        let mut i = 0;
        t.deferred.retain(|_| {
            let keep = !picked.iter().any(|(k, _)| *k == i);
            i += 1;
            keep
        });
    }
    Ok(())
}

/// COMMIT: every deferred check, now.
pub(super) fn before_commit(db: &mut Database, sess: &mut Session) -> R<()> {
    if sess.txn.as_ref().is_none_or(|t| t.deferred.is_empty() || t.failed) {
        return Ok(());
    }
    run_deferred(db, sess, &|_, _, _| true)
}

fn fire(db: &mut Database, sess: &mut Session, ev: &Event) -> R<()> {
    match ev {
        Event::Child { table, fk, ctid } => {
            let Some(f) = find_fk(db, table, fk) else { return Ok(()) };
            let Some(v) = db.tables.get(table).and_then(|t| t.heap.get(*ctid)) else { return Ok(()) };
            // A row deleted or updated since needs no check (its successor has its own).
            if !db.tx.visible(&ri_snapshot(db, sess, true), v) {
                return Ok(());
            }
            let row = v.row.clone();
            let snap = ri_snapshot(db, sess, false);
            key_present(db, table, &f, &row, &snap, Some(&locking(sess)))
        }
        Event::Parent { parent, table, fk, old, new } => {
            let Some(f) = find_fk(db, table, fk) else { return Ok(()) };
            match if new.is_some() { f.on_update } else { f.on_delete } {
                Action::NoAction => still_referenced(db, sess, parent, table, &f, old, false),
                Action::Restrict => still_referenced(db, sess, parent, table, &f, old, true),
                a => referential_action(db, sess, table, &f, old, new.as_deref(), a),
            }
        }
        Event::Unique { table, name, ctid } => {
            let Some(t) = db.tables.get(table) else { return Ok(()) };
            let Some(ui) = t.uniques.iter().position(|u| &u.name == name) else { return Ok(()) };
            let Some(v) = t.heap.get(*ctid) else { return Ok(()) };
            if !db.tx.visible(&ri_snapshot(db, sess, true), v) {
                return Ok(());
            }
            let own = sess.txn.as_ref().expect("open").own.clone();
            let row = v.row.clone();
            if unique_holder(db, t, ui, &row, &own, Some(*ctid))?.is_some() {
                return Err(unique_violation(t, ui, &row));
            }
            Ok(())
        }
    }
}

/// The child side: `row`'s key must be present in the referenced table (as `snap` sees it),
/// else 23503. With `lock`, the row found is key-share locked (see the module header).
fn key_present(
    db: &mut Database,
    table: &str,
    f: &ForeignKey,
    row: &Row,
    snap: &Snapshot,
    lock: Option<&Locking>,
) -> R<()> {
    let key: Vec<Datum> = f.columns.iter().map(|&i| row[i].clone()).collect();
    let nulls = key.iter().filter(|d| d.is_null()).count();
    let violation = || {
        SqlError::new(
            "23503",
            format!("insert or update on table \"{table}\" violates foreign key constraint \"{}\"", f.name),
        )
    };
    if nulls == key.len() {
        return Ok(());
    }
    if nulls > 0 {
        if f.match_full {
            return Err(violation().detail("MATCH FULL does not allow mixing of null and nonnull key values.").into());
        }
        return Ok(());
    }
    if find_parent(db, f, &key, snap, lock)? {
        return Ok(());
    }
    let t = &db.tables[table];
    let names: Vec<&str> = f.columns.iter().map(|&i| t.columns[i].name.as_str()).collect();
    let values: Vec<String> = key.iter().map(|d| d.to_text().unwrap_or_default()).collect();
    Err(violation()
        .detail(format!("Key ({})=({}) is not present in table \"{}\".", names.join(", "), values.join(", "), f.parent))
        .into())
}

/// ALTER TABLE ... ADD FOREIGN KEY's check of a row already in the table (nothing is locked:
/// DDL here does not wait for other transactions).
pub(super) fn check_key_present(db: &mut Database, table: &str, f: &ForeignKey, row: &Row, snap: &Snapshot) -> R<()> {
    key_present(db, table, f, row, snap, None)
}

/// Whether a version of the referenced table holding `key` (in `f.parent_columns` order) is
/// visible to `snap`, found through the referenced unique index.
fn find_parent(db: &mut Database, f: &ForeignKey, key: &[Datum], snap: &Snapshot, lock: Option<&Locking>) -> R<bool> {
    let Some(p) = db.tables.get(&f.parent) else { return Ok(false) };
    let same = |v: &Version<Row>| f.parent_columns.iter().zip(key).all(|(&c, k)| v.row[c].compare(k) == Some(Equal));
    let candidates: Vec<Ctid> = match p.uniques.iter().position(|u| u.name == f.parent_unique) {
        Some(ui) => {
            // The index holds keys as the referenced columns' text.
            let mut text = Vec::new();
            for &c in &p.uniques[ui].columns {
                let Some(j) = f.parent_columns.iter().position(|&x| x == c) else { return Ok(false) };
                let d = coerce(key[j].clone(), p.columns[c].ty, None, None).unwrap_or_else(|_| key[j].clone());
                text.push(d.to_text().unwrap_or_default());
            }
            p.candidates(ui, &text).to_vec()
        }
        None => p.heap.all().filter(|(_, v)| same(v)).map(|(c, _)| c).collect(),
    };
    for ctid in candidates {
        let p = &db.tables[&f.parent];
        let Some(v) = p.heap.get(ctid) else { continue };
        if !same(v) || !db.tx.visible(snap, v) {
            continue;
        }
        match lock {
            None => return Ok(true),
            Some(l) => {
                let parent = f.parent.clone();
                if key_share(db, &parent, ctid, l)? {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// The visible rows of the referencing table whose key is `key` (through an index on exactly
/// the key's columns when there is one).
fn find_children(db: &Database, table: &str, f: &ForeignKey, key: &[Datum], snap: &Snapshot) -> Vec<Ctid> {
    let Some(t) = db.tables.get(table) else { return Vec::new() };
    let texts: Vec<String> = f
        .columns
        .iter()
        .zip(key)
        .map(|(&c, d)| {
            coerce(d.clone(), t.columns[c].ty, None, None).unwrap_or_else(|_| d.clone()).to_text().unwrap_or_default()
        })
        .collect();
    let indexed: Option<Vec<Ctid>> =
        t.uniques.iter().position(|u| u.columns == f.columns).map(|ui| t.candidates(ui, &texts).to_vec()).or_else(
            || {
                let c = db.constraints.get(table)?;
                let i = c.indexes.iter().find(|i| i.columns == f.columns)?;
                Some(i.map.get(&texts).cloned().unwrap_or_default())
            },
        );
    let matches = |v: &Version<Row>| f.columns.iter().zip(key).all(|(&c, k)| v.row[c].compare(k) == Some(Equal));
    let mut out: Vec<Ctid> = match indexed {
        Some(c) => {
            c.into_iter().filter(|c| t.heap.get(*c).is_some_and(|v| db.tx.visible(snap, v) && matches(v))).collect()
        }
        None => t.heap.scan(&db.tx, snap).filter(|(_, v)| matches(v)).map(|(c, _)| c).collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// The parent side of NO ACTION and RESTRICT: a key that went away must not be referenced any
/// more (NO ACTION first looks whether another row holds the key now, as PostgreSQL's
/// `ri_Check_Pk_Match`), else 23503.
#[allow(clippy::too_many_arguments)]
fn still_referenced(
    db: &mut Database,
    sess: &Session,
    parent: &str,
    table: &str,
    f: &ForeignKey,
    old: &[Datum],
    restrict: bool,
) -> R<()> {
    let latest = ri_snapshot(db, sess, true);
    if !restrict && find_parent(db, f, old, &latest, None)? {
        return Ok(());
    }
    let l = locking(sess);
    for ctid in find_children(db, table, f, old, &latest) {
        if key_share(db, table, ctid, &l)? {
            let p = &db.tables[parent];
            let names: Vec<&str> = f.parent_columns.iter().map(|&i| p.columns[i].name.as_str()).collect();
            let values: Vec<String> = old.iter().map(|d| d.to_text().unwrap_or_default()).collect();
            return Err(SqlError::new(
                "23503",
                format!(
                    "update or delete on table \"{parent}\" violates foreign key constraint \"{}\" on table \"{table}\"",
                    f.name
                ),
            )
            .detail(format!(
                "Key ({})=({}) is still referenced from table \"{table}\".",
                names.join(", "),
                values.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

/// ON DELETE / ON UPDATE CASCADE, SET NULL, SET DEFAULT: the referencing rows are deleted or
/// updated as a statement of their own would (NOT NULL, CHECK and UNIQUE apply; their foreign
/// keys are checked in turn; row locks are waited for).
fn referential_action(
    db: &mut Database,
    sess: &mut Session,
    table: &str,
    f: &ForeignKey,
    old: &[Datum],
    new: Option<&[Datum]>,
    action: Action,
) -> R<()> {
    let latest = ri_snapshot(db, sess, true);
    let t = sess.txn.as_ref().expect("open");
    let (own, cid, xid, strict) = (t.own.clone(), t.cid, t.current(), t.isolation.transaction_snapshot());
    for first in find_children(db, table, f, old, &latest) {
        let mut ctid = first;
        loop {
            let tab = &db.tables[table];
            let Some(v) = tab.heap.get(ctid) else { break };
            let mut row = v.row.clone();
            let new_row = match (action, new) {
                (Action::Cascade, None) => None,
                (Action::Cascade, Some(key)) => {
                    for (&c, k) in f.columns.iter().zip(key) {
                        let col = &tab.columns[c];
                        row[c] = coerce_col(k.clone(), &col)?;
                    }
                    Some(row)
                }
                (Action::SetNull, _) => {
                    for &c in &f.columns {
                        row[c] = Datum::Null;
                    }
                    Some(row)
                }
                _ => {
                    for &c in &f.columns {
                        let col = &tab.columns[c];
                        row[c] = match &col.default {
                            Some(d) => coerce_col(eval(d, &Scope::empty(), db)?, &col)?,
                            None => Datum::Null,
                        };
                    }
                    Some(row)
                }
            };
            if tab.heap.check_writable(&db.tx, ctid, &own).is_ok() {
                if let Some(r) = &new_row {
                    check_row(db, tab, r, &own, Some(ctid))?;
                }
            }
            match write(db, sess, table, ctid, new_row, xid, cid, &own) {
                WriteOutcome::Ok(_) => break,
                WriteOutcome::Wait(x) => return Err(ExecError::Wait(x)),
                WriteOutcome::Deleted if !strict => break,
                WriteOutcome::Moved(next) if !strict => {
                    // The row moved on (READ COMMITTED): act on its newest version if that
                    // still references the key.
                    let tab = &db.tables[table];
                    let mut newest = next;
                    while let Some(n) = tab.heap.get(newest).and_then(|v| v.next) {
                        newest = n;
                    }
                    let still = tab
                        .heap
                        .get(newest)
                        .is_some_and(|v| f.columns.iter().zip(old).all(|(&c, k)| v.row[c].compare(k) == Some(Equal)));
                    if !still {
                        break;
                    }
                    ctid = newest;
                }
                WriteOutcome::Deleted => return Err(super::concurrent_change_error("delete").into()),
                WriteOutcome::Moved(_) => return Err(super::concurrent_change_error("update").into()),
            }
        }
    }
    if action == Action::SetDefault {
        // A row set to a default equal to the key that went away still references it (and
        // was "updated" to the values it had, which queued no check): look again, as
        // PostgreSQL's RI_FKey_setdefault_del does.
        let parent = f.parent.clone();
        still_referenced(db, sess, &parent, table, f, old, false)?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// SET CONSTRAINTS.
// ------------------------------------------------------------------------------------------------

/// The name `parse` gives SET CONSTRAINTS (which sqlparser does not know) as a SET statement:
/// `SET CONSTRAINTS a, "B" DEFERRED` arrives as `SET terrarium_set_constraints TO 'DEFERRED',
/// 'a', 'B'` (names already folded), `ALL` as no names.
pub(super) const SET_CONSTRAINTS_VARIABLE: &str = "terrarium_set_constraints";

/// Rewrites every `SET CONSTRAINTS ...` statement of `sql` into the SET form above, so that the
/// string parses; other text is kept byte for byte. `None` when there is none, or when the
/// tokens do not make sense (then the parser reports the syntax error).
pub(super) fn rewrite_set_constraints(sql: &str) -> Option<String> {
    use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
    if !sql.to_ascii_lowercase().contains("constraints") {
        return None;
    }
    let tokens = Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, sql).tokenize_with_location().ok()?;
    // Byte offsets of (line, column) locations, both counted from 1 in characters.
    let mut line_starts = vec![0usize];
    for (i, c) in sql.char_indices() {
        if c == '\n' {
            line_starts.push(i + 1);
        }
    }
    let offset = |line: u64, col: u64| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let rest = &sql[start..];
        let skip = usize::try_from(col).ok()?.checked_sub(1)?;
        Some(start + rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i))
    };
    let significant: Vec<&sqlparser::tokenizer::TokenWithSpan> = tokens
        .iter()
        .filter(|t| {
            !matches!(t.token, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab))
                && !matches!(t.token, Token::Whitespace(_))
        })
        .collect();
    let word =
        |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let mut out = String::new();
    let mut copied = 0usize;
    let mut at_start = true;
    let mut i = 0;
    let mut changed = false;
    while i < significant.len() {
        let t = &significant[i].token;
        if at_start && word(t, "set") && significant.get(i + 1).is_some_and(|n| word(&n.token, "constraints")) {
            // SET CONSTRAINTS { ALL | name [, ...] } { DEFERRED | IMMEDIATE }
            let start = offset(significant[i].span.start.line, significant[i].span.start.column)?;
            let mut j = i + 2;
            let mut names: Vec<String> = Vec::new();
            if significant.get(j).is_some_and(|n| word(&n.token, "all")) {
                j += 1;
            } else {
                loop {
                    // A name, maybe qualified (the schema is dropped: terrarium has one).
                    let last;
                    loop {
                        match &significant.get(j)?.token {
                            Token::Word(w) => {
                                let folded =
                                    if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() };
                                j += 1;
                                if !matches!(significant.get(j).map(|x| &x.token), Some(Token::Period)) {
                                    last = folded;
                                    break;
                                }
                            }
                            _ => return None,
                        }
                        j += 1;
                    }
                    names.push(last);
                    if matches!(significant.get(j).map(|x| &x.token), Some(Token::Comma)) {
                        j += 1;
                    } else {
                        break;
                    }
                }
            }
            let mode = match significant.get(j).map(|x| &x.token) {
                Some(t) if word(t, "deferred") => "DEFERRED",
                Some(t) if word(t, "immediate") => "IMMEDIATE",
                _ => return None,
            };
            let end = offset(significant[j].span.end.line, significant[j].span.end.column)?;
            let mut values = vec![format!("'{mode}'")];
            values.extend(names.iter().map(|n| format!("'{}'", n.replace('\'', "''"))));
            out.push_str(&sql[copied..start]);
            out.push_str(&format!("SET {SET_CONSTRAINTS_VARIABLE} TO {}", values.join(", ")));
            copied = end;
            changed = true;
            i = j + 1;
            at_start = false;
            continue;
        }
        at_start = matches!(t, Token::SemiColon);
        i += 1;
    }
    if !changed {
        return None;
    }
    out.push_str(&sql[copied..]);
    Some(out)
}

/// SET CONSTRAINTS { ALL | name [, ...] } { DEFERRED | IMMEDIATE }, for the running
/// transaction. Making constraints IMMEDIATE runs their deferred checks now.
pub(super) fn set_constraints(db: &mut Database, sess: &mut Session, values: &[String]) -> R<Output> {
    let deferred = values.first().is_some_and(|m| m == "DEFERRED");
    let names = &values[1.min(values.len())..];
    for n in names {
        let mut found = false;
        let mut deferrable = true;
        for t in db.tables.values() {
            for u in t.uniques.iter().filter(|u| &u.name == n && !u.index_only) {
                found = true;
                deferrable &= u.deferrable;
            }
        }
        for c in db.constraints.values() {
            for f in c.foreign_keys.iter().filter(|f| &f.name == n) {
                found = true;
                deferrable &= f.deferrable;
            }
            if c.checks.iter().any(|x| &x.name == n) {
                found = true;
                deferrable = false;
            }
        }
        if !found {
            return Err(SqlError::new("42704", format!("constraint \"{n}\" does not exist")).into());
        }
        if !deferrable {
            return Err(SqlError::new("42809", format!("constraint \"{n}\" is not deferrable")).into());
        }
    }
    let in_block = sess.implicit_block || sess.txn.as_ref().is_some_and(|t| t.explicit);
    if !in_block {
        sess.notices.push(SqlError::notice(
            "WARNING",
            "25P01",
            "SET CONSTRAINTS can only be used in transaction blocks",
        ));
    }
    let t = sess.txn.as_mut().expect("open");
    if names.is_empty() {
        t.deferral.all = Some(deferred);
        t.deferral.named.clear();
    } else {
        for n in names {
            t.deferral.named.retain(|(x, _)| x != n);
            t.deferral.named.push((n.clone(), deferred));
        }
    }
    if !deferred {
        run_deferred(db, sess, &|db, sess, e| !is_deferred(db, sess, e))?;
    }
    Ok(Output::Command("SET CONSTRAINTS".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(db: &mut Database, s: &mut Session, sql: &str) -> Result<Output, String> {
        let mut last = Ok(Output::Empty);
        for st in parse(sql).map_err(|e| e.message)? {
            last = match execute(db, s, &st) {
                Ok(o) => Ok(o),
                Err(ExecError::Sql(e)) => return Err(format!("{} {}", e.code, e.message)),
                Err(ExecError::Wait(x)) => return Err(format!("wait {x}")),
            };
        }
        last
    }

    #[test]
    fn set_constraints_is_rewritten_into_a_set_that_parses() {
        let r = |s: &str| rewrite_set_constraints(s);
        assert_eq!(r("SET CONSTRAINTS ALL DEFERRED").as_deref(), Some("SET terrarium_set_constraints TO 'DEFERRED'"));
        assert_eq!(
            r("begin; set constraints a, \"B\", s.c immediate; select 'set constraints x deferred'").as_deref(),
            Some("begin; SET terrarium_set_constraints TO 'IMMEDIATE', 'a', 'B', 'c'; select 'set constraints x deferred'")
        );
        // Only at the start of a statement, and only when it makes sense.
        assert_eq!(r("SELECT 'set constraints all deferred'"), None);
        assert_eq!(r("SET CONSTRAINTS ALL"), None);
        assert_eq!(r("SET CONSTRAINTS a b DEFERRED"), None);
        let stmts = parse("SET CONSTRAINTS \"it's\" DEFERRED; SELECT 1").unwrap();
        assert_eq!(stmts.len(), 2);
        assert!(stmts[0].to_string().contains("'it''s'"));
    }

    #[test]
    fn a_child_check_key_share_locks_the_parent_against_delete_but_not_against_children() {
        let mut db = Database::default();
        let (mut a, mut b) = (Session::default(), Session::default());
        run(&mut db, &mut a, "CREATE TABLE p (id int PRIMARY KEY, v text)").unwrap();
        run(&mut db, &mut a, "CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)").unwrap();
        run(&mut db, &mut a, "INSERT INTO p VALUES (1, 'x')").unwrap();
        run(&mut db, &mut a, "BEGIN; INSERT INTO c VALUES (10, 1)").unwrap();
        let top_a = a.txn.as_ref().unwrap().top;
        // Another child and a non-key update go ahead; a delete or a key change waits.
        run(&mut db, &mut b, "INSERT INTO c VALUES (11, 1)").unwrap();
        run(&mut db, &mut b, "UPDATE p SET v = 'y' WHERE id = 1").unwrap();
        assert_eq!(run(&mut db, &mut b, "DELETE FROM p WHERE id = 1").unwrap_err(), format!("wait {top_a}"));
        assert_eq!(run(&mut db, &mut b, "UPDATE p SET id = 2 WHERE id = 1").unwrap_err(), format!("wait {top_a}"));
        assert_eq!(
            run(&mut db, &mut b, "SELECT * FROM p FOR UPDATE").unwrap_err(),
            format!("wait {top_a}"),
            "FOR UPDATE conflicts with FOR KEY SHARE"
        );
        run(&mut db, &mut a, "COMMIT").unwrap();
        assert_eq!(
            run(&mut db, &mut b, "DELETE FROM p WHERE id = 1").unwrap_err(),
            "23503 update or delete on table \"p\" violates foreign key constraint \"c_pid_fkey\" on table \"c\""
        );
        // Once the lockers are gone, VACUUM forgets their locks.
        run(&mut db, &mut b, "VACUUM").unwrap();
        assert!(db.key_locks.is_empty());
    }

    #[test]
    fn deferred_checks_wait_for_commit_and_leave_with_their_savepoint() {
        let mut db = Database::default();
        let mut s = Session::default();
        run(&mut db, &mut s, "CREATE TABLE p (id int PRIMARY KEY)").unwrap();
        run(&mut db, &mut s, "CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED)").unwrap();
        run(&mut db, &mut s, "BEGIN; INSERT INTO c VALUES (1); SAVEPOINT a; INSERT INTO c VALUES (2)").unwrap();
        assert_eq!(s.txn.as_ref().unwrap().deferred.len(), 2);
        run(&mut db, &mut s, "ROLLBACK TO SAVEPOINT a").unwrap();
        assert_eq!(s.txn.as_ref().unwrap().deferred.len(), 1);
        run(&mut db, &mut s, "INSERT INTO p VALUES (1)").unwrap();
        assert!(matches!(run(&mut db, &mut s, "COMMIT"), Ok(Output::Command(t)) if t == "COMMIT"));
        // A failing deferred check makes COMMIT fail and ends the transaction.
        run(&mut db, &mut s, "BEGIN; INSERT INTO c VALUES (3)").unwrap();
        assert!(run(&mut db, &mut s, "COMMIT").unwrap_err().starts_with("23503 insert or update on table \"c\""));
        assert!(s.txn.is_none());
        assert_eq!(s.status(), b'I');
    }
}
