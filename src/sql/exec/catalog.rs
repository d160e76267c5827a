//! `pg_catalog` and `information_schema`: the system catalogs clients read to learn what tables
//! there are (psql's `\d` family, ORMs' schema reflection), built from the tables' own metadata
//! when a statement reads them.
//!
//! # Life of psql's `\dt`
//!
//! ```text
//!   SELECT n.nspname, c.relname, ... FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ...
//!     uses(): the statement names pg_class, pg_namespace, pg_am and pg_get_userbyid()
//!     materialize(): one row per table, index and sequence in pg_class, the four schemas in
//!       pg_namespace, heap/btree/hash in pg_am, inserted into db.tables under those names
//!     the query runs as any other (joins, WHERE, ORDER BY); catalog functions read db.tables
//!     the catalog tables are taken out again (and a user table they displaced put back)
//! ```
//!
//! OIDs: relations, constraints and defaults get theirs the first time a catalog sees them, from
//! 16384 up as in PostgreSQL, and keep them for the life of the process (keyed by name, so a table
//! dropped and created again keeps its OID where PostgreSQL would give a new one). The built-in
//! objects (schemas, types, roles, databases, access methods) have PostgreSQL 15's fixed OIDs.
//!
//! Only the user's relations are listed: the catalogs do not describe themselves (PostgreSQL's
//! `pg_class` also lists its own ~400 system relations). See protocol-spec/pg.md for the rest of
//! what differs.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

use sqlparser::ast::{self, BinaryOperator, DataType, Expr, ObjectName, ObjectNamePart, Value};

use crate::sql::mvcc::Heap;

use super::{ident, Column, Database, Datum, ExecError, Row, Session, SqlError, SqlType, Table, R};

mod monitor;
pub mod wal;

// ------------------------------------------------------------------------------------------------
// Fixed OIDs (PostgreSQL 15's).
// ------------------------------------------------------------------------------------------------

const OID_BOOTSTRAP_SUPERUSER: u32 = 10;
const OID_DATABASE_OWNER: u32 = 6171;
const OID_NAMESPACE_CATALOG: u32 = 11;
const OID_NAMESPACE_TOAST: u32 = 99;
const OID_NAMESPACE_PUBLIC: u32 = 2200;
/// `information_schema` is made by initdb, so its OID depends on the installation; this is one
/// PostgreSQL 15 gives it.
const OID_NAMESPACE_INFORMATION_SCHEMA: u32 = 13207;
const OID_AM_HEAP: u32 = 2;
const OID_AM_BTREE: u32 = 403;
const OID_TABLESPACE_DEFAULT: u32 = 1663;
const OID_COLLATION_DEFAULT: u32 = 100;
const OID_COLLATION_C: u32 = 950;
/// The first OID PostgreSQL hands out to user objects (`FirstNormalObjectId`).
const OID_FIRST_NORMAL: u32 = 16384;
const OID_PG_CLASS: u32 = 1259;
const OID_PG_CONSTRAINT: u32 = 2606;
const OID_PG_NAMESPACE: u32 = 2615;
const OID_PG_DATABASE: u32 = 1262;

/// The catalog tables' own OIDs (fixed in PostgreSQL), so `'pg_catalog.pg_class'::regclass` and
/// `classid = 'pg_class'::regclass` work. The views (`pg_roles`, `pg_tables`, ...) get OIDs at
/// initdb and are left out.
const CATALOG_OIDS: &[(u32, &str)] = &[
    (1247, "pg_type"),
    (1249, "pg_attribute"),
    (1255, "pg_proc"),
    (OID_PG_CLASS, "pg_class"),
    (1260, "pg_authid"),
    (1261, "pg_auth_members"),
    (OID_PG_DATABASE, "pg_database"),
    (1213, "pg_tablespace"),
    (2224, "pg_sequence"),
    (2601, "pg_am"),
    (2604, "pg_attrdef"),
    (OID_PG_CONSTRAINT, "pg_constraint"),
    (2608, "pg_depend"),
    (2609, "pg_description"),
    (2396, "pg_shdescription"),
    (2610, "pg_index"),
    (2611, "pg_inherits"),
    (OID_PG_NAMESPACE, "pg_namespace"),
    (2618, "pg_rewrite"),
    (2620, "pg_trigger"),
    (3079, "pg_extension"),
    (3118, "pg_foreign_table"),
    (3256, "pg_policy"),
    (3350, "pg_partitioned_table"),
    (3381, "pg_statistic_ext"),
    (3456, "pg_collation"),
    (3501, "pg_enum"),
    (6104, "pg_publication"),
    (6106, "pg_publication_rel"),
    (6237, "pg_publication_namespace"),
];

/// A catalog table named as regclass input reads it (`pg_class`, `pg_catalog.pg_class`).
fn catalog_oid_by_name(text: &str) -> Option<u32> {
    let parts = split_qualified(text);
    let name = match parts.as_slice() {
        [one] => one,
        [schema, one] if schema == "pg_catalog" => one,
        _ => return None,
    };
    CATALOG_OIDS.iter().find(|c| c.1 == name).map(|c| c.0)
}
const ENCODING_UTF8: i64 = 6;
/// PostgreSQL's page size: sizes (`pg_table_size`, `\dt+`) are counted in pages of it.
const PAGE_BYTES: i64 = 8192;
/// How many compiled patterns of `~` and friends are kept between calls.
const REGEX_CACHE_ENTRIES_MAX: usize = 64;
/// The most memory one compiled pattern may take (the pattern comes from the network).
const REGEX_COMPILED_BYTES_MAX: usize = 1 << 20;

// ------------------------------------------------------------------------------------------------
// State kept in the database between statements.
// ------------------------------------------------------------------------------------------------

/// The OIDs given so far, and the user, database and process id of the session whose statement
/// reads the catalogs now (set before each such statement).
#[derive(Debug, Clone)]
pub struct State {
    oids: HashMap<String, u32>,
    next_oid: u32,
    user: String,
    database: String,
    /// `pg_backend_pid()`: set here for catalog queries and by the engine before every
    /// statement (an INSERT ... SELECT pg_backend_pid() reads it too).
    pub(crate) pid: i32,
    /// The settings of the session reading the catalogs, for `pg_settings` and
    /// `current_setting()`, with its isolation levels (transaction, default), kept apart.
    pub(crate) session_settings: std::collections::BTreeMap<String, String>,
    isolation: (super::Isolation, super::Isolation),
    /// `set_config()` calls of the running statement: (name, value, is_local), applied to the
    /// session once the statement is done (see `run_query`).
    set_config_requests: Vec<(String, String, bool)>,
    /// The engine's session registry, for `pg_stat_activity` and `pg_locks` (none when the
    /// executor runs without an engine, in unit tests and WAL replay).
    pub(crate) activity: Option<std::sync::Arc<crate::sql::activity::Activity>>,
}

impl Default for State {
    fn default() -> Self {
        State {
            oids: HashMap::new(),
            next_oid: OID_FIRST_NORMAL,
            user: "postgres".into(),
            database: "postgres".into(),
            pid: 0,
            session_settings: Default::default(),
            isolation: (super::Isolation::ReadCommitted, super::Isolation::ReadCommitted),
            set_config_requests: Vec::new(),
            activity: None,
        }
    }
}

/// The OID of the object `key` names, given now if it has none yet.
fn oid_for(db: &Database, key: &str) -> u32 {
    let mut s = db.catalog.borrow_mut();
    if let Some(&o) = s.oids.get(key) {
        return o;
    }
    let o = s.next_oid;
    s.next_oid = s.next_oid.wrapping_add(1).max(OID_FIRST_NORMAL);
    s.oids.insert(key.to_string(), o);
    o
}

fn set_identity(db: &Database, sess: &Session) {
    let mut s = db.catalog.borrow_mut();
    if s.user != sess.user {
        s.user = sess.user.clone();
    }
    if s.database != sess.database {
        s.database = sess.database.clone();
    }
    s.pid = sess.pid;
    if s.session_settings != sess.settings {
        s.session_settings = sess.settings.clone();
    }
    let running = sess.txn.as_ref().map(|t| t.isolation).unwrap_or(sess.default_isolation);
    s.isolation = (running, sess.default_isolation);
}

fn user(db: &Database) -> String {
    db.catalog.borrow().user.clone()
}

fn database(db: &Database) -> String {
    db.catalog.borrow().database.clone()
}

// ------------------------------------------------------------------------------------------------
// Which statements read the catalogs.
// ------------------------------------------------------------------------------------------------

/// The `pg_catalog` relations there are (found with or without the `pg_catalog.` qualifier).
const PG_CATALOG_RELATIONS: &[&str] = &[
    "pg_stat_bgwriter",
    "pg_stat_database",
    "pg_settings",
    // A function without arguments in FROM, read as a relation (see `table_function`).
    "pg_ls_waldir",
    "pg_class",
    "pg_namespace",
    "pg_attribute",
    "pg_type",
    "pg_index",
    "pg_constraint",
    "pg_attrdef",
    "pg_database",
    "pg_roles",
    "pg_authid",
    "pg_user",
    "pg_auth_members",
    "pg_am",
    "pg_tablespace",
    "pg_collation",
    "pg_sequence",
    "pg_depend",
    "pg_tables",
    "pg_indexes",
    "pg_description",
    "pg_shdescription",
    "pg_inherits",
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_trigger",
    "pg_rewrite",
    "pg_extension",
    "pg_enum",
    "pg_views",
    "pg_matviews",
    "pg_foreign_table",
    "pg_partitioned_table",
    "pg_stat_activity",
    "pg_locks",
];

/// The `information_schema` views there are (found only with the `information_schema.` qualifier,
/// as PostgreSQL's default search_path does not include it).
const INFORMATION_SCHEMA_RELATIONS: &[&str] =
    &["tables", "columns", "schemata", "table_constraints", "key_column_usage", "views"];

/// The functions this module answers; a statement calling one gets the session's user and
/// database set for it.
const FUNCTIONS: &[&str] = &[
    "current_setting",
    "set_config",
    "current_database",
    "current_catalog",
    "current_user",
    "session_user",
    "user",
    "current_schema",
    "current_schemas",
    "pg_get_userbyid",
    "pg_table_is_visible",
    "pg_type_is_visible",
    "format_type",
    "pg_get_indexdef",
    "pg_get_constraintdef",
    "pg_get_expr",
    "pg_get_serial_sequence",
    "pg_get_statisticsobjdef_columns",
    "obj_description",
    "col_description",
    "shobj_description",
    "pg_encoding_to_char",
    "array_to_string",
    "array_upper",
    "array_lower",
    "array_length",
    "cardinality",
    "pg_relation_size",
    "pg_table_size",
    "pg_total_relation_size",
    "pg_indexes_size",
    "pg_size_pretty",
    "pg_relation_is_publishable",
    "has_table_privilege",
    "has_schema_privilege",
    "has_database_privilege",
    "to_regclass",
    "quote_ident",
    "pg_backend_pid",
    "pg_blocking_pids",
    "pg_cancel_backend",
    "pg_stat_clear_snapshot",
];

/// The key a table name is stored under in `db.tables`: `information_schema.x` for the views of
/// that schema (so they never meet a user table named `tables`), otherwise the last part of the
/// name, as for every other table.
pub(super) fn relation_key(name: &ObjectName) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(ident(i)),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [schema, rel] if schema == "information_schema" && INFORMATION_SCHEMA_RELATIONS.contains(&rel.as_str()) => {
            format!("information_schema.{rel}")
        }
        _ => parts.last().cloned().unwrap_or_default(),
    }
}

/// The catalog relation a FROM item names, if it names one.
fn catalog_key(name: &ObjectName) -> Option<&'static str> {
    let key = relation_key(name);
    if let Some(rel) = key.strip_prefix("information_schema.") {
        return INFORMATION_SCHEMA_RELATIONS.iter().find(|r| **r == rel).map(|r| info_key(r));
    }
    let qualifier_ok = match name.0.len() {
        1 => true,
        2 => matches!(&name.0[0], ObjectNamePart::Identifier(i) if ident(i) == "pg_catalog"),
        _ => false,
    };
    if !qualifier_ok {
        return None;
    }
    PG_CATALOG_RELATIONS.iter().find(|r| **r == key).copied()
}

fn info_key(rel: &str) -> &'static str {
    match rel {
        "tables" => "information_schema.tables",
        "columns" => "information_schema.columns",
        "schemata" => "information_schema.schemata",
        "table_constraints" => "information_schema.table_constraints",
        "key_column_usage" => "information_schema.key_column_usage",
        _ => "information_schema.views",
    }
}

/// Whether `name()` with no arguments in FROM is a set-returning catalog function that the
/// catalogs provide as a relation of the same name (`pg_ls_waldir()`).
pub(super) fn table_function(name: &ast::ObjectName) -> bool {
    catalog_key(name) == Some("pg_ls_waldir")
}

fn is_catalog_key(name: &str) -> bool {
    PG_CATALOG_RELATIONS.contains(&name)
        || name.strip_prefix("information_schema.").is_some_and(|r| INFORMATION_SCHEMA_RELATIONS.contains(&r))
}

/// What a statement needs of this module: the catalog relations it reads. `None` when it reads
/// none and calls none of the catalog functions or casts (the usual case, which costs one walk
/// over the statement).
pub(super) fn uses<V: ast::Visit>(stmt: &V) -> Option<BTreeSet<&'static str>> {
    let mut relations = BTreeSet::new();
    let _ = ast::visit_relations(stmt, |n| {
        if let Some(k) = catalog_key(n) {
            relations.insert(k);
        }
        ControlFlow::<()>::Continue(())
    });
    let mut calls = false;
    let _ = ast::visit_expressions(stmt, |e| {
        let hit = match e {
            Expr::Function(f) => FUNCTIONS.contains(&super::function_name(f).as_str()),
            Expr::Cast { data_type, .. } => reg_type(data_type).is_some(),
            _ => false,
        };
        if hit {
            calls = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    (calls || !relations.is_empty()).then_some(relations)
}

/// Runs a query that reads the catalogs: they are built into `db.tables` for it and taken out
/// afterwards (a user table of the same name, which they hide as `pg_catalog` comes first in
/// PostgreSQL's search path, is put back).
pub(super) fn run_query(
    db: &mut super::Database,
    sess: &mut Session,
    q: &ast::Query,
    f: impl FnOnce(&mut Database, &mut Session) -> R<super::Output>,
) -> R<super::Output> {
    set_identity(db, sess);
    let relations = uses(q).unwrap_or_default();
    let built: Vec<(&str, Table)> = relations.iter().map(|k| (*k, materialize(db, k))).collect();
    let mut displaced = Vec::new();
    for (k, t) in built {
        if let Some(old) = db.tables.insert(k.to_string(), t) {
            displaced.push((k, old));
        }
    }
    let r = f(db, sess);
    // set_config() takes effect as a SET of the same setting would.
    let requests = std::mem::take(&mut db.catalog.borrow_mut().set_config_requests);
    for (name, value, local) in requests {
        let local = if local { "LOCAL " } else { "" };
        let sql = format!("SET {local}{} = '{}'", quote_ident(&name), value.replace('\'', "''"));
        if let Ok(Some(ast::Statement::Set(set))) = super::parse(&sql).map(|mut v| v.pop()) {
            super::set_statement(sess, &set)?;
        }
    }
    for k in &relations {
        db.tables.remove(*k);
    }
    for (k, old) in displaced {
        db.tables.insert(k.to_string(), old);
    }
    r
}

/// Calls `f` with a database in which the catalogs `stmt` reads exist, for what only plans a
/// statement (Describe, parameter types): when it reads any, a copy of the tables' definitions
/// (without their rows) plus the catalogs.
pub(super) fn with_catalogs<T>(
    db: &Database,
    sess: Option<&Session>,
    stmt: &ast::Statement,
    f: impl FnOnce(&Database) -> T,
) -> T {
    let ast::Statement::Query(q) = stmt else { return f(db) };
    let Some(relations) = uses(q.as_ref()) else { return f(db) };
    if let Some(s) = sess {
        set_identity(db, s);
    }
    let mut tables: std::collections::BTreeMap<String, Table> =
        db.tables.iter().map(|(name, t)| (name.clone(), t.clone_shape())).collect();
    for k in &relations {
        tables.insert(k.to_string(), materialize(db, k));
    }
    let view = Database { tables, catalog: RefCell::new(db.catalog.borrow().clone()), ..Default::default() };
    f(&view)
}

// ------------------------------------------------------------------------------------------------
// The user's relations, as the catalogs number them.
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Table,
    /// The index behind unique constraint `n` of the table.
    Index(usize),
    /// The sequence of serial column `n`.
    Sequence(usize),
}

#[derive(Clone)]
struct Rel<'a> {
    oid: u32,
    name: String,
    kind: Kind,
    table: &'a Table,
    table_oid: u32,
}

impl Rel<'_> {
    fn relkind(&self) -> &'static str {
        match self.kind {
            Kind::Table => "r",
            Kind::Index(_) => "i",
            Kind::Sequence(_) => "S",
        }
    }
}

/// The tables users made (not the catalogs being shown, nor `pg_stat_user_tables`).
fn user_tables(db: &Database) -> impl Iterator<Item = &Table> {
    db.tables.iter().filter(|(k, _)| !is_catalog_key(k) && k.as_str() != super::STAT_VIEW).map(|(_, t)| t)
}

fn sequence_name(t: &Table, c: &Column) -> String {
    format!("{}_{}_seq", t.name, c.name)
}

/// Every relation: each table, then its serial columns' sequences, then its unique constraints'
/// indexes.
fn relations(db: &Database) -> Vec<Rel<'_>> {
    let mut out = Vec::new();
    for t in user_tables(db) {
        let table_oid = oid_for(db, &format!("r:{}", t.name));
        out.push(Rel { oid: table_oid, name: t.name.clone(), kind: Kind::Table, table: t, table_oid });
        for (i, c) in t.columns.iter().enumerate() {
            if c.serial {
                let name = sequence_name(t, c);
                let oid = oid_for(db, &format!("S:{}.{}", t.name, c.name));
                out.push(Rel { oid, name, kind: Kind::Sequence(i), table: t, table_oid });
            }
        }
        for (i, u) in t.uniques.iter().enumerate() {
            let oid = oid_for(db, &format!("i:{}.{}", t.name, u.name));
            out.push(Rel { oid, name: u.name.clone(), kind: Kind::Index(i), table: t, table_oid });
        }
    }
    out
}

fn relation_by_oid(db: &Database, oid: i64) -> Option<Rel<'_>> {
    relations(db).into_iter().find(|r| i64::from(r.oid) == oid)
}

fn relation_by_name<'a>(db: &'a Database, name: &str) -> Option<Rel<'a>> {
    let name = unqualify(name)?;
    relations(db).into_iter().find(|r| r.name == name)
}

/// `name`, `public.name`, `"Name"` as regclass input reads them: the relation's own name, or
/// `None` for a schema other than public (or pg_catalog, which holds none of the user's).
fn unqualify(text: &str) -> Option<String> {
    let parts = split_qualified(text);
    match parts.as_slice() {
        [one] => Some(one.clone()),
        [schema, one] if schema == "public" => Some(one.clone()),
        _ => None,
    }
}

/// A possibly qualified, possibly quoted name split into its folded parts.
fn split_qualified(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c if quoted => cur.push(c),
            c => cur.push(c.to_ascii_lowercase()),
        }
    }
    parts.push(cur);
    parts
}

/// The words PostgreSQL's `quote_ident` quotes besides names with other characters (its reserved
/// keywords and the non-reserved ones that cannot be column names).
const RESERVED_WORDS: &str = "\
    all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean \
    both case cast char character check coalesce collate collation column concurrently constraint create \
    cross current_catalog current_date current_role current_schema current_time current_timestamp \
    current_user dec decimal default deferrable desc distinct do else end except exists extract false \
    fetch float for foreign freeze from full grant greatest group grouping having ilike in initially \
    inner inout int integer intersect interval into is isnull join lateral leading least left like limit \
    localtime localtimestamp national natural nchar none normalize not notnull null nullif numeric \
    offset on only or order out outer overlaps overlay placing position precision primary real \
    references returning right row select session_user setof similar smallint some substring symmetric \
    table tablesample then time timestamp to trailing treat trim true union unique user using values \
    varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists \
    xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable";

/// `quote_ident`: the name as SQL must spell it.
pub(super) fn quote_ident(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED_WORDS.split_whitespace().any(|w| w == name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

// ------------------------------------------------------------------------------------------------
// Types as the catalogs describe them.
// ------------------------------------------------------------------------------------------------

/// One built-in type's `pg_type` facts: oid, name, length, by value, type kind, category,
/// preferred, element, array type, alignment, storage, collation, input function.
struct TypeInfo {
    oid: u32,
    name: &'static str,
    len: i64,
    byval: bool,
    kind: &'static str,
    category: &'static str,
    preferred: bool,
    elem: u32,
    array: u32,
    align: &'static str,
    storage: &'static str,
    collation: u32,
    input: &'static str,
}

macro_rules! ty {
    ($oid:expr, $name:expr, $len:expr, $byval:expr, $kind:expr, $cat:expr, $pref:expr, $elem:expr, $array:expr,
     $align:expr, $storage:expr, $coll:expr, $input:expr) => {
        TypeInfo {
            oid: $oid,
            name: $name,
            len: $len,
            byval: $byval,
            kind: $kind,
            category: $cat,
            preferred: $pref,
            elem: $elem,
            array: $array,
            align: $align,
            storage: $storage,
            collation: $coll,
            input: $input,
        }
    };
}

/// The types terrarium has, and those the catalogs' own columns are made of.
const TYPES: &[TypeInfo] = &[
    ty!(16, "bool", 1, true, "b", "B", true, 0, 1000, "c", "p", 0, "boolin"),
    ty!(17, "bytea", -1, false, "b", "U", false, 0, 1001, "i", "x", 0, "byteain"),
    ty!(18, "char", 1, true, "b", "Z", false, 0, 1002, "c", "p", 0, "charin"),
    ty!(19, "name", 64, false, "b", "S", false, 18, 1003, "c", "p", OID_COLLATION_C, "namein"),
    ty!(20, "int8", 8, true, "b", "N", false, 0, 1016, "d", "p", 0, "int8in"),
    ty!(21, "int2", 2, true, "b", "N", false, 0, 1005, "s", "p", 0, "int2in"),
    ty!(22, "int2vector", -1, false, "b", "A", false, 21, 1006, "i", "p", 0, "int2vectorin"),
    ty!(23, "int4", 4, true, "b", "N", false, 0, 1007, "i", "p", 0, "int4in"),
    ty!(25, "text", -1, false, "b", "S", true, 0, 1009, "i", "x", OID_COLLATION_DEFAULT, "textin"),
    ty!(26, "oid", 4, true, "b", "N", true, 0, 1028, "i", "p", 0, "oidin"),
    ty!(27, "tid", 6, false, "b", "U", false, 0, 1010, "s", "p", 0, "tidin"),
    ty!(28, "xid", 4, true, "b", "U", false, 0, 1011, "i", "p", 0, "xidin"),
    ty!(29, "cid", 4, true, "b", "U", false, 0, 1012, "i", "p", 0, "cidin"),
    ty!(30, "oidvector", -1, false, "b", "A", false, 26, 1013, "i", "p", 0, "oidvectorin"),
    ty!(114, "json", -1, false, "b", "U", false, 0, 199, "i", "x", 0, "json_in"),
    ty!(194, "pg_node_tree", -1, false, "b", "Z", false, 0, 0, "i", "x", OID_COLLATION_DEFAULT, "pg_node_tree_in"),
    ty!(199, "_json", -1, false, "b", "A", false, 114, 0, "i", "x", 0, "array_in"),
    ty!(700, "float4", 4, true, "b", "N", false, 0, 1021, "i", "p", 0, "float4in"),
    ty!(701, "float8", 8, true, "b", "N", true, 0, 1022, "d", "p", 0, "float8in"),
    ty!(705, "unknown", -2, false, "p", "X", false, 0, 0, "c", "p", 0, "unknownin"),
    ty!(1000, "_bool", -1, false, "b", "A", false, 16, 0, "i", "x", 0, "array_in"),
    ty!(1001, "_bytea", -1, false, "b", "A", false, 17, 0, "i", "x", 0, "array_in"),
    ty!(1002, "_char", -1, false, "b", "A", false, 18, 0, "i", "x", 0, "array_in"),
    ty!(1003, "_name", -1, false, "b", "A", false, 19, 0, "i", "x", OID_COLLATION_C, "array_in"),
    ty!(1005, "_int2", -1, false, "b", "A", false, 21, 0, "i", "x", 0, "array_in"),
    ty!(1007, "_int4", -1, false, "b", "A", false, 23, 0, "i", "x", 0, "array_in"),
    ty!(1009, "_text", -1, false, "b", "A", false, 25, 0, "i", "x", OID_COLLATION_DEFAULT, "array_in"),
    ty!(1014, "_bpchar", -1, false, "b", "A", false, 1042, 0, "i", "x", OID_COLLATION_DEFAULT, "array_in"),
    ty!(1015, "_varchar", -1, false, "b", "A", false, 1043, 0, "i", "x", OID_COLLATION_DEFAULT, "array_in"),
    ty!(1016, "_int8", -1, false, "b", "A", false, 20, 0, "d", "x", 0, "array_in"),
    ty!(1021, "_float4", -1, false, "b", "A", false, 700, 0, "i", "x", 0, "array_in"),
    ty!(1022, "_float8", -1, false, "b", "A", false, 701, 0, "d", "x", 0, "array_in"),
    ty!(1028, "_oid", -1, false, "b", "A", false, 26, 0, "i", "x", 0, "array_in"),
    ty!(1042, "bpchar", -1, false, "b", "S", false, 0, 1014, "i", "x", OID_COLLATION_DEFAULT, "bpcharin"),
    ty!(1043, "varchar", -1, false, "b", "S", false, 0, 1015, "i", "x", OID_COLLATION_DEFAULT, "varcharin"),
    ty!(1082, "date", 4, true, "b", "D", false, 0, 1182, "i", "p", 0, "date_in"),
    ty!(1114, "timestamp", 8, true, "b", "D", false, 0, 1115, "d", "p", 0, "timestamp_in"),
    ty!(1115, "_timestamp", -1, false, "b", "A", false, 1114, 0, "d", "x", 0, "array_in"),
    ty!(1182, "_date", -1, false, "b", "A", false, 1082, 0, "i", "x", 0, "array_in"),
    ty!(1184, "timestamptz", 8, true, "b", "D", true, 0, 1185, "d", "p", 0, "timestamptz_in"),
    ty!(1185, "_timestamptz", -1, false, "b", "A", false, 1184, 0, "d", "x", 0, "array_in"),
    ty!(1186, "interval", 16, false, "b", "T", true, 0, 1187, "d", "p", 0, "interval_in"),
    ty!(1187, "_interval", -1, false, "b", "A", false, 1186, 0, "d", "x", 0, "array_in"),
    ty!(1231, "_numeric", -1, false, "b", "A", false, 1700, 0, "i", "x", 0, "array_in"),
    ty!(1700, "numeric", -1, false, "b", "N", false, 0, 1231, "i", "m", 0, "numeric_in"),
    ty!(2205, "regclass", 4, true, "b", "N", false, 0, 2210, "i", "p", 0, "regclassin"),
    ty!(2206, "regtype", 4, true, "b", "N", false, 0, 2211, "i", "p", 0, "regtypein"),
    ty!(2278, "void", 4, true, "p", "P", false, 0, 0, "i", "p", 0, "void_in"),
    ty!(2950, "uuid", 16, false, "b", "U", false, 0, 2951, "c", "p", 0, "uuid_in"),
    ty!(2951, "_uuid", -1, false, "b", "A", false, 2950, 0, "i", "x", 0, "array_in"),
    ty!(3220, "pg_lsn", 8, true, "b", "U", false, 0, 3221, "d", "p", 0, "pg_lsn_in"),
    ty!(3802, "jsonb", -1, false, "b", "U", false, 0, 3807, "i", "x", 0, "jsonb_in"),
    ty!(3807, "_jsonb", -1, false, "b", "A", false, 3802, 0, "i", "x", 0, "array_in"),
    ty!(4089, "regnamespace", 4, true, "b", "N", false, 0, 4090, "i", "p", 0, "regnamespacein"),
];

fn type_info(oid: i64) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| i64::from(t.oid) == oid)
}

/// `format_type(oid, typmod)`: the SQL name of a type, with its modifier when one is given
/// (`typmod` `None` is SQL NULL, which for `bpchar` means `character` rather than `bpchar`).
fn format_type(oid: i64, typmod: Option<i64>) -> String {
    let m = typmod.filter(|&m| m >= 0);
    match oid {
        16 => "boolean".into(),
        18 => "\"char\"".into(),
        20 => "bigint".into(),
        21 => "smallint".into(),
        23 => "integer".into(),
        700 => "real".into(),
        701 => "double precision".into(),
        1042 => match (m, typmod) {
            (Some(m), _) => format!("character({})", m - 4),
            (None, Some(_)) => "bpchar".into(),
            (None, None) => "character".into(),
        },
        1043 => match m {
            Some(m) => format!("character varying({})", m - 4),
            None => "character varying".into(),
        },
        1700 => match m {
            Some(m) => {
                let m = m - 4;
                format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff)
            }
            None => "numeric".into(),
        },
        1114 => "timestamp without time zone".into(),
        1184 => "timestamp with time zone".into(),
        o => match type_info(o) {
            Some(t) if t.category == "A" && t.elem != 0 && t.name.starts_with('_') => {
                format!("{}[]", format_type(i64::from(t.elem), typmod))
            }
            Some(t) => t.name.to_string(),
            None => "???".into(),
        },
    }
}

/// A column's type OID and modifier (`atttypmod`: `varchar(n)` n + 4, `numeric(p,s)`
/// (p << 16 | s) + 4, -1 for none), from its declaration when there is one.
fn column_type_info(c: &Column) -> (u32, i64) {
    let by_kind = (c.ty.oid(), c.max_len.map(|n| n as i64 + 4).unwrap_or(-1));
    let Some(decl) = &c.declared else { return by_kind };
    let text = decl.to_string().to_lowercase();
    let text = text.strip_prefix("pg_catalog.").unwrap_or(&text);
    let (base, args) = match text.split_once('(') {
        Some((b, a)) => (b.trim(), a.trim_end_matches(')').split(',').map(|x| x.trim().parse::<i64>().ok()).collect()),
        None => (text.trim(), Vec::new()),
    };
    match base {
        "char" | "character" | "bpchar" => (1042, args.first().copied().flatten().unwrap_or(1) + 4),
        "varchar" | "character varying" => (1043, args.first().copied().flatten().map(|n| n + 4).unwrap_or(-1)),
        "numeric" | "decimal" => match (args.first().copied().flatten(), args.get(1).copied().flatten()) {
            (Some(p), s) => (1700, ((p << 16) | s.unwrap_or(0)) + 4),
            _ => (1700, -1),
        },
        _ => by_kind,
    }
}

/// The collation of a column of this type (`attcollation`): the default one for strings, "C"
/// for `name`, none for the rest.
fn type_collation(oid: u32) -> u32 {
    type_info(i64::from(oid)).map(|t| t.collation).unwrap_or(0)
}

/// Whether PostgreSQL would give a table of these columns a TOAST table: some column can hold a
/// value of unbounded size (text, numeric or varchar without a limit), or the widest possible
/// row passes `TOAST_TUPLE_THRESHOLD` (about 2 kB).
fn needs_toast(t: &Table) -> bool {
    let mut widest = 0i64;
    for c in &t.columns {
        let (oid, typmod) = column_type_info(c);
        let info = type_info(i64::from(oid));
        if info.map(|i| i.len).unwrap_or(-1) > 0 {
            widest += info.map(|i| i.len).unwrap_or(0);
            continue;
        }
        match oid {
            1042 | 1043 if typmod >= 0 => widest += (typmod - 4) * 4 + 4,
            1700 if typmod >= 0 => widest += ((typmod - 4) >> 16) / 2 + 8,
            _ => return true,
        }
    }
    widest > 2032
}

/// Pages a heap of these rows would take: each version with a 24-byte header and a 4-byte line
/// pointer, its values at their stored widths, 8-byte aligned, in 8 kB pages with a 24-byte
/// header. An estimate of PostgreSQL's layout (no padding between values, no TOAST).
fn heap_pages(t: &Table) -> i64 {
    let mut pages = 0i64;
    let mut free = 0i64;
    for (_, v) in t.heap.all() {
        let data: i64 = v
            .row
            .iter()
            .zip(&t.columns)
            .map(|(d, c)| match d {
                Datum::Null => 0,
                Datum::Text(s) | Datum::Numeric(s) => s.len() as i64 + if s.len() < 127 { 1 } else { 4 },
                _ => i64::from(c.ty.size().max(1)),
            })
            .sum();
        let tuple = (24 + data + 7) / 8 * 8 + 4;
        if tuple > free {
            pages += 1;
            free = PAGE_BYTES - 24;
        }
        free -= tuple;
    }
    pages
}

/// Bytes of a relation's main fork (`pg_relation_size`).
fn relation_bytes(r: &Rel) -> i64 {
    match r.kind {
        Kind::Table => heap_pages(r.table) * PAGE_BYTES,
        // A btree has its metapage, then leaf pages once it holds anything.
        Kind::Index(u) => {
            let keys = r.table.heap.all().count() as i64;
            let width = 16 + 8 * r.table.uniques[u].columns.len() as i64;
            PAGE_BYTES * (1 + (keys * width + PAGE_BYTES - 1) / PAGE_BYTES)
        }
        Kind::Sequence(_) => PAGE_BYTES,
    }
}

/// `pg_table_size`: the main fork plus the TOAST table's (an empty one is its index's metapage).
fn table_bytes(r: &Rel) -> i64 {
    let toast = if r.kind == Kind::Table && needs_toast(r.table) { PAGE_BYTES } else { 0 };
    relation_bytes(r) + toast
}

fn indexes_bytes(db: &Database, r: &Rel) -> i64 {
    relations(db).iter().filter(|x| x.table_oid == r.oid && matches!(x.kind, Kind::Index(_))).map(relation_bytes).sum()
}

/// `pg_size_pretty(bigint)`: bytes below 10 kB, then kB, MB, GB, TB, PB, each unit taking over
/// once the number would reach 10240 of it, halves rounded away from zero.
fn size_pretty(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    // One extra bit is kept for rounding, as PostgreSQL does.
    let mut size = bytes >> 9;
    let mut unit = UNITS[0];
    for (i, u) in UNITS.iter().enumerate() {
        unit = u;
        if size.abs() < 20 * 1024 - 1 || i == UNITS.len() - 1 {
            break;
        }
        size >>= 10;
    }
    let rounded = (size + if size < 0 { -1 } else { 1 }) / 2;
    format!("{rounded} {unit}")
}

// ------------------------------------------------------------------------------------------------
// Default expressions, as pg_get_expr() shows them.
// ------------------------------------------------------------------------------------------------

/// A column default as PostgreSQL deparses the stored expression (`\d`'s Default column,
/// `information_schema.columns.column_default`): a serial column's `nextval('t_id_seq'::regclass)`,
/// plain non-negative int4 and numeric constants as written, other constants as a quoted literal
/// cast to the column's type (`'-1'::integer`, `'abc'::text`), and expressions as written.
/// `None` when there is no default (also for `DEFAULT NULL`, which PostgreSQL does not store).
fn default_text(t: &Table, c: &Column) -> Option<String> {
    if c.serial {
        return Some(format!("nextval('{}'::regclass)", quote_ident(&sequence_name(t, c)).replace('\'', "''")));
    }
    let e = c.default.as_ref()?;
    let (oid, typmod) = column_type_info(c);
    let type_name = format_type(i64::from(oid), None);
    let quoted = |s: &str, ty: &str| format!("'{}'::{ty}", s.replace('\'', "''"));
    let number = |text: &str, negative: bool| -> String {
        let text = if negative { format!("-{text}") } else { text.to_string() };
        match text.parse::<i64>() {
            Ok(n) if i32::try_from(n).is_ok() && n >= 0 => text,
            Ok(n) if i32::try_from(n).is_ok() => quoted(&text, "integer"),
            Ok(_) => quoted(&text, "bigint"),
            Err(_) if negative => quoted(&text, "numeric"),
            Err(_) => text,
        }
    };
    let literal = |e: &Expr| -> Option<String> {
        match e {
            Expr::Value(v) => match &v.value {
                Value::Null => Some(String::new()),
                Value::Number(n, _) => Some(number(n, false)),
                Value::Boolean(b) => Some(b.to_string()),
                Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(match oid {
                    20 | 21 | 23 | 700 | 701 | 1700 => match s.trim().parse::<f64>() {
                        Ok(_) => number(s.trim().trim_start_matches('-'), s.trim().starts_with('-')),
                        Err(_) => quoted(s, &type_name),
                    },
                    16 => match super::parse_bool(s) {
                        Some(b) => b.to_string(),
                        None => quoted(s, &type_name),
                    },
                    1042 => quoted(s, "bpchar"),
                    _ => quoted(s, &format_type(i64::from(oid), Some(typmod).filter(|_| oid != 1043))),
                }),
                _ => None,
            },
            Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr } => match expr.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => Some(number(n, true)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    };
    let mut inner = e;
    while let Expr::Nested(x) = inner {
        inner = x;
    }
    match literal(inner) {
        Some(s) if s.is_empty() => None,
        Some(s) => Some(s),
        None => Some(deparse(inner)),
    }
}

/// An expression in PostgreSQL's deparsed spelling (`pg_get_expr` without `pretty`), as far as
/// defaults go: operators spaced and each in parentheses, function names as written.
fn deparse(e: &Expr) -> String {
    match e {
        // PostgreSQL's plain (not pretty) deparsing puts every operator in parentheses.
        Expr::BinaryOp { left, op, right } => format!("({} {op} {})", deparse(left), deparse(right)),
        Expr::Nested(x) => deparse(x),
        Expr::Function(f) => {
            let name = super::function_name(f);
            if matches!(f.args, ast::FunctionArguments::None) {
                name.to_uppercase()
            } else {
                let mut s = f.to_string();
                if let Some(open) = s.find('(') {
                    s.replace_range(..open, &name);
                }
                s
            }
        }
        other => other.to_string(),
    }
}

/// `(a + b)` → `a + b`; `(a) + (b)` stays as it is.
fn strip_outer_parens(s: &str) -> &str {
    let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) else { return s };
    let mut depth = 0i32;
    let mut quoted = false;
    for c in inner.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return s;
                }
            }
            _ => {}
        }
    }
    if depth == 0 {
        inner
    } else {
        s
    }
}

// ------------------------------------------------------------------------------------------------
// The catalog tables.
// ------------------------------------------------------------------------------------------------

/// A catalog's columns, `name type` pairs: `oid`, `name`, `char` (`"char"`), `int2`, `int4`,
/// `int8`, `float4`, `bool`, `text`, `xid`, `tstz`, `varchar`. Arrays, `aclitem`, `int2vector`,
/// `oidvector`, `regproc` and `pg_node_tree` columns hold their text form and are typed text.
fn columns_of(key: &str) -> &'static str {
    match key {
        "pg_class" => {
            "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, \
             relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4, \
             reltoastrelid oid, relhasindex bool, relisshared bool, relpersistence char, relkind char, \
             relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, \
             relrowsecurity bool, relforcerowsecurity bool, relispopulated bool, relreplident char, \
             relispartition bool, relrewrite oid, relfrozenxid xid, relminmxid xid, relacl text, reloptions text, \
             relpartbound text"
        }
        "pg_namespace" => "oid oid, nspname name, nspowner oid, nspacl text",
        "pg_attribute" => {
            "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, attndims int4, \
             attcacheoff int4, atttypmod int4, attbyval bool, attalign char, attstorage char, attcompression char, \
             attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char, \
             attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl text, attoptions text, \
             attfdwoptions text, attmissingval text"
        }
        "pg_type" => {
            "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype char, \
             typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid, \
             typsubscript text, typelem oid, typarray oid, typinput text, typoutput text, typreceive text, \
             typsend text, typmodin text, typmodout text, typanalyze text, typalign char, typstorage char, \
             typnotnull bool, typbasetype oid, typtypmod int4, typndims int4, typcollation oid, \
             typdefaultbin text, typdefault text, typacl text"
        }
        "pg_index" => {
            "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, \
             indnullsnotdistinct bool, indisprimary bool, indisexclusion bool, indimmediate bool, \
             indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, \
             indisreplident bool, indkey text, indcollation text, indclass text, indoption text, indexprs text, \
             indpred text"
        }
        "pg_constraint" => {
            "oid oid, conname name, connamespace oid, contype char, condeferrable bool, condeferred bool, \
             convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid, confrelid oid, \
             confupdtype char, confdeltype char, confmatchtype char, conislocal bool, coninhcount int4, \
             connoinherit bool, conkey text, confkey text, conpfeqop text, conppeqop text, conffeqop text, \
             confdelsetcols text, conexclop text, conbin text"
        }
        "pg_attrdef" => "oid oid, adrelid oid, adnum int2, adbin text",
        "pg_database" => {
            "oid oid, datname name, datdba oid, encoding int4, datlocprovider char, datistemplate bool, \
             datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid xid, dattablespace oid, \
             datcollate text, datctype text, daticulocale text, datcollversion text, datacl text"
        }
        "pg_roles" => {
            "rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, \
             rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil tstz, \
             rolbypassrls bool, rolconfig text, oid oid"
        }
        "pg_authid" => {
            "oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, \
             rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4, rolpassword text, \
             rolvaliduntil tstz"
        }
        "pg_user" => {
            "usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, \
             passwd text, valuntil tstz, useconfig text"
        }
        "pg_auth_members" => "roleid oid, member oid, grantor oid, admin_option bool",
        "pg_am" => "oid oid, amname name, amhandler text, amtype char",
        "pg_tablespace" => "oid oid, spcname name, spcowner oid, spcacl text, spcoptions text",
        "pg_collation" => {
            "oid oid, collname name, collnamespace oid, collowner oid, collprovider char, \
             collisdeterministic bool, collencoding int4, collcollate text, collctype text, colliculocale text, \
             collversion text"
        }
        "pg_sequence" => {
            "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, \
             seqcache int8, seqcycle bool"
        }
        "pg_depend" => {
            "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype char"
        }
        "pg_tables" => {
            "schemaname name, tablename name, tableowner name, tablespace name, hasindexes bool, hasrules bool, \
             hastriggers bool, rowsecurity bool"
        }
        "pg_indexes" => "schemaname name, tablename name, indexname name, tablespace name, indexdef text",
        "pg_description" => "objoid oid, classoid oid, objsubid int4, description text",
        "pg_shdescription" => "objoid oid, classoid oid, description text",
        "pg_inherits" => "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool",
        "pg_policy" => {
            "oid oid, polname name, polrelid oid, polcmd char, polpermissive bool, polroles text, polqual text, \
             polwithcheck text"
        }
        "pg_statistic_ext" => {
            "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, stxstattarget int4, \
             stxkeys text, stxkind text, stxexprs text"
        }
        "pg_publication" => {
            "oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, \
             pubdelete bool, pubtruncate bool, pubviaroot bool"
        }
        "pg_publication_namespace" => "oid oid, pnpubid oid, pnnspid oid",
        "pg_publication_rel" => "oid oid, prpubid oid, prrelid oid, prqual text, prattrs text",
        "pg_trigger" => {
            "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, tgenabled char, \
             tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, \
             tginitdeferred bool, tgnargs int2, tgattr text, tgargs text, tgqual text, tgoldtable name, \
             tgnewtable name"
        }
        "pg_rewrite" => {
            "oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char, is_instead bool, ev_qual text, \
             ev_action text"
        }
        "pg_extension" => {
            "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool, extversion text, \
             extconfig text, extcondition text"
        }
        "pg_enum" => "oid oid, enumtypid oid, enumsortorder float4, enumlabel name",
        "pg_views" => "schemaname name, viewname name, viewowner name, definition text",
        "pg_matviews" => {
            "schemaname name, matviewname name, matviewowner name, tablespace name, hasindexes bool, \
             ispopulated bool, definition text"
        }
        "pg_foreign_table" => "ftrelid oid, ftserver oid, ftoptions text",
        "pg_partitioned_table" => {
            "partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs text, partclass text, \
             partcollation text, partexprs text"
        }
        "information_schema.tables" => {
            "table_catalog name, table_schema name, table_name name, table_type varchar, \
             self_referencing_column_name name, reference_generation varchar, user_defined_type_catalog name, \
             user_defined_type_schema name, user_defined_type_name name, is_insertable_into varchar, \
             is_typed varchar, commit_action varchar"
        }
        "information_schema.columns" => {
            "table_catalog name, table_schema name, table_name name, column_name name, ordinal_position int4, \
             column_default varchar, is_nullable varchar, data_type varchar, character_maximum_length int4, \
             character_octet_length int4, numeric_precision int4, numeric_precision_radix int4, \
             numeric_scale int4, datetime_precision int4, interval_type varchar, interval_precision int4, \
             character_set_catalog name, character_set_schema name, character_set_name name, \
             collation_catalog name, collation_schema name, collation_name name, domain_catalog name, \
             domain_schema name, domain_name name, udt_catalog name, udt_schema name, udt_name name, \
             scope_catalog name, scope_schema name, scope_name name, maximum_cardinality int4, \
             dtd_identifier name, is_self_referencing varchar, is_identity varchar, identity_generation varchar, \
             identity_start varchar, identity_increment varchar, identity_maximum varchar, \
             identity_minimum varchar, identity_cycle varchar, is_generated varchar, \
             generation_expression varchar, is_updatable varchar"
        }
        "information_schema.schemata" => {
            "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, \
             default_character_set_schema name, default_character_set_name name, sql_path varchar"
        }
        "information_schema.table_constraints" => {
            "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, \
             table_schema name, table_name name, constraint_type varchar, is_deferrable varchar, \
             initially_deferred varchar, enforced varchar, nulls_distinct varchar"
        }
        "information_schema.key_column_usage" => {
            "constraint_catalog name, constraint_schema name, constraint_name name, table_catalog name, \
             table_schema name, table_name name, column_name name, ordinal_position int4, \
             position_in_unique_constraint int4"
        }
        "pg_stat_activity" => monitor::STAT_ACTIVITY_COLUMNS,
        "pg_locks" => monitor::LOCKS_COLUMNS,
        "pg_stat_bgwriter" => wal::STAT_BGWRITER_COLUMNS,
        "pg_stat_database" => monitor::STAT_DATABASE_COLUMNS,
        "pg_settings" => wal::SETTINGS_COLUMNS,
        "pg_ls_waldir" => wal::LS_WALDIR_COLUMNS,
        "information_schema.views" => {
            "table_catalog name, table_schema name, table_name name, view_definition varchar, \
             check_option varchar, is_updatable varchar, is_insertable_into varchar, is_trigger_updatable varchar, \
             is_trigger_deletable varchar, is_trigger_insertable_into varchar"
        }
        _ => "",
    }
}

fn parse_columns(spec: &str) -> Vec<Column> {
    spec.split(',')
        .filter_map(|c| c.trim().split_once(' '))
        .map(|(name, ty)| Column {
            name: name.to_string(),
            ty: match ty {
                "oid" => SqlType::Oid,
                "name" => SqlType::Name,
                "char" => SqlType::Char,
                "int2" => SqlType::Int2,
                "int4" => SqlType::Int4,
                "int8" => SqlType::Int8,
                "float4" => SqlType::Float4,
                "float8" => SqlType::Float8,
                "bool" => SqlType::Bool,
                "xid" => SqlType::Xid,
                "tstz" => SqlType::Timestamptz,
                "varchar" => SqlType::Varchar,
                _ => SqlType::Text,
            },
            max_len: None,
            not_null: false,
            default: None,
            serial: false,
            declared: None,
        })
        .collect()
}

// Shorthands for catalog rows.
fn o(n: u32) -> Datum {
    Datum::Int(i64::from(n))
}
fn i(n: i64) -> Datum {
    Datum::Int(n)
}
fn t(s: &str) -> Datum {
    Datum::Text(s.to_string())
}
fn b(x: bool) -> Datum {
    Datum::Bool(x)
}
const N: Datum = Datum::Null;

fn yes_no(x: bool) -> Datum {
    t(if x { "YES" } else { "NO" })
}

/// The ACL PostgreSQL gives the template databases and the schemas made by initdb.
const TEMPLATE_ACL: &str = "{=c/postgres,postgres=CTc/postgres}";
const SYSTEM_SCHEMA_ACL: &str = "{postgres=UC/postgres,=U/postgres}";
const PUBLIC_SCHEMA_ACL: &str = "{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}";
/// The collation and character type initdb gave the databases of the PostgreSQL terrarium is
/// compared with; terrarium compares strings by their bytes, which is what `C` means.
const DATABASE_LOCALE: &str = "C.UTF-8";

/// PostgreSQL 15's predefined roles (none of them can log in).
const PREDEFINED_ROLES: &[(u32, &str)] = &[
    (OID_DATABASE_OWNER, "pg_database_owner"),
    (6181, "pg_read_all_data"),
    (6182, "pg_write_all_data"),
    (3373, "pg_monitor"),
    (3374, "pg_read_all_settings"),
    (3375, "pg_read_all_stats"),
    (3377, "pg_stat_scan_tables"),
    (4569, "pg_read_server_files"),
    (4570, "pg_write_server_files"),
    (4571, "pg_execute_server_program"),
    (4200, "pg_signal_backend"),
    (4544, "pg_checkpoint"),
];

/// Every role: the bootstrap superuser `postgres`, the session's user when it is another (trust
/// authentication lets any name in; it is shown as a superuser, which is what terrarium makes
/// it), and the predefined roles. (oid, name, superuser)
fn roles(db: &Database) -> Vec<(u32, String, bool)> {
    let mut out = vec![(OID_BOOTSTRAP_SUPERUSER, "postgres".to_string(), true)];
    let me = user(db);
    if !me.is_empty() && me != "postgres" && !PREDEFINED_ROLES.iter().any(|(_, n)| *n == me) {
        out.push((oid_for(db, &format!("role:{me}")), me, true));
    }
    out.extend(PREDEFINED_ROLES.iter().map(|(o, n)| (*o, n.to_string(), false)));
    out
}

fn role_name(db: &Database, oid: i64) -> Option<String> {
    roles(db).into_iter().find(|r| i64::from(r.0) == oid).map(|r| r.1)
}

/// The databases: PostgreSQL's three and the one the session connected to (terrarium has one
/// store whatever name a client asks for). (oid, name, is template, allows connections, acl)
fn databases(db: &Database) -> Vec<(u32, String, bool, bool, Option<&'static str>)> {
    let mut out = vec![
        (5, "postgres".to_string(), false, true, None),
        (1, "template1".to_string(), true, true, Some(TEMPLATE_ACL)),
        (4, "template0".to_string(), true, false, Some(TEMPLATE_ACL)),
    ];
    let mine = database(db);
    if !out.iter().any(|d| d.1 == mine) {
        out.push((oid_for(db, &format!("db:{mine}")), mine, false, true, None));
    }
    out
}

/// The comments initdb puts on objects: (object, catalog, comment). Databases' are in
/// `pg_shdescription`, which `shobj_description` reads.
const DESCRIPTIONS: &[(u32, u32, &str)] = &[
    (OID_NAMESPACE_CATALOG, OID_PG_NAMESPACE, "system catalog schema"),
    (OID_NAMESPACE_TOAST, OID_PG_NAMESPACE, "reserved schema for TOAST tables"),
    (OID_NAMESPACE_PUBLIC, OID_PG_NAMESPACE, "standard public schema"),
    (1, OID_PG_DATABASE, "default template for new databases"),
    (4, OID_PG_DATABASE, "unmodifiable empty database"),
    (5, OID_PG_DATABASE, "default administrative connection database"),
];

fn description(object: i64, catalog: Option<u32>) -> Datum {
    DESCRIPTIONS
        .iter()
        .find(|d| i64::from(d.0) == object && catalog.is_none_or(|c| c == d.1))
        .map(|d| t(d.2))
        .unwrap_or(N)
}

const SCHEMAS: &[(u32, &str, u32, Option<&str>)] = &[
    (OID_NAMESPACE_TOAST, "pg_toast", OID_BOOTSTRAP_SUPERUSER, None),
    (OID_NAMESPACE_CATALOG, "pg_catalog", OID_BOOTSTRAP_SUPERUSER, Some(SYSTEM_SCHEMA_ACL)),
    (OID_NAMESPACE_PUBLIC, "public", OID_DATABASE_OWNER, Some(PUBLIC_SCHEMA_ACL)),
    (OID_NAMESPACE_INFORMATION_SCHEMA, "information_schema", OID_BOOTSTRAP_SUPERUSER, Some(SYSTEM_SCHEMA_ACL)),
];

/// `int2vector` / `oidvector` text: the numbers separated by spaces.
fn vector(items: impl Iterator<Item = i64>) -> String {
    items.map(|n| n.to_string()).collect::<Vec<_>>().join(" ")
}

/// `CREATE UNIQUE INDEX t_pkey ON public.t USING btree (a, b)`, as `pg_get_indexdef` writes it.
fn index_definition(r: &Rel, u: usize) -> String {
    let cols: Vec<String> = r.table.uniques[u].columns.iter().map(|&c| quote_ident(&r.table.columns[c].name)).collect();
    format!(
        "CREATE UNIQUE INDEX {} ON public.{} USING btree ({})",
        quote_ident(&r.name),
        quote_ident(&r.table.name),
        cols.join(", ")
    )
}

fn constraint_definition(t: &Table, u: usize) -> String {
    let cols: Vec<String> = t.uniques[u].columns.iter().map(|&c| quote_ident(&t.columns[c].name)).collect();
    let kind = if t.uniques[u].primary { "PRIMARY KEY" } else { "UNIQUE" };
    format!("{kind} ({})", cols.join(", "))
}

/// The rows of one catalog, from the tables' metadata now.
fn rows_of(db: &Database, key: &str) -> Vec<Row> {
    let rels = relations(db);
    let mut rows: Vec<Row> = Vec::new();
    match key {
        "pg_class" => {
            for r in &rels {
                let tab = r.table;
                let (am, natts, hasindex, replident, tuples) = match r.kind {
                    Kind::Table => (OID_AM_HEAP, tab.columns.len(), !tab.uniques.is_empty(), "d", -1.0),
                    Kind::Index(u) => (OID_AM_BTREE, tab.uniques[u].columns.len(), false, "n", 0.0),
                    Kind::Sequence(_) => (0, 3, false, "n", 1.0),
                };
                rows.push(vec![
                    o(r.oid),
                    t_name(&r.name),
                    o(OID_NAMESPACE_PUBLIC),
                    o(0),
                    o(0),
                    o(OID_BOOTSTRAP_SUPERUSER),
                    o(am),
                    o(r.oid),
                    o(0),
                    i(0),
                    Datum::Float(tuples),
                    i(0),
                    o(0),
                    b(hasindex),
                    b(false),
                    t("p"),
                    t(r.relkind()),
                    i(natts as i64),
                    i(0),
                    b(false),
                    b(false),
                    b(false),
                    b(false),
                    b(false),
                    b(true),
                    t(replident),
                    b(false),
                    o(0),
                    i(if r.kind == Kind::Table { 3 } else { 0 }),
                    i(if r.kind == Kind::Table { 1 } else { 0 }),
                    N,
                    N,
                    N,
                ]);
            }
        }
        "pg_namespace" => {
            for (oid, name, owner, acl) in SCHEMAS {
                rows.push(vec![o(*oid), t(name), o(*owner), acl.map(t).unwrap_or(N)]);
            }
        }
        "pg_attribute" => {
            for r in &rels {
                let cols: Vec<&Column> = match r.kind {
                    Kind::Table => r.table.columns.iter().collect(),
                    Kind::Index(u) => r.table.uniques[u].columns.iter().map(|&c| &r.table.columns[c]).collect(),
                    Kind::Sequence(_) => {
                        // A sequence is a one-row relation of these columns.
                        for (n, (name, typ)) in
                            [("last_value", 20), ("log_cnt", 20), ("is_called", 16)].iter().enumerate()
                        {
                            rows.push(attribute_row(r.oid, name, *typ, -1, n as i64 + 1, true, false));
                        }
                        Vec::new()
                    }
                };
                for (n, c) in cols.iter().enumerate() {
                    let (typ, typmod) = column_type_info(c);
                    let has_default = r.kind == Kind::Table && default_text(r.table, c).is_some();
                    rows.push(attribute_row(r.oid, &c.name, typ, typmod, n as i64 + 1, c.not_null, has_default));
                }
                if !matches!(r.kind, Kind::Index(_)) {
                    // The system columns every table (and sequence) has, numbered below zero.
                    for (name, typ, num) in [
                        ("tableoid", 26, -6),
                        ("cmax", 29, -5),
                        ("xmax", 28, -4),
                        ("cmin", 29, -3),
                        ("xmin", 28, -2),
                        ("ctid", 27, -1),
                    ] {
                        rows.push(attribute_row(r.oid, name, typ, -1, num, true, false));
                    }
                }
            }
        }
        "pg_attrdef" => {
            for r in rels.iter().filter(|r| r.kind == Kind::Table) {
                for (n, c) in r.table.columns.iter().enumerate() {
                    if let Some(text) = default_text(r.table, c) {
                        let oid = oid_for(db, &format!("d:{}.{}", r.name, c.name));
                        rows.push(vec![o(oid), o(r.oid), i(n as i64 + 1), t(&text)]);
                    }
                }
            }
        }
        "pg_type" => {
            for ty in TYPES {
                let array = ty.name.starts_with('_');
                let base = ty
                    .input
                    .strip_suffix("_in")
                    .map(|b| format!("{b}_"))
                    .unwrap_or_else(|| ty.input.strip_suffix("in").unwrap_or(ty.input).to_string());
                let (recv, send) = if ty.kind == "p" && ty.oid != 2278 {
                    ("-".to_string(), "-".to_string())
                } else {
                    (format!("{base}recv"), format!("{base}send"))
                };
                let modin = match ty.name {
                    "bpchar" | "varchar" | "numeric" | "timestamp" | "timestamptz" => format!("{}typmodin", ty.name),
                    "_bpchar" | "_varchar" | "_numeric" | "_timestamp" | "_timestamptz" => {
                        format!("{}typmodin", &ty.name[1..])
                    }
                    _ => "-".into(),
                };
                let modout = if modin == "-" { "-".to_string() } else { modin.replace("typmodin", "typmodout") };
                let subscript = if array || ty.category == "A" {
                    "array_subscript_handler"
                } else if ty.name == "name" {
                    "raw_array_subscript_handler"
                } else {
                    "-"
                };
                rows.push(vec![
                    o(ty.oid),
                    t(ty.name),
                    o(OID_NAMESPACE_CATALOG),
                    o(OID_BOOTSTRAP_SUPERUSER),
                    i(ty.len),
                    b(ty.byval),
                    t(ty.kind),
                    t(ty.category),
                    b(ty.preferred),
                    b(true),
                    t(","),
                    o(0),
                    t(subscript),
                    o(ty.elem),
                    o(ty.array),
                    t(ty.input),
                    t(&format!("{base}out")),
                    t(&recv),
                    t(&send),
                    t(&modin),
                    t(&modout),
                    t(if array { "array_typanalyze" } else { "-" }),
                    t(ty.align),
                    t(ty.storage),
                    b(false),
                    o(0),
                    i(-1),
                    i(0),
                    o(ty.collation),
                    N,
                    N,
                    N,
                ]);
            }
        }
        "pg_index" => {
            for r in &rels {
                let Kind::Index(u) = r.kind else { continue };
                let un = &r.table.uniques[u];
                let k = un.columns.len() as i64;
                let collations = un.columns.iter().map(|&c| {
                    let (typ, _) = column_type_info(&r.table.columns[c]);
                    i64::from(type_collation(typ))
                });
                rows.push(vec![
                    o(r.oid),
                    o(r.table_oid),
                    i(k),
                    i(k),
                    b(true),
                    b(false),
                    b(un.primary),
                    b(false),
                    b(true),
                    b(false),
                    b(true),
                    b(false),
                    b(true),
                    b(true),
                    b(false),
                    t(&vector(un.columns.iter().map(|&c| c as i64 + 1))),
                    t(&vector(collations)),
                    t(&vector(un.columns.iter().map(|&c| opclass(&r.table.columns[c])))),
                    t(&vector(un.columns.iter().map(|_| 0))),
                    N,
                    N,
                ]);
            }
        }
        "pg_constraint" => {
            for r in &rels {
                let Kind::Index(u) = r.kind else { continue };
                let un = &r.table.uniques[u];
                let oid = oid_for(db, &format!("c:{}.{}", r.table.name, un.name));
                let keys: Vec<String> = un.columns.iter().map(|c| (c + 1).to_string()).collect();
                rows.push(vec![
                    o(oid),
                    t_name(&un.name),
                    o(OID_NAMESPACE_PUBLIC),
                    t(if un.primary { "p" } else { "u" }),
                    b(false),
                    b(false),
                    b(true),
                    o(r.table_oid),
                    o(0),
                    o(r.oid),
                    o(0),
                    o(0),
                    t(" "),
                    t(" "),
                    t(" "),
                    b(true),
                    i(0),
                    b(true),
                    t(&format!("{{{}}}", keys.join(","))),
                    N,
                    N,
                    N,
                    N,
                    N,
                    N,
                    N,
                ]);
            }
        }
        "pg_database" => {
            for (oid, name, template, allow, acl) in databases(db) {
                rows.push(vec![
                    o(oid),
                    t_name(&name),
                    o(OID_BOOTSTRAP_SUPERUSER),
                    i(ENCODING_UTF8),
                    t("c"),
                    b(template),
                    b(allow),
                    i(-1),
                    i(3),
                    i(1),
                    o(OID_TABLESPACE_DEFAULT),
                    t(DATABASE_LOCALE),
                    t(DATABASE_LOCALE),
                    N,
                    N,
                    acl.map(t).unwrap_or(N),
                ]);
            }
        }
        "pg_roles" | "pg_authid" | "pg_user" => {
            for (oid, name, sup) in roles(db) {
                let login = sup;
                rows.push(match key {
                    "pg_roles" => vec![
                        t_name(&name),
                        b(sup),
                        b(true),
                        b(sup),
                        b(sup),
                        b(login),
                        b(sup),
                        i(-1),
                        t("********"),
                        N,
                        b(sup),
                        N,
                        o(oid),
                    ],
                    "pg_authid" => {
                        vec![
                            o(oid),
                            t_name(&name),
                            b(sup),
                            b(true),
                            b(sup),
                            b(sup),
                            b(login),
                            b(sup),
                            b(sup),
                            i(-1),
                            N,
                            N,
                        ]
                    }
                    _ if login => vec![t_name(&name), o(oid), b(sup), b(sup), b(sup), b(sup), t("********"), N, N],
                    _ => continue,
                });
            }
        }
        "pg_am" => {
            rows.push(vec![o(OID_AM_HEAP), t("heap"), t("heap_tableam_handler"), t("t")]);
            rows.push(vec![o(OID_AM_BTREE), t("btree"), t("bthandler"), t("i")]);
            rows.push(vec![o(405), t("hash"), t("hashhandler"), t("i")]);
        }
        "pg_tablespace" => {
            rows.push(vec![o(OID_TABLESPACE_DEFAULT), t("pg_default"), o(OID_BOOTSTRAP_SUPERUSER), N, N]);
            rows.push(vec![o(1664), t("pg_global"), o(OID_BOOTSTRAP_SUPERUSER), N, N]);
        }
        "pg_collation" => {
            let c = |oid, name: &str, provider: &str, locale: Datum| {
                vec![
                    o(oid),
                    t(name),
                    o(OID_NAMESPACE_CATALOG),
                    o(OID_BOOTSTRAP_SUPERUSER),
                    t(provider),
                    b(true),
                    i(-1),
                    locale.clone(),
                    locale,
                    N,
                    N,
                ]
            };
            rows.push(c(OID_COLLATION_DEFAULT, "default", "d", N));
            rows.push(c(OID_COLLATION_C, "C", "c", t("C")));
            rows.push(c(951, "POSIX", "c", t("POSIX")));
        }
        "pg_sequence" => {
            for r in &rels {
                let Kind::Sequence(c) = r.kind else { continue };
                let big = r.table.columns[c].ty == SqlType::Int8;
                let max = if big { i64::MAX } else { i64::from(i32::MAX) };
                rows.push(vec![o(r.oid), o(if big { 20 } else { 23 }), i(1), i(1), i(max), i(1), i(1), b(false)]);
            }
        }
        "pg_depend" => {
            // What psql's `\d` reads back: a serial column's sequence belongs to the column ('a'),
            // a constraint's index is its implementation ('i'), a constraint depends on its
            // columns ('a').
            for r in &rels {
                match r.kind {
                    Kind::Sequence(c) => rows.push(vec![
                        o(OID_PG_CLASS),
                        o(r.oid),
                        i(0),
                        o(OID_PG_CLASS),
                        o(r.table_oid),
                        i(c as i64 + 1),
                        t("a"),
                    ]),
                    Kind::Index(u) => {
                        let con = oid_for(db, &format!("c:{}.{}", r.table.name, r.table.uniques[u].name));
                        rows.push(vec![o(OID_PG_CLASS), o(r.oid), i(0), o(OID_PG_CONSTRAINT), o(con), i(0), t("i")]);
                        for &c in &r.table.uniques[u].columns {
                            rows.push(vec![
                                o(OID_PG_CONSTRAINT),
                                o(con),
                                i(0),
                                o(OID_PG_CLASS),
                                o(r.table_oid),
                                i(c as i64 + 1),
                                t("a"),
                            ]);
                        }
                    }
                    Kind::Table => {}
                }
            }
        }
        "pg_description" | "pg_shdescription" => {
            for (object, catalog, text) in DESCRIPTIONS {
                let shared = *catalog == OID_PG_DATABASE;
                match (key, shared) {
                    ("pg_description", false) => rows.push(vec![o(*object), o(*catalog), i(0), t(text)]),
                    ("pg_shdescription", true) => rows.push(vec![o(*object), o(*catalog), t(text)]),
                    _ => {}
                }
            }
        }
        "pg_tables" => {
            for r in rels.iter().filter(|r| r.kind == Kind::Table) {
                let has = !r.table.uniques.is_empty();
                rows.push(vec![t("public"), t_name(&r.name), t("postgres"), N, b(has), b(false), b(false), b(false)]);
            }
        }
        "pg_indexes" => {
            for r in &rels {
                let Kind::Index(u) = r.kind else { continue };
                rows.push(vec![t("public"), t_name(&r.table.name), t_name(&r.name), N, t(&index_definition(r, u))]);
            }
        }
        "information_schema.tables" => {
            let cat = database(db);
            for r in rels.iter().filter(|r| r.kind == Kind::Table) {
                rows.push(vec![
                    t_name(&cat),
                    t("public"),
                    t_name(&r.name),
                    t("BASE TABLE"),
                    N,
                    N,
                    N,
                    N,
                    N,
                    t("YES"),
                    t("NO"),
                    N,
                ]);
            }
        }
        "information_schema.columns" => {
            let cat = database(db);
            for r in rels.iter().filter(|r| r.kind == Kind::Table) {
                for (n, c) in r.table.columns.iter().enumerate() {
                    rows.push(information_schema_column(&cat, r.table, c, n as i64 + 1));
                }
            }
        }
        "information_schema.schemata" => {
            let cat = database(db);
            let mut names: Vec<(&str, u32)> = SCHEMAS.iter().map(|s| (s.1, s.2)).collect();
            names.sort();
            for (name, owner) in names {
                let owner = role_name(db, i64::from(owner)).unwrap_or_default();
                rows.push(vec![t_name(&cat), t(name), t_name(&owner), N, N, N, N]);
            }
        }
        "information_schema.table_constraints" => {
            let cat = database(db);
            for r in rels.iter().filter(|r| r.kind == Kind::Table) {
                for u in &r.table.uniques {
                    let kind = if u.primary { "PRIMARY KEY" } else { "UNIQUE" };
                    rows.push(vec![
                        t_name(&cat),
                        t("public"),
                        t_name(&u.name),
                        t_name(&cat),
                        t("public"),
                        t_name(&r.name),
                        t(kind),
                        t("NO"),
                        t("NO"),
                        t("YES"),
                        t("YES"),
                    ]);
                }
                // PostgreSQL 15 lists each NOT NULL column as a CHECK constraint named after the
                // OIDs of its schema and table.
                for (n, c) in r.table.columns.iter().enumerate() {
                    if c.not_null {
                        let name = format!("{}_{}_{}_not_null", OID_NAMESPACE_PUBLIC, r.oid, n + 1);
                        rows.push(vec![
                            t_name(&cat),
                            t("public"),
                            t_name(&name),
                            t_name(&cat),
                            t("public"),
                            t_name(&r.name),
                            t("CHECK"),
                            t("NO"),
                            t("NO"),
                            t("YES"),
                            N,
                        ]);
                    }
                }
            }
        }
        "information_schema.key_column_usage" => {
            let cat = database(db);
            for r in rels.iter().filter(|r| r.kind == Kind::Table) {
                for u in &r.table.uniques {
                    for (k, &c) in u.columns.iter().enumerate() {
                        rows.push(vec![
                            t_name(&cat),
                            t("public"),
                            t_name(&u.name),
                            t_name(&cat),
                            t("public"),
                            t_name(&r.name),
                            t_name(&r.table.columns[c].name),
                            i(k as i64 + 1),
                            N,
                        ]);
                    }
                }
            }
        }
        "pg_stat_activity" => rows = monitor::stat_activity_rows(db),
        "pg_locks" => rows = monitor::locks_rows(db),
        "pg_stat_bgwriter" => rows = wal::stat_bgwriter_rows(db),
        "pg_stat_database" => rows = monitor::stat_database_rows(db),
        "pg_settings" => rows = wal::settings_rows(db),
        "pg_ls_waldir" => rows = wal::ls_waldir_rows(db),
        // The rest are empty: terrarium has no comments, inheritance, policies, extended
        // statistics, publications, triggers, rules, extensions, enums, views or partitions.
        _ => {}
    }
    rows
}

/// A `name` value: at most 63 bytes, cut at a character boundary.
fn t_name(s: &str) -> Datum {
    let mut end = s.len().min(63);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    t(&s[..end])
}

/// The btree operator class PostgreSQL picks for a column of this type (`pg_index.indclass`).
fn opclass(c: &Column) -> i64 {
    match column_type_info(c).0 {
        16 => 424,
        20 => 1980,
        21 => 1979,
        23 => 1978,
        700 => 1970,
        701 => 1971,
        1042 => 426,
        1700 => 3125,
        1114 => 3128,
        1184 => 3127,
        1082 => 3122,
        // Opclasses without a fixed OID get theirs at initdb; these are PostgreSQL 15's.
        17 => 10006,
        1186 => 10022,
        2950 => 10065,
        3802 => 10088,
        19 => 1986,
        26 => 1989,
        _ => 3126,
    }
}

fn attribute_row(rel: u32, name: &str, typ: u32, typmod: i64, num: i64, not_null: bool, has_default: bool) -> Row {
    let info = type_info(i64::from(typ));
    vec![
        o(rel),
        t_name(name),
        o(typ),
        i(-1),
        i(info.map(|x| x.len).unwrap_or(-1)),
        i(num),
        i(0),
        i(-1),
        i(typmod),
        b(info.is_some_and(|x| x.byval)),
        t(info.map(|x| x.align).unwrap_or("i")),
        t(info.map(|x| x.storage).unwrap_or("p")),
        t(""),
        b(not_null),
        b(has_default),
        b(false),
        t(""),
        t(""),
        b(false),
        b(true),
        i(0),
        o(type_collation(typ)),
        N,
        N,
        N,
        N,
    ]
}

fn information_schema_column(cat: &str, table: &Table, c: &Column, position: i64) -> Row {
    let (typ, typmod) = column_type_info(c);
    let info = type_info(i64::from(typ));
    let data_type = match info {
        Some(x) if x.category == "A" => "ARRAY".to_string(),
        _ => format_type(i64::from(typ), None),
    };
    let char_len = match typ {
        1042 | 1043 if typmod >= 0 => Some(typmod - 4),
        _ => None,
    };
    // Octet length: four bytes a character (UTF-8's most), or the 1 GB limit when unbounded.
    let octets = match typ {
        1042 | 1043 | 25 => Some(char_len.map(|n| n * 4).unwrap_or(1_073_741_824)),
        _ => None,
    };
    let (precision, radix, scale) = match typ {
        21 => (Some(16), Some(2), Some(0)),
        23 => (Some(32), Some(2), Some(0)),
        20 => (Some(64), Some(2), Some(0)),
        700 => (Some(24), Some(2), None),
        701 => (Some(53), Some(2), None),
        1700 if typmod >= 0 => (Some(((typmod - 4) >> 16) & 0xffff), Some(10), Some((typmod - 4) & 0xffff)),
        1700 => (None, Some(10), None),
        _ => (None, None, None),
    };
    let datetime = match typ {
        1114 | 1184 | 1186 => Some(6),
        1082 => Some(0),
        _ => None,
    };
    let opt = |x: Option<i64>| x.map(i).unwrap_or(N);
    vec![
        t_name(cat),
        t("public"),
        t_name(&table.name),
        t_name(&c.name),
        i(position),
        default_text(table, c).map(|d| t(&d)).unwrap_or(N),
        yes_no(!c.not_null),
        t(&data_type),
        opt(char_len),
        opt(octets),
        opt(precision),
        opt(radix),
        opt(scale),
        opt(datetime),
        N,
        N,
        N,
        N,
        N,
        N,
        N,
        N,
        N,
        N,
        N,
        t_name(cat),
        t("pg_catalog"),
        t(info.map(|x| x.name).unwrap_or("text")),
        N,
        N,
        N,
        N,
        t(&position.to_string()),
        t("NO"),
        t("NO"),
        N,
        N,
        N,
        N,
        N,
        t("NO"),
        t("NEVER"),
        N,
        t("YES"),
    ]
}

/// A catalog as a table of rows, all written by the bootstrap transaction (xid 1, visible to
/// every snapshot).
fn materialize(db: &Database, key: &str) -> Table {
    let columns = parse_columns(columns_of(key));
    let mut heap = Heap::new();
    for mut row in rows_of(db, key) {
        // Every row builder above matches its spec; this keeps a mistake from becoming a panic.
        row.resize(columns.len(), Datum::Null);
        heap.insert(1, 0, row);
    }
    Table { name: key.to_string(), columns, uniques: Vec::new(), heap, sequence: 0, index: Vec::new() }
}

// ------------------------------------------------------------------------------------------------
// Functions.
// ------------------------------------------------------------------------------------------------

/// The result type of a catalog function, for RowDescription and type checks.
pub(super) fn function_type(name: &str) -> Option<SqlType> {
    Some(match name {
        "current_setting" | "set_config" => SqlType::Text,
        "current_database"
        | "current_catalog"
        | "current_user"
        | "session_user"
        | "user"
        | "current_schema"
        | "pg_get_userbyid"
        | "pg_encoding_to_char" => SqlType::Name,
        "pg_table_is_visible"
        | "pg_type_is_visible"
        | "pg_relation_is_publishable"
        | "has_table_privilege"
        | "has_schema_privilege"
        | "has_database_privilege" => SqlType::Bool,
        "array_upper" | "array_lower" | "array_length" | "cardinality" | "pg_backend_pid" => SqlType::Int4,
        "pg_cancel_backend" => SqlType::Bool,
        "pg_stat_clear_snapshot" => SqlType::Void,
        "pg_blocking_pids" => SqlType::Text,
        "pg_relation_size" | "pg_table_size" | "pg_total_relation_size" | "pg_indexes_size" => SqlType::Int8,
        "format_type"
        | "pg_get_indexdef"
        | "pg_get_constraintdef"
        | "pg_get_expr"
        | "pg_get_serial_sequence"
        | "pg_get_statisticsobjdef_columns"
        | "obj_description"
        | "col_description"
        | "shobj_description"
        | "array_to_string"
        | "pg_size_pretty"
        | "to_regclass"
        | "quote_ident"
        | "current_schemas"
        | "array" => SqlType::Text,
        _ => return None,
    })
}

fn int_arg(d: Option<&Datum>) -> Option<i64> {
    match d? {
        Datum::Int(n) => Some(*n),
        Datum::Float(f) => Some(*f as i64),
        Datum::Numeric(s) | Datum::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_arg(d: Option<&Datum>) -> Option<String> {
    d.and_then(|d| d.to_text())
}

/// A relation named by an argument: its OID (oid columns, `'16390'`), or its name (a regclass
/// value, `'accounts'`).
fn relation_arg<'a>(db: &'a Database, d: Option<&Datum>) -> Option<Rel<'a>> {
    match d? {
        Datum::Int(n) => relation_by_oid(db, *n),
        Datum::Text(s) => match s.trim().parse::<i64>() {
            Ok(n) => relation_by_oid(db, n),
            Err(_) => relation_by_name(db, s),
        },
        _ => None,
    }
}

/// Calls a catalog function; `None` when `name` is not one (the executor then tries its own).
pub(super) fn function(db: &Database, name: &str, args: &[Datum]) -> Option<R<Datum>> {
    let arg = |n: usize| args.get(n);
    // Strict functions: a NULL argument gives NULL without a call.
    let strict = !matches!(
        name,
        "current_database"
            | "current_catalog"
            | "current_user"
            | "session_user"
            | "user"
            | "current_schema"
            | "format_type"
            | "array_to_string"
    );
    if function_type(name).is_none() || name == "array" {
        return None;
    }
    if strict && args.iter().any(Datum::is_null) {
        return Some(Ok(Datum::Null));
    }
    let out = match name {
        "current_database" | "current_catalog" => t_name(&database(db)),
        // current_setting(name [, missing_ok]): what SHOW name answers.
        "current_setting" => {
            let name = text_arg(arg(0)).unwrap_or_default().to_lowercase();
            let st = db.catalog.borrow();
            let value = super::setting_value(&st.session_settings, st.isolation, &st.user, &name);
            match value {
                Some(v) => t(&v),
                None if matches!(arg(1), Some(Datum::Bool(true))) => N,
                None => {
                    let msg = format!("unrecognized configuration parameter \"{name}\"");
                    return Some(Err(SqlError::new("42704", msg).into()));
                }
            }
        }
        // set_config(name, value, is_local): the value, set for the session (or transaction)
        // once the statement is done; later calls in the same statement already see it.
        "set_config" => {
            let name = text_arg(arg(0)).unwrap_or_default().to_lowercase();
            let value = text_arg(arg(1)).unwrap_or_default();
            let local = matches!(arg(2), Some(Datum::Bool(true)));
            let mut st = db.catalog.borrow_mut();
            st.session_settings.insert(name.clone(), value.clone());
            st.set_config_requests.push((name, value.clone(), local));
            t(&value)
        }
        "current_user" | "session_user" | "user" => t_name(&user(db)),
        "current_schema" => t("public"),
        "current_schemas" => {
            let implicit = matches!(arg(0), Some(Datum::Bool(true)));
            t(if implicit { "{pg_catalog,public}" } else { "{public}" })
        }
        "pg_get_userbyid" => {
            let oid = int_arg(arg(0)).unwrap_or(0);
            t_name(&role_name(db, oid).unwrap_or_else(|| format!("unknown (OID={oid})")))
        }
        "pg_table_is_visible" => match relation_arg(db, arg(0)) {
            Some(_) => b(true),
            None => N,
        },
        "pg_type_is_visible" => b(true),
        "pg_relation_is_publishable" => b(relation_arg(db, arg(0)).is_some_and(|r| r.kind == Kind::Table)),
        "has_table_privilege" | "has_schema_privilege" | "has_database_privilege" => b(true),
        "format_type" if arg(0).is_none_or(Datum::is_null) => N,
        "format_type" => {
            let typmod = match arg(1) {
                None | Some(Datum::Null) => None,
                d => int_arg(d),
            };
            t(&format_type(int_arg(arg(0)).unwrap_or(0), typmod))
        }
        "pg_get_indexdef" => match relation_arg(db, arg(0)) {
            Some(r) => match r.kind {
                Kind::Index(u) => match int_arg(arg(1)).unwrap_or(0) {
                    0 => t(&index_definition(&r, u)),
                    k => r.table.uniques[u]
                        .columns
                        .get((k - 1).max(0) as usize)
                        .map(|&c| t(&quote_ident(&r.table.columns[c].name)))
                        .unwrap_or_else(|| t("")),
                },
                _ => N,
            },
            None => N,
        },
        "pg_get_constraintdef" => {
            let oid = int_arg(arg(0)).unwrap_or(0);
            let found = relations(db).into_iter().find_map(|r| match r.kind {
                Kind::Index(u) => {
                    let key = format!("c:{}.{}", r.table.name, r.table.uniques[u].name);
                    (db.catalog.borrow().oids.get(&key).map(|&x| i64::from(x)) == Some(oid))
                        .then(|| constraint_definition(r.table, u))
                }
                _ => None,
            });
            found.map(|d| t(&d)).unwrap_or(N)
        }
        // Expressions are stored as their deparsed text already; the pretty form (third argument
        // true) leaves out the parentheses around the whole expression. (PostgreSQL's also drops
        // those inner ones that operator precedence makes unnecessary; terrarium keeps them.)
        "pg_get_expr" => {
            let text = text_arg(arg(0)).unwrap_or_default();
            match arg(2) {
                Some(Datum::Bool(true)) => t(strip_outer_parens(&text)),
                _ => t(&text),
            }
        }
        "pg_get_serial_sequence" => {
            let table = text_arg(arg(0)).unwrap_or_default();
            let column = text_arg(arg(1)).unwrap_or_default();
            let Some(name) = unqualify(&table) else {
                return Some(Err(SqlError::new("42P01", format!("relation \"{table}\" does not exist")).into()));
            };
            let Some(tab) = user_tables(db).find(|x| x.name == name) else {
                return Some(Err(SqlError::new("42P01", format!("relation \"{table}\" does not exist")).into()));
            };
            let col = split_qualified(&column).pop().unwrap_or_default();
            match tab.columns.iter().find(|c| c.name == col) {
                Some(c) if c.serial => t(&format!("public.{}", quote_ident(&sequence_name(tab, c)))),
                Some(_) => N,
                None => {
                    return Some(Err(SqlError::new(
                        "42703",
                        format!("column \"{col}\" of relation \"{}\" does not exist", tab.name),
                    )
                    .into()))
                }
            }
        }
        "obj_description" | "shobj_description" => {
            let catalog = match text_arg(arg(1)) {
                Some(c) => match catalog_oid_by_name(&c) {
                    Some(o) => Some(o),
                    None => return Some(Ok(N)),
                },
                None => None,
            };
            description(int_arg(arg(0)).unwrap_or(0), catalog)
        }
        "pg_get_statisticsobjdef_columns" | "col_description" => N,
        "pg_encoding_to_char" => t(match int_arg(arg(0)) {
            Some(ENCODING_UTF8) => "UTF8",
            Some(0) => "SQL_ASCII",
            _ => "",
        }),
        "array_to_string" if arg(0).is_none_or(Datum::is_null) || arg(1).is_none_or(Datum::is_null) => N,
        "array_to_string" => {
            let sep = text_arg(arg(1)).unwrap_or_default();
            let null = text_arg(arg(2));
            match parse_array(&text_arg(arg(0)).unwrap_or_default()) {
                Some((items, _)) => {
                    t(&items.into_iter().filter_map(|x| x.or_else(|| null.clone())).collect::<Vec<_>>().join(&sep))
                }
                None => return Some(Err(malformed_array(&text_arg(arg(0)).unwrap_or_default()))),
            }
        }
        "array_upper" | "array_lower" | "array_length" | "cardinality" => {
            let text = text_arg(arg(0)).unwrap_or_default();
            let Some((items, lower)) = parse_array(&text) else { return Some(Err(malformed_array(&text))) };
            let dim = if name == "cardinality" { 1 } else { int_arg(arg(1)).unwrap_or(1) };
            if items.is_empty() && name == "cardinality" {
                i(0)
            } else if items.is_empty() || dim != 1 {
                N
            } else {
                match name {
                    "array_upper" => i(lower + items.len() as i64 - 1),
                    "array_lower" => i(lower),
                    _ => i(items.len() as i64),
                }
            }
        }
        "pg_relation_size" | "pg_table_size" | "pg_total_relation_size" | "pg_indexes_size" => {
            match relation_arg(db, arg(0)) {
                Some(r) => i(match name {
                    "pg_relation_size" => relation_bytes(&r),
                    "pg_table_size" => table_bytes(&r),
                    "pg_indexes_size" => indexes_bytes(db, &r),
                    _ => table_bytes(&r) + indexes_bytes(db, &r),
                }),
                None => N,
            }
        }
        "pg_size_pretty" => match int_arg(arg(0)) {
            Some(n) => t(&size_pretty(n)),
            None => N,
        },
        "to_regclass" => match relation_by_name(db, &text_arg(arg(0)).unwrap_or_default()) {
            Some(r) => t(&quote_ident(&r.name)),
            None => N,
        },
        "quote_ident" => t(&quote_ident(&text_arg(arg(0)).unwrap_or_default())),
        "pg_backend_pid" => monitor::backend_pid(db),
        "pg_blocking_pids" => monitor::blocking_pids(db, int_arg(arg(0)).unwrap_or(0)),
        "pg_cancel_backend" => monitor::cancel_backend(db, int_arg(arg(0)).unwrap_or(0)),
        "pg_stat_clear_snapshot" => monitor::clear_snapshot(db),
        _ => return None,
    };
    Some(Ok(out))
}

// ------------------------------------------------------------------------------------------------
// Casts to the object-identifier types.
// ------------------------------------------------------------------------------------------------

/// The reg* type a cast names (`regclass`, `pg_catalog.regtype`, ...), if it names one.
pub(super) fn reg_type(dt: &DataType) -> Option<&'static str> {
    let name = dt.to_string().to_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    ["regclass", "regtype", "regnamespace", "regrole", "regproc", "regprocedure", "regoper", "regconfig"]
        .into_iter()
        .find(|r| *r == name)
}

/// The executor's type for a catalog type name (after `pg_catalog.` is taken off): `name`,
/// `oid`, `"char"`; the reg* types and arrays hold text.
pub(super) fn type_named(name: &str) -> Option<SqlType> {
    Some(match name {
        "name" => SqlType::Name,
        "oid" => SqlType::Oid,
        "\"char\"" => SqlType::Char,
        "timestamptz" | "timestamp with time zone" => SqlType::Timestamptz,
        "regclass" | "regtype" | "regnamespace" | "regrole" | "regproc" | "regprocedure" | "regoper" | "regconfig"
        | "int2vector" | "oidvector" => SqlType::Text,
        n if n.ends_with("[]") => SqlType::Text,
        _ => return None,
    })
}

/// Whether a chain of casts starts from a column or a function call (whose name the result takes).
pub(super) fn cast_of_named(e: &Expr) -> bool {
    match e {
        Expr::Cast { expr, .. } => cast_of_named(expr),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) => true,
        _ => false,
    }
}

/// Casts the executor cannot do by converting text: to a reg* type (an OID becomes the object's
/// name, a name is checked to exist) and from one to `oid` (a name becomes its OID). `None` for
/// every other cast.
pub(super) fn cast(db: &Database, v: &Datum, dt: &DataType) -> Option<R<Datum>> {
    let target = dt.to_string().to_lowercase();
    let target = target.strip_prefix("pg_catalog.").unwrap_or(&target).to_string();
    if target == "oid" {
        let Datum::Text(s) = v else { return None };
        if s.trim().parse::<i64>().is_ok() {
            return None;
        }
        return Some(
            name_to_oid(db, s)
                .map(|o| Datum::Int(i64::from(o)))
                .ok_or_else(|| SqlError::new("22P02", format!("invalid input syntax for type oid: \"{s}\"")).into()),
        );
    }
    let reg = reg_type(dt)?;
    if v.is_null() {
        return Some(Ok(Datum::Null));
    }
    let oid = match v {
        Datum::Int(n) => Some(*n),
        Datum::Text(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    Some(match (reg, oid) {
        (_, Some(n)) => Ok(t(&oid_to_name(db, reg, n).unwrap_or_else(|| n.to_string()))),
        ("regclass", None) => {
            let s = v.to_text().unwrap_or_default();
            match relation_by_name(db, &s) {
                Some(r) => Ok(t(&quote_ident(&r.name))),
                None => match catalog_oid_by_name(&s) {
                    Some(o) => Ok(t(&oid_to_name(db, "regclass", i64::from(o)).unwrap_or_default())),
                    None => Err(SqlError::new("42P01", format!("relation \"{s}\" does not exist")).into()),
                },
            }
        }
        ("regtype", None) => {
            let s = v.to_text().unwrap_or_default();
            match type_oid_by_name(&s) {
                Some(o) => Ok(t(&format_type(o, None))),
                None => Err(SqlError::new("42704", format!("type \"{s}\" does not exist")).into()),
            }
        }
        ("regnamespace", None) => {
            let s = v.to_text().unwrap_or_default();
            match SCHEMAS.iter().find(|x| x.1 == s) {
                Some(x) => Ok(t(x.1)),
                None => Err(SqlError::new("42704", format!("schema \"{s}\" does not exist")).into()),
            }
        }
        (_, None) => Ok(v.clone()),
    })
}

fn oid_to_name(db: &Database, reg: &str, oid: i64) -> Option<String> {
    match reg {
        "regclass" => relation_by_oid(db, oid)
            .map(|r| quote_ident(&r.name))
            .or_else(|| CATALOG_OIDS.iter().find(|c| i64::from(c.0) == oid).map(|c| c.1.to_string())),
        "regtype" => type_info(oid).map(|_| format_type(oid, None)),
        "regnamespace" => SCHEMAS.iter().find(|s| i64::from(s.0) == oid).map(|s| s.1.to_string()),
        "regrole" => role_name(db, oid),
        _ => None,
    }
}

fn type_oid_by_name(s: &str) -> Option<i64> {
    let s = s.trim().to_lowercase();
    let s = s.strip_prefix("pg_catalog.").unwrap_or(&s);
    TYPES.iter().find(|t| t.name == s || format_type(i64::from(t.oid), None) == s).map(|t| i64::from(t.oid))
}

/// A name given where an OID is wanted: a relation's, else a type's or a schema's.
fn name_to_oid(db: &Database, s: &str) -> Option<u32> {
    relation_by_name(db, s)
        .map(|r| r.oid)
        .or_else(|| catalog_oid_by_name(s))
        .or_else(|| type_oid_by_name(s).map(|o| o as u32))
        .or_else(|| SCHEMAS.iter().find(|x| x.1 == s).map(|x| x.0))
}

/// `attrelid = 'accounts'::regclass`: a reg* value (held as a name) compared with an OID is read
/// as the OID it names, as PostgreSQL compares the two as OIDs.
pub(super) fn reg_as_oid(db: &Database, e: &Expr, value: &Datum, other: &Datum) -> Option<Datum> {
    let Expr::Cast { data_type, .. } = e else { return None };
    reg_type(data_type)?;
    if !matches!(other, Datum::Int(_)) {
        return None;
    }
    let Datum::Text(s) = value else { return None };
    if s.trim().parse::<i64>().is_ok() {
        return Some(Datum::Int(s.trim().parse().ok()?));
    }
    name_to_oid(db, s).map(|o| Datum::Int(i64::from(o)))
}

// ------------------------------------------------------------------------------------------------
// Arrays (kept as their text form) and regular expressions.
// ------------------------------------------------------------------------------------------------

fn malformed_array(s: &str) -> ExecError {
    SqlError::new("22P02", format!("malformed array literal: \"{s}\"")).into()
}

/// An array's elements (`None` for NULL) and lower bound: `{a,"b c",NULL}` with bound 1, or an
/// `int2vector` / `oidvector`'s space-separated numbers with bound 0. `None` when malformed.
pub(super) fn parse_array(s: &str) -> Option<(Vec<Option<String>>, i64)> {
    let s = s.trim();
    let Some(body) = s.strip_prefix('{') else {
        return Some((s.split_whitespace().map(|x| Some(x.to_string())).collect(), 0));
    };
    let body = body.strip_suffix('}')?;
    let mut items = Vec::new();
    if body.trim().is_empty() {
        return Some((items, 1));
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                chars.next();
                if c == '\\' {
                    item.push(chars.next()?);
                } else if c == '{' || c == '}' || c == '"' {
                    return None;
                } else {
                    item.push(c);
                }
            }
            item = item.trim_end().to_string();
        }
        items.push(if !quoted && item.eq_ignore_ascii_case("null") { None } else { Some(item) });
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(_) => return None,
        }
    }
    Some((items, 1))
}

/// An array's text form, quoting elements as `array_out` does.
fn array_text(items: &[Option<String>]) -> String {
    let quote = |s: &str| {
        let needs = s.is_empty()
            || s.eq_ignore_ascii_case("null")
            || s.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
        if needs {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            s.to_string()
        }
    };
    let parts: Vec<String> = items.iter().map(|x| x.as_deref().map(quote).unwrap_or_else(|| "NULL".into())).collect();
    format!("{{{}}}", parts.join(","))
}

/// `ARRAY(SELECT ...)`: the subquery's first column as an array (its text form).
pub(super) fn array_of_rows(rows: &[Row]) -> Datum {
    let items: Vec<Option<String>> = rows.iter().map(|r| r.first().and_then(|d| d.to_text())).collect();
    t(&array_text(&items))
}

/// `v op ANY (array)` / `ALL`: the array's elements compared one by one, three-valued.
pub(super) fn quantified_array(op: &BinaryOperator, v: Datum, array: Datum, any: bool) -> R<Datum> {
    if array.is_null() {
        return Ok(Datum::Null);
    }
    let text = array.to_text().unwrap_or_default();
    let (items, _) = parse_array(&text).ok_or_else(|| malformed_array(&text))?;
    let rows: Vec<Row> = items.into_iter().map(|x| vec![x.map(Datum::Text).unwrap_or(Datum::Null)]).collect();
    super::quantified(op, v, &rows, any, false)
}

/// The regex crate's complaint in the words of PostgreSQL's regex library (`regerror`) for the
/// mistakes both notice; others keep the crate's own words.
fn regex_error_text(rust: &str) -> String {
    let last = rust.lines().last().unwrap_or("").trim();
    let last = last.strip_prefix("error: ").unwrap_or(last);
    let pg = [
        ("unclosed group", "parentheses () not balanced"),
        ("unopened group", "parentheses () not balanced"),
        ("unclosed character class", "brackets [] not balanced"),
        ("repetition operator missing expression", "quantifier operand invalid"),
        ("unclosed counted repetition", "braces {} not balanced"),
        ("invalid repetition count", "invalid repetition count(s)"),
        ("escape sequence", "invalid escape \\ sequence"),
    ];
    pg.iter().find(|(k, _)| last.contains(k)).map(|(_, v)| v.to_string()).unwrap_or_else(|| last.to_string())
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<(String, bool), regex::Regex>> = RefCell::new(HashMap::new());
}

fn regex_matches(text: &str, pattern: &str, case_insensitive: bool) -> R<bool> {
    let key = (pattern.to_string(), case_insensitive);
    let cached = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned());
    let re = match cached {
        Some(re) => re,
        None => {
            let re = regex::RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .size_limit(REGEX_COMPILED_BYTES_MAX)
                .build()
                .map_err(|e| {
                    let why = match e {
                        regex::Error::CompiledTooBig(_) => "regular expression is too complex".to_string(),
                        other => regex_error_text(&other.to_string()),
                    };
                    ExecError::from(SqlError::new("2201B", format!("invalid regular expression: {why}")))
                })?;
            REGEX_CACHE.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= REGEX_CACHE_ENTRIES_MAX {
                    c.clear();
                }
                c.insert(key, re.clone());
            });
            re
        }
    };
    Ok(re.is_match(text))
}

/// `~`, `~*`, `!~`, `!~*` and `OPERATOR(pg_catalog.op)` for those and the comparison operators.
/// Both sides are known not to be NULL.
pub(super) fn operator(op: &BinaryOperator, l: Datum, r: Datum) -> R<Datum> {
    let symbol = match op {
        BinaryOperator::PGRegexMatch => "~",
        BinaryOperator::PGRegexIMatch => "~*",
        BinaryOperator::PGRegexNotMatch => "!~",
        BinaryOperator::PGRegexNotIMatch => "!~*",
        BinaryOperator::PGCustomBinaryOperator(parts) => {
            let schema_ok = parts.len() == 1 || (parts.len() == 2 && parts[0].eq_ignore_ascii_case("pg_catalog"));
            match parts.last() {
                Some(s) if schema_ok => s.as_str(),
                _ => "",
            }
        }
        _ => "",
    };
    let standard = match symbol {
        "=" => Some(BinaryOperator::Eq),
        "<>" | "!=" => Some(BinaryOperator::NotEq),
        "<" => Some(BinaryOperator::Lt),
        "<=" => Some(BinaryOperator::LtEq),
        ">" => Some(BinaryOperator::Gt),
        ">=" => Some(BinaryOperator::GtEq),
        "||" => Some(BinaryOperator::StringConcat),
        _ => None,
    };
    if let Some(op) = standard {
        return super::binary(&op, l, r);
    }
    let (negate, insensitive) = match symbol {
        "~" => (false, false),
        "~*" => (false, true),
        "!~" => (true, false),
        "!~*" => (true, true),
        _ => {
            return Err(SqlError::new(
                "42883",
                format!("operator does not exist: {} {op} {}", type_name(&l), type_name(&r)),
            )
            .hint(super::OPERATOR_HINT)
            .into())
        }
    };
    let text = l.to_text().unwrap_or_default();
    let pattern = r.to_text().unwrap_or_default();
    Ok(Datum::Bool(regex_matches(&text, &pattern, insensitive)? != negate))
}

fn type_name(d: &Datum) -> &'static str {
    super::type_of(d)
}

/// The columns of a catalog, for tests.
#[cfg(test)]
fn catalog_columns(key: &str) -> Vec<super::OutColumn> {
    parse_columns(columns_of(key)).into_iter().map(|c| super::OutColumn { name: c.name, ty: c.ty }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_has_columns_and_rows_that_fit_them() {
        let mut db = Database::default();
        let mut s = Session::default();
        for sql in [
            "CREATE TABLE accounts (id serial PRIMARY KEY, email varchar(120) NOT NULL UNIQUE, \
             balance numeric(12,2) DEFAULT 0, note text)",
            "CREATE TABLE items (sku bigint, shop int, name char(8), PRIMARY KEY (sku, shop))",
        ] {
            for st in super::super::parse(sql).unwrap() {
                super::super::execute(&mut db, &mut s, &st).unwrap();
            }
        }
        for key in PG_CATALOG_RELATIONS
            .iter()
            .map(|k| k.to_string())
            .chain(INFORMATION_SCHEMA_RELATIONS.iter().map(|k| format!("information_schema.{k}")))
        {
            let cols = catalog_columns(&key);
            assert!(!cols.is_empty(), "{key} has no columns");
            for row in rows_of(&db, &key) {
                assert_eq!(row.len(), cols.len(), "{key}: {row:?}");
            }
        }
    }

    #[test]
    fn types_print_as_format_type_does() {
        assert_eq!(format_type(1043, Some(124)), "character varying(120)");
        assert_eq!(format_type(1043, Some(-1)), "character varying");
        assert_eq!(format_type(1042, Some(12)), "character(8)");
        assert_eq!(format_type(1042, Some(-1)), "bpchar");
        assert_eq!(format_type(1042, None), "character");
        assert_eq!(format_type(1700, Some((12 << 16 | 2) + 4)), "numeric(12,2)");
        assert_eq!(format_type(1007, None), "integer[]");
        assert_eq!(format_type(99999, None), "???");
    }

    #[test]
    fn sizes_print_as_pg_size_pretty_does() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(8192), "8192 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(10 * 1024 * 1024), "10 MB");
        assert_eq!(size_pretty(20 * 1024 * 1024 - 1), "20 MB");
        assert_eq!(size_pretty(-10240), "-10 kB");
    }

    #[test]
    fn arrays_read_and_print_like_postgres() {
        assert_eq!(parse_array("{a,\"b c\",NULL}"), Some((vec![Some("a".into()), Some("b c".into()), None], 1)));
        assert_eq!(parse_array("{}"), Some((vec![], 1)));
        assert_eq!(parse_array("1 2"), Some((vec![Some("1".into()), Some("2".into())], 0)));
        assert_eq!(parse_array("{a"), None);
        assert_eq!(array_text(&[Some("=c/postgres".into()), Some("".into()), None]), "{=c/postgres,\"\",NULL}");
    }

    #[test]
    fn names_are_quoted_when_they_must_be() {
        assert_eq!(quote_ident("accounts"), "accounts");
        assert_eq!(quote_ident("Accounts"), "\"Accounts\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(split_qualified("public.\"My\"\"T\""), vec!["public".to_string(), "My\"T".to_string()]);
    }
}
