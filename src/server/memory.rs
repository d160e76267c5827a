//! `used_memory`, `maxmemory` and eviction.
//!
//! Redis knows its memory use exactly because every allocation goes through `zmalloc`, which
//! adds the size to a counter. terrarium does the same with a counting global allocator around
//! the system one: [`used_bytes`] is what the whole process has allocated and not freed (the
//! keyspace, buffers, the SQL store, Lua), which is what Redis's INFO `used_memory` means too.
//! The alternative, reading RSS from /proc, would be wrong in the direction that matters:
//! freed memory often stays in the process, so eviction would never see its effect and would
//! empty the keyspace.
//!
//! When `maxmemory` is set and exceeded, commands run [`evict`] first (as Redis's
//! `performEvictions` before each command); under `noeviction`, or when nothing is left to evict,
//! commands flagged `denyoom` are refused with Redis's `-OOM` error.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rand::Rng;

use crate::kv::Keyspace;

/// The system allocator, counting live bytes.
pub struct CountingAllocator;

static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

// The one place terrarium needs `unsafe` besides the script bridge: a global allocator is an
// `unsafe` trait, because the compiler trusts it to hand out valid memory. This one adds nothing
// to the system allocator's contract; it only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        ALLOCATED_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                ALLOCATED_BYTES.fetch_add(new_size - layout.size(), Ordering::Relaxed);
            } else {
                ALLOCATED_BYTES.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Bytes the process has allocated and not yet freed.
pub fn used_bytes() -> u64 {
    ALLOCATED_BYTES.load(Ordering::Relaxed) as u64
}

/// `maxmemory` in bytes; 0 is no limit. Process-wide for the reason `kv::encoding` gives.
static MAXMEMORY_BYTES: AtomicU64 = AtomicU64::new(0);

pub fn maxmemory_bytes() -> u64 {
    MAXMEMORY_BYTES.load(Ordering::Relaxed)
}

pub fn set_maxmemory_bytes(v: u64) {
    MAXMEMORY_BYTES.store(v, Ordering::Relaxed);
}

/// Whether a limit is set and the process is over it.
pub fn over_limit() -> bool {
    let max = maxmemory_bytes();
    max > 0 && used_bytes() > max
}

/// Parses a memory amount as Redis's config does: a plain number of bytes, or one with a unit
/// (`k`, `kb`, `m`, `mb`, `g`, `gb`; `k` is 1000 and `kb` 1024), case-insensitively.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let (digits, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suffix, mul)| l.strip_suffix(suffix).map(|d| (d, *mul)))
    .unwrap_or((l.as_str(), 1));
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// The `maxmemory-policy` values Redis accepts.
pub const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// How many keys each eviction round looks at before choosing one, as Redis's
/// `maxmemory-samples` default: approximate LRU, not a full scan.
const EVICTION_SAMPLES_COUNT: usize = 5;

/// Evicts keys under `policy` until the process is under `maxmemory` or there is nothing the
/// policy may evict. Returns false if it is still over the limit. Each evicted key is announced
/// as an `evicted` keyspace event.
pub fn evict(ks: &mut Keyspace, policy: &str, now_ms: i64) -> bool {
    if policy == "noeviction" {
        return !over_limit();
    }
    let volatile = policy.starts_with("volatile-");
    let mut rng = rand::thread_rng();
    while over_limit() {
        // Sample from the databases that have candidates, LRU/TTL picking the best of the sample.
        let dbs: Vec<usize> = (0..ks.dbs.len())
            .filter(|&d| if volatile { ks.dbs[d].expires_count() > 0 } else { !ks.dbs[d].is_empty() })
            .collect();
        if dbs.is_empty() {
            return false;
        }
        let db = dbs[rng.gen_range(0..dbs.len())];
        let samples = if policy.ends_with("-random") { 1 } else { EVICTION_SAMPLES_COUNT };
        let mut best: Option<(i64, bytes::Bytes)> = None;
        for _ in 0..samples {
            let d = &ks.dbs[db];
            let (key, score) = if volatile {
                let n = d.expires.len();
                let Some((at, k)) = d.expires.iter().nth(rng.gen_range(0..n)) else { break };
                let idle = d.map.get(k).map(|e| now_ms - e.access_ms).unwrap_or(0);
                // Higher score is evicted first: the longest idle, or the nearest deadline.
                (k.clone(), if policy == "volatile-ttl" { -at } else { idle })
            } else {
                let n = d.map.len();
                let Some((k, e)) = d.map.iter().nth(rng.gen_range(0..n)) else { break };
                (k.clone(), now_ms - e.access_ms)
            };
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, key));
            }
        }
        let Some((_, key)) = best else { return false };
        ks.evict(db, &key);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_amounts_parse_as_redis_config_does() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2MB"), Some(2 << 20));
        assert_eq!(parse_memory("1g"), Some(1_000_000_000));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
    }

    #[test]
    fn the_counter_sees_allocations() {
        let before = used_bytes();
        // Other tests allocate and free at the same time, hence the wide margin.
        let v = vec![1u8; 64 << 20];
        assert!(used_bytes() >= before + (32 << 20), "a 64 MB vector shows");
        drop(v);
    }
}
