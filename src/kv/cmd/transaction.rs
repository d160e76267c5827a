//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! While a client is in MULTI, `dispatch` queues its commands instead of running them (after
//! checking that each exists and has the right arity; one that does not marks the transaction
//! failed, and EXEC then answers EXECABORT). EXEC runs the queue while the connection still holds
//! the keyspace lock, which is what makes the transaction atomic: no other client's command can
//! run between two queued commands, because none can take the lock.
//!
//! WATCH is optimistic locking. The keyspace remembers which clients watch which keys, and every
//! write to a key (`Keyspace::touch`) marks its watchers dirty; EXEC of a dirty client answers a
//! null array and runs nothing. A key that was alive when watched and has expired by EXEC also
//! aborts, even if nothing has deleted it yet, as in Redis 7.

use bytes::Bytes;

use super::{CmdError, CmdResult, Ctx, Handler};
use crate::resp::Frame;
use crate::server::{MultiState, WatchedKey};

pub static COMMANDS: &[(&str, Handler)] =
    &[("multi", multi), ("exec", exec), ("discard", discard), ("watch", watch), ("unwatch", unwatch)];

/// MULTI
fn multi(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(CmdError::new("ERR MULTI calls can not be nested"));
    }
    ctx.sess.multi = Some(MultiState::default());
    Ok(Frame::ok())
}

/// Forgets every key the client watches.
pub fn unwatch_all(ctx: &mut Ctx) {
    let keys: Vec<(usize, Bytes)> = ctx.sess.watched.drain(..).map(|w| (w.db, w.key)).collect();
    ctx.ks.unwatch_all(ctx.sess.id, &keys);
}

/// Whether a watched key that was not stale when watched (see `Keyspace::watch`) has since
/// expired without being deleted yet. (Once deleted, the deletion itself dirtied the watchers.)
fn watched_key_expired(ctx: &mut Ctx) -> bool {
    let now = ctx.now_ms;
    let id = ctx.sess.id;
    ctx.sess.watched.iter().any(|w| {
        !ctx.ks.watch_is_stale(id, w.db, &w.key)
            && ctx.ks.dbs[w.db].map.get(&w.key).is_some_and(|e| e.expire_at_ms.is_some_and(|at| at <= now))
    })
}

/// EXEC
fn exec(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    let Some(state) = ctx.sess.multi.take() else {
        return Err(CmdError::new("ERR EXEC without MULTI"));
    };
    if state.failed {
        unwatch_all(ctx);
        return Err(CmdError::new("EXECABORT Transaction discarded because of previous errors."));
    }
    let aborted = ctx.ks.is_dirty(ctx.sess.id) || watched_key_expired(ctx);
    unwatch_all(ctx);
    if aborted {
        return Ok(Frame::NullArray);
    }
    // Blocking commands inside a transaction answer at once, as in Redis.
    let may_block = std::mem::replace(&mut ctx.may_block, false);
    let mut replies = Vec::with_capacity(state.queued.len());
    for argv in &state.queued {
        replies.push(super::dispatch(ctx, argv));
        // A blocking command that found nothing got its timeout reply; never park here.
        ctx.block = None;
    }
    ctx.may_block = may_block;
    Ok(Frame::Array(replies))
}

/// DISCARD
fn discard(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    if ctx.sess.multi.take().is_none() {
        return Err(CmdError::new("ERR DISCARD without MULTI"));
    }
    unwatch_all(ctx);
    Ok(Frame::ok())
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(CmdError::new("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db();
    let now = ctx.now_ms;
    for key in &argv[1..] {
        if ctx.sess.watched.iter().any(|w| w.db == db && w.key == key) {
            continue;
        }
        let expired_at_watch = ctx.ks.dbs[db].map.get(key).is_some_and(|e| e.expire_at_ms.is_some_and(|at| at <= now));
        ctx.ks.watch(ctx.sess.id, db, key.clone(), expired_at_watch);
        ctx.sess.watched.push(WatchedKey { db, key: key.clone(), expired_at_watch });
    }
    Ok(Frame::ok())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx, _: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    Ok(Frame::ok())
}
