//! Scripting commands: EVAL and friends, SCRIPT, FUNCTION and FCALL. The engine itself (the VM,
//! the sandbox, `redis.call`) is in `crate::script`; this file parses arguments and replies.

use bytes::Bytes;

use super::{eq_ic, CmdError, CmdResult, Ctx, Handler};
use crate::resp::Frame;
use crate::script::sha1_hex;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("fcall", fcall),
    ("fcall_ro", fcall_ro),
    ("script", container),
    ("script|help", script_help),
    ("script|flush", script_flush),
    ("script|debug", script_debug),
    ("script|exists", script_exists),
    ("script|kill", script_kill),
    ("script|load", script_load),
    ("function", container),
    ("function|list", function_list),
    ("function|restore", function_restore),
    ("function|dump", function_dump),
    ("function|help", function_help),
    ("function|kill", function_kill),
    ("function|delete", function_delete),
    ("function|flush", function_flush),
    ("function|load", function_load),
    ("function|stats", function_stats),
];

fn container(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Err(CmdError::new(format!("ERR unknown subcommand '{}'.", String::from_utf8_lossy(&argv[1]))))
}

/// `numkeys` and the split of the remaining arguments into keys and args, as evalGenericCommand.
fn split_keys<'a>(argv: &'a [Bytes], bad_number: &'static str) -> Result<(&'a [Bytes], &'a [Bytes]), CmdError> {
    let numkeys = crate::resp::codec::parse_i64(&argv[2]).ok_or_else(|| CmdError::new(bad_number))?;
    let rest = &argv[3..];
    if numkeys > rest.len() as i64 {
        return Err(CmdError::new("ERR Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(CmdError::new("ERR Number of keys can't be negative"));
    }
    Ok(rest.split_at(numkeys as usize))
}

/// EVAL script numkeys [key [key ...]] [arg [arg ...]]
fn eval(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, false)
}

/// EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]
fn eval_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, false, true)
}

/// EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]
fn evalsha(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, false)
}

/// EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]
fn evalsha_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    eval_generic(ctx, argv, true, true)
}

fn eval_generic(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    // EVALSHA with anything but 40 characters cannot match: Redis answers before numkeys.
    if by_sha && argv[1].len() != 40 {
        return Err(CmdError::new("NOSCRIPT No matching script. Please use EVAL."));
    }
    let (keys, args) = split_keys(argv, "ERR value is not an integer or out of range")?;
    let shared = ctx.shared;
    let mut engine = shared.scripting.lock().expect("scripting");
    let sha = if by_sha {
        String::from_utf8_lossy(&argv[1]).to_ascii_lowercase()
    } else {
        let sha = sha1_hex(&argv[1]);
        if !engine.script_exists(sha.as_bytes()) {
            engine.load_script(&argv[1])?;
        }
        sha
    };
    engine.eval(ctx, &sha, keys, args, ro)
}

/// FCALL function numkeys [key [key ...]] [arg [arg ...]]
fn fcall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, argv, false)
}

/// FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]
fn fcall_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, argv, true)
}

fn fcall_generic(ctx: &mut Ctx, argv: &[Bytes], ro: bool) -> CmdResult {
    let shared = ctx.shared;
    let mut engine = shared.scripting.lock().expect("scripting");
    let name = String::from_utf8_lossy(&argv[1]).into_owned();
    if !engine.has_function(&name) {
        return Err(CmdError::new("ERR Function not found"));
    }
    let (keys, args) = split_keys(argv, "ERR Bad number of keys provided")?;
    engine.fcall(ctx, &name, keys, args, ro)
}

fn help(name: &str, lines: &[&str]) -> CmdResult {
    let mut out = vec![Frame::Simple(format!("{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))];
    out.extend(lines.iter().map(|l| Frame::Simple(l.to_string())));
    out.push(Frame::Simple("HELP".into()));
    out.push(Frame::Simple("    Prints this help.".into()));
    Ok(Frame::Array(out))
}

/// SCRIPT HELP
fn script_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    help(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn script_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 || (argv.len() == 3 && !eq_ic(&argv[2], "sync") && !eq_ic(&argv[2], "async")) {
        return Err(CmdError::new("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    ctx.shared.scripting.lock().expect("scripting").flush_scripts();
    Ok(Frame::ok())
}

/// SCRIPT DEBUG YES | SYNC | NO: terrarium has no Lua debugger (LDB); NO is accepted.
fn script_debug(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if eq_ic(&argv[2], "no") {
        Ok(Frame::ok())
    } else if eq_ic(&argv[2], "yes") || eq_ic(&argv[2], "sync") {
        Err(CmdError::new("ERR terrarium has no Lua debugger; SCRIPT DEBUG NO is the only mode"))
    } else {
        Err(CmdError::new("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
    }
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let engine = ctx.shared.scripting.lock().expect("scripting");
    Ok(Frame::Array(argv[2..].iter().map(|s| Frame::Integer(engine.script_exists(s) as i64)).collect()))
}

/// SCRIPT KILL. With the keyspace lock in hand no script is running; while one runs, the
/// connection carries out SCRIPT KILL itself without the lock (`server::conn`).
fn script_kill(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(ctx.shared.script_run.kill(true))
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sha = ctx.shared.scripting.lock().expect("scripting").load_script(&argv[2])?;
    Ok(Frame::Bulk(Bytes::from(sha)))
}

/// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < argv.len() - 1 {
        if eq_ic(&argv[i], "replace") {
            replace = true;
            i += 1;
        } else {
            return Err(CmdError::new(format!("ERR Unknown option given: {}", String::from_utf8_lossy(&argv[i]))));
        }
    }
    if i != argv.len() - 1 {
        return Err(CmdError::new("ERR Function code is missing"));
    }
    let name = ctx.shared.scripting.lock().expect("scripting").function_load(argv[i].clone(), replace)?;
    Ok(Frame::Bulk(Bytes::from(name)))
}

/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < argv.len() {
        if !with_code && eq_ic(&argv[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(&argv[i], "libraryname") {
            if i + 1 >= argv.len() {
                return Err(CmdError::new("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(argv[i].clone());
        } else {
            return Err(CmdError::new(format!("ERR Unknown argument {}", String::from_utf8_lossy(&argv[i]))));
        }
        i += 1;
    }
    Ok(ctx.shared.scripting.lock().expect("scripting").function_list(pattern.as_deref(), with_code))
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    if ctx.shared.scripting.lock().expect("scripting").functions.delete(&name) {
        Ok(Frame::ok())
    } else {
        Err(CmdError::new("ERR Library not found"))
    }
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn function_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::new(
            "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.",
        ));
    }
    if argv.len() == 3 && !eq_ic(&argv[2], "sync") && !eq_ic(&argv[2], "async") {
        return Err(CmdError::new("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"));
    }
    ctx.shared.scripting.lock().expect("scripting").functions.clear();
    Ok(Frame::ok())
}

/// FUNCTION KILL. As SCRIPT KILL, it only reaches this handler when nothing is running.
fn function_kill(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(ctx.shared.script_run.kill(false))
}

/// FUNCTION STATS. While a function runs the connection answers BUSY-era requests itself, so
/// here nothing is running.
fn function_stats(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let engine = ctx.shared.scripting.lock().expect("scripting");
    let lua = Frame::Map(vec![
        (Frame::bulk_str("libraries_count"), Frame::Integer(engine.functions.library_count() as i64)),
        (Frame::bulk_str("functions_count"), Frame::Integer(engine.functions.function_count() as i64)),
    ]);
    Ok(Frame::Map(vec![
        (Frame::bulk_str("running_script"), Frame::Null),
        (Frame::bulk_str("engines"), Frame::Map(vec![(Frame::bulk_str("LUA"), lua)])),
    ]))
}

/// FUNCTION DUMP: every library as an RDB-format payload, loadable by FUNCTION RESTORE here and
/// on a real Redis 7.
fn function_dump(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let engine = ctx.shared.scripting.lock().expect("scripting");
    let codes: Vec<&[u8]> = engine.functions.in_order().map(|l| l.code.as_ref()).collect();
    Ok(Frame::Bulk(Bytes::from(crate::script::dump::encode(&codes))))
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn function_restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let policy = match argv.get(3) {
        None => "append",
        Some(p) if argv.len() == 4 && eq_ic(p, "flush") => "flush",
        Some(p) if argv.len() == 4 && eq_ic(p, "append") => "append",
        Some(p) if argv.len() == 4 && eq_ic(p, "replace") => "replace",
        Some(_) => {
            return Err(CmdError::new(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    let codes = crate::script::dump::decode(&argv[2])
        .map_err(|_| CmdError::new("ERR DUMP payload version or checksum are wrong"))?;
    let mut engine = ctx.shared.scripting.lock().expect("scripting");
    engine.function_restore(codes, policy).map_err(|e| CmdError::new(format!("ERR {e}")))?;
    Ok(Frame::ok())
}

/// FUNCTION HELP
fn function_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    help(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    )
}
