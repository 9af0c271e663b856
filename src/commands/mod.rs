//! One file per subcommand; each `run` returns the process exit status.

pub mod build;
pub mod compose;
pub mod config;
pub mod doctor;
pub mod jupyter;
pub mod logs;
pub mod open;
pub mod ps;
pub mod pull;
pub mod run;
pub mod stop;
pub mod variants;

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::config::{config_path, Config};
use crate::engine::Engine;
use crate::error::{Error, Kind, Result};

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
    let dir = workdir.map(|w| cwd.join(w)).unwrap_or(cwd);
    let dir = std::fs::canonicalize(&dir).map_err(|_| {
        Error::usage(format!("folder {} does not exist", dir.display()))
            .hint("give an existing folder with --workdir")
    })?;
    crate::lab::for_workdir(engine, &dir).await?.ok_or_else(|| {
        Error::usage(format!("no dimtensor-up server for {}", dir.display()))
            .hint("start one with `dimtensor-up jupyter`, or see `dimtensor-up ps`")
    })
}
