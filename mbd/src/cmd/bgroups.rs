//! `bgroups [--json]`: the host groups of llb.hosts and their members.

use super::{parse_args, print_list, ListingFlags, VERSION};
use proto::mbd::{op, GroupRow};
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bgroups", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "List the host groups")]
pub struct Args {
    #[command(flatten)]
    listing: ListingFlags,
    /// `--vesion`, LavaLite's bgroups' spelling, kept for old scripts.
    #[arg(long = "vesion", hide = true, action = clap::ArgAction::Version)]
    vesion: Option<bool>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    print_list("bgroups", op::GROUPS, args.listing.json, group_json, render)
}

/// LavaLite's listing: a header, a dash line as wide as each column (at
/// most 46 dashes), then one line per group with its hosts.
pub fn render(rows: &[GroupRow]) -> String {
    if rows.is_empty() {
        return "No host groups configured.\n".into();
    }
    let members: Vec<String> = rows.iter().map(|g| g.members.join(" ")).collect();
    let widest =
        |header: &str, cells: &mut dyn Iterator<Item = usize>| cells.fold(header.len(), usize::max);
    let name_w = widest("GROUP_NAME", &mut rows.iter().map(|g| g.name.len()));
    let members_w = widest("GROUP_MEMBER", &mut members.iter().map(String::len));
    let mut lines = vec![
        format!("{:<name_w$}  GROUP_MEMBER", "GROUP_NAME"),
        format!(
            "{}  {}",
            "-".repeat(name_w.min(46)),
            "-".repeat(members_w.min(46))
        ),
    ];
    for (g, m) in rows.iter().zip(&members) {
        lines.push(format!("{:<name_w$}  {m}", g.name));
    }
    lines
        .iter()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

#[derive(Serialize)]
struct GroupJson {
    group_name: String,
    members: Vec<String>,
}

fn group_json(g: &GroupRow) -> GroupJson {
    GroupJson {
        group_name: g.name.clone(),
        members: g.members.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_list_with_a_dash_line_under_the_header() {
        let rows = [
            GroupRow {
                name: "cpus".into(),
                members: vec!["cpu01".into(), "cpu02".into()],
            },
            GroupRow {
                name: "gpus".into(),
                members: vec!["gpu01".into()],
            },
        ];
        assert_eq!(
            render(&rows),
            "GROUP_NAME  GROUP_MEMBER\n\
             ----------  ------------\n\
             cpus        cpu01 cpu02\n\
             gpus        gpu01\n"
        );
        let many = [GroupRow {
            name: "all".into(),
            members: (0..20).map(|i| format!("node{i:02}")).collect(),
        }];
        let out = render(&many);
        assert_eq!(
            out.lines().nth(1),
            Some(&*format!("{}  {}", "-".repeat(10), "-".repeat(46)))
        );
        assert_eq!(render(&[]), "No host groups configured.\n");
    }
}
