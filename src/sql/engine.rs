//! The SQL engine behind the wire protocol: sessions, prepared statements and portals, waiting
//! for row locks, and deadlock detection, over [`exec`](super::exec).
//!
//! ```text
//!  wire layer ── simple_query / parse+bind+execute ──▶ SqlEngine
//!                                                       │ lock the Database
//!                                                       │ exec::execute(statement)
//!                                                       │   Ok(rows | tag)   ─▶ RowDescription, DataRow…, CommandComplete
//!                                                       │   Err(Sql)         ─▶ ErrorResponse (the block becomes failed)
//!                                                       │   Err(Wait(xid))   ─▶ unlock; record "I wait for xid";
//!                                                       │                      sleep until xid ends, a cancel, or
//!                                                       │                      deadlock_timeout finds a cycle
//!                                                       └ unlock
//! ```
//!
//! Waiting happens with the database unlocked, so the transaction being waited for can finish.
//! A wait that lasts `deadlock_timeout` (1 s, as PostgreSQL's default) looks for a cycle in the
//! wait-for graph (session → the transaction it waits for → the session running that
//! transaction → ...); the session that finds one gets 40P01, as in PostgreSQL, where the
//! session whose timer fires first is the one that errors out. A wait longer than the session's
//! `lock_timeout` fails with 55P03, and a statement (waits and `pg_sleep` included) running
//! longer than its `statement_timeout` with 57014.
//!
//! Every session reports what it does to the registry in [`super::activity`] (active, waiting,
//! idle in transaction, ...), which `pg_stat_activity`, `pg_locks` and the deadlock search read.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use sqlparser::ast::{CopySource, CopyTarget, Statement};

use super::activity::{self, Activity, TxnInfo, Wait};
use super::copy;
use super::exec::{self, Database, ExecError, OutColumn, Output, SqlError};
use super::mvcc::{Status, Xid};
use super::server::{
    check_param_count, startup_parameters, BackendKey, Client, Completion, Connected, CopyInEvent, Engine, Prepared,
    StatementDescription,
};
use super::types::{Datum, SqlType};
use super::wire::messages::{
    resolve_result_formats, BackendMessage, Bind, CopyResponse, ErrorResponse, FieldDescription, Oid, Severity,
    SqlState, StartupMessage, Target, TransactionStatus,
};

/// How often a waiting session checks whether the transaction it waits for has ended.
const LOCK_POLL_MS: u64 = 2;

/// The session's timeouts for one statement, read from its settings when the statement starts
/// (a SET takes effect from the next statement).
struct Timeouts {
    /// `statement_timeout`; none when 0 (off).
    statement: Option<Duration>,
    /// `lock_timeout`; none when 0 (off).
    lock: Option<Duration>,
    /// `deadlock_timeout` (1 s unless SET).
    deadlock: Duration,
}

impl Timeouts {
    fn of(sess: &exec::Session) -> Timeouts {
        let ms = |name| super::guc::millis(&sess.settings, name);
        let off_if_zero = |n: u64| (n > 0).then(|| Duration::from_millis(n));
        Timeouts {
            statement: off_if_zero(ms("statement_timeout")),
            lock: off_if_zero(ms("lock_timeout")),
            deadlock: Duration::from_millis(ms("deadlock_timeout").max(1)),
        }
    }
}

/// Why a statement was stopped while it waited or slept.
enum Cut {
    Cancel,
    Statement,
    Lock,
}

impl Cut {
    fn error(self) -> ErrorResponse {
        match self {
            Cut::Cancel => ErrorResponse::error(SqlState(*b"57014"), "canceling statement due to user request"),
            Cut::Statement => ErrorResponse::error(SqlState(*b"57014"), "canceling statement due to statement timeout"),
            Cut::Lock => ErrorResponse::error(SqlState(*b"55P03"), "canceling statement due to lock timeout"),
        }
    }
}

/// Resolves at `deadline`, or never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// The session's transaction as the activity registry records it.
fn txn_info(sess: &exec::Session) -> Option<TxnInfo> {
    sess.txn.as_ref().map(|t| TxnInfo {
        top: t.top,
        started: t.started,
        snapshot_xmin: t.snapshot.as_ref().map(|s| s.xmin),
        failed: t.explicit && t.failed,
    })
}

pub struct SqlEngine {
    db: Arc<Mutex<Database>>,
    /// What each session is doing: `pg_stat_activity`, `pg_locks`, and who waits for whom.
    activity: Arc<Activity>,
    /// Rung after every statement and abort: a transaction may have ended, so sessions waiting
    /// for one look again at once instead of at their next poll.
    txn_ended: tokio::sync::Notify,
    /// Counts the statements that may have changed what a statement means: every one that is
    /// not a plain query or DML (DDL, SET, the end of a transaction that ran DDL, ...). A parsed
    /// and described statement is reused while this has not moved (see [`PgSession::parsed`]).
    schema_version: std::sync::atomic::AtomicU64,
}

impl SqlEngine {
    /// The durable store: replays `<data_dir>/pg_wal/checkpoint` and the part of
    /// `<data_dir>/pg_wal/wal.log` after it (cutting a torn tail), takes the end-of-recovery
    /// checkpoint, then logs every commit. `None` keeps everything in memory (`--ephemeral`).
    pub fn open(data_dir: Option<&std::path::Path>) -> std::io::Result<SqlEngine> {
        let engine = SqlEngine::default();
        if let Some(dir) = data_dir {
            let wal_dir = dir.join("pg_wal");
            std::fs::create_dir_all(&wal_dir)?;
            let (mut records, redo) = super::checkpoint::load(&wal_dir)?;
            let (wal, logged) = super::wal::Wal::open(&wal_dir.join("wal.log"))?;
            // A crash between writing a checkpoint and starting the log afresh leaves records
            // the checkpoint already holds.
            records.extend(logged.into_iter().filter(|r| r.lsn >= redo));
            let mut db = engine.db.lock().expect("database");
            let n =
                exec::replay(&mut db, &records).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            tracing::info!("PostgreSQL store: replayed {n} committed transactions from {}", wal_dir.display());
            db.wal = Some(wal);
            db.group_commit = true;
            db.checkpoints.path = Some(wal_dir.join(super::checkpoint::CHECKPOINT_FILE));
            super::checkpoint::run(&mut db, super::checkpoint::Cause::Startup)?;
        } else {
            // Nothing is written, but LSNs still advance, so the lessons' pg_current_wal_lsn()
            // and pg_wal_lsn_diff() show the log growing.
            engine.db.lock().expect("database").wal = Some(super::wal::Wal::ephemeral());
        }
        Ok(engine)
    }

    /// Takes the checkpoint due at `now`, if one is (`checkpoint_timeout` passed, or the log
    /// outgrew `max_wal_size`). Time is a parameter so that tests need not wait five minutes.
    pub fn tick(&self, now: std::time::Instant) -> std::io::Result<Option<super::checkpoint::Cause>> {
        tick(&self.db, now)
    }

    /// The checkpointer: looks every second whether a checkpoint is due, until shutdown.
    pub fn checkpointer(
        &self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let db = self.db.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let db = db.clone();
                // The checkpoint blocks (it writes and fsyncs a file): not on a runtime worker.
                match tokio::task::spawn_blocking(move || tick(&db, std::time::Instant::now())).await {
                    Ok(Err(e)) => tracing::error!("checkpoint failed: {e}"),
                    Err(e) => tracing::error!("checkpointer stopped: {e}"),
                    Ok(Ok(_)) => {}
                }
            }
        }
    }
}

/// See [`SqlEngine::tick`].
fn tick(db: &Mutex<Database>, now: std::time::Instant) -> std::io::Result<Option<super::checkpoint::Cause>> {
    let mut db = db.lock().expect("database");
    let due = super::checkpoint::due(&db, now, CHECKPOINT_TIMEOUT, MAX_WAL_SIZE_BYTES);
    if let Some(cause) = due {
        super::checkpoint::run(&mut db, cause)?;
    }
    Ok(due)
}

/// PostgreSQL's default `checkpoint_timeout`: a timed checkpoint every five minutes.
pub const CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(300);

/// PostgreSQL's default `max_wal_size` (1 GB): a log past it asks for a checkpoint.
pub const MAX_WAL_SIZE_BYTES: u64 = 1024 * 1024 * 1024;

impl Default for SqlEngine {
    fn default() -> Self {
        let activity = Arc::new(Activity::default());
        let mut db = Database::default();
        db.catalog.get_mut().activity = Some(activity.clone());
        SqlEngine {
            db: Arc::new(Mutex::new(db)),
            activity,
            txn_ended: tokio::sync::Notify::new(),
            schema_version: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

pub struct Prepared1 {
    /// The source text, which `pg_stat_activity.query` shows while it runs.
    text: String,
    statement: Option<Statement>,
    param_types: Vec<Oid>,
    /// What describes the rows the statement returns, if it returns any: the query itself, or
    /// for INSERT / UPDATE / DELETE … RETURNING a SELECT of the RETURNING list from the table.
    /// Describe answers RowDescription from it, and Bind checks result formats against it.
    row_source: Option<Statement>,
    /// The [`SqlEngine::schema_version`] the parameter types were inferred at ...
    schema: u64,
    /// ... and the row_source's columns, once described, with the version they were found at.
    columns: Mutex<Option<(u64, Vec<OutColumn>)>>,
}

/// See [`Prepared1::row_source`]. A RETURNING list is described as the same list selected from
/// the table, which is what the executor evaluates it against.
fn row_source(stmt: &Statement) -> Option<Statement> {
    let (table, items) = match stmt {
        Statement::Query(_) => return Some(stmt.clone()),
        Statement::Insert(ins) => match &ins.table {
            sqlparser::ast::TableObject::TableName(name) => (name.to_string(), ins.returning.as_ref()?),
            _ => return None,
        },
        Statement::Update(up) => (up.table.to_string(), up.returning.as_ref()?),
        Statement::Delete(del) => {
            let from = match &del.from {
                sqlparser::ast::FromTable::WithFromKeyword(t) | sqlparser::ast::FromTable::WithoutKeyword(t) => t,
            };
            (from.first()?.to_string(), del.returning.as_ref()?)
        }
        _ => return None,
    };
    let list: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    exec::parse(&format!("SELECT {} FROM {table}", list.join(", "))).ok()?.pop()
}

pub struct Portal {
    statement: Arc<Prepared1>,
    params: Vec<Datum>,
    formats: Vec<i16>,
    /// Rows not yet sent, and the command tag, once the portal has run (Execute with max_rows
    /// may take several calls).
    pending: Option<(std::collections::VecDeque<Vec<Datum>>, String)>,
    columns: Vec<OutColumn>,
}

pub struct PgSession {
    /// The process id of BackendKeyData (`pg_backend_pid()`).
    id: i32,
    /// The running simple-query statement's RowDescription is already sent (pg_sleep).
    described: bool,
    /// A simple Query is running (rather than an extended-protocol Execute).
    in_simple_query: bool,
    /// What the settings go back to when the transaction block ends (SET LOCAL, rollbacks).
    settings_txn: super::guc::Transactional,
    exec: exec::Session,
    prepared: Prepared<Prepared1, Portal>,
    /// Statements parsed by Parse, by text and declared parameter types, reused by a later Parse
    /// of the same text while the schema version has not moved. Drivers and pgbench's
    /// `-M extended` send the same unnamed statement over and over; without this, each time
    /// costs a parse, a type inference and a description, each of the last two with the
    /// database locked.
    parsed: std::collections::HashMap<(String, Vec<Oid>), Arc<Prepared1>>,
    /// The `application_name` last reported to the client with ParameterStatus, and the one
    /// the startup packet gave.
    reported_application_name: String,
    startup_application_name: String,
}

/// How many distinct statement texts a session keeps parsed (see [`PgSession::parsed`]); past
/// this the cache starts again empty, which bounds it against a client that never repeats one.
const PARSED_STATEMENTS_MAX: usize = 128;

/// Whether a statement may have changed what other statements mean or return as columns:
/// anything but a query, DML, COPY (it only moves rows) or transaction control. Transaction
/// control is left out because DDL is not transactional here: a table made inside a block stays
/// when the block rolls back, so ending a transaction never changes the schema, and drivers
/// (pgbench's TPC-B, every ORM) keep their parsed statements across transactions.
fn changes_schema(stmt: &Statement) -> bool {
    !matches!(
        stmt,
        Statement::Query(_)
            | Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::Copy { .. }
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
    )
}

fn to_response(e: &SqlError) -> ErrorResponse {
    let code: [u8; 5] = e.code.as_bytes().try_into().unwrap_or(*b"XX000");
    let severity = match e.severity {
        "WARNING" => Severity::Warning,
        "NOTICE" => Severity::Notice,
        _ => Severity::Error,
    };
    let mut r = ErrorResponse::new(severity, SqlState(code), e.message.clone());
    if let Some(d) = &e.detail {
        r = r.with_detail(d.clone());
    }
    if let Some(h) = &e.hint {
        r = r.with_hint(h.clone());
    }
    r
}

fn fields(columns: &[OutColumn], formats: &[i16]) -> Vec<FieldDescription> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| FieldDescription {
            name: c.name.clone(),
            table_oid: 0,
            column_id: 0,
            type_oid: c.ty.oid(),
            type_size: c.ty.size(),
            type_modifier: -1,
            format: formats.get(i).copied().unwrap_or(0),
        })
        .collect()
}

/// A value in the format its column was asked for: text, or PostgreSQL's binary send format.
/// tokio-postgres (and JDBC with `prepareThreshold`) ask for binary results for every column,
/// so every type a column can have has its binary form here.
fn encode(d: &Datum, ty: SqlType, format: i16) -> Result<Option<Bytes>, ErrorResponse> {
    if d.is_null() {
        return Ok(None);
    }
    if format == 0 {
        return Ok(d.to_text().map(Bytes::from));
    }
    let text = || d.to_text().unwrap_or_default();
    let unsendable = || {
        ErrorResponse::error(
            SqlState(*b"22P03"),
            format!("terrarium cannot send the value {} as binary {}", text(), ty.name()),
        )
    };
    // The executor may hand back a value in a neighbouring representation (an integer for a
    // double precision column, a numeric's text for an integer one): convert as PostgreSQL's
    // cast would rather than fail.
    let int = || -> Result<i64, ErrorResponse> {
        match d {
            Datum::Int(n) => Ok(*n),
            Datum::Numeric(s) | Datum::Text(s) => s.trim().parse().map_err(|_| unsendable()),
            Datum::Float(f) if f.fract() == 0.0 && f.is_finite() => Ok(*f as i64),
            _ => Err(unsendable()),
        }
    };
    let float = || -> Result<f64, ErrorResponse> {
        match d {
            Datum::Float(f) => Ok(*f),
            Datum::Int(n) => Ok(*n as f64),
            Datum::Numeric(s) | Datum::Text(s) => s.trim().parse().map_err(|_| unsendable()),
            _ => Err(unsendable()),
        }
    };
    let bytes: Vec<u8> = match ty {
        SqlType::Int2 => i16::try_from(int()?).map_err(|_| unsendable())?.to_be_bytes().to_vec(),
        SqlType::Int4 => i32::try_from(int()?).map_err(|_| unsendable())?.to_be_bytes().to_vec(),
        SqlType::Int8 => int()?.to_be_bytes().to_vec(),
        SqlType::Xid => (int()? as u32).to_be_bytes().to_vec(),
        SqlType::Float8 => float()?.to_be_bytes().to_vec(),
        SqlType::Float4 => (float()? as f32).to_be_bytes().to_vec(),
        SqlType::Bool => match d {
            Datum::Bool(b) => vec![*b as u8],
            _ => vec![crate::sql::types::parse_bool(&text()).ok_or_else(unsendable)? as u8],
        },
        SqlType::Numeric => crate::sql::types::numeric_send(&text()).ok_or_else(unsendable)?,
        SqlType::Text | SqlType::Varchar | SqlType::Unknown | SqlType::Name | SqlType::Char => text().into_bytes(),
        SqlType::Oid => u32::try_from(int()?).map_err(|_| unsendable())?.to_be_bytes().to_vec(),
        // void_send writes nothing.
        SqlType::Void => Vec::new(),
        SqlType::Timestamptz => {
            crate::sql::types::timestamptz_send(&text()).ok_or_else(unsendable)?.to_be_bytes().to_vec()
        }
        SqlType::Timestamp => crate::sql::types::timestamptz_send(&format!("{}+00", text()))
            .ok_or_else(unsendable)?
            .to_be_bytes()
            .to_vec(),
        SqlType::Tid => crate::sql::types::tid_send(&text()).ok_or_else(unsendable)?,
        SqlType::PgLsn => crate::sql::types::pg_lsn_send(&text()).ok_or_else(unsendable)?.to_be_bytes().to_vec(),
        SqlType::Date | SqlType::Interval | SqlType::Uuid | SqlType::Bytea | SqlType::Jsonb | SqlType::Json => {
            match crate::sql::types::binary_send(d, ty) {
                Some(Ok(b)) => b,
                _ => return Err(unsendable()),
            }
        }
    };
    Ok(Some(Bytes::from(bytes)))
}

/// A Bind parameter: text as written, or the binary receive format of the type the statement
/// has for it (declared by the client or inferred, see [`exec::infer_param_types`]). `index`
/// counts from 0; errors name it from 1, as PostgreSQL's do.
fn decode_param(value: &Option<Bytes>, format: i16, oid: Oid, index: usize) -> Result<Datum, ErrorResponse> {
    let Some(v) = value else { return Ok(Datum::Null) };
    if format == 0 {
        let s = std::str::from_utf8(v)
            .map_err(|_| ErrorResponse::error(SqlState(*b"22021"), "invalid byte sequence for encoding \"UTF8\""))?;
        return text_param(s, oid);
    }
    let bad = || {
        ErrorResponse::error(
            SqlState(*b"22P03"),
            format!("incorrect binary data format in bind parameter {}", index + 1),
        )
    };
    let utf8 = || {
        std::str::from_utf8(v)
            .map(str::to_string)
            .map_err(|_| ErrorResponse::error(SqlState(*b"22021"), "invalid byte sequence for encoding \"UTF8\""))
    };
    Ok(match (oid, v.len()) {
        (21, 2) => Datum::Int(i16::from_be_bytes([v[0], v[1]]) as i64),
        (23, 4) => Datum::Int(i32::from_be_bytes(v[..4].try_into().map_err(|_| bad())?) as i64),
        (20, 8) => Datum::Int(i64::from_be_bytes(v[..8].try_into().map_err(|_| bad())?)),
        (701, 8) => Datum::Float(f64::from_be_bytes(v[..8].try_into().map_err(|_| bad())?)),
        (700, 4) => Datum::Float(f32::from_be_bytes(v[..4].try_into().map_err(|_| bad())?) as f64),
        (16, 1) => Datum::Bool(v[0] != 0),
        (1700, _) => Datum::Numeric(crate::sql::types::numeric_recv(v).ok_or_else(bad)?),
        // timestamp_recv: microseconds since 2000-01-01, read as the clock time it names.
        (1114, 8) => {
            let us = i64::from_be_bytes(v[..8].try_into().map_err(|_| bad())?);
            let unix_us = us.checked_add(946_684_800_000_000).filter(|u| *u >= 0).ok_or_else(bad)?;
            let t = std::time::UNIX_EPOCH + Duration::from_micros(unix_us as u64);
            let text = crate::sql::types::timestamptz_text(t);
            Datum::Text(text.strip_suffix("+00").unwrap_or(&text).to_string())
        }
        (26, 4) => Datum::Int(u32::from_be_bytes(v[..4].try_into().map_err(|_| bad())?) as i64),
        // date, interval, uuid, bytea, jsonb, json: their receive functions.
        (1082 | 1186 | 2950 | 17 | 3802 | 114, _) => match crate::sql::types::binary_recv(oid, v) {
            Some(Ok(d)) => d,
            Some(Err(e)) if e.code != "22P03" => {
                return Err(ErrorResponse::error(
                    SqlState(e.code.as_bytes().try_into().unwrap_or(*b"22P03")),
                    e.message,
                ))
            }
            _ => return Err(bad()),
        },
        (25 | 1043 | 1042 | 19 | 0 | 705, _) => Datum::Text(utf8()?),
        _ => return Err(bad()),
    })
}

/// A text-format parameter read by the input function of the type the statement has for it, at
/// Bind, as PostgreSQL does: `'one'` for an integer parameter fails here with 22P02, whatever the
/// statement would have done with it. Parameters typed text (or left to infer as text) stay text.
fn text_param(s: &str, oid: Oid) -> Result<Datum, ErrorResponse> {
    let syntax =
        |ty: &str| ErrorResponse::error(SqlState(*b"22P02"), format!("invalid input syntax for type {ty}: \"{s}\""));
    let int = |ty: &str, lo: i64, hi: i64| -> Result<Datum, ErrorResponse> {
        let t = s.trim();
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax(ty));
        }
        match t.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Datum::Int(n)),
            _ => Err(ErrorResponse::error(SqlState(*b"22003"), format!("value \"{s}\" is out of range for type {ty}"))),
        }
    };
    match oid {
        21 => int("smallint", i16::MIN.into(), i16::MAX.into()),
        23 => int("integer", i32::MIN.into(), i32::MAX.into()),
        20 => int("bigint", i64::MIN, i64::MAX),
        700 | 701 => {
            let ty = if oid == 700 { "real" } else { "double precision" };
            s.trim().parse::<f64>().map(Datum::Float).map_err(|_| syntax(ty))
        }
        16 => crate::sql::types::parse_bool(s).map(Datum::Bool).ok_or_else(|| syntax("boolean")),
        1700 => crate::sql::types::numeric_in(s).map(Datum::Numeric).ok_or_else(|| syntax("numeric")),
        1082 | 1186 | 2950 | 17 | 3802 | 114 => match crate::sql::types::text_input(oid, s) {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => {
                let mut r =
                    ErrorResponse::error(SqlState(e.code.as_bytes().try_into().unwrap_or(*b"22P02")), e.message);
                r.detail = e.detail;
                r.hint = e.hint;
                Err(r)
            }
            None => Ok(Datum::Text(s.to_string())),
        },
        _ => Ok(Datum::Text(s.to_string())),
    }
}

/// How many `$n` parameters a statement uses (the highest n, outside quotes).
fn count_params(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut i, mut max, mut quote) = (0, 0, None::<u8>);
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > start {
                    if let Ok(n) = sql[start..j].parse::<usize>() {
                        max = max.max(n);
                    }
                }
                i = j;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    max
}

/// Commits waiting for a WAL flush, and the log's group flush.
type Awaiting = (Vec<(Vec<Xid>, super::wal::Lsn)>, Arc<super::wal::GroupFlush>);

impl SqlEngine {
    /// Runs one statement: COPY through its sub-protocol ([`SqlEngine::copy`]), anything else
    /// through the executor.
    async fn run(
        &self,
        sess: &mut PgSession,
        stmt: &Statement,
        params: &[Datum],
        client: &mut Client,
    ) -> Result<Output, ErrorResponse> {
        if let Statement::Copy { .. } = stmt {
            return self.copy(sess, stmt, params, client).await;
        }
        self.run_exec(sess, stmt, params, client).await
    }

    /// Runs one statement in the executor, waiting (with the database unlocked) whenever another
    /// transaction holds a row it must change. The session's `statement_timeout` bounds the
    /// whole statement (its waits and `pg_sleep`), `lock_timeout` each wait for a row, and
    /// `deadlock_timeout` says when a wait looks for a cycle.
    async fn run_exec(
        &self,
        sess: &mut PgSession,
        stmt: &Statement,
        params: &[Datum],
        client: &mut Client,
    ) -> Result<Output, ErrorResponse> {
        let cancel = client.cancel_flag();
        // A block that ended since the last statement leaves its settings first (a SET LOCAL
        // statement_timeout is gone after COMMIT); the store is locked only to ask how it ended.
        let committed = |x| self.db.lock().expect("database").tx.status(x) == Status::Committed;
        sess.settings_txn.follow(&mut sess.exec, committed);
        if let Some(w) = super::guc::Transactional::local_outside_block(&sess.exec, stmt) {
            client.send(BackendMessage::NoticeResponse(to_response(&w)));
            return Ok(Output::Command("SET".into()));
        }
        let timeouts = Timeouts::of(&sess.exec);
        let statement_deadline = timeouts.statement.map(|d| Instant::now() + d);
        let mut waited_since: Option<Instant> = None;
        let mut sleep: Option<f64>;
        self.activity.statement_relations(sess.id, activity::statement_locks(stmt));
        loop {
            let attempt: Option<Xid>;
            let awaiting;
            let result = {
                let mut db = self.db.lock().expect("database");
                db.params = params.to_vec();
                // Outside a block the statement's transaction starts now, with the next xid.
                let implicit_xid = db.tx.next_xid();
                db.catalog.get_mut().pid = sess.id;
                let failed_before = sess.exec.txn.as_ref().is_some_and(|t| t.failed);
                db.interrupts.deadline = statement_deadline;
                db.interrupts.cancel = Some(cancel.clone());
                let r = exec::execute(&mut db, &mut sess.exec, stmt);
                db.interrupts.deadline = None;
                db.interrupts.cancel = None;
                awaiting = Self::take_awaiting(&mut db);
                // PostgreSQL describes a query's columns once it is planned, before computing
                // rows, so an error while computing them (division by zero, a lock that cannot
                // be had) follows the RowDescription; errors found while planning (an unknown
                // column) come alone. A query that succeeds is described by its result
                // (run_all), so only one that failed or must wait is planned again here to
                // tell the two apart, under the same lock: a simple query locks the database
                // once.
                // The check looks at the transaction as the statement found it: the failure the
                // statement itself caused is set aside while it runs.
                let retell = !failed_before && !sess.described && sess.in_simple_query;
                if r.is_err() && retell && matches!(stmt, Statement::Query(_)) {
                    let failed_now = sess.exec.txn.as_mut().map(|t| std::mem::replace(&mut t.failed, false));
                    if let Ok(columns) = exec::describe(&db, &sess.exec, stmt) {
                        if !columns.is_empty() && exec::check_plan(&db, &sess.exec, stmt).is_ok() {
                            client.send(BackendMessage::RowDescription(fields(&columns, &[])));
                            sess.described = true;
                        }
                    }
                    if let (Some(t), Some(f)) = (sess.exec.txn.as_mut(), failed_now) {
                        t.failed = f;
                    }
                }
                attempt = sess.exec.txn.is_none().then_some(implicit_xid);
                sess.settings_txn.follow(&mut sess.exec, |x| db.tx.status(x) == Status::Committed);
                if r.is_ok() {
                    match stmt {
                        Statement::Rollback { savepoint: Some(name), .. } => {
                            sess.settings_txn.rolled_back_to(&mut sess.exec, &name.value)
                        }
                        _ => sess.settings_txn.after(&sess.exec, stmt),
                    }
                }
                db.params.clear();
                if changes_schema(stmt) {
                    self.schema_version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                }
                self.txn_ended.notify_waiters();
                sleep = db.sleep_request.take();
                self.activity.after_statement(sess.id, txn_info(&sess.exec));
                r
            };
            if let Some(awaiting) = awaiting {
                self.await_durable(awaiting).await?;
            }
            for n in sess.exec.notices.drain(..) {
                client.send(BackendMessage::NoticeResponse(to_response(&n)));
            }
            match result {
                Ok(o) => {
                    if let Some(secs) = sleep {
                        // pg_sleep: PostgreSQL has sent RowDescription before it sleeps.
                        // Only a simple Query describes its rows itself: in the extended
                        // protocol RowDescription answers Describe, never Execute.
                        if let Output::Rows { columns, .. } = &o {
                            if sess.in_simple_query {
                                if !sess.described {
                                    client.send(BackendMessage::RowDescription(fields(columns, &[])));
                                }
                                sess.described = true;
                            }
                            client.flush().await;
                        }
                        self.activity.set_wait(sess.id, Some(Wait::Sleep));
                        let cut = tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs_f64(secs.min(1e6))) => None,
                            _ = cancel.wait() => Some(Cut::Cancel),
                            _ = sleep_until(statement_deadline) => Some(Cut::Statement),
                        };
                        self.activity.set_wait(sess.id, None);
                        if let Some(cut) = cut {
                            self.fail(sess);
                            return Err(cut.error());
                        }
                    }
                    return Ok(o);
                }
                Err(ExecError::Sql(e)) => return Err(to_response(&e)),
                Err(ExecError::Wait(xid)) => {
                    let since = *waited_since.get_or_insert_with(Instant::now);
                    // lock_timeout counts from the start of each wait, as PostgreSQL arms it
                    // for each lock it waits for.
                    let lock_deadline = timeouts.lock.map(|d| Instant::now() + d);
                    let writes = matches!(stmt, Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_));
                    let wait = Wait::Lock { xid, since: SystemTime::now(), writes, attempt };
                    self.activity.set_wait(sess.id, Some(wait));
                    loop {
                        // Registered before the check, so an end between the two is not missed.
                        let ended = self.txn_ended.notified();
                        tokio::pin!(ended);
                        ended.as_mut().enable();
                        if !self.db.lock().expect("database").tx.is_active(xid) {
                            break;
                        }
                        let now = Instant::now();
                        // When both timers have run out, the one that ran out first wins (the
                        // lock's on a tie, as in PostgreSQL's ProcessInterrupts).
                        let lock_out = lock_deadline.filter(|d| *d <= now);
                        let statement_out = statement_deadline.filter(|d| *d <= now);
                        let cut = match (lock_out, statement_out) {
                            (Some(l), Some(st)) if st < l => Some(Cut::Statement),
                            (Some(_), _) => Some(Cut::Lock),
                            (None, Some(_)) => Some(Cut::Statement),
                            (None, None) if cancel.is_requested() => Some(Cut::Cancel),
                            (None, None) => None,
                        };
                        if let Some(cut) = cut {
                            self.activity.set_wait(sess.id, None);
                            self.fail(sess);
                            return Err(cut.error());
                        }
                        if since.elapsed() >= timeouts.deadlock {
                            if let Some(detail) = self.deadlock(sess.id, &sess.exec.database) {
                                self.activity.set_wait(sess.id, None);
                                self.fail(sess);
                                return Err(ErrorResponse::error(SqlState(*b"40P01"), "deadlock detected")
                                    .with_detail(detail)
                                    .with_hint("See server log for query details."));
                            }
                        }
                        // The poll stays as a backstop (and paces the deadlock and timeout checks).
                        tokio::select! {
                            _ = &mut ended => {}
                            _ = tokio::time::sleep(Duration::from_millis(LOCK_POLL_MS)) => {}
                            _ = cancel.wait() => {}
                        }
                    }
                    self.activity.set_wait(sess.id, None);
                }
            }
        }
    }

    /// The commits the statement left waiting for their WAL flush (see `exec::Database::
    /// awaiting_flush`), with what flushes the log.
    fn take_awaiting(db: &mut Database) -> Option<Awaiting> {
        if db.awaiting_flush.is_empty() {
            return None;
        }
        let group = db.wal.as_ref().and_then(|w| w.group())?;
        Some((std::mem::take(&mut db.awaiting_flush), group))
    }

    /// Waits, with the database unlocked, until the WAL is durable up to the commits' records,
    /// sharing the fsync with whichever sessions commit meanwhile, then makes the commits visible.
    /// Both happen on a blocking thread: the fsync blocks, and the commits must be made (or
    /// aborted) even if this connection's task is dropped while it waits.
    async fn await_durable(&self, (commits, group): Awaiting) -> Result<(), ErrorResponse> {
        let db = self.db.clone();
        let target = commits.iter().map(|(_, lsn)| *lsn).max().unwrap_or_default();
        let flushed = tokio::task::spawn_blocking(move || {
            let r = group.flush_to(target);
            exec::finish_commits(&mut db.lock().expect("database"), commits, r.is_ok());
            r
        })
        .await;
        self.txn_ended.notify_waiters();
        match flushed {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ErrorResponse::error(SqlState(*b"58030"), format!("could not fsync WAL: {e}"))),
            Err(e) => Err(ErrorResponse::error(SqlState(*b"XX000"), format!("WAL flush did not finish: {e}"))),
        }
    }

    /// After an error that did not come from `exec` (a deadlock, a cancel): the open block fails,
    /// or the implicit transaction ends.
    fn fail(&self, sess: &mut PgSession) {
        let mut db = self.db.lock().expect("database");
        if let Some(t) = sess.exec.txn.as_mut() {
            if t.explicit {
                exec::fail_block(&mut db, &mut sess.exec);
            } else {
                let top = t.top;
                db.tx.abort(top);
                sess.exec.txn = None;
            }
        }
        self.txn_ended.notify_waiters();
    }

    /// A cycle through `me` in the wait-for graph, described as PostgreSQL's DETAIL does.
    fn deadlock(&self, me: i32, database: &str) -> Option<String> {
        // The database before the registry, the order the catalogs take them in.
        let mut db = self.db.lock().expect("database");
        let mut lines = Vec::new();
        let mut s = me;
        for _ in 0..64 {
            let (xid, holder) = self.activity.waits_for(s, |x| db.tx.top(x))?;
            let holder = holder?;
            lines.push(format!("Process {s} waits for ShareLock on transaction {xid}; blocked by process {holder}."));
            if holder == me {
                db.db_stats.entry(database.to_string()).or_default().deadlocks += 1;
                return Some(lines.join("\n"));
            }
            s = holder;
        }
        None
    }

    fn send_rows(
        client: &mut Client,
        columns: &[OutColumn],
        rows: impl Iterator<Item = Vec<Datum>>,
        formats: &[i16],
    ) -> Result<usize, ErrorResponse> {
        let mut n = 0;
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, d) in row.iter().enumerate() {
                values.push(encode(d, columns[i].ty, formats.get(i).copied().unwrap_or(0))?);
            }
            client.send(BackendMessage::DataRow(values));
            n += 1;
        }
        Ok(n)
    }

    async fn run_all(
        &self,
        session: &mut PgSession,
        statements: &[Statement],
        client: &mut Client,
    ) -> Result<(), ErrorResponse> {
        for stmt in statements {
            session.described = false;
            if let Statement::Deallocate { name, .. } = stmt {
                if name.value.eq_ignore_ascii_case("all") {
                    session.prepared = Prepared::default();
                } else {
                    session.prepared.close(Target::Statement, &name.value);
                }
            }
            match self.run(session, stmt, &[], client).await? {
                Output::Rows { columns, rows, tag } => {
                    if !std::mem::take(&mut session.described) {
                        client.send(BackendMessage::RowDescription(fields(&columns, &[])));
                    }
                    Self::send_rows(client, &columns, rows.into_iter(), &[])?;
                    client.send(BackendMessage::CommandComplete { tag });
                }
                Output::Command(tag) => client.send(BackendMessage::CommandComplete { tag }),
                Output::Empty => client.send(BackendMessage::EmptyQueryResponse),
            }
            client.flush_if_full().await;
        }
        Ok(())
    }
}

impl Engine for SqlEngine {
    type Session = PgSession;

    fn connect(&self, startup: &StartupMessage, key: BackendKey) -> Result<Connected<PgSession>, ErrorResponse> {
        self.connect_from(startup, key, None)
    }

    fn connect_from(
        &self,
        startup: &StartupMessage,
        key: BackendKey,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<Connected<PgSession>, ErrorResponse> {
        let (parameters, notices) = startup_parameters(startup)?;
        let id = key.process_id;
        // The name as ParameterStatus reports it (cut to 63 bytes, non-ASCII replaced).
        let application_name =
            parameters.iter().find(|(n, _)| n == "application_name").map(|(_, v)| v.as_str()).unwrap_or("");
        let mut session = PgSession {
            id,
            described: false,
            in_simple_query: false,
            settings_txn: Default::default(),
            // The catalogs (current_user, current_database(), pg_database) name the startup's.
            exec: exec::Session {
                user: startup.user().to_string(),
                database: startup.database().to_string(),
                pid: id,
                ..Default::default()
            },
            prepared: Prepared::default(),
            parsed: Default::default(),
            reported_application_name: application_name.to_string(),
            startup_application_name: application_name.to_string(),
        };
        // SHOW and current_setting() answer the startup's values until a SET changes them.
        if !application_name.is_empty() {
            session.exec.settings.insert("application_name".into(), application_name.to_string());
        }
        for (name, value) in &parameters {
            if matches!(name.as_str(), "DateStyle" | "IntervalStyle" | "TimeZone" | "client_encoding") {
                session.exec.settings.insert(name.to_lowercase(), value.clone());
            }
        }
        self.activity.register(activity::Backend::new(id, startup.database(), startup.user(), application_name, peer));
        Ok(Connected { session, parameters, notices })
    }

    async fn simple_query(&self, session: &mut PgSession, sql: &str, client: &mut Client) -> Result<(), ErrorResponse> {
        self.activity.start_query(session.id, sql, txn_info(&session.exec), client.cancel_flag());
        session.prepared.drop_unnamed_statement();
        // Parse everything first, as PostgreSQL does: a syntax error anywhere means none runs.
        let statements = parse_sql(sql).map_err(|e| to_response(&e))?;
        if statements.is_empty() {
            client.send(BackendMessage::EmptyQueryResponse);
            return Ok(());
        }
        if statements.len() > 1 && session.exec.txn.is_none() {
            session.exec.implicit_block = true;
        }
        session.in_simple_query = true;
        let result = self.run_all(session, &statements, client).await;
        session.in_simple_query = false;
        if session.exec.implicit_block {
            let (failed, awaiting) = {
                let mut db = self.db.lock().expect("database");
                // A deferred constraint that fails when the implicit block commits fails the Query.
                let top = session.exec.txn.as_ref().map(|t| t.top);
                let failed = exec::end_implicit_block(&mut db, &mut session.exec);
                if let (Some(t), None) = (top, &session.exec.txn) {
                    exec::count_transaction_end(&mut db, &session.exec.database, t);
                }
                (failed, Self::take_awaiting(&mut db))
            };
            if let Some(awaiting) = awaiting {
                self.await_durable(awaiting).await?;
            }
            self.txn_ended.notify_waiters();
            if let (Some(e), Ok(())) = (failed, &result) {
                return Err(to_response(&e));
            }
        }
        result
    }

    fn parse(
        &self,
        session: &mut PgSession,
        name: &str,
        query: &str,
        param_types: &[Oid],
    ) -> Result<(), ErrorResponse> {
        let version = self.schema_version.load(std::sync::atomic::Ordering::Acquire);
        let key = (query.to_string(), param_types.to_vec());
        if let Some(p) = session.parsed.get(&key).filter(|p| p.schema == version) {
            return session.prepared.add_shared_statement(name, p.clone());
        }
        let mut statements = parse_sql(query).map_err(|e| to_response(&e))?;
        if statements.len() > 1 {
            return Err(ErrorResponse::error(
                SqlState::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let n = count_params(query).max(param_types.len());
        let statement = statements.pop();
        // Untyped parameters get the type of the column they meet (see exec::infer_param_types);
        // the rest are described as text, and the executor reads text as the type it needs.
        let inferred = match &statement {
            Some(st) => exec::infer_param_types(&self.db.lock().expect("database"), st, n),
            None => vec![25; n],
        };
        let types = (0..n).map(|i| match param_types.get(i).copied() {
            Some(t) if t != 0 => t,
            _ => inferred[i],
        });
        let row_source = statement.as_ref().and_then(row_source);
        let prepared = Arc::new(Prepared1 {
            text: query.to_string(),
            statement,
            param_types: types.collect(),
            row_source,
            schema: version,
            columns: Mutex::new(None),
        });
        session.prepared.add_shared_statement(name, prepared.clone())?;
        if session.parsed.len() >= PARSED_STATEMENTS_MAX {
            session.parsed.clear();
        }
        session.parsed.insert(key, prepared);
        Ok(())
    }

    fn bind(&self, session: &mut PgSession, bind: Bind) -> Result<(), ErrorResponse> {
        let statement = session.prepared.statement(&bind.statement)?;
        check_param_count(&bind, statement.param_types.len())?;
        let mut params = Vec::new();
        for (i, v) in bind.params.iter().enumerate() {
            let format = match bind.param_formats.len() {
                0 => 0,
                1 => bind.param_formats[0],
                _ => bind.param_formats.get(i).copied().unwrap_or(0),
            };
            params.push(decode_param(v, format, statement.param_types[i], i)?);
        }
        // Result formats are checked against the statement's columns now, as PostgreSQL does.
        let columns = match &statement.row_source {
            Some(_) => self.columns(session, &statement)?.len(),
            None => 0,
        };
        let formats = resolve_result_formats(&bind.result_formats, columns)?;
        session
            .prepared
            .add_portal(&bind.portal, Portal { statement, params, formats, pending: None, columns: Vec::new() })
    }

    fn describe_statement(&self, session: &mut PgSession, name: &str) -> Result<StatementDescription, ErrorResponse> {
        let statement = session.prepared.statement(name)?;
        let fields = match &statement.row_source {
            Some(_) => Some(self.describe(session, &statement, &[])?),
            None => None,
        };
        Ok(StatementDescription { param_types: statement.param_types.clone(), fields })
    }

    fn describe_portal(
        &self,
        session: &mut PgSession,
        name: &str,
    ) -> Result<Option<Vec<FieldDescription>>, ErrorResponse> {
        let portal = session.prepared.portal(name)?;
        let statement = portal.statement.clone();
        let formats = portal.formats.clone();
        match &statement.row_source {
            Some(_) => Ok(Some(self.describe(session, &statement, &formats)?)),
            None => Ok(None),
        }
    }

    async fn execute(
        &self,
        session: &mut PgSession,
        portal: &str,
        max_rows: usize,
        client: &mut Client,
    ) -> Result<Completion, ErrorResponse> {
        let p = session.prepared.portal(portal)?;
        if p.pending.is_none() {
            let statement = p.statement.clone();
            let params = p.params.clone();
            let Some(stmt) = &statement.statement else { return Ok(Completion::EmptyQuery) };
            self.activity.start_query(session.id, &statement.text, txn_info(&session.exec), client.cancel_flag());
            let out = self.run(session, stmt, &params, client).await;
            session.described = false;
            match out? {
                Output::Rows { columns, rows, tag } => {
                    let p = session.prepared.portal(portal)?;
                    if p.formats.len() < columns.len() {
                        p.formats = resolve_result_formats(&p.formats, columns.len())?;
                    }
                    p.pending = Some((rows.into(), tag));
                    p.columns = columns;
                }
                Output::Command(tag) => return Ok(Completion::Command(tag)),
                Output::Empty => return Ok(Completion::EmptyQuery),
            }
        }
        let p = session.prepared.portal(portal)?;
        let (rows, tag) = p.pending.as_mut().expect("ran above");
        let take = if max_rows == 0 { rows.len() } else { max_rows.min(rows.len()) };
        let batch: Vec<Vec<Datum>> = rows.drain(..take).collect();
        let more = !rows.is_empty();
        // A SELECT's tag counts the rows this Execute sent (`SELECT 0` once a portal is drained).
        let tag = if tag.starts_with("SELECT ") { format!("SELECT {take}") } else { tag.clone() };
        Self::send_rows(client, &p.columns, batch.into_iter(), &p.formats)?;
        // As PostgreSQL: a portal that filled max_rows is suspended, even with nothing left.
        let _ = more;
        if max_rows > 0 && take == max_rows {
            return Ok(Completion::Suspended);
        }
        Ok(Completion::Command(tag))
    }

    fn close(&self, session: &mut PgSession, target: Target, name: &str) {
        session.prepared.close(target, name);
    }

    fn sync(&self, session: &mut PgSession) {
        if session.exec.txn.is_none() {
            session.prepared.drop_portals();
        }
    }

    fn error_occurred(&self, session: &mut PgSession) {
        self.fail(session);
    }

    /// Asked right before every ReadyForQuery, which is when PostgreSQL reports a session idle:
    /// the activity registry learns it here.
    /// `application_name` is the reported setting a session changes (SET, set_config): PostgreSQL
    /// then sends its new value. (The others it reports, DateStyle, TimeZone, IntervalStyle,
    /// client_encoding, are fixed in terrarium.)
    fn changed_parameters(&self, session: &mut PgSession) -> Vec<(String, String)> {
        // RESET goes back to the startup packet's value.
        let now = session.exec.settings.get("application_name").unwrap_or(&session.startup_application_name).clone();
        if now == session.reported_application_name {
            return Vec::new();
        }
        session.reported_application_name = now.clone();
        vec![("application_name".into(), now)]
    }

    fn transaction_status(&self, session: &PgSession) -> TransactionStatus {
        if let Some(name) = session.exec.settings.get("application_name") {
            self.activity.set_application_name(session.id, name);
        }
        self.activity.ready(session.id, txn_info(&session.exec));
        match session.exec.status() {
            b'T' => TransactionStatus::InBlock,
            b'E' => TransactionStatus::Failed,
            _ => TransactionStatus::Idle,
        }
    }

    fn disconnect(&self, session: PgSession) {
        let mut db = self.db.lock().expect("database");
        if let Some(t) = session.exec.txn {
            db.tx.abort(t.top);
        }
        self.activity.remove(session.id);
        self.txn_ended.notify_waiters();
    }
}

impl SqlEngine {
    /// The columns a query would return, found by planning it (running it inside a rolled-back
    /// subtransaction would be the alternative; describing from the select list is enough for
    /// the statements the executor supports).
    fn describe(
        &self,
        session: &mut PgSession,
        statement: &Prepared1,
        formats: &[i16],
    ) -> Result<Vec<FieldDescription>, ErrorResponse> {
        if statement.row_source.is_none() {
            return Ok(Vec::new());
        }
        let columns = self.columns(session, statement)?;
        let formats = resolve_result_formats(formats, columns.len())?;
        Ok(fields(&columns, &formats))
    }

    /// The columns of a prepared statement's rows, described once per schema version: Bind and
    /// Describe both need them, for every execution of the statement.
    fn columns(&self, session: &PgSession, statement: &Prepared1) -> Result<Vec<OutColumn>, ErrorResponse> {
        let Some(stmt) = &statement.row_source else { return Ok(Vec::new()) };
        let version = self.schema_version.load(std::sync::atomic::Ordering::Acquire);
        let mut cached = statement.columns.lock().expect("columns");
        if let Some((v, columns)) = cached.as_ref() {
            if *v == version {
                return Ok(columns.clone());
            }
        }
        let db = self.db.lock().expect("database");
        let columns = exec::describe(&db, &session.exec, stmt).map_err(|e| to_response(&e))?;
        *cached = Some((version, columns.clone()));
        Ok(columns)
    }
}

/// [`exec::parse`], retrying a COPY whose boolean options sqlparser cannot read
/// (`with (freeze on)`, as pgbench sends) with them spelled TRUE / FALSE.
fn parse_sql(sql: &str) -> Result<Vec<Statement>, exec::SqlError> {
    exec::parse(sql).or_else(|e| match copy::spell_booleans(sql) {
        Some(respelled) => exec::parse(&respelled).map_err(|_| e),
        None => Err(e),
    })
}

/// COPY FROM STDIN and COPY TO STDOUT in the text format (`sql::copy`).
///
/// ```text
///  COPY t (a, b) FROM STDIN ─▶ check table, columns, transaction ─▶ CopyInResponse
///     CopyData* ─▶ lines ─▶ fields ─▶ values by each column's input function (22P02 / 22P04
///                  at once, with CONTEXT `COPY t, line n, column a: "x"`)
///     CopyDone  ─▶ rows staged in the session ─▶ exec: one statement inserts them all
///                  (NOT NULL, UNIQUE, defaults, WAL, MVCC; CONTEXT `COPY t, line n` on failure)
///     CopyFail  ─▶ 57014 `COPY from stdin failed: <message>`
///  COPY t | (SELECT ...) TO STDOUT ─▶ the query's rows ─▶ CopyOutResponse, CopyData per row, CopyDone
/// ```
impl SqlEngine {
    async fn copy(
        &self,
        sess: &mut PgSession,
        stmt: &Statement,
        params: &[Datum],
        client: &mut Client,
    ) -> Result<Output, ErrorResponse> {
        let Statement::Copy { source, to, target, options, legacy_options, .. } = stmt else {
            return Err(ErrorResponse::error(SqlState(*b"XX000"), "not a COPY statement"));
        };
        if sess.exec.status() == b'E' {
            return Err(ErrorResponse::error(
                SqlState(*b"25P02"),
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let opts = copy::text_options(options, legacy_options)?;
        match (to, target, source) {
            (false, CopyTarget::Stdin, CopySource::Table { table_name, columns }) => {
                self.copy_in(sess, stmt, table_name, columns, &opts, client).await
            }
            (true, CopyTarget::Stdout, source) => self.copy_out(sess, source, &opts, params, client).await,
            _ => Err(ErrorResponse::error(
                SqlState(*b"0A000"),
                "terrarium supports COPY FROM STDIN and COPY TO STDOUT only (no server-side files or programs)",
            )),
        }
    }

    /// The table's name and the columns a COPY names (all of them for none), as indexes and
    /// [`CopyColumn`]s, with PostgreSQL's errors for a missing table or column and a repeated column.
    fn copy_columns(
        &self,
        table_name: &sqlparser::ast::ObjectName,
        columns: &[sqlparser::ast::Ident],
    ) -> Result<(String, Vec<usize>, Vec<CopyColumn>), ErrorResponse> {
        let table = copy::relation_name(table_name);
        let db = self.db.lock().expect("database");
        let Some(t) = db.tables.get(&table) else {
            return Err(ErrorResponse::error(SqlState(*b"42P01"), format!("relation \"{table}\" does not exist")));
        };
        let mut targets = Vec::new();
        if columns.is_empty() {
            targets.extend(0..t.columns.len());
        }
        for c in columns {
            let name = copy::column_name(c);
            let Some(i) = t.columns.iter().position(|col| col.name == name) else {
                return Err(ErrorResponse::error(
                    SqlState(*b"42703"),
                    format!("column \"{name}\" of relation \"{table}\" does not exist"),
                ));
            };
            if targets.contains(&i) {
                return Err(ErrorResponse::error(
                    SqlState(*b"42701"),
                    format!("column \"{name}\" specified more than once"),
                ));
            }
            targets.push(i);
        }
        let described = targets
            .iter()
            .map(|&i| CopyColumn {
                name: t.columns[i].name.clone(),
                ty: t.columns[i].ty,
                max_len: t.columns[i].max_len,
            })
            .collect();
        Ok((table, targets, described))
    }

    async fn copy_in(
        &self,
        sess: &mut PgSession,
        stmt: &Statement,
        table_name: &sqlparser::ast::ObjectName,
        columns: &[sqlparser::ast::Ident],
        opts: &copy::TextOptions,
        client: &mut Client,
    ) -> Result<Output, ErrorResponse> {
        let (table, targets, described) = self.copy_columns(table_name, columns)?;
        client.begin_copy_in(CopyResponse { format: 0, column_formats: vec![0; targets.len()] }).await;
        self.activity.set_wait(sess.id, Some(Wait::ClientRead));
        let rows = read_copy_rows(&table, &described, opts, client).await;
        self.activity.set_wait(sess.id, None);
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                // PostgreSQL answers at once and ignores the rest of the data.
                client.end_copy_in();
                return Err(e);
            }
        };
        sess.exec.copy_in = Some(exec::CopyIn { table: table.clone(), targets, rows, failed: None });
        let result = self.run_exec(sess, stmt, &[], client).await;
        let failed = sess.exec.copy_in.take().and_then(|c| c.failed);
        result.map_err(|e| match failed {
            // Each row is one line, after the header line if there is one.
            Some(i) if e.more.as_ref().and_then(|m| m.context.as_ref()).is_none() => {
                e.with_context(format!("COPY {table}, line {}", i as u64 + 1 + opts.header as u64))
            }
            _ => e,
        })
    }

    async fn copy_out(
        &self,
        sess: &mut PgSession,
        source: &CopySource,
        opts: &copy::TextOptions,
        params: &[Datum],
        client: &mut Client,
    ) -> Result<Output, ErrorResponse> {
        let query = match source {
            CopySource::Query(q) => Statement::Query(q.clone()),
            CopySource::Table { table_name, columns } => {
                let (_, _, described) = self.copy_columns(table_name, columns)?;
                let list: Vec<String> = if columns.is_empty() {
                    described.iter().map(|c| sqlparser::ast::Ident::with_quote('"', &c.name).to_string()).collect()
                } else {
                    columns.iter().map(|c| c.to_string()).collect()
                };
                let sql = format!("SELECT {} FROM {table_name}", list.join(", "));
                exec::parse(&sql)
                    .map_err(|e| to_response(&e))?
                    .pop()
                    .ok_or_else(|| ErrorResponse::error(SqlState(*b"XX000"), "COPY TO could not build its query"))?
            }
        };
        // Rows go out as CopyData: nothing may send a RowDescription for them (pg_sleep would).
        let described = std::mem::replace(&mut sess.described, true);
        let out = self.run_exec(sess, &query, params, client).await;
        sess.described = described;
        let (columns, rows) = match out? {
            Output::Rows { columns, rows, .. } => (columns, rows),
            _ => {
                return Err(ErrorResponse::error(SqlState(*b"0A000"), "COPY query must have a RETURNING clause"));
            }
        };
        client
            .send(BackendMessage::CopyOutResponse(CopyResponse { format: 0, column_formats: vec![0; columns.len()] }));
        let mut line = Vec::new();
        if opts.header {
            let names: Vec<Option<String>> = columns.iter().map(|c| Some(c.name.clone())).collect();
            copy::write_row(&mut line, &names, opts);
            client.send(BackendMessage::CopyData(Bytes::copy_from_slice(&line)));
        }
        let n = rows.len();
        for row in rows {
            line.clear();
            let values: Vec<Option<String>> = row.iter().map(Datum::to_text).collect();
            copy::write_row(&mut line, &values, opts);
            client.send(BackendMessage::CopyData(Bytes::copy_from_slice(&line)));
            client.flush_if_full().await;
        }
        client.send(BackendMessage::CopyDone);
        Ok(Output::Command(format!("COPY {n}")))
    }
}

/// A column COPY FROM fills: what converting its text needs.
struct CopyColumn {
    name: String,
    ty: SqlType,
    /// `varchar(n)`: the most characters a value may have.
    max_len: Option<usize>,
}

/// Reads COPY FROM STDIN's data up to CopyDone, each line converted at once into the columns'
/// values (so a bad value is reported with its line, as PostgreSQL reports it, before the rest
/// arrives).
async fn read_copy_rows(
    table: &str,
    columns: &[CopyColumn],
    opts: &copy::TextOptions,
    client: &mut Client,
) -> Result<Vec<Vec<Datum>>, ErrorResponse> {
    let cancel = client.cancel_flag();
    let mut reader = copy::LineReader::default();
    let mut rows = Vec::new();
    loop {
        let eof = match client.next_copy_in().await {
            CopyInEvent::Data(d) => {
                reader.feed(&d)?;
                false
            }
            CopyInEvent::Done => true,
            CopyInEvent::Fail(m) => {
                return Err(ErrorResponse::error(SqlState(*b"57014"), format!("COPY from stdin failed: {m}"))
                    .with_context(format!("COPY {table}, line {}", reader.next_line_number())))
            }
            CopyInEvent::Gone => {
                return Err(ErrorResponse::error(SqlState::PROTOCOL_VIOLATION, "connection lost during COPY"))
            }
        };
        if cancel.is_requested() {
            return Err(ErrorResponse::error(SqlState(*b"57014"), "canceling statement due to user request")
                .with_context(format!("COPY {table}, line {}", reader.next_line_number())));
        }
        loop {
            let line = reader.next_line(eof);
            let n = reader.line_number();
            let Some(line) = line.map_err(|e| e.with_context(format!("COPY {table}, line {n}")))? else { break };
            if opts.header && n == 1 {
                continue;
            }
            rows.push(copy_row(table, n, &line, columns, opts)?);
        }
        if eof {
            return Ok(rows);
        }
    }
}

/// One line of COPY FROM STDIN as the columns' values, checked in PostgreSQL's order: the
/// encoding, too many fields, then column by column a missing field or a value its type's input
/// function refuses.
fn copy_row(
    table: &str,
    n: u64,
    line: &[u8],
    columns: &[CopyColumn],
    opts: &copy::TextOptions,
) -> Result<Vec<Datum>, ErrorResponse> {
    let text = copy::check_line(line).map_err(|e| e.with_context(format!("COPY {table}, line {n}")))?;
    let context = || format!("COPY {table}, line {n}: \"{}\"", copy::display(text));
    let bad_format = |m: String| ErrorResponse::error(SqlState(*b"22P04"), m).with_context(context());
    if columns.is_empty() {
        if !text.is_empty() {
            return Err(bad_format("extra data after last expected column".into()));
        }
        return Ok(Vec::new());
    }
    let fields = copy::split_fields(text, opts).map_err(|e| e.with_context(context()))?;
    if fields.len() > columns.len() {
        return Err(bad_format("extra data after last expected column".into()));
    }
    let mut row = Vec::with_capacity(columns.len());
    for (k, c) in columns.iter().enumerate() {
        let Some(field) = fields.get(k) else {
            return Err(bad_format(format!("missing data for column \"{}\"", c.name)));
        };
        let Some(s) = field else {
            row.push(Datum::Null);
            continue;
        };
        let in_column = |e: ErrorResponse| {
            e.with_context(format!("COPY {table}, line {n}, column {}: \"{}\"", c.name, copy::display(s)))
        };
        // varchar(n)'s length is checked by its input function in PostgreSQL, so the error
        // names the column.
        if let Some(max) = c.max_len.filter(|&m| s.chars().count() > m) {
            return Err(in_column(ErrorResponse::error(
                SqlState(*b"22001"),
                format!("value too long for type character varying({max})"),
            )));
        }
        row.push(text_param(s, c.ty.oid()).map_err(in_column)?);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_counted_outside_quotes() {
        assert_eq!(count_params("select $1, $2 + $10"), 10);
        assert_eq!(count_params("select '$3', \"$4\""), 0);
        assert_eq!(count_params("select 1"), 0);
    }

    #[test]
    fn text_parameters_are_read_by_their_type_at_bind() {
        assert_eq!(text_param(" 42 ", 23).unwrap(), Datum::Int(42));
        assert_eq!(text_param("t", 16).unwrap(), Datum::Bool(true));
        assert_eq!(text_param("007.50", 1700).unwrap(), Datum::Numeric("7.50".into()));
        assert_eq!(text_param("1e-3", 701).unwrap(), Datum::Float(0.001));
        assert_eq!(text_param("one", 25).unwrap(), Datum::Text("one".into()));
        let e = text_param("one", 23).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (SqlState(*b"22P02"), "invalid input syntax for type integer: \"one\"")
        );
        let e = text_param("99999", 21).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (SqlState(*b"22003"), "value \"99999\" is out of range for type smallint")
        );
    }

    #[test]
    fn binary_timestamp_parameters_name_their_clock_time() {
        let v = Some(Bytes::from(1_500_000i64.to_be_bytes().to_vec()));
        assert_eq!(decode_param(&v, 1, 1114, 0).unwrap(), Datum::Text("2000-01-01 00:00:01.5".into()));
        assert_eq!(encode(&Datum::Text("2000-01-01 00:00:01.5".into()), SqlType::Timestamp, 1).unwrap(), v);
    }

    #[test]
    fn binary_results_of_every_type() {
        let b = |d: Datum, ty| encode(&d, ty, 1).unwrap().unwrap().to_vec();
        assert_eq!(b(Datum::Numeric("12.340".into()), SqlType::Numeric), [0, 2, 0, 0, 0, 0, 0, 3, 0, 12, 0x0d, 0x48]);
        assert_eq!(b(Datum::Text(String::new()), SqlType::Void), Vec::<u8>::new());
        assert_eq!(b(Datum::Int(3), SqlType::Float8), 3f64.to_be_bytes());
        assert_eq!(b(Datum::Text("(0,7)".into()), SqlType::Tid), [0, 0, 0, 0, 0, 7]);
        assert!(encode(&Datum::Int(1 << 40), SqlType::Int4, 1).is_err());
        assert_eq!(encode(&Datum::Null, SqlType::Numeric, 1).unwrap(), None);
    }

    #[test]
    fn dates_intervals_uuids_byteas_and_jsonb_in_binary_and_text() {
        use crate::sql::types::Interval;
        let b = |d: &Datum, ty| encode(d, ty, 1).unwrap().unwrap().to_vec();
        let iv = Datum::Interval(Interval { months: 14, days: 3, micros: 1_500_000 });
        // date_send: days since 2000-01-01; interval_send: microseconds, days, months.
        assert_eq!(b(&Datum::Date(-1), SqlType::Date), (-1i32).to_be_bytes());
        assert_eq!(
            b(&iv, SqlType::Interval),
            [&1_500_000i64.to_be_bytes()[..], &3i32.to_be_bytes(), &14i32.to_be_bytes()].concat()
        );
        assert_eq!(b(&Datum::Uuid([7; 16]), SqlType::Uuid), [7; 16]);
        assert_eq!(b(&Datum::Bytea(vec![0, 255]), SqlType::Bytea), [0, 255]);
        assert_eq!(b(&Datum::Jsonb("{\"a\": 1}".into()), SqlType::Jsonb), b"\x01{\"a\": 1}");
        assert_eq!(encode(&iv, SqlType::Interval, 0).unwrap().unwrap(), Bytes::from("1 year 2 mons 3 days 00:00:01.5"));
        // Each one's receive function reads back what its send function wrote.
        for (oid, d, ty) in [
            (1082, Datum::Date(8767), SqlType::Date),
            (1186, iv.clone(), SqlType::Interval),
            (2950, Datum::Uuid([9; 16]), SqlType::Uuid),
            (17, Datum::Bytea(vec![1, 2, 3]), SqlType::Bytea),
            (3802, Datum::Jsonb("[1, true]".into()), SqlType::Jsonb),
        ] {
            assert_eq!(decode_param(&encode(&d, ty, 1).unwrap(), 1, oid, 0).unwrap(), d, "{oid}");
        }
        let short = Some(Bytes::from_static(&[0, 1]));
        assert_eq!(
            decode_param(&short, 1, 1082, 2).unwrap_err().message,
            "incorrect binary data format in bind parameter 3"
        );
        let v2 = Some(Bytes::from_static(b"\x02{}"));
        assert_eq!(decode_param(&v2, 1, 3802, 0).unwrap_err().message, "unsupported jsonb version number 2");
        // Text parameters go through the types' input functions, errors and details included.
        assert_eq!(text_param("2024-01-02", 1082).unwrap(), Datum::Date(8767));
        assert_eq!(text_param("{\"b\":1,\"a\":2}", 3802).unwrap(), Datum::Jsonb("{\"a\": 2, \"b\": 1}".into()));
        let e = text_param("x", 2950).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (SqlState(*b"22P02"), "invalid input syntax for type uuid: \"x\""));
        let e = text_param("{", 3802).unwrap_err();
        assert_eq!(e.detail.as_deref(), Some("The input string ended unexpectedly."));
        assert_eq!(text_param("soon", 1082).unwrap_err().code, SqlState(*b"22007"));
    }
}
