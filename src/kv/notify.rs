//! Keyspace notifications: `notify-keyspace-events` and the `__keyspace@<db>__:<key>` and
//! `__keyevent@<db>__:<event>` channels.
//!
//! A command that changes a key calls `Ctx::notify(class, event, key)` after the change, with
//! Redis's event name (`lpush`, `hset`, `expire`, `del`, ...); expiry and eviction inside the
//! keyspace do the same. Events whose class is switched off cost one bit test. The ones that
//! pass are queued in the keyspace ([`Keyspace::notify`]) and published after the command, by
//! [`publish_pending`], rather than straight away: the keyspace does not own the pub/sub
//! registry (a separate lock, so PUBLISH never waits for a long command), and a subscriber
//! cannot tell the difference, because its messages travel through its connection's queue
//! either way and are written after the command that caused them.
//!
//! [`Keyspace::notify`]: crate::kv::Keyspace::notify

use bytes::{BufMut, Bytes, BytesMut};

use crate::kv::pubsub::PubSub;

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m, not part of A
pub const MODULE: u32 = 1 << 13; // d
pub const NEW: u32 = 1 << 14; // n, not part of A
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's error for a character that names no class.
pub const INVALID_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// One queued notification.
#[derive(Debug, Clone)]
pub struct Event {
    pub db: usize,
    pub event: &'static str,
    pub key: Bytes,
}

/// `notify-keyspace-events` text to flags (`keyspaceEventsStringToFlags`); `None` if a
/// character names no class.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Flags back to the text CONFIG GET shows (`keyspaceEventsFlagsToString`): `A` when every
/// class in it is on, otherwise the classes in Redis's fixed order; then K, E and m.
pub fn flags_text(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Publishes queued events on the channels `flags` asks for.
pub fn publish_pending(events: &mut Vec<Event>, flags: u32, pubsub: &PubSub) {
    for e in events.drain(..) {
        let event = Bytes::from_static(e.event.as_bytes());
        if flags & KEYSPACE != 0 {
            let channel = channel("__keyspace@", e.db, &e.key);
            pubsub.publish(&channel, &event);
        }
        if flags & KEYEVENT != 0 {
            let channel = channel("__keyevent@", e.db, e.event.as_bytes());
            pubsub.publish(&channel, &e.key);
        }
    }
}

fn channel(prefix: &str, db: usize, tail: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(prefix.len() + 8 + tail.len());
    b.put_slice(prefix.as_bytes());
    b.put_slice(db.to_string().as_bytes());
    b.put_slice(b"__:");
    b.put_slice(tail);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        for (input, shown) in
            [("gKE", "gKE"), ("$lshzxeKE", "$lshzxeKE"), ("KA", "AK"), ("EA", "AE"), ("", ""), ("Kn", "nK")]
        {
            assert_eq!(flags_text(parse_flags(input).unwrap()), shown, "{input}");
        }
        assert_eq!(parse_flags("Kq"), None);
    }
}
