//! Site policy (docs/admin.md, "Job slot limits"): a queue's
//! `UJOB_LIMIT` holds back one user's jobs, saying so, while another
//! user's start; bqueues shows the limit.

use cluster_tests::{job_id, wait_for, TestCluster};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(300);
const LIMIT: Duration = Duration::from_secs(20);
const NOBODY: u32 = 65534;

#[test]
fn a_user_at_ujob_limit_pends_with_that_reason_while_another_users_job_starts() {
    if os::users::effective_uid() != 0 {
        eprintln!("skipped: a second user's jobs need root");
        return;
    }
    let cluster = TestCluster::up(1, TICK, None);
    cluster.queue_keys("normal", "UJOB_LIMIT = 1");
    let gate = cluster.dir.join("gate");
    let gated = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let first = cluster.submit(&[&gated]);
    let second = cluster.submit(&[&gated]);
    cluster.wait_stat(first, "RUN", LIMIT);
    let reason = "the user's job slot limit in the queue (UJOB_LIMIT) is reached";
    let pending = wait_for(LIMIT, || {
        let out = cluster.stdout("bjobs", &["-p"])?;
        out.contains(reason).then_some(out)
    });
    assert!(pending.is_some(), "{:?}", cluster.stdout("bjobs", &["-p"]));
    let theirs = cluster.run_as(
        NOBODY,
        "bsub",
        &["-o", "/dev/null", "-e", "/dev/null", "true"],
    );
    let theirs = job_id(&String::from_utf8_lossy(&theirs.stdout))
        .unwrap_or_else(|| panic!("bsub as nobody: {theirs:?}"));
    cluster.wait_stat(theirs, "DONE", LIMIT);
    assert_eq!(cluster.stat(second).as_deref(), Some("PEND"));
    let long = cluster.stdout("bqueues", &["-l"]).unwrap_or_default();
    assert!(long.contains("Slot limits: JL/U 1"), "{long}");
    std::fs::write(&gate, b"").expect("open the gate");
    cluster.wait_stat(second, "DONE", LIMIT);
}

#[test]
fn bacct_totals_match_the_jobs_run() {
    let cluster = TestCluster::up(1, TICK, None);
    let done: Vec<u32> = (0..2).map(|_| cluster.submit(&["true"])).collect();
    let failed = cluster.submit(&["-q", "short", "exit 2"]);
    for id in done.iter().chain([&failed]) {
        let want = if *id == failed { "EXIT" } else { "DONE" };
        cluster.wait_stat(*id, want, LIMIT);
    }
    let text = cluster.stdout("bacct", &[]).unwrap_or_default();
    assert!(
        text.contains(
            " Total number of done jobs:       2      Total number of exited jobs:     1"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &cluster
            .stdout("bacct", &["--json", "-q", "short"])
            .unwrap_or_default(),
    )
    .expect("bacct --json");
    assert_eq!(
        (
            json["summary"]["done"].as_u64(),
            json["summary"]["exited"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(json["jobs"][0]["exit_code"].as_i64(), Some(2));
    let long = cluster
        .stdout("bacct", &["-l", &failed.to_string()])
        .unwrap_or_default();
    assert!(
        long.contains(&format!("Job <{failed}>"))
            && long.contains("Completed <exit>; exit code 2."),
        "{long}"
    );
    let none = cluster
        .stdout("bacct", &["-C", ",2000/1/1"])
        .unwrap_or_default();
    assert!(none.contains("done jobs:       0"), "{none}");
}

#[test]
fn badmin_reconfig_adds_a_host_that_then_gets_jobs_without_a_restart() {
    let cluster = TestCluster::up(3, TICK, None);
    let hosts_file = cluster.dir.join("llb.hosts");
    let with_host3 = std::fs::read_to_string(&hosts_file).expect("llb.hosts");
    let without: String = (with_host3.lines())
        .filter(|l| !l.starts_with("host3"))
        .map(|l| l.replace(" host3)", ")") + "\n")
        .collect();
    std::fs::write(&hosts_file, &without).expect("write llb.hosts");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();
    let mbd = cluster.mbd_pid();
    let refused = cluster.run("bsub", &["-m".into(), "host3".into(), "true".into()]);
    assert!(!refused.status.success(), "host3 is not a batch host yet");
    let gate = cluster.dir.join("gate");
    let gated = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let running = cluster.submit(&["-m", "host1", &gated]);
    let held = cluster.submit(&["-H", "true"]);
    cluster.wait_stat(running, "RUN", LIMIT);

    // A bad edit is refused, naming the file and line; nothing changes.
    let queues = cluster.dir.join("llb.queues");
    let good_queues = std::fs::read_to_string(&queues).expect("llb.queues");
    std::fs::write(&queues, good_queues.replacen("PRIORITY", "PRIORTY", 1)).expect("write");
    let bad = cluster.run("badmin", &["reconfig".into()]);
    let said = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert!(
        !bad.status.success()
            && said.contains("llb.queues")
            && said.contains("unknown key PRIORTY"),
        "{said}"
    );
    assert!(said.contains("the running configuration stays"), "{said}");
    std::fs::write(&queues, good_queues).expect("restore llb.queues");

    std::fs::write(&hosts_file, &with_host3).expect("host3 back in llb.hosts");
    let done = cluster.stdout("badmin", &["reconfig"]).unwrap_or_default();
    assert!(done.starts_with("Reconfiguration done"), "{done}");
    let on_host3 = cluster.submit(&["-m", "host3", "true"]);
    cluster.wait_stat(on_host3, "DONE", Duration::from_secs(30));
    assert_eq!(cluster.stat(running).as_deref(), Some("RUN"));
    assert_eq!(cluster.stat(held).as_deref(), Some("HELD"));
    std::fs::write(&gate, b"").expect("open the gate");
    cluster.wait_stat(running, "DONE", LIMIT);
    assert_eq!(cluster.mbd_pid(), mbd, "no restart");
}

#[test]
fn two_users_with_shares_3_to_1_and_deep_backlogs_run_3_to_1() {
    if os::users::effective_uid() != 0 {
        eprintln!("skipped: a second user's jobs need root");
        return;
    }
    let cluster = TestCluster::up(2, TICK, None);
    cluster.queue_keys("normal", "FAIRSHARE = USER_SHARES[[root, 3] [nobody, 1]]");
    // A gate anyone can see; the queue closed while both backlogs are
    // submitted (else root's, submitted first, would start at once), so
    // that one pass shares the slots out.
    let gate = std::env::temp_dir().join(format!("lavalite-fs-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&gate);
    let job = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let args = ["-o", "/dev/null", "-e", "/dev/null", job.as_str()];
    cluster
        .stdout("bqueues", &["-c", "normal"])
        .expect("close normal");
    for _ in 0..12 {
        cluster.submit(&args);
    }
    for _ in 0..12 {
        let out = cluster.run_as(NOBODY, "bsub", &args);
        assert!(out.status.success(), "bsub as nobody: {out:?}");
    }
    cluster
        .stdout("bqueues", &["-o", "normal"])
        .expect("open normal");
    let running = |user: &str| {
        let out = cluster
            .stdout("bjobs", &["-r", "-u", user])
            .unwrap_or_default();
        out.lines().filter(|l| l.contains(" RUN ")).count()
    };
    let split = wait_for(LIMIT, || {
        let (root, nobody) = (running("root"), running("nobody"));
        (root + nobody == 4).then_some((root, nobody))
    });
    assert_eq!(split, Some((3, 1)), "4 slots shared 3:1");
    let long = cluster.stdout("bqueues", &["-l"]).unwrap_or_default();
    assert!(
        long.contains("USER_SHARES:  [nobody, 1] [root, 3]"),
        "{long}"
    );
    assert!(long.contains("SHARE_INFO_FOR: normal/"), "{long}");
    std::fs::write(&gate, b"").expect("open the gate");
    let drained = wait_for(Duration::from_secs(60), || {
        let out = cluster.stdout("bjobs", &[])?;
        out.starts_with("No jobs").then_some(())
    });
    let _ = std::fs::remove_file(&gate);
    assert!(drained.is_some(), "the backlogs never drained");
}

#[test]
fn a_preempting_job_suspends_a_lower_job_which_resumes_after_it() {
    let cluster = TestCluster::up(1, TICK, None);
    cluster.queue_keys("short", "PREEMPTION = PREEMPTIVE[normal]");
    let gate = cluster.dir.join("gate");
    let low = cluster.submit(&[
        "-n",
        "2",
        &format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display()),
    ]);
    cluster.wait_stat(low, "RUN", LIMIT);
    // Both CPUs of the one host are the low job's: the urgent one preempts it.
    let urgent = cluster.submit(&["-q", "short", "-n", "2", "sleep 1"]);
    cluster.wait_stat(urgent, "RUN", LIMIT);
    assert_eq!(cluster.stat(low).as_deref(), Some("SUSP"));
    let l = cluster
        .stdout("bjobs", &["-l", &low.to_string()])
        .unwrap_or_default();
    assert!(
        l.contains("Suspended: preempted by a higher-priority queue's job;"),
        "{l}"
    );
    cluster.wait_stat(urgent, "DONE", LIMIT);
    cluster.wait_stat(low, "RUN", LIMIT);
    std::fs::write(&gate, b"").expect("open the gate");
    cluster.wait_stat(low, "DONE", LIMIT);
}

#[test]
fn bacct_counts_the_jobs_compaction_archived_from_their_accounting_files() {
    let cluster = TestCluster::up(1, TICK, None);
    cluster.add_to_ll_conf("LL_MBD_JOB_FINISH_THRESHOLD = 2");
    let restarted = cluster
        .stdout("badmin", &["mbdrestart"])
        .unwrap_or_default();
    assert!(restarted.contains("restart done"), "{restarted}");
    for _ in 0..6 {
        cluster.submit(&["true"]);
    }
    let state = cluster.dir.join("state/mbd");
    let acct_files = || -> Vec<std::path::PathBuf> {
        (std::fs::read_dir(&state).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "acct"))
            .collect()
    };
    let files = wait_for(LIMIT, || Some(acct_files()).filter(|f| !f.is_empty()));
    assert!(
        files.is_some(),
        "compaction keeps accounting beside its archive"
    );
    // Finished jobs compaction dropped are no longer in bjobs: bacct says.
    let summed = || {
        let text = cluster.stdout("bacct", &["-u", "all"]).unwrap_or_default();
        text.contains(" Total number of done jobs:       6")
            .then_some(text)
    };
    let all_done = wait_for(LIMIT, summed);
    assert!(all_done.is_some(), "{:?}", cluster.stdout("bacct", &[]));
    for f in acct_files() {
        std::fs::remove_file(f).expect("remove an accounting file");
    }
    assert!(summed().is_some(), "read from the archives again");
    assert!(!acct_files().is_empty(), "and kept for the next bacct");
}

#[test]
fn badmin_qclose_refuses_new_jobs_until_qopen_and_survives_mbdrestart() {
    let cluster = TestCluster::up(1, TICK, None);
    let held = cluster.submit(&["-H", "true"]);
    let closed = cluster
        .stdout("badmin", &["qclose", "normal"])
        .unwrap_or_default();
    assert!(closed.contains("closed to new jobs"), "{closed}");
    let refused = cluster.run("bsub", &["-q".into(), "normal".into(), "true".into()]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success() && said.contains("queue normal is closed to new jobs"),
        "{said}"
    );
    let other = cluster.submit(&["-q", "short", "-H", "true"]);
    let switch = cluster.run("bswitch", &["normal".into(), other.to_string()]);
    assert!(
        !switch.status.success(),
        "nothing moves into a closed queue"
    );
    let long = cluster.stdout("bqueues", &["-l"]).unwrap_or_default();
    assert!(long.contains("Submissions: closed to new jobs"), "{long}");

    let mbd = cluster.mbd_pid();
    let restarted = cluster
        .stdout("badmin", &["mbdrestart"])
        .unwrap_or_default();
    assert!(restarted.contains("restart done"), "{restarted}");
    assert_eq!(cluster.mbd_pid(), mbd, "the same process, started again");
    assert_eq!(cluster.mbd_log().matches("mbd starting").count(), 2);
    assert_eq!(cluster.stat(held).as_deref(), Some("HELD"), "jobs kept");
    let still = cluster.run("bsub", &["-q".into(), "normal".into(), "true".into()]);
    assert!(!still.status.success(), "closed across the restart");

    cluster.stdout("bresume", &[&held.to_string()]);
    cluster.wait_stat(held, "DONE", LIMIT);
    cluster.stdout("badmin", &["qopen", "normal"]);
    let taken = cluster.submit(&["-q", "normal", "true"]);
    cluster.wait_stat(taken, "DONE", LIMIT);
}

#[test]
fn lsadmin_reconfig_removes_and_adds_a_host_without_restarting_lim() {
    if os::users::effective_uid() != 0 {
        eprintln!("skipped: lsadmin reconfig is root's (or lim's own user's)");
        return;
    }
    let cluster = TestCluster::up(3, TICK, None);
    let lims = || ["host1", "host2"].map(|h| cluster.lim_pid(h));
    let before = lims();
    let file = cluster.dir.join("ll.cluster.lavalite");
    let with_host3 = std::fs::read_to_string(&file).expect("cluster file");
    let without: String = (with_host3.lines())
        .filter(|l| !l.starts_with("host3"))
        .map(|l| format!("{l}\n"))
        .collect();
    cluster.kill_daemon(cluster.sbd_pid("host3"), "sbd");
    cluster.kill_daemon(cluster.lim_pid("host3"), "lim");
    std::fs::write(&file, &without).expect("write the cluster file");

    let refused = cluster.run_as(NOBODY, "lsadmin", &["reconfig"]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success() && said.contains("may not reconfigure"),
        "{said}"
    );
    let done = cluster.stdout("lsadmin", &["reconfig"]).unwrap_or_default();
    assert!(done.contains("2 hosts (removed host3"), "{done}");
    let listed = |n: usize| {
        wait_for(LIMIT, || {
            let out = cluster.stdout("lshosts", &[])?;
            (out.lines().count() == n + 1).then_some(out)
        })
    };
    assert!(listed(2).is_some(), "{:?}", cluster.stdout("lshosts", &[]));
    let told = wait_for(LIMIT, || {
        let log = cluster.log("lim", "host2");
        log.contains("asked: cluster file read again: 2 hosts")
            .then_some(())
    });
    assert!(
        told.is_some(),
        "host2's lim reads it too: {}",
        cluster.log("lim", "host2")
    );

    std::fs::write(&file, &with_host3).expect("host3 back");
    let done = cluster.stdout("lsadmin", &["reconfig"]).unwrap_or_default();
    assert!(done.contains("3 hosts (added host3"), "{done}");
    assert!(listed(3).is_some(), "{:?}", cluster.stdout("lshosts", &[]));
    cluster.up_again(); // starts host3's lim and sbd
    let on_host3 = cluster.submit(&["-m", "host3", "true"]);
    cluster.wait_stat(on_host3, "DONE", Duration::from_secs(30));
    assert_eq!(lims(), before, "no lim restarted");
    let bad = with_host3.replace("Begin Host", "Begin Hosts");
    std::fs::write(&file, bad).expect("a bad edit");
    let refused = cluster.run("lsadmin", &["reconfig".into()]);
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success() && said.contains("the running configuration stays"),
        "{said}"
    );
}
