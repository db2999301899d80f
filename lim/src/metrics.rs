//! The Prometheus text of lim's metrics endpoint (`LL_LIM_METRICS_PORT`):
//! the election as this lim sees it, what it accepted and dropped, and on
//! the master every host's status and load indices. Pure: the daemon
//! hands in what it holds at scrape time.

use http1::prometheus as om;
use proto::lim::{HostRecordRef, LimStats, INDEX_NAMES};
use std::fmt::Write;

/// What one scrape reports.
pub struct Snapshot<'a> {
    pub is_master: bool,
    /// The master's epoch (0: none known).
    pub epoch: u64,
    pub stats: LimStats,
    /// Every host, on the master (empty elsewhere: only it holds them).
    pub hosts: Vec<HostRecordRef<'a>>,
}

pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::with_capacity(1024 + s.hosts.len() * 400);
    let help = "Whether this lim is the master (1) or not (0).";
    om::gauge(
        &mut out,
        "lavalite_lim_is_master",
        help,
        u8::from(s.is_master),
    );
    let help = "The master's election epoch, as this lim knows it (0: no master).";
    om::gauge(&mut out, "lavalite_lim_election_epoch", help, s.epoch);
    let help = "Load reports the master accepted.";
    om::counter(
        &mut out,
        "lavalite_lim_reports_accepted_total",
        help,
        s.stats.reports_accepted,
    );
    let help = "Master beacons accepted.";
    om::counter(
        &mut out,
        "lavalite_lim_beacons_accepted_total",
        help,
        s.stats.beacons_accepted,
    );
    let name = "lavalite_lim_datagrams_dropped_total";
    om::family(&mut out, name, "counter", "Datagrams dropped, by cause.");
    for (cause, n) in [
        ("malformed", s.stats.dropped_malformed),
        ("auth", s.stats.dropped_auth),
        ("foreign", s.stats.dropped_foreign),
    ] {
        let _ = writeln!(out, "{name}{{cause=\"{cause}\"}} {n}");
    }
    if s.is_master {
        hosts(&mut out, &s.hosts);
    }
    out
}

fn hosts(out: &mut String, hosts: &[HostRecordRef<'_>]) {
    let up = hosts.iter().filter(|h| h.available).count();
    let name = "lavalite_lim_hosts";
    om::family(out, name, "gauge", "Hosts of the cluster file, by status.");
    let _ = writeln!(out, "{name}{{status=\"ok\"}} {up}");
    let _ = writeln!(out, "{name}{{status=\"unavail\"}} {}", hosts.len() - up);
    let name = "lavalite_lim_host_up";
    om::family(
        out,
        name,
        "gauge",
        "Whether a host reported within three ticks.",
    );
    for h in hosts {
        let _ = writeln!(
            out,
            "{name}{{host=\"{}\"}} {}",
            om::escape(h.name),
            u8::from(h.available)
        );
    }
    let name = "lavalite_lim_load";
    om::family(
        out,
        name,
        "gauge",
        "A host's load indices from its last report (lsload's).",
    );
    for h in hosts.iter().filter(|h| h.available) {
        let host = om::escape(h.name);
        for (index, value) in INDEX_NAMES.iter().zip(h.load.0) {
            let _ = writeln!(out, "{name}{{host=\"{host}\",index=\"{index}\"}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::lim::{LoadVector, StaticInfo};

    #[test]
    fn the_master_reports_hosts_and_loads_others_only_their_counts() {
        let info = StaticInfo::default();
        let mut load = LoadVector::default();
        load.0[LoadVector::R1M] = 1.5;
        let record = |name, available| HostRecordRef {
            name,
            candidate: false,
            available,
            static_info: &info,
            load: &load,
        };
        let mut s = Snapshot {
            is_master: true,
            epoch: 3,
            stats: LimStats {
                dropped_auth: 2,
                ..LimStats::default()
            },
            hosts: vec![record("a", true), record("b", false)],
        };
        let text = render(&s);
        for line in [
            "lavalite_lim_is_master 1",
            "lavalite_lim_election_epoch 3",
            "lavalite_lim_datagrams_dropped_total{cause=\"auth\"} 2",
            "lavalite_lim_hosts{status=\"unavail\"} 1",
            "lavalite_lim_host_up{host=\"b\"} 0",
            "lavalite_lim_load{host=\"a\",index=\"r1m\"} 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(
            !text.contains("host=\"b\",index"),
            "no load for a host that is down"
        );
        s.is_master = false;
        assert!(!render(&s).contains("lavalite_lim_host_up"));
    }
}
