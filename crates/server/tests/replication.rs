//! Durability and replication with real processes: `kill -9` of a cluster of one loses nothing
//! acknowledged; three nodes keep every acknowledged write through repeated leader kills, agree
//! byte for byte (DEBUG DIGEST), survive a full restart, and a node added later catches up by
//! snapshot.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{TempDir, wait_until};

/// A `redraft` process on a fixed port (the cluster bus is that port + 10000).
struct Node {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

/// A client port whose bus port (+10000) is free too.
fn free_port_pair() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port < 55000 && std::net::TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

impl Node {
    fn new(dir: &Path, name: &str, extra: &[&str]) -> Node {
        Node {
            port: free_port_pair(),
            dir: dir.join(name),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redraft"))
            .args(["--port", &self.port.to_string(), "--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the redraft binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("redraft printed its ready line");
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush anything.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn client(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.addr())).unwrap();
        let conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        conn
    }

    fn info_field(&self, name: &str) -> Option<String> {
        self.info_in("replication", name)
    }

    /// A field of one INFO section (None if the node does not answer or has no such field).
    fn info_in(&self, section: &str, name: &str) -> Option<String> {
        let mut c = self.client();
        let info: String = redis::cmd("INFO").arg(section).query(&mut c).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_string())
    }

    /// A numeric INFO field that must be there.
    fn info_number(&self, section: &str, name: &str) -> u64 {
        self.info_in(section, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("INFO {section} has no number {name}"))
    }

    fn digest(&self) -> String {
        let mut c = self.client();
        redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn cluster_admin(args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_redraft"))
        .arg("cluster")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "redraft cluster {args:?}");
}

#[test]
fn kill_9_of_a_cluster_of_one_loses_no_acknowledged_write() {
    let dir = TempDir::new();
    let mut node = Node::new(&dir.0, "solo", &[]);
    node.start();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop) = (acked.clone(), stop.clone());
            let url = format!("redis://{}/", node.addr());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let key = format!("w{w}:{i}");
                    let set: redis::RedisResult<String> =
                        redis::cmd("SET").arg(&key).arg(i).query(&mut c);
                    let incr: redis::RedisResult<i64> =
                        redis::cmd("INCR").arg(format!("count{w}")).query(&mut c);
                    match (set, incr) {
                        (Ok(_), Ok(n)) => acked.lock().unwrap().push((w, key, n)),
                        // The server died under us: what was not acknowledged may or may not be there.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(20), || acked
        .lock()
        .unwrap()
        .len()
        > 500));
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    node.start();
    let mut c = node.client();
    let acked = acked.lock().unwrap();
    let mut highest = [0i64; 4];
    for (w, key, n) in acked.iter() {
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
        assert!(value.is_some(), "acknowledged {key} lost");
        highest[*w] = highest[*w].max(*n);
    }
    for (w, high) in highest.iter().enumerate() {
        let count: i64 = redis::cmd("GET")
            .arg(format!("count{w}"))
            .query(&mut c)
            .unwrap();
        assert!(
            count >= *high,
            "count{w} is {count}, {high} was acknowledged"
        );
    }
}

struct Cluster {
    nodes: Vec<Node>,
    _dir: TempDir,
}

impl Cluster {
    fn start(n: usize, extra: &[&str]) -> Cluster {
        let dir = TempDir::new();
        let mut flags = vec!["--cluster-enabled", "yes", "--election-timeout", "150"];
        flags.extend_from_slice(extra);
        let mut nodes: Vec<Node> = (0..n)
            .map(|i| Node::new(&dir.0, &format!("n{i}"), &flags))
            .collect();
        for node in &mut nodes {
            node.start();
        }
        let mut args = vec!["create".to_string()];
        args.extend(nodes.iter().map(Node::addr));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster_admin(&args);
        Cluster { nodes, _dir: dir }
    }

    fn leader(&self) -> usize {
        let mut found = None;
        assert!(
            wait_until(Duration::from_secs(15), || {
                found = self.nodes.iter().position(|n| {
                    n.child.is_some() && n.info_field("raft_role").as_deref() == Some("leader")
                });
                found.is_some()
            }),
            "no leader"
        );
        found.unwrap()
    }

    /// Runs `cmd` on the leader, following leadership when it moves (a loaded machine can miss
    /// a 150 ms election timeout): a refusal (no leader yet, MOVED, TRYAGAIN) means the command
    /// was not applied, so it is sent again to the new leader, until a deadline.
    fn on_leader<T: redis::FromRedisValue>(
        &self,
        conn: &mut Option<redis::Connection>,
        cmd: &redis::Cmd,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = conn.get_or_insert_with(|| self.nodes[self.leader()].client());
            match cmd.query(c) {
                Ok(value) => return value,
                Err(e)
                    if matches!(e.code(), Some("CLUSTERDOWN" | "MOVED" | "TRYAGAIN"))
                        && Instant::now() < deadline =>
                {
                    *conn = None;
                }
                Err(e) => panic!("{cmd:?}: {e}"),
            }
        }
    }

    /// Waits until every running node has applied the leader's last index, then compares them.
    fn assert_identical(&self) {
        let leader = &self.nodes[self.leader()];
        let target: u64 = leader
            .info_field("raft_last_log_index")
            .unwrap()
            .parse()
            .unwrap();
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            assert!(
                wait_until(Duration::from_secs(20), || {
                    node.info_field("raft_applied_index")
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|a| a >= target)
                }),
                "node at {} did not catch up",
                node.addr()
            );
        }
        let digests: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(Node::digest)
            .collect();
        assert!(
            digests.windows(2).all(|w| w[0] == w[1]),
            "replicas differ: {digests:?}"
        );
    }
}

/// Writes with the `redis` crate through any node (followers forward to the leader), retrying
/// other nodes when one fails; records what was acknowledged.
fn write_until(
    addrs: Vec<String>,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    writer: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut i = 0u64;
        let mut target = writer;
        while !stop.load(Ordering::Relaxed) {
            let addr = &addrs[target % addrs.len()];
            let Ok(client) = redis::Client::open(format!("redis://{addr}/")) else {
                continue;
            };
            let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
                target += 1;
                continue;
            };
            let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{writer}:{i}");
                let r: redis::RedisResult<String> =
                    redis::cmd("SET").arg(&key).arg(i).query(&mut c);
                i += 1;
                match r {
                    Ok(_) => acked.lock().unwrap().push(key),
                    Err(_) => {
                        target += 1;
                        break;
                    }
                }
            }
        }
    })
}

#[test]
fn three_nodes_keep_every_acknowledged_write_through_leader_kills() {
    let mut cluster = Cluster::start(3, &[]);
    let addrs: Vec<String> = cluster.nodes.iter().map(Node::addr).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..3)
        .map(|w| write_until(addrs.clone(), stop.clone(), acked.clone(), w))
        .collect();
    for round in 0..3 {
        let before = acked.lock().unwrap().len();
        assert!(
            wait_until(Duration::from_secs(20), || acked.lock().unwrap().len()
                > before + 200),
            "writes did not resume in round {round}"
        );
        let leader = cluster.leader();
        cluster.nodes[leader].kill9();
        let before = acked.lock().unwrap().len();
        assert!(
            wait_until(Duration::from_secs(20), || acked.lock().unwrap().len()
                > before + 200),
            "no writes after killing the leader in round {round}"
        );
        cluster.nodes[leader].start();
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    cluster.assert_identical();
    let mut c = cluster.nodes[cluster.leader()].client();
    for key in acked.lock().unwrap().iter() {
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
        assert!(value.is_some(), "acknowledged {key} lost");
    }

    // A full restart of every node loses nothing either.
    for node in &mut cluster.nodes {
        node.kill9();
    }
    for node in &mut cluster.nodes {
        node.start();
    }
    let mut c = cluster.nodes[cluster.leader()].client();
    for key in acked.lock().unwrap().iter() {
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
        assert!(
            value.is_some(),
            "acknowledged {key} lost in the full restart"
        );
    }
    cluster.assert_identical();
}

/// The `redis` crate's cluster client, given only a follower's address, learns the topology
/// from CLUSTER SLOTS and sends writes to the leader (the master of the one shard); when the
/// leader is killed it finds the new one, as it would after a Redis Cluster failover. Every
/// write it saw acknowledged is there afterwards.
#[test]
fn the_redis_crate_s_cluster_client_follows_the_leader_through_a_kill() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let seed = (leader + 1) % cluster.nodes.len();
    let client = redis::cluster::ClusterClientBuilder::new(vec![format!(
        "redis://{}/",
        cluster.nodes[seed].addr()
    )])
    .retries(10)
    .connection_timeout(Duration::from_secs(2))
    .response_timeout(Duration::from_secs(2))
    .build()
    .unwrap();
    let mut conn = client.get_connection().unwrap();
    let slots: Vec<Vec<redis::Value>> =
        redis::cmd("CLUSTER").arg("SLOTS").query(&mut conn).unwrap();
    assert_eq!(
        slots[0][..2],
        [redis::Value::Int(0), redis::Value::Int(16383)],
        "{slots:?}"
    );
    let before = cluster.nodes[leader].info_number("stats", "total_commands_processed");
    let mut acked = Vec::new();
    for i in 0..200 {
        let key = format!("key:{i}");
        let () = redis::cmd("SET").arg(&key).arg(i).query(&mut conn).unwrap();
        acked.push(key);
    }
    // Keys in one slot, by hash tag, go in one command.
    let () = redis::cmd("MSET")
        .arg("{user}:a")
        .arg("1")
        .arg("{user}:b")
        .arg("2")
        .query(&mut conn)
        .unwrap();
    let pair: Vec<String> = redis::cmd("MGET")
        .arg("{user}:a")
        .arg("{user}:b")
        .query(&mut conn)
        .unwrap();
    assert_eq!(pair, ["1", "2"]);
    let after = cluster.nodes[leader].info_number("stats", "total_commands_processed");
    assert!(
        after >= before + 200,
        "the writes went to the leader ({before} -> {after} commands there)"
    );

    cluster.nodes[leader].kill9();
    // An application retries a failed call; the client refreshes its slots on the way.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 200;
    let mut failed = 0;
    while acked.len() < 400 {
        assert!(
            Instant::now() < deadline,
            "the cluster client wrote {} keys after the kill ({failed} failures)",
            acked.len() - 200
        );
        let key = format!("key:{i}");
        i += 1;
        match redis::cmd("SET").arg(&key).arg(i).query::<()>(&mut conn) {
            Ok(()) => acked.push(key),
            Err(_) => {
                failed += 1;
                if let Ok(fresh) = client.get_connection() {
                    conn = fresh;
                }
            }
        }
    }
    let new_leader = cluster.leader();
    assert_ne!(new_leader, leader);
    for key in &acked {
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut conn).unwrap();
        assert!(value.is_some(), "acknowledged {key} lost");
    }
    cluster.nodes[leader].start();
    cluster.assert_identical();
}

/// `tls-cluster yes`: the nodes' Raft traffic is mutual TLS. A group forms, replicates and
/// fails over as on a plain bus, and a peer that speaks plain TCP to a bus port is cut off
/// without an answer.
#[test]
fn a_group_with_tls_on_its_bus_replicates_fails_over_and_ignores_plain_peers() {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let certs = TempDir::new();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    // One certificate for every node, naming none of their addresses: the bus checks the
    // chain only.
    let node_key = KeyPair::generate().unwrap();
    let mut node = CertificateParams::new(vec!["redraft-node".to_string()]).unwrap();
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let node = node.signed_by(&node_key, &ca, &ca_key).unwrap();
    let path = |name: &str| certs.0.join(name).display().to_string();
    std::fs::write(path("ca.crt"), ca.pem()).unwrap();
    std::fs::write(path("node.crt"), node.pem()).unwrap();
    std::fs::write(path("node.key"), node_key.serialize_pem()).unwrap();
    let (cert, key, ca) = (path("node.crt"), path("node.key"), path("ca.crt"));
    let flags = [
        "--tls-cluster",
        "yes",
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
    ];
    let mut cluster = Cluster::start(3, &flags);
    let mut conn = None;
    for i in 0..100 {
        let () = cluster.on_leader(&mut conn, redis::cmd("SET").arg(format!("k{i}")).arg(i));
    }
    cluster.assert_identical();

    // Plain text to a bus port: the handshake fails and the node closes the connection.
    let leader = cluster.leader();
    let bus = cluster.nodes[leader].port + 10000;
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", bus)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    use std::io::{Read, Write};
    plain.write_all(&[0, 0, 0, 0]).unwrap();
    let mut answer = Vec::new();
    let read = plain.read_to_end(&mut answer);
    assert!(
        !matches!(read, Err(ref e) if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "the bus kept a plain connection open"
    );
    assert!(
        !answer.starts_with(&[0, 0, 0, 0]),
        "a plain peer got a bus frame: {answer:?}"
    );

    cluster.nodes[leader].kill9();
    conn = None;
    for i in 100..200 {
        let () = cluster.on_leader(&mut conn, redis::cmd("SET").arg(format!("k{i}")).arg(i));
    }
    cluster.nodes[leader].start();
    cluster.assert_identical();
}

/// A failover is a pause, not an error, for a client of a surviving node: right after the
/// leader dies the follower still names it (and cannot reach it), then no leader is known
/// during the election; writes and reads sent meanwhile wait for the new leader and succeed.
#[test]
fn a_client_of_a_follower_rides_through_the_leader_s_death_without_an_error() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let mut clients: Vec<redis::Connection> = followers
        .iter()
        .map(|&i| {
            let c = cluster.nodes[i].client();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c
        })
        .collect();
    // The clients' nodes serve them through the leader: writes forwarded, reads after a read
    // index. The connections are the nodes' own, so the leader's death does not close them.
    for (n, c) in clients.iter_mut().enumerate() {
        for i in 1..=20 {
            let v: i64 = redis::cmd("INCR").arg(format!("n{n}")).query(c).unwrap();
            assert_eq!(v, i);
        }
    }
    cluster.nodes[leader].kill9();
    // Each client's next command reaches its node at once, while that node still believes in
    // the dead leader: it is forwarded to the next one, once.
    for (n, c) in clients.iter_mut().enumerate() {
        for i in 21..=40 {
            let v: redis::RedisResult<i64> = redis::cmd("INCR").arg(format!("n{n}")).query(c);
            assert_eq!(v, Ok(i), "INCR n{n} through a surviving node");
        }
    }
    for round in 0..20 {
        for (n, c) in clients.iter_mut().enumerate() {
            let key = format!("after-kill:{n}:{round}");
            let set: redis::RedisResult<String> = redis::cmd("SET").arg(&key).arg(round).query(c);
            assert_eq!(
                set.as_deref(),
                Ok("OK"),
                "SET {key} through a surviving node"
            );
            let get: redis::RedisResult<Option<String>> = redis::cmd("GET").arg(&key).query(c);
            assert_eq!(get, Ok(Some(round.to_string())), "GET {key}");
        }
    }
    let new_leader = cluster.leader();
    assert_ne!(new_leader, leader);
    cluster.assert_identical();
}

#[test]
fn a_connection_that_waited_in_vain_for_a_leader_writes_again_once_one_is_back() {
    // A write on a node without a quorum waits for a leader (ten election timeouts) and then
    // fails; the commands behind it in the same batch fail at once. A later batch on the same
    // connection waits again and goes through once the group has a leader.
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let survivor = (leader + 1) % 3;
    let mut c = cluster.nodes[survivor].client();
    let _: () = redis::cmd("SET").arg("a").arg(1).query(&mut c).unwrap();
    for i in (0..3).filter(|&i| i != survivor) {
        cluster.nodes[i].kill9();
    }
    // The dead leader refuses the bus connection, so the node knows nothing was applied and
    // says where the leader was (or that none is known).
    for value in [2, 3] {
        let refused = redis::cmd("SET").arg("b").arg(value).query::<()>(&mut c);
        let code = refused.as_ref().map_err(|e| e.code().map(str::to_string));
        assert!(
            matches!(code.as_ref().err(), Some(Some(c)) if c == "MOVED" || c == "CLUSTERDOWN"),
            "no quorum, yet {refused:?}"
        );
    }
    for i in (0..3).filter(|&i| i != survivor) {
        cluster.nodes[i].start();
    }
    let _: () = redis::cmd("SET").arg("c").arg(3).query(&mut c).unwrap();
    let got: String = redis::cmd("GET").arg("c").query(&mut c).unwrap();
    assert_eq!(got, "3");
}

/// `redraft cluster create --wait` started before its nodes (as a compose file's `create`
/// service is) retries them until they answer, then forms the group; run again, it reports the
/// group it made instead of failing; a node set that is not that group's is refused.
#[test]
fn cluster_create_waits_for_late_nodes_and_reports_the_group_it_made() {
    let dir = TempDir::new();
    let flags = ["--cluster-enabled", "yes", "--election-timeout", "150"];
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| Node::new(&dir.0, &format!("n{i}"), &flags))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(Node::addr).collect();
    let create = |extra: &[&str], addrs: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_redraft"))
            .args(["cluster", "create"])
            .args(extra)
            .args(addrs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let early = create(&["--wait", "60"], &addrs);
    for node in &mut nodes {
        node.start();
    }
    let out = early.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("created a group of 3 voters"), "{stdout}");

    let again = create(&[], &addrs).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(
        stdout.contains("these 3 nodes are already a group"),
        "{stdout}"
    );

    let other = create(&[], &addrs[..2]).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already in another group"), "{stderr}");

    // Without --wait, a node that does not answer fails the command at once.
    let down = format!("127.0.0.1:{}", free_port_pair());
    let refused = create(&[], &[down]).wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
}

/// A node that belongs to no group elects no one: a write there fails at once with
/// CLUSTERDOWN rather than wait for a leader.
#[test]
fn a_node_outside_any_group_refuses_writes_with_clusterdown() {
    let dir = TempDir::new();
    let mut node = Node::new(&dir.0, "alone", &["--cluster-enabled", "yes"]);
    node.start();
    let mut c = node.client();
    let e = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<String>(&mut c)
        .unwrap_err();
    assert_eq!(e.code(), Some("CLUSTERDOWN"), "{e}");
}

#[test]
fn a_node_added_later_catches_up_by_snapshot() {
    let mut cluster = Cluster::start(3, &["--snapshot-entries", "200"]);
    let mut c = None;
    for i in 0..1000 {
        let _: () = cluster.on_leader(
            &mut c,
            redis::cmd("RPUSH").arg(format!("list{}", i % 10)).arg(i),
        );
        let _: () = cluster.on_leader(&mut c, redis::cmd("SADD").arg("set").arg(i));
    }
    // Random removals must land on the same members everywhere, snapshot or not.
    for _ in 0..50 {
        let _: Option<String> = cluster.on_leader(&mut c, redis::cmd("SPOP").arg("set"));
    }
    let _: () = cluster.on_leader(&mut c, redis::cmd("REDRAFT").arg("SNAPSHOT"));
    let dir = cluster.nodes[0].dir.parent().unwrap().to_path_buf();
    let mut newcomer = Node::new(
        &dir,
        "n3",
        &[
            "--cluster-enabled",
            "yes",
            "--election-timeout",
            "150",
            "--snapshot-entries",
            "200",
        ],
    );
    newcomer.start();
    let leader = cluster.leader();
    cluster_admin(&["add-node", &cluster.nodes[leader].addr(), &newcomer.addr()]);
    cluster.nodes.push(newcomer);
    for _ in 0..20 {
        let _: Option<String> = cluster.on_leader(&mut c, redis::cmd("SPOP").arg("set"));
    }
    cluster.assert_identical();
    let voters = cluster.nodes[cluster.leader()]
        .info_field("raft_voters")
        .unwrap();
    assert_eq!(voters.split(',').count(), 4, "{voters}");
    let started = Instant::now();
    let snapshot_index = cluster.nodes[3].info_number("persistence", "raft_snapshot_index");
    assert!(
        snapshot_index > 0,
        "the newcomer was caught up from a snapshot"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn lease_reads_and_clients_of_a_follower_see_every_acknowledged_write() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.leader();
    let follower = (leader + 1) % 3;
    let mut on_leader = cluster.nodes[leader].client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("read-policy")
        .arg("lease")
        .query(&mut on_leader)
        .unwrap();
    let policy: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("read-policy")
        .query(&mut on_leader)
        .unwrap();
    assert_eq!(policy, vec!["read-policy", "lease"]);
    // A client of a follower: its writes are forwarded to the leader, its reads wait for the
    // leader's read index; each sees what the other acknowledged.
    let mut on_follower = cluster.nodes[follower].client();
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("key{i}"))
            .arg(i)
            .query(&mut on_follower)
            .unwrap();
        let seen: i64 = redis::cmd("GET")
            .arg(format!("key{i}"))
            .query(&mut on_leader)
            .unwrap();
        assert_eq!(seen, i);
        let back: i64 = redis::cmd("GET")
            .arg(format!("key{i}"))
            .query(&mut on_follower)
            .unwrap();
        assert_eq!(back, i);
    }
    let forwarded = cluster.nodes[follower].info_number("stats", "forwarded_proposals");
    assert!(
        forwarded >= 100,
        "the follower forwarded its client's writes: {forwarded}"
    );
}

#[test]
fn a_snapshot_serialised_by_a_forked_child_is_what_a_restart_restores() {
    // The snapshot is written by a child forked with the keyspace held still; writes go on in
    // the parent meanwhile. A restart restores the child's image and replays the log behind it.
    let dir = TempDir::new();
    let mut node = Node::new(&dir.0, "solo", &[]);
    node.start();
    let mut c = node.client();
    for i in 0..2000 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("RPUSH")
            .arg("list")
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("REDRAFT").arg("SNAPSHOT").query(&mut c).unwrap();
    // Writes while (or after) the child serialises land in the log behind the snapshot.
    for i in 2000..2100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    assert!(wait_until(Duration::from_secs(20), || node
        .info_number("persistence", "raft_snapshot_index")
        > 0));
    let held = node.info_number("persistence", "raft_snapshot_held_usec");
    assert!(
        held > 0,
        "INFO persistence reports how long the snapshot held the keyspace"
    );
    let digest = node.digest();
    drop(c);
    node.kill9();
    node.start();
    assert_eq!(
        node.digest(),
        digest,
        "the restart restored the same keyspace"
    );
    let mut c = node.client();
    let len: i64 = redis::cmd("LLEN").arg("list").query(&mut c).unwrap();
    assert_eq!(len, 2000);
    let last: i64 = redis::cmd("GET").arg("k2099").query(&mut c).unwrap();
    assert_eq!(last, 2099);
}

#[test]
fn publish_reaches_the_subscribers_of_every_node_of_the_group() {
    // PUBLISH and SPUBLISH go through the log: each node delivers to its own subscribers when
    // it applies them, as Redis Cluster's bus broadcast does. A publisher on a follower is
    // forwarded to the leader like any write.
    let cluster = Cluster::start(3, &[]);
    let mut subscribers: Vec<redis::Connection> = cluster.nodes.iter().map(Node::client).collect();
    for (i, conn) in subscribers.iter_mut().enumerate() {
        let kind = if i == 0 { "SSUBSCRIBE" } else { "SUBSCRIBE" };
        conn.send_packed_command(&redis::cmd(kind).arg("news").get_packed_command())
            .unwrap();
        let confirmed = conn.recv_response().unwrap();
        assert!(format!("{confirmed:?}").contains("news"), "{confirmed:?}");
    }
    let mut on_leader = None;
    let received: i64 = cluster.on_leader(
        &mut on_leader,
        redis::cmd("PUBLISH").arg("news").arg("first"),
    );
    assert!(
        (0..=1).contains(&received),
        "the origin counts its own: {received}"
    );
    let _: i64 = cluster.on_leader(
        &mut on_leader,
        redis::cmd("SPUBLISH").arg("news").arg("second"),
    );
    // From a follower's client too (forwarded, and followed while leadership moves). The
    // reply counts the receiving node's own subscribers, as Redis Cluster's does: node 0's
    // SSUBSCRIBE does not count, so pick a follower whose count differs from the leader's.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let follower = if cluster.leader() == 0 { 1 } else { 0 };
        let mut c = cluster.nodes[follower].client();
        match redis::cmd("PUBLISH")
            .arg("news")
            .arg("third")
            .query::<i64>(&mut c)
        {
            Ok(received) => {
                let own = i64::from(follower != 0);
                assert_eq!(received, own, "PUBLISH on node {follower} counts its own");
                break;
            }
            Err(e) if Instant::now() < deadline => eprintln!("publish on a follower: {e}"),
            Err(e) => panic!("publish on a follower: {e}"),
        }
    }
    for (i, conn) in subscribers.iter_mut().enumerate() {
        let expected: &[&str] = if i == 0 {
            &["second"]
        } else {
            &["first", "third"]
        };
        let mut seen: Vec<String> = Vec::new();
        while seen.len() < expected.len() {
            let message = conn
                .recv_response()
                .unwrap_or_else(|e| panic!("subscriber on node {i} got {seen:?}, then {e}"));
            let text = format!("{message:?}");
            if let Some(word) = ["first", "second", "third"]
                .into_iter()
                .find(|w| text.contains(w))
            {
                // A publish sent again after an unknown outcome may arrive twice.
                if seen.last().map(String::as_str) != Some(word) {
                    seen.push(word.to_string());
                }
            }
        }
        assert_eq!(seen, expected, "subscriber on node {i}");
    }
}

#[test]
fn scripts_and_functions_run_on_every_replica_and_evalsha_needs_no_replica_s_cache() {
    // A write script is one log entry that every replica runs: random numbers drawn from the
    // entry's seed and TIME from its clock, so the replicas agree. EVALSHA enters the log as
    // EVAL of the script's text: a node restarted with an empty script cache applies it too.
    let mut cluster = Cluster::start(3, &[]);
    let mut on_leader = None;
    // A script's PUBLISH reaches the subscribers of every node, as PUBLISH does.
    let mut subscribers: Vec<redis::Connection> = cluster.nodes.iter().map(Node::client).collect();
    for conn in subscribers.iter_mut() {
        conn.send_packed_command(&redis::cmd("SUBSCRIBE").arg("sums").get_packed_command())
            .unwrap();
        let confirmed = conn.recv_response().unwrap();
        assert!(format!("{confirmed:?}").contains("sums"), "{confirmed:?}");
    }
    let _: i64 = cluster.on_leader(
        &mut on_leader,
        redis::cmd("EVAL")
            .arg("return redis.call('PUBLISH', 'sums', ARGV[1])")
            .arg(0)
            .arg("first"),
    );
    for (i, conn) in subscribers.iter_mut().enumerate() {
        let message = format!("{:?}", conn.recv_response().unwrap());
        assert!(message.contains("first"), "node {i} got {message}");
    }
    drop(subscribers);
    let script = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
                  redis.call('HSET', KEYS[2], 'n', n, 'r', math.random(1000000), \
                  't', redis.call('TIME')[1]) \
                  return n";
    let sha: String =
        cluster.on_leader(&mut on_leader, redis::cmd("SCRIPT").arg("LOAD").arg(script));
    assert_eq!(sha.len(), 40);
    // SCRIPT LOAD went through the log: every node knows the script.
    for node in &cluster.nodes {
        let mut c = node.client();
        let known: Vec<i64> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&sha)
            .arg("0000000000000000000000000000000000000000")
            .query(&mut c)
            .unwrap();
        assert_eq!(known, vec![1, 0], "on {}", node.addr());
    }
    let evalsha = |by: i64| {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&sha).arg(2).arg("{s}n").arg("{s}h").arg(by);
        cmd
    };
    for i in 1..=20 {
        let n: i64 = cluster.on_leader(&mut on_leader, &evalsha(i));
        assert_eq!(n, i * (i + 1) / 2);
    }
    // A function library is data: loaded through the leader, it is on every node, and a
    // read-only function runs on a follower's own copy.
    let library = "#!lua name=sums\n\
                   redis.register_function('total', function(keys, args) \
                   return redis.call('INCRBY', keys[1], args[1]) end)\n\
                   redis.register_function{function_name = 'peek', \
                   callback = function(keys) return redis.call('GET', keys[1]) end, \
                   flags = {'no-writes'}}";
    let loaded: String = cluster.on_leader(
        &mut on_leader,
        redis::cmd("FUNCTION").arg("LOAD").arg(library),
    );
    assert_eq!(loaded, "sums");
    let total: i64 = cluster.on_leader(
        &mut on_leader,
        redis::cmd("FCALL").arg("total").arg(1).arg("{s}f").arg(40),
    );
    assert_eq!(total, 40);
    for node in &cluster.nodes {
        let mut c = node.client();
        let _: () = redis::cmd("READONLY").query(&mut c).unwrap();
        assert!(wait_until(Duration::from_secs(10), || {
            redis::cmd("FCALL_RO")
                .arg("peek")
                .arg(1)
                .arg("{s}f")
                .query::<Option<String>>(&mut c)
                .ok()
                .flatten()
                .as_deref()
                == Some("40")
        }));
    }
    // A follower loses its cache in a restart; EVALSHA through the leader still applies there.
    let follower = (cluster.leader() + 1) % 3;
    cluster.nodes[follower].kill9();
    cluster.nodes[follower].start();
    let n: i64 = cluster.on_leader(&mut on_leader, &evalsha(100));
    assert_eq!(n, 310);
    // The restarted follower has the library (from its log), and runs it for a client.
    let mut c = cluster.nodes[follower].client();
    let total: i64 = redis::cmd("FCALL")
        .arg("total")
        .arg(1)
        .arg("{s}f")
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(total, 42);
    // A SHA nobody knows is NOSCRIPT, a script error is the script's error, and neither stops
    // the group.
    let mut c = cluster.nodes[cluster.leader()].client();
    let e = redis::cmd("EVALSHA")
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .arg(0)
        .query::<i64>(&mut c)
        .unwrap_err();
    assert_eq!(e.code(), Some("NOSCRIPT"), "{e}");
    let e = redis::cmd("EVAL")
        .arg("redis.call('SET', KEYS[1], 'x') return redis.call('INCR', KEYS[1])")
        .arg(1)
        .arg("{s}bad")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string().contains("not an integer") && e.to_string().contains("@user_script:1"),
        "{e}"
    );
    // A script that never ends is stopped on every replica alike, its writes before the stop
    // kept (scripts are atomic, not rolled back, as in Redis). Every replica is busy with it
    // for a while, so leadership may move meanwhile.
    let e = redis::cmd("EVAL")
        .arg("redis.call('SET', KEYS[1], 'before') while true do end")
        .arg(1)
        .arg("{s}loop")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Script stopped"), "{e}");
    let mut on_leader = None;
    let before: String = cluster.on_leader(&mut on_leader, redis::cmd("GET").arg("{s}loop"));
    assert_eq!(before, "before");
    cluster.assert_identical();
}
