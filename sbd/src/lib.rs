//! `sbd` is LavaLite's execution daemon: one per host, it registers with
//! mbd, runs the jobs mbd dispatches there, delivers their signals,
//! enforces `--terminate` and run limits, and reports how each ended.
//!
//! Each job runs under a small runner process (this binary with
//! `--run-job`): the runner becomes the job's user, opens its files,
//! starts `/bin/sh -c`, waits, and writes the exit status and usage into
//! the job's spool directory. So a restarted sbd finds every job it ran,
//! still running or finished, and reports the true outcome.

pub mod cgroup;
mod clean_spawn;
pub mod daemon;
mod job;
pub mod launch;
mod mail;
pub mod run_limit;
pub mod settings;
pub mod spool;
