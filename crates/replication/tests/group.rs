//! Whole groups in one process over an in-memory transport: a cluster of one across restarts,
//! three peers through a leader failure, a learner caught up by snapshot, and retries applied once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::{KvMachine, LocalNet, LocalTransport, wait_for};
use replication::{Disk, DiskFile, Group, GroupConfig, HintFile, NodeId, OsDisk, ProposeError};

struct Node {
    group: Group,
    machine: Arc<KvMachine>,
}

async fn open(net: &Arc<LocalNet>, id: NodeId, dir: &Path, snapshot_entries: u64) -> Node {
    let machine = Arc::new(KvMachine::default());
    let mut config = GroupConfig::new(id, dir.join(format!("node{id}")));
    config.election_timeout_ms_min = 150;
    config.election_timeout_ms_max = 300;
    config.heartbeat_ms = 50;
    config.snapshot_entries = snapshot_entries;
    config.log_keep_entries = 0;
    let transport = Arc::new(LocalTransport {
        net: net.clone(),
        from: id,
    });
    let group = Group::open(config, machine.clone(), transport)
        .await
        .expect("open group");
    net.groups.lock().unwrap().insert(id, group.clone());
    Node { group, machine }
}

/// Three peers on `net`, formed into one group (node 1 bootstraps it).
async fn three_peers(net: &Arc<LocalNet>, dir: &Path) -> BTreeMap<NodeId, Node> {
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        nodes.insert(id, open(net, id, dir, 1000).await);
    }
    let members: BTreeMap<NodeId, String> = (1..=3).map(|id| (id, addr(id))).collect();
    nodes[&1].group.bootstrap(members).await.unwrap();
    nodes
}

fn addr(id: NodeId) -> String {
    format!("127.0.0.1:{}", 7000 + id)
}

async fn propose_anywhere(nodes: &BTreeMap<NodeId, Node>, net: &LocalNet, body: &str) -> Bytes {
    let groups: Vec<(NodeId, Group)> = nodes.iter().map(|(id, n)| (*id, n.group.clone())).collect();
    propose_to_the_leader(&groups, net, body).await
}

/// The node that leads, once one does.
async fn leader_of(nodes: &BTreeMap<NodeId, Node>) -> NodeId {
    wait_for("a leader", 10_000, || {
        nodes.values().any(|n| n.group.is_leader())
    })
    .await;
    *nodes.iter().find(|(_, n)| n.group.is_leader()).unwrap().0
}

/// Proposes `body` to whichever reachable node leads, until one takes it (elections may come
/// and go meanwhile), for up to 10 s.
async fn propose_to_the_leader(groups: &[(NodeId, Group)], net: &LocalNet, body: &str) -> Bytes {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        for (id, group) in groups {
            if net.down.lock().unwrap().contains(id) || !group.is_leader() {
                continue;
            }
            match group
                .propose(0, 0, Bytes::copy_from_slice(body.as_bytes()))
                .await
            {
                Ok(reply) => return reply,
                Err(ProposeError::NotLeader(_)) => {}
                Err(e) => panic!("proposal failed: {e}"),
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no leader took {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_one_keeps_every_acknowledged_write_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(LocalNet::default());
    for round in 0..3 {
        let node = open(&net, 1, dir.path(), 25).await;
        node.group
            .bootstrap(BTreeMap::from([(1, addr(1))]))
            .await
            .unwrap();
        wait_for("leadership", 5000, || node.group.is_leader()).await;
        // Everything written in earlier rounds is back before the first new write.
        node.group.read_barrier().await.unwrap();
        for i in 0..round * 20 {
            assert_eq!(node.machine.get(&format!("k{i}")), Some(format!("v{i}")));
        }
        for i in round * 20..(round + 1) * 20 {
            let reply = node
                .group
                .propose(0, 0, Bytes::from(format!("k{i}=v{i}")))
                .await
                .unwrap();
            assert_eq!(reply, Bytes::from(format!("v{i}")));
        }
        node.group.shutdown().await;
        net.groups.lock().unwrap().clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_survive_the_loss_of_the_leader() {
    three_peers_survive_the_loss_of_the_leader_with(LocalNet::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_streaming_appends_through_pipes_survive_the_loss_of_the_leader() {
    let net = LocalNet {
        pipes: true,
        ..LocalNet::default()
    };
    three_peers_survive_the_loss_of_the_leader_with(net).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_appends_in_flight_on_pipes_reach_every_follower_and_one_back_from_down_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(LocalNet {
        pipes: true,
        ..LocalNet::default()
    });
    let nodes = three_peers(&net, dir.path()).await;
    // Every write goes to whichever node leads when it is made (right after an election the
    // new leader may still refuse one: the write is then made again).
    let groups: Arc<Vec<(NodeId, Group)>> =
        Arc::new(nodes.iter().map(|(id, n)| (*id, n.group.clone())).collect());
    let write_all_at_once = |range: std::ops::Range<u32>| {
        let mut writes = tokio::task::JoinSet::new();
        for i in range {
            let (groups, net) = (groups.clone(), net.clone());
            writes.spawn(async move {
                propose_to_the_leader(&groups, &net, &format!("k{i}=v{i}")).await
            });
        }
        writes
    };
    let mut writes = write_all_at_once(0..400);
    while let Some(reply) = writes.join_next().await {
        reply.unwrap();
    }
    // One follower is down while more go in: the other follower makes the majority.
    let leader = leader_of(&nodes).await;
    let follower = *nodes.keys().find(|id| **id != leader).unwrap();
    net.down.lock().unwrap().insert(follower);
    let mut writes = write_all_at_once(400..500);
    while let Some(reply) = writes.join_next().await {
        reply.unwrap();
    }
    net.down.lock().unwrap().clear();
    let leader = leader_of(&nodes).await;
    let target = nodes[&leader].group.status().last_log_index;
    wait_for("every peer to apply everything", 10_000, || {
        nodes
            .values()
            .all(|n| n.group.status().applied_index >= target)
    })
    .await;
    let expected = nodes[&leader].machine.dump();
    assert_eq!(expected.len(), 500);
    for node in nodes.values() {
        assert_eq!(node.machine.dump(), expected);
    }
    // A pipe is kept from one stream of appends to the next (the heartbeat worker makes one
    // stream per heartbeat, every 50 ms here): a few per follower, not one per heartbeat.
    let messages = || net.pipe_messages.load(std::sync::atomic::Ordering::Relaxed);
    let idle_from = messages();
    wait_for("40 heartbeats through pipes", 10_000, || {
        messages() >= idle_from + 40
    })
    .await;
    let opened = net.pipes_opened.load(std::sync::atomic::Ordering::Relaxed);
    assert!((2..=16).contains(&opened), "pipes opened: {opened}");
}

/// A peer that is down is retried at openraft's backoff pace. Opening the pipe before taking
/// the first append skipped the backoff: a new leader retried its dead predecessor thousands of
/// times a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_is_retried_at_the_backoff_pace_not_in_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(LocalNet {
        pipes: true,
        ..LocalNet::default()
    });
    let nodes = three_peers(&net, dir.path()).await;
    propose_anywhere(&nodes, &net, "k0=v0").await;
    let leader = leader_of(&nodes).await;
    net.down.lock().unwrap().insert(leader);
    propose_anywhere(&nodes, &net, "k1=v1").await;
    // Twenty heartbeats (50 ms apart) from the new leader to its live follower: about a second.
    let refused = || net.pipes_refused.load(std::sync::atomic::Ordering::Relaxed);
    let messages = || net.pipe_messages.load(std::sync::atomic::Ordering::Relaxed);
    let (refused_from, messages_from) = (refused(), messages());
    wait_for("20 heartbeats to the live follower", 10_000, || {
        messages() >= messages_from + 20
    })
    .await;
    // Each heartbeat's stream asks once, and replication once per 200 ms backoff: tens (62
    // here), where the loop asked 14,000 times.
    let retries = refused() - refused_from;
    assert!(
        retries <= 200,
        "pipes asked of a dead peer in ~1 s: {retries}"
    );
}

async fn three_peers_survive_the_loss_of_the_leader_with(net: LocalNet) {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(net);
    let nodes = three_peers(&net, dir.path()).await;
    for i in 0..50 {
        propose_anywhere(&nodes, &net, &format!("k{i}=v{i}")).await;
    }
    let leader = *nodes.iter().find(|(_, n)| n.group.is_leader()).unwrap().0;
    net.down.lock().unwrap().insert(leader);
    // A new leader among the other two, and writes go on.
    for i in 50..100 {
        propose_anywhere(&nodes, &net, &format!("k{i}=v{i}")).await;
    }
    let new_leader = *nodes
        .iter()
        .find(|(id, n)| **id != leader && n.group.is_leader())
        .unwrap()
        .0;
    assert_ne!(new_leader, leader);
    net.down.lock().unwrap().clear();
    // The old leader rejoins and catches up; all three hold the same 100 keys.
    let target = nodes[&new_leader].group.status().last_log_index;
    wait_for("every peer to apply everything", 10_000, || {
        nodes
            .values()
            .all(|n| n.group.status().applied_index >= target)
    })
    .await;
    let expected = nodes[&new_leader].machine.dump();
    assert_eq!(expected.len(), 100);
    for node in nodes.values() {
        assert_eq!(node.machine.dump(), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_added_later_catches_up_by_snapshot_and_becomes_a_voter() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(LocalNet::default());
    let mut nodes = BTreeMap::new();
    nodes.insert(1, open(&net, 1, dir.path(), 20).await);
    nodes[&1]
        .group
        .bootstrap(BTreeMap::from([(1, addr(1))]))
        .await
        .unwrap();
    for i in 0..200 {
        propose_anywhere(&nodes, &net, &format!("k{i}=v{i}")).await;
    }
    nodes[&1].group.snapshot().await.unwrap();
    wait_for("a purged log", 5000, || {
        nodes[&1].group.status().snapshot_index > 0 && nodes[&1].group.status().log_entries < 200
    })
    .await;
    nodes.insert(2, open(&net, 2, dir.path(), 20).await);
    nodes[&1].group.add_learner(2, addr(2)).await.unwrap();
    nodes[&1]
        .group
        .change_voters(BTreeSet::from([1, 2]), true)
        .await
        .unwrap();
    let target = nodes[&1].group.status().last_log_index;
    wait_for("the new voter to apply everything", 10_000, || {
        nodes[&2].group.status().applied_index >= target
    })
    .await;
    assert_eq!(nodes[&2].machine.dump(), nodes[&1].machine.dump());
    assert_eq!(nodes[&2].machine.dump().len(), 200);
    assert_eq!(nodes[&1].group.status().voters.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_cut_from_a_deposed_leader_s_log_says_so_and_its_resend_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(LocalNet::default());
    let nodes = three_peers(&net, dir.path()).await;
    propose_anywhere(&nodes, &net, "k=v").await;
    let old = leader_of(&nodes).await;
    // Cut off, the leader appends the proposal but cannot commit it.
    net.down.lock().unwrap().insert(old);
    let cut_off = nodes[&old].group.clone();
    let stranded =
        tokio::spawn(async move { cut_off.propose(7, 1, Bytes::from_static(b"n+=1")).await });
    let others: Vec<(NodeId, Group)> = nodes
        .iter()
        .filter(|(id, _)| **id != old)
        .map(|(id, n)| (*id, n.group.clone()))
        .collect();
    for i in 0..3 {
        propose_to_the_leader(&others, &net, &format!("after{i}=x")).await;
    }
    // Back, it follows the new leader, whose log replaces the entry it held.
    net.down.lock().unwrap().clear();
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), stranded)
        .await
        .expect("the stranded proposal is answered")
        .unwrap();
    assert!(
        matches!(result, Err(ProposeError::Discarded(Some(_)))),
        "{result:?}"
    );
    // Sent again under its session, it applies once, wherever the first went.
    let leader = leader_of(&nodes).await;
    let reply = nodes[&leader]
        .group
        .propose(7, 1, Bytes::from_static(b"n+=1"))
        .await
        .unwrap();
    assert_eq!(reply, Bytes::from_static(b"1"));
    let again = nodes[&leader]
        .group
        .propose(7, 1, Bytes::from_static(b"n+=1"))
        .await
        .unwrap();
    assert_eq!(again, Bytes::from_static(b"1"));
    assert_eq!(nodes[&leader].machine.get("n"), Some("1".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_proposal_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(LocalNet::default());
    let node = open(&net, 1, dir.path(), 1000).await;
    node.group
        .bootstrap(BTreeMap::from([(1, addr(1))]))
        .await
        .unwrap();
    wait_for("leadership", 5000, || node.group.is_leader()).await;
    let first = node
        .group
        .propose(42, 1, Bytes::from_static(b"n+=5"))
        .await
        .unwrap();
    let retry = node
        .group
        .propose(42, 1, Bytes::from_static(b"n+=5"))
        .await
        .unwrap();
    assert_eq!(first, Bytes::from_static(b"5"));
    assert_eq!(retry, Bytes::from_static(b"5"));
    assert_eq!(node.machine.get("n"), Some("5".into()));
    let next = node
        .group
        .propose(42, 2, Bytes::from_static(b"n+=5"))
        .await
        .unwrap();
    assert_eq!(next, Bytes::from_static(b"10"));
    // Without a session the same body applies every time.
    node.group
        .propose(0, 0, Bytes::from_static(b"n+=5"))
        .await
        .unwrap();
    assert_eq!(node.machine.get("n"), Some("15".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_forwards_proposals_and_reads_through_the_leader_and_a_lost_reply_applies_once()
{
    let dir = tempfile::tempdir().unwrap();
    // Appends and heartbeats go through pipes: a call is a vote, a forward or a read index.
    let net = Arc::new(LocalNet {
        pipes: true,
        ..LocalNet::default()
    });
    let nodes = three_peers(&net, dir.path()).await;
    let leader = leader_of(&nodes).await;
    let follower = &nodes[&(leader % 3 + 1)];
    let deadline = || tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    // One increment forwarded by the follower, in session 7.
    let increment = |seq: u64| {
        follower
            .group
            .forward(7, seq, Bytes::from_static(b"n+=1"), deadline())
    };
    let refused = follower
        .group
        .propose(0, 0, Bytes::from_static(b"n+=1"))
        .await;
    assert!(
        matches!(&refused, Err(ProposeError::NotLeader(Some((id, _)))) if *id == leader),
        "{refused:?}"
    );
    for seq in 1..=20u64 {
        // Every third proposal's reply is lost after the leader applied it; the follower
        // sends the same session and sequence again.
        let lose = u64::from(seq % 3 == 0);
        net.lose_replies
            .store(lose, std::sync::atomic::Ordering::Relaxed);
        let reply = increment(seq).await.unwrap();
        assert_eq!(reply, Bytes::from(seq.to_string()));
        assert_eq!(
            net.lose_replies.load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        // The reply comes once the follower has applied the entry itself.
        assert_eq!(follower.machine.get("n"), Some(seq.to_string()));
    }
    // A resend of an old sequence is answered from the session table, not applied again.
    let again = increment(20).await.unwrap();
    assert_eq!(again, Bytes::from_static(b"20"));
    // A write through the leader, then a read barrier through it: the follower has it.
    propose_anywhere(&nodes, &net, "k=v").await;
    follower
        .group
        .read_barrier_through_leader(false, deadline())
        .await
        .unwrap();
    assert_eq!(follower.machine.get("k"), Some("v".into()));
    assert_eq!(nodes[&leader].machine.get("n"), Some("20".into()));
    // With the leader down, a forwarded proposal waits for the next one and goes through it.
    net.down.lock().unwrap().insert(leader);
    let reply = increment(21).await.unwrap();
    assert_eq!(reply, Bytes::from_static(b"21"));
    net.down.lock().unwrap().clear();
}

/// The machine's disk, failing every write (ENOSPC) while `full` is set.
#[derive(Debug, Default)]
struct FillableDisk {
    full: Arc<std::sync::atomic::AtomicBool>,
}

fn no_space(full: &std::sync::atomic::AtomicBool) -> std::io::Result<()> {
    if full.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "No space left on device",
        ));
    }
    Ok(())
}

impl Disk for FillableDisk {
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        OsDisk.create_dir_all(dir)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        OsDisk.read(path)
    }
    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        OsDisk.list(dir)
    }
    fn open_append(&self, path: &Path, create: bool) -> std::io::Result<Arc<dyn DiskFile>> {
        if create {
            no_space(&self.full)?;
        }
        Ok(Arc::new(FillableFile {
            inner: OsDisk.open_append(path, create)?,
            full: self.full.clone(),
        }))
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        OsDisk.remove(path)
    }
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        no_space(&self.full)?;
        OsDisk.write_atomically(path, bytes)
    }
    fn open_hint(&self, path: &Path) -> std::io::Result<Arc<dyn HintFile>> {
        no_space(&self.full)?;
        Ok(Arc::new(FillableHint {
            inner: OsDisk.open_hint(path)?,
            full: self.full.clone(),
        }))
    }
}

struct FillableHint {
    inner: Arc<dyn HintFile>,
    full: Arc<std::sync::atomic::AtomicBool>,
}

impl HintFile for FillableHint {
    fn overwrite(&self, bytes: &[u8]) -> std::io::Result<()> {
        no_space(&self.full)?;
        self.inner.overwrite(bytes)
    }
}

struct FillableFile {
    inner: Arc<dyn DiskFile>,
    full: Arc<std::sync::atomic::AtomicBool>,
}

impl DiskFile for FillableFile {
    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            // A full disk takes part of a write, then refuses the rest.
            self.inner.append(&bytes[..bytes.len() / 2])?;
        }
        no_space(&self.full)?;
        self.inner.append(bytes)
    }
    fn sync(&self) -> std::io::Result<()> {
        no_space(&self.full)?;
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> std::io::Result<()> {
        self.inner.truncate(len)
    }
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read_at(offset, len)
    }
}

/// A cluster of one, configured by `configure`, bootstrapped and leading.
async fn lead_alone(
    dir: &Path,
    configure: impl FnOnce(&mut GroupConfig),
) -> (Group, Arc<KvMachine>) {
    let net = Arc::new(LocalNet::default());
    let machine = Arc::new(KvMachine::default());
    let mut config = GroupConfig::new(1, dir.join("node1"));
    configure(&mut config);
    let transport = Arc::new(LocalTransport { net, from: 1 });
    let group = Group::open(config, machine.clone(), transport)
        .await
        .unwrap();
    group
        .bootstrap(BTreeMap::from([(1, addr(1))]))
        .await
        .unwrap();
    wait_for("leadership", 5000, || group.is_leader()).await;
    (group, machine)
}

#[tokio::test]
async fn a_full_disk_refuses_writes_and_the_group_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FillableDisk::default());
    let (group, machine) = lead_alone(dir.path(), |config| {
        config.disk = disk.clone();
        config.reopen_interval = std::time::Duration::from_millis(50);
    })
    .await;
    for i in 0..10 {
        group
            .propose(0, 0, Bytes::from(format!("k{i}=v{i}")))
            .await
            .unwrap();
    }
    disk.full.store(true, std::sync::atomic::Ordering::SeqCst);
    // Nothing is acknowledged while the disk refuses the write.
    let refused = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        group.propose(0, 0, Bytes::from("lost=1")),
    )
    .await
    .expect("a failed write answers, it does not hang");
    assert!(refused.is_err(), "{refused:?}");
    assert!(group.propose(0, 0, Bytes::from("k0=x")).await.is_err());
    assert_eq!(group.reopens(), 0, "the disk is still full");
    disk.full.store(false, std::sync::atomic::Ordering::SeqCst);
    // Space is back: the group reopens from its files by itself and serves again, with every
    // acknowledged write (and the half-written record cut off the log).
    wait_for("the group to reopen", 10_000, || group.reopens() >= 1).await;
    wait_for("leadership again", 10_000, || group.is_leader()).await;
    let reply = group.propose(0, 0, Bytes::from("after=1")).await.unwrap();
    assert_eq!(reply, Bytes::from("1"));
    group.read_barrier().await.unwrap();
    for i in 0..10 {
        assert_eq!(machine.get(&format!("k{i}")), Some(format!("v{i}")));
    }
    assert_eq!(machine.get("after"), Some("1".into()));
    group.shutdown().await;
}

#[tokio::test]
async fn a_log_past_snapshot_bytes_is_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let (group, _) = lead_alone(dir.path(), |config| {
        config.snapshot_entries = 1 << 40;
        config.snapshot_bytes = 1 << 20;
    })
    .await;
    let value = "x".repeat(64 << 10);
    for i in 0..40 {
        group
            .propose(0, 0, Bytes::from(format!("k{i}={value}")))
            .await
            .unwrap();
    }
    // 40 entries is far below the entry count that triggers a snapshot; 2.5 MiB of log is not.
    assert!(group.status().log_bytes > 1 << 20);
    group.propose(0, 0, Bytes::from("last=1")).await.unwrap();
    wait_for("a snapshot", 10_000, || group.status().snapshot_index > 0).await;
    group.shutdown().await;
}
