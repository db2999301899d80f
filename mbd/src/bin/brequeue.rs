//! `brequeue`: see [`mbd::cmd::brequeue`].

fn main() -> std::process::ExitCode {
    mbd::cmd::brequeue::main()
}
