//! `bswitch`: see [`mbd::cmd::bswitch`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bswitch::main()
}
