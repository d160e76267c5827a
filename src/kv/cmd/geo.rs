//! Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH, and the searches (GEORADIUS,
//! GEORADIUSBYMEMBER, their `_RO` forms, GEOSEARCH, GEOSEARCHSTORE).
//!
//! A geo set is a sorted set whose scores are geohashes; the encoding, the search algorithm
//! and the distance formula live in [`crate::geo`]. This file parses arguments exactly as
//! Redis 7.0's `geo.c` does (the same order of checks, so the same error wins when several
//! apply) and shapes the replies:
//!
//! * distances are bulk strings with four decimals (`"0.7750"`), in RESP2 and RESP3 alike;
//! * coordinates are the exact value to 17 decimals without trailing zeros, as bulk strings
//!   in RESP2 and doubles in RESP3 (`Frame::DoubleText`);
//! * WITHHASH gives the raw score as an integer.
//!
//! All the searches share one parser, [`search_generic`], as they share `georadiusGeneric` in
//! Redis: the variants differ only in where the centre and the shape come from and in which
//! options they accept.

use bytes::Bytes;

use super::zset::parse_score;
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::geo::{self, sort, Point, Shape, ShapeKind};
use crate::kv::value::Value;
use crate::kv::zset::ZSet;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("geoadd", geoadd),
    ("geopos", geopos),
    ("geodist", geodist),
    ("geohash", geohash),
    ("georadius", georadius),
    ("georadius_ro", georadius_ro),
    ("georadiusbymember", georadiusbymember),
    ("georadiusbymember_ro", georadiusbymember_ro),
    ("geosearch", geosearch),
    ("geosearchstore", geosearchstore),
];

// ------------------------------------------------------------------------------------------------
// Argument parsing.
// ------------------------------------------------------------------------------------------------

/// Redis compares option words with `strcasecmp`, which stops at a NUL byte: `"withdist\0x"`
/// is WITHDIST.
fn is_word(arg: &[u8], word: &str) -> bool {
    let end = arg.iter().position(|&c| c == 0).unwrap_or(arg.len());
    eq_ic(&arg[..end], word)
}

/// A number as Redis's `getDoubleFromObjectOrReply` reads it, with its error text.
fn parse_number(arg: &[u8], what: Option<&'static str>) -> Result<f64, CmdError> {
    parse_score(arg).ok_or_else(|| match what {
        Some(msg) => CmdError::new(msg),
        None => CmdError::not_float(),
    })
}

/// `longitude latitude`, both numbers and within the Mercator limits.
fn parse_lon_lat(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let lon = parse_number(&args[0], None)?;
    let lat = parse_number(&args[1], None)?;
    if !(geo::LONG_MIN..=geo::LONG_MAX).contains(&lon) || !(geo::LAT_MIN..=geo::LAT_MAX).contains(&lat) {
        return Err(CmdError::new(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn parse_unit(arg: &[u8]) -> Result<f64, CmdError> {
    if is_word(arg, "m") {
        Ok(1.0)
    } else if is_word(arg, "km") {
        Ok(1000.0)
    } else if is_word(arg, "ft") {
        Ok(0.3048)
    } else if is_word(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::new("ERR unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// `radius unit`: the radius and metres per unit.
fn parse_radius(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let radius = parse_number(&args[0], Some("ERR need numeric radius"))?;
    if radius < 0.0 {
        return Err(CmdError::new("ERR radius cannot be negative"));
    }
    Ok((radius, parse_unit(&args[1])?))
}

/// `width height unit`: the box and metres per unit.
fn parse_box(args: &[Bytes]) -> Result<(f64, f64, f64), CmdError> {
    let width = parse_number(&args[0], Some("ERR need numeric width"))?;
    let height = parse_number(&args[1], Some("ERR need numeric height"))?;
    if height < 0.0 || width < 0.0 {
        return Err(CmdError::new("ERR height or width cannot be negative"));
    }
    Ok((width, height, parse_unit(&args[2])?))
}

/// The coordinate of `member` in the geo set at `key`, if both exist.
fn member_position(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> Result<Option<(f64, f64)>, CmdError> {
    Ok(ctx.get_zset(key)?.and_then(|z| z.score(member)).map(geo::decode_score))
}

fn could_not_decode() -> CmdError {
    CmdError::new("ERR could not decode requested zset member")
}

// ------------------------------------------------------------------------------------------------
// GEOADD, GEOPOS, GEODIST, GEOHASH.
// ------------------------------------------------------------------------------------------------

/// GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]
///
/// GEOADD is ZADD with scores computed from coordinates, and Redis implements it by rewriting
/// the arguments into a ZADD and running that; so does this, which gives it ZADD's reply,
/// flags and bookkeeping for free.
fn geoadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < argv.len() {
        let opt = &argv[first];
        if is_word(opt, "nx") {
            nx = true;
        } else if is_word(opt, "xx") {
            xx = true;
        } else if !is_word(opt, "ch") {
            break;
        }
        first += 1;
    }
    if !(argv.len() - first).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::syntax());
    }
    let mut zadd_argv: Vec<Bytes> = Vec::with_capacity(first + (argv.len() - first) / 3 * 2);
    zadd_argv.push(Bytes::from_static(b"zadd"));
    zadd_argv.extend_from_slice(&argv[1..first]);
    for triple in argv[first..].chunks_exact(3) {
        let (lon, lat) = parse_lon_lat(&triple[..2])?;
        // Validated coordinates always encode.
        let score = geo::encode_score(lon, lat).unwrap_or(0);
        zadd_argv.push(Bytes::from(score.to_string()));
        zadd_argv.push(triple[2].clone());
    }
    let zadd = super::table().get("zadd").map(|c| c.handler).ok_or_else(CmdError::syntax)?;
    zadd(ctx, &zadd_argv)
}

/// GEOPOS key [member [member ...]]
fn geopos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let z = ctx.get_zset(&argv[1])?;
    let z = z.as_deref();
    Ok(Frame::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => {
                    let (lon, lat) = geo::decode_score(score);
                    Frame::Array(vec![Frame::DoubleText(geo::fmt_coord(lon)), Frame::DoubleText(geo::fmt_coord(lat))])
                }
                None => Frame::NullArray,
            })
            .collect(),
    ))
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
///
/// The unit is checked before the key is even looked up, as in Redis.
fn geodist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let to_meters = match argv.len() {
        5 => parse_unit(&argv[4])?,
        n if n > 5 => return Err(CmdError::syntax()),
        _ => 1.0,
    };
    let Some(z) = ctx.get_zset(&argv[1])? else { return Ok(Frame::Null) };
    let (Some(s1), Some(s2)) = (z.score(&argv[2]), z.score(&argv[3])) else { return Ok(Frame::Null) };
    let (lon1, lat1) = geo::decode_score(s1);
    let (lon2, lat2) = geo::decode_score(s2);
    Ok(Frame::bulk(geo::fmt_distance(geo::distance(lon1, lat1, lon2, lat2) / to_meters)))
}

/// GEOHASH key [member [member ...]]
fn geohash(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let z = ctx.get_zset(&argv[1])?;
    let z = z.as_deref();
    Ok(Frame::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => Frame::Bulk(Bytes::copy_from_slice(&geo::geohash_string(score))),
                None => Frame::Null,
            })
            .collect(),
    ))
}

// ------------------------------------------------------------------------------------------------
// The searches.
// ------------------------------------------------------------------------------------------------

/// Which search command is running, and so where its centre and shape come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS / GEORADIUS_RO: `key longitude latitude radius unit`.
    Radius { read_only: bool },
    /// GEORADIUSBYMEMBER / GEORADIUSBYMEMBER_RO: `key member radius unit`.
    RadiusByMember { read_only: bool },
    /// GEOSEARCH: `key` then FROMMEMBER/FROMLONLAT and BYRADIUS/BYBOX among the options.
    Search,
    /// GEOSEARCHSTORE: `destination source`, then as GEOSEARCH.
    SearchStore,
}

impl Variant {
    fn is_search(self) -> bool {
        matches!(self, Variant::Search | Variant::SearchStore)
    }
    /// STORE and STOREDIST with a key: the GEORADIUS forms that may write.
    fn accepts_store_key(self) -> bool {
        matches!(self, Variant::Radius { read_only: false } | Variant::RadiusByMember { read_only: false })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Unsorted,
    Asc,
    Desc,
}

/// C's comparison of two distances for `qsort`: greater, equal, or "less" (which is also what
/// a NaN compares as, on either side).
fn cmp_dist(a: f64, b: f64) -> std::cmp::Ordering {
    if a > b {
        std::cmp::Ordering::Greater
    } else if a == b {
        std::cmp::Ordering::Equal
    } else {
        std::cmp::Ordering::Less
    }
}

/// GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
///   [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]
fn georadius(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Radius { read_only: false })
}

/// GEORADIUS_RO key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
///   [COUNT count [ANY]] [ASC|DESC]
fn georadius_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Radius { read_only: true })
}

/// GEORADIUSBYMEMBER key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
///   [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]
fn georadiusbymember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::RadiusByMember { read_only: false })
}

/// GEORADIUSBYMEMBER_RO key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
///   [COUNT count [ANY]] [ASC|DESC]
fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::RadiusByMember { read_only: true })
}

/// GEOSEARCH key FROMMEMBER member|FROMLONLAT longitude latitude
///   BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI
///   [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
fn geosearch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Search)
}

/// GEOSEARCHSTORE destination source FROMMEMBER member|FROMLONLAT longitude latitude
///   BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI
///   [ASC|DESC] [COUNT count [ANY]] [STOREDIST]
fn geosearchstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 2, Variant::SearchStore)
}

/// Everything a search was asked for, once parsed.
struct SearchRequest {
    /// `None` only when the source key does not exist (nothing will be searched).
    shape: Option<Shape>,
    store: Option<Bytes>,
    store_dist: bool,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    any: bool,
    /// 0: no COUNT.
    count: i64,
}

/// Parses a search (Redis's `georadiusGeneric` up to the search itself). Checks run in
/// Redis's order: the source key's type, the positional centre and radius, the options one by
/// one (a FROMMEMBER whose member is missing fails right there), then the combinations.
fn parse_search(ctx: &mut Ctx, argv: &[Bytes], src: usize, variant: Variant) -> Result<SearchRequest, CmdError> {
    let key = &argv[src];
    let exists = ctx.get_zset(key)?.is_some();

    let mut center: Option<(f64, f64)> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut to_meters = 0.0;
    let mut store: Option<Bytes> = None;
    let base = match variant {
        Variant::Radius { .. } => {
            center = Some(parse_lon_lat(&argv[2..4])?);
            let (r, unit) = parse_radius(&argv[4..6])?;
            (kind, to_meters) = (Some(ShapeKind::Radius(r)), unit);
            6
        }
        Variant::RadiusByMember { .. } => {
            // Without a source key there is nothing to decode, and Redis does not look at
            // the radius either: it only goes on parsing options to pick the right reply.
            if exists {
                center = Some(member_position(ctx, key, &argv[2])?.ok_or_else(could_not_decode)?);
                let (r, unit) = parse_radius(&argv[3..5])?;
                (kind, to_meters) = (Some(ShapeKind::Radius(r)), unit);
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            store = Some(argv[1].clone());
            3
        }
    };

    let mut req = SearchRequest {
        shape: None,
        store,
        store_dist: false,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::Unsorted,
        any: false,
        count: 0,
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) = (false, false, false, false);
    let opts = &argv[base.min(argv.len())..];
    let remaining = opts.len();
    let mut i = 0;
    while i < remaining {
        let arg = &opts[i];
        let has = |n: usize| i + n < remaining;
        if is_word(arg, "withdist") {
            req.with_dist = true;
        } else if is_word(arg, "withhash") {
            req.with_hash = true;
        } else if is_word(arg, "withcoord") {
            req.with_coord = true;
        } else if is_word(arg, "any") {
            req.any = true;
        } else if is_word(arg, "asc") {
            req.order = Order::Asc;
        } else if is_word(arg, "desc") {
            req.order = Order::Desc;
        } else if is_word(arg, "count") && has(1) {
            req.count = parse_int(&opts[i + 1])?;
            if req.count <= 0 {
                return Err(CmdError::new("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is_word(arg, "store") || is_word(arg, "storedist")) && has(1) && variant.accepts_store_key() {
            req.store = Some(opts[i + 1].clone());
            req.store_dist = is_word(arg, "storedist");
            i += 1;
        } else if is_word(arg, "storedist") && variant == Variant::SearchStore {
            req.store_dist = true;
        } else if is_word(arg, "frommember") && has(1) && variant.is_search() && !from_lonlat {
            if exists {
                center = Some(member_position(ctx, key, &opts[i + 1])?.ok_or_else(could_not_decode)?);
            }
            from_member = true;
            i += 1;
        } else if is_word(arg, "fromlonlat") && has(2) && variant.is_search() && !from_member {
            center = Some(parse_lon_lat(&opts[i + 1..i + 3])?);
            from_lonlat = true;
            i += 2;
        } else if is_word(arg, "byradius") && has(2) && variant.is_search() && !by_box {
            let (r, unit) = parse_radius(&opts[i + 1..i + 3])?;
            (kind, to_meters) = (Some(ShapeKind::Radius(r)), unit);
            by_radius = true;
            i += 2;
        } else if is_word(arg, "bybox") && has(3) && variant.is_search() && !by_radius {
            let (width, height, unit) = parse_box(&opts[i + 1..i + 4])?;
            (kind, to_meters) = (Some(ShapeKind::Box { width, height }), unit);
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::syntax());
        }
        i += 1;
    }

    if req.store.is_some() && (req.with_dist || req.with_hash || req.with_coord) {
        let what = if variant == Variant::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::new(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(&argv[0]).into_owned();
    if variant.is_search() && !(from_member || from_lonlat) {
        return Err(CmdError::new(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if variant.is_search() && !(by_radius || by_box) {
        return Err(CmdError::new(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {}", name())));
    }
    if req.any && req.count == 0 {
        return Err(CmdError::new("ERR the ANY argument requires COUNT argument"));
    }
    if let (true, Some((lon, lat)), Some(kind)) = (exists, center, kind) {
        req.shape = Some(Shape { lon, lat, to_meters, kind });
    }
    Ok(req)
}

/// The search commands' shared body (Redis's `georadiusGeneric`).
fn search_generic(ctx: &mut Ctx, argv: &[Bytes], src: usize, variant: Variant) -> CmdResult {
    let mut req = parse_search(ctx, argv, src, variant)?;

    let found = match (&req.shape, ctx.get_zset(&argv[src])?) {
        (Some(shape), Some(z)) => {
            // COUNT without an order means "the nearest N", so it sorts; with ANY it means
            // "any N", and the first N found are returned as found.
            if req.count != 0 && req.order == Order::Unsorted && !req.any {
                req.order = Order::Asc;
            }
            let limit = if req.any { req.count as usize } else { 0 };
            Some(geo::search(z, shape, limit))
        }
        _ => None,
    };
    let Some(mut points) = found else {
        // The source key does not exist.
        return Ok(match &req.store {
            Some(dst) => {
                if ctx.remove(dst).is_some() {
                    ctx.notify(crate::kv::notify::GENERIC, "del", dst);
                }
                Frame::Integer(0)
            }
            None => Frame::Array(Vec::new()),
        });
    };
    if points.is_empty() && req.store.is_none() {
        return Ok(Frame::Array(Vec::new()));
    }

    let returned = if req.count == 0 || (points.len() as i64) < req.count { points.len() } else { req.count as usize };
    sort_points(&mut points, req.order, returned);
    points.truncate(returned);
    let to_meters = req.shape.map_or(1.0, |s| s.to_meters);
    for p in points.iter_mut() {
        p.dist /= to_meters;
    }

    match &req.store {
        None => Ok(reply_points(points, req.with_dist, req.with_hash, req.with_coord)),
        Some(dst) => {
            if points.is_empty() {
                if ctx.remove(dst).is_some() {
                    ctx.notify(crate::kv::notify::GENERIC, "del", dst);
                }
                return Ok(Frame::Integer(0));
            }
            // Redis builds the result as a skiplist and converts it if it is small enough.
            let mut z = ZSet::new_skiplist();
            for p in &points {
                z.insert(&p.member, if req.store_dist { p.dist } else { p.score });
            }
            z.convert_to_listpack_if_fits();
            ctx.set(dst.clone(), Value::ZSet(Box::new(z)));
            // GEOSEARCHSTORE names itself; the STORE options of GEORADIUS[BYMEMBER] do not.
            let event =
                if argv[0].eq_ignore_ascii_case(b"geosearchstore") { "geosearchstore" } else { "georadiusstore" };
            ctx.notify(crate::kv::notify::ZSET, event, dst);
            Ok(Frame::Integer(returned as i64))
        }
    }
}

/// Orders the points as Redis does: a full (stable) sort when every result is returned, the
/// partial quicksort when COUNT returns only the first `returned`. See [`crate::geo::sort`].
fn sort_points(points: &mut Vec<Point>, order: Order, returned: usize) {
    if order == Order::Unsorted || points.is_empty() {
        return;
    }
    let mut idx: Vec<u32> = (0..points.len() as u32).collect();
    let dists: Vec<f64> = points.iter().map(|p| p.dist).collect();
    let mut cmp = |a: &u32, b: &u32| {
        let o = cmp_dist(dists[*a as usize], dists[*b as usize]);
        if order == Order::Desc {
            o.reverse()
        } else {
            o
        }
    };
    if returned == points.len() {
        sort::merge_sort(&mut idx, &mut cmp);
    } else {
        sort::partial_quicksort(&mut idx, &mut cmp, 0, returned.saturating_sub(1));
    }
    let mut taken: Vec<Option<Point>> = std::mem::take(points).into_iter().map(Some).collect();
    points.extend(idx.iter().filter_map(|&i| taken[i as usize].take()));
}

/// The reply to a search: members alone, or `[member, dist?, hash?, [lon, lat]?]` for each.
fn reply_points(points: Vec<Point>, with_dist: bool, with_hash: bool, with_coord: bool) -> Frame {
    let nested = with_dist || with_hash || with_coord;
    Frame::Array(
        points
            .into_iter()
            .map(|p| {
                if !nested {
                    return Frame::Bulk(p.member);
                }
                let mut item = vec![Frame::Bulk(p.member)];
                if with_dist {
                    item.push(Frame::bulk(geo::fmt_distance(p.dist)));
                }
                if with_hash {
                    item.push(Frame::Integer(p.score as i64));
                }
                if with_coord {
                    item.push(Frame::Array(vec![
                        Frame::DoubleText(geo::fmt_coord(p.lon)),
                        Frame::DoubleText(geo::fmt_coord(p.lat)),
                    ]));
                }
                Frame::Array(item)
            })
            .collect(),
    )
}
