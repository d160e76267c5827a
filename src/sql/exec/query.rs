//! Queries in full: FROM with several items and joins, subqueries, WITH, set operations.
//!
//! # Life of `SELECT a.name, count(*) FROM a JOIN b ON b.a_id = a.id GROUP BY a.name`
//!
//! ```text
//!   plan_query                        names are resolved before any row is read, so the errors
//!     WITH queries, in order          PostgreSQL's parser raises (42P01, 42703, 42702, 42601 ...)
//!     plan_select                     come first, in its order, and a plan knows the name and
//!       FROM: a, b, the join ─▶       type of every output column (Describe reads no rows)
//!         namespace items
//!       select list, WHERE, HAVING, ORDER BY, GROUP BY
//!   run_plan
//!     scan a, scan b (each through the statement's snapshot) ─▶ nested loop on ON
//!     WHERE ─▶ groups ─▶ aggregates ─▶ select list ─▶ DISTINCT ─▶ ORDER BY ─▶ OFFSET / LIMIT
//! ```
//!
//! A row of one query level is a flat vector holding every FROM item's columns side by side,
//! with the xmin, xmax and ctid of each table row behind it (its "system slots"); a namespace item
//! (PostgreSQL's range table entry with its visibility flags) says where its columns sit.
//! Expressions still walk sqlparser's tree (`exec::eval`): a column reference finds its place
//! through the namespace of its level, then of the levels around it (a correlated subquery sees
//! the row of the query it sits in). Joins are nested loops, hashed on the equalities between
//! their two sides; a single-table level reads the heap in place, through the unique indexes
//! when WHERE allows it.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use super::*;

/// How many rows `generate_series` may produce (each is kept in memory, a few hundred bytes).
const SERIES_ROWS_MAX: usize = 2_000_000;
/// How many rows a join may produce (each is kept in memory), and how many pairs of rows it may
/// test: past these a statement would hold the database for minutes, so it fails instead.
const JOIN_ROWS_MAX: usize = 10_000_000;
const JOIN_PAIRS_MAX: usize = 200_000_000;
/// From how many rows an uncorrelated `IN (subquery)` is answered through a hash set.
const IN_SET_ROWS_MIN: usize = 16;
/// PostgreSQL's bound for "Perhaps you meant to reference the column ..." suggestions.
const FUZZY_DISTANCE_MAX: usize = 3;

/// A table row's system columns: its place, xmin and xmax.
pub(super) type Sys = (Ctid, Xid, Xid);

/// Where a column's value sits in a level's flat row.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ColSrc {
    At(usize),
    /// A merged USING column of a FULL join: the first of these that is not NULL.
    First(Vec<usize>),
}

#[derive(Clone, Debug)]
pub(super) struct NsCol {
    pub name: String,
    pub ty: SqlType,
    pub src: ColSrc,
}

/// A FROM item (table, subquery, WITH query, function or join) as names see it.
#[derive(Clone, Debug)]
pub(super) struct NsItem {
    /// Its place in the level's range table: copies with the same id are the same item.
    pub id: usize,
    /// What a qualifier matches: the alias, else the table, WITH query or function name.
    pub name: String,
    /// The base table of a table item: it has system columns, and rows FOR UPDATE locks.
    pub relation: Option<String>,
    /// The WITH query a reference to one reads.
    pub cte: Option<String>,
    pub aliased: bool,
    pub cols: Vec<NsCol>,
    /// `name.column` finds it.
    pub rel_visible: bool,
    /// A bare `column` finds it.
    pub cols_visible: bool,
    pub join: bool,
    /// A function in FROM (`generate_series(...)`).
    pub function: bool,
    /// Its system slot in the row (table items only).
    pub slot: usize,
    /// On the NULL-extended side of an outer join.
    pub nullable: bool,
}

impl NsItem {
    /// The only item of a single-table statement (UPDATE, DELETE, RETURNING).
    pub(super) fn table(t: &Table, alias: Option<&str>) -> NsItem {
        NsItem {
            id: 0,
            name: alias.unwrap_or(&t.name).to_string(),
            relation: Some(t.name.clone()),
            cte: None,
            aliased: alias.is_some(),
            cols: t
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| NsCol { name: c.name.clone(), ty: c.ty, src: ColSrc::At(i) })
                .collect(),
            rel_visible: true,
            cols_visible: true,
            join: false,
            function: false,
            slot: 0,
            nullable: false,
        }
    }
}

/// A row of one query level: every FROM item's columns, and each table's system columns.
#[derive(Clone, Debug)]
pub(super) struct JRow<'a> {
    pub vals: Cow<'a, [Datum]>,
    pub sys: Vec<Option<Sys>>,
}

/// The row an expression is evaluated against.
#[derive(Clone, Copy)]
pub(super) enum RowRef<'a> {
    /// No row: nothing to read (a column then reads NULL).
    None,
    /// One version of a single table, read in place.
    Heap(Ctid, &'a Version<Row>),
    Flat(&'a JRow<'a>),
    /// The two sides of a join being tested, without building the joined row: columns before
    /// `split` (and system slots before `slot_split`) come from `left`.
    Pair {
        left: &'a JRow<'a>,
        right: &'a JRow<'a>,
        split: usize,
        slot_split: usize,
    },
}

impl RowRef<'_> {
    fn value(&self, p: usize) -> Datum {
        let v = match self {
            RowRef::None => None,
            RowRef::Heap(_, v) => v.row.get(p),
            RowRef::Flat(r) => r.vals.get(p),
            RowRef::Pair { left, right, split, .. } => {
                if p < *split {
                    left.vals.get(p)
                } else {
                    right.vals.get(p)
                }
            }
        };
        v.cloned().unwrap_or(Datum::Null)
    }

    fn sys(&self, slot: usize) -> Option<Sys> {
        match self {
            RowRef::None => None,
            RowRef::Heap(c, v) => (slot == 0).then_some((*c, v.xmin, v.xmax)),
            RowRef::Flat(r) => r.sys.get(slot).copied().flatten(),
            RowRef::Pair { left, right, slot_split, .. } => {
                let side = if slot < *slot_split { left } else { right };
                side.sys.get(slot).copied().flatten()
            }
        }
    }

    fn src(&self, src: &ColSrc) -> Datum {
        match src {
            ColSrc::At(p) => self.value(*p),
            ColSrc::First(ps) => ps.iter().map(|&p| self.value(p)).find(|d| !d.is_null()).unwrap_or(Datum::Null),
        }
    }
}

/// What aggregate calls evaluate to in the expression being evaluated.
#[derive(Clone, Copy)]
pub(super) enum Aggs<'a> {
    /// Not in an aggregating context (an aggregate here is an error).
    None,
    /// The group's values, by the address of the call in the statement's tree.
    Values(&'a [(usize, Datum)]),
    /// A dry run: every aggregate is 1.
    Dry,
}

/// What an expression can refer to: its level's FROM items and row, and the levels around it.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    /// The namespace: the items names may find.
    pub ns: &'a [NsItem],
    /// Every item of the level (visible or not): PostgreSQL's hints look there.
    pub rtable: &'a [NsItem],
    pub row: RowRef<'a>,
    pub aggs: Aggs<'a>,
    /// The enclosing query level, for correlated references.
    pub outer: Option<&'a Scope<'a>>,
    /// The running statement (subqueries need its snapshot); `None` where none may run.
    pub ctx: Option<&'a Ctx>,
    /// Levels above this one: 0 for the statement's own query.
    pub depth: usize,
    /// The WITH queries this level's FROM may name.
    pub ctes: &'a [ast::Cte],
    /// WITH queries not yet in scope (named only in an error's DETAIL).
    pub future: &'a [ast::Cte],
    /// The current values of the select list's set-returning function calls, by call address.
    pub srfs: &'a [(usize, Datum)],
}

impl<'a> Scope<'a> {
    pub(super) fn empty() -> Scope<'static> {
        Scope {
            ns: &[],
            rtable: &[],
            row: RowRef::None,
            aggs: Aggs::None,
            outer: None,
            ctx: None,
            depth: 0,
            ctes: &[],
            future: &[],
            srfs: &[],
        }
    }

    /// One version of one table: how UPDATE, DELETE and RETURNING see a row.
    pub(super) fn heap(ns: &'a [NsItem], ctid: Ctid, v: &'a Version<Row>, ctx: Option<&'a Ctx>) -> Scope<'a> {
        Scope { ns, rtable: ns, row: RowRef::Heap(ctid, v), ctx, ..Scope::empty() }
    }

    /// A level without columns between a query and its surroundings: it carries WITH queries.
    fn bare(
        outer: Option<&'a Scope<'a>>,
        ctes: &'a [ast::Cte],
        future: &'a [ast::Cte],
        ctx: Option<&'a Ctx>,
    ) -> Scope<'a> {
        Scope { outer, ctx, depth: level_depth(outer), ctes, future, ..Scope::empty() }
    }
}

fn level_depth(outer: Option<&Scope>) -> usize {
    outer.map_or(0, |s| s.depth + 1)
}

/// The values of an uncorrelated subquery's rows, as `IN` looks them up.
struct InSet {
    values: HashSet<String>,
    /// One of them was NULL (a value not found is then NULL rather than false).
    null: bool,
}

/// What the running statement shares with every expression it evaluates.
pub(super) struct Ctx {
    pub snapshot: Snapshot,
    /// check_plan's dry run: subqueries are planned (names checked) but not run.
    pub dry: bool,
    /// The statement's own scans leave out the rows SELECT ... SKIP LOCKED could not lock.
    pub skip: bool,
    /// Results of uncorrelated subqueries (PostgreSQL's InitPlans run once), by tree address.
    cache: RefCell<HashMap<usize, Rc<Vec<Row>>>>,
    /// The values of those results that `IN` looks up, and whether there was a NULL among them.
    sets: RefCell<HashMap<usize, Rc<InSet>>>,
    /// The outermost level a column reference reached while a subquery ran: it is correlated
    /// with its surroundings when this is above its own level.
    reach: Cell<usize>,
    /// Tables read, for SERIALIZABLE's conflict check.
    pub reads: RefCell<BTreeSet<String>>,
}

impl Ctx {
    pub(super) fn new(snapshot: Snapshot, skip: bool) -> Ctx {
        Ctx {
            snapshot,
            dry: false,
            skip,
            cache: RefCell::new(HashMap::new()),
            sets: RefCell::new(HashMap::new()),
            reach: Cell::new(usize::MAX),
            reads: RefCell::new(BTreeSet::new()),
        }
    }

    fn dry() -> Ctx {
        let snapshot = Snapshot { xmin: 0, xmax: 0, xip: Vec::new(), own: Vec::new(), curcid: 0 };
        Ctx { dry: true, ..Ctx::new(snapshot, false) }
    }
}

// ------------------------------------------------------------------------------------------------
// Names.
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum SysCol {
    Xmin,
    Xmax,
    Ctid,
}

/// What a column reference found.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Target {
    Col(ColSrc, SqlType),
    Sys(usize, SysCol),
}

impl Target {
    pub(super) fn ty(&self) -> SqlType {
        match self {
            Target::Col(_, t) => *t,
            Target::Sys(_, SysCol::Ctid) => SqlType::Tid,
            Target::Sys(..) => SqlType::Xid,
        }
    }
}

fn system_column(name: &str) -> Option<SysCol> {
    match name {
        "xmin" => Some(SysCol::Xmin),
        "xmax" => Some(SysCol::Xmax),
        "ctid" => Some(SysCol::Ctid),
        _ => None,
    }
}

fn ambiguous_column(name: &str) -> ExecError {
    SqlError::new("42702", format!("column reference \"{name}\" is ambiguous")).into()
}

/// The column `name` of one item: `None` when it has none, 42702 when it has two.
fn item_column(item: &NsItem, name: &str) -> R<Option<Target>> {
    let mut found = None;
    for c in &item.cols {
        if c.name == name {
            if found.is_some() {
                return Err(ambiguous_column(name));
            }
            found = Some(Target::Col(c.src.clone(), c.ty));
        }
    }
    if found.is_none() && item.relation.is_some() {
        found = system_column(name).map(|s| Target::Sys(item.slot, s));
    }
    Ok(found)
}

/// A column reference's qualifier and name: `t.c` or `c` (`schema.t.c` keeps `t`).
pub(super) fn split_name(parts: &[ast::Ident]) -> (Option<String>, String) {
    let name = parts.last().map(ident).unwrap_or_default();
    let q = if parts.len() >= 2 { Some(ident(&parts[parts.len() - 2])) } else { None };
    (q, name)
}

/// Finds what `qualifier.name` (or a bare `name`) refers to, as PostgreSQL does: the nearest
/// level with a match wins; two matches on one level are ambiguous. Returns how many levels up.
pub(super) fn resolve(scope: &Scope, qualifier: Option<&str>, name: &str) -> R<(usize, Target)> {
    let mut level = Some(scope);
    let mut up = 0;
    while let Some(s) = level {
        match qualifier {
            Some(q) => {
                let mut hit: Option<&NsItem> = None;
                for item in s.ns.iter().filter(|i| i.rel_visible && i.name == q) {
                    if hit.is_some() {
                        return Err(SqlError::new("42P09", format!("table reference \"{q}\" is ambiguous")).into());
                    }
                    hit = Some(item);
                }
                if let Some(item) = hit {
                    return match item_column(item, name)? {
                        Some(t) => Ok((up, t)),
                        None => Err(missing_column(scope, Some(q), name)),
                    };
                }
            }
            None => {
                let mut hit = None;
                for item in s.ns.iter().filter(|i| i.cols_visible) {
                    if let Some(t) = item_column(item, name)? {
                        if hit.is_some() {
                            return Err(ambiguous_column(name));
                        }
                        hit = Some(t);
                    }
                }
                if let Some(t) = hit {
                    return Ok((up, t));
                }
            }
        }
        level = s.outer;
        up += 1;
    }
    Err(match qualifier {
        Some(q) => missing_rte(scope, q),
        None => missing_column(scope, None, name),
    })
}

/// The value of a column reference in the rows of `scope` and its surroundings.
pub(super) fn column_value(scope: &Scope, qualifier: Option<&str>, name: &str) -> R<Datum> {
    let (up, target) = resolve(scope, qualifier, name)?;
    let mut s = scope;
    for _ in 0..up {
        match s.outer {
            Some(o) => s = o,
            None => return Ok(Datum::Null),
        }
    }
    if let Some(ctx) = scope.ctx {
        ctx.reach.set(ctx.reach.get().min(s.depth));
    }
    Ok(match target {
        Target::Col(src, _) => s.row.src(&src),
        Target::Sys(slot, c) => match s.row.sys(slot) {
            None => Datum::Null,
            Some((ctid, xmin, xmax)) => match c {
                SysCol::Xmin => Datum::Int(xmin as i64),
                SysCol::Xmax => Datum::Int(xmax as i64),
                SysCol::Ctid => Datum::Text(ctid.to_string()),
            },
        },
    })
}

/// Edit distance in characters (insertions, deletions and substitutions all cost one).
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 42703 with PostgreSQL's hint: the closest column names of every FROM item in reach (edit
/// distance at most 3 and at most half the name, plus the distance between qualifiers), one or
/// two of them; or, for an exact match that is out of reach, where it is.
fn missing_column(scope: &Scope, qualifier: Option<&str>, name: &str) -> ExecError {
    let mut distance = FUZZY_DISTANCE_MAX + 1;
    // (item, column): a column of None is an exact match that cannot be referenced.
    let mut first: Option<(String, Option<String>)> = None;
    let mut second: Option<(String, String)> = None;
    let mut level = Some(scope);
    'levels: while let Some(s) = level {
        for item in s.rtable.iter().filter(|i| !i.join) {
            let penalty = qualifier.map_or(0, |q| levenshtein(q, &item.name));
            let mut exact = 0;
            for c in &item.cols {
                if c.name == name {
                    exact += 1;
                    if exact > 1 {
                        return ambiguous_column(name);
                    }
                }
                if penalty > distance {
                    continue;
                }
                let d = levenshtein(&c.name, name);
                if d > name.len() / 2 {
                    continue;
                }
                let d = d + penalty;
                if d < distance {
                    distance = d;
                    first = Some((item.name.clone(), Some(c.name.clone())));
                    second = None;
                } else if d == distance {
                    if second.is_some() {
                        first = None;
                        second = None;
                    } else if first.is_some() {
                        second = Some((item.name.clone(), c.name.clone()));
                    }
                }
            }
            let exact = exact > 0 || (item.relation.is_some() && system_column(name).is_some());
            if exact && penalty == 0 {
                first = Some((item.name.clone(), None));
                second = None;
                break 'levels;
            }
        }
        level = s.outer;
    }
    let message = match qualifier {
        Some(q) => format!("column {q}.{name} does not exist"),
        None => format!("column \"{name}\" does not exist"),
    };
    let e = SqlError::new("42703", message);
    let e = match (first, second) {
        (Some((t, None)), _) => e.hint(format!(
            "There is a column named \"{name}\" in table \"{t}\", but it cannot be referenced from this part of the query."
        )),
        (Some((t, Some(c))), None) => e.hint(format!("Perhaps you meant to reference the column \"{t}.{c}\".")),
        (Some((t, Some(c))), Some((t2, c2))) => e.hint(format!(
            "Perhaps you meant to reference the column \"{t}.{c}\" or the column \"{t2}.{c2}\"."
        )),
        _ => e,
    };
    e.into()
}

/// 42P01 for a qualifier that names no visible item, with PostgreSQL's hint when the name is
/// in the query after all (a table's own name behind its alias, or an item out of reach).
fn missing_rte(scope: &Scope, q: &str) -> ExecError {
    let mut found: Option<(usize, &NsItem)> = None;
    let mut level = Some(scope);
    'levels: while let Some(s) = level {
        for item in s.rtable {
            if item.relation.as_deref() == Some(q) || item.cte.as_deref() == Some(q) || item.name == q {
                found = Some((s.depth, item));
                break 'levels;
            }
        }
        level = s.outer;
    }
    let Some((depth, item)) = found else {
        return SqlError::new("42P01", format!("missing FROM-clause entry for table \"{q}\"")).into();
    };
    // Is the item reachable under its alias from here? Then the alias is what was meant.
    let mut alias_visible = false;
    if item.aliased && item.name != q {
        let mut level = Some(scope);
        while let Some(s) = level {
            if let Some(hit) = s.ns.iter().find(|i| i.rel_visible && i.name == item.name) {
                alias_visible = s.depth == depth && hit.id == item.id;
                break;
            }
            level = s.outer;
        }
    }
    let e = SqlError::new("42P01", format!("invalid reference to FROM-clause entry for table \"{q}\""));
    if alias_visible {
        e.hint(format!("Perhaps you meant to reference the table alias \"{}\".", item.name)).into()
    } else {
        e.hint(format!(
            "There is an entry for table \"{}\", but it cannot be referenced from this part of the query.",
            item.name
        ))
        .into()
    }
}

// ------------------------------------------------------------------------------------------------
// Plans.
// ------------------------------------------------------------------------------------------------

/// One output column's expression.
#[derive(Clone, Debug)]
pub(super) enum Out<'q> {
    Expr(&'q Expr),
    /// A column `*` expanded to.
    Col(ColSrc),
}

/// An ORDER BY key: an output column, or an expression over the level's row.
#[derive(Clone, Debug)]
enum SortKey<'q> {
    Output(usize),
    Expr(&'q Expr),
}

enum Distinct<'q> {
    No,
    All,
    On(Vec<&'q Expr>),
}

/// A planned query: its body, output columns and ORDER BY.
pub(super) struct QueryPlan<'q> {
    q: &'q ast::Query,
    ctes: &'q [ast::Cte],
    body: Body<'q>,
    pub columns: Vec<OutColumn>,
    /// Output columns that are untyped literals (`'x'`, NULL): a set operation gives them the
    /// other side's type.
    unknown: Vec<bool>,
    /// ORDER BY over output columns (bodies other than a plain SELECT, whose plan has its own).
    order: Vec<(usize, &'q ast::OrderByExpr)>,
}

enum Body<'q> {
    Select(Box<SelectPlan<'q>>),
    /// `(query)` as a branch of a set operation.
    Nested(Box<QueryPlan<'q>>),
    Values(ValuesPlan<'q>),
    SetOp(Box<SetOpPlan<'q>>),
}

struct ValuesPlan<'q> {
    rows: &'q [ast::Parens<Vec<Expr>>],
    columns: Vec<OutColumn>,
    unknown: Vec<bool>,
}

struct SetOpPlan<'q> {
    op: ast::SetOperator,
    all: bool,
    left: Body<'q>,
    right: Body<'q>,
    columns: Vec<OutColumn>,
}

pub(super) struct SelectPlan<'q> {
    sel: &'q ast::Select,
    ctes: &'q [ast::Cte],
    from: Vec<Node<'q>>,
    /// Every FROM item (the range table).
    items: Vec<NsItem>,
    /// The items names find, with their visibility.
    ns: Vec<NsItem>,
    width: usize,
    slots: usize,
    out: Vec<Out<'q>>,
    columns: Vec<OutColumn>,
    unknown: Vec<bool>,
    group: Vec<Out<'q>>,
    /// GROUP BY, HAVING or an aggregate: rows are folded into groups.
    grouped: bool,
    /// The aggregate calls of the select list, HAVING and ORDER BY.
    aggs: Vec<&'q ast::Function>,
    /// The set-returning function calls of the select list.
    srfs: Vec<&'q ast::Function>,
    order: Vec<(SortKey<'q>, &'q ast::OrderByExpr)>,
    distinct: Distinct<'q>,
}

/// A FROM item to produce rows from, and where its columns and system slots sit in the row.
struct Node<'q> {
    kind: NodeKind<'q>,
    cols: Span,
    slots: Span,
}

enum NodeKind<'q> {
    Scan {
        table: String,
        slot: usize,
    },
    Derived(Box<QueryPlan<'q>>),
    /// A WITH query, defined `up` levels out (0: this query's own WITH) at `index`; planned
    /// again where it runs (its tree may belong to an enclosing query).
    Cte {
        up: usize,
        index: usize,
    },
    Series {
        args: Vec<&'q Expr>,
        ty: SqlType,
    },
    /// `unnest(array)`: a row per element (arrays are their text form, `{a,b}`; elements come
    /// out as text).
    Unnest {
        arg: &'q Expr,
    },
    Join(Box<JoinNode<'q>>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
}

struct JoinNode<'q> {
    kind: JoinKind,
    left: Node<'q>,
    right: Node<'q>,
    on: Option<&'q Expr>,
    /// The namespace ON sees: the two sides only.
    on_ns: Vec<NsItem>,
    /// The range table as it was when ON was read (for hints).
    on_rtable: usize,
    using: Vec<(ColSrc, ColSrc)>,
    /// The USING columns the right rows may be looked up by (see `equi_keys`).
    using_keys: Vec<(usize, usize)>,
}

/// Plans a query (resolving every name) with `outer` as its surroundings.
pub(super) fn plan_query<'q>(db: &Database, q: &'q ast::Query, outer: Option<&Scope>) -> R<QueryPlan<'q>> {
    let ctes: &'q [ast::Cte] = match &q.with {
        None => &[],
        Some(w) => {
            if w.recursive {
                return Err(SqlError::new("0A000", "terrarium does not support WITH RECURSIVE").into());
            }
            for (i, c) in w.cte_tables.iter().enumerate() {
                let n = ident(&c.alias.name);
                if w.cte_tables[..i].iter().any(|d| ident(&d.alias.name) == n) {
                    return Err(
                        SqlError::new("42712", format!("WITH query name \"{n}\" specified more than once")).into()
                    );
                }
            }
            &w.cte_tables
        }
    };
    // PostgreSQL analyses each WITH query where it stands (seeing the ones before it) before the
    // main query, so their errors come first even when nothing reads them.
    for i in 0..ctes.len() {
        plan_cte(db, ctes, i, outer)?;
    }
    let order_by: &'q [ast::OrderByExpr] = match &q.order_by {
        Some(ob) => match &ob.kind {
            ast::OrderByKind::Expressions(v) => v,
            _ => return Err(SqlError::new("0A000", "terrarium does not support ORDER BY ALL").into()),
        },
        None => &[],
    };
    let (body, order) = match q.body.as_ref() {
        SetExpr::Select(sel) => (Body::Select(Box::new(plan_select(db, sel, ctes, outer, order_by)?)), Vec::new()),
        other => {
            let body = plan_body(db, other, ctes, outer)?;
            let order = output_order(body_columns(&body).0, order_by, body_name(&body))?;
            (body, order)
        }
    };
    let (columns, unknown) = body_columns(&body);
    let (columns, unknown) = (columns.to_vec(), unknown.to_vec());
    Ok(QueryPlan { q, ctes, body, columns, unknown, order })
}

/// Plans WITH query `i` of `ctes`, seeing the ones before it, and names its columns.
fn plan_cte<'q>(db: &Database, ctes: &'q [ast::Cte], i: usize, outer: Option<&Scope>) -> R<QueryPlan<'q>> {
    let c = &ctes[i];
    let bare = Scope::bare(outer, &ctes[..i], &ctes[i..], None);
    let mut plan = plan_query(db, &c.query, Some(&bare))?;
    let name = ident(&c.alias.name);
    if c.alias.columns.len() > plan.columns.len() {
        return Err(SqlError::new(
            "42P10",
            format!(
                "WITH query \"{name}\" has {} columns available but {} columns specified",
                plan.columns.len(),
                c.alias.columns.len()
            ),
        )
        .into());
    }
    for (col, a) in plan.columns.iter_mut().zip(&c.alias.columns) {
        col.name = ident(&a.name);
    }
    Ok(plan)
}

fn body_columns<'b>(b: &'b Body) -> (&'b [OutColumn], &'b [bool]) {
    match b {
        Body::Select(s) => (&s.columns, &s.unknown),
        Body::Nested(q) => (&q.columns, &q.unknown),
        Body::Values(v) => (&v.columns, &v.unknown),
        Body::SetOp(s) => (&s.columns, &[]),
    }
}

fn body_name(b: &Body) -> &'static str {
    match b {
        Body::Values(_) => "VALUES",
        _ => "UNION/INTERSECT/EXCEPT",
    }
}

fn set_op_name(op: &ast::SetOperator) -> &'static str {
    match op {
        ast::SetOperator::Union => "UNION",
        ast::SetOperator::Intersect => "INTERSECT",
        _ => "EXCEPT",
    }
}

/// An untyped literal or parameter: PostgreSQL's `unknown`, which takes the type it meets.
pub(super) fn is_unknown(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value,
        Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_) | Value::DollarQuotedString(_) | Value::Null
        | Value::Placeholder(_)))
}

fn plan_body<'q>(db: &Database, se: &'q SetExpr, ctes: &'q [ast::Cte], outer: Option<&Scope>) -> R<Body<'q>> {
    match se {
        SetExpr::Select(sel) => Ok(Body::Select(Box::new(plan_select(db, sel, ctes, outer, &[])?))),
        SetExpr::Query(q) => {
            let bare = Scope::bare(outer, ctes, &[], None);
            Ok(Body::Nested(Box::new(plan_query(db, q, Some(&bare))?)))
        }
        SetExpr::Values(v) => plan_values(db, v, ctes, outer).map(Body::Values),
        SetExpr::SetOperation { left, op, set_quantifier, right } => {
            let name = set_op_name(op);
            let all = match set_quantifier {
                ast::SetQuantifier::All => true,
                ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                _ => return Err(SqlError::new("0A000", format!("terrarium does not support {name} BY NAME")).into()),
            };
            let l = plan_body(db, left, ctes, outer)?;
            let r = plan_body(db, right, ctes, outer)?;
            let ((lc, lu), (rc, ru)) = (body_columns(&l), body_columns(&r));
            if lc.len() != rc.len() {
                return Err(
                    SqlError::new("42601", format!("each {name} query must have the same number of columns")).into()
                );
            }
            let mut columns = Vec::new();
            for i in 0..lc.len() {
                let (lt, rt) = (lc[i].ty, rc[i].ty);
                let (lu, ru) = (lu.get(i).copied().unwrap_or(false), ru.get(i).copied().unwrap_or(false));
                let ty = match (lu, ru) {
                    (true, true) => SqlType::Text,
                    (true, false) => rt,
                    (false, true) => lt,
                    (false, false) => common_type(lt, rt).ok_or_else(|| {
                        SqlError::new(
                            "42804",
                            format!("{name} types {} and {} cannot be matched", lt.name(), rt.name()),
                        )
                    })?,
                };
                if lu && !ru {
                    check_literals(&l, i, ty)?;
                }
                if ru && !lu {
                    check_literals(&r, i, ty)?;
                }
                columns.push(OutColumn { name: lc[i].name.clone(), ty });
            }
            Ok(Body::SetOp(Box::new(SetOpPlan { op: *op, all, left: l, right: r, columns })))
        }
        _ => Err(SqlError::new("0A000", "terrarium does not support this query form").into()),
    }
}

/// The type two set-operation (or VALUES) inputs resolve to, as PostgreSQL's select_common_type
/// picks it: the same type, or the wider one of a category (numbers, strings).
fn common_type(a: SqlType, b: SqlType) -> Option<SqlType> {
    if a == b {
        return Some(a);
    }
    let rank = |t: SqlType| match t {
        SqlType::Int2 => Some(0),
        SqlType::Int4 => Some(1),
        SqlType::Int8 => Some(2),
        SqlType::Numeric => Some(3),
        SqlType::Float4 => Some(4),
        SqlType::Float8 => Some(5),
        _ => None,
    };
    if let (Some(x), Some(y)) = (rank(a), rank(b)) {
        return Some(if x >= y { a } else { b });
    }
    let string =
        |t: SqlType| matches!(t, SqlType::Text | SqlType::Varchar | SqlType::Unknown | SqlType::Name | SqlType::Char);
    if string(a) && string(b) {
        return Some(SqlType::Text);
    }
    None
}

/// A quoted literal given a type by a set operation must read as that type (an error PostgreSQL
/// raises while analysing the query).
fn check_literals(b: &Body, i: usize, ty: SqlType) -> R<()> {
    if matches!(ty, SqlType::Text | SqlType::Varchar | SqlType::Unknown) {
        return Ok(());
    }
    let check = |e: &Expr| -> R<()> {
        if let Expr::Value(v) = e {
            if let Value::SingleQuotedString(s) = &v.value {
                coerce(Datum::Text(s.clone()), ty, None, None)?;
            }
        }
        Ok(())
    };
    match b {
        Body::Select(s) => match s.out.get(i) {
            Some(Out::Expr(e)) => check(e),
            _ => Ok(()),
        },
        Body::Values(v) => v.rows.iter().filter_map(|r| r.content.get(i)).try_for_each(check),
        _ => Ok(()),
    }
}

fn plan_values<'q>(
    db: &Database,
    v: &'q ast::Values,
    ctes: &'q [ast::Cte],
    outer: Option<&Scope>,
) -> R<ValuesPlan<'q>> {
    let width = v.rows.first().map(|r| r.content.len()).unwrap_or(0);
    if v.rows.iter().any(|r| r.content.len() != width) {
        return Err(SqlError::new("42601", "VALUES lists must all be the same length").into());
    }
    let scope = Scope::bare(outer, ctes, &[], None);
    let mut columns = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..width {
        let mut ty: Option<SqlType> = None;
        for r in &v.rows {
            let e = &r.content[i];
            check_expr(db, e, &scope, Clause::Values)?;
            if is_unknown(e) {
                continue;
            }
            let t = static_type(e, &scope, db);
            ty = Some(match ty {
                None => t,
                Some(prev) => common_type(prev, t).ok_or_else(|| {
                    SqlError::new("42804", format!("VALUES types {} and {} cannot be matched", prev.name(), t.name()))
                })?,
            });
        }
        unknown.push(ty.is_none());
        columns.push(OutColumn { name: format!("column{}", i + 1), ty: ty.unwrap_or(SqlType::Text) });
    }
    let plan = ValuesPlan { rows: &v.rows, columns, unknown };
    for (i, c) in plan.columns.iter().enumerate() {
        if !plan.unknown[i] {
            let body = Body::Values(ValuesPlan { rows: plan.rows, columns: Vec::new(), unknown: Vec::new() });
            check_literals(&body, i, c.ty)?;
        }
    }
    Ok(plan)
}

/// ORDER BY of a set operation or VALUES: output columns by name or position only.
fn output_order<'q>(
    columns: &[OutColumn],
    order_by: &'q [ast::OrderByExpr],
    what: &str,
) -> R<Vec<(usize, &'q ast::OrderByExpr)>> {
    let mut out = Vec::new();
    for o in order_by {
        let k = match &o.expr {
            Expr::Value(v) if matches!(v.value, Value::Number(..)) => position(&v.value, columns.len(), "ORDER BY")?,
            Expr::Identifier(i) => {
                let name = ident(i);
                columns.iter().position(|c| c.name == name).ok_or_else(|| {
                    ExecError::from(SqlError::new("42703", format!("column \"{name}\" does not exist")))
                })?
            }
            Expr::CompoundIdentifier(p) => {
                let q = split_name(p).0.unwrap_or_default();
                return Err(SqlError::new("42P01", format!("missing FROM-clause entry for table \"{q}\"")).into());
            }
            _ => {
                return Err(SqlError::new("0A000", format!("invalid {what} ORDER BY clause"))
                    .detail("Only result column names can be used, not expressions or functions.")
                    .hint("Add the expression/function to every SELECT, or move the UNION into a FROM clause.")
                    .into())
            }
        };
        out.push((k, o));
    }
    Ok(out)
}

/// `ORDER BY 2`, `GROUP BY 1`: a 1-based output position.
fn position(v: &Value, len: usize, clause: &str) -> R<usize> {
    let Value::Number(s, _) = v else { return Ok(0) };
    match s.parse::<usize>() {
        Ok(n) if n >= 1 && n <= len => Ok(n - 1),
        _ => Err(SqlError::new("42P10", format!("{clause} position {s} is not in select list")).into()),
    }
}

/// Where an expression stands: which constructs it may hold (PostgreSQL's ParseExprKind).
#[derive(Clone, Copy, PartialEq)]
enum Clause {
    Select,
    Where,
    Having,
    Order,
    Group,
    JoinOn,
    Values,
    FromFunction,
    /// Inside an aggregate's arguments.
    Aggregate,
}

/// Checks an expression's names (and its subqueries), as PostgreSQL's analysis does.
fn check_expr(db: &Database, e: &Expr, scope: &Scope, clause: Clause) -> R<()> {
    let check = |x: &Expr| check_expr(db, x, scope, clause);
    match e {
        Expr::Identifier(i) => resolve(scope, None, &ident(i)).map(|_| ()),
        Expr::CompoundIdentifier(p) => {
            let (q, n) = split_name(p);
            resolve(scope, q.as_deref(), &n).map(|_| ())
        }
        Expr::Function(f) => {
            let name = function_name(f);
            let mut inner = clause;
            if name == "generate_series" && clause == Clause::Select {
                return series_call(db, &name, srf_args(f), scope, Clause::Select).map(|_| ());
            }
            if name == "generate_series" {
                let m = match clause {
                    Clause::Where => "set-returning functions are not allowed in WHERE",
                    Clause::JoinOn => "set-returning functions are not allowed in JOIN conditions",
                    Clause::Having => "set-returning functions are not allowed in HAVING",
                    Clause::Aggregate => "aggregate function calls cannot contain set-returning function calls",
                    _ => "terrarium supports set-returning functions only in FROM and as whole select-list items",
                };
                return Err(SqlError::new("0A000", m).into());
            }
            if f.over.is_some() {
                return Err(SqlError::new("0A000", "terrarium does not support window functions").into());
            }
            if f.filter.is_some() && !is_aggregate(&name) {
                return Err(SqlError::new(
                    "42809",
                    format!("FILTER specified, but {name} is not an aggregate function"),
                )
                .into());
            }
            if is_aggregate(&name) {
                let refused = match clause {
                    Clause::Where => Some("aggregate functions are not allowed in WHERE"),
                    Clause::JoinOn => Some("aggregate functions are not allowed in JOIN conditions"),
                    Clause::Group => Some("aggregate functions are not allowed in GROUP BY"),
                    Clause::Values => Some("aggregate functions are not allowed in VALUES"),
                    Clause::FromFunction => Some("aggregate functions are not allowed in functions in FROM"),
                    Clause::Aggregate => Some("aggregate function calls cannot be nested"),
                    Clause::Select | Clause::Having | Clause::Order => None,
                };
                if let Some(m) = refused {
                    return Err(SqlError::new("42803", m).into());
                }
                inner = Clause::Aggregate;
                if let Some(filter) = &f.filter {
                    check_expr(db, filter, scope, Clause::Aggregate)?;
                }
            }
            for a in function_args(f) {
                if let FunctionArgExpr::Expr(x) = a {
                    check_expr(db, x, scope, inner)?;
                }
            }
            Ok(())
        }
        Expr::Subquery(q) => {
            let p = plan_query(db, q, Some(scope))?;
            if p.columns.len() != 1 {
                return Err(SqlError::new("42601", "subquery must return only one column").into());
            }
            Ok(())
        }
        Expr::Exists { subquery, .. } => plan_query(db, subquery, Some(scope)).map(|_| ()),
        Expr::In { expr, target, .. } => {
            check(expr)?;
            match target {
                ast::InTarget::List(list) => list.iter().try_for_each(check),
                ast::InTarget::Subquery(q) => {
                    let p = plan_query(db, q, Some(scope))?;
                    match p.columns.len() {
                        1 => comparable(static_type(expr, scope, db), expr, p.columns[0].ty),
                        0 => Err(SqlError::new("42601", "subquery has too few columns").into()),
                        _ => Err(SqlError::new("42601", "subquery has too many columns").into()),
                    }
                }
                _ => Err(SqlError::new("0A000", "terrarium does not support this IN form").into()),
            }
        }
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
            check(left)?;
            match right.as_ref() {
                Expr::Subquery(q) => {
                    let p = plan_query(db, q, Some(scope))?;
                    if p.columns.len() != 1 {
                        return Err(SqlError::new("42601", "subquery has too many columns").into());
                    }
                    comparable(static_type(left, scope, db), left, p.columns[0].ty)
                }
                other => check(other),
            }
        }
        Expr::BinaryOp { left, right, .. } => {
            check(left)?;
            check(right)
        }
        Expr::Nested(x)
        | Expr::UnaryOp { expr: x, .. }
        | Expr::IsNull(x)
        | Expr::IsNotNull(x)
        | Expr::IsTrue(x)
        | Expr::IsFalse(x)
        | Expr::Cast { expr: x, .. } => check(x),
        Expr::Between { expr, low, high, .. } => {
            check(expr)?;
            check(low)?;
            check(high)
        }
        Expr::Like { expr, pattern, .. } => {
            check(expr)?;
            check(pattern)
        }
        Expr::Case { operand, conditions, else_result, .. } => {
            if let Some(o) = operand {
                check(o)?;
            }
            for w in conditions {
                check(&w.condition)?;
                check(&w.result)?;
            }
            if let Some(x) = else_result {
                check(x)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `x IN (SELECT y ...)` needs an `=` between their types: numbers with numbers, strings with
/// strings (an untyped literal goes with anything).
fn comparable(a: SqlType, a_expr: &Expr, b: SqlType) -> R<()> {
    let category = |t: SqlType| match t {
        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Float4 | SqlType::Float8 | SqlType::Numeric => 'N',
        SqlType::Text | SqlType::Varchar | SqlType::Unknown | SqlType::Name | SqlType::Char => 'S',
        SqlType::Oid => 'N',
        SqlType::Bool => 'B',
        _ => 'X',
    };
    if is_unknown(a_expr) || a == b || (category(a) == category(b) && category(a) != 'X') {
        return Ok(());
    }
    Err(SqlError::new("42883", format!("operator does not exist: {} = {}", a.name(), b.name()))
        .hint(OPERATOR_HINT)
        .into())
}

fn plan_select<'q>(
    db: &Database,
    sel: &'q ast::Select,
    ctes: &'q [ast::Cte],
    outer: Option<&Scope>,
    order_by: &'q [ast::OrderByExpr],
) -> R<SelectPlan<'q>> {
    let depth = level_depth(outer);
    let mut fb = FromBuilder { db, ctes, outer, depth, items: Vec::new(), width: 0, slots: 0 };
    let mut from = Vec::new();
    let mut ns_ids: Vec<usize> = Vec::new();
    for twj in &sel.from {
        let p = fb.table_with_joins(twj)?;
        fb.check_conflicts(&ns_ids, &p.ns)?;
        ns_ids.extend(&p.ns);
        from.push(p.node);
    }
    let FromBuilder { items, width, slots, .. } = fb;
    let ns: Vec<NsItem> = ns_ids.iter().map(|&i| items[i].clone()).collect();
    let scope = Scope { ns: &ns, rtable: &items, outer, depth, ctes, ..Scope::empty() };
    // PostgreSQL's order: the select list, WHERE, HAVING, ORDER BY, GROUP BY.
    let (columns, out, unknown) = expand_projection(db, &sel.projection, &scope)?;
    if let Some(w) = &sel.selection {
        check_expr(db, w, &scope, Clause::Where)?;
    }
    if let Some(h) = &sel.having {
        check_expr(db, h, &scope, Clause::Having)?;
    }
    let order = order_keys(db, order_by, &columns, &out, &scope)?;
    let group = group_keys(db, &sel.group_by, &columns, &out, &scope)?;
    let distinct = match &sel.distinct {
        None | Some(ast::Distinct::All) => Distinct::No,
        Some(ast::Distinct::Distinct) => {
            // Rows that are the same once projected cannot be told apart by anything else.
            for (k, _) in &order {
                if let SortKey::Expr(e) = k {
                    let id = out_identity(&Out::Expr(e), &scope);
                    if !out.iter().any(|o| out_identity(o, &scope) == id) {
                        return Err(SqlError::new(
                            "42P10",
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                        )
                        .into());
                    }
                }
            }
            Distinct::All
        }
        Some(ast::Distinct::On(exprs)) => {
            for e in exprs {
                check_expr(db, e, &scope, Clause::Order)?;
            }
            // The rows kept are the first of each key in ORDER BY order, so ORDER BY must begin
            // with the keys.
            let leading = order.iter().take(exprs.len()).zip(exprs).all(|((k, _), e)| match k {
                SortKey::Expr(x) => x.to_string() == e.to_string(),
                SortKey::Output(i) => matches!(&out[*i], Out::Expr(x) if x.to_string() == e.to_string()),
            });
            if !order.is_empty() && (!leading || order.len() < exprs.len()) {
                return Err(SqlError::new(
                    "42P10",
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                )
                .into());
            }
            Distinct::On(exprs.iter().collect())
        }
    };
    let mut aggs = Vec::new();
    for o in &out {
        if let Out::Expr(e) = o {
            collect_aggregates(e, &mut aggs);
        }
    }
    if let Some(h) = &sel.having {
        collect_aggregates(h, &mut aggs);
    }
    for (k, _) in &order {
        if let SortKey::Expr(e) = k {
            collect_aggregates(e, &mut aggs);
        }
    }
    let grouped = !group.is_empty() || sel.having.is_some() || !aggs.is_empty();
    let mut srfs = Vec::new();
    for o in &out {
        if let Out::Expr(e) = o {
            collect_srfs(e, &mut srfs);
        }
    }
    Ok(SelectPlan {
        sel,
        ctes,
        from,
        items,
        ns,
        width,
        slots,
        out,
        columns,
        unknown,
        group,
        grouped,
        aggs,
        srfs,
        order,
        distinct,
    })
}

/// The select list with `*` and `t.*` expanded: names, types and expressions.
fn expand_projection<'q>(
    db: &Database,
    items: &'q [SelectItem],
    scope: &Scope,
) -> R<(Vec<OutColumn>, Vec<Out<'q>>, Vec<bool>)> {
    let mut cols = Vec::new();
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    let push_item = |item: &NsItem, cols: &mut Vec<OutColumn>, out: &mut Vec<Out<'q>>, unknown: &mut Vec<bool>| {
        for c in &item.cols {
            cols.push(OutColumn { name: c.name.clone(), ty: c.ty });
            out.push(Out::Col(c.src.clone()));
            unknown.push(false);
        }
    };
    for item in items {
        match item {
            SelectItem::Wildcard(_) => {
                if scope.ns.is_empty() {
                    return Err(SqlError::new("42601", "SELECT * with no tables specified is not valid").into());
                }
                for i in scope.ns.iter().filter(|i| i.cols_visible) {
                    push_item(i, &mut cols, &mut out, &mut unknown);
                }
            }
            SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                let q = object_name(n);
                let mut level = Some(scope);
                let mut found = None;
                while let Some(s) = level {
                    if let Some(i) = s.ns.iter().find(|i| i.rel_visible && i.name == q) {
                        found = Some(i);
                        break;
                    }
                    level = s.outer;
                }
                match found {
                    Some(i) => push_item(i, &mut cols, &mut out, &mut unknown),
                    None => return Err(missing_rte(scope, &q)),
                }
            }
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                let name = match item {
                    SelectItem::ExprWithAlias { alias, .. } => ident(alias),
                    _ => output_name(e),
                };
                // `SELECT generate_series(1, 3)`: one output row per value.
                check_expr(db, e, scope, Clause::Select)?;
                let ty = static_type(e, scope, db);
                cols.push(OutColumn { name, ty });
                out.push(Out::Expr(e));
                unknown.push(is_unknown(e));
            }
            _ => return Err(SqlError::new("0A000", "terrarium does not support this select item").into()),
        }
    }
    Ok((cols, out, unknown))
}

/// What an output column computes, comparable between columns (for ORDER BY's ambiguity rule).
fn out_identity(o: &Out, scope: &Scope) -> String {
    let target = |q: Option<&str>, n: &str| resolve(scope, q, n).ok().map(|(up, t)| format!("{up} {t:?}"));
    match o {
        Out::Col(src) => format!("0 {:?}", Target::Col(src.clone(), SqlType::Text)),
        Out::Expr(Expr::Identifier(i)) => target(None, &ident(i)).unwrap_or_else(|| i.to_string()),
        Out::Expr(Expr::CompoundIdentifier(p)) => {
            let (q, n) = split_name(p);
            target(q.as_deref(), &n).unwrap_or_else(|| format!("{p:?}"))
        }
        Out::Expr(e) => e.to_string(),
    }
}

/// ORDER BY for a plain SELECT: a position, an output column's name, or any expression over
/// the level's row (PostgreSQL's SQL92 rules first, then SQL99's).
fn order_keys<'q>(
    db: &Database,
    order_by: &'q [ast::OrderByExpr],
    columns: &[OutColumn],
    out: &[Out<'q>],
    scope: &Scope,
) -> R<Vec<(SortKey<'q>, &'q ast::OrderByExpr)>> {
    let mut keys = Vec::new();
    for o in order_by {
        let key = match &o.expr {
            Expr::Value(v) if matches!(v.value, Value::Number(..)) => {
                SortKey::Output(position(&v.value, columns.len(), "ORDER BY")?)
            }
            Expr::Identifier(i) => {
                let name = ident(i);
                let hits: Vec<usize> = (0..columns.len()).filter(|&k| columns[k].name == name).collect();
                match hits.first() {
                    Some(&k) => {
                        let first = out_identity(&out[k], scope);
                        if hits[1..].iter().any(|&h| out_identity(&out[h], scope) != first) {
                            return Err(SqlError::new("42702", format!("ORDER BY \"{name}\" is ambiguous")).into());
                        }
                        SortKey::Output(k)
                    }
                    None => {
                        check_expr(db, &o.expr, scope, Clause::Order)?;
                        SortKey::Expr(&o.expr)
                    }
                }
            }
            e => {
                check_expr(db, e, scope, Clause::Order)?;
                SortKey::Expr(e)
            }
        };
        keys.push((key, o));
    }
    Ok(keys)
}

/// GROUP BY: a position, a column of the level (before an output name, as PostgreSQL prefers),
/// an output column's name, or an expression.
fn group_keys<'q>(
    db: &Database,
    group_by: &'q ast::GroupByExpr,
    columns: &[OutColumn],
    out: &[Out<'q>],
    scope: &Scope,
) -> R<Vec<Out<'q>>> {
    let ast::GroupByExpr::Expressions(exprs, mods) = group_by else {
        return Err(SqlError::new("0A000", "terrarium does not support GROUP BY ALL").into());
    };
    if !mods.is_empty() {
        return Err(SqlError::new("0A000", "terrarium does not support this GROUP BY form").into());
    }
    let mut keys = Vec::new();
    for g in exprs {
        let key = match g {
            Expr::Value(v) if matches!(v.value, Value::Number(..)) => {
                out[position(&v.value, columns.len(), "GROUP BY")?].clone()
            }
            Expr::Identifier(i) => {
                let name = ident(i);
                let local = Scope { outer: None, ..*scope };
                match resolve(&local, None, &name) {
                    Ok(_) => Out::Expr(g),
                    Err(ExecError::Sql(e)) if e.code == "42702" => return Err(e.into()),
                    Err(_) => match columns.iter().position(|c| c.name == name) {
                        Some(k) => out[k].clone(),
                        None => {
                            check_expr(db, g, scope, Clause::Group)?;
                            Out::Expr(g)
                        }
                    },
                }
            }
            _ => {
                check_expr(db, g, scope, Clause::Group)?;
                Out::Expr(g)
            }
        };
        keys.push(key);
    }
    Ok(keys)
}

/// Aggregate calls of an expression (not those of its subqueries, which are theirs).
fn collect_aggregates<'q>(e: &'q Expr, out: &mut Vec<&'q ast::Function>) {
    let mut walk = |x: &'q Expr| collect_aggregates(x, out);
    match e {
        Expr::Function(f) if is_aggregate(&function_name(f)) => out.push(f),
        Expr::Function(f) => {
            for a in function_args(f) {
                if let FunctionArgExpr::Expr(x) = a {
                    collect_aggregates(x, out);
                }
            }
        }
        Expr::BinaryOp { left, right, .. } => {
            walk(left);
            collect_aggregates(right, out);
        }
        Expr::Nested(x)
        | Expr::UnaryOp { expr: x, .. }
        | Expr::Cast { expr: x, .. }
        | Expr::IsNull(x)
        | Expr::IsNotNull(x)
        | Expr::IsTrue(x)
        | Expr::IsFalse(x) => walk(x),
        Expr::In { expr, target, .. } => {
            collect_aggregates(expr, out);
            if let ast::InTarget::List(l) = target {
                for x in l {
                    collect_aggregates(x, out);
                }
            }
        }
        Expr::Between { expr, low, high, .. } => {
            collect_aggregates(expr, out);
            collect_aggregates(low, out);
            collect_aggregates(high, out);
        }
        Expr::Like { expr, pattern, .. } => {
            collect_aggregates(expr, out);
            collect_aggregates(pattern, out);
        }
        Expr::AnyOp { left, .. } | Expr::AllOp { left, .. } => walk(left),
        Expr::Case { operand, conditions, else_result, .. } => {
            if let Some(o) = operand {
                collect_aggregates(o, out);
            }
            for w in conditions {
                collect_aggregates(&w.condition, out);
                collect_aggregates(&w.result, out);
            }
            if let Some(x) = else_result {
                collect_aggregates(x, out);
            }
        }
        _ => {}
    }
}

/// A run of row positions (columns or system slots): start and end.
type Span = (usize, usize);

/// A call of `generate_series(start, stop [, step])`: its arguments (checked) and the type of
/// its values: integer, bigint or numeric after its arguments, as PostgreSQL picks the variant.
fn series_call<'q>(
    db: &Database,
    fname: &str,
    args: &'q [FunctionArg],
    scope: &Scope,
    clause: Clause,
) -> R<(Vec<&'q Expr>, SqlType)> {
    let mut exprs = Vec::new();
    for a in args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                check_expr(db, e, scope, clause)?;
                exprs.push(e);
            }
            _ => return Err(SqlError::new("0A000", "terrarium does not support this function argument").into()),
        }
    }
    let types: Vec<SqlType> = exprs.iter().map(|e| static_type(e, scope, db)).collect();
    let unknown: Vec<bool> = exprs.iter().map(|e| is_unknown(e)).collect();
    let ty = if types.iter().zip(&unknown).any(|(t, u)| *t == SqlType::Numeric && !u) {
        Some(SqlType::Numeric)
    } else if types.iter().zip(&unknown).all(|(t, u)| t.is_integer() || *u) {
        Some(if types.contains(&SqlType::Int8) { SqlType::Int8 } else { SqlType::Int4 })
    } else {
        None
    };
    match ty {
        Some(t) if fname == "generate_series" && (2..=3).contains(&exprs.len()) => Ok((exprs, t)),
        _ => {
            let names: Vec<&str> =
                types.iter().zip(&unknown).map(|(t, u)| if *u { "unknown" } else { t.name() }).collect();
            Err(SqlError::new("42883", format!("function {fname}({}) does not exist", names.join(", ")))
                .hint(
                    "No function matches the given name and argument types. You might need to add explicit type casts.",
                )
                .into())
        }
    }
}

/// The set-returning function calls of a select-list expression (not inside its subqueries or
/// aggregates), in the order they appear.
fn collect_srfs<'q>(e: &'q Expr, out: &mut Vec<&'q ast::Function>) {
    match e {
        Expr::Function(f) if function_name(f) == "generate_series" => out.push(f),
        Expr::Function(f) if is_aggregate(&function_name(f)) => {}
        Expr::Function(f) => {
            for a in function_args(f) {
                if let FunctionArgExpr::Expr(x) = a {
                    collect_srfs(x, out);
                }
            }
        }
        Expr::BinaryOp { left, right, .. } => {
            collect_srfs(left, out);
            collect_srfs(right, out);
        }
        Expr::Nested(x)
        | Expr::UnaryOp { expr: x, .. }
        | Expr::Cast { expr: x, .. }
        | Expr::IsNull(x)
        | Expr::IsNotNull(x)
        | Expr::IsTrue(x)
        | Expr::IsFalse(x) => collect_srfs(x, out),
        Expr::Between { expr, low, high, .. } => {
            collect_srfs(expr, out);
            collect_srfs(low, out);
            collect_srfs(high, out);
        }
        Expr::Like { expr, pattern, .. } => {
            collect_srfs(expr, out);
            collect_srfs(pattern, out);
        }
        Expr::Case { operand, conditions, else_result, .. } => {
            if let Some(o) = operand {
                collect_srfs(o, out);
            }
            for w in conditions {
                collect_srfs(&w.condition, out);
                collect_srfs(&w.result, out);
            }
            if let Some(x) = else_result {
                collect_srfs(x, out);
            }
        }
        _ => {}
    }
}

fn srf_args(f: &ast::Function) -> &[FunctionArg] {
    match &f.args {
        FunctionArguments::List(l) => &l.args,
        _ => &[],
    }
}

/// What planning one FROM item produced.
struct Planned<'q> {
    node: Node<'q>,
    /// The items of its namespace (ids into the range table).
    ns: Vec<usize>,
    /// Its columns as a join's USING sees them.
    cols: Vec<NsCol>,
    /// Its first item's id: the items from there on belong to it.
    first: usize,
}

struct FromBuilder<'q, 'o> {
    db: &'o Database,
    ctes: &'q [ast::Cte],
    outer: Option<&'o Scope<'o>>,
    depth: usize,
    items: Vec<NsItem>,
    width: usize,
    slots: usize,
}

impl<'q, 'o> FromBuilder<'q, 'o> {
    fn table_with_joins(&mut self, twj: &'q ast::TableWithJoins) -> R<Planned<'q>> {
        let mut acc = self.factor(&twj.relation)?;
        for j in &twj.joins {
            acc = self.join(acc, j)?;
        }
        Ok(acc)
    }

    /// Two FROM items may not go by the same name.
    fn check_conflicts(&self, a: &[usize], b: &[usize]) -> R<()> {
        for &x in a.iter().filter(|&&x| self.items[x].rel_visible) {
            for &y in b.iter().filter(|&&y| self.items[y].rel_visible) {
                if self.items[x].name == self.items[y].name {
                    return Err(SqlError::new(
                        "42712",
                        format!("table name \"{}\" specified more than once", self.items[x].name),
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Adds a leaf item with `cols` (name, type) at the end of the row.
    fn leaf(
        &mut self,
        name: String,
        alias: Option<&ast::TableAlias>,
        cols: Vec<(String, SqlType)>,
        relation: Option<String>,
        cte: Option<String>,
    ) -> R<(NsItem, Span, Span)> {
        let aliased = alias.is_some();
        let name = alias.map(|a| ident(&a.name)).unwrap_or(name);
        let mut cols = cols;
        if let Some(a) = alias {
            if a.columns.len() > cols.len() {
                return Err(SqlError::new(
                    "42P10",
                    format!(
                        "table \"{name}\" has {} columns available but {} columns specified",
                        cols.len(),
                        a.columns.len()
                    ),
                )
                .into());
            }
            for (c, n) in cols.iter_mut().zip(&a.columns) {
                c.0 = ident(&n.name);
            }
        }
        let start = self.width;
        let slot = if relation.is_some() {
            self.slots += 1;
            self.slots - 1
        } else {
            usize::MAX
        };
        let ns_cols: Vec<NsCol> = cols
            .into_iter()
            .enumerate()
            .map(|(i, (name, ty))| NsCol { name, ty, src: ColSrc::At(start + i) })
            .collect();
        self.width += ns_cols.len();
        let item = NsItem {
            id: self.items.len(),
            name,
            relation,
            cte,
            aliased,
            cols: ns_cols,
            rel_visible: true,
            cols_visible: true,
            join: false,
            function: false,
            slot,
            nullable: false,
        };
        let slots = if slot == usize::MAX { (self.slots, self.slots) } else { (slot, slot + 1) };
        self.items.push(item.clone());
        Ok((item, (start, self.width), slots))
    }

    fn planned(&self, item: NsItem, kind: NodeKind<'q>, cols: Span, slots: Span) -> Planned<'q> {
        Planned { node: Node { kind, cols, slots }, ns: vec![item.id], cols: item.cols, first: item.id }
    }

    fn factor(&mut self, tf: &'q TableFactor) -> R<Planned<'q>> {
        match tf {
            TableFactor::Table { name, alias, args: None, with_ordinality: false, .. } => self.relation(name, alias),
            TableFactor::Table { name, alias, args: Some(args), with_ordinality: false, .. }
                if args.args.is_empty() && super::catalog::table_function(name) =>
            {
                self.relation(name, alias)
            }
            TableFactor::Table { name, alias, args: Some(args), with_ordinality: false, .. } => {
                self.function(name, &args.args, alias.as_ref())
            }
            TableFactor::Function { lateral: false, name, args, with_ordinality: false, alias } => {
                self.function(name, args, alias.as_ref())
            }
            // sqlparser reads an unqualified `unnest(x)` as its own item.
            TableFactor::UNNEST { alias, array_exprs, with_offset: false, with_ordinality: false, .. }
                if array_exprs.len() == 1 =>
            {
                self.unnest(&array_exprs[0], alias.as_ref())
            }
            TableFactor::Derived { lateral, subquery, alias, .. } => {
                if *lateral {
                    return Err(SqlError::new("0A000", "terrarium does not support LATERAL").into());
                }
                let Some(alias) = alias else {
                    return Err(SqlError::new("42601", "subquery in FROM must have an alias")
                        .hint("For example, FROM (SELECT ...) [AS] foo.")
                        .into());
                };
                let plan = plan_query(self.db, subquery, self.outer)?;
                let cols = plan.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
                let (item, c, s) = self.leaf(String::new(), Some(alias), cols, None, None)?;
                Ok(self.planned(item, NodeKind::Derived(Box::new(plan)), c, s))
            }
            TableFactor::NestedJoin { table_with_joins, alias } => {
                let mut p = self.table_with_joins(table_with_joins)?;
                let Some(alias) = alias else { return Ok(p) };
                let Some(&id) = p.ns.last().filter(|&&id| self.items[id].join) else {
                    return Err(SqlError::new("0A000", "terrarium does not support an alias on this FROM item").into());
                };
                // A join with an alias hides the items inside it.
                let name = ident(&alias.name);
                let item = &mut self.items[id];
                if alias.columns.len() > item.cols.len() {
                    return Err(SqlError::new(
                        "42P10",
                        format!(
                            "table \"{name}\" has {} columns available but {} columns specified",
                            item.cols.len(),
                            alias.columns.len()
                        ),
                    )
                    .into());
                }
                for (c, a) in item.cols.iter_mut().zip(&alias.columns) {
                    c.name = ident(&a.name);
                }
                item.name = name;
                item.aliased = true;
                item.rel_visible = true;
                p.cols = item.cols.clone();
                p.ns = vec![id];
                Ok(p)
            }
            _ => Err(SqlError::new("0A000", "terrarium does not support this FROM item").into()),
        }
    }

    /// A table name: a WITH query of this level or an enclosing one, else a table.
    fn relation(&mut self, name: &ObjectName, alias: &Option<ast::TableAlias>) -> R<Planned<'q>> {
        let n = object_name(name);
        if name.0.len() == 1 {
            if let Some(p) = self.cte_reference(&n, alias.as_ref())? {
                return Ok(p);
            }
        }
        // `information_schema.tables` is kept under its qualified name (see catalog.rs).
        let key = super::catalog::relation_key(name);
        let Some(t) = self.db.tables.get(&key) else {
            let mut e = SqlError::new("42P01", format!("relation \"{n}\" does not exist"));
            let mut level = self.outer;
            let mut future = false;
            while let Some(s) = level {
                future |= s.future.iter().any(|c| ident(&c.alias.name) == n);
                level = s.outer;
            }
            if future {
                e = e
                    .detail(format!(
                        "There is a WITH item named \"{n}\", but it cannot be referenced from this part of the query."
                    ))
                    .hint("Use WITH RECURSIVE, or re-order the WITH items to remove forward references.");
            }
            return Err(e.into());
        };
        let cols = t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
        let (item, c, s) = self.leaf(n, alias.as_ref(), cols, Some(key.clone()), None)?;
        let slot = item.slot;
        Ok(self.planned(item, NodeKind::Scan { table: key, slot }, c, s))
    }

    fn cte_reference(&mut self, n: &str, alias: Option<&ast::TableAlias>) -> R<Option<Planned<'q>>> {
        let find = |ctes: &[ast::Cte]| ctes.iter().position(|c| ident(&c.alias.name) == n);
        let (columns, up, index) = if let Some(i) = find(self.ctes) {
            (plan_cte(self.db, self.ctes, i, self.outer)?.columns, 0, i)
        } else {
            let mut level = self.outer;
            let mut up = 1;
            loop {
                let Some(s) = level else { return Ok(None) };
                if let Some(i) = find(s.ctes) {
                    break (plan_cte(self.db, s.ctes, i, s.outer)?.columns, up, i);
                }
                level = s.outer;
                up += 1;
            }
        };
        let cols = columns.into_iter().map(|c| (c.name, c.ty)).collect();
        let (item, c, s) = self.leaf(n.to_string(), alias, cols, None, Some(n.to_string()))?;
        Ok(Some(self.planned(item, NodeKind::Cte { up, index }, c, s)))
    }

    /// `unnest(array)` in FROM: one text column, named after the alias when there is one.
    fn unnest(&mut self, arg: &'q Expr, alias: Option<&ast::TableAlias>) -> R<Planned<'q>> {
        let scope =
            Scope { rtable: &self.items, outer: self.outer, depth: self.depth, ctes: self.ctes, ..Scope::empty() };
        check_expr(self.db, arg, &scope, Clause::FromFunction)?;
        let col = alias.map(|a| ident(&a.name)).unwrap_or_else(|| "unnest".to_string());
        let (item, c, s) = self.leaf("unnest".to_string(), alias, vec![(col, SqlType::Text)], None, None)?;
        if let Some(last) = self.items.last_mut() {
            last.function = true;
        }
        Ok(self.planned(item, NodeKind::Unnest { arg }, c, s))
    }

    /// A function in FROM: `generate_series(start, stop [, step])` over integers or numerics.
    fn function(
        &mut self,
        name: &ObjectName,
        args: &'q [FunctionArg],
        alias: Option<&ast::TableAlias>,
    ) -> R<Planned<'q>> {
        let fname = object_name(name);
        let scope =
            Scope { rtable: &self.items, outer: self.outer, depth: self.depth, ctes: self.ctes, ..Scope::empty() };
        if fname == "unnest" {
            let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = args else {
                return Err(SqlError::new("0A000", "terrarium's unnest takes one array").into());
            };
            return self.unnest(arg, alias);
        }
        let (exprs, ty) = series_call(self.db, &fname, args, &scope, Clause::FromFunction)?;
        // A function returning one column names it after the alias when there is one.
        let col = alias.map(|a| ident(&a.name)).unwrap_or_else(|| fname.clone());
        let (item, c, s) = self.leaf(fname, alias, vec![(col, ty)], None, None)?;
        if let Some(last) = self.items.last_mut() {
            last.function = true;
        }
        Ok(self.planned(item, NodeKind::Series { args: exprs, ty }, c, s))
    }

    fn join(&mut self, left: Planned<'q>, j: &'q ast::Join) -> R<Planned<'q>> {
        use ast::JoinOperator as J;
        let (kind, constraint) = match &j.join_operator {
            J::Join(c) | J::Inner(c) => (JoinKind::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
            J::Right(c) | J::RightOuter(c) => (JoinKind::Right, c),
            J::FullOuter(c) => (JoinKind::Full, c),
            J::CrossJoin(c) => (JoinKind::Cross, c),
            _ => return Err(SqlError::new("0A000", "terrarium does not support this kind of join").into()),
        };
        let right_first = self.items.len();
        let right = self.factor(&j.relation)?;
        self.check_conflicts(&left.ns, &right.ns)?;
        let mut on = None;
        let mut on_ns = Vec::new();
        let mut names: Vec<String> = Vec::new();
        match constraint {
            ast::JoinConstraint::On(e) => {
                on_ns = left.ns.iter().chain(&right.ns).map(|&i| self.items[i].clone()).collect();
                let scope = Scope {
                    ns: &on_ns,
                    rtable: &self.items,
                    outer: self.outer,
                    depth: self.depth,
                    ctes: self.ctes,
                    ..Scope::empty()
                };
                check_expr(self.db, e, &scope, Clause::JoinOn)?;
                on = Some(e);
            }
            ast::JoinConstraint::Using(list) => {
                for n in list {
                    let name = object_name(n);
                    if names.contains(&name) {
                        return Err(SqlError::new(
                            "42701",
                            format!("column name \"{name}\" appears more than once in USING clause"),
                        )
                        .into());
                    }
                    names.push(name);
                }
            }
            ast::JoinConstraint::Natural => {
                for c in &left.cols {
                    if right.cols.iter().any(|r| r.name == c.name) && !names.contains(&c.name) {
                        names.push(c.name.clone());
                    }
                }
            }
            ast::JoinConstraint::None => {}
            ast::JoinConstraint::UsingAlias(..) => {
                return Err(SqlError::new("0A000", "terrarium does not support USING ... AS").into())
            }
        }
        // USING columns: one of each side, merged into one column of the join.
        let mut using = Vec::new();
        let mut using_keys = Vec::new();
        let mut merged = Vec::new();
        let (mut l_used, mut r_used) = (Vec::new(), Vec::new());
        for name in &names {
            let find = |cols: &[NsCol], side: &str| -> R<usize> {
                let hits: Vec<usize> = (0..cols.len()).filter(|&k| cols[k].name == *name).collect();
                match hits.as_slice() {
                    [one] => Ok(*one),
                    [] => Err(SqlError::new(
                        "42703",
                        format!("column \"{name}\" specified in USING clause does not exist in {side} table"),
                    )
                    .into()),
                    _ => Err(SqlError::new(
                        "42702",
                        format!("common column name \"{name}\" appears more than once in {side} table"),
                    )
                    .into()),
                }
            };
            let (lk, rk) = (find(&left.cols, "left")?, find(&right.cols, "right")?);
            let (lc, rc) = (&left.cols[lk], &right.cols[rk]);
            let src = match kind {
                JoinKind::Right => rc.src.clone(),
                JoinKind::Full => {
                    let mut all = Vec::new();
                    for s in [&lc.src, &rc.src] {
                        match s {
                            ColSrc::At(p) => all.push(*p),
                            ColSrc::First(ps) => all.extend(ps),
                        }
                    }
                    ColSrc::First(all)
                }
                _ => lc.src.clone(),
            };
            let ty = common_type(lc.ty, rc.ty).unwrap_or(lc.ty);
            merged.push(NsCol { name: name.clone(), ty, src });
            if let (ColSrc::At(a), ColSrc::At(b)) = (&lc.src, &rc.src) {
                if hash_kind(lc.ty).is_some() && hash_kind(lc.ty) == hash_kind(rc.ty) {
                    using_keys.push((*a, *b));
                }
            }
            using.push((lc.src.clone(), rc.src.clone()));
            l_used.push(lk);
            r_used.push(rk);
        }
        let mut cols = merged;
        cols.extend(left.cols.iter().enumerate().filter(|(k, _)| !l_used.contains(k)).map(|(_, c)| c.clone()));
        cols.extend(right.cols.iter().enumerate().filter(|(k, _)| !r_used.contains(k)).map(|(_, c)| c.clone()));
        // Outer joins: the items of the side that may be NULL-extended (FOR UPDATE refuses them).
        let end = self.items.len();
        let nullable = match kind {
            JoinKind::Left => right_first..end,
            JoinKind::Right => left.first..right_first,
            JoinKind::Full => left.first..end,
            _ => 0..0,
        };
        for item in &mut self.items[nullable] {
            item.nullable = true;
        }
        // The sides' columns are now reached through the join (or qualified).
        for &i in left.ns.iter().chain(&right.ns) {
            self.items[i].cols_visible = false;
        }
        let id = self.items.len();
        self.items.push(NsItem {
            id,
            name: "unnamed_join".into(),
            relation: None,
            cte: None,
            aliased: false,
            cols: cols.clone(),
            rel_visible: false,
            cols_visible: true,
            join: true,
            function: false,
            slot: usize::MAX,
            nullable: false,
        });
        let mut ns = left.ns;
        ns.extend(right.ns);
        ns.push(id);
        let node = Node {
            cols: (left.node.cols.0, right.node.cols.1),
            slots: (left.node.slots.0, right.node.slots.1),
            kind: NodeKind::Join(Box::new(JoinNode {
                kind,
                on,
                on_ns,
                on_rtable: end,
                using,
                using_keys,
                left: left.node,
                right: right.node,
            })),
        };
        Ok(Planned { node, ns, cols, first: left.first })
    }
}

// ------------------------------------------------------------------------------------------------
// Running plans.
// ------------------------------------------------------------------------------------------------

/// A row of a SELECT's result, with its sort keys and (for FOR UPDATE) the table rows behind it.
pub(super) struct OutRow {
    pub row: Row,
    keys: Vec<Datum>,
    distinct_on: Vec<Datum>,
    pub sys: Vec<Option<Sys>>,
}

/// Runs a planned query: its rows, sorted, after OFFSET and LIMIT.
pub(super) fn run_plan(db: &Database, ctx: &Ctx, plan: &QueryPlan, outer: Option<&Scope>) -> R<Vec<Row>> {
    let rows = run_ordered(db, ctx, plan, outer, false)?;
    let (offset, limit) = limits(db, ctx, plan.q, outer)?;
    Ok(rows.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).map(|r| r.row).collect())
}

/// The query's rows in ORDER BY order, before OFFSET and LIMIT.
pub(super) fn run_ordered(
    db: &Database,
    ctx: &Ctx,
    plan: &QueryPlan,
    outer: Option<&Scope>,
    sources: bool,
) -> R<Vec<OutRow>> {
    let (mut rows, options): (Vec<OutRow>, Vec<&ast::OrderByExpr>) = match &plan.body {
        Body::Select(sp) => (run_select(db, ctx, sp, outer, sources)?, sp.order.iter().map(|(_, o)| *o).collect()),
        body => {
            let rows = run_body(db, ctx, body, plan.ctes, outer)?;
            let rows = rows
                .into_iter()
                .map(|r| OutRow {
                    keys: plan.order.iter().map(|(k, _)| r.get(*k).cloned().unwrap_or(Datum::Null)).collect(),
                    row: r,
                    distinct_on: Vec::new(),
                    sys: Vec::new(),
                })
                .collect();
            (rows, plan.order.iter().map(|(_, o)| *o).collect())
        }
    };
    if !options.is_empty() {
        rows.sort_by(|a, b| compare_keys(&a.keys, &b.keys, &options));
    }
    if let Body::Select(sp) = &plan.body {
        if let Distinct::On(_) = sp.distinct {
            let mut seen = HashSet::new();
            rows.retain(|r| seen.insert(r.distinct_on.iter().map(key_text).collect::<Vec<_>>()));
        }
    }
    Ok(rows)
}

/// ORDER BY's comparison: each key ascending or descending, NULLs last unless told otherwise
/// (first when descending), as PostgreSQL sorts.
fn compare_keys(a: &[Datum], b: &[Datum], order: &[&ast::OrderByExpr]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (i, o) in order.iter().enumerate() {
        let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
        let nulls_first = o.options.nulls_first.unwrap_or(desc);
        let (x, y) = (a.get(i).unwrap_or(&Datum::Null), b.get(i).unwrap_or(&Datum::Null));
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = x.compare(y).unwrap_or(Ordering::Equal);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// A value as grouping, DISTINCT and set operations compare it: numerics by value (`1.0` is
/// `1.00`), zero without a sign.
fn key_text(d: &Datum) -> Option<String> {
    match d {
        Datum::Numeric(s) => match parse_decimal(s) {
            Some((m, scale)) => {
                let t = decimal_text(m, scale);
                let t = if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_string() } else { t };
                Some(if t == "-0" { "0".into() } else { t })
            }
            None => Some(s.clone()),
        },
        Datum::Float(f) if *f == 0.0 => Some("0".into()),
        // Intervals are equal when their lengths are (`1 day` and `24:00:00`, `1 mon` and
        // `30 days`), as PostgreSQL's interval_eq has them.
        Datum::Interval(iv) => Some(iv.span().to_string()),
        d => d.to_text(),
    }
}

fn row_key(r: &[Datum]) -> Vec<Option<String>> {
    r.iter().map(key_text).collect()
}

/// OFFSET and LIMIT (or FETCH FIRST) of a query.
pub(super) fn limits(db: &Database, ctx: &Ctx, q: &ast::Query, outer: Option<&Scope>) -> R<(usize, Option<usize>)> {
    let scope = Scope { outer, ctx: Some(ctx), depth: level_depth(outer), ..Scope::empty() };
    let (mut limit, mut offset) = (None, 0usize);
    if let Some(ast::LimitClause::LimitOffset { limit: l, offset: o, .. }) = &q.limit_clause {
        if let Some(l) = l {
            match as_int(eval(l, &scope, db)?) {
                Datum::Int(n) if n >= 0 => limit = Some(n as usize),
                Datum::Null => {}
                _ => return Err(SqlError::new("2201W", "LIMIT must not be negative").into()),
            }
        }
        if let Some(o) = o {
            match as_int(eval(&o.value, &scope, db)?) {
                Datum::Int(n) if n >= 0 => offset = n as usize,
                Datum::Null => {}
                _ => return Err(SqlError::new("2201X", "OFFSET must not be negative").into()),
            }
        }
    }
    // The standard's spelling of LIMIT: FETCH FIRST [n] ROW[S] ONLY (n defaults to one).
    if let Some(fetch) = &q.fetch {
        if fetch.with_ties || fetch.percent {
            return Err(SqlError::new("0A000", "terrarium does not support FETCH ... WITH TIES or PERCENT").into());
        }
        limit = match &fetch.quantity {
            None => Some(1),
            Some(e) => match as_int(eval(e, &scope, db)?) {
                Datum::Int(n) if n >= 0 => Some(n as usize),
                Datum::Null => None,
                _ => return Err(SqlError::new("2201W", "LIMIT must not be negative").into()),
            },
        };
    }
    Ok((offset, limit))
}

/// The rows of a set-operation branch (or VALUES, or a parenthesized query), in no set order.
fn run_body(db: &Database, ctx: &Ctx, body: &Body, ctes: &[ast::Cte], outer: Option<&Scope>) -> R<Vec<Row>> {
    match body {
        Body::Select(sp) => Ok(run_select(db, ctx, sp, outer, false)?.into_iter().map(|r| r.row).collect()),
        Body::Nested(q) => {
            let bare = Scope::bare(outer, ctes, &[], Some(ctx));
            run_plan(db, ctx, q, Some(&bare))
        }
        Body::Values(v) => {
            let scope = Scope::bare(outer, ctes, &[], Some(ctx));
            let mut rows = Vec::new();
            for r in v.rows {
                let mut row = Vec::new();
                for (e, c) in r.content.iter().zip(&v.columns) {
                    let d = eval(e, &scope, db)?;
                    row.push(if v.unknown.is_empty() { d } else { coerce(d, c.ty, None, None)? });
                }
                rows.push(row);
            }
            Ok(rows)
        }
        Body::SetOp(s) => {
            let convert = |rows: Vec<Row>, from: &[OutColumn]| -> R<Vec<Row>> {
                if from.iter().zip(&s.columns).all(|(a, b)| a.ty == b.ty) {
                    return Ok(rows);
                }
                rows.into_iter()
                    .map(|r| r.into_iter().zip(&s.columns).map(|(d, c)| coerce(d, c.ty, None, None)).collect())
                    .collect()
            };
            let l = convert(run_body(db, ctx, &s.left, ctes, outer)?, body_columns(&s.left).0)?;
            let r = convert(run_body(db, ctx, &s.right, ctes, outer)?, body_columns(&s.right).0)?;
            Ok(combine(&s.op, s.all, l, r))
        }
    }
}

/// UNION, INTERSECT and EXCEPT, with or without ALL; rows are equal when all their values are
/// (NULL equal to NULL, as set operations compare).
fn combine(op: &ast::SetOperator, all: bool, l: Vec<Row>, r: Vec<Row>) -> Vec<Row> {
    let distinct = |rows: Vec<Row>| -> Vec<Row> {
        let mut seen = HashSet::new();
        rows.into_iter().filter(|x| seen.insert(row_key(x))).collect()
    };
    let mut counts: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    match op {
        ast::SetOperator::Union => {
            let mut rows = l;
            rows.extend(r);
            if all {
                rows
            } else {
                distinct(rows)
            }
        }
        // INTERSECT keeps the left rows that have a partner on the right, EXCEPT those that do
        // not; with ALL each right row partners one left row.
        op => {
            let keep_partnered = matches!(op, ast::SetOperator::Intersect);
            for x in &r {
                *counts.entry(row_key(x)).or_default() += 1;
            }
            let rows = if all { l } else { distinct(l) };
            rows.into_iter()
                .filter(|x| {
                    let partnered = match counts.get_mut(&row_key(x)) {
                        Some(n) if *n > 0 => {
                            if all {
                                *n -= 1;
                            }
                            true
                        }
                        _ => false,
                    };
                    partnered == keep_partnered
                })
                .collect()
        }
    }
}

/// Runs one SELECT: FROM, WHERE, groups, the select list, DISTINCT; rows with their sort keys.
fn run_select(db: &Database, ctx: &Ctx, sp: &SelectPlan, outer: Option<&Scope>, sources: bool) -> R<Vec<OutRow>> {
    let depth = level_depth(outer);
    let level = Scope { ns: &sp.ns, rtable: &sp.items, outer, ctx: Some(ctx), depth, ctes: sp.ctes, ..Scope::empty() };
    let rows = source_rows(db, ctx, sp, &level)?;
    let mut out = Vec::new();
    let srf = !sp.srfs.is_empty();
    let finish = |scope: &Scope, sys: Vec<Option<Sys>>, out: &mut Vec<OutRow>| -> R<()> {
        let rows = if srf {
            project_set(sp, scope, db, false)?
        } else {
            vec![sp.out.iter().map(|o| out_value(o, scope, db)).collect::<R<Row>>()?]
        };
        let distinct_on: Vec<Datum> = match &sp.distinct {
            Distinct::On(exprs) => exprs.iter().map(|e| eval(e, scope, db)).collect::<R<_>>()?,
            _ => Vec::new(),
        };
        for row in rows {
            let mut keys = Vec::new();
            for (k, _) in &sp.order {
                keys.push(match k {
                    SortKey::Output(i) => row.get(*i).cloned().unwrap_or(Datum::Null),
                    SortKey::Expr(e) => eval(e, scope, db)?,
                });
            }
            out.push(OutRow { row, keys, distinct_on: distinct_on.clone(), sys: sys.clone() });
        }
        Ok(())
    };
    if sp.grouped {
        // One output row per GROUP BY key, in the order the keys first appear (one group of
        // everything without GROUP BY); the select list, HAVING and ORDER BY see the group's
        // first row and its aggregates.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        if sp.group.is_empty() {
            groups.push((0..rows.len()).collect());
        } else {
            let mut index: HashMap<Vec<Option<String>>, usize> = HashMap::new();
            for (i, r) in rows.iter().enumerate() {
                let scope = Scope { row: RowRef::Flat(r), ..level };
                let key = sp.group.iter().map(|g| out_value(g, &scope, db).map(|d| key_text(&d))).collect::<R<_>>()?;
                match index.get(&key) {
                    Some(&g) => groups[g].push(i),
                    None => {
                        index.insert(key, groups.len());
                        groups.push(vec![i]);
                    }
                }
            }
        }
        for members in &groups {
            let member_rows: Vec<&JRow> = members.iter().map(|&i| &rows[i]).collect();
            let mut values = Vec::new();
            for f in &sp.aggs {
                values.push((*f as *const ast::Function as usize, aggregate(f, &member_rows, &level, db)?));
            }
            let row = match member_rows.first() {
                Some(r) => RowRef::Flat(r),
                None => RowRef::None,
            };
            let scope = Scope { row, aggs: Aggs::Values(&values), ..level };
            if let Some(h) = &sp.sel.having {
                if !truthy(&eval(h, &scope, db)?) {
                    continue;
                }
            }
            finish(&scope, Vec::new(), &mut out)?;
        }
    } else {
        for r in &rows {
            let scope = Scope { row: RowRef::Flat(r), ..level };
            finish(&scope, if sources { r.sys.clone() } else { Vec::new() }, &mut out)?;
        }
    }
    if let Distinct::All = sp.distinct {
        let mut seen = HashSet::new();
        out.retain(|r| seen.insert(row_key(&r.row)));
    }
    Ok(out)
}

/// The rows a select list with set-returning functions makes of one input row: as many as the
/// longest series (the shorter ones padded with NULLs), each the select list computed with the
/// calls' values at that step, as PostgreSQL's ProjectSet does. With `dry`, the calls'
/// arguments are only computed.
fn project_set(sp: &SelectPlan, scope: &Scope, db: &Database, dry: bool) -> R<Vec<Row>> {
    let mut series_values = Vec::new();
    let mut n = 0;
    for f in &sp.srfs {
        let args = function_args(f)
            .into_iter()
            .map(|a| match a {
                FunctionArgExpr::Expr(x) => eval(x, scope, db),
                _ => Ok(Datum::Null),
            })
            .collect::<R<Vec<_>>>()?;
        let ty = series_arg_type(&args);
        let values = if dry { Vec::new() } else { series(args, ty)? };
        n = n.max(values.len());
        series_values.push(values);
    }
    let mut rows = Vec::new();
    for i in 0..n {
        let current: Vec<(usize, Datum)> = sp
            .srfs
            .iter()
            .zip(&series_values)
            .map(|(f, v)| {
                (*f as *const ast::Function as usize, v.get(i).and_then(|r| r.first().cloned()).unwrap_or(Datum::Null))
            })
            .collect();
        let step = Scope { srfs: &current, ..*scope };
        rows.push(sp.out.iter().map(|o| out_value(o, &step, db)).collect::<R<Row>>()?);
    }
    Ok(rows)
}

/// Which generate_series a call's computed arguments pick: numeric if one is, else bigint.
fn series_arg_type(args: &[Datum]) -> SqlType {
    if args.iter().any(|d| matches!(d, Datum::Numeric(_) | Datum::Float(_))) {
        SqlType::Numeric
    } else {
        SqlType::Int8
    }
}

pub(super) fn out_value(o: &Out, scope: &Scope, db: &Database) -> R<Datum> {
    match o {
        Out::Expr(e) => eval(e, scope, db),
        Out::Col(src) => Ok(scope.row.src(src)),
    }
}

/// An aggregate over a group's rows.
fn aggregate(f: &ast::Function, rows: &[&JRow], level: &Scope, db: &Database) -> R<Datum> {
    let name = function_name(f);
    let args = function_args(f);
    let arg = match args.first() {
        Some(FunctionArgExpr::Expr(e)) => Some(e),
        _ => None, // count(*)
    };
    // `agg(x ORDER BY k)`: the values go in the order of k (string_agg cares; the others not).
    let order: &[ast::OrderByExpr] = match &f.args {
        FunctionArguments::List(l) => l
            .clauses
            .iter()
            .find_map(|c| match c {
                ast::FunctionArgumentClause::OrderBy(o) => Some(o.as_slice()),
                _ => None,
            })
            .unwrap_or(&[]),
        _ => &[],
    };
    let mut values = Vec::new();
    let mut keys: Vec<Vec<Datum>> = Vec::new();
    let mut delimiter = None;
    for r in rows {
        let scope = Scope { row: RowRef::Flat(r), ..*level };
        // `agg(x) FILTER (WHERE cond)`: only the rows that satisfy cond.
        if let Some(filter) = &f.filter {
            if !truthy(&eval(filter, &scope, db)?) {
                continue;
            }
        }
        match arg {
            None => values.push(Datum::Int(1)),
            Some(e) => {
                let d = eval(e, &scope, db)?;
                if !d.is_null() {
                    if name == "string_agg" && delimiter.is_none() {
                        if let Some(FunctionArgExpr::Expr(sep)) = args.get(1) {
                            delimiter = eval(sep, &scope, db)?.to_text();
                        }
                    }
                    if !order.is_empty() {
                        keys.push(order.iter().map(|o| eval(&o.expr, &scope, db)).collect::<R<Vec<_>>>()?);
                    }
                    values.push(d);
                }
            }
        }
    }
    if !order.is_empty() && keys.len() == values.len() {
        let mut paired: Vec<(Vec<Datum>, Datum)> = keys.into_iter().zip(values).collect();
        paired.sort_by(|(a, _), (b, _)| {
            for (o, (x, y)) in order.iter().zip(a.iter().zip(b)) {
                let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
                // NULLs sort last ascending and first descending, unless told.
                let nulls_first = o.options.nulls_first.unwrap_or(desc);
                let c = match (x.is_null(), y.is_null()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => {
                        if nulls_first {
                            std::cmp::Ordering::Less
                        } else {
                            std::cmp::Ordering::Greater
                        }
                    }
                    (false, true) => {
                        if nulls_first {
                            std::cmp::Ordering::Greater
                        } else {
                            std::cmp::Ordering::Less
                        }
                    }
                    _ => {
                        let c = x.compare(y).unwrap_or(std::cmp::Ordering::Equal);
                        if desc {
                            c.reverse()
                        } else {
                            c
                        }
                    }
                };
                if c != std::cmp::Ordering::Equal {
                    return c;
                }
            }
            std::cmp::Ordering::Equal
        });
        values = paired.into_iter().map(|(_, v)| v).collect();
    }
    // count(DISTINCT x), sum(DISTINCT x): each value once.
    let distinct = matches!(&f.args, FunctionArguments::List(l)
        if matches!(l.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct)));
    if distinct {
        let mut seen = HashSet::new();
        values.retain(|v| seen.insert(key_text(v)));
    }
    Ok(match name.as_str() {
        "count" => Datum::Int(values.len() as i64),
        _ if values.is_empty() => Datum::Null,
        "sum" => {
            let ints = values.iter().try_fold(0i64, |acc, d| match d {
                Datum::Int(n) => acc.checked_add(*n),
                _ => None,
            });
            match (ints, decimal_sum(&values)) {
                (Some(n), _) => Datum::Int(n),
                // numeric values (and bigints past i64) add up exactly, keeping the largest scale.
                (None, Some((m, scale))) => Datum::Numeric(decimal_text(m, scale)),
                (None, None) => Datum::Float(values.iter().filter_map(as_f64).sum()),
            }
        }
        "avg" => {
            // Integers and numerics average as numeric does: their exact sum over the count.
            let exact = decimal_sum(&values)
                .and_then(|sum| decimal_arith(&BinaryOperator::Divide, sum, (values.len() as i128, 0)));
            match exact {
                Some(d) => d,
                None => Datum::Float(values.iter().filter_map(as_f64).sum::<f64>() / values.len() as f64),
            }
        }
        "bool_and" | "every" => Datum::Bool(values.iter().all(truthy)),
        "bool_or" => Datum::Bool(values.iter().any(truthy)),
        "string_agg" => {
            let parts: Vec<String> = values.iter().filter_map(Datum::to_text).collect();
            Datum::Text(parts.join(delimiter.as_deref().unwrap_or("")))
        }
        "min" | "max" => {
            let mut best = values[0].clone();
            for v in &values[1..] {
                if let Some(o) = v.compare(&best) {
                    if (name == "min" && o.is_lt()) || (name == "max" && o.is_gt()) {
                        best = v.clone();
                    }
                }
            }
            best
        }
        _ => Datum::Null,
    })
}

/// The level's rows that pass WHERE.
fn source_rows<'d>(db: &'d Database, ctx: &Ctx, sp: &SelectPlan, level: &Scope) -> R<Vec<JRow<'d>>> {
    let selection = sp.sel.selection.as_ref();
    let passes = |scope: &Scope| -> R<bool> {
        match selection {
            Some(w) => Ok(truthy(&eval(w, scope, db)?)),
            None => Ok(true),
        }
    };
    match sp.from.as_slice() {
        [] => {
            let row = JRow { vals: Cow::Owned(Vec::new()), sys: Vec::new() };
            let ok = passes(&Scope { row: RowRef::Flat(&row), ..*level })?;
            Ok(if ok { vec![row] } else { Vec::new() })
        }
        [Node { kind: NodeKind::Scan { table, .. }, .. }] => {
            // One table: its versions are read in place, through a unique index when WHERE
            // pins a unique column to a value.
            ctx.reads.borrow_mut().insert(table.clone());
            let t = db
                .tables
                .get(table)
                .ok_or_else(|| SqlError::new("42P01", format!("relation \"{table}\" does not exist")))?;
            let values_scope = Scope { ns: &[], rtable: &[], ..*level };
            let candidates = selection.and_then(|w| index_candidates(db, t, w, &sp.ns, &values_scope));
            let mut kept = Vec::new();
            for (ctid, v) in visible_versions(db, t, &ctx.snapshot, candidates) {
                if skipped(db, ctx, level, table, ctid) {
                    continue;
                }
                if passes(&Scope { row: RowRef::Heap(ctid, v), ..*level })? {
                    kept.push(ctid);
                }
            }
            Ok(kept
                .into_iter()
                .filter_map(|ctid| t.heap.get(ctid).map(|v| (ctid, v)))
                .map(|(ctid, v)| JRow {
                    vals: Cow::Borrowed(v.row.as_slice()),
                    sys: vec![Some((ctid, v.xmin, v.xmax))],
                })
                .collect())
        }
        [first, rest @ ..] => {
            let mut acc = node_rows(db, ctx, sp, first, level)?;
            for (k, node) in rest.iter().enumerate() {
                let next = node_rows(db, ctx, sp, node, level)?;
                // WHERE is tested on the last product before its rows are built, and its
                // equalities between the two sides pick the pairs to test.
                let last = k + 1 == rest.len();
                let keys = match selection {
                    Some(w) if last => equi_keys(w, level, (0, node.cols.0), node.cols),
                    _ => Vec::new(),
                };
                let pairs = Pairs::new(&keys, &next);
                let mut joined = Vec::new();
                let mut budget = JoinBudget::default();
                for l in &acc {
                    let partners = pairs.partners(l);
                    budget.test(partners.len())?;
                    budget.rows(joined.len())?;
                    for &ri in partners {
                        let r = &next[ri];
                        if last {
                            let pair = RowRef::Pair { left: l, right: r, split: node.cols.0, slot_split: node.slots.0 };
                            if !passes(&Scope { row: pair, ..*level })? {
                                continue;
                            }
                        }
                        joined.push(merge(l, r, node));
                    }
                }
                acc = joined;
            }
            if rest.is_empty() {
                let mut kept = Vec::new();
                for r in acc {
                    if passes(&Scope { row: RowRef::Flat(&r), ..*level })? {
                        kept.push(r);
                    }
                }
                acc = kept;
            }
            Ok(acc)
        }
    }
}

/// Whether the statement's own scan leaves this row out (SKIP LOCKED found it taken).
fn skipped(db: &Database, ctx: &Ctx, level: &Scope, table: &str, ctid: Ctid) -> bool {
    ctx.skip && level.depth == 0 && !db.skip.is_empty() && db.skip.contains(&(table.to_string(), ctid))
}

/// `l` with the columns and system slots of `node` taken from `r`.
fn merge<'d>(l: &JRow<'d>, r: &JRow<'d>, node: &Node) -> JRow<'d> {
    let mut vals = l.vals.to_vec();
    let mut sys = l.sys.clone();
    for p in node.cols.0..node.cols.1 {
        if let (Some(slot), Some(v)) = (vals.get_mut(p), r.vals.get(p)) {
            *slot = v.clone();
        }
    }
    for p in node.slots.0..node.slots.1 {
        if let (Some(slot), Some(v)) = (sys.get_mut(p), r.sys.get(p)) {
            *slot = *v;
        }
    }
    JRow { vals: Cow::Owned(vals), sys }
}

/// The rows of one FROM item, each a full-width row with only its own columns filled.
fn node_rows<'d>(db: &'d Database, ctx: &Ctx, sp: &SelectPlan, node: &Node, level: &Scope) -> R<Vec<JRow<'d>>> {
    let blank = || JRow { vals: Cow::Owned(vec![Datum::Null; sp.width]), sys: vec![None; sp.slots] };
    let from_values = |rows: Vec<Row>| -> Vec<JRow<'d>> {
        rows.into_iter()
            .map(|r| {
                let mut j = blank();
                let vals = j.vals.to_mut();
                for (p, d) in (node.cols.0..node.cols.1).zip(r) {
                    vals[p] = d;
                }
                j
            })
            .collect()
    };
    let outer = level.outer;
    match &node.kind {
        NodeKind::Scan { table, slot } => {
            ctx.reads.borrow_mut().insert(table.clone());
            let t = db
                .tables
                .get(table)
                .ok_or_else(|| SqlError::new("42P01", format!("relation \"{table}\" does not exist")))?;
            let mut out = Vec::new();
            for (ctid, v) in t.heap.scan(&db.tx, &ctx.snapshot) {
                if skipped(db, ctx, level, table, ctid) {
                    continue;
                }
                let mut j = blank();
                let vals = j.vals.to_mut();
                for (p, d) in (node.cols.0..node.cols.1).zip(&v.row) {
                    vals[p] = d.clone();
                }
                if let Some(s) = j.sys.get_mut(*slot) {
                    *s = Some((ctid, v.xmin, v.xmax));
                }
                out.push(j);
            }
            Ok(out)
        }
        NodeKind::Derived(plan) => Ok(from_values(run_plan(db, ctx, plan, outer)?)),
        NodeKind::Cte { up, index } => {
            // The WITH query runs where it was defined: seeing the WITH queries before it and the
            // levels around its query.
            let (owner_ctes, owner_outer) = if *up == 0 {
                (sp.ctes, outer)
            } else {
                let mut s = outer;
                for _ in 1..*up {
                    s = s.and_then(|x| x.outer);
                }
                match s {
                    Some(s) => (s.ctes, s.outer),
                    None => return Err(SqlError::new("XX000", "WITH query out of reach").into()),
                }
            };
            if *index >= owner_ctes.len() {
                return Err(SqlError::new("XX000", "WITH query out of reach").into());
            }
            let plan = plan_cte(db, owner_ctes, *index, owner_outer)?;
            let bare = Scope::bare(owner_outer, &owner_ctes[..*index], &[], Some(ctx));
            Ok(from_values(run_plan(db, ctx, &plan, Some(&bare))?))
        }
        NodeKind::Series { args, ty } => {
            let scope = Scope { outer, ctx: Some(ctx), depth: level.depth, ctes: sp.ctes, ..Scope::empty() };
            let values = args.iter().map(|e| eval(e, &scope, db)).collect::<R<Vec<_>>>()?;
            Ok(from_values(series(values, *ty)?))
        }
        NodeKind::Unnest { arg } => {
            let scope = Scope { outer, ctx: Some(ctx), depth: level.depth, ctes: sp.ctes, ..Scope::empty() };
            let rows = match eval(arg, &scope, db)? {
                Datum::Null => Vec::new(),
                d => {
                    let text = d.to_text().unwrap_or_default();
                    let (items, _) = super::catalog::parse_array(&text).ok_or_else(|| {
                        ExecError::from(SqlError::new("22P02", format!("malformed array literal: \"{text}\"")))
                    })?;
                    items.into_iter().map(|x| vec![x.map(Datum::Text).unwrap_or(Datum::Null)]).collect()
                }
            };
            Ok(from_values(rows))
        }
        NodeKind::Join(j) => join_rows(db, ctx, sp, j, level),
    }
}

/// `generate_series(start, stop [, step])`: nothing when an argument is NULL.
fn series(args: Vec<Datum>, ty: SqlType) -> R<Vec<Row>> {
    if args.len() < 2 {
        return Err(SqlError::new("42883", "function generate_series needs a start and a stop").into());
    }
    if args.iter().any(|d| d.is_null()) {
        return Ok(Vec::new());
    }
    let too_many = || {
        ExecError::from(SqlError::new("54000", format!("terrarium limits generate_series to {SERIES_ROWS_MAX} rows")))
    };
    let mut out = Vec::new();
    if ty == SqlType::Numeric {
        let num = |d: &Datum| -> R<(i128, u32)> {
            let text = d.to_text().unwrap_or_default();
            parse_decimal(&text).ok_or_else(|| {
                SqlError::new("22P02", format!("invalid input syntax for type numeric: \"{text}\"")).into()
            })
        };
        let (mut cur, stop) = (num(&args[0])?, num(&args[1])?);
        let step = match args.get(2) {
            Some(d) => num(d)?,
            None => (1, 0),
        };
        if step.0 == 0 {
            return Err(SqlError::new("22023", "step size cannot equal zero").into());
        }
        let cmp = |a: (i128, u32), b: (i128, u32)| {
            Datum::Numeric(decimal_text(a.0, a.1)).compare(&Datum::Numeric(decimal_text(b.0, b.1)))
        };
        while (step.0 > 0 && cmp(cur, stop).is_some_and(|o| o.is_le()))
            || (step.0 < 0 && cmp(cur, stop).is_some_and(|o| o.is_ge()))
        {
            if out.len() >= SERIES_ROWS_MAX {
                return Err(too_many());
            }
            out.push(vec![Datum::Numeric(decimal_text(cur.0, cur.1))]);
            match decimal_arith(&BinaryOperator::Plus, cur, step) {
                Some(Datum::Numeric(s)) => match parse_decimal(&s) {
                    Some(next) => cur = next,
                    None => break,
                },
                _ => break,
            }
        }
        return Ok(out);
    }
    let int = |d: &Datum| -> R<i64> {
        match coerce(d.clone(), SqlType::Int8, None, None)? {
            Datum::Int(n) => Ok(n),
            _ => Ok(0),
        }
    };
    let (mut cur, stop) = (int(&args[0])?, int(&args[1])?);
    let step = match args.get(2) {
        Some(d) => int(d)?,
        None => 1,
    };
    if step == 0 {
        return Err(SqlError::new("22023", "step size cannot equal zero").into());
    }
    while (step > 0 && cur <= stop) || (step < 0 && cur >= stop) {
        if out.len() >= SERIES_ROWS_MAX {
            return Err(too_many());
        }
        out.push(vec![Datum::Int(cur)]);
        match cur.checked_add(step) {
            Some(n) => cur = n,
            None => break,
        }
    }
    Ok(out)
}

/// A join by nested loops: each left row with each right row that satisfies ON (or USING),
/// NULL-extended rows for the outer sides.
fn join_rows<'d>(db: &'d Database, ctx: &Ctx, sp: &SelectPlan, j: &JoinNode, level: &Scope) -> R<Vec<JRow<'d>>> {
    let left = node_rows(db, ctx, sp, &j.left, level)?;
    let right = node_rows(db, ctx, sp, &j.right, level)?;
    let (split, slot_split) = (j.right.cols.0, j.right.slots.0);
    let on_rtable = &sp.items[..j.on_rtable.min(sp.items.len())];
    let on_scope = Scope { ns: &j.on_ns, rtable: on_rtable, ..*level };
    let keys = match j.on {
        Some(on) => equi_keys(on, &on_scope, j.left.cols, j.right.cols),
        None => j.using_keys.clone(),
    };
    let pairs = Pairs::new(&keys, &right);
    let mut right_matched = vec![false; right.len()];
    let mut out = Vec::new();
    let mut budget = JoinBudget::default();
    for l in &left {
        let mut matched = false;
        let partners = pairs.partners(l);
        budget.test(partners.len())?;
        budget.rows(out.len())?;
        for &k in partners {
            let r = &right[k];
            let row = RowRef::Pair { left: l, right: r, split, slot_split };
            let ok = match j.on {
                Some(on) => truthy(&eval(on, &Scope { row, ..on_scope }, db)?),
                None => j.using.iter().all(|(a, b)| row.src(a).compare(&row.src(b)) == Some(std::cmp::Ordering::Equal)),
            };
            if ok {
                matched = true;
                right_matched[k] = true;
                out.push(merge(l, r, &j.right));
            }
        }
        if !matched && matches!(j.kind, JoinKind::Left | JoinKind::Full) {
            out.push(l.clone());
        }
    }
    if matches!(j.kind, JoinKind::Right | JoinKind::Full) {
        for (k, r) in right.into_iter().enumerate() {
            if !right_matched[k] {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// The `x = y` terms among the AND-ed terms of `cond` with x a column of this level in `left`
/// and y one in `right` (as pairs of row positions): two rows can only pair when those values
/// are equal, so the right rows are looked up by them rather than all tried (a hash join). Only
/// columns of the same kind of type qualify, whose equal values have equal keys.
fn equi_keys(cond: &Expr, scope: &Scope, left: Span, right: Span) -> Vec<(usize, usize)> {
    fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
        match e {
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                conjuncts(left, out);
                conjuncts(right, out);
            }
            Expr::Nested(x) => conjuncts(x, out),
            other => out.push(other),
        }
    }
    let local = Scope { outer: None, ..*scope };
    let column = |e: &Expr| -> Option<(usize, SqlType)> {
        let found = match e {
            Expr::Identifier(i) => resolve(&local, None, &ident(i)),
            Expr::CompoundIdentifier(p) => {
                let (q, n) = split_name(p);
                resolve(&local, q.as_deref(), &n)
            }
            _ => return None,
        };
        match found {
            Ok((0, Target::Col(ColSrc::At(p), ty))) => Some((p, ty)),
            _ => None,
        }
    };
    let inside = |p: usize, s: Span| p >= s.0 && p < s.1;
    let mut terms = Vec::new();
    conjuncts(cond, &mut terms);
    let mut keys = Vec::new();
    for t in terms {
        let Expr::BinaryOp { left: a, op: BinaryOperator::Eq, right: b } = t else { continue };
        let (Some((x, tx)), Some((y, ty))) = (column(a), column(b)) else { continue };
        if hash_kind(tx).is_none() || hash_kind(tx) != hash_kind(ty) {
            continue;
        }
        if inside(x, left) && inside(y, right) {
            keys.push((x, y));
        } else if inside(y, left) && inside(x, right) {
            keys.push((y, x));
        }
    }
    keys
}

/// Types whose equal values have equal `key_text`s when both sides are of the same kind.
fn hash_kind(t: SqlType) -> Option<u8> {
    match t {
        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Oid => Some(0),
        SqlType::Text | SqlType::Varchar | SqlType::Name | SqlType::Char => Some(1),
        SqlType::Numeric => Some(2),
        SqlType::Float4 | SqlType::Float8 => Some(3),
        SqlType::Bool => Some(4),
        _ => None,
    }
}

/// Counts a join's work against JOIN_ROWS_MAX and JOIN_PAIRS_MAX.
#[derive(Default)]
struct JoinBudget {
    pairs: usize,
}

impl JoinBudget {
    fn test(&mut self, n: usize) -> R<()> {
        self.pairs = self.pairs.saturating_add(n);
        if self.pairs > JOIN_PAIRS_MAX {
            return Err(SqlError::new(
                "54000",
                format!("terrarium limits a join to {JOIN_PAIRS_MAX} row pairs tested"),
            )
            .into());
        }
        Ok(())
    }

    fn rows(&self, n: usize) -> R<()> {
        if n > JOIN_ROWS_MAX {
            return Err(SqlError::new("54000", format!("terrarium limits a join to {JOIN_ROWS_MAX} rows")).into());
        }
        Ok(())
    }
}

/// Which right rows a left row may pair with: all of them, or (with equality keys) those whose
/// key values equal the left row's; a NULL key pairs with nothing.
struct Pairs {
    keys: Vec<(usize, usize)>,
    all: Vec<usize>,
    index: HashMap<Vec<String>, Vec<usize>>,
}

impl Pairs {
    fn new(keys: &[(usize, usize)], right: &[JRow]) -> Pairs {
        let mut index: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
        if keys.is_empty() {
            return Pairs { keys: Vec::new(), all: (0..right.len()).collect(), index };
        }
        for (k, r) in right.iter().enumerate() {
            let key: Option<Vec<String>> = keys.iter().map(|&(_, p)| r.vals.get(p).and_then(key_text)).collect();
            if let Some(key) = key {
                index.entry(key).or_default().push(k);
            }
        }
        Pairs { keys: keys.to_vec(), all: Vec::new(), index }
    }

    fn partners(&self, l: &JRow) -> &[usize] {
        if self.keys.is_empty() {
            return &self.all;
        }
        let key: Option<Vec<String>> = self.keys.iter().map(|&(p, _)| l.vals.get(p).and_then(key_text)).collect();
        key.and_then(|k| self.index.get(&k)).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

// ------------------------------------------------------------------------------------------------
// Subqueries in expressions.
// ------------------------------------------------------------------------------------------------

/// The rows of a subquery in an expression, run with `scope` as its surroundings. A subquery
/// that referred to nothing around it gives the same rows every time: they are kept for the
/// rest of the statement.
pub(super) fn subquery_rows(q: &ast::Query, scope: &Scope, db: &Database) -> R<Rc<Vec<Row>>> {
    let Some(ctx) = scope.ctx else {
        return Err(SqlError::new("0A000", "terrarium does not support a subquery here").into());
    };
    if ctx.dry {
        return Ok(Rc::new(Vec::new()));
    }
    let key = q as *const ast::Query as usize;
    if let Some(rows) = ctx.cache.borrow().get(&key) {
        return Ok(rows.clone());
    }
    let saved = ctx.reach.replace(usize::MAX);
    let result = plan_query(db, q, Some(scope)).and_then(|p| run_plan(db, ctx, &p, Some(scope)));
    let reach = ctx.reach.get();
    ctx.reach.set(saved.min(reach));
    let rows = Rc::new(result?);
    if reach > scope.depth {
        ctx.cache.borrow_mut().insert(key, rows.clone());
    }
    Ok(rows)
}

/// `v IN (subquery)`. The rows of an uncorrelated subquery are the same for every `v`, so past
/// a few of them they are looked up through a hash set of their values (PostgreSQL's hashed
/// SubPlan) instead of compared one by one.
pub(super) fn in_subquery(q: &ast::Query, v: Datum, negated: bool, scope: &Scope, db: &Database) -> R<Datum> {
    let rows = subquery_rows(q, scope, db)?;
    let key = q as *const ast::Query as usize;
    let ctx = match scope.ctx {
        Some(c) if rows.len() >= IN_SET_ROWS_MIN && !v.is_null() && c.cache.borrow().contains_key(&key) => c,
        _ => return quantified(&BinaryOperator::Eq, v, &rows, true, negated),
    };
    let set = ctx
        .sets
        .borrow_mut()
        .entry(key)
        .or_insert_with(|| {
            let mut values = HashSet::new();
            let mut null = false;
            for r in rows.iter() {
                match r.first().and_then(key_text) {
                    Some(k) => {
                        values.insert(k);
                    }
                    None => null = true,
                }
            }
            Rc::new(InSet { values, null })
        })
        .clone();
    let found = key_text(&v).is_some_and(|k| set.values.contains(&k));
    Ok(if found {
        Datum::Bool(!negated)
    } else if set.null {
        Datum::Null
    } else {
        Datum::Bool(negated)
    })
}

/// The name PostgreSQL gives a scalar subquery's column: its own first column's.
pub(super) fn subquery_output_name(q: &ast::Query) -> String {
    let mut body = q.body.as_ref();
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = q.body.as_ref(),
            SetExpr::Select(sel) => {
                return match sel.projection.first() {
                    Some(SelectItem::UnnamedExpr(e)) => output_name(e),
                    Some(SelectItem::ExprWithAlias { alias, .. }) => ident(alias),
                    _ => "?column?".into(),
                }
            }
            SetExpr::Values(_) => return "column1".into(),
            _ => return "?column?".into(),
        }
    }
}

/// The type of a scalar subquery's column.
pub(super) fn subquery_type(q: &ast::Query, scope: &Scope, db: &Database) -> SqlType {
    plan_query(db, q, Some(scope)).ok().and_then(|p| p.columns.first().map(|c| c.ty)).unwrap_or(SqlType::Text)
}

// ------------------------------------------------------------------------------------------------
// The statement-level entry points.
// ------------------------------------------------------------------------------------------------

/// Runs a top-level query: its columns and rows.
pub(super) fn run_query(db: &Database, ctx: &Ctx, q: &ast::Query) -> R<(Vec<OutColumn>, Vec<Row>)> {
    let plan = plan_query(db, q, None)?;
    let rows = run_plan(db, ctx, &plan, None)?;
    Ok((plan.columns, rows))
}

/// Whether a query reads `name` in a FROM clause (its own, a join's, a subquery's in FROM).
pub(super) fn reads_table(q: &ast::Query, name: &str) -> bool {
    fn factor(tf: &TableFactor, name: &str) -> bool {
        match tf {
            TableFactor::Table { name: n, .. } => object_name(n) == name,
            TableFactor::Derived { subquery, .. } => reads_table(subquery, name),
            TableFactor::NestedJoin { table_with_joins, .. } => twj(table_with_joins, name),
            _ => false,
        }
    }
    fn twj(t: &ast::TableWithJoins, name: &str) -> bool {
        factor(&t.relation, name) || t.joins.iter().any(|j| factor(&j.relation, name))
    }
    fn body(b: &SetExpr, name: &str) -> bool {
        match b {
            SetExpr::Select(sel) => sel.from.iter().any(|t| twj(t, name)),
            SetExpr::Query(q) => reads_table(q, name),
            SetExpr::SetOperation { left, right, .. } => body(left, name) || body(right, name),
            _ => false,
        }
    }
    q.with.as_ref().is_some_and(|w| w.cte_tables.iter().any(|c| reads_table(&c.query, name))) || body(&q.body, name)
}

/// Where a join that sqlparser accepted without ON or USING ends (PostgreSQL's grammar requires
/// one for every join but CROSS and NATURAL): its syntax error is at the token after that.
pub(super) fn join_without_condition(q: &ast::Query) -> Option<sqlparser::tokenizer::Location> {
    use sqlparser::ast::Spanned;
    fn twj(t: &ast::TableWithJoins) -> Option<sqlparser::tokenizer::Location> {
        factor(&t.relation).or_else(|| {
            t.joins.iter().find_map(|j| {
                use ast::JoinOperator as J;
                let bare = matches!(
                    &j.join_operator,
                    J::Join(ast::JoinConstraint::None)
                        | J::Inner(ast::JoinConstraint::None)
                        | J::Left(ast::JoinConstraint::None)
                        | J::LeftOuter(ast::JoinConstraint::None)
                        | J::Right(ast::JoinConstraint::None)
                        | J::RightOuter(ast::JoinConstraint::None)
                        | J::FullOuter(ast::JoinConstraint::None)
                );
                if bare {
                    Some(j.relation.span().end)
                } else {
                    factor(&j.relation)
                }
            })
        })
    }
    fn factor(tf: &TableFactor) -> Option<sqlparser::tokenizer::Location> {
        match tf {
            TableFactor::Derived { subquery, .. } => join_without_condition(subquery),
            TableFactor::NestedJoin { table_with_joins, .. } => twj(table_with_joins),
            _ => None,
        }
    }
    fn body(b: &SetExpr) -> Option<sqlparser::tokenizer::Location> {
        match b {
            SetExpr::Select(sel) => sel.from.iter().find_map(twj),
            SetExpr::Query(q) => join_without_condition(q),
            SetExpr::SetOperation { left, right, .. } => body(left).or_else(|| body(right)),
            _ => None,
        }
    }
    q.with
        .as_ref()
        .and_then(|w| w.cte_tables.iter().find_map(|c| join_without_condition(&c.query)))
        .or_else(|| body(&q.body))
}

/// The lock strength as PostgreSQL names it in errors.
fn strength(q: &ast::Query) -> &'static str {
    match q.locks.first().map(|l| &l.lock_type) {
        Some(ast::LockType::Share) => "FOR SHARE",
        _ => "FOR UPDATE",
    }
}

/// The tables rows of which SELECT ... FOR UPDATE locks: their items (as names and system
/// slots), after PostgreSQL's checks (analysis: what the query may not have; planning: no
/// NULL-extended side).
pub(super) fn lock_targets(plan: &QueryPlan, q: &ast::Query) -> R<Vec<(String, usize)>> {
    let what = strength(q);
    let not_allowed =
        |with: &str| -> ExecError { SqlError::new("0A000", format!("{what} is not allowed with {with}")).into() };
    let Body::Select(sp) = &plan.body else { return Err(not_allowed("UNION/INTERSECT/EXCEPT")) };
    if !matches!(sp.distinct, Distinct::No) {
        return Err(not_allowed("DISTINCT clause"));
    }
    if !sp.group.is_empty() {
        return Err(not_allowed("GROUP BY clause"));
    }
    if sp.sel.having.is_some() {
        return Err(not_allowed("HAVING clause"));
    }
    if !sp.aggs.is_empty() {
        return Err(not_allowed("aggregate functions"));
    }
    if !sp.srfs.is_empty() {
        return Err(not_allowed("set-returning functions in the target list"));
    }
    let mut targets: Vec<&NsItem> = Vec::new();
    for lock in &q.locks {
        match &lock.of {
            None => targets.extend(sp.items.iter().filter(|i| i.relation.is_some())),
            Some(of) => {
                let n = object_name(of);
                let Some(item) = sp.items.iter().find(|i| i.name == n && (i.rel_visible || i.join)) else {
                    return Err(SqlError::new(
                        "42P01",
                        format!("relation \"{n}\" in {what} clause not found in FROM clause"),
                    )
                    .into());
                };
                if item.relation.is_none() {
                    let kind = if item.join {
                        "a join"
                    } else if item.cte.is_some() {
                        "a WITH query"
                    } else if item.function {
                        "a function"
                    } else {
                        "a subquery"
                    };
                    if kind != "a subquery" {
                        return Err(SqlError::new("0A000", format!("{what} cannot be applied to {kind}")).into());
                    }
                }
                targets.push(item);
            }
        }
    }
    if targets.iter().any(|i| i.nullable) {
        return Err(
            SqlError::new("0A000", format!("{what} cannot be applied to the nullable side of an outer join")).into()
        );
    }
    let mut out: Vec<(String, usize)> = Vec::new();
    for t in targets {
        if let Some(rel) = &t.relation {
            if !out.iter().any(|(_, s)| *s == t.slot) {
                out.push((rel.clone(), t.slot));
            }
        }
    }
    Ok(out)
}

/// For FOR UPDATE on one table: the single table's item and the query's WHERE (READ COMMITTED
/// re-checks WHERE on a row that moved).
pub(super) fn single_table_recheck<'p>(plan: &'p QueryPlan) -> Option<(&'p [NsItem], Option<&'p Expr>)> {
    match &plan.body {
        Body::Select(sp) if matches!(sp.from.as_slice(), [Node { kind: NodeKind::Scan { .. }, .. }]) => {
            Some((&sp.ns, sp.sel.selection.as_ref()))
        }
        _ => None,
    }
}

/// check_plan's dry run: the select list and WHERE of a plain SELECT evaluated once over a
/// made-up row of harmless values, so that what PostgreSQL finds while planning (an unknown
/// function, a constant that does not compute, a literal its column's type cannot read) is
/// found before any row is.
///
/// An error that a value could cause (division by zero, overflow, text that does not read as
/// a number) counts only if the same expressions also fail over a row of NULLs: then it came
/// from constants, which PostgreSQL folds while planning; otherwise from the made-up values,
/// and rows will tell (after RowDescription, as in PostgreSQL).
pub(super) fn dry_run(db: &Database, plan: &QueryPlan) -> R<()> {
    let Body::Select(sp) = &plan.body else { return Ok(()) };
    match dry_row(db, sp, false) {
        Err(ExecError::Sql(e)) if ["22012", "22003", "22P02"].contains(&e.code) => {
            dry_row(db, sp, true).map_err(|_| ExecError::Sql(e))
        }
        r => r,
    }
}

fn dry_row(db: &Database, sp: &SelectPlan, nulls: bool) -> R<()> {
    let mut vals = vec![if nulls { Datum::Null } else { Datum::Text("a".into()) }; sp.width];
    for item in sp.items.iter().filter(|i| !i.join && !nulls) {
        for c in &item.cols {
            if let ColSrc::At(p) = c.src {
                if let Some(v) = vals.get_mut(p) {
                    *v = match c.ty {
                        SqlType::Bool => Datum::Bool(true),
                        SqlType::Float4 | SqlType::Float8 => Datum::Float(1.0),
                        SqlType::Numeric => Datum::Numeric("1".into()),
                        t if t.is_integer() => Datum::Int(1),
                        SqlType::Timestamp => Datum::Text("2000-01-01 00:00:00".into()),
                        SqlType::Timestamptz => Datum::Text("2000-01-01 00:00:00+00".into()),
                        SqlType::Date => Datum::Date(0),
                        SqlType::Interval => Datum::Interval(Default::default()),
                        SqlType::Uuid => Datum::Uuid([0; 16]),
                        SqlType::Bytea => Datum::Bytea(Vec::new()),
                        SqlType::Jsonb => Datum::Jsonb("{}".into()),
                        SqlType::Json => Datum::Json("{}".into()),
                        _ => Datum::Text("a".into()),
                    };
                }
            }
        }
    }
    let row = JRow { vals: Cow::Owned(vals), sys: vec![Some((Ctid(0), 1, 0)); sp.slots] };
    let ctx = Ctx::dry();
    let level = Scope {
        ns: &sp.ns,
        rtable: &sp.items,
        row: RowRef::Flat(&row),
        ctx: Some(&ctx),
        ctes: sp.ctes,
        ..Scope::empty()
    };
    let r = (|| {
        let with_aggs = Scope { aggs: Aggs::Dry, ..level };
        if sp.srfs.is_empty() {
            for o in &sp.out {
                out_value(o, &with_aggs, db)?;
            }
        } else {
            project_set(sp, &with_aggs, db, true)?;
        }
        if let Some(w) = &sp.sel.selection {
            eval(w, &level, db)?;
        }
        Ok(())
    })();
    db.sleep_request.set(None);
    r
}

// ------------------------------------------------------------------------------------------------
// Parameter types.
// ------------------------------------------------------------------------------------------------

/// Gives untyped parameters of a query the types of what they meet (see `infer_param_types`).
pub(super) fn infer_query(db: &Database, q: &ast::Query, outer: Option<&Scope>, set: &mut dyn FnMut(&Expr, SqlType)) {
    let Ok(plan) = plan_query(db, q, outer) else { return };
    infer_body(db, &plan.body, plan.ctes, outer, set);
}

fn infer_body(
    db: &Database,
    body: &Body,
    ctes: &[ast::Cte],
    outer: Option<&Scope>,
    set: &mut dyn FnMut(&Expr, SqlType),
) {
    match body {
        Body::Select(sp) => {
            let scope = Scope {
                ns: &sp.ns,
                rtable: &sp.items,
                outer,
                depth: level_depth(outer),
                ctes: sp.ctes,
                ..Scope::empty()
            };
            infer_nodes(db, &sp.from, &scope, set);
            for o in &sp.out {
                if let Out::Expr(e) = o {
                    infer_expr(db, e, &scope, set);
                }
            }
            if let Some(w) = &sp.sel.selection {
                infer_expr(db, w, &scope, set);
            }
            if let Some(h) = &sp.sel.having {
                infer_expr(db, h, &scope, set);
            }
        }
        Body::Nested(q) => {
            let bare = Scope::bare(outer, ctes, &[], None);
            infer_body(db, &q.body, q.ctes, Some(&bare), set);
        }
        Body::SetOp(s) => {
            infer_body(db, &s.left, ctes, outer, set);
            infer_body(db, &s.right, ctes, outer, set);
        }
        Body::Values(_) => {}
    }
}

fn infer_nodes(db: &Database, nodes: &[Node], level: &Scope, set: &mut dyn FnMut(&Expr, SqlType)) {
    for n in nodes {
        if let NodeKind::Series { args, ty } = &n.kind {
            args.iter().for_each(|a| set(a, *ty));
        }
        if let NodeKind::Join(j) = &n.kind {
            infer_nodes(db, std::slice::from_ref(&j.left), level, set);
            infer_nodes(db, std::slice::from_ref(&j.right), level, set);
            if let Some(on) = j.on {
                let scope = Scope { ns: &j.on_ns, ..*level };
                infer_expr(db, on, &scope, set);
            }
        }
    }
}

/// The type of an expression a parameter may take from it: a column's, a subquery's, a cast's,
/// a number's.
fn typed(e: &Expr, scope: &Scope, db: &Database) -> Option<SqlType> {
    match e {
        Expr::Identifier(i) => resolve(scope, None, &ident(i)).ok().map(|(_, t)| t.ty()),
        Expr::CompoundIdentifier(p) => {
            let (q, n) = split_name(p);
            resolve(scope, q.as_deref(), &n).ok().map(|(_, t)| t.ty())
        }
        Expr::Subquery(_) | Expr::Cast { .. } => Some(static_type(e, scope, db)),
        Expr::Value(v) if matches!(v.value, Value::Number(..)) => Some(static_type(e, scope, db)),
        Expr::Nested(x) => typed(x, scope, db),
        _ => None,
    }
}

/// Walks an expression, giving each parameter it compares with something typed that type.
pub(super) fn infer_expr(db: &Database, e: &Expr, scope: &Scope, set: &mut dyn FnMut(&Expr, SqlType)) {
    match e {
        Expr::BinaryOp { left, right, .. } => {
            if let Some(ty) = typed(left, scope, db) {
                set(right, ty);
            }
            if let Some(ty) = typed(right, scope, db) {
                set(left, ty);
            }
            infer_expr(db, left, scope, set);
            infer_expr(db, right, scope, set);
        }
        Expr::Nested(x) | Expr::UnaryOp { expr: x, .. } | Expr::IsNull(x) | Expr::IsNotNull(x) => {
            infer_expr(db, x, scope, set)
        }
        // `$1::int4`: the parameter is of the cast's type (`$1::text::int4`: text).
        Expr::Cast { expr, data_type, .. } => {
            if let Ok((ty, _, _)) = column_type(data_type) {
                set(expr, ty);
            }
            infer_expr(db, expr, scope, set)
        }
        Expr::Like { expr, pattern, .. } => {
            set(pattern, SqlType::Text);
            infer_expr(db, expr, scope, set);
            infer_expr(db, pattern, scope, set);
        }
        Expr::Function(f) => {
            for a in function_args(f) {
                if let FunctionArgExpr::Expr(x) = a {
                    infer_expr(db, x, scope, set);
                }
            }
        }
        Expr::Case { operand, conditions, else_result, .. } => {
            for x in operand.iter().chain(else_result.iter()) {
                infer_expr(db, x, scope, set);
            }
            for w in conditions {
                infer_expr(db, &w.condition, scope, set);
                infer_expr(db, &w.result, scope, set);
            }
        }
        Expr::Between { expr, low, high, .. } => {
            if let Some(ty) = typed(expr, scope, db) {
                set(low, ty);
                set(high, ty);
            }
        }
        Expr::In { expr, target: ast::InTarget::List(list), .. } => {
            if let Some(ty) = typed(expr, scope, db) {
                list.iter().for_each(|x| set(x, ty));
            }
        }
        Expr::In { expr, target: ast::InTarget::Subquery(q), .. } => {
            if let Some(ty) = subquery_first_type(q, scope, db) {
                set(expr, ty);
            }
            infer_query(db, q, Some(scope), set);
        }
        Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
            if let Expr::Subquery(q) = right.as_ref() {
                if let Some(ty) = subquery_first_type(q, scope, db) {
                    set(left, ty);
                }
                infer_query(db, q, Some(scope), set);
            }
        }
        Expr::Subquery(q) | Expr::Exists { subquery: q, .. } => infer_query(db, q, Some(scope), set),
        _ => {}
    }
}

fn subquery_first_type(q: &ast::Query, scope: &Scope, db: &Database) -> Option<SqlType> {
    plan_query(db, q, Some(scope)).ok().and_then(|p| p.columns.first().map(|c| c.ty))
}

/// A RETURNING list: its columns and what computes each.
pub(super) fn returning_list<'q>(
    db: &Database,
    items: &'q [SelectItem],
    scope: &Scope,
) -> R<(Vec<OutColumn>, Vec<Out<'q>>)> {
    expand_projection(db, items, scope).map(|(c, o, _)| (c, o))
}

/// Whether an expression may name something of a level with namespace `ns` (or does what
/// cannot be told apart from that, such as holding a subquery): then it is not a value the
/// level's rows can be looked up by.
pub(super) fn names_level(e: &Expr, ns: &[NsItem]) -> bool {
    let column = |name: &str| ns.iter().any(|i| i.cols.iter().any(|c| c.name == name)) || system_column(name).is_some();
    match e {
        Expr::Identifier(i) => column(&ident(i)),
        Expr::CompoundIdentifier(p) => {
            let (q, n) = split_name(p);
            match q {
                None => column(&n),
                Some(q) => ns.iter().any(|i| i.name == q),
            }
        }
        Expr::Value(_) => false,
        Expr::Nested(x) | Expr::UnaryOp { expr: x, .. } | Expr::Cast { expr: x, .. } => names_level(x, ns),
        Expr::BinaryOp { left, right, .. } => names_level(left, ns) || names_level(right, ns),
        _ => true,
    }
}

/// The select list of `INSERT ... SELECT` (for parameters that take the target columns' types).
pub(super) fn select_list(q: &ast::Query) -> Option<&[SelectItem]> {
    match q.body.as_ref() {
        SetExpr::Select(sel) => Some(&sel.projection),
        _ => None,
    }
}
