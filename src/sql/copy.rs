//! COPY's text format, as PostgreSQL 15 reads and writes it (`copyfromparse.c`, `copyto.c`):
//! the options a COPY statement may carry, the stream of COPY FROM STDIN cut into lines and
//! fields, and rows written for COPY TO STDOUT. Sans-IO: the engine (`sql::engine`) feeds the
//! CopyData it receives and sends what this module writes.
//!
//! ```text
//!  CopyData (split anywhere) ─▶ LineReader::feed ─▶ next_line ─▶ split_fields ─▶ Option<String> per column
//!     a line ends in \n, \r\n or \r: the first line decides, and a later line ending otherwise
//!       is 22P04 (`literal carriage return found in data`)
//!     a backslash hides the byte after it from the line scan (an escaped newline is data)
//!     `\.` ends the data: what came before it on its line is the last row; the rest up to
//!       CopyDone is ignored
//!  fields: split at the delimiter (tab), a raw field equal to the NULL string (`\N`) is NULL,
//!     escapes \b \f \n \r \t \v, \ooo (octal), \xhh (hex), and \c for any other c
//! ```

use sqlparser::ast::{CopyLegacyOption, CopyOption, Ident, ObjectName, ObjectNamePart};

use super::wire::messages::{utf8, ErrorResponse, SqlState};
use crate::limits::{PG_COPY_BYTES_MAX, PG_COPY_LINE_BYTES_MAX};

/// PostgreSQL's `ERRCODE_BAD_COPY_FILE_FORMAT`.
const BAD_COPY_FILE_FORMAT: SqlState = SqlState(*b"22P04");

/// How much of a line or value an error's CONTEXT shows (PostgreSQL's `MAX_COPY_DATA_DISPLAY`).
const CONTEXT_DISPLAY_BYTES_MAX: usize = 100;

/// The options of a text-format COPY.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    pub delimiter: u8,
    /// The raw field that stands for NULL (`\N` unless `NULL 'x'` says otherwise).
    pub null: String,
    /// COPY FROM skips the first line; COPY TO writes the column names first.
    pub header: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { delimiter: b'\t', null: "\\N".into(), header: false }
    }
}

fn error(code: &[u8; 5], message: impl Into<String>) -> ErrorResponse {
    ErrorResponse::error(SqlState(*code), message)
}

/// Reads a COPY statement's options, new style (`WITH (FORMAT text, DELIMITER ',')`) and old
/// (`DELIMITER ',' NULL ''`), with PostgreSQL's checks. Only the text format is implemented: CSV
/// and binary are refused with 0A000. FREEZE is accepted and has no effect (every row here is
/// visible as soon as its transaction commits anyway).
pub fn text_options(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<TextOptions, ErrorResponse> {
    let mut out = TextOptions::default();
    let (mut format, mut delimiter, mut null, mut header, mut freeze) = (None, None, None, None, None);
    let redundant = || error(b"42601", "conflicting or redundant options");
    fn set<T>(slot: &mut Option<T>, v: T, redundant: impl Fn() -> ErrorResponse) -> Result<(), ErrorResponse> {
        if slot.is_some() {
            return Err(redundant());
        }
        *slot = Some(v);
        Ok(())
    }
    for o in options {
        match o {
            CopyOption::Format(f) => set(&mut format, f.value.to_lowercase(), redundant)?,
            CopyOption::Freeze(b) => set(&mut freeze, *b, redundant)?,
            CopyOption::Delimiter(c) => set(&mut delimiter, *c, redundant)?,
            CopyOption::Null(s) => set(&mut null, s.clone(), redundant)?,
            CopyOption::Header(b) => set(&mut header, *b, redundant)?,
            CopyOption::Quote(_) => return Err(error(b"0A000", "COPY quote available only in CSV mode")),
            CopyOption::Escape(_) => return Err(error(b"0A000", "COPY escape available only in CSV mode")),
            CopyOption::ForceQuote(_) => return Err(error(b"0A000", "COPY force quote available only in CSV mode")),
            CopyOption::ForceNotNull(_) => {
                return Err(error(b"0A000", "COPY force not null available only in CSV mode"))
            }
            CopyOption::ForceNull(_) => return Err(error(b"0A000", "COPY force null available only in CSV mode")),
            CopyOption::Encoding(e) => {
                let e = e.to_ascii_lowercase().replace(['-', '_'], "");
                if e != "utf8" && e != "unicode" {
                    return Err(error(b"0A000", "terrarium's COPY reads and writes UTF8 only"));
                }
            }
        }
    }
    for o in legacy {
        match o {
            CopyLegacyOption::Binary => set(&mut format, "binary".to_string(), redundant)?,
            CopyLegacyOption::Csv(_) => set(&mut format, "csv".to_string(), redundant)?,
            CopyLegacyOption::Delimiter(c) => set(&mut delimiter, *c, redundant)?,
            CopyLegacyOption::Null(s) => set(&mut null, s.clone(), redundant)?,
            CopyLegacyOption::Header => set(&mut header, true, redundant)?,
            other => return Err(error(b"42601", format!("syntax error at or near \"{other}\""))),
        }
    }
    match format.as_deref() {
        None | Some("text") => {}
        Some("csv") | Some("binary") => {
            return Err(error(b"0A000", "terrarium supports COPY in text format only (not CSV or binary)"))
        }
        Some(f) => return Err(error(b"22023", format!("COPY format \"{f}\" not recognized"))),
    }
    if let Some(d) = delimiter {
        if !d.is_ascii() {
            return Err(error(b"0A000", "COPY delimiter must be a single one-byte character"));
        }
        if d == '\n' || d == '\r' {
            return Err(error(b"22023", "COPY delimiter cannot be newline or carriage return"));
        }
        // These would be read as the start of an escape (backslash, \N, \t, \x41, \101, ...).
        if "\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(d) {
            return Err(error(b"22023", format!("COPY delimiter cannot be \"{d}\"")));
        }
        out.delimiter = d as u8;
    }
    if let Some(n) = null {
        if n.contains(['\n', '\r']) {
            return Err(error(b"22023", "COPY null representation cannot use newline or carriage return"));
        }
        out.null = n;
    }
    if out.null.as_bytes().contains(&out.delimiter) {
        return Err(error(b"22023", "COPY delimiter must not appear in the NULL specification"));
    }
    out.header = header.unwrap_or(false);
    Ok(out)
}

/// A relation name as PostgreSQL folds it: the last part, lower-cased unless quoted.
pub fn relation_name(n: &ObjectName) -> String {
    n.0.iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(column_name(i)),
            _ => None,
        })
        .next_back()
        .unwrap_or_default()
}

pub fn column_name(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// sqlparser reads COPY's boolean options only as `TRUE` / `FALSE` (or nothing); PostgreSQL also
/// takes `on`, `off`, `1`, `0`, `yes`, `no`, and pgbench sends `copy ... with (freeze on)`. When a
/// statement starting with COPY fails to parse, the engine retries it with those spelled as
/// TRUE / FALSE. `None`: nothing to rewrite.
pub fn spell_booleans(sql: &str) -> Option<String> {
    let t = sql.trim_start();
    if t.len() < 4 || !t[..4].eq_ignore_ascii_case("copy") {
        return None;
    }
    // Words outside quotes, with their byte ranges.
    let b = sql.as_bytes();
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                words.push((start, i));
            }
            _ => i += 1,
        }
    }
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    let mut changed = false;
    for pair in words.windows(2) {
        let (name, value) = (&sql[pair[0].0..pair[0].1], &sql[pair[1].0..pair[1].1]);
        if !["freeze", "header"].iter().any(|n| name.eq_ignore_ascii_case(n)) {
            continue;
        }
        let spelled = match value.to_ascii_lowercase().as_str() {
            "on" | "1" | "yes" => "TRUE",
            "off" | "0" | "no" => "FALSE",
            _ => continue,
        };
        out.push_str(&sql[last..pair[1].0]);
        out.push_str(spelled);
        last = pair[1].1;
        changed = true;
    }
    out.push_str(&sql[last..]);
    changed.then_some(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    Nl,
    Cr,
    CrNl,
}

/// Cuts COPY FROM STDIN's byte stream into lines, however the client split it into CopyData.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Where the line being read starts in `buf`.
    start: usize,
    /// How far that line has been scanned (never inside an escape: a backslash whose next byte
    /// has not arrived is scanned again).
    pos: usize,
    eol: Option<Eol>,
    /// Lines returned so far, and the number of the line last returned or failed (from 1).
    lines: u64,
    current: u64,
    /// `\.` was seen: whatever follows is ignored.
    ended: bool,
    received: usize,
}

impl LineReader {
    /// Adds a CopyData payload. Refuses a COPY larger than [`PG_COPY_BYTES_MAX`].
    pub fn feed(&mut self, data: &[u8]) -> Result<(), ErrorResponse> {
        if self.ended {
            return Ok(());
        }
        self.received = self.received.saturating_add(data.len());
        if self.received > PG_COPY_BYTES_MAX {
            return Err(error(b"54000", format!("COPY data larger than {PG_COPY_BYTES_MAX} bytes")));
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.pos -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The number of the line last returned, or of the line an error is about (from 1, the
    /// header line included, as PostgreSQL counts).
    pub fn line_number(&self) -> u64 {
        self.current
    }

    /// The number of the line being read now: where a COPY stopped by the client (CopyFail) or
    /// by a cancel stands.
    pub fn next_line_number(&self) -> u64 {
        self.lines + 1
    }

    /// The next complete line, without its end. `eof`: CopyDone came, so a last line without an
    /// end of line counts, and nothing more will arrive.
    pub fn next_line(&mut self, eof: bool) -> Result<Option<Vec<u8>>, ErrorResponse> {
        if self.ended {
            return Ok(None);
        }
        self.current = self.lines + 1;
        loop {
            let n = self.buf.len();
            if self.pos >= n {
                if eof && self.start < n {
                    return Ok(Some(self.take_line(n, n)));
                }
                return self.wait();
            }
            match self.buf[self.pos] {
                b'\\' => {
                    if self.pos + 1 >= n {
                        if eof {
                            // A backslash ending the data stays in the line (and means nothing).
                            self.pos += 1;
                            continue;
                        }
                        return self.wait();
                    }
                    if self.buf[self.pos + 1] == b'.' {
                        return self.end_of_copy(eof);
                    }
                    self.pos += 2;
                }
                b'\r' => match self.eol {
                    Some(Eol::Nl) => return Err(carriage_return()),
                    Some(Eol::Cr) => return Ok(Some(self.take_line(self.pos, self.pos + 1))),
                    Some(Eol::CrNl) | None => {
                        if self.pos + 1 >= n && !eof {
                            return self.wait();
                        }
                        if self.buf.get(self.pos + 1) == Some(&b'\n') {
                            self.eol = Some(Eol::CrNl);
                            return Ok(Some(self.take_line(self.pos, self.pos + 2)));
                        }
                        if self.eol == Some(Eol::CrNl) {
                            return Err(carriage_return());
                        }
                        self.eol = Some(Eol::Cr);
                        return Ok(Some(self.take_line(self.pos, self.pos + 1)));
                    }
                },
                b'\n' => {
                    if matches!(self.eol, Some(Eol::Cr | Eol::CrNl)) {
                        return Err(ErrorResponse::error(BAD_COPY_FILE_FORMAT, "literal newline found in data")
                            .with_hint("Use \"\\n\" to represent newline."));
                    }
                    self.eol = Some(Eol::Nl);
                    return Ok(Some(self.take_line(self.pos, self.pos + 1)));
                }
                _ => self.pos += 1,
            }
        }
    }

    fn wait(&mut self) -> Result<Option<Vec<u8>>, ErrorResponse> {
        if self.buf.len() - self.start > PG_COPY_LINE_BYTES_MAX {
            return Err(error(b"54000", format!("COPY line longer than {PG_COPY_LINE_BYTES_MAX} bytes")));
        }
        Ok(None)
    }

    fn take_line(&mut self, end: usize, next: usize) -> Vec<u8> {
        let line = self.buf[self.start..end].to_vec();
        self.start = next;
        self.pos = next;
        self.lines += 1;
        self.current = self.lines;
        line
    }

    /// At `\.`: it must be followed by the end of line the data uses (PostgreSQL 15 also refuses
    /// it at the very end of the data, without one). Data before it on its line is a last row.
    fn end_of_copy(&mut self, eof: bool) -> Result<Option<Vec<u8>>, ErrorResponse> {
        let corrupt = || ErrorResponse::error(BAD_COPY_FILE_FORMAT, "end-of-copy marker corrupt");
        let style =
            || ErrorResponse::error(BAD_COPY_FILE_FORMAT, "end-of-copy marker does not match previous newline style");
        let mut q = self.pos + 2;
        let at = |q: usize| -> Option<u8> {
            match self.buf.get(q) {
                Some(&c) => Some(c),
                None if eof => Some(0),
                None => None,
            }
        };
        if self.eol == Some(Eol::CrNl) {
            match at(q) {
                None => return self.wait(),
                Some(b'\n') => return Err(style()),
                Some(b'\r') => q += 1,
                Some(_) => return Err(corrupt()),
            }
        }
        let Some(c) = at(q) else { return self.wait() };
        if c != b'\r' && c != b'\n' {
            return Err(corrupt());
        }
        let expected = match self.eol {
            Some(Eol::Nl) | Some(Eol::CrNl) => Some(b'\n'),
            Some(Eol::Cr) => Some(b'\r'),
            None => None,
        };
        if expected.is_some_and(|e| e != c) {
            return Err(style());
        }
        self.ended = true;
        if self.pos > self.start {
            let pos = self.pos;
            return Ok(Some(self.take_line(pos, pos)));
        }
        Ok(None)
    }
}

fn carriage_return() -> ErrorResponse {
    ErrorResponse::error(BAD_COPY_FILE_FORMAT, "literal carriage return found in data")
        .with_hint("Use \"\\r\" to represent carriage return.")
}

/// How an error's CONTEXT shows a line or a value: at most [`CONTEXT_DISPLAY_BYTES_MAX`] bytes
/// (cut at a character boundary), then `...`, as PostgreSQL's `limit_printout_length`.
pub fn display(s: &str) -> String {
    if s.len() <= CONTEXT_DISPLAY_BYTES_MAX {
        return s.to_string();
    }
    let mut end = CONTEXT_DISPLAY_BYTES_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Checks a line's encoding before it is split: UTF-8, no NUL byte (22021, whose CONTEXT
/// PostgreSQL gives without the line, since it cannot print it).
pub fn check_line(line: &[u8]) -> Result<&str, ErrorResponse> {
    let s = utf8(line).map_err(|e| e.response)?;
    if s.contains('\0') {
        return Err(error(b"22021", "invalid byte sequence for encoding \"UTF8\": 0x00"));
    }
    Ok(s)
}

/// Splits a line at the delimiter and undoes the escapes. A field whose raw text is the NULL
/// string is `None`. An escape that makes an invalid character (`\0`, `\xff`) is 22021.
pub fn split_fields(line: &str, opts: &TextOptions) -> Result<Vec<Option<String>>, ErrorResponse> {
    let b = line.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let raw_start = i;
        let mut value: Vec<u8> = Vec::new();
        let mut escaped_high = false;
        let mut at_delimiter = false;
        while i < b.len() {
            let c = b[i];
            i += 1;
            if c == opts.delimiter {
                at_delimiter = true;
                break;
            }
            if c != b'\\' {
                value.push(c);
                continue;
            }
            let Some(&e) = b.get(i) else { break };
            i += 1;
            let byte = match e {
                b'0'..=b'7' => {
                    let mut v = (e - b'0') as u32;
                    for _ in 0..2 {
                        match b.get(i) {
                            Some(&d @ b'0'..=b'7') => {
                                v = v * 8 + (d - b'0') as u32;
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    (v & 0xff) as u8
                }
                b'x' if b.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                    let mut v = 0u32;
                    for _ in 0..2 {
                        match b.get(i) {
                            Some(d) if d.is_ascii_hexdigit() => {
                                v = v * 16 + (*d as char).to_digit(16).unwrap_or(0);
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    v as u8
                }
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                other => other,
            };
            if byte == 0 || byte >= 0x80 {
                escaped_high = true;
            }
            value.push(byte);
        }
        let raw_end = if at_delimiter { i - 1 } else { i };
        if &line[raw_start..raw_end] == opts.null.as_str() {
            fields.push(None);
        } else {
            if escaped_high {
                if value.contains(&0) {
                    return Err(error(b"22021", "invalid byte sequence for encoding \"UTF8\": 0x00"));
                }
                utf8(&value).map_err(|e| e.response)?;
            }
            // Only escapes could have broken the encoding of a line already checked.
            fields.push(Some(String::from_utf8(value).map_err(|_| error(b"22021", "invalid byte sequence"))?));
        }
        if !at_delimiter {
            return Ok(fields);
        }
    }
}

/// Appends one row in the text format: fields escaped and joined by the delimiter, NULL as the
/// NULL string, ending in a newline.
pub fn write_row(out: &mut Vec<u8>, values: &[Option<String>], opts: &TextOptions) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(opts.delimiter);
        }
        match v {
            None => out.extend_from_slice(opts.null.as_bytes()),
            Some(s) => escape_into(out, s, opts.delimiter),
        }
    }
    out.push(b'\n');
}

/// PostgreSQL's `CopyAttributeOutText`: control characters with a letter escape get it, the
/// delimiter and backslash get a backslash, everything else goes out as it is.
fn escape_into(out: &mut Vec<u8>, s: &str, delimiter: u8) {
    for &c in s.as_bytes() {
        let letter = match c {
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            _ => None,
        };
        match letter {
            Some(l) => out.extend_from_slice(&[b'\\', l]),
            None if c == b'\\' || c == delimiter => out.extend_from_slice(&[b'\\', c]),
            None => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Result<Vec<String>, (u64, String)> {
        let mut r = LineReader::default();
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c).unwrap();
            while let Some(l) = r.next_line(false).map_err(|e| (r.line_number(), e.message.clone()))? {
                out.push(String::from_utf8(l).unwrap());
            }
        }
        while let Some(l) = r.next_line(true).map_err(|e| (r.line_number(), e.message.clone()))? {
            out.push(String::from_utf8(l).unwrap());
        }
        Ok(out)
    }

    #[test]
    fn lines_survive_any_split_and_escaped_newlines() {
        assert_eq!(lines(&[b"1\tx", b"y\n2\t", b"z\n"]).unwrap(), ["1\txy", "2\tz"]);
        assert_eq!(lines(&[b"a\\", b"\nb\n"]).unwrap(), ["a\\\nb"]);
        assert_eq!(lines(&[b"last without newline"]).unwrap(), ["last without newline"]);
        assert_eq!(lines(&[b"a\r\nb\r\n"]).unwrap(), ["a", "b"]);
        assert_eq!(lines(&[b"a\r", b"\nb\r\n"]).unwrap(), ["a", "b"]);
        assert_eq!(lines(&[b"a\rb\r"]).unwrap(), ["a", "b"]);
        assert_eq!(lines(&[b""]).unwrap(), Vec::<String>::new());
        assert_eq!(lines(&[b"\n"]).unwrap(), [""]);
    }

    #[test]
    fn end_of_copy_marker_as_postgres_15_reads_it() {
        assert_eq!(lines(&[b"1\n\\.\nignored\n"]).unwrap(), ["1"]);
        assert_eq!(lines(&[b"1\n\\", b".", b"\n"]).unwrap(), ["1"]);
        assert_eq!(lines(&[b"1\n3\ty\\.\n"]).unwrap(), ["1", "3\ty"]);
        assert_eq!(lines(&[b"1\r\n\\.\r\n"]).unwrap(), ["1"]);
        assert_eq!(lines(&[b"1\n\\."]).unwrap_err(), (2, "end-of-copy marker corrupt".into()));
        assert_eq!(lines(&[b"1\n\\.junk\n"]).unwrap_err(), (2, "end-of-copy marker corrupt".into()));
        assert_eq!(
            lines(&[b"1\r\n\\.\n"]).unwrap_err(),
            (2, "end-of-copy marker does not match previous newline style".into())
        );
    }

    #[test]
    fn mixed_line_ends_are_refused_with_the_line_number() {
        assert_eq!(lines(&[b"1\n2\r\n"]).unwrap_err(), (2, "literal carriage return found in data".into()));
        assert_eq!(lines(&[b"1\r\n2\n"]).unwrap_err(), (2, "literal newline found in data".into()));
    }

    #[test]
    fn fields_unescape_and_null_is_the_raw_marker() {
        let o = TextOptions::default();
        let f = |s: &str| split_fields(s, &o).unwrap();
        assert_eq!(f("1\t\\N\tx"), [Some("1".into()), None, Some("x".into())]);
        assert_eq!(f("a\\tb\\\\c\\101\\x41\\q\\x"), [Some("a\tb\\cAAqx".into())]);
        assert_eq!(f("\\N\\N"), [Some("NN".into())]);
        assert_eq!(f("a\\\tb"), [Some("a\tb".into())]);
        assert_eq!(f(""), [Some(String::new())]);
        assert_eq!(f("\t"), [Some(String::new()), Some(String::new())]);
        assert_eq!(f("\\303\\251"), [Some("é".into())]);
        assert_eq!(
            split_fields("1\t\\0", &o).unwrap_err().message,
            "invalid byte sequence for encoding \"UTF8\": 0x00"
        );
        assert_eq!(split_fields("\\xff", &o).unwrap_err().message, "invalid byte sequence for encoding \"UTF8\": 0xff");
        let comma = TextOptions { delimiter: b',', null: "NULL".into(), header: false };
        assert_eq!(split_fields("1,NULL,", &comma).unwrap(), [Some("1".into()), None, Some(String::new())]);
    }

    #[test]
    fn rows_are_written_with_escapes() {
        let mut out = Vec::new();
        let o = TextOptions::default();
        write_row(&mut out, &[Some("a\tb\\c\nd".into()), None, Some("é\x01".into())], &o);
        assert_eq!(out, b"a\\tb\\\\c\\nd\t\\N\t\xc3\xa9\x01\n");
        // What is written reads back as it was.
        let line = std::str::from_utf8(&out[..out.len() - 1]).unwrap();
        assert_eq!(split_fields(line, &o).unwrap(), [Some("a\tb\\c\nd".into()), None, Some("é\x01".into())]);
    }

    #[test]
    fn copy_booleans_are_respelled_for_the_parser() {
        assert_eq!(
            spell_booleans("copy pgbench_accounts from stdin with (freeze on)").as_deref(),
            Some("copy pgbench_accounts from stdin with (freeze TRUE)")
        );
        assert_eq!(
            spell_booleans("COPY t FROM STDIN (HEADER 0, NULL 'on')").as_deref(),
            Some("COPY t FROM STDIN (HEADER FALSE, NULL 'on')")
        );
        assert_eq!(spell_booleans("select 'freeze on'"), None);
        assert_eq!(spell_booleans("copy t from stdin"), None);
    }

    #[test]
    fn lines_and_data_are_bounded() {
        let mut r = LineReader::default();
        let chunk = vec![b'a'; 1 << 20];
        let mut failed = None;
        for _ in 0..=(PG_COPY_LINE_BYTES_MAX >> 20) {
            r.feed(&chunk).unwrap();
            if let Err(e) = r.next_line(false) {
                failed = Some(e);
                break;
            }
        }
        assert_eq!(failed.expect("refused").code, SqlState(*b"54000"));
    }
}
