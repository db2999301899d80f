//! The commands' side of a channel: one blocking TCP exchange at a time,
//! with timeouts, for clients that have nothing else to wait on.

use proto::{Header, HEADER_LEN};
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connects within `connect`; reads and writes then time out after `reply`.
pub fn connect(addr: SocketAddr, connect: Duration, reply: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, connect)?;
    stream.set_read_timeout(Some(reply))?;
    stream.set_write_timeout(Some(reply))?;
    Ok(stream)
}

/// Reads one whole frame: its header and body. A header that is not
/// LavaLite's, or a body over `max_body`, is `InvalidData`.
pub fn read_frame(r: &mut impl Read, max_body: u32) -> io::Result<(Header, Vec<u8>)> {
    let mut head = [0u8; HEADER_LEN];
    r.read_exact(&mut head)?;
    let header = Header::decode(&head, max_body)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut body = vec![0; header.length as usize];
    r.read_exact(&mut body)?;
    Ok((header, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whole_and_oversized_ones_refused() {
        let frame = proto::frame_bytes(Header::request(4, 9, 0), b"body");
        let (header, body) = read_frame(&mut &frame[..], 16).unwrap();
        assert_eq!((header.sequence, body.as_slice()), (4, &b"body"[..]));
        let err = read_frame(&mut &frame[..], 3).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_frame(&mut &frame[..22], 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
