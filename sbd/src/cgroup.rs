//! Jobs in cgroup v2, as LavaLite's sbd runs them: each job gets its own
//! cgroup `LL_CGROUP_ROOT/job_<id>`, limited to its `--mem` (`memory.max`)
//! and CPU slots (`cpu.max`), frozen for STOP, killed whole for KILL and
//! when it ends (processes that left its process group included), and
//! read for its CPU time and peak memory.
//!
//! Everything here is a file in the cgroup filesystem; the parsing is
//! pure and unit-tested. Without a usable cgroup v2 tree (no cgroup2
//! mount at the path, not root, no delegation) sbd runs jobs as process
//! groups only and says so in its log.

use proto::sbd::{JobKey, Usage};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// LavaLite's default `LL_CGROUP_ROOT`.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup/lavalite";
/// `cpu.max`'s period, µs (the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;
/// The controllers a job cgroup is given when its parent has them.
const WANTED: [&str; 2] = ["memory", "cpu"];

/// `LL_CGROUP_ROOT`: unset (or empty) means LavaLite's default; `none`
/// turns cgroups off (ours).
pub fn configured_root(ll: &conf::LlConf) -> Option<PathBuf> {
    match ll.get("LL_CGROUP_ROOT") {
        None => Some(PathBuf::from(DEFAULT_ROOT)),
        Some(off) if off.eq_ignore_ascii_case("none") => None,
        Some(path) => Some(PathBuf::from(path)),
    }
}

#[derive(Debug)]
pub enum CgroupError {
    NotAbsolute(PathBuf),
    /// The path is not inside a cgroup v2 mount (`v2_mounts`: where
    /// cgroup2 is mounted, to suggest).
    NotCgroup2 {
        path: PathBuf,
        v2_mounts: Vec<PathBuf>,
    },
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A job cgroup that already holds processes (another run's).
    InUse(PathBuf),
}

impl fmt::Display for CgroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupError::NotAbsolute(p) => {
                write!(f, "LL_CGROUP_ROOT {} is not an absolute path", p.display())
            }
            CgroupError::NotCgroup2 { path, v2_mounts } => {
                write!(f, "{} is not in a cgroup v2 hierarchy", path.display())?;
                match v2_mounts.first() {
                    Some(m) => write!(
                        f,
                        " (cgroup2 is mounted at {}: set LL_CGROUP_ROOT below it)",
                        m.display()
                    ),
                    None => write!(f, " (no cgroup2 filesystem is mounted)"),
                }
            }
            CgroupError::Io { what, path, source } => {
                write!(f, "cannot {what} {}: {source}", path.display())
            }
            CgroupError::InUse(p) => write!(f, "{} already holds processes", p.display()),
        }
    }
}

impl std::error::Error for CgroupError {}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Which limits job cgroups can carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Controllers {
    pub memory: bool,
    pub cpu: bool,
}

impl Controllers {
    fn from_list(list: &str) -> Controllers {
        let has = |name| list.split_ascii_whitespace().any(|c| c == name);
        Controllers {
            memory: has("memory"),
            cpu: has("cpu"),
        }
    }
}

/// `LL_CGROUP_ROOT`, set up: the parent of every job cgroup.
#[derive(Debug)]
pub struct CgroupRoot {
    pub path: PathBuf,
    pub controllers: Controllers,
}

impl CgroupRoot {
    /// Creates `path` (and the cgroups above it, up to the cgroup2
    /// mount) and enables the memory and cpu controllers down to it,
    /// where the parents offer them.
    pub fn open(path: &Path) -> Result<CgroupRoot, CgroupError> {
        if !path.is_absolute() {
            return Err(CgroupError::NotAbsolute(path.to_owned()));
        }
        let info = fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
        let mount = match mount_of(&info, path) {
            Some(m) if m.fstype == "cgroup2" => m.point,
            _ => {
                return Err(CgroupError::NotCgroup2 {
                    path: path.to_owned(),
                    v2_mounts: cgroup2_mounts(&info),
                })
            }
        };
        let below = path.strip_prefix(&mount).unwrap_or(Path::new(""));
        let mut dir = mount;
        for part in below.components() {
            enable_controllers(&dir);
            dir.push(part);
            create_dir(&dir)?;
        }
        enable_controllers(&dir);
        let enabled = read(&dir, "cgroup.subtree_control").unwrap_or_default();
        Ok(CgroupRoot {
            controllers: Controllers::from_list(&enabled),
            path: dir,
        })
    }

    /// The cgroup of run `key`: `job_<id>` (LavaLite's name) for a first
    /// attempt, `job_<id>.<attempt>` for a later one, which may start
    /// while the earlier run's cgroup is still being removed.
    pub fn job(&self, key: JobKey) -> JobCgroup {
        let name = match key.attempt {
            0 | 1 => format!("job_{}", key.id),
            n => format!("job_{}.{n}", key.id),
        };
        JobCgroup {
            path: self.path.join(name),
        }
    }

    /// Creates the cgroup of run `key` with its limits (a limit the
    /// kernel refuses is logged, and the job runs without it).
    pub fn create_job(&self, key: JobKey, limits: Limits) -> Result<JobCgroup, CgroupError> {
        let job = self.job(key);
        create_dir(&job.path)?;
        if job.populated().unwrap_or(true) {
            return Err(CgroupError::InUse(job.path));
        }
        for (file, value) in limits.settings(self.controllers) {
            if let Err(e) = fs::write(job.path.join(file), &value) {
                log::warn!(
                    "job {}: cannot set {file} to {value} in {}: {e}; the job runs without that limit",
                    key.id,
                    job.path.display()
                );
            }
        }
        Ok(job)
    }

    /// Every job cgroup under the root (for `lavalite down`).
    pub fn jobs(&self) -> Vec<JobCgroup> {
        let Ok(entries) = fs::read_dir(&self.path) else {
            return Vec::new();
        };
        (entries.flatten())
            .filter(|e| e.file_name().to_string_lossy().starts_with("job_"))
            .map(|e| JobCgroup { path: e.path() })
            .collect()
    }
}

fn create_dir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_err("create", path)(e)),
        _ => Ok(()),
    }
}

fn read(dir: &Path, file: &str) -> io::Result<String> {
    fs::read_to_string(dir.join(file))
}

/// Turns on, for `dir`'s children, each wanted controller `dir` has.
/// One at a time: a controller the kernel refuses leaves the others on
/// (what ends up enabled is read back by the caller).
fn enable_controllers(dir: &Path) {
    let available = Controllers::from_list(&read(dir, "cgroup.controllers").unwrap_or_default());
    let enabled = Controllers::from_list(&read(dir, "cgroup.subtree_control").unwrap_or_default());
    for name in WANTED {
        let (has, on) = match name {
            "memory" => (available.memory, enabled.memory),
            _ => (available.cpu, enabled.cpu),
        };
        if has && !on {
            if let Err(e) = fs::write(dir.join("cgroup.subtree_control"), format!("+{name}")) {
                log::debug!("cannot enable {name} in {}: {e}", dir.display());
            }
        }
    }
}

/// What a job asks of its host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// `--mem`, MB (0: none).
    pub mem_mb: u64,
    /// CPU slots on this host (0: none).
    pub cpus: u32,
}

impl Limits {
    /// The control files to write and their values, for what the
    /// controllers allow.
    pub fn settings(&self, controllers: Controllers) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if controllers.memory && self.mem_mb > 0 {
            out.push(("memory.max", (self.mem_mb << 20).to_string()));
        }
        if controllers.cpu && self.cpus > 0 {
            let quota = u64::from(self.cpus) * CPU_PERIOD_US;
            out.push(("cpu.max", format!("{quota} {CPU_PERIOD_US}")));
        }
        out
    }
}

/// One run's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobCgroup {
    pub path: PathBuf,
}

/// What a job cgroup counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupUsage {
    pub user_usec: u64,
    pub system_usec: u64,
    /// `memory.peak`, bytes (kernels from 5.19 with the memory controller).
    pub memory_peak: Option<u64>,
}

impl CgroupUsage {
    /// `measured` (the job shell's `wait4`) with the cgroup's figures in
    /// place: they also count processes the shell did not wait for.
    pub fn over(self, measured: Usage) -> Usage {
        Usage {
            user_ms: self.user_usec / 1000,
            system_ms: self.system_usec / 1000,
            max_rss_kb: self.memory_peak.map_or(measured.max_rss_kb, |b| b / 1024),
        }
    }
}

impl JobCgroup {
    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    /// Moves the calling process (the job's runner, before it starts the
    /// job) into this cgroup: everything it starts then belongs to it.
    pub fn enter(&self) -> io::Result<()> {
        fs::write(
            self.path.join("cgroup.procs"),
            std::process::id().to_string(),
        )
    }

    /// Whether any process is in it.
    pub fn populated(&self) -> io::Result<bool> {
        let events = read(&self.path, "cgroup.events")?;
        Ok(event_flag(&events, "populated").unwrap_or(false))
    }

    pub fn set_frozen(&self, frozen: bool) -> io::Result<()> {
        fs::write(
            self.path.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
        )
    }

    pub fn frozen(&self) -> io::Result<bool> {
        let events = read(&self.path, "cgroup.events")?;
        Ok(event_flag(&events, "frozen").unwrap_or(false))
    }

    /// SIGKILL to every process in it. `cgroup.kill` (Linux 5.14) does it
    /// atomically; before that, each listed process is signalled.
    pub fn kill(&self) -> io::Result<()> {
        match fs::write(self.path.join("cgroup.kill"), "1") {
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.exists() => {
                for pid in read(&self.path, "cgroup.procs")?.lines() {
                    // 0 would be this process's own group.
                    match pid.trim().parse::<u32>() {
                        Ok(pid) if pid > 1 => {
                            let _ = os::process::signal(pid, libc::SIGKILL);
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            other => other,
        }
    }

    /// Processes the kernel killed at the job's `memory.max`.
    pub fn oom_kills(&self) -> u64 {
        let events = read(&self.path, "memory.events").unwrap_or_default();
        event_value(&events, "oom_kill").unwrap_or(0)
    }

    pub fn usage(&self) -> io::Result<CgroupUsage> {
        let mut usage = parse_cpu_stat(&read(&self.path, "cpu.stat")?);
        usage.memory_peak =
            (read(&self.path, "memory.peak").ok()).and_then(|text| text.trim().parse().ok());
        Ok(usage)
    }

    /// Removes it; fails while processes remain (they may be exiting).
    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_dir(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// `cpu.stat`'s CPU times (present without the cpu controller).
pub fn parse_cpu_stat(text: &str) -> CgroupUsage {
    let mut usage = CgroupUsage::default();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(key), Some(Ok(value))) = (words.next(), words.next().map(str::parse::<u64>))
        else {
            continue;
        };
        match key {
            "user_usec" => usage.user_usec = value,
            "system_usec" => usage.system_usec = value,
            _ => {}
        }
    }
    usage
}

/// A `key value` line of `cgroup.events` or `memory.events`.
pub fn event_value(events: &str, key: &str) -> Option<u64> {
    events.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// A `key 0|1` line of `cgroup.events`.
pub fn event_flag(events: &str, key: &str) -> Option<bool> {
    event_value(events, key).map(|v| v == 1)
}

/// A mount from `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
pub struct Mount<'a> {
    pub point: PathBuf,
    pub fstype: &'a str,
}

/// Every mount in a mountinfo text, in mount order.
fn mounts(mountinfo: &str) -> impl Iterator<Item = Mount<'_>> {
    mountinfo.lines().filter_map(|line| {
        let mut fields = line.split(' ');
        let point = fields.nth(4)?;
        // Optional fields end at a lone "-"; the type follows it.
        let fstype = fields.skip_while(|f| *f != "-").nth(1)?;
        Some(Mount {
            point: PathBuf::from(unescape(point)),
            fstype,
        })
    })
}

/// The mount `path` is on: the deepest mount point above it (the last
/// one mounted, when several share a point).
pub fn mount_of<'a>(mountinfo: &'a str, path: &Path) -> Option<Mount<'a>> {
    let mut best: Option<Mount<'a>> = None;
    for m in mounts(mountinfo).filter(|m| path.starts_with(&m.point)) {
        let deeper = best
            .as_ref()
            .is_none_or(|b| m.point.components().count() >= b.point.components().count());
        if deeper {
            best = Some(m);
        }
    }
    best
}

/// Where cgroup2 is mounted.
pub fn cgroup2_mounts(mountinfo: &str) -> Vec<PathBuf> {
    (mounts(mountinfo))
        .filter(|m| m.fstype == "cgroup2")
        .map(|m| m.point)
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This project's machine: cgroup v1 controllers with cgroup2 at
    /// /sys/fs/cgroup/unified (a "hybrid" layout).
    const HYBRID: &str = "\
22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
27 25 0:24 / /sys/fs/cgroup/unified rw,relatime shared:6 master:2 - cgroup2 cgroup2 rw
30 1 8:1 / /srv/my\\040data rw - ext4 /dev/sda1 rw
";
    const UNIFIED: &str = "\
22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn the_deepest_mount_above_a_path_is_the_one_it_is_on() {
        let on = |info, p: &str| mount_of(info, Path::new(p)).map(|m| m.fstype);
        assert_eq!(on(UNIFIED, "/sys/fs/cgroup/lavalite"), Some("cgroup2"));
        assert_eq!(on(HYBRID, "/sys/fs/cgroup/lavalite"), Some("tmpfs"));
        assert_eq!(
            on(HYBRID, "/sys/fs/cgroup/unified/lavalite"),
            Some("cgroup2")
        );
        assert_eq!(
            on(HYBRID, "/sys/fs/cgroup/unifiedx"),
            Some("tmpfs"),
            "whole components"
        );
        assert_eq!(
            on(HYBRID, "/srv/my data/x"),
            Some("ext4"),
            "\\040 is a space"
        );
        assert_eq!(on(HYBRID, "/home"), None);
        let later = format!("{UNIFIED}40 25 0:30 / /sys/fs/cgroup rw - tmpfs none rw\n");
        assert_eq!(
            on(&later, "/sys/fs/cgroup/x"),
            Some("tmpfs"),
            "the last mount wins"
        );
    }

    #[test]
    fn a_root_outside_cgroup2_is_refused_naming_where_cgroup2_is() {
        assert_eq!(
            cgroup2_mounts(HYBRID),
            [PathBuf::from("/sys/fs/cgroup/unified")]
        );
        let e = CgroupError::NotCgroup2 {
            path: DEFAULT_ROOT.into(),
            v2_mounts: cgroup2_mounts(HYBRID),
        };
        assert_eq!(
            e.to_string(),
            "/sys/fs/cgroup/lavalite is not in a cgroup v2 hierarchy \
             (cgroup2 is mounted at /sys/fs/cgroup/unified: set LL_CGROUP_ROOT below it)"
        );
        assert!(matches!(
            CgroupRoot::open(Path::new("lavalite")),
            Err(CgroupError::NotAbsolute(_))
        ));
    }

    #[test]
    fn limits_become_memory_max_in_bytes_and_cpu_max_per_slot() {
        let both = Controllers {
            memory: true,
            cpu: true,
        };
        let limits = Limits {
            mem_mb: 512,
            cpus: 2,
        };
        assert_eq!(
            limits.settings(both),
            [
                ("memory.max", "536870912".to_string()),
                ("cpu.max", "200000 100000".to_string())
            ]
        );
        assert_eq!(limits.settings(Controllers::default()), []);
        assert_eq!(Limits::default().settings(both), []);
    }

    #[test]
    fn cpu_stat_and_events_are_read_by_key() {
        let stat = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n";
        let usage = parse_cpu_stat(stat);
        assert_eq!((usage.user_usec, usage.system_usec), (1000, 500));
        let events = "populated 1\nfrozen 0\n";
        assert_eq!(event_flag(events, "populated"), Some(true));
        assert_eq!(event_flag(events, "frozen"), Some(false));
        assert_eq!(event_flag(events, "other"), None);
        let memory = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(event_value(memory, "oom_kill"), Some(2));
        assert_eq!(
            Controllers::from_list("cpuset cpu io memory\n"),
            Controllers {
                memory: true,
                cpu: true
            }
        );
        assert_eq!(Controllers::from_list("hugetlb"), Controllers::default());
    }

    #[test]
    fn cgroup_figures_replace_the_shells_and_keep_its_rss_without_memory_peak() {
        let measured = Usage {
            user_ms: 1,
            system_ms: 2,
            max_rss_kb: 300,
        };
        let cg = CgroupUsage {
            user_usec: 5_000_000,
            system_usec: 7_000,
            memory_peak: None,
        };
        assert_eq!(
            cg.over(measured),
            Usage {
                user_ms: 5000,
                system_ms: 7,
                max_rss_kb: 300
            }
        );
        let peak = CgroupUsage {
            memory_peak: Some(10 << 20),
            ..cg
        };
        assert_eq!(peak.over(measured).max_rss_kb, 10 << 10);
    }

    #[test]
    fn the_root_defaults_to_lavalites_and_none_turns_cgroups_off() {
        let root = |text| configured_root(&conf::LlConf::parse(text));
        assert_eq!(root(""), Some(PathBuf::from("/sys/fs/cgroup/lavalite")));
        assert_eq!(root("LL_CGROUP_ROOT = None"), None);
        assert_eq!(root("LL_CGROUP_ROOT=/cg/ll"), Some(PathBuf::from("/cg/ll")));
    }

    #[test]
    fn a_later_attempt_gets_its_own_cgroup() {
        let root = CgroupRoot {
            path: "/cg".into(),
            controllers: Controllers::default(),
        };
        let path = |id, attempt| root.job(JobKey { id, attempt }).path;
        assert_eq!(path(7, 1), Path::new("/cg/job_7"));
        assert_eq!(path(7, 2), Path::new("/cg/job_7.2"));
    }
}
