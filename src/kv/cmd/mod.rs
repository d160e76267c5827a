//! Commands: lookup, arity, the MULTI queue, then the handler.
//!
//! A request is an argument vector `argv` exactly as Redis sees it (`argv[0]` is the command
//! name), and every handler has one shape:
//!
//! ```text
//!   fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult
//! ```
//!
//! Handlers first parse `argv` into typed values (options, numbers), failing with Redis's error
//! text before anything is touched, and only then apply the command to the keyspace. mini-redis
//! gives each command its own struct with `parse` and `apply`; with two hundred commands we keep
//! the same two phases inside one function per command, with Redis's syntax line above it, which
//! keeps each command readable top to bottom in one place.
//!
//! [`dispatch`] is the single entry point for every caller: a connection, EXEC replaying its
//! queue, and (later) `redis.call` from a script. It does what Redis's `processCommand` does
//! before calling a handler: unknown command, arity, authentication, the RESP2 pub/sub context,
//! and queueing inside MULTI.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::kv::keyspace::{BlockedOp, Keyspace};
use crate::kv::value::{HashValue, SetValue, Value};
use crate::kv::zset::ZSet;
use crate::resp::Frame;
use crate::server::{Session, Shared};

pub mod bloom;
pub mod connection;
pub mod geo;
pub mod hash;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod spec;
pub mod string;
pub mod transaction;
pub mod zset;

pub use spec::CommandSpec;

pub type CmdResult = Result<Frame, CmdError>;
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// An error reply, without the leading `-`. The text includes the prefix (`ERR`, `WRONGTYPE`).
#[derive(Debug, Clone, PartialEq)]
pub struct CmdError(pub Cow<'static, str>);

impl CmdError {
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        CmdError(msg.into())
    }
    pub fn wrong_type() -> Self {
        CmdError::new("WRONGTYPE Operation against a key holding the wrong kind of value")
    }
    pub fn not_integer() -> Self {
        CmdError::new("ERR value is not an integer or out of range")
    }
    pub fn not_float() -> Self {
        CmdError::new("ERR value is not a valid float")
    }
    pub fn syntax() -> Self {
        CmdError::new("ERR syntax error")
    }
    pub fn no_such_key() -> Self {
        CmdError::new("ERR no such key")
    }
    pub fn overflow() -> Self {
        CmdError::new("ERR increment or decrement would overflow")
    }
    pub fn out_of_range_positive() -> Self {
        CmdError::new("ERR value is out of range, must be positive")
    }
    pub fn wrong_arity(name: &str) -> Self {
        CmdError::new(format!("ERR wrong number of arguments for '{}' command", name))
    }
}

impl From<CmdError> for Frame {
    fn from(e: CmdError) -> Frame {
        Frame::Error(e.0.into_owned())
    }
}

/// A client that asked to block (BLPOP with nothing to pop): what it waits for and how long.
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// Absolute deadline in ms; `None` waits forever (timeout 0).
    pub deadline_ms: Option<i64>,
    pub op: Box<dyn BlockedOp>,
}

/// Everything a handler may use: the keyspace (already locked), the calling client's session,
/// the server's shared state, and the time this command runs at.
pub struct Ctx<'a> {
    pub ks: &'a mut Keyspace,
    pub sess: &'a mut Session,
    pub shared: &'a Shared,
    pub now_ms: i64,
    /// False inside EXEC and scripts: blocking commands then answer at once, as in Redis.
    pub may_block: bool,
    /// Set by a blocking command that found nothing; the connection parks the client.
    pub block: Option<BlockRequest>,
}

macro_rules! typed_access {
    ($get:ident, $create:ident, $variant:ident, $ty:ty, $new:expr) => {
        /// The value at `key` if it holds this type; WRONGTYPE if it holds another.
        pub fn $get(&mut self, key: &[u8]) -> Result<Option<&mut $ty>, CmdError> {
            match self.ks.get(self.sess.db, key, self.now_ms) {
                None => Ok(None),
                Some(Value::$variant(v)) => Ok(Some(v)),
                Some(_) => Err(CmdError::wrong_type()),
            }
        }
        /// The value at `key`, created empty if the key does not exist.
        pub fn $create(&mut self, key: &Bytes) -> Result<&mut $ty, CmdError> {
            let db = self.sess.db;
            if !self.ks.exists(db, key, self.now_ms) {
                self.ks.set(db, key.clone(), Value::$variant($new), self.now_ms);
            }
            match self.ks.get(db, key, self.now_ms) {
                Some(Value::$variant(v)) => Ok(v),
                _ => Err(CmdError::wrong_type()),
            }
        }
    };
}

impl<'a> Ctx<'a> {
    pub fn db(&self) -> usize {
        self.sess.db
    }
    pub fn resp3(&self) -> bool {
        self.sess.resp3
    }

    pub fn get(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.ks.get(self.sess.db, key, self.now_ms)
    }
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.ks.exists(self.sess.db, key, self.now_ms)
    }
    pub fn set(&mut self, key: Bytes, value: Value) {
        self.ks.set(self.sess.db, key, value, self.now_ms)
    }
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        self.ks.remove(self.sess.db, key, self.now_ms)
    }
    /// Marks `key` as modified (WATCH, blocked clients, dirty counter).
    pub fn touch(&mut self, key: &[u8]) {
        self.ks.touch(self.sess.db, key)
    }
    /// Announces a change to `key` as keyspace event `event` of `class` (`kv::notify`).
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.ks.notify(class, event, self.sess.db, key)
    }
    /// Deletes `key` if the command left its collection empty.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        self.ks.remove_if_empty(self.sess.db, key)
    }

    typed_access!(get_str, str_or_create, Str, Vec<u8>, Vec::new());
    typed_access!(get_list, list_or_create, List, std::collections::VecDeque<Bytes>, Default::default());
    typed_access!(get_hash, hash_or_create, Hash, HashValue, Default::default());
    typed_access!(get_set, set_or_create, Set, SetValue, SetValue::new());
    typed_access!(get_zset, zset_or_create, ZSet, Box<ZSet>, Box::new(ZSet::new()));
}

// ------------------------------------------------------------------------------------------------
// Argument parsing shared by every family.
// ------------------------------------------------------------------------------------------------

/// An integer argument, strictly as Redis's `string2ll` (no spaces, no `+`, no leading zeros).
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    crate::resp::codec::parse_i64(arg).ok_or_else(CmdError::not_integer)
}

/// A float argument as Redis's `getDoubleFromObject`: strtod syntax including `inf`, no NaN,
/// no surrounding spaces.
pub fn parse_float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or_else(CmdError::not_float)
}

pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_whitespace())
        || s.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v: f64 = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        "nan" => return None,
        _ => s.parse().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn eq_ic(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A lowercase copy of an argument, for error texts and lookups.
pub fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

/// A blocking timeout in seconds (fractions allowed), as an absolute deadline in ms.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, CmdError> {
    let secs = parse_f64(arg).ok_or_else(|| CmdError::new("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    // Redis 7.0 converts with a plain C cast, which on x86-64 turns anything out of range
    // (including inf) into LLONG_MIN, so those timeouts are reported as negative.
    if ms < 0.0 || ms >= 9.223_372_036_854_775_807e18 {
        return Err(CmdError::new("ERR timeout is negative"));
    }
    Ok(if ms == 0.0 { None } else { Some(now_ms.saturating_add(ms as i64)) })
}

// ------------------------------------------------------------------------------------------------
// The table and dispatch.
// ------------------------------------------------------------------------------------------------

pub struct Command {
    pub spec: &'static CommandSpec,
    pub handler: Handler,
    /// Whether `name|sub` rows exist, so that dispatch looks up `argv[1]` as a subcommand.
    pub container: bool,
}

pub struct Table {
    pub commands: HashMap<&'static str, Command>,
}

impl Table {
    fn build() -> Table {
        let specs: HashMap<&'static str, &'static CommandSpec> = spec::SPECS.iter().map(|s| (s.name, s)).collect();
        let mut commands = HashMap::new();
        let families: &[&[(&'static str, Handler)]] = &[
            connection::COMMANDS,
            keys::COMMANDS,
            string::COMMANDS,
            hash::COMMANDS,
            list::COMMANDS,
            set::COMMANDS,
            zset::COMMANDS,
            geo::COMMANDS,
            server::COMMANDS,
            transaction::COMMANDS,
            pubsub::COMMANDS,
            scripting::COMMANDS,
            bloom::COMMANDS,
        ];
        for family in families {
            for &(name, handler) in family.iter() {
                let spec = specs.get(name).unwrap_or_else(|| panic!("command {name} has no spec row"));
                commands.insert(spec.name, Command { spec, handler, container: Table::is_container(spec.name) });
            }
        }
        Table { commands }
    }

    pub fn get(&self, name: &str) -> Option<&Command> {
        self.commands.get(name)
    }

    /// Whether `name` has subcommands (`client|...` rows).
    pub fn is_container(name: &str) -> bool {
        spec::SPECS
            .iter()
            .any(|s| s.name.len() > name.len() && s.name.starts_with(name) && s.name.as_bytes()[name.len()] == b'|')
    }
}

pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::build)
}

/// Resolves `argv` to a command (or subcommand), checking arity. The error is the reply.
pub fn lookup(argv: &[Bytes]) -> Result<&'static Command, CmdError> {
    let mut name_buf = [0u8; 32];
    let name0 = &argv[0];
    let t = table();
    let cmd = if name0.len() <= name_buf.len() {
        let n = &mut name_buf[..name0.len()];
        n.copy_from_slice(name0);
        n.make_ascii_lowercase();
        std::str::from_utf8(n).ok().and_then(|n| t.get(n))
    } else {
        None
    };
    let Some(cmd) = cmd else {
        return Err(unknown_command(argv));
    };
    if !arity_ok(cmd.spec.arity, argv.len()) {
        return Err(CmdError::wrong_arity(cmd.spec.name));
    }
    if cmd.container && argv.len() >= 2 {
        let full = format!("{}|{}", cmd.spec.name, lower(&argv[1]));
        match t.get(&full) {
            Some(sub) => {
                if !arity_ok(sub.spec.arity, argv.len()) {
                    return Err(CmdError::wrong_arity(sub.spec.name));
                }
                return Ok(sub);
            }
            None => {
                return Err(CmdError::new(format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    truncate_lossy(&argv[1], 128),
                    cmd.spec.name.to_ascii_uppercase()
                )))
            }
        }
    }
    Ok(cmd)
}

pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

/// Resolves a command for `redis.call`, as Redis's `lookupCommand`: the subcommand when the
/// command has them and one is given, the command itself otherwise; arity is the caller's check.
pub fn lookup_for_script(argv: &[Bytes]) -> Option<&'static Command> {
    let t = table();
    // Lowercase into a stack buffer: a script's commands should not cost an allocation each.
    let mut buf = [0u8; 32];
    let name0 = &argv[0];
    if name0.len() > buf.len() {
        return None;
    }
    let n = &mut buf[..name0.len()];
    n.copy_from_slice(name0);
    n.make_ascii_lowercase();
    let cmd = t.get(std::str::from_utf8(n).ok()?)?;
    if cmd.container && argv.len() >= 2 {
        return t.get(&format!("{}|{}", cmd.spec.name, lower(&argv[1])));
    }
    Some(cmd)
}

fn truncate_lossy(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// Redis 7's text: `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
pub fn unknown_command(argv: &[Bytes]) -> CmdError {
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&truncate_lossy(a, room));
        args.push_str("' ");
    }
    CmdError::new(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        truncate_lossy(&argv[0], 128),
        args
    ))
}

/// Commands a RESP2 client may send while subscribed.
fn allowed_in_pubsub_context(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Runs one command for a client, as Redis's `processCommand` followed by `call`.
pub fn dispatch(ctx: &mut Ctx, argv: &[Bytes]) -> Frame {
    let cmd = match lookup(argv) {
        Ok(c) => c,
        Err(e) => {
            if let Some(m) = ctx.sess.multi.as_mut() {
                m.failed = true;
            }
            return e.into();
        }
    };
    let name = cmd.spec.name;
    if ctx.sess.auth_required && !cmd.spec.has_flag("no_auth") {
        if let Some(m) = ctx.sess.multi.as_mut() {
            m.failed = true;
        }
        return Frame::error("NOAUTH Authentication required.");
    }
    if !ctx.sess.resp3
        && ctx.sess.subscription_count() > 0
        && !allowed_in_pubsub_context(name.split('|').next().unwrap_or(name))
    {
        return Frame::error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            name
        ));
    }
    if ctx.sess.multi.is_some() && cmd.spec.has_flag("no_multi") {
        return reject(ctx, name, Frame::error("ERR Command not allowed inside a transaction"));
    }
    if crate::server::memory::maxmemory_bytes() > 0 {
        if let Some(e) = check_memory(ctx, cmd) {
            return reject(ctx, name, e);
        }
    }
    if let Some(m) = ctx.sess.multi.as_mut() {
        if !matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset") {
            m.queued.push(argv.to_vec());
            return Frame::Simple("QUEUED".into());
        }
    }
    ctx.shared.stats.commands_processed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match (cmd.handler)(ctx, argv) {
        Ok(f) => f,
        Err(e) => e.into(),
    }
}

/// Refuses a command as Redis's `rejectCommand` does: an open transaction is doomed, and EXEC
/// itself ends it at once with EXECABORT carrying the reason (`execCommandAbort`).
fn reject(ctx: &mut Ctx, name: &str, err: Frame) -> Frame {
    if ctx.sess.multi.is_some() && name == "exec" {
        ctx.sess.multi = None;
        transaction::unwatch_all(ctx);
        let why = match &err {
            Frame::Error(e) => e.clone(),
            _ => String::new(),
        };
        return Frame::Error(format!("EXECABORT Transaction discarded because of: {}", why));
    }
    if let Some(m) = ctx.sess.multi.as_mut() {
        m.failed = true;
    }
    err
}

/// Redis's memory check before a command, when `maxmemory` is set: evict under the policy if the
/// process is over the limit, and if it still is, refuse commands that may grow the dataset
/// (`denyoom`) and, inside MULTI, every command that would be queued (a queue can grow without
/// bound too). EXEC is refused when what it would run includes a `denyoom` command.
fn check_memory(ctx: &mut Ctx, cmd: &Command) -> Option<Frame> {
    use crate::server::memory;
    if !memory::over_limit() {
        return None;
    }
    let policy = ctx.shared.config.lock().expect("config").get("maxmemory-policy").unwrap_or("noeviction").to_string();
    if memory::evict(ctx.ks, &policy, ctx.now_ms) {
        return None;
    }
    let name = cmd.spec.name;
    let queued_denyoom = name == "exec"
        && ctx
            .sess
            .multi
            .as_ref()
            .is_some_and(|m| m.queued.iter().any(|argv| lookup(argv).is_ok_and(|c| c.spec.has_flag("denyoom"))));
    let in_multi_queue =
        ctx.sess.multi.is_some() && !matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset");
    if cmd.spec.has_flag("denyoom") || queued_denyoom || in_multi_queue {
        return Some(Frame::error("OOM command not allowed when used memory > 'maxmemory'."));
    }
    None
}
