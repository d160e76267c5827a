//! PostgreSQL's frontend/backend protocol 3.0, hand-written and sans-IO.
//!
//! - [`messages`]: every message as a typed value, both directions, with PostgreSQL's error texts
//!   for malformed bodies and the SQLSTATE codes terrarium uses.
//! - [`codec`]: the stateful [`Decoder`] (first packet, then typed messages, password and COPY
//!   sub-states), with every length checked against [`crate::limits`] before a byte is buffered.
//!
//! Nothing here touches a socket or a table: `sql::server` drives the codec over TCP and hands
//! each query to an `Engine`. The byte layouts, the limits and every known difference from
//! PostgreSQL 15 are in `protocol-spec/pg.md`.
//!
//! A session, as the bytes go (`F>` client, `<B` server), for `psql -c 'select 1'`:
//!
//! ```text
//! F> SSLRequest                      <B 'N'               (no TLS: the client carries on in clear)
//! F> StartupMessage 3.0 {user, database, application_name}
//! <B AuthenticationOk   <B ParameterStatus × 13   <B BackendKeyData   <B ReadyForQuery 'I'
//! F> Query "select 1"
//! <B RowDescription [?column? int4]   <B DataRow ["1"]   <B CommandComplete "SELECT 1"
//! <B ReadyForQuery 'I'
//! F> Terminate
//! ```

pub mod codec;
pub mod messages;

pub use codec::{Decoder, Phase};
pub use messages::{
    oid, Authentication, BackendMessage, Bind, CopyResponse, ErrorResponse, FieldDescription, FrontendMessage, Oid,
    PasswordKind, ProtocolError, ProtocolVersion, Replication, Severity, SqlState, StartupMessage, Target,
    TransactionStatus, FORMAT_BINARY, FORMAT_TEXT,
};
