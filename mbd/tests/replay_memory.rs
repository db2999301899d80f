//! Opening the event log makes no allocation per record: a restart with a
//! million jobs must not copy each record out of the buffer the log was
//! read into (that doubled its memory, and the freed copies stayed as
//! heap fragments in the daemon's RSS). Alone in its binary so no other
//! test allocates while it counts.

use chan::sys::CountingAllocator;
use mbd::event_log::EventLog;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

#[test]
fn opening_a_log_allocates_per_batch_not_per_record() {
    let dir = std::env::temp_dir().join(format!("mbd-replay-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events");
    let records = 5_000;
    {
        let (mut log, _) = EventLog::open(&path).unwrap();
        for batch in 0..10 {
            for n in 0..records / 10 {
                let payload = format!("record {batch}.{n} with a body of some length");
                log.append(1, payload.as_bytes()).unwrap();
            }
            log.commit().unwrap();
        }
    }
    let before = ALLOC.allocations();
    let (_log, replay) = EventLog::open(&path).unwrap();
    let made = ALLOC.allocations() - before;
    assert_eq!(replay.records.len(), records);
    assert_eq!(
        &replay.records[7].payload[..],
        b"record 0.7 with a body of some length"
    );
    // The file's buffer, the records' list as it grows, the lock and path.
    assert!(made < 200, "{made} allocations to open {records} records");
    let _ = std::fs::remove_dir_all(&dir);
}
