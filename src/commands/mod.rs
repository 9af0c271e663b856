//! One file per subcommand; each `run` returns the process exit status.

pub mod build;
pub mod compose;
pub mod config;
pub mod doctor;
pub mod hub;
pub mod jupyter;
pub mod logs;
pub mod open;
pub mod ps;
pub mod pull;
pub mod run;
pub mod stop;
pub mod variants;

use std::path::{Path, PathBuf};

use crate::catalog::Variant;
use crate::cli::{GlobalArgs, LabArgs};
use crate::config::{config_path, Config};
use crate::engine::{ssh, Engine};
use crate::error::{Error, Kind, Result};
use crate::gpu::{self, GpuAttach, GpuDecision};
use crate::platform::{GpuOutlook, Platforms};
use crate::reporter::Reporter;
use crate::settings::LabSettings;

pub fn load_config() -> Result<(Config, PathBuf)> {
    let path = config_path()?;
    Ok((Config::load(&path)?, path))
}

pub fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| {
        Error::new(Kind::Usage, "cannot read the current folder")
            .cause(e)
            .hint("cd into an existing folder, or pass --workdir")
    })
}

pub async fn connect(global: &GlobalArgs) -> Result<Engine> {
    Engine::connect(global.host.as_deref()).await
}

/// Whether the engine named by --host / DOCKER_HOST / the context is reached over ssh (its
/// paths are then the remote's, checked after connecting).
pub fn engine_is_remote(global: &GlobalArgs) -> Result<bool> {
    Ok(crate::engine::resolve_from_env(global.host.as_deref())?.address.starts_with("ssh://"))
}

/// Flags checked before anything is touched: over ssh the paths cannot be checked yet, the rest is.
pub fn precheck_lab_settings(global: &GlobalArgs, args: &LabArgs, config: &Config, cwd: &Path) -> Result<()> {
    match engine_is_remote(global)? {
        true => LabSettings::resolve_in(args, config, Path::new("/"), &crate::settings::UncheckedFolders)
            .map(drop),
        false => LabSettings::resolve(args, config, cwd).map(drop),
    }
}

/// The settings of a lab on `engine`, with paths checked where the engine runs. Over ssh the
/// work folder defaults to a persistent folder on the remote named after `cwd` (created as the
/// remote user), and relative paths are taken from the remote home.
pub async fn lab_settings(
    engine: &Engine,
    args: &LabArgs,
    config: &Config,
    cwd: &Path,
    reporter: &crate::reporter::Reporter,
) -> Result<LabSettings> {
    let Some(target) = engine.host.ssh() else {
        return LabSettings::resolve(args, config, cwd);
    };
    let mut args = args.clone();
    let mut known = Vec::new();
    let user = match args.workdir {
        Some(_) => engine.host.remote_user().await?,
        None => {
            let Some((user, Some(folder))) = engine.host.remote_user_and_folder(cwd, true).await? else {
                return Err(Error::new(
                    Kind::Engine,
                    format!("cannot create the work folder on {}", target.display()),
                )
                .hint("check that your home folder there is writable, or pass --workdir"));
            };
            reporter.note(format!(
                "working in {} on {} (your files there stay; --workdir names another remote folder)",
                folder.display(),
                target.display()
            ));
            known.push(folder.clone());
            args.workdir = Some(folder);
            Some(user)
        }
    };
    let Some(user) = user else { return LabSettings::resolve(&args, config, cwd) };
    let folders = ssh::RemoteFolders { target, home: user.home.clone(), known };
    LabSettings::resolve_in(&args, config, &user.home, &folders)
}

/// What a machine offers a lab: the platform its images are for and whether GPUs are usable.
pub struct MachineFit {
    pub platforms: Platforms,
    /// The GPU rules' answer for a lab that has CUDA.
    pub gpu: GpuDecision,
}

impl MachineFit {
    pub async fn of(engine: &Engine, settings: &LabSettings) -> Result<MachineFit> {
        let platforms = Platforms::new(engine.platform().await?, settings.platform);
        let gpu = gpu::decide_on(engine, &settings.gpus, true, "GPU").await?;
        Ok(MachineFit { platforms, gpu })
    }
    pub fn outlook(&self) -> GpuOutlook {
        GpuOutlook::of(&self.gpu)
    }
    /// The lab `--variant auto` takes here.
    pub fn auto_lab(&self) -> Variant {
        crate::platform::auto_lab(self.platforms.images, &self.outlook())
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
    let decision = match settings.variant {
        Variant::Auto => {
            let fit = MachineFit::of(engine, &settings).await?;
            reporter.note(crate::platform::auto_lab_line(arch, &fit.outlook()));
            settings.variant = fit.auto_lab();
            match fit.gpu.attach {
                GpuAttach::None => GpuDecision { attach: GpuAttach::None, note: None },
                _ => fit.gpu,
            }
        }
        lab => {
            gpu::decide_on(engine, &settings.gpus, lab.lab_image().spec().has_cuda(arch), lab.name()).await?
        }
    };
    if let Some(note) = &decision.note {
        reporter.note(note);
    }
    Ok((settings, platforms, decision))
}

/// The server named, or the one for --workdir (default: the current folder).
pub async fn target_server(
    engine: &Engine,
    name: Option<&str>,
    workdir: Option<&std::path::Path>,
) -> Result<crate::lab::Server> {
    if let Some(name) = name {
        return crate::lab::by_name(engine, name).await?.ok_or_else(|| {
            Error::usage(format!("no dimtensor-up server named `{name}`"))
                .hint("see `dimtensor-up ps` for the names")
        });
    }
    let cwd = current_dir()?;
    let dir = match (engine.host.ssh(), workdir) {
        // Over ssh: --workdir on the remote, or the remote folder this one stands for.
        (Some(target), Some(w)) => {
            let user = engine.host.remote_user().await?.expect("an ssh engine has a remote user");
            let folders = ssh::RemoteFolders { target, home: user.home.clone(), known: vec![] };
            let args = LabArgs { workdir: Some(w.to_path_buf()), ..Default::default() };
            crate::settings::LabSettings::resolve_in(&args, &Config::default(), &user.home, &folders)?.workdir
        }
        (Some(_), None) => match engine.host.remote_user_and_folder(&cwd, false).await? {
            Some((_, Some(folder))) => folder,
            Some((user, None)) => ssh::default_remote_folder(&user.home, &cwd),
            None => unreachable!("an ssh engine has a remote user"),
        },
        _ => {
            let dir = workdir.map(|w| cwd.join(w)).unwrap_or(cwd);
            std::fs::canonicalize(&dir).map_err(|_| {
                Error::usage(format!("folder {} does not exist", dir.display()))
                    .hint("give an existing folder with --workdir")
            })?
        }
    };
    crate::lab::for_workdir(engine, &dir).await?.ok_or_else(|| {
        Error::usage(format!("no dimtensor-up server for {}", dir.display()))
            .hint("start one with `dimtensor-up jupyter`, or see `dimtensor-up ps`")
    })
}
