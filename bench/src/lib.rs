//! `bench` measures `chan` against two other single-threaded servers with
//! the same framing and handler — one on mio, one on poll(2) (the legacy
//! baseline) — driven by one epoll load generator.
//!
//! For scale, `sim` plays thousands of execution hosts in one process and
//! `workload` makes (or reads) the jobs they run.
//!
//! It is a measuring tool only: no daemon depends on it. The servers echo
//! every frame back unchanged, cut frames the same way (20-byte header,
//! length-bounded body), read once per readiness (mio: until WouldBlock,
//! as edge-triggered mio requires) and write replies at once.

pub mod baseline;
pub mod report;
pub mod sim;
pub mod sim_cluster;
pub mod workload;
