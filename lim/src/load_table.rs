//! The master's view of every host: the last report of each and whether
//! it is recent enough to count the host as available. Pure: time is a
//! parameter.

use conf::ClusterFile;
use proto::lim::{HostRecordRef, LoadVector, StaticInfo};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Slot {
    name: String,
    candidate: bool,
    last_report: Option<Instant>,
    static_info: StaticInfo,
    load: LoadVector,
}

/// Last reports by host position, in cluster-file order.
#[derive(Debug)]
pub struct LoadTable {
    slots: Vec<Slot>,
    /// Silence after which a host is unavailable (3 ticks).
    timeout: Duration,
}

impl LoadTable {
    pub fn new(cluster: &ClusterFile, timeout: Duration) -> LoadTable {
        let slots = cluster
            .hosts
            .iter()
            .map(|h| Slot {
                name: h.name.clone(),
                candidate: h.candidate,
                last_report: None,
                static_info: StaticInfo::default(),
                load: LoadVector::default(),
            })
            .collect();
        LoadTable { slots, timeout }
    }

    /// This table for a new cluster file (`lsadmin reconfig`): each host
    /// still listed keeps its last report; a new one has none yet.
    pub fn reconfigured(&mut self, cluster: &ClusterFile) -> LoadTable {
        let mut old: std::collections::HashMap<String, Slot> = (self.slots.drain(..))
            .map(|s| (s.name.clone(), s))
            .collect();
        let mut table = LoadTable::new(cluster, self.timeout);
        for slot in &mut table.slots {
            if let Some(kept) = old.remove(&slot.name) {
                let candidate = slot.candidate;
                *slot = Slot { candidate, ..kept };
            }
        }
        table
    }

    /// Stores the report of the host at `position` (ignored if unknown).
    pub fn record(
        &mut self,
        position: usize,
        static_info: &StaticInfo,
        load: LoadVector,
        now: Instant,
    ) {
        if let Some(slot) = self.slots.get_mut(position) {
            slot.last_report = Some(now);
            if slot.static_info != *static_info {
                slot.static_info = static_info.clone();
            }
            slot.load = load;
        }
    }

    pub fn is_available(&self, position: usize, now: Instant) -> bool {
        self.slots
            .get(position)
            .and_then(|s| s.last_report)
            .is_some_and(|at| now.saturating_duration_since(at) < self.timeout)
    }

    /// Every host in file order, as the HOSTS query returns them.
    pub fn records(&self, now: Instant) -> Vec<HostRecordRef<'_>> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, s)| HostRecordRef {
                name: &s.name,
                candidate: s.candidate,
                available: self.is_available(i, now),
                static_info: &s.static_info,
                load: &s.load,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> ClusterFile {
        ClusterFile::parse(
            "Begin Cluster\nClusterName\nc\nEnd Cluster\nBegin Host\nHostname Resources Master\n\
             a () Y\nb () -\nc () -\nEnd Host\n",
        )
        .unwrap()
    }

    #[test]
    fn hosts_are_unavailable_until_they_report_and_after_three_ticks_of_silence() {
        let t0 = Instant::now();
        let tick = Duration::from_secs(5);
        let mut table = LoadTable::new(&cluster(), tick * 3);
        assert!(table.records(t0).iter().all(|r| !r.available));
        let mut load = LoadVector::default();
        load.0[LoadVector::R1M] = 1.5;
        let info = StaticInfo {
            ncpus: 4,
            ..StaticInfo::default()
        };
        table.record(1, &info, load, t0);
        table.record(9, &info, load, t0); // unknown position: ignored
        let rows = table.records(t0 + tick * 3 - Duration::from_millis(1));
        let names: Vec<_> = rows.iter().map(|r| (r.name, r.available)).collect();
        assert_eq!(names, [("a", false), ("b", true), ("c", false)]);
        assert_eq!(
            (*rows[1].load, rows[1].static_info.ncpus, rows[0].candidate),
            (load, 4, true)
        );
        assert!(!table.is_available(1, t0 + tick * 3));
        table.record(1, &info, load, t0 + tick * 10);
        assert!(
            table.is_available(1, t0 + tick * 10),
            "back on its next report"
        );
    }

    #[test]
    fn a_new_cluster_file_keeps_the_reports_of_hosts_still_listed() {
        let t0 = Instant::now();
        let mut table = LoadTable::new(&cluster(), Duration::from_secs(15));
        let info = StaticInfo {
            ncpus: 8,
            ..StaticInfo::default()
        };
        table.record(1, &info, LoadVector::default(), t0);
        let new = ClusterFile::parse(
            "Begin Cluster\nClusterName\nc\nEnd Cluster\nBegin Host\nHostname Resources Master\n\
             d () Y\nb () Y\na () -\nEnd Host\n",
        )
        .unwrap();
        let table = table.reconfigured(&new);
        let rows = table.records(t0);
        let seen: Vec<_> = (rows.iter())
            .map(|r| (r.name, r.available, r.candidate, r.static_info.ncpus))
            .collect();
        assert_eq!(
            seen,
            [
                ("d", false, true, 0),
                ("b", true, true, 8),
                ("a", false, false, 0)
            ]
        );
    }
}
