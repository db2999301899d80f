//! `bjobs -l`: one job in LSF's long layout (a header of `Field <value>`
//! pairs, then one `time: what;` line per event, limits, pending reasons
//! and resource usage), from the job's history.

use super::{display_id, format_time};
use crate::job::parse_usage_text;
use proto::mbd::{event, HistEvent, JobHistory, JobState};
use proto::sbd::Usage;
use std::fmt::Write;

/// The block for one job.
pub fn render(j: &JobHistory) -> String {
    let mut out = header(j);
    out.push_str(&submitted(j));
    if j.spec.options.run_limit > 0 {
        let minutes = j.spec.options.run_limit as f64 / 60.0;
        let _ = write!(out, "\n RUNLIMIT\n {minutes:.1} min\n\n");
    }
    let mut hosts: &[String] = &[];
    for e in &j.events {
        if e.what == event::DISPATCHED {
            hosts = &e.hosts;
        }
        if let Some(text) = event_line(e, hosts, &j.spec.cwd) {
            let _ = writeln!(out, "{}: {text}", format_time(e.time, true));
        }
    }
    if j.row.state == JobState::Pend && !j.row.pend_reason.is_empty() {
        let _ = write!(out, "\n PENDING REASONS:\n {};\n", j.row.pend_reason);
    }
    // A running job's usage so far; else its last run's.
    let running = (j.row.run_usage != Usage::default()).then_some(j.row.run_usage);
    let usage = running.or_else(|| {
        (j.events.iter().rev())
            .find(|e| e.what == event::USAGE)
            .and_then(|e| parse_usage_text(&e.text))
    });
    if let Some(u) = usage {
        let _ = write!(
            out,
            "\n The CPU time used is {:.1} seconds.\n MEMORY USAGE:\n MAX MEM: {};\n",
            (u.user_ms + u.system_ms) as f64 / 1000.0,
            memory(u.max_rss_kb)
        );
    }
    out
}

/// `Job <N>, Job Name <..>, User <..>, ..., Command <..>`.
fn header(j: &JobHistory) -> String {
    let (r, s) = (&j.row, &j.spec);
    let mut fields = vec![format!("Job <{}>", display_id(r))];
    if !r.name.is_empty() {
        fields.push(format!("Job Name <{}>", r.name));
    }
    fields.push(format!("User <{}>", r.user));
    if !s.project.is_empty() {
        fields.push(format!("Project <{}>", s.project));
    }
    fields.push(format!("Status <{}>", r.state.as_str()));
    fields.push(format!("Queue <{}>", r.queue));
    fields.push(format!("Job Priority <{}>", r.priority));
    fields.push(format!("Command <{}>", s.command));
    fields.join(", ") + "\n"
}

/// The submission line: where from and what was asked for.
fn submitted(j: &JobHistory) -> String {
    let s = &j.spec;
    let mut parts = vec![format!("Submitted from host <{}>", s.submit_host)];
    if s.hold {
        parts.push("with hold".into());
    }
    parts.push(format!("CWD <{}>", s.cwd));
    let files = [
        ("Input File", &s.stdin),
        ("Output File", &s.stdout),
        ("Error File", &s.stderr),
    ];
    for (what, file) in files.iter().filter(|(_, f)| !f.is_empty()) {
        parts.push(format!("{what} <{file}>"));
    }
    if s.exclusive {
        parts.push("Exclusive Execution".into());
    }
    if s.options.rerunnable {
        parts.push("Re-runnable".into());
    }
    if !s.options.pre_exec.is_empty() {
        parts.push(format!("Pre-execute Command <{}>", s.options.pre_exec));
    }
    if !s.options.post_exec.is_empty() {
        parts.push(format!("Post-execute Command <{}>", s.options.post_exec));
    }
    let processors = s.cpus.max(1) * s.nhosts.max(1);
    if processors > 1 {
        parts.push(format!("{processors} Processors Requested"));
    }
    if !s.dependency.is_empty() {
        parts.push(format!("Dependency Condition <{}>", s.dependency));
    }
    if !s.machines.is_empty() {
        let hosts: Vec<String> = s.machines.iter().map(|m| format!("<{m}>")).collect();
        parts.push(format!("Specified Hosts {}", hosts.join(", ")));
    }
    format!(
        "{}: {};\n",
        format_time(j.row.submit_time, true),
        parts.join(", ")
    )
}

/// One event as LSF words it; `None` for those shown elsewhere.
fn event_line(e: &HistEvent, hosts: &[String], cwd: &str) -> Option<String> {
    let list = |hosts: &[String]| {
        let names: Vec<String> = hosts.iter().map(|h| format!("<{h}>")).collect();
        names.join(" ")
    };
    Some(match e.what {
        event::DISPATCHED => format!("Dispatched to {};", list(&e.hosts)),
        event::FORKED => format!(
            "Started on {} Host(s) {}, Execution CWD <{cwd}>, pid <{}>;",
            hosts.len(),
            list(hosts),
            e.code
        ),
        event::SIGNAL => format!("Signal <{}> requested;", e.code),
        event::HELD => "Held while pending;".into(),
        event::RELEASED => "Released;".into(),
        event::SUSPENDED if e.code == crate::job::PREEMPTED => {
            "Suspended: preempted by a higher-priority queue's job;".into()
        }
        event::SUSPENDED => "Suspended by the user or administrator;".into(),
        event::RESUMED => "Resumed;".into(),
        event::MOVED => format!("Switched queue: {};", e.text),
        event::PRIORITY => format!("Priority changed: {};", e.text),
        event::PENDING => "Pending again (requeued);".into(),
        event::NOTE => format!("{};", e.text),
        event::REQUEUE => format!("Requeue requested {};", e.text),
        event::MODIFIED => format!("Parameters changed: {};", e.text),
        event::FINISHED if e.text == JobState::Done.as_str() => "Done successfully.".into(),
        event::FINISHED => format!("Exited with exit code {}.", e.code),
        _ => return None,
    })
}

/// LSF's memory unit: Mbytes above 1 MB, else Kbytes.
fn memory(kb: u64) -> String {
    if kb >= 1024 {
        format!("{} Mbytes", kb.div_ceil(1024))
    } else {
        format!("{kb} Kbytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::mbd::{JobRow, SubmitRequest};

    fn ev(time: u64, what: u32, code: i32, text: &str, hosts: &[&str]) -> HistEvent {
        HistEvent {
            time,
            what,
            code,
            text: text.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn a_run_limited_job_that_was_killed() {
        let job = JobHistory {
            row: JobRow {
                id: 7,
                user: "ann".into(),
                state: JobState::Exit,
                queue: "normal".into(),
                priority: 30,
                name: "sim".into(),
                exit_code: 140,
                ..JobRow::default()
            },
            spec: SubmitRequest {
                command: "sleep 600".into(),
                cwd: "/home/ann".into(),
                submit_host: "login1".into(),
                stdout: "out.%J".into(),
                cpus: 2,
                options: proto::JobOptions {
                    run_limit: 60,
                    ..Default::default()
                },
                ..SubmitRequest::default()
            },
            events: vec![
                ev(0, event::SUBMITTED, 0, "", &[]),
                ev(0, event::DISPATCHED, 0, "", &["n1"]),
                ev(0, event::FORKED, 4242, "", &[]),
                ev(0, event::NOTE, 0, NOTE, &[]),
                ev(0, event::FINISHED, 140, "EXIT", &[]),
                ev(
                    0,
                    event::USAGE,
                    0,
                    &crate::job::usage_text(&proto::sbd::Usage {
                        user_ms: 10,
                        system_ms: 20,
                        max_rss_kb: 3000,
                    }),
                    &[],
                ),
            ],
        };
        let text = render(&job).replace(&format_time(0, true), "T");
        assert_eq!(
            text,
            "Job <7>, Job Name <sim>, User <ann>, Status <EXIT>, Queue <normal>, Job Priority <30>, Command <sleep 600>\n\
             T: Submitted from host <login1>, CWD </home/ann>, Output File <out.%J>, 2 Processors Requested;\n\
             \n RUNLIMIT\n 1.0 min\n\n\
             T: Dispatched to <n1>;\n\
             T: Started on 1 Host(s) <n1>, Execution CWD </home/ann>, pid <4242>;\n\
             T: TERM_RUNLIMIT: job killed after reaching its run time limit;\n\
             T: Exited with exit code 140.\n\
             \n The CPU time used is 0.0 seconds.\n MEMORY USAGE:\n MAX MEM: 3 Mbytes;\n"
        );
    }

    const NOTE: &str = "TERM_RUNLIMIT: job killed after reaching its run time limit";
}
