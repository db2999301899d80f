//! The cluster on hosts of their own (`cluster_tests::netns`): each host
//! its own network namespace, address (198.18.0.0/15, no route out) and
//! host name. Jobs run end to end; a master cut off from the network
//! (three times, during submissions) stops acknowledging and the next
//! candidate takes over, and once the cable is back one mbd serves with
//! every acknowledged job, none run twice; a whole execution host killed with its jobs: they end lost, a
//! rerunnable one runs again once the host is back. Needs root; elsewhere each test
//! says it is skipped.

use cluster_tests::netns::NetnsCluster;
use cluster_tests::{job_id, wait_for};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(300);
const LIMIT: Duration = Duration::from_secs(30);

fn cluster(hosts: usize, masters: &[&str]) -> Option<NetnsCluster> {
    if let Err(why) = NetnsCluster::available() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(NetnsCluster::up(hosts, masters, TICK).unwrap_or_else(|e| panic!("netns cluster: {e}")))
}

/// `bjobs` STAT of job `id` as seen from `host`.
fn stat(c: &NetnsCluster, host: &str, id: u32) -> Option<String> {
    let out = c.stdout(host, "bjobs", &[&id.to_string()])?;
    Some(out.lines().nth(1)?.split_whitespace().nth(2)?.to_owned())
}

fn wait_stat(c: &NetnsCluster, host: &str, id: u32, want: &str) {
    let mut last = None;
    let done = wait_for(LIMIT, || {
        last = stat(c, host, id);
        (last.as_deref() == Some(want)).then_some(())
    });
    assert!(done.is_some(), "job {id} shows {last:?}, wanted {want}");
}

#[test]
fn jobs_run_end_to_end_between_hosts_of_their_own() {
    let Some(c) = cluster(3, &["host1", "host2"]) else {
        return;
    };
    for host in ["host1", "host2", "host3"] {
        let routes = c.routes(host);
        assert!(
            !routes.contains("default"),
            "{host} has a route out: {routes}"
        );
    }
    let master = wait_for(LIMIT, || {
        let out = c.stdout("host3", "lsid", &[])?;
        out.contains("My master name is host1").then_some(())
    });
    assert!(master.is_some(), "{:?}", c.run("host3", "lsid", &[]));
    let out = wait_for(LIMIT, || {
        let out = c.stdout(
            "host3",
            "bsub",
            &["-m", "host2", "-o", "out.%J", "hostname"],
        )?;
        job_id(&out)
    })
    .expect("bsub from host3");
    wait_stat(&c, "host3", out, "DONE");
    let said = std::fs::read_to_string(c.dir.join(format!("out.{out}"))).unwrap_or_default();
    assert_eq!(said, "host2\n", "the job ran on host2, under its host name");
}

#[test]
fn a_master_cut_off_again_and_again_steps_down_the_next_takes_over_and_nothing_is_lost_or_run_twice(
) {
    let Some(c) = cluster(3, &["host1", "host2"]) else {
        return;
    };
    let runs = c.dir.join("runs");
    let command = format!("echo $LL_JOBID >> {}", runs.display());
    let submit = |host: &str| {
        let out = c.run(host, "bsub", &["-m", "host3", &command]);
        job_id(&String::from_utf8_lossy(&out.stdout))
    };
    let first = wait_for(LIMIT, || submit("host3")).unwrap_or_else(|| {
        let out = c.run("host3", "bsub", &["-m", "host3", &command]);
        panic!("bsub before the cut: {out:?}\n{}", c.log("mbd", "host1"))
    });
    wait_stat(&c, "host3", first, "DONE");

    // Three cuts of the master's cable, each healed, while host3 goes on
    // submitting: some submissions are refused while no mbd serves;
    // every acknowledged one counts.
    let mut acked = vec![first];
    let since = |host: &str, seen: usize| c.log("mbd", host).get(seen..).unwrap_or("").to_owned();
    for cut in 1..=3 {
        // Only what the daemons log from now on counts.
        let (seen1, seen2) = (c.log("mbd", "host1").len(), c.log("mbd", "host2").len());
        c.cable("host1", false);
        let taken = wait_for(LIMIT, || {
            acked.extend(submit("host3"));
            since("host2", seen2).contains("taking over").then_some(())
        });
        assert!(
            taken.is_some(),
            "cut {cut}: host2's mbd never took over:\n{}",
            c.log("mbd", "host2")
        );
        let stepped = wait_for(LIMIT, || {
            since("host1", seen1)
                .contains("stepping down")
                .then_some(())
        });
        assert!(
            stepped.is_some(),
            "cut {cut}: host1's mbd kept serving:\n{}",
            c.log("mbd", "host1")
        );
        let (seen1, seen2) = (c.log("mbd", "host1").len(), c.log("mbd", "host2").len());
        for _ in 0..5 {
            acked.extend(submit("host3"));
        }
        c.cable("host1", true);
        let back = wait_for(LIMIT, || {
            let gave = since("host2", seen2).contains("stepping down: lim's master is now host1");
            (gave && since("host1", seen1).contains("taking over")).then_some(())
        });
        assert!(
            back.is_some(),
            "cut {cut}: host2's mbd:\n{}",
            c.log("mbd", "host2")
        );
    }
    acked.extend(wait_for(LIMIT, || submit("host3")));
    for id in &acked {
        wait_stat(&c, "host3", *id, "DONE");
    }
    let ran = std::fs::read_to_string(&runs).unwrap_or_default();
    for id in &acked {
        let times = ran.lines().filter(|l| l.trim() == id.to_string()).count();
        assert_eq!(times, 1, "job {id} ran {times} times");
    }
}

#[test]
fn a_whole_host_killed_with_its_jobs_loses_them_and_reruns_the_rerunnable() {
    let Some(mut c) = cluster(3, &["host1", "host2"]) else {
        return;
    };
    let gate = c.dir.join("gate");
    let gated = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let submit = |args: &[&str]| {
        wait_for(LIMIT, || job_id(&c.stdout("host1", "bsub", args)?))
            .unwrap_or_else(|| panic!("bsub {args:?}"))
    };
    let plain = submit(&["-m", "host3", &gated]);
    let rerun = submit(&["-r", "-m", "host3", &gated]);
    wait_stat(&c, "host1", plain, "RUN");
    wait_stat(&c, "host1", rerun, "RUN");
    c.kill_host("host3");
    // Its sbd comes back with the spool but none of the jobs.
    for daemon in ["lim", "sbd"] {
        c.start("host3", daemon).expect("restart host3");
    }
    wait_stat(&c, "host1", plain, "EXIT");
    let l = c
        .stdout("host1", "bjobs", &["-l", &plain.to_string()])
        .unwrap_or_default();
    assert!(l.contains("Lost: "), "{l}");
    let l = wait_for(LIMIT, || {
        let l = c.stdout("host1", "bjobs", &["-l", &rerun.to_string()])?;
        (l.matches("Dispatched to").count() == 2).then_some(l)
    });
    assert!(
        l.is_some(),
        "{:?}",
        c.stdout("host1", "bjobs", &["-l", &rerun.to_string()])
    );
    std::fs::write(&gate, b"").expect("open the gate");
    wait_stat(&c, "host1", rerun, "DONE");
}
