//! The PostgreSQL-wire SQL store.
//!
//! # Life of a query, from socket to disk
//!
//! ```text
//!  psql ──TCP──▶ sql::server (one task per connection)
//!                  │  bytes ─▶ sql::wire::Decoder ─▶ FrontendMessage        (sans-IO, limits checked)
//!                  │  Query / Parse / Bind / Describe / Execute / Sync ...
//!                  ▼
//!                sql::engine::SqlEngine (the server::Engine)
//!                  │  parse (sqlparser, PostgreSqlDialect; Parse reuses what it parsed before)
//!                  │  lock the Database once per statement
//!                  ▼
//!                sql::exec::execute ── plan, read through an MVCC snapshot (sql::mvcc),
//!                  │                   write new row versions, check constraints,
//!                  │                   collect the transaction's WAL entries
//!                  ▼ COMMIT
//!                sql::wal ── append the entries and a Commit record, write them to the OS;
//!                  │          unlock; wait for the group fsync (one fsync for all commits
//!                  │          that arrived meanwhile); then the commit becomes visible
//!                  ▼
//!  psql ◀──TCP── BackendMessage::encode  (RowDescription, DataRow, CommandComplete, ReadyForQuery ...)
//!
//!  every checkpoint_timeout, past max_wal_size, or on CHECKPOINT:
//!                sql::checkpoint ── the committed rows to pg_wal/checkpoint; the log starts afresh
//!  start-up:     checkpoint + the log after it ─▶ replay ─▶ end-of-recovery checkpoint
//! ```
//!
//! [`wire`] knows bytes and nothing about SQL; [`server`] knows the protocol's order (which reply
//! each message gets, skip-until-Sync, ReadyForQuery's status, cancel keys) and hands meaning to
//! an [`server::Engine`]. The engine knows SQL and nothing about sockets.

pub mod activity;
pub mod checkpoint;
pub mod copy;
pub mod engine;
pub mod exec;
pub mod guc;
pub mod mvcc;
pub mod scram;
pub mod server;
pub mod types;
pub mod wal;
pub mod wire;
