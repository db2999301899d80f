//! `bmove --to QUEUE job_id`: move a pending or held job to another queue.

use super::{client, fail, parse_args, parse_job_id, VERSION};
use proto::mbd::{op, MoveRequest};
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bmove", override_usage = "bmove --to <QUEUE> <JOB_ID>", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Move a pending or held job to a different queue")]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Destination queue
    #[arg(short = 't', long, value_name = "QUEUE")]
    to: Option<String>,
    /// The job's id (an array element's own id moves that element)
    job_id: Option<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let Some(queue) = args.to else {
        return fail("bmove", "--to queue is required");
    };
    let Some(text) = args.job_id else {
        return fail("bmove", "job_id is required");
    };
    let Some(job_id) = parse_job_id(&text) else {
        return fail("bmove", format!("invalid job_id '{text}'"));
    };
    let client = match client("bmove") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let request = MoveRequest {
        job_id,
        queue: queue.clone(),
    };
    match client.call::<_, ()>(op::MOVE, &request) {
        Ok(()) => {
            os::sayln!("Job <{job_id}> moved to queue <{queue}>.");
            ExitCode::SUCCESS
        }
        Err(e) => fail(
            "bmove",
            format!("job <{job_id}> move failed: {}", e.reason()),
        ),
    }
}
