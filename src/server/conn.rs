//! One RESP connection: read, decode, run under the keyspace lock, encode, write.
//!
//! The loop waits on four things at once: bytes from the socket, messages published to the
//! client's channels, CLIENT KILL, and server shutdown. Every complete request in a read is
//! run under one acquisition of the keyspace lock (see the module header of `server`), except
//! that a blocking command that has to wait releases the lock, flushes what earlier commands
//! replied, and parks the client until it is served, times out, or is unblocked.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::kv::cmd::{self, BlockRequest, Ctx};
use crate::kv::Keyspace;
use crate::limits::REPLY_BUFFER_FLUSH_BYTES;
use crate::resp::{Frame, ProtocolError, RequestDecoder};
use crate::server::{ClientHandle, Session, Shared};

/// Serves one client until it quits, is killed, or the server shuts down.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, handle: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<Frame>();
    let mut sess = Session::new(handle.clone(), push_tx, shared.requirepass().is_some());
    let mut decoder = RequestDecoder::new();
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut shutdown = shared.shutdown.subscribe();

    'conn: loop {
        if *shutdown.borrow() || handle.killed.load(Ordering::SeqCst) {
            break;
        }
        tokio::select! {
            r = rd.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => { shared.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed); }
                }
                // Decode everything the read delivered. A blocking command may read more
                // bytes while it waits, so decode again until nothing new is complete.
                loop {
                    let mut pending = VecDeque::new();
                    let mut proto_err: Option<ProtocolError> = None;
                    loop {
                        match decoder.decode_request(&mut inbuf) {
                            Ok(Some(argv)) => pending.push_back(argv),
                            Ok(None) => break,
                            Err(e) => { proto_err = Some(e); break; }
                        }
                    }
                    if pending.is_empty() && proto_err.is_none() {
                        break;
                    }
                    let keep_going = run_batch(&shared, &mut sess, &mut pending, &mut out, &mut wr, &mut rd, &mut inbuf).await;
                    if !keep_going { break 'conn; }
                    if let Some(e) = proto_err {
                        if !sess.close_after_reply {
                            Frame::Error(e.reply_text()).encode(sess.resp3, &mut out);
                        }
                        sess.close_after_reply = true;
                    }
                    if sess.close_after_reply { break; }
                }
            }
            Some(msg) = push_rx.recv() => {
                msg.encode(sess.resp3, &mut out);
                while let Ok(m) = push_rx.try_recv() {
                    m.encode(sess.resp3, &mut out);
                    if out.len() > REPLY_BUFFER_FLUSH_BYTES { break; }
                }
            }
            _ = handle.kill_notify.notified() => break 'conn,
            _ = shutdown.changed() => {
                // Finish what the client already sent us, then leave.
            }
        }
        if !out.is_empty() {
            if flush(&shared, &mut wr, &mut out).await.is_err() {
                break;
            }
        }
        if sess.close_after_reply {
            break;
        }
    }
    let _ = flush(&shared, &mut wr, &mut out).await;
    let _ = wr.shutdown().await;
    cleanup(&shared, &mut sess).await;
}

async fn flush(shared: &Shared, wr: &mut tokio::net::tcp::OwnedWriteHalf, out: &mut BytesMut) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    shared.stats.net_output_bytes.fetch_add(out.len() as u64, Ordering::Relaxed);
    let r = wr.write_all(out).await;
    out.clear();
    r
}

/// Forgets the client everywhere: its subscriptions, watches, and the client list.
pub async fn cleanup(shared: &Shared, sess: &mut Session) {
    {
        let Some(mut ks) = shared.lock_keyspace(false).await else { return };
        let watched: Vec<(usize, Bytes)> = sess.watched.drain(..).map(|w| (w.db, w.key)).collect();
        ks.unwatch_all(sess.id, &watched);
    }
    {
        let mut ps = shared.pubsub.lock().expect("pubsub");
        ps.remove_client(sess.id, &sess.channels, &sess.patterns);
    }
    shared.unregister_client(sess.id);
}

/// Runs the decoded requests in order. Returns false when the connection must close.
#[allow(clippy::too_many_arguments)]
async fn run_batch(
    shared: &Arc<Shared>,
    sess: &mut Session,
    pending: &mut VecDeque<Vec<Bytes>>,
    out: &mut BytesMut,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    inbuf: &mut BytesMut,
) -> bool {
    let mut last_cmd = String::new();
    while !pending.is_empty() {
        let mut blocked: Option<(u64, Option<i64>, tokio::sync::oneshot::Receiver<Frame>)> = None;
        {
            let Some(mut ks) = shared.lock_keyspace(true).await else {
                // A script has run past busy-reply-threshold and holds the keyspace: answer this
                // command without it, then look again (the script may end at any moment).
                if let Some(argv) = pending.pop_front() {
                    busy_reply(shared, sess, &argv).encode(sess.resp3, out);
                }
                if flush(shared, wr, out).await.is_err() {
                    return false;
                }
                continue;
            };
            if sess.unwatch_pending {
                // A transaction ended while a script held the keyspace (see `busy_reply`).
                sess.unwatch_pending = false;
                let watched: Vec<(usize, Bytes)> = sess.watched.drain(..).map(|w| (w.db, w.key)).collect();
                ks.unwatch_all(sess.id, &watched);
            }
            while let Some(argv) = pending.pop_front() {
                let now_ms = shared.now_ms();
                let (reply, block) = run_one(shared, &mut ks, sess, &argv, now_ms, true);
                if pending.is_empty() {
                    // CLIENT LIST shows the last command; naming only the batch's last one
                    // keeps an allocation off the per-command path.
                    last_cmd = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
                }
                if ks.has_ready_keys() {
                    ks.serve_blocked(now_ms);
                }
                crate::server::publish_events(shared, &mut ks);
                if let Some(req) = block {
                    let (id, rx) = ks.block(sess.db, req.keys, sess.resp3, req.op);
                    blocked = Some((id, req.deadline_ms, rx));
                    break;
                }
                // Pub/sub frames (SUBSCRIBE's confirmations) go out even under CLIENT REPLY OFF,
                // in RESP2 as in RESP3: Redis 7 marks them as pushes, which are not replies.
                let push = match &reply {
                    Frame::Push(_) => true,
                    Frame::Sequence(v) => !v.is_empty() && v.iter().all(|f| matches!(f, Frame::Push(_))),
                    _ => false,
                };
                if sess.take_reply_permission() || push {
                    reply.encode(sess.resp3, out);
                }
                if sess.close_after_reply {
                    pending.clear();
                    break;
                }
                if out.len() > REPLY_BUFFER_FLUSH_BYTES {
                    break;
                }
            }
            sess.publish_info(&last_cmd, shared.now_ms());
        }
        if let Some((id, deadline_ms, rx)) = blocked {
            if flush(shared, wr, out).await.is_err() {
                unblock_now(shared, id).await;
                return false;
            }
            match wait_blocked(shared, sess, id, deadline_ms, rx, rd, inbuf).await {
                Some(reply) => {
                    if sess.take_reply_permission() {
                        reply.encode(sess.resp3, out)
                    }
                }
                None => return false,
            }
        } else if out.len() > REPLY_BUFFER_FLUSH_BYTES && flush(shared, wr, out).await.is_err() {
            return false;
        }
    }
    true
}

/// The reply to a command that arrives while a script runs past `busy-reply-threshold`, as Redis's
/// `processCommand`: SCRIPT KILL and FUNCTION KILL do their work; MULTI and DISCARD, which Redis
/// flags `allow-busy`, change only the session and are carried out; everything else is refused
/// with BUSY, which also dooms an open transaction (EXEC answers EXECABORT later), and EXEC itself
/// answers EXECABORT with the BUSY text, so a transaction never runs half before a script and half
/// after it. The keys a finished transaction watched are forgotten when the keyspace is free again.
/// (WATCH, UNWATCH and the rest need the keyspace, so here they get BUSY.)
fn busy_reply(shared: &Shared, sess: &mut Session, argv: &[Bytes]) -> Frame {
    let is = |name: &[u8]| argv[0].eq_ignore_ascii_case(name);
    let sub = argv.get(1).map(|a| a.eq_ignore_ascii_case(b"kill")).unwrap_or(false);
    if sub && argv.len() == 2 && is(b"script") {
        return shared.script_run.kill(true);
    }
    if sub && argv.len() == 2 && is(b"function") {
        return shared.script_run.kill(false);
    }
    let busy = shared.script_run.busy_error();
    if argv.len() == 1 && is(b"multi") {
        if sess.multi.is_some() {
            return Frame::error("ERR MULTI calls can not be nested");
        }
        sess.multi = Some(crate::server::MultiState::default());
        return Frame::ok();
    }
    if argv.len() == 1 && is(b"discard") {
        if sess.multi.take().is_none() {
            return Frame::error("ERR DISCARD without MULTI");
        }
        sess.unwatch_pending = true;
        return Frame::ok();
    }
    if let Some(m) = sess.multi.as_mut() {
        if is(b"exec") {
            sess.multi = None;
            sess.unwatch_pending = true;
            return Frame::error(format!("EXECABORT Transaction discarded because of: {}", busy));
        }
        m.failed = true;
    }
    Frame::error(busy)
}

/// Runs one command with the keyspace already locked. Returns the reply and, for a blocking
/// command that must wait, what it waits for.
pub fn run_one(
    shared: &Shared,
    ks: &mut MutexGuard<'_, Keyspace>,
    sess: &mut Session,
    argv: &[Bytes],
    now_ms: i64,
    may_block: bool,
) -> (Frame, Option<BlockRequest>) {
    let mut ctx = Ctx { ks, sess, shared, now_ms, may_block, block: None };
    let reply = cmd::dispatch(&mut ctx, argv);
    let block = ctx.block.take();
    (reply, block)
}

async fn unblock_now(shared: &Shared, id: u64) {
    if let Some(mut ks) = shared.lock_keyspace(false).await {
        ks.unblock(id);
    }
}

/// Waits for a parked client's reply. `None` means the connection must close.
async fn wait_blocked(
    shared: &Arc<Shared>,
    sess: &mut Session,
    id: u64,
    deadline_ms: Option<i64>,
    mut rx: tokio::sync::oneshot::Receiver<Frame>,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    inbuf: &mut BytesMut,
) -> Option<Frame> {
    sess.handle.info.lock().expect("client info").blocked = true;
    let mut shutdown = shared.shutdown.subscribe();
    let sleep = async {
        match deadline_ms {
            Some(d) => {
                let wait = (d - shared.now_ms()).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(sleep);
    enum Why {
        Timeout,
        Unblock,
        Close,
    }
    let why = loop {
        tokio::select! {
            r = &mut rx => {
                sess.handle.info.lock().expect("client info").blocked = false;
                return Some(r.unwrap_or(Frame::NullArray));
            }
            _ = &mut sleep => break Why::Timeout,
            _ = sess.handle.unblock_notify.notified() => break Why::Unblock,
            _ = sess.handle.kill_notify.notified() => break Why::Close,
            _ = shutdown.changed() => break Why::Close,
            r = rd.read_buf(inbuf) => {
                // Keep pipelined bytes for later; a closed socket ends the wait.
                if matches!(r, Ok(0) | Err(_)) { break Why::Close; }
            }
        }
    };
    sess.handle.info.lock().expect("client info").blocked = false;
    let timeout_reply = match shared.lock_keyspace(false).await {
        Some(mut ks) => ks.unblock(id),
        None => None,
    };
    match timeout_reply {
        // Still waiting: the timeout (or unblock) wins.
        Some(reply) => match why {
            Why::Timeout => Some(reply),
            Why::Unblock => {
                let err = std::mem::take(&mut sess.handle.info.lock().expect("client info").unblock_with_error);
                Some(if err { Frame::error("UNBLOCKED client unblocked via CLIENT UNBLOCK") } else { reply })
            }
            Why::Close => None,
        },
        // Served in the same instant: the reply is already in the channel.
        None => rx.try_recv().ok(),
    }
}
