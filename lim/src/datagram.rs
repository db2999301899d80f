//! lim's UDP datagrams: one whole frame each, signed when the cluster has
//! a key. Pure: the time and the nonce seed are inputs.

use bytes::BytesMut;
use proto::auth::{self, AuthError, AuthKey, Credentials, ReplayGuard};
use proto::lim::{op, Beacon, LoadReport, ReconfigNote};
use proto::{Decode, DecodeError, Encode, Header, HeaderError};
use std::fmt;

/// Datagrams are far smaller; anything longer is garbage.
pub const MAX_DATAGRAM_BODY: u32 = 16 * 1024;

/// A datagram lim understands.
#[derive(Clone, Debug, PartialEq)]
pub enum Datagram {
    Report(LoadReport),
    Beacon(Beacon),
    Reconfig(ReconfigNote),
}

/// Why a datagram was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    Header(HeaderError),
    LengthMismatch { header: usize, actual: usize },
    UnknownOp(u32),
    Body(DecodeError),
    Auth(AuthError),
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Header(e) => write!(f, "bad header: {e}"),
            DropReason::LengthMismatch { header, actual } => {
                write!(f, "header says {header} bytes, datagram has {actual}")
            }
            DropReason::UnknownOp(op) => write!(f, "unknown operation {op:#x}"),
            DropReason::Body(e) => write!(f, "bad body: {e}"),
            DropReason::Auth(e) => write!(f, "refused signature: {e}"),
        }
    }
}

impl DropReason {
    pub fn is_auth(&self) -> bool {
        matches!(self, DropReason::Auth(_))
    }
}

/// Encodes outgoing and checks incoming datagrams of one lim.
#[derive(Debug)]
pub struct DatagramCodec {
    key: Option<AuthKey>,
    who: Credentials,
    replay: ReplayGuard,
    sequence: u32,
}

impl DatagramCodec {
    /// `who` names the sender in signed datagrams; its nonce is the first
    /// nonce used (each datagram takes the next one), so seed it randomly.
    pub fn new(key: Option<AuthKey>, who: Credentials) -> DatagramCodec {
        DatagramCodec {
            key,
            who,
            replay: ReplayGuard::default(),
            sequence: 0,
        }
    }

    /// Accepts signed datagrams whose timestamps are up to `secs` off
    /// (`LL_AUTH_MAX_AGE`; 60 unless set).
    pub fn with_max_age(mut self, secs: u64) -> DatagramCodec {
        self.replay = ReplayGuard::new(secs);
        self
    }

    pub fn encode(&mut self, message: &Datagram, now_secs: u64) -> BytesMut {
        self.sequence = self.sequence.wrapping_add(1);
        let mut body = Vec::new();
        let operation = match message {
            Datagram::Report(r) => {
                r.encode(&mut body);
                op::LOAD_REPORT
            }
            Datagram::Beacon(b) => {
                b.encode(&mut body);
                op::BEACON
            }
            Datagram::Reconfig(n) => {
                n.encode(&mut body);
                op::RECONFIG_NOTE
            }
        };
        let header = Header::request(self.sequence, operation, 0);
        let mut out = BytesMut::new();
        match &self.key {
            Some(key) => {
                self.who.timestamp = now_secs;
                self.who.nonce = self.who.nonce.wrapping_add(1);
                auth::encode_signed(header, &self.who, &body, key, &mut out);
            }
            None => out.extend_from_slice(&proto::frame_bytes(header, &body)),
        }
        out
    }

    pub fn decode(&mut self, bytes: &[u8], now_secs: u64) -> Result<Datagram, DropReason> {
        let header = Header::decode(bytes, MAX_DATAGRAM_BODY).map_err(DropReason::Header)?;
        if header.frame_len() != bytes.len() {
            return Err(DropReason::LengthMismatch {
                header: header.frame_len(),
                actual: bytes.len(),
            });
        }
        let body = match &self.key {
            Some(key) => {
                auth::verify(bytes, key, now_secs, &mut self.replay, 0)
                    .map_err(DropReason::Auth)?
                    .body
            }
            None => &bytes[proto::HEADER_LEN..],
        };
        match header.operation {
            op::LOAD_REPORT => LoadReport::from_body(body).map(Datagram::Report),
            op::BEACON => Beacon::from_body(body).map(Datagram::Beacon),
            op::RECONFIG_NOTE => ReconfigNote::from_body(body).map(Datagram::Reconfig),
            other => return Err(DropReason::UnknownOp(other)),
        }
        .map_err(DropReason::Body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(nonce: u64) -> Credentials {
        Credentials {
            uid: 0,
            gid: 0,
            user: "lim@a".into(),
            timestamp: 0,
            nonce,
            challenge: 0,
        }
    }

    fn beacon() -> Datagram {
        Datagram::Beacon(Beacon {
            master: "a".into(),
            epoch: 3,
        })
    }

    #[test]
    fn unsigned_round_trip_and_garbage_is_refused() {
        let mut c = DatagramCodec::new(None, who(0));
        let bytes = c.encode(&beacon(), 100);
        assert_eq!(c.decode(&bytes, 100), Ok(beacon()));
        assert!(matches!(
            c.decode(&bytes[..10], 100),
            Err(DropReason::Header(_))
        ));
        assert!(matches!(
            c.decode(&bytes[..bytes.len() - 1], 100),
            Err(DropReason::LengthMismatch { .. })
        ));
        let mut wrong_op = bytes.to_vec();
        wrong_op[7] ^= 0x40;
        assert!(matches!(
            c.decode(&wrong_op, 100),
            Err(DropReason::UnknownOp(_))
        ));
        let mut extra = proto::frame_bytes(Header::request(1, op::BEACON, 0), &[0; 7]);
        assert!(matches!(c.decode(&extra, 100), Err(DropReason::Body(_))));
        extra.truncate(3);
        assert!(c.decode(&extra, 100).is_err());
    }

    #[test]
    fn signed_datagrams_need_the_key_a_fresh_time_and_a_new_nonce() {
        let key = AuthKey::new(vec![7; 32]);
        let mut sender = DatagramCodec::new(Some(key.clone()), who(1000));
        let mut receiver = DatagramCodec::new(Some(key), who(0));
        let first = sender.encode(&beacon(), 100);
        let second = sender.encode(&beacon(), 100);
        assert_eq!(receiver.decode(&first, 110), Ok(beacon()));
        assert_eq!(receiver.decode(&second, 110), Ok(beacon()), "next nonce");
        assert_eq!(
            receiver.decode(&first, 110),
            Err(DropReason::Auth(AuthError::Replay { nonce: 1001 }))
        );
        let late = sender.encode(&beacon(), 100);
        assert!(matches!(
            receiver.decode(&late, 1000),
            Err(DropReason::Auth(AuthError::Stale { .. }))
        ));
        let mut other = DatagramCodec::new(Some(AuthKey::new(vec![8; 32])), who(5));
        let forged = other.encode(&beacon(), 100);
        assert_eq!(
            receiver.decode(&forged, 100),
            Err(DropReason::Auth(AuthError::BadMac))
        );
        let unsigned = DatagramCodec::new(None, who(0)).encode(&beacon(), 100);
        assert!(receiver.decode(&unsigned, 100).unwrap_err().is_auth());
    }
}
