//! Hosts of their own: each simulated host in its own network and UTS
//! namespace (its own address, network stack and `hostname`), joined by
//! veth pairs to a bridge in a "switch" namespace of the cluster's own.
//! Addresses come from 198.18.0.0/15, a benchmarking range that is never
//! routed, and no namespace has a default route: nothing leaves them, and
//! the host's own network namespace is not touched. Cutting a host's
//! cable (`cut`) partitions it. Needs root and `ip` (iproute2) and
//! `unshare` (util-linux); [`NetnsCluster::available`] says why not.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Counts clusters made by this process (a tag each).
static MADE: AtomicU32 = AtomicU32::new(0);

/// A cluster whose hosts are network namespaces; torn down on drop.
pub struct NetnsCluster {
    pub dir: PathBuf,
    /// Prefix of its namespaces' and interfaces' names.
    tag: String,
    hosts: usize,
    /// Its addresses are 198.18.`subnet`.(10 + i).
    subnet: u8,
    daemons: Vec<(String, &'static str, Child)>,
}

/// The namespace tools, run with a checked status.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetnsCluster {
    /// Why namespaces cannot be made here, if they cannot.
    pub fn available() -> Result<(), String> {
        if os::users::effective_uid() != 0 {
            return Err("network namespaces need root".into());
        }
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let probe = format!("llprobe{}.{n}", std::process::id());
        ip(&["netns", "add", &probe])?;
        ip(&["netns", "del", &probe])?;
        let unshare = Command::new("unshare").arg("--version").output();
        unshare.map_err(|e| format!("cannot run unshare: {e}"))?;
        Ok(())
    }

    /// `hosts` hosts (`host1`..), lim on each, sbd on each, mbd on each
    /// of `masters` (`LL_MASTER_LIST`), lim ticking every `tick`.
    pub fn up(hosts: usize, masters: &[&str], tick: Duration) -> Result<NetnsCluster, String> {
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("ll{}{}", pid % 10_000, (b'a' + (n % 26) as u8) as char);
        let subnet = ((pid as usize * 7 + n as usize) % 250) as u8 + 1;
        let dir = std::env::temp_dir().join(format!("lavalite-netns-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cluster = NetnsCluster {
            dir,
            tag,
            hosts,
            subnet,
            daemons: Vec::new(),
        };
        cluster.configure(masters, tick)?;
        cluster.wire()?;
        for host in 1..=hosts {
            let name = format!("host{host}");
            cluster.start(&name, "lim")?;
            if masters.contains(&name.as_str()) {
                cluster.start(&name, "mbd")?;
            }
            cluster.start(&name, "sbd")?;
        }
        Ok(cluster)
    }

    fn configure(&self, masters: &[&str], tick: Duration) -> Result<(), String> {
        let config = lavalite::default_config::DefaultConfig {
            hosts: self.hosts,
            base_addr: Ipv4Addr::new(198, 18, self.subnet, 10),
            tick: tick.as_secs_f64(),
            heartbeat: tick.as_secs_f64(),
            ..Default::default()
        };
        let io = |e: std::io::Error| format!("{}: {e}", self.dir.display());
        config.write_if_absent(&self.dir).map_err(io)?;
        std::fs::create_dir_all(self.dir.join("log")).map_err(io)?;
        let path = self.dir.join("ll.conf");
        let mut ll = std::fs::read_to_string(&path).map_err(io)?;
        ll = ll.replace("LL_MBD_HOST = host1\n", "");
        // ip netns exec mounts a sysfs of the namespace's own, without
        // the cgroup2 mount: jobs run as process groups.
        ll = ll.replace("LL_CGROUP_ROOT = ", "# LL_CGROUP_ROOT = ");
        ll.push_str(&format!(
            "LL_MASTER_LIST = {}\nLSB_SHAREDIR = {}\nLL_CGROUP_ROOT = none\n",
            masters.join(" "),
            self.dir.join("shared").display()
        ));
        std::fs::write(&path, ll).map_err(io)
    }

    /// The switch, and a cable from it to each host.
    fn wire(&self) -> Result<(), String> {
        let sw = self.switch();
        ip(&["netns", "add", &sw])?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        for i in 1..=self.hosts {
            let ns = self.ns(i);
            let (inside, port) = (format!("{}v{i}", self.tag), format!("{}s{i}", self.tag));
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &inside, "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &sw,
            ])?;
            let addr = format!("{}/24", self.addr(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inside])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "link", "set", &inside, "up"])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
        }
        Ok(())
    }

    fn switch(&self) -> String {
        format!("{}sw", self.tag)
    }

    /// Host `i`'s (from 1) namespace.
    fn ns(&self, i: usize) -> String {
        format!("{}h{i}", self.tag)
    }

    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.subnet, 10 + i as u8)
    }

    fn index(host: &str) -> usize {
        host.trim_start_matches("host").parse().unwrap_or(0)
    }

    /// `program args` as host `host` would run it: in its namespace, with
    /// its host name.
    fn command(&self, host: &str, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(Self::index(host))])
            .args([
                "unshare",
                "--uts",
                "sh",
                "-c",
                "hostname \"$0\" && exec \"$@\"",
                host,
            ])
            .arg(program)
            .args(args)
            .env(conf::CONF_DIR_ENV, &self.dir)
            .current_dir(&self.dir);
        cmd
    }

    /// Starts `daemon` on `host`.
    pub fn start(&mut self, host: &str, daemon: &'static str) -> Result<(), String> {
        let program = crate::bin_dir().join(daemon);
        let dir = self.dir.display().to_string();
        // What a daemon says before its log is open goes beside it.
        let early = self.dir.join("log").join(format!("{daemon}.{host}.stderr"));
        let early = std::fs::File::create(&early)
            .map_err(|e| format!("cannot create {}: {e}", early.display()))?;
        let child = (self.command(host, &program, &["-c", &dir, "--host", host]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(early)
            .spawn()
            .map_err(|e| format!("cannot start {daemon} on {host}: {e}"))?;
        self.daemons.push((host.to_owned(), daemon, child));
        Ok(())
    }

    /// A workspace command run on `host`.
    pub fn run(&self, host: &str, bin: &str, args: &[&str]) -> Output {
        let program = crate::bin_dir().join(bin);
        (self.command(host, &program, args))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {bin} on {host}: {e}"))
    }

    /// A command's stdout on `host`, if it succeeded.
    pub fn stdout(&self, host: &str, bin: &str, args: &[&str]) -> Option<String> {
        let out = self.run(host, bin, args);
        (out.status.success()).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Unplugs (`up` false) or plugs back `host`'s cable.
    pub fn cable(&self, host: &str, up: bool) {
        let port = format!("{}s{}", self.tag, Self::index(host));
        let state = if up { "up" } else { "down" };
        if let Err(e) = ip(&["-n", &self.switch(), "link", "set", &port, state]) {
            panic!("cannot set {host}'s cable {state}: {e}");
        }
    }

    /// SIGKILL to every process of `host`: its daemons and its jobs
    /// (each job's runner leads the job's process group).
    pub fn kill_host(&mut self, host: &str) {
        for (_, _, child) in self.daemons.iter_mut().filter(|(h, _, _)| h == host) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.daemons.retain(|(h, _, _)| h != host);
        let spool = self.dir.join("state").join(format!("sbd.{host}"));
        let runs = std::fs::read_dir(spool).into_iter().flatten().flatten();
        for run in runs {
            let pid = std::fs::read_to_string(run.path().join("pid")).unwrap_or_default();
            if let Ok(pid) = pid.trim().parse::<u32>() {
                let _ = os::process::signal_group(pid, libc::SIGKILL);
            }
        }
    }

    /// A daemon's log so far.
    pub fn log(&self, daemon: &str, host: &str) -> String {
        let name = conf::logging::log_file_name(daemon, host);
        std::fs::read_to_string(self.dir.join("log").join(name)).unwrap_or_default()
    }

    /// The route table of host `host`'s namespace.
    pub fn routes(&self, host: &str) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.ns(Self::index(host)), "route"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        out.unwrap_or_default()
    }
}

impl Drop for NetnsCluster {
    fn drop(&mut self) {
        for (_, _, child) in &mut self.daemons {
            let _ = child.kill();
            let _ = child.wait();
        }
        lavalite::kill_jobs(&self.dir);
        for i in 1..=self.hosts {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.switch()]);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
