//! The engines: docker commands on the main one, the compose tools, the schema check, and the
//! fixtures tests/run.sh starts (the GPU stub engine, the other engines, the ssh workstation, the
//! arm64 images).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// stdout and stderr of a docker command (`docker logs` passes the container's stderr through).
pub fn docker_all(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn docker_on(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker").arg("-H").arg(host).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn tools_path() -> String {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = Path::new(&python).parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

pub fn compose_bin() -> String {
    std::env::var("DTU_COMPOSE").unwrap_or_else(|_| "docker-compose".into())
}

pub fn validate_against_schema(file: &Path) {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/compose-spec.json");
    let code = "import json,sys,yaml,jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))";
    let out = Command::new(python).args(["-c", code]).arg(file).arg(schema).output().unwrap();
    assert!(
        out.status.success(),
        "{} fails the compose-spec schema: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let config = Command::new(compose_bin())
        .arg("-f")
        .arg(file)
        .args(["config", "-q"])
        .env("JUPYTER_TOKEN", "x")
        .env("DIMTENSOR_UID", "1")
        .env("DIMTENSOR_GID", "1")
        .output()
        .unwrap();
    assert!(
        config.status.success(),
        "docker compose config rejects {}: {}",
        file.display(),
        String::from_utf8_lossy(&config.stderr)
    );
}

/// The engine started by tests/support/gpu-engine.sh (DTU_GPU_DOCKER_HOST). Without it the GPU
/// stub tests fail, unless DTU_SKIP_GPU_STUB says why they cannot run here.
pub fn gpu_engine() -> Option<String> {
    fixture(
        "GPU stub test",
        "set DTU_GPU_DOCKER_HOST (tests/support/gpu-engine.sh start)",
        "DTU_SKIP_GPU_STUB",
        env_var("DTU_GPU_DOCKER_HOST"),
    )
}

/// An engine of tests/support/engines.sh.
pub struct OtherEngine {
    pub name: &'static str,
    pub host: String,
    pub runtime_dir: String,
}

/// Rootless Docker, rootless Podman and rootful Podman, as tests/support/engines.sh started them;
/// none (with the reason printed) where DTU_SKIP_OTHER_ENGINES says why they are not there.
pub fn other_engines() -> Vec<OtherEngine> {
    let Some(runtime_dir) = fixture(
        "other engines",
        "run tests/support/engines.sh start (tests/run.sh does)",
        "DTU_SKIP_OTHER_ENGINES",
        env_var("DTU_ENGINES_RUNTIME_DIR"),
    ) else {
        return vec![];
    };
    [
        ("rootless Docker", "DTU_ROOTLESS_DOCKER_HOST"),
        ("rootless Podman", "DTU_ROOTLESS_PODMAN_HOST"),
        ("rootful Podman", "DTU_ROOTFUL_PODMAN_HOST"),
    ]
    .into_iter()
    .map(|(name, key)| OtherEngine {
        name,
        host: env_var(key).unwrap_or_else(|| panic!("{key} is set by tests/support/engines.sh")),
        runtime_dir: runtime_dir.clone(),
    })
    .collect()
}

/// The "remote workstation" of tests/support/sshd.sh (the same engine, reached only through ssh).
pub struct Workstation {
    pub port: String,
    pub keys: PathBuf,
    pub host_key: String,
}

/// The workstation tests/support/sshd.sh set up (as root); None (with the reason printed) where
/// DTU_SKIP_SSH says why it is not there.
pub fn workstation() -> Option<Workstation> {
    let found = match (env_var("DTU_SSH_PORT"), env_var("DTU_SSH_KEYS"), env_var("DTU_SSH_HOST_KEY")) {
        (Some(port), Some(keys), Some(host_key)) if is_root() => {
            Some(Workstation { port, keys: PathBuf::from(keys), host_key })
        }
        _ => None,
    };
    fixture(
        "ssh tests",
        "run tests/support/sshd.sh start (tests/run.sh does, as root)",
        "DTU_SKIP_SSH",
        found,
    )
}

/// The registry name tests/arm64.sh built the arm64 images under; None (with the reason
/// printed) where DTU_SKIP_ARM64 says why they were not built.
pub fn arm64_registry() -> Option<String> {
    fixture(
        "arm64 under emulation",
        "run tests/arm64.sh (tests/run.sh does, as root)",
        "DTU_SKIP_ARM64",
        env_var("DTU_ARM64_REGISTRY"),
    )
}
