//! The server: listeners, per-client sessions, shared state, limits and shutdown.
//!
//! # Life of a RESP request
//!
//! ```text
//!  socket ──read──▶ BytesMut ──RequestDecoder──▶ argv (Vec<Bytes>) ─┐      (no lock held)
//!                                                                   │
//!        ┌── lock Shared::keyspace once per read ◀──────────────────┘
//!        │   kv::cmd::dispatch(ctx, argv)  for every complete request in the buffer
//!        │     lookup + arity ─▶ auth ─▶ pub/sub context ─▶ MULTI queue ─▶ handler
//!        │   Keyspace::serve_blocked()    (wake BLPOP-ers the commands fed)
//!        └── unlock
//!  socket ◀──write── BytesMut ◀──Frame::encode(resp3)── replies           (no lock held)
//! ```
//!
//! Taking the lock once per read rather than once per command is what makes pipelining cheap:
//! a `redis-benchmark -P 16` read holds sixteen commands and pays for one lock.

pub mod conn;
pub mod listener;
pub mod memory;

/// The version terrarium reports (HELLO, INFO): the Redis release it is diffed against.
pub const REDIS_VERSION: &str = "7.0.15";

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use indexmap::IndexSet;
use tokio::sync::{mpsc, Notify};

use crate::clock::Clock;
use crate::kv::pubsub::PubSub;
use crate::kv::Keyspace;
use crate::resp::Frame;

/// Runtime configuration that CONFIG GET/SET can see.
#[derive(Debug, Clone)]
pub struct Config {
    pub params: indexmap::IndexMap<String, String>,
}

impl Config {
    pub fn new(opts: &ServerOptions) -> Self {
        let mut params = indexmap::IndexMap::new();
        let mut p = |k: &str, v: String| {
            params.insert(k.to_string(), v);
        };
        p("bind", opts.bind.clone());
        p("port", opts.redis_port.to_string());
        p("requirepass", opts.requirepass.clone().unwrap_or_default());
        p("maxclients", opts.maxclients.to_string());
        p("databases", crate::limits::DATABASES_COUNT.to_string());
        p("save", String::new());
        p("appendonly", "no".into());
        p("appendfsync", "everysec".into());
        p("maxmemory", "0".into());
        p("maxmemory-policy", "noeviction".into());
        p("timeout", "0".into());
        p("tcp-keepalive", "300".into());
        p("hz", "10".into());
        p("busy-reply-threshold", "5000".into());
        p("lua-time-limit", "5000".into());
        p("proto-max-bulk-len", crate::limits::BULK_LEN_BYTES_MAX.to_string());
        p("notify-keyspace-events", String::new());
        p("slowlog-log-slower-than", "10000".into());
        p("slowlog-max-len", "128".into());
        p("hash-max-listpack-entries", "128".into());
        p("hash-max-listpack-value", "64".into());
        p("hash-max-ziplist-entries", "128".into());
        p("hash-max-ziplist-value", "64".into());
        p("set-max-intset-entries", "512".into());
        p("zset-max-listpack-entries", "128".into());
        p("zset-max-listpack-value", "64".into());
        p("zset-max-ziplist-entries", "128".into());
        p("zset-max-ziplist-value", "64".into());
        p("list-max-listpack-size", "-2".into());
        p("list-max-ziplist-size", "-2".into());
        p("list-compress-depth", "0".into());
        p("lazyfree-lazy-user-flush", "no".into());
        p("dir", opts.data_dir.clone());
        p("dbfilename", "dump.rdb".into());
        p("loglevel", "notice".into());
        p("daemonize", "no".into());
        p("protected-mode", "no".into());
        // Accepted and reported, with Redis's defaults, though nothing here acts on them (there is
        // no replication or RDB in terrarium's RESP side); Redis's own test suite sets them.
        p("repl-ping-replica-period", "10".into());
        p("repl-timeout", "60".into());
        p("rdb-key-save-delay", "0".into());
        p("key-load-delay", "0".into());
        p("enable-debug-command", "yes".into());
        p("lua-replicate-commands", "yes".into());
        // RESTORE always checks a payload fully, which is what `yes` means; accepted for the tests.
        p("sanitize-dump-payload", "no".into());
        Config { params }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|s| s.as_str())
    }
}

/// Publishes the keyspace events the last command queued (see `kv::notify`). Called with the
/// keyspace locked, after each command; the pub/sub lock is taken only when there is something.
pub fn publish_events(shared: &Shared, ks: &mut Keyspace) {
    if ks.events.is_empty() {
        return;
    }
    let flags = ks.notify_flags;
    let ps = shared.pubsub.lock().expect("pubsub");
    crate::kv::notify::publish_pending(&mut ks.events, flags, &ps);
}

/// Counters INFO reports, updated without taking the keyspace lock.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

/// What a client looks like to CLIENT LIST and CLIENT KILL.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created_ms: i64,
    pub info: Mutex<ClientInfo>,
    pub killed: AtomicBool,
    pub kill_notify: Notify,
    /// Set while the client is parked in a blocking command (CLIENT UNBLOCK).
    pub unblock_notify: Notify,
}

#[derive(Debug, Default, Clone)]
pub struct ClientInfo {
    pub name: String,
    pub db: usize,
    pub last_cmd: String,
    pub last_interaction_ms: i64,
    pub sub: usize,
    pub psub: usize,
    pub multi: i64,
    pub resp: u8,
    pub lib_name: String,
    pub lib_ver: String,
    pub blocked: bool,
    /// CLIENT UNBLOCK ... ERROR asks for an error reply instead of the timeout reply.
    pub unblock_with_error: bool,
}

impl ClientHandle {
    /// A client with no connection: the one scripts run their commands as.
    pub fn detached(name: &str) -> ClientHandle {
        ClientHandle {
            id: 0,
            addr: String::new(),
            laddr: String::new(),
            created_ms: 0,
            info: Mutex::new(ClientInfo { name: name.to_string(), ..Default::default() }),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            unblock_notify: Notify::new(),
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }

    /// One CLIENT LIST line.
    pub fn list_line(&self, now_ms: i64) -> String {
        let i = self.info.lock().expect("client info");
        let flags = if i.blocked {
            "b"
        } else if i.multi >= 0 {
            "x"
        } else if i.sub + i.psub > 0 {
            "P"
        } else {
            "N"
        };
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1024 events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            i.name,
            (now_ms - self.created_ms).max(0) / 1000,
            (now_ms - i.last_interaction_ms).max(0) / 1000,
            flags,
            i.db,
            i.sub,
            i.psub,
            i.multi,
            if i.last_cmd.is_empty() { "NULL" } else { &i.last_cmd },
            i.resp
        ) + &if i.lib_name.is_empty() && i.lib_ver.is_empty() {
            String::new()
        } else {
            format!(" lib-name={} lib-ver={}", i.lib_name, i.lib_ver)
        }
    }
}

/// Options the binary's flags set.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: String,
    pub redis_port: u16,
    pub line_port: u16,
    /// PostgreSQL protocol port. The default is 0 (any free port) rather than 15432 because tests
    /// build options with `..Default::default()` and run side by side; `terrarium up` passes 15432.
    pub pg_port: u16,
    /// Kafka protocol port; 0 by default for the same reason (`terrarium up` passes 19092).
    pub kafka_port: u16,
    /// Partitions of an auto-created Kafka topic (`num.partitions`).
    pub num_partitions: i32,
    /// Kafka `log.segment.bytes`, `log.retention.ms`, `log.retention.bytes`.
    pub kafka_segment_bytes: u64,
    pub kafka_retention_ms: i64,
    pub kafka_retention_bytes: i64,
    pub data_dir: String,
    pub ephemeral: bool,
    pub requirepass: Option<String>,
    pub maxclients: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            bind: "127.0.0.1".into(),
            redis_port: 16379,
            line_port: 9999,
            pg_port: 0,
            kafka_port: 0,
            num_partitions: 1,
            kafka_segment_bytes: crate::limits::KAFKA_SEGMENT_BYTES_DEFAULT,
            kafka_retention_ms: crate::limits::KAFKA_RETENTION_MS_DEFAULT,
            kafka_retention_bytes: -1,
            data_dir: "./.terrarium".into(),
            ephemeral: false,
            requirepass: None,
            maxclients: crate::limits::CLIENTS_COUNT_MAX_DEFAULT,
        }
    }
}

/// State shared by every connection of every protocol.
pub struct Shared {
    pub keyspace: Mutex<Keyspace>,
    pub pubsub: Mutex<PubSub>,
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    pub config: Mutex<Config>,
    pub clock: Arc<dyn Clock>,
    pub stats: ServerStats,
    pub next_client_id: AtomicU64,
    pub started_ms: i64,
    pub run_id: String,
    /// Set on SHUTDOWN or Ctrl-C; listeners stop accepting.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub last_save_s: i64,
    /// The port the RESP listener actually bound (port 0 in tests).
    pub redis_port: AtomicU64,
    /// The Lua engine. Only ever locked while the keyspace lock is held, so it is never
    /// contended; it is a separate mutex because the VM is not part of the data.
    pub scripting: Mutex<crate::script::Engine>,
    /// The running script, readable without any lock (BUSY, SCRIPT KILL).
    pub script_run: Arc<crate::script::RunState>,
}

impl Shared {
    pub fn new(opts: &ServerOptions, clock: Arc<dyn Clock>) -> Arc<Shared> {
        let now = clock.now_ms();
        let run_id: String = {
            use rand::Rng;
            let mut r = rand::thread_rng();
            (0..40).map(|_| format!("{:x}", r.gen_range(0..16))).collect()
        };
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let script_run = Arc::new(crate::script::RunState::default());
        Arc::new(Shared {
            scripting: Mutex::new(crate::script::Engine::new(script_run.clone())),
            script_run,
            keyspace: Mutex::new(Keyspace::new()),
            pubsub: Mutex::new(PubSub::default()),
            clients: Mutex::new(HashMap::new()),
            config: Mutex::new(Config::new(opts)),
            clock,
            stats: ServerStats::default(),
            next_client_id: AtomicU64::new(1),
            started_ms: now,
            run_id,
            shutdown,
            last_save_s: now / 1000,
            redis_port: AtomicU64::new(opts.redis_port as u64),
        })
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Takes the keyspace lock without blocking a runtime thread while a script runs: a script can
    /// hold the lock for seconds, and a tokio worker parked on a std mutex for that long could be
    /// the one that has to carry out SCRIPT KILL. Returns `None` once the script has passed
    /// `busy-reply-threshold` and `busy_ok` is set: the caller then answers `-BUSY`.
    pub async fn lock_keyspace(&self, busy_ok: bool) -> Option<std::sync::MutexGuard<'_, Keyspace>> {
        loop {
            match self.keyspace.try_lock() {
                Ok(g) => return Some(g),
                Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if self.script_run.is_running() {
                if busy_ok && self.script_run.is_timed_out() {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            } else {
                // Ordinary contention lasts microseconds; yield rather than park the thread.
                tokio::task::yield_now().await;
            }
        }
    }

    pub fn requirepass(&self) -> Option<String> {
        let c = self.config.lock().expect("config");
        c.get("requirepass").filter(|s| !s.is_empty()).map(|s| s.to_string())
    }

    pub fn maxclients(&self) -> usize {
        let c = self.config.lock().expect("config");
        c.get("maxclients").and_then(|s| s.parse().ok()).unwrap_or(crate::limits::CLIENTS_COUNT_MAX_DEFAULT)
    }

    /// Registers a new client and returns its handle.
    pub fn register_client(&self, addr: String, laddr: String) -> Arc<ClientHandle> {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created_ms: now,
            info: Mutex::new(ClientInfo { multi: -1, resp: 2, last_interaction_ms: now, ..Default::default() }),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            unblock_notify: Notify::new(),
        });
        self.clients.lock().expect("clients").insert(id, h.clone());
        h
    }

    pub fn unregister_client(&self, id: u64) {
        self.clients.lock().expect("clients").remove(&id);
    }

    pub fn client_count(&self) -> usize {
        self.clients.lock().expect("clients").len()
    }
}

/// A queued transaction.
#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<Vec<Bytes>>,
    /// A queued command failed to queue (unknown, wrong arity): EXEC answers EXECABORT.
    pub failed: bool,
}

/// A WATCHed key and whether it was already logically expired when watched.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Bytes,
    pub expired_at_watch: bool,
}

/// Per-client state. One per connection; scripts get their own.
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    /// True until AUTH succeeds when a password is configured.
    pub auth_required: bool,
    /// The client's watched keys must be forgotten at its next turn with the keyspace: a
    /// transaction ended (DISCARD, EXEC) while a busy script held it.
    pub unwatch_pending: bool,
    pub multi: Option<MultiState>,
    pub watched: Vec<WatchedKey>,
    pub channels: IndexSet<Bytes>,
    pub patterns: IndexSet<Bytes>,
    /// Where PUBLISH delivers this client's messages.
    pub push_tx: mpsc::UnboundedSender<Frame>,
    pub handle: Arc<ClientHandle>,
    pub close_after_reply: bool,
    /// CLIENT REPLY OFF: replies are dropped until CLIENT REPLY ON.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP was just run: the next command's reply is dropped.
    pub skip_next_reply: bool,
    /// This command's reply is dropped (the one after CLIENT REPLY SKIP).
    pub skip_this_reply: bool,
}

impl Session {
    pub fn new(handle: Arc<ClientHandle>, push_tx: mpsc::UnboundedSender<Frame>, auth_required: bool) -> Self {
        Session {
            id: handle.id,
            db: 0,
            resp3: false,
            auth_required,
            multi: None,
            unwatch_pending: false,
            watched: Vec::new(),
            channels: IndexSet::new(),
            patterns: IndexSet::new(),
            push_tx,
            handle,
            close_after_reply: false,
            reply_off: false,
            skip_next_reply: false,
            skip_this_reply: false,
        }
    }

    /// Whether the reply of the command that just ran is sent (CLIENT REPLY), and the move of a
    /// pending SKIP onto the next command, as Redis does after each command.
    pub fn take_reply_permission(&mut self) -> bool {
        let send = !self.reply_off && !self.skip_this_reply;
        self.skip_this_reply = std::mem::take(&mut self.skip_next_reply);
        send
    }

    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Copies what CLIENT LIST shows into the shared handle.
    pub fn publish_info(&self, last_cmd: &str, now_ms: i64) {
        let mut i = self.handle.info.lock().expect("client info");
        i.db = self.db;
        i.sub = self.channels.len();
        i.psub = self.patterns.len();
        i.multi = self.multi.as_ref().map(|m| m.queued.len() as i64).unwrap_or(-1);
        i.resp = if self.resp3 { 3 } else { 2 };
        if !last_cmd.is_empty() {
            i.last_cmd.clear();
            i.last_cmd.push_str(last_cmd);
        }
        i.last_interaction_ms = now_ms;
    }
}
