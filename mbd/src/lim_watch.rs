//! lim's view of the hosts, fetched off the event loop.
//!
//! The lim client is blocking (connect and reply timeouts of seconds), so
//! a helper thread asks lim once per interval and hands the answer to the
//! loop through a channel and a [`chan::Waker`]. The loop never waits on
//! lim; when lim does not answer, mbd treats every configured host as up.

use crate::cluster::HostStatus;
use lim::client::LimClient;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

/// One answer: per batch host (llb.hosts order) its status, or `Err` with
/// why lim could not be asked.
pub type LimView = Result<Vec<HostStatus>, String>;

/// Starts the thread; it stops when the receiver is dropped.
pub fn spawn(
    client: LimClient,
    hosts: Vec<String>,
    interval: Duration,
    waker: chan::Waker,
) -> std::io::Result<Receiver<LimView>> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("lim-watch".into())
        .spawn(move || loop {
            let view = client
                .hosts()
                .map(|records| statuses(&hosts, &records))
                .map_err(|e| e.to_string());
            if tx.send(view).is_err() || waker.wake().is_err() {
                return;
            }
            thread::sleep(interval);
        })?;
    Ok(rx)
}

/// Matches lim's records to batch hosts by name; a host lim does not
/// know is taken as up.
pub fn statuses(hosts: &[String], records: &[proto::lim::HostRecord]) -> Vec<HostStatus> {
    hosts
        .iter()
        .map(|name| match records.iter().find(|r| r.name == *name) {
            Some(r) => HostStatus {
                up: r.available,
                load: r.load.0[proto::lim::LoadVector::R1M] / f64::from(r.static_info.ncpus.max(1)),
            },
            None => HostStatus::default(),
        })
        .collect()
}
