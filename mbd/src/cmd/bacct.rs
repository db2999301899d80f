//! `bacct [-l] [-u USER|all] [-q QUEUE] [-m HOST] [-C T0,T1] [--json]
//! [job_ref...]`: LSF's accounting of finished jobs — CPU time, wait,
//! turnaround, hog factor, memory — per job with `-l` and summed up.
//!
//! mbd selects and sums the jobs (`op::ACCT`: those it holds and those
//! its archived logs hold, from the accounting kept beside each), so it
//! covers every job whose logs are still on disk and sends only the
//! figures asked for. Usage is the job's last run's (cgroup figures where
//! there was one, `wait4`'s otherwise), as mbd recorded it at the end.

use super::{client, fail, format_time, parse_args, parse_job_ref, print_json, VERSION};
use os::time::{local, to_unix, LocalTime};
use proto::mbd::{op, AcctChunk, AcctRecord, AcctRequest, AcctSummary};
use serde::Serialize;
use std::fmt::Write;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bacct", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Accounting of finished jobs")]
pub struct Args {
    #[arg(short = 'V', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Per job, then the summary
    #[arg(short = 'l', long)]
    long: bool,
    /// Only this user's jobs, or `all` (default: yours)
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Only jobs of this queue
    #[arg(short = 'q', long)]
    queue: Option<String>,
    /// Only jobs that ran on this host
    #[arg(short = 'm', long)]
    host: Option<String>,
    /// Only jobs completed in T0,T1: [[[year/]month/]day/]hh:mm or
    /// [[year/]month/]day, `.` for now; an empty end is open
    #[arg(short = 'C', long, allow_hyphen_values = true)]
    completed: Option<String>,
    /// Print JSON: the jobs and the summary
    #[arg(long)]
    json: bool,
    /// N or N[i]
    job_refs: Vec<String>,
}

/// One finished job's figures (seconds, KB).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    pub jobid: String,
    pub user: String,
    pub queue: String,
    pub status: &'static str,
    pub exit_code: i32,
    pub hosts: Vec<String>,
    pub submit_time: u64,
    pub start_time: u64,
    pub end_time: u64,
    pub cpu_secs: f64,
    pub wait_secs: u64,
    pub turnaround_secs: u64,
    /// CPU time over turnaround.
    pub hog: f64,
    pub max_rss_kb: u64,
    pub command: String,
}

impl Record {
    pub fn of(r: &AcctRecord) -> Record {
        let id = match r.array_id {
            0 => r.id.to_string(),
            array => format!("{array}[{}]", r.index),
        };
        Record {
            jobid: id,
            user: r.user.clone(),
            queue: r.queue.clone(),
            status: if r.done { "done" } else { "exit" },
            exit_code: r.exit_code,
            hosts: r.hosts.clone(),
            submit_time: r.submit_time,
            start_time: r.start_time,
            end_time: r.end_time,
            cpu_secs: r.cpu_ms as f64 / 1000.0,
            wait_secs: r.wait_secs(),
            turnaround_secs: r.turnaround_secs(),
            hog: r.hog_ppm() as f64 / 1e6,
            max_rss_kb: r.max_rss_kb,
            command: r.command.clone(),
        }
    }
}

/// The summed figures (seconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub done: u64,
    pub exited: u64,
    pub cpu_total: f64,
    pub cpu_max: f64,
    pub cpu_min: f64,
    pub wait_total: u64,
    pub wait_max: u64,
    pub wait_min: u64,
    pub turnaround_max: u64,
    pub turnaround_min: u64,
    pub turnaround_avg: f64,
    pub hog_avg: f64,
    pub hog_max: f64,
    pub hog_min: f64,
}

impl Summary {
    pub fn of(s: &AcctSummary) -> Summary {
        let n = s.jobs().max(1) as f64;
        let secs = |ms: u64| ms as f64 / 1000.0;
        let hog = |ppm: u64| ppm as f64 / 1e6;
        Summary {
            done: s.done,
            exited: s.exited,
            cpu_total: secs(s.cpu_ms_total),
            cpu_max: secs(s.cpu_ms_max),
            cpu_min: secs(s.cpu_ms_min),
            wait_total: s.wait_total,
            wait_max: s.wait_max,
            wait_min: s.wait_min,
            turnaround_max: s.turnaround_max,
            turnaround_min: s.turnaround_min,
            turnaround_avg: s.turnaround_total as f64 / n,
            hog_avg: s.hog_ppm_total as f64 / 1e6 / n,
            hog_max: hog(s.hog_ppm_max),
            hog_min: hog(s.hog_ppm_min),
        }
    }

    /// LSF's SUMMARY block.
    pub fn render(&self) -> String {
        let n = (self.done + self.exited).max(1) as f64;
        let mut out = String::from("SUMMARY:      ( time unit: second )\n");
        let _ = writeln!(
            out,
            " Total number of done jobs: {:>7}      Total number of exited jobs: {:>5}",
            self.done, self.exited
        );
        let _ = writeln!(
            out,
            " Total CPU time consumed: {:>9.1}      Average CPU time consumed: {:>7.1}",
            self.cpu_total,
            self.cpu_total / n
        );
        let _ = writeln!(
            out,
            " Maximum CPU time of a job: {:>7.1}      Minimum CPU time of a job: {:>7.1}",
            self.cpu_max, self.cpu_min
        );
        let _ = writeln!(
            out,
            " Total wait time in queues: {:>7.1}",
            self.wait_total as f64
        );
        let _ = writeln!(
            out,
            " Average wait time in queue: {:>6.1}",
            self.wait_total as f64 / n
        );
        let _ = writeln!(
            out,
            " Maximum wait time in queue: {:>6.1}      Minimum wait time in queue: {:>6.1}",
            self.wait_max as f64, self.wait_min as f64
        );
        let _ = writeln!(
            out,
            " Average turnaround time: {:>9.0} (seconds/job)",
            self.turnaround_avg
        );
        let _ = writeln!(
            out,
            " Maximum turnaround time: {:>9}      Minimum turnaround time: {:>9}",
            self.turnaround_max, self.turnaround_min
        );
        let _ = writeln!(
            out,
            " Average hog factor of a job: {:>5.2} ( cpu time / turnaround time )",
            self.hog_avg
        );
        let _ = writeln!(
            out,
            " Maximum hog factor of a job: {:>5.2}      Minimum hog factor of a job: {:>5.2}",
            self.hog_max, self.hog_min
        );
        out
    }
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let now = os::host::unix_now();
    let window = match args.completed.as_deref().map(|t| parse_range(t, now)) {
        None => None,
        Some(Some(w)) => Some(w),
        Some(None) => {
            let text = args.completed.unwrap_or_default();
            return fail("bacct", format!("-C: invalid time range '{text}'"));
        }
    };
    let client = match client("bacct") {
        Ok(c) => c.patient(super::ARCHIVE_WAIT),
        Err(code) => return code,
    };
    let user = match args.user.as_deref() {
        None => client.user.clone(),
        Some("all") => String::new(),
        Some(u) => u.to_owned(),
    };
    let mut jobs = Vec::new();
    for text in &args.job_refs {
        match parse_job_ref(text) {
            Some(r) => jobs.push(r),
            None => return fail("bacct", format!("invalid job reference '{text}'")),
        }
    }
    let (ended_from, ended_to) = window.unwrap_or((0, u64::MAX));
    let request = AcctRequest {
        user: if jobs.is_empty() {
            user.clone()
        } else {
            String::new()
        },
        jobs,
        queue: args.queue.clone().unwrap_or_default(),
        host: args.host.clone().unwrap_or_default(),
        ended_from,
        ended_to,
        per_job: args.long || args.json,
    };
    // Jobs are printed as they come: a year of `-l` is not held whole.
    let mut jobs = Vec::new();
    let mut summary = AcctSummary::default();
    let mut header = Some(header(&user, &args));
    let streamed = client.stream_each(
        op::ACCT,
        &request,
        |c: &AcctChunk| c.more,
        |chunk| {
            if args.json {
                jobs.extend(chunk.records.iter().map(Record::of));
            } else {
                let mut text = header.take().unwrap_or_default();
                for r in &chunk.records {
                    text.push_str(&long(&Record::of(r)));
                }
                os::say!("{text}");
            }
            if !chunk.more {
                summary = chunk.summary;
            }
        },
    );
    if let Err(e) = streamed {
        return fail("bacct", e.reason());
    }
    let summary = Summary::of(&summary);
    if args.json {
        print_json(&serde_json::json!({ "jobs": jobs, "summary": summary }));
    } else {
        os::say!("\n{}", summary.render());
    }
    ExitCode::SUCCESS
}

/// `Accounting information about jobs that are:` and one line per filter.
fn header(user: &str, a: &Args) -> String {
    let mut out = String::from("Accounting information about jobs that are:\n");
    let who = if user.is_empty() {
        "all users".to_owned()
    } else {
        format!("user(s) {user}")
    };
    let _ = writeln!(out, "  - submitted by {who};");
    let _ = writeln!(out, "  - accounted on all projects.");
    let _ = writeln!(out, "  - completed normally or exited.");
    if let Some(h) = &a.host {
        let _ = writeln!(out, "  - executed on host {h};");
    }
    if let Some(q) = &a.queue {
        let _ = writeln!(out, "  - submitted to queue {q};");
    }
    let _ = writeln!(out, "{}", "-".repeat(78));
    out
}

/// One job's block, LSF's layout.
fn long(r: &Record) -> String {
    let mut out = format!(
        "\nJob <{}>, User <{}>, Status <{}>, Queue <{}>, Command <{}>\n",
        r.jobid,
        r.user,
        r.status.to_ascii_uppercase(),
        r.queue,
        r.command
    );
    let _ = writeln!(out, "{}: Submitted;", format_time(r.submit_time, true));
    if r.start_time > 0 {
        let hosts: Vec<String> = r.hosts.iter().map(|h| format!("<{h}>")).collect();
        let _ = writeln!(
            out,
            "{}: Dispatched to {};",
            format_time(r.start_time, true),
            hosts.join(" ")
        );
    }
    let end = match r.status {
        "done" => "Completed <done>.".to_owned(),
        _ => format!("Completed <exit>; exit code {}.", r.exit_code),
    };
    let _ = writeln!(out, "{}: {end}", format_time(r.end_time, true));
    let _ = write!(
        out,
        "\nAccounting information about this job:\n     CPU_T     WAIT     TURNAROUND   STATUS     HOG_FACTOR    MEM\n{:>10.2} {:>8} {:>14} {:>8} {:>14.4} {:>6}\n{}\n",
        r.cpu_secs,
        r.wait_secs,
        r.turnaround_secs,
        r.status,
        r.hog,
        memory(r.max_rss_kb),
        "-".repeat(78)
    );
    out
}

/// LSF's memory column: `12M`, `512K`.
fn memory(kb: u64) -> String {
    if kb >= 1024 {
        format!("{}M", kb.div_ceil(1024))
    } else {
        format!("{kb}K")
    }
}

/// `T0,T1` (either end may be empty: open), or one time meaning its
/// whole period: a day for a date, a minute for a time.
fn parse_range(text: &str, now: u64) -> Option<(u64, u64)> {
    match text.split_once(',') {
        Some((a, b)) => {
            let t0 = if a.is_empty() {
                0
            } else {
                parse_point(a, now)?.0
            };
            let t1 = if b.is_empty() {
                u64::MAX
            } else {
                parse_point(b, now)?.1
            };
            (t0 <= t1).then_some((t0, t1))
        }
        None => parse_point(text, now),
    }
}

/// A time and the end of the period it names: `.` (now),
/// `[[[year/]month/]day/]hh:mm` (a minute) or `[[year/]month/]day` (a day).
fn parse_point(text: &str, now: u64) -> Option<(u64, u64)> {
    if text == "." {
        return Some((now, now));
    }
    let today = local(now as i64)?;
    let (date, clock) = match text.rsplit_once('/') {
        Some((date, last)) if last.contains(':') => (date, Some(last)),
        _ if text.contains(':') => ("", Some(text)),
        _ => (text, None),
    };
    let number = |s: &str| s.parse::<i32>().ok();
    let parts: Vec<i32> = if date.is_empty() {
        Vec::new()
    } else {
        date.split('/').map(number).collect::<Option<_>>()?
    };
    let mut t = LocalTime {
        second: 0,
        minute: 0,
        hour: 0,
        ..today
    };
    match parts[..] {
        [] => {}
        [day] => t.day = day,
        [month, day] => (t.month, t.day) = (month, day),
        [year, month, day] => (t.year, t.month, t.day) = (year, month, day),
        _ => return None,
    }
    let span = match clock {
        Some(clock) => {
            let (h, m) = clock.split_once(':')?;
            (t.hour, t.minute) = (number(h)?, number(m)?);
            59
        }
        None => 24 * 3600 - 1,
    };
    let start = u64::try_from(to_unix(t)?).ok()?;
    Some((start, start + span))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(id: u32, done: bool, cpu_ms: u64, times: (u64, u64, u64)) -> AcctRecord {
        let (submit_time, start_time, end_time) = times;
        AcctRecord {
            id,
            user: "ann".into(),
            queue: "normal".into(),
            done,
            hosts: vec!["n1".into()],
            submit_time,
            start_time,
            end_time,
            cpu_ms,
            max_rss_kb: 4096,
            ..AcctRecord::default()
        }
    }

    #[test]
    fn figures_and_their_summary() {
        let jobs = [
            finished(1, true, 10_000, (100, 104, 120)),
            finished(2, false, 2_000, (100, 110, 140)),
        ];
        let mut sum = AcctSummary::default();
        jobs.iter().for_each(|j| sum.add(j));
        let first = Record::of(&jobs[0]);
        assert_eq!((first.wait_secs, first.turnaround_secs), (4, 20));
        assert!((first.hog - 0.5).abs() < 1e-9);
        let s = Summary::of(&sum);
        assert_eq!(
            (s.done, s.exited, s.wait_total, s.turnaround_max),
            (1, 1, 14, 40)
        );
        assert!((s.cpu_total - 12.0).abs() < 1e-9 && (s.turnaround_avg - 30.0).abs() < 1e-9);
        assert!((s.cpu_min - 2.0).abs() < 1e-9);
        let text = s.render();
        assert!(
            text.contains(
                " Total number of done jobs:       1      Total number of exited jobs:     1"
            ),
            "{text}"
        );
        assert!(
            text.contains(" Total CPU time consumed:      12.0"),
            "{text}"
        );
        assert_eq!(memory(first.max_rss_kb), "4M");
        let element = Record::of(&AcctRecord {
            array_id: 7,
            index: 2,
            ..jobs[0].clone()
        });
        assert_eq!(element.jobid, "7[2]");
    }

    #[test]
    fn time_ranges_as_lsf_writes_them() {
        let now = to_unix(LocalTime {
            year: 2026,
            month: 12,
            day: 6,
            hour: 12,
            minute: 0,
            second: 0,
        })
        .unwrap() as u64;
        let day = parse_range("2026/12/5", now).unwrap();
        assert_eq!(day.1 - day.0, 24 * 3600 - 1);
        let (t0, t1) = parse_range("12/5/10:00,.", now).unwrap();
        assert_eq!((t1, now - t0), (now, 26 * 3600));
        assert_eq!(parse_range(",", now), Some((0, u64::MAX)));
        assert_eq!(parse_range("9:30", now).map(|(a, b)| b - a), Some(59));
        for bad in [
            "x",
            "1/2/3/4/10:00",
            ".,1/1/1/1:1:1",
            "12/6/13:00,12/6/11:00",
        ] {
            assert_eq!(parse_range(bad, now), None, "{bad}");
        }
    }
}
