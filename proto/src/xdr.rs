//! XDR-style message bodies: big-endian integers, length-prefixed strings
//! and opaques padded to 4 bytes, and counted arrays.
//!
//! Decoding borrows from the frame, never panics, and never reserves more
//! memory than the remaining input could actually encode: a count is
//! checked against the bytes left before anything is allocated.

use bytes::BufMut;
use std::fmt;

/// Why a body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The body ended inside a value.
    Truncated { need: usize, have: usize },
    /// A boolean was neither 0 nor 1.
    BadBool(u32),
    /// A string was not UTF-8.
    BadUtf8,
    /// A count promises more elements than the remaining bytes can hold.
    TooMany { count: u32, remaining: usize },
    /// Bytes were left after the whole message was decoded.
    Trailing { bytes: usize },
    /// A field held a value the message type does not define.
    BadValue { field: &'static str, value: u32 },
    /// A number field held NaN or an infinity.
    NotFinite { field: &'static str },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { need, have } => {
                write!(f, "body truncated: need {need} bytes, {have} left")
            }
            DecodeError::BadBool(v) => write!(f, "boolean field holds {v}"),
            DecodeError::BadUtf8 => write!(f, "string is not valid UTF-8"),
            DecodeError::TooMany { count, remaining } => write!(
                f,
                "array count {count} cannot fit in the {remaining} bytes left"
            ),
            DecodeError::Trailing { bytes } => write!(f, "{bytes} unexpected trailing bytes"),
            DecodeError::BadValue { field, value } => write!(f, "field {field} holds {value}"),
            DecodeError::NotFinite { field } => write!(f, "field {field} is not a finite number"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bytes taken by a value of `len` bytes once padded to 4.
pub fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

/// A cursor over a body being decoded.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The next 4 bytes as a `u32`, not consumed (`None` at the end).
    pub fn peek_u32(&self) -> Option<u32> {
        let head = self.buf.get(..4)?;
        Some(u32::from_be_bytes([head[0], head[1], head[2], head[3]]))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                need: n,
                have: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::BadBool(other)),
        }
    }

    /// `n` raw bytes followed by padding to 4 (fixed-length opaque).
    pub fn fixed(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let data = self.take(n)?;
        self.take(padded(n) - n)?;
        Ok(data)
    }

    /// A length-prefixed opaque, borrowed from the input.
    pub fn opaque(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.fixed(len)
    }

    /// A length-prefixed UTF-8 string, borrowed from the input.
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.opaque()?).map_err(|_| DecodeError::BadUtf8)
    }

    /// An array of strings as `Vec<String>` encodes it, count included,
    /// left encoded: its bytes, checked for lengths and padding but not
    /// yet for UTF-8 (decode them with `Vec::<String>::from_body`).
    pub fn encoded_strings(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.buf;
        let count = self.count(4)?;
        for _ in 0..count {
            self.opaque()?;
        }
        Ok(&start[..start.len() - self.buf.len()])
    }

    /// An array count, checked against the bytes left given that each
    /// element takes at least `min_elem_len` bytes (treated as 1 if 0).
    pub fn count(&mut self, min_elem_len: usize) -> Result<usize, DecodeError> {
        let count = self.u32()?;
        let fits = self.remaining() / min_elem_len.max(1);
        if count as usize > fits {
            return Err(DecodeError::TooMany {
                count,
                remaining: self.remaining(),
            });
        }
        Ok(count as usize)
    }

    /// Succeeds only if the whole input was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            bytes => Err(DecodeError::Trailing { bytes }),
        }
    }
}

/// A value that can be written as an XDR-style body.
pub trait Encode {
    fn encode<B: BufMut>(&self, out: &mut B);
}

/// A value that can be read from an XDR-style body.
pub trait Decode: Sized {
    /// The fewest bytes one encoded value can take; bounds array counts.
    const MIN_LEN: usize = 4;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes a whole body: the value and nothing after it.
    fn from_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let value = Self::decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

/// Writes `bytes` then zero padding to 4, with no length prefix.
pub fn put_fixed<B: BufMut>(out: &mut B, bytes: &[u8]) {
    out.put_slice(bytes);
    out.put_bytes(0, padded(bytes.len()) - bytes.len());
}

/// Writes a length-prefixed, padded opaque.
///
/// Lengths past `u32::MAX` cannot be framed; callers bound their data by
/// the frame limit long before that.
pub fn put_opaque<B: BufMut>(out: &mut B, bytes: &[u8]) {
    out.put_u32(bytes.len() as u32);
    put_fixed(out, bytes);
}

/// An empty body.
impl Encode for () {
    fn encode<B: BufMut>(&self, _: &mut B) {}
}

impl Decode for () {
    const MIN_LEN: usize = 0;
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl Encode for u32 {
    fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32(*self);
    }
}

impl Decode for u32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u32()
    }
}

impl Encode for i32 {
    fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_i32(*self);
    }
}

impl Decode for i32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.i32()
    }
}

impl Encode for u64 {
    fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u64(*self);
    }
}

impl Decode for u64 {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64()
    }
}

impl Encode for bool {
    fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32(u32::from(*self));
    }
}

impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.bool()
    }
}

impl Encode for str {
    fn encode<B: BufMut>(&self, out: &mut B) {
        put_opaque(out, self.as_bytes());
    }
}

impl Encode for String {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.as_str().encode(out);
    }
}

impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.string().map(str::to_owned)
    }
}

/// A variable-length opaque (raw bytes); `Vec<u8>` would be an array of
/// 4-byte-padded elements instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Opaque(pub Vec<u8>);

impl Encode for Opaque {
    fn encode<B: BufMut>(&self, out: &mut B) {
        put_opaque(out, &self.0);
    }
}

impl Decode for Opaque {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.opaque().map(|b| Opaque(b.to_vec()))
    }
}

impl<T: Encode> Encode for [T] {
    fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.len() as u32);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.as_slice().encode(out);
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = r.count(T::MIN_LEN)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(r)?);
        }
        Ok(items)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode<B: BufMut>(&self, out: &mut B) {
        (**self).encode(out);
    }
}

/// Declares a struct whose XDR encoding is its fields in order, and
/// implements [`Encode`] and [`Decode`] for it.
///
/// ```
/// proto::xdr_struct! {
///     /// A point.
///     #[derive(Debug, PartialEq)]
///     pub struct Point { pub x: u32, pub label: String }
/// }
/// use proto::{Decode, Encode};
/// let mut out = Vec::new();
/// Point { x: 1, label: "a".into() }.encode(&mut out);
/// assert_eq!(Point::from_body(&out).unwrap().x, 1);
/// ```
#[macro_export]
macro_rules! xdr_struct {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* pub $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }
        impl $crate::Encode for $name {
            fn encode<B: $crate::bytes::BufMut>(&self, out: &mut B) {
                $($crate::Encode::encode(&self.$field, out);)*
            }
        }
        impl $crate::Decode for $name {
            fn decode(r: &mut $crate::Reader<'_>) -> Result<Self, $crate::DecodeError> {
                Ok($name {
                    $($field: <$ty as $crate::Decode>::decode(r)?),*
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        v.encode(&mut out);
        out
    }

    #[test]
    fn string_is_length_prefixed_and_padded() {
        assert_eq!(bytes_of("abcde"), b"\0\0\0\x05abcde\0\0\0");
        assert_eq!(bytes_of(""), b"\0\0\0\0");
        assert_eq!(bytes_of("abcd"), b"\0\0\0\x04abcd");
    }

    #[test]
    fn huge_count_fails_before_allocating() {
        let body = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1];
        assert_eq!(
            Vec::<u32>::from_body(&body),
            Err(DecodeError::TooMany {
                count: u32::MAX,
                remaining: 4
            })
        );
    }

    #[test]
    fn truncated_padding_is_an_error() {
        assert!(matches!(
            String::from_body(b"\0\0\0\x05abcde\0"),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn bad_bool_and_trailing_bytes_are_errors() {
        assert_eq!(bool::from_body(&[0, 0, 0, 2]), Err(DecodeError::BadBool(2)));
        assert_eq!(
            u32::from_body(&[0, 0, 0, 1, 9]),
            Err(DecodeError::Trailing { bytes: 1 })
        );
    }
}
