//! The C libraries Redis compiles into its Lua, re-written in Rust: `bit` (LuaBitOp), `cjson`,
//! `cmsgpack` and `struct`.
//!
//! Each library is a table of Rust functions. A function raises an error with
//! [`crate::script::fail`], which puts the caller's line in front of the message the way
//! `luaL_error` does in the C originals.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::{Lua, Table};

pub fn register(lua: &Lua) -> mlua::Result<Table> {
    let libs = lua.create_table()?;
    libs.set("bit", bit::library(lua)?)?;
    libs.set("cjson", cjson::library(lua)?)?;
    libs.set("cmsgpack", cmsgpack::library(lua)?)?;
    libs.set("struct", structlib::library(lua)?)?;
    Ok(libs)
}

/// A library table under construction.
pub struct LibBuilder<'a> {
    lua: &'a Lua,
    pub table: Table,
}

impl<'a> LibBuilder<'a> {
    pub fn new(lua: &'a Lua) -> mlua::Result<Self> {
        Ok(LibBuilder { lua, table: lua.create_table()? })
    }
    pub fn single<F>(&self, name: &str, f: F) -> mlua::Result<()>
    where
        F: Fn(&Lua, mlua::MultiValue) -> mlua::Result<mlua::MultiValue> + Send + 'static,
    {
        self.table.set(name, self.lua.create_function(f)?)
    }
    pub fn multi<F>(&self, name: &str, f: F) -> mlua::Result<()>
    where
        F: Fn(&Lua, mlua::MultiValue) -> mlua::Result<mlua::MultiValue> + Send + 'static,
    {
        self.single(name, f)
    }
    pub fn value(&self, name: &str, v: impl mlua::IntoLua) -> mlua::Result<()> {
        self.table.set(name, v)
    }
    pub fn build(self) -> mlua::Result<Table> {
        Ok(self.table)
    }
}

/// One value as a function's result.
pub fn one(v: mlua::Value) -> mlua::Result<mlua::MultiValue> {
    Ok(mlua::MultiValue::from_vec(vec![v]))
}

/// Several values as a function's result.
pub fn many(_lua: &Lua, vals: Vec<mlua::Value>) -> mlua::Result<mlua::MultiValue> {
    Ok(mlua::MultiValue::from_vec(vals))
}

/// Lua's `luaL_checknumber`: a number, or a string that converts to one.
pub fn to_number(v: Option<&mlua::Value>) -> Option<f64> {
    match v {
        Some(mlua::Value::Number(n)) => Some(*n),
        Some(mlua::Value::Integer(n)) => Some(*n as f64),
        Some(mlua::Value::String(s)) => {
            let s = s.to_str().ok()?;
            let t = s.trim();
            if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                return u64::from_str_radix(hex, 16).ok().map(|n| n as f64);
            }
            t.parse::<f64>().ok()
        }
        _ => None,
    }
}

/// The type name Lua's error messages use.
pub fn type_name(v: Option<&mlua::Value>) -> &'static str {
    match v {
        None => "no value",
        Some(mlua::Value::Nil) => "nil",
        Some(mlua::Value::Boolean(_)) => "boolean",
        Some(mlua::Value::Number(_)) | Some(mlua::Value::Integer(_)) => "number",
        Some(mlua::Value::String(_)) => "string",
        Some(mlua::Value::Table(_)) => "table",
        Some(mlua::Value::Function(_)) => "function",
        Some(mlua::Value::Thread(_)) => "thread",
        _ => "userdata",
    }
}

/// `bad argument #n to 'f' (number expected, got x)`.
pub fn bad_arg(n: usize, fname: &str, expected: &str, got: Option<&mlua::Value>) -> String {
    format!("bad argument #{} to '{}' ({} expected, got {})", n, fname, expected, type_name(got))
}

/// An error a library function raises, in the three shapes the Lua C API gives errors.
///
/// The C libraries raise with `luaL_argerror` ("bad argument #n to 'f' (...)"), with
/// `luaL_error` (the message after the calling script's position), or, for faults the Lua core
/// finds inside the C function such as `table index is nil`, with the bare message. Building
/// the error as a value lets the Rust ports use `?` and raise once, at the boundary, in [`raise`].
#[derive(Debug)]
pub enum Raise {
    /// `luaL_argerror(L, narg, extramsg)`.
    Arg(i32, String),
    /// `luaL_error(L, msg)`.
    Msg(String),
    /// A core error raised from inside a C function: no position in front.
    Bare(String),
    /// Something mlua itself reported (out of memory and the like).
    Lua(mlua::Error),
}

impl From<mlua::Error> for Raise {
    fn from(e: mlua::Error) -> Self {
        Raise::Lua(e)
    }
}

/// Raises `r` as the C library would have.
pub fn raise(lua: &Lua, r: Raise) -> mlua::Result<mlua::MultiValue> {
    match r {
        Raise::Arg(narg, extramsg) => crate::script::fail(lua, arg_message(lua, narg, &extramsg)),
        Raise::Msg(msg) => crate::script::fail(lua, msg),
        Raise::Bare(msg) => fail_bare(lua, &msg),
        Raise::Lua(e) => Err(e),
    }
}

/// Runs a library function body and raises its error, if any, the C way.
pub fn guarded(lua: &Lua, body: impl FnOnce() -> Result<mlua::MultiValue, Raise>) -> mlua::Result<mlua::MultiValue> {
    match body() {
        Ok(v) => Ok(v),
        Err(r) => raise(lua, r),
    }
}

/// The text of `luaL_argerror`: the function is named the way its caller named it (so
/// `local e = cjson.encode; e()` blames `'e'`), and a method call does not count `self`.
pub fn arg_message(lua: &Lua, narg: i32, extramsg: &str) -> String {
    let names = lua.inspect_stack(0, |d| {
        let n = d.names();
        (n.name.map(|s| s.into_owned()), n.name_what)
    });
    let (name, what) = names.unwrap_or((None, None));
    let mut narg = narg;
    if what == Some("method") {
        narg -= 1;
        if narg == 0 {
            return format!("calling '{}' on bad self ({})", name.as_deref().unwrap_or("?"), extramsg);
        }
    }
    format!("bad argument #{} to '{}' ({})", narg, name.as_deref().unwrap_or("?"), extramsg)
}

/// Raises `msg` with no position in front, the way the Lua core reports a fault it finds while a
/// C function runs (`table index is nil`). Uses the same registry slot as [`crate::script::fail`].
pub fn fail_bare(lua: &Lua, msg: &str) -> mlua::Result<mlua::MultiValue> {
    lua.set_named_registry_value(crate::script::PENDING, lua.create_string(msg)?)?;
    Err(mlua::Error::RuntimeError(msg.to_string()))
}

/// `luaL_typerror`: "number expected, got string" as a [`Raise::Arg`].
pub fn type_error(narg: usize, expected: &str, got: Option<&mlua::Value>) -> Raise {
    Raise::Arg(narg as i32, format!("{} expected, got {}", expected, type_name(got)))
}

/// Whether argument `i` (0-based) is absent or nil, as `lua_isnoneornil`.
pub fn is_none_or_nil(args: &mlua::MultiValue, i: usize) -> bool {
    matches!(args.get(i), None | Some(mlua::Value::Nil))
}

/// `luaL_checknumber` for argument `i` (0-based).
pub fn check_number(args: &mlua::MultiValue, i: usize) -> Result<f64, Raise> {
    to_number(args.get(i)).ok_or_else(|| type_error(i + 1, "number", args.get(i)))
}

/// `luaL_checkinteger` for argument `i` (0-based): the number truncated as x86-64 converts a
/// double to a 64-bit integer (out of range and NaN give `i64::MIN`).
pub fn check_integer(args: &mlua::MultiValue, i: usize) -> Result<i64, Raise> {
    if let Some(mlua::Value::Integer(n)) = args.get(i) {
        return Ok(*n);
    }
    check_number(args, i).map(crate::script::convert::c_cast_i64)
}

/// `luaL_optinteger`: `default` when argument `i` (0-based) is absent or nil.
pub fn opt_integer(args: &mlua::MultiValue, i: usize, default: i64) -> Result<i64, Raise> {
    if is_none_or_nil(args, i) {
        Ok(default)
    } else {
        check_integer(args, i)
    }
}

/// `luaL_checklstring` for argument `i` (0-based): a string, or a number in Lua's `%.14g`.
pub fn check_bytes(args: &mlua::MultiValue, i: usize) -> Result<Vec<u8>, Raise> {
    match args.get(i) {
        Some(mlua::Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(mlua::Value::Integer(n)) => Ok(lua_number_text(*n as f64).into_bytes()),
        Some(mlua::Value::Number(n)) => Ok(lua_number_text(*n).into_bytes()),
        other => Err(type_error(i + 1, "string", other)),
    }
}

/// A number as Lua 5.1 turns it into a string (`%.14g`, glibc's spelling of NaN and infinity).
pub fn lua_number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    crate::resp::frame::fmt_g(n, 14)
}

/// `LUAI_MAXCSTACK`: the stack slots a C function may use in Redis's Lua 5.1. The C libraries
/// keep their work on the Lua stack, so this is where their "stack overflow" and "excessive
/// nesting" errors come from; the ports count the slots the C code would use and fail at the
/// same point.
pub const LUA_C_STACK_SLOTS: usize = 8000;
