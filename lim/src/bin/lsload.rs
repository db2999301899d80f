//! `lsload [-l] [HOST...]`: every host's load (or the named ones'), from
//! the master lim.

use lim::{cli, display};

fn main() -> std::process::ExitCode {
    let accepts = cli::Accepts {
        long: true,
        hosts: true,
    };
    cli::run("lsload", accepts, |opts, client| {
        let hosts = client
            .hosts()
            .map_err(|e| cli::describe("ll_loadinfo", &e))?;
        let hosts = cli::only_hosts(hosts, &opts.hosts)?;
        Ok(if opts.json {
            display::lsload_json(&hosts)
        } else {
            display::lsload(&hosts, opts.long)
        })
    })
}
