//! Users who cannot read the cluster key: their commands have the local
//! lim sign their requests, as whoever the kernel says they are — so the
//! key can stay readable by root only and nobody can claim another uid.

use cluster_tests::{wait_for, TestCluster};
use lim::sign::{sign_locally, SignError};
use mbd::client::BatchClient;
use mbd::settings::Signing;
use proto::lim::SignRequest;
use proto::mbd::{op, SubmitReply};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);
const LIMIT: Duration = Duration::from_secs(20);

fn state_dir(cluster: &TestCluster) -> PathBuf {
    let ll = conf::ConfDir::new(&cluster.dir).ll_conf().expect("ll.conf");
    PathBuf::from(ll.get("LL_STATE_DIR").expect("LL_STATE_DIR is set"))
}

/// USER of job `id` in `bjobs`.
fn owner(cluster: &TestCluster, id: u32) -> Option<String> {
    let out = cluster.stdout("bjobs", &[&id.to_string()])?;
    let row = out.lines().nth(1)?;
    row.split_whitespace().nth(1).map(str::to_owned)
}

#[test]
fn requests_signed_by_the_local_lim_carry_the_kernels_identity() {
    let cluster = TestCluster::up(1, TICK, None);
    let state = state_dir(&cluster);
    let socket = lim::sign::socket_path(&state, "host1");
    wait_for(LIMIT, || socket.exists().then_some(()))
        .unwrap_or_else(|| panic!("{} never appeared", socket.display()));
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o666,
        "every local user must be able to connect"
    );

    // A command that signs through lim (this machine is not "host1": the
    // socket is found by scanning the state directory).
    let mut client = BatchClient::for_dir(&conf::ConfDir::new(&cluster.dir)).unwrap();
    client.signing = Signing::LocalLim {
        state_dir: state.clone(),
        host: "elsewhere".into(),
    };
    let request = cluster_tests::held_true();
    let reply: SubmitReply = client.call(op::SUBMIT, &request).expect("submit via lim");
    let me = os::users::name_of(os::users::ids().0);
    assert_eq!(owner(&cluster, reply.job_id).as_deref(), Some(me.as_str()));

    // sbd's and lim's own messages are never signed for a user.
    let register = SignRequest {
        sequence: 1,
        operation: proto::sbd::op::REGISTER,
        ..SignRequest::default()
    };
    match sign_locally(&state, "host1", &register, Duration::from_secs(5)) {
        Err(SignError::Refused(why)) => assert!(why.contains("not a batch command"), "{why}"),
        other => panic!("REGISTER signed or not refused: {other:?}"),
    }
    // Nor anything whose low bits only look like a batch request's.
    for operation in [0xFFFF_0200, 0x0001_0200] {
        let wide = SignRequest {
            operation,
            ..register.clone()
        };
        match sign_locally(&state, "host1", &wide, Duration::from_secs(5)) {
            Err(SignError::Refused(why)) => assert!(why.contains("not a batch command"), "{why}"),
            other => panic!("{operation:#x} signed or not refused: {other:?}"),
        }
    }

    // Garbage on the socket closes that connection; lim keeps signing.
    let mut junk = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    junk.set_read_timeout(Some(LIMIT)).unwrap();
    junk.write_all(&[0xff; 64]).unwrap();
    let mut rest = Vec::new();
    let _ = junk.read_to_end(&mut rest);
    let again: SubmitReply = client.call(op::SUBMIT, &request).expect("lim still signs");
    assert!(again.job_id > reply.job_id);

    cluster.down();
    assert!(!socket.exists(), "lim left its socket behind at SIGTERM");
}

#[test]
fn a_user_who_cannot_read_the_key_submits_as_themselves() {
    if os::users::effective_uid() != 0 {
        eprintln!("skipped: needs root to run bsub as another user");
        return;
    }
    // `lavalite up` writes the key with mode 0600: root's alone.
    let cluster = TestCluster::up(1, TICK, None);
    let socket = lim::sign::socket_path(&state_dir(&cluster), "host1");
    wait_for(LIMIT, || socket.exists().then_some(()))
        .unwrap_or_else(|| panic!("{} never appeared", socket.display()));
    let nobody = 65534;
    let out = Command::new(cluster_tests::bin_dir().join("bsub"))
        .args(["--hold", "true"])
        .env(conf::CONF_DIR_ENV, &cluster.dir)
        .current_dir("/")
        .uid(nobody)
        .gid(nobody)
        .output()
        .expect("run bsub");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bsub as uid {nobody} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let id = cluster_tests::job_id(&stdout).expect("a job id");
    assert_eq!(owner(&cluster, id), Some(os::users::name_of(nobody)));
    cluster.down();
}
