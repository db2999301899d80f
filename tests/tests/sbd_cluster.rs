//! Jobs run end to end: sbd on every host, dispatch from mbd, output
//! files, arrays, dependencies, multi-host and --machines placement,
//! bkill of running jobs, and no job lost or run twice when an sbd or mbd
//! is killed with -9 or hangs while jobs run, or sbd dies while starting
//! one; a bkill lost with a killed sbd is sent again, or ends a job sbd
//! never took; jobs still start after an
//! upgrade replaced the sbd binary under a running sbd; SIGHUP ends none
//! of the daemons; `--terminate` signals a running job (up to a minute);
//! jobs on a host taken out of llb.hosts end lost, or wait for it; a job
//! an sbd cannot set up is handed back and runs elsewhere.

use cluster_tests::{bin_dir, wait_for, TestCluster};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);
const LIMIT: Duration = Duration::from_secs(20);

/// A job command that appends its id to `runs` and then waits until
/// `gate` exists (so a test decides when it ends).
fn gated(dir: &Path, gate: &str) -> String {
    format!(
        "echo $LL_JOBID >> {runs}; while [ ! -e {gate} ]; do sleep 0.05; done",
        runs = dir.join("runs").display(),
        gate = dir.join(gate).display()
    )
}

fn open_gate(dir: &Path, gate: &str) {
    std::fs::write(dir.join(gate), b"").expect("open the gate");
}

/// How many times each job started (lines in `runs`).
fn starts(dir: &Path, id: u32) -> usize {
    let runs = std::fs::read_to_string(dir.join("runs")).unwrap_or_default();
    runs.lines().filter(|l| l.trim() == id.to_string()).count()
}

/// Submits one job gated on `gate` and waits until it runs: the work
/// directory (where its gate opens) and its id.
fn running_gated_job(cluster: &TestCluster) -> (PathBuf, u32) {
    let work = work_dir(cluster);
    let job = cluster.submit(&[&gated(&work, "gate")]);
    cluster.wait_stat(job, "RUN", LIMIT);
    (work, job)
}

/// Stops host1's sbd, then submits a gated job and waits until mbd has
/// dispatched it: the dispatch lies unread in the stopped sbd's socket,
/// as one killed in the middle of starting the job leaves it unfinished.
/// The work directory, the job and the stopped sbd's pid.
fn dispatched_to_a_stopped_sbd(cluster: &TestCluster) -> (PathBuf, u32, u32) {
    let work = work_dir(cluster);
    let sbd = cluster.sbd_pid("host1");
    signal(sbd, libc::SIGSTOP);
    let job = cluster.submit(&[&gated(&work, "gate")]);
    wait_for(LIMIT, || {
        let dispatched = format!("job {job} dispatched to");
        cluster.mbd_log().contains(&dispatched).then_some(())
    })
    .expect("mbd dispatches the job");
    (work, job, sbd)
}

/// `sh -c script` in `work`, as a user of `cluster` would run it.
fn shell(cluster: &TestCluster, work: &Path, script: &str) -> std::process::Output {
    Command::new("/bin/sh")
        .args(["-c", script])
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .current_dir(work)
        .output()
        .expect("sh")
}

fn work_dir(cluster: &TestCluster) -> PathBuf {
    let dir = cluster.dir.join("work");
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

#[test]
fn jobs_end_done_or_exit_with_their_output() {
    let cluster = TestCluster::up(2, TICK, None);
    let work = work_dir(&cluster);
    let out = work.join("io_%J.out").display().to_string();
    let err = work.join("io_%J.err").display().to_string();
    let io = cluster.submit(&[
        "--stdout",
        &out,
        "--stderr",
        &err,
        "sh -c 'echo hello_stdout; echo hello_stderr >&2'",
    ]);
    let ok = cluster.submit(&["-o", "/dev/null", "-e", "/dev/null", "true"]);
    let bad = cluster.submit(&["false"]);
    // One file for both streams: shared, neither overwrites the other.
    let both = work.join("both_%J.out").display().to_string();
    let shared = cluster.submit(&["-o", &both, "-e", &both, "echo 1; echo 2 >&2; echo 3"]);
    cluster.wait_stat(io, "DONE", LIMIT);
    cluster.wait_stat(ok, "DONE", LIMIT);
    cluster.wait_stat(bad, "EXIT", LIMIT);
    cluster.wait_stat(shared, "DONE", LIMIT);
    let text = |p: PathBuf| std::fs::read_to_string(p).ok();
    let read = |p: &str, id: u32| text(p.replace("%J", &id.to_string()).into());
    assert_eq!(read(&out, io).as_deref(), Some("hello_stdout\n"));
    assert_eq!(read(&err, io).as_deref(), Some("hello_stderr\n"));
    assert_eq!(read(&both, shared).as_deref(), Some("1\n2\n3\n"));
    // Without -o / -e: LavaLite's stdout.<id> and stderr.<id> in the
    // submit directory (the cluster's, see TestCluster::run).
    let plain = cluster.submit(&["echo to_out; echo to_err >&2"]);
    cluster.wait_stat(plain, "DONE", LIMIT);
    let default = |stream: &str| cluster.dir.join(format!("{stream}.{plain}"));
    assert_eq!(text(default("stdout")).as_deref(), Some("to_out\n"));
    assert_eq!(text(default("stderr")).as_deref(), Some("to_err\n"));
    let hist = cluster.stdout("bhist", &[&bad.to_string()]).expect("bhist");
    assert!(
        hist.contains("Status <EXIT>") && hist.contains("exit_status: 1"),
        "{hist}"
    );
    assert!(
        hist.contains("Dispatched to:") && hist.contains("\n  Max memory:   "),
        "{hist}"
    );

    // LavaLite's own system-test idiom, through a shell and awk.
    let script = format!(
        "jid=$({bin}/bsub -o /dev/null -e /dev/null true 2>&1 | sed -n 's/^Job <\\([0-9]*\\)>.*/\\1/p'); \
         for i in $(seq 1 100); do \
           s=$({bin}/bjobs $jid | awk 'NR==2 {{print $3}}'); \
           [ \"$s\" = DONE ] && echo PASS && exit 0; sleep 0.1; done; echo FAIL $s",
        bin = cluster_tests::bin_dir().display()
    );
    let sh = shell(&cluster, &work, &script);
    assert_eq!(String::from_utf8_lossy(&sh.stdout), "PASS\n");

    // The submit environment reaches the job.
    let marked = work.join("env.out");
    let bsub = Command::new(cluster_tests::bin_dir().join("bsub"))
        .args(["-o", &marked.display().to_string(), "echo $SUBMIT_MARK"])
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .env("SUBMIT_MARK", "from the submit shell")
        .current_dir(&work)
        .output()
        .expect("bsub");
    let id = cluster_tests::job_id(&String::from_utf8_lossy(&bsub.stdout)).expect("job id");
    cluster.wait_stat(id, "DONE", LIMIT);
    assert_eq!(
        std::fs::read_to_string(&marked).ok().as_deref(),
        Some("from the submit shell\n")
    );

    // A submit environment of megabytes (more than exec may take under a
    // default 8 MiB stack limit, which sbd runs with here) still starts.
    let big = work.join("big_env.out");
    let script = format!(
        "ulimit -s 65536 || exit 1; \
         for i in $(seq 1 24); do export BIG_$i=$(head -c 110000 /dev/zero | tr '\\0' x); done; \
         exec {bin}/bsub -o {out} 'echo ${{#BIG_24}}'",
        bin = cluster_tests::bin_dir().display(),
        out = big.display()
    );
    let sh = shell(&cluster, &work, &script);
    let id = cluster_tests::job_id(&String::from_utf8_lossy(&sh.stdout))
        .unwrap_or_else(|| panic!("bsub: {}", String::from_utf8_lossy(&sh.stderr)));
    cluster.wait_stat(id, "DONE", LIMIT);
    assert_eq!(
        std::fs::read_to_string(&big).ok().as_deref(),
        Some("110000\n")
    );

    // An array: five elements, each DONE once, one bhist block each.
    let array = cluster.submit(&["--array", "1-5", "-o", "/dev/null", "true"]);
    let active = || {
        let out = cluster.stdout("bjobs", &[])?;
        let prefix = format!("{array}[");
        (!out.lines().any(|l| l.starts_with(&prefix))).then_some(())
    };
    wait_for(LIMIT, active).expect("the array's elements finish");
    let hist = cluster
        .stdout("bhist", &[&array.to_string()])
        .expect("bhist array");
    assert_eq!(hist.matches("Status <DONE>").count(), 5, "{hist}");

    // Held, then released with CONT: runs to DONE.
    let held = cluster.submit(&["--hold", "true"]);
    assert_eq!(cluster.stat(held).as_deref(), Some("HELD"));
    cluster
        .stdout("bkill", &["-s", "CONT", &held.to_string()])
        .expect("CONT");
    cluster.wait_stat(held, "DONE", LIMIT);

    // bkill of a running job ends it EXIT.
    let long = cluster.submit(&["sleep", "600"]);
    cluster.wait_stat(long, "RUN", LIMIT);
    cluster
        .stdout("bkill", &[&long.to_string()])
        .expect("bkill");
    cluster.wait_stat(long, "EXIT", LIMIT);
    let hist = cluster
        .stdout("bhist", &[&long.to_string()])
        .expect("bhist");
    assert!(hist.contains("Signal  signal: 15"), "{hist}");
}

#[test]
fn dependencies_nhosts_machines_and_suspension() {
    let cluster = TestCluster::up(2, TICK, None);
    let work = work_dir(&cluster);
    let a = cluster.submit(&[&gated(&work, "gate_a")]);
    cluster.wait_stat(a, "RUN", LIMIT);
    let b = cluster.submit(&["--dependency", &format!("done({a})"), "true"]);
    assert_eq!(cluster.stat(b).as_deref(), Some("PEND"));

    // --nhosts 2: one row with a slot on each host.
    let wide = cluster.submit(&["--nhosts", "2", &gated(&work, "gate_wide")]);
    cluster.wait_stat(wide, "RUN", LIMIT);
    let row = cluster
        .stdout("bjobs", &[&wide.to_string()])
        .expect("bjobs");
    assert!(row.contains("1@host1") && row.contains("1@host2"), "{row}");
    // --machines picks the host.
    let pinned = cluster.submit(&["--machines", "host2", &gated(&work, "gate_pin")]);
    cluster.wait_stat(pinned, "RUN", LIMIT);
    let row = cluster
        .stdout("bjobs", &[&pinned.to_string()])
        .expect("bjobs");
    assert!(row.contains("1@host2") && !row.contains("host1"), "{row}");

    // STOP and CONT reach the running job: SUSP, then RUN.
    cluster
        .stdout("bkill", &["-s", "STOP", &pinned.to_string()])
        .expect("STOP");
    assert_eq!(cluster.stat(pinned).as_deref(), Some("SUSP"));
    cluster
        .stdout("bkill", &["-s", "CONT", &pinned.to_string()])
        .expect("CONT");
    assert_eq!(cluster.stat(pinned).as_deref(), Some("RUN"));

    assert_eq!(cluster.stat(b).as_deref(), Some("PEND"), "A still runs");
    open_gate(&work, "gate_a");
    cluster.wait_stat(a, "DONE", LIMIT);
    cluster.wait_stat(b, "DONE", LIMIT);
    open_gate(&work, "gate_wide");
    open_gate(&work, "gate_pin");
    cluster.wait_stat(wide, "DONE", LIMIT);
    cluster.wait_stat(pinned, "DONE", LIMIT);
}

#[test]
fn a_job_survives_a_killed_sbd_and_never_runs_twice() {
    let cluster = TestCluster::up(1, TICK, None);
    let (work, job) = running_gated_job(&cluster);
    cluster.kill_daemon(cluster.sbd_pid("host1"), "sbd");
    cluster.wait_stat(job, "UNKNOWN", LIMIT);
    let refused = cluster.run("bkill", &[job.to_string()]);
    assert!(
        !refused.status.success(),
        "no signal while the host is away"
    );
    open_gate(&work, "gate");
    cluster.up_again();
    cluster.wait_stat(job, "DONE", LIMIT);
    assert_eq!(starts(&work, job), 1, "the job ran once");
    let next = cluster.submit(&["true"]);
    cluster.wait_stat(next, "DONE", LIMIT);
}

#[test]
fn running_jobs_finish_and_are_reported_across_an_mbd_kill() {
    let cluster = TestCluster::up(2, TICK, None);
    let work = work_dir(&cluster);
    let jobs: Vec<u32> = (0..3)
        .map(|_| cluster.submit(&[&gated(&work, "gate")]))
        .collect();
    for &job in &jobs {
        cluster.wait_stat(job, "RUN", LIMIT);
    }
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    // They end while mbd is down; sbd keeps the reports until acknowledged.
    open_gate(&work, "gate");
    cluster.up_again();
    for &job in &jobs {
        cluster.wait_stat(job, "DONE", LIMIT);
        assert_eq!(starts(&work, job), 1, "job {job} ran once");
    }
}

/// STATE of `bhosts` for `host`.
fn host_state(cluster: &TestCluster, host: &str) -> Option<String> {
    let out = cluster.stdout("bhosts", &[])?;
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(host))?;
    Some(row.split_whitespace().nth(1)?.to_owned())
}

fn wait_host_state(cluster: &TestCluster, host: &str, want: &str) {
    let mut last = None;
    wait_for(LIMIT, || {
        last = host_state(cluster, host);
        (last.as_deref() == Some(want)).then_some(())
    })
    .unwrap_or_else(|| panic!("bhosts shows {host} {last:?}, wanted {want}"));
}

fn signal(pid: u32, signo: i32) {
    os::process::signal(pid, signo).expect("signal a daemon");
}

#[test]
fn a_hung_sbd_or_mbd_is_noticed_by_heartbeats_and_the_job_runs_once() {
    // Limit: three 0.5 s heartbeats.
    let cluster = TestCluster::up_with(1, TICK, None, &["--heartbeat", "0.5"]);
    let (work, job) = running_gated_job(&cluster);
    wait_host_state(&cluster, "host1", "ok");

    // A stopped sbd keeps its TCP connection open (the kernel still
    // answers for it): only its silence tells mbd it is gone.
    let sbd = cluster.sbd_pid("host1");
    signal(sbd, libc::SIGSTOP);
    cluster.wait_stat(job, "UNKNOWN", LIMIT);
    wait_host_state(&cluster, "host1", "unavail");
    assert!(cluster.mbd_log().contains("sbd for host1 silent for over"));
    signal(sbd, libc::SIGCONT);
    cluster.wait_stat(job, "RUN", LIMIT);
    wait_host_state(&cluster, "host1", "ok");

    // And the other way: sbd drops a silent mbd and registers again.
    let mbd = cluster.mbd_pid();
    signal(mbd, libc::SIGSTOP);
    let noticed = wait_for(LIMIT, || {
        (cluster.log("sbd", "host1"))
            .contains("lost mbd (mbd silent for over")
            .then_some(())
    });
    signal(mbd, libc::SIGCONT);
    assert!(noticed.is_some(), "sbd never noticed the silent mbd");
    open_gate(&work, "gate");
    cluster.wait_stat(job, "DONE", LIMIT);
    assert_eq!(starts(&work, job), 1, "the job ran once");
    wait_host_state(&cluster, "host1", "ok");
}

/// sbd killed after it spooled a job but before it recorded the runner:
/// the job never ran, so the next sbd discards the run and mbd, which
/// never heard it start, sends it again; it runs once and ends DONE (it
/// used to end EXIT as lost).
#[test]
fn a_job_whose_start_sbd_did_not_finish_is_sent_again_and_runs_once() {
    let cluster = TestCluster::up(1, TICK, None);
    let (work, job, sbd) = dispatched_to_a_stopped_sbd(&cluster);
    cluster.kill_daemon(sbd, "sbd");
    // What the killed sbd had written: the job, no runner pid.
    let spool = sbd::spool::Spool::open(&cluster.dir.join("state").join("sbd.host1"))
        .expect("the spool, free once sbd is gone");
    let start = proto::sbd::JobStart {
        job: proto::sbd::JobKey {
            id: job,
            attempt: 1,
        },
        command: "echo the spooled copy is not what runs".into(),
        ..Default::default()
    };
    spool.create(&start).expect("spool the half-started run");
    drop(spool);
    open_gate(&work, "gate");
    cluster.up_again();
    cluster.wait_stat(job, "DONE", LIMIT);
    assert_eq!(starts(&work, job), 1, "the job ran once");
    let log = cluster.log("sbd", "host1");
    assert!(log.contains("discarded for mbd to send again"), "{log}");
}

/// Runs `bkill ARGS` on a started job while its sbd is stopped, then
/// kills that sbd (the signal dies unread with it) and restarts it.
fn bkill_unread_by_a_killed_sbd(cluster: &TestCluster, work: &Path, job: u32, args: &[&str]) {
    // RUN shows from the dispatch on; wait for the job itself.
    wait_for(LIMIT, || (starts(work, job) == 1).then_some(())).expect("the job starts");
    let sbd = cluster.sbd_pid("host1");
    signal(sbd, libc::SIGSTOP);
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(job.to_string());
    let bkill = cluster.run("bkill", &args);
    assert!(bkill.status.success(), "{bkill:?}");
    cluster.kill_daemon(sbd, "sbd");
    cluster.up_again();
}

/// An acknowledged bkill whose signal never reached sbd is sent again
/// when sbd registers: the job ends instead of running on; a lost STOP
/// is sent again too (mbd used to take sbd's "running" and show RUN).
#[test]
fn a_bkill_lost_with_a_killed_sbd_is_sent_again_when_it_registers() {
    let cluster = TestCluster::up(1, TICK, None);
    let (work, job) = running_gated_job(&cluster);
    bkill_unread_by_a_killed_sbd(&cluster, &work, job, &[]);
    cluster.wait_stat(job, "EXIT", LIMIT);
    assert!(cluster.mbd_log().contains("sending signal 15 again"));
    assert_eq!(starts(&work, job), 1);

    let cluster = TestCluster::up(1, TICK, None);
    let (work, job) = running_gated_job(&cluster);
    bkill_unread_by_a_killed_sbd(&cluster, &work, job, &["-s", "stop"]);
    wait_for(LIMIT, || {
        let again = format!("job {job}: not as bkill left it on host1; sending signal 19 again");
        cluster.mbd_log().contains(&again).then_some(())
    })
    .expect("the STOP is sent again");
    assert_eq!(cluster.stat(job).as_deref(), Some("SUSP"));
    let cont = cluster.run("bkill", &["-s".into(), "cont".into(), job.to_string()]);
    assert!(cont.status.success(), "{cont:?}");
    cluster.wait_stat(job, "RUN", LIMIT);
    open_gate(&work, "gate");
    cluster.wait_stat(job, "DONE", LIMIT);
}

/// The same before sbd took the job: mbd had dispatched it, sbd never
/// read it; once bkilled, it ends EXIT when sbd registers and never runs
/// (it used to be sent again, and ran).
#[test]
fn a_job_bkilled_before_sbd_took_it_never_runs() {
    let cluster = TestCluster::up(1, TICK, None);
    let (work, job, sbd) = dispatched_to_a_stopped_sbd(&cluster);
    let bkill = cluster.run("bkill", &[job.to_string()]);
    assert!(bkill.status.success(), "{bkill:?}");
    cluster.kill_daemon(sbd, "sbd");
    cluster.up_again();
    cluster.wait_stat(job, "EXIT", LIMIT);
    let next = cluster.submit(&["true"]);
    cluster.wait_stat(next, "DONE", LIMIT);
    assert_eq!(starts(&work, job), 0, "a killed job never ran");
}

#[test]
fn jobs_start_after_an_upgrade_replaced_the_running_sbds_binary() {
    // The daemons run from links of the built binaries; removing the
    // sbd link is what a package upgrade does to the running sbd's file.
    let bins = bin_dir().join(format!("upgrade-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&bins);
    std::fs::create_dir_all(&bins).expect("daemon dir");
    for daemon in ["lavalite", "lim", "mbd", "sbd"] {
        std::fs::hard_link(bin_dir().join(daemon), bins.join(daemon)).expect("link a daemon");
    }
    let cluster = TestCluster::up_from(&bins, 1, TICK, None, &[]);
    std::fs::remove_file(bins.join("sbd")).expect("remove sbd");
    let job = cluster.submit(&["true"]);
    cluster.wait_stat(job, "DONE", LIMIT);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&bins);
}

#[test]
fn sighup_leaves_every_daemon_running() {
    let cluster = TestCluster::up(1, TICK, None);
    let daemons = [
        ("lim", cluster.lim_pid("host1")),
        ("mbd", cluster.mbd_pid()),
        ("sbd", cluster.sbd_pid("host1")),
    ];
    for (_, pid) in daemons {
        signal(pid, libc::SIGHUP);
    }
    for (daemon, pid) in daemons {
        let noted = wait_for(LIMIT, || {
            (cluster.log(daemon, "host1"))
                .contains("SIGHUP received: still running")
                .then_some(())
        });
        assert!(noted.is_some(), "{daemon} did not note the SIGHUP");
        assert!(lavalite::is_alive(pid, daemon), "{daemon} died of SIGHUP");
    }
    let job = cluster.submit(&["true"]);
    cluster.wait_stat(job, "DONE", LIMIT);
    assert!(cluster.master().is_some(), "lim still answers");
}

/// The next minute as `hour:minute`, local time (`--terminate` has
/// minute resolution and rolls a time already past to tomorrow).
fn next_minute() -> String {
    let out = Command::new("date")
        .args(["-d", "+1 minute", "+%H:%M"])
        .output()
        .expect("run date");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn terminate_time_signals_a_running_job_which_ends_exit() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let caught = work.join("usr2");
    let command = format!(
        "trap 'echo caught > {}; exit 3' USR2; while :; do sleep 0.1; done",
        caught.display()
    );
    let job = cluster.submit(&["--terminate", &next_minute(), &command]);
    // Up to a minute: the deadline is the next minute boundary.
    cluster.wait_stat(job, "EXIT", Duration::from_secs(90));
    let history = cluster.stdout("bhist", &["-l", &job.to_string()]);
    let history = history.unwrap_or_default();
    assert!(
        history.contains("Terminated: the --terminate time was reached"),
        "{history}"
    );
}

#[test]
fn jobs_on_a_host_taken_out_of_llb_hosts_end_lost_or_wait_for_it() {
    let cluster = TestCluster::up(2, TICK, None);
    let running = cluster.submit(&["-m", "host2", "-o", "/dev/null", "sleep", "600"]);
    let pinned = cluster.submit(&["--hold", "-m", "host2", "-o", "/dev/null", "true"]);
    cluster.wait_stat(running, "RUN", LIMIT);

    // The admin takes host2 out of llb.hosts and restarts mbd.
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    let hosts = cluster.dir.join("llb.hosts");
    let text = std::fs::read_to_string(&hosts).expect("llb.hosts");
    let without: String = (text.lines())
        .filter(|l| !l.starts_with("host2 "))
        .map(|l| l.replace("(host1 host2)", "(host1)") + "\n")
        .collect();
    assert_ne!(text, without, "the default config lists host2");
    std::fs::write(&hosts, without).expect("write llb.hosts");
    cluster.up_again();

    cluster.wait_stat(running, "EXIT", LIMIT);
    let hist = cluster.stdout("bhist", &[&running.to_string()]);
    let note = "Lost: its execution host host2 is no longer in llb.hosts";
    assert!(
        hist.as_deref().is_some_and(|h| h.contains(note)),
        "{hist:?}"
    );
    // Released, the job pinned to host2 waits for it: the pass that
    // released it is over when bkill returns, and it placed nothing.
    cluster
        .stdout("bkill", &["-s", "CONT", &pinned.to_string()])
        .expect("release");
    assert_eq!(cluster.stat(pinned).as_deref(), Some("PEND"));
    let pend = cluster.stdout("bjobs", &["--pend"]).unwrap_or_default();
    assert!(pend.contains("PEND: no eligible hosts in queue"), "{pend}");
    let log = cluster.mbd_log();
    assert!(
        log.contains(&format!("1 waiting jobs ({pinned}) name a queue")),
        "{log}"
    );
}

#[test]
fn a_job_sbd_cannot_set_up_goes_back_to_pending_and_runs_elsewhere() {
    let cluster = TestCluster::up(2, TICK, None);
    // Job 1's first run cannot be spooled on either host: a file sits
    // where its directory would go (as a full disk would fail it).
    for host in ["host1", "host2"] {
        let spool = cluster.dir.join("state").join(format!("sbd.{host}"));
        std::fs::write(spool.join("1.1"), "in the way").expect("plant a file");
    }
    let id = cluster.submit(&["-o", "/dev/null", "true"]);
    assert_eq!(id, 1);
    cluster.wait_stat(id, "DONE", LIMIT);
    let hist = cluster
        .stdout("bhist", &[&id.to_string()])
        .unwrap_or_default();
    assert!(hist.contains("Not started on host"), "{hist}");
    assert!(hist.contains("cannot spool the job"), "{hist}");
    let hosts: Vec<&str> = (hist.lines())
        .filter_map(|l| l.split("Dispatched to:").nth(1).map(str::trim))
        .collect();
    assert_eq!(hosts.len(), 2, "{hist}");
    assert_ne!(hosts[0], hosts[1], "the host that could not is paused");
    assert!(hist.contains("  Pending\n"), "{hist}");
    let log = cluster.mbd_log();
    assert!(log.contains("could not start job 1"), "{log}");
}

#[test]
fn jobs_start_with_no_signal_blocked_and_default_dispositions() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let out = |name: &str| std::fs::read_to_string(work.join(name)).unwrap_or_default();
    let sub = |name: &str, script: &str| {
        let file = work.join(name).display().to_string();
        cluster.submit(&["-o", &file, script])
    };
    // A shell waiting for a background child sees its SIGCHLD.
    let waits = sub("wait.out", "sleep 0.2 & wait; echo done");
    // A trap for USR2 fires (--terminate's warning is USR2).
    let trap = sub(
        "trap.out",
        "trap 'echo warned; exit 0' USR2; echo ready; sleep 30 & wait",
    );
    // Plain bkill (TERM) ends a shell that waits.
    let waiting = sub("term.out", "echo ready; sleep 30 & wait");
    cluster.wait_stat(waits, "DONE", LIMIT);
    assert_eq!(out("wait.out"), "done\n");
    for job in [trap, waiting] {
        cluster.wait_stat(job, "RUN", LIMIT);
    }
    let ready = |name: &str| out(name).contains("ready").then_some(());
    wait_for(LIMIT, || ready("trap.out").and(ready("term.out"))).expect("both ready");
    let usr2 = libc::SIGUSR2.to_string();
    (cluster.stdout("bkill", &["-s", &usr2, &trap.to_string()])).expect("bkill -s USR2");
    cluster.wait_stat(trap, "DONE", LIMIT);
    assert_eq!(out("trap.out"), "ready\nwarned\n");
    cluster
        .stdout("bkill", &[&waiting.to_string()])
        .expect("bkill");
    cluster.wait_stat(waiting, "EXIT", LIMIT);
}
