//! The frontend decoder: where a connection is in the protocol, and how many bytes make a message.
//!
//! PostgreSQL's stream has two shapes. The first packet (and any after a refused SSLRequest or
//! GSSENCRequest) is untyped: `[len i32][code i32][body]`. Every later message is typed:
//! `[tag u8][len i32][body]`. Which bytes are legal also depends on where the session is:
//!
//! ```text
//!   Startup ──SSLRequest/GSSENCRequest──▶ Startup  (server writes 'N'; the client may go on in clear)
//!      │ ──CancelRequest──▶ (server cancels, closes)
//!      │ StartupMessage
//!      ▼
//!   Messages ◀─────────────────────────────┐   Q P B D E C S H X F d c f   ('p' only while the
//!      │ server starts COPY FROM STDIN     │   server waits for a password: `expect_password`)
//!      ▼                                   │
//!   CopyIn ──CopyDone / CopyFail───────────┘   d c f, and H S ignored as PostgreSQL ignores them
//! ```
//!
//! `decode` is sans-IO: it takes what has arrived and returns `Ok(None)` until a whole message is
//! there. The type byte is judged as soon as it arrives and the length word as soon as its four
//! bytes do, each against a named limit in [`crate::limits`], so nothing is ever reserved for a
//! length the protocol does not allow. Framing faults are FATAL (the stream cannot be realigned);
//! faults inside a well-framed body are ERRORs carrying the message's type byte, so the session
//! can answer them and go on, as PostgreSQL does.

use bytes::{Buf, BytesMut};

use crate::limits::{
    PG_AUTH_MESSAGE_BYTES_MAX, PG_MESSAGE_BYTES_MAX, PG_SMALL_MESSAGE_BYTES_MAX, PG_STARTUP_PACKET_BYTES_MAX,
};
use crate::sql::wire::messages::{
    BackendMessage, FrontendMessage, PasswordKind, ProtocolError, StartupMessage, CANCEL_REQUEST_CODE,
    GSSENC_REQUEST_CODE, SSL_REQUEST_CODE,
};

/// Where the connection is; see the module header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Startup,
    Messages,
    CopyIn,
    /// After a fatal error: nothing more is decoded.
    Closed,
}

/// The stateful frontend decoder.
#[derive(Debug)]
pub struct Decoder {
    phase: Phase,
    /// PostgreSQL accepts one SSLRequest and one GSSENCRequest before the StartupMessage, and a
    /// second of either only after the other was refused (clients may negotiate in either order).
    ssl_done: bool,
    gss_done: bool,
    /// Set by the server when it has asked for a password; consumed by the next 'p'.
    password: Option<PasswordKind>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Decoder { phase: Phase::Startup, ssl_done: false, gss_done: false, password: None }
    }

    /// A decoder past startup, for tests and for clients of the decoder that skip the handshake.
    pub fn after_startup() -> Self {
        Decoder { phase: Phase::Messages, ..Self::new() }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The server sent an Authentication request: the next message must be this kind of 'p'.
    pub fn expect_password(&mut self, kind: PasswordKind) {
        self.password = Some(kind);
    }

    /// The server sent CopyInResponse: CopyData, CopyDone and CopyFail follow.
    pub fn start_copy_in(&mut self) {
        if self.phase == Phase::Messages {
            self.phase = Phase::CopyIn;
        }
    }

    /// The server ended COPY FROM STDIN early (an error in the data): what the client still
    /// sends of it (CopyData, CopyDone, CopyFail) is read as ordinary messages and ignored, and
    /// anything else is allowed again, as PostgreSQL returns to its main loop at once.
    pub fn stop_copy_in(&mut self) {
        if self.phase == Phase::CopyIn {
            self.phase = Phase::Messages;
        }
    }

    /// Decodes one message. `Ok(None)`: the buffer holds no complete message yet.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrontendMessage>, ProtocolError> {
        let r = match self.phase {
            Phase::Startup => self.decode_first_packet(buf),
            Phase::Messages | Phase::CopyIn => self.decode_typed(buf),
            Phase::Closed => Ok(None),
        };
        if matches!(&r, Err(e) if e.is_fatal()) {
            self.phase = Phase::Closed;
        }
        r
    }

    /// `[len][code][body]`, PostgreSQL's `ProcessStartupPacket`.
    fn decode_first_packet(&mut self, buf: &mut BytesMut) -> Result<Option<FrontendMessage>, ProtocolError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        // The body must hold at least the 4-byte code. PostgreSQL logs this and hangs up without
        // a word; terrarium says why first (see protocol-spec/pg.md, DEVIATION).
        if len < 8 || (len - 4) as usize > PG_STARTUP_PACKET_BYTES_MAX {
            return Err(ProtocolError::fatal("invalid length of startup packet"));
        }
        let len = len as usize;
        if buf.len() < len {
            return Ok(None);
        }
        let packet = buf.split_to(len);
        let body = &packet[4..];
        let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        match code {
            CANCEL_REQUEST_CODE => {
                if body.len() != 12 {
                    return Err(ProtocolError::fatal("invalid length of cancel request packet"));
                }
                let process_id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                let secret_key = i32::from_be_bytes([body[8], body[9], body[10], body[11]]);
                Ok(Some(FrontendMessage::CancelRequest { process_id, secret_key }))
            }
            // terrarium has no TLS and no GSSAPI, so each request is refused ('N') and the other
            // becomes allowed again, exactly as after PostgreSQL refuses one.
            SSL_REQUEST_CODE if !self.ssl_done => {
                self.ssl_done = true;
                self.gss_done = false;
                Ok(Some(FrontendMessage::SslRequest))
            }
            GSSENC_REQUEST_CODE if !self.gss_done => {
                self.gss_done = true;
                self.ssl_done = false;
                Ok(Some(FrontendMessage::GssEncRequest))
            }
            // Anything else, a repeated SSLRequest included, is read as a StartupMessage and
            // refused for its version ("unsupported frontend protocol 1234.5679"), as PostgreSQL does.
            _ => {
                let startup = StartupMessage::decode_body(body)?;
                self.phase = Phase::Messages;
                Ok(Some(FrontendMessage::Startup(startup)))
            }
        }
    }

    /// `[tag][len][body]`, PostgreSQL's `SocketBackend` and `pq_getmessage`.
    fn decode_typed(&mut self, buf: &mut BytesMut) -> Result<Option<FrontendMessage>, ProtocolError> {
        let Some(&tag) = buf.first() else { return Ok(None) };
        let max = self.check_tag(tag)?;
        if buf.len() < 5 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        // PostgreSQL logs this one and hangs up; terrarium sends it first (DEVIATION in pg.md).
        if len < 4 || len as usize > max {
            return Err(ProtocolError::fatal("invalid message length"));
        }
        let total = 1 + len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        buf.advance(5);
        let body = buf.split_to(total - 5).freeze();
        let password = if tag == b'p' { self.password.take() } else { None };
        let result = FrontendMessage::decode_typed(tag, body, password);
        if self.phase == Phase::CopyIn && matches!(tag, b'c' | b'f') {
            self.phase = Phase::Messages;
        }
        result.map(Some).map_err(|mut e| {
            e.message_type = Some(tag);
            // Before the session exists PostgreSQL has no way back from an error: every fault in
            // an authentication message ends the connection.
            if password.is_some() {
                e.response.severity = crate::sql::wire::messages::Severity::Fatal;
            }
            e
        })
    }

    /// Whether `tag` may come now, and the largest message of that type.
    fn check_tag(&self, tag: u8) -> Result<usize, ProtocolError> {
        if let Some(kind) = self.password {
            if tag != b'p' {
                let what = if kind == PasswordKind::Password { "password" } else { "SASL" };
                return Err(ProtocolError::fatal(format!("expected {what} response, got message type {tag}")));
            }
            return Ok(PG_AUTH_MESSAGE_BYTES_MAX);
        }
        if self.phase == Phase::CopyIn {
            return match tag {
                b'd' => Ok(PG_MESSAGE_BYTES_MAX),
                b'c' | b'f' | b'H' | b'S' => Ok(PG_SMALL_MESSAGE_BYTES_MAX),
                _ => Err(ProtocolError::fatal(format!("unexpected message type 0x{tag:02X} during COPY from stdin"))),
            };
        }
        match tag {
            b'Q' | b'P' | b'B' | b'F' | b'd' => Ok(PG_MESSAGE_BYTES_MAX),
            b'D' | b'E' | b'C' | b'S' | b'H' | b'X' | b'c' | b'f' => Ok(PG_SMALL_MESSAGE_BYTES_MAX),
            _ => Err(ProtocolError::fatal(format!("invalid frontend message type {tag}"))),
        }
    }
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        ProtocolError::fatal(e.to_string())
    }
}

/// The thin tokio-util adapter: `Framed::new(stream, Decoder::new())` reads FrontendMessages and
/// writes BackendMessages. The decoder stays reachable through `Framed::codec_mut` for
/// `expect_password` and `start_copy_in`.
impl tokio_util::codec::Decoder for Decoder {
    type Item = FrontendMessage;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<FrontendMessage>, ProtocolError> {
        Decoder::decode(self, src)
    }
}

impl tokio_util::codec::Encoder<BackendMessage> for Decoder {
    type Error = ProtocolError;

    fn encode(&mut self, item: BackendMessage, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        item.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sql::wire::messages::{Bind, SqlState, Target};

    fn encoded(m: &FrontendMessage) -> BytesMut {
        let mut b = BytesMut::new();
        m.encode(&mut b);
        b
    }

    /// Encodes a frontend message, then feeds it to a decoder in the right phase one byte at a
    /// time: every prefix must ask for more, and the whole must decode to the same message.
    macro_rules! roundtrip {
        ($decoder:expr, $msg:expr) => {{
            let msg = $msg;
            let bytes = encoded(&msg);
            let mut d = $decoder;
            let mut buf = BytesMut::new();
            for (i, b) in bytes.iter().enumerate() {
                assert_eq!(d.decode(&mut buf).unwrap(), None, "after {i} bytes of {msg:?}");
                buf.extend_from_slice(&[*b]);
            }
            assert_eq!(d.decode(&mut buf).unwrap(), Some(msg));
            assert!(buf.is_empty());
            d
        }};
    }

    #[test]
    fn frontend_messages_roundtrip() {
        roundtrip!(Decoder::new(), FrontendMessage::SslRequest);
        roundtrip!(Decoder::new(), FrontendMessage::GssEncRequest);
        roundtrip!(Decoder::new(), FrontendMessage::CancelRequest { process_id: 77, secret_key: -1 });
        let d = roundtrip!(Decoder::new(), FrontendMessage::Startup(StartupMessage::new("postgres", "db")));
        assert_eq!(d.phase(), Phase::Messages);
        let m = Decoder::after_startup;
        roundtrip!(m(), FrontendMessage::Query { sql: "select 1; select 'é'".into() });
        roundtrip!(
            m(),
            FrontendMessage::Parse { statement: "s1".into(), query: "select $1".into(), param_types: vec![0, 23] }
        );
        roundtrip!(
            m(),
            FrontendMessage::Bind(Bind {
                portal: "p".into(),
                statement: "s1".into(),
                param_formats: vec![1, 0],
                params: vec![Some(Bytes::from_static(b"\0\0\0\x01")), None],
                result_formats: vec![1],
            })
        );
        roundtrip!(m(), FrontendMessage::Describe { target: Target::Statement, name: "s1".into() });
        roundtrip!(m(), FrontendMessage::Describe { target: Target::Portal, name: "".into() });
        roundtrip!(m(), FrontendMessage::Execute { portal: "".into(), max_rows: 10 });
        roundtrip!(m(), FrontendMessage::Close { target: Target::Portal, name: "p".into() });
        roundtrip!(m(), FrontendMessage::Sync);
        roundtrip!(m(), FrontendMessage::Flush);
        roundtrip!(m(), FrontendMessage::Terminate);
        roundtrip!(m(), FrontendMessage::CopyData(Bytes::from_static(b"1\t2\n")));
        roundtrip!(m(), FrontendMessage::CopyDone);
        roundtrip!(m(), FrontendMessage::CopyFail { message: "aborted".into() });
        roundtrip!(
            m(),
            FrontendMessage::FunctionCall {
                function_oid: 1598,
                arg_formats: vec![1],
                args: vec![Some(Bytes::from_static(b"x")), None],
                result_format: 1
            }
        );
        let mut d = m();
        d.expect_password(PasswordKind::Password);
        roundtrip!(d, FrontendMessage::PasswordMessage { password: "secret".into() });
        let mut d = m();
        d.expect_password(PasswordKind::SaslInitial);
        roundtrip!(
            d,
            FrontendMessage::SaslInitialResponse {
                mechanism: "SCRAM-SHA-256".into(),
                data: Some(Bytes::from_static(b"n,,n=,r=abc"))
            }
        );
        let mut d = m();
        d.expect_password(PasswordKind::Sasl);
        roundtrip!(d, FrontendMessage::SaslResponse { data: Bytes::from_static(b"c=biws,r=abc,p=xyz") });
    }

    fn decode_all(d: &mut Decoder, bytes: &[u8]) -> Result<Option<FrontendMessage>, ProtocolError> {
        let mut buf = BytesMut::from(bytes);
        d.decode(&mut buf)
    }

    #[test]
    fn startup_lengths_are_checked_before_buffering() {
        for len in [0i32, 4, 7, 10_005, i32::MAX, -1] {
            let e = decode_all(&mut Decoder::new(), &len.to_be_bytes()).unwrap_err();
            assert_eq!(e.message(), "invalid length of startup packet", "len {len}");
            assert_eq!(e.code(), SqlState::PROTOCOL_VIOLATION);
            assert!(e.is_fatal());
        }
        // The largest allowed body is waited for, not refused.
        assert_eq!(decode_all(&mut Decoder::new(), &10_004i32.to_be_bytes()).unwrap(), None);
    }

    #[test]
    fn ssl_and_gss_alternate_like_postgres() {
        let mut d = Decoder::new();
        let ssl = encoded(&FrontendMessage::SslRequest);
        let gss = encoded(&FrontendMessage::GssEncRequest);
        assert_eq!(decode_all(&mut d, &ssl).unwrap(), Some(FrontendMessage::SslRequest));
        assert_eq!(decode_all(&mut d, &gss).unwrap(), Some(FrontendMessage::GssEncRequest));
        assert_eq!(decode_all(&mut d, &ssl).unwrap(), Some(FrontendMessage::SslRequest));
        let e = decode_all(&mut d, &ssl).unwrap_err();
        assert_eq!(e.message(), "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0");
        assert_eq!(d.phase(), Phase::Closed);
    }

    #[test]
    fn framing_faults_are_fatal_with_postgres_texts() {
        let e = decode_all(&mut Decoder::after_startup(), b"z").unwrap_err();
        assert_eq!(e.message(), "invalid frontend message type 122");
        assert!(e.is_fatal());
        let e = decode_all(&mut Decoder::after_startup(), b"p\0\0\0\x04").unwrap_err();
        assert_eq!(e.message(), "invalid frontend message type 112", "a password nobody asked for");
        for (tag, len) in [(b'Q', 0x7fff_ffffi32), (b'Q', 3), (b'Q', -5), (b'S', 10_001)] {
            let mut bytes = vec![tag];
            bytes.extend_from_slice(&len.to_be_bytes());
            let e = decode_all(&mut Decoder::after_startup(), &bytes).unwrap_err();
            assert_eq!(e.message(), "invalid message length", "{} {len}", tag as char);
            assert!(e.is_fatal());
        }
        let mut d = Decoder::after_startup();
        d.expect_password(PasswordKind::SaslInitial);
        let e = decode_all(&mut d, b"Q\0\0\0\x05\0").unwrap_err();
        assert_eq!(e.message(), "expected SASL response, got message type 81");
    }

    #[test]
    fn body_faults_are_errors_that_keep_the_stream() {
        let mut d = Decoder::after_startup();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"Q\0\0\0\x0cselect 1"); // no NUL
        buf.extend_from_slice(b"S\0\0\0\x05x"); // Sync with a body
        buf.extend_from_slice(b"D\0\0\0\x06X\0"); // Describe of neither S nor P
        buf.extend_from_slice(b"S\0\0\0\x04");
        let e = d.decode(&mut buf).unwrap_err();
        assert_eq!((e.message(), e.message_type, e.is_fatal()), ("invalid string in message", Some(b'Q'), false));
        let e = d.decode(&mut buf).unwrap_err();
        assert_eq!((e.message(), e.message_type), ("invalid message format", Some(b'S')));
        let e = d.decode(&mut buf).unwrap_err();
        assert_eq!(e.message(), "invalid DESCRIBE message subtype 88");
        assert_eq!(d.decode(&mut buf).unwrap(), Some(FrontendMessage::Sync));
    }

    #[test]
    fn absurd_counts_allocate_nothing() {
        // Parse announcing 65535 parameter types with none present, and Bind announcing 65535
        // values: refused once the bytes run out, never reserved up front.
        let mut d = Decoder::after_startup();
        let e = decode_all(&mut d, b"P\0\0\0\x08\0\0\xff\xff").unwrap_err();
        assert_eq!(e.message(), "insufficient data left in message");
        let e = decode_all(&mut d, b"B\0\0\0\x0a\0\0\0\0\xff\xff").unwrap_err();
        assert_eq!(e.message(), "insufficient data left in message");
        let e = decode_all(&mut d, b"B\0\0\0\x12\0\0\0\x02\0\0\0\0\0\x01\xff\xff\xff\xfe").unwrap_err();
        assert_eq!(e.message(), "bind message has 2 parameter formats but 1 parameters");
    }

    #[test]
    fn copy_in_accepts_only_copy_messages() {
        let mut d = Decoder::after_startup();
        d.start_copy_in();
        assert_eq!(decode_all(&mut d, b"H\0\0\0\x04").unwrap(), Some(FrontendMessage::Flush));
        assert_eq!(decode_all(&mut d, b"c\0\0\0\x04").unwrap(), Some(FrontendMessage::CopyDone));
        assert_eq!(d.phase(), Phase::Messages);
        d.start_copy_in();
        let e = decode_all(&mut d, b"Q\0\0\0\x05\0").unwrap_err();
        assert_eq!(e.message(), "unexpected message type 0x51 during COPY from stdin");
    }
}
