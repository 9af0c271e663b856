//! The questions `jupyter` and `compose` ask when no variant comes from flags or settings and
//! stdin is a terminal: which lab (one row per lab, sizes for the engine's platform, the one that
//! fits this machine pre-selected), folder, and GPUs only where GPUs are usable.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use dialoguer::theme::SimpleTheme;
use dialoguer::{Input, Select};

use crate::base::error::{Error, Result};
use crate::engine::Engine;
use crate::image::Presence;
use crate::lab::fit::{GpuOutlook, MachineFit};
use crate::plan::settings::LabSettings;
use crate::spec::catalog::Arch;
use crate::spec::catalog::Variant;
use crate::spec::cli::LabArgs;
use crate::spec::config::Config;

/// Never with a variant from flags or settings, and never without a terminal.
pub fn wanted(lab: &LabArgs, config: &Config) -> bool {
    lab.variant.or(config.variant).is_none()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// One row of the lab question.
pub fn lab_row(lab: Variant, arch: Arch, local: bool, recommended: bool) -> String {
    let spec = lab.lab_image().spec();
    format!(
        "{:<5} {:<44} {:>8} {:<8} {:<3} {}{}",
        lab.name(),
        lab.contents(arch),
        format!("~{}", spec.size_on(arch)),
        if local { "local" } else { "download" },
        if spec.has_cuda(arch) { "GPU" } else { "" },
        spec.for_whom,
        if recommended { "  <- fits this machine" } else { "" }
    )
}

/// Asks what the flags left open; returns the flags with the answers filled in.
pub async fn ask(lab: &LabArgs, config: &Config, engine: &Engine, cwd: &Path) -> Result<LabArgs> {
    let mut answered = lab.clone();
    // What fits is decided as for `--variant auto`, from flags and settings (paths unchecked).
    let unchecked =
        LabSettings::resolve_in(lab, config, Path::new("/"), &crate::base::sys::UncheckedFolders)?;
    let fit = MachineFit::of(engine, &unchecked).await?;
    let arch = fit.platforms.images;
    let recommended = fit.auto_lab();
    let mut items = Vec::new();
    for v in Variant::LABS {
        let reference = v.lab_image().reference(config.registry());
        let local = crate::image::presence(engine, &reference, arch).await? == Presence::Present;
        items.push(lab_row(v, arch, local, v == recommended));
    }
    let interrupted = |e: dialoguer::Error| Error::interrupted().cause(e);
    let choice = Select::with_theme(&SimpleTheme)
        .with_prompt(format!(
            "Which JupyterLab? (sizes for {}; skip this question: dimtensor-up config set variant NAME)",
            arch.platform()
        ))
        .items(&items)
        .default(Variant::LABS.iter().position(|v| *v == recommended).unwrap_or(0))
        .interact_opt()
        .map_err(interrupted)?
        .ok_or_else(Error::interrupted)?;
    let variant = Variant::LABS[choice];
    answered.variant = Some(variant);
    if lab.workdir.is_none() {
        let folder: String = Input::with_theme(&SimpleTheme)
            .with_prompt("Folder to work in (mounted at /home/dimtensor/work)")
            .default(cwd.display().to_string())
            .interact_text()
            .map_err(interrupted)?;
        answered.workdir = Some(PathBuf::from(folder));
    }
    let gpus_open = lab.gpus.is_none() && config.gpus.is_none();
    if gpus_open && fit.outlook() == GpuOutlook::Usable && variant.lab_image().spec().has_cuda(arch) {
        let options = ["all: every GPU", "none: CPU only"];
        let gpu = Select::with_theme(&SimpleTheme)
            .with_prompt("GPUs")
            .items(options)
            .default(0)
            .interact_opt()
            .map_err(interrupted)?
            .ok_or_else(Error::interrupted)?;
        answered.gpus = Some(["all", "none"][gpu].to_string());
    }
    Ok(answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_this_platforms_lab_and_mark_the_fitting_one() {
        let amd = lab_row(Variant::Full, Arch::Amd64, false, false);
        assert!(amd.contains("with CUDA 12") && amd.contains("GPU") && amd.contains("download"), "{amd}");
        let arm = lab_row(Variant::Full, Arch::Arm64, true, true);
        assert!(arm.contains("for CPU") && !arm.contains("GPU ") && arm.contains("local"), "{arm}");
        assert!(arm.ends_with("<- fits this machine"), "{arm}");
        assert!(!amd.contains("fits this machine"));
        let base = lab_row(Variant::Base, Arch::Amd64, true, true);
        assert!(base.contains(&format!(
            "~{}",
            crate::spec::catalog::ImageId::JupyterBase.spec().size_on(Arch::Amd64)
        )));
    }
}
