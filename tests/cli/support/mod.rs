//! What every area's tests share: the sandbox a test runs the CLI in (its own settings, state and
//! work folder, as the non-root test user when the tests run as root), the CLI's output, helpers
//! for the engine and the Jupyter server, the fixtures tests/run.sh sets up (the GPU stub engine,
//! the other engines, the ssh workstation, the arm64 images), and the one check every engine
//! test starts with: whether an engine answers at all.

use std::path::{Path, PathBuf};

// First: its engine_test! macro is used by the modules below.
#[macro_use]
mod gate;
mod engines;
mod foreground;
mod gpu;
mod jupyter;
mod sandbox;

pub use engines::*;
pub use foreground::*;
pub use gate::*;
pub use gpu::*;
pub use jupyter::*;
pub use sandbox::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_dimtensor-up");

/// The non-root user the launcher is run as when the tests run as root.
pub const TEST_UID: u32 = 4321;

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// An environment variable that is set and not empty.
pub fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// A fresh folder of this test run's own, `dtu-NAME-PID` in the temporary folder.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dtu-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn owner(path: &Path) -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap())
}
