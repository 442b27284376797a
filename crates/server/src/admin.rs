//! REDRAFT: the Raft group's administration over RESP, which the `redraft cluster` subcommands
//! drive.
//!
//! ```text
//! REDRAFT MYID                       this node's id
//! REDRAFT STATUS                     role, term, leader, indexes, members (INFO replication)
//! REDRAFT BOOTSTRAP id addr [...]    make a new group of these voters (once, on one node)
//! REDRAFT ADD-NODE id addr           add a node as a learner, wait for it to catch up, then
//!                                    make it a voter
//! REDRAFT REMOVE-NODE id             remove a node from the group
//! REDRAFT TRANSFER-LEADER id         hand leadership to a node
//! REDRAFT SNAPSHOT                   take a snapshot now (and let the log be purged behind it)
//! ```
//! Membership changes run on the leader, one at a time (openraft refuses a second while one is
//! in flight); on a follower they answer MOVED to the leader.

use std::collections::{BTreeMap, BTreeSet};

use engine::Error;
use replication::{NodeId, ProposeError};

use crate::conn::Conn;

fn node_id(arg: &[u8]) -> Result<NodeId, Error> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&id| id > 0)
        .ok_or_else(|| Error::msg("ERR node ids are positive integers"))
}

fn propose_error(e: ProposeError) -> Error {
    match e {
        ProposeError::NotLeader(Some((_, addr))) => Error::msg(format!("MOVED 0 {addr}")),
        ProposeError::NotLeader(None) => Error::msg("CLUSTERDOWN No leader elected yet, try again"),
        ProposeError::Unavailable(why) | ProposeError::Stopped(why) => {
            Error::msg(format!("ERR {why}"))
        }
        e @ ProposeError::Discarded(_) => Error::msg(format!("ERR {e}")),
    }
}

pub async fn redraft(conn: &mut Conn, args: &[&[u8]]) -> Result<(), Error> {
    let group = conn.shared.group().clone();
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let wrong = || {
        Error::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'",
            String::from_utf8_lossy(args[1])
        ))
    };
    match (sub.as_str(), args.len()) {
        ("myid", 2) => conn.out.bulk(group.node_id().to_string().as_bytes()),
        ("status", 2) => {
            let text = crate::info::render(conn, &[b"info", b"replication"]);
            conn.out.verbatim(text.as_bytes());
        }
        ("bootstrap", n) if n >= 4 && n % 2 == 0 => {
            let mut members = BTreeMap::new();
            for pair in args[2..].chunks(2) {
                members.insert(
                    node_id(pair[0])?,
                    String::from_utf8_lossy(pair[1]).into_owned(),
                );
            }
            if !members.contains_key(&group.node_id()) {
                return Err(Error::msg("ERR the members must include this node"));
            }
            match group.bootstrap(members).await {
                Ok(true) => conn.out.ok(),
                Ok(false) => return Err(Error::msg("ERR this node is already in a group")),
                Err(e) => return Err(Error::msg(format!("ERR {e}"))),
            }
        }
        ("add-node", 4) => {
            let id = node_id(args[2])?;
            let addr = String::from_utf8_lossy(args[3]).into_owned();
            group.add_learner(id, addr).await.map_err(propose_error)?;
            let mut voters: BTreeSet<NodeId> =
                group.status().voters.iter().map(|(id, _)| *id).collect();
            voters.insert(id);
            group
                .change_voters(voters, true)
                .await
                .map_err(propose_error)?;
            conn.out.ok();
        }
        ("remove-node", 3) => {
            let id = node_id(args[2])?;
            let status = group.status();
            let voters: BTreeSet<NodeId> = status
                .voters
                .iter()
                .map(|(v, _)| *v)
                .filter(|v| *v != id)
                .collect();
            if voters.is_empty() {
                return Err(Error::msg("ERR cannot remove the last voter"));
            }
            group
                .change_voters(voters, false)
                .await
                .map_err(propose_error)?;
            conn.out.ok();
        }
        ("transfer-leader", 3) => {
            let id = node_id(args[2])?;
            if !group.is_leader() {
                return Err(propose_error(ProposeError::NotLeader(group.leader())));
            }
            group.transfer_leader(id).await.map_err(propose_error)?;
            conn.out.ok();
        }
        ("snapshot", 2) => {
            group.snapshot().await.map_err(propose_error)?;
            conn.out.ok();
        }
        _ => return Err(wrong()),
    }
    Ok(())
}
