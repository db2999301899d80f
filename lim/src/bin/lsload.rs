//! `lsload [-l]`: every host's load, from the master lim.

use lim::{cli, display};

fn main() -> std::process::ExitCode {
    cli::run(true, |_, opts, client| {
        let hosts = client
            .hosts()
            .map_err(|e| cli::describe("ll_loadinfo", &e))?;
        Ok(if opts.json {
            display::lsload_json(&hosts)
        } else {
            display::lsload(&hosts, opts.long)
        })
    })
}
