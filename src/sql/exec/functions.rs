//! The everyday string and math functions, `random()`, and `current_setting()` / `set_config()`,
//! with PostgreSQL's result types and error texts.
//!
//! ```text
//!   eval(Expr::Function) ─▶ special forms (now, pg_sleep, ...) ─▶ catalog ─▶ typed ─▶ here ─▶ 42883
//!   static_type(Expr::Function) ─▶ ... ─▶ result_type() here
//! ```
//!
//! Numeric arguments arrive as `Datum::Int` (integer types), `Datum::Numeric` (decimal text) or
//! `Datum::Float` (real, double precision). PostgreSQL picks a function by its argument types:
//! `round(2.567, 2)` is numeric and exact, `sqrt(16)` is double precision. The same choice is made
//! here from the arguments' static types, and numeric results are computed on the decimal text
//! (through `parse_decimal` / `decimal_text`) so that they print as PostgreSQL's do.

use super::{decimal_text, parse_decimal, Datum, ExecError, SqlError, SqlType, R};

/// A function of this module applied to its evaluated arguments; `None` when `name` is not one.
/// `types` are the arguments' static types.
pub(super) fn call(name: &str, args: &[Datum], types: &[SqlType]) -> Option<R<Datum>> {
    if !is_ours(name) {
        return None;
    }
    // Most functions are strict: a NULL argument gives NULL (concat and friends excepted).
    let strict = !matches!(name, "concat" | "concat_ws" | "format" | "random" | "pi");
    if strict && args.iter().any(Datum::is_null) {
        return Some(Ok(Datum::Null));
    }
    Some(apply(name, args, types))
}

fn apply(name: &str, args: &[Datum], types: &[SqlType]) -> R<Datum> {
    let missing = || {
        let types: Vec<&str> = args.iter().map(super::type_of).collect();
        ExecError::from(
            SqlError::new("42883", format!("function {name}({}) does not exist", types.join(", "))).hint(
                "No function matches the given name and argument types. You might need to add explicit type casts.",
            ),
        )
    };
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Datum::Null);
    let text = |i: usize| args.get(i).and_then(Datum::to_text).ok_or_else(missing);
    let int = |i: usize| match args.get(i) {
        Some(Datum::Int(n)) => Ok(*n),
        Some(Datum::Float(f)) => Ok(f.round() as i64),
        Some(d) => {
            let t = d.to_text().unwrap_or_default();
            t.trim().parse::<i64>().map_err(|_| {
                ExecError::from(SqlError::new("22P02", format!("invalid input syntax for type integer: \"{t}\"")))
            })
        }
        None => Err(missing()),
    };
    let t = |s: String| Ok(Datum::Text(s));
    match name {
        // ── strings ──
        "replace" => t(text(0)?.replace(&text(1)?, &text(2)?)),
        "ltrim" | "rtrim" | "btrim" => {
            let s = text(0)?;
            let set: Vec<char> = text(1).unwrap_or_else(|_| " ".into()).chars().collect();
            let cut = |c: char| set.contains(&c);
            t(match name {
                "ltrim" => s.trim_start_matches(cut).to_string(),
                "rtrim" => s.trim_end_matches(cut).to_string(),
                _ => s.trim_matches(cut).to_string(),
            })
        }
        "strpos" => {
            let (s, sub) = (text(0)?, text(1)?);
            Ok(Datum::Int(s.find(&sub).map_or(0, |at| s[..at].chars().count() as i64 + 1)))
        }
        "left" | "right" => {
            let s: Vec<char> = text(0)?.chars().collect();
            let n = int(1)?;
            let len = s.len() as i64;
            // A negative count means all but that many from the other end.
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            t(match name {
                "left" => s[..keep].iter().collect(),
                _ => s[s.len() - keep..].iter().collect(),
            })
        }
        "repeat" => {
            let (s, n) = (text(0)?, int(1)?.max(0) as usize);
            if s.len().saturating_mul(n) > crate::limits::SQL_TEXT_BYTES_MAX {
                return Err(SqlError::new("54000", "requested length too large").into());
            }
            t(s.repeat(n))
        }
        "reverse" => t(text(0)?.chars().rev().collect()),
        "lpad" | "rpad" => {
            let s: Vec<char> = text(0)?.chars().collect();
            let n = int(1)?.max(0) as usize;
            if n > crate::limits::SQL_TEXT_BYTES_MAX {
                return Err(SqlError::new("54000", "requested length too large").into());
            }
            let fill: Vec<char> = text(2).unwrap_or_else(|_| " ".into()).chars().collect();
            if s.len() >= n || fill.is_empty() {
                return t(s[..n.min(s.len())].iter().collect());
            }
            let pad: String = fill.iter().cycle().take(n - s.len()).collect();
            let s: String = s.into_iter().collect();
            t(if name == "lpad" { pad + &s } else { s + &pad })
        }
        "initcap" => {
            let mut out = String::new();
            let mut start = true;
            for c in text(0)?.chars() {
                if c.is_alphanumeric() {
                    if start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    start = false;
                } else {
                    out.push(c);
                    start = true;
                }
            }
            t(out)
        }
        "split_part" => {
            let (s, sep, n) = (text(0)?, text(1)?, int(2)?);
            if n == 0 {
                return Err(SqlError::new("22023", "field position must not be zero").into());
            }
            let parts: Vec<&str> = if sep.is_empty() { vec![s.as_str()] } else { s.split(sep.as_str()).collect() };
            let i = if n > 0 { n - 1 } else { parts.len() as i64 + n };
            t(usize::try_from(i).ok().and_then(|i| parts.get(i)).unwrap_or(&"").to_string())
        }
        "md5" => t(md5_hex(text(0)?.as_bytes())),
        "ascii" => Ok(Datum::Int(text(0)?.chars().next().map_or(0, |c| c as i64))),
        "chr" => match u32::try_from(int(0)?).ok().and_then(char::from_u32) {
            Some('\0') | None => Err(SqlError::new("54000", "requested character too large for encoding").into()),
            Some(c) => t(c.to_string()),
        },
        "concat" => t(args.iter().filter_map(Datum::to_text).collect()),
        "concat_ws" => {
            let Some(sep) = args.first().and_then(Datum::to_text) else { return Ok(Datum::Null) };
            t(args[1..].iter().filter_map(Datum::to_text).collect::<Vec<_>>().join(&sep))
        }
        "format" => format(args),
        "starts_with" => Ok(Datum::Bool(text(0)?.starts_with(&text(1)?))),
        // ── math ──
        "round" | "trunc" => {
            let scale = if args.len() > 1 { Some(int(1)?) } else { None };
            round(name, &arg(0), types.first().copied(), scale)
        }
        "ceil" | "ceiling" | "floor" => {
            let up = name != "floor";
            match arg(0) {
                Datum::Int(n) => Ok(Datum::Numeric(n.to_string())),
                Datum::Float(f) => Ok(Datum::Float(if up { f.ceil() } else { f.floor() })),
                d => numeric_op(&d, |m, scale| {
                    let div = 10i128.pow(scale);
                    let (q, r) = (m / div, m % div);
                    let q = if up && r > 0 {
                        q + 1
                    } else if !up && r < 0 {
                        q - 1
                    } else {
                        q
                    };
                    Some((q, 0))
                }),
            }
        }
        "sign" => {
            let f = float_of(&arg(0))?;
            let sign = if f == 0.0 { 0.0 } else { f.signum() };
            // sign(numeric) is numeric; integers and floats go through double precision.
            Ok(match types.first() {
                Some(SqlType::Numeric) => Datum::Numeric(format!("{}", sign as i64)),
                _ => Datum::Float(sign),
            })
        }
        "mod" => match (arg(0), arg(1)) {
            (Datum::Int(_), Datum::Int(0)) => Err(SqlError::new("22012", "division by zero").into()),
            (Datum::Int(a), Datum::Int(b)) => Ok(Datum::Int(a.wrapping_rem(b))),
            (a, b) => {
                let (a, b) = (float_of(&a)?, float_of(&b)?);
                if b == 0.0 {
                    return Err(SqlError::new("22012", "division by zero").into());
                }
                Ok(Datum::Numeric(trim_float(a % b)))
            }
        },
        "div" => {
            let (a, b) = (float_of(&arg(0))?, float_of(&arg(1))?);
            if b == 0.0 {
                return Err(SqlError::new("22012", "division by zero").into());
            }
            Ok(Datum::Numeric(format!("{}", (a / b).trunc())))
        }
        "gcd" | "lcm" => {
            let (a, b) = (int(0)?, int(1)?);
            let g = gcd(a, b);
            Ok(Datum::Int(if name == "gcd" {
                g
            } else if g == 0 {
                0
            } else {
                (a / g * b).abs()
            }))
        }
        "power" | "pow" => float2(&arg(0), &arg(1), |a, b| {
            if a == 0.0 && b < 0.0 {
                return Err(SqlError::new("2201F", "zero raised to a negative power is undefined").into());
            }
            if a < 0.0 && b.fract() != 0.0 {
                return Err(SqlError::new(
                    "2201F",
                    "a negative number raised to a non-integer power yields a complex result",
                )
                .into());
            }
            Ok(a.powf(b))
        }),
        "sqrt" => float1(&arg(0), |f| {
            if f < 0.0 {
                Err(SqlError::new("2201F", "cannot take square root of a negative number").into())
            } else {
                Ok(f.sqrt())
            }
        }),
        "cbrt" => float1(&arg(0), |f| Ok(f.cbrt())),
        "exp" => float1(&arg(0), |f| Ok(f.exp())),
        "ln" | "log" | "log10" if args.len() == 1 => float1(&arg(0), |f| {
            if f == 0.0 {
                Err(SqlError::new("2201E", "cannot take logarithm of zero").into())
            } else if f < 0.0 {
                Err(SqlError::new("2201E", "cannot take logarithm of a negative number").into())
            } else if name == "ln" {
                Ok(f.ln())
            } else {
                Ok(f.log10())
            }
        }),
        "log" => float2(&arg(0), &arg(1), |b, x| Ok(x.ln() / b.ln())),
        "pi" => Ok(Datum::Float(std::f64::consts::PI)),
        "degrees" => float1(&arg(0), |f| Ok(f.to_degrees())),
        "radians" => float1(&arg(0), |f| Ok(f.to_radians())),
        "random" => Ok(Datum::Float(rand::random::<f64>())),
        _ => Err(missing()),
    }
}

/// Whether `name` is one of this module's functions (for the NULL rule in [`call`]).
fn is_ours(name: &str) -> bool {
    result_type(name, &[]).is_some()
}

/// The result type of one of this module's functions, from its arguments' types.
pub(super) fn result_type(name: &str, types: &[SqlType]) -> Option<SqlType> {
    let first = types.first().copied().unwrap_or(SqlType::Numeric);
    Some(match name {
        "replace" | "ltrim" | "rtrim" | "btrim" | "left" | "right" | "repeat" | "reverse" | "lpad" | "rpad"
        | "initcap" | "split_part" | "md5" | "chr" | "concat" | "concat_ws" | "format" => SqlType::Text,
        "strpos" | "ascii" => SqlType::Int4,
        "starts_with" => SqlType::Bool,
        "round" | "trunc" | "ceil" | "ceiling" | "floor" => match first {
            SqlType::Float4 | SqlType::Float8 => SqlType::Float8,
            _ => SqlType::Numeric,
        },
        "mod" | "gcd" | "lcm" => match first {
            t if t.is_integer() => t,
            _ => SqlType::Numeric,
        },
        "div" => SqlType::Numeric,
        "sign" if first == SqlType::Numeric => SqlType::Numeric,
        "sign" | "power" | "pow" | "sqrt" | "cbrt" | "exp" | "ln" | "log" | "log10" | "pi" | "degrees" | "radians"
        | "random" => SqlType::Float8,
        _ => return None,
    })
}

/// `round(x [, s])` and `trunc(x [, s])`: numeric ones exact on the decimal text (round half
/// away from zero); double precision ones as C's rint (half to even) and trunc.
fn round(name: &str, d: &Datum, ty: Option<SqlType>, scale: Option<i64>) -> R<Datum> {
    if let (Datum::Float(f), None) = (d, scale) {
        return Ok(Datum::Float(if name == "round" { f.round_ties_even() } else { f.trunc() }));
    }
    if matches!(ty, Some(SqlType::Float4 | SqlType::Float8)) && scale.is_none() {
        let f = float_of(d).unwrap_or(0.0);
        return Ok(Datum::Float(if name == "round" { f.round_ties_even() } else { f.trunc() }));
    }
    let target = scale.unwrap_or(0);
    numeric_op(d, |m, s| {
        let s = i64::from(s);
        if target >= s {
            let pad = u32::try_from(target - s).ok()?;
            return Some((m.checked_mul(10i128.checked_pow(pad)?)?, u32::try_from(target).ok()?));
        }
        let drop = u32::try_from(s - target).ok()?;
        let div = 10i128.checked_pow(drop)?;
        let (q, r) = (m / div, m % div);
        let q = if name == "round" && r.abs() * 2 >= div { q + m.signum() } else { q };
        // A negative scale rounds to tens, hundreds, ...: shift back with zeros.
        if target < 0 {
            let back = 10i128.checked_pow(u32::try_from(-target).ok()?)?;
            return Some((q.checked_mul(back)?, 0));
        }
        Some((q, u32::try_from(target).ok()?))
    })
}

/// Applies `f` to a value's decimal mantissa and scale; the result is numeric.
fn numeric_op(d: &Datum, f: impl Fn(i128, u32) -> Option<(i128, u32)>) -> R<Datum> {
    let text = d.to_text().unwrap_or_default();
    let (m, s) = parse_decimal(&text).ok_or_else(|| {
        ExecError::from(SqlError::new("22P02", format!("invalid input syntax for type numeric: \"{text}\"")))
    })?;
    let (m, s) = f(m, s).ok_or_else(|| ExecError::from(SqlError::new("22003", "value out of range: overflow")))?;
    Ok(Datum::Numeric(decimal_text(m, s)))
}

fn float_of(d: &Datum) -> R<f64> {
    match d {
        Datum::Int(n) => Ok(*n as f64),
        Datum::Float(f) => Ok(*f),
        other => {
            let t = other.to_text().unwrap_or_default();
            t.trim().parse().map_err(|_| {
                SqlError::new("22P02", format!("invalid input syntax for type double precision: \"{t}\"")).into()
            })
        }
    }
}

fn float1(d: &Datum, f: impl Fn(f64) -> R<f64>) -> R<Datum> {
    f(float_of(d)?).map(Datum::Float)
}

fn float2(a: &Datum, b: &Datum, f: impl Fn(f64, f64) -> R<f64>) -> R<Datum> {
    f(float_of(a)?, float_of(b)?).map(Datum::Float)
}

/// A float as numeric text, without a trailing `.0`.
fn trim_float(f: f64) -> String {
    let s = format!("{f}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a as i64
}

/// `format(fmt, args...)`: `%s` (the value as text, NULL as empty), `%I` (quoted identifier),
/// `%L` (quoted literal, NULL as `NULL`), `%%`.
fn format(args: &[Datum]) -> R<Datum> {
    let Some(fmt) = args.first().and_then(Datum::to_text) else { return Ok(Datum::Null) };
    let mut out = String::new();
    let mut next = 1;
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars.next();
        if spec == Some('%') {
            out.push('%');
            continue;
        }
        let Some(v) = args.get(next) else {
            return Err(SqlError::new("22023", "too few arguments for format()").into());
        };
        next += 1;
        match spec {
            Some('s') => out.push_str(&v.to_text().unwrap_or_default()),
            Some('I') => {
                let s = v.to_text().ok_or_else(|| {
                    ExecError::from(SqlError::new("22004", "null values cannot be formatted as an SQL identifier"))
                })?;
                let plain = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                    && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                out.push_str(&if plain { s } else { format!("\"{}\"", s.replace('"', "\"\"")) });
            }
            Some('L') => match v.to_text() {
                None => out.push_str("NULL"),
                Some(s) => out.push_str(&format!("'{}'", s.replace('\'', "''"))),
            },
            other => {
                let c = other.map(String::from).unwrap_or_default();
                return Err(SqlError::new("22023", format!("unrecognized format() type specifier \"{c}\""))
                    .hint("For a single \"%\" use \"%%\".")
                    .into());
            }
        }
    }
    Ok(Datum::Text(out))
}

/// MD5 (RFC 1321) as 32 lower-case hex digits, as PostgreSQL's `md5(text)`.
pub(super) fn md5_hex(input: &[u8]) -> String {
    // Per-round shift amounts and the sine-derived constants of the RFC.
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
        20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6,
        10, 15, 21,
    ];
    let k: Vec<u32> = (0..64).map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32).collect();
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) = (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk.chunks(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    [a0, b0, c0, d0].iter().flat_map(|w| w.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_the_rfc_examples() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }
}
