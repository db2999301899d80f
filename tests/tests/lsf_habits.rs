//! LSF users' scripts and habits (docs/lsf.md): `bsub < script` with
//! `#BSUB` directives, `-J "name[1-4]%2"` arrays, `-W` and queue
//! `RUNLIMIT` enforced with `TERM_RUNLIMIT` in `bjobs -l`, `bsub -K`,
//! `-oo`/`-cwd`, several ids to `bjobs`, `bstop`/`bresume`, `bswitch`.

use cluster_tests::{job_id, wait_for, TestCluster};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(300);
const LIMIT: Duration = Duration::from_secs(20);

fn work_dir(cluster: &TestCluster) -> PathBuf {
    let dir = cluster.dir.join("work");
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// `bin args` in `work` with `stdin` fed to it.
fn run_in(cluster: &TestCluster, work: &Path, bin: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(cluster_tests::bin_dir().join(bin))
        .args(args)
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .current_dir(work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("feed stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_file(path: &Path) -> String {
    wait_for(LIMIT, || {
        std::fs::read_to_string(path).ok().filter(|t| !t.is_empty())
    })
    .unwrap_or_else(|| panic!("{} never written", path.display()))
}

fn long(cluster: &TestCluster, id: u32) -> String {
    cluster
        .stdout("bjobs", &["-l", &id.to_string()])
        .unwrap_or_default()
}

#[test]
fn a_job_script_runs_as_its_bsub_directives_say() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let script = "#!/bin/sh\n\
        #BSUB -J scripted\n\
        #BSUB -q short\n\
        #BSUB -n 2\n\
        #BSUB -W 10\n\
        #BSUB -o out.%J\n\
        #BSUB -e err.%J\n\
        echo \"job $LSB_JOBID in $LSB_QUEUE on $LSB_HOSTS\"\n\
        echo oops >&2\n\
        #BSUB -P late-directive\n";
    let out = run_in(&cluster, &work, "bsub", &[], script);
    let (stdout, stderr) = text(&out);
    let id = job_id(&stdout).unwrap_or_else(|| panic!("bsub < script: {stdout} {stderr}"));
    assert!(stdout.contains("queue <short>"), "{stdout}");
    cluster.wait_stat(id, "DONE", LIMIT);
    let output = wait_file(&work.join(format!("out.{id}")));
    assert_eq!(output, format!("job {id} in short on host1 host1\n"));
    assert_eq!(wait_file(&work.join(format!("err.{id}"))), "oops\n");
    let l = long(&cluster, id);
    assert!(
        l.contains("Job Name <scripted>") && l.contains("Project <late-directive>"),
        "{l}"
    );
    assert!(l.contains(" RUNLIMIT\n 10.0 min"), "{l}");
    assert!(
        l.contains("2 Processors Requested") && l.contains("Done successfully."),
        "{l}"
    );
    // The command line beats the script.
    let out = run_in(
        &cluster,
        &work,
        "bsub",
        &["-q", "normal", "-J", "mine"],
        script,
    );
    let id = job_id(&text(&out).0).expect("second submission");
    let l = long(&cluster, id);
    assert!(
        l.contains("Queue <normal>") && l.contains("Job Name <mine>"),
        "{l}"
    );
    // A script of directives only is refused, as in LSF.
    let out = run_in(&cluster, &work, "bsub", &[], "#BSUB -q short\n");
    assert!(!out.status.success());
    assert_eq!(
        text(&out).1,
        "bsub: No command is specified in the script file\n"
    );
}

#[test]
fn a_script_file_is_read_for_directives_only_when_the_site_says_so() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    std::fs::write(work.join("job.sh"), "#BSUB -J fromfile\necho ran\n").expect("script");
    let submit = |env: Option<&str>| {
        let mut cmd = Command::new(cluster_tests::bin_dir().join("bsub"));
        cmd.args(["-o", "o.%J", "./job.sh"])
            .env(conf::CONF_DIR_ENV, &cluster.dir)
            .current_dir(&work);
        if let Some(v) = env {
            cmd.env("LSB_BSUB_PARSE_SCRIPT", v);
        }
        let out = cmd.output().expect("bsub");
        job_id(&text(&out).0).expect("submitted")
    };
    std::fs::set_permissions(
        work.join("job.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let plain = submit(None);
    let parsed = submit(Some("Y"));
    for id in [plain, parsed] {
        cluster.wait_stat(id, "DONE", LIMIT);
        assert_eq!(wait_file(&work.join(format!("o.{id}"))), "ran\n");
    }
    assert!(!long(&cluster, plain).contains("fromfile"));
    assert!(long(&cluster, parsed).contains("Job Name <fromfile>"));
}

#[test]
fn an_array_named_in_j_runs_its_elements_at_most_l_at_a_time() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let gate = work.join("gate");
    let command = format!(
        "echo $LSB_JOBINDEX; while [ ! -e {} ]; do sleep 0.05; done",
        gate.display()
    );
    let out = run_in(
        &cluster,
        &work,
        "bsub",
        &["-J", "arr[1-4]%2", "-o", "out.%I", &command],
        "",
    );
    let id = job_id(&text(&out).0).expect("array submitted");
    // Two run; the others wait for the limit, not for room.
    let pending = wait_for(LIMIT, || {
        let p = cluster.stdout("bjobs", &["-p"])?;
        (p.matches("running element limit").count() == 2).then_some(p)
    });
    assert!(pending.is_some(), "{:?}", cluster.stdout("bjobs", &["-p"]));
    let running = cluster.stdout("bjobs", &["-r"]).unwrap_or_default();
    assert_eq!(
        running.lines().filter(|l| l.contains(" RUN ")).count(),
        2,
        "{running}"
    );
    std::fs::write(&gate, b"").expect("open the gate");
    for index in 1..=4 {
        assert_eq!(
            wait_file(&work.join(format!("out.{index}"))),
            format!("{index}\n")
        );
        cluster.wait_stat(id + index - 1, "DONE", LIMIT);
    }
}

#[test]
fn a_run_limit_stops_the_job_with_term_runlimit() {
    let cluster = TestCluster::up(1, TICK, None);
    // Warn, then INT, TERM and KILL a second apart (LSF: 10 min, 10 s).
    cluster.add_to_ll_conf("LL_RUNLIMIT_GRACE = 1");
    cluster.add_to_ll_conf("JOB_TERMINATE_INTERVAL = 1");
    // sbd reads the run-limit keys at start.
    cluster.kill_daemon(cluster.sbd_pid("host1"), "sbd");
    cluster.queue_keys("short", "RUNLIMIT = 1 5");
    let work = work_dir(&cluster);
    // Dies of the warning (SIGUSR2's default action).
    let plain = cluster.submit(&["-W", "1", "sleep", "600"]);
    // Ignores all but SIGKILL; the queue's default limit (1 min) applies.
    let stubborn = run_in(
        &cluster,
        &work,
        "bsub",
        &["-q", "short", "-o", "stubborn.out"],
        "trap 'echo warned' USR2\ntrap 'echo int' INT\ntrap 'echo term' TERM\nwhile :; do sleep 1; done\n",
    );
    let stubborn = job_id(&text(&stubborn).0).expect("stubborn submitted");
    let refused = cluster.run(
        "bsub",
        &[
            "-q".into(),
            "short".into(),
            "-W".into(),
            "6".into(),
            "true".into(),
        ],
    );
    assert_eq!(
        text(&refused).1,
        "Job not submitted: Invalid argument (run limit of 6 min is above queue short's RUNLIMIT of 5 min)\n"
    );
    for id in [plain, stubborn] {
        cluster.wait_stat(id, "EXIT", Duration::from_secs(100));
        let l = long(&cluster, id);
        assert!(
            l.contains("TERM_RUNLIMIT: job killed after reaching its run time limit"),
            "{l}"
        );
        assert!(l.contains(" RUNLIMIT\n 1.0 min"), "{l}");
        let hist = cluster
            .stdout("bhist", &["-l", &id.to_string()])
            .unwrap_or_default();
        assert!(hist.contains("TERM_RUNLIMIT"), "{hist}");
    }
    assert!(
        long(&cluster, plain).contains(&format!("Exited with exit code {}", 128 + libc::SIGUSR2))
    );
    assert!(long(&cluster, stubborn).contains("Exited with exit code 137"));
    let said = std::fs::read_to_string(work.join("stubborn.out")).unwrap_or_default();
    assert!(
        said.contains("warned") && said.contains("int") && said.contains("term"),
        "{said}"
    );
}

#[test]
fn bsub_k_waits_and_exits_with_the_jobs_exit_code() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let out = run_in(&cluster, &work, "bsub", &["-K", "exit 3"], "");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout} {stderr}");
    assert!(
        stdout.contains("<<Waiting for dispatch ...>>")
            && stdout.ends_with("<<Job is finished>>\n"),
        "{stdout}"
    );
    let out = run_in(&cluster, &work, "bsub", &["-K", "true"], "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn overwrite_outputs_and_a_cwd_pattern_as_lsf_spells_them() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    std::fs::write(work.join("o"), "old and longer\n").expect("old output");
    let out = run_in(
        &cluster,
        &work,
        "bsub",
        &["-oo", "o", "-cwd", "run.%J", "pwd"],
        "",
    );
    let id = job_id(&text(&out).0).expect("submitted");
    cluster.wait_stat(id, "DONE", LIMIT);
    // -oo's file is relative to the job's directory, made for it.
    let made = work.join(format!("run.{id}"));
    assert_eq!(wait_file(&made.join("o")), format!("{}\n", made.display()));
}

#[test]
fn bjobs_takes_several_ids_and_bstop_bresume_bswitch_act_on_jobs() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let gate = work.join("gate");
    let gated = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let running = cluster.submit(&[&gated]);
    let held = cluster.submit(&["-H", "true"]);
    cluster.wait_stat(running, "RUN", LIMIT);
    let both = cluster
        .stdout("bjobs", &[&running.to_string(), &held.to_string()])
        .unwrap_or_default();
    assert_eq!(both.lines().count(), 3, "{both}");
    let missing = cluster.run("bjobs", &[running.to_string(), "999999".into()]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing).1, "Job <999999> is not found\n");
    assert_eq!(text(&missing).0.lines().count(), 2);

    let stopped = cluster
        .stdout("bstop", &[&running.to_string()])
        .unwrap_or_default();
    assert_eq!(stopped, format!("Job <{running}> is being stopped\n"));
    cluster.wait_stat(running, "SUSP", LIMIT);
    let suspended = cluster.stdout("bjobs", &["-s"]).unwrap_or_default();
    assert!(
        suspended.contains(&format!("{running} ")) && !suspended.contains(&format!("{held} ")),
        "{suspended}"
    );
    let resumed = cluster
        .stdout("bresume", &[&running.to_string()])
        .unwrap_or_default();
    assert_eq!(resumed, format!("Job <{running}> is being resumed\n"));
    cluster.wait_stat(running, "RUN", LIMIT);

    let switched = cluster
        .stdout("bswitch", &["short", &held.to_string()])
        .unwrap_or_default();
    assert_eq!(
        switched,
        format!("Job <{held}> is switched to queue <short>\n")
    );
    assert!(long(&cluster, held).contains("Queue <short>"));
    std::fs::write(&gate, b"").expect("open the gate");
    cluster.wait_stat(running, "DONE", LIMIT);
}

/// A job that says it started, then waits for `gate` in `work`.
fn gated(work: &Path, gate: &str) -> String {
    format!(
        "echo started; while [ ! -e {} ]; do sleep 0.05; done; echo ended",
        work.join(gate).display()
    )
}

/// How many runs `bjobs -l` shows for the job.
fn runs(cluster: &TestCluster, id: u32) -> usize {
    long(cluster, id).matches("Dispatched to").count()
}

#[test]
fn brequeue_runs_a_job_again_with_its_id_and_bpeek_shows_its_output_so_far() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let id = cluster.submit(&[
        "-o",
        &work.join("out.%J").display().to_string(),
        &gated(&work, "gate"),
    ]);
    cluster.wait_stat(id, "RUN", LIMIT);
    let out = work.join(format!("out.{id}"));
    wait_file(&out);
    let peek = cluster
        .stdout("bpeek", &[&id.to_string()])
        .unwrap_or_default();
    assert!(
        peek.starts_with("<< output from stdout >>\nstarted\n"),
        "{peek}"
    );
    assert!(peek.contains("<< output from stderr >>"), "{peek}");

    let requeued = cluster
        .stdout("brequeue", &[&id.to_string()])
        .unwrap_or_default();
    assert_eq!(requeued, format!("Job <{id}> is being requeued\n"));
    wait_for(LIMIT, || (runs(&cluster, id) == 2).then_some(()))
        .unwrap_or_else(|| panic!("not run again:\n{}", long(&cluster, id)));
    cluster.wait_stat(id, "RUN", LIMIT);
    std::fs::write(work.join("gate"), b"").expect("open the gate");
    cluster.wait_stat(id, "DONE", LIMIT);
    let l = long(&cluster, id);
    assert!(l.contains("Requeue requested by "), "{l}");
    // A finished job needs its state named: -d for DONE.
    let refused = cluster.run("brequeue", &[id.to_string()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no job in a state to requeue"));
    cluster
        .stdout("brequeue", &["-d", "-H", &id.to_string()])
        .expect("brequeue -d -H");
    cluster.wait_stat(id, "HELD", LIMIT);
    cluster
        .stdout("bresume", &[&id.to_string()])
        .expect("bresume");
    cluster.wait_stat(id, "DONE", LIMIT);
    assert_eq!(runs(&cluster, id), 3);
    let not_started = cluster.run("bpeek", &["999999".into()]);
    assert_eq!(
        String::from_utf8_lossy(&not_started.stderr),
        "bpeek: Job <999999> is not found\n"
    );
}

#[test]
fn a_rerunnable_job_runs_again_when_its_host_lost_it_and_another_ends_lost() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let rerunnable = cluster.submit(&["-r", &gated(&work, "gate")]);
    let plain = cluster.submit(&[&gated(&work, "gate")]);
    cluster.wait_stat(rerunnable, "RUN", LIMIT);
    cluster.wait_stat(plain, "RUN", LIMIT);
    assert!(long(&cluster, rerunnable).contains("Re-runnable"));
    // The host loses everything: sbd, its jobs and its spool.
    cluster.kill_daemon(cluster.sbd_pid("host1"), "sbd");
    lavalite::kill_jobs(&cluster.dir);
    let spool = cluster.dir.join("state").join("sbd.host1");
    for entry in std::fs::read_dir(&spool).expect("spool").flatten() {
        let _ = std::fs::remove_dir_all(entry.path());
    }
    cluster.up_again();
    cluster.wait_stat(plain, "EXIT", LIMIT);
    assert!(long(&cluster, plain).contains("Lost: "));
    wait_for(LIMIT, || (runs(&cluster, rerunnable) == 2).then_some(()))
        .unwrap_or_else(|| panic!("not run again:\n{}", long(&cluster, rerunnable)));
    std::fs::write(work.join("gate"), b"").expect("open the gate");
    cluster.wait_stat(rerunnable, "DONE", LIMIT);
    let l = long(&cluster, rerunnable);
    assert!(l.contains("Requeued (rerunnable): "), "{l}");
}

#[test]
fn bmod_changes_a_waiting_job_and_the_change_survives_a_restart() {
    let cluster = TestCluster::up(1, TICK, None);
    let id = cluster.submit(&["-H", "-J", "before", "-W", "30", "true"]);
    let said = cluster
        .stdout(
            "bmod",
            &[
                "-q",
                "short",
                "-n",
                "2",
                "-Wn",
                "-J",
                "after",
                &id.to_string(),
            ],
        )
        .unwrap_or_default();
    assert_eq!(
        said,
        format!("Parameters of job <{id}> are being changed\n")
    );
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();
    let l =
        wait_for(LIMIT, || cluster.stdout("bjobs", &["-l", &id.to_string()])).unwrap_or_default();
    assert!(
        l.contains("Queue <short>") && l.contains("Job Name <after>"),
        "{l}"
    );
    assert!(
        l.contains("2 Processors Requested") && !l.contains("RUNLIMIT"),
        "{l}"
    );
    assert!(
        l.contains("Parameters changed: queue=short cpus=2 run_limit= name=after;"),
        "{l}"
    );
    let refused = cluster.run("bmod", &["-q".into(), "nosuch".into(), id.to_string()]);
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        format!("bmod: job <{id}>: unknown queue nosuch\n")
    );
    cluster
        .stdout("bresume", &[&id.to_string()])
        .expect("bresume");
    cluster.wait_stat(id, "DONE", LIMIT);
    let held = cluster.submit(&["-H", "true"]);
    let later = cluster.submit(&["-w", &format!("done({held})"), "true"]);
    cluster
        .stdout("bmod", &["-H", &later.to_string()])
        .expect("bmod -H");
    cluster.wait_stat(later, "HELD", LIMIT);
    let finished = cluster.run("bmod", &["-n".into(), "1".into(), id.to_string()]);
    assert!(
        String::from_utf8_lossy(&finished.stderr).contains("only waiting jobs can be modified"),
        "{finished:?}"
    );
}

#[test]
fn pre_exec_gates_the_job_and_post_exec_runs_after_it() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let flag = work.join("flag");
    // Fails the first time (and leaves the flag), passes the second.
    let pre = format!(
        "if [ -e {f} ]; then exit 0; else touch {f}; exit 1; fi",
        f = flag.display()
    );
    let post = format!(
        "echo post $LSB_JOBID >> {}",
        work.join("post.log").display()
    );
    let id = cluster.submit(&["-E", &pre, "-Ep", &post, "-o", "out.%J", "echo ran"]);
    cluster.wait_stat(id, "DONE", LIMIT);
    assert_eq!(wait_file(&cluster.dir.join(format!("out.{id}"))), "ran\n");
    assert_eq!(wait_file(&work.join("post.log")), format!("post {id}\n"));
    let l = long(&cluster, id);
    assert!(
        l.contains("Requeued: the pre-exec command exited 1: the job did not run;"),
        "{l}"
    );
    assert!(l.contains(&format!("Pre-execute Command <{pre}>")), "{l}");
    assert_eq!(runs(&cluster, id), 2);

    // 99: the job ends EXIT, never run; a failing post-exec is said on stderr.
    let never = work.join("never");
    let aborted = cluster.submit(&["-E", "exit 99", &format!("touch {}", never.display())]);
    let failing_post = cluster.submit(&["-Ep", "exit 3", "-e", "err.%J", "true"]);
    cluster.wait_stat(aborted, "EXIT", LIMIT);
    assert!(long(&cluster, aborted).contains("TERM_PRE_EXEC_FAIL: the pre-exec command exited 99"));
    assert!(!never.exists());
    cluster.wait_stat(failing_post, "DONE", LIMIT);
    assert_eq!(
        wait_file(&cluster.dir.join(format!("err.{failing_post}"))),
        "sbd: the post-exec command exited 3\n"
    );
}

#[test]
fn job_mail_goes_to_the_sites_mailer_and_without_one_bsub_warns() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let unmailed = cluster.run("bsub", &["-B".into(), "true".into()]);
    assert!(unmailed.status.success());
    assert_eq!(
        text(&unmailed).1,
        "bsub: mail not configured (no LSB_MAILPROG in ll.conf): this job's -B/-u/--notify-end send nothing\n"
    );
    // A sendmail-like mailer that files each message.
    let log = work.join("mail.log");
    let mailer = work.join("mailer");
    std::fs::write(
        &mailer,
        format!(
            "#!/bin/sh\n{{ echo \"TO $*\"; cat; echo .; }} >> {}\n",
            log.display()
        ),
    )
    .expect("mailer");
    std::fs::set_permissions(&mailer, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    cluster.add_to_ll_conf(&format!("LSB_MAILPROG = {}", mailer.display()));
    let out = cluster.run(
        "bsub",
        &[
            "-B",
            "--notify-end",
            "-u",
            "ann@example.org",
            "-J",
            "mailed",
            "exit 4",
        ]
        .map(String::from),
    );
    assert_eq!(text(&out).1, "", "no warning with a mailer");
    let id = job_id(&text(&out).0).expect("submitted");
    cluster.wait_stat(id, "EXIT", LIMIT);
    let mail = wait_for(LIMIT, || {
        let t = std::fs::read_to_string(&log).ok()?;
        (t.matches("TO ann@example.org").count() == 2).then_some(t)
    })
    .unwrap_or_else(|| panic!("mail: {:?}", std::fs::read_to_string(&log)));
    assert!(
        mail.contains(&format!("Subject: Job {id}: <mailed> started")),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "Subject: Job {id}: <mailed> Exited with exit code 4"
        )),
        "{mail}"
    );
}

#[test]
fn json_listings_carry_exit_codes_times_and_structured_events() {
    let cluster = TestCluster::up(1, TICK, None);
    let id = cluster.submit(&["exit 3"]);
    cluster.wait_stat(id, "EXIT", LIMIT);
    let rows: serde_json::Value = serde_json::from_str(
        &cluster
            .stdout("bjobs", &["-a", "-w", "--json"])
            .unwrap_or_default(),
    )
    .expect("bjobs --json");
    let row = &rows[0];
    assert_eq!(
        (row["id"].as_u64(), row["exit_code"].as_i64()),
        (Some(id as u64), Some(3))
    );
    let (start, end) = (row["start_time"].as_u64(), row["end_time"].as_u64());
    assert!(start.is_some() && end >= start, "{row}");
    let hist: serde_json::Value = serde_json::from_str(
        &cluster
            .stdout("bhist", &["--json", &id.to_string()])
            .unwrap_or_default(),
    )
    .expect("bhist --json");
    let kinds: Vec<&str> = (hist[0]["events"].as_array().expect("events").iter())
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds[..2], ["submitted", "dispatched"], "{hist}");
    let finished = (hist[0]["events"].as_array().expect("events").iter())
        .find(|e| e["kind"] == "finished")
        .expect("a finished event");
    assert_eq!(
        (finished["code"].as_i64(), finished["text"].as_str()),
        (Some(3), Some("EXIT"))
    );
}

#[test]
fn bsub_k_interrupted_kills_the_job_and_bpeek_f_follows_output_to_the_end() {
    let cluster = TestCluster::up(1, TICK, None);
    let work = work_dir(&cluster);
    let bsub = Command::new(cluster_tests::bin_dir().join("bsub"))
        .args(["-K", "-o", "waited.out", "sleep 600"])
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .current_dir(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bsub -K");
    let id = wait_for(LIMIT, || {
        let out = cluster.stdout("bjobs", &["-r"])?;
        out.lines()
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse::<u32>()
            .ok()
    })
    .expect("the waited-for job runs");
    os::process::signal(bsub.id(), libc::SIGINT).expect("Ctrl-C");
    let out = bsub.wait_with_output().expect("bsub ends");
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("job <{id}> is being terminated"))
    );
    cluster.wait_stat(id, "EXIT", LIMIT);

    // bpeek -f prints what comes until the job ends.
    let gate = work.join("gate");
    let followed = cluster.submit(&[
        "-o",
        &work.join("f.%J").display().to_string(),
        &format!(
            "echo first; while [ ! -e {} ]; do sleep 0.05; done; echo last",
            gate.display()
        ),
    ]);
    cluster.wait_stat(followed, "RUN", LIMIT);
    wait_file(&work.join(format!("f.{followed}")));
    let peek = Command::new(cluster_tests::bin_dir().join("bpeek"))
        .args(["-f", &followed.to_string()])
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("bpeek -f");
    std::fs::write(&gate, b"").expect("open the gate");
    let out = peek.wait_with_output().expect("bpeek -f ends with the job");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("<< output from stdout >>\nfirst\nlast\n"),
        "{text}"
    );
}
