//! Replaying the event log makes no allocation per record: a restart with a
//! million jobs reads it through one reused buffer and copies no record
//! out of it (copies doubled its memory, and the freed ones stayed as
//! heap fragments in the daemon's RSS). Alone in its binary so no other
//! test allocates while it counts.

use chan::sys::CountingAllocator;
use mbd::event_log::EventLog;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

#[test]
fn replaying_a_log_allocates_nothing_per_record() {
    let dir = std::env::temp_dir().join(format!("mbd-replay-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events");
    let records = 5_000u64;
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
    let mut seen = Vec::new();
    let before = ALLOC.allocations();
    let visit = |r: mbd::event_log::RecordRef<'_>| {
        if seen.len() < 8 {
            seen.push(r.payload.to_vec());
        }
        Ok::<(), ()>(())
    };
    let (_log, replay) = EventLog::open_replaying(&path, |_| Ok(()), visit).unwrap();
    let made = ALLOC.allocations() - before;
    assert_eq!(replay.records, records);
    assert_eq!(seen[7], b"record 0.7 with a body of some length");
    // The read buffer, the 8 payloads kept above, the lock and the path.
    assert!(made < 100, "{made} allocations to open {records} records");
    let _ = std::fs::remove_dir_all(&dir);
}
