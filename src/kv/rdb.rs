//! Redis's RDB object encoding, as DUMP writes it and RESTORE reads it.
//!
//! ```text
//!  DUMP payload
//!  ┌───────────┬──────────────────────────┬──────────────┬────────────────────┐
//!  │ type byte │ the object (below)       │ RDB version  │ CRC-64 (Jones)     │
//!  │           │                          │ 2 bytes, LE  │ 8 bytes, LE        │
//!  └───────────┴──────────────────────────┴──────────────┴────────────────────┘
//! ```
//!
//! An RDB string is a length and the bytes. A length's first two bits choose its size (6 bits,
//! 14 bits, then a 32- or 64-bit big-endian number); first bits `11` instead mark a special
//! string: an integer in 1, 2 or 4 little-endian bytes, or LZF-compressed bytes.
//!
//! What terrarium writes: the plain types every Redis reads (`STRING`, `LIST`, `SET`, `ZSET_2`,
//! `HASH`: a count, then strings, and 8-byte scores), small integers in the integer form as
//! Redis writes them, nothing compressed. A DUMP taken here therefore RESTOREs on a real Redis
//! 7 (a test checks), but its bytes differ from Redis's for collections, which Redis 7.0 writes
//! in their compact encodings (listpacks, intsets, quicklists) and LZF-compresses when that
//! saves space. What terrarium reads: those compact encodings too, so a DUMP taken on a real
//! Redis restores here. Every length read is checked against the bytes that remain before
//! anything is allocated; anything inconsistent is `BadPayload` ("Bad data format").

use std::collections::VecDeque;

use bytes::Bytes;

use crate::kv::value::{HashValue, SetValue, Value};
use crate::kv::zset::ZSet;

/// The RDB version Redis 7.0 writes and reads.
pub const RDB_VERSION: u16 = 10;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;

/// A quicklist node's container: a listpack, or one plain (large) element.
const QUICKLIST_NODE_PLAIN: usize = 1;

#[derive(Debug, PartialEq)]
pub struct BadPayload;

/// CRC-64 with the Jones polynomial, reflected, as Redis's `crc64`.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    const POLY: u64 = 0x95AC_9329_AC4B_C9B5;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
        }
    }
    crc
}

/// Appends the version and checksum that close a DUMP payload.
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// Checks a payload's version and checksum (Redis's `verifyDumpPayload`) and returns its body.
pub fn unseal(payload: &[u8]) -> Result<&[u8], BadPayload> {
    if payload.len() < 10 {
        return Err(BadPayload);
    }
    let n = payload.len();
    let version = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    let crc = u64::from_le_bytes(payload[n - 8..].try_into().map_err(|_| BadPayload)?);
    if version > RDB_VERSION || crc64(0, &payload[..n - 8]) != crc {
        return Err(BadPayload);
    }
    Ok(&payload[..n - 10])
}

pub fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Writes a string as Redis's `rdbSaveRawString` does, minus compression: a string of at most
/// 11 bytes that is the canonical text of a 32-bit integer goes in the integer form.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(v) = crate::resp::codec::parse_i64(s).filter(|v| v.to_string().as_bytes() == s) {
            if let Ok(v) = i8::try_from(v) {
                out.push(0xC0);
                out.push(v as u8);
                return;
            }
            if let Ok(v) = i16::try_from(v) {
                out.push(0xC1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i32::try_from(v) {
                out.push(0xC2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// A DUMP payload for `value`; `None` for values RDB has no plain type for (Bloom filters,
/// which are a module type in Redis).
pub fn dump(value: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match value {
        Value::Str(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s);
        }
        Value::List(l) => {
            out.push(TYPE_LIST);
            put_len(&mut out, l.len());
            l.iter().for_each(|e| put_string(&mut out, e));
        }
        Value::Set(s) => {
            out.push(TYPE_SET);
            put_len(&mut out, s.len());
            s.ordered().iter().for_each(|m| put_string(&mut out, m));
        }
        Value::ZSet(z) => {
            out.push(TYPE_ZSET_2);
            put_len(&mut out, z.len());
            for (m, score) in z.iter() {
                put_string(&mut out, m);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Hash(h) => {
            out.push(TYPE_HASH);
            put_len(&mut out, h.len());
            for (f, v) in h.iter() {
                put_string(&mut out, f);
                put_string(&mut out, v);
            }
        }
        Value::Bloom(_) => return None,
    }
    Some(seal(out))
}

/// Reads the object in a DUMP payload (already unsealed).
pub fn restore(body: &[u8]) -> Result<Value, BadPayload> {
    let mut r = Reader::new(body);
    let t = r.byte()?;
    let value = match t {
        TYPE_STRING => Value::Str(r.string()?),
        TYPE_LIST => {
            let n = r.count()?;
            let mut l = VecDeque::with_capacity(n);
            for _ in 0..n {
                l.push_back(Bytes::from(r.string()?));
            }
            Value::List(l)
        }
        TYPE_SET => {
            let n = r.count()?;
            let mut s = SetValue::new();
            for _ in 0..n {
                if !s.insert(Bytes::from(r.string()?)) {
                    return Err(BadPayload); // a duplicate member
                }
            }
            Value::Set(s)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count()?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let m = r.string()?;
                let score = if t == TYPE_ZSET_2 { f64::from_le_bytes(r.array()?) } else { r.text_double()? };
                if score.is_nan() || z.insert(&m, score).is_some() {
                    return Err(BadPayload);
                }
            }
            Value::ZSet(Box::new(z))
        }
        TYPE_HASH => {
            let n = r.count()?;
            let mut h = HashValue::default();
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                if h.set(Bytes::from(f), Bytes::from(v)).is_some() {
                    return Err(BadPayload);
                }
            }
            Value::Hash(h)
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let mut s = SetValue::new();
            for m in intset(&blob)? {
                if !s.insert(Bytes::from(m.to_string())) {
                    return Err(BadPayload);
                }
            }
            Value::Set(s)
        }
        TYPE_LIST_ZIPLIST => Value::List(ziplist(&r.string()?)?.into_iter().map(Bytes::from).collect()),
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.count()?;
            let mut l = VecDeque::new();
            for _ in 0..nodes {
                let container = if t == TYPE_LIST_QUICKLIST_2 { r.count()? } else { 2 };
                let blob = r.string()?;
                if container == QUICKLIST_NODE_PLAIN {
                    l.push_back(Bytes::from(blob));
                    continue;
                }
                let items = if t == TYPE_LIST_QUICKLIST_2 { listpack(&blob)? } else { ziplist(&blob)? };
                if items.is_empty() {
                    return Err(BadPayload); // Redis refuses empty quicklist nodes
                }
                l.extend(items.into_iter().map(Bytes::from));
            }
            Value::List(l)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = r.string()?;
            let items = if t == TYPE_HASH_LISTPACK { listpack(&blob)? } else { ziplist(&blob)? };
            if items.len() % 2 != 0 || items.is_empty() {
                return Err(BadPayload);
            }
            let mut h = HashValue::default();
            let mut it = items.into_iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                if h.set(Bytes::from(f), Bytes::from(v)).is_some() {
                    return Err(BadPayload);
                }
            }
            Value::Hash(h)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let items = if t == TYPE_ZSET_LISTPACK { listpack(&blob)? } else { ziplist(&blob)? };
            if items.len() % 2 != 0 || items.is_empty() {
                return Err(BadPayload);
            }
            let mut z = ZSet::new();
            let mut it = items.into_iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                let score = std::str::from_utf8(&s).ok().and_then(|s| s.parse::<f64>().ok()).ok_or(BadPayload)?;
                if score.is_nan() || z.insert(&m, score).is_some() {
                    return Err(BadPayload);
                }
            }
            Value::ZSet(Box::new(z))
        }
        _ => return Err(BadPayload),
    };
    let empty = match &value {
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
        _ => false,
    };
    // Redis never holds an empty collection, and refuses to load one.
    if empty {
        return Err(BadPayload);
    }
    Ok(value)
}

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
    pub fn byte(&mut self) -> Result<u8, BadPayload> {
        let b = *self.buf.get(self.pos).ok_or(BadPayload)?;
        self.pos += 1;
        Ok(b)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], BadPayload> {
        let end = self.pos.checked_add(n).ok_or(BadPayload)?;
        let s = self.buf.get(self.pos..end).ok_or(BadPayload)?;
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], BadPayload> {
        self.take(N)?.try_into().map_err(|_| BadPayload)
    }
    /// A length, and whether it is a special-string marker instead.
    fn len(&mut self) -> Result<(usize, bool), BadPayload> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => ((first & 0x3F) as usize, false),
            1 => ((((first & 0x3F) as usize) << 8) | self.byte()? as usize, false),
            2 => match first {
                0x80 => (u32::from_be_bytes(self.array()?) as usize, false),
                0x81 => (usize::try_from(u64::from_be_bytes(self.array()?)).map_err(|_| BadPayload)?, false),
                _ => return Err(BadPayload),
            },
            _ => ((first & 0x3F) as usize, true),
        })
    }
    /// An element count. Each element takes at least one byte, so a count larger than what is
    /// left is refused before any collection is sized by it.
    fn count(&mut self) -> Result<usize, BadPayload> {
        match self.len()? {
            (n, false) if n <= self.buf.len() - self.pos => Ok(n),
            _ => Err(BadPayload),
        }
    }
    pub fn string(&mut self) -> Result<Vec<u8>, BadPayload> {
        let (n, special) = self.len()?;
        if !special {
            return Ok(self.take(n)?.to_vec());
        }
        match n {
            0 => Ok((self.byte()? as i8).to_string().into_bytes()),
            1 => Ok(i16::from_le_bytes(self.array()?).to_string().into_bytes()),
            2 => Ok(i32::from_le_bytes(self.array()?).to_string().into_bytes()),
            3 => {
                let (clen, _) = self.len()?;
                let (ulen, _) = self.len()?;
                let data = self.take(clen)?;
                lzf_decompress(data, ulen)
            }
            _ => Err(BadPayload),
        }
    }
    /// The old ZSET type's score: a length byte and ASCII, with 253/254/255 for nan/+inf/-inf.
    fn text_double(&mut self) -> Result<f64, BadPayload> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let t = self.take(n as usize)?;
                std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).ok_or(BadPayload)
            }
        }
    }
}

/// LZF decompression (Redis compresses RDB strings with liblzf). `expected` bounds the output:
/// a back-reference before the start or past the end is a bad payload, never a panic.
pub fn lzf_decompress(input: &[u8], expected: usize) -> Result<Vec<u8>, BadPayload> {
    // LZF expands at most about 32 times per input byte (a 2-byte back-reference of 264).
    if expected > input.len().saturating_mul(264) + 264 {
        return Err(BadPayload);
    }
    let mut out: Vec<u8> = Vec::with_capacity(expected);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n).ok_or(BadPayload)?;
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *input.get(i).ok_or(BadPayload)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1F) << 8) + *input.get(i).ok_or(BadPayload)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(back).ok_or(BadPayload)?;
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > expected {
            return Err(BadPayload);
        }
    }
    if out.len() != expected {
        return Err(BadPayload);
    }
    Ok(out)
}

/// An intset: encoding width (2, 4 or 8), count, then sorted little-endian integers.
fn intset(blob: &[u8]) -> Result<Vec<i64>, BadPayload> {
    if blob.len() < 8 {
        return Err(BadPayload);
    }
    let width = u32::from_le_bytes(blob[0..4].try_into().map_err(|_| BadPayload)?) as usize;
    let n = u32::from_le_bytes(blob[4..8].try_into().map_err(|_| BadPayload)?) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + n.checked_mul(width).ok_or(BadPayload)? {
        return Err(BadPayload);
    }
    let mut out = Vec::with_capacity(n);
    for c in blob[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes(c.try_into().map_err(|_| BadPayload)?) as i64,
            4 => i32::from_le_bytes(c.try_into().map_err(|_| BadPayload)?) as i64,
            _ => i64::from_le_bytes(c.try_into().map_err(|_| BadPayload)?),
        };
        if out.last().is_some_and(|&p| p >= v) {
            return Err(BadPayload); // an intset is strictly ascending
        }
        out.push(v);
    }
    Ok(out)
}

/// A listpack's elements as text (integers rendered in decimal, as Redis hands them out).
///
/// ```text
///  total bytes (u32 LE) │ count (u16 LE) │ entry … │ 0xFF
///  entry = encoding+data │ back-length (1–5 bytes, the entry's size, for reverse walks)
/// ```
fn listpack(blob: &[u8]) -> Result<Vec<Vec<u8>>, BadPayload> {
    if blob.len() < 7 || u32::from_le_bytes(blob[0..4].try_into().map_err(|_| BadPayload)?) as usize != blob.len() {
        return Err(BadPayload);
    }
    let mut r = Reader::new(&blob[6..]);
    let mut out = Vec::new();
    loop {
        let start = r.pos;
        let b = r.byte()?;
        if b == 0xFF {
            break;
        }
        let item: Vec<u8> = if b & 0x80 == 0 {
            (b & 0x7F).to_string().into_bytes()
        } else if b & 0xC0 == 0x80 {
            r.take((b & 0x3F) as usize)?.to_vec()
        } else if b & 0xE0 == 0xC0 {
            let v = (((b & 0x1F) as u16) << 8 | r.byte()? as u16) as i64;
            // 13-bit two's complement.
            (if v >= 1 << 12 { v - (1 << 13) } else { v }).to_string().into_bytes()
        } else if b & 0xF0 == 0xE0 {
            let n = ((b & 0x0F) as usize) << 8 | r.byte()? as usize;
            r.take(n)?.to_vec()
        } else {
            match b {
                0xF0 => {
                    let n = u32::from_le_bytes(r.array()?) as usize;
                    r.take(n)?.to_vec()
                }
                0xF1 => i16::from_le_bytes(r.array()?).to_string().into_bytes(),
                0xF2 => {
                    let t: [u8; 3] = r.array()?;
                    let v = i32::from_le_bytes([0, t[0], t[1], t[2]]) >> 8;
                    v.to_string().into_bytes()
                }
                0xF3 => i32::from_le_bytes(r.array()?).to_string().into_bytes(),
                0xF4 => i64::from_le_bytes(r.array()?).to_string().into_bytes(),
                _ => return Err(BadPayload),
            }
        };
        // The back-length: 7 bits per byte, the last byte (lowest address) without 0x80... it
        // encodes the entry size; skip it after checking that it is as long as it must be.
        let size = r.pos - start;
        let backlen_bytes = match size {
            0..=127 => 1,
            128..=16383 => 2,
            16384..=2097151 => 3,
            2097152..=268435455 => 4,
            _ => 5,
        };
        r.take(backlen_bytes)?;
        out.push(item);
    }
    let declared = u16::from_le_bytes([blob[4], blob[5]]);
    if declared != u16::MAX && declared as usize != out.len() {
        return Err(BadPayload);
    }
    if !r.at_end() {
        return Err(BadPayload);
    }
    Ok(out)
}

/// A ziplist's elements (the compact encoding before listpacks; still in older dumps).
///
/// ```text
///  zlbytes (u32) │ zltail (u32) │ zllen (u16) │ entry … │ 0xFF
///  entry = prevlen (1 byte, or 0xFE + u32) │ encoding │ data
/// ```
fn ziplist(blob: &[u8]) -> Result<Vec<Vec<u8>>, BadPayload> {
    if blob.len() < 11 || u32::from_le_bytes(blob[0..4].try_into().map_err(|_| BadPayload)?) as usize != blob.len() {
        return Err(BadPayload);
    }
    let mut r = Reader::new(&blob[10..]);
    let mut out = Vec::new();
    loop {
        let p = r.byte()?;
        if p == 0xFF {
            break;
        }
        if p == 0xFE {
            r.take(4)?;
        }
        let enc = r.byte()?;
        let item = match enc >> 6 {
            0 => r.take((enc & 0x3F) as usize)?.to_vec(),
            1 => {
                let n = ((enc & 0x3F) as usize) << 8 | r.byte()? as usize;
                r.take(n)?.to_vec()
            }
            2 => {
                let n = u32::from_be_bytes(r.array()?) as usize;
                r.take(n)?.to_vec()
            }
            _ => match enc {
                0xC0 => i16::from_le_bytes(r.array()?).to_string().into_bytes(),
                0xD0 => i32::from_le_bytes(r.array()?).to_string().into_bytes(),
                0xE0 => i64::from_le_bytes(r.array()?).to_string().into_bytes(),
                0xF0 => {
                    let t: [u8; 3] = r.array()?;
                    (i32::from_le_bytes([0, t[0], t[1], t[2]]) >> 8).to_string().into_bytes()
                }
                0xFE => (r.byte()? as i8).to_string().into_bytes(),
                0xF1..=0xFD => ((enc & 0x0F) as i64 - 1).to_string().into_bytes(),
                _ => return Err(BadPayload),
            },
        };
        out.push(item);
    }
    if !r.at_end() {
        return Err(BadPayload);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strings_dump_as_redis_dumps_them() {
        // Captured from Redis 7.0.15: DUMP of "hello", of 123 and of 100000.
        assert_eq!(dump(&Value::Str(b"hello".to_vec())).unwrap(), b"\x00\x05hello\n\x00cr\xdfve4 \n");
        assert_eq!(dump(&Value::Str(b"123".to_vec())).unwrap(), b"\x00\xc0{\n\x00H\xe2S\xe1\x00zg\xb9");
        assert_eq!(dump(&Value::Str(b"100000".to_vec())).unwrap(), b"\x00\xc2\xa0\x86\x01\x00\n\x00\xf1$\x03Po/\xa6t");
    }

    #[test]
    fn every_type_round_trips_and_damage_is_refused() {
        let mut h = HashValue::default();
        h.set(Bytes::from_static(b"f"), Bytes::from_static(b"v"));
        let mut z = ZSet::new();
        z.insert(b"m", 1.5);
        let values = [
            Value::List(["a", "1", "-70000"].iter().map(|s| Bytes::from(*s)).collect()),
            Value::Set(SetValue::from_members([Bytes::from_static(b"x"), Bytes::from_static(b"7")])),
            Value::Hash(h),
            Value::ZSet(Box::new(z)),
        ];
        for v in values {
            let payload = dump(&v).unwrap();
            let back = restore(unseal(&payload).unwrap()).unwrap();
            assert_eq!(dump(&back).unwrap(), payload);
            let mut bad = payload.clone();
            bad[1] ^= 1;
            assert_eq!(unseal(&bad), Err(BadPayload));
            for cut in 1..payload.len() - 10 {
                let body = &payload[..cut];
                let _ = restore(body); // never panics
            }
        }
    }

    #[test]
    fn compact_encodings_from_redis_load() {
        // A listpack of "a", 5 and -3000 (7-bit uint, 6-bit string, 13-bit int).
        let mut lp = vec![
            0,
            0,
            0,
            0,
            3,
            0,
            0x81,
            b'a',
            2,
            5,
            1,
            0xC0 | (((-3000i16 as u16) >> 8) as u8 & 0x1F),
            (-3000i16 as u16) as u8,
            2,
            0xFF,
        ];
        let n = lp.len() as u32;
        lp[0..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(listpack(&lp).unwrap(), vec![b"a".to_vec(), b"5".to_vec(), b"-3000".to_vec()]);
        // An intset of 16-bit integers.
        let is = [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0xFF, 0x7F];
        assert_eq!(intset(&is).unwrap(), vec![1, 32767]);
        assert_eq!(intset(&[2, 0, 0, 0, 9, 0, 0, 0]), Err(BadPayload));
        // Whole payloads from Redis 7.0.15: RPUSH l a 5 -3000 (a quicklist of one listpack) and
        // SADD s 1 32767 (an intset).
        let list = b"\x12\x01\x02\x0f\x0f\x00\x00\x00\x03\x00\x81a\x02\x05\x01\xd4H\x02\xff\n\x00\xdf\x18\xd4~\x96O*u";
        match restore(unseal(list).unwrap()).unwrap() {
            Value::List(l) => assert_eq!(l, ["a", "5", "-3000"].map(Bytes::from)),
            _ => panic!("a list"),
        }
        let set = b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\xff\x7f\n\x00\xf5\x10\xf9y3\x0e,(";
        match restore(unseal(set).unwrap()).unwrap() {
            Value::Set(s) => assert_eq!(s.ordered(), ["1", "32767"].map(Bytes::from).to_vec()),
            _ => panic!("a set"),
        }
    }
}
