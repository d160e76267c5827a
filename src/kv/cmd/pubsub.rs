//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB.
//!
//! (UN)SUBSCRIBE answers once per channel, so these handlers return a `Frame::Sequence` of
//! confirmations. In RESP3 the confirmations and messages are push frames (`>`), in RESP2 plain
//! arrays; `Frame::Push` renders both.

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx, Handler};
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("publish", publish),
    ("pubsub", pubsub_help),
    ("pubsub|help", pubsub_help),
    ("pubsub|channels", pubsub_channels),
    ("pubsub|numsub", pubsub_numsub),
    ("pubsub|numpat", pubsub_numpat),
    ("pubsub|shardchannels", pubsub_shardchannels),
    ("pubsub|shardnumsub", pubsub_shardnumsub),
];

fn confirmation(kind: &str, name: Option<Bytes>, count: usize) -> Frame {
    Frame::Push(vec![Frame::bulk_str(kind), name.map(Frame::Bulk).unwrap_or(Frame::Null), Frame::Integer(count as i64)])
}

/// Channels and patterns are handled alike; only the registry and the reply's name differ.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

fn subscribe_generic(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    let mut out = Vec::new();
    let mut ps = ctx.shared.pubsub.lock().expect("pubsub");
    for name in &argv[1..] {
        let (set, reply) = match kind {
            Kind::Channel => (&mut ctx.sess.channels, "subscribe"),
            Kind::Pattern => (&mut ctx.sess.patterns, "psubscribe"),
        };
        if set.insert(name.clone()) {
            let tx = ctx.sess.push_tx.clone();
            match kind {
                Kind::Channel => ps.subscribe(name.clone(), ctx.sess.id, tx),
                Kind::Pattern => ps.psubscribe(name.clone(), ctx.sess.id, tx),
            }
        }
        out.push(confirmation(reply, Some(name.clone()), ctx.sess.subscription_count()));
    }
    Ok(Frame::Sequence(out))
}

/// Without arguments, leaves every subscription of the kind; with none, still confirms once.
fn unsubscribe_generic(ctx: &mut Ctx, argv: &[Bytes], kind: Kind) -> CmdResult {
    let reply = match kind {
        Kind::Channel => "unsubscribe",
        Kind::Pattern => "punsubscribe",
    };
    let current = match kind {
        Kind::Channel => &ctx.sess.channels,
        Kind::Pattern => &ctx.sess.patterns,
    };
    let targets: Vec<Bytes> = if argv.len() > 1 { argv[1..].to_vec() } else { current.iter().cloned().collect() };
    if targets.is_empty() {
        return Ok(confirmation(reply, None, ctx.sess.subscription_count()));
    }
    let mut ps = ctx.shared.pubsub.lock().expect("pubsub");
    let mut out = Vec::new();
    for name in targets {
        let removed = match kind {
            Kind::Channel => ctx.sess.channels.shift_remove(&name),
            Kind::Pattern => ctx.sess.patterns.shift_remove(&name),
        };
        if removed {
            match kind {
                Kind::Channel => ps.unsubscribe(&name, ctx.sess.id),
                Kind::Pattern => ps.punsubscribe(&name, ctx.sess.id),
            }
        }
        out.push(confirmation(reply, Some(name), ctx.sess.subscription_count()));
    }
    Ok(Frame::Sequence(out))
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Channel)
}

/// UNSUBSCRIBE [channel [channel ...]]
fn unsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, argv, Kind::Pattern)
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
fn punsubscribe(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, argv, Kind::Pattern)
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ps = ctx.shared.pubsub.lock().expect("pubsub");
    Ok(Frame::Integer(ps.publish(&argv[1], &argv[2])))
}

/// PUBSUB HELP
fn pubsub_help(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let lines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Print this help.",
    ];
    Ok(Frame::Array(lines.iter().map(|l| Frame::Simple(l.to_string())).collect()))
}

/// PUBSUB CHANNELS [pattern]
fn pubsub_channels(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::wrong_arity("pubsub|channels"));
    }
    let ps = ctx.shared.pubsub.lock().expect("pubsub");
    Ok(Frame::bulks(ps.channels(argv.get(2).map(|p| &p[..]))))
}

/// PUBSUB NUMSUB [channel [channel ...]]
fn pubsub_numsub(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ps = ctx.shared.pubsub.lock().expect("pubsub");
    let pairs = argv[2..].iter().map(|c| (Frame::Bulk(c.clone()), Frame::Integer(ps.numsub(c) as i64))).collect();
    Ok(Frame::Map(pairs))
}

/// PUBSUB NUMPAT
fn pubsub_numpat(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(Frame::Integer(ctx.shared.pubsub.lock().expect("pubsub").numpat() as i64))
}

/// PUBSUB SHARDCHANNELS [pattern]: terrarium has no cluster, so there are no shard channels.
fn pubsub_shardchannels(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::wrong_arity("pubsub|shardchannels"));
    }
    Ok(Frame::Array(vec![]))
}

/// PUBSUB SHARDNUMSUB [channel [channel ...]]
fn pubsub_shardnumsub(_: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Map(argv[2..].iter().map(|c| (Frame::Bulk(c.clone()), Frame::Integer(0))).collect()))
}
