//! `proto` is LavaLite's wire format: the 20-byte frame header, XDR-style
//! message bodies, and the signed auth block.
//!
//! It is pure: no sockets, no clock, no files. Callers hand it bytes (and
//! the time, where a check needs it) and get values or typed errors back.
//! Framing a byte stream is `chan`'s job. Each daemon's opcodes and
//! messages are a module here ([`lim`], [`mbd`], [`sbd`]), documented in docs/protocol.md.

pub mod auth;
mod header;
pub mod lim;
pub mod mbd;
mod options;
pub mod sbd;
pub mod xdr;

/// Re-exported for [`xdr_struct!`]'s expansion.
pub use bytes;

pub use header::{Header, HeaderError, HEADER_LEN, VERSION};
pub use options::JobOptions;
pub use xdr::{Decode, DecodeError, Encode, Reader};

use bytes::{BufMut, BytesMut};

/// Appends a whole frame to `out`: `header` with its `length` set to the
/// encoded size of `body`, then the body.
///
/// ```
/// let mut out = bytes::BytesMut::new();
/// proto::encode_frame(proto::Header::request(1, 5, 0), &"hi".to_string(), &mut out);
/// let h = proto::Header::decode(&out, 64).unwrap();
/// assert_eq!((h.length, out.len()), (8, 28));
/// ```
pub fn encode_frame<T: Encode + ?Sized>(header: Header, body: &T, out: &mut BytesMut) {
    let start = out.len();
    out.put_slice(&header.to_bytes());
    body.encode(out);
    let length = (out.len() - start - HEADER_LEN) as u32;
    out[start + 12..start + 16].copy_from_slice(&length.to_be_bytes());
}

/// A whole frame as one buffer: `header` with its `length` set to
/// `body.len()`, then `body` as raw bytes (already encoded, or opaque).
///
/// ```
/// let f = proto::frame_bytes(proto::Header::request(3, 1, 0), b"abc");
/// assert_eq!((f.len(), proto::Header::decode(&f, 8).unwrap().length), (23, 3));
/// ```
pub fn frame_bytes(header: Header, body: &[u8]) -> Vec<u8> {
    let header = Header {
        length: body.len() as u32,
        ..header
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(body);
    out
}
