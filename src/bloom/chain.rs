//! A scalable Bloom filter (RedisBloom's `SBChain`): a chain of filters, each larger and
//! stricter than the one before, so the chain keeps its promised error rate however many items
//! arrive.
//!
//! ```text
//!   BF.RESERVE k 0.01 100 (EXPANSION 2):
//!     filter 0   capacity 100   error 0.005      1152 bits  k 8    ← created at once
//!     filter 1   capacity 200   error 0.0025     2496 bits  k 9    ← when filter 0 holds 100
//!     filter 2   capacity 400   error 0.00125    5568 bits  k 10   ← when filter 1 holds 200
//! ```
//!
//! The chain's false-positive rate is at most the sum of its filters' rates,
//! `0.005 + 0.0025 + 0.00125 + … < 0.01`: that is why even the first filter gets half the
//! requested rate (RedisBloom's `ERROR_TIGHTENING_RATIO`), unless the chain is `NONSCALING`
//! and will never have a second filter.
//!
//! An add first asks every filter, newest first, whether the item may be there; only if none
//! says so are the bits set, and only in the newest filter, which is replaced by a fresh one
//! first if it already holds its capacity. So each filter's item count is exact for what it
//! was given, and the chain's count (`BF.CARD`) only misses items that were false positives.
//!
//! # Serialised form (`BF.SCANDUMP` / `BF.LOADCHUNK`)
//!
//! Chunk 1 is a packed little-endian header, then the bit arrays follow in order, at most
//! [`BLOOM_SCANDUMP_CHUNK_BYTES_MAX`] per chunk and never spanning two filters. The cursor is
//! one plus the byte offset into the concatenated arrays where the next chunk starts.
//!
//! ```text
//!   header  size u64 | nfilters u32 | options u32 | growth u32                    20 bytes
//!   link    bytes u64 | bits u64 | size u64 | error f64 | bpe f64 | hashes u32 |
//!           entries u64 | n2 u8                                                 53 bytes each
//! ```

use super::filter::{Filter, ItemHash, Sizing, OPT_ALL, OPT_FORCE64, OPT_NO_SCALING};
use crate::limits::{
    BLOOM_CHAIN_BYTES_MAX, BLOOM_FILTERS_COUNT_MAX, BLOOM_HASHES_COUNT_MAX, BLOOM_SCANDUMP_CHUNK_BYTES_MAX,
};

/// Each new filter, and the first of a scaling chain, gets this fraction of the error rate of
/// the one before (of the requested rate, for the first).
pub const ERROR_TIGHTENING_RATIO: f64 = 0.5;

/// Bytes of the chain part of a dump header.
pub const HEADER_BYTES: usize = 8 + 4 + 4 + 4;
/// Bytes of one link in a dump header.
pub const LINK_BYTES: usize = 8 + 8 + 8 + 8 + 8 + 4 + 8 + 1;

/// RedisBloom's accounting for `BF.INFO … SIZE`: `sizeof(SBChain)` and `sizeof(SBLink)` on a
/// 64-bit build (the C structs' sizes, which its `mem_usage` callback adds to the bit arrays).
const CHAIN_STRUCT_BYTES: u64 = 32;
const LINK_STRUCT_BYTES: u64 = 64;

/// Why a chain could not be created (the two failures `bfCreateChain` reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateError {
    /// Capacity 0 or an error rate outside (0, 1): `ERR could not create filter`.
    Invalid,
    /// Over [`BLOOM_CHAIN_BYTES_MAX`]: `ERR Insufficient memory to create filter`.
    TooBig,
}

/// Why an add failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// A non-scaling filter holds its capacity: `ERR non scaling filter is full`.
    Full,
    /// The next filter could not be created (too big, or the error rate underflowed to 0):
    /// `ERR problem inserting into filter`.
    Failed,
}

/// Why a `BF.LOADCHUNK` was refused; each maps to one of RedisBloom's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// `ERR received bad data`
    BadData,
    /// `ERR invalid offset - no link found`
    NoLink,
    /// `ERR invalid chunk - Too big for current filter`
    TooBig,
}

#[derive(Clone, Debug)]
pub struct ScalingBloom {
    /// Oldest first; never empty.
    pub filters: Vec<Filter>,
    /// Items added over the whole chain.
    pub size: u64,
    /// `OPT_*` bits, kept as given so a dump round-trips them.
    pub options: u32,
    /// The expansion factor: each new filter's capacity is the last one's times this.
    pub growth: u32,
}

impl ScalingBloom {
    /// A chain with one empty filter of `capacity` items (RedisBloom's `SB_NewChain`).
    pub fn new(capacity: u64, error: f64, options: u32, growth: u32) -> Result<ScalingBloom, CreateError> {
        if capacity == 0 || error == 0.0 || error >= 1.0 {
            return Err(CreateError::Invalid);
        }
        let tightening = if options & OPT_NO_SCALING != 0 { 1.0 } else { ERROR_TIGHTENING_RATIO };
        let mut chain = ScalingBloom { filters: Vec::new(), size: 0, options, growth };
        chain.push_filter(capacity, error * tightening)?;
        Ok(chain)
    }

    /// Sizes a new filter, checks it against the limits, and only then allocates it.
    fn push_filter(&mut self, capacity: u64, error: f64) -> Result<(), CreateError> {
        let sizing = Sizing::compute(capacity, error, self.options).ok_or(CreateError::Invalid)?;
        let total = self.bytes().checked_add(sizing.bytes).ok_or(CreateError::TooBig)?;
        if total > BLOOM_CHAIN_BYTES_MAX || self.filters.len() >= BLOOM_FILTERS_COUNT_MAX {
            return Err(CreateError::TooBig);
        }
        self.filters.push(Filter::new(sizing));
        Ok(())
    }

    pub fn is_scaling(&self) -> bool {
        self.options & OPT_NO_SCALING == 0
    }

    fn hash(&self, item: &[u8]) -> ItemHash {
        ItemHash::of(item, self.options & OPT_FORCE64 != 0)
    }

    /// True if some filter reports the item (it may have been added; false positives possible).
    pub fn check(&self, item: &[u8]) -> bool {
        let h = self.hash(item);
        self.filters.iter().rev().any(|f| f.check(h))
    }

    /// Adds an item: `Ok(true)` if it was new, `Ok(false)` if some filter already reports it.
    pub fn add(&mut self, item: &[u8]) -> Result<bool, AddError> {
        let h = self.hash(item);
        if self.filters.iter().rev().any(|f| f.check(h)) {
            return Ok(false);
        }
        let last = self.filters.last().expect("a chain always has a filter");
        if last.size >= last.sizing.entries {
            if !self.is_scaling() {
                return Err(AddError::Full);
            }
            // C multiplies in size_t and lets it wrap; a wrapped 0 is then refused as invalid.
            let capacity = last.sizing.entries.wrapping_mul(u64::from(self.growth));
            let error = last.sizing.error * ERROR_TIGHTENING_RATIO;
            self.push_filter(capacity, error).map_err(|_| AddError::Failed)?;
        }
        let last = self.filters.last_mut().expect("a chain always has a filter");
        if last.add(h) {
            last.size += 1;
            self.size += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// `BF.INFO … CAPACITY`: the sum of the filters' capacities.
    pub fn capacity(&self) -> u64 {
        self.filters.iter().fold(0u64, |acc, f| acc.wrapping_add(f.sizing.entries))
    }

    /// Bytes in all bit arrays.
    pub fn bytes(&self) -> u64 {
        self.filters.iter().map(|f| f.sizing.bytes).sum()
    }

    /// `BF.INFO … SIZE`: RedisBloom's `BFMemUsage`, the C structs plus the bit arrays.
    pub fn mem_usage(&self) -> u64 {
        CHAIN_STRUCT_BYTES + LINK_STRUCT_BYTES * self.filters.len() as u64 + self.bytes()
    }

    // --------------------------------------------------------------------------------------------
    // BF.SCANDUMP / BF.LOADCHUNK
    // --------------------------------------------------------------------------------------------

    /// The dump header (RedisBloom's `SBChain_GetEncodedHeader`).
    pub fn encode_header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + LINK_BYTES * self.filters.len());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&(self.filters.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.options.to_le_bytes());
        out.extend_from_slice(&self.growth.to_le_bytes());
        for f in &self.filters {
            let s = &f.sizing;
            out.extend_from_slice(&s.bytes.to_le_bytes());
            out.extend_from_slice(&s.bits.to_le_bytes());
            out.extend_from_slice(&f.size.to_le_bytes());
            out.extend_from_slice(&s.error.to_le_bytes());
            out.extend_from_slice(&s.bpe.to_le_bytes());
            out.extend_from_slice(&s.hashes.to_le_bytes());
            out.extend_from_slice(&s.entries.to_le_bytes());
            out.push(s.n2);
        }
        out
    }

    /// A chain with the shape a header describes and every bit clear, to be filled by the
    /// chunks that follow (RedisBloom's `SB_NewChainFromHeader`). Every field is validated and
    /// the total size is checked against the limits before any bit array is allocated.
    pub fn from_header(buf: &[u8]) -> Result<ScalingBloom, LoadError> {
        let mut r = Reader(buf);
        let size = r.u64()?;
        let nfilters = r.u32()? as usize;
        let options = r.u32()?;
        let growth = r.u32()?;
        if nfilters == 0 || buf.len() != HEADER_BYTES + LINK_BYTES * nfilters || nfilters > BLOOM_FILTERS_COUNT_MAX {
            return Err(LoadError::BadData);
        }
        let mut links = Vec::with_capacity(nfilters);
        let mut total_bytes = 0u64;
        for _ in 0..nfilters {
            let bytes = r.u64()?;
            let bits = r.u64()?;
            let link_size = r.u64()?;
            let error = r.f64()?;
            let bpe = r.f64()?;
            let hashes = r.u32()?;
            let entries = r.u64()?;
            let n2 = r.u8()?;
            let sizing = Sizing { entries, error, bpe, bits, bytes, hashes, n2 };
            if !sizing.is_consistent() || hashes > BLOOM_HASHES_COUNT_MAX {
                return Err(LoadError::BadData);
            }
            total_bytes = total_bytes.checked_add(bytes).ok_or(LoadError::BadData)?;
            links.push((sizing, link_size));
        }
        // RedisBloom's allocation would fail for absurd sizes and answer "bad data"; here the
        // limit is explicit and checked before a single array is reserved.
        if total_bytes > BLOOM_CHAIN_BYTES_MAX || options & !OPT_ALL != 0 {
            return Err(LoadError::BadData);
        }
        let mut sum = 0u64;
        for &(_, link_size) in &links {
            sum = sum.checked_add(link_size).ok_or(LoadError::BadData)?;
        }
        if sum != size {
            return Err(LoadError::BadData);
        }
        let filters =
            links.into_iter().map(|(sizing, link_size)| Filter { size: link_size, ..Filter::new(sizing) }).collect();
        Ok(ScalingBloom { filters, size, options, growth })
    }

    /// Which filter the cursor points into, and the byte offset inside it.
    fn link_at(&self, cursor: i64) -> Option<(usize, u64)> {
        if cursor < 1 {
            return None;
        }
        let mut pos = (cursor - 1) as u64;
        for (i, f) in self.filters.iter().enumerate() {
            if pos < f.sizing.bytes {
                return Some((i, pos));
            }
            pos -= f.sizing.bytes;
        }
        None
    }

    /// The chunk at cursor `iter` (≥ 1) and the cursor after it; `(0, [])` past the end.
    pub fn chunk(&self, iter: i64) -> (i64, &[u8]) {
        let Some((i, offset)) = self.link_at(iter) else { return (0, &[]) };
        let f = &self.filters[i];
        let len = (f.sizing.bytes - offset).min(BLOOM_SCANDUMP_CHUNK_BYTES_MAX);
        let start = offset as usize;
        // `len` is at most 16 MiB and `iter` at most 1 + 512 MiB, so this cannot overflow.
        (iter + len as i64, &f.bit_array[start..start + len as usize])
    }

    /// Copies a chunk produced by [`chunk`](Self::chunk) back into place. `iter` is the cursor
    /// that chunk returned, i.e. where the chunk *ends*.
    pub fn load_chunk(&mut self, iter: i64, data: &[u8]) -> Result<(), LoadError> {
        if iter <= 0 || (iter as u64) < data.len() as u64 {
            return Err(LoadError::BadData);
        }
        let start = iter - data.len() as i64;
        let (i, offset) = self.link_at(start).ok_or(LoadError::NoLink)?;
        let f = &mut self.filters[i];
        if data.len() as u64 > f.sizing.bytes - offset {
            return Err(LoadError::TooBig);
        }
        let offset = offset as usize;
        f.bit_array[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
}

/// A little-endian cursor over a header; running out of bytes is bad data.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        if self.0.len() < N {
            return Err(LoadError::BadData);
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("split_at(N) yields N bytes"))
    }
    fn u8(&mut self) -> Result<u8, LoadError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, LoadError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, LoadError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, LoadError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::filter::OPT_NOROUND;
    use super::*;

    const NEW: u32 = OPT_FORCE64 | OPT_NOROUND;

    /// FNV-1a 64, used to compare whole bit arrays with those RedisBloom's C code produced.
    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn add_all(c: &mut ScalingBloom, prefix: &str, n: usize) -> usize {
        (0..n).filter(|i| c.add(format!("{prefix}{i}").as_bytes()).expect("add")).count()
    }

    #[test]
    fn info_numbers_for_fresh_chains() {
        // (error, capacity, options) → BF.INFO Capacity and Size, as in the design notes.
        let cases: &[(f64, u64, u32, u64, u64)] = &[
            (0.01, 100, NEW, 100, 240),
            (0.01, 1000, NEW, 1000, 1480),
            (0.01, 10_000, NEW | OPT_NO_SCALING, 10_000, 12_080),
            (0.001, 500, NEW, 500, 1088),
            (0.0001, 123_456, NEW | OPT_NO_SCALING, 123_456, 295_936),
        ];
        for &(e, n, o, cap, size) in cases {
            let c = ScalingBloom::new(n, e, o, 2).unwrap();
            assert_eq!((c.capacity(), c.mem_usage(), c.filters.len()), (cap, size, 1), "{e} / {n}");
        }
    }

    #[test]
    fn scaling_chain_matches_redisbloom_bit_for_bit() {
        let mut c = ScalingBloom::new(100, 0.01, NEW, 2).unwrap();
        // 700 distinct items, 4 of which were false positives on the way (RedisBloom: same).
        assert_eq!(add_all(&mut c, "item", 700), 696);
        assert_eq!((c.filters.len(), c.size, c.capacity(), c.mem_usage()), (3, 696, 700, 1376));
        let per_link: Vec<_> =
            c.filters.iter().map(|f| (f.sizing.entries, f.sizing.bits, f.sizing.hashes, f.size)).collect();
        assert_eq!(per_link, [(100, 1152, 8, 100), (200, 2496, 9, 200), (400, 5568, 10, 396)]);
        assert_eq!(c.filters[1].sizing.error, 0.0025);
        // The bit arrays and the header are byte-identical to RedisBloom's for the same adds.
        let fnvs: Vec<u64> = c.filters.iter().map(|f| fnv(&f.bit_array)).collect();
        assert_eq!(fnvs, [0x99766c2755584529, 0x28c8c952cf403ea3, 0x9d8f995e4de0c99b]);
        let hdr = c.encode_header();
        assert_eq!(hdr.len(), HEADER_BYTES + 3 * LINK_BYTES);
        assert_eq!(hdr.len(), 179);
        assert_eq!(fnv(&hdr), 0x1bbc2a7f85acb3ba);
    }

    #[test]
    fn header_layout_of_a_default_filter() {
        let mut c = ScalingBloom::new(100, 0.01, NEW, 2).unwrap();
        c.add(b"hello").unwrap();
        // size 1 | nfilters 1 | options 5 | growth 2 | bytes 144 | bits 1152 | size 1 |
        // error 0.005 | bpe 11.0277… | hashes 8 | entries 100 | n2 0
        assert_eq!(
            hex(&c.encode_header()),
            "0100000000000000010000000500000002000000900000000000000080040000000000000100000000000000\
             7b14ae47e17a743fe9862fb2350e264008000000640000000000000000"
        );
        assert_eq!(fnv(&c.filters[0].bit_array), 0xf0735f9488239bc5);
    }

    #[test]
    fn nonscaling_filter_fills_and_measures_its_error_rate() {
        let mut c = ScalingBloom::new(10_000, 0.01, NEW | OPT_NO_SCALING, 2).unwrap();
        let mut added = 0;
        let mut full = 0;
        for i in 0..10_100 {
            match c.add(format!("k{i}").as_bytes()) {
                Ok(true) => added += 1,
                Ok(false) => {}
                Err(AddError::Full) => full += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(added, 10_000, "fills exactly to capacity");
        assert!(full > 0, "then refuses new items");
        assert_eq!(c.filters.len(), 1);
        let fp = (0..10_000).filter(|i| c.check(format!("x{i}").as_bytes())).count();
        let rate = fp as f64 / 10_000.0;
        assert!((0.005..=0.016).contains(&rate), "false-positive rate {rate}");
    }

    #[test]
    fn redisbloom_false_positive_count_at_9984_items() {
        // RedisBloom, adding k0..k10000 to the same filter, ends with 9984 items (16 adds were
        // false positives) and finds 112 of x0..x9999; the bits must agree exactly.
        let mut c = ScalingBloom::new(10_000, 0.01, NEW | OPT_NO_SCALING, 2).unwrap();
        for i in 0..10_001 {
            let _ = c.add(format!("k{i}").as_bytes());
        }
        assert_eq!(c.size, 9984);
        assert_eq!(fnv(&c.filters[0].bit_array), 0x6239f092913bbcdc);
        assert_eq!((0..10_000).filter(|i| c.check(format!("x{i}").as_bytes())).count(), 112);
    }

    #[test]
    fn a_scaling_filter_past_capacity_adds_filters() {
        let mut c = ScalingBloom::new(100, 0.01, NEW, 2).unwrap();
        add_all(&mut c, "a", 150);
        assert_eq!(c.filters.len(), 2);
        assert_eq!(c.filters[1].sizing.entries, 200);
        for i in 0..150 {
            assert!(c.check(format!("a{i}").as_bytes()), "no false negatives");
        }
    }

    #[test]
    fn legacy_options_behave_like_redisbloom() {
        // Options 0: 32-bit MurmurHash2, power-of-two sizing.
        let mut c = ScalingBloom::new(100, 0.01, 0, 2).unwrap();
        add_all(&mut c, "item", 150);
        let f = &c.filters[0];
        assert_eq!((f.sizing.entries, f.sizing.bits, f.sizing.n2, f.size), (185, 2048, 11, 150));
        assert_eq!(fnv(&f.bit_array), 0x50fb108edc151e3c);
        let mut c = ScalingBloom::new(12, 0.01, super::super::filter::OPT_ENTS_IS_BITS, 2).unwrap();
        add_all(&mut c, "item", 50);
        assert_eq!(fnv(&c.filters[0].bit_array), 0x6b380daa9b7bb6a9);
    }

    #[test]
    fn error_halving_ends_the_chain_at_1072_filters() {
        // Capacity 1, expansion 1, error 0.25: filter i has error 2^-(3+i); 2^-1074 is the last
        // non-zero double, so RedisBloom fails the add that would need filter 1073.
        let mut c = ScalingBloom::new(1, 0.25, NEW, 1).unwrap();
        let mut i = 0;
        let err = loop {
            if let Err(e) = c.add(format!("t{i}").as_bytes()) {
                break e;
            }
            i += 1;
        };
        assert_eq!((err, c.filters.len(), i), (AddError::Failed, 1072, 2218));
    }

    #[test]
    fn scandump_then_loadchunk_round_trips() {
        let mut c = ScalingBloom::new(100, 0.01, NEW, 2).unwrap();
        add_all(&mut c, "item", 700);
        let header = c.encode_header();
        let mut copy = ScalingBloom::from_header(&header).unwrap();
        assert!(copy.filters.iter().all(|f| f.bits_set() == 0));
        let mut iter = 1;
        let mut chunks = 0;
        loop {
            let (next, data) = c.chunk(iter);
            if next == 0 {
                assert!(data.is_empty());
                break;
            }
            copy.load_chunk(next, data).unwrap();
            iter = next;
            chunks += 1;
        }
        assert_eq!(chunks, 3, "one chunk per filter, as each is under 16 MiB");
        assert_eq!(copy.encode_header(), header);
        for (a, b) in c.filters.iter().zip(&copy.filters) {
            assert_eq!(a.bit_array, b.bit_array);
        }
        assert!((0..700).all(|i| copy.check(format!("item{i}").as_bytes())));
        // The cursors: 1 → 145 → 457 → 1153 (1 + 144 + 312 + 696), then the end.
        assert_eq!(c.chunk(1).0, 145);
        assert_eq!(c.chunk(145).0, 457);
        assert_eq!(c.chunk(457).0, 1153);
        assert_eq!(c.chunk(1153), (0, &[][..]));
        assert_eq!(c.chunk(-5), (0, &[][..]));
        // A chunk may also start mid-filter.
        assert_eq!(c.chunk(10).0, 145);
    }

    #[test]
    fn bad_headers_and_chunks_are_refused() {
        let c = ScalingBloom::new(100, 0.01, NEW, 2).unwrap();
        let good = c.encode_header();
        assert_eq!(ScalingBloom::from_header(&good[..72]).unwrap_err(), LoadError::BadData);
        assert_eq!(ScalingBloom::from_header(b"").unwrap_err(), LoadError::BadData);
        let mut bad = good.clone();
        bad[0] = 1; // size 1 but the link says 0
        assert_eq!(ScalingBloom::from_header(&bad).unwrap_err(), LoadError::BadData);
        let mut bad = good.clone();
        bad[12] = 0x10; // unknown option bit
        assert_eq!(ScalingBloom::from_header(&bad).unwrap_err(), LoadError::BadData);
        // A link claiming 2^40 bytes (and consistent bits) is refused before allocating.
        let mut bad = good.clone();
        bad[20..28].copy_from_slice(&(1u64 << 40).to_le_bytes());
        bad[28..36].copy_from_slice(&(1u64 << 43).to_le_bytes());
        assert_eq!(ScalingBloom::from_header(&bad).unwrap_err(), LoadError::BadData);

        let mut copy = ScalingBloom::from_header(&good).unwrap();
        assert_eq!(copy.load_chunk(0, b"x"), Err(LoadError::BadData));
        assert_eq!(copy.load_chunk(1, b"xy"), Err(LoadError::BadData));
        assert_eq!(copy.load_chunk(1, b"x"), Err(LoadError::NoLink));
        assert_eq!(copy.load_chunk(146, b"x"), Err(LoadError::NoLink));
        assert_eq!(copy.load_chunk(146, &[0xff; 145]), Err(LoadError::TooBig));
        assert_eq!(copy.load_chunk(145, &[0xff; 144]), Ok(()));
    }

    #[test]
    fn oversized_filters_are_refused_before_allocating() {
        // 2^30 items at 1e-10 would need 2^30 × 49.4 bits ≈ 6.2 GiB.
        assert_eq!(ScalingBloom::new(1 << 30, 1e-10, NEW, 2).unwrap_err(), CreateError::TooBig);
        assert_eq!(ScalingBloom::new(0, 0.01, NEW, 2).unwrap_err(), CreateError::Invalid);
    }
}
