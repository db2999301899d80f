//! Nobody acts as someone else through mbd's port: a signed request is
//! accepted once, on the connection it was signed for, never again (not
//! after mbd restarts either); an impostor holding mbd's port while mbd is
//! down cannot answer a command, and learns nothing it can replay.

use cluster_tests::{mbd_connect, wait_for, TestCluster};
use proto::auth::{encode_signed, AuthKey, Credentials};
use proto::mbd::{op, status, SubmitReply};
use proto::{Encode, Header};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(400);
const LIMIT: Duration = Duration::from_secs(20);

/// A held `true`, as root's bsub sends it, signed for `challenge`.
fn root_submit(key: &AuthKey, challenge: u64) -> Vec<u8> {
    let request = cluster_tests::held_true();
    let mut body = Vec::new();
    request.encode(&mut body);
    let creds = Credentials {
        uid: 0,
        gid: 0,
        user: "root".into(),
        timestamp: os::host::unix_now(),
        nonce: os::random::u64().expect("random bits"),
        challenge,
    };
    let mut frame = bytes::BytesMut::new();
    encode_signed(
        Header::request(1, op::SUBMIT, 0),
        &creds,
        &body,
        key,
        &mut frame,
    );
    frame.to_vec()
}

/// Sends `frame` to mbd on a new connection; the status of its answer.
fn replay(cluster: &TestCluster, frame: &[u8]) -> u32 {
    let (mut s, _) = mbd_connect(cluster.mbd_addr());
    s.write_all(frame).expect("send");
    let (header, _) = chan::blocking::read_frame(&mut s, 1 << 20).expect("an answer");
    header.status
}

/// Job ids `bjobs -a` lists.
fn job_ids(cluster: &TestCluster) -> Vec<String> {
    let out = cluster.stdout("bjobs", &["-a"]).unwrap_or_default();
    (out.lines().skip(1))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn a_request_is_accepted_once_and_not_again_after_mbd_restarts() {
    let cluster = TestCluster::up(1, TICK, None);
    let key = cluster.key();
    let (mut s, challenge) = mbd_connect(cluster.mbd_addr());
    let frame = root_submit(&key, challenge);
    s.write_all(&frame).expect("send");
    let (header, _) = chan::blocking::read_frame(&mut s, 1 << 20).expect("an answer");
    assert_eq!(
        header.status,
        status::OK,
        "the first time it is a submission"
    );
    assert_eq!(job_ids(&cluster), ["1"]);

    assert_eq!(replay(&cluster, &frame), status::AUTH, "replayed at once");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();
    assert_eq!(
        replay(&cluster, &frame),
        status::AUTH,
        "replayed after a restart"
    );
    assert_eq!(job_ids(&cluster), ["1"], "no second job");
    let log = cluster.mbd_log();
    assert!(log.contains("signed for another connection"), "{log}");
}

/// What an impostor on mbd's port collected: every frame sent to it.
struct Impostor {
    captured: Vec<Vec<u8>>,
}

/// Listens on `addr` until a SUBMIT arrives (or `LIMIT`), greeting each
/// connection as mbd does and answering the SUBMIT with a made-up job id.
fn impostor(listener: TcpListener) -> Impostor {
    listener.set_nonblocking(true).expect("non-blocking");
    let deadline = Instant::now() + LIMIT;
    let mut captured = Vec::new();
    while Instant::now() < deadline {
        let mut s = match listener.accept() {
            Ok((s, _)) => s,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut greeting = bytes::BytesMut::new();
        let hello = proto::mbd::Hello { challenge: 0x1234 };
        proto::encode_frame(Header::request(0, op::HELLO, 0), &hello, &mut greeting);
        let _ = s.write_all(&greeting);
        let Ok((header, body)) = chan::blocking::read_frame(&mut s, 8 << 20) else {
            continue;
        };
        let mut frame = header.to_bytes().to_vec();
        frame.extend_from_slice(&body);
        captured.push(frame);
        if header.operation == op::SUBMIT {
            let forged = SubmitReply {
                job_id: 424_242,
                queue: "normal".into(),
                elements: 0,
            };
            let mut out = bytes::BytesMut::new();
            proto::encode_frame(header.reply(status::OK, 0), &forged, &mut out);
            let _ = s.write_all(&out);
            let _ = s.read(&mut [0; 16]);
            break;
        }
    }
    Impostor { captured }
}

#[test]
fn an_impostor_on_mbds_port_cannot_answer_and_learns_nothing_it_can_replay() {
    let cluster = TestCluster::up(1, TICK, None);
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    let listener = wait_for(LIMIT, || TcpListener::bind(cluster.mbd_addr()).ok())
        .expect("take mbd's port while mbd is down");
    let fake = std::thread::spawn(move || impostor(listener));

    let out = cluster.run("bsub", &["--hold".into(), "true".into()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        !stdout.contains("Job <"),
        "a forged job id was believed: {stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let addr = cluster.mbd_addr().to_string();
    assert!(
        stderr.contains(&addr) && stderr.contains("not from this cluster's mbd"),
        "{stderr}"
    );
    let collected = fake.join().expect("the impostor");
    assert!(
        collected
            .captured
            .iter()
            .any(|f| f[4..8] == op::SUBMIT.to_be_bytes()),
        "bsub's request reached the impostor"
    );

    // The real mbd is back: nothing the impostor collected (bsub's
    // request, and sbd's registration if it reconnected meanwhile) is
    // accepted.
    cluster.up_again();
    for frame in &collected.captured {
        assert_eq!(replay(&cluster, frame), status::AUTH);
    }
    assert!(job_ids(&cluster).is_empty(), "{:?}", job_ids(&cluster));
    assert!(cluster.stdout("bqueues", &[]).is_some(), "mbd serves");
}

#[test]
fn a_connection_that_never_got_a_greeting_is_not_a_way_in() {
    // A client that skips the greeting and sends a frame signed for no
    // connection (challenge 0) is refused like any replay.
    let cluster = TestCluster::up(1, TICK, None);
    let key = cluster.key();
    let mut s = TcpStream::connect(cluster.mbd_addr()).expect("connect");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(&root_submit(&key, 0)).expect("send");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let hello = Header::parse(&got).expect("a greeting");
    let answer = Header::parse(&got[hello.frame_len()..]).expect("an answer");
    assert_eq!(answer.status, status::AUTH);
    assert!(job_ids(&cluster).is_empty());
}

const NOBODY: u32 = 65534;

/// [`TestCluster::run_as`] `NOBODY`.
fn as_nobody(cluster: &TestCluster, program: &str, args: &[&str]) -> std::process::Output {
    cluster.run_as(NOBODY, program, args)
}

/// Every file and directory below `dir` whose mode lets group or others in.
fn open_to_others(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let meta = std::fs::symlink_metadata(dir).expect("stat");
    if meta.permissions().mode() & 0o077 != 0 {
        found.push(format!("{} {:o}", dir.display(), meta.permissions().mode()));
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).expect("list").flatten() {
            found.extend(open_to_others(&entry.path()));
        }
    }
    found
}

#[test]
fn another_user_reads_no_environment_from_the_state_and_still_gets_their_history() {
    if os::users::effective_uid() != 0 {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let cluster = TestCluster::up(1, TICK, None);
    // Compact after 3 finished jobs, so the user's job ends up archived.
    cluster.add_to_ll_conf("LL_MBD_JOB_FINISH_THRESHOLD=3");
    cluster.kill_daemon(cluster.mbd_pid(), "mbd");
    cluster.up_again();

    let secret = "root-secret-5f3a9c";
    let mut bsub = std::process::Command::new(cluster_tests::bin_dir().join("bsub"));
    let out = (bsub.args(["-o", "/dev/null", "true"]))
        .env("MYSECRET", secret)
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .current_dir("/")
        .output()
        .expect("run bsub");
    let root_job = cluster_tests::job_id(&String::from_utf8_lossy(&out.stdout)).expect("a job");
    let out = as_nobody(&cluster, "bsub", &["--hold", "true"]);
    let theirs = cluster_tests::job_id(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|| panic!("bsub as nobody: {out:?}"));
    cluster.wait_stat(root_job, "DONE", LIMIT);
    let ours: Vec<u32> = (0..6)
        .map(|_| cluster.submit(&["--hold", "true"]))
        .collect();
    for id in std::iter::once(theirs).chain(ours) {
        cluster.stdout("bkill", &[&id.to_string()]).expect("bkill");
    }
    let state = cluster.dir.join("state");
    wait_for(LIMIT, || state.join("mbd/events.2").exists().then_some(()))
        .expect("two compactions archived the user's job");
    let gone = cluster.run("bjobs", &[theirs.to_string()]);
    assert!(!gone.status.success(), "mbd no longer holds job {theirs}");

    // The secret is on disk (or this test would prove nothing) ...
    let grep = |out: std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let state_arg = state.display().to_string();
    let as_root = std::process::Command::new("grep")
        .args(["-r", "-a", "-l", secret, &state_arg])
        .output()
        .expect("grep");
    assert!(!grep(as_root).is_empty(), "the secret is in mbd's files");
    // ... and no other user reads it, from any file under the state dir.
    let as_user = as_nobody(&cluster, "grep", &["-r", "-a", "-l", secret, &state_arg]);
    assert_eq!(grep(as_user), "", "another user read root's environment");
    for daemon_dir in ["mbd", "sbd.host1"] {
        let open = open_to_others(&state.join(daemon_dir));
        assert!(open.is_empty(), "readable by others: {open:?}");
    }

    // The user's own history, archived, is still theirs to see.
    let out = as_nobody(&cluster, "bhist", &[&theirs.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.starts_with(&format!("Job <{theirs}>")), "{text}");
    let out = as_nobody(&cluster, "bhist", &[&root_job.to_string()]);
    assert!(!out.status.success(), "root's job is not theirs: {out:?}");
    let all = as_nobody(&cluster, "bhist", &[]);
    let all = String::from_utf8_lossy(&all.stdout);
    let rows: Vec<&str> = all.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "only their own job: {all}");
}
