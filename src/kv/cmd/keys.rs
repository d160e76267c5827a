//! Generic key commands: existence, deletion, renaming, expiry, iteration and SORT.

use crate::kv::notify;
use bytes::Bytes;
use rand::Rng;

use super::{eq_ic, lower, parse_f64, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::kv::glob;
use crate::kv::value::SetValue;
use crate::kv::Value;
use crate::limits::DATABASES_COUNT;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
    ("rename", rename),
    ("renamenx", renamenx),
    ("copy", copy),
    ("dump", dump),
    ("restore", restore),
    ("move", move_),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("touch", touch),
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
    ("swapdb", swapdb),
    ("sort", sort),
    ("sort_ro", sort_ro),
];

/// DEL key [key ...] (UNLINK is the same here: terrarium frees values on the spot, and the
/// difference in Redis is only which thread does the freeing)
fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.remove(k).is_some() {
            ctx.notify(notify::GENERIC, "del", k);
            n += 1;
        }
    }
    Ok(Frame::Integer(n))
}

/// EXISTS key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = argv[1..].iter().filter(|k| ctx.exists(k)).count();
    Ok(Frame::Integer(n as i64))
}

/// TYPE key
fn type_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let t = ctx.get(&argv[1]).map(|v| v.type_name()).unwrap_or("none");
    Ok(Frame::Simple(t.into()))
}

fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let db = ctx.db();
    let now = ctx.now_ms;
    let Some(expire_at) = ctx.ks.entry(db, src, now).map(|e| e.expire_at_ms) else {
        return Err(CmdError::no_such_key());
    };
    if src == dst {
        return Ok(if nx { Frame::Integer(0) } else { Frame::ok() });
    }
    if nx && ctx.exists(dst) {
        return Ok(Frame::Integer(0));
    }
    let value = ctx.remove(src).ok_or_else(CmdError::no_such_key)?;
    ctx.ks.remove(db, dst, now);
    ctx.ks.set_with_expire(db, dst.clone(), value, expire_at, now);
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    Ok(if nx { Frame::Integer(1) } else { Frame::ok() })
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

fn parse_db(arg: &[u8]) -> Result<usize, CmdError> {
    let n = parse_int(arg)?;
    if n < 0 || n >= DATABASES_COUNT as i64 {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    Ok(n as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut dst_db = ctx.db();
    let mut replace = false;
    let mut j = 3;
    while j < argv.len() {
        if eq_ic(&argv[j], "replace") {
            replace = true;
        } else if eq_ic(&argv[j], "db") && j + 1 < argv.len() {
            dst_db = parse_db(&argv[j + 1])?;
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let (src, dst) = (&argv[1], &argv[2]);
    let db = ctx.db();
    if src == dst && db == dst_db {
        return Err(CmdError::new("ERR source and destination objects are the same"));
    }
    let now = ctx.now_ms;
    let Some((value, expire_at)) = ctx.ks.entry(db, src, now).map(|e| (e.value.clone(), e.expire_at_ms)) else {
        return Ok(Frame::Integer(0));
    };
    if ctx.ks.exists(dst_db, dst, now) {
        if !replace {
            return Ok(Frame::Integer(0));
        }
        ctx.ks.remove(dst_db, dst, now);
    }
    ctx.ks.set_with_expire(dst_db, dst.clone(), value, expire_at, now);
    ctx.ks.notify(notify::GENERIC, "copy_to", dst_db, dst);
    Ok(Frame::Integer(1))
}

/// DUMP key
///
/// The payload is Redis's RDB object encoding (see `kv::rdb` for how it relates to the bytes
/// Redis itself would produce).
fn dump(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(v) = ctx.get(&argv[1]) else { return Ok(Frame::Null) };
    match crate::kv::rdb::dump(v) {
        Some(payload) => Ok(Frame::Bulk(Bytes::from(payload))),
        None => Err(CmdError::new("ERR DUMP of a Bloom filter is not supported by terrarium")),
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
///
/// The checks run in Redis's order: options, an existing key (BUSYKEY), the TTL, the payload's
/// version and checksum, then the object itself.
fn restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if eq_ic(&argv[j], "replace") {
            replace = true;
        } else if eq_ic(&argv[j], "absttl") {
            absttl = true;
        } else if eq_ic(&argv[j], "idletime") && more && freq.is_none() {
            let v = parse_int(&argv[j + 1])?;
            if v < 0 {
                return Err(CmdError::new("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if eq_ic(&argv[j], "freq") && more && idle.is_none() {
            let v = parse_int(&argv[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::new("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    let key = &argv[1];
    if !replace && ctx.exists(key) {
        return Err(CmdError::new("BUSYKEY Target key name already exists."));
    }
    let mut ttl = parse_int(&argv[2])?;
    if ttl < 0 {
        return Err(CmdError::new("ERR Invalid TTL value, must be >= 0"));
    }
    let body = crate::kv::rdb::unseal(&argv[3])
        .map_err(|_| CmdError::new("ERR DUMP payload version or checksum are wrong"))?;
    let value = crate::kv::rdb::restore(body).map_err(|_| CmdError::new("ERR Bad data format"))?;
    let deleted = replace && ctx.remove(key).is_some();
    let now = ctx.now_ms;
    if ttl > 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    if ttl > 0 && ttl <= now {
        // Already expired: the key is gone, as if restored and expired at once.
        if deleted {
            ctx.notify(notify::GENERIC, "del", key);
        }
        return Ok(Frame::ok());
    }
    let db = ctx.db();
    ctx.ks.set_with_expire(db, key.clone(), value, (ttl > 0).then_some(ttl), now);
    if let Some(idle_s) = idle {
        if let Some(e) = ctx.ks.dbs[db].map.get_mut(&key[..]) {
            e.access_ms = now - idle_s.saturating_mul(1000);
        }
    }
    ctx.notify(notify::GENERIC, "restore", key);
    Ok(Frame::ok())
}

/// MOVE key db
fn move_(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let dst_db = parse_db(&argv[2])?;
    let db = ctx.db();
    if dst_db == db {
        return Err(CmdError::new("ERR source and destination objects are the same"));
    }
    let now = ctx.now_ms;
    let Some(expire_at) = ctx.ks.entry(db, &argv[1], now).map(|e| e.expire_at_ms) else {
        return Ok(Frame::Integer(0));
    };
    if ctx.ks.exists(dst_db, &argv[1], now) {
        return Ok(Frame::Integer(0));
    }
    let value = ctx.remove(&argv[1]).ok_or_else(CmdError::no_such_key)?;
    ctx.ks.set_with_expire(dst_db, argv[1].clone(), value, expire_at, now);
    ctx.notify(notify::GENERIC, "move_from", &argv[1]);
    ctx.ks.notify(notify::GENERIC, "move_to", dst_db, &argv[1]);
    Ok(Frame::Integer(1))
}

/// Live (unexpired) keys of the current database.
fn live_keys(ctx: &mut Ctx) -> Vec<Bytes> {
    let now = ctx.now_ms;
    let db = &ctx.ks.dbs[ctx.sess.db];
    db.map.iter().filter(|(_, e)| e.expire_at_ms.is_none_or(|at| at > now)).map(|(k, _)| k.clone()).collect()
}

/// KEYS pattern
fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let pat = &argv[1];
    let all = pat.as_ref() == b"*";
    let out: Vec<Bytes> = live_keys(ctx).into_iter().filter(|k| all || glob::matches(pat, k, false)).collect();
    Ok(Frame::bulks(out))
}

/// The fixed-seed hash that orders keys for SCAN. A cursor is "the hash to continue from", so a
/// key that exists for the whole iteration is returned, whatever is added or removed meanwhile:
/// Redis's guarantee, reached here without Redis's reverse-binary bucket walk.
pub fn scan_hash(k: &[u8]) -> u64 {
    let s = ahash::RandomState::with_seeds(0x7465_7272, 0x6172_6975, 0x6d5f_7363, 0x616e_0001);
    s.hash_one(k).max(1)
}

/// Options shared by SCAN, HSCAN, SSCAN and ZSCAN.
pub struct ScanOptions {
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub type_filter: Option<String>,
}

/// A SCAN cursor as Redis reads it (`strtoul`, base 10, after refusing leading space): `+` and
/// `-` are allowed (`-1` wraps around), `""` is 0, the text ends at a NUL byte as a C string
/// does, and overflow is an error.
pub fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::new("ERR invalid cursor");
    let s = &arg[..arg.iter().position(|&c| c == 0).unwrap_or(arg.len())];
    if s.first().is_some_and(|&c| crate::kv::float::is_c_space(c)) {
        return Err(invalid());
    }
    if s.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as u64)).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses `[MATCH pattern] [COUNT count]` (and `[TYPE type]` when allowed) from `argv[from..]`.
/// A MATCH of `*` is dropped, since Redis skips the matcher for it.
pub fn parse_scan_options(argv: &[Bytes], from: usize, allow_type: bool) -> Result<ScanOptions, CmdError> {
    let mut o = ScanOptions { pattern: None, count: 10, type_filter: None };
    let mut j = from;
    while j < argv.len() {
        let has_value = j + 1 < argv.len();
        if eq_ic(&argv[j], "count") && has_value {
            let n = parse_int(&argv[j + 1])?;
            if n < 1 {
                return Err(CmdError::syntax());
            }
            o.count = n as usize;
        } else if eq_ic(&argv[j], "match") && has_value {
            let p = argv[j + 1].clone();
            o.pattern = if p.as_ref() == b"*" { None } else { Some(p) };
        } else if allow_type && eq_ic(&argv[j], "type") && has_value {
            o.type_filter = Some(lower(&argv[j + 1]));
        } else {
            return Err(CmdError::syntax());
        }
        j += 2;
    }
    Ok(o)
}

/// Whether a scanned element passes the MATCH filter.
pub fn scan_matches(pattern: &Option<Bytes>, item: &[u8]) -> bool {
    pattern.as_ref().is_none_or(|p| glob::matches(p, item, false))
}

/// The reply of a scan that returned everything at once: cursor 0 and the elements.
pub fn scan_reply(items: Vec<Frame>) -> Frame {
    Frame::Array(vec![Frame::bulk_str("0"), Frame::Array(items)])
}

/// One SCAN step over `items`: up to `count` items whose scan hash is at least the cursor, in
/// hash order, and the cursor to continue from (0 when done). Cost is O(n) per call.
pub fn scan_step<T: Clone>(items: impl Iterator<Item = (u64, T)>, cursor: u64, count: usize) -> (u64, Vec<T>) {
    let mut candidates: Vec<(u64, T)> = items.filter(|(h, _)| *h >= cursor).collect();
    // Keys with equal hashes must come out in the same call, or the cursor could skip one.
    candidates.sort_by_key(|(h, _)| *h);
    let mut take = count.min(candidates.len());
    while take < candidates.len() && take > 0 && candidates[take].0 == candidates[take - 1].0 {
        take += 1;
    }
    let next = if take < candidates.len() { candidates[take].0 } else { 0 };
    candidates.truncate(take);
    (next, candidates.into_iter().map(|(_, t)| t).collect())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_scan_cursor(&argv[1])?;
    let o = parse_scan_options(argv, 2, true)?;
    let keys = live_keys(ctx);
    let (next, batch) = scan_step(keys.into_iter().map(|k| (scan_hash(&k), k)), cursor, o.count);
    let mut out = Vec::new();
    for k in batch {
        if !scan_matches(&o.pattern, &k) {
            continue;
        }
        if let Some(t) = &o.type_filter {
            // Redis compares with strcasecmp; module type names such as "MBbloom--" have capitals.
            if !ctx.get(&k).is_some_and(|v| v.type_name().eq_ignore_ascii_case(t)) {
                continue;
            }
        }
        out.push(Frame::Bulk(k));
    }
    Ok(Frame::Array(vec![Frame::Bulk(Bytes::from(next.to_string())), Frame::Array(out)]))
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let keys = live_keys(ctx);
    if keys.is_empty() {
        return Ok(Frame::Null);
    }
    let i = rand::thread_rng().gen_range(0..keys.len());
    Ok(Frame::Bulk(keys[i].clone()))
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let n = argv[1..].iter().filter(|k| ctx.get(k).is_some()).count();
    Ok(Frame::Integer(n as i64))
}

#[derive(Clone, Copy)]
enum ExpireUnit {
    Seconds,
    Millis,
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: key time [NX | XX | GT | LT]
fn expire_generic(ctx: &mut Ctx, argv: &[Bytes], unit: ExpireUnit, relative: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &argv[3..] {
        match lower(opt).as_str() {
            "nx" => nx = true,
            "xx" => xx = true,
            "gt" => gt = true,
            "lt" => lt = true,
            _ => return Err(CmdError::new(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::new("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(CmdError::new("ERR GT and LT options at the same time are not compatible"));
    }
    let mut when = parse_int(&argv[2])?;
    let invalid = || CmdError::new(format!("ERR invalid expire time in '{}' command", lower(&argv[0])));
    if let ExpireUnit::Seconds = unit {
        if when > i64::MAX / 1000 || when < i64::MIN / 1000 {
            return Err(invalid());
        }
        when *= 1000;
    }
    let base = if relative { ctx.now_ms } else { 0 };
    if when > i64::MAX - base {
        return Err(invalid());
    }
    when += base;
    let key = &argv[1];
    let db = ctx.db();
    let now = ctx.now_ms;
    let Some(current) = ctx.ks.entry(db, key, now).map(|e| e.expire_at_ms) else {
        return Ok(Frame::Integer(0));
    };
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Frame::Integer(0));
    }
    if when <= now {
        ctx.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.ks.set_expire(db, key, Some(when), now);
        ctx.notify(notify::GENERIC, "expire", key);
    }
    Ok(Frame::Integer(1))
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Seconds, true)
}
/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Millis, true)
}
/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Seconds, false)
}
/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, ExpireUnit::Millis, false)
}

/// -2 for a missing key, -1 for no TTL, else the deadline.
fn deadline_of(ctx: &mut Ctx, key: &[u8]) -> Result<i64, i64> {
    let db = ctx.db();
    match ctx.ks.peek(db, key, ctx.now_ms) {
        None => Err(-2),
        Some(e) => e.expire_at_ms.ok_or(-1),
    }
}

/// TTL key: the remaining time rounded to the nearest second, as Redis does.
fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(match deadline_of(ctx, &argv[1]) {
        Ok(at) => ((at - ctx.now_ms).max(0) + 500) / 1000,
        Err(code) => code,
    }))
}

/// PTTL key
fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(match deadline_of(ctx, &argv[1]) {
        Ok(at) => (at - ctx.now_ms).max(0),
        Err(code) => code,
    }))
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(match deadline_of(ctx, &argv[1]) {
        Ok(at) => at / 1000,
        Err(code) => code,
    }))
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(deadline_of(ctx, &argv[1]).unwrap_or_else(|c| c)))
}

/// PERSIST key
fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let now = ctx.now_ms;
    match ctx.ks.entry(db, &argv[1], now).map(|e| e.expire_at_ms) {
        Some(Some(_)) => {
            ctx.ks.set_expire(db, &argv[1], None, now);
            ctx.notify(notify::GENERIC, "persist", &argv[1]);
            Ok(Frame::Integer(1))
        }
        _ => Ok(Frame::Integer(0)),
    }
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = parse_int(&argv[1]).map_err(|_| CmdError::new("ERR invalid first DB index"))?;
    let b = parse_int(&argv[2]).map_err(|_| CmdError::new("ERR invalid second DB index"))?;
    let range = 0..DATABASES_COUNT as i64;
    if !range.contains(&a) || !range.contains(&b) {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    if a != b {
        ctx.ks.swap_db(a as usize, b as usize, ctx.now_ms);
    }
    Ok(Frame::ok())
}

// ------------------------------------------------------------------------------------------------
// SORT
// ------------------------------------------------------------------------------------------------

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]
///   [STORE destination]
fn sort(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]
fn sort_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// Looks up `pattern` with its first `*` replaced by `subst`: a string key, or `key->field` of a
/// hash. `#` stands for the element itself.
fn sort_lookup(ctx: &mut Ctx, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(subst.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern.windows(2).rposition(|w| w == b"->").filter(|&a| a > star && a + 2 < pattern.len());
    let (key_pat, field) = match arrow {
        Some(a) => (&pattern[..a], Some(&pattern[a + 2..])),
        None => (pattern, None),
    };
    let mut key = key_pat[..star].to_vec();
    key.extend_from_slice(subst);
    key.extend_from_slice(&key_pat[star + 1..]);
    match (ctx.get(&key), field) {
        (Some(Value::Str(s)), None) => Some(s.clone()),
        (Some(Value::Hash(h)), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

fn sort_generic(ctx: &mut Ctx, argv: &[Bytes], read_only: bool) -> CmdResult {
    let mut by: Option<Bytes> = None;
    let mut limit: Option<(i64, i64)> = None;
    let mut gets: Vec<Bytes> = Vec::new();
    let mut desc = false;
    let mut alpha = false;
    let mut store: Option<Bytes> = None;
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if eq_ic(a, "asc") {
            desc = false;
        } else if eq_ic(a, "desc") {
            desc = true;
        } else if eq_ic(a, "alpha") {
            alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            limit = Some((parse_int(&argv[j + 1])?, parse_int(&argv[j + 2])?));
            j += 2;
        } else if eq_ic(a, "store") && left >= 1 && !read_only {
            store = Some(argv[j + 1].clone());
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            by = Some(argv[j + 1].clone());
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            gets.push(argv[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::syntax());
        }
        j += 1;
    }
    // A BY pattern without '*' means "don't sort" (Redis's `nosort`).
    let dont_sort = by.as_ref().is_some_and(|b| !b.contains(&b'*'));
    let (mut elems, is_zset): (Vec<Bytes>, bool) = match ctx.get(&argv[1]) {
        None => (Vec::new(), false),
        Some(Value::List(l)) => (l.iter().cloned().collect(), false),
        Some(Value::Set(s)) => (SetValue::ordered(s), false),
        Some(Value::ZSet(z)) => (zset_members(z), true),
        Some(_) => return Err(CmdError::wrong_type()),
    };
    if !dont_sort {
        let mut keyed: Vec<(Bytes, Option<Vec<u8>>)> = Vec::with_capacity(elems.len());
        for e in elems.drain(..) {
            let w = match &by {
                Some(p) => sort_lookup(ctx, p, &e),
                None => Some(e.to_vec()),
            };
            keyed.push((e, w));
        }
        if alpha {
            keyed.sort_by(|a, b| a.1.cmp(&b.1));
        } else {
            let mut scored = Vec::with_capacity(keyed.len());
            for (e, w) in keyed {
                let score = match &w {
                    None => 0.0,
                    Some(v) => parse_f64(v)
                        .ok_or_else(|| CmdError::new("ERR One or more scores can't be converted into double"))?,
                };
                scored.push((e, score));
            }
            // Equal weights fall back to comparing the elements themselves, as Redis does.
            scored
                .sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
            keyed = scored.into_iter().map(|(e, _)| (e, None)).collect();
        }
        elems = keyed.into_iter().map(|(e, _)| e).collect();
        if desc {
            elems.reverse();
        }
    } else if is_zset && desc {
        elems.reverse();
    }
    if let Some((offset, count)) = limit {
        let len = elems.len() as i64;
        let start = offset.clamp(0, len);
        let end = if count < 0 { len } else { (start + count).min(len) };
        elems = elems[start as usize..end.max(start) as usize].to_vec();
    }
    let mut out: Vec<Option<Bytes>> = Vec::new();
    if gets.is_empty() {
        out.extend(elems.into_iter().map(Some));
    } else {
        for e in &elems {
            for g in &gets {
                out.push(sort_lookup(ctx, g, e).map(Bytes::from));
            }
        }
    }
    if let Some(dst) = store {
        let n = out.len();
        if n == 0 {
            if ctx.remove(&dst).is_some() {
                ctx.notify(notify::GENERIC, "del", &dst);
            }
        } else {
            let list = out.into_iter().map(|o| o.unwrap_or_default()).collect();
            ctx.set(dst.clone(), Value::List(list));
            ctx.notify(notify::LIST, "sortstore", &dst);
        }
        return Ok(Frame::Integer(n as i64));
    }
    Ok(Frame::Array(out.into_iter().map(|o| o.map(Frame::Bulk).unwrap_or(Frame::Null)).collect()))
}

/// A sorted set's members in score order (SORT's input order for a zset).
fn zset_members(z: &crate::kv::zset::ZSet) -> Vec<Bytes> {
    z.iter().map(|(m, _)| m.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(parse_scan_cursor(b"").ok(), Some(0));
        assert_eq!(parse_scan_cursor(b"0").ok(), Some(0));
        assert_eq!(parse_scan_cursor(b"+7").ok(), Some(7));
        assert_eq!(parse_scan_cursor(b"-1").ok(), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551615").ok(), Some(u64::MAX));
        for bad in [&b"18446744073709551616"[..], b" 1", b"+", b"-", b"1a", b"0x1"] {
            assert!(parse_scan_cursor(bad).is_err());
        }
        assert_eq!(parse_scan_cursor(b" 1").ok(), None);
        assert_eq!(parse_scan_cursor(b"x").ok(), None);
    }
}
