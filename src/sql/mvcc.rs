//! Multi-version concurrency control, as PostgreSQL does it: rows are never overwritten in place.
//!
//! Every row *version* records the transaction that created it (`xmin`) and the one that deleted
//! or replaced it (`xmax`, 0 while it is live). An UPDATE is a delete of the old version plus an
//! insert of a new one, linked by `next` (PostgreSQL's `t_ctid`):
//!
//! ```text
//!   heap of table "accounts"                         transaction status (PostgreSQL's clog)
//!   ctid   xmin  xmax  next   id  balance            xid 740  committed
//!   (0,1)  740   752   (0,3)  1   100    ◀─ old      xid 751  aborted
//!   (0,2)  740   0     -      2   50                 xid 752  in progress
//!   (0,3)  752   0     -      1   80     ◀─ new      xid 753  in progress
//!   (0,4)  751   0     -      3   10     ◀─ never visible: its creator aborted
//! ```
//!
//! Which versions a statement sees is decided by its **snapshot**, taken from the transaction
//! table: `xmin` (every xid below it had finished), `xmax` (the next xid to be assigned: nothing
//! at or above it had started) and `xip`, the xids in progress in between. A version is visible
//! when its creator committed *before the snapshot* and its deleter (if any) did not:
//!
//! ```text
//!   committed-before(s, x)  =  clog(x) = committed  and  (x < s.xmin  or  (x < s.xmax and x ∉ s.xip))
//!   visible(s, v)           =  created(s, v) and not deleted(s, v)
//!   created(s, v)           =  v.xmin is ours and was written by an earlier command (cmin < curcid)
//!                              or committed-before(s, v.xmin)
//!   deleted(s, v)           =  v.xmax ≠ 0, not a mere row lock, and
//!                              (v.xmax is ours with cmax < curcid  or  committed-before(s, v.xmax))
//! ```
//!
//! Session 753 above, with a snapshot taken while 752 runs, sees `(0,1)` (balance 100) and
//! `(0,2)`; 752 itself sees `(0,2)` and its own `(0,3)`. When 752 commits, a *new* snapshot of
//! 753 (READ COMMITTED takes one per statement) sees `(0,3)`; a REPEATABLE READ transaction
//! keeps its first snapshot and still sees `(0,1)`.
//!
//! Writers conflict on the row, not the snapshot: before changing a version, a writer looks at
//! its `xmax`. Set by a transaction still in progress → wait for it ([`WriteOutcome::Wait`]).
//! Set by one that committed → the row moved on: READ COMMITTED follows `next` to the newest
//! version and re-checks it (PostgreSQL's EvalPlanQual); REPEATABLE READ and SERIALIZABLE fail
//! with 40001. Set by one that aborted → ignore it.
//!
//! Savepoints are subtransactions with xids of their own, so rolling back to a savepoint is
//! marking those xids aborted: everything they wrote becomes invisible at once, like any aborted
//! transaction's writes. VACUUM removes versions that no snapshot can see any more.
//!
//! This module is pure state: no locks, no waiting, no I/O. The executor decides what to do with
//! a `Wait`, and the WAL records what happened here.

use std::collections::{BTreeSet, HashMap};

/// A transaction id. PostgreSQL's are 32-bit and start at 3 (`FirstNormalTransactionId`); so do
/// ours, so `txid_current()` looks familiar. Wraparound is out of scope.
pub type Xid = u32;

pub const FIRST_NORMAL_XID: Xid = 3;

/// Where a version lives, shown as `(block,offset)` like PostgreSQL's `ctid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ctid(pub u32);

/// Versions per displayed block: only for the `(block,offset)` form of `ctid`.
pub const TUPLES_PER_BLOCK: u32 = 185;

impl std::fmt::Display for Ctid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({},{})", self.0 / TUPLES_PER_BLOCK, self.0 % TUPLES_PER_BLOCK + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Committed,
    Aborted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isolation {
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    /// Whether the transaction keeps one snapshot for its whole life.
    pub fn transaction_snapshot(self) -> bool {
        self >= Isolation::RepeatableRead
    }
}

/// What a statement may see.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub xmin: Xid,
    pub xmax: Xid,
    /// In progress when the snapshot was taken, sorted.
    pub xip: Vec<Xid>,
    /// The xids whose writes count as "ours": the transaction and its live subtransactions.
    pub own: Vec<Xid>,
    /// The command id of the statement running; our versions written by earlier commands are
    /// visible, those of the current one are not (so `UPDATE t SET x = x + 1` sees each row once).
    pub curcid: u32,
}

impl Snapshot {
    fn is_own(&self, xid: Xid) -> bool {
        self.own.contains(&xid)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Version<R> {
    pub xmin: Xid,
    pub cmin: u32,
    /// 0 while live.
    pub xmax: Xid,
    pub cmax: u32,
    /// `xmax` only locks the row (SELECT ... FOR UPDATE / FOR SHARE); it does not delete it.
    pub lock_only: bool,
    /// The newer version an UPDATE made of this row.
    pub next: Option<Ctid>,
    pub row: R,
}

/// A version header as it was before a write, so that the write can be undone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Saved {
    pub xmax: Xid,
    pub cmax: u32,
    pub lock_only: bool,
    pub next: Option<Ctid>,
}

/// What a writer found when it tried to change a version.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// Done; for an update, the new version's place.
    Ok(Option<Ctid>),
    /// Another transaction holds the row: wait for this xid to finish, then try again.
    Wait(Xid),
    /// The row was updated to this newer version by a transaction that committed; READ
    /// COMMITTED re-checks that version, stricter levels fail with 40001.
    Moved(Ctid),
    /// The row was deleted by a transaction that committed.
    Deleted,
}

/// One table's versions, in insertion order (a heap).
#[derive(Debug, Clone, Default)]
pub struct Heap<R> {
    versions: Vec<Option<Version<R>>>,
}

/// Transaction status and the subtransaction tree.
#[derive(Debug, Default)]
pub struct Transactions {
    next: Xid,
    status: HashMap<Xid, Status>,
    /// Xids in progress (top-level and subtransactions).
    active: BTreeSet<Xid>,
    /// A subtransaction's parent.
    parent: HashMap<Xid, Xid>,
    /// A top-level transaction's subtransactions, which stay "active" (listed in every
    /// snapshot's `xip`) until it ends, whatever their own outcome: to everyone else they are
    /// as undecided as their parent (PostgreSQL keeps them in a snapshot's `subxip`).
    children: HashMap<Xid, Vec<Xid>>,
}

impl Transactions {
    pub fn new() -> Self {
        Transactions { next: FIRST_NORMAL_XID, ..Default::default() }
    }

    /// The next xid to be assigned (`pg_current_snapshot()`'s xmax).
    pub fn next_xid(&self) -> Xid {
        self.next
    }

    pub fn begin(&mut self) -> Xid {
        let xid = self.next;
        self.next += 1;
        self.status.insert(xid, Status::InProgress);
        self.active.insert(xid);
        xid
    }

    /// A subtransaction (SAVEPOINT) under `parent`.
    pub fn begin_sub(&mut self, parent: Xid) -> Xid {
        let xid = self.begin();
        self.parent.insert(xid, parent);
        let top = self.top(parent);
        self.children.entry(top).or_default().push(xid);
        xid
    }

    /// Ends a transaction. A top-level one takes its subtransactions out of the active set; a
    /// subtransaction leaves it only with its top level.
    fn finish(&mut self, xid: Xid) {
        if self.parent.contains_key(&xid) {
            return;
        }
        self.active.remove(&xid);
        for sub in self.children.remove(&xid).unwrap_or_default() {
            self.active.remove(&sub);
        }
    }

    /// The status a reader must assume. A subtransaction that finished inside a transaction
    /// still running is, to everyone else, as in progress as its parent; once the top level
    /// commits, its committed subtransactions commit with it.
    pub fn status(&self, xid: Xid) -> Status {
        match self.status.get(&xid).copied() {
            None if xid < FIRST_NORMAL_XID => Status::Committed, // bootstrap/frozen
            None => Status::Aborted,
            Some(Status::Committed) => match self.parent.get(&xid) {
                Some(&p) => self.status(p),
                None => Status::Committed,
            },
            Some(s) => s,
        }
    }

    pub fn commit(&mut self, xid: Xid) {
        self.status.insert(xid, Status::Committed);
        self.finish(xid);
    }

    pub fn abort(&mut self, xid: Xid) {
        self.status.insert(xid, Status::Aborted);
        self.finish(xid);
    }

    pub fn is_active(&self, xid: Xid) -> bool {
        self.active.contains(&xid)
    }

    /// The top-level transaction a (sub)transaction belongs to: the one a waiter waits for.
    pub fn top(&self, mut xid: Xid) -> Xid {
        while let Some(&p) = self.parent.get(&xid) {
            xid = p;
        }
        xid
    }

    /// A snapshot for `own` (the transaction and its live subtransactions; empty outside one).
    pub fn snapshot(&self, own: Vec<Xid>, curcid: u32) -> Snapshot {
        let xip: Vec<Xid> = self.active.iter().copied().filter(|x| !own.contains(x)).collect();
        let xmin = xip.first().copied().unwrap_or(self.next);
        Snapshot { xmin, xmax: self.next, xip, own, curcid }
    }

    /// The oldest xid any running transaction might still need to see as not yet committed:
    /// versions deleted by transactions that committed before it are dead to everyone.
    pub fn horizon(&self) -> Xid {
        self.active.first().copied().unwrap_or(self.next)
    }

    fn committed_before(&self, s: &Snapshot, xid: Xid) -> bool {
        self.status(xid) == Status::Committed && (xid < s.xmin || (xid < s.xmax && s.xip.binary_search(&xid).is_err()))
    }

    /// The visibility rule of the module header.
    pub fn visible<R>(&self, s: &Snapshot, v: &Version<R>) -> bool {
        let created = if s.is_own(v.xmin) { v.cmin < s.curcid } else { self.committed_before(s, v.xmin) };
        if !created {
            return false;
        }
        if v.xmax == 0 || v.lock_only {
            return true;
        }
        let deleted = if s.is_own(v.xmax) { v.cmax < s.curcid } else { self.committed_before(s, v.xmax) };
        !deleted
    }
}

impl<R: Clone> Heap<R> {
    pub fn new() -> Self {
        Heap { versions: Vec::new() }
    }

    pub fn get(&self, ctid: Ctid) -> Option<&Version<R>> {
        self.versions.get(ctid.0 as usize).and_then(|v| v.as_ref())
    }

    pub fn insert(&mut self, xid: Xid, cid: u32, row: R) -> Ctid {
        let ctid = Ctid(self.versions.len() as u32);
        self.versions.push(Some(Version { xmin: xid, cmin: cid, xmax: 0, cmax: 0, lock_only: false, next: None, row }));
        ctid
    }

    /// The fields an update or delete overwrites in the old version, for [`Heap::undo`].
    pub fn saved(&self, ctid: Ctid) -> Option<Saved> {
        self.get(ctid).map(|v| Saved { xmax: v.xmax, cmax: v.cmax, lock_only: v.lock_only, next: v.next })
    }

    /// Takes back one write of a statement that failed or must wait and run again: an inserted
    /// version disappears, an updated or deleted one gets its old header back.
    pub fn undo(&mut self, ctid: Ctid, saved: Option<Saved>) {
        let Some(slot) = self.versions.get_mut(ctid.0 as usize) else { return };
        match saved {
            None => *slot = None,
            Some(s) => {
                if let Some(v) = slot {
                    v.xmax = s.xmax;
                    v.cmax = s.cmax;
                    v.lock_only = s.lock_only;
                    v.next = s.next;
                }
            }
        }
    }

    /// Changes every stored row in place (ALTER TABLE ADD COLUMN appends the new column's value to
    /// all versions, as PostgreSQL treats old tuples as having it).
    pub fn for_each_row_mut(&mut self, mut f: impl FnMut(&mut R)) {
        for v in self.versions.iter_mut().flatten() {
            f(&mut v.row);
        }
    }

    /// Every version, dead or alive (uniqueness checks look at them all).
    pub fn all(&self) -> impl Iterator<Item = (Ctid, &Version<R>)> + '_ {
        self.versions.iter().enumerate().filter_map(|(i, v)| v.as_ref().map(|v| (Ctid(i as u32), v)))
    }

    /// Every version visible to `s`, with its place.
    pub fn scan<'a>(
        &'a self,
        tx: &'a Transactions,
        s: &'a Snapshot,
    ) -> impl Iterator<Item = (Ctid, &'a Version<R>)> + 'a {
        self.versions
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (Ctid(i as u32), v)))
            .filter(move |(_, v)| tx.visible(s, v))
    }

    /// Who holds the right to change this version: `None` if nobody does.
    pub fn check_writable(&self, tx: &Transactions, ctid: Ctid, own: &[Xid]) -> Result<(), WriteOutcome> {
        let v = self.get(ctid).ok_or(WriteOutcome::Deleted)?;
        if v.xmax == 0 || own.contains(&v.xmax) {
            return Ok(());
        }
        match tx.status(v.xmax) {
            Status::Aborted => Ok(()),
            // A subtransaction of a running transaction counts as running: wait for its top.
            Status::InProgress => Err(WriteOutcome::Wait(tx.top(v.xmax))),
            Status::Committed if v.lock_only => Ok(()),
            Status::Committed => Err(match v.next {
                Some(n) => WriteOutcome::Moved(n),
                None => WriteOutcome::Deleted,
            }),
        }
    }

    /// Deletes the version at `ctid` for transaction `xid` (one of `own`).
    pub fn delete(&mut self, tx: &Transactions, ctid: Ctid, xid: Xid, cid: u32, own: &[Xid]) -> WriteOutcome {
        if let Err(o) = self.check_writable(tx, ctid, own) {
            return o;
        }
        let v = self.versions[ctid.0 as usize].as_mut().expect("checked above");
        v.xmax = xid;
        v.cmax = cid;
        v.lock_only = false;
        WriteOutcome::Ok(None)
    }

    /// Replaces the version at `ctid` with `row`: the old one is deleted, the new one linked.
    pub fn update(&mut self, tx: &Transactions, ctid: Ctid, xid: Xid, cid: u32, own: &[Xid], row: R) -> WriteOutcome {
        if let Err(o) = self.check_writable(tx, ctid, own) {
            return o;
        }
        let new = self.insert(xid, cid, row);
        let v = self.versions[ctid.0 as usize].as_mut().expect("checked above");
        v.xmax = xid;
        v.cmax = cid;
        v.lock_only = false;
        v.next = Some(new);
        WriteOutcome::Ok(Some(new))
    }

    /// SELECT ... FOR UPDATE: marks the row as held without deleting it.
    pub fn lock(&mut self, tx: &Transactions, ctid: Ctid, xid: Xid, own: &[Xid]) -> WriteOutcome {
        if let Err(o) = self.check_writable(tx, ctid, own) {
            return o;
        }
        let v = self.versions[ctid.0 as usize].as_mut().expect("checked above");
        if v.xmax == 0 || !own.contains(&v.xmax) || v.lock_only {
            v.xmax = xid;
            v.lock_only = true;
        }
        WriteOutcome::Ok(None)
    }

    /// Live and dead version counts as `pg_stat_user_tables` shows them (n_live_tup,
    /// n_dead_tup): dead = deleted or replaced by a committed transaction, or created by an
    /// aborted one.
    pub fn counts(&self, tx: &Transactions) -> (usize, usize) {
        let (mut live, mut dead) = (0, 0);
        for v in self.versions.iter().flatten() {
            let creator = tx.status(v.xmin);
            let deleter = if v.xmax == 0 || v.lock_only { None } else { Some(tx.status(v.xmax)) };
            if creator == Status::Aborted || deleter == Some(Status::Committed) {
                dead += 1;
            } else {
                live += 1;
            }
        }
        (live, dead)
    }

    /// VACUUM: removes the versions no snapshot can see any more — created by an aborted
    /// transaction, or deleted by one that committed before every running transaction began.
    /// Returns how many were removed. Their slots stay empty, so ctids do not move.
    pub fn vacuum(&mut self, tx: &Transactions) -> usize {
        let horizon = tx.horizon();
        let mut removed = 0;
        for slot in self.versions.iter_mut() {
            let Some(v) = slot else { continue };
            let creator_aborted = tx.status(v.xmin) == Status::Aborted;
            let deleted_long_ago =
                v.xmax != 0 && !v.lock_only && tx.status(v.xmax) == Status::Committed && tx.top(v.xmax) < horizon;
            if creator_aborted || deleted_long_ago {
                *slot = None;
                removed += 1;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(h: &Heap<&'static str>, tx: &Transactions, s: &Snapshot) -> Vec<&'static str> {
        h.scan(tx, s).map(|(_, v)| v.row).collect()
    }

    #[test]
    fn the_header_example() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t740 = tx.begin();
        let a = h.insert(t740, 0, "id1 balance100");
        h.insert(t740, 0, "id2 balance50");
        tx.commit(t740);
        let t751 = tx.begin();
        h.insert(t751, 0, "id3 aborted");
        tx.abort(t751);
        let t752 = tx.begin();
        let t753 = tx.begin();
        assert_eq!(h.update(&tx, a, t752, 0, &[t752], "id1 balance80"), WriteOutcome::Ok(Some(Ctid(3))));

        let s753 = tx.snapshot(vec![t753], 0);
        assert_eq!(rows(&h, &tx, &s753), vec!["id1 balance100", "id2 balance50"]);
        let s752 = tx.snapshot(vec![t752], 1);
        assert_eq!(rows(&h, &tx, &s752), vec!["id2 balance50", "id1 balance80"]);
        // 753 cannot change the row 752 holds: it must wait for 752.
        assert_eq!(h.update(&tx, a, t753, 0, &[t753], "x"), WriteOutcome::Wait(t752));

        tx.commit(t752);
        // The old snapshot still sees the old version (REPEATABLE READ); a new one sees the new.
        assert_eq!(rows(&h, &tx, &s753), vec!["id1 balance100", "id2 balance50"]);
        let fresh = tx.snapshot(vec![t753], 0);
        assert_eq!(rows(&h, &tx, &fresh), vec!["id2 balance50", "id1 balance80"]);
        // A writer on the old version learns where the row moved (EvalPlanQual, or 40001).
        assert_eq!(h.update(&tx, a, t753, 0, &[t753], "x"), WriteOutcome::Moved(Ctid(3)));
        assert_eq!(Ctid(3).to_string(), "(0,4)");
    }

    #[test]
    fn own_writes_are_seen_by_later_commands_only() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t = tx.begin();
        h.insert(t, 0, "a");
        assert!(rows(&h, &tx, &tx.snapshot(vec![t], 0)).is_empty());
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![t], 1)), vec!["a"]);
        // Another transaction sees nothing until the commit.
        let u = tx.begin();
        assert!(rows(&h, &tx, &tx.snapshot(vec![u], 0)).is_empty());
        tx.commit(t);
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![u], 0)), vec!["a"]);
    }

    #[test]
    fn rolling_back_a_savepoint_hides_its_writes() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t = tx.begin();
        h.insert(t, 0, "before savepoint");
        let sp = tx.begin_sub(t);
        h.insert(sp, 1, "inside savepoint");
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![t, sp], 2)).len(), 2);
        tx.abort(sp);
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![t], 2)), vec!["before savepoint"]);
        tx.commit(t);
        let other = tx.snapshot(vec![], 0);
        assert_eq!(rows(&h, &tx, &other), vec!["before savepoint"]);
    }

    #[test]
    fn a_released_savepoint_commits_with_its_parent_only() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t = tx.begin();
        let sp = tx.begin_sub(t);
        h.insert(sp, 0, "x");
        tx.commit(sp); // RELEASE SAVEPOINT
        assert_eq!(tx.status(sp), Status::InProgress, "invisible to others until the parent commits");
        assert!(rows(&h, &tx, &tx.snapshot(vec![], 0)).is_empty());
        tx.abort(t);
        assert_eq!(tx.status(sp), Status::Aborted);
        assert!(rows(&h, &tx, &tx.snapshot(vec![], 0)).is_empty());
    }

    #[test]
    fn an_old_snapshot_never_sees_a_subtransaction_of_a_then_running_transaction() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t = tx.begin();
        let stmt = tx.begin_sub(t);
        h.insert(stmt, 0, "x");
        tx.commit(stmt); // the statement ended; its transaction runs on
        let reader = tx.begin();
        let old = tx.snapshot(vec![reader], 0);
        assert!(rows(&h, &tx, &old).is_empty());
        tx.commit(t);
        assert!(rows(&h, &tx, &old).is_empty(), "the snapshot predates the commit");
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![reader], 0)), vec!["x"]);
    }

    #[test]
    fn aborted_deleters_and_row_locks_do_not_hide_rows() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t = tx.begin();
        let c = h.insert(t, 0, "row");
        tx.commit(t);
        let d = tx.begin();
        assert_eq!(h.delete(&tx, c, d, 0, &[d]), WriteOutcome::Ok(None));
        tx.abort(d);
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![], 0)), vec!["row"]);
        let l = tx.begin();
        assert_eq!(h.lock(&tx, c, l, &[l]), WriteOutcome::Ok(None));
        assert_eq!(rows(&h, &tx, &tx.snapshot(vec![], 0)), vec!["row"]);
        let w = tx.begin();
        assert_eq!(h.delete(&tx, c, w, 0, &[w]), WriteOutcome::Wait(l), "FOR UPDATE blocks writers");
        tx.commit(l);
        assert_eq!(h.delete(&tx, c, w, 0, &[w]), WriteOutcome::Ok(None), "a committed lock is released");
    }

    #[test]
    fn vacuum_removes_only_what_no_snapshot_needs() {
        let mut tx = Transactions::new();
        let mut h = Heap::new();
        let t = tx.begin();
        let c = h.insert(t, 0, 1);
        tx.commit(t);
        let reader = tx.begin(); // keeps the horizon back
        let u = tx.begin();
        h.update(&tx, c, u, 0, &[u], 2);
        tx.commit(u);
        assert_eq!(h.counts(&tx), (1, 1));
        assert_eq!(h.vacuum(&tx), 0, "the reader may still need the old version");
        tx.commit(reader);
        assert_eq!(h.vacuum(&tx), 1);
        assert_eq!(h.counts(&tx), (1, 0));
        let v: Vec<i32> = h.scan(&tx, &tx.snapshot(vec![], 0)).map(|(_, v)| v.row).collect();
        assert_eq!(v, vec![2]);
    }
}
