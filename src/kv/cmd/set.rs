//! Set commands: membership, random picks, moves, the algebra (SINTER, SUNION, SDIFF and
//! their STORE forms, SINTERCARD) and SSCAN.
//!
//! Where Redis iterates a set to build a reply, we iterate [`SetValue::ordered`], so a set
//! Redis would hold as an intset replies in ascending numeric order exactly like Redis; for
//! larger or non-integer sets Redis's order comes from its hash table and cannot be matched
//! (tests compare those replies as multisets).

use crate::kv::notify;
use bytes::Bytes;
use rand::Rng;

use super::hash::{parse_random_count, random_repeat_count};
use super::keys::{parse_scan_cursor, parse_scan_options, scan_matches, scan_reply};
use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::kv::value::{SetValue, Value};
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sunion", sunion),
    ("sdiff", sdiff),
    ("sinterstore", sinterstore),
    ("sunionstore", sunionstore),
    ("sdiffstore", sdiffstore),
    ("sintercard", sintercard),
    ("sscan", sscan),
];

fn bulk_set(members: Vec<Bytes>) -> Frame {
    Frame::Set(members.into_iter().map(Frame::Bulk).collect())
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let added = match ctx.get_set(key)? {
        Some(s) => {
            let added = argv[2..].iter().filter(|m| s.insert((*m).clone())).count();
            if added > 0 {
                ctx.touch(key);
            }
            added
        }
        None => {
            let s = SetValue::from_members(argv[2..].iter().cloned());
            let added = s.len();
            ctx.set(key.clone(), Value::Set(s));
            added
        }
    };
    if added > 0 {
        ctx.notify(notify::SET, "sadd", key);
    }
    Ok(Frame::Integer(added as i64))
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(s) = ctx.get_set(key)? else { return Ok(Frame::Integer(0)) };
    let removed = argv[2..].iter().filter(|m| s.remove(m)).count();
    if removed > 0 {
        ctx.touch(key);
        ctx.notify(notify::SET, "srem", key);
        ctx.remove_if_empty(key);
    }
    Ok(Frame::Integer(removed as i64))
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(bulk_set(ctx.get_set(&argv[1])?.map(|s| s.ordered()).unwrap_or_default()))
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found = ctx.get_set(&argv[1])?.is_some_and(|s| s.contains(&argv[2]));
    Ok(Frame::Integer(i64::from(found)))
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let s = ctx.get_set(&argv[1])?;
    let s = s.as_deref();
    Ok(Frame::Array(argv[2..].iter().map(|m| Frame::Integer(i64::from(s.is_some_and(|s| s.contains(m))))).collect()))
}

/// SCARD key
fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.get_set(&argv[1])?.map_or(0, |s| s.len() as i64)))
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    let key = &argv[1];
    let Some(count) = argv.get(2) else {
        let Some(s) = ctx.get_set(key)? else { return Ok(Frame::Null) };
        if s.is_empty() {
            return Ok(Frame::Null);
        }
        let i = rand::thread_rng().gen_range(0..s.len());
        let Some(m) = s.members.get_index(i).cloned() else { return Ok(Frame::Null) };
        s.remove(&m);
        ctx.touch(key);
        ctx.notify(notify::SET, "spop", key);
        ctx.remove_if_empty(key);
        return Ok(Frame::Bulk(m));
    };
    let count = match parse_int(count) {
        Ok(n) if n >= 0 => n as u64,
        _ => return Err(CmdError::out_of_range_positive()),
    };
    let Some(s) = ctx.get_set(key)? else { return Ok(Frame::Set(vec![])) };
    if count == 0 {
        return Ok(Frame::Set(vec![]));
    }
    let popped = if count >= s.len() as u64 {
        // Everything: Redis replies the whole set in its iteration order and deletes the key.
        let all = s.ordered();
        ctx.remove(key);
        ctx.notify(notify::SET, "spop", key);
        ctx.notify(notify::GENERIC, "del", key);
        all
    } else {
        let picked = rand::seq::index::sample(&mut rand::thread_rng(), s.len(), count as usize);
        let members: Vec<Bytes> = picked.iter().filter_map(|i| s.members.get_index(i).cloned()).collect();
        for m in &members {
            s.remove(m);
        }
        ctx.touch(key);
        ctx.notify(notify::SET, "spop", key);
        members
    };
    Ok(bulk_set(popped))
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::syntax());
    }
    let key = &argv[1];
    let Some(count) = argv.get(2) else {
        return Ok(match ctx.get_set(key)? {
            Some(s) if !s.is_empty() => {
                let i = rand::thread_rng().gen_range(0..s.len());
                s.members.get_index(i).map_or(Frame::Null, |m| Frame::Bulk(m.clone()))
            }
            _ => Frame::Null,
        });
    };
    let count = parse_random_count(count)?;
    let Some(s) = ctx.get_set(key)? else { return Ok(Frame::Array(vec![])) };
    if count == 0 || s.is_empty() {
        return Ok(Frame::Array(vec![]));
    }
    let len = s.len();
    let members: Vec<Bytes> = if count < 0 {
        let n = random_repeat_count(count)?;
        let mut rng = rand::thread_rng();
        (0..n).filter_map(|_| s.members.get_index(rng.gen_range(0..len)).cloned()).collect()
    } else if count as u64 >= len as u64 {
        s.ordered()
    } else {
        let picked = rand::seq::index::sample(&mut rand::thread_rng(), len, count as usize);
        picked.iter().filter_map(|i| s.members.get_index(i).cloned()).collect()
    };
    Ok(Frame::bulks(members))
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    // Redis's order: a missing source answers 0 before the destination's type is checked.
    if ctx.get_set(src)?.is_none() {
        return Ok(Frame::Integer(0));
    }
    ctx.get_set(dst)?;
    if src == dst {
        let found = ctx.get_set(src)?.is_some_and(|s| s.contains(member));
        return Ok(Frame::Integer(i64::from(found)));
    }
    let removed = ctx.get_set(src)?.is_some_and(|s| s.remove(member));
    if !removed {
        return Ok(Frame::Integer(0));
    }
    ctx.touch(src);
    ctx.notify(notify::SET, "srem", src);
    ctx.remove_if_empty(src);
    let added = match ctx.get_set(dst)? {
        Some(d) => d.insert(member.clone()),
        None => {
            ctx.set(dst.clone(), Value::Set(SetValue::from_members([member.clone()])));
            true
        }
    };
    if added {
        ctx.touch(dst);
        ctx.notify(notify::SET, "sadd", dst);
    }
    Ok(Frame::Integer(1))
}

// ------------------------------------------------------------------------------------------------
// Set algebra.
// ------------------------------------------------------------------------------------------------

/// Looks up every key (expiring, and failing with WRONGTYPE if any holds another type, as
/// Redis checks them all before computing), then borrows the sets side by side.
fn lookup_sets<'a>(ctx: &'a mut Ctx, keys: &[Bytes]) -> Result<Vec<Option<&'a SetValue>>, CmdError> {
    for k in keys {
        ctx.get_set(k)?;
    }
    let db = &ctx.ks.dbs[ctx.sess.db];
    Ok(keys
        .iter()
        .map(|k| match db.map.get(&k[..]).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
        .collect())
}

#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The members of the intersection, in the order of the smallest set (the one Redis walks),
/// stopping after `limit` members when it is nonzero.
fn intersect(sets: &[Option<&SetValue>], limit: usize) -> Vec<Bytes> {
    let mut present: Vec<&SetValue> = Vec::with_capacity(sets.len());
    for s in sets {
        match s {
            Some(s) => present.push(s),
            // A missing key is an empty set, and so is the intersection.
            None => return Vec::new(),
        }
    }
    present.sort_by_key(|s| s.len());
    let Some((smallest, rest)) = present.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    for m in smallest.ordered() {
        if rest.iter().all(|s| s.contains(&m)) {
            out.push(m);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The result of an operation as a set value (Redis builds a fresh set, intset if it can).
fn compute(sets: &[Option<&SetValue>], op: Op) -> SetValue {
    match op {
        Op::Inter => SetValue::from_members(intersect(sets, 0)),
        Op::Union => {
            let mut out = SetValue::new();
            for s in sets.iter().flatten() {
                for m in s.ordered() {
                    out.insert(m);
                }
            }
            out
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else { return SetValue::new() };
            let others = &sets[1..];
            SetValue::from_members(
                first.ordered().into_iter().filter(|m| !others.iter().flatten().any(|s| s.contains(m))),
            )
        }
    }
}

fn algebra(ctx: &mut Ctx, keys: &[Bytes], op: Op) -> CmdResult {
    let sets = lookup_sets(ctx, keys)?;
    let members = match op {
        // The intersection is streamed from the smallest set, so its order is that set's.
        Op::Inter => intersect(&sets, 0),
        _ => compute(&sets, op).ordered(),
    };
    Ok(bulk_set(members))
}

fn algebra_store(ctx: &mut Ctx, dst: &Bytes, keys: &[Bytes], op: Op) -> CmdResult {
    let result = {
        let sets = lookup_sets(ctx, keys)?;
        compute(&sets, op)
    };
    let n = result.len();
    if n == 0 {
        if ctx.remove(dst).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        ctx.set(dst.clone(), Value::Set(result));
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(notify::SET, event, dst);
    }
    Ok(Frame::Integer(n as i64))
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, &argv[1..], Op::Inter)
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, &argv[1..], Op::Union)
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, &argv[1..], Op::Diff)
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    algebra_store(ctx, &argv[1], &argv[2..], Op::Inter)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    algebra_store(ctx, &argv[1], &argv[2..], Op::Union)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    algebra_store(ctx, &argv[1], &argv[2..], Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let numkeys = match parse_int(&argv[1]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::new("ERR numkeys should be greater than 0")),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Err(CmdError::new("ERR Number of keys can't be greater than number of args"));
    }
    let numkeys = numkeys as usize;
    let keys = &argv[2..2 + numkeys];
    let mut limit: u64 = 0;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(&argv[i], "limit") && more >= 1 {
            limit = match parse_int(&argv[i + 1]) {
                Ok(n) if n >= 0 => n as u64,
                _ => return Err(CmdError::new("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let sets = lookup_sets(ctx, keys)?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(Frame::Integer(intersect(&sets, limit).len() as i64))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// Returns every matching member at once with cursor 0, as Redis does for an intset.
fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    parse_scan_cursor(&argv[2])?;
    let Some(s) = ctx.get_set(&argv[1])? else { return Ok(scan_reply(vec![])) };
    let members = s.ordered();
    let pattern = parse_scan_options(argv, 3, false)?.pattern;
    Ok(scan_reply(members.into_iter().filter(|m| scan_matches(&pattern, m)).map(Frame::Bulk).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn set_of(items: &[&str]) -> SetValue {
        SetValue::from_members(items.iter().map(|s| b(s)))
    }

    fn strs(v: &[Bytes]) -> Vec<String> {
        v.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect()
    }

    #[test]
    fn intersection_walks_the_smallest_set() {
        let a = set_of(&["5", "3", "1", "9"]);
        let c = set_of(&["9", "1", "7"]);
        assert_eq!(strs(&intersect(&[Some(&a), Some(&c)], 0)), ["1", "9"]);
        assert_eq!(strs(&intersect(&[Some(&a), Some(&c)], 1)), ["1"]);
        assert!(intersect(&[Some(&a), None], 0).is_empty());
    }

    #[test]
    fn union_and_difference_of_integers_come_out_sorted() {
        let a = set_of(&["5", "3", "1"]);
        let c = set_of(&["4", "3", "2"]);
        assert_eq!(strs(&compute(&[Some(&a), Some(&c)], Op::Union).ordered()), ["1", "2", "3", "4", "5"]);
        assert_eq!(strs(&compute(&[Some(&a), Some(&c), None], Op::Diff).ordered()), ["1", "5"]);
        assert!(compute(&[None, Some(&a)], Op::Diff).is_empty());
        let mixed = compute(&[Some(&a), Some(&set_of(&["x"]))], Op::Union);
        assert!(!mixed.intset);
        assert_eq!(mixed.len(), 4);
    }
}
