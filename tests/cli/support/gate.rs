//! Whether an engine answers at all, the gate every engine test opens with, and the fixtures
//! tests/run.sh sets up or says why not.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::*;

/// Why no engine test can run here: None when the Docker engine answers `docker info` (asked
/// once per run), else the reason.
fn no_engine() -> Option<&'static str> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        match Command::new("docker").arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(status) if status.success() => None,
            Ok(_) => Some("no Docker engine answers (docker info failed)".to_string()),
            Err(e) => Some(format!("no Docker engine answers (docker info cannot run: {e})")),
        }
    })
    .as_deref()
}

/// The gate every engine test opens with: `let _engine = engine_test!();`. Engine tests run one
/// at a time (they share ports and the engine's container list), so it holds the engine lock for
/// the test. Where no engine answers, the test returns at once and says so on stderr by name
/// (the harness still counts it `ok`: libtest has no skipped state); with DTU_REQUIRE_ENGINE=1
/// (tests/run.sh, CI) the missing engine fails the test instead.
macro_rules! engine_test {
    () => {
        match $crate::support::engine_gate(module_path!()) {
            Some(guard) => guard,
            None => return,
        }
    };
}

pub fn engine_gate(module: &str) -> Option<MutexGuard<'static, ()>> {
    static ENGINE: Mutex<()> = Mutex::new(());
    let test = std::thread::current().name().unwrap_or(module).to_string();
    let Some(why) = no_engine() else { return Some(ENGINE.lock().unwrap_or_else(|p| p.into_inner())) };
    if env_var("DTU_REQUIRE_ENGINE").is_some_and(|v| v != "0") {
        panic!("{test}: {why}, and DTU_REQUIRE_ENGINE is set: the engine tests must run");
    }
    // Straight to stderr, in one write, on a line of its own: the harness shows a passing test's
    // eprintln! to nobody, and may have just written `test NAME ... `.
    let line = format!("\nSKIPPED {test}: {why}; tests/run.sh runs it\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}

/// A fixture tests/run.sh sets up, `found` from the environment it exported. Without it the
/// tests that need it fail (`how` says how to set it up), unless `skip_var` says why it cannot be
/// there: then they are skipped, with that reason printed.
pub fn fixture<T>(what: &str, how: &str, skip_var: &str, found: Option<T>) -> Option<T> {
    if found.is_some() {
        return found;
    }
    let why = env_var(skip_var);
    assert!(why.is_some(), "{how}, or set {skip_var}=<reason>");
    eprintln!("SKIPPED {what}: {}", why.unwrap());
    None
}
