//! The thresholds at which Redis switches a collection from its compact encoding (listpack,
//! intset) to the general one (hash table, skiplist), as `CONFIG SET` changes them.
//!
//! Redis keeps these in its one global `server` struct, and terrarium keeps them process-wide
//! too, in atomics, rather than threading a configuration through every value method: a value
//! decides its encoding in the middle of an insert (`ZSet::insert`, `SetValue::insert`), far
//! from any context object. One RESP server runs per process, so process-wide is per server.
//! (Tests that start several servers in one process must not change these and expect the
//! others to keep the defaults.)
//!
//! Each setting has two names in Redis 7.0, the old `ziplist` one and the new `listpack` one;
//! [`set`] answers which names a `CONFIG SET` should update.

use std::sync::atomic::{AtomicUsize, Ordering};

static HASH_MAX_LISTPACK_ENTRIES: AtomicUsize = AtomicUsize::new(128);
static HASH_MAX_LISTPACK_VALUE: AtomicUsize = AtomicUsize::new(64);
static ZSET_MAX_LISTPACK_ENTRIES: AtomicUsize = AtomicUsize::new(128);
static ZSET_MAX_LISTPACK_VALUE: AtomicUsize = AtomicUsize::new(64);
static SET_MAX_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(512);

pub fn hash_max_entries() -> usize {
    HASH_MAX_LISTPACK_ENTRIES.load(Ordering::Relaxed)
}
pub fn hash_max_value() -> usize {
    HASH_MAX_LISTPACK_VALUE.load(Ordering::Relaxed)
}
pub fn zset_max_entries() -> usize {
    ZSET_MAX_LISTPACK_ENTRIES.load(Ordering::Relaxed)
}
pub fn zset_max_value() -> usize {
    ZSET_MAX_LISTPACK_VALUE.load(Ordering::Relaxed)
}
pub fn set_max_intset_entries() -> usize {
    SET_MAX_INTSET_ENTRIES.load(Ordering::Relaxed)
}

/// Applies `CONFIG SET name value` if `name` is an encoding threshold. Returns the parameter
/// names that now hold `value` (both spellings), or `None` for any other parameter. A value
/// that is not a non-negative integer is refused with `Err`.
pub fn set(name: &str, value: &str) -> Option<Result<&'static [&'static str], ()>> {
    let (cell, names): (&AtomicUsize, &'static [&'static str]) = match name {
        "hash-max-listpack-entries" | "hash-max-ziplist-entries" => {
            (&HASH_MAX_LISTPACK_ENTRIES, &["hash-max-listpack-entries", "hash-max-ziplist-entries"])
        }
        "hash-max-listpack-value" | "hash-max-ziplist-value" => {
            (&HASH_MAX_LISTPACK_VALUE, &["hash-max-listpack-value", "hash-max-ziplist-value"])
        }
        "zset-max-listpack-entries" | "zset-max-ziplist-entries" => {
            (&ZSET_MAX_LISTPACK_ENTRIES, &["zset-max-listpack-entries", "zset-max-ziplist-entries"])
        }
        "zset-max-listpack-value" | "zset-max-ziplist-value" => {
            (&ZSET_MAX_LISTPACK_VALUE, &["zset-max-listpack-value", "zset-max-ziplist-value"])
        }
        "set-max-intset-entries" => (&SET_MAX_INTSET_ENTRIES, &["set-max-intset-entries"]),
        _ => return None,
    };
    Some(match value.parse::<usize>() {
        Ok(v) => {
            cell.store(v, Ordering::Relaxed);
            Ok(names)
        }
        Err(_) => Err(()),
    })
}
