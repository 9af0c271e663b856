//! A CLI held in the foreground: started, signalled, watched on stderr, waited for.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// Starts a foreground `jupyter` and returns once it printed its URL.
pub fn spawn_foreground(sb: &Sandbox, extra: &[&str]) -> (Child, String) {
    let mut args = vec!["jupyter", "--variant", "base", "--no-browser", "--pull", "never"];
    args.extend_from_slice(extra);
    let mut child = sb.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().expect("a URL line").unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

pub fn signal(child: &Child, sig: &str) {
    // The CLI runs under setpriv (which execs), so the child's pid is the CLI's.
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// Waits until the child printed `needle` on stderr (returns the text seen).
pub fn wait_for_stderr(child: &mut Child, needle: &str) -> String {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains(needle) {
            break;
        }
        line.clear();
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    seen
}

/// A child's stderr read on a thread, line by line, for tests that wait for several lines.
pub struct StderrWatch {
    lines: std::sync::mpsc::Receiver<String>,
}

impl StderrWatch {
    pub fn of(child: &mut Child) -> StderrWatch {
        let err = BufReader::new(child.stderr.take().expect("stderr piped"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in err.lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StderrWatch { lines }
    }
    /// The lines until one holds `needle` (that one included), or all seen within `limit`.
    pub fn until(&self, needle: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        let mut seen = String::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if line.contains(needle) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        seen
    }
}
