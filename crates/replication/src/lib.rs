//! One Raft group: the only crate that knows openraft (DESIGN §1).
//!
//! A [`Group`] takes opaque proposals (bytes the server encodes), makes them durable in the log
//! ([`log_store`]), replicates them through a [`Transport`], and applies them in order to a
//! [`Machine`] (the server's keyspace), returning the machine's reply. It also answers the read
//! barrier (ReadIndex) that makes local reads linearizable, and the membership and leadership
//! changes the admin commands ask for.
//!
//! What is deliberately absent: sockets, files other than the group's own directory, and any
//! knowledge of what a proposal means. Network and machine are injected, so the simulator can run
//! the same code.
//!
//! Leader ids are openraft's "advanced" mode (`leader_id_adv`: several candidates may hold the same
//! term, ordered by node id). It is fixed before anything is on disk and must never change for an
//! existing data directory (DESIGN §1).

pub mod disk;
pub mod log_store;
pub mod network;
pub mod runtime;
pub mod state_machine;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ClientWriteError, Fatal, LinearizableReadError, RaftError};
use openraft::type_config::alias;
use openraft::{BasicNode, Config, Raft, ReadPolicy, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};

pub use disk::{Disk, DiskFile, HintFile, OsDisk};
pub use log_store::{FsyncPolicy, LogStore};
pub use network::{BoxFuture, Pipe, Transport};
pub use state_machine::{Collect, Machine};

use network::Network;
use state_machine::StateMachine;

pub type NodeId = u64;

/// One proposal: the server's encoded command batch, with the client session and sequence number
/// that make a retry apply once (0 = no session).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Proposal {
    pub session: u64,
    pub seq: u64,
    pub body: Bytes,
}

impl std::fmt::Display for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proposal(session {}, seq {}, {} bytes)",
            self.session,
            self.seq,
            self.body.len()
        )
    }
}

/// One log entry's payload: the proposals that arrived together, from any number of callers,
/// applied in order (DESIGN §7: writes cross to the Raft machinery once per batch, not once per
/// command). Each keeps its own session, so dedup works per proposal.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Batch {
    pub items: Vec<Proposal>,
}

impl std::fmt::Display for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "batch of {} proposals", self.items.len())
    }
}

openraft::declare_raft_types!(
    /// Redraft's choice of openraft types: node ids are u64, a node's address is its client
    /// address (the cluster bus is that port + 10000), entries carry [`Batch`]es of proposals and
    /// replies are each proposal's reply bytes, in order.
    pub TypeConfig:
        D = Batch,
        R = Vec<Bytes>,
        NodeId = NodeId,
        Node = BasicNode,
        AsyncRuntime = runtime::SeededTokio,
);

pub type CommittedLeaderId = alias::CommittedLeaderIdOf<TypeConfig>;
pub type Entry = alias::EntryOf<TypeConfig>;
pub type Vote = alias::VoteOf<TypeConfig>;
pub type LogId = alias::LogIdOf<TypeConfig>;
pub(crate) type SnapshotMeta = alias::SnapshotMetaOf<TypeConfig>;
pub(crate) type StoredMembership = alias::StoredMembershipOf<TypeConfig>;
pub(crate) type Snapshot = alias::SnapshotOf<TypeConfig, state_machine::SnapshotData>;

/// How a group is set up on this node.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub node_id: NodeId,
    /// The group's own directory: log segments, vote and snapshot.
    pub dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub election_timeout_ms_min: u64,
    pub election_timeout_ms_max: u64,
    pub heartbeat_ms: u64,
    /// A snapshot is taken after this many entries since the last one.
    pub snapshot_entries: u64,
    /// A snapshot is also taken when the log's segments hold more than this many bytes (entries
    /// are batches of any size, so a count alone does not bound the disk). Checked after each
    /// batch, at most once a second; keep it above a segment's size (64 MiB).
    pub snapshot_bytes: u64,
    /// Entries kept behind a snapshot, so a peer a little behind is caught up from the log
    /// rather than sent the whole snapshot.
    pub log_keep_entries: u64,
    /// Record bytes of committed entries the log keeps decoded in memory; older ones are read
    /// back from the segments when wanted (see `log_store`).
    pub log_cache_bytes: u64,
    /// Where the files go: the machine's disk, or the simulator's.
    pub disk: Arc<dyn Disk>,
    /// After a storage failure the group reopens itself from its files, retrying this often.
    pub reopen_interval: Duration,
    /// Batches being committed at once; proposals arriving meanwhile queue up and form the next
    /// batch, so a busier group makes bigger batches, not more of them.
    pub batches_in_flight: usize,
    /// Deliberate bugs for the simulator to catch; never set outside it.
    #[doc(hidden)]
    pub unsafe_bugs: UnsafeBugs,
}

/// Deliberate bugs, one switch each, that the simulator's tests turn on to prove it catches them.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnsafeBugs {
    /// Report appends flushed before they are fsynced.
    pub ack_before_fsync: bool,
    /// Apply a retried proposal again instead of answering it from the session table.
    pub skip_dedup: bool,
    /// Pass the read barrier on a node that believes it leads, without confirming it with a
    /// quorum (no ReadIndex): a deposed leader then serves stale reads.
    pub reads_without_barrier: bool,
}

impl GroupConfig {
    pub fn new(node_id: NodeId, dir: PathBuf) -> GroupConfig {
        GroupConfig {
            node_id,
            dir,
            fsync: FsyncPolicy::Always,
            election_timeout_ms_min: 500,
            election_timeout_ms_max: 1000,
            heartbeat_ms: 100,
            snapshot_entries: 100_000,
            snapshot_bytes: 256 << 20,
            log_keep_entries: 1000,
            log_cache_bytes: log_store::CACHE_BYTES_DEFAULT,
            disk: Arc::new(OsDisk),
            reopen_interval: Duration::from_secs(1),
            batches_in_flight: 2,
            unsafe_bugs: UnsafeBugs::default(),
        }
    }
}

/// Why a proposal or a read barrier did not go through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposeError {
    /// This node is not the leader; the leader, if known, is at this client address.
    NotLeader(Option<(NodeId, String)>),
    /// The group cannot serve (storage failed, shutting down). Whether a proposal was applied is
    /// unknown.
    Unavailable(String),
    /// The group had already stopped (its storage failed; it reopens itself) when the proposal
    /// came: it was not appended, and may be retried.
    Stopped(String),
    /// Appended while this node led, then dropped from its log by a new leader (the leader, if
    /// known, is named): cut from the log, or covered by the new leader's snapshot, in which
    /// case it may have been applied. Only a proposal with a session may be sent again (its
    /// session applies it once).
    Discarded(Option<(NodeId, String)>),
}

impl std::fmt::Display for ProposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProposeError::NotLeader(Some((id, addr))) => {
                write!(f, "not the leader; the leader is node {id} at {addr}")
            }
            ProposeError::NotLeader(None) => write!(f, "no leader is known"),
            ProposeError::Unavailable(why) => write!(f, "unavailable: {why}"),
            ProposeError::Stopped(why) => write!(f, "stopped, nothing was written: {why}"),
            ProposeError::Discarded(_) => write!(
                f,
                "the leader changed before the write was committed; whether it was applied is unknown"
            ),
        }
    }
}

/// What INFO replication shows.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub node_id: NodeId,
    pub role: &'static str,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub last_log_index: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub snapshot_index: u64,
    pub voters: Vec<(NodeId, String)>,
    pub learners: Vec<(NodeId, String)>,
    /// Each peer's matched index, as the leader sees it.
    pub matched: Vec<(NodeId, u64)>,
    /// How long since each peer last acknowledged a heartbeat or an append, as the leader sees
    /// it (None: not since this node became leader). Empty on other nodes.
    pub silent_for: Vec<(NodeId, Option<Duration>)>,
    pub log_entries: usize,
    pub log_bytes: u64,
    /// Record bytes of the entries the log keeps decoded in memory.
    pub log_cached_bytes: u64,
    pub fsync: &'static str,
    /// Times the group reopened itself after a storage failure.
    pub reopens: u64,
    /// How long the last snapshot held the state still (µs): what writes waited for.
    pub snapshot_held_us: u64,
}

/// This node's role, kept current by a task that follows openraft's metrics, so the hot path
/// reads two atomics instead of cloning the metrics.
#[derive(Default)]
struct Role {
    leader: AtomicBool,
    /// Leader of a group whose only member is itself: reads need no barrier.
    sole: AtomicBool,
    leader_addr: std::sync::Mutex<Option<(NodeId, String)>>,
    /// Whether this node belongs to a group yet (a node not yet added elects no one).
    joined: AtomicBool,
    /// Woken whenever the fields above may have changed.
    changed: tokio::sync::Notify,
    /// How long the last snapshot held the state still, in microseconds (the fork alone when
    /// the machine serialises in a child).
    snapshot_held_us: Arc<AtomicU64>,
}

/// A Raft group on this node. Clones share it.
#[derive(Clone)]
pub struct Group {
    inner: Arc<Inner>,
}

/// One incarnation of the group's Raft node and log. A storage failure stops it, and the group
/// replaces it with a new one opened from the same files.
#[derive(Clone)]
struct Instance {
    raft: Raft<TypeConfig, StateMachine>,
    log: LogStore,
    /// A handle on the state machine `raft` runs (clones share its state).
    sm: StateMachine,
}

struct Inner {
    config: GroupConfig,
    machine: Arc<dyn Machine>,
    transport: Arc<dyn Transport>,
    role: Arc<Role>,
    current: std::sync::Mutex<Instance>,
    /// Set by [`Group::shutdown`]: nothing is reopened after it.
    stopped: AtomicBool,
    /// How many times the group reopened itself after a storage failure.
    reopens: AtomicU64,
    /// Proposals waiting to join a batch.
    queue: tokio::sync::mpsc::Sender<Pending>,
    /// Proposals waiting to be forwarded to the leader together.
    forwards: tokio::sync::mpsc::Sender<Forward>,
    /// Read barriers waiting for the next read index asked of the leader.
    reads: std::sync::Mutex<ReadRounds>,
    /// When a snapshot was last asked for because the log grew past `snapshot_bytes`.
    snapshot_asked: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Inner {
    /// Asks `instance` for a snapshot when its log holds more than `snapshot_bytes` (at most
    /// once a second).
    fn snapshot_if_large(&self, instance: &Instance) {
        if instance.log.size().1 <= self.config.snapshot_bytes {
            return;
        }
        let now = tokio::time::Instant::now();
        {
            let mut asked = self.snapshot_asked.lock().expect("snapshot lock");
            if asked.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
                return;
            }
            *asked = Some(now);
        }
        let raft = instance.raft.clone();
        tokio::spawn(async move {
            let _ = raft.trigger().snapshot().await;
        });
    }
}

/// A proposal waiting for its batch, and where its reply goes.
struct Pending {
    proposal: Proposal,
    /// The reply and the index of the entry that carried it.
    reply: tokio::sync::oneshot::Sender<network::ProposeResult>,
}

/// Forwarded batches in flight at once; proposals arriving meanwhile wait and go together.
const FORWARDS_IN_FLIGHT: usize = 4;
/// A round of read index requests started by one barrier serves later ones too: it keeps
/// trying at least this long.
const FORWARD_WAIT_MIN: Duration = Duration::from_secs(1);

/// A proposal waiting to be forwarded to the leader.
struct Forward {
    proposal: Proposal,
    deadline: tokio::time::Instant,
    reply: tokio::sync::oneshot::Sender<Result<Bytes, ProposeError>>,
}

/// Read barriers waiting for a read index from the leader: those that arrived since the last
/// request went out, and whether one is out.
#[derive(Default)]
struct ReadRounds {
    next: Option<tokio::sync::watch::Sender<Option<Result<(), ProposeError>>>>,
    in_flight: bool,
}

/// Forms batches of proposals to forward to the leader, `FORWARDS_IN_FLIGHT` at a time, like
/// [`batcher`] does for proposals appended here. Ends when the group is dropped.
async fn forwarder(group: Weak<Inner>, mut queue: tokio::sync::mpsc::Receiver<Forward>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(FORWARDS_IN_FLIGHT));
    let mut carried: Option<Forward> = None;
    loop {
        let Some((batch, permit)) =
            next_batch(&mut queue, &mut carried, &permits, |f| &f.proposal).await
        else {
            return;
        };
        let Some(inner) = group.upgrade() else { return };
        let group = Group { inner };
        tokio::spawn(async move {
            let deadline = batch.iter().map(|f| f.deadline).max().expect("not empty");
            let (items, waiters): (Vec<Proposal>, Vec<_>) =
                batch.into_iter().map(|f| (f.proposal, f.reply)).unzip();
            let result = group.forward_batch(items, deadline).await;
            drop(permit);
            match result {
                Ok(replies) => {
                    for (waiter, reply) in waiters.into_iter().zip(replies) {
                        let _ = waiter.send(reply);
                    }
                }
                Err(e) => {
                    for waiter in waiters {
                        let _ = waiter.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

/// Queues the item `make` builds around a reply channel, and waits for the reply.
async fn queue_and_wait<T, R>(
    queue: &tokio::sync::mpsc::Sender<T>,
    make: impl FnOnce(tokio::sync::oneshot::Sender<Result<R, ProposeError>>) -> T,
) -> Result<R, ProposeError> {
    let stopped = || ProposeError::Unavailable("the group stopped".into());
    let (reply, replied) = tokio::sync::oneshot::channel();
    if queue.send(make(reply)).await.is_err() {
        return Err(stopped());
    }
    replied.await.unwrap_or_else(|_| Err(stopped()))
}

/// How long a forwarded proposal waits before it tries a leader again after a refusal or a
/// broken connection (when no news of a new leader comes first).
const FORWARD_RETRY: Duration = Duration::from_millis(20);

/// Proposals queued for batching; `propose` waits for room past this many.
const PROPOSE_QUEUE_MAX: usize = 8192;
/// A batch closes at this many proposals or bytes (a bus frame must carry it).
const BATCH_ITEMS_MAX: usize = 1024;
const BATCH_BYTES_MAX: usize = 16 << 20;

/// The next batch from `queue` (after `carried`, the item the last batch had no room for) and
/// a permit to send it. Waiting for the permit is what makes batches: everything queued
/// meanwhile joins this one, up to `BATCH_ITEMS_MAX` items or `BATCH_BYTES_MAX` bytes of
/// bodies. None once the queue is closed.
async fn next_batch<T>(
    queue: &mut tokio::sync::mpsc::Receiver<T>,
    carried: &mut Option<T>,
    permits: &Arc<tokio::sync::Semaphore>,
    proposal: impl Fn(&T) -> &Proposal,
) -> Option<(Vec<T>, tokio::sync::OwnedSemaphorePermit)> {
    let first = match carried.take() {
        Some(item) => item,
        None => queue.recv().await?,
    };
    let permit = permits
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    // Let every task that is ready run first: the connections whose requests arrived with this
    // one propose them too, and they join this batch rather than make the next (Redis likewise
    // writes its AOF once per pass of its event loop, after serving every ready client).
    tokio::task::yield_now().await;
    let mut bytes = proposal(&first).body.len();
    let mut batch = vec![first];
    while batch.len() < BATCH_ITEMS_MAX {
        let Ok(next) = queue.try_recv() else { break };
        bytes += proposal(&next).body.len();
        if bytes > BATCH_BYTES_MAX {
            *carried = Some(next);
            break;
        }
        batch.push(next);
    }
    Some((batch, permit))
}

/// Forms batches from queued proposals and commits them, `batches_in_flight` at a time. Ends
/// when the group is dropped.
async fn batcher(
    group: Weak<Inner>,
    mut queue: tokio::sync::mpsc::Receiver<Pending>,
    in_flight: usize,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let mut carried: Option<Pending> = None;
    loop {
        let Some((batch, permit)) =
            next_batch(&mut queue, &mut carried, &permits, |p| &p.proposal).await
        else {
            return;
        };
        let Some(inner) = group.upgrade() else { return };
        let instance = inner.current.lock().expect("group lock").clone();
        inner.snapshot_if_large(&instance);
        drop(inner);
        let raft = instance.raft;
        // A Raft that already stopped appends nothing: say so, so that clients know the batch
        // was not written (one that stops while the batch is in flight leaves it unknown).
        if let Err(fatal) = &raft.metrics().borrow_watched().running_state {
            let error = ProposeError::Stopped(fatal.to_string());
            for pending in batch {
                let _ = pending.reply.send(Err(error.clone()));
            }
            drop(permit);
            continue;
        }
        tokio::spawn(async move {
            let (items, waiters): (Vec<Proposal>, Vec<_>) =
                batch.into_iter().map(|p| (p.proposal, p.reply)).unzip();
            let result = raft.client_write(Batch { items }).await;
            drop(permit);
            match result {
                Ok(response) => {
                    let index = response.log_id.index;
                    let mut replies = response.data.into_iter();
                    for waiter in waiters {
                        let reply = replies.next().map(|reply| (reply, index)).ok_or_else(|| {
                            ProposeError::Unavailable("a batch came back short".into())
                        });
                        let _ = waiter.send(reply);
                    }
                }
                Err(e) => {
                    let error = write_error(e);
                    for waiter in waiters {
                        let _ = waiter.send(Err(error.clone()));
                    }
                }
            }
        });
    }
}

fn forward<E>(
    e: RaftError<TypeConfig, E>,
    leader_of: impl Fn(&E) -> Option<ProposeError>,
) -> ProposeError
where
    E: std::error::Error,
{
    match &e {
        RaftError::APIError(api) => {
            leader_of(api).unwrap_or_else(|| ProposeError::Unavailable(e.to_string()))
        }
        RaftError::Fatal(_) => ProposeError::Unavailable(e.to_string()),
    }
}

fn not_leader(id: Option<NodeId>, node: Option<&BasicNode>) -> ProposeError {
    ProposeError::NotLeader(id.zip(node.map(|n| n.addr.clone())))
}

/// The error of a write (a proposal or a membership change): a redirect, or unavailable.
fn write_error(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> ProposeError {
    forward(e, |api| match api {
        ClientWriteError::ForwardToLeader(f) => {
            Some(not_leader(f.leader_id, f.leader_node.as_ref()))
        }
        ClientWriteError::LogEntryDiscarded(f) => Some(ProposeError::Discarded(
            f.leader_id
                .zip(f.leader_node.as_ref().map(|n| n.addr.clone())),
        )),
        _ => None,
    })
}

impl Group {
    /// Opens the group's storage in `config.dir` and starts its Raft node. A new node is not a
    /// member of anything until [`Group::bootstrap`] or a leader adds it.
    ///
    /// If the storage fails later (a full or failing disk), the Raft node stops; the group then
    /// reopens itself from its files every `config.reopen_interval` until that succeeds, exactly
    /// as a restart of the process would, and serves again.
    pub async fn open(
        config: GroupConfig,
        machine: Arc<dyn Machine>,
        transport: Arc<dyn Transport>,
    ) -> io::Result<Group> {
        let role = Arc::new(Role::default());
        let instance = start(&config, &machine, &transport, &role).await?;
        let (queue, proposals) = tokio::sync::mpsc::channel(PROPOSE_QUEUE_MAX);
        let (forwards, to_forward) = tokio::sync::mpsc::channel(PROPOSE_QUEUE_MAX);
        let in_flight = config.batches_in_flight;
        let inner = Arc::new(Inner {
            config,
            machine,
            transport,
            role,
            current: std::sync::Mutex::new(instance),
            stopped: AtomicBool::new(false),
            reopens: AtomicU64::new(0),
            queue,
            forwards,
            reads: Default::default(),
            snapshot_asked: std::sync::Mutex::new(None),
        });
        tokio::spawn(supervise(Arc::downgrade(&inner)));
        tokio::spawn(batcher(Arc::downgrade(&inner), proposals, in_flight));
        tokio::spawn(forwarder(Arc::downgrade(&inner), to_forward));
        Ok(Group { inner })
    }

    fn instance(&self) -> Instance {
        self.inner.current.lock().expect("group lock").clone()
    }

    fn raft(&self) -> Raft<TypeConfig, StateMachine> {
        self.inner.current.lock().expect("group lock").raft.clone()
    }

    /// How many times the group reopened itself after its storage failed.
    pub fn reopens(&self) -> u64 {
        self.inner.reopens.load(Ordering::Relaxed)
    }

    /// Starts an election now instead of after a timeout (a restarted cluster of one).
    pub async fn campaign(&self) {
        let _ = self.raft().trigger().elect(false).await;
    }

    /// fsyncs the log now, whatever `appendfsync` says (for a clean shutdown).
    pub fn sync_log(&self) -> io::Result<()> {
        let log = self.inner.current.lock().expect("group lock").log.clone();
        log.sync_all()
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.config.node_id
    }

    /// Makes this node the first member of a new group with `members` as voters, unless it is
    /// already part of one (then nothing changes: a restart must not re-initialise).
    pub async fn bootstrap(&self, members: BTreeMap<NodeId, String>) -> Result<bool, String> {
        if self
            .raft()
            .is_initialized()
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(false);
        }
        let members: BTreeMap<NodeId, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode { addr }))
            .collect();
        self.raft()
            .initialize(members)
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Appends a proposal (in a batch with whatever else is proposed meanwhile), waits until it
    /// is committed and applied here, and returns the reply.
    pub async fn propose(
        &self,
        session: u64,
        seq: u64,
        body: Bytes,
    ) -> Result<Bytes, ProposeError> {
        self.propose_at(session, seq, body)
            .await
            .map(|(reply, _)| reply)
    }

    /// [`Group::propose`], with the index of the entry that carried the proposal.
    async fn propose_at(
        &self,
        session: u64,
        seq: u64,
        body: Bytes,
    ) -> Result<(Bytes, u64), ProposeError> {
        let proposal = Proposal { session, seq, body };
        queue_and_wait(&self.inner.queue, |reply| Pending { proposal, reply }).await
    }

    /// Returns once this node's state machine holds every write acknowledged before the call
    /// (ReadIndex: leadership confirmed by a quorum, then the applied index caught up). Calls that
    /// arrive together share one round of heartbeats.
    pub async fn read_barrier(&self) -> Result<(), ProposeError> {
        self.read_barrier_with(false).await
    }

    /// [`Group::read_barrier`], or with `lease` a leader lease instead of a round of heartbeats:
    /// cheaper, and correct only while clocks drift less than the lease assumes.
    pub async fn read_barrier_with(&self, lease: bool) -> Result<(), ProposeError> {
        self.read_index(lease).await.map(|_| ())
    }

    /// The read barrier, returning the read index: the last index a read must see.
    async fn read_index(&self, lease: bool) -> Result<u64, ProposeError> {
        if self.inner.config.unsafe_bugs.reads_without_barrier {
            return match self.is_leader() {
                true => Ok(0),
                false => Err(ProposeError::NotLeader(self.leader())),
            };
        }
        let policy = if lease {
            ReadPolicy::LeaseRead
        } else {
            ReadPolicy::ReadIndex
        };
        match self.raft().ensure_linearizable(policy).await {
            Ok(read) => Ok(read.index()),
            Err(e) => Err(forward(e, |api| match api {
                LinearizableReadError::ForwardToLeader(f) => {
                    Some(not_leader(f.leader_id, f.leader_node.as_ref()))
                }
                _ => None,
            })),
        }
    }

    /// Whether this node leads a group whose only member is itself: then reads need no barrier.
    pub fn is_sole_leader(&self) -> bool {
        self.inner.role.sole.load(Ordering::Relaxed)
    }

    pub fn is_leader(&self) -> bool {
        self.inner.role.leader.load(Ordering::Relaxed)
    }

    /// Whether this node belongs to a group yet (was bootstrapped or added).
    pub fn is_member(&self) -> bool {
        self.inner.role.joined.load(Ordering::Relaxed)
    }

    /// The leader's id and client address, if known.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        self.inner
            .role
            .leader_addr
            .lock()
            .expect("role lock")
            .clone()
    }

    /// Waits until this node leads, or knows of a leader other than `not` (a leader this node
    /// could not reach), or `deadline` passes; returns the leader then known. A node that
    /// belongs to no group yet does not wait. For a request that arrives during an election:
    /// it waits for the outcome instead of failing.
    pub async fn wait_for_leader(
        &self,
        not: Option<NodeId>,
        deadline: tokio::time::Instant,
    ) -> Option<(NodeId, String)> {
        let role = &self.inner.role;
        loop {
            let changed = role.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change between the two is not missed.
            changed.as_mut().enable();
            let leader = self.leader();
            if self.is_leader()
                || leader.as_ref().is_some_and(|(id, _)| Some(*id) != not)
                || !self.is_member()
            {
                return leader;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.leader();
            }
        }
    }

    /// Waits until some node is leader and this node has applied everything it knew to be
    /// committed when it started (used before serving after a restart).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        self.raft()
            .wait_for_recovery(Some(timeout))
            .await
            .map_err(|e| e.to_string())?;
        self.raft()
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Serves one encoded request from a peer: a Raft RPC, or a proposal forwarded to this node
    /// as the leader (proposed here, never forwarded on).
    pub async fn handle_rpc(&self, request: &[u8]) -> Bytes {
        match network::decode_request(request) {
            Ok(network::Request::ProposeBatch(items)) => {
                let result = match self.is_leader() {
                    true => Ok(self.propose_all(&items).await),
                    false => Err(ProposeError::NotLeader(self.leader())),
                };
                network::encode(&network::Response::ProposeBatch(result))
            }
            Ok(network::Request::ReadIndex { lease }) => {
                let result = self.read_index(lease).await;
                network::encode(&network::Response::ReadIndex(result))
            }
            Ok(request) => network::serve(&self.raft(), request).await,
            Err(response) => response,
        }
    }

    /// Puts a proposal through the leader when this node does not lead (it was refused here
    /// before it was appended, so nothing of it is in this node's log): sends it to the leader
    /// over the bus, follows the leader as it moves, and proposes it here if leadership comes
    /// here, until `deadline`. `session` (non-zero) and `seq` make every attempt the same
    /// proposal: one whose reply was lost (the leader died, the connection broke) is sent again
    /// and applies once. The reply comes once this node has applied the entry too (or at the
    /// deadline), so what runs here next sees the write.
    pub async fn forward(
        &self,
        session: u64,
        seq: u64,
        body: Bytes,
        deadline: tokio::time::Instant,
    ) -> Result<Bytes, ProposeError> {
        debug_assert!(session != 0, "a forwarded proposal needs a session");
        let proposal = Proposal { session, seq, body };
        let leader_s = queue_and_wait(&self.inner.forwards, |reply| Forward {
            proposal,
            deadline,
            reply,
        })
        .await?;
        // This node has applied the entry too: answer with its own reply, which differs from
        // the leader's only where applying has a node-local effect (PUBLISH counts this node's
        // subscribers, as Redis Cluster's PUBLISH counts the receiving node's).
        // Looked up under the group lock rather than cloning the handle (its path is a
        // PathBuf: an allocation per forward).
        let own = (self.inner.current.lock().expect("group lock").sm).session_reply(session, seq);
        Ok(own.unwrap_or(leader_s))
    }

    /// Forwards proposals queued together as one request (see [`Group::forward`]); each gets
    /// its own reply. A refusal of any for another leader sends them all again: the sessions
    /// answer those already applied from the session table.
    async fn forward_batch(
        &self,
        items: Vec<Proposal>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<Result<Bytes, ProposeError>>, ProposeError> {
        let request = network::encode(&network::Request::ProposeBatch(items.clone()));
        // Each proposal's reply and the index of the last entry, or the refusal of any for
        // another leader (the whole batch then goes again).
        let settle = |results: Vec<network::ProposeResult>| {
            let refused = results
                .iter()
                .find(|r| matches!(r, Err(ProposeError::NotLeader(_))));
            if let Some(Err(e)) = refused {
                return Err(e.clone());
            }
            let index = results.iter().flatten().map(|(_, i)| *i).max().unwrap_or(0);
            let replies = results.into_iter().map(|r| r.map(|(reply, _)| reply));
            Ok((replies.collect(), index))
        };
        let local = || async { settle(self.propose_all(&items).await).map(|(replies, _)| replies) };
        self.through_leader(deadline, request, local, |response| match response {
            network::Response::ProposeBatch(results) => Some(results.and_then(settle)),
            _ => None,
        })
        .await
    }

    /// Proposes each of `items` here, in order, each into whatever batch it joins.
    async fn propose_all(&self, items: &[Proposal]) -> Vec<network::ProposeResult> {
        futures_util::future::join_all(items.iter().map(|p| async {
            match self.propose_at(p.session, p.seq, p.body.clone()).await {
                // Forwarded proposals have sessions: the forwarder sends them to the next
                // leader, which applies each once.
                Err(ProposeError::Discarded(leader)) => Err(ProposeError::NotLeader(leader)),
                other => other,
            }
        }))
        .await
    }

    /// A read barrier on a node that does not lead (etcd's follower read): the leader confirms
    /// its leadership and names the index it has applied, and this node waits until it has
    /// applied as much. Until `deadline`, following the leader as it moves.
    pub async fn read_barrier_through_leader(
        &self,
        lease: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), ProposeError> {
        // Barriers share a round: one asked while a round is in flight waits for the next,
        // whose read index is asked after it arrived.
        let mut done = {
            let mut reads = self.inner.reads.lock().expect("reads lock");
            let round = reads
                .next
                .get_or_insert_with(|| tokio::sync::watch::channel(None).0);
            let done = round.subscribe();
            if !reads.in_flight {
                reads.in_flight = true;
                tokio::spawn(self.clone().read_rounds(lease, deadline));
            }
            done
        };
        match tokio::time::timeout_at(deadline, done.wait_for(Option::is_some)).await {
            Ok(Ok(result)) => result.clone().expect("waited for a result"),
            Ok(Err(_)) => Err(ProposeError::Unavailable("the group stopped".into())),
            Err(_) => Err(ProposeError::NotLeader(self.leader())),
        }
    }

    /// Runs rounds of read index requests while barriers wait for one.
    async fn read_rounds(self, lease: bool, deadline: tokio::time::Instant) {
        loop {
            let round = {
                let mut reads = self.inner.reads.lock().expect("reads lock");
                match reads.next.take() {
                    Some(round) => round,
                    None => {
                        reads.in_flight = false;
                        return;
                    }
                }
            };
            let request = network::encode(&network::Request::ReadIndex { lease });
            let result = self
                .through_leader(
                    deadline.max(tokio::time::Instant::now() + FORWARD_WAIT_MIN),
                    request,
                    || self.read_barrier_with(lease),
                    |response| match response {
                        network::Response::ReadIndex(result) => {
                            Some(result.map(|index| ((), index)))
                        }
                        _ => None,
                    },
                )
                .await;
            let _ = round.send(Some(result));
        }
    }

    /// Runs a request at the leader: `local` here while this node leads, else `request` sent to
    /// the leader, whose answer (`unpack`ed: the result and the index it had applied) counts
    /// once this node has applied as far (or at the deadline). A refusal for another leader is
    /// followed; a broken connection is retried (the request must be safe to repeat); the last
    /// refusal is returned at the deadline.
    async fn through_leader<'a, T, F>(
        &'a self,
        deadline: tokio::time::Instant,
        request: Bytes,
        local: impl Fn() -> F,
        unpack: impl Fn(network::Response) -> Option<Result<(T, u64), ProposeError>>,
    ) -> Result<T, ProposeError>
    where
        F: std::future::Future<Output = Result<T, ProposeError>> + 'a,
    {
        let mut last = ProposeError::NotLeader(self.leader());
        let mut target = self.leader();
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(last);
            }
            let pause = deadline.min(now + FORWARD_RETRY);
            if self.is_leader() {
                match local().await {
                    Err(ProposeError::NotLeader(leader)) => {
                        last = ProposeError::NotLeader(leader.clone());
                        // Refused while leading: no quorum heard from lately. Ask again soon.
                        if self.is_leader() {
                            tokio::time::sleep_until(pause).await;
                        }
                        target = leader.or_else(|| self.leader());
                        continue;
                    }
                    other => return other,
                }
            }
            let Some((id, addr)) = target.clone().filter(|(id, _)| *id != self.node_id()) else {
                target = self.wait_for_leader(None, pause).await;
                let usable = target.as_ref().is_some_and(|(id, _)| *id != self.node_id());
                if !usable && !self.is_leader() {
                    // Named leader of itself before it took office, or nobody: let time pass.
                    tokio::time::sleep_until(pause).await;
                }
                continue;
            };
            let call = self.inner.transport.call(id, &addr, request.clone());
            let response = match tokio::time::timeout_at(deadline, call).await {
                Ok(Ok(bytes)) => postcard::from_bytes::<network::Response>(&bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no reply in time")),
            };
            let response = match response.map(&unpack) {
                Ok(Some(result)) => result,
                Ok(None) => {
                    return Err(ProposeError::Unavailable("mismatched bus response".into()));
                }
                Err(e) => {
                    last = match e.kind() {
                        // Refused before anything was sent: nothing was done there.
                        io::ErrorKind::ConnectionRefused => {
                            ProposeError::NotLeader(Some((id, addr.clone())))
                        }
                        // The leader may have acted on it: only the same request is sent again.
                        _ => ProposeError::Unavailable(format!(
                            "the leader at {addr} did not answer ({e}); whether the write was applied is unknown"
                        )),
                    };
                    target = self.wait_for_leader(Some(id), pause).await;
                    continue;
                }
            };
            match response {
                Ok((result, index)) => {
                    let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let caught_up = self
                        .raft()
                        .wait(Some(wait))
                        .applied_index_at_least(Some(index), "caught up with the leader")
                        .await;
                    return match caught_up {
                        Ok(_) => Ok(result),
                        // A write the leader applied stands; a read here would be stale.
                        Err(_) => Err(ProposeError::Unavailable(format!(
                            "this node is behind the leader (index {index} not applied in time)"
                        ))),
                    };
                }
                Err(ProposeError::NotLeader(leader)) => {
                    // Refused there too, before anything was done. Follow its hint, or wait.
                    last = ProposeError::NotLeader(leader.clone());
                    target = match leader {
                        Some(leader) if leader.0 != id => Some(leader),
                        _ => self.wait_for_leader(Some(id), pause).await,
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Serves the far end of a leader's [`Pipe`]: `requests` are the messages it sent, in order;
    /// their replies go to `replies`, in the same order (bounded: a peer that stops reading
    /// stops the pipe). Returns when `requests` ends, `replies` closes, or an append is refused.
    pub async fn serve_pipe(
        &self,
        requests: tokio::sync::mpsc::Receiver<Bytes>,
        replies: tokio::sync::mpsc::Sender<Bytes>,
    ) {
        network::serve_pipe(self.raft(), requests, replies).await
    }

    /// Adds a node as a learner and waits until it has caught up.
    pub async fn add_learner(&self, id: NodeId, addr: String) -> Result<(), ProposeError> {
        self.raft()
            .add_learner(id, BasicNode { addr }, true)
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    /// Makes `voters` the voting members; voters left out become learners or leave the group.
    /// openraft runs the change through joint consensus and refuses a second change while one
    /// is in flight.
    pub async fn change_voters(
        &self,
        voters: BTreeSet<NodeId>,
        keep_removed_as_learners: bool,
    ) -> Result<(), ProposeError> {
        self.raft()
            .change_membership(voters, keep_removed_as_learners)
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    /// Asks the leader to hand leadership to `to`.
    pub async fn transfer_leader(&self, to: NodeId) -> Result<(), ProposeError> {
        self.raft()
            .trigger()
            .transfer_leader(to)
            .await
            .map_err(|e| ProposeError::Unavailable(e.to_string()))
    }

    /// Takes a snapshot now (and lets the log be purged behind it).
    pub async fn snapshot(&self) -> Result<(), ProposeError> {
        self.raft()
            .trigger()
            .snapshot()
            .await
            .map_err(|e| ProposeError::Unavailable(e.to_string()))
    }

    pub fn status(&self) -> Status {
        let Instance { raft, log, .. } = self.instance();
        let m = raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership();
        let voter_ids: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut voters = Vec::new();
        let mut learners = Vec::new();
        for (id, node) in membership.nodes() {
            if voter_ids.contains(id) {
                voters.push((*id, node.addr.clone()));
            } else {
                learners.push((*id, node.addr.clone()));
            }
        }
        let (log_entries, log_bytes) = log.size();
        Status {
            node_id: self.inner.config.node_id,
            role: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            },
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            commit_index: m.cluster_committed.map_or(0, |l| l.index),
            applied_index: m.last_applied.map_or(0, |l| l.index),
            snapshot_index: m.snapshot.map_or(0, |l| l.index),
            voters,
            learners,
            matched: m
                .replication
                .iter()
                .flatten()
                .map(|(id, matched)| (*id, matched.map_or(0, |l| l.index)))
                .collect(),
            silent_for: m
                .heartbeat
                .iter()
                .flatten()
                .map(|(id, at)| (*id, at.as_ref().map(|at| openraft::Instant::elapsed(&**at))))
                .collect(),
            log_entries,
            log_bytes,
            log_cached_bytes: log.cached_bytes(),
            fsync: log.policy().name(),
            reopens: self.reopens(),
            snapshot_held_us: self.inner.role.snapshot_held_us.load(Ordering::Relaxed),
        }
    }

    /// Stops the Raft node for good (no reopening after this).
    pub async fn shutdown(&self) {
        let raft = {
            let current = self.inner.current.lock().expect("group lock");
            self.inner.stopped.store(true, Ordering::SeqCst);
            current.raft.clone()
        };
        let _ = raft.shutdown().await;
    }
}

/// Opens the log and the state machine from `config.dir` and starts a Raft node on them.
async fn start(
    config: &GroupConfig,
    machine: &Arc<dyn Machine>,
    transport: &Arc<dyn Transport>,
    role: &Arc<Role>,
) -> io::Result<Instance> {
    let raft_config = Config {
        cluster_name: "redraft".into(),
        election_timeout_min: config.election_timeout_ms_min,
        election_timeout_max: config.election_timeout_ms_max,
        heartbeat_interval: config.heartbeat_ms,
        install_snapshot_timeout: 10_000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_entries),
        max_in_snapshot_log_to_keep: config.log_keep_entries,
        enable_pre_vote: Some(true),
        // A restarted leader must win an election again. Restoring it in place (openraft's
        // default) serves ReadIndex reads at its stale committed index, because the committed
        // index is only a hint here (not fsynced): the simulator's power cuts caught exactly that
        // (`sim --seed 9 --workload list-append --duration-ms 3000`, a read missing three
        // acknowledged appends).
        enable_leader_restore: Some(false),
        ..Config::default()
    };
    let raft_config = Arc::new(
        raft_config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
    );
    let log = LogStore::open_on(config.disk.clone(), &config.dir.join("log"), config.fsync)?;
    log.set_cache_bytes_max(config.log_cache_bytes);
    if config.unsafe_bugs.ack_before_fsync {
        log.set_unsafe_ack_before_fsync();
    }
    let mut sm = StateMachine::open_on(
        config.disk.clone(),
        config.dir.join("snapshot"),
        machine.clone(),
    )?;
    if config.unsafe_bugs.skip_dedup {
        sm.set_unsafe_skip_dedup();
    }
    sm.report_held_to(role.snapshot_held_us.clone());
    sm.report_applied_to(log.clone());
    let handle = sm.clone();
    let raft = Raft::new(
        config.node_id,
        raft_config,
        Network {
            transport: transport.clone(),
            reachable: Default::default(),
        },
        log.clone(),
        sm,
    )
    .await
    .map_err(|e| io::Error::other(e.to_string()))?;
    let mut metrics = raft.metrics();
    let weak = Arc::downgrade(role);
    tokio::spawn(async move {
        loop {
            let Some(role) = weak.upgrade() else { return };
            let changed = {
                let m = metrics.borrow_watched();
                let membership = m.membership_config.membership();
                let leader = m.state == ServerState::Leader;
                let voters = membership.voter_ids().count();
                let learners = membership.learner_ids().count();
                let leader_addr = m.current_leader.and_then(|id| {
                    m.membership_config
                        .get_node(&id)
                        .map(|n| (id, n.addr.clone()))
                });
                role.sole
                    .store(leader && voters == 1 && learners == 0, Ordering::SeqCst);
                let joined = voters + learners > 0;
                let mut changed = role.leader.swap(leader, Ordering::SeqCst) != leader;
                changed |= role.joined.swap(joined, Ordering::SeqCst) != joined;
                let mut addr = role.leader_addr.lock().expect("role lock");
                changed |= *addr != leader_addr;
                *addr = leader_addr;
                changed
            };
            // Most updates (every applied batch) change none of it: waiters hear of the rest.
            if changed {
                role.changed.notify_waiters();
            }
            drop(role);
            if metrics.changed().await.is_err() {
                return;
            }
        }
    });
    Ok(Instance {
        raft,
        log,
        sm: handle,
    })
}

/// Follows the running instance; when it stops on a storage error, reopens the group from its
/// files (as a restart would: the machine restored from the snapshot, the log replayed), retrying
/// until the disk works again. Ends when the group is shut down or dropped.
async fn supervise(group: Weak<Inner>) {
    loop {
        let mut metrics = match group.upgrade() {
            Some(inner) => inner.current.lock().expect("group lock").raft.metrics(),
            None => return,
        };
        let error = loop {
            if let Err(e) = &metrics.borrow_watched().running_state {
                break e.clone();
            }
            if metrics.changed().await.is_err() {
                return;
            }
        };
        drop(metrics);
        match error {
            Fatal::StorageError(e) => {
                tracing::error!(
                    "the raft group's storage failed ({e}); reopening it from its files"
                )
            }
            Fatal::Stopped => return,
            // A panic is a bug, not the disk: reopening would hide it.
            Fatal::Panicked => {
                tracing::error!("the raft group panicked; it stays stopped");
                return;
            }
        }
        loop {
            let interval = match group.upgrade() {
                Some(inner) if !inner.stopped.load(Ordering::SeqCst) => {
                    inner.config.reopen_interval
                }
                _ => return,
            };
            tokio::time::sleep(interval).await;
            let Some(inner) = group.upgrade() else { return };
            if inner.stopped.load(Ordering::SeqCst) {
                return;
            }
            match start(&inner.config, &inner.machine, &inner.transport, &inner.role).await {
                Ok(instance) => {
                    let replaced = {
                        let mut current = inner.current.lock().expect("group lock");
                        if inner.stopped.load(Ordering::SeqCst) {
                            false
                        } else {
                            *current = instance.clone();
                            true
                        }
                    };
                    if !replaced {
                        let _ = instance.raft.shutdown().await;
                        return;
                    }
                    inner.reopens.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("the raft group reopened after a storage failure");
                    // A sole voter need not wait out an election timeout to lead again.
                    let sole = {
                        let m = instance.raft.metrics().borrow_watched().clone();
                        let membership = m.membership_config.membership();
                        membership.voter_ids().count() == 1
                            && membership.voter_ids().any(|id| id == inner.config.node_id)
                    };
                    if sole {
                        let _ = instance.raft.trigger().elect(false).await;
                    }
                    break;
                }
                Err(e) => tracing::warn!("reopening the raft group failed: {e}; retrying"),
            }
        }
    }
}
