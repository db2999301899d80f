//! `bgroups`: see [`mbd::cmd::bgroups`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bgroups::main()
}
