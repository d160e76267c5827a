//! String commands: GET/SET and friends, counters, ranges and bits.
//!
//! A string is a `Vec<u8>`. Redis stores small integers as integers (`OBJECT ENCODING int`);
//! terrarium keeps the bytes and derives the encoding when asked, which changes nothing a client
//! can observe except memory use.

use crate::kv::notify;
use bytes::Bytes;

use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::kv::Value;
use crate::limits::STRING_VALUE_BYTES_MAX;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    ("lcs", lcs),
    ("substr", getrange),
    ("setrange", setrange),
    ("incr", incr),
    ("decr", decr),
    ("incrby", incrby),
    ("decrby", decrby),
    ("incrbyfloat", incrbyfloat),
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
];

fn too_big() -> CmdError {
    CmdError::new("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// Reads a string for a read command, counting the hit or miss as Redis does.
fn read_str<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Vec<u8>>, CmdError> {
    match ctx.ks.get_counted(ctx.sess.db, key, ctx.now_ms) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::wrong_type()),
    }
}

/// The string at `key` as a bulk reply, nil if missing, WRONGTYPE for another type.
fn read_bulk(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    Ok(match read_str(ctx, key)? {
        Some(s) => Frame::Bulk(Bytes::copy_from_slice(s)),
        None => Frame::Null,
    })
}

/// GET key
fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    read_bulk(ctx, &argv[1])
}

/// How a SET/GETEX expiry was given.
#[derive(Clone, Copy, PartialEq)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Turns an expiry argument into an absolute deadline, with Redis's checks and error texts.
fn expire_deadline(ctx: &Ctx, cmd: &str, unit: ExpireUnit, arg: &[u8]) -> Result<i64, CmdError> {
    let n = parse_int(arg)?;
    let invalid = || CmdError::new(format!("ERR invalid expire time in '{}' command", cmd));
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if matches!(unit, ExpireUnit::Ex | ExpireUnit::Px) {
        ms = ms.checked_add(ctx.now_ms).ok_or_else(invalid)?;
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms)
}

/// Which command's options `parse_string_options` reads.
#[derive(Clone, Copy, PartialEq)]
enum OptionsFor {
    Set,
    GetEx,
}

/// The options of SET and GETEX.
#[derive(Default)]
struct StringOptions {
    nx: bool,
    xx: bool,
    get: bool,
    /// KEEPTTL for SET, PERSIST for GETEX: both say "no new expiry".
    keep_or_persist: bool,
    /// The absolute deadline from EX, PX, EXAT or PXAT.
    deadline_ms: Option<i64>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`, shared by SET and GETEX as in Redis: each
/// option is refused only when it conflicts with one already seen (so `EX 1 EX 2` is accepted),
/// and the expiry is checked after all options are read.
fn parse_string_options(ctx: &Ctx, argv: &[Bytes], from: usize, cmd: OptionsFor) -> Result<StringOptions, CmdError> {
    let mut o = StringOptions::default();
    let mut expire: Option<(ExpireUnit, &Bytes)> = None;
    let set = cmd == OptionsFor::Set;
    let mut j = from;
    while j < argv.len() {
        let opt = &argv[j];
        if set && eq_ic(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && eq_ic(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && eq_ic(opt, "get") {
            o.get = true;
        } else if eq_ic(opt, if set { "keepttl" } else { "persist" }) && expire.is_none() {
            o.keep_or_persist = true;
        } else if let (Some(u), Some(n)) = (expire_keyword(opt), argv.get(j + 1)) {
            if o.keep_or_persist || expire.is_some_and(|(x, _)| x != u) {
                return Err(CmdError::syntax());
            }
            expire = Some((u, n));
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if let Some((u, arg)) = expire {
        o.deadline_ms = Some(expire_deadline(ctx, if set { "set" } else { "getex" }, u, arg)?);
    }
    Ok(o)
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///   PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let StringOptions { nx, xx, get, keep_or_persist: keepttl, deadline_ms: deadline } =
        parse_string_options(ctx, argv, 3, OptionsFor::Set)?;
    let key = &argv[1];
    let old = if get { read_bulk(ctx, key)? } else { Frame::Null };
    let found = ctx.exists(key);
    if (nx && found) || (xx && !found) {
        return Ok(if get { old } else { Frame::Null });
    }
    let value = Value::Str(argv[2].to_vec());
    let db = ctx.db();
    if keepttl {
        ctx.ks.set_keep_ttl(db, key.clone(), value, ctx.now_ms);
    } else {
        ctx.ks.set_with_expire(db, key.clone(), value, deadline, ctx.now_ms);
    }
    ctx.notify(notify::STRING, "set", key);
    if deadline.is_some() && !keepttl {
        ctx.notify(notify::GENERIC, "expire", key);
    }
    Ok(if get { old } else { Frame::ok() })
}

fn expire_keyword(opt: &[u8]) -> Option<ExpireUnit> {
    if eq_ic(opt, "ex") {
        Some(ExpireUnit::Ex)
    } else if eq_ic(opt, "px") {
        Some(ExpireUnit::Px)
    } else if eq_ic(opt, "exat") {
        Some(ExpireUnit::ExAt)
    } else if eq_ic(opt, "pxat") {
        Some(ExpireUnit::PxAt)
    } else {
        None
    }
}

/// SETNX key value
fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.exists(&argv[1]) {
        return Ok(Frame::Integer(0));
    }
    ctx.set(argv[1].clone(), Value::Str(argv[2].to_vec()));
    ctx.notify(notify::STRING, "set", &argv[1]);
    Ok(Frame::Integer(1))
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let at = expire_deadline(ctx, "setex", ExpireUnit::Ex, &argv[2])?;
    let db = ctx.db();
    ctx.ks.set_with_expire(db, argv[1].clone(), Value::Str(argv[3].to_vec()), Some(at), ctx.now_ms);
    ctx.notify(notify::STRING, "set", &argv[1]);
    ctx.notify(notify::GENERIC, "expire", &argv[1]);
    Ok(Frame::ok())
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let at = expire_deadline(ctx, "psetex", ExpireUnit::Px, &argv[2])?;
    let db = ctx.db();
    ctx.ks.set_with_expire(db, argv[1].clone(), Value::Str(argv[3].to_vec()), Some(at), ctx.now_ms);
    ctx.notify(notify::STRING, "set", &argv[1]);
    ctx.notify(notify::GENERIC, "expire", &argv[1]);
    Ok(Frame::ok())
}

/// MGET key [key ...]: a key holding another type reads as nil, not as an error.
fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut out = Vec::with_capacity(argv.len() - 1);
    for k in &argv[1..] {
        out.push(match ctx.ks.get_counted(ctx.sess.db, k, ctx.now_ms) {
            Some(Value::Str(s)) => Frame::Bulk(Bytes::copy_from_slice(s)),
            _ => Frame::Null,
        });
    }
    Ok(Frame::Array(out))
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(CmdError::wrong_arity("mset"));
    }
    for pair in argv[1..].chunks(2) {
        ctx.set(pair[0].clone(), Value::Str(pair[1].to_vec()));
        ctx.notify(notify::STRING, "set", &pair[0]);
    }
    Ok(Frame::ok())
}

/// MSETNX key value [key value ...]: all or nothing.
fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(CmdError::wrong_arity("msetnx"));
    }
    if argv[1..].chunks(2).any(|p| ctx.exists(&p[0])) {
        return Ok(Frame::Integer(0));
    }
    for pair in argv[1..].chunks(2) {
        ctx.set(pair[0].clone(), Value::Str(pair[1].to_vec()));
        ctx.notify(notify::STRING, "set", &pair[0]);
    }
    Ok(Frame::Integer(1))
}

/// GETSET key value
fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let old = read_bulk(ctx, &argv[1])?;
    ctx.set(argv[1].clone(), Value::Str(argv[2].to_vec()));
    ctx.notify(notify::STRING, "set", &argv[1]);
    Ok(old)
}

/// GETDEL key
fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let old = read_bulk(ctx, &argv[1])?;
    if old != Frame::Null {
        ctx.remove(&argv[1]);
        ctx.notify(notify::GENERIC, "del", &argv[1]);
    }
    Ok(old)
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]
fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_string_options(ctx, argv, 2, OptionsFor::GetEx)?;
    let (persist, deadline) = (o.keep_or_persist, o.deadline_ms);
    let key = &argv[1];
    let value = match read_str(ctx, key)? {
        Some(s) => Bytes::copy_from_slice(s),
        None => return Ok(Frame::Null),
    };
    let db = ctx.db();
    if let Some(at) = deadline {
        if at <= ctx.now_ms {
            ctx.remove(key);
            ctx.notify(notify::GENERIC, "del", key);
        } else {
            ctx.ks.set_expire(db, key, Some(at), ctx.now_ms);
            ctx.notify(notify::GENERIC, "expire", key);
        }
    } else if persist && ctx.ks.expire_at(db, key, ctx.now_ms).is_some() {
        ctx.ks.set_expire(db, key, None, ctx.now_ms);
        ctx.notify(notify::GENERIC, "persist", key);
    }
    Ok(Frame::Bulk(value))
}

/// APPEND key value
fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if let Some(s) = ctx.get_str(&argv[1])? {
        if s.len() + argv[2].len() > STRING_VALUE_BYTES_MAX {
            return Err(too_big());
        }
        s.extend_from_slice(&argv[2]);
        let n = s.len();
        ctx.touch(&argv[1]);
        ctx.ks.set_raw(ctx.sess.db, &argv[1], true);
        ctx.notify(notify::STRING, "append", &argv[1]);
        return Ok(Frame::Integer(n as i64));
    }
    ctx.set(argv[1].clone(), Value::Str(argv[2].to_vec()));
    ctx.notify(notify::STRING, "append", &argv[1]);
    Ok(Frame::Integer(argv[2].len() as i64))
}

/// STRLEN key
fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(read_str(ctx, &argv[1])?.map_or(0, |s| s.len()) as i64))
}

/// GETRANGE key start end (SUBSTR is the old name)
fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = parse_int(&argv[2])?;
    let end = parse_int(&argv[3])?;
    let Some(s) = read_str(ctx, &argv[1])? else { return Ok(Frame::bulk(Bytes::new())) };
    // Redis answers two negative indexes in the wrong order with "" before normalising them.
    if start < 0 && end < 0 && start > end {
        return Ok(Frame::bulk(Bytes::new()));
    }
    Ok(match clamp_range(start, end, s.len() as i64) {
        Some((a, b)) => Frame::Bulk(Bytes::copy_from_slice(&s[a as usize..=b as usize])),
        None => Frame::bulk(Bytes::new()),
    })
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_int(&argv[2])?;
    if offset < 0 {
        return Err(CmdError::new("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let value = &argv[3];
    let key = &argv[1];
    match ctx.get_str(key)? {
        Some(s) => {
            if value.is_empty() {
                return Ok(Frame::Integer(s.len() as i64));
            }
            if offset.saturating_add(value.len()) > STRING_VALUE_BYTES_MAX {
                return Err(too_big());
            }
            if s.len() < offset + value.len() {
                s.resize(offset + value.len(), 0);
            }
            s[offset..offset + value.len()].copy_from_slice(value);
            let n = s.len();
            ctx.touch(key);
            ctx.ks.set_raw(ctx.sess.db, key, true);
            ctx.notify(notify::STRING, "setrange", key);
            Ok(Frame::Integer(n as i64))
        }
        None => {
            if value.is_empty() {
                return Ok(Frame::Integer(0));
            }
            if offset.saturating_add(value.len()) > STRING_VALUE_BYTES_MAX {
                return Err(too_big());
            }
            let mut s = vec![0u8; offset + value.len()];
            s[offset..].copy_from_slice(value);
            let n = s.len();
            ctx.set(key.clone(), Value::Str(s));
            ctx.ks.set_raw(ctx.sess.db, key, true);
            ctx.notify(notify::STRING, "setrange", key);
            Ok(Frame::Integer(n as i64))
        }
    }
}

/// The shared body of INCR, DECR, INCRBY and DECRBY. The key keeps its TTL.
fn incr_by(ctx: &mut Ctx, key: &Bytes, delta: i64) -> CmdResult {
    let db = ctx.db();
    let current = match ctx.get_str(key)? {
        Some(s) => parse_int(s)?,
        None => 0,
    };
    let n = current.checked_add(delta).ok_or_else(CmdError::overflow)?;
    let text = n.to_string().into_bytes();
    match ctx.get_str(key)? {
        Some(s) => {
            *s = text;
            ctx.touch(key);
            ctx.ks.set_raw(db, key, false);
        }
        None => ctx.ks.set(db, key.clone(), Value::Str(text), ctx.now_ms),
    }
    ctx.notify(notify::STRING, "incrby", key);
    Ok(Frame::Integer(n))
}

/// INCR key
fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], 1)
}

/// DECR key
fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let d = parse_int(&argv[2])?;
    incr_by(ctx, &argv[1], d)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let d = parse_int(&argv[2])?;
    if d == i64::MIN {
        return Err(CmdError::new("ERR decrement would overflow"));
    }
    incr_by(ctx, &argv[1], -d)
}

/// INCRBYFLOAT key increment
///
/// Redis computes in `long double` and prints with `%.17Lf` minus trailing zeros; see
/// [`crate::kv::float`] for how terrarium reproduces that exactly.
fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let current = ctx.get_str(key)?.map(|s| s.clone());
    let text = crate::kv::float::incr_by_float_text(current.as_deref(), &argv[2]).map_err(CmdError::new)?.into_bytes();
    let db = ctx.db();
    match ctx.get_str(key)? {
        Some(s) => {
            *s = text.clone();
            ctx.touch(key);
            ctx.ks.set_raw(db, key, false);
        }
        None => ctx.ks.set(db, key.clone(), Value::Str(text.clone()), ctx.now_ms),
    }
    ctx.notify(notify::STRING, "incrbyfloat", key);
    Ok(Frame::Bulk(Bytes::from(text)))
}

fn parse_bit_offset(arg: &[u8]) -> Result<usize, CmdError> {
    let err = || CmdError::new("ERR bit offset is not an integer or out of range");
    let n = parse_int(arg).map_err(|_| err())?;
    // Redis caps offsets so that the string stays within proto-max-bulk-len.
    if n < 0 || (n as u64) >> 3 >= STRING_VALUE_BYTES_MAX as u64 {
        return Err(err());
    }
    Ok(n as usize)
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(&argv[2])?;
    let on = match &argv[3][..] {
        b"1" => true,
        b"0" => false,
        _ => return Err(CmdError::new("ERR bit is not an integer or out of range")),
    };
    let key = &argv[1];
    let byte = offset >> 3;
    let mask = 1u8 << (7 - (offset & 7));
    if ctx.get_str(key)?.is_none() {
        ctx.set(key.clone(), Value::Str(Vec::new()));
    }
    let s = ctx.get_str(key)?.ok_or_else(CmdError::no_such_key)?;
    if s.len() <= byte {
        s.resize(byte + 1, 0);
    }
    let old = s[byte] & mask != 0;
    if on {
        s[byte] |= mask;
    } else {
        s[byte] &= !mask;
    }
    ctx.touch(key);
    ctx.ks.set_raw(ctx.sess.db, key, true);
    ctx.notify(notify::STRING, "setbit", key);
    Ok(Frame::Integer(old as i64))
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(&argv[2])?;
    let Some(s) = read_str(ctx, &argv[1])? else { return Ok(Frame::Integer(0)) };
    let byte = offset >> 3;
    let bit = s.get(byte).map(|b| b & (1 << (7 - (offset & 7))) != 0).unwrap_or(false);
    Ok(Frame::Integer(bit as i64))
}

/// Normalises a [start, end] range over `len` units the way GETRANGE, BITCOUNT and BITPOS do:
/// negative indexes count from the end, then both are clamped; `None` when nothing is left.
fn clamp_range(mut start: i64, mut end: i64, len: i64) -> Option<(i64, i64)> {
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        None
    } else {
        Some((start, end))
    }
}

fn bit_at(s: &[u8], i: i64) -> bool {
    s[(i >> 3) as usize] & (1 << (7 - (i & 7))) != 0
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut range = None;
    let mut bit_unit = false;
    match argv.len() {
        2 => {}
        4 | 5 => {
            let start = parse_int(&argv[2])?;
            let end = parse_int(&argv[3])?;
            if argv.len() == 5 {
                if eq_ic(&argv[4], "bit") {
                    bit_unit = true;
                } else if !eq_ic(&argv[4], "byte") {
                    return Err(CmdError::syntax());
                }
            }
            range = Some((start, end));
        }
        _ => return Err(CmdError::syntax()),
    }
    let Some(s) = read_str(ctx, &argv[1])? else { return Ok(Frame::Integer(0)) };
    let Some((start, end)) = range else {
        return Ok(Frame::Integer(s.iter().map(|b| b.count_ones() as i64).sum()));
    };
    let len = if bit_unit { s.len() as i64 * 8 } else { s.len() as i64 };
    let Some((a, b)) = clamp_range(start, end, len) else { return Ok(Frame::Integer(0)) };
    let n = if bit_unit {
        (a..=b).filter(|&i| bit_at(s, i)).count() as i64
    } else {
        s[a as usize..=b as usize].iter().map(|b| b.count_ones() as i64).sum()
    };
    Ok(Frame::Integer(n))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let want = match parse_int(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::new("ERR The bit argument must be 1 or 0.")),
    };
    let mut start = 0;
    let mut end = -1;
    let mut end_given = false;
    let mut bit_unit = false;
    if argv.len() >= 4 {
        start = parse_int(&argv[3])?;
    }
    if argv.len() >= 5 {
        end = parse_int(&argv[4])?;
        end_given = true;
    }
    if argv.len() == 6 {
        if eq_ic(&argv[5], "bit") {
            bit_unit = true;
        } else if !eq_ic(&argv[5], "byte") {
            return Err(CmdError::syntax());
        }
    }
    if argv.len() > 6 {
        return Err(CmdError::syntax());
    }
    let Some(s) = read_str(ctx, &argv[1])? else {
        // A missing key is an empty string: no 1 bits, and 0 bits "start" at 0.
        return Ok(Frame::Integer(if want { -1 } else { 0 }));
    };
    let total_bits = s.len() as i64 * 8;
    let len = if bit_unit { total_bits } else { s.len() as i64 };
    let Some((a, b)) = clamp_range(start, end, len) else { return Ok(Frame::Integer(-1)) };
    let (first_bit, last_bit) = if bit_unit { (a, b) } else { (a * 8, b * 8 + 7) };
    for i in first_bit..=last_bit {
        if bit_at(s, i) == want {
            return Ok(Frame::Integer(i));
        }
    }
    // Looking for a 0 with no explicit end: the string is treated as padded with zeros on the
    // right, so the answer is the first bit past the end (Redis documents this).
    if !want && !end_given {
        return Ok(Frame::Integer(last_bit + 1));
    }
    Ok(Frame::Integer(-1))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
///
/// The longest common subsequence by the textbook dynamic programme, as Redis computes it: a
/// table of `(|a|+1) × (|b|+1)` lengths, then a walk back from the end that collects the
/// subsequence and, for IDX, the matching ranges, last first. The walk reproduces Redis's exact
/// choices (ties go left in `b`; a match that does not extend the current range closes it
/// without opening a new one), so the ranges reported are the same. The table is refused if it
/// would be bigger than `proto-max-bulk-len` bytes, as in Redis.
fn lcs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut read = |k: &[u8]| -> Result<Vec<u8>, CmdError> {
        match ctx.get(k) {
            None => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(_) => Err(CmdError::new("ERR The specified keys must contain string values")),
        }
    };
    let a = read(&argv[1])?;
    let b = read(&argv[2])?;
    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0usize);
    let mut j = 3;
    while j < argv.len() {
        if eq_ic(&argv[j], "idx") {
            getidx = true;
        } else if eq_ic(&argv[j], "len") {
            getlen = true;
        } else if eq_ic(&argv[j], "withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(&argv[j], "minmatchlen") && j + 1 < argv.len() {
            minmatchlen = parse_int(&argv[j + 1])?.max(0) as usize;
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    if getlen && getidx {
        return Err(CmdError::new("ERR If you want both the length and indexes, please just use IDX."));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > crate::limits::BULK_LEN_BYTES_MAX as u64 {
        return Err(CmdError::new("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for jj in 1..=blen {
            t[i * w + jj] = if a[i - 1] == b[jj - 1] {
                t[(i - 1) * w + jj - 1] + 1
            } else {
                t[(i - 1) * w + jj].max(t[i * w + jj - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    if getlen {
        return Ok(Frame::Integer(total as i64));
    }
    let mut result = vec![0u8; total];
    let mut idx = total;
    let mut matches = Vec::new();
    // `arange_start == alen` means no range is open, as in Redis.
    let (mut arange_start, mut arange_end, mut brange_start, mut brange_end) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut jj) = (alen, blen);
    while i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if arange_start == alen {
                (arange_start, arange_end, brange_start, brange_end) = (i - 1, i - 1, jj - 1, jj - 1);
            } else if arange_start == i && brange_start == jj {
                arange_start -= 1;
                brange_start -= 1;
            } else {
                emit = true;
            }
            if arange_start == 0 || brange_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if t[(i - 1) * w + jj] > t[i * w + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            if arange_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = arange_end.wrapping_sub(arange_start).wrapping_add(1);
            if minmatchlen == 0 || match_len >= minmatchlen {
                let mut m = vec![
                    Frame::Array(vec![Frame::Integer(arange_start as i64), Frame::Integer(arange_end as i64)]),
                    Frame::Array(vec![Frame::Integer(brange_start as i64), Frame::Integer(brange_end as i64)]),
                ];
                if withmatchlen {
                    m.push(Frame::Integer(match_len as i64));
                }
                matches.push(Frame::Array(m));
            }
            arange_start = alen;
        }
    }
    if getidx {
        return Ok(Frame::Map(vec![
            (Frame::bulk_str("matches"), Frame::Array(matches)),
            (Frame::bulk_str("len"), Frame::Integer(total as i64)),
        ]));
    }
    Ok(Frame::Bulk(Bytes::from(result)))
}
