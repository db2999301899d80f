//! `lsadmin reconfig`: what a lim may take from a re-read cluster file
//! without a restart, and what it says changed. Pure: the daemon reads
//! the files and swaps its tables (`daemon.rs`).
//!
//! Hosts come and go and master candidates change in place. This host's
//! address, the lim and metrics ports and the tick are its sockets and
//! timers, and the key is every peer's at once: those need lim
//! restarted, and a re-read that changes them changes nothing.

use crate::settings::Settings;

/// Whether `new` can replace `old` in a running lim; why not if not.
pub fn check(old: &Settings, new: &Settings) -> Result<(), String> {
    let restart = |what: String| Err(format!("{what}: restart lim for that; nothing changed"));
    if new.bind != old.bind {
        return restart(format!(
            "this host's lim address changed ({} -> {})",
            old.bind, new.bind
        ));
    }
    if new.metrics != old.metrics {
        return restart("LL_LIM_METRICS_PORT changed".into());
    }
    if new.tick != old.tick {
        return restart(format!(
            "{} changed ({:?} -> {:?})",
            crate::settings::TICK_KEY,
            old.tick,
            new.tick
        ));
    }
    let same_key = match (&old.key, &new.key) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_secret(b),
        _ => false,
    };
    if !same_key {
        return restart("ll.auth.key changed (every lim must change it together)".into());
    }
    if new.cluster.name != old.cluster.name {
        return restart(format!(
            "the cluster name changed ({} -> {})",
            old.cluster.name, new.cluster.name
        ));
    }
    Ok(())
}

/// `cluster file read again: 5 hosts (added host5; removed host2; master
/// candidates host1 host3)`.
pub fn summary(old: &Settings, new: &Settings) -> String {
    let names =
        |s: &Settings| -> Vec<String> { s.cluster.hosts.iter().map(|h| h.name.clone()).collect() };
    let (before, after) = (names(old), names(new));
    let added: Vec<&str> = (after.iter())
        .filter(|n| !before.contains(n))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = (before.iter())
        .filter(|n| !after.contains(n))
        .map(String::as_str)
        .collect();
    let candidates = |s: &Settings| -> Vec<String> {
        (s.cluster.hosts.iter())
            .filter(|h| h.candidate)
            .map(|h| h.name.clone())
            .collect()
    };
    let mut changes = Vec::new();
    if !added.is_empty() {
        changes.push(format!("added {}", added.join(" ")));
    }
    if !removed.is_empty() {
        changes.push(format!("removed {}", removed.join(" ")));
    }
    if candidates(old) != candidates(new) {
        changes.push(format!("master candidates {}", candidates(new).join(" ")));
    }
    let what = if changes.is_empty() {
        "no host changed".to_owned()
    } else {
        changes.join("; ")
    };
    format!("cluster file read again: {} hosts ({what})", after.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use conf::{ClusterFile, LlConf};

    fn settings(hosts: &str, ll: &str) -> Settings {
        let cluster = ClusterFile::parse(&format!(
            "Begin Cluster\nClusterName\nc\nEnd Cluster\nBegin Host\n\
             Hostname Resources Master Address\n{hosts}End Host\n"
        ))
        .unwrap();
        Settings::new(&LlConf::parse(ll), cluster, "a", None).unwrap()
    }

    const AB: &str = "a () Y 127.0.0.1\nb () - 127.0.0.2\n";

    #[test]
    fn hosts_may_change_but_not_this_hosts_address_port_or_tick() {
        let old = settings(AB, "");
        let more = settings(&format!("{AB}c () Y 127.0.0.3\n"), "");
        assert_eq!(check(&old, &more), Ok(()));
        assert_eq!(
            summary(&old, &more),
            "cluster file read again: 3 hosts (added c; master candidates a c)"
        );
        let fewer = settings("a () Y 127.0.0.1\n", "");
        assert_eq!(
            summary(&old, &fewer),
            "cluster file read again: 1 hosts (removed b)"
        );
        assert_eq!(
            summary(&old, &old),
            "cluster file read again: 2 hosts (no host changed)"
        );
        let moved = settings("a () Y 127.0.0.9\nb () - 127.0.0.2\n", "");
        assert!(check(&old, &moved).unwrap_err().contains("address changed"));
        let port = settings(AB, "LL_LIM_PORT=7000\n");
        assert!(check(&old, &port).unwrap_err().contains("restart lim"));
        let tick = settings(AB, "LL_LIM_TICK=2\n");
        assert!(check(&old, &tick).unwrap_err().contains("LL_LIM_TICK"));
        let metrics = settings(AB, "LL_LIM_METRICS_PORT=9100\n");
        assert!(check(&old, &metrics)
            .unwrap_err()
            .contains("LL_LIM_METRICS_PORT"));
    }
}
