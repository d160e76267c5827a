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
