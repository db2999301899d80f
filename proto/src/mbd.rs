//! mbd's opcodes and messages.
//!
//! Every request to mbd is a signed frame (see [`crate::auth`]): mbd knows
//! who asks from the verified auth block, never from the body. Replies are
//! plain frames; a non-OK status carries a one-line message as its body.
//! Listings ([`op::JOBS`], [`op::HISTORY`]) are streamed: several reply
//! frames with the request's sequence, each a chunk whose `more` flag says
//! whether another follows, so no frame grows with the number of jobs.

use crate::xdr::{DecodeError, Reader};
use crate::{xdr_struct, Decode, Encode};
use bytes::BufMut;

/// Largest request body mbd reads (a submission with a big environment
/// fits), auth block included.
pub const MAX_REQUEST_BODY: u32 = 4 << 20;

/// Longest job name (`bsub -J`), bytes: LSF's documented limit (4094
/// characters). A longer one is refused; without a bound one name of
/// 100 KB padded every `bjobs` line to its width.
pub const MAX_JOB_NAME: usize = 4094;

/// Opcodes (the header's `operation`).
pub mod op {
    /// [`super::SubmitRequest`] -> [`super::SubmitReply`].
    pub const SUBMIT: u32 = 0x0200;
    /// [`super::JobsRequest`] -> [`super::JobsChunk`]s.
    pub const JOBS: u32 = 0x0201;
    /// [`super::SignalRequest`] -> empty body.
    pub const SIGNAL: u32 = 0x0202;
    /// empty -> `Vec<`[`super::QueueRow`]`>`.
    pub const QUEUES: u32 = 0x0203;
    /// [`super::Control`] -> empty body (admin only).
    pub const QUEUE_CONTROL: u32 = 0x0204;
    /// empty -> `Vec<`[`super::HostRow`]`>`.
    pub const HOSTS: u32 = 0x0205;
    /// [`super::Control`] -> empty body (admin only).
    pub const HOST_CONTROL: u32 = 0x0206;
    /// [`super::HistoryRequest`] -> [`super::HistoryChunk`]s.
    pub const HISTORY: u32 = 0x0207;
    /// [`super::MoveRequest`] -> empty body (`bmove`).
    pub const MOVE: u32 = 0x0208;
    /// [`super::PriorityRequest`] -> empty body (`bpriority`).
    pub const PRIORITY: u32 = 0x0209;
    /// empty -> `Vec<`[`super::TokenRow`]`>` (`btokens`).
    pub const TOKENS: u32 = 0x020a;
    /// empty -> `Vec<`[`super::GroupRow`]`>` (`bgroups`).
    pub const GROUPS: u32 = 0x020b;
    /// [`super::RequeueRequest`] -> empty body (`brequeue`).
    pub const REQUEUE: u32 = 0x020c;
    /// [`super::ModifyRequest`] -> empty body (`bmod`).
    pub const MODIFY: u32 = 0x020d;
    /// empty -> empty body (admin, `badmin reconfig`): mbd re-reads
    /// llb.hosts, llb.queues and llb.users without a restart.
    pub const RECONFIG: u32 = 0x020e;
    /// [`super::AcctRequest`] -> [`super::AcctChunk`]s (`bacct`): the
    /// finished jobs' figures summed by mbd, and each job's on request.
    pub const ACCT: u32 = 0x020f;
    /// [`super::Control`] -> empty body (admin, `badmin qopen/qclose`):
    /// whether a queue takes new jobs (2.2).
    pub const QUEUE_ACCEPT: u32 = 0x0210;
    /// empty -> empty body (admin, `badmin mbdrestart`): mbd answers,
    /// then starts again from its event log in the same process (2.2).
    pub const MBD_RESTART: u32 = 0x0211;

    /// Every request a batch command sends: exactly what a local lim signs
    /// for users (sbd's messages and lim's own never).
    pub const USER_REQUESTS: [u32; 18] = [
        SUBMIT,
        JOBS,
        SIGNAL,
        QUEUES,
        QUEUE_CONTROL,
        HOSTS,
        HOST_CONTROL,
        HISTORY,
        MOVE,
        PRIORITY,
        TOKENS,
        GROUPS,
        REQUEUE,
        MODIFY,
        RECONFIG,
        ACCT,
        QUEUE_ACCEPT,
        MBD_RESTART,
    ];

    /// mbd -> every peer, first thing on a new connection:
    /// [`super::Hello`], signed and bound to no connection. Every frame
    /// the peer sends after it carries its challenge.
    pub const HELLO: u32 = 0x0220;

    /// What a client request asks for, in words for log lines.
    pub fn name(op: u32) -> &'static str {
        match op {
            SUBMIT => "submit",
            JOBS => "list jobs",
            SIGNAL => "signal",
            QUEUES => "list queues",
            QUEUE_CONTROL => "open or close a queue",
            HOSTS => "list hosts",
            HOST_CONTROL => "open or close a host",
            HISTORY => "job history",
            MOVE => "move a job",
            PRIORITY => "change a job's priority",
            TOKENS => "list token pools",
            GROUPS => "list groups",
            REQUEUE => "requeue a job",
            MODIFY => "modify a job",
            RECONFIG => "reconfigure",
            ACCT => "accounting",
            QUEUE_ACCEPT => "open or close a queue to submissions",
            MBD_RESTART => "restart mbd",
            _ => "an unknown operation",
        }
    }
}

/// Reply statuses. The errno-like ones carry LavaLite's errno values so
/// the commands print the same `strerror` text scripts expect.
pub mod status {
    pub const OK: u32 = 0;
    /// Not the owner, not an admin, or not allowed in the queue.
    pub const EPERM: u32 = 1;
    /// No such job, queue or host.
    pub const ESRCH: u32 = 3;
    /// The job's host is not connected.
    pub const EAGAIN: u32 = 11;
    /// Invalid request: unknown queue or pool, bad state for the signal.
    pub const EINVAL: u32 = 22;
    /// The auth block was refused (bad key, stale, replayed).
    pub const AUTH: u32 = 0x100;
    /// The frame or body could not be understood.
    pub const BAD_REQUEST: u32 = 0x101;
    /// mbd could not make the change durable.
    pub const INTERNAL: u32 = 0x102;

    /// What `strerror` prints for the errno-like statuses, as LavaLite's
    /// commands show it.
    pub fn text(status: u32) -> &'static str {
        match status {
            OK => "Success",
            EPERM => "Operation not permitted",
            ESRCH => "No such process",
            EAGAIN => "Resource temporarily unavailable",
            EINVAL => "Invalid argument",
            AUTH => "Authentication failed",
            BAD_REQUEST => "Bad request",
            _ => "Internal error",
        }
    }
}

/// A job's state as the commands show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    #[default]
    Pend,
    Held,
    Run,
    Susp,
    Done,
    Exit,
    /// Running or suspended on a host whose sbd is disconnected.
    Unknown,
}

impl JobState {
    const ALL: [JobState; 7] = [
        JobState::Pend,
        JobState::Held,
        JobState::Run,
        JobState::Susp,
        JobState::Done,
        JobState::Exit,
        JobState::Unknown,
    ];

    /// The STAT column text.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pend => "PEND",
            JobState::Held => "HELD",
            JobState::Run => "RUN",
            JobState::Susp => "SUSP",
            JobState::Done => "DONE",
            JobState::Exit => "EXIT",
            JobState::Unknown => "UNKNOWN",
        }
    }

    pub fn is_pending(self) -> bool {
        matches!(self, JobState::Pend | JobState::Held)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Exit)
    }

    fn code(self) -> u32 {
        self as u32 + 1
    }
}

impl Encode for JobState {
    fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.code());
    }
}

impl Decode for JobState {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let code = r.u32()?;
        JobState::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or(DecodeError::BadValue {
                field: "job state",
                value: code,
            })
    }
}

xdr_struct! {
    /// mbd's greeting on a new connection ([`op::HELLO`]).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Hello {
        /// What every frame the peer sends on this connection must carry
        /// in its auth block.
        pub challenge: u64,
    }
}

xdr_struct! {
    /// `--tokens name=N`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct TokenRequest {
        pub pool: String,
        pub count: u32,
    }
}

xdr_struct! {
    /// `--array S-E:K`; `start` 0 means not an array.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ArraySpec {
        pub start: u32,
        pub end: u32,
        pub step: u32,
    }
}

impl ArraySpec {
    pub fn is_array(&self) -> bool {
        self.start > 0
    }

    /// The element indices, in order (just `[0]` for a plain job).
    pub fn indices(&self) -> Vec<u32> {
        if !self.is_array() {
            return vec![0];
        }
        (self.start..=self.end)
            .step_by(self.step.max(1) as usize)
            .collect()
    }
}

xdr_struct! {
    /// Everything `bsub` sends; mbd stores it as the job's specification.
    /// Times are Unix seconds, 0 = not set; sizes are MB.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct SubmitRequest {
        /// Empty: the cluster's default queue.
        pub queue: String,
        pub name: String,
        pub project: String,
        pub comment: String,
        pub command: String,
        pub cwd: String,
        pub submit_host: String,
        pub stdin: String,
        pub stdout: String,
        pub stderr: String,
        /// `NAME=value` pairs exported to the job.
        pub env: Vec<String>,
        pub umask: u32,
        pub cpus: u32,
        pub nhosts: u32,
        /// `--machines`, as given (groups expanded by mbd).
        pub machines: Vec<String>,
        pub mem_mb: u64,
        pub storage_mb: u64,
        pub gpus: u32,
        pub gpu_model: String,
        pub tokens: Vec<TokenRequest>,
        pub exclusive: bool,
        pub hold: bool,
        pub array: ArraySpec,
        pub begin: u64,
        pub terminate: u64,
        /// `--dependency`, as given (mbd parses and checks it).
        pub dependency: String,
        /// Protocol 2.1's options (absent from a 2.0 submission).
        pub options: crate::JobOptions,
    }
}

impl SubmitRequest {
    /// Decodes a request as [`Decode`] does but for its environment, which
    /// is handed to `env` still encoded ([`Reader::encoded_strings`]);
    /// what `env` makes of it comes back beside the request, whose `env`
    /// is left empty. A replay of thousands of submissions from one shell
    /// then decodes their one environment once, not thousands of times.
    pub fn decode_env_with<E>(
        r: &mut Reader<'_>,
        env: impl FnOnce(&[u8]) -> Result<E, DecodeError>,
    ) -> Result<(SubmitRequest, E), DecodeError> {
        let string = |r: &mut Reader<'_>| String::decode(r);
        let (queue, name, project, comment) = (string(r)?, string(r)?, string(r)?, string(r)?);
        let (command, cwd, submit_host) = (string(r)?, string(r)?, string(r)?);
        let (stdin, stdout, stderr) = (string(r)?, string(r)?, string(r)?);
        let made = env(r.encoded_strings()?)?;
        let request = SubmitRequest {
            queue,
            name,
            project,
            comment,
            command,
            cwd,
            submit_host,
            stdin,
            stdout,
            stderr,
            env: Vec::new(),
            umask: u32::decode(r)?,
            cpus: u32::decode(r)?,
            nhosts: u32::decode(r)?,
            machines: Vec::decode(r)?,
            mem_mb: u64::decode(r)?,
            storage_mb: u64::decode(r)?,
            gpus: u32::decode(r)?,
            gpu_model: String::decode(r)?,
            tokens: Vec::decode(r)?,
            exclusive: bool::decode(r)?,
            hold: bool::decode(r)?,
            array: ArraySpec::decode(r)?,
            begin: u64::decode(r)?,
            terminate: u64::decode(r)?,
            dependency: String::decode(r)?,
            options: crate::JobOptions::decode(r)?,
        };
        Ok((request, made))
    }

    /// Whether it makes an array.
    pub fn is_array(&self) -> bool {
        self.array.is_array() || !self.options.array_indices.is_empty()
    }

    /// The element indices, in order (just `[0]` for a plain job).
    pub fn indices(&self) -> Vec<u32> {
        if self.options.array_indices.is_empty() {
            self.array.indices()
        } else {
            self.options.array_indices.clone()
        }
    }
}

/// `-o`/`-e`/`-cwd` with `%J` (the job's own id) and `%I` (its array
/// index) replaced; other `%x` pairs and a trailing `%` stay as written.
pub fn expand_job_pattern(pattern: &str, id: u32, index: u32) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('J')) => out.push_str(&id.to_string()),
            ('%', Some('I')) => out.push_str(&index.to_string()),
            _ => {
                out.push(c);
                continue;
            }
        }
        chars.next();
    }
    out
}

/// The file a job's `stream` (`stdout`, `stderr`) goes to: `-o`/`-e`
/// expanded, or LavaLite's `<stream>.<job id>`; relative to the job's
/// directory.
pub fn output_file(pattern: &str, stream: &str, id: u32, index: u32) -> String {
    if pattern.is_empty() {
        return format!("{stream}.{id}");
    }
    expand_job_pattern(pattern, id, index)
}

xdr_struct! {
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct SubmitReply {
        /// The job's id; for an array, the first element's (= array id).
        pub job_id: u32,
        /// The queue the job went to (the default queue resolved).
        pub queue: String,
        pub elements: u32,
    }
}

xdr_struct! {
    /// `N`, `N[i]`, or (id 0) all of the caller's jobs.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct JobRef {
        pub id: u32,
        /// Array index; 0 = the whole job or array.
        pub index: u32,
    }
}

xdr_struct! {
    /// `bjobs` filters. No flag and no job: pending and running jobs.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct JobsRequest {
        pub pend: bool,
        pub run: bool,
        pub done: bool,
        /// Only this user's jobs; empty = no filter.
        pub user: String,
        /// id 0: no job named.
        pub job: JobRef,
    }
}

xdr_struct! {
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct HostSlot {
        pub host: String,
        pub cpus: u32,
    }
}

xdr_struct! {
    /// One `bjobs` row.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct JobRow {
        pub id: u32,
        /// The array's id (its first element's job id); 0 if not an array.
        pub array_id: u32,
        pub index: u32,
        pub user: String,
        pub state: JobState,
        pub queue: String,
        pub priority: i32,
        pub hosts: Vec<HostSlot>,
        pub name: String,
        pub submit_time: u64,
        /// Why a PEND job waits (empty otherwise).
        pub pend_reason: String,
        /// When its last run was dispatched (0: never).
        pub start_time: u64,
        /// When it finished (0: not yet).
        pub end_time: u64,
        /// A finished job's exit code (128 + n: ended by signal n).
        pub exit_code: i32,
        /// A running job's usage so far, as its sbd last reported it
        /// (zero when unknown).
        pub run_usage: crate::sbd::Usage,
    }
}

xdr_struct! {
    /// One frame of a streamed job listing.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct JobsChunk {
        pub more: bool,
        pub jobs: Vec<JobRow>,
    }
}

xdr_struct! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SignalRequest {
        pub job: JobRef,
        pub signal: u32,
    }
}

xdr_struct! {
    /// `brequeue`: which of the named jobs go back to PEND (HELD with
    /// `hold`): finished ones (`done`, `exit`), running and suspended
    /// ones (`run`: killed first).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct RequeueRequest {
        pub job: JobRef,
        pub done: bool,
        pub exit: bool,
        pub run: bool,
        pub hold: bool,
    }
}

/// What a [`FieldChange`] changes (its `field`).
pub mod field {
    /// The queue's name.
    pub const QUEUE: u32 = 1;
    /// CPUs per host, digits.
    pub const CPUS: u32 = 2;
    /// Memory per host, MB digits.
    pub const MEM_MB: u32 = 3;
    /// Run limit, seconds digits; empty: none.
    pub const RUN_LIMIT: u32 = 4;
    /// Job name; empty: none.
    pub const NAME: u32 = 5;
    /// Dependency expression; empty: none.
    pub const DEPENDENCY: u32 = 6;
}

xdr_struct! {
    /// One value `bmod` sets.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct FieldChange {
        pub field: u32,
        pub value: String,
    }
}

xdr_struct! {
    /// `bmod`: new values for a waiting job's submission.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ModifyRequest {
        pub job: JobRef,
        pub fields: Vec<FieldChange>,
    }
}

xdr_struct! {
    /// One `bqueues` row.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct QueueRow {
        pub name: String,
        pub priority: i32,
        pub open: bool,
        pub description: String,
        /// Empty: everyone.
        pub users: Vec<String>,
        pub hosts: Vec<String>,
        pub pend: u32,
        pub held: u32,
        pub run: u32,
        pub susp: u32,
        pub used_cpus: u32,
        pub used_hosts: u32,
        /// Slot limits, 0 = unlimited (2.1): `QJOB_LIMIT`, `UJOB_LIMIT`,
        /// `HJOB_LIMIT`, and `PJOB_LIMIT` as written.
        pub max_slots: u32,
        pub user_slots: u32,
        pub host_slots: u32,
        pub processor_slots: String,
        /// A fair-share queue's accounts (empty otherwise) (2.1).
        pub shares: Vec<ShareRow>,
        /// It takes new jobs: not closed by `badmin qclose` (2.2).
        pub accepting: bool,
    }
}

xdr_struct! {
    /// One account of a fair-share queue, as `bqueues -l` shows it.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ShareRow {
        /// A user, or a group sharing together.
        pub account: String,
        pub shares: u32,
        /// Its dynamic priority, in thousandths.
        pub priority_milli: u64,
        /// Job slots it holds.
        pub started: u32,
        /// Decayed CPU seconds of its finished jobs.
        pub cpu_secs: u64,
        /// Wall seconds its running jobs have run.
        pub run_secs: u64,
    }
}

xdr_struct! {
    /// Open or close a queue or host.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Control {
        pub name: String,
        pub open: bool,
    }
}

xdr_struct! {
    /// One `bhosts` row.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct HostRow {
        pub name: String,
        /// lim reports the host up (else `unavail`).
        pub available: bool,
        /// Its sbd is connected to mbd (else `unavail` too).
        pub sbd: bool,
        pub closed: bool,
        pub ncpu: u32,
        pub mem_mb: u64,
        pub storage_mb: u64,
        pub ngpu: u32,
        pub njobs: u32,
        pub run: u32,
        pub susp: u32,
        pub used_cpu: u32,
        pub used_mb: u64,
        pub used_storage_mb: u64,
        pub used_gpu: u32,
        pub gpu_model: String,
        pub gpu_ids: String,
        /// `MXJ` and `JL/U`, 0 = unlimited (2.1).
        pub max_slots: u32,
        pub user_slots: u32,
    }
}

xdr_struct! {
    /// Move a pending or held job to another queue.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct MoveRequest {
        pub job_id: u32,
        pub queue: String,
    }
}

xdr_struct! {
    /// Set an unfinished job's priority.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PriorityRequest {
        pub job_id: u32,
        pub priority: i32,
    }
}

xdr_struct! {
    /// One `btokens` row: a token pool and what running jobs hold of it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TokenRow {
        pub name: String,
        pub total: u32,
        pub used: u32,
    }
}

xdr_struct! {
    /// One `bgroups` row: a host group and its hosts, as configured.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct GroupRow {
        pub name: String,
        pub members: Vec<String>,
    }
}

xdr_struct! {
    /// `bhist` filters.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct HistoryRequest {
        pub job: JobRef,
        /// Only this user's jobs; empty = no filter.
        pub user: String,
    }
}

/// What a history event records (the `what` of [`HistEvent`]).
pub mod event {
    pub const SUBMITTED: u32 = 1;
    /// `hosts` lists the hosts; `text` the GPU ids, if any.
    pub const DISPATCHED: u32 = 2;
    /// `code` is the pid.
    pub const FORKED: u32 = 3;
    /// `code` is the signal number.
    pub const SIGNAL: u32 = 4;
    /// `text` is DONE or EXIT, `code` the exit code.
    pub const FINISHED: u32 = 5;
    /// Held while pending (`Suspended (pend)`).
    pub const HELD: u32 = 6;
    /// Released while pending (`Resumed (pend)`).
    pub const RELEASED: u32 = 7;
    pub const SUSPENDED: u32 = 8;
    pub const RESUMED: u32 = 9;
    /// `text` is `from -> to`.
    pub const MOVED: u32 = 10;
    /// `text` is `old -> new`.
    pub const PRIORITY: u32 = 11;
    /// Returned to pending.
    pub const PENDING: u32 = 12;
    /// `text` is the resource usage of the finished job.
    pub const USAGE: u32 = 13;
    /// `text` says why the job ended when it did not end by itself.
    pub const NOTE: u32 = 14;
    /// `brequeue` (`code` 1: held); `text` says by whom. A running job
    /// goes back to PEND when its run ends.
    pub const REQUEUE: u32 = 15;
    /// `bmod`; `text` lists the new values.
    pub const MODIFIED: u32 = 16;
}

xdr_struct! {
    /// One line of a job's history.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct HistEvent {
        pub time: u64,
        pub what: u32,
        pub code: i32,
        pub hosts: Vec<String>,
        pub text: String,
    }
}

xdr_struct! {
    /// One `bhist` job: its row, its specification and its events.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct JobHistory {
        pub row: JobRow,
        pub spec: SubmitRequest,
        pub events: Vec<HistEvent>,
    }
}

xdr_struct! {
    /// One frame of a streamed history.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct HistoryChunk {
        pub more: bool,
        pub jobs: Vec<JobHistory>,
    }
}

xdr_struct! {
    /// `bacct` filters over finished jobs; an empty string is no filter.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct AcctRequest {
        /// Only these jobs (an array's id: all its elements); empty = all.
        pub jobs: Vec<JobRef>,
        pub user: String,
        pub queue: String,
        /// Only jobs that ran on this host.
        pub host: String,
        /// Only jobs that ended in `ended_from..=ended_to` (Unix seconds).
        pub ended_from: u64,
        pub ended_to: u64,
        /// Send each job's record, not only the summary.
        pub per_job: bool,
    }
}

xdr_struct! {
    /// One finished job's accounting: its last run's figures.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct AcctRecord {
        pub id: u32,
        pub array_id: u32,
        pub index: u32,
        pub user: String,
        pub queue: String,
        /// DONE (else EXIT).
        pub done: bool,
        pub exit_code: i32,
        pub hosts: Vec<String>,
        pub submit_time: u64,
        /// 0: it never started.
        pub start_time: u64,
        pub end_time: u64,
        /// User plus system CPU time.
        pub cpu_ms: u64,
        pub max_rss_kb: u64,
        pub command: String,
    }
}

impl AcctRecord {
    /// Seconds from submission to start (to the end, for a job that
    /// never started).
    pub fn wait_secs(&self) -> u64 {
        match self.start_time {
            0 => self.end_time.saturating_sub(self.submit_time),
            start => start.saturating_sub(self.submit_time),
        }
    }

    pub fn turnaround_secs(&self) -> u64 {
        self.end_time.saturating_sub(self.submit_time)
    }

    /// CPU time over turnaround, in millionths.
    pub fn hog_ppm(&self) -> u64 {
        match self.turnaround_secs() {
            0 => 0,
            t => self.cpu_ms.saturating_mul(1000) / t,
        }
    }
}

xdr_struct! {
    /// The figures of a set of finished jobs summed (LSF's SUMMARY); the
    /// minima mean nothing while there are no jobs.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct AcctSummary {
        pub done: u64,
        pub exited: u64,
        pub cpu_ms_total: u64,
        pub cpu_ms_max: u64,
        pub cpu_ms_min: u64,
        pub wait_total: u64,
        pub wait_max: u64,
        pub wait_min: u64,
        pub turnaround_total: u64,
        pub turnaround_max: u64,
        pub turnaround_min: u64,
        pub hog_ppm_total: u64,
        pub hog_ppm_max: u64,
        pub hog_ppm_min: u64,
    }
}

impl AcctSummary {
    pub fn jobs(&self) -> u64 {
        self.done + self.exited
    }

    /// Counts `r` in.
    pub fn add(&mut self, r: &AcctRecord) {
        let first = self.jobs() == 0;
        let both = |total: &mut u64, max: &mut u64, min: &mut u64, v: u64| {
            *total = total.saturating_add(v);
            *max = (*max).max(v);
            *min = if first { v } else { (*min).min(v) };
        };
        both(
            &mut self.cpu_ms_total,
            &mut self.cpu_ms_max,
            &mut self.cpu_ms_min,
            r.cpu_ms,
        );
        both(
            &mut self.wait_total,
            &mut self.wait_max,
            &mut self.wait_min,
            r.wait_secs(),
        );
        both(
            &mut self.turnaround_total,
            &mut self.turnaround_max,
            &mut self.turnaround_min,
            r.turnaround_secs(),
        );
        both(
            &mut self.hog_ppm_total,
            &mut self.hog_ppm_max,
            &mut self.hog_ppm_min,
            r.hog_ppm(),
        );
        if r.done {
            self.done += 1;
        } else {
            self.exited += 1;
        }
    }

    /// Counts the jobs `other` summed in.
    pub fn merge(&mut self, other: &AcctSummary) {
        if other.jobs() == 0 {
            return;
        }
        if self.jobs() == 0 {
            *self = other.clone();
            return;
        }
        let both = |total: &mut u64, max: &mut u64, min: &mut u64, o: [u64; 3]| {
            *total = total.saturating_add(o[0]);
            *max = (*max).max(o[1]);
            *min = (*min).min(o[2]);
        };
        let o = other;
        both(
            &mut self.cpu_ms_total,
            &mut self.cpu_ms_max,
            &mut self.cpu_ms_min,
            [o.cpu_ms_total, o.cpu_ms_max, o.cpu_ms_min],
        );
        both(
            &mut self.wait_total,
            &mut self.wait_max,
            &mut self.wait_min,
            [o.wait_total, o.wait_max, o.wait_min],
        );
        both(
            &mut self.turnaround_total,
            &mut self.turnaround_max,
            &mut self.turnaround_min,
            [o.turnaround_total, o.turnaround_max, o.turnaround_min],
        );
        both(
            &mut self.hog_ppm_total,
            &mut self.hog_ppm_max,
            &mut self.hog_ppm_min,
            [o.hog_ppm_total, o.hog_ppm_max, o.hog_ppm_min],
        );
        self.done += o.done;
        self.exited += o.exited;
    }
}

xdr_struct! {
    /// One frame of a `bacct` answer; the summary is whole in the last.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct AcctChunk {
        pub more: bool,
        pub records: Vec<AcctRecord>,
        pub summary: AcctSummary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submit_request_round_trips() {
        let request = SubmitRequest {
            queue: "short".into(),
            command: "sleep 10".into(),
            env: vec!["HOME=/home/ann".into()],
            cpus: 4,
            nhosts: 1,
            tokens: vec![TokenRequest {
                pool: "ansys".into(),
                count: 2,
            }],
            array: ArraySpec {
                start: 1,
                end: 5,
                step: 2,
            },
            hold: true,
            ..SubmitRequest::default()
        };
        let mut out = Vec::new();
        request.encode(&mut out);
        assert_eq!(SubmitRequest::from_body(&out), Ok(request));
    }

    #[test]
    fn a_request_decoded_with_its_environment_apart_is_the_same_request() {
        // Every field set, each to a value no other field has: a field
        // read out of order would not come back equal.
        let text = |n: u32| format!("field{n}");
        let request = SubmitRequest {
            queue: text(1),
            name: text(2),
            project: text(3),
            comment: text(4),
            command: text(5),
            cwd: text(6),
            submit_host: text(7),
            stdin: text(8),
            stdout: text(9),
            stderr: text(10),
            env: vec!["HOME=/home/ann".into(), "I=é".into()],
            umask: 11,
            cpus: 12,
            nhosts: 13,
            machines: vec![text(14)],
            mem_mb: 15,
            storage_mb: 16,
            gpus: 17,
            gpu_model: text(18),
            tokens: vec![TokenRequest {
                pool: text(19),
                count: 20,
            }],
            exclusive: true,
            hold: false,
            array: ArraySpec {
                start: 21,
                end: 22,
                step: 23,
            },
            begin: 24,
            terminate: 25,
            dependency: text(26),
            options: crate::JobOptions {
                script: text(27),
                run_limit: 28,
                ..crate::JobOptions::default()
            },
        };
        let mut out = Vec::new();
        request.encode(&mut out);
        let mut r = Reader::new(&out);
        let (apart, env) =
            SubmitRequest::decode_env_with(&mut r, Vec::<String>::from_body).unwrap();
        r.finish().unwrap();
        assert_eq!(env, request.env);
        assert_eq!(
            apart,
            SubmitRequest {
                env: Vec::new(),
                ..request
            }
        );
        // Still checked: a cut body is an error, not a request.
        let mut cut = Reader::new(&out[..out.len() / 2]);
        assert!(SubmitRequest::decode_env_with(&mut cut, |_| Ok(())).is_err());
    }

    #[test]
    fn percent_j_and_i_expand_and_the_rest_stays() {
        assert_eq!(expand_job_pattern("out.%J.%I.log", 42, 3), "out.42.3.log");
        assert_eq!(expand_job_pattern("100%x%%J%", 7, 0), "100%x%7%");
        assert_eq!(expand_job_pattern("", 7, 0), "");
        assert_eq!(output_file("", "stderr", 7, 0), "stderr.7");
    }

    #[test]
    fn an_unknown_job_state_is_a_decode_error() {
        let mut out = Vec::new();
        JobState::Exit.encode(&mut out);
        assert_eq!(JobState::from_body(&out), Ok(JobState::Exit));
        assert!(JobState::from_body(&[0, 0, 0, 99]).is_err());
    }

    #[test]
    fn array_indices_follow_the_step() {
        let spec = ArraySpec {
            start: 2,
            end: 9,
            step: 3,
        };
        assert_eq!(spec.indices(), [2, 5, 8]);
        assert_eq!(ArraySpec::default().indices(), [0]);
    }
}
