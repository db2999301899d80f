//! `lim` is LavaLite's Load Information Manager: the daemon every host
//! runs to sample its load, report it to an elected master and answer the
//! `lsid`, `lsload`, `lshosts` and `lsclusterinfo` commands, which live
//! here too.
//!
//! The rules are pure modules, tested without sockets or clocks:
//! [`election`] (who is master), [`load_table`] (the master's view of all
//! hosts), [`load`] (indices from `/proc` text), [`datagram`] (UDP
//! frames, signed when the cluster has a key) and [`display`] (what the
//! commands print). [`daemon`] is the event-loop shell over `chan`;
//! [`client`] is the commands' blocking query side. The wire messages are
//! in `proto::lim`; the configuration files are read by `conf`.

mod cells;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod datagram;
pub mod display;
pub mod election;
pub mod load;
pub mod load_table;
pub mod log_file;
pub mod metrics;
pub mod port_holder;
pub mod probe;
pub mod reconfig;
pub mod settings;
pub mod sign;

pub use client::{ClientError, LimClient};
pub use settings::Settings;
