//! Jobs in cgroup v2 (where this machine lets sbd make them: root and a
//! writable cgroup2 mount; elsewhere the cgroup test says it is skipped):
//! a process that left the job's process group is still in its cgroup,
//! STOP/CONT freeze and thaw it (also across an sbd restart), KILL ends
//! it all and the cgroup goes.
//! And `lavalite down` kills jobs still running with cgroups off.

use cluster_tests::{wait_for, TestCluster};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);
const LIMIT: Duration = Duration::from_secs(20);

fn cgroup_root(cluster: &TestCluster) -> PathBuf {
    let ll = conf::ConfDir::new(&cluster.dir).ll_conf().expect("ll.conf");
    PathBuf::from(ll.get("LL_CGROUP_ROOT").expect("LL_CGROUP_ROOT is set"))
}

/// The last line of `/proc/PID/cgroup`: `0::/path` under the mount.
fn cgroup_of(pid: u32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines().last().unwrap_or_default().to_owned()
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn frozen(job: &Path) -> Option<bool> {
    let events = std::fs::read_to_string(job.join("cgroup.events")).ok()?;
    sbd::cgroup::event_flag(&events, "frozen")
}

/// Whether sbd runs jobs in cgroups here; says why not (the test is
/// then skipped).
fn cgroups_on(cluster: &TestCluster) -> bool {
    let log = wait_for(LIMIT, || {
        let log = cluster.log("sbd", "host1");
        (log.contains("jobs run in cgroups") || log.contains("cgroups off")).then_some(log)
    })
    .expect("sbd says whether jobs run in cgroups");
    match log.lines().find(|l| l.contains("cgroups off")) {
        Some(off) => {
            eprintln!("skipped: no cgroup v2 for sbd here: {off}");
            false
        }
        None => true,
    }
}

fn bkill(cluster: &TestCluster, signal: &str, id: u32) {
    let out = cluster.stdout("bkill", &["-s", signal, &id.to_string()]);
    assert!(out.is_some(), "bkill -s {signal} {id} failed");
}

#[test]
fn a_job_is_frozen_killed_and_removed_whole_through_its_cgroup() {
    let cluster = TestCluster::up(1, TICK, None);
    if !cgroups_on(&cluster) {
        return;
    }
    let root = cgroup_root(&cluster);
    let escaped = cluster.dir.join("escaped.pid");
    let id = cluster.submit(&[
        "-o",
        "/dev/null",
        &format!(
            "setsid sleep 300 & echo $! > {}; exec sleep 300",
            escaped.display()
        ),
    ]);
    let job = root.join(format!("job_{id}"));
    cluster.wait_stat(id, "RUN", LIMIT);
    let pid = wait_for(LIMIT, || read_pid(&escaped)).expect("the job wrote its child's pid");
    assert!(
        cgroup_of(pid).ends_with(&format!("/job_{id}")),
        "a process in its own session stays in the job's cgroup: {}",
        cgroup_of(pid)
    );

    bkill(&cluster, "STOP", id);
    cluster.wait_stat(id, "SUSP", LIMIT);
    wait_for(LIMIT, || (frozen(&job) == Some(true)).then_some(()))
        .expect("STOP freezes the cgroup");
    // A new sbd adopts the job with its cgroup, and finds it frozen.
    cluster.kill_daemon(cluster.sbd_pid("host1"), "sbd");
    cluster.up_again();
    let registered = || {
        cluster
            .log("sbd", "host1")
            .matches("registered with mbd")
            .count()
    };
    wait_for(LIMIT, || (registered() == 2).then_some(())).expect("the new sbd registers");
    assert_eq!(cluster.stat(id).as_deref(), Some("SUSP"));
    bkill(&cluster, "CONT", id);
    cluster.wait_stat(id, "RUN", LIMIT);
    // mbd says RUN once it has logged the CONT; sbd thaws the cgroup
    // when the signal reaches it, a moment later.
    wait_for(LIMIT, || (frozen(&job) == Some(false)).then_some(())).expect("CONT thaws the cgroup");

    bkill(&cluster, "KILL", id);
    cluster.wait_stat(id, "EXIT", LIMIT);
    let bhist = cluster
        .stdout("bhist", &["-l", &id.to_string()])
        .unwrap_or_default();
    assert!(
        bhist.contains("exit_status: 137"),
        "killed (its runner too), not lost: {bhist}"
    );
    wait_for(LIMIT, || os::process::process_exited(pid).then_some(()))
        .expect("KILL reaches the process that left the job's process group");
    wait_for(LIMIT, || (!job.exists()).then_some(())).expect("the ended job's cgroup is removed");
    let out = cluster.down();
    assert!(out.status.success());
    assert!(!root.exists(), "down removes the cluster's own cgroup root");
}

#[test]
fn lavalite_down_kills_the_jobs_still_running_without_cgroups() {
    let cluster = TestCluster::up(1, TICK, None);
    let first_root = cgroup_root(&cluster);
    cluster.add_to_ll_conf("LL_CGROUP_ROOT = none");
    cluster.kill_daemon(cluster.sbd_pid("host1"), "sbd");
    cluster.up_again();
    let id = cluster.submit(&["-o", "/dev/null", "sleep 300"]);
    cluster.wait_stat(id, "RUN", LIMIT);
    let pid_file = cluster.dir.join(format!("state/sbd.host1/{id}.1/pid"));
    let runner = wait_for(LIMIT, || read_pid(&pid_file)).expect("the runner wrote its pid");
    assert!(
        cluster.log("sbd", "host1").contains("cgroups off"),
        "the restarted sbd runs jobs without cgroups"
    );
    let out = cluster.down();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("and 1 running jobs"), "{said}");
    wait_for(LIMIT, || os::process::process_exited(runner).then_some(()))
        .expect("the job's runner is gone");
    // Made by the first sbd, if it could; down no longer knows of it.
    let _ = std::fs::remove_dir(first_root);
}

#[test]
fn bjobs_l_shows_a_running_jobs_cpu_time_and_memory_from_its_cgroup() {
    let cluster = TestCluster::up_with(1, TICK, None, &["--heartbeat", "0.3"]);
    if !cgroups_on(&cluster) {
        return;
    }
    let id = cluster.submit(&["-o", "/dev/null", "while :; do :; done"]);
    cluster.wait_stat(id, "RUN", LIMIT);
    // Some CPU time, reported with a heartbeat, shows while it runs.
    let shown = wait_for(LIMIT, || {
        let l = cluster.stdout("bjobs", &["-l", &id.to_string()])?;
        let used = l
            .lines()
            .find(|x| x.contains("The CPU time used is"))?
            .to_owned();
        (!used.contains(" 0.0 seconds") && l.contains("MAX MEM:")).then_some(l)
    });
    assert!(
        shown.is_some(),
        "{:?}",
        cluster.stdout("bjobs", &["-l", &id.to_string()])
    );
    bkill(&cluster, "KILL", id);
    cluster.wait_stat(id, "EXIT", LIMIT);
}
