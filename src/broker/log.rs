//! One partition's log: batches appended at increasing offsets, kept in segment files.
//!
//! ```text
//!  <data-dir>/kafka/<topic>-<partition>/
//!      00000000000000000000.log    batches with offsets 0 .. 4711, back to back, as received
//!      00000000000000004712.log    the active segment: appends go here until it is full
//! ```
//!
//! A segment file is nothing but record batches one after another, each carrying its own base
//! offset and length, exactly the bytes a Fetch returns; the file name is the first offset in
//! it. The index of batches (offset range, time, where the bytes are) lives in memory and is
//! rebuilt at start-up by walking the files, which also validates every batch's CRC: the first
//! batch that is cut short or damaged marks a torn write, and the file is truncated there
//! (everything after it was never acknowledged with acks=all, because an acknowledgement waits
//! for the fsync that follows the write).
//!
//! With `--ephemeral` the segments are byte vectors instead of files; everything else is the same.
//! Kafka also keeps a sparse offset index and a time index per segment on disk so that start-up
//! need not read the data; terrarium reads the segments once instead (a deliberate simplification
//! listed in protocol-spec/kafka.md).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use super::batch;

/// Where one batch is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
    segment: usize,
    position: u64,
    size: u32,
}

struct Segment {
    base_offset: i64,
    file: Option<File>,
    mem: Vec<u8>,
    len: u64,
}

pub struct Log {
    dir: Option<PathBuf>,
    segments: Vec<Segment>,
    index: Vec<Entry>,
    /// The offset the next batch gets: the log end offset, and with one replica the high
    /// watermark too.
    next_offset: i64,
    segment_bytes_max: u64,
    /// Bytes appended since the last fsync, so `sync` can skip a clean log.
    unsynced: bool,
}

fn segment_name(base: i64) -> String {
    format!("{base:020}.log")
}

impl Log {
    /// An empty log kept in memory.
    pub fn in_memory(segment_bytes_max: u64) -> Log {
        Log { dir: None, segments: Vec::new(), index: Vec::new(), next_offset: 0, segment_bytes_max, unsynced: false }
    }

    /// Opens (or creates) the log in `dir`, recovering it: every batch is checked, and a segment
    /// is cut at its first bad batch.
    pub fn open(dir: &Path, segment_bytes_max: u64) -> std::io::Result<Log> {
        std::fs::create_dir_all(dir)?;
        let mut bases: Vec<i64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".log")).and_then(|n| n.parse().ok()))
            .collect();
        bases.sort_unstable();
        let mut log = Log::in_memory(segment_bytes_max);
        log.dir = Some(dir.to_path_buf());
        for base in bases {
            let path = dir.join(segment_name(base));
            let file = OpenOptions::new().read(true).append(true).open(&path)?;
            let data = std::fs::read(&path)?;
            let seg = log.segments.len();
            let mut pos = 0usize;
            while pos < data.len() {
                let Ok(info) = batch::inspect(&data[pos..]) else { break };
                let b = batch::base_offset(&data[pos..]);
                log.index.push(Entry {
                    base_offset: b,
                    last_offset: b + info.last_offset_delta as i64,
                    max_timestamp: info.max_timestamp,
                    segment: seg,
                    position: pos as u64,
                    size: info.size as u32,
                });
                log.next_offset = b + info.last_offset_delta as i64 + 1;
                pos += info.size;
            }
            if pos < data.len() {
                tracing::warn!("{}: cutting a torn tail of {} bytes at {}", path.display(), data.len() - pos, pos);
                file.set_len(pos as u64)?;
                file.sync_all()?;
            }
            log.segments.push(Segment { base_offset: base, file: Some(file), mem: Vec::new(), len: pos as u64 });
        }
        Ok(log)
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn start_offset(&self) -> i64 {
        self.index.first().map(|e| e.base_offset).unwrap_or(self.next_offset)
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
            let file = match &self.dir {
                Some(d) => {
                    // The previous segment is complete: make it durable before starting the next.
                    if let Some(prev) = self.segments.last().and_then(|s| s.file.as_ref()) {
                        prev.sync_all()?;
                    }
                    Some(OpenOptions::new().create(true).read(true).append(true).open(d.join(segment_name(base)))?)
                }
                None => None,
            };
            self.segments.push(Segment { base_offset: base, file, mem: Vec::new(), len: 0 });
        }
        let seg_index = self.segments.len() - 1;
        let seg = self.segments.last_mut().expect("a segment");
        let position = seg.len;
        match &mut seg.file {
            Some(f) => f.write_all(&data)?,
            None => seg.mem.extend_from_slice(&data),
        }
        seg.len += data.len() as u64;
        self.index.push(Entry {
            base_offset: base,
            last_offset: base + info.last_offset_delta as i64,
            max_timestamp: info.max_timestamp,
            segment: seg_index,
            position,
            size: data.len() as u32,
        });
        self.next_offset = base + info.last_offset_delta as i64 + 1;
        self.unsynced = true;
        Ok(base)
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
        let first = self.index.partition_point(|e| e.last_offset < offset);
        let mut out = BytesMut::new();
        for e in &self.index[first..] {
            if !out.is_empty() && out.len() + e.size as usize > max_bytes {
                break;
            }
            let seg = &self.segments[e.segment];
            let start = out.len();
            out.resize(start + e.size as usize, 0);
            match &seg.file {
                Some(f) => f.read_exact_at(&mut out[start..], e.position)?,
                None => {
                    out[start..].copy_from_slice(&seg.mem[e.position as usize..e.position as usize + e.size as usize])
                }
            }
        }
        Ok(out.freeze())
    }

    /// ListOffsets by time: the base offset of the first batch holding a record at or after
    /// `timestamp`, or `None` if there is none. (Kafka answers the exact record; within a batch
    /// terrarium answers the batch's first offset, which a consumer reads from harmlessly.)
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        self.index.iter().find(|e| e.max_timestamp >= timestamp).map(|e| (e.base_offset, e.max_timestamp))
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

    /// Retention, as Kafka's log cleaner applies `cleanup.policy=delete`: whole segments go,
    /// oldest first, while the newest record in one is older than `retention_ms` or while the log
    /// is bigger than `retention_bytes` without it (-1 turns either rule off). The active segment
    /// always stays, so the log end offset never moves back; the log start offset moves up to the
    /// first remaining batch. Returns how many segments were deleted.
    pub fn apply_retention(&mut self, now_ms: i64, retention_ms: i64, retention_bytes: i64) -> usize {
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let first = &self.segments[0];
            let newest =
                self.index.iter().take_while(|e| e.segment == 0).map(|e| e.max_timestamp).max().unwrap_or(i64::MIN);
            let too_old = retention_ms >= 0 && newest < now_ms - retention_ms;
            let too_big = retention_bytes >= 0 && self.size_bytes() - first.len >= retention_bytes as u64;
            if !(too_old || too_big) {
                break;
            }
            let gone = self.segments.remove(0);
            if let Some(d) = &self.dir {
                let _ = std::fs::remove_file(d.join(segment_name(gone.base_offset)));
            }
            self.index.retain(|e| e.segment != 0);
            for e in self.index.iter_mut() {
                e.segment -= 1;
            }
            deleted += 1;
            tracing::info!("retention: deleted the segment starting at offset {}", gone.base_offset);
        }
        deleted
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
}
