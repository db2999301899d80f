//! `bacct [-l] [-u USER|all] [-q QUEUE] [-m HOST] [-C T0,T1] [--json]
//! [job_ref...]`: LSF's accounting of finished jobs — CPU time, wait,
//! turnaround, hog factor, memory — per job with `-l` and summed up.
//!
//! It reads what mbd keeps of each job (`op::HISTORY`: the jobs it holds
//! and those its archived logs hold), so it covers every job whose logs
//! are still on disk. Usage is the job's last run's (cgroup figures where
//! there was one, `wait4`'s otherwise), as mbd recorded it at the end.

use super::{
    client, display_id, fail, format_time, parse_args, parse_job_ref, print_json, VERSION,
};
use crate::job::parse_usage_text;
use os::time::{local, to_unix, LocalTime};
use proto::mbd::{event, op, HistoryChunk, HistoryRequest, JobHistory, JobRef, JobState};
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
    pub max_rss_kb: u64,
    pub command: String,
}

impl Record {
    /// The figures of a finished job; `None` for one that is not.
    pub fn of(j: &JobHistory) -> Option<Record> {
        if !j.row.state.is_finished() {
            return None;
        }
        let last = |what| j.events.iter().rev().find(|e| e.what == what);
        let end = last(event::FINISHED).map_or(j.row.end_time, |e| e.time);
        let dispatched = last(event::DISPATCHED);
        let usage = last(event::USAGE)
            .and_then(|e| parse_usage_text(&e.text))
            .unwrap_or_default();
        let start = dispatched.map_or(0, |e| e.time);
        let submit = j.row.submit_time;
        Some(Record {
            jobid: display_id(&j.row),
            user: j.row.user.clone(),
            queue: j.row.queue.clone(),
            status: if j.row.state == JobState::Done {
                "done"
            } else {
                "exit"
            },
            exit_code: j.row.exit_code,
            hosts: dispatched.map(|e| e.hosts.clone()).unwrap_or_default(),
            submit_time: submit,
            start_time: start,
            end_time: end,
            cpu_secs: (usage.user_ms + usage.system_ms) as f64 / 1000.0,
            wait_secs: if start > 0 {
                start.saturating_sub(submit)
            } else {
                end.saturating_sub(submit)
            },
            turnaround_secs: end.saturating_sub(submit),
            max_rss_kb: usage.max_rss_kb,
            command: j.spec.command.clone(),
        })
    }

    /// CPU time over turnaround.
    pub fn hog(&self) -> f64 {
        match self.turnaround_secs {
            0 => 0.0,
            t => self.cpu_secs / t as f64,
        }
    }
}

/// The summed figures of `records`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub done: usize,
    pub exited: usize,
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
    pub fn of(records: &[Record]) -> Summary {
        let n = records.len();
        if n == 0 {
            return Summary::default();
        }
        let cpu = records.iter().map(|r| r.cpu_secs);
        let wait = records.iter().map(|r| r.wait_secs);
        let turn = records.iter().map(|r| r.turnaround_secs);
        let hog = records.iter().map(Record::hog);
        Summary {
            done: records.iter().filter(|r| r.status == "done").count(),
            exited: records.iter().filter(|r| r.status == "exit").count(),
            cpu_total: cpu.clone().sum(),
            cpu_max: cpu.clone().fold(0.0, f64::max),
            cpu_min: cpu.fold(f64::INFINITY, f64::min),
            wait_total: wait.clone().sum(),
            wait_max: wait.clone().max().unwrap_or(0),
            wait_min: wait.min().unwrap_or(0),
            turnaround_max: turn.clone().max().unwrap_or(0),
            turnaround_min: turn.clone().min().unwrap_or(0),
            turnaround_avg: turn.sum::<u64>() as f64 / n as f64,
            hog_avg: hog.clone().sum::<f64>() / n as f64,
            hog_max: hog.clone().fold(0.0, f64::max),
            hog_min: hog.fold(f64::INFINITY, f64::min),
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
            self.cpu_max,
            finite(self.cpu_min)
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
            self.hog_max,
            finite(self.hog_min)
        );
        out
    }
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
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
        Ok(c) => c,
        Err(code) => return code,
    };
    let user = match args.user.as_deref() {
        None => client.user.clone(),
        Some("all") => String::new(),
        Some(u) => u.to_owned(),
    };
    let mut refs = Vec::new();
    for text in &args.job_refs {
        match parse_job_ref(text) {
            Some(r) => refs.push(r),
            None => return fail("bacct", format!("invalid job reference '{text}'")),
        }
    }
    if refs.is_empty() {
        refs.push(JobRef::default());
    }
    let mut jobs = Vec::new();
    for job in refs {
        let request = HistoryRequest {
            job,
            user: if job.id == 0 {
                user.clone()
            } else {
                String::new()
            },
        };
        match client.stream(op::HISTORY, &request, |c: &HistoryChunk| c.more) {
            Ok(chunks) => jobs.extend(chunks.into_iter().flat_map(|c| c.jobs)),
            Err(e) => return fail("bacct", e.reason()),
        }
    }
    let records: Vec<Record> = (jobs.iter())
        .filter_map(Record::of)
        .filter(|r| args.queue.as_ref().is_none_or(|q| r.queue == *q))
        .filter(|r| args.host.as_ref().is_none_or(|h| r.hosts.contains(h)))
        .filter(|r| window.is_none_or(|(t0, t1)| (t0..=t1).contains(&r.end_time)))
        .collect();
    let summary = Summary::of(&records);
    if args.json {
        print_json(&serde_json::json!({ "jobs": records, "summary": summary }));
        return ExitCode::SUCCESS;
    }
    let mut out = header(&user, &args);
    if args.long {
        for r in &records {
            out.push_str(&long(r));
        }
    }
    out.push('\n');
    out.push_str(&summary.render());
    os::say!("{out}");
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
        r.hog(),
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
    use proto::mbd::{HistEvent, JobRow, SubmitRequest};

    fn finished(id: u32, state: JobState, cpu_ms: u64, times: (u64, u64, u64)) -> JobHistory {
        let (submit, start, end) = times;
        let ev = |time, what, text: String| HistEvent {
            time,
            what,
            text,
            hosts: vec!["n1".into()],
            ..HistEvent::default()
        };
        let usage = proto::sbd::Usage {
            user_ms: cpu_ms,
            system_ms: 0,
            max_rss_kb: 4096,
        };
        JobHistory {
            row: JobRow {
                id,
                user: "ann".into(),
                queue: "normal".into(),
                state,
                submit_time: submit,
                ..JobRow::default()
            },
            spec: SubmitRequest::default(),
            events: vec![
                ev(start, event::DISPATCHED, String::new()),
                ev(end, event::FINISHED, String::new()),
                ev(end, event::USAGE, crate::job::usage_text(&usage)),
            ],
        }
    }

    #[test]
    fn figures_and_their_summary() {
        let jobs = [
            finished(1, JobState::Done, 10_000, (100, 104, 120)),
            finished(2, JobState::Exit, 2_000, (100, 110, 140)),
            finished(3, JobState::Run, 0, (100, 0, 0)),
        ];
        let records: Vec<Record> = jobs.iter().filter_map(Record::of).collect();
        assert_eq!(records.len(), 2, "a running job is not accounted");
        assert_eq!((records[0].wait_secs, records[0].turnaround_secs), (4, 20));
        assert!((records[0].hog() - 0.5).abs() < 1e-9);
        let s = Summary::of(&records);
        assert_eq!(
            (s.done, s.exited, s.wait_total, s.turnaround_max),
            (1, 1, 14, 40)
        );
        assert!((s.cpu_total - 12.0).abs() < 1e-9 && (s.turnaround_avg - 30.0).abs() < 1e-9);
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
        assert_eq!(memory(records[0].max_rss_kb), "4M");
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
