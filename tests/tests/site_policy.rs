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
    let queues = cluster.dir.join("llb.queues");
    let text = std::fs::read_to_string(&queues).expect("llb.queues");
    let limited = text.replacen("PRIORITY    = 30", "PRIORITY    = 30\nUJOB_LIMIT  = 1", 1);
    std::fs::write(&queues, limited).expect("write llb.queues");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();
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
