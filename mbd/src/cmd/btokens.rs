//! `btokens [--json]`: the token pools and what running jobs hold.

use super::{parse_args, print_list, Align, ListingFlags, Table, VERSION};
use proto::mbd::{op, TokenRow};
use serde::Serialize;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(name = "btokens", version = VERSION, disable_version_flag = true, infer_long_args = true, about = "List the token pools")]
pub struct Args {
    #[command(flatten)]
    listing: ListingFlags,
}

pub fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    print_list("btokens", op::TOKENS, args.listing.json, pool_json, render)
}

/// LavaLite's table, or its line for a cluster without pools.
pub fn render(rows: &[TokenRow]) -> String {
    if rows.is_empty() {
        return "No token pools configured.\n".into();
    }
    let mut table = Table::new(&[
        ("POOL_NAME", Align::Left),
        ("TOTAL", Align::Right),
        ("USED", Align::Right),
        ("FREE", Align::Right),
    ]);
    for t in rows {
        let numbers = [t.total, t.used, free(t)];
        let mut cells = vec![t.name.clone()];
        cells.extend(numbers.iter().map(u32::to_string));
        table.row(cells);
    }
    table.render()
}

fn free(t: &TokenRow) -> u32 {
    t.total.saturating_sub(t.used)
}

#[derive(Serialize)]
struct PoolJson {
    pool_name: String,
    total: u32,
    used: u32,
    free: u32,
}

fn pool_json(t: &TokenRow) -> PoolJson {
    PoolJson {
        pool_name: t.name.clone(),
        total: t.total,
        used: t.used,
        free: free(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_line_up_as_in_lavalite() {
        let rows = [
            TokenRow {
                name: "ansys".into(),
                total: 8,
                used: 3,
            },
            TokenRow {
                name: "matlab_parallel".into(),
                total: 128,
                used: 0,
            },
        ];
        assert_eq!(
            render(&rows),
            "POOL_NAME        TOTAL  USED  FREE\n\
             ansys                8     3     5\n\
             matlab_parallel    128     0   128\n"
        );
        assert_eq!(render(&[]), "No token pools configured.\n");
    }
}
