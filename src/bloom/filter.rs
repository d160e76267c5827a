//! One Bloom filter, RedisBloom's `struct bloom`: how big it is, which bits an item sets, and
//! the two operations on them.
//!
//! # Sizing
//!
//! For a capacity `n` and a false-positive rate `p`, the optimal filter spends
//! `bpe = −ln(p) / ln²2` bits per entry and probes `k = ⌈ln 2 · bpe⌉` bits per item. RedisBloom
//! then takes `⌊n · bpe⌋` bits (option `NOROUND`, used by every filter it creates today) and
//! rounds the array up to whole 64-bit words:
//!
//! ```text
//!   p = 0.005, n = 100:  bpe = 5.2983 / 0.480453 = 11.0278    k = ⌈0.693147 × 11.0278⌉ = ⌈7.64⌉ = 8
//!                        ⌊100 × 11.0278⌋ = 1102 bits  →  18 words  =  1152 bits  =  144 bytes
//! ```
//!
//! Filters from RedisBloom before 2.0 (no `NOROUND`) round the bit count up to a power of two
//! instead and keep the exponent in `n2`; those probe `mod 2^n2` rather than `mod bits`. They
//! can only arrive here through `BF.LOADCHUNK` (or grow from one), and are supported so that
//! such a dump behaves exactly as it did in RedisBloom.
//!
//! # Probing (Kirsch–Mitzenmacher double hashing)
//!
//! An item is hashed once into two 64-bit values `a` and `b`; probe `i` (for `i` in `0..k`) is
//! bit `(a + i·b) mod m`, computed in wrapping 64-bit arithmetic as in C. Bit `x` lives in byte
//! `x / 8` under mask `1 << (x % 8)`, so bit 0 is the low bit of the first byte; that layout is
//! what `BF.SCANDUMP` ships.

use super::murmur::{murmur_hash2, murmur_hash64a, M64};

/// RedisBloom's `LN2`, written with 15 decimals. `k` is computed with this constant, not with
/// `std::f64::consts::LN_2`, so that a product landing just on an integer rounds the same way.
#[allow(clippy::approx_constant)]
pub const LN2: f64 = 0.693147180559945;

/// RedisBloom's `ln(2)²`, also as written in its source.
pub const LN2_SQUARED: f64 = 0.480453013918201;

/// Do not round the bit count to a power of two (every filter RedisBloom creates today).
pub const OPT_NOROUND: u32 = 1;
/// The "capacity" given is a power-of-two exponent for the bit count, not a number of items.
pub const OPT_ENTS_IS_BITS: u32 = 2;
/// Hash with 64-bit MurmurHash64A instead of 32-bit MurmurHash2 (every filter created today).
pub const OPT_FORCE64: u32 = 4;
/// The chain never adds a second filter; a full filter refuses new items.
pub const OPT_NO_SCALING: u32 = 8;
/// Every option bit a header may carry; anything else marks the header as corrupt.
pub const OPT_ALL: u32 = OPT_NOROUND | OPT_ENTS_IS_BITS | OPT_FORCE64 | OPT_NO_SCALING;

/// The two hashes an item is reduced to. Computed once per command and reused for every
/// sub-filter of a chain, as RedisBloom does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemHash {
    pub a: u64,
    pub b: u64,
}

impl ItemHash {
    /// `a = H(item, seed)`, `b = H(item, seed a)`: MurmurHash64A seeded with its own multiplier
    /// for 64-bit filters, MurmurHash2 seeded with `0x9747b28c` for legacy 32-bit ones.
    pub fn of(item: &[u8], force64: bool) -> ItemHash {
        if force64 {
            let a = murmur_hash64a(item, M64);
            ItemHash { a, b: murmur_hash64a(item, a) }
        } else {
            let a = murmur_hash2(item, 0x9747_b28c);
            ItemHash { a: u64::from(a), b: u64::from(murmur_hash2(item, a)) }
        }
    }
}

/// Bits per entry for an error rate: `−ln(p) / ln²2`.
pub fn bits_per_entry(error: f64) -> f64 {
    (-(error.ln() / LN2_SQUARED)).abs()
}

/// The hash count for a bits-per-entry figure: `⌈ln2 · bpe⌉`, or `None` when it would not fit
/// C's `int` (only a corrupt header can ask for that).
pub fn hash_count(bpe: f64) -> Option<u32> {
    let k = (LN2 * bpe).ceil();
    if k.is_finite() && k >= 0.0 && k <= f64::from(i32::MAX) {
        Some(k as u32)
    } else {
        None
    }
}

/// Everything that describes a filter except its bits: the fields of RedisBloom's
/// `struct bloom` (and of one link in a `BF.SCANDUMP` header).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizing {
    /// Capacity: how many items the filter takes before the chain adds another.
    pub entries: u64,
    /// The false-positive rate this filter was sized for.
    pub error: f64,
    /// Bits per entry, `−ln(error) / ln²2`.
    pub bpe: f64,
    /// Size of the bit array in bits; always `bytes × 8`.
    pub bits: u64,
    /// Size of the bit array in bytes; always a multiple of 8.
    pub bytes: u64,
    /// Probes per item, `⌈ln2 · bpe⌉`.
    pub hashes: u32,
    /// For legacy power-of-two filters, `log2` of the probe modulus; 0 for current filters.
    pub n2: u8,
}

impl Sizing {
    /// RedisBloom's `bloom_init` arithmetic, without allocating. `None` is its "invalid
    /// argument" answer (no capacity, an error rate outside (0, 1), a size beyond 2^64 bits).
    pub fn compute(entries: u64, error: f64, options: u32) -> Option<Sizing> {
        // Written so that NaN is refused too; C would let it through to undefined behaviour.
        if entries < 1 || !(error > 0.0 && error < 1.0) {
            return None;
        }
        let bpe = bits_per_entry(error);
        let mut entries = entries;
        let n2: u8;
        let bits: u64;
        if options & OPT_ENTS_IS_BITS != 0 {
            if entries > 63 {
                // C accepts 64 and then shifts by 64, which is undefined; refuse it here.
                return None;
            }
            n2 = entries as u8;
            bits = 1u64 << n2;
            entries = (bits as f64 / bpe) as u64;
        } else if options & OPT_NOROUND != 0 {
            // `as` saturates where C's cast is undefined; either way the size check refuses it.
            bits = ((entries as f64 * bpe) as u64).max(1);
            n2 = 0;
        } else {
            let want = entries as f64 * bpe;
            // C's logb: the binary exponent, floor(log2(want)).
            if !want.is_finite() || want < 1.0 {
                return None;
            }
            let exp = want.log2().floor();
            if exp > 62.0 {
                return None;
            }
            n2 = exp as u8 + 1;
            bits = 1u64 << n2;
            // The rounding leaves room for more items than asked: RedisBloom adds them to the
            // capacity (truncating twice, as its size_t conversions do).
            let bit_diff = (bits as f64 - want) as u64;
            let item_diff = (bit_diff as f64 / bpe) as u64;
            entries = entries.wrapping_add(item_diff);
        }
        let bytes = bits.div_ceil(64) * 8;
        Some(Sizing { entries, error, bpe, bits: bytes * 8, bytes, hashes: hash_count(bpe)?, n2 })
    }

    /// RedisBloom's `bloom_validate_integrity`, for a link read from a `BF.LOADCHUNK` header.
    pub fn is_consistent(&self) -> bool {
        self.error > 0.0
            && self.error < 1.0
            && self.n2 <= 63
            && (self.n2 == 0 || self.bits >= 1u64 << self.n2)
            && self.bits != 0
            && self.bits == self.bytes.wrapping_mul(8)
            && hash_count(self.bpe) == Some(self.hashes)
    }

    /// What probe positions are reduced modulo: the bit count, or `2^n2` for legacy filters.
    pub fn modulus(&self) -> u64 {
        if self.n2 > 0 {
            1u64 << self.n2
        } else {
            self.bits
        }
    }
}

/// One sub-filter: its sizing, its bits, and how many items were added to it.
#[derive(Clone, Debug)]
pub struct Filter {
    pub sizing: Sizing,
    /// `sizing.bytes` bytes; bit `x` is `bit_array[x / 8] & (1 << (x % 8))`.
    pub bit_array: Vec<u8>,
    /// Items added to this filter (false positives at add time are not counted).
    pub size: u64,
}

impl Filter {
    /// A filter with every bit clear. The caller has already checked `sizing.bytes` against
    /// the memory limit; `Sizing` guarantees `bits == bytes × 8`, so every probe is in range.
    pub fn new(sizing: Sizing) -> Filter {
        Filter { sizing, bit_array: vec![0; sizing.bytes as usize], size: 0 }
    }

    /// The `k` bit positions an item probes.
    pub fn probes(&self, h: ItemHash) -> impl Iterator<Item = u64> {
        let m = self.sizing.modulus();
        (0..u64::from(self.sizing.hashes)).map(move |i| h.a.wrapping_add(i.wrapping_mul(h.b)) % m)
    }

    /// True if every probed bit is set: the item may have been added.
    pub fn check(&self, h: ItemHash) -> bool {
        self.probes(h).all(|x| self.bit_array[(x >> 3) as usize] & (1 << (x & 7)) != 0)
    }

    /// Sets the probed bits; true if at least one was clear (the item is new to this filter).
    pub fn add(&mut self, h: ItemHash) -> bool {
        let mut found_unset = false;
        let m = self.sizing.modulus();
        for i in 0..u64::from(self.sizing.hashes) {
            let x = h.a.wrapping_add(i.wrapping_mul(h.b)) % m;
            let byte = &mut self.bit_array[(x >> 3) as usize];
            let mask = 1u8 << (x & 7);
            if *byte & mask == 0 {
                *byte |= mask;
                found_unset = true;
            }
        }
        found_unset
    }

    /// How many bits are set (for BF.DEBUG's fill report).
    pub fn bits_set(&self) -> u64 {
        self.bit_array.iter().map(|b| u64::from(b.count_ones())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: u32 = OPT_FORCE64 | OPT_NOROUND;

    fn sizing(error: f64, entries: u64) -> Sizing {
        Sizing::compute(entries, error, NEW).expect("valid sizing")
    }

    /// Worked by hand from the formulas in the module header, then confirmed against the
    /// figures RedisBloom's `bloom_init` prints for the same arguments.
    #[test]
    fn sizing_matches_the_formulas() {
        // p 0.005 (0.01 tightened): bpe 11.0278, ⌊100 × 11.0278⌋ = 1102 → 1152 bits, k ⌈7.644⌉ = 8.
        let s = sizing(0.005, 100);
        assert_eq!((s.bits, s.bytes, s.hashes, s.entries, s.n2), (1152, 144, 8, 100, 0));
        assert!((s.bpe - 11.027753418256411).abs() < 1e-12);
        // p 0.005, n 1000: ⌊11027.75⌋ = 11027 → 173 words = 11072 bits.
        let s = sizing(0.005, 1000);
        assert_eq!((s.bits, s.bytes, s.hashes), (11072, 1384, 8));
        // p 0.01 (non-scaling keeps it), n 10000: bpe 9.5851, ⌊95850.58⌋ = 95850 → 1498 words.
        let s = sizing(0.01, 10_000);
        assert_eq!((s.bits, s.bytes, s.hashes), (95_872, 11_984, 7));
        // p 0.0005, n 500: bpe 15.8203, ⌊7910.14⌋ → 124 words = 7936 bits; k ⌈10.966⌉ = 11.
        let s = sizing(0.0005, 500);
        assert_eq!((s.bits, s.bytes, s.hashes), (7936, 992, 11));
        // Second and third links of a default chain: 200 at 0.0025 and 400 at 0.00125.
        let s = sizing(0.0025, 200);
        assert_eq!((s.bits, s.hashes), (2496, 9));
        let s = sizing(0.00125, 400);
        assert_eq!((s.bits, s.hashes), (5568, 10));
        // Tiny filters still get one whole word.
        let s = sizing(0.05, 1);
        assert_eq!((s.bits, s.bytes, s.hashes), (64, 8, 5));
        let s = sizing(0.5, 3);
        assert_eq!((s.bits, s.hashes), (64, 2));
        // p 0.0001, n 123456: bpe 19.1701, ⌊2366654.9⌋ → 36980 words; k ⌈13.29⌉ = 14.
        let s = sizing(0.0001, 123_456);
        assert_eq!((s.bits, s.bytes, s.hashes), (2_366_720, 295_840, 14));
        // p 5e-11: bpe 49.368, k 35.
        let s = sizing(5e-11, 1000);
        assert_eq!((s.bits, s.hashes), (49_408, 35));
    }

    #[test]
    fn legacy_power_of_two_sizing() {
        // 100 × 11.03 = 1102.8 → next power of two 2048 (n2 11); the spare 945 bits buy 85
        // more entries: capacity 185.
        let s = Sizing::compute(100, 0.005, 0).unwrap();
        assert_eq!((s.bits, s.bytes, s.n2, s.entries, s.hashes), (2048, 256, 11, 185, 8));
        assert_eq!(s.modulus(), 2048);
        // ENTS_IS_BITS: 2^12 bits, capacity 4096 / 11.03 = 371.
        let s = Sizing::compute(12, 0.005, OPT_ENTS_IS_BITS).unwrap();
        assert_eq!((s.bits, s.n2, s.entries), (4096, 12, 371));
    }

    #[test]
    fn invalid_arguments_are_refused() {
        assert!(Sizing::compute(0, 0.01, NEW).is_none());
        assert!(Sizing::compute(10, 0.0, NEW).is_none());
        assert!(Sizing::compute(10, 1.0, NEW).is_none());
        assert!(Sizing::compute(10, f64::NAN, NEW).is_none());
        assert!(Sizing::compute(64, 0.01, OPT_ENTS_IS_BITS).is_none());
    }

    #[test]
    fn hello_probes_the_bits_redisbloom_probes() {
        let mut f = Filter::new(sizing(0.005, 100));
        let h = ItemHash::of(b"hello", true);
        assert_eq!(f.probes(h).collect::<Vec<_>>(), [537, 957, 97, 517, 809, 77, 497, 789]);
        assert!(!f.check(h));
        assert!(f.add(h));
        assert!(f.check(h));
        assert!(!f.add(h), "a second add finds every bit set");
        assert_eq!(f.bits_set(), 8);
        // Bit 537 is byte 67, mask 1 << 1.
        assert_eq!(f.bit_array[67], 0b10);
    }

    #[test]
    fn consistency_check_follows_bloom_validate_integrity() {
        let good = sizing(0.005, 100);
        assert!(good.is_consistent());
        assert!(!Sizing { bits: 1151, ..good }.is_consistent());
        assert!(!Sizing { hashes: 9, ..good }.is_consistent());
        assert!(!Sizing { error: 1.0, ..good }.is_consistent());
        assert!(!Sizing { n2: 11, ..good }.is_consistent(), "1152 bits cannot hold 2^11");
        assert!(Sizing { n2: 10, ..good }.is_consistent());
        assert!(!Sizing { bits: 0, bytes: 0, ..good }.is_consistent());
    }
}
