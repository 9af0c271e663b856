//! One settings model for `jupyter` and `compose`: flags and the settings file, validated before
//! the engine is touched (over ssh, the paths once its machine answers), then turned into a
//! launch plan (plan/mod.rs).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::base::sys::{FolderCheck, Folders, LocalFolders, UncheckedFolders, UserSpec};
use crate::base::units::{parse_duration, parse_size, MIB};
use crate::engine::ssh::RemoteFolders;
use crate::engine::Engine;
use crate::gpu::GpuRequest;
use crate::spec::catalog::{Arch, ImageId, Variant};
use crate::spec::cli::LabArgs;
use crate::spec::config::Config;
use crate::spec::naming::{DATA_MOUNT, WORK_MOUNT};
use crate::spec::project::ProjectEnv;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindMount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// Everything that decides a JupyterLab container, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabSettings {
    /// `auto` until `commands::settle_lab` picks the lab for the engine.
    pub variant: Variant,
    /// --platform: None is the engine's own.
    pub platform: Option<Arch>,
    pub gpus: GpuRequest,
    /// None: the first free port from 8888.
    pub port: Option<u16>,
    pub listen: IpAddr,
    pub workdir: PathBuf,
    pub mounts: Vec<BindMount>,
    pub user: Option<UserSpec>,
    /// The project's own packages (requirements.txt, pyproject.toml), for a project image.
    pub project: ProjectEnv,
    /// Whether the packages installed by hand in the lab are mounted (their volume).
    pub user_packages: bool,
    /// This machine's CA bundle, mounted read-only for pip and Python's TLS in the lab.
    pub ca_bundle: Option<PathBuf>,
    /// `-e KEY=VALUE`, in order (a later one of the same key wins).
    pub env: Vec<(String, String)>,
    /// `--shm-size` in bytes; None: the rule from the engine's memory (`plan::default_shm_size`).
    pub shm_size: Option<u64>,
    /// `--memory` in bytes.
    pub memory: Option<u64>,
    /// `--idle-timeout` (or the setting) in seconds.
    pub idle_timeout: Option<u64>,
}

impl LabSettings {
    /// Validates flags over settings over defaults. Relative paths are taken from `base`; host
    /// paths must exist (the engine would otherwise create them, owned by root).
    pub fn resolve(args: &LabArgs, config: &Config, base: &Path) -> Result<LabSettings> {
        Self::resolve_in(args, config, base, &LocalFolders)
    }

    /// `resolve`, with host paths checked in `folders` (this machine, or the engine's over ssh).
    pub fn resolve_in(
        args: &LabArgs,
        config: &Config,
        base: &Path,
        folders: &dyn Folders,
    ) -> Result<LabSettings> {
        let variant = args.variant.or(config.variant).unwrap_or(Variant::Auto);
        let platform = config.platform(args.platform.as_deref())?;
        let gpus = match &args.gpus {
            Some(text) => GpuRequest::parse(text)?,
            None => config.gpus.clone().unwrap_or(GpuRequest::Auto),
        };
        check_port(args.port)?;
        let listen = listen_address(args.listen.as_deref(), config)?;
        let workdir =
            existing_dir(args.workdir.as_deref().unwrap_or(Path::new(".")), base, "--workdir", folders)?;
        let mut mounts =
            vec![BindMount { source: workdir.clone(), target: WORK_MOUNT.into(), read_only: false }];
        if let Some(data) = &args.data {
            mounts.push(BindMount {
                source: existing_dir(data, base, "--data", folders)?,
                target: DATA_MOUNT.into(),
                read_only: false,
            });
        }
        for spec in &args.volumes {
            let mount = parse_volume_in(spec, base, folders)?;
            if let Some(clash) = mounts.iter().find(|m| m.target == mount.target) {
                return Err(Error::usage(format!(
                    "-v {spec} mounts onto {}, which is already mounted from {}",
                    mount.target,
                    clash.source.display()
                ))
                .hint("pick another container path"));
            }
            mounts.push(mount);
        }
        let user = args.user.as_deref().map(UserSpec::parse).transpose()?;
        let project = ProjectEnv::find(&args.project_flags(), &workdir, base, folders)?;
        Ok(LabSettings {
            variant,
            platform,
            gpus,
            port: args.port,
            listen,
            workdir,
            mounts,
            user,
            project,
            user_packages: !args.no_user_packages,
            ca_bundle: lab_ca_bundle(folders),
            env: args.env.iter().map(|e| parse_env(e)).collect::<Result<_>>()?,
            shm_size: args.shm_size.as_deref().map(|s| parse_size(s, "--shm-size")).transpose()?,
            memory: args
                .memory
                .as_deref()
                .map(|s| parse_size(s, "--memory"))
                .transpose()?
                .map(check_memory)
                .transpose()?,
            idle_timeout: match &args.idle_timeout {
                Some(text) => Some(parse_duration(text, "--idle-timeout")?),
                None => config.idle_timeout.map(|s| s.0),
            },
        })
    }

    /// The JupyterLab image of the variant.
    pub fn image(&self) -> ImageId {
        self.variant.lab_image()
    }

    /// A warning when the server would be reachable from other machines.
    pub fn exposure_warning(&self) -> Option<String> {
        (!self.listen.is_loopback()).then(|| {
            format!("--listen {} makes JupyterLab reachable from other machines: anyone with the URL can run code as you", self.listen)
        })
    }

    /// The container name for a folder: readable, and unique per folder (a second start in the
    /// same folder finds the first by this name; the engine refuses a duplicate atomically).
    pub fn container_name(&self) -> String {
        crate::spec::naming::container_name_for(&self.workdir)
    }
}

/// The CA bundle pip and Python's TLS need (PIP_CERT, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, as for
/// builds), mounted into a lab on this machine's Linux engine; elsewhere the path would name a
/// file the engine cannot see (another machine, or Docker Desktop's VM).
fn lab_ca_bundle(folders: &dyn Folders) -> Option<PathBuf> {
    if !cfg!(target_os = "linux") || !folders.here() {
        return None;
    }
    ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()).map(PathBuf::from))
        .filter(|p| p.is_file())
}

/// `-e KEY=VALUE`: a variable name, then anything. The token's variables are the launcher's.
fn parse_env(text: &str) -> Result<(String, String)> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        Error::usage(format!("invalid -e `{text}`: expected KEY=VALUE"))
            .hint("e.g. -e XLA_PYTHON_CLIENT_PREALLOCATE=true")
    })?;
    let name_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !name_ok {
        return Err(Error::usage(format!("invalid -e `{text}`: `{key}` is not a variable name"))
            .hint("letters, digits and _, not starting with a digit"));
    }
    if key.starts_with("JUPYTER_TOKEN") {
        return Err(Error::usage(format!("-e {key} is not taken: the token is the launcher's")).hint(
            "each start makes a fresh token and hands it over as a file (`dimtensor-up open` shows the URL)",
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// `--memory`: at least what JupyterLab itself takes to start.
fn check_memory(bytes: u64) -> Result<u64> {
    match bytes < 256 * MIB {
        true => Err(Error::usage(format!(
            "--memory {} is too little for JupyterLab",
            crate::base::units::size_text(bytes)
        ))
        .hint("give at least 256m; 2g for the base lab, 8g for ml and full")),
        false => Ok(bytes),
    }
}

/// `--port`: 1 to 65535 (0 would let the engine pick one nobody is told about).
pub fn check_port(port: Option<u16>) -> Result<()> {
    match port {
        Some(0) => Err(Error::usage("invalid --port 0")
            .hint("give a port from 1 to 65535, or leave --port out for the first free one")),
        _ => Ok(()),
    }
}

/// `--listen` over the setting over loopback.
pub fn listen_address(flag: Option<&str>, config: &Config) -> Result<IpAddr> {
    match flag {
        Some(text) => text.trim_matches(['[', ']']).parse::<IpAddr>().map_err(|_| {
            Error::usage(format!("invalid --listen `{text}`"))
                .hint("give an IP address: 127.0.0.1 (default), 0.0.0.0 for every interface")
        }),
        None => Ok(config.listen.unwrap_or(IpAddr::from([127, 0, 0, 1]))),
    }
}

fn existing_dir(path: &Path, base: &Path, flag: &str, folders: &dyn Folders) -> Result<PathBuf> {
    let path = expand_home(&path.to_string_lossy(), folders);
    let full = if path.is_absolute() { path } else { base.join(path) };
    let place = folders.place();
    match folders.check(&full) {
        FolderCheck::Folder(p) => Ok(p),
        FolderCheck::NotAFolder(p) => {
            Err(Error::usage(format!("{flag} {}{place} is not a folder", p.display())).hint("give a folder"))
        }
        FolderCheck::Missing => Err(Error::usage(format!("{flag} {}{place} does not exist", full.display()))
            .hint(format!(
                "create it first (mkdir -p {}{place}): dimtensor-up never lets Docker create it as root",
                crate::base::sys::sh_quote_path(&full)
            ))),
    }
}

/// Parses -v HOST:CONTAINER[:ro|rw]. HOST may itself hold colons; CONTAINER must be absolute.
pub fn parse_volume_in(spec: &str, base: &Path, folders: &dyn Folders) -> Result<BindMount> {
    let bad = |why: &str| {
        Error::usage(format!("invalid volume `{spec}`: {why}")).hint(
            "use -v HOST:CONTAINER or -v HOST:CONTAINER:ro, e.g. -v ~/datasets:/home/dimtensor/datasets:ro",
        )
    };
    let (rest, read_only) = match spec.rsplit_once(':') {
        Some((rest, "ro")) => (rest, true),
        Some((rest, "rw")) => (rest, false),
        _ => (spec, false),
    };
    let (host, target) = rest.rsplit_once(':').ok_or_else(|| bad("expected HOST:CONTAINER"))?;
    if host.is_empty() {
        return Err(bad("the host path is empty"));
    }
    if !target.starts_with('/') {
        return Err(bad("the container path must be absolute"));
    }
    if target == "/" || target.split('/').any(|c| c == "..") {
        return Err(bad("the container path must be a folder below /"));
    }
    let host_path = expand_home(host, folders);
    let full = if host_path.is_absolute() { host_path } else { base.join(host_path) };
    let source = match folders.check(&full) {
        FolderCheck::Folder(p) | FolderCheck::NotAFolder(p) => p,
        FolderCheck::Missing => {
            return Err(Error::usage(format!(
                "volume source {}{} does not exist",
                full.display(),
                folders.place()
            ))
            .hint("create it first: dimtensor-up never lets Docker create it as root"))
        }
    };
    Ok(BindMount { source, target: target.trim_end_matches('/').to_string(), read_only })
}

fn expand_home(path: &str, folders: &dyn Folders) -> PathBuf {
    match (path.strip_prefix("~/"), folders.home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The settings as far as they settle before anything is touched: a lab on this machine's
/// whole settings; over ssh, where the paths are the remote's, the flags only checked.
#[derive(Debug)]
pub enum Prechecked {
    Here(Box<LabSettings>),
    Remote,
}

/// Flags checked before anything is touched: over ssh the paths cannot be checked yet, the rest is.
pub fn precheck(host_flag: Option<&str>, args: &LabArgs, config: &Config, cwd: &Path) -> Result<Prechecked> {
    match crate::engine::is_remote(host_flag)? {
        true => LabSettings::resolve_in(args, config, Path::new("/"), &UncheckedFolders)
            .map(|_| Prechecked::Remote),
        false => LabSettings::resolve(args, config, cwd).map(|s| Prechecked::Here(Box::new(s))),
    }
}

impl Prechecked {
    /// The settings on `engine` for the same flags: those settled here already, else as
    /// `on_engine` settles them where the engine runs.
    pub async fn on(
        self,
        engine: &Engine,
        args: &LabArgs,
        config: &Config,
        cwd: &Path,
        reporter: &Reporter,
    ) -> Result<LabSettings> {
        match (self, engine.host.ssh()) {
            (Prechecked::Here(settings), None) => Ok(*settings),
            _ => on_engine(engine, args, config, cwd, reporter).await,
        }
    }
}

/// The settings of a lab on `engine`, with paths checked where the engine runs. Over ssh the
/// work folder defaults to a persistent folder on the remote named after `cwd` (created as the
/// remote user), and relative paths are taken from the remote home.
pub async fn on_engine(
    engine: &Engine,
    args: &LabArgs,
    config: &Config,
    cwd: &Path,
    reporter: &Reporter,
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
    let folders = RemoteFolders { target, home: user.home.clone(), known };
    LabSettings::resolve_in(&args, config, &user.home, &folders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_auto_gpu_and_the_current_folder() {
        let (_dir, base) = crate::base::state::test_folder();
        let s = LabSettings::resolve(&LabArgs::default(), &Config::default(), &base).unwrap();
        assert!(s.user_packages && s.project.is_empty());
        assert_eq!(s.listen.to_string(), "127.0.0.1");
        assert_eq!(s.gpus, GpuRequest::Auto);
        assert_eq!(
            s.mounts,
            vec![BindMount { source: base.clone(), target: WORK_MOUNT.into(), read_only: false }]
        );
        // The lab is settled against the engine (commands::settle_lab); no platform is forced.
        assert_eq!((s.variant, s.platform), (Variant::Auto, None));
        let arm = LabArgs { platform: Some("linux/arm64".into()), ..Default::default() };
        assert_eq!(
            LabSettings::resolve(&arm, &Config::default(), &base).unwrap().platform,
            Some(Arch::Arm64)
        );
        let bad = LabArgs { platform: Some("linux/s390x".into()), ..Default::default() };
        assert!(LabSettings::resolve(&bad, &Config::default(), &base)
            .unwrap_err()
            .hint
            .unwrap()
            .contains("linux/arm64"));
    }

    #[test]
    fn bad_values_are_usage_errors_with_hints() {
        let (_dir, base) = crate::base::state::test_folder();
        let cases: Vec<LabArgs> = vec![
            LabArgs { port: Some(0), ..Default::default() },
            LabArgs { listen: Some("localhost".into()), ..Default::default() },
            LabArgs { gpus: Some("lots".into()), ..Default::default() },
            LabArgs { workdir: Some("does-not-exist".into()), ..Default::default() },
            LabArgs { data: Some("/nonexistent/data".into()), ..Default::default() },
            LabArgs { user: Some("me".into()), ..Default::default() },
            LabArgs { user: Some("1000".into()), ..Default::default() },
            LabArgs { volumes: vec!["nocolon".into()], ..Default::default() },
            LabArgs { volumes: vec![".:relative".into()], ..Default::default() },
            LabArgs { volumes: vec!["/nonexistent:/x".into()], ..Default::default() },
            LabArgs { volumes: vec![".:/home/dimtensor/work".into()], ..Default::default() },
        ];
        for args in cases {
            let err = LabSettings::resolve(
                &LabArgs { variant: Some(Variant::Base), ..args.clone() },
                &Config::default(),
                &base,
            )
            .unwrap_err();
            assert_eq!(err.kind, crate::base::error::Kind::Usage, "{args:?}");
            assert!(err.hint.is_some(), "{args:?}");
        }
    }

    #[test]
    fn volumes_keep_colons_in_host_paths() {
        let (_dir, base) = crate::base::state::test_folder();
        let odd = base.join("a:b c$d-é");
        std::fs::create_dir_all(&odd).unwrap();
        let m = parse_volume_in(&format!("{}:/data:ro", odd.display()), &base, &LocalFolders).unwrap();
        assert_eq!((m.source, m.target.as_str(), m.read_only), (odd.clone(), "/data", true));
        let m = parse_volume_in("a:b c$d-é:/x/", &base, &LocalFolders).unwrap();
        assert_eq!((m.source, m.target.as_str(), m.read_only), (odd, "/x", false));
    }
}
