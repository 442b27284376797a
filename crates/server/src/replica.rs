//! The server's side of replication: what a log entry holds, how it is applied to the keyspace,
//! and the cluster bus that carries Raft's messages between nodes.
//!
//! Every write reaches the keyspace by being applied from the Raft log, on every replica alike;
//! the connection that sent it gets the reply its own node computed while applying. An entry is a
//! batch of commands with the leader's inputs, so applying it is deterministic (DESIGN §2):
//!
//! ```text
//! version u8 · kind u8 · proto u8 · db u32 · now_ms u64 · seed u64 · origin node u64 · client u64
//! · watches u32 × (db u32 · key · version u64 · was-live u8) · commands u32 × (argc u32 × arg)
//! ```
//! where a key or an argument is `len u32 · bytes`. The reply is one chunk per command
//! (`len u32 · RESP bytes`), after a status byte for a transaction.
//!
//! The clock applied is the largest `now_ms` seen so far, so expiry never runs backwards when two
//! connections' entries reach the log out of wall-clock order. It is part of every snapshot.
//!
//! Blocking commands: a command that would block registers its waiter only on the node its
//! client is connected to (`origin`); a later write that feeds the key wakes the waiter, which
//! proposes its command again. Waiting is local, taking is always through the log.
//!
//! PUBLISH and SPUBLISH in an entry (a group with other members proposes them like writes) are
//! delivered by every node to its own subscribers as it applies them; the reply is that node's
//! count. They change no state, so a node that applies one long after it was proposed (catching
//! up) drops it instead of delivering stale news.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use engine::{Exec, Flags, Handler, Keyspace, ServerCommand};
use replication::{BoxFuture, Machine, NodeId, Pipe, Transport};
use resp::{Protocol, ReplyWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::server::Shared;

const BODY_VERSION: u8 = 1;
pub const KIND_COMMANDS: u8 = 0;
pub const KIND_TRANSACTION: u8 = 1;
pub const KIND_EXPIRE: u8 = 2;

/// Chunk length meaning "a server command: the connection runs it itself".
pub const CHUNK_LOCAL: u32 = u32::MAX;
/// Chunk length meaning "found nothing and blocked (the waiter is registered on its node)".
pub const CHUNK_BLOCKED: u32 = u32::MAX - 1;

/// The largest Raft message the bus accepts (a snapshot travels as one).
pub const BUS_FRAME_BYTES_MAX: usize = 4 << 30;
/// Idle bus connections kept per peer.
const BUS_IDLE_CONNECTIONS_MAX: usize = 4;
const BUS_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Messages queued each way on a pipe (a leader keeps at most 32 appends in flight on one).
const PIPE_QUEUE_MAX: usize = 64;
/// What a pipe's reader takes from the socket at a time: a length and its frame in one read,
/// and frames that arrived together (replies to a burst of appends) in one, instead of two
/// reads a frame. A larger frame is read straight into its own buffer.
const PIPE_READ_BUFFER_BYTES: usize = 64 << 10;
/// A bus connection whose first frame is empty is a pipe; any other first frame is an RPC.
const PIPE_HELLO: &[u8] = b"";

/// The leader's inputs for one entry.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub kind: u8,
    pub proto: Protocol,
    pub db: u32,
    pub now_ms: u64,
    pub seed: u64,
    pub origin: NodeId,
    pub client: u64,
}

/// A watched key as EXEC checks it.
pub struct Watch<'a> {
    pub db: u32,
    pub key: &'a [u8],
    pub version: u64,
    pub was_live: bool,
}

/// Builds an entry body, command by command.
pub struct BodyWriter {
    pub buf: Vec<u8>,
    count_at: usize,
    count: u32,
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// Where a body keeps its header's `now_ms` (after the version, kind, protocol and db).
const NOW_MS_AT: usize = 7;

/// A copy of `body` stamped with another `now_ms`: for a proposal refused before it was
/// appended and proposed again later, so that it runs at the time it is applied.
pub fn restamp(body: &[u8], now_ms: u64) -> Bytes {
    let mut copy = body.to_vec();
    copy[NOW_MS_AT..NOW_MS_AT + 8].copy_from_slice(&now_ms.to_le_bytes());
    Bytes::from(copy)
}

impl BodyWriter {
    pub fn new(header: &Header, watches: &[Watch]) -> BodyWriter {
        let mut buf = Vec::with_capacity(1024);
        buf.push(BODY_VERSION);
        buf.push(header.kind);
        buf.push(match header.proto {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        });
        put_u32(&mut buf, header.db);
        debug_assert_eq!(buf.len(), NOW_MS_AT);
        put_u64(&mut buf, header.now_ms);
        put_u64(&mut buf, header.seed);
        put_u64(&mut buf, header.origin);
        put_u64(&mut buf, header.client);
        put_u32(&mut buf, watches.len() as u32);
        for w in watches {
            put_u32(&mut buf, w.db);
            put_bytes(&mut buf, w.key);
            put_u64(&mut buf, w.version);
            buf.push(u8::from(w.was_live));
        }
        let count_at = buf.len();
        put_u32(&mut buf, 0);
        BodyWriter {
            buf,
            count_at,
            count: 0,
        }
    }

    pub fn push(&mut self, args: &[&[u8]]) {
        put_u32(&mut self.buf, args.len() as u32);
        for arg in args {
            put_bytes(&mut self.buf, arg);
        }
        self.count += 1;
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Bytes {
        self.buf[self.count_at..self.count_at + 4].copy_from_slice(&self.count.to_le_bytes());
        // To the exact size: the body lives on in the log's cache of recent entries, which
        // counts its bytes, and where the spare capacity of a buffer that started at 1 KiB was
        // most of the memory (a SET's body is about 60 bytes: 8 MiB of cached entries held
        // 100 MiB).
        self.buf.shrink_to_fit();
        Bytes::from(self.buf)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8")))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

struct Decoded<'a> {
    header: Header,
    watches: Vec<Watch<'a>>,
    /// Every command's arguments, one command after another (two allocations per entry, not
    /// one per command).
    args: Vec<&'a [u8]>,
    /// Where each command's arguments end in `args`.
    ends: Vec<usize>,
}

impl<'a> Decoded<'a> {
    fn commands(&self) -> impl Iterator<Item = &[&'a [u8]]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.args[start..end])
    }
}

fn decode(body: &[u8]) -> Option<Decoded<'_>> {
    let mut r = Reader(body);
    if r.u8()? != BODY_VERSION {
        return None;
    }
    let kind = r.u8()?;
    let proto = match r.u8()? {
        3 => Protocol::Resp3,
        _ => Protocol::Resp2,
    };
    let header = Header {
        kind,
        proto,
        db: r.u32()?,
        now_ms: r.u64()?,
        seed: r.u64()?,
        origin: r.u64()?,
        client: r.u64()?,
    };
    let mut watches = Vec::new();
    for _ in 0..r.u32()? {
        watches.push(Watch {
            db: r.u32()?,
            key: r.bytes()?,
            version: r.u64()?,
            was_live: r.u8()? != 0,
        });
    }
    // Capacities from the body's own counts, capped by what its length could hold (a count is
    // followed by at least four bytes per item).
    let count = r.u32()? as usize;
    let mut ends = Vec::with_capacity(count.min(r.0.len() / 4));
    let mut args = Vec::with_capacity((count * 3).min(r.0.len() / 4));
    for _ in 0..count {
        for _ in 0..r.u32()? {
            args.push(r.bytes()?);
        }
        ends.push(args.len());
    }
    r.0.is_empty().then_some(Decoded {
        header,
        watches,
        args,
        ends,
    })
}

/// The reply to one entry, read back as its commands' replies, in order: each the reply's bytes,
/// or `Err(CHUNK_LOCAL | CHUNK_BLOCKED)` for a command the origin runs itself or that blocked.
/// Borrows the entry's reply (no copy, no allocation per command).
pub struct Replies<'a> {
    pub aborted: bool,
    rest: &'a [u8],
}

impl<'a> Iterator for Replies<'a> {
    type Item = Result<&'a [u8], u32>;

    fn next(&mut self) -> Option<Self::Item> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len);
        if len == CHUNK_LOCAL || len == CHUNK_BLOCKED {
            self.rest = rest;
            return Some(Err(len));
        }
        let Some((chunk, rest)) = rest.split_at_checked(len as usize) else {
            self.rest = &[];
            return None;
        };
        self.rest = rest;
        Some(Ok(chunk))
    }
}

pub fn split_replies(reply: &[u8], transaction: bool) -> Replies<'_> {
    let (aborted, rest) = match (transaction, reply.split_first()) {
        (true, Some((&flag, rest))) => (flag == 1, rest),
        (true, None) => (false, reply),
        (false, _) => (false, reply),
    };
    Replies { aborted, rest }
}

/// A PUBLISH applied more than this long after its leader read the clock is not delivered.
const PUBLISH_FRESH_MS: u64 = 10_000;

/// Applies entries to the shared keyspace.
pub struct ServerMachine {
    pub shared: Arc<Shared>,
    pub node_id: NodeId,
    /// The largest `now_ms` applied (under the keyspace lock; atomic only to be shareable).
    clock_ms: AtomicU64,
    /// The keyspace as it was before anything was applied, for [`Machine::reset`].
    empty: Vec<u8>,
    /// Snapshots are serialised by a forked child (the keyspace is held only for the fork).
    fork_snapshots: bool,
}

impl ServerMachine {
    /// Wraps `shared`'s keyspace, which must still be empty (nothing applied yet).
    pub fn new(shared: Arc<Shared>, node_id: NodeId) -> ServerMachine {
        let mut empty = Vec::new();
        shared
            .keyspace
            .lock()
            .expect("keyspace lock")
            .write_snapshot(&mut empty);
        ServerMachine {
            shared,
            node_id,
            clock_ms: AtomicU64::new(0),
            empty,
            fork_snapshots: false,
        }
    }

    /// Serialises snapshots in a forked child, as Redis's BGSAVE does, instead of under the
    /// keyspace lock (Linux only; elsewhere, and if a fork fails, in place). Not for the
    /// simulator, which runs many nodes in one process.
    pub fn with_forked_snapshots(mut self) -> ServerMachine {
        self.fork_snapshots = cfg!(target_os = "linux");
        self
    }

    fn run_commands(
        &self,
        keyspace: &mut Keyspace,
        decoded: &Decoded,
        now_ms: u64,
        out: &mut Vec<u8>,
    ) {
        let header = &decoded.header;
        let transaction = header.kind == KIND_TRANSACTION;
        let mut db = header.db as usize;
        let mut writer = ReplyWriter::new(header.proto);
        writer.buf = std::mem::take(out);
        let mut lookups = engine::LookupCache::default();
        // A node catching up on its log after a partition or a restart does not replay stale
        // messages (PUBLISH's, or a script's): both are delivered through the keyspace's
        // publisher, which this gates.
        keyspace.set_publish_live(crate::server::now_ms() <= header.now_ms + PUBLISH_FRESH_MS);
        for (i, args) in decoded.commands().enumerate() {
            let chunk_at = writer.buf.len();
            writer.buf.extend_from_slice(&[0; 4]);
            let start = writer.buf.len();
            let Some(spec) = lookups.get(args[0]) else {
                // Only a newer version's entry could name a command this one does not know.
                writer.error("ERR unknown command");
                let len = (writer.buf.len() - start) as u32;
                writer.buf[chunk_at..start].copy_from_slice(&len.to_le_bytes());
                continue;
            };
            match spec.handler {
                Handler::Server(_) if spec.name == "select" => {
                    match crate::commands::parse_db(args, keyspace.databases()) {
                        Ok(index) => {
                            db = index;
                            writer.ok();
                        }
                        Err(e) => writer.error(&e.to_string()),
                    }
                }
                Handler::Server(command @ (ServerCommand::Publish | ServerCommand::Spublish))
                    if args.len() == 3 =>
                {
                    // Every node delivers to its own subscribers (the origin's count is the
                    // reply), unless the entry is old news (see `set_publish_live` above).
                    let shard = command == ServerCommand::Spublish;
                    writer.int(keyspace.publish(shard, args[1], args[2]) as i64);
                }
                Handler::Server(_) => {
                    writer.buf[chunk_at..start].copy_from_slice(&CHUNK_LOCAL.to_le_bytes());
                    continue;
                }
                Handler::Engine(_) => {
                    let mut ex = Exec {
                        ks: keyspace,
                        db,
                        now_ms,
                        seed: header.seed.wrapping_add(i as u64),
                        out: &mut writer,
                    };
                    ex.run(spec, args);
                    if spec.flags.contains(Flags::BLOCKING) && keyspace.take_would_block() {
                        writer.buf.truncate(start);
                        if transaction {
                            // Inside a transaction nothing waits: the command times out at once,
                            // with Redis's null there: BLMOVE's and BRPOPLPUSH's is a bulk
                            // string's (their reply's type), the others' an array's.
                            match spec.name {
                                "blmove" | "brpoplpush" => writer.null(),
                                _ => writer.null_array(),
                            }
                        } else {
                            if header.origin == self.node_id {
                                let mut blocked = self.shared.blocked.lock().expect("blocked lock");
                                blocked.block(keyspace, header.client, db, args, spec);
                            }
                            writer.buf[chunk_at..start]
                                .copy_from_slice(&CHUNK_BLOCKED.to_le_bytes());
                            continue;
                        }
                    }
                }
            }
            let len = (writer.buf.len() - start) as u32;
            writer.buf[chunk_at..start].copy_from_slice(&len.to_le_bytes());
        }
        keyspace.set_publish_live(false);
        *out = writer.buf;
    }
}

/// The machine's snapshot: the clock applied so far, then the keyspace.
fn write_state(keyspace: &Keyspace, clock_ms: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&clock_ms.to_le_bytes());
    keyspace.write_snapshot(out);
}

impl Machine for ServerMachine {
    fn apply(&self, body: &[u8]) -> Bytes {
        let Some(decoded) = decode(body) else {
            // Only this server writes bodies: a body it cannot read is a bug or a version skew,
            // and skipping it on every replica alike keeps them identical.
            tracing::error!("skipping a log entry this version cannot read");
            return Bytes::new();
        };
        let mut keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        let now_ms = self
            .clock_ms
            .load(Ordering::Relaxed)
            .max(decoded.header.now_ms);
        self.clock_ms.store(now_ms, Ordering::Relaxed);
        let mut out = Vec::with_capacity(16 * decoded.ends.len() + 1);
        match decoded.header.kind {
            KIND_EXPIRE => {
                let limit = decoded.header.seed as usize;
                keyspace.expire_cycle(now_ms, limit);
            }
            KIND_TRANSACTION => {
                let broken = decoded.watches.iter().any(|w| {
                    keyspace
                        .db(w.db as usize)
                        .watch_broken(w.key, w.version, w.was_live, now_ms)
                });
                out.push(u8::from(broken));
                if !broken {
                    self.run_commands(&mut keyspace, &decoded, now_ms, &mut out);
                }
            }
            _ => self.run_commands(&mut keyspace, &decoded, now_ms, &mut out),
        }
        if keyspace.has_ready() {
            let mut blocked = self.shared.blocked.lock().expect("blocked lock");
            blocked.wake(&mut keyspace, now_ms);
        }
        self.shared.publish_events(&mut keyspace);
        Bytes::from(out)
    }

    fn prefetch(&self, bodies: &mut dyn Iterator<Item = &[u8]>) {
        // Each command's first key, in the database its body starts in (a SELECT in the middle
        // of a pipeline makes the rest wasted hints, nothing worse); all the batch's keys at
        // once, so that their cache misses overlap.
        let mut lookups = engine::LookupCache::default();
        let mut keys: Vec<(usize, &[u8])> = Vec::new();
        for decoded in bodies.filter_map(decode) {
            if decoded.header.kind == KIND_EXPIRE {
                continue;
            }
            let db = decoded.header.db as usize;
            keys.extend(decoded.commands().filter_map(|args| {
                let first = lookups.get(args[0])?.first_key(args.len())?;
                Some((db, args[first]))
            }));
        }
        keys.sort_by_key(|&(db, _)| db);
        let keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        for of_db in keys.chunk_by(|a, b| a.0 == b.0) {
            if of_db[0].0 < keyspace.databases() {
                keyspace
                    .db(of_db[0].0)
                    .prefetch(of_db.iter().map(|&(_, key)| key));
            }
        }
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        let keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        write_state(&keyspace, self.clock_ms.load(Ordering::Relaxed), out);
    }

    #[cfg(target_os = "linux")]
    fn snapshot_elsewhere(&self) -> Option<io::Result<replication::Collect>> {
        if !self.fork_snapshots {
            return None;
        }
        let keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        let clock = self.clock_ms.load(Ordering::Relaxed);
        Some(crate::fork::serialise_in_child(|out| {
            write_state(&keyspace, clock, out)
        }))
    }

    fn restore(&self, data: &[u8]) -> io::Result<()> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        if data.len() < 8 {
            return Err(invalid("keyspace snapshot too short".into()));
        }
        let mut keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        keyspace.read_snapshot(&data[8..]).map_err(invalid)?;
        let clock = u64::from_le_bytes(data[..8].try_into().expect("8"));
        self.clock_ms.store(clock, Ordering::Relaxed);
        Ok(())
    }

    fn reset(&self) {
        let mut keyspace = self.shared.keyspace.lock().expect("keyspace lock");
        keyspace
            .read_snapshot(&self.empty)
            .expect("the empty keyspace's own snapshot reads back");
        self.clock_ms.store(0, Ordering::Relaxed);
    }
}

/// Raft messages over TCP: `len u32 · bytes` each way, a request then its response, on
/// connections kept open per peer; and pipes, one connection each, which start with an empty
/// frame and then carry requests one way and their replies the other, many in flight.
/// With `tls-cluster yes`, every connection is mutual TLS (`crate::tls::bus`).
pub struct BusTransport {
    idle: Mutex<BTreeMap<NodeId, Vec<BusConn>>>,
    tls: Option<Arc<crate::tls::BusTls>>,
}

/// One outgoing bus connection.
enum BusConn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl BusConn {
    /// One request, then its response.
    async fn exchange(&mut self, request: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            BusConn::Plain(stream) => {
                write_frame(stream, request).await?;
                read_frame(stream).await
            }
            BusConn::Tls(stream) => {
                write_frame(&mut **stream, request).await?;
                read_frame(&mut **stream).await
            }
        }
    }
}

impl BusTransport {
    pub fn new(tls: Option<Arc<crate::tls::BusTls>>) -> BusTransport {
        BusTransport {
            idle: Mutex::default(),
            tls,
        }
    }

    /// Connects to a peer's bus (and makes the TLS handshake), within [`BUS_CONNECT_TIMEOUT`].
    async fn connect(&self, bus: &str) -> io::Result<BusConn> {
        let connect = async {
            let stream = TcpStream::connect(bus).await?;
            stream.set_nodelay(true)?;
            let Some(tls) = &self.tls else {
                return Ok(BusConn::Plain(stream));
            };
            // The name only picks what the handshake sends; the peer's certificate need not
            // list it (`tls::ChainOnly`).
            let host = bus.rsplit_once(':').map_or(bus, |(host, _)| host);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = tls.connector.connect(name, stream).await?;
            Ok(BusConn::Tls(Box::new(stream)))
        };
        tokio::time::timeout(BUS_CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "bus connect"))?
    }
}

/// The cluster bus address of a node whose client address is `addr` (client port + 10000).
pub fn bus_addr(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) => format!("{host}:{}", u32::from(port) + 10000),
            Err(_) => addr.to_string(),
        },
        None => addr.to_string(),
    }
}

async fn write_frame(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(4 + bytes.len());
    push_frame(&mut frame, bytes);
    stream.write_all(&frame).await?;
    // Sends what a TLS session still holds (nothing for TCP).
    stream.flush().await
}

fn push_frame(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Writes what arrives on `messages` as frames, all that are waiting in one write, until it
/// closes or the connection fails.
async fn write_frames(mut stream: impl AsyncWrite + Unpin, mut messages: mpsc::Receiver<Bytes>) {
    let mut out = Vec::new();
    while let Some(first) = messages.recv().await {
        out.clear();
        push_frame(&mut out, &first);
        while let Ok(next) = messages.try_recv() {
            push_frame(&mut out, &next);
        }
        if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
    let len = stream.read_u32_le().await? as usize;
    if len > BUS_FRAME_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bus frame over the limit",
        ));
    }
    let mut bytes = vec![0; len];
    stream.read_exact(&mut bytes).await?;
    Ok(bytes)
}

impl Transport for BusTransport {
    fn call(&self, target: NodeId, addr: &str, request: Bytes) -> BoxFuture<'_, io::Result<Bytes>> {
        let bus = bus_addr(addr);
        Box::pin(async move {
            let pooled = self
                .idle
                .lock()
                .expect("bus pool lock")
                .get_mut(&target)
                .and_then(Vec::pop);
            let mut conn = match pooled {
                Some(conn) => conn,
                None => self.connect(&bus).await?,
            };
            let response = conn.exchange(&request).await?;
            let mut idle = self.idle.lock().expect("bus pool lock");
            let pool = idle.entry(target).or_default();
            if pool.len() < BUS_IDLE_CONNECTIONS_MAX {
                pool.push(conn);
            }
            Ok(Bytes::from(response))
        })
    }

    fn open_pipe(&self, _target: NodeId, addr: &str) -> BoxFuture<'_, io::Result<Option<Pipe>>> {
        let bus = bus_addr(addr);
        Box::pin(async move {
            let pipe = match self.connect(&bus).await? {
                BusConn::Plain(stream) => {
                    let (reader, writer) = stream.into_split();
                    start_pipe(reader, writer).await?
                }
                BusConn::Tls(stream) => {
                    let (reader, writer) = tokio::io::split(*stream);
                    start_pipe(reader, writer).await?
                }
            };
            Ok(Some(pipe))
        })
    }
}

/// Starts a pipe on a connected bus stream's two halves: the hello, then a task that writes
/// what is sent and one that reads the replies.
async fn start_pipe<R, W>(reader: R, mut writer: W) -> io::Result<Pipe>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut reader = tokio::io::BufReader::with_capacity(PIPE_READ_BUFFER_BYTES, reader);
    write_frame(&mut writer, PIPE_HELLO).await?;
    let (send, to_peer) = mpsc::channel(PIPE_QUEUE_MAX);
    let (from_peer, recv) = mpsc::channel(PIPE_QUEUE_MAX);
    tokio::spawn(write_frames(writer, to_peer));
    tokio::spawn(async move {
        loop {
            let frame = read_frame(&mut reader).await.map(Bytes::from);
            let failed = frame.is_err();
            if from_peer.send(frame).await.is_err() || failed {
                return;
            }
        }
    });
    Ok(Pipe { send, recv })
}

/// Serves the cluster bus: every connection is a peer's sequence of Raft RPCs. With
/// `tls-cluster`, each connection's handshake (the peer must present a certificate of the CA)
/// runs in its own task under [`crate::tls::HANDSHAKE_TIMEOUT`].
pub async fn serve_bus(
    listener: TcpListener,
    group: replication::Group,
    tls: Option<Arc<crate::tls::BusTls>>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let group = group.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return serve_bus_conn(stream, &group, TcpStream::into_split).await;
            };
            match crate::tls::handshake(&tls.acceptor, stream).await {
                Ok(stream) => serve_bus_conn(stream, &group, tokio::io::split).await,
                Err(why) => tracing::warn!("cluster bus TLS handshake with {peer} {why}"),
            }
        });
    }
}

/// One peer's bus connection: requests answered in turn, until the peer turns it into a pipe.
async fn serve_bus_conn<S, R, W>(
    mut stream: S,
    group: &replication::Group,
    split: impl FnOnce(S) -> (R, W),
) where
    S: AsyncRead + AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    while let Ok(request) = read_frame(&mut stream).await {
        if request == PIPE_HELLO {
            let (reader, writer) = split(stream);
            return serve_pipe(reader, writer, group).await;
        }
        let response = group.handle_rpc(&request).await;
        if write_frame(&mut stream, &response).await.is_err() {
            return;
        }
    }
}

/// Serves a pipe from a leader: its frames go to the group in order, the group's replies come
/// back as frames in the same order.
async fn serve_pipe(
    reader: impl AsyncRead + Unpin,
    writer: impl AsyncWrite + Unpin,
    group: &replication::Group,
) {
    let mut reader = tokio::io::BufReader::with_capacity(PIPE_READ_BUFFER_BYTES, reader);
    let (requests, from_peer) = mpsc::channel(PIPE_QUEUE_MAX);
    let (replies, to_peer) = mpsc::channel(PIPE_QUEUE_MAX);
    let read = async move {
        while let Ok(frame) = read_frame(&mut reader).await {
            if requests.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(
        read,
        group.serve_pipe(from_peer, replies),
        write_frames(writer, to_peer)
    );
}

/// Reads a number kept in `path`, or makes a random non-zero one of at most `bits` bits and
/// keeps it there.
fn read_or_create_u64(path: &std::path::Path, bits: u32) -> io::Result<u64> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a number", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let value = (crate::server::random_u64() >> (64 - bits)).max(1);
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, format!("{value}\n"))?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, path)?;
            Ok(value)
        }
        Err(e) => Err(e),
    }
}

/// Opens this node's Raft group in `dir` and its cluster bus; a node not started for a cluster
/// (`cluster-enabled no`, the default) makes itself a cluster of one and waits to lead it.
pub async fn start(shared: &Arc<Shared>, client_port: u16) -> io::Result<()> {
    let config = shared.config();
    std::fs::create_dir_all(&config.dir)?;
    let node_id = read_or_create_u64(&config.dir.join("node-id"), 48)?;
    // The collection hash seed must be the same on every replica and across restarts (SPOP
    // replays must pick the same members). A cluster of one keeps a secret one with its data;
    // the nodes of a larger cluster share the configured `cluster-secret`.
    let seed = if config.cluster_enabled {
        config.cluster_secret
    } else {
        read_or_create_u64(&config.dir.join("collection-seed"), 64)?
    };
    engine::types::set_collection_seed(seed);
    // The bus listens where clients do (the first bind address: all interfaces for 0.0.0.0,
    // as in a container), as Redis Cluster's bus does. A node names itself by that address, or
    // by 127.0.0.1 when it listens on all of them (a cluster's members are named by `cluster
    // create` instead).
    let bound = config
        .bind
        .first()
        .map(|b| b.trim_start_matches('-').to_string())
        .map(|b| if b == "*" { "0.0.0.0".to_string() } else { b })
        .unwrap_or_else(|| "127.0.0.1".into());
    let host = Some(bound.clone())
        .filter(|b| b != "0.0.0.0" && b != "::")
        .unwrap_or_else(|| "127.0.0.1".into());
    let addr = format!("{host}:{client_port}");
    let bus_port = if config.cluster_port != 0 {
        config.cluster_port
    } else {
        u16::try_from(u32::from(client_port) + 10000).unwrap_or(0)
    };
    let listener = match TcpListener::bind((bound.as_str(), bus_port)).await {
        Ok(l) => l,
        Err(e) if !config.cluster_enabled => {
            // A cluster of one needs no bus: take any port rather than refuse to start.
            tracing::warn!("cluster bus port {bus_port} unavailable ({e}); using any port");
            TcpListener::bind((bound.as_str(), 0)).await?
        }
        Err(e) => return Err(e),
    };
    // Election timeouts must differ between nodes: seed Raft's randomness per process.
    replication::runtime::seed(crate::server::random_u64());
    let mut group_config = replication::GroupConfig::new(node_id, config.dir.join("raft"));
    group_config.fsync = config.appendfsync;
    group_config.election_timeout_ms_min = config.election_timeout_ms;
    group_config.election_timeout_ms_max = config.election_timeout_ms * 2;
    group_config.heartbeat_ms = (config.election_timeout_ms / 5).max(5);
    group_config.snapshot_entries = config.snapshot_entries;
    group_config.snapshot_bytes = config.snapshot_bytes;
    let machine = Arc::new(ServerMachine::new(shared.clone(), node_id).with_forked_snapshots());
    let bus_tls = crate::tls::bus(&config)
        .map_err(io::Error::other)?
        .map(Arc::new);
    let transport = Arc::new(BusTransport::new(bus_tls.clone()));
    let group = replication::Group::open(group_config, machine, transport).await?;
    let _ = shared.group.set(group.clone());
    tokio::spawn(serve_bus(listener, group.clone(), bus_tls));
    tracing::info!("node {node_id} at {addr}, cluster bus on port {bus_port}");
    if !config.cluster_enabled {
        let created = group
            .bootstrap(BTreeMap::from([(node_id, addr)]))
            .await
            .map_err(io::Error::other)?;
        if !created {
            // A restarted cluster of one: lead again now rather than after a timeout.
            group.campaign().await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !group.is_leader() {
            if tokio::time::Instant::now() > deadline {
                return Err(io::Error::other("a cluster of one did not elect itself"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        group
            .read_barrier()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_keeps_no_spare_capacity() {
        let header = Header {
            kind: 0,
            proto: Protocol::Resp2,
            db: 0,
            now_ms: 1,
            seed: 2,
            origin: 3,
            client: 4,
        };
        let mut writer = BodyWriter::new(&header, &[]);
        writer.push(&[b"SET", b"key", b"value"]);
        let body = writer.finish();
        let decoded = decode(&body).expect("the body decodes");
        assert_eq!(decoded.ends.len(), 1);
        let buffer = Vec::from(body);
        assert_eq!(buffer.capacity(), buffer.len());
    }
}
