//! INCRBYFLOAT's arithmetic: x87 80-bit `long double`, emulated exactly.
//!
//! Redis parses the stored value and the increment with `strtold`, adds them as `long double`
//! (a 64-bit mantissa on x86-64), and prints the sum with `%.17Lf`, trimming trailing zeros.
//! An `f64` has only 53 mantissa bits, which is visible: three `INCRBYFLOAT k 0.1` give `0.3` on
//! Redis but `0.30000000000000004` with doubles. Rust has no `long double`, so this module does
//! what the hardware does, with big integers:
//!
//! ```text
//!   "0.1"  ──parse──▶ exact rational 1/10 ──round to 64 bits──▶ m·2^e  (m has 64 bits)
//!   a + b  ──exact──▶ (m_a·2^(e_a-e) + m_b·2^(e_b-e))·2^e ──round to 64 bits──▶ m·2^e
//!   print  ──exact──▶ m·2^e·10^17, rounded to an integer ──▶ "int.fraction" minus trailing zeros
//! ```
//!
//! Rounding is to nearest, ties to even, at every step, as the FPU's default mode does.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{One, Signed, ToPrimitive, Zero};

/// `long double`'s mantissa width on x86-64.
const MANTISSA_BITS: u64 = 64;
/// Its largest binary exponent; beyond it the value is infinite.
const EXPONENT_MAX: i64 = 16384;
/// Decimal exponents beyond this are certainly out of range (or zero), so the parser stops
/// before building a huge power of ten from a hostile "1e999999999".
const DECIMAL_EXPONENT_LIMIT: i64 = 5000;

/// A finite `long double`: `(-1)^negative · mantissa · 2^exponent`.
#[derive(Debug, Clone, PartialEq)]
pub struct LongDouble {
    negative: bool,
    mantissa: BigUint,
    exponent: i64,
}

impl LongDouble {
    pub fn zero() -> Self {
        LongDouble { negative: false, mantissa: BigUint::zero(), exponent: 0 }
    }

    /// The exact sum, rounded to 64 bits. `None` if it overflows (Redis: NaN or Infinity).
    pub fn add(&self, other: &LongDouble) -> Option<LongDouble> {
        let e = self.exponent.min(other.exponent);
        let a = signed(self) << ((self.exponent - e) as usize);
        let b = signed(other) << ((other.exponent - e) as usize);
        let sum = a + b;
        let negative = sum.sign() == Sign::Minus;
        round(negative, sum.abs().to_biguint().unwrap_or_default(), e, &BigUint::zero(), &BigUint::one())
    }

    /// `%.17Lf` with trailing zeros (and a trailing '.') removed, and "-0" printed as "0".
    pub fn to_human_string(&self) -> String {
        let ten17 = BigUint::from(10u32).pow(17);
        let scaled = if self.exponent >= 0 {
            (&self.mantissa << (self.exponent as usize)) * &ten17
        } else {
            let num = &self.mantissa * &ten17;
            let den = BigUint::one() << ((-self.exponent) as usize);
            let q = &num / &den;
            let r = &num % &den;
            let twice = &r << 1usize;
            if twice > den || (twice == den && (&q % 2u32) == BigUint::one()) {
                q + 1u32
            } else {
                q
            }
        };
        let int_part = &scaled / &ten17;
        let frac = (&scaled % &ten17).to_u64().unwrap_or(0);
        let mut s = String::new();
        if self.negative && !scaled.is_zero() {
            s.push('-');
        }
        s.push_str(&int_part.to_string());
        let frac_text = format!("{:017}", frac);
        let trimmed = frac_text.trim_end_matches('0');
        if !trimmed.is_empty() {
            s.push('.');
            s.push_str(trimmed);
        }
        s
    }
}

fn signed(x: &LongDouble) -> BigInt {
    let m = BigInt::from_biguint(Sign::Plus, x.mantissa.clone());
    if x.negative {
        -m
    } else {
        m
    }
}

/// Rounds `(num / den) · 2^exponent` (num/den ≥ 0) to a 64-bit mantissa, ties to even.
/// `den` is 1 when `num` is already exact at this exponent.
fn round(negative: bool, num: BigUint, exponent: i64, rem_num: &BigUint, rem_den: &BigUint) -> Option<LongDouble> {
    // `rem_num / rem_den` is an extra fraction below the last bit of `num` (the remainder of a
    // division done by the caller); it only matters as a tie-breaker ("sticky bit").
    if num.is_zero() && rem_num.is_zero() {
        return Some(LongDouble { negative, mantissa: BigUint::zero(), exponent: 0 });
    }
    let bits = num.bits();
    let (mut m, mut e) = if bits > MANTISSA_BITS {
        let shift = bits - MANTISSA_BITS;
        let m = &num >> (shift as usize);
        let dropped = &num - (&m << (shift as usize));
        let half = BigUint::one() << ((shift - 1) as usize);
        let up = dropped > half || (dropped == half && (!rem_num.is_zero() || (&m % 2u32) == BigUint::one()));
        (if up { m + 1u32 } else { m }, exponent + shift as i64)
    } else {
        // Exact in 64 bits unless a remainder fraction is left below the last bit.
        let twice = rem_num << 1usize;
        let up = !rem_num.is_zero() && (twice > *rem_den || (twice == *rem_den && (&num % 2u32) == BigUint::one()));
        (if up { num + 1u32 } else { num }, exponent)
    };
    if m.bits() > MANTISSA_BITS {
        m >>= 1usize;
        e += 1;
    }
    if e + m.bits() as i64 > EXPONENT_MAX {
        return None;
    }
    Some(LongDouble { negative, mantissa: m, exponent: e })
}

/// Parses a decimal number as `strtold` does for what Redis accepts: no surrounding spaces,
/// nothing after the number, no NaN. Infinity parses but is refused here, since Redis then
/// fails the command anyway ("increment would produce NaN or Infinity").
pub fn parse_long_double(s: &[u8]) -> Option<LongDouble> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() {
        return None;
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa_text, exp_text) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_digits, frac_digits) = match mantissa_text.find('.') {
        Some(i) => (&mantissa_text[..i], &mantissa_text[i + 1..]),
        None => (mantissa_text, ""),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    if !int_digits.bytes().all(|c| c.is_ascii_digit()) || !frac_digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut exp10: i64 = match exp_text {
        None => 0,
        Some(t) => {
            let (neg, digits) = match t.as_bytes().first() {
                Some(b'-') => (true, &t[1..]),
                Some(b'+') => (false, &t[1..]),
                _ => (false, t),
            };
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v: i64 = digits.parse().unwrap_or(i64::MAX / 4).min(i64::MAX / 4);
            if neg {
                -v
            } else {
                v
            }
        }
    };
    let digits = format!("{int_digits}{frac_digits}");
    exp10 -= frac_digits.len() as i64;
    let d: BigUint = digits.trim_start_matches('0').parse().unwrap_or_else(|_| BigUint::zero());
    if d.is_zero() {
        return Some(LongDouble { negative, mantissa: BigUint::zero(), exponent: 0 });
    }
    let d_digits = digits.trim_start_matches('0').len() as i64;
    if exp10 + d_digits > DECIMAL_EXPONENT_LIMIT {
        return None; // infinite
    }
    if exp10 + d_digits < -DECIMAL_EXPONENT_LIMIT {
        return Some(LongDouble { negative, mantissa: BigUint::zero(), exponent: 0 });
    }
    if exp10 >= 0 {
        let n = d * BigUint::from(10u32).pow(exp10 as u32);
        round(negative, n, 0, &BigUint::zero(), &BigUint::one())
    } else {
        let q_den = BigUint::from(10u32).pow((-exp10) as u32);
        // Scale the numerator so the quotient has at least 65 bits, then round.
        let k = (MANTISSA_BITS as i64 + 2 + q_den.bits() as i64 - d.bits() as i64).max(0);
        let num = d << (k as usize);
        let q = &num / &q_den;
        let r = &num % &q_den;
        round(negative, q, -k, &r, &q_den)
    }
}

/// INCRBYFLOAT / HINCRBYFLOAT: the new value's text, or Redis's error text.
/// `current` is the stored value (`None` for a missing key or field).
pub fn incr_by_float_text(current: Option<&[u8]>, incr: &[u8]) -> Result<String, &'static str> {
    const NOT_FLOAT: &str = "ERR value is not a valid float";
    const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
    let is_inf = |s: &[u8]| {
        let t = String::from_utf8_lossy(s).to_ascii_lowercase();
        matches!(t.trim_start_matches(['+', '-']), "inf" | "infinity")
    };
    let cur = match current {
        None => LongDouble::zero(),
        Some(c) if is_inf(c) => return Err(NAN_OR_INF),
        Some(c) => parse_long_double(c).ok_or(NOT_FLOAT)?,
    };
    if is_inf(incr) {
        return Err(NAN_OR_INF);
    }
    let inc = parse_long_double(incr).ok_or(NOT_FLOAT)?;
    Ok(cur.add(&inc).ok_or(NAN_OR_INF)?.to_human_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let x = parse_long_double(a.as_bytes()).unwrap();
        let y = parse_long_double(b.as_bytes()).unwrap();
        x.add(&y).unwrap().to_human_string()
    }

    #[test]
    fn matches_redis_long_double_results() {
        // Each expected value was read from Redis 7.0.15's INCRBYFLOAT.
        assert_eq!(incr("0", "0.1"), "0.1");
        assert_eq!(incr("0.1", "0.1"), "0.2");
        assert_eq!(incr("0.2", "0.1"), "0.3");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert_eq!(incr("3", "-3"), "0");
        assert_eq!(incr("-1", "0.5"), "-0.5");
        assert_eq!(incr("1", "1e-20"), "1");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_long_double(b"").is_none());
        assert!(parse_long_double(b" 1").is_none());
        assert!(parse_long_double(b"1x").is_none());
        assert!(parse_long_double(b"nan").is_none());
        assert!(parse_long_double(b".").is_none());
        assert!(parse_long_double(b"1e99999999999").is_none());
        assert_eq!(parse_long_double(b"1e-99999999").unwrap().to_human_string(), "0");
    }
}
