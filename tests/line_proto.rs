//! The course's line protocol on :9999, over real sockets.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

fn line_conn(srv: &TestServer) -> TcpStream {
    let s = TcpStream::connect(srv.line).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn expect(s: &mut TcpStream, send_bytes: &[u8], expected: &[u8]) {
    s.write_all(send_bytes).unwrap();
    let got = read_exact_len(s, expected.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
}

#[test]
fn the_documented_session() {
    let srv = TestServer::start();
    let mut s = line_conn(&srv);
    expect(&mut s, b"PING\n", b"+PONG\n");
    expect(&mut s, b"SET greeting hello world\n", b"+OK\n");
    expect(&mut s, b"GET greeting\r\n", b"$11\nhello world\n");
    expect(&mut s, b"GET nope\n", b"-ERROR: key not found\n");
    expect(&mut s, b"DEL greeting\n", b"+OK\n");
    expect(&mut s, b"DEL greeting\n", b"-ERROR: key not found\n");
    expect(&mut s, b"FROB x\n", b"-ERROR: Unknown command: FROB\n");
    expect(&mut s, b"GET\n", b"-ERROR: wrong number of arguments for 'GET'\n");
    expect(&mut s, b"SET onlykey\n", b"-ERROR: wrong number of arguments for 'SET'\n");
    expect(&mut s, b"quit\n", b"+BYE\n");
    assert!(closed(&mut s));
}

#[test]
fn framing_split_and_batched() {
    let srv = TestServer::start();
    let mut s = line_conn(&srv);
    // One command split across two TCP writes.
    s.write_all(b"SET a ").unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    expect(&mut s, b"1\n", b"+OK\n");
    // Three commands in one write: three replies.
    expect(&mut s, b"PING\nGET a\nPING\n", b"+PONG\n$1\n1\n+PONG\n");
}

#[test]
fn shares_db0_with_resp() {
    let srv = TestServer::start();
    let mut s = line_conn(&srv);
    expect(&mut s, b"SET shared from nc\n", b"+OK\n");
    let mut r = srv.connect();
    roundtrip(&mut r, b"GET shared\r\n", b"$7\r\nfrom nc\r\n");
    roundtrip(&mut r, b"SET back viaresp\r\n", b"+OK\r\n");
    expect(&mut s, b"GET back\n", b"$7\nviaresp\n");
}

#[test]
fn a_too_long_line_is_refused_and_closed() {
    let srv = TestServer::start();
    let mut s = line_conn(&srv);
    let big = vec![b'x'; terrarium::limits::LINE_PROTO_LINE_BYTES_MAX + 10];
    let _ = s.write_all(&big);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("-ERROR: line too long"), "{line}");
    assert!(closed(&mut s));
}
