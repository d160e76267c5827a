//! SQL values and types, with PostgreSQL's type OIDs and text output formats.
//!
//! A value travels as [`Datum`]; what a column may hold is its [`SqlType`]. The text form of a
//! value is what PostgreSQL's output functions print (`t`/`f` for booleans, shortest round-trip
//! digits for `double precision`), because that is what `psql` and the drivers show.

use std::cmp::Ordering;

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
    /// A WAL position, `X/Y`.
    PgLsn,
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
            SqlType::PgLsn => 3220,
        }
    }

    /// The type size RowDescription reports (-1 for variable length).
    pub fn size(self) -> i16 {
        match self {
            SqlType::Bool => 1,
            SqlType::Int2 => 2,
            SqlType::Int4 | SqlType::Float4 | SqlType::Xid | SqlType::Void => 4,
            SqlType::Int8 | SqlType::Float8 | SqlType::Timestamptz | SqlType::PgLsn => 8,
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
            SqlType::PgLsn => "pg_lsn",
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
            Datum::Numeric(s) | Datum::Text(s) => Some(s.clone()),
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
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
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
}
