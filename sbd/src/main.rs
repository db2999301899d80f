//! `sbd [-c DIR] [--host NAME]`: the execution daemon of one host.
//!
//! Reads `$LL_CONF_DIR` (or `-c DIR`), runs in the foreground, logs to
//! stderr (`RUST_LOG`, default info) and stops on SIGTERM or SIGINT,
//! leaving its jobs running for the next sbd to adopt.

use anyhow::Context;
use clap::Parser;
use conf::ConfDir;
use sbd::daemon::Sbd;
use sbd::settings::Settings;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "sbd", version = lim::cli::VERSION, about = "LavaLite execution daemon")]
struct Args {
    /// Configuration directory (default: $LL_CONF_DIR).
    #[arg(short = 'c', long = "confdir")]
    confdir: Option<PathBuf>,
    /// The host this sbd serves, as named in llb.hosts (default: this
    /// machine's host name).
    #[arg(long)]
    host: Option<String>,
    /// Internal: run the job spooled in DIR (sbd starts one runner per job).
    #[arg(long = "run-job", value_name = "DIR", hide = true)]
    run_job: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(job_dir) = &args.run_job {
        let conf = args.confdir.clone().unwrap_or_default();
        let host = args.host.clone().unwrap_or_else(chan::sys::host_name);
        let code = sbd::launch::run_job(job_dir, &conf, &host);
        return std::process::ExitCode::from(code as u8);
    }
    lim::cli::daemon_main(|| run(args))
}

fn run(args: Args) -> anyhow::Result<()> {
    let dir = ConfDir::from_arg_or_env(args.confdir)?;
    let settings = Settings::load(&dir, args.host)
        .with_context(|| format!("bad configuration in {}", dir.path.display()))?;
    Sbd::start(settings)?.run()
}
