//! Test helpers: a tiny key-value machine and an in-process transport with faults.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use replication::{BoxFuture, Group, Machine, NodeId, Transport};

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
#[derive(Default)]
pub struct LocalNet {
    pub groups: Mutex<HashMap<NodeId, Group>>,
    pub down: Mutex<HashSet<NodeId>>,
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
            let group = {
                let down = self.net.down.lock().unwrap();
                if down.contains(&target) || down.contains(&self.from) {
                    return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "down"));
                }
                self.net.groups.lock().unwrap().get(&target).cloned()
            };
            match group {
                Some(group) => Ok(group.handle_rpc(&request).await),
                None => Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "no such node",
                )),
            }
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
