//! The records of the event log: one per state change, each applied the
//! same way live and at replay (docs/mbd.md has the format).

use crate::event_log::{Record, RecordRef, FORMAT};
use proto::mbd::{FieldChange, HistEvent, JobState, SubmitRequest};
use proto::sbd::Usage;
use proto::{xdr_struct, Decode, DecodeError, Encode};
use std::fmt;

xdr_struct! {
    /// A submission: jobs `first_id ..` (one per array element).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Submitted {
        pub first_id: u32,
        pub time: u64,
        pub user: String,
        pub uid: u32,
        /// Resolved (never empty).
        pub queue: String,
        pub priority: i32,
        pub request: SubmitRequest,
    }
}

/// The record kind of a [`Submitted`].
pub const SUBMITTED: u16 = 1;

impl Submitted {
    /// Decodes `body` as [`Decode`] does but for the request's
    /// environment, which `env` is handed encoded (see
    /// [`SubmitRequest::decode_env_with`]).
    pub fn decode_env_with<E>(
        body: &[u8],
        env: impl FnOnce(&[u8]) -> Result<E, DecodeError>,
    ) -> Result<(Submitted, E), DecodeError> {
        let mut r = proto::Reader::new(body);
        let (first_id, time, user) = (
            u32::decode(&mut r)?,
            u64::decode(&mut r)?,
            String::decode(&mut r)?,
        );
        let (uid, queue, priority) = (
            u32::decode(&mut r)?,
            String::decode(&mut r)?,
            i32::decode(&mut r)?,
        );
        let (request, made) = SubmitRequest::decode_env_with(&mut r, env)?;
        r.finish()?;
        let submitted = Submitted {
            first_id,
            time,
            user,
            uid,
            queue,
            priority,
            request,
        };
        Ok((submitted, made))
    }

    /// The ids of the jobs it made, one per array element.
    pub fn job_ids(&self) -> std::ops::Range<u32> {
        let n = self.request.indices().len() as u32;
        self.first_id..self.first_id + n
    }
}

xdr_struct! {
    /// A job moved to `state` (`signal` != 0: because of that signal).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct StateChanged {
        pub id: u32,
        pub time: u64,
        pub state: JobState,
        pub signal: u32,
        pub exit_code: i32,
    }
}

xdr_struct! {
    /// A queue or host was opened or closed.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Controlled {
        pub name: String,
        pub open: bool,
        pub time: u64,
    }
}

xdr_struct! {
    /// A whole job, written by compaction into a fresh log.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct JobImage {
        pub id: u32,
        pub array_id: u32,
        pub index: u32,
        pub user: String,
        pub uid: u32,
        pub queue: String,
        pub priority: i32,
        pub submit_time: u64,
        pub state: JobState,
        pub request: SubmitRequest,
        pub events: Vec<HistEvent>,
        /// Dispatches so far; with `pid` and `allocs`, a running job's place.
        pub attempt: u32,
        pub pid: u32,
        pub allocs: Vec<AllocRecord>,
    }
}

xdr_struct! {
    /// What jobs of one submission share, written once by compaction for
    /// all of them (an array's elements, say); the [`JobOfSpec`] records
    /// after it name it by `spec_id`, which counts within one snapshot.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct SpecImage {
        pub spec_id: u32,
        pub user: String,
        pub uid: u32,
        pub queue: String,
        pub submit_time: u64,
        pub request: SubmitRequest,
    }
}

xdr_struct! {
    /// A submit environment, written by compaction once for every
    /// specification that has it (most jobs of a site share a few): the
    /// [`SpecOfEnv`] records after it name it by `env_id`, which counts
    /// within one snapshot.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct EnvImage {
        pub env_id: u32,
        pub vars: Vec<String>,
    }
}

xdr_struct! {
    /// A [`SpecImage`] whose request's environment is the [`EnvImage`]
    /// `env_id` written before it. A snapshot of a million jobs of one
    /// environment is then a tenth of the size (the environment was most
    /// of each record).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct SpecOfEnv {
        pub spec_id: u32,
        pub env_id: u32,
        pub user: String,
        pub uid: u32,
        pub queue: String,
        pub submit_time: u64,
        pub request: SubmitRequest,
    }
}

xdr_struct! {
    /// A job, written by compaction, whose submission is the
    /// [`SpecImage`] or [`SpecOfEnv`] `spec_id` written before it: a
    /// [`JobImage`] without its copy of the request.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct JobOfSpec {
        pub id: u32,
        pub array_id: u32,
        pub index: u32,
        pub spec_id: u32,
        pub priority: i32,
        pub state: JobState,
        pub events: Vec<HistEvent>,
        pub attempt: u32,
        pub pid: u32,
        pub allocs: Vec<AllocRecord>,
    }
}

xdr_struct! {
    /// One host's share of a dispatched job, by host name (so a log
    /// survives reordering llb.hosts).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct AllocRecord {
        pub host: String,
        pub cpus: u32,
        pub gpus: Vec<u32>,
    }
}

xdr_struct! {
    /// A job was sent to its first host's sbd (attempt `attempt`).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Dispatched {
        pub id: u32,
        pub attempt: u32,
        pub time: u64,
        pub allocs: Vec<AllocRecord>,
    }
}

xdr_struct! {
    /// sbd started the job: its process group is `pid`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Forked {
        pub id: u32,
        pub attempt: u32,
        pub time: u64,
        pub pid: u32,
    }
}

xdr_struct! {
    /// A running job ended (reported by sbd, or declared lost by mbd).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Ended {
        pub id: u32,
        pub attempt: u32,
        pub time: u64,
        pub exit_code: i32,
        pub signal: u32,
        pub usage: Usage,
        /// Why, when the job did not end by itself.
        pub note: String,
    }
}

xdr_struct! {
    /// A dispatched job its sbd could not set up (it never ran) is
    /// pending again; `note` says where and why.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Requeued {
        pub id: u32,
        pub attempt: u32,
        pub time: u64,
        pub note: String,
    }
}

xdr_struct! {
    /// `brequeue`: a finished job is PEND again (HELD with `hold`) now, a
    /// running one once its run ends.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct RequeueAsked {
        pub id: u32,
        pub time: u64,
        pub hold: bool,
        pub by: String,
    }
}

xdr_struct! {
    /// `bmod` of a waiting job: its submission with `fields` changed.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Modified {
        pub id: u32,
        pub time: u64,
        pub fields: Vec<FieldChange>,
    }
}

xdr_struct! {
    /// A pending or held job now belongs to `queue` (`bmove`).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Moved {
        pub id: u32,
        pub time: u64,
        pub queue: String,
    }
}

xdr_struct! {
    /// A job's priority is now `priority` (`bpriority`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Reprioritized {
        pub id: u32,
        pub time: u64,
        pub priority: i32,
    }
}

xdr_struct! {
    /// What compaction keeps besides the jobs; first record of a
    /// compacted log.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Checkpoint {
        pub next_id: u32,
        pub closed_queues: Vec<String>,
        pub closed_hosts: Vec<String>,
    }
}

/// One event-log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Submitted(Box<Submitted>),
    StateChanged(StateChanged),
    QueueControlled(Controlled),
    HostControlled(Controlled),
    /// A queue was opened to submissions or closed to them
    /// (`badmin qopen/qclose`); its dispatch is `QueueControlled`.
    QueueAccepting(Controlled),
    JobImage(Box<JobImage>),
    Checkpoint(Checkpoint),
    Dispatched(Dispatched),
    Forked(Forked),
    Ended(Ended),
    SpecImage(Box<SpecImage>),
    JobOfSpec(Box<JobOfSpec>),
    Moved(Moved),
    Reprioritized(Reprioritized),
    Requeued(Requeued),
    RequeueAsked(RequeueAsked),
    Modified(Modified),
    EnvImage(EnvImage),
    SpecOfEnv(Box<SpecOfEnv>),
}

/// A record this mbd cannot apply.
#[derive(Debug, PartialEq, Eq)]
pub enum BadRecord {
    Format(u16),
    Kind(u16),
    Body { kind: u16, error: DecodeError },
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRecord::Format(v) => write!(
                f,
                "record format {v} (this mbd writes {FORMAT}); written by another version?"
            ),
            BadRecord::Kind(k) => write!(f, "unknown record kind {k}"),
            BadRecord::Body { kind, error } => write!(f, "record kind {kind}: {error}"),
        }
    }
}

impl std::error::Error for BadRecord {}

impl Change {
    pub fn kind(&self) -> u16 {
        match self {
            Change::Submitted(_) => SUBMITTED,
            Change::StateChanged(_) => 2,
            Change::QueueControlled(_) => 3,
            Change::HostControlled(_) => 4,
            Change::JobImage(_) => 5,
            Change::Checkpoint(_) => 6,
            Change::Dispatched(_) => 7,
            Change::Forked(_) => 8,
            Change::Ended(_) => 9,
            Change::SpecImage(_) => 10,
            Change::JobOfSpec(_) => 11,
            Change::Moved(_) => 12,
            Change::Reprioritized(_) => 13,
            Change::Requeued(_) => 14,
            Change::RequeueAsked(_) => 15,
            Change::Modified(_) => 16,
            Change::QueueAccepting(_) => 17,
            Change::EnvImage(_) => 18,
            Change::SpecOfEnv(_) => 19,
        }
    }

    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Change::Submitted(c) => c.encode(&mut out),
            Change::StateChanged(c) => c.encode(&mut out),
            Change::QueueControlled(c) | Change::HostControlled(c) | Change::QueueAccepting(c) => {
                c.encode(&mut out)
            }
            Change::JobImage(c) => c.encode(&mut out),
            Change::Checkpoint(c) => c.encode(&mut out),
            Change::Dispatched(c) => c.encode(&mut out),
            Change::Forked(c) => c.encode(&mut out),
            Change::Ended(c) => c.encode(&mut out),
            Change::SpecImage(c) => c.encode(&mut out),
            Change::JobOfSpec(c) => c.encode(&mut out),
            Change::EnvImage(c) => c.encode(&mut out),
            Change::SpecOfEnv(c) => c.encode(&mut out),
            Change::Moved(c) => c.encode(&mut out),
            Change::Reprioritized(c) => c.encode(&mut out),
            Change::Requeued(c) => c.encode(&mut out),
            Change::RequeueAsked(c) => c.encode(&mut out),
            Change::Modified(c) => c.encode(&mut out),
        }
        out
    }

    pub fn from_record(record: &Record) -> Result<Change, BadRecord> {
        Change::decode(record.as_ref())
    }

    pub fn decode(record: RecordRef<'_>) -> Result<Change, BadRecord> {
        if record.format != FORMAT {
            return Err(BadRecord::Format(record.format));
        }
        let body = record.payload;
        let kind = record.kind;
        let bad = |error| BadRecord::Body { kind, error };
        Ok(match kind {
            SUBMITTED => Change::Submitted(Box::new(Submitted::from_body(body).map_err(bad)?)),
            2 => Change::StateChanged(StateChanged::from_body(body).map_err(bad)?),
            3 => Change::QueueControlled(Controlled::from_body(body).map_err(bad)?),
            4 => Change::HostControlled(Controlled::from_body(body).map_err(bad)?),
            5 => Change::JobImage(Box::new(JobImage::from_body(body).map_err(bad)?)),
            6 => Change::Checkpoint(Checkpoint::from_body(body).map_err(bad)?),
            7 => Change::Dispatched(Dispatched::from_body(body).map_err(bad)?),
            8 => Change::Forked(Forked::from_body(body).map_err(bad)?),
            9 => Change::Ended(Ended::from_body(body).map_err(bad)?),
            10 => Change::SpecImage(Box::new(SpecImage::from_body(body).map_err(bad)?)),
            11 => Change::JobOfSpec(Box::new(JobOfSpec::from_body(body).map_err(bad)?)),
            12 => Change::Moved(Moved::from_body(body).map_err(bad)?),
            13 => Change::Reprioritized(Reprioritized::from_body(body).map_err(bad)?),
            14 => Change::Requeued(Requeued::from_body(body).map_err(bad)?),
            15 => Change::RequeueAsked(RequeueAsked::from_body(body).map_err(bad)?),
            16 => Change::Modified(Modified::from_body(body).map_err(bad)?),
            17 => Change::QueueAccepting(Controlled::from_body(body).map_err(bad)?),
            18 => Change::EnvImage(EnvImage::from_body(body).map_err(bad)?),
            19 => Change::SpecOfEnv(Box::new(SpecOfEnv::from_body(body).map_err(bad)?)),
            other => return Err(BadRecord::Kind(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Job 7, `true`, submitted by ann to normal.
    fn submitted(request: SubmitRequest) -> Submitted {
        Submitted {
            first_id: 7,
            time: 100,
            user: "ann".into(),
            uid: 1000,
            queue: "normal".into(),
            priority: 30,
            request: SubmitRequest {
                command: "true".into(),
                ..request
            },
        }
    }

    #[test]
    fn a_submission_decoded_with_its_environment_apart_is_the_same() {
        let submitted = submitted(SubmitRequest {
            env: vec!["HOME=/home/ann".into()],
            cpus: 2,
            ..SubmitRequest::default()
        });
        let payload = Change::Submitted(Box::new(submitted.clone())).payload();
        let (apart, env) = Submitted::decode_env_with(&payload, Vec::<String>::from_body).unwrap();
        assert_eq!(env, submitted.request.env);
        let mut whole = apart;
        whole.request.env = env;
        assert_eq!(whole, submitted);
        let trailing = [payload.as_slice(), &[0, 0, 0, 0]].concat();
        assert!(Submitted::decode_env_with(&trailing, |_| Ok(())).is_err());
    }

    #[test]
    fn every_kind_round_trips_through_a_record() {
        let changes = [
            Change::Submitted(Box::new(submitted(SubmitRequest::default()))),
            Change::StateChanged(StateChanged {
                id: 7,
                time: 101,
                state: JobState::Exit,
                signal: 15,
                exit_code: 143,
            }),
            Change::HostControlled(Controlled {
                name: "cpu01".into(),
                open: false,
                time: 102,
            }),
            Change::Dispatched(Dispatched {
                id: 7,
                attempt: 1,
                time: 103,
                allocs: vec![AllocRecord {
                    host: "cpu01".into(),
                    cpus: 2,
                    gpus: vec![0, 1],
                }],
            }),
            Change::Ended(Ended {
                id: 7,
                attempt: 1,
                time: 104,
                exit_code: 140,
                signal: 12,
                usage: Usage::default(),
                note: "terminated".into(),
            }),
            Change::Checkpoint(Checkpoint {
                next_id: 8,
                closed_queues: vec!["short".into()],
                closed_hosts: vec![],
            }),
            Change::SpecImage(Box::new(SpecImage {
                spec_id: 0,
                user: "ann".into(),
                uid: 1000,
                queue: "normal".into(),
                submit_time: 100,
                request: SubmitRequest {
                    command: "true".into(),
                    env: vec!["A=1".into()],
                    ..SubmitRequest::default()
                },
            })),
            Change::JobOfSpec(Box::new(JobOfSpec {
                id: 7,
                array_id: 7,
                index: 1,
                spec_id: 0,
                priority: 30,
                state: JobState::Pend,
                events: vec![],
                attempt: 0,
                pid: 0,
                allocs: vec![],
            })),
            Change::Moved(Moved {
                id: 7,
                time: 105,
                queue: "short".into(),
            }),
            Change::Reprioritized(Reprioritized {
                id: 7,
                time: 106,
                priority: 10,
            }),
            Change::Requeued(Requeued {
                id: 7,
                attempt: 2,
                time: 107,
                note: "Not started on cpu01: cannot spool the job".into(),
            }),
            Change::RequeueAsked(RequeueAsked {
                id: 7,
                time: 108,
                hold: true,
                by: "ann".into(),
            }),
            Change::Modified(Modified {
                id: 7,
                time: 109,
                fields: vec![FieldChange {
                    field: proto::mbd::field::CPUS,
                    value: "4".into(),
                }],
            }),
            Change::EnvImage(EnvImage {
                env_id: 3,
                vars: vec!["HOME=/home/ann".into()],
            }),
            Change::SpecOfEnv(Box::new(SpecOfEnv {
                spec_id: 4,
                env_id: 3,
                user: "ann".into(),
                uid: 1000,
                queue: "normal".into(),
                submit_time: 100,
                request: SubmitRequest::default(),
            })),
        ];
        for change in changes {
            let record = Record {
                format: FORMAT,
                kind: change.kind(),
                payload: change.payload().into(),
            };
            assert_eq!(Change::from_record(&record), Ok(change));
        }
        let odd = Record {
            format: FORMAT + 1,
            kind: 1,
            payload: Default::default(),
        };
        assert_eq!(
            Change::from_record(&odd),
            Err(BadRecord::Format(FORMAT + 1))
        );
    }
}
