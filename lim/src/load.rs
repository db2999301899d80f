//! Load indices and static host facts computed from `/proc` text.
//!
//! Pure: the daemon reads the files and passes their text and the time in,
//! so every rule here is unit-tested on fixed inputs.

use proto::lim::{LoadVector, StaticInfo};
use std::fmt;

/// A file's text did not have the field a load index needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleError {
    pub file: &'static str,
    pub field: &'static str,
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: no usable {}", self.file, self.field)
    }
}

impl std::error::Error for SampleError {}

/// The text of the `/proc` files one sample reads.
#[derive(Clone, Copy, Debug)]
pub struct ProcText<'a> {
    pub loadavg: &'a str,
    pub stat: &'a str,
    pub vmstat: &'a str,
    pub meminfo: &'a str,
}

/// Cumulative kernel counters kept between samples for the rate indices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counters {
    cpu_total: u64,
    cpu_idle: u64,
    swapped_pages: u64,
    paged_kib: u64,
}

/// Turns successive `/proc` readings into load vectors.
#[derive(Debug, Default)]
pub struct Sampler {
    previous: Option<(u64, Counters)>,
}

impl Sampler {
    /// The load now. `now_secs` is a monotonic clock in whole seconds;
    /// `tmp_free_mb` is the free space in /tmp. Rates (ut, pg, io) are 0
    /// on the first sample.
    pub fn sample(
        &mut self,
        now_secs: u64,
        text: &ProcText<'_>,
        tmp_free_mb: f64,
    ) -> Result<LoadVector, SampleError> {
        let (running, r1m, r15m) = parse_loadavg(text.loadavg)?;
        let (cpu_total, cpu_idle) = parse_cpu(text.stat)?;
        let vm = |field| kernel_value(text.vmstat, field, "/proc/vmstat");
        let counters = Counters {
            cpu_total,
            cpu_idle,
            swapped_pages: vm("pswpin")? + vm("pswpout")?,
            paged_kib: vm("pgpgin")? + vm("pgpgout")?,
        };
        let mem = |field| kernel_value(text.meminfo, field, "/proc/meminfo");
        let available_kib = match mem("MemAvailable") {
            Ok(kib) => kib,
            Err(_) => mem("MemFree")? + mem("Buffers")? + mem("Cached")?,
        };
        let mut load = LoadVector::default();
        load.0[LoadVector::R15S] = running;
        load.0[LoadVector::R1M] = r1m;
        load.0[LoadVector::R15M] = r15m;
        load.0[LoadVector::TMP] = tmp_free_mb;
        load.0[LoadVector::SWP] = mem("SwapFree")? as f64 / 1024.0;
        load.0[LoadVector::MEM] = available_kib as f64 / 1024.0;
        if let Some((then, before)) = self.previous {
            let dt = now_secs.saturating_sub(then).max(1) as f64;
            let total = counters.cpu_total.saturating_sub(before.cpu_total);
            let idle = counters.cpu_idle.saturating_sub(before.cpu_idle);
            if total > 0 {
                load.0[LoadVector::UT] = 100.0 * total.saturating_sub(idle) as f64 / total as f64;
            }
            load.0[LoadVector::PG] =
                counters.swapped_pages.saturating_sub(before.swapped_pages) as f64 / dt;
            load.0[LoadVector::IO] =
                counters.paged_kib.saturating_sub(before.paged_kib) as f64 / dt;
        }
        self.previous = Some((now_secs, counters));
        Ok(load)
    }
}

/// (running tasks, 1-minute load, 15-minute load) from `/proc/loadavg`.
fn parse_loadavg(text: &str) -> Result<(f64, f64, f64), SampleError> {
    let err = |field| SampleError {
        file: "/proc/loadavg",
        field,
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let number = |i: usize, name| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or(err(name))
    };
    let running = fields
        .get(3)
        .and_then(|f| f.split_once('/'))
        .and_then(|(n, _)| n.parse::<f64>().ok())
        .ok_or(err("running/total"))?;
    Ok((
        running,
        number(0, "1-minute load")?,
        number(2, "15-minute load")?,
    ))
}

/// (total, idle) jiffies from the `cpu` line of `/proc/stat`.
fn parse_cpu(stat: &str) -> Result<(u64, u64), SampleError> {
    let err = SampleError {
        file: "/proc/stat",
        field: "cpu line",
    };
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or(err.clone())?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().map_err(|_| err.clone()))
        .collect::<Result<_, _>>()?;
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user and nice).
    if v.len() < 8 {
        return Err(err);
    }
    let idle = v[3] + v[4];
    Ok((v[..8].iter().sum(), idle))
}

/// The number after `field` in a `name value [kB]` file.
fn kernel_value(text: &str, field: &'static str, file: &'static str) -> Result<u64, SampleError> {
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?.trim_end_matches(':');
            (name == field).then(|| words.next()?.parse().ok())?
        })
        .ok_or(SampleError { file, field })
}

/// Online CPUs: the `cpuN` lines of `/proc/stat`.
fn online_cpus(stat: &str) -> u32 {
    let n = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// What lshosts shows: from `/proc/stat`, `/proc/meminfo`, `/proc/cpuinfo`,
/// the size of /tmp and the machine type (`uname -m`).
pub fn static_info(
    stat: &str,
    meminfo: &str,
    cpuinfo: &str,
    tmp_total_mb: u64,
    host_type: &str,
) -> StaticInfo {
    let mb = |field| kernel_value(meminfo, field, "/proc/meminfo").unwrap_or(0) / 1024;
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim());
    StaticInfo {
        ncpus: online_cpus(stat),
        maxmem_mb: mb("MemTotal"),
        maxswp_mb: mb("SwapTotal"),
        maxtmp_mb: tmp_total_mb,
        host_type: host_type.to_owned(),
        model: model.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_1: &str = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\n\
                          cpu1 50 0 50 350 50 0 0 0 0 0\nintr 5\n";
    const STAT_2: &str = "cpu  250 0 150 1000 200 0 0 0 0 0\n";
    const MEMINFO: &str = "MemTotal:  65536000 kB\nMemFree: 1024 kB\nMemAvailable: 2097152 kB\n\
                           Buffers: 0 kB\nCached: 0 kB\nSwapTotal: 8388608 kB\nSwapFree: 1048576 kB\n";

    fn text<'a>(stat: &'a str, vmstat: &'a str) -> ProcText<'a> {
        ProcText {
            loadavg: "0.50 0.40 0.30 3/456 789\n",
            stat,
            vmstat,
            meminfo: MEMINFO,
        }
    }

    #[test]
    fn first_sample_has_levels_and_zero_rates() {
        let vm = "pgpgin 1000\npgpgout 1000\npswpin 10\npswpout 10\n";
        let load = Sampler::default()
            .sample(100, &text(STAT_1, vm), 40_960.0)
            .unwrap();
        let v = load.0;
        assert_eq!(
            (v[LoadVector::R15S], v[LoadVector::R1M], v[LoadVector::R15M]),
            (3.0, 0.5, 0.3)
        );
        assert_eq!(
            (v[LoadVector::UT], v[LoadVector::PG], v[LoadVector::IO]),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(
            (v[LoadVector::MEM], v[LoadVector::SWP], v[LoadVector::TMP]),
            (2048.0, 1024.0, 40_960.0)
        );
        assert_eq!((v[LoadVector::LS], v[LoadVector::IT]), (0.0, 0.0));
    }

    #[test]
    fn rates_come_from_deltas_over_whole_seconds() {
        let mut s = Sampler::default();
        s.sample(
            100,
            &text(STAT_1, "pgpgin 1000\npgpgout 1000\npswpin 10\npswpout 10\n"),
            0.0,
        )
        .unwrap();
        let load = s
            .sample(
                105,
                &text(STAT_2, "pgpgin 1500\npgpgout 1500\npswpin 20\npswpout 25\n"),
                0.0,
            )
            .unwrap();
        // total 1000 -> 1600 (+600), idle 800 -> 1200 (+400): 200/600 busy.
        assert!((load.0[LoadVector::UT] - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(load.0[LoadVector::PG], 25.0 / 5.0);
        assert_eq!(load.0[LoadVector::IO], 1000.0 / 5.0);
        // A clock that did not move counts as one second.
        let again = s
            .sample(
                105,
                &text(STAT_2, "pgpgin 1600\npgpgout 1500\npswpin 20\npswpout 25\n"),
                0.0,
            )
            .unwrap();
        assert_eq!(again.0[LoadVector::IO], 100.0);
    }

    #[test]
    fn memory_falls_back_without_memavailable_and_bad_text_is_an_error() {
        let old_kernel = "MemFree: 1024 kB\nBuffers: 1024 kB\nCached: 2048 kB\nSwapFree: 0 kB\n";
        let t = ProcText {
            meminfo: old_kernel,
            ..text(STAT_1, "pgpgin 0\npgpgout 0\npswpin 0\npswpout 0\n")
        };
        assert_eq!(
            Sampler::default().sample(1, &t, 0.0).unwrap().0[LoadVector::MEM],
            4.0
        );
        let broken = ProcText {
            loadavg: "garbage",
            ..t
        };
        let err = Sampler::default().sample(1, &broken, 0.0).unwrap_err();
        assert_eq!(err.file, "/proc/loadavg");
        let no_vm = ProcText { vmstat: "", ..t };
        assert!(Sampler::default()
            .sample(1, &no_vm, 0.0)
            .unwrap_err()
            .to_string()
            .contains("pswpin"));
    }

    #[test]
    fn static_info_counts_online_cpus_and_reads_sizes() {
        let info = static_info(
            STAT_1,
            MEMINFO,
            "processor : 0\nmodel name\t: Test CPU 9000\n",
            40_000,
            "x86_64",
        );
        assert_eq!(info.ncpus, 2);
        assert_eq!(
            (info.maxmem_mb, info.maxswp_mb, info.maxtmp_mb),
            (64_000, 8192, 40_000)
        );
        assert_eq!(
            (info.host_type.as_str(), info.model.as_str()),
            ("x86_64", "Test CPU 9000")
        );
    }
}
