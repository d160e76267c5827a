//! SQL values and types, with PostgreSQL's type OIDs and text output formats.
//!
//! A value travels as [`Datum`]; what a column may hold is its [`SqlType`]. The text form of a
//! value is what PostgreSQL's output functions print (`t`/`f` for booleans, shortest round-trip
//! digits for `double precision`), because that is what `psql` and the drivers show.

use std::cmp::Ordering;

pub mod datetime;
pub mod json;

pub use datetime::Interval;

#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A `numeric` value kept as its decimal text, so `2.50` prints as `2.50` (PostgreSQL keeps
    /// the scale); arithmetic on it goes through `f64`.
    Numeric(String),
    Text(String),
    /// A `date`: days since 2000-01-01, as PostgreSQL stores it (see [`datetime`]).
    Date(i32),
    Interval(Interval),
    Uuid([u8; 16]),
    Bytea(Vec<u8>),
    /// A `jsonb` value as its normalised text ([`json::jsonb_in`]), which re-reads to itself.
    Jsonb(String),
    /// A `json` value: the text it was given, checked.
    Json(String),
}

/// A value that its type's input function refused, with PostgreSQL's SQLSTATE and texts; the
/// executor turns it into its error type.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl InputError {
    pub fn new(code: &'static str, message: impl Into<String>) -> InputError {
        InputError { code, message: message.into(), detail: None, hint: None }
    }
    pub fn detail(mut self, d: impl Into<String>) -> InputError {
        self.detail = Some(d.into());
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> InputError {
        self.hint = Some(h.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Varchar,
    /// Transaction ids (`xmin`, `xmax`), shown as numbers.
    Xid,
    /// Row addresses (`ctid`), shown as `(block,offset)`.
    Tid,
    /// A literal whose type is not known yet (`SELECT 'x'`), PostgreSQL's `unknown` → text.
    Unknown,
    /// What `pg_sleep()` returns.
    Void,
    /// `timestamp with time zone` (now(), current_timestamp), shown in UTC.
    Timestamptz,
    /// `timestamp` (without time zone), kept as its normalised text (`2024-05-01 12:00:00.5`).
    Timestamp,
    /// A WAL position, `X/Y`.
    PgLsn,
    /// `name`: an identifier of at most 63 bytes, as the catalogs hold names.
    Name,
    /// `oid`: an unsigned 32-bit object id (kept as an integer).
    Oid,
    /// `"char"`: the catalogs' single-byte code type (`relkind`), shown as text.
    Char,
    Date,
    Interval,
    Uuid,
    Bytea,
    Jsonb,
    Json,
}

impl SqlType {
    /// The OID clients see in RowDescription.
    pub fn oid(self) -> u32 {
        match self {
            SqlType::Bool => 16,
            SqlType::Int8 => 20,
            SqlType::Int2 => 21,
            SqlType::Int4 => 23,
            SqlType::Text => 25,
            SqlType::Xid => 28,
            SqlType::Tid => 27,
            SqlType::Float4 => 700,
            SqlType::Float8 => 701,
            SqlType::Varchar => 1043,
            SqlType::Numeric => 1700,
            SqlType::Unknown => 25,
            SqlType::Void => 2278,
            SqlType::Timestamptz => 1184,
            SqlType::Timestamp => 1114,
            SqlType::PgLsn => 3220,
            SqlType::Name => 19,
            SqlType::Oid => 26,
            SqlType::Char => 18,
            SqlType::Date => 1082,
            SqlType::Interval => 1186,
            SqlType::Uuid => 2950,
            SqlType::Bytea => 17,
            SqlType::Jsonb => 3802,
            SqlType::Json => 114,
        }
    }

    /// The type size RowDescription reports (-1 for variable length).
    pub fn size(self) -> i16 {
        match self {
            SqlType::Bool | SqlType::Char => 1,
            SqlType::Int2 => 2,
            SqlType::Name => 64,
            SqlType::Oid => 4,
            SqlType::Int4 | SqlType::Float4 | SqlType::Xid | SqlType::Void | SqlType::Date => 4,
            SqlType::Interval | SqlType::Uuid => 16,
            SqlType::Int8 | SqlType::Float8 | SqlType::Timestamptz | SqlType::Timestamp | SqlType::PgLsn => 8,
            SqlType::Tid => 6,
            _ => -1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SqlType::Bool => "boolean",
            SqlType::Int2 => "smallint",
            SqlType::Int4 => "integer",
            SqlType::Int8 => "bigint",
            SqlType::Float4 => "real",
            SqlType::Float8 => "double precision",
            SqlType::Numeric => "numeric",
            SqlType::Text | SqlType::Unknown => "text",
            SqlType::Varchar => "character varying",
            SqlType::Xid => "xid",
            SqlType::Tid => "tid",
            SqlType::Void => "void",
            SqlType::Timestamptz => "timestamp with time zone",
            SqlType::Timestamp => "timestamp without time zone",
            SqlType::PgLsn => "pg_lsn",
            SqlType::Name => "name",
            SqlType::Oid => "oid",
            SqlType::Char => "\"char\"",
            SqlType::Date => "date",
            SqlType::Interval => "interval",
            SqlType::Uuid => "uuid",
            SqlType::Bytea => "bytea",
            SqlType::Jsonb => "jsonb",
            SqlType::Json => "json",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, SqlType::Int2 | SqlType::Int4 | SqlType::Int8)
    }
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// The text output format, `None` for NULL.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Datum::Null => None,
            Datum::Bool(b) => Some(if *b { "t" } else { "f" }.into()),
            Datum::Int(n) => Some(n.to_string()),
            Datum::Float(f) => Some(float_text(*f)),
            Datum::Numeric(s) | Datum::Text(s) | Datum::Jsonb(s) | Datum::Json(s) => Some(s.clone()),
            Datum::Date(d) => Some(datetime::date_text(*d)),
            Datum::Interval(i) => Some(datetime::interval_text(i)),
            Datum::Uuid(u) => Some(uuid_text(u)),
            Datum::Bytea(b) => Some(bytea_text(b)),
        }
    }

    /// Comparison for ORDER BY and predicates; NULLs compare as `None` (unknown).
    pub fn compare(&self, other: &Datum) -> Option<Ordering> {
        match (self, other) {
            (Datum::Null, _) | (_, Datum::Null) => None,
            (Datum::Numeric(a), b) => Datum::Float(a.parse().ok()?).compare(b),
            (a, Datum::Numeric(b)) => a.compare(&Datum::Float(b.parse().ok()?)),
            (Datum::Int(a), Datum::Int(b)) => Some(a.cmp(b)),
            (Datum::Int(a), Datum::Float(b)) => (*a as f64).partial_cmp(b),
            (Datum::Float(a), Datum::Int(b)) => a.partial_cmp(&(*b as f64)),
            (Datum::Float(a), Datum::Float(b)) => a.partial_cmp(b),
            (Datum::Bool(a), Datum::Bool(b)) => Some(a.cmp(b)),
            (Datum::Text(a), Datum::Text(b)) => Some(a.cmp(b)),
            (Datum::Date(a), Datum::Date(b)) => Some(a.cmp(b)),
            (Datum::Interval(a), Datum::Interval(b)) => Some(a.cmp_value(b)),
            (Datum::Uuid(a), Datum::Uuid(b)) => Some(a.cmp(b)),
            (Datum::Bytea(a), Datum::Bytea(b)) => Some(a.cmp(b)),
            (Datum::Jsonb(a), Datum::Jsonb(b)) => {
                let (a, b) = (json::parse(a, true).ok()?, json::parse(b, true).ok()?);
                Some(json::compare(&a, &b))
            }
            // A timestamp (held as text) against a date: the date is its midnight.
            (Datum::Text(a), Datum::Date(d)) if a.contains(':') => {
                Some(datetime::timestamp_micros(a)?.cmp(&datetime::date_to_timestamp(*d)))
            }
            (Datum::Date(d), Datum::Text(b)) if b.contains(':') => {
                Some(datetime::date_to_timestamp(*d).cmp(&datetime::timestamp_micros(b)?))
            }
            (Datum::Text(a), b) => Datum::Text(a.clone()).coerce_like(b).and_then(|a| a.compare(b)),
            (a, Datum::Text(b)) => Datum::Text(b.clone()).coerce_like(a).and_then(|b| a.compare(&b)),
            _ => None,
        }
    }

    /// A text literal read as the type of `like` (`WHERE id = '3'`).
    fn coerce_like(&self, like: &Datum) -> Option<Datum> {
        let Datum::Text(s) = self else { return Some(self.clone()) };
        match like {
            Datum::Int(_) => s.trim().parse().ok().map(Datum::Int),
            Datum::Float(_) => s.trim().parse().ok().map(Datum::Float),
            Datum::Bool(_) => parse_bool(s).map(Datum::Bool),
            Datum::Date(_) => datetime::date_in(s).ok().map(Datum::Date),
            Datum::Interval(_) => datetime::interval_in(s).ok().map(Datum::Interval),
            Datum::Uuid(_) => uuid_in(s).ok().map(Datum::Uuid),
            Datum::Bytea(_) => bytea_in(s).ok().map(Datum::Bytea),
            Datum::Jsonb(_) => json::jsonb_in(s).ok().map(Datum::Jsonb),
            _ => Some(self.clone()),
        }
    }
}

/// A time as `timestamptz` prints it with TimeZone UTC: `2026-11-28 11:30:00.123456+00`
/// (microseconds, trailing zeros of the fraction dropped, as PostgreSQL does).
pub fn timestamptz_text(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let micros = d.subsec_micros();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = datetime::civil_from_days(days);
    let mut out =
        format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", year, month, day, rem / 3600, rem % 3600 / 60, rem % 60);
    if micros > 0 {
        let frac = format!("{micros:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str("+00");
    out
}

/// PostgreSQL's boolean input: `t`, `true`, `yes`, `on`, `1` and their opposites, any case,
/// any unique prefix of the words.
pub fn parse_bool(s: &str) -> Option<bool> {
    let l = s.trim().to_ascii_lowercase();
    if l.is_empty() {
        return None;
    }
    let is_prefix = |w: &str| w.starts_with(l.as_str());
    if l == "1" || is_prefix("true") || is_prefix("yes") || l == "on" {
        Some(true)
    } else if l == "0" || is_prefix("false") || is_prefix("no") || l == "off" || l == "of" {
        Some(false)
    } else {
        None
    }
}

/// `float8out`: the shortest text that reads back as the same value (PostgreSQL 12+), with
/// `Infinity` / `NaN` spelled PostgreSQL's way.
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let s = format!("{f}");
    // Rust prints 1e21 as "1000000000000000000000"; PostgreSQL switches to exponent form at 1e15.
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e15).contains(&abs) {
        let e = format!("{f:e}");
        let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{}e{}{:02}", m, if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    s
}

/// `numeric_send`: a decimal text (`-12.340`, `NaN`) in PostgreSQL's binary form — the number of
/// base-10000 digits, the weight of the first (its power of 10000), the sign (0x4000 negative,
/// 0xC000 NaN), the display scale (digits after the point, so `12.340` keeps its zero), then the
/// digits with leading and trailing zero groups left out. `None` for text that is not a plain
/// decimal (the executor keeps numerics in that form, so this does not happen in practice).
pub fn numeric_send(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("nan") {
        return Some([0u16, 0, 0xC000, 0].iter().flat_map(|w| w.to_be_bytes()).collect());
    }
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = u16::try_from(frac.len()).ok()?;
    // Align both sides of the point on groups of four digits.
    let mut digits_text = "0".repeat((4 - int.len() % 4) % 4);
    digits_text.push_str(int);
    let int_groups = digits_text.len() / 4;
    digits_text.push_str(frac);
    digits_text.push_str(&"0".repeat((4 - frac.len() % 4) % 4));
    let mut groups: Vec<u16> =
        digits_text.as_bytes().chunks(4).map(|c| c.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))).collect();
    let mut weight = int_groups as i64 - 1;
    let leading = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign: u16 = if negative && !groups.is_empty() { 0x4000 } else { 0 };
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&u16::try_from(groups.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&i16::try_from(weight).ok()?.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
    groups.iter().for_each(|g| out.extend_from_slice(&g.to_be_bytes()));
    Some(out)
}

/// `numeric_recv`: PostgreSQL's binary numeric back to decimal text, with exactly the display
/// scale's digits after the point. `None` when the bytes are not a valid numeric (a digit of
/// 10000 or more, a length that does not match, an unknown sign).
pub fn numeric_recv(b: &[u8]) -> Option<String> {
    let word = |i: usize| b.get(2 * i..2 * i + 2).map(|w| u16::from_be_bytes([w[0], w[1]]));
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i64;
    let sign = word(2)?;
    let scale = word(3)? as usize;
    if b.len() != 8 + 2 * ndigits {
        return None;
    }
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        0 | 0x4000 => {}
        _ => return None,
    }
    let digits: Vec<u16> = (0..ndigits).map(|i| word(4 + i)).collect::<Option<_>>()?;
    if digits.iter().any(|&d| d >= 10_000) || scale > 0x3FFF {
        return None;
    }
    let group = |i: i64| if (0..ndigits as i64).contains(&i) { digits[i as usize] } else { 0 };
    let mut out = String::new();
    if sign == 0x4000 && digits.iter().any(|&d| d != 0) {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        out.push_str(&group(0).to_string());
        for i in 1..=weight {
            out.push_str(&format!("{:04}", group(i)));
        }
    }
    if scale > 0 {
        let mut frac = String::with_capacity(scale + 4);
        let mut i = weight + 1;
        while frac.len() < scale {
            frac.push_str(&format!("{:04}", group(i)));
            i += 1;
        }
        frac.truncate(scale);
        out.push('.');
        out.push_str(&frac);
    }
    Some(out)
}

/// `numeric_in`: a decimal as PostgreSQL reads it (`  +007.50`, `.5`, `1.2e3`, `NaN`,
/// `Infinity`) in the canonical text it prints (`7.50`, `0.5`, `1200`, `NaN`, `Infinity`): no
/// leading zeros, the digits written after the point kept (less the exponent), no minus on zero.
/// `None` for text that is not a number.
pub fn numeric_in(text: &str) -> Option<String> {
    let t = text.trim();
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if body.eq_ignore_ascii_case("nan") {
        return (t.len() == 3).then(|| "NaN".to_string());
    }
    if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
        return Some(if negative { "-Infinity" } else { "Infinity" }.into());
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // PostgreSQL limits the exponent so the result stays within numeric's range.
    if exponent.abs() > 1000 {
        return None;
    }
    // All digits, and where the point falls among them once the exponent has moved it.
    let digits: String = int.chars().chain(frac.chars()).collect();
    let point = int.len() as i64 + exponent;
    let scale = (frac.len() as i64 - exponent).max(0) as usize;
    let (int_part, frac_part) = if point <= 0 {
        (String::new(), format!("{}{digits}", "0".repeat((-point) as usize)))
    } else if point as usize >= digits.len() {
        (format!("{digits}{}", "0".repeat(point as usize - digits.len())), String::new())
    } else {
        (digits[..point as usize].to_string(), digits[point as usize..].to_string())
    };
    let int_part = int_part.trim_start_matches('0');
    let mut frac_part = frac_part;
    frac_part.truncate(scale);
    while frac_part.len() < scale {
        frac_part.push('0');
    }
    let zero = int_part.is_empty() && frac_part.bytes().all(|b| b == b'0');
    let mut out = String::new();
    if negative && !zero {
        out.push('-');
    }
    out.push_str(if int_part.is_empty() { "0" } else { int_part });
    if scale > 0 {
        out.push('.');
        out.push_str(&frac_part);
    }
    Some(out)
}

/// `timestamptz_send`: the text [`timestamptz_text`] writes (`2026-11-28 11:30:00.12+00`), as
/// microseconds since 2000-01-01 UTC. `None` for any other shape.
pub fn timestamptz_send(text: &str) -> Option<i64> {
    // The zone must be there: the same parse as a timestamp's once it is taken off.
    datetime::timestamp_micros(text.strip_suffix("+00")?)
}

/// `tidsend`: `(block,offset)` as a 4-byte block number and a 2-byte offset.
pub fn tid_send(text: &str) -> Option<Vec<u8>> {
    let (block, offset) = text.strip_prefix('(')?.strip_suffix(')')?.split_once(',')?;
    let mut out = block.trim().parse::<u32>().ok()?.to_be_bytes().to_vec();
    out.extend_from_slice(&offset.trim().parse::<u16>().ok()?.to_be_bytes());
    Some(out)
}

/// `pg_lsn_send`: `X/Y` (two hex words) as one 64-bit number.
pub fn pg_lsn_send(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from(u32::from_str_radix(hi, 16).ok()?) << 32) | u64::from(u32::from_str_radix(lo, 16).ok()?))
}

/// `uuid_in`: 32 hex digits, either case, optionally in braces, with a `-` allowed after any
/// group of four digits (so the canonical 8-4-4-4-12 form and the bare one both read).
pub fn uuid_in(text: &str) -> Result<[u8; 16], InputError> {
    let bad = || InputError::new("22P02", format!("invalid input syntax for type uuid: \"{text}\""));
    let b = text.as_bytes();
    let (mut p, braces) = if b.first() == Some(&b'{') { (1, true) } else { (0, false) };
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        let hex = b.get(p..p + 2).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).ok_or_else(bad)?;
        *byte = u8::from_str_radix(std::str::from_utf8(hex).map_err(|_| bad())?, 16).map_err(|_| bad())?;
        p += 2;
        if b.get(p) == Some(&b'-') && i % 2 == 1 && i < 15 {
            p += 1;
        }
    }
    if braces {
        if b.get(p) != Some(&b'}') {
            return Err(bad());
        }
        p += 1;
    }
    if p != b.len() {
        return Err(bad());
    }
    Ok(out)
}

/// `uuid_out`: lower-case 8-4-4-4-12.
pub fn uuid_text(u: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `byteain`: `\x` then hex digits (pairs, whitespace allowed between them; 22023 for an odd
/// count or a non-hex character), or the escape format (bytes as they are, `\\` for a
/// backslash, `\ooo` for any byte in octal; 22P02 for another backslash).
pub fn bytea_in(text: &str) -> Result<Vec<u8>, InputError> {
    let b = text.as_bytes();
    if let Some(hex) = text.strip_prefix("\\x").map(str::as_bytes) {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let digit = |c: u8, at: usize| -> Result<u8, InputError> {
            (c as char).to_digit(16).map(|d| d as u8).ok_or_else(|| {
                let ch = text[2 + at..].chars().next().unwrap_or(c as char);
                InputError::new("22023", format!("invalid hexadecimal digit: \"{ch}\""))
            })
        };
        let mut i = 0;
        while i < hex.len() {
            if hex[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let hi = digit(hex[i], i)?;
            let Some(&lo) = hex.get(i + 1) else {
                return Err(InputError::new("22023", "invalid hexadecimal data: odd number of digits"));
            };
            out.push(hi << 4 | digit(lo, i + 1)?);
            i += 2;
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if let Some(o) = b
            .get(i + 1..i + 4)
            .filter(|o| (b'0'..=b'3').contains(&o[0]) && o[1..].iter().all(|c| (b'0'..=b'7').contains(c)))
        {
            out.push((o[0] - b'0') << 6 | (o[1] - b'0') << 3 | (o[2] - b'0'));
            i += 4;
        } else {
            return Err(InputError::new("22P02", "invalid input syntax for type bytea"));
        }
    }
    Ok(out)
}

/// `byteaout` with `bytea_output = hex`: `\xdeadbeef`.
pub fn bytea_text(b: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * b.len());
    out.push_str("\\x");
    for x in b {
        out.push_str(&format!("{x:02x}"));
    }
    out
}

/// A value of a type added with `date` (date, interval, uuid, bytea, jsonb, json) in PostgreSQL's
/// binary send format: date i32 days since 2000-01-01; interval i64 microseconds, i32 days, i32
/// months; uuid its 16 bytes; bytea the bytes; jsonb a version byte 1 and the text; json the text.
/// `None` for other types.
pub fn binary_send(d: &Datum, ty: SqlType) -> Option<Result<Vec<u8>, InputError>> {
    let text = || d.to_text().unwrap_or_default();
    let r = match ty {
        SqlType::Date => match d {
            Datum::Date(n) => Ok(n.to_be_bytes().to_vec()),
            _ => datetime::date_in(&text()).map(|n| n.to_be_bytes().to_vec()),
        },
        SqlType::Interval => {
            let iv = match d {
                Datum::Interval(iv) => Ok(*iv),
                _ => datetime::interval_in(&text()),
            };
            iv.map(|iv| {
                let mut out = iv.micros.to_be_bytes().to_vec();
                out.extend_from_slice(&iv.days.to_be_bytes());
                out.extend_from_slice(&iv.months.to_be_bytes());
                out
            })
        }
        SqlType::Uuid => match d {
            Datum::Uuid(u) => Ok(u.to_vec()),
            _ => uuid_in(&text()).map(|u| u.to_vec()),
        },
        SqlType::Bytea => match d {
            Datum::Bytea(b) => Ok(b.clone()),
            _ => bytea_in(&text()),
        },
        SqlType::Jsonb => {
            let mut out = vec![1u8];
            out.extend_from_slice(text().as_bytes());
            Ok(out)
        }
        SqlType::Json => Ok(text().into_bytes()),
        _ => return None,
    };
    Some(r)
}

/// A binary Bind parameter of those types (by type OID), `None` for other OIDs.
pub fn binary_recv(oid: u32, v: &[u8]) -> Option<Result<Datum, InputError>> {
    let bad = || InputError::new("22P03", "incorrect binary data format");
    let r = match oid {
        1082 => <[u8; 4]>::try_from(v).map(|b| Datum::Date(i32::from_be_bytes(b))).map_err(|_| bad()),
        1186 if v.len() == 16 => Ok(Datum::Interval(Interval {
            micros: i64::from_be_bytes(v[..8].try_into().expect("8 bytes")),
            days: i32::from_be_bytes(v[8..12].try_into().expect("4 bytes")),
            months: i32::from_be_bytes(v[12..].try_into().expect("4 bytes")),
        })),
        1186 => Err(bad()),
        2950 => <[u8; 16]>::try_from(v).map(Datum::Uuid).map_err(|_| bad()),
        17 => Ok(Datum::Bytea(v.to_vec())),
        3802 => match v.split_first() {
            Some((1, rest)) => {
                std::str::from_utf8(rest).map_err(|_| bad()).and_then(|s| json::jsonb_in(s).map(Datum::Jsonb))
            }
            // PostgreSQL reports this with elog, hence the internal-error SQLSTATE.
            Some((version, _)) => Err(InputError::new("XX000", format!("unsupported jsonb version number {version}"))),
            None => Err(bad()),
        },
        114 => std::str::from_utf8(v).map_err(|_| bad()).and_then(|s| json::json_in(s).map(Datum::Json)),
        _ => return None,
    };
    Some(r)
}

/// A text Bind parameter of those types, read by the type's input function.
pub fn text_input(oid: u32, s: &str) -> Option<Result<Datum, InputError>> {
    let r = match oid {
        1082 => datetime::date_in(s).map(Datum::Date),
        1186 => datetime::interval_in(s).map(Datum::Interval),
        2950 => uuid_in(s).map(Datum::Uuid),
        17 => bytea_in(s).map(Datum::Bytea),
        3802 => json::jsonb_in(s).map(Datum::Jsonb),
        114 => json::json_in(s).map(Datum::Json),
        _ => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_match_postgres() {
        assert_eq!(Datum::Bool(true).to_text().unwrap(), "t");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(float_text(1e20), "1e+20");
        assert_eq!(float_text(1.5e-7), "1.5e-07");
        assert_eq!(float_text(100.0), "100");
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("of"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_764_329_400_120_000);
        assert_eq!(timestamptz_text(t), "2025-11-28 11:30:00.12+00");
    }

    #[test]
    fn numeric_binary_round_trips_like_postgres() {
        // Bytes as PostgreSQL 15's numeric_send writes them.
        let words = |w: &[u16]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        assert_eq!(numeric_send("12.340").unwrap(), words(&[2, 0, 0, 3, 12, 3400]));
        assert_eq!(numeric_send("-0.0012").unwrap(), words(&[1, 0xFFFF, 0x4000, 4, 12]));
        assert_eq!(numeric_send("10000").unwrap(), words(&[1, 1, 0, 0, 1]));
        assert_eq!(numeric_send("0").unwrap(), words(&[0, 0, 0, 0]));
        assert_eq!(numeric_send("0.00").unwrap(), words(&[0, 0, 0, 2]));
        assert_eq!(numeric_send("NaN").unwrap(), words(&[0, 0, 0xC000, 0]));
        assert_eq!(numeric_send("1e5"), None);
        for s in ["12.340", "-0.0012", "10000", "0", "0.00", "-123.4500", "123456789.000000001", "NaN", "0.5"] {
            assert_eq!(numeric_recv(&numeric_send(s).unwrap()).unwrap(), s);
        }
        assert_eq!(numeric_recv(&words(&[1, 0, 0, 0, 10_000])), None);
        assert_eq!(numeric_recv(&words(&[2, 0, 0, 0, 1])), None);
    }

    #[test]
    fn numeric_input_is_canonical() {
        for (input, out) in [
            ("  +007.50 ", "7.50"),
            (".5", "0.5"),
            ("1.2e3", "1200"),
            ("1.25e1", "12.5"),
            ("5e-3", "0.005"),
            ("-0.00", "0.00"),
            ("nan", "NaN"),
            ("-inf", "-Infinity"),
            ("10.125", "10.125"),
            ("0", "0"),
        ] {
            assert_eq!(numeric_in(input).as_deref(), Some(out), "{input}");
        }
        for bad in ["", ".", "1.2.3", "abc", "1e", "--1", "1e99999"] {
            assert_eq!(numeric_in(bad), None, "{bad}");
        }
    }

    #[test]
    fn binary_times_tids_and_lsns() {
        assert_eq!(timestamptz_send("2000-01-01 00:00:00+00"), Some(0));
        assert_eq!(timestamptz_send("2000-01-01 00:00:01.5+00"), Some(1_500_000));
        assert_eq!(timestamptz_send("1999-12-31 23:59:59+00"), Some(-1_000_000));
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_764_329_400_120_000);
        assert_eq!(timestamptz_send(&timestamptz_text(t)), Some(1_764_329_400_120_000 - 946_684_800_000_000));
        assert_eq!(tid_send("(1,2)").unwrap(), vec![0, 0, 0, 1, 0, 2]);
        assert_eq!(pg_lsn_send("1/2A"), Some((1 << 32) | 0x2A));
    }

    #[test]
    fn uuids_and_byteas_read_and_print_like_postgres() {
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for input in [
            canonical,
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
            "a0eebc99-9c0b4ef8-bb6d-6bb9bd380a11",
        ] {
            assert_eq!(uuid_text(&uuid_in(input).unwrap()), canonical, "{input}");
        }
        for bad in [
            "x",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            " a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0e-ebc999c0b4ef8bb6d6bb9bd380a11",
        ] {
            let e = uuid_in(bad).unwrap_err();
            assert_eq!((e.code, e.message), ("22P02", format!("invalid input syntax for type uuid: \"{bad}\"")));
        }
        assert_eq!(bytea_text(&bytea_in("\\xDEADbeef").unwrap()), "\\xdeadbeef");
        assert_eq!(bytea_text(&bytea_in("abc").unwrap()), "\\x616263");
        assert_eq!(bytea_text(&bytea_in("\\x").unwrap()), "\\x");
        assert_eq!(bytea_text(&bytea_in("a\\\\b\\001").unwrap()), "\\x615c6201");
        assert_eq!(bytea_text(&bytea_in("\\x de ad").unwrap()), "\\xdead");
        assert_eq!(bytea_in("\\xabc").unwrap_err().message, "invalid hexadecimal data: odd number of digits");
        assert_eq!(bytea_in("\\xzz").unwrap_err().message, "invalid hexadecimal digit: \"z\"");
        assert_eq!(bytea_in("a\\9").unwrap_err().code, "22P02");
        assert_eq!(Datum::Bytea(vec![0xde]).compare(&Datum::Bytea(vec![0xde, 0xff])), Some(Ordering::Less));
        assert_eq!(
            Datum::Jsonb("{\"a\": 1.0}".into()).compare(&Datum::Jsonb("{\"a\": 1}".into())),
            Some(Ordering::Equal)
        );
    }
}
