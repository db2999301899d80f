//! `mbd` is LavaLite's master batch daemon: it owns the jobs — their
//! durable record, their states, where they run — and answers the batch
//! commands.
//!
//! The job model is pure: [`state::State`] turns requests into
//! [`change::Change`]s and applies them, [`sched::plan`] decides what
//! starts where, [`depend`] evaluates `--dependency`. The [`event_log`]
//! makes changes durable before they are acknowledged; [`daemon`] is the
//! event-loop shell around all of it. [`client`] and [`cmd`] are the batch
//! commands' side; [`archive`] reads the logs on disk for `bhist`.

pub mod accounts;
pub mod acct;
pub mod archive;
pub mod change;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod daemon;
pub mod depend;
pub mod env_pool;
pub mod event_log;
pub mod fairshare;
pub mod id_floor;
pub mod job;
mod lim_watch;
pub mod mastership;
pub mod metrics;
pub mod reasons;
pub mod sched;
pub mod settings;
pub mod shape;
pub mod slots;
pub mod state;

pub use cluster::{Cluster, QueueConf};
