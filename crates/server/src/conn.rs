//! One client connection: read, parse every complete command, execute, write once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::collections::HashSet;

use bytes::{Buf, Bytes, BytesMut};
use engine::{CommandSpec, Exec, Flags, Handler, ServerCommand};
use resp::{Limits, Protocol, ReplyWriter, RequestParser};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tracing::debug;

use crate::pubsub::{Kind, Message};
use crate::replica::{
    BodyWriter, CHUNK_BLOCKED, CHUNK_LOCAL, Header, KIND_COMMANDS, KIND_TRANSACTION, Watch,
    restamp, split_replies,
};
use crate::server::{ClientHandle, ClientMeta, Shared, now_ms};
use crate::stream::ClientStream;
use replication::ProposeError;

/// Bytes read per `read` call at least; the buffer grows beyond for large arguments.
const READ_CHUNK_BYTES: usize = 16 << 10;
/// Replies buffered before they are written even in the middle of a pipeline, so one client's
/// deep pipeline of large replies cannot grow memory without bound.
const REPLY_FLUSH_BYTES: usize = 1 << 20;
/// An idle connection keeps at most this much buffer capacity.
const IDLE_BUFFER_BYTES_MAX: usize = 64 << 10;

/// The shortest pause before asking a leader that refused a write again.
const RETRY_MIN: Duration = Duration::from_millis(5);

/// Commands MULTI may queue before EXEC fails them all (Redis has no such limit; we bound it).
const MULTI_COMMANDS_MAX: usize = 1 << 20;

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    pub queued: Vec<Vec<Vec<u8>>>,
    /// A queued command was refused (unknown, wrong arity): EXEC will answer EXECABORT.
    pub failed: bool,
}

/// A key this client WATCHes: its database's version clock at WATCH time (the key changed if
/// its version is newer: `Db::watch_broken`), and whether the key was live then (a key that is
/// deleted or expires afterwards invalidates the transaction too).
#[derive(Debug)]
pub struct Watched {
    pub db: usize,
    pub key: Vec<u8>,
    pub version: u64,
    pub was_live: bool,
}

/// Commands that act on the transaction itself rather than being queued.
fn controls_transaction(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// The subcommands Redis 7.0 knows for `container`, if it is a container of subcommands
/// (those here too); a subscribed RESP2 client's refusal names them `container|subcommand`.
fn redis_subcommands(container: &str) -> Option<&'static [&'static str]> {
    Some(match container {
        "client" => &[
            "caching",
            "getname",
            "getredir",
            "help",
            "id",
            "info",
            "kill",
            "list",
            "no-evict",
            "pause",
            "reply",
            "setname",
            "tracking",
            "trackinginfo",
            "unblock",
            "unpause",
        ],
        "config" => &["get", "help", "resetstat", "rewrite", "set"],
        "command" => &[
            "count",
            "docs",
            "getkeys",
            "getkeysandflags",
            "help",
            "info",
            "list",
        ],
        "object" => &["encoding", "freq", "help", "idletime", "refcount"],
        "pubsub" => &[
            "channels",
            "help",
            "numpat",
            "numsub",
            "shardchannels",
            "shardnumsub",
        ],
        _ => return None,
    })
}

/// What a RESP2 client may send while subscribed.
fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "subscribe"
            | "psubscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "punsubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    SkipNext,
    Skipping,
}

/// What the connection does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Write what is buffered, then close (QUIT, a protocol error, CLIENT KILL of itself).
    Close,
    /// Write what is buffered, wait, then continue (DEBUG SLEEP).
    Sleep(Duration),
    /// A blocking command found nothing: write what is buffered and wait to be served.
    Block,
}

/// A blocked command waiting for its keys to change (or to time out).
pub struct PendingBlock {
    slot: Arc<crate::blocking::Slot>,
    deadline: Option<tokio::time::Instant>,
    spec: &'static CommandSpec,
    args: Vec<Vec<u8>>,
}

/// Writes queued for one log entry: consecutive writes of a pipeline share one proposal.
struct PendingWrites {
    body: BodyWriter,
    /// Each write's command, and where its first key is in the body (for an error's text).
    commands: Vec<(&'static CommandSpec, std::ops::Range<usize>)>,
}

/// Writes batched into one proposal at most (the rest go in the next).
const BATCH_COMMANDS_MAX: u32 = 1024;

pub struct Conn {
    pub shared: Arc<Shared>,
    pub handle: Arc<ClientHandle>,
    pub db: usize,
    pub out: ReplyWriter,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub no_evict: bool,
    pub multi: Option<Multi>,
    pub watched: Vec<Watched>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    pub shard_channels: HashSet<Bytes>,
    /// Set while EXEC runs its queue: blocking commands then reply at once instead of blocking.
    pub in_exec: bool,
    /// READONLY: reads are served from this node even when it is a follower (may be stale).
    pub readonly: bool,
    pending_block: Option<PendingBlock>,
    pending_writes: Option<PendingWrites>,
    /// True once reads in the current batch are known to be linearizable: a read barrier
    /// passed, or a write of this batch was committed (after every command of the batch
    /// arrived, so the state it left is one the reads may see).
    fresh: bool,
    commands: u64,
    /// Commands executed since the last batch was added to INFO's counter.
    processed: u64,
    /// The wall clock, read once per batch of commands (Redis, too, caches the time).
    batch_now_ms: u64,
    /// When the previous command finished (or the batch was read), for INFO commandstats.
    last_clock: Instant,
    lookups: engine::LookupCache,
    /// Calls and time of the last commands counted, all one command: (index, calls, usec).
    stat_run: Option<(usize, u64, u64)>,
    last_command: &'static str,
    /// The subcommand of the last container command (CLIENT LIST shows `cmd=client|list`).
    last_subcommand: String,
    limits: Limits,
    query_buffer_limit: usize,
    /// `client-output-buffer-limit` for this client's class while it has no subscriptions, and
    /// while it has some.
    output_limit: crate::config::OutputLimit,
    pubsub_output_limit: crate::config::OutputLimit,
    timeout: Option<Duration>,
    /// `read-policy lease`: confirm leadership by lease rather than by a round of heartbeats.
    lease_reads: bool,
    config_generation: u64,
    /// How long a command that needs the leader waits for one during an election.
    leader_wait: Duration,
    /// Set when the last command waited for a leader in vain: the next fails at once rather
    /// than wait again.
    waited_in_vain: bool,
}

/// How long a command that needs the leader waits for an election's outcome: ten election
/// timeouts (2 s by default), time for a few rounds of votes.
fn leader_wait(election_timeout_ms: u64) -> Duration {
    Duration::from_millis(election_timeout_ms.saturating_mul(10))
}

/// Removes the client from the registry however the connection ends.
struct Registration(Arc<Shared>, u64);

impl Drop for Registration {
    fn drop(&mut self) {
        self.0.clients.lock().expect("clients lock").remove(&self.1);
        self.0.client_count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one client until it leaves: over TCP from the listener, or over an in-memory pipe
/// (the simulator's clients).
pub async fn serve<S: ClientStream>(shared: Arc<Shared>, mut socket: S, addr: SocketAddr) {
    let maxclients = shared.config.lock().expect("config lock").maxclients;
    if shared.client_count.fetch_add(1, Ordering::Relaxed) >= maxclients {
        shared.client_count.fetch_sub(1, Ordering::Relaxed);
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = socket
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let handle = Arc::new(ClientHandle {
        id,
        fd: socket.fd(),
        addr,
        laddr: socket.local_addr().unwrap_or(addr),
        created_ms: now_ms(),
        meta: std::sync::Mutex::new(ClientMeta {
            resp: 2,
            last_command: "NULL".into(),
            ..ClientMeta::default()
        }),
        killed: AtomicBool::new(false),
        kill: Notify::new(),
        mailbox: crate::pubsub::Mailbox::default(),
    });
    shared
        .clients
        .lock()
        .expect("clients lock")
        .insert(id, handle.clone());
    let _registration = Registration(shared.clone(), id);
    let requirepass_empty = shared
        .config
        .lock()
        .expect("config lock")
        .requirepass
        .is_empty();
    let mut conn = Conn {
        shared,
        handle,
        db: 0,
        out: ReplyWriter::new(Protocol::Resp2),
        authenticated: requirepass_empty,
        reply_mode: ReplyMode::On,
        name: String::new(),
        lib_name: String::new(),
        lib_ver: String::new(),
        no_evict: false,
        multi: None,
        watched: Vec::new(),
        channels: HashSet::new(),
        patterns: HashSet::new(),
        shard_channels: HashSet::new(),
        in_exec: false,
        readonly: false,
        pending_block: None,
        pending_writes: None,
        fresh: false,
        commands: 0,
        processed: 0,
        batch_now_ms: 0,
        last_clock: Instant::now(),
        lookups: engine::LookupCache::default(),
        stat_run: None,
        last_command: "NULL",
        last_subcommand: String::new(),
        limits: Limits::default(),
        query_buffer_limit: usize::MAX,
        output_limit: crate::config::OutputLimit::default(),
        pubsub_output_limit: crate::config::OutputLimit::default(),
        timeout: None,
        lease_reads: false,
        config_generation: u64::MAX,
        leader_wait: Duration::ZERO,
        waited_in_vain: false,
    };
    if let Err(e) = conn.run(&mut socket).await {
        debug!("client {id} closed: {e}");
    }
    conn.release();
    // A blocking command applied for this client after it stopped waiting (its proposal failed,
    // or it left mid-way) may have registered a waiter: nothing must stay behind for nobody.
    conn.abandon_block();
}

impl Conn {
    fn refresh_limits(&mut self) {
        let generation = self.shared.config_generation.load(Ordering::Relaxed);
        if generation == self.config_generation {
            return;
        }
        let config = self.shared.config.lock().expect("config lock");
        self.limits.bulk_bytes_max = config.proto_max_bulk_len;
        self.query_buffer_limit = config.client_query_buffer_limit;
        self.output_limit = config.output_limits.normal;
        self.pubsub_output_limit = config.output_limits.pubsub;
        self.timeout = (config.timeout_s > 0).then(|| Duration::from_secs(config.timeout_s));
        self.lease_reads = config.lease_reads;
        self.leader_wait = leader_wait(config.election_timeout_ms);
        self.config_generation = generation;
    }

    async fn run<S: ClientStream>(&mut self, socket: &mut S) -> std::io::Result<()> {
        let mut input = BytesMut::with_capacity(READ_CHUNK_BYTES);
        let mut parser = RequestParser::new(self.limits);
        // Registered once, polled beside every read: CLIENT KILL wakes the connection.
        let handle = self.handle.clone();
        let killed = handle.kill.notified();
        tokio::pin!(killed);
        let mail = handle.mailbox.ready.notified();
        tokio::pin!(mail);
        // After a blocked command completes, commands pipelined behind it may already be in
        // `input`: parse them before waiting for more bytes.
        let mut parse_first = false;
        loop {
            self.refresh_limits();
            parser = parser.with_limits(self.limits);
            if !std::mem::take(&mut parse_first) {
                if input.capacity() - input.len() < READ_CHUNK_BYTES / 4 {
                    input.reserve(READ_CHUNK_BYTES);
                }
                let spare = input.capacity() - input.len();
                let n = loop {
                    let timeout = self.timeout;
                    let read = async {
                        match timeout {
                            Some(t) => tokio::time::timeout(t, socket.read_some(&mut input))
                                .await
                                .unwrap_or_else(|_| Err(std::io::Error::other("idle timeout"))),
                            None => socket.read_some(&mut input).await,
                        }
                    };
                    tokio::select! {
                        biased;
                        _ = &mut killed => return Ok(()),
                        _ = &mut mail => {
                            mail.set(handle.mailbox.ready.notified());
                            self.write_messages();
                            self.flush(socket, killed.as_mut()).await?;
                            continue;
                        }
                        n = read => break n?,
                    }
                };
                if n > 0 && n < spare {
                    socket.drained();
                }
                if n == 0 || self.handle.killed.load(Ordering::Relaxed) {
                    return Ok(());
                }
                self.shared
                    .stats
                    .net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                if input.len() > self.query_buffer_limit {
                    tracing::warn!(
                        "closing client {}: query buffer over client-query-buffer-limit",
                        self.handle.id
                    );
                    return Ok(());
                }
            }
            let mut blocked = false;
            let mut consumed = 0;
            let mut close = false;
            self.batch_now_ms = now_ms();
            self.last_clock = Instant::now();
            self.fresh = false;
            // A new batch waits for a leader again, whatever the last one found.
            self.waited_in_vain = false;
            loop {
                let frame = &input[consumed..];
                match parser.parse(frame) {
                    Ok(Some(len)) => {
                        let args = parser.args(&frame[..len]);
                        consumed += len;
                        if args.is_empty() {
                            continue;
                        }
                        match self.execute(&args).await {
                            Flow::Continue => {}
                            Flow::Close => {
                                close = true;
                                break;
                            }
                            Flow::Sleep(d) => {
                                self.flush_writes().await;
                                self.flush(socket, killed.as_mut()).await?;
                                tokio::time::sleep(d).await;
                                self.batch_now_ms = now_ms();
                            }
                            Flow::Block => {
                                blocked = true;
                                break;
                            }
                        }
                        if self.out.len() >= REPLY_FLUSH_BYTES {
                            self.flush(socket, killed.as_mut()).await?;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.flush_writes().await;
                        self.out.error(&e.to_string());
                        self.shared.record_error(b"ERR");
                        close = true;
                        break;
                    }
                }
            }
            self.flush_writes().await;
            input.advance(consumed);
            self.publish_meta();
            self.flush(socket, killed.as_mut()).await?;
            if blocked {
                if !self
                    .wait_blocked(socket, &mut input, killed.as_mut())
                    .await?
                {
                    return Ok(());
                }
                self.publish_meta();
                self.flush(socket, killed.as_mut()).await?;
                parse_first = true;
            }
            if close {
                let _ = socket.shutdown().await;
                return Ok(());
            }
            if input.is_empty() && input.capacity() > IDLE_BUFFER_BYTES_MAX {
                input = BytesMut::with_capacity(READ_CHUNK_BYTES);
            }
        }
    }

    /// Waits until the blocked command is served, times out, or the client goes away (false).
    /// Bytes the client sends meanwhile are kept for after (within the query buffer limit).
    async fn wait_blocked<S: ClientStream>(
        &mut self,
        socket: &mut S,
        input: &mut BytesMut,
        mut killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    ) -> std::io::Result<bool> {
        let mut pending = self
            .pending_block
            .take()
            .expect("a blocked command is pending");
        let deadline = pending.deadline;
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        loop {
            if pending.slot.woken.load(Ordering::SeqCst) {
                // The keys changed: try again through the log.
                let args = std::mem::take(&mut pending.args);
                match self.run_blocking(pending.spec, args, deadline).await {
                    Flow::Block => {
                        pending = self.pending_block.take().expect("blocked again");
                        continue;
                    }
                    _ => return Ok(true),
                }
            }
            if input.capacity() - input.len() < READ_CHUNK_BYTES / 4 {
                input.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                biased;
                _ = pending.slot.notify.notified() => continue,
                _ = killed.as_mut() => {
                    self.abandon_block();
                    return Ok(false);
                }
                _ = &mut expired => {
                    if self.abandon_block() || !pending.slot.woken.load(Ordering::SeqCst) {
                        self.out.null_array();
                        return Ok(true);
                    }
                    // Woken just as the time ran out: one last try.
                    continue;
                }
                read = socket.read_some(input) => {
                    match read {
                        Ok(0) => {
                            // The client left: unblock it, so nothing is taken for nobody.
                            self.abandon_block();
                            return Ok(false);
                        }
                        Ok(_) if input.len() > self.query_buffer_limit => {
                            self.abandon_block();
                            return Ok(false);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            self.abandon_block();
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    /// Unregisters this blocked client; false if it was woken meanwhile.
    fn abandon_block(&mut self) -> bool {
        let mut keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        let mut blocked = self.shared.blocked.lock().expect("blocked lock");
        blocked.unblock(&mut keyspace, self.handle.id)
    }

    /// Encodes the pub/sub messages waiting in this client's mailbox.
    fn write_messages(&mut self) {
        for message in self.handle.mailbox.take() {
            let out = &mut self.out;
            match message {
                Message::Message { channel, payload } => {
                    out.push(3);
                    out.bulk(b"message");
                    out.bulk(&channel);
                    out.bulk(&payload);
                }
                Message::PMessage {
                    pattern,
                    channel,
                    payload,
                } => {
                    out.push(4);
                    out.bulk(b"pmessage");
                    out.bulk(&pattern);
                    out.bulk(&channel);
                    out.bulk(&payload);
                }
                Message::SMessage { channel, payload } => {
                    out.push(3);
                    out.bulk(b"smessage");
                    out.bulk(&channel);
                    out.bulk(&payload);
                }
            }
        }
    }

    /// Writes the buffered replies. A client that does not read can hold this write forever,
    /// so CLIENT KILL (or a pub/sub overflow) interrupts it, and so does its class's
    /// `client-output-buffer-limit`: replies that reach the hard limit are not written (the
    /// client is closed, as Redis closes it), and a write of replies at or over the soft limit
    /// that the client has not taken after the soft limit's seconds is abandoned, closing it.
    /// (Redraft reads no more of a client's commands while its replies wait, so they never pile
    /// up past one batch, flushed at 1 MiB, and one reply.)
    async fn flush<S: ClientStream>(
        &mut self,
        socket: &mut S,
        killed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    ) -> std::io::Result<()> {
        self.flush_stats();
        if !self.out.is_empty() {
            let limit = if self.subscriptions() > 0 {
                self.pubsub_output_limit
            } else {
                self.output_limit
            };
            let over = |bytes: usize| bytes > 0 && self.out.len() >= bytes;
            if over(limit.hard) {
                return Err(self.overcame_output_limit());
            }
            // Redis counts the soft limit's time in whole seconds: at least one passes.
            let soft_for = over(limit.soft).then(|| Duration::from_secs(limit.soft_seconds.max(1)));
            // Made only when polled: a write that completes at once registers no timer.
            let soft_expired = async move {
                match soft_for {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                // The flush matters for TLS only: a write that would block leaves the rest
                // of the reply in the session's buffer until the stream is flushed (for TCP
                // it is nothing).
                written = async {
                    socket.write_all(&self.out.buf).await?;
                    socket.flush().await
                } => written?,
                _ = killed => return Err(std::io::Error::other("client killed")),
                _ = soft_expired => return Err(self.overcame_output_limit()),
            }
            self.shared
                .stats
                .net_output_bytes
                .fetch_add(self.out.len() as u64, Ordering::Relaxed);
            self.out.buf.clear();
            if self.out.buf.capacity() > IDLE_BUFFER_BYTES_MAX {
                self.out.buf = Vec::with_capacity(256);
            }
        }
        Ok(())
    }

    /// Makes this connection's state visible to CLIENT LIST; once per batch, not per command.
    pub fn publish_meta(&self) {
        let mut meta = self.handle.meta.lock().expect("client meta lock");
        meta.name.clone_from(&self.name);
        meta.db = self.db;
        meta.last_command.clear();
        meta.last_command.push_str(self.last_command);
        if !self.last_subcommand.is_empty() {
            meta.last_command.push('|');
            meta.last_command.push_str(&self.last_subcommand);
        }
        meta.last_interaction_ms = self.batch_now_ms;
        meta.resp = if self.out.is_resp3() { 3 } else { 2 };
        meta.lib_name.clone_from(&self.lib_name);
        meta.lib_ver.clone_from(&self.lib_ver);
        meta.no_evict = self.no_evict;
        meta.subscriptions = [
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
        ];
        meta.multi = self.multi.as_ref().map(|m| m.queued.len());
        meta.blocked = self.pending_block.is_some();
    }

    /// Executes one command, writing its reply (unless CLIENT REPLY says otherwise).
    async fn execute(&mut self, args: &[&[u8]]) -> Flow {
        let mark = self.out.len();
        let Some(spec) = self.lookups.get(args[0]) else {
            self.out.error(&unknown_command(args));
            self.shared.record_error(b"ERR");
            if let Some(multi) = &mut self.multi {
                multi.failed = true;
            }
            return Flow::Continue;
        };
        self.last_command = spec.name;
        self.last_subcommand.clear();
        if args.len() > 1
            && matches!(
                spec.name,
                "client" | "config" | "command" | "object" | "debug"
            )
        {
            self.last_subcommand.extend(
                args[1]
                    .iter()
                    .take(32)
                    .map(|&b| char::from(b.to_ascii_lowercase())),
            );
        }
        let index = spec.index();
        if !self.authenticated && !spec.flags.contains(Flags::NO_AUTH) {
            self.out.error("NOAUTH Authentication required.");
            self.shared.stats.commands[index]
                .rejected
                .fetch_add(1, Ordering::Relaxed);
            self.shared.record_error(b"NOAUTH");
            return Flow::Continue;
        }
        if controls_transaction(spec) && !spec.arity_ok(args.len()) {
            // As Redis does: a malformed EXEC discards the transaction (inside MULTI or not)
            // and says why; a malformed DISCARD, MULTI or WATCH inside MULTI makes EXEC fail.
            let error = engine::Error::WrongArity(spec.name).to_string();
            if spec.name == "exec" {
                self.multi = None;
                self.unwatch_all();
                let why = error.strip_prefix("ERR ").unwrap_or(&error);
                self.out.error(&format!(
                    "EXECABORT Transaction discarded because of: {why}"
                ));
                self.shared.record_error(b"EXECABORT");
            } else {
                if let Some(multi) = &mut self.multi {
                    multi.failed = true;
                }
                self.out.error(&error);
                self.shared.record_error(b"ERR");
            }
            self.shared.stats.commands[index]
                .rejected
                .fetch_add(1, Ordering::Relaxed);
            return Flow::Continue;
        }
        if self.multi.is_some() && !controls_transaction(spec) {
            self.queue(spec, args);
            return Flow::Continue;
        }
        // As Redis: a wrong arity or an unknown subcommand is said first (the command runs and
        // refuses itself), and a subcommand is named as container|subcommand.
        if !self.out.is_resp3()
            && self.subscriptions() > 0
            && !allowed_when_subscribed(spec)
            && spec.arity_ok(args.len())
        {
            let name = match (redis_subcommands(spec.name), args.get(1)) {
                (Some(known), Some(sub)) => {
                    let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
                    known
                        .contains(&sub.as_str())
                        .then(|| format!("{}|{sub}", spec.name))
                }
                _ => Some(spec.name.to_string()),
            };
            if let Some(name) = name {
                self.out.error(&format!(
                    "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
                ));
                return Flow::Continue;
            }
        }
        if self.shared.paused.load(Ordering::Relaxed) {
            self.flush_writes().await;
            self.wait_while_paused(spec).await;
            self.batch_now_ms = now_ms();
        }
        let engine_command = matches!(spec.handler, Handler::Engine(_));
        let stale_read_allowed = self.readonly && engine_command && !spec.is_write();
        let broadcast = self.broadcasts(spec);
        if (engine_command && spec.is_write() && !spec.flags.contains(Flags::BLOCKING)) || broadcast
        {
            if self
                .pending_writes
                .as_ref()
                .is_some_and(|p| p.body.len() >= BATCH_COMMANDS_MAX)
            {
                self.flush_writes().await;
            }
            // Replied to when the batch is committed (at the latest when this read is done).
            self.queue_write(spec, args);
            return Flow::Continue;
        }
        self.flush_writes().await;
        if engine_command && spec.flags.contains(Flags::BLOCKING) {
            let owned = args.iter().map(|a| a.to_vec()).collect();
            let flow = self.run_blocking(spec, owned, None).await;
            self.account(index, mark);
            self.apply_reply_mode(mark);
            return flow;
        }
        if (engine_command || matches!(spec.name, "watch" | "exec"))
            && !self.fresh
            && !stale_read_allowed
            && let Err(e) = self.read_barrier().await
        {
            self.out.error(&error_text(&e, spec, args));
            self.account(index, mark);
            return Flow::Continue;
        }
        if spec.name == "redraft" {
            if let Err(e) = crate::admin::redraft(self, args).await {
                self.out.error(&e.to_string());
            }
            self.account(index, mark);
            return Flow::Continue;
        }
        if spec.name == "exec" {
            let flow = self.exec().await;
            self.account(index, mark);
            self.apply_reply_mode(mark);
            return flow;
        }
        let mut flow = self.dispatch(spec, args);
        if self.pending_block.is_some() {
            flow = Flow::Block;
        }
        self.account(index, mark);
        self.apply_reply_mode(mark);
        flow
    }

    /// Whether `spec` is a PUBLISH or SPUBLISH that goes through the log: in a group with other
    /// members every node applies it and delivers the message to its own subscribers (Redis
    /// Cluster broadcasts PUBLISH to every node over its bus), and the reply counts this node's.
    /// A cluster of one delivers at once.
    fn broadcasts(&self, spec: &CommandSpec) -> bool {
        matches!(
            spec.handler,
            Handler::Server(ServerCommand::Publish | ServerCommand::Spublish)
        ) && !self.shared.group().is_sole_leader()
            && self.shared.group().leader().is_some()
    }

    /// Runs a command that passed every check: the engine's or the server's handler.
    pub fn dispatch(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) -> Flow {
        match spec.handler {
            Handler::Engine(_) => {
                self.run_engine(spec, args);
                Flow::Continue
            }
            Handler::Server(command) => self.run_server(command, spec, args),
        }
    }

    /// Counts a finished command in INFO commandstats and errorstats; `mark` is where its reply
    /// starts in the output.
    pub fn account(&mut self, index: usize, mark: usize) {
        // One clock read per command: each command's time runs from the end of the previous one
        // (or the read), so its parsing is counted with it.
        let finished = Instant::now();
        let usec = finished.duration_since(self.last_clock).as_micros() as u64;
        self.last_clock = finished;
        self.count_command(index, mark, usec);
    }

    /// Counts a finished command that took `usec`. Calls and time of a run of the same command
    /// (a pipeline's usual shape) are added to INFO's counters once, by [`Conn::flush_stats`].
    fn count_command(&mut self, index: usize, mark: usize, usec: u64) {
        match &mut self.stat_run {
            Some(run) if run.0 == index => {
                run.1 += 1;
                run.2 += usec;
            }
            run => {
                let previous = run.replace((index, 1, usec));
                self.add_stats(previous);
            }
        }
        self.processed += 1;
        if self.out.buf.get(mark) == Some(&b'-') {
            let stat = &self.shared.stats.commands[index];
            stat.failed.fetch_add(1, Ordering::Relaxed);
            let end = self.out.buf[mark..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(self.out.len(), |p| mark + p);
            let code = self.out.buf[mark + 1..end].to_vec();
            self.shared.record_error(&code);
        }
    }

    fn add_stats(&self, run: Option<(usize, u64, u64)>) {
        if let Some((index, calls, usec)) = run {
            let stat = &self.shared.stats.commands[index];
            stat.calls.fetch_add(calls, Ordering::Relaxed);
            stat.usec.fetch_add(usec, Ordering::Relaxed);
        }
    }

    /// Adds what this connection counted since the last call to INFO's counters (before the
    /// replies are written, so that a client sees its own commands counted).
    fn flush_stats(&mut self) {
        let run = self.stat_run.take();
        self.add_stats(run);
        let processed = std::mem::take(&mut self.processed);
        self.shared
            .stats
            .commands_processed
            .fetch_add(processed, Ordering::Relaxed);
    }

    /// Queues a command inside MULTI, or flags the transaction when the command cannot run.
    fn queue(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) {
        let multi = self.multi.as_mut().expect("queue is called inside MULTI");
        if !spec.arity_ok(args.len()) {
            multi.failed = true;
            self.out
                .error(&engine::Error::WrongArity(spec.name).to_string());
            return;
        }
        if spec.flags.contains(Flags::NO_MULTI) {
            multi.failed = true;
            self.out
                .error("ERR Command not allowed inside a transaction");
            return;
        }
        if multi.queued.len() >= MULTI_COMMANDS_MAX {
            multi.failed = true;
            self.out
                .error("ERR Transaction too long: more than 1048576 queued commands");
            return;
        }
        let queued: Vec<Vec<u8>> = if spec.name == "evalsha" && args.len() >= 3 {
            let body = script_body(&self.shared, args[1]);
            let (_, resolved) = resolve_evalsha(spec, args, body.as_deref());
            resolved.iter().map(|a| a.to_vec()).collect()
        } else {
            args.iter().map(|a| a.to_vec()).collect()
        };
        multi.queued.push(queued);
        self.out.simple("QUEUED");
    }

    /// Channels, patterns and shard channels this client listens to.
    fn overcame_output_limit(&self) -> std::io::Error {
        tracing::warn!(
            "client {} closed for overcoming of output buffer limits",
            self.handle.id
        );
        std::io::Error::other("output buffer over its limit")
    }

    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }

    /// Forgets this client's watches and subscriptions (on RESET, and when it disconnects).
    pub fn release(&mut self) {
        self.unwatch_all();
        let mut registry = self.shared.pubsub.lock().expect("pubsub lock");
        for (kind, names) in [
            (Kind::Channel, std::mem::take(&mut self.channels)),
            (Kind::Pattern, std::mem::take(&mut self.patterns)),
            (Kind::Shard, std::mem::take(&mut self.shard_channels)),
        ] {
            for name in names {
                registry.unsubscribe(kind, &name, self.handle.id);
            }
        }
    }

    /// UNWATCH. Versions are kept for every key, so the keyspace has nothing to forget.
    pub fn unwatch_all(&mut self) {
        self.watched.clear();
    }

    /// Runs a read against the local keyspace (writes go through the log: `queue_write`).
    fn run_engine(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) {
        debug_assert!(!spec.is_write(), "{} is a write", spec.name);
        self.commands += 1;
        let seed = self.shared.seed_base ^ (self.handle.id << 40) ^ self.commands;
        let mut keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        let mut ex = Exec {
            ks: &mut keyspace,
            db: self.db,
            now_ms: self.batch_now_ms,
            seed,
            out: &mut self.out,
        };
        ex.run(spec, args);
        self.shared.publish_events(&mut keyspace);
    }

    /// The leader's inputs for an entry this connection proposes.
    fn header(&mut self, kind: u8) -> Header {
        self.commands += 1;
        Header {
            kind,
            proto: self.out.proto,
            db: self.db as u32,
            now_ms: self.batch_now_ms,
            seed: self.shared.seed_base ^ (self.handle.id << 40) ^ self.commands,
            origin: self.shared.group().node_id(),
            client: self.handle.id,
        }
    }

    /// Adds a write to the proposal being built; its reply comes when the batch is committed.
    fn queue_write(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) {
        if spec.name == "evalsha" && args.len() >= 3 {
            let body = script_body(&self.shared, args[1]);
            let (spec, resolved) = resolve_evalsha(spec, args, body.as_deref());
            return self.queue_write_resolved(spec, &resolved);
        }
        self.queue_write_resolved(spec, args);
    }

    fn queue_write_resolved(&mut self, spec: &'static CommandSpec, args: &[&[u8]]) {
        if self.pending_writes.is_none() {
            let header = self.header(KIND_COMMANDS);
            self.pending_writes = Some(PendingWrites {
                body: BodyWriter::new(&header, &[]),
                commands: Vec::new(),
            });
        }
        let pending = self.pending_writes.as_mut().expect("just made");
        let at = pending.body.buf.len();
        pending.body.push(args);
        // The body holds each argument after its u32 length, the command after its u32 count.
        let first_key = spec.first_key(args.len()).map_or(0..0, |i| {
            let start = at + 4 + args[..i].iter().map(|a| 4 + a.len()).sum::<usize>() + 4;
            start..start + args[i].len()
        });
        pending.commands.push((spec, first_key));
    }

    /// Proposes the queued writes as one entry and writes their replies, in order.
    async fn flush_writes(&mut self) {
        let Some(pending) = self.pending_writes.take() else {
            return;
        };
        let body = pending.body.finish();
        let result = self.propose_through_election(body.clone()).await;
        let not_kept = result.as_ref().is_ok_and(|reply| reply.is_empty());
        let mut replies = result.as_ref().map(|reply| split_replies(reply, false));
        // One clock read for the batch, its time shared evenly by its commands.
        let finished = Instant::now();
        let usec = finished.duration_since(self.last_clock).as_micros() as u64;
        self.last_clock = finished;
        let count = pending.commands.len() as u64;
        for (i, (spec, key)) in pending.commands.into_iter().enumerate() {
            let mark = self.out.len();
            match &mut replies {
                Ok(replies) => match replies.next() {
                    Some(Ok(bytes)) => self.out.buf.extend_from_slice(bytes),
                    _ if not_kept => self.out.error(REPLY_NOT_KEPT),
                    _ => self.out.error("ERR internal error: reply missing"),
                },
                Err(e) => {
                    let key = &body[key];
                    self.out
                        .error(&error_text(e, spec, &[spec.name.as_bytes(), key]));
                }
            }
            let share = usec / count + u64::from((i as u64) < usec % count);
            self.count_command(spec.index(), mark, share);
            self.apply_reply_mode(mark);
        }
        if result.is_ok() {
            self.fresh = true;
        }
    }

    /// Proposes `body`: here when this node leads, else forwarded to the leader over the bus
    /// (etcd's way: every node serves its own clients). A proposal refused before it was
    /// appended because no node leads (an election, or a new leader that has not yet heard
    /// from a quorum) waits up to `leader_wait` for the outcome and is proposed again if this
    /// node won; one refused for another leader (this node was just deposed) is forwarded to
    /// it. So a leadership transfer or a failover is a pause for this client, not an error.
    async fn propose_through_election(&mut self, body: Bytes) -> Result<Bytes, ProposeError> {
        let group = self.shared.group().clone();
        // Under this connection's session and a sequence number of its own, here as when
        // forwarded: a proposal dropped by a change of leader is sent again, and applied once.
        let (session, seq) = (self.session(), self.commands);
        let propose = |body| async {
            match group.propose(session, seq, body).await {
                Err(ProposeError::Discarded(leader)) => Err(ProposeError::NotLeader(leader)),
                other => other,
            }
        };
        let mut result = match group.is_leader() || !group.is_member() {
            true => propose(body.clone()).await,
            false => Err(ProposeError::NotLeader(group.leader())),
        };
        if !matches!(result, Err(ProposeError::NotLeader(_))) {
            self.waited_in_vain = false;
            return result;
        }
        let wait = match std::mem::take(&mut self.waited_in_vain) {
            true => Duration::ZERO,
            false => self.leader_wait,
        };
        let deadline = tokio::time::Instant::now() + wait;
        // A heartbeat's time: leader_wait is ten election timeouts, a heartbeat a fifth of one.
        let retry = (self.leader_wait / 50).max(RETRY_MIN);
        let mut waited = false;
        while matches!(result, Err(ProposeError::NotLeader(None))) && group.is_member() {
            waited = true;
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            let until = deadline.min(now + retry);
            if group.is_leader() {
                // It leads but refused: no quorum has answered it lately (a new leader, or
                // one cut off). No change of role will wake it: ask again after a heartbeat.
                tokio::time::sleep_until(until).await;
            } else {
                group.wait_for_leader(None, until).await;
                if !group.is_leader() && group.leader().is_some() {
                    result = Err(ProposeError::NotLeader(group.leader()));
                    break;
                }
            }
            result = propose(restamp(&body, now_ms())).await;
        }
        if matches!(result, Err(ProposeError::NotLeader(_)))
            && tokio::time::Instant::now() < deadline
        {
            // Nothing of it was appended here: the leader may take it as a new proposal, under
            // this connection's session so that a resend after a lost reply applies once.
            let body = match waited {
                true => restamp(&body, now_ms()),
                false => body,
            };
            result = group.forward(session, seq, body, deadline).await;
            if result.is_ok() {
                self.shared
                    .stats
                    .forwarded_proposals
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        // The next command of the batch fails at once rather than wait again.
        self.waited_in_vain = matches!(result, Err(ProposeError::NotLeader(_)));
        if let Err(ProposeError::NotLeader(None)) = &result {
            // Name the leader if one came meanwhile.
            if let Some(leader) = group.leader().filter(|_| !group.is_leader()) {
                return Err(ProposeError::NotLeader(Some(leader)));
            }
        }
        result
    }

    /// This connection's session for proposals it forwards: unique across the cluster and
    /// across restarts (the process's random base mixed with the client id), never 0.
    fn session(&self) -> u64 {
        (self.shared.seed_base ^ self.handle.id.wrapping_mul(0x9e37_79b9_7f4a_7c15)).max(1)
    }

    /// Linearizable reads: on a leader with peers, confirm leadership and catch up first.
    /// Refused because leadership moved since the command was routed here (a transfer, an
    /// election), the barrier waits for the leader, asks it, and this node catches up to it.
    async fn read_barrier(&mut self) -> Result<(), ProposeError> {
        let group = self.shared.group().clone();
        if !group.is_sole_leader() {
            let local = match group.is_leader() {
                true => group.read_barrier_with(self.lease_reads).await,
                false => Err(ProposeError::NotLeader(group.leader())),
            };
            match local {
                Err(ProposeError::NotLeader(_)) if !std::mem::take(&mut self.waited_in_vain) => {
                    let deadline = tokio::time::Instant::now() + self.leader_wait;
                    group
                        .read_barrier_through_leader(self.lease_reads, deadline)
                        .await?
                }
                result => result?,
            }
        }
        self.fresh = true;
        Ok(())
    }

    /// Proposes a blocking command alone. It either replies (`Continue`) or found nothing and
    /// blocked (`Block`, with `pending_block` set to wait on).
    async fn run_blocking(
        &mut self,
        spec: &'static CommandSpec,
        args: Vec<Vec<u8>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Flow {
        let borrowed: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        if !spec.arity_ok(borrowed.len()) {
            self.out
                .error(&engine::Error::WrongArity(spec.name).to_string());
            return Flow::Continue;
        }
        self.batch_now_ms = now_ms();
        let header = self.header(KIND_COMMANDS);
        let mut body = BodyWriter::new(&header, &[]);
        body.push(&borrowed);
        let reply = match self.propose_through_election(body.finish()).await {
            Ok(reply) if reply.is_empty() => {
                self.out.error(REPLY_NOT_KEPT);
                return Flow::Continue;
            }
            Ok(reply) => reply,
            Err(e) => {
                self.out.error(&error_text(&e, spec, &borrowed));
                return Flow::Continue;
            }
        };
        self.fresh = true;
        match split_replies(&reply, false).next() {
            Some(Ok(bytes)) => {
                self.out.buf.extend_from_slice(bytes);
                Flow::Continue
            }
            Some(Err(CHUNK_BLOCKED)) => {
                let claimed = self
                    .shared
                    .blocked
                    .lock()
                    .expect("blocked lock")
                    .claim(self.handle.id);
                let Some(slot) = claimed else {
                    // Forwarded to the leader, and this node had not applied it by the
                    // deadline: it blocked there, but nothing waits here yet.
                    self.out.error(&error_text(
                        &ProposeError::Unavailable(
                            "the blocking command was applied by the leader, not yet here".into(),
                        ),
                        spec,
                        &borrowed,
                    ));
                    return Flow::Continue;
                };
                let deadline = deadline.or_else(|| {
                    let (at, _) = crate::blocking::blocking_shape(spec, &borrowed);
                    engine::blocking_timeout(borrowed[at])
                        .ok()
                        .flatten()
                        .map(|t| tokio::time::Instant::now() + t)
                });
                self.pending_block = Some(PendingBlock {
                    slot,
                    deadline,
                    spec,
                    args,
                });
                Flow::Block
            }
            _ => {
                self.out.error("ERR internal error: reply missing");
                Flow::Continue
            }
        }
    }

    /// EXEC: a transaction with a write is one log entry, applied atomically on every replica,
    /// WATCHed versions checked when it is applied. One with only reads runs here.
    async fn exec(&mut self) -> Flow {
        let Some(multi) = self.multi.take() else {
            self.out.error("ERR EXEC without MULTI");
            return Flow::Continue;
        };
        if multi.failed {
            self.unwatch_all();
            self.out
                .error("EXECABORT Transaction discarded because of previous errors.");
            return Flow::Continue;
        }
        let specs: Vec<&'static CommandSpec> = multi
            .queued
            .iter()
            .map(|q| engine::lookup(&q[0]).expect("queued commands were looked up"))
            .collect();
        if !specs.iter().any(|s| s.is_write() || self.broadcasts(s)) {
            return self.exec_locally(multi, specs);
        }
        let watched = std::mem::take(&mut self.watched);
        let watches: Vec<Watch> = watched
            .iter()
            .map(|w| Watch {
                db: w.db as u32,
                key: &w.key,
                version: w.version,
                was_live: w.was_live,
            })
            .collect();
        let header = self.header(KIND_TRANSACTION);
        let mut body = BodyWriter::new(&header, &watches);
        for queued in &multi.queued {
            let args: Vec<&[u8]> = queued.iter().map(Vec::as_slice).collect();
            body.push(&args);
        }
        drop(watches);
        let reply = match self.propose_through_election(body.finish()).await {
            Ok(reply) if reply.is_empty() => {
                self.out.error(REPLY_NOT_KEPT);
                return Flow::Continue;
            }
            Ok(reply) => reply,
            Err(e) => {
                self.out.error(&error_text(&e, specs[0], &[]));
                return Flow::Continue;
            }
        };
        self.fresh = true;
        let replies = split_replies(&reply, true);
        if replies.aborted {
            self.out.null_array();
            return Flow::Continue;
        }
        self.out.array(multi.queued.len());
        self.in_exec = true;
        let mut flow = Flow::Continue;
        for ((queued, spec), chunk) in multi.queued.iter().zip(&specs).zip(replies) {
            let mark = self.out.len();
            let args: Vec<&[u8]> = queued.iter().map(Vec::as_slice).collect();
            match chunk {
                Ok(bytes) => {
                    self.out.buf.extend_from_slice(bytes);
                    if spec.name == "select" && bytes.starts_with(b"+OK") {
                        let databases = self.shared.config.lock().expect("config lock").databases;
                        if let Ok(db) = crate::commands::parse_db(&args, databases) {
                            self.db = db;
                        }
                    }
                }
                Err(CHUNK_LOCAL) => {
                    if self.dispatch(spec, &args) == Flow::Close {
                        flow = Flow::Close;
                    }
                }
                Err(_) => self.out.null_array(),
            }
            self.account(spec.index(), mark);
        }
        self.in_exec = false;
        flow
    }

    /// A transaction of reads (and server commands): run here, nothing in between.
    fn exec_locally(&mut self, multi: Multi, specs: Vec<&'static CommandSpec>) -> Flow {
        let broken = crate::commands::watch_broken(self);
        self.unwatch_all();
        if broken {
            self.out.null_array();
            return Flow::Continue;
        }
        self.out.array(multi.queued.len());
        self.in_exec = true;
        let mut flow = Flow::Continue;
        for (queued, spec) in multi.queued.iter().zip(specs) {
            let args: Vec<&[u8]> = queued.iter().map(Vec::as_slice).collect();
            let mark = self.out.len();
            if self.dispatch(spec, &args) == Flow::Close {
                flow = Flow::Close;
            }
            self.account(spec.index(), mark);
        }
        self.in_exec = false;
        flow
    }

    fn apply_reply_mode(&mut self, mark: usize) {
        match self.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => self.out.truncate(mark),
            // CLIENT REPLY SKIP's own reply is suppressed too; the next command's is skipped.
            ReplyMode::SkipNext => {
                self.out.truncate(mark);
                self.reply_mode = ReplyMode::Skipping;
            }
            ReplyMode::Skipping => {
                self.out.truncate(mark);
                self.reply_mode = ReplyMode::On;
            }
        }
    }

    /// Holds the command while a CLIENT PAUSE covers it.
    async fn wait_while_paused(&self, spec: &CommandSpec) {
        loop {
            let pause = *self.shared.pause.lock().expect("pause lock");
            let now = now_ms();
            let covered = !pause.writes_only || spec.is_write();
            if pause.until_ms <= now || !covered || spec.name == "client" {
                return;
            }
            let wait = Duration::from_millis(pause.until_ms - now);
            let _ = tokio::time::timeout(wait, self.shared.unpaused.notified()).await;
        }
    }

    fn run_server(
        &mut self,
        command: ServerCommand,
        spec: &'static CommandSpec,
        args: &[&[u8]],
    ) -> Flow {
        if !spec.arity_ok(args.len()) {
            self.out
                .error(&engine::Error::WrongArity(spec.name).to_string());
            return Flow::Continue;
        }
        match crate::commands::run(self, command, args) {
            Ok(flow) => flow,
            Err(e) => {
                self.out.error(&e.to_string());
                Flow::Continue
            }
        }
    }
}

/// The answer to a proposal that was applied but whose reply the session table did not keep
/// (a forwarded proposal resent after its answer was lost, its reply over
/// `SESSION_REPLY_BYTES_MAX`).
const REPLY_NOT_KEPT: &str = "ERR the command was applied once, but its reply was too large to keep for the resend that followed a lost answer";

/// The error for a command this node could not put through the log. A follower names the
/// leader the way Redis Cluster does (MOVED, with the key's slot), so cluster-aware clients
/// follow it.
/// EVALSHA goes into the log as EVAL of the script's text, so that what a replica applies never
/// depends on its own script cache (a restart or a snapshot empties it, and a script loaded
/// through another node may not be there yet). A SHA this node does not know goes in as
/// `UNKNOWN_SHA`, which no script has, and every replica answers NOSCRIPT in its place among
/// the replies.
fn script_body(shared: &Shared, sha: &[u8]) -> Option<std::sync::Arc<[u8]>> {
    shared
        .keyspace
        .lock()
        .expect("keyspace lock")
        .script_body(sha)
}

const UNKNOWN_SHA: &[u8] = b"-";

/// EVALSHA (`args`, at least 3) as it goes into the log, given the script's text if this node
/// knows it.
fn resolve_evalsha<'a>(
    spec: &'static CommandSpec,
    args: &[&'a [u8]],
    body: Option<&'a [u8]>,
) -> (&'static CommandSpec, Vec<&'a [u8]>) {
    let mut resolved = Vec::with_capacity(args.len());
    let spec = match body {
        Some(body) => {
            resolved.extend_from_slice(&[b"eval".as_slice(), body]);
            engine::lookup(b"eval").expect("eval is a command")
        }
        None => {
            resolved.extend_from_slice(&[args[0], UNKNOWN_SHA]);
            spec
        }
    };
    resolved.extend_from_slice(&args[2..]);
    (spec, resolved)
}

pub fn error_text(e: &ProposeError, spec: &CommandSpec, args: &[&[u8]]) -> String {
    match e {
        ProposeError::NotLeader(Some((_, addr))) => {
            let slot = spec
                .first_key(args.len())
                .map_or(0, |i| engine::slot_of(args[i]));
            format!("MOVED {slot} {addr}")
        }
        ProposeError::NotLeader(None) => "CLUSTERDOWN No leader elected yet, try again".into(),
        ProposeError::Unavailable(why) => format!("ERR replication unavailable: {why}"),
        e @ ProposeError::Discarded(_) => format!("ERR replication unavailable: {e}"),
        // Redis Cluster's code for "nothing happened, retry later".
        ProposeError::Stopped(why) => {
            format!("TRYAGAIN storage unavailable, the write was not applied: {why}")
        }
    }
}

/// Redis's reply to an unknown command, quoting the start of its arguments.
fn unknown_command(args: &[&[u8]]) -> String {
    let mut quoted = String::new();
    for arg in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        let text = String::from_utf8_lossy(arg);
        let text: String = text.chars().take(room).collect();
        quoted.push_str(&format!("'{text}' "));
    }
    let name: String = String::from_utf8_lossy(args[0]).chars().take(128).collect();
    format!("ERR unknown command '{name}', with args beginning with: {quoted}")
}

#[cfg(test)]
mod tests {
    use super::unknown_command;

    #[test]
    fn unknown_commands_quote_their_arguments() {
        assert_eq!(
            unknown_command(&[b"foo"]),
            "ERR unknown command 'foo', with args beginning with: "
        );
        assert_eq!(
            unknown_command(&[b"foo", b"a", b"b c"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b c' "
        );
    }
}
