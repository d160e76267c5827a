//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, CLIENT.

use bytes::Bytes;

use super::{eq_ic, lower, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::limits::DATABASES_COUNT;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("quit", quit),
    ("select", select),
    ("hello", hello),
    ("auth", auth),
    ("reset", reset),
    ("client", client_help),
    ("client|help", client_help),
    ("client|id", client_id),
    ("client|setname", client_setname),
    ("client|getname", client_getname),
    ("client|setinfo", client_setinfo),
    ("client|list", client_list),
    ("client|info", client_info),
    ("client|kill", client_kill),
    ("client|unblock", client_unblock),
    ("client|reply", client_reply),
    ("client|no-evict", client_ok_flag),
    ("client|no-touch", client_ok_flag),
];

/// PING [message]
fn ping(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        return Err(CmdError::wrong_arity("ping"));
    }
    // A RESP2 client in subscribed mode gets PING's reply in the message format.
    if !ctx.sess.resp3 && ctx.sess.subscription_count() > 0 {
        let msg = argv.get(1).cloned().unwrap_or_default();
        return Ok(Frame::Array(vec![Frame::bulk_str("pong"), Frame::Bulk(msg)]));
    }
    Ok(match argv.get(1) {
        Some(m) => Frame::Bulk(m.clone()),
        None => Frame::Simple("PONG".into()),
    })
}

/// ECHO message
fn echo(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Bulk(argv[1].clone()))
}

/// QUIT: replies OK, then the connection closes once the reply is written.
fn quit(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.sess.close_after_reply = true;
    Ok(Frame::ok())
}

/// SELECT index
fn select(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let idx = parse_int(&argv[1]).map_err(|_| CmdError::new("ERR value is not an integer or out of range"))?;
    if idx < 0 || idx >= DATABASES_COUNT as i64 {
        return Err(CmdError::new("ERR DB index is out of range"));
    }
    ctx.sess.db = idx as usize;
    Ok(Frame::ok())
}

fn check_password(ctx: &Ctx, user: Option<&[u8]>, pass: &[u8]) -> Result<(), CmdError> {
    let required = ctx.shared.requirepass();
    let user_ok = user.is_none_or(|u| u == b"default");
    match required {
        None if user.is_none() => Err(CmdError::new(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        )),
        None => {
            if user_ok {
                Ok(())
            } else {
                Err(CmdError::new("WRONGPASS invalid username-password pair or user is disabled."))
            }
        }
        Some(p) if user_ok && p.as_bytes() == pass => Ok(()),
        Some(_) => Err(CmdError::new("WRONGPASS invalid username-password pair or user is disabled.")),
    }
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (user, pass) = match argv.len() {
        2 => (None, &argv[1]),
        3 => (Some(&argv[1][..]), &argv[2]),
        _ => return Err(CmdError::syntax()),
    };
    check_password(ctx, user, pass)?;
    ctx.sess.auth_required = false;
    Ok(Frame::ok())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if argv.len() >= 2 {
        let v =
            parse_int(&argv[1]).map_err(|_| CmdError::new("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::new("NOPROTO unsupported protocol version"));
        }
        proto = Some(v);
        i = 2;
    }
    let mut setname = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if eq_ic(&argv[i], "auth") && more >= 2 {
            check_password(ctx, Some(&argv[i + 1]), &argv[i + 2])?;
            ctx.sess.auth_required = false;
            i += 3;
        } else if eq_ic(&argv[i], "setname") && more >= 1 {
            setname = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Err(CmdError::new(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            )));
        }
    }
    if ctx.sess.auth_required {
        return Err(CmdError::new("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = setname {
        validate_client_name(&name)?;
        ctx.sess.handle.info.lock().expect("client info").name = String::from_utf8_lossy(&name).into_owned();
    }
    if let Some(p) = proto {
        ctx.sess.resp3 = p == 3;
    }
    Ok(Frame::Map(vec![
        (Frame::bulk_str("server"), Frame::bulk_str("redis")),
        (Frame::bulk_str("version"), Frame::bulk_str(crate::server::REDIS_VERSION)),
        (Frame::bulk_str("proto"), Frame::Integer(if ctx.sess.resp3 { 3 } else { 2 })),
        (Frame::bulk_str("id"), Frame::Integer(ctx.sess.id as i64)),
        (Frame::bulk_str("mode"), Frame::bulk_str("standalone")),
        (Frame::bulk_str("role"), Frame::bulk_str("master")),
        (Frame::bulk_str("modules"), Frame::Array(vec![])),
    ]))
}

/// RESET: back to a fresh connection (db 0, RESP2, no MULTI, no WATCH, no subscriptions).
fn reset(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.sess.multi = None;
    let watched: Vec<(usize, Bytes)> = ctx.sess.watched.drain(..).map(|w| (w.db, w.key)).collect();
    ctx.ks.unwatch_all(ctx.sess.id, &watched);
    {
        let mut ps = ctx.shared.pubsub.lock().expect("pubsub");
        ps.remove_client(ctx.sess.id, &ctx.sess.channels, &ctx.sess.patterns);
    }
    ctx.sess.channels.clear();
    ctx.sess.patterns.clear();
    ctx.sess.db = 0;
    ctx.sess.resp3 = false;
    ctx.sess.auth_required = ctx.shared.requirepass().is_some();
    ctx.sess.handle.info.lock().expect("client info").name.clear();
    Ok(Frame::Simple("RESET".into()))
}

fn validate_client_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&c| c <= b' ' || c > b'~') {
        return Err(CmdError::new("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// CLIENT HELP
fn client_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "GETNAME",
        "    Return the name of the current connection.",
        "KILL <ip:port>|<option> <value> [<option> <value> ...]",
        "    Kill connections by ID, ADDR, LADDR, TYPE, USER or SKIPME.",
        "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
        "    Return information about client connections.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attributes.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "HELP",
        "    Print this help.",
    ];
    Ok(Frame::Array(lines.iter().map(|l| Frame::Simple(l.to_string())).collect()))
}

/// CLIENT ID
fn client_id(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.sess.id as i64))
}

/// CLIENT SETNAME connection-name
fn client_setname(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    validate_client_name(&argv[2])?;
    ctx.sess.handle.info.lock().expect("client info").name = String::from_utf8_lossy(&argv[2]).into_owned();
    Ok(Frame::ok())
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let name = ctx.sess.handle.info.lock().expect("client info").name.clone();
    Ok(if name.is_empty() { Frame::Null } else { Frame::bulk(name) })
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>
///
/// Redis 7.2 added this; clients send it on connect and ignore an error, but answering OK keeps
/// their logs quiet and makes CLIENT LIST show what they are.
fn client_setinfo(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() != 4 {
        return Err(CmdError::wrong_arity("client|setinfo"));
    }
    let value = String::from_utf8_lossy(&argv[3]).into_owned();
    if value.bytes().any(|c| c < b'!' || c > b'~') {
        return Err(CmdError::new(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            lower(&argv[2])
        )));
    }
    let mut info = ctx.sess.handle.info.lock().expect("client info");
    match lower(&argv[2]).as_str() {
        "lib-name" => info.lib_name = value,
        "lib-ver" => info.lib_ver = value,
        _ => return Err(CmdError::new(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&argv[2])))),
    }
    Ok(Frame::ok())
}

/// A CLIENT LIST / CLIENT KILL `TYPE` argument, lowercased.
fn parse_client_type(arg: &[u8]) -> Result<String, CmdError> {
    let t = lower(arg);
    if !matches!(t.as_str(), "normal" | "master" | "replica" | "slave" | "pubsub") {
        return Err(CmdError::new(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(arg))));
    }
    Ok(t)
}

/// Whether a client is of a `TYPE`: terrarium has no replicas, so only normal and pubsub match.
fn client_has_type(h: &crate::server::ClientHandle, kind: &str) -> bool {
    let i = h.info.lock().expect("client info");
    let is_pubsub = i.sub + i.psub > 0;
    match kind {
        "normal" => !is_pubsub,
        "pubsub" => is_pubsub,
        _ => false,
    }
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id [client-id ...]]
fn client_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.sess.publish_info("client|list", ctx.now_ms);
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<String> = None;
    let mut i = 2;
    while i < argv.len() {
        if eq_ic(&argv[i], "type") && i + 1 < argv.len() {
            let t = parse_client_type(&argv[i + 1])?;
            kind = Some(t);
            i += 2;
        } else if eq_ic(&argv[i], "id") && i + 1 < argv.len() {
            let mut v = Vec::new();
            for a in &argv[i + 1..] {
                let id = parse_int(a).ok().filter(|&n| n > 0).ok_or_else(|| CmdError::new("ERR Invalid client ID"))?;
                v.push(id as u64);
            }
            ids = Some(v);
            i = argv.len();
        } else {
            return Err(CmdError::syntax());
        }
    }
    let clients = ctx.shared.clients.lock().expect("clients");
    let mut handles: Vec<_> = clients.values().cloned().collect();
    drop(clients);
    handles.sort_by_key(|h| h.id);
    let mut out = String::new();
    for h in handles {
        if let Some(ids) = &ids {
            if !ids.contains(&h.id) {
                continue;
            }
        }
        if kind.as_ref().is_some_and(|k| !client_has_type(&h, k)) {
            continue;
        }
        out.push_str(&h.list_line(ctx.now_ms));
        out.push('\n');
    }
    Ok(Frame::Verbatim("txt", Bytes::from(out)))
}

/// CLIENT INFO
fn client_info(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    ctx.sess.publish_info("client|info", ctx.now_ms);
    let mut line = ctx.sess.handle.list_line(ctx.now_ms);
    line.push('\n');
    Ok(Frame::Verbatim("txt", Bytes::from(line)))
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [TYPE t] [USER u] [SKIPME yes|no]
fn client_kill(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let handles: Vec<_> = ctx.shared.clients.lock().expect("clients").values().cloned().collect();
    if argv.len() == 3 {
        // Old form: by address; replies OK or an error.
        let addr = String::from_utf8_lossy(&argv[2]);
        let Some(h) = handles.iter().find(|h| h.addr == addr) else {
            return Err(CmdError::new("ERR No such client"));
        };
        h.kill();
        if h.id == ctx.sess.id {
            ctx.sess.close_after_reply = true;
        }
        return Ok(Frame::ok());
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut kind = None;
    let mut skipme = true;
    let mut i = 2;
    while i < argv.len() {
        if i + 1 >= argv.len() {
            return Err(CmdError::syntax());
        }
        let v = &argv[i + 1];
        match lower(&argv[i]).as_str() {
            "id" => {
                id = Some(
                    parse_int(v)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| CmdError::new("ERR client-id should be greater than 0"))?
                        as u64,
                )
            }
            "addr" => addr = Some(String::from_utf8_lossy(v).into_owned()),
            "laddr" => laddr = Some(String::from_utf8_lossy(v).into_owned()),
            "type" => kind = Some(parse_client_type(v)?),
            "user" => {
                if v.as_ref() != b"default" {
                    return Err(CmdError::new(format!("ERR No such user '{}'", String::from_utf8_lossy(v))));
                }
            }
            "skipme" => {
                skipme = match lower(v).as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CmdError::syntax()),
                }
            }
            _ => return Err(CmdError::syntax()),
        }
        i += 2;
    }
    let mut killed = 0;
    for h in handles {
        if id.is_some_and(|x| x != h.id)
            || addr.as_ref().is_some_and(|a| *a != h.addr)
            || laddr.as_ref().is_some_and(|a| *a != h.laddr)
        {
            continue;
        }
        if kind.as_ref().is_some_and(|k| !client_has_type(&h, k)) {
            continue;
        }
        if skipme && h.id == ctx.sess.id {
            continue;
        }
        h.kill();
        if h.id == ctx.sess.id {
            ctx.sess.close_after_reply = true;
        }
        killed += 1;
    }
    Ok(Frame::Integer(killed))
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
fn client_unblock(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let id = parse_int(&argv[2])?;
    let with_error = match argv.get(3) {
        None => false,
        Some(a) if eq_ic(a, "timeout") => false,
        Some(a) if eq_ic(a, "error") => true,
        Some(_) => return Err(CmdError::new("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    if argv.len() > 4 {
        return Err(CmdError::syntax());
    }
    let h = ctx.shared.clients.lock().expect("clients").get(&(id as u64)).cloned();
    match h {
        Some(h) if h.info.lock().expect("client info").blocked => {
            h.info.lock().expect("client info").unblock_with_error = with_error;
            h.unblock_notify.notify_one();
            Ok(Frame::Integer(1))
        }
        _ => Ok(Frame::Integer(0)),
    }
}

/// CLIENT REPLY ON|OFF|SKIP. OFF drops every reply until ON (which answers +OK); SKIP drops the
/// next command's reply. Neither OFF nor SKIP is answered itself.
fn client_reply(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if eq_ic(&argv[2], "on") {
        ctx.sess.reply_off = false;
        ctx.sess.skip_next_reply = false;
        Ok(Frame::ok())
    } else if eq_ic(&argv[2], "off") {
        ctx.sess.reply_off = true;
        Ok(Frame::Sequence(Vec::new()))
    } else if eq_ic(&argv[2], "skip") {
        if !ctx.sess.reply_off {
            ctx.sess.skip_next_reply = true;
        }
        Ok(Frame::Sequence(Vec::new()))
    } else {
        Err(CmdError::syntax())
    }
}

/// CLIENT NO-EVICT / NO-TOUCH on|off: accepted; terrarium neither evicts nor tracks LRU per client.
fn client_ok_flag(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if eq_ic(&argv[2], "on") || eq_ic(&argv[2], "off") {
        Ok(Frame::ok())
    } else {
        Err(CmdError::syntax())
    }
}
