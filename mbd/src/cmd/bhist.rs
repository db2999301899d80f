//! `bhist [-u USER] [-l] [-r|-p] [--json] [job_ref]`: job histories.
//!
//! LavaLite's bhist replayed mbd's files itself; ours asks mbd, which
//! answers from the jobs it holds (live and recently finished), and reads
//! the archived logs for the older jobs compaction dropped (see
//! docs/mbd.md). With mbd down it reads the current log as well. The
//! output is LavaLite's.

use super::{
    client, display_id, fail, format_time, or_dash, parse_args, parse_job_ref, print_json,
    TimeColumn,
};
use super::{Align, Table, VERSION};
use crate::archive::{self, Files};
use crate::client::{BatchClient, ClientError};
use crate::job::parse_usage_text;
use crate::settings::history_sources;
use crate::state::Caller;
use conf::ConfDir;
use proto::mbd::{event, op, HistEvent, HistoryChunk, HistoryRequest, JobHistory, JobState};
use proto::sbd::Usage;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bhist", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "Show job histories")]
pub struct Args {
    #[arg(short = 'V', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Only this user's jobs (admins only, for other users)
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Full history of every job
    #[arg(short = 'l')]
    long: bool,
    /// Only running jobs
    #[arg(short = 'r')]
    running: bool,
    /// Only pending jobs
    #[arg(short = 'p')]
    pending: bool,
    /// Print JSON (the jobs, their requests and events)
    #[arg(long)]
    json: bool,
    /// N, or N[i]
    job_ref: Option<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if args.running && args.pending {
        return fail("bhist", "-r and -p are mutually exclusive");
    }
    let client = match client("bhist") {
        Ok(c) => c.patient(super::ARCHIVE_WAIT),
        Err(code) => return code,
    };
    if let Some(user) = &args.user {
        if os::users::by_name(user).is_none() {
            return fail("bhist", format!("unknown user '{user}'"));
        }
        if *user != client.user && !client.is_admin() {
            return fail("bhist", "permission denied");
        }
    }
    let job = match &args.job_ref {
        None => Default::default(),
        Some(text) => match parse_job_ref(text) {
            Some(r) => r,
            None => return fail("bhist", format!("invalid job reference '{text}'")),
        },
    };
    let request = HistoryRequest {
        job,
        user: args.user.clone().unwrap_or_default(),
    };
    let mut jobs = match gather(&client, &request) {
        Ok(jobs) => jobs,
        Err(why) => return fail("bhist", why),
    };
    if args.running {
        jobs.retain(|j| {
            matches!(
                j.row.state,
                JobState::Run | JobState::Susp | JobState::Unknown
            )
        });
    }
    if args.pending {
        jobs.retain(|j| j.row.state.is_pending());
    }
    if args.json {
        print_json(&jobs.iter().map(json).collect::<Vec<_>>());
    } else if jobs.is_empty() {
        os::sayln!(
            "{}",
            if args.running {
                "No running jobs found."
            } else if args.pending {
                "No pending jobs found."
            } else {
                "No historical jobs found."
            }
        );
    } else if args.long || args.job_ref.is_some() {
        let blocks: Vec<String> = jobs.iter().map(full).collect();
        os::say!("{}", blocks.join("\n"));
    } else {
        os::say!("{}", compact(&jobs));
    }
    ExitCode::SUCCESS
}

/// mbd's answer (the jobs it holds and those its archived logs hold); with
/// mbd down, what the logs on disk say, for those who may read them.
fn gather(client: &BatchClient, request: &HistoryRequest) -> Result<Vec<JobHistory>, String> {
    let down = match client.stream(op::HISTORY, request, |c: &HistoryChunk| c.more) {
        Ok(chunks) => return Ok(chunks.into_iter().flat_map(|c| c.jobs).collect()),
        Err(e @ (ClientError::Unreachable(_) | ClientError::NoReply(_))) => e,
        Err(e) => return Err(e.reason()),
    };
    eprintln!("bhist: {down}; reading its event log on disk");
    let who = Caller {
        uid: client.uid,
        gid: client.gid,
        user: client.user.clone(),
        admin: client.is_admin(),
    };
    let found = ConfDir::from_env()
        .map_err(|e| e.to_string())
        .and_then(|dir| history_sources(&dir).map_err(|e| e.to_string()))
        .and_then(|(cluster, log)| {
            let mut known = BTreeSet::new();
            archive::histories(&log, Files::All, &cluster, &who, request, &mut known)
                .map_err(|e| unreadable(&e.to_string()))
        })?;
    match (found.jobs.is_empty() && request.job.id != 0, found.refused) {
        (true, Some(refused)) => Err(refused.message),
        (true, None) => Err(down.to_string()),
        _ => Ok(found.jobs),
    }
}

/// The event log is mbd's account's alone (it holds every job's
/// environment): say so rather than just "Permission denied".
fn unreadable(why: &str) -> String {
    if why.contains("Permission denied") {
        format!("{why} (only mbd's account reads the event log; ask again when mbd is up)")
    } else {
        why.to_owned()
    }
}

/// The bjobs-like table: bare host names, submit time with seconds.
pub fn compact(jobs: &[JobHistory]) -> String {
    let columns = [
        "JOBID",
        "USER",
        "STAT",
        "QUEUE",
        "PRI",
        "RUN_HOSTS",
        "JOB_NAME",
        "SUBMIT_TIME",
    ];
    let columns: Vec<(&'static str, Align)> = columns.iter().map(|c| (*c, Align::Left)).collect();
    let mut table = Table::new(&columns);
    let mut submitted = TimeColumn::new(true);
    for j in jobs {
        let hosts = (j.events.iter())
            .find(|e| e.what == event::DISPATCHED)
            .map_or("-".to_owned(), |e| e.hosts.join(" "));
        table.row(vec![
            display_id(&j.row),
            j.row.user.clone(),
            j.row.state.as_str().to_owned(),
            j.row.queue.clone(),
            j.row.priority.to_string(),
            hosts,
            or_dash(&j.row.name).to_owned(),
            submitted.text(j.row.submit_time),
        ]);
    }
    table.render()
}

fn label(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "  {name:<14}{value}");
}

/// One `bhist -l` block.
pub fn full(j: &JobHistory) -> String {
    let (r, s) = (&j.row, &j.spec);
    let mut out = format!(
        "Job <{}>  User <{}>  Queue <{}>  Status <{}>\n",
        display_id(r),
        r.user,
        r.queue,
        r.state.as_str()
    );
    if r.array_id != 0 {
        label(&mut out, "Job ID:", r.id);
        let a = s.array;
        label(
            &mut out,
            "Array range:",
            format!("{}-{}:{}", a.start, a.end, a.step),
        );
    }
    label(&mut out, "Submitted:", format_time(r.submit_time, true));
    let optional = |out: &mut String, name: &str, value: &str| {
        if !value.is_empty() {
            label(out, name, value);
        }
    };
    optional(&mut out, "Submit host:", &s.submit_host);
    label(&mut out, "Name:", or_dash(&s.name));
    optional(&mut out, "Project:", &s.project);
    optional(&mut out, "Comment:", &s.comment);
    label(&mut out, "CWD:", or_dash(&s.cwd));
    label(&mut out, "Command:", or_dash(&s.command));
    label(&mut out, "Priority:", r.priority);
    optional(&mut out, "Depends:", &s.dependency);
    optional(&mut out, "stdin:", &s.stdin);
    optional(&mut out, "stdout:", &s.stdout);
    optional(&mut out, "stderr:", &s.stderr);
    let _ = writeln!(
        out,
        "  Requested resources:  {} host(s)  {} cpu(s)/host  {} gpu(s)/host  {} MB mem",
        s.nhosts.max(1),
        s.cpus.max(1),
        s.gpus,
        s.mem_mb
    );
    optional(&mut out, "GPU model:", &s.gpu_model);
    optional(&mut out, "Machines:", &s.machines.join(" "));
    let tokens: Vec<String> = s
        .tokens
        .iter()
        .map(|t| format!("{}={}", t.pool, t.count))
        .collect();
    optional(&mut out, "Token pool:", &tokens.join(","));
    if s.begin != 0 {
        label(&mut out, "Begin:", format_time(s.begin, true));
    }
    if s.terminate != 0 {
        label(&mut out, "Terminate:", format_time(s.terminate, true));
    }
    if s.options.run_limit != 0 {
        label(
            &mut out,
            "Run limit:",
            format!("{:.1} min", s.options.run_limit as f64 / 60.0),
        );
    }
    out.push('\n');
    // Usage is not an event in LavaLite's layout but a block after them.
    for e in j.events.iter().filter(|e| e.what != event::USAGE) {
        let _ = writeln!(out, "  {}  {}", format_time(e.time, true), event_text(e));
        if e.what == event::DISPATCHED && !e.text.is_empty() {
            let _ = writeln!(out, "{}GPU devices:  {}", " ".repeat(18), e.text);
        }
    }
    if let Some(u) = last_usage(j).filter(|u| *u != Usage::default()) {
        let _ = write!(
            out,
            "\n  CPU time:     {:.2} sec\n  Max memory:   {} MB\n  Max swap:     0 MB\n",
            (u.user_ms + u.system_ms) as f64 / 1000.0,
            (u.max_rss_kb + 512) / 1024
        );
    }
    let dispatched = j.events.iter().any(|e| e.what == event::DISPATCHED);
    if r.state.is_finished() && !dispatched {
        out.push_str("  Never dispatched.\n");
    }
    out
}

/// What the job's last run used (a requeued job ran more than once).
fn last_usage(j: &JobHistory) -> Option<Usage> {
    let e = j.events.iter().rev().find(|e| e.what == event::USAGE)?;
    parse_usage_text(&e.text)
}

fn event_text(e: &HistEvent) -> String {
    match e.what {
        event::SUBMITTED => "Submitted".into(),
        event::DISPATCHED => dispatched(&e.hosts),
        event::FORKED => format!("Forked  pid: {}", e.code),
        event::SIGNAL => format!("Signal  signal: {}", e.code),
        event::FINISHED => format!("Finished  state: {} exit_status: {}", e.text, e.code),
        event::HELD => "Suspended (pend)".into(),
        event::RELEASED => "Resumed (pend)".into(),
        event::SUSPENDED if e.code == crate::job::PREEMPTED => "Suspended (preempted)".into(),
        event::SUSPENDED => "Suspended".into(),
        event::RESUMED => "Resumed".into(),
        event::MOVED => format!("Moved queue  {}", e.text),
        event::PRIORITY => format!("Priority  {}", e.text),
        event::PENDING => "Pending".into(),
        event::USAGE => format!("Resource usage  {}", e.text),
        event::NOTE => e.text.clone(),
        event::REQUEUE => format!("Requeue requested {}", e.text),
        event::MODIFIED => format!("Modified  {}", e.text),
        other => format!("Event {other}"),
    }
}

/// `Dispatched to:  h1 h2 ...`, wrapped at 80 columns with the
/// continuation indented 34.
fn dispatched(hosts: &[String]) -> String {
    let mut out = "Dispatched to: ".to_owned();
    // The line so far starts after "  <time>  " (21 columns).
    let mut column = 21 + out.len();
    for host in hosts {
        if column + 1 + host.len() > 80 && column > 34 {
            out.push('\n');
            out.push_str(&" ".repeat(33));
            column = 33;
        }
        out.push(' ');
        out.push_str(host);
        column += 1 + host.len();
    }
    out
}

/// An event's kind as a JSON word.
fn event_kind(what: u32) -> &'static str {
    match what {
        event::SUBMITTED => "submitted",
        event::DISPATCHED => "dispatched",
        event::FORKED => "started",
        event::SIGNAL => "signal",
        event::FINISHED => "finished",
        event::HELD => "held",
        event::RELEASED => "released",
        event::SUSPENDED => "suspended",
        event::RESUMED => "resumed",
        event::MOVED => "moved",
        event::PRIORITY => "priority",
        event::PENDING => "pending",
        event::USAGE => "usage",
        event::NOTE => "note",
        event::REQUEUE => "requeue",
        event::MODIFIED => "modified",
        _ => "unknown",
    }
}

fn json(j: &JobHistory) -> serde_json::Value {
    let events: Vec<serde_json::Value> = (j.events.iter())
        .map(|e| {
            serde_json::json!({
                "time": e.time, "kind": event_kind(e.what), "event": event_text(e),
                "code": e.code, "text": e.text, "hosts": e.hosts,
            })
        })
        .collect();
    serde_json::json!({
        "jobid": display_id(&j.row), "id": j.row.id, "user": j.row.user,
        "stat": j.row.state.as_str(), "queue": j.row.queue, "priority": j.row.priority,
        "name": j.spec.name, "project": j.spec.project, "comment": j.spec.comment,
        "command": j.spec.command, "cwd": j.spec.cwd, "submit_time": j.row.submit_time,
        "submit_host": j.spec.submit_host, "dependency": j.spec.dependency,
        "cpus": j.spec.cpus, "nhosts": j.spec.nhosts, "mem_mb": j.spec.mem_mb,
        "gpus": j.spec.gpus, "run_limit": j.spec.options.run_limit,
        "exit_code": j.row.state.is_finished().then_some(j.row.exit_code),
        "start_time": j.row.start_time, "end_time": j.row.end_time, "events": events,
        "usage": last_usage(j).map(|u| serde_json::json!({
            "user_ms": u.user_ms, "system_ms": u.system_ms, "max_rss_kb": u.max_rss_kb,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::mbd::{JobRow, SubmitRequest};

    fn killed_pending() -> JobHistory {
        JobHistory {
            row: JobRow {
                id: 7,
                user: "ann".into(),
                state: JobState::Exit,
                queue: "normal".into(),
                priority: 30,
                ..JobRow::default()
            },
            spec: SubmitRequest {
                command: "sleep 60".into(),
                cpus: 1,
                nhosts: 1,
                mem_mb: 512,
                project: "p42".into(),
                ..SubmitRequest::default()
            },
            events: vec![
                HistEvent {
                    what: event::SUBMITTED,
                    ..HistEvent::default()
                },
                HistEvent {
                    what: event::SIGNAL,
                    code: 15,
                    ..HistEvent::default()
                },
                HistEvent {
                    what: event::FINISHED,
                    code: 143,
                    text: "EXIT".into(),
                    ..HistEvent::default()
                },
            ],
        }
    }

    #[test]
    fn a_full_block_follows_lavalites_layout() {
        assert_eq!(
            full(&killed_pending()),
            "Job <7>  User <ann>  Queue <normal>  Status <EXIT>\n\
             \x20 Submitted:    -\n\
             \x20 Name:         -\n\
             \x20 Project:      p42\n\
             \x20 CWD:          -\n\
             \x20 Command:      sleep 60\n\
             \x20 Priority:     30\n\
             \x20 Requested resources:  1 host(s)  1 cpu(s)/host  0 gpu(s)/host  512 MB mem\n\
             \n\
             \x20 -  Submitted\n\
             \x20 -  Signal  signal: 15\n\
             \x20 -  Finished  state: EXIT exit_status: 143\n\
             \x20 Never dispatched.\n"
        );
    }

    #[test]
    fn usage_is_a_block_after_the_events() {
        let mut j = killed_pending();
        let usage = Usage {
            user_ms: 1250,
            system_ms: 20,
            max_rss_kb: 3000,
        };
        j.events.push(HistEvent {
            what: event::USAGE,
            text: crate::job::usage_text(&usage),
            ..HistEvent::default()
        });
        let text = full(&j);
        assert!(
            text.ends_with(
                "exit_status: 143\n\
                 \n\
                 \x20 CPU time:     1.27 sec\n\
                 \x20 Max memory:   3 MB\n\
                 \x20 Max swap:     0 MB\n\
                 \x20 Never dispatched.\n"
            ),
            "{text}"
        );
        assert_eq!(json(&j)["usage"]["user_ms"], 1250);
    }

    #[test]
    fn long_host_lists_wrap_at_80_columns() {
        let hosts: Vec<String> = (1..=12).map(|i| format!("node{i:03}")).collect();
        let text = dispatched(&hosts);
        let first = format!("  Aug 08 12:46:03  {}", text.lines().next().unwrap());
        assert!(first.len() <= 80, "{first}");
        assert!(text.lines().nth(1).unwrap().starts_with(&" ".repeat(33)));
    }
}
