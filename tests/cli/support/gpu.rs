//! Stub nvidia-smi programs on PATH, as a GPU machine has them: all written by the one stub of
//! the tests (tests/support/stub-nvidia-smi.sh), which the ssh workstation's logins use too.

use std::process::Command;

/// A stub nvidia-smi: `gpus` GPUs on `driver`; with `mig`, GPU 0 in two MIG slices.
#[derive(Clone, Copy)]
pub struct StubSmi {
    pub driver: &'static str,
    pub gpus: u32,
    pub mig: bool,
}

/// Where the GPU stub engine's NVIDIA hook is (tests/support/gpu-engine.sh).
const STUB_HOOK_DIR: &str = "/run/dimtensor-up-gpu/bin";

impl StubSmi {
    /// One GPU on a current driver.
    pub const ONE: StubSmi = StubSmi { driver: "550.54.15", gpus: 1, mig: false };

    /// PATH with this stub first.
    pub fn path(self) -> String {
        let dir = std::env::temp_dir().join(format!(
            "dtu-stub-nvidia-smi-{}-{}{}",
            self.driver,
            self.gpus,
            if self.mig { "-mig" } else { "" }
        ));
        let mut write = Command::new("bash");
        write.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/stub-nvidia-smi.sh"));
        write.arg(dir.join("nvidia-smi")).arg(self.driver).arg(self.gpus.to_string());
        if self.mig {
            write.arg("mig");
        }
        assert!(write.status().unwrap().success(), "tests/support/stub-nvidia-smi.sh");
        format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
    }

    /// PATH with this stub and the stub NVIDIA hook, as the container toolkit puts it on PATH.
    pub fn path_with_hook(self) -> String {
        format!("{STUB_HOOK_DIR}:{}", self.path())
    }
}
