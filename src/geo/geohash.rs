//! The 52-bit geohash: encoding a coordinate into interleaved bits, decoding bits back into a
//! cell, and stepping to the neighbouring cells.
//!
//! A hash at precision `step` is two `step`-bit integers, the latitude cell and the longitude
//! cell, with their bits interleaved: latitude bits in the even positions (0, 2, 4, …) and
//! longitude bits in the odd ones. Interleaving is what makes the hash useful as a sorted-set
//! score: two points whose hashes share a prefix of `2k` bits lie in the same cell of a
//! `2^k × 2^k` grid, so "every point in this cell" is one contiguous score interval.
//!
//! ```text
//!   latitude cell   a2 a1 a0          longitude cell   o2 o1 o0
//!   interleaved     o2 a2 o1 a1 o0 a0       (bit 5 … bit 0)
//! ```
//!
//! See [`super`] for a worked example with real numbers.

/// The precision of stored hashes: 26 steps of 2 bits = 52 bits, which a double (and so a
/// sorted-set score) holds exactly.
pub const STEP_MAX: u8 = 26;

/// Latitude limits of the Web Mercator projection (EPSG:900913 / EPSG:3785). Redis refuses
/// coordinates beyond them, and encodes latitudes over this range rather than over ±90.
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;

/// A hash of `step` cells per axis. The all-zero value (`bits` 0 and `step` 0) means "no
/// cell": the search blanks out neighbours it does not need that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    pub bits: u64,
    pub step: u8,
}

impl HashBits {
    pub const NONE: HashBits = HashBits { bits: 0, step: 0 };

    pub fn is_none(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash as a 52-bit score: the cell's bits moved to the top of the 52, so that a cell
    /// at a coarse step covers every score that starts with its bits.
    pub fn align52(&self) -> u64 {
        self.bits.wrapping_shl(52u32.wrapping_sub(self.step as u32 * 2))
    }

    /// The score interval `[min, max)` holding every point of this cell: the aligned hash,
    /// and the aligned hash of the next cell along the interleaved order.
    ///
    /// ```text
    ///   step 3, bits 101010:  min 101010 0000…0000 (46 zeros)   included
    ///                         max 101011 0000…0000              excluded
    /// ```
    pub fn score_range(&self) -> (u64, u64) {
        let next = HashBits { bits: self.bits.wrapping_add(1), step: self.step };
        (self.align52(), next.align52())
    }
}

/// A closed interval of degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    fn is_zero(&self) -> bool {
        self.min == 0.0 && self.max == 0.0
    }
}

/// The longitude range every hash is computed over.
pub const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
/// The latitude range stored hashes are computed over (Mercator's limits).
pub const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };
/// The latitude range of the standard geohash (geohash.org), which GEOHASH re-encodes to.
pub const STANDARD_LAT_RANGE: Range = Range { min: -90.0, max: 90.0 };

/// A decoded cell: its hash and the rectangle of coordinates it covers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Area {
    pub hash: HashBits,
    pub lon: Range,
    pub lat: Range,
}

/// Moves the low 32 bits of `v` to the even bit positions of the result (bit i to bit 2i).
///
/// Five rounds, each halving the distance bits are moved as a block: 16-bit halves apart by 16,
/// then bytes by 8, nibbles by 4, pairs by 2, single bits by 1. Each mask keeps exactly the
/// blocks that belong at their new place.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// The inverse of [`spread`]: gathers the even bits of `v` into a 32-bit integer.
fn gather(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude cell in the even bits, longitude cell in the odd bits.
pub fn interleave(lat_cell: u32, lon_cell: u32) -> u64 {
    spread(lat_cell) | (spread(lon_cell) << 1)
}

/// Splits interleaved bits into `(latitude cell, longitude cell)`. All 64 bits take part, so
/// a score that is not a real 52-bit hash still decodes to *something*, as in Redis.
pub fn deinterleave(bits: u64) -> (u32, u32) {
    (gather(bits), gather(bits >> 1))
}

/// C's conversion of a non-negative double below 2^32 to `uint32_t` (truncation). Redis goes
/// through a 64-bit register, so an offset of exactly 2^32 would wrap to 0 rather than
/// saturate; only steps up to 26 are ever used, where that cannot happen.
fn cell_index(offset: f64) -> u32 {
    (offset as i64) as u32
}

/// Encodes a coordinate at `step` bits per axis over the given ranges (Redis's
/// `geohashEncode`). `None` for a coordinate outside the Mercator limits or the ranges, or a
/// step outside 1..=32.
pub fn encode(lon_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step > 32 || step == 0 || lat_range.is_zero() || lon_range.is_zero() {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * cells;
    let lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min) * cells;
    Some(HashBits { bits: interleave(cell_index(lat_offset), cell_index(lon_offset)), step })
}

/// Encodes a coordinate for storage: 26 steps over the Mercator ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// The rectangle a hash stands for (Redis's `geohashDecode`). `None` only for the "no cell"
/// hash.
pub fn decode(lon_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_none() || lat_range.is_zero() || lon_range.is_zero() {
        return None;
    }
    let (lat_cell, lon_cell) = deinterleave(hash.bits);
    let cells = 1u64.wrapping_shl(hash.step as u32) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let lon_scale = lon_range.max - lon_range.min;
    // The cell's far edge is the next cell's near edge; C computes `cell + 1` in 32 bits, so
    // the last cell of a garbage hash wraps to 0, and so does this.
    let edge = |cell: u32, range: Range, scale: f64| range.min + (cell as f64 / cells) * scale;
    Some(Area {
        hash,
        lat: Range {
            min: edge(lat_cell, lat_range, lat_scale),
            max: edge(lat_cell.wrapping_add(1), lat_range, lat_scale),
        },
        lon: Range {
            min: edge(lon_cell, lon_range, lon_scale),
            max: edge(lon_cell.wrapping_add(1), lon_range, lon_scale),
        },
    })
}

pub fn decode_wgs84(hash: HashBits) -> Option<Area> {
    decode(LONG_RANGE, LAT_RANGE, hash)
}

/// The centre of a cell, clamped to the Mercator limits: `(longitude, latitude)`.
pub fn area_center(area: &Area) -> (f64, f64) {
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// C's `(uint64_t)` cast of a double as x86-64 code compiled by GCC performs it. Below 2^63 it
/// is a signed truncation (so -5.5 becomes 2^64 - 5, and anything below -2^63 the "integer
/// indefinite" 2^63); from 2^63 it subtracts 2^63 first and flips the top bit back (so 2^64
/// and above, infinity included, become 0). Scores written by GEOADD are plain integers below
/// 2^54; anything else got there through ZADD, and decodes the way Redis decodes it.
pub fn score_to_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const INDEFINITE: u64 = 1 << 63;
    let truncate = |x: f64| -> u64 {
        if (-TWO_63..TWO_63).contains(&x) {
            x as i64 as u64
        } else {
            INDEFINITE
        }
    };
    if score < TWO_63 {
        truncate(score)
    } else {
        truncate(score - TWO_63) ^ INDEFINITE
    }
}

/// The coordinate a sorted-set score stands for: `(longitude, latitude)`.
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = HashBits { bits: score_to_bits(score), step: STEP_MAX };
    // A step of 26 is never the "no cell" hash, so decoding cannot fail.
    let area = decode_wgs84(hash).unwrap_or_default();
    area_center(&area)
}

/// The score GEOADD stores for a coordinate, if it lies within the Mercator limits.
pub fn encode_score(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(|h| h.align52())
}

// ------------------------------------------------------------------------------------------------
// Neighbours.
// ------------------------------------------------------------------------------------------------

/// The eight cells around a cell, at the same step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Neighbours {
    pub north: HashBits,
    pub east: HashBits,
    pub west: HashBits,
    pub south: HashBits,
    pub north_east: HashBits,
    pub south_east: HashBits,
    pub north_west: HashBits,
    pub south_west: HashBits,
}

const EVEN_BITS: u64 = 0x5555_5555_5555_5555;
const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// Adds `d` (-1, 0 or +1) to the cell index held in the bits selected by `mine`, leaving the
/// other axis alone, modulo the number of cells (so the grid wraps around).
///
/// The trick is to do the addition directly on the interleaved form: filling the *other*
/// axis's positions with ones (`others`) makes a carry ripple straight through them.
fn step_axis(hash: &mut HashBits, d: i8, mine: u64) {
    if d == 0 {
        return;
    }
    let shift = 64u32.wrapping_sub(hash.step as u32 * 2);
    let own = hash.bits & mine;
    let keep = hash.bits & !mine;
    let others = (!mine).wrapping_shr(shift);
    let moved = if d > 0 {
        own.wrapping_add(others.wrapping_add(1))
    } else {
        (own | others).wrapping_sub(others.wrapping_add(1))
    };
    hash.bits = (moved & mine.wrapping_shr(shift)) | keep;
}

/// East (+1) or west (-1): longitude lives in the odd bits.
fn move_x(hash: &mut HashBits, d: i8) {
    step_axis(hash, d, ODD_BITS);
}

/// North (+1) or south (-1): latitude lives in the even bits.
fn move_y(hash: &mut HashBits, d: i8) {
    step_axis(hash, d, EVEN_BITS);
}

pub fn neighbours(hash: &HashBits) -> Neighbours {
    let at = |dx: i8, dy: i8| {
        let mut h = *hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbours {
        north: at(0, 1),
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north_east: at(1, 1),
        south_east: at(1, -1),
        north_west: at(-1, 1),
        south_west: at(-1, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (a, b) in [(0u32, 0u32), (1, 0), (0, 1), (0x3FF_FFFF, 0x3FF_FFFF), (48591808, 36045175), (u32::MAX, 7)] {
            assert_eq!(deinterleave(interleave(a, b)), (a, b));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
        assert_eq!(interleave(0b11, 0b00), 0b0101);
    }

    /// Palermo, as GEOADD Sicily 13.361389 38.115556 Palermo stores it in Redis 7.0.
    #[test]
    fn palermo_encodes_to_redis_score() {
        let h = encode_wgs84(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(deinterleave(h.bits), (48591808, 36045175));
        assert_eq!(h.align52(), 3479099956230698);
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
    }

    /// Scores Redis 7.0.15 returned for the coordinates of its own geo.tcl test.
    #[test]
    fn known_scores() {
        for (lon, lat, score) in [
            (-74.0131604, 40.7126674, 1791873972053020u64),
            (-73.9903085, 40.7362513, 1791875485187452),
            (-73.9733487, 40.7648057, 1791875761332224),
            (-73.9564142, 40.7480973, 1791875796750882),
            (-73.9454966, 40.747533, 1791875804419201),
            (-73.9375699, 40.7498929, 1791875830079666),
            (-73.7858139, 40.6428986, 1791895905559723),
        ] {
            assert_eq!(encode_score(lon, lat), Some(score), "{lon},{lat}");
        }
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(encode_score(180.1, 0.0), None);
        assert_eq!(encode_score(0.0, 85.06), None);
        assert!(encode_score(180.0, 85.05112878).is_some());
        assert!(encode_score(-180.0, -85.05112878).is_some());
        assert_eq!(encode(LONG_RANGE, LAT_RANGE, 0.0, 0.0, 0), None);
    }

    #[test]
    fn decode_clamps_to_limits() {
        // Longitude 180 sets bit 26 of the longitude cell (bit 53 of the hash); the decoded
        // centre lies beyond 180 and is clamped.
        let s = encode_score(180.0, 0.0).unwrap();
        assert!(s > 1 << 52);
        let (lon, _) = decode_score(s as f64);
        assert_eq!(lon, 180.0);
    }

    #[test]
    fn c_cast_semantics() {
        assert_eq!(score_to_bits(5.9), 5);
        assert_eq!(score_to_bits(-5.5), (-5i64) as u64);
        assert_eq!(score_to_bits(f64::INFINITY), 0);
        assert_eq!(score_to_bits(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(score_to_bits(1e19), 10_000_000_000_000_000_000);
        assert_eq!(score_to_bits(1e20), 0);
    }

    #[test]
    fn neighbours_step_and_wrap() {
        // At step 2 there are 4 cells per axis; (lat 1, lon 2) sits in the middle.
        let h = HashBits { bits: interleave(1, 2), step: 2 };
        let n = neighbours(&h);
        assert_eq!(deinterleave(n.north.bits), (2, 2));
        assert_eq!(deinterleave(n.south.bits), (0, 2));
        assert_eq!(deinterleave(n.east.bits), (1, 3));
        assert_eq!(deinterleave(n.west.bits), (1, 1));
        assert_eq!(deinterleave(n.north_east.bits), (2, 3));
        assert_eq!(deinterleave(n.south_west.bits), (0, 1));
        // East of the last column wraps to the first; south of the first row to the last.
        let edge = HashBits { bits: interleave(0, 3), step: 2 };
        let n = neighbours(&edge);
        assert_eq!(deinterleave(n.east.bits), (0, 0));
        assert_eq!(deinterleave(n.south.bits), (3, 3));
    }

    #[test]
    fn score_range_of_a_cell() {
        let h = HashBits { bits: 0b101010, step: 3 };
        assert_eq!(h.score_range(), (0b101010 << 46, 0b101011 << 46));
        let full = HashBits { bits: 12345, step: 26 };
        assert_eq!(full.score_range(), (12345, 12346));
    }
}
