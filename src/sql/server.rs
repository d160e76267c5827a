//! The PostgreSQL listener: the handshake, the query loop, and the [`Engine`] seam it calls.
//!
//! One task per connection runs PostgreSQL's `PostgresMain` in miniature:
//!
//! ```text
//!  accept ─▶ first packets: SSLRequest/GSSENCRequest → 'N' · CancelRequest → cancel, close
//!         ─▶ StartupMessage → [NegotiateProtocolVersion] → user? → a connection slot?
//!         ─▶ AuthenticationOk → Engine::connect → NoticeResponse* ParameterStatus×13
//!            BackendKeyData ReadyForQuery
//!         ─▶ loop: Query ──────────▶ Engine::simple_query ─▶ [ErrorResponse] ReadyForQuery
//!                  Parse/Bind/... ─▶ Engine::parse/bind/describe/execute/close ─▶ 1/2/t/T/n/D/C/s/3
//!                  (after an error every message up to Sync is discarded)
//!                  Sync ───────────▶ Engine::sync ─▶ ReadyForQuery
//!                  Terminate / EOF ▶ Engine::disconnect
//! ```
//!
//! The wire layer owns protocol order: which reply each message gets, when ReadyForQuery goes
//! out and with which status, skip-until-Sync, flushing, cancel keys, shutdown. The engine owns
//! meaning: statements, portals, transactions, rows. It keeps prepared statements and portals
//! itself — SQL's `DECLARE` makes portals that protocol messages address, so they must live in
//! one place — and [`Prepared`] gives it PostgreSQL's naming rules and error texts for free.
//!
//! Until the SQL engine lands, [`standin::StandIn`] answers: SELECTs of literals, `pg_sleep`,
//! BEGIN / COMMIT / ROLLBACK with their I / T / E states, empty queries, and ERROR 0A000 for
//! everything else.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};

use crate::limits::PG_SEND_BUFFER_FLUSH_BYTES;
use crate::sql::wire::messages::truncate_name;
use crate::sql::wire::{
    Authentication, BackendMessage, Bind, CopyResponse, Decoder, ErrorResponse, FieldDescription, FrontendMessage, Oid,
    PasswordKind, ProtocolError, ProtocolVersion, Severity, SqlState, StartupMessage, Target, TransactionStatus,
};

/// What `server_version` reports. psql and drivers branch on the number (15.20 = 150020, the psql
/// this machine has), so it must be PostgreSQL's; the parenthesis says who is answering, as
/// distributions add theirs ("15.20 (Debian 15.20-0+deb12u1)").
pub const SERVER_VERSION: &str = concat!("15.20 (terrarium ", env!("CARGO_PKG_VERSION"), ")");

/// `server_version_num`, for SHOW.
pub const SERVER_VERSION_NUM: &str = "150020";

// ---------------------------------------------------------------------------------------------
// The Engine seam
// ---------------------------------------------------------------------------------------------

/// The key a client quotes in a CancelRequest (from BackendKeyData) to cancel this session's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendKey {
    /// What `pg_backend_pid()` returns.
    pub process_id: i32,
    pub secret_key: i32,
}

/// A session the engine accepted.
pub struct Connected<S> {
    pub session: S,
    /// ParameterStatus pairs, in the order to send them ([`startup_parameters`] builds PostgreSQL
    /// 15's thirteen).
    pub parameters: Parameters,
    /// NoticeResponses to send before them (a name that had to be cut, ...).
    pub notices: Vec<ErrorResponse>,
}

/// Describe of a prepared statement: its parameter types (inferred where the client sent 0) and
/// its result columns, or `None` when it returns no rows (NoData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementDescription {
    pub param_types: Vec<Oid>,
    pub fields: Option<Vec<FieldDescription>>,
}

/// How an Execute ended; the wire layer sends the matching message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// CommandComplete with this tag (`SELECT 3`, `INSERT 0 1`, `BEGIN`).
    Command(String),
    /// The statement was empty: EmptyQueryResponse.
    EmptyQuery,
    /// `max_rows` rows were sent and more may follow: PortalSuspended; the portal stays open.
    Suspended,
}

/// What terrarium's SQL layer implements to be served over PostgreSQL's protocol.
///
/// One `Engine` serves every connection (methods take `&self`; share state inside it); each
/// connection has one `Session`, which the wire layer hands back on every call and never looks
/// into. Errors are returned, never sent: the wire layer sends them, calls [`Engine::error_occurred`],
/// and decides what follows (ReadyForQuery, or discarding until Sync). A FATAL error closes the
/// connection after it is sent.
///
/// Rows, notices and ParameterStatus updates go out through the [`Client`] the query methods get;
/// so do COPY's sub-protocol ([`Client::begin_copy_in`]) and cancellation ([`Client::cancel_flag`]).
pub trait Engine: Send + Sync + 'static {
    type Session: Send + 'static;

    /// A client finished the StartupMessage and is authenticated: accept it, or refuse with a
    /// FATAL (3D000 `database "x" does not exist`, ...). The wire layer has already refused a
    /// missing user name and a full server, and sent AuthenticationOk.
    fn connect(&self, startup: &StartupMessage, key: BackendKey) -> Result<Connected<Self::Session>, ErrorResponse>;

    /// [`Engine::connect`], told where the client connects from (`None` for a stream that is not
    /// a socket): what `pg_stat_activity.client_addr` shows. Engines that do not care keep this.
    fn connect_from(
        &self,
        startup: &StartupMessage,
        key: BackendKey,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<Connected<Self::Session>, ErrorResponse> {
        let _ = peer;
        self.connect(startup, key)
    }

    /// A simple Query: every statement in `sql`, in order, as one implicit transaction unless a
    /// block is open. For each statement send RowDescription, DataRow* and CommandComplete (or
    /// EmptyQueryResponse if `sql` holds no statement at all); return the first error, after which
    /// the rest of the string is skipped. PostgreSQL also drops the unnamed prepared statement
    /// here. ReadyForQuery is the wire layer's.
    fn simple_query<'a>(
        &'a self,
        session: &'a mut Self::Session,
        sql: &'a str,
        client: &'a mut Client,
    ) -> impl Future<Output = Result<(), ErrorResponse>> + Send + 'a;

    /// Parse: prepare `query` as statement `name` ("" = the unnamed one, replaced by each Parse).
    /// `param_types` may be shorter than the parameters used, and 0 means "infer it".
    fn parse(
        &self,
        session: &mut Self::Session,
        name: &str,
        query: &str,
        param_types: &[Oid],
    ) -> Result<(), ErrorResponse>;

    /// Bind: make portal `bind.portal` from statement `bind.statement` ([`check_param_count`],
    /// [`crate::sql::wire::messages::resolve_result_formats`] help).
    fn bind(&self, session: &mut Self::Session, bind: Bind) -> Result<(), ErrorResponse>;

    /// Describe S.
    fn describe_statement(
        &self,
        session: &mut Self::Session,
        name: &str,
    ) -> Result<StatementDescription, ErrorResponse>;

    /// Describe P: the portal's columns with the formats its Bind asked for, or `None` (NoData).
    fn describe_portal(
        &self,
        session: &mut Self::Session,
        name: &str,
    ) -> Result<Option<Vec<FieldDescription>>, ErrorResponse>;

    /// Execute: send up to `max_rows` DataRows (0 = all) and say how it ended.
    fn execute<'a>(
        &'a self,
        session: &'a mut Self::Session,
        portal: &'a str,
        max_rows: usize,
        client: &'a mut Client,
    ) -> impl Future<Output = Result<Completion, ErrorResponse>> + Send + 'a;

    /// Close S or P. Closing something that does not exist is not an error.
    fn close(&self, session: &mut Self::Session, target: Target, name: &str);

    /// Sync: the end of an extended-query batch. An implicit transaction ends here (committed, or
    /// rolled back after an error); portals go with it.
    fn sync(&self, session: &mut Self::Session);

    /// An ERROR was just sent, the engine's or the wire layer's (a malformed message, a missing
    /// portal). PostgreSQL aborts the transaction on any error: an open block becomes failed (E).
    fn error_occurred(&self, session: &mut Self::Session);

    /// ReadyForQuery's status byte.
    fn transaction_status(&self, session: &Self::Session) -> TransactionStatus;

    /// The reported settings (ParameterStatus) whose values changed since they were last sent,
    /// asked right before each ReadyForQuery, which is where PostgreSQL reports them.
    fn changed_parameters(&self, _session: &mut Self::Session) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The fast-path FunctionCall. PostgreSQL looks the function up by OID; terrarium has none to
    /// offer unless an engine says otherwise.
    fn function_call(
        &self,
        _session: &mut Self::Session,
        function_oid: Oid,
        _args: Vec<Option<Bytes>>,
    ) -> Result<Option<Bytes>, ErrorResponse> {
        Err(ErrorResponse::error(
            SqlState::UNDEFINED_FUNCTION,
            format!("function with OID {function_oid} does not exist"),
        ))
    }

    /// The connection ended (Terminate, EOF, a FATAL, shutdown): roll back and release.
    fn disconnect(&self, _session: Self::Session) {}
}

/// Checks Bind's parameter count against what the statement needs, with PostgreSQL's text.
pub fn check_param_count(bind: &Bind, required: usize) -> Result<(), ErrorResponse> {
    if bind.params.len() != required {
        return Err(ErrorResponse::protocol_violation(format!(
            "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
            bind.params.len(),
            bind.statement,
            required
        )));
    }
    Ok(())
}

/// Prepared statements and portals under PostgreSQL's rules: the unnamed statement and portal are
/// replaced by the next Parse or Bind, named ones must be closed first, closing what does not
/// exist is fine, and the errors read as PostgreSQL's. Statements are shared (`Arc`) so a portal
/// can outlive the Close of its statement, as in PostgreSQL.
pub struct Prepared<S, P> {
    statements: HashMap<String, Arc<S>>,
    portals: HashMap<String, P>,
}

impl<S, P> Default for Prepared<S, P> {
    fn default() -> Self {
        Prepared { statements: HashMap::new(), portals: HashMap::new() }
    }
}

impl<S, P> Prepared<S, P> {
    pub fn add_statement(&mut self, name: &str, statement: S) -> Result<(), ErrorResponse> {
        self.add_shared_statement(name, Arc::new(statement))
    }

    /// As [`Prepared::add_statement`], for a statement the session keeps elsewhere too.
    pub fn add_shared_statement(&mut self, name: &str, statement: Arc<S>) -> Result<(), ErrorResponse> {
        if !name.is_empty() && self.statements.contains_key(name) {
            return Err(ErrorResponse::error(
                SqlState::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        self.statements.insert(name.to_string(), statement);
        Ok(())
    }

    pub fn statement(&self, name: &str) -> Result<Arc<S>, ErrorResponse> {
        self.statements.get(name).cloned().ok_or_else(|| {
            let message = if name.is_empty() {
                "unnamed prepared statement does not exist".to_string()
            } else {
                format!("prepared statement \"{name}\" does not exist")
            };
            ErrorResponse::error(SqlState::INVALID_SQL_STATEMENT_NAME, message)
        })
    }

    /// Named portals share SQL cursors' namespace, hence "cursor" in the error.
    pub fn add_portal(&mut self, name: &str, portal: P) -> Result<(), ErrorResponse> {
        if !name.is_empty() && self.portals.contains_key(name) {
            return Err(ErrorResponse::error(SqlState::DUPLICATE_CURSOR, format!("cursor \"{name}\" already exists")));
        }
        self.portals.insert(name.to_string(), portal);
        Ok(())
    }

    pub fn portal(&mut self, name: &str) -> Result<&mut P, ErrorResponse> {
        self.portals.get_mut(name).ok_or_else(|| {
            ErrorResponse::error(SqlState::INVALID_CURSOR_NAME, format!("portal \"{name}\" does not exist"))
        })
    }

    pub fn close(&mut self, target: Target, name: &str) {
        match target {
            Target::Statement => {
                self.statements.remove(name);
            }
            Target::Portal => {
                self.portals.remove(name);
            }
        }
    }

    /// A simple Query discards the unnamed statement.
    pub fn drop_unnamed_statement(&mut self) {
        self.statements.remove("");
    }

    /// At the end of a transaction every portal goes.
    pub fn drop_portals(&mut self) {
        self.portals.clear();
    }
}

/// ReadyForQuery, after a ParameterStatus for each reported setting the engine says changed.
fn send_ready<E: Engine>(engine: &E, client: &mut Client, session: &mut E::Session) {
    for (name, value) in engine.changed_parameters(session) {
        client.send(BackendMessage::ParameterStatus { name, value });
    }
    client.send(BackendMessage::ReadyForQuery(engine.transaction_status(session)));
}

/// ParameterStatus name/value pairs, in the order sent.
pub type Parameters = Vec<(String, String)>;

/// The thirteen ParameterStatus entries PostgreSQL 15 sends after authentication, in its order,
/// with the client's own application_name, client_encoding, DateStyle, IntervalStyle and TimeZone
/// when its StartupMessage set them. Returns them with any notices to send first.
///
/// terrarium speaks UTF8 only: another client_encoding is refused with a FATAL rather than
/// answered in the wrong encoding.
pub fn startup_parameters(startup: &StartupMessage) -> Result<(Parameters, Vec<ErrorResponse>), ErrorResponse> {
    let mut notices = Vec::new();
    let (mut application_name, mut date_style, mut interval_style, mut time_zone) =
        (String::new(), "ISO, MDY".to_string(), "postgres".to_string(), "Etc/UTC".to_string());
    let mut client_encoding = None;
    for (name, value) in startup.settings() {
        // Setting names are case-insensitive in PostgreSQL.
        match name.to_ascii_lowercase().as_str() {
            "application_name" => {
                // PostgreSQL 15 replaces anything but printable ASCII with '?', then cuts to 63.
                let clean: String =
                    value.bytes().map(|b| if (32..127).contains(&b) { b as char } else { '?' }).collect();
                let cut = truncate_name(&clean);
                if cut.len() < clean.len() {
                    notices.push(ErrorResponse::notice(
                        SqlState::NAME_TOO_LONG,
                        format!("identifier \"{clean}\" will be truncated to \"{cut}\""),
                    ));
                }
                application_name = cut.to_string();
            }
            // When a name is repeated the last value counts, as in PostgreSQL.
            "client_encoding" => client_encoding = Some(value),
            "datestyle" => date_style = value.to_string(),
            "intervalstyle" => interval_style = value.to_string(),
            "timezone" => time_zone = value.to_string(),
            _ => {}
        }
    }
    if let Some(e) = client_encoding {
        check_client_encoding(e)?;
    }
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let parameters = vec![
        p("application_name", &application_name),
        p("client_encoding", "UTF8"),
        p("DateStyle", &date_style),
        p("default_transaction_read_only", "off"),
        p("in_hot_standby", "off"),
        p("integer_datetimes", "on"),
        p("IntervalStyle", &interval_style),
        p("is_superuser", "on"),
        p("server_encoding", "UTF8"),
        p("server_version", SERVER_VERSION),
        p("session_authorization", startup.user()),
        p("standard_conforming_strings", "on"),
        p("TimeZone", &time_zone),
    ];
    Ok((parameters, notices))
}

/// PostgreSQL's encoding names, compared as it compares them: case and punctuation ignored.
#[rustfmt::skip]
const ENCODING_NAMES: &[&str] = &[
    "SQL_ASCII", "EUC_JP", "EUC_CN", "EUC_KR", "EUC_TW", "EUC_JIS_2004", "UTF8", "MULE_INTERNAL", "LATIN1", "LATIN2",
    "LATIN3", "LATIN4", "LATIN5", "LATIN6", "LATIN7", "LATIN8", "LATIN9", "LATIN10", "WIN1256", "WIN1258", "WIN866",
    "WIN874", "KOI8R", "WIN1251", "WIN1252", "ISO_8859_5", "ISO_8859_6", "ISO_8859_7", "ISO_8859_8", "WIN1250",
    "WIN1253", "WIN1254", "WIN1255", "WIN1257", "KOI8U", "SJIS", "BIG5", "GBK", "UHC", "GB18030", "JOHAB",
    "SHIFT_JIS_2004", "UNICODE",
];

fn check_client_encoding(value: &str) -> Result<(), ErrorResponse> {
    let key = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let k = key(value);
    if k == "utf8" || k == "unicode" {
        return Ok(());
    }
    if ENCODING_NAMES.iter().any(|n| key(n) == k) {
        return Err(ErrorResponse::fatal(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("client_encoding \"{value}\" is not supported: terrarium speaks UTF8 only"),
        ));
    }
    Err(ErrorResponse::fatal(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"client_encoding\": \"{value}\""),
    ))
}

// ---------------------------------------------------------------------------------------------
// Client: one connection as the engine sees it
// ---------------------------------------------------------------------------------------------

/// Set by a CancelRequest that quotes this session's key; a running query checks it, or waits on
/// it next to whatever else it waits for.
#[derive(Debug, Default)]
pub struct CancelFlag {
    requested: AtomicBool,
    notify: Notify,
}

impl CancelFlag {
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Resolves once a cancel arrives. `notify_one` keeps a permit when nobody waits, so a cancel
    /// landing between the check and the wait is not lost; a stale permit only causes one extra
    /// check.
    pub async fn wait(&self) {
        while !self.is_requested() {
            self.notify.notified().await;
        }
    }

    /// Asks the running query to stop, as a CancelRequest with the right key does (also used by
    /// `pg_cancel_backend`).
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// A cancel that arrives while no query runs is dropped, as PostgreSQL drops it.
    fn clear(&self) {
        self.requested.store(false, Ordering::SeqCst);
    }
}

/// Anything a session can run over: a TcpStream, or `tokio::io::duplex` in tests.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// One connection: buffered output, the decoder, the cancel flag.
pub struct Client {
    stream: Box<dyn AsyncStream>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: Decoder,
    key: BackendKey,
    cancel: Arc<CancelFlag>,
    /// A write failed: the peer is gone, and further output is dropped.
    gone: bool,
    /// Errors to send before closing, raised inside an engine call (COPY desynchronised).
    fatal: Vec<ErrorResponse>,
}

/// What COPY FROM STDIN delivers to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyInEvent {
    Data(Bytes),
    Done,
    /// CopyFail; PostgreSQL answers ERROR 57014 `COPY from stdin failed: <message>`.
    Fail(String),
    /// The connection broke or sent something else: abandon the COPY and return any error.
    Gone,
}

enum Incoming {
    Message(FrontendMessage),
    Malformed(ProtocolError),
    Closed,
    Shutdown,
}

impl Client {
    pub fn new(stream: impl AsyncStream + 'static) -> Self {
        Client {
            stream: Box::new(stream),
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            decoder: Decoder::new(),
            key: BackendKey { process_id: 0, secret_key: 0 },
            cancel: Arc::new(CancelFlag::default()),
            gone: false,
            fatal: Vec::new(),
        }
    }

    /// Queues a message. It goes out at the next Sync, Flush or ReadyForQuery, or once
    /// [`PG_SEND_BUFFER_FLUSH_BYTES`] are pending and the wire layer or the engine flushes.
    pub fn send(&mut self, message: BackendMessage) {
        if !self.gone {
            message.encode(&mut self.wbuf);
        }
    }

    pub async fn flush(&mut self) {
        if self.gone || self.wbuf.is_empty() {
            self.wbuf.clear();
            return;
        }
        let r = async {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await
        }
        .await;
        self.wbuf.clear();
        if r.is_err() {
            self.gone = true;
        }
    }

    /// For engines streaming many rows: write out once enough is pending.
    pub async fn flush_if_full(&mut self) {
        if self.wbuf.len() >= PG_SEND_BUFFER_FLUSH_BYTES {
            self.flush().await;
        }
    }

    /// True once a write failed: nobody is listening any more.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    pub fn backend_key(&self) -> BackendKey {
        self.key
    }

    /// The session's cancel flag, to check between rows or to wait on beside a sleep or a lock.
    pub fn cancel_flag(&self) -> Arc<CancelFlag> {
        self.cancel.clone()
    }

    /// Starts COPY FROM STDIN: sends CopyInResponse and flushes it, after which
    /// [`Client::next_copy_in`] yields what the client sends.
    pub async fn begin_copy_in(&mut self, response: CopyResponse) {
        self.send(BackendMessage::CopyInResponse(response));
        self.flush().await;
        self.decoder.start_copy_in();
    }

    /// Leaves COPY FROM STDIN before CopyDone / CopyFail (the engine found an error in the data
    /// and answers at once, as PostgreSQL does; the rest of the data is then ignored).
    pub fn end_copy_in(&mut self) {
        self.decoder.stop_copy_in();
    }

    /// The next piece of a COPY FROM STDIN. Flush and Sync are skipped, as PostgreSQL skips them
    /// (libpq may send them without noticing the command was COPY). Any other message breaks the
    /// COPY and the connection: PostgreSQL reports it, then `terminating connection because
    /// protocol synchronization was lost`.
    pub async fn next_copy_in(&mut self) -> CopyInEvent {
        loop {
            match self.next(None).await {
                Incoming::Message(FrontendMessage::CopyData(d)) => return CopyInEvent::Data(d),
                Incoming::Message(FrontendMessage::CopyDone) => return CopyInEvent::Done,
                Incoming::Message(FrontendMessage::CopyFail { message }) => return CopyInEvent::Fail(message),
                Incoming::Message(_) => continue,
                Incoming::Malformed(e) => {
                    self.fatal.push(e.response.with_severity(Severity::Error));
                    self.fatal.push(ErrorResponse::fatal(
                        SqlState::PROTOCOL_VIOLATION,
                        "terminating connection because protocol synchronization was lost",
                    ));
                    return CopyInEvent::Gone;
                }
                Incoming::Closed | Incoming::Shutdown => {
                    self.gone = true;
                    return CopyInEvent::Gone;
                }
            }
        }
    }

    /// Reads until one message is complete, the peer leaves, or (when given) shutdown starts.
    async fn next(&mut self, shutdown: Option<&mut watch::Receiver<bool>>) -> Incoming {
        let mut shutdown = shutdown;
        loop {
            match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(m)) => return Incoming::Message(m),
                Ok(None) => {}
                Err(e) => return Incoming::Malformed(e),
            }
            let read = match shutdown.as_deref_mut() {
                Some(rx) => tokio::select! {
                    r = self.stream.read_buf(&mut self.rbuf) => r,
                    _ = wait_for_shutdown(rx) => return Incoming::Shutdown,
                },
                None => self.stream.read_buf(&mut self.rbuf).await,
            };
            match read {
                Ok(0) | Err(_) => return Incoming::Closed,
                Ok(_) => {}
            }
        }
    }
}

async fn wait_for_shutdown(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            // The server is gone without saying shutdown: nothing will ever be announced.
            std::future::pending::<()>().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// Shared by every PostgreSQL connection: the engine, the cancel keys, the connection slots.
pub struct PgServer<E: Engine> {
    engine: E,
    /// With a password, every connection must pass SCRAM-SHA-256 (`super::scram`); without one,
    /// connections are trusted, as `trust` in pg_hba.conf.
    password: Option<String>,
    backends: Mutex<HashMap<i32, (i32, Arc<CancelFlag>)>>,
    next_pid: AtomicI32,
    slots: Arc<Semaphore>,
}

impl<E: Engine> PgServer<E> {
    pub fn new(engine: E, max_connections: usize) -> Arc<Self> {
        Self::with_password(engine, max_connections, None)
    }

    /// A server that asks every client for `password` (any user name) with SCRAM-SHA-256.
    pub fn with_password(engine: E, max_connections: usize, password: Option<String>) -> Arc<Self> {
        Arc::new(PgServer {
            engine,
            password,
            backends: Mutex::new(HashMap::new()),
            // Process ids look like an operating system's, and never repeat within a run.
            next_pid: AtomicI32::new(10_000),
            slots: Arc::new(Semaphore::new(max_connections)),
        })
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Accepts until shutdown, one task per connection.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        let mut stop = shutdown.clone();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = wait_for_shutdown(&mut stop) => return,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let server = self.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move { server.run_connection_from(stream, Some(peer), shutdown).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("postgres accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Serves one connection from its first byte to its last.
    pub async fn run_connection(self: Arc<Self>, stream: impl AsyncStream + 'static, shutdown: watch::Receiver<bool>) {
        self.run_connection_from(stream, None, shutdown).await
    }

    /// [`PgServer::run_connection`] for a client at `peer`.
    pub async fn run_connection_from(
        self: Arc<Self>,
        stream: impl AsyncStream + 'static,
        peer: Option<std::net::SocketAddr>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut client = Client::new(stream);
        let Some(startup) = self.first_packets(&mut client, &mut shutdown).await else { return };

        // PostgreSQL 15's order: NegotiateProtocolVersion, then the user check, then the slot check.
        let unknown: Vec<String> = startup.protocol_options().into_iter().map(String::from).collect();
        if startup.protocol_version.minor > 0 || !unknown.is_empty() {
            client.send(BackendMessage::NegotiateProtocolVersion {
                newest_minor: ProtocolVersion::V3_0.code(),
                unrecognized_options: unknown,
            });
        }
        if startup.user().is_empty() {
            return fatal(
                &mut client,
                ErrorResponse::fatal(
                    SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                    "no PostgreSQL user name specified in startup packet",
                ),
            )
            .await;
        }
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            return fatal(
                &mut client,
                ErrorResponse::fatal(SqlState::TOO_MANY_CONNECTIONS, "sorry, too many clients already"),
            )
            .await;
        };
        if let Some(password) = &self.password {
            if !scram_exchange(&mut client, startup.user(), password, &mut shutdown).await {
                return;
            }
        }
        client.send(BackendMessage::Authentication(Authentication::Ok));

        let (key, cancel) = self.register();
        client.key = key;
        client.cancel = cancel;
        let _registered = Registered { server: &*self, process_id: key.process_id };

        let connected = match self.engine.connect_from(&startup, key, peer) {
            Ok(c) => c,
            Err(e) => return fatal(&mut client, e.with_severity(Severity::Fatal)).await,
        };
        let mut session = connected.session;
        for n in connected.notices {
            client.send(BackendMessage::NoticeResponse(n));
        }
        for (name, value) in connected.parameters {
            client.send(BackendMessage::ParameterStatus { name, value });
        }
        client.send(BackendMessage::BackendKeyData { process_id: key.process_id, secret_key: key.secret_key });
        client.send(BackendMessage::ReadyForQuery(self.engine.transaction_status(&session)));
        client.flush().await;

        self.query_loop(&mut client, &mut session, &mut shutdown).await;
        self.engine.disconnect(session);
    }

    /// SSLRequest and GSSENCRequest (refused), CancelRequest, then the StartupMessage.
    async fn first_packets(&self, client: &mut Client, shutdown: &mut watch::Receiver<bool>) -> Option<StartupMessage> {
        loop {
            match client.next(Some(shutdown)).await {
                Incoming::Message(FrontendMessage::SslRequest | FrontendMessage::GssEncRequest) => {
                    // Not a message: one byte, and the client goes on in the clear.
                    client.wbuf.put_u8(b'N');
                    client.flush().await;
                    if client.gone {
                        return None;
                    }
                }
                Incoming::Message(FrontendMessage::CancelRequest { process_id, secret_key }) => {
                    // PostgreSQL answers a cancel with nothing at all, matched or not.
                    self.cancel(process_id, secret_key);
                    return None;
                }
                Incoming::Message(FrontendMessage::Startup(s)) => return Some(s),
                // The decoder yields nothing else before a StartupMessage.
                Incoming::Message(_) | Incoming::Closed | Incoming::Shutdown => return None,
                Incoming::Malformed(e) => {
                    e.encode(&mut client.wbuf);
                    client.flush().await;
                    return None;
                }
            }
        }
    }

    /// PostgreSQL's `PostgresMain` loop.
    async fn query_loop(&self, client: &mut Client, session: &mut E::Session, shutdown: &mut watch::Receiver<bool>) {
        let engine = &self.engine;
        // After an error in an extended-query message, everything up to Sync is discarded.
        let mut skipping = false;
        loop {
            let message = match client.next(Some(shutdown)).await {
                Incoming::Message(m) => m,
                Incoming::Closed => return,
                Incoming::Shutdown => {
                    let e = ErrorResponse::fatal(
                        SqlState::ADMIN_SHUTDOWN,
                        "terminating connection due to administrator command",
                    );
                    return fatal(client, e).await;
                }
                Incoming::Malformed(e) if e.is_fatal() => {
                    return fatal(client, e.response).await;
                }
                Incoming::Malformed(e) => {
                    if !skipping {
                        let extended = matches!(e.message_type, Some(b'P' | b'B' | b'D' | b'E' | b'C' | b'H'));
                        if !self.fail(client, session, e.response) {
                            return fatal_sent(client).await;
                        }
                        if extended {
                            skipping = true;
                        } else {
                            send_ready(engine, client, session);
                            client.flush().await;
                        }
                    }
                    continue;
                }
            };
            if skipping && !matches!(message, FrontendMessage::Sync | FrontendMessage::Terminate) {
                continue;
            }
            // Whether an error here starts skipping (extended-query messages) or is followed by
            // ReadyForQuery (simple Query, FunctionCall).
            let mut failed: Option<(ErrorResponse, bool)> = None;
            match message {
                FrontendMessage::Query { sql } => {
                    client.cancel.clear();
                    if let Err(e) = engine.simple_query(session, &sql, client).await {
                        failed = Some((e, false));
                    } else {
                        send_ready(engine, client, session);
                        client.flush().await;
                    }
                }
                FrontendMessage::Parse { statement, query, param_types } => {
                    match engine.parse(session, &statement, &query, &param_types) {
                        Ok(()) => client.send(BackendMessage::ParseComplete),
                        Err(e) => failed = Some((e, true)),
                    }
                }
                FrontendMessage::Bind(bind) => match engine.bind(session, bind) {
                    Ok(()) => client.send(BackendMessage::BindComplete),
                    Err(e) => failed = Some((e, true)),
                },
                FrontendMessage::Describe { target: Target::Statement, name } => {
                    match engine.describe_statement(session, &name) {
                        Ok(d) => {
                            client.send(BackendMessage::ParameterDescription(d.param_types));
                            client.send(row_description(d.fields));
                        }
                        Err(e) => failed = Some((e, true)),
                    }
                }
                FrontendMessage::Describe { target: Target::Portal, name } => {
                    match engine.describe_portal(session, &name) {
                        Ok(fields) => client.send(row_description(fields)),
                        Err(e) => failed = Some((e, true)),
                    }
                }
                FrontendMessage::Execute { portal, max_rows } => {
                    client.cancel.clear();
                    let max_rows = if max_rows <= 0 { 0 } else { max_rows as usize };
                    match engine.execute(session, &portal, max_rows, client).await {
                        Ok(Completion::Command(tag)) => client.send(BackendMessage::CommandComplete { tag }),
                        Ok(Completion::EmptyQuery) => client.send(BackendMessage::EmptyQueryResponse),
                        Ok(Completion::Suspended) => client.send(BackendMessage::PortalSuspended),
                        Err(e) => failed = Some((e, true)),
                    }
                }
                FrontendMessage::Close { target, name } => {
                    engine.close(session, target, &name);
                    client.send(BackendMessage::CloseComplete);
                }
                FrontendMessage::Sync => {
                    skipping = false;
                    engine.sync(session);
                    send_ready(engine, client, session);
                    client.flush().await;
                }
                FrontendMessage::Flush => client.flush().await,
                FrontendMessage::Terminate => return,
                FrontendMessage::FunctionCall { function_oid, args, .. } => {
                    match engine.function_call(session, function_oid, args) {
                        Ok(v) => {
                            client.send(BackendMessage::FunctionCallResponse(v));
                            send_ready(engine, client, session);
                            client.flush().await;
                        }
                        Err(e) => failed = Some((e, false)),
                    }
                }
                // Outside COPY these are accepted and ignored, as the protocol says.
                FrontendMessage::CopyData(_) | FrontendMessage::CopyDone | FrontendMessage::CopyFail { .. } => {}
                // The decoder refuses these after startup; nothing to do if one ever got here.
                FrontendMessage::SslRequest
                | FrontendMessage::GssEncRequest
                | FrontendMessage::CancelRequest { .. }
                | FrontendMessage::Startup(_)
                | FrontendMessage::PasswordMessage { .. }
                | FrontendMessage::SaslInitialResponse { .. }
                | FrontendMessage::SaslResponse { .. } => {}
            }
            if !client.fatal.is_empty() {
                // An engine call broke the stream (COPY): report, then close.
                for e in std::mem::take(&mut client.fatal) {
                    client.send(BackendMessage::ErrorResponse(e));
                }
                return fatal_sent(client).await;
            }
            if let Some((e, extended)) = failed {
                if !self.fail(client, session, e) {
                    return fatal_sent(client).await;
                }
                if extended {
                    skipping = true;
                } else {
                    send_ready(engine, client, session);
                    client.flush().await;
                }
            }
            if client.gone {
                return;
            }
            client.flush_if_full().await;
        }
    }

    /// Sends an error and lets the engine abort its transaction. False when it was FATAL.
    fn fail(&self, client: &mut Client, session: &mut E::Session, e: ErrorResponse) -> bool {
        let fatal = e.is_fatal();
        client.send(BackendMessage::ErrorResponse(e));
        self.engine.error_occurred(session);
        !fatal
    }

    fn register(&self) -> (BackendKey, Arc<CancelFlag>) {
        let process_id = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let key = BackendKey { process_id, secret_key: rand::random::<i32>() };
        let flag = Arc::new(CancelFlag::default());
        self.backends.lock().expect("backends").insert(process_id, (key.secret_key, flag.clone()));
        (key, flag)
    }

    /// A CancelRequest: only the right secret cancels, and nobody is told either way.
    fn cancel(&self, process_id: i32, secret_key: i32) {
        let backends = self.backends.lock().expect("backends");
        match backends.get(&process_id) {
            Some((secret, flag)) if *secret == secret_key => flag.request(),
            _ => tracing::debug!("postgres: cancel request for unknown backend {process_id} ignored"),
        }
    }
}

/// Removes a session's cancel key however the session ends.
struct Registered<'a, E: Engine> {
    server: &'a PgServer<E>,
    process_id: i32,
}

impl<E: Engine> Drop for Registered<'_, E> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.server.backends.lock() {
            b.remove(&self.process_id);
        }
    }
}

fn row_description(fields: Option<Vec<FieldDescription>>) -> BackendMessage {
    match fields {
        Some(f) => BackendMessage::RowDescription(f),
        None => BackendMessage::NoData,
    }
}

/// Sends a FATAL error and everything queued before it; the caller then closes.
/// Runs SCRAM-SHA-256 with the client. On any failure the client has been sent PostgreSQL's FATAL
/// error and the connection closed; returns whether it authenticated.
async fn scram_exchange(client: &mut Client, user: &str, password: &str, shutdown: &mut watch::Receiver<bool>) -> bool {
    use super::scram::{ScramError, ServerExchange, MECHANISM};
    let failed = |user: &str| {
        ErrorResponse::fatal(SqlState::INVALID_PASSWORD, format!("password authentication failed for user \"{user}\""))
    };
    let violation = |why: &str| ErrorResponse::fatal(SqlState::PROTOCOL_VIOLATION, why.to_string());
    client.send(BackendMessage::Authentication(Authentication::Sasl { mechanisms: vec![MECHANISM.to_string()] }));
    client.decoder.expect_password(PasswordKind::SaslInitial);
    client.flush().await;
    let (mechanism, data) = match client.next(Some(shutdown)).await {
        Incoming::Message(FrontendMessage::SaslInitialResponse { mechanism, data }) => (mechanism, data),
        Incoming::Malformed(e) => {
            fatal(client, ErrorResponse::fatal(SqlState::PROTOCOL_VIOLATION, e.message())).await;
            return false;
        }
        _ => return false,
    };
    if mechanism != MECHANISM {
        fatal(client, violation("selected SASL authentication mechanism is not supported")).await;
        return false;
    }
    let server_nonce: [u8; 18] = rand::random();
    let salt: [u8; 16] = rand::random();
    let data = data.unwrap_or_default();
    let (exchange, server_first) = match ServerExchange::start(password, &data, &server_nonce, salt) {
        Ok(x) => x,
        Err(ScramError::Malformed(why)) => {
            fatal(client, violation(why)).await;
            return false;
        }
        Err(ScramError::WrongPassword) => {
            fatal(client, failed(user)).await;
            return false;
        }
    };
    client.send(BackendMessage::Authentication(Authentication::SaslContinue { data: Bytes::from(server_first) }));
    client.decoder.expect_password(PasswordKind::Sasl);
    client.flush().await;
    let data = match client.next(Some(shutdown)).await {
        Incoming::Message(FrontendMessage::SaslResponse { data }) => data,
        Incoming::Malformed(e) => {
            fatal(client, ErrorResponse::fatal(SqlState::PROTOCOL_VIOLATION, e.message())).await;
            return false;
        }
        _ => return false,
    };
    match exchange.finish(&data) {
        Ok(server_final) => {
            client.send(BackendMessage::Authentication(Authentication::SaslFinal { data: Bytes::from(server_final) }));
            true
        }
        Err(ScramError::WrongPassword) => {
            fatal(client, failed(user)).await;
            false
        }
        Err(ScramError::Malformed(why)) => {
            fatal(client, violation(why)).await;
            false
        }
    }
}

async fn fatal(client: &mut Client, e: ErrorResponse) {
    client.send(BackendMessage::ErrorResponse(e));
    fatal_sent(client).await;
}

async fn fatal_sent(client: &mut Client) {
    client.flush().await;
    let _ = client.stream.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The stand-in engine
// ---------------------------------------------------------------------------------------------

/// A placeholder for the SQL engine, small enough to be obviously right: it answers SELECTs of
/// literals (`select 1, 'a' as b, true, null, -2.50, pg_sleep(0.1)`), BEGIN / START TRANSACTION,
/// COMMIT / END, ROLLBACK / ABORT with PostgreSQL's states and warnings, empty queries, and ERROR
/// 0A000 for everything else. Over the extended protocol the same statements work (without
/// parameters), including PortalSuspended for `max_rows`.
pub mod standin {
    use super::*;
    use crate::sql::wire::messages::{check_format, resolve_result_formats};
    use crate::sql::wire::{oid, FORMAT_BINARY};

    #[derive(Debug, Default)]
    pub struct StandIn;

    pub struct Session {
        status: TransactionStatus,
        prepared: Prepared<Statement, Portal>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum Statement {
        Empty,
        /// BEGIN, or START TRANSACTION (which PostgreSQL tags as such).
        Begin {
            start: bool,
        },
        Commit,
        Rollback,
        Select(Vec<Item>),
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Item {
        name: String,
        value: Literal,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Literal {
        Int4(i32),
        Int8(i64),
        /// Text as PostgreSQL's numeric_in would print it back.
        Numeric(String),
        Text(String),
        Bool(bool),
        /// An untyped NULL resolves to text, as in PostgreSQL.
        Null,
        Sleep(f64),
    }

    impl Literal {
        fn field(&self, name: &str) -> FieldDescription {
            let (ty, size) = match self {
                Literal::Int4(_) => (oid::INT4, 4),
                Literal::Int8(_) => (oid::INT8, 8),
                Literal::Numeric(_) => (oid::NUMERIC, -1),
                Literal::Text(_) | Literal::Null => (oid::TEXT, -1),
                Literal::Bool(_) => (oid::BOOL, 1),
                Literal::Sleep(_) => (oid::VOID, 4),
            };
            FieldDescription::new(name, ty, size)
        }

        fn encode(&self, format: i16) -> Result<Option<Bytes>, ErrorResponse> {
            let binary = format == FORMAT_BINARY;
            Ok(Some(match self {
                Literal::Int4(v) if binary => Bytes::copy_from_slice(&v.to_be_bytes()),
                Literal::Int8(v) if binary => Bytes::copy_from_slice(&v.to_be_bytes()),
                Literal::Bool(v) if binary => Bytes::copy_from_slice(&[*v as u8]),
                Literal::Numeric(_) if binary => {
                    return Err(ErrorResponse::error(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        "binary numeric output is not supported by terrarium's stand-in engine",
                    ))
                }
                Literal::Int4(v) => Bytes::from(v.to_string()),
                Literal::Int8(v) => Bytes::from(v.to_string()),
                Literal::Numeric(s) | Literal::Text(s) => Bytes::from(s.clone()),
                Literal::Bool(v) => Bytes::from_static(if *v { b"t" } else { b"f" }),
                Literal::Null => return Ok(None),
                Literal::Sleep(_) => Bytes::new(),
            }))
        }
    }

    pub struct Portal {
        statement: Arc<Statement>,
        formats: Vec<i16>,
        /// The one row of a SELECT has been sent.
        done: bool,
    }

    fn not_supported(what: &str) -> ErrorResponse {
        let message = if what.is_empty() {
            "this statement is not supported yet".to_string()
        } else {
            format!("{} is not supported yet", what.to_uppercase())
        };
        ErrorResponse::error(SqlState::FEATURE_NOT_SUPPORTED, message).with_hint(
            "terrarium's SQL engine is not built yet; its stand-in answers SELECTs of literals, pg_sleep, \
             BEGIN, COMMIT and ROLLBACK.",
        )
    }

    fn begin_tag(start: bool) -> &'static str {
        if start {
            "START TRANSACTION"
        } else {
            "BEGIN"
        }
    }

    fn aborted() -> ErrorResponse {
        ErrorResponse::error(
            SqlState::IN_FAILED_SQL_TRANSACTION,
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    impl Session {
        /// Runs a transaction-control statement and returns its tag; notices go to `client`.
        fn control(&mut self, s: &Statement, notices: &mut Vec<ErrorResponse>) -> String {
            let none_in_progress =
                || ErrorResponse::warning(SqlState::NO_ACTIVE_SQL_TRANSACTION, "there is no transaction in progress");
            let (status, tag) = match (s, self.status) {
                (Statement::Begin { start }, TransactionStatus::Idle) => {
                    (TransactionStatus::InBlock, begin_tag(*start))
                }
                (Statement::Begin { start }, st) => {
                    notices.push(ErrorResponse::warning(
                        SqlState::ACTIVE_SQL_TRANSACTION,
                        "there is already a transaction in progress",
                    ));
                    (st, begin_tag(*start))
                }
                (Statement::Commit, TransactionStatus::Idle) => {
                    notices.push(none_in_progress());
                    (TransactionStatus::Idle, "COMMIT")
                }
                (Statement::Commit, TransactionStatus::InBlock) => (TransactionStatus::Idle, "COMMIT"),
                // COMMIT of a failed block rolls it back, and says so.
                (Statement::Commit, TransactionStatus::Failed) => (TransactionStatus::Idle, "ROLLBACK"),
                (Statement::Rollback, TransactionStatus::Idle) => {
                    notices.push(none_in_progress());
                    (TransactionStatus::Idle, "ROLLBACK")
                }
                (Statement::Rollback, _) => (TransactionStatus::Idle, "ROLLBACK"),
                _ => (self.status, ""),
            };
            self.status = status;
            if status == TransactionStatus::Idle {
                self.prepared.drop_portals();
            }
            tag.to_string()
        }
    }

    /// Evaluates a SELECT's one row; `pg_sleep` waits and can be cancelled.
    async fn row(items: &[Item], formats: &[i16], cancel: &CancelFlag) -> Result<Vec<Option<Bytes>>, ErrorResponse> {
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Literal::Sleep(secs) = item.value {
                let d = if secs.is_finite() && secs > 0.0 {
                    Duration::try_from_secs_f64(secs.min(1e9)).unwrap_or(Duration::ZERO)
                } else {
                    Duration::ZERO
                };
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = cancel.wait() => {
                        let text = "canceling statement due to user request";
                        return Err(ErrorResponse::error(SqlState::QUERY_CANCELED, text));
                    }
                }
            }
            values.push(item.value.encode(formats.get(i).copied().unwrap_or(0))?);
        }
        Ok(values)
    }

    fn fields(items: &[Item], formats: &[i16]) -> Vec<FieldDescription> {
        items
            .iter()
            .enumerate()
            .map(|(i, it)| FieldDescription {
                format: formats.get(i).copied().unwrap_or(0),
                ..it.value.field(&it.name)
            })
            .collect()
    }

    impl Engine for StandIn {
        type Session = Session;

        fn connect(&self, startup: &StartupMessage, _key: BackendKey) -> Result<Connected<Session>, ErrorResponse> {
            let (parameters, notices) = startup_parameters(startup)?;
            let session = Session { status: TransactionStatus::Idle, prepared: Prepared::default() };
            Ok(Connected { session, parameters, notices })
        }

        async fn simple_query(
            &self,
            session: &mut Session,
            sql: &str,
            client: &mut Client,
        ) -> Result<(), ErrorResponse> {
            session.prepared.drop_unnamed_statement();
            // Parse everything first, as PostgreSQL does: a bad statement anywhere means none runs.
            let statements = parse(sql)?;
            if statements.is_empty() {
                client.send(BackendMessage::EmptyQueryResponse);
                return Ok(());
            }
            let cancel = client.cancel_flag();
            for s in &statements {
                if session.status == TransactionStatus::Failed && !matches!(s, Statement::Commit | Statement::Rollback)
                {
                    return Err(aborted());
                }
                match s {
                    Statement::Select(items) => {
                        client.send(BackendMessage::RowDescription(fields(items, &[])));
                        let values = row(items, &[], &cancel).await?;
                        client.send(BackendMessage::DataRow(values));
                        client.send(BackendMessage::CommandComplete { tag: "SELECT 1".into() });
                    }
                    _ => {
                        let mut notices = Vec::new();
                        let tag = session.control(s, &mut notices);
                        notices.into_iter().for_each(|n| client.send(BackendMessage::NoticeResponse(n)));
                        client.send(BackendMessage::CommandComplete { tag });
                    }
                }
                client.flush_if_full().await;
            }
            Ok(())
        }

        fn parse(
            &self,
            session: &mut Session,
            name: &str,
            query: &str,
            param_types: &[Oid],
        ) -> Result<(), ErrorResponse> {
            let mut statements = parse(query)?;
            if statements.len() > 1 {
                return Err(ErrorResponse::error(
                    SqlState::SYNTAX_ERROR,
                    "cannot insert multiple commands into a prepared statement",
                ));
            }
            if !param_types.is_empty() {
                return Err(not_supported("parameters"));
            }
            let statement = statements.pop().unwrap_or(Statement::Empty);
            if session.status == TransactionStatus::Failed
                && !matches!(statement, Statement::Commit | Statement::Rollback)
            {
                return Err(aborted());
            }
            session.prepared.add_statement(name, statement)
        }

        fn bind(&self, session: &mut Session, bind: Bind) -> Result<(), ErrorResponse> {
            let statement = session.prepared.statement(&bind.statement)?;
            check_param_count(&bind, 0)?;
            if session.status == TransactionStatus::Failed
                && !matches!(*statement, Statement::Commit | Statement::Rollback)
            {
                return Err(aborted());
            }
            let columns = if let Statement::Select(items) = &*statement { items.len() } else { 0 };
            let formats = resolve_result_formats(&bind.result_formats, columns)?;
            session.prepared.add_portal(&bind.portal, Portal { statement, formats, done: false })
        }

        fn describe_statement(&self, session: &mut Session, name: &str) -> Result<StatementDescription, ErrorResponse> {
            let statement = session.prepared.statement(name)?;
            let fields = match &*statement {
                Statement::Select(items) => Some(fields(items, &[])),
                _ => None,
            };
            Ok(StatementDescription { param_types: vec![], fields })
        }

        fn describe_portal(
            &self,
            session: &mut Session,
            name: &str,
        ) -> Result<Option<Vec<FieldDescription>>, ErrorResponse> {
            let portal = session.prepared.portal(name)?;
            match &*portal.statement {
                Statement::Select(items) => {
                    portal.formats.iter().try_for_each(|f| check_format(*f))?;
                    Ok(Some(fields(items, &portal.formats)))
                }
                _ => Ok(None),
            }
        }

        async fn execute(
            &self,
            session: &mut Session,
            portal: &str,
            max_rows: usize,
            client: &mut Client,
        ) -> Result<Completion, ErrorResponse> {
            let cancel = client.cancel_flag();
            let p = session.prepared.portal(portal)?;
            let statement = p.statement.clone();
            if session.status == TransactionStatus::Failed
                && !matches!(*statement, Statement::Commit | Statement::Rollback)
            {
                return Err(aborted());
            }
            match &*statement {
                Statement::Empty => Ok(Completion::EmptyQuery),
                Statement::Select(items) => {
                    p.formats.iter().try_for_each(|f| check_format(*f))?;
                    // One row in all: send it unless an earlier Execute did. As in PostgreSQL, a
                    // portal that filled `max_rows` exactly is suspended, even with nothing left.
                    let sent = if p.done { 0 } else { 1 };
                    if sent == 1 {
                        let formats = p.formats.clone();
                        let values = row(items, &formats, &cancel).await?;
                        client.send(BackendMessage::DataRow(values));
                        if let Ok(p) = session.prepared.portal(portal) {
                            p.done = true;
                        }
                    }
                    if max_rows > 0 && sent == max_rows {
                        Ok(Completion::Suspended)
                    } else {
                        Ok(Completion::Command(format!("SELECT {sent}")))
                    }
                }
                control => {
                    let mut notices = Vec::new();
                    let tag = session.control(control, &mut notices);
                    notices.into_iter().for_each(|n| client.send(BackendMessage::NoticeResponse(n)));
                    Ok(Completion::Command(tag))
                }
            }
        }

        fn close(&self, session: &mut Session, target: Target, name: &str) {
            session.prepared.close(target, name);
        }

        fn sync(&self, session: &mut Session) {
            if session.status == TransactionStatus::Idle {
                session.prepared.drop_portals();
            }
        }

        fn error_occurred(&self, session: &mut Session) {
            if session.status == TransactionStatus::InBlock {
                session.status = TransactionStatus::Failed;
            }
        }

        fn transaction_status(&self, session: &Session) -> TransactionStatus {
            session.status
        }
    }

    // -- A lexer and parser for exactly the statements above ------------------------------------

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        /// An unquoted word, lowercased as PostgreSQL folds identifiers.
        Word(String),
        /// A "quoted identifier", kept as written.
        Ident(String),
        Str(String),
        /// Digits, dots and anything glued to them (`1e3` is refused rather than misread).
        Num(String),
        Comma,
        LParen,
        RParen,
        Minus,
        Plus,
        Semicolon,
        Other(char),
    }

    /// Splits the query into statements of tokens, dropping comments and empty statements. The
    /// errors for unterminated quotes and comments are PostgreSQL's, with its position.
    fn lex(sql: &str) -> Result<Vec<Vec<Tok>>, ErrorResponse> {
        let chars: Vec<char> = sql.chars().collect();
        let mut statements = vec![Vec::new()];
        let mut i = 0;
        let unterminated = |what: &str, start: usize| {
            let near: String = chars[start..].iter().collect();
            ErrorResponse::error(SqlState::SYNTAX_ERROR, format!("unterminated {what} at or near \"{near}\""))
                .with_position(start as u32 + 1)
        };
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            let tok = match c {
                _ if c.is_whitespace() => {
                    i += 1;
                    continue;
                }
                '-' if next == Some('-') => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                '/' if next == Some('*') => {
                    // PostgreSQL's block comments nest.
                    let start = i;
                    let mut depth = 0;
                    loop {
                        if i + 1 >= chars.len() {
                            return Err(unterminated("/* comment", start));
                        }
                        if chars[i] == '/' && chars[i + 1] == '*' {
                            depth += 1;
                            i += 2;
                        } else if chars[i] == '*' && chars[i + 1] == '/' {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        } else {
                            i += 1;
                        }
                    }
                    continue;
                }
                '\'' | '"' => {
                    let start = i;
                    let mut s = String::new();
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => {
                                let what = if c == '\'' { "quoted string" } else { "quoted identifier" };
                                return Err(unterminated(what, start));
                            }
                            Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                                s.push(c);
                                i += 2;
                            }
                            Some(&q) if q == c => {
                                i += 1;
                                break;
                            }
                            Some(&other) => {
                                s.push(other);
                                i += 1;
                            }
                        }
                    }
                    statements.last_mut().expect("one").push(if c == '\'' { Tok::Str(s) } else { Tok::Ident(s) });
                    continue;
                }
                _ if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                        i += 1;
                    }
                    statements.last_mut().expect("one").push(Tok::Num(chars[start..i].iter().collect()));
                    continue;
                }
                _ if c.is_alphabetic() || c == '_' => {
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                        i += 1;
                    }
                    let w: String = chars[start..i].iter().collect();
                    statements.last_mut().expect("one").push(Tok::Word(w.to_lowercase()));
                    continue;
                }
                ',' => Tok::Comma,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '-' => Tok::Minus,
                '+' => Tok::Plus,
                ';' => Tok::Semicolon,
                other => Tok::Other(other),
            };
            i += 1;
            if tok == Tok::Semicolon {
                statements.push(Vec::new());
            } else {
                statements.last_mut().expect("one").push(tok);
            }
        }
        statements.retain(|s| !s.is_empty());
        Ok(statements)
    }

    /// Parses every statement of a query string.
    pub fn parse(sql: &str) -> Result<Vec<Statement>, ErrorResponse> {
        lex(sql)?.into_iter().map(|toks| statement(&toks)).collect()
    }

    fn statement(toks: &[Tok]) -> Result<Statement, ErrorResponse> {
        let word = |i: usize| match toks.get(i) {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        };
        let first = word(0).unwrap_or("");
        // `BEGIN`, `BEGIN WORK`, `COMMIT TRANSACTION`, ... and nothing after.
        let control = |s: Statement, from: usize| {
            let rest = &toks[from..];
            match rest {
                [] => Ok(s),
                [Tok::Word(w)] if w == "transaction" || w == "work" => Ok(s),
                _ => Err(not_supported(first)),
            }
        };
        match first {
            "begin" => control(Statement::Begin { start: false }, 1),
            "start" if word(1) == Some("transaction") => control(Statement::Begin { start: true }, 2),
            "commit" | "end" => control(Statement::Commit, 1),
            "rollback" | "abort" => control(Statement::Rollback, 1),
            "select" => select_list(&toks[1..]).ok_or_else(|| not_supported("")).map(Statement::Select),
            _ => Err(not_supported(first)),
        }
    }

    /// `item [, item ...]` where item is `literal [[AS] alias]`.
    fn select_list(toks: &[Tok]) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = 0;
        if toks.is_empty() {
            return Some(items);
        }
        loop {
            let (value, used) = literal(&toks[i..])?;
            i += used;
            let mut name = if matches!(value, Literal::Sleep(_)) { "pg_sleep" } else { "?column?" }.to_string();
            match toks.get(i) {
                Some(Tok::Word(w)) if w == "as" => {
                    name = match toks.get(i + 1)? {
                        Tok::Word(w) | Tok::Ident(w) => w.clone(),
                        _ => return None,
                    };
                    i += 2;
                }
                // A bare alias, unless the word starts a clause the stand-in cannot run.
                Some(Tok::Word(w)) if !RESERVED.contains(&w.as_str()) => {
                    name = w.clone();
                    i += 1;
                }
                Some(Tok::Ident(w)) => {
                    name = w.clone();
                    i += 1;
                }
                _ => {}
            }
            items.push(Item { name: truncate_name(&name).to_string(), value });
            match toks.get(i) {
                None => return Some(items),
                Some(Tok::Comma) => i += 1,
                Some(_) => return None,
            }
        }
    }

    #[rustfmt::skip]
    const RESERVED: &[&str] = &[
        "from", "where", "group", "having", "order", "limit", "offset", "union", "intersect", "except", "into", "for",
        "window", "fetch",
    ];

    /// One literal, and how many tokens it took.
    fn literal(toks: &[Tok]) -> Option<(Literal, usize)> {
        match toks {
            [Tok::Minus, Tok::Num(n), ..] => Some((number(n, true)?, 2)),
            [Tok::Plus, Tok::Num(n), ..] => Some((number(n, false)?, 2)),
            [Tok::Num(n), ..] => Some((number(n, false)?, 1)),
            [Tok::Str(s), ..] => Some((Literal::Text(s.clone()), 1)),
            [Tok::Word(w), ..] if w == "true" || w == "false" => Some((Literal::Bool(w == "true"), 1)),
            [Tok::Word(w), ..] if w == "null" => Some((Literal::Null, 1)),
            [Tok::Word(w), Tok::LParen, rest @ ..] if w == "pg_sleep" => {
                let (arg, used) = match rest {
                    [Tok::Minus, Tok::Num(n), Tok::RParen, ..] => (-n.parse::<f64>().ok()?, 2),
                    [Tok::Num(n), Tok::RParen, ..] => (n.parse::<f64>().ok()?, 1),
                    _ => return None,
                };
                Some((Literal::Sleep(arg), 3 + used))
            }
            _ => None,
        }
    }

    /// A numeric constant typed as PostgreSQL types it, by its signed value: int4 if it fits,
    /// else int8, else numeric; anything with a point is numeric.
    fn number(n: &str, negative: bool) -> Option<Literal> {
        let (int_part, frac) = match n.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (n, None),
        };
        if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let sign = if negative { "-" } else { "" };
        let digits = int_part.trim_start_matches('0');
        match frac {
            None => {
                if digits.len() <= 30 {
                    let v: i128 = digits.parse::<i128>().unwrap_or(0) * if negative { -1 } else { 1 };
                    if let Ok(v) = i32::try_from(v) {
                        return Some(Literal::Int4(v));
                    }
                    if let Ok(v) = i64::try_from(v) {
                        return Some(Literal::Int8(v));
                    }
                }
                Some(Literal::Numeric(format!("{sign}{digits}")))
            }
            Some(f) => {
                let whole = if digits.is_empty() { "0" } else { digits };
                let zero = whole == "0" && f.bytes().all(|b| b == b'0');
                let sign = if zero { "" } else { sign };
                Some(Literal::Numeric(if f.is_empty() {
                    format!("{sign}{whole}")
                } else {
                    format!("{sign}{whole}.{f}")
                }))
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn literals_are_typed_as_postgres_types_them() {
            let Statement::Select(items) =
                parse("select 1 as x, 'it''s', true, null, 2147483648, 1.50, -1, -2147483648, 9223372036854775808, .5")
                    .unwrap()
                    .remove(0)
            else {
                panic!("not a select")
            };
            let got: Vec<(String, Literal)> = items.into_iter().map(|i| (i.name, i.value)).collect();
            let q = |v: Literal| ("?column?".to_string(), v);
            assert_eq!(
                got,
                vec![
                    ("x".to_string(), Literal::Int4(1)),
                    q(Literal::Text("it's".into())),
                    q(Literal::Bool(true)),
                    q(Literal::Null),
                    q(Literal::Int8(2147483648)),
                    q(Literal::Numeric("1.50".into())),
                    q(Literal::Int4(-1)),
                    q(Literal::Int4(-2147483648)),
                    q(Literal::Numeric("9223372036854775808".into())),
                    q(Literal::Numeric("0.5".into())),
                ]
            );
        }

        #[test]
        fn statements_split_on_semicolons_outside_quotes_and_comments() {
            assert_eq!(parse("/* a; /* nested; */ b */ -- c;\n ; ;").unwrap(), vec![]);
            assert_eq!(parse("select ';' ; begin").unwrap().len(), 2);
            assert_eq!(parse("BEGIN WORK; commit transaction; END; abort").unwrap().len(), 4);
            let e = parse("select 'abc").unwrap_err();
            assert_eq!((e.message.as_str(), e.position), ("unterminated quoted string at or near \"'abc\"", Some(8)));
            let e = parse("select 1 /* x").unwrap_err();
            assert_eq!(e.message, "unterminated /* comment at or near \"/* x\"");
        }

        #[test]
        fn everything_else_is_0a000() {
            for sql in [
                "create table t (a int)",
                "select * from t",
                "select 1e3",
                "select 1 from t",
                "begin isolation level serializable",
                "select $1",
            ] {
                let e = parse(sql).unwrap_err();
                assert_eq!(e.code, SqlState::FEATURE_NOT_SUPPORTED, "{sql}");
            }
            assert_eq!(parse("create table t (a int)").unwrap_err().message, "CREATE is not supported yet");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that runs `COPY` by collecting the data, to exercise the COPY sub-protocol.
    struct CopyEngine;

    impl Engine for CopyEngine {
        type Session = ();

        fn connect(&self, startup: &StartupMessage, _key: BackendKey) -> Result<Connected<()>, ErrorResponse> {
            let (parameters, notices) = startup_parameters(startup)?;
            Ok(Connected { session: (), parameters, notices })
        }

        async fn simple_query(&self, _s: &mut (), _sql: &str, client: &mut Client) -> Result<(), ErrorResponse> {
            client.begin_copy_in(CopyResponse { format: 0, column_formats: vec![0] }).await;
            let mut rows = 0;
            loop {
                match client.next_copy_in().await {
                    CopyInEvent::Data(d) => rows += d.iter().filter(|&&b| b == b'\n').count(),
                    CopyInEvent::Done => break,
                    CopyInEvent::Fail(m) => {
                        return Err(ErrorResponse::error(
                            SqlState::QUERY_CANCELED,
                            format!("COPY from stdin failed: {m}"),
                        ))
                    }
                    CopyInEvent::Gone => return Err(ErrorResponse::error(SqlState::PROTOCOL_VIOLATION, "gone")),
                }
            }
            client.send(BackendMessage::CommandComplete { tag: format!("COPY {rows}") });
            Ok(())
        }

        fn parse(&self, _: &mut (), _: &str, _: &str, _: &[Oid]) -> Result<(), ErrorResponse> {
            Ok(())
        }
        fn bind(&self, _: &mut (), _: Bind) -> Result<(), ErrorResponse> {
            Ok(())
        }
        fn describe_statement(&self, _: &mut (), _: &str) -> Result<StatementDescription, ErrorResponse> {
            Ok(StatementDescription { param_types: vec![], fields: None })
        }
        fn describe_portal(&self, _: &mut (), _: &str) -> Result<Option<Vec<FieldDescription>>, ErrorResponse> {
            Ok(None)
        }
        async fn execute(&self, _: &mut (), _: &str, _: usize, _: &mut Client) -> Result<Completion, ErrorResponse> {
            Ok(Completion::Command("SELECT 0".into()))
        }
        fn close(&self, _: &mut (), _: Target, _: &str) {}
        fn sync(&self, _: &mut ()) {}
        fn error_occurred(&self, _: &mut ()) {}
        fn transaction_status(&self, _: &()) -> TransactionStatus {
            TransactionStatus::Idle
        }
    }

    async fn read_messages(io: &mut tokio::io::DuplexStream, until: u8) -> Vec<BackendMessage> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        loop {
            while let Some(m) = BackendMessage::decode(&mut buf).expect("valid") {
                let last = m.tag() == until;
                out.push(m);
                if last {
                    return out;
                }
            }
            if io.read_buf(&mut buf).await.expect("read") == 0 {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn copy_in_over_the_client_api() {
        let (mut ours, theirs) = tokio::io::duplex(64 * 1024);
        let server = PgServer::new(CopyEngine, 4);
        let (_tx, rx) = watch::channel(false);
        tokio::spawn(server.run_connection(theirs, rx));
        let mut out = BytesMut::new();
        FrontendMessage::Startup(StartupMessage::new("u", "d")).encode(&mut out);
        ours.write_all(&out).await.unwrap();
        assert!(matches!(read_messages(&mut ours, b'Z').await.last(), Some(BackendMessage::ReadyForQuery(_))));

        let mut out = BytesMut::new();
        FrontendMessage::Query { sql: "copy t from stdin".into() }.encode(&mut out);
        ours.write_all(&out).await.unwrap();
        assert!(matches!(read_messages(&mut ours, b'G').await[..], [BackendMessage::CopyInResponse(_)]));
        let mut out = BytesMut::new();
        for m in [
            FrontendMessage::CopyData(Bytes::from_static(b"1\t2\n3\t")),
            FrontendMessage::Flush,
            FrontendMessage::CopyData(Bytes::from_static(b"4\n")),
            FrontendMessage::CopyDone,
        ] {
            m.encode(&mut out);
        }
        ours.write_all(&out).await.unwrap();
        let got = read_messages(&mut ours, b'Z').await;
        assert_eq!(
            got,
            vec![
                BackendMessage::CommandComplete { tag: "COPY 2".into() },
                BackendMessage::ReadyForQuery(TransactionStatus::Idle)
            ]
        );

        // A Query in the middle of COPY desynchronises the stream: ERROR, then FATAL, then close.
        let mut out = BytesMut::new();
        FrontendMessage::Query { sql: "copy t from stdin".into() }.encode(&mut out);
        FrontendMessage::Query { sql: "select 1".into() }.encode(&mut out);
        ours.write_all(&out).await.unwrap();
        let got = read_messages(&mut ours, 0).await;
        let errors: Vec<(Severity, String)> = got
            .iter()
            .filter_map(|m| match m {
                BackendMessage::ErrorResponse(e) => Some((e.severity, e.message.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            errors,
            vec![
                (Severity::Error, "unexpected message type 0x51 during COPY from stdin".into()),
                (Severity::Fatal, "terminating connection because protocol synchronization was lost".into()),
            ]
        );
    }

    #[test]
    fn startup_parameters_follow_postgres_15() {
        let mut s = StartupMessage::new("alice", "db");
        s.params.push(("application_name".into(), format!("é{}", "x".repeat(70))));
        s.params.push(("TimeZone".into(), "Europe/Paris".into()));
        let (params, notices) = startup_parameters(&s).unwrap();
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "application_name",
                "client_encoding",
                "DateStyle",
                "default_transaction_read_only",
                "in_hot_standby",
                "integer_datetimes",
                "IntervalStyle",
                "is_superuser",
                "server_encoding",
                "server_version",
                "session_authorization",
                "standard_conforming_strings",
                "TimeZone",
            ]
        );
        assert_eq!(params[0].1, format!("??{}", "x".repeat(61)));
        assert_eq!(notices.len(), 1);
        assert_eq!(params[10].1, "alice");
        assert_eq!(params[12].1, "Europe/Paris");
        s.params.push(("client_encoding".into(), "utf-8".into()));
        assert!(startup_parameters(&s).is_ok());
        s.params.push(("client_encoding".into(), "LATIN1".into()));
        assert_eq!(startup_parameters(&s).unwrap_err().code, SqlState::FEATURE_NOT_SUPPORTED);
        s.params.push(("client_encoding".into(), "nope".into()));
        assert_eq!(
            startup_parameters(&s).unwrap_err().message,
            "invalid value for parameter \"client_encoding\": \"nope\""
        );
    }
}
