//! `lshosts`: every host's static facts, from the master lim.

use lim::{cli, display};

fn main() -> std::process::ExitCode {
    cli::run(false, |_, opts, client| {
        let hosts = client
            .hosts()
            .map_err(|e| cli::describe("ll_hostinfo", &e))?;
        Ok(if opts.json {
            display::lshosts_json(&hosts)
        } else {
            display::lshosts(&hosts)
        })
    })
}
