//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis 7.0 ships it, Lua values to MessagePack and back.
//!
//! # Packing
//!
//! Each argument is encoded in turn and the results are concatenated. The type choices are the
//! C library's, for a Lua whose only number type is a double:
//!
//! ```text
//!   number, integral and within int64   smallest integer encoding: 5 -> 05, -1 -> ff, 300 -> cd 01 2c
//!   other numbers                        float 32 when it holds the value exactly (0.5 -> ca 3f000000),
//!                                        float 64 otherwise (0.1 -> cb 3fb999999999999a)
//!   string                               fixstr / str8 / str16 / str32 by length
//!   table with keys exactly 1..n         array (the empty table too: 90)
//!   any other table                      map, in `next` order
//!   nil, functions, cjson.null, ...      nil (c0)
//! ```
//!
//! Tables nested 16 deep are written as nil, which is how the C code survives cycles:
//! `local t = {} t[1] = t` packs as sixteen `91` and a `c0`.
//!
//! # Unpacking
//!
//! `unpack` decodes every value in the string, `unpack_one(s, offset)` and
//! `unpack_limit(s, n, offset)` decode a few and return the offset to continue from first (-1
//! once the input is used up). Truncated input is "Missing bytes in input.", a byte no type
//! starts with (bin, ext, 0xc1) is "Bad data format in input.".
//!
//! The C decoder recurses per nesting level and checks the Lua stack as it goes, so a deep or
//! long input fails with "stack overflow (...)" once 8000 slots are in use. The port decodes
//! with its own stack (the containers being filled live in a Lua table, since mlua cannot hold
//! more than about 8000 references) and counts the same slots, failing where the C code fails.

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{check_bytes, check_integer, guarded, opt_integer, LibBuilder, Raise, LUA_C_STACK_SLOTS};

/// `LUACMSGPACK_MAX_NESTING`: tables this deep are packed as nil.
const MAX_NESTING: usize = 16;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    // The base library's `next`, so maps are written in the order lua_next gives.
    let next: Function = lua.globals().raw_get("next")?;
    let lib = LibBuilder::new(lua)?;
    lib.single("pack", move |lua, args| guarded(lua, || pack(lua, &next, &args)))?;
    lib.single("unpack", |lua, args| {
        guarded(lua, || {
            // mp_unpack leaves any extra arguments on the stack, where they take slots.
            let s = check_bytes(&args, 0)?;
            unpack_full(lua, &s, 0, 0, args.len().max(1))
        })
    })?;
    lib.single("unpack_one", |lua, args| {
        guarded(lua, || {
            let offset = opt_integer(&args, 1, 0)?;
            let s = check_bytes(&args, 0)?;
            unpack_full(lua, &s, 1, offset, 1)
        })
    })?;
    lib.single("unpack_limit", |lua, args| {
        guarded(lua, || {
            let limit = check_integer(&args, 1)?;
            let offset = opt_integer(&args, 2, 0)?;
            let s = check_bytes(&args, 0)?;
            unpack_full(lua, &s, limit, offset, 1)
        })
    })?;
    lib.value("_NAME", "cmsgpack")?;
    lib.value("_VERSION", "lua-cmsgpack 0.4.0")?;
    lib.value("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    lib.value("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    lib.build()
}

// ------------------------------------------------------------------------------------------------
// Packing.
// ------------------------------------------------------------------------------------------------

/// `mp_pack`.
fn pack(lua: &Lua, next: &Function, args: &MultiValue) -> Result<MultiValue, Raise> {
    let nargs = args.len();
    if nargs == 0 {
        return Err(Raise::Arg(0, "MessagePack pack needs input.".into()));
    }
    // lua_checkstack(L, nargs) with the nargs arguments already on the stack.
    if nargs + nargs > LUA_C_STACK_SLOTS {
        return Err(Raise::Arg(0, "Too many arguments for MessagePack pack.".into()));
    }
    let mut out = Vec::new();
    let mut enc = Packer { next, out: &mut out };
    for (i, v) in args.iter().enumerate() {
        // The arguments, the strings packed so far, and a copy of this argument.
        enc.value(v.clone(), 0, nargs + i + 1)?;
    }
    Ok(MultiValue::from_vec(vec![Value::String(lua.create_string(&out)?)]))
}

struct Packer<'a> {
    next: &'a Function,
    out: &'a mut Vec<u8>,
}

fn stack_check(top: usize, space: usize, what: &str) -> Result<(), Raise> {
    if top + space > LUA_C_STACK_SLOTS {
        return Err(Raise::Msg(format!("stack overflow ({what})")));
    }
    Ok(())
}

const TWO_63: f64 = (1u64 << 63) as f64;

/// `IS_INT64_EQUIVALENT`: a finite double that survives the round trip through `int64_t`.
fn int64_equivalent(n: f64) -> Option<i64> {
    if n.is_finite() && n.trunc() == n && (-TWO_63..TWO_63).contains(&n) {
        Some(n as i64)
    } else {
        None
    }
}

impl Packer<'_> {
    /// `mp_encode_lua_type`, `top` being the C encoder's stack use with the value pushed. The
    /// recursion is bounded by [`MAX_NESTING`].
    fn value(&mut self, v: Value, level: usize, top: usize) -> Result<(), Raise> {
        match v {
            Value::String(s) => self.bytes(&s.as_bytes()),
            Value::Boolean(b) => self.out.push(if b { 0xc3 } else { 0xc2 }),
            Value::Integer(n) => self.number(n as f64),
            Value::Number(n) => self.number(n),
            Value::Table(t) if level < MAX_NESTING => {
                if self.is_array(&t, top)? {
                    self.array(&t, level, top)?;
                } else {
                    self.map(&t, level, top)?;
                }
            }
            _ => self.out.push(0xc0),
        }
        Ok(())
    }

    fn number(&mut self, n: f64) {
        match int64_equivalent(n) {
            Some(i) => self.int(i),
            None => self.double(n),
        }
    }

    /// `mp_encode_int`: the smallest encoding; non-negative numbers use the unsigned types.
    fn int(&mut self, n: i64) {
        let out = &mut *self.out;
        if n >= 0 {
            if n <= 127 {
                out.push(n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xcc, n as u8]);
            } else if n <= 0xffff {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else if n <= 0xffff_ffff {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            } else {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        } else if n >= -32 {
            out.push(n as i8 as u8);
        } else if n >= -128 {
            out.extend_from_slice(&[0xd0, n as i8 as u8]);
        } else if n >= -32768 {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        } else if n >= -2147483648 {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// `mp_encode_double`: float 32 when the conversion loses nothing (NaN never qualifies).
    fn double(&mut self, d: f64) {
        let f = d as f32;
        if f as f64 == d {
            self.out.push(0xca);
            self.out.extend_from_slice(&f.to_be_bytes());
        } else {
            self.out.push(0xcb);
            self.out.extend_from_slice(&d.to_be_bytes());
        }
    }

    /// `mp_encode_bytes`.
    fn bytes(&mut self, s: &[u8]) {
        let len = s.len();
        let out = &mut *self.out;
        if len < 32 {
            out.push(0xa0 | len as u8);
        } else if len <= 0xff {
            out.extend_from_slice(&[0xd9, len as u8]);
        } else if len <= 0xffff {
            out.push(0xda);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        out.extend_from_slice(s);
    }

    fn header(&mut self, n: usize, fix: u8, code16: u8) {
        if n <= 15 {
            self.out.push(fix | n as u8);
        } else if n <= 65535 {
            self.out.push(code16);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(code16 + 1);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    /// `table_is_an_array`: every key a positive number that fits an `int` unchanged, and as
    /// many keys as the largest one (so exactly 1..n; the empty table qualifies).
    fn is_array(&self, t: &Table, top: usize) -> Result<bool, Raise> {
        stack_check(top, 2, "in function table_is_an_array")?;
        let (mut count, mut max, mut array) = (0i64, 0i64, true);
        t.for_each(|k: Value, _: Value| {
            if array {
                let n = match k {
                    Value::Integer(n) => n as f64,
                    Value::Number(n) => n,
                    _ => f64::NAN,
                };
                if n > 0.0 && n.trunc() == n && n <= i32::MAX as f64 {
                    max = max.max(n as i64);
                    count += 1;
                } else {
                    array = false;
                }
            }
            Ok(())
        })?;
        Ok(array && max == count)
    }

    /// `mp_encode_lua_table_as_array`.
    fn array(&mut self, t: &Table, level: usize, top: usize) -> Result<(), Raise> {
        let len = t.raw_len();
        self.header(len, 0x90, 0xdc);
        stack_check(top, 1, "in function mp_encode_lua_table_as_array")?;
        for i in 1..=len {
            let v: Value = t.raw_get(i)?;
            self.value(v, level + 1, top + 1)?;
        }
        Ok(())
    }

    /// `mp_encode_lua_table_as_map`: count the keys, then write key, value, key, value...
    fn map(&mut self, t: &Table, level: usize, top: usize) -> Result<(), Raise> {
        stack_check(top, 3, "in function mp_encode_lua_table_as_map")?;
        let mut len = 0usize;
        t.for_each(|_: Value, _: Value| {
            len += 1;
            Ok(())
        })?;
        self.header(len, 0x80, 0xde);
        let mut key = Value::Nil;
        loop {
            let (k, v): (Value, Value) = self.next.call((t.clone(), key))?;
            if k == Value::Nil {
                break;
            }
            // Stack: ... table key value key-copy, then ... table key value.
            self.value(k.clone(), level + 1, top + 3)?;
            self.value(v, level + 1, top + 2)?;
            key = k;
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// Unpacking.
// ------------------------------------------------------------------------------------------------

/// Why decoding stopped.
enum Stop {
    /// `MP_CUR_ERROR_EOF`.
    Eof,
    /// `MP_CUR_ERROR_BADFMT`.
    BadFormat,
    Raise(Raise),
}

impl From<Raise> for Stop {
    fn from(r: Raise) -> Self {
        Stop::Raise(r)
    }
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Raise(Raise::Lua(e))
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    p: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.s.len() - self.p
    }

    /// `mp_cur_need`.
    fn need(&self, n: usize) -> Result<(), Stop> {
        if self.left() < n {
            Err(Stop::Eof)
        } else {
            Ok(())
        }
    }

    fn byte(&self, i: usize) -> u8 {
        self.s[self.p + i]
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        (0..n).fold(0u64, |acc, i| (acc << 8) | self.byte(from + i) as u64)
    }
}

/// A container being filled.
struct Open {
    map: bool,
    remaining: u64,
    index: i64,
    /// For a map: the key has been read and waits for its value.
    have_key: bool,
    /// The C decoder's stack use when it entered this container's decoding.
    top: usize,
}

/// What a header byte starts.
enum Item {
    Value(Value),
    Array(u64),
    Map(u64),
}

/// `mp_unpack_full`. `base` is the stack slots in use when decoding begins.
fn unpack_full(lua: &Lua, s: &[u8], limit: i64, offset: i64, base: usize) -> Result<MultiValue, Raise> {
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C code prints the input length where it means the limit.
        return Err(Raise::Msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset as u64 > len as u64 {
        return Err(Raise::Msg(format!("Start offset {} greater than input length {}.", offset as i32, len as i32)));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor { s, p: offset as usize };
    // The decoded values wait in a Lua table: mlua could not hold thousands of them at once.
    let results = lua.create_table()?;
    let path = lua.create_table()?;
    let mut count: i64 = 0;
    while c.left() > 0 && count < limit {
        match decode_one(lua, &mut c, &path, base + count as usize) {
            Ok(v) => results.raw_set(count + 1, v)?,
            Err(Stop::Eof) => return Err(Raise::Msg("Missing bytes in input.".into())),
            Err(Stop::BadFormat) => return Err(Raise::Msg("Bad data format in input.".into())),
            Err(Stop::Raise(r)) => return Err(r),
        }
        count += 1;
    }
    let mut out = Vec::with_capacity(count as usize + 1);
    if !decode_all {
        stack_check(base + count as usize, 1, "in function mp_unpack_full")?;
        let next = if c.left() == 0 { -1 } else { c.p as i64 };
        out.push(Value::Number(next as f64));
    }
    for i in 1..=count {
        out.push(results.raw_get(i)?);
    }
    Ok(MultiValue::from_vec(out))
}

/// `mp_decode_to_lua_type` for one top-level value, entered with `top` stack slots in use.
fn decode_one(lua: &Lua, c: &mut Cursor, path: &Table, top: usize) -> Result<Value, Stop> {
    let mut open: Vec<Open> = Vec::new();
    // The innermost container and its pending map key; the ones around wait in `path` (slots
    // 2d - 1 and 2d for depth d), in Lua, so that deep input costs no mlua references.
    let mut table: Option<Table> = None;
    let mut key = Value::Nil;
    loop {
        // The slots in use as this item's decoding starts.
        let at = match open.last() {
            None => top,
            Some(o) if o.map && !o.have_key => o.top + 1,
            Some(o) => o.top + 2,
        };
        c.need(1)?;
        stack_check(at, 1, "too many return values at once; use unpack_one or unpack_limit instead.")?;
        let (map, n) = match header(lua, c)? {
            Item::Value(v) => (false, Err(v)),
            Item::Array(n) => (false, Ok(n)),
            Item::Map(n) => (true, Ok(n)),
        };
        let mut v = match n {
            Err(v) => v,
            Ok(n) => {
                let t = lua.create_table()?;
                if !map {
                    stack_check(at + 1, 1, "in function mp_decode_to_lua_array")?;
                }
                if n == 0 {
                    Value::Table(t)
                } else {
                    if let Some(parent) = table.replace(t) {
                        let d = open.len() as i64;
                        path.raw_set(2 * d - 1, parent)?;
                        path.raw_set(2 * d, std::mem::replace(&mut key, Value::Nil))?;
                    }
                    open.push(Open { map, remaining: n, index: 1, have_key: false, top: at });
                    continue;
                }
            }
        };
        // Store the finished value; a container it completes is stored in turn.
        loop {
            let (Some(o), Some(t)) = (open.last_mut(), &table) else { return Ok(v) };
            if o.map {
                if !o.have_key {
                    key = v;
                    o.have_key = true;
                    break;
                }
                // lua_settable refuses these keys with the core's own message.
                match key {
                    Value::Nil => return Err(Raise::Bare("table index is nil".into()).into()),
                    Value::Number(n) if n.is_nan() => return Err(Raise::Bare("table index is NaN".into()).into()),
                    _ => {}
                }
                t.raw_set(std::mem::replace(&mut key, Value::Nil), v)?;
                o.have_key = false;
            } else {
                t.raw_set(o.index, v)?;
                o.index += 1;
            }
            o.remaining -= 1;
            if o.remaining > 0 {
                break;
            }
            open.pop();
            v = Value::Table(t.clone());
            let d = open.len() as i64;
            if d == 0 {
                table = None;
            } else {
                table = Some(path.raw_get(2 * d - 1)?);
                key = path.raw_get(2 * d)?;
                path.raw_set(2 * d - 1, Value::Nil)?;
                path.raw_set(2 * d, Value::Nil)?;
            }
        }
    }
}

/// Reads one header (and a scalar's payload) at the cursor.
fn header(lua: &Lua, c: &mut Cursor) -> Result<Item, Stop> {
    let b = c.byte(0);
    // lua_pushunsigned on a 64-bit build is lua_pushinteger: the bits as a signed integer.
    let unsigned = |n: u64| Value::Number(n as i64 as f64);
    let (item, used) = match b {
        0xcc => {
            c.need(2)?;
            (Item::Value(unsigned(c.byte(1) as u64)), 2)
        }
        0xd0 => {
            c.need(2)?;
            (Item::Value(Value::Number(c.byte(1) as i8 as f64)), 2)
        }
        0xcd => {
            c.need(3)?;
            (Item::Value(unsigned(c.be(1, 2))), 3)
        }
        0xd1 => {
            c.need(3)?;
            (Item::Value(Value::Number(c.be(1, 2) as u16 as i16 as f64)), 3)
        }
        0xce => {
            c.need(5)?;
            (Item::Value(unsigned(c.be(1, 4))), 5)
        }
        0xd2 => {
            c.need(5)?;
            (Item::Value(Value::Number(c.be(1, 4) as u32 as i32 as f64)), 5)
        }
        0xcf => {
            c.need(9)?;
            (Item::Value(unsigned(c.be(1, 8))), 9)
        }
        0xd3 => {
            c.need(9)?;
            (Item::Value(Value::Number(c.be(1, 8) as i64 as f64)), 9)
        }
        0xc0 => (Item::Value(Value::Nil), 1),
        0xc3 => (Item::Value(Value::Boolean(true)), 1),
        0xc2 => (Item::Value(Value::Boolean(false)), 1),
        0xca => {
            c.need(5)?;
            (Item::Value(Value::Number(f32::from_bits(c.be(1, 4) as u32) as f64)), 5)
        }
        0xcb => {
            c.need(9)?;
            (Item::Value(Value::Number(f64::from_bits(c.be(1, 8)))), 9)
        }
        0xd9..=0xdb => {
            let n = match b {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + n)?;
            let l = c.be(1, n) as usize;
            c.need(1 + n + l)?;
            let s = lua.create_string(&c.s[c.p + 1 + n..c.p + 1 + n + l])?;
            (Item::Value(Value::String(s)), 1 + n + l)
        }
        0xdc..=0xdf => {
            let n = if b == 0xdc || b == 0xde { 2 } else { 4 };
            c.need(1 + n)?;
            let l = c.be(1, n);
            let item = if b <= 0xdd { Item::Array(l) } else { Item::Map(l) };
            (item, 1 + n)
        }
        _ if b & 0x80 == 0 => (Item::Value(Value::Number(b as f64)), 1),
        _ if b & 0xe0 == 0xe0 => (Item::Value(Value::Number(b as i8 as f64)), 1),
        _ if b & 0xe0 == 0xa0 => {
            let l = (b & 0x1f) as usize;
            c.need(1 + l)?;
            (Item::Value(Value::String(lua.create_string(&c.s[c.p + 1..c.p + 1 + l])?)), 1 + l)
        }
        _ if b & 0xf0 == 0x90 => (Item::Array((b & 0xf) as u64), 1),
        _ if b & 0xf0 == 0x80 => (Item::Map((b & 0xf) as u64), 1),
        _ => return Err(Stop::BadFormat),
    };
    c.p += used;
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(f: impl FnOnce(&mut Packer)) -> Vec<u8> {
        let lua = Lua::new();
        let next: Function = lua.globals().raw_get("next").unwrap();
        let mut out = Vec::new();
        f(&mut Packer { next: &next, out: &mut out });
        out
    }

    #[test]
    fn integers_take_the_smallest_encoding() {
        assert_eq!(packed(|p| p.number(5.0)), [0x05]);
        assert_eq!(packed(|p| p.number(-1.0)), [0xff]);
        assert_eq!(packed(|p| p.number(-33.0)), [0xd0, 0xdf]);
        assert_eq!(packed(|p| p.number(300.0)), [0xcd, 0x01, 0x2c]);
        assert_eq!(packed(|p| p.number(-0.0)), [0x00]);
        assert_eq!(packed(|p| p.number(4294967296.0)), [0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(packed(|p| p.number(-9.223372036854775808e18)), [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn other_numbers_are_float32_when_exact() {
        assert_eq!(packed(|p| p.number(0.5)), [0xca, 0x3f, 0, 0, 0]);
        assert_eq!(packed(|p| p.number(0.1))[0], 0xcb);
        assert_eq!(packed(|p| p.number(9.223372036854775808e18)), [0xca, 0x5f, 0, 0, 0]);
        assert_eq!(packed(|p| p.number(f64::INFINITY)), [0xca, 0x7f, 0x80, 0, 0]);
        assert_eq!(packed(|p| p.number(f64::NAN))[0], 0xcb);
    }

    #[test]
    fn truncated_input_is_missing_bytes() {
        let lua = Lua::new();
        for input in [&b"\xcd\x01"[..], b"\xa3ab", b"\x92\x01", b"\xdb\xff\xff\xff\xff", b"\xdd\xff\xff\xff\xff"] {
            let err = unpack_full(&lua, input, 0, 0, 1).unwrap_err();
            assert!(matches!(err, Raise::Msg(m) if m == "Missing bytes in input."), "{input:?}");
        }
        let err = unpack_full(&lua, b"\xc1", 0, 0, 1).unwrap_err();
        assert!(matches!(err, Raise::Msg(m) if m == "Bad data format in input."));
    }
}
