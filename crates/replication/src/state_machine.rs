//! openraft's state machine, wrapped around the application's [`Machine`].
//!
//! This layer owns what every replica must agree on besides the data: the last applied log id,
//! the membership, and the session table that makes a retried proposal apply once (DESIGN §2). All
//! three are stored in every snapshot, together with the machine's bytes, under one lock, so a
//! snapshot never pairs data with the wrong applied index (etcd 3.5.0–3.5.2 lost committed
//! transactions that way).

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use openraft::EntryPayload;
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use serde::{Deserialize, Serialize};

use crate::disk::{Disk, OsDisk};
use crate::log_store::{LogStore, decode_record, encode_record};
use crate::{LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};

/// The application behind the log: the server's keyspace. Called on one task at a time.
pub trait Machine: Send + Sync + 'static {
    /// Applies one committed proposal and returns its reply. Deterministic: every replica applying
    /// the same bodies in the same order from the same snapshot reaches the same state.
    fn apply(&self, body: &[u8]) -> Bytes;
    /// Called with a batch's proposals before they are applied one by one: a hint to start
    /// loading what applying them will read. Changes nothing.
    fn prefetch(&self, _bodies: &mut dyn Iterator<Item = &[u8]>) {}
    /// Appends a serialisation of the whole state to `out`.
    fn snapshot(&self, out: &mut Vec<u8>);
    /// Starts the same serialisation elsewhere, holding the state still only while it starts
    /// (a forked child's copy-on-write image of the process), and returns how to collect it.
    /// None: this machine serialises in place, with [`Machine::snapshot`].
    fn snapshot_elsewhere(&self) -> Option<io::Result<Collect>> {
        None
    }
    /// Replaces the whole state with a serialisation made by [`Machine::snapshot`].
    fn restore(&self, data: &[u8]) -> io::Result<()>;
    /// Empties the state (a group reopened in place, with no snapshot yet, replays its log from
    /// the start).
    fn reset(&self);
}

/// Collects a serialisation started by [`Machine::snapshot_elsewhere`]: blocks until it is done
/// and appends it to the bytes it is given.
pub type Collect = Box<dyn FnOnce(Vec<u8>) -> io::Result<Vec<u8>> + Send>;

/// Sessions remembered for retries; the least recently used one is forgotten past this many.
pub const SESSIONS_MAX: usize = 65536;
/// A reply kept for a retry at most; a larger one is kept empty (the retry learns that its
/// proposal was applied, not what it answered), so the table holds at most 256 MiB of replies.
pub const SESSION_REPLY_BYTES_MAX: usize = 4096;

/// The last proposal applied per session, to apply a retry once and answer it again.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
struct Sessions {
    last: HashMap<u64, (u64, Bytes, u64)>,
    /// (index that last touched it, session), to forget the oldest deterministically. One entry
    /// can touch many sessions (a batch).
    by_index: BTreeSet<(u64, u64)>,
}

impl Sessions {
    fn cached(&self, session: u64, seq: u64) -> Option<Bytes> {
        match self.last.get(&session) {
            Some((last_seq, reply, _)) if *last_seq == seq => Some(reply.clone()),
            // An older sequence number is a duplicate whose reply is gone: it must not run again.
            Some((last_seq, _, _)) if *last_seq > seq => Some(Bytes::from_static(
                b"-ERR duplicate request already applied\r\n",
            )),
            _ => None,
        }
    }

    fn record(&mut self, session: u64, seq: u64, reply: Bytes, index: u64) {
        let reply = match reply.len() <= SESSION_REPLY_BYTES_MAX {
            true => reply,
            false => Bytes::new(),
        };
        if let Some((_, _, old_index)) = self.last.insert(session, (seq, reply, index)) {
            self.by_index.remove(&(old_index, session));
        }
        self.by_index.insert((index, session));
        while self.last.len() > SESSIONS_MAX {
            let (_, oldest) = self.by_index.pop_first().expect("sessions are indexed");
            self.last.remove(&oldest);
        }
    }
}

/// What is stored beside the machine's bytes, applied atomically with them.
#[derive(Default)]
struct Applied {
    last: Option<LogId>,
    membership: StoredMembership,
    sessions: Sessions,
}

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    meta: SnapshotMeta,
    sessions: Sessions,
}

/// The state machine handed to openraft. Clones share the same state.
#[derive(Clone)]
pub struct StateMachine {
    machine: Arc<dyn Machine>,
    applied: Arc<Mutex<Applied>>,
    disk: Arc<dyn Disk>,
    /// Where the latest snapshot is kept (a file per group), and that snapshot in memory.
    path: PathBuf,
    current: Arc<Mutex<Option<(SnapshotMeta, Bytes)>>>,
    /// Test-only (the simulator's `skip-dedup` bug): apply retried proposals again.
    skip_dedup: bool,
    /// Where to report how long the last snapshot held the state still (µs).
    held_us: Arc<AtomicU64>,
    /// The log whose cache of entries follows what is applied here (`report_applied_to`).
    log: Option<LogStore>,
}

/// Snapshot bytes as stored and sent: a checksummed header record, then the machine's bytes.
pub type SnapshotData = Bytes;

impl StateMachine {
    /// Opens the state machine on the machine's disk, restoring the snapshot at `path` if there
    /// is one.
    pub fn open(path: PathBuf, machine: Arc<dyn Machine>) -> io::Result<StateMachine> {
        StateMachine::open_on(Arc::new(OsDisk), path, machine)
    }

    /// Opens the state machine on `disk`: the machine restored from the snapshot at `path`, or
    /// reset to empty when there is none (it may hold state from before a reopen).
    pub fn open_on(
        disk: Arc<dyn Disk>,
        path: PathBuf,
        machine: Arc<dyn Machine>,
    ) -> io::Result<StateMachine> {
        let sm = StateMachine {
            machine,
            applied: Arc::new(Mutex::new(Applied::default())),
            disk,
            path,
            current: Arc::new(Mutex::new(None)),
            skip_dedup: false,
            held_us: Arc::new(AtomicU64::new(0)),
            log: None,
        };
        match sm.disk.read(&sm.path) {
            Ok(bytes) => {
                let meta = sm.restore(&bytes)?;
                drop(bytes);
                // Kept mapped rather than read: a copy of the whole state in the process's
                // memory only for the rare follower that needs it.
                let mapped = sm.disk.map(&sm.path)?;
                *sm.current.lock().expect("snapshot lock") = Some((meta, mapped));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => sm.machine.reset(),
            Err(e) => return Err(e),
        }
        Ok(sm)
    }

    /// Reports how long each snapshot holds the state still to `held_us` (µs).
    pub(crate) fn report_held_to(&mut self, held_us: Arc<AtomicU64>) {
        self.held_us = held_us;
    }

    /// Tells `log` what is applied, now and after every apply or restore, so it keeps entries in
    /// memory only while someone may still read them ([`LogStore::set_readers`]).
    pub(crate) fn report_applied_to(&mut self, log: LogStore) {
        self.log = Some(log);
        let readers = Self::readers(&self.applied.lock().expect("applied lock"));
        self.report_applied(readers);
    }

    fn readers(applied: &Applied) -> (Option<u64>, bool) {
        let alone = applied.membership.membership().nodes().count() == 1;
        (applied.last.map(|l| l.index), alone)
    }

    fn report_applied(&self, (applied, alone): (Option<u64>, bool)) {
        if let Some(log) = &self.log {
            log.set_readers(applied, alone);
        }
    }

    /// Test-only, for the simulator's `skip-dedup` bug: a retried proposal is applied again.
    pub(crate) fn set_unsafe_skip_dedup(&mut self) {
        self.skip_dedup = true;
    }

    /// Restores state from snapshot bytes; returns the snapshot's meta.
    fn restore(&self, bytes: &[u8]) -> io::Result<SnapshotMeta> {
        let Some((header, len)) = decode_record::<SnapshotHeader>(bytes)? else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "snapshot header fails its checksum",
            ));
        };
        let mut applied = self.applied.lock().expect("applied lock");
        self.machine.restore(&bytes[len..])?;
        applied.last = header.meta.last_log_id;
        applied.membership = header.meta.last_membership.clone();
        applied.sessions = header.sessions;
        let readers = Self::readers(&applied);
        drop(applied);
        self.report_applied(readers);
        Ok(header.meta)
    }

    /// Replaces the snapshot file with `bytes` (written, synced, renamed into place). Off the
    /// runtime on a real disk: hundreds of megabytes and an fsync would stall every connection
    /// on the thread. In place on a simulated one, whose time is the runtime's.
    async fn write_file(&self, bytes: Bytes) -> io::Result<()> {
        if self.disk.simulated_sync_latency().is_some() {
            return self.disk.write_atomically(&self.path, &bytes);
        }
        let (disk, path) = (self.disk.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || disk.write_atomically(&path, &bytes))
            .await
            .map_err(io::Error::other)?
    }

    /// The reply this node's own apply gave the proposal (`session`, `seq`), if its session
    /// table still holds it (and held it whole: a large one is kept empty).
    pub fn session_reply(&self, session: u64, seq: u64) -> Option<Bytes> {
        let applied = self.applied.lock().expect("applied lock");
        match applied.sessions.last.get(&session) {
            Some((last_seq, reply, _)) if *last_seq == seq && !reply.is_empty() => {
                Some(reply.clone())
            }
            _ => None,
        }
    }

    /// The last applied index (0 before anything is applied).
    pub fn applied_index(&self) -> u64 {
        self.applied
            .lock()
            .expect("applied lock")
            .last
            .map_or(0, |l| l.index)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let started = std::time::Instant::now();
        // Held still only while the serialisation starts: the applied state (and, through the
        // machine, the data) under one lock, so the bytes match the meta.
        let (meta, bytes, collect) = {
            let applied = self.applied.lock().expect("applied lock");
            let meta = SnapshotMeta {
                last_log_id: applied.last,
                last_membership: applied.membership.clone(),
            };
            let mut bytes = Vec::new();
            encode_record(
                &SnapshotHeader {
                    meta: meta.clone(),
                    sessions: applied.sessions.clone(),
                },
                &mut bytes,
            )?;
            let collect = match self.machine.snapshot_elsewhere() {
                Some(Ok(collect)) => Some(collect),
                Some(Err(e)) => {
                    tracing::warn!("snapshot: cannot fork ({e}); serialising in place");
                    self.machine.snapshot(&mut bytes);
                    None
                }
                None => {
                    self.machine.snapshot(&mut bytes);
                    None
                }
            };
            (meta, bytes, collect)
        };
        let locked = started.elapsed();
        self.held_us.store(
            locked.as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let bytes = match collect {
            Some(collect) => tokio::task::spawn_blocking(move || collect(bytes))
                .await
                .map_err(io::Error::other)??,
            None => bytes,
        };
        let len = bytes.len();
        self.write_file(Bytes::from(bytes)).await?;
        let bytes = self.disk.map(&self.path)?;
        tracing::info!(
            "snapshot at {:?}: {} bytes, state locked {:?}, written in {:?}",
            meta.last_log_id,
            len,
            locked,
            started.elapsed()
        );
        *self.current.lock().expect("snapshot lock") = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: bytes,
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let applied = self.applied.lock().expect("applied lock");
        Ok((applied.last, applied.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + Send,
    {
        let mut readers = None;
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id();
            let reply = {
                let mut applied = self.applied.lock().expect("applied lock");
                let reply = match &entry.payload {
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Normal(batch) => {
                        self.machine
                            .prefetch(&mut batch.items.iter().map(|p| &p.body[..]));
                        let mut replies = Vec::with_capacity(batch.items.len());
                        for proposal in &batch.items {
                            let reply = match applied
                                .sessions
                                .cached(proposal.session, proposal.seq)
                            {
                                Some(reply) if proposal.session != 0 && !self.skip_dedup => reply,
                                _ => {
                                    let reply = self.machine.apply(&proposal.body);
                                    if proposal.session != 0 {
                                        applied.sessions.record(
                                            proposal.session,
                                            proposal.seq,
                                            reply.clone(),
                                            log_id.index,
                                        );
                                    }
                                    reply
                                }
                            };
                            replies.push(reply);
                        }
                        replies
                    }
                    EntryPayload::Membership(membership) => {
                        applied.membership =
                            StoredMembership::new(Some(log_id), membership.clone());
                        Vec::new()
                    }
                };
                applied.last = Some(log_id);
                readers = Some(Self::readers(&applied));
                reply
            };
            if let Some(responder) = responder {
                responder.send(reply);
            }
        }
        if let Some(readers) = readers {
            self.report_applied(readers);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        let restored = self.restore(&snapshot)?;
        if restored.last_log_id != meta.last_log_id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "snapshot data does not match its meta",
            ));
        }
        self.write_file(snapshot).await?;
        let mapped = self.disk.map(&self.path)?;
        *self.current.lock().expect("snapshot lock") = Some((meta.clone(), mapped));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        Ok(self
            .current
            .lock()
            .expect("snapshot lock")
            .clone()
            .map(|(meta, snapshot)| Snapshot { meta, snapshot }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_answered_from_the_table_and_a_large_reply_is_kept_empty() {
        let mut sessions = Sessions::default();
        sessions.record(1, 5, Bytes::from_static(b"small"), 10);
        let large = Bytes::from(vec![b'x'; SESSION_REPLY_BYTES_MAX + 1]);
        sessions.record(2, 7, large, 11);
        assert_eq!(sessions.cached(1, 5), Some(Bytes::from_static(b"small")));
        // Applied, and said so, but its reply is not held.
        assert_eq!(sessions.cached(2, 7), Some(Bytes::new()));
        assert_eq!(sessions.cached(1, 6), None, "a new sequence number runs");
        assert!(
            sessions.cached(1, 4).is_some(),
            "an older one never runs again"
        );
        let exactly = Bytes::from(vec![b'y'; SESSION_REPLY_BYTES_MAX]);
        sessions.record(3, 1, exactly.clone(), 12);
        assert_eq!(sessions.cached(3, 1), Some(exactly));
    }
}
