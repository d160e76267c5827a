//! Pub/sub: who listens on which channel and pattern, and delivery of PUBLISH.
//!
//! Each subscribed client owns an unbounded channel; PUBLISH pushes a `message` (or `pmessage`)
//! frame into it and the client's connection task writes it out. Delivery never waits on a slow
//! subscriber while holding this registry's lock. Redis likewise buffers per client (and would
//! disconnect a client past `client-output-buffer-limit pubsub`, which terrarium does not do).

use std::collections::HashMap;

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use tokio::sync::mpsc::UnboundedSender;

use crate::kv::glob;
use crate::resp::Frame;

type Subscribers = IndexMap<u64, UnboundedSender<Frame>>;

#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Bytes, Subscribers>,
    patterns: IndexMap<Bytes, Subscribers>,
}

impl PubSub {
    pub fn subscribe(&mut self, channel: Bytes, id: u64, tx: UnboundedSender<Frame>) {
        self.channels.entry(channel).or_default().insert(id, tx);
    }
    pub fn unsubscribe(&mut self, channel: &[u8], id: u64) {
        if let Some(s) = self.channels.get_mut(channel) {
            s.shift_remove(&id);
            if s.is_empty() {
                self.channels.remove(channel);
            }
        }
    }
    pub fn psubscribe(&mut self, pattern: Bytes, id: u64, tx: UnboundedSender<Frame>) {
        self.patterns.entry(pattern).or_default().insert(id, tx);
    }
    pub fn punsubscribe(&mut self, pattern: &[u8], id: u64) {
        if let Some(s) = self.patterns.get_mut(pattern) {
            s.shift_remove(&id);
            if s.is_empty() {
                self.patterns.shift_remove(pattern);
            }
        }
    }
    pub fn remove_client(&mut self, id: u64, channels: &IndexSet<Bytes>, patterns: &IndexSet<Bytes>) {
        for c in channels {
            self.unsubscribe(c, id);
        }
        for p in patterns {
            self.punsubscribe(p, id);
        }
    }

    /// Delivers `message` and returns how many clients received it (channel plus pattern
    /// subscriptions, as Redis counts).
    pub fn publish(&self, channel: &Bytes, message: &Bytes) -> i64 {
        let mut n = 0;
        if let Some(subs) = self.channels.get(channel) {
            for tx in subs.values() {
                let f = Frame::Push(vec![
                    Frame::bulk_str("message"),
                    Frame::Bulk(channel.clone()),
                    Frame::Bulk(message.clone()),
                ]);
                if tx.send(f).is_ok() {
                    n += 1;
                }
            }
        }
        for (pat, subs) in &self.patterns {
            if glob::matches(pat, channel, false) {
                for tx in subs.values() {
                    let f = Frame::Push(vec![
                        Frame::bulk_str("pmessage"),
                        Frame::Bulk(pat.clone()),
                        Frame::Bulk(channel.clone()),
                        Frame::Bulk(message.clone()),
                    ]);
                    if tx.send(f).is_ok() {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// Active channels (with at least one subscriber), optionally filtered by a pattern.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels.keys().filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false))).cloned().collect()
    }
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map(|s| s.len()).unwrap_or(0)
    }
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }
}
