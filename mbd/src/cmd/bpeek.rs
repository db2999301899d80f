//! `bpeek [-f] [job_ref]`: a running job's output so far, as LSF's bpeek
//! shows it (`<< output from stdout >>` ...). The job writes its files
//! directly (LavaLite's way, not a spool), so bpeek reads them where the
//! job's directory is: on this host, through a shared file system, with
//! the caller's own permissions. `-f` follows stdout until the job ends.

use super::{client, fail, parse_args, parse_job_ref, VERSION};
use crate::client::BatchClient;
use proto::mbd::{
    expand_job_pattern, op, output_file, HistoryChunk, HistoryRequest, JobHistory, JobRef,
    JobState, JobsChunk, JobsRequest,
};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Parser, Debug)]
#[command(name = "bpeek", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Show a job's output so far")]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Follow the output until the job ends (as tail -f)
    #[arg(short = 'f', long)]
    follow: bool,
    /// N or N[i] (default: your most recently submitted running job)
    job_ref: Option<String>,
}

/// How often `-f` looks for more output, and at the job.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let named = match args.job_ref.as_deref().map(parse_job_ref) {
        Some(None) => {
            let text = args.job_ref.unwrap_or_default();
            return fail("bpeek", format!("invalid job reference '{text}'"));
        }
        Some(Some(r)) => Some(r),
        None => None,
    };
    let client = match client("bpeek") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job = match find(&client, named) {
        Ok(job) => job,
        Err(e) => return fail("bpeek", e),
    };
    let shown = super::display_id(&job.row);
    if job.row.state.is_pending() {
        return fail("bpeek", format!("Job <{shown}> : Not yet started."));
    }
    let files = Outputs::of(&job);
    os::sayln!("<< output from stdout >>");
    let mut at = match files.show(&files.stdout, 0) {
        Ok(at) => at,
        Err(e) => return fail("bpeek", e),
    };
    if args.follow {
        while still_running(&client, &job) {
            std::thread::sleep(FOLLOW_EVERY);
            at = match files.show(&files.stdout, at) {
                Ok(at) => at,
                Err(e) => return fail("bpeek", e),
            };
        }
    }
    if let Some(stderr) = files.stderr.as_ref() {
        os::sayln!("\n<< output from stderr >>");
        if let Err(e) = files.show(stderr, 0) {
            return fail("bpeek", e);
        }
    }
    ExitCode::SUCCESS
}

/// The named job's history, or that of the caller's newest running job.
fn find(client: &BatchClient, named: Option<JobRef>) -> Result<JobHistory, String> {
    let job = match named {
        Some(job) => job,
        None => {
            let request = JobsRequest {
                run: true,
                user: client.user.clone(),
                ..JobsRequest::default()
            };
            let chunks = (client.stream(op::JOBS, &request, |c: &JobsChunk| c.more))
                .map_err(|e| e.reason())?;
            let newest = (chunks.iter().flat_map(|c| &c.jobs))
                .filter(|r| r.state == JobState::Run)
                .max_by_key(|r| r.id)
                .ok_or("you have no running job")?;
            JobRef {
                id: newest.id,
                index: 0,
            }
        }
    };
    let request = HistoryRequest {
        job,
        user: String::new(),
    };
    let chunks = (client.stream(op::HISTORY, &request, |c: &HistoryChunk| c.more))
        .map_err(|e| e.reason())?;
    let mut jobs: Vec<JobHistory> = chunks.into_iter().flat_map(|c| c.jobs).collect();
    match jobs.len() {
        1 => Ok(jobs.remove(0)),
        0 => Err(format!("Job <{}> is not found", job.id)),
        n => Err(format!(
            "job <{}> is an array of {n} elements: name one, as {}[{}]",
            job.id, job.id, jobs[0].row.index
        )),
    }
}

fn still_running(client: &BatchClient, job: &JobHistory) -> bool {
    let job = match job.row.array_id {
        0 => JobRef {
            id: job.row.id,
            index: 0,
        },
        array => JobRef {
            id: array,
            index: job.row.index,
        },
    };
    let request = JobsRequest {
        job,
        ..JobsRequest::default()
    };
    match client.stream(op::JOBS, &request, |c: &JobsChunk| c.more) {
        Ok(chunks) => (chunks.iter().flat_map(|c| &c.jobs)).any(|r| !r.state.is_finished()),
        // mbd away for a moment: keep following.
        Err(_) => true,
    }
}

/// Where a job's output goes.
struct Outputs {
    stdout: PathBuf,
    /// `None` when stderr shares stdout's file.
    stderr: Option<PathBuf>,
}

impl Outputs {
    fn of(job: &JobHistory) -> Outputs {
        let (id, index, s) = (job.row.id, job.row.index, &job.spec);
        let dir = PathBuf::from(expand_job_pattern(&s.cwd, id, index));
        let stdout = dir.join(output_file(&s.stdout, "stdout", id, index));
        let stderr = dir.join(output_file(&s.stderr, "stderr", id, index));
        Outputs {
            stderr: (stderr != stdout).then_some(stderr),
            stdout,
        }
    }

    /// Prints `path` from byte `from` on; where it ended.
    fn show(&self, path: &Path, from: u64) -> Result<u64, String> {
        let mut file = std::fs::File::open(path).map_err(|e| {
            format!(
                "cannot read {}: {e} (bpeek reads the job's output where its directory is: run it on a host that sees that directory)",
                path.display()
            )
        })?;
        file.seek(SeekFrom::Start(from))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        os::say!("{}", String::from_utf8_lossy(&bytes));
        Ok(from + bytes.len() as u64)
    }
}
