//! The key-value store behind the RESP and line protocols.
//!
//! * [`keyspace`]: the databases, expiry, WATCH bookkeeping and blocked clients.
//! * [`value`]: what a key can hold.
//! * [`zset`]: the sorted set's order-statistics structure (rank queries in O(log n)).
//! * [`cmd`]: one file per command family; each command parses its arguments, then applies.
//! * [`pubsub`]: channels and patterns.
//! * [`glob`]: Redis's glob matcher.

pub mod cmd;
pub mod encoding;
pub mod float;
pub mod glob;
pub mod keyspace;
pub mod notify;
pub mod pubsub;
pub mod rdb;
pub mod value;
pub mod zset;

pub use keyspace::{BlockedOp, Keyspace};
pub use value::Value;
