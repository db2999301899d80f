//! `lavalite up|down|status [--dir DIR]`: a LavaLite cluster on this
//! machine, one simulated host per loopback address.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lavalite::{DefaultConfig, LocalCluster};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "lavalite", version = lim::cli::VERSION, about = "Start, stop and inspect a local LavaLite cluster")]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a default config if DIR has none, start what is not running,
    /// wait until the cluster answers.
    Up {
        /// Cluster directory (config, logs, pid files).
        #[arg(long, default_value = "lavalite-cluster")]
        dir: PathBuf,
        /// Simulated hosts (only when writing the default config).
        #[arg(long, default_value_t = 3)]
        hosts: usize,
        /// Host i gets this address + i (only when writing the default config).
        #[arg(long, default_value = "127.0.0.10")]
        base_addr: Ipv4Addr,
        /// lim port; mbd and sbd use the next two (only when writing the
        /// default config; without it, 6861 or the first free ports above).
        #[arg(long)]
        port: Option<u16>,
        /// lim tick in seconds (only when writing the default config).
        #[arg(long, default_value_t = 5.0)]
        tick: f64,
        /// Seconds between sbd heartbeats to mbd; a peer silent for three is
        /// dropped (only when writing the default config).
        #[arg(long, default_value_t = 10.0)]
        heartbeat: f64,
    },
    /// Stop every daemon (SIGTERM, then SIGKILL after 10 s).
    Down {
        #[arg(long, default_value = "lavalite-cluster")]
        dir: PathBuf,
    },
    /// Say which daemons run; exit 3 if any does not.
    Status {
        #[arg(long, default_value = "lavalite-cluster")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Args::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lavalite: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Up {
            dir,
            hosts,
            base_addr,
            port,
            tick,
            heartbeat,
        } => {
            let dir = absolute(&dir)?;
            let mut defaults = DefaultConfig {
                hosts,
                base_addr,
                port: port.unwrap_or(lim::settings::DEFAULT_PORT),
                tick,
                heartbeat,
            };
            defaults.validate().map_err(anyhow::Error::msg)?;
            if port.is_none() && !lavalite::is_set_up(&dir) {
                defaults = free_ports(defaults)?;
            }
            if defaults.write_if_absent(&dir)? {
                eprintln!("wrote a default {hosts}-host config into {}", dir.display());
            }
            let cluster = LocalCluster::open(&dir)?;
            let started = cluster.up(&bin_dir()?)?;
            for spec in &started {
                eprintln!("started {} for {}", spec.daemon, spec.host);
            }
            if started.is_empty() {
                eprintln!("everything was already running");
            }
            os::sayln!("export LL_CONF_DIR={}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down { dir } => {
            let dir = absolute(&dir)?;
            let (stopped, killed) = lavalite::down(&dir, Duration::from_secs(10))?;
            let jobs = lavalite::kill_jobs(&dir);
            eprintln!(
                "stopped {stopped} daemons ({killed} needed SIGKILL) and {jobs} running jobs"
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status { dir } => {
            let cluster = LocalCluster::open(&absolute(&dir)?)?;
            let mut all = true;
            for (spec, pid) in cluster.status() {
                match pid {
                    Some(pid) => {
                        os::sayln!("{:<4} {:<12} running (pid {pid})", spec.daemon, spec.host)
                    }
                    None => {
                        all = false;
                        os::sayln!("{:<4} {:<12} stopped", spec.daemon, spec.host);
                    }
                }
            }
            Ok(if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
    }
}

/// The default ports, or (another cluster holds them) the first free
/// ones above, said on stderr.
fn free_ports(defaults: DefaultConfig) -> anyhow::Result<DefaultConfig> {
    if defaults.ports_free() {
        return Ok(defaults);
    }
    let chosen = defaults.with_free_ports().ok_or_else(|| {
        anyhow::anyhow!(
            "no free ports from {} up on {}: pass --port",
            defaults.port,
            defaults.base_addr
        )
    })?;
    eprintln!(
        "ports {}-{} are in use (another cluster?): this one uses {}-{}",
        defaults.port,
        defaults.port + 2,
        chosen.port,
        chosen.port + 2
    );
    Ok(chosen)
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::env::current_dir()
        .context("no current directory")?
        .join(dir))
}

/// The daemons are installed beside this binary.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the lavalite binary's directory")?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("the lavalite binary has no directory")
}
