//! lim's opcodes and messages.
//!
//! UDP datagrams between lims are whole frames (signed with the auth block
//! when the cluster has a key): a host's [`LoadReport`] to the master, the
//! master's [`Beacon`] to every host. TCP queries from the commands carry
//! an empty body; replies carry [`ClusterInfo`], a list of [`HostRecord`]s
//! or [`LimStats`]. A non-master answers a host query with status
//! [`status::NOT_MASTER`] and a [`ClusterInfo`] naming the master, and the
//! client asks there.
//!
//! On its local Unix socket a lim signs batch requests for users who
//! cannot read the cluster key: [`SignRequest`] in, the signed frame out,
//! with the identity the kernel gives the socket's peer. There too, an
//! admin's `lsadmin reconfig` asks it to read the cluster file again; it
//! then tells every other lim to ([`ReconfigNote`], UDP).

use crate::xdr::{DecodeError, Reader};
use crate::{Decode, Encode};
use bytes::BufMut;

/// Opcodes (the header's `operation`).
pub mod op {
    /// UDP, host -> master: [`super::LoadReport`].
    pub const LOAD_REPORT: u32 = 0x0100;
    /// UDP, master -> every host: [`super::Beacon`].
    pub const BEACON: u32 = 0x0101;
    /// UDP, one lim -> every host: [`super::ReconfigNote`]: read the
    /// cluster file again (`lsadmin reconfig`).
    pub const RECONFIG_NOTE: u32 = 0x0102;
    /// TCP query -> [`super::ClusterInfo`] (any lim answers).
    pub const CLUSTER_INFO: u32 = 0x0110;
    /// TCP query -> `Vec<`[`super::HostRecord`]`>` (the master answers).
    pub const HOSTS: u32 = 0x0111;
    /// TCP query -> [`super::LimStats`] (any lim answers).
    pub const STATS: u32 = 0x0112;
    /// Local Unix socket: [`super::SignRequest`] -> the signed frame, as an
    /// [`crate::xdr::Opaque`].
    pub const SIGN: u32 = 0x0120;
    /// Local Unix socket, root or lim's own user only (`lsadmin
    /// reconfig`): empty -> a message saying what changed (status OK) or
    /// why nothing did ([`super::status::REFUSED`]).
    pub const RECONFIG: u32 = 0x0121;
}

/// Reply statuses (the header's `status`).
pub mod status {
    pub const OK: u32 = 0;
    /// Body: [`super::ClusterInfo`]; ask the master it names.
    pub const NOT_MASTER: u32 = 1;
    /// The request's opcode or body is not understood; body: a message.
    pub const BAD_REQUEST: u32 = 2;
    /// Understood and turned down; body: why.
    pub const REFUSED: u32 = 3;
}

crate::xdr_struct! {
    /// Read the cluster file again: sent by the lim an admin asked.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ReconfigNote {
        /// The host whose lim sends it.
        pub host: String,
    }
}

/// Number of load indices.
pub const NUM_INDICES: usize = 11;

/// Index names in LavaLite's order.
pub const INDEX_NAMES: [&str; NUM_INDICES] = [
    "r15s", "r1m", "r15m", "ut", "pg", "io", "ls", "it", "tmp", "swp", "mem",
];

/// The load indices of one host, in [`INDEX_NAMES`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoadVector(pub [f64; NUM_INDICES]);

impl LoadVector {
    pub const R15S: usize = 0;
    pub const R1M: usize = 1;
    pub const R15M: usize = 2;
    pub const UT: usize = 3;
    pub const PG: usize = 4;
    pub const IO: usize = 5;
    pub const LS: usize = 6;
    pub const IT: usize = 7;
    pub const TMP: usize = 8;
    pub const SWP: usize = 9;
    pub const MEM: usize = 10;
}

impl Encode for LoadVector {
    fn encode<B: BufMut>(&self, out: &mut B) {
        for v in self.0 {
            out.put_f64(v);
        }
    }
}

impl Decode for LoadVector {
    const MIN_LEN: usize = 8 * NUM_INDICES;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut v = [0.0; NUM_INDICES];
        for (slot, field) in v.iter_mut().zip(INDEX_NAMES) {
            *slot = f64::from_bits(r.u64()?);
            // No sampler yields one; lsload and the scheduler would
            // carry it as if it were a load.
            if !slot.is_finite() {
                return Err(DecodeError::NotFinite { field });
            }
        }
        Ok(LoadVector(v))
    }
}

/// What does not change while a host runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaticInfo {
    pub ncpus: u32,
    pub maxmem_mb: u64,
    pub maxswp_mb: u64,
    pub maxtmp_mb: u64,
    /// `uname -m`.
    pub host_type: String,
    /// CPU model name.
    pub model: String,
}

impl Encode for StaticInfo {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.ncpus.encode(out);
        self.maxmem_mb.encode(out);
        self.maxswp_mb.encode(out);
        self.maxtmp_mb.encode(out);
        self.host_type.encode(out);
        self.model.encode(out);
    }
}

impl Decode for StaticInfo {
    const MIN_LEN: usize = 4 + 3 * 8 + 2 * 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(StaticInfo {
            ncpus: r.u32()?,
            maxmem_mb: r.u64()?,
            maxswp_mb: r.u64()?,
            maxtmp_mb: r.u64()?,
            host_type: String::decode(r)?,
            model: String::decode(r)?,
        })
    }
}

/// A host's periodic report to the master.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadReport {
    pub host: String,
    pub static_info: StaticInfo,
    pub load: LoadVector,
}

impl Encode for LoadReport {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.host.encode(out);
        self.static_info.encode(out);
        self.load.encode(out);
    }
}

impl Decode for LoadReport {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(LoadReport {
            host: String::decode(r)?,
            static_info: StaticInfo::decode(r)?,
            load: LoadVector::decode(r)?,
        })
    }
}

/// A request for mbd that a user wants signed as themselves: the frame's
/// header fields, the challenge mbd sent on the connection the frame will
/// go out on, and the body; the auth block is the signer's to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignRequest {
    pub sequence: u32,
    pub operation: u32,
    pub challenge: u64,
    pub body: Vec<u8>,
}

impl Encode for SignRequest {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.sequence.encode(out);
        self.operation.encode(out);
        self.challenge.encode(out);
        crate::xdr::put_opaque(out, &self.body);
    }
}

impl Decode for SignRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignRequest {
            sequence: r.u32()?,
            operation: r.u32()?,
            challenge: r.u64()?,
            body: r.opaque()?.to_vec(),
        })
    }
}

/// lim's answer to a [`SignRequest`]: the signed frame, and the key its
/// replies are tagged with (`proto::auth::ReplyKey`), so the user's
/// command can tell mbd's answer from a forgery without the cluster key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    pub frame: Vec<u8>,
    pub reply_key: crate::auth::ReplyKey,
}

impl Encode for SignedRequest {
    fn encode<B: BufMut>(&self, out: &mut B) {
        crate::xdr::put_opaque(out, &self.frame);
        out.put_slice(&self.reply_key.0);
    }
}

impl Decode for SignedRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let frame = r.opaque()?.to_vec();
        let mut key = [0u8; crate::auth::MAC_LEN];
        key.copy_from_slice(r.fixed(crate::auth::MAC_LEN)?);
        Ok(SignedRequest {
            frame,
            reply_key: crate::auth::ReplyKey(key),
        })
    }
}

/// The master's claim, sent to every host every tick. A higher `epoch`
/// wins; at equal epochs the host listed first wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Beacon {
    pub master: String,
    pub epoch: u64,
}

impl Encode for Beacon {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.master.encode(out);
        self.epoch.encode(out);
    }
}

impl Decode for Beacon {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Beacon {
            master: String::decode(r)?,
            epoch: r.u64()?,
        })
    }
}

/// The cluster as one lim sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub cluster: String,
    /// Empty while no master is known.
    pub master: String,
    /// `ip:port` of the master's lim, empty while unknown.
    pub master_addr: String,
    pub epoch: u64,
    /// The host that answered.
    pub answered_by: String,
}

impl Encode for ClusterInfo {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.cluster.encode(out);
        self.master.encode(out);
        self.master_addr.encode(out);
        self.epoch.encode(out);
        self.answered_by.encode(out);
    }
}

impl Decode for ClusterInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ClusterInfo {
            cluster: String::decode(r)?,
            master: String::decode(r)?,
            master_addr: String::decode(r)?,
            epoch: r.u64()?,
            answered_by: String::decode(r)?,
        })
    }
}

/// One host in the master's view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostRecord {
    pub name: String,
    pub candidate: bool,
    /// Reported within the last 3 ticks.
    pub available: bool,
    /// From its last report; all zero if it never reported.
    pub static_info: StaticInfo,
    pub load: LoadVector,
}

impl HostRecord {
    pub fn as_ref(&self) -> HostRecordRef<'_> {
        HostRecordRef {
            name: &self.name,
            candidate: self.candidate,
            available: self.available,
            static_info: &self.static_info,
            load: &self.load,
        }
    }
}

impl Encode for HostRecord {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.as_ref().encode(out);
    }
}

/// A [`HostRecord`] to encode from borrowed parts: the master answers a
/// query from its table without copying 10,000 hosts' strings first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostRecordRef<'a> {
    pub name: &'a str,
    pub candidate: bool,
    pub available: bool,
    pub static_info: &'a StaticInfo,
    pub load: &'a LoadVector,
}

impl Encode for HostRecordRef<'_> {
    fn encode<B: BufMut>(&self, out: &mut B) {
        self.name.encode(out);
        self.candidate.encode(out);
        self.available.encode(out);
        self.static_info.encode(out);
        self.load.encode(out);
    }
}

impl Decode for HostRecord {
    const MIN_LEN: usize = 4 + 4 + 4 + StaticInfo::MIN_LEN + LoadVector::MIN_LEN;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HostRecord {
            name: String::decode(r)?,
            candidate: r.bool()?,
            available: r.bool()?,
            static_info: StaticInfo::decode(r)?,
            load: LoadVector::decode(r)?,
        })
    }
}

/// Datagrams a lim dropped, by reason, and what it accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimStats {
    pub reports_accepted: u64,
    pub beacons_accepted: u64,
    /// Not a whole frame, wrong version, unknown opcode, undecodable body.
    pub dropped_malformed: u64,
    /// Missing, bad, stale or replayed signature.
    pub dropped_auth: u64,
    /// From an address or host name not in the cluster file.
    pub dropped_foreign: u64,
}

impl Encode for LimStats {
    fn encode<B: BufMut>(&self, out: &mut B) {
        for v in [
            self.reports_accepted,
            self.beacons_accepted,
            self.dropped_malformed,
            self.dropped_auth,
            self.dropped_foreign,
        ] {
            v.encode(out);
        }
    }
}

impl Decode for LimStats {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(LimStats {
            reports_accepted: r.u64()?,
            beacons_accepted: r.u64()?,
            dropped_malformed: r.u64()?,
            dropped_auth: r.u64()?,
            dropped_foreign: r.u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: T) {
        let mut buf = Vec::new();
        value.encode(&mut buf);
        assert_eq!(T::from_body(&buf).unwrap(), value);
        for cut in 0..buf.len() {
            assert!(T::from_body(&buf[..cut]).is_err(), "{cut} bytes decoded");
        }
    }

    #[test]
    fn messages_round_trip_and_truncations_fail() {
        let static_info = StaticInfo {
            ncpus: 16,
            maxmem_mb: 64_000,
            maxswp_mb: 8191,
            maxtmp_mb: 40_000,
            host_type: "x86_64".into(),
            model: "Xeon".into(),
        };
        let mut load = LoadVector::default();
        load.0[LoadVector::UT] = 12.5;
        round_trip(LoadReport {
            host: "node01".into(),
            static_info: static_info.clone(),
            load,
        });
        round_trip(Beacon {
            master: "head".into(),
            epoch: 7,
        });
        round_trip(ClusterInfo {
            cluster: "alpha".into(),
            master: "head".into(),
            master_addr: "127.0.0.1:6861".into(),
            epoch: 3,
            answered_by: "node01".into(),
        });
        round_trip(vec![HostRecord {
            name: "node01".into(),
            candidate: true,
            available: false,
            static_info,
            load,
        }]);
        round_trip(LimStats {
            dropped_auth: 4,
            ..LimStats::default()
        });
        round_trip(SignRequest {
            sequence: 1,
            operation: 0x0200,
            challenge: u64::MAX - 1,
            body: b"odd-sized".to_vec(),
        });
        round_trip(SignedRequest {
            frame: b"odd".to_vec(),
            reply_key: crate::auth::ReplyKey([7; 32]),
        });
    }

    #[test]
    fn a_load_that_is_not_a_number_is_refused() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut load = LoadVector::default();
            load.0[LoadVector::MEM] = bad;
            let mut buf = Vec::new();
            load.encode(&mut buf);
            assert_eq!(
                LoadVector::from_body(&buf),
                Err(DecodeError::NotFinite { field: "mem" })
            );
        }
    }
}
