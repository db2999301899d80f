//! `brequeue [-d] [-e] [-r] [-a] [-H] job_ref...`: LSF's command to run
//! jobs again from the start with the same id: running ones are killed
//! first (`-r`, the default), finished ones (`-d` DONE, `-e` EXIT, `-a`
//! all of them) go back to PEND at once; `-H` puts them back HELD.

use super::{client, parse_args, parse_target_refs, VERSION};
use proto::mbd::{op, JobRef, RequeueRequest};
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "brequeue", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Run jobs again from the start, with the same id")]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Requeue DONE jobs
    #[arg(short = 'd', long)]
    done: bool,
    /// Requeue EXIT jobs
    #[arg(short = 'e', long)]
    exit: bool,
    /// Requeue running and suspended jobs, killing them (the default)
    #[arg(short = 'r', long)]
    run: bool,
    /// Requeue DONE, EXIT, running and suspended jobs
    #[arg(short = 'a', long)]
    all: bool,
    /// Put them back held (release with bresume)
    #[arg(short = 'H', long)]
    hold: bool,
    /// N, N[i], or 0 for all your jobs
    #[arg(required = true)]
    job_refs: Vec<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let requests: Vec<_> = match parse_target_refs("brequeue", &args.job_refs) {
        Ok(refs) => (refs.into_iter())
            .map(|(job, text)| (text, request(&args, job)))
            .collect(),
        Err(code) => return code,
    };
    let client = match client("brequeue") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut failed = false;
    for (text, request) in requests {
        match client.call::<_, ()>(op::REQUEUE, &request) {
            Ok(()) => os::sayln!("Job <{text}> is being requeued"),
            Err(e) => {
                eprintln!("brequeue: cannot requeue job <{text}>: {}", e.reason());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The request for `job`; no state flag means `-r`, as OpenLava's.
fn request(a: &Args, job: JobRef) -> RequeueRequest {
    let none = !(a.done || a.exit || a.run || a.all);
    RequeueRequest {
        job,
        done: a.done || a.all,
        exit: a.exit || a.all,
        run: a.run || a.all || none,
        hold: a.hold,
    }
}
