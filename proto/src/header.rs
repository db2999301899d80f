//! The 20-byte frame header that starts every LavaLite message.

use std::fmt;

/// Size of an encoded [`Header`] in bytes.
pub const HEADER_LEN: usize = 20;

/// The protocol version this crate speaks: major 2, minor 2. Major 2 added
/// connection challenges to the auth block and tags to replies
/// (docs/protocol.md); a peer of major 1 is told so and closed. Minor 1
/// added [`crate::JobOptions`], which a 2.0 submission simply lacks;
/// minor 2 added `bacct`'s and `badmin qclose`'s requests.
pub const VERSION: u32 = 0x0002_0002;

/// The header of one frame: five big-endian `u32` words, in wire order.
///
/// `length` counts the body bytes that follow the header. In requests
/// `status` is 0; in replies it is 0 for success or an error code, with a
/// human-readable message in the body.
///
/// ```
/// use proto::{Header, HEADER_LEN};
/// let h = Header::request(7, 42, 3);
/// let bytes = h.to_bytes();
/// assert_eq!(bytes.len(), HEADER_LEN);
/// assert_eq!(Header::decode(&bytes, 1024).unwrap(), h);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Request id, echoed in the reply.
    pub sequence: u32,
    /// Opcode; each daemon has its own table.
    pub operation: u32,
    /// Protocol version, `VERSION` for this format.
    pub version: u32,
    /// Number of body bytes after the header.
    pub length: u32,
    /// 0 in requests; in replies 0 = ok, otherwise an error code.
    pub status: u32,
}

/// Why a header could not be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`HEADER_LEN`] bytes were given.
    Short { have: usize },
    /// The peer speaks another major version.
    UnsupportedVersion { version: u32 },
    /// The body length exceeds the receiver's limit (this includes any
    /// length that a C peer would read as negative).
    TooLong { length: u32, limit: u32 },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Short { have } => {
                write!(f, "short header: {have} of {HEADER_LEN} bytes")
            }
            HeaderError::UnsupportedVersion { version } => write!(
                f,
                "unsupported protocol version {}.{} (we speak {}.{})",
                version >> 16,
                version & 0xffff,
                VERSION >> 16,
                VERSION & 0xffff
            ),
            HeaderError::TooLong { length, limit } => {
                write!(
                    f,
                    "frame body of {length} bytes exceeds the limit of {limit}"
                )
            }
        }
    }
}

impl std::error::Error for HeaderError {}

impl Header {
    /// A request header for the current version with status 0.
    pub fn request(sequence: u32, operation: u32, length: u32) -> Header {
        Header {
            sequence,
            operation,
            version: VERSION,
            length,
            status: 0,
        }
    }

    /// The reply header for this request: same sequence and operation.
    pub fn reply(&self, status: u32, length: u32) -> Header {
        Header {
            status,
            length,
            version: VERSION,
            ..*self
        }
    }

    /// Encodes the header into its 20 wire bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let words = [
            self.sequence,
            self.operation,
            self.version,
            self.length,
            self.status,
        ];
        for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Reads the five words without judging them; fails only on short input.
    ///
    /// Framing code uses this with [`Header::check_length`] so that a frame
    /// of another version still arrives whole and can be answered.
    pub fn parse(buf: &[u8]) -> Result<Header, HeaderError> {
        let bytes: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(HeaderError::Short { have: buf.len() })?;
        let word =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Ok(Header {
            sequence: word(0),
            operation: word(4),
            version: word(8),
            length: word(12),
            status: word(16),
        })
    }

    /// Decodes and validates a header: enough bytes, same major version,
    /// and a body no longer than `max_body`.
    pub fn decode(buf: &[u8], max_body: u32) -> Result<Header, HeaderError> {
        let header = Header::parse(buf)?;
        header.check_version()?;
        header.check_length(max_body)?;
        Ok(header)
    }

    /// Fails unless the major version equals ours (minor versions are
    /// compatible by definition).
    pub fn check_version(&self) -> Result<(), HeaderError> {
        if self.version >> 16 == VERSION >> 16 {
            Ok(())
        } else {
            Err(HeaderError::UnsupportedVersion {
                version: self.version,
            })
        }
    }

    /// Fails if the body is longer than `max_body`.
    pub fn check_length(&self, max_body: u32) -> Result<(), HeaderError> {
        if self.length <= max_body {
            Ok(())
        } else {
            Err(HeaderError::TooLong {
                length: self.length,
                limit: max_body,
            })
        }
    }

    /// Total frame size: header plus body.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.length as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_big_endian_in_wire_order() {
        let h = Header {
            sequence: 1,
            operation: 2,
            version: VERSION,
            length: 0x0102_0304,
            status: 5,
        };
        let b = h.to_bytes();
        assert_eq!(&b[0..4], &[0, 0, 0, 1]);
        assert_eq!(&b[4..8], &[0, 0, 0, 2]);
        assert_eq!(&b[8..12], &[0, 2, 0, 2]);
        assert_eq!(&b[12..16], &[1, 2, 3, 4]);
        assert_eq!(&b[16..20], &[0, 0, 0, 5]);
    }

    #[test]
    fn short_input_is_reported_with_its_size() {
        assert_eq!(
            Header::decode(&[0u8; 19], 10),
            Err(HeaderError::Short { have: 19 })
        );
    }

    #[test]
    fn other_major_version_is_rejected_minor_accepted() {
        let mut h = Header::request(1, 1, 0);
        h.version = 0x0001_0000;
        assert_eq!(
            Header::decode(&h.to_bytes(), 10),
            Err(HeaderError::UnsupportedVersion {
                version: 0x0001_0000
            })
        );
        h.version = 0x0002_0007;
        assert!(Header::decode(&h.to_bytes(), 10).is_ok());
    }

    #[test]
    fn length_limit_is_inclusive_and_negative_lengths_fail() {
        let ok = Header::request(1, 1, 10);
        assert!(Header::decode(&ok.to_bytes(), 10).is_ok());
        let over = Header::request(1, 1, 11);
        assert_eq!(
            Header::decode(&over.to_bytes(), 10),
            Err(HeaderError::TooLong {
                length: 11,
                limit: 10
            })
        );
        let negative = Header::request(1, 1, 0xFFFF_FFF0);
        assert!(matches!(
            Header::decode(&negative.to_bytes(), u32::MAX / 2),
            Err(HeaderError::TooLong { .. })
        ));
    }

    #[test]
    fn reply_echoes_sequence_and_operation() {
        let req = Header::request(99, 7, 12);
        let rep = req.reply(3, 4);
        assert_eq!(
            (rep.sequence, rep.operation, rep.status, rep.length),
            (99, 7, 3, 4)
        );
    }
}
