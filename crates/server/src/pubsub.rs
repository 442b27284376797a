//! Pub/sub: who listens to which channel, pattern or shard channel, and each client's mailbox of
//! messages waiting to be written.
//!
//! A publisher appends to each receiver's mailbox and wakes it; the receiver's connection task
//! encodes the messages for its own protocol (RESP3 push, or RESP2 array) and writes them. A
//! mailbox is bounded in bytes (`client-output-buffer-limit pubsub`, by default Redis's 32 MiB
//! hard limit and 8 MiB for 60 seconds soft limit): a subscriber that stops reading is
//! disconnected instead of growing memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::server::ClientHandle;

use crate::config::OutputLimit;

#[derive(Clone, Debug)]
pub enum Message {
    Message {
        channel: Bytes,
        payload: Bytes,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        payload: Bytes,
    },
    SMessage {
        channel: Bytes,
        payload: Bytes,
    },
}

impl Message {
    fn bytes(&self) -> usize {
        match self {
            Message::Message { channel, payload } | Message::SMessage { channel, payload } => {
                channel.len() + payload.len() + 32
            }
            Message::PMessage {
                pattern,
                channel,
                payload,
            } => pattern.len() + channel.len() + payload.len() + 48,
        }
    }
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<Message>,
    bytes: usize,
    /// Since when `bytes` has been at or over the soft limit.
    soft_since: Option<tokio::time::Instant>,
}

/// Messages waiting for one client.
#[derive(Default)]
pub struct Mailbox {
    queue: Mutex<Queue>,
    pub ready: Notify,
    overflowed: AtomicBool,
}

impl Mailbox {
    /// Queues `message`; false (and nothing queued) if the mailbox would reach `limit`'s hard
    /// limit, or has been at or over its soft limit for more than its seconds.
    fn post(&self, message: Message, limit: OutputLimit) -> bool {
        let mut queue = self.queue.lock().expect("mailbox lock");
        let bytes = queue.bytes + message.bytes();
        let over_hard = limit.hard > 0 && bytes >= limit.hard;
        let over_soft = limit.soft > 0 && bytes >= limit.soft && {
            let now = tokio::time::Instant::now();
            let since = *queue.soft_since.get_or_insert(now);
            now.duration_since(since) > std::time::Duration::from_secs(limit.soft_seconds)
        };
        if over_hard || over_soft {
            self.overflowed.store(true, Ordering::SeqCst);
            return false;
        }
        queue.messages.push_back(message);
        queue.bytes = bytes;
        drop(queue);
        self.ready.notify_one();
        true
    }

    /// Everything queued, oldest first.
    pub fn take(&self) -> VecDeque<Message> {
        let mut queue = self.queue.lock().expect("mailbox lock");
        queue.bytes = 0;
        queue.soft_since = None;
        std::mem::take(&mut queue.messages)
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

type Listeners = HashMap<Bytes, HashMap<u64, Arc<ClientHandle>>>;

pub struct Registry {
    channels: Listeners,
    patterns: Listeners,
    shards: Listeners,
    /// `client-output-buffer-limit pubsub`, kept here for every delivery.
    pub limit: OutputLimit,
}

impl Registry {
    pub fn new(limit: OutputLimit) -> Registry {
        Registry {
            channels: Listeners::default(),
            patterns: Listeners::default(),
            shards: Listeners::default(),
            limit,
        }
    }
}

impl Registry {
    fn of(&mut self, kind: Kind) -> &mut Listeners {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shards,
        }
    }

    pub fn subscribe(&mut self, kind: Kind, name: &[u8], client: &Arc<ClientHandle>) {
        self.of(kind)
            .entry(Bytes::copy_from_slice(name))
            .or_default()
            .insert(client.id, client.clone());
    }

    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8], client_id: u64) {
        let listeners = self.of(kind);
        if let Some(clients) = listeners.get_mut(name) {
            clients.remove(&client_id);
            if clients.is_empty() {
                listeners.remove(name);
            }
        }
    }

    /// Delivers to every subscriber of `channel` and every matching pattern; returns how many
    /// received it. A subscriber whose mailbox is full is killed.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let channel = Bytes::copy_from_slice(channel);
        let payload = Bytes::copy_from_slice(payload);
        let mut received = 0;
        if let Some(clients) = self.channels.get(&channel) {
            for client in clients.values() {
                received += deliver(
                    client,
                    Message::Message {
                        channel: channel.clone(),
                        payload: payload.clone(),
                    },
                    self.limit,
                );
            }
        }
        for (pattern, clients) in &self.patterns {
            if engine::glob_match(pattern, &channel) {
                for client in clients.values() {
                    let message = Message::PMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    received += deliver(client, message, self.limit);
                }
            }
        }
        received
    }

    pub fn spublish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let channel = Bytes::copy_from_slice(channel);
        let payload = Bytes::copy_from_slice(payload);
        let Some(clients) = self.shards.get(&channel) else {
            return 0;
        };
        clients
            .values()
            .map(|c| {
                deliver(
                    c,
                    Message::SMessage {
                        channel: channel.clone(),
                        payload: payload.clone(),
                    },
                    self.limit,
                )
            })
            .sum()
    }

    /// Active channels (with at least one subscriber) matching `pattern`.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let listeners = match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shards,
        };
        listeners
            .keys()
            .filter(|n| pattern.is_none_or(|p| engine::glob_match(p, n)))
            .cloned()
            .collect()
    }

    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        let listeners = match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shards,
        };
        listeners.get(name).map_or(0, HashMap::len)
    }

    /// Distinct patterns subscribed to (PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
}

fn deliver(client: &ClientHandle, message: Message, limit: OutputLimit) -> usize {
    if client.mailbox.post(message, limit) {
        1
    } else {
        tracing::warn!(
            "closing client {}: pub/sub output over its limit",
            client.id
        );
        client.killed.store(true, Ordering::SeqCst);
        client.kill.notify_one();
        0
    }
}
