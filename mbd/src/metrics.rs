//! What mbd counts for its metrics endpoint (`LL_MBD_METRICS_PORT`), and
//! the OpenMetrics text a scrape gets. Pure: the daemon counts as it goes
//! and hands the gauges in at scrape time (`daemon/metrics_http.rs`).

use std::collections::BTreeMap;
use std::fmt::Write;

/// OpenMetrics' content type (Prometheus reads it).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A histogram of durations in seconds, over fixed bucket bounds.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or under each bound (not cumulative).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// 100 µs to 10 s: commits (fdatasync) and scheduling passes.
const LATENCY_BOUNDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

impl Histogram {
    pub fn latency() -> Histogram {
        Histogram {
            bounds: LATENCY_BOUNDS,
            counts: vec![0; LATENCY_BOUNDS.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, secs: f64) {
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.counts[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(
            out,
            "# TYPE {name} histogram\n# UNIT {name} seconds\n# HELP {name} {help}"
        );
        let mut below = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            below += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {below}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", self.sum, self.count);
    }
}

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

/// The OpenMetrics text of `c` and `g`.
pub fn render(c: &Counters, g: &Gauges) -> String {
    let mut out = String::with_capacity(4096);
    let gauge = |out: &mut String, name: &str, help: &str, value: usize| {
        let _ = writeln!(
            out,
            "# TYPE {name} gauge\n# HELP {name} {help}\n{name} {value}"
        );
    };
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# TYPE {name} counter\n# HELP {name} {help}\n{name}_total {value}"
        );
    };
    let name = "lavalite_mbd_jobs";
    let _ = writeln!(
        out,
        "# TYPE {name} gauge\n# HELP {name} Jobs mbd holds, by queue and state."
    );
    for (queue, counts) in &g.queues {
        for (state, n) in ["pend", "held", "run", "susp"].iter().zip(counts) {
            let _ = writeln!(
                out,
                "{name}{{queue=\"{}\",state=\"{state}\"}} {n}",
                escape(queue)
            );
        }
    }
    gauge(
        &mut out,
        "lavalite_mbd_hosts",
        "Batch hosts configured.",
        g.hosts,
    );
    let help = "Execution daemons registered now.";
    gauge(
        &mut out,
        "lavalite_mbd_sbds_connected",
        help,
        g.sbds_connected,
    );
    let help = "Command connections open now.";
    gauge(
        &mut out,
        "lavalite_mbd_clients_connected",
        help,
        g.clients_connected,
    );
    let help = "Jobs submitted and acknowledged (array elements each).";
    counter(
        &mut out,
        "lavalite_mbd_jobs_submitted",
        help,
        c.jobs_submitted,
    );
    let help = "Job runs sent to execution hosts.";
    counter(
        &mut out,
        "lavalite_mbd_jobs_dispatched",
        help,
        c.jobs_dispatched,
    );
    let help = "Job runs whose end was recorded.";
    counter(&mut out, "lavalite_mbd_jobs_ended", help, c.jobs_ended);
    let name = "lavalite_mbd_requests_refused";
    let _ = writeln!(
        out,
        "# TYPE {name} counter\n# HELP {name} Requests turned down, by cause."
    );
    for (cause, n) in &c.refused {
        let _ = writeln!(out, "{name}_total{{cause=\"{cause}\"}} {n}");
    }
    let help = "Event-log commits: one write and one fdatasync for a pass's changes.";
    c.commit
        .render(&mut out, "lavalite_mbd_commit_seconds", help);
    let help = "Scheduling passes.";
    c.pass
        .render(&mut out, "lavalite_mbd_scheduling_pass_seconds", help);
    out.push_str("# EOF\n");
    out
}

/// A label value as OpenMetrics quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_the_text_ends_with_eof() {
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
        assert!(text.ends_with("# EOF\n"));
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(types, 10, "each family declared once");
    }
}
