//! Who holds a port a daemon could not bind: read from the kernel's
//! socket tables (`/proc/net/tcp`, `/proc/net/udp`) and the processes'
//! descriptors, for the "Address already in use" line an admin reads.

use std::net::{Ipv4Addr, SocketAddr};

/// Which table to look in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A sentence naming what holds `addr` (`pid 4242 (lim)`, or a closed
/// connection still in TIME_WAIT), or `None` if nothing can be found
/// (another network namespace, or no permission to look).
pub fn describe(proto: Proto, addr: SocketAddr) -> Option<String> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    let table = match proto {
        Proto::Tcp => "/proc/net/tcp",
        Proto::Udp => "/proc/net/udp",
    };
    let text = std::fs::read_to_string(table).ok()?;
    let sockets = holders(&text, *v4.ip(), v4.port());
    if sockets.is_empty() {
        return None;
    }
    let owners: Vec<String> = (sockets.iter())
        .filter(|s| s.inode != 0)
        .filter_map(|s| owner(s.inode))
        .collect();
    if !owners.is_empty() {
        return Some(format!("held by {}", owners.join(", ")));
    }
    Some(
        "held by a closed connection no process owns (TIME_WAIT, gone within a minute) \
         or by a process this user may not inspect"
            .into(),
    )
}

/// `" (held by ...)"` for a bind that failed because `addr` is in use,
/// to append to the error line; empty otherwise.
pub fn note(proto: Proto, addr: SocketAddr, error: &chan::ChanError) -> String {
    let in_use =
        matches!(error, chan::ChanError::Io(e) if e.kind() == std::io::ErrorKind::AddrInUse);
    match in_use.then(|| describe(proto, addr)).flatten() {
        Some(holder) => format!(" ({holder})"),
        None => String::new(),
    }
}

/// One socket bound to the port asked about.
#[derive(Debug, PartialEq, Eq)]
struct Bound {
    inode: u64,
}

/// The sockets in a `/proc/net/{tcp,udp}` table bound to `ip:port` (or
/// to every address on `port`).
fn holders(table: &str, ip: Ipv4Addr, port: u16) -> Vec<Bound> {
    (table.lines().skip(1))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local_ip, local_port) = fields.get(1)?.split_once(':')?;
            let local_port = u16::from_str_radix(local_port, 16).ok()?;
            // The kernel prints the address as a host-order u32 in hex.
            let raw = u32::from_str_radix(local_ip, 16).ok()?;
            let local = Ipv4Addr::from(raw.swap_bytes());
            let matches = local_port == port && (local == ip || local.is_unspecified());
            let inode = fields.get(9)?.parse().ok()?;
            matches.then_some(Bound { inode })
        })
        .collect()
}

/// `pid N (name)` of the process with socket `inode` open.
fn owner(inode: u64) -> Option<String> {
    let wanted = format!("socket:[{inode}]");
    for proc_dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_dir
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_dir.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str())
        });
        if holds {
            let name = std::fs::read_to_string(proc_dir.path().join("comm")).unwrap_or_default();
            return Some(format!("pid {pid} ({})", name.trim()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_line_is_matched_by_address_and_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0B00007F:1ACD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 346 1\n\
           1: 00000000:1ACE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 347 1\n\
           2: 0100007F:1ACD 0B00007F:1AD1 06 00000000:00000000 03:000015B0 00000000     0        0 0 3\n";
        let ip = Ipv4Addr::new(127, 0, 0, 11);
        assert_eq!(holders(table, ip, 0x1ACD), [Bound { inode: 346 }]);
        assert_eq!(
            holders(table, ip, 0x1ACE),
            [Bound { inode: 347 }],
            "0.0.0.0 holds it too"
        );
        assert!(holders(table, Ipv4Addr::new(127, 0, 0, 12), 0x1ACD).is_empty());
    }

    #[test]
    fn a_listener_of_this_process_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let said = describe(Proto::Tcp, addr).expect("found");
        assert!(
            said.contains(&format!("pid {}", std::process::id())),
            "{said}"
        );
    }
}
