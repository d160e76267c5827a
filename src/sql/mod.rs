//! The PostgreSQL-wire SQL store.
//!
//! # Life of a query (so far)
//!
//! ```text
//!  psql ──TCP──▶ sql::server (one task per connection)
//!                  │  bytes ─▶ sql::wire::Decoder ─▶ FrontendMessage        (sans-IO, limits checked)
//!                  │  Query / Parse / Bind / Describe / Execute / Sync ...
//!                  ▼
//!                Engine (trait) ── today: server::standin::StandIn (literal SELECTs, BEGIN/COMMIT/ROLLBACK)
//!                  │                 next:  parser → planner → executor → MVCC → WAL
//!                  ▼
//!  psql ◀──TCP── BackendMessage::encode  (RowDescription, DataRow, CommandComplete, ReadyForQuery ...)
//! ```
//!
//! [`wire`] knows bytes and nothing about SQL; [`server`] knows the protocol's order (which reply
//! each message gets, skip-until-Sync, ReadyForQuery's status, cancel keys) and hands meaning to
//! an [`server::Engine`]. The engine knows SQL and nothing about sockets.

pub mod activity;
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
