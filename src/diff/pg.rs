//! The differential runner for SQL: the same statements to terrarium and to a real PostgreSQL 15,
//! each result compared (columns and their type OIDs, rows as text, command tags, notices,
//! errors with their SQLSTATE, and the transaction status ReadyForQuery reports).
//!
//! # Scenario files
//!
//! A `.sql` file is a script of statements ended by `;`, as psql reads one. A `;` inside a
//! string (`'a;b'`, `E'\';'`), a quoted name (`"a;b"`), a dollar-quoted body (`$$a;b$$`) or a
//! comment does not end a statement. Each statement goes to both servers as one simple-protocol
//! Query message, so its result is exactly one ReadyForQuery cycle on each side.
//!
//! ```text
//! -- A comment. Comments before a statement are not sent.
//! CREATE TABLE t (id int PRIMARY KEY, v text);
//! INSERT INTO t VALUES (1, 'a'), (2, 'b') RETURNING id;
//! SELECT v FROM t;                 -- [unordered]   (a marker after the `;` is for this statement)
//! -- [code-only]                   (a marker on a line of its own is for the next statement)
//! SELECT 1/0;
//!
//! @a BEGIN;                        `@name` picks the session for this and the following statements
//! @a UPDATE t SET v = 'x' WHERE id = 1;
//! @b & UPDATE t SET v = 'y' WHERE id = 1;    send without waiting: this one blocks on a's row lock
//! @a COMMIT;
//! @b wait                          collect b's result now
//! ```
//!
//! Sessions are separate connections, opened on both servers the first time a file names them
//! (`a` is the session of statements with no `@`). `@b & STATEMENT;` sends the statement and gives
//! each server [`BLOCK_PROBE_MS`] to answer: whether each one answered or blocked is compared at
//! once, and `@b wait` later reads the result (up to [`REPLY_WAIT_MS`]) and compares it, so a
//! server that never lets the waiter go shows as "no result". A session with a statement
//! outstanding takes nothing else until its `wait`; one left outstanding at the end of the file is
//! collected then. A statement sent without `&` that gets no result in time stops the file (the
//! sessions would be out of step), and counts as a failure.
//!
//! A marker comment inside a statement (between its first word and its `;`) is sent with it and
//! has no effect.
//!
//! Markers sit in `--` comments, in square brackets:
//!
//! | marker             | effect                                                                    |
//! |--------------------|---------------------------------------------------------------------------|
//! | `[unordered]`      | the rows may come in any order (compared as a multiset)                   |
//! | `[no-detail]`      | errors and notices: DETAIL and HINT are not compared (they name pids)     |
//! | `[code-only]`      | errors and notices: only severity and SQLSTATE are compared               |
//! | `[known: reason]`  | a documented difference: only the SQLSTATEs (or their absence) and the    |
//! |                    | transaction status must agree; anything else that differs is reported as  |
//! |                    | known, with the reason, and does not fail the run                         |
//! | `[sleep MS]`       | wait MS milliseconds before sending the statement                         |
//!
//! # Isolation
//!
//! On PostgreSQL each file runs in a database of its own, `terrarium_diff_<random>`, created
//! before the first statement and dropped (`WITH (FORCE)`) afterwards, whether the file passed,
//! differed or failed, so runs in parallel never see each other's tables. terrarium has one
//! database and ignores the name a client asks for, so before a file runs the runner drops, on
//! terrarium only, every table the file creates (`DROP TABLE IF EXISTS`, reply not compared);
//! the test suite and `terrarium diff pg` without `--terrarium` also give every file a fresh
//! in-process terrarium.
//!
//! # What one result looks like
//!
//! Both sides' messages up to ReadyForQuery are rendered as lines, and the lines are compared.
//! Columns are compared by name and type OID; table OIDs and attribute numbers (which differ
//! between any two databases) and type modifiers are not. Errors and notices are compared by
//! severity, SQLSTATE, message, DETAIL and HINT, not by position or PostgreSQL's source location.
//!
//! ```text
//! notice WARNING 25P01 there is no transaction in progress
//! columns id int4(23), v text(25)
//! row '1' NULL
//! tag SELECT 1
//! error ERROR 23505 duplicate key value violates unique constraint "t_pkey"
//!   detail Key (id)=(1) already exists.
//! ready I
//! ```
//!
//! A difference is reported with both results; `!` marks the lines the other result lacks.
//!
//! The client is the smallest one that works: StartupMessage, trust authentication only (the
//! oracle runs with trust on 127.0.0.1), then Query messages, using terrarium's own sans-IO codec
//! in `sql::wire` in the client direction. The user is `$PGUSER`, or `postgres`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::sql::wire::{Authentication, BackendMessage, ErrorResponse, FrontendMessage, StartupMessage};

/// How long to wait for one statement's result before calling it missing.
pub const REPLY_WAIT_MS: u64 = 10_000;
/// How long a statement sent with `&` has to answer before it counts as blocked. Long enough for
/// a loaded machine to answer a statement that does not block, short enough to keep files quick.
pub const BLOCK_PROBE_MS: u64 = 500;
/// How many sessions one file may open (each is a connection to both servers).
const SESSIONS_COUNT_MAX: usize = 8;
/// How many messages one result may hold before the runner refuses it (scenarios are small).
const RESULT_MESSAGES_COUNT_MAX: usize = 100_000;
/// How long connecting and creating or dropping the per-file database may take.
const SETUP_WAIT_MS: u64 = 30_000;

// ------------------------------------------------------------------------------------------------
// Scenario files.
// ------------------------------------------------------------------------------------------------

/// How one statement's results are compared.
#[derive(Debug, Clone, Default, PartialEq)]
struct Markers {
    unordered: bool,
    no_detail: bool,
    code_only: bool,
    known: Option<String>,
    sleep_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    /// Send `sql` and read its result; with `background`, only see whether it blocks.
    Run { sql: String, background: bool },
    /// Read the result of the session's outstanding statement.
    Wait,
}

#[derive(Debug, Clone)]
struct Step {
    line_no: usize,
    session: String,
    action: Action,
    markers: Markers,
}

impl Step {
    fn text(&self) -> String {
        let at = if self.session == "a" { String::new() } else { format!("@{} ", self.session) };
        match &self.action {
            Action::Run { sql, background: false } => format!("{at}{}", one_line(sql)),
            Action::Run { sql, background: true } => format!("@{} & {}", self.session, one_line(sql)),
            Action::Wait => format!("@{} wait", self.session),
        }
    }
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the markers of one comment (`[unordered] [code-only]`) into `m`. A comment that does
/// not start with `[` is prose and carries none.
fn parse_markers(comment: &str, line_no: usize, m: &mut Markers) -> Result<(), String> {
    let mut rest = comment.trim();
    if !rest.starts_with('[') {
        return Ok(());
    }
    while let Some(after) = rest.strip_prefix('[') {
        let end = after.find(']').ok_or_else(|| format!("line {line_no}: unclosed marker"))?;
        let marker = after[..end].trim();
        rest = after[end + 1..].trim_start();
        if let Some(reason) = marker.strip_prefix("known:") {
            if reason.trim().is_empty() {
                return Err(format!("line {line_no}: [known: ...] needs a reason"));
            }
            m.known = Some(reason.trim().to_string());
            continue;
        }
        let mut words = marker.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("unordered"), None, None) => m.unordered = true,
            (Some("no-detail"), None, None) => m.no_detail = true,
            (Some("code-only"), None, None) => m.code_only = true,
            (Some("sleep"), Some(n), None) => {
                m.sleep_ms = n.parse().map_err(|_| format!("line {line_no}: bad sleep {n:?}"))?
            }
            _ => return Err(format!("line {line_no}: unknown marker [{marker}]")),
        }
    }
    Ok(())
}

/// Splits a scenario into steps; see the module header for the syntax.
fn parse_scenario(text: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut steps: Vec<Step> = Vec::new();
    let mut session = "a".to_string();
    let mut background = false;
    let mut pending = Markers::default();
    let mut sql = String::new();
    let mut start_line = 0;
    let mut line_no = 1;
    // The step the last `;` ended and its line: a marker comment later on that line is for it.
    let mut last_ended: Option<(usize, usize)> = None;
    let mut at_line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let in_statement = !sql.trim().is_empty();
        if at_line_start && !in_statement {
            // A session directive may open a line between statements.
            let line_end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p);
            let line: String = chars[i..line_end].iter().collect();
            let trimmed = line.trim_start();
            if let Some(directive) = trimmed.strip_prefix('@') {
                let name_len = directive.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(directive.len());
                let name = &directive[..name_len];
                if name.is_empty() {
                    return Err(format!("line {line_no}: `@` needs a session name"));
                }
                session = name.to_string();
                let rest = directive[name_len..].trim_start();
                if rest.trim_end().trim_end_matches(';').trim_end() == "wait" {
                    steps.push(Step {
                        line_no,
                        session: session.clone(),
                        action: Action::Wait,
                        markers: std::mem::take(&mut pending),
                    });
                    i = line_end;
                    continue;
                }
                let (rest, amp) = match rest.strip_prefix('&') {
                    Some(r) => (r.trim_start(), true),
                    None => (rest, false),
                };
                background = amp;
                // `rest` is the end of the line: the statement text, which the loop reads on.
                i += line[..line.len() - rest.len()].chars().count();
                at_line_start = false;
                continue;
            }
        }
        at_line_start = false;
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                line_no += 1;
                at_line_start = true;
                if in_statement {
                    sql.push(c);
                }
                i += 1;
            }
            '-' if next == Some('-') => {
                let end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p);
                let comment: String = chars[i + 2..end].iter().collect();
                if in_statement {
                    sql.push_str(&format!("--{comment}"));
                } else {
                    match last_ended {
                        Some((step, line)) if line == line_no => {
                            parse_markers(&comment, line_no, &mut steps[step].markers)?;
                        }
                        _ => parse_markers(&comment, line_no, &mut pending)?,
                    }
                }
                i = end;
            }
            '/' if next == Some('*') => {
                // Block comments nest in PostgreSQL.
                let mut depth = 0;
                let start = i;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line_no += 1;
                        }
                        i += 1;
                    }
                }
                if depth != 0 {
                    return Err(format!("line {line_no}: unterminated /* comment"));
                }
                if in_statement {
                    sql.extend(&chars[start..i]);
                }
            }
            '\'' | '"' => {
                if !in_statement {
                    start_line = line_no;
                }
                // E'...' strings take backslash escapes; everything else doubles the quote.
                let escapes = c == '\''
                    && i > 0
                    && matches!(chars[i - 1], 'e' | 'E')
                    && (i < 2 || !(chars[i - 2].is_alphanumeric() || chars[i - 2] == '_'));
                let start = i;
                i += 1;
                loop {
                    let Some(&d) = chars.get(i) else {
                        return Err(format!("line {start_line}: unterminated quoted string"));
                    };
                    if d == '\n' {
                        line_no += 1;
                    }
                    if escapes && d == '\\' {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if d == c {
                        if chars.get(i) == Some(&c) {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                }
                sql.extend(&chars[start..i]);
            }
            '$' if !sql.ends_with(|c: char| c.is_alphanumeric() || c == '_') => {
                // A dollar quote: $$...$$ or $tag$...$tag$ (a `$1` parameter is not one).
                let tag_end =
                    chars[i + 1..].iter().position(|&c| !(c.is_alphanumeric() || c == '_')).map(|p| i + 1 + p);
                match tag_end {
                    Some(e) if chars[e] == '$' && !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                        if !in_statement {
                            start_line = line_no;
                        }
                        let tag: String = chars[i..=e].iter().collect();
                        let body_start = e + 1;
                        let body: String = chars[body_start..].iter().collect();
                        let close =
                            body.find(&tag).ok_or_else(|| format!("line {line_no}: unterminated {tag} quote"))?;
                        let close_chars = body[..close].chars().count();
                        let end = body_start + close_chars + tag.chars().count();
                        line_no += chars[i..end].iter().filter(|&&c| c == '\n').count();
                        sql.extend(&chars[i..end]);
                        i = end;
                    }
                    _ => {
                        sql.push(c);
                        i += 1;
                    }
                }
            }
            ';' => {
                if in_statement {
                    steps.push(Step {
                        line_no: start_line,
                        session: session.clone(),
                        action: Action::Run { sql: sql.trim().to_string(), background },
                        markers: std::mem::take(&mut pending),
                    });
                    last_ended = Some((steps.len() - 1, line_no));
                }
                sql.clear();
                background = false;
                i += 1;
            }
            _ => {
                if !in_statement && !c.is_whitespace() {
                    start_line = line_no;
                }
                if in_statement || !c.is_whitespace() {
                    sql.push(c);
                }
                i += 1;
            }
        }
    }
    if !sql.trim().is_empty() {
        steps.push(Step {
            line_no: start_line,
            session,
            action: Action::Run { sql: sql.trim().to_string(), background },
            markers: pending,
        });
    }
    Ok(steps)
}

/// The tables a scenario creates, so that a shared terrarium can be cleared of them first.
fn created_tables(steps: &[Step]) -> Vec<String> {
    let mut out = Vec::new();
    for s in steps {
        let Action::Run { sql, .. } = &s.action else { continue };
        let words: Vec<String> = sql.split_whitespace().take(7).map(|w| w.to_lowercase()).collect();
        let mut w = words.iter().map(String::as_str);
        if w.next() != Some("create") {
            continue;
        }
        let mut next = w.next();
        if matches!(next, Some("temp" | "temporary" | "unlogged")) {
            next = w.next();
        }
        if next != Some("table") {
            continue;
        }
        let mut name = w.next();
        if name == Some("if") {
            w.next();
            w.next();
            name = w.next();
        }
        if let Some(n) = name {
            let n = n.split('(').next().unwrap_or(n);
            if !n.is_empty() && !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------
// The client.
// ------------------------------------------------------------------------------------------------

/// One connection speaking the simple query protocol. Messages of a result that has not finished
/// yet (a statement that blocks) stay in `partial` until its ReadyForQuery arrives.
struct PgConn {
    stream: TcpStream,
    buf: BytesMut,
    partial: Vec<BackendMessage>,
    closed: bool,
}

impl PgConn {
    async fn connect(addr: &str, user: &str, database: &str) -> Result<Self, String> {
        let connect = TcpStream::connect(addr);
        let stream = tokio::time::timeout(Duration::from_millis(SETUP_WAIT_MS), connect)
            .await
            .map_err(|_| format!("connect {addr}: timed out"))?
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut c = PgConn { stream, buf: BytesMut::new(), partial: Vec::new(), closed: false };
        let mut startup = StartupMessage::new(user, database);
        startup.params.push(("application_name".into(), "terrarium-diff".into()));
        c.send(&FrontendMessage::Startup(startup)).await?;
        let deadline = Instant::now() + Duration::from_millis(SETUP_WAIT_MS);
        loop {
            let m = c.read_message(deadline).await?.ok_or_else(|| format!("{addr}: no answer to the startup"))?;
            match m {
                BackendMessage::Authentication(Authentication::Ok) => {}
                BackendMessage::Authentication(other) => {
                    return Err(format!(
                        "{addr}: the server asks for {other:?}; the diff runner supports trust authentication only"
                    ))
                }
                BackendMessage::ErrorResponse(e) => return Err(format!("{addr}: {e}")),
                BackendMessage::ReadyForQuery(_) => return Ok(c),
                _ => {}
            }
        }
    }

    async fn send(&mut self, m: &FrontendMessage) -> Result<(), String> {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        self.stream.write_all(&out).await.map_err(|e| e.to_string())
    }

    async fn send_query(&mut self, sql: &str) -> Result<(), String> {
        self.partial.clear();
        self.send(&FrontendMessage::Query { sql: sql.to_string() }).await
    }

    /// One message, or None when the deadline passed or the server closed the connection.
    async fn read_message(&mut self, deadline: Instant) -> Result<Option<BackendMessage>, String> {
        loop {
            if let Some(m) = BackendMessage::decode(&mut self.buf).map_err(|e| e.to_string())? {
                return Ok(Some(m));
            }
            if self.closed {
                return Ok(None);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => {
                    self.closed = true;
                    return Ok(None);
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.to_string()),
            }
        }
    }

    /// Reads the current result up to its ReadyForQuery. `None`: not finished by the deadline
    /// (what was read so far is kept for the next call).
    async fn read_result(&mut self, deadline: Instant) -> Result<Option<Vec<BackendMessage>>, String> {
        loop {
            match self.read_message(deadline).await? {
                Some(m) => {
                    let done = matches!(m, BackendMessage::ReadyForQuery(_));
                    self.partial.push(m);
                    if self.partial.len() > RESULT_MESSAGES_COUNT_MAX {
                        return Err(format!("a result of more than {RESULT_MESSAGES_COUNT_MAX} messages"));
                    }
                    if done {
                        return Ok(Some(std::mem::take(&mut self.partial)));
                    }
                }
                None if self.closed => return Ok(Some(std::mem::take(&mut self.partial))),
                None => return Ok(None),
            }
        }
    }

    /// Reads what is there until the deadline; true when the result is complete. The messages stay
    /// in `partial` (and the ReadyForQuery is pushed back) for `read_result` to return later.
    async fn peek_done(&mut self, deadline: Instant) -> Result<bool, String> {
        loop {
            if matches!(self.partial.last(), Some(BackendMessage::ReadyForQuery(_))) || self.closed {
                return Ok(true);
            }
            match self.read_message(deadline).await? {
                Some(m) => self.partial.push(m),
                None => return Ok(self.closed),
            }
        }
    }

    /// The rest of the current result, however much of it `peek_done` already read.
    async fn finish(&mut self, deadline: Instant) -> Result<Option<Vec<BackendMessage>>, String> {
        if matches!(self.partial.last(), Some(BackendMessage::ReadyForQuery(_))) {
            return Ok(Some(std::mem::take(&mut self.partial)));
        }
        self.read_result(deadline).await
    }

    /// Sends one statement and reads its whole result.
    async fn simple(&mut self, sql: &str, wait_ms: u64) -> Result<Option<Vec<BackendMessage>>, String> {
        self.send_query(sql).await?;
        self.read_result(Instant::now() + Duration::from_millis(wait_ms)).await
    }

    async fn terminate(mut self) {
        let _ = self.send(&FrontendMessage::Terminate).await;
        let _ = self.stream.shutdown().await;
    }
}

// ------------------------------------------------------------------------------------------------
// Rendering and comparing results.
// ------------------------------------------------------------------------------------------------

/// A type OID's name, for readable reports (the number is what is compared).
fn type_name(oid: u32) -> &'static str {
    match oid {
        16 => "bool",
        17 => "bytea",
        18 => "char",
        19 => "name",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        25 => "text",
        26 => "oid",
        28 => "xid",
        29 => "cid",
        27 => "tid",
        700 => "float4",
        701 => "float8",
        1042 => "bpchar",
        1043 => "varchar",
        1082 => "date",
        1114 => "timestamp",
        1184 => "timestamptz",
        1700 => "numeric",
        2950 => "uuid",
        _ => "?",
    }
}

fn quote(v: &[u8]) -> String {
    let mut s = String::from("'");
    for c in String::from_utf8_lossy(v).chars() {
        match c {
            '\'' => s.push_str("''"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(s, "\\x{:02x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

/// How much of an error or notice to show and compare.
#[derive(Clone, Copy, PartialEq)]
enum ErrorDepth {
    Full,
    NoDetail,
    CodeOnly,
}

fn render_error(kind: &str, e: &ErrorResponse, depth: ErrorDepth, out: &mut Vec<String>) {
    if depth == ErrorDepth::CodeOnly {
        out.push(format!("{kind} {} {}", e.severity.as_str(), e.code.as_str()));
        return;
    }
    let flat = |s: &str| s.replace('\n', "\\n");
    out.push(format!("{kind} {} {} {}", e.severity.as_str(), e.code.as_str(), flat(&e.message)));
    if depth == ErrorDepth::Full {
        if let Some(d) = &e.detail {
            out.push(format!("  detail {}", flat(d)));
        }
        if let Some(h) = &e.hint {
            out.push(format!("  hint {}", flat(h)));
        }
    }
}

/// The lines compared for one result. `None` messages: no result arrived in time.
fn render(messages: Option<&[BackendMessage]>, m: &Markers, wait_ms: u64) -> Vec<String> {
    let Some(messages) = messages else { return vec![format!("no result within {wait_ms} ms")] };
    let depth = if m.code_only {
        ErrorDepth::CodeOnly
    } else if m.no_detail {
        ErrorDepth::NoDetail
    } else {
        ErrorDepth::Full
    };
    let mut out = Vec::new();
    let mut rows_from = None;
    for msg in messages {
        match msg {
            BackendMessage::RowDescription(fields) => {
                let cols: Vec<String> =
                    fields.iter().map(|f| format!("{} {}({})", f.name, type_name(f.type_oid), f.type_oid)).collect();
                out.push(format!("columns {}", cols.join(", ")));
                rows_from = Some(out.len());
            }
            BackendMessage::DataRow(values) => {
                let vals: Vec<String> =
                    values.iter().map(|v| v.as_deref().map_or_else(|| "NULL".to_string(), quote)).collect();
                out.push(format!("row {}", vals.join(" ")));
            }
            BackendMessage::CommandComplete { tag } => {
                if m.unordered {
                    if let Some(from) = rows_from.take() {
                        out[from..].sort();
                    }
                }
                out.push(format!("tag {tag}"));
            }
            BackendMessage::EmptyQueryResponse => out.push("empty query".into()),
            BackendMessage::ErrorResponse(e) => render_error("error", e, depth, &mut out),
            BackendMessage::NoticeResponse(e) => render_error("notice", e, depth, &mut out),
            BackendMessage::ParameterStatus { name, value } => out.push(format!("parameter {name}={value}")),
            BackendMessage::ReadyForQuery(s) => out.push(format!("ready {}", s.byte() as char)),
            other => out.push(format!("unexpected message {:?}", other.tag() as char)),
        }
    }
    if !matches!(messages.last(), Some(BackendMessage::ReadyForQuery(_))) {
        out.push("connection closed".into());
    }
    out
}

/// What `[known: ...]` still insists on: the severity and SQLSTATE of every error and notice, the
/// transaction status, and that the server answered at all.
fn essentials(messages: Option<&[BackendMessage]>, m: &Markers) -> Vec<String> {
    let codes = Markers { code_only: true, ..m.clone() };
    render(messages, &codes, 0)
        .into_iter()
        .filter(|l| ["error ", "notice ", "ready ", "no result", "connection closed"].iter().any(|p| l.starts_with(p)))
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Reports.
// ------------------------------------------------------------------------------------------------

/// One difference found.
#[derive(Debug)]
pub struct Mismatch {
    pub line_no: usize,
    pub statement: String,
    pub postgres: Vec<String>,
    pub terrarium: Vec<String>,
    /// `Some(reason)`: a documented difference (`[known: reason]`), reported but not a failure.
    pub known: Option<String>,
}

#[derive(Debug)]
pub struct Report {
    pub file: String,
    /// Statements sent, plus `wait`s.
    pub steps: usize,
    pub mismatches: Vec<Mismatch>,
    /// `[known: ...]` statements whose results turned out identical: the marker can go.
    pub stale_known: Vec<usize>,
    /// Why the file stopped early (a statement got no result in time, so the sessions are out of
    /// step). Counts as one failure.
    pub stopped: Option<String>,
}

impl Report {
    /// Differences that fail the run (known ones do not).
    pub fn failures(&self) -> usize {
        self.mismatches.iter().filter(|m| m.known.is_none()).count() + usize::from(self.stopped.is_some())
    }

    pub fn known(&self) -> usize {
        self.mismatches.iter().filter(|m| m.known.is_some()).count()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for m in &self.mismatches {
            match &m.known {
                Some(reason) => {
                    let _ = writeln!(s, "{}:{}: known difference ({reason}): {}", self.file, m.line_no, m.statement);
                }
                None => {
                    let _ = writeln!(s, "{}:{}: {}", self.file, m.line_no, m.statement);
                }
            }
            // `!` marks a line the other server's result does not have.
            for (who, mine, theirs) in
                [("postgres", &m.postgres, &m.terrarium), ("terrarium", &m.terrarium, &m.postgres)]
            {
                let _ = writeln!(s, "    {who}:");
                for l in mine {
                    let _ = writeln!(s, "    {} {l}", if theirs.contains(l) { ' ' } else { '!' });
                }
            }
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(s, "{}: stopped: {why}", self.file);
        }
        for line in &self.stale_known {
            let _ = writeln!(s, "{}:{}: note: marked [known: ...] but the results are now equal", self.file, line);
        }
        let _ = writeln!(
            s,
            "{}: {} statements, {} differ, {} known differences",
            self.file,
            self.steps,
            self.mismatches.len() - self.known(),
            self.known()
        );
        s
    }
}

// ------------------------------------------------------------------------------------------------
// Running a file.
// ------------------------------------------------------------------------------------------------

/// One named session: a connection to each server, and its statement in flight, if any.
struct Session {
    name: String,
    postgres: PgConn,
    terrarium: PgConn,
    /// The `&` step whose result `wait` will read.
    outstanding: Option<Step>,
}

fn user() -> String {
    std::env::var("PGUSER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "postgres".to_string())
}

/// A database name no other run picks: the process, the time and a counter.
fn unique_database() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("terrarium_diff_{}_{:x}_{n}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// Runs `sql` on an administrative connection and insists it succeeded.
async fn admin(conn: &mut PgConn, sql: &str) -> Result<(), String> {
    let messages = conn.simple(sql, SETUP_WAIT_MS).await?.ok_or_else(|| format!("{sql}: no answer"))?;
    for m in &messages {
        if let BackendMessage::ErrorResponse(e) = m {
            return Err(format!("{sql}: {e}"));
        }
    }
    Ok(())
}

/// Runs one scenario text against both servers: `terrarium` and `postgres` are host:port.
pub async fn run_text(name: &str, text: &str, terrarium: &str, postgres: &str) -> Result<Report, String> {
    let steps = parse_scenario(text)?;
    let user = user();
    let database = unique_database();
    let mut control = PgConn::connect(postgres, &user, "postgres").await?;
    admin(&mut control, &format!("CREATE DATABASE {database}")).await?;
    let result = run_steps(name, &steps, terrarium, postgres, &user, &database).await;
    // The database goes whatever happened; FORCE ends any session a failure left behind.
    let dropped = admin(&mut control, &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
    control.terminate().await;
    let report = result?;
    dropped?;
    Ok(report)
}

async fn run_steps(
    name: &str,
    steps: &[Step],
    terrarium: &str,
    postgres: &str,
    user: &str,
    database: &str,
) -> Result<Report, String> {
    {
        let mut t = PgConn::connect(terrarium, user, database).await?;
        for table in created_tables(steps) {
            // Not compared: this only clears what an earlier run against the same terrarium left.
            t.simple(&format!("DROP TABLE IF EXISTS {table}"), REPLY_WAIT_MS).await?;
        }
        t.terminate().await;
    }
    let mut report = Report {
        file: name.to_string(),
        steps: steps.len(),
        mismatches: Vec::new(),
        stale_known: vec![],
        stopped: None,
    };
    let mut sessions: Vec<Session> = Vec::new();
    let outcome = run_sessions(steps, terrarium, postgres, user, database, &mut sessions, &mut report).await;
    // Anything still outstanding is read now, so the file's last `&` cannot pass unseen.
    for s in sessions.iter_mut() {
        if let Some(step) = s.outstanding.take() {
            if outcome.is_ok() {
                compare_result(s, &step, REPLY_WAIT_MS, &mut report).await?;
            }
        }
    }
    for s in sessions {
        s.postgres.terminate().await;
        s.terrarium.terminate().await;
    }
    outcome?;
    Ok(report)
}

async fn run_sessions(
    steps: &[Step],
    terrarium: &str,
    postgres: &str,
    user: &str,
    database: &str,
    sessions: &mut Vec<Session>,
    report: &mut Report,
) -> Result<(), String> {
    for step in steps {
        if step.markers.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.markers.sleep_ms)).await;
        }
        let idx = match sessions.iter().position(|s| s.name == step.session) {
            Some(i) => i,
            None => {
                if sessions.len() == SESSIONS_COUNT_MAX {
                    return Err(format!("line {}: more than {SESSIONS_COUNT_MAX} sessions", step.line_no));
                }
                sessions.push(Session {
                    name: step.session.clone(),
                    postgres: PgConn::connect(postgres, user, database).await?,
                    terrarium: PgConn::connect(terrarium, user, database).await?,
                    outstanding: None,
                });
                sessions.len() - 1
            }
        };
        let s = &mut sessions[idx];
        match &step.action {
            Action::Wait => {
                let Some(sent) = s.outstanding.take() else {
                    return Err(format!("line {}: session {} has nothing to wait for", step.line_no, s.name));
                };
                // The result is judged by the markers of the statement that was sent.
                let mut sent = sent;
                sent.line_no = step.line_no;
                if !compare_result(s, &sent, REPLY_WAIT_MS, report).await? {
                    report.stopped = Some(out_of_step(step.line_no));
                    return Ok(());
                }
            }
            Action::Run { sql, background } => {
                if let Some(o) = &s.outstanding {
                    return Err(format!(
                        "line {}: session {} still waits for line {} (add `@{} wait` first)",
                        step.line_no, s.name, o.line_no, s.name
                    ));
                }
                s.postgres.send_query(sql).await?;
                s.terrarium.send_query(sql).await?;
                if *background {
                    // Give both a moment to answer: whether each one did is the first thing compared.
                    let deadline = Instant::now() + Duration::from_millis(BLOCK_PROBE_MS);
                    let (p, t) = tokio::join!(s.postgres.peek_done(deadline), s.terrarium.peek_done(deadline));
                    let (p, t) = (p?, t?);
                    if p != t {
                        let said = |done: bool| {
                            vec![if done { "answered at once".to_string() } else { "blocked".to_string() }]
                        };
                        report.mismatches.push(Mismatch {
                            line_no: step.line_no,
                            statement: step.text(),
                            postgres: said(p),
                            terrarium: said(t),
                            known: step.markers.known.clone(),
                        });
                    }
                    s.outstanding = Some(step.clone());
                } else if !compare_result(s, step, REPLY_WAIT_MS, report).await? {
                    report.stopped = Some(out_of_step(step.line_no));
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

fn out_of_step(line_no: usize) -> String {
    format!(
        "line {line_no}: no result within {REPLY_WAIT_MS} ms, so the sessions are out of step and the file stops \
         here (a statement that is meant to block is sent with `@name &` and collected with `@name wait`)"
    )
}

/// Reads one result from both servers, compares it and records any difference. Returns false
/// when a server did not answer in time (the file cannot go on).
async fn compare_result(s: &mut Session, step: &Step, wait_ms: u64, report: &mut Report) -> Result<bool, String> {
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    let (p, t) = tokio::join!(s.postgres.finish(deadline), s.terrarium.finish(deadline));
    let (p, t) = (p?, t?);
    let m = &step.markers;
    let pl = render(p.as_deref(), m, wait_ms);
    let tl = render(t.as_deref(), m, wait_ms);
    let both_answered = p.is_some() && t.is_some();
    if pl == tl && both_answered {
        if m.known.is_some() {
            // Say so, so that the marker does not outlive the difference.
            report.stale_known.push(step.line_no);
        }
        return Ok(true);
    }
    let known = match &m.known {
        Some(reason) if both_answered && essentials(p.as_deref(), m) == essentials(t.as_deref(), m) => {
            Some(reason.clone())
        }
        _ => None,
    };
    report.mismatches.push(Mismatch {
        line_no: step.line_no,
        statement: step.text(),
        postgres: pl,
        terrarium: tl,
        known,
    });
    Ok(both_answered)
}

/// Runs a scenario file against both servers.
pub async fn run_file(path: &Path, terrarium: &str, postgres: &str) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    run_text(&path.display().to_string(), &text, terrarium, postgres).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::wire::{FieldDescription, TransactionStatus};

    fn sqls(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match &s.action {
                Action::Run { sql, background } => format!("{}{}:{sql}", s.session, if *background { "&" } else { "" }),
                Action::Wait => format!("{}:wait", s.session),
            })
            .collect()
    }

    #[test]
    fn statements_split_on_semicolons_outside_quotes_and_comments() {
        let s = parse_scenario(concat!(
            "-- intro\n",
            "SELECT 'a;b', \"c;d\"; SELECT E'x\\';y';\n",
            "SELECT $$p;q$$, $t$r;$t$ -- c;\n",
            ";\n",
            "/* a; /* b; */ */ SELECT 1",
        ))
        .unwrap();
        assert_eq!(
            sqls(&s),
            vec!["a:SELECT 'a;b', \"c;d\"", "a:SELECT E'x\\';y'", "a:SELECT $$p;q$$, $t$r;$t$ -- c;", "a:SELECT 1"]
        );
        assert_eq!(s[2].line_no, 3);
        assert_eq!(s[3].line_no, 5);
    }

    #[test]
    fn sessions_background_and_wait() {
        let s =
            parse_scenario("@a BEGIN;\n@b & UPDATE t SET v = 1;\nSELECT 2;\n@a COMMIT;\n@b wait\nSELECT $1;").unwrap();
        assert_eq!(
            sqls(&s),
            vec!["a:BEGIN", "b&:UPDATE t SET v = 1", "b:SELECT 2", "a:COMMIT", "b:wait", "b:SELECT $1"]
        );
        assert!(parse_scenario("@ x;").is_err());
    }

    #[test]
    fn markers_attach_to_the_right_statement() {
        let s = parse_scenario(concat!(
            "SELECT 1; -- [unordered]\n",
            "-- [code-only] [sleep 5]\n",
            "SELECT 2;\n",
            "-- [known: wording differs]\n",
            "SELECT 3;\n",
            "-- prose [x]\n",
            "SELECT 4;",
        ))
        .unwrap();
        assert!(s[0].markers.unordered && !s[0].markers.code_only);
        assert!(s[1].markers.code_only && s[1].markers.sleep_ms == 5 && !s[1].markers.unordered);
        assert_eq!(s[2].markers.known.as_deref(), Some("wording differs"));
        assert_eq!(s[3].markers, Markers::default());
        assert!(parse_scenario("-- [bogus]\nSELECT 1;").is_err());
        assert!(parse_scenario("-- [known:]\nSELECT 1;").is_err());
    }

    #[test]
    fn created_tables_are_found() {
        let s = parse_scenario("CREATE TABLE t (a int); create table if not exists U(a int); SELECT 1;").unwrap();
        assert_eq!(created_tables(&s), vec!["t", "u"]);
    }

    #[test]
    fn unordered_rows_sort_and_known_keeps_codes() {
        use bytes::Bytes;
        let rows = |a: &str, b: &str| {
            vec![
                BackendMessage::RowDescription(vec![FieldDescription::new("v", 25, -1)]),
                BackendMessage::DataRow(vec![Some(Bytes::from(a.to_string()))]),
                BackendMessage::DataRow(vec![Some(Bytes::from(b.to_string()))]),
                BackendMessage::CommandComplete { tag: "SELECT 2".into() },
                BackendMessage::ReadyForQuery(TransactionStatus::Idle),
            ]
        };
        let m = Markers { unordered: true, ..Default::default() };
        assert_eq!(render(Some(&rows("x", "y")), &m, 1), render(Some(&rows("y", "x")), &m, 1));
        let exact = Markers::default();
        assert_ne!(render(Some(&rows("x", "y")), &exact, 1), render(Some(&rows("y", "x")), &exact, 1));
        assert_eq!(essentials(Some(&rows("x", "y")), &exact), vec!["ready I".to_string()]);
        assert_eq!(render(Some(&rows("x", "y")), &exact, 1)[0], "columns v text(25)");
    }
}
