//! The lab that fits a machine: the GPU rules asked of a connected engine (its machine's GPUs
//! and what the engine needs for them), the GPU outlook, and `--variant auto`'s pure choice over
//! the variant table. `jupyter`, `compose`, `hub`, `doctor` and the wizard all settle labs here.

use crate::base::error::Result;
use crate::base::reporter::Reporter;
use crate::engine::model::GpuForm;
use crate::engine::Engine;
use crate::gpu::{self, CudaNeed, EngineGpuState, GpuAttach, GpuDecision, GpuRequest, HostGpuState};
use crate::plan::settings::LabSettings;
use crate::spec::catalog::{Arch, Platforms, Variant};

/// Whether the lab may use GPUs on this machine, as the GPU rules decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuOutlook {
    /// GPUs can be attached (or were asked for explicitly).
    Usable,
    /// No GPU will be attached; why (for the line that explains the choice).
    Unusable(String),
}

impl GpuOutlook {
    /// The outlook a GPU decision for a lab with CUDA gives.
    pub fn of(decision: &crate::gpu::GpuDecision) -> GpuOutlook {
        match decision.why_cpu() {
            None => GpuOutlook::Usable,
            Some(why) => GpuOutlook::Unusable(why),
        }
    }
}

/// `--variant auto`: with usable GPUs the largest lab that has CUDA on this platform; without,
/// the largest lab that carries no CUDA libraries here (arm64: full, its torch is CPU-only;
/// amd64: base, since PyPI has no CPU-only torch for x86-64).
pub fn auto_lab(arch: Arch, gpu: &GpuOutlook) -> Variant {
    let wants_cuda = *gpu == GpuOutlook::Usable;
    // LABS runs from the smallest to the largest lab; every platform has a lab without CUDA.
    Variant::LABS
        .into_iter()
        .rev()
        .find(|v| v.lab_image().spec().has_cuda(arch) == wants_cuda)
        .unwrap_or(Variant::Base)
}

/// The one line that says which lab `auto` chose, why, and how to pick another (short: what the
/// other labs hold is in `--help`).
pub fn auto_lab_line(arch: Arch, gpu: &GpuOutlook) -> String {
    let chosen = auto_lab(arch, gpu);
    let why = match gpu {
        GpuOutlook::Usable => "GPUs are usable here".to_string(),
        GpuOutlook::Unusable(reason) => format!("no usable GPU: {reason}"),
    };
    let others: Vec<String> = Variant::LABS
        .into_iter()
        .filter(|v| *v != chosen)
        .map(|v| format!("{} (~{})", v.name(), v.lab_image().spec().size_on(arch)))
        .collect();
    format!(
        "lab: {} ({}), ~{} for {}: {why}; or --variant {}",
        chosen.name(),
        chosen.contents(arch),
        chosen.lab_image().spec().size_on(arch),
        arch.platform(),
        others.join(", ")
    )
}

/// What `decide` looks at on a connected engine: its machine's GPUs (where they can be asked)
/// and what the engine needs for them. Gathered once for several decisions (`hub`'s profiles).
pub struct GpuFacts {
    pub host: Option<HostGpuState>,
    pub engine: EngineGpuState,
}

impl GpuFacts {
    pub async fn of(engine: &Engine) -> Result<GpuFacts> {
        let model = engine.model().await?;
        // `docker info` says what Docker's GPU requests need; CDI needs only the spec files.
        let info = match model.gpu_form() {
            GpuForm::DeviceRequest => Some(engine.info().await?),
            GpuForm::Cdi => None,
        };
        // The engine's machine decides: over ssh, the remote's driver, not this laptop's.
        let (host, toolkit) = engine.host.probe_gpus().await;
        Ok(GpuFacts { host, engine: gpu::engine_state(info, model, toolkit) })
    }
    pub fn decide(
        &self,
        request: &GpuRequest,
        cuda: Option<&CudaNeed>,
        variant: &str,
    ) -> Result<GpuDecision> {
        gpu::decide(request, self.host.as_ref(), &self.engine, cuda, variant)
    }
}

/// `decide` against a connected engine: its info, and its machine's GPUs where they can be asked.
pub async fn decide_on(
    engine: &Engine,
    request: &GpuRequest,
    cuda: Option<&CudaNeed>,
    variant: &str,
) -> Result<GpuDecision> {
    Ok(decide_and_warn(engine, request, cuda, variant).await?.0)
}

/// `decide_on`, with the warnings that come with GPUs attached through this engine (a stale or
/// unreadable CDI spec).
pub async fn decide_and_warn(
    engine: &Engine,
    request: &GpuRequest,
    cuda: Option<&CudaNeed>,
    variant: &str,
) -> Result<(GpuDecision, Vec<String>)> {
    // Nothing to look at: the answer does not depend on the machine or the engine.
    if *request == GpuRequest::None || (*request == GpuRequest::Auto && cuda.is_none()) {
        return Ok((gpu::decide(request, None, &EngineGpuState::default(), cuda, variant)?, vec![]));
    }
    let facts = GpuFacts::of(engine).await?;
    let decision = facts.decide(request, cuda, variant)?;
    let warnings = match decision.attach {
        GpuAttach::None => vec![],
        _ => gpu::cdi_warnings(facts.host.as_ref(), &facts.engine),
    };
    Ok((decision, warnings))
}

/// What a machine offers a lab: the platform its images are for and whether GPUs are usable.
pub struct MachineFit {
    pub platforms: Platforms,
    /// The GPU rules' answer for a lab that has CUDA.
    pub gpu: GpuDecision,
    /// What attaching those GPUs warns about.
    pub warnings: Vec<String>,
}

impl MachineFit {
    pub async fn of(engine: &Engine, settings: &LabSettings) -> Result<MachineFit> {
        let platforms = Platforms::new(engine.platform().await?, settings.platform);
        // Asked for the lab `auto` would take with usable GPUs: its CUDA is what the driver must run.
        let gpu_lab = auto_lab(platforms.images, &GpuOutlook::Usable);
        let cuda = crate::image::cuda_need(gpu_lab.lab_image(), platforms.images);
        let (gpu, warnings) = decide_and_warn(engine, &settings.gpus, cuda.as_ref(), gpu_lab.name()).await?;
        Ok(MachineFit { platforms, gpu, warnings })
    }
    pub fn outlook(&self) -> GpuOutlook {
        GpuOutlook::of(&self.gpu)
    }
    /// The lab `--variant auto` takes here.
    pub fn auto_lab(&self) -> Variant {
        auto_lab(self.platforms.images, &self.outlook())
    }
}

/// Settles the lab on `engine`: `auto` becomes the lab that fits (said in one line), and the
/// GPU decision for that lab. `jupyter` and `compose` both start here.
pub async fn settle_lab(
    engine: &Engine,
    mut settings: LabSettings,
    reporter: &Reporter,
) -> Result<(LabSettings, Platforms, GpuDecision)> {
    let platforms = Platforms::new(engine.platform().await?, settings.platform);
    if let Some(note) = platforms.emulation_note() {
        reporter.note(note);
    }
    let arch = platforms.images;
    let (decision, warnings) = match settings.variant {
        Variant::Auto => {
            let fit = MachineFit::of(engine, &settings).await?;
            reporter.note(auto_lab_line(arch, &fit.outlook()));
            settings.variant = fit.auto_lab();
            match fit.gpu.attach {
                // The lab line said why: no second line about the CPU.
                GpuAttach::None => (GpuDecision::none(), vec![]),
                _ => (fit.gpu, fit.warnings),
            }
        }
        lab => {
            let cuda = crate::image::cuda_need(lab.lab_image(), arch);
            decide_and_warn(engine, &settings.gpus, cuda.as_ref(), lab.name()).await?
        }
    };
    if let Some(note) = decision.note() {
        reporter.note(note);
    }
    for warning in warnings {
        reporter.warn(warning);
    }
    let engine_memory = engine.memory().await?;
    if let Some(warning) = memory_warning(settings.variant, engine_memory, settings.memory) {
        reporter.warn(warning);
    }
    Ok((settings, platforms, decision))
}

/// One line when the lab would get less memory than it wants: the engine's (a Docker Desktop or
/// podman machine VM is often smaller than the laptop) or the `--memory` limit. Pure.
pub fn memory_warning(lab: Variant, engine_memory: Option<u64>, limit: Option<u64>) -> Option<String> {
    use crate::base::units::size_text;
    let wanted = lab.memory_wanted();
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    match (engine_memory, limit) {
        (_, Some(limit)) if limit < wanted => Some(format!(
            "--memory {} is below the {} the {} lab wants: kernels may be killed for memory",
            size_text(limit),
            gib(wanted),
            lab.name()
        )),
        (Some(have), _) if have < wanted => Some(format!(
            "the engine has {} of memory and the {} lab wants {}: kernels may be killed for memory (Docker Desktop: Settings > Resources > Memory; podman machine set --memory)",
            gib(have),
            lab.name(),
            gib(wanted)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_gpu() -> GpuOutlook {
        GpuOutlook::Unusable("nvidia-smi not found".into())
    }

    #[test]
    fn auto_picks_the_largest_lab_that_fits() {
        assert_eq!(auto_lab(Arch::Amd64, &no_gpu()), Variant::Base);
        assert_eq!(auto_lab(Arch::Arm64, &no_gpu()), Variant::Full);
        assert_eq!(auto_lab(Arch::Amd64, &GpuOutlook::Usable), Variant::Full);
        // On arm64 only ml carries CUDA (jax's plugin); PyPI's aarch64 torch is CPU-only.
        assert_eq!(auto_lab(Arch::Arm64, &GpuOutlook::Usable), Variant::Ml);
    }

    #[test]
    fn too_little_memory_is_one_line_with_both_numbers() {
        const GIB: u64 = 1 << 30;
        assert_eq!(memory_warning(Variant::Base, Some(16 * GIB), None), None);
        let vm = memory_warning(Variant::Ml, Some(4 * GIB), None).unwrap();
        assert!(vm.starts_with("the engine has 4.0 GiB of memory and the ml lab wants 8.0 GiB"), "{vm}");
        let limit = memory_warning(Variant::Base, Some(64 * GIB), Some(GIB)).unwrap();
        assert_eq!(
            limit,
            "--memory 1g is below the 2.0 GiB the base lab wants: kernels may be killed for memory"
        );
    }

    #[test]
    fn the_auto_line_says_what_why_and_how_else() {
        let amd = auto_lab_line(Arch::Amd64, &no_gpu());
        assert!(amd.starts_with("lab: base ("), "{amd}");
        assert!(amd.contains("nvidia-smi not found"), "{amd}");
        assert!(amd.contains("; or --variant ml (~") && amd.contains(", full (~"), "{amd}");
        assert!(amd.len() < 160, "one short line: {amd}");
        let arm = auto_lab_line(Arch::Arm64, &no_gpu());
        assert!(arm.starts_with("lab: full (") && arm.contains("for linux/arm64"), "{arm}");
        assert!(arm.contains("--variant base (~"), "{arm}");
        let gpu = auto_lab_line(Arch::Amd64, &GpuOutlook::Usable);
        assert!(gpu.starts_with("lab: full (") && gpu.contains("GPUs are usable"), "{gpu}");
    }
}
