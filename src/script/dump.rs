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

pub use crate::kv::rdb::BadPayload;
use crate::kv::rdb::{put_len, seal, unseal, Reader};

/// `RDB_OPCODE_FUNCTION2`: one library, stored as its code.
const OPCODE_FUNCTION2: u8 = 245;

pub fn encode(codes: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_len(&mut out, code.len());
        out.extend_from_slice(code);
    }
    seal(out)
}

/// The library codes in a FUNCTION DUMP payload, after checking its version and checksum.
pub fn decode(payload: &[u8]) -> Result<Vec<Vec<u8>>, BadPayload> {
    let body = unseal(payload)?;
    let mut r = Reader::new(body);
    let mut codes = Vec::new();
    while !r.at_end() {
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
    fn empty_dump_matches_redis() {
        // FUNCTION DUMP of an empty Redis 7.0.
        assert_eq!(encode(&[]), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }

    #[test]
    fn roundtrip_and_lzf_from_redis() {
        let code: &[u8] = b"#!lua name=lib1\nredis.register_function('f1', function() return 1 end)";
        assert_eq!(decode(&encode(&[code])).unwrap(), vec![code.to_vec()]);
        // A literal run and a back-reference: "abcabcabc".
        use crate::kv::rdb::lzf_decompress;
        assert_eq!(lzf_decompress(&[2, b'a', b'b', b'c', 0x80, 2], 9).unwrap(), b"abcabcabc");
        assert_eq!(lzf_decompress(&[0x20, 0], 3), Err(BadPayload));
        assert_eq!(decode(b"garbage"), Err(BadPayload));
    }
}
