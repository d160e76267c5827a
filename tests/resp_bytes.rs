//! RESP over real sockets: bytes in, bytes out (mini-redis style).

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::*;
use terrarium::server::ServerOptions;

#[test]
fn inline_and_multibulk_commands() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n");
    roundtrip(&mut s, b"set greeting \"hello world\"\n", b"+OK\r\n");
    roundtrip(&mut s, &cmd(&["GET", "greeting"]), b"$11\r\nhello world\r\n");
    roundtrip(&mut s, b"\r\n\r\n*0\r\nPING x\r\n", b"$1\r\nx\r\n");
}

#[test]
fn pipelined_replies_come_back_in_order() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 1..=2000 {
        req.extend(cmd(&["INCR", "n"]));
        expected.extend(format!(":{i}\r\n").into_bytes());
    }
    send(&mut s, &req);
    let got = read_exact_len(&mut s, expected.len());
    assert_eq!(got, expected);
}

#[test]
fn a_command_split_across_writes_is_reassembled() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    let whole = cmd(&["SET", "k", "split value"]);
    for chunk in whole.chunks(3) {
        send(&mut s, chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    roundtrip(&mut s, b"", b"+OK\r\n");
    roundtrip(&mut s, &cmd(&["GET", "k"]), b"$11\r\nsplit value\r\n");
}

#[test]
fn protocol_errors_reply_then_close() {
    let srv = TestServer::start();
    let cases: &[(&[u8], &[u8])] = &[
        (b"*1\r\n$1073741824\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\nGET\r\n", b"-ERR Protocol error: expected '$', got 'G'\r\n"),
        (b"SET a \"b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ];
    for (req, reply) in cases {
        let mut s = srv.connect();
        roundtrip(&mut s, req, reply);
        assert!(closed(&mut s), "connection stays open after {:?}", String::from_utf8_lossy(req));
    }
    // Commands before the bad frame in the same read are still answered.
    let mut s = srv.connect();
    roundtrip(&mut s, b"PING\r\n*x\r\n", b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n");
    assert!(closed(&mut s));
}

#[test]
fn oversized_inline_request_is_refused() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    let big = vec![b'a'; 70 * 1024];
    send(&mut s, &big);
    let got = read_exact_len(&mut s, 45);
    assert_eq!(&got[..], b"-ERR Protocol error: too big inline request\r\n");
    assert!(closed(&mut s));
}

#[test]
fn huge_multibulk_header_allocates_nothing_and_waits() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    // Announce two billion arguments, send one: the server must simply wait for more.
    send(&mut s, b"*2147483647\r\n$4\r\nPING\r\n");
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut b = [0u8; 16];
    assert!(s.read(&mut b).is_err(), "no reply expected yet");
    // And the server is still healthy for others.
    let mut other = srv.connect();
    roundtrip(&mut other, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn maxclients_overflow_is_refused_with_redis_text() {
    let opts = ServerOptions { redis_port: 0, line_port: 0, ephemeral: true, maxclients: 2, ..Default::default() };
    let srv = TestServer::start_with(opts, None);
    let mut a = srv.connect();
    let mut b = srv.connect();
    roundtrip(&mut a, b"PING\r\n", b"+PONG\r\n");
    roundtrip(&mut b, b"PING\r\n", b"+PONG\r\n");
    let mut c = srv.connect();
    let got = read_exact_len(&mut c, 37);
    assert_eq!(&got[..], b"-ERR max number of clients reached\r\n");
    drop(a);
    // Once a slot frees up, new clients are accepted again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = srv.connect();
        send(&mut d, b"PING\r\n");
        let got = read_exact_len(&mut d, 7);
        if got == b"+PONG\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hello_switches_to_resp3_and_back() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    send(&mut s, &cmd(&["HELLO", "3"]));
    let mut buf = vec![0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"%7\r\n");
    // Drain the rest of the HELLO map, then check RESP3 shapes.
    std::thread::sleep(Duration::from_millis(50));
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut sink = [0u8; 1024];
    let _ = s.read(&mut sink);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    roundtrip(&mut s, &cmd(&["GET", "nope"]), b"_\r\n");
    roundtrip(&mut s, &cmd(&["HELLO", "4"]), b"-NOPROTO unsupported protocol version\r\n");
}

#[test]
fn requirepass_demands_auth() {
    let opts = ServerOptions {
        redis_port: 0,
        line_port: 0,
        ephemeral: true,
        requirepass: Some("s3cret".into()),
        ..Default::default()
    };
    let srv = TestServer::start_with(opts, None);
    let mut s = srv.connect();
    roundtrip(&mut s, b"GET a\r\n", b"-NOAUTH Authentication required.\r\n");
    roundtrip(&mut s, b"AUTH wrong\r\n", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    roundtrip(&mut s, b"AUTH s3cret\r\n", b"+OK\r\n");
    roundtrip(&mut s, b"GET a\r\n", b"$-1\r\n");
}

#[test]
fn watch_sees_another_clients_write() {
    let srv = TestServer::start();
    let mut a = srv.connect();
    let mut b = srv.connect();
    roundtrip(&mut a, b"WATCH k\r\n", b"+OK\r\n");
    roundtrip(&mut b, b"SET k changed\r\n", b"+OK\r\n");
    roundtrip(&mut a, b"MULTI\r\nSET k mine\r\nEXEC\r\n", b"+OK\r\n+QUEUED\r\n*-1\r\n");
    roundtrip(&mut a, b"GET k\r\n", b"$7\r\nchanged\r\n");
}

#[test]
fn pubsub_delivers_to_channel_and_pattern_subscribers() {
    let srv = TestServer::start();
    let mut sub = srv.connect();
    roundtrip(&mut sub, b"SUBSCRIBE news\r\n", b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    roundtrip(&mut sub, b"PSUBSCRIBE n*\r\n", b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n");
    let mut publ = srv.connect();
    roundtrip(&mut publ, b"PUBLISH news hi\r\n", b":2\r\n");
    let expected = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    let got = read_exact_len(&mut sub, expected.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
    roundtrip(&mut sub, b"GET x\r\n", b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    // A subscriber that disconnects stops counting.
    drop(sub);
    std::thread::sleep(Duration::from_millis(100));
    roundtrip(&mut publ, b"PUBLISH news hi\r\n", b":0\r\n");
}

#[test]
fn client_kill_closes_the_other_connection() {
    let srv = TestServer::start();
    let mut victim = srv.connect();
    roundtrip(&mut victim, b"CLIENT SETNAME victim\r\n", b"+OK\r\n");
    send(&mut victim, b"CLIENT ID\r\n");
    let mut reply = Vec::new();
    while !reply.ends_with(b"\r\n") {
        reply.extend(read_exact_len(&mut victim, 1));
    }
    let id: String = String::from_utf8(reply).unwrap().trim_start_matches(':').trim_end().to_string();
    let mut admin = srv.connect();
    roundtrip(&mut admin, format!("CLIENT KILL ID {id}\r\n").as_bytes(), b":1\r\n");
    assert!(closed(&mut victim));
}

#[test]
fn the_redis_crate_works_unmodified() {
    let srv = TestServer::start();
    let mut c = srv.client();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let v: i64 = redis::cmd("INCRBY").arg("a").arg(41).query(&mut c).unwrap();
    assert_eq!(v, 42);
    let (x, y): (Option<String>, Option<String>) =
        redis::pipe().atomic().cmd("GET").arg("a").cmd("GET").arg("zz").query(&mut c).unwrap();
    assert_eq!(x.as_deref(), Some("42"));
    assert_eq!(y, None);
    let err = redis::cmd("INCR").arg("a").arg("extra").query::<i64>(&mut c).unwrap_err();
    assert!(err.to_string().contains("wrong number of arguments"), "{err}");
}

#[test]
fn redis_cli_works_unmodified() {
    let Some(cli) = tool("redis-cli") else { return };
    let srv = TestServer::start();
    let port = srv.redis.port().to_string();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&cli)
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    };
    assert_eq!(run(&["SET", "cli", "works"]), "OK");
    assert_eq!(run(&["GET", "cli"]), "works");
    assert_eq!(run(&["INCR", "cli"]), "ERR value is not an integer or out of range");
    let hello = run(&["-3", "HELLO", "3"]);
    assert_eq!(hello.lines().take(3).collect::<Vec<_>>(), ["server redis", "version 7.0.15", "proto 3"]);
    assert_eq!(run(&["PING"]), "PONG");
}
