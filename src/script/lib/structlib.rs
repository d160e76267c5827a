//! `struct`: Roberto Ierusalimschy's struct library (2018 version) as Redis 7.0 ships it,
//! numbers and strings to and from binary records.
//!
//! A format is a sequence of options, each a letter with an optional count:
//!
//! ```text
//!   >  <        big / little endian from here on (the default is the machine's: little)
//!   !n          align fields to min(their size, n) bytes (n a power of 2, default 8)
//!   x           one padding byte
//!   b B h H     signed / unsigned 1- and 2-byte integers
//!   l L T       8-byte integers (C long and size_t on Redis's 64-bit builds)
//!   i I in In   signed / unsigned integers of n bytes (default 4, at most 32)
//!   f d         float, double
//!   cn          n bytes of string (c0: pack the whole string; unpack a length read just before)
//!   s           zero-terminated string
//!   ' '         ignored
//! ```
//!
//! `struct.pack('>I2c0', 3, 'abc')` is `00 03 61 62 63`; `struct.unpack('>I2', s)` returns 3 and
//! the position after the data, 3. Integers go through a 64-bit `unsigned long`: wider sizes
//! are zero-filled when packing (and sign-extended oddly when unpacking: the C code shifts by
//! `size * 8 - 1`, which x86-64 takes modulo 64), and a double is converted to it the way gcc's
//! x86-64 code does (2^64 and above become 0). The port reproduces those results bit for bit.
//!
//! Counts in a format are bounded by `INT_MAX` ("integral size overflow"), and nothing is
//! allocated from them: a `c` count only selects bytes the data string already holds.

use mlua::{Lua, MultiValue, Table, Value};

use super::{check_bytes, check_number, guarded, opt_integer, LibBuilder, Raise, LUA_C_STACK_SLOTS};

/// `MAXINTSIZE`: the widest `i`/`I` in bytes.
const MAX_INT_SIZE: usize = 32;

/// `MAXALIGN` on x86-64: the alignment `!` gives without a number.
const MAX_ALIGN: i64 = 8;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let lib = LibBuilder::new(lua)?;
    lib.single("pack", |lua, args| guarded(lua, || pack(lua, &args)))?;
    lib.single("unpack", |lua, args| guarded(lua, || unpack(lua, &args)))?;
    lib.single("size", |lua, args| guarded(lua, || size(&args)))?;
    lib.build()
}

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header { endian: Endian::Little, align: 1 }
    }
}

/// A format string, read as C reads it: up to its first NUL.
struct Format {
    f: Vec<u8>,
    p: usize,
}

impl Format {
    fn new(mut f: Vec<u8>) -> Self {
        if let Some(nul) = f.iter().position(|&b| b == 0) {
            f.truncate(nul);
        }
        Format { f, p: 0 }
    }

    fn next_option(&mut self) -> Option<u8> {
        let c = *self.f.get(self.p)?;
        self.p += 1;
        Some(c)
    }

    /// `getnum`: digits at the cursor, or `default` when there are none.
    fn number(&mut self, default: i64) -> Result<i64, Raise> {
        if !self.f.get(self.p).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i64 = 0;
        while let Some(&d) = self.f.get(self.p).filter(|d| d.is_ascii_digit()) {
            let d = (d - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                return Err(Raise::Msg("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.p += 1;
        }
        Ok(a)
    }

    /// `optsize`: the bytes an option takes (0 for the ones that take none, or unknown ones).
    fn size(&mut self, opt: u8) -> Result<usize, Raise> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.number(1)? as usize,
            b'i' | b'I' => {
                let sz = self.number(4)?;
                if sz as usize > MAX_INT_SIZE {
                    return Err(Raise::Msg(format!("integral size {sz} is larger than limit of {MAX_INT_SIZE}")));
                }
                sz as usize
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment, spaces; anything else is an invalid option.
    fn control(&mut self, opt: u8, h: &mut Header) -> Result<(), Raise> {
        match opt {
            b' ' => {}
            b'>' => h.endian = Endian::Big,
            b'<' => h.endian = Endian::Little,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if a <= 0 || a & (a - 1) != 0 {
                    return Err(Raise::Msg(format!("alignment {a} is not a power of 2")));
                }
                h.align = a as usize;
            }
            _ => {
                let text = String::from_utf8_lossy(&[opt]).into_owned();
                return Err(Raise::Arg(1, format!("invalid format option '{text}'")));
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding before an item of `size` bytes at offset `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// `(unsigned long)n` for `n >= 0` as gcc's x86-64 code computes it: below 2^63 a plain
/// truncation; from 2^63 the value less 2^63 is converted and the top bit flipped, which wraps
/// 2^64 and beyond (and infinity) to 0 and NaN to 2^63.
fn to_unsigned(n: f64) -> u64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    // NaN compares unordered and so takes the first branch, as with gcc's `jae`.
    if n.is_nan() || n < TWO_63 {
        crate::script::convert::c_cast_i64(n) as u64
    } else {
        (crate::script::convert::c_cast_i64(n - TWO_63) as u64) ^ (1 << 63)
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let mut value = if n < 0.0 { crate::script::convert::c_cast_i64(n) as u64 } else { to_unsigned(n) };
    let mut buf = [0u8; MAX_INT_SIZE];
    for i in 0..size {
        let at = if endian == Endian::Little { i } else { size - 1 - i };
        buf[at] = value as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&buf[..size]);
}

/// `b_pack`.
fn pack(lua: &Lua, args: &MultiValue) -> Result<MultiValue, Raise> {
    let mut fmt = Format::new(check_bytes(args, 0)?);
    // b_pack pushes a nil after its arguments, so the first missing one is "nil", not "no value".
    let mut args = args.clone();
    args.push_back(Value::Nil);
    let args = &args;
    let mut h = Header::default();
    let mut arg = 1usize; // 0-based index of the next argument
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(args, arg)?;
                arg += 1;
                put_integer(&mut out, n, h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.endian == Endian::Big { f.to_be_bytes() } else { f.to_le_bytes() });
            }
            b'd' => {
                let d = check_number(args, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.endian == Endian::Big { d.to_be_bytes() } else { d.to_le_bytes() });
            }
            b'c' | b's' => {
                let s = check_bytes(args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code has already moved past the argument when it names it.
                    return Err(Raise::Arg(arg as i32 + 1, "string too short".into()));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(opt, &mut h)?,
        }
    }
    Ok(MultiValue::from_vec(vec![Value::String(lua.create_string(&out)?)]))
}

/// `getinteger`: `size` bytes into an `unsigned long` (only the last eight survive), then the
/// C code's sign extension.
fn get_integer(b: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let at = if endian == Endian::Big { i } else { size - 1 - i };
        l = (l << 8) | b[at] as u64;
    }
    if !signed {
        return l as f64;
    }
    // `~0UL << (size * 8 - 1)`: x86-64 shifts by the count modulo 64.
    let mask = !0u64 << ((size * 8).wrapping_sub(1) & 63);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `lua_isnumber` on a result already produced.
fn numeric(v: &Value) -> Option<f64> {
    super::to_number(Some(v))
}

/// `b_unpack`.
fn unpack(lua: &Lua, args: &MultiValue) -> Result<MultiValue, Raise> {
    let mut fmt = Format::new(check_bytes(args, 0)?);
    let data = check_bytes(args, 1)?;
    // size_t arithmetic: a negative offset passes the check as a huge one.
    let start = opt_integer(args, 2, 1)? as u64 as usize;
    if start == 0 {
        return Err(Raise::Arg(3, "offset must be 1 or greater".into()));
    }
    let mut pos = start - 1;
    let ld = data.len();
    let mut h = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let too_short = || Raise::Arg(2, "data string too short".into());
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        // Room for this item and the final position, next to the arguments.
        if args.len() + results.len() + 2 > LUA_C_STACK_SLOTS {
            return Err(Raise::Msg("stack overflow (too many results)".into()));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_integer(&data[pos..pos + size], h.endian, opt.is_ascii_lowercase(), size);
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let f = if h.endian == Endian::Big { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) };
                results.push(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                let d = if h.endian == Endian::Big { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) };
                results.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let Some(n) = results.last().and_then(numeric) else {
                        return Err(Raise::Msg("format 'c0' needs a previous size".into()));
                    };
                    size = to_unsigned_size(n);
                    results.pop();
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Raise::Msg("unfinished string in data".into()));
                };
                size = len + 1;
                results.push(Value::String(lua.create_string(&data[pos..pos + len])?));
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_vec(results))
}

/// `size = lua_tonumber(L, -1)` into a `size_t`: gcc's conversion again.
fn to_unsigned_size(n: f64) -> usize {
    if n < 0.0 {
        crate::script::convert::c_cast_i64(n) as u64 as usize
    } else {
        to_unsigned(n) as usize
    }
}

/// `b_size`.
fn size(args: &MultiValue) -> Result<MultiValue, Raise> {
    let mut fmt = Format::new(check_bytes(args, 0)?);
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_option() {
        let size = fmt.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(Raise::Arg(1, "option 's' has no fixed size".into()));
        } else if opt == b'c' && size == 0 {
            return Err(Raise::Arg(1, "option 'c0' has no fixed size".into()));
        }
        // Letters and digits the switch does not know are skipped here, not refused.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(MultiValue::from_vec(vec![Value::Number(pos as i64 as f64)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_integers_follow_the_64_bit_c_code() {
        let mut out = Vec::new();
        put_integer(&mut out, -1.0, Endian::Little, 16);
        assert_eq!(out, [[0xff; 8], [0; 8]].concat());
        assert_eq!(get_integer(&[1, 0, 0, 0, 0, 0, 0, 0, 0x80], Endian::Big, true, 9), -128.0);
        assert_eq!(get_integer(&[0, 0, 0, 0, 0, 0, 0, 0, 0x7f], Endian::Big, true, 9), 127.0);
        assert_eq!(get_integer(&[], Endian::Big, true, 0), 0.0);
        assert_eq!(get_integer(&[0xff, 0xfe], Endian::Big, true, 2), -2.0);
    }

    #[test]
    fn doubles_convert_like_gcc_on_x86_64() {
        assert_eq!(to_unsigned(2f64.powi(64)), 0);
        assert_eq!(to_unsigned(2f64.powi(63)), 1 << 63);
        assert_eq!(to_unsigned(f64::NAN), 1 << 63);
        assert_eq!(to_unsigned(f64::INFINITY), 0);
        assert_eq!(to_unsigned(3.9), 3);
    }

    #[test]
    fn alignment_pads_to_the_smaller_of_size_and_limit() {
        let h = Header { endian: Endian::Little, align: 4 };
        assert_eq!(to_align(1, &h, b'i', 4), 3);
        assert_eq!(to_align(1, &h, b'd', 8), 3);
        assert_eq!(to_align(1, &h, b'c', 4), 0);
        assert_eq!(to_align(5, &Header::default(), b'i', 4), 0);
    }

    #[test]
    fn format_counts_are_bounded() {
        let mut f = Format::new(b"99999999999".to_vec());
        assert!(matches!(f.number(1), Err(Raise::Msg(m)) if m == "integral size overflow"));
        let mut f = Format::new(b"17".to_vec());
        assert!(f.size(b'i').is_ok());
        let mut f = Format::new(b"33".to_vec());
        assert!(matches!(f.size(b'i'), Err(Raise::Msg(m)) if m == "integral size 33 is larger than limit of 32"));
    }
}
