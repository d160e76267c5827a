//! Scripts over real sockets: atomicity against concurrent clients, BUSY after the threshold,
//! SCRIPT KILL and FUNCTION KILL, UNKILLABLE for a script that wrote, and the server staying up.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;

/// Reads one reply line (enough for the simple and error replies these tests expect).
fn read_line(s: &mut std::net::TcpStream) -> String {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        s.read_exact(&mut b).expect("reply");
        out.push(b[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

const BUSY: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

#[test]
fn runaway_script_gets_busy_then_script_kill_recovers() {
    let srv = TestServer::start();
    let mut admin = srv.connect();
    roundtrip(&mut admin, &cmd(&["CONFIG", "SET", "busy-reply-threshold", "200"]), b"+OK\r\n");
    let mut runner = srv.connect();
    send(&mut runner, &cmd(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]));
    std::thread::sleep(Duration::from_millis(50));

    // Before the threshold other clients simply wait; after it they get BUSY.
    let started = Instant::now();
    let mut other = srv.connect();
    send(&mut other, b"PING\r\n");
    assert_eq!(read_line(&mut other), BUSY);
    assert!(started.elapsed() >= Duration::from_millis(100), "BUSY came before the threshold");
    send(&mut other, &cmd(&["GET", "k"]));
    assert_eq!(read_line(&mut other), BUSY);
    // FUNCTION KILL cannot stop an EVAL script.
    send(&mut other, &cmd(&["FUNCTION", "KILL"]));
    assert_eq!(read_line(&mut other), BUSY);

    send(&mut other, &cmd(&["SCRIPT", "KILL"]));
    assert_eq!(read_line(&mut other), "+OK\r\n");
    let killed = read_line(&mut runner);
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: ")
            && killed.ends_with("on @user_script:1.\r\n"),
        "{killed}"
    );
    roundtrip(&mut other, b"PING\r\n", b"+PONG\r\n");
    roundtrip(&mut runner, b"PING\r\n", b"+PONG\r\n");
    roundtrip(&mut other, &cmd(&["SCRIPT", "KILL"]), b"-NOTBUSY No scripts in execution right now.\r\n");
}

#[test]
fn a_killed_script_cannot_catch_its_death() {
    let srv = TestServer::start();
    let mut admin = srv.connect();
    roundtrip(&mut admin, &cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]), b"+OK\r\n");
    let mut runner = srv.connect();
    let body = "while true do pcall(function() while true do end end) end";
    send(&mut runner, &cmd(&["EVAL", body, "0"]));
    std::thread::sleep(Duration::from_millis(300));
    send(&mut admin, &cmd(&["SCRIPT", "KILL"]));
    assert_eq!(read_line(&mut admin), "+OK\r\n");
    assert!(read_line(&mut runner).starts_with("-ERR Script killed by user with SCRIPT KILL..."));
    roundtrip(&mut admin, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn a_script_that_wrote_is_unkillable_and_finishes() {
    let srv = TestServer::start();
    let mut admin = srv.connect();
    roundtrip(&mut admin, &cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]), b"+OK\r\n");
    let mut runner = srv.connect();
    // Writes, then spins for a while (bounded, so the test ends), then writes again.
    let body = "redis.call('set', 'a', '1') local i = 0 while i < 30000000 do i = i + 1 end \
                redis.call('set', 'b', '2') return i";
    send(&mut runner, &cmd(&["EVAL", body, "0"]));
    std::thread::sleep(Duration::from_millis(20));
    send(&mut admin, &cmd(&["SCRIPT", "KILL"]));
    let reply = read_line(&mut admin);
    // The kill may race with the script's end on a very fast machine; either way no kill happens.
    assert!(
        reply.starts_with("-UNKILLABLE Sorry the script already executed write commands")
            || reply == "-NOTBUSY No scripts in execution right now.\r\n",
        "{reply}"
    );
    assert_eq!(read_line(&mut runner), ":30000000\r\n");
    roundtrip(&mut admin, &cmd(&["MGET", "a", "b"]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

#[test]
fn function_kill_stops_a_function_and_script_kill_does_not() {
    let srv = TestServer::start();
    let mut admin = srv.connect();
    roundtrip(&mut admin, &cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]), b"+OK\r\n");
    let lib = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)";
    roundtrip(&mut admin, &cmd(&["FUNCTION", "LOAD", lib]), b"$4\r\nspin\r\n");
    let mut runner = srv.connect();
    send(&mut runner, &cmd(&["FCALL", "spin", "0"]));
    std::thread::sleep(Duration::from_millis(300));
    send(&mut admin, &cmd(&["SCRIPT", "KILL"]));
    assert_eq!(
        read_line(&mut admin),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    send(&mut admin, &cmd(&["FUNCTION", "KILL"]));
    assert_eq!(read_line(&mut admin), "+OK\r\n");
    let killed = read_line(&mut runner);
    assert!(
        killed.starts_with("-ERR Script killed by user with FUNCTION KILL... script: spin, on @user_function:"),
        "{killed}"
    );
    roundtrip(&mut admin, b"PING\r\n", b"+PONG\r\n");
}

/// The course's race: 20 clients each GET-check-INCR against a limit of 5. Inside a script the
/// check and the increment cannot interleave with another client's, so exactly 5 get through.
#[test]
fn a_script_is_atomic_under_concurrent_clients() {
    let srv = TestServer::start();
    let script = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
                  if n < tonumber(ARGV[1]) then redis.call('INCR', KEYS[1]) return 1 end return 0";
    for round in 0..20 {
        let key = format!("limit:{round}");
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let mut c = srv.connect();
                let (key, script) = (key.clone(), script.to_string());
                std::thread::spawn(move || {
                    send(&mut c, &cmd(&["EVAL", &script, "1", &key, "5"]));
                    read_line(&mut c)
                })
            })
            .collect();
        let allowed = handles.into_iter().map(|h| h.join().unwrap()).filter(|r| r == ":1\r\n").count();
        assert_eq!(allowed, 5, "round {round}");
    }
}

/// A reply nested thousands deep gets an error at the depth limit instead of overflowing the
/// stack (which would take the whole server down), and the server answers afterwards.
#[test]
fn a_deeply_nested_reply_does_not_crash_the_server() {
    let srv = TestServer::start();
    let mut c = srv.connect();
    let body = "local t = {} local c = t for i = 1, 5000 do c[1] = {} c = c[1] end return t";
    send(&mut c, &cmd(&["EVAL", body, "0"]));
    let mut depth = 0;
    loop {
        let line = read_line(&mut c);
        if line == "*1\r\n" {
            depth += 1;
            continue;
        }
        assert_eq!(line, "-ERR reached lua stack limit\r\n");
        break;
    }
    assert!(depth > 100, "{depth}");
    roundtrip(&mut c, b"PING\r\n", b"+PONG\r\n");
}

/// Many cached scripts: each one costs no mlua reference slot, so the ten-thousandth still runs.
#[test]
fn ten_thousand_cached_scripts_still_run() {
    let srv = TestServer::start();
    let mut c = srv.connect();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend_from_slice(&cmd(&["SCRIPT", "LOAD", &format!("return {i}")]));
    }
    send(&mut c, &batch);
    for _ in 0..10_000 {
        let header = read_line(&mut c);
        assert_eq!(header, "$40\r\n");
        read_line(&mut c);
    }
    roundtrip(&mut c, &cmd(&["EVAL", "return 'still fine'", "0"]), b"$10\r\nstill fine\r\n");
    roundtrip(&mut c, &cmd(&["EVAL", "return 9999", "0"]), b":9999\r\n");
}
