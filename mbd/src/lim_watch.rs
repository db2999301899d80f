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
/// know is taken as up. By a map: a scan per host was 25 million name
/// comparisons per poll at 5,000 hosts.
pub fn statuses(hosts: &[String], records: &[proto::lim::HostRecord]) -> Vec<HostStatus> {
    let by_name: std::collections::HashMap<&str, &proto::lim::HostRecord> =
        records.iter().map(|r| (r.name.as_str(), r)).collect();
    hosts
        .iter()
        .map(|name| match by_name.get(name.as_str()) {
            Some(r) => HostStatus {
                up: r.available,
                load: r.load.0[proto::lim::LoadVector::R1M] / f64::from(r.static_info.ncpus.max(1)),
            },
            None => HostStatus::default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::lim::HostRecord;

    #[test]
    fn hosts_take_their_own_record_and_an_unknown_one_is_up() {
        let record = |name: &str, available| HostRecord {
            name: name.into(),
            candidate: false,
            available,
            static_info: Default::default(),
            load: Default::default(),
        };
        let hosts = ["a", "b", "c"].map(String::from);
        let up: Vec<bool> = statuses(&hosts, &[record("c", false), record("a", true)])
            .iter()
            .map(|s| s.up)
            .collect();
        assert_eq!(up, [true, true, false]);
    }
}
