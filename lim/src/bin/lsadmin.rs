//! `lsadmin reconfig`: LSF's lim administration. lim reads the cluster
//! file again without a restart (hosts added or removed, master
//! candidates changed) and tells every other lim to. Root or lim's own
//! user only; it asks a lim of this machine over its local socket.

use clap::Parser;
use conf::ConfDir;
use std::process::ExitCode;
use std::time::Duration;

/// How long lim is given to read its files and answer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

#[derive(Parser)]
#[command(name = "lsadmin", version = lim::cli::VERSION, about = "Administer lim")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Have every lim read the cluster file again, without a restart
    Reconfig,
}

fn main() -> ExitCode {
    let Args { command } = Args::parse();
    match command {
        Command::Reconfig => match reconfig() {
            Ok(said) => {
                os::sayln!("{said}");
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("lsadmin: {why}");
                ExitCode::FAILURE
            }
        },
    }
}

fn reconfig() -> Result<String, String> {
    let dir = ConfDir::from_env().map_err(|e| e.to_string())?;
    let ll = dir.ll_conf().map_err(|e| e.to_string())?;
    let state_dir = ll
        .get("LL_STATE_DIR")
        .ok_or("LL_STATE_DIR is not set in ll.conf: lim has no local socket to ask")?;
    let host = os::host::name();
    match lim::sign::reconfig_locally(state_dir.as_ref(), &host, ANSWER_WAIT) {
        Ok(Ok(said)) => Ok(said),
        Ok(Err(refused)) => Err(format!("lim refused: {refused}")),
        Err(tried) => {
            let tried: Vec<String> = (tried.iter())
                .map(|(path, why)| format!("{}: {why}", path.display()))
                .collect();
            Err(format!(
                "no lim of this host answers (is it running, with ll.auth.key?): {}",
                tried.join("; ")
            ))
        }
    }
}
