//! Keyspace notifications, maxmemory and DUMP/RESTORE, each checked against a private real
//! Redis: the same commands produce the same events on both, in the same order; a DUMP taken on
//! either server restores on the other.
//!
//! Without `redis-server` installed the tests are skipped, except under CI=true, where they fail.

mod common;

use redis::{Commands, Connection, Value};

fn connect(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

fn run(c: &mut Connection, line: &str) -> Value {
    let mut cmd = redis::Cmd::new();
    for word in line.split(' ') {
        cmd.arg(word);
    }
    // Errors are part of the script (e.g. a pop from an empty list); only events matter here.
    cmd.query::<Value>(c).unwrap_or(Value::Nil)
}

/// Runs `script` on one server with `flags` switched on and returns every event a `PSUBSCRIBE *`
/// client received, as "channel payload" lines, in order.
fn events(port: u16, flags: &str, script: &[&str]) -> Vec<String> {
    let mut c = connect(port);
    run(&mut c, "FLUSHALL");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg(flags).query(&mut c).unwrap();
    let mut sub = connect(port);
    let mut ps = sub.as_pubsub();
    ps.psubscribe("*").unwrap();
    for line in script {
        if let Some(ms) = line.strip_prefix("sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        run(&mut c, line);
    }
    let _: i64 = c.publish("zz-end", "x").unwrap();
    let mut out = Vec::new();
    loop {
        let m = ps.get_message().unwrap();
        if m.get_channel_name() == "zz-end" {
            break;
        }
        out.push(format!("{} {}", m.get_channel_name(), m.get_payload::<String>().unwrap()));
    }
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("").query(&mut c).unwrap();
    out
}

const SCRIPT: &[&str] = &[
    // strings
    "SET k v",
    "SET k v2 EX 100",
    "SET k v3 KEEPTTL",
    "EXPIRE k 200",
    "PERSIST k",
    "PERSIST k",
    "APPEND k x",
    "SETRANGE k 0 a",
    "SETRANGE k 0 ",
    "INCR n",
    "DECRBY n 5",
    "INCRBYFLOAT f 1.5",
    "SETNX k nope",
    "SETNX k2 yes",
    "SETEX k3 100 v",
    "PSETEX k4 100000 v",
    "MSET a 1 b 2",
    "MSETNX a 1 c 3",
    "MSETNX c 3 d 4",
    "GETSET a 9",
    "GETEX a EX 100",
    "GETEX a PERSIST",
    "GETEX a PX 0",
    "GETDEL b",
    "GETDEL b",
    "SETBIT bits 7 1",
    // generic
    "DEL c d missing",
    "RENAME k2 k5",
    "RENAMENX k5 k3",
    "COPY k5 k6",
    "MOVE k6 1",
    "EXPIRE k5 0",
    "EXPIRE missing 10",
    // lists
    "LPUSH l a b c",
    "RPUSH l d",
    "LPUSHX nolist a",
    "RPUSHX l e",
    "LPOP l",
    "RPOP l 2",
    "LINSERT l BEFORE b x",
    "LINSERT l BEFORE nope x",
    "LSET l 0 y",
    "LREM l 0 zz",
    "LREM l 1 y",
    "RPOPLPUSH l l2",
    "LMOVE l2 l LEFT RIGHT",
    "LTRIM l 0 0",
    "LMPOP 2 nolist l LEFT COUNT 5",
    "LPUSH l3 a b c",
    "SORT l3 ALPHA STORE l4",
    "SORT nolist STORE l4",
    // sets
    "SADD s a b c",
    "SADD s a",
    "SREM s zz",
    "SREM s a",
    "SMOVE s s2 b",
    "SPOP s",
    "SADD s3 x y",
    "SPOP s3 10",
    "SADD s4 1 2 3",
    "SADD s5 2 3 4",
    "SINTERSTORE s6 s4 s5",
    "SUNIONSTORE s7 s4 s5",
    "SDIFFSTORE s6 s4 s4",
    // hashes
    "HSET h f v g w",
    "HSETNX h f v",
    "HSETNX h z v",
    "HMSET h a 1",
    "HINCRBY h a 2",
    "HINCRBYFLOAT h a 0.5",
    "HDEL h nope",
    "HDEL h f g z a",
    // sorted sets
    "ZADD z 1 a 2 b 3 c",
    "ZADD z NX 1 a",
    "ZADD z INCR 1 a",
    "ZINCRBY z 1 b",
    "ZREM z nope",
    "ZREM z c",
    "ZPOPMIN z",
    "ZPOPMAX z 5",
    "ZADD z2 1 a 2 b 3 c 4 d 5 e",
    "ZREMRANGEBYRANK z2 0 0",
    "ZREMRANGEBYSCORE z2 2 2",
    "ZREMRANGEBYLEX z2 [d [d",
    "ZUNIONSTORE z3 1 z2",
    "ZINTERSTORE z4 2 z2 z3",
    "ZDIFFSTORE z4 2 z2 z3",
    "ZRANGESTORE z5 z2 0 0",
    "ZMPOP 1 z2 MAX",
    "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "GEOSEARCHSTORE g2 g FROMLONLAT 15 37 BYRADIUS 200 km",
    "GEORADIUS g 15 37 200 km STORE g3",
    // MULTI
    "MULTI",
    "SET m1 1",
    "LPUSH m2 a",
    "EXEC",
    // expiry, lazily
    "SET gone 1 PX 1",
    "sleep 50",
    "GET gone",
];

#[test]
fn events_match_real_redis() {
    let Some(binary) = common::tool("redis-server") else { return };
    let real = common::start_real_redis(&binary);
    let srv = common::TestServer::start();
    for flags in ["KEA", "KEAn", "Kl", "Eg", "Ex", "KE", "A"] {
        let want = events(real.port, flags, SCRIPT);
        let got = events(srv.redis.port(), flags, SCRIPT);
        assert_eq!(got, want, "events with notify-keyspace-events {flags}");
        if flags == "KEA" {
            assert!(want.len() > 150, "the script announces many events ({})", want.len());
        }
    }
}

#[test]
fn dumps_restore_across_servers() {
    let Some(binary) = common::tool("redis-server") else { return };
    let real = common::start_real_redis(&binary);
    let srv = common::TestServer::start();
    let fill = |c: &mut Connection| {
        run(c, "FLUSHALL");
        run(c, "RPUSH l a 5 -3000 9223372036854775807");
        run(c, "HSET h f1 v1 f2 2");
        run(c, "SADD s 1 2 300000");
        run(c, "SADD s2 a b");
        run(c, "ZADD z 1.5 a -2 b 1e300 c");
        run(c, "SET str hellohellohellohellohellohellohello");
        for i in 0..200 {
            let _: () = c.hset("big", format!("f{i}"), "v".repeat(i)).unwrap();
        }
    };
    let (mut t, mut r) = (connect(srv.redis.port()), connect(real.port));
    fill(&mut t);
    fill(&mut r);
    for key in ["l", "h", "s", "s2", "z", "str", "big"] {
        cross(&mut t, &mut r, key);
        cross(&mut r, &mut t, key);
    }
}

/// DUMPs `key` on `src`, RESTOREs it on `dst`, and checks the value and its encoding.
fn cross(src: &mut Connection, dst: &mut Connection, key: &str) {
    let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(src).unwrap();
    let copy = format!("{key}_copy");
    let _: () = redis::cmd("RESTORE").arg(&copy).arg(0).arg(payload).arg("REPLACE").query(dst).unwrap();
    let digest = |c: &mut Connection, k: &str| -> Vec<String> {
        redis::cmd("DEBUG").arg("DIGEST-VALUE").arg(k).query(c).unwrap()
    };
    // Both servers hold the same data, so the copy must digest as the destination's own key does.
    assert_eq!(digest(dst, key), digest(dst, &copy), "{key} survives DUMP/RESTORE");
    let enc = |c: &mut Connection, k: &str| -> String { redis::cmd("OBJECT").arg("ENCODING").arg(k).query(c).unwrap() };
    assert_eq!(enc(src, key), enc(dst, &copy), "{key} keeps its encoding");
}

#[test]
fn maxmemory_refuses_writes_and_evicts_with_events() {
    let (_child, port) = common::spawn_terrarium(&["--ephemeral"], "RESP");
    let mut c = connect(port);
    let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
    let used: u64 = info.lines().find_map(|l| l.strip_prefix("used_memory:")).unwrap().trim().parse().unwrap();
    assert!(used > 10_000, "used_memory counts real allocations ({used})");
    run(&mut c, "SET keep 1");
    // noeviction: writes that may grow memory are refused, reads and deletes are not.
    run(&mut c, "CONFIG SET maxmemory 1");
    let e = redis::cmd("SET").arg("x").arg("1").query::<()>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("OOM"));
    assert_eq!(e.detail(), Some("command not allowed when used memory > 'maxmemory'."));
    let v: String = c.get("keep").unwrap();
    assert_eq!(v, "1");
    run(&mut c, "MULTI");
    let queued = redis::cmd("GET").arg("keep").query::<()>(&mut c).unwrap_err();
    assert_eq!(queued.code(), Some("OOM"), "inside MULTI every queued command is refused");
    let exec = redis::cmd("EXEC").query::<()>(&mut c).unwrap_err();
    assert_eq!(exec.code(), Some("EXECABORT"));
    // allkeys-lru: setting the limit evicts, and each evicted key is announced.
    run(&mut c, "CONFIG SET maxmemory 0");
    run(&mut c, "CONFIG SET maxmemory-policy allkeys-lru");
    run(&mut c, "CONFIG SET notify-keyspace-events Ee");
    let mut sub = connect(port);
    let mut ps = sub.as_pubsub();
    ps.subscribe("__keyevent@0__:evicted").unwrap();
    run(&mut c, "CONFIG SET maxmemory 1");
    let m = ps.get_message().unwrap();
    assert_eq!(m.get_payload::<String>().unwrap(), "keep");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("evicted_keys:1"), "{info}");
    run(&mut c, "CONFIG SET maxmemory 0");
    let _: () = c.set("x", "1").unwrap();
}
