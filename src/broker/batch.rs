//! Record batches (magic 2) as they travel in Produce and Fetch, read without decoding the records.
//!
//! ```text
//!  offset  size  field
//!   0       8    baseOffset            ← the broker writes the log offset here
//!   8       4    batchLength           (bytes after this field)
//!  12       4    partitionLeaderEpoch  ← the broker writes its leader epoch here
//!  16       1    magic (2)
//!  17       4    crc (CRC-32C of everything from `attributes` to the end)
//!  21       2    attributes            (bits 0-2 compression, 4 transactional, 5 control)
//!  23       4    lastOffsetDelta
//!  27       8    baseTimestamp
//!  35       8    maxTimestamp
//!  43       8    producerId
//!  51       2    producerEpoch
//!  53       4    baseSequence
//!  57       4    records count
//!  61       …    records (possibly compressed)
//! ```
//!
//! The broker never looks inside the records: a compressed batch (gzip, snappy, lz4, zstd) is
//! stored and served exactly as the producer sent it. The fields the broker changes, base
//! offset and leader epoch, lie outside the CRC, so patching them keeps the batch valid, which
//! is why Kafka put them there.

/// Bytes before the records.
pub const HEADER_BYTES: usize = 61;
/// `baseOffset` and `batchLength`: the part of the header outside `batchLength`'s count.
pub const LOG_OVERHEAD_BYTES: usize = 12;

/// Kafka's error codes for a batch it refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchError {
    /// CORRUPT_MESSAGE (2): bad CRC, wrong lengths, a count that disagrees with the offsets.
    Corrupt,
    /// UNSUPPORTED_FOR_MESSAGE_FORMAT (43): magic 0 or 1.
    OldFormat,
    /// INVALID_RECORD (87): a control batch sent by a client.
    InvalidRecord,
}

impl BatchError {
    pub fn code(self) -> i16 {
        match self {
            BatchError::Corrupt => 2,
            BatchError::OldFormat => 43,
            BatchError::InvalidRecord => 87,
        }
    }
}

/// What the broker needs to know of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    /// The whole batch's size in bytes, header included.
    pub size: usize,
    pub last_offset_delta: i32,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records: i32,
    pub control: bool,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the batch that starts at `b[0]` and returns its facts. `b` may hold more after it.
pub fn inspect(b: &[u8]) -> Result<BatchInfo, BatchError> {
    if b.len() < HEADER_BYTES {
        return Err(BatchError::Corrupt);
    }
    let magic = b[16];
    if magic < 2 {
        return Err(BatchError::OldFormat);
    }
    if magic > 2 {
        return Err(BatchError::Corrupt);
    }
    let batch_len = i32_at(b, 8);
    if batch_len < (HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32 {
        return Err(BatchError::Corrupt);
    }
    let size = LOG_OVERHEAD_BYTES + batch_len as usize;
    if b.len() < size {
        return Err(BatchError::Corrupt);
    }
    let crc = i32_at(b, 17) as u32;
    if crc32c::crc32c(&b[21..size]) != crc {
        return Err(BatchError::Corrupt);
    }
    let attributes = i16_at(b, 21);
    let last_offset_delta = i32_at(b, 23);
    let records = i32_at(b, 57);
    // Every record gets one offset, so the count must be the last delta plus one, as Kafka's
    // validation insists for batches from clients (magic 2 never compacts on the way in).
    if last_offset_delta < 0 || records != last_offset_delta.wrapping_add(1) {
        return Err(BatchError::Corrupt);
    }
    Ok(BatchInfo {
        size,
        last_offset_delta,
        max_timestamp: i64_at(b, 35),
        producer_id: i64_at(b, 43),
        producer_epoch: i16_at(b, 51),
        base_sequence: i32_at(b, 53),
        records,
        control: attributes & 0x20 != 0,
    })
}

/// Sets the base offset and partition leader epoch of a batch in place.
pub fn patch(b: &mut [u8], base_offset: i64, leader_epoch: i32) {
    b[0..8].copy_from_slice(&base_offset.to_be_bytes());
    b[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}

/// The base offset written in a stored batch.
pub fn base_offset(b: &[u8]) -> i64 {
    i64_at(b, 0)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds a valid uncompressed batch of `values` (no keys, no headers), as a producer would.
    pub fn batch(values: &[&[u8]], base_timestamp: i64) -> Vec<u8> {
        let mut records = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let mut r = Vec::new();
            r.push(0); // attributes
            varint(&mut r, 0); // timestamp delta
            varint(&mut r, i as i64); // offset delta
            varint(&mut r, -1); // key: null
            varint(&mut r, v.len() as i64);
            r.extend_from_slice(v);
            varint(&mut r, 0); // headers
            varint(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        let mut b = vec![0u8; HEADER_BYTES];
        b[16] = 2;
        b[23..27].copy_from_slice(&(values.len() as i32 - 1).to_be_bytes());
        b[27..35].copy_from_slice(&base_timestamp.to_be_bytes());
        b[35..43].copy_from_slice(&base_timestamp.to_be_bytes());
        b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
        b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
        b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
        b[57..61].copy_from_slice(&(values.len() as i32).to_be_bytes());
        b.extend_from_slice(&records);
        let len = (b.len() - LOG_OVERHEAD_BYTES) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7F) | 0x80);
            z >>= 7;
        }
    }

    #[test]
    fn a_valid_batch_passes_and_damage_is_refused() {
        let b = batch(&[b"a", b"bc"], 1000);
        let info = inspect(&b).unwrap();
        assert_eq!((info.size, info.records, info.last_offset_delta), (b.len(), 2, 1));
        let mut bad = b.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(inspect(&bad), Err(BatchError::Corrupt));
        let mut old = b.clone();
        old[16] = 1;
        assert_eq!(inspect(&old), Err(BatchError::OldFormat));
        assert_eq!(inspect(&b[..b.len() - 1]), Err(BatchError::Corrupt));
        // Patching the offset and epoch keeps the CRC valid.
        let mut p = b.clone();
        patch(&mut p, 42, 7);
        assert!(inspect(&p).is_ok());
        assert_eq!(base_offset(&p), 42);
    }
}
