//! Blocking pops over real sockets: served by a later push, first come first served, timeouts,
//! MULTI, CLIENT UNBLOCK.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn blpop_is_served_by_a_later_push() {
    let srv = TestServer::start();
    let mut waiter = srv.connect();
    send(&mut waiter, b"BLPOP q 0\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let mut pusher = srv.connect();
    roundtrip(&mut pusher, b"RPUSH q hello\r\n", b":1\r\n");
    roundtrip(&mut waiter, b"", b"*2\r\n$1\r\nq\r\n$5\r\nhello\r\n");
    // The pushed element went to the waiter, so the list is gone.
    roundtrip(&mut pusher, b"EXISTS q\r\n", b":0\r\n");
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let srv = TestServer::start();
    let mut first = srv.connect();
    let mut second = srv.connect();
    send(&mut first, b"BRPOP q 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    send(&mut second, b"BRPOP q 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut pusher = srv.connect();
    roundtrip(&mut pusher, b"RPUSH q a b\r\n", b":2\r\n");
    roundtrip(&mut first, b"", b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    roundtrip(&mut second, b"", b"*2\r\n$1\r\nq\r\n$1\r\na\r\n");
}

#[test]
fn fractional_timeout_answers_null_array() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    let start = Instant::now();
    roundtrip(&mut s, b"BLPOP nothing 0.2\r\n", b"*-1\r\n");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(190), "returned after {waited:?}");
    // Redis answers a timed-out BLMOVE with a null array, unlike its immediate form in MULTI.
    roundtrip(&mut s, b"BLMOVE nothing dst LEFT RIGHT 0.05\r\n", b"*-1\r\n");
    roundtrip(&mut s, b"BLPOP nothing -1\r\n", b"-ERR timeout is negative\r\n");
    roundtrip(&mut s, b"BLPOP nothing abc\r\n", b"-ERR timeout is not a float or out of range\r\n");
}

#[test]
fn a_push_inside_multi_wakes_the_waiter_after_exec() {
    let srv = TestServer::start();
    let mut waiter = srv.connect();
    send(&mut waiter, b"BLPOP q 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut tx = srv.connect();
    roundtrip(
        &mut tx,
        b"MULTI\r\nRPUSH q x\r\nRPUSH q y\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n",
    );
    roundtrip(&mut waiter, b"", b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    roundtrip(&mut tx, b"LRANGE q 0 -1\r\n", b"*1\r\n$1\r\ny\r\n");
}

#[test]
fn blocking_inside_multi_does_not_block() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    roundtrip(&mut s, b"MULTI\r\nBLPOP q 0\r\nEXEC\r\n", b"+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n");
}

#[test]
fn blmove_pushes_to_the_destination_and_wakes_its_waiters() {
    let srv = TestServer::start();
    let mut chained = srv.connect();
    send(&mut chained, b"BLPOP dst 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut mover = srv.connect();
    send(&mut mover, b"BLMOVE src dst LEFT RIGHT 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut pusher = srv.connect();
    roundtrip(&mut pusher, b"RPUSH src v\r\n", b":1\r\n");
    roundtrip(&mut mover, b"", b"$1\r\nv\r\n");
    roundtrip(&mut chained, b"", b"*2\r\n$3\r\ndst\r\n$1\r\nv\r\n");
}

#[test]
fn client_unblock_releases_a_waiter() {
    let srv = TestServer::start();
    let mut waiter = srv.connect();
    send(&mut waiter, b"CLIENT ID\r\n");
    let mut reply = Vec::new();
    while !reply.ends_with(b"\r\n") {
        reply.extend(read_exact_len(&mut waiter, 1));
    }
    let id = String::from_utf8(reply).unwrap().trim_start_matches(':').trim_end().to_string();
    send(&mut waiter, b"BLPOP q 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut admin = srv.connect();
    roundtrip(&mut admin, format!("CLIENT UNBLOCK {id} ERROR\r\n").as_bytes(), b":1\r\n");
    roundtrip(&mut waiter, b"", b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    roundtrip(&mut admin, format!("CLIENT UNBLOCK {id}\r\n").as_bytes(), b":0\r\n");
}

#[test]
fn bzpopmin_is_served_with_a_score() {
    let srv = TestServer::start();
    let mut waiter = srv.connect();
    send(&mut waiter, b"BZPOPMIN z 0\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut pusher = srv.connect();
    roundtrip(&mut pusher, b"ZADD z 1.5 m\r\n", b":1\r\n");
    roundtrip(&mut waiter, b"", b"*3\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\n1.5\r\n");
}
