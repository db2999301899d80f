//! `llb.queues`: the batch queues in display order.

use crate::batch_hosts::BatchHosts;
use crate::sections::sections;
use crate::ConfError;

/// One `Begin Queue` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    pub name: String,
    /// Higher is dispatched first.
    pub priority: i32,
    /// Host and host-group names, as written.
    pub hosts: Vec<String>,
    /// User or Unix group names; `None` means everyone (empty or `*`).
    pub users: Option<Vec<String>>,
    pub description: String,
    /// `RUNLIMIT = [default] max`, LSF's syntax.
    pub run_limit: Option<RunLimit>,
    /// LSF's job slot limits.
    pub limits: QueueLimits,
    /// `FAIRSHARE = USER_SHARES[[name, n] ...]`: (user, `group`,
    /// `group@` or `default`, shares), as written.
    pub fairshare: Vec<(String, u32)>,
    /// `PREEMPTION = PREEMPTIVE[q ...]`: the queues whose running jobs
    /// this queue's may suspend; `Some(empty)`: every queue of lower
    /// PRIORITY (bare `PREEMPTIVE`).
    pub preempts: Option<Vec<String>>,
    /// Where the block starts, for errors found later.
    pub line: usize,
}

/// Parses llb.queues: `KEY = VALUE` lines in `Begin Queue` blocks, keys
/// case-insensitive; an unknown key or a line without `=` is an error.
pub fn parse_queues(text: &str) -> Result<Vec<Queue>, ConfError> {
    let mut queues: Vec<Queue> = Vec::new();
    for section in sections(text)? {
        if !section.is("Queue") {
            return Err(ConfError::syntax(
                section.line,
                format!("unknown section {:?}", section.keyword),
            ));
        }
        section.require_matching_end()?;
        let mut q = Queue {
            name: String::new(),
            priority: 0,
            hosts: Vec::new(),
            users: None,
            description: String::new(),
            run_limit: None,
            limits: QueueLimits::default(),
            fairshare: Vec::new(),
            preempts: None,
            line: section.line,
        };
        for &(no, line) in &section.body {
            let (key, value) = line
                .split_once('=')
                .map(|(k, v)| (k.trim_ascii().to_ascii_uppercase(), v.trim_ascii()))
                .ok_or_else(|| {
                    ConfError::syntax(no, format!("expected KEY = VALUE, got {line:?}"))
                })?;
            let words = || {
                value
                    .split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            };
            match key.as_str() {
                "QUEUE_NAME" => q.name = value.to_owned(),
                "PRIORITY" => {
                    q.priority = value.parse().map_err(|_| {
                        ConfError::syntax(no, format!("PRIORITY {value:?} is not an integer"))
                    })?
                }
                "HOSTS" => q.hosts = words(),
                "USERS" => q.users = Some(words()).filter(|u| !u.is_empty() && u != &["*"]),
                "DESCRIPTION" => q.description = value.to_owned(),
                "FAIRSHARE" => {
                    q.fairshare = parse_shares(value).ok_or_else(|| {
                        ConfError::syntax(
                            no,
                            format!(
                                "FAIRSHARE {value:?}: expected USER_SHARES[[name, shares] ...]"
                            ),
                        )
                    })?
                }
                "PREEMPTION" => {
                    q.preempts = parse_preemption(value).ok_or_else(|| {
                        ConfError::syntax(
                            no,
                            format!("PREEMPTION {value:?}: expected PREEMPTIVE[queue ...] and/or PREEMPTABLE[queue ...]"),
                        )
                    })?
                }
                "QJOB_LIMIT" => q.limits.total = slot_limit(no, &key, value)?,
                "UJOB_LIMIT" => q.limits.per_user = slot_limit(no, &key, value)?,
                "HJOB_LIMIT" => q.limits.per_host = slot_limit(no, &key, value)?,
                "PJOB_LIMIT" => {
                    q.limits.per_processor = Some(
                        (value.parse::<f64>().ok())
                            .filter(|v| v.is_finite() && *v > 0.0)
                            .ok_or_else(|| {
                                ConfError::syntax(
                                    no,
                                    format!("PJOB_LIMIT {value:?} is not a positive number"),
                                )
                            })?,
                    )
                }
                "RUNLIMIT" => {
                    q.run_limit = Some(RunLimit::parse(value).ok_or_else(|| {
                        ConfError::syntax(
                            no,
                            format!(
                                "RUNLIMIT {value:?}: expected [default] max, each [hours:]minutes"
                            ),
                        )
                    })?)
                }
                _ => return Err(ConfError::syntax(no, format!("unknown key {key}"))),
            }
        }
        if q.name.is_empty() || q.name.contains(char::is_whitespace) {
            return Err(ConfError::syntax(
                section.line,
                "queue needs a QUEUE_NAME without blanks",
            ));
        }
        if q.hosts.is_empty() {
            return Err(ConfError::syntax(
                section.line,
                format!("queue {} has no HOSTS", q.name),
            ));
        }
        if queues.iter().any(|other| other.name == q.name) {
            return Err(ConfError::syntax(
                section.line,
                format!("queue {} defined twice", q.name),
            ));
        }
        queues.push(q);
    }
    Ok(queues)
}

/// A queue's job slot limits (LSF's keys; `None`: unlimited). A slot is
/// one CPU of one host.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueLimits {
    /// `QJOB_LIMIT`: slots the queue's jobs may use in all.
    pub total: Option<u32>,
    /// `UJOB_LIMIT`: slots one user's jobs of the queue may use.
    pub per_user: Option<u32>,
    /// `HJOB_LIMIT`: slots the queue's jobs may use on one host.
    pub per_host: Option<u32>,
    /// `PJOB_LIMIT`: slots the queue's jobs may use per CPU of a host
    /// (a host of `n` CPUs: `n` times this, rounded up).
    pub per_processor: Option<f64>,
}

impl QueueLimits {
    /// What `PJOB_LIMIT` allows on a host of `cpus` CPUs.
    pub fn processor_slots(&self, cpus: u32) -> Option<u32> {
        self.per_processor
            .map(|p| (p * f64::from(cpus)).ceil() as u32)
    }
}

/// `PREEMPTIVE[q1 q2]` or bare `PREEMPTIVE` (every lower queue), maybe
/// with `PREEMPTABLE[...]`, which is read and ignored (a queue is
/// preempted by those that name it). `None` inside: not preemptive.
fn parse_preemption(text: &str) -> Option<Option<Vec<String>>> {
    let mut preempts = None;
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (word, after) = match rest.find(|c: char| c == '[' || c.is_whitespace()) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let after = after.trim_start();
        let (list, after) = match after.strip_prefix('[') {
            Some(inside) => {
                let (list, after) = inside.split_once(']')?;
                (Some(list), after.trim_start())
            }
            None => (None, after),
        };
        let names = || {
            list.map_or(Vec::new(), |l| {
                l.split_ascii_whitespace().map(str::to_owned).collect()
            })
        };
        match word {
            "PREEMPTIVE" => preempts = Some(names()),
            "PREEMPTABLE" => {}
            _ => return None,
        }
        rest = after;
    }
    Some(preempts)
}

/// `USER_SHARES[[ann, 3] [physics@, 2] [default, 1]]`: non-empty, every
/// share positive.
fn parse_shares(text: &str) -> Option<Vec<(String, u32)>> {
    let inside = text.trim().strip_prefix("USER_SHARES")?.trim_start();
    let inside = inside.strip_prefix('[')?.strip_suffix(']')?;
    let mut shares = Vec::new();
    for entry in inside.split(']') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (name, n) = entry.strip_prefix('[')?.split_once(',')?;
        let n = n.trim().parse::<u32>().ok().filter(|n| *n > 0)?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        shares.push((name.to_owned(), n));
    }
    (!shares.is_empty()).then_some(shares)
}

/// A positive count of slots; `-` (LSF's unlimited) is `None`.
fn slot_limit(no: usize, key: &str, value: &str) -> Result<Option<u32>, ConfError> {
    if value == "-" {
        return Ok(None);
    }
    (value.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| ConfError::syntax(no, format!("{key} {value:?} is not a positive integer")))
}

/// A queue's `RUNLIMIT`, seconds: jobs without `-W` get `default` (else
/// `max`); a `-W` above `max` is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimit {
    pub default: Option<u64>,
    pub max: u64,
}

impl RunLimit {
    /// `max` or `default max`, each `[hours:]minutes`. LSF's `/host`
    /// suffix (a CPU factor to normalise by) is accepted and ignored:
    /// limits here are wall-clock minutes on any host.
    pub fn parse(text: &str) -> Option<RunLimit> {
        let limits: Vec<u64> = (text.split_ascii_whitespace())
            .map(|w| parse_minutes(w.split('/').next().unwrap_or(w)))
            .collect::<Option<_>>()?;
        match limits[..] {
            [max] => Some(RunLimit { default: None, max }),
            [default, max] if default <= max => Some(RunLimit {
                default: Some(default),
                max,
            }),
            _ => None,
        }
    }

    /// The limit a job gets: its own (`-W`, 0 = none), else the default,
    /// else the max.
    pub fn for_job(limit: Option<&RunLimit>, own: u64) -> u64 {
        match limit {
            _ if own > 0 => own,
            Some(l) => l.default.unwrap_or(l.max),
            None => 0,
        }
    }
}

/// `[hours:]minutes` (LSF's `-W`; minutes may exceed 59) as seconds;
/// positive.
pub fn parse_minutes(text: &str) -> Option<u64> {
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let minutes = match text.split_once(':') {
        Some((h, m)) => number(h)? * 60 + number(m)?,
        None => number(text)?,
    };
    (minutes > 0).then_some(minutes * 60)
}

/// Checks that every queue's HOSTS names a host or group of `hosts`.
pub fn check_queue_hosts(queues: &[Queue], hosts: &BatchHosts) -> Result<(), ConfError> {
    for q in queues {
        if let Some(bad) = q
            .hosts
            .iter()
            .find(|h| hosts.host(h).is_none() && hosts.group(h).is_none())
        {
            return Err(ConfError::syntax(
                q.line,
                format!(
                    "queue {}: {bad} is neither a host nor a host group of llb.hosts",
                    q.name
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
Begin Queue
QUEUE_NAME  = short
PRIORITY    = 40
HOSTS       = cpus gpu01
users       = alice hpcusers
DESCRIPTION = jobs under an hour
End Queue
Begin Queue
QUEUE_NAME = normal
HOSTS = cpu01
USERS = *
End Queue
";

    #[test]
    fn parses_queues_in_file_order() {
        let q = parse_queues(EXAMPLE).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(
            (q[0].name.as_str(), q[0].priority, q[0].hosts.len()),
            ("short", 40, 2)
        );
        assert_eq!(
            q[0].users.as_deref(),
            Some(&["alice".to_string(), "hpcusers".to_string()][..])
        );
        assert_eq!(q[0].description, "jobs under an hour");
        assert_eq!((q[1].priority, q[1].users.is_none()), (0, true));
    }

    #[test]
    fn preemption_names_the_queues_preempted() {
        let with = |v: &str| {
            let text = EXAMPLE.replace(
                "DESCRIPTION = jobs under an hour",
                &format!("PREEMPTION = {v}"),
            );
            parse_queues(&text).map(|q| q[0].preempts.clone())
        };
        assert_eq!(
            with("PREEMPTIVE[normal idle]").unwrap(),
            Some(vec!["normal".into(), "idle".into()])
        );
        assert_eq!(with("PREEMPTIVE").unwrap(), Some(vec![]));
        assert_eq!(with("PREEMPTABLE[short]").unwrap(), None);
        assert!(with("PREEMPT[x]").is_err());
        assert!(with("PREEMPTIVE[x").is_err());
    }

    #[test]
    fn fairshare_is_lsfs_user_shares() {
        let text = EXAMPLE.replace(
            "DESCRIPTION = jobs under an hour",
            "FAIRSHARE = USER_SHARES[[ann, 3] [physics@, 2] [default, 1]]",
        );
        let q = parse_queues(&text).unwrap();
        let names: Vec<(&str, u32)> = q[0]
            .fairshare
            .iter()
            .map(|(n, s)| (n.as_str(), *s))
            .collect();
        assert_eq!(names, [("ann", 3), ("physics@", 2), ("default", 1)]);
        for bad in [
            "USER_SHARES[]",
            "USER_SHARES[[ann, 0]]",
            "SHARES[[a, 1]]",
            "USER_SHARES[[a 1]]",
        ] {
            let text = EXAMPLE.replace(
                "DESCRIPTION = jobs under an hour",
                &format!("FAIRSHARE = {bad}"),
            );
            assert!(parse_queues(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn slot_limits_are_lsfs_keys() {
        let text = EXAMPLE.replace(
            "DESCRIPTION = jobs under an hour",
            "QJOB_LIMIT = 8\nUJOB_LIMIT = 2\nHJOB_LIMIT = -\nPJOB_LIMIT = 1.5",
        );
        let q = parse_queues(&text).unwrap();
        let l = q[0].limits;
        assert_eq!((l.total, l.per_user, l.per_host), (Some(8), Some(2), None));
        assert_eq!(l.processor_slots(3), Some(5), "4.5 rounded up");
        assert_eq!(q[1].limits, QueueLimits::default());
        let err = parse_queues(&EXAMPLE.replace("PRIORITY    = 40", "UJOB_LIMIT = 0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: UJOB_LIMIT \"0\""), "{err}");
    }

    #[test]
    fn run_limits_are_lsfs_hours_and_minutes() {
        assert_eq!(parse_minutes("90"), Some(5400));
        assert_eq!(parse_minutes("3:30"), Some(210 * 60));
        assert_eq!(parse_minutes("0:75"), Some(75 * 60));
        for bad in ["", "0", "1:", ":5", "-5", "1.5", "5m", "1:2:3"] {
            assert_eq!(parse_minutes(bad), None, "{bad}");
        }
        let q =
            parse_queues(&EXAMPLE.replace("DESCRIPTION", "RUNLIMIT = 10 2:00/hostA\nDESCRIPTION"))
                .unwrap();
        let limit = q[0].run_limit.unwrap();
        assert_eq!((limit.default, limit.max), (Some(600), 7200));
        assert_eq!(RunLimit::for_job(Some(&limit), 60), 60);
        assert_eq!(RunLimit::for_job(Some(&limit), 0), 600);
        assert_eq!(RunLimit::for_job(RunLimit::parse("5").as_ref(), 0), 300);
        assert_eq!(RunLimit::for_job(None, 0), 0);
        for bad in ["", "20 10", "1 2 3", "x"] {
            assert_eq!(RunLimit::parse(bad), None, "{bad}");
        }
        let err = parse_queues(&EXAMPLE.replace("PRIORITY    = 40", "RUNLIMIT = soon"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: RUNLIMIT \"soon\""), "{err}");
    }

    #[test]
    fn mistakes_are_line_numbered_errors() {
        let cases = [
            (
                EXAMPLE.replace("PRIORITY    = 40", "PRIORITY 40"),
                "line 3: expected KEY = VALUE",
            ),
            (
                EXAMPLE.replace("PRIORITY    = 40", "MAXJOBS = 4"),
                "line 3: unknown key MAXJOBS",
            ),
            (EXAMPLE.replace("= 40", "= high"), "line 3: PRIORITY"),
            (
                EXAMPLE.replace("HOSTS = cpu01", ""),
                "line 8: queue normal has no HOSTS",
            ),
            (
                EXAMPLE.replace("normal", "short"),
                "line 8: queue short defined twice",
            ),
            (EXAMPLE.replace("End Queue\nBegin", "Begin"), "missing End"),
        ];
        for (text, want) in cases {
            let err = parse_queues(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
        let hosts = BatchHosts::parse(
            "Begin Host\nHOST_NAME CPU MEM STORAGE GPU_MODEL GPU_IDS\ncpu01 4 1G 1G - -\nEnd Host\n",
        )
        .unwrap();
        let err = check_queue_hosts(&parse_queues(EXAMPLE).unwrap(), &hosts).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 1: queue short: cpus is neither"),
            "{err}"
        );
    }
}
