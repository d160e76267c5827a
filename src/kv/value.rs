//! The values a key can hold, and how each reports its Redis encoding.
//!
//! Redis stores small collections compactly (listpack, intset) and switches to hash tables and
//! skiplists as they grow. terrarium keeps one representation per type but remembers what
//! Redis would have chosen where the choice is visible to a client:
//!
//! * `OBJECT ENCODING` reports the encoding Redis 7.0 would report.
//! * A small hash keeps insertion order, because Redis's listpack does and HGETALL shows it;
//!   [`indexmap`] gives that order, and deletions shift (preserving order) while small.
//! * A set of integers replies in ascending numeric order while Redis would keep it as an
//!   intset; once a non-integer or the 513th member arrives, it never goes back, as in Redis.

use std::collections::VecDeque;

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};

use crate::kv::encoding;
use crate::kv::zset::ZSet;

/// A hash: an insertion-ordered map (it derefs to the map), and whether Redis would have
/// converted it from a listpack to a hash table by now.
///
/// The flag is sticky, as Redis never converts a hash back, and is decided at write time with
/// the thresholds of that moment ([`HashValue::note_insert`]); deciding it when OBJECT ENCODING
/// asks would go wrong as soon as `CONFIG SET hash-max-listpack-*` changes in between.
#[derive(Debug, Clone, Default)]
pub struct HashValue {
    map: IndexMap<Bytes, Bytes, ahash::RandomState>,
    pub hashtable: bool,
}

impl std::ops::Deref for HashValue {
    type Target = IndexMap<Bytes, Bytes, ahash::RandomState>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl std::ops::DerefMut for HashValue {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.map
    }
}

impl HashValue {
    /// Every write that adds or replaces a field calls this with the field's and the value's
    /// length, after the insert: Redis's `hashTypeTryConversion` and the length check after it.
    pub fn note_insert(&mut self, field_len: usize, value_len: usize) {
        if !self.hashtable {
            let max_value = encoding::hash_max_value();
            if field_len > max_value || value_len > max_value || self.map.len() > encoding::hash_max_entries() {
                self.hashtable = true;
            }
        }
    }

    /// Sets a field and notes it for the encoding; returns the previous value.
    pub fn set(&mut self, field: Bytes, value: Bytes) -> Option<Bytes> {
        let (f, v) = (field.len(), value.len());
        let old = self.map.insert(field, value);
        self.note_insert(f, v);
        old
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    Str(Vec<u8>),
    List(VecDeque<Bytes>),
    Hash(HashValue),
    Set(SetValue),
    ZSet(Box<ZSet>),
    /// A RedisBloom scalable Bloom filter (a module type in Redis; see [`crate::bloom`]).
    Bloom(Box<crate::bloom::ScalingBloom>),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            // RedisBloom's module type name, which Redis's TYPE reports for module values.
            Value::Bloom(_) => "MBbloom--",
        }
    }

    /// What `OBJECT ENCODING` says, following Redis 7.0's rules and default thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::resp::codec::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            // Redis 7.0 stores every list as a quicklist (listpack lists arrived in 7.2).
            Value::List(_) => "quicklist",
            Value::Hash(h) => {
                if h.hashtable {
                    "hashtable"
                } else {
                    "listpack"
                }
            }
            Value::Set(s) => {
                if s.intset {
                    "intset"
                } else {
                    "hashtable"
                }
            }
            // The set itself remembers whether it ever outgrew listpack: Redis never converts back.
            Value::ZSet(z) => {
                if z.is_listpack() {
                    "listpack"
                } else {
                    "skiplist"
                }
            }
            // Redis creates every module value with the raw encoding.
            Value::Bloom(_) => "raw",
        }
    }
}

/// Removes `field` from a hash, keeping insertion order while Redis would still hold it in a
/// listpack (where deletion shifts), and in O(1) once it would be a hash table (unordered).
pub fn hash_remove(h: &mut HashValue, field: &[u8]) -> Option<Bytes> {
    if !h.hashtable {
        h.shift_remove(field)
    } else {
        h.swap_remove(field)
    }
}

/// A set, remembering whether Redis would still hold it as an intset.
#[derive(Debug, Clone, Default)]
pub struct SetValue {
    pub members: IndexSet<Bytes, ahash::RandomState>,
    /// True while every member is an integer and there are at most 512 of them.
    pub intset: bool,
}

impl SetValue {
    pub fn new() -> Self {
        SetValue { members: IndexSet::default(), intset: true }
    }

    /// Adds a member; returns true if it was new.
    pub fn insert(&mut self, m: Bytes) -> bool {
        if self.intset
            && (crate::resp::codec::parse_i64(&m).is_none() || self.members.len() >= encoding::set_max_intset_entries())
        {
            // Redis also refuses intset for members like "+1" or "01", which parse_i64 rejects.
            if !self.members.contains(&m) {
                self.intset = false;
            }
        }
        self.members.insert(m)
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        if self.intset {
            self.members.shift_remove(m)
        } else {
            self.members.swap_remove(m)
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.contains(m)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members in the order Redis would reply them: ascending integers for an intset.
    pub fn ordered(&self) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self.members.iter().cloned().collect();
        if self.intset {
            v.sort_by_key(|m| crate::resp::codec::parse_i64(m).unwrap_or(0));
        }
        v
    }

    /// Builds a set from members, starting as an intset if they allow it.
    pub fn from_members<I: IntoIterator<Item = Bytes>>(items: I) -> Self {
        let mut s = SetValue::new();
        for m in items {
            s.insert(m);
        }
        s
    }
}
