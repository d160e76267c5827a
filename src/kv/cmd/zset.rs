//! Sorted set commands: ZADD and its options, point and range queries by rank, score and
//! member, range removals, the pops (blocking too), the set algebra (ZUNION, ZINTER, ZDIFF and
//! their STORE forms), ZRANDMEMBER and ZSCAN.
//!
//! The structure itself lives in [`crate::kv::zset`]; this file only parses arguments exactly
//! as Redis 7.0's `t_zset.c` does (the same order of checks, so the same error wins when several
//! apply) and shapes the replies.
//!
//! # Numbers
//!
//! Redis reads scores with C's `strtod`, which is more liberal than Rust's `f64::from_str`:
//! hexadecimal floats (`0x1p4`), and, in range bounds, leading white space and the empty string
//! (read as 0). [`strtod`] reproduces it, [`parse_score`] adds the checks of Redis's
//! `string2d` (ZADD, ZINCRBY, WEIGHTS), [`parse_score_bound`] those of `zslParseRange`.
//!
//! # Replies with scores
//!
//! With WITHSCORES, RESP2 gets one flat array `member, score, member, score` (scores as bulk
//! strings) and RESP3 an array of `[member, score]` pairs with real doubles; [`pairs_reply`]
//! builds both. Pops follow the same rule except where Redis keeps the flat form in RESP3
//! (ZPOPMIN without COUNT, BZPOPMIN).

use crate::kv::notify;
use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;
use rand::Rng;

use super::keys::{parse_scan_cursor, parse_scan_options, scan_matches, scan_reply};
use super::{eq_ic, lower, parse_int, parse_timeout, BlockRequest, CmdError, CmdResult, Ctx, Handler};
use crate::kv::float::is_c_space;
use crate::kv::keyspace::{BlockedOp, Keyspace};
use crate::kv::value::Value;
use crate::kv::zset::{AddFlags, AddOutcome, LexBound, LexRange, ScoreRange, ZSet};
use crate::resp::{fmt_double, Frame};

pub static COMMANDS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zcard", zcard),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zrange", zrange),
    ("zrangebyscore", zrangebyscore),
    ("zrevrangebyscore", zrevrangebyscore),
    ("zrangebylex", zrangebylex),
    ("zrevrangebylex", zrevrangebylex),
    ("zrevrange", zrevrange),
    ("zrangestore", zrangestore),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebylex", zremrangebylex),
    ("zpopmin", zpopmin),
    ("zpopmax", zpopmax),
    ("bzpopmin", bzpopmin),
    ("bzpopmax", bzpopmax),
    ("zmpop", zmpop),
    ("bzmpop", bzmpop),
    ("zunionstore", zunionstore),
    ("zinterstore", zinterstore),
    ("zdiffstore", zdiffstore),
    ("zunion", zunion),
    ("zinter", zinter),
    ("zdiff", zdiff),
    ("zintercard", zintercard),
    ("zrandmember", zrandmember),
    ("zscan", zscan),
];

// ------------------------------------------------------------------------------------------------
// Number and range parsing.
// ------------------------------------------------------------------------------------------------

fn starts_with_ic(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

fn digits_at(s: &[u8], from: usize) -> usize {
    s.get(from..).map_or(0, |t| t.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// C's `strtod` on `s` (read up to the first NUL, as C would): the value, how many bytes it
/// consumed (0 when nothing converts), and whether it overflowed or underflowed (`ERANGE`).
pub fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let s = &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())];
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    if starts_with_ic(rest, b"inf") {
        let n = if starts_with_ic(rest, b"infinity") { 8 } else { 3 };
        return (sign(f64::INFINITY), i + n, false);
    }
    if starts_with_ic(rest, b"nan") {
        // "nan(chars)" is NaN as well; every caller rejects NaN, so its length hardly matters.
        return (f64::NAN, i + 3, false);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        return match parse_hex_float(&rest[2..]) {
            Some((v, n, erange)) => (sign(v), i + 2 + n, erange),
            // "0x" followed by no hex digit: only the "0" converts.
            None => (sign(0.0), i + 1, false),
        };
    }
    let int_digits = digits_at(rest, 0);
    let mut j = int_digits;
    let mut frac_digits = 0;
    if rest.get(j) == Some(&b'.') {
        frac_digits = digits_at(rest, j + 1);
        if int_digits + frac_digits > 0 {
            j += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return (0.0, 0, false);
    }
    let mantissa_end = j;
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let d = digits_at(rest, k);
        if d > 0 {
            j = k + d;
        }
    }
    // The consumed text is plain ASCII in a grammar Rust's parser accepts.
    let v: f64 = std::str::from_utf8(&rest[..j]).ok().and_then(|t| t.parse().ok()).unwrap_or(0.0);
    let nonzero = rest[..mantissa_end].iter().any(|c| (b'1'..=b'9').contains(c));
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    (sign(v), i + j, erange)
}

/// The part of a hexadecimal float after "0x": hex digits, an optional fraction, an optional
/// binary exponent (`p-3`). `None` if there is no hex digit at all.
fn parse_hex_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut mant: u64 = 0;
    let mut significant = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut i = 0;
    let mut push = |d: u32, fraction: bool, exp: &mut i64| {
        if mant == 0 && d == 0 {
            if fraction {
                *exp -= 4;
            }
        } else if significant < 15 {
            mant = mant * 16 + d as u64;
            significant += 1;
            if fraction {
                *exp -= 4;
            }
        } else {
            // Digits beyond what a double can hold only decide the rounding.
            sticky |= d != 0;
            if !fraction {
                *exp += 4;
            }
        }
    };
    while let Some(d) = s.get(i).and_then(|&c| hex(c)) {
        push(d, false, &mut exp);
        any = true;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        let mut k = i + 1;
        while let Some(d) = s.get(k).and_then(|&c| hex(c)) {
            push(d, true, &mut exp);
            any = true;
            k += 1;
        }
        if any {
            i = k;
        }
    }
    if !any {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut k = i + 1;
        let mut neg = false;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            neg = s[k] == b'-';
            k += 1;
        }
        let d = digits_at(s, k);
        if d > 0 {
            let e = s[k..k + d]
                .iter()
                .fold(0i64, |acc, c| acc.saturating_mul(10).saturating_add((c - b'0') as i64).min(1 << 40));
            exp += if neg { -e } else { e };
            i = k + d;
        }
    }
    if sticky {
        mant = (mant << 1) | 1;
        exp -= 1;
    }
    let mut v = mant as f64;
    let mut e = exp;
    while e > 1000 && v.is_finite() && v != 0.0 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 && v != 0.0 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    if v.is_finite() && v != 0.0 {
        v *= 2f64.powi(e.clamp(-1100, 1100) as i32);
    }
    let erange = v.is_infinite() || (v == 0.0 && mant != 0);
    Some((v, i, erange))
}

/// A score argument as Redis's `string2d` reads it (ZADD, ZINCRBY, WEIGHTS): all of the
/// argument must be a number, no leading space, no NaN, nothing that overflows or underflows
/// to zero.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let (v, n, erange) = strtod(arg);
    if n != arg.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// One end of a score range (`zslParseRange`): `(` makes it exclusive; the rest is read with
/// `strtod` and must be consumed entirely (so `""` and `"("` mean 0).
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let arg = &arg[..arg.iter().position(|&c| c == 0).unwrap_or(arg.len())];
    let (exclusive, body) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let (v, n, _) = strtod(body);
    if n != body.len() || v.is_nan() {
        return None;
    }
    Some((v, exclusive))
}

pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some((min, min_exclusive)), Some((max, max_exclusive))) => {
            Ok(ScoreRange { min, max, min_exclusive, max_exclusive })
        }
        _ => Err(CmdError::new("ERR min or max is not a float")),
    }
}

/// One end of a lexicographic range (`zslParseLexRangeItem`): `-`, `+`, `[member`, `(member`.
/// Redis reads `-` and `+` as C strings, so `+` followed by a NUL byte is still `+`.
fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    let solo = arg.len() == 1 || arg.get(1) == Some(&0);
    match arg.first() {
        Some(b'+') if solo => Some(LexBound::PosInf),
        Some(b'-') if solo => Some(LexBound::NegInf),
        Some(b'(') => Some(LexBound::Exclusive(Bytes::copy_from_slice(&arg[1..]))),
        Some(b'[') => Some(LexBound::Inclusive(Bytes::copy_from_slice(&arg[1..]))),
        _ => None,
    }
}

pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::new("ERR min or max not valid string range item")),
    }
}

/// An integer argument whose every failure (not a number, out of range) has one message, as
/// Redis's `getRangeLongFromObjectOrReply` with a message.
fn parse_int_in(arg: &[u8], min: i64, msg: &'static str) -> Result<i64, CmdError> {
    parse_int(arg).ok().filter(|&v| v >= min).ok_or_else(|| CmdError::new(msg))
}

// ------------------------------------------------------------------------------------------------
// Replies.
// ------------------------------------------------------------------------------------------------

/// Members, with their scores when asked: flat in RESP2, `[member, score]` pairs in RESP3.
fn pairs_reply(items: Vec<(Bytes, f64)>, withscores: bool, resp3: bool) -> Frame {
    if !withscores {
        return Frame::Array(items.into_iter().map(|(m, _)| Frame::Bulk(m)).collect());
    }
    if resp3 {
        nested_pairs(items)
    } else {
        flat_pairs(items)
    }
}

fn flat_pairs(items: Vec<(Bytes, f64)>) -> Frame {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Frame::Bulk(m));
        out.push(Frame::Double(s));
    }
    Frame::Array(out)
}

fn nested_pairs(items: Vec<(Bytes, f64)>) -> Frame {
    Frame::Array(items.into_iter().map(|(m, s)| Frame::Array(vec![Frame::Bulk(m), Frame::Double(s)])).collect())
}

fn collect_range(z: &ZSet, ranks: Range<usize>, rev: bool) -> Vec<(Bytes, f64)> {
    z.range(ranks, rev).map(|(m, s)| (m.clone(), s)).collect()
}

// ------------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM.
// ------------------------------------------------------------------------------------------------

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, false)
}

/// ZINCRBY key increment member
///
/// This is ZADD with INCR, down to the option parsing: Redis runs the same code, so
/// `ZINCRBY key nx member` is a syntax error rather than "not a valid float".
fn zincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, true)
}

fn zadd_generic(ctx: &mut Ctx, argv: &[Bytes], incr: bool) -> CmdResult {
    let key = &argv[1];
    let mut flags = AddFlags { incr, ..AddFlags::default() };
    let mut ch = false;
    let mut idx = 2;
    while idx < argv.len() {
        let opt = &argv[idx];
        if eq_ic(opt, "nx") {
            flags.nx = true;
        } else if eq_ic(opt, "xx") {
            flags.xx = true;
        } else if eq_ic(opt, "ch") {
            ch = true;
        } else if eq_ic(opt, "incr") {
            flags.incr = true;
        } else if eq_ic(opt, "gt") {
            flags.gt = true;
        } else if eq_ic(opt, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = argv.len() - idx;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::syntax());
    }
    if flags.nx && flags.xx {
        return Err(CmdError::new("ERR XX and NX options at the same time are not compatible"));
    }
    if ((flags.gt || flags.lt) && flags.nx) || (flags.gt && flags.lt) {
        return Err(CmdError::new("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if flags.incr && elements > 2 {
        return Err(CmdError::new("ERR INCR option supports a single increment-element pair"));
    }
    // Every score is checked before anything changes: the command applies fully or not at all.
    let mut pairs = Vec::with_capacity(elements / 2);
    for pair in argv[idx..].chunks_exact(2) {
        let score = parse_score(&pair[0]).ok_or_else(CmdError::not_float)?;
        pairs.push((score, &pair[1]));
    }

    let exists = ctx.get_zset(key)?.is_some();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut nan = false;
    if exists || !flags.xx {
        let z = ctx.zset_or_create(key)?;
        for (score, member) in pairs {
            match z.add(member, score, flags) {
                AddOutcome::Added(s) => {
                    added += 1;
                    processed += 1;
                    last_score = s;
                }
                AddOutcome::Updated(s) => {
                    updated += 1;
                    processed += 1;
                    last_score = s;
                }
                AddOutcome::Unchanged(s) => {
                    processed += 1;
                    last_score = s;
                }
                AddOutcome::Skipped => {}
                AddOutcome::NotANumber => {
                    nan = true;
                    break;
                }
            }
        }
    }
    if added + updated > 0 {
        ctx.touch(key);
        ctx.notify(notify::ZSET, if flags.incr { "zincr" } else { "zadd" }, key);
    }
    ctx.remove_if_empty(key);
    if nan {
        return Err(CmdError::new("ERR resulting score is not a number (NaN)"));
    }
    Ok(if flags.incr {
        if processed > 0 {
            Frame::Double(last_score)
        } else {
            Frame::Null
        }
    } else {
        Frame::Integer(if ch { added + updated } else { added })
    })
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(z) = ctx.get_zset(key)? else { return Ok(Frame::Integer(0)) };
    let mut deleted = 0;
    for m in &argv[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    if deleted > 0 {
        ctx.touch(key);
        ctx.notify(notify::ZSET, "zrem", key);
        ctx.remove_if_empty(key);
    }
    Ok(Frame::Integer(deleted))
}

// ------------------------------------------------------------------------------------------------
// Point queries.
// ------------------------------------------------------------------------------------------------

/// ZSCORE key member
fn zscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(match ctx.get_zset(&argv[1])?.and_then(|z| z.score(&argv[2])) {
        Some(s) => Frame::Double(s),
        None => Frame::Null,
    })
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // A missing key answers like an empty set: one null per member.
    let z = ctx.get_zset(&argv[1])?;
    let z = z.as_deref();
    Ok(Frame::Array(
        argv[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => Frame::Double(s),
                None => Frame::Null,
            })
            .collect(),
    ))
}

/// ZCARD key
fn zcard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.get_zset(&argv[1])?.map_or(0, |z| z.len() as i64)))
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    Ok(Frame::Integer(ctx.get_zset(&argv[1])?.map_or(0, |z| z.rank_range_by_score(&range).len() as i64)))
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    Ok(Frame::Integer(ctx.get_zset(&argv[1])?.map_or(0, |z| z.rank_range_by_lex(&range).len() as i64)))
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(match ctx.get_zset(&argv[1])?.and_then(|z| z.rank(&argv[2])) {
        Some(r) => Frame::Integer(r as i64),
        None => Frame::Null,
    })
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(match ctx.get_zset(&argv[1])?.and_then(|z| z.rev_rank(&argv[2])) {
        Some(r) => Frame::Integer(r as i64),
        None => Frame::Null,
    })
}

// ------------------------------------------------------------------------------------------------
// ZRANGE and its older forms.
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    /// ZRANGE and ZRANGESTORE decide from BYSCORE/BYLEX, rank when neither is given.
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// ZRANGE and ZRANGESTORE decide from REV.
    Auto,
    Forward,
    Reverse,
}

enum ParsedRange {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The ranks `start..=end` (negative counts from the end) of a set of `len` members, clamped as
/// Redis does; `None` when empty.
fn rank_window(start: i64, end: i64, len: usize) -> Option<Range<usize>> {
    let llen = len as i64;
    let mut start = if start < 0 { start + llen } else { start };
    let mut end = if end < 0 { end + llen } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some(start as usize..end as usize + 1)
}

/// Applies LIMIT to the ranks of a score or lex range, walking forward from its start or
/// backward from its end. A negative offset empties the result (Redis walks off the end of the
/// set skipping it); a negative count means no limit.
fn limit_window(ranks: Range<usize>, rev: bool, offset: i64, limit: i64) -> Range<usize> {
    let avail = ranks.len() as u64;
    if offset < 0 || offset as u64 >= avail {
        return 0..0;
    }
    let off = offset as usize;
    let mut n = ranks.len() - off;
    if limit >= 0 {
        n = n.min(limit as usize);
    }
    if rev {
        ranks.end - off - n..ranks.end - off
    } else {
        ranks.start + off..ranks.start + off + n
    }
}

/// ZRANGE, ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE and Z[REV]RANGEBYLEX in one, as Redis's
/// `zrangeGenericCommand`. `src` is the index of the source key; `store` the destination of
/// ZRANGESTORE. `by` and `dir` are fixed by the older commands and `Auto` for the newer ones.
fn zrange_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    src: usize,
    store: Option<&Bytes>,
    mut by: RangeBy,
    mut dir: Direction,
) -> CmdResult {
    let key = &argv[src];
    let (mut min_idx, mut max_idx) = (src + 1, src + 2);
    let mut withscores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = parse_int(&argv[j + 1])?;
            limit = parse_int(&argv[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && eq_ic(a, "rev") {
            dir = Direction::Reverse;
        } else if by == RangeBy::Auto && eq_ic(a, "bylex") {
            by = RangeBy::Lex;
        } else if by == RangeBy::Auto && eq_ic(a, "byscore") {
            by = RangeBy::Score;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if by == RangeBy::Auto {
        by = RangeBy::Rank;
    }
    let rev = dir == Direction::Reverse;
    // Redis only objects to a LIMIT that limits something, so `LIMIT 0 -1` passes.
    if limit != -1 && by == RangeBy::Rank {
        return Err(CmdError::new(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == RangeBy::Lex {
        return Err(CmdError::new("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    if rev && by != RangeBy::Rank {
        // Reversed score and lex ranges are written max first.
        std::mem::swap(&mut min_idx, &mut max_idx);
    }
    let range = match by {
        RangeBy::Score => ParsedRange::Score(parse_score_range(&argv[min_idx], &argv[max_idx])?),
        RangeBy::Lex => ParsedRange::Lex(parse_lex_range(&argv[min_idx], &argv[max_idx])?),
        _ => ParsedRange::Rank(parse_int(&argv[min_idx])?, parse_int(&argv[max_idx])?),
    };

    let resp3 = ctx.resp3();
    // For ZRANGESTORE: whether Redis would start the destination as a skiplist (a rank range
    // longer than the listpack limit; score and lex ranges start as a listpack).
    let mut big = false;
    let items = match ctx.get_zset(key)? {
        None if store.is_none() => return Ok(Frame::Array(vec![])),
        None => Vec::new(),
        Some(z) => {
            let ranks = match &range {
                ParsedRange::Rank(start, end) => match rank_window(*start, *end, z.len()) {
                    Some(w) => {
                        big = w.len() > crate::kv::encoding::zset_max_entries();
                        if rev {
                            z.len() - w.end..z.len() - w.start
                        } else {
                            w
                        }
                    }
                    None => 0..0,
                },
                ParsedRange::Score(r) => limit_window(z.rank_range_by_score(r), rev, offset, limit),
                ParsedRange::Lex(r) => limit_window(z.rank_range_by_lex(r), rev, offset, limit),
            };
            collect_range(z, ranks, rev)
        }
    };
    match store {
        Some(dst) => Ok(store_result(ctx, dst, items, big)),
        None => Ok(pairs_reply(items, withscores, resp3)),
    }
}

/// Writes a ZRANGESTORE result to `dst` (deleting `dst` when it is empty) and returns the reply.
fn store_result(ctx: &mut Ctx, dst: &Bytes, items: Vec<(Bytes, f64)>, skiplist: bool) -> Frame {
    if items.is_empty() {
        if ctx.remove(dst).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
        return Frame::Integer(0);
    }
    let mut z = if skiplist { ZSet::new_skiplist() } else { ZSet::new() };
    for (m, s) in &items {
        z.insert(m, *s);
    }
    let n = z.len() as i64;
    ctx.set(dst.clone(), Value::ZSet(Box::new(z)));
    ctx.notify(notify::ZSET, "zrangestore", dst);
    Frame::Integer(n)
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeBy::Auto, Direction::Auto)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    zrange_generic(ctx, argv, 2, Some(&dst), RangeBy::Auto, Direction::Auto)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeBy::Rank, Direction::Reverse)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeBy::Score, Direction::Forward)
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeBy::Score, Direction::Reverse)
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeBy::Lex, Direction::Forward)
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeBy::Lex, Direction::Reverse)
}

// ------------------------------------------------------------------------------------------------
// Range removals.
// ------------------------------------------------------------------------------------------------

fn zremrange_generic(ctx: &mut Ctx, argv: &[Bytes], by: RangeBy) -> CmdResult {
    let range = match by {
        RangeBy::Score => ParsedRange::Score(parse_score_range(&argv[2], &argv[3])?),
        RangeBy::Lex => ParsedRange::Lex(parse_lex_range(&argv[2], &argv[3])?),
        _ => ParsedRange::Rank(parse_int(&argv[2])?, parse_int(&argv[3])?),
    };
    let key = &argv[1];
    let Some(z) = ctx.get_zset(key)? else { return Ok(Frame::Integer(0)) };
    let ranks = match &range {
        ParsedRange::Rank(start, end) => rank_window(*start, *end, z.len()).unwrap_or(0..0),
        ParsedRange::Score(r) => z.rank_range_by_score(r),
        ParsedRange::Lex(r) => z.rank_range_by_lex(r),
    };
    let removed = z.remove_range(ranks);
    if removed > 0 {
        ctx.touch(key);
        let event = match by {
            RangeBy::Score => "zremrangebyscore",
            RangeBy::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(notify::ZSET, event, key);
        ctx.remove_if_empty(key);
    }
    Ok(Frame::Integer(removed as i64))
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeBy::Score)
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeBy::Rank)
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, argv, RangeBy::Lex)
}

// ------------------------------------------------------------------------------------------------
// Pops, blocking or not.
// ------------------------------------------------------------------------------------------------

/// The keyspace event of a pop from the low or the high end.
fn pop_event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

/// Pops up to `count` members from the low (`max == false`) or high end.
fn pop_members(z: &mut ZSet, max: bool, count: u64) -> Vec<(Bytes, f64)> {
    let n = count.min(z.len() as u64) as usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let popped = if max { z.pop_last() } else { z.pop_first() };
        match popped {
            Some(p) => out.push(p),
            None => break,
        }
    }
    out
}

/// The reply of a pop that names its key: BZPOPMIN's flat `[key, member, score]`, or
/// ZMPOP's `[key, [[member, score], ...]]`.
fn keyed_pop_reply(key: &Bytes, items: Vec<(Bytes, f64)>, nested: bool) -> Frame {
    if nested {
        return Frame::Array(vec![Frame::Bulk(key.clone()), nested_pairs(items)]);
    }
    let mut out = vec![Frame::Bulk(key.clone())];
    for (m, s) in items {
        out.push(Frame::Bulk(m));
        out.push(Frame::Double(s));
    }
    Frame::Array(out)
}

/// The key a pop took its members from, and the members with their scores.
type Popped = (Bytes, Vec<(Bytes, f64)>);

/// Pops from the first of `keys` that exists. `Ok(None)` when none does; WRONGTYPE from the
/// first existing key of another type, as Redis stops there.
fn pop_first_existing(ctx: &mut Ctx, keys: &[Bytes], max: bool, count: u64) -> Result<Option<Popped>, CmdError> {
    for key in keys {
        let items = match ctx.get_zset(key)? {
            Some(z) if !z.is_empty() => pop_members(z, max, count),
            _ => continue,
        };
        ctx.touch(key);
        ctx.notify(notify::ZSET, pop_event(max), key);
        ctx.remove_if_empty(key);
        return Ok(Some((key.clone(), items)));
    }
    Ok(None)
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

fn zpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_int_in(a, 0, "ERR value is out of range, must be positive")?),
        None => None,
    };
    // RESP3 gets pairs only when a count was given; a single pop stays flat.
    let nested = ctx.resp3() && count.is_some();
    let key = &argv[1];
    let items = match ctx.get_zset(key)? {
        None => return Ok(Frame::Array(vec![])),
        Some(_) if count == Some(0) => return Ok(Frame::Array(vec![])),
        Some(z) => pop_members(z, max, count.unwrap_or(1) as u64),
    };
    if !items.is_empty() {
        ctx.touch(key);
        ctx.notify(notify::ZSET, pop_event(max), key);
        ctx.remove_if_empty(key);
    }
    Ok(if nested { nested_pairs(items) } else { flat_pairs(items) })
}

/// A client parked by BZPOPMIN/BZPOPMAX (`count == None`) or BZMPOP.
struct BlockedZPop {
    max: bool,
    count: Option<u64>,
}

impl BlockedOp for BlockedZPop {
    fn serve(&mut self, ks: &mut Keyspace, db: usize, key: &Bytes, now_ms: i64, _resp3: bool) -> Option<Frame> {
        // Only a non-empty sorted set serves; another type at the key leaves the client waiting.
        let items = match ks.get(db, key, now_ms) {
            Some(Value::ZSet(z)) if !z.is_empty() => pop_members(z, self.max, self.count.unwrap_or(1)),
            _ => return None,
        };
        ks.touch(db, key);
        ks.notify(notify::ZSET, pop_event(self.max), db, key);
        ks.remove_if_empty(db, key);
        Some(keyed_pop_reply(key, items, self.count.is_some()))
    }

    fn timeout_reply(&self) -> Frame {
        Frame::NullArray
    }
}

/// Parks the client (or, where blocking is not allowed, answers the timeout reply at once).
fn block_or_timeout(ctx: &mut Ctx, keys: Vec<Bytes>, deadline_ms: Option<i64>, op: BlockedZPop) -> CmdResult {
    let reply = op.timeout_reply();
    if ctx.may_block {
        ctx.block = Some(BlockRequest { keys, deadline_ms, op: Box::new(op) });
    }
    Ok(reply)
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, false)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, argv, true)
}

fn bzpop_generic(ctx: &mut Ctx, argv: &[Bytes], max: bool) -> CmdResult {
    let deadline = parse_timeout(&argv[argv.len() - 1], ctx.now_ms)?;
    let keys = &argv[1..argv.len() - 1];
    if let Some((key, items)) = pop_first_existing(ctx, keys, max, 1)? {
        return Ok(keyed_pop_reply(&key, items, false));
    }
    block_or_timeout(ctx, keys.to_vec(), deadline, BlockedZPop { max, count: None })
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
fn zmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zmpop_generic(ctx, argv, 1, false)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zmpop_generic(ctx, argv, 2, true)
}

fn zmpop_generic(ctx: &mut Ctx, argv: &[Bytes], numkeys_idx: usize, block: bool) -> CmdResult {
    let numkeys = parse_int_in(&argv[numkeys_idx], 1, "ERR numkeys should be greater than 0")?;
    let where_idx = match (numkeys as u64).checked_add(numkeys_idx as u64 + 1) {
        Some(w) if w < argv.len() as u64 => w as usize,
        _ => return Err(CmdError::syntax()),
    };
    let max = if eq_ic(&argv[where_idx], "min") {
        false
    } else if eq_ic(&argv[where_idx], "max") {
        true
    } else {
        return Err(CmdError::syntax());
    };
    let mut count: Option<i64> = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if count.is_none() && eq_ic(&argv[j], "count") && more > 0 {
            j += 1;
            count = Some(parse_int_in(&argv[j], 1, "ERR count should be greater than 0")?);
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let count = count.unwrap_or(1) as u64;
    let keys = &argv[numkeys_idx + 1..where_idx];
    let deadline = if block { parse_timeout(&argv[1], ctx.now_ms)? } else { None };
    if let Some((key, items)) = pop_first_existing(ctx, keys, max, count)? {
        return Ok(keyed_pop_reply(&key, items, true));
    }
    if !block {
        return Ok(Frame::NullArray);
    }
    block_or_timeout(ctx, keys.to_vec(), deadline, BlockedZPop { max, count: Some(count) })
}

// ------------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF (and STORE), ZINTERCARD.
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Combines a score into an accumulated one (Redis's `zunionInterAggregate`, including its
/// rule that `inf + -inf` is 0).
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// The size of an input: sorted sets and plain sets are accepted, a missing key is empty.
fn input_len(v: Option<&mut Value>) -> Result<usize, CmdError> {
    match v {
        None => Ok(0),
        Some(Value::ZSet(z)) => Ok(z.len()),
        Some(Value::Set(s)) => Ok(s.len()),
        Some(_) => Err(CmdError::wrong_type()),
    }
}

/// Every (member, score) of an input; members of a plain set score 1.
fn input_members(v: Option<&mut Value>) -> Vec<(Bytes, f64)> {
    match v {
        Some(Value::ZSet(z)) => z.iter().map(|(m, s)| (m.clone(), s)).collect(),
        Some(Value::Set(s)) => s.members.iter().map(|m| (m.clone(), 1.0)).collect(),
        _ => Vec::new(),
    }
}

/// A member's score in an input, 1 for a plain set's member.
fn input_score(v: &Value, member: &[u8]) -> Option<f64> {
    match v {
        Value::ZSet(z) => z.score(member),
        Value::Set(s) if s.contains(member) => Some(1.0),
        _ => None,
    }
}

/// Redis's `zunionInterDiffGenericCommand`: `numkeys_idx` is where numkeys sits, `dst` the
/// destination of the STORE forms, `card_only` ZINTERCARD.
fn zsetop_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    dst: Option<&Bytes>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let setnum = parse_int(&argv[numkeys_idx])?;
    if setnum < 1 {
        return Err(CmdError::new(format!("ERR at least 1 input key is needed for '{}' command", lower(&argv[0]))));
    }
    if setnum as u64 > (argv.len() - numkeys_idx - 1) as u64 {
        return Err(CmdError::syntax());
    }
    let setnum = setnum as usize;
    let keys = &argv[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    // Redis looks the inputs up (and reports WRONGTYPE) before it reads the options.
    let mut lens = Vec::with_capacity(setnum);
    for k in keys {
        lens.push(input_len(ctx.get(k))?);
    }

    let mut weights = vec![1.0f64; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: i64 = 0;
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = parse_score(&argv[j]).ok_or_else(|| CmdError::new("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = &argv[j + 1];
            how = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::syntax());
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            limit = parse_int_in(&argv[j + 1], 0, "ERR LIMIT can't be negative")?;
            j += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }

    // Union and intersection visit the inputs smallest first (a stable sort, as glibc's
    // qsort), which also fixes the order in which floating-point sums are taken.
    let mut order: Vec<usize> = (0..setnum).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| lens[i]);
    }
    let mut result: Vec<(Bytes, f64)> = Vec::new();
    match op {
        SetOp::Union => {
            let mut acc: HashMap<Bytes, f64, ahash::RandomState> = HashMap::default();
            for &i in &order {
                if lens[i] == 0 {
                    continue;
                }
                for (m, s) in input_members(ctx.get(&keys[i])) {
                    let mut v = weights[i] * s;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, how),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Inter => {
            let first = order[0];
            if lens[first] > 0 {
                result = input_members(ctx.get(&keys[first]));
                for (_, s) in result.iter_mut() {
                    *s *= weights[first];
                    if s.is_nan() {
                        *s = 0.0;
                    }
                }
                for &i in &order[1..] {
                    let Some(v) = ctx.get(&keys[i]) else {
                        result.clear();
                        break;
                    };
                    let w = weights[i];
                    result.retain_mut(|(m, s)| match input_score(v, m) {
                        Some(other) => {
                            aggregate(s, other * w, how);
                            true
                        }
                        None => false,
                    });
                    if result.is_empty() {
                        break;
                    }
                }
            }
        }
        SetOp::Diff => {
            if lens[0] > 0 {
                result = input_members(ctx.get(&keys[0]));
                for i in 1..setnum {
                    if lens[i] == 0 {
                        continue;
                    }
                    let Some(v) = ctx.get(&keys[i]) else { continue };
                    result.retain(|(m, _)| input_score(v, m).is_none());
                    if result.is_empty() {
                        break;
                    }
                }
            }
        }
    }

    if card_only {
        let n = result.len() as i64;
        return Ok(Frame::Integer(if limit > 0 { n.min(limit) } else { n }));
    }
    // Redis builds the result as a skiplist, and only a stored result may become a listpack.
    let mut z = ZSet::new_skiplist();
    for (m, s) in &result {
        z.insert(m, *s);
    }
    match dst {
        Some(dst) => {
            if z.is_empty() {
                if ctx.remove(dst).is_some() {
                    ctx.notify(notify::GENERIC, "del", dst);
                }
                return Ok(Frame::Integer(0));
            }
            z.convert_to_listpack_if_fits();
            let n = z.len() as i64;
            ctx.set(dst.clone(), Value::ZSet(Box::new(z)));
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            ctx.notify(notify::ZSET, event, dst);
            Ok(Frame::Integer(n))
        }
        None => {
            let items = collect_range(&z, 0..z.len(), false);
            Ok(pairs_reply(items, withscores, ctx.resp3()))
        }
    }
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
fn zunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    zsetop_generic(ctx, argv, Some(&dst), 2, SetOp::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
fn zinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    zsetop_generic(ctx, argv, Some(&dst), 2, SetOp::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst = argv[1].clone();
    zsetop_generic(ctx, argv, Some(&dst), 2, SetOp::Diff, false)
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zsetop_generic(ctx, argv, None, 1, SetOp::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zsetop_generic(ctx, argv, None, 1, SetOp::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zsetop_generic(ctx, argv, None, 1, SetOp::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    zsetop_generic(ctx, argv, None, 1, SetOp::Inter, true)
}

// ------------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN.
// ------------------------------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    if argv.len() < 3 {
        let Some(z) = ctx.get_zset(key)? else { return Ok(Frame::Null) };
        let r = rand::thread_rng().gen_range(0..z.len().max(1));
        return Ok(z.get_by_rank(r).map_or(Frame::Null, |(m, _)| Frame::Bulk(m.clone())));
    }
    let l = parse_int(&argv[2])?;
    if l == i64::MIN {
        return Err(CmdError::new(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if argv.len() > 4 || (argv.len() == 4 && !eq_ic(&argv[3], "withscores")) {
        return Err(CmdError::syntax());
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::new("ERR value is out of range"));
    }
    let resp3 = ctx.resp3();
    let Some(z) = ctx.get_zset(key)? else { return Ok(Frame::Array(vec![])) };
    let count = l.unsigned_abs();
    let len = z.len();
    if count == 0 || len == 0 {
        return Ok(Frame::Array(vec![]));
    }
    let mut rng = rand::thread_rng();
    let items: Vec<(Bytes, f64)> = if l < 0 || count == 1 {
        // With repetitions, in random order.
        let count = super::hash::random_repeat_count(l)?;
        (0..count).filter_map(|_| z.get_by_rank(rng.gen_range(0..len)).map(|(m, s)| (m.clone(), s))).collect()
    } else if count >= len as u64 {
        // The whole set, in the order Redis's set-operation iterator walks it: highest first.
        collect_range(z, 0..len, true)
    } else {
        rand::seq::index::sample(&mut rng, len, count as usize)
            .into_iter()
            .filter_map(|r| z.get_by_rank(r).map(|(m, s)| (m.clone(), s)))
            .collect()
    };
    Ok(pairs_reply(items, withscores, resp3))
}

/// How a listpack hands a score back to ZSCAN: integral scores were stored as integers.
fn listpack_score_text(score: f64) -> String {
    let limit = (i64::MAX / 2) as f64;
    if (-limit..=limit).contains(&score) && score.fract() == 0.0 {
        (score as i64).to_string()
    } else {
        fmt_double(score)
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
///
/// A set Redis keeps as a listpack is returned whole with cursor 0, exactly as Redis does. For
/// a bigger set Redis walks its hash table in an order nothing outside can reproduce; terrarium
/// walks the ranks instead (the cursor is the next rank), which keeps COUNT's meaning but not
/// Redis's guarantee for members that move while a scan is in progress.
fn zscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_scan_cursor(&argv[2])?;
    let key = &argv[1];
    if ctx.get_zset(key)?.is_none() {
        return Ok(scan_reply(vec![]));
    }
    let o = parse_scan_options(argv, 3, false)?;
    let (count, pattern) = (o.count as i64, o.pattern);
    let Some(z) = ctx.get_zset(key)? else {
        return Ok(Frame::Array(vec![Frame::bulk_str("0"), Frame::Array(vec![])]));
    };
    let (next, items): (u64, Vec<(Bytes, String)>) = if z.is_listpack() {
        (0, z.iter().map(|(m, s)| (m.clone(), listpack_score_text(s))).collect())
    } else {
        let len = z.len() as u64;
        let start = cursor.min(len);
        let end = start.saturating_add(count as u64).min(len);
        let next = if end >= len { 0 } else { end };
        (next, z.range(start as usize..end as usize, false).map(|(m, s)| (m.clone(), fmt_double(s))).collect())
    };
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        if !scan_matches(&pattern, &m) {
            continue;
        }
        out.push(Frame::Bulk(m));
        out.push(Frame::bulk(s));
    }
    Ok(Frame::Array(vec![Frame::bulk(next.to_string()), Frame::Array(out)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_c() {
        assert_eq!(strtod(b"1.5"), (1.5, 3, false));
        assert_eq!(strtod(b"  -2e3x"), (-2000.0, 6, false));
        assert_eq!(strtod(b""), (0.0, 0, false));
        assert_eq!(strtod(b"+"), (0.0, 0, false));
        assert_eq!(strtod(b"5."), (5.0, 2, false));
        assert_eq!(strtod(b".5"), (0.5, 2, false));
        assert_eq!(strtod(b"1e"), (1.0, 1, false));
        assert_eq!(strtod(b"-Infinity"), (f64::NEG_INFINITY, 9, false));
        assert_eq!(strtod(b"infin"), (f64::INFINITY, 3, false));
        assert_eq!(strtod(b"0x10"), (16.0, 4, false));
        assert_eq!(strtod(b"0x1p4"), (16.0, 5, false));
        assert_eq!(strtod(b"0x.8"), (0.5, 4, false));
        assert_eq!(strtod(b"0x"), (0.0, 1, false));
        assert_eq!(strtod(b"0x1.fffffffffffff8p0").0, 2.0);
        assert_eq!(strtod(b"1e999"), (f64::INFINITY, 5, true));
        assert_eq!(strtod(b"1e-999"), (0.0, 6, true));
        assert_eq!(strtod(b"0e-999"), (0.0, 6, false));
        assert!(strtod(b"nan").0.is_nan());
        assert_eq!(strtod(b"1\0junk"), (1.0, 1, false));
    }

    #[test]
    fn score_parsing_follows_string2d_and_ranges() {
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b"1e999"), None);
        assert_eq!(parse_score(b"1e-999"), None);
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score_bound(b""), Some((0.0, false)));
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"1 "), None);
        assert_eq!(parse_score_bound(b"(1e999"), Some((f64::INFINITY, true)));
        assert_eq!(parse_score_bound(b"nan"), None);
        assert_eq!(parse_lex_bound(b"+\0x"), Some(LexBound::PosInf));
        assert_eq!(parse_lex_bound(b"+x"), None);
        assert_eq!(parse_lex_bound(b""), None);
        assert_eq!(parse_lex_bound(b"("), Some(LexBound::Exclusive(Bytes::new())));
    }

    #[test]
    fn scan_cursor_and_listpack_scores() {
        assert_eq!(listpack_score_text(1e17), "100000000000000000");
        assert_eq!(listpack_score_text(1.5), "1.5");
        assert_eq!(listpack_score_text(f64::INFINITY), "inf");
        assert_eq!(listpack_score_text(1e19), "1e+19");
    }

    #[test]
    fn windows() {
        assert_eq!(rank_window(0, -1, 3), Some(0..3));
        assert_eq!(rank_window(-100, 100, 3), Some(0..3));
        assert_eq!(rank_window(2, 1, 3), None);
        assert_eq!(rank_window(3, 5, 3), None);
        assert_eq!(rank_window(i64::MIN, i64::MAX, 3), Some(0..3));
        assert_eq!(limit_window(2..8, false, 1, 2), 3..5);
        assert_eq!(limit_window(2..8, true, 1, 2), 5..7);
        assert_eq!(limit_window(2..8, false, 0, -1), 2..8);
        assert_eq!(limit_window(2..8, false, -1, 5), 0..0);
        assert_eq!(limit_window(2..8, false, 6, 5), 0..0);
    }
}
