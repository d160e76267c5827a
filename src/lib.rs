//! terrarium: the infrastructure backend engineers use every day, re-implemented in one
//! process so it can be run, connected to with the real tools, diffed against the real thing,
//! and read.
//!
//! # Crate map
//!
//! | module          | what it is                                                            |
//! |-----------------|-----------------------------------------------------------------------|
//! | [`server`]      | listeners, sessions, limits, shutdown; walks one request end to end    |
//! | [`resp`]        | the RESP2/RESP3 codec, hand-written                                    |
//! | [`kv`]          | the keyspace (single owner), values, and one file per command family  |
//! | [`script`]      | Lua 5.1 scripting: EVAL, SCRIPT, FUNCTION/FCALL, the sandbox, libraries |
//! | [`line`]        | the course's text protocol on :9999, sharing db 0 with RESP            |
//! | [`diff`]        | the differential runner: same commands to terrarium and real Redis     |
//! | [`geo`]         | geohash scores, the nine-cell search, distances (GEO* commands)        |
//! | [`bloom`]       | RedisBloom's scalable Bloom filter, bit-exact (BF.* commands)          |
//! | [`cluster`]     | consistent hashing with virtual nodes (a demo's library; no sharding) |
//! | [`broker`]      | the Kafka-wire broker: partitioned logs on disk, Produce/Fetch         |
//! | [`sql`]         | the PostgreSQL-wire SQL store: protocol 3.0 codec, sessions, engine seam |
//! | [`limits`]      | every limit, named, with units last                                     |
//! | [`clock`]       | time as a parameter                                                     |
//!
//! Reading order: `resp::codec` (bytes to argv), `server::conn` (the loop), `kv::cmd` (dispatch),
//! `kv::keyspace` (storage, expiry, WATCH, blocking), then any command family.

pub mod bloom;
pub mod broker;
pub mod clock;
pub mod cluster;
pub mod diff;
pub mod geo;
pub mod kv;
pub mod limits;
pub mod line;
pub mod resp;
pub mod script;
pub mod server;
pub mod sql;

/// Every allocation is counted, as Redis's zmalloc counts, so that INFO's `used_memory` and
/// `maxmemory` mean what they mean in Redis (see `server::memory`).
#[global_allocator]
static ALLOCATOR: server::memory::CountingAllocator = server::memory::CountingAllocator;
