//! The process: shared state, the listeners, active expiry and shutdown.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::Keyspace;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::config::Config;
use crate::conn;

/// Keys the active expiry cycle deletes per lock hold, and the time it may spend per tick.
/// Small batches keep the keyspace lock free for clients between them.
const EXPIRE_BATCH_KEYS: usize = 200;
const EXPIRE_TICK_BUDGET: Duration = Duration::from_millis(2);

/// A simulated clock and random source for this thread (set by the simulator, which runs each
/// cluster on one thread): the start of simulated time, the Unix time it stands for, and the
/// state of a splitmix64 sequence.
struct Simulated {
    start: tokio::time::Instant,
    base_unix_ms: u64,
    random: std::cell::Cell<u64>,
}

thread_local! {
    static SIMULATED: std::cell::RefCell<Option<Simulated>> = const { std::cell::RefCell::new(None) };
}

/// From now on, on this thread, `now_ms` counts tokio's (paused) clock from `base_unix_ms`, and
/// `random_u64` is a sequence fixed by `seed`: a simulated cluster's connections, entries and
/// keyspaces then depend on the seed alone. Call it inside the simulation's runtime.
pub fn simulate_this_thread(base_unix_ms: u64, seed: u64) {
    SIMULATED.with(|s| {
        *s.borrow_mut() = Some(Simulated {
            start: tokio::time::Instant::now(),
            base_unix_ms,
            random: std::cell::Cell::new(seed),
        })
    });
}

pub fn now_ms() -> u64 {
    let simulated = SIMULATED.with(|s| {
        s.borrow()
            .as_ref()
            .map(|s| s.base_unix_ms + s.start.elapsed().as_millis() as u64)
    });
    simulated.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_millis() as u64
    })
}

/// 64 random bits from the OS (through std's randomly keyed hasher; no extra dependency), or
/// from the thread's seeded sequence under simulation.
pub fn random_u64() -> u64 {
    let simulated = SIMULATED.with(|s| {
        s.borrow().as_ref().map(|s| {
            // splitmix64: one add and a mix per draw, enough for seeds and ids.
            let state = s.random.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            s.random.set(state);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    });
    simulated.unwrap_or_else(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now_ms());
        h.finish()
    })
}

/// Per-command counters for INFO commandstats.
#[derive(Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
}

#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Proposals this node forwarded to the leader over the bus (its clients' writes while it
    /// follows).
    pub forwarded_proposals: AtomicU64,
    pub commands: Vec<CommandStat>,
    /// Error replies by their code (`ERR`, `WRONGTYPE`, ...), for INFO errorstats.
    pub errors: Mutex<HashMap<String, u64>>,
}

/// What every connection can see of one client, for CLIENT LIST / KILL.
pub struct ClientHandle {
    pub id: u64,
    pub fd: i64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created_ms: u64,
    pub meta: Mutex<ClientMeta>,
    pub killed: AtomicBool,
    pub kill: Notify,
    pub mailbox: crate::pubsub::Mailbox,
}

#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub name: String,
    pub db: usize,
    pub last_command: String,
    pub last_interaction_ms: u64,
    pub resp: u8,
    pub lib_name: String,
    pub lib_ver: String,
    pub no_evict: bool,
    /// Channels, patterns and shard channels subscribed to.
    pub subscriptions: [usize; 3],
    /// Commands queued in MULTI, or None outside a transaction.
    pub multi: Option<usize>,
    pub blocked: bool,
}

/// A CLIENT PAUSE in force.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pause {
    pub until_ms: u64,
    pub writes_only: bool,
}

pub struct Shared {
    /// std Mutex, not tokio's: it is never held across an `.await`, and an uncontended std lock
    /// costs a few nanoseconds.
    pub keyspace: Mutex<Keyspace>,
    pub config: Mutex<Config>,
    /// Bumped by CONFIG SET so connections refresh the limits they cache.
    pub config_generation: AtomicU64,
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    pub client_count: AtomicUsize,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub started: Instant,
    pub started_unix_ms: u64,
    pub run_id: String,
    pub seed_base: u64,
    pub pause: Mutex<Pause>,
    pub paused: AtomicBool,
    pub unpaused: Notify,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    pub tcp_port: AtomicU64,
    pub set_log_level: Box<dyn Fn(&str) + Send + Sync>,
    pub pubsub: Mutex<crate::pubsub::Registry>,
    /// Taken after the keyspace lock, never before.
    pub blocked: Mutex<crate::blocking::Blocked>,
    /// The Raft group every write goes through, set once at startup.
    pub group: std::sync::OnceLock<replication::Group>,
}

impl Shared {
    pub fn new(config: Config, set_log_level: Box<dyn Fn(&str) + Send + Sync>) -> Arc<Shared> {
        let run_id: String = (0..5)
            .map(|_| format!("{:016x}", random_u64()))
            .collect::<String>()[..40]
            .to_string();
        let pubsub_limit = config.output_limits.pubsub;
        let stats = Stats {
            commands: engine::TABLE
                .iter()
                .map(|_| CommandStat::default())
                .collect(),
            ..Stats::default()
        };
        Arc::new_cyclic(|shared: &std::sync::Weak<Shared>| Shared {
            keyspace: Mutex::new({
                let mut keyspace = Keyspace::new(config.databases, random_u64());
                keyspace.set_notify_classes(config.notify_keyspace_events);
                let shared = shared.clone();
                keyspace.set_publisher(engine::Publisher(Box::new(
                    move |shard, channel, message| {
                        shared.upgrade().map_or(0, |shared| {
                            let registry = shared.pubsub.lock().expect("pubsub lock");
                            if shard {
                                registry.spublish(channel, message)
                            } else {
                                registry.publish(channel, message)
                            }
                        })
                    },
                )));
                keyspace
            }),
            config: Mutex::new(config),
            config_generation: AtomicU64::new(0),
            clients: Mutex::new(HashMap::new()),
            client_count: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
            stats,
            started: Instant::now(),
            started_unix_ms: now_ms(),
            run_id,
            seed_base: random_u64(),
            pause: Mutex::new(Pause::default()),
            paused: AtomicBool::new(false),
            unpaused: Notify::new(),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            tcp_port: AtomicU64::new(0),
            set_log_level,
            pubsub: Mutex::new(crate::pubsub::Registry::new(pubsub_limit)),
            blocked: Mutex::new(crate::blocking::Blocked::default()),
            group: std::sync::OnceLock::new(),
        })
    }

    /// The Raft group (set before any client is accepted).
    pub fn group(&self) -> &replication::Group {
        self.group
            .get()
            .expect("the group is opened before clients are served")
    }

    pub fn config(&self) -> Config {
        self.config.lock().expect("config lock").clone()
    }

    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
    }

    /// Publishes the keyspace notifications recorded in `keyspace` (called with its lock held;
    /// the pub/sub lock is always taken after the keyspace lock, never before).
    pub fn publish_events(&self, keyspace: &mut Keyspace) {
        if keyspace.events.is_empty() {
            return;
        }
        let classes = keyspace.notify_classes();
        let registry = self.pubsub.lock().expect("pubsub lock");
        for event in keyspace.events.drain(..) {
            if classes & engine::notify::KEYSPACE != 0 {
                let mut channel = format!("__keyspace@{}__:", event.db).into_bytes();
                channel.extend_from_slice(&event.key);
                registry.publish(&channel, event.name.as_bytes());
            }
            if classes & engine::notify::KEYEVENT != 0 {
                let channel = format!("__keyevent@{}__:{}", event.db, event.name);
                registry.publish(channel.as_bytes(), &event.key);
            }
        }
    }

    pub fn record_error(&self, reply: &[u8]) {
        let code = reply.split(|&b| b == b' ').next().unwrap_or(b"ERR");
        let code = String::from_utf8_lossy(code.strip_prefix(b"-").unwrap_or(code)).into_owned();
        *self
            .stats
            .errors
            .lock()
            .expect("errors lock")
            .entry(code)
            .or_insert(0) += 1;
    }
}

/// Binds every configured address and serves until SHUTDOWN or a signal.
pub async fn run(shared: Arc<Shared>) -> std::io::Result<()> {
    let config = shared.config();
    let mut listeners = Vec::new();
    for address in &config.bind {
        let address = address.strip_prefix('-').unwrap_or(address);
        let listener = TcpListener::bind((address, config.port)).await?;
        let local = listener.local_addr()?;
        shared
            .tcp_port
            .store(u64::from(local.port()), Ordering::Relaxed);
        listeners.push((listener, local));
    }
    let tls = crate::tls::acceptor(&config).map_err(std::io::Error::other)?;
    let mut tls_listeners = Vec::new();
    if let Some(acceptor) = &tls {
        for address in &config.bind {
            let address = address.strip_prefix('-').unwrap_or(address);
            let listener = TcpListener::bind((address, config.tls_port)).await?;
            let local = listener.local_addr()?;
            tls_listeners.push((listener, local, acceptor.clone()));
        }
    }
    let port = shared.tcp_port.load(Ordering::Relaxed) as u16;
    crate::replica::start(&shared, port).await?;
    for (listener, local) in listeners {
        info!("listening on {local}");
        // Tests and scripts wait for this line (the port is useful when it was 0).
        println!(
            "Redraft {} ready to accept connections on {local}",
            env!("CARGO_PKG_VERSION")
        );
        tokio::spawn(accept_loop(shared.clone(), listener, None));
    }
    for (listener, local, acceptor) in tls_listeners {
        info!("listening for TLS on {local}");
        println!(
            "Redraft {} ready to accept TLS connections on {local}",
            env!("CARGO_PKG_VERSION")
        );
        tokio::spawn(accept_loop(shared.clone(), listener, Some(acceptor)));
    }
    tokio::spawn(expire_loop(shared.clone()));
    let signals = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => info!("received SIGTERM, shutting down"),
                _ = int.recv() => info!("received SIGINT, shutting down"),
            }
        }
    };
    tokio::select! {
        _ = signals => {}
        _ = shared.shutdown.notified() => info!("SHUTDOWN requested"),
    }
    // As Redis fsyncs its AOF on SHUTDOWN: with `everysec` or `no`, the last writes acknowledged
    // are on the disk before the process says it is done.
    if let Some(group) = shared.group.get() {
        match group.sync_log() {
            Ok(()) => info!("the Raft log is synced to disk"),
            Err(e) => warn!("syncing the Raft log at shutdown failed: {e}"),
        }
    }
    info!("Redraft is now ready to exit, bye bye...");
    Ok(())
}

/// Accepts clients on one listener; with `tls` (`tls-port`), each connection's handshake runs
/// in its own task under a deadline ([`crate::tls::handshake`]), then it is served as a plain
/// one is.
async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (socket, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared
            .stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let _ = socket.set_nodelay(true);
        let Some(acceptor) = tls.clone() else {
            tokio::spawn(conn::serve(shared.clone(), socket, addr));
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            match crate::tls::handshake(&acceptor, socket).await {
                Ok(stream) => conn::serve(shared, stream, addr).await,
                Err(why) => tracing::debug!("TLS handshake with {addr} {why}"),
            }
        });
    }
}

/// Deletes keys whose time has come, in small batches, every 1/hz seconds.
async fn expire_loop(shared: Arc<Shared>) {
    loop {
        let hz = shared.config.lock().expect("config lock").hz.max(1);
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        // Only the leader expires keys, by proposing a cycle through the log: each replica
        // deletes the same keys (those due by the entry's time, earliest first).
        let Some(group) = shared.group.get() else {
            continue;
        };
        if !group.is_leader() {
            continue;
        }
        let started = Instant::now();
        loop {
            let now = now_ms();
            let due = {
                let keyspace = shared.keyspace.lock().expect("keyspace lock");
                (0..keyspace.databases())
                    .map(|db| keyspace.db(db).expired_count(now, EXPIRE_BATCH_KEYS))
                    .sum::<usize>()
            };
            if due == 0 {
                break;
            }
            let header = crate::replica::Header {
                kind: crate::replica::KIND_EXPIRE,
                proto: resp::Protocol::Resp2,
                db: 0,
                now_ms: now,
                // The batch size rides in the seed field: an expire cycle needs no randomness.
                seed: EXPIRE_BATCH_KEYS as u64,
                origin: group.node_id(),
                client: 0,
            };
            let body = crate::replica::BodyWriter::new(&header, &[]).finish();
            if group.propose(0, 0, body).await.is_err() {
                break;
            }
            if due < EXPIRE_BATCH_KEYS || started.elapsed() > EXPIRE_TICK_BUDGET {
                break;
            }
        }
    }
}
