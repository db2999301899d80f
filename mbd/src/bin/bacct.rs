//! `bacct`: see [`mbd::cmd::bacct`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bacct::main()
}
