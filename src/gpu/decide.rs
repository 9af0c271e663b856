//! The decision for one start: what to attach and why, from the request, the host, the engine and
//! the lab's CUDA, and the warnings said before attaching. Pure; explicit requests that cannot be
//! met are errors, never a CPU fallback.

use super::cuda::CudaNeed;
use super::facts::{EngineGpuState, HostGpuState};
use super::request::{GpuAttach, GpuRequest};
use super::smi::listing_text;
use crate::base::error::{Error, Kind, Result};
use crate::engine::model::GpuForm;

/// Warnings about Podman's CDI specs before GPUs are attached through them: a spec written for
/// another driver than the loaded one (its library paths no longer exist), and unreadable specs.
pub fn cdi_warnings(host: Option<&HostGpuState>, engine: &EngineGpuState) -> Vec<String> {
    let mut warnings = Vec::new();
    if engine.form != GpuForm::Cdi {
        return warnings;
    }
    if let (Some(loaded), Some(spec_driver), Some(spec)) = (
        host.and_then(|h| h.driver_version.as_deref()),
        engine.cdi_spec_driver.as_deref(),
        engine.nvidia_cdi_spec.as_deref(),
    ) {
        if loaded != spec_driver {
            warnings.push(format!(
                "the CDI spec {spec} was generated for NVIDIA driver {spec_driver}, and driver {loaded} is loaded: GPUs may fail to attach; regenerate it: sudo nvidia-ctk cdi generate --output={spec}"
            ));
        }
    }
    for file in &engine.cdi_unreadable {
        warnings
            .push(format!("the CDI spec {file} cannot be read: Podman fails on it too; fix or remove it"));
    }
    warnings
}

/// The GPU decision for one start: what to attach, and why, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuDecision {
    pub attach: GpuAttach,
    pub reason: GpuReason,
}

/// Why a decision attaches what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuReason {
    /// `--gpus none`.
    NotAsked,
    /// `--gpus auto` found no usable GPU: why.
    Unusable(String),
    /// `--gpus auto` found usable GPUs: all are attached.
    Usable,
    /// An explicit request, honoured.
    Requested,
    /// An explicit request for a lab without CUDA libraries (the GPUs are attached all the same).
    RequestedWithoutCuda { variant: String },
    /// The engine refused the GPUs `auto` chose, at start: its first line.
    EngineRefused(String),
}

impl GpuDecision {
    pub fn none() -> GpuDecision {
        GpuDecision { attach: GpuAttach::None, reason: GpuReason::NotAsked }
    }
    /// Why no GPU is attached (None: GPUs are); `--variant auto` explains its lab with it.
    pub fn why_cpu(&self) -> Option<String> {
        (self.attach == GpuAttach::None).then(|| match &self.reason {
            GpuReason::Unusable(why) => why.clone(),
            GpuReason::EngineRefused(first_line) => format!("the engine cannot attach GPUs ({first_line})"),
            _ => "--gpus none".to_string(),
        })
    }
    /// The line said once on stderr about the decision, where there is one.
    pub fn note(&self) -> Option<String> {
        match &self.reason {
            GpuReason::NotAsked | GpuReason::Requested => None,
            GpuReason::Unusable(_) | GpuReason::EngineRefused(_) => {
                self.why_cpu().map(|why| format!("running on CPU: {why}"))
            }
            GpuReason::Usable => Some("attaching all GPUs (--gpus none to run on CPU)".into()),
            GpuReason::RequestedWithoutCuda { variant } => Some(format!(
                "the {variant} variant has no CUDA libraries: the GPUs are attached, but torch/jax are not there to use them"
            )),
        }
    }
}

/// Decides what to attach. `host` is None for a remote engine (the local machine's GPUs say
/// nothing about it). Explicit requests that cannot be honoured are errors, never a CPU fallback.
pub fn decide(
    request: &GpuRequest,
    host: Option<&HostGpuState>,
    engine: &EngineGpuState,
    cuda: Option<&CudaNeed>,
    variant: &str,
) -> Result<GpuDecision> {
    // The driver against the lab's CUDA, where both are known (before any download).
    let too_old = match (host.and_then(|h| h.driver_version.as_deref()), cuda) {
        (Some(driver), Some(need)) => need.refusal(driver),
        _ => None,
    };
    match request {
        GpuRequest::None => Ok(GpuDecision::none()),
        GpuRequest::Auto => {
            let why_not = if cuda.is_none() {
                Some(format!(
                    "the {variant} variant has no CUDA libraries (use --variant ml or full for GPU work)"
                ))
            } else if let Some(reason) = host.filter(|h| !h.has_driver()).map(HostGpuState::why_unusable) {
                Some(reason)
            } else if let Some(reason) = too_old {
                Some(reason)
            } else if !engine.supports_gpus() {
                Some(engine.why_unsupported().to_string())
            } else {
                None
            };
            Ok(match why_not {
                Some(reason) => GpuDecision { attach: GpuAttach::None, reason: GpuReason::Unusable(reason) },
                None => GpuDecision { attach: GpuAttach::All, reason: GpuReason::Usable },
            })
        }
        explicit => {
            let attach = match explicit {
                GpuRequest::All => GpuAttach::All,
                GpuRequest::Count(n) => GpuAttach::Count(*n),
                GpuRequest::Devices(ids) => GpuAttach::Devices(ids.clone()),
                GpuRequest::Auto | GpuRequest::None => unreachable!("handled above"),
            };
            if let Some(host) = host {
                check_host_has(&attach, host)?;
            }
            if let (Some(why), Some(need)) = (too_old, cuda) {
                return Err(Error::new(
                    Kind::Gpu,
                    format!("--gpus {} cannot work with the {variant} lab: {why}", attach.describe()),
                )
                .cause(format!("the {variant} lab carries CUDA {} (torch and jax wheels); NVIDIA's CUDA compatibility table says {} or newer", need.cuda, need.min_driver))
                .hint("update the NVIDIA driver (https://www.nvidia.com/drivers, or your distribution's package), or run on the CPU: --gpus none"));
            }
            // Podman would refuse the CDI names at create; say what to do before that.
            if engine.form == GpuForm::Cdi && !engine.supports_gpus() {
                return Err(Error::new(
                    Kind::Gpu,
                    format!("--gpus {} asked for GPUs, but Podman has no CDI spec for NVIDIA GPUs", attach.describe()),
                )
                .cause("no file in /etc/cdi or /var/run/cdi declares nvidia.com/gpu")
                .hint("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml (then `nvidia-ctk cdi list`), or pass --gpus none"));
            }
            // Podman's CDI names go by index: a UUID (a MIG slice's too) becomes its index.
            let attach = match (attach, engine.form, host.and_then(|h| h.listing.as_ref())) {
                (GpuAttach::Devices(ids), GpuForm::Cdi, Some(listing)) => {
                    GpuAttach::Devices(ids.iter().map(|id| listing.cdi_name(id)).collect())
                }
                (attach, _, _) => attach,
            };
            let reason = match cuda {
                Some(_) => GpuReason::Requested,
                None => GpuReason::RequestedWithoutCuda { variant: variant.to_string() },
            };
            Ok(GpuDecision { attach, reason })
        }
    }
}

/// An explicit request against this machine's GPUs: an error when it cannot be met.
fn check_host_has(attach: &GpuAttach, host: &HostGpuState) -> Result<()> {
    if !host.has_driver() {
        return Err(Error::new(
            Kind::Gpu,
            format!("--gpus {} asked for GPUs, but this machine has none usable", attach.describe()),
        )
        .cause(host.why_unusable())
        .hint("install the NVIDIA driver (nvidia-smi must work), or pass --gpus none"));
    }
    match attach {
        GpuAttach::Count(n) if *n as usize > host.gpus.len() => Err(Error::new(
            Kind::Gpu,
            format!("--gpus {n} asked for {n} GPUs, but this machine has {}", host.gpus.len()),
        )
        .hint("ask for fewer, or --gpus all")),
        GpuAttach::Devices(ids) => {
            // With `nvidia-smi -L` every name is checked (MIG slices too); without, the indexes.
            let (known, shown) = match &host.listing {
                Some(listing) => (listing.names(), listing_text(listing)),
                None => {
                    let indexes: Vec<String> = host.gpus.iter().map(|g| g.index.to_string()).collect();
                    (indexes.clone(), indexes.join(", "))
                }
            };
            let unknown = |id: &&String| match host.listing {
                Some(_) => !known.contains(id),
                None => id.chars().all(|c| c.is_ascii_digit()) && !known.contains(id),
            };
            match ids.iter().find(unknown) {
                Some(missing) => Err(Error::new(
                    Kind::Gpu,
                    format!("GPU {missing} does not exist on this machine (it has {shown})"),
                )
                .hint("see `nvidia-smi -L` for the indexes, UUIDs and MIG devices")),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The engine cannot give this container GPUs (`error::EngineSays::NoGpuSupport`).
pub fn engine_gpu_error(message: &str) -> Error {
    Error::new(Kind::Gpu, "the engine cannot give this container GPUs")
        .cause(crate::base::error::first_line(message))
        .hint("install the NVIDIA Container Toolkit and restart Docker (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/install-guide.html), or pass --gpus none")
}
