//! Helpers for the cluster tests in `tests/`: a local cluster on its own
//! loopback subnet, started and stopped with the `lavalite` binary, and
//! the commands run as a user would run them.
//!
//! The binaries come from the workspace build: `cargo test --workspace`
//! builds the binaries of every package that has integration tests (`lim`,
//! `mbd` and `lavalite` do). A missing binary is a clear panic, not a hang.

use lavalite::DaemonSpec;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod chaos;
pub mod netns;

/// `target/<profile>`, where cargo puts the workspace's binaries.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test binary>, or target/<profile>/<binary>
    // for this crate's own binaries.
    let mut dir = exe.parent().expect("target dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bins = [
        "lavalite", "lim", "lsid", "lsload", "lshosts", "mbd", "bsub", "bjobs",
    ];
    for bin in bins
        .into_iter()
        .chain(["bkill", "bhist", "bqueues", "bhosts", "bmove", "bpriority"])
        .chain([
            "btokens",
            "bgroups",
            "lsclusterinfo",
            "lsadmin",
            "bacct",
            "badmin",
        ])
    {
        assert!(
            dir.join(bin).is_file(),
            "{} missing: run `cargo test --workspace` (or `cargo build --workspace`) so the binaries exist",
            dir.join(bin).display()
        );
    }
    dir
}

/// Polls `check` every 20 ms until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, check: impl FnMut() -> Option<T>) -> Option<T> {
    poll_every(Duration::from_millis(20), limit, check)
}

/// Polls `check` every `interval` until it returns `Some` or `limit`
/// passes (a longer interval for checks that load the daemons).
pub fn poll_every<T>(
    interval: Duration,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(interval);
    }
}

/// A 127.A.B.0/24 subnet no other test (thread or process) uses.
fn unique_subnet() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mix = (std::process::id().wrapping_mul(2_654_435_761) ^ nanos ^ n.wrapping_mul(40_503))
        % (254 * 256);
    // 127.1.0.0 - 127.254.255.0: never 127.0.x, which the README's cluster uses.
    Ipv4Addr::new(127, (mix / 256 + 1) as u8, (mix % 256) as u8, 10)
}

/// Sets the soft limit `resource` (`RLIMIT_NOFILE`, `RLIMIT_FSIZE`, ...) of
/// process `pid`; `None` raises it back to the hard limit. Through
/// python3's `resource.prlimit`, which CI machines have.
pub fn set_soft_limit(pid: u32, resource: &str, soft: Option<u64>) {
    let soft = soft.map_or_else(|| "h".to_owned(), |n| n.to_string());
    let script = format!(
        "import resource as r; h = r.prlimit({pid}, r.{resource})[1]; \
         r.prlimit({pid}, r.{resource}, ({soft}, h))"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Connects to mbd as a command does and reads its greeting: the stream,
/// and the challenge every frame sent on it must carry.
pub fn mbd_connect(addr: SocketAddr) -> (std::net::TcpStream, u64) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to mbd");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    let (header, body) = chan::blocking::read_frame(&mut stream, 64).expect("mbd's greeting");
    assert_eq!(header.operation, proto::mbd::op::HELLO, "not a greeting");
    let hello = <proto::mbd::Hello as proto::Decode>::from_body(&body).expect("a greeting");
    (stream, hello.challenge)
}

/// A held `true` submitted from `/`: a job that never runs.
pub fn held_true() -> proto::mbd::SubmitRequest {
    proto::mbd::SubmitRequest {
        command: "true".into(),
        cwd: "/".into(),
        cpus: 1,
        nhosts: 1,
        hold: true,
        ..Default::default()
    }
}

/// The id in `Job <N> is submitted to queue <Q>.`
pub fn job_id(out: &str) -> Option<u32> {
    out.strip_prefix("Job <")?.split('>').next()?.parse().ok()
}

/// A port free for TCP and UDP on `ip`.
fn free_port(ip: Ipv4Addr) -> u16 {
    loop {
        let tcp = TcpListener::bind((ip, 0)).expect("bind a loopback port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
}

/// A local cluster for one test; stopped and removed on drop.
pub struct TestCluster {
    pub dir: PathBuf,
    pub tick: Duration,
    pub base: Ipv4Addr,
    pub port: u16,
    /// The commands' directory.
    bins: PathBuf,
    /// Where `lavalite` (and so the daemons it starts) comes from.
    daemon_bins: PathBuf,
    /// Leave the directory in place when dropped (for a failed run).
    keep: AtomicBool,
}

impl TestCluster {
    /// Writes the default config for `hosts` hosts (plus `ll.auth.key` if
    /// `key` is given) and starts it with `lavalite up`.
    pub fn up(hosts: usize, tick: Duration, key: Option<&[u8]>) -> TestCluster {
        TestCluster::up_with(hosts, tick, key, &[])
    }

    /// [`TestCluster::up`] with more `lavalite up` options (`--heartbeat`).
    pub fn up_with(hosts: usize, tick: Duration, key: Option<&[u8]>, more: &[&str]) -> TestCluster {
        TestCluster::up_from(&bin_dir(), hosts, tick, key, more)
    }

    /// [`TestCluster::up_with`] with `lavalite`, `lim`, `mbd` and `sbd`
    /// from `daemon_bins` (the commands still from the build).
    pub fn up_from(
        daemon_bins: &Path,
        hosts: usize,
        tick: Duration,
        key: Option<&[u8]>,
        more: &[&str],
    ) -> TestCluster {
        let base = unique_subnet();
        let port = free_port(Ipv4Addr::from(u32::from(base) + 1));
        let dir =
            std::env::temp_dir().join(format!("lavalite-test-{}-{}", base, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster dir");
        if let Some(key) = key {
            std::fs::write(dir.join(conf::AUTH_KEY_FILE), key).expect("write the key");
        }
        let cluster = TestCluster {
            dir,
            tick,
            base,
            port,
            bins: bin_dir(),
            daemon_bins: daemon_bins.to_owned(),
            keep: AtomicBool::new(false),
        };
        let mut args = vec![
            "up".to_string(),
            "--dir".into(),
            cluster.dir.display().to_string(),
            "--hosts".into(),
            hosts.to_string(),
            "--base-addr".into(),
            base.to_string(),
            "--port".into(),
            port.to_string(),
            "--tick".into(),
            tick.as_secs_f64().to_string(),
        ];
        args.extend(more.iter().map(|a| a.to_string()));
        let out = cluster.run("lavalite", &args);
        assert!(
            out.status.success(),
            "lavalite up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    /// Keeps the cluster's directory (config, logs, event log) after the
    /// daemons are stopped on drop, as a panicking test does.
    pub fn keep_files(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    /// Runs one of the workspace's binaries against this cluster.
    pub fn run(&self, bin: &str, args: &[String]) -> Output {
        let dir = if bin == "lavalite" {
            &self.daemon_bins
        } else {
            &self.bins
        };
        // Jobs without -o / -e write stdout.<id> / stderr.<id> in the
        // submit directory: the cluster's own, removed with it.
        Command::new(dir.join(bin))
            .args(args)
            .current_dir(&self.dir)
            .env(conf::CONF_DIR_ENV, &self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"))
    }

    /// One of the workspace's commands (or `program` itself if it is not
    /// one) run against this cluster as uid and gid `id`, in `/`.
    pub fn run_as(&self, id: u32, program: &str, args: &[&str]) -> Output {
        use std::os::unix::process::CommandExt;
        let ours = self.bins.join(program);
        let path = if ours.is_file() { ours } else { program.into() };
        Command::new(path)
            .args(args)
            .env(conf::CONF_DIR_ENV, &self.dir)
            .current_dir("/")
            .uid(id)
            .gid(id)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} as {id}: {e}"))
    }

    /// A command's stdout if it succeeded.
    pub fn stdout(&self, bin: &str, args: &[&str]) -> Option<String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = self.run(bin, &args);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `lavalite up` again (restarts what is not running).
    pub fn up_again(&self) -> String {
        let out = self.run(
            "lavalite",
            &["up".into(), "--dir".into(), self.dir.display().to_string()],
        );
        assert!(
            out.status.success(),
            "lavalite up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `lavalite down` (stops the daemons, kills the jobs): its output.
    pub fn down(&self) -> Output {
        self.run(
            "lavalite",
            &[
                "down".into(),
                "--dir".into(),
                self.dir.display().to_string(),
            ],
        )
    }

    /// Host i's (from 1) lim address.
    pub fn lim_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::from(u32::from(self.base) + i as u32), self.port))
    }

    pub fn lim(&self, host: &str) -> DaemonSpec {
        DaemonSpec {
            daemon: "lim",
            host: host.to_owned(),
        }
    }

    /// The pid of a host's lim, from its pid file.
    pub fn lim_pid(&self, host: &str) -> u32 {
        self.lim(host)
            .running_pid(&self.dir)
            .unwrap_or_else(|| panic!("lim for {host} is not running"))
    }

    /// mbd's address (on host1, the port after lim's).
    pub fn mbd_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::from(u32::from(self.base) + 1), self.port + 1))
    }

    /// The pid of mbd, from its pid file.
    pub fn mbd_pid(&self) -> u32 {
        self.pid("mbd", "host1")
    }

    /// The pid of a host's sbd, from its pid file.
    pub fn sbd_pid(&self, host: &str) -> u32 {
        self.pid("sbd", host)
    }

    /// The pid of `daemon` for `host`, from its pid file.
    pub fn pid(&self, daemon: &'static str, host: &str) -> u32 {
        let spec = DaemonSpec {
            daemon,
            host: host.into(),
        };
        spec.running_pid(&self.dir)
            .unwrap_or_else(|| panic!("{daemon} for {host} is not running"))
    }

    /// SIGKILL, then waits until the process is gone.
    pub fn kill_daemon(&self, pid: u32, daemon: &str) {
        os::process::signal(pid, libc::SIGKILL).expect("kill -9");
        wait_for(Duration::from_secs(10), || {
            os::process::process_exited(pid).then_some(())
        })
        .unwrap_or_else(|| panic!("{daemon} {pid} survives SIGKILL"));
    }

    /// Every live process started on this cluster's directory (a daemon
    /// or a job runner): pid and command line.
    pub fn processes(&self) -> Vec<(u32, String)> {
        let dir = self.dir.display().to_string();
        let pids = std::fs::read_dir("/proc").expect("list /proc").flatten();
        pids.filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| Some((pid, os::process::live_process_args(pid)?)))
            .filter(|(_, args)| args.contains(&dir))
            .map(|(pid, args)| (pid, args.join(" ")))
            .collect()
    }

    /// The cluster key `lavalite up` wrote.
    pub fn key(&self) -> proto::auth::AuthKey {
        conf::ConfDir::new(&self.dir)
            .auth_key()
            .expect("read the key")
            .expect("lavalite up writes a key")
    }

    /// mbd's log so far.
    pub fn mbd_log(&self) -> String {
        self.log("mbd", "host1")
    }

    /// Appends `line` to the cluster's ll.conf (the commands read it on
    /// every run; daemons when they next start).
    pub fn add_to_ll_conf(&self, line: &str) {
        let path = self.dir.join("ll.conf");
        let mut text = std::fs::read_to_string(&path).expect("read ll.conf");
        text.push_str(line);
        text.push('\n');
        std::fs::write(&path, text).expect("write ll.conf");
    }

    /// Adds `lines` (`KEY = value`) to queue `queue`'s block of
    /// llb.queues and restarts mbd, which reads them at start.
    pub fn queue_keys(&self, queue: &str, lines: &str) {
        let path = self.dir.join("llb.queues");
        let text = std::fs::read_to_string(&path).expect("read llb.queues");
        let name = format!("QUEUE_NAME  = {queue}\n");
        assert!(text.contains(&name), "no queue {queue} in llb.queues");
        std::fs::write(&path, text.replacen(&name, &format!("{name}{lines}\n"), 1))
            .expect("write llb.queues");
        self.kill_daemon(self.mbd_pid(), "mbd");
        self.up_again();
    }

    /// A daemon's log so far.
    pub fn log(&self, daemon: &str, host: &str) -> String {
        let name = conf::logging::log_file_name(daemon, host);
        std::fs::read_to_string(self.dir.join("log").join(name)).unwrap_or_default()
    }

    /// `bsub ARGS`; the job id it printed.
    pub fn submit(&self, args: &[&str]) -> u32 {
        let out = self.stdout("bsub", args);
        out.as_deref()
            .and_then(job_id)
            .unwrap_or_else(|| panic!("bsub {args:?} printed {out:?}"))
    }

    /// STAT of `bjobs <id>` as the system tests read it:
    /// `awk 'NR==2 {print $3}'`.
    pub fn stat(&self, id: u32) -> Option<String> {
        let out = self.stdout("bjobs", &[&id.to_string()])?;
        Some(out.lines().nth(1)?.split_whitespace().nth(2)?.to_owned())
    }

    /// Waits until job `id` shows `want`; panics with what it showed, at
    /// once if it finished otherwise (DONE and EXIT are final).
    pub fn wait_stat(&self, id: u32, want: &str, limit: Duration) {
        let mut last = None;
        let shown = wait_for(limit, || {
            last = self.stat(id);
            let finished = matches!(last.as_deref(), Some("DONE" | "EXIT"));
            (last.as_deref() == Some(want) || finished).then_some(())
        });
        if shown.is_none() || last.as_deref() != Some(want) {
            panic!(
                "job {id} shows {last:?} (waited at most {limit:?}), wanted {want}\n{}",
                self.stdout("bhist", &[&id.to_string()]).unwrap_or_default()
            )
        }
    }

    /// The master `lsid` names, if it answers with one.
    pub fn master(&self) -> Option<String> {
        let out = self.stdout("lsid", &[])?;
        out.lines()
            .find_map(|l| l.strip_prefix("My master name is "))
            .map(str::to_owned)
    }

    /// `lsload`'s (host, status) pairs, if it answers.
    pub fn statuses(&self) -> Option<Vec<(String, String)>> {
        let out = self.stdout("lsload", &[])?;
        Some(
            out.lines()
                .skip(1)
                .filter_map(|l| {
                    let mut f = l.split_whitespace();
                    Some((f.next()?.to_owned(), f.next()?.to_owned()))
                })
                .collect(),
        )
    }

    /// Waits until lsload shows exactly `expected` (host, status) rows.
    pub fn wait_statuses(&self, expected: &[(&str, &str)], limit: Duration) -> Result<(), String> {
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(h, s)| (h.to_string(), s.to_string()))
            .collect();
        let mut last = None;
        wait_for(limit, || {
            last = self.statuses();
            (last.as_ref() == Some(&want)).then_some(())
        })
        .ok_or_else(|| format!("after {limit:?} lsload shows {last:?}, wanted {want:?}"))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = lavalite::down(&self.dir, Duration::from_secs(5));
        lavalite::kill_jobs(&self.dir);
        if !std::thread::panicking() && !self.keep.load(Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
