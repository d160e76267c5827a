//! `cjson`: Lua CJSON 2.1.0 as Redis 7.0 ships it, JSON text to Lua values and back.
//!
//! # Encoding
//!
//! A value is written depth first. A table is an array when every key is a positive integer;
//! its length is then the largest key, holes encode as `null`, and a table whose largest key is
//! both more than twice its key count and more than 10 is "excessively sparse": an error (or,
//! after `encode_sparse_array(true)`, an object). Anything else, the empty table included, is an
//! object, written in `next` order, which is why the port walks tables with Lua's own `next`:
//!
//! ```text
//!   cjson.encode({1, 2, {a = 1}})    ->  [1,2,{"a":1}]
//!   cjson.encode({[1] = 1, [3] = 3}) ->  [1,null,3]
//!   cjson.encode({[20] = 1})         ->  error: Cannot serialise table: excessively sparse array
//!   cjson.encode({})                 ->  {}
//! ```
//!
//! Numbers print with `%.14g`, strings escape `"`, `\`, `/`, control characters and DEL, and
//! bytes above 0x7f pass through untouched (CJSON does not check UTF-8).
//!
//! # Decoding
//!
//! A tokenizer over a NUL-terminated string (an embedded NUL ends the text, as in C) feeds a
//! parser that reports the first unexpected token with its 1-based position:
//! `cjson.decode('[1,2')` fails with "Expected comma or array end but found T_END at character
//! 5". Numbers go through `strtod`, so with `decode_invalid_numbers` on (the default) `0x10`,
//! `inf` and `nan` are accepted. `null` decodes to `cjson.null`, a NULL light userdata.
//!
//! # Depth without recursion
//!
//! The C code recurses once per nesting level, bounded by `encode_max_depth`/`decode_max_depth`
//! (1000 by default, settable to 2^31 - 1) and by the 8000 slots a C function may use on the Lua
//! stack. The port keeps its own stack instead: Rust frames would not fit a tokio worker's stack
//! at those depths, and the tables on the path live in a Lua table rather than as mlua
//! references, because mlua can hold only about 8000 references at once. The slot count the C
//! code would use is tracked, so the "excessive nesting" errors come at the same depth.

use std::sync::{Arc, Mutex};

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use super::{
    check_bytes, check_integer, guarded, is_none_or_nil, one, type_name, LibBuilder, Raise, LUA_C_STACK_SLOTS,
};

const MODNAME: &str = "cjson";
const VERSION: &str = "2.1.0";

/// `FPCONV_G_FMT_BUFSIZE`-bounded precision: `encode_number_precision` accepts 1 to 14 digits.
const MAX_NUMBER_PRECISION: i32 = 14;

/// One `cjson` table's settings (each `cjson.new()` has its own), with CJSON's defaults.
#[derive(Clone, Copy, Debug)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuses NaN and infinity, 1 writes them (`nan`, `inf`), 2 writes `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn settings(cfg: &Shared) -> Config {
    *cfg.lock().unwrap_or_else(|e| e.into_inner())
}

fn update<R>(cfg: &Shared, f: impl FnOnce(&mut Config) -> R) -> R {
    f(&mut cfg.lock().unwrap_or_else(|e| e.into_inner()))
}

/// `cjson.null`.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    // The base library's `next`, taken before the sandbox hides the real globals: the encoder
    // iterates with it so objects come out in exactly the order lua_next gives in Redis.
    let next: Function = lua.globals().raw_get("next")?;
    module(lua, next)
}

/// `lua_cjson_new`: a fresh module table with its own settings.
fn module(lua: &Lua, next: Function) -> mlua::Result<Table> {
    let lib = LibBuilder::new(lua)?;
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));

    let (c, n) = (cfg.clone(), next.clone());
    lib.single("encode", move |lua, args| {
        guarded(lua, || {
            if args.len() != 1 {
                return Err(Raise::Arg(1, "expected 1 argument".into()));
            }
            let out = Encoder::new(lua, &n, settings(&c))?.run(args[0].clone())?;
            one(Value::String(lua.create_string(&out)?)).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("decode", move |lua, args| {
        guarded(lua, || {
            if args.len() != 1 {
                return Err(Raise::Arg(1, "expected 1 argument".into()));
            }
            let text = check_bytes(&args, 0)?;
            let v = decode(lua, &settings(&c), &text)?;
            one(v).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("encode_sparse_array", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 3)?;
            let a = enum_option(lua, &args, 0, &c, |c| &mut c.sparse_convert, BOOL_OPTIONS, 1)?;
            let b = integer_option(&args, 1, &c, |c| &mut c.sparse_ratio, 0, i32::MAX)?;
            let d = integer_option(&args, 2, &c, |c| &mut c.sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_vec(vec![a, b, d]))
        })
    })?;

    let c = cfg.clone();
    lib.single("encode_max_depth", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 1)?;
            one(integer_option(&args, 0, &c, |c| &mut c.encode_max_depth, 1, i32::MAX)?).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("decode_max_depth", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 1)?;
            one(integer_option(&args, 0, &c, |c| &mut c.decode_max_depth, 1, i32::MAX)?).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("encode_number_precision", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 1)?;
            let v = integer_option(&args, 0, &c, |c| &mut c.encode_number_precision, 1, MAX_NUMBER_PRECISION)?;
            one(v).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("encode_keep_buffer", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 1)?;
            // Only the C code's memory use depends on this setting; it is kept for its reply.
            one(enum_option(lua, &args, 0, &c, |c| &mut c.encode_keep_buffer, BOOL_OPTIONS, 1)?).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("encode_invalid_numbers", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 1)?;
            let v = enum_option(lua, &args, 0, &c, |c| &mut c.encode_invalid_numbers, &["off", "on", "null"], 1)?;
            one(v).map_err(Raise::from)
        })
    })?;

    let c = cfg.clone();
    lib.single("decode_invalid_numbers", move |lua, args| {
        guarded(lua, || {
            arg_init(&args, 1)?;
            one(enum_option(lua, &args, 0, &c, |c| &mut c.decode_invalid_numbers, BOOL_OPTIONS, 1)?)
                .map_err(Raise::from)
        })
    })?;

    let n = next.clone();
    lib.single("new", move |lua, _args| one(Value::Table(module(lua, n.clone())?)))?;

    lib.value("null", null())?;
    lib.value("_NAME", MODNAME)?;
    lib.value("_VERSION", VERSION)?;
    lib.build()
}

// ------------------------------------------------------------------------------------------------
// Settings functions.
// ------------------------------------------------------------------------------------------------

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// `json_arg_init`: at most `n` arguments.
fn arg_init(args: &MultiValue, n: usize) -> Result<(), Raise> {
    if args.len() > n {
        return Err(Raise::Arg(n as i32 + 1, "found too many arguments".into()));
    }
    Ok(())
}

/// `json_integer_option`: sets the value when one is given and replies the current one. The C
/// code stores `luaL_checkinteger` in an `int`, so the value wraps to 32 bits before the range
/// check, and a range error always names argument #1.
fn integer_option(
    args: &MultiValue,
    i: usize,
    cfg: &Shared,
    field: impl Fn(&mut Config) -> &mut i32,
    min: i32,
    max: i32,
) -> Result<Value, Raise> {
    if !is_none_or_nil(args, i) {
        let value = check_integer(args, i)? as i32;
        if value < min || value > max {
            return Err(Raise::Arg(1, format!("expected integer between {min} and {max}")));
        }
        update(cfg, |c| *field(c) = value);
    }
    Ok(Value::Number(update(cfg, |c| *field(c)) as f64))
}

/// `json_enum_option`: a boolean or one of `options` by name; replies a boolean when the
/// setting is off/on, the option's name otherwise.
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    cfg: &Shared,
    field: impl Fn(&mut Config) -> &mut i32,
    options: &[&str],
    bool_true: i32,
) -> Result<Value, Raise> {
    match args.get(i) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => update(cfg, |c| *field(c) = if *b { bool_true } else { 0 }),
        Some(_) => {
            let name = check_bytes(args, i)?;
            let Some(pos) = options.iter().position(|o| o.as_bytes() == name.as_slice()) else {
                let text = String::from_utf8_lossy(&name);
                return Err(Raise::Arg(i as i32 + 1, format!("invalid option '{text}'")));
            };
            update(cfg, |c| *field(c) = pos as i32);
        }
    }
    let setting = update(cfg, |c| *field(c));
    if setting == 0 || setting == bool_true {
        Ok(Value::Boolean(setting != 0))
    } else {
        Ok(Value::String(lua.create_string(options[setting as usize])?))
    }
}

// ------------------------------------------------------------------------------------------------
// Encoding.
// ------------------------------------------------------------------------------------------------

/// `char2escape`: the escape for a byte, or `None` when it is written as it is.
fn escape(b: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006", b"\\u0007", b"\\b", b"\\t",
        b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f", b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013",
        b"\\u0014", b"\\u0015", b"\\u0016", b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c",
        b"\\u001d", b"\\u001e", b"\\u001f",
    ];
    match b {
        0..=31 => Some(CONTROL[b as usize]),
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        0x7f => Some(b"\\u007f"),
        _ => None,
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match escape(b) {
            Some(e) => out.extend_from_slice(e),
            None => out.push(b),
        }
    }
    out.push(b'"');
}

/// `(int)d` as x86-64 computes it: out of range gives `INT_MIN`.
fn c_cast_i32(d: f64) -> i32 {
    if d.is_nan() || d >= 2147483648.0 || d <= -2147483649.0 {
        i32::MIN
    } else {
        d as i32
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        _ => None,
    }
}

/// A table being written: where it is in the output, and how many Lua stack slots the C
/// encoder would be using at this level.
struct Level {
    /// `Some((next index, length))` for an array, `None` for an object.
    array: Option<(i64, i64)>,
    written: usize,
    top: usize,
}

struct Encoder<'a> {
    next: &'a Function,
    cfg: Config,
    out: Vec<u8>,
    /// The innermost open table and, for an object, the key `next` last gave.
    table: Option<Table>,
    key: Value,
    /// The enclosing tables (slot `2d - 1`) and their current keys (slot `2d`), kept in Lua so
    /// that a deep path costs no mlua references.
    path: Table,
    levels: Vec<Level>,
}

impl<'a> Encoder<'a> {
    fn new(lua: &Lua, next: &'a Function, cfg: Config) -> mlua::Result<Self> {
        Ok(Encoder {
            next,
            cfg,
            out: Vec::new(),
            table: None,
            key: Value::Nil,
            path: lua.create_table()?,
            levels: Vec::new(),
        })
    }

    fn run(mut self, v: Value) -> Result<Vec<u8>, Raise> {
        // The C encoder starts with its one argument on the stack.
        self.value(v, 1)?;
        while let (Some(level), Some(t)) = (self.levels.last_mut(), &self.table) {
            let top = level.top;
            let first = level.written == 0;
            match &mut level.array {
                Some((next, len)) => {
                    if *next > *len {
                        self.out.push(b']');
                        self.close()?;
                        continue;
                    }
                    let i = *next;
                    *next += 1;
                    level.written += 1;
                    if !first {
                        self.out.push(b',');
                    }
                    let v: Value = t.raw_get(i)?;
                    self.value(v, top + 1)?;
                }
                None => {
                    let (k, v): (Value, Value) = self.next.call((t, &self.key))?;
                    if k == Value::Nil {
                        self.out.push(b'}');
                        self.close()?;
                        continue;
                    }
                    level.written += 1;
                    if !first {
                        self.out.push(b',');
                    }
                    match &k {
                        Value::String(s) => {
                            append_string(&mut self.out, &s.as_bytes());
                            self.out.push(b':');
                        }
                        Value::Number(_) | Value::Integer(_) => {
                            self.out.push(b'"');
                            self.number(number_of(&k).unwrap_or(0.0))?;
                            self.out.extend_from_slice(b"\":");
                        }
                        other => {
                            return Err(Raise::Msg(format!(
                                "Cannot serialise {}: table key must be a number or string",
                                type_name(Some(other))
                            )))
                        }
                    }
                    self.key = k;
                    self.value(v, top + 2)?;
                }
            }
        }
        Ok(self.out)
    }

    /// Leaves the innermost table for the one around it.
    fn close(&mut self) -> mlua::Result<()> {
        self.levels.pop();
        let d = self.levels.len() as i64;
        if d == 0 {
            self.table = None;
            self.key = Value::Nil;
            return Ok(());
        }
        self.table = Some(self.path.raw_get(2 * d - 1)?);
        self.key = self.path.raw_get(2 * d)?;
        self.path.raw_set(2 * d - 1, Value::Nil)?;
        self.path.raw_set(2 * d, Value::Nil)
    }

    /// `json_append_data` for one value, `top` being the C encoder's stack use with the value
    /// pushed. A table is opened: its elements follow in [`Encoder::run`].
    fn value(&mut self, v: Value, top: usize) -> Result<(), Raise> {
        match v {
            Value::String(s) => append_string(&mut self.out, &s.as_bytes()),
            Value::Number(n) => self.number(n)?,
            Value::Integer(n) => self.number(n as f64)?,
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => {
                let depth = self.levels.len() + 1;
                // json_check_encode_depth: the depth limit, and lua_checkstack(l, 3).
                if depth > self.cfg.encode_max_depth as usize || top + 3 > LUA_C_STACK_SLOTS {
                    return Err(Raise::Msg(format!("Cannot serialise, excessive nesting ({depth})")));
                }
                let len = self.array_length(&t)?;
                // The enclosing table and its place wait in `path` until this one is written.
                if let Some(parent) = self.table.take() {
                    let d = self.levels.len() as i64;
                    self.path.raw_set(2 * d - 1, parent)?;
                    self.path.raw_set(2 * d, std::mem::replace(&mut self.key, Value::Nil))?;
                }
                self.table = Some(t);
                self.key = Value::Nil;
                if len > 0 {
                    self.out.push(b'[');
                    self.levels.push(Level { array: Some((1, len as i64)), written: 0, top });
                } else {
                    self.out.push(b'{');
                    self.levels.push(Level { array: None, written: 0, top });
                }
            }
            other => {
                return Err(Raise::Msg(format!("Cannot serialise {}: type not supported", type_name(Some(&other)))))
            }
        }
        Ok(())
    }

    /// `lua_array_length`: the largest key when every key is an integer >= 1, -1 otherwise.
    /// The largest key is kept in a C `int`, with the same conversion for huge keys.
    fn array_length(&self, t: &Table) -> Result<i32, Raise> {
        let (mut max, mut items, mut array) = (0i32, 0i32, true);
        t.for_each(|k: Value, _: Value| {
            if array {
                match number_of(&k) {
                    Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                        if k > max as f64 {
                            max = c_cast_i32(k);
                        }
                        items = items.wrapping_add(1);
                    }
                    _ => array = false,
                }
            }
            Ok(())
        })?;
        if !array {
            return Ok(-1);
        }
        let c = &self.cfg;
        if c.sparse_ratio > 0 && max > items.wrapping_mul(c.sparse_ratio) && max > c.sparse_safe {
            if c.sparse_convert == 0 {
                return Err(Raise::Msg("Cannot serialise table: excessively sparse array".into()));
            }
            return Ok(-1);
        }
        Ok(max)
    }

    /// `json_append_number`.
    fn number(&mut self, n: f64) -> Result<(), Raise> {
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => {
                return Err(Raise::Msg("Cannot serialise number: must not be NaN or Inf".into()));
            }
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            0 | 1 => {}
            _ if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        let precision = self.cfg.encode_number_precision;
        // `%.14g` prints an integer with at most `precision` digits as the integer itself (and
        // -0 as "-0"); the shortcut matters for big arrays of counters and ids.
        if n.trunc() == n && n.abs() < 10f64.powi(precision) && !(n == 0.0 && n.is_sign_negative()) {
            self.out.extend_from_slice((n as i64).to_string().as_bytes());
            return Ok(());
        }
        let text = if n.is_infinite() {
            if n > 0.0 {
                "inf".to_string()
            } else {
                "-inf".to_string()
            }
        } else {
            crate::resp::frame::fmt_g(n, precision as usize)
        };
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// Decoding.
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    /// `json_token_type_name`, or the error's description for a bad token.
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Boolean(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Token {
    tok: Tok,
    /// 0-based offset of the token (of the fault, for a bad token).
    index: usize,
}

struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    invalid_numbers: bool,
}

impl Lexer<'_> {
    /// The byte at `i`, with the terminating NUL past the end as in C.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&self, what: &'static str) -> Token {
        Token { tok: Tok::Error(what), index: self.pos }
    }

    /// `json_next_token`.
    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = |tok| Token { tok, index };
        let ch = self.at(self.pos);
        let simple = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => return single(Tok::End),
            _ => None,
        };
        if let Some(tok) = simple {
            self.pos += 1;
            return single(tok);
        }
        match ch {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return self.error("invalid number");
                }
                self.number()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                let rest = &self.data[self.pos.min(self.data.len())..];
                if rest.starts_with(b"true") {
                    self.pos += 4;
                    single(Tok::Boolean(true))
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    single(Tok::Boolean(false))
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    single(Tok::Null)
                } else if self.invalid_numbers && self.is_invalid_number() {
                    self.number()
                } else {
                    self.error("invalid token")
                }
            }
            _ => self.error("invalid token"),
        }
    }

    /// `json_is_invalid_number`: what strtod accepts but JSON does not (a leading `+`, hex,
    /// leading zeros, infinity and NaN).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        // C compares a (signed) char: bytes above 0x7f count as "an ordinary number".
        if (c as i8) <= b'9' as i8 {
            return false;
        }
        let word = [self.at(p) | 0x20, self.at(p + 1) | 0x20, self.at(p + 2) | 0x20];
        // strncasecmp stops at the NUL, which `| 0x20` turns into a space: no false match.
        &word == b"inf" || &word == b"nan"
    }

    fn number(&mut self) -> Token {
        let index = self.pos;
        let rest = &self.data[self.pos.min(self.data.len())..];
        match strtod(rest) {
            Some((n, used)) => {
                self.pos += used;
                Token { tok: Tok::Number(n), index }
            }
            None => self.error("invalid number"),
        }
    }

    /// `json_next_string_token`, the opening quote at `pos`.
    fn string(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        let mut buf = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error("unexpected end of string");
            }
            if ch == b'\\' {
                let translated = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        match self.unicode_escape() {
                            Some((utf8, len)) => {
                                buf.extend_from_slice(&utf8);
                                self.pos += len;
                            }
                            None => return self.error("invalid unicode escape code"),
                        }
                        continue;
                    }
                    _ => return self.error("invalid escape code"),
                };
                self.pos += 2;
                buf.push(translated);
                continue;
            }
            buf.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Token { tok: Tok::Str(buf), index }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            v = (v << 4) | (self.at(at + i) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// `json_append_unicode_escape` at `\uXXXX` (with a following low surrogate when XXXX is a
    /// high one): the UTF-8 bytes and how much input they used.
    fn unicode_escape(&self) -> Option<(Vec<u8>, usize)> {
        let mut cp = self.hex4(self.pos + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return None;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut utf8 = Vec::with_capacity(4);
        if cp <= 0x7F {
            utf8.push(cp as u8);
        } else if cp <= 0x7FF {
            utf8.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
        } else if cp <= 0xFFFF {
            utf8.extend_from_slice(&[
                (cp >> 12) as u8 | 0xE0,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        } else {
            utf8.extend_from_slice(&[
                (cp >> 18) as u8 | 0xF0,
                ((cp >> 12) & 0x3F) as u8 | 0x80,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        }
        Some((utf8, len))
    }
}

fn parse_error(exp: &str, t: &Token) -> Raise {
    Raise::Msg(format!("Expected {} but found {} at character {}", exp, t.tok.name(), t.index + 1))
}

/// A container being filled: the C parser's recursion, kept as data.
struct Open {
    object: bool,
    /// The next array index.
    index: i64,
    /// An object's key waiting for its value.
    key: Vec<u8>,
    /// Stack slots the C parser would be using while it parses one of this container's values.
    child_top: usize,
}

/// `json_decode` after its argument checks.
fn decode(lua: &Lua, cfg: &Config, data: &[u8]) -> Result<Value, Raise> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Raise::Msg("JSON parser does not support UTF-16 or UTF-32".into()));
    }
    let mut lx = Lexer { data, pos: 0, invalid_numbers: cfg.decode_invalid_numbers != 0 };
    // The innermost container is `table`; the ones around it wait in `path` (slot d for depth
    // d), in Lua, so that deep input costs no mlua references.
    let path = lua.create_table()?;
    let mut table: Option<Table> = None;
    let mut open: Vec<Open> = Vec::new();
    let mut tok = lx.next();
    let result = 'value: loop {
        // json_process_value(tok)
        let mut v = match tok.tok {
            Tok::Str(s) => Value::String(lua.create_string(&s)?),
            Tok::Number(n) => Value::Number(n),
            Tok::Boolean(b) => Value::Boolean(b),
            Tok::Null => null(),
            Tok::ObjBegin | Tok::ArrBegin => {
                let object = tok.tok == Tok::ObjBegin;
                let top = open.last().map_or(1, |o| o.child_top);
                let depth = open.len() + 1;
                // json_decode_descend: the depth limit and lua_checkstack(l, 3 or 2).
                let slots = if object { 3 } else { 2 };
                if depth > cfg.decode_max_depth as usize || top + slots > LUA_C_STACK_SLOTS {
                    return Err(Raise::Msg(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        lx.pos
                    )));
                }
                let t = lua.create_table()?;
                let first = lx.next();
                if first.tok == (if object { Tok::ObjEnd } else { Tok::ArrEnd }) {
                    Value::Table(t)
                } else {
                    if let Some(parent) = table.replace(t) {
                        path.raw_set(open.len(), parent)?;
                    }
                    let mut o = Open { object, index: 1, key: Vec::new(), child_top: top + if object { 2 } else { 1 } };
                    tok = if object { object_key(&mut lx, &mut o, first)? } else { first };
                    open.push(o);
                    continue 'value;
                }
            }
            _ => return Err(parse_error("value", &tok)),
        };
        // The value is complete: store it in its container, which may complete in turn.
        loop {
            let (Some(o), Some(t)) = (open.last_mut(), &table) else { break 'value v };
            if o.object {
                t.raw_set(lua.create_string(&o.key)?, v)?;
            } else {
                t.raw_set(o.index, v)?;
            }
            let after = lx.next();
            let end = if o.object { Tok::ObjEnd } else { Tok::ArrEnd };
            if after.tok == end {
                open.pop();
                v = Value::Table(t.clone());
                table = if open.is_empty() { None } else { Some(path.raw_get(open.len())?) };
                path.raw_set(open.len(), Value::Nil)?;
                continue;
            }
            if after.tok != Tok::Comma {
                let exp = if o.object { "comma or object end" } else { "comma or array end" };
                return Err(parse_error(exp, &after));
            }
            if o.object {
                let key = lx.next();
                tok = object_key(&mut lx, o, key)?;
            } else {
                o.index += 1;
                tok = lx.next();
            }
            continue 'value;
        }
    };
    let end = lx.next();
    if end.tok != Tok::End {
        return Err(parse_error("the end", &end));
    }
    Ok(result)
}

/// An object member's key and colon; returns the token of its value.
fn object_key(lx: &mut Lexer, o: &mut Open, key: Token) -> Result<Token, Raise> {
    let Tok::Str(s) = key.tok else {
        return Err(parse_error("object key string", &key));
    };
    o.key = s;
    let colon = lx.next();
    if colon.tok != Tok::Colon {
        return Err(parse_error("colon", &colon));
    }
    Ok(lx.next())
}

// ------------------------------------------------------------------------------------------------
// strtod.
// ------------------------------------------------------------------------------------------------

/// glibc's `strtod` on a NUL-terminated string: the value and the bytes it used, or `None`
/// when no number starts here. Decimal, hexadecimal (`0x1.8p3`), `inf`, `infinity` and
/// `nan(...)` in any case, with an optional sign.
pub fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = 0;
    let negative = match at(0) {
        b'-' => {
            p = 1;
            true
        }
        b'+' => {
            p = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if negative { -v } else { v };
    let lower = |i: usize| at(i).to_ascii_lowercase();
    if lower(p) == b'i' && lower(p + 1) == b'n' && lower(p + 2) == b'f' {
        let word = b"inity";
        let long = (0..5).all(|i| lower(p + 3 + i) == word[i]);
        return Some((sign(f64::INFINITY), p + if long { 8 } else { 3 }));
    }
    if lower(p) == b'n' && lower(p + 1) == b'a' && lower(p + 2) == b'n' {
        let mut end = p + 3;
        if at(end) == b'(' {
            let mut q = end + 1;
            while at(q).is_ascii_alphanumeric() || at(q) == b'_' {
                q += 1;
            }
            if at(q) == b')' {
                end = q + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(p) == b'0' && lower(p + 1) == b'x' {
        let h = p + 2;
        let starts = at(h).is_ascii_hexdigit() || (at(h) == b'.' && at(h + 1).is_ascii_hexdigit());
        if starts {
            let (v, used) = hex_float(&s[h.min(s.len())..]);
            return Some((sign(v), h + used));
        }
        // "0x" with no digits: strtod reads the "0" alone.
        return Some((sign(0.0), p + 1));
    }

    let mut digits = String::new();
    while at(p).is_ascii_digit() {
        digits.push(at(p) as char);
        p += 1;
    }
    let int_len = digits.len();
    let mut frac = String::new();
    if at(p) == b'.' {
        let mut q = p + 1;
        while at(q).is_ascii_digit() {
            frac.push(at(q) as char);
            q += 1;
        }
        if int_len > 0 || !frac.is_empty() {
            p = q;
        }
    }
    if int_len == 0 && frac.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if lower(p) == b'e' {
        let mut q = p + 1;
        let exp_negative = match at(q) {
            b'-' => {
                q += 1;
                true
            }
            b'+' => {
                q += 1;
                false
            }
            _ => false,
        };
        if at(q).is_ascii_digit() {
            while at(q).is_ascii_digit() {
                // Far beyond any double's range either way; saturate rather than overflow.
                exp = (exp * 10 + (at(q) - b'0') as i64).min(1_000_000_000);
                q += 1;
            }
            if exp_negative {
                exp = -exp;
            }
            p = q;
        }
    }

    let text = format!(
        "{}.{}e{}",
        if digits.is_empty() { "0" } else { &digits },
        if frac.is_empty() { "0" } else { &frac },
        exp
    );
    let v: f64 = text.parse().ok()?;
    Some((sign(v), p))
}

/// The digits of a hexadecimal float after `0x`, rounded to nearest-even like glibc.
fn hex_float(s: &[u8]) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = 0;
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    // value = mantissa * 2^exp2 (before rounding), counting dropped digits in `exp2`.
    let mut exp2: i64 = 0;
    let mut seen_dot = false;
    loop {
        let c = at(p);
        if c == b'.' && !seen_dot {
            seen_dot = true;
            p += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else { break };
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | d as u64;
            if seen_dot {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                exp2 += 4;
            }
        }
        p += 1;
    }
    if at(p) | 0x20 == b'p' {
        let mut q = p + 1;
        let negative = match at(q) {
            b'-' => {
                q += 1;
                true
            }
            b'+' => {
                q += 1;
                false
            }
            _ => false,
        };
        if at(q).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(q).is_ascii_digit() {
                e = (e * 10 + (at(q) - b'0') as i64).min(1_000_000_000);
                q += 1;
            }
            exp2 += if negative { -e } else { e };
            p = q;
        }
    }
    (scale_binary(mantissa, sticky, exp2), p)
}

/// `mantissa * 2^exp2` rounded once to a double (ties to even, `sticky` meaning "a little
/// more than that").
fn scale_binary(mantissa: u64, sticky: bool, exp2: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    let lz = mantissa.leading_zeros() as i64;
    let m = mantissa << lz;
    let e = exp2 - lz; // value = m * 2^e, m in [2^63, 2^64)
    let top = e + 63; // value in [2^top, 2^(top + 1))
    if top > 1023 {
        return f64::INFINITY;
    }
    // Significant bits a double keeps at this magnitude: 53, fewer among the subnormals.
    let keep = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep <= 0 {
        // Below half the smallest subnormal rounds to zero; above it, up to the smallest.
        let above_half = keep == 0 && (m > 1 << 63 || sticky);
        return if above_half { f64::from_bits(1) } else { 0.0 };
    }
    let drop = (64 - keep) as u32;
    let mut q = m >> drop;
    let rem = m & ((1u64 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if rem > half || (rem == half && (sticky || q & 1 == 1)) {
        q += 1;
    }
    // q * 2^(e + drop), exactly representable by construction (or infinite).
    let shift = e + drop as i64;
    let pow2 = |k: i64| -> f64 {
        if k >= -1022 {
            f64::from_bits(((k + 1023) as u64) << 52)
        } else {
            f64::from_bits(1u64 << (k + 1074))
        }
    };
    // Split the scaling so neither factor leaves the double range on its own.
    if shift > 960 {
        (q as f64) * pow2(960) * pow2(shift - 960)
    } else if shift < -1022 {
        (q as f64) * pow2(shift + 53) * pow2(-53)
    } else {
        (q as f64) * pow2(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_takes_the_longest_number() {
        assert_eq!(strtod(b"1.5e"), Some((1.5, 3)));
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"-.5,"), Some((-0.5, 3)));
        assert_eq!(strtod(b"1."), Some((1.0, 2)));
        assert_eq!(strtod(b"0x10]"), Some((16.0, 4)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"0x1p-2"), Some((0.25, 6)));
        assert_eq!(strtod(b"0x.8"), Some((0.5, 4)));
        assert_eq!(strtod(b"-Infinity"), Some((f64::NEG_INFINITY, 9)));
        assert_eq!(strtod(b"infin"), Some((f64::INFINITY, 3)));
        assert_eq!(strtod(b"1e400"), Some((f64::INFINITY, 5)));
        assert_eq!(strtod(b"1e-400"), Some((0.0, 6)));
        assert_eq!(strtod(b"1e+"), Some((1.0, 1)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"."), None);
        let (n, used) = strtod(b"nan(abc)x").unwrap();
        assert!(n.is_nan());
        assert_eq!(used, 8);
    }

    #[test]
    fn hex_floats_round_to_nearest_even() {
        assert_eq!(strtod(b"0x1fffffffffffff").unwrap().0, 9007199254740991.0);
        assert_eq!(strtod(b"0x20000000000001").unwrap().0, 9007199254740992.0); // tie: to even
        assert_eq!(strtod(b"0x20000000000003").unwrap().0, 9007199254740996.0); // tie: to even
        assert_eq!(strtod(b"0x1p-1074").unwrap().0, f64::from_bits(1));
        assert_eq!(strtod(b"0x1p-1076").unwrap().0, 0.0);
        assert_eq!(strtod(b"0x1p1024").unwrap().0, f64::INFINITY);
        assert_eq!(strtod(b"0x1.fffffffffffffp1023").unwrap().0, f64::MAX);
    }

    #[test]
    fn strings_escape_like_cjson() {
        let mut out = Vec::new();
        append_string(&mut out, b"a/\"\\\x01\x7f\xc3\xa9\n");
        assert_eq!(out, b"\"a\\/\\\"\\\\\\u0001\\u007f\xc3\xa9\\n\"".to_vec());
    }

    fn lexer(s: &[u8]) -> Lexer<'_> {
        Lexer { data: s, pos: 0, invalid_numbers: true }
    }

    #[test]
    fn unicode_escapes_and_surrogate_pairs() {
        let t = lexer(br#""\u00e9\ud83d\ude00""#).next();
        assert_eq!(t.tok, Tok::Str("\u{e9}\u{1F600}".as_bytes().to_vec()));
        let t = lexer(br#""\udc00""#).next();
        assert_eq!((t.tok, t.index), (Tok::Error("invalid unicode escape code"), 1));
        let t = lexer(br#""ab\q""#).next();
        assert_eq!((t.tok, t.index), (Tok::Error("invalid escape code"), 3));
        let t = lexer(b"\"ab").next();
        assert_eq!((t.tok, t.index), (Tok::Error("unexpected end of string"), 3));
    }

    #[test]
    fn invalid_numbers_follow_the_switch() {
        let mut strict = Lexer { data: b"0x10", pos: 0, invalid_numbers: false };
        assert_eq!(strict.next().tok, Tok::Error("invalid number"));
        assert_eq!(lexer(b"0x10").next().tok, Tok::Number(16.0));
        assert_eq!(lexer(b"+5").next().tok, Tok::Number(5.0));
        assert_eq!(lexer(b"nul").next().tok, Tok::Error("invalid token"));
        assert!(matches!(lexer(b"NaN").next().tok, Tok::Number(n) if n.is_nan()));
    }

    #[test]
    fn sparse_keys_convert_to_int_like_x86() {
        assert_eq!(c_cast_i32(3.0), 3);
        assert_eq!(c_cast_i32(1e12), i32::MIN);
    }
}
