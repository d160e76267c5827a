//! Lua scripting: EVAL, EVALSHA, SCRIPT, and Redis 7 functions, on one embedded Lua 5.1.
//!
//! # Life of `EVAL "return redis.call('INCR', KEYS[1])" 1 hits`
//!
//! ```text
//!  conn ── keyspace lock ──▶ dispatch ──▶ cmd::scripting::eval
//!                                           │ sha1(body) → cache hit? else compile as "@user_script"
//!                                           │ RunState::begin   (other clients now wait, then get -BUSY)
//!                                           ▼
//!         Engine::run ── lua.scope ──▶ prelude.run_eval(f, call, KEYS, ARGV)
//!                                           │ xpcall(f, handler)
//!                                           │   redis.call('INCR', 'hits')
//!                                           │     └─▶ call (a Rust closure over the *same* locked keyspace)
//!                                           │           script_dispatch: arity, noscript, read-only checks
//!                                           │           handler → Frame → convert::frame_to_lua → 1
//!                                           ▼
//!         convert::lua_to_frame(1) ──▶ :1 ──▶ reply to the caller; RunState::end
//! ```
//!
//! The script runs while its caller holds the keyspace lock, so no other command can interleave
//! with it: that is all the atomicity Redis promises and all terrarium needs. The alternative, a
//! lock per key, would have to know every key a script touches before it starts, which Redis
//! only asks of scripts in cluster mode.
//!
//! # Runaway scripts
//!
//! A Lua hook runs every [`SCRIPT_HOOK_INSTRUCTIONS_COUNT`] instructions. Once a script has run
//! longer than `busy-reply-threshold`, [`RunState`] says so, and connections waiting for the
//! keyspace stop waiting and answer `-BUSY` instead (see `server::conn`), except for SCRIPT KILL
//! and FUNCTION KILL, which they carry out without the lock by setting a flag the hook reads.
//!
//! # The sandbox
//!
//! `prelude.lua` builds Redis's read-only globals with metatables, because the vendored Lua is
//! unpatched. Its header explains how.

pub mod convert;
pub mod dump;
pub mod functions;
pub mod lib;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use crate::kv::cmd::{self, CmdError, CmdResult, Ctx};
use crate::limits::{SCRIPT_BUSY_THRESHOLD_MS_DEFAULT, SCRIPT_GC_PERIOD_CALLS, SCRIPT_HOOK_INSTRUCTIONS_COUNT};
use crate::resp::Frame;
use crate::server::{ClientHandle, Session};

const PRELUDE: &str = include_str!("prelude.lua");

/// The registry slot a native function leaves its real error value in (see the prelude header).
pub const PENDING: &str = "terrarium.pending";

/// Raises `msg` from a native function the way `luaL_error` does in Redis's C libraries: with the
/// calling script's position in front (`user_script:3: ...`). See the prelude's header for why
/// the value travels through a registry slot.
pub fn fail(lua: &Lua, msg: impl AsRef<str>) -> mlua::Result<MultiValue> {
    let where_ = lua
        .inspect_stack(1, |d| {
            let line = d.current_line().unwrap_or(0);
            let src = d.source().short_src.as_deref().unwrap_or("").to_string();
            if d.source().what != "C" && line > 0 {
                format!("{src}:{line}: ")
            } else {
                String::new()
            }
        })
        .unwrap_or_default();
    let text = format!("{}{}", where_, msg.as_ref());
    lua.set_named_registry_value(PENDING, lua.create_string(&text)?)?;
    Err(mlua::Error::RuntimeError(text))
}

/// Raises the table `{err = "ERR ..."}`, as Redis's `luaPushError` + `luaError`: no position.
fn fail_table(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    lua.set_named_registry_value(PENDING, convert::error_table(lua, text)?)?;
    Err(mlua::Error::RuntimeError(text.to_string()))
}

// ------------------------------------------------------------------------------------------------
// The running script, as seen from other connections.
// ------------------------------------------------------------------------------------------------

/// What other connections may know about the script that is running, without the keyspace lock.
#[derive(Debug)]
pub struct RunState {
    epoch: Instant,
    running: AtomicBool,
    start_ms: AtomicU64,
    timed_out: AtomicBool,
    killed: AtomicBool,
    /// The script has run a write command: killing it would leave half a change behind.
    dirty: AtomicBool,
    /// EVAL (true) or FCALL (false): which KILL may stop it, and which BUSY text others see.
    is_eval: AtomicBool,
    busy_threshold_ms: AtomicI64,
    /// Set while FUNCTION LOAD runs a library's top level, which has its own short deadline.
    load_deadline_ms: AtomicU64,
    /// Whether this run has woken the other runtime worker (see [`RunState::check`]).
    handed_off: AtomicBool,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run `noscript` commands.
    pub disable_deny_script: AtomicBool,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            epoch: Instant::now(),
            running: AtomicBool::new(false),
            start_ms: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            is_eval: AtomicBool::new(true),
            busy_threshold_ms: AtomicI64::new(SCRIPT_BUSY_THRESHOLD_MS_DEFAULT),
            load_deadline_ms: AtomicU64::new(0),
            handed_off: AtomicBool::new(false),
            disable_deny_script: AtomicBool::new(false),
        }
    }
}

pub const BUSY_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl RunState {
    fn elapsed_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn set_busy_threshold_ms(&self, ms: i64) {
        self.busy_threshold_ms.store(ms, Ordering::Relaxed);
    }

    fn begin(&self, is_eval: bool) {
        self.start_ms.store(self.elapsed_ms(), Ordering::Relaxed);
        self.timed_out.store(false, Ordering::Relaxed);
        self.killed.store(false, Ordering::Relaxed);
        self.dirty.store(false, Ordering::Relaxed);
        self.is_eval.store(is_eval, Ordering::Relaxed);
        self.handed_off.store(false, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    fn end(&self) {
        self.running.store(false, Ordering::Release);
        self.timed_out.store(false, Ordering::Release);
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// True once the running script has passed `busy-reply-threshold`: others then get BUSY.
    pub fn is_timed_out(&self) -> bool {
        self.is_running() && self.timed_out.load(Ordering::Acquire)
    }

    /// The BUSY error other clients get while this script runs.
    pub fn busy_error(&self) -> &'static str {
        if self.is_eval.load(Ordering::Relaxed) {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// SCRIPT KILL (`from_eval`) or FUNCTION KILL, with Redis's replies.
    pub fn kill(&self, from_eval: bool) -> Frame {
        if !self.is_running() {
            return Frame::error("NOTBUSY No scripts in execution right now.");
        }
        if self.dirty.load(Ordering::Acquire) {
            return Frame::error(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either \
                 wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        let is_eval = self.is_eval.load(Ordering::Relaxed);
        if from_eval && !is_eval {
            return Frame::error(BUSY_FUNCTION);
        }
        if !from_eval && is_eval {
            return Frame::error(BUSY_EVAL);
        }
        self.killed.store(true, Ordering::Release);
        Frame::ok()
    }

    /// Called by the Lua hook. Marks the script timed out once it passes the threshold, and
    /// stops it if it was killed or if a library load overran its deadline.
    fn check(&self) -> mlua::Result<VmState> {
        let deadline = self.load_deadline_ms.load(Ordering::Relaxed);
        if deadline != 0 && self.elapsed_ms() > deadline {
            return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
        }
        if !self.is_running() {
            return Ok(VmState::Continue);
        }
        // A script still running at its first check (100,000 instructions in) may run for a
        // long time, on a tokio worker thread. The other worker may be asleep on a condition
        // variable rather than on the I/O driver, and nothing would wake it: no socket would be
        // read, so nobody could see BUSY or send SCRIPT KILL. A task spawned from outside the
        // runtime always wakes a sleeping worker, which then finds the driver free and polls it.
        // (block_in_place cannot help here: its hand-off only lasts while its closure runs.)
        if !self.handed_off.swap(true, Ordering::Relaxed) {
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                std::thread::spawn(move || drop(h.spawn(async {})));
            }
        }
        let threshold = self.busy_threshold_ms.load(Ordering::Relaxed);
        if threshold > 0 && !self.timed_out.load(Ordering::Relaxed) {
            let ran = self.elapsed_ms().saturating_sub(self.start_ms.load(Ordering::Relaxed));
            if ran >= threshold as u64 {
                tracing::warn!(
                    "Slow script detected: still in execution after {ran} milliseconds. You can try killing the \
                     script using the SCRIPT KILL command."
                );
                self.timed_out.store(true, Ordering::Release);
            }
        }
        if self.killed() {
            return Err(mlua::Error::RuntimeError(KILLED.into()));
        }
        Ok(VmState::Continue)
    }
}

const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
const KILLED_FUNCTION: &str = "ERR Script killed by user with FUNCTION KILL...";

// ------------------------------------------------------------------------------------------------
// Script flags (`#!lua flags=no-writes,allow-oom`).
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScriptFlags {
    /// No shebang: Redis 6 semantics, where a script may write even from EVAL_RO's point of view
    /// the command itself decides.
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Parses one flag name; `None` for an unknown one.
    pub fn set(&mut self, name: &str) -> Option<()> {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return None,
        }
        Some(())
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.no_writes {
            v.push("no-writes");
        }
        if self.allow_oom {
            v.push("allow-oom");
        }
        if self.allow_stale {
            v.push("allow-stale");
        }
        if self.no_cluster {
            v.push("no-cluster");
        }
        if self.allow_cross_slot_keys {
            v.push("allow-cross-slot-keys");
        }
        v
    }
}

/// Splits an EVAL body's shebang (`#!lua flags=...`) from its code, as Redis's
/// `evalExtractShebangFlags`. The newline stays with the code so line numbers do not move.
pub fn parse_eval_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags { compat: true, ..Default::default() }, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts = crate::resp::codec::split_args(line.as_bytes()).unwrap_or_default();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine.as_slice() != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let part = String::from_utf8_lossy(part);
        if let Some(list) = part.strip_prefix("flags=") {
            for f in list.split(',').filter(|f| !f.is_empty()) {
                if flags.set(f).is_none() {
                    return Err(format!("Unexpected flag in script shebang: {f}"));
                }
            }
        } else {
            return Err(format!("Unknown lua shebang option: {part}"));
        }
    }
    Ok((flags, end))
}

// ------------------------------------------------------------------------------------------------
// The engine.
// ------------------------------------------------------------------------------------------------

/// A cached script's flags; its compiled function lives in the Lua table `Engine::compiled`,
/// keyed by sha. Holding a `Function` handle per script instead would use one mlua reference
/// slot each, and mlua has about 8,000 of them for the whole VM: the 8,000th SCRIPT LOAD would
/// break every script.
struct Script {
    flags: ScriptFlags,
}

/// The Lua VM, the script cache, the function libraries, and the client scripts run commands as.
pub struct Engine {
    lua: Lua,
    /// Where redis.call finds the running script's command context.
    current: Arc<CurrentRun>,
    run_eval: Function,
    run_fcall: Function,
    env: Table,
    scripts: HashMap<String, Script>,
    /// sha → compiled function.
    compiled: Table,
    /// The client `redis.call` runs as: its own database (selected from the caller's) and RESP.
    fake: Session,
    resp3: Arc<AtomicBool>,
    run: Arc<RunState>,
    rng: Arc<Mutex<Lrand48>>,
    calls: u32,
    pub functions: functions::Libraries,
    /// Collects `redis.register_function` calls while FUNCTION LOAD runs a library.
    loading: Arc<Mutex<Option<Vec<functions::Registered>>>>,
    prelude: Table,
}

impl Engine {
    pub fn new(run: Arc<RunState>) -> Engine {
        Engine::build(run, Arc::new(Mutex::new(Lrand48::default()))).expect("the Lua prelude must load")
    }

    fn build(run: Arc<RunState>, rng: Arc<Mutex<Lrand48>>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::default())?;
        let resp3 = Arc::new(AtomicBool::new(false));
        let loading = Arc::new(Mutex::new(None));
        let current = Arc::new(CurrentRun::default());
        let native = natives(&lua, &run, &resp3, &rng)?;
        for (name, raise) in [("call", true), ("pcall", false)] {
            let (cur, r3, rs) = (current.clone(), resp3.clone(), run.clone());
            native.set(
                name,
                lua.create_function(move |lua, argv: MultiValue| {
                    cur.with(lua, |lua, c, read_only| {
                        c.sess.resp3 = r3.load(Ordering::Relaxed);
                        redis_call(lua, c, argv.into_iter(), raise, read_only, &rs)
                    })
                })?,
            )?;
        }
        let l = loading.clone();
        native.set(
            "register_function",
            lua.create_function(move |lua, args: MultiValue| functions::register_function(lua, args, &l))?,
        )?;
        let prelude: Table =
            lua.load(PRELUDE).set_name("=terrarium").set_mode(mlua::chunk::ChunkMode::Text).call(native)?;
        let hook_run = run.clone();
        lua.set_hook(HookTriggers::new().every_nth_instruction(SCRIPT_HOOK_INSTRUCTIONS_COUNT), move |_, _| {
            hook_run.check()
        })?;
        let (push_tx, _) = tokio::sync::mpsc::unbounded_channel();
        let handle = Arc::new(ClientHandle::detached("lua"));
        let compiled = lua.create_table()?;
        // Start from a collected heap: the prelude leaves garbage behind, and a fresh VM should
        // report what it holds, as Redis's does after SCRIPT FLUSH.
        lua.gc_collect()?;
        // Collect sooner than Lua's default (a new cycle when the heap doubles): scripts make
        // short-lived garbage at a steady rate, and Redis's own tests expect the VM to stay small
        // (`used_memory_lua` under 100 KB after 10,000 scripts).
        lua.gc_set_mode(mlua::state::GcMode::Incremental(mlua::state::GcIncParams::default().pause(150)));
        Ok(Engine {
            current,
            run_eval: prelude.get("run_eval")?,
            run_fcall: prelude.get("run_fcall")?,
            env: prelude.get("env")?,
            functions: functions::Libraries::default(),
            prelude,
            lua,
            scripts: HashMap::new(),
            compiled,
            fake: Session::new(handle, push_tx, false),
            resp3,
            run,
            rng,
            calls: 0,
            loading,
        })
    }

    /// SCRIPT FLUSH: a fresh VM and an empty cache. Function libraries survive, as in Redis, and
    /// are compiled again in the new VM.
    pub fn flush_scripts(&mut self) {
        let libs = std::mem::take(&mut self.functions);
        let fresh = Engine::build(self.run.clone(), self.rng.clone()).expect("the Lua prelude must load");
        *self = fresh;
        for lib in libs.in_order() {
            // Every library compiled before, so it compiles again.
            let _ = self.function_load(lib.code.clone(), true);
        }
    }

    pub fn cached_scripts(&self) -> usize {
        self.scripts.len()
    }

    pub fn script_exists(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha).is_ok_and(|s| self.scripts.contains_key(&s.to_ascii_lowercase()))
    }

    /// Compiles a body into the cache (EVAL on a miss, SCRIPT LOAD) and returns its sha.
    pub fn load_script(&mut self, body: &Bytes) -> Result<String, CmdError> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = parse_eval_shebang(body).map_err(|e| CmdError::new(format!("ERR {e}")))?;
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| CmdError::new(format!("ERR Error compiling script (new function): {}", lua_message(&e))))?;
        self.compiled.raw_set(sha.as_str(), func).map_err(|e| CmdError::new(format!("ERR {}", lua_message(&e))))?;
        self.scripts.insert(sha.clone(), Script { flags });
        Ok(sha)
    }

    /// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO after argument checks.
    pub fn eval(&mut self, ctx: &mut Ctx, sha: &str, keys: &[Bytes], args: &[Bytes], ro: bool) -> CmdResult {
        let Some(script) = self.scripts.get(sha) else {
            return Err(CmdError::new("NOSCRIPT No matching script. Please use EVAL."));
        };
        let flags = script.flags;
        if !flags.compat && !flags.no_writes && ro {
            return Err(CmdError::new("ERR Can not execute a script with write flag using *_ro command."));
        }
        let read_only = ro || flags.no_writes;
        let func: Function = match self.compiled.raw_get(sha) {
            Ok(f) => f,
            Err(e) => return Err(CmdError::new(format!("ERR {}", lua_message(&e)))),
        };
        let name = sha.to_string();
        Ok(self.run(ctx, func, &name, keys, args, read_only, true))
    }

    /// Runs a compiled script or function with the caller's keyspace, and converts its reply.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        ctx: &mut Ctx,
        func: Function,
        name: &str,
        keys: &[Bytes],
        args: &[Bytes],
        read_only: bool,
        is_eval: bool,
    ) -> Frame {
        self.fake.db = ctx.sess.db;
        self.fake.resp3 = false;
        self.resp3.store(false, Ordering::Relaxed);
        self.run.begin(is_eval);
        let lua = &self.lua;
        let resp3 = &self.resp3;
        let run = &self.run;
        let runner = if is_eval { &self.run_eval } else { &self.run_fcall };
        let sctx = std::cell::RefCell::new(Ctx {
            ks: &mut *ctx.ks,
            sess: &mut self.fake,
            shared: ctx.shared,
            now_ms: ctx.now_ms,
            may_block: false,
            block: None,
        });
        let _current = self.current.enter(&sctx, read_only);
        let outcome = (|| -> mlua::Result<Frame> {
            let keys_t = string_array(lua, keys)?;
            let args_t = string_array(lua, args)?;
            let (ok, value, kind): (bool, Value, Value) = runner.call((func, keys_t, args_t))?;
            Ok(if ok {
                let kind = match &kind {
                    Value::String(k) => Some(k.as_bytes().to_vec()),
                    _ => None,
                };
                convert::lua_to_frame_kind(&value, kind.as_deref(), resp3.load(Ordering::Relaxed))
            } else {
                script_error(&value, name, run.killed(), is_eval)
            })
        })();
        drop(_current);
        self.run.end();
        self.calls += 1;
        if self.calls >= SCRIPT_GC_PERIOD_CALLS {
            self.calls = 0;
            let _ = self.lua.gc_step();
        }
        match outcome {
            Ok(f) => f,
            Err(e) => Frame::error(format!("ERR Error running script {}, {:.100}", name, lua_message(&e))),
        }
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    pub fn prelude(&self) -> &Table {
        &self.prelude
    }
}

/// KEYS or ARGV as a Lua array. UTF-8 arguments (nearly all) are pushed straight onto the Lua
/// stack; only binary ones go through a string handle, which costs a registry slot.
fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        match std::str::from_utf8(item) {
            Ok(s) => t.raw_set(i + 1, s)?,
            Err(_) => t.raw_set(i + 1, lua.create_string(item)?)?,
        }
    }
    Ok(t)
}

/// The reply for a script that raised an error, as Redis's `luaCallFunction` builds it:
/// `-<err> script: <sha or function>, on <source>:<line>.`
fn script_error(err: &Value, name: &str, killed: bool, is_eval: bool) -> Frame {
    let Value::Table(t) = err else {
        return Frame::error(format!("ERR Error running script {name}, execution failure"));
    };
    let mut msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => String::new(),
    };
    if killed {
        msg = if is_eval { KILLED } else { KILLED_FUNCTION }.to_string();
    }
    let source = t.raw_get::<Value>("source").ok();
    let line = t.raw_get::<Value>("line").ok();
    match (source, line) {
        (Some(Value::String(src)), Some(line @ (Value::Number(_) | Value::Integer(_)))) => {
            let line = match line {
                Value::Integer(n) => n,
                Value::Number(n) => n as i64,
                _ => 0,
            };
            Frame::Error(format!("{} script: {}, on {}:{}.", msg, name, String::from_utf8_lossy(&src.as_bytes()), line))
        }
        _ => Frame::Error(msg),
    }
}

/// The text of a Lua error without mlua's decoration.
pub fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

// ------------------------------------------------------------------------------------------------
// redis.call / redis.pcall
// ------------------------------------------------------------------------------------------------

/// The command context of the script that is running, for `redis.call` and `redis.pcall`.
///
/// Those two functions are created once, when the engine starts, because creating a Lua function
/// per script (mlua's `scope`) cost more than the rest of a short script's run. A function made
/// once must be `'static`, while the context it needs borrows the caller's locked keyspace for
/// one run only; so the run publishes a pointer to its context here for exactly as long as Lua
/// may call back, and clears it before the context goes away.
#[derive(Default)]
struct CurrentRun {
    ctx: std::sync::atomic::AtomicPtr<()>,
    read_only: AtomicBool,
}

/// Clears [`CurrentRun`] when a run ends, however it ends.
struct Entered<'a>(&'a CurrentRun);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.ctx.store(std::ptr::null_mut(), Ordering::Release);
    }
}

impl CurrentRun {
    fn enter<'a>(&'a self, ctx: &'a std::cell::RefCell<Ctx<'_>>, read_only: bool) -> Entered<'a> {
        self.read_only.store(read_only, Ordering::Relaxed);
        self.ctx.store(ctx as *const std::cell::RefCell<Ctx<'_>> as *mut (), Ordering::Release);
        Entered(self)
    }

    fn with<R>(&self, lua: &Lua, f: impl FnOnce(&Lua, &mut Ctx<'_>, bool) -> mlua::Result<R>) -> mlua::Result<R>
    where
        R: Default,
    {
        let p = self.ctx.load(Ordering::Acquire) as *const std::cell::RefCell<Ctx<'_>>;
        if p.is_null() {
            return fail_table(lua, "ERR redis.call/pcall can only be called inside a script invocation")
                .map(|_| R::default());
        }
        // SAFETY: `p` was stored by `enter` from a `RefCell<Ctx>` on the stack of `Engine::run`,
        // and the `Entered` guard that `run` holds until after Lua returns resets it to null
        // before that `RefCell` is dropped. Lua calls this function only from inside that call:
        // the engine sits behind a mutex, so one script runs at a time, and the VM runs on the
        // thread that holds it. The pointee is therefore alive here, and the `RefCell` refuses
        // a second, overlapping borrow.
        #[allow(unsafe_code)]
        let cell = unsafe { &*p };
        let mut c = cell.try_borrow_mut().map_err(|_| mlua::Error::RecursiveMutCallback)?;
        f(lua, &mut c, self.read_only.load(Ordering::Relaxed))
    }
}

/// Turns the arguments of `redis.call` into an argv: strings as they are, numbers as `%.17g`
/// (Lua's own `%.14g` would lose precision), anything else is an error.
fn lua_argv(lua: &Lua, args: impl Iterator<Item = Value>) -> Result<Vec<Bytes>, &'static str> {
    let mut argv = Vec::new();
    for v in args {
        match v {
            Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Number(n) => argv.push(Bytes::from(crate::resp::frame::fmt_g(n, 17))),
            Value::Integer(n) => argv.push(Bytes::from(n.to_string())),
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
    }
    let _ = lua;
    if argv.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    Ok(argv)
}

fn redis_call(
    lua: &Lua,
    ctx: &mut Ctx,
    args: impl Iterator<Item = Value>,
    raise: bool,
    read_only: bool,
    run: &RunState,
) -> mlua::Result<MultiValue> {
    let argv = match lua_argv(lua, args) {
        Ok(a) => a,
        Err(msg) => return call_error(lua, &format!("ERR {msg}"), raise),
    };
    let reply = match script_dispatch(ctx, &argv, read_only, run) {
        Ok(f) => f,
        Err(e) => return call_error(lua, &e.0, raise),
    };
    if let Frame::Error(text) = &reply {
        return call_error(lua, text, raise);
    }
    let v = convert::frame_to_lua(lua, reply, ctx.sess.resp3)?;
    Ok(MultiValue::from_vec(vec![v]))
}

fn call_error(lua: &Lua, text: &str, raise: bool) -> mlua::Result<MultiValue> {
    if raise {
        fail_table(lua, text)
    } else {
        Ok(MultiValue::from_vec(vec![convert::error_table(lua, text)?]))
    }
}

/// Runs one command for a script, as Redis's `scriptCall`: the command must exist with the right
/// arity, be allowed in scripts, and not write from a read-only script.
fn script_dispatch(ctx: &mut Ctx, argv: &[Bytes], read_only: bool, run: &RunState) -> CmdResult {
    let cmd =
        cmd::lookup_for_script(argv).ok_or_else(|| CmdError::new("ERR Unknown Redis command called from script"))?;
    if !cmd::arity_ok(cmd.spec.arity, argv.len()) {
        return Err(CmdError::new("ERR Wrong number of args calling Redis command from script"));
    }
    if cmd.spec.has_flag("noscript") && !run.disable_deny_script.load(Ordering::Relaxed) {
        return Err(CmdError::new("ERR This Redis command is not allowed from script"));
    }
    let writes = cmd.spec.has_flag("write");
    if read_only && (writes || cmd.spec.has_flag("may_replicate")) {
        return Err(CmdError::new("ERR Write commands are not allowed from read-only scripts."));
    }
    if writes {
        run.mark_dirty();
    }
    ctx.shared.stats.commands_processed.fetch_add(1, Ordering::Relaxed);
    Ok((cmd.handler)(ctx, argv).unwrap_or_else(Frame::from))
}

// ------------------------------------------------------------------------------------------------
// The native half of the `redis` table and of math.random.
// ------------------------------------------------------------------------------------------------

/// Redis's `redisLrand48`: the 48-bit linear congruential generator of POSIX `lrand48`, so that
/// `math.random` gives the same sequence on every platform, and the same as Redis.
#[derive(Debug)]
pub struct Lrand48 {
    x: u64,
}

impl Default for Lrand48 {
    fn default() -> Self {
        Lrand48 { x: 0x1234_ABCD_330E }
    }
}

impl Lrand48 {
    const MASK: u64 = (1 << 48) - 1;
    pub fn seed(&mut self, seed: i32) {
        self.x = ((seed as u32 as u64) << 16) | 0x330E;
    }
    pub fn next(&mut self) -> i32 {
        self.x = (self.x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & Self::MASK;
        (self.x >> 17) as i32
    }
}

/// `luaL_checkint`: a number or a string that converts to one, truncated.
fn check_int(v: Option<&Value>, n: usize, fname: &str) -> Result<i32, String> {
    let num = match v {
        Some(Value::Number(x)) => Some(*x),
        Some(Value::Integer(x)) => Some(*x as f64),
        Some(Value::String(s)) => s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()),
        _ => None,
    };
    match num {
        Some(x) => Ok(x as i64 as i32),
        None => Err(format!("bad argument #{} to '{}' (number expected, got {})", n, fname, type_name(v))),
    }
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Number(_)) | Some(Value::Integer(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        _ => "userdata",
    }
}

fn natives(lua: &Lua, run: &Arc<RunState>, resp3: &Arc<AtomicBool>, rng: &Arc<Mutex<Lrand48>>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return fail_table(lua, "ERR wrong number of arguments");
            }
            let data = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(n) => crate::resp::frame::fmt_g(*n, 14).into_bytes(),
                Value::Integer(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            Ok(MultiValue::from_vec(vec![Value::String(lua.create_string(sha1_hex(&data))?)]))
        })?,
    )?;
    t.set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let text = String::from_utf8_lossy(&s.as_bytes()).into_owned();
                    // A message without a leading '-' is used as is, code and all.
                    let text = if text.starts_with('-') { text } else { format!("-{text}") };
                    convert::error_table(lua, &text)
                }
                _ => convert::error_table(lua, "ERR wrong number or type of arguments"),
            }
        })?,
    )?;
    t.set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(Value::String(s))) => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(Value::Table(t))
            }
            _ => convert::error_table(lua, "ERR wrong number or type of arguments"),
        })?,
    )?;
    t.set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() < 2 {
                return fail_table(lua, "ERR redis.log() requires two arguments or more.");
            }
            let level = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                _ => return fail_table(lua, "ERR First argument must be a number (log level)."),
            };
            if !(0..=3).contains(&level) {
                return fail_table(lua, "ERR Invalid debug level.");
            }
            let parts: Vec<String> = args
                .iter()
                .skip(1)
                .filter_map(|v| match v {
                    Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
                    Value::Number(n) => Some(crate::resp::frame::fmt_g(*n, 14)),
                    Value::Integer(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            let line = parts.join(" ");
            match level {
                3 => tracing::warn!(target: "script", "{line}"),
                2 => tracing::info!(target: "script", "{line}"),
                _ => tracing::debug!(target: "script", "{line}"),
            }
            Ok(MultiValue::new())
        })?,
    )?;
    let (r, flag) = (run.clone(), resp3.clone());
    t.set(
        "setresp",
        lua.create_function(move |lua, args: MultiValue| {
            if !r.is_running() {
                return fail_table(lua, "ERR redis.setresp can only be called inside a script invocation");
            }
            if args.len() != 1 {
                return fail_table(lua, "ERR redis.setresp() requires one argument.");
            }
            let v = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                _ => 0,
            };
            if v != 2 && v != 3 {
                return fail_table(lua, "ERR RESP version must be 2 or 3.");
            }
            flag.store(v == 3, Ordering::Relaxed);
            Ok(MultiValue::new())
        })?,
    )?;
    let r = run.clone();
    t.set(
        "set_repl",
        lua.create_function(move |lua, args: MultiValue| {
            if !r.is_running() {
                return fail_table(lua, "ERR redis.set_repl can only be called inside a script invocation");
            }
            if args.len() != 1 {
                return fail_table(lua, "ERR redis.set_repl() requires two arguments.");
            }
            let v = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                _ => 0,
            };
            if v & !3 != 0 {
                return fail_table(
                    lua,
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            Ok(MultiValue::new())
        })?,
    )?;
    let r = run.clone();
    t.set(
        "acl_check_cmd",
        lua.create_function(move |lua, args: MultiValue| {
            if !r.is_running() {
                return fail_table(lua, "ERR redis.acl_check_cmd can only be called inside a script invocation");
            }
            let argv = match lua_argv(lua, args.into_iter()) {
                Ok(a) => a,
                Err(msg) => return fail_table(lua, &format!("ERR {msg}")),
            };
            if cmd::lookup_for_script(&argv).is_none() {
                return fail_table(lua, "ERR Invalid command passed to redis.acl_check_cmd()");
            }
            // terrarium has one user with every permission.
            Ok(MultiValue::from_vec(vec![Value::Boolean(true)]))
        })?,
    )?;
    t.set("version", crate::server::REDIS_VERSION)?;
    t.set("version_num", redis_version_num())?;
    let (r, g) = (run.clone(), rng.clone());
    t.set(
        "random",
        lua.create_function(move |lua, args: MultiValue| {
            if !r.is_running() {
                return fail(lua, "math.random can only be called inside a script invocation");
            }
            let raw = g.lock().expect("rng").next();
            let x = (raw % i32::MAX) as f64 / i32::MAX as f64;
            let v = match args.len() {
                0 => x,
                1 => {
                    let u = match check_int(args.front(), 1, "random") {
                        Ok(u) => u,
                        Err(e) => return fail(lua, e),
                    };
                    if u < 1 {
                        return fail(lua, "bad argument #1 to 'random' (interval is empty)");
                    }
                    (x * u as f64).floor() + 1.0
                }
                2 => {
                    let l = match check_int(args.front(), 1, "random") {
                        Ok(u) => u,
                        Err(e) => return fail(lua, e),
                    };
                    let u = match check_int(args.get(1), 2, "random") {
                        Ok(u) => u,
                        Err(e) => return fail(lua, e),
                    };
                    if l > u {
                        return fail(lua, "bad argument #2 to 'random' (interval is empty)");
                    }
                    (x * (u as f64 - l as f64 + 1.0)).floor() + l as f64
                }
                _ => return fail(lua, "wrong number of arguments"),
            };
            Ok(MultiValue::from_vec(vec![Value::Number(v)]))
        })?,
    )?;
    let (r, g) = (run.clone(), rng.clone());
    t.set(
        "randomseed",
        lua.create_function(move |lua, args: MultiValue| {
            if !r.is_running() {
                return fail(lua, "math.randomseed can only be called inside a script invocation");
            }
            match check_int(args.front(), 1, "randomseed") {
                Ok(s) => g.lock().expect("rng").seed(s),
                Err(e) => return fail(lua, e),
            }
            Ok(MultiValue::new())
        })?,
    )?;
    let r = run.clone();
    t.set("killed", lua.create_function(move |_, ()| Ok(r.killed()))?)?;
    // Where an error happened: the first frame that is neither C nor this prelude.
    t.set(
        "where",
        lua.create_function(|lua, ()| {
            for level in 1..200 {
                let found = lua.inspect_stack(level, |d| {
                    let s = d.source();
                    let src = s.source.as_deref().unwrap_or("").to_string();
                    (s.what, src, d.current_line())
                });
                match found {
                    None => break,
                    Some((what, src, line)) => {
                        if what != "C" && src != "=terrarium" {
                            return Ok((Some(src), line.map(|l| l as i64)));
                        }
                    }
                }
            }
            Ok((None, None))
        })?,
    )?;
    t.set("libs", lib::register(lua)?)?;
    t.set(
        "take_pending",
        lua.create_function(|lua, ()| {
            let v: Value = lua.named_registry_value(PENDING)?;
            lua.set_named_registry_value(PENDING, Value::Nil)?;
            Ok(v)
        })?,
    )?;
    Ok(t)
}

fn redis_version_num() -> i64 {
    let mut n = 0;
    for part in crate::server::REDIS_VERSION.split('.') {
        n = n * 256 + part.parse::<i64>().unwrap_or(0);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_fires_during_a_long_loop() {
        let run = Arc::new(RunState::default());
        let engine = Engine::new(run.clone());
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        engine
            .lua
            .set_hook(HookTriggers::new().every_nth_instruction(1000), move |_, _| {
                c.fetch_add(1, Ordering::Relaxed);
                Ok(VmState::Continue)
            })
            .unwrap();
        let f = engine.lua.load("local i = 0 while i < 100000 do i = i + 1 end").into_function().unwrap();
        let _: () = f.call(()).unwrap();
        assert!(count.load(Ordering::Relaxed) > 10, "hook fired {} times", count.load(Ordering::Relaxed));
    }
}
