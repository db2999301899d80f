//! The messages between mbd and the execution daemons (sbd).
//!
//! sbd opens the connection (to mbd's port) and keeps it. Every message
//! either way is a signed frame (see [`crate::auth`]) and a one-way
//! message: each kind that needs an acknowledgement has its own answer
//! opcode, so neither side matches replies to requests. Every message
//! names the job by id and attempt, so a duplicate is harmless.

use crate::mbd::HostSlot;
use crate::xdr_struct;

/// Opcodes (the header's `operation`).
pub mod op {
    /// sbd -> mbd: [`super::Register`]; answered by [`REGISTERED`].
    pub const REGISTER: u32 = 0x0300;
    /// mbd -> sbd: empty body (status OK), or a refusal message.
    pub const REGISTERED: u32 = 0x0301;
    /// mbd -> sbd: [`super::JobStart`]; answered by [`STARTED`].
    pub const START: u32 = 0x0302;
    /// sbd -> mbd: [`super::Started`].
    pub const STARTED: u32 = 0x0303;
    /// mbd -> sbd: [`super::JobSignal`] (no answer: a lost signal is
    /// re-sent on re-registration only if the job still runs).
    pub const SIGNAL: u32 = 0x0304;
    /// sbd -> mbd: [`super::Finished`]; answered by [`FINISH_ACK`].
    pub const FINISHED: u32 = 0x0305;
    /// mbd -> sbd: [`super::JobKey`] of a finish report now durable.
    pub const FINISH_ACK: u32 = 0x0306;
    /// sbd -> mbd, every heartbeat interval: empty body; answered by
    /// [`HEARTBEAT_ACK`].
    pub const HEARTBEAT: u32 = 0x0307;
    /// mbd -> sbd: empty body.
    pub const HEARTBEAT_ACK: u32 = 0x0308;
    /// sbd -> mbd, instead of [`STARTED`]: [`super::Rejected`]. As
    /// LavaLite's sbd, one that cannot set a job up (its spool, its
    /// runner) hands it back: it never ran, and mbd returns it to PEND.
    pub const REJECTED: u32 = 0x0309;
    /// sbd -> mbd, with each heartbeat while jobs run in cgroups: a
    /// `Vec<`[`super::RunUsage`]`>` (no answer; mbd keeps it in memory
    /// for `bjobs -l`).
    pub const USAGE: u32 = 0x030a;
}

/// Heartbeats (ours; LavaLite has none, so a host that died without
/// closing its connection stayed `ok` forever): either end that hears
/// nothing from the other for this many heartbeat intervals closes the
/// link. mbd then shows the host's jobs UNKNOWN; sbd reconnects.
pub const MISSED_HEARTBEATS: u32 = 3;

/// `Finished::exit_code` of a job that did not run because its pre-exec
/// command (`bsub -E`) failed with a status that asks for a retry (not
/// 99, not a signal): mbd puts it back to PEND.
pub const PRE_EXEC_RETRY: i32 = -2;

/// How long a silent peer is given before its link is closed.
pub fn silence_limit(interval: std::time::Duration) -> std::time::Duration {
    interval * MISSED_HEARTBEATS
}

xdr_struct! {
    /// Names one run of one job.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct JobKey {
        pub id: u32,
        /// Counts dispatches of this job (1 for the first).
        pub attempt: u32,
    }
}

xdr_struct! {
    /// A job sbd still runs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RunningJob {
        pub job: JobKey,
        /// The job's process group.
        pub pid: u32,
        pub suspended: bool,
    }
}

xdr_struct! {
    /// Resource usage of a finished job (from `wait4`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Usage {
        pub user_ms: u64,
        pub system_ms: u64,
        pub max_rss_kb: u64,
    }
}

xdr_struct! {
    /// What a running job has used so far (from its cgroup).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct RunUsage {
        pub job: JobKey,
        pub usage: Usage,
    }
}

xdr_struct! {
    /// A job ended: exit code (128 + signal when a signal ended it).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Finished {
        pub job: JobKey,
        pub time: u64,
        pub exit_code: i32,
        /// The signal that ended it, or 0.
        pub signal: u32,
        pub usage: Usage,
        /// Why it ended if not by itself (empty otherwise).
        pub note: String,
    }
}

xdr_struct! {
    /// sbd's hello: which host it serves and what it still holds.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Register {
        pub host: String,
        /// sbd's challenge for this connection: every frame mbd sends on
        /// it must carry it (`proto::auth`).
        pub challenge: u64,
        pub running: Vec<RunningJob>,
        /// Finish reports mbd has not acknowledged yet.
        pub finished: Vec<Finished>,
    }
}

xdr_struct! {
    /// Everything sbd needs to run one job.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct JobStart {
        pub job: JobKey,
        /// Array index (0 if not an array).
        pub index: u32,
        pub user: String,
        pub uid: u32,
        pub queue: String,
        pub name: String,
        pub command: String,
        pub cwd: String,
        /// `NAME=value` pairs from the submission.
        pub env: Vec<String>,
        pub stdin: String,
        pub stdout: String,
        pub stderr: String,
        pub umask: u32,
        /// Unix time after which the job is terminated (0: never).
        pub terminate: u64,
        /// Every host of the job, the first one (this sbd's) first.
        pub hosts: Vec<HostSlot>,
        /// GPU ids assigned on this host.
        pub gpus: Vec<u32>,
        /// `--mem`, MB per host (0: none); sbd makes it the job's
        /// `memory.max`.
        pub mem_mb: u64,
        /// The submission's later options (`run_limit` as mbd settled
        /// it: the job's or its queue's).
        pub options: crate::JobOptions,
    }
}

xdr_struct! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Started {
        pub job: JobKey,
        pub pid: u32,
    }
}

xdr_struct! {
    /// A dispatch sbd could not set up, and why.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Rejected {
        pub job: JobKey,
        pub reason: String,
    }
}

xdr_struct! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct JobSignal {
        pub job: JobKey,
        pub signal: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decode, Encode};

    #[test]
    fn a_registration_round_trips() {
        let register = Register {
            host: "node1".into(),
            challenge: 0xc0ffee,
            running: vec![RunningJob {
                job: JobKey { id: 4, attempt: 1 },
                pid: 1234,
                suspended: true,
            }],
            finished: vec![Finished {
                job: JobKey { id: 3, attempt: 2 },
                time: 99,
                exit_code: 143,
                signal: 15,
                usage: Usage {
                    user_ms: 5,
                    system_ms: 6,
                    max_rss_kb: 7,
                },
                note: "terminated".into(),
            }],
        };
        let mut out = Vec::new();
        register.encode(&mut out);
        assert_eq!(Register::from_body(&out), Ok(register));
    }
}
