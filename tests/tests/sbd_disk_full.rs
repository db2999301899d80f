//! A spool disk that fills while a job runs does not change how the job
//! ended: the room for its result was set aside before it started.

use cluster_tests::{wait_for, TestCluster};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(400);
const LIMIT: Duration = Duration::from_secs(20);

/// A small tmpfs on `at`, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(at.to_owned()))
    }

    /// Writes a file until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.0.join("filler")).expect("create filler");
        let block = [0u8; 4096];
        while filler.write_all(&block).is_ok() {}
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_job_that_ends_while_the_spool_is_full_keeps_its_exit_status() {
    if os::users::effective_uid() != 0 {
        eprintln!("skipped: needs root to mount a small file system");
        return;
    }
    let cluster = TestCluster::up(1, TICK, None);
    assert!(cluster.down().status.success());
    let Some(disk) = SmallDisk::mount(&cluster.dir.join("state/sbd.host1")) else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    cluster.up_again();
    let work = cluster.dir.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let gate = work.join("gate");
    let wait = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
    let out = work.join("out").display().to_string();
    let fine = cluster.submit(&["-o", &out, &format!("{wait}; exit 0")]);
    let three = cluster.submit(&["-o", &out, &format!("{wait}; exit 3")]);
    for job in [fine, three] {
        cluster.wait_stat(job, "RUN", LIMIT);
    }
    disk.fill();
    std::fs::write(&gate, b"").expect("open the gate");
    cluster.wait_stat(fine, "DONE", LIMIT);
    cluster.wait_stat(three, "EXIT", LIMIT);
    let history = wait_for(LIMIT, || {
        cluster.stdout("bhist", &["-l", &three.to_string()])
    })
    .expect("bhist");
    assert!(history.contains("EXIT exit_status: 3"), "{history}");
    cluster.down();
    drop(disk);
}
