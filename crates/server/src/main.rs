//! `redraft`: a Redis-compatible server. With no arguments it serves 127.0.0.1:6379 as a cluster
//! of one, with its data in ./data. `redraft cluster ...` administers a multi-node cluster.

use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

use server::busy_poll::BusyPoll;
use server::config::Config;
use server::server::{Shared, run};

/// Set once the runtime is built (its epoll instance exists only then); read by its park hooks.
static BUSY_POLL: std::sync::OnceLock<BusyPoll> = std::sync::OnceLock::new();

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Redraft: Redis's API, a Raft cluster's guarantees.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A Redis-style config file (`port 6380`, `maxclients 100`, ...); flags override it.
    config_file: Option<PathBuf>,
    /// Client port (0 picks a free one and prints it).
    #[arg(long)]
    port: Option<u16>,
    /// Addresses to listen on (repeat the flag, or separate with spaces).
    #[arg(long, num_args = 1..)]
    bind: Vec<String>,
    /// Data directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Number of databases (SELECT 0..N-1).
    #[arg(long)]
    databases: Option<usize>,
    /// debug, verbose, notice, warning or nothing.
    #[arg(long)]
    loglevel: Option<String>,
    /// Maximum simultaneous clients.
    #[arg(long)]
    maxclients: Option<usize>,
    /// Password clients must AUTH with.
    #[arg(long)]
    requirepass: Option<String>,
    /// Worker threads; 1 (the default) keeps every connection on one thread, which measured
    /// fastest on 2 cores shared with the load generator (docs/benchmarks.md).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Microseconds the runtime thread polls for work before it sleeps, when it is under load
    /// (0: never). Spends CPU no other thread wants for fewer wake-ups (docs/benchmarks.md).
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 30)]
    busy_poll: u64,
    /// When the Raft log is fsynced: always (before a write is acknowledged), everysec or no.
    #[arg(long)]
    appendfsync: Option<String>,
    /// Wait to be made part of a cluster (`redraft cluster create`) instead of starting as a
    /// cluster of one.
    #[arg(long, value_name = "yes|no")]
    cluster_enabled: Option<String>,
    /// Raft election timeout in milliseconds (the low end; the high end is twice it).
    #[arg(long)]
    election_timeout: Option<u64>,
    /// Take a snapshot of the keyspace every this many log entries.
    #[arg(long)]
    snapshot_entries: Option<u64>,
    /// Port for TLS clients (0: none), beside the plain port.
    #[arg(long)]
    tls_port: Option<u16>,
    /// This server's certificate chain (PEM), for --tls-port.
    #[arg(long)]
    tls_cert_file: Option<String>,
    /// This server's private key (PEM), for --tls-port.
    #[arg(long)]
    tls_key_file: Option<String>,
    /// CA certificates (PEM) that client certificates must chain to.
    #[arg(long)]
    tls_ca_cert_file: Option<String>,
    /// Whether TLS clients must present a certificate: yes (the default), optional or no.
    #[arg(long, value_name = "yes|optional|no")]
    tls_auth_clients: Option<String>,
    /// Mutual TLS on the cluster bus, with --tls-cert-file, --tls-key-file and
    /// --tls-ca-cert-file.
    #[arg(long, value_name = "yes|no")]
    tls_cluster: Option<String>,
}

/// openraft's warnings about a peer that does not answer: one per heartbeat and retry. The
/// replication crate logs a peer's going down and coming back once each instead.
const QUIET_OPENRAFT: &str = "openraft::core::heartbeat=error,\
    openraft::engine::handler::replication_handler=error,openraft::replication=error";

fn filter_for(level: &str) -> EnvFilter {
    EnvFilter::new(match level {
        "debug" | "verbose" => "debug".to_string(),
        "warning" => format!("warn,{QUIET_OPENRAFT}"),
        "nothing" => "off".to_string(),
        _ => format!("info,{QUIET_OPENRAFT}"),
    })
}

fn load_config(args: &Args) -> Result<Config, String> {
    let mut config = Config::default();
    if let Some(path) = &args.config_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        config.apply_file(&text)?;
        config.config_file = Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()));
    }
    let mut set = |name: &str, value: String| {
        let setting = server::config::setting(name).expect("flags name real settings");
        (setting.set)(&mut config, &value).map_err(|e| format!("--{name}: {e}"))
    };
    if let Some(port) = args.port {
        set("port", port.to_string())?;
    }
    if !args.bind.is_empty() {
        set("bind", args.bind.join(" "))?;
    }
    if let Some(dir) = &args.dir {
        set("dir", dir.display().to_string())?;
    }
    if let Some(n) = args.databases {
        set("databases", n.to_string())?;
    }
    if let Some(level) = &args.loglevel {
        set("loglevel", level.clone())?;
    }
    if let Some(n) = args.maxclients {
        set("maxclients", n.to_string())?;
    }
    if let Some(pass) = &args.requirepass {
        set("requirepass", pass.clone())?;
    }
    if let Some(policy) = &args.appendfsync {
        set("appendfsync", policy.clone())?;
    }
    if let Some(enabled) = &args.cluster_enabled {
        set("cluster-enabled", enabled.clone())?;
    }
    if let Some(ms) = args.election_timeout {
        set("election-timeout", ms.to_string())?;
    }
    if let Some(n) = args.snapshot_entries {
        set("snapshot-entries", n.to_string())?;
    }
    if let Some(port) = args.tls_port {
        set("tls-port", port.to_string())?;
    }
    for (name, value) in [
        ("tls-cert-file", &args.tls_cert_file),
        ("tls-key-file", &args.tls_key_file),
        ("tls-ca-cert-file", &args.tls_ca_cert_file),
        ("tls-auth-clients", &args.tls_auth_clients),
        ("tls-cluster", &args.tls_cluster),
    ] {
        if let Some(value) = value {
            set(name, value.clone())?;
        }
    }
    Ok(config)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("cluster") {
        std::process::exit(server::cli::main(&argv[2..]));
    }
    let args = Args::parse();
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("redraft: {e}");
            std::process::exit(2);
        }
    };
    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter_for(&config.loglevel));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    let set_log_level = Box::new(move |level: &str| {
        let _ = reload.modify(|f| *f = filter_for(level));
    });
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(|| {
                if let Some(busy_poll) = BUSY_POLL.get() {
                    busy_poll.before_park();
                }
            })
            .on_thread_unpark(|| {
                if let Some(busy_poll) = BUSY_POLL.get() {
                    busy_poll.after_unpark();
                }
            })
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("a tokio runtime");
    if args.threads <= 1 {
        // Only the current-thread runtime: its one thread is the one that sleeps in epoll.
        let budget = std::time::Duration::from_micros(args.busy_poll);
        if let Some(busy_poll) = BusyPoll::for_this_process(budget) {
            let _ = BUSY_POLL.set(busy_poll);
        }
    }
    let shared = Shared::new(config, set_log_level);
    if let Err(e) = runtime.block_on(run(shared)) {
        eprintln!("redraft: {e}");
        std::process::exit(1);
    }
    // Connections still open are dropped with the runtime.
    runtime.shutdown_background();
}
