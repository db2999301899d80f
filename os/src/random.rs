//! Randomness from the kernel (getrandom(2)), for nonces, connection
//! challenges and cluster keys, none of which may be guessable. A
//! failure is returned, never papered over (with the clock, say): on
//! Linux it means a system that cannot be trusted with a key.

use std::io;

/// 64 random bits.
pub fn u64() -> io::Result<u64> {
    getrandom::u64().map_err(io::Error::from)
}

/// `bytes` random bytes as lowercase hex (a key file's text).
pub fn hex(bytes: usize) -> io::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(io::Error::from)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_hex_has_two_digits_a_byte() {
        let (a, b) = (u64().unwrap(), u64().unwrap());
        assert_ne!(a, b);
        let key = hex(32).unwrap();
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(key, hex(32).unwrap());
    }
}
