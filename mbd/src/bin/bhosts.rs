//! `bhosts`: see [`mbd::cmd::bhosts`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bhosts::main()
}
