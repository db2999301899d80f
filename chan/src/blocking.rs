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

/// [`read_frame`] on a connection made by [`connect`]: a reply that does
/// not come in time is `TimedOut` saying how long it waited (a bare read
/// timeout reads "Resource temporarily unavailable").
pub fn read_reply(stream: &mut TcpStream, max_body: u32) -> io::Result<(Header, Vec<u8>)> {
    read_frame(stream, max_body).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            let waited = stream.read_timeout().ok().flatten().unwrap_or_default();
            let waited = format!("timed out after {}s", waited.as_secs_f64());
            io::Error::new(io::ErrorKind::TimedOut, waited)
        }
        _ => e,
    })
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

    #[test]
    fn a_reply_that_does_not_come_says_how_long_it_was_waited_for() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let wait = Duration::from_millis(200);
        let mut stream = connect(addr, wait, wait).unwrap();
        let err = read_reply(&mut stream, 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "timed out after 0.2s");
    }
}
