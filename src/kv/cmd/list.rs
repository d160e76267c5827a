//! List commands: pushes and pops at both ends, index access, LPOS, moves between lists, and
//! the blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP).
//!
//! A list is a `VecDeque<Bytes>`: O(1) at both ends, O(1) by index. Redis 7.0 keeps lists as
//! quicklists, but nothing a client can observe depends on that except `OBJECT ENCODING`,
//! which `value.rs` answers.
//!
//! # Blocking pops
//!
//! The pops and moves are written once, against the keyspace itself ([`pop_from`],
//! [`move_between`]), because they run in two places: in the command when the data is already
//! there, and later in [`BlockedOp::serve`] when another client's write wakes a parked one.
//! The keyspace decides who is served first (FIFO per key, as Redis does); here we only say
//! what serving means and what a timeout replies.

use crate::kv::notify;
use std::collections::VecDeque;

use bytes::Bytes;

use super::{eq_ic, lower, parse_int, parse_timeout, BlockRequest, CmdError, CmdResult, Ctx, Handler};
use crate::kv::keyspace::{BlockedOp, Keyspace};
use crate::kv::value::Value;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("rpoplpush", rpoplpush),
    ("lmove", lmove),
    ("lmpop", lmpop),
    ("blpop", blpop),
    ("brpop", brpop),
    ("blmove", blmove),
    ("brpoplpush", brpoplpush),
    ("blmpop", blmpop),
];

/// One end of a list: LEFT is the head, RIGHT the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// The keyspace event a push at this end announces.
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }
    /// ... and a pop from it.
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
}

/// `LEFT` or `RIGHT`, case-insensitive; anything else is a syntax error, as in Redis.
fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if eq_ic(arg, "left") {
        Ok(End::Left)
    } else if eq_ic(arg, "right") {
        Ok(End::Right)
    } else {
        Err(CmdError::syntax())
    }
}

/// A non-negative count where Redis replies with one fixed message for both a non-number and a
/// negative number (its `getPositiveLongFromObjectOrReply` with a message).
fn parse_non_negative(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    match parse_int(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::new(msg)),
    }
}

/// A count that must be at least 1, again with one message for every failure.
fn parse_at_least_one(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    match parse_int(arg) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(CmdError::new(msg)),
    }
}

/// Resolves a possibly negative index against a list of `len` elements.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// Redis's range rules (LRANGE, LTRIM): negative indexes count from the end, the start is
/// clamped at 0 and the end at the last element. `None` when the range selects nothing.
fn resolve_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len.saturating_add(start) } else { start };
    let mut stop = if stop < 0 { len.saturating_add(stop) } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

// ------------------------------------------------------------------------------------------------
// The operations shared by the commands and the blocked clients they may wake later.
// ------------------------------------------------------------------------------------------------

/// Pops up to `count` (at least 1) elements from one end of the list at `key`.
///
/// `Ok(None)` when the key does not exist; WRONGTYPE when it is not a list. The key is touched
/// and deleted once empty.
fn pop_from(
    ks: &mut Keyspace,
    db: usize,
    key: &[u8],
    end: End,
    count: usize,
    now_ms: i64,
) -> Result<Option<Vec<Bytes>>, CmdError> {
    let list = match ks.get(db, key, now_ms) {
        None => return Ok(None),
        Some(Value::List(l)) => l,
        Some(_) => return Err(CmdError::wrong_type()),
    };
    let n = count.min(list.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = match end {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        };
        match v {
            Some(v) => out.push(v),
            None => break,
        }
    }
    if !out.is_empty() {
        ks.touch(db, key);
        ks.notify(notify::LIST, end.pop_event(), db, key);
    }
    ks.remove_if_empty(db, key);
    Ok(Some(out))
}

/// Pops one element from `from` of `src` and pushes it onto `to` of `dst` (LMOVE).
///
/// `Ok(None)` when `src` does not exist. Both keys are type-checked before anything moves, so
/// a WRONGTYPE destination leaves the source intact, which is what Redis's reply promises.
fn move_between(
    ks: &mut Keyspace,
    db: usize,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
    now_ms: i64,
) -> Result<Option<Bytes>, CmdError> {
    match ks.get(db, src, now_ms) {
        None => return Ok(None),
        Some(Value::List(l)) if !l.is_empty() => {}
        Some(Value::List(_)) => return Ok(None),
        Some(_) => return Err(CmdError::wrong_type()),
    }
    match ks.get(db, dst, now_ms) {
        None | Some(Value::List(_)) => {}
        Some(_) => return Err(CmdError::wrong_type()),
    }
    let value = match ks.get(db, src, now_ms) {
        Some(Value::List(l)) => match from {
            End::Left => l.pop_front(),
            End::Right => l.pop_back(),
        },
        _ => None,
    };
    let Some(value) = value else { return Ok(None) };
    ks.touch(db, src);
    // Push before deleting an emptied source: when `src == dst` (a rotation of a one-element
    // list) the key must survive holding the element.
    match ks.get(db, dst, now_ms) {
        Some(Value::List(l)) => {
            match to {
                End::Left => l.push_front(value.clone()),
                End::Right => l.push_back(value.clone()),
            }
            ks.touch(db, dst);
        }
        _ => {
            let mut l = VecDeque::with_capacity(1);
            l.push_back(value.clone());
            ks.set(db, dst.clone(), Value::List(l), now_ms);
        }
    }
    ks.notify(notify::LIST, to.push_event(), db, dst);
    ks.notify(notify::LIST, from.pop_event(), db, src);
    ks.remove_if_empty(db, src);
    Ok(Some(value))
}

// ------------------------------------------------------------------------------------------------
// Pushes.
// ------------------------------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_if_exists: bool) -> CmdResult {
    let key = &argv[1];
    let values = &argv[2..];
    let len = match ctx.get_list(key)? {
        Some(list) => {
            for v in values {
                match end {
                    End::Left => list.push_front(v.clone()),
                    End::Right => list.push_back(v.clone()),
                }
            }
            let len = list.len();
            ctx.touch(key);
            len
        }
        None if only_if_exists => return Ok(Frame::Integer(0)),
        None => {
            let mut list = VecDeque::with_capacity(values.len());
            for v in values {
                match end {
                    End::Left => list.push_front(v.clone()),
                    End::Right => list.push_back(v.clone()),
                }
            }
            let len = list.len();
            ctx.set(key.clone(), Value::List(list));
            len
        }
    };
    ctx.notify(notify::LIST, end.push_event(), key);
    Ok(Frame::Integer(len as i64))
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, false)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, false)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Left, true)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    push_generic(ctx, argv, End::Right, true)
}

// ------------------------------------------------------------------------------------------------
// Pops.
// ------------------------------------------------------------------------------------------------

fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::wrong_arity(&lower(&argv[0])));
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_non_negative(a, "ERR value is out of range, must be positive")?),
        None => None,
    };
    let key = &argv[1];
    // A missing key answers before a zero count does, and with the null of the reply's shape.
    let Some(_) = ctx.get_list(key)? else {
        return Ok(if count.is_some() { Frame::NullArray } else { Frame::Null });
    };
    let n = match count {
        Some(0) => return Ok(Frame::Array(vec![])),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => 1,
    };
    let popped = pop_from(ctx.ks, ctx.sess.db, key, end, n, ctx.now_ms)?.unwrap_or_default();
    Ok(match count {
        Some(_) => Frame::bulks(popped),
        None => popped.into_iter().next().map(Frame::Bulk).unwrap_or(Frame::Null),
    })
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Left)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Right)
}

/// The options LMPOP and BLMPOP share: `numkeys key [key ...] LEFT|RIGHT [COUNT count]`,
/// starting at `argv[numkeys_at]`.
struct MpopArgs {
    keys: Vec<Bytes>,
    end: End,
    count: usize,
}

fn parse_mpop(argv: &[Bytes], numkeys_at: usize) -> Result<MpopArgs, CmdError> {
    let numkeys = parse_at_least_one(&argv[numkeys_at], "ERR numkeys should be greater than 0")?;
    // The direction follows the keys; a numkeys that runs past the arguments is a syntax
    // error (and cannot overflow: it is compared before any index is computed).
    let available = (argv.len() - numkeys_at - 1) as u64;
    if numkeys as u64 >= available {
        return Err(CmdError::syntax());
    }
    let numkeys = numkeys as usize;
    let keys = argv[numkeys_at + 1..numkeys_at + 1 + numkeys].to_vec();
    let end_at = numkeys_at + 1 + numkeys;
    let end = parse_end(&argv[end_at])?;
    let mut count = None;
    let mut i = end_at + 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if count.is_none() && eq_ic(&argv[i], "count") && more >= 1 {
            count = Some(parse_at_least_one(&argv[i + 1], "ERR count should be greater than 0")?);
            i += 2;
        } else {
            return Err(CmdError::syntax());
        }
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok(MpopArgs { keys, end, count })
}

/// The first non-empty list among `keys`, popped: `[key, [elements]]`.
fn mpop_first(ctx: &mut Ctx, args: &MpopArgs) -> Result<Option<Frame>, CmdError> {
    for key in &args.keys {
        if let Some(popped) = pop_from(ctx.ks, ctx.sess.db, key, args.end, args.count, ctx.now_ms)? {
            return Ok(Some(mpop_reply(key, popped)));
        }
    }
    Ok(None)
}

fn mpop_reply(key: &Bytes, popped: Vec<Bytes>) -> Frame {
    Frame::Array(vec![Frame::Bulk(key.clone()), Frame::bulks(popped)])
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let args = parse_mpop(argv, 1)?;
    Ok(mpop_first(ctx, &args)?.unwrap_or(Frame::NullArray))
}

// ------------------------------------------------------------------------------------------------
// Reads and in-place edits.
// ------------------------------------------------------------------------------------------------

/// LLEN key
fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.get_list(&argv[1])?.map_or(0, |l| l.len() as i64)))
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let stop = parse_int(&argv[3])?;
    let Some(list) = ctx.get_list(&argv[1])? else { return Ok(Frame::Array(vec![])) };
    Ok(match resolve_range(start, stop, list.len()) {
        Some((a, b)) => Frame::bulks(list.range(a..=b).cloned()),
        None => Frame::Array(vec![]),
    })
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(list) = ctx.get_list(&argv[1])? else { return Ok(Frame::Null) };
    let index = parse_int(&argv[2])?;
    Ok(match resolve_index(index, list.len()) {
        Some(i) => Frame::Bulk(list[i].clone()),
        None => Frame::Null,
    })
}

/// LSET key index element
fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    // As LINDEX: the key is looked up first, then the index parsed.
    let Some(list) = ctx.get_list(key)? else { return Err(CmdError::no_such_key()) };
    let index = parse_int(&argv[2])?;
    let Some(i) = resolve_index(index, list.len()) else {
        return Err(CmdError::new("ERR index out of range"));
    };
    list[i] = argv[3].clone();
    ctx.touch(key);
    ctx.notify(notify::LIST, "lset", key);
    Ok(Frame::ok())
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let after = if eq_ic(&argv[2], "after") {
        true
    } else if eq_ic(&argv[2], "before") {
        false
    } else {
        return Err(CmdError::syntax());
    };
    let key = &argv[1];
    let Some(list) = ctx.get_list(key)? else { return Ok(Frame::Integer(0)) };
    let Some(pos) = list.iter().position(|e| e == &argv[3]) else { return Ok(Frame::Integer(-1)) };
    list.insert(if after { pos + 1 } else { pos }, argv[4].clone());
    let len = list.len();
    ctx.touch(key);
    ctx.notify(notify::LIST, "linsert", key);
    Ok(Frame::Integer(len as i64))
}

/// LREM key count element
fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let count = parse_int(&argv[2])?;
    let key = &argv[1];
    let elem = &argv[3];
    let Some(list) = ctx.get_list(key)? else { return Ok(Frame::Integer(0)) };
    // count > 0 removes the first `count` matches from the head, count < 0 the first from the
    // tail, 0 removes all.
    let limit = if count == 0 { u64::MAX } else { count.unsigned_abs() };
    let mut removed: u64 = 0;
    if count >= 0 {
        list.retain(|e| {
            if removed < limit && e == elem {
                removed += 1;
                false
            } else {
                true
            }
        });
    } else {
        let mut kept = VecDeque::with_capacity(list.len());
        while let Some(e) = list.pop_back() {
            if removed < limit && e == elem {
                removed += 1;
            } else {
                kept.push_front(e);
            }
        }
        *list = kept;
    }
    if removed > 0 {
        ctx.touch(key);
        ctx.notify(notify::LIST, "lrem", key);
        ctx.remove_if_empty(key);
    }
    Ok(Frame::Integer(removed as i64))
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let stop = parse_int(&argv[3])?;
    let key = &argv[1];
    let Some(list) = ctx.get_list(key)? else { return Ok(Frame::ok()) };
    match resolve_range(start, stop, list.len()) {
        Some((a, b)) => {
            list.truncate(b + 1);
            list.drain(..a);
        }
        None => list.clear(),
    }
    // Redis signals the key as modified even when the range kept everything.
    ctx.touch(key);
    ctx.notify(notify::LIST, "ltrim", key);
    ctx.remove_if_empty(key);
    Ok(Frame::ok())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(&argv[i], "rank") && more >= 1 {
            rank = parse_int(&argv[i + 1])?;
            if rank == 0 {
                return Err(CmdError::new(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq_ic(&argv[i], "count") && more >= 1 {
            count = Some(parse_non_negative(&argv[i + 1], "ERR COUNT can't be negative")?);
        } else if eq_ic(&argv[i], "maxlen") && more >= 1 {
            maxlen = parse_non_negative(&argv[i + 1], "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    // A negative rank searches from the tail. Redis negates the rank in a C long, so a rank of
    // i64::MIN stays negative and then accepts the very first match; wrapping keeps that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let Some(list) = ctx.get_list(&argv[1])? else {
        return Ok(if count.is_some() { Frame::Array(vec![]) } else { Frame::Null });
    };
    let elem = &argv[2];
    let len = list.len();
    let scan_limit = if maxlen == 0 { len } else { len.min(usize::try_from(maxlen).unwrap_or(usize::MAX)) };
    let mut matches: i64 = 0;
    let mut found: Vec<Frame> = Vec::new();
    for step in 0..scan_limit {
        let idx = if from_tail { len - 1 - step } else { step };
        if list[idx] != elem {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(Frame::Integer(idx as i64));
        match count {
            None => break,
            Some(0) => {}
            Some(c) if found.len() as i64 >= c => break,
            Some(_) => {}
        }
    }
    Ok(match count {
        Some(_) => Frame::Array(found),
        None => found.pop().unwrap_or(Frame::Null),
    })
}

// ------------------------------------------------------------------------------------------------
// Moves.
// ------------------------------------------------------------------------------------------------

fn lmove_generic(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, from: End, to: End) -> CmdResult {
    Ok(match move_between(ctx.ks, ctx.sess.db, src, dst, from, to, ctx.now_ms)? {
        Some(v) => Frame::Bulk(v),
        None => Frame::Null,
    })
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, &argv[1], &argv[2], End::Right, End::Left)
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    lmove_generic(ctx, &argv[1], &argv[2], from, to)
}

// ------------------------------------------------------------------------------------------------
// Blocking variants.
// ------------------------------------------------------------------------------------------------

/// What a client parked by BLPOP, BRPOP or BLMPOP does once one of its keys receives data.
struct BlockedPop {
    end: End,
    /// `None` for BLPOP/BRPOP (`[key, element]`), `Some(count)` for BLMPOP
    /// (`[key, [elements]]`).
    mpop_count: Option<usize>,
}

impl BlockedOp for BlockedPop {
    fn serve(&mut self, ks: &mut Keyspace, db: usize, key: &Bytes, now_ms: i64, _resp3: bool) -> Option<Frame> {
        // Only a list with elements serves; a key that now holds another type, or nothing,
        // leaves the client waiting, as Redis ignores it.
        match ks.get(db, key, now_ms) {
            Some(Value::List(l)) if !l.is_empty() => {}
            _ => return None,
        }
        let popped = pop_from(ks, db, key, self.end, self.mpop_count.unwrap_or(1), now_ms).ok()??;
        Some(match self.mpop_count {
            Some(_) => mpop_reply(key, popped),
            None => bpop_reply(key, popped.into_iter().next()?),
        })
    }

    fn timeout_reply(&self) -> Frame {
        Frame::NullArray
    }
}

/// What a client parked by BLMOVE or BRPOPLPUSH does once its source receives data.
struct BlockedMove {
    dst: Bytes,
    from: End,
    to: End,
}

impl BlockedOp for BlockedMove {
    fn serve(&mut self, ks: &mut Keyspace, db: usize, key: &Bytes, now_ms: i64, _resp3: bool) -> Option<Frame> {
        match ks.get(db, key, now_ms) {
            Some(Value::List(l)) if !l.is_empty() => {}
            _ => return None,
        }
        match move_between(ks, db, key, &self.dst, self.from, self.to, now_ms) {
            Ok(Some(v)) => Some(Frame::Bulk(v)),
            Ok(None) => None,
            // The destination holds another type. Redis 7.0 sends WRONGTYPE yet leaves the
            // client blocked (it later also gets the timeout reply); a client can only take one
            // reply here, so it gets the error and is released.
            Err(e) => Some(e.into()),
        }
    }

    /// Redis 7.0 times every blocked list client out with a null array, BLMOVE included (even
    /// though BLMOVE answers a plain null when it may not block, e.g. inside MULTI).
    fn timeout_reply(&self) -> Frame {
        Frame::NullArray
    }
}

fn bpop_reply(key: &Bytes, value: Bytes) -> Frame {
    Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(value)])
}

/// Parks the client on `keys` if it may block; otherwise (MULTI, scripts) it gets `at_once`
/// right away, as in Redis. (The reply returned when parking is discarded by the connection.)
fn block_or_reply(
    ctx: &mut Ctx,
    keys: Vec<Bytes>,
    deadline_ms: Option<i64>,
    op: Box<dyn BlockedOp>,
    at_once: Frame,
) -> CmdResult {
    if ctx.may_block {
        ctx.block = Some(BlockRequest { keys, deadline_ms, op });
    }
    Ok(at_once)
}

fn bpop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End) -> CmdResult {
    let deadline_ms = parse_timeout(&argv[argv.len() - 1], ctx.now_ms)?;
    let keys = &argv[1..argv.len() - 1];
    // Keys are tried in order; a key of another type fails the command even when a later key
    // could have been popped.
    for key in keys {
        if let Some(popped) = pop_from(ctx.ks, ctx.sess.db, key, end, 1, ctx.now_ms)? {
            if let Some(v) = popped.into_iter().next() {
                return Ok(bpop_reply(key, v));
            }
        }
    }
    block_or_reply(ctx, keys.to_vec(), deadline_ms, Box::new(BlockedPop { end, mpop_count: None }), Frame::NullArray)
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, argv, End::Left)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, argv, End::Right)
}

fn blmove_generic(ctx: &mut Ctx, argv: &[Bytes], from: End, to: End, timeout_arg: &[u8]) -> CmdResult {
    let deadline_ms = parse_timeout(timeout_arg, ctx.now_ms)?;
    let src = &argv[1];
    let dst = &argv[2];
    if ctx.get_list(src)?.is_some() {
        return lmove_generic(ctx, src, dst, from, to);
    }
    let op = Box::new(BlockedMove { dst: dst.clone(), from, to });
    block_or_reply(ctx, vec![src.clone()], deadline_ms, op, Frame::Null)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    blmove_generic(ctx, argv, from, to, &argv[5])
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    blmove_generic(ctx, argv, End::Right, End::Left, &argv[3])
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let deadline_ms = parse_timeout(&argv[1], ctx.now_ms)?;
    let args = parse_mpop(argv, 2)?;
    if let Some(reply) = mpop_first(ctx, &args)? {
        return Ok(reply);
    }
    let op = Box::new(BlockedPop { end: args.end, mpop_count: Some(args.count) });
    block_or_reply(ctx, args.keys, deadline_ms, op, Frame::NullArray)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn list_of(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| b(s)).collect())
    }

    fn contents(ks: &mut Keyspace, key: &str) -> Option<Vec<String>> {
        match ks.get(0, key.as_bytes(), 0) {
            Some(Value::List(l)) => Some(l.iter().map(|e| String::from_utf8_lossy(e).into_owned()).collect()),
            Some(_) => Some(vec!["<other type>".into()]),
            None => None,
        }
    }

    #[test]
    fn ranges_follow_redis_rules() {
        assert_eq!(resolve_range(0, -1, 5), Some((0, 4)));
        assert_eq!(resolve_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(resolve_range(3, 1, 5), None);
        assert_eq!(resolve_range(5, 10, 5), None);
        assert_eq!(resolve_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(resolve_range(0, -1, 0), None);
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
    }

    #[test]
    fn pop_deletes_the_emptied_key() {
        let mut ks = Keyspace::new();
        ks.set(0, b("l"), list_of(&["a", "b", "c"]), 0);
        let got = pop_from(&mut ks, 0, b"l", End::Right, 2, 0).unwrap().unwrap();
        assert_eq!(got, vec![b("c"), b("b")]);
        let got = pop_from(&mut ks, 0, b"l", End::Left, 10, 0).unwrap().unwrap();
        assert_eq!(got, vec![b("a")]);
        assert_eq!(contents(&mut ks, "l"), None);
        assert_eq!(pop_from(&mut ks, 0, b"l", End::Left, 1, 0).unwrap(), None);
        ks.set(0, b("s"), Value::Str(b"x".to_vec()), 0);
        assert!(pop_from(&mut ks, 0, b"s", End::Left, 1, 0).is_err());
    }

    #[test]
    fn move_rotates_a_single_element_list_in_place() {
        let mut ks = Keyspace::new();
        ks.set(0, b("l"), list_of(&["only"]), 0);
        let v = move_between(&mut ks, 0, &b("l"), &b("l"), End::Right, End::Left, 0).unwrap();
        assert_eq!(v, Some(b("only")));
        assert_eq!(contents(&mut ks, "l"), Some(vec!["only".into()]));
    }

    #[test]
    fn move_checks_the_destination_type_before_popping() {
        let mut ks = Keyspace::new();
        ks.set(0, b("src"), list_of(&["a", "b"]), 0);
        ks.set(0, b("dst"), Value::Str(b"x".to_vec()), 0);
        assert!(move_between(&mut ks, 0, &b("src"), &b("dst"), End::Left, End::Left, 0).is_err());
        assert_eq!(contents(&mut ks, "src"), Some(vec!["a".into(), "b".into()]));
        let v = move_between(&mut ks, 0, &b("src"), &b("new"), End::Left, End::Right, 0).unwrap();
        assert_eq!(v, Some(b("a")));
        assert_eq!(contents(&mut ks, "new"), Some(vec!["a".into()]));
    }

    #[test]
    fn blocked_ops_reply_in_their_shapes() {
        let mut ks = Keyspace::new();
        let mut pop = BlockedPop { end: End::Left, mpop_count: None };
        assert_eq!(pop.serve(&mut ks, 0, &b("l"), 0, false), None);
        ks.set(0, b("l"), list_of(&["x", "y"]), 0);
        assert_eq!(
            pop.serve(&mut ks, 0, &b("l"), 0, false),
            Some(Frame::Array(vec![Frame::Bulk(b("l")), Frame::Bulk(b("x"))]))
        );
        assert_eq!(pop.timeout_reply(), Frame::NullArray);

        let mut mpop = BlockedPop { end: End::Right, mpop_count: Some(5) };
        assert_eq!(
            mpop.serve(&mut ks, 0, &b("l"), 0, false),
            Some(Frame::Array(vec![Frame::Bulk(b("l")), Frame::Array(vec![Frame::Bulk(b("y"))])]))
        );
        assert_eq!(contents(&mut ks, "l"), None);

        let mut mv = BlockedMove { dst: b("d"), from: End::Left, to: End::Left };
        assert_eq!(mv.timeout_reply(), Frame::NullArray);
        assert_eq!(mv.serve(&mut ks, 0, &b("l"), 0, false), None);
        ks.set(0, b("l"), list_of(&["z"]), 0);
        assert_eq!(mv.serve(&mut ks, 0, &b("l"), 0, false), Some(Frame::Bulk(b("z"))));
        assert_eq!(contents(&mut ks, "d"), Some(vec!["z".into()]));

        // A key that turned into another type keeps the client waiting.
        ks.set(0, b("l"), Value::Str(b"s".to_vec()), 0);
        assert_eq!(pop.serve(&mut ks, 0, &b("l"), 0, false), None);
    }
}
