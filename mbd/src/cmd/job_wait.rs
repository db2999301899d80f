//! `bsub -K`: stay until the submitted job has finished, then exit with
//! its exit code, as LSF's bsub does. Ctrl-C (or SIGTERM) kills the job.

use super::fail;
use crate::client::{BatchClient, ClientError};
use proto::mbd::{
    event, op, HistoryChunk, HistoryRequest, JobRef, JobRow, JobsChunk, JobsRequest, SignalRequest,
};
use std::process::ExitCode;
use std::time::Duration;

/// The longest wait between two looks at the job.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// LSF's exit code for a job that ended without ever being dispatched.
const NEVER_STARTED: u8 = 126;

/// Waits for job `id` (every element of an array) to finish.
pub fn until_finished(client: &BatchClient, id: u32) -> ExitCode {
    let mut interrupts = match Interrupts::watch() {
        Ok(i) => i,
        Err(e) => return fail("bsub", format!("cannot watch for Ctrl-C, not waiting: {e}")),
    };
    os::sayln!("<<Waiting for dispatch ...>>");
    let mut pause = Duration::from_millis(100);
    let mut started = false;
    let mut out_of_touch = false;
    loop {
        match rows(client, id) {
            Ok(rows) => {
                out_of_touch = false;
                if !started {
                    if let Some(host) = rows.iter().find_map(|r| r.hosts.first()) {
                        os::sayln!("<<Starting on {}>>", host.host);
                        started = true;
                    }
                }
                if !rows.is_empty() && rows.iter().all(|r| r.state.is_finished()) {
                    break;
                }
            }
            Err(e) if matches!(e, ClientError::Unreachable(_) | ClientError::NoReply(_)) => {
                if !out_of_touch {
                    eprintln!("bsub: {e}; still waiting for job <{id}>");
                    out_of_touch = true;
                }
            }
            Err(e) => return fail("bsub", format!("cannot follow job <{id}>: {}", e.reason())),
        }
        if interrupts.during(pause) {
            return kill(client, id);
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
    os::sayln!("<<Job is finished>>");
    match exit_code(client, id) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(
            "bsub",
            format!(
                "job <{id}> finished; its exit code is unknown: {}",
                e.reason()
            ),
        ),
    }
}

fn rows(client: &BatchClient, id: u32) -> Result<Vec<JobRow>, ClientError> {
    let request = JobsRequest {
        job: JobRef { id, index: 0 },
        ..JobsRequest::default()
    };
    let chunks = client.stream(op::JOBS, &request, |c: &JobsChunk| c.more)?;
    Ok(chunks.into_iter().flat_map(|c| c.jobs).collect())
}

/// The job's exit code (an array's: the first non-zero of its
/// elements'), 126 if it ended before it was ever dispatched.
fn exit_code(client: &BatchClient, id: u32) -> Result<u8, ClientError> {
    let request = HistoryRequest {
        job: JobRef { id, index: 0 },
        user: String::new(),
    };
    let chunks = client.stream(op::HISTORY, &request, |c: &HistoryChunk| c.more)?;
    let codes = chunks.iter().flat_map(|c| &c.jobs).map(|job| {
        let ran = job.events.iter().any(|e| e.what == event::DISPATCHED);
        let code = (job.events.iter().rev())
            .find(|e| e.what == event::FINISHED)
            .map_or(0, |e| e.code);
        match (ran, code) {
            (false, c) if c != 0 => NEVER_STARTED,
            (_, c) => u8::try_from(c).unwrap_or(u8::MAX),
        }
    });
    Ok(codes.fold(0, |first, code| if first == 0 { code } else { first }))
}

/// Ctrl-C: the job is killed (bkill's default signal) and bsub ends.
fn kill(client: &BatchClient, id: u32) -> ExitCode {
    let request = SignalRequest {
        job: JobRef { id, index: 0 },
        signal: libc::SIGTERM as u32,
    };
    match client.call::<_, ()>(op::SIGNAL, &request) {
        Ok(()) => eprintln!("bsub: interrupted: job <{id}> is being terminated"),
        Err(e) => eprintln!(
            "bsub: interrupted; could not terminate job <{id}>: {}",
            e.reason()
        ),
    }
    ExitCode::from(130)
}

/// SIGINT and SIGTERM, read through a signalfd while bsub waits.
struct Interrupts {
    chans: chan::Channels,
}

impl Interrupts {
    fn watch() -> Result<Interrupts, chan::ChanError> {
        let mut chans = chan::Channels::new(chan::Config {
            capacity: 4,
            raise_nofile: false,
            ..chan::Config::default()
        })?;
        chans.signals(&[libc::SIGINT, libc::SIGTERM])?;
        Ok(Interrupts { chans })
    }

    /// Waits `pause`; whether an interrupt came meanwhile.
    fn during(&mut self, pause: Duration) -> bool {
        if self.chans.chan_epoll(Some(pause)).is_err() {
            return false;
        }
        let mut interrupted = false;
        while let Some(event) = self.chans.next_event() {
            interrupted |= matches!(event, chan::Event::Signal { .. });
        }
        interrupted
    }
}
