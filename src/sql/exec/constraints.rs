//! CHECK and FOREIGN KEY constraints, plain indexes (CREATE INDEX), and the DDL around them:
//! defining them in CREATE TABLE and ALTER TABLE, naming them as PostgreSQL does, dropping them
//! (DROP CONSTRAINT, DROP INDEX) and refusing to drop what they depend on (DROP TABLE of a
//! referenced table, 2BP01, unless CASCADE).
//!
//! NOT NULL, PRIMARY KEY and UNIQUE live in [`Table`] itself (`columns`, `uniques`, `index`);
//! the rest lives beside the tables in `Database::constraints`, keyed by table name:
//!
//! ```text
//!   Database.constraints["orders"] = Constraints {
//!     checks:       [orders_qty_check CHECK (qty > 0)]            evaluated by check_row
//!     foreign_keys: [orders_customer_fkey (customer) → customers(id) ON DELETE CASCADE]
//!                                                                  enforced by `ri`
//!     indexes:      [orders_customer_idx (customer)]              plain CREATE INDEX
//!   }
//! ```
//!
//! A CREATE UNIQUE INDEX becomes a `Unique` with `index_only` set, so uniqueness, ON CONFLICT
//! and lookups treat it like a UNIQUE constraint. Everything here is DDL, logged as its
//! statement's text and replayed like CREATE TABLE.

use std::collections::{HashMap, HashSet};

use super::*;

/// The constraints and indexes of one table beyond NOT NULL and UNIQUE.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    pub checks: Vec<Check>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<PlainIndex>,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub expr: Expr,
}

/// What happens to referencing rows when their referenced key goes away (the SQL names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Action {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub name: String,
    /// The referencing columns, in the constraint's order.
    pub columns: Vec<usize>,
    pub parent: String,
    /// The referenced columns, paired with `columns`.
    pub parent_columns: Vec<usize>,
    /// The referenced table's unique constraint or index the key is looked up in (and which
    /// cannot be dropped while this constraint exists).
    pub parent_unique: String,
    pub on_delete: Action,
    pub on_update: Action,
    /// MATCH FULL: all key columns NULL or none (the default, MATCH SIMPLE, skips a key with any NULL).
    pub match_full: bool,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// Creation order, for listing dependents as PostgreSQL does.
    pub seq: u64,
}

/// CREATE INDEX without UNIQUE: a hash index over the key's text, like the unique ones, used to
/// find rows by `column = value`.
#[derive(Debug, Clone)]
pub struct PlainIndex {
    pub name: String,
    pub columns: Vec<usize>,
    pub map: HashMap<Vec<String>, Vec<Ctid>>,
}

impl PlainIndex {
    fn add(&mut self, ctid: Ctid, row: &Row) {
        let key: Option<Vec<String>> = self.columns.iter().map(|&i| row[i].to_text()).collect();
        // NULL keys are never looked up by equality.
        if let Some(key) = key {
            self.map.entry(key).or_default().push(ctid);
        }
    }
}

/// Records a new version in every index of its table: the unique ones and the plain ones.
///
/// Index entries are only ever added, one per version, so a row updated over and over (pgbench's
/// branch row) collects a long list under its key, and every lookup of the key walks it. So
/// each time a key gets a new entry, its list drops the entries of versions no snapshot can see
/// any more (the ones VACUUM would remove), once it is longer than [`INDEX_PRUNE_ENTRIES_MIN`].
/// The versions stay in the heap (dead tuples, for `pg_stat_user_tables` and VACUUM); only the
/// index forgets them, as PostgreSQL marks such index entries dead when a scan meets them.
pub(super) fn index_row(db: &mut Database, table: &str, ctid: Ctid) {
    let tx = &db.tx;
    let Some(t) = db.tables.get_mut(table) else { return };
    let Some(row) = t.heap.get(ctid).map(|v| v.row.clone()) else { return };
    t.index_add(ctid, &row);
    let horizon = tx.horizon();
    let dead_to_all = |c: &Ctid| match t.heap.get(*c) {
        None => true,
        Some(v) => {
            tx.status(v.xmin) == super::super::mvcc::Status::Aborted
                || (v.xmax != 0
                    && !v.lock_only
                    && tx.status(v.xmax) == super::super::mvcc::Status::Committed
                    && tx.top(v.xmax) < horizon)
        }
    };
    for (u, idx) in t.uniques.iter().zip(t.index.iter_mut()) {
        let key: Option<Vec<String>> = u.columns.iter().map(|&i| row[i].to_text()).collect();
        if let Some(list) = key.and_then(|k| idx.get_mut(&k)) {
            if list.len() > INDEX_PRUNE_ENTRIES_MIN {
                list.retain(|c| !dead_to_all(c));
            }
        }
    }
    if let Some(c) = db.constraints.get_mut(table) {
        for i in &mut c.indexes {
            i.add(ctid, &row);
            let key: Option<Vec<String>> = i.columns.iter().map(|&n| row[n].to_text()).collect();
            if let Some(list) = key.and_then(|k| i.map.get_mut(&k)) {
                if list.len() > INDEX_PRUNE_ENTRIES_MIN {
                    list.retain(|c| !dead_to_all(c));
                }
            }
        }
    }
}

/// Below this many entries under one key, pruning would cost more than walking them.
const INDEX_PRUNE_ENTRIES_MIN: usize = 8;

/// The versions a plain index on exactly `[column]` lists for `key`, if there is such an index.
pub(super) fn plain_candidates(db: &Database, table: &str, column: usize, key: &str) -> Option<Vec<Ctid>> {
    let c = db.constraints.get(table)?;
    let i = c.indexes.iter().find(|i| i.columns == [column])?;
    Some(i.map.get(&[key.to_string()][..]).cloned().unwrap_or_default())
}

// ------------------------------------------------------------------------------------------------
// Names.
// ------------------------------------------------------------------------------------------------

/// PostgreSQL's `makeObjectName`: `name1_name2_label`, the longer of the two names cut (at a
/// character boundary) until the whole fits in 63 bytes.
fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    const NAME_BYTES_MAX: usize = 63;
    let overhead = label.len() + 1 + usize::from(name2.is_some());
    let avail = NAME_BYTES_MAX.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let cut = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut out = cut(name1, n1);
    if let Some(n) = name2 {
        out.push('_');
        out.push_str(&cut(n, n2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// PostgreSQL's `ChooseConstraintName` / `ChooseRelationName`: the first of `t_col_label`,
/// `t_col_label1`, `t_col_label2`, ... that `taken` does not hold.
fn choose_name(taken: &HashSet<String>, name1: &str, name2: Option<&str>, label: &str) -> String {
    let mut pass = 0;
    loop {
        let l = if pass == 0 { label.to_string() } else { format!("{label}{pass}") };
        let name = make_object_name(name1, name2, &l);
        if !taken.contains(&name) {
            return name;
        }
        pass += 1;
    }
}

/// Every constraint name in the database (PostgreSQL checks a schema's).
fn constraint_names(db: &Database) -> HashSet<String> {
    let mut out = HashSet::new();
    for t in db.tables.values() {
        out.extend(t.uniques.iter().filter(|u| !u.index_only).map(|u| u.name.clone()));
    }
    for c in db.constraints.values() {
        out.extend(c.checks.iter().map(|x| x.name.clone()));
        out.extend(c.foreign_keys.iter().map(|x| x.name.clone()));
    }
    out
}

/// Every relation name: tables and indexes share one namespace, as in pg_class.
pub(super) fn relation_names(db: &Database) -> HashSet<String> {
    let mut out: HashSet<String> = db.tables.keys().cloned().collect();
    for t in db.tables.values() {
        out.extend(t.uniques.iter().map(|u| u.name.clone()));
    }
    for c in db.constraints.values() {
        out.extend(c.indexes.iter().map(|i| i.name.clone()));
    }
    out
}

/// `DEFERRABLE` / `INITIALLY DEFERRED`: (deferrable, initially deferred). INITIALLY DEFERRED
/// alone implies DEFERRABLE.
pub(super) fn characteristics(c: Option<&ast::ConstraintCharacteristics>) -> R<(bool, bool)> {
    let Some(c) = c else { return Ok((false, false)) };
    let deferred = matches!(c.initially, Some(ast::DeferrableInitial::Deferred));
    match c.deferrable {
        Some(false) if deferred => {
            Err(SqlError::new("42601", "constraint declared INITIALLY DEFERRED must be DEFERRABLE").into())
        }
        Some(d) => Ok((d, deferred)),
        None => Ok((deferred, deferred)),
    }
}

// ------------------------------------------------------------------------------------------------
// CREATE TABLE and ALTER TABLE.
// ------------------------------------------------------------------------------------------------

/// A CHECK or FOREIGN KEY found in a CREATE TABLE or ALTER TABLE, before it is defined.
pub(super) enum Pending<'a> {
    Check { name: Option<String>, expr: &'a Expr },
    ForeignKey { name: Option<String>, columns: Vec<String>, fk: &'a ast::ForeignKeyConstraint },
}

/// The CHECK and FOREIGN KEY constraints of a CREATE TABLE, column ones first (in column
/// order), then the table ones, as PostgreSQL defines them.
pub(super) fn pending_of(ct: &ast::CreateTable) -> Vec<Pending<'_>> {
    let mut out = Vec::new();
    for c in &ct.columns {
        out.extend(pending_of_column(c));
    }
    for tc in &ct.constraints {
        if let Some(p) = pending_table_constraint(tc) {
            out.push(p);
        }
    }
    out
}

/// A column's CHECK and REFERENCES options.
pub(super) fn pending_of_column(c: &ast::ColumnDef) -> Vec<Pending<'_>> {
    let mut out = Vec::new();
    for o in &c.options {
        let given = o.name.as_ref().map(ident);
        match &o.option {
            ColumnOption::Check(ch) => {
                out.push(Pending::Check { name: given.or(ch.name.as_ref().map(ident)), expr: &ch.expr })
            }
            ColumnOption::ForeignKey(fk) => out.push(Pending::ForeignKey {
                name: given.or(fk.name.as_ref().map(ident)),
                columns: vec![ident(&c.name)],
                fk,
            }),
            _ => {}
        }
    }
    out
}

pub(super) fn pending_table_constraint(tc: &ast::TableConstraint) -> Option<Pending<'_>> {
    match tc {
        ast::TableConstraint::Check(ch) => Some(Pending::Check { name: ch.name.as_ref().map(ident), expr: &ch.expr }),
        ast::TableConstraint::ForeignKey(fk) => Some(Pending::ForeignKey {
            name: fk.name.as_ref().map(ident),
            columns: fk.columns.iter().map(ident).collect(),
            fk,
        }),
        _ => None,
    }
}

/// Defines CHECK and FOREIGN KEY constraints on `table`. With `validate`, the rows the table
/// holds (as `snapshot` sees them) must satisfy them first, as ALTER TABLE ... ADD requires.
pub(super) fn define(db: &mut Database, table: &str, pending: Vec<Pending>, validate: Option<&Snapshot>) -> R<()> {
    // All or nothing: a failure takes back the constraints defined before it.
    let before = db.constraints.get(table).cloned();
    let r = define_each(db, table, pending, validate);
    if r.is_err() {
        match before {
            Some(c) => db.constraints.insert(table.to_string(), c),
            None => db.constraints.remove(table),
        };
    }
    r
}

fn define_each(db: &mut Database, table: &str, pending: Vec<Pending>, validate: Option<&Snapshot>) -> R<()> {
    // Names chosen in this statement count as taken for the next ones.
    let mut names = Names { taken: constraint_names(db), this_command: HashSet::new() };
    for p in pending {
        match p {
            Pending::Check { name, expr } => add_check(db, table, name, expr, &mut names, validate)?,
            Pending::ForeignKey { name, columns, fk } => {
                add_foreign_key(db, table, name, &columns, fk, &mut names, validate)?
            }
        }
    }
    Ok(())
}

/// The constraint names in use, and those given in the running statement.
struct Names {
    taken: HashSet<String>,
    this_command: HashSet<String>,
}

impl Names {
    fn add(&mut self, n: &str) {
        self.taken.insert(n.to_string());
        self.this_command.insert(n.to_string());
    }
}

fn already_exists(db: &Database, table: &str, name: &str) -> bool {
    db.tables.get(table).is_some_and(|t| t.uniques.iter().any(|u| !u.index_only && u.name == name))
        || db
            .constraints
            .get(table)
            .is_some_and(|c| c.checks.iter().any(|x| x.name == name) || c.foreign_keys.iter().any(|x| x.name == name))
}

/// The table columns an expression names (without qualifiers or with the table's own).
fn columns_named(e: &Expr, t: &Table, out: &mut Vec<usize>) {
    use std::ops::ControlFlow;
    let _ = ast::visit_expressions(e, |x| {
        let name = match x {
            Expr::Identifier(i) => Some(ident(i)),
            Expr::CompoundIdentifier(p) => p.last().map(ident),
            _ => None,
        };
        if let Some(i) = name.and_then(|n| t.column(&n)) {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// What a CHECK expression may not hold: subqueries (0A000) and aggregates (42803).
fn check_expression_allowed(e: &Expr) -> R<()> {
    use std::ops::ControlFlow;
    let found = ast::visit_expressions(e, |x| match x {
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::In { target: ast::InTarget::Subquery(_), .. } => {
            ControlFlow::Break("0A000")
        }
        Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } if matches!(right.as_ref(), Expr::Subquery(_)) => {
            ControlFlow::Break("0A000")
        }
        Expr::Function(f) if is_aggregate(&function_name(f)) => ControlFlow::Break("42803"),
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break("0A000") => Err(SqlError::new("0A000", "cannot use subquery in check constraint").into()),
        ControlFlow::Break(_) => {
            Err(SqlError::new("42803", "aggregate functions are not allowed in check constraints").into())
        }
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// A scope over one (not yet stored) row of `t`, for CHECK expressions.
fn row_scope<'a>(ns: &'a [query::NsItem], row: &'a query::JRow<'a>) -> Scope<'a> {
    Scope { ns, rtable: ns, row: query::RowRef::Flat(row), ..Scope::empty() }
}

fn add_check(
    db: &mut Database,
    table: &str,
    name: Option<String>,
    expr: &Expr,
    names: &mut Names,
    validate: Option<&Snapshot>,
) -> R<()> {
    let t = db.tables.get(table).expect("checked by the caller");
    check_expression_allowed(expr)?;
    // Names are resolved now, as PostgreSQL's parse analysis does: a row of NULLs finds an
    // unknown column without computing anything that could fail on real values.
    let ns = [query::NsItem::table(t, None)];
    let nulls = query::JRow { vals: std::borrow::Cow::Owned(vec![Datum::Null; t.columns.len()]), sys: vec![None] };
    if let Err(ExecError::Sql(e)) = eval(expr, &row_scope(&ns, &nulls), db) {
        if matches!(e.code, "42703" | "42P01" | "42702") {
            return Err(e.into());
        }
    }
    let ty = static_type(expr, &Scope { ns: &ns, rtable: &ns, ..Scope::empty() }, db);
    if ty.is_integer() || matches!(ty, SqlType::Numeric | SqlType::Float4 | SqlType::Float8) {
        return Err(
            SqlError::new("42804", format!("argument of CHECK must be type boolean, not type {}", ty.name())).into()
        );
    }
    let name = match name {
        Some(n) => {
            if names.this_command.contains(&n) {
                return Err(SqlError::new("42710", format!("check constraint \"{n}\" already exists")).into());
            }
            if already_exists(db, table, &n) {
                return Err(SqlError::new(
                    "42710",
                    format!("constraint \"{n}\" for relation \"{table}\" already exists"),
                )
                .into());
            }
            n
        }
        None => {
            // `t_col_check` when the expression names exactly one column, else `t_check`.
            let mut cols = Vec::new();
            columns_named(expr, t, &mut cols);
            let col = match cols.as_slice() {
                [one] => Some(t.columns[*one].name.clone()),
                _ => None,
            };
            choose_name(&names.taken, table, col.as_deref(), "check")
        }
    };
    if let Some(snap) = validate {
        for (_, v) in t.heap.scan(&db.tx, snap) {
            let row = query::JRow { vals: std::borrow::Cow::Borrowed(&v.row), sys: vec![None] };
            if eval(expr, &row_scope(&ns, &row), db)? == Datum::Bool(false) {
                return Err(SqlError::new(
                    "23514",
                    format!("check constraint \"{name}\" of relation \"{table}\" is violated by some row"),
                )
                .into());
            }
        }
    }
    names.add(&name);
    db.constraints.entry(table.to_string()).or_default().checks.push(Check { name, expr: expr.clone() });
    Ok(())
}

/// CHECK constraints for a row about to be written, in name order (as PostgreSQL's relcache
/// sorts them): the first that is false is 23514. NULL passes, as in SQL.
pub(super) fn check_checks(db: &Database, table: &Table, row: &Row) -> R<()> {
    let Some(c) = db.constraints.get(&table.name) else { return Ok(()) };
    if c.checks.is_empty() {
        return Ok(());
    }
    let mut checks: Vec<&Check> = c.checks.iter().collect();
    checks.sort_by(|a, b| a.name.cmp(&b.name));
    let ns = [query::NsItem::table(table, None)];
    let jrow = query::JRow { vals: std::borrow::Cow::Borrowed(row), sys: vec![None] };
    for ch in checks {
        if eval(&ch.expr, &row_scope(&ns, &jrow), db)? == Datum::Bool(false) {
            return Err(SqlError::new(
                "23514",
                format!("new row for relation \"{}\" violates check constraint \"{}\"", table.name, ch.name),
            )
            .detail(failing_row(row))
            .into());
        }
    }
    Ok(())
}

fn action(a: Option<&ast::ReferentialAction>) -> Action {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => Action::NoAction,
        Some(ast::ReferentialAction::Restrict) => Action::Restrict,
        Some(ast::ReferentialAction::Cascade) => Action::Cascade,
        Some(ast::ReferentialAction::SetNull) => Action::SetNull,
        Some(ast::ReferentialAction::SetDefault) => Action::SetDefault,
    }
}

/// Which types a key column and the column it references may have: PostgreSQL needs an
/// equality operator between them; terrarium compares within these families.
fn type_family(t: SqlType) -> u8 {
    match t {
        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Float4 | SqlType::Float8 | SqlType::Numeric => 0,
        SqlType::Text | SqlType::Varchar | SqlType::Name | SqlType::Char | SqlType::Unknown => 1,
        SqlType::Bool => 2,
        SqlType::Timestamp => 3,
        SqlType::Timestamptz => 4,
        _ => 5,
    }
}

fn declared_type_name(c: &Column) -> String {
    match (&c.declared, c.ty) {
        (Some(d), SqlType::Varchar) if d.to_string().to_lowercase().starts_with("char") => "character".into(),
        _ => c.ty.name().to_string(),
    }
}

fn add_foreign_key(
    db: &mut Database,
    table: &str,
    name: Option<String>,
    columns: &[String],
    fk: &ast::ForeignKeyConstraint,
    names: &mut Names,
    validate: Option<&Snapshot>,
) -> R<()> {
    let missing = |c: &str| {
        ExecError::from(SqlError::new(
            "42703",
            format!("column \"{c}\" referenced in foreign key constraint does not exist"),
        ))
    };
    let t = db.tables.get(table).expect("checked by the caller");
    let mut cols = Vec::new();
    for c in columns {
        cols.push(t.column(c).ok_or_else(|| missing(c))?);
    }
    let parent_name = object_name(&fk.foreign_table);
    let Some(p) = db.tables.get(&parent_name) else {
        return Err(SqlError::new("42P01", format!("relation \"{parent_name}\" does not exist")).into());
    };
    if matches!(fk.match_kind, Some(ast::ConstraintReferenceMatchKind::Partial)) {
        return Err(SqlError::new("0A000", "MATCH PARTIAL not yet implemented").into());
    }
    // The referenced key: the primary key, or the unique constraint or index with exactly the
    // named columns (in any order). A deferrable one cannot be used.
    let (parent_cols, unique) = if fk.referred_columns.is_empty() {
        let Some(pk) = p.uniques.iter().find(|u| u.primary) else {
            return Err(SqlError::new(
                "42704",
                format!("there is no primary key for referenced table \"{parent_name}\""),
            )
            .into());
        };
        if pk.deferrable {
            return Err(SqlError::new(
                "55000",
                format!("cannot use a deferrable primary key for referenced table \"{parent_name}\""),
            )
            .into());
        }
        (pk.columns.clone(), pk.name.clone())
    } else {
        let mut pc = Vec::new();
        for c in &fk.referred_columns {
            let n = ident(c);
            pc.push(p.column(&n).ok_or_else(|| missing(&n))?);
        }
        let same_set = |u: &Unique| {
            u.columns.len() == pc.len() && pc.iter().all(|c| u.columns.contains(c)) && {
                let mut a = u.columns.clone();
                a.sort_unstable();
                a.dedup();
                a.len() == pc.len()
            }
        };
        match p.uniques.iter().find(|u| same_set(u) && !u.deferrable) {
            Some(u) => (pc, u.name.clone()),
            None if p.uniques.iter().any(same_set) => {
                return Err(SqlError::new(
                    "55000",
                    format!("cannot use a deferrable unique constraint for referenced table \"{parent_name}\""),
                )
                .into())
            }
            None => {
                return Err(SqlError::new(
                    "42830",
                    format!("there is no unique constraint matching given keys for referenced table \"{parent_name}\""),
                )
                .into())
            }
        }
    };
    if parent_cols.len() != cols.len() {
        return Err(
            SqlError::new("42830", "number of referencing and referenced columns for foreign key disagree").into()
        );
    }
    let name = match name {
        Some(n) => {
            if already_exists(db, table, &n) {
                return Err(SqlError::new(
                    "42710",
                    format!("constraint \"{n}\" for relation \"{table}\" already exists"),
                )
                .into());
            }
            n
        }
        None => {
            let addition: Vec<&str> = cols.iter().map(|&i| t.columns[i].name.as_str()).collect();
            choose_name(&names.taken, table, Some(&addition.join("_")), "fkey")
        }
    };
    for (&c, &pc) in cols.iter().zip(&parent_cols) {
        let (a, b) = (&t.columns[c], &p.columns[pc]);
        if type_family(a.ty) != type_family(b.ty) {
            return Err(SqlError::new("42804", format!("foreign key constraint \"{name}\" cannot be implemented"))
                .detail(format!(
                    "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                    a.name,
                    b.name,
                    declared_type_name(a),
                    declared_type_name(b)
                ))
                .into());
        }
    }
    let (deferrable, initially_deferred) = characteristics(fk.characteristics.as_ref())?;
    db.constraint_seq += 1;
    let def = ForeignKey {
        name: name.clone(),
        columns: cols,
        parent: parent_name,
        parent_columns: parent_cols,
        parent_unique: unique,
        on_delete: action(fk.on_delete.as_ref()),
        on_update: action(fk.on_update.as_ref()),
        match_full: matches!(fk.match_kind, Some(ast::ConstraintReferenceMatchKind::Full)),
        deferrable,
        initially_deferred,
        seq: db.constraint_seq,
    };
    if let Some(snap) = validate {
        // ALTER TABLE ... ADD FOREIGN KEY: every row already there must find its key (the
        // first that does not is reported as an INSERT's would be).
        let rows: Vec<Row> = db.tables[table].heap.scan(&db.tx, snap).map(|(_, v)| v.row.clone()).collect();
        for row in rows {
            ri::check_key_present(db, table, &def, &row, snap)?;
        }
    }
    names.add(&name);
    db.constraints.entry(table.to_string()).or_default().foreign_keys.push(def);
    Ok(())
}

/// ALTER TABLE t DROP CONSTRAINT [IF EXISTS] name [CASCADE]: a CHECK, a FOREIGN KEY, or a
/// UNIQUE / PRIMARY KEY (with its index; foreign keys using that index block it, 2BP01, unless
/// CASCADE drops them too).
pub(super) fn drop_constraint(
    db: &mut Database,
    sess: &mut Session,
    table: &str,
    name: &str,
    if_exists: bool,
    cascade: bool,
) -> R<()> {
    if let Some(c) = db.constraints.get_mut(table) {
        if let Some(i) = c.checks.iter().position(|x| x.name == name) {
            c.checks.remove(i);
            return Ok(());
        }
        if let Some(i) = c.foreign_keys.iter().position(|x| x.name == name) {
            c.foreign_keys.remove(i);
            return Ok(());
        }
    }
    let t = db.tables.get(table).expect("checked by the caller");
    let Some(ui) = t.uniques.iter().position(|u| u.name == name && !u.index_only) else {
        if if_exists {
            sess.notices.push(SqlError::notice(
                "NOTICE",
                "00000",
                format!("constraint \"{name}\" of relation \"{table}\" does not exist, skipping"),
            ));
            return Ok(());
        }
        return Err(
            SqlError::new("42704", format!("constraint \"{name}\" of relation \"{table}\" does not exist")).into()
        );
    };
    let dependents = fks_using_index(db, table, name);
    if !dependents.is_empty() {
        let lines: Vec<String> =
            dependents.iter().map(|(t, f)| format!("constraint {f} on table {t} depends on index {name}")).collect();
        if !cascade {
            return Err(SqlError::new(
                "2BP01",
                format!("cannot drop constraint {name} on table {table} because other objects depend on it"),
            )
            .detail(lines.join("\n"))
            .hint("Use DROP ... CASCADE to drop the dependent objects too.")
            .into());
        }
        cascade_notice(sess, &dependents);
        drop_fks(db, &dependents);
    }
    let t = db.tables.get_mut(table).expect("checked");
    t.uniques.remove(ui);
    if ui < t.index.len() {
        t.index.remove(ui);
    }
    Ok(())
}

/// The foreign keys (table, constraint) whose lookups go through `table`'s unique index `index`.
fn fks_using_index(db: &Database, table: &str, index: &str) -> Vec<(String, String)> {
    let mut out: Vec<(u64, String, String)> = Vec::new();
    for (t, c) in &db.constraints {
        for f in &c.foreign_keys {
            if f.parent == table && f.parent_unique == index {
                out.push((f.seq, t.clone(), f.name.clone()));
            }
        }
    }
    out.sort();
    out.into_iter().map(|(_, t, f)| (t, f)).collect()
}

fn cascade_notice(sess: &mut Session, dependents: &[(String, String)]) {
    let lines: Vec<String> =
        dependents.iter().map(|(t, f)| format!("drop cascades to constraint {f} on table {t}")).collect();
    let notice = if lines.len() == 1 {
        SqlError::notice("NOTICE", "00000", lines[0].clone())
    } else {
        SqlError::notice("NOTICE", "00000", format!("drop cascades to {} other objects", lines.len()))
            .detail(lines.join("\n"))
    };
    sess.notices.push(notice);
}

fn drop_fks(db: &mut Database, which: &[(String, String)]) {
    for (t, f) in which {
        if let Some(c) = db.constraints.get_mut(t) {
            c.foreign_keys.retain(|x| &x.name != f);
        }
    }
}

/// DROP TABLE: the foreign keys of tables not being dropped that reference the ones being
/// dropped block it (2BP01) unless CASCADE, which drops those constraints (with a NOTICE).
pub(super) fn drop_table_dependents(db: &mut Database, sess: &mut Session, names: &[String], cascade: bool) -> R<()> {
    let mut dependents: Vec<(u64, String, String, String)> = Vec::new();
    for (t, c) in &db.constraints {
        if names.contains(t) {
            continue;
        }
        for f in &c.foreign_keys {
            if names.contains(&f.parent) {
                dependents.push((f.seq, t.clone(), f.name.clone(), f.parent.clone()));
            }
        }
    }
    if dependents.is_empty() {
        return Ok(());
    }
    dependents.sort();
    if !cascade {
        let first = &dependents[0].3;
        let lines: Vec<String> =
            dependents.iter().map(|(_, t, f, p)| format!("constraint {f} on table {t} depends on table {p}")).collect();
        return Err(SqlError::new("2BP01", format!("cannot drop table {first} because other objects depend on it"))
            .detail(lines.join("\n"))
            .hint("Use DROP ... CASCADE to drop the dependent objects too.")
            .into());
    }
    let pairs: Vec<(String, String)> = dependents.into_iter().map(|(_, t, f, _)| (t, f)).collect();
    cascade_notice(sess, &pairs);
    drop_fks(db, &pairs);
    Ok(())
}

/// A table is gone (DROP TABLE, or its replay): its own constraints and indexes go with it,
/// and so do foreign keys elsewhere that referenced it (the caller has checked or cascaded).
pub(super) fn forget_table(db: &mut Database, name: &str) {
    db.constraints.remove(name);
    db.key_locks.remove(name);
    for c in db.constraints.values_mut() {
        c.foreign_keys.retain(|f| f.parent != name);
    }
}

/// TRUNCATE of a table other tables reference is refused (0A000) unless they are truncated in
/// the same statement; with CASCADE they are added to it (with a NOTICE each).
pub(super) fn truncate_targets(db: &Database, sess: &mut Session, names: &mut Vec<String>, cascade: bool) -> R<()> {
    let mut i = 0;
    while i < names.len() {
        let target = names[i].clone();
        let referencing: Vec<String> = db
            .constraints
            .iter()
            .filter(|(_, c)| c.foreign_keys.iter().any(|f| f.parent == target))
            .map(|(t, _)| t.clone())
            .collect();
        for r in referencing {
            if names.contains(&r) {
                continue;
            }
            if !cascade {
                return Err(SqlError::new("0A000", "cannot truncate a table referenced in a foreign key constraint")
                    .detail(format!("Table \"{r}\" references \"{target}\"."))
                    .hint(format!("Truncate table \"{r}\" at the same time, or use TRUNCATE ... CASCADE."))
                    .into());
            }
            sess.notices.push(SqlError::notice("NOTICE", "00000", format!("truncate cascades to table \"{r}\"")));
            names.push(r);
        }
        i += 1;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// CREATE INDEX and DROP INDEX.
// ------------------------------------------------------------------------------------------------

/// CREATE [UNIQUE] INDEX [IF NOT EXISTS] [name] ON t [USING btree | hash] (columns): a hash
/// index over the columns' text (terrarium has no ordered index; PostgreSQL would build a
/// B-tree), used for `column = value` lookups and, when UNIQUE, for uniqueness and ON CONFLICT.
/// Logged to the WAL as its text, so the same name is chosen again on replay.
pub(super) fn create_index(db: &mut Database, sess: &mut Session, ci: &ast::CreateIndex) -> R<Output> {
    let table = object_name(&ci.table_name);
    let Some(t) = db.tables.get(&table) else {
        return Err(SqlError::new("42P01", format!("relation \"{table}\" does not exist")).into());
    };
    if ci.predicate.is_some() {
        return Err(SqlError::new("0A000", "terrarium does not support partial indexes yet").into());
    }
    if !ci.include.is_empty() {
        return Err(SqlError::new("0A000", "terrarium does not support INCLUDE in indexes yet").into());
    }
    let mut cols = Vec::new();
    for ic in &ci.columns {
        let name = match &ic.column.expr {
            Expr::Identifier(i) => ident(i),
            Expr::Nested(inner) if matches!(inner.as_ref(), Expr::Identifier(_)) => inner.to_string().to_lowercase(),
            _ => return Err(SqlError::new("0A000", "terrarium does not support indexes on expressions yet").into()),
        };
        let Some(i) = t.column(&name) else {
            return Err(SqlError::new("42703", format!("column \"{name}\" does not exist")).into());
        };
        cols.push(i);
    }
    let relations = relation_names(db);
    let name = match &ci.name {
        Some(n) => {
            let n = object_name(n);
            if relations.contains(&n) {
                if ci.if_not_exists {
                    sess.notices.push(SqlError::notice(
                        "NOTICE",
                        "42P07",
                        format!("relation \"{n}\" already exists, skipping"),
                    ));
                    return Ok(Output::Command("CREATE INDEX".into()));
                }
                return Err(SqlError::new("42P07", format!("relation \"{n}\" already exists")).into());
            }
            n
        }
        None => {
            let addition: Vec<&str> = cols.iter().map(|&i| t.columns[i].name.as_str()).collect();
            choose_name(&relations, &table, Some(&addition.join("_")), "idx")
        }
    };
    // Build from every version the table holds (lookups re-check visibility).
    let mut map: HashMap<Vec<String>, Vec<Ctid>> = HashMap::new();
    for (ctid, v) in t.heap.all() {
        let key: Option<Vec<String>> = cols.iter().map(|&i| v.row[i].to_text()).collect();
        if let Some(k) = key {
            map.entry(k).or_default().push(ctid);
        }
    }
    if ci.unique {
        if !sess.replaying {
            // Two live rows with one key refuse the index, as PostgreSQL's build does (rows
            // of running transactions count as live; PostgreSQL would wait for them).
            let live = |v: &Version<Row>| {
                db.tx.status(v.xmin) != super::super::mvcc::Status::Aborted
                    && (v.xmax == 0 || v.lock_only || db.tx.status(v.xmax) != super::super::mvcc::Status::Committed)
            };
            let mut seen = HashSet::new();
            for (_, v) in t.heap.all() {
                let key: Option<Vec<String>> = cols.iter().map(|&i| v.row[i].to_text()).collect();
                if let Some(k) = key {
                    if live(v) && !seen.insert(k.clone()) {
                        let names: Vec<&str> = cols.iter().map(|&i| t.columns[i].name.as_str()).collect();
                        return Err(SqlError::new("23505", format!("could not create unique index \"{name}\""))
                            .detail(format!("Key ({})=({}) is duplicated.", names.join(", "), k.join(", ")))
                            .into());
                    }
                }
            }
        }
        let t = db.tables.get_mut(&table).expect("checked");
        t.index.resize_with(t.uniques.len(), Default::default);
        let mut u = Unique::new(name, cols, false);
        u.index_only = true;
        t.uniques.push(u);
        t.index.push(map);
    } else {
        db.constraints.entry(table.clone()).or_default().indexes.push(PlainIndex { name, columns: cols, map });
    }
    log_ddl(db, super::super::wal::WalEntry::CreateTable { name: table, sql: ci.to_string() })?;
    Ok(Output::Command("CREATE INDEX".into()))
}

/// DROP INDEX [IF EXISTS] name [, ...] [CASCADE]: a plain index, or a unique index made by
/// CREATE UNIQUE INDEX (a constraint's index goes only with the constraint, 2BP01).
pub(super) fn drop_index(
    db: &mut Database,
    sess: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> R<Output> {
    // Everything is checked before anything is dropped.
    let mut found: Vec<(String, String)> = Vec::new();
    for n in names {
        let name = object_name(n);
        let owner = db
            .tables
            .iter()
            .find(|(_, t)| t.uniques.iter().any(|u| u.name == name))
            .map(|(k, _)| k.clone())
            .or_else(|| {
                db.constraints.iter().find(|(_, c)| c.indexes.iter().any(|i| i.name == name)).map(|(k, _)| k.clone())
            });
        match owner {
            Some(t) => {
                if let Some(u) = db.tables[&t].uniques.iter().find(|u| u.name == name && !u.index_only) {
                    return Err(SqlError::new(
                        "2BP01",
                        format!("cannot drop index {name} because constraint {} on table {t} requires it", u.name),
                    )
                    .hint(format!("You can drop constraint {} on table {t} instead.", u.name))
                    .into());
                }
                let dependents = fks_using_index(db, &t, &name);
                if !dependents.is_empty() && !cascade {
                    let lines: Vec<String> = dependents
                        .iter()
                        .map(|(dt, f)| format!("constraint {f} on table {dt} depends on index {name}"))
                        .collect();
                    return Err(SqlError::new(
                        "2BP01",
                        format!("cannot drop index {name} because other objects depend on it"),
                    )
                    .detail(lines.join("\n"))
                    .hint("Use DROP ... CASCADE to drop the dependent objects too.")
                    .into());
                }
                found.push((t, name));
            }
            None if if_exists => sess.notices.push(SqlError::notice(
                "NOTICE",
                "00000",
                format!("index \"{name}\" does not exist, skipping"),
            )),
            None => return Err(SqlError::new("42704", format!("index \"{name}\" does not exist")).into()),
        }
    }
    for (t, name) in &found {
        let dependents = fks_using_index(db, t, name);
        if !dependents.is_empty() {
            cascade_notice(sess, &dependents);
            drop_fks(db, &dependents);
        }
        let tab = db.tables.get_mut(t).expect("found");
        if let Some(ui) = tab.uniques.iter().position(|u| &u.name == name) {
            tab.uniques.remove(ui);
            if ui < tab.index.len() {
                tab.index.remove(ui);
            }
        }
        if let Some(c) = db.constraints.get_mut(t) {
            c.indexes.retain(|i| &i.name != name);
        }
    }
    if !found.is_empty() {
        let list: Vec<String> = found.iter().map(|(_, n)| format!("\"{n}\"")).collect();
        let sql = format!("DROP INDEX {}{}", list.join(", "), if cascade { " CASCADE" } else { "" });
        log_ddl(db, super::super::wal::WalEntry::CreateTable { name: found[0].0.clone(), sql })?;
    }
    Ok(Output::Command("DROP INDEX".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_chosen_and_cut_as_postgres_does() {
        let taken: HashSet<String> = ["t_a_check".to_string(), "t_a_check1".to_string()].into();
        assert_eq!(choose_name(&taken, "t", Some("a"), "check"), "t_a_check2");
        assert_eq!(choose_name(&taken, "t", None, "check"), "t_check");
        // 63 bytes at most: the longer part is cut first.
        let long = "x".repeat(70);
        let name = make_object_name(&long, Some("col"), "fkey");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_col_fkey"));
        let both = make_object_name(&"a".repeat(40), Some(&"b".repeat(40)), "key");
        assert_eq!(both, format!("{}_{}_key", "a".repeat(29), "b".repeat(29)));
    }

    #[test]
    fn characteristics_follow_postgres_defaults() {
        let c = |deferrable, initially| ast::ConstraintCharacteristics { deferrable, initially, enforced: None };
        assert_eq!(characteristics(None).unwrap(), (false, false));
        assert_eq!(characteristics(Some(&c(Some(true), None))).unwrap(), (true, false));
        assert_eq!(characteristics(Some(&c(None, Some(ast::DeferrableInitial::Deferred)))).unwrap(), (true, true));
        assert!(characteristics(Some(&c(Some(false), Some(ast::DeferrableInitial::Deferred)))).is_err());
    }
}
