//! One start at a time chooses a port on this machine: a lock file in the shared temporary folder
//! (any user's dimtensor-up takes the same one), held from choosing a port until the engine has
//! bound it. Without it, simultaneous starts all see the same free port and all but one fail.

use std::time::{Duration, Instant};

/// Held while a port is chosen and bound; released on drop.
pub struct PortLock {
    _held: Option<std::fs::File>,
}

/// Waiting longer than this means a holder is stuck: go on without the lock (the engine still
/// refuses a taken port, and the start loop then tries the next one).
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

impl PortLock {
    pub async fn acquire() -> PortLock {
        let Some(file) = open_lock_file() else { return PortLock { _held: None } };
        let started = Instant::now();
        loop {
            if try_lock(&file) {
                return PortLock { _held: Some(file) };
            }
            if started.elapsed() > GIVE_UP_AFTER {
                return PortLock { _held: None };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(unix)]
fn open_lock_file() -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join("dimtensor-up-ports.lock");
    // Read-write and open to everyone where we create it; read-only where another user did
    // (flock needs no write access). Never through a symbolic link.
    let open = |write: bool| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .create(write)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
    };
    open(true).or_else(|_| open(false)).ok()
}

#[cfg(unix)]
fn try_lock(file: &std::fs::File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor this process owns; the lock goes with the file's close.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn open_lock_file() -> Option<std::fs::File> {
    None
}

#[cfg(not(unix))]
fn try_lock(_file: &std::fs::File) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first() {
        let first = PortLock::acquire().await;
        assert!(first._held.is_some(), "the lock file can be opened here");
        let second = open_lock_file().unwrap();
        assert!(!try_lock(&second), "held by the first");
        drop(first);
        assert!(try_lock(&second), "free once the first is dropped");
    }
}
