//! The probes that run commands and read files: this machine's driver and GPUs, and what the
//! engine can attach (`docker info`, the container toolkit, CDI).

use super::cdi::{scan_cdi_specs, CdiScan, CDI_SPEC_DIRS};
use super::facts::{EngineGpuState, HostGpuState};
use super::smi::{host_state, parse_nvidia_smi_list, parse_proc_driver_version};
use crate::engine::model::{EngineModel, GpuForm};

/// What `nvidia-smi` is asked (the CSV `parse_nvidia_smi_csv` reads), here and over ssh.
pub const NVIDIA_SMI_QUERY: [&str; 2] =
    ["--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"];

/// The NVIDIA container tools whose presence says the engine's machine can attach GPUs (the
/// hook registers Docker's `nvidia` device driver; nvidia-ctk writes CDI specs).
pub const CONTAINER_TOOLKIT: [&str; 2] = ["nvidia-container-runtime-hook", "nvidia-ctk"];

/// The loaded NVIDIA kernel module's version (`parse_proc_driver_version` reads it).
pub const PROC_DRIVER_VERSION: &str = "/proc/driver/nvidia/version";

/// Runs the host probes: nvidia-smi first, /proc/driver/nvidia/version as a fallback for the driver.
pub fn probe_host() -> HostGpuState {
    let smi = std::process::Command::new("nvidia-smi").args(NVIDIA_SMI_QUERY).output();
    let proc_text = std::fs::read_to_string(PROC_DRIVER_VERSION).unwrap_or_default();
    let proc_version = parse_proc_driver_version(&proc_text);
    match smi {
        Ok(out) if out.status.success() => {
            let mut state = host_state(Some(&String::from_utf8_lossy(&out.stdout)), &proc_text);
            state.listing = std::process::Command::new("nvidia-smi")
                .arg("-L")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| parse_nvidia_smi_list(&String::from_utf8_lossy(&o.stdout)));
            state
        }
        Ok(out) => HostGpuState {
            listing: None,
            driver_version: proc_version,
            gpus: vec![],
            problem: Some(format!(
                "nvidia-smi failed: {}",
                String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").trim()
            )),
        },
        Err(_) => HostGpuState {
            listing: None,
            driver_version: proc_version.clone(),
            gpus: vec![],
            problem: Some(if proc_version.is_some() {
                "the NVIDIA driver is loaded but nvidia-smi is not on PATH".into()
            } else {
                "no NVIDIA driver (nvidia-smi not found)".into()
            }),
        },
    }
}

/// Reads the engine's GPU support out of `docker info`; `toolkit` is where the NVIDIA container
/// tools were found on the engine's machine; for a CDI engine on this machine, the CDI specs.
pub fn engine_state(
    info: Option<&bollard::models::SystemInfo>,
    model: &EngineModel,
    toolkit: Option<String>,
) -> EngineGpuState {
    let local = model.local;
    let nvidia_runtime = info.and_then(|i| i.runtimes.as_ref()).is_some_and(|r| r.contains_key("nvidia"));
    let cdi_spec_dirs = info
        .and_then(|i| i.cdi_spec_dirs.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| std::path::Path::new(d).is_dir() || !local)
        .collect();
    let toolkit_on_path = toolkit;
    let form = model.gpu_form();
    let scan = match (form, local) {
        (GpuForm::Cdi, true) => scan_cdi_specs(&CDI_SPEC_DIRS),
        (GpuForm::Cdi, false) => {
            CdiScan { spec: Some("(on the engine's host)".into()), ..Default::default() }
        }
        (GpuForm::DeviceRequest, _) => CdiScan::default(),
    };
    EngineGpuState {
        form,
        nvidia_runtime,
        cdi_spec_dirs,
        toolkit_on_path,
        nvidia_cdi_spec: scan.spec,
        cdi_spec_driver: scan.spec_driver,
        cdi_unreadable: scan.unreadable,
    }
}

/// One remote command for the GPU probe over ssh: nvidia-smi's CSV, the driver version file and where
/// the NVIDIA container tools are, between markers (the same probes as on this machine).
pub fn remote_script() -> String {
    format!(
        "nvidia-smi {} 2>/dev/null || echo NO-SMI; echo ---; cat {PROC_DRIVER_VERSION} 2>/dev/null; echo ---; command -v {} 2>/dev/null | head -n 1; echo ---; nvidia-smi -L 2>/dev/null",
        NVIDIA_SMI_QUERY.join(" "),
        CONTAINER_TOOLKIT.join(" ")
    )
}

/// The probe's output in parts.
pub struct RemoteProbe {
    /// nvidia-smi's CSV, where it ran.
    pub smi: Option<String>,
    pub proc_version: String,
    pub toolkit: Option<String>,
    /// `nvidia-smi -L`, where it ran.
    pub listing: Option<String>,
}

/// Splits the probe's output.
pub fn split_remote(text: &str) -> RemoteProbe {
    let mut parts = text.splitn(4, "---\n");
    let smi = parts.next().unwrap_or("").to_string();
    let proc_version = parts.next().unwrap_or("").to_string();
    let toolkit = parts.next().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let listing = parts.next().filter(|l| !l.trim().is_empty()).map(str::to_string);
    let smi = (!smi.trim().is_empty() && !smi.contains("NO-SMI")).then_some(smi);
    RemoteProbe { smi, proc_version, toolkit, listing }
}
