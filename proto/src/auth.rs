//! The auth block: who sent a frame, when, and an HMAC-SHA256 that covers
//! every byte of the frame except the MAC itself.
//!
//! A signed frame is laid out as `header | auth block | message body`; the
//! header's `length` counts the auth block and the body. The auth block is
//! `uid, gid, user, timestamp, nonce, challenge, mac[32]` in XDR encoding.
//! Because the header and the body are both covered, neither can be
//! altered or replayed under another identity (the C code signed only an
//! in-memory struct).
//!
//! A frame on a connection carries the receiver's **challenge**: a random
//! number the receiver sent when the connection opened. A frame captured
//! on one connection (or handed to a fake listener) is refused on any
//! other, whenever it is sent, so a restart of the receiver opens no
//! window for replays.
//!
//! Replies are bound to the request they answer: each carries an HMAC
//! under a [`ReplyKey`] derived from the cluster key and the request's MAC,
//! so a client that knows that key (it signed the request, or the local
//! lim that did gave it the key) can tell a real answer from a forged one.
//!
//! ```
//! use proto::auth::{AuthKey, Credentials, ReplayGuard, encode_signed, verify};
//! use proto::Header;
//! let key = AuthKey::new(b"cluster secret".to_vec());
//! let creds = Credentials { uid: 1000, gid: 100, user: "ann".into(), timestamp: 5_000, nonce: 7, challenge: 42 };
//! let mut frame = bytes::BytesMut::new();
//! encode_signed(Header::request(1, 2, 0), &creds, b"body", &key, &mut frame);
//! let mut seen = ReplayGuard::default();
//! let ok = verify(&frame, &key, 5_010, &mut seen, 42).unwrap();
//! assert_eq!((ok.creds.user.as_str(), ok.body), ("ann", &b"body"[..]));
//! ```

use crate::header::{Header, HeaderError, HEADER_LEN};
use crate::xdr::{padded, put_opaque, DecodeError, Reader};
use bytes::{BufMut, BytesMut};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC at the end of the auth block.
pub const MAC_LEN: usize = 32;

/// How far a frame's timestamp may be from the receiver's clock, seconds,
/// unless configured otherwise (`LL_AUTH_MAX_AGE`, LavaLite's default).
pub const DEFAULT_MAX_AGE_SECS: u64 = 60;

/// The cluster's shared secret.
#[derive(Clone)]
pub struct AuthKey(Vec<u8>);

impl AuthKey {
    pub fn new(secret: Vec<u8>) -> AuthKey {
        AuthKey(secret)
    }

    /// Whether `other` is the same secret (a daemon re-reading its key
    /// file; both are local, so timing tells nobody anything).
    pub fn same_secret(&self, other: &AuthKey) -> bool {
        self.0 == other.0
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

/// Who claims to send a frame, and when (seconds since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub timestamp: u64,
    /// Random per frame; a repeated nonce within the window is a replay.
    pub nonce: u64,
    /// The receiver's challenge for the connection this frame is sent on
    /// (0 where there is none: datagrams, greetings).
    pub challenge: u64,
}

impl Credentials {
    /// Encoded size of the auth block carrying these credentials.
    pub fn block_len(&self) -> usize {
        4 + 4 + 4 + padded(self.user.len()) + 8 + 8 + 8 + MAC_LEN
    }
}

/// Why a signed frame was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    Header(HeaderError),
    /// The frame's size disagrees with its header.
    LengthMismatch {
        header: usize,
        actual: usize,
    },
    /// The auth block could not be decoded.
    Malformed(DecodeError),
    /// The MAC does not match: wrong key or altered bytes.
    BadMac,
    /// The timestamp is outside the accepted window.
    Stale {
        timestamp: u64,
        now: u64,
        max_age: u64,
    },
    /// This nonce was already accepted within the window.
    Replay {
        nonce: u64,
    },
    /// Signed for another connection: replayed or relayed.
    WrongChallenge {
        got: u64,
    },
    /// A reply whose tag does not match the request's reply key: not from
    /// a daemon that holds the cluster key, or not an answer to this
    /// request.
    ForgedReply,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Header(e) => write!(f, "bad header: {e}"),
            AuthError::LengthMismatch { header, actual } => {
                write!(f, "header says {header} frame bytes, got {actual}")
            }
            AuthError::Malformed(e) => write!(f, "malformed auth block: {e}"),
            AuthError::BadMac => f.write_str("bad signature (wrong key or altered frame)"),
            AuthError::Stale {
                timestamp,
                now,
                max_age,
            } => write!(
                f,
                "timestamp {timestamp} is more than {max_age}s from now ({now}): \
                 are the clocks in step? (LL_AUTH_MAX_AGE)"
            ),
            AuthError::Replay { nonce } => write!(f, "replayed nonce {nonce:#x}"),
            AuthError::WrongChallenge { got } => write!(
                f,
                "signed for another connection (challenge {got:#x}): a replayed or relayed frame"
            ),
            AuthError::ForgedReply => {
                f.write_str("the reply does not verify: not from a daemon holding the cluster key, or not an answer to this request")
            }
        }
    }
}

impl std::error::Error for AuthError {}

/// Appends `header | auth block | body` to `out`, with `header.length`
/// set to cover the auth block and body, and the MAC filled in.
pub fn encode_signed(
    header: Header,
    creds: &Credentials,
    body: &[u8],
    key: &AuthKey,
    out: &mut BytesMut,
) {
    let start = out.len();
    let length = creds.block_len() + body.len();
    let header = Header {
        length: length as u32,
        ..header
    };
    out.reserve(HEADER_LEN + length);
    out.put_slice(&header.to_bytes());
    out.put_u32(creds.uid);
    out.put_u32(creds.gid);
    put_opaque(out, creds.user.as_bytes());
    out.put_u64(creds.timestamp);
    out.put_u64(creds.nonce);
    out.put_u64(creds.challenge);
    let mac_at = out.len();
    out.put_bytes(0, MAC_LEN);
    out.put_slice(body);
    let tag = frame_mac(key, &out[start..], mac_at - start);
    out[mac_at..mac_at + MAC_LEN].copy_from_slice(&tag);
}

fn frame_mac(key: &AuthKey, frame: &[u8], mac_at: usize) -> [u8; MAC_LEN] {
    let mut mac = key.mac();
    mac.update(&frame[..mac_at]);
    mac.update(&frame[mac_at + MAC_LEN..]);
    mac.finalize().into_bytes().into()
}

/// Signs the one-way messages a daemon sends over a long-lived
/// connection: fresh sequence numbers, and nonces that never repeat (a
/// random base plus a counter).
#[derive(Debug)]
pub struct Signer {
    key: AuthKey,
    uid: u32,
    gid: u32,
    user: String,
    nonce_base: u64,
    sent: u32,
}

impl Signer {
    /// `nonce_base` should be random so restarts do not reuse nonces.
    pub fn new(key: AuthKey, uid: u32, gid: u32, user: String, nonce_base: u64) -> Signer {
        Signer {
            key,
            uid,
            gid,
            user,
            nonce_base,
            sent: 0,
        }
    }

    /// Appends a signed `op` frame with `status` and `body` to `out`, for
    /// a connection whose other end sent `challenge` (0: a greeting, bound
    /// to no connection).
    pub fn frame<T: crate::Encode + ?Sized>(
        &mut self,
        op: u32,
        status: u32,
        body: &T,
        now: u64,
        challenge: u64,
        out: &mut BytesMut,
    ) {
        self.sent = self.sent.wrapping_add(1);
        let creds = Credentials {
            uid: self.uid,
            gid: self.gid,
            user: self.user.clone(),
            timestamp: now,
            nonce: self.nonce_base.wrapping_add(u64::from(self.sent)),
            challenge,
        };
        let mut encoded = Vec::new();
        body.encode(&mut encoded);
        let header = Header {
            status,
            ..Header::request(self.sent, op, 0)
        };
        encode_signed(header, &creds, &encoded, &self.key, out);
    }
}

/// A frame whose signature, time and nonce were accepted.
#[derive(Debug)]
pub struct Verified<'a> {
    pub header: Header,
    pub creds: Credentials,
    /// The message body after the auth block.
    pub body: &'a [u8],
}

/// Checks a whole frame (header included) signed by [`encode_signed`] for
/// a connection on which this end sent `challenge` (0 for datagrams and
/// greetings).
///
/// The MAC is checked before the challenge, the time and the nonce, so
/// unauthenticated bytes never enter the replay memory.
pub fn verify<'a>(
    frame: &'a [u8],
    key: &AuthKey,
    now: u64,
    seen: &mut ReplayGuard,
    challenge: u64,
) -> Result<Verified<'a>, AuthError> {
    let header = Header::parse(frame).map_err(AuthError::Header)?;
    if header.frame_len() != frame.len() {
        return Err(AuthError::LengthMismatch {
            header: header.frame_len(),
            actual: frame.len(),
        });
    }
    let mut r = Reader::new(&frame[HEADER_LEN..]);
    let creds = read_credentials(&mut r).map_err(AuthError::Malformed)?;
    let mac_at = frame.len() - r.remaining();
    let tag = r.fixed(MAC_LEN).map_err(AuthError::Malformed)?;
    let mut mac = key.mac();
    mac.update(&frame[..mac_at]);
    mac.update(&frame[mac_at + MAC_LEN..]);
    mac.verify_slice(tag).map_err(|_| AuthError::BadMac)?;
    if creds.challenge != challenge {
        return Err(AuthError::WrongChallenge {
            got: creds.challenge,
        });
    }
    if creds.timestamp.abs_diff(now) > seen.max_age {
        return Err(AuthError::Stale {
            timestamp: creds.timestamp,
            now,
            max_age: seen.max_age,
        });
    }
    seen.admit(creds.nonce, creds.timestamp, now)?;
    Ok(Verified {
        header,
        creds,
        body: &frame[mac_at + MAC_LEN..],
    })
}

fn read_credentials(r: &mut Reader<'_>) -> Result<Credentials, DecodeError> {
    Ok(Credentials {
        uid: r.u32()?,
        gid: r.u32()?,
        user: r.string()?.to_owned(),
        timestamp: r.u64()?,
        nonce: r.u64()?,
        challenge: r.u64()?,
    })
}

/// Where a signed frame's MAC starts, if its auth block can be read.
fn mac_offset(frame: &[u8]) -> Option<usize> {
    let body = frame.get(HEADER_LEN..)?;
    let mut r = Reader::new(body);
    read_credentials(&mut r).ok()?;
    let at = frame.len() - r.remaining();
    (r.remaining() >= MAC_LEN).then_some(at)
}

/// The challenges a daemon greets its connections with: numbers no peer
/// can predict, derived from a secret of this run and the connection's
/// id, so none needs storing and a restart makes them all new.
pub struct Challenges(AuthKey);

impl fmt::Debug for Challenges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Challenges(<redacted>)")
    }
}

impl Challenges {
    /// `secret` should be random and fresh for each run.
    pub fn new(secret: Vec<u8>) -> Challenges {
        Challenges(AuthKey::new(secret))
    }

    /// The challenge of connection `connection` (never 0, which stands
    /// for none).
    pub fn of(&self, connection: u64) -> u64 {
        let mut h = self.0.mac();
        h.update(&connection.to_be_bytes());
        let digest = h.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first).max(1)
    }
}

/// Label that keeps reply keys apart from every other use of the key.
const REPLY_LABEL: &[u8] = b"lavalite-rs reply key v1";

/// The key a request's replies are tagged with: an HMAC under the cluster
/// key of the request's own MAC, so it is unique to that request and only
/// a holder of the cluster key (or whoever it hands the key to: the
/// requester) can make or check it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyKey(pub [u8; MAC_LEN]);

impl fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyKey(<redacted>)")
    }
}

impl ReplyKey {
    /// The reply key of `request`, a signed frame. A frame whose auth
    /// block cannot be read gets the key of an all-zero MAC, so even the
    /// answer to garbage is tagged.
    pub fn of_request(key: &AuthKey, request: &[u8]) -> ReplyKey {
        let zero = [0u8; MAC_LEN];
        let mac = mac_offset(request).map_or(&zero[..], |at| &request[at..at + MAC_LEN]);
        let mut h = key.mac();
        h.update(REPLY_LABEL);
        h.update(mac);
        ReplyKey(h.finalize().into_bytes().into())
    }

    fn tag(&self, index: u32, frame: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut h = match HmacSha256::new_from_slice(&self.0) {
            Ok(h) => h,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        h.update(&index.to_be_bytes());
        h.update(frame);
        h
    }
}

/// Appends a reply frame to `out`: `header | body | tag`, the header's
/// length counting the tag. `index` numbers the frames of one reply from 0
/// (a streamed listing has several), so none can be dropped or reordered
/// unnoticed.
pub fn encode_reply<T: crate::Encode + ?Sized>(
    header: Header,
    body: &T,
    key: &ReplyKey,
    index: u32,
    out: &mut BytesMut,
) {
    let start = out.len();
    out.put_slice(&header.to_bytes());
    body.encode(out);
    let length = (out.len() - start - HEADER_LEN + MAC_LEN) as u32;
    out[start + 12..start + 16].copy_from_slice(&length.to_be_bytes());
    let tag: [u8; MAC_LEN] = key.tag(index, &out[start..]).finalize().into_bytes().into();
    out.put_slice(&tag);
}

/// Checks reply frame number `index` (its header and what follows it) of
/// a request whose reply key is `key`; its body without the tag.
pub fn verify_reply<'a>(
    header: &Header,
    rest: &'a [u8],
    key: &ReplyKey,
    index: u32,
) -> Result<&'a [u8], AuthError> {
    if header.length as usize != rest.len() {
        return Err(AuthError::LengthMismatch {
            header: header.frame_len(),
            actual: HEADER_LEN + rest.len(),
        });
    }
    let Some(body_len) = rest.len().checked_sub(MAC_LEN) else {
        return Err(AuthError::ForgedReply);
    };
    let (body, tag) = rest.split_at(body_len);
    let mut h = key.tag(index, &header.to_bytes());
    h.update(body);
    h.verify_slice(tag).map_err(|_| AuthError::ForgedReply)?;
    Ok(body)
}

/// A reply's body with its tag cut off, unchecked: for a daemon that logs
/// what a peer said when it refused it.
pub fn reply_body_unchecked(body: &[u8]) -> &[u8] {
    &body[..body.len().saturating_sub(MAC_LEN)]
}

/// The time window frames are accepted in, and the nonces accepted
/// within it, to refuse replays.
///
/// A nonce is forgotten once its frame's timestamp has left the window,
/// since such a frame would be refused as stale anyway.
#[derive(Debug)]
pub struct ReplayGuard {
    /// Seconds a timestamp may be off the receiver's clock, either way.
    max_age: u64,
    expiry_by_nonce: HashMap<u64, u64>,
    prune_at_len: usize,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::new(DEFAULT_MAX_AGE_SECS)
    }
}

impl ReplayGuard {
    /// A guard accepting timestamps up to `max_age` seconds off.
    pub fn new(max_age: u64) -> ReplayGuard {
        ReplayGuard {
            max_age,
            expiry_by_nonce: HashMap::new(),
            prune_at_len: 0,
        }
    }

    /// Remembers `nonce` unless it was already seen and has not expired.
    pub fn admit(&mut self, nonce: u64, timestamp: u64, now: u64) -> Result<(), AuthError> {
        if self.expiry_by_nonce.len() >= self.prune_at_len {
            self.expiry_by_nonce.retain(|_, expiry| *expiry >= now);
            self.prune_at_len = (self.expiry_by_nonce.len() * 2).max(1024);
        }
        let expiry = timestamp.saturating_add(self.max_age);
        match self.expiry_by_nonce.insert(nonce, expiry) {
            Some(previous) if previous >= now => Err(AuthError::Replay { nonce }),
            _ => Ok(()),
        }
    }

    /// Nonces currently remembered.
    pub fn len(&self) -> usize {
        self.expiry_by_nonce.len()
    }

    pub fn is_empty(&self) -> bool {
        self.expiry_by_nonce.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decode;

    #[test]
    fn a_signer_s_frames_verify_and_never_repeat_a_nonce() {
        let key = AuthKey::new(b"k".to_vec());
        let mut signer = Signer::new(key.clone(), 0, 0, "root".into(), u64::MAX);
        let mut seen = ReplayGuard::default();
        for _ in 0..3 {
            let mut out = BytesMut::new();
            signer.frame(9, 3, "x", 100, 0, &mut out);
            let v = verify(&out, &key, 100, &mut seen, 0).expect("verifies");
            assert_eq!((v.header.operation, v.header.status), (9, 3));
        }
    }

    fn creds(nonce: u64, timestamp: u64) -> Credentials {
        Credentials {
            uid: 1000,
            gid: 1000,
            user: "alice".into(),
            timestamp,
            nonce,
            challenge: 0,
        }
    }

    fn signed(key: &AuthKey, c: &Credentials, body: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_signed(Header::request(9, 4, 0), c, body, key, &mut out);
        out
    }

    #[test]
    fn header_length_covers_auth_block_and_body() {
        let key = AuthKey::new(b"k".to_vec());
        let c = creds(1, 100);
        let f = signed(&key, &c, b"hello");
        let h = Header::parse(&f).unwrap();
        assert_eq!(h.length as usize, c.block_len() + 5);
        assert_eq!(f.len(), h.frame_len());
    }

    #[test]
    fn any_flipped_bit_outside_the_mac_is_caught() {
        let key = AuthKey::new(b"k".to_vec());
        let f = signed(&key, &creds(1, 100), b"payload");
        for i in 0..f.len() {
            let mut bad = f.clone();
            bad[i] ^= 0x01;
            let res = verify(&bad, &key, 100, &mut ReplayGuard::default(), 0);
            assert!(res.is_err(), "flip at byte {i} was accepted");
        }
    }

    #[test]
    fn wrong_key_is_bad_mac() {
        let f = signed(&AuthKey::new(b"a".to_vec()), &creds(1, 100), b"");
        let res = verify(
            &f,
            &AuthKey::new(b"b".to_vec()),
            100,
            &mut ReplayGuard::default(),
            0,
        );
        assert_eq!(res.unwrap_err(), AuthError::BadMac);
    }

    #[test]
    fn window_is_sixty_seconds_each_way() {
        let key = AuthKey::new(b"k".to_vec());
        let mut seen = ReplayGuard::default();
        assert!(verify(
            &signed(&key, &creds(1, 1000), b""),
            &key,
            1060,
            &mut seen,
            0
        )
        .is_ok());
        assert!(verify(&signed(&key, &creds(2, 1000), b""), &key, 940, &mut seen, 0).is_ok());
        let late = signed(&key, &creds(3, 1000), b"");
        let res = verify(&late, &key, 1061, &mut seen, 0);
        assert!(matches!(res, Err(AuthError::Stale { max_age: 60, .. })));
    }

    #[test]
    fn the_window_is_what_the_guard_was_given() {
        let key = AuthKey::new(b"k".to_vec());
        let mut seen = ReplayGuard::new(300);
        assert!(verify(
            &signed(&key, &creds(1, 1000), b""),
            &key,
            1300,
            &mut seen,
            0
        )
        .is_ok());
        let late = signed(&key, &creds(2, 1000), b"");
        let err = verify(&late, &key, 1301, &mut seen, 0).unwrap_err();
        assert!(err.to_string().contains("more than 300s"), "{err}");
        // A nonce is remembered for the whole window.
        let again = signed(&key, &creds(1, 1000), b"");
        let res = verify(&again, &key, 1299, &mut seen, 0);
        assert!(matches!(res, Err(AuthError::Replay { .. })));
    }

    #[test]
    fn replay_within_window_is_refused_and_forgotten_after() {
        let key = AuthKey::new(b"k".to_vec());
        let f = signed(&key, &creds(42, 1000), b"x");
        let mut seen = ReplayGuard::default();
        assert!(verify(&f, &key, 1000, &mut seen, 0).is_ok());
        assert_eq!(
            verify(&f, &key, 1001, &mut seen, 0).unwrap_err(),
            AuthError::Replay { nonce: 42 }
        );
        // Once the nonce's window has passed, the guard may forget it.
        assert!(seen.admit(42, 2000, 2000).is_ok());
    }

    #[test]
    fn a_frame_signed_for_one_connection_is_refused_on_another() {
        let key = AuthKey::new(b"k".to_vec());
        let c = Credentials {
            challenge: 0xfeed,
            ..creds(1, 100)
        };
        let f = signed(&key, &c, b"");
        let mut seen = ReplayGuard::default();
        let err = verify(&f, &key, 100, &mut seen, 0xbeef).unwrap_err();
        assert_eq!(err, AuthError::WrongChallenge { got: 0xfeed });
        assert!(seen.is_empty(), "a refused frame's nonce is not remembered");
        assert!(verify(&f, &key, 100, &mut seen, 0xfeed).is_ok());
    }

    #[test]
    fn a_reply_verifies_only_under_its_requests_key_and_index() {
        let key = AuthKey::new(b"k".to_vec());
        let request = signed(&key, &creds(1, 100), b"q");
        let other = signed(&key, &creds(2, 100), b"q");
        let reply_key = ReplyKey::of_request(&key, &request);
        let mut out = BytesMut::new();
        encode_reply(
            Header::request(9, 4, 0).reply(0, 0),
            "answer",
            &reply_key,
            0,
            &mut out,
        );
        let check = |frame: &[u8], key: &ReplyKey, index: u32| {
            let header = Header::parse(frame).map_err(AuthError::Header)?;
            verify_reply(&header, &frame[HEADER_LEN..], key, index).map(<[u8]>::to_vec)
        };
        let body = check(&out, &reply_key, 0).expect("verifies");
        assert_eq!(String::from_body(&body).unwrap(), "answer");
        assert_eq!(check(&out, &reply_key, 1), Err(AuthError::ForgedReply));
        let wrong = ReplyKey::of_request(&key, &other);
        assert_eq!(check(&out, &wrong, 0), Err(AuthError::ForgedReply));
        let stranger = ReplyKey::of_request(&AuthKey::new(b"x".to_vec()), &request);
        assert_eq!(check(&out, &stranger, 0), Err(AuthError::ForgedReply));
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 1;
            assert!(check(&bad, &reply_key, 0).is_err(), "flip at {i}");
        }
        assert_eq!(reply_body_unchecked(&out[HEADER_LEN..]), body);
    }

    #[test]
    fn challenges_differ_by_connection_and_by_secret() {
        let a = Challenges::new(vec![1; 32]);
        let b = Challenges::new(vec![2; 32]);
        assert_eq!(a.of(7), a.of(7));
        assert_ne!(a.of(7), a.of(8));
        assert_ne!(a.of(7), b.of(7));
        assert_ne!(a.of(0), 0);
    }

    #[test]
    fn garbage_still_has_a_reply_key() {
        let key = AuthKey::new(b"k".to_vec());
        let a = ReplyKey::of_request(&key, b"not a frame");
        let b = ReplyKey::of_request(&key, &[0u8; 3]);
        assert_eq!(a, b, "both are the key of a zero MAC");
    }
}
