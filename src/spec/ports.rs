//! Ports on this machine: choosing a free one, the lock that makes simultaneous starts choose
//! different ones, who holds a port (for the error), and the URL a browser here uses.
//! Floor 1.

use std::net::IpAddr;
use std::time::Duration;

/// Labs take the first free port from here.
pub const FIRST_PORT: u16 = 8888;
/// How many ports from a first one are tried.
pub const PORT_RANGE: u16 = 100;

/// `prefer` (the port a folder's lab had last, so its URL stays the same) when `is_free` accepts
/// it and `taken` does not list it; else the first such port of `FIRST..FIRST+PORT_RANGE`.
pub fn choose_port(
    prefer: Option<u16>,
    first: u16,
    taken: &[u16],
    is_free: &dyn Fn(u16) -> bool,
) -> Option<u16> {
    let usable = |p: &u16| !taken.contains(p) && is_free(*p);
    prefer.filter(usable).or_else(|| (first..first.saturating_add(PORT_RANGE)).find(usable))
}

pub fn port_is_free(listen: IpAddr, port: u16) -> bool {
    std::net::TcpListener::bind((listen, port)).is_ok()
}

/// The address a browser on this machine uses for a server bound to `listen`.
pub fn connect_host(listen: IpAddr) -> String {
    match listen {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".into(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

pub fn lab_url(listen: IpAddr, port: u16, token: &str) -> String {
    format!("http://{}:{port}/lab?token={token}", connect_host(listen))
}

/// Held while a port is chosen and bound; released on drop. One start at a time chooses a port
/// on this machine: a lock file in the shared temporary folder (any user's dimtensor-up takes the
/// same one), held from choosing a port until the engine has bound it. Without it, simultaneous
/// starts all see the same free port and all but one fail.
pub struct PortLock {
    _held: Option<std::fs::File>,
}

/// Waiting longer than this means a holder is stuck: go on without the lock (the engine still
/// refuses a taken port, and the start loop then tries the next one).
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

impl PortLock {
    pub async fn acquire() -> PortLock {
        let Some(file) = open_lock_file() else { return PortLock { _held: None } };
        let held = crate::base::poll::until(GIVE_UP_AFTER, Duration::from_millis(20), || async {
            file.try_lock().is_ok().then_some(())
        })
        .await;
        PortLock { _held: held.map(|()| file) }
    }
}

fn open_lock_file() -> Option<std::fs::File> {
    let path = std::env::temp_dir().join("dimtensor-up-ports.lock");
    // Read-write and open to everyone where we create it; read-only where another user did
    // (a lock needs no write access). Never through a symbolic link.
    let open = |write: bool| {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(write).create(write);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o666).custom_flags(libc::O_NOFOLLOW);
        }
        options.open(&path)
    };
    open(true).or_else(|_| open(false)).ok()
}

/// The listening sockets and connections of /proc/net/tcp{,6}, as far as they are needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpEntry {
    pub local_port: u16,
    pub remote_port: u16,
    pub listening: bool,
    pub uid: u32,
    pub inode: String,
}

/// Pure: the rows of a /proc/net/tcp table (columns: sl, local, remote, st, queues, timer,
/// retrnsmt, uid, timeout, inode).
pub fn parse_proc_net_tcp(text: &str) -> Vec<TcpEntry> {
    let port_of = |address: &str| address.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.len() > 9).then_some(())?;
            Some(TcpEntry {
                local_port: port_of(cols[1])?,
                remote_port: port_of(cols[2])?,
                listening: cols[3] == "0A",
                uid: cols[7].parse().ok()?,
                inode: cols[9].to_string(),
            })
        })
        .collect()
}

/// This machine's TCP table (IPv4 and IPv6); empty where there is no /proc.
pub fn tcp_table() -> Vec<TcpEntry> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|text| parse_proc_net_tcp(&text))
        .collect()
}

/// The process listening on a TCP port (Linux: /proc/net/tcp* inode → /proc/PID/fd).
pub fn process_holding_port(port: u16) -> Option<String> {
    let inodes: Vec<String> = tcp_table()
        .into_iter()
        .filter(|e| e.listening && e.local_port == port)
        .map(|e| format!("socket:[{}]", e.inode))
        .collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| inodes.contains(&l.to_string_lossy().to_string()))
            {
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some(format!("{} (pid {})", comm.trim(), entry.file_name().to_string_lossy()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let first = PortLock::acquire().await;
        assert!(first._held.is_some(), "the lock file can be opened here");
        let second = open_lock_file().unwrap();
        assert!(second.try_lock().is_err(), "held by the first");
        drop(first);
        assert!(second.try_lock().is_ok(), "free once the first is dropped");
    }

    #[test]
    fn the_first_free_port_that_is_not_taken() {
        assert_eq!(choose_port(None, 8888, &[8888, 8889], &|_| true), Some(8890));
        assert_eq!(choose_port(None, 8000, &[], &|p| p > 8004), Some(8005));
        assert_eq!(choose_port(None, 8888, &[], &|_| false), None);
    }

    #[test]
    fn the_port_a_lab_had_last_comes_first_while_it_is_free() {
        assert_eq!(choose_port(Some(8893), 8888, &[], &|_| true), Some(8893));
        // Outside the range too: it was the user's --port once.
        assert_eq!(choose_port(Some(9999), 8888, &[], &|_| true), Some(9999));
        assert_eq!(choose_port(Some(8893), 8888, &[8893], &|_| true), Some(8888));
        assert_eq!(choose_port(Some(8893), 8888, &[], &|p| p != 8893), Some(8888));
    }

    #[test]
    fn urls_reach_wildcard_listeners_over_loopback() {
        assert_eq!(lab_url("0.0.0.0".parse().unwrap(), 8888, "t"), "http://127.0.0.1:8888/lab?token=t");
        assert_eq!(connect_host("::".parse().unwrap()), "[::1]");
        assert_eq!(connect_host("::1".parse().unwrap()), "[::1]");
    }

    #[test]
    fn proc_net_tcp_rows_are_read() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A3F1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  4321        0 77 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:A3F1 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
";
        let rows = parse_proc_net_tcp(table);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            TcpEntry { local_port: 0xA3F1, remote_port: 0, listening: true, uid: 4321, inode: "77".into() }
        );
        assert!(!rows[1].listening && rows[1].uid == 1000 && rows[1].remote_port == 0xA3F1);
        assert!(parse_proc_net_tcp("").is_empty());
    }
}
