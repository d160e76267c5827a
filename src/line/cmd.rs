//! The five commands of the line protocol, run against database 0 of the shared keyspace.

use bytes::Bytes;

use crate::kv::Value;
use crate::server::Shared;

/// Runs one line. Returns the reply bytes and whether to close the connection afterwards.
pub async fn execute(shared: &Shared, line: &[u8]) -> (Vec<u8>, bool) {
    let trimmed = trim_start(line);
    if trimmed.is_empty() {
        return (Vec::new(), false);
    }
    let (name, rest) = split_word(trimmed);
    let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
    let now = shared.now_ms();
    match upper.as_str() {
        "PING" => (b"+PONG\n".to_vec(), false),
        "QUIT" => (b"+BYE\n".to_vec(), true),
        "SET" => {
            let (key, value) = split_word(trim_start(rest));
            // The value is the rest of the line after one separating space, spaces included.
            if key.is_empty() || value.is_empty() {
                return (wrong_args("SET"), false);
            }
            let mut ks = shared.lock_keyspace(false).await.expect("waits, never busy");
            ks.set(0, Bytes::copy_from_slice(key), Value::Str(value.to_vec()), now);
            ks.notify(crate::kv::notify::STRING, "set", 0, key);
            crate::server::publish_events(shared, &mut ks);
            (b"+OK\n".to_vec(), false)
        }
        "GET" => {
            let Some(key) = single_arg(rest) else { return (wrong_args("GET"), false) };
            let mut ks = shared.lock_keyspace(false).await.expect("waits, never busy");
            match ks.get(0, key, now) {
                Some(Value::Str(v)) => {
                    let mut out = format!("${}\n", v.len()).into_bytes();
                    out.extend_from_slice(v);
                    out.push(b'\n');
                    (out, false)
                }
                Some(other) => {
                    (format!("-ERROR: key holds a {}, not a string\n", other.type_name()).into_bytes(), false)
                }
                None => (b"-ERROR: key not found\n".to_vec(), false),
            }
        }
        "DEL" => {
            let Some(key) = single_arg(rest) else { return (wrong_args("DEL"), false) };
            let mut ks = shared.lock_keyspace(false).await.expect("waits, never busy");
            let removed = ks.remove(0, key, now);
            if removed.is_some() {
                ks.notify(crate::kv::notify::GENERIC, "del", 0, key);
            }
            crate::server::publish_events(shared, &mut ks);
            match removed {
                Some(_) => (b"+OK\n".to_vec(), false),
                None => (b"-ERROR: key not found\n".to_vec(), false),
            }
        }
        _ => (format!("-ERROR: Unknown command: {}\n", upper).into_bytes(), false),
    }
}

fn wrong_args(cmd: &str) -> Vec<u8> {
    format!("-ERROR: wrong number of arguments for '{}'\n", cmd).into_bytes()
}

fn trim_start(s: &[u8]) -> &[u8] {
    let i = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    &s[i..]
}

/// Splits off the first word; the remainder starts after exactly one separator.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ' || b == b'\t') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// Exactly one word (trailing spaces tolerated).
fn single_arg(rest: &[u8]) -> Option<&[u8]> {
    let (w, tail) = split_word(trim_start(rest));
    if w.is_empty() || !trim_start(tail).is_empty() {
        None
    } else {
        Some(w)
    }
}
