//! `bpriority`: see [`mbd::cmd::bpriority`].

fn main() -> std::process::ExitCode {
    mbd::cmd::bpriority::main()
}
