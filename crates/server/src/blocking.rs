//! Clients blocked in BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP.
//!
//! A blocking command that finds nothing, applied from the log on the node its client is
//! connected to, registers the client here, in line behind earlier clients on each of its keys.
//! When an applied write changes a key someone waits on and the key now holds what they wait for,
//! the waiters are woken in the order they blocked; each proposes its command again, and the log
//! decides who gets what. Waiting is local to a node; taking goes through the log, so every
//! replica stays identical. A timeout only ever ends a wait locally.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::{CommandSpec, Keyspace};
use tokio::sync::Notify;

/// How a blocked client learns that its keys changed.
#[derive(Default)]
pub struct Slot {
    pub woken: AtomicBool,
    pub notify: Notify,
}

struct Waiter {
    db: usize,
    keys: Vec<Vec<u8>>,
    /// The type a key must hold to serve this client ("list" or "zset").
    wanted: &'static str,
    slot: Arc<Slot>,
}

#[derive(Default)]
pub struct Blocked {
    queues: HashMap<(usize, Vec<u8>), VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
    /// Slots registered by applying an entry, until their connection picks them up.
    unclaimed: HashMap<u64, Arc<Slot>>,
}

/// The timeout argument of a blocking command and the keys it waits on.
pub fn blocking_shape(spec: &CommandSpec, args: &[&[u8]]) -> (usize, Vec<Vec<u8>>) {
    let last = args.len() - 1;
    match spec.name {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            (last, args[1..last].iter().map(|k| k.to_vec()).collect())
        }
        "brpoplpush" | "blmove" => (last, vec![args[1].to_vec()]),
        // BLMPOP / BZMPOP timeout numkeys key [key ...] ...
        _ => {
            let count = std::str::from_utf8(args[2])
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            (
                1,
                args.iter()
                    .skip(3)
                    .take(count)
                    .map(|k| k.to_vec())
                    .collect(),
            )
        }
    }
}

impl Blocked {
    /// Registers a client that found nothing; `keyspace` is the (locked) keyspace the command
    /// ran against. The connection picks the slot up with [`Blocked::claim`].
    pub fn block(
        &mut self,
        keyspace: &mut Keyspace,
        id: u64,
        db: usize,
        args: &[&[u8]],
        spec: &CommandSpec,
    ) {
        let (_, keys) = blocking_shape(spec, args);
        let slot = Arc::new(Slot::default());
        for key in &keys {
            let queue = self.queues.entry((db, key.clone())).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
                keyspace.block_on(db, key);
            }
        }
        let wanted = if spec.name.starts_with("bz") {
            "zset"
        } else {
            "list"
        };
        self.unclaimed.insert(id, slot.clone());
        self.waiters.insert(
            id,
            Waiter {
                db,
                keys,
                wanted,
                slot,
            },
        );
    }

    /// The slot a just-applied blocking command registered for client `id`.
    pub fn claim(&mut self, id: u64) -> Option<Arc<Slot>> {
        self.unclaimed.remove(&id)
    }

    /// Forgets a client (timeout, disconnect, kill); false if it was woken meanwhile.
    pub fn unblock(&mut self, keyspace: &mut Keyspace, id: u64) -> bool {
        self.unclaimed.remove(&id);
        let Some(waiter) = self.waiters.remove(&id) else {
            return false;
        };
        for key in waiter.keys {
            keyspace.unblock_on(waiter.db, &key);
            let entry = (waiter.db, key);
            if let Some(queue) = self.queues.get_mut(&entry) {
                queue.retain(|&c| c != id);
                if queue.is_empty() {
                    self.queues.remove(&entry);
                }
            }
        }
        true
    }

    /// Wakes, first blocked first, the clients waiting on keys that changed and now hold what
    /// they wait for. Anything else (a string put there, say) leaves them waiting, as in Redis.
    pub fn wake(&mut self, keyspace: &mut Keyspace, now_ms: u64) {
        for entry in keyspace.take_ready() {
            let holds = keyspace
                .db(entry.0)
                .get(&entry.1, now_ms)
                .map(|e| e.value.type_name());
            let Some(queue) = self.queues.get(&entry) else {
                continue;
            };
            let woken: Vec<u64> = queue
                .iter()
                .copied()
                .filter(|id| Some(self.waiters[id].wanted) == holds)
                .collect();
            for id in woken {
                let slot = self.waiters[&id].slot.clone();
                self.unblock(keyspace, id);
                slot.woken.store(true, Ordering::SeqCst);
                slot.notify.notify_one();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}
