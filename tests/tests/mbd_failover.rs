//! Master candidates (`LL_MASTER_LIST`): mbd runs on lim's master, the
//! other candidates stand by; when the master host dies the next one
//! takes over from the shared event log (one machine: the same
//! directory), running jobs keep running and report to it, the commands
//! and sbds find it through lim; when the first host returns it takes the
//! role back and the other steps down, one mbd serving at any time. And a
//! few cycles of the chaos harness killing the master host, the serving
//! mbd or an sbd during a submission storm: nothing acknowledged lost,
//! no id acknowledged twice (two serving mbds would), nothing run twice.

use cluster_tests::{chaos, wait_for, TestCluster};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(300);
const LIMIT: Duration = Duration::from_secs(20);

fn gated(cluster: &TestCluster) -> String {
    format!(
        "while [ ! -e {} ]; do sleep 0.05; done",
        cluster.dir.join("gate").display()
    )
}

/// Kills every daemon of `host` at once, as a host that dies.
fn kill_host(cluster: &TestCluster, host: &str) {
    for daemon in ["lim", "mbd", "sbd"] {
        os::process::signal(cluster.pid(daemon, host), libc::SIGKILL).expect("kill -9");
    }
}

#[test]
fn the_next_candidate_takes_over_when_the_master_host_dies_and_gives_back() {
    let cluster = TestCluster::up(3, TICK, None);
    cluster.down();
    cluster.add_to_ll_conf("LL_MASTER_LIST = host1 host2");
    cluster.up_again();
    let standby = wait_for(LIMIT, || {
        let log = cluster.log("mbd", "host2");
        log.contains("standing by: lim's master is host1")
            .then_some(())
    });
    assert!(
        standby.is_some(),
        "host2's mbd: {}",
        cluster.log("mbd", "host2")
    );
    let running = cluster.submit(&["-m", "host3", &gated(&cluster)]);
    let held = cluster.submit(&["-H", "true"]);
    cluster.wait_stat(running, "RUN", LIMIT);

    let died = Instant::now();
    kill_host(&cluster, "host1");
    let answered = wait_for(Duration::from_secs(30), || {
        let out = cluster.stdout("bjobs", &[&held.to_string()])?;
        out.contains("HELD").then(|| died.elapsed())
    })
    .unwrap_or_else(|| panic!("no mbd took over:\n{}", cluster.log("mbd", "host2")));
    eprintln!(
        "failover: bjobs answered {answered:?} after the master host died (lim tick {TICK:?})"
    );
    assert!(cluster.log("mbd", "host2").contains("taking over"));
    // The running job stays running, now reported to host2's mbd.
    cluster.wait_stat(running, "RUN", LIMIT);
    std::fs::write(cluster.dir.join("gate"), b"").expect("open the gate");
    cluster.wait_stat(running, "DONE", LIMIT);
    let after = cluster.submit(&["true"]);
    cluster.wait_stat(after, "DONE", LIMIT);

    // host1 returns: lim gives it the role back; host2's mbd steps down
    // and host1's takes over, with everything.
    cluster.up_again();
    let stepped = wait_for(LIMIT, || {
        cluster
            .log("mbd", "host2")
            .contains("stepping down: lim's master is now host1")
            .then_some(())
    });
    assert!(
        stepped.is_some(),
        "host2's mbd: {}",
        cluster.log("mbd", "host2")
    );
    let back = wait_for(LIMIT, || {
        let out = cluster.stdout("bjobs", &["-a"])?;
        (out.contains(&format!("{after} ")) && out.contains("HELD")).then_some(out)
    });
    assert!(
        back.is_some(),
        "host1's mbd: {}",
        cluster.log("mbd", "host1")
    );
    let all = cluster.stdout("bjobs", &["-a"]).unwrap_or_default();
    assert_eq!(
        all.lines().count(),
        4,
        "three jobs, none lost or doubled:\n{all}"
    );
}

#[test]
fn master_host_kills_during_a_submission_storm_lose_nothing() {
    let cluster = Arc::new(TestCluster::up(3, TICK, None));
    chaos::with_masters(&cluster, 2);
    let plan = chaos::Plan {
        clients: 3,
        cycles: 6,
        acks_per_cycle: 10,
        faults: "master,mbd,sbd".parse().expect("faults"),
        seed: 7,
        settle: Duration::from_secs(90),
        job_secs: 0.0,
        suspender: false,
        masters: 2,
    };
    let outcome = chaos::run(&cluster, 3, &plan);
    assert!(
        outcome.violations.is_empty(),
        "{outcome}: {:?}",
        outcome.violations
    );
    assert!(outcome.acked > 0 && outcome.mbd_kills >= 4, "{outcome}");
}
