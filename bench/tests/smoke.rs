//! CI smoke: the load generator drives the chan bench server for two
//! seconds and reports sane numbers. Benchmark figures never gate CI;
//! this only proves the tools run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn field(json: &str, name: &str) -> f64 {
    let report: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    report[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} missing in {json}"))
}

#[test]
fn loadgen_drives_the_chan_server_for_two_seconds() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench_server"))
        .args(["chan", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    let addr = line.trim().strip_prefix("listening on ").expect("banner");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--addr", addr, "--conns", "10", "--depth", "4", "--secs", "2", "--warmup", "0.2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "loadgen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(field(&json, "messages") > 0.0, "{json}");
    assert!(field(&json, "server_messages") > 0.0, "{json}");
    // The window is measured from its first message, a hair after the
    // deadline's anchor: allow clock granularity, not a short run.
    assert!(field(&json, "secs") >= 1.95, "{json}");
    assert!(field(&json, "p99_us") >= field(&json, "p50_us"), "{json}");
}
