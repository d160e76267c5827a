//! Decoding client requests: RESP multibulk arrays and inline commands.
//!
//! A request is either `*<count>\r\n` followed by `count` bulk strings (`$<len>\r\n<bytes>\r\n`),
//! or, when the first byte is anything but `*`, an *inline* command: one line of text split
//! on spaces with shell-like quoting, which is what `telnet`, `nc` and redis-benchmark's
//! PING_INLINE send.
//!
//! The decoder is sans-IO and keeps its place between calls, as Redis's `processMultibulkBuffer`
//! does: once the header of a 100 MB bulk has been read, later calls only wait for the payload to
//! be complete and never re-parse what came before. `Ok(None)` means "send more bytes".
//!
//! Every count and length is checked against [`crate::limits`] before anything is reserved. The
//! errors are Redis's own texts; after one, the connection replies and closes, as Redis does,
//! because the stream can no longer be trusted to be aligned on a command boundary.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::limits::{ARGV_PREALLOC_COUNT_MAX, BULK_LEN_BYTES_MAX, INLINE_LINE_BYTES_MAX, MULTIBULK_COUNT_MAX};

/// Arguments shorter than this are copied rather than sliced from the read buffer.
const SMALL_ARG_COPY_BYTES_MAX: usize = 4096;

/// A malformed request. The text follows `-ERR Protocol error: ` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        ProtocolError(e.to_string())
    }
}

/// Where the decoder is inside a multibulk request.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    /// Arguments still expected in the current multibulk, 0 when between requests.
    remaining: usize,
    /// The length of the bulk whose header has been read, if its payload is pending.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
}

impl RequestDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one request. Empty requests (`*0`, a blank inline line) are skipped silently,
    /// as Redis skips them.
    pub fn decode_request(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.remaining == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] == b'*' {
                    match self.multibulk_header(buf)? {
                        None => return Ok(None),
                        Some(0) => continue,
                        Some(n) => {
                            self.remaining = n;
                            self.args = Vec::with_capacity(n.min(ARGV_PREALLOC_COUNT_MAX));
                        }
                    }
                } else {
                    match inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                }
            }
            // Read bulk strings until the multibulk is complete or the buffer runs dry.
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => match bulk_header(buf)? {
                        None => return Ok(None),
                        Some(len) => {
                            self.bulk_len = Some(len);
                            len
                        }
                    },
                };
                if buf.len() < len + 2 {
                    // Reserve for the payload we know is coming, but never more than the
                    // limit already checked in `bulk_header`.
                    buf.reserve(len + 2 - buf.len());
                    return Ok(None);
                }
                // Small arguments are copied out of the read buffer. A zero-copy slice would
                // keep the whole buffer allocation alive for as long as the value is stored
                // (a 3-byte key pinning 16 KiB); large ones own most of their buffer anyway.
                let arg = if len < SMALL_ARG_COPY_BYTES_MAX {
                    let a = Bytes::copy_from_slice(&buf[..len]);
                    buf.advance(len);
                    a
                } else {
                    buf.split_to(len).freeze()
                };
                // Redis does not check that the two bytes after a bulk are CRLF; it skips them.
                buf.advance(2);
                self.bulk_len = None;
                self.args.push(arg);
                self.remaining -= 1;
            }
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    /// Parses `*<count>\r\n`. Returns the count, 0 for an empty or negative multibulk.
    fn multibulk_header(&mut self, buf: &mut BytesMut) -> Result<Option<usize>, ProtocolError> {
        let Some(cr) = find(buf, b'\r') else {
            if buf.len() > INLINE_LINE_BYTES_MAX {
                return Err(ProtocolError("too big mbulk count string".into()));
            }
            return Ok(None);
        };
        if cr > INLINE_LINE_BYTES_MAX {
            return Err(ProtocolError("too big mbulk count string".into()));
        }
        // The header must be followed by its '\n' before we consume it.
        if buf.len() < cr + 2 {
            return Ok(None);
        }
        let n = parse_i64(&buf[1..cr]);
        let n = match n {
            Some(n) if n <= MULTIBULK_COUNT_MAX => n,
            _ => return Err(ProtocolError("invalid multibulk length".into())),
        };
        buf.advance(cr + 2);
        Ok(Some(if n <= 0 { 0 } else { n as usize }))
    }
}

/// Parses `$<len>\r\n`, checking `len` against the bulk limit before anything is reserved.
fn bulk_header(buf: &mut BytesMut) -> Result<Option<usize>, ProtocolError> {
    let Some(cr) = find(buf, b'\r') else {
        if buf.len() > INLINE_LINE_BYTES_MAX {
            return Err(ProtocolError("too big bulk count string".into()));
        }
        return Ok(None);
    };
    if buf[0] != b'$' {
        return Err(ProtocolError(format!("expected '$', got '{}'", buf[0] as char)));
    }
    if buf.len() < cr + 2 {
        return Ok(None);
    }
    match parse_i64(&buf[1..cr]) {
        Some(n) if (0..=BULK_LEN_BYTES_MAX).contains(&n) => {
            buf.advance(cr + 2);
            Ok(Some(n as usize))
        }
        _ => Err(ProtocolError("invalid bulk length".into())),
    }
}

/// An inline command: one line, split like a shell would (Redis's `sdssplitargs`).
fn inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = find(buf, b'\n') else {
        if buf.len() > INLINE_LINE_BYTES_MAX {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(None);
    };
    let mut end = nl;
    if end > 0 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    let line = buf.split_to(nl + 1);
    match split_args(&line[..end]) {
        Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
        None => Err(ProtocolError("unbalanced quotes in request".into())),
    }
}

fn find(buf: &[u8], byte: u8) -> Option<usize> {
    buf.iter().position(|&b| b == byte)
}

/// Strict decimal parse as Redis's `string2ll`: optional '-', no '+', no spaces, no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i128 * -1) as i64)
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Splits a line into arguments: spaces separate, `"..."` takes C escapes (`\n`, `\xff`, ...),
/// `'...'` takes only `\'`. A closing quote must be followed by a space or the end of the line.
/// Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 3 < n && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3]) {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}
fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

/// The tokio-util adapter: it only forwards to the sans-IO decoder.
impl Decoder for RequestDecoder {
    type Item = Vec<Bytes>;
    type Error = ProtocolError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        self.decode_request(src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut out = vec![];
        loop {
            match d.decode_request(&mut buf) {
                Ok(Some(a)) => out.push(a),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_and_inline_pipelined() {
        let (reqs, err) = decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n  set a \"b c\"\r\n*0\r\n\r\n");
        assert!(err.is_none());
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(reqs[1], vec![Bytes::from("PING")]);
        assert_eq!(reqs[2], vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("b c")]);
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(r) = d.decode_request(&mut buf).unwrap() {
                got = Some(r);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
    }

    #[test]
    fn huge_headers_are_refused_before_allocating() {
        let (_, err) = decode_all(b"*1\r\n$1073741824\r\n");
        assert_eq!(err.unwrap().0, "invalid bulk length");
        let (_, err) = decode_all(b"*3000000000\r\n");
        assert_eq!(err.unwrap().0, "invalid multibulk length");
        // A count at the limit reserves only ARGV_PREALLOC_COUNT_MAX slots.
        let mut d = RequestDecoder::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n"[..]);
        assert!(d.decode_request(&mut buf).unwrap().is_none());
        assert!(d.args.capacity() <= ARGV_PREALLOC_COUNT_MAX);
    }

    #[test]
    fn malformed() {
        assert_eq!(decode_all(b"*1\r\nfoo\r\n").1.unwrap().0, "expected '$', got 'f'");
        assert_eq!(decode_all(b"*x\r\n").1.unwrap().0, "invalid multibulk length");
        assert_eq!(decode_all(b"*1\r\n$-1\r\n").1.unwrap().0, "invalid bulk length");
        assert_eq!(decode_all(b"SET a \"b\r\n").1.unwrap().0, "unbalanced quotes in request");
        let long = vec![b'a'; INLINE_LINE_BYTES_MAX + 1];
        assert_eq!(decode_all(&long).1.unwrap().0, "too big inline request");
        let mut long = b"*1\r\n$".to_vec();
        long.extend(vec![b'1'; INLINE_LINE_BYTES_MAX + 1]);
        assert_eq!(decode_all(&long).1.unwrap().0, "too big bulk count string");
    }

    #[test]
    fn split_args_quoting() {
        assert_eq!(
            split_args(b"a \"\\x41\\n\" 'it\\'s'").unwrap(),
            vec![b"a".to_vec(), b"A\n".to_vec(), b"it's".to_vec()]
        );
        assert!(split_args(b"\"a\"b").is_none());
        assert!(split_args(b"'abc").is_none());
        assert_eq!(split_args(b"   ").unwrap().len(), 0);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }
}
