//! RESP, the Redis serialization protocol, versions 2 and 3.
//!
//! Two halves that never meet: [`codec`] turns bytes from a client into argument vectors
//! (requests are always arrays of bulk strings, or an inline line typed by a person), and
//! [`frame`] turns replies into bytes. Replies are built once as a [`Frame`] and rendered for
//! the protocol the client chose with `HELLO`, so a command never needs to know whether it is
//! talking RESP2 or RESP3 except where Redis itself changes the *shape* of a reply (ZRANGE
//! WITHSCORES becomes an array of pairs in RESP3, for example).
//!
//! See `protocol-spec/resp.md` for the grammar as implemented and every deviation.

pub mod codec;
pub mod frame;

pub use codec::{ProtocolError, RequestDecoder};
pub use frame::{fmt_double, Frame};
