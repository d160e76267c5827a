//! COPY FROM STDIN and COPY TO STDOUT in the text format, over the simple and the extended
//! protocol, driven with raw protocol messages and with psql's `\copy`.
//!
//! Each raw scenario runs against terrarium and, when one answers on 127.0.0.1:5432 (or
//! `$TERRARIUM_DIFF_PG`), against a real PostgreSQL 15 in a database of its own: the two
//! transcripts (every reply but the F/L/R source fields and the schema/table/column/constraint
//! names terrarium does not send) must be equal. Without a PostgreSQL the transcripts are only
//! checked by the assertions here, except under CI=true, where a missing PostgreSQL fails.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use terrarium::sql::wire::{BackendMessage, Bind, FrontendMessage, StartupMessage, Target};

/// How long to try reaching the real server before calling it absent.
const CONNECT_WAIT_MS: u64 = 2_000;

// ------------------------------------------------------------------------------------------------
// A raw client
// ------------------------------------------------------------------------------------------------

struct Conn {
    s: TcpStream,
}

impl Conn {
    fn open(addr: &str, database: &str) -> Conn {
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        let mut b = BytesMut::new();
        FrontendMessage::Startup(StartupMessage::new("postgres", database)).encode(&mut b);
        s.write_all(&b).unwrap();
        let mut c = Conn { s };
        let hello = c.read_until(b'Z');
        assert!(!hello.iter().any(|m| matches!(m, BackendMessage::ErrorResponse(_))), "{hello:?}");
        c
    }

    fn send(&mut self, messages: &[FrontendMessage]) {
        let mut b = BytesMut::new();
        messages.iter().for_each(|m| m.encode(&mut b));
        self.s.write_all(&b).expect("write");
    }

    /// Reads messages up to and including the first with tag `until`.
    fn read_until(&mut self, until: u8) -> Vec<BackendMessage> {
        self.read_until_any(&[until])
    }

    /// Reads messages up to and including the first with one of the tags `until`, or to the end
    /// of the connection.
    fn read_until_any(&mut self, until: &[u8]) -> Vec<BackendMessage> {
        let mut out = Vec::new();
        loop {
            let mut header = [0u8; 5];
            match self.s.read_exact(&mut header) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return out,
                Err(e) => panic!("read failed waiting for {until:?}: {e}; got {out:?}"),
            }
            let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
            assert!((4..1 << 26).contains(&len), "implausible length {len}");
            let mut frame = BytesMut::from(&header[..]);
            frame.resize(1 + len as usize, 0);
            self.s.read_exact(&mut frame[5..]).expect("message body");
            let m = BackendMessage::decode(&mut frame).expect("valid message").expect("whole message");
            let done = until.contains(&m.tag());
            out.push(m);
            if done {
                return out;
            }
        }
    }

    fn query(&mut self, sql: &str) -> Vec<BackendMessage> {
        self.send(&[FrontendMessage::Query { sql: sql.into() }]);
        self.read_until(b'Z')
    }
}

fn data(chunk: &[u8]) -> FrontendMessage {
    FrontendMessage::CopyData(Bytes::copy_from_slice(chunk))
}

/// A reply as the transcripts compare it.
fn show(m: &BackendMessage) -> String {
    match m {
        BackendMessage::ErrorResponse(e) | BackendMessage::NoticeResponse(e) => {
            let mut s = format!("{} {:?} {}: {}", m.tag() as char, e.severity, e.code, e.message);
            for (k, v) in [("D", &e.detail), ("H", &e.hint)] {
                if let Some(v) = v {
                    s.push_str(&format!(" | {k} {v}"));
                }
            }
            if let Some(w) = e.more.as_ref().and_then(|m| m.context.as_ref()) {
                s.push_str(&format!(" | W {w}"));
            }
            s
        }
        BackendMessage::CopyData(d) => format!("CopyData {:?}", String::from_utf8_lossy(d)),
        BackendMessage::RowDescription(fields) => {
            let cols: Vec<String> = fields.iter().map(|f| format!("{}:{}", f.name, f.type_oid)).collect();
            format!("RowDescription {}", cols.join(","))
        }
        other => format!("{other:?}"),
    }
}

fn transcript(messages: &[BackendMessage]) -> Vec<String> {
    messages.iter().map(show).collect()
}

/// Sends COPY ... FROM STDIN as a Query, then the chunks and CopyDone: the whole exchange.
fn copy_in(c: &mut Conn, sql: &str, chunks: &[&[u8]]) -> Vec<String> {
    c.send(&[FrontendMessage::Query { sql: sql.into() }]);
    // An error before the COPY starts comes with ReadyForQuery instead of CopyInResponse.
    let mut out = c.read_until_any(&[b'G', b'Z']);
    if out.last().is_some_and(|m| m.tag() == b'G') {
        let mut messages: Vec<FrontendMessage> = chunks.iter().map(|d| data(d)).collect();
        messages.push(FrontendMessage::CopyDone);
        c.send(&messages);
        out.extend(c.read_until(b'Z'));
    }
    transcript(&out)
}

// ------------------------------------------------------------------------------------------------
// The real PostgreSQL, when there is one
// ------------------------------------------------------------------------------------------------

/// A database of its own on the real server, dropped afterwards.
struct RealDb {
    addr: String,
    name: String,
}

impl RealDb {
    fn create() -> Option<RealDb> {
        let addr = std::env::var("TERRARIUM_DIFF_PG").unwrap_or_else(|_| "127.0.0.1:5432".to_string());
        let reachable = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(CONNECT_WAIT_MS)).is_ok());
        if !reachable {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required under CI=true but nothing answers on {addr}");
            }
            eprintln!("no PostgreSQL on {addr}: checking terrarium's transcripts without comparing them");
            return None;
        }
        let name = format!(
            "terrarium_copy_{}_{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        );
        let r = Conn::open(&addr, "postgres").query(&format!("CREATE DATABASE {name}"));
        assert!(!r.iter().any(|m| m.tag() == b'E'), "{r:?}");
        Some(RealDb { addr, name })
    }
}

impl Drop for RealDb {
    fn drop(&mut self) {
        Conn::open(&self.addr, "postgres").query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// Runs `scenario` on terrarium and, when there is one, on PostgreSQL, and checks the
/// transcripts are equal. Returns terrarium's.
fn both(scenario: impl Fn(&mut Conn) -> Vec<Vec<String>>) -> Vec<Vec<String>> {
    let (_server, port) = common::spawn_terrarium(&["--ephemeral"], "PostgreSQL");
    let ours = scenario(&mut Conn::open(&format!("127.0.0.1:{port}"), "postgres"));
    if let Some(real) = RealDb::create() {
        let theirs = scenario(&mut Conn::open(&real.addr, &real.name));
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "step {i} differs from PostgreSQL (left: terrarium, right: PostgreSQL)");
        }
        assert_eq!(ours.len(), theirs.len());
    }
    ours
}

fn has(step: &[String], needle: &str) -> bool {
    step.iter().any(|l| l.contains(needle))
}

// ------------------------------------------------------------------------------------------------
// Scenarios
// ------------------------------------------------------------------------------------------------

#[test]
fn copy_in_and_out_round_trip_over_the_simple_protocol() {
    let steps = both(|c| {
        vec![
            transcript(
                &c.query("CREATE TABLE c (id int PRIMARY KEY, name text, score numeric, ok boolean, note varchar(10))"),
            ),
            // Chunks split rows, fields and an escape; `\.` ends the data and what follows is ignored.
            copy_in(
                c,
                "COPY c FROM STDIN",
                &[
                    b"1\tann\t1.50\tt\t",
                    b"x\n2\t\\N\t-3\tf\t\\N\n3\tb\\tc\\",
                    b"\\d\\n\t0\ton\te\\101\\x42\n\\.\nignored\n",
                ],
            ),
            transcript(&c.query("SELECT * FROM c ORDER BY id")),
            transcript(&c.query("COPY c TO STDOUT")),
            transcript(&c.query(
                "COPY (SELECT id, name FROM c WHERE id > 1 ORDER BY id) TO STDOUT WITH (DELIMITER ',', NULL 'NULL')",
            )),
            transcript(&c.query("COPY c (name, id) TO STDOUT (HEADER)")),
            // A column list: the others take their defaults; a different delimiter and NULL.
            copy_in(c, "COPY c (name, id) FROM STDIN WITH (DELIMITER '|', NULL '')", &[b"five|5\n|6\n"]),
            transcript(&c.query("SELECT id, name, score FROM c WHERE id > 4 ORDER BY id")),
            // Inside a transaction block, COPY rolls back with it.
            transcript(&c.query("BEGIN")),
            copy_in(c, "COPY c (id) FROM STDIN", &[b"7\n8\n"]),
            transcript(&c.query("ROLLBACK")),
            transcript(&c.query("SELECT count(*) FROM c")),
            // Nothing at all is zero rows.
            copy_in(c, "COPY c FROM STDIN", &[]),
        ]
    });
    assert!(has(&steps[1], "CommandComplete { tag: \"COPY 3\" }"), "{:?}", steps[1]);
    assert!(has(&steps[3], r#"CopyData "3\tb\\tc\\\\d\\n\t0\tt\teAB\n""#), "{:?}", steps[3]);
    assert!(has(&steps[4], r#"CopyData "2,NULL\n""#), "{:?}", steps[4]);
    assert!(has(&steps[5], r#"CopyData "name\tid\n""#), "{:?}", steps[5]);
    assert!(has(&steps[11], "DataRow([Some(b\"5\")])"), "{:?}", steps[11]);
}

#[test]
fn bad_rows_get_postgres_errors_with_their_line() {
    let steps = both(|c| {
        let mut steps = vec![transcript(
            &c.query("CREATE TABLE e (id int PRIMARY KEY, n smallint, ok boolean, note varchar(3), t timestamp)"),
        )];
        for chunk in [
            &b"1\t2\tt\tabc\t2024-05-01 10:00:00\n2\t3\n"[..],
            b"1\t2\tt\tabc\t\\N\textra\n",
            b"1\tzz\tt\tabc\t\\N\n",
            b"1\t99999\tt\tabc\t\\N\n",
            b"1\t2\tmaybe\tabc\t\\N\n",
            b"1\t2\tt\tabcd\t\\N\n",
            b"1\t2\tt\t\\0\t\\N\n",
            b"1\t2\tt\t\xff\t\\N\n",
            b"1\t2\tt\tabc\t\\N\n2\t2\tt\tabc\t\\N\r\n",
            b"1\t2\tt\tabc\t\\N\n\\.junk\n",
            b"1\t2\tt\tabc\t\\N\n\\.",
            b"1\t2\tt\tabc\t\\N\n1\t2\tt\tabc\t\\N\n",
        ] {
            steps.push(copy_in(c, "COPY e FROM STDIN", &[chunk]));
        }
        steps.push(copy_in(c, "COPY nosuch FROM STDIN", &[]));
        steps.push(copy_in(c, "COPY e (zz) FROM STDIN", &[]));
        steps.push(copy_in(c, "COPY e (id, id) FROM STDIN", &[]));
        steps.push(transcript(&c.query("SELECT count(*) FROM e")));
        // In a failed block COPY is refused before it starts.
        steps.push(transcript(&c.query("BEGIN; SELECT 1/0")));
        steps.push(copy_in(c, "COPY e FROM STDIN", &[b"9\t9\tt\tx\t\\N\n"]));
        steps.push(transcript(&c.query("ROLLBACK")));
        steps
    });
    let expect = [
        (1, "22P04: missing data for column \"ok\" | W COPY e, line 2: \"2\t3\""),
        (2, "22P04: extra data after last expected column | W COPY e, line 1: \"1\t2\tt\tabc\t\\N\textra\""),
        (3, "22P02: invalid input syntax for type smallint: \"zz\" | W COPY e, line 1, column n: \"zz\""),
        (4, "22003: value \"99999\" is out of range for type smallint | W COPY e, line 1, column n: \"99999\""),
        (5, "22P02: invalid input syntax for type boolean: \"maybe\""),
        (6, "22001: value too long for type character varying(3) | W COPY e, line 1, column note: \"abcd\""),
        (7, "22021: invalid byte sequence for encoding \"UTF8\": 0x00 | W COPY e, line 1: \"1\t2\tt\t\\0\t\\N\""),
        (8, "22021: invalid byte sequence for encoding \"UTF8\": 0xff | W COPY e, line 1"),
        (9, "22P04: literal carriage return found in data | H Use \"\\r\" to represent carriage return. | W COPY e, line 2"),
        (10, "22P04: end-of-copy marker corrupt | W COPY e, line 2"),
        (11, "22P04: end-of-copy marker corrupt | W COPY e, line 2"),
        (12, "23505: duplicate key value violates unique constraint \"e_pkey\" | D Key (id)=(1) already exists. | W COPY e, line 2"),
        (13, "42P01: relation \"nosuch\" does not exist"),
        (14, "42703: column \"zz\" of relation \"e\" does not exist"),
        (15, "42701: column \"id\" specified more than once"),
        (16, "DataRow([Some(b\"0\")])"),
        (18, "25P02: current transaction is aborted"),
    ];
    for (i, needle) in expect {
        assert!(has(&steps[i], needle), "step {i}: {:?} lacks {needle:?}", steps[i]);
    }
}

#[test]
fn an_early_error_ends_copy_at_once_and_the_rest_is_ignored() {
    let steps = both(|c| {
        let mut steps = vec![transcript(&c.query("CREATE TABLE f (id int, v text)"))];
        // The bad first line is answered before CopyDone, with ReadyForQuery.
        c.send(&[FrontendMessage::Query { sql: "COPY f FROM STDIN".into() }]);
        steps.push(transcript(&c.read_until(b'G')));
        c.send(&[data(b"x\tbad\n")]);
        steps.push(transcript(&c.read_until(b'Z')));
        // What the client still sends of the COPY is ignored, and the session goes on.
        c.send(&[data(b"2\tlate\n"), FrontendMessage::CopyDone]);
        steps.push(transcript(&c.query("SELECT count(*) FROM f")));
        // CopyFail aborts with the client's message.
        c.send(&[FrontendMessage::Query { sql: "COPY f FROM STDIN".into() }]);
        steps.push(transcript(&c.read_until(b'G')));
        c.send(&[data(b"1\tone\n"), FrontendMessage::CopyFail { message: "client gave up".into() }]);
        steps.push(transcript(&c.read_until(b'Z')));
        steps.push(transcript(&c.query("SELECT count(*) FROM f")));
        steps
    });
    assert!(has(&steps[2], "22P02: invalid input syntax for type integer: \"x\""), "{:?}", steps[2]);
    assert!(has(&steps[2], "ReadyForQuery"), "{:?}", steps[2]);
    assert_eq!(steps[3].iter().filter(|l| l.contains("DataRow([Some(b\"0\")])")).count(), 1, "{:?}", steps[3]);
    assert!(has(&steps[5], "57014: COPY from stdin failed: client gave up"), "{:?}", steps[5]);
}

#[test]
fn copy_over_the_extended_protocol() {
    let parse = |sql: &str| FrontendMessage::Parse { statement: String::new(), query: sql.into(), param_types: vec![] };
    let bind = || {
        FrontendMessage::Bind(Bind {
            portal: String::new(),
            statement: String::new(),
            param_formats: vec![],
            params: vec![],
            result_formats: vec![],
        })
    };
    let execute = || FrontendMessage::Execute { portal: String::new(), max_rows: 0 };
    let steps = both(|c| {
        let mut steps = vec![transcript(&c.query("CREATE TABLE x (id int PRIMARY KEY, name text)"))];
        // libpq sends Sync right behind Execute; the server skips it while COPY runs.
        c.send(&[
            parse("COPY x (id, name) FROM STDIN"),
            bind(),
            FrontendMessage::Describe { target: Target::Portal, name: String::new() },
            execute(),
            FrontendMessage::Sync,
        ]);
        steps.push(transcript(&c.read_until(b'G')));
        c.send(&[data(b"10\tten\n11\t"), data(b"eleven\n"), FrontendMessage::CopyDone, FrontendMessage::Sync]);
        steps.push(transcript(&c.read_until(b'Z')));
        c.send(&[
            parse("COPY (SELECT id, name FROM x ORDER BY id) TO STDOUT"),
            bind(),
            execute(),
            FrontendMessage::Sync,
        ]);
        steps.push(transcript(&c.read_until(b'Z')));
        // An error in the data skips everything up to the client's Sync.
        c.send(&[parse("COPY x FROM STDIN"), bind(), execute(), FrontendMessage::Sync]);
        steps.push(transcript(&c.read_until(b'G')));
        c.send(&[data(b"10\tagain\n"), FrontendMessage::CopyDone, FrontendMessage::Sync]);
        steps.push(transcript(&c.read_until(b'Z')));
        steps.push(transcript(&c.query("SELECT count(*) FROM x")));
        steps
    });
    assert!(has(&steps[2], "CommandComplete { tag: \"COPY 2\" }"), "{:?}", steps[2]);
    assert!(has(&steps[3], r#"CopyData "11\televen\n""#), "{:?}", steps[3]);
    assert!(has(&steps[5], "23505"), "{:?}", steps[5]);
    assert!(has(&steps[6], "DataRow([Some(b\"2\")])"), "{:?}", steps[6]);
}

#[test]
fn absurd_copy_data_is_bounded() {
    let (_server, port) = common::spawn_terrarium(&["--ephemeral"], "PostgreSQL");
    let addr = format!("127.0.0.1:{port}");
    let mut c = Conn::open(&addr, "postgres");
    c.query("CREATE TABLE big (v text)");
    // A line that never ends is refused once it passes PG_COPY_LINE_BYTES_MAX, while it arrives.
    c.send(&[FrontendMessage::Query { sql: "COPY big FROM STDIN".into() }]);
    c.read_until(b'G');
    let chunk = vec![b'a'; 1 << 20];
    let limit_mib = terrarium::limits::PG_COPY_LINE_BYTES_MAX >> 20;
    for _ in 0..=limit_mib {
        c.send(&[data(&chunk)]);
    }
    let reply = transcript(&c.read_until(b'Z'));
    assert!(has(&reply, "54000: COPY line longer than"), "{reply:?}");
    c.send(&[FrontendMessage::CopyDone]);
    assert!(has(&transcript(&c.query("SELECT count(*) FROM big")), "DataRow([Some(b\"0\")])"));
    // A CopyData announcing more than any message may hold ends the connection (08P01).
    c.send(&[FrontendMessage::Query { sql: "COPY big FROM STDIN".into() }]);
    c.read_until(b'G');
    c.s.write_all(&[b'd', 0x7f, 0xff, 0xff, 0xff]).unwrap();
    let reply = transcript(&c.read_until_any(&[]));
    assert!(has(&reply, "08P01: invalid message length"), "{reply:?}");
    assert!(has(&reply, "Fatal 08P01: terminating connection because protocol synchronization was lost"), "{reply:?}");
    // Other sessions are unharmed.
    assert!(has(&transcript(&Conn::open(&addr, "postgres").query("SELECT 1")), "DataRow"));
}

#[test]
fn psql_backslash_copy_round_trip() {
    let Some(psql) = common::tool("psql") else { return };
    let (_server, port) = common::spawn_terrarium(&["--ephemeral"], "PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.tsv");
    let output = dir.path().join("out.tsv");
    let rows = "1\tplain\n2\t\\N\n3\ttab\\there\n4\tback\\\\slash and \\\\N\n5\tnew\\nline\n6\tunicode é ✓\n";
    std::fs::write(&input, rows).unwrap();
    let run = |sql: &str| {
        let out = std::process::Command::new(&psql)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-q", "-A", "-t"])
            .args(["-v", "ON_ERROR_STOP=1"])
            .args(["-c", sql])
            .output()
            .expect("run psql");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run("CREATE TABLE p (id int PRIMARY KEY, v text)");
    run(&format!("\\copy p from '{}'", input.display()));
    run(&format!("\\copy p to '{}'", output.display()));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), rows);
    assert_eq!(run("SELECT v FROM p WHERE id = 3"), "tab\there\n");
    let out = std::process::Command::new(&psql)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-q"])
        .args(["-c", &format!("\\copy p from '{}'", input.display())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("duplicate key value violates unique constraint \"p_pkey\""), "{err}");
    assert!(err.contains("CONTEXT:  COPY p, line 1"), "{err}");
}

#[test]
fn copied_rows_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let (server, port) = common::spawn_terrarium(&["--data-dir", data_dir], "PostgreSQL");
    let mut c = Conn::open(&format!("127.0.0.1:{port}"), "postgres");
    c.query("CREATE TABLE d (id serial PRIMARY KEY, v text, t timestamp)");
    // Autocommit COPY, and one rolled back, which must leave nothing in the log.
    let done = copy_in(&mut c, "COPY d (v, t) FROM STDIN", &[b"a\t2024-05-01 10:00:00\nb\t\\N\nc\\td\t2024-05-02\n"]);
    assert!(has(&done, "COPY 3"), "{done:?}");
    c.query("BEGIN");
    copy_in(&mut c, "COPY d (v) FROM STDIN", &[b"gone\n"]);
    c.query("ROLLBACK");
    drop(c);
    drop(server);
    let (_server, port) = common::spawn_terrarium(&["--data-dir", data_dir], "PostgreSQL");
    let mut c = Conn::open(&format!("127.0.0.1:{port}"), "postgres");
    let out = transcript(&c.query("COPY d TO STDOUT"));
    assert!(has(&out, r#"CopyData "1\ta\t2024-05-01 10:00:00\n""#), "{out:?}");
    assert!(has(&out, r#"CopyData "2\tb\t\\N\n""#), "{out:?}");
    assert!(has(&out, r#"CopyData "3\tc\\td\t2024-05-02 00:00:00\n""#), "{out:?}");
    assert!(has(&out, "COPY 3"), "{out:?}");
    // The serial goes on after the replayed rows (sequences are not logged: see pg.md).
    assert!(has(&copy_in(&mut c, "COPY d (v) FROM STDIN", &[b"e\n"]), "COPY 1"));
    assert!(has(&transcript(&c.query("SELECT count(*) FROM d WHERE id > 3")), "DataRow([Some(b\"1\")])"));
}
