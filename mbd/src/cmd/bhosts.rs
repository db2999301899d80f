//! `bhosts [--json]`, `bhosts -c|-o HOST` (admin).

use super::{
    control_or_list, or_dash, parse_args, print_json, Align, ListingFlags, Table, VERSION,
};
use proto::mbd::{op, HostRow};
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "bhosts", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "List or control batch hosts")]
pub struct Args {
    #[command(flatten)]
    listing: ListingFlags,
    /// Close HOST to new jobs
    #[arg(short = 'c', long, value_name = "HOST", conflicts_with = "open")]
    close: Option<String>,
    /// Open HOST
    #[arg(short = 'o', long, value_name = "HOST")]
    open: Option<String>,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let rows: Vec<HostRow> = match control_or_list(
        "bhosts",
        ("host", op::HOST_CONTROL),
        op::HOSTS,
        args.close.as_ref(),
        args.open.as_ref(),
    ) {
        Ok(rows) => rows,
        Err(code) => return code,
    };
    if args.listing.json {
        print_json(&rows.iter().map(HostJson::from).collect::<Vec<_>>());
    } else {
        os::say!("{}", render(&rows));
    }
    ExitCode::SUCCESS
}

/// LavaLite's two host states: `ok`, or `unavail` when lim reports the
/// host down or its sbd is not connected (`--json` tells which).
fn state(h: &HostRow) -> String {
    let base = if h.available && h.sbd {
        "ok"
    } else {
        "unavail"
    };
    if h.closed {
        format!("{base}|closed")
    } else {
        base.to_owned()
    }
}

pub fn render(rows: &[HostRow]) -> String {
    let r = Align::Right;
    let mut table = Table::new(&[
        ("HOST_NAME", Align::Left),
        ("STATE", Align::Left),
        ("NCPU", r),
        ("MEM_MB", r),
        ("STOR_GB", r),
        ("NGPU", r),
        ("NJOBS", r),
        ("RUN", r),
        ("SUSP", r),
        ("USED_CPU", r),
        ("USED_MB", r),
        ("USED_GB", r),
        ("USED_GPU", r),
        ("GPU_MODEL", Align::Left),
        ("GPU_IDS", Align::Left),
    ]);
    for h in rows {
        let numbers = [
            u64::from(h.ncpu),
            h.mem_mb,
            h.storage_mb / 1024,
            u64::from(h.ngpu),
            u64::from(h.njobs),
            u64::from(h.run),
            u64::from(h.susp),
            u64::from(h.used_cpu),
            h.used_mb,
            h.used_storage_mb / 1024,
            u64::from(h.used_gpu),
        ];
        let mut cells = vec![h.name.clone(), state(h)];
        cells.extend(numbers.iter().map(u64::to_string));
        cells.push(or_dash(&h.gpu_model).to_owned());
        cells.push(or_dash(&h.gpu_ids).to_owned());
        table.row(cells);
    }
    table.render()
}

#[derive(Serialize)]
struct HostJson<'a> {
    host_name: &'a str,
    state: String,
    /// lim reports the host up.
    lim_up: bool,
    /// Its sbd is connected to mbd.
    sbd_connected: bool,
    ncpu: u32,
    mem_mb: u64,
    storage_mb: u64,
    ngpu: u32,
    njobs: u32,
    run: u32,
    susp: u32,
    used_cpu: u32,
    used_mb: u64,
    used_storage_mb: u64,
    used_gpu: u32,
    gpu_model: Option<&'a str>,
    gpu_ids: Option<&'a str>,
    /// `MXJ` and `JL/U`; absent: unlimited.
    max_slots: Option<u32>,
    user_slots: Option<u32>,
}

impl<'a> From<&'a HostRow> for HostJson<'a> {
    fn from(h: &'a HostRow) -> Self {
        HostJson {
            host_name: &h.name,
            state: state(h),
            lim_up: h.available,
            sbd_connected: h.sbd,
            ncpu: h.ncpu,
            mem_mb: h.mem_mb,
            storage_mb: h.storage_mb,
            ngpu: h.ngpu,
            njobs: h.njobs,
            run: h.run,
            susp: h.susp,
            used_cpu: h.used_cpu,
            used_mb: h.used_mb,
            used_storage_mb: h.used_storage_mb,
            used_gpu: h.used_gpu,
            gpu_model: (!h.gpu_model.is_empty()).then_some(h.gpu_model.as_str()),
            gpu_ids: (!h.gpu_ids.is_empty()).then_some(h.gpu_ids.as_str()),
            max_slots: (h.max_slots > 0).then_some(h.max_slots),
            user_slots: (h.user_slots > 0).then_some(h.user_slots),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_less_hosts_show_dashes_and_closed_hosts_say_so() {
        let gpu = HostRow {
            name: "gpu01".into(),
            available: true,
            sbd: true,
            closed: false,
            ncpu: 48,
            mem_mb: 524288,
            storage_mb: 4096 * 1024,
            ngpu: 4,
            njobs: 1,
            run: 1,
            susp: 0,
            used_cpu: 4,
            used_mb: 512,
            used_storage_mb: 0,
            used_gpu: 1,
            gpu_model: "H100".into(),
            gpu_ids: "0-3".into(),
            max_slots: 0,
            user_slots: 0,
        };
        let cpu = HostRow {
            name: "cpu01".into(),
            closed: true,
            ngpu: 0,
            gpu_model: String::new(),
            gpu_ids: String::new(),
            ..gpu.clone()
        };
        let no_sbd = HostRow {
            name: "cpu02".into(),
            sbd: false,
            ..cpu.clone()
        };
        let lim_down = HostRow {
            name: "cpu03".into(),
            available: false,
            closed: false,
            ..cpu.clone()
        };
        let out = render(&[gpu, cpu.clone()]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "HOST_NAME  STATE      NCPU  MEM_MB  STOR_GB  NGPU  NJOBS  RUN  SUSP  USED_CPU  USED_MB  USED_GB  USED_GPU  GPU_MODEL  GPU_IDS");
        assert_eq!(lines[1], "gpu01      ok           48  524288     4096     4      1    1     0         4      512        0         1  H100       0-3");
        assert!(
            lines[2].starts_with("cpu01      ok|closed") && lines[2].ends_with("  -          -"),
            "{}",
            lines[2]
        );
        let out = render(&[cpu, no_sbd, lim_down]);
        let states: Vec<&str> = (out.lines().skip(1))
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        assert_eq!(states, ["ok|closed", "unavail|closed", "unavail"]);
    }
}
