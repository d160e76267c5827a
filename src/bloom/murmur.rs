//! The two hash functions RedisBloom feeds its filters with: Austin Appleby's MurmurHash64A
//! (every filter created by a current RedisBloom, option `FORCE64`) and the 32-bit MurmurHash2
//! (filters created by RedisBloom before 1.1, which a `BF.LOADCHUNK` may still bring in).
//!
//! Both read the input in little-endian words, as the C code does on x86-64 and ARM, so the
//! same item lands on the same bits here and in a real RedisBloom, and `BF.SCANDUMP` chunks can
//! move between the two. The tests pin the outputs to values printed by RedisBloom's own
//! `deps/murmur2/MurmurHash2.c` compiled on this machine.

/// MurmurHash64A's multiplier, which RedisBloom also uses as the seed of the first hash.
pub const M64: u64 = 0xc6a4_a793_5bd1_e995;

/// MurmurHash64A of `data` with `seed`: eight bytes at a time, then the tail, then a final mix.
pub fn murmur_hash64a(data: &[u8], seed: u64) -> u64 {
    const R: u32 = 47;
    // C computes `len * m` with `len` an `int` promoted to 64 bits; lengths here fit easily.
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M64);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("chunks_exact(8) yields 8 bytes"));
        k = k.wrapping_mul(M64);
        k ^= k >> R;
        k = k.wrapping_mul(M64);
        h ^= k;
        h = h.wrapping_mul(M64);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        // The C switch falls through from `len & 7` down to 1: byte i goes to bits 8i..8i+7.
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M64);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M64);
    h ^= h >> R;
    h
}

/// The 32-bit MurmurHash2 of `data` with `seed` (four bytes at a time).
pub fn murmur_hash2(data: &[u8], seed: u32) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = seed ^ data.len() as u32;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let mut k = u32::from_le_bytes(w.try_into().expect("chunks_exact(4) yields 4 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u32::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, a = H64(input, M64), b = H64(input, a), MurmurHash2(input, 0x9747b28c)), printed by
    /// RedisBloom's C code (`bloom_calc_hash64` and `murmurhash2`). The inputs cover every tail
    /// length 0..=7, a whole word, a word plus one byte, and a long string.
    const VECTORS: &[(&str, u64, u64, u32)] = &[
        ("", 0x1ab11ea5a7b2c56e, 0xbbddcb5ab56dd547, 0x106e08d9),
        ("a", 0x4292cee227b9150a, 0x7e9b527031f50c11, 0xa2d0b27c),
        ("ab", 0x2db1bf3a2e66542c, 0x293d5ccc2e02cc02, 0x12d8262a),
        ("abc", 0xca52f3863690cd7b, 0x492e507dc7ce3d23, 0x1c94221b),
        ("abcd", 0xc19f5358d983a6bf, 0xe0cf7f46f508e46e, 0xb11ab5f4),
        ("abcde", 0xf27f6d3730b4f30f, 0x7c733ac54ddf1280, 0x1b897edd),
        ("abcdef", 0x01ddc66cbc7b3e37, 0x1b348e32fa3fef62, 0x6f7fdafc),
        ("abcdefg", 0x9fa0b24601c1e9a9, 0x593e9b0945664832, 0xeb595499),
        ("abcdefgh", 0xd435df7a565a8af1, 0xbf3d673c0b1029cf, 0xc70d55dd),
        ("abcdefghi", 0xa2c004e44bd0a465, 0x28459a22cef68950, 0xdb106fbe),
        ("hello", 0x5ba5b8a59803e699, 0xa7d451d588a0c2a4, 0x7f1ddbbd),
        ("The quick brown fox jumps over the lazy dog", 0xc7a616a28f4a74d6, 0xfab0774384f74e2a, 0x1d84d036),
    ];

    #[test]
    fn matches_redisbloom_murmur_outputs() {
        for &(s, a, b, m2) in VECTORS {
            assert_eq!(murmur_hash64a(s.as_bytes(), M64), a, "a of {s:?}");
            assert_eq!(murmur_hash64a(s.as_bytes(), a), b, "b of {s:?}");
            assert_eq!(murmur_hash2(s.as_bytes(), 0x9747_b28c), m2, "MurmurHash2 of {s:?}");
        }
    }
}
