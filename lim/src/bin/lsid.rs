//! `lsid`: the cluster's name and its master.

use lim::{cli, display};

fn main() -> std::process::ExitCode {
    let accepts = cli::Accepts {
        long: false,
        hosts: false,
    };
    cli::run("lsid", accepts, |opts, client| {
        let info = client
            .cluster_info()
            .map_err(|e| cli::describe("ll_clustername", &e))?;
        if opts.json {
            return Ok(display::lsid_json(&info));
        }
        if info.master.is_empty() {
            os::say!("{}", display::lsid(&info));
            return Err(format!(
                "ll_mastername failed: cluster {} has no master yet",
                info.cluster
            ));
        }
        Ok(display::lsid(&info))
    })
}
