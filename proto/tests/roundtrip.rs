//! Property tests: every value round-trips, and arbitrary bytes never panic
//! any decoder.

use bytes::{BufMut, BytesMut};
use proptest::prelude::*;
use proto::auth::{encode_signed, verify, AuthKey, Credentials, ReplayGuard};
use proto::xdr::Opaque;
use proto::{encode_frame, Decode, DecodeError, Encode, Header, Reader, HEADER_LEN};

/// A message shaped like a daemon's: scalars, strings, nested arrays.
#[derive(Clone, Debug, PartialEq)]
struct JobLike {
    id: u64,
    exit: i32,
    held: bool,
    name: String,
    hosts: Vec<String>,
    slots: Vec<Vec<u32>>,
    blob: Opaque,
}

impl Encode for JobLike {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.id.encode(out);
        self.exit.encode(out);
        self.held.encode(out);
        self.name.encode(out);
        self.hosts.encode(out);
        self.slots.encode(out);
        self.blob.encode(out);
    }
}

impl Decode for JobLike {
    const MIN_LEN: usize = 8 + 4 * 6;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(JobLike {
            id: u64::decode(r)?,
            exit: i32::decode(r)?,
            held: bool::decode(r)?,
            name: String::decode(r)?,
            hosts: Vec::decode(r)?,
            slots: Vec::decode(r)?,
            blob: Opaque::decode(r)?,
        })
    }
}

fn job_like() -> impl Strategy<Value = JobLike> {
    (
        any::<u64>(),
        any::<i32>(),
        any::<bool>(),
        ".{0,40}",
        prop::collection::vec(".{0,12}", 0..8),
        prop::collection::vec(prop::collection::vec(any::<u32>(), 0..5), 0..5),
        prop::collection::vec(any::<u8>(), 0..70),
    )
        .prop_map(|(id, exit, held, name, hosts, slots, blob)| JobLike {
            id,
            exit,
            held,
            name,
            hosts,
            slots,
            blob: Opaque(blob),
        })
}

fn encoded<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

proptest! {
    #[test]
    fn header_round_trips(seq: u32, op: u32, minor in 0u32..0x10000, len in 0u32..=1 << 20, status: u32) {
        let h = Header { sequence: seq, operation: op, version: proto::VERSION | minor, length: len, status };
        prop_assert_eq!(Header::decode(&h.to_bytes(), 1 << 20), Ok(h));
    }

    #[test]
    fn message_round_trips_and_is_4_byte_aligned(m in job_like()) {
        let bytes = encoded(&m);
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(JobLike::from_body(&bytes), Ok(m));
    }

    #[test]
    fn arrays_of_messages_round_trip(ms in prop::collection::vec(job_like(), 0..6)) {
        prop_assert_eq!(Vec::<JobLike>::from_body(&encoded(&ms)), Ok(ms));
    }

    #[test]
    fn frames_round_trip(seq: u32, m in job_like()) {
        let mut out = BytesMut::new();
        encode_frame(Header::request(seq, 3, 0), &m, &mut out);
        let h = Header::decode(&out, u32::MAX).unwrap();
        prop_assert_eq!(h.frame_len(), out.len());
        prop_assert_eq!(JobLike::from_body(&out[HEADER_LEN..]), Ok(m));
    }

    #[test]
    fn signed_frames_verify(uid: u32, gid: u32, user in "[a-z]{0,16}", nonce: u64, challenge: u64, body in prop::collection::vec(any::<u8>(), 0..200)) {
        let key = AuthKey::new(b"secret".to_vec());
        let creds = Credentials { uid, gid, user, timestamp: 1_700_000_000, nonce, challenge };
        let mut out = BytesMut::new();
        encode_signed(Header::request(1, 1, 0), &creds, &body, &key, &mut out);
        let ok = verify(&out, &key, creds.timestamp, &mut ReplayGuard::default(), challenge).unwrap();
        prop_assert_eq!(ok.creds, creds);
        prop_assert_eq!(ok.body, &body[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Header::decode(&bytes, u32::MAX);
        let _ = JobLike::from_body(&bytes);
        let _ = Vec::<JobLike>::from_body(&bytes);
        let _ = Vec::<Vec<String>>::from_body(&bytes);
        let _ = Vec::<u64>::from_body(&bytes);
        let key = AuthKey::new(b"k".to_vec());
        let _ = verify(&bytes, &key, 0, &mut ReplayGuard::default(), 0);
        let reply_key = proto::auth::ReplyKey::of_request(&key, &bytes);
        if let Ok(header) = Header::parse(&bytes) {
            let _ = proto::auth::verify_reply(&header, &bytes[HEADER_LEN..], &reply_key, 0);
        }
    }

    #[test]
    fn truncated_encodings_fail_cleanly(m in job_like(), cut in any::<prop::sample::Index>()) {
        let bytes = encoded(&m);
        let at = cut.index(bytes.len());
        prop_assert!(JobLike::from_body(&bytes[..at]).is_err());
    }
}
