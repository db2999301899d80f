//! `lshosts`: every host's static facts, from the master lim.

use lim::{cli, display};

fn main() -> std::process::ExitCode {
    let accepts = cli::Accepts {
        long: false,
        hosts: true,
    };
    cli::run("lshosts", accepts, |opts, client| {
        let hosts = client
            .hosts()
            .map_err(|e| cli::describe("ll_hostinfo", &e))?;
        let hosts = cli::only_hosts(hosts, &opts.hosts)?;
        Ok(if opts.json {
            display::lshosts_json(&hosts)
        } else {
            display::lshosts(&hosts)
        })
    })
}
