//! Expiry on an injected clock: no test sleeps to wait for a TTL.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use terrarium::clock::ManualClock;
use terrarium::kv::{Keyspace, Value};
use terrarium::server::ServerOptions;

#[test]
fn a_key_lives_exactly_until_its_deadline() {
    let clock = ManualClock::new(1_000_000);
    let opts = ServerOptions { redis_port: 0, line_port: 0, ephemeral: true, ..Default::default() };
    let srv = TestServer::start_with(opts, Some(Arc::new(clock.clone())));
    let mut s = srv.connect();
    roundtrip(&mut s, b"SET k v PX 1000\r\n", b"+OK\r\n");
    roundtrip(&mut s, b"PTTL k\r\n", b":1000\r\n");
    clock.advance_ms(999);
    roundtrip(&mut s, b"GET k\r\n", b"$1\r\nv\r\n");
    roundtrip(&mut s, b"PTTL k\r\n", b":1\r\n");
    clock.advance_ms(1);
    roundtrip(&mut s, b"GET k\r\n", b"$-1\r\n");
    roundtrip(&mut s, b"TTL k\r\n", b":-2\r\n");
}

#[test]
fn watch_aborts_when_a_watched_key_expires() {
    let clock = ManualClock::new(5_000);
    let opts = ServerOptions { redis_port: 0, line_port: 0, ephemeral: true, ..Default::default() };
    let srv = TestServer::start_with(opts, Some(Arc::new(clock.clone())));
    let mut s = srv.connect();
    roundtrip(&mut s, b"SET k v PX 100\r\nWATCH k\r\n", b"+OK\r\n+OK\r\n");
    clock.advance_ms(100);
    roundtrip(&mut s, b"MULTI\r\nPING\r\nEXEC\r\n", b"+OK\r\n+QUEUED\r\n*-1\r\n");
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let mut ks = Keyspace::new();
    let now = 10_000;
    for i in 0..100 {
        let key = Bytes::from(format!("k{i}"));
        ks.set_with_expire(0, key, Value::Str(b"v".to_vec()), Some(now + i), now);
    }
    ks.set(0, Bytes::from_static(b"forever"), Value::Str(b"v".to_vec()), now);
    assert_eq!(ks.dbs[0].len(), 101);
    assert_eq!(ks.active_expire(now + 49), 50);
    assert_eq!(ks.dbs[0].len(), 51);
    assert_eq!(ks.active_expire(now + 1_000), 50);
    assert_eq!(ks.dbs[0].len(), 1);
    assert_eq!(ks.stats.expired_keys, 100);
    assert_eq!(ks.dbs[0].expires_count(), 0);
}

#[test]
fn active_expiry_is_bounded_per_tick() {
    let mut ks = Keyspace::new();
    let max = terrarium::limits::ACTIVE_EXPIRE_KEYS_PER_TICK_MAX;
    for i in 0..(max + 10) {
        ks.set_with_expire(0, Bytes::from(format!("k{i}")), Value::Str(vec![]), Some(1), 0);
    }
    assert_eq!(ks.active_expire(2), max);
    assert_eq!(ks.active_expire(2), 10);
}
