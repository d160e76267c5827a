//! Loading data in bulk, as `pgbench -i` and `pg_dump` scripts do: COPY FROM STDIN's rows go in
//! here (read and converted by the connection, `sql::engine`, as they arrived), and ALTER TABLE
//! ... ADD PRIMARY KEY / UNIQUE builds its index over the rows a table already holds.
//!
//! COPY's rows are inserted as one statement, through the same checks as INSERT (NOT NULL,
//! UNIQUE, defaults for the columns it does not name), logged to the WAL with the transaction and
//! taken back whole if any row fails.

use super::*;

/// COPY FROM STDIN's rows, staged in the session by the connection for the COPY statement it
/// then executes (see [`copy_from`]).
#[derive(Debug, Default, Clone)]
pub struct CopyIn {
    pub table: String,
    /// The table's columns the rows hold values for, in the rows' order.
    pub targets: Vec<usize>,
    pub rows: Vec<Row>,
    /// The row (from 0) that failed, for the error's CONTEXT (`COPY t, line 3`).
    pub failed: Option<usize>,
}

/// Runs inside the statement's subtransaction ([`in_statement_xact`]): any error undoes every
/// row. The staged rows stay in the session, so a statement that must wait for another
/// transaction's row lock can run again.
pub(super) fn copy_from(db: &mut Database, sess: &mut Session, xid: Xid) -> R<Output> {
    let Some(mut c) = sess.copy_in.take() else {
        return Err(SqlError::new("0A000", "COPY FROM STDIN runs only through the COPY sub-protocol").into());
    };
    let r = insert_rows(db, sess, &mut c, xid);
    sess.copy_in = Some(c);
    r
}

fn insert_rows(db: &mut Database, sess: &mut Session, c: &mut CopyIn, xid: Xid) -> R<Output> {
    let name = c.table.clone();
    note_write(sess, &name);
    let table = table_mut(db, &name)?.clone_shape();
    if c.targets.iter().any(|&i| i >= table.columns.len()) {
        return Err(SqlError::new("0A000", format!("table \"{name}\" changed while COPY ran")).into());
    }
    let mut given = vec![false; table.columns.len()];
    for &i in &c.targets {
        given[i] = true;
    }
    let own = sess.txn.as_ref().expect("open").own.clone();
    let cid = sess.txn.as_ref().expect("open").cid;
    for (n, values) in c.rows.iter().enumerate() {
        c.failed = Some(n);
        let mut row = vec![Datum::Null; table.columns.len()];
        for (&i, v) in c.targets.iter().zip(values) {
            let col = &table.columns[i];
            row[i] = coerce_col(v.clone(), &col)?;
        }
        for (i, col) in table.columns.iter().enumerate() {
            if given[i] {
                continue;
            }
            if col.serial {
                let t = table_mut(db, &name)?;
                t.sequence += 1;
                row[i] = Datum::Int(t.sequence);
            } else if let Some(d) = &col.default {
                let v = eval(d, &Scope::empty(), db)?;
                row[i] = coerce_col(v, &col)?;
            }
        }
        insert_row(db, sess, &name, row, xid, cid, &own)?;
    }
    c.failed = None;
    Ok(Output::Command(format!("COPY {}", c.rows.len())))
}

/// ALTER TABLE t ADD [CONSTRAINT name] PRIMARY KEY (cols) / UNIQUE (cols): builds the constraint's
/// index from every version the table holds and refuses, as PostgreSQL's index build does, two
/// live rows with the same key (23505 `could not create unique index`), then for a primary key
/// a NULL in a key column (23502). Rows of transactions still running count as live (PostgreSQL
/// would wait for them instead).
pub(super) fn add_constraint(db: &mut Database, table: &str, constraint: &ast::TableConstraint) -> R<()> {
    let (given_name, columns, primary, traits) = match constraint {
        ast::TableConstraint::PrimaryKey(pk) => (pk.name.as_ref(), &pk.columns, true, pk.characteristics.as_ref()),
        ast::TableConstraint::Unique(u) => (u.name.as_ref(), &u.columns, false, u.characteristics.as_ref()),
        _ => {
            return Err(SqlError::new(
                "0A000",
                "terrarium supports ALTER TABLE ... ADD PRIMARY KEY and ADD UNIQUE constraints only",
            )
            .into())
        }
    };
    let t = db.tables.get(table).expect("checked by the caller");
    let mut key = Vec::new();
    for ic in columns {
        let cname = match &ic.column.expr {
            Expr::Identifier(i) => ident(i),
            other => other.to_string(),
        };
        let Some(i) = t.column(&cname) else {
            let message = if primary {
                format!("column \"{cname}\" of relation \"{table}\" does not exist")
            } else {
                format!("column \"{cname}\" named in key does not exist")
            };
            return Err(SqlError::new("42703", message).into());
        };
        key.push(i);
    }
    if primary && t.uniques.iter().any(|u| u.primary) {
        return Err(
            SqlError::new("42P16", format!("multiple primary keys for table \"{table}\" are not allowed")).into()
        );
    }
    let name = match given_name {
        Some(n) => ident(n),
        None if primary => format!("{table}_pkey"),
        None => {
            format!("{table}_{}_key", key.iter().map(|&i| t.columns[i].name.as_str()).collect::<Vec<_>>().join("_"))
        }
    };
    if t.uniques.iter().any(|u| u.name == name) {
        return Err(SqlError::new("42P07", format!("relation \"{name}\" already exists")).into());
    }
    let live = |v: &Version<Row>| {
        let tx = &db.tx;
        tx.status(v.xmin) != super::super::mvcc::Status::Aborted
            && (v.xmax == 0 || v.lock_only || tx.status(v.xmax) != super::super::mvcc::Status::Committed)
    };
    let mut index: std::collections::HashMap<Vec<String>, Vec<Ctid>> = std::collections::HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut null_in: Option<usize> = None;
    for (ctid, v) in t.heap.all() {
        let texts: Option<Vec<String>> = key.iter().map(|&i| v.row[i].to_text()).collect();
        let Some(texts) = texts else {
            if live(v) && null_in.is_none() {
                null_in = key.iter().copied().find(|&i| v.row[i].is_null());
            }
            continue;
        };
        index.entry(texts.clone()).or_default().push(ctid);
        if live(v) && !seen.insert(texts.clone()) {
            let names: Vec<&str> = key.iter().map(|&i| t.columns[i].name.as_str()).collect();
            return Err(SqlError::new("23505", format!("could not create unique index \"{name}\""))
                .detail(format!("Key ({})=({}) is duplicated.", names.join(", "), texts.join(", ")))
                .into());
        }
    }
    if let Some(i) = null_in.filter(|_| primary) {
        return Err(SqlError::new(
            "23502",
            format!("column \"{}\" of relation \"{table}\" contains null values", t.columns[i].name),
        )
        .into());
    }
    let t = db.tables.get_mut(table).expect("checked");
    if primary {
        for &i in &key {
            t.columns[i].not_null = true;
        }
    }
    t.index.resize_with(t.uniques.len(), Default::default);
    let mut u = Unique::new(name, key, primary);
    (u.deferrable, u.initially_deferred) = super::constraints::characteristics(traits)?;
    t.uniques.push(u);
    t.index.push(index);
    Ok(())
}

/// `timestamp` (without time zone) input: `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]]`, normalised to
/// PostgreSQL's output form. A zone suffix is dropped, as PostgreSQL's `timestamp_in` ignores it
/// (and every `timestamptz` here is in UTC, so casting one keeps its clock time).
pub(super) fn timestamp_in(s: &str) -> R<String> {
    let bad = || SqlError::new("22007", format!("invalid input syntax for type timestamp: \"{s}\""));
    let t = s.trim();
    if t.eq_ignore_ascii_case("epoch") {
        return Ok("1970-01-01 00:00:00".into());
    }
    let (date, time) = match t.find([' ', 'T']) {
        Some(at) => (&t[..at], t[at + 1..].trim()),
        None => (t, ""),
    };
    let num = |x: &str, digits: std::ops::RangeInclusive<usize>| -> Option<u32> {
        (digits.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())).then(|| x.parse().ok()).flatten()
    };
    let mut d = date.split('-');
    let (year, month, day) = match (d.next(), d.next(), d.next(), d.next()) {
        (Some(y), Some(m), Some(dd), None) => {
            (num(y, 4..=4).ok_or_else(bad)?, num(m, 1..=2).ok_or_else(bad)?, num(dd, 1..=2).ok_or_else(bad)?)
        }
        _ => return Err(bad().into()),
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let out_of_range = || SqlError::new("22008", format!("date/time field value out of range: \"{s}\""));
    if !(1..=12).contains(&month) || day == 0 || day > days[month as usize - 1] {
        return Err(out_of_range().into());
    }
    // The clock part ends where a zone starts (+hh, -hh, Z).
    let clock = time.split(['+', '-', 'Z', 'z']).next().unwrap_or("").trim();
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':');
    let (hour, minute, second) = if hms.is_empty() {
        (0, 0, 0)
    } else {
        let h = num(parts.next().unwrap_or(""), 1..=2).ok_or_else(bad)?;
        let m = num(parts.next().ok_or_else(bad)?, 1..=2).ok_or_else(bad)?;
        let sec = match parts.next() {
            Some(x) => num(x, 1..=2).ok_or_else(bad)?,
            None => 0,
        };
        if parts.next().is_some() {
            return Err(bad().into());
        }
        (h, m, sec)
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (frac.is_empty() && clock.ends_with('.')) {
        return Err(bad().into());
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(out_of_range().into());
    }
    let mut out = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
    let frac = frac.get(..6).unwrap_or(frac).trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_in_postgres_input_forms() {
        let ok = |s: &str| timestamp_in(s).map_err(|_| s.to_string()).unwrap();
        assert_eq!(ok("2024-05-01 10:20:30.500"), "2024-05-01 10:20:30.5");
        assert_eq!(ok("2024-02-29T01:02:03"), "2024-02-29 01:02:03");
        assert_eq!(ok("2023-12-31"), "2023-12-31 00:00:00");
        assert_eq!(ok("2026-11-28 13:13:24.157285+00"), "2026-11-28 13:13:24.157285");
        assert_eq!(ok(" 2024-01-01 09:05 "), "2024-01-01 09:05:00");
        let code = |s: &str| match timestamp_in(s) {
            Err(ExecError::Sql(e)) => e.code,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(code("not a time"), "22007");
        assert_eq!(code("2023-02-29"), "22008");
        assert_eq!(code("2024-01-01 25:00:00"), "22008");
        assert_eq!(code("2024-01-01 10:00:00."), "22007");
    }
}
