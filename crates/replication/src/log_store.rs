//! The Raft log on disk: append-only segment files of checksummed records, and a small state file
//! for the vote.
//!
//! A record is `[len: u32 LE][crc32c(payload): u32 LE][payload]`, the payload an entry encoded with
//! postcard. Recovery reads every segment in order and cuts the last one at the first record that
//! is short or fails its checksum (a torn tail: the write was in flight when the machine died, so
//! it was never acknowledged), or at the zeros the disk writes ahead of the last record (so that
//! an append's fsync does not also grow the file; a closed segment is cut to its last record). A
//! bad record anywhere else is corruption and refuses to start.
//!
//! Durability is group commit: `append` writes the records and hands the flush callback to one
//! sync thread, which fsyncs once for every append that arrived while it was busy and only then
//! reports them flushed, so openraft acknowledges nothing that is not on disk (with `always`). A
//! group of one fsyncs on the appending thread instead, as Redis fsyncs its AOF on its event loop
//! (see [`LogStore::append`]). The vote is written to a new file, fsynced and renamed over the old
//! one before `save_vote` returns.
//!
//! The newest entries are also kept in memory, as decoded entries: every uncommitted or
//! unapplied one, and applied ones up to [`CACHE_BYTES_DEFAULT`] of records (Redis keeps a 1 MB
//! replication backlog for the same purpose), none in a group of one, which has no follower to
//! read them. Followers and the state machine are fed from there. An older
//! entry, wanted by a follower that fell behind, is read back from its segment. Without the
//! bound, the log kept behind a snapshot (a thousand batches of up to thousands of writes each)
//! and the log between snapshots (up to `snapshot-bytes`) would all sit in memory beside the
//! data.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::OptionalSend;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use serde::{Deserialize, Serialize};

use crate::disk::{Disk, DiskFile, HintFile, OsDisk};
use crate::{Entry, LogId, TypeConfig, Vote};

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES_MAX: u64 = 64 << 20;
/// The largest record accepted on recovery (a bigger length field is corruption, not an entry).
pub const RECORD_BYTES_MAX: usize = 1 << 30;
const RECORD_HEADER_BYTES: usize = 8;
/// Records of committed entries kept decoded in memory (see the module documentation).
pub const CACHE_BYTES_DEFAULT: u64 = 8 << 20;
/// At most this many bytes of records are read back from the segments for one replication
/// message (`limited_get_log_entries`): a follower far behind is caught up in steps, and the
/// log's lock is never held for a long read.
const READ_BACK_BYTES_MAX: u64 = 4 << 20;

/// When appended entries reach the disk: Redis's `appendfsync`, with the same three values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fsync before an append is reported flushed (and so before a write is acknowledged).
    Always,
    /// Reported flushed once written; fsynced once a second.
    EverySec,
    /// Reported flushed once written; the kernel decides when.
    No,
}

impl FsyncPolicy {
    pub fn parse(name: &str) -> Option<FsyncPolicy> {
        match name.to_ascii_lowercase().as_str() {
            "always" => Some(FsyncPolicy::Always),
            "everysec" => Some(FsyncPolicy::EverySec),
            "no" => Some(FsyncPolicy::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

/// What the state file holds: everything about the log that is not an entry.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
struct StateFile {
    vote: Option<Vote>,
    purged: Option<LogId>,
}

struct Segment {
    first_index: u64,
    path: PathBuf,
    file: Arc<dyn DiskFile>,
    bytes: u64,
}

/// Where an entry's record is.
#[derive(Clone, Copy, Debug)]
struct Place {
    log_id: LogId,
    /// Byte offset of the record in its segment.
    offset: u64,
    /// The record's length, header included.
    len: u32,
}

/// Who still reads committed entries: the state machine until it has applied them, and the
/// followers (none in a group of one).
#[derive(Clone, Copy, Debug)]
struct Readers {
    applied: Option<u64>,
    alone: bool,
}

struct Inner {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    state: StateFile,
    committed: Option<LogId>,
    /// Where `committed` is written, opened at the first write.
    committed_file: Option<Arc<dyn HintFile>>,
    /// Every entry after the last purge, in index order.
    places: VecDeque<Place>,
    /// The last `cached.len()` entries of `places`, decoded.
    cached: VecDeque<Entry>,
    /// Record bytes of the entries in `cached`.
    cached_bytes: u64,
    /// Committed entries are dropped from `cached` (oldest first) past this many bytes.
    cache_bytes_max: u64,
    /// What the state machine reported last (`set_readers`); `None` when nothing reports, and
    /// then a committed entry is as good as applied.
    readers: Option<Readers>,
    segments: Vec<Segment>,
    scratch: Vec<u8>,
    policy: FsyncPolicy,
    sync: Syncer,
    /// Test-only (the simulator's `ack-before-fsync` bug): report appends flushed before fsync.
    ack_before_fsync: bool,
    /// Set when a write or fsync failed: nothing more is accepted until restart, because the file
    /// may now hold a record the log does not know about.
    failed: Option<String>,
}

/// A handle to the log; clones share it (openraft wants one for writing and some for reading).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

enum SyncRequest {
    Flush(Arc<dyn DiskFile>, IOFlushed<TypeConfig>),
    Tick(Arc<dyn DiskFile>),
}

/// Where flushes go: a dedicated thread for a real disk, a task on the runtime for a simulated one.
#[derive(Clone)]
enum Syncer {
    /// With the number of flushes sent to the thread and not yet reported.
    Thread(mpsc::SyncSender<SyncRequest>, Arc<AtomicUsize>),
    Task(tokio::sync::mpsc::Sender<SyncRequest>),
}

impl Syncer {
    fn start(disk: &dyn Disk, policy: FsyncPolicy) -> io::Result<Syncer> {
        Ok(match disk.simulated_sync_latency() {
            None => {
                let (sender, requests) = mpsc::sync_channel(SYNC_QUEUE_MAX);
                let pending = Arc::new(AtomicUsize::new(0));
                let reported = pending.clone();
                std::thread::Builder::new()
                    .name("raft-log-sync".into())
                    .spawn(move || sync_thread(requests, policy, &reported))?;
                Syncer::Thread(sender, pending)
            }
            Some(latency) => {
                let (sender, requests) = tokio::sync::mpsc::channel(SYNC_QUEUE_MAX);
                tokio::spawn(sync_task(requests, policy, latency));
                Syncer::Task(sender)
            }
        })
    }

    /// Queues a flush, waiting while the queue is full.
    async fn send(&self, request: SyncRequest) -> io::Result<()> {
        let sent = match self {
            Syncer::Thread(sender, pending) => {
                pending.fetch_add(1, Ordering::SeqCst);
                let sent = sender.send(request).is_ok();
                if !sent {
                    pending.fetch_sub(1, Ordering::SeqCst);
                }
                sent
            }
            Syncer::Task(sender) => sender.send(request).await.is_ok(),
        };
        if sent {
            Ok(())
        } else {
            Err(io::Error::other("the raft log sync thread stopped"))
        }
    }

    /// Whether a flush may be done on the caller's thread: the disk is real (the simulator's
    /// fsyncs are tasks with a latency) and no flush sent to the thread is still unreported, so
    /// flushes are reported in the order of their appends.
    fn idle_thread(&self) -> bool {
        match self {
            Syncer::Thread(_, pending) => pending.load(Ordering::SeqCst) == 0,
            Syncer::Task(_) => false,
        }
    }

    /// Queues a reminder of which file to sync; dropped when the queue is full.
    fn tick(&self, file: Arc<dyn DiskFile>) {
        match self {
            Syncer::Thread(sender, _) => drop(sender.try_send(SyncRequest::Tick(file))),
            Syncer::Task(sender) => drop(sender.try_send(SyncRequest::Tick(file))),
        }
    }
}

/// How an append's records reach the disk before it is reported flushed.
enum Flush {
    /// Fsynced on the appending thread (a group of one, `always`).
    Here(Arc<dyn DiskFile>),
    /// Fsynced by the sync thread with whatever else is queued (`always`).
    Queue(Syncer, Arc<dyn DiskFile>),
    /// Reported at once: `everysec` (the file, for its thread to sync within the second) or `no`.
    Done(Syncer, Option<Arc<dyn DiskFile>>),
}

/// Pending flushes are bounded: `append` waits for the sync thread past this many.
const SYNC_QUEUE_MAX: usize = 4096;

fn sync_thread(requests: mpsc::Receiver<SyncRequest>, policy: FsyncPolicy, pending: &AtomicUsize) {
    let second = Duration::from_secs(1);
    let mut last_file = None;
    let mut last_sync = std::time::Instant::now();
    loop {
        let first = match policy {
            FsyncPolicy::EverySec => match requests.recv_timeout(second) {
                Ok(request) => Some(request),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
            _ => match requests.recv() {
                Ok(request) => Some(request),
                Err(_) => return,
            },
        };
        if policy == FsyncPolicy::EverySec {
            // At most one fsync a second (Redis's everysec): the appends of that second share
            // it. Without the wait every append's tick was an fsync of its own.
            let due = last_sync + second;
            if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut batch: Vec<SyncRequest> = first.into_iter().collect();
        // Group commit: everything queued while the previous fsync ran shares this one.
        batch.extend(requests.try_iter());
        let flushes = batch
            .iter()
            .filter(|r| matches!(r, SyncRequest::Flush(..)))
            .count();
        flush_batch(batch, policy, &mut last_file);
        pending.fetch_sub(flushes, Ordering::SeqCst);
        last_sync = std::time::Instant::now();
    }
}

/// [`sync_thread`] on the async runtime, each fsync taking `latency` of (simulated) time.
async fn sync_task(
    mut requests: tokio::sync::mpsc::Receiver<SyncRequest>,
    policy: FsyncPolicy,
    latency: Duration,
) {
    let mut last_file = None;
    loop {
        let first = match policy {
            FsyncPolicy::EverySec => {
                match tokio::time::timeout(Duration::from_secs(1), requests.recv()).await {
                    Ok(Some(request)) => Some(request),
                    Ok(None) => return,
                    Err(_) => None,
                }
            }
            _ => match requests.recv().await {
                Some(request) => Some(request),
                None => return,
            },
        };
        tokio::time::sleep(latency).await;
        let mut batch: Vec<SyncRequest> = first.into_iter().collect();
        while let Ok(request) = requests.try_recv() {
            batch.push(request);
        }
        flush_batch(batch, policy, &mut last_file);
    }
}

/// One group commit: syncs every file the batch names (or the last file synced, for an
/// `everysec` tick with nothing new), then reports the batch's appends flushed.
fn flush_batch(
    batch: Vec<SyncRequest>,
    policy: FsyncPolicy,
    last_file: &mut Option<Arc<dyn DiskFile>>,
) {
    let mut callbacks = Vec::new();
    let mut files: Vec<Arc<dyn DiskFile>> = Vec::new();
    for request in batch {
        let file = match request {
            SyncRequest::Flush(file, callback) => {
                callbacks.push(callback);
                file
            }
            SyncRequest::Tick(file) => file,
        };
        if !files.iter().any(|f| Arc::ptr_eq(f, &file)) {
            files.push(file);
        }
    }
    if files.is_empty() {
        if let Some(file) = last_file {
            files.push(file.clone());
        }
    }
    let mut result = Ok(());
    if policy != FsyncPolicy::No {
        for file in &files {
            if let Err(e) = file.sync() {
                result = Err(e);
                break;
            }
        }
    }
    if let Some(file) = files.pop() {
        *last_file = Some(file);
    }
    for callback in callbacks {
        callback.io_completed(match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        });
    }
}

fn segment_path(dir: &Path, first_index: u64) -> PathBuf {
    dir.join(format!("log-{first_index:020}.seg"))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Encodes `value` as a checksummed record appended to `out`.
pub(crate) fn encode_record<T: Serialize>(value: &T, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    let mut out_vec = std::mem::take(out);
    out_vec = postcard::to_extend(value, out_vec).map_err(|e| invalid(e.to_string()))?;
    *out = out_vec;
    let payload_len = out.len() - start - RECORD_HEADER_BYTES;
    let crc = crc32c::crc32c(&out[start + RECORD_HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Decodes the record at the start of `bytes`: `Ok(Some((value, length)))`, `Ok(None)` when the
/// record is incomplete or its checksum fails (a torn write), `Err` when it decodes to garbage.
pub(crate) fn decode_record<T: for<'a> Deserialize<'a>>(
    bytes: &[u8],
) -> io::Result<Option<(T, usize)>> {
    if bytes.len() < RECORD_HEADER_BYTES {
        return Ok(None);
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if len > RECORD_BYTES_MAX || bytes.len() < RECORD_HEADER_BYTES + len {
        return Ok(None);
    }
    let payload = &bytes[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len];
    if crc32c::crc32c(payload) != crc {
        return Ok(None);
    }
    let value = postcard::from_bytes(payload).map_err(|e| invalid(e.to_string()))?;
    Ok(Some((value, RECORD_HEADER_BYTES + len)))
}

impl LogStore {
    /// Opens (or creates) the log in `dir` on the machine's disk.
    pub fn open(dir: &Path, policy: FsyncPolicy) -> io::Result<LogStore> {
        LogStore::open_on(Arc::new(OsDisk), dir, policy)
    }

    /// Opens (or creates) the log in `dir` on `disk`, cutting a torn tail off the last segment.
    pub fn open_on(disk: Arc<dyn Disk>, dir: &Path, policy: FsyncPolicy) -> io::Result<LogStore> {
        disk.create_dir_all(dir)?;
        let state = match disk.read(&dir.join("state")) {
            Ok(bytes) => match decode_record::<StateFile>(&bytes)? {
                Some((state, _)) => state,
                None => return Err(invalid("raft state file fails its checksum".into())),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => StateFile::default(),
            Err(e) => return Err(e),
        };
        let committed = match disk.read(&dir.join("committed")) {
            Ok(bytes) => decode_record(&bytes)
                .ok()
                .flatten()
                .map(|(c, _)| c)
                .unwrap_or(None),
            Err(_) => None,
        };
        let mut names: Vec<u64> = disk
            .list(dir)?
            .into_iter()
            .filter_map(|name| {
                name.strip_prefix("log-")?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()
            })
            .collect();
        names.sort_unstable();
        let purged_index = state.purged.map(|p| p.index);
        let mut entries: VecDeque<(Entry, Place)> = VecDeque::new();
        let mut segments = Vec::new();
        let count = names.len();
        for (n, first_index) in names.into_iter().enumerate() {
            let path = segment_path(dir, first_index);
            let mut bytes = disk.read(&path)?;
            let file = disk.open_append(&path, false)?;
            let mut at = 0;
            while at < bytes.len() {
                match decode_record::<Entry>(&bytes[at..]) {
                    Ok(Some((entry, len))) => {
                        let index = entry.index();
                        // Entries rewritten after a truncation replace the ones they follow.
                        while entries.back().is_some_and(|(e, _)| e.index() >= index) {
                            entries.pop_back();
                        }
                        if purged_index.is_none_or(|p| index > p) {
                            let place = Place {
                                log_id: entry.log_id(),
                                offset: at as u64,
                                len: len as u32,
                            };
                            entries.push_back((entry, place));
                        }
                        at += len;
                    }
                    Ok(None) | Err(_) if n + 1 == count => {
                        if bytes[at..].iter().all(|&b| b == 0) {
                            // Zeros the disk wrote ahead of the last record (no record is empty).
                            tracing::debug!(
                                "{} bytes of zeros past the last record of {}",
                                bytes.len() - at,
                                path.display()
                            );
                        } else {
                            tracing::warn!(
                                "cutting a torn tail of {} bytes off {}",
                                bytes.len() - at,
                                path.display()
                            );
                        }
                        file.truncate(at as u64)?;
                        file.sync()?;
                        bytes.truncate(at);
                        break;
                    }
                    Ok(None) | Err(_) => {
                        return Err(invalid(format!(
                            "corrupt record at byte {at} of {}",
                            path.display()
                        )));
                    }
                }
            }
            segments.push(Segment {
                first_index,
                path,
                file,
                bytes: bytes.len() as u64,
            });
        }
        // The committed index is an unsynced hint: after a power cut it may name an entry the
        // log lost (it was never fsynced here) or replaced. Keep it only if the log still holds
        // that very entry, or it lies behind the purge point.
        let first_index = entries.front().map(|(e, _)| e.index());
        let committed = committed.filter(|c: &LogId| {
            purged_index.is_some_and(|p| c.index <= p)
                || first_index
                    .and_then(|first| entries.get(c.index.checked_sub(first)? as usize))
                    .is_some_and(|(e, _)| e.log_id() == *c)
        });
        let sync = Syncer::start(&*disk, policy)?;
        let cached_bytes = entries.iter().map(|(_, p)| u64::from(p.len)).sum();
        let (cached, places) = entries.into_iter().unzip();
        let mut inner = Inner {
            disk,
            dir: dir.to_path_buf(),
            state,
            committed,
            committed_file: None,
            places,
            cached,
            cached_bytes,
            cache_bytes_max: CACHE_BYTES_DEFAULT,
            readers: None,
            segments,
            scratch: Vec::new(),
            policy,
            sync,
            ack_before_fsync: false,
            failed: None,
        };
        inner.evict();
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    /// Test-only, for the simulator's `ack-before-fsync` bug: report appends flushed before they
    /// are fsynced. A log that does this loses acknowledged writes on a power cut.
    #[doc(hidden)]
    pub fn set_unsafe_ack_before_fsync(&self) {
        self.lock().ack_before_fsync = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("log lock")
    }

    /// The fsync policy in force.
    pub fn policy(&self) -> FsyncPolicy {
        self.lock().policy
    }

    /// The number of entries held (those after the last purge) and the bytes of the segments.
    pub fn size(&self) -> (usize, u64) {
        let inner = self.lock();
        (
            inner.places.len(),
            inner.segments.iter().map(|s| s.bytes).sum(),
        )
    }

    /// Makes everything appended so far durable now, whatever the policy: a clean shutdown
    /// fsyncs the log as Redis's SHUTDOWN fsyncs its AOF, so that `everysec` and `no` lose
    /// nothing acknowledged to a power cut that follows it.
    pub fn sync_all(&self) -> io::Result<()> {
        let files: Vec<Arc<dyn DiskFile>> = self
            .lock()
            .segments
            .iter()
            .map(|s| s.file.clone())
            .collect();
        files.iter().try_for_each(|file| file.sync())
    }

    /// Record bytes of the entries kept decoded in memory.
    pub fn cached_bytes(&self) -> u64 {
        self.lock().cached_bytes
    }

    /// Changes how many bytes of committed entries stay in memory (see the module
    /// documentation); 0 keeps only uncommitted ones.
    pub fn set_cache_bytes_max(&self, bytes: u64) {
        let mut inner = self.lock();
        inner.cache_bytes_max = bytes;
        inner.evict();
    }

    /// Flushes handed to the sync thread and not yet reported. While there are any, appends go
    /// to the thread too, even in a group of one, so flushes are reported in order.
    pub fn flushes_pending(&self) -> usize {
        match &self.lock().sync {
            Syncer::Thread(_, pending) => pending.load(Ordering::SeqCst),
            Syncer::Task(_) => 0,
        }
    }

    /// Reports the state machine's last applied index, and whether the group has no other
    /// member. From the first report on, an entry stays in memory until it is applied (the state
    /// machine is fed from here), and a group of one keeps none after that: only followers read
    /// applied entries, and a cluster of one would otherwise hold [`CACHE_BYTES_DEFAULT`] of them
    /// for nobody.
    pub fn set_readers(&self, applied: Option<u64>, alone: bool) {
        let mut inner = self.lock();
        inner.readers = Some(Readers { applied, alone });
        inner.evict();
    }
}

impl Inner {
    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some(message) => Err(io::Error::other(format!(
                "the raft log failed earlier and accepts nothing until restart: {message}"
            ))),
            None => Ok(()),
        }
    }

    fn first_index(&self) -> Option<u64> {
        self.places.front().map(|p| p.log_id.index)
    }

    fn last_log_id(&self) -> Option<LogId> {
        self.places.back().map(|p| p.log_id).or(self.state.purged)
    }

    /// Position in `places` of the first entry that is also in `cached`.
    fn first_cached(&self) -> usize {
        self.places.len() - self.cached.len()
    }

    /// Drops committed (and, once the state machine reports, applied) entries from memory,
    /// oldest first, while their records exceed the budget. They stay in their segments.
    fn evict(&mut self) {
        let (last, budget) = match self.readers {
            None => (self.committed.map(|c| c.index), self.cache_bytes_max),
            Some(r) => (
                self.committed.map(|c| c.index).min(r.applied),
                if r.alone { 0 } else { self.cache_bytes_max },
            ),
        };
        while self.cached_bytes > budget
            && let Some(front) = self.cached.front()
            && last.is_some_and(|c| front.index() <= c)
        {
            let len = self.places[self.first_cached()].len;
            self.cached.pop_front();
            self.cached_bytes -= u64::from(len);
        }
    }

    /// Reads the entries at positions `start..end` of `places` back from their segments, at
    /// most `bytes_max` of records (at least one entry).
    fn read_back(&self, start: usize, end: usize, bytes_max: u64) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut at = start;
        let mut read = 0u64;
        while at < end && (read < bytes_max || out.is_empty()) {
            let first = self.places[at];
            let segment = self
                .segments
                .partition_point(|s| s.first_index <= first.log_id.index)
                .checked_sub(1)
                .map(|i| &self.segments[i])
                .ok_or_else(|| invalid(format!("no segment holds entry {}", first.log_id)))?;
            // One read for the run of records in this segment (they are contiguous).
            let mut stop = at;
            let mut bytes = 0u64;
            while stop < end
                && (stop == at
                    || (self.places[stop].offset == first.offset + bytes
                        && read + bytes < bytes_max))
            {
                bytes += u64::from(self.places[stop].len);
                stop += 1;
            }
            let data = segment.file.read_at(first.offset, bytes as usize)?;
            let mut pos = 0;
            for place in self.places.range(at..stop) {
                let (entry, len) = decode_record::<Entry>(&data[pos..])?.ok_or_else(|| {
                    invalid(format!(
                        "entry {} fails its checksum when read back",
                        place.log_id
                    ))
                })?;
                if entry.log_id() != place.log_id {
                    return Err(invalid(format!(
                        "read back entry {} where {} was",
                        entry.log_id(),
                        place.log_id
                    )));
                }
                out.push(entry);
                pos += len;
            }
            read += bytes;
            at = stop;
        }
        Ok(out)
    }

    /// The entries at positions `start..end`: from memory where cached, else read back (at most
    /// `bytes_max` of those).
    fn get(&self, start: usize, end: usize, bytes_max: u64) -> io::Result<Vec<Entry>> {
        let first_cached = self.first_cached();
        let mut out = if start < first_cached {
            let read = self.read_back(start, end.min(first_cached), bytes_max)?;
            if start + read.len() < first_cached.min(end) {
                return Ok(read);
            }
            read
        } else {
            Vec::new()
        };
        let from = start.max(first_cached) - first_cached;
        let to = end.max(first_cached) - first_cached;
        out.extend(self.cached.range(from..to).cloned());
        Ok(out)
    }

    fn save_state(&mut self) -> io::Result<()> {
        let mut bytes = Vec::new();
        encode_record(&self.state, &mut bytes)?;
        self.disk.write_atomically(&self.dir.join("state"), &bytes)
    }

    /// The segment to append to, starting a new one when there is none or it is full.
    fn writable_segment(&mut self, next_index: u64) -> io::Result<&mut Segment> {
        let full = self
            .segments
            .last()
            .is_none_or(|s| s.bytes >= SEGMENT_BYTES_MAX);
        if full {
            if let Some(last) = self.segments.last() {
                // Everything in the closed segment reaches the disk before the new one exists, so
                // recovery never sees a later segment after a torn earlier one; so does its end
                // (the disk may have written zeros ahead of the last record).
                last.file.truncate(last.bytes)?;
                last.file.sync()?;
            }
            let path = segment_path(&self.dir, next_index);
            let file = self.disk.open_append(&path, true)?;
            self.segments.push(Segment {
                first_index: next_index,
                path,
                file,
                bytes: 0,
            });
        }
        Ok(self.segments.last_mut().expect("a segment exists"))
    }

    fn index_range<RB: RangeBounds<u64>>(&self, range: &RB) -> (usize, usize) {
        let Some(first) = self.first_index() else {
            return (0, 0);
        };
        let len = self.places.len() as u64;
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s + 1,
            Bound::Unbounded => first,
        }
        .clamp(first, first + len);
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => first + len,
        }
        .clamp(start, first + len);
        ((start - first) as usize, (end - first) as usize)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let inner = self.lock();
        let (start, end) = inner.index_range(&range);
        inner.get(start, end, u64::MAX)
    }

    /// Replication's read: entries no longer in memory are read back at most
    /// `READ_BACK_BYTES_MAX` at a time.
    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> io::Result<Vec<Entry>> {
        let inner = self.lock();
        let (start, end) = inner.index_range(&(start..end));
        inner.get(start, end, READ_BACK_BYTES_MAX)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.lock().state.vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let inner = self.lock();
        Ok(LogState {
            last_purged_log_id: inner.state.purged,
            last_log_id: inner.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let mut inner = self.lock();
        inner.check()?;
        inner.state.vote = Some(*vote);
        inner.save_state()
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Not fsynced: it only lets a restart re-apply committed entries without waiting for an
        // election, and openraft tolerates it lagging (it is a hint, never a promise).
        let mut inner = self.lock();
        inner.committed = committed;
        inner.evict();
        let mut bytes = Vec::new();
        encode_record(&committed, &mut bytes)?;
        let file = match &inner.committed_file {
            Some(file) => file.clone(),
            None => {
                let file = inner.disk.open_hint(&inner.dir.join("committed"))?;
                inner.committed_file = Some(file.clone());
                file
            }
        };
        file.overwrite(&bytes)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let sync = {
            let mut inner = self.lock();
            inner.check()?;
            let mut entries = entries.into_iter().peekable();
            while let Some(first) = entries.peek() {
                let next_index = first.index();
                let mut scratch = std::mem::take(&mut inner.scratch);
                scratch.clear();
                let segment = inner.writable_segment(next_index)?;
                let base = segment.bytes;
                let mut placed = Vec::new();
                // Fill this segment (one write), then move on to a new one if it is full.
                while let Some(entry) = entries.next_if(|_| {
                    base + (scratch.len() as u64) < SEGMENT_BYTES_MAX || scratch.is_empty()
                }) {
                    let start = scratch.len();
                    encode_record(&entry, &mut scratch)?;
                    let place = Place {
                        log_id: entry.log_id(),
                        offset: base + start as u64,
                        len: (scratch.len() - start) as u32,
                    };
                    placed.push((place, entry));
                }
                let segment = inner.segments.last_mut().expect("a segment exists");
                let written = segment.file.append(&scratch);
                if let Err(e) = written {
                    inner.failed = Some(e.to_string());
                    return Err(e);
                }
                segment.bytes += scratch.len() as u64;
                for (place, entry) in placed {
                    inner.places.push_back(place);
                    inner.cached.push_back(entry);
                    inner.cached_bytes += u64::from(place.len);
                }
                inner.scratch = scratch;
                inner.evict();
            }
            let file = inner.segments.last().map(|s| s.file.clone());
            let alone = inner.readers.is_some_and(|r| r.alone);
            match (inner.policy, file) {
                (FsyncPolicy::Always, Some(file)) if !inner.ack_before_fsync => {
                    if alone && inner.sync.idle_thread() {
                        Flush::Here(file)
                    } else {
                        Flush::Queue(inner.sync.clone(), file)
                    }
                }
                // Only everysec's thread wants to hear which file to sync.
                (policy, file) => Flush::Done(
                    inner.sync.clone(),
                    file.filter(|_| policy == FsyncPolicy::EverySec),
                ),
            }
        };
        match sync {
            Flush::Here(file) => {
                // A group of one waits for no follower, so nothing is gained by handing the fsync
                // to the sync thread and waking this one when it is done: the two hand-offs per
                // fsync cost the runtime a sleep and a wake-up each, and the appends that arrive
                // meanwhile were synced in smaller groups. Fsynced here, the runtime is held for
                // the fsync (as Redis's event loop is for its AOF's), and the requests that
                // arrive meanwhile make the next entry. Measured on a cluster of one at -P 1:
                // see docs/benchmarks.md, "A cluster of one fsyncs on its runtime thread".
                let synced = file.sync();
                if let Err(e) = &synced {
                    self.lock().failed = Some(e.to_string());
                }
                callback.io_completed(synced);
            }
            Flush::Queue(syncer, file) => syncer.send(SyncRequest::Flush(file, callback)).await?,
            Flush::Done(syncer, file) => {
                if let Some(file) = file {
                    // Tells the everysec thread which file to sync; dropped when it is busy.
                    syncer.tick(file);
                }
                callback.io_completed(Ok(()));
            }
        }
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let mut inner = self.lock();
        inner.check()?;
        let keep_through = last_log_id.map(|l| l.index);
        while let Some(&place) = inner.places.back() {
            let (index, offset) = (place.log_id.index, place.offset);
            if keep_through.is_some_and(|k| index <= k) {
                break;
            }
            inner.places.pop_back();
            // `cached` is a suffix of `places`: the last entry is in it unless it is empty.
            if inner.cached.pop_back().is_some() {
                inner.cached_bytes -= u64::from(place.len);
            }
            // Cut the file where the first removed entry's record started; drop later segments.
            while inner.segments.len() > 1
                && inner.segments.last().is_some_and(|s| s.first_index > index)
            {
                let segment = inner.segments.pop().expect("checked");
                inner.disk.remove(&segment.path)?;
            }
            if let Some(segment) = inner.segments.last_mut() {
                if segment.first_index <= index && segment.bytes > offset {
                    segment.file.truncate(offset)?;
                    segment.file.sync()?;
                    segment.bytes = offset;
                }
            }
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let mut inner = self.lock();
        inner.check()?;
        assert!(inner.state.purged.is_none_or(|p| p.index <= log_id.index));
        inner.state.purged = Some(log_id);
        inner.save_state()?;
        let mut entries = Vec::new();
        while let Some(place) = inner.places.front().copied()
            && place.log_id.index <= log_id.index
        {
            inner.places.pop_front();
            // The first entry was in `cached` only if every entry was.
            if inner.cached.len() > inner.places.len() {
                entries.extend(inner.cached.pop_front());
                inner.cached_bytes -= u64::from(place.len);
            }
        }
        // A segment goes once every entry in it is purged: the next segment starts at or before
        // the first entry kept.
        let mut segments = Vec::new();
        while inner.segments.len() > 1 && inner.segments[1].first_index <= log_id.index + 1 {
            segments.push(inner.segments.remove(0));
        }
        let disk = inner.disk.clone();
        let simulated = disk.simulated_sync_latency().is_some();
        drop(inner);
        // Freeing the entries and unlinking the files (a whole log, after a snapshot: hundreds of
        // megabytes) happens off the runtime and without the lock, so appends do not wait for
        // it. Safe to lose: the purge point is saved, and a reopen skips entries behind it and
        // removes their segments at the next purge.
        let remove = move || {
            drop(entries);
            for segment in segments {
                drop(segment.file);
                if let Err(e) = disk.remove(&segment.path) {
                    tracing::warn!("cannot remove {}: {e}", segment.path.display());
                }
            }
        };
        if simulated {
            remove();
        } else {
            tokio::task::spawn_blocking(remove);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_checksummed_with_crc32c_as_before() {
        // The check value of CRC-32C (Castagnoli, the `crc` crate's CRC_32_ISCSI that wrote the
        // logs before): logs already on disk must still read.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let mut out = Vec::new();
        encode_record(&7u64, &mut out).unwrap();
        assert_eq!(out, [1, 0, 0, 0, 0xba, 0x37, 0xb7, 0x86, 7]);
        assert_eq!(decode_record::<u64>(&out).unwrap(), Some((7, 9)));
        out[8] = 8;
        assert_eq!(decode_record::<u64>(&out).unwrap(), None);
    }
}
