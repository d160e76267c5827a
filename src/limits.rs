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

/// RedisBloom's `bf-initial-size` range tops out here: BF.RESERVE and BF.INSERT refuse a larger
/// capacity (`ERR capacity must be in the range [1, 1073741824]`, `Bad capacity`).
pub const BLOOM_CAPACITY_MAX: i64 = 1 << 30;

/// RedisBloom's `bf-expansion-factor` range tops out here (`ERR expansion must be in the range
/// [0, 32768]`, `Bad expansion`).
pub const BLOOM_EXPANSION_MAX: i64 = 32_768;

/// All bit arrays of one Bloom filter key together, in bytes. RedisBloom allocates whatever the
/// sizing asks for (2^30 items at a tiny error rate is gigabytes); terrarium refuses a filter
/// (or a new sub-filter, or a BF.LOADCHUNK header) that would pass this, with the error
/// RedisBloom gives when that allocation fails. It equals the largest string value.
pub const BLOOM_CHAIN_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// Sub-filters in one chain. Each new sub-filter halves the error rate, so no chain RedisBloom
/// builds can pass 1,074 of them before the rate underflows to zero (with the 0.25 cap, 1,072);
/// a BF.LOADCHUNK header announcing more is refused before anything is allocated.
pub const BLOOM_FILTERS_COUNT_MAX: usize = 1_100;

/// Probes per item in a sub-filter read from a BF.LOADCHUNK header. The smallest non-zero error
/// rate needs ⌈ln2 · 1549.4⌉ = 1,074 probes, so this only refuses headers that would make every
/// lookup loop billions of times.
pub const BLOOM_HASHES_COUNT_MAX: u32 = 1_100;

/// RedisBloom's `MAX_SCANDUMP_SIZE`: a BF.SCANDUMP chunk carries at most this many bytes.
pub const BLOOM_SCANDUMP_CHUNK_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// How deep a script's reply may nest before terrarium answers `reached lua stack limit`, as Redis
/// does when its Lua stack runs out. A table that contains itself would otherwise never end, and
/// converting and encoding recurse once per level on a runtime worker's 2 MiB stack: 200 levels
/// stay far inside it even in a debug build. (Redis itself allows about 2,600.)
pub const SCRIPT_REPLY_DEPTH_MAX: usize = 200;

/// How many Lua VM instructions run between two checks of the script's running time, as in Redis
/// (`lua_sethook(..., LUA_MASKCOUNT, 100000)`): frequent enough to answer SCRIPT KILL within
/// microseconds, rare enough to cost nothing measurable.
pub const SCRIPT_HOOK_INSTRUCTIONS_COUNT: u32 = 100_000;

/// The default `busy-reply-threshold`: after this long, other clients get `-BUSY` and SCRIPT KILL
/// is accepted.
pub const SCRIPT_BUSY_THRESHOLD_MS_DEFAULT: i64 = 5_000;

/// FUNCTION LOAD gives a library's top-level code this long to register its functions, as Redis.
pub const FUNCTION_LOAD_TIMEOUT_MS: u64 = 500;

/// How many scripts run between two incremental garbage-collection steps (Redis's
/// `LUA_GC_CYCLE_PERIOD`): a full collection after each script would add latency to every call.
pub const SCRIPT_GC_PERIOD_CALLS: u32 = 50;

/// PostgreSQL's `MAX_STARTUP_PACKET_LENGTH`: the body of a StartupMessage (or SSLRequest,
/// GSSENCRequest, CancelRequest) after its 4-byte length. A first packet announcing more, or less
/// than the 4-byte version code, is refused before a byte of its body is buffered.
pub const PG_STARTUP_PACKET_BYTES_MAX: usize = 10_000;

/// PostgreSQL's `PQ_LARGE_MESSAGE_LIMIT` (`MaxAllocSize - 1`): the largest Query, Parse, Bind,
/// FunctionCall or CopyData message, length word included. Bytes are buffered only as they arrive,
/// so announcing this much costs nothing until the client actually sends it.
pub const PG_MESSAGE_BYTES_MAX: usize = 0x3fff_fffe;

/// PostgreSQL's `PQ_SMALL_MESSAGE_LIMIT`: every other frontend message (Sync, Flush, Describe,
/// Execute, Close, Terminate, CopyDone, CopyFail) is small by nature, so a bigger length word means
/// the stream is not PostgreSQL's protocol.
pub const PG_SMALL_MESSAGE_BYTES_MAX: usize = 10_000;

/// PostgreSQL's `PG_MAX_AUTH_TOKEN_LENGTH`: a PasswordMessage, SASLInitialResponse or SASLResponse.
pub const PG_AUTH_MESSAGE_BYTES_MAX: usize = 65_535;

/// PostgreSQL's `NAMEDATALEN - 1`: user, database and application names longer than this are cut
/// to this many bytes, as PostgreSQL cuts every identifier.
pub const PG_NAME_BYTES_MAX: usize = 63;

/// PostgreSQL's default `max_connections`: one more client gets `FATAL 53300 sorry, too many
/// clients already` after its StartupMessage, as from a real server.
pub const PG_CONNECTIONS_COUNT_MAX_DEFAULT: usize = 100;

/// COPY FROM STDIN: the longest line (one row, escapes included) terrarium buffers while waiting
/// for its end. PostgreSQL's own bound is `MaxAllocSize` (1 GiB) per line; a row this long is far
/// beyond anything a table here holds comfortably, and a client that never sends a newline must
/// not make the server buffer without end.
pub const PG_COPY_LINE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// COPY FROM STDIN: the most data one COPY may carry. terrarium converts the rows as they arrive
/// but inserts them in one step at CopyDone (so a failure anywhere takes back the whole
/// statement), which keeps them in memory until then; this bounds that memory to what one
/// Query message could carry.
pub const PG_COPY_BYTES_MAX: usize = PG_MESSAGE_BYTES_MAX;

/// Replies to PostgreSQL clients are written out once this many bytes are pending, even before a
/// Sync or Flush, so a query returning a million rows never buffers them all.
pub const PG_SEND_BUFFER_FLUSH_BYTES: usize = 64 * 1024;

/// The largest payload one WAL record may carry (`sql::wal`). Recovery reads a record whole before
/// checking its CRC, so this bounds what a damaged length word can make it reserve; a change bigger
/// than this is refused when it is appended, never written half.
pub const WAL_RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;

/// `sql::wal` writes its buffered records out (without fsync) once this many bytes wait, like
/// PostgreSQL's `wal_buffers` filling up, so a long transaction never holds its whole WAL in memory.
pub const WAL_BUFFER_WRITE_BYTES: usize = 1024 * 1024;

/// Kafka: the largest request frame accepted (`socket.request.max.bytes`, 100 MiB). A size
/// header above it closes the connection before anything is allocated.
pub const KAFKA_REQUEST_BYTES_MAX: usize = 100 * 1024 * 1024;

/// Kafka: the largest record batch accepted (`message.max.bytes`, 1 MiB + 12).
pub const KAFKA_BATCH_BYTES_MAX: usize = 1_048_588;

/// Kafka: topic names are at most 249 characters, as in Kafka.
pub const KAFKA_TOPIC_NAME_BYTES_MAX: usize = 249;

/// Kafka: partitions per topic. Each is a directory and a file handle; Kafka has no fixed
/// limit, but a CreateTopics asking for millions must not exhaust the machine.
pub const KAFKA_PARTITIONS_COUNT_MAX: i32 = 1_000;

/// Kafka: `log.segment.bytes` default (1 GiB).
pub const KAFKA_SEGMENT_BYTES_DEFAULT: u64 = 1024 * 1024 * 1024;

/// Kafka: the longest a Fetch may wait for `min_bytes` (Kafka caps it at the request timeout;
/// terrarium at 30 s, so a client asking for a day still gets an answer).
pub const KAFKA_FETCH_WAIT_MS_MAX: i32 = 30_000;

/// Kafka: `group.initial.rebalance.delay.ms`. Kafka's default is 3000 ms; terrarium waits
/// 500 ms, long enough for consumers started together to land in one generation, short enough
/// that a demo's first assignment does not seem to hang.
pub const KAFKA_INITIAL_REBALANCE_DELAY_MS: i64 = 500;

/// Kafka: how often the group coordinator's clock ticks (session timeouts, rebalance deadlines).
pub const KAFKA_GROUP_TICK_MS: u64 = 100;

/// Kafka: how often retention runs (`log.retention.check.interval.ms`; Kafka checks every 5 minutes,
/// terrarium every 10 seconds so that a demo sees old segments go).
pub const KAFKA_RETENTION_CHECK_MS: i64 = 10_000;

/// Kafka: `log.retention.ms` default, 7 days.
pub const KAFKA_RETENTION_MS_DEFAULT: i64 = 7 * 24 * 3600 * 1000;

/// The longest text `repeat()`, `lpad()` and `rpad()` may build. PostgreSQL's bound is its 1 GB
/// allocation limit; terrarium keeps one a quarter of that, since a statement's strings live in
/// memory beside every table (54000 `requested length too large` past it).
pub const SQL_TEXT_BYTES_MAX: usize = 256 * 1024 * 1024;
