//! Workloads for the simulated cluster: a seeded mix that looks like a
//! real cluster's (several users and queues, 1-64 CPU jobs, arrays, some
//! dependencies, run times from seconds to hours), or a trace in the
//! Standard Workload Format (SWF) of the Parallel Workloads Archive.
//!
//! A job "runs" `sleep N`: a simulated sbd takes N seconds (compressed by
//! its time factor) without forking; a real sbd would run it too.

use proto::mbd::{ArraySpec, SubmitRequest};

/// One submission of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    /// Seconds after the workload's start (before compression).
    pub submit_at: u64,
    pub user: String,
    pub queue: String,
    pub cpus: u32,
    pub run_secs: u64,
    /// Elements of an array (0: a plain job).
    pub array: u32,
    /// Runs after this earlier spec's job is done (its index).
    pub after: Option<usize>,
}

impl JobSpec {
    /// Jobs this submission makes (an array's elements each count).
    pub fn jobs(&self) -> u32 {
        self.array.max(1)
    }

    /// The request to submit, given the first job id of each earlier spec
    /// (for a dependency).
    pub fn request(&self, first_ids: &[u32]) -> SubmitRequest {
        let dependency = (self.after)
            .and_then(|i| first_ids.get(i))
            .map_or_else(String::new, |id| format!("done({id})"));
        SubmitRequest {
            command: format!("sleep {}", self.run_secs),
            queue: self.queue.clone(),
            cpus: self.cpus,
            nhosts: 1,
            cwd: "/tmp".into(),
            stdout: "/dev/null".into(),
            stderr: "/dev/null".into(),
            dependency,
            array: if self.array > 0 {
                ArraySpec {
                    start: 1,
                    end: self.array,
                    step: 1,
                }
            } else {
                ArraySpec::default()
            },
            ..SubmitRequest::default()
        }
    }
}

/// The shape of a generated workload.
#[derive(Clone, Debug)]
pub struct Mix {
    pub seed: u64,
    /// Submissions (an array is one).
    pub submissions: usize,
    pub users: Vec<String>,
    pub queues: Vec<String>,
    /// Largest CPU count of a job (a host's slots).
    pub max_cpus: u32,
    /// Seconds over which submissions arrive.
    pub over_secs: u64,
    /// Longest run time, seconds (the shortest is 1).
    pub max_run_secs: u64,
}

/// A workload from `mix`: the same seed gives the same workload.
pub fn generate(mix: &Mix) -> Vec<JobSpec> {
    let mut rng = SplitMix(mix.seed);
    let mut specs: Vec<JobSpec> = Vec::with_capacity(mix.submissions);
    for i in 0..mix.submissions {
        let pick =
            |rng: &mut SplitMix, of: &[String]| of[rng.below(of.len() as u64) as usize].clone();
        // Most jobs are small: CPUs 2^k with k skewed low.
        let max_log = 31 - mix.max_cpus.max(1).leading_zeros();
        let k = rng
            .below(u64::from(max_log) + 1)
            .min(rng.below(u64::from(max_log) + 1));
        let cpus = (1u32 << k).min(mix.max_cpus.max(1));
        // Run times spread evenly in log scale, seconds to hours.
        let span = (mix.max_run_secs.max(1) as f64).ln();
        let run_secs = (rng.unit() * span).exp().round().max(1.0) as u64;
        let array = if rng.below(10) == 0 {
            1 + rng.below(100) as u32
        } else {
            0
        };
        let after = (i > 0 && rng.below(20) == 0).then(|| rng.below(i as u64) as usize);
        specs.push(JobSpec {
            submit_at: mix.over_secs * i as u64 / mix.submissions.max(1) as u64,
            user: pick(&mut rng, &mix.users),
            queue: pick(&mut rng, &mix.queues),
            cpus,
            run_secs,
            array,
            after,
        });
    }
    specs
}

/// A trace in the Standard Workload Format: one job per line, 18
/// whitespace-separated fields, `;` comments. Used here: submit time (2),
/// run time (4), allocated processors (5, else requested: 8), user (12),
/// queue (15) and preceding job (17). Jobs with no run time or no
/// processors (cancelled before they ran) are left out; CPUs are capped
/// at `max_cpus`, queues taken modulo `queues`.
pub fn parse_swf(text: &str, queues: &[String], max_cpus: u32) -> Result<Vec<JobSpec>, String> {
    let mut specs = Vec::new();
    let mut index_of = std::collections::HashMap::new();
    let mut start = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let fields: Vec<i64> = (line.split_whitespace())
            .map(|f| f.parse::<f64>().map(|v| v as i64))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        if fields.len() < 18 {
            return Err(format!(
                "line {}: {} fields, SWF has 18",
                n + 1,
                fields.len()
            ));
        }
        let procs = if fields[4] > 0 { fields[4] } else { fields[7] };
        if fields[3] <= 0 || procs <= 0 || queues.is_empty() {
            continue;
        }
        let submit = fields[1].max(0) as u64;
        let first = *start.get_or_insert(submit);
        index_of.insert(fields[0], specs.len());
        specs.push(JobSpec {
            submit_at: submit.saturating_sub(first),
            user: format!("u{}", fields[11].max(0)),
            queue: queues[fields[14].max(0) as usize % queues.len()].clone(),
            cpus: (procs as u64).min(u64::from(max_cpus.max(1))) as u32,
            run_secs: fields[3] as u64,
            array: 0,
            after: index_of
                .get(&fields[16])
                .copied()
                .filter(|_| fields[16] > 0),
        });
    }
    Ok(specs)
}

/// A small, fast, seeded generator (SplitMix64): runs must repeat, and
/// nothing here needs more.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(seed: u64) -> Mix {
        Mix {
            seed,
            submissions: 2_000,
            users: vec!["ann".into(), "bob".into(), "cy".into()],
            queues: vec!["normal".into(), "short".into()],
            max_cpus: 64,
            over_secs: 600,
            max_run_secs: 4 * 3600,
        }
    }

    #[test]
    fn a_seed_gives_the_same_workload_and_the_mix_looks_like_a_cluster() {
        let a = generate(&mix(7));
        assert_eq!(a, generate(&mix(7)));
        assert_ne!(a, generate(&mix(8)));
        assert!(a
            .iter()
            .all(|s| (1..=64).contains(&s.cpus) && s.cpus.is_power_of_two()));
        let small = a.iter().filter(|s| s.cpus <= 4).count();
        assert!(small > a.len() / 2, "most jobs are small: {small}");
        assert!(a.iter().any(|s| s.cpus == 64));
        assert!(a.iter().any(|s| s.run_secs < 10) && a.iter().any(|s| s.run_secs > 3600));
        assert!(a.iter().all(|s| (1..=4 * 3600).contains(&s.run_secs)));
        let arrays = a.iter().filter(|s| s.array > 0).count();
        assert!((100..400).contains(&arrays), "{arrays}");
        for (i, s) in a.iter().enumerate() {
            assert!(s.after.is_none_or(|d| d < i), "a dependency on a later job");
        }
        assert!(a.iter().any(|s| s.after.is_some()));
        assert!(a.windows(2).all(|w| w[0].submit_at <= w[1].submit_at));
        let users: std::collections::BTreeSet<_> = a.iter().map(|s| &s.user).collect();
        assert_eq!(users.len(), 3);
    }

    #[test]
    fn requests_run_sleep_and_name_their_dependency() {
        let spec = JobSpec {
            submit_at: 0,
            user: "ann".into(),
            queue: "short".into(),
            cpus: 8,
            run_secs: 90,
            array: 5,
            after: Some(1),
        };
        let r = spec.request(&[10, 20]);
        assert_eq!(
            (r.command.as_str(), r.cpus, r.queue.as_str()),
            ("sleep 90", 8, "short")
        );
        assert_eq!(r.dependency, "done(20)");
        assert_eq!((r.array.start, r.array.end), (1, 5));
        assert_eq!(spec.jobs(), 5);
    }

    #[test]
    fn swf_lines_become_jobs_and_cancelled_ones_are_left_out() {
        let text = "; Version: 2.2\n\
            1 100 5 3600 16 -1 -1 16 7200 -1 1 3 1 -1 1 -1 -1 -1\n\
            2 160 0 -1 4 -1 -1 4 60 -1 5 3 1 -1 0 -1 -1 -1\n\
            3 220 9 60.5 0 -1 -1 128 120 -1 1 4 1 -1 2 -1 1 -1\n";
        let queues = vec!["normal".to_string(), "short".to_string()];
        let jobs = parse_swf(text, &queues, 64).unwrap();
        assert_eq!(jobs.len(), 2, "job 2 never ran");
        assert_eq!(
            (
                jobs[0].submit_at,
                jobs[0].run_secs,
                jobs[0].cpus,
                jobs[0].queue.as_str()
            ),
            (0, 3600, 16, "short")
        );
        assert_eq!(
            (jobs[1].submit_at, jobs[1].cpus, jobs[1].user.as_str()),
            (120, 64, "u4")
        );
        assert_eq!(jobs[1].after, Some(0), "job 3 follows job 1");
        assert!(parse_swf("1 2 3\n", &queues, 64)
            .unwrap_err()
            .contains("18"));
    }
}
