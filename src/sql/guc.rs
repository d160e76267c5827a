//! Settings whose values carry a time unit (`lock_timeout`, `statement_timeout`,
//! `deadlock_timeout`, ...), read and shown the way PostgreSQL's GUC code does it.
//!
//! ```text
//!  SET lock_timeout = 100          ─▶ normalize ─▶ stored "100ms"  ─▶ SHOW lock_timeout = 100ms
//!  SET lock_timeout = '1.5s'       ─▶ 1500 ms  ─▶ stored "1500ms"
//!  SET lock_timeout = '60000'      ─▶ 60000 ms ─▶ stored "1min"   (the largest unit that divides it)
//!  SET lock_timeout = 'abc'        ─▶ 22023 invalid value for parameter "lock_timeout": "abc"
//!  the engine, per statement       ─▶ millis(settings, "lock_timeout") = 100
//! ```
//!
//! A value is a number (an integer, or a decimal with a fraction or an exponent) optionally
//! followed by a unit: `us`, `ms`, `s`, `min`, `h` or `d` (case matters, as in PostgreSQL). A
//! number without a unit counts in the setting's base unit, milliseconds here. The result is
//! rounded to whole milliseconds half to even, as C's `rint` does (`'1500us'` is 2 ms, `'100us'`
//! 0), then checked against the setting's range.

use std::collections::BTreeMap;

use sqlparser::ast::{self, Statement};

use super::exec::{Session, SqlError};
use super::mvcc::{Isolation, Xid};

/// A setting counted in milliseconds: its name, smallest and largest value, and default as SHOW
/// writes it.
struct TimeSetting {
    name: &'static str,
    min: i64,
    max: i64,
    default: &'static str,
}

/// PostgreSQL 15's limits and defaults for these settings.
const TIME_SETTINGS: &[TimeSetting] = &[
    TimeSetting { name: "lock_timeout", min: 0, max: i32::MAX as i64, default: "0" },
    TimeSetting { name: "statement_timeout", min: 0, max: i32::MAX as i64, default: "0" },
    TimeSetting { name: "deadlock_timeout", min: 1, max: i32::MAX as i64, default: "1s" },
    TimeSetting { name: "idle_in_transaction_session_timeout", min: 0, max: i32::MAX as i64, default: "0" },
    TimeSetting { name: "idle_session_timeout", min: 0, max: i32::MAX as i64, default: "0" },
];

/// The time units a value may name, with how many milliseconds each is; SHOW picks the largest
/// that divides the value exactly (microseconds never, as the base unit is the millisecond).
const UNITS: &[(&str, f64)] =
    &[("d", 86_400_000.0), ("h", 3_600_000.0), ("min", 60_000.0), ("s", 1_000.0), ("ms", 1.0), ("us", 0.001)];

const UNITS_HINT: &str = "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".";

fn setting(name: &str) -> Option<&'static TimeSetting> {
    TIME_SETTINGS.iter().find(|s| s.name == name)
}

/// What SHOW answers for a setting of this module that was never SET (or was RESET).
pub fn default_value(name: &str) -> Option<&'static str> {
    match name {
        // Not a time setting, but SHOW must answer it after a RESET too.
        "synchronous_commit" => Some("on"),
        _ => setting(name).map(|s| s.default),
    }
}

/// A SET value for `name` in the form SHOW gives it back, or PostgreSQL's 22023 error; `None`
/// when `name` is not a setting of this module (it is then stored as given).
pub fn normalize(name: &str, value: &str) -> Option<Result<String, SqlError>> {
    let s = setting(name)?;
    Some(parse_ms(s, value).map(format_ms))
}

/// The setting's value in milliseconds, as the session has it now (its default when unset).
pub fn millis(settings: &BTreeMap<String, String>, name: &str) -> u64 {
    let Some(s) = setting(name) else { return 0 };
    let text = settings.get(name).map(String::as_str).unwrap_or(s.default);
    parse_ms(s, text).ok().and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// RESET name / RESET ALL: the setting goes back to its default (for the settings kept outside
/// the map, the default isolation level, that too).
pub fn reset(sess: &mut Session, name: Option<&str>) {
    match name {
        None => {
            sess.settings.clear();
            sess.default_isolation = Isolation::ReadCommitted;
        }
        Some(n) => {
            if n == "default_transaction_isolation" {
                sess.default_isolation = Isolation::ReadCommitted;
            }
            sess.settings.remove(n);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Settings follow transactions.
// ------------------------------------------------------------------------------------------------

/// The session's settings at one moment: the map, and the default isolation level kept beside it.
#[derive(Debug, Clone)]
struct Layer {
    settings: BTreeMap<String, String>,
    isolation: Isolation,
}

impl Layer {
    fn of(sess: &Session) -> Layer {
        Layer { settings: sess.settings.clone(), isolation: sess.default_isolation }
    }

    fn apply(self, sess: &mut Session) {
        sess.settings = self.settings;
        sess.default_isolation = self.isolation;
    }
}

/// An open transaction block, as far as settings go.
#[derive(Debug)]
struct Open {
    top: Xid,
    /// The settings when the block began: what a rollback puts back.
    before: Layer,
    /// The settings a commit keeps: every SET and RESET of the block but the SET LOCALs.
    session: Layer,
    /// Per savepoint, innermost last: both layers when it was made (ROLLBACK TO puts them back).
    savepoints: Vec<(String, Layer, Layer)>,
}

/// PostgreSQL's settings are transactional: a SET in a block that rolls back (or a savepoint
/// rolled back to) is undone, and SET LOCAL lasts until the block ends, however it ends.
///
/// ```text
///  BEGIN                      before = session = the settings now
///  SET x = 1                  effective x = 1, session x = 1
///  SET LOCAL y = 2            effective y = 2 (session unchanged)
///  SAVEPOINT s / ROLLBACK TO  both layers saved / put back
///  COMMIT                     settings = session layer   (y reverts, x stays)
///  ROLLBACK, or a failed end  settings = before          (both revert)
/// ```
///
/// The executor applies every SET to the session's settings at once (the effective values); this
/// keeps the layers beside them, and the engine calls it around each statement.
#[derive(Debug, Default)]
pub struct Transactional {
    open: Option<Open>,
}

impl Transactional {
    /// Follows the session's transaction block: one that ended since the last call leaves the
    /// settings its commit or rollback gives; a new one is remembered.
    pub fn follow(&mut self, sess: &mut Session, committed: impl Fn(Xid) -> bool) {
        let block = sess.txn.as_ref().filter(|t| t.explicit).map(|t| t.top);
        if let Some(open) = self.open.take_if(|o| Some(o.top) != block) {
            let layer = if committed(open.top) { open.session } else { open.before };
            layer.apply(sess);
        }
        if let (None, Some(top)) = (&self.open, block) {
            let now = Layer::of(sess);
            self.open = Some(Open { top, before: now.clone(), session: now, savepoints: Vec::new() });
        }
    }

    /// `SET LOCAL` outside a transaction block: PostgreSQL warns (25P01) and it has no effect.
    /// The warning when `stmt` is one, and then the statement is not to run.
    pub fn local_outside_block(sess: &Session, stmt: &Statement) -> Option<SqlError> {
        let local =
            matches!(stmt, Statement::Set(ast::Set::SingleAssignment { scope: Some(ast::ContextModifier::Local), .. }));
        let in_block = sess.txn.as_ref().is_some_and(|t| t.explicit) || sess.implicit_block;
        (local && !in_block).then(|| {
            let mut w = SqlError::new("25P01", "SET LOCAL can only be used in transaction blocks");
            w.severity = "WARNING";
            w
        })
    }

    /// After a statement that succeeded inside a block: what it did to the layers.
    pub fn after(&mut self, sess: &Session, stmt: &Statement) {
        let Some(open) = self.open.as_mut() else { return };
        match stmt {
            Statement::Set(ast::Set::SingleAssignment { scope, variable, .. }) => {
                if *scope != Some(ast::ContextModifier::Local) {
                    open.session.copy_from(sess, &setting_name(variable));
                }
            }
            Statement::Reset(r) => match &r.reset {
                ast::Reset::ConfigurationParameter(n) => open.session.copy_from(sess, &setting_name(n)),
                _ => open.session = Layer::of(sess),
            },
            Statement::Savepoint { name } => {
                open.savepoints.push((name.value.clone(), Layer::of(sess), open.session.clone()));
            }
            Statement::ReleaseSavepoint { name } => {
                if let Some(i) = open.savepoints.iter().rposition(|(n, _, _)| *n == name.value) {
                    open.savepoints.truncate(i);
                }
            }
            _ => {}
        }
    }

    /// `ROLLBACK TO SAVEPOINT name` succeeded: the settings as they were when it was made (the
    /// savepoint itself stays).
    pub fn rolled_back_to(&mut self, sess: &mut Session, name: &str) {
        let Some(open) = self.open.as_mut() else { return };
        if let Some(i) = open.savepoints.iter().rposition(|(n, _, _)| n == name) {
            open.savepoints.truncate(i + 1);
            let (_, effective, session) = open.savepoints[i].clone();
            effective.apply(sess);
            open.session = session;
        }
    }
}

impl Layer {
    /// Takes the session's current value of `name` into this layer.
    fn copy_from(&mut self, sess: &Session, name: &str) {
        match sess.settings.get(name) {
            Some(v) => self.settings.insert(name.to_string(), v.clone()),
            None => self.settings.remove(name),
        };
        if name == "default_transaction_isolation" {
            self.isolation = sess.default_isolation;
        }
    }
}

/// A setting's name as the executor stores it: the last part, folded to lower case unless quoted.
fn setting_name(n: &ast::ObjectName) -> String {
    n.0.iter()
        .filter_map(|p| match p {
            ast::ObjectNamePart::Identifier(i) if i.quote_style.is_some() => Some(i.value.clone()),
            ast::ObjectNamePart::Identifier(i) => Some(i.value.to_lowercase()),
            _ => None,
        })
        .next_back()
        .unwrap_or_default()
}

fn invalid(s: &TimeSetting, value: &str) -> SqlError {
    SqlError::new("22023", format!("invalid value for parameter \"{}\": \"{value}\"", s.name))
}

/// PostgreSQL's `parse_int` for a setting with a time unit.
fn parse_ms(s: &TimeSetting, value: &str) -> Result<i64, SqlError> {
    let (number, rest) = split_number(value).ok_or_else(|| invalid(s, value))?;
    let rest = rest.trim();
    let ms = if rest.is_empty() {
        number
    } else {
        let (_, per) = UNITS.iter().find(|(u, _)| *u == rest).ok_or_else(|| invalid(s, value).hint(UNITS_HINT))?;
        number * per
    };
    let ms = ms.round_ties_even();
    if !(i32::MIN as f64..=i32::MAX as f64).contains(&ms) {
        return Err(invalid(s, value).hint("Value exceeds integer range."));
    }
    let ms = ms as i64;
    if ms < s.min || ms > s.max {
        return Err(SqlError::new(
            "22023",
            format!("{ms} ms is outside the valid range for parameter \"{}\" ({} .. {})", s.name, s.min, s.max),
        ));
    }
    Ok(ms)
}

/// The number a value starts with (after leading blanks: a sign, digits, a fraction, an
/// exponent, as `strtod` reads them) and the text after it; `None` without any digit.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim_start();
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - digits_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return None;
    }
    // An exponent counts only when digits follow it ("1e3"); "1e" leaves the "e" as the unit.
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let e = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > e {
            i = j;
        }
    }
    Some((t[..i].parse().ok()?, &t[i..]))
}

/// A value in milliseconds as SHOW writes it: `0`, or the value in the largest unit that
/// divides it exactly (`100ms`, `1500ms`, `1s`, `1min`).
fn format_ms(ms: i64) -> String {
    if ms == 0 {
        return "0".into();
    }
    for (unit, per) in UNITS.iter().filter(|(u, _)| *u != "us") {
        let per = *per as i64;
        if ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(name: &str, value: &str) -> Result<String, String> {
        normalize(name, value).expect("a time setting").map_err(|e| {
            let hint = e.hint.map(|h| format!(" / {h}")).unwrap_or_default();
            format!("{} {}{hint}", e.code, e.message)
        })
    }

    #[test]
    fn values_are_read_and_shown_as_postgresql_does() {
        // Each pair was checked against PostgreSQL 15 (SET, then SHOW).
        for (input, shown) in [
            ("100", "100ms"),
            ("100ms", "100ms"),
            ("1s", "1s"),
            ("1500ms", "1500ms"),
            ("1.5s", "1500ms"),
            ("90s", "90s"),
            ("60000", "1min"),
            ("2 min", "2min"),
            ("100us", "0"),
            ("1500us", "2ms"),
            ("0.5", "0"),
            ("1d", "1d"),
            ("1e3", "1s"),
            ("0.4ms", "0"),
            (" 7 s ", "7s"),
        ] {
            assert_eq!(show("lock_timeout", input).as_deref(), Ok(shown), "{input}");
        }
    }

    #[test]
    fn bad_values_get_postgresql_errors() {
        assert_eq!(
            show("lock_timeout", "abc"),
            Err("22023 invalid value for parameter \"lock_timeout\": \"abc\"".into())
        );
        assert_eq!(
            show("lock_timeout", "10 foo"),
            Err(format!("22023 invalid value for parameter \"lock_timeout\": \"10 foo\" / {UNITS_HINT}"))
        );
        assert_eq!(
            show("lock_timeout", "-1"),
            Err("22023 -1 ms is outside the valid range for parameter \"lock_timeout\" (0 .. 2147483647)".into())
        );
        assert_eq!(
            show("statement_timeout", "3000000000"),
            Err("22023 invalid value for parameter \"statement_timeout\": \"3000000000\" / Value exceeds integer range."
                .into())
        );
        assert_eq!(
            show("lock_timeout", "true").unwrap_err(),
            "22023 invalid value for parameter \"lock_timeout\": \"true\""
        );
        assert!(normalize("work_mem", "4MB").is_none());
    }

    #[test]
    fn millis_reads_the_stored_form_or_the_default() {
        let mut settings = BTreeMap::new();
        assert_eq!(millis(&settings, "lock_timeout"), 0);
        assert_eq!(millis(&settings, "deadlock_timeout"), 1000);
        settings.insert("lock_timeout".to_string(), "1min".to_string());
        assert_eq!(millis(&settings, "lock_timeout"), 60_000);
    }
}
