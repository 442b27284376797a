//! Clients blocked in BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX and BZMPOP.
//!
//! A blocking command that finds nothing asks the engine to block (`Keyspace::block`). The
//! connection then registers here, first in line behind earlier clients on each of its keys.
//! When a command changes a key someone waits on, the engine lists the key as ready, and the
//! server — still holding the keyspace lock, right after that command — re-runs the waiting
//! clients' commands in the order they blocked, and hands each served client its reply. So a
//! client is served by the write that made the data available (first blocked, first served),
//! never by a timer; a timeout only ever ends a wait that nothing served.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use engine::{CommandSpec, Exec, Keyspace};
use resp::{Protocol, ReplyWriter};
use tokio::sync::Notify;

/// Where a served client finds its reply.
#[derive(Default)]
pub struct Slot {
    reply: Mutex<Option<Vec<u8>>>,
    pub served: Notify,
}

impl Slot {
    pub fn take(&self) -> Option<Vec<u8>> {
        self.reply.lock().expect("slot lock").take()
    }
}

struct Waiter {
    db: usize,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
    proto: Protocol,
    slot: Arc<Slot>,
}

#[derive(Default)]
pub struct Blocked {
    queues: HashMap<(usize, Vec<u8>), VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
}

/// Re-runs of blocked commands one write may cause (BLMOVE chains feed each other); bounded so a
/// cycle of BLMOVEs cannot spin forever.
const SERVE_ROUNDS_MAX: usize = 1024;

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

/// The blocked command narrowed to the key that became ready, so it takes from that key (and
/// an earlier key of another type in its list cannot turn the serving into an error).
fn for_key(spec: &CommandSpec, args: &[Vec<u8>], key: &[u8]) -> Vec<Vec<u8>> {
    match spec.name {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            vec![args[0].clone(), key.to_vec(), args[args.len() - 1].clone()]
        }
        "blmpop" | "bzmpop" => {
            let count = std::str::from_utf8(&args[2])
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            let mut narrowed = vec![
                args[0].clone(),
                args[1].clone(),
                b"1".to_vec(),
                key.to_vec(),
            ];
            narrowed.extend(args.iter().skip(3 + count).cloned());
            narrowed
        }
        _ => args.to_vec(),
    }
}

impl Blocked {
    /// Registers a client that found nothing; `keyspace` is the (locked) keyspace the command
    /// ran against.
    pub fn block(
        &mut self,
        keyspace: &mut Keyspace,
        id: u64,
        db: usize,
        args: &[&[u8]],
        spec: &CommandSpec,
        proto: Protocol,
    ) -> Arc<Slot> {
        let (_, keys) = blocking_shape(spec, args);
        let slot = Arc::new(Slot::default());
        for key in &keys {
            let queue = self.queues.entry((db, key.clone())).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
                keyspace.block_on(db, key);
            }
        }
        let args = args.iter().map(|a| a.to_vec()).collect();
        self.waiters.insert(
            id,
            Waiter {
                db,
                keys,
                args,
                proto,
                slot: slot.clone(),
            },
        );
        slot
    }

    /// Forgets a client (timeout, disconnect, kill); false if it was served meanwhile.
    pub fn unblock(&mut self, keyspace: &mut Keyspace, id: u64) -> bool {
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

    /// Serves blocked clients whose keys changed, first blocked first served.
    pub fn serve(&mut self, keyspace: &mut Keyspace, now_ms: u64, seed: u64) {
        let mut rounds = 0;
        loop {
            let ready = keyspace.take_ready();
            if ready.is_empty() {
                return;
            }
            for entry in ready {
                while let Some(&id) = self.queues.get(&entry).and_then(|q| q.front()) {
                    rounds += 1;
                    if rounds > SERVE_ROUNDS_MAX {
                        return;
                    }
                    let waiter = &self.waiters[&id];
                    let spec =
                        engine::lookup(&waiter.args[0]).expect("a blocked command is in the table");
                    // Serve only from a key that holds what the command waits for; anything
                    // else (a string put there, say) leaves the client waiting, as in Redis.
                    let wanted = if spec.name.starts_with("bz") {
                        "zset"
                    } else {
                        "list"
                    };
                    let holds = keyspace
                        .db(waiter.db)
                        .get(&entry.1, now_ms)
                        .map(|e| e.value.type_name());
                    if holds != Some(wanted) {
                        break;
                    }
                    let owned = for_key(spec, &waiter.args, &entry.1);
                    let args: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
                    let mut out = ReplyWriter::new(waiter.proto);
                    let mut ex = Exec {
                        ks: keyspace,
                        db: waiter.db,
                        now_ms,
                        seed: seed ^ id,
                        out: &mut out,
                    };
                    ex.run(spec, &args);
                    if keyspace.take_would_block() {
                        // Still nothing for the first in line (the key holds another type, or
                        // another waiter took it); those behind it keep waiting too.
                        break;
                    }
                    let slot = self.waiters[&id].slot.clone();
                    self.unblock(keyspace, id);
                    *slot.reply.lock().expect("slot lock") = Some(out.buf);
                    slot.served.notify_one();
                }
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
