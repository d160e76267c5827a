//! `date` and `interval`, and the calendar arithmetic shared with `timestamp`: input and output as
//! PostgreSQL 15 prints them with `DateStyle = ISO, MDY` and `IntervalStyle = postgres`.
//!
//! Representations are PostgreSQL's own, so the binary send formats fall out directly:
//!
//! ```text
//!   date       i32 days since 2000-01-01; i32::MIN is -infinity, i32::MAX is infinity
//!   timestamp  i64 microseconds since 2000-01-01 00:00:00 (terrarium keeps timestamps as their
//!              text; these helpers convert at the edges of arithmetic)
//!   interval   (months i32, days i32, microseconds i64), never normalised between the three:
//!              '1 mon' is not '30 days' and '1 day' is not '24:00:00', though they compare equal
//! ```

use std::cmp::Ordering;

use super::InputError;

/// Microseconds in a day, hour, minute and second.
pub const US_PER_DAY: i64 = 86_400_000_000;
const US_PER_HOUR: i64 = 3_600_000_000;
const US_PER_MINUTE: i64 = 60_000_000;
const US_PER_SECOND: i64 = 1_000_000;

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;

/// The date PostgreSQL accepts first, 4714-11-24 BC (Julian day 0), as days since 2000-01-01.
const DATE_MIN: i64 = -2_451_545;
/// The last date PostgreSQL accepts, 5874897-12-31, as days since 2000-01-01.
const DATE_MAX: i64 = 2_145_031_948;

pub const DATE_NEG_INFINITY: i32 = i32::MIN;
pub const DATE_INFINITY: i32 = i32::MAX;

/// Days since 1970-01-01 of a proleptic Gregorian date (year 0 is 1 BC), Howard Hinnant's
/// algorithm; `month` 1..=12.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// ───────────────────────────────────────────── date ─────────────────────────────────────────────

/// `date_in` for the forms people write: `2024-01-02` (ISO, any time of day after it is read and
/// dropped), `01/02/2024` and `01-02-2024` (month first, DateStyle MDY), `20240102`, an `AD` / `BC`
/// suffix, `infinity`, `-infinity`, `epoch`. Errors as PostgreSQL's: 22007 for text that is not a
/// date, 22008 for a field out of range (with the DateStyle hint when a month is over 12) and for
/// a date outside 4714 BC .. 5874897 AD.
pub fn date_in(text: &str) -> Result<i32, InputError> {
    let syntax = || InputError::new("22007", format!("invalid input syntax for type date: \"{text}\""));
    let field_range = || InputError::new("22008", format!("date/time field value out of range: \"{text}\""));
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "infinity" | "+infinity" => return Ok(DATE_INFINITY),
        "-infinity" => return Ok(DATE_NEG_INFINITY),
        "epoch" => return Ok((-PG_EPOCH_DAYS) as i32),
        _ => {}
    }
    let (body, bc) = match t.strip_suffix("bc") {
        Some(b) => (b.trim_end(), true),
        None => (t.strip_suffix("ad").map(str::trim_end).unwrap_or(&t), false),
    };
    // The date is the first word; a time of day may follow (after a space or a `T`).
    let (date, rest) = match body.find([' ', 't']) {
        Some(at) => (&body[..at], body[at + 1..].trim()),
        None => (body, ""),
    };
    if !rest.is_empty() && !time_of_day_ok(rest) {
        return Err(syntax());
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = date.split(['-', '/']).collect();
    let (year, month, day, month_first) = match parts.as_slice() {
        [y, m, d] if y.len() >= 3 && digits(y) && digits(m) && digits(d) => (*y, *m, *d, false),
        [m, d, y] if digits(m) && digits(d) && digits(y) && m.len() <= 2 && d.len() <= 2 => (*y, *m, *d, true),
        [all] if all.len() == 8 && digits(all) => (&all[..4], &all[4..6], &all[6..], false),
        _ => return Err(syntax()),
    };
    let num = |s: &str| s.parse::<i64>().map_err(|_| field_range());
    let (mut year, month, day) = (num(year)?, num(month)?, num(day)?);
    if month_first && year < 100 && parts[2].len() <= 2 {
        // Two-digit years pick the century nearest 2020, as PostgreSQL's do.
        year += if year < 70 { 2000 } else { 1900 };
    }
    if month > 12 || month == 0 {
        let e = field_range();
        return Err(if month > 12 { e.hint("Perhaps you need a different \"datestyle\" setting.") } else { e });
    }
    if day == 0 || day > days_in_month(if bc { 1 - year } else { year }, month) {
        return Err(field_range());
    }
    if bc && year == 0 {
        return Err(field_range());
    }
    let year = if bc { 1 - year } else { year };
    let days = days_from_civil(year, month, day) - PG_EPOCH_DAYS;
    if !(DATE_MIN..=DATE_MAX).contains(&days) {
        return Err(InputError::new("22008", format!("date out of range: \"{text}\"")));
    }
    Ok(days as i32)
}

/// Whether what follows a date looks like a time of day, perhaps with a zone.
fn time_of_day_ok(s: &str) -> bool {
    let s = s.trim_end_matches("utc").trim_end_matches('z').trim();
    s.contains(':') && s.bytes().all(|b| b.is_ascii_digit() || b":.+- ".contains(&b))
}

/// `date_out`: `2024-01-02`, `0001-12-31 BC`, `infinity`.
pub fn date_text(days: i32) -> String {
    match days {
        DATE_INFINITY => "infinity".into(),
        DATE_NEG_INFINITY => "-infinity".into(),
        _ => {
            let (y, m, d) = civil_from_days(i64::from(days) + PG_EPOCH_DAYS);
            if y <= 0 {
                format!("{:04}-{m:02}-{d:02} BC", 1 - y)
            } else {
                format!("{y:04}-{m:02}-{d:02}")
            }
        }
    }
}

/// A date as the timestamp of its midnight, in microseconds since 2000-01-01 (infinities stay at
/// the ends of the range).
pub fn date_to_timestamp(days: i32) -> i64 {
    match days {
        DATE_INFINITY => i64::MAX,
        DATE_NEG_INFINITY => i64::MIN,
        d => i64::from(d) * US_PER_DAY,
    }
}

/// The date a timestamp falls on.
pub fn timestamp_to_date(us: i64) -> i32 {
    match us {
        i64::MAX => DATE_INFINITY,
        i64::MIN => DATE_NEG_INFINITY,
        us => us.div_euclid(US_PER_DAY) as i32,
    }
}

// ────────────────────────────────────────── timestamp ──────────────────────────────────────────

/// Calendar fields of a timestamp: year (0 = 1 BC), month, day, hour, minute, second, microsecond.
pub struct Fields {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub micros: i64,
}

pub fn fields(us: i64) -> Fields {
    let (days, time) = (us.div_euclid(US_PER_DAY), us.rem_euclid(US_PER_DAY));
    let (year, month, day) = civil_from_days(days + PG_EPOCH_DAYS);
    Fields {
        year,
        month,
        day,
        hour: time / US_PER_HOUR,
        minute: time % US_PER_HOUR / US_PER_MINUTE,
        second: time % US_PER_MINUTE / US_PER_SECOND,
        micros: time % US_PER_SECOND,
    }
}

pub fn from_fields(f: &Fields) -> i64 {
    (days_from_civil(f.year, f.month, f.day) - PG_EPOCH_DAYS) * US_PER_DAY
        + f.hour * US_PER_HOUR
        + f.minute * US_PER_MINUTE
        + f.second * US_PER_SECOND
        + f.micros
}

/// `timestamp_out` (ISO): `2024-01-02 10:30:00.5`, the fraction without trailing zeros.
pub fn timestamp_text(us: i64) -> String {
    let f = fields(us);
    let year = if f.year <= 0 { 1 - f.year } else { f.year };
    let mut out = format!("{year:04}-{:02}-{:02} {:02}:{:02}:{:02}", f.month, f.day, f.hour, f.minute, f.second);
    if f.micros > 0 {
        out.push('.');
        out.push_str(format!("{:06}", f.micros).trim_end_matches('0'));
    }
    if f.year <= 0 {
        out.push_str(" BC");
    }
    out
}

/// A timestamp's text as terrarium keeps it (`2024-01-02 10:30:00[.f]`, a `+00` zone for
/// timestamptz) as microseconds since 2000-01-01.
pub fn timestamp_micros(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t.strip_suffix("+00").unwrap_or(t);
    let (date, time) = t.split_once(' ')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut h = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (hour, minute, second) = (h.next()??, h.next()??, h.next()??);
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().ok()? };
    Some(from_fields(&Fields { year, month, day, hour, minute, second, micros }))
}

/// `timestamp + interval` (`timestamp_pl_interval`): months first, the day of month clamped to
/// the new month's length (`2024-01-31 + 1 mon` is `2024-02-29`), then days, then microseconds.
pub fn add_interval(us: i64, iv: &Interval) -> Option<i64> {
    let mut us = us;
    if iv.months != 0 {
        let mut f = fields(us);
        let total = f.year * 12 + (f.month - 1) + i64::from(iv.months);
        f.year = total.div_euclid(12);
        f.month = total.rem_euclid(12) + 1;
        f.day = f.day.min(days_in_month(f.year, f.month));
        us = from_fields(&f);
    }
    us = us.checked_add(i64::from(iv.days).checked_mul(US_PER_DAY)?)?;
    us.checked_add(iv.micros)
}

/// `timestamp - timestamp`: the microseconds between them as days and a time of day with the
/// same sign (`interval_justify_hours`), never months.
pub fn timestamp_diff(a: i64, b: i64) -> Option<Interval> {
    let mut micros = a.checked_sub(b)?;
    let mut days = micros / US_PER_DAY;
    micros -= days * US_PER_DAY;
    if days > 0 && micros < 0 {
        micros += US_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= US_PER_DAY;
        days += 1;
    }
    Some(Interval { months: 0, days: i32::try_from(days).ok()?, micros })
}

/// `age(a, b)`: the difference in calendar fields, borrowing from the next larger field with the
/// month lengths PostgreSQL uses (`timestamp_age`): `age('2024-03-01', '2024-01-31 12:00')` is
/// `1 mon 12:00:00`.
pub fn age(a: i64, b: i64) -> Interval {
    let (f1, f2) = (fields(a), fields(b));
    let flip = if a < b { -1 } else { 1 };
    let mut us = (f1.micros - f2.micros) * flip;
    let mut sec = (f1.second - f2.second) * flip;
    let mut min = (f1.minute - f2.minute) * flip;
    let mut hour = (f1.hour - f2.hour) * flip;
    let mut day = (f1.day - f2.day) * flip;
    let mut mon = (f1.month - f2.month) * flip;
    let mut year = (f1.year - f2.year) * flip;
    while us < 0 {
        us += US_PER_SECOND;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        day -= 1;
    }
    while day < 0 {
        let f = if a < b { &f1 } else { &f2 };
        day += days_in_month(f.year, f.month);
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    let time = ((hour * 60 + min) * 60 + sec) * US_PER_SECOND + us;
    Interval { months: ((year * 12 + mon) * flip) as i32, days: (day * flip) as i32, micros: time * flip }
}

/// `date_trunc(unit, timestamp)`; `None` for a unit it does not know.
pub fn trunc_timestamp(unit: &str, us: i64) -> Option<i64> {
    let mut f = fields(us);
    // Resets the `n` smallest fields: 1 the microseconds, 2 also the seconds, ... 6 the month.
    let keep = |f: &mut Fields, n: u8| {
        if n >= 1 {
            f.micros = 0;
        }
        if n >= 2 {
            f.second = 0;
        }
        if n >= 3 {
            f.minute = 0;
        }
        if n >= 4 {
            f.hour = 0;
        }
        if n >= 5 {
            f.day = 1;
        }
        if n >= 6 {
            f.month = 1;
        }
    };
    match unit {
        "microseconds" => {}
        "milliseconds" => f.micros -= f.micros % 1000,
        "second" => keep(&mut f, 1),
        "minute" => keep(&mut f, 2),
        "hour" => keep(&mut f, 3),
        "day" => keep(&mut f, 4),
        "week" => {
            // Back to Monday: 2000-01-03 was one.
            let days = us.div_euclid(US_PER_DAY);
            return Some((days - (days - 2).rem_euclid(7)) * US_PER_DAY);
        }
        "month" => keep(&mut f, 5),
        "quarter" => {
            keep(&mut f, 5);
            f.month -= (f.month - 1) % 3;
        }
        "year" => keep(&mut f, 6),
        "decade" | "century" | "millennium" => {
            keep(&mut f, 6);
            let span = match unit {
                "decade" => 10,
                "century" => 100,
                _ => 1000,
            };
            // Centuries and millennia start at year 1 (2001 for the 21st century), decades at 0.
            f.year = if unit == "decade" {
                f.year - f.year.rem_euclid(10)
            } else if f.year > 0 {
                (f.year - 1) / span * span + 1
            } else {
                -((-f.year) / span * span) - span + 1
            };
        }
        _ => return None,
    }
    Some(from_fields(&f))
}

/// The value of `extract(unit from timestamp)` as a decimal text (PostgreSQL 14+ returns numeric:
/// seconds and the epoch with six decimals, milliseconds with three), or `None` for an unknown
/// unit. `date` is true when the value came from a `date` (which has no time-of-day units).
pub fn extract_timestamp(unit: &str, us: i64, date: bool) -> Option<String> {
    let f = fields(us);
    let days = us.div_euclid(US_PER_DAY);
    Some(match unit {
        "epoch" => {
            let unix = i128::from(us) + i128::from(PG_EPOCH_DAYS) * i128::from(US_PER_DAY);
            if date {
                (unix / i128::from(US_PER_DAY) * 86_400).to_string()
            } else {
                six_places(unix)
            }
        }
        "year" => if f.year <= 0 { f.year - 1 } else { f.year }.to_string(),
        "month" => f.month.to_string(),
        "day" => f.day.to_string(),
        "quarter" => ((f.month - 1) / 3 + 1).to_string(),
        "dow" => (days + 6).rem_euclid(7).to_string(),
        "isodow" => ((days + 5).rem_euclid(7) + 1).to_string(),
        "doy" => (days_from_civil(f.year, f.month, f.day) - days_from_civil(f.year, 1, 1) + 1).to_string(),
        "week" => iso_week(f.year, f.month, f.day).to_string(),
        "decade" => f.year.div_euclid(10).to_string(),
        "century" => if f.year > 0 { (f.year + 99) / 100 } else { -((99 - (f.year - 1)) / 100) }.to_string(),
        "millennium" => if f.year > 0 { (f.year + 999) / 1000 } else { -((999 - (f.year - 1)) / 1000) }.to_string(),
        _ if date => return None,
        "hour" => f.hour.to_string(),
        "minute" => f.minute.to_string(),
        "second" => six_places(i128::from(f.second * US_PER_SECOND + f.micros)),
        "milliseconds" => three_places(f.second * US_PER_SECOND + f.micros),
        "microseconds" => (f.second * US_PER_SECOND + f.micros).to_string(),
        _ => return None,
    })
}

/// ISO 8601 week number (weeks start on Monday; week 1 holds the year's first Thursday).
fn iso_week(year: i64, month: i64, day: i64) -> i64 {
    let days = days_from_civil(year, month, day);
    // Monday = 0 (1970-01-01 was a Thursday).
    let weekday = (days + 3).rem_euclid(7);
    let thursday = days - weekday + 3;
    let (ty, _, _) = civil_from_days(thursday);
    (thursday - days_from_civil(ty, 1, 1)) / 7 + 1
}

/// Microseconds as seconds with six decimals (`15.500000`).
fn six_places(us: i128) -> String {
    let sign = if us < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", us.abs() / 1_000_000, us.abs() % 1_000_000)
}

/// Microseconds as milliseconds with three decimals (`15500.000`).
fn three_places(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    format!("{sign}{}.{:03}", us.abs() / 1000, us.abs() % 1000)
}

/// A unit name as `extract` and `date_trunc` take it, in PostgreSQL's spelling (`years`,
/// `mins`, `ms` and the other abbreviations it accepts map to one name).
pub fn canonical_unit(unit: &str) -> String {
    let u = unit.trim().to_ascii_lowercase();
    match u.as_str() {
        "y" | "yr" | "yrs" | "year" | "years" => "year",
        "mon" | "mons" | "month" | "months" => "month",
        "d" | "day" | "days" => "day",
        "h" | "hr" | "hrs" | "hour" | "hours" => "hour",
        "m" | "min" | "mins" | "minute" | "minutes" => "minute",
        "s" | "sec" | "secs" | "second" | "seconds" => "second",
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" | "mseconds" => "milliseconds",
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" | "useconds" => "microseconds",
        "w" | "week" | "weeks" => "week",
        "qtr" | "quarter" => "quarter",
        "dec" | "decs" | "decade" | "decades" => "decade",
        "c" | "cent" | "cents" | "century" | "centuries" => "century",
        "mil" | "mils" | "millennium" | "millennia" | "millenniums" => "millennium",
        other => return other.to_string(),
    }
    .to_string()
}

// ─────────────────────────────────────────── interval ───────────────────────────────────────────

/// An `interval`, PostgreSQL's three independent parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// The single number PostgreSQL orders intervals by (`interval_cmp_value`): a month is 30
    /// days and a day 24 hours, so `'1 mon'` equals `'30 days'`.
    pub fn span(&self) -> i128 {
        i128::from(self.micros) + (i128::from(self.months) * 30 + i128::from(self.days)) * i128::from(US_PER_DAY)
    }

    pub fn cmp_value(&self, other: &Interval) -> Ordering {
        self.span().cmp(&other.span())
    }

    pub fn checked_add(&self, o: &Interval) -> Option<Interval> {
        Some(Interval {
            months: self.months.checked_add(o.months)?,
            days: self.days.checked_add(o.days)?,
            micros: self.micros.checked_add(o.micros)?,
        })
    }

    pub fn checked_neg(&self) -> Option<Interval> {
        Some(Interval {
            months: self.months.checked_neg()?,
            days: self.days.checked_neg()?,
            micros: self.micros.checked_neg()?,
        })
    }

    /// `interval * factor` (`interval_mul`): whole months and days stay where they are; their
    /// fractions cascade down (a month as 30 days, a day as 24 hours), each rounded to
    /// microseconds, so `'1 mon' * 1.5` is `1 mon 15 days`.
    pub fn mul(&self, factor: f64) -> Option<Interval> {
        let f = |n: f64| n * factor;
        Interval::cascade(f(f64::from(self.months)), f(f64::from(self.days)), f(self.micros as f64))
    }

    /// `interval / divisor` (`interval_div`), the same cascade as [`Interval::mul`].
    pub fn div(&self, divisor: f64) -> Option<Interval> {
        let f = |n: f64| n / divisor;
        Interval::cascade(f(f64::from(self.months)), f(f64::from(self.days)), f(self.micros as f64))
    }

    /// The months, days and microseconds of a scaled interval, each possibly fractional, put
    /// back in whole fields: fractions of months and days move down, rounded to microseconds.
    /// `None` when a field is not finite or out of range.
    fn cascade(months_f: f64, days_f: f64, micros_f: f64) -> Option<Interval> {
        let round_us = |x: f64| (x * 1e6).round_ties_even() / 1e6;
        if !months_f.is_finite()
            || !days_f.is_finite()
            || months_f.abs() > f64::from(i32::MAX)
            || days_f.abs() > f64::from(i32::MAX)
        {
            return None;
        }
        let months = months_f as i32;
        let mut days = days_f as i32;
        let month_remainder_days = round_us((months_f - f64::from(months)) * 30.0);
        let mut sec_remainder =
            round_us((days_f - f64::from(days) + month_remainder_days - month_remainder_days.trunc()) * 86_400.0);
        if sec_remainder.abs() >= 86_400.0 {
            let whole = (sec_remainder / 86_400.0).trunc();
            days = days.checked_add(whole as i32)?;
            sec_remainder -= whole * 86_400.0;
        }
        days = days.checked_add(month_remainder_days.trunc() as i32)?;
        let micros = (micros_f + sec_remainder * 1e6).round_ties_even();
        if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
            return None;
        }
        Some(Interval { months, days, micros: micros as i64 })
    }

    /// `extract(unit from interval)` as numeric text, `None` for a unit intervals lack.
    pub fn extract(&self, unit: &str) -> Option<String> {
        let time = self.micros;
        Some(match unit {
            // A year is 365.25 days and a month 30 for the epoch, as PostgreSQL counts.
            "epoch" => {
                let years = i128::from(self.months / 12);
                let months = i128::from(self.months % 12);
                let secs = years * 31_557_600 + months * 2_592_000 + i128::from(self.days) * 86_400;
                six_places(secs * 1_000_000 + i128::from(time))
            }
            "millennium" => (self.months / 12 / 1000).to_string(),
            "century" => (self.months / 12 / 100).to_string(),
            "decade" => (self.months / 12 / 10).to_string(),
            "year" => (self.months / 12).to_string(),
            "quarter" => ((self.months % 12) / 3 + 1).to_string(),
            "month" => (self.months % 12).to_string(),
            "day" => self.days.to_string(),
            "hour" => (time / US_PER_HOUR).to_string(),
            "minute" => (time % US_PER_HOUR / US_PER_MINUTE).to_string(),
            "second" => six_places(i128::from(time % US_PER_MINUTE)),
            "milliseconds" => three_places(time % US_PER_MINUTE),
            "microseconds" => (time % US_PER_MINUTE).to_string(),
            _ => return None,
        })
    }

    /// `date_trunc(unit, interval)`: the fields below `unit` zeroed.
    pub fn trunc(&self, unit: &str) -> Option<Interval> {
        let mut out = *self;
        let cut = |us: i64, per: i64| us - us % per;
        match unit {
            "microseconds" => {}
            "milliseconds" => out.micros = cut(out.micros, 1000),
            "second" => out.micros = cut(out.micros, US_PER_SECOND),
            "minute" => out.micros = cut(out.micros, US_PER_MINUTE),
            "hour" => out.micros = cut(out.micros, US_PER_HOUR),
            "day" => out.micros = 0,
            "month" => (out.days, out.micros) = (0, 0),
            "quarter" => (out.months, out.days, out.micros) = (out.months - out.months % 3, 0, 0),
            "year" => (out.months, out.days, out.micros) = (out.months - out.months % 12, 0, 0),
            "decade" => (out.months, out.days, out.micros) = (out.months - out.months % 120, 0, 0),
            "century" => (out.months, out.days, out.micros) = (out.months - out.months % 1200, 0, 0),
            "millennium" => (out.months, out.days, out.micros) = (out.months - out.months % 12000, 0, 0),
            _ => return None,
        }
        Some(out)
    }
}

/// `interval_out` with IntervalStyle `postgres`: `1 year 2 mons 3 days 04:05:06.5`,
/// `-1 days +02:00:00` (a later part says `+` when an earlier one was negative), `00:00:00`.
pub fn interval_text(iv: &Interval) -> String {
    let mut out = String::new();
    let mut is_before = false;
    let part = |out: &mut String, value: i64, unit: &str, is_before: &mut bool| {
        if value == 0 {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if *is_before && value > 0 {
            out.push('+');
        }
        out.push_str(&format!("{value} {unit}{}", if value != 1 { "s" } else { "" }));
        *is_before = value < 0;
    };
    let (years, months) = (iv.months / 12, iv.months % 12);
    part(&mut out, i64::from(years), "year", &mut is_before);
    part(&mut out, i64::from(months), "mon", &mut is_before);
    part(&mut out, i64::from(iv.days), "day", &mut is_before);
    if out.is_empty() || iv.micros != 0 {
        let t = iv.micros.unsigned_abs();
        let us = t % 1_000_000;
        let sign = if iv.micros < 0 {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!(
            "{sign}{:02}:{:02}:{:02}",
            t / US_PER_HOUR as u64,
            t % US_PER_HOUR as u64 / US_PER_MINUTE as u64,
            t % US_PER_MINUTE as u64 / 1_000_000
        ));
        if us > 0 {
            out.push('.');
            out.push_str(format!("{us:06}").trim_end_matches('0'));
        }
    }
    out
}

/// `interval_in` for PostgreSQL's own forms: numbers with units (`1 day`, `3 mons`, `1.5 hours`,
/// `-2 weeks`, `1year`), a time `[-]H:M[:S[.f]]`, an `@` in front and `ago` at the end (which
/// negates), a bare number (seconds). Fractions cascade down as PostgreSQL's do (`1.5 months` is
/// `1 mon 15 days`). 22007 for anything else, 22015 when a field overflows.
pub fn interval_in(text: &str) -> Result<Interval, InputError> {
    interval_in_as(text, None)
}

/// [`interval_in`] where a bare number means `unit` (SQL's `INTERVAL '2' HOUR`).
pub fn interval_in_as(text: &str, unit: Option<&str>) -> Result<Interval, InputError> {
    let syntax = || InputError::new("22007", format!("invalid input syntax for type interval: \"{text}\""));
    let range = || InputError::new("22015", format!("interval field value out of range: \"{text}\""));
    let lower = text.trim().to_ascii_lowercase();
    let mut s = lower.strip_prefix('@').unwrap_or(&lower).trim_start();
    if s.is_empty() {
        return Err(syntax());
    }
    let (mut months, mut days, mut micros) = (0f64, 0f64, 0f64);
    let mut ago = false;
    let mut seen_any = false;
    while !s.is_empty() {
        if ago {
            return Err(syntax());
        }
        if let Some(rest) = s.strip_prefix("ago") {
            if !rest.is_empty() && !rest.starts_with(' ') {
                return Err(syntax());
            }
            ago = true;
            s = rest.trim_start();
            continue;
        }
        // A number (perhaps signed, perhaps with a fraction), or a time of day.
        let end = s.find(|c: char| !(c.is_ascii_digit() || "+-.:".contains(c))).unwrap_or(s.len());
        let token = &s[..end];
        if token.is_empty() {
            return Err(syntax());
        }
        s = s[end..].trim_start();
        seen_any = true;
        if token.contains(':') {
            let (negative, body) = match token.as_bytes()[0] {
                b'-' => (true, &token[1..]),
                b'+' => (false, &token[1..]),
                _ => (false, token),
            };
            let parts: Vec<&str> = body.split(':').collect();
            let num = |x: &str| -> Result<f64, InputError> {
                if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit() || b == b'.') || x.matches('.').count() > 1 {
                    return Err(syntax());
                }
                x.parse::<f64>().map_err(|_| syntax())
            };
            let (h, m, sec) = match parts.as_slice() {
                [h, m] if !h.contains('.') => (num(h)?, num(m)?, 0.0),
                [h, m, sec] if !h.contains('.') && !m.contains('.') => (num(h)?, num(m)?, num(sec)?),
                _ => return Err(syntax()),
            };
            if m >= 60.0 || sec >= 60.0 {
                return Err(range());
            }
            let t = (h * 3600.0 + m * 60.0) * 1e6 + (sec * 1e6).round();
            micros += if negative { -t } else { t };
            continue;
        }
        let value: f64 = token.parse().map_err(|_| syntax())?;
        if token.starts_with(['+', '-']) && token.len() == 1 {
            return Err(syntax());
        }
        let word_end = s.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(s.len());
        let word = &s[..word_end];
        let unit_name = if word.is_empty() || word == "ago" {
            unit.unwrap_or("second").to_string()
        } else {
            s = s[word_end..].trim_start();
            canonical_unit(word)
        };
        let int = value.trunc();
        let frac = value - int;
        match unit_name.as_str() {
            "millennium" | "century" | "decade" | "year" => {
                let years = match unit_name.as_str() {
                    "millennium" => 1000.0,
                    "century" => 100.0,
                    "decade" => 10.0,
                    _ => 1.0,
                };
                // Fractions of a year become whole months, rounded.
                months += (value * years * 12.0).round();
            }
            "month" => {
                months += int;
                let d = frac * 30.0;
                days += d.trunc();
                micros += ((d - d.trunc()) * US_PER_DAY as f64).round();
            }
            "week" => {
                let d = value * 7.0;
                days += d.trunc();
                micros += ((d - d.trunc()) * US_PER_DAY as f64).round();
            }
            "day" => {
                days += int;
                micros += (frac * US_PER_DAY as f64).round();
            }
            "hour" => micros += (value * US_PER_HOUR as f64).round(),
            "minute" => micros += (value * US_PER_MINUTE as f64).round(),
            "second" => micros += (value * 1e6).round(),
            "milliseconds" => micros += (value * 1e3).round(),
            "microseconds" => micros += value.round(),
            _ => return Err(syntax()),
        }
    }
    if !seen_any {
        return Err(syntax());
    }
    let fits32 = |x: f64| x.abs() <= f64::from(i32::MAX);
    if !fits32(months) || !fits32(days) || micros.abs() >= 9.2e18 {
        return Err(range());
    }
    let iv = Interval { months: months as i32, days: days as i32, micros: micros as i64 };
    Ok(if ago { iv.checked_neg().ok_or_else(range)? } else { iv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_print_like_postgres() {
        for (input, out) in [
            ("2024-01-02", "2024-01-02"),
            ("01/02/2024", "2024-01-02"),
            ("2024-01-02 10:30", "2024-01-02"),
            ("20240102", "2024-01-02"),
            ("epoch", "1970-01-01"),
            ("infinity", "infinity"),
            ("-infinity", "-infinity"),
            ("0001-12-31 BC", "0001-12-31 BC"),
            ("2000-02-29", "2000-02-29"),
        ] {
            assert_eq!(date_text(date_in(input).unwrap()), out, "{input}");
        }
        assert_eq!(date_in("2000-01-01").unwrap(), 0);
        assert_eq!(date_in("1999-12-31").unwrap(), -1);
        let e = date_in("x").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), ("22007", "invalid input syntax for type date: \"x\""));
        let e = date_in("2024-13-01").unwrap_err();
        assert_eq!(e.code, "22008");
        assert!(e.hint.is_some());
        let e = date_in("2023-02-29").unwrap_err();
        assert_eq!((e.code, e.hint), ("22008", None));
        assert_eq!(date_in("2024-01-02 xyz").unwrap_err().code, "22007");
    }

    #[test]
    fn intervals_read_and_print_like_postgres() {
        for (input, out) in [
            ("1 day 02:00:00", "1 day 02:00:00"),
            ("3 mons", "3 mons"),
            ("-1 days +02:00:00", "-1 days +02:00:00"),
            ("0", "00:00:00"),
            ("1.5 hours", "01:30:00"),
            ("1 year 2 months 3 days 04:05:06.5", "1 year 2 mons 3 days 04:05:06.5"),
            ("-1 year -2 mons", "-1 years -2 mons"),
            ("1.5 days", "1 day 12:00:00"),
            ("1.5 months", "1 mon 15 days"),
            ("100 hours", "100:00:00"),
            ("-00:30", "-00:30:00"),
            ("1 day -1 hour", "1 day -01:00:00"),
            ("@ 1 day ago", "-1 days"),
            ("5", "00:00:05"),
            ("1 week", "7 days"),
            ("2 minutes 30 seconds", "00:02:30"),
            ("-1 day -02:00", "-1 days -02:00:00"),
            ("1day", "1 day"),
        ] {
            assert_eq!(interval_text(&interval_in(input).unwrap()), out, "{input}");
        }
        for bad in ["x", "1 fortnight", "", "1 day ago ago", "1:2:3:4"] {
            assert_eq!(interval_in(bad).unwrap_err().code, "22007", "{bad}");
        }
    }

    #[test]
    fn interval_arithmetic_matches_postgres() {
        let iv = |s: &str| interval_in(s).unwrap();
        let text = |i: Option<Interval>| interval_text(&i.unwrap());
        assert_eq!(text(iv("1 day 02:00:00").mul(2.0)), "2 days 04:00:00");
        assert_eq!(text(iv("1 mon").mul(1.5)), "1 mon 15 days");
        assert_eq!(text(iv("1 hour").mul(0.5)), "00:30:00");
        assert_eq!(text(iv("3 days").div(2.0)), "1 day 12:00:00");
        assert_eq!(text(iv("1 mon").div(3.0)), "10 days");
        assert_eq!(iv("1 day").cmp_value(&iv("24 hours")), Ordering::Equal);
        assert_eq!(iv("1 mon").cmp_value(&iv("29 days")), Ordering::Greater);
        let ts = |s: &str| timestamp_micros(s).unwrap();
        assert_eq!(
            timestamp_text(add_interval(ts("2024-01-31 10:00:00"), &iv("1 mon 1 day 01:00:00")).unwrap()),
            "2024-03-01 11:00:00"
        );
        assert_eq!(
            interval_text(&timestamp_diff(ts("2024-03-01 00:00:00"), ts("2024-01-01 12:00:00")).unwrap()),
            "59 days 12:00:00"
        );
        assert_eq!(
            interval_text(&timestamp_diff(ts("2024-01-01 00:00:00"), ts("2024-03-01 12:00:00")).unwrap()),
            "-60 days -12:00:00"
        );
        assert_eq!(interval_text(&age(ts("2024-03-01 00:00:00"), ts("2024-01-31 12:00:00"))), "1 mon 12:00:00");
        assert_eq!(
            interval_text(&age(ts("2024-01-31 00:00:00"), ts("2024-03-01 12:00:00"))),
            "-1 mons -1 days -12:00:00"
        );
        assert_eq!(
            interval_text(&age(ts("2020-02-29 00:00:00"), ts("2024-02-28 00:00:00"))),
            "-3 years -11 mons -28 days"
        );
    }

    #[test]
    fn extract_and_trunc() {
        let ts = timestamp_micros("2024-01-02 10:30:15.5").unwrap();
        assert_eq!(extract_timestamp("second", ts, false).unwrap(), "15.500000");
        assert_eq!(extract_timestamp("epoch", ts, false).unwrap(), "1704191415.500000");
        assert_eq!(extract_timestamp("milliseconds", ts, false).unwrap(), "15500.000");
        let d = date_to_timestamp(date_in("2024-01-02").unwrap());
        assert_eq!(extract_timestamp("epoch", d, true).unwrap(), "1704153600");
        assert_eq!(extract_timestamp("dow", d, true).unwrap(), "2");
        assert_eq!(extract_timestamp("week", d, true).unwrap(), "1");
        assert_eq!(extract_timestamp("hour", d, true), None);
        let t = timestamp_micros("2024-05-17 10:30:15.5").unwrap();
        assert_eq!(timestamp_text(trunc_timestamp("week", t).unwrap()), "2024-05-13 00:00:00");
        assert_eq!(timestamp_text(trunc_timestamp("quarter", t).unwrap()), "2024-04-01 00:00:00");
        assert_eq!(timestamp_text(trunc_timestamp("century", t).unwrap()), "2001-01-01 00:00:00");
        assert_eq!(interval_in("1 day 02:00:00").unwrap().extract("epoch").unwrap(), "93600.000000");
        assert_eq!(interval_in("1 year").unwrap().extract("epoch").unwrap(), "31557600.000000");
    }
}

/// `to_char(timestamp, format)` for the template patterns applications use: `YYYY YYY YY Y`,
/// `MM`, `MONTH Month month` (blank-padded to 9), `MON Mon mon`, `DD`, `DDD`, `D`, `DAY Day day`
/// (padded to 9), `DY Dy dy`, `HH24`, `HH12`/`HH`, `MI`, `SS`, `MS`, `US`, `AM PM am pm A.M. P.M.`,
/// `Q`, `TZ tz` (always UTC here); the `FM` prefix drops padding; `"text"` is copied, a
/// backslash escapes, everything else is literal. Matching is greedy and case-sensitive where
/// PostgreSQL's is (the case of `Month`, `DAY` and `am` chooses the output's).
pub fn to_char(us: i64, format: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    let f = fields(us);
    let days = us.div_euclid(US_PER_DAY) + PG_EPOCH_DAYS;
    // 1970-01-01 was a Thursday.
    let dow = (days + 4).rem_euclid(7) as usize;
    let doy = days - days_from_civil(f.year, 1, 1) + 1;
    let hour12 = match f.hour % 12 {
        0 => 12,
        h => h,
    };
    // A word in the case the pattern was written in: all upper, capitalised, or all lower.
    let cased = |word: &str, pattern: &str| -> String {
        if pattern.chars().all(|c| c.is_ascii_uppercase()) {
            word.to_uppercase()
        } else if pattern.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            word.to_string()
        } else {
            word.to_lowercase()
        }
    };
    let mut out = String::new();
    let mut rest = format;
    while !rest.is_empty() {
        let fm = rest.starts_with("FM");
        if fm {
            rest = &rest[2..];
        }
        let num = |v: i64, width: usize| if fm { v.to_string() } else { format!("{v:0width$}") };
        let word = |w: String| if fm { w } else { format!("{w:<9}") };
        let patterns: &[&str] = &[
            "YYYY", "YYY", "YY", "Y", "MONTH", "Month", "month", "MON", "Mon", "mon", "MM", "DDD", "DD", "DAY", "Day",
            "day", "DY", "Dy", "dy", "D", "HH24", "HH12", "HH", "MI", "SS", "MS", "US", "A.M.", "P.M.", "a.m.", "p.m.",
            "AM", "PM", "am", "pm", "Q", "TZ", "tz",
        ];
        let Some(p) = patterns.iter().find(|p| rest.starts_with(**p)) else {
            let mut chars = rest.chars();
            match chars.next() {
                Some('"') => {
                    let inner = chars.as_str();
                    let end = inner.find('"').unwrap_or(inner.len());
                    out.push_str(&inner[..end]);
                    rest = inner.get(end + 1..).unwrap_or("");
                }
                Some('\\') => {
                    out.extend(chars.next());
                    rest = chars.as_str();
                }
                Some(c) => {
                    out.push(c);
                    rest = chars.as_str();
                }
                None => {}
            }
            continue;
        };
        let year = f.year.max(1 - f.year); // BC years count up from 1
        out.push_str(&match *p {
            "YYYY" => num(year, 4),
            "YYY" => num(year % 1000, 3),
            "YY" => num(year % 100, 2),
            "Y" => num(year % 10, 1),
            "MONTH" | "Month" | "month" => word(cased(MONTHS[f.month as usize - 1], p)),
            "MON" | "Mon" | "mon" => cased(&MONTHS[f.month as usize - 1][..3], p),
            "MM" => num(f.month, 2),
            "DDD" => num(doy, 3),
            "DD" => num(f.day, 2),
            "DAY" | "Day" | "day" => word(cased(DAYS[dow], p)),
            "DY" | "Dy" | "dy" => cased(&DAYS[dow][..3], p),
            "D" => (dow + 1).to_string(),
            "HH24" => num(f.hour, 2),
            "HH12" | "HH" => num(hour12, 2),
            "MI" => num(f.minute, 2),
            "SS" => num(f.second, 2),
            "MS" => num(f.micros / 1000, 3),
            "US" => num(f.micros, 6),
            "AM" | "PM" => (if f.hour < 12 { "AM" } else { "PM" }).to_string(),
            "am" | "pm" => (if f.hour < 12 { "am" } else { "pm" }).to_string(),
            "A.M." | "P.M." => (if f.hour < 12 { "A.M." } else { "P.M." }).to_string(),
            "a.m." | "p.m." => (if f.hour < 12 { "a.m." } else { "p.m." }).to_string(),
            "Q" => ((f.month - 1) / 3 + 1).to_string(),
            "TZ" => "UTC".to_string(),
            _ => "utc".to_string(),
        });
        rest = &rest[p.len()..];
    }
    out
}
