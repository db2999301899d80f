//! What lsid, lsload and lshosts print: LavaLite's layouts, and `--json`.

use crate::cells::{push_cell, push_fixed, Align};
use proto::lim::{ClusterInfo, HostRecord, LoadVector, INDEX_NAMES};
use serde::Serialize;
use std::fmt::Write;

/// `lsid`'s two lines (the second only when a master is known).
pub fn lsid(info: &ClusterInfo) -> String {
    let mut out = format!("My cluster name is {}\n", info.cluster);
    if !info.master.is_empty() {
        let _ = writeln!(out, "My master name is {}", info.master);
    }
    out
}

/// `lsclusterinfo`: cluster, master and admin in three 20-wide columns
/// (`-` for what is not known).
pub fn lsclusterinfo(info: &ClusterInfo, admin: Option<&str>) -> String {
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    let row = |a: &str, b: &str, c: &str| format!("{a:<20} {b:<20} {c:<20}").trim_end().to_owned();
    format!(
        "{}\n{}\n",
        row("CLUSTER_NAME", "MASTER_HOST", "ADMIN"),
        row(
            &info.cluster,
            &dash(&info.master),
            &dash(admin.unwrap_or_default())
        )
    )
}

/// One load index column of `lsload`.
struct LoadColumn {
    header: &'static str,
    index: usize,
    width: usize,
    decimals: usize,
    /// Printed after the number.
    unit: &'static str,
    /// The index's value is divided by this (memory: MB sent, GB shown).
    divisor: f64,
}

const fn column(header: &'static str, index: usize, decimals: usize) -> LoadColumn {
    LoadColumn {
        header,
        index,
        width: 6,
        decimals,
        unit: "",
        divisor: 1.0,
    }
}

const fn memory(header: &'static str, index: usize) -> LoadColumn {
    LoadColumn {
        unit: "G",
        divisor: 1024.0,
        ..column(header, index, 0)
    }
}

/// `lsload`'s columns after HOST_NAME and status; [`LONG`] go before
/// [`MEMORY`] with `-l`.
const LOADS: [LoadColumn; 4] = [
    column("r15s", LoadVector::R15S, 1),
    column("r1m", LoadVector::R1M, 1),
    column("r15m", LoadVector::R15M, 1),
    LoadColumn {
        width: 4,
        unit: "%",
        ..column("ut", LoadVector::UT, 0)
    },
];
const LONG: [LoadColumn; 4] = [
    column("pg", LoadVector::PG, 1),
    column("io", LoadVector::IO, 1),
    column("ls", LoadVector::LS, 1),
    column("it", LoadVector::IT, 0),
];
const MEMORY: [LoadColumn; 3] = [
    memory("mem", LoadVector::MEM),
    memory("swp", LoadVector::SWP),
    memory("tmp", LoadVector::TMP),
];

/// `lsload [-l]`: one row per host in cluster-file order.
pub fn lsload(hosts: &[HostRecord], long: bool) -> String {
    let long: &[LoadColumn] = if long { &LONG } else { &[] };
    let columns: Vec<&LoadColumn> = LOADS.iter().chain(long).chain(&MEMORY).collect();
    // ~80 bytes a row: one allocation for the whole listing.
    let mut out = String::with_capacity(100 * (hosts.len() + 1));
    push_cell(&mut out, "HOST_NAME", 16, Align::Left);
    push_cell(&mut out, "status", 8, Align::Left);
    for c in &columns {
        push_cell(&mut out, c.header, c.width, Align::Right);
    }
    out.push('\n');
    let mut number = String::new();
    for host in hosts {
        push_cell(&mut out, &host.name, 16, Align::Left);
        if !host.available {
            push_cell(&mut out, "unavail", 8, Align::Left);
            out.push_str(" -\n");
            continue;
        }
        push_cell(&mut out, "ok", 8, Align::Left);
        for c in &columns {
            let value = host.load.0[c.index];
            number.clear();
            push_fixed(&mut number, value / c.divisor, c.decimals);
            number.push_str(c.unit);
            push_cell(&mut out, &number, c.width, Align::Right);
        }
        out.push('\n');
    }
    out
}

/// `lshosts`: static facts per host; rows aligned under the header.
pub fn lshosts(hosts: &[HostRecord]) -> String {
    let mut out = format!(
        "{:<20} {:<16} {:>6} {:>8} {:>8} {:>8} {:>6}\n",
        "HOST_NAME", "type", "ncpus", "maxmem", "maxswp", "maxtmp", "master"
    );
    for host in hosts {
        let s = &host.static_info;
        let host_type = if s.host_type.is_empty() {
            "-"
        } else {
            s.host_type.as_str()
        };
        let _ = writeln!(
            out,
            "{:<20} {:<16} {:>6} {:>8} {:>8} {:>8} {:>6}",
            host.name,
            host_type,
            s.ncpus,
            s.maxmem_mb,
            s.maxswp_mb,
            s.maxtmp_mb,
            if host.candidate { "yes" } else { "no" }
        );
    }
    out
}

#[derive(Serialize)]
struct LsidJson<'a> {
    cluster: &'a str,
    master: Option<&'a str>,
    epoch: u64,
}

pub fn lsclusterinfo_json(info: &ClusterInfo, admin: Option<&str>) -> String {
    to_json(&ClusterInfoJson {
        cluster: &info.cluster,
        master: Some(info.master.as_str()).filter(|m| !m.is_empty()),
        admin,
    })
}

#[derive(Serialize)]
struct ClusterInfoJson<'a> {
    cluster: &'a str,
    master: Option<&'a str>,
    admin: Option<&'a str>,
}

pub fn lsid_json(info: &ClusterInfo) -> String {
    to_json(&LsidJson {
        cluster: &info.cluster,
        master: Some(info.master.as_str()).filter(|m| !m.is_empty()),
        epoch: info.epoch,
    })
}

#[derive(Serialize)]
struct LoadJson<'a> {
    host: &'a str,
    status: &'a str,
    /// Index name -> value; absent while the host is unavailable.
    load: Option<serde_json::Map<String, serde_json::Value>>,
}

pub fn lsload_json(hosts: &[HostRecord]) -> String {
    let rows: Vec<_> = hosts
        .iter()
        .map(|h| LoadJson {
            host: &h.name,
            status: if h.available { "ok" } else { "unavail" },
            load: h.available.then(|| {
                INDEX_NAMES
                    .iter()
                    .zip(h.load.0)
                    .map(|(name, v)| (name.to_string(), serde_json::json!(v)))
                    .collect()
            }),
        })
        .collect();
    to_json(&rows)
}

#[derive(Serialize)]
struct HostJson<'a> {
    host: &'a str,
    #[serde(rename = "type")]
    host_type: &'a str,
    model: &'a str,
    ncpus: u32,
    maxmem: u64,
    maxswp: u64,
    maxtmp: u64,
    master: bool,
    status: &'a str,
}

pub fn lshosts_json(hosts: &[HostRecord]) -> String {
    let rows: Vec<_> = hosts
        .iter()
        .map(|h| HostJson {
            host: &h.name,
            host_type: &h.static_info.host_type,
            model: &h.static_info.model,
            ncpus: h.static_info.ncpus,
            maxmem: h.static_info.maxmem_mb,
            maxswp: h.static_info.maxswp_mb,
            maxtmp: h.static_info.maxtmp_mb,
            master: h.candidate,
            status: if h.available { "ok" } else { "unavail" },
        })
        .collect();
    to_json(&rows)
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::lim::StaticInfo;

    fn hosts() -> Vec<HostRecord> {
        let load = LoadVector([
            2.0, 0.5, 0.4, 12.4, 0.0, 3.0, 0.0, 0.0, 40960.0, 8192.0, 62464.0,
        ]);
        vec![
            HostRecord {
                name: "node01".into(),
                candidate: true,
                available: true,
                static_info: StaticInfo {
                    ncpus: 16,
                    maxmem_mb: 64000,
                    maxswp_mb: 8191,
                    maxtmp_mb: 40000,
                    host_type: "x86_64".into(),
                    model: "cpu".into(),
                },
                load,
            },
            HostRecord {
                name: "node07".into(),
                candidate: false,
                available: false,
                static_info: StaticInfo::default(),
                load: LoadVector::default(),
            },
        ]
    }

    #[test]
    fn lsload_matches_lavalites_layout() {
        assert_eq!(
            lsload(&hosts(), false),
            "HOST_NAME        status     r15s    r1m   r15m   ut    mem    swp    tmp\n\
             node01           ok          2.0    0.5    0.4  12%    61G     8G    40G\n\
             node07           unavail  -\n"
        );
        let long = lsload(&hosts(), true);
        let mut lines = long.lines();
        assert_eq!(
            lines.next().unwrap(),
            "HOST_NAME        status     r15s    r1m   r15m   ut     pg     io     ls     it    mem    swp    tmp"
        );
        assert_eq!(
            lines.next().unwrap(),
            "node01           ok          2.0    0.5    0.4  12%    0.0    3.0    0.0      0    61G     8G    40G"
        );
    }

    #[test]
    fn lshosts_rows_line_up_with_the_header() {
        assert_eq!(
            lshosts(&hosts()),
            "HOST_NAME            type              ncpus   maxmem   maxswp   maxtmp master\n\
             node01               x86_64               16    64000     8191    40000    yes\n\
             node07               -                     0        0        0        0     no\n"
        );
    }

    #[test]
    fn lsid_and_json() {
        let mut info = ClusterInfo {
            cluster: "alpha".into(),
            master: "node01".into(),
            master_addr: "127.0.0.1:1".into(),
            epoch: 2,
            answered_by: "node01".into(),
        };
        assert_eq!(
            lsid(&info),
            "My cluster name is alpha\nMy master name is node01\n"
        );
        let json: serde_json::Value = serde_json::from_str(&lsid_json(&info)).unwrap();
        assert_eq!(json["master"], "node01");
        info.master.clear();
        assert_eq!(lsid(&info), "My cluster name is alpha\n");
        assert_eq!(
            lsclusterinfo(&info, Some("llsched")),
            "CLUSTER_NAME         MASTER_HOST          ADMIN\n\
             alpha                -                    llsched\n"
        );
        let load: serde_json::Value = serde_json::from_str(&lsload_json(&hosts())).unwrap();
        assert_eq!(load[0]["load"]["ut"], 12.4);
        assert_eq!(load[1]["status"], "unavail");
        let h: serde_json::Value = serde_json::from_str(&lshosts_json(&hosts())).unwrap();
        assert_eq!(
            (h[0]["type"].as_str(), h[0]["master"].as_bool()),
            (Some("x86_64"), Some(true))
        );
    }
}
