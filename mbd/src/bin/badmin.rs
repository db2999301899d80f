//! `badmin`: see [`mbd::cmd::badmin`].

fn main() -> std::process::ExitCode {
    mbd::cmd::badmin::main()
}
