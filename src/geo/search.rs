//! Searching a geo set: distances, the search shape, the nine cells that cover it, and the walk
//! over the sorted set that collects the points inside.
//!
//! Every formula here is evaluated in the same order as Redis 7.0 evaluates it, with the same
//! constants, because a point exactly on the edge of a search must fall on the same side in
//! both (and distances are printed to four decimals, where a last-bit difference can show).

use bytes::Bytes;

use super::geohash::{self, Area, HashBits, Neighbours, LAT_RANGE, LONG_RANGE, STEP_MAX};
use crate::kv::zset::ZSet;

/// Earth's quadratic mean radius for WGS-84, the radius of Redis's haversine.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;

/// Half the circumference of the Mercator world in metres: the step estimate doubles a radius
/// until it reaches this.
pub const MERCATOR_MAX_M: f64 = 20037726.37;

/// Degrees to radians, as C computes `M_PI / 180.0`.
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(deg: f64) -> f64 {
    deg * DEG_TO_RAD
}

fn rad_deg(rad: f64) -> f64 {
    rad / DEG_TO_RAD
}

/// The distance along a meridian between two latitudes, in metres.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The great-circle distance in metres (haversine). When the longitudes are the same the
/// formula reduces to the distance along the meridian, which is cheaper and exact.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// What is searched: a circle (BYRADIUS, GEORADIUS) or an axis-aligned box (BYBOX) around a
/// centre. Sizes are in the user's unit; `to_meters` converts them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    /// Metres per unit: 1 (m), 1000 (km), 0.3048 (ft), 1609.34 (mi).
    pub to_meters: f64,
    pub kind: ShapeKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

impl Shape {
    /// The bounding box in degrees: `[min_lon, min_lat, max_lon, max_lat]`.
    ///
    /// A degree of longitude shrinks towards the poles, so the box is wider on its poleward
    /// side; Redis takes the wider edge, which is the top edge in the northern hemisphere and
    /// the bottom edge in the southern one.
    pub fn bounding_box(&self) -> [f64; 4] {
        let (half_height, half_width) = match self.kind {
            ShapeKind::Radius(r) => (self.to_meters * r, self.to_meters * r),
            ShapeKind::Box { width, height } => (self.to_meters * (height / 2.0), self.to_meters * (width / 2.0)),
        };
        let lat_delta = rad_deg(half_height / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(half_width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(half_width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        [self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta]
    }

    /// The radius of the circle around the shape, in metres: the radius itself, or the
    /// distance from the centre of a box to its corner.
    fn radius_m(&self) -> f64 {
        let r = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.to_meters
    }

    /// Whether the point at `(lon, lat)` is inside, and if so its distance from the centre in
    /// metres. For a box the test is per axis: the latitude distance against half the height,
    /// then the distance along the point's own parallel against half the width.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                // Written as "not beyond" so that a NaN distance (antipodal rounding) is kept,
                // as Redis keeps it.
                if d > r * self.to_meters {
                    None
                } else {
                    Some(d)
                }
            }
            ShapeKind::Box { width, height } => {
                let (width_m, height_m) = (width * self.to_meters, height * self.to_meters);
                if lat_distance(lat, self.lat) > height_m / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > width_m / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// How many steps the cells of a search of `radius_m` around latitude `lat` should have: the
/// finest grid whose cells are still at least as large as the radius, so that the centre cell
/// and its eight neighbours cover the whole circle.
pub fn estimate_steps(radius_m: f64, lat: f64) -> u8 {
    if radius_m == 0.0 {
        return STEP_MAX;
    }
    let mut range = radius_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX_M {
        range *= 2.0;
        step += 1;
    }
    // Two steps coarser, so that the radius fits in most cases.
    step -= 2;
    // Cells get narrower towards the poles: one step coarser above 66°, two above 80°.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, STEP_MAX as i32) as u8
}

/// The centre cell and the eight around it, some blanked out ([`HashBits::NONE`]) when they
/// lie entirely outside the bounding box.
#[derive(Debug, Clone, Copy)]
pub struct Cells {
    pub hash: HashBits,
    pub neighbours: Neighbours,
    pub area: Area,
}

impl Cells {
    /// The nine cells in the order Redis searches them.
    pub fn in_search_order(&self) -> [HashBits; 9] {
        let n = &self.neighbours;
        [self.hash, n.north, n.south, n.east, n.west, n.north_east, n.north_west, n.south_east, n.south_west]
    }
}

fn cells_at(lon: f64, lat: f64, step: u8) -> (HashBits, Neighbours, Area) {
    // The centre is always within the limits (it was validated or decoded), so encoding
    // succeeds; if it did not, Redis would search cell 0, and so do we.
    let hash = geohash::encode(LONG_RANGE, LAT_RANGE, lon, lat, step).unwrap_or(HashBits { bits: 0, step });
    let neighbours = geohash::neighbours(&hash);
    let area = geohash::decode(LONG_RANGE, LAT_RANGE, hash).unwrap_or_default();
    (hash, neighbours, area)
}

/// The cells covering `shape` (Redis's `geohashCalculateAreasByShapeWGS84`).
pub fn cells_for(shape: &Shape) -> Cells {
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounding_box();
    let mut step = estimate_steps(shape.radius_m(), shape.lat);
    let (mut hash, mut neighbours, mut area) = cells_at(shape.lon, shape.lat, step);

    // Near the edge of the centre cell, one of the four side neighbours may not reach the
    // edge of the bounding box; one step coarser (cells twice as large) always does.
    let decoded = |h: HashBits| geohash::decode(LONG_RANGE, LAT_RANGE, h).unwrap_or_default();
    let too_small = decoded(neighbours.north).lat.max < max_lat
        || decoded(neighbours.south).lat.min > min_lat
        || decoded(neighbours.east).lon.max < max_lon
        || decoded(neighbours.west).lon.min > min_lon;
    if step > 1 && too_small {
        step -= 1;
        (hash, neighbours, area) = cells_at(shape.lon, shape.lat, step);
    }

    // Drop the rows and columns of neighbours that the box does not reach: if the centre cell
    // already extends below the box, nothing south of it can be inside, and so on.
    if step >= 2 {
        let n = &mut neighbours;
        if area.lat.min < min_lat {
            (n.south, n.south_west, n.south_east) = (HashBits::NONE, HashBits::NONE, HashBits::NONE);
        }
        if area.lat.max > max_lat {
            (n.north, n.north_east, n.north_west) = (HashBits::NONE, HashBits::NONE, HashBits::NONE);
        }
        if area.lon.min < min_lon {
            (n.west, n.south_west, n.north_west) = (HashBits::NONE, HashBits::NONE, HashBits::NONE);
        }
        if area.lon.max > max_lon {
            (n.east, n.south_east, n.north_east) = (HashBits::NONE, HashBits::NONE, HashBits::NONE);
        }
    }
    Cells { hash, neighbours, area }
}

/// A point found by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub member: Bytes,
    pub lon: f64,
    pub lat: f64,
    /// Distance from the centre, in metres until the caller converts it.
    pub dist: f64,
    pub score: f64,
}

/// Appends the points of one cell that lie inside `shape`, stopping once `found` holds
/// `limit` points (0: no limit).
fn points_in_cell(z: &ZSet, cell: HashBits, shape: &Shape, found: &mut Vec<Point>, limit: usize) {
    let (min, max) = cell.score_range();
    // The cell is the score interval [min, max); the bounds are exact as doubles (< 2^53).
    let (min, max) = (min as f64, max as f64);
    let start = z.first_rank_with_score(min, false);
    for (member, score) in z.iter_from(start, false) {
        if score >= max {
            break;
        }
        let (lon, lat) = geohash::decode_score(score);
        if let Some(dist) = shape.contains(lon, lat) {
            found.push(Point { member: member.clone(), lon, lat, dist, score });
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
    }
}

/// Every point of `z` inside `shape`, in the order the cells are searched (Redis's
/// `membersOfAllNeighbors`). With a `limit` (COUNT … ANY) the walk stops as soon as that many
/// points are found.
///
/// At very large radii (thousands of kilometres) the cells are so coarse that neighbours can
/// coincide; a cell equal to the one searched just before it is skipped. Redis compares only
/// with the previous *neighbour* searched (never with the centre cell), and so does this.
pub fn search(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = cells_for(shape).in_search_order();
    let mut found = Vec::new();
    let mut last_searched = 0usize;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_none() {
            continue;
        }
        if last_searched != 0 && *cell == cells[last_searched] {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        points_in_cell(z, *cell, shape, &mut found, limit);
        last_searched = i;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_catania_distance() {
        let (lon1, lat1) = geohash::decode_score(3479099956230698.0);
        let (lon2, lat2) = geohash::decode_score(3479447370796909.0);
        // GEODIST Sicily Palermo Catania in Redis 7.0: 166274.1516.
        assert_eq!(format!("{:.4}", distance(lon1, lat1, lon2, lat2)), "166274.1516");
    }

    #[test]
    fn steps_shrink_with_radius_and_latitude() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1.0, 0.0), 24);
        assert_eq!(estimate_steps(1000.0, 0.0), 14);
        assert_eq!(estimate_steps(1000.0, 70.0), 13);
        assert_eq!(estimate_steps(1000.0, -81.0), 12);
        assert_eq!(estimate_steps(5_000_000.0, 0.0), 2);
        assert_eq!(estimate_steps(10_000_000.0, 0.0), 1);
        assert_eq!(estimate_steps(f64::INFINITY, 0.0), 1);
    }

    #[test]
    fn box_contains_by_axis() {
        let shape =
            Shape { lon: 15.0, lat: 37.0, to_meters: 1000.0, kind: ShapeKind::Box { width: 400.0, height: 2.0 } };
        assert!(shape.contains(12.75, 36.995).is_some());
        assert!(shape.contains(12.75, 36.5).is_none());
    }

    #[test]
    fn search_finds_points_in_radius() {
        let mut z = ZSet::new();
        for (m, lon, lat) in [("Palermo", 13.361389, 38.115556), ("Catania", 15.087269, 37.502669)] {
            z.insert(m.as_bytes(), geohash::encode_score(lon, lat).unwrap() as f64);
        }
        let shape = Shape { lon: 15.0, lat: 37.0, to_meters: 1000.0, kind: ShapeKind::Radius(100.0) };
        let found: Vec<_> = search(&z, &shape, 0).into_iter().map(|p| p.member).collect();
        assert_eq!(found, vec![Bytes::from_static(b"Catania")]);
        let shape = Shape { kind: ShapeKind::Radius(200.0), ..shape };
        assert_eq!(search(&z, &shape, 0).len(), 2);
        assert_eq!(search(&z, &shape, 1).len(), 1);
    }
}
