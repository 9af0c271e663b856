//! What the probes found, as the decision reads it: the host's driver, GPUs and MIG slices, and
//! what the engine can attach.

use serde::Serialize;

use crate::engine::model::GpuForm;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostGpu {
    pub name: String,
    pub index: u32,
    pub memory_mib: Option<u64>,
}

/// The host side: an NVIDIA driver and its GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostGpuState {
    pub driver_version: Option<String>,
    pub gpus: Vec<HostGpu>,
    /// Why no driver was found, when none was.
    pub problem: Option<String>,
    /// `nvidia-smi -L`: the GPUs' UUIDs and the MIG devices (None: it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<GpuListing>,
}

/// What `nvidia-smi -L` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GpuListing {
    /// (index, UUID) of each GPU.
    pub gpus: Vec<(u32, String)>,
    pub mig: Vec<MigDevice>,
}

/// A MIG slice of a GPU (A100/H100/H200 partitions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigDevice {
    pub gpu: u32,
    pub index: u32,
    /// "3g.40gb".
    pub profile: String,
    /// "MIG-…".
    pub uuid: String,
}

impl MigDevice {
    /// The `GPU:MIG` index form NVIDIA's tools take ("0:1").
    pub fn index_name(&self) -> String {
        format!("{}:{}", self.gpu, self.index)
    }
}

impl GpuListing {
    /// Every name `--gpus device=` may use here: indexes, GPU UUIDs, `GPU:MIG` and MIG UUIDs.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.gpus.iter().flat_map(|(i, u)| [i.to_string(), u.clone()]).collect();
        names.extend(self.mig.iter().flat_map(|m| [m.index_name(), m.uuid.clone()]));
        names
    }
    /// The CDI device name for `id`: `nvidia-ctk cdi generate` names devices by index (`0`,
    /// `0:1`) unless told otherwise, so UUIDs become their index.
    pub fn cdi_name(&self, id: &str) -> String {
        if let Some((index, _)) = self.gpus.iter().find(|(_, u)| u == id) {
            return index.to_string();
        }
        match self.mig.iter().find(|m| m.uuid == id) {
            Some(m) => m.index_name(),
            None => id.to_string(),
        }
    }
}

impl HostGpuState {
    pub fn has_driver(&self) -> bool {
        self.driver_version.is_some() && !self.gpus.is_empty()
    }
    /// Why no GPU can be used here, in words.
    pub(super) fn why_unusable(&self) -> String {
        self.problem.clone().unwrap_or_else(|| "no NVIDIA GPU found".into())
    }
}

/// The engine side: can it run a container with a GPU request in the form it takes?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineGpuState {
    /// How GPU requests reach this engine (the engine model's word).
    pub form: GpuForm,
    /// The engine lists an `nvidia` runtime.
    pub nvidia_runtime: bool,
    /// CDI spec folders the engine reads (API 1.45+), when any exist.
    pub cdi_spec_dirs: Vec<String>,
    /// The NVIDIA container hook (what registers the engine's `nvidia` device driver) or
    /// nvidia-ctk is on PATH on this machine (only meaningful for a local engine).
    pub toolkit_on_path: Option<String>,
    /// A CDI spec file that defines `nvidia.com/gpu` devices (looked for on this machine only;
    /// a remote engine's is taken on trust).
    pub nvidia_cdi_spec: Option<String>,
    /// The driver that spec was generated for (the version in its libcuda.so path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdi_spec_driver: Option<String>,
    /// Spec files that could not be read or parsed, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdi_unreadable: Vec<String>,
}

impl Default for EngineGpuState {
    fn default() -> Self {
        EngineGpuState {
            form: GpuForm::DeviceRequest,
            nvidia_runtime: false,
            cdi_spec_dirs: vec![],
            toolkit_on_path: None,
            nvidia_cdi_spec: None,
            cdi_spec_driver: None,
            cdi_unreadable: vec![],
        }
    }
}

impl EngineGpuState {
    pub fn supports_gpus(&self) -> bool {
        match self.form {
            GpuForm::DeviceRequest => {
                self.nvidia_runtime || !self.cdi_spec_dirs.is_empty() || self.toolkit_on_path.is_some()
            }
            GpuForm::Cdi => self.nvidia_cdi_spec.is_some(),
        }
    }
    /// Why this engine cannot take GPUs, with what fixes it.
    pub(super) fn why_unsupported(&self) -> &'static str {
        match self.form {
            GpuForm::DeviceRequest => {
                "the Docker engine has no NVIDIA runtime (install the NVIDIA Container Toolkit)"
            }
            GpuForm::Cdi => "Podman finds no CDI spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi (create it: sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)",
        }
    }
}
