//! Hash commands: HSET and friends, HINCRBY/HINCRBYFLOAT, HSCAN and HRANDFIELD.
//!
//! A hash is an insertion-ordered map (`HashValue`), because Redis keeps small hashes in a
//! listpack and HGETALL shows that order. This file also holds two things the set commands
//! share: the SCAN-family argument parsing ([`parse_scan_cursor`], [`parse_scan_options`]) and
//! the bound on random replies with repetitions ([`random_repeat_count`]).
//!
//! HINCRBYFLOAT computes in x87 80-bit `long double` as Redis does, emulated exactly in
//! [`long_double`]: `1000.1` must come back as `1000.09999999999999998`, which neither `f64`
//! nor a shortest-representation formatter would produce.

use bytes::Bytes;
use rand::Rng;

use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::kv::glob;
use crate::kv::value::{hash_remove, HashValue, Value};
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

/// A random reply with repetitions (HRANDFIELD, SRANDMEMBER with a negative count) holds at
/// most this many elements. Redis would try to build a reply of any size the client asks for;
/// we refuse beyond this instead of allocating gigabytes for one request.
pub(super) const RANDOM_REPEAT_COUNT_MAX: u64 = 1_000_000;

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
// SCAN-family helpers (HSCAN here, SSCAN in set.rs).
// ------------------------------------------------------------------------------------------------

/// A SCAN cursor, accepted exactly as C's `strtoul` (base 10) accepts it with Redis's extra
/// checks: no leading space, the whole argument consumed, no overflow. The empty string is
/// cursor 0, and `-1` wraps, as in Redis.
pub(super) fn parse_scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::new("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match arg[0] {
        b'+' => (false, &arg[1..]),
        b'-' => (true, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// `[MATCH pattern] [COUNT count]` from `argv[from..]`. Returns the pattern to filter with,
/// `None` when there is none or it is `*`. COUNT is validated and otherwise ignored: the small
/// collections these commands are meant for are returned whole, as Redis does for listpacks
/// and intsets.
pub(super) fn parse_scan_options(argv: &[Bytes], from: usize) -> Result<Option<Bytes>, CmdError> {
    let mut pattern = None;
    let mut i = from;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(&argv[i], "count") && more >= 1 {
            if parse_int(&argv[i + 1])? < 1 {
                return Err(CmdError::syntax());
            }
        } else if eq_ic(&argv[i], "match") && more >= 1 {
            let p = &argv[i + 1];
            pattern = if &p[..] == b"*" { None } else { Some(p.clone()) };
        } else {
            return Err(CmdError::syntax());
        }
        i += 2;
    }
    Ok(pattern)
}

/// Whether a scanned element passes the MATCH filter.
pub(super) fn scan_matches(pattern: &Option<Bytes>, item: &[u8]) -> bool {
    pattern.as_ref().is_none_or(|p| glob::matches(p, item, false))
}

/// The SCAN reply: the next cursor (always 0: everything was returned) and the elements.
pub(super) fn scan_reply(items: Vec<Frame>) -> Frame {
    Frame::Array(vec![Frame::bulk_str("0"), Frame::Array(items)])
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
                if h.insert(pair[0].clone(), pair[1].clone()).is_none() {
                    added += 1;
                }
            }
            ctx.touch(key);
        }
        None => {
            let mut h = HashValue::default();
            for pair in argv[2..].chunks_exact(2) {
                if h.insert(pair[0].clone(), pair[1].clone()).is_none() {
                    added += 1;
                }
            }
            ctx.set(key.clone(), Value::Hash(h));
        }
    }
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
    Ok(Frame::Integer(new))
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    use long_double::LongDouble;
    let incr = match long_double::parse(&argv[3]) {
        None => return Err(CmdError::not_float()),
        Some(LongDouble::Inf) => return Err(CmdError::new("ERR value is NaN or Infinity")),
        Some(x) => x,
    };
    let would_be_inf = || CmdError::new("ERR increment would produce NaN or Infinity");
    let (key, field) = (&argv[1], &argv[2]);
    let current = match ctx.get_hash(key)?.and_then(|h| h.get(&field[..])) {
        Some(v) => match long_double::parse(v) {
            None => return Err(CmdError::new("ERR hash value is not a float")),
            Some(LongDouble::Inf) => return Err(would_be_inf()),
            Some(x) => x,
        },
        None => LongDouble::ZERO,
    };
    let sum = long_double::add(current, incr).ok_or_else(would_be_inf)?;
    let text = Bytes::from(long_double::format_human(sum));
    store_field(ctx, key, field, text.clone())?;
    Ok(Frame::Bulk(text))
}

/// Sets one field, creating the hash if needed, and touches the key.
fn store_field(ctx: &mut Ctx, key: &Bytes, field: &Bytes, value: Bytes) -> Result<(), CmdError> {
    match ctx.get_hash(key)? {
        Some(h) => {
            h.insert(field.clone(), value);
            ctx.touch(key);
        }
        None => {
            let mut h = HashValue::default();
            h.insert(field.clone(), value);
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
    let pattern = parse_scan_options(argv, 3)?;
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
/// On x86-64 a C `long double` is the x87 80-bit extended format: a 64-bit mantissa and a
/// 15-bit exponent. Redis parses both operands with glibc's `strtold` (correctly rounded),
/// adds them (one rounding), and prints the sum with `%.17Lf` (exact decimal expansion,
/// rounded half to even), then strips trailing zeros. Each of those steps is done here on
/// exact big integers and rounded once, the way the hardware and glibc round:
///
/// ```text
///   "1000.1"  --strtold-->  m·2^e, m < 2^64        (nearest, ties to even)
///   a + b     --exact-->    big integer · 2^e'  --round-->  m'·2^e''
///   m·2^e     --%.17Lf-->   round(m·2^e·10^17) with the point put back 17 digits from the end
/// ```
///
/// A value is `mant · 2^exp` with `mant < 2^64`; subnormals simply have a smaller mantissa at
/// the minimum exponent.
pub(crate) mod long_double {
    use std::cmp::Ordering;

    use num_bigint::BigUint;
    use num_traits::{ToPrimitive, Zero};

    /// The exponent of the smallest subnormal, 2^-16445: the finest quantum there is.
    const EXP_MIN: i64 = -16445;
    /// The largest exponent a 64-bit mantissa may carry: LDBL_MAX is (2^64-1)·2^16320.
    const EXP_MAX: i64 = 16320;
    /// Redis refuses a float argument this long or longer (`MAX_LONG_DOUBLE_CHARS`).
    const TEXT_BYTES_MAX: usize = 5 * 1024;
    /// Decimal exponents beyond these bounds are certain overflow or underflow; checking them
    /// first keeps `1e999999999` from building a billion-digit power of ten.
    const DEC_MAGNITUDE_MAX: i64 = 4940;
    const DEC_MAGNITUDE_MIN: i64 = -4960;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum LongDouble {
        Finite {
            neg: bool,
            mant: u64,
            exp: i64,
        },
        /// `inf` or `-inf` written literally (overflow is refused, not turned into this).
        Inf,
    }

    impl LongDouble {
        pub const ZERO: LongDouble = LongDouble::Finite { neg: false, mant: 0, exp: 0 };
    }

    /// Parses as Redis's `string2ld`: `strtold` over the whole text, no leading space, and no
    /// NaN, overflow to infinity or underflow to zero. `None` means "not a valid float".
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= TEXT_BYTES_MAX || is_c_space(s[0]) {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Inf);
        }
        let rounded = if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            parse_hex(&body[2..])?
        } else {
            parse_decimal(body)?
        };
        match rounded {
            Rounded::Zero { exact: true } => Some(LongDouble::Finite { neg, mant: 0, exp: 0 }),
            // strtold's ERANGE: Redis refuses a nonzero text that rounds to zero...
            Rounded::Zero { exact: false } => None,
            // ... and one that overflows to infinity.
            Rounded::Overflow => None,
            Rounded::Value(mant, exp) => Some(LongDouble::Finite { neg, mant, exp }),
        }
    }

    fn is_c_space(c: u8) -> bool {
        matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
    }

    enum Rounded {
        Zero { exact: bool },
        Overflow,
        Value(u64, i64),
    }

    /// Splits `digits[.digits]` followed by an optional exponent introduced by `marker`.
    /// Returns (all mantissa digits, count of digits after the point, exponent).
    fn split_number(s: &[u8], is_digit: fn(&u8) -> bool, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
        let mut i = 0;
        let mut digits = Vec::new();
        while i < s.len() && is_digit(&s[i]) {
            digits.push(s[i]);
            i += 1;
        }
        let mut frac = 0i64;
        if i < s.len() && s[i] == b'.' {
            i += 1;
            while i < s.len() && is_digit(&s[i]) {
                digits.push(s[i]);
                frac += 1;
                i += 1;
            }
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp = 0i64;
        if i < s.len() && (s[i] | 0x20) == marker {
            i += 1;
            let mut eneg = false;
            if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
                eneg = s[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                // Saturate: anything this large is already certain overflow or underflow.
                exp = (exp * 10 + i64::from(s[i] - b'0')).min(1_000_000_000);
                i += 1;
            }
            if i == start {
                return None;
            }
            if eneg {
                exp = -exp;
            }
        }
        if i != s.len() {
            return None;
        }
        Some((digits, frac, exp))
    }

    fn parse_decimal(s: &[u8]) -> Option<Rounded> {
        let (digits, frac, exp) = split_number(s, u8::is_ascii_digit, b'e')?;
        let first = digits.iter().position(|&d| d != b'0');
        let Some(first) = first else { return Some(Rounded::Zero { exact: true }) };
        let digits = &digits[first..];
        let exp10 = exp - frac;
        let magnitude = exp10 + digits.len() as i64;
        if magnitude > DEC_MAGNITUDE_MAX {
            return Some(Rounded::Overflow);
        }
        if magnitude < DEC_MAGNITUDE_MIN {
            return Some(Rounded::Zero { exact: false });
        }
        let d = BigUint::parse_bytes(digits, 10)?;
        Some(if exp10 >= 0 {
            round_ratio(d * pow10(exp10 as u32), BigUint::from(1u8), 0)
        } else {
            round_ratio(d, pow10((-exp10) as u32), 0)
        })
    }

    fn parse_hex(s: &[u8]) -> Option<Rounded> {
        let (digits, frac, exp) = split_number(s, u8::is_ascii_hexdigit, b'p')?;
        let first = digits.iter().position(|&d| d != b'0');
        let Some(first) = first else { return Some(Rounded::Zero { exact: true }) };
        let digits = &digits[first..];
        let exp2 = exp - 4 * frac;
        let magnitude = exp2 + 4 * digits.len() as i64;
        if magnitude > EXP_MAX + 70 {
            return Some(Rounded::Overflow);
        }
        if magnitude < EXP_MIN - 2 {
            return Some(Rounded::Zero { exact: false });
        }
        let h = BigUint::parse_bytes(digits, 16)?;
        Some(round_ratio(h, BigUint::from(1u8), exp2))
    }

    fn pow10(n: u32) -> BigUint {
        BigUint::from(10u8).pow(n)
    }

    /// Rounds `num / den · 2^exp2` (positive) to the nearest long double, ties to even.
    fn round_ratio(num: BigUint, den: BigUint, exp2: i64) -> Rounded {
        if num.is_zero() {
            return Rounded::Zero { exact: true };
        }
        // floor(log2(num/den)) is bits(num) - bits(den) or one less.
        let mut lg = num.bits() as i64 - den.bits() as i64;
        let at_least = if lg >= 0 { num >= (&den << lg as u64) } else { (&num << (-lg) as u64) >= den };
        if !at_least {
            lg -= 1;
        }
        // Keep 64 significant bits, or fewer in the subnormal range.
        let mut e = (lg + exp2 - 63).max(EXP_MIN);
        let shift = exp2 - e;
        let (n, d) = if shift >= 0 { (num << shift as u64, den) } else { (num, den << (-shift) as u64) };
        let q = &n / &d;
        let r = n - &q * &d;
        let Some(mut q) = q.to_u128() else { return Rounded::Overflow };
        match (r << 1u8).cmp(&d) {
            Ordering::Greater => q += 1,
            Ordering::Equal if q & 1 == 1 => q += 1,
            _ => {}
        }
        if q == 1u128 << 64 {
            q >>= 1;
            e += 1;
        }
        if q == 0 {
            return Rounded::Zero { exact: false };
        }
        if e > EXP_MAX {
            return Rounded::Overflow;
        }
        match u64::try_from(q) {
            Ok(m) => Rounded::Value(m, e),
            Err(_) => Rounded::Overflow,
        }
    }

    /// `a + b` rounded once, as the FPU does. `None` if the sum overflows to infinity.
    pub fn add(a: LongDouble, b: LongDouble) -> Option<LongDouble> {
        let (LongDouble::Finite { neg: na, mant: ma, exp: ea }, LongDouble::Finite { neg: nb, mant: mb, exp: eb }) =
            (a, b)
        else {
            return None;
        };
        if ma == 0 {
            return Some(b);
        }
        if mb == 0 {
            return Some(a);
        }
        let e = ea.min(eb);
        let big_a = BigUint::from(ma) << (ea - e) as u64;
        let big_b = BigUint::from(mb) << (eb - e) as u64;
        let (neg, sum) = if na == nb {
            (na, big_a + big_b)
        } else if big_a >= big_b {
            (na, big_a - big_b)
        } else {
            (nb, big_b - big_a)
        };
        match round_ratio(sum, BigUint::from(1u8), e) {
            Rounded::Zero { .. } => Some(LongDouble::ZERO),
            Rounded::Overflow => None,
            Rounded::Value(mant, exp) => Some(LongDouble::Finite { neg, mant, exp }),
        }
    }

    /// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf`, trailing zeros and a bare point
    /// removed, and `-0` written as `0`.
    pub fn format_human(x: LongDouble) -> String {
        let LongDouble::Finite { neg, mant, exp } = x else {
            return "inf".to_string();
        };
        let scaled = BigUint::from(mant) * pow10(17);
        let n = if exp >= 0 {
            scaled << exp as u64
        } else {
            let sh = (-exp) as u64;
            let q = &scaled >> sh;
            let r = scaled - (&q << sh);
            let half = BigUint::from(1u8) << (sh - 1);
            match r.cmp(&half) {
                Ordering::Greater => q + 1u8,
                Ordering::Equal if q.bit(0) => q + 1u8,
                _ => q,
            }
        };
        let mut digits = n.to_str_radix(10);
        if digits.len() < 18 {
            digits = format!("{}{}", "0".repeat(18 - digits.len()), digits);
        }
        let (int_part, frac_part) = digits.split_at(digits.len() - 17);
        let frac_part = frac_part.trim_end_matches('0');
        let mut out = String::with_capacity(digits.len() + 2);
        if neg {
            out.push('-');
        }
        out.push_str(int_part);
        if !frac_part.is_empty() {
            out.push('.');
            out.push_str(frac_part);
        }
        if out == "-0" {
            out = "0".to_string();
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn incr(a: &str, b: &str) -> Option<String> {
            Some(format_human(add(parse(a.as_bytes())?, parse(b.as_bytes())?)?))
        }

        #[test]
        fn sums_match_redis_7_0() {
            // Expected values were produced by redis-server 7.0.15 (HINCRBYFLOAT).
            assert_eq!(incr("0", "1000.1").as_deref(), Some("1000.09999999999999998"));
            assert_eq!(incr("1000.09999999999999998", "3.0e3").as_deref(), Some("4000.10000000000000009"));
            assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
            assert_eq!(incr("10", "0.1").as_deref(), Some("10.1"));
            assert_eq!(incr("0", "1.23456789012345678901234").as_deref(), Some("1.23456789012345679"));
            assert_eq!(incr("0", "5.0e-20").as_deref(), Some("0"));
            assert_eq!(incr("0", "-0.00000000000000000001").as_deref(), Some("0"));
            assert_eq!(incr("0", "-1.5").as_deref(), Some("-1.5"));
            assert_eq!(incr("1", "0x1p4").as_deref(), Some("17"));
            assert_eq!(incr("0", "0x.8").as_deref(), Some("0.5"));
            assert_eq!(incr("0", "0.000003814697265625").as_deref(), Some("0.00000381469726562"));
            assert_eq!(incr("0", "0.000003814697265635").as_deref(), Some("0.00000381469726563"));
            assert_eq!(incr("9223372036854775807", "0").as_deref(), Some("9223372036854775807"));
            assert_eq!(incr("5.", ".5").as_deref(), Some("5.5"));
            let big = incr("0", "1.5e300").unwrap();
            assert!(big.starts_with("1500000000000000000049800109861472166362379239118673928551219718248973529929812708792854310575830930686530644566050229406926646739311017606984258288377434143937602778196710661234655944195770838513268846826150205418632995547271874827072936230594920013241190363994471886080567336615911694509046614720512"));
            assert_eq!(big.len(), 301);
        }

        #[test]
        fn parsing_refuses_what_strtold_and_redis_refuse() {
            for bad in [
                "",
                " 1",
                "1 ",
                "abc",
                "1e",
                "nan",
                "NaN(1)",
                ".",
                "0x",
                "1e-5000",
                "1.18973149535723176508e+4932",
                "1e99999999999",
            ] {
                assert_eq!(parse(bad.as_bytes()), None, "{bad}");
            }
            assert_eq!(parse(b"InFiNiTy"), Some(LongDouble::Inf));
            assert_eq!(parse(b"-inf"), Some(LongDouble::Inf));
            assert!(parse(b"1.18973149535723176502e+4932").is_some());
            assert!(parse(b"1e-4940").is_some());
            assert!(parse(b"0e999999999999999").is_some());
            assert!(parse(&vec![b'1'; TEXT_BYTES_MAX]).is_none());
        }

        #[test]
        fn overflow_is_refused() {
            let max = parse(b"1.18973149535723176502e+4932").unwrap();
            assert_eq!(add(max, max), None);
            assert_eq!(add(max, parse(b"-1").unwrap()), Some(max));
        }
    }
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
    }

    #[test]
    fn random_counts_are_bounded() {
        assert!(random_repeat_count(-5).is_ok());
        assert!(random_repeat_count(-(RANDOM_REPEAT_COUNT_MAX as i64) - 1).is_err());
        assert!(parse_random_count(b"-9223372036854775808").is_err());
        assert_eq!(parse_random_count(b"-9223372036854775807").ok(), Some(-i64::MAX));
    }
}
