//! The differential runner: the same commands to terrarium and to a real Redis, replies compared
//! byte for byte.
//!
//! A scenario file is one command per line, quoted as redis-cli quotes (`split_args`):
//!
//! ```text
//! # a comment
//! SET k v
//! [unordered] SMEMBERS s      the top-level elements may come in any order
//! [approx] TTL k              integers may differ by one (a second ticked between the two)
//! [type] SPOP s               only the reply's type must match (random results)
//! [replies 2] SUBSCRIBE a b   the command answers with two replies
//! [sleep 120]                 wait 120 ms, send nothing
//! ```
//!
//! Each file runs on two fresh connections after `FLUSHALL`. The LocalStack idea applied to
//! Redis: the real server is the specification, and every difference is either a bug or a
//! deviation listed in `protocol-spec/resp.md`.

pub mod pg;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::resp::codec::split_args;

/// How long to wait for one reply before calling it missing.
const REPLY_WAIT_MS: u64 = 10_000;
/// A reply larger than this is refused by the runner (scenarios are small).
const REPLY_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Compare {
    Exact,
    Unordered,
    Approx,
    TypeOnly,
}

#[derive(Debug)]
struct Step {
    line_no: usize,
    text: String,
    args: Vec<Vec<u8>>,
    compare: Compare,
    replies: usize,
    sleep_ms: u64,
}

/// One difference found.
#[derive(Debug)]
pub struct Mismatch {
    pub line_no: usize,
    pub command: String,
    pub redis: Vec<u8>,
    pub terrarium: Vec<u8>,
}

#[derive(Debug)]
pub struct Report {
    pub file: String,
    pub steps: usize,
    pub mismatches: Vec<Mismatch>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.mismatches.len()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for m in &self.mismatches {
            let _ = writeln!(s, "{}:{}: {}", self.file, m.line_no, m.command);
            let _ = writeln!(s, "    redis:     {}", escape(&m.redis));
            let _ = writeln!(s, "    terrarium: {}", escape(&m.terrarium));
        }
        let _ = writeln!(s, "{}: {} commands, {} differ", self.file, self.steps, self.mismatches.len());
        s
    }
}

fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{:02x}", c);
            }
        }
    }
    s
}

fn parse_scenario(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let mut line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut compare = Compare::Exact;
        let mut replies = 1;
        let mut sleep_ms = 0;
        while let Some(rest) = line.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| format!("line {line_no}: unclosed marker"))?;
            let marker = &rest[..end];
            line = rest[end + 1..].trim_start();
            let mut words = marker.split_whitespace();
            match (words.next(), words.next()) {
                (Some("unordered"), None) => compare = Compare::Unordered,
                (Some("approx"), None) => compare = Compare::Approx,
                (Some("type"), None) => compare = Compare::TypeOnly,
                (Some("replies"), Some(n)) => {
                    replies = n.parse().map_err(|_| format!("line {line_no}: bad replies count"))?
                }
                (Some("sleep"), Some(n)) => sleep_ms = n.parse().map_err(|_| format!("line {line_no}: bad sleep"))?,
                _ => return Err(format!("line {line_no}: unknown marker [{marker}]")),
            }
        }
        let args = if line.is_empty() {
            Vec::new()
        } else {
            split_args(line.as_bytes()).ok_or_else(|| format!("line {line_no}: unbalanced quotes"))?
        };
        if args.is_empty() && sleep_ms == 0 {
            continue;
        }
        steps.push(Step { line_no, text: line.to_string(), args, compare, replies, sleep_ms });
    }
    Ok(steps)
}

/// A minimal client that keeps replies as raw bytes.
struct RawClient {
    stream: TcpStream,
    buf: BytesMut,
}

impl RawClient {
    async fn connect(addr: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(RawClient { stream, buf: BytesMut::new() })
    }

    async fn send(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        let mut out = Vec::new();
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).await.map_err(|e| e.to_string())
    }

    /// Reads one complete reply and returns its bytes (empty if none arrived in time).
    async fn read_reply(&mut self) -> Result<Vec<u8>, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(REPLY_WAIT_MS);
        loop {
            if let Some(n) = frame_len(&self.buf)? {
                let bytes = self.buf.split_to(n).to_vec();
                return Ok(bytes);
            }
            if self.buf.len() > REPLY_BYTES_MAX {
                return Err("reply too large".into());
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return Ok(Vec::new()),
                Ok(Ok(0)) => {
                    let rest = self.buf.split().to_vec();
                    return Ok(rest);
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.to_string()),
            }
        }
    }
}

/// The length of the first complete RESP2/RESP3 frame in `b`, if complete.
pub fn frame_len(b: &[u8]) -> Result<Option<usize>, String> {
    fn line_end(b: &[u8], from: usize) -> Option<usize> {
        b[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
    }
    fn parse(b: &[u8], at: usize) -> Result<Option<usize>, String> {
        if at >= b.len() {
            return Ok(None);
        }
        let Some(le) = line_end(b, at) else { return Ok(None) };
        let head = std::str::from_utf8(&b[at + 1..le]).map_err(|_| "bad header".to_string())?;
        let next = le + 2;
        match b[at] {
            b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Ok(Some(next)),
            b'$' | b'=' | b'!' => {
                let n: i64 = head.parse().map_err(|_| format!("bad bulk length {head}"))?;
                if n < 0 {
                    return Ok(Some(next));
                }
                let end = next + n as usize + 2;
                Ok(if b.len() >= end { Some(end) } else { None })
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = head.parse().map_err(|_| format!("bad aggregate length {head}"))?;
                if n < 0 {
                    return Ok(Some(next));
                }
                let items = if matches!(b[at], b'%' | b'|') { n * 2 } else { n };
                let mut pos = next;
                for _ in 0..items {
                    match parse(b, pos)? {
                        Some(p) => pos = p,
                        None => return Ok(None),
                    }
                }
                if b[at] == b'|' {
                    // An attribute precedes the real reply.
                    return parse(b, pos);
                }
                Ok(Some(pos))
            }
            c => Err(format!("unexpected reply type byte {:?}", c as char)),
        }
    }
    parse(b, 0)
}

/// Splits an aggregate reply into its header and its elements' bytes (pairs for maps).
fn children(b: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    if b.is_empty() || !matches!(b[0], b'*' | b'~' | b'%' | b'>') {
        return None;
    }
    let le = b.windows(2).position(|w| w == b"\r\n")?;
    let n: i64 = std::str::from_utf8(&b[1..le]).ok()?.parse().ok()?;
    if n < 0 {
        return None;
    }
    let per = if b[0] == b'%' { 2 } else { 1 };
    let mut pos = le + 2;
    let mut out = Vec::new();
    for _ in 0..n {
        let start = pos;
        for _ in 0..per {
            pos += frame_len(&b[pos..]).ok()??;
        }
        out.push(b[start..pos].to_vec());
    }
    Some((b[..le + 2].to_vec(), out))
}

/// Sorts the elements of every aggregate, at every depth, so that order no longer matters.
fn normalise_unordered(b: &[u8]) -> Vec<u8> {
    match children(b) {
        Some((head, kids)) => {
            let mut kids: Vec<Vec<u8>> = kids.iter().map(|k| normalise_unordered(k)).collect();
            kids.sort();
            let mut v = head;
            for k in kids {
                v.extend(k);
            }
            v
        }
        None => b.to_vec(),
    }
}

fn approx_equal(a: &[u8], b: &[u8]) -> bool {
    let int = |x: &[u8]| -> Option<i64> {
        let s = std::str::from_utf8(x).ok()?;
        s.strip_prefix(':')?.trim_end().parse().ok()
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= 1,
        _ => a == b,
    }
}

fn same(compare: Compare, redis: &[u8], terrarium: &[u8]) -> bool {
    match compare {
        Compare::Exact => redis == terrarium,
        Compare::Unordered => normalise_unordered(redis) == normalise_unordered(terrarium),
        Compare::Approx => approx_equal(redis, terrarium),
        Compare::TypeOnly => redis.first() == terrarium.first(),
    }
}

/// Runs one scenario text against both servers.
pub async fn run_text(name: &str, text: &str, terrarium: &str, redis: &str) -> Result<Report, String> {
    let steps = parse_scenario(text)?;
    let mut r = RawClient::connect(redis).await?;
    let mut t = RawClient::connect(terrarium).await?;
    for c in [&mut r, &mut t] {
        c.send(&[b"FLUSHALL".to_vec()]).await?;
        c.read_reply().await?;
    }
    let mut report = Report { file: name.to_string(), steps: steps.len(), mismatches: Vec::new() };
    for step in &steps {
        if step.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.sleep_ms)).await;
        }
        if step.args.is_empty() {
            continue;
        }
        r.send(&step.args).await?;
        t.send(&step.args).await?;
        for _ in 0..step.replies {
            let rr = r.read_reply().await?;
            let tr = t.read_reply().await?;
            // No reply from either side within the wait is a broken scenario, not a match.
            if !same(step.compare, &rr, &tr) || rr.is_empty() {
                report.mismatches.push(Mismatch {
                    line_no: step.line_no,
                    command: step.text.clone(),
                    redis: rr,
                    terrarium: tr,
                });
            }
        }
    }
    Ok(report)
}

/// Runs a scenario file against both servers.
pub async fn run_file(path: &Path, terrarium: &str, redis: &str) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    run_text(&path.display().to_string(), &text, terrarium, redis).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths() {
        assert_eq!(frame_len(b"+OK\r\n").unwrap(), Some(5));
        assert_eq!(frame_len(b"$3\r\nabc\r\n+X").unwrap(), Some(9));
        assert_eq!(frame_len(b"$3\r\nab").unwrap(), None);
        assert_eq!(frame_len(b"*2\r\n:1\r\n$-1\r\n").unwrap(), Some(13));
        assert_eq!(frame_len(b"%1\r\n+a\r\n:1\r\n").unwrap(), Some(12));
        assert_eq!(frame_len(b"*-1\r\n").unwrap(), Some(5));
    }

    #[test]
    fn unordered_compare() {
        assert!(same(Compare::Unordered, b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"));
        assert!(!same(Compare::Unordered, b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n"));
        assert!(same(Compare::Approx, b":10\r\n", b":9\r\n"));
        assert!(!same(Compare::Approx, b":10\r\n", b":8\r\n"));
    }

    #[test]
    fn scenario_markers() {
        let s = parse_scenario("# c\n\n[unordered] SMEMBERS s\n[sleep 5]\nSET \"a b\" c\n").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].compare, Compare::Unordered);
        assert_eq!(s[1].sleep_ms, 5);
        assert_eq!(s[2].args[1], b"a b");
        assert!(parse_scenario("[bogus] X").is_err());
    }
}
