//! The keyspace: sixteen databases of keys, their expiry deadlines, and the bookkeeping that
//! other clients depend on (WATCH, blocked pops).
//!
//! # One owner
//!
//! The whole keyspace sits behind a single mutex (`server::Shared::keyspace`). A connection
//! decodes its requests and encodes its replies outside the lock, takes the lock once for
//! everything its last read delivered, and releases it. The alternative, a sharded map such as
//! `DashMap`, would let two clients touch different keys at the same instant, but then
//! MULTI/EXEC and Lua scripts could not be atomic across keys without a second locking scheme
//! layered on top. Redis itself runs commands on one thread for the same reason; one mutex gives
//! us the same guarantee ("no command runs in the middle of another one, a transaction, or a
//! script") with short critical sections, and leaves the socket work parallel.
//!
//! # Expiry
//!
//! ```text
//!   Db.map:      "a" -> Entry { value, expire_at_ms: Some(1700000005000) }
//!                "b" -> Entry { value, expire_at_ms: None }
//!   Db.expires:  {(1700000005000, "a")}       ordered by deadline
//! ```
//!
//! A key whose deadline has passed is dead: every lookup checks the deadline first and deletes
//! the key lazily. Keys nobody reads would then live forever, so [`Keyspace::active_expire`]
//! also walks `expires` from the earliest deadline, a bounded number of keys per tick. Redis
//! samples twenty random keys instead; an ordered index costs a little more per EXPIRE but makes
//! the active cycle exact and deterministic, which is what tests on a manual clock want.
//!
//! Time is always a parameter (`now_ms`): nothing in here reads a clock.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::kv::notify;
use crate::kv::value::Value;
use crate::limits::{ACTIVE_EXPIRE_KEYS_PER_TICK_MAX, DATABASES_COUNT};
use crate::resp::Frame;

#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: Option<i64>,
    /// Last time the key was read or written, for OBJECT IDLETIME.
    pub access_ms: i64,
    /// A string changed in place (SETRANGE, APPEND, SETBIT): Redis has unshared it into a `raw`
    /// object by then, whatever its content, and OBJECT ENCODING says so until it is replaced.
    pub raw: bool,
}

impl Entry {
    /// What OBJECT ENCODING reports for this key.
    pub fn encoding(&self) -> &'static str {
        match self.value {
            Value::Str(_) if self.raw => "raw",
            ref v => v.encoding(),
        }
    }
}

type Map = HashMap<Bytes, Entry, ahash::RandomState>;

#[derive(Debug, Default)]
pub struct Db {
    pub map: Map,
    pub expires: BTreeSet<(i64, Bytes)>,
}

impl Db {
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn expires_count(&self) -> usize {
        self.expires.len()
    }
}

/// Counters INFO reports.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Changes since start (Redis's `server.dirty`, reported as `rdb_changes_since_last_save`).
    pub dirty: u64,
}

/// A pop (or move) a blocked client is waiting to perform as soon as one of its keys has data.
pub trait BlockedOp: Send {
    /// Tries to serve the waiter from `key`, which was just written. `None` leaves it waiting.
    fn serve(&mut self, ks: &mut Keyspace, db: usize, key: &Bytes, now_ms: i64, resp3: bool) -> Option<Frame>;
    /// What the client gets when its timeout passes.
    fn timeout_reply(&self) -> Frame;
}

pub struct Waiter {
    db: usize,
    keys: Vec<Bytes>,
    resp3: bool,
    op: Box<dyn BlockedOp>,
    tx: oneshot::Sender<Frame>,
}

/// Blocked clients, first come first served per key (Redis's `blocking_keys`).
pub struct Blocking {
    waiters: HashMap<u64, Waiter>,
    /// Per database, the waiters on each key, oldest first. Indexed by db so that a write can
    /// look its key up as `&[u8]` without building an owned key.
    by_key: Vec<HashMap<Bytes, VecDeque<u64>>>,
    ready: VecDeque<(usize, Bytes)>,
    next_id: u64,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            waiters: HashMap::new(),
            by_key: (0..DATABASES_COUNT).map(|_| HashMap::new()).collect(),
            ready: VecDeque::new(),
            next_id: 0,
        }
    }
}

impl Blocking {
    pub fn count(&self) -> usize {
        self.waiters.len()
    }

    /// Queues `key` to be served after the current command, once.
    fn mark_ready(&mut self, db: usize, key: &[u8]) {
        if !self.ready.iter().any(|(d, k)| *d == db && k == key) {
            self.ready.push_back((db, Bytes::copy_from_slice(key)));
        }
    }
}

pub struct Keyspace {
    pub dbs: Vec<Db>,
    pub stats: Stats,
    pub blocking: Blocking,
    /// Per database, the clients WATCHing each key (indexed by db for the same reason).
    /// Each watcher also carries whether the key was already logically expired (present but past
    /// its deadline) when watched: Redis 7's rule is that such a "stale" key being deleted is no
    /// change, so it must not dirty the transaction (see `touch` and `touch_watched_in_db`).
    watchers: Vec<HashMap<Bytes, Vec<(u64, bool)>>>,
    dirty_clients: HashSet<u64>,
    /// DEBUG SET-ACTIVE-EXPIRE 0 turns the active cycle off (Redis's test suite uses it).
    pub active_expire_enabled: bool,
    /// `notify-keyspace-events` as flags (see `kv::notify`), and the events waiting to be
    /// published once the current command is done.
    pub notify_flags: u32,
    pub events: Vec<crate::kv::notify::Event>,
}

impl Default for Keyspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyspace {
    pub fn new() -> Self {
        Keyspace {
            dbs: (0..DATABASES_COUNT).map(|_| Db::default()).collect(),
            stats: Stats::default(),
            blocking: Blocking::default(),
            watchers: (0..DATABASES_COUNT).map(|_| HashMap::new()).collect(),
            dirty_clients: HashSet::new(),
            active_expire_enabled: true,
            notify_flags: 0,
            events: Vec::new(),
        }
    }

    // ----------------------------------------------------------------------------------------
    // Lookups. Each one deletes the key first if its deadline has passed.
    // ----------------------------------------------------------------------------------------

    /// Deletes `key` if it is expired; true if it was.
    fn expire_if_needed(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        let d = &mut self.dbs[db];
        let Some(e) = d.map.get(key) else { return false };
        match e.expire_at_ms {
            Some(at) if at <= now_ms => {
                let (k, _) = d.map.remove_entry(key).expect("present");
                d.expires.remove(&(at, k.clone()));
                self.stats.expired_keys += 1;
                self.touch(db, &k);
                self.notify(notify::EXPIRED, "expired", db, &k);
                true
            }
            _ => false,
        }
    }

    pub fn entry(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        self.expire_if_needed(db, key, now_ms);
        let e = self.dbs[db].map.get_mut(key)?;
        e.access_ms = now_ms;
        Some(e)
    }

    /// A lookup that does not count as an access (OBJECT IDLETIME must not reset itself).
    pub fn peek(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.expire_if_needed(db, key, now_ms);
        self.dbs[db].map.get(key)
    }

    pub fn get(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        self.entry(db, key, now_ms).map(|e| &mut e.value)
    }

    /// A lookup that counts towards `keyspace_hits`/`keyspace_misses`, as reads do in Redis.
    pub fn get_counted(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        self.expire_if_needed(db, key, now_ms);
        match self.dbs[db].map.get_mut(key) {
            Some(e) => {
                self.stats.keyspace_hits += 1;
                e.access_ms = now_ms;
                Some(&mut e.value)
            }
            None => {
                self.stats.keyspace_misses += 1;
                None
            }
        }
    }

    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        self.expire_if_needed(db, key, now_ms);
        self.dbs[db].map.contains_key(key)
    }

    /// The key's deadline, if it exists and has one.
    pub fn expire_at(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<i64> {
        self.entry(db, key, now_ms).and_then(|e| e.expire_at_ms)
    }

    // ----------------------------------------------------------------------------------------
    // Writes. Every write ends in `touch`, which is how WATCH and blocked clients hear of it.
    // ----------------------------------------------------------------------------------------

    /// Stores `value` at `key`, replacing any old value and clearing its TTL (Redis's `setKey`).
    pub fn set(&mut self, db: usize, key: Bytes, value: Value, now_ms: i64) {
        self.set_with_expire(db, key, value, None, now_ms)
    }

    /// Stores `value` with the given deadline (`None`: no TTL).
    pub fn set_with_expire(&mut self, db: usize, key: Bytes, value: Value, expire_at_ms: Option<i64>, now_ms: i64) {
        let d = &mut self.dbs[db];
        let existed = match d.map.get(&key) {
            Some(old) => {
                if let Some(at) = old.expire_at_ms {
                    d.expires.remove(&(at, key.clone()));
                }
                true
            }
            None => false,
        };
        if let Some(at) = expire_at_ms {
            d.expires.insert((at, key.clone()));
        }
        d.map.insert(key.clone(), Entry { value, expire_at_ms, access_ms: now_ms, raw: false });
        self.touch(db, &key);
        if !existed {
            self.notify(notify::NEW, "new", db, &key);
        }
    }

    /// Replaces the value but keeps the TTL (SET KEEPTTL, and in-place rewrites).
    pub fn set_keep_ttl(&mut self, db: usize, key: Bytes, value: Value, now_ms: i64) {
        let at = self.expire_at(db, &key, now_ms);
        self.set_with_expire(db, key, value, at, now_ms)
    }

    /// Deletes a key; returns its value if it existed (and was not expired).
    pub fn remove(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<Value> {
        if self.expire_if_needed(db, key, now_ms) {
            return None;
        }
        let d = &mut self.dbs[db];
        let (k, e) = d.map.remove_entry(key)?;
        if let Some(at) = e.expire_at_ms {
            d.expires.remove(&(at, k.clone()));
        }
        self.touch(db, &k);
        Some(e.value)
    }

    /// Sets or clears the deadline of an existing key. Returns false if the key does not exist.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at_ms: Option<i64>, now_ms: i64) -> bool {
        self.expire_if_needed(db, key, now_ms);
        let d = &mut self.dbs[db];
        let Some(e) = d.map.get_mut(key) else { return false };
        let k = Bytes::copy_from_slice(key);
        if let Some(old) = e.expire_at_ms {
            d.expires.remove(&(old, k.clone()));
        }
        e.expire_at_ms = at_ms;
        if let Some(at) = at_ms {
            d.expires.insert((at, k.clone()));
        }
        self.touch(db, &k);
        true
    }

    /// Deletes `key` if its collection became empty, as Redis never keeps empty collections.
    pub fn remove_if_empty(&mut self, db: usize, key: &[u8]) {
        let empty = match self.dbs[db].map.get(key).map(|e| &e.value) {
            Some(Value::List(l)) => l.is_empty(),
            Some(Value::Hash(h)) => h.is_empty(),
            Some(Value::Set(s)) => s.is_empty(),
            Some(Value::ZSet(z)) => z.len() == 0,
            _ => false,
        };
        if empty {
            let d = &mut self.dbs[db];
            if let Some((k, e)) = d.map.remove_entry(key) {
                if let Some(at) = e.expire_at_ms {
                    d.expires.remove(&(at, k.clone()));
                }
                // Every command that empties a collection announces the key's deletion after
                // its own event, as Redis's do.
                self.notify(notify::GENERIC, "del", db, &k);
            }
        }
    }

    /// Marks a string as changed in place (`raw`), or as rewritten whole (INCR) when `raw` is false.
    pub fn set_raw(&mut self, db: usize, key: &[u8], raw: bool) {
        if let Some(e) = self.dbs[db].map.get_mut(key) {
            e.raw = raw;
        }
    }

    /// Queues a keyspace event if its class is switched on (see `kv::notify`).
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        let f = self.notify_flags;
        if f & class != 0 && f & (notify::KEYSPACE | notify::KEYEVENT) != 0 {
            self.events.push(notify::Event { db, event, key: Bytes::copy_from_slice(key) });
        }
    }

    /// Deletes a key to free memory (`maxmemory`), announcing it as `evicted`.
    pub fn evict(&mut self, db: usize, key: &[u8]) {
        let d = &mut self.dbs[db];
        let Some((k, e)) = d.map.remove_entry(key) else { return };
        if let Some(at) = e.expire_at_ms {
            d.expires.remove(&(at, k.clone()));
        }
        self.stats.evicted_keys += 1;
        self.touch(db, &k);
        self.notify(notify::EVICTED, "evicted", db, &k);
    }

    /// Records that `key` changed: counts it, dirties the WATCHers of it, and marks it ready for
    /// clients blocked on it. Commands that modify a value in place call this themselves.
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        self.stats.dirty += 1;
        let gone = !self.dbs[db].map.contains_key(key);
        if let Some(ids) = self.watchers[db].get_mut(key) {
            for (id, stale) in ids.iter_mut() {
                if *stale && gone {
                    // Stale when watched, deleted now: logically nothing changed. From here on the
                    // key is an ordinary missing key.
                    *stale = false;
                    continue;
                }
                self.dirty_clients.insert(*id);
            }
        }
        if self.blocking.by_key[db].contains_key(key) {
            self.blocking.mark_ready(db, key);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Whole databases.
    // ----------------------------------------------------------------------------------------

    /// Empties one database. WATCHers of keys that existed are dirtied (Redis's
    /// `touchAllWatchedKeysInDb`); watching a key that did not exist survives a flush.
    pub fn flush_db(&mut self, db: usize, now_ms: i64) -> usize {
        let n = self.dbs[db].len();
        self.touch_watched_in_db(db, None, now_ms);
        self.dbs[db] = Db::default();
        self.stats.dirty += n as u64;
        n
    }

    pub fn flush_all(&mut self, now_ms: i64) -> usize {
        (0..self.dbs.len()).map(|db| self.flush_db(db, now_ms)).sum()
    }

    pub fn swap_db(&mut self, a: usize, b: usize, now_ms: i64) {
        self.touch_watched_in_db(a, Some(b), now_ms);
        self.touch_watched_in_db(b, Some(a), now_ms);
        self.dbs.swap(a, b);
        // Clients blocked on keys in either db may now find data there.
        for d in [a, b] {
            let keys: Vec<Bytes> =
                self.blocking.by_key[d].keys().filter(|k| self.dbs[d].map.contains_key(*k)).cloned().collect();
            for k in keys {
                self.blocking.mark_ready(d, &k);
            }
        }
    }

    /// FLUSHDB (`other` = None) or SWAPDB (`other` = the db taking this one's place) as Redis's
    /// `touchAllWatchedKeysInDb`: a watched key that existed or will exist dirties its watchers,
    /// except that a stale key emptied away is no change, a stale key replaced by another stale key
    /// is no change, and a missing key replaced by a stale one becomes stale.
    fn touch_watched_in_db(&mut self, db: usize, other: Option<usize>, now_ms: i64) {
        let expired = |d: &Db, k: &[u8]| d.map.get(k).is_some_and(|e| e.expire_at_ms.is_some_and(|at| at <= now_ms));
        let mut dirty = Vec::new();
        let keys: Vec<Bytes> = self.watchers[db].keys().cloned().collect();
        for k in keys {
            let in_emptied = self.dbs[db].map.contains_key(&k);
            let in_other = other.is_some_and(|o| self.dbs[o].map.contains_key(&k));
            if !(in_emptied || in_other) {
                continue;
            }
            let other_expired = other.is_some_and(|o| expired(&self.dbs[o], &k));
            let Some(ids) = self.watchers[db].get_mut(&k) else { continue };
            for (id, stale) in ids.iter_mut() {
                if *stale {
                    if !in_other {
                        *stale = false;
                        continue;
                    } else if other_expired {
                        continue;
                    }
                } else if !in_emptied && other_expired {
                    *stale = true;
                    continue;
                }
                dirty.push(*id);
            }
        }
        self.dirty_clients.extend(dirty);
    }

    /// Removes expired keys, earliest deadline first, at most a bounded number per call.
    /// Returns how many were removed.
    pub fn active_expire(&mut self, now_ms: i64) -> usize {
        let mut removed = 0;
        if !self.active_expire_enabled {
            return 0;
        }
        for db in 0..self.dbs.len() {
            while removed < ACTIVE_EXPIRE_KEYS_PER_TICK_MAX {
                let Some((at, key)) = self.dbs[db].expires.first().cloned() else { break };
                if at > now_ms {
                    break;
                }
                self.expire_if_needed(db, &key, now_ms);
                removed += 1;
            }
        }
        removed
    }

    // ----------------------------------------------------------------------------------------
    // WATCH.
    // ----------------------------------------------------------------------------------------

    /// Starts watching `key` for a client; `stale` says the key exists but has already expired.
    pub fn watch(&mut self, client_id: u64, db: usize, key: Bytes, stale: bool) {
        let ids = self.watchers[db].entry(key).or_default();
        if !ids.iter().any(|(i, _)| *i == client_id) {
            ids.push((client_id, stale));
        }
    }

    /// Whether a client's watch on `key` is still of a stale key.
    pub fn watch_is_stale(&self, client_id: u64, db: usize, key: &[u8]) -> bool {
        self.watchers[db].get(key).is_some_and(|ids| ids.iter().any(|(i, s)| *i == client_id && *s))
    }

    /// Forgets all of a client's watches; returns whether any watched key changed meanwhile.
    pub fn unwatch_all(&mut self, client_id: u64, keys: &[(usize, Bytes)]) -> bool {
        for (db, key) in keys {
            if let Some(ids) = self.watchers[*db].get_mut(key) {
                ids.retain(|&(i, _)| i != client_id);
                if ids.is_empty() {
                    self.watchers[*db].remove(key);
                }
            }
        }
        self.dirty_clients.remove(&client_id)
    }

    pub fn is_dirty(&self, client_id: u64) -> bool {
        self.dirty_clients.contains(&client_id)
    }

    /// Number of keys watched by anyone (INFO's `watching_clients` uses clients instead).
    pub fn watched_keys_count(&self) -> usize {
        self.watchers.iter().map(|w| w.len()).sum()
    }

    // ----------------------------------------------------------------------------------------
    // Blocked clients.
    // ----------------------------------------------------------------------------------------

    /// Registers a client waiting on `keys`. The reply arrives on the returned receiver.
    pub fn block(
        &mut self,
        db: usize,
        keys: Vec<Bytes>,
        resp3: bool,
        op: Box<dyn BlockedOp>,
    ) -> (u64, oneshot::Receiver<Frame>) {
        let (tx, rx) = oneshot::channel();
        let b = &mut self.blocking;
        b.next_id += 1;
        let id = b.next_id;
        for k in &keys {
            b.by_key[db].entry(k.clone()).or_default().push_back(id);
        }
        b.waiters.insert(id, Waiter { db, keys, resp3, op, tx });
        (id, rx)
    }

    /// Removes a waiter (timeout, disconnect, CLIENT UNBLOCK). Returns its timeout reply if it
    /// was still waiting, `None` if it had already been served.
    pub fn unblock(&mut self, id: u64) -> Option<Frame> {
        let w = self.blocking.waiters.remove(&id)?;
        self.forget_waiter_keys(id, w.db, &w.keys);
        Some(w.op.timeout_reply())
    }

    fn forget_waiter_keys(&mut self, id: u64, db: usize, keys: &[Bytes]) {
        for k in keys {
            if let Some(q) = self.blocking.by_key[db].get_mut(k) {
                q.retain(|&i| i != id);
                if q.is_empty() {
                    self.blocking.by_key[db].remove(k);
                }
            }
        }
    }

    /// Serves blocked clients whose keys were written, first come first served, until no ready
    /// key can serve anyone. Runs after each command (after EXEC as a whole, after a script as
    /// a whole), never in the middle of one, exactly where Redis runs `handleClientsBlockedOnKeys`.
    pub fn serve_blocked(&mut self, now_ms: i64) {
        while let Some((db, key)) = self.blocking.ready.pop_front() {
            loop {
                let Some(&id) = self.blocking.by_key[db].get(&key).and_then(|q| q.front()) else {
                    break;
                };
                let Some(mut w) = self.blocking.waiters.remove(&id) else {
                    // Stale id (already served through another key); drop it from this queue.
                    self.forget_waiter_keys(id, db, std::slice::from_ref(&key));
                    continue;
                };
                if w.tx.is_closed() {
                    self.forget_waiter_keys(id, w.db, &w.keys);
                    continue;
                }
                match w.op.serve(self, db, &key, now_ms, w.resp3) {
                    Some(reply) => {
                        self.forget_waiter_keys(id, w.db, &w.keys);
                        let _ = w.tx.send(reply);
                    }
                    None => {
                        self.blocking.waiters.insert(id, w);
                        break;
                    }
                }
            }
        }
    }

    pub fn has_ready_keys(&self) -> bool {
        !self.blocking.ready.is_empty()
    }
}
