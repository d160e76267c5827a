//! Line framing with a length limit. `\n` ends a line; a `\r` before it is dropped.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use crate::limits::LINE_PROTO_LINE_BYTES_MAX;

#[derive(Debug)]
pub enum LineError {
    TooLong,
    Io(std::io::Error),
}

impl From<std::io::Error> for LineError {
    fn from(e: std::io::Error) -> Self {
        LineError::Io(e)
    }
}

#[derive(Debug, Default)]
pub struct LineCodec {
    /// How far the buffer has already been searched for `\n`, so a long line arriving in many
    /// small reads is scanned once, not once per read.
    scanned: usize,
}

impl Decoder for LineCodec {
    type Item = Vec<u8>;
    type Error = LineError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<u8>>, LineError> {
        match src[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                self.scanned = 0;
                if end > LINE_PROTO_LINE_BYTES_MAX {
                    return Err(LineError::TooLong);
                }
                let mut line = src.split_to(end).to_vec();
                src.advance(1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Ok(Some(line))
            }
            None => {
                self.scanned = src.len();
                if src.len() > LINE_PROTO_LINE_BYTES_MAX {
                    return Err(LineError::TooLong);
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_joined_lines() {
        let mut c = LineCodec::default();
        let mut b = BytesMut::from(&b"SET a b"[..]);
        assert!(c.decode(&mut b).unwrap().is_none());
        b.extend_from_slice(b" c\r\nGET a\nPI");
        assert_eq!(c.decode(&mut b).unwrap().unwrap(), b"SET a b c");
        assert_eq!(c.decode(&mut b).unwrap().unwrap(), b"GET a");
        assert!(c.decode(&mut b).unwrap().is_none());
        b.extend_from_slice(b"NG\n");
        assert_eq!(c.decode(&mut b).unwrap().unwrap(), b"PING");
    }

    #[test]
    fn too_long() {
        let mut c = LineCodec::default();
        let mut b = BytesMut::from(&vec![b'x'; LINE_PROTO_LINE_BYTES_MAX + 1][..]);
        assert!(matches!(c.decode(&mut b), Err(LineError::TooLong)));
    }
}
