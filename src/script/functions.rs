//! Redis 7 functions: libraries of named Lua functions, loaded with FUNCTION LOAD and called with
//! FCALL.
//!
//! ```text
//!  FUNCTION LOAD "#!lua name=mylib\n redis.register_function('hello', function(keys, args) ... end)"
//!     │ metadata line: engine `lua`, name=mylib      (errors: Missing/Invalid library metadata ...)
//!     │ compile as "@user_function" in the function environment
//!     │ run the top level with only `redis.register_function` and `redis.log` visible (500 ms limit)
//!     ▼
//!  Libraries { mylib → Library { code, functions: hello → FunctionInfo } }, hello → mylib
//!
//!  FCALL hello 1 k v   ──▶  the registered callback, called as callback({"k"}, {"v"})
//! ```
//!
//! Unlike Redis, which gives functions a Lua VM of their own, terrarium runs them in the same VM
//! as EVAL scripts, under a separate global environment; nothing a script can observe depends on
//! that choice.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use indexmap::IndexMap;
use mlua::{Function, MultiValue, Table, Value};

use super::{lua_message, Engine, ScriptFlags};
use crate::kv::cmd::{CmdError, CmdResult, Ctx};
use crate::limits::FUNCTION_LOAD_TIMEOUT_MS;
use crate::resp::Frame;

pub struct FunctionInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    pub func: Function,
}

pub struct Library {
    pub name: String,
    /// The whole payload FUNCTION LOAD received, metadata line included (FUNCTION LIST WITHCODE).
    pub code: Bytes,
    pub functions: IndexMap<String, FunctionInfo>,
}

/// Every loaded library, and which library each function name belongs to.
#[derive(Default)]
pub struct Libraries {
    libs: IndexMap<String, Library>,
    owner: std::collections::HashMap<String, String>,
}

impl Libraries {
    pub fn in_order(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }
    pub fn library_count(&self) -> usize {
        self.libs.len()
    }
    pub fn function_count(&self) -> usize {
        self.owner.len()
    }
    pub fn get(&self, lib: &str) -> Option<&Library> {
        self.libs.get(lib)
    }
    fn function(&self, name: &str) -> Option<&FunctionInfo> {
        let lib = self.owner.get(name)?;
        self.libs.get(lib)?.functions.get(name)
    }
    pub fn delete(&mut self, lib: &str) -> bool {
        match self.libs.shift_remove(lib) {
            Some(l) => {
                for f in l.functions.keys() {
                    self.owner.remove(f);
                }
                true
            }
            None => false,
        }
    }
    pub fn clear(&mut self) {
        self.libs.clear();
        self.owner.clear();
    }
}

/// A function registered while a library's top level runs.
pub struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    pub func: Function,
}

/// `#!lua name=mylib`: the engine and the library name, with Redis's error texts.
fn parse_metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = crate::resp::codec::split_args(&code[..end]).ok_or("Invalid library metadata")?;
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(&first[2..]).into_owned();
    let mut name: Option<String> = None;
    for part in &parts[1..] {
        let text = String::from_utf8_lossy(part);
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(text[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {text}"));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok((engine, name, end))
}

/// Library and function names: letters, digits and underscores, at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const BAD_NAME: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

impl Engine {
    /// FUNCTION LOAD: compiles the library, runs its top level to collect its functions, and
    /// links it, replacing a library of the same name only with REPLACE.
    pub fn function_load(&mut self, code: Bytes, replace: bool) -> Result<String, CmdError> {
        let err = |m: String| CmdError::new(format!("ERR {m}"));
        let (engine, name, skip) = parse_metadata(&code).map_err(err)?;
        if !valid_name(&name) {
            return Err(err(BAD_NAME.into()));
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(err(format!("Engine '{engine}' not found")));
        }
        if self.functions.libs.contains_key(&name) && !replace {
            return Err(err(format!("Library '{name}' already exists")));
        }
        let registered = self.run_library(&code[skip..]).map_err(err)?;
        if registered.is_empty() {
            return Err(err("No functions registered".into()));
        }
        for r in &registered {
            if let Some(owner) = self.functions.owner.get(&r.name) {
                if owner != &name {
                    return Err(err(format!("Function {} already exists", r.name)));
                }
            }
        }
        self.functions.delete(&name);
        let mut functions = IndexMap::new();
        for r in registered {
            self.functions.owner.insert(r.name.clone(), name.clone());
            functions.insert(
                r.name.clone(),
                FunctionInfo { name: r.name, description: r.description, flags: r.flags, func: r.func },
            );
        }
        self.functions.libs.insert(name.clone(), Library { name: name.clone(), code, functions });
        Ok(name)
    }

    fn run_library(&mut self, body: &[u8]) -> Result<Vec<Registered>, String> {
        let fenv: Table = self.prelude.get("fenv").map_err(|e| e.to_string())?;
        let func = self
            .lua
            .load(body)
            .set_name("@user_function")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(fenv)
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_message(&e)))?;
        *self.loading.lock().expect("loading") = Some(Vec::new());
        let deadline = self.run.elapsed_ms() + FUNCTION_LOAD_TIMEOUT_MS;
        self.run.load_deadline_ms.store(deadline, Ordering::Relaxed);
        let loader: Function = self.prelude.get("load_library").map_err(|e| e.to_string())?;
        let outcome: mlua::Result<(bool, Value)> = loader.call(func);
        self.run.load_deadline_ms.store(0, Ordering::Relaxed);
        let registered = self.loading.lock().expect("loading").take().unwrap_or_default();
        match outcome {
            Ok((true, _)) => Ok(registered),
            Ok((false, e)) => Err(format!("Error registering functions: {}", load_error_text(&e))),
            Err(e) => Err(format!("Error registering functions: ERR {}", lua_message(&e))),
        }
    }

    pub fn has_function(&self, name: &str) -> bool {
        self.functions.function(name).is_some()
    }

    /// FUNCTION RESTORE with its policy: `flush` empties first, `append` refuses a library that
    /// exists, `replace` replaces it.
    pub fn function_restore(&mut self, codes: Vec<Vec<u8>>, policy: &str) -> Result<(), String> {
        if policy == "append" {
            for code in &codes {
                if let Ok((_, name, _)) = parse_metadata(code) {
                    if self.functions.libs.contains_key(&name) {
                        return Err(format!("Library {name} already exists"));
                    }
                }
            }
        }
        if policy == "flush" {
            self.functions.clear();
        }
        for code in codes {
            self.function_load(Bytes::from(code), policy == "replace")
                .map_err(|e| e.0.trim_start_matches("ERR ").to_string())?;
        }
        Ok(())
    }

    /// FCALL / FCALL_RO after the numkeys checks.
    pub fn fcall(&mut self, ctx: &mut Ctx, name: &str, keys: &[Bytes], args: &[Bytes], ro: bool) -> CmdResult {
        let Some(f) = self.functions.function(name) else {
            return Err(CmdError::new("ERR Function not found"));
        };
        if !f.flags.no_writes && ro {
            return Err(CmdError::new("ERR Can not execute a script with write flag using *_ro command."));
        }
        let read_only = ro || f.flags.no_writes;
        let func = f.func.clone();
        Ok(self.run(ctx, func, name, keys, args, read_only, false))
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
    pub fn function_list(&self, pattern: Option<&[u8]>, with_code: bool) -> Frame {
        let mut out = Vec::new();
        for lib in self.functions.libs.values() {
            if let Some(p) = pattern {
                if !crate::kv::glob::matches(p, lib.name.as_bytes(), true) {
                    continue;
                }
            }
            let mut fields = vec![
                (Frame::bulk_str("library_name"), Frame::bulk_str(&lib.name)),
                (Frame::bulk_str("engine"), Frame::bulk_str("LUA")),
            ];
            let funcs = lib
                .functions
                .values()
                .map(|f| {
                    Frame::Map(vec![
                        (Frame::bulk_str("name"), Frame::bulk_str(&f.name)),
                        (
                            Frame::bulk_str("description"),
                            f.description.as_deref().map(Frame::bulk_str).unwrap_or(Frame::Null),
                        ),
                        (
                            Frame::bulk_str("flags"),
                            Frame::Set(f.flags.names().into_iter().map(|n| Frame::Simple(n.into())).collect()),
                        ),
                    ])
                })
                .collect();
            fields.push((Frame::bulk_str("functions"), Frame::Array(funcs)));
            if with_code {
                fields.push((Frame::bulk_str("library_code"), Frame::Bulk(lib.code.clone())));
            }
            out.push(Frame::Map(fields));
        }
        Frame::Array(out)
    }
}

/// How Redis's `luaExtractErrorInformation` reads an error raised by a library's top level
/// (which runs without the error handler): a string gets `ERR `, a table gives its `err`.
fn load_error_text(e: &Value) -> String {
    match e {
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => String::new(),
        },
        Value::Error(err) => format!("ERR {}", lua_message(err)),
        other => format!("ERR {}", other.to_string().unwrap_or_default()),
    }
}

/// `redis.register_function`, in both its forms, with Redis's argument errors.
pub fn register_function(
    lua: &mlua::Lua,
    args: MultiValue,
    loading: &std::sync::Mutex<Option<Vec<Registered>>>,
) -> mlua::Result<MultiValue> {
    let fail = |m: &str| super::fail_table(lua, &format!("ERR {m}"));
    if loading.lock().expect("loading").is_none() {
        return fail("redis.register_function can only be called on FUNCTION LOAD command");
    }
    let reg = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut desc, mut func, mut flags) = (None, None, None, ScriptFlags::default());
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).to_ascii_lowercase(),
                    Value::Number(n) => crate::resp::frame::fmt_g(*n, 14),
                    Value::Integer(n) => n.to_string(),
                    _ => return fail("named argument key given to redis.register_function is not a string"),
                };
                match key.as_str() {
                    "function_name" => match lua_string(&v) {
                        Some(s) => name = Some(s),
                        None => {
                            return fail("function_name argument given to redis.register_function must be a string")
                        }
                    },
                    "description" => match lua_string(&v) {
                        Some(s) => desc = Some(s),
                        None => return fail("description argument given to redis.register_function must be a string"),
                    },
                    "callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return fail("callback argument given to redis.register_function must be a function"),
                    },
                    "flags" => {
                        let Value::Table(ft) = v else {
                            return fail(
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        for f in ft.sequence_values::<Value>() {
                            let ok = match f? {
                                Value::String(s) => flags.set(&String::from_utf8_lossy(&s.as_bytes())).is_some(),
                                _ => false,
                            };
                            if !ok {
                                return fail("unknown flag given");
                            }
                        }
                    }
                    _ => return fail("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail("redis.register_function must get a function name argument");
            };
            let Some(func) = func else {
                return fail("redis.register_function must get a callback argument");
            };
            Registered { name, description: desc, flags, func }
        }
        2 => {
            let Some(name) = lua_string(&args[0]) else {
                return fail("first argument to redis.register_function must be a string");
            };
            let Value::Function(func) = args[1].clone() else {
                return fail("second argument to redis.register_function must be a function");
            };
            Registered { name, description: None, flags: ScriptFlags::default(), func }
        }
        _ => return fail("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&reg.name) {
        return fail(BAD_NAME);
    }
    let mut guard = loading.lock().expect("loading");
    let list = guard.as_mut().expect("checked above");
    if list.iter().any(|r| r.name == reg.name) {
        drop(guard);
        return fail("Function already exists in the library");
    }
    list.push(reg);
    Ok(MultiValue::new())
}

fn lua_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Value::Number(n) => Some(crate::resp::frame::fmt_g(*n, 14)),
        Value::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}
