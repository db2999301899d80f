//! `bmove --to QUEUE job_id`: move a pending or held job to another queue.

use super::{fail, parse_args, parse_job_id, VERSION};
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
    match move_job(&text, &queue) {
        Ok(job_id) => {
            os::sayln!("Job <{job_id}> moved to queue <{queue}>.");
            ExitCode::SUCCESS
        }
        Err(e) => fail("bmove", e),
    }
}

/// Moves job `text` to `queue`; its id, or what went wrong.
pub fn move_job(text: &str, queue: &str) -> Result<u32, String> {
    let job_id = parse_job_id(text).ok_or(format!("invalid job_id '{text}'"))?;
    let client = crate::client::BatchClient::from_env().map_err(|e| e.to_string())?;
    let request = MoveRequest {
        job_id,
        queue: queue.to_owned(),
    };
    (client.call::<_, ()>(op::MOVE, &request))
        .map(|()| job_id)
        .map_err(|e| format!("job <{job_id}> move failed: {}", e.reason()))
}
