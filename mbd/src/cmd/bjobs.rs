//! `bjobs [-a] [-p] [-r] [-s] [-d] [-l] [-w] [-u USER] [--json] [job_ref...]`.

use super::{
    client, display_id, fail, or_dash, parse_args, parse_job_ref, print_json, ListingFlags,
    TimeColumn,
};
use super::{Align, Table, VERSION};
use crate::client::BatchClient;
use proto::mbd::{
    op, HistoryChunk, HistoryRequest, JobHistory, JobRef, JobRow, JobState, JobsChunk, JobsRequest,
};
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bjobs", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "List batch jobs")]
pub struct Args {
    #[command(flatten)]
    listing: ListingFlags,
    /// Pending, running and finished jobs
    #[arg(short = 'a', long)]
    all: bool,
    /// Pending jobs, with the reason each waits
    #[arg(short = 'p', long)]
    pend: bool,
    /// Running jobs
    #[arg(short = 'r', long)]
    run: bool,
    /// Suspended jobs
    #[arg(short = 's', long)]
    susp: bool,
    /// LSF's long format: command, directories, times, hosts, limits, reasons
    #[arg(short = 'l', long)]
    long: bool,
    /// Wide: accepted as in LSF (columns here are never cut)
    #[arg(short = 'w', long)]
    wide: bool,
    /// Finished jobs mbd still holds
    #[arg(short = 'd', long)]
    done: bool,
    /// Only this user's jobs
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Jobs (N), arrays (N) or elements (N[i])
    job_ref: Vec<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let requests = match requests(&args) {
        Ok(r) => r,
        Err(e) => return fail("bjobs", e),
    };
    let client = match client("bjobs") {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut rows: Vec<JobRow> = Vec::new();
    let mut missing = false;
    for request in &requests {
        match client.stream(op::JOBS, request, |c: &JobsChunk| c.more) {
            Ok(chunks) => rows.extend(chunks.into_iter().flat_map(|c| c.jobs)),
            // One job of several not found: said, and the others shown.
            Err(e) if requests.len() > 1 => {
                eprintln!("{}", e.reason());
                missing = true;
            }
            Err(e) => return fail("bjobs", e.reason()),
        }
    }
    if args.susp {
        rows.retain(|r| r.state == JobState::Susp);
    }
    let code = if missing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    if args.long {
        return match long_form(&client, &rows) {
            Ok(_) if rows.is_empty() => {
                os::sayln!("No jobs found.");
                code
            }
            Ok(text) => {
                os::say!("{text}");
                code
            }
            Err(e) => fail("bjobs", e),
        };
    }
    if args.listing.json {
        print_json(&rows.iter().map(JobJson::from).collect::<Vec<_>>());
    } else if rows.is_empty() {
        os::sayln!("No jobs found.");
    } else {
        // Reasons with --pend only, as LavaLite (--all lists them without).
        os::say!("{}", render(&rows, args.pend));
    }
    code
}

/// One request per job named, or one for the filters.
fn requests(a: &Args) -> Result<Vec<JobsRequest>, String> {
    if let Some(user) = &a.user {
        if os::users::by_name(user).is_none() {
            return Err(format!("unknown user '{user}'"));
        }
    }
    let filters = JobsRequest {
        pend: a.pend || a.all,
        run: a.run || a.all || a.susp,
        done: a.done || a.all,
        user: a.user.clone().unwrap_or_default(),
        job: JobRef::default(),
    };
    if a.job_ref.is_empty() {
        return Ok(vec![filters]);
    }
    if a.all || a.pend || a.run || a.done || a.susp {
        return Err("job_id is mutually exclusive with filter options".into());
    }
    (a.job_ref.iter())
        .map(|text| {
            let job = parse_job_ref(text).ok_or(format!("invalid job reference '{text}'"))?;
            Ok(JobsRequest {
                job,
                ..filters.clone()
            })
        })
        .collect()
}

/// `bjobs -l` of `rows`: each job's history from mbd, in LSF's layout.
fn long_form(client: &BatchClient, rows: &[JobRow]) -> Result<String, String> {
    let mut blocks = Vec::with_capacity(rows.len());
    for row in rows {
        let job = match row.array_id {
            0 => JobRef {
                id: row.id,
                index: 0,
            },
            array => JobRef {
                id: array,
                index: row.index,
            },
        };
        let request = HistoryRequest {
            job,
            user: String::new(),
        };
        let chunks = (client.stream(op::HISTORY, &request, |c: &HistoryChunk| c.more))
            .map_err(|e| e.reason())?;
        let found: Vec<JobHistory> = chunks.into_iter().flat_map(|c| c.jobs).collect();
        blocks.extend(found.iter().map(super::bjobs_long::render));
    }
    Ok(blocks.join(&format!("{}\n", "-".repeat(78))))
}

/// LavaLite's table; with `reasons`, each PEND job is followed by
/// `  PEND: <reason>`.
pub fn render(rows: &[JobRow], reasons: bool) -> String {
    let columns = [
        ("JOBID", Align::Left),
        ("USER", Align::Left),
        ("STAT", Align::Left),
        ("QUEUE", Align::Left),
        ("PRI", Align::Left),
        ("RUN_HOSTS", Align::Left),
        ("JOB_NAME", Align::Left),
        ("SUBMIT_TIME", Align::Left),
    ];
    let mut table = Table::new(&columns);
    let mut submitted = TimeColumn::new(false);
    for row in rows {
        let slots: Vec<String> = row
            .hosts
            .iter()
            .map(|s| format!("{}@{}", s.cpus, s.host))
            .collect();
        table.row(vec![
            display_id(row),
            or_dash(&row.user).to_owned(),
            row.state.as_str().to_owned(),
            row.queue.clone(),
            row.priority.to_string(),
            slots.first().map_or("-", String::as_str).to_owned(),
            or_dash(&row.name).to_owned(),
            submitted.text(row.submit_time),
        ]);
        for more in slots.iter().skip(1) {
            table.row(vec![
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                more.clone(),
            ]);
        }
        if reasons && row.state == JobState::Pend {
            table.note(format!("  PEND: {}", row.pend_reason));
        }
    }
    table.render()
}

#[derive(Serialize)]
struct JobJson<'a> {
    jobid: String,
    id: u32,
    array_id: Option<u32>,
    index: Option<u32>,
    user: &'a str,
    stat: &'static str,
    queue: &'a str,
    priority: i32,
    run_hosts: Vec<String>,
    job_name: &'a str,
    submit_time: u64,
    pend_reason: Option<&'a str>,
    start_time: Option<u64>,
    end_time: Option<u64>,
    exit_code: Option<i32>,
}

impl<'a> From<&'a JobRow> for JobJson<'a> {
    fn from(r: &'a JobRow) -> Self {
        JobJson {
            jobid: display_id(r),
            id: r.id,
            array_id: (r.array_id != 0).then_some(r.array_id),
            index: (r.array_id != 0).then_some(r.index),
            user: &r.user,
            stat: r.state.as_str(),
            queue: &r.queue,
            priority: r.priority,
            run_hosts: r
                .hosts
                .iter()
                .map(|s| format!("{}@{}", s.cpus, s.host))
                .collect(),
            job_name: &r.name,
            submit_time: r.submit_time,
            pend_reason: (!r.pend_reason.is_empty()).then_some(r.pend_reason.as_str()),
            start_time: (r.start_time != 0).then_some(r.start_time),
            end_time: (r.end_time != 0).then_some(r.end_time),
            exit_code: r.state.is_finished().then_some(r.exit_code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::mbd::HostSlot;

    fn row(id: u32, state: JobState, hosts: &[&str]) -> JobRow {
        JobRow {
            id,
            array_id: if id > 100 { 100 } else { 0 },
            index: id.saturating_sub(100),
            user: "david".into(),
            state,
            queue: "normal".into(),
            priority: 30,
            hosts: hosts
                .iter()
                .map(|h| HostSlot {
                    host: h.to_string(),
                    cpus: 4,
                })
                .collect(),
            pend_reason: "waiting for job dependency".into(),
            ..JobRow::default()
        }
    }

    #[test]
    fn rows_align_and_extra_hosts_continue_under_run_hosts() {
        let out = render(
            &[
                row(105, JobState::Run, &["node01", "node02"]),
                row(7, JobState::Pend, &[]),
            ],
            true,
        );
        assert_eq!(
            out,
            "JOBID   USER   STAT  QUEUE   PRI  RUN_HOSTS  JOB_NAME  SUBMIT_TIME\n\
             100[5]  david  RUN   normal  30   4@node01   -         -\n                                  4@node02\n\
             7       david  PEND  normal  30   -          -         -\n  PEND: waiting for job dependency\n"
        );
        let fields: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(fields[2], "RUN", "scripts read STAT as awk field 3");
    }
}
