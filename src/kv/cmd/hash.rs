//! Hash commands: HSET and friends, HINCRBY/HINCRBYFLOAT, HSCAN and HRANDFIELD.
//!
//! A hash is an insertion-ordered map (`HashValue`), because Redis keeps small hashes in a
//! listpack and HGETALL shows that order. This file also holds the bound on random replies with
//! repetitions ([`random_repeat_count`]) that SRANDMEMBER and ZRANDMEMBER share.
//!
//! HINCRBYFLOAT computes in x87 80-bit `long double` as Redis does, emulated exactly in
//! [`crate::kv::float`]: `1000.1` must come back as `1000.09999999999999998`, which neither
//! `f64` nor a shortest-representation formatter would produce.

use crate::kv::notify;
use bytes::Bytes;
use rand::Rng;

use super::keys::{parse_scan_cursor, parse_scan_options, scan_matches, scan_reply};
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::kv::value::{hash_remove, HashValue, Value};
use crate::limits::RANDOM_REPEAT_COUNT_MAX;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmset", hmset),
    ("hmget", hmget),
    ("hgetall", hgetall),
    ("hdel", hdel),
    ("hexists", hexists),
    ("hlen", hlen),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hstrlen", hstrlen),
    ("hscan", hscan),
    ("hrandfield", hrandfield),
];

/// The size of a random reply with repetitions, `|count|`, refused beyond the bound.
pub(super) fn random_repeat_count(count: i64) -> Result<usize, CmdError> {
    let n = count.unsigned_abs();
    if n > RANDOM_REPEAT_COUNT_MAX {
        return Err(CmdError::new("ERR value is out of range"));
    }
    Ok(n as usize)
}

/// The count of SRANDMEMBER and HRANDFIELD: any integer but i64::MIN (Redis accepts the range
/// `-LONG_MAX..=LONG_MAX` and says so).
pub(super) fn parse_random_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_int(arg)?;
    if n == i64::MIN {
        return Err(CmdError::new(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(n)
}

// ------------------------------------------------------------------------------------------------
// Writes.
// ------------------------------------------------------------------------------------------------

/// Sets field/value pairs from `argv[2..]`; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx, argv: &[Bytes]) -> Result<i64, CmdError> {
    let key = &argv[1];
    let mut added = 0;
    match ctx.get_hash(key)? {
        Some(h) => {
            for pair in argv[2..].chunks_exact(2) {
                // An existing field keeps its position, as a listpack replaces in place.
                if h.set(pair[0].clone(), pair[1].clone()).is_none() {
                    added += 1;
                }
            }
            ctx.touch(key);
        }
        None => {
            let mut h = HashValue::default();
            for pair in argv[2..].chunks_exact(2) {
                if h.set(pair[0].clone(), pair[1].clone()).is_none() {
                    added += 1;
                }
            }
            ctx.set(key.clone(), Value::Hash(h));
        }
    }
    ctx.notify(notify::HASH, "hset", key);
    Ok(added)
}

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(CmdError::wrong_arity("hset"));
    }
    Ok(Frame::Integer(set_pairs(ctx, argv)?))
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(CmdError::wrong_arity("hmset"));
    }
    set_pairs(ctx, argv)?;
    Ok(Frame::ok())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    if let Some(h) = ctx.get_hash(key)? {
        if h.contains_key(&argv[2]) {
            return Ok(Frame::Integer(0));
        }
    }
    set_pairs(ctx, argv)?;
    Ok(Frame::Integer(1))
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(h) = ctx.get_hash(key)? else { return Ok(Frame::Integer(0)) };
    let mut deleted = 0;
    for f in &argv[2..] {
        if hash_remove(h, f).is_some() {
            deleted += 1;
        }
        if h.is_empty() {
            break;
        }
    }
    if deleted > 0 {
        ctx.touch(key);
        ctx.notify(notify::HASH, "hdel", key);
        ctx.remove_if_empty(key);
    }
    Ok(Frame::Integer(deleted))
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let incr = parse_int(&argv[3])?;
    let (key, field) = (&argv[1], &argv[2]);
    let current = match ctx.get_hash(key)?.and_then(|h| h.get(&field[..])) {
        Some(v) => crate::resp::codec::parse_i64(v).ok_or_else(|| CmdError::new("ERR hash value is not an integer"))?,
        None => 0,
    };
    let new = current.checked_add(incr).ok_or_else(CmdError::overflow)?;
    store_field(ctx, key, field, Bytes::from(new.to_string()))?;
    ctx.notify(notify::HASH, "hincrby", key);
    Ok(Frame::Integer(new))
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    use crate::kv::float::{self, LongDouble};
    let incr = match float::parse(&argv[3]) {
        None => return Err(CmdError::not_float()),
        Some(LongDouble::Inf) => return Err(CmdError::new("ERR value is NaN or Infinity")),
        Some(x) => x,
    };
    let would_be_inf = || CmdError::new("ERR increment would produce NaN or Infinity");
    let (key, field) = (&argv[1], &argv[2]);
    let current = match ctx.get_hash(key)?.and_then(|h| h.get(&field[..])) {
        Some(v) => match float::parse(v) {
            None => return Err(CmdError::new("ERR hash value is not a float")),
            Some(LongDouble::Inf) => return Err(would_be_inf()),
            Some(x) => x,
        },
        None => LongDouble::ZERO,
    };
    let sum = float::add(current, incr).ok_or_else(would_be_inf)?;
    let text = Bytes::from(float::format_human(sum));
    store_field(ctx, key, field, text.clone())?;
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    Ok(Frame::Bulk(text))
}

/// Sets one field, creating the hash if needed, and touches the key.
fn store_field(ctx: &mut Ctx, key: &Bytes, field: &Bytes, value: Bytes) -> Result<(), CmdError> {
    match ctx.get_hash(key)? {
        Some(h) => {
            h.set(field.clone(), value);
            ctx.touch(key);
        }
        None => {
            let mut h = HashValue::default();
            h.set(field.clone(), value);
            ctx.set(key.clone(), Value::Hash(h));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Reads.
// ------------------------------------------------------------------------------------------------

/// HGET key field
fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(match ctx.get_hash(&argv[1])?.and_then(|h| h.get(&argv[2][..])) {
        Some(v) => Frame::Bulk(v.clone()),
        None => Frame::Null,
    })
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let h = ctx.get_hash(&argv[1])?;
    let h = h.as_deref();
    Ok(Frame::Array(
        argv[2..]
            .iter()
            .map(|f| match h.and_then(|h| h.get(&f[..])) {
                Some(v) => Frame::Bulk(v.clone()),
                None => Frame::Null,
            })
            .collect(),
    ))
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pairs = match ctx.get_hash(&argv[1])? {
        Some(h) => h.iter().map(|(f, v)| (Frame::Bulk(f.clone()), Frame::Bulk(v.clone()))).collect(),
        None => Vec::new(),
    };
    Ok(Frame::Map(pairs))
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::bulks(ctx.get_hash(&argv[1])?.map(|h| h.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()))
}

/// HVALS key
fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::bulks(ctx.get_hash(&argv[1])?.map(|h| h.values().cloned().collect::<Vec<_>>()).unwrap_or_default()))
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = ctx.get_hash(&argv[1])?.is_some_and(|h| h.contains_key(&argv[2][..]));
    Ok(Frame::Integer(i64::from(found)))
}

/// HLEN key
fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.get_hash(&argv[1])?.map_or(0, |h| h.len() as i64)))
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let len = ctx.get_hash(&argv[1])?.and_then(|h| h.get(&argv[2][..])).map_or(0, |v| v.len());
    Ok(Frame::Integer(len as i64))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
///
/// Returns every matching pair at once with cursor 0, which is what Redis does for a hash in
/// listpack encoding (up to 128 fields of at most 64 bytes).
fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis's order: the cursor, then the key (a missing key answers an empty scan before the
    // options are even looked at), then the options.
    parse_scan_cursor(&argv[2])?;
    let Some(h) = ctx.get_hash(&argv[1])? else { return Ok(scan_reply(vec![])) };
    let pattern = parse_scan_options(argv, 3, false)?.pattern;
    let mut items = Vec::new();
    for (f, v) in h.iter() {
        if scan_matches(&pattern, f) {
            items.push(Frame::Bulk(f.clone()));
            items.push(Frame::Bulk(v.clone()));
        }
    }
    Ok(scan_reply(items))
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut count = None;
    let mut withvalues = false;
    if argv.len() >= 3 {
        let n = parse_random_count(&argv[2])?;
        if argv.len() > 4 || (argv.len() == 4 && !eq_ic(&argv[3], "withvalues")) {
            return Err(CmdError::syntax());
        }
        if argv.len() == 4 {
            withvalues = true;
            // Redis refuses counts whose doubled reply length would overflow.
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
                return Err(CmdError::new("ERR value is out of range"));
            }
        }
        count = Some(n);
    }
    let resp3 = ctx.resp3();
    let Some(count) = count else {
        return Ok(match ctx.get_hash(&argv[1])? {
            Some(h) if !h.is_empty() => {
                let i = rand::thread_rng().gen_range(0..h.len());
                h.get_index(i).map_or(Frame::Null, |(f, _)| Frame::Bulk(f.clone()))
            }
            _ => Frame::Null,
        });
    };
    let Some(h) = ctx.get_hash(&argv[1])? else { return Ok(Frame::Array(vec![])) };
    if count == 0 || h.is_empty() {
        return Ok(Frame::Array(vec![]));
    }
    let len = h.len();
    let indexes: Vec<usize> = if count < 0 {
        // With repetitions: each pick independent.
        let n = random_repeat_count(count)?;
        let mut rng = rand::thread_rng();
        (0..n).map(|_| rng.gen_range(0..len)).collect()
    } else if count as u64 >= len as u64 {
        (0..len).collect()
    } else {
        // Distinct fields, kept in the hash's own order as Redis's listpack sampling does.
        let mut picked = rand::seq::index::sample(&mut rand::thread_rng(), len, count as usize).into_vec();
        picked.sort_unstable();
        picked
    };
    let mut out = Vec::with_capacity(indexes.len() * if withvalues && !resp3 { 2 } else { 1 });
    for i in indexes {
        let Some((f, v)) = h.get_index(i) else { continue };
        if !withvalues {
            out.push(Frame::Bulk(f.clone()));
        } else if resp3 {
            out.push(Frame::Array(vec![Frame::Bulk(f.clone()), Frame::Bulk(v.clone())]));
        } else {
            out.push(Frame::Bulk(f.clone()));
            out.push(Frame::Bulk(v.clone()));
        }
    }
    Ok(Frame::Array(out))
}

/// Redis's `long double` arithmetic for HINCRBYFLOAT (and INCRBYFLOAT), reproduced exactly.
///

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_counts_are_bounded() {
        assert!(random_repeat_count(-5).is_ok());
        assert!(random_repeat_count(-(RANDOM_REPEAT_COUNT_MAX as i64) - 1).is_err());
        assert!(parse_random_count(b"-9223372036854775808").is_err());
        assert_eq!(parse_random_count(b"-9223372036854775807").ok(), Some(-i64::MAX));
    }
}
