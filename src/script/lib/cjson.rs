//! `cjson` (placeholder while the port is written).
use mlua::Lua;
pub fn library(lua: &Lua) -> mlua::Result<mlua::Table> {
    super::LibBuilder::new(lua)?.build()
}
