//! The course's text protocol on :9999, for people typing into `nc` or `telnet`.
//!
//! ```text
//!   client                          server
//!   SET greeting hello world\n  ──▶ +OK\n
//!   GET greeting\n              ──▶ $11\nhello world\n
//!   GET nope\n                  ──▶ -ERROR: key not found\n
//!   DEL greeting\n              ──▶ +OK\n
//!   PING\n                      ──▶ +PONG\n
//!   QUIT\n                      ──▶ +BYE\n   (then the server closes)
//! ```
//!
//! The lesson is framing: TCP delivers a byte stream, not messages, so a command split across two
//! reads must be reassembled and several commands in one read must all be answered. The
//! [`codec::LineCodec`] does exactly that by buffering until `\n`. It shares database 0 with the
//! RESP server, so `redis-cli GET greeting` sees what `nc` set. The full grammar, with every
//! error text, is in `protocol-spec/line.md`.

pub mod cmd;
pub mod codec;

use std::sync::Arc;

use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use crate::server::Shared;
use codec::{LineCodec, LineError};

/// Serves one line-protocol client.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = FramedRead::new(rd, LineCodec::default());
    let mut shutdown = shared.shutdown.subscribe();
    let mut out = BytesMut::new();
    loop {
        let item = tokio::select! {
            i = lines.next() => i,
            _ = shutdown.changed() => None,
        };
        let Some(item) = item else { break };
        let close = match item {
            Ok(line) => {
                let (reply, close) = cmd::execute(&shared, &line).await;
                out.extend_from_slice(&reply);
                close
            }
            Err(LineError::TooLong) => {
                out.extend_from_slice(
                    format!("-ERROR: line too long (max {} bytes)\n", crate::limits::LINE_PROTO_LINE_BYTES_MAX)
                        .as_bytes(),
                );
                true
            }
            Err(LineError::Io(_)) => break,
        };
        // Answer everything already buffered before writing, so a burst of commands in one
        // read is answered with one write.
        if close || lines.read_buffer().iter().all(|&b| b != b'\n') {
            if wr.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        if close {
            break;
        }
    }
    let _ = wr.write_all(&out).await;
    let _ = wr.shutdown().await;
}
