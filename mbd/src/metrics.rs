//! What mbd counts for its metrics endpoint (`LL_MBD_METRICS_PORT`), and
//! the Prometheus text a scrape gets. Pure: the daemon counts as it goes
//! and hands the gauges in at scrape time (`daemon/metrics_http.rs`).

use http1::prometheus::{self as om, Histogram};
use std::collections::BTreeMap;
use std::fmt::Write;

pub use om::CONTENT_TYPE;

/// What mbd counts while it runs (reset by a restart, as counters are).
#[derive(Clone, Debug)]
pub struct Counters {
    pub jobs_submitted: u64,
    /// Requests turned down, by the status's name.
    pub refused: BTreeMap<&'static str, u64>,
    /// Event-log commits that wrote something (write and fdatasync).
    pub commit: Histogram,
    pub pass: Histogram,
    pub jobs_dispatched: u64,
    pub jobs_ended: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            jobs_submitted: 0,
            refused: BTreeMap::new(),
            commit: Histogram::latency(),
            pass: Histogram::latency(),
            jobs_dispatched: 0,
            jobs_ended: 0,
        }
    }
}

/// What a scrape reads from mbd's state at that moment.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// Per queue: jobs pending, held, running, suspended.
    pub queues: Vec<(String, [u32; 4])>,
    pub hosts: usize,
    pub sbds_connected: usize,
    pub clients_connected: usize,
}

/// The Prometheus text of `c` and `g`.
pub fn render(c: &Counters, g: &Gauges) -> String {
    let mut out = String::with_capacity(4096);
    let name = "lavalite_mbd_jobs";
    om::family(
        &mut out,
        name,
        "gauge",
        "Jobs mbd holds, by queue and state.",
    );
    for (queue, counts) in &g.queues {
        for (state, n) in ["pend", "held", "run", "susp"].iter().zip(counts) {
            let queue = om::escape(queue);
            let _ = writeln!(out, "{name}{{queue=\"{queue}\",state=\"{state}\"}} {n}");
        }
    }
    om::gauge(
        &mut out,
        "lavalite_mbd_hosts",
        "Batch hosts configured.",
        g.hosts,
    );
    let help = "Execution daemons registered now.";
    om::gauge(
        &mut out,
        "lavalite_mbd_sbds_connected",
        help,
        g.sbds_connected,
    );
    let help = "Command connections open now.";
    om::gauge(
        &mut out,
        "lavalite_mbd_clients_connected",
        help,
        g.clients_connected,
    );
    let help = "Jobs submitted and acknowledged (array elements each).";
    om::counter(
        &mut out,
        "lavalite_mbd_jobs_submitted_total",
        help,
        c.jobs_submitted,
    );
    let help = "Job runs sent to execution hosts.";
    om::counter(
        &mut out,
        "lavalite_mbd_jobs_dispatched_total",
        help,
        c.jobs_dispatched,
    );
    let help = "Job runs whose end was recorded.";
    om::counter(
        &mut out,
        "lavalite_mbd_jobs_ended_total",
        help,
        c.jobs_ended,
    );
    let name = "lavalite_mbd_requests_refused_total";
    om::family(&mut out, name, "counter", "Requests turned down, by cause.");
    for (cause, n) in &c.refused {
        let _ = writeln!(out, "{name}{{cause=\"{}\"}} {n}", om::escape(cause));
    }
    let help = "Event-log commits: one write and one fdatasync for a pass's changes.";
    c.commit
        .render(&mut out, "lavalite_mbd_commit_seconds", help);
    let help = "Scheduling passes.";
    c.pass
        .render(&mut out, "lavalite_mbd_scheduling_pass_seconds", help);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_declared_once_with_their_samples() {
        let mut c = Counters::default();
        for secs in [0.00005, 0.003, 0.003, 50.0] {
            c.commit.observe(secs);
        }
        c.jobs_submitted = 7;
        c.refused.insert("EPERM", 2);
        let g = Gauges {
            queues: vec![("nor\"mal".into(), [3, 1, 2, 0])],
            hosts: 4,
            sbds_connected: 3,
            clients_connected: 1,
        };
        let text = render(&c, &g);
        for line in [
            "lavalite_mbd_jobs{queue=\"nor\\\"mal\",state=\"pend\"} 3",
            "lavalite_mbd_jobs{queue=\"nor\\\"mal\",state=\"run\"} 2",
            "lavalite_mbd_jobs_submitted_total 7",
            "lavalite_mbd_requests_refused_total{cause=\"EPERM\"} 2",
            "lavalite_mbd_commit_seconds_bucket{le=\"0.0001\"} 1",
            "lavalite_mbd_commit_seconds_bucket{le=\"0.005\"} 3",
            "lavalite_mbd_commit_seconds_bucket{le=\"10\"} 3",
            "lavalite_mbd_commit_seconds_bucket{le=\"+Inf\"} 4",
            "lavalite_mbd_commit_seconds_count 4",
            "lavalite_mbd_sbds_connected 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(types, 10, "each family declared once");
    }
}
