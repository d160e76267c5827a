//! The `terrarium` binary: `terrarium up` runs every service; `terrarium diff` compares
//! terrarium with a real server.

use clap::{Parser, Subcommand};

use terrarium::server::{listener, ServerOptions};

#[derive(Parser)]
#[command(
    name = "terrarium",
    version,
    about = "Redis, PostgreSQL and Kafka re-implemented in one process, to run, diff and read."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start every service and print how to connect to each.
    Up(UpArgs),
    /// Run a file of commands against terrarium and a real server and show where replies differ.
    Diff(DiffArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// RESP (Redis protocol) port: the real one plus 10000.
    #[arg(long, default_value_t = 16379)]
    redis_port: u16,
    /// The course's line protocol (SET/GET/DEL/PING/QUIT).
    #[arg(long, default_value_t = 9999)]
    line_port: u16,
    /// PostgreSQL protocol port: the real one plus 10000.
    #[arg(long, default_value_t = 15432)]
    pg_port: u16,
    /// Kafka protocol port: the real one plus 10000.
    #[arg(long, default_value_t = 19092)]
    kafka_port: u16,
    /// Partitions of a topic created automatically (Kafka's `num.partitions`).
    #[arg(long, default_value_t = 1)]
    num_partitions: i32,
    /// Kafka: a log segment rolls past this many bytes (`log.segment.bytes`).
    #[arg(long, default_value_t = terrarium::limits::KAFKA_SEGMENT_BYTES_DEFAULT)]
    kafka_segment_bytes: u64,
    /// Kafka: delete segments whose newest record is older than this (`log.retention.ms`; -1 keeps all).
    #[arg(long, default_value_t = terrarium::limits::KAFKA_RETENTION_MS_DEFAULT, allow_negative_numbers = true)]
    kafka_retention_ms: i64,
    /// Kafka: delete old segments while a partition is bigger than this (`log.retention.bytes`; -1 keeps all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    kafka_retention_bytes: i64,
    /// Where durable state lives.
    #[arg(long, default_value = "./.terrarium")]
    data_dir: String,
    /// Keep everything in memory; nothing touches disk.
    #[arg(long)]
    ephemeral: bool,
    /// Require AUTH with this password (Redis's requirepass).
    #[arg(long)]
    requirepass: Option<String>,
    /// Refuse connections beyond this many clients.
    #[arg(long, default_value_t = terrarium::limits::CLIENTS_COUNT_MAX_DEFAULT)]
    maxclients: usize,
    /// Log filter (error, warn, info, debug, trace); RUST_LOG overrides.
    #[arg(long, default_value = "info")]
    log_level: String,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// Which protocol: `redis` (scenarios like tests/diff/redis/*.txt) or `pg` (tests/diff/pg/*.sql).
    protocol: String,
    /// The real server, host:port (default: Redis's 127.0.0.1:6379, PostgreSQL's 127.0.0.1:5432).
    #[arg(long)]
    against: Option<String>,
    /// terrarium's address; when omitted an in-process terrarium is started on a free port.
    #[arg(long)]
    terrarium: Option<String>,
    /// Scenario files.
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Up(a) => up(a),
        Command::Diff(a) => std::process::exit(diff(a)),
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn up(a: UpArgs) {
    init_logging(&a.log_level);
    let opts = ServerOptions {
        bind: a.bind,
        redis_port: a.redis_port,
        line_port: a.line_port,
        pg_port: a.pg_port,
        kafka_port: a.kafka_port,
        num_partitions: a.num_partitions,
        kafka_segment_bytes: a.kafka_segment_bytes,
        kafka_retention_ms: a.kafka_retention_ms,
        kafka_retention_bytes: a.kafka_retention_bytes,
        data_dir: a.data_dir,
        ephemeral: a.ephemeral,
        requirepass: a.requirepass,
        maxclients: a.maxclients,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        let running = match listener::start(opts.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("terrarium: could not start: {e}");
                std::process::exit(1);
            }
        };
        let host = running.redis_addr.ip();
        println!("terrarium {} is up.", env!("CARGO_PKG_VERSION"));
        println!();
        println!("  service          address                  connect with");
        println!(
            "  RESP (Redis 7)   {:<24} redis-cli -h {} -p {}",
            running.redis_addr.to_string(),
            host,
            running.redis_addr.port()
        );
        println!(
            "  PostgreSQL 15    {:<24} psql -h {} -p {} -U postgres",
            running.pg_addr.to_string(),
            running.pg_addr.ip(),
            running.pg_addr.port()
        );
        println!(
            "  Kafka            {:<24} kcat -b {}:{} -L",
            running.kafka_addr.to_string(),
            running.kafka_addr.ip(),
            running.kafka_addr.port()
        );
        println!("  line protocol    {:<24} nc {} {}", running.line_addr.to_string(), host, running.line_addr.port());
        println!();
        if opts.ephemeral {
            println!("  ephemeral: nothing is written to disk.");
        } else {
            println!("  data dir: {}", opts.data_dir);
        }
        println!("  Ctrl-C stops.");
        // Ctrl-C, SIGTERM, or a client's SHUTDOWN.
        let mut stop = running.shared.shutdown.subscribe();
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = stop.changed() => {}
        }
        tracing::info!("shutting down");
        running.shutdown();
        // Give connections a moment to flush replies to what they already read.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    });
    std::process::exit(0);
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn diff(a: DiffArgs) -> i32 {
    let pg = match a.protocol.as_str() {
        "redis" => false,
        "pg" | "postgres" | "postgresql" => true,
        other => {
            eprintln!("terrarium diff: unknown protocol `{other}` (use `redis` or `pg`)");
            return 2;
        }
    };
    let against = a.against.clone().unwrap_or_else(|| if pg { "127.0.0.1:5432" } else { "127.0.0.1:6379" }.into());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        let mut failures = 0;
        for f in &a.files {
            // Without --terrarium every file gets a fresh in-process terrarium, so one file's
            // tables and keys cannot leak into the next.
            let (addr, running) = match &a.terrarium {
                Some(t) => (t.clone(), None),
                None => {
                    let opts = ServerOptions {
                        redis_port: 0,
                        line_port: 0,
                        pg_port: 0,
                        ephemeral: true,
                        ..Default::default()
                    };
                    let r = listener::start(opts).await.expect("start terrarium");
                    let addr = if pg { r.pg_addr } else { r.redis_addr };
                    (addr.to_string(), Some(r))
                }
            };
            let result = if pg {
                terrarium::diff::pg::run_file(f, &addr, &against).await.map(|r| (r.render(), r.failures()))
            } else {
                terrarium::diff::run_file(f, &addr, &against).await.map(|r| (r.render(), r.failures()))
            };
            match result {
                Ok((text, n)) => {
                    print!("{text}");
                    failures += n;
                }
                Err(e) => {
                    eprintln!("{}: {e}", f.display());
                    failures += 1;
                }
            }
            if let Some(r) = running {
                r.shutdown();
            }
        }
        if failures > 0 {
            1
        } else {
            0
        }
    })
}
