//! Cutting whole frames out of a receive buffer.

use bytes::{Bytes, BytesMut};
use proto::{Header, HeaderError, HEADER_LEN};

/// One whole frame as it arrived: header and body in one buffer shared
/// with the channel's receive buffer (no copy, no allocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    header: Header,
    bytes: Bytes,
}

impl Frame {
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The body after the 20-byte header.
    pub fn body(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }

    /// The exact bytes of the frame, header included (what a signature
    /// covers, and what an echo sends back).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

/// The header of the frame at the front of `buf`, if all of the frame is
/// there.
///
/// A header whose length is over `max_body` is an error as soon as the
/// header is complete, before any body byte is awaited or buffered.
#[inline]
pub(crate) fn whole_frame(buf: &[u8], max_body: u32) -> Result<Option<Header>, HeaderError> {
    if buf.len() < HEADER_LEN {
        // The common end of a read: nothing left to parse.
        return Ok(None);
    }
    let Ok(header) = Header::parse(buf) else {
        return Ok(None);
    };
    header.check_length(max_body)?;
    Ok((buf.len() >= header.frame_len()).then_some(header))
}

impl Frame {
    /// Cuts the whole frame `header` heads off the front of `buf`.
    #[inline]
    pub(crate) fn cut(header: Header, buf: &mut BytesMut) -> Frame {
        let bytes = buf.split_to(header.frame_len()).freeze();
        Frame { header, bytes }
    }
}

/// Bytes still missing to complete the frame at the front of `buf` (only
/// the header's, while it is incomplete). Call after `split_frame`, so a
/// complete header here is known to be within the limit.
#[inline]
pub(crate) fn bytes_missing(buf: &[u8]) -> usize {
    if buf.is_empty() {
        return HEADER_LEN;
    }
    match Header::parse(buf) {
        Ok(header) => header.frame_len().saturating_sub(buf.len()),
        Err(_) => HEADER_LEN - buf.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u32, body: &[u8]) -> Vec<u8> {
        proto::frame_bytes(Header::request(seq, 1, 0), body)
    }

    fn split_frame(buf: &mut BytesMut, max_body: u32) -> Result<Option<Frame>, HeaderError> {
        Ok(whole_frame(buf, max_body)?.map(|header| Frame::cut(header, buf)))
    }

    #[test]
    fn splits_every_whole_frame_and_keeps_the_partial_one() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(1, b"ab"));
        buf.extend_from_slice(&frame(2, b""));
        let third = frame(3, b"xyz");
        buf.extend_from_slice(&third[..21]);
        assert_eq!(split_frame(&mut buf, 64).unwrap().unwrap().body(), b"ab");
        assert_eq!(
            split_frame(&mut buf, 64)
                .unwrap()
                .unwrap()
                .header()
                .sequence,
            2
        );
        assert_eq!(split_frame(&mut buf, 64).unwrap(), None);
        assert_eq!(bytes_missing(&buf), third.len() - 21);
        buf.extend_from_slice(&third[21..]);
        assert_eq!(split_frame(&mut buf, 64).unwrap().unwrap().body(), b"xyz");
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_length_fails_on_the_header_alone() {
        let mut buf = BytesMut::from(&Header::request(1, 1, 0xFFFF_FFF0).to_bytes()[..]);
        assert!(matches!(
            split_frame(&mut buf, 1024),
            Err(HeaderError::TooLong { .. })
        ));
    }

    #[test]
    fn incomplete_header_wants_the_rest_of_it() {
        assert_eq!(bytes_missing(&[0; 5]), 15);
        assert_eq!(bytes_missing(&[]), HEADER_LEN);
    }
}
