//! Listeners, the connection limit, background ticks, and graceful shutdown.
//!
//! `start` binds every listener (port 0 picks a free port, which is how tests run many servers
//! side by side) and returns their real addresses. Shutdown is a `watch` channel: listeners stop
//! accepting, each connection finishes the requests it has already read, flushes its replies,
//! and closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::limits::{ACTIVE_EXPIRE_INTERVAL_MS, PG_CONNECTIONS_COUNT_MAX_DEFAULT};
use crate::server::{ServerOptions, Shared};
use crate::sql::server::PgServer;

/// A running server: its shared state and the addresses it listens on.
pub struct Running {
    pub shared: Arc<Shared>,
    pub redis_addr: SocketAddr,
    pub line_addr: SocketAddr,
    pub pg_addr: SocketAddr,
    pub kafka_addr: SocketAddr,
    pub broker: Arc<crate::broker::Broker>,
}

impl Running {
    /// Starts the shutdown sequence (as Ctrl-C does).
    pub fn shutdown(&self) {
        let _ = self.shared.shutdown.send(true);
    }
}

/// Binds every listener and spawns the accept loops and background ticks.
pub async fn start(opts: ServerOptions) -> std::io::Result<Running> {
    start_with_clock(opts, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(opts: ServerOptions, clock: Arc<dyn Clock>) -> std::io::Result<Running> {
    raise_open_files_limit(opts.maxclients as u64 + 64);
    let shared = Shared::new(&opts, clock);
    let redis = TcpListener::bind((opts.bind.as_str(), opts.redis_port)).await?;
    let line = TcpListener::bind((opts.bind.as_str(), opts.line_port)).await?;
    let redis_addr = redis.local_addr()?;
    let line_addr = line.local_addr()?;
    let pg = TcpListener::bind((opts.bind.as_str(), opts.pg_port)).await?;
    let pg_addr = pg.local_addr()?;
    shared.redis_port.store(redis_addr.port() as u64, std::sync::atomic::Ordering::Relaxed);
    {
        let mut c = shared.config.lock().expect("config");
        c.params.insert("port".into(), redis_addr.port().to_string());
    }
    tokio::spawn(accept_resp(shared.clone(), redis));
    tokio::spawn(accept_line(shared.clone(), line));
    tokio::spawn(expire_cycle(shared.clone()));
    let data_dir = (!opts.ephemeral).then(|| std::path::PathBuf::from(&opts.data_dir));
    let engine = crate::sql::engine::SqlEngine::open(data_dir.as_deref())?;
    tokio::spawn(engine.checkpointer(shared.shutdown.subscribe()));
    // --requirepass protects PostgreSQL too: clients then authenticate with SCRAM-SHA-256.
    let pg_server = PgServer::with_password(engine, PG_CONNECTIONS_COUNT_MAX_DEFAULT, opts.requirepass.clone());
    tokio::spawn(pg_server.serve(pg, shared.shutdown.subscribe()));
    let kafka = TcpListener::bind((opts.bind.as_str(), opts.kafka_port)).await?;
    let kafka_addr = kafka.local_addr()?;
    let broker = Arc::new(crate::broker::Broker::open(crate::broker::BrokerConfig {
        data_dir: (!opts.ephemeral).then(|| std::path::PathBuf::from(&opts.data_dir).join("kafka")),
        num_partitions: opts.num_partitions.max(1),
        segment_bytes: opts.kafka_segment_bytes.max(1),
        advertised_host: kafka_addr.ip().to_string(),
        advertised_port: kafka_addr.port(),
        initial_rebalance_delay_ms: crate::limits::KAFKA_INITIAL_REBALANCE_DELAY_MS,
        retention_ms: opts.kafka_retention_ms,
        retention_bytes: opts.kafka_retention_bytes,
    })?);
    tokio::spawn(crate::broker::wire::tick_groups(broker.clone(), shared.clone()));
    tokio::spawn(crate::broker::wire::accept(broker.clone(), kafka, shared.shutdown.subscribe()));
    Ok(Running { shared, redis_addr, line_addr, pg_addr, kafka_addr, broker })
}

async fn accept_resp(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.stats.connections_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if shared.client_count() >= shared.maxclients() {
            shared.stats.rejected_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
                let _ = stream.shutdown().await;
            });
            continue;
        }
        let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let handle = shared.register_client(peer.to_string(), laddr);
        let shared = shared.clone();
        tokio::spawn(async move {
            crate::server::conn::serve(shared, stream, handle).await;
        });
    }
}

async fn accept_line(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move { crate::line::serve(shared, stream).await });
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Redis's active expiry, every 100 ms (hz 10).
async fn expire_cycle(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(ACTIVE_EXPIRE_INTERVAL_MS));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = shared.now_ms();
        // A running script holds the keyspace for as long as it runs; skip the tick rather
        // than park a runtime thread behind it.
        let Ok(mut ks) = shared.keyspace.try_lock() else { continue };
        ks.active_expire(now);
        if ks.has_ready_keys() {
            ks.serve_blocked(now);
        }
        crate::server::publish_events(&shared, &mut ks);
    }
}

/// Redis raises RLIMIT_NOFILE at start-up so that `maxclients` connections can be held; so do we.
fn raise_open_files_limit(wanted: u64) {
    let mut lim = libc_rlimit();
    if lim.0 >= wanted {
        return;
    }
    let target = wanted.min(lim.1);
    lim.0 = target;
    set_rlimit(lim);
}

fn libc_rlimit() -> (u64, u64) {
    rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024))
}

fn set_rlimit(lim: (u64, u64)) {
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::NOFILE, lim.0, lim.1) {
        tracing::warn!("could not raise the open files limit: {e}");
    }
}
