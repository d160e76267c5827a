//! Every limit terrarium enforces, in one place, each with the reason it exists.
//!
//! Names follow the TigerStyle habit of putting units last (`_BYTES_MAX`, `_COUNT_MAX`), so a
//! reader never has to guess whether a number counts bytes, items or milliseconds. Anything
//! read from the network is checked against one of these *before* memory is reserved for it.

/// Redis's `proto-max-bulk-len` default: the largest bulk string a client may send. A header
/// that announces more is answered with `Protocol error: invalid bulk length` and the
/// connection is closed, before a single byte of the payload is buffered.
pub const BULK_LEN_BYTES_MAX: i64 = 512 * 1024 * 1024;

/// The largest element count a multibulk header may announce. Redis 7 accepts up to
/// `INT_MAX`; what keeps this safe is [`ARGV_PREALLOC_COUNT_MAX`], not this number.
pub const MULTIBULK_COUNT_MAX: i64 = i32::MAX as i64;

/// However many arguments a header announces, at most this many slots are reserved up front.
/// The rest grow as arguments actually arrive, so `*2147483647\r\n` costs nothing.
pub const ARGV_PREALLOC_COUNT_MAX: usize = 1024;

/// Redis's `PROTO_INLINE_MAX_SIZE`: an inline command (or a `*`/`$` header line) longer than
/// this without a newline is `Protocol error: too big inline request`.
pub const INLINE_LINE_BYTES_MAX: usize = 64 * 1024;

/// Redis's `proto-max-bulk-len` also caps the size a string value may grow to by APPEND,
/// SETRANGE and SETBIT (`string exceeds maximum allowed size`).
pub const STRING_VALUE_BYTES_MAX: usize = 512 * 1024 * 1024;

/// Default `--maxclients`, as in Redis.
pub const CLIENTS_COUNT_MAX_DEFAULT: usize = 10_000;

/// Redis's databases default: SELECT accepts 0..16.
pub const DATABASES_COUNT: usize = 16;

/// The line protocol on :9999 refuses a line longer than this (it is meant for people typing
/// into `nc`, and a value of a few kilobytes is already generous there).
pub const LINE_PROTO_LINE_BYTES_MAX: usize = 64 * 1024;

/// The active expiry cycle removes at most this many keys per tick, so one tick never stalls
/// the keyspace for long even when a million keys expire at the same millisecond.
pub const ACTIVE_EXPIRE_KEYS_PER_TICK_MAX: usize = 2_000;

/// How often the active expiry cycle runs (Redis's default `hz 10`).
pub const ACTIVE_EXPIRE_INTERVAL_MS: u64 = 100;

/// Sets of integers up to this size keep Redis's `intset` ordering (`set-max-intset-entries`).
pub const SET_MAX_INTSET_ENTRIES: usize = 512;

/// Hashes and sorted sets up to this many entries report `listpack` (`hash-max-listpack-entries`).
pub const LISTPACK_ENTRIES_MAX: usize = 128;

/// ... and only while every field/member is at most this long (`hash-max-listpack-value`).
pub const LISTPACK_VALUE_BYTES_MAX: usize = 64;

/// A reply bigger than this is written out before more commands of a pipeline are run, so a
/// client pipelining LRANGEs cannot make the server buffer gigabytes.
pub const REPLY_BUFFER_FLUSH_BYTES: usize = 64 * 1024;

/// A random reply with repetitions (HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a negative
/// count) holds at most this many elements. Redis would try to build a reply of any size the
/// client asks for; terrarium answers "value is out of range" instead of allocating gigabytes
/// for one request.
pub const RANDOM_REPEAT_COUNT_MAX: u64 = 1_000_000;
