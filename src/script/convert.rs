//! The two conversions at the Redis ↔ Lua border, with Redis 7.0's rules.
//!
//! ```text
//!  command reply (Frame)            Lua value                    script's return value → reply
//!  ─────────────────────            ─────────                    ─────────────────────────────
//!  :5                         ──▶   5 (number)                   number 3.99      ──▶ :3  (truncated)
//!  $3 foo                     ──▶   "foo"                        string           ──▶ $bulk
//!  $-1 / *-1                  ──▶   false  (nil under RESP3)     true / false     ──▶ :1 / $-1 (RESP2 script)
//!  +OK                        ──▶   {ok = "OK"}                  {ok = "..."}     ──▶ +status
//!  -ERR x                     ──▶   {err = "ERR x"} (pcall)      {err = "..."}    ──▶ -error
//!  *2 ...                     ──▶   {a, b}                       {a, b, nil, c}   ──▶ *2 (stops at first nil)
//!  RESP3 map / set / double   ──▶   {map=}, {set=}, {double=}    the same tables  ──▶ %map, ~set, ,double
//! ```
//!
//! Which RESP the command *replies* with is the script's choice (`redis.setresp(3)`), not the
//! caller's: a script written for RESP2 sees the same values whichever protocol its caller speaks.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::limits::SCRIPT_REPLY_DEPTH_MAX;
use crate::resp::frame::fmt_double;
use crate::resp::Frame;

/// Converts a command's reply into the value `redis.call` returns. An error reply becomes the
/// table `{err = "..."}`; the caller decides whether to raise it.
pub fn frame_to_lua(lua: &Lua, frame: Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Simple(s) => single_field(lua, "ok", Value::String(lua.create_string(s)?))?,
        Frame::Error(s) => error_table(lua, &s)?,
        Frame::Integer(n) => Value::Number(n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Null | Frame::NullArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Frame::Array(items) | Frame::Push(items) | Frame::Sequence(items) => array(lua, items, resp3)?,
        Frame::Map(pairs) => {
            if resp3 {
                let t = lua.create_table()?;
                for (k, v) in pairs {
                    t.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
                }
                single_field(lua, "map", Value::Table(t))?
            } else {
                let flat: Vec<Frame> = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
                array(lua, flat, resp3)?
            }
        }
        Frame::Set(items) => {
            if resp3 {
                let t = lua.create_table()?;
                for item in items {
                    t.raw_set(frame_to_lua(lua, item, resp3)?, true)?;
                }
                single_field(lua, "set", Value::Table(t))?
            } else {
                array(lua, items, resp3)?
            }
        }
        Frame::Double(d) => {
            if resp3 {
                single_field(lua, "double", Value::Number(d))?
            } else {
                Value::String(lua.create_string(fmt_double(d))?)
            }
        }
        Frame::DoubleText(text) => {
            if resp3 {
                single_field(lua, "double", Value::Number(text.parse().unwrap_or(0.0)))?
            } else {
                Value::String(lua.create_string(text)?)
            }
        }
        Frame::Boolean(b) => {
            if resp3 {
                Value::Boolean(b)
            } else {
                Value::Number(if b { 1.0 } else { 0.0 })
            }
        }
        Frame::Verbatim(format, body) => {
            if resp3 {
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(&body)?)?;
                inner.raw_set("format", format)?;
                single_field(lua, "verbatim_string", Value::Table(inner))?
            } else {
                Value::String(lua.create_string(&body)?)
            }
        }
        Frame::BigNumber(s) => {
            if resp3 {
                single_field(lua, "big_number", Value::String(lua.create_string(s)?))?
            } else {
                Value::String(lua.create_string(s)?)
            }
        }
    })
}

fn array(lua: &Lua, items: Vec<Frame>, resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(t))
}

fn single_field(lua: &Lua, name: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

/// `{err = "CODE message"}` as Redis's `luaPushErrorBuff` builds it: a message without an error
/// code gets `ERR`, and a trailing CR/LF is trimmed.
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    single_field(lua, "err", Value::String(lua.create_string(error_text(text))?))
}

pub fn error_text(text: &str) -> String {
    let text = text.strip_prefix('-').unwrap_or(text);
    let (code, msg) = match text.split_once(' ') {
        Some((code, msg)) => (code, msg),
        None => ("ERR", text),
    };
    format!("{} {}", code, msg.trim_matches(|c| c == '\r' || c == '\n'))
}

/// Converts a script's return value into the reply its caller gets. `resp3` is the protocol the
/// script selected with `redis.setresp`, which decides how booleans come back.
pub fn lua_to_frame(v: &Value, resp3: bool) -> Frame {
    to_frame(v, resp3, 0)
}

/// [`lua_to_frame`] for a top-level value whose table kind the prelude already worked out
/// (`err`, `ok`, `double`, ..., `array`), which saves probing each key through the binding.
pub fn lua_to_frame_kind(v: &Value, kind: Option<&[u8]>, resp3: bool) -> Frame {
    let (Value::Table(t), Some(kind)) = (v, kind) else {
        return to_frame(v, resp3, 0);
    };
    if kind == b"array" {
        return array_frame(t, resp3, 0);
    }
    table_to_frame(t, resp3, 0)
}

fn array_frame(t: &Table, resp3: bool, depth: usize) -> Frame {
    let mut items = Vec::new();
    for v in t.sequence_values::<Value>() {
        match v {
            Ok(v) => items.push(to_frame(&v, resp3, depth + 1)),
            Err(_) => break,
        }
    }
    Frame::Array(items)
}

fn to_frame(v: &Value, resp3: bool, depth: usize) -> Frame {
    if depth > SCRIPT_REPLY_DEPTH_MAX {
        return Frame::error("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Frame::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => {
            if resp3 {
                Frame::Boolean(*b)
            } else if *b {
                Frame::Integer(1)
            } else {
                Frame::Null
            }
        }
        Value::Integer(n) => Frame::Integer(*n),
        Value::Number(n) => Frame::Integer(c_cast_i64(*n)),
        Value::Table(t) => table_to_frame(t, resp3, depth),
        _ => Frame::Null,
    }
}

fn table_to_frame(t: &Table, resp3: bool, depth: usize) -> Frame {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return Frame::Error(String::from_utf8_lossy(&e.as_bytes()).into_owned());
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return Frame::Simple(no_crlf(&s.as_bytes()));
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return Frame::Double(d);
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        return Frame::Double(d as f64);
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        return Frame::BigNumber(no_crlf(&s.as_bytes()));
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(fmt)), Ok(Value::String(body))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            // Frame keeps the format as a static name; the two formats RESP3 defines are kept.
            let fmt = if &fmt.as_bytes()[..] == b"mkd" { "mkd" } else { "txt" };
            return Frame::Verbatim(fmt, Bytes::copy_from_slice(&body.as_bytes()));
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((to_frame(&k, resp3, depth + 1), to_frame(&v, resp3, depth + 1)));
        }
        return Frame::Map(pairs);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let mut items = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            items.push(to_frame(&k, resp3, depth + 1));
        }
        return Frame::Set(items);
    }
    array_frame(t, resp3, depth)
}

fn no_crlf(b: &[u8]) -> String {
    String::from_utf8_lossy(b).chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect()
}

/// `(long long)d` as x86-64 computes it: truncation toward zero, and the "integer indefinite"
/// value `LLONG_MIN` for NaN and anything out of range, which is what Redis replies with.
pub fn c_cast_i64(d: f64) -> i64 {
    if d.is_nan() || d >= 9.223_372_036_854_775_807e18 || d < -9.223_372_036_854_775_808e18 {
        i64::MIN
    } else {
        d as i64
    }
}
