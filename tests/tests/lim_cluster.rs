//! lim across a 3-host local cluster: reports, failover, unavailability
//! and recovery, and garbage on the UDP port.

use cluster_tests::{wait_for, TestCluster};
use conf::ConfDir;
use lim::LimClient;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(400);
/// Head room for a loaded 2-core CI machine on top of each protocol bound.
const SLACK: Duration = Duration::from_secs(2);
const ALL_OK: [(&str, &str); 3] = [("host1", "ok"), ("host2", "ok"), ("host3", "ok")];

#[test]
fn master_killed_a_new_one_takes_over_and_the_first_preempts_on_return() {
    let c = TestCluster::up(3, TICK, None);
    c.wait_statuses(&ALL_OK, TICK * 3 + SLACK).unwrap();
    assert_eq!(c.master().as_deref(), Some("host1"));
    let info = c.stdout("lsclusterinfo", &[]).expect("lsclusterinfo");
    let row: Vec<&str> = (info.lines().nth(1).unwrap_or_default())
        .split_whitespace()
        .collect();
    assert_eq!(row.get(1), Some(&"host1"), "{info}");
    assert_eq!(row.len(), 3, "cluster, master, admin: {info}");

    os::process::signal(c.lim_pid("host1"), libc::SIGKILL).unwrap();
    let killed = Instant::now();
    // host2 is the next candidate: it takes over once three ticks pass
    // without a beacon, with no extra election delay.
    let bound = TICK * 3 + SLACK;
    let new_master = wait_for(bound, || c.master().filter(|m| m != "host1"));
    assert_eq!(
        new_master.as_deref(),
        Some("host2"),
        "no new master within {bound:?}"
    );
    eprintln!("new master after {:?} (tick {TICK:?})", killed.elapsed());
    // The commands skip the dead host; the old master shows unavailable.
    c.wait_statuses(
        &[("host1", "unavail"), ("host2", "ok"), ("host3", "ok")],
        TICK * 3 + SLACK,
    )
    .unwrap();

    let said = c.up_again();
    assert!(said.contains("started lim for host1"), "{said}");
    let back = wait_for(TICK * 2 + SLACK, || c.master().filter(|m| m == "host1"));
    assert!(back.is_some(), "host1 did not take its place back");
    c.wait_statuses(&ALL_OK, TICK * 3 + SLACK).unwrap();
}

#[test]
fn stopped_host_turns_unavail_and_comes_back_on_restart() {
    let c = TestCluster::up(3, TICK, None);
    c.wait_statuses(&ALL_OK, TICK * 3 + SLACK).unwrap();
    assert!(c.up_again().contains("everything was already running"));
    // Asked first, a non-master sends the client on to the master.
    let mut client = LimClient::from_conf(&ConfDir::new(&c.dir)).unwrap();
    client.hosts.reverse();
    let names: Vec<_> = client
        .hosts()
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names, ["host1", "host2", "host3"]);
    assert_eq!(client.cluster_info().unwrap().answered_by, "host3");

    assert!(
        !c.lim("host3").stop(&c.dir, Duration::from_secs(5)).unwrap(),
        "SIGTERM was enough"
    );
    c.wait_statuses(
        &[("host1", "ok"), ("host2", "ok"), ("host3", "unavail")],
        TICK * 3 + SLACK,
    )
    .unwrap();
    assert_eq!(c.master().as_deref(), Some("host1"));

    assert!(c.up_again().contains("started lim for host3"));
    c.wait_statuses(&ALL_OK, TICK + SLACK).unwrap();
    let hosts = c.stdout("lshosts", &[]).unwrap();
    assert_eq!(hosts.lines().count(), 4, "{hosts}");
    assert!(
        hosts.lines().nth(3).unwrap().starts_with("host3 "),
        "{hosts}"
    );
}

#[test]
fn ls_commands_take_host_names_as_lsf_does() {
    let c = TestCluster::up(3, TICK, None);
    c.wait_statuses(&ALL_OK, TICK * 3 + SLACK).unwrap();
    let rows = |out: String| -> Vec<String> {
        (out.lines().skip(1))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    };
    let load = c
        .stdout("lsload", &["host3", "host1"])
        .expect("lsload host3 host1");
    assert_eq!(rows(load), ["host1", "host3"], "in lim's order");
    let hosts = c.stdout("lshosts", &["host2"]).expect("lshosts host2");
    assert_eq!(rows(hosts), ["host2"]);
    let unknown = c.run("lsload", &["nosuch".into()]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "lsload: unknown host 'nosuch'\n"
    );
}
