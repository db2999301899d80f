//! `bkill`: see [`mbd::cmd::bkill`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bkill::main()
}
