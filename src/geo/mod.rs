//! Geospatial indexing as Redis does it: coordinates stored as sorted-set scores.
//!
//! A geo set is an ordinary sorted set (`TYPE` says `zset`, ZRANGE and ZREM work on it). What
//! makes it geographic is the score: a 52-bit *geohash* of the member's longitude and
//! latitude, built so that points close together on Earth usually have scores close together,
//! and every cell of a grid is one contiguous range of scores. A radius search then becomes a
//! handful of ZRANGEBYSCORE-style walks plus an exact distance check.
//!
//! # From a coordinate to a score, and back
//!
//! Take Palermo, `GEOADD Sicily 13.361389 38.115556 Palermo`.
//!
//! 1. Each axis is cut into 2^26 equal cells. Latitude is cut over [-85.05112878, 85.05112878]
//!    (the Web Mercator limits; Redis refuses latitudes beyond them), longitude over
//!    [-180, 180]:
//!
//!    ```text
//!    latitude  (38.115556 + 85.05112878) / 170.10225756 × 2^26 = 48591808.6…  → cell 48591808
//!    longitude (13.361389 + 180)         / 360          × 2^26 = 36045175.9…  → cell 36045175
//!    ```
//!
//! 2. The two 26-bit cell numbers are interleaved, longitude bits in the odd positions and
//!    latitude bits in the even ones (most significant pair first):
//!
//!    ```text
//!    latitude    1 0 1 1 1 0 0 1 0 1 0 1 1 1 0 0 1 1 1 1 0 0 0 0 0 0      48591808
//!    longitude  1 0 0 0 1 0 0 1 1 0 0 0 0 0 0 0 0 1 0 1 1 1 0 1 1 1       36045175
//!    hash       11 00 01 01 11 00 00 11 10 01 00 01 01 01 00 00 01 11 01 11 10 10 00 10 10 10
//!             = 3479099956230698     (52 bits; the pairs are longitude bit, latitude bit)
//!    ```
//!
//!    That integer is the score: `ZSCORE Sicily Palermo` answers `3479099956230698`. A double
//!    represents every integer below 2^53 exactly, so nothing is lost.
//!
//! 3. Decoding splits the bits again and answers the *centre* of the cell:
//!
//!    ```text
//!    latitude  cell 48591808 → [38.1155551281…, 38.1155576628…] → centre 38.11555639549629859
//!    longitude cell 36045175 → [13.3613866567…, 13.3613920212…] → centre 13.36138933897018433
//!    ```
//!
//!    which is what `GEOPOS Sicily Palermo` prints: cells at step 26 are about 0.6 m tall, so
//!    the round trip moves a point by at most a few tens of centimetres.
//!
//! # Searching: nine cells, then an exact filter
//!
//! A prefix of the hash is a coarser cell: the first `2k` bits name one cell of a `2^k × 2^k`
//! grid, and every point inside it has a score in one interval (the prefix followed by all
//! zeros, up to the next prefix). To find everything within `r` metres of a centre:
//!
//! 1. Pick the step `k` whose cells are at least `r` wide: start from 1, double `r` until it
//!    reaches half of Earth's circumference, count the doublings, take two off (one or two
//!    more near the poles, where cells get narrow).
//! 2. Take the cell holding the centre and its eight neighbours. Together they cover the
//!    circle: the centre cell is at least `r` wide, so the circle cannot reach past the ring.
//!    If one of the four side neighbours still falls short of the search's bounding box,
//!    go one step coarser.
//!
//!    ```text
//!        +-----------+-----------+-----------+
//!        |    NW     |     N     |    NE     |       each cell = one score interval
//!        |       . - | - - - - - | - .       |       [prefix 000…, next prefix 000…)
//!        +-----.-----+-----------+-----.-----+
//!        |    .W     |     •     |     E.    |       searched in the order
//!        |    .      |  centre   |      .    |       centre, N, S, E, W, NE, NW, SE, SW
//!        +-----.-----+-----------+-----.-----+
//!        |       ' - | - - - - - | - '       |       cells the bounding box does not
//!        |    SW     |     S     |    SE     |       reach are skipped
//!        +-----------+-----------+-----------+
//!    ```
//!
//! 3. For each cell, walk the sorted set over its score interval and keep the points whose
//!    haversine distance is within `r` (for BYBOX: whose latitude distance is within half the
//!    height and whose distance along their parallel is within half the width).
//! 4. Sort by distance if asked (COUNT without ANY implies ASC), cut to COUNT, reply.
//!
//! Distances use a spherical Earth of radius 6372797.560856 m, as Redis does, so they agree
//! with Redis to the last printed digit, not with a geodesic on the WGS-84 ellipsoid.
//!
//! # Files
//!
//! * [`geohash`] — encode, decode, neighbours, the C cast of a score to bits.
//! * [`search`] — distances, shapes, the step estimate, the nine cells, the walk.
//! * [`sort`] — the two sorting algorithms Redis uses, so that ties come out in its order.
//! * The commands are in `kv::cmd::geo`.

pub mod geohash;
pub mod search;
pub mod sort;

pub use geohash::{decode_score, encode_score, LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN, STEP_MAX};
pub use search::{distance, search, Point, Shape, ShapeKind};

/// The alphabet of standard geohash strings (base 32 without a, i, l, o).
const GEOHASH_ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// The 11-character standard geohash of a stored score (GEOHASH's reply).
///
/// Stored hashes cover latitudes ±85.05°, standard geohashes ±90°, so the score is decoded to
/// a coordinate and re-encoded over the standard ranges. 52 bits make ten characters of five
/// bits and two bits over; Redis prints an eleventh character and always makes it `0`.
pub fn geohash_string(score: f64) -> [u8; 11] {
    let (lon, lat) = decode_score(score);
    let bits =
        geohash::encode(geohash::LONG_RANGE, geohash::STANDARD_LAT_RANGE, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = GEOHASH_ALPHABET[idx as usize];
    }
    out
}

/// A distance as Redis prints it: rounded (half to even) to four decimals, always with four
/// digits after the point. "5.2145" is more useful than "5.2144992818115".
pub fn fmt_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = (d * 10000.0).round_ties_even();
    // C's llrint answers LLONG_MIN for anything it cannot represent (NaN, or beyond ±2^63,
    // both bounds exact doubles), which Redis then prints as a negative number.
    let (low, high) = (i64::MIN as f64, -(i64::MIN as f64));
    let n: i64 = if scaled.is_nan() || !(low..high).contains(&scaled) { i64::MIN } else { scaled as i64 };
    let sign = if n < 0 { "-" } else { "" };
    let v = n.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// A coordinate as Redis prints it (`addReplyHumanLongDouble`): the exact value rounded to 17
/// decimals, trailing zeros removed. In RESP3 the same text is sent as a double.
pub fn fmt_coord(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geohash_strings_match_geohash_org() {
        // GEOADD points -5.6 42.6 test; GEOHASH points test (the Wikipedia example).
        let s = encode_score(-5.6, 42.6).unwrap();
        assert_eq!(&geohash_string(s as f64), b"ezs42e44yx0");
        assert_eq!(&geohash_string(3479099956230698.0), b"sqc8b49rny0");
    }

    #[test]
    fn distance_text() {
        assert_eq!(fmt_distance(0.0), "0.0000");
        assert_eq!(fmt_distance(-0.0), "0.0000");
        assert_eq!(fmt_distance(0.0001), "0.0001");
        assert_eq!(fmt_distance(6.0642951598391699e-05), "0.0001");
        assert_eq!(fmt_distance(0.00001), "0.0000");
        assert_eq!(fmt_distance(166274.15156960033), "166274.1516");
        assert_eq!(fmt_distance(0.77502), "0.7750");
        assert_eq!(fmt_distance(f64::NAN), "-922337203685477.5808");
    }

    #[test]
    fn coordinate_text() {
        assert_eq!(fmt_coord(13.361389338970184), "13.36138933897018433");
        assert_eq!(fmt_coord(180.0), "180");
        assert_eq!(fmt_coord(-0.0), "0");
        assert_eq!(fmt_coord(0.5), "0.5");
    }
}
