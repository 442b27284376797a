//! Whole clusters in one process, driven by one seed: the real replication (`replication::Group`
//! over openraft, the real log store) and the real apply path (`server::replica`'s
//! `ServerMachine` on the engine), with a simulated network, disk, clock and nemesis.
//!
//! - Clock: a current-thread tokio runtime with paused time; simulated time advances only when
//!   every task waits, so a run takes as long as its work, not its simulated seconds.
//! - Randomness: one seeded generator for the network, the clients and the nemesis; openraft's own
//!   (election timeouts) is seeded with the same seed, per thread (`replication::runtime`).
//! - Network: every Raft RPC goes through [`Net`], which delays, drops, duplicates and cuts links
//!   (one direction or both), and holds everything to and from a stalled node.
//! - Disk: every node's files live on a [`SimDisk`](crate::disk::SimDisk), with `appendfsync
//!   always`: a crash is a power cut that loses what was not fsynced (tearing the tail), and a
//!   full disk fails writes until it heals, when the group must reopen itself.
//! - Clients, two kinds side by side, record a history that the linearizability checker judges
//!   per key; an operation that timed out may or may not have happened.
//!   - RESP clients speak RESP over in-memory pipes to the server's real connection code
//!     (`server::conn`, see [`crate::wire`]): writes are batched into entries, proposed by the
//!     leader or forwarded to it by a follower over the simulated bus (lossy and duplicating:
//!     the connection's session makes a resend apply once), and reads pass the barrier, a
//!     follower's through the leader's read index. A write whose connection dropped is left
//!     unknown, as a Redis client would have to.
//!   - Session clients propose entries directly (the format the connections build) and retry
//!     a write whose outcome they do not know with the same session and sequence number until
//!     a deadline, so the log applies it at most once.
//! - Faults: leader isolation, random majority/minority splits, one-way cuts, lossy links, crash
//!   (power cut) and restart of one node, a power cut of the whole cluster, a full disk, a stalled
//!   node, a voter demoted to learner and promoted back, leadership transfers.
//! - A panic in any task (openraft's assertions included) fails the run.
//!
//! Not yet: disk latency spikes, and freezing a stalled node's own timers (a stall holds its
//! messages and connections, but its election and heartbeat timers keep running).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use engine::Exec;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use replication::{
    BoxFuture, FsyncPolicy, Group, GroupConfig, NodeId, Pipe, ProposeError, Transport, UnsafeBugs,
};
use resp::{Frame, Protocol, ReplyWriter};
use server::replica::{BodyWriter, Header, KIND_COMMANDS, KIND_TRANSACTION, ServerMachine};
use server::server::Shared;
use tokio::sync::mpsc;

use crate::disk::SimDisk;
use crate::history::{
    ListHistory, ListInput, ListOutput, Op, Outcome, RegisterHistory, RegisterInput,
    RegisterOutput, Value,
};
use crate::linearizability::{Verdict, check_list_append, check_register};
use crate::wire::{Failed, RespConn, SimStream};

/// What the clients do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// GET, SET, INCR (a tenth of all operations inside EVAL or FCALL) and DEL on a few string
    /// keys.
    Register,
    /// RPUSH of unique elements and LRANGE 0 -1 on a few lists (Jepsen's Elle shape).
    ListAppend,
    /// MULTI/EXEC transfers between accounts and reads of every balance: the total never changes.
    /// The RESP clients also move money between accounts of their own only when the balance
    /// covers it, checked under WATCH: those balances never go below zero either.
    Bank,
}

/// Bugs the simulator must catch, switched on one at a time by the tests that prove it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// A node that believes it leads serves reads without confirming it (no ReadIndex).
    ReadsWithoutBarrier,
    /// Any node serves reads from its own state, leader or not.
    FollowerReads,
    /// A bank transfer is two entries instead of one transaction.
    SplitTransfers,
    /// The log reports appends flushed before they are fsynced (a power cut then loses
    /// acknowledged writes).
    AckBeforeFsync,
    /// A retried proposal is applied again instead of answered from the session table.
    SkipDedup,
    /// The checked transfers read the balance without WATCHing it (a WATCH that misses a
    /// change looks like this).
    UnwatchedTransfers,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    pub workload: Workload,
    pub nodes: usize,
    pub clients: usize,
    /// Simulated time the clients run for.
    pub duration_ms: u64,
    pub faults: bool,
    pub bug: Option<Bug>,
}

impl Options {
    pub fn new(seed: u64, workload: Workload) -> Options {
        Options {
            seed,
            workload,
            nodes: 3,
            clients: 4,
            duration_ms: 8_000,
            faults: true,
            bug: None,
        }
    }
}

/// What a run did and found.
#[derive(Clone, Debug)]
pub struct Report {
    pub seed: u64,
    pub operations: usize,
    pub unknown_outcomes: usize,
    /// Commands the RESP clients' connections ran on the nodes.
    pub conn_commands: u64,
    /// Proposals a node forwarded to the leader over the bus (leadership moved under them).
    pub forwarded: u64,
    pub simulated_ms: u64,
    pub faults: BTreeMap<&'static str, u32>,
    /// A hash of every client event and the final state: equal for equal seeds.
    pub trace_hash: u64,
    /// What went wrong, if anything: a linearizability violation, a broken invariant, replicas
    /// that differ after healing.
    pub failure: Option<String>,
}

impl Report {
    /// The command that replays this run.
    pub fn replay_command(&self, options: &Options) -> String {
        let workload = match options.workload {
            Workload::Register => "register",
            Workload::ListAppend => "list-append",
            Workload::Bank => "bank",
        };
        let bug = match options.bug {
            None => String::new(),
            Some(Bug::ReadsWithoutBarrier) => " --bug reads-without-barrier".into(),
            Some(Bug::FollowerReads) => " --bug follower-reads".into(),
            Some(Bug::SplitTransfers) => " --bug split-transfers".into(),
            Some(Bug::AckBeforeFsync) => " --bug ack-before-fsync".into(),
            Some(Bug::SkipDedup) => " --bug skip-dedup".into(),
            Some(Bug::UnwatchedTransfers) => " --bug unwatched-transfers".into(),
        };
        let faults = if options.faults { "" } else { " --no-faults" };
        format!(
            "cargo run --release -p sim --bin sim -- --seed {} --workload {workload} --duration-ms {}{faults}{bug}",
            self.seed, options.duration_ms
        )
    }
}

const BASE_UNIX_MS: u64 = 1_767_225_600_000;
const KEYS: usize = 3;
const ACCOUNTS: usize = 4;
const ACCOUNT_START: i64 = 100;
/// The checked accounts start low, so that transfers often find too little to move.
const CHECKED_START: i64 = 20;
const OP_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a client keeps retrying one write before its outcome is left unknown.
const WRITE_DEADLINE: Duration = Duration::from_millis(3000);
/// How long a simulated fsync takes.
const SYNC_LATENCY: Duration = Duration::from_millis(2);

/// The simulated network between nodes.
pub(crate) struct Net {
    state: Mutex<NetState>,
}

struct NetState {
    rng: Pcg64,
    groups: BTreeMap<NodeId, Group>,
    /// Links (from, to) that deliver nothing.
    cut: BTreeSet<(NodeId, NodeId)>,
    drop_per_mille: u32,
    duplicate_per_mille: u32,
    delay_ms_max: u64,
    /// Nodes stalled until the given time: nothing reaches them or leaves them before it (a
    /// stop-the-world pause, a swapped-out process, a hung NIC). Held messages arrive late.
    stalled: BTreeMap<NodeId, tokio::time::Instant>,
}

/// A stalled node, resuming, serves the client requests that queued up this long before the
/// peer messages that did: the moment a deposed leader still believes it leads.
const STALL_PEERS_LAG: Duration = Duration::from_millis(1);

impl Net {
    /// Until when a connection end at `node` moves no bytes: while the node is stalled. None
    /// when bytes may move now.
    pub(crate) fn held_until(&self, node: NodeId) -> Option<tokio::time::Instant> {
        let now = tokio::time::Instant::now();
        let s = self.state.lock().expect("net lock");
        s.stalled.get(&node).copied().filter(|&t| t > now)
    }

    /// Waits while `id` is stalled (for a client request).
    async fn wait_unstalled(&self, id: NodeId) {
        self.wait_stall(id, Duration::ZERO).await;
    }

    /// Waits while `id` is stalled, and `lag` after.
    async fn wait_stall(&self, id: NodeId, lag: Duration) {
        loop {
            let until = self
                .state
                .lock()
                .expect("net lock")
                .stalled
                .get(&id)
                .copied();
            match until {
                Some(until) if until + lag > tokio::time::Instant::now() => {
                    tokio::time::sleep_until(until + lag).await
                }
                _ => return,
            }
        }
    }
}

struct NodeTransport {
    net: Arc<Net>,
    from: NodeId,
}

/// Messages queued each way on a simulated pipe.
const PIPE_QUEUE_MAX: usize = 64;
/// What a message a lossy link drops costs on a pipe: TCP sends it again after this.
const PIPE_RETRANSMIT: Duration = Duration::from_millis(30);

impl Net {
    /// When a message of a pipe sent now arrives, no sooner than the one before it (`after`): a
    /// random delay, plus a retransmission when a lossy link drops it.
    fn pipe_arrival(&self, after: tokio::time::Instant) -> tokio::time::Instant {
        let mut s = self.state.lock().expect("net lock");
        let mut delay = Duration::from_millis(s.rng.next_u64() % (s.delay_ms_max + 1));
        if (s.rng.next_u32() % 1000) < s.drop_per_mille {
            delay += PIPE_RETRANSMIT;
        }
        after.max(tokio::time::Instant::now() + delay)
    }

    /// Waits until a pipe's message due at `at` can arrive from `from` at `to`: after any stall.
    /// An error (the connection is gone) when the link is cut or either node is down.
    async fn pipe_deliver(
        &self,
        from: NodeId,
        to: NodeId,
        at: tokio::time::Instant,
    ) -> io::Result<()> {
        tokio::time::sleep_until(at).await;
        self.wait_stall(from, STALL_PEERS_LAG).await;
        self.wait_stall(to, STALL_PEERS_LAG).await;
        let s = self.state.lock().expect("net lock");
        if s.cut.contains(&(from, to)) {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "pipe cut"));
        }
        if !s.groups.contains_key(&to) || !s.groups.contains_key(&from) {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "node down"));
        }
        Ok(())
    }

    /// Carries a pipe's messages from `from` to `to`, in order, each delayed as
    /// [`Net::pipe_arrival`] says (two tasks: one stamps messages as they are sent, one delivers
    /// them when due). Returns the receiving end; it yields an error and closes when the
    /// connection breaks, or closes when `messages` does.
    fn pipe_link(
        self: &Arc<Self>,
        from: NodeId,
        to: NodeId,
        mut messages: mpsc::Receiver<Bytes>,
    ) -> mpsc::Receiver<io::Result<Bytes>> {
        let (stamped, mut due) = mpsc::channel::<(tokio::time::Instant, Bytes)>(PIPE_QUEUE_MAX);
        let (arrived, receiver) = mpsc::channel(PIPE_QUEUE_MAX);
        let net = self.clone();
        tokio::spawn(async move {
            let mut last = tokio::time::Instant::now();
            while let Some(message) = messages.recv().await {
                last = net.pipe_arrival(last);
                if stamped.send((last, message)).await.is_err() {
                    return;
                }
            }
        });
        let net = self.clone();
        tokio::spawn(async move {
            while let Some((at, message)) = due.recv().await {
                if let Err(e) = net.pipe_deliver(from, to, at).await {
                    let _ = arrived.send(Err(e)).await;
                    return;
                }
                if arrived.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        receiver
    }
}

impl Transport for NodeTransport {
    fn call(
        &self,
        target: NodeId,
        _addr: &str,
        request: Bytes,
    ) -> BoxFuture<'_, io::Result<Bytes>> {
        Box::pin(async move {
            let (delay_ms, lost, duplicate, group) = {
                let mut s = self.net.state.lock().expect("net lock");
                let delay_ms = s.rng.next_u64() % (s.delay_ms_max + 1);
                let lost = s.cut.contains(&(self.from, target))
                    || (s.rng.next_u32() % 1000) < s.drop_per_mille;
                let duplicate = (s.rng.next_u32() % 1000) < s.duplicate_per_mille;
                (delay_ms, lost, duplicate, s.groups.get(&target).cloned())
            };
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            self.net.wait_stall(self.from, STALL_PEERS_LAG).await;
            self.net.wait_stall(target, STALL_PEERS_LAG).await;
            let Some(group) = group else {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "node down",
                ));
            };
            if lost {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "message lost"));
            }
            let mut response = group.handle_rpc(&request).await;
            if duplicate {
                response = group.handle_rpc(&request).await;
            }
            self.net.wait_stall(target, STALL_PEERS_LAG).await;
            self.net.wait_stall(self.from, STALL_PEERS_LAG).await;
            let back_cut = self
                .net
                .state
                .lock()
                .expect("net lock")
                .cut
                .contains(&(target, self.from));
            if back_cut {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "reply lost"));
            }
            Ok(response)
        })
    }

    /// A pipe: a link each way (`Net::pipe_link`) and the target's group serving what arrives.
    fn open_pipe(&self, target: NodeId, _addr: &str) -> BoxFuture<'_, io::Result<Option<Pipe>>> {
        Box::pin(async move {
            let at = self.net.pipe_arrival(tokio::time::Instant::now());
            self.net.pipe_deliver(self.from, target, at).await?;
            let Some(group) = self
                .net
                .state
                .lock()
                .expect("net lock")
                .groups
                .get(&target)
                .cloned()
            else {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "node down",
                ));
            };
            let (send, to_follower) = mpsc::channel(PIPE_QUEUE_MAX);
            let mut at_follower = self.net.pipe_link(self.from, target, to_follower);
            let (requests, from_leader) = mpsc::channel(PIPE_QUEUE_MAX);
            let (replies, to_leader) = mpsc::channel(PIPE_QUEUE_MAX);
            let recv = self.net.pipe_link(target, self.from, to_leader);
            tokio::spawn(async move {
                let forward = async move {
                    // A broken link ends the follower's input, and so its replies.
                    while let Some(Ok(message)) = at_follower.recv().await {
                        if requests.send(message).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::join!(forward, group.serve_pipe(from_leader, replies));
            });
            Ok(Some(Pipe { send, recv }))
        })
    }
}

struct Node {
    id: NodeId,
    shared: Arc<Shared>,
    group: Group,
    /// The node's client connections: they die with it.
    conns: tokio::task::JoinSet<()>,
}

/// The running cluster: nodes up (by id) and the network.
struct Cluster {
    net: Arc<Net>,
    nodes: Mutex<BTreeMap<NodeId, Node>>,
    /// Each node's disk, which outlives the node's crashes.
    disks: BTreeMap<NodeId, SimDisk>,
    /// Times a group reopened itself after its disk failed (summed over crashed incarnations).
    reopens: std::sync::atomic::AtomicU64,
    /// Commands the nodes' connection code ran, and proposals they forwarded to the leader
    /// (summed over crashed incarnations).
    conn_commands: std::sync::atomic::AtomicU64,
    forwarded: std::sync::atomic::AtomicU64,
    options: Options,
}

fn addr(id: NodeId) -> String {
    format!("sim-node-{id}:6379")
}

impl Cluster {
    async fn open_node(&self, id: NodeId) -> Node {
        let config = server::config::Config {
            databases: 1,
            ..Default::default()
        };
        let shared = Shared::new(config, Box::new(|_| {}));
        let dir = PathBuf::from(format!("/sim/node{id}"));
        let mut group_config = GroupConfig::new(id, dir);
        group_config.disk = Arc::new(self.disks[&id].handle());
        group_config.fsync = FsyncPolicy::Always;
        group_config.reopen_interval = Duration::from_millis(300);
        group_config.unsafe_bugs = UnsafeBugs {
            ack_before_fsync: self.options.bug == Some(Bug::AckBeforeFsync),
            skip_dedup: self.options.bug == Some(Bug::SkipDedup),
            reads_without_barrier: self.options.bug == Some(Bug::ReadsWithoutBarrier),
        };
        group_config.election_timeout_ms_min = 150;
        group_config.election_timeout_ms_max = 300;
        group_config.heartbeat_ms = 30;
        group_config.snapshot_entries = 64;
        group_config.log_keep_entries = 16;
        // Odd nodes keep no committed entry in memory, even ones a few: applying and feeding
        // followers then read entries back from the simulated disk.
        group_config.log_cache_bytes = if id % 2 == 1 { 0 } else { 4096 };
        let machine = Arc::new(ServerMachine::new(shared.clone(), id));
        let transport = Arc::new(NodeTransport {
            net: self.net.clone(),
            from: id,
        });
        let group = Group::open(group_config, machine, transport)
            .await
            .expect("open a simulated node");
        let _ = shared.group.set(group.clone());
        self.net
            .state
            .lock()
            .expect("net lock")
            .groups
            .insert(id, group.clone());
        Node {
            id,
            shared,
            group,
            conns: tokio::task::JoinSet::new(),
        }
    }

    /// Opens a client connection to node `to`'s connection code: the pipe's node end runs
    /// `server::conn::serve` among `to`'s tasks.
    fn connect(&self, to: NodeId) -> io::Result<tokio::io::DuplexStream> {
        let mut nodes = self.nodes.lock().expect("nodes lock");
        let node = nodes
            .get_mut(&to)
            .ok_or_else(|| io::Error::new(io::ErrorKind::ConnectionRefused, "node down"))?;
        let (client_end, node_end) = tokio::io::duplex(crate::wire::PIPE_BYTES);
        let stream = SimStream::new(node_end, self.net.clone(), to);
        let peer = std::net::SocketAddr::from(([10, 0, 0, 0], 40_000));
        while node.conns.try_join_next().is_some() {}
        node.conns
            .spawn(server::conn::serve(node.shared.clone(), stream, peer));
        Ok(client_end)
    }

    fn node(&self, id: NodeId) -> Option<(Group, Arc<Shared>)> {
        self.nodes
            .lock()
            .expect("nodes lock")
            .get(&id)
            .map(|n| (n.group.clone(), n.shared.clone()))
    }

    fn up(&self) -> Vec<NodeId> {
        self.nodes
            .lock()
            .expect("nodes lock")
            .keys()
            .copied()
            .collect()
    }

    fn leader(&self) -> Option<NodeId> {
        let nodes = self.nodes.lock().expect("nodes lock");
        nodes.values().find(|n| n.group.is_leader()).map(|n| n.id)
    }

    /// Cuts a node's power: its memory and everything its disk had not synced are lost.
    async fn crash(&self, id: NodeId) {
        let node = self.nodes.lock().expect("nodes lock").remove(&id);
        self.net.state.lock().expect("net lock").groups.remove(&id);
        if let Some(node) = &node {
            debug(|| {
                let st = node.group.status();
                format!(
                    "power cut {id}: {} term {} last {} commit {} applied {}",
                    st.role, st.term, st.last_log_index, st.commit_index, st.applied_index
                )
            });
        }
        self.disks[&id].power_cut();
        if let Some(mut node) = node {
            node.conns.abort_all();
            use std::sync::atomic::Ordering::Relaxed;
            self.reopens.fetch_add(node.group.reopens(), Relaxed);
            let stats = &node.shared.stats;
            self.conn_commands
                .fetch_add(stats.commands_processed.load(Relaxed), Relaxed);
            self.forwarded
                .fetch_add(stats.forwarded_proposals.load(Relaxed), Relaxed);
            node.group.shutdown().await;
        }
    }

    async fn restart(&self, id: NodeId) {
        let node = self.open_node(id).await;
        self.nodes.lock().expect("nodes lock").insert(id, node);
    }

    fn heal(&self) {
        for disk in self.disks.values() {
            disk.set_failing(false);
        }
        let mut s = self.net.state.lock().expect("net lock");
        s.cut.clear();
        s.drop_per_mille = 0;
        s.duplicate_per_mille = 0;
        s.delay_ms_max = 2;
        s.stalled.clear();
    }
}

fn parse_reply(bytes: &[u8]) -> Option<Frame> {
    resp::decode_frame(bytes).ok().flatten().map(|(f, _)| f)
}

/// How one client operation ended.
enum Ended {
    Reply(Frame),
    /// Refused before it could take effect (not the leader, no leader): not in the history.
    Refused,
    /// Timed out or the node failed: it may or may not have taken effect.
    Unknown,
}

struct Client {
    id: u32,
    rng: Pcg64,
    cluster: Arc<Cluster>,
    start: tokio::time::Instant,
    hint: Option<NodeId>,
    /// Proposals so far: the sequence number of the next one, in this client's session.
    commands: u64,
    /// The last operation was refused (no leader here): wait a little before the next.
    refused: bool,
    /// Speaks RESP to the server's connection code; otherwise proposes entries directly.
    resp: bool,
    conn: Option<RespConn>,
}

impl Client {
    fn pick_node(&mut self) -> Option<NodeId> {
        let up = self.cluster.up();
        if up.is_empty() {
            return None;
        }
        match self.hint {
            Some(h) if up.contains(&h) => Some(h),
            _ => Some(up[(self.rng.next_u32() as usize) % up.len()]),
        }
    }

    /// The node to talk to: any node up under the follower-reads bug (it answers from its own
    /// state), otherwise [`Client::pick_node`]'s.
    fn node_for_reads(&mut self) -> Option<NodeId> {
        if self.cluster.options.bug != Some(Bug::FollowerReads) {
            return self.pick_node();
        }
        let up = self.cluster.up();
        if up.is_empty() {
            return None;
        }
        Some(up[(self.rng.next_u32() as usize) % up.len()])
    }

    /// Proposes commands as one entry (a transaction when `transaction`) through the node this
    /// client believes leads. An attempt whose outcome is unknown (timed out, the node failed) is
    /// retried with the same session and sequence number, so the log applies it at most once.
    async fn write(&mut self, commands: &[Vec<Vec<u8>>], transaction: bool) -> Ended {
        if self.resp {
            return self.resp_write(commands, transaction).await;
        }
        self.commands += 1;
        let (session, seq) = (u64::from(self.id) + 1, self.commands);
        let header = Header {
            kind: if transaction {
                KIND_TRANSACTION
            } else {
                KIND_COMMANDS
            },
            proto: Protocol::Resp2,
            db: 0,
            now_ms: server::server::now_ms(),
            seed: self.rng.next_u64(),
            origin: 0,
            client: u64::from(self.id),
        };
        let mut body = BodyWriter::new(&header, &[]);
        for command in commands {
            let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
            body.push(&args);
        }
        let body = body.finish();
        // Whether an earlier attempt may have been applied: then the write cannot be reported
        // refused any more, only done or unknown.
        let mut maybe_applied = false;
        // Retry until a deadline rather than a number of times: a write whose outcome stays
        // unknown costs the checker dearly, and a new leader is usually a few hundred
        // milliseconds away.
        let give_up = tokio::time::Instant::now() + WRITE_DEADLINE;
        while tokio::time::Instant::now() < give_up {
            if maybe_applied {
                tokio::time::sleep(Duration::from_millis(30 + self.rng.next_u64() % 50)).await;
            }
            let node = self
                .pick_node()
                .and_then(|id| Some((id, self.cluster.node(id)?.0)));
            let Some((id, group)) = node else {
                if maybe_applied {
                    continue;
                }
                return Ended::Refused;
            };
            let wait =
                OP_TIMEOUT.min(give_up.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, group.propose(session, seq, body.clone())).await {
                Ok(Ok(_)) if self.cluster.options.faults && self.rng.next_u32() % 100 < 3 => {
                    // The connection dropped before the reply arrived: applied, but the client
                    // cannot know, and retries.
                    maybe_applied = true;
                }
                Ok(Ok(reply)) => {
                    self.hint = Some(id);
                    return reply_frames(&reply, transaction);
                }
                Ok(Err(ProposeError::NotLeader(leader))) => {
                    self.hint = leader.map(|(l, _)| l);
                    if !maybe_applied {
                        self.refused = true;
                        return Ended::Refused;
                    }
                }
                Ok(Err(ProposeError::Stopped(_))) if !maybe_applied => {
                    self.hint = None;
                    self.refused = true;
                    return Ended::Refused;
                }
                Ok(Err(
                    ProposeError::Unavailable(_)
                    | ProposeError::Stopped(_)
                    | ProposeError::Discarded(_),
                ))
                | Err(_) => {
                    self.hint = None;
                    maybe_applied = true;
                }
            }
        }
        Ended::Unknown
    }

    /// Reads on a node: through the ReadIndex barrier, unless a bug says otherwise.
    async fn read(&mut self, args: &[&[u8]]) -> Ended {
        if self.resp {
            return self.resp_read(args).await;
        }
        let bug = self.cluster.options.bug;
        let Some(id) = self.node_for_reads() else {
            return Ended::Refused;
        };
        self.cluster.net.wait_unstalled(id).await;
        let Some((group, shared)) = self.cluster.node(id) else {
            return Ended::Refused;
        };
        match bug {
            Some(Bug::FollowerReads) => {}
            // (`Bug::ReadsWithoutBarrier` is the group's: its barrier passes on belief.)
            _ => match tokio::time::timeout(OP_TIMEOUT, group.read_barrier()).await {
                Ok(Ok(())) => self.hint = Some(id),
                Ok(Err(ProposeError::NotLeader(leader))) => {
                    self.hint = leader.map(|(l, _)| l);
                    self.refused = true;
                    return Ended::Refused;
                }
                _ => {
                    self.hint = None;
                    self.refused = true;
                    return Ended::Refused;
                }
            },
        }
        let spec = engine::lookup(args[0]).expect("a known command");
        let mut out = ReplyWriter::new(Protocol::Resp2);
        {
            let mut keyspace = shared.keyspace.lock().expect("keyspace lock");
            let mut exec = Exec {
                ks: &mut keyspace,
                db: 0,
                now_ms: server::server::now_ms(),
                seed: 0,
                out: &mut out,
            };
            exec.run(spec, args);
        }
        match parse_reply(&out.buf) {
            Some(frame) => Ended::Reply(frame),
            None => Ended::Unknown,
        }
    }
}

impl Client {
    /// Sends `commands` pipelined on this client's connection, opening one first if it has
    /// none: to the node it believes leads, or to any node up (a follower forwards for it). A
    /// connection that fails is dropped, and the next request opens another.
    async fn resp_request(
        &mut self,
        commands: &[Vec<Vec<u8>>],
        is_write: bool,
    ) -> Result<Vec<Frame>, Failed> {
        if self.conn.is_none() {
            // Under the follower-reads bug READONLY lets any node answer from its own state.
            let id = self.node_for_reads().ok_or(Failed::NotSent)?;
            let stream = self.cluster.connect(id).map_err(|_| Failed::NotSent)?;
            self.conn = Some(RespConn::new(id, stream));
        }
        let conn = self.conn.as_mut().expect("just opened");
        let result = conn.request(commands, OP_TIMEOUT).await;
        let lost = is_write && self.cluster.options.faults && self.rng.next_u32() % 100 < 1;
        if result.is_err() || lost {
            // A lost reply: the client saw the connection drop after sending.
            self.conn = None;
            return Err(Failed::NoReply);
        }
        result
    }

    /// Refusals that mean nothing was done: another node leads (MOVED, which a cluster client
    /// follows), no leader yet, a transaction refused. Sets the hint and the back-off.
    fn refusal(&mut self, frame: &Frame) -> bool {
        let Frame::Error(e) = frame else {
            return false;
        };
        if let Some(moved) = e.strip_prefix(b"MOVED ") {
            let addr = String::from_utf8_lossy(moved);
            self.hint = addr.split(' ').nth(1).and_then(crate::wire::node_of);
            self.conn = None;
        } else if !e.starts_with(b"CLUSTERDOWN")
            && !e.starts_with(b"EXECABORT")
            && !e.starts_with(b"TRYAGAIN")
        {
            return false;
        }
        self.refused = true;
        true
    }

    /// A write (a transaction when `transaction`) over RESP, as a Redis client sends it.
    async fn resp_write(&mut self, commands: &[Vec<Vec<u8>>], transaction: bool) -> Ended {
        let mut pipeline = Vec::with_capacity(commands.len() + 2);
        if transaction {
            pipeline.push(vec![b"multi".to_vec()]);
        }
        pipeline.extend(commands.iter().cloned());
        if transaction {
            pipeline.push(vec![b"exec".to_vec()]);
        }
        match self.resp_request(&pipeline, true).await {
            Err(Failed::NotSent) => Ended::Refused,
            Err(Failed::NoReply) => {
                debug(|| format!("client {} write: no reply", self.id));
                self.hint = None;
                Ended::Unknown
            }
            Ok(mut frames) => {
                let last = frames.pop().expect("a reply per command");
                debug(|| format!("client {} write: {last:?}", self.id));
                if self.refusal(&last) {
                    return Ended::Refused;
                }
                if let Frame::Error(e) = &last
                    && e.starts_with(b"ERR replication unavailable")
                {
                    // The entry may be in the log already.
                    self.conn = None;
                    return Ended::Unknown;
                }
                Ended::Reply(last)
            }
        }
    }

    /// A read over RESP. One that fails in any way is not recorded: it changed nothing.
    async fn resp_read(&mut self, args: &[&[u8]]) -> Ended {
        let follower_reads = self.cluster.options.bug == Some(Bug::FollowerReads);
        let mut pipeline = Vec::with_capacity(2);
        if follower_reads {
            pipeline.push(vec![b"readonly".to_vec()]);
        }
        pipeline.push(args.iter().map(|a| a.to_vec()).collect());
        let ended = match self.resp_request(&pipeline, false).await {
            Err(_) => Ended::Refused,
            Ok(mut frames) => {
                let last = frames.pop().expect("a reply per command");
                if matches!(last, Frame::Error(_)) {
                    self.refusal(&last);
                    self.refused = true;
                    Ended::Refused
                } else {
                    Ended::Reply(last)
                }
            }
        };
        if follower_reads {
            // The next read goes to another node.
            self.conn = None;
        }
        ended
    }
}

/// The client's view of a proposal's reply: one frame, or an array for a transaction.
fn reply_frames(reply: &Bytes, transaction: bool) -> Ended {
    let replies = server::replica::split_replies(reply, transaction);
    if transaction && replies.aborted {
        return Ended::Refused;
    }
    let frames: Vec<Frame> = replies
        .filter_map(|c| c.ok().and_then(parse_reply))
        .collect();
    if frames.len() == 1 && !transaction {
        Ended::Reply(frames.into_iter().next().expect("one"))
    } else {
        Ended::Reply(Frame::Array(frames))
    }
}

fn bulk_value(frame: &Frame) -> Option<Value> {
    match frame {
        Frame::Bulk(b) => Some(Value::from_bytes(b)),
        _ => None,
    }
}

/// Everything the clients saw, per workload.
#[derive(Default)]
struct Histories {
    register: RegisterHistory,
    list: ListHistory,
    /// Bank reads that saw a total other than the starting one: (tick, balances).
    bank_violations: Vec<String>,
    trace: Vec<String>,
    unknown: usize,
}

impl Histories {
    /// Adds a finished operation to the trace and to the history `pick` chooses.
    fn record<I: std::fmt::Debug, O: std::fmt::Debug>(
        &mut self,
        op: Op<I, O>,
        pick: impl FnOnce(&mut Histories) -> &mut crate::history::History<I, O>,
    ) {
        if matches!(op.outcome, Outcome::Unknown) {
            self.unknown += 1;
        }
        self.trace.push(format!(
            "{} {} {:?} {:?}",
            op.process, op.invoke_tick, op.input, op.outcome
        ));
        pick(self).push(op);
    }
}

fn tick(start: tokio::time::Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

async fn run_client(
    mut client: Client,
    deadline: tokio::time::Instant,
    histories: Arc<Mutex<Histories>>,
) {
    let workload = client.cluster.options.workload;
    let mut counter = 0u64;
    while tokio::time::Instant::now() < deadline {
        // Think time, and a back-off after a refusal (below, `continue`s land here): simulated
        // time only moves when every task waits, so a client that never waits would stop it.
        let pause_ms = if std::mem::take(&mut client.refused) {
            10 + client.rng.next_u64() % 20
        } else {
            1 + client.rng.next_u64() % 3
        };
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        counter += 1;
        let key_index = (client.rng.next_u32() as usize) % KEYS;
        let invoke = tick(client.start);
        let choice = client.rng.next_u32() % 100;
        match workload {
            Workload::Register => {
                let key = format!("r{key_index}").into_bytes();
                let (input, ended) = if choice < 40 {
                    (RegisterInput::Get, client.read(&[b"get", &key]).await)
                } else if choice < 70 {
                    let value = (u64::from(client.id) << 32 | counter) as i64;
                    let v = value.to_string().into_bytes();
                    let ended = client
                        .write(&[vec![b"set".to_vec(), key.clone(), v]], false)
                        .await;
                    (RegisterInput::Set(Value::from(value)), ended)
                } else if choice < 80 {
                    let ended = client
                        .write(&[vec![b"incr".to_vec(), key.clone()]], false)
                        .await;
                    (RegisterInput::Incr, ended)
                } else if choice < 85 {
                    // The same INCR inside a script: every replica runs it when it applies
                    // the entry, a retried one is applied once, like any write.
                    let script = b"return redis.call('INCR', KEYS[1])".to_vec();
                    let ended = client
                        .write(
                            &[vec![b"eval".to_vec(), script, b"1".to_vec(), key.clone()]],
                            false,
                        )
                        .await;
                    (RegisterInput::Incr, ended)
                } else if choice < 90 {
                    // And inside a function, whose library is replicated state (the log,
                    // snapshots): a client that finds no such function loads the library
                    // (an error reply changed nothing) and goes on.
                    let ended = client
                        .write(
                            &[vec![
                                b"fcall".to_vec(),
                                b"bump".to_vec(),
                                b"1".to_vec(),
                                key.clone(),
                            ]],
                            false,
                        )
                        .await;
                    if let Ended::Reply(Frame::Error(e)) = &ended
                        && e.ends_with(b"Function not found")
                    {
                        let library = b"#!lua name=sim\nredis.register_function('bump', \
                            function(keys) return redis.call('INCR', keys[1]) end)";
                        let load = vec![
                            b"function".to_vec(),
                            b"load".to_vec(),
                            b"replace".to_vec(),
                            library.to_vec(),
                        ];
                        let _ = client.write(&[load], false).await;
                    }
                    (RegisterInput::Incr, ended)
                } else {
                    let ended = client
                        .write(&[vec![b"del".to_vec(), key.clone()]], false)
                        .await;
                    (RegisterInput::Del, ended)
                };
                let complete = tick(client.start);
                let outcome = match (&input, ended) {
                    (_, Ended::Refused) => {
                        client.refused = true;
                        continue;
                    }
                    (_, Ended::Unknown) => Outcome::Unknown,
                    (RegisterInput::Get, Ended::Reply(f)) => Outcome::Returned {
                        tick: complete,
                        output: RegisterOutput::Get(bulk_value(&f)),
                    },
                    (RegisterInput::Set(_), Ended::Reply(Frame::Simple(_))) => Outcome::Returned {
                        tick: complete,
                        output: RegisterOutput::Set,
                    },
                    (RegisterInput::Incr, Ended::Reply(Frame::Integer(n))) => Outcome::Returned {
                        tick: complete,
                        output: RegisterOutput::Incr(n),
                    },
                    (RegisterInput::Del, Ended::Reply(Frame::Integer(n))) => Outcome::Returned {
                        tick: complete,
                        output: RegisterOutput::Del(n as u64),
                    },
                    // An error reply (INCR of a value past i64): it changed nothing.
                    (_, Ended::Reply(_)) => continue,
                };
                let op = Op {
                    process: client.id,
                    key,
                    invoke_tick: invoke,
                    input,
                    outcome,
                };
                histories
                    .lock()
                    .expect("histories lock")
                    .record(op, |h| &mut h.register);
            }
            Workload::ListAppend => {
                let key = format!("l{key_index}").into_bytes();
                let (input, ended) = if choice < 50 {
                    (
                        ListInput::Read,
                        client.read(&[b"lrange", &key, b"0", b"-1"]).await,
                    )
                } else {
                    let element = (u64::from(client.id) << 32 | counter) as i64;
                    let ended = client
                        .write(
                            &[vec![
                                b"rpush".to_vec(),
                                key.clone(),
                                element.to_string().into_bytes(),
                            ]],
                            false,
                        )
                        .await;
                    (ListInput::Append(Value::from(element)), ended)
                };
                let complete = tick(client.start);
                let outcome = match (&input, ended) {
                    (_, Ended::Refused) => {
                        client.refused = true;
                        continue;
                    }
                    (_, Ended::Unknown) => Outcome::Unknown,
                    (ListInput::Read, Ended::Reply(Frame::Array(items))) => Outcome::Returned {
                        tick: complete,
                        output: ListOutput::Read(items.iter().filter_map(bulk_value).collect()),
                    },
                    (ListInput::Append(_), Ended::Reply(Frame::Integer(n))) => Outcome::Returned {
                        tick: complete,
                        output: ListOutput::Append(n as u64),
                    },
                    (_, Ended::Reply(_)) => continue,
                };
                let op = Op {
                    process: client.id,
                    key,
                    invoke_tick: invoke,
                    input,
                    outcome,
                };
                histories
                    .lock()
                    .expect("histories lock")
                    .record(op, |h| &mut h.list);
            }
            Workload::Bank if client.resp && choice < 50 => {
                checked_bank_op(&mut client, choice < 15, invoke, &histories).await;
            }
            Workload::Bank => {
                if choice < 40 {
                    let mut args: Vec<Vec<u8>> = vec![b"mget".to_vec()];
                    args.extend((0..ACCOUNTS).map(|a| format!("acct{a}").into_bytes()));
                    let borrowed: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    if let Ended::Reply(Frame::Array(items)) = client.read(&borrowed).await {
                        let balances: Vec<i64> = items
                            .iter()
                            .map(|f| match f {
                                Frame::Bulk(b) => String::from_utf8_lossy(b).parse().unwrap_or(0),
                                _ => 0,
                            })
                            .collect();
                        let total: i64 = balances.iter().sum();
                        let mut h = histories.lock().expect("histories lock");
                        h.trace
                            .push(format!("{} {invoke} read {balances:?}", client.id));
                        if total != ACCOUNT_START * ACCOUNTS as i64 {
                            h.bank_violations.push(format!(
                                "tick {invoke}: balances {balances:?} total {total}"
                            ));
                        }
                    }
                } else {
                    let from = (client.rng.next_u32() as usize) % ACCOUNTS;
                    let to =
                        (from + 1 + (client.rng.next_u32() as usize) % (ACCOUNTS - 1)) % ACCOUNTS;
                    let amount = (1 + client.rng.next_u32() % 10).to_string().into_bytes();
                    let debit = vec![
                        b"decrby".to_vec(),
                        format!("acct{from}").into_bytes(),
                        amount.clone(),
                    ];
                    let credit = vec![b"incrby".to_vec(), format!("acct{to}").into_bytes(), amount];
                    let ended = if client.cluster.options.bug == Some(Bug::SplitTransfers) {
                        let first = client.write(&[debit], false).await;
                        if matches!(first, Ended::Reply(_)) {
                            client.write(&[credit], false).await
                        } else {
                            first
                        }
                    } else {
                        client.write(&[debit, credit], true).await
                    };
                    let mut h = histories.lock().expect("histories lock");
                    if matches!(ended, Ended::Unknown) {
                        h.unknown += 1;
                    }
                    h.trace.push(format!(
                        "{} {invoke} transfer {from}->{to} {}",
                        client.id,
                        matches!(ended, Ended::Reply(_))
                    ));
                }
            }
        }
    }
}

/// A read of every checked balance, or a transfer between two checked accounts made only if
/// the balance covers it: WATCH the source, GET it, then MULTI, DECRBY, INCRBY, EXEC on the
/// same connection. The total never changes and no balance goes below zero, whatever EXEC
/// decides, as long as a WATCH sees every change to its key.
async fn checked_bank_op(
    client: &mut Client,
    read: bool,
    invoke: u64,
    histories: &Arc<Mutex<Histories>>,
) {
    let name = |a: usize| format!("checked{a}").into_bytes();
    if read {
        let mut args: Vec<Vec<u8>> = vec![b"mget".to_vec()];
        args.extend((0..ACCOUNTS).map(name));
        let borrowed: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let Ended::Reply(Frame::Array(items)) = client.read(&borrowed).await else {
            return;
        };
        let balances: Vec<i64> = items
            .iter()
            .map(|f| match f {
                Frame::Bulk(b) => String::from_utf8_lossy(b).parse().unwrap_or(-1),
                _ => -1,
            })
            .collect();
        let total: i64 = balances.iter().sum();
        let mut h = histories.lock().expect("histories lock");
        h.trace
            .push(format!("{} {invoke} checked read {balances:?}", client.id));
        if total != CHECKED_START * ACCOUNTS as i64 || balances.iter().any(|&b| b < 0) {
            h.bank_violations.push(format!(
                "tick {invoke}: checked balances {balances:?} total {total}"
            ));
        }
        return;
    }
    let from = (client.rng.next_u32() as usize) % ACCOUNTS;
    let to = (from + 1 + (client.rng.next_u32() as usize) % (ACCOUNTS - 1)) % ACCOUNTS;
    let amount = i64::from(1 + client.rng.next_u32() % 10);
    let mut look = Vec::new();
    if client.cluster.options.bug != Some(Bug::UnwatchedTransfers) {
        look.push(vec![b"watch".to_vec(), name(from)]);
    }
    look.push(vec![b"get".to_vec(), name(from)]);
    let Ok(frames) = client.resp_request(&look, false).await else {
        client.refused = true;
        return;
    };
    // A WATCH can be refused (no leader to confirm the node's state is current) while the GET
    // after it, a moment later, is served: then nothing is watched, and nothing may be moved.
    let watched = frames.len() == 1 || matches!(&frames[0], Frame::Simple(ok) if ok == b"OK");
    let balance = match frames.last() {
        Some(Frame::Bulk(b)) if watched => String::from_utf8_lossy(b).parse::<i64>().ok(),
        _ => None,
    };
    // The WATCH lives on this connection only: a transfer sent on another would be unchecked.
    let connected = client.conn.is_some();
    if balance.is_none_or(|b| b < amount) || !connected {
        if let Some(refused) = frames.first().filter(|_| !watched) {
            client.refusal(refused);
            client.refused = true;
        } else if let Some(refused) = frames.last().filter(|_| balance.is_none()) {
            // No leader to confirm the read, say: nothing was done.
            client.refusal(refused);
            client.refused = true;
        }
        if client.conn.is_some() {
            let _ = client
                .resp_request(&[vec![b"unwatch".to_vec()]], false)
                .await;
        }
        histories
            .lock()
            .expect("histories lock")
            .trace
            .push(format!(
                "{} {invoke} checked transfer {from}->{to} {amount}: balance {balance:?}",
                client.id
            ));
        return;
    }
    let ended = client
        .resp_write(
            &[
                vec![
                    b"decrby".to_vec(),
                    name(from),
                    amount.to_string().into_bytes(),
                ],
                vec![
                    b"incrby".to_vec(),
                    name(to),
                    amount.to_string().into_bytes(),
                ],
            ],
            true,
        )
        .await;
    let mut h = histories.lock().expect("histories lock");
    if matches!(ended, Ended::Unknown) {
        h.unknown += 1;
    }
    let outcome = match ended {
        Ended::Reply(Frame::Array(_)) => "done",
        Ended::Reply(Frame::Null) => "aborted by WATCH",
        Ended::Reply(_) => "failed",
        Ended::Refused => "refused",
        Ended::Unknown => "unknown",
    };
    h.trace.push(format!(
        "{} {invoke} checked transfer {from}->{to} {amount}: {outcome}",
        client.id
    ));
}

async fn nemesis(
    cluster: Arc<Cluster>,
    seed: u64,
    deadline: tokio::time::Instant,
) -> BTreeMap<&'static str, u32> {
    let mut rng = Pcg64::seed_from_u64(seed ^ 0x6e65_6d65_7369_7321);
    let mut faults = BTreeMap::new();
    let ids: Vec<NodeId> = cluster.disks.keys().copied().collect();
    let mut down: Vec<NodeId> = Vec::new();
    let mut demoted: Option<NodeId> = None;
    while tokio::time::Instant::now() + Duration::from_millis(1500) < deadline {
        tokio::time::sleep(Duration::from_millis(100 + rng.next_u64() % 400)).await;
        let hold = Duration::from_millis(200 + rng.next_u64() % 1000);
        let kind = match rng.next_u32() % 11 {
            0 => {
                let Some(leader) = cluster.leader() else {
                    continue;
                };
                let mut s = cluster.net.state.lock().expect("net lock");
                for &other in &ids {
                    if other != leader {
                        s.cut.insert((leader, other));
                        s.cut.insert((other, leader));
                    }
                }
                "isolate-leader"
            }
            1 => {
                let mut shuffled = ids.clone();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, (rng.next_u64() as usize) % (i + 1));
                }
                let minority = &shuffled[..shuffled.len() / 2];
                let mut s = cluster.net.state.lock().expect("net lock");
                for &a in minority {
                    for &b in &shuffled[shuffled.len() / 2..] {
                        s.cut.insert((a, b));
                        s.cut.insert((b, a));
                    }
                }
                "partition"
            }
            2 => {
                let a = ids[(rng.next_u64() as usize) % ids.len()];
                let b = ids[(rng.next_u64() as usize) % ids.len()];
                if a == b {
                    continue;
                }
                cluster
                    .net
                    .state
                    .lock()
                    .expect("net lock")
                    .cut
                    .insert((a, b));
                "one-way-cut"
            }
            3 => {
                let mut s = cluster.net.state.lock().expect("net lock");
                s.drop_per_mille = 50 + (s.rng.next_u32() % 200);
                s.duplicate_per_mille = 50;
                s.delay_ms_max = 40;
                "lossy-links"
            }
            4 | 5 => {
                if !down.is_empty() {
                    continue;
                }
                let leader = cluster.leader();
                let id = match leader {
                    Some(leader) if rng.next_u32() % 2 == 0 => leader,
                    _ => ids[(rng.next_u64() as usize) % ids.len()],
                };
                debug(|| format!("crashing {id}"));
                cluster.crash(id).await;
                debug(|| format!("crashed {id}"));
                down.push(id);
                "crash"
            }
            6 => {
                // The whole cluster loses power at once: only what each disk synced survives.
                if !down.is_empty() {
                    continue;
                }
                for &id in &ids {
                    cluster.crash(id).await;
                    down.push(id);
                }
                "power-cut-all"
            }
            7 => {
                // One node's disk fills: its writes fail until the space comes back, and the
                // node must recover by itself (the group reopens from its files).
                let id = match cluster.leader() {
                    Some(leader) if rng.next_u32() % 2 == 0 => leader,
                    _ => ids[(rng.next_u64() as usize) % ids.len()],
                };
                cluster.disks[&id].set_failing(true);
                "disk-full"
            }
            8 => {
                let id = match cluster.leader() {
                    Some(leader) if rng.next_u32() % 2 == 0 => leader,
                    _ => ids[(rng.next_u64() as usize) % ids.len()],
                };
                let until = tokio::time::Instant::now() + hold;
                cluster
                    .net
                    .state
                    .lock()
                    .expect("net lock")
                    .stalled
                    .insert(id, until);
                "stall"
            }
            9 => {
                // Membership change under whatever else is going on: a voter is demoted to
                // learner, and made a voter again when the fault heals.
                let Some(leader) = cluster.leader() else {
                    continue;
                };
                let Some((group, _)) = cluster.node(leader) else {
                    continue;
                };
                let id = ids[(rng.next_u64() as usize) % ids.len()];
                let voters: BTreeSet<NodeId> = ids.iter().copied().filter(|&v| v != id).collect();
                let changed =
                    tokio::time::timeout(Duration::from_secs(2), group.change_voters(voters, true))
                        .await;
                if !matches!(changed, Ok(Ok(()))) {
                    continue;
                }
                demoted = Some(id);
                "demote-voter"
            }
            _ => {
                let Some(leader) = cluster.leader() else {
                    continue;
                };
                let to = ids[(rng.next_u64() as usize) % ids.len()];
                if to == leader || !cluster.up().contains(&to) {
                    continue;
                }
                if let Some((group, _)) = cluster.node(leader) {
                    let _ = group.transfer_leader(to).await;
                }
                "transfer-leader"
            }
        };
        *faults.entry(kind).or_insert(0) += 1;
        debug(|| format!("{:?} fault {kind}", tokio::time::Instant::now()));
        tokio::time::sleep(hold).await;
        cluster.heal();
        debug(|| "healed".into());
        for id in down.drain(..) {
            debug(|| format!("restarting {id}"));
            cluster.restart(id).await;
            debug(|| format!("restarted {id}"));
            *faults.entry("restart").or_insert(0) += 1;
        }
        if demoted.take().is_some() {
            restore_voters(&cluster, &ids).await;
            *faults.entry("promote-voter").or_insert(0) += 1;
        }
    }
    faults
}

/// Makes every node a voter again, retrying through whichever node leads.
async fn restore_voters(cluster: &Cluster, ids: &[NodeId]) {
    let voters: BTreeSet<NodeId> = ids.iter().copied().collect();
    // Bounded: if no leader emerges, the convergence check after the run reports it.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < give_up {
        let leader = cluster.leader().and_then(|l| cluster.node(l));
        if let Some((group, _)) = leader {
            if group.status().voters.len() == ids.len() {
                return;
            }
            let change = group.change_voters(voters.clone(), true);
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(2), change).await {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

thread_local! {
    /// Panics raised on this thread (the run's runtime thread) since the run began: a panic in
    /// any node task, openraft's own assertions included, fails the run.
    static PANICS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records every panic on the thread it happens on, then reports it as usual.
fn capture_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = match info.payload().downcast_ref::<&str>() {
                Some(s) => s.to_string(),
                None => info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default(),
            };
            let at = info.location().map(|l| l.to_string()).unwrap_or_default();
            PANICS.with(|p| p.borrow_mut().push(format!("{message} (at {at})")));
            previous(info);
        }));
    });
    PANICS.with(|p| p.borrow_mut().clear());
}

/// Runs one seeded simulation and checks it.
pub fn run(options: &Options) -> Report {
    capture_panics();
    // tokio's own randomness (which branch of a `select!` is polled first) comes from the seed
    // too: with paused time and one thread, the seed then fixes the whole schedule.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .rng_seed(tokio::runtime::RngSeed::from_bytes(
            &options.seed.to_le_bytes(),
        ))
        .build()
        .expect("a runtime");
    let mut report = runtime.block_on(run_async(options.clone()));
    if let Some(panic) = PANICS.with(|p| p.borrow().first().cloned()) {
        report.failure = Some(format!("a node task panicked: {panic}"));
    }
    report
}

async fn run_async(options: Options) -> Report {
    replication::runtime::seed_this_thread(options.seed);
    server::server::simulate_this_thread(BASE_UNIX_MS, options.seed);
    let _ = engine::types::set_collection_seed(0x5eed);
    let ids: Vec<NodeId> = (1..=options.nodes as u64).collect();
    let disks = ids
        .iter()
        .map(|&id| {
            let seed = options.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (id, SimDisk::new(seed, SYNC_LATENCY))
        })
        .collect();
    let net = Arc::new(Net {
        state: Mutex::new(NetState {
            rng: Pcg64::seed_from_u64(options.seed),
            groups: BTreeMap::new(),
            cut: BTreeSet::new(),
            drop_per_mille: 0,
            duplicate_per_mille: 0,
            delay_ms_max: 2,
            stalled: BTreeMap::new(),
        }),
    });
    let cluster = Arc::new(Cluster {
        net,
        nodes: Mutex::new(BTreeMap::new()),
        disks,
        reopens: Default::default(),
        conn_commands: Default::default(),
        forwarded: Default::default(),
        options: options.clone(),
    });
    for &id in &ids {
        cluster.restart(id).await;
    }
    let members: BTreeMap<NodeId, String> = ids.iter().map(|&id| (id, addr(id))).collect();
    let (first, _) = cluster.node(ids[0]).expect("node 1 is up");
    first.bootstrap(members).await.expect("bootstrap");
    let start = tokio::time::Instant::now();
    // Wait for a leader, then fund the bank's accounts.
    while cluster.leader().is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if options.workload == Workload::Bank {
        let mut setup = Client {
            id: 999,
            rng: Pcg64::seed_from_u64(options.seed),
            cluster: cluster.clone(),
            start,
            hint: cluster.leader(),
            commands: 0,
            refused: false,
            resp: false,
            conn: None,
        };
        let mut mset = vec![b"mset".to_vec()];
        for a in 0..ACCOUNTS {
            mset.push(format!("acct{a}").into_bytes());
            mset.push(ACCOUNT_START.to_string().into_bytes());
            mset.push(format!("checked{a}").into_bytes());
            mset.push(CHECKED_START.to_string().into_bytes());
        }
        while !matches!(setup.write(&[mset.clone()], false).await, Ended::Reply(_)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(options.duration_ms);
    let histories = Arc::new(Mutex::new(Histories::default()));
    let mut tasks = Vec::new();
    for c in 0..options.clients as u32 {
        let client = Client {
            id: c,
            rng: Pcg64::seed_from_u64(options.seed.wrapping_mul(31).wrapping_add(u64::from(c))),
            cluster: cluster.clone(),
            start,
            hint: None,
            commands: 0,
            refused: false,
            // Every other client speaks RESP to the connection code.
            resp: c % 2 == 1,
            conn: None,
        };
        tasks.push(tokio::spawn(run_client(
            client,
            deadline,
            histories.clone(),
        )));
    }
    let faults = if options.faults {
        nemesis(cluster.clone(), options.seed, deadline).await
    } else {
        BTreeMap::new()
    };
    for task in tasks {
        task.await.expect("a client task");
    }
    debug(|| "clients done".into());
    // Heal, let everyone catch up, and compare the replicas.
    cluster.heal();
    for id in ids.iter().copied() {
        if cluster.node(id).is_none() {
            cluster.restart(id).await;
        }
    }
    let mut failure = None;
    let settle = tokio::time::Instant::now() + Duration::from_secs(30);
    let digests = loop {
        let leader = cluster.leader();
        let states: Vec<(u64, u64, String)> = ids
            .iter()
            .map(|&id| {
                let (group, shared) = cluster.node(id).expect("every node is up");
                let status = group.status();
                let digest = server::info::digest(&shared.keyspace.lock().expect("keyspace lock"));
                (status.applied_index, status.last_log_index, digest)
            })
            .collect();
        let applied: BTreeSet<u64> = states.iter().map(|s| s.0).collect();
        if leader.is_some() && applied.len() == 1 && states.iter().all(|s| s.0 == s.1) {
            break states.into_iter().map(|s| s.2).collect::<Vec<_>>();
        }
        if tokio::time::Instant::now() > settle {
            failure = Some(format!(
                "replicas did not converge after healing: {states:?}"
            ));
            break Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if failure.is_none() && digests.windows(2).any(|w| w[0] != w[1]) {
        failure = Some(format!(
            "replicas differ at the same applied index: {digests:?}"
        ));
    }
    let simulated_ms = start.elapsed().as_millis() as u64;
    for id in ids.iter().copied() {
        cluster.crash(id).await;
    }
    let mut faults = faults;
    let reopens = cluster.reopens.load(std::sync::atomic::Ordering::Relaxed) as u32;
    if reopens > 0 {
        faults.insert("recovered-from-disk-failure", reopens);
    }
    let histories = std::mem::take(&mut *histories.lock().expect("histories lock"));
    if failure.is_none() {
        failure = match options.workload {
            Workload::Register => verdict_failure(check_register(&histories.register)),
            Workload::ListAppend => verdict_failure(check_list_append(&histories.list)),
            Workload::Bank => histories
                .bank_violations
                .first()
                .map(|v| format!("bank invariant broken: {v}")),
        };
    }
    if std::env::var_os("SIM_TRACE").is_some() {
        for line in &histories.trace {
            eprintln!("trace: {line}");
        }
    }
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    for line in &histories.trace {
        hasher.write(line.as_bytes());
    }
    for digest in &digests {
        hasher.write(digest.as_bytes());
    }
    Report {
        seed: options.seed,
        operations: histories.trace.len(),
        unknown_outcomes: histories.unknown,
        conn_commands: cluster
            .conn_commands
            .load(std::sync::atomic::Ordering::Relaxed),
        forwarded: cluster.forwarded.load(std::sync::atomic::Ordering::Relaxed),
        simulated_ms,
        faults,
        trace_hash: hasher.finish(),
        failure,
    }
}

/// Progress on stderr when `SIM_DEBUG` is set (to find where a seed hangs).
fn debug(line: impl FnOnce() -> String) {
    if std::env::var_os("SIM_DEBUG").is_some() {
        eprintln!("sim: {}", line());
    }
}

fn verdict_failure(verdict: Verdict) -> Option<String> {
    match verdict {
        Verdict::Linearizable => None,
        // A search that ran out is not a violation, but it is not a pass either: say so.
        other => Some(other.to_string()),
    }
}
