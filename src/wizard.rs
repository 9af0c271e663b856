//! The questions `jupyter` and `compose` ask when no variant comes from flags or settings and
//! stdin is a terminal: variant (size, local or not, GPU, for whom), folder, GPUs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use dialoguer::theme::SimpleTheme;
use dialoguer::{Input, Select};

use crate::catalog::Variant;
use crate::cli::LabArgs;
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// Never with a variant from flags or settings, and never without a terminal.
pub fn wanted(lab: &LabArgs, config: &Config) -> bool {
    lab.variant.or(config.variant).is_none()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// Asks what the flags left open; returns the flags with the answers filled in.
pub async fn ask(lab: &LabArgs, config: &Config, engine: Option<&Engine>, cwd: &Path) -> Result<LabArgs> {
    let mut answered = lab.clone();
    let mut items = Vec::new();
    for v in Variant::ALL {
        let spec = v.lab_image().spec();
        let local = match engine {
            Some(e) => crate::image::is_present(e, &v.lab_image().reference(config.registry()))
                .await
                .unwrap_or(false),
            None => false,
        };
        items.push(format!(
            "{:<8} {:<22} {:>7} {:<10} {:<4} {}",
            v.name(),
            spec.summary.replace("JupyterLab on ", "lab on "),
            format!("~{}", spec.approx_size),
            if local { "local" } else { "download" },
            if spec.gpu_capable { "GPU" } else { "" },
            spec.for_whom
        ));
    }
    let interrupted = |e: dialoguer::Error| Error::interrupted().cause(e);
    let choice = Select::with_theme(&SimpleTheme)
        .with_prompt("Which JupyterLab? (skip this question: dimtensor-up config set variant NAME)")
        .items(&items)
        .default(3)
        .interact_opt()
        .map_err(interrupted)?
        .ok_or_else(Error::interrupted)?;
    let variant = Variant::ALL[choice];
    answered.variant = Some(variant);
    if lab.workdir.is_none() {
        let folder: String = Input::with_theme(&SimpleTheme)
            .with_prompt("Folder to work in (mounted at /home/dimtensor/work)")
            .default(cwd.display().to_string())
            .interact_text()
            .map_err(interrupted)?;
        answered.workdir = Some(PathBuf::from(folder));
    }
    if lab.gpus.is_none() && config.gpus.is_none() && variant.lab_image().spec().gpu_capable {
        let options = [
            "auto: all GPUs when this machine can use them",
            "all: every GPU (an error if none can be used)",
            "none: CPU only",
        ];
        let gpu = Select::with_theme(&SimpleTheme)
            .with_prompt("GPUs")
            .items(options)
            .default(0)
            .interact_opt()
            .map_err(interrupted)?
            .ok_or_else(Error::interrupted)?;
        answered.gpus = Some(["auto", "all", "none"][gpu].to_string());
    }
    Ok(answered)
}
