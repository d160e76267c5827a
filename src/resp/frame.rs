//! A reply, and its rendering as RESP2 or RESP3 bytes.
//!
//! ```text
//!  Frame                 RESP3                      RESP2 (what Redis sends to a RESP2 client)
//!  Simple("OK")          +OK\r\n                    +OK\r\n
//!  Error("ERR x")        -ERR x\r\n                 -ERR x\r\n
//!  Integer(7)            :7\r\n                     :7\r\n
//!  Bulk(b"hi")           $2\r\nhi\r\n               $2\r\nhi\r\n
//!  Null                  _\r\n                      $-1\r\n
//!  NullArray             _\r\n                      *-1\r\n
//!  Array([..])           *N\r\n...                  *N\r\n...
//!  Map([(k,v)..])        %N\r\nk v ...              *2N\r\nk v ...     (flattened)
//!  Set([..])             ~N\r\n...                  *N\r\n...
//!  Double(1.5)           ,1.5\r\n                   $3\r\n1.5\r\n      (%.17g, as Redis 7.0)
//!  Boolean(true)         #t\r\n                     :1\r\n
//!  Verbatim("txt", s)    =N\r\ntxt:s\r\n            $N\r\ns\r\n
//!  Push([..])            >N\r\n...                  *N\r\n...
//! ```
//!
//! Two nulls exist because RESP2 has two: a missing string is `$-1` and a missing array
//! (BLPOP timing out, EXEC aborted by WATCH) is `*-1`. RESP3 folds both into `_`.

use bytes::{BufMut, Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    Null,
    NullArray,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Double(f64),
    /// A double whose text is already formatted, for replies Redis formats its own way
    /// (`addReplyHumanLongDouble`: GEOPOS coordinates). RESP3 `,text`, RESP2 a bulk string.
    DoubleText(String),
    Boolean(bool),
    Verbatim(&'static str, Bytes),
    BigNumber(String),
    Push(Vec<Frame>),
    /// Several replies to one command, written one after the other (SUBSCRIBE a b answers
    /// twice). Never nested inside another frame.
    Sequence(Vec<Frame>),
}

impl Frame {
    pub fn ok() -> Frame {
        Frame::Simple("OK".into())
    }
    pub fn bulk(b: impl Into<Bytes>) -> Frame {
        Frame::Bulk(b.into())
    }
    pub fn bulk_str(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }
    /// A bulk string holding the decimal form of an integer (LPOS-style replies in strings).
    pub fn bulk_int(n: i64) -> Frame {
        Frame::Bulk(Bytes::from(n.to_string()))
    }
    pub fn error(msg: impl Into<String>) -> Frame {
        Frame::Error(msg.into())
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }
    /// An array of bulk strings.
    pub fn bulks<I, B>(items: I) -> Frame
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Frame::Array(items.into_iter().map(|b| Frame::Bulk(b.into())).collect())
    }

    /// Appends this frame, rendered for protocol `resp` (2 or 3), to `out`.
    pub fn encode(&self, resp3: bool, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(out, b'+', s.as_bytes()),
            Frame::Error(s) => {
                // A reply line must not contain CR or LF; Redis replaces them with spaces
                // when an error text is built from user input, and so do we.
                if s.bytes().any(|c| c == b'\r' || c == b'\n') {
                    let clean: String = s.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
                    line(out, b'-', clean.as_bytes())
                } else {
                    line(out, b'-', s.as_bytes())
                }
            }
            Frame::Integer(n) => {
                out.put_u8(b':');
                put_int(out, *n);
                out.put_slice(b"\r\n");
            }
            Frame::Bulk(b) => bulk(out, b),
            Frame::Null => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Frame::NullArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Frame::Array(items) => {
                header(out, b'*', items.len());
                for f in items {
                    f.encode(resp3, out);
                }
            }
            Frame::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Frame::Set(items) => {
                header(out, if resp3 { b'~' } else { b'*' }, items.len());
                for f in items {
                    f.encode(resp3, out);
                }
            }
            Frame::Push(items) => {
                header(out, if resp3 { b'>' } else { b'*' }, items.len());
                for f in items {
                    f.encode(resp3, out);
                }
            }
            Frame::Double(d) => {
                let text = fmt_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Frame::DoubleText(text) => {
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Frame::Boolean(b) => {
                if resp3 {
                    out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Frame::Verbatim(fmt, body) => {
                if resp3 {
                    header(out, b'=', body.len() + 4);
                    out.put_slice(fmt.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(body);
                    out.put_slice(b"\r\n");
                } else {
                    bulk(out, body);
                }
            }
            Frame::Sequence(items) => {
                for f in items {
                    f.encode(resp3, out);
                }
            }
            Frame::BigNumber(n) => {
                if resp3 {
                    line(out, b'(', n.as_bytes());
                } else {
                    bulk(out, n.as_bytes());
                }
            }
        }
    }

    /// Convenience for tests and the diff tool.
    pub fn to_bytes(&self, resp3: bool) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(resp3, &mut out);
        out
    }
}

fn line(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(tag);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, tag: u8, n: usize) {
    out.put_u8(tag);
    put_int(out, n as i64);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 16);
    header(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_int(out: &mut BytesMut, n: i64) {
    let mut buf = itoa_buf(n);
    out.put_slice(buf.as_bytes_mut());
}

/// Formats an integer without allocating.
struct IntBuf {
    bytes: [u8; 20],
    start: usize,
}
impl IntBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}
fn itoa_buf(n: i64) -> IntBuf {
    let mut bytes = [0u8; 20];
    let mut i = bytes.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        bytes[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        bytes[i] = b'-';
    }
    IntBuf { bytes, start: i }
}

/// A double as Redis 7.0 replies it: `%.17g`, with `inf`/`-inf` spelled out.
pub fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    fmt_g(d, 17)
}

/// C's `%.{precision}g`: the shorter of fixed and exponent notation, trailing zeros removed.
pub fn fmt_g(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let p = precision.max(1);
    // Rust's `{:e}` gives the correctly rounded digits; C decides the notation from the
    // exponent *after* rounding to `p` significant digits, so we take the exponent from there.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= p as i32 {
        let mut m = mantissa.to_string();
        if m.contains('.') {
            while m.ends_with('0') {
                m.pop();
            }
            if m.ends_with('.') {
                m.pop();
            }
        }
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let mut s = format!("{:.*}", decimals, d);
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r2(f: Frame) -> Vec<u8> {
        f.to_bytes(false).to_vec()
    }
    fn r3(f: Frame) -> Vec<u8> {
        f.to_bytes(true).to_vec()
    }

    #[test]
    fn doubles_format_like_redis_7_0() {
        assert_eq!(fmt_double(1.1), "1.1000000000000001");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(0.5), "0.5");
        assert_eq!(fmt_double(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(-2.5e-7), "-2.4999999999999999e-07");
        assert_eq!(fmt_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_g(0.0001, 17), "0.0001");
        assert_eq!(fmt_g(100.0, 17), "100");
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        assert_eq!(r2(Frame::Null), b"$-1\r\n");
        assert_eq!(r2(Frame::NullArray), b"*-1\r\n");
        assert_eq!(r3(Frame::Null), b"_\r\n");
        let m = Frame::Map(vec![(Frame::bulk_str("a"), Frame::Integer(1))]);
        assert_eq!(r2(m.clone()), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(r3(m), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(r2(Frame::Double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(r3(Frame::Double(1.5)), b",1.5\r\n");
        assert_eq!(r3(Frame::Verbatim("txt", Bytes::from_static(b"hi"))), b"=6\r\ntxt:hi\r\n");
        assert_eq!(r2(Frame::Integer(-12)), b":-12\r\n");
        assert_eq!(r2(Frame::Integer(i64::MIN)), b":-9223372036854775808\r\n");
        assert_eq!(r2(Frame::Error("ERR a\r\nb".into())), b"-ERR a  b\r\n");
    }
}
