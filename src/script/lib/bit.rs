//! `bit`: LuaBitOp 1.0's operations on 32-bit integers, as Redis ships them.
//!
//! LuaBitOp turns a Lua number into 32 bits by adding 2^52 + 2^51 and reading the low word of the
//! double, which rounds to the nearest integer (ties to even) and wraps modulo 2^32 in one step.
//! [`to_bits`] does the same arithmetic, so `bit.tobit(2^32 + 1.5)` gives what Redis gives.

use mlua::{Lua, MultiValue, Value};

use super::{bad_arg, one, to_number, LibBuilder};
use crate::script::fail;

pub fn to_bits(x: f64) -> u32 {
    (x + 6_755_399_441_055_744.0).to_bits() as u32
}

fn arg(args: &MultiValue, i: usize, fname: &str) -> Result<u32, String> {
    match to_number(args.get(i)) {
        Some(x) => Ok(to_bits(x)),
        None => Err(bad_arg(i + 1, fname, "number", args.get(i))),
    }
}

fn num(b: u32) -> mlua::Result<MultiValue> {
    one(Value::Number(b as i32 as f64))
}

macro_rules! unary {
    ($lib:expr, $name:literal, |$x:ident| $body:expr) => {
        $lib.single($name, |lua, args| match arg(&args, 0, $name) {
            Ok($x) => num($body),
            Err(e) => fail(lua, e),
        })?;
    };
}

macro_rules! fold {
    ($lib:expr, $name:literal, $op:tt) => {
        $lib.single($name, |lua, args| {
            let mut acc = match arg(&args, 0, $name) {
                Ok(x) => x,
                Err(e) => return fail(lua, e),
            };
            for i in 1..args.len() {
                match arg(&args, i, $name) {
                    Ok(x) => acc = acc $op x,
                    Err(e) => return fail(lua, e),
                }
            }
            num(acc)
        })?;
    };
}

macro_rules! shift {
    ($lib:expr, $name:literal, |$x:ident, $n:ident| $body:expr) => {
        $lib.single($name, |lua, args| {
            let ($x, $n) = match (arg(&args, 0, $name), arg(&args, 1, $name)) {
                (Ok(x), Ok(n)) => (x, n & 31),
                (Err(e), _) | (_, Err(e)) => return fail(lua, e),
            };
            num($body)
        })?;
    };
}

pub fn library(lua: &Lua) -> mlua::Result<mlua::Table> {
    let lib = LibBuilder::new(lua)?;
    unary!(lib, "tobit", |x| x);
    unary!(lib, "bnot", |x| !x);
    unary!(lib, "bswap", |x| x.swap_bytes());
    fold!(lib, "band", &);
    fold!(lib, "bor", |);
    fold!(lib, "bxor", ^);
    shift!(lib, "lshift", |x, n| x << n);
    shift!(lib, "rshift", |x, n| x >> n);
    shift!(lib, "arshift", |x, n| ((x as i32) >> n) as u32);
    shift!(lib, "rol", |x, n| x.rotate_left(n));
    shift!(lib, "ror", |x, n| x.rotate_right(n));
    lib.single("tohex", |lua, args| {
        let x = match arg(&args, 0, "tohex") {
            Ok(x) => x,
            Err(e) => return fail(lua, e),
        };
        let mut n: i32 = if args.len() > 1 && !matches!(args.get(1), Some(Value::Nil)) {
            match arg(&args, 1, "tohex") {
                Ok(n) => n as i32,
                Err(e) => return fail(lua, e),
            }
        } else {
            8
        };
        let upper = n < 0;
        if upper {
            n = n.wrapping_neg();
        }
        let n = (n as u32).min(8) as usize;
        let full = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
        one(Value::String(lua.create_string(&full[8 - n..])?))
    })?;
    lib.build()
}

#[cfg(test)]
mod tests {
    use super::to_bits;

    #[test]
    fn rounding_and_wrapping_follow_luabitop() {
        assert_eq!(to_bits(1.0), 1);
        assert_eq!(to_bits(-1.0) as i32, -1);
        assert_eq!(to_bits(2.5), 2); // ties to even
        assert_eq!(to_bits(3.5), 4);
        assert_eq!(to_bits(4294967297.0), 1); // 2^32 + 1 wraps
        assert_eq!(to_bits(2147483648.0) as i32, i32::MIN);
    }
}
