//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL, TIME, LASTSAVE, OBJECT, DEBUG.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{eq_ic, lower, parse_f64, spec::SPECS, table, CmdError, CmdResult, CommandSpec, Ctx, Handler};
use crate::kv::glob;
use crate::kv::Value;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("info", info),
    ("save", save),
    ("shutdown", shutdown),
    ("config", config_help),
    ("config|help", config_help),
    ("config|get", config_get),
    ("config|set", config_set),
    ("config|resetstat", config_resetstat),
    ("config|rewrite", config_rewrite),
    ("command", command),
    ("command|count", command_count),
    ("command|info", command_info),
    ("command|docs", command_docs),
    ("command|list", command_list),
    ("command|getkeys", command_getkeys),
    ("command|help", command_help),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("time", time),
    ("lastsave", lastsave),
    ("object", object_help),
    ("object|help", object_help),
    ("object|encoding", object_encoding),
    ("object|freq", object_freq),
    ("object|idletime", object_idletime),
    ("object|refcount", object_refcount),
    ("debug", debug),
    ("memory", memory_container),
    ("memory|usage", memory_usage),
    ("cluster", cluster_disabled),
    ("cluster|addslots", cluster_disabled),
    ("cluster|addslotsrange", cluster_disabled),
    ("cluster|bumpepoch", cluster_disabled),
    ("cluster|count-failure-reports", cluster_disabled),
    ("cluster|countkeysinslot", cluster_disabled),
    ("cluster|delslots", cluster_disabled),
    ("cluster|delslotsrange", cluster_disabled),
    ("cluster|failover", cluster_disabled),
    ("cluster|flushslots", cluster_disabled),
    ("cluster|forget", cluster_disabled),
    ("cluster|getkeysinslot", cluster_disabled),
    ("cluster|help", cluster_disabled),
    ("cluster|info", cluster_disabled),
    ("cluster|keyslot", cluster_disabled),
    ("cluster|links", cluster_disabled),
    ("cluster|meet", cluster_disabled),
    ("cluster|myid", cluster_disabled),
    ("cluster|nodes", cluster_disabled),
    ("cluster|replicas", cluster_disabled),
    ("cluster|replicate", cluster_disabled),
    ("cluster|reset", cluster_disabled),
    ("cluster|saveconfig", cluster_disabled),
    ("cluster|set-config-epoch", cluster_disabled),
    ("cluster|setslot", cluster_disabled),
    ("cluster|shards", cluster_disabled),
    ("cluster|slaves", cluster_disabled),
    ("cluster|slots", cluster_disabled),
];

/// Redis's `bytesToHuman`: 32768 → `32.00K`.
fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if n < 1024 * 1024 {
        format!("{:.2}K", f / 1024.0)
    } else if n < 1024 * 1024 * 1024 {
        format!("{:.2}M", f / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", f / (1024.0 * 1024.0 * 1024.0))
    }
}

/// A digest of one value, the same for equal values whatever their encoding or insertion order
/// (sets and hashes combine their members' digests with XOR, as Redis's `DEBUG DIGEST` does).
fn value_digest(v: &crate::kv::value::Value) -> String {
    use crate::kv::value::Value;
    let sha = |parts: &[&[u8]]| {
        let mut h = sha1_smol::Sha1::new();
        for p in parts {
            h.update(&(p.len() as u64).to_le_bytes());
            h.update(p);
        }
        h.digest().bytes()
    };
    let mut acc = [0u8; 20];
    let mut xor = |d: [u8; 20]| {
        for (a, b) in acc.iter_mut().zip(d) {
            *a ^= b;
        }
    };
    match v {
        Value::Str(s) => xor(sha(&[b"string", s])),
        Value::List(l) => {
            let mut h = sha1_smol::Sha1::new();
            h.update(b"list");
            for e in l {
                h.update(&(e.len() as u64).to_le_bytes());
                h.update(e);
            }
            xor(h.digest().bytes());
        }
        Value::Set(s) => s.members.iter().for_each(|m| xor(sha(&[b"set", m]))),
        Value::Hash(h) => h.iter().for_each(|(k, v)| xor(sha(&[b"hash", k, v]))),
        Value::ZSet(z) => {
            z.iter().for_each(|(m, sc)| xor(sha(&[b"zset", m, crate::resp::frame::fmt_double(sc).as_bytes()])))
        }
        other => xor(sha(&[other.type_name().as_bytes(), format!("{other:?}").as_bytes()])),
    }
    acc.iter().map(|b| format!("{b:02x}")).collect()
}

/// jemalloc's size class for an allocation of `n` bytes, for MEMORY USAGE's estimates.
fn alloc_size(n: usize) -> usize {
    const CLASSES: [usize; 16] = [8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448];
    CLASSES.iter().copied().find(|&c| c >= n).unwrap_or_else(|| n.next_power_of_two().max(512))
}

/// MEMORY <subcommand>
fn memory_container(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Err(CmdError::new(format!("ERR unknown subcommand '{}'. Try MEMORY HELP.", String::from_utf8_lossy(&argv[1]))))
}

/// MEMORY USAGE key [SAMPLES count]: an estimate of the bytes the key takes, counted the way Redis
/// counts them (the key's name, its dict entry, the value's object and allocations rounded up to
/// jemalloc's size classes). terrarium's own layout differs, so this is Redis's arithmetic applied
/// to the value, not a measurement of terrarium's heap.
fn memory_usage(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    use crate::kv::value::Value;
    match argv.len() {
        3 => {}
        5 if eq_ic(&argv[3], "samples") => {
            super::parse_int(&argv[4])?;
        }
        _ => return Err(CmdError::syntax()),
    }
    let db = ctx.db();
    let key_len = argv[2].len();
    let Some(e) = ctx.ks.peek(db, &argv[2], ctx.now_ms) else {
        return Ok(Frame::Null);
    };
    let sds = |n: usize| alloc_size(n + 3 + 1);
    let value = match &e.value {
        Value::Str(s) if s.len() <= 20 && crate::resp::codec::parse_i64(s).is_some() => 16,
        Value::Str(s) if s.len() <= 44 => alloc_size(16 + 3 + s.len() + 1),
        Value::Str(s) => 16 + sds(s.len()),
        Value::List(l) => 16 + 48 + 32 + alloc_size(11 + l.iter().map(|e| e.len() + 2).sum::<usize>()),
        Value::Hash(h) if e.value.encoding() == "listpack" => {
            16 + alloc_size(7 + h.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>())
        }
        Value::Hash(h) => 16 + 96 + h.iter().map(|(k, v)| 24 + sds(k.len()) + sds(v.len())).sum::<usize>(),
        Value::Set(s) if s.intset => 16 + alloc_size(8 + 8 * s.len()),
        Value::Set(s) => 16 + 96 + s.members.iter().map(|m| 24 + sds(m.len())).sum::<usize>(),
        Value::ZSet(z) if e.value.encoding() == "listpack" => {
            16 + alloc_size(7 + z.iter().map(|(m, _)| m.len() + 12).sum::<usize>())
        }
        Value::ZSet(z) => 16 + 96 + z.iter().map(|(m, _)| 24 + 64 + sds(m.len())).sum::<usize>(),
        other => 16 + format!("{other:?}").len(),
    };
    Ok(Frame::Integer((value + sds(key_len) + 24) as i64))
}

/// DEBUG PROTOCOL <type>: one reply of each RESP type, for testing clients and the Lua
/// conversions. (`attrib` sends only the reply that follows the attribute: terrarium has no
/// attribute frames.)
fn debug_protocol(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    let n = lower(name);
    Ok(match n.as_str() {
        "string" => Frame::bulk_str("Hello World"),
        "integer" => Frame::Integer(12345),
        "double" => Frame::Double(3.141),
        "bignum" => Frame::BigNumber("1234567999999999999999999999999999999".into()),
        "null" => Frame::Null,
        "array" => Frame::Array((0..3).map(Frame::Integer).collect()),
        "set" => Frame::Set((0..3).map(Frame::Integer).collect()),
        "map" => Frame::Map((0..3).map(|j| (Frame::Integer(j), Frame::Boolean(j == 1))).collect()),
        "attrib" => Frame::bulk_str("Some real reply following the attribute"),
        "push" => {
            if !ctx.resp3() {
                return Err(CmdError::new("ERR RESP2 is not supported by this command"));
            }
            Frame::Sequence(vec![
                Frame::Push(vec![Frame::bulk_str("server-cpu-usage"), Frame::Integer(42)]),
                Frame::bulk_str("Some real reply following the push reply"),
            ])
        }
        "true" => Frame::Boolean(true),
        "false" => Frame::Boolean(false),
        "verbatim" => Frame::Verbatim("txt", Bytes::from_static(b"This is a verbatim\nstring")),
        _ => {
            return Err(CmdError::new(
                "ERR Wrong protocol type name. Please use one of the following: \
                 string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    })
}

/// CLUSTER <subcommand>: terrarium runs one node without Redis Cluster, as a Redis started with
/// `cluster-enabled no` does, and answers every subcommand the way such a Redis does.
fn cluster_disabled(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Err(CmdError::new("ERR This instance has cluster support disabled"))
}

fn help_reply(lines: &[&str]) -> CmdResult {
    Ok(Frame::Array(lines.iter().map(|l| Frame::Simple(l.to_string())).collect()))
}

// ------------------------------------------------------------------------------------------------
// INFO
// ------------------------------------------------------------------------------------------------

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// INFO [section [section ...]]
fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut wanted: Vec<String> = argv[1..].iter().map(|a| lower(a)).collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
        wanted.push("commandstats".into());
    }
    let mut out = String::new();
    for section in DEFAULT_SECTIONS.iter().chain(["commandstats"].iter()) {
        if !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        info_section(ctx, section, &mut out);
    }
    Ok(Frame::Verbatim("txt", Bytes::from(out)))
}

fn info_section(ctx: &mut Ctx, section: &str, out: &mut String) {
    let sh = ctx.shared;
    let now = ctx.now_ms;
    let uptime_s = (now - sh.started_ms).max(0) / 1000;
    let title = {
        let mut c = section.chars();
        c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
    };
    let _ = write!(out, "# {}\r\n", title);
    let mut kv = |k: &str, v: String| {
        let _ = write!(out, "{}:{}\r\n", k, v);
    };
    match section {
        "server" => {
            kv("redis_version", crate::server::REDIS_VERSION.into());
            kv("redis_git_sha1", "00000000".into());
            kv("redis_git_dirty", "0".into());
            kv("redis_build_id", "terrarium".into());
            kv("redis_mode", "standalone".into());
            kv("os", std::env::consts::OS.to_string() + " " + std::env::consts::ARCH);
            kv("arch_bits", "64".into());
            kv("multiplexing_api", "tokio".into());
            kv("process_id", std::process::id().to_string());
            kv("run_id", sh.run_id.clone());
            kv("tcp_port", sh.redis_port.load(Ordering::Relaxed).to_string());
            kv("server_time_usec", (now * 1000).to_string());
            kv("uptime_in_seconds", uptime_s.to_string());
            kv("uptime_in_days", (uptime_s / 86400).to_string());
            kv("hz", "10".into());
            kv("executable", "terrarium".into());
            kv("terrarium_version", env!("CARGO_PKG_VERSION").into());
        }
        "clients" => {
            kv("connected_clients", sh.client_count().to_string());
            kv("maxclients", sh.maxclients().to_string());
            kv("blocked_clients", ctx.ks.blocking.count().to_string());
            kv("watching_clients", "0".into());
            kv("pubsub_clients", "0".into());
        }
        "memory" => {
            let used = crate::server::memory::used_bytes();
            let max = crate::server::memory::maxmemory_bytes();
            let policy = sh.config.lock().expect("config").get("maxmemory-policy").unwrap_or("noeviction").to_string();
            kv("used_memory", used.to_string());
            kv("used_memory_human", human_bytes(used));
            kv("maxmemory", max.to_string());
            kv("maxmemory_human", human_bytes(max));
            kv("maxmemory_policy", policy);
            kv("mem_allocator", "libc".into());
            let eng = sh.scripting.lock().expect("scripting");
            let lua = eng.lua().used_memory();
            kv("used_memory_lua", lua.to_string());
            kv("used_memory_vm_eval", lua.to_string());
            kv("used_memory_lua_human", human_bytes(lua as u64));
            kv("number_of_cached_scripts", eng.cached_scripts().to_string());
            kv("number_of_functions", eng.functions.function_count().to_string());
            kv("number_of_libraries", eng.functions.library_count().to_string());
        }
        "persistence" => {
            kv("loading", "0".into());
            kv("async_loading", "0".into());
            kv("rdb_changes_since_last_save", ctx.ks.stats.dirty.to_string());
            kv("rdb_bgsave_in_progress", "0".into());
            kv("rdb_last_save_time", sh.last_save_s.to_string());
            kv("aof_enabled", "0".into());
            kv("aof_rewrite_in_progress", "0".into());
        }
        "stats" => {
            kv("total_connections_received", sh.stats.connections_received.load(Ordering::Relaxed).to_string());
            kv("total_commands_processed", sh.stats.commands_processed.load(Ordering::Relaxed).to_string());
            kv("total_net_input_bytes", sh.stats.net_input_bytes.load(Ordering::Relaxed).to_string());
            kv("total_net_output_bytes", sh.stats.net_output_bytes.load(Ordering::Relaxed).to_string());
            kv("rejected_connections", sh.stats.rejected_connections.load(Ordering::Relaxed).to_string());
            kv("expired_keys", ctx.ks.stats.expired_keys.to_string());
            kv("evicted_keys", ctx.ks.stats.evicted_keys.to_string());
            kv("keyspace_hits", ctx.ks.stats.keyspace_hits.to_string());
            kv("keyspace_misses", ctx.ks.stats.keyspace_misses.to_string());
            kv("pubsub_channels", sh.pubsub.lock().expect("pubsub").channels(None).len().to_string());
            kv("pubsub_patterns", sh.pubsub.lock().expect("pubsub").numpat().to_string());
        }
        "replication" => {
            kv("role", "master".into());
            kv("connected_slaves", "0".into());
            kv("master_replid", sh.run_id.clone());
            kv("master_repl_offset", "0".into());
        }
        "cpu" => {
            kv("used_cpu_sys", "0.000000".into());
            kv("used_cpu_user", "0.000000".into());
        }
        "cluster" => kv("cluster_enabled", "0".into()),
        "keyspace" => {
            for (i, db) in ctx.ks.dbs.iter().enumerate() {
                if !db.is_empty() {
                    kv(&format!("db{}", i), format!("keys={},expires={},avg_ttl=0", db.len(), db.expires_count()));
                }
            }
        }
        _ => {}
    }
}

// ------------------------------------------------------------------------------------------------
// CONFIG
// ------------------------------------------------------------------------------------------------

/// CONFIG HELP
fn config_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    help_reply(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Print this help.",
    ])
}

/// SAVE: the RESP keyspace lives in memory only (see protocol-spec/resp.md), so there is no
/// snapshot to write; DUMP/RESTORE move single keys in RDB form.
fn save(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Err(CmdError::new("ERR SAVE is not supported: terrarium keeps the RESP keyspace in memory only"))
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
///
/// Stops the whole process as Ctrl-C does: listeners close, in-flight replies are flushed, the
/// process exits 0. The client gets no reply, only the closed connection, as from Redis.
fn shutdown(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut abort = false;
    for a in &argv[1..] {
        match lower(a).as_str() {
            "nosave" | "save" | "now" | "force" => {}
            "abort" => abort = true,
            _ => return Err(CmdError::syntax()),
        }
    }
    if abort {
        if argv.len() > 2 {
            return Err(CmdError::syntax());
        }
        return Err(CmdError::new("ERR No shutdown in progress."));
    }
    tracing::warn!("SHUTDOWN requested by client {}", ctx.sess.id);
    let _ = ctx.shared.shutdown.send(true);
    ctx.sess.close_after_reply = true;
    Ok(Frame::Sequence(Vec::new()))
}

/// CONFIG GET parameter [parameter ...]
fn config_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let cfg = ctx.shared.config.lock().expect("config");
    let mut pairs: Vec<(Frame, Frame)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pat in &argv[2..] {
        let pat_l = lower(pat);
        for (k, v) in &cfg.params {
            if glob::matches(pat_l.as_bytes(), k.as_bytes(), true) && seen.insert(k.clone()) {
                pairs.push((Frame::bulk_str(k), Frame::bulk_str(v)));
            }
        }
    }
    Ok(Frame::Map(pairs))
}

/// CONFIG SET parameter value [parameter value ...]
fn config_set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 != 0 {
        return Err(CmdError::wrong_arity("config|set"));
    }
    let mut cfg = ctx.shared.config.lock().expect("config");
    let mut updates = Vec::new();
    let mut notify_flags = None;
    for pair in argv[2..].chunks(2) {
        let name = lower(&pair[0]);
        if !cfg.params.contains_key(&name) {
            return Err(CmdError::new(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(&pair[0])
            )));
        }
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let numeric = matches!(
            name.as_str(),
            "maxclients"
                | "timeout"
                | "hz"
                | "busy-reply-threshold"
                | "lua-time-limit"
                | "maxmemory"
                | "slowlog-log-slower-than"
                | "slowlog-max-len"
        );
        if let Some(applied) = crate::kv::encoding::set(&name, &value) {
            // Encoding thresholds take effect at once, under both of their names.
            let names = applied.map_err(|_| {
                CmdError::new(format!("ERR CONFIG SET failed (possibly related to argument '{}') - argument couldn't be parsed into an integer", name))
            })?;
            for n in names {
                updates.push((n.to_string(), value.clone()));
            }
            continue;
        }
        let failed = |why: &str| {
            CmdError::new(format!("ERR CONFIG SET failed (possibly related to argument '{}') - {}", name, why))
        };
        let value = match name.as_str() {
            "notify-keyspace-events" => {
                let flags =
                    crate::kv::notify::parse_flags(&value).ok_or_else(|| failed(crate::kv::notify::INVALID_CLASS))?;
                // The text shown loses `n` next to `A` (as Redis's does); the flags keep it.
                notify_flags = Some(flags);
                crate::kv::notify::flags_text(flags)
            }
            "maxmemory" => match crate::server::memory::parse_memory(&value) {
                Some(bytes) => bytes.to_string(),
                None => return Err(failed("argument must be a memory value")),
            },
            "maxmemory-policy" => {
                let v = value.to_ascii_lowercase();
                if !crate::server::memory::POLICIES.contains(&v.as_str()) {
                    return Err(failed("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"));
                }
                v
            }
            _ => value,
        };
        if numeric && name != "maxmemory" && value.parse::<i64>().is_err() {
            return Err(CmdError::new(format!("ERR CONFIG SET failed (possibly related to argument '{}') - argument couldn't be parsed into an integer", name)));
        }
        updates.push((name, value));
    }
    for (name, value) in updates {
        // The two names of the script time limit are one setting, as in Redis.
        if name == "lua-time-limit" || name == "busy-reply-threshold" {
            if let Ok(ms) = value.parse::<i64>() {
                ctx.shared.script_run.set_busy_threshold_ms(ms);
            }
            cfg.params.insert("lua-time-limit".into(), value.clone());
            cfg.params.insert("busy-reply-threshold".into(), value);
        } else {
            if name == "notify-keyspace-events" {
                ctx.ks.notify_flags = notify_flags.unwrap_or(0);
            }
            if name == "maxmemory" {
                crate::server::memory::set_maxmemory_bytes(value.parse().unwrap_or(0));
            }
            cfg.params.insert(name, value);
        }
    }
    // A lower limit takes effect at once, as Redis evicts when maxmemory is set.
    if crate::server::memory::over_limit() {
        let policy = cfg.get("maxmemory-policy").unwrap_or("noeviction").to_string();
        drop(cfg);
        crate::server::memory::evict(ctx.ks, &policy, ctx.now_ms);
    }
    Ok(Frame::ok())
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let s = &ctx.shared.stats;
    for c in [
        &s.connections_received,
        &s.commands_processed,
        &s.rejected_connections,
        &s.net_input_bytes,
        &s.net_output_bytes,
    ] {
        c.store(0, Ordering::Relaxed);
    }
    ctx.ks.stats.expired_keys = 0;
    ctx.ks.stats.evicted_keys = 0;
    ctx.ks.stats.keyspace_hits = 0;
    ctx.ks.stats.keyspace_misses = 0;
    Ok(Frame::ok())
}

/// CONFIG REWRITE: terrarium has no configuration file.
fn config_rewrite(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Err(CmdError::new("ERR The server is running without a config file"))
}

// ------------------------------------------------------------------------------------------------
// COMMAND
// ------------------------------------------------------------------------------------------------

fn command_entry(spec: &CommandSpec) -> Frame {
    let words =
        |s: &str| Frame::Set(s.split(' ').filter(|w| !w.is_empty()).map(|w| Frame::Simple(w.to_string())).collect());
    let subs: Vec<Frame> = {
        let prefix = format!("{}|", spec.name);
        let t = table();
        SPECS.iter().filter(|s| s.name.starts_with(&prefix) && t.get(s.name).is_some()).map(command_entry).collect()
    };
    Frame::Array(vec![
        Frame::bulk_str(spec.name),
        Frame::Integer(spec.arity as i64),
        words(spec.flags),
        Frame::Integer(spec.first_key as i64),
        Frame::Integer(spec.last_key as i64),
        Frame::Integer(spec.key_step as i64),
        words(spec.acl),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
        Frame::Array(subs),
    ])
}

/// Top-level commands that have a handler, in table order.
fn implemented() -> impl Iterator<Item = &'static CommandSpec> {
    let t = table();
    SPECS.iter().filter(move |s| !s.name.contains('|') && t.get(s.name).is_some())
}

/// COMMAND
fn command(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Frame::Array(implemented().map(command_entry).collect()))
}

/// COMMAND COUNT
fn command_count(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(implemented().count() as i64))
}

/// COMMAND INFO [command-name [command-name ...]]
fn command_info(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        return Ok(Frame::Array(implemented().map(command_entry).collect()));
    }
    let t = table();
    Ok(Frame::Array(
        argv[2..].iter().map(|n| t.get(&lower(n)).map(|c| command_entry(c.spec)).unwrap_or(Frame::NullArray)).collect(),
    ))
}

/// COMMAND DOCS [command-name [command-name ...]]: terrarium carries no documentation text, so
/// each entry has only its group; redis-cli then shows no argument hints (see protocol-spec).
fn command_docs(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let names: Vec<&'static CommandSpec> = if argv.len() == 2 {
        implemented().collect()
    } else {
        let t = table();
        argv[2..].iter().filter_map(|n| t.get(&lower(n)).map(|c| c.spec)).collect()
    };
    let group = |s: &CommandSpec| {
        s.acl
            .split(' ')
            .map(|c| c.trim_start_matches('@'))
            .find(|c| {
                matches!(
                    *c,
                    "string"
                        | "list"
                        | "hash"
                        | "set"
                        | "sortedset"
                        | "keyspace"
                        | "connection"
                        | "pubsub"
                        | "transaction"
                        | "server"
                )
            })
            .map(|c| match c {
                "sortedset" => "sorted-set",
                "keyspace" => "generic",
                other => other,
            })
            .unwrap_or("server")
    };
    Ok(Frame::Map(
        names
            .into_iter()
            .map(|s| {
                (
                    Frame::bulk_str(s.name),
                    Frame::Map(vec![
                        (Frame::bulk_str("summary"), Frame::bulk_str("")),
                        (Frame::bulk_str("group"), Frame::bulk_str(group(s))),
                    ]),
                )
            })
            .collect(),
    ))
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
fn command_list(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut filter: Option<(String, Bytes)> = None;
    if argv.len() == 5 && eq_ic(&argv[2], "filterby") {
        filter = Some((lower(&argv[3]), argv[4].clone()));
    } else if argv.len() != 2 {
        return Err(CmdError::syntax());
    }
    let names = implemented().filter(|s| match &filter {
        None => true,
        Some((k, v)) if k == "pattern" => glob::matches(v, s.name.as_bytes(), true),
        Some((k, v)) if k == "aclcat" => {
            s.acl.split(' ').any(|c| c.trim_start_matches('@').as_bytes().eq_ignore_ascii_case(v))
        }
        Some(_) => false,
    });
    Ok(Frame::bulks(names.map(|s| Bytes::from_static(s.name.as_bytes())).collect::<Vec<_>>()))
}

/// COMMAND GETKEYS command [arg [arg ...]]: from the table's first/last/step key positions.
fn command_getkeys(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = &argv[2..];
    let cmd = super::lookup(sub).map_err(|_| CmdError::new("ERR Invalid command specified"))?;
    let s = cmd.spec;
    if s.first_key == 0 {
        return Err(CmdError::new("ERR The command has no key arguments"));
    }
    let last = if s.last_key < 0 { sub.len() as i32 + s.last_key } else { s.last_key };
    let mut keys = Vec::new();
    let mut i = s.first_key;
    while i <= last && (i as usize) < sub.len() {
        keys.push(sub[i as usize].clone());
        i += s.key_step.max(1);
    }
    Ok(Frame::bulks(keys))
}

/// COMMAND HELP
fn command_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    help_reply(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "HELP",
        "    Print this help.",
    ])
}

// ------------------------------------------------------------------------------------------------
// Databases, time, OBJECT, DEBUG
// ------------------------------------------------------------------------------------------------

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.ks.dbs[ctx.sess.db].len() as i64))
}

fn flush_mode(argv: &[Bytes]) -> Result<(), CmdError> {
    match argv.get(1) {
        None => Ok(()),
        Some(a) if argv.len() == 2 && (eq_ic(a, "async") || eq_ic(a, "sync")) => Ok(()),
        Some(_) => Err(CmdError::syntax()),
    }
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv)?;
    let db = ctx.db();
    ctx.ks.flush_db(db, ctx.now_ms);
    Ok(Frame::ok())
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv)?;
    ctx.ks.flush_all(ctx.now_ms);
    Ok(Frame::ok())
}

/// TIME
fn time(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let us = ctx.shared.clock.now_us();
    Ok(Frame::Array(vec![
        Frame::bulk(Bytes::from((us / 1_000_000).to_string())),
        Frame::bulk(Bytes::from((us % 1_000_000).to_string())),
    ]))
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.shared.last_save_s))
}

/// OBJECT HELP
fn object_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    help_reply(&[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    ])
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    Ok(match ctx.ks.peek(db, &argv[2], ctx.now_ms) {
        Some(e) => Frame::bulk_str(e.encoding()),
        None => Frame::Null,
    })
}

/// OBJECT FREQ key: only meaningful under an LFU policy, and terrarium never evicts.
fn object_freq(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    if ctx.ks.peek(db, &argv[2], ctx.now_ms).is_none() {
        return Ok(Frame::Null);
    }
    Err(CmdError::new("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
}

/// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let now = ctx.now_ms;
    Ok(match ctx.ks.peek(db, &argv[2], now) {
        Some(e) => Frame::Integer((now - e.access_ms).max(0) / 1000),
        None => Frame::Null,
    })
}

/// OBJECT REFCOUNT key: Redis shares the integers 0..9999 (refcount INT_MAX); others are 1.
fn object_refcount(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    Ok(match ctx.ks.peek(db, &argv[2], ctx.now_ms) {
        Some(e) => {
            let shared_int = matches!(&e.value, Value::Str(s) if crate::resp::codec::parse_i64(s).is_some_and(|n| (0..10_000).contains(&n)));
            Frame::Integer(if shared_int { i32::MAX as i64 } else { 1 })
        }
        None => Frame::Null,
    })
}

/// DEBUG SLEEP seconds | DEBUG SET-ACTIVE-EXPIRE 0|1 | DEBUG OBJECT key | DEBUG RELOAD
///
/// DEBUG SLEEP holds the keyspace lock while it sleeps, as Redis blocks its one thread: every
/// other client waits, which is the point of the command.
fn debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sub = lower(&argv[1]);
    match (sub.as_str(), argv.len()) {
        ("sleep", 3) => {
            let secs = parse_f64(&argv[2]).filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(CmdError::not_float)?;
            let d = std::time::Duration::from_secs_f64(secs.min(3600.0));
            // block_in_place lets tokio move other tasks off this worker; it is only allowed on
            // the multi-threaded runtime (tests may run the server on a current-thread one).
            match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| std::thread::sleep(d)),
                _ => std::thread::sleep(d),
            }
            Ok(Frame::ok())
        }
        ("set-active-expire", 3) => {
            ctx.ks.active_expire_enabled = argv[2].as_ref() != b"0";
            Ok(Frame::ok())
        }
        ("protocol", 3) => debug_protocol(ctx, &argv[2]),
        // terrarium's lists have no packed/plain node threshold; accepted for Redis's test suite.
        ("quicklist-packed-threshold", 3) => Ok(Frame::ok()),
        ("digest-value", _) => {
            let db = ctx.db();
            let mut out = Vec::new();
            for k in &argv[2..] {
                let d = ctx.ks.peek(db, k, ctx.now_ms).map(|e| value_digest(&e.value));
                out.push(Frame::bulk(d.unwrap_or_else(|| "0".repeat(40))));
            }
            Ok(Frame::Array(out))
        }
        ("digest", 2) => {
            // XOR of every key's digest mixed with its name: equal datasets give equal digests.
            let mut acc = [0u8; 20];
            let mut any = false;
            for db in 0..crate::limits::DATABASES_COUNT {
                let now = ctx.now_ms;
                let live = ctx.ks.dbs[db].map.iter().filter(|(_, e)| e.expire_at_ms.is_none_or(|t| t > now));
                for (k, e) in live {
                    let mut h = sha1_smol::Sha1::new();
                    h.update(k);
                    h.update(value_digest(&e.value).as_bytes());
                    for (a, b) in acc.iter_mut().zip(h.digest().bytes()) {
                        *a ^= b;
                    }
                    any = true;
                }
            }
            let hex: String = acc.iter().map(|b| format!("{b:02x}")).collect();
            Ok(Frame::Simple(if any { hex } else { "0".repeat(40) }))
        }
        ("htstats-key", 3) => {
            let db = ctx.db();
            match ctx.ks.peek(db, &argv[2], ctx.now_ms) {
                Some(_) => Ok(Frame::Verbatim("txt", Bytes::from_static(b"[Dictionary HT]\n[Expires HT]\n"))),
                None => Err(CmdError::no_such_key()),
            }
        }
        ("set-disable-deny-scripts", 3) => {
            // Lets scripts run commands flagged `noscript` (Redis's test suite uses it).
            let on = argv[2].as_ref() != b"0";
            ctx.shared.script_run.disable_deny_script.store(on, std::sync::atomic::Ordering::Relaxed);
            Ok(Frame::ok())
        }
        ("object", 3) => {
            let db = ctx.db();
            match ctx.ks.peek(db, &argv[2], ctx.now_ms) {
                Some(e) => Ok(Frame::Simple(format!(
                    "Value at:0x0 refcount:1 encoding:{} serializedlength:0 lru:0 lru_seconds_idle:{}",
                    e.encoding(),
                    (ctx.now_ms - e.access_ms).max(0) / 1000
                ))),
                None => Err(CmdError::no_such_key()),
            }
        }
        // Nothing is persisted in RESP's keyspace yet, so "save and load back" keeps it as is.
        ("reload", _) => Ok(Frame::ok()),
        ("help", _) => help_reply(&[
            "DEBUG <subcommand>. Subcommands are:",
            "SLEEP <seconds>",
            "SET-ACTIVE-EXPIRE <0|1>",
            "OBJECT <key>",
            "RELOAD",
        ]),
        _ => Err(CmdError::new(format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&argv[1])
        ))),
    }
}
