//! The write-ahead log: an append-only file of checksummed records, each at an LSN.
//!
//! A change is durable once its record is in this file and the file has been fsynced; the tables
//! themselves can then be rebuilt after a crash by replaying the records. This module knows bytes,
//! positions and checksums, and nothing about SQL: what a payload means is the executor's business
//! (the [`WalEntry`] encoding at the bottom is a helper for it, not something the log looks at).
//!
//! # Layout
//!
//! All integers are little-endian. A file is a 24-byte header and then records, back to back:
//!
//! ```text
//!   file header (24 bytes)
//!   ┌───────────────────┬─────────────┬────────────┬──────────────┐
//!   │ magic "TRRMWAL\0" │ version u32 │ crc32c u32 │ base_lsn u64 │   crc32c covers magic, version, base_lsn
//!   └───────────────────┴─────────────┴────────────┴──────────────┘
//!   0                   8             12           16             24
//!
//!   record (16-byte header + payload)
//!   ┌─────────┬────────────┬─────────┬─────────────────────┐
//!   │ len u32 │ crc32c u32 │ lsn u64 │ payload (len bytes) │   crc32c covers lsn ‖ payload
//!   └─────────┴────────────┴─────────┴─────────────────────┘
//!   0         4            8         16                    16+len
//! ```
//!
//! # LSNs
//!
//! A record's LSN is the byte offset of its first byte in the log, as in PostgreSQL, so
//! `pg_wal_lsn_diff(a, b)` is `a - b` and counts bytes. The file header says which LSN the file's
//! byte 0 stands for (`base_lsn`): a record at file offset `o` is at LSN `base_lsn + o`. A new log
//! has `base_lsn` 0, so its first record is at LSN 24, shown the PostgreSQL way as `0/18`.
//!
//! Worked example: a new log, one record with the 5-byte payload `hello`:
//!
//! ```text
//!   offset 24 = LSN 0/18
//!   05 00 00 00   len 5
//!   07 c0 32 e3   crc32c(18 00 00 00 00 00 00 00 ‖ "hello")
//!   18 00 00 00 00 00 00 00   lsn 24: the record says where it belongs
//!   68 65 6c 6c 6f            "hello"
//!   next record at 24 + 16 + 5 = 45 = 0/2D
//! ```
//!
//! The LSN is stored in the record and covered by its checksum, although the position already
//! says it, because it makes every record self-identifying: a record that ends up at the wrong
//! place (a stale block, a copy) fails the check, and recovery can ask cheaply "is there an intact
//! record anywhere after this point?", which the recovery rule below depends on.
//!
//! # Recovery rule
//!
//! [`Wal::open`] reads the file from the first record on:
//!
//! ```text
//!   at position p:
//!     an intact record (fits in the file, len ≤ WAL_RECORD_BYTES_MAX, lsn = p, crc matches)
//!         → keep it, go on at p + 16 + len
//!     anything else (short header, short payload, absurd len, wrong lsn, bad crc):
//!         an intact record starts somewhere after p → error: the damage is in the middle
//!         none does                                 → torn tail: cut the file at p
//! ```
//!
//! Why the middle is an error and not a cut: [`Wal::flush`] writes records in order and, with
//! `sync`, returns only after `fdatasync`, so every acknowledged record sits before the tail that
//! a crash can tear. Intact bytes after a damaged record mean bytes changed *after* they were
//! durable (a failing disk, something else writing the file), and cutting there would silently
//! throw away commits that clients were told had happened. Refusing to start makes a person look.
//! The price: after a power loss (not a `kill -9`, which leaves the page cache intact) the kernel
//! may have written the pages of an unsynced tail out of order, leaving a hole before a record
//! that was never acknowledged; that is reported too, and needs a hand truncation. PostgreSQL
//! instead stops replay at the first invalid record; we prefer a false alarm to a silent loss.
//!
//! # What it leaves out
//!
//! One file, no segments: [`Wal::reset_after_checkpoint`] starts the file afresh once the caller
//! has made a checkpoint durable, so the log only ever holds what came after the last one. The
//! file is read whole on open (it is bounded by the checkpoint interval). `--ephemeral` uses
//! [`Wal::ephemeral`], which keeps the LSN arithmetic and writes nothing anywhere.
//!
//! # Group commit
//!
//! [`Wal`] is a plain `&mut self` object that sits behind the database's lock. Waiting for an
//! fsync under that lock would make every session wait for every commit's fsync in turn, so a
//! committing session only *writes* its records under the lock, and then waits for durability
//! with the lock released, through the log's [`GroupFlush`]:
//!
//! ```text
//!   session A: append+write (lock) ─ unlock ─ flush_to(A) ──── fsync covers A ─────────▶ COMMIT
//!   session B:    append+write (lock) ─ unlock ─ flush_to(B) waits for A's fsync ─ fsync ─▶ COMMIT
//!   session C:       append+write (lock) ─ unlock ─ flush_to(C) ─┘ covered by B's fsync ─▶ COMMIT
//! ```
//!
//! One fsync runs at a time; whoever takes the turn syncs everything written so far, so the
//! commits that arrived during one fsync share the next. PostgreSQL does the same with its
//! WALWriteLock: the first backend to get it flushes for all that queued behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::limits::{WAL_BUFFER_WRITE_BYTES, WAL_RECORD_BYTES_MAX};
use crate::sql::mvcc::{Ctid, Xid};

// ───────────────────────────────────────── LSN ─────────────────────────────────────────

/// A log sequence number: a byte position in the log, shown as PostgreSQL's `X/Y`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// PostgreSQL's `pg_lsn` input syntax: one to eight hex digits, `/`, one to eight hex digits,
    /// nothing else (no sign, no spaces). `None` where PostgreSQL answers `invalid input syntax for
    /// type pg_lsn`.
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.split_once('/')?;
        let half = |s: &str| -> Option<u64> {
            if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u64::from_str_radix(s, 16).ok()
        };
        Some(Lsn(half(high)? << 32 | half(low)?))
    }

    /// `pg_wal_lsn_diff(self, other)`: bytes from `other` to `self`, negative when `self` is earlier.
    pub fn diff(self, other: Lsn) -> i128 {
        self.0 as i128 - other.0 as i128
    }

    fn checked_add(self, bytes: u64) -> Option<Lsn> {
        self.0.checked_add(bytes).map(Lsn)
    }
}

impl std::fmt::Display for Lsn {
    /// `X/Y`: the high and low 32 bits in uppercase hex without padding, as PostgreSQL prints them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 as u32)
    }
}

// ───────────────────────────────────── file format ─────────────────────────────────────

const FILE_MAGIC: [u8; 8] = *b"TRRMWAL\0";
const FILE_VERSION: u32 = 1;

/// Bytes of the file header; also the LSN of the first record of a new log.
pub const FILE_HEADER_BYTES: usize = 24;

/// Bytes of a record's header: `len`, `crc`, `lsn`.
pub const RECORD_HEADER_BYTES: usize = 16;

/// One record as recovery found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub lsn: Lsn,
    pub payload: Vec<u8>,
}

impl Record {
    /// The LSN just past this record: where the next one starts.
    pub fn end_lsn(&self) -> Lsn {
        Lsn(self.lsn.0 + (RECORD_HEADER_BYTES + self.payload.len()) as u64)
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn record_crc(lsn: Lsn, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&lsn.0.to_le_bytes()), payload)
}

fn encode_record(out: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    assert!(payload.len() <= WAL_RECORD_BYTES_MAX, "WAL payload of {} bytes passed the append check", payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&record_crc(lsn, payload).to_le_bytes());
    out.extend_from_slice(&lsn.0.to_le_bytes());
    out.extend_from_slice(payload);
}

fn encode_file_header(base_lsn: Lsn) -> [u8; FILE_HEADER_BYTES] {
    let mut header = [0u8; FILE_HEADER_BYTES];
    header[0..8].copy_from_slice(&FILE_MAGIC);
    header[8..12].copy_from_slice(&FILE_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&base_lsn.0.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[0..12]), &header[16..24]);
    header[12..16].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The `base_lsn` of a file header, or why it is not one of ours.
fn decode_file_header(bytes: &[u8]) -> Result<Lsn, String> {
    let Some(header) = bytes.get(..FILE_HEADER_BYTES) else {
        return Err(format!("file of {} bytes is shorter than the WAL header", bytes.len()));
    };
    if header[0..8] != FILE_MAGIC {
        return Err("not a terrarium WAL file (bad magic)".into());
    }
    let version = le_u32(&header[8..12]);
    if version != FILE_VERSION {
        return Err(format!("WAL format version {version} is not supported (this build reads {FILE_VERSION})"));
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[0..12]), &header[16..24]);
    if crc != le_u32(&header[12..16]) {
        return Err("WAL file header checksum mismatch".into());
    }
    let base_lsn = Lsn(le_u64(&header[16..24]));
    // Every LSN in the file must be representable; refusing here keeps the arithmetic below total.
    if base_lsn.0 > u64::MAX / 2 {
        return Err(format!("WAL file header base LSN {base_lsn} is out of range"));
    }
    Ok(base_lsn)
}

/// The record starting at `pos` of `area` (the bytes after the file header, whose first byte is at
/// LSN `first`), if it is intact: it fits, its length is sane, it names its own position, and its
/// checksum matches. Returns the LSN, the payload and the record's total size.
fn record_at(area: &[u8], pos: usize, first: Lsn) -> Option<(Lsn, &[u8], usize)> {
    let header = area.get(pos..pos.checked_add(RECORD_HEADER_BYTES)?)?;
    let len = le_u32(&header[0..4]) as usize;
    if len > WAL_RECORD_BYTES_MAX {
        return None;
    }
    // The position check comes before the checksum so that scanning garbage for a record costs
    // eight byte comparisons per offset, not a CRC over up to WAL_RECORD_BYTES_MAX bytes.
    let lsn = first.checked_add(pos as u64)?;
    if le_u64(&header[8..16]) != lsn.0 {
        return None;
    }
    let start = pos + RECORD_HEADER_BYTES;
    let payload = area.get(start..start.checked_add(len)?)?;
    if record_crc(lsn, payload) != le_u32(&header[4..8]) {
        return None;
    }
    Some((lsn, payload, RECORD_HEADER_BYTES + len))
}

/// What a scan of a record area found: the intact records and where the intact prefix ends.
#[derive(Debug, PartialEq)]
struct Scan {
    records: Vec<Record>,
    intact_bytes: usize,
}

/// Damage in the middle of the log: the record at `damaged` is bad, yet one at `intact` follows.
#[derive(Debug, PartialEq)]
struct Corruption {
    damaged: Lsn,
    intact: Lsn,
}

/// Applies the recovery rule of the module header to one file's record area.
fn scan(area: &[u8], first: Lsn) -> Result<Scan, Corruption> {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos < area.len() {
        match record_at(area, pos, first) {
            Some((lsn, payload, size)) => {
                records.push(Record { lsn, payload: payload.to_vec() });
                pos += size;
            }
            None => {
                let last_start = area.len().saturating_sub(RECORD_HEADER_BYTES);
                if let Some(next) = (pos + 1..=last_start).find(|&q| record_at(area, q, first).is_some()) {
                    return Err(Corruption { damaged: Lsn(first.0 + pos as u64), intact: Lsn(first.0 + next as u64) });
                }
                break;
            }
        }
    }
    Ok(Scan { records, intact_bytes: pos })
}

// ───────────────────────────────────────── Wal ─────────────────────────────────────────

enum Sink {
    File {
        file: File,
        path: PathBuf,
    },
    /// `--ephemeral`: the LSNs advance, the bytes go nowhere.
    Memory,
}

/// The write-ahead log. Three positions move forward, never back:
///
/// ```text
///   start ≤ flushed ≤ written ≤ current
///   │       │         │         └ end of the last appended record (pg_current_wal_insert_lsn)
///   │       │         └ end of what the OS has been given          (pg_current_wal_lsn)
///   │       └ end of what fdatasync made durable                   (pg_current_wal_flush_lsn)
///   └ first record of this file (moves to `current` at a checkpoint reset)
/// ```
///
/// Dropping a `Wal` does not flush it: records that were appended but not flushed are lost, just
/// as they would be in a crash, so a test cannot pass by accident of an orderly shutdown.
pub struct Wal {
    sink: Sink,
    /// Encoded records between `written` and `current`.
    buffer: Vec<u8>,
    start: Lsn,
    flushed: Lsn,
    written: Lsn,
    current: Lsn,
    /// Set when a write or fsync failed. After a failed fsync, Linux may have dropped the dirty
    /// pages and marked them clean, so a retry can "succeed" with the data gone (PostgreSQL's
    /// "fsyncgate"); the only safe answer is to refuse every later write and let a restart
    /// recover from what the file really holds.
    failed: bool,
    /// Durability outside the lock, for a file-backed log (see "Group commit" above).
    group: Option<std::sync::Arc<GroupFlush>>,
}

/// The part of a [`Wal`] that sessions use without holding the database's lock: a second handle
/// on the file, and the written and flushed positions as atomics.
pub struct GroupFlush {
    /// The file's handle, replaced when a checkpoint starts a new file. The mutex is also the
    /// turn: one fsync at a time.
    turn: std::sync::Mutex<File>,
    written: std::sync::atomic::AtomicU64,
    flushed: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicBool,
}

impl GroupFlush {
    /// Returns once everything before `target` is durable: at once when an fsync already covered
    /// it, else after the fsync this call or the one running before it makes. Blocks the thread.
    pub fn flush_to(&self, target: Lsn) -> io::Result<Lsn> {
        use std::sync::atomic::Ordering;
        let flushed = || Lsn(self.flushed.load(Ordering::Acquire));
        if flushed() >= target {
            return Ok(flushed());
        }
        let file = self.turn.lock().unwrap_or_else(|p| p.into_inner());
        if self.failed.load(Ordering::Acquire) {
            return Err(io::Error::other("WAL is unusable after an earlier write or fsync failure"));
        }
        if flushed() >= target {
            return Ok(flushed());
        }
        // Everything the OS has been given up to now, which includes `target` (its records were
        // written before the caller let go of the database's lock), goes in this fsync.
        let upto = self.written.load(Ordering::Acquire);
        if let Err(e) = file.sync_data() {
            self.failed.store(true, Ordering::Release);
            return Err(e);
        }
        self.flushed.fetch_max(upto, Ordering::AcqRel);
        Ok(flushed())
    }

    fn new(file: &File, at: Lsn) -> io::Result<std::sync::Arc<GroupFlush>> {
        Ok(std::sync::Arc::new(GroupFlush {
            turn: std::sync::Mutex::new(file.try_clone()?),
            written: at.0.into(),
            flushed: at.0.into(),
            failed: false.into(),
        }))
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("current_lsn", &self.current_lsn())
            .field("flushed_lsn", &self.flushed_lsn())
            .finish()
    }
}

impl Wal {
    /// Opens the log at `path`, creating it if it does not exist (or is empty), and returns the
    /// intact records in order. A torn or damaged tail is cut off the file; damage followed by an
    /// intact record is an `InvalidData` error and leaves the file untouched (see the module header).
    pub fn open(path: &Path) -> io::Result<(Wal, Vec<Record>)> {
        let exists_with_bytes = match fs::metadata(path) {
            Ok(meta) => meta.len() > 0,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        if !exists_with_bytes {
            create_file(path, Lsn(0))?;
        }
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let base_lsn = decode_file_header(&bytes).map_err(|why| invalid_data(path, why))?;
        let first = Lsn(base_lsn.0 + FILE_HEADER_BYTES as u64);
        let scan = scan(&bytes[FILE_HEADER_BYTES..], first).map_err(|c| {
            invalid_data(
                path,
                format!(
                    "record at {} is damaged but an intact record follows at {}; refusing to cut \
                     records that may have been acknowledged",
                    c.damaged, c.intact
                ),
            )
        })?;
        let end = FILE_HEADER_BYTES + scan.intact_bytes;
        if end < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                at = %Lsn(base_lsn.0 + end as u64),
                bytes = bytes.len() - end,
                "WAL: cutting a torn tail"
            );
            file.set_len(end as u64)?;
        }
        // What was read may still be only in the page cache (the previous run may have died
        // between write and fsync); make it durable before anything is built on it.
        file.sync_all()?;
        file.seek(SeekFrom::Start(end as u64))?;
        let end_lsn = Lsn(base_lsn.0 + end as u64);
        let group = Some(GroupFlush::new(&file, end_lsn)?);
        let wal = Wal {
            sink: Sink::File { file, path: path.to_path_buf() },
            buffer: Vec::new(),
            start: first,
            flushed: end_lsn,
            written: end_lsn,
            current: end_lsn,
            failed: false,
            group,
        };
        Ok((wal, scan.records))
    }

    /// A log for `--ephemeral`: the same API and LSNs as a new file, and nothing touches the disk.
    pub fn ephemeral() -> Wal {
        let first = Lsn(FILE_HEADER_BYTES as u64);
        Wal {
            sink: Sink::Memory,
            buffer: Vec::new(),
            start: first,
            flushed: first,
            written: first,
            current: first,
            failed: false,
            group: None,
        }
    }

    /// Adds a record to the buffer and returns its LSN. Nothing is durable until [`Wal::flush`]
    /// with `sync`. Refuses a payload over [`WAL_RECORD_BYTES_MAX`] (`InvalidInput`), and every
    /// call after a failed write. Once [`WAL_BUFFER_WRITE_BYTES`] wait, they are written out
    /// (not fsynced), like PostgreSQL when its `wal_buffers` fill up.
    pub fn append(&mut self, payload: &[u8]) -> io::Result<Lsn> {
        self.check_usable()?;
        if payload.len() > WAL_RECORD_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WAL record of {} bytes exceeds the limit of {WAL_RECORD_BYTES_MAX}", payload.len()),
            ));
        }
        let lsn = self.current;
        let end = lsn
            .checked_add((RECORD_HEADER_BYTES + payload.len()) as u64)
            .ok_or_else(|| io::Error::other("WAL LSN space exhausted"))?;
        if let Sink::File { .. } = self.sink {
            encode_record(&mut self.buffer, lsn, payload);
        }
        self.current = end;
        if self.buffer.len() >= WAL_BUFFER_WRITE_BYTES {
            self.write_buffer()?;
        }
        Ok(lsn)
    }

    /// Writes the buffered records to the file and, with `sync`, waits for `fdatasync`. Returns
    /// the LSN before which everything is now written (`sync` false) or durable (`sync` true).
    pub fn flush(&mut self, sync: bool) -> io::Result<Lsn> {
        self.check_usable()?;
        self.write_buffer()?;
        if !sync {
            return Ok(self.written);
        }
        if self.flushed < self.written {
            if let Sink::File { file, .. } = &mut self.sink {
                if let Err(e) = file.sync_data() {
                    self.fail();
                    return Err(e);
                }
            }
            self.flushed = self.written;
            if let Some(g) = &self.group {
                g.flushed.fetch_max(self.flushed.0, std::sync::atomic::Ordering::AcqRel);
            }
        }
        Ok(self.flushed_lsn())
    }

    /// What waits for durability outside the lock; `None` for an ephemeral log, whose flushes
    /// are immediate.
    pub fn group(&self) -> Option<std::sync::Arc<GroupFlush>> {
        self.group.clone()
    }

    fn fail(&mut self) {
        self.failed = true;
        if let Some(g) = &self.group {
            g.failed.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// Where the next record will go: `pg_current_wal_insert_lsn()`.
    pub fn current_lsn(&self) -> Lsn {
        self.current
    }

    /// End of what has been handed to the OS: `pg_current_wal_lsn()`.
    pub fn written_lsn(&self) -> Lsn {
        self.written
    }

    /// End of what is durable: `pg_current_wal_flush_lsn()`.
    pub fn flushed_lsn(&self) -> Lsn {
        let grouped = self.group.as_ref().map_or(0, |g| g.flushed.load(std::sync::atomic::Ordering::Acquire));
        Lsn(self.flushed.0.max(grouped))
    }

    /// The LSN of this file's first record. Records before it were let go at a checkpoint.
    pub fn start_lsn(&self) -> Lsn {
        self.start
    }

    /// Starts the log afresh at [`Wal::current_lsn`], dropping every record before it, buffered
    /// ones included, and returns that LSN (the new [`Wal::start_lsn`]). LSNs carry on from
    /// where they were, so `pg_wal_lsn_diff` across a checkpoint still counts record bytes.
    ///
    /// Call it only once a checkpoint that reflects every record appended so far is durable, and
    /// with no append in between (hold the lock across both). The replacement is atomic: a new
    /// file is written and fsynced beside the old one, renamed over it, and the directory fsynced.
    /// A crash before the rename leaves the old log, which still replays correctly provided the
    /// caller skips records below the checkpoint's LSN; a crash after it leaves the new, empty one.
    pub fn reset_after_checkpoint(&mut self) -> io::Result<Lsn> {
        self.check_usable()?;
        let start = self.current;
        if let Sink::File { file, path } = &mut self.sink {
            // The new file's byte 0 stands for `start - 24`, so its first record lands at `start`.
            let replaced = create_file(path, Lsn(start.0 - FILE_HEADER_BYTES as u64)).and_then(|()| {
                let mut new = OpenOptions::new().read(true).write(true).open(&*path)?;
                new.seek(SeekFrom::End(0))?;
                Ok(new)
            });
            let handle = replaced.and_then(|new| Ok((new.try_clone()?, new)));
            match handle {
                Ok((second, new)) => {
                    *file = new;
                    if let Some(g) = &self.group {
                        *g.turn.lock().unwrap_or_else(|p| p.into_inner()) = second;
                    }
                }
                Err(e) => {
                    // Which file is at `path` is now unknown (the rename may have happened), and
                    // appending to the old handle could write to an unlinked file; stop here.
                    self.fail();
                    return Err(e);
                }
            }
        }
        self.buffer.clear();
        self.start = start;
        self.written = start;
        self.flushed = start;
        if let Some(g) = &self.group {
            g.written.fetch_max(start.0, std::sync::atomic::Ordering::AcqRel);
            g.flushed.fetch_max(start.0, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(start)
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.failed || self.group.as_ref().is_some_and(|g| g.failed.load(std::sync::atomic::Ordering::Acquire)) {
            return Err(io::Error::other("WAL is unusable after an earlier write or fsync failure"));
        }
        Ok(())
    }

    fn write_buffer(&mut self) -> io::Result<()> {
        if let Sink::File { file, .. } = &mut self.sink {
            if !self.buffer.is_empty() {
                if let Err(e) = file.write_all(&self.buffer) {
                    self.fail();
                    return Err(e);
                }
                self.buffer.clear();
            }
        }
        self.written = self.current;
        if let Some(g) = &self.group {
            g.written.fetch_max(self.written.0, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(())
    }
}

fn invalid_data(path: &Path, why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("WAL {}: {why}", path.display()))
}

/// Writes a file holding only a header for `base_lsn` and puts it at `path` atomically: written
/// and fsynced under a temporary name, renamed over `path`, directory fsynced. A file header is
/// therefore never torn, which is why a short or damaged header is an error and not a cut.
fn create_file(path: &Path, base_lsn: Lsn) -> io::Result<()> {
    write_file_atomically(path, &encode_file_header(base_lsn))
}

/// Puts `bytes` at `path` so that a crash leaves either the old file or the whole new one:
/// written and fsynced under a temporary name, renamed over `path`, directory fsynced.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// A whole log file in memory, as [`Wal::open`] reads it: a header for a log whose first record
/// is at LSN 24, then `payloads` as records. A checkpoint file is such a log.
pub fn encode_log(payloads: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out = encode_file_header(Lsn(0)).to_vec();
    for p in payloads {
        let lsn = Lsn(out.len() as u64);
        encode_record(&mut out, lsn, &p);
    }
    out
}

// ────────────────────────────────── WalEntry encoding ──────────────────────────────────

/// A change as the executor may log it. The log itself never looks inside a payload; this is a
/// ready-made, versioned encoding for it.
///
/// ```text
///   payload  = version u8 (= 1) ‖ tag u8 ‖ fields, in the order declared below
///   u32      = 4 bytes little-endian (xid, cid, ctid)
///   string   = len u32 ‖ len bytes of UTF-8
///   row      = count u32 ‖ count × datum
///   datum    = 0xFFFFFFFF (NULL)  |  len u32 ‖ len bytes (the text form of the value)
///   tags: Begin 1, Commit 2, Abort 3, Insert 4, Delete 5, Update 6, CreateTable 7, DropTable 8
/// ```
///
/// `Update` records only the link (the old version's `xmax` and `next`); the new version's row
/// is logged by the `Insert` at `new_ctid`. No command ids are kept outside `Insert`: after a
/// crash no transaction is in progress, and `cid` only orders the writes of one that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalEntry {
    Begin {
        xid: Xid,
    },
    Commit {
        xid: Xid,
    },
    Abort {
        xid: Xid,
    },
    /// A new version at `ctid` (its place when it was written: replay maps it to the place it
    /// gets, for the Update and Delete records that name it later).
    Insert {
        table: String,
        ctid: Ctid,
        xid: Xid,
        cid: u32,
        row: Vec<Option<Vec<u8>>>,
    },
    Delete {
        table: String,
        ctid: Ctid,
        xid: Xid,
    },
    Update {
        table: String,
        ctid: Ctid,
        new_ctid: Ctid,
        xid: Xid,
    },
    CreateTable {
        name: String,
        sql: String,
    },
    DropTable {
        name: String,
    },
    /// Opens a checkpoint file (`sql::checkpoint`): the state that follows reflects every record
    /// of the log before LSN `redo`, so replay takes the log from `redo` on.
    Checkpoint {
        redo: u64,
    },
    /// A table's serial sequence has handed out values up to `value`. Not transactional, as
    /// PostgreSQL's sequences are not: replay applies it where it stands.
    Sequence {
        table: String,
        value: i64,
    },
}

/// The version byte every encoded entry starts with. Bump it when a layout changes, and keep
/// decoding the old one for as long as logs written by it may be replayed.
pub const WAL_ENTRY_VERSION: u8 = 2;

const NULL_DATUM: u32 = u32::MAX;

/// Why a payload is not a [`WalEntry`]; `at` is the byte offset where decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Truncated {
        at: usize,
    },
    UnknownVersion(u8),
    UnknownTag(u8),
    BadUtf8 {
        at: usize,
    },
    /// A count or length larger than the bytes left could possibly hold.
    BadLength {
        at: usize,
        len: u32,
    },
    TrailingBytes {
        at: usize,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { at } => write!(f, "WAL entry ends early at byte {at}"),
            DecodeError::UnknownVersion(v) => write!(f, "WAL entry version {v} is not supported"),
            DecodeError::UnknownTag(t) => write!(f, "unknown WAL entry tag {t}"),
            DecodeError::BadUtf8 { at } => write!(f, "WAL entry string at byte {at} is not UTF-8"),
            DecodeError::BadLength { at, len } => write!(f, "WAL entry length {len} at byte {at} exceeds the entry"),
            DecodeError::TrailingBytes { at } => write!(f, "WAL entry has trailing bytes from byte {at}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl WalEntry {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![WAL_ENTRY_VERSION, self.tag()];
        let u32_ = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
        let bytes = |out: &mut Vec<u8>, b: &[u8]| {
            // A length that does not fit in u32 cannot reach here: a datum arrives in one
            // PostgreSQL message, and those are capped at PG_MESSAGE_BYTES_MAX (< 1 GiB).
            let len = u32::try_from(b.len()).ok().filter(|&n| n != NULL_DATUM).expect("WAL entry field over 4 GiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(b);
        };
        match self {
            WalEntry::Begin { xid } | WalEntry::Commit { xid } | WalEntry::Abort { xid } => {
                u32_(&mut out, *xid);
            }
            WalEntry::Insert { table, ctid, xid, cid, row } => {
                bytes(&mut out, table.as_bytes());
                u32_(&mut out, ctid.0);
                u32_(&mut out, *xid);
                u32_(&mut out, *cid);
                let count = u32::try_from(row.len()).expect("row of over 4 billion columns");
                u32_(&mut out, count);
                for datum in row {
                    match datum {
                        None => u32_(&mut out, NULL_DATUM),
                        Some(b) => bytes(&mut out, b),
                    }
                }
            }
            WalEntry::Delete { table, ctid, xid } => {
                bytes(&mut out, table.as_bytes());
                u32_(&mut out, ctid.0);
                u32_(&mut out, *xid);
            }
            WalEntry::Update { table, ctid, new_ctid, xid } => {
                bytes(&mut out, table.as_bytes());
                u32_(&mut out, ctid.0);
                u32_(&mut out, new_ctid.0);
                u32_(&mut out, *xid);
            }
            WalEntry::CreateTable { name, sql } => {
                bytes(&mut out, name.as_bytes());
                bytes(&mut out, sql.as_bytes());
            }
            WalEntry::DropTable { name } => {
                bytes(&mut out, name.as_bytes());
            }
            WalEntry::Checkpoint { redo } => out.extend_from_slice(&redo.to_le_bytes()),
            WalEntry::Sequence { table, value } => {
                bytes(&mut out, table.as_bytes());
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out
    }

    /// Decodes a payload made by [`WalEntry::encode`]. Any other input is an error, never a
    /// panic, and no count or length is trusted before the bytes for it are known to be there.
    pub fn decode(payload: &[u8]) -> Result<WalEntry, DecodeError> {
        let mut r = Reader { buf: payload, pos: 0 };
        let version = r.u8()?;
        if version != WAL_ENTRY_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let entry = match r.u8()? {
            1 => WalEntry::Begin { xid: r.u32()? },
            2 => WalEntry::Commit { xid: r.u32()? },
            3 => WalEntry::Abort { xid: r.u32()? },
            4 => {
                let table = r.string()?;
                let ctid = Ctid(r.u32()?);
                let xid = r.u32()?;
                let cid = r.u32()?;
                let at = r.pos;
                let count = r.u32()?;
                // Every datum takes at least its 4-byte length, so this bounds the allocation by
                // the payload's own size whatever the count claims.
                if count as usize > r.remaining() / 4 {
                    return Err(DecodeError::BadLength { at, len: count });
                }
                let mut row = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let at = r.pos;
                    let len = r.u32()?;
                    row.push(if len == NULL_DATUM { None } else { Some(r.bytes(at, len)?.to_vec()) });
                }
                WalEntry::Insert { table, ctid, xid, cid, row }
            }
            5 => WalEntry::Delete { table: r.string()?, ctid: Ctid(r.u32()?), xid: r.u32()? },
            6 => WalEntry::Update { table: r.string()?, ctid: Ctid(r.u32()?), new_ctid: Ctid(r.u32()?), xid: r.u32()? },
            7 => WalEntry::CreateTable { name: r.string()?, sql: r.string()? },
            8 => WalEntry::DropTable { name: r.string()? },
            9 => WalEntry::Checkpoint { redo: u64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes")) },
            10 => WalEntry::Sequence {
                table: r.string()?,
                value: i64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes")),
            },
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        if r.remaining() > 0 {
            return Err(DecodeError::TrailingBytes { at: r.pos });
        }
        Ok(entry)
    }

    fn tag(&self) -> u8 {
        match self {
            WalEntry::Begin { .. } => 1,
            WalEntry::Commit { .. } => 2,
            WalEntry::Abort { .. } => 3,
            WalEntry::Insert { .. } => 4,
            WalEntry::Delete { .. } => 5,
            WalEntry::Update { .. } => 6,
            WalEntry::CreateTable { .. } => 7,
            WalEntry::DropTable { .. } => 8,
            WalEntry::Checkpoint { .. } => 9,
            WalEntry::Sequence { .. } => 10,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let end = end.ok_or(DecodeError::Truncated { at: self.pos })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(le_u32(self.take(4)?))
    }

    /// `len` bytes whose length word was at `at`.
    fn bytes(&mut self, at: usize, len: u32) -> Result<&'a [u8], DecodeError> {
        if len as usize > self.remaining() {
            return Err(DecodeError::BadLength { at, len });
        }
        self.take(len as usize)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let at = self.pos;
        let len = self.u32()?;
        let bytes = self.bytes(at, len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::BadUtf8 { at })
    }
}

// ───────────────────────────────────────── tests ─────────────────────────────────────────

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic xorshift generator, so a failing fuzz case reproduces exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn payloads() -> Vec<Vec<u8>> {
        vec![b"first".to_vec(), Vec::new(), vec![0xAB; 300], b"last one".to_vec()]
    }

    /// A log holding `payloads()`, flushed; returns its path, the records and each record's offset.
    fn written_log(dir: &Path) -> (PathBuf, Vec<Record>, Vec<usize>) {
        let path = dir.join("wal");
        let (mut wal, found) = Wal::open(&path).unwrap();
        assert!(found.is_empty());
        let mut records = Vec::new();
        for p in payloads() {
            let lsn = wal.append(&p).unwrap();
            records.push(Record { lsn, payload: p });
        }
        assert_eq!(wal.flush(true).unwrap(), wal.current_lsn());
        let offsets = records.iter().map(|r| r.lsn.0 as usize).collect();
        (path, records, offsets)
    }

    fn flip(path: &Path, offset: usize, mask: u8) {
        let mut bytes = fs::read(path).unwrap();
        bytes[offset] ^= mask;
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn lsn_formats_as_postgresql_does() {
        assert_eq!(Lsn(0).to_string(), "0/0");
        assert_eq!(Lsn(0x16B3748).to_string(), "0/16B3748");
        assert_eq!(Lsn(1 << 32).to_string(), "1/0");
        assert_eq!(Lsn(0x2A_0000_0001).to_string(), "2A/1");
        assert_eq!(Lsn(u64::MAX).to_string(), "FFFFFFFF/FFFFFFFF");
    }

    #[test]
    fn lsn_parses_what_postgresql_accepts() {
        assert_eq!(Lsn::parse("0/0"), Some(Lsn(0)));
        assert_eq!(Lsn::parse("0/16B3748"), Some(Lsn(0x16B3748)));
        assert_eq!(Lsn::parse("0/16b3748"), Some(Lsn(0x16B3748)));
        assert_eq!(Lsn::parse("1/0"), Some(Lsn(1 << 32)));
        assert_eq!(Lsn::parse("00000001/00000000"), Some(Lsn(1 << 32)));
        assert_eq!(Lsn::parse("FFFFFFFF/FFFFFFFF"), Some(Lsn(u64::MAX)));
        for bad in ["", "0", "/0", "0/", "123456789/0", "0/123456789", " 0/0", "0/0 ", "+1/0", "g/0", "0/0/0", "-1/0"] {
            assert_eq!(Lsn::parse(bad), None, "{bad:?}");
        }
        for lsn in [0, 24, 0x16B3748, 1 << 32, u64::MAX] {
            assert_eq!(Lsn::parse(&Lsn(lsn).to_string()), Some(Lsn(lsn)));
        }
    }

    #[test]
    fn lsn_diff_is_a_subtraction() {
        assert_eq!(Lsn::parse("1/0").unwrap().diff(Lsn::parse("0/16B3748").unwrap()), (1 << 32) - 0x16B3748);
        assert_eq!(Lsn(10).diff(Lsn(30)), -20);
        assert_eq!(Lsn(u64::MAX).diff(Lsn(0)), u64::MAX as i128);
    }

    #[test]
    fn worked_example_of_the_module_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        assert_eq!(wal.append(b"hello").unwrap().to_string(), "0/18");
        assert_eq!(wal.current_lsn().to_string(), "0/2D");
        wal.flush(true).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 45);
        assert_eq!(&bytes[..8], b"TRRMWAL\0");
        let record: &[u8] = &bytes[24..];
        let expected: &[u8] =
            &[5, 0, 0, 0, 0x07, 0xc0, 0x32, 0xe3, 0x18, 0, 0, 0, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'];
        assert_eq!(record, expected);
    }

    #[test]
    fn records_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, records, _) = written_log(dir.path());
        assert_eq!(records[0].lsn, Lsn(24));
        for pair in records.windows(2) {
            assert_eq!(pair[0].end_lsn(), pair[1].lsn);
        }
        let (mut wal, found) = Wal::open(&path).unwrap();
        assert_eq!(found, records);
        let end = records.last().unwrap().end_lsn();
        assert_eq!((wal.current_lsn(), wal.written_lsn(), wal.flushed_lsn()), (end, end, end));
        assert_eq!(wal.start_lsn(), Lsn(24));
        // Appending after a reopen carries on at the end.
        assert_eq!(wal.append(b"more").unwrap(), end);
        wal.flush(true).unwrap();
        let (_, found) = Wal::open(&path).unwrap();
        assert_eq!(found.len(), records.len() + 1);
        assert_eq!(found.last().unwrap().payload, b"more");
    }

    #[test]
    fn flush_moves_written_then_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(&dir.path().join("wal")).unwrap();
        let start = wal.current_lsn();
        wal.append(b"abc").unwrap();
        let end = wal.current_lsn();
        assert_eq!(end, Lsn(start.0 + 19));
        assert_eq!((wal.written_lsn(), wal.flushed_lsn()), (start, start));
        assert_eq!(wal.flush(false).unwrap(), end);
        assert_eq!((wal.written_lsn(), wal.flushed_lsn()), (end, start));
        assert_eq!(wal.flush(true).unwrap(), end);
        assert_eq!(wal.flushed_lsn(), end);
        // Nothing new: a second sync is a no-op that reports the same position.
        assert_eq!(wal.flush(true).unwrap(), end);
    }

    #[test]
    fn unflushed_records_are_not_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        wal.append(b"kept").unwrap();
        wal.flush(true).unwrap();
        wal.append(b"lost").unwrap();
        drop(wal);
        let (_, found) = Wal::open(&path).unwrap();
        assert_eq!(found.iter().map(|r| r.payload.as_slice()).collect::<Vec<_>>(), [b"kept"]);
    }

    #[test]
    fn a_torn_last_record_is_cut_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let (path, records, offsets) = written_log(dir.path());
        let original = fs::read(&path).unwrap();
        let last_start = *offsets.last().unwrap();
        for cut in last_start..original.len() {
            fs::write(&path, &original[..cut]).unwrap();
            let (mut wal, found) = Wal::open(&path).unwrap();
            assert_eq!(found, records[..records.len() - 1], "cut at {cut}");
            assert_eq!(fs::metadata(&path).unwrap().len() as usize, last_start, "cut at {cut}");
            assert_eq!(wal.append(b"after").unwrap(), Lsn(last_start as u64));
            wal.flush(true).unwrap();
            let (_, found) = Wal::open(&path).unwrap();
            assert_eq!(found.len(), records.len());
            assert_eq!(found.last().unwrap().payload, b"after");
        }
    }

    #[test]
    fn a_damaged_last_record_is_cut_whatever_byte_is_hit() {
        let dir = tempfile::tempdir().unwrap();
        let (path, records, offsets) = written_log(dir.path());
        let original = fs::read(&path).unwrap();
        for offset in *offsets.last().unwrap()..original.len() {
            for mask in [0x01, 0x80, 0xFF] {
                fs::write(&path, &original).unwrap();
                flip(&path, offset, mask);
                let (_, found) = Wal::open(&path).unwrap();
                assert_eq!(found, records[..records.len() - 1], "byte {offset} ^ {mask:#x}");
            }
        }
    }

    #[test]
    fn a_zero_filled_or_misplaced_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (path, records, offsets) = written_log(dir.path());
        let original = fs::read(&path).unwrap();
        // Some filesystems extend a file with zeros when a crash beats the data to the disk.
        let mut zeros = original.clone();
        zeros.extend_from_slice(&[0; 4096]);
        fs::write(&path, &zeros).unwrap();
        assert_eq!(Wal::open(&path).unwrap().1, records);
        assert_eq!(fs::read(&path).unwrap(), original);
        // An intact copy of the first record at the end names the wrong position: not ours.
        let mut copied = original.clone();
        copied.extend_from_slice(&original[offsets[0]..offsets[1]]);
        fs::write(&path, &copied).unwrap();
        assert_eq!(Wal::open(&path).unwrap().1, records);
    }

    #[test]
    fn damage_in_the_middle_is_an_error_and_the_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _, offsets) = written_log(dir.path());
        let original = fs::read(&path).unwrap();
        // The payload, the crc, the lsn and the len of the second record (of four).
        for offset in [offsets[1] + 16, offsets[1] + 4, offsets[1] + 8, offsets[1], offsets[1] + 3] {
            fs::write(&path, &original).unwrap();
            flip(&path, offset, 0x40);
            let err = Wal::open(&path).err().unwrap_or_else(|| panic!("byte {offset}: opened"));
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("intact record follows"), "{err}");
            assert_eq!(fs::read(&path).unwrap().len(), original.len());
        }
    }

    #[test]
    fn a_bad_file_header_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _, _) = written_log(dir.path());
        let original = fs::read(&path).unwrap();
        for offset in [0, 7, 8, 12, 16, 23] {
            fs::write(&path, &original).unwrap();
            flip(&path, offset, 0x10);
            let err = Wal::open(&path).err().expect("opened a damaged header");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        }
        fs::write(&path, &original[..10]).unwrap();
        assert_eq!(Wal::open(&path).err().unwrap().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn an_empty_file_becomes_a_new_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        fs::write(&path, b"").unwrap();
        let (wal, found) = Wal::open(&path).unwrap();
        assert!(found.is_empty());
        assert_eq!(wal.current_lsn(), Lsn(24));
        assert_eq!(fs::read(&path).unwrap().len(), FILE_HEADER_BYTES);
    }

    #[test]
    fn reset_after_checkpoint_drops_old_records_and_keeps_lsns() {
        let dir = tempfile::tempdir().unwrap();
        let (path, records, _) = written_log(dir.path());
        let (mut wal, _) = Wal::open(&path).unwrap();
        wal.append(b"buffered, covered by the checkpoint").unwrap();
        let checkpoint = wal.current_lsn();
        assert_eq!(wal.reset_after_checkpoint().unwrap(), checkpoint);
        assert_eq!(wal.start_lsn(), checkpoint);
        assert_eq!((wal.written_lsn(), wal.flushed_lsn()), (checkpoint, checkpoint));
        assert!(!dir.path().join("wal.tmp").exists());
        assert_eq!(fs::read(&path).unwrap().len(), FILE_HEADER_BYTES);
        assert_eq!(wal.append(b"after").unwrap(), checkpoint);
        wal.flush(true).unwrap();
        let (wal, found) = Wal::open(&path).unwrap();
        assert_eq!(found, [Record { lsn: checkpoint, payload: b"after".to_vec() }]);
        assert_eq!(wal.start_lsn(), checkpoint);
        assert!(checkpoint > records.last().unwrap().end_lsn());
    }

    #[test]
    fn ephemeral_mode_counts_lsns_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::ephemeral();
        assert_eq!(wal.current_lsn(), Lsn(24));
        assert_eq!(wal.append(b"hello").unwrap(), Lsn(24));
        assert_eq!(wal.flushed_lsn(), Lsn(24));
        assert_eq!(wal.flush(false).unwrap(), Lsn(45));
        assert_eq!(wal.flush(true).unwrap(), Lsn(45));
        assert_eq!(wal.flushed_lsn(), Lsn(45));
        assert_eq!(wal.reset_after_checkpoint().unwrap(), Lsn(45));
        assert_eq!(wal.append(b"x").unwrap(), Lsn(45));
        assert!(wal.buffer.is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_oversized_payload_is_refused_and_the_log_goes_on() {
        let mut wal = Wal::ephemeral();
        let err = wal.append(&vec![0; WAL_RECORD_BYTES_MAX + 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(wal.current_lsn(), Lsn(24));
        assert_eq!(wal.append(b"ok").unwrap(), Lsn(24));
    }

    #[test]
    fn a_full_buffer_is_written_without_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = Wal::open(&path).unwrap();
        let payload = vec![7u8; 4096];
        while wal.written_lsn() == wal.start_lsn() {
            wal.append(&payload).unwrap();
        }
        assert_eq!(wal.written_lsn(), wal.current_lsn());
        assert_eq!(wal.flushed_lsn(), wal.start_lsn());
        assert!(fs::metadata(&path).unwrap().len() as usize >= WAL_BUFFER_WRITE_BYTES);
    }

    #[test]
    fn scanning_mangled_logs_never_panics() {
        let dir = tempfile::tempdir().unwrap();
        let (path, records, _) = written_log(dir.path());
        let original = fs::read(&path).unwrap();
        let area = &original[FILE_HEADER_BYTES..];
        let first = Lsn(FILE_HEADER_BYTES as u64);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let mut bytes = area.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            bytes.truncate(rng.below(bytes.len() + 1));
            match scan(&bytes, first) {
                // Whatever is kept is a prefix of what was written.
                Ok(s) => assert_eq!(s.records, records[..s.records.len()]),
                Err(c) => assert!(c.damaged < c.intact),
            }
        }
        for _ in 0..2_000 {
            let garbage: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
            let _ = scan(&garbage, first);
        }
    }

    fn sample_entries() -> Vec<WalEntry> {
        vec![
            WalEntry::Begin { xid: 3 },
            WalEntry::Commit { xid: u32::MAX },
            WalEntry::Abort { xid: 740 },
            WalEntry::Insert { table: "accounts".into(), ctid: Ctid(4), xid: 752, cid: 1, row: vec![] },
            WalEntry::Insert {
                table: "naïve".into(),
                ctid: Ctid(9),
                xid: 752,
                cid: 7,
                row: vec![Some(b"1".to_vec()), None, Some(Vec::new()), Some("80.50 €".as_bytes().to_vec())],
            },
            WalEntry::Delete { table: "accounts".into(), ctid: Ctid(0), xid: 753 },
            WalEntry::Update { table: "accounts".into(), ctid: Ctid(1), new_ctid: Ctid(3), xid: 752 },
            WalEntry::CreateTable { name: "t".into(), sql: "CREATE TABLE t (id int PRIMARY KEY, v text)".into() },
            WalEntry::DropTable { name: "".into() },
            WalEntry::Checkpoint { redo: 0x1_0000_0018 },
            WalEntry::Sequence { table: "ledger".into(), value: -3 },
        ]
    }

    #[test]
    fn entries_round_trip() {
        for entry in sample_entries() {
            let bytes = entry.encode();
            assert_eq!(bytes[0], WAL_ENTRY_VERSION);
            assert_eq!(WalEntry::decode(&bytes), Ok(entry.clone()));
            // Every strict prefix is an error, and so is one byte too many.
            for cut in 0..bytes.len() {
                assert!(WalEntry::decode(&bytes[..cut]).is_err(), "{entry:?} cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(WalEntry::decode(&longer), Err(DecodeError::TrailingBytes { at: bytes.len() }));
        }
        assert_eq!(
            WalEntry::Commit { xid: 0x0102_0304 }.encode(),
            [WAL_ENTRY_VERSION, 2, 0x04, 0x03, 0x02, 0x01],
            "layout of the doc comment"
        );
    }

    #[test]
    fn entry_decode_names_what_is_wrong() {
        assert_eq!(WalEntry::decode(&[]), Err(DecodeError::Truncated { at: 0 }));
        assert_eq!(WalEntry::decode(&[9, 1, 0, 0, 0, 0]), Err(DecodeError::UnknownVersion(9)));
        assert_eq!(WalEntry::decode(&[WAL_ENTRY_VERSION, 99]), Err(DecodeError::UnknownTag(99)));
        assert_eq!(WalEntry::decode(&[WAL_ENTRY_VERSION, 8, 1, 0, 0, 0, 0xFF]), Err(DecodeError::BadUtf8 { at: 2 }));
        assert_eq!(
            WalEntry::decode(&[WAL_ENTRY_VERSION, 8, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(DecodeError::BadLength { at: 2, len: 0x7FFF_FFFF })
        );
        // An Insert claiming four billion columns is refused before anything is reserved for them.
        // version, tag, empty table name, ctid, xid, cid, then the column count.
        let mut absurd = vec![WAL_ENTRY_VERSION, 4, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0];
        absurd.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(WalEntry::decode(&absurd), Err(DecodeError::BadLength { at: 18, len: u32::MAX }));
    }

    #[test]
    fn entry_decode_never_panics_on_garbage() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        let samples: Vec<Vec<u8>> = sample_entries().iter().map(WalEntry::encode).collect();
        for round in 0..50_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                // Pure noise, biased towards the version byte and small tags so it gets past them.
                let mut b: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                if b.len() >= 2 {
                    b[0] = WAL_ENTRY_VERSION;
                    b[1] = 1 + rng.below(9) as u8;
                }
                b
            } else {
                // A valid entry with a few bytes changed.
                let mut b = samples[rng.below(samples.len())].clone();
                for _ in 0..1 + rng.below(3) {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
                b
            };
            if let Ok(entry) = WalEntry::decode(&bytes) {
                // Whatever decodes is exactly what its encoding says.
                assert_eq!(entry.encode(), bytes);
            }
        }
    }

    // ── kill -9 ──
    //
    // The parent test runs this test binary again as a child, filtered to `crash_child_helper`
    // and pointed at a log by an environment variable. The child appends and fsyncs records one at
    // a time and prints `acked N` after each flush returns; the parent kills it with SIGKILL
    // mid-stream and reopens the log. Every record whose ack the parent read must be there.

    const CRASH_CHILD_ENV: &str = "TERRARIUM_WAL_CRASH_CHILD";
    const CRASH_ACKS_BEFORE_KILL: u64 = 200;

    fn crash_payload(i: u64) -> Vec<u8> {
        // Sizes vary so that records straddle page boundaries.
        let mut p = format!("record {i} ").into_bytes();
        p.resize(p.len() + (i as usize * 37) % 700, b'a' + (i % 26) as u8);
        p
    }

    /// Does nothing in a normal run; it is the child of `acknowledged_records_survive_sigkill`.
    #[test]
    fn crash_child_helper() {
        let Some(path) = std::env::var_os(CRASH_CHILD_ENV) else { return };
        let (mut wal, _) = Wal::open(Path::new(&path)).unwrap();
        let mut out = io::stdout().lock();
        for i in 0..1_000_000u64 {
            wal.append(&crash_payload(i)).unwrap();
            wal.flush(true).unwrap();
            writeln!(out, "acked {i}").unwrap();
            out.flush().unwrap();
        }
        // Not reached in practice; never outlive a parent that failed to kill us.
        std::thread::sleep(std::time::Duration::from_secs(60));
    }

    #[cfg(unix)]
    #[test]
    fn acknowledged_records_survive_sigkill() {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sql::wal::tests::crash_child_helper", "--nocapture", "--test-threads=1"])
            .env(CRASH_CHILD_ENV, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("acked ").and_then(|n| n.parse().ok()) {
                    let _ = tx.send(n);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut acked: Option<u64> = None;
        while acked.is_none_or(|a| a + 1 < CRASH_ACKS_BEFORE_KILL) {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(n) => acked = Some(n),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("child stopped acknowledging after {acked:?}: {e}");
                }
            }
        }
        // Child::kill is SIGKILL on Unix: no destructor, no flush, the process just ends.
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        // Acks still in the pipe were printed before the kill, so they count too.
        let acked = rx.try_iter().fold(acked.unwrap(), u64::max);

        let (_, records) = Wal::open(&path).unwrap();
        assert!(records.len() as u64 > acked, "{} records, {} acknowledged", records.len(), acked + 1);
        for (i, record) in records.iter().enumerate() {
            assert_eq!(record.payload, crash_payload(i as u64), "record {i}");
        }
    }
}
