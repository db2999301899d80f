//! `bswitch QUEUE job_id`: LSF's name for `bmove --to QUEUE job_id`
//! (pending and held jobs; a running job stays where it is).

use super::{fail, parse_args, VERSION};
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bswitch", override_usage = "bswitch <QUEUE> <JOB_ID>", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Switch a pending or held job to another queue")]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Destination queue
    queue: String,
    /// The job's id
    job_id: String,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match super::bmove::move_job(&args.job_id, &args.queue) {
        Ok(job_id) => {
            os::sayln!("Job <{job_id}> is switched to queue <{}>", args.queue);
            ExitCode::SUCCESS
        }
        Err(e) => fail("bswitch", e),
    }
}
