//! Progress and notes on stderr; stdout is kept for results. Progress bars only on a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    pub quiet: bool,
    pub verbose: bool,
    tty: bool,
}

impl Reporter {
    pub fn new(quiet: bool, verbose: bool) -> Reporter {
        Reporter { quiet, verbose, tty: std::io::stderr().is_terminal() }
    }
    /// A step or fact worth a line.
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", text.as_ref());
        }
    }
    /// Detail for --verbose.
    pub fn detail(&self, text: impl AsRef<str>) {
        if self.verbose {
            eprintln!("  {}", text.as_ref());
        }
    }
    /// Always shown (even with -q), as it is: what happens to the user's server.
    pub fn always(&self, text: impl AsRef<str>) {
        eprintln!("{}", text.as_ref());
    }
    /// Always shown (even with -q): something the user should act on.
    pub fn warn(&self, text: impl AsRef<str>) {
        let label = crate::base::error::paint(crate::base::error::WARNING_STYLE, "warning");
        anstream::eprintln!("{label}: {}", text.as_ref());
    }
    /// A spinner (terminal) or nothing; `set_message` on it shows the current step.
    pub fn spinner(&self, message: impl Into<String>) -> ProgressBar {
        if self.quiet || !self.tty {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_message(message.into());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}").expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
    /// A byte-count bar (terminal) or nothing.
    pub fn bytes_bar(&self, message: impl Into<String>) -> ProgressBar {
        if self.quiet || !self.tty {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(0).with_message(message.into());
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("valid template"),
        );
        bar
    }
    pub fn is_tty(&self) -> bool {
        self.tty && !self.quiet
    }
}

/// Decimal megabytes below a gigabyte, gigabytes with one decimal above (as registries and
/// `docker images` count).
pub fn human_bytes(bytes: u64) -> String {
    if bytes < 1_000_000_000 {
        format!("{:.0} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} GB", bytes as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_counts_read_as_registries_count() {
        assert_eq!(super::human_bytes(0), "0 MB");
        assert_eq!(super::human_bytes(251_400_000), "251 MB");
        assert_eq!(super::human_bytes(1_460_000_000), "1.5 GB");
    }
}
