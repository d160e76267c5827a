//! The executor's side of `date`, `interval`, `uuid`, `bytea`, `json` and `jsonb` (their input
//! and output live in `sql::types`): casts, date and time arithmetic, `->` / `->>`, and the
//! functions over them (`extract`, `date_part`, `date_trunc`, `age`, `gen_random_uuid`,
//! `jsonb_build_object`, `to_jsonb`, `pg_typeof`, ...).
//!
//! `timestamp` and `timestamptz` values are text in terrarium (`2024-01-02 10:30:00`, with `+00`
//! for timestamptz, always UTC); arithmetic reads them into microseconds since 2000-01-01 and
//! writes the result back in the same form. A text value is only taken for a timestamp when the
//! expression's type says it is one, which is why the arithmetic here is handed the operands'
//! static types.

use std::time::SystemTime;

use sqlparser::ast::BinaryOperator;

use super::{ExecError, SqlError, R};
use crate::sql::types::datetime::{self, Interval};
use crate::sql::types::json::{self, Kind, Node, Selector};
use crate::sql::types::{numeric_in, InputError};
use crate::sql::types::{Datum, SqlType};

impl From<InputError> for ExecError {
    fn from(e: InputError) -> ExecError {
        let mut s = SqlError::new(e.code, e.message);
        s.detail = e.detail;
        s.hint = e.hint;
        ExecError::Sql(s)
    }
}

fn err(code: &'static str, message: impl Into<String>) -> ExecError {
    ExecError::Sql(SqlError::new(code, message))
}

/// Today's date in UTC (terrarium's only time zone) at `now`.
fn today(now: SystemTime) -> i32 {
    let secs = match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    (secs.div_euclid(86_400) - 10_957) as i32
}

fn timestamp_text(ty: SqlType, us: i64) -> Datum {
    let t = datetime::timestamp_text(us);
    Datum::Text(if ty == SqlType::Timestamptz { format!("{t}+00") } else { t })
}

/// Conversions to and between the types of this module, `None` when the executor's general
/// rules apply (to text, and the errors for casts that do not exist).
pub(super) fn coerce(v: &Datum, ty: SqlType) -> Option<R<Datum>> {
    let r = match (ty, v) {
        (_, Datum::Null) => return None,
        (SqlType::Date, Datum::Date(_))
        | (SqlType::Interval, Datum::Interval(_))
        | (SqlType::Uuid, Datum::Uuid(_))
        | (SqlType::Bytea, Datum::Bytea(_))
        | (SqlType::Jsonb, Datum::Jsonb(_))
        | (SqlType::Json, Datum::Json(_)) => Ok(v.clone()),
        (SqlType::Date, Datum::Text(s)) => datetime::date_in(s).map(Datum::Date).map_err(Into::into),
        (SqlType::Interval, Datum::Text(s)) => datetime::interval_in(s).map(Datum::Interval).map_err(Into::into),
        (SqlType::Uuid, Datum::Text(s)) => crate::sql::types::uuid_in(s).map(Datum::Uuid).map_err(Into::into),
        (SqlType::Bytea, Datum::Text(s)) => crate::sql::types::bytea_in(s).map(Datum::Bytea).map_err(Into::into),
        (SqlType::Jsonb, Datum::Text(s) | Datum::Json(s)) => json::jsonb_in(s).map(Datum::Jsonb).map_err(Into::into),
        (SqlType::Json, Datum::Text(s)) => json::json_in(s).map(Datum::Json).map_err(Into::into),
        (SqlType::Json, Datum::Jsonb(s)) => Ok(Datum::Json(s.clone())),
        (SqlType::Timestamp, Datum::Date(d)) => Ok(timestamp_text(ty, datetime::date_to_timestamp(*d))),
        (SqlType::Timestamptz, Datum::Date(d)) => Ok(timestamp_text(ty, datetime::date_to_timestamp(*d))),
        (SqlType::Timestamptz, Datum::Text(s)) => timestamptz_in(s),
        _ => return None,
    };
    Some(r)
}

/// `timestamptz` input: a timestamp with an optional zone (`Z`, `UTC`, `+02`, `-05:30`), held
/// as the UTC time it names.
fn timestamptz_in(s: &str) -> R<Datum> {
    let trimmed = s.trim();
    let upper = trimmed.to_ascii_uppercase();
    let zoneless = match upper.strip_suffix("UTC").or_else(|| upper.strip_suffix("GMT")) {
        Some(rest) => &trimmed[..rest.len()],
        None => trimmed,
    };
    let clock = super::bulk::timestamp_in(zoneless).map_err(|mut e| {
        if let ExecError::Sql(x) = &mut e {
            if x.code != "22007" {
                x.message = x.message.replace(zoneless, s);
                return e;
            }
            x.message = format!("invalid input syntax for type timestamp with time zone: \"{s}\"");
        }
        e
    })?;
    let bad = || err("22007", format!("invalid input syntax for type timestamp with time zone: \"{s}\""));
    let mut us = datetime::timestamp_micros(&clock).ok_or_else(bad)?;
    // A zone is a sign after the time of day (the date's own dashes come before its first ':').
    let t = zoneless.trim();
    if let Some(colon) = t.find(':') {
        if let Some(at) = t[colon..].rfind(['+', '-']).map(|i| colon + i) {
            let zone = &t[at + 1..];
            let (h, m) = match zone.split_once(':') {
                Some((h, m)) => (h, m),
                None if zone.len() == 4 => zone.split_at(2),
                None => (zone, "0"),
            };
            let (h, m): (i64, i64) = (h.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?);
            let offset = (h * 60 + m) * 60_000_000;
            us -= if &t[at..=at] == "-" { -offset } else { offset };
        }
    }
    Ok(timestamp_text(SqlType::Timestamptz, us))
}

/// A quoted literal compared with a value of one of this module's types takes that type, as
/// PostgreSQL resolves `unknown` (so `d = 'x'` is 22007 for a date, not a silent mismatch).
pub(super) fn adopt_literal(value: Datum, other: &Datum) -> R<Datum> {
    let ty = match other {
        Datum::Date(_) => SqlType::Date,
        Datum::Interval(_) => SqlType::Interval,
        Datum::Uuid(_) => SqlType::Uuid,
        Datum::Bytea(_) => SqlType::Bytea,
        Datum::Jsonb(_) => SqlType::Jsonb,
        _ => return Ok(value),
    };
    coerce(&value, ty).unwrap_or(Ok(value))
}

fn is_timestamp(t: SqlType) -> bool {
    matches!(t, SqlType::Timestamp | SqlType::Timestamptz)
}

/// The result type of `l op r` when it involves this module's types (or timestamps).
pub(super) fn binary_type(op: &BinaryOperator, l: SqlType, r: SqlType) -> Option<SqlType> {
    use BinaryOperator::*;
    use SqlType::*;
    Some(match (op, l, r) {
        (Arrow, Jsonb, _) => Jsonb,
        (Arrow, Json, _) => Json,
        (LongArrow, Jsonb | Json, _) => Text,
        (Plus | Minus, Date, t) if t.is_integer() => Date,
        (Plus, t, Date) if t.is_integer() => Date,
        (Minus, Date, Date) => Int4,
        (Plus | Minus, Date, Interval) | (Plus, Interval, Date) => Timestamp,
        (Plus | Minus, t, Interval) if is_timestamp(t) => t,
        (Plus, Interval, t) if is_timestamp(t) => t,
        (Minus, a, b) if is_timestamp(a) && is_timestamp(b) => Interval,
        (Plus | Minus, Interval, Interval) => Interval,
        (Multiply | Divide, Interval, _) | (Multiply, _, Interval) => Interval,
        _ => return None,
    })
}

/// Date and time arithmetic. `lt` / `rt` give the operands' static types (asked only when a
/// text operand might be a timestamp). `None`: not a case of this module.
pub(super) fn arith(
    op: &BinaryOperator,
    l: &Datum,
    r: &Datum,
    lt: impl FnOnce() -> SqlType,
    rt: impl FnOnce() -> SqlType,
) -> Option<R<Datum>> {
    use BinaryOperator::*;
    if !matches!(op, Plus | Minus | Multiply | Divide) {
        return None;
    }
    let date_range = || err("22008", "date out of range");
    let ts_range = || err("22008", "timestamp out of range");
    let iv_range = || err("22008", "interval out of range");
    let timestamp = |d: &Datum, ty: SqlType| match d {
        Datum::Text(s) if is_timestamp(ty) => datetime::timestamp_micros(s),
        _ => None,
    };
    let factor = |d: &Datum| match d {
        Datum::Int(n) => Some(*n as f64),
        Datum::Float(f) => Some(*f),
        Datum::Numeric(s) => s.parse().ok(),
        _ => None,
    };
    let r = match (op, l, r) {
        (Plus | Minus, Datum::Date(d), Datum::Int(n)) | (Plus, Datum::Int(n), Datum::Date(d)) => {
            let n = if *op == Minus { n.checked_neg() } else { Some(*n) };
            let out = n.and_then(|n| i64::from(*d).checked_add(n)).and_then(|x| i32::try_from(x).ok());
            out.map(Datum::Date).ok_or_else(date_range)
        }
        (Minus, Datum::Date(a), Datum::Date(b)) => Ok(Datum::Int(i64::from(*a) - i64::from(*b))),
        (Plus | Minus, Datum::Date(d), Datum::Interval(iv)) | (Plus, Datum::Interval(iv), Datum::Date(d)) => {
            let iv = if *op == Minus { iv.checked_neg() } else { Some(*iv) };
            let us = iv.and_then(|iv| datetime::add_interval(datetime::date_to_timestamp(*d), &iv));
            us.map(|us| timestamp_text(SqlType::Timestamp, us)).ok_or_else(ts_range)
        }
        (Plus | Minus, Datum::Interval(a), Datum::Interval(b)) => {
            let b = if *op == Minus { b.checked_neg() } else { Some(*b) };
            b.and_then(|b| a.checked_add(&b)).map(Datum::Interval).ok_or_else(iv_range)
        }
        (Multiply, Datum::Interval(iv), n) | (Multiply, n, Datum::Interval(iv)) => {
            let f = factor(n)?;
            iv.mul(f).map(Datum::Interval).ok_or_else(iv_range)
        }
        (Divide, Datum::Interval(iv), n) => {
            let f = factor(n)?;
            if f == 0.0 {
                return Some(Err(err("22012", "division by zero")));
            }
            iv.div(f).map(Datum::Interval).ok_or_else(iv_range)
        }
        (Plus | Minus, Datum::Text(_), Datum::Interval(iv)) => {
            let ty = lt();
            let us = timestamp(l, ty)?;
            let iv = if *op == Minus { iv.checked_neg() } else { Some(*iv) };
            iv.and_then(|iv| datetime::add_interval(us, &iv)).map(|us| timestamp_text(ty, us)).ok_or_else(ts_range)
        }
        (Plus, Datum::Interval(iv), Datum::Text(_)) => {
            let ty = rt();
            let us = timestamp(r, ty)?;
            datetime::add_interval(us, iv).map(|us| timestamp_text(ty, us)).ok_or_else(ts_range)
        }
        (Minus, Datum::Text(_), Datum::Text(_)) => {
            let (a, b) = (timestamp(l, lt())?, timestamp(r, rt())?);
            datetime::timestamp_diff(a, b).map(Datum::Interval).ok_or_else(iv_range)
        }
        _ => return None,
    };
    Some(r)
}

/// `-interval`.
pub(super) fn negate(iv: &Interval) -> R<Datum> {
    iv.checked_neg().map(Datum::Interval).ok_or_else(|| err("22008", "interval out of range"))
}

/// `json -> key`, `json ->> key` (and the same for jsonb): a member or element, as json (jsonb)
/// for `->` and as text for `->>` (a string's value, NULL for a JSON null).
pub(super) fn arrow(op: &BinaryOperator, l: &Datum, r: &Datum) -> Option<R<Datum>> {
    let text = matches!(op, BinaryOperator::LongArrow);
    if !text && !matches!(op, BinaryOperator::Arrow) {
        return None;
    }
    let (src, jsonb) = match l {
        Datum::Jsonb(s) => (s, true),
        Datum::Json(s) => (s, false),
        _ => return None,
    };
    let key = match r {
        Datum::Int(n) => Selector::Index(*n),
        d => Selector::Key(d.to_text().unwrap_or_default()),
    };
    let root = match json::parse(src, jsonb) {
        Ok(n) => n,
        Err(e) => return Some(Err(e.into())),
    };
    let found = if jsonb { json::get_jsonb(&root, &key) } else { json::get(&root, &key) };
    let Some(found) = found else { return Some(Ok(Datum::Null)) };
    let written = || if jsonb { json::to_text(found) } else { src[found.span.0..found.span.1].to_string() };
    Some(Ok(match (&found.kind, text) {
        (Kind::Null, true) => Datum::Null,
        (Kind::String(s), true) => Datum::Text(s.clone()),
        (_, true) => Datum::Text(written()),
        (_, false) if jsonb => Datum::Jsonb(written()),
        (_, false) => Datum::Json(written()),
    }))
}

/// A value as JSON (`to_jsonb`, `jsonb_build_object`): numbers stay numbers, timestamps are
/// written the ISO 8601 way JSON uses (`2024-01-02T10:00:00`, `…+00:00`), other values as their
/// text in a string; json and jsonb values are embedded.
fn to_node(d: &Datum, ty: SqlType) -> R<Node> {
    let string = |s: String| Node::new(Kind::String(s));
    Ok(match d {
        Datum::Null => Node::new(Kind::Null),
        Datum::Bool(b) => Node::new(Kind::Bool(*b)),
        Datum::Int(n) => Node::new(Kind::Number(n.to_string())),
        Datum::Float(f) if f.is_finite() => {
            Node::new(Kind::Number(numeric_in(&crate::sql::types::float_text(*f)).unwrap_or_else(|| f.to_string())))
        }
        Datum::Numeric(s) if numeric_in(s).is_some_and(|n| !n.ends_with("Infinity") && n != "NaN") => {
            Node::new(Kind::Number(s.clone()))
        }
        Datum::Jsonb(s) | Datum::Json(s) => json::normalize(json::parse(s, false)?),
        Datum::Text(s) if ty == SqlType::Timestamp => string(s.replacen(' ', "T", 1)),
        Datum::Text(s) if ty == SqlType::Timestamptz => string(format!("{}:00", s.replacen(' ', "T", 1))),
        d => string(d.to_text().unwrap_or_default()),
    })
}

/// The json (not jsonb) text of a value: json's own text kept, the rest as jsonb writes it.
fn json_text(d: &Datum, ty: SqlType) -> R<String> {
    Ok(match d {
        Datum::Json(s) => s.clone(),
        d => json::to_text(&to_node(d, ty)?),
    })
}

fn unit_error(unit: &str, ty: SqlType, recognised: bool) -> ExecError {
    if recognised {
        err("0A000", format!("unit \"{unit}\" not supported for type {}", ty.name()))
    } else {
        err("22023", format!("unit \"{unit}\" not recognized for type {}", ty.name()))
    }
}

const UNITS: &[&str] = &[
    "microseconds",
    "milliseconds",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "decade",
    "century",
    "millennium",
    "epoch",
    "dow",
    "isodow",
    "doy",
    "isoyear",
    "julian",
    "timezone",
    "timezone_hour",
    "timezone_minute",
];

/// `extract(unit from v)`: numeric text. `ty` is the value's static type.
pub(super) fn extract(unit: &str, v: &Datum, ty: SqlType) -> R<Datum> {
    let canonical = datetime::canonical_unit(unit);
    let known = UNITS.contains(&canonical.as_str());
    let shown = unit.to_ascii_lowercase();
    let out = match v {
        Datum::Null => return Ok(Datum::Null),
        Datum::Date(d) => datetime::extract_timestamp(&canonical, datetime::date_to_timestamp(*d), true)
            .ok_or_else(|| unit_error(&shown, SqlType::Date, known))?,
        Datum::Interval(iv) => iv.extract(&canonical).ok_or_else(|| unit_error(&shown, SqlType::Interval, known))?,
        Datum::Text(s) if is_timestamp(ty) => {
            let us = datetime::timestamp_micros(s)
                .ok_or_else(|| err("22007", format!("invalid input syntax for type {}: \"{s}\"", ty.name())))?;
            match (canonical.as_str(), ty) {
                ("timezone" | "timezone_hour" | "timezone_minute", SqlType::Timestamptz) => "0".to_string(),
                _ => datetime::extract_timestamp(&canonical, us, false).ok_or_else(|| unit_error(&shown, ty, known))?,
            }
        }
        d => {
            return Err(SqlError::new(
                "42883",
                format!("function extract(unknown, {}) does not exist", super::type_of(d)),
            )
            .hint("No function matches the given name and argument types. You might need to add explicit type casts.")
            .into())
        }
    };
    Ok(Datum::Numeric(out))
}

/// `date_trunc(unit, v)`: timestamps keep their type, a date becomes a timestamptz (as in
/// PostgreSQL, which casts it), an interval stays one.
pub(super) fn date_trunc(unit: &Datum, v: &Datum, ty: SqlType) -> R<Datum> {
    let (Some(unit), false) = (unit.to_text(), v.is_null()) else { return Ok(Datum::Null) };
    let canonical = datetime::canonical_unit(&unit);
    let shown = unit.to_ascii_lowercase();
    let known = UNITS.contains(&canonical.as_str());
    match v {
        Datum::Interval(iv) => {
            iv.trunc(&canonical).map(Datum::Interval).ok_or_else(|| unit_error(&shown, SqlType::Interval, known))
        }
        Datum::Date(d) => datetime::trunc_timestamp(&canonical, datetime::date_to_timestamp(*d))
            .map(|us| timestamp_text(SqlType::Timestamptz, us))
            .ok_or_else(|| unit_error(&shown, SqlType::Timestamptz, known)),
        Datum::Text(s) if is_timestamp(ty) => {
            let us = datetime::timestamp_micros(s).ok_or_else(|| err("22007", "invalid timestamp"))?;
            datetime::trunc_timestamp(&canonical, us)
                .map(|us| timestamp_text(ty, us))
                .ok_or_else(|| unit_error(&shown, ty, known))
        }
        d => Err(SqlError::new("42883", format!("function date_trunc(unknown, {}) does not exist", super::type_of(d)))
            .hint("No function matches the given name and argument types. You might need to add explicit type casts.")
            .into()),
    }
}

/// The static type of `date_trunc(unit, x)` given x's.
pub(super) fn date_trunc_type(arg: SqlType) -> SqlType {
    match arg {
        SqlType::Timestamp => SqlType::Timestamp,
        SqlType::Interval => SqlType::Interval,
        _ => SqlType::Timestamptz,
    }
}

/// The static types of this module's functions (those whose type does not depend on their
/// arguments).
pub(super) fn function_type(name: &str) -> Option<SqlType> {
    Some(match name {
        "current_date" => SqlType::Date,
        "gen_random_uuid" => SqlType::Uuid,
        "date_part" => SqlType::Float8,
        "to_char" => SqlType::Text,
        "age" => SqlType::Interval,
        "jsonb_build_object" | "to_jsonb" | "jsonb_build_array" => SqlType::Jsonb,
        "json_build_object" | "to_json" | "json_build_array" => SqlType::Json,
        "octet_length" | "jsonb_array_length" | "json_array_length" => SqlType::Int4,
        "jsonb_typeof" | "json_typeof" | "pg_typeof" => SqlType::Text,
        _ => return None,
    })
}

/// Whether PostgreSQL marks the function STABLE rather than IMMUTABLE (so never folds it as a
/// constant while planning).
pub(super) fn is_stable(name: &str) -> bool {
    matches!(
        name,
        "jsonb_build_object" | "json_build_object" | "jsonb_build_array" | "json_build_array" | "to_jsonb" | "to_json"
    )
}

/// The functions of this module; `ty(i)` is the static type of argument `i`, `literal(i)`
/// whether it is an untyped quoted literal. `None`: not one of them.
pub(super) fn function(
    name: &str,
    args: &[Datum],
    ty: &dyn Fn(usize) -> SqlType,
    literal: &dyn Fn(usize) -> bool,
    now: SystemTime,
) -> Option<R<Datum>> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Datum::Null);
    let r = match name {
        "current_date" => Ok(Datum::Date(today(now))),
        "gen_random_uuid" => {
            let mut b: [u8; 16] = rand::random();
            // Version 4 (random), variant RFC 4122.
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            Ok(Datum::Uuid(b))
        }
        "pg_typeof" => {
            let t = if literal(0) { "unknown" } else { ty(0).name() };
            Ok(Datum::Text(t.to_string()))
        }
        "octet_length" => Ok(match arg(0) {
            Datum::Null => Datum::Null,
            Datum::Bytea(b) => Datum::Int(b.len() as i64),
            d => Datum::Int(d.to_text().unwrap_or_default().len() as i64),
        }),
        "length" => match arg(0) {
            Datum::Bytea(b) => Ok(Datum::Int(b.len() as i64)),
            _ => return None,
        },
        "date_part" => match (arg(0).to_text(), arg(1)) {
            (None, _) | (_, Datum::Null) => Ok(Datum::Null),
            (Some(unit), v) => extract(&unit, &v, ty(1)).map(|d| match d {
                Datum::Numeric(s) => Datum::Float(s.parse().unwrap_or(f64::NAN)),
                d => d,
            }),
        },
        "date_trunc" => date_trunc(&arg(0), &arg(1), ty(1)),
        // to_char(timestamp | date, format); numbers are not formatted here (0A000).
        "to_char" => match (arg(0), arg(1).to_text()) {
            (Datum::Null, _) | (_, None) => Ok(Datum::Null),
            (Datum::Date(d), Some(fmt)) => Ok(Datum::Text(datetime::to_char(datetime::date_to_timestamp(d), &fmt))),
            (Datum::Text(s), Some(fmt)) if is_timestamp(ty(0)) => match datetime::timestamp_micros(&s) {
                Some(us) => Ok(Datum::Text(datetime::to_char(us, &fmt))),
                None => Err(err("22007", "invalid timestamp")),
            },
            _ => Err(SqlError::new("0A000", "terrarium's to_char formats timestamps and dates only").into()),
        },
        "age" => {
            let micros = |d: &Datum, t: SqlType| match d {
                Datum::Date(d) => Some(datetime::date_to_timestamp(*d)),
                Datum::Text(s) if is_timestamp(t) || literal(0) => datetime::timestamp_micros(s),
                _ => None,
            };
            if args.iter().any(Datum::is_null) {
                return Some(Ok(Datum::Null));
            }
            let (a, b) = match args.len() {
                1 => (Some(datetime::date_to_timestamp(today(now))), micros(&arg(0), ty(0))),
                _ => (micros(&arg(0), ty(0)), micros(&arg(1), ty(1))),
            };
            match (a, b) {
                (Some(a), Some(b)) => Ok(Datum::Interval(datetime::age(a, b))),
                _ => return None,
            }
        }
        "jsonb_build_object" | "json_build_object" => build_object(name, args, ty),
        "jsonb_build_array" | "json_build_array" => {
            let items: R<Vec<Node>> = args.iter().enumerate().map(|(i, d)| to_node(d, ty(i))).collect();
            items.and_then(|items| {
                if name == "jsonb_build_array" {
                    Ok(Datum::Jsonb(json::to_text(&Node::new(Kind::Array(items)))))
                } else {
                    let parts: R<Vec<String>> = args.iter().enumerate().map(|(i, d)| json_text(d, ty(i))).collect();
                    Ok(Datum::Json(format!("[{}]", parts?.join(", "))))
                }
            })
        }
        "to_jsonb" => match arg(0) {
            Datum::Null => Ok(Datum::Null),
            d => to_node(&d, ty(0)).map(|n| Datum::Jsonb(json::to_text(&n))),
        },
        "to_json" => match arg(0) {
            Datum::Null => Ok(Datum::Null),
            d => json_text(&d, ty(0)).map(Datum::Json),
        },
        "jsonb_typeof" | "json_typeof" | "jsonb_array_length" | "json_array_length" => {
            let (Datum::Jsonb(s) | Datum::Json(s)) = arg(0) else {
                return if arg(0).is_null() { Some(Ok(Datum::Null)) } else { None };
            };
            let n = match json::parse(&s, false) {
                Ok(n) => n,
                Err(e) => return Some(Err(e.into())),
            };
            if name.ends_with("typeof") {
                Ok(Datum::Text(
                    match n.kind {
                        Kind::Null => "null",
                        Kind::Bool(_) => "boolean",
                        Kind::Number(_) => "number",
                        Kind::String(_) => "string",
                        Kind::Array(_) => "array",
                        Kind::Object(_) => "object",
                    }
                    .into(),
                ))
            } else {
                match n.kind {
                    Kind::Array(items) => Ok(Datum::Int(items.len() as i64)),
                    Kind::Object(_) => Err(err("22023", "cannot get array length of a non-array")),
                    _ => Err(err("22023", "cannot get array length of a scalar")),
                }
            }
        }
        _ => return None,
    };
    Some(r)
}

/// `jsonb_build_object(k1, v1, ...)` / `json_build_object`: keys as text (NULL refused), values
/// as [`to_node`] makes them.
fn build_object(name: &str, args: &[Datum], ty: &dyn Fn(usize) -> SqlType) -> R<Datum> {
    if args.len() % 2 != 0 {
        return Err(SqlError::new("22023", "argument list must have even number of elements")
            .hint(format!("The arguments of {name}() must consist of alternating keys and values."))
            .into());
    }
    let mut pairs = Vec::with_capacity(args.len() / 2);
    let mut written = Vec::with_capacity(args.len() / 2);
    for (i, kv) in args.chunks(2).enumerate() {
        let Some(key) = kv[0].to_text() else {
            return Err(err("22023", format!("argument {}: key must not be null", 2 * i + 1)));
        };
        if name == "json_build_object" {
            let mut k = String::new();
            json::quote(&key, &mut k);
            written.push(format!("{k} : {}", json_text(&kv[1], ty(2 * i + 1))?));
        } else {
            pairs.push((key, to_node(&kv[1], ty(2 * i + 1))?));
        }
    }
    if name == "json_build_object" {
        return Ok(Datum::Json(format!("{{{}}}", written.join(", "))));
    }
    let n = json::normalize(Node::new(Kind::Object(pairs)));
    Ok(Datum::Jsonb(json::to_text(&n)))
}
