//! Reads this host's `/proc` files and /tmp's size for [`crate::load`].

use crate::load::{self, ProcText, SampleError, Sampler};
use proto::lim::{LoadVector, StaticInfo};
use std::fmt;
use std::path::Path;
use std::time::Instant;

/// A file needed for sampling could not be read or understood.
#[derive(Debug)]
pub enum ProbeError {
    Read {
        path: &'static str,
        source: std::io::Error,
    },
    Parse(SampleError),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Read { path, source } => write!(f, "cannot read {path}: {source}"),
            ProbeError::Parse(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ProbeError {}

fn read(path: &'static str) -> Result<String, ProbeError> {
    std::fs::read_to_string(path).map_err(|source| ProbeError::Read { path, source })
}

const MIB: f64 = (1u64 << 20) as f64;

/// Samples this host's load on demand.
#[derive(Debug)]
pub struct HostProbe {
    sampler: Sampler,
    started: Instant,
}

impl Default for HostProbe {
    fn default() -> Self {
        HostProbe {
            sampler: Sampler::default(),
            started: Instant::now(),
        }
    }
}

impl HostProbe {
    pub fn load(&mut self) -> Result<LoadVector, ProbeError> {
        let (loadavg, stat) = (read("/proc/loadavg")?, read("/proc/stat")?);
        let (vmstat, meminfo) = (read("/proc/vmstat")?, read("/proc/meminfo")?);
        let text = ProcText {
            loadavg: &loadavg,
            stat: &stat,
            vmstat: &vmstat,
            meminfo: &meminfo,
        };
        // A /tmp that cannot be measured reads as full, not as an error.
        let tmp_free = os::fs::space(Path::new("/tmp")).map_or(0.0, |s| s.available as f64 / MIB);
        let now = self.started.elapsed().as_secs();
        self.sampler
            .sample(now, &text, tmp_free)
            .map_err(ProbeError::Parse)
    }

    pub fn static_info() -> Result<StaticInfo, ProbeError> {
        let tmp_total = os::fs::space(Path::new("/tmp")).map_or(0, |s| s.total >> 20);
        // cpuinfo has no model name on some architectures: not an error.
        let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
        Ok(load::static_info(
            &read("/proc/stat")?,
            &read("/proc/meminfo")?,
            &cpuinfo,
            tmp_total,
            std::env::consts::ARCH,
        ))
    }
}
