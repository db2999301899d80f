//! `lsclusterinfo`: the cluster's name, master and admin (LavaLite's
//! version always failed; this one answers).

use lim::{cli, display};

fn main() -> std::process::ExitCode {
    let accepts = cli::Accepts {
        long: false,
        hosts: false,
    };
    cli::run("lsclusterinfo", accepts, |opts, client| {
        let info = client
            .cluster_info()
            .map_err(|e| cli::describe("ll_clusterinfo", &e))?;
        let admin = client.admin.as_deref();
        Ok(if opts.json {
            display::lsclusterinfo_json(&info, admin)
        } else {
            display::lsclusterinfo(&info, admin)
        })
    })
}
