//! PostgreSQL's wire protocol over real sockets: the handshake byte for byte, simple and extended
//! queries against the stand-in engine, malformed and absurd input (an error, never a panic, and
//! never harm to another session), cancel, shutdown, and psql itself when it is installed.
//!
//! Expected bytes come from PostgreSQL 15 (the probes in protocol-spec/pg.md), minus the F/L/R
//! source-location fields PostgreSQL adds to errors.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::TestServer;
use terrarium::sql::wire::{
    BackendMessage, Bind, ErrorResponse, FrontendMessage, Severity, SqlState, StartupMessage, Target, TransactionStatus,
};

// ------------------------------------------------------------------------------------------------
// A tiny raw client
// ------------------------------------------------------------------------------------------------

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn bytes_of(messages: &[FrontendMessage]) -> Vec<u8> {
    let mut b = BytesMut::new();
    messages.iter().for_each(|m| m.encode(&mut b));
    b.to_vec()
}

fn send(s: &mut TcpStream, messages: &[FrontendMessage]) {
    s.write_all(&bytes_of(messages)).expect("write");
}

/// Reads messages until one with tag `until` arrives (inclusive) or the server closes. Each
/// message is read exactly (header, then body), so replies that follow stay in the socket.
fn read_until(s: &mut TcpStream, until: u8) -> Vec<BackendMessage> {
    let mut out = Vec::new();
    loop {
        let mut header = [0u8; 5];
        match s.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return out,
            Err(e) => panic!("read failed waiting for {:?}: {e}; got {out:?}", until as char),
        }
        let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        assert!((4..1 << 20).contains(&len), "implausible length {len}");
        let mut frame = BytesMut::from(&header[..]);
        frame.resize(1 + len as usize, 0);
        s.read_exact(&mut frame[5..]).expect("message body");
        let m = BackendMessage::decode(&mut frame).expect("the server sent a valid message").expect("whole");
        let done = m.tag() == until;
        out.push(m);
        if done {
            return out;
        }
    }
}

/// Reads everything until the server closes the connection.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("the server closes the connection");
    all
}

fn decode_all(bytes: &[u8]) -> Vec<BackendMessage> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = BackendMessage::decode(&mut buf).expect("valid messages") {
        out.push(m);
    }
    assert!(buf.is_empty(), "trailing bytes {:?}", &buf[..]);
    out
}

/// A started session: SSLRequest refused, StartupMessage, everything up to ReadyForQuery.
fn session(addr: SocketAddr) -> (TcpStream, Vec<BackendMessage>) {
    let mut s = connect(addr);
    send(&mut s, &[FrontendMessage::SslRequest]);
    let mut n = [0u8; 1];
    s.read_exact(&mut n).unwrap();
    assert_eq!(&n, b"N");
    send(&mut s, &[FrontendMessage::Startup(StartupMessage::new("postgres", "postgres"))]);
    let hello = read_until(&mut s, b'Z');
    (s, hello)
}

fn query(s: &mut TcpStream, sql: &str) -> Vec<BackendMessage> {
    send(s, &[FrontendMessage::Query { sql: sql.into() }]);
    read_until(s, b'Z')
}

fn error_of(messages: &[BackendMessage]) -> &ErrorResponse {
    messages
        .iter()
        .find_map(|m| if let BackendMessage::ErrorResponse(e) = m { Some(e) } else { None })
        .unwrap_or_else(|| panic!("no ErrorResponse in {messages:?}"))
}

fn tags(messages: &[BackendMessage]) -> String {
    messages.iter().map(|m| m.tag() as char).collect()
}

fn rfq(status: TransactionStatus) -> BackendMessage {
    BackendMessage::ReadyForQuery(status)
}

/// The server is still fine: a fresh session answers `select 1`.
fn assert_healthy(addr: SocketAddr) {
    let (mut s, _) = session(addr);
    let r = query(&mut s, "select 1");
    assert_eq!(r[1], BackendMessage::DataRow(vec![Some(Bytes::from_static(b"1"))]));
}

// ------------------------------------------------------------------------------------------------
// Handshake
// ------------------------------------------------------------------------------------------------

#[test]
fn startup_answers_like_postgres_15() {
    let server = TestServer::start();
    let (_s, hello) = session(server.pg);
    assert_eq!(hello[0], BackendMessage::Authentication(terrarium::sql::wire::Authentication::Ok));
    let params: Vec<(String, String)> = hello
        .iter()
        .filter_map(|m| match m {
            BackendMessage::ParameterStatus { name, value } => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect();
    let expect = [
        ("application_name", ""),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "on"),
        ("server_encoding", "UTF8"),
        ("server_version", terrarium::sql::server::SERVER_VERSION),
        ("session_authorization", "postgres"),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "Etc/UTC"),
    ];
    let expect: Vec<(String, String)> = expect.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(params, expect);
    assert!(terrarium::sql::server::SERVER_VERSION.starts_with("15."));
    assert_eq!(tags(&hello), "RSSSSSSSSSSSSSKZ");
    assert_eq!(hello.last(), Some(&rfq(TransactionStatus::Idle)));
}

#[test]
fn gssenc_and_ssl_are_both_refused_then_startup_proceeds() {
    let server = TestServer::start();
    let mut s = connect(server.pg);
    send(&mut s, &[FrontendMessage::GssEncRequest]);
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"N");
    send(&mut s, &[FrontendMessage::SslRequest]);
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"N");
    let mut startup = StartupMessage::new("alice", "shop");
    startup.params.push(("application_name".into(), "pg_wire test".into()));
    send(&mut s, &[FrontendMessage::Startup(startup)]);
    let hello = read_until(&mut s, b'Z');
    assert!(hello
        .contains(&BackendMessage::ParameterStatus { name: "application_name".into(), value: "pg_wire test".into() }));
    assert!(hello
        .contains(&BackendMessage::ParameterStatus { name: "session_authorization".into(), value: "alice".into() }));
}

#[test]
fn newer_protocol_and_pq_options_get_negotiate_protocol_version() {
    let server = TestServer::start();
    let mut s = connect(server.pg);
    let mut startup = StartupMessage::new("postgres", "postgres");
    startup.protocol_version.minor = 2;
    startup.params.push(("_pq_.foo".into(), "1".into()));
    send(&mut s, &[FrontendMessage::Startup(startup)]);
    let hello = read_until(&mut s, b'Z');
    // PostgreSQL 15 sent exactly these bytes for this StartupMessage.
    let mut v = BytesMut::new();
    hello[0].encode(&mut v);
    assert_eq!(&v[..], b"v\x00\x00\x00\x15\x00\x03\x00\x00\x00\x00\x00\x01_pq_.foo\x00");
    assert_eq!(tags(&hello), "vRSSSSSSSSSSSSSKZ");
}

#[test]
fn refused_startups_get_postgres_errors_then_close() {
    let server = TestServer::start();
    let fatal_of = |bytes: &[u8]| {
        let mut s = connect(server.pg);
        s.write_all(bytes).unwrap();
        let reply = read_to_close(&mut s);
        reply
    };
    let startup = |version: i32, rest: &[u8]| {
        let mut b = ((rest.len() + 8) as i32).to_be_bytes().to_vec();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend_from_slice(rest);
        b
    };
    let check = |reply: &[u8], code: SqlState, message: &str| {
        let msgs = decode_all(reply);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        let e = error_of(&msgs);
        assert_eq!((e.severity, e.code, e.message.as_str()), (Severity::Fatal, code, message));
    };
    check(
        &fatal_of(&startup(4 << 16, b"\0")),
        SqlState::FEATURE_NOT_SUPPORTED,
        "unsupported frontend protocol 4.0: server supports 3.0 to 3.0",
    );
    // A protocol-2 client is told in protocol 2's format, byte for byte as PostgreSQL 15 does.
    assert_eq!(
        fatal_of(&startup(2 << 16, b"\0")),
        b"EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0"
    );
    check(
        &fatal_of(&startup(196608, b"user\0")),
        SqlState::PROTOCOL_VIOLATION,
        "invalid startup packet layout: expected terminator as last byte",
    );
    check(
        &fatal_of(&startup(196608, b"database\0x\0\0")),
        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        "no PostgreSQL user name specified in startup packet",
    );
    let reply = fatal_of(&startup(196608, b"user\0u\0replication\0bogus\0\0"));
    let msgs = decode_all(&reply);
    assert_eq!(error_of(&msgs).hint.as_deref(), Some("Valid values are: \"false\", 0, \"true\", 1, \"database\"."));
    // Settings are judged after authentication, as in PostgreSQL: AuthenticationOk, then the FATAL.
    let msgs = decode_all(&fatal_of(&startup(196608, b"user\0u\0client_encoding\0nope\0\0")));
    assert_eq!(tags(&msgs), "RE");
    assert_eq!(error_of(&msgs).message, "invalid value for parameter \"client_encoding\": \"nope\"");
    // After the version, a second SSLRequest is read as a StartupMessage of protocol 1234.5679.
    let reply = fatal_of(&bytes_of(&[FrontendMessage::SslRequest, FrontendMessage::SslRequest]));
    assert_eq!(reply[0], b'N');
    check(
        &reply[1..],
        SqlState::FEATURE_NOT_SUPPORTED,
        "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0",
    );
    assert_healthy(server.pg);
}

#[test]
fn absurd_lengths_are_refused_with_08p01_before_buffering() {
    let server = TestServer::start();
    // First packets: too long, too short, negative. Nothing is buffered for the announced length.
    for len in [i32::MAX, 10_005, 7, 0, -1] {
        let mut s = connect(server.pg);
        s.write_all(&len.to_be_bytes()).unwrap();
        let msgs = decode_all(&read_to_close(&mut s));
        let e = error_of(&msgs);
        assert_eq!(
            (e.severity, e.code, e.message.as_str()),
            (Severity::Fatal, SqlState::PROTOCOL_VIOLATION, "invalid length of startup packet"),
            "len {len}"
        );
    }
    // Typed messages after startup.
    for (tag, len) in [(b'Q', i32::MAX), (b'Q', 3), (b'P', -7), (b'S', 10_001), (b'X', 1 << 20)] {
        let (mut s, _) = session(server.pg);
        let mut b = vec![tag];
        b.extend_from_slice(&len.to_be_bytes());
        s.write_all(&b).unwrap();
        let msgs = decode_all(&read_to_close(&mut s));
        let e = error_of(&msgs);
        assert_eq!(
            (e.severity, e.code, e.message.as_str()),
            (Severity::Fatal, SqlState::PROTOCOL_VIOLATION, "invalid message length"),
            "{} {len}",
            tag as char
        );
    }
    let (mut s, _) = session(server.pg);
    s.write_all(b"z").unwrap();
    let msgs = decode_all(&read_to_close(&mut s));
    assert_eq!(error_of(&msgs).message, "invalid frontend message type 122");
    // A password nobody asked for is an unknown message type after startup, as in PostgreSQL.
    let (mut s, _) = session(server.pg);
    s.write_all(b"p\0\0\0\x0bsecret\0").unwrap();
    let msgs = decode_all(&read_to_close(&mut s));
    assert_eq!(error_of(&msgs).message, "invalid frontend message type 112");
    assert_healthy(server.pg);
}

#[test]
fn one_bad_session_does_not_harm_another() {
    let server = TestServer::start();
    let (mut good, _) = session(server.pg);
    let r = query(&mut good, "begin");
    assert_eq!(r.last(), Some(&rfq(TransactionStatus::InBlock)));
    // Meanwhile other connections send garbage of every kind.
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"\0\0\0\x08\x04\xd2\x16\x2e",
    ] {
        let mut s = connect(server.pg);
        s.write_all(garbage).unwrap();
        let _ = read_to_close(&mut s);
    }
    let (mut bad, _) = session(server.pg);
    bad.write_all(b"Q\x7f\xff\xff\xff").unwrap();
    let _ = read_to_close(&mut bad);
    // The good session still has its transaction block and answers.
    let r = query(&mut good, "select 'still here'");
    assert_eq!(r[1], BackendMessage::DataRow(vec![Some(Bytes::from_static(b"still here"))]));
    assert_eq!(r.last(), Some(&rfq(TransactionStatus::InBlock)));
}

#[test]
fn random_bytes_never_crash_the_server() {
    let server = TestServer::start();
    // A deterministic xorshift: the same garbage every run, so a failure can be replayed.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..40 {
        let started = round % 2 == 0;
        let mut s = if started { session(server.pg).0 } else { connect(server.pg) };
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let len = (next() % 200) as usize + 1;
        let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if started && round % 4 == 0 {
            // Plausible frames with random bodies reach the body parsers, not only the framing.
            let tag = b"QPBDECSHFdcf"[(next() % 12) as usize];
            let body_len = junk.len() as i32 + 4;
            let mut framed = vec![tag];
            framed.extend_from_slice(&body_len.to_be_bytes());
            framed.append(&mut junk);
            junk = framed;
        }
        let _ = s.write_all(&junk);
        // Whatever comes back must be well-formed messages (or the one-byte SSL answer).
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        if !started && reply.first() == Some(&b'N') {
            reply.remove(0);
        }
        let mut buf = BytesMut::from(&reply[..]);
        while let Some(m) = BackendMessage::decode(&mut buf).unwrap_or_else(|e| panic!("round {round}: {e}")) {
            if let BackendMessage::ErrorResponse(e) = m {
                assert!(!e.message.is_empty());
            }
        }
    }
    assert_healthy(server.pg);
}

// ------------------------------------------------------------------------------------------------
// Simple query
// ------------------------------------------------------------------------------------------------

#[test]
fn select_1_is_byte_equal_to_postgres() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(&mut s, &[FrontendMessage::Query { sql: "select 1".into() }]);
    let mut got = vec![0u8; 34 + 12 + 14 + 6];
    s.read_exact(&mut got).unwrap();
    // T, D, C, Z exactly as PostgreSQL 15 sent them.
    let expect: &[u8] = b"T\x00\x00\x00\x21\x00\x01?column?\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x00\
D\x00\x00\x00\x0b\x00\x01\x00\x00\x00\x011\
C\x00\x00\x00\x0dSELECT 1\x00\
Z\x00\x00\x00\x05I";
    assert_eq!(got, expect);
}

#[test]
fn empty_and_unsupported_queries() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    for empty in ["", "   ", ";", "/* c */ -- x\n ; ;"] {
        assert_eq!(
            query(&mut s, empty),
            vec![BackendMessage::EmptyQueryResponse, rfq(TransactionStatus::Idle)],
            "{empty:?}"
        );
    }
    let r = query(&mut s, "create function f() returns int as 'select 1' language sql");
    assert_eq!(tags(&r), "EZ");
    let e = error_of(&r);
    assert_eq!((e.severity, e.code), (Severity::Error, SqlState::FEATURE_NOT_SUPPORTED));
    // A syntax error anywhere in the string means none of it runs, as PostgreSQL parses first.
    assert_eq!(tags(&query(&mut s, "select 1; selec 2; select 3")), "EZ");
    assert_eq!(tags(&query(&mut s, "select 1; select 2;;")), "TDCTDCZ");
}

#[test]
fn transaction_states_i_t_e() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    let r = query(&mut s, "commit");
    assert_eq!(tags(&r), "NCZ");
    let BackendMessage::NoticeResponse(n) = &r[0] else { panic!() };
    assert_eq!(
        (n.severity, n.code, n.message.as_str()),
        (Severity::Warning, SqlState::NO_ACTIVE_SQL_TRANSACTION, "there is no transaction in progress")
    );
    assert_eq!(query(&mut s, "begin").last(), Some(&rfq(TransactionStatus::InBlock)));
    let r = query(&mut s, "begin");
    assert_eq!(tags(&r), "NCZ", "a second BEGIN warns");
    assert_eq!(query(&mut s, "bogus").last(), Some(&rfq(TransactionStatus::Failed)));
    let r = query(&mut s, "select 1");
    assert_eq!(error_of(&r).code, SqlState::IN_FAILED_SQL_TRANSACTION);
    assert_eq!(error_of(&r).message, "current transaction is aborted, commands ignored until end of transaction block");
    assert_eq!(r.last(), Some(&rfq(TransactionStatus::Failed)));
    let r = query(&mut s, "commit");
    assert_eq!(r, vec![BackendMessage::CommandComplete { tag: "ROLLBACK".into() }, rfq(TransactionStatus::Idle)]);
    let r = query(&mut s, "start transaction; select 2");
    assert_eq!(r[0], BackendMessage::CommandComplete { tag: "START TRANSACTION".into() });
    assert_eq!(r.last(), Some(&rfq(TransactionStatus::InBlock)));
}

#[test]
fn malformed_bodies_are_errors_and_the_session_goes_on() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    // Query without its NUL, Query with bytes after it, Query with invalid UTF-8.
    for (raw, code, message) in [
        (&b"Q\0\0\0\x0cselect 1"[..], SqlState::PROTOCOL_VIOLATION, "invalid string in message"),
        (b"Q\0\0\0\x0fselect 1\0xx", SqlState::PROTOCOL_VIOLATION, "invalid message format"),
        (
            b"Q\0\0\0\x0fselect '\xff'\0",
            SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\": 0xff",
        ),
        (b"S\0\0\0\x05x", SqlState::PROTOCOL_VIOLATION, "invalid message format"),
    ] {
        s.write_all(raw).unwrap();
        let r = read_until(&mut s, b'Z');
        assert_eq!(tags(&r), "EZ");
        let e = error_of(&r);
        assert_eq!((e.severity, e.code, e.message.as_str()), (Severity::Error, code, message));
    }
    // CopyData outside COPY is ignored, as PostgreSQL ignores it.
    send(&mut s, &[FrontendMessage::CopyData(Bytes::from_static(b"x")), FrontendMessage::CopyDone]);
    assert_eq!(tags(&query(&mut s, "select 3")), "TDCZ");
}

// ------------------------------------------------------------------------------------------------
// Extended query
// ------------------------------------------------------------------------------------------------

fn parse(name: &str, query: &str) -> FrontendMessage {
    FrontendMessage::Parse { statement: name.into(), query: query.into(), param_types: vec![] }
}

fn bind(portal: &str, statement: &str, result_formats: Vec<i16>) -> FrontendMessage {
    FrontendMessage::Bind(Bind {
        portal: portal.into(),
        statement: statement.into(),
        param_formats: vec![],
        params: vec![],
        result_formats,
    })
}

fn execute(portal: &str, max_rows: i32) -> FrontendMessage {
    FrontendMessage::Execute { portal: portal.into(), max_rows }
}

#[test]
fn extended_query_like_node_postgres() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(
        &mut s,
        &[
            parse("", "select 41 as y, 'hi' as s"),
            bind("", "", vec![0]),
            FrontendMessage::Describe { target: Target::Portal, name: "".into() },
            execute("", 0),
            FrontendMessage::Sync,
        ],
    );
    let r = read_until(&mut s, b'Z');
    assert_eq!(tags(&r), "12TDCZ");
    assert_eq!(r[3], BackendMessage::DataRow(vec![Some(Bytes::from_static(b"41")), Some(Bytes::from_static(b"hi"))]));
    // Describe S of a named statement: ParameterDescription then RowDescription; then binary results.
    send(
        &mut s,
        &[
            parse("s1", "select 7"),
            FrontendMessage::Describe { target: Target::Statement, name: "s1".into() },
            FrontendMessage::Sync,
        ],
    );
    assert_eq!(tags(&read_until(&mut s, b'Z')), "1tTZ");
    send(&mut s, &[bind("", "s1", vec![1]), execute("", 0), FrontendMessage::Sync]);
    let r = read_until(&mut s, b'Z');
    assert_eq!(r[1], BackendMessage::DataRow(vec![Some(Bytes::from_static(b"\0\0\0\x07"))]));
    // An empty statement: NoData, then EmptyQueryResponse.
    send(
        &mut s,
        &[
            parse("", ""),
            bind("", "", vec![]),
            FrontendMessage::Describe { target: Target::Portal, name: "".into() },
            execute("", 0),
            FrontendMessage::Sync,
        ],
    );
    assert_eq!(tags(&read_until(&mut s, b'Z')), "12nIZ");
}

#[test]
fn max_rows_suspends_the_portal() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(
        &mut s,
        &[
            parse("", "select 1"),
            bind("", "", vec![]),
            execute("", 1),
            execute("", 1),
            execute("", 1),
            FrontendMessage::Sync,
        ],
    );
    let r = read_until(&mut s, b'Z');
    // What PostgreSQL 15 answered: the row, PortalSuspended, then SELECT 0 for each later Execute.
    assert_eq!(tags(&r), "12DsCCZ");
    assert_eq!(r[4], BackendMessage::CommandComplete { tag: "SELECT 0".into() });
    // Portals end with the implicit transaction at Sync.
    send(&mut s, &[execute("", 0), FrontendMessage::Sync]);
    let r = read_until(&mut s, b'Z');
    assert_eq!(error_of(&r).message, "portal \"\" does not exist");
    assert_eq!(error_of(&r).code, SqlState::INVALID_CURSOR_NAME);
}

#[test]
fn errors_skip_until_sync() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(
        &mut s,
        &[
            bind("", "nosuch", vec![]),
            // Everything up to Sync is discarded, malformed or not.
            parse("", "select 1"),
            execute("", 0),
            FrontendMessage::Query { sql: "select 2".into() },
            FrontendMessage::Sync,
            FrontendMessage::Query { sql: "select 3".into() },
        ],
    );
    let r = read_until(&mut s, b'Z');
    assert_eq!(tags(&r), "EZ");
    assert_eq!(error_of(&r).message, "prepared statement \"nosuch\" does not exist");
    assert_eq!(error_of(&r).code, SqlState::INVALID_SQL_STATEMENT_NAME);
    let r = read_until(&mut s, b'Z');
    assert_eq!(r[1], BackendMessage::DataRow(vec![Some(Bytes::from_static(b"3"))]));

    // A malformed Describe also starts skipping.
    s.write_all(b"D\0\0\0\x06X\0").unwrap();
    send(&mut s, &[parse("", "select 1"), FrontendMessage::Sync]);
    let r = read_until(&mut s, b'Z');
    assert_eq!(tags(&r), "EZ");
    assert_eq!(error_of(&r).message, "invalid DESCRIBE message subtype 88");

    // Inside a block an extended-query error fails the block, as any error does.
    query(&mut s, "begin");
    send(&mut s, &[bind("", "nope", vec![]), FrontendMessage::Sync]);
    assert_eq!(read_until(&mut s, b'Z').last(), Some(&rfq(TransactionStatus::Failed)));
    assert_eq!(query(&mut s, "rollback").last(), Some(&rfq(TransactionStatus::Idle)));
}

#[test]
fn statement_and_portal_names_follow_postgres_rules() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(&mut s, &[parse("a", "select 1"), parse("a", "select 2"), FrontendMessage::Sync]);
    let r = read_until(&mut s, b'Z');
    assert_eq!(tags(&r), "1EZ");
    assert_eq!(error_of(&r).message, "prepared statement \"a\" already exists");
    send(&mut s, &[bind("p", "a", vec![]), bind("p", "a", vec![]), FrontendMessage::Sync]);
    let r = read_until(&mut s, b'Z');
    assert_eq!(error_of(&r).message, "cursor \"p\" already exists");
    send(&mut s, &[bind("", "a", vec![0, 1]), FrontendMessage::Sync]);
    assert_eq!(
        error_of(&read_until(&mut s, b'Z')).message,
        "bind message has 2 result formats but query has 1 columns"
    );
    // Closing what does not exist is fine.
    send(
        &mut s,
        &[
            FrontendMessage::Close { target: Target::Statement, name: "nope".into() },
            FrontendMessage::Close { target: Target::Portal, name: "nope".into() },
            FrontendMessage::Sync,
        ],
    );
    assert_eq!(tags(&read_until(&mut s, b'Z')), "33Z");
    // A simple Query drops the unnamed statement.
    send(&mut s, &[parse("", "select 1"), FrontendMessage::Sync]);
    read_until(&mut s, b'Z');
    query(&mut s, "select 2");
    send(&mut s, &[bind("", "", vec![]), FrontendMessage::Sync]);
    assert_eq!(error_of(&read_until(&mut s, b'Z')).message, "unnamed prepared statement does not exist");
    // Bind parameters the statement does not have.
    let mut b = bind("", "a", vec![]);
    if let FrontendMessage::Bind(ref mut b) = b {
        b.params = vec![Some(Bytes::from_static(b"1"))];
    }
    send(&mut s, &[b, FrontendMessage::Sync]);
    assert_eq!(
        error_of(&read_until(&mut s, b'Z')).message,
        "bind message supplies 1 parameters, but prepared statement \"a\" requires 0"
    );
}

#[test]
fn flush_sends_without_ending_the_batch() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(&mut s, &[parse("", "select 1"), FrontendMessage::Flush]);
    assert_eq!(read_until(&mut s, b'1'), vec![BackendMessage::ParseComplete]);
    send(&mut s, &[FrontendMessage::Sync]);
    assert_eq!(read_until(&mut s, b'Z'), vec![rfq(TransactionStatus::Idle)]);
}

// ------------------------------------------------------------------------------------------------
// Cancel, Terminate, shutdown, connection limit
// ------------------------------------------------------------------------------------------------

#[test]
fn cancel_request_cancels_a_running_query_only_with_the_right_key() {
    let server = TestServer::start();
    let (mut s, hello) = session(server.pg);
    let Some(BackendMessage::BackendKeyData { process_id, secret_key }) =
        hello.iter().find(|m| m.tag() == b'K').cloned()
    else {
        panic!("no BackendKeyData")
    };
    let cancel = |secret_key: i32| {
        let mut c = connect(server.pg);
        send(&mut c, &[FrontendMessage::CancelRequest { process_id, secret_key }]);
        // PostgreSQL answers a cancel with nothing but closing.
        assert!(read_to_close(&mut c).is_empty());
    };
    // The wrong secret does nothing.
    send(&mut s, &[FrontendMessage::Query { sql: "select pg_sleep(0.4)".into() }]);
    std::thread::sleep(Duration::from_millis(100));
    cancel(secret_key.wrapping_add(1));
    assert_eq!(tags(&read_until(&mut s, b'Z')), "TDCZ");
    // The right one cancels, with PostgreSQL's error, after the RowDescription already sent.
    let started = Instant::now();
    send(&mut s, &[FrontendMessage::Query { sql: "select pg_sleep(30)".into() }]);
    std::thread::sleep(Duration::from_millis(200));
    cancel(secret_key);
    let r = read_until(&mut s, b'Z');
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(tags(&r), "TEZ");
    let e = error_of(&r);
    assert_eq!((e.code, e.message.as_str()), (SqlState::QUERY_CANCELED, "canceling statement due to user request"));
    assert_eq!(tags(&query(&mut s, "select 1")), "TDCZ");
}

#[test]
fn terminate_closes_the_connection() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    send(&mut s, &[FrontendMessage::Terminate]);
    assert!(read_to_close(&mut s).is_empty());
}

#[test]
fn shutdown_tells_idle_sessions_why() {
    let server = TestServer::start();
    let (mut s, _) = session(server.pg);
    server.running.shutdown();
    let msgs = decode_all(&read_to_close(&mut s));
    let e = error_of(&msgs);
    assert_eq!(
        (e.severity, e.code, e.message.as_str()),
        (Severity::Fatal, SqlState::ADMIN_SHUTDOWN, "terminating connection due to administrator command")
    );
}

#[test]
fn too_many_clients_get_53300_after_startup() {
    use terrarium::sql::server::{standin::StandIn, PgServer};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(PgServer::new(StandIn, 1).serve(listener, rx));
        addr
    });
    let (_first, _) = session(addr);
    let mut second = connect(addr);
    send(&mut second, &[FrontendMessage::Startup(StartupMessage::new("postgres", "postgres"))]);
    let msgs = decode_all(&read_to_close(&mut second));
    let e = error_of(&msgs);
    assert_eq!((e.code, e.message.as_str()), (SqlState::TOO_MANY_CONNECTIONS, "sorry, too many clients already"));
    drop(_first);
    // The slot comes back when the first session leaves.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = connect(addr);
        send(&mut s, &[FrontendMessage::Startup(StartupMessage::new("postgres", "postgres"))]);
        if read_until(&mut s, b'Z').last() == Some(&rfq(TransactionStatus::Idle)) {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.shutdown_background();
}

// ------------------------------------------------------------------------------------------------
// psql itself
// ------------------------------------------------------------------------------------------------

fn psql(addr: SocketAddr, args: &[&str]) -> Option<std::process::Output> {
    let bin = common::tool("psql")?;
    let out = std::process::Command::new(bin)
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string(), "-U", "postgres", "-X", "-w"])
        .args(args)
        .env_remove("PGPASSWORD")
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run psql");
    Some(out)
}

#[test]
fn psql_connects_and_gets_answers() {
    let server = TestServer::start();
    let Some(out) = psql(server.pg, &["-c", "select 1"]) else { return };
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), " ?column? \n----------\n        1\n(1 row)\n\n");

    let out = psql(server.pg, &["-A", "-t", "-c", "select 1 as x, 'two' as y, true, null, -2.50"]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1|two|t||-2.50\n");

    // A statement terrarium cannot run: a clean error, exit status 1, no panic.
    let out = psql(server.pg, &["-c", "create function f() returns int as 'select 1' language sql"]).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ERROR:  terrarium does not support this statement yet"), "{err}");

    // A script with a failed block: psql prints what PostgreSQL 15's psql printed.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("t.sql");
    std::fs::write(&script, "begin;\nselect 'in block';\nbogus;\nselect 1;\ncommit;\nend;\n").unwrap();
    let out = psql(server.pg, &["-f", script.to_str().unwrap()]).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "BEGIN\n ?column? \n----------\n in block\n(1 row)\n\nROLLBACK\nCOMMIT\n");
    assert!(
        stderr.contains("ERROR:  current transaction is aborted, commands ignored until end of transaction block"),
        "{stderr}"
    );
    assert!(stderr.contains("WARNING:  there is no transaction in progress"), "{stderr}");
}
