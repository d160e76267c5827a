//! One partition's log: batches appended at increasing offsets, kept in segment files, found
//! through a sparse offset index.
//!
//! ```text
//!  <data-dir>/kafka/<topic>-<partition>/
//!      00000000000000000000.log     batches with offsets 0 .. 4711, back to back, as received
//!      00000000000000000000.index   every ~4 KiB of .log: (offset - 0, byte position), 8 bytes
//!      00000000000000004712.log     the active segment: appends go here until it is full
//!      00000000000000004712.index
//! ```
//!
//! A segment file is nothing but record batches one after another, each carrying its own base
//! offset and length, exactly the bytes a Fetch returns; the file name is the first offset in it.
//!
//! Finding offset 4000: the segment is the last one whose base is ≤ 4000; its index gives the
//! last indexed batch starting at or before 4000 (a binary search over 8-byte entries); from
//! that byte position the batch headers are read one by one (12 bytes each: base offset and
//! length, plus the last offset delta) until the batch holding 4000, at most ~4 KiB further.
//! The index is sparse, as Kafka's (`index.interval.bytes` = 4096), so it stays about 0.2% of the
//! data: memory holds no per-batch list, and a closed segment's index is memory-mapped rather
//! than read.
//!
//! Start-up walks every segment once, checking each batch (length and CRC): the first batch that
//! is cut short or damaged marks a torn write, and the file is truncated there (everything after
//! it was never acknowledged with acks=all, because an acknowledgement waits for the fsync that
//! follows the write). The indexes are rebuilt by the same walk, so a lost or stale index file
//! can never point into garbage. (Kafka trusts the indexes of segments before its recovery
//! checkpoint; terrarium re-checks everything, which costs one read of the data at start-up.)
//!
//! With `--ephemeral` the segments and their indexes live in memory; everything else is the same.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use super::batch;

/// Kafka's `index.interval.bytes`: one index entry per this many bytes of log.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;
/// Bytes of one index entry: relative offset (u32) and position (u32), big-endian.
const INDEX_ENTRY_BYTES: usize = 8;

/// A segment's sparse index: in a growable vector while the segment is active, memory-mapped
/// from its file once the segment is closed (it never changes again).
enum SparseIndex {
    Live(Vec<(u32, u32)>),
    Mapped(memmap2::Mmap),
}

impl SparseIndex {
    fn len(&self) -> usize {
        match self {
            SparseIndex::Live(v) => v.len(),
            SparseIndex::Mapped(m) => m.len() / INDEX_ENTRY_BYTES,
        }
    }
    fn get(&self, i: usize) -> (u32, u32) {
        match self {
            SparseIndex::Live(v) => v[i],
            SparseIndex::Mapped(m) => {
                let e = &m[i * INDEX_ENTRY_BYTES..(i + 1) * INDEX_ENTRY_BYTES];
                (u32::from_be_bytes([e[0], e[1], e[2], e[3]]), u32::from_be_bytes([e[4], e[5], e[6], e[7]]))
            }
        }
    }
    /// The position of the last indexed batch whose relative offset is ≤ `rel` (0 if none).
    fn floor(&self, rel: u32) -> u64 {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.get(mid).0 <= rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            0
        } else {
            self.get(lo - 1).1 as u64
        }
    }
}

struct Segment {
    base_offset: i64,
    /// One past the last offset in the segment.
    end_offset: i64,
    max_timestamp: i64,
    file: Option<File>,
    index_file: Option<File>,
    mem: Vec<u8>,
    len: u64,
    index: SparseIndex,
    /// Bytes written since the last index entry.
    since_index: u64,
}

impl Segment {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
        match &self.file {
            Some(f) => f.read_exact_at(buf, pos),
            None => {
                let end = pos as usize + buf.len();
                let src =
                    self.mem.get(pos as usize..end).ok_or_else(|| std::io::Error::other("read past the segment"))?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }

    /// (base offset, size, last offset) of the batch at `pos`.
    fn batch_at(&self, pos: u64) -> std::io::Result<(i64, u64, i64)> {
        let mut h = [0u8; 27];
        self.read_at(&mut h, pos)?;
        let base = i64::from_be_bytes(h[0..8].try_into().expect("8"));
        let size = batch::LOG_OVERHEAD_BYTES as u64 + u32::from_be_bytes(h[8..12].try_into().expect("4")) as u64;
        let delta = i32::from_be_bytes(h[23..27].try_into().expect("4"));
        Ok((base, size, base + delta as i64))
    }

    /// The position of the batch holding `offset`, or of the first batch after it.
    fn position_of(&self, offset: i64) -> std::io::Result<u64> {
        let rel = (offset - self.base_offset).clamp(0, u32::MAX as i64) as u32;
        let mut pos = self.index.floor(rel);
        while pos < self.len {
            let (_, size, last) = self.batch_at(pos)?;
            if last >= offset {
                break;
            }
            pos += size;
        }
        Ok(pos)
    }

    /// Freezes the index of a segment that just stopped being active: its file is complete, so
    /// it is flushed and mapped, and the vector is dropped.
    fn close(&mut self) -> std::io::Result<()> {
        if let Some(f) = &self.file {
            f.sync_all()?;
        }
        if let Some(ixf) = &self.index_file {
            ixf.sync_all()?;
            if ixf.metadata()?.len() > 0 {
                self.index = SparseIndex::Mapped(map(ixf)?);
            }
        }
        Ok(())
    }
}

/// Maps a closed segment's index file.
///
/// The one `unsafe` in the broker: mapping a file is unsafe because another process could change
/// it underneath the mapping. The index files of closed segments are written once, by this
/// process, before they are mapped, and are never truncated or rewritten afterwards (retention
/// deletes them whole, which on Unix leaves an existing mapping intact).
#[allow(unsafe_code)]
fn map(f: &File) -> std::io::Result<memmap2::Mmap> {
    unsafe { memmap2::Mmap::map(f) }
}

pub struct Log {
    dir: Option<PathBuf>,
    segments: Vec<Segment>,
    /// The offset the next batch gets: the log end offset, and with one replica the high
    /// watermark too.
    next_offset: i64,
    segment_bytes_max: u64,
    /// Bytes appended since the last fsync, so `sync` can skip a clean log.
    unsynced: bool,
    /// Appends so far, counted, so group commit can tell which ones an fsync covers.
    appends: u64,
}

fn segment_name(base: i64) -> String {
    format!("{base:020}.log")
}

fn index_name(base: i64) -> String {
    format!("{base:020}.index")
}

impl Log {
    /// An empty log kept in memory.
    pub fn in_memory(segment_bytes_max: u64) -> Log {
        // Index entries hold positions as u32, so a segment stays below 4 GiB.
        let segment_bytes_max = segment_bytes_max.min(u32::MAX as u64);
        Log { dir: None, segments: Vec::new(), next_offset: 0, segment_bytes_max, unsynced: false, appends: 0 }
    }

    /// Opens (or creates) the log in `dir`, recovering it: every batch is checked, a segment is
    /// cut at its first bad batch, and every index is rebuilt from the walk.
    pub fn open(dir: &Path, segment_bytes_max: u64) -> std::io::Result<Log> {
        std::fs::create_dir_all(dir)?;
        let mut bases: Vec<i64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".log")).and_then(|n| n.parse().ok()))
            .collect();
        bases.sort_unstable();
        let mut log = Log::in_memory(segment_bytes_max);
        log.dir = Some(dir.to_path_buf());
        let count = bases.len();
        for (i, base) in bases.into_iter().enumerate() {
            let path = dir.join(segment_name(base));
            let file = OpenOptions::new().read(true).append(true).open(&path)?;
            let data = std::fs::read(&path)?;
            let mut seg = Segment {
                base_offset: base,
                end_offset: base,
                max_timestamp: i64::MIN,
                file: None,
                index_file: None,
                mem: Vec::new(),
                len: 0,
                index: SparseIndex::Live(Vec::new()),
                since_index: INDEX_INTERVAL_BYTES,
            };
            let mut pos = 0usize;
            while pos < data.len() {
                let Ok(info) = batch::inspect(&data[pos..]) else { break };
                let b = batch::base_offset(&data[pos..]);
                seg.note_batch(b, &info, pos as u64);
                pos += info.size;
            }
            if pos < data.len() {
                tracing::warn!("{}: cutting a torn tail of {} bytes at {}", path.display(), data.len() - pos, pos);
                file.set_len(pos as u64)?;
                file.sync_all()?;
            }
            seg.len = pos as u64;
            seg.file = Some(file);
            // The rebuilt index replaces whatever file was there.
            let ixpath = dir.join(index_name(base));
            let mut ixf = OpenOptions::new().create(true).read(true).write(true).truncate(true).open(&ixpath)?;
            if let SparseIndex::Live(v) = &seg.index {
                let mut out = Vec::with_capacity(v.len() * INDEX_ENTRY_BYTES);
                for (r, p) in v {
                    out.extend_from_slice(&r.to_be_bytes());
                    out.extend_from_slice(&p.to_be_bytes());
                }
                ixf.write_all(&out)?;
            }
            drop(ixf);
            seg.index_file = Some(OpenOptions::new().read(true).append(true).open(&ixpath)?);
            if seg.end_offset > log.next_offset {
                log.next_offset = seg.end_offset;
            }
            if i + 1 < count {
                seg.close()?;
            }
            log.segments.push(seg);
        }
        Ok(log)
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// The first offset still in the log (retention moves it up).
    pub fn start_offset(&self) -> i64 {
        self.segments.iter().find(|s| s.len > 0).map(|s| s.base_offset).unwrap_or(self.next_offset)
    }

    /// Appends one validated batch, giving it the next offset. Returns its base offset.
    pub fn append(&mut self, mut data: Vec<u8>, info: &batch::BatchInfo, leader_epoch: i32) -> std::io::Result<i64> {
        let base = self.next_offset;
        batch::patch(&mut data, base, leader_epoch);
        let roll = match self.segments.last() {
            None => true,
            Some(s) => s.len > 0 && s.len + data.len() as u64 > self.segment_bytes_max,
        };
        if roll {
            if let Some(prev) = self.segments.last_mut() {
                prev.close()?;
            }
            let (file, index_file) = match &self.dir {
                Some(d) => (
                    Some(OpenOptions::new().create(true).read(true).append(true).open(d.join(segment_name(base)))?),
                    Some(OpenOptions::new().create(true).read(true).append(true).open(d.join(index_name(base)))?),
                ),
                None => (None, None),
            };
            self.segments.push(Segment {
                base_offset: base,
                end_offset: base,
                max_timestamp: i64::MIN,
                file,
                index_file,
                mem: Vec::new(),
                len: 0,
                index: SparseIndex::Live(Vec::new()),
                since_index: INDEX_INTERVAL_BYTES,
            });
        }
        let seg = self.segments.last_mut().expect("a segment");
        let position = seg.len;
        match &mut seg.file {
            Some(f) => f.write_all(&data)?,
            None => seg.mem.extend_from_slice(&data),
        }
        let indexed = seg.note_batch(base, info, position);
        if let (Some((r, p)), Some(ixf)) = (indexed, &mut seg.index_file) {
            let mut e = [0u8; INDEX_ENTRY_BYTES];
            e[0..4].copy_from_slice(&r.to_be_bytes());
            e[4..8].copy_from_slice(&p.to_be_bytes());
            ixf.write_all(&e)?;
        }
        seg.len += data.len() as u64;
        self.next_offset = seg.end_offset;
        self.unsynced = true;
        self.appends += 1;
        Ok(base)
    }

    /// How many appends this log has taken (see [`Log::sync_handle`]).
    pub fn appends(&self) -> u64 {
        self.appends
    }

    /// For group commit: the number of appends so far and a handle on the file they are in, so
    /// the caller can fsync without holding the log (appends go on meanwhile). Earlier segments
    /// were made durable when they closed. `None` for an in-memory log.
    pub fn sync_handle(&mut self) -> std::io::Result<(u64, Option<File>)> {
        let file = match self.segments.last().and_then(|s| s.file.as_ref()) {
            Some(f) => Some(f.try_clone()?),
            None => None,
        };
        self.unsynced = false;
        Ok((self.appends, file))
    }

    /// Makes every append so far durable (acks=all waits for this).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            if let Some(f) = self.segments.last().and_then(|s| s.file.as_ref()) {
                f.sync_data()?;
            }
            self.unsynced = false;
        }
        Ok(())
    }

    /// The batches holding `offset` and after, up to about `max_bytes`: whole batches only, and
    /// always at least one if there is any (so a batch bigger than the limit still gets through,
    /// as in Kafka since KIP-74). A fetch from inside a batch returns the whole batch; the
    /// client skips the records before the offset it asked for.
    pub fn read(&self, offset: i64, max_bytes: usize) -> std::io::Result<Bytes> {
        let mut out = BytesMut::new();
        let first = self.segments.partition_point(|s| s.end_offset <= offset);
        for (i, seg) in self.segments.iter().enumerate().skip(first) {
            let mut pos = if i == first { seg.position_of(offset)? } else { 0 };
            while pos < seg.len {
                let (_, size, _) = seg.batch_at(pos)?;
                if !out.is_empty() && out.len() + size as usize > max_bytes {
                    return Ok(out.freeze());
                }
                let start = out.len();
                out.resize(start + size as usize, 0);
                seg.read_at(&mut out[start..], pos)?;
                pos += size;
            }
        }
        Ok(out.freeze())
    }

    /// ListOffsets by time: the base offset of the first batch holding a record at or after
    /// `timestamp`, and that batch's max timestamp; `None` if there is none. (Kafka answers the
    /// exact record; within a batch terrarium answers the batch's first offset, which a consumer
    /// reads from harmlessly.) Segments are skipped by their max timestamp, then one is walked.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        let seg = self.segments.iter().find(|s| s.len > 0 && s.max_timestamp >= timestamp)?;
        let mut pos = 0;
        while pos < seg.len {
            let mut h = [0u8; 43];
            seg.read_at(&mut h, pos).ok()?;
            let base = i64::from_be_bytes(h[0..8].try_into().ok()?);
            let size = batch::LOG_OVERHEAD_BYTES as u64 + u32::from_be_bytes(h[8..12].try_into().ok()?) as u64;
            let max_ts = i64::from_be_bytes(h[35..43].try_into().ok()?);
            if max_ts >= timestamp {
                return Some((base, max_ts));
            }
            pos += size;
        }
        None
    }

    /// How many segments the log has (for tests and the demo's logging).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The first offset of each segment.
    pub fn segment_bases(&self) -> Vec<i64> {
        self.segments.iter().map(|s| s.base_offset).collect()
    }

    /// Bytes held by the log.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// How many entries the sparse indexes hold in all (for tests: far fewer than batches).
    pub fn index_entries(&self) -> usize {
        self.segments.iter().map(|s| s.index.len()).sum()
    }

    /// Retention, as Kafka's log cleaner applies `cleanup.policy=delete`: whole segments go,
    /// oldest first, while the newest record in one is older than `retention_ms` or while the log
    /// is bigger than `retention_bytes` without it (-1 turns either rule off). The active segment
    /// always stays, so the log end offset never moves back; the log start offset moves up to the
    /// first remaining batch. Returns how many segments were deleted.
    pub fn apply_retention(&mut self, now_ms: i64, retention_ms: i64, retention_bytes: i64) -> usize {
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let first = &self.segments[0];
            let too_old = retention_ms >= 0 && first.max_timestamp < now_ms - retention_ms;
            let too_big = retention_bytes >= 0 && self.size_bytes() - first.len >= retention_bytes as u64;
            if !(too_old || too_big) {
                break;
            }
            let gone = self.segments.remove(0);
            if let Some(d) = &self.dir {
                let _ = std::fs::remove_file(d.join(segment_name(gone.base_offset)));
                let _ = std::fs::remove_file(d.join(index_name(gone.base_offset)));
            }
            deleted += 1;
            tracing::info!("retention: deleted the segment starting at offset {}", gone.base_offset);
        }
        deleted
    }
}

impl Segment {
    /// Accounts for a batch written at `pos`; returns the index entry to add, if one is due.
    fn note_batch(&mut self, base: i64, info: &batch::BatchInfo, pos: u64) -> Option<(u32, u32)> {
        self.end_offset = base + info.last_offset_delta as i64 + 1;
        self.max_timestamp = self.max_timestamp.max(info.max_timestamp);
        // An entry for the segment's first batch, then one whenever a full interval has passed.
        let due = self.since_index >= INDEX_INTERVAL_BYTES;
        self.since_index = if due { 0 } else { self.since_index } + info.size as u64;
        if !due {
            return None;
        }
        let entry = ((base - self.base_offset) as u32, pos as u32);
        if let SparseIndex::Live(v) = &mut self.index {
            v.push(entry);
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::batch::tests::batch;

    fn append(log: &mut Log, values: &[&[u8]]) -> i64 {
        let b = batch(values, 1000);
        let info = batch::inspect(&b).unwrap();
        log.append(b, &info, 0).unwrap()
    }

    #[test]
    fn offsets_rolls_and_recovery_cut_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t-0");
        {
            let mut log = Log::open(&p, 200).unwrap();
            assert_eq!(append(&mut log, &[b"a", b"b"]), 0);
            assert_eq!(append(&mut log, &[b"c"]), 2);
            for _ in 0..5 {
                append(&mut log, &[&[7u8; 40]]);
            }
            log.sync().unwrap();
            assert!(log.segment_count() > 1, "segments roll by size");
            assert_eq!(log.next_offset(), 8);
            let from_1 = log.read(1, 1).unwrap();
            assert_eq!(batch::base_offset(&from_1), 0, "the batch holding offset 1");
        }
        // A torn write: half a batch at the end of the active segment.
        let last = std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()).max().unwrap();
        let half = &batch(&[b"torn"], 5)[..20];
        OpenOptions::new().append(true).open(&last).unwrap().write_all(half).unwrap();
        let mut log = Log::open(&p, 200).unwrap();
        assert_eq!(log.next_offset(), 8, "the torn batch is gone");
        assert_eq!(append(&mut log, &[b"d"]), 8);
        let all = log.read(0, usize::MAX).unwrap();
        let mut n = 0;
        let mut pos = 0;
        while pos < all.len() {
            let info = batch::inspect(&all[pos..]).unwrap();
            n += info.records;
            pos += info.size;
        }
        assert_eq!(n, 9);
    }

    #[test]
    fn retention_deletes_whole_old_segments_and_moves_the_start_offset() {
        let mut log = Log::in_memory(150);
        for _ in 0..6 {
            append(&mut log, &[&[1u8; 60]]);
        }
        let segments = log.segment_count();
        assert!(segments >= 3, "{segments} segments");
        // Every batch carries timestamp 1000: at 1500 nothing is a second old yet.
        assert_eq!(log.apply_retention(1500, 1000, -1), 0);
        let deleted = log.apply_retention(5000, 1000, -1);
        assert_eq!(deleted, segments - 1, "all but the active segment");
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.next_offset(), 6, "the end never moves back");
        assert!(log.start_offset() > 0);
        assert_eq!(batch::base_offset(&log.read(log.start_offset(), 1).unwrap()), log.start_offset());
        // By size: keep at most ~150 bytes.
        let mut log = Log::in_memory(150);
        for _ in 0..6 {
            append(&mut log, &[&[1u8; 60]]);
        }
        log.apply_retention(0, -1, 150);
        assert!(log.size_bytes() <= 300, "{}", log.size_bytes());
        assert!(log.start_offset() > 0);
    }

    #[test]
    fn the_index_is_sparse_mapped_when_closed_and_finds_every_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t-0");
        let mut log = Log::open(&p, 32 * 1024).unwrap();
        for i in 0..600 {
            append(&mut log, &[format!("value {i:04}").as_bytes(), &[b'x'; 100]]);
        }
        log.sync().unwrap();
        assert!(log.segment_count() >= 3, "{} segments", log.segment_count());
        assert!(log.index_entries() < 100, "sparse: {} entries for 600 batches", log.index_entries());
        let check = |log: &Log| {
            for off in [0i64, 1, 2, 77, 500, 599, 1000, 1198, 1199] {
                let b = log.read(off, 1).unwrap();
                let base = batch::base_offset(&b);
                assert!(base <= off && off <= base + 1, "offset {off} is in the batch at {base}");
            }
            let all = log.read(0, usize::MAX).unwrap();
            assert_eq!(all.len() as u64, log.size_bytes(), "a read crosses segments");
            assert_eq!(log.read(1200, 1000).unwrap().len(), 0);
        };
        check(&log);
        drop(log);
        // Reopened: the closed segments' indexes are rebuilt and mapped.
        let log = Log::open(&p, 32 * 1024).unwrap();
        assert_eq!(log.next_offset(), 1200);
        check(&log);
        std::fs::remove_file(p.join(index_name(0))).unwrap();
        let log = Log::open(&p, 32 * 1024).unwrap();
        check(&log);
    }
}
