//! The executor: runs parsed statements against the tables, inside transactions.
//!
//! # Life of `UPDATE accounts SET balance = balance - 10 WHERE id = 1`
//!
//! ```text
//!   execute(db, session, sql)
//!     sqlparser (PostgreSqlDialect) ─▶ Statement::Update
//!     no transaction open?  begin an implicit one (autocommit)
//!     statement subtransaction: writes carry a fresh xid, so a statement that fails or has to
//!       wait for another transaction's row lock is undone by marking that one xid aborted
//!     snapshot: READ COMMITTED takes one now; REPEATABLE READ kept the first one
//!     scan the heap (mvcc::Heap::scan) ─▶ rows visible to the snapshot
//!       WHERE id = 1 ─▶ evaluate on each ─▶ new row ─▶ NOT NULL / UNIQUE checks
//!       Heap::update ─▶ Ok | Wait(xid) | Moved(newer version) | Deleted
//!         Wait:  undo the statement, return ExecError::Wait(xid); the connection waits for that
//!                transaction to end, then runs the statement again
//!         Moved: READ COMMITTED re-checks WHERE on the newest version (EvalPlanQual);
//!                REPEATABLE READ / SERIALIZABLE fail with 40001
//!     command tag "UPDATE 1"; autocommit commits
//! ```
//!
//! DDL (CREATE / DROP TABLE) takes effect at once and is not undone by ROLLBACK: a deliberate
//! simplification listed in protocol-spec/pg.md.

use std::collections::BTreeMap;

use sqlparser::ast::{
    self, BinaryOperator, ColumnOption, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName,
    ObjectNamePart, SelectItem, SetExpr, Statement, TableFactor, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::mvcc::{Ctid, Heap, Isolation, Snapshot, Transactions, Version, WriteOutcome, Xid};
use super::types::{parse_bool, Datum, SqlType};

mod bulk;
mod catalog;
mod constraints;
mod functions;
mod query;
mod ri;
mod typed;
mod upsert;
pub use bulk::CopyIn;
use query::{Aggs, Scope};

// ------------------------------------------------------------------------------------------------
// Errors and results.
// ------------------------------------------------------------------------------------------------

/// An error (or notice) as PostgreSQL reports it: SQLSTATE, message, optional detail and hint.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlError {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SqlError { severity: "ERROR", code, message: message.into(), detail: None, hint: None }
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    fn notice(severity: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        SqlError { severity, code, message: message.into(), detail: None, hint: None }
    }
}

#[derive(Debug)]
pub enum ExecError {
    Sql(SqlError),
    /// Another transaction holds a row this statement must change: wait for it to end, then run
    /// the statement again. The statement's own writes are already undone.
    Wait(Xid),
}

impl From<SqlError> for ExecError {
    fn from(e: SqlError) -> Self {
        ExecError::Sql(e)
    }
}

type R<T> = Result<T, ExecError>;

#[derive(Debug, Clone, PartialEq)]
pub struct OutColumn {
    pub name: String,
    pub ty: SqlType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Rows { columns: Vec<OutColumn>, rows: Vec<Vec<Datum>>, tag: String },
    Command(String),
    Empty,
}

// ------------------------------------------------------------------------------------------------
// Catalog.
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    /// `varchar(n)`: the most characters a value may have.
    pub max_len: Option<usize>,
    pub not_null: bool,
    pub default: Option<Expr>,
    /// `serial` / `bigserial`: the default is the table's sequence.
    pub serial: bool,
    /// The type as declared (`numeric(12,2)`, `char(8)`), for the catalogs' `format_type` and
    /// type modifiers; `None` for columns not made by CREATE TABLE or ALTER TABLE.
    pub declared: Option<DataType>,
}

impl Column {
    /// A column as CREATE TABLE or ALTER TABLE ... ADD COLUMN declares it, before its options
    /// (NOT NULL, DEFAULT, keys) are applied: a serial column is NOT NULL with its sequence.
    fn declared(c: &ast::ColumnDef) -> R<Column> {
        let (ty, max_len, serial) = column_type(&c.data_type)?;
        Ok(Column {
            name: ident(&c.name),
            ty,
            max_len,
            not_null: serial,
            default: None,
            serial,
            declared: Some(c.data_type.clone()),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Unique {
    pub name: String,
    pub columns: Vec<usize>,
    pub primary: bool,
    /// `DEFERRABLE`: checked at the end of the statement (or at COMMIT when deferred) rather
    /// than row by row, as PostgreSQL checks a deferrable unique index.
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// Made by CREATE UNIQUE INDEX: an index without a constraint of the same name.
    pub index_only: bool,
}

impl Unique {
    pub fn new(name: String, columns: Vec<usize>, primary: bool) -> Unique {
        Unique { name, columns, primary, deferrable: false, initially_deferred: false, index_only: false }
    }
}

pub type Row = Vec<Datum>;

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub uniques: Vec<Unique>,
    pub heap: Heap<Row>,
    pub sequence: i64,
    /// One hash index per unique constraint: key (as text) → every version ever written with it.
    /// Entries are only added; a lookup re-checks the version (it may have been vacuumed, undone
    /// or updated to another key), so stale entries cost a little time, never a wrong answer.
    pub index: Vec<std::collections::HashMap<Vec<String>, Vec<Ctid>>>,
}

impl Table {
    /// Records a new version in the unique indexes.
    fn index_add(&mut self, ctid: Ctid, row: &Row) {
        if self.index.len() < self.uniques.len() {
            self.index.resize_with(self.uniques.len(), Default::default);
        }
        for (u, idx) in self.uniques.iter().zip(self.index.iter_mut()) {
            let key: Option<Vec<String>> = u.columns.iter().map(|&i| row[i].to_text()).collect();
            if let Some(key) = key {
                idx.entry(key).or_default().push(ctid);
            }
        }
    }

    /// The versions that may hold `key` in unique constraint `u` (to be re-checked by the caller).
    fn candidates(&self, u: usize, key: &[String]) -> &[Ctid] {
        self.index.get(u).and_then(|m| m.get(key)).map(|v| v.as_slice()).unwrap_or(&[])
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// Everything shared by all sessions: transaction status and the tables.
#[derive(Debug)]
pub struct Database {
    pub tx: Transactions,
    pub tables: BTreeMap<String, Table>,
    /// The Bind parameters (`$1`, `$2`, ...) of the statement running now.
    pub params: Vec<Datum>,
    /// `pg_sleep(s)` asks the connection to sleep this long after the statement, with the
    /// database unlocked (so other sessions run) and cancellable.
    pub sleep_request: std::cell::Cell<Option<f64>>,
    /// The running statement's transaction: txid_current() and now() read it.
    pub current: Option<(Xid, std::time::SystemTime)>,
    /// Rows that SELECT ... SKIP LOCKED found locked, left out of its result.
    pub skip: std::collections::HashSet<(String, Ctid)>,
    /// The write-ahead log, when the store is durable (`None` under `--ephemeral`).
    pub wal: Option<super::wal::Wal>,
    /// SERIALIZABLE transactions that committed while others may still be running: their xid and
    /// the tables they read and wrote (see [`serializable_conflict`]).
    pub ssi_committed: Vec<(Xid, std::collections::BTreeSet<String>, std::collections::BTreeSet<String>)>,
    /// The running statement's writes, newest last, so that a statement that fails or has to
    /// wait can be taken back exactly (PostgreSQL would abort the transaction, or re-check rows
    /// while holding them; taking back is simpler and leaves xmin as PostgreSQL shows it).
    pub undo: Vec<(String, Ctid, Option<super::mvcc::Saved>)>,
    /// What the catalogs keep between statements: the OIDs given to relations (stable for the
    /// run), and the running catalog statement's user and database.
    pub catalog: std::cell::RefCell<catalog::State>,
    /// Per table: CHECK and FOREIGN KEY constraints and plain indexes (see `constraints`).
    pub constraints: BTreeMap<String, constraints::Constraints>,
    /// FOR KEY SHARE row locks taken by foreign key checks (see `ri`).
    pub key_locks: ri::KeyLocks,
    /// FOR SHARE row locks (see `ri`): several transactions may hold one on the same row.
    pub share_locks: ri::KeyLocks,
    /// Counts constraints as they are made, so that dependents are listed in creation order.
    pub constraint_seq: u64,
    /// Whether a synchronous COMMIT leaves its fsync to the connection, which waits for it with
    /// the database unlocked, so that concurrent commits share fsyncs (`wal` module, "Group
    /// commit"). Off, a COMMIT fsyncs here, under the lock (what unit tests and replay want).
    pub group_commit: bool,
    /// Transactions whose Commit record is written but not yet durable, with the LSN that must
    /// be flushed: each with its subtransactions, top-level last. They stay in progress —
    /// invisible to others, their row locks held — until the connection has waited for the
    /// flush and calls [`finish_commits`], as PostgreSQL makes a commit visible only after its
    /// record is flushed.
    pub awaiting_flush: Vec<(Vec<Xid>, super::wal::Lsn)>,
    /// Every xid of those commits, until they are made (a checkpoint counts them as committed).
    pub flushing: std::collections::HashSet<Xid>,
    /// The DDL records of the log, in order, from the first start on: a checkpoint writes them
    /// ahead of the rows, since the log that held them is let go.
    pub ddl_log: Vec<super::wal::WalEntry>,
    /// Checkpoint counters and settings (`sql::checkpoint`).
    pub checkpoints: super::checkpoint::Stats,
    /// `pg_stat_database`'s counters, by the database name the sessions connected with.
    pub db_stats: std::collections::HashMap<String, DbStats>,
    /// The sequence value last logged per table (see [`log_sequences`]).
    pub sequences_logged: std::collections::HashMap<String, i64>,
    /// What may interrupt the running statement: its `statement_timeout` deadline and the
    /// session's cancel flag (set by the connection around each statement).
    pub interrupts: Interrupts,
}

/// What `pg_stat_database` counts for one database: transactions that committed or rolled back
/// (read-only ones too, as PostgreSQL counts them), rows written, deadlocks detected.
#[derive(Debug, Default, Clone)]
pub struct DbStats {
    pub xact_commit: u64,
    pub xact_rollback: u64,
    pub tup_inserted: u64,
    pub tup_updated: u64,
    pub tup_deleted: u64,
    pub deadlocks: u64,
}

/// `database`'s counters, made on first use (without allocating the name on every row written).
pub(super) fn db_stats<'a>(db: &'a mut Database, database: &str) -> &'a mut DbStats {
    if !db.db_stats.contains_key(database) {
        db.db_stats.insert(database.to_string(), DbStats::default());
    }
    db.db_stats.get_mut(database).expect("just made")
}

/// Counts a transaction that ended for `database`'s `pg_stat_database` row: committed (or
/// committed and waiting for its WAL flush) or rolled back. Still running: not counted.
pub fn count_transaction_end(db: &mut Database, database: &str, top: Xid) {
    let committed = db.tx.status(top) == super::mvcc::Status::Committed || db.flushing.contains(&top);
    let aborted = !committed && !db.tx.is_active(top);
    let s = db.db_stats.entry(database.to_string()).or_default();
    if committed {
        s.xact_commit += 1;
    } else if aborted {
        s.xact_rollback += 1;
    }
}

/// The running statement's deadline and cancel flag, checked every [`INTERRUPT_CHECK_EVALS`]
/// expression evaluations (see [`Interrupts::check`]).
#[derive(Debug, Default)]
pub struct Interrupts {
    pub deadline: Option<std::time::Instant>,
    pub cancel: Option<std::sync::Arc<super::server::CancelFlag>>,
    evals: std::cell::Cell<u32>,
}

/// How many expression evaluations pass between two looks at the clock and the cancel flag.
/// Every row a statement reads, filters or computes evaluates at least one expression, so a
/// long statement looks often; a look per evaluation would cost a clock read each time.
const INTERRUPT_CHECK_EVALS: u32 = 4096;

impl Interrupts {
    /// PostgreSQL's CHECK_FOR_INTERRUPTS, here: 57014 once the deadline has passed or a cancel
    /// arrived, so that a statement busy computing (not only one waiting) stops, as in
    /// PostgreSQL, where `statement_timeout` and `pg_cancel_backend` interrupt any work.
    fn check(&self) -> R<()> {
        let n = self.evals.get().wrapping_add(1);
        self.evals.set(n);
        if n % INTERRUPT_CHECK_EVALS != 0 {
            return Ok(());
        }
        if self.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(SqlError::new("57014", "canceling statement due to statement timeout").into());
        }
        if self.cancel.as_ref().is_some_and(|c| c.is_requested()) {
            return Err(SqlError::new("57014", "canceling statement due to user request").into());
        }
        Ok(())
    }
}

impl Default for Database {
    fn default() -> Self {
        Database {
            tx: Transactions::new(),
            tables: BTreeMap::new(),
            params: Vec::new(),
            undo: Vec::new(),
            sleep_request: std::cell::Cell::new(None),
            current: None,
            skip: Default::default(),
            wal: None,
            ssi_committed: Vec::new(),
            catalog: Default::default(),
            constraints: BTreeMap::new(),
            key_locks: Default::default(),
            share_locks: Default::default(),
            constraint_seq: 0,
            group_commit: false,
            awaiting_flush: Vec::new(),
            flushing: Default::default(),
            ddl_log: Vec::new(),
            checkpoints: Default::default(),
            interrupts: Default::default(),
            sequences_logged: Default::default(),
            db_stats: Default::default(),
        }
    }
}

/// Ends the transactions of [`Database::awaiting_flush`] once the flush is done: committed when
/// it succeeded, aborted when it failed.
pub fn finish_commits(db: &mut Database, done: Vec<(Vec<Xid>, super::wal::Lsn)>, flushed: bool) {
    for (xids, _) in done {
        for x in xids {
            db.flushing.remove(&x);
            if flushed {
                db.tx.commit(x)
            } else {
                db.tx.abort(x)
            }
        }
    }
}

/// Marks a transaction (its subtransactions first, then `top`) committed, now or, when its
/// Commit record still has to be flushed, once the connection has waited for that.
fn commit_when_durable(db: &mut Database, mut xids: Vec<Xid>, top: Xid, flush: Option<super::wal::Lsn>) {
    xids.push(top);
    match flush {
        Some(lsn) => {
            db.flushing.extend(xids.iter().copied());
            db.awaiting_flush.push((xids, lsn))
        }
        None => xids.into_iter().for_each(|x| db.tx.commit(x)),
    }
}

// ------------------------------------------------------------------------------------------------
// Sessions and transactions.
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Txn {
    pub top: Xid,
    /// Our xids whose writes we see: the top level and live subtransactions.
    pub own: Vec<Xid>,
    /// Savepoints, innermost last, with the subtransaction each opened.
    pub savepoints: Vec<(String, Xid)>,
    pub cid: u32,
    pub isolation: Isolation,
    /// When the transaction began: what now() and current_timestamp return throughout it.
    pub started: std::time::SystemTime,
    /// The transaction's changes as WAL entries, with the (sub)transaction that made each: written
    /// to the log, followed by a Commit, when it commits; dropped when it (or the savepoint that
    /// made them) rolls back. Only committed work ever reaches the log, so replay needs no undo.
    pub wal: Vec<(Xid, super::wal::WalEntry)>,
    /// Tables read and written, for SERIALIZABLE's conflict check at COMMIT.
    pub reads: std::collections::BTreeSet<String>,
    pub writes: std::collections::BTreeSet<String>,
    /// The transaction's snapshot (REPEATABLE READ and SERIALIZABLE), taken at its first statement.
    pub snapshot: Option<Snapshot>,
    /// An error happened: only ROLLBACK (or ROLLBACK TO SAVEPOINT) is accepted.
    pub failed: bool,
    /// BEGIN was sent; otherwise the transaction lasts one statement.
    pub explicit: bool,
    /// Constraint checks deferred to COMMIT (or to SET CONSTRAINTS ... IMMEDIATE), with the
    /// (sub)transaction whose statement queued each: a rolled-back savepoint drops its own.
    pub deferred: Vec<(Xid, ri::Event)>,
    /// SET CONSTRAINTS: which deferrable constraints are deferred now.
    pub deferral: ri::Deferral,
}

impl Txn {
    /// A new top-level transaction: an implicit one (one statement, or one multi-statement
    /// Query) or an explicit block (BEGIN).
    fn begin(db: &mut Database, isolation: Isolation, explicit: bool) -> Txn {
        let top = db.tx.begin();
        Txn {
            wal: Vec::new(),
            reads: Default::default(),
            writes: Default::default(),
            started: std::time::SystemTime::now(),
            top,
            own: vec![top],
            savepoints: Vec::new(),
            cid: 0,
            isolation,
            snapshot: None,
            failed: false,
            explicit,
            deferred: Vec::new(),
            deferral: Default::default(),
        }
    }

    /// The xid new writes of the current savepoint level belong to.
    fn current(&self) -> Xid {
        self.savepoints.last().map(|s| s.1).unwrap_or(self.top)
    }
}

#[derive(Debug)]
pub struct Session {
    pub txn: Option<Txn>,
    pub default_isolation: Isolation,
    /// Warnings and notices produced by the last statement (sent before its result).
    pub notices: Vec<SqlError>,
    pub settings: BTreeMap<String, String>,
    /// A multi-statement simple Query is running: its statements share one implicit transaction,
    /// as in PostgreSQL.
    pub implicit_block: bool,
    /// An error the last statement raised after ending its transaction (a SERIALIZABLE COMMIT
    /// refused): the statement fails with it, and the session is idle.
    pub pending_error: Option<SqlError>,
    /// COPY FROM STDIN's rows, read by the connection and staged for the COPY statement it then
    /// executes (see [`bulk::copy_from`]).
    pub copy_in: Option<CopyIn>,
    /// The startup's user and database, as `current_user`, `current_database()` and the
    /// catalogs (`pg_database`, `pg_roles`) show them.
    pub user: String,
    pub database: String,
    /// The process id BackendKeyData gave the session: what `pg_backend_pid()` returns.
    pub pid: i32,
    /// Constraint checks the running statement queued (PostgreSQL's after-row triggers), run
    /// when it ends (see `ri`).
    pub ri_queue: std::collections::VecDeque<ri::Event>,
    /// The WAL is being replayed: DDL does not re-check the rows it was checked against.
    pub replaying: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            txn: None,
            default_isolation: Isolation::ReadCommitted,
            notices: Vec::new(),
            settings: BTreeMap::new(),
            implicit_block: false,
            pending_error: None,
            copy_in: None,
            user: "postgres".into(),
            database: "postgres".into(),
            pid: 0,
            ri_queue: Default::default(),
            replaying: false,
        }
    }
}

impl Session {
    /// ReadyForQuery's status byte: idle, in a transaction, or in a failed one.
    pub fn status(&self) -> u8 {
        match &self.txn {
            Some(t) if t.explicit && t.failed => b'E',
            Some(t) if t.explicit => b'T',
            _ => b'I',
        }
    }
}

fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::ReadUncommitted => "read uncommitted",
        Isolation::ReadCommitted => "read committed",
        Isolation::RepeatableRead => "repeatable read",
        Isolation::Serializable => "serializable",
    }
}

// ------------------------------------------------------------------------------------------------
// Entry point.
// ------------------------------------------------------------------------------------------------

/// Parses `sql` (one or more statements) with PostgreSQL's dialect.
/// The name `CHECKPOINT` travels under (see [`parse`]).
const CHECKPOINT_STATEMENT: &str = "checkpoint";

pub fn parse(sql: &str) -> Result<Vec<Statement>, SqlError> {
    // sqlparser does not know PostgreSQL's CHECKPOINT. Rather than patching the grammar, the
    // statement, which has no arguments, is recognised here and carried in the AST's closest
    // argument-less statement, SQLite's PRAGMA, which PostgreSQL's dialect never produces.
    if sql.trim().trim_end_matches(';').trim().eq_ignore_ascii_case("checkpoint") {
        let name = ast::ObjectName::from(vec![ast::Ident::new(CHECKPOINT_STATEMENT)]);
        return Ok(vec![Statement::Pragma { name, value: None, is_eq: false }]);
    }
    // sqlparser does not know SET CONSTRAINTS: it arrives as a SET of a variable of ours.
    let rewritten = ri::rewrite_set_constraints(sql);
    let sql = rewritten.as_deref().unwrap_or(sql);
    match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(v) => match v.iter().find_map(|st| match st {
            Statement::Query(q) => query::join_without_condition(q),
            _ => None,
        }) {
            Some(end) => Err(syntax_error_after(sql, end)),
            None => Ok(v),
        },
        Err(e) => match without_vacuum_options(sql) {
            // sqlparser knows `VACUUM [FULL] [table]` but not VERBOSE / ANALYZE / (options):
            // read those as the plain form (terrarium prints no VERBOSE report).
            Some(plain) => Parser::parse_sql(&PostgreSqlDialect {}, &plain).map_err(|_| syntax_error(&e.to_string())),
            None => Err(syntax_error(&e.to_string())),
        },
    }
}

fn without_vacuum_options(sql: &str) -> Option<String> {
    let t = sql.trim().trim_end_matches(';').trim();
    if t.len() < 6 || !t[..6].eq_ignore_ascii_case("vacuum") {
        return None;
    }
    let mut rest = t[6..].trim_start();
    if rest.starts_with('(') {
        rest = rest[rest.find(')')? + 1..].trim_start();
    }
    let words: Vec<&str> = rest
        .split_whitespace()
        .filter(|w| !["verbose", "analyze", "analyse", "freeze"].contains(&w.to_ascii_lowercase().as_str()))
        .collect();
    Some(format!("VACUUM {}", words.join(" ")))
}

/// The syntax error PostgreSQL reports at the token after `end` (a line and a column, both
/// counted from 1, as sqlparser places its spans).
fn syntax_error_after(sql: &str, loc: sqlparser::tokenizer::Location) -> SqlError {
    let (mut line, mut col) = (1u64, 1u64);
    let mut offset = sql.len();
    for (i, c) in sql.char_indices() {
        if line == loc.line && col == loc.column {
            offset = i;
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    let rest = sql[offset..].trim_start();
    let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let token = if word.is_empty() { rest.chars().next().map(String::from).unwrap_or_default() } else { word };
    if token.is_empty() {
        SqlError::new("42601", "syntax error at end of input")
    } else {
        SqlError::new("42601", format!("syntax error at or near \"{token}\""))
    }
}

/// PostgreSQL's wording for a parse error: `syntax error at or near "x"` or `... at end of input`.
fn syntax_error(msg: &str) -> SqlError {
    if let Some(rest) = msg.split("found: ").nth(1) {
        let token = rest.split(" at Line").next().unwrap_or(rest).trim();
        if token == "EOF" {
            return SqlError::new("42601", "syntax error at end of input");
        }
        return SqlError::new("42601", format!("syntax error at or near \"{}\"", token.trim_matches('\'')));
    }
    SqlError::new("42601", format!("syntax error: {msg}"))
}

/// Runs one parsed statement in `sess`, managing implicit transactions and failed blocks.
pub fn execute(db: &mut Database, sess: &mut Session, stmt: &Statement) -> Result<Output, ExecError> {
    // The transaction the statement ends, if it ends one, is counted for pg_stat_database: the
    // block it was in, or the implicit one it ran in (the next xid when it started none).
    let (top_before, next_before) = (sess.txn.as_ref().map(|t| t.top), db.tx.next_xid());
    let r = execute_statement(db, sess, stmt);
    let top_after = sess.txn.as_ref().map(|t| t.top);
    let ended = match (top_before, top_after) {
        (Some(t), after) if after != Some(t) => Some(t),
        (None, None) if db.tx.next_xid() > next_before => Some(next_before),
        _ => None,
    };
    // A statement that must wait gave its implicit transaction up only to run again.
    if let (Some(t), false) = (ended, matches!(r, Err(ExecError::Wait(_)))) {
        let database = sess.database.clone();
        count_transaction_end(db, &database, t);
    }
    r
}

fn execute_statement(db: &mut Database, sess: &mut Session, stmt: &Statement) -> Result<Output, ExecError> {
    sess.notices.clear();
    // Transaction control runs even in a failed block.
    match stmt {
        Statement::StartTransaction { modes, begin: is_begin, .. } => {
            let tag = if *is_begin { "BEGIN" } else { "START TRANSACTION" };
            return begin(db, sess, modes).map(|_| Output::Command(tag.into()));
        }
        Statement::Commit { .. } => {
            // Deferred constraints are checked first: a lock wait runs COMMIT again, a
            // violation ends the transaction (COMMIT answers the error; the session is idle).
            db.current = sess.txn.as_ref().map(|t| (t.top, t.started));
            let checked = ri::before_commit(db, sess);
            db.current = None;
            match checked {
                Err(ExecError::Wait(x)) => return Err(ExecError::Wait(x)),
                Err(ExecError::Sql(e)) => {
                    rollback(db, sess);
                    sess.notices.clear();
                    return Err(e.into());
                }
                Ok(()) => {}
            }
            let out = commit(db, sess);
            if let Some(e) = sess.pending_error.take() {
                return Err(e.into());
            }
            return Ok(out);
        }
        Statement::Rollback { savepoint: None, .. } => return Ok(rollback(db, sess)),
        Statement::Rollback { savepoint: Some(name), .. } => return rollback_to(db, sess, &name.value),
        _ => {}
    }
    if let Some(t) = &sess.txn {
        if t.failed {
            return Err(SqlError::new(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            )
            .into());
        }
    }
    let implicit = sess.txn.is_none();
    if implicit {
        sess.txn = Some(Txn::begin(db, sess.default_isolation, false));
    }
    db.current = sess.txn.as_ref().map(|t| (t.top, t.started));
    let mut result = run_statement(db, sess, stmt);
    if result.is_ok() && implicit && !sess.implicit_block {
        // A single statement's own transaction: its deferred constraints are checked now.
        if let Err(e) = ri::before_commit(db, sess) {
            result = Err(e);
        }
    }
    db.current = None;
    let txn = sess.txn.as_mut().expect("transaction open");
    txn.cid += 1;
    // In a multi-statement Query the implicit transaction spans the whole string: the connection
    // ends it (`end_implicit_block`), except that an error or a lock wait ends it here.
    let in_block = sess.implicit_block && !txn.explicit;
    // A lock wait inside the block undoes only the statement (already done), which then runs again.
    let keep = in_block && matches!(result, Ok(_) | Err(ExecError::Wait(_)));
    if (implicit || in_block) && !keep {
        let top = txn.top;
        let entries = std::mem::take(&mut txn.wal);
        sess.txn = None;
        match &result {
            Ok(_) => match log_commit(db, top, entries, synchronous(sess)) {
                Ok(flush) => commit_when_durable(db, Vec::new(), top, flush),
                Err(e) => {
                    db.tx.abort(top);
                    return Err(e.into());
                }
            },
            Err(_) => db.tx.abort(top),
        }
    } else if let Err(ExecError::Sql(_)) = &result {
        fail_block(db, sess);
    }
    result
}

/// Ends a multi-statement Query's implicit transaction: committed if it is still implicit (a
/// BEGIN in the string made it an explicit block, which lives on).
pub fn end_implicit_block(db: &mut Database, sess: &mut Session) -> Option<SqlError> {
    sess.implicit_block = false;
    if sess.txn.as_ref().is_some_and(|t| !t.explicit) {
        // Deferred constraints are checked at the block's end. A lock wait cannot be had here
        // (the connection holds the database): it counts as a failure to get the lock.
        if let Err(e) = ri::before_commit(db, sess) {
            rollback(db, sess);
            return Some(match e {
                ExecError::Sql(e) => e,
                ExecError::Wait(_) => SqlError::new("55P03", "could not obtain lock for a deferred constraint check"),
            });
        }
        let t = sess.txn.take().expect("checked");
        match log_commit(db, t.top, t.wal, synchronous(sess)) {
            Ok(flush) => commit_when_durable(db, Vec::new(), t.top, flush),
            Err(e) => {
                db.tx.abort(t.top);
                sess.notices.push(e);
            }
        }
    }
    None
}

/// REPEATABLE READ and SERIALIZABLE's answer when the row a statement must change was changed
/// (`what` = "update") or deleted ("delete") by a transaction that committed after the snapshot.
pub(super) fn concurrent_change_error(what: &str) -> SqlError {
    SqlError::new("40001", format!("could not serialize access due to concurrent {what}"))
}

/// Whether this session's commits wait for the WAL to be durable: `synchronous_commit` is `on`
/// unless set to `off` (or a boolean false). `local`, `remote_write` and `remote_apply` mean `on`
/// on a server without standbys, as in PostgreSQL.
fn synchronous(sess: &Session) -> bool {
    !matches!(
        sess.settings.get("synchronous_commit").map(|v| v.trim_matches('\'').to_ascii_lowercase()).as_deref(),
        Some("off" | "false" | "no" | "0")
    )
}

/// Writes a committing transaction's changes and its Commit record to the WAL, durably when
/// `synchronous_commit` is on (the default): COMMIT is acknowledged only once they are fsynced,
/// so whatever a client saw committed survives a crash. Nothing is written for a read-only
/// transaction. With [`Database::group_commit`] the records are only written here and the LSN to
/// flush is returned: the connection waits for the fsync with the database unlocked, sharing it
/// with the commits that arrive meanwhile.
///
/// With `sync` false (`synchronous_commit = off`) the records are handed to the operating system
/// but not fsynced, and COMMIT returns at once: a crash of terrarium's process loses nothing (the
/// OS has the bytes), a crash of the machine may lose the last commits, as in PostgreSQL. The
/// next synchronous commit fsyncs everything written before it.
fn log_commit(
    db: &mut Database,
    top: Xid,
    entries: Vec<(Xid, super::wal::WalEntry)>,
    sync: bool,
) -> Result<Option<super::wal::Lsn>, SqlError> {
    let group = db.group_commit;
    if db.wal.is_none() || entries.is_empty() {
        return Ok(None);
    }
    let io = |e: std::io::Error| SqlError::new("58030", format!("could not write to WAL: {e}"));
    log_sequences(db).map_err(io)?;
    let wal = db.wal.as_mut().expect("checked above");
    for (_, e) in &entries {
        wal.append(&e.encode()).map_err(io)?;
    }
    wal.append(&super::wal::WalEntry::Commit { xid: top }.encode()).map_err(io)?;
    if sync && group && wal.group().is_some() {
        let end = wal.flush(false).map_err(io)?;
        return Ok((wal.flushed_lsn() < end).then_some(end));
    }
    wal.flush(sync).map_err(io)?;
    Ok(None)
}

/// Logs the serial sequences that moved since they were last logged, ahead of a commit's records:
/// a committed row never carries a value the log does not know was handed out, so a restart
/// never hands it out again, even if the row was deleted since (replay alone would restart after
/// the largest value left in the table). Values taken by transactions that rolled back are
/// logged with the next commit; PostgreSQL instead logs 32 values ahead.
pub(super) fn log_sequences(db: &mut Database) -> std::io::Result<()> {
    let moved: Vec<(String, i64)> = db
        .tables
        .iter()
        .filter(|(name, t)| t.sequence > db.sequences_logged.get(*name).copied().unwrap_or(0))
        .map(|(name, t)| (name.clone(), t.sequence))
        .collect();
    let Some(wal) = db.wal.as_mut() else { return Ok(()) };
    for (table, value) in moved {
        wal.append(&super::wal::WalEntry::Sequence { table: table.clone(), value }.encode())?;
        db.sequences_logged.insert(table, value);
    }
    Ok(())
}

/// SERIALIZABLE, simplified: a transaction may not commit if a concurrent SERIALIZABLE
/// transaction that already committed wrote a table this one read, while this one wrote a table
/// that one read. That pair of read/write dependencies is the shape of write skew (two doctors
/// each seeing the other on call, each going off) and of double booking; PostgreSQL's SSI finds
/// it per row (predicate locks), terrarium per table, so it aborts more often than PostgreSQL,
/// never less. ("Concurrent": the other committed after this one's snapshot was taken.)
fn serializable_conflict(db: &mut Database, t: &Txn) -> bool {
    let Some(snap) = &t.snapshot else { return false };
    // When nothing else runs, no later transaction can be concurrent with what committed before.
    if db.tx.horizon() == db.tx.next_xid() || db.tx.horizon() == t.top {
        let oldest_other = db.ssi_committed.iter().map(|e| e.0).min();
        if oldest_other.is_some_and(|x| x < snap.xmin) {
            db.ssi_committed.retain(|(x, _, _)| *x >= snap.xmin);
        }
    }
    db.ssi_committed.iter().any(|(u, reads, writes)| {
        let concurrent = *u >= snap.xmax || snap.xip.binary_search(u).is_ok();
        concurrent && !t.reads.is_disjoint(writes) && !reads.is_disjoint(&t.writes)
    })
}

/// Adds a change to the running transaction's WAL entries (written at COMMIT).
fn log_change(sess: &mut Session, xid: Xid, entry: super::wal::WalEntry) {
    if let Some(t) = sess.txn.as_mut() {
        t.wal.push((xid, entry));
    }
}

fn note_read(sess: &mut Session, table: &str) {
    if let Some(t) = sess.txn.as_mut().filter(|t| t.isolation == Isolation::Serializable) {
        t.reads.insert(table.to_string());
    }
}

fn note_write(sess: &mut Session, table: &str) {
    if let Some(t) = sess.txn.as_mut().filter(|t| t.isolation == Isolation::Serializable) {
        t.writes.insert(table.to_string());
    }
}

/// DDL is not transactional here: it is logged, durably, as it happens.
fn log_ddl(db: &mut Database, entry: super::wal::WalEntry) -> Result<(), SqlError> {
    let Some(wal) = db.wal.as_mut() else { return Ok(()) };
    let io = |e: std::io::Error| SqlError::new("58030", format!("could not write to WAL: {e}"));
    wal.append(&entry.encode()).map_err(io)?;
    wal.flush(true).map_err(io)?;
    db.ddl_log.push(entry);
    Ok(())
}

/// Rebuilds the tables from the log at start-up: DDL in order, and each committed transaction's
/// changes at its Commit record (a transaction without one, cut by a crash, is dropped). Versions
/// come back as written by the bootstrap transaction (xid 1), committed and visible to all; a
/// change that names a row by its old place is mapped to the place replay gave it.
pub fn replay(db: &mut Database, records: &[super::wal::Record]) -> Result<usize, String> {
    use super::wal::WalEntry;
    let mut pending: Vec<WalEntry> = Vec::new();
    let mut places: std::collections::HashMap<(String, u32), Ctid> = std::collections::HashMap::new();
    let mut applied = 0;
    let mut sess = Session { replaying: true, ..Session::default() };
    for rec in records {
        let entry = WalEntry::decode(&rec.payload).map_err(|e| format!("WAL record at {}: {e}", rec.lsn))?;
        if let WalEntry::CreateTable { .. } | WalEntry::DropTable { .. } = entry {
            db.ddl_log.push(entry.clone());
        }
        match entry {
            WalEntry::Checkpoint { .. } => {}
            WalEntry::Sequence { table, value } => {
                if let Some(t) = db.tables.get_mut(&table) {
                    t.sequence = t.sequence.max(value);
                }
                db.sequences_logged.insert(table, value);
            }
            WalEntry::CreateTable { sql, .. } => {
                let stmts = parse(&sql).map_err(|e| e.message)?;
                // The record carries any DDL statement's text (CREATE TABLE, ALTER TABLE).
                match stmts.first() {
                    Some(Statement::CreateTable(ct)) => {
                        create_table(db, &mut sess, ct).map_err(|_| format!("replaying {sql}"))?;
                    }
                    Some(Statement::AlterTable(at)) => {
                        alter_table(db, &mut sess, at).map_err(|_| format!("replaying {sql}"))?;
                    }
                    // CREATE INDEX and DROP INDEX are logged the same way.
                    Some(Statement::CreateIndex(ci)) => {
                        constraints::create_index(db, &mut sess, ci).map_err(|_| format!("replaying {sql}"))?;
                    }
                    Some(Statement::Drop { object_type: ast::ObjectType::Index, names, cascade, .. }) => {
                        constraints::drop_index(db, &mut sess, names, true, *cascade)
                            .map_err(|_| format!("replaying {sql}"))?;
                    }
                    _ => {}
                }
            }
            WalEntry::DropTable { name } => {
                db.tables.remove(&name);
                constraints::forget_table(db, &name);
            }
            WalEntry::Begin { .. } => {}
            WalEntry::Abort { .. } => pending.clear(),
            WalEntry::Commit { .. } => {
                for e in pending.drain(..) {
                    apply(db, e, &mut places);
                }
                applied += 1;
            }
            other => pending.push(other),
        }
    }
    // Sequences continue after the largest value a serial column holds.
    for t in db.tables.values_mut() {
        let serials: Vec<usize> = t.columns.iter().enumerate().filter(|(_, c)| c.serial).map(|(i, _)| i).collect();
        for (_, v) in t.heap.all() {
            for &i in &serials {
                if let Datum::Int(n) = v.row[i] {
                    t.sequence = t.sequence.max(n);
                }
            }
        }
    }
    Ok(applied)
}

fn apply(db: &mut Database, e: super::wal::WalEntry, places: &mut std::collections::HashMap<(String, u32), Ctid>) {
    use super::wal::WalEntry;
    const BOOTSTRAP: Xid = 1;
    match e {
        WalEntry::Insert { table, ctid, row, .. } => {
            let Some(t) = db.tables.get_mut(&table) else { return };
            let datums: Row = row
                .into_iter()
                .zip(t.columns.iter())
                .map(|(d, c)| match d {
                    None => Datum::Null,
                    Some(b) => {
                        let text = String::from_utf8_lossy(&b).into_owned();
                        match c.ty {
                            SqlType::Numeric => Datum::Numeric(text),
                            ty => coerce(Datum::Text(text), ty, None, None).unwrap_or(Datum::Null),
                        }
                    }
                })
                .collect();
            let new = t.heap.insert(BOOTSTRAP, 0, datums);
            constraints::index_row(db, &table, new);
            places.insert((table, ctid.0), new);
        }
        WalEntry::Delete { table, ctid, .. } | WalEntry::Update { table, ctid, .. } => {
            let Some(&at) = places.get(&(table.clone(), ctid.0)) else { return };
            let tx = &db.tx;
            if let Some(t) = db.tables.get_mut(&table) {
                t.heap.delete(tx, at, BOOTSTRAP, 0, &[BOOTSTRAP]);
            }
        }
        _ => {}
    }
}

/// A statement failed inside a transaction block: only ROLLBACK (or ROLLBACK TO a savepoint) is
/// accepted from now on. Outside any savepoint PostgreSQL aborts the transaction at once and
/// keeps only the block's state for the client, so its row locks go now and the sessions waiting
/// for them carry on before the client gets round to ROLLBACK; so does terrarium. Inside a
/// savepoint the transaction lives on for ROLLBACK TO, and keeps its locks.
pub fn fail_block(db: &mut Database, sess: &mut Session) {
    if let Some(t) = sess.txn.as_mut() {
        t.failed = true;
        if t.savepoints.is_empty() {
            db.tx.abort(t.top);
        }
    }
}

fn begin(db: &mut Database, sess: &mut Session, modes: &[ast::TransactionMode]) -> R<Output> {
    let mut isolation = sess.default_isolation;
    for m in modes {
        if let ast::TransactionMode::IsolationLevel(l) = m {
            isolation = match l {
                ast::TransactionIsolationLevel::ReadUncommitted => Isolation::ReadUncommitted,
                ast::TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
                ast::TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
                _ => Isolation::Serializable,
            };
        }
    }
    if let Some(t) = sess.txn.as_mut().filter(|t| !t.explicit && sess.implicit_block) {
        // BEGIN inside a multi-statement Query turns its implicit transaction into a block.
        t.explicit = true;
        t.isolation = isolation;
        return Ok(Output::Command("BEGIN".into()));
    }
    if sess.txn.is_some() {
        sess.notices.push(SqlError::notice("WARNING", "25001", "there is already a transaction in progress"));
        return Ok(Output::Command("BEGIN".into()));
    }
    sess.txn = Some(Txn::begin(db, isolation, true));
    Ok(Output::Command("BEGIN".into()))
}

fn commit(db: &mut Database, sess: &mut Session) -> Output {
    match sess.txn.take() {
        None => {
            sess.notices.push(SqlError::notice("WARNING", "25P01", "there is no transaction in progress"));
            Output::Command("COMMIT".into())
        }
        Some(t) if t.failed => {
            db.tx.abort(t.top);
            Output::Command("ROLLBACK".into())
        }
        Some(t) if t.isolation == Isolation::Serializable && serializable_conflict(db, &t) => {
            for (_, sp) in &t.savepoints {
                db.tx.abort(*sp);
            }
            db.tx.abort(t.top);
            sess.pending_error = Some(
                SqlError::new("40001", "could not serialize access due to read/write dependencies among transactions")
                    .detail("Reason code: Canceled on identification as a pivot, during commit attempt.")
                    .hint("The transaction might succeed if retried."),
            );
            Output::Command("ROLLBACK".into())
        }
        Some(t) => {
            if t.isolation == Isolation::Serializable && !t.writes.is_empty() {
                db.ssi_committed.push((t.top, t.reads.clone(), t.writes.clone()));
            }
            match log_commit(db, t.top, t.wal, synchronous(sess)) {
                Ok(flush) => {
                    let subs = t.savepoints.iter().map(|(_, sp)| *sp).collect();
                    commit_when_durable(db, subs, t.top, flush);
                    Output::Command("COMMIT".into())
                }
                Err(e) => {
                    for (_, sp) in &t.savepoints {
                        db.tx.abort(*sp);
                    }
                    db.tx.abort(t.top);
                    sess.notices.push(SqlError { severity: "WARNING", ..e });
                    Output::Command("ROLLBACK".into())
                }
            }
        }
    }
}

fn rollback(db: &mut Database, sess: &mut Session) -> Output {
    match sess.txn.take() {
        None => {
            sess.notices.push(SqlError::notice("WARNING", "25P01", "there is no transaction in progress"));
        }
        Some(t) => {
            for (_, sp) in &t.savepoints {
                db.tx.abort(*sp);
            }
            db.tx.abort(t.top);
        }
    }
    Output::Command("ROLLBACK".into())
}

fn rollback_to(db: &mut Database, sess: &mut Session, name: &str) -> R<Output> {
    let Some(t) = sess.txn.as_mut().filter(|t| t.explicit) else {
        return Err(SqlError::new("25P01", "ROLLBACK TO SAVEPOINT can only be used in transaction blocks").into());
    };
    let Some(pos) = t.savepoints.iter().rposition(|(n, _)| n == name) else {
        return Err(SqlError::new("3B001", format!("savepoint \"{name}\" does not exist")).into());
    };
    // Everything written since the savepoint goes; the savepoint itself stays, as in PostgreSQL.
    for (_, sp) in t.savepoints.drain(pos..) {
        db.tx.abort(sp);
        t.own.retain(|x| *x != sp);
        t.wal.retain(|(x, _)| *x != sp);
        t.deferred.retain(|(x, _)| *x != sp);
    }
    let parent = t.current();
    let sp = db.tx.begin_sub(parent);
    t.savepoints.push((name.to_string(), sp));
    t.own.push(sp);
    t.failed = false;
    Ok(Output::Command("ROLLBACK".into()))
}

fn run_statement(db: &mut Database, sess: &mut Session, stmt: &Statement) -> R<Output> {
    match stmt {
        Statement::Savepoint { name } => {
            let t = sess.txn.as_mut().expect("open");
            if !t.explicit {
                return Err(SqlError::new("25P01", "SAVEPOINT can only be used in transaction blocks").into());
            }
            let sp = db.tx.begin_sub(t.current());
            t.savepoints.push((name.value.clone(), sp));
            t.own.push(sp);
            Ok(Output::Command("SAVEPOINT".into()))
        }
        Statement::ReleaseSavepoint { name } => {
            let t = sess.txn.as_mut().expect("open");
            if !t.explicit {
                return Err(SqlError::new("25P01", "RELEASE SAVEPOINT can only be used in transaction blocks").into());
            }
            let Some(pos) = t.savepoints.iter().rposition(|(n, _)| *n == name.value) else {
                return Err(SqlError::new("3B001", format!("savepoint \"{}\" does not exist", name.value)).into());
            };
            // Released subtransactions commit into their parent: their writes stay ours, and
            // go with the parent if it is rolled back later.
            let released: Vec<Xid> = t.savepoints.drain(pos..).map(|(_, sp)| sp).collect();
            let parent = t.current();
            for sp in &released {
                db.tx.commit(*sp);
            }
            for (x, _) in t.wal.iter_mut() {
                if released.contains(x) {
                    *x = parent;
                }
            }
            for (x, _) in t.deferred.iter_mut() {
                if released.contains(x) {
                    *x = parent;
                }
            }
            Ok(Output::Command("RELEASE".into()))
        }
        // The connection drops its prepared statements (sql::engine); here only the tag.
        Statement::Deallocate { name, .. } if name.value.eq_ignore_ascii_case("all") => {
            Ok(Output::Command("DEALLOCATE ALL".into()))
        }
        Statement::Deallocate { .. } => Ok(Output::Command("DEALLOCATE".into())),
        Statement::CreateTable(ct) => create_table(db, sess, ct),
        Statement::AlterTable(at) => alter_table(db, sess, at),
        Statement::CreateIndex(ci) => constraints::create_index(db, sess, ci),
        Statement::Drop { object_type: ast::ObjectType::Index, if_exists, names, cascade, .. } => {
            constraints::drop_index(db, sess, names, *if_exists, *cascade)
        }
        Statement::Copy { to: false, .. } => {
            in_statement_xact(db, sess, |db, sess, xid| bulk::copy_from(db, sess, xid))
        }
        // CHECKPOINT (see `parse`), allowed inside a transaction block as in PostgreSQL.
        Statement::Pragma { name, .. } if object_name(name) == CHECKPOINT_STATEMENT => {
            super::checkpoint::run(db, super::checkpoint::Cause::Requested)
                .map_err(|e| SqlError::new("58030", format!("could not write checkpoint: {e}")))?;
            Ok(Output::Command("CHECKPOINT".into()))
        }
        Statement::Vacuum(v) => {
            let t = sess.txn.as_ref().expect("open");
            if t.explicit || sess.implicit_block {
                return Err(SqlError::new("25001", "VACUUM cannot run inside a transaction block").into());
            }
            let names: Vec<String> = match &v.table_name {
                Some(n) => {
                    let name = object_name(n);
                    if !db.tables.contains_key(&name) {
                        return Err(SqlError::new("42P01", format!("relation \"{name}\" does not exist")).into());
                    }
                    vec![name]
                }
                None => db.tables.keys().cloned().collect(),
            };
            for name in names {
                let tx = &db.tx;
                if let Some(table) = db.tables.get_mut(&name) {
                    table.heap.vacuum(tx);
                }
            }
            ri::prune_key_locks(db);
            Ok(Output::Command("VACUUM".into()))
        }
        Statement::Drop { object_type: ast::ObjectType::Table, if_exists, names, cascade, .. } => {
            // All or nothing: a missing table stops the statement before anything is dropped.
            if !*if_exists {
                if let Some(name) = names.iter().map(object_name).find(|n| !db.tables.contains_key(n)) {
                    return Err(SqlError::new("42P01", format!("table \"{name}\" does not exist")).into());
                }
            }
            // Foreign keys of other tables referencing these: 2BP01, or dropped with CASCADE.
            let dropping: Vec<String> = names.iter().map(object_name).filter(|n| db.tables.contains_key(n)).collect();
            constraints::drop_table_dependents(db, sess, &dropping, *cascade)?;
            for n in names {
                let name = object_name(n);
                if db.tables.contains_key(&name) {
                    log_ddl(db, super::wal::WalEntry::DropTable { name: name.clone() })?;
                    constraints::forget_table(db, &name);
                }
                if db.tables.remove(&name).is_none() {
                    if *if_exists {
                        sess.notices.push(SqlError::notice(
                            "NOTICE",
                            "00000",
                            format!("table \"{name}\" does not exist, skipping"),
                        ));
                    } else {
                        return Err(SqlError::new("42P01", format!("table \"{name}\" does not exist")).into());
                    }
                }
            }
            Ok(Output::Command("DROP TABLE".into()))
        }
        Statement::Insert(ins) => in_statement_xact(db, sess, |db, sess, xid| insert(db, sess, ins, xid)),
        Statement::Update(up) => in_statement_xact(db, sess, |db, sess, xid| update(db, sess, up, xid)),
        Statement::Delete(del) => in_statement_xact(db, sess, |db, sess, xid| delete(db, sess, del, xid)),
        // TRUNCATE removes every row, transactionally: here as a DELETE without WHERE on each table
        // (PostgreSQL swaps in a new empty file instead, which is also why it takes a table lock).
        Statement::Truncate(tr) => in_statement_xact(db, sess, |db, sess, xid| {
            let mut names: Vec<String> = tr.table_names.iter().map(|t| object_name(&t.name)).collect();
            if let Some(missing) = names.iter().find(|n| !db.tables.contains_key(*n)) {
                return Err(SqlError::new("42P01", format!("relation \"{missing}\" does not exist")).into());
            }
            let cascade = matches!(tr.cascade, Some(ast::CascadeOption::Cascade));
            constraints::truncate_targets(db, sess, &mut names, cascade)?;
            for name in &names {
                modify(db, sess, name, None, None, &Change::Delete, xid)?;
            }
            // TRUNCATE fires no row triggers, so no foreign key checks or actions either.
            sess.ri_queue.clear();
            Ok(Output::Command("TRUNCATE TABLE".into()))
        }),
        Statement::Query(q) if !q.locks.is_empty() => in_statement_xact(db, sess, |db, sess, xid| {
            let r = lock_rows(db, sess, q, xid).and_then(|_| select(db, sess, q));
            db.skip.clear();
            r
        }),
        Statement::Query(q) if catalog::uses(q.as_ref()).is_some() => catalog::run_query(db, sess, q, |db, sess| {
            let stat = mentions_stat_view(q);
            if stat {
                materialize_stat_view(db);
            }
            let r = select(db, sess, q);
            if stat {
                db.tables.remove(STAT_VIEW);
            }
            r
        }),
        Statement::Query(q) if mentions_stat_view(q) => {
            materialize_stat_view(db);
            let r = select(db, sess, q);
            db.tables.remove(STAT_VIEW);
            r
        }
        Statement::Query(q) => select(db, sess, q),
        Statement::ShowVariable { variable } => show(sess, variable),
        Statement::Set(ast::Set::SingleAssignment { variable, values, .. })
            if object_name(variable) == ri::SET_CONSTRAINTS_VARIABLE =>
        {
            let values: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    other => other.to_string(),
                })
                .collect();
            ri::set_constraints(db, sess, &values)
        }
        Statement::Set(set) => set_statement(sess, set),
        Statement::Reset(r) => {
            let name = match &r.reset {
                ast::Reset::ConfigurationParameter(n) => Some(object_name(n)),
                _ => None,
            };
            super::guc::reset(sess, name.as_deref());
            Ok(Output::Command("RESET".into()))
        }
        other => Err(SqlError::new(
            "0A000",
            format!("terrarium does not support this statement yet: {}", first_words(&other.to_string())),
        )
        .into()),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Runs a writing statement with the transaction's current xid (the top level, or the innermost
/// savepoint's), recording each write so that an error or a lock wait takes back exactly this
/// statement's changes (the statement is then reported failed, or run again).
fn in_statement_xact(
    db: &mut Database,
    sess: &mut Session,
    f: impl FnOnce(&mut Database, &mut Session, Xid) -> R<Output>,
) -> R<Output> {
    let xid = sess.txn.as_ref().expect("open").current();
    db.undo.clear();
    sess.ri_queue.clear();
    let t = sess.txn.as_ref().expect("open");
    let (mark, deferred_mark) = (t.wal.len(), t.deferred.len());
    // The statement's constraint checks run when its own work is done (see `ri`).
    let r = f(db, sess, xid).and_then(|out| ri::end_of_statement(db, sess).map(|_| out));
    sess.ri_queue.clear();
    if r.is_err() {
        if let Some(t) = sess.txn.as_mut() {
            t.wal.truncate(mark);
            t.deferred.truncate(deferred_mark);
        }
        let undo = std::mem::take(&mut db.undo);
        for (table, ctid, saved) in undo.into_iter().rev() {
            if let Some(t) = db.tables.get_mut(&table) {
                t.heap.undo(ctid, saved);
            }
        }
    }
    db.undo.clear();
    r
}

/// The snapshot the current statement reads with.
fn snapshot(db: &mut Database, sess: &mut Session) -> Snapshot {
    let t = sess.txn.as_mut().expect("open");
    let mut s = match (&t.snapshot, t.isolation.transaction_snapshot()) {
        (Some(s), true) => s.clone(),
        _ => db.tx.snapshot(t.own.clone(), t.cid),
    };
    s.own = t.own.clone();
    s.curcid = t.cid;
    if t.isolation.transaction_snapshot() && t.snapshot.is_none() {
        t.snapshot = Some(s.clone());
    }
    s
}

/// What a session's setting is, as SHOW and `current_setting()` answer it: the values kept
/// outside the settings map (isolation levels, version, user), then the session's SET or startup
/// value, then the defaults (`guc`, then the `pg_settings` table). `None`: no such setting.
pub(super) fn setting_value(
    settings: &std::collections::BTreeMap<String, String>,
    isolation: (Isolation, Isolation),
    user: &str,
    name: &str,
) -> Option<String> {
    Some(match name {
        "transaction_isolation" | "transaction isolation level" => isolation_name(isolation.0).to_string(),
        "default_transaction_isolation" => isolation_name(isolation.1).to_string(),
        "server_version" => super::server::SERVER_VERSION.to_string(),
        "server_version_num" => super::server::SERVER_VERSION_NUM.to_string(),
        // Reported at startup but not in pg_settings: the bootstrap superuser is every session's.
        "is_superuser" => "on".to_string(),
        "session_authorization" => user.to_string(),
        other => settings
            .get(other)
            .map(String::as_str)
            .or(super::guc::default_value(other))
            .or(catalog::wal::show(other))?
            .to_string(),
    })
}

fn show(sess: &Session, variable: &[ast::Ident]) -> R<Output> {
    let name = variable.iter().map(|i| i.value.to_lowercase()).collect::<Vec<_>>().join(" ");
    let running = sess.txn.as_ref().map(|t| t.isolation).unwrap_or(sess.default_isolation);
    let value =
        setting_value(&sess.settings, (running, sess.default_isolation), &sess.user, &name).ok_or_else(|| {
            ExecError::from(SqlError::new("42704", format!("unrecognized configuration parameter \"{name}\"")))
        })?;
    let col = catalog::wal::canonical(&name).map(str::to_string).unwrap_or_else(|| name.replace(' ', "_"));
    Ok(Output::Rows {
        columns: vec![OutColumn { name: col, ty: SqlType::Text }],
        rows: vec![vec![Datum::Text(value)]],
        tag: "SHOW".into(),
    })
}

fn set_statement(sess: &mut Session, set: &ast::Set) -> R<Output> {
    match set {
        ast::Set::SingleAssignment { variable, values, .. } => {
            let name = object_name(variable);
            let value = values
                .iter()
                .map(|v| match v {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    Expr::Identifier(i) => i.value.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            // `SET name TO DEFAULT` (unquoted) puts the setting back to its default.
            let to_default = matches!(values.as_slice(), [Expr::Identifier(i)] if i.quote_style.is_none()
                && i.value.eq_ignore_ascii_case("default"));
            if to_default {
                if name == "default_transaction_isolation" {
                    sess.default_isolation = Isolation::ReadCommitted;
                }
                sess.settings.remove(&name);
                return Ok(Output::Command("SET".into()));
            }
            // Settings with units are kept in the form SHOW gives back (`100` → `100ms`).
            let value = match super::guc::normalize(&name, &value) {
                Some(v) => v?,
                None => value,
            };
            if name == "default_transaction_isolation" || name == "transaction_isolation" {
                let iso = match value.to_lowercase().as_str() {
                    "read uncommitted" => Isolation::ReadUncommitted,
                    "read committed" => Isolation::ReadCommitted,
                    "repeatable read" => Isolation::RepeatableRead,
                    "serializable" => Isolation::Serializable,
                    _ => {
                        return Err(SqlError::new(
                            "22023",
                            format!("invalid value for parameter \"{name}\": \"{value}\""),
                        )
                        .hint("Available values: serializable, repeatable read, read committed, read uncommitted.")
                        .into())
                    }
                };
                if name == "default_transaction_isolation" {
                    sess.default_isolation = iso;
                } else if let Some(t) = sess.txn.as_mut() {
                    t.isolation = iso;
                }
            }
            sess.settings.insert(name, value);
            Ok(Output::Command("SET".into()))
        }
        ast::Set::SetTransaction { modes, .. } => {
            if !sess.txn.as_ref().is_some_and(|t| t.explicit) {
                sess.notices.push(SqlError::notice(
                    "WARNING",
                    "25P01",
                    "SET TRANSACTION can only be used in transaction blocks",
                ));
            }
            for m in modes {
                if let ast::TransactionMode::IsolationLevel(l) = m {
                    let iso = match l {
                        ast::TransactionIsolationLevel::ReadUncommitted => Isolation::ReadUncommitted,
                        ast::TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
                        ast::TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
                        _ => Isolation::Serializable,
                    };
                    if let Some(t) = sess.txn.as_mut() {
                        t.isolation = iso;
                    }
                }
            }
            Ok(Output::Command("SET".into()))
        }
        other => {
            Err(SqlError::new("0A000", format!("terrarium does not support {}", first_words(&other.to_string())))
                .into())
        }
    }
}

fn object_name(n: &ObjectName) -> String {
    n.0.iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(ident(i)),
            _ => None,
        })
        .next_back()
        .unwrap_or_default()
}

/// An identifier as PostgreSQL folds it: lower case unless quoted.
fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

// ------------------------------------------------------------------------------------------------
// DDL.
// ------------------------------------------------------------------------------------------------

fn column_type(dt: &DataType) -> R<(SqlType, Option<usize>, bool)> {
    let name = dt.to_string().to_lowercase();
    // psql spells its casts `x::pg_catalog.text`.
    let name = name.strip_prefix("pg_catalog.").map(str::to_string).unwrap_or(name);
    let base = name.split('(').next().unwrap_or("").trim();
    let len = name.split('(').nth(1).and_then(|r| r.trim_end_matches(')').split(',').next()?.trim().parse().ok());
    Ok(match base {
        "boolean" | "bool" => (SqlType::Bool, None, false),
        "smallint" | "int2" => (SqlType::Int2, None, false),
        "integer" | "int" | "int4" => (SqlType::Int4, None, false),
        "bigint" | "int8" => (SqlType::Int8, None, false),
        "serial" | "serial4" => (SqlType::Int4, None, true),
        "bigserial" | "serial8" => (SqlType::Int8, None, true),
        "real" | "float4" => (SqlType::Float4, None, false),
        "double precision" | "float8" | "float" | "double" => (SqlType::Float8, None, false),
        "numeric" | "decimal" => (SqlType::Numeric, None, false),
        "text" => (SqlType::Text, None, false),
        "pg_lsn" => (SqlType::PgLsn, None, false),
        "timestamp" | "timestamp without time zone" => (SqlType::Timestamp, None, false),
        "date" => (SqlType::Date, None, false),
        "uuid" => (SqlType::Uuid, None, false),
        "bytea" => (SqlType::Bytea, None, false),
        "jsonb" => (SqlType::Jsonb, None, false),
        "json" => (SqlType::Json, None, false),
        // `interval`, perhaps with fields (`interval day to second`), which terrarium does not
        // use to restrict the value.
        i if i == "interval" || i.starts_with("interval ") => (SqlType::Interval, None, false),
        "varchar" | "character varying" => (SqlType::Varchar, len, false),
        "char" | "character" => (SqlType::Varchar, len.or(Some(1)), false),
        other => match catalog::type_named(other) {
            Some(t) => (t, None, false),
            None => return Err(SqlError::new("42704", format!("type \"{other}\" does not exist")).into()),
        },
    })
}

/// ALTER TABLE t ADD [COLUMN] [IF NOT EXISTS] c type [NOT NULL] [DEFAULT e]: existing rows get the
/// default (or NULL; NOT NULL without a default on a non-empty table is 23502, as PostgreSQL).
/// Not transactional here, like the rest of terrarium's DDL; logged for replay.
fn alter_table(db: &mut Database, sess: &mut Session, at: &ast::AlterTable) -> R<Output> {
    let name = object_name(&at.name);
    if !db.tables.contains_key(&name) {
        if at.if_exists {
            sess.notices.push(SqlError::notice(
                "NOTICE",
                "00000",
                format!("relation \"{name}\" does not exist, skipping"),
            ));
            return Ok(Output::Command("ALTER TABLE".into()));
        }
        return Err(SqlError::new("42P01", format!("relation \"{name}\" does not exist")).into());
    }
    for op in &at.operations {
        match op {
            ast::AlterTableOperation::AddConstraint { constraint, not_valid } => {
                match constraints::pending_table_constraint(constraint) {
                    Some(p) => {
                        // Rows already there must satisfy it (not on replay: they did then).
                        let snap = (!*not_valid && !sess.replaying).then(|| snapshot(db, sess));
                        constraints::define(db, &name, vec![p], snap.as_ref())?;
                    }
                    None => bulk::add_constraint(db, &name, constraint)?,
                }
                continue;
            }
            ast::AlterTableOperation::DropConstraint { if_exists, name: cname, drop_behavior } => {
                let cascade = matches!(drop_behavior, Some(ast::DropBehavior::Cascade));
                constraints::drop_constraint(db, sess, &name, &ident(cname), *if_exists, cascade)?;
                continue;
            }
            _ => {}
        }
        let ast::AlterTableOperation::AddColumn { if_not_exists, column_def: c, .. } = op else {
            return Err(SqlError::new(
                "0A000",
                "terrarium supports ALTER TABLE ... ADD COLUMN / PRIMARY KEY / UNIQUE only",
            )
            .into());
        };
        let mut col = Column::declared(c)?;
        for o in &c.options {
            match &o.option {
                ColumnOption::NotNull => col.not_null = true,
                ColumnOption::Null => col.not_null = false,
                ColumnOption::Default(e) => col.default = Some(e.clone()),
                ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_) => {
                    return Err(SqlError::new("0A000", "terrarium cannot add a constrained column yet").into())
                }
                _ => {}
            }
        }
        let t = db.tables.get(&name).expect("checked");
        if t.column(&col.name).is_some() {
            if *if_not_exists {
                sess.notices.push(SqlError::notice(
                    "NOTICE",
                    "42701",
                    format!("column \"{}\" of relation \"{name}\" already exists, skipping", col.name),
                ));
                continue;
            }
            return Err(SqlError::new(
                "42701",
                format!("column \"{}\" of relation \"{name}\" already exists", col.name),
            )
            .into());
        }
        let value = match &col.default {
            Some(d) => coerce_col(eval(d, &Scope::empty(), db)?, &col)?,
            None => Datum::Null,
        };
        if col.not_null && value.is_null() && t.heap.all().next().is_some() {
            return Err(SqlError::new(
                "23502",
                format!("column \"{}\" of relation \"{name}\" contains null values", col.name),
            )
            .into());
        }
        let t = db.tables.get_mut(&name).expect("checked");
        t.heap.for_each_row_mut(|r| r.push(value.clone()));
        t.columns.push(col);
        // The column's CHECK and REFERENCES, checked against the rows it was added to.
        let pending = constraints::pending_of_column(c);
        if !pending.is_empty() {
            let snap = (!sess.replaying).then(|| snapshot(db, sess));
            if let Err(e) = constraints::define(db, &name, pending, snap.as_ref()) {
                // The column goes again (the rest of ALTER TABLE's DDL is not transactional).
                let t = db.tables.get_mut(&name).expect("checked");
                t.columns.pop();
                t.heap.for_each_row_mut(|r| {
                    r.pop();
                });
                return Err(e);
            }
        }
    }
    log_ddl(db, super::wal::WalEntry::CreateTable { name, sql: at.to_string() })?;
    Ok(Output::Command("ALTER TABLE".into()))
}

/// CREATE TABLE name [(column, ...)] AS query: the query runs first; its columns (renamed by the
/// list, if any) make a plain CREATE TABLE, which is what the WAL logs (replay must not run the
/// query again, over other data); then its rows are inserted as the statement's own writes.
/// The tag is `SELECT n`, as PostgreSQL's.
fn create_table_as(db: &mut Database, sess: &mut Session, ct: &ast::CreateTable, q: &ast::Query) -> R<Output> {
    let name = object_name(&ct.name);
    if db.tables.contains_key(&name) {
        if ct.if_not_exists {
            let msg = format!("relation \"{name}\" already exists, skipping");
            sess.notices.push(SqlError::notice("NOTICE", "42P07", msg));
            return Ok(Output::Command("CREATE TABLE AS".into()));
        }
        return Err(SqlError::new("42P07", format!("relation \"{name}\" already exists")).into());
    }
    let out = match catalog::uses(q) {
        Some(_) => catalog::run_query(db, sess, q, |db, sess| select(db, sess, q))?,
        None => select(db, sess, q)?,
    };
    let Output::Rows { columns, rows, .. } = out else {
        return Err(SqlError::new("0A000", "CREATE TABLE ... AS needs a query that returns rows").into());
    };
    if ct.columns.len() > columns.len() {
        return Err(SqlError::new("42601", "too many column names were specified").into());
    }
    let mut names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    for (n, given) in names.iter_mut().zip(&ct.columns) {
        *n = ident(&given.name);
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(SqlError::new("42701", format!("column \"{dup}\" specified more than once")).into());
    }
    let defs: Vec<String> =
        names.iter().zip(&columns).map(|(n, c)| format!("{} {}", catalog::quote_ident(n), c.ty.name())).collect();
    let ddl = format!("CREATE TABLE {} ({})", ct.name, defs.join(", "));
    let plain = match parse(&ddl)?.pop() {
        Some(Statement::CreateTable(plain)) => plain,
        _ => return Err(SqlError::new("XX000", format!("could not build {ddl}")).into()),
    };
    create_table(db, sess, &plain)?;
    let n = rows.len();
    in_statement_xact(db, sess, |db, sess, xid| {
        let t = sess.txn.as_ref().expect("open");
        let (own, cid) = (t.own.clone(), t.cid);
        let types: Vec<(SqlType, String)> = db.tables[&name].columns.iter().map(|c| (c.ty, c.name.clone())).collect();
        for row in rows {
            let row = row
                .into_iter()
                .zip(&types)
                .map(|(d, (ty, col))| coerce(d, *ty, None, Some(col)))
                .collect::<R<Row>>()?;
            insert_row(db, sess, &name, row, xid, cid, &own)?;
        }
        Ok(Output::Command(format!("SELECT {n}")))
    })
}

fn create_table(db: &mut Database, sess: &mut Session, ct: &ast::CreateTable) -> R<Output> {
    if let Some(q) = &ct.query {
        return create_table_as(db, sess, ct, q);
    }
    let name = object_name(&ct.name);
    if db.tables.contains_key(&name) {
        if ct.if_not_exists {
            sess.notices.push(SqlError::notice(
                "NOTICE",
                "42P07",
                format!("relation \"{name}\" already exists, skipping"),
            ));
            return Ok(Output::Command("CREATE TABLE".into()));
        }
        return Err(SqlError::new("42P07", format!("relation \"{name}\" already exists")).into());
    }
    let mut columns = Vec::new();
    let mut uniques = Vec::new();
    for c in &ct.columns {
        let mut col = Column::declared(c)?;
        let idx = columns.len();
        for opt in &c.options {
            let given = opt.name.as_ref().map(ident);
            match &opt.option {
                ColumnOption::NotNull => col.not_null = true,
                ColumnOption::Null => col.not_null = false,
                ColumnOption::Default(e) => col.default = Some(e.clone()),
                ColumnOption::PrimaryKey(pk) => {
                    col.not_null = true;
                    let mut u = Unique::new(given.unwrap_or_else(|| format!("{name}_pkey")), vec![idx], true);
                    (u.deferrable, u.initially_deferred) = constraints::characteristics(pk.characteristics.as_ref())?;
                    uniques.push(u);
                }
                ColumnOption::Unique(uc) => {
                    let default = format!("{}_{}_key", name, col.name);
                    let mut u = Unique::new(given.unwrap_or(default), vec![idx], false);
                    (u.deferrable, u.initially_deferred) = constraints::characteristics(uc.characteristics.as_ref())?;
                    uniques.push(u);
                }
                _ => {}
            }
        }
        if columns.iter().any(|x: &Column| x.name == col.name) {
            return Err(SqlError::new("42701", format!("column \"{}\" specified more than once", col.name)).into());
        }
        columns.push(col);
    }
    for tc in &ct.constraints {
        let (cols, primary, given, traits) = match tc {
            ast::TableConstraint::PrimaryKey(pk) => (&pk.columns, true, &pk.name, pk.characteristics.as_ref()),
            ast::TableConstraint::Unique(u) => (&u.columns, false, &u.name, u.characteristics.as_ref()),
            _ => continue,
        };
        let mut idxs = Vec::new();
        for ic in cols {
            let cname = match &ic.column.expr {
                Expr::Identifier(i) => ident(i),
                other => other.to_string(),
            };
            let Some(i) = columns.iter().position(|c| c.name == cname) else {
                return Err(SqlError::new("42703", format!("column \"{cname}\" named in key does not exist")).into());
            };
            if primary {
                columns[i].not_null = true;
            }
            idxs.push(i);
        }
        let uname = match given {
            Some(g) => ident(g),
            None if primary => format!("{name}_pkey"),
            None => {
                format!("{}_{}_key", name, idxs.iter().map(|&i| columns[i].name.as_str()).collect::<Vec<_>>().join("_"))
            }
        };
        let mut u = Unique::new(uname, idxs, primary);
        (u.deferrable, u.initially_deferred) = constraints::characteristics(traits)?;
        uniques.push(u);
    }
    if uniques.iter().filter(|u| u.primary).count() > 1 {
        return Err(
            SqlError::new("42P16", format!("multiple primary keys for table \"{name}\" are not allowed")).into()
        );
    }
    if constraints::relation_names(db).contains(&name) {
        return Err(SqlError::new("42P07", format!("relation \"{name}\" already exists")).into());
    }
    let index = vec![Default::default(); uniques.len()];
    db.tables
        .insert(name.clone(), Table { name: name.clone(), columns, uniques, heap: Heap::new(), sequence: 0, index });
    // CHECK and FOREIGN KEY need the table to exist (a foreign key may reference its own table).
    if let Err(e) = constraints::define(db, &name, constraints::pending_of(ct), None) {
        db.tables.remove(&name);
        db.constraints.remove(&name);
        return Err(e);
    }
    log_ddl(db, super::wal::WalEntry::CreateTable { name, sql: ct.to_string() })?;
    Ok(Output::Command("CREATE TABLE".into()))
}

// ------------------------------------------------------------------------------------------------
// Expressions.
// ------------------------------------------------------------------------------------------------

fn literal(v: &Value) -> R<Datum> {
    Ok(match v {
        Value::Number(s, _) => match s.parse::<i64>() {
            Ok(n) => Datum::Int(n),
            Err(_) => {
                s.parse::<f64>()
                    .map_err(|_| SqlError::new("22P02", format!("invalid input syntax for type numeric: \"{s}\"")))?;
                // `1e3` is the numeric 1000, and prints so.
                match parse_decimal(s) {
                    Some((m, scale)) => Datum::Numeric(decimal_text(m, scale)),
                    None => Datum::Numeric(s.clone()),
                }
            }
        },
        Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Datum::Text(s.clone()),
        Value::DollarQuotedString(d) => Datum::Text(d.value.clone()),
        Value::Boolean(b) => Datum::Bool(*b),
        Value::Null => Datum::Null,
        other => return Err(SqlError::new("0A000", format!("terrarium does not support the literal {other}")).into()),
    })
}

fn is_aggregate(name: &str) -> bool {
    matches!(name, "count" | "sum" | "min" | "max" | "avg" | "bool_and" | "bool_or" | "every" | "string_agg")
}

fn function_name(f: &ast::Function) -> String {
    object_name(&f.name)
}

fn function_args(f: &ast::Function) -> Vec<&FunctionArgExpr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(e) => e,
                FunctionArg::Named { arg, .. } | FunctionArg::ExprNamed { arg, .. } => arg,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn eval(e: &Expr, scope: &Scope, db: &Database) -> R<Datum> {
    db.interrupts.check()?;
    match e {
        Expr::Identifier(i) => query::column_value(scope, None, &ident(i)),
        Expr::CompoundIdentifier(parts) => {
            let (q, name) = query::split_name(parts);
            query::column_value(scope, q.as_deref(), &name)
        }
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => {
                let n: usize = p.trim_start_matches('$').parse().unwrap_or(0);
                match db.params.get(n.wrapping_sub(1)) {
                    Some(d) => Ok(d.clone()),
                    None => Err(SqlError::new("42P02", format!("there is no parameter {p}")).into()),
                }
            }
            other => literal(other),
        },
        Expr::Nested(inner) => eval(inner, scope, db),
        // Collations do not change how terrarium compares strings (bytewise, as "C" does).
        Expr::Collate { expr, .. } => eval(expr, scope, db),
        Expr::UnaryOp { op, expr } => {
            let v = eval(expr, scope, db)?;
            match (op, v) {
                (_, Datum::Null) => Ok(Datum::Null),
                (UnaryOperator::Not, Datum::Bool(b)) => Ok(Datum::Bool(!b)),
                (UnaryOperator::Minus, Datum::Int(n)) => {
                    n.checked_neg().map(Datum::Int).ok_or_else(|| SqlError::new("22003", "bigint out of range").into())
                }
                (UnaryOperator::Minus, Datum::Float(f)) => Ok(Datum::Float(-f)),
                (UnaryOperator::Minus, Datum::Numeric(n)) => {
                    Ok(Datum::Numeric(n.strip_prefix('-').map(str::to_string).unwrap_or_else(|| format!("-{n}"))))
                }
                (UnaryOperator::Plus, v @ (Datum::Int(_) | Datum::Float(_))) => Ok(v),
                (UnaryOperator::Minus, Datum::Interval(iv)) => typed::negate(&iv),
                (op, v) => Err(SqlError::new("42883", format!("operator does not exist: {op}{}", type_of(&v)))
                    .hint(OPERATOR_HINT)
                    .into()),
            }
        }
        Expr::BinaryOp { left, op, right } => {
            let l = eval(left, scope, db)?;
            // AND / OR are three-valued and need the right side even when the left is NULL.
            let r = eval(right, scope, db)?;
            let (l, r) = if matches!(op, BinaryOperator::And | BinaryOperator::Or | BinaryOperator::StringConcat) {
                (l, r)
            } else {
                let l2 = adopt_type(left, l.clone(), right, &r, scope, db)?;
                (l2, adopt_type(right, r, left, &l, scope, db)?)
            };
            // A quoted literal compared with a date, interval, uuid, bytea or jsonb is read as
            // that type (with its input errors).
            let (l, r) = if is_comparison(op) {
                let l2 = if is_quoted(left) { typed::adopt_literal(l, &r)? } else { l };
                let r2 = if is_quoted(right) { typed::adopt_literal(r, &l2)? } else { r };
                (l2, r2)
            } else {
                (l, r)
            };
            if !l.is_null() && !r.is_null() {
                let ty = |x: &Expr| static_type(x, scope, db);
                if let Some(out) = typed::arith(op, &l, &r, || ty(left), || ty(right)) {
                    return out;
                }
            }
            let out = binary(op, l, r)?;
            // Integers are computed in 64 bits; an int4 result must still fit int4, as it must in
            // PostgreSQL, where `2147483647 + 1` is an error rather than a bigint.
            // (The type is only looked up for values past int2's range.)
            if let Datum::Int(n) = out {
                if i16::try_from(n).is_err() {
                    match static_type(e, scope, db) {
                        SqlType::Int4 if i32::try_from(n).is_err() => {
                            return Err(SqlError::new("22003", "integer out of range").into())
                        }
                        SqlType::Int2 => return Err(SqlError::new("22003", "smallint out of range").into()),
                        _ => {}
                    }
                }
            }
            Ok(out)
        }
        Expr::IsNull(x) => Ok(Datum::Bool(eval(x, scope, db)?.is_null())),
        Expr::IsNotNull(x) => Ok(Datum::Bool(!eval(x, scope, db)?.is_null())),
        Expr::IsTrue(x) => Ok(Datum::Bool(eval(x, scope, db)? == Datum::Bool(true))),
        Expr::IsFalse(x) => Ok(Datum::Bool(eval(x, scope, db)? == Datum::Bool(false))),
        Expr::In { expr, target: ast::InTarget::List(list), negated, .. } => {
            let v = eval(expr, scope, db)?;
            if v.is_null() {
                return Ok(Datum::Null);
            }
            let mut saw_null = false;
            for item in list {
                let x = eval(item, scope, db)?;
                match v.compare(&x) {
                    Some(std::cmp::Ordering::Equal) => return Ok(Datum::Bool(!negated)),
                    None => saw_null |= x.is_null(),
                    _ => {}
                }
            }
            Ok(if saw_null { Datum::Null } else { Datum::Bool(*negated) })
        }
        Expr::Between { expr, negated, low, high } => {
            let v = eval(expr, scope, db)?;
            let lo = eval(low, scope, db)?;
            let hi = eval(high, scope, db)?;
            match (v.compare(&lo), v.compare(&hi)) {
                (Some(a), Some(b)) => Ok(Datum::Bool((a.is_ge() && b.is_le()) != *negated)),
                _ => Ok(Datum::Null),
            }
        }
        Expr::Like { negated, expr, pattern, .. } | Expr::ILike { negated, expr, pattern, .. } => {
            let v = eval(expr, scope, db)?;
            let p = eval(pattern, scope, db)?;
            // ILIKE: both sides lower-cased, as PostgreSQL folds case for it.
            let fold = |s: String| if matches!(e, Expr::ILike { .. }) { s.to_lowercase() } else { s };
            match (v, p) {
                (Datum::Null, _) | (_, Datum::Null) => Ok(Datum::Null),
                (v, p) => {
                    let (v, p) = (fold(v.to_text().unwrap_or_default()), fold(p.to_text().unwrap_or_default()));
                    Ok(Datum::Bool(like(v.as_bytes(), p.as_bytes()) != *negated))
                }
            }
        }
        Expr::Cast { expr, data_type, .. } => {
            let v = eval(expr, scope, db)?;
            if let Some(r) = catalog::cast(db, &v, data_type) {
                return r;
            }
            let (ty, max_len, _) = column_type(data_type)?;
            numeric_typmod(coerce(v, ty, max_len, None)?, Some(data_type))
        }
        Expr::Function(f) => {
            let name = function_name(f);
            if let (FunctionArguments::Subquery(q), "array") = (&f.args, name.as_str()) {
                return Ok(catalog::array_of_rows(&query::subquery_rows(q, scope, db)?));
            }
            if name == "generate_series" {
                // A set-returning call in the select list: its value at the current step.
                let key = f as *const ast::Function as usize;
                return match scope.srfs.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => Ok(v.clone()),
                    None => Err(SqlError::new("0A000", "set-returning functions are not allowed here").into()),
                };
            }
            if is_aggregate(&name) {
                // The group's value of this very call (found by its place in the statement).
                let key = f as *const ast::Function as usize;
                return match scope.aggs {
                    Aggs::Values(v) => {
                        Ok(v.iter().find(|(k, _)| *k == key).map(|x| x.1.clone()).unwrap_or(Datum::Null))
                    }
                    Aggs::Dry => Ok(Datum::Int(1)),
                    Aggs::None => Err(SqlError::new("42803", "aggregate functions are not allowed in WHERE").into()),
                };
            }
            let args: Vec<Datum> = function_args(f)
                .into_iter()
                .map(|a| match a {
                    FunctionArgExpr::Expr(e) => eval(e, scope, db),
                    _ => Ok(Datum::Null),
                })
                .collect::<R<_>>()?;
            match name.as_str() {
                "txid_current" | "pg_current_xact_id" => {
                    return Ok(db.current.map(|c| Datum::Int(c.0 as i64)).unwrap_or(Datum::Null))
                }
                "now" | "current_timestamp" | "transaction_timestamp" => {
                    let t = db.current.map(|c| c.1).unwrap_or_else(std::time::SystemTime::now);
                    return Ok(Datum::Text(super::types::timestamptz_text(t)));
                }
                "pg_current_wal_lsn" | "pg_current_wal_insert_lsn" | "pg_current_wal_flush_lsn" => {
                    // Under --ephemeral there is no log: its position stays at the start.
                    let lsn = match &db.wal {
                        Some(w) if name == "pg_current_wal_flush_lsn" => w.flushed_lsn(),
                        Some(w) => w.current_lsn(),
                        None => super::wal::Lsn(0),
                    };
                    return Ok(Datum::Text(lsn.to_string()));
                }
                "pg_walfile_name" => {
                    return match args.first() {
                        Some(Datum::Null) | None => Ok(Datum::Null),
                        Some(Datum::Text(t)) => match super::wal::Lsn::parse(t) {
                            Some(lsn) => Ok(Datum::Text(catalog::wal::walfile_name(lsn.0))),
                            None => {
                                Err(SqlError::new("22P02", format!("invalid input syntax for type pg_lsn: \"{t}\""))
                                    .into())
                            }
                        },
                        Some(_) => Err(SqlError::new("22P02", "invalid input syntax for type pg_lsn").into()),
                    };
                }
                "pg_wal_lsn_diff" => {
                    let lsn = |d: Option<&Datum>| match d {
                        Some(Datum::Text(t)) => super::wal::Lsn::parse(t),
                        _ => None,
                    };
                    return match (lsn(args.first()), lsn(args.get(1))) {
                        (Some(a), Some(b)) => Ok(Datum::Numeric(a.diff(b).to_string())),
                        _ => Err(SqlError::new("22P02", "invalid input syntax for type pg_lsn").into()),
                    };
                }
                "clock_timestamp" | "statement_timestamp" => {
                    return Ok(Datum::Text(super::types::timestamptz_text(std::time::SystemTime::now())))
                }
                _ => {}
            }
            if name == "pg_sleep" {
                // The wait itself happens in the connection, after this statement, unlocked.
                let secs = match args.first() {
                    Some(Datum::Text(t)) => t.trim().parse().unwrap_or(0.0),
                    Some(d) => as_f64(d).unwrap_or(0.0),
                    None => 0.0,
                };
                let before = db.sleep_request.get().unwrap_or(0.0);
                db.sleep_request.set(Some(before + secs.max(0.0)));
                return Ok(Datum::Text(String::new()));
            }
            // current_setting() and format() are STABLE in PostgreSQL: not folded while planning, so
            // their errors come with the rows, after RowDescription (the dry run lets them pass).
            let stable = matches!(name.as_str(), "current_setting" | "format");
            let dry = scope.ctx.is_some_and(|c| c.dry);
            if let Some(r) = catalog::function(db, &name, &args) {
                return if r.is_err() && stable && dry { Ok(Datum::Null) } else { r };
            }
            let exprs = function_args(f);
            let arg_type = |i: usize| match exprs.get(i) {
                Some(FunctionArgExpr::Expr(e)) => static_type(e, scope, db),
                _ => SqlType::Text,
            };
            let arg_literal = |i: usize| matches!(exprs.get(i), Some(FunctionArgExpr::Expr(e)) if is_quoted(e));
            let now = db.current.map(|c| c.1).unwrap_or_else(std::time::SystemTime::now);
            if let Some(r) = typed::function(&name, &args, &arg_type, &arg_literal, now) {
                // The json builders are STABLE in PostgreSQL, so it does not fold them while
                // planning: their errors come with rows, after RowDescription.
                if r.is_err() && typed::is_stable(&name) && scope.ctx.is_some_and(|c| c.dry) {
                    return Ok(Datum::Null);
                }
                return r;
            }
            let types: Vec<SqlType> = (0..exprs.len()).map(arg_type).collect();
            if let Some(r) = functions::call(&name, &args, &types) {
                return if r.is_err() && stable && dry { Ok(Datum::Null) } else { r };
            }
            scalar_function(&name, args)
        }
        Expr::Subquery(q) => {
            let rows = query::subquery_rows(q, scope, db)?;
            match rows.as_slice() {
                [] => Ok(Datum::Null),
                [one] => Ok(one.first().cloned().unwrap_or(Datum::Null)),
                _ => {
                    Err(SqlError::new("21000", "more than one row returned by a subquery used as an expression").into())
                }
            }
        }
        Expr::Exists { subquery, negated } => {
            let rows = query::subquery_rows(subquery, scope, db)?;
            Ok(Datum::Bool(rows.is_empty() == *negated))
        }
        Expr::In { expr, target: ast::InTarget::Subquery(q), negated, .. } => {
            let v = eval(expr, scope, db)?;
            query::in_subquery(q, v, *negated, scope, db)
        }
        Expr::AnyOp { left, compare_op, right, .. } | Expr::AllOp { left, compare_op, right } => {
            let Expr::Subquery(q) = right.as_ref() else {
                // Over an array (held as its text form, as the catalogs' arrays are).
                let v = eval(left, scope, db)?;
                let array = eval(right, scope, db)?;
                return catalog::quantified_array(compare_op, v, array, matches!(e, Expr::AnyOp { .. }));
            };
            let v = eval(left, scope, db)?;
            let rows = query::subquery_rows(q, scope, db)?;
            quantified(compare_op, v, &rows, matches!(e, Expr::AnyOp { .. }), false)
        }
        // `date '2024-01-02'`, `uuid '…'`, `timestamp '…'`: the literal read as that type.
        Expr::TypedString(ts) => {
            let (ty, max_len, _) = column_type(&ts.data_type)?;
            coerce(literal(&ts.value.value)?, ty, max_len, None)
        }
        // `interval '1 day'`, `interval '2' hour` (a bare number in the leading field's unit).
        Expr::Interval(iv) => {
            let text = eval(&iv.value, scope, db)?;
            let Some(text) = text.to_text() else { return Ok(Datum::Null) };
            let unit = iv.leading_field.as_ref().map(|f| super::types::datetime::canonical_unit(&f.to_string()));
            Ok(Datum::Interval(super::types::datetime::interval_in_as(&text, unit.as_deref())?))
        }
        // SUBSTRING(s FROM a FOR n) / substring(s, a, n) / substr(s, a, n): characters from
        // position a (1-based; before 1 counts against n), n of them (negative n is 22011).
        Expr::Substring { expr, substring_from, substring_for, .. } => {
            let s = eval(expr, scope, db)?;
            let from = substring_from.as_ref().map(|e| eval(e, scope, db)).transpose()?;
            let len = substring_for.as_ref().map(|e| eval(e, scope, db)).transpose()?;
            if s.is_null() || from.as_ref().is_some_and(Datum::is_null) || len.as_ref().is_some_and(Datum::is_null) {
                return Ok(Datum::Null);
            }
            let chars: Vec<char> = s.to_text().unwrap_or_default().chars().collect();
            let start = from.map(|d| as_f64(&d).unwrap_or(1.0) as i64).unwrap_or(1);
            let end = match len.map(|d| as_f64(&d).unwrap_or(0.0) as i64) {
                Some(n) if n < 0 => return Err(SqlError::new("22011", "negative substring length not allowed").into()),
                Some(n) => start.saturating_add(n),
                None => i64::MAX,
            };
            let (a, b) = (start.max(1) - 1, end.max(1) - 1);
            let (a, b) = (a.min(chars.len() as i64) as usize, b.min(chars.len() as i64) as usize);
            Ok(Datum::Text(chars[a..b.max(a)].iter().collect()))
        }
        // TRIM([BOTH | LEADING | TRAILING] [chars FROM] s), TRIM(s, chars).
        Expr::Trim { expr, trim_where, trim_what, trim_characters } => {
            let s = eval(expr, scope, db)?;
            let set = match (trim_what, trim_characters) {
                (Some(w), _) => eval(w, scope, db)?,
                (None, Some(cs)) if !cs.is_empty() => eval(&cs[0], scope, db)?,
                _ => Datum::Text(" ".into()),
            };
            let name = match trim_where {
                Some(ast::TrimWhereField::Leading) => "ltrim",
                Some(ast::TrimWhereField::Trailing) => "rtrim",
                _ => "btrim",
            };
            functions::call(name, &[s, set], &[SqlType::Text, SqlType::Text]).expect("a function of ours")
        }
        // POSITION(sub IN s): strpos(s, sub).
        Expr::Position { expr, r#in } => {
            let (sub, s) = (eval(expr, scope, db)?, eval(r#in, scope, db)?);
            functions::call("strpos", &[s, sub], &[SqlType::Text, SqlType::Text]).expect("a function of ours")
        }
        Expr::Ceil { expr, field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) }
        | Expr::Floor { expr, field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) } => {
            let name = if matches!(e, Expr::Ceil { .. }) { "ceil" } else { "floor" };
            let v = eval(expr, scope, db)?;
            functions::call(name, &[v], &[static_type(expr, scope, db)]).expect("a function of ours")
        }
        Expr::Extract { field, expr, .. } => {
            let v = eval(expr, scope, db)?;
            typed::extract(&extract_unit(field), &v, static_type(expr, scope, db))
        }
        Expr::Case { operand, conditions, else_result, .. } => {
            let subject = operand.as_ref().map(|o| eval(o, scope, db)).transpose()?;
            for w in conditions {
                let c = eval(&w.condition, scope, db)?;
                let hit = match &subject {
                    Some(s) => s.compare(&c) == Some(std::cmp::Ordering::Equal),
                    None => truthy(&c),
                };
                if hit {
                    return eval(&w.result, scope, db);
                }
            }
            match else_result {
                Some(x) => eval(x, scope, db),
                None => Ok(Datum::Null),
            }
        }
        other => Err(SqlError::new("0A000", format!("terrarium does not support the expression {other}")).into()),
    }
}

/// `v IN (subquery)` and `v op ANY / ALL (subquery)`, three-valued: ANY is true when one
/// comparison is, ALL false when one is; otherwise a NULL comparison makes the answer NULL.
fn quantified(op: &BinaryOperator, v: Datum, rows: &[Row], any: bool, negated: bool) -> R<Datum> {
    let mut saw_null = false;
    for r in rows {
        let x = r.first().cloned().unwrap_or(Datum::Null);
        match binary(op, v.clone(), x)? {
            Datum::Bool(b) if b == any => return Ok(Datum::Bool(any != negated)),
            Datum::Bool(_) => {}
            _ => saw_null = true,
        }
    }
    Ok(if saw_null { Datum::Null } else { Datum::Bool(any == negated) })
}

/// A quoted literal (PostgreSQL's type `unknown`) facing a number or a boolean takes that
/// side's type, as PostgreSQL resolves `unknown`: `id = 'abc'` is 22P02 for integer, not 42883.
fn adopt_type(e: &Expr, value: Datum, other_expr: &Expr, other: &Datum, scope: &Scope, db: &Database) -> R<Datum> {
    if let Some(oid) = catalog::reg_as_oid(db, e, &value, other) {
        return Ok(oid);
    }
    let quoted = matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    // (A NULL on the other side still has its column's type: PostgreSQL reads the literal as that
    // type while planning, whatever the rows hold.)
    if !quoted || !matches!(other, Datum::Int(_) | Datum::Float(_) | Datum::Numeric(_) | Datum::Bool(_) | Datum::Null) {
        return Ok(value);
    }
    let ty = match static_type(other_expr, scope, db) {
        t @ (SqlType::Int2
        | SqlType::Int4
        | SqlType::Int8
        | SqlType::Float4
        | SqlType::Float8
        | SqlType::Numeric
        | SqlType::Bool
        | SqlType::Oid) => t,
        _ => return Ok(value),
    };
    coerce(value, ty, None, None)
}

fn type_of(d: &Datum) -> &'static str {
    match d {
        Datum::Null => "unknown",
        Datum::Bool(_) => "boolean",
        Datum::Int(_) => "integer",
        Datum::Float(_) => "double precision",
        Datum::Numeric(_) => "numeric",
        Datum::Text(_) => "text",
        Datum::Date(_) => "date",
        Datum::Interval(_) => "interval",
        Datum::Uuid(_) => "uuid",
        Datum::Bytea(_) => "bytea",
        Datum::Jsonb(_) => "jsonb",
        Datum::Json(_) => "json",
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

/// Whether an expression is an untyped quoted literal (PostgreSQL's `unknown`).
fn is_quoted(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)))
}

/// The unit of `extract(unit from …)` as written (`EPOCH`, `year`, a custom word).
fn extract_unit(field: &ast::DateTimeField) -> String {
    match field {
        ast::DateTimeField::Custom(i) => i.value.to_lowercase(),
        f => f.to_string().to_lowercase(),
    }
}

fn scalar_function(name: &str, args: Vec<Datum>) -> R<Datum> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Datum::Null);
    Ok(match name {
        // SERVER_VERSION already says "(terrarium x.y.z)".
        "version" => Datum::Text(format!(
            "PostgreSQL {} on x86_64-pc-linux-gnu, compiled by rustc, 64-bit",
            super::server::SERVER_VERSION
        )),
        "coalesce" => args.into_iter().find(|d| !d.is_null()).unwrap_or(Datum::Null),
        "nullif" => {
            if arg(0).compare(&arg(1)) == Some(std::cmp::Ordering::Equal) {
                Datum::Null
            } else {
                arg(0)
            }
        }
        "lower" => map_text(arg(0), |s| s.to_lowercase()),
        "upper" => map_text(arg(0), |s| s.to_uppercase()),
        "length" | "char_length" => match arg(0) {
            Datum::Null => Datum::Null,
            d => Datum::Int(d.to_text().unwrap_or_default().chars().count() as i64),
        },
        "abs" => match arg(0) {
            Datum::Int(n) => Datum::Int(n.abs()),
            Datum::Float(f) => Datum::Float(f.abs()),
            Datum::Numeric(t) => Datum::Numeric(t.strip_prefix('-').map(str::to_string).unwrap_or(t)),
            d => d,
        },
        "greatest" | "least" => {
            let mut best = Datum::Null;
            for d in args {
                if d.is_null() {
                    continue;
                }
                let better = match best.compare(&d) {
                    None => true,
                    Some(o) => (name == "greatest" && o.is_lt()) || (name == "least" && o.is_gt()),
                };
                if better {
                    best = d;
                }
            }
            best
        }
        other => {
            let types: Vec<&str> = args.iter().map(type_of).collect();
            return Err(SqlError::new("42883", format!("function {other}({}) does not exist", types.join(", ")))
                .hint(
                    "No function matches the given name and argument types. You might need to add explicit type casts.",
                )
                .into());
        }
    })
}

fn map_text(d: Datum, f: impl Fn(&str) -> String) -> Datum {
    match d {
        Datum::Null => Datum::Null,
        d => Datum::Text(f(&d.to_text().unwrap_or_default())),
    }
}

/// SQL LIKE with `%` and `_` (backslash escapes).
fn like(s: &[u8], p: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'%') => (0..=s.len()).any(|i| like(&s[i..], &p[1..])),
        Some(b'_') => !s.is_empty() && like(&s[1..], &p[1..]),
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && like(&s[1..], &p[2..]),
        Some(c) => s.first() == Some(c) && like(&s[1..], &p[1..]),
    }
}

fn truthy(d: &Datum) -> bool {
    matches!(d, Datum::Bool(true))
}

/// PostgreSQL's hint under every "operator does not exist".
const OPERATOR_HINT: &str =
    "No operator matches the given name and argument types. You might need to add explicit type casts.";

fn binary(op: &BinaryOperator, l: Datum, r: Datum) -> R<Datum> {
    use std::cmp::Ordering::*;
    match op {
        BinaryOperator::And => {
            return Ok(match (&l, &r) {
                (Datum::Bool(false), _) | (_, Datum::Bool(false)) => Datum::Bool(false),
                (Datum::Bool(true), Datum::Bool(true)) => Datum::Bool(true),
                _ => Datum::Null,
            })
        }
        BinaryOperator::Or => {
            return Ok(match (&l, &r) {
                (Datum::Bool(true), _) | (_, Datum::Bool(true)) => Datum::Bool(true),
                (Datum::Bool(false), Datum::Bool(false)) => Datum::Bool(false),
                _ => Datum::Null,
            })
        }
        _ => {}
    }
    if l.is_null() || r.is_null() {
        return Ok(Datum::Null);
    }
    let cmp = |want: &dyn Fn(std::cmp::Ordering) -> bool| -> R<Datum> {
        match l.compare(&r) {
            Some(o) => Ok(Datum::Bool(want(o))),
            None => {
                Err(SqlError::new("42883", format!("operator does not exist: {} {} {}", type_of(&l), op, type_of(&r)))
                    .hint(OPERATOR_HINT)
                    .into())
            }
        }
    };
    match op {
        BinaryOperator::Eq => cmp(&|o| o == Equal),
        BinaryOperator::NotEq => cmp(&|o| o != Equal),
        BinaryOperator::Lt => cmp(&|o| o == Less),
        BinaryOperator::LtEq => cmp(&|o| o != Greater),
        BinaryOperator::Gt => cmp(&|o| o == Greater),
        BinaryOperator::GtEq => cmp(&|o| o != Less),
        BinaryOperator::StringConcat => {
            Ok(Datum::Text(format!("{}{}", l.to_text().unwrap_or_default(), r.to_text().unwrap_or_default())))
        }
        BinaryOperator::Plus
        | BinaryOperator::Minus
        | BinaryOperator::Multiply
        | BinaryOperator::Divide
        | BinaryOperator::Modulo => arithmetic(op, l, r),
        // `^`: exponentiation, in double precision for these operands (numeric ^ numeric is
        // numeric in PostgreSQL; its digits differ only past double precision's).
        BinaryOperator::PGExp => {
            if l.is_null() || r.is_null() {
                return Ok(Datum::Null);
            }
            functions::call("power", &[l, r], &[SqlType::Float8, SqlType::Float8]).expect("a function of ours")
        }
        BinaryOperator::PGRegexMatch
        | BinaryOperator::PGRegexIMatch
        | BinaryOperator::PGRegexNotMatch
        | BinaryOperator::PGRegexNotIMatch
        | BinaryOperator::PGCustomBinaryOperator(_) => catalog::operator(op, l, r),
        BinaryOperator::Arrow | BinaryOperator::LongArrow => match typed::arrow(op, &l, &r) {
            Some(out) => out,
            None => {
                Err(SqlError::new("42883", format!("operator does not exist: {} {} {}", type_of(&l), op, type_of(&r)))
                    .hint(OPERATOR_HINT)
                    .into())
            }
        },
        other => Err(SqlError::new("0A000", format!("terrarium does not support the operator {other}")).into()),
    }
}

fn arithmetic(op: &BinaryOperator, l: Datum, r: Datum) -> R<Datum> {
    let num = |d: &Datum| -> Option<Datum> {
        match d {
            Datum::Text(s) => {
                s.trim().parse::<i64>().map(Datum::Int).ok().or_else(|| s.trim().parse().ok().map(Datum::Float))
            }
            d => Some(d.clone()),
        }
    };
    let (Some(l), Some(r)) = (num(&l), num(&r)) else {
        return Err(SqlError::new("22P02", "invalid input syntax for type integer").into());
    };
    let overflow = || ExecError::from(SqlError::new("22003", "bigint out of range"));
    let div0 = || ExecError::from(SqlError::new("22012", "division by zero"));
    Ok(match (l, r) {
        (Datum::Int(a), Datum::Int(b)) => Datum::Int(match op {
            BinaryOperator::Plus => a.checked_add(b).ok_or_else(overflow)?,
            BinaryOperator::Minus => a.checked_sub(b).ok_or_else(overflow)?,
            BinaryOperator::Multiply => a.checked_mul(b).ok_or_else(overflow)?,
            BinaryOperator::Divide => {
                if b == 0 {
                    return Err(div0());
                }
                a.checked_div(b).ok_or_else(overflow)?
            }
            _ => {
                if b == 0 {
                    return Err(div0());
                }
                a.checked_rem(b).ok_or_else(overflow)?
            }
        }),
        (a, b) => {
            if matches!(op, BinaryOperator::Divide | BinaryOperator::Modulo) && as_f64(&b) == Some(0.0) {
                return Err(div0());
            }
            if matches!(a, Datum::Numeric(_)) || matches!(b, Datum::Numeric(_)) {
                if let Some(d) = decimal(&a).zip(decimal(&b)).and_then(|(a, b)| decimal_arith(op, a, b)) {
                    return Ok(d);
                }
            }
            let (Some(a), Some(b)) = (as_f64(&a), as_f64(&b)) else {
                return Err(SqlError::new("42883", "operator does not exist").into());
            };
            Datum::Float(match op {
                BinaryOperator::Plus => a + b,
                BinaryOperator::Minus => a - b,
                BinaryOperator::Multiply => a * b,
                BinaryOperator::Divide => {
                    if b == 0.0 {
                        return Err(div0());
                    }
                    a / b
                }
                _ => a % b,
            })
        }
    })
}

/// A `numeric` (or an integer) as a count of units of 10^-scale: `12.50` is (1250, 2). numeric
/// arithmetic is exact in PostgreSQL and keeps scales (`3.10 * 2` is `6.20`, `1.5 + 1.25` is
/// `2.75`), which f64 cannot do; i128 covers 38 digits, and past that the caller falls back to f64.
fn decimal(d: &Datum) -> Option<(i128, u32)> {
    match d {
        Datum::Int(n) => Some((*n as i128, 0)),
        Datum::Numeric(s) => parse_decimal(s),
        _ => None,
    }
}

/// The exact sum of integers and numerics, or `None` if any value is something else (a float).
fn decimal_sum(values: &[Datum]) -> Option<(i128, u32)> {
    values.iter().try_fold((0i128, 0u32), |acc, d| match decimal_arith(&BinaryOperator::Plus, acc, decimal(d)?)? {
        Datum::Numeric(s) => parse_decimal(&s),
        _ => None,
    })
}

/// `[+-]digits[.digits][e[+-]digits]`; anything else (NaN, Infinity) is left to f64. An exponent
/// moves the scale, as numeric input does: `1e3` is 1000 (scale 0), `1.5e-7` is 0.00000015.
fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    if let Some((mantissa, exp)) = s.split_once(['e', 'E']) {
        let (m, scale) = parse_decimal(mantissa)?;
        let exp: i64 = exp.parse().ok()?;
        let scale = i64::from(scale) - exp;
        if scale >= 0 {
            return Some((m, u32::try_from(scale).ok()?));
        }
        return Some((m.checked_mul(10i128.checked_pow(u32::try_from(-scale).ok()?)?)?, 0));
    }
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut m: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        m = m.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    Some((if negative { -m } else { m }, u32::try_from(frac.len()).ok()?))
}

/// The text PostgreSQL prints for (units, scale): every digit of the scale, even trailing zeros.
fn decimal_text(m: i128, scale: u32) -> String {
    let scale = scale as usize;
    let mut digits = m.unsigned_abs().to_string();
    if digits.len() <= scale {
        digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
    }
    let (int, frac) = digits.split_at(digits.len() - scale);
    let sign = if m < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// `+`, `-` and `%` (the larger scale), `*` (the scales added) and `/` (see [`division_scale`]), as
/// PostgreSQL's numeric does them. `None` when i128 is too small; the divisor is never zero here.
fn decimal_arith(op: &BinaryOperator, a: (i128, u32), b: (i128, u32)) -> Option<Datum> {
    let align = |(m, s): (i128, u32), to: u32| m.checked_mul(10i128.checked_pow(to - s)?);
    let (m, scale) = match op {
        BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Modulo => {
            let scale = a.1.max(b.1);
            let (x, y) = (align(a, scale)?, align(b, scale)?);
            let m = match op {
                BinaryOperator::Plus => x.checked_add(y)?,
                BinaryOperator::Minus => x.checked_sub(y)?,
                // Truncating, with the dividend's sign, as PostgreSQL's mod.
                _ => x.checked_rem(y)?,
            };
            (m, scale)
        }
        BinaryOperator::Multiply => (a.0.checked_mul(b.0)?, a.1.checked_add(b.1)?),
        BinaryOperator::Divide => {
            // a/b at scale r is a.0 * 10^(b.1 + r) / (b.0 * 10^a.1), rounded half away from zero.
            let r = division_scale(a, b);
            let num = a.0.checked_mul(10i128.checked_pow(b.1.checked_add(r)?)?)?;
            let den = b.0.checked_mul(10i128.checked_pow(a.1)?)?;
            let (q, rem) = (num.checked_div(den)?, num.checked_rem(den)?);
            let away = rem.unsigned_abs().checked_mul(2)? >= den.unsigned_abs();
            let m = if away { q + if (num < 0) != (den < 0) { -1 } else { 1 } } else { q };
            (m, r)
        }
        _ => return None,
    };
    Some(Datum::Numeric(decimal_text(m, scale)))
}

/// The scale of a numeric quotient, PostgreSQL's `select_div_scale`: enough digits for at least
/// 16 significant ones, and never fewer than either operand shows. Weights count base-10000
/// digits, as PostgreSQL stores numerics: `1.0 / 3` is `0.33333333333333333333` (20 places),
/// `5 / 2.0` is `2.5000000000000000` (16).
fn division_scale(a: (i128, u32), b: (i128, u32)) -> u32 {
    // (weight, first base-10000 digit) of |m| * 10^-scale; (0, 0) for zero.
    let weight = |(m, scale): (i128, u32)| -> (i64, u128) {
        let m = m.unsigned_abs();
        if m == 0 {
            return (0, 0);
        }
        // Pad the fraction to whole groups of four, then split |m| into base-10000 digits.
        let pad = (4 - scale % 4) % 4;
        let Some(mut v) = 10u128.checked_pow(pad).and_then(|p| m.checked_mul(p)) else { return (0, 0) };
        let frac_groups = i64::from((scale + pad) / 4);
        let mut groups = 0i64;
        let mut first = 0;
        while v > 0 {
            first = v % 10_000;
            v /= 10_000;
            groups += 1;
        }
        (groups - 1 - frac_groups, first)
    };
    let ((w1, d1), (w2, d2)) = (weight(a), weight(b));
    let mut qweight = w1 - w2;
    if d1 <= d2 {
        qweight -= 1;
    }
    let r = (16 - qweight * 4).max(i64::from(a.1)).max(i64::from(b.1)).clamp(0, 1000);
    r as u32
}

fn as_f64(d: &Datum) -> Option<f64> {
    match d {
        Datum::Int(n) => Some(*n as f64),
        Datum::Float(f) => Some(*f),
        Datum::Numeric(s) => s.parse().ok(),
        _ => None,
    }
}

/// Converts a value to a column's type, as an INSERT or a cast does, with PostgreSQL's errors.
/// A value for column `c`: converted to its type ([`coerce`]), then fitted to its declared
/// precision and scale when it is a `numeric(p,s)` ([`numeric_typmod`]).
fn coerce_col(v: Datum, c: &Column) -> R<Datum> {
    numeric_typmod(coerce(v, c.ty, c.max_len, Some(&c.name))?, c.declared.as_ref())
}

/// `numeric(p,s)` (and `decimal(p,s)`; `numeric(p)` is scale 0): the value rounded to `s`
/// decimals, half away from zero, and refused with 22003 when its integer part needs more than
/// `p - s` digits, as PostgreSQL's apply_typmod. Other types and plain `numeric` pass unchanged.
fn numeric_typmod(d: Datum, declared: Option<&DataType>) -> R<Datum> {
    use ast::ExactNumberInfo as E;
    let (p, s) = match declared {
        Some(DataType::Numeric(info) | DataType::Decimal(info) | DataType::Dec(info)) => match info {
            E::Precision(p) => (*p, 0),
            E::PrecisionAndScale(p, s) => (*p, u64::try_from(*s).unwrap_or(0)),
            E::None => return Ok(d),
        },
        _ => return Ok(d),
    };
    let text = match &d {
        Datum::Null => return Ok(d),
        Datum::Numeric(t) | Datum::Text(t) => t.clone(),
        Datum::Int(n) => n.to_string(),
        Datum::Float(f) if f.is_finite() => format!("{f}"),
        _ => return Ok(d),
    };
    let Some((m, scale)) = parse_decimal(&text) else { return Ok(d) };
    let s = u32::try_from(s).unwrap_or(u32::MAX).min(1000);
    // Round (or pad) the mantissa to `s` decimals.
    let m = if scale > s {
        let div = 10i128.checked_pow(scale - s);
        match div {
            Some(div) => {
                let (q, r) = (m / div, m % div);
                q + if r.abs() * 2 >= div { m.signum() } else { 0 }
            }
            None => 0,
        }
    } else {
        match 10i128.checked_pow(s - scale).and_then(|f| m.checked_mul(f)) {
            Some(m) => m,
            None => return Err(numeric_overflow(p, s)),
        }
    };
    let int_digits = {
        let whole = m.unsigned_abs() / 10u128.checked_pow(s).unwrap_or(u128::MAX);
        if whole == 0 {
            0
        } else {
            whole.to_string().len() as u64
        }
    };
    if int_digits > p.saturating_sub(u64::from(s)) {
        return Err(numeric_overflow(p, s));
    }
    Ok(Datum::Numeric(decimal_text(m, s)))
}

fn numeric_overflow(p: u64, s: u32) -> ExecError {
    let bound = match p.saturating_sub(u64::from(s)) {
        0 => "1".to_string(),
        n => format!("10^{n}"),
    };
    SqlError::new("22003", "numeric field overflow")
        .detail(format!("A field with precision {p}, scale {s} must round to an absolute value less than {bound}."))
        .into()
}

fn coerce(v: Datum, ty: SqlType, max_len: Option<usize>, column: Option<&str>) -> R<Datum> {
    let bad = |s: &str| {
        ExecError::from(SqlError::new("22P02", format!("invalid input syntax for type {}: \"{}\"", ty.name(), s)))
    };
    if let Some(r) = typed::coerce(&v, ty) {
        return r;
    }
    let out = match (ty, v) {
        (_, Datum::Null) => Datum::Null,
        (t, Datum::Int(n)) if t.is_integer() => Datum::Int(n),
        (t, Datum::Float(f)) if t.is_integer() => Datum::Int(f.round_ties_even() as i64),
        (t, Datum::Numeric(n)) if t.is_integer() => Datum::Int(n.parse::<f64>().map_err(|_| bad(&n))?.round() as i64),
        (SqlType::Numeric, Datum::Numeric(n)) => Datum::Numeric(n),
        (SqlType::Float4 | SqlType::Float8, Datum::Numeric(n)) => Datum::Float(n.parse().map_err(|_| bad(&n))?),
        (t, Datum::Text(s)) if t.is_integer() => Datum::Int(s.trim().parse().map_err(|_| bad(&s))?),
        (SqlType::Numeric, Datum::Int(n)) => Datum::Numeric(n.to_string()),
        (SqlType::Numeric, Datum::Text(s)) if parse_decimal(&s).is_some() => {
            let (m, scale) = parse_decimal(&s).expect("checked");
            Datum::Numeric(decimal_text(m, scale))
        }
        (SqlType::Float4 | SqlType::Float8, Datum::Int(n)) => Datum::Float(n as f64),
        (SqlType::Float4 | SqlType::Float8 | SqlType::Numeric, Datum::Float(f)) => Datum::Float(f),
        (SqlType::Float4 | SqlType::Float8 | SqlType::Numeric, Datum::Text(s)) => {
            Datum::Float(s.trim().parse().map_err(|_| bad(&s))?)
        }
        (SqlType::Bool, Datum::Bool(b)) => Datum::Bool(b),
        (SqlType::Bool, Datum::Text(s)) => Datum::Bool(parse_bool(&s).ok_or_else(|| bad(&s))?),
        (SqlType::Timestamp, Datum::Text(s)) => Datum::Text(bulk::timestamp_in(&s)?),
        // pg_lsn is kept as its `X/Y` text, normalised as PostgreSQL prints it.
        (SqlType::PgLsn, Datum::Text(s)) => Datum::Text(super::wal::Lsn::parse(&s).ok_or_else(|| bad(&s))?.to_string()),
        (SqlType::Oid, Datum::Int(n)) => {
            // oidin accepts what fits 32 bits, negative numbers wrapping as in C.
            let n = u32::try_from(n).or_else(|_| i32::try_from(n).map(|x| x as u32)).map_err(|_| {
                ExecError::from(SqlError::new("22003", format!("value \"{n}\" is out of range for type oid")))
            })?;
            Datum::Int(i64::from(n))
        }
        (SqlType::Oid, Datum::Text(s)) => {
            let n: i64 = s.trim().parse().map_err(|_| bad(&s))?;
            return coerce(Datum::Int(n), ty, max_len, column);
        }
        (SqlType::Name, d) => {
            // A name keeps at most 63 bytes (NAMEDATALEN - 1), cut at a character boundary.
            let s = d.to_text().unwrap_or_default();
            let mut end = s.len().min(63);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Datum::Text(s[..end].to_string())
        }
        (SqlType::Char, d) => Datum::Text(d.to_text().unwrap_or_default().chars().take(1).collect()),
        (SqlType::Text | SqlType::Varchar | SqlType::Unknown, d) => {
            let s = d.to_text().unwrap_or_default();
            if let Some(n) = max_len {
                if s.chars().count() > n {
                    return Err(
                        SqlError::new("22001", format!("value too long for type character varying({n})")).into()
                    );
                }
            }
            Datum::Text(s)
        }
        (t, d) => {
            let col = column
                .map(|c| format!("column \"{c}\" is of type {} but expression is of type {}", t.name(), type_of(&d)));
            return Err(SqlError::new(
                "42804",
                col.unwrap_or_else(|| format!("cannot cast {} to {}", type_of(&d), t.name())),
            )
            .hint("You will need to rewrite or cast the expression.")
            .into());
        }
    };
    // Range checks for the narrower integer types.
    if let Datum::Int(n) = out {
        let (lo, hi, name) = match ty {
            SqlType::Int2 => (i16::MIN as i64, i16::MAX as i64, "smallint"),
            SqlType::Int4 => (i32::MIN as i64, i32::MAX as i64, "integer"),
            _ => (i64::MIN, i64::MAX, "bigint"),
        };
        if n < lo || n > hi {
            return Err(SqlError::new("22003", format!("{name} out of range")).into());
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Writes.
// ------------------------------------------------------------------------------------------------

fn table_mut<'a>(db: &'a mut Database, name: &str) -> R<&'a mut Table> {
    db.tables.get_mut(name).ok_or_else(|| SqlError::new("42P01", format!("relation \"{name}\" does not exist")).into())
}

fn failing_row(row: &Row) -> String {
    let parts: Vec<String> = row.iter().map(|d| d.to_text().unwrap_or_else(|| "null".into())).collect();
    format!("Failing row contains ({}).", parts.join(", "))
}

/// NOT NULL, CHECK and UNIQUE for a row about to be written (`replacing` is the version it
/// replaces), in PostgreSQL's order. Deferrable unique constraints are checked later, when the
/// statement ends or at COMMIT (see `ri`).
fn check_row(db: &Database, table: &Table, row: &Row, own: &[Xid], replacing: Option<Ctid>) -> R<()> {
    for (i, c) in table.columns.iter().enumerate() {
        if c.not_null && row[i].is_null() {
            return Err(SqlError::new(
                "23502",
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, table.name
                ),
            )
            .detail(failing_row(row))
            .into());
        }
    }
    constraints::check_checks(db, table, row)?;
    for (ui, u) in table.uniques.iter().enumerate() {
        if u.deferrable {
            continue;
        }
        if unique_holder(db, table, ui, row, own, replacing)?.is_some() {
            return Err(unique_violation(table, ui, row));
        }
    }
    Ok(())
}

/// The live version that already holds `row`'s key in unique constraint `ui`, if any: created
/// by a committed transaction (or by us) and not deleted by a committed one (or by us). A
/// version a running transaction created or deletes makes the writer wait for it.
fn unique_holder(
    db: &Database,
    table: &Table,
    ui: usize,
    row: &Row,
    own: &[Xid],
    replacing: Option<Ctid>,
) -> R<Option<Ctid>> {
    let u = &table.uniques[ui];
    let key: Vec<&Datum> = u.columns.iter().map(|&i| &row[i]).collect();
    if key.iter().any(|d| d.is_null()) {
        return Ok(None);
    }
    let text_key: Vec<String> = key.iter().map(|d| d.to_text().unwrap_or_default()).collect();
    for &ctid in table.candidates(ui, &text_key) {
        let Some(v) = table.heap.get(ctid) else { continue };
        if Some(ctid) == replacing {
            continue;
        }
        let same = u.columns.iter().all(|&i| v.row[i].compare(&row[i]) == Some(std::cmp::Ordering::Equal));
        if !same {
            continue;
        }
        // Is that version alive for uniqueness purposes? Wait for undecided transactions.
        let creator = v.xmin;
        if !own.contains(&creator) {
            match db.tx.status(creator) {
                super::mvcc::Status::Aborted => continue,
                super::mvcc::Status::InProgress => return Err(ExecError::Wait(db.tx.top(creator))),
                super::mvcc::Status::Committed => {}
            }
        }
        if v.xmax != 0 && !v.lock_only {
            if own.contains(&v.xmax) {
                continue;
            }
            match db.tx.status(v.xmax) {
                super::mvcc::Status::Committed => continue,
                super::mvcc::Status::InProgress => return Err(ExecError::Wait(db.tx.top(v.xmax))),
                super::mvcc::Status::Aborted => {}
            }
        }
        return Ok(Some(ctid));
    }
    Ok(None)
}

/// 23505 for `row`'s key in unique constraint `ui`.
fn unique_violation(table: &Table, ui: usize, row: &Row) -> ExecError {
    let u = &table.uniques[ui];
    let names: Vec<&str> = u.columns.iter().map(|&i| table.columns[i].name.as_str()).collect();
    let vals: Vec<String> = u.columns.iter().map(|&i| row[i].to_text().unwrap_or_default()).collect();
    SqlError::new("23505", format!("duplicate key value violates unique constraint \"{}\"", u.name))
        .detail(format!("Key ({})=({}) already exists.", names.join(", "), vals.join(", ")))
        .into()
}

/// Writes a new row for the running statement: the constraint checks, the heap, the indexes,
/// the undo record, the WAL entry and the foreign key checks it queues.
#[allow(clippy::too_many_arguments)]
fn insert_row(db: &mut Database, sess: &mut Session, name: &str, row: Row, xid: Xid, cid: u32, own: &[Xid]) -> R<Ctid> {
    let t = db.tables.get(name).ok_or_else(|| SqlError::new("42P01", format!("relation \"{name}\" does not exist")))?;
    check_row(db, t, &row, own, None)?;
    let t = table_mut(db, name)?;
    let text = row.iter().map(|d| d.to_text().map(String::into_bytes)).collect();
    let ctid = t.heap.insert(xid, cid, row);
    constraints::index_row(db, name, ctid);
    db.undo.push((name.to_string(), ctid, None));
    db_stats(db, &sess.database).tup_inserted += 1;
    log_change(sess, xid, super::wal::WalEntry::Insert { table: name.to_string(), ctid, xid, cid, row: text });
    ri::after_insert(db, sess, name, ctid);
    Ok(ctid)
}

fn insert(db: &mut Database, sess: &mut Session, ins: &ast::Insert, xid: Xid) -> R<Output> {
    let ast::TableObject::TableName(tname) = &ins.table else {
        return Err(SqlError::new("0A000", "terrarium supports INSERT INTO a table only").into());
    };
    let name = object_name(tname);
    note_write(sess, &name);
    let table = table_mut(db, &name)?.clone_shape();
    let targets: Vec<usize> = if ins.columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        let mut v = Vec::new();
        for c in &ins.columns {
            let cname = object_name(c);
            let Some(i) = table.column(&cname) else {
                return Err(SqlError::new(
                    "42703",
                    format!("column \"{cname}\" of relation \"{name}\" does not exist"),
                )
                .into());
            };
            v.push(i);
        }
        v
    };
    let Some(source) = &ins.source else {
        return Err(SqlError::new("0A000", "terrarium needs VALUES or SELECT in INSERT").into());
    };
    let conflict = upsert::plan(db, &name, ins)?;
    // `None` is the DEFAULT keyword; an explicit NULL is `Some(Datum::Null)` and stays NULL.
    let value_rows: Vec<Vec<Option<Datum>>> = match source.body.as_ref() {
        SetExpr::Values(values) => {
            // A subquery among the values reads through the statement's snapshot.
            let s = snapshot(db, sess);
            let ctx = query::Ctx::new(s, false);
            let scope = Scope { ctx: Some(&ctx), ..Scope::empty() };
            let mut out = Vec::new();
            for exprs in &values.rows {
                if exprs.content.len() > targets.len() {
                    return Err(SqlError::new("42601", "INSERT has more expressions than target columns").into());
                }
                // Without a column list, missing trailing values take their defaults; with one,
                // every listed column needs a value.
                if !ins.columns.is_empty() && exprs.content.len() < targets.len() {
                    return Err(SqlError::new("42601", "INSERT has more target columns than expressions").into());
                }
                let mut row = Vec::new();
                for e in &exprs.content {
                    row.push(if matches!(e, Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default")) {
                        None
                    } else {
                        Some(eval(e, &scope, db)?)
                    });
                }
                out.push(row);
            }
            for t in ctx.reads.take() {
                note_read(sess, &t);
            }
            out
        }
        _ => {
            // INSERT ... SELECT: the query's width is checked against the target columns while
            // the statement is analysed, before any row is read.
            let width = query::plan_query(db, source, None)?.columns.len();
            if width > targets.len() {
                return Err(SqlError::new("42601", "INSERT has more expressions than target columns").into());
            }
            if !ins.columns.is_empty() && width < targets.len() {
                return Err(SqlError::new("42601", "INSERT has more target columns than expressions").into());
            }
            match select(db, sess, source)? {
                Output::Rows { rows, .. } => rows.into_iter().map(|r| r.into_iter().map(Some).collect()).collect(),
                _ => Vec::new(),
            }
        }
    };
    let own = sess.txn.as_ref().expect("open").own.clone();
    let cid = sess.txn.as_ref().expect("open").cid;
    let mut written = Vec::new();
    for values in value_rows {
        let mut row = vec![Datum::Null; table.columns.len()];
        let mut given = vec![false; table.columns.len()];
        for (k, v) in values.into_iter().enumerate() {
            let i = targets[k];
            if let Some(v) = v {
                row[i] = coerce_col(v, &table.columns[i])?;
                given[i] = true;
            }
        }
        for (i, c) in table.columns.iter().enumerate() {
            if given[i] {
                continue;
            }
            if c.serial {
                let t = table_mut(db, &name)?;
                t.sequence += 1;
                row[i] = Datum::Int(t.sequence);
            } else if let Some(d) = &c.default {
                let v = eval(d, &Scope::empty(), db)?;
                row[i] = coerce_col(v, &c)?;
            }
        }
        if let Some(plan) = &conflict {
            match upsert::on_conflict(db, sess, &name, plan, &row, xid, cid, &own)? {
                upsert::Outcome::Insert => {}
                upsert::Outcome::Skipped => continue,
                upsert::Outcome::Updated(new) => {
                    written.push(new);
                    continue;
                }
            }
        }
        written.push(insert_row(db, sess, &name, row, xid, cid, &own)?);
    }
    let n = written.len();
    if let Some(items) = &ins.returning {
        return returning(db, &name, &written, items, format!("INSERT 0 {n}"));
    }
    Ok(Output::Command(format!("INSERT 0 {n}")))
}

impl Table {
    /// The table without its rows: what INSERT needs while it changes the heap.
    fn clone_shape(&self) -> Table {
        Table {
            name: self.name.clone(),
            columns: self.columns.clone(),
            uniques: self.uniques.clone(),
            heap: Heap::new(),
            sequence: self.sequence,
            index: Vec::new(),
        }
    }
}

fn returning(db: &Database, name: &str, ctids: &[Ctid], items: &[SelectItem], tag: String) -> R<Output> {
    let table = db.tables.get(name).expect("exists");
    let ns = [query::NsItem::table(table, None)];
    let (columns, outs) = query::returning_list(db, items, &Scope { ns: &ns, rtable: &ns, ..Scope::empty() })?;
    let mut rows = Vec::new();
    for &c in ctids {
        let v = table.heap.get(c).expect("just written");
        let scope = Scope::heap(&ns, c, v, None);
        rows.push(outs.iter().map(|o| query::out_value(o, &scope, db)).collect::<R<Vec<_>>>()?);
    }
    Ok(Output::Rows { columns, rows, tag })
}

/// The versions a WHERE clause can be answered from through a unique index: when one of its
/// AND-ed terms is `column = value` on a single-column unique constraint, the value naming
/// nothing of the table's level (`ns`): a constant, a parameter, or a column of an enclosing
/// query (computed in `values`, a correlated subquery's surroundings). `None` means scan.
fn index_candidates(
    db: &Database,
    t: &Table,
    selection: &Expr,
    ns: &[query::NsItem],
    values: &Scope,
) -> Option<Vec<Ctid>> {
    fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                conjuncts(left, out);
                conjuncts(right, out);
            }
            Expr::Nested(x) => conjuncts(x, out),
            other => out.push(other),
        }
    }
    let mut terms = Vec::new();
    conjuncts(selection, &mut terms);
    let local = Scope { ns, rtable: ns, ..Scope::empty() };
    for term in terms {
        let Expr::BinaryOp { left, op: BinaryOperator::Eq, right } = term else { continue };
        for (col, value) in [(left, right), (right, left)] {
            let found = match col.as_ref() {
                Expr::Identifier(i) => query::resolve(&local, None, &ident(i)),
                Expr::CompoundIdentifier(p) => {
                    let (q, name) = query::split_name(p);
                    query::resolve(&local, q.as_deref(), &name)
                }
                _ => continue,
            };
            let Ok((0, query::Target::Col(query::ColSrc::At(ci), _))) = found else { continue };
            if ci >= t.columns.len() || query::names_level(value, ns) {
                continue;
            }
            let unique = t.uniques.iter().position(|u| u.columns == [ci]);
            let plain = db.constraints.get(&t.name).is_some_and(|c| c.indexes.iter().any(|i| i.columns == [ci]));
            if unique.is_none() && !plain {
                continue;
            }
            // The value, converted as the comparison would convert it.
            let Ok(v) = eval(value, values, db) else { continue };
            let c = &t.columns[ci];
            let Ok(v) = coerce(v, c.ty, None, None) else { continue };
            let Some(key) = v.to_text() else { return Some(Vec::new()) };
            return match unique {
                Some(u) => Some(t.candidates(u, &[key]).to_vec()),
                None => constraints::plain_candidates(db, &t.name, ci, &key),
            };
        }
    }
    None
}

/// The visible versions of `t`, all of them or only `candidates`.
fn visible_versions<'a>(
    db: &'a Database,
    t: &'a Table,
    s: &'a Snapshot,
    candidates: Option<Vec<Ctid>>,
) -> Box<dyn Iterator<Item = (Ctid, &'a Version<Row>)> + 'a> {
    match candidates {
        None => Box::new(t.heap.scan(&db.tx, s)),
        Some(mut c) => {
            c.sort();
            c.dedup();
            Box::new(
                c.into_iter()
                    .filter_map(move |ctid| t.heap.get(ctid).filter(|v| db.tx.visible(s, v)).map(|v| (ctid, v))),
            )
        }
    }
}

/// The visible rows of `name` that satisfy `selection` (UPDATE and DELETE).
fn matching(
    db: &Database,
    ctx: &query::Ctx,
    name: &str,
    alias: Option<&str>,
    selection: Option<&Expr>,
) -> R<Vec<Ctid>> {
    let table =
        db.tables.get(name).ok_or_else(|| SqlError::new("42P01", format!("relation \"{name}\" does not exist")))?;
    let ns = [query::NsItem::table(table, alias)];
    let values = Scope { ctx: Some(ctx), ..Scope::empty() };
    let candidates = selection.and_then(|w| index_candidates(db, table, w, &ns, &values));
    let mut out = Vec::new();
    for (ctid, v) in visible_versions(db, table, &ctx.snapshot, candidates) {
        let scope = Scope::heap(&ns, ctid, v, Some(ctx));
        if selection.map(|w| eval(w, &scope, db).map(|d| truthy(&d))).transpose()?.unwrap_or(true) {
            out.push(ctid);
        }
    }
    Ok(out)
}

fn single_table(t: &ast::TableWithJoins) -> R<(String, Option<String>)> {
    if !t.joins.is_empty() {
        return Err(SqlError::new("0A000", "terrarium does not support joins yet").into());
    }
    match &t.relation {
        TableFactor::Table { name, alias, .. } => Ok((object_name(name), alias.as_ref().map(|a| ident(&a.name)))),
        _ => Err(SqlError::new("0A000", "terrarium supports plain tables in FROM only").into()),
    }
}

enum Change {
    Update(Vec<(usize, Expr)>),
    Delete,
}

/// UPDATE and DELETE: find the rows, then change each, handling concurrent writers as the
/// module header describes.
fn modify(
    db: &mut Database,
    sess: &mut Session,
    name: &str,
    alias: Option<String>,
    selection: Option<&Expr>,
    change: &Change,
    xid: Xid,
) -> R<Vec<Ctid>> {
    note_read(sess, name);
    note_write(sess, name);
    let s = snapshot(db, sess);
    let t = sess.txn.as_ref().expect("open");
    let (own, cid, isolation) = (t.own.clone(), t.cid, t.isolation);
    // Subqueries in WHERE and SET read through the statement's snapshot too.
    let ctx = query::Ctx::new(s, false);
    let written = modify_rows(db, sess, &ctx, name, alias.as_deref(), selection, change, xid, (&own, cid, isolation));
    for t in ctx.reads.take() {
        note_read(sess, &t);
    }
    written
}

#[allow(clippy::too_many_arguments)]
fn modify_rows(
    db: &mut Database,
    sess: &mut Session,
    ctx: &query::Ctx,
    name: &str,
    alias: Option<&str>,
    selection: Option<&Expr>,
    change: &Change,
    xid: Xid,
    (own, cid, isolation): (&[Xid], u32, Isolation),
) -> R<Vec<Ctid>> {
    let targets = matching(db, ctx, name, alias, selection)?;
    let ns = [query::NsItem::table(table_mut(db, name)?, alias)];
    let mut written = Vec::new();
    for mut ctid in targets {
        loop {
            let table = db.tables.get(name).expect("exists");
            // Row conflicts first, as PostgreSQL: a concurrent update is a wait or a 40001 before
            // any constraint is looked at.
            let outcome = table.heap.check_writable(&db.tx, ctid, own).err();
            let old = table.heap.get(ctid).expect("visible").clone();
            let new_row = if outcome.is_some() {
                None
            } else {
                match change {
                    Change::Update(sets) => {
                        let scope = Scope::heap(&ns, ctid, &old, Some(ctx));
                        let mut row = old.row.clone();
                        for (i, e) in sets {
                            let v = eval(e, &scope, db)?;
                            let c = &table.columns[*i];
                            row[*i] = coerce_col(v, &c)?;
                        }
                        check_row(db, table, &row, own, Some(ctid))?;
                        Some(row)
                    }
                    Change::Delete => None,
                }
            };
            let outcome = match outcome {
                Some(o) => o,
                // The write itself, with its indexes, WAL entries and constraint events.
                None => ri::write(db, sess, name, ctid, new_row, xid, cid, own),
            };
            match outcome {
                WriteOutcome::Ok(new) => {
                    written.push(new.unwrap_or(ctid));
                    break;
                }
                WriteOutcome::Wait(x) => return Err(ExecError::Wait(x)),
                WriteOutcome::Deleted if !isolation.transaction_snapshot() => break,
                WriteOutcome::Moved(next) if !isolation.transaction_snapshot() => {
                    // EvalPlanQual: follow the row to its newest version and re-check WHERE.
                    let mut newest = next;
                    let table = db.tables.get(name).expect("exists");
                    while let Some(n) = table.heap.get(newest).and_then(|v| v.next) {
                        newest = n;
                    }
                    let v = table.heap.get(newest).expect("exists");
                    let scope = Scope::heap(&ns, newest, v, Some(ctx));
                    let still = selection.map(|w| eval(w, &scope, db).map(|d| truthy(&d))).transpose()?.unwrap_or(true);
                    if !still {
                        break;
                    }
                    ctid = newest;
                }
                WriteOutcome::Deleted => return Err(concurrent_change_error("delete").into()),
                WriteOutcome::Moved(_) => return Err(concurrent_change_error("update").into()),
            }
        }
    }
    Ok(written)
}

fn update(db: &mut Database, sess: &mut Session, up: &ast::Update, xid: Xid) -> R<Output> {
    let (name, alias) = single_table(&up.table)?;
    let table =
        db.tables.get(&name).ok_or_else(|| SqlError::new("42P01", format!("relation \"{name}\" does not exist")))?;
    let mut sets = Vec::new();
    for a in &up.assignments {
        let ast::AssignmentTarget::ColumnName(c) = &a.target else {
            return Err(SqlError::new("0A000", "terrarium does not support tuple assignment").into());
        };
        let cname = object_name(c);
        let Some(i) = table.column(&cname) else {
            return Err(
                SqlError::new("42703", format!("column \"{cname}\" of relation \"{name}\" does not exist")).into()
            );
        };
        sets.push((i, a.value.clone()));
    }
    let written = modify(db, sess, &name, alias, up.selection.as_ref(), &Change::Update(sets), xid)?;
    let tag = format!("UPDATE {}", written.len());
    if let Some(items) = &up.returning {
        return returning(db, &name, &written, items, tag);
    }
    Ok(Output::Command(tag))
}

fn delete(db: &mut Database, sess: &mut Session, del: &ast::Delete, xid: Xid) -> R<Output> {
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
    };
    let Some(first) = from.first() else {
        return Err(SqlError::new("42601", "syntax error at end of input").into());
    };
    let (name, alias) = single_table(first)?;
    let written = modify(db, sess, &name, alias, del.selection.as_ref(), &Change::Delete, xid)?;
    let tag = format!("DELETE {}", written.len());
    if let Some(items) = &del.returning {
        // The deleted versions still hold their values.
        return returning(db, &name, &written, items, tag);
    }
    Ok(Output::Command(tag))
}

// ------------------------------------------------------------------------------------------------
// SELECT.
// ------------------------------------------------------------------------------------------------

fn output_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => ident(i),
        Expr::CompoundIdentifier(p) => p.last().map(ident).unwrap_or_default(),
        Expr::Function(f) => function_name(f),
        Expr::Nested(inner) => output_name(inner),
        Expr::Subquery(q) => query::subquery_output_name(q),
        // `NOT EXISTS` is a NOT over EXISTS to PostgreSQL, which names no column after it.
        Expr::Exists { negated: false, .. } => "exists".into(),
        Expr::Case { .. } => "case".into(),
        Expr::Extract { .. } => "extract".into(),
        Expr::Substring { shorthand: true, .. } => "substr".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { trim_where: Some(ast::TrimWhereField::Leading), .. } => "ltrim".into(),
        Expr::Trim { trim_where: Some(ast::TrimWhereField::Trailing), .. } => "rtrim".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        Expr::Interval(_) => "interval".into(),
        Expr::TypedString(ts) => {
            column_type(&ts.data_type).map(|(t, _, _)| pg_internal_name(t).to_string()).unwrap_or("?column?".into())
        }
        Expr::Cast { expr, data_type, .. } => match expr.as_ref() {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_) => output_name(expr),
            // `col::regtype::text` is still named after the column, as PostgreSQL's FigureColname
            // looks through casts for a name stronger than a type's.
            Expr::Cast { .. } if catalog::cast_of_named(expr) => output_name(expr),
            _ => match catalog::reg_type(data_type) {
                Some(reg) => reg.to_string(),
                None => {
                    column_type(data_type).map(|(t, _, _)| pg_internal_name(t).to_string()).unwrap_or("?column?".into())
                }
            },
        },
        _ => "?column?".into(),
    }
}

fn pg_internal_name(t: SqlType) -> &'static str {
    match t {
        SqlType::Bool => "bool",
        SqlType::Int2 => "int2",
        SqlType::Int4 => "int4",
        SqlType::Int8 => "int8",
        SqlType::Float4 => "float4",
        SqlType::Float8 => "float8",
        SqlType::Numeric => "numeric",
        SqlType::Varchar => "varchar",
        SqlType::Name => "name",
        SqlType::Oid => "oid",
        SqlType::Char => "char",
        SqlType::Date => "date",
        SqlType::Interval => "interval",
        SqlType::Uuid => "uuid",
        SqlType::Bytea => "bytea",
        SqlType::Jsonb => "jsonb",
        SqlType::Json => "json",
        SqlType::Timestamp => "timestamp",
        SqlType::Timestamptz => "timestamptz",
        _ => "text",
    }
}

/// The type PostgreSQL would give an expression, as far as this executor knows it.
fn static_type(e: &Expr, scope: &Scope, db: &Database) -> SqlType {
    let column =
        |q: Option<&str>, name: &str| query::resolve(scope, q, name).map(|(_, t)| t.ty()).unwrap_or(SqlType::Text);
    match e {
        Expr::Identifier(i) => column(None, &ident(i)),
        Expr::CompoundIdentifier(p) => {
            let (q, name) = query::split_name(p);
            column(q.as_deref(), &name)
        }
        Expr::Subquery(q) => query::subquery_type(q, scope, db),
        Expr::Exists { .. } | Expr::AnyOp { .. } | Expr::AllOp { .. } => SqlType::Bool,
        Expr::Case { conditions, else_result, .. } => {
            match conditions.iter().map(|w| &w.result).chain(else_result.as_deref()).find(|x| !query::is_unknown(x)) {
                Some(x) => static_type(x, scope, db),
                None => SqlType::Text,
            }
        }
        Expr::Value(v) => match &v.value {
            Value::Number(s, _) => match s.parse::<i64>() {
                Ok(n) if i32::try_from(n).is_ok() => SqlType::Int4,
                Ok(_) => SqlType::Int8,
                Err(_) => SqlType::Numeric,
            },
            Value::Boolean(_) => SqlType::Bool,
            _ => SqlType::Text,
        },
        // `-2147483648` is an int4 literal in PostgreSQL, though 2147483648 alone is not.
        Expr::UnaryOp { op: UnaryOperator::Minus, expr: inner } => match inner.as_ref() {
            Expr::Value(v) if matches!(v.value, Value::Number(..)) => match format!("-{}", v.value).parse::<i64>() {
                Ok(n) if i32::try_from(n).is_ok() => SqlType::Int4,
                Ok(_) => SqlType::Int8,
                Err(_) => SqlType::Numeric,
            },
            _ => static_type(inner, scope, db),
        },
        Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => static_type(inner, scope, db),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::PGExp => SqlType::Float8,
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::And
            | BinaryOperator::Or
            | BinaryOperator::PGRegexMatch
            | BinaryOperator::PGRegexIMatch
            | BinaryOperator::PGRegexNotMatch
            | BinaryOperator::PGRegexNotIMatch => SqlType::Bool,
            BinaryOperator::PGCustomBinaryOperator(parts) if parts.last().is_some_and(|p| p != "||") => SqlType::Bool,
            BinaryOperator::StringConcat => SqlType::Text,
            // PostgreSQL's operator choice: smallint with smallint stays smallint, real with real
            // stays real, any other mix with a float is double precision.
            _ => {
                let (l, r) = (static_type(left, scope, db), static_type(right, scope, db));
                if let Some(t) = typed::binary_type(op, l, r) {
                    return t;
                }
                let float = |t: SqlType| matches!(t, SqlType::Float4 | SqlType::Float8);
                if l.is_integer() && r.is_integer() {
                    if l == SqlType::Int2 && r == SqlType::Int2 {
                        SqlType::Int2
                    } else if l == SqlType::Int8 || r == SqlType::Int8 {
                        SqlType::Int8
                    } else {
                        SqlType::Int4
                    }
                } else if l == SqlType::Float4 && r == SqlType::Float4 {
                    SqlType::Float4
                } else if float(l) || float(r) {
                    SqlType::Float8
                } else if l == SqlType::Int8 || r == SqlType::Int8 {
                    SqlType::Int8
                } else {
                    SqlType::Numeric
                }
            }
        },
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::In { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. } => SqlType::Bool,
        Expr::Cast { data_type, .. } => column_type(data_type).map(|t| t.0).unwrap_or(SqlType::Text),
        Expr::TypedString(ts) => column_type(&ts.data_type).map(|t| t.0).unwrap_or(SqlType::Text),
        Expr::Interval(_) => SqlType::Interval,
        Expr::Extract { .. } => SqlType::Numeric,
        Expr::Substring { .. } | Expr::Trim { .. } => SqlType::Text,
        Expr::Position { .. } => SqlType::Int4,
        Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => {
            functions::result_type("ceil", &[static_type(expr, scope, db)]).unwrap_or(SqlType::Numeric)
        }
        Expr::Function(f) => match function_name(f).as_str() {
            "count" => SqlType::Int8,
            // PostgreSQL's sum() widens integers (int2/int4 to bigint, bigint to numeric) and keeps
            // floating-point types as they are.
            "sum" => match function_args(f).first() {
                Some(FunctionArgExpr::Expr(e)) => match static_type(e, scope, db) {
                    SqlType::Int2 | SqlType::Int4 => SqlType::Int8,
                    t @ (SqlType::Float4 | SqlType::Float8) => t,
                    _ => SqlType::Numeric,
                },
                _ => SqlType::Numeric,
            },
            "avg" => match function_args(f).first() {
                Some(FunctionArgExpr::Expr(e))
                    if matches!(static_type(e, scope, db), SqlType::Float4 | SqlType::Float8) =>
                {
                    SqlType::Float8
                }
                _ => SqlType::Numeric,
            },
            "min" | "max" | "abs" | "coalesce" | "greatest" | "least" | "nullif" => match function_args(f).first() {
                Some(FunctionArgExpr::Expr(e)) => static_type(e, scope, db),
                _ => SqlType::Text,
            },
            "length" | "char_length" => SqlType::Int4,
            "bool_and" | "bool_or" | "every" => SqlType::Bool,
            "string_agg" => SqlType::Text,
            "generate_series" => {
                let types: Vec<SqlType> = function_args(f)
                    .iter()
                    .filter_map(|a| match a {
                        FunctionArgExpr::Expr(e) if !query::is_unknown(e) => Some(static_type(e, scope, db)),
                        _ => None,
                    })
                    .collect();
                if types.contains(&SqlType::Numeric) {
                    SqlType::Numeric
                } else if types.contains(&SqlType::Int8) {
                    SqlType::Int8
                } else {
                    SqlType::Int4
                }
            }
            "pg_sleep" => SqlType::Void,
            "txid_current" => SqlType::Int8,
            "pg_current_wal_lsn" | "pg_current_wal_insert_lsn" | "pg_current_wal_flush_lsn" => SqlType::PgLsn,
            "pg_walfile_name" => SqlType::Text,
            "pg_wal_lsn_diff" => SqlType::Numeric,
            "pg_current_xact_id" => SqlType::Xid,
            "now" | "current_timestamp" | "transaction_timestamp" | "clock_timestamp" | "statement_timestamp" => {
                SqlType::Timestamptz
            }
            "date_trunc" => match function_args(f).get(1) {
                Some(FunctionArgExpr::Expr(e)) => typed::date_trunc_type(static_type(e, scope, db)),
                _ => SqlType::Timestamptz,
            },
            other => typed::function_type(other)
                .or_else(|| catalog::function_type(other))
                .or_else(|| {
                    let types: Vec<SqlType> = function_args(f)
                        .iter()
                        .map(|a| match a {
                            FunctionArgExpr::Expr(e) => static_type(e, scope, db),
                            _ => SqlType::Text,
                        })
                        .collect();
                    functions::result_type(other, &types)
                })
                .unwrap_or(SqlType::Text),
        },
        Expr::Collate { expr, .. } => static_type(expr, scope, db),
        _ => SqlType::Text,
    }
}

const STAT_VIEW: &str = "pg_stat_user_tables";

fn mentions_stat_view(q: &ast::Query) -> bool {
    query::reads_table(q, STAT_VIEW)
}

/// `pg_stat_user_tables`, built from the heaps when a query reads it: one row per table with its
/// live and dead versions (what VACUUM would remove). PostgreSQL's view has many more columns and
/// its counts lag behind (the statistics collector); these are exact and immediate.
fn materialize_stat_view(db: &mut Database) {
    let col = |name: &str, ty| Column {
        name: name.into(),
        ty,
        max_len: None,
        not_null: false,
        default: None,
        serial: false,
        declared: None,
    };
    let mut heap = Heap::new();
    for t in db.tables.values() {
        let (live, dead) = t.heap.counts(&db.tx);
        let row = vec![
            Datum::Text("public".into()),
            Datum::Text(t.name.clone()),
            Datum::Int(live as i64),
            Datum::Int(dead as i64),
        ];
        // xid 1 is PostgreSQL's bootstrap xid: committed and visible to every snapshot.
        heap.insert(1, 0, row);
    }
    db.tables.insert(
        STAT_VIEW.into(),
        Table {
            name: STAT_VIEW.into(),
            columns: vec![
                col("schemaname", SqlType::Text),
                col("relname", SqlType::Text),
                col("n_live_tup", SqlType::Int8),
                col("n_dead_tup", SqlType::Int8),
            ],
            uniques: Vec::new(),
            heap,
            sequence: 0,
            index: Vec::new(),
        },
    );
}

/// A query: planned (every name resolved, as PostgreSQL's analysis does), then run through the
/// statement's snapshot (see `query`). The tables it read count for SERIALIZABLE.
fn select(db: &mut Database, sess: &mut Session, q: &ast::Query) -> R<Output> {
    let s = snapshot(db, sess);
    let ctx = query::Ctx::new(s, true);
    let result = query::run_query(db, &ctx, q);
    for t in ctx.reads.take() {
        note_read(sess, &t);
    }
    let (columns, rows) = result?;
    let n = rows.len();
    Ok(Output::Rows { columns, rows, tag: format!("SELECT {n}") })
}

/// SELECT ... FOR UPDATE / FOR SHARE [OF t] [NOWAIT | SKIP LOCKED]: locks the table rows behind
/// the query's result, before it is read, the way UPDATE would (waiting for a holder,
/// re-checking a row that moved under READ COMMITTED, 40001 under the stricter levels). Rows are
/// taken in the result's order and only as many as OFFSET and LIMIT let through, as
/// PostgreSQL's LockRows under Limit does, so that `ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`
/// hands each worker a different row. FOR UPDATE sets the row's xmax, as PostgreSQL does; FOR SHARE
/// is recorded beside the row (`Database::share_locks`), so that several transactions can hold it
/// at once (PostgreSQL keeps them in xmax too, through a MultiXactId).
fn lock_rows(db: &mut Database, sess: &mut Session, q: &ast::Query, xid: Xid) -> R<()> {
    let s = snapshot(db, sess);
    let ctx = query::Ctx::new(s, false);
    let plan = query::plan_query(db, q, None)?;
    let targets = query::lock_targets(&plan, q)?;
    let nonblock = q.locks.iter().find_map(|l| l.nonblock);
    let t = sess.txn.as_ref().expect("open");
    let (own, isolation) = (t.own.clone(), t.isolation);
    let sleep = db.sleep_request.get();
    let rows = query::run_ordered(db, &ctx, &plan, None, true);
    db.sleep_request.set(sleep);
    let rows = rows?;
    for t in ctx.reads.take() {
        note_read(sess, &t);
    }
    // How many result rows must be had: OFFSET's and LIMIT's (locked rows skipped by SKIP LOCKED
    // do not count).
    let wanted = {
        let (offset, limit) = query_limits(db, &ctx, q)?;
        limit.map(|l| l.saturating_add(offset))
    };
    let recheck = query::single_table_recheck(&plan);
    let mut taken: std::collections::HashSet<(String, Ctid)> = std::collections::HashSet::new();
    let mut had = 0usize;
    for out in &rows {
        if wanted.is_some_and(|w| had >= w) {
            break;
        }
        let mut row_ok = true;
        for (name, slot) in &targets {
            let Some(Some((first, _, _))) = out.sys.get(*slot) else { continue };
            let mut ctid = *first;
            if taken.contains(&(name.clone(), ctid)) {
                continue;
            }
            loop {
                // FOR UPDATE conflicts with the FOR KEY SHARE locks of foreign key checks and
                // with FOR SHARE locks; FOR SHARE only with writers and FOR UPDATE (xmax).
                let exclusive = q.locks.iter().any(|l| l.lock_type == ast::LockType::Update);
                let shared_locked = match exclusive {
                    true => ri::key_lock_holder(db, name, ctid, &own).or(ri::share_lock_holder(db, name, ctid, &own)),
                    false => None,
                };
                let tx = &db.tx;
                let table = db.tables.get_mut(name).expect("exists");
                let saved = table.heap.saved(ctid);
                let outcome = match table.heap.check_writable(tx, ctid, &own) {
                    Ok(()) if shared_locked.is_some() => WriteOutcome::Wait(shared_locked.expect("checked")),
                    // FOR SHARE is kept beside the row, so that several transactions can hold it.
                    Ok(()) if !exclusive => WriteOutcome::Ok(None),
                    Err(o) if !exclusive => o,
                    _ => table.heap.lock(tx, ctid, xid, &own),
                };
                match outcome {
                    WriteOutcome::Ok(_) if !exclusive => {
                        ri::add_shared_lock(db, ri::Shared::Share, name, ctid, xid);
                        taken.insert((name.clone(), ctid));
                        break;
                    }
                    WriteOutcome::Ok(_) => {
                        db.undo.push((name.clone(), ctid, saved));
                        taken.insert((name.clone(), ctid));
                        break;
                    }
                    WriteOutcome::Wait(x) => match nonblock {
                        Some(ast::NonBlock::Nowait) => {
                            return Err(SqlError::new(
                                "55P03",
                                format!("could not obtain lock on row in relation \"{name}\""),
                            )
                            .into())
                        }
                        Some(ast::NonBlock::SkipLocked) => {
                            db.skip.insert((name.clone(), ctid));
                            row_ok = false;
                            break;
                        }
                        None => return Err(ExecError::Wait(x)),
                    },
                    WriteOutcome::Deleted if !isolation.transaction_snapshot() => {
                        row_ok = false;
                        break;
                    }
                    WriteOutcome::Moved(next) if !isolation.transaction_snapshot() => {
                        // EvalPlanQual: the newest version, if it still satisfies WHERE (checked
                        // for single-table queries).
                        let table = db.tables.get(name).expect("exists");
                        let mut newest = next;
                        while let Some(n) = table.heap.get(newest).and_then(|v| v.next) {
                            newest = n;
                        }
                        if let (Some((ns, Some(w))), Some(v)) = (recheck, table.heap.get(newest)) {
                            let scope = Scope::heap(ns, newest, v, Some(&ctx));
                            if !truthy(&eval(w, &scope, db)?) {
                                row_ok = false;
                                break;
                            }
                        }
                        ctid = newest;
                    }
                    WriteOutcome::Deleted => return Err(concurrent_change_error("delete").into()),
                    WriteOutcome::Moved(_) => return Err(concurrent_change_error("update").into()),
                }
            }
        }
        if row_ok {
            had += 1;
        }
    }
    Ok(())
}

/// A query's OFFSET and LIMIT, evaluated.
fn query_limits(db: &Database, ctx: &query::Ctx, q: &ast::Query) -> R<(usize, Option<usize>)> {
    query::limits(db, ctx, q, None)
}

/// A parameter sent as text where a count is expected (`LIMIT $1`).
fn as_int(d: Datum) -> Datum {
    match d {
        Datum::Text(s) => s.trim().parse().map(Datum::Int).unwrap_or(Datum::Text(s)),
        d => d,
    }
}

/// The types PostgreSQL would infer for untyped `$n` parameters, as far as terrarium can tell: a
/// parameter compared with, assigned to or inserted into a column takes the column's type (also
/// a subquery's column, a cast's type, a number's); LIMIT and OFFSET take bigint; anything else
/// stays text (25). Drivers that send typed binary values (tokio-postgres) rely on this.
pub fn infer_param_types(db: &Database, stmt: &Statement, n: usize) -> Vec<u32> {
    catalog::with_catalogs(db, None, stmt, |db| infer_param_types_in(db, stmt, n))
}

fn infer_param_types_in(db: &Database, stmt: &Statement, n: usize) -> Vec<u32> {
    let mut types = vec![0u32; n];
    let placeholder = |e: &Expr| -> Option<usize> {
        match e {
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => p.trim_start_matches('$').parse::<usize>().ok().filter(|&i| i >= 1 && i <= n),
                _ => None,
            },
            _ => None,
        }
    };
    let mut assign = |e: &Expr, ty: SqlType| {
        if let Some(i) = placeholder(e) {
            if types[i - 1] == 0 {
                types[i - 1] = ty.oid();
            }
        }
    };
    let table_of = |name: String| db.tables.get(&name);
    match stmt {
        Statement::Query(q) => {
            query::infer_query(db, q, None, &mut assign);
            if let Some(ast::LimitClause::LimitOffset { limit, offset, .. }) = &q.limit_clause {
                if let Some(l) = limit {
                    assign(l, SqlType::Int8);
                }
                if let Some(o) = offset {
                    assign(&o.value, SqlType::Int8);
                }
            }
        }
        Statement::Insert(ins) => {
            if let ast::TableObject::TableName(tn) = &ins.table {
                if let Some(t) = table_of(object_name(tn)) {
                    let targets: Vec<usize> = if ins.columns.is_empty() {
                        (0..t.columns.len()).collect()
                    } else {
                        ins.columns.iter().filter_map(|c| t.column(&object_name(c))).collect()
                    };
                    match ins.source.as_ref().map(|s| (s, s.body.as_ref())) {
                        Some((_, SetExpr::Values(v))) => {
                            for row in &v.rows {
                                for (k, e) in row.content.iter().enumerate() {
                                    if let Some(&ci) = targets.get(k) {
                                        assign(e, t.columns[ci].ty);
                                    }
                                    query::infer_expr(db, e, &Scope::empty(), &mut assign);
                                }
                            }
                        }
                        Some((source, _)) => {
                            // INSERT ... SELECT $1, ...: the select list meets the target columns.
                            for (k, item) in query::select_list(source).unwrap_or(&[]).iter().enumerate() {
                                if let (
                                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. },
                                    Some(&ci),
                                ) = (item, targets.get(k))
                                {
                                    assign(e, t.columns[ci].ty);
                                }
                            }
                            query::infer_query(db, source, None, &mut assign);
                        }
                        None => {}
                    }
                }
            }
        }
        Statement::Update(up) => {
            if let Ok((name, alias)) = single_table(&up.table) {
                if let Some(t) = table_of(name) {
                    for a in &up.assignments {
                        if let ast::AssignmentTarget::ColumnName(c) = &a.target {
                            if let Some(ci) = t.column(&object_name(c)) {
                                assign(&a.value, t.columns[ci].ty);
                            }
                        }
                    }
                    let ns = [query::NsItem::table(t, alias.as_deref())];
                    let scope = Scope { ns: &ns, rtable: &ns, ..Scope::empty() };
                    for a in &up.assignments {
                        query::infer_expr(db, &a.value, &scope, &mut assign);
                    }
                    if let Some(w) = &up.selection {
                        query::infer_expr(db, w, &scope, &mut assign);
                    }
                }
            }
        }
        Statement::Delete(del) => {
            let from = match &del.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            if let Some((name, alias)) = from.first().and_then(|f| single_table(f).ok()) {
                if let (Some(t), Some(w)) = (table_of(name), &del.selection) {
                    let ns = [query::NsItem::table(t, alias.as_deref())];
                    let scope = Scope { ns: &ns, rtable: &ns, ..Scope::empty() };
                    query::infer_expr(db, w, &scope, &mut assign);
                }
            }
        }
        _ => {}
    }
    types.into_iter().map(|t| if t == 0 { 25 } else { t }).collect()
}

/// Whether a query would fail while being planned rather than while computing rows: a failed
/// block; what PostgreSQL's analysis finds (an unknown table or column, an ambiguous name, a set
/// operation whose sides do not match, FOR UPDATE where it may not go); and what its planner
/// finds by folding constants (`SELECT 1/0`, a literal its column's type cannot read, an unknown
/// function), found by a dry run over one made-up row of harmless values. The engine sends
/// RowDescription before running a query that plans, as PostgreSQL does.
pub fn check_plan(db: &Database, sess: &Session, stmt: &Statement) -> Result<(), SqlError> {
    catalog::with_catalogs(db, Some(sess), stmt, |db| check_plan_in(db, sess, stmt))
}

fn check_plan_in(db: &Database, sess: &Session, stmt: &Statement) -> Result<(), SqlError> {
    if sess.txn.as_ref().is_some_and(|t| t.failed) {
        return Err(SqlError::new("25P02", "current transaction is aborted"));
    }
    let Statement::Query(q) = stmt else { return Ok(()) };
    let plan = query::plan_query(db, q, None).map_err(unwrap_sql)?;
    if !q.locks.is_empty() {
        query::lock_targets(&plan, q).map_err(unwrap_sql)?;
    }
    query::dry_run(db, &plan).map_err(unwrap_sql)
}

/// The columns a statement returns, without running it (for Describe).
pub fn describe(db: &Database, sess: &Session, stmt: &Statement) -> Result<Vec<OutColumn>, SqlError> {
    let Statement::Query(q) = stmt else { return Ok(Vec::new()) };
    catalog::with_catalogs(db, Some(sess), stmt, |db| query::plan_query(db, q, None).map(|p| p.columns))
        .map_err(unwrap_sql)
}

fn unwrap_sql(e: ExecError) -> SqlError {
    match e {
        ExecError::Sql(e) => e,
        ExecError::Wait(_) => SqlError::new("55P03", "could not obtain lock"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(db: &mut Database, sess: &mut Session, sql: &str) -> Vec<Result<Output, String>> {
        parse(sql)
            .unwrap()
            .iter()
            .map(|s| match execute(db, sess, s) {
                Ok(o) => Ok(o),
                Err(ExecError::Sql(e)) => Err(format!("{} {}", e.code, e.message)),
                Err(ExecError::Wait(x)) => Err(format!("wait {x}")),
            })
            .collect()
    }

    fn rows(o: &Result<Output, String>) -> Vec<Vec<Option<String>>> {
        match o {
            Ok(Output::Rows { rows, .. }) => rows.iter().map(|r| r.iter().map(|d| d.to_text()).collect()).collect(),
            other => panic!("not rows: {other:?}"),
        }
    }

    fn tag(o: &Result<Output, String>) -> String {
        match o {
            Ok(Output::Rows { tag, .. }) | Ok(Output::Command(tag)) => tag.clone(),
            Ok(Output::Empty) => "".into(),
            Err(e) => e.clone(),
        }
    }

    #[test]
    fn create_insert_select_update_delete() {
        let mut db = Database::default();
        let mut s = Session::default();
        let r = run(
            &mut db,
            &mut s,
            "CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int DEFAULT 0);
             INSERT INTO accounts VALUES (1, 'alice', 100), (2, 'bob', 50);
             INSERT INTO accounts (id, owner) VALUES (3, 'carol') RETURNING id, balance;
             SELECT owner, balance FROM accounts WHERE balance >= 50 ORDER BY balance DESC;
             UPDATE accounts SET balance = balance - 10 WHERE id = 1;
             DELETE FROM accounts WHERE owner = 'bob';
             SELECT count(*), sum(balance), max(owner) FROM accounts;
             INSERT INTO accounts VALUES (1, 'dup', 1);
             INSERT INTO accounts VALUES (4, NULL, 1);
             SELECT * FROM nosuch;
             SELECT nosuch FROM accounts;",
        );
        let tags: Vec<String> = r.iter().map(tag).collect();
        assert_eq!(
            tags,
            vec![
                "CREATE TABLE",
                "INSERT 0 2",
                "INSERT 0 1",
                "SELECT 2",
                "UPDATE 1",
                "DELETE 1",
                "SELECT 1",
                "23505 duplicate key value violates unique constraint \"accounts_pkey\"",
                "23502 null value in column \"owner\" of relation \"accounts\" violates not-null constraint",
                "42P01 relation \"nosuch\" does not exist",
                "42703 column \"nosuch\" does not exist",
            ]
        );
        assert_eq!(rows(&r[2]), vec![vec![Some("3".into()), Some("0".into())]]);
        assert_eq!(
            rows(&r[3]),
            vec![vec![Some("alice".into()), Some("100".into())], vec![Some("bob".into()), Some("50".into())]]
        );
        assert_eq!(rows(&r[6]), vec![vec![Some("2".into()), Some("90".into()), Some("carol".into())]]);
    }

    #[test]
    fn two_sessions_see_what_mvcc_says() {
        let mut db = Database::default();
        let (mut a, mut b) = (Session::default(), Session::default());
        run(&mut db, &mut a, "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 10)");
        run(&mut db, &mut a, "BEGIN; UPDATE t SET v = 11 WHERE id = 1");
        // b does not see a's uncommitted update, and must wait to write the same row.
        assert_eq!(rows(&run(&mut db, &mut b, "SELECT v FROM t")[0]), vec![vec![Some("10".into())]]);
        let top_a = a.txn.as_ref().unwrap().top;
        assert_eq!(tag(&run(&mut db, &mut b, "UPDATE t SET v = v + 1 WHERE id = 1")[0]), format!("wait {top_a}"));
        // REPEATABLE READ in b: the snapshot stays, and a concurrent update is a 40001.
        run(&mut db, &mut b, "BEGIN ISOLATION LEVEL REPEATABLE READ");
        assert_eq!(rows(&run(&mut db, &mut b, "SELECT v FROM t")[0]), vec![vec![Some("10".into())]]);
        run(&mut db, &mut a, "COMMIT");
        assert_eq!(rows(&run(&mut db, &mut b, "SELECT v FROM t")[0]), vec![vec![Some("10".into())]]);
        assert_eq!(
            tag(&run(&mut db, &mut b, "UPDATE t SET v = 0 WHERE id = 1")[0]),
            "40001 could not serialize access due to concurrent update"
        );
        assert_eq!(
            tag(&run(&mut db, &mut b, "SELECT 1")[0]),
            "25P02 current transaction is aborted, commands ignored until end of transaction block"
        );
        assert_eq!(tag(&run(&mut db, &mut b, "COMMIT")[0]), "ROLLBACK");
        // READ COMMITTED sees the committed value and updates the newest version.
        assert_eq!(tag(&run(&mut db, &mut b, "UPDATE t SET v = v + 1 WHERE id = 1")[0]), "UPDATE 1");
        assert_eq!(rows(&run(&mut db, &mut b, "SELECT v FROM t")[0]), vec![vec![Some("12".into())]]);
    }

    #[test]
    fn savepoints_undo_exactly_their_part() {
        let mut db = Database::default();
        let mut s = Session::default();
        let r = run(
            &mut db,
            &mut s,
            "CREATE TABLE t (v int);
             BEGIN;
             INSERT INTO t VALUES (1);
             SAVEPOINT a;
             INSERT INTO t VALUES (2);
             SAVEPOINT b;
             INSERT INTO t VALUES (3);
             ROLLBACK TO SAVEPOINT a;
             INSERT INTO t VALUES (4);
             RELEASE SAVEPOINT a;
             COMMIT;
             SELECT v FROM t ORDER BY v;",
        );
        assert_eq!(rows(r.last().unwrap()), vec![vec![Some("1".into())], vec![Some("4".into())]]);
        assert_eq!(
            tag(&run(&mut db, &mut s, "ROLLBACK TO SAVEPOINT x")[0]),
            "25P01 ROLLBACK TO SAVEPOINT can only be used in transaction blocks"
        );
    }

    #[test]
    fn xmin_and_xmax_are_visible() {
        let mut db = Database::default();
        let mut s = Session::default();
        let r =
            run(&mut db, &mut s, "CREATE TABLE t (v int); INSERT INTO t VALUES (1); SELECT xmin, xmax, ctid, v FROM t");
        let row = &rows(&r[2])[0];
        assert_eq!(row[1].as_deref(), Some("0"));
        assert_eq!(row[2].as_deref(), Some("(0,1)"));
        let e = parse("SELEC 1").unwrap_err();
        assert_eq!((e.code, e.message.as_str()), ("42601", "syntax error at or near \"SELEC\""));
    }

    #[test]
    fn joins_subqueries_and_set_operations() {
        let mut db = Database::default();
        let mut s = Session::default();
        let r = run(
            &mut db,
            &mut s,
            "CREATE TABLE c (id int PRIMARY KEY, name text);
             CREATE TABLE o (id int PRIMARY KEY, c_id int, amount int);
             INSERT INTO c VALUES (1, 'ada'), (2, 'bob'), (3, 'cy');
             INSERT INTO o VALUES (10, 1, 5), (11, 1, 7), (12, 2, 1), (13, NULL, 2);
             SELECT c.name, sum(o.amount) FROM c LEFT JOIN o ON o.c_id = c.id GROUP BY c.name ORDER BY c.name;
             SELECT name FROM c WHERE id NOT IN (SELECT c_id FROM o WHERE c_id IS NOT NULL);
             SELECT c.name, (SELECT max(amount) FROM o WHERE o.c_id = c.id) FROM c ORDER BY c.id;
             WITH big AS (SELECT c_id FROM o WHERE amount > 4) SELECT count(*) FROM big;
             SELECT c_id FROM o UNION SELECT id FROM c ORDER BY 1 NULLS FIRST LIMIT 2;
             SELECT * FROM c JOIN o USING (id);
             SELECT id FROM c, o;
             SELECT (SELECT id FROM c);
             SELECT 1 UNION SELECT 1, 2;",
        );
        let text = |v: &[&str]| v.iter().map(|x| Some(x.to_string())).collect::<Vec<_>>();
        assert_eq!(rows(&r[4]), vec![text(&["ada", "12"]), text(&["bob", "1"]), vec![Some("cy".into()), None]]);
        assert_eq!(rows(&r[5]), vec![text(&["cy"])]);
        assert_eq!(rows(&r[6])[2], vec![Some("cy".into()), None]);
        assert_eq!(rows(&r[7]), vec![text(&["2"])]);
        assert_eq!(rows(&r[8]), vec![vec![None], text(&["1"])]);
        assert_eq!(tag(&r[9]), "SELECT 0");
        assert_eq!(tag(&r[10]), "42702 column reference \"id\" is ambiguous");
        assert_eq!(tag(&r[11]), "21000 more than one row returned by a subquery used as an expression");
        assert_eq!(tag(&r[12]), "42601 each UNION query must have the same number of columns");
    }

    #[test]
    fn join_queries_describe_their_columns_and_parameters() {
        let mut db = Database::default();
        let mut s = Session::default();
        run(
            &mut db,
            &mut s,
            "CREATE TABLE c (id int PRIMARY KEY, name text); CREATE TABLE o (id bigint PRIMARY KEY, c_id int, paid boolean)",
        );
        let stmt = &parse(
            "SELECT c.name, o.id, o.paid, (SELECT count(*) FROM o o2 WHERE o2.c_id = c.id) AS n
             FROM c JOIN o ON o.c_id = c.id WHERE o.id = $1 AND c.name = $2 AND c.id IN (SELECT c_id FROM o WHERE paid = $3)",
        )
        .unwrap()[0];
        let cols: Vec<(String, SqlType)> =
            describe(&db, &s, stmt).unwrap().into_iter().map(|c| (c.name, c.ty)).collect();
        assert_eq!(
            cols,
            vec![
                ("name".into(), SqlType::Text),
                ("id".into(), SqlType::Int8),
                ("paid".into(), SqlType::Bool),
                ("n".into(), SqlType::Int8)
            ]
        );
        assert_eq!(infer_param_types(&db, stmt, 3), vec![20, 25, 16]);
        let good =
            &parse("SELECT c.name, o.id / 0 FROM c JOIN o ON o.c_id = c.id WHERE o.id IN (SELECT 1)").unwrap()[0];
        assert!(check_plan(&db, &s, good).is_ok());
        let bad = &parse("SELECT id FROM c JOIN o ON o.c_id = c.id").unwrap()[0];
        assert_eq!(check_plan(&db, &s, bad).unwrap_err().code, "42702");
        let series = &parse("SELECT g FROM generate_series(1, $1) g").unwrap()[0];
        assert_eq!(infer_param_types(&db, series, 1), vec![23]);
    }

    #[test]
    fn numeric_arithmetic_is_exact_and_keeps_scales() {
        let d = |s: &str| parse_decimal(s).unwrap();
        let op = |o: BinaryOperator, a: &str, b: &str| match decimal_arith(&o, d(a), d(b)) {
            Some(Datum::Numeric(s)) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(op(BinaryOperator::Multiply, "3.10", "2"), "6.20");
        assert_eq!(op(BinaryOperator::Plus, "1.5", "1.25"), "2.75");
        assert_eq!(op(BinaryOperator::Minus, "0.005", "1"), "-0.995");
        assert_eq!(op(BinaryOperator::Modulo, "-7.5", "2"), "-1.5");
        // select_div_scale: 16 significant digits, more when the quotient is below one.
        assert_eq!(op(BinaryOperator::Divide, "5", "2.0"), "2.5000000000000000");
        assert_eq!(op(BinaryOperator::Divide, "1.0", "3"), "0.33333333333333333333");
        assert_eq!(op(BinaryOperator::Divide, "2", "3.0"), "0.66666666666666666667");
        assert_eq!(op(BinaryOperator::Divide, "-1", "3.0"), "-0.33333333333333333333");
        assert_eq!(d("1e3"), (1000, 0));
        assert_eq!(d("1.5e-7"), (15, 8));
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert!(parse_decimal("NaN").is_none() && parse_decimal(".").is_none());
    }
}

#[cfg(test)]
mod vacuum_tests {
    use super::*;

    fn q(db: &mut Database, s: &mut Session, sql: &str) -> Result<Output, ExecError> {
        let stmts = parse(sql).unwrap();
        let mut last = Ok(Output::Empty);
        for st in &stmts {
            last = execute(db, s, st);
        }
        last
    }

    #[test]
    fn synchronous_commit_off_writes_without_waiting_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = super::super::wal::Wal::open(&dir.path().join("wal.log")).unwrap();
        let mut db = Database::default();
        db.wal = Some(wal);
        let mut s = Session::default();
        q(&mut db, &mut s, "CREATE TABLE t (id int)").unwrap();
        q(&mut db, &mut s, "INSERT INTO t VALUES (1)").unwrap();
        let w = db.wal.as_ref().unwrap();
        assert_eq!(w.flushed_lsn(), w.written_lsn(), "on: durable before COMMIT returns");
        q(&mut db, &mut s, "SET synchronous_commit = off").unwrap();
        q(&mut db, &mut s, "INSERT INTO t VALUES (2)").unwrap();
        let w = db.wal.as_ref().unwrap();
        assert!(w.flushed_lsn() < w.written_lsn(), "off: written, not yet flushed");
        q(&mut db, &mut s, "SET synchronous_commit = on").unwrap();
        q(&mut db, &mut s, "INSERT INTO t VALUES (3)").unwrap();
        let w = db.wal.as_ref().unwrap();
        assert_eq!(w.flushed_lsn(), w.written_lsn(), "the next synchronous commit flushes everything");
    }

    #[test]
    fn vacuum_removes_dead_versions_and_the_stat_view_shows_it() {
        let mut db = Database::default();
        let mut s = Session::default();
        q(&mut db, &mut s, "CREATE TABLE t (id int, v int)").unwrap();
        q(&mut db, &mut s, "INSERT INTO t VALUES (1, 0), (2, 0)").unwrap();
        for _ in 0..3 {
            q(&mut db, &mut s, "UPDATE t SET v = v + 1").unwrap();
        }
        let stats = |db: &mut Database, s: &mut Session| match q(
            db,
            s,
            "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = 't'",
        ) {
            Ok(Output::Rows { rows, .. }) => (rows[0][0].clone(), rows[0][1].clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(stats(&mut db, &mut s), (Datum::Int(2), Datum::Int(6)));
        assert!(matches!(q(&mut db, &mut s, "VACUUM VERBOSE t"), Ok(Output::Command(t)) if t == "VACUUM"));
        assert_eq!(stats(&mut db, &mut s), (Datum::Int(2), Datum::Int(0)));
        q(&mut db, &mut s, "BEGIN").unwrap();
        assert!(matches!(q(&mut db, &mut s, "VACUUM"), Err(ExecError::Sql(e)) if e.code == "25001"));
    }
}
