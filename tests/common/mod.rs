//! Shared test helpers: an in-process terrarium on free ports, raw socket helpers, and the
//! built binary for multi-process tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use terrarium::clock::Clock;
use terrarium::server::{listener, ServerOptions};

/// A terrarium running on its own runtime, every listener on 127.0.0.1:0.
pub struct TestServer {
    pub redis: SocketAddr,
    pub line: SocketAddr,
    pub pg: SocketAddr,
    pub running: listener::Running,
    rt: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(ServerOptions { redis_port: 0, line_port: 0, ephemeral: true, ..Default::default() }, None)
    }

    pub fn start_with(opts: ServerOptions, clock: Option<Arc<dyn Clock>>) -> TestServer {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let running = rt.block_on(async {
            match clock {
                Some(c) => listener::start_with_clock(opts, c).await,
                None => listener::start(opts).await,
            }
        });
        let running = running.expect("start terrarium");
        TestServer { redis: running.redis_addr, line: running.line_addr, pg: running.pg_addr, running, rt: Some(rt) }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.redis).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://{}/", self.redis)).unwrap().get_connection().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.shutdown();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Sends raw bytes.
pub fn send(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).expect("write");
}

/// Reads until `expected` bytes have arrived (or the connection closes), returning what came.
pub fn read_exact_len(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match s.read(&mut out[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => panic!("read failed after {got} of {n} bytes: {e}"),
        }
    }
    out.truncate(got);
    out
}

/// Sends `request` and asserts the reply is exactly `expected`.
pub fn roundtrip(s: &mut TcpStream, request: &[u8], expected: &[u8]) {
    send(s, request);
    let got = read_exact_len(s, expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply to {:?}",
        String::from_utf8_lossy(request)
    );
}

/// True once the peer has closed the connection (read returns 0).
pub fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0))
}

/// Encodes a command as a RESP multibulk.
pub fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    out
}

/// The path of a tool, or None. Under CI=true a missing tool fails the test instead of skipping.
pub fn tool(name: &str) -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()).map(|p| p.display().to_string())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{name} is required under CI=true but is not installed");
        }
        eprintln!("skipping: {name} is not installed");
    }
    found
}

/// The real binary, killed and reaped when dropped.
pub struct Spawned(pub std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `terrarium up` with every listener on a free port, plus `extra` flags, and returns it
/// with the port it printed for the service whose banner line contains `service` ("RESP",
/// "PostgreSQL").
#[allow(dead_code)]
pub fn spawn_terrarium(extra: &[&str], service: &str) -> (Spawned, u16) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_terrarium"))
        .args([
            "up",
            "--redis-port",
            "0",
            "--line-port",
            "0",
            "--pg-port",
            "0",
            "--kafka-port",
            "0",
            "--log-level",
            "warn",
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn terrarium");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines.next().expect("banner").expect("banner line");
        if line.contains(service) {
            let addr = line.split_whitespace().find(|w| w.starts_with("127.0.0.1:")).expect("address");
            break addr.rsplit(':').next().expect("port").parse().expect("port number");
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Spawned(child), port)
}

/// A private real redis-server on a free port with persistence off, killed when dropped, so
/// tests may FLUSHALL freely and run in parallel with other suites.
pub struct RealRedis {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(dead_code)]
pub fn start_real_redis(binary: &str) -> RealRedis {
    use std::process::{Command, Stdio};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--enable-debug-command", "yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "redis-server did not start on port {port}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    RealRedis { child, port }
}

/// The real PostgreSQL to compare with: `TERRARIUM_DIFF_PG` (host:port) or 127.0.0.1:5432, if it
/// answers within two seconds. Absent, the caller skips, except under CI=true, where this fails.
#[allow(dead_code)]
pub fn real_postgres() -> Option<String> {
    use std::net::ToSocketAddrs;
    let addr = std::env::var("TERRARIUM_DIFF_PG").unwrap_or_else(|_| "127.0.0.1:5432".to_string());
    let reachable = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if reachable {
        return Some(addr);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("PostgreSQL is required under CI=true but nothing answers on {addr}");
    }
    eprintln!("skipping: no PostgreSQL on {addr} (set TERRARIUM_DIFF_PG to use another)");
    None
}

/// Runs one SQL string with psql against terrarium on `port` (unaligned, tuples only, quiet) and
/// returns its output trimmed; `None` when psql is missing outside CI. A failing statement fails
/// the test.
pub fn psql(port: u16, sql: &str) -> Option<String> {
    let psql = tool("psql")?;
    let out = std::process::Command::new(psql)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-A", "-t", "-q", "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
