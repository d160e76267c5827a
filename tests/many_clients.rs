//! 10,000 idle connections against the real binary (a separate process, so that the test's and
//! the server's file descriptors do not share one limit).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Starts `terrarium up --ephemeral` on free ports and returns the RESP port it printed.
fn spawn_terrarium(extra: &[&str]) -> (common::Spawned, u16) {
    let mut args = vec!["--ephemeral"];
    args.extend_from_slice(extra);
    common::spawn_terrarium(&args, "RESP")
}

fn raise_limit(n: u64) -> u64 {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let want = n.min(hard);
    if soft < want {
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, want, hard);
    }
    rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0
}

#[test]
fn ten_thousand_idle_connections_are_held() {
    const CONNECTIONS: usize = 10_000;
    let limit = raise_limit(CONNECTIONS as u64 + 200);
    if limit < CONNECTIONS as u64 + 100 {
        eprintln!("skipping: open files limit is {limit}");
        return;
    }
    let (_child, port) = spawn_terrarium(&[]);
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        conns.push(TcpStream::connect(("127.0.0.1", port)).expect("connect"));
    }
    // Every one of them is served: ask the last and the first.
    for s in [conns.last_mut().unwrap()] {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut b = [0u8; 7];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"+PONG\r\n");
    }
    let first = &mut conns[0];
    first.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    first.write_all(b"INFO clients\r\n").unwrap();
    let mut buf = vec![0u8; 512];
    let n = first.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.contains(&format!("connected_clients:{CONNECTIONS}")), "{text}");
}

#[test]
fn maxclients_flag_limits_the_binary() {
    let (_child, port) = spawn_terrarium(&["--maxclients", "1"]);
    let mut a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    a.write_all(b"PING\r\n").unwrap();
    let mut b = [0u8; 7];
    a.read_exact(&mut b).unwrap();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    assert_eq!(text, "-ERR max number of clients reached\r\n");
}
