//! The FUNCTION DUMP payload, in Redis's own DUMP format, so a dump taken here restores on a real
//! Redis 7 and the other way round.
//!
//! ```text
//!  ┌──────┬───────────────────────────┬─────┬──────────────┬────────────────────┐
//!  │ 0xF5 │ library code (RDB string) │ ... │ RDB version  │ CRC-64 (Jones)     │
//!  │      │ one FUNCTION2 record each │     │ 2 bytes, LE  │ 8 bytes, LE        │
//!  └──────┴───────────────────────────┴─────┴──────────────┴────────────────────┘
//! ```
//!
//! An RDB string is a length (6, 14, 32 or 64 bits, by its first two bits) and the bytes, or an
//! LZF-compressed form (`0xC3`, compressed length, original length, data). Redis compresses long
//! strings; terrarium writes them uncompressed, which every RDB reader accepts, and reads both.

/// `RDB_OPCODE_FUNCTION2`: one library, stored as its code.
const OPCODE_FUNCTION2: u8 = 245;
/// The RDB version Redis 7.0 writes and reads.
const RDB_VERSION: u16 = 10;

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

fn put_len(out: &mut Vec<u8>, len: usize) {
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

pub fn encode(codes: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_len(&mut out, code.len());
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[derive(Debug, PartialEq)]
pub struct BadPayload;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, BadPayload> {
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
    /// A length, or `Err(Some(enc))` style special encodings reported through `special`.
    fn len(&mut self) -> Result<(usize, bool), BadPayload> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => ((first & 0x3F) as usize, false),
            1 => ((((first & 0x3F) as usize) << 8) | self.byte()? as usize, false),
            2 => match first {
                0x80 => (u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| BadPayload)?) as usize, false),
                0x81 => {
                    let n = u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| BadPayload)?);
                    (usize::try_from(n).map_err(|_| BadPayload)?, false)
                }
                _ => return Err(BadPayload),
            },
            _ => ((first & 0x3F) as usize, true),
        })
    }
    fn string(&mut self) -> Result<Vec<u8>, BadPayload> {
        let (n, special) = self.len()?;
        if !special {
            // Every length is checked against what is left before anything is allocated.
            return Ok(self.take(n)?.to_vec());
        }
        match n {
            0 => Ok((self.byte()? as i8).to_string().into_bytes()),
            1 => Ok(i16::from_le_bytes(self.take(2)?.try_into().map_err(|_| BadPayload)?).to_string().into_bytes()),
            2 => Ok(i32::from_le_bytes(self.take(4)?.try_into().map_err(|_| BadPayload)?).to_string().into_bytes()),
            3 => {
                let (clen, _) = self.len()?;
                let (ulen, _) = self.len()?;
                let data = self.take(clen)?;
                lzf_decompress(data, ulen)
            }
            _ => Err(BadPayload),
        }
    }
}

/// LZF decompression (Redis compresses RDB strings with liblzf). `expected` bounds the output:
/// a back-reference before the start or past the end is a bad payload, never a panic.
pub fn lzf_decompress(input: &[u8], expected: usize) -> Result<Vec<u8>, BadPayload> {
    if expected > input.len().saturating_mul(256) + 256 {
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

/// The library codes in a FUNCTION DUMP payload, after checking its version and checksum.
pub fn decode(payload: &[u8]) -> Result<Vec<Vec<u8>>, BadPayload> {
    if payload.len() < 10 {
        return Err(BadPayload);
    }
    let (body, trailer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([trailer[0], trailer[1]]);
    let crc = u64::from_le_bytes(trailer[2..10].try_into().map_err(|_| BadPayload)?);
    if version > RDB_VERSION || crc64(0, &payload[..payload.len() - 8]) != crc {
        return Err(BadPayload);
    }
    let mut r = Reader { buf: body, pos: 0 };
    let mut codes = Vec::new();
    while r.pos < body.len() {
        if r.byte()? != OPCODE_FUNCTION2 {
            return Err(BadPayload);
        }
        codes.push(r.string()?);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        // FUNCTION DUMP of an empty Redis 7.0.
        assert_eq!(encode(&[]), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }

    #[test]
    fn roundtrip_and_lzf_from_redis() {
        let code: &[u8] = b"#!lua name=lib1\nredis.register_function('f1', function() return 1 end)";
        assert_eq!(decode(&encode(&[code])).unwrap(), vec![code.to_vec()]);
        // A literal run and a back-reference: "abcabcabc".
        assert_eq!(lzf_decompress(&[2, b'a', b'b', b'c', 0x80, 2], 9).unwrap(), b"abcabcabc");
        assert_eq!(lzf_decompress(&[0x20, 0], 3), Err(BadPayload));
        assert_eq!(decode(b"garbage"), Err(BadPayload));
    }
}
