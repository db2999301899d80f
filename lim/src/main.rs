//! `lim [-c DIR] [--host NAME]`: the Load Information Manager daemon.
//!
//! Reads `$LL_CONF_DIR` (or `-c DIR`), runs in the foreground, logs to
//! stderr (`RUST_LOG`, default info) and stops on SIGTERM or SIGINT.

use anyhow::Context;
use clap::Parser;
use conf::ConfDir;
use lim::daemon::Lim;
use lim::Settings;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "lim", version = lim::cli::VERSION, about = "LavaLite Load Information Manager")]
struct Args {
    /// Configuration directory (default: $LL_CONF_DIR).
    #[arg(short = 'c', long = "confdir")]
    confdir: Option<PathBuf>,
    /// This host's name in the cluster file (default: the system host name).
    #[arg(long)]
    host: Option<String>,
}

fn main() -> std::process::ExitCode {
    lim::cli::daemon_main(|| run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let dir = ConfDir::from_arg_or_env(args.confdir)?;
    let host = match args.host {
        Some(host) => host,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .context("cannot read the host name; give --host")?
            .trim()
            .to_owned(),
    };
    let settings = Settings::load(&dir, &host)
        .with_context(|| format!("bad configuration in {}", dir.path.display()))?;
    Lim::bind(settings)?.run()?;
    Ok(())
}
