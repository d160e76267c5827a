//! INSERT ... ON CONFLICT [(columns) | ON CONSTRAINT name] DO NOTHING | DO UPDATE SET ... [WHERE
//! ...], as PostgreSQL 15 runs it.
//!
//! ```text
//!   plan (once, before any row):  the arbiters — the unique constraints and indexes whose
//!                                 columns are exactly the target's (42P10 if none), or the
//!                                 named constraint (42704), or every one for DO NOTHING
//!                                 without a target; deferrable ones are refused (55000)
//!   per proposed row:
//!     a live row holds the key in an arbiter?   (rows of running transactions: wait for them,
//!                                                then the statement runs again and finds the
//!                                                row committed, or gone)
//!       no   → insert as usual
//!       yes  → DO NOTHING: skip the row
//!              DO UPDATE:  21000 if this very command wrote that row; lock it (wait for a
//!                          writer; READ COMMITTED follows a row that moved and looks again);
//!                          WHERE false → leave it (locked); else update it with SET, where
//!                          `excluded.c` is the proposed row's value
//! ```
//!
//! Under REPEATABLE READ and SERIALIZABLE a conflicting row the transaction's snapshot cannot
//! see is a serialization failure (40001), as in PostgreSQL.

use super::*;

/// DO UPDATE: the assignments (column, expression) and the WHERE clause.
type DoUpdate<'a> = (Vec<(usize, &'a Expr)>, Option<&'a Expr>);

pub(super) struct Plan<'a> {
    /// Indexes into the table's `uniques`.
    arbiters: Vec<usize>,
    update: Option<DoUpdate<'a>>,
    /// The name the existing row goes by: the INSERT's alias, else the table's name.
    alias: Option<String>,
}

fn names_error(e: &ExecError) -> bool {
    matches!(e, ExecError::Sql(s) if matches!(s.code, "42702" | "42703" | "42P01"))
}

/// Checks the ON CONFLICT clause and finds its arbiters, before any row is made.
pub(super) fn plan<'a>(db: &Database, table: &str, ins: &'a ast::Insert) -> R<Option<Plan<'a>>> {
    let oc = match &ins.on {
        None => return Ok(None),
        Some(ast::OnInsert::OnConflict(oc)) => oc,
        Some(_) => return Err(SqlError::new("42601", "syntax error at or near \"ON\"").into()),
    };
    let t = &db.tables[table];
    let deferrable = || -> ExecError {
        SqlError::new(
            "55000",
            "ON CONFLICT does not support deferrable unique constraints/exclusion constraints as arbiters",
        )
        .into()
    };
    let arbiters: Vec<usize> = match &oc.conflict_target {
        None => {
            if matches!(oc.action, ast::OnConflictAction::DoUpdate(_)) {
                return Err(SqlError::new(
                    "42601",
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                )
                .hint("For example, ON CONFLICT (column_name).")
                .into());
            }
            if t.uniques.iter().any(|u| u.deferrable) {
                return Err(deferrable());
            }
            (0..t.uniques.len()).collect()
        }
        Some(ast::ConflictTarget::Columns { columns, .. }) => {
            let mut cols = Vec::new();
            for c in columns {
                let n = ident(c);
                let Some(i) = t.column(&n) else {
                    return Err(SqlError::new("42703", format!("column \"{n}\" does not exist")).into());
                };
                if !cols.contains(&i) {
                    cols.push(i);
                }
            }
            let found: Vec<usize> = t
                .uniques
                .iter()
                .enumerate()
                .filter(|(_, u)| u.columns.len() == cols.len() && u.columns.iter().all(|c| cols.contains(c)))
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                return Err(SqlError::new(
                    "42P10",
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                )
                .into());
            }
            if found.iter().any(|&i| t.uniques[i].deferrable) {
                return Err(deferrable());
            }
            found
        }
        Some(ast::ConflictTarget::OnConstraint(name)) => {
            let n = object_name(name);
            match t.uniques.iter().position(|u| u.name == n && !u.index_only) {
                Some(i) if t.uniques[i].deferrable => return Err(deferrable()),
                Some(i) => vec![i],
                None => {
                    return Err(SqlError::new(
                        "42704",
                        format!("constraint \"{n}\" for table \"{table}\" does not exist"),
                    )
                    .into())
                }
            }
        }
    };
    let alias = ins.table_alias.as_ref().map(|a| ident(&a.alias));
    let update = match &oc.action {
        ast::OnConflictAction::DoNothing => None,
        ast::OnConflictAction::DoUpdate(du) => {
            let mut sets = Vec::new();
            for a in &du.assignments {
                let ast::AssignmentTarget::ColumnName(c) = &a.target else {
                    return Err(SqlError::new("0A000", "terrarium does not support tuple assignment").into());
                };
                let cname = object_name(c);
                let Some(i) = t.column(&cname) else {
                    return Err(SqlError::new(
                        "42703",
                        format!("column \"{cname}\" of relation \"{table}\" does not exist"),
                    )
                    .into());
                };
                sets.push((i, &a.value));
            }
            // Names resolve now, as in PostgreSQL's analysis (a bare column that both the
            // table and EXCLUDED have is ambiguous): tried on rows of NULLs.
            let nulls = vec![Datum::Null; t.columns.len()];
            let (ns, jrow) = scope_parts(t, alias.as_deref(), &nulls, None, &nulls);
            let scope = Scope { ns: &ns, rtable: &ns, row: query::RowRef::Flat(&jrow), ..Scope::empty() };
            for e in sets.iter().map(|s| s.1).chain(du.selection.as_ref()) {
                if let Err(e) = eval(e, &scope, db) {
                    if names_error(&e) {
                        return Err(e);
                    }
                }
            }
            Some((sets, du.selection.as_ref()))
        }
    };
    Ok(Some(Plan { arbiters, update, alias }))
}

/// The two row sources of DO UPDATE's expressions: the existing row (by the table's name or the
/// alias) and `excluded`, the row proposed for insertion.
fn scope_parts<'r>(
    t: &Table,
    alias: Option<&str>,
    existing: &'r Row,
    sys: Option<query::Sys>,
    proposed: &'r Row,
) -> ([query::NsItem; 2], query::JRow<'r>) {
    let target = query::NsItem::table(t, alias);
    let mut excluded = query::NsItem::table(t, Some("excluded"));
    excluded.id = 1;
    excluded.slot = 1;
    let n = t.columns.len();
    for c in &mut excluded.cols {
        if let query::ColSrc::At(i) = c.src {
            c.src = query::ColSrc::At(i + n);
        }
    }
    let mut vals = existing.clone();
    vals.extend(proposed.iter().cloned());
    ([target, excluded], query::JRow { vals: std::borrow::Cow::Owned(vals), sys: vec![sys, None] })
}

/// What became of one proposed row.
pub(super) enum Outcome {
    /// No conflict: insert it.
    Insert,
    /// Skipped (DO NOTHING, or DO UPDATE's WHERE was not true).
    Skipped,
    /// The conflicting row was updated: its new version.
    Updated(Ctid),
}

/// Looks for a conflict of `row` in the arbiters and acts on it (see the module header).
#[allow(clippy::too_many_arguments)]
pub(super) fn on_conflict(
    db: &mut Database,
    sess: &mut Session,
    name: &str,
    plan: &Plan,
    row: &Row,
    xid: Xid,
    cid: u32,
    own: &[Xid],
) -> R<Outcome> {
    let t = sess.txn.as_ref().expect("open");
    let (strict, snapshot) = (t.isolation.transaction_snapshot(), t.snapshot.clone());
    loop {
        let table = &db.tables[name];
        let mut conflict = None;
        for &ui in &plan.arbiters {
            if let Some(c) = unique_holder(db, table, ui, row, own, None)? {
                conflict = Some(c);
                break;
            }
        }
        let Some(ctid) = conflict else { return Ok(Outcome::Insert) };
        let v = table.heap.get(ctid).expect("found in the index").clone();
        if strict {
            if let Some(s) = &snapshot {
                let mut s = s.clone();
                s.own = own.to_vec();
                s.curcid = cid + 1;
                if !db.tx.visible(&s, &v) {
                    return Err(super::concurrent_change_error("update").into());
                }
            }
        }
        let Some((sets, selection)) = &plan.update else { return Ok(Outcome::Skipped) };
        if own.contains(&v.xmin) && v.cmin == cid {
            return Err(SqlError::new("21000", "ON CONFLICT DO UPDATE command cannot affect row a second time")
                .hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
                .into());
        }
        match table.heap.check_writable(&db.tx, ctid, own) {
            Ok(()) => {}
            Err(WriteOutcome::Wait(x)) => return Err(ExecError::Wait(x)),
            // The row was updated or deleted by a transaction that committed meanwhile: look
            // for the conflict again (READ COMMITTED), or fail.
            Err(_) if !strict => continue,
            Err(_) => return Err(super::concurrent_change_error("update").into()),
        }
        let (ns, jrow) = scope_parts(table, plan.alias.as_deref(), &v.row, Some((ctid, v.xmin, v.xmax)), row);
        let scope = Scope { ns: &ns, rtable: &ns, row: query::RowRef::Flat(&jrow), ..Scope::empty() };
        let go = match selection {
            Some(w) => truthy(&eval(w, &scope, db)?),
            None => true,
        };
        if !go {
            // PostgreSQL locks the row even when WHERE leaves it as it is.
            let tx = &db.tx;
            let tab = db.tables.get_mut(name).expect("exists");
            let saved = tab.heap.saved(ctid);
            match tab.heap.lock(tx, ctid, xid, own) {
                WriteOutcome::Ok(_) => db.undo.push((name.to_string(), ctid, saved)),
                WriteOutcome::Wait(x) => return Err(ExecError::Wait(x)),
                _ => {}
            }
            return Ok(Outcome::Skipped);
        }
        let mut new_row = v.row.clone();
        for (i, e) in sets {
            let c = &table.columns[*i];
            new_row[*i] = coerce_col(eval(e, &scope, db)?, &c)?;
        }
        check_row(db, table, &new_row, own, Some(ctid))?;
        match ri::write(db, sess, name, ctid, Some(new_row), xid, cid, own) {
            WriteOutcome::Ok(Some(new)) => return Ok(Outcome::Updated(new)),
            WriteOutcome::Wait(x) => return Err(ExecError::Wait(x)),
            _ if !strict => continue,
            _ => return Err(super::concurrent_change_error("update").into()),
        }
    }
}
