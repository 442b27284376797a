//! Test helpers: a tiny key-value machine and an in-process transport with faults.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use replication::{BoxFuture, Group, Machine, NodeId, Pipe, Transport};
use tokio::sync::mpsc;

/// Applies `key=value` bodies (and `key+=n` increments) to a map; replies with the new value.
#[derive(Default)]
pub struct KvMachine {
    pub map: Mutex<BTreeMap<String, String>>,
}

impl Machine for KvMachine {
    fn apply(&self, body: &[u8]) -> Bytes {
        let text = String::from_utf8_lossy(body).into_owned();
        let mut map = self.map.lock().unwrap();
        if let Some((key, n)) = text.split_once("+=") {
            let value = map.get(key).map_or(0, |v| v.parse::<i64>().unwrap());
            let value = (value + n.parse::<i64>().unwrap()).to_string();
            map.insert(key.to_string(), value.clone());
            return Bytes::from(value);
        }
        let (key, value) = text.split_once('=').expect("key=value");
        map.insert(key.to_string(), value.to_string());
        Bytes::from(value.to_string())
    }

    fn snapshot(&self, out: &mut Vec<u8>) {
        for (k, v) in self.map.lock().unwrap().iter() {
            out.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
    }

    fn restore(&self, data: &[u8]) -> io::Result<()> {
        let mut map = self.map.lock().unwrap();
        map.clear();
        for line in String::from_utf8_lossy(data).lines() {
            let (k, v) = line.split_once('=').expect("key=value");
            map.insert(k.to_string(), v.to_string());
        }
        Ok(())
    }

    fn reset(&self) {
        self.map.lock().unwrap().clear();
    }
}

impl KvMachine {
    pub fn get(&self, key: &str) -> Option<String> {
        self.map.lock().unwrap().get(key).cloned()
    }

    pub fn dump(&self) -> BTreeMap<String, String> {
        self.map.lock().unwrap().clone()
    }
}

/// Delivers RPCs by calling the target group directly; a node in `down` is unreachable both ways.
/// With `pipes`, appends stream through in-memory pipes, which break when either end is down.
#[derive(Default)]
pub struct LocalNet {
    pub groups: Mutex<HashMap<NodeId, Group>>,
    pub down: Mutex<HashSet<NodeId>>,
    pub pipes: bool,
    pub pipes_opened: AtomicU64,
    /// Pipes asked for and refused (the peer was down).
    pub pipes_refused: AtomicU64,
    /// Messages sent through pipes (appends and heartbeats).
    pub pipe_messages: AtomicU64,
    /// Calls whose reply is lost on the way back (after the target acted on the request).
    pub lose_replies: AtomicU64,
}

impl LocalNet {
    fn reach(&self, from: NodeId, target: NodeId) -> io::Result<Group> {
        let down = self.down.lock().unwrap();
        if down.contains(&target) || down.contains(&from) {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "down"));
        }
        self.groups
            .lock()
            .unwrap()
            .get(&target)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::ConnectionRefused, "no such node"))
    }
}

pub struct LocalTransport {
    pub net: Arc<LocalNet>,
    pub from: NodeId,
}

impl Transport for LocalTransport {
    fn call(
        &self,
        target: NodeId,
        _addr: &str,
        request: Bytes,
    ) -> BoxFuture<'_, io::Result<Bytes>> {
        Box::pin(async move {
            let group = self.net.reach(self.from, target)?;
            let reply = group.handle_rpc(&request).await;
            let lose =
                self.net
                    .lose_replies
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            match lose {
                Ok(_) => Err(io::Error::new(io::ErrorKind::ConnectionReset, "reply lost")),
                Err(_) => Ok(reply),
            }
        })
    }

    fn open_pipe(&self, target: NodeId, _addr: &str) -> BoxFuture<'_, io::Result<Option<Pipe>>> {
        Box::pin(async move {
            if !self.net.pipes {
                return Ok(None);
            }
            let group = self.net.reach(self.from, target).inspect_err(|_| {
                self.net.pipes_refused.fetch_add(1, Ordering::Relaxed);
            })?;
            self.net.pipes_opened.fetch_add(1, Ordering::Relaxed);
            let (send, mut to_follower) = mpsc::channel(64);
            let (requests, from_leader) = mpsc::channel(64);
            let (replies, mut to_leader) = mpsc::channel::<Bytes>(64);
            let (back, recv) = mpsc::channel(64);
            let (net, from) = (self.net.clone(), self.from);
            let forward = async move {
                while let Some(message) = to_follower.recv().await {
                    if net.reach(from, target).is_err() || requests.send(message).await.is_err() {
                        return;
                    }
                    net.pipe_messages.fetch_add(1, Ordering::Relaxed);
                }
            };
            let net = self.net.clone();
            let backward = async move {
                while let Some(reply) = to_leader.recv().await {
                    if let Err(e) = net.reach(target, from) {
                        let _ = back.send(Err(e)).await;
                        return;
                    }
                    if back.send(Ok(reply)).await.is_err() {
                        return;
                    }
                }
                let closed = io::Error::new(io::ErrorKind::ConnectionReset, "pipe closed");
                let _ = back.send(Err(closed)).await;
            };
            tokio::spawn(async move {
                tokio::join!(forward, group.serve_pipe(from_leader, replies), backward);
            });
            Ok(Some(Pipe { send, recv }))
        })
    }
}

/// Polls `condition` every few milliseconds until it holds or `deadline_ms` passes.
pub async fn wait_for(what: &str, deadline_ms: u64, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(deadline_ms);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
