//! CLUSTER: Redis Cluster's view of the one Raft group that holds the keyspace, so that
//! cluster-aware clients (redis-py's `RedisCluster`, `redis-cli -c`, ...) find their way.
//!
//! All 16384 slots belong to one shard. Its master is the group's leader and its replicas are
//! the other members (voters and learners); a node's id is its Raft node id, as 40 hex digits.
//! With no leader known the shard has no master: CLUSTER SLOTS and SHARDS list no slots and
//! CLUSTER INFO says `cluster_state:fail`, as a Redis Cluster node does while its slots are
//! not served. The leader marks a member it has not heard from for two election timeouts as
//! failed (NODES `fail`, SHARDS `failed`, left out of SLOTS); other nodes cannot tell, and
//! show every member online. A node's cluster-bus port is taken to be its client port + 10000 (the default)
//! unless it is this node. COUNTKEYSINSLOT and GETKEYSINSLOT read this node's own keyspace, as
//! in Redis, by walking it (there is no index by slot yet).

use engine::{Error, SLOT_COUNT, arg_i64, slot_of};
use replication::NodeId;

use crate::conn::{Conn, Flow};

/// A member as CLUSTER shows it.
struct Node {
    id: String,
    ip: String,
    port: u16,
    bus_port: u16,
    master: bool,
    myself: bool,
    failed: bool,
}

/// Redis's node ids are 40 characters; Raft's are numbers.
fn node_id(id: NodeId) -> String {
    format!("{id:040x}")
}

/// The group's members, the leader first; None for the leader when none is known.
fn members(conn: &Conn) -> (Option<Node>, Vec<Node>) {
    let status = conn.shared.group().status();
    let config = conn.shared.config();
    let own_bus_port = config.cluster_port;
    let silence_max = std::time::Duration::from_millis(config.election_timeout_ms * 2);
    let all = status.voters.iter().chain(&status.learners);
    let mut leader = None;
    let mut replicas = Vec::new();
    for (id, addr) in all {
        let (ip, port): (String, u16) = match addr.rsplit_once(':') {
            Some((ip, port)) => (ip.to_string(), port.parse().unwrap_or(0)),
            None => (addr.clone(), 0),
        };
        let myself = *id == status.node_id;
        let bus_port = match myself && own_bus_port != 0 {
            true => own_bus_port,
            false => port.saturating_add(10000),
        };
        // A leader hears from every member; a member that has gone quiet has failed.
        let failed = status.role == "leader"
            && !myself
            && status
                .silent_for
                .iter()
                .find(|(peer, _)| peer == id)
                .is_none_or(|(_, silent)| silent.is_none_or(|s| s > silence_max));
        let node = Node {
            id: node_id(*id),
            ip,
            port,
            bus_port,
            master: status.leader == Some(*id),
            myself,
            failed,
        };
        match node.master {
            true => leader = Some(node),
            false => replicas.push(node),
        }
    }
    (leader, replicas)
}

const SUBCOMMANDS: [&[u8]; 8] = [
    b"myid",
    b"keyslot",
    b"countkeysinslot",
    b"getkeysinslot",
    b"info",
    b"slots",
    b"shards",
    b"nodes",
];

pub fn cluster(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    if !conn.shared.config().cluster_enabled {
        return Err(Error::msg("ERR This instance has cluster support disabled"));
    }
    let sub = args[1].to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"myid", 2) => {
            let id = node_id(conn.shared.group().status().node_id);
            conn.out.bulk(id.as_bytes());
        }
        (b"keyslot", 3) => conn.out.int(i64::from(slot_of(args[2]))),
        (b"countkeysinslot", 3) => {
            let slot = parse_slot(args[2])?;
            let keyspace = conn.shared.keyspace.lock().expect("keyspace lock");
            let count = keyspace
                .db(0)
                .iter()
                .filter(|(key, _)| slot_of(key) == slot)
                .count();
            conn.out.int(count as i64);
        }
        (b"getkeysinslot", 4) => {
            let slot = parse_slot(args[2])?;
            let count = match arg_i64(args[3]) {
                Ok(n) if n >= 0 => n as usize,
                _ => return Err(Error::msg("ERR Invalid number of keys")),
            };
            let keyspace = conn.shared.keyspace.lock().expect("keyspace lock");
            let keys: Vec<Vec<u8>> = keyspace
                .db(0)
                .iter()
                .filter(|(key, _)| slot_of(key) == slot)
                .take(count)
                .map(|(key, _)| key.to_vec())
                .collect();
            drop(keyspace);
            conn.out.array(keys.len());
            for key in &keys {
                conn.out.bulk(key);
            }
        }
        (b"info", 2) => {
            let (leader, replicas) = members(conn);
            let term = conn.shared.group().status().term;
            let served = if leader.is_some() { SLOT_COUNT } else { 0 };
            let text = format!(
                "cluster_enabled:1\r\ncluster_state:{}\r\ncluster_slots_assigned:{served}\r\n\
                 cluster_slots_ok:{served}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n\
                 cluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{term}\r\n\
                 cluster_my_epoch:{term}\r\ncluster_stats_messages_sent:0\r\n\
                 cluster_stats_messages_received:0\r\n\
                 total_cluster_links_buffer_limit_exceeded:0\r\n",
                if leader.is_some() { "ok" } else { "fail" },
                replicas.len() + usize::from(leader.is_some()),
                usize::from(leader.is_some()),
            );
            conn.out.verbatim(text.as_bytes());
        }
        (b"slots", 2) => {
            let (leader, replicas) = members(conn);
            let Some(leader) = leader else {
                conn.out.array(0);
                return Ok(Flow::Continue);
            };
            let replicas: Vec<&Node> = replicas.iter().filter(|n| !n.failed).collect();
            conn.out.array(1);
            conn.out.array(3 + replicas.len());
            conn.out.int(0);
            conn.out.int(SLOT_COUNT as i64 - 1);
            for node in std::iter::once(&leader).chain(replicas) {
                conn.out.array(4);
                conn.out.bulk(node.ip.as_bytes());
                conn.out.int(i64::from(node.port));
                conn.out.bulk(node.id.as_bytes());
                conn.out.map(0);
            }
        }
        (b"shards", 2) => {
            let (leader, replicas) = members(conn);
            let offset = conn.shared.group().status().applied_index as i64;
            conn.out.array(1);
            conn.out.map(2);
            conn.out.bulk(b"slots");
            match leader {
                Some(_) => {
                    conn.out.array(2);
                    conn.out.int(0);
                    conn.out.int(SLOT_COUNT as i64 - 1);
                }
                None => conn.out.array(0),
            }
            conn.out.bulk(b"nodes");
            conn.out
                .array(replicas.len() + usize::from(leader.is_some()));
            for node in leader.iter().chain(&replicas) {
                conn.out.map(7);
                for (name, value) in [("id", &node.id), ("ip", &node.ip), ("endpoint", &node.ip)] {
                    conn.out.bulk(name.as_bytes());
                    conn.out.bulk(value.as_bytes());
                }
                conn.out.bulk(b"port");
                conn.out.int(i64::from(node.port));
                conn.out.bulk(b"role");
                conn.out.bulk(if node.master {
                    &b"master"[..]
                } else {
                    b"replica"
                });
                // The applied index stands for the replication offset (this node's own).
                conn.out.bulk(b"replication-offset");
                conn.out.int(offset);
                conn.out.bulk(b"health");
                conn.out.bulk(if node.failed {
                    &b"failed"[..]
                } else {
                    b"online"
                });
            }
        }
        (b"nodes", 2) => {
            let (leader, replicas) = members(conn);
            let epoch = conn.shared.group().status().term;
            let master_id = leader.as_ref().map_or("-".to_string(), |l| l.id.clone());
            let mut text = String::new();
            for node in leader.iter().chain(&replicas) {
                let role = if node.master { "master" } else { "slave" };
                let flags = match (node.myself, node.failed) {
                    (true, _) => format!("myself,{role}"),
                    (false, true) => format!("{role},fail"),
                    (false, false) => role.to_string(),
                };
                let link = if node.failed {
                    "disconnected"
                } else {
                    "connected"
                };
                let master = if node.master { "-" } else { master_id.as_str() };
                let slots = if node.master { " 0-16383" } else { "" };
                text.push_str(&format!(
                    "{} {}:{}@{} {flags} {master} 0 0 {epoch} {link}{slots}\n",
                    node.id, node.ip, node.port, node.bus_port
                ));
            }
            conn.out.verbatim(text.as_bytes());
        }
        (known, _) if SUBCOMMANDS.contains(&known) => {
            return Err(Error::msg(format!(
                "ERR wrong number of arguments for 'cluster|{}' command",
                String::from_utf8_lossy(known)
            )));
        }
        _ => {
            return Err(Error::msg(format!(
                "ERR unknown subcommand '{}'. Try CLUSTER HELP.",
                String::from_utf8_lossy(args[1])
            )));
        }
    }
    Ok(Flow::Continue)
}

fn parse_slot(arg: &[u8]) -> Result<u16, Error> {
    match arg_i64(arg) {
        Ok(n) if (0..SLOT_COUNT as i64).contains(&n) => Ok(n as u16),
        _ => Err(Error::msg("ERR Invalid slot")),
    }
}
