//! `bqueues [-l] [--json]`, `bqueues -c|-o QUEUE` (admin).

use super::{
    control_or_list, or_dash, parse_args, print_json, Align, ListingFlags, Table, VERSION,
};
use proto::mbd::{op, QueueRow};
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bqueues", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "List or control queues")]
pub struct Args {
    #[command(flatten)]
    listing: ListingFlags,
    /// One block per queue
    #[arg(short = 'l', long)]
    long: bool,
    /// Close QUEUE (it still accepts jobs, dispatches none)
    #[arg(short = 'c', long, value_name = "QUEUE", conflicts_with = "open")]
    close: Option<String>,
    /// Open QUEUE
    #[arg(short = 'o', long, value_name = "QUEUE")]
    open: Option<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let rows: Vec<QueueRow> = match control_or_list(
        "bqueues",
        ("queue", op::QUEUE_CONTROL),
        op::QUEUES,
        args.close.as_ref(),
        args.open.as_ref(),
    ) {
        Ok(rows) => rows,
        Err(code) => return code,
    };
    if args.listing.json {
        print_json(&rows.iter().map(QueueJson::from).collect::<Vec<_>>());
    } else if args.long {
        os::say!("{}", render_long(&rows));
    } else {
        os::say!("{}", render(&rows));
    }
    ExitCode::SUCCESS
}

fn status(row: &QueueRow) -> &'static str {
    if row.open {
        "open"
    } else {
        "closed"
    }
}

/// A fair-share queue's `USER_SHARES:` line and `SHARE_INFO_FOR:` table
/// (LSF's layout); nothing for another queue.
fn shares(q: &QueueRow) -> String {
    if q.shares.is_empty() {
        return String::new();
    }
    let list: Vec<String> = (q.shares.iter())
        .map(|s| format!("[{}, {}]", s.account, s.shares))
        .collect();
    let mut out = format!(
        "  USER_SHARES:  {}\n\n  SHARE_INFO_FOR: {}/\n",
        list.join(" "),
        q.name
    );
    out.push_str("   USER/GROUP   SHARES  PRIORITY  STARTED  CPU_TIME  RUN_TIME\n");
    for s in &q.shares {
        out.push_str(&format!(
            "   {:<12} {:>6} {:>9.3} {:>8} {:>9.1} {:>9}\n",
            s.account,
            s.shares,
            s.priority_milli as f64 / 1000.0,
            s.started,
            s.cpu_secs as f64,
            s.run_secs
        ));
    }
    out.push('\n');
    out
}

/// A slot limit as bqueues shows it: `-` for none.
fn limit(n: u32) -> String {
    match n {
        0 => "-".into(),
        n => n.to_string(),
    }
}

fn unlimited_or(n: u32) -> String {
    match n {
        0 => "unlimited".into(),
        n => n.to_string(),
    }
}

pub fn render(rows: &[QueueRow]) -> String {
    let mut table = Table::new(&[
        ("QUEUE_NAME", Align::Left),
        ("PRIO", Align::Left),
        ("STATUS", Align::Left),
        ("MAX", Align::Right),
        ("NJOBS", Align::Right),
        ("PEND", Align::Right),
        ("HELD", Align::Right),
        ("RUN", Align::Right),
        ("SUSP", Align::Right),
        ("USED_CPUS", Align::Right),
        ("USED_HOSTS", Align::Right),
    ]);
    for q in rows {
        let njobs = q.pend + q.held + q.run + q.susp;
        let numbers = [
            njobs,
            q.pend,
            q.held,
            q.run,
            q.susp,
            q.used_cpus,
            q.used_hosts,
        ];
        let mut cells = vec![
            q.name.clone(),
            q.priority.to_string(),
            status(q).into(),
            limit(q.max_slots),
        ];
        cells.extend(numbers.iter().map(u32::to_string));
        table.row(cells);
    }
    table.render()
}

/// `bqueues -l`: one block per queue, blank lines between.
pub fn render_long(rows: &[QueueRow]) -> String {
    let blocks: Vec<String> = rows
        .iter()
        .map(|q| {
            let mut b = format!("QUEUE: {}\n", q.name);
            if !q.description.is_empty() {
                b.push_str(&format!("  Description: {}\n", q.description));
            }
            b.push_str(&format!(
                "  Priority:    {}    Status: {}    Max jobs: {}\n",
                q.priority,
                status(q),
                unlimited_or(q.max_slots)
            ));
            if !q.accepting {
                b.push_str("  Submissions: closed to new jobs (badmin qopen opens it)\n");
            }
            if q.user_slots + q.host_slots > 0 || !q.processor_slots.is_empty() {
                b.push_str(&format!(
                    "  Slot limits: JL/U {}    JL/H {}    JL/P {}\n",
                    limit(q.user_slots),
                    limit(q.host_slots),
                    or_dash(&q.processor_slots)
                ));
            }
            b.push_str(&shares(q));
            b.push_str(&wrapped_list("Users:", &q.users));
            b.push_str(&wrapped_list("Hosts:", &q.hosts));
            b.push_str(&format!(
                "  Jobs:        run={}    pend={}    held={}    susp={}\n",
                q.run, q.pend, q.held, q.susp
            ));
            b.push_str(&format!(
                "  Resources:   cpus_used={}    hosts_used={}\n",
                q.used_cpus, q.used_hosts
            ));
            b
        })
        .collect();
    blocks.join("\n")
}

/// `  Label:      item item`, wrapped before column 79 with a 14-space
/// continuation; `all` for an empty list.
fn wrapped_list(label: &str, items: &[String]) -> String {
    let mut line = format!("  {label:<12}");
    if items.is_empty() {
        return format!("{line}all\n");
    }
    let mut out = String::new();
    for item in items {
        if line.len() + 1 + item.len() >= 79 && line.trim().len() > label.len() {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(13);
        }
        line.push(' ');
        line.push_str(item);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[derive(Serialize)]
struct QueueJson<'a> {
    queue_name: &'a str,
    priority: i32,
    status: &'static str,
    /// Takes new jobs (`badmin qclose` stops it).
    accepting: bool,
    description: &'a str,
    users: &'a [String],
    hosts: &'a [String],
    njobs: u32,
    pend: u32,
    held: u32,
    run: u32,
    susp: u32,
    used_cpus: u32,
    used_hosts: u32,
    /// Slot limits; absent: unlimited.
    qjob_limit: Option<u32>,
    ujob_limit: Option<u32>,
    hjob_limit: Option<u32>,
    pjob_limit: Option<&'a str>,
}

impl<'a> From<&'a QueueRow> for QueueJson<'a> {
    fn from(q: &'a QueueRow) -> Self {
        QueueJson {
            queue_name: &q.name,
            priority: q.priority,
            status: status(q),
            accepting: q.accepting,
            description: &q.description,
            users: &q.users,
            hosts: &q.hosts,
            njobs: q.pend + q.held + q.run + q.susp,
            pend: q.pend,
            held: q.held,
            run: q.run,
            susp: q.susp,
            used_cpus: q.used_cpus,
            used_hosts: q.used_hosts,
            qjob_limit: (q.max_slots > 0).then_some(q.max_slots),
            ujob_limit: (q.user_slots > 0).then_some(q.user_slots),
            hjob_limit: (q.host_slots > 0).then_some(q.host_slots),
            pjob_limit: (!q.processor_slots.is_empty()).then_some(q.processor_slots.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal() -> QueueRow {
        QueueRow {
            name: "normal".into(),
            priority: 30,
            open: true,
            accepting: true,
            description: "General CPU work".into(),
            users: vec!["alice".into(), "bob".into()],
            hosts: vec!["cpu01".into(), "cpu02".into()],
            pend: 1,
            held: 1,
            run: 1,
            susp: 0,
            used_cpus: 4,
            used_hosts: 1,
            max_slots: 0,
            user_slots: 0,
            host_slots: 0,
            processor_slots: String::new(),
            shares: Vec::new(),
        }
    }

    #[test]
    fn slot_limits_show_in_max_and_the_long_form() {
        let limited = QueueRow {
            max_slots: 16,
            user_slots: 4,
            processor_slots: "1.5".into(),
            ..normal()
        };
        let table = render(std::slice::from_ref(&limited));
        assert_eq!(
            table.lines().nth(1).unwrap().split_whitespace().nth(3),
            Some("16")
        );
        let long = render_long(&[limited]);
        assert!(long.contains("Max jobs: 16\n"), "{long}");
        assert!(
            long.contains("  Slot limits: JL/U 4    JL/H -    JL/P 1.5\n"),
            "{long}"
        );
        assert!(!render_long(&[normal()]).contains("Slot limits"));
    }

    #[test]
    fn table_and_long_formats_match_lavalite() {
        assert_eq!(
            render(&[normal()]),
            "QUEUE_NAME  PRIO  STATUS  MAX  NJOBS  PEND  HELD  RUN  SUSP  USED_CPUS  USED_HOSTS\n\
             normal      30    open      -      3     1     1    1     0          4           1\n"
        );
        assert_eq!(
            render_long(&[normal()]),
            "QUEUE: normal\n  Description: General CPU work\n  \
             Priority:    30    Status: open    Max jobs: unlimited\n  Users:       alice bob\n  \
             Hosts:       cpu01 cpu02\n  Jobs:        run=1    pend=1    held=1    susp=0\n  \
             Resources:   cpus_used=4    hosts_used=1\n"
        );
        let everyone = QueueRow {
            users: vec![],
            ..normal()
        };
        assert!(render_long(&[everyone]).contains("  Users:      all\n"));
    }
}
