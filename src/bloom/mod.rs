//! Bloom filters as RedisBloom builds them, bit for bit: the same sizing, the same hash, the
//! same scaling, so `BF.INFO` reports RedisBloom's numbers and a `BF.SCANDUMP` taken here loads
//! into a real RedisBloom (and the other way round).
//!
//! * [`murmur`]: MurmurHash64A (and the 32-bit MurmurHash2 of legacy filters).
//! * [`filter`]: one filter: sizing from capacity and error rate, the `k` probes, add and check.
//! * [`chain`]: the scalable filter (a chain of filters), its memory accounting and dump format.
//!
//! The commands (`BF.RESERVE`, `BF.ADD`, …) live in `kv::cmd::bloom`; a filter is stored in
//! the keyspace as `Value::Bloom`, whose `TYPE` is RedisBloom's module type name `MBbloom--`.
//!
//! # One BF.ADD, end to end
//!
//! `BF.ADD k hello` on a missing key first creates a filter with the defaults below: capacity
//! 100, error rate 0.01, expansion 2. The first filter of a scaling chain is built for half the
//! rate, 0.005 (see [`chain`] for why), which fixes its shape:
//!
//! ```text
//!   bits per entry  bpe = −ln(0.005) / ln²2 = 5.29832 / 0.480453       = 11.0278
//!   hashes          k   = ⌈ln2 · bpe⌉       = ⌈0.693147 × 11.0278⌉ = ⌈7.644⌉ = 8
//!   bits                = ⌊100 × 11.0278⌋ = 1102, up to a multiple of 64 = 1152  (144 bytes)
//!   BF.INFO Size        = 32 (chain struct) + 64 (one link struct) + 144  = 240
//! ```
//!
//! Then the item is hashed twice with MurmurHash64A, the second time seeded with the first
//! result:
//!
//! ```text
//!   a = H("hello", 0xc6a4a7935bd1e995) = 0x5ba5b8a59803e699
//!   b = H("hello", a)                  = 0xa7d451d588a0c2a4
//!   probe i = (a + i·b) mod 1152, the sum wrapping at 2^64 as in C:
//!     i    0    1    2    3    4    5    6    7
//!     bit  537  957  97   517  809  77   497  789
//! ```
//!
//! No filter has all eight bits set, so the item is new: the bits are set (bit 537 is byte 67,
//! mask `1 << 1`), the filter's and the chain's item counts go to 1, and BF.ADD answers 1. A
//! later `BF.EXISTS k hello` probes the same eight bits and finds them all set. An item never
//! added answers 1 only if all of *its* eight bits happen to be set by others: about 0.5% of
//! the time once this filter holds its 100 items.
//!
//! # Deliberate limits
//!
//! One key's bit arrays may total at most [`crate::limits::BLOOM_CHAIN_BYTES_MAX`]; beyond
//! that, creating or growing a filter fails with the error RedisBloom gives when its allocation
//! fails. See `protocol-spec/bloom.md` for every difference from RedisBloom.

pub mod chain;
pub mod filter;
pub mod murmur;

pub use chain::{AddError, CreateError, LoadError, ScalingBloom};
pub use filter::{Filter, ItemHash, Sizing};

/// RedisBloom's `bf-error-rate` default: the error rate of a filter created by BF.ADD/BF.INSERT.
pub const DEFAULT_ERROR_RATE: f64 = 0.01;
/// RedisBloom's `bf-initial-size` default: the capacity of an auto-created filter.
pub const DEFAULT_CAPACITY: i64 = 100;
/// RedisBloom's `bf-expansion-factor` default: each new filter holds twice the last one.
pub const DEFAULT_EXPANSION: i64 = 2;
/// Error rates above this are silently lowered to it (RedisBloom logs a warning): a filter
/// that is wrong a quarter of the time is already of little use.
pub const ERROR_RATE_CAP: f64 = 0.25;
