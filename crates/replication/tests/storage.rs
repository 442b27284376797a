//! The log store and state machine: openraft's conformance suite, then what the suite does not
//! cover (restart, torn tail, corruption, truncation and purge surviving a restart).

mod common;

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use common::KvMachine;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogReader, RaftLogStorage};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::{EntryPayload, StorageError};
use replication::log_store::{FsyncPolicy, LogStore};
use replication::state_machine::StateMachine;
use replication::{Batch, Entry, LogId, Proposal, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(&dir.path().join("log"), FsyncPolicy::Always).expect("open log");
        let sm = StateMachine::open(dir.path().join("snapshot"), Arc::new(KvMachine::default()))
            .expect("open state machine");
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_openraft_storage_suite() {
    Suite::test_all(Builder).await.expect("storage suite");
}

/// The same store keeping no committed entry in memory: every read of one goes to the disk.
struct UncachedBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for UncachedBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let (dir, log, sm) = Builder.build().await?;
        log.set_cache_bytes_max(0);
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_openraft_storage_suite_reading_committed_entries_from_disk() {
    Suite::test_all(UncachedBuilder)
        .await
        .expect("storage suite");
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(
        openraft::impls::leader_id_adv::LeaderId { term, node_id: 1 },
        index,
    )
}

fn entry(term: u64, index: u64, body: &str) -> Entry {
    Entry::new(
        log_id(term, index),
        EntryPayload::Normal(Batch {
            items: vec![Proposal {
                session: 0,
                seq: 0,
                body: Bytes::copy_from_slice(body.as_bytes()),
            }],
        }),
    )
}

async fn append(log: &mut LogStore, entries: Vec<Entry>) {
    let (tx, flushed) = TypeConfig::oneshot();
    let callback = IOFlushed::<TypeConfig>::signal(tx);
    log.append(entries, callback).await.expect("append");
    flushed.await.expect("flush reported").expect("flushed");
}

async fn indexes(log: &mut LogStore) -> Vec<u64> {
    log.try_get_log_entries(..)
        .await
        .expect("read")
        .iter()
        .map(|e| e.index())
        .collect()
}

fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn entries_and_vote_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        append(&mut log, (1..=5).map(|i| entry(1, i, "x")).collect()).await;
        let vote = replication::Vote::new_committed(1, 7);
        log.save_vote(&vote).await.unwrap();
    }
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(replication::Vote::new_committed(1, 7))
    );
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(1, 5)));
}

/// Where a segment's records end: past the last, the disk may have written zeros ahead.
fn records_end(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 8 + len;
    }
    at
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_appends_continue_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        append(&mut log, (1..=3).map(|i| entry(1, i, "value")).collect()).await;
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let full = records_end(&std::fs::read(&segment).unwrap());
    // Half of a fourth record: a write the machine died in the middle of.
    let mut record = Vec::new();
    record.extend_from_slice(&100u32.to_le_bytes());
    record.extend_from_slice(&[0xAB; 30]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .write_all_at(&record, full as u64)
        .unwrap();
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2, 3]);
    // The torn record is cut, and the zeros written ahead of it with it.
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), full as u64);
    append(&mut log, vec![entry(1, 4, "after")]).await;
    drop(log);
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn a_flipped_bit_in_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        append(&mut log, (1..=3).map(|i| entry(1, i, "value")).collect()).await;
    }
    let segment = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = records_end(&bytes) - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2]);
}

#[tokio::test]
async fn corruption_before_the_last_record_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        append(&mut log, (1..=3).map(|i| entry(1, i, "value")).collect()).await;
        // A second segment, so the corrupt one is not the last.
    }
    let first = segment_files(dir.path()).pop().unwrap();
    std::fs::write(
        dir.path().join(format!("log-{:020}.seg", 1000)),
        std::fs::read(&first).unwrap(),
    )
    .unwrap();
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[10] ^= 0xFF;
    std::fs::write(&first, &bytes).unwrap();
    let error = LogStore::open(dir.path(), FsyncPolicy::Always)
        .err()
        .expect("a corrupt segment must not open");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn truncation_and_purge_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        append(&mut log, (1..=10).map(|i| entry(1, i, "a")).collect()).await;
        log.truncate_after(Some(log_id(1, 6))).await.unwrap();
        // A new leader's entries replace the truncated ones.
        append(&mut log, (7..=8).map(|i| entry(2, i, "b")).collect()).await;
        log.purge(log_id(1, 3)).await.unwrap();
    }
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![4, 5, 6, 7, 8]);
    let entries = log.try_get_log_entries(7..=8).await.unwrap();
    assert!(entries.iter().all(|e| e.log_id().leader_id.term == 2));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
    assert_eq!(state.last_log_id, Some(log_id(2, 8)));
}

#[tokio::test]
async fn appends_reported_flushed_under_every_policy() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::open(dir.path(), policy).unwrap();
        append(&mut log, vec![entry(1, 1, "x")]).await;
        drop(log);
        let mut log = LogStore::open(dir.path(), policy).unwrap();
        assert_eq!(indexes(&mut log).await, vec![1], "{policy:?}");
    }
}

#[tokio::test]
async fn a_committed_hint_beyond_the_log_is_dropped() {
    // The committed index is written without fsync; after a power cut it can name an entry the
    // log never synced. Reopening must not trust it (openraft would try to apply an entry that is
    // not there and refuse to start).
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        append(&mut log, (1..=3).map(|i| entry(1, i, "v")).collect()).await;
        log.save_committed(Some(log_id(1, 3))).await.unwrap();
    }
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(1, 3)));
    log.save_committed(Some(log_id(1, 5))).await.unwrap();
    drop(log);
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(log.read_committed().await.unwrap(), None);
    // Same index, other term: an entry that was replaced, not the committed one.
    log.save_committed(Some(log_id(2, 3))).await.unwrap();
    drop(log);
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(log.read_committed().await.unwrap(), None);
}

#[tokio::test]
async fn the_committed_hint_is_rewritten_in_place_and_the_last_one_is_read() {
    // The hint is overwritten through one handle, not replaced: a shorter record over a longer
    // one leaves the longer one's tail behind it, which reading must ignore.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
        let entries = (1..=300).map(|i| entry(1_000_000, i, "v")).collect();
        append(&mut log, entries).await;
        log.save_committed(Some(log_id(1_000_000, 300)))
            .await
            .unwrap();
        let long = std::fs::metadata(dir.path().join("committed"))
            .unwrap()
            .len();
        log.save_committed(Some(log_id(1_000_000, 2)))
            .await
            .unwrap();
        log.save_committed(None).await.unwrap();
        let len = std::fs::metadata(dir.path().join("committed"))
            .unwrap()
            .len();
        assert_eq!(len, long, "rewritten in place, not replaced");
        log.save_committed(Some(log_id(1_000_000, 7)))
            .await
            .unwrap();
    }
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(
        log.read_committed().await.unwrap(),
        Some(log_id(1_000_000, 7))
    );
}

fn body_of(entry: &Entry) -> Vec<u8> {
    match &entry.payload {
        EntryPayload::Normal(batch) => batch.items[0].body.to_vec(),
        other => panic!("not a normal entry: {other:?}"),
    }
}

#[tokio::test]
async fn committed_entries_past_the_budget_are_read_back_from_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    log.set_cache_bytes_max(0);
    let body = |i: u64| format!("entry {i} {}", "x".repeat(i as usize));
    append(&mut log, (1..=50).map(|i| entry(1, i, &body(i))).collect()).await;
    let all_cached = log.cached_bytes();
    assert!(all_cached > 0, "uncommitted entries stay in memory");
    log.save_committed(Some(log_id(1, 40))).await.unwrap();
    let tail = log.cached_bytes();
    assert!(
        tail > 0 && tail < all_cached / 2,
        "only 41..=50 stay: {tail} of {all_cached}"
    );
    let check = |entries: &[Entry], from: u64| {
        for (k, e) in entries.iter().enumerate() {
            let i = from + k as u64;
            assert_eq!(e.log_id(), log_id(1, i));
            assert_eq!(body_of(e), body(i).into_bytes());
        }
    };
    let entries = log.try_get_log_entries(..).await.unwrap();
    assert_eq!(entries.len(), 50);
    check(&entries, 1);
    let some = log.try_get_log_entries(38..43).await.unwrap();
    assert_eq!(some.len(), 5);
    check(&some, 38);
    let limited = log.limited_get_log_entries(5, 51).await.unwrap();
    assert!(!limited.is_empty());
    check(&limited, 5);

    // Truncation (of uncommitted entries) and purge keep the two views in step.
    log.truncate_after(Some(log_id(1, 45))).await.unwrap();
    append(&mut log, (46..=47).map(|i| entry(2, i, "new")).collect()).await;
    log.purge(log_id(1, 20)).await.unwrap();
    let entries = log.try_get_log_entries(..).await.unwrap();
    let got: Vec<u64> = entries.iter().map(|e| e.index()).collect();
    assert_eq!(got, (21..=47).collect::<Vec<_>>());
    check(&entries[..25], 21);
    assert_eq!(body_of(&entries[25]), b"new");
    drop(log);

    // A restart keeps only what the committed hint allows beyond the budget in memory.
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, (21..=47).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_entry_stays_in_memory_until_applied_and_a_group_of_one_keeps_none_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    let body = |i: u64| format!("entry {i:02} {}", "x".repeat(100));
    append(&mut log, (1..=10).map(|i| entry(1, i, &body(i))).collect()).await;
    let all = log.cached_bytes();
    let one = all / 10;
    log.save_committed(Some(log_id(1, 10))).await.unwrap();
    assert_eq!(
        log.cached_bytes(),
        all,
        "within the budget, committed entries stay"
    );

    // Alone, with 1..=4 applied: those go, the committed but unapplied 5..=10 stay.
    log.set_readers(Some(4), true);
    assert_eq!(log.cached_bytes(), 6 * one);
    // Not alone (a follower joined): applied entries stay within the budget again.
    log.set_readers(Some(9), false);
    assert_eq!(log.cached_bytes(), 6 * one);
    log.set_cache_bytes_max(3 * one);
    assert_eq!(log.cached_bytes(), 3 * one);
    // A budget of nothing still keeps what is not applied.
    log.set_cache_bytes_max(0);
    assert_eq!(log.cached_bytes(), one);
    log.set_readers(Some(10), true);
    assert_eq!(log.cached_bytes(), 0);

    // Every entry is still there, read back from its segment.
    let entries = log.try_get_log_entries(..).await.unwrap();
    assert_eq!(entries.len(), 10);
    for (k, e) in entries.iter().enumerate() {
        assert_eq!(body_of(e), body(k as u64 + 1).into_bytes());
    }
}

#[tokio::test]
async fn a_read_back_spanning_segments_is_whole() {
    // Entries of 24 MiB: three fill the first 64 MiB segment, the fourth starts another.
    const BIG: usize = 24 << 20;
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    log.set_cache_bytes_max(0);
    for i in 1..=4u64 {
        let body = char::from(b'a' + i as u8).to_string().repeat(BIG);
        append(&mut log, vec![entry(1, i, &body)]).await;
    }
    let segments = segment_files(dir.path());
    assert_eq!(segments.len(), 2);
    // The closed segment ends at its last record; the open one may have zeros written ahead.
    let closed = std::fs::read(&segments[0]).unwrap();
    assert_eq!(records_end(&closed), closed.len());
    let open = std::fs::read(&segments[1]).unwrap();
    assert!(open[records_end(&open)..].iter().all(|&b| b == 0));
    log.save_committed(Some(log_id(1, 4))).await.unwrap();
    assert_eq!(log.cached_bytes(), 0);
    let entries = log.try_get_log_entries(..).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.index()).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    for e in &entries {
        let body = body_of(e);
        assert_eq!(body.len(), BIG);
        assert!(body.iter().all(|&b| b == b'a' + e.index() as u8));
    }
    // Replication's read returns at least one entry, and no more than the read-back bound
    // allows beyond the first.
    let limited = log.limited_get_log_entries(1, 5).await.unwrap();
    assert_eq!(limited.iter().map(|e| e.index()).collect::<Vec<_>>(), [1]);
    let limited = log.limited_get_log_entries(3, 5).await.unwrap();
    assert_eq!(limited.iter().map(|e| e.index()).collect::<Vec<_>>(), [3]);
    // Reopened, the log has the same entries and appends after the last record.
    drop(log);
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    append(&mut log, vec![entry(1, 5, "after")]).await;
    drop(log);
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2, 3, 4, 5]);
}

/// The machine's disk, counting the fsyncs of appended files and naming the thread of each.
#[derive(Debug, Default)]
struct CountingDisk {
    syncs: Arc<std::sync::atomic::AtomicUsize>,
    threads: Arc<std::sync::Mutex<Vec<String>>>,
}

struct CountingFile {
    inner: Arc<dyn replication::DiskFile>,
    syncs: Arc<std::sync::atomic::AtomicUsize>,
    threads: Arc<std::sync::Mutex<Vec<String>>>,
}

impl replication::DiskFile for CountingFile {
    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.append(bytes)
    }
    fn sync(&self) -> std::io::Result<()> {
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        self.threads.lock().unwrap().push(thread);
        self.syncs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> std::io::Result<()> {
        self.inner.truncate(len)
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read_at(offset, len)
    }
}

impl replication::Disk for CountingDisk {
    fn create_dir_all(&self, dir: &std::path::Path) -> std::io::Result<()> {
        replication::OsDisk.create_dir_all(dir)
    }
    fn read(&self, path: &std::path::Path) -> std::io::Result<Vec<u8>> {
        replication::OsDisk.read(path)
    }
    fn list(&self, dir: &std::path::Path) -> std::io::Result<Vec<String>> {
        replication::OsDisk.list(dir)
    }
    fn open_append(
        &self,
        path: &std::path::Path,
        create: bool,
    ) -> std::io::Result<Arc<dyn replication::DiskFile>> {
        Ok(Arc::new(CountingFile {
            inner: replication::OsDisk.open_append(path, create)?,
            syncs: self.syncs.clone(),
            threads: self.threads.clone(),
        }))
    }
    fn remove(&self, path: &std::path::Path) -> std::io::Result<()> {
        replication::OsDisk.remove(path)
    }
    fn write_atomically(&self, path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
        replication::OsDisk.write_atomically(path, bytes)
    }
    fn open_hint(&self, path: &std::path::Path) -> std::io::Result<Arc<dyn replication::HintFile>> {
        replication::OsDisk.open_hint(path)
    }
}

#[tokio::test]
async fn each_policy_fsyncs_as_redis_does() {
    // always: every append is fsynced before it is reported flushed; everysec: the appends of a
    // second share one fsync, which does come; no: the log never fsyncs.
    for (policy, appends) in [
        (FsyncPolicy::Always, 20),
        (FsyncPolicy::EverySec, 200),
        (FsyncPolicy::No, 200),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let disk = Arc::new(CountingDisk::default());
        let syncs = disk.syncs.clone();
        let mut log = LogStore::open_on(disk, dir.path(), policy).unwrap();
        let started = std::time::Instant::now();
        let before = syncs.load(std::sync::atomic::Ordering::SeqCst);
        for i in 1..=appends {
            append(&mut log, vec![entry(1, i, "x")]).await;
        }
        let during = syncs.load(std::sync::atomic::Ordering::SeqCst) - before;
        match policy {
            FsyncPolicy::Always => assert!(during >= appends as usize, "{during} fsyncs"),
            FsyncPolicy::EverySec => {
                // At most one a second while appending (plus the one that may be under way).
                let seconds = started.elapsed().as_secs() as usize;
                assert!(during <= seconds + 2, "{during} fsyncs in {seconds} s");
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while syncs.load(std::sync::atomic::Ordering::SeqCst) == before {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "everysec never fsynced"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            FsyncPolicy::No => assert_eq!(during, 0),
        }
    }
}

#[tokio::test]
async fn sync_all_fsyncs_whatever_the_policy() {
    // A clean shutdown fsyncs the log even under `no`, as Redis's SHUTDOWN fsyncs its AOF.
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(CountingDisk::default());
    let syncs = disk.syncs.clone();
    let mut log = LogStore::open_on(disk, dir.path(), FsyncPolicy::No).unwrap();
    for i in 1..=10 {
        append(&mut log, vec![entry(1, i, "x")]).await;
    }
    assert_eq!(syncs.load(std::sync::atomic::Ordering::SeqCst), 0);
    log.sync_all().unwrap();
    assert!(syncs.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn a_group_of_one_fsyncs_on_the_appending_thread_and_a_larger_group_on_the_sync_thread() {
    // Alone, an append is fsynced where it is made (as Redis fsyncs its AOF on its event loop)
    // and reported flushed by the time `append` returns; with other members, the sync thread
    // fsyncs it, so the runtime goes on talking to them meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(CountingDisk::default());
    let threads = disk.threads.clone();
    let mut log = LogStore::open_on(disk, dir.path(), FsyncPolicy::Always).unwrap();
    let here = std::thread::current().name().unwrap().to_string();
    let synced_on = |from: usize| threads.lock().unwrap()[from..].to_vec();

    // Before the state machine reports, the log does not know it is alone.
    append(&mut log, vec![entry(1, 1, "x")]).await;
    assert_eq!(synced_on(0), ["raft-log-sync"]);
    // The thread counts its flush reported just after reporting it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.flushes_pending() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a flush stays pending"
        );
        tokio::task::yield_now().await;
    }

    log.set_readers(Some(1), true);
    let (tx, mut flushed) = TypeConfig::oneshot();
    log.append(vec![entry(1, 2, "y")], IOFlushed::<TypeConfig>::signal(tx))
        .await
        .unwrap();
    assert!(
        matches!(flushed.try_recv(), Ok(Ok(()))),
        "reported flushed at once"
    );
    assert_eq!(synced_on(1), [here]);

    log.set_readers(Some(2), false);
    append(&mut log, vec![entry(1, 3, "z")]).await;
    assert_eq!(synced_on(2), ["raft-log-sync"]);

    drop(log);
    let mut log = LogStore::open(dir.path(), FsyncPolicy::Always).unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2, 3]);
}
