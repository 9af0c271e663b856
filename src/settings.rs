//! One settings model for `jupyter` and `compose`: flags and the settings file, validated before
//! the engine is touched, then turned into a launch plan.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{ImageId, Variant};
use crate::cli::LabArgs;
use crate::config::Config;
use crate::engine::model::{GpuForm, UserMapping};
use crate::error::{Error, Result};
use crate::gpu::{GpuAttach, GpuRequest};
use crate::platform::Arch;

pub const CONTAINER_PORT: u16 = 8888;
pub const FIRST_PORT: u16 = 8888;
/// How many ports from FIRST_PORT are tried.
pub const PORT_RANGE: u16 = 100;
pub const HOME: &str = "/home/dimtensor";
pub const WORK_MOUNT: &str = "/home/dimtensor/work";
pub const DATA_MOUNT: &str = "/home/dimtensor/data";
pub const TOKEN_MOUNT: &str = "/run/secrets/jupyter_token";

/// Labels that let `ps`, `open` and `stop` find what dimtensor-up started.
pub mod labels {
    pub const MANAGED: &str = "org.dimtensor-up.managed";
    pub const WORKDIR: &str = "org.dimtensor-up.workdir";
    pub const VARIANT: &str = "org.dimtensor-up.lab-variant";
    pub const PORT: &str = "org.dimtensor-up.port";
    pub const LISTEN: &str = "org.dimtensor-up.listen";
    pub const TOKEN_FILE: &str = "org.dimtensor-up.token-file";
    pub const GPUS: &str = "org.dimtensor-up.gpus";
    /// On the labs a hub spawned: the hub's folder (`stop` of the hub removes them too).
    pub const HUB: &str = "org.dimtensor-up.hub";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindMount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserSpec {
    pub uid: u32,
    pub gid: u32,
}

impl UserSpec {
    pub fn parse(text: &str) -> Result<UserSpec> {
        let bad = || {
            Error::usage(format!("invalid --user `{text}`"))
                .hint("use numeric UID:GID, for example --user 1000:1000 (`id -u`:`id -g`)")
        };
        let (u, g) = text.split_once(':').ok_or_else(bad)?;
        Ok(UserSpec { uid: u.parse().map_err(|_| bad())?, gid: g.parse().map_err(|_| bad())? })
    }
    pub fn render(&self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }
    /// The invoking user's UID:GID.
    #[cfg(unix)]
    pub fn caller() -> Option<UserSpec> {
        use std::os::unix::fs::MetadataExt;
        // The process's own IDs, read without libc: /proc/self is owned by them on Linux.
        let meta = std::fs::metadata("/proc/self").ok()?;
        Some(UserSpec { uid: meta.uid(), gid: meta.gid() })
    }
    #[cfg(not(unix))]
    pub fn caller() -> Option<UserSpec> {
        None
    }
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
        let gpus = GpuRequest::parse(args.gpus.as_deref().or(config.gpus.as_deref()).unwrap_or("auto"))?;
        if args.port == Some(0) {
            return Err(Error::usage("invalid --port 0")
                .hint("give a port from 1 to 65535, or leave --port out for the first free one from 8888"));
        }
        let listen = match &args.listen {
            Some(text) => text.trim_matches(['[', ']']).parse::<IpAddr>().map_err(|_| {
                Error::usage(format!("invalid --listen `{text}`"))
                    .hint("give an IP address: 127.0.0.1 (default), 0.0.0.0 for every interface")
            })?,
            None => config.listen.unwrap_or(IpAddr::from([127, 0, 0, 1])),
        };
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
        Ok(LabSettings { variant, platform, gpus, port: args.port, listen, workdir, mounts, user })
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
        container_name_for(&self.workdir)
    }
}

pub fn container_name_for(workdir: &Path) -> String {
    let base = workdir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut slug: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    slug = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    slug.truncate(24);
    let slug = if slug.is_empty() { "root".to_string() } else { slug.trim_end_matches('-').to_string() };
    format!("dimtensor-up-{slug}-{:08x}", fnv1a(workdir.to_string_lossy().as_bytes()) as u32)
}

/// FNV-1a: a hash that stays the same across Rust versions (names must survive upgrades).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// Where the host paths of the settings are looked up: this machine, or the machine of the
/// engine (over ssh, bind mounts name the remote's folders).
pub trait Folders {
    fn check(&self, path: &Path) -> FolderCheck;
    /// The home folder `~/` stands for.
    fn home(&self) -> Option<PathBuf>;
    /// Where, for messages: "" here, " on box" over ssh.
    fn place(&self) -> String;
}

pub enum FolderCheck {
    Folder(PathBuf),
    NotAFolder(PathBuf),
    Missing,
}

/// This machine's folders.
pub struct LocalFolders;

impl Folders for LocalFolders {
    fn check(&self, path: &Path) -> FolderCheck {
        match std::fs::canonicalize(path) {
            Ok(p) if p.is_dir() => FolderCheck::Folder(p),
            Ok(p) => FolderCheck::NotAFolder(p),
            Err(_) => FolderCheck::Missing,
        }
    }
    fn home(&self) -> Option<PathBuf> {
        directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
    }
    fn place(&self) -> String {
        String::new()
    }
}

/// Takes every path as a folder, unchanged: validating the flags before the engine's machine
/// can be asked.
pub struct UncheckedFolders;

impl Folders for UncheckedFolders {
    fn check(&self, path: &Path) -> FolderCheck {
        FolderCheck::Folder(path.to_path_buf())
    }
    fn home(&self) -> Option<PathBuf> {
        Some(PathBuf::from("/"))
    }
    fn place(&self) -> String {
        String::new()
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
                shell_quote(&full)
            ))),
    }
}

fn shell_quote(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
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

/// The hardening every container dimtensor-up makes gets, written once for the Engine API body,
/// Podman's body and compose files: Jupyter needs no capability and never escalates. (The images'
/// own tini is PID 1 and reaps kernels' children: no engine-provided init, which Podman would
/// need catatonit for.)
pub mod hardening {
    pub const CAP_DROP: &str = "ALL";
    pub const NO_NEW_PRIVILEGES: bool = true;
    /// The Docker API's and compose's spelling of NO_NEW_PRIVILEGES.
    pub fn security_opt() -> Vec<&'static str> {
        if NO_NEW_PRIVILEGES {
            vec!["no-new-privileges:true"]
        } else {
            vec![]
        }
    }
}

/// What a container is for: the JupyterLab server, or a command `run` attaches to.
#[derive(Debug, Clone, Copy)]
pub enum Role<'a> {
    /// The token reaches Jupyter as a read-only file: not an image layer, not an environment
    /// variable `docker inspect` shows.
    Lab {
        token_file: &'a Path,
    },
    Command {
        cmd: &'a [String],
        tty: bool,
    },
}

/// A settled launch: what `jupyter` and `run` ask the engine for and `compose` writes down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchPlan {
    pub name: String,
    pub image_ref: String,
    pub variant: Variant,
    pub listen: IpAddr,
    pub host_port: u16,
    pub mounts: Vec<BindMount>,
    pub user: UserMapping,
    pub gpu: GpuAttach,
    pub gpu_form: GpuForm,
    pub labels: BTreeMap<String, String>,
    /// A platform other than the engine's (`--platform`), for compose files; None: the engine's.
    pub platform: Option<&'static str>,
}

impl LaunchPlan {
    pub fn new(
        settings: &LabSettings,
        image_ref: String,
        host_port: u16,
        user: UserMapping,
        gpu: GpuAttach,
        gpu_form: GpuForm,
    ) -> LaunchPlan {
        let labels = BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::WORKDIR.to_string(), settings.workdir.display().to_string()),
            (labels::VARIANT.to_string(), settings.variant.name().to_string()),
            (labels::PORT.to_string(), host_port.to_string()),
            (labels::LISTEN.to_string(), settings.listen.to_string()),
            (labels::GPUS.to_string(), gpu.describe()),
        ]);
        LaunchPlan {
            name: settings.container_name(),
            image_ref,
            variant: settings.variant,
            listen: settings.listen,
            host_port,
            mounts: settings.mounts.clone(),
            user,
            gpu,
            gpu_form,
            labels,
            platform: None,
        }
    }

    /// The bind mounts the role needs: the folders, plus the token file for the lab.
    fn role_mounts(&self, role: Role) -> Vec<BindMount> {
        let mut mounts = self.mounts.clone();
        if let Role::Lab { token_file } = role {
            mounts.push(BindMount {
                source: token_file.to_path_buf(),
                target: TOKEN_MOUNT.into(),
                read_only: true,
            });
        }
        mounts
    }

    fn role_labels(&self, role: Role) -> BTreeMap<String, String> {
        match role {
            Role::Lab { token_file } => {
                let mut labels = self.labels.clone();
                labels.insert(labels::TOKEN_FILE.into(), token_file.display().to_string());
                labels
            }
            // A `run` container is not a server: `ps` and `stop` must not list it.
            Role::Command { .. } => BTreeMap::new(),
        }
    }

    fn role_env(&self, role: Role) -> Vec<(&'static str, &'static str)> {
        match role {
            Role::Lab { .. } => self.env(),
            Role::Command { .. } => self.gpu.env().into_iter().collect(),
        }
    }

    /// The Engine API body for `POST /containers/create`.
    pub fn create_body(&self, role: Role) -> bollard::models::ContainerCreateBody {
        use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
        let mounts = self
            .role_mounts(role)
            .into_iter()
            .map(|m| Mount {
                target: Some(m.target),
                source: Some(m.source.display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(m.read_only),
                ..Default::default()
            })
            .collect();
        let port_key = format!("{CONTAINER_PORT}/tcp");
        let (cmd, tty, lab) = match role {
            Role::Lab { .. } => (None, false, true),
            Role::Command { cmd, tty } => ((!cmd.is_empty()).then(|| cmd.to_vec()), tty, false),
        };
        let port_bindings = lab.then(|| {
            [(
                port_key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some(self.listen.to_string()),
                    host_port: Some(self.host_port.to_string()),
                }]),
            )]
            .into_iter()
            .collect()
        });
        ContainerCreateBody {
            image: Some(self.image_ref.clone()),
            user: self.user.user.map(|u| u.render()),
            cmd,
            env: Some(self.role_env(role).into_iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(self.role_labels(role).into_iter().collect()),
            exposed_ports: lab.then(|| vec![port_key]),
            working_dir: Some(WORK_MOUNT.into()),
            tty: (!lab).then_some(tty),
            open_stdin: (!lab).then_some(true),
            stdin_once: (!lab).then_some(true),
            attach_stdin: (!lab).then_some(true),
            attach_stdout: (!lab).then_some(true),
            attach_stderr: (!lab).then_some(true),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                port_bindings,
                device_requests: self.gpu.device_request(self.gpu_form).map(|d| vec![d]),
                userns_mode: self.user.keep_id.then(|| "keep-id".to_string()),
                cap_drop: Some(vec![hardening::CAP_DROP.into()]),
                security_opt: Some(hardening::security_opt().into_iter().map(String::from).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Podman's body for `POST /libpod/containers/create` (its "specgen"): the same container,
    /// with GPUs as CDI devices, which Podman's Docker API would drop.
    pub fn libpod_body(&self, role: Role) -> serde_json::Value {
        use serde_json::json;
        let mounts: Vec<serde_json::Value> = self
            .role_mounts(role)
            .into_iter()
            .map(|m| {
                json!({
                    "destination": m.target, "source": m.source.display().to_string(), "type": "bind",
                    "options": ["rbind", if m.read_only { "ro" } else { "rw" }],
                })
            })
            .collect();
        let env: serde_json::Map<String, serde_json::Value> =
            self.role_env(role).into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let mut body = json!({
            "image": self.image_ref,
            "labels": self.role_labels(role),
            "env": env,
            "work_dir": WORK_MOUNT,
            "mounts": mounts,
            "cap_drop": [hardening::CAP_DROP],
            "no_new_privileges": hardening::NO_NEW_PRIVILEGES,
        });
        if let Some(user) = self.user.user {
            body["user"] = json!(user.render());
        }
        if self.user.keep_id {
            body["userns"] = json!({ "nsmode": "keep-id" });
        }
        let devices: Vec<serde_json::Value> =
            self.gpu.cdi_names().into_iter().map(|path| json!({ "path": path })).collect();
        if !devices.is_empty() {
            body["devices"] = json!(devices);
        }
        match role {
            Role::Lab { .. } => {
                body["name"] = json!(self.name);
                body["portmappings"] = json!([{
                    "host_ip": self.listen.to_string(), "host_port": self.host_port,
                    "container_port": CONTAINER_PORT, "protocol": "tcp",
                }]);
            }
            Role::Command { cmd, tty } => {
                if !cmd.is_empty() {
                    body["command"] = json!(cmd);
                }
                body["terminal"] = json!(tty);
                body["stdin"] = json!(true);
            }
        }
        body
    }

    /// The lab container's environment: where the token is, and no GPU when none was decided.
    pub fn env(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("JUPYTER_TOKEN_FILE", TOKEN_MOUNT)];
        env.extend(self.gpu.env());
        env
    }

    pub fn url(&self, token: &str) -> String {
        lab_url(self.listen, self.host_port, token)
    }
}

/// The address a browser on this machine uses for a server bound to `listen`.
pub fn connect_host(listen: IpAddr) -> String {
    match listen {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".into(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

pub fn lab_url(listen: IpAddr, port: u16, token: &str) -> String {
    format!("http://{}:{port}/lab?token={token}", connect_host(listen))
}

/// The first port from FIRST_PORT that `is_free` accepts and `taken` does not list.
pub fn choose_port(taken: &[u16], is_free: &dyn Fn(u16) -> bool) -> Option<u16> {
    (FIRST_PORT..FIRST_PORT.saturating_add(PORT_RANGE)).find(|p| !taken.contains(p) && is_free(*p))
}

pub fn port_is_free(listen: IpAddr, port: u16) -> bool {
    std::net::TcpListener::bind((listen, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "dtu-settings-{}-{}",
            std::process::id(),
            crate::token::random_hex(4)
        ));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::canonicalize(d).unwrap()
    }

    #[test]
    fn defaults_are_loopback_auto_gpu_and_the_current_folder() {
        let base = tmp();
        let s = LabSettings::resolve(&LabArgs::default(), &Config::default(), &base).unwrap();
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
        let base = tmp();
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
            assert_eq!(err.kind, crate::error::Kind::Usage, "{args:?}");
            assert!(err.hint.is_some(), "{args:?}");
        }
    }

    #[test]
    fn volumes_keep_colons_in_host_paths() {
        let base = tmp();
        let odd = base.join("a:b c$d-é");
        std::fs::create_dir_all(&odd).unwrap();
        let m = parse_volume_in(&format!("{}:/data:ro", odd.display()), &base, &LocalFolders).unwrap();
        assert_eq!((m.source, m.target.as_str(), m.read_only), (odd.clone(), "/data", true));
        let m = parse_volume_in("a:b c$d-é:/x/", &base, &LocalFolders).unwrap();
        assert_eq!((m.source, m.target.as_str(), m.read_only), (odd, "/x", false));
    }

    #[test]
    fn container_names_are_stable_readable_and_per_folder() {
        let a = container_name_for(Path::new("/home/ana/My Project"));
        assert_eq!(a, container_name_for(Path::new("/home/ana/My Project")));
        assert!(a.starts_with("dimtensor-up-my-project-"), "{a}");
        assert_ne!(a, container_name_for(Path::new("/home/bob/My Project")));
        assert!(container_name_for(Path::new("/")).starts_with("dimtensor-up-root-"));
        assert!(container_name_for(Path::new("/x/Ünïcødé"))
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn port_choice_skips_taken_and_busy_ports() {
        assert_eq!(choose_port(&[], &|_| true), Some(8888));
        assert_eq!(choose_port(&[8888, 8889], &|p| p != 8890), Some(8891));
        assert_eq!(choose_port(&[], &|_| false), None);
    }

    fn plan_with(user: UserMapping, gpu: GpuAttach, form: GpuForm) -> (LaunchPlan, PathBuf) {
        let base = tmp();
        let s = LabSettings::resolve(
            &LabArgs { variant: Some(Variant::Base), ..Default::default() },
            &Config::default(),
            &base,
        )
        .unwrap();
        (LaunchPlan::new(&s, "img:jupyter-base".into(), 8890, user, gpu, form), base)
    }

    const CALLER: UserMapping = UserMapping { user: Some(UserSpec { uid: 1234, gid: 1234 }), keep_id: false };
    fn token() -> Role<'static> {
        Role::Lab { token_file: Path::new("/state/tokens/x") }
    }

    #[test]
    fn create_body_is_loopback_nonroot_and_token_free() {
        let (plan, _) = plan_with(CALLER, GpuAttach::All, GpuForm::DeviceRequest);
        let json = serde_json::to_value(plan.create_body(token())).unwrap();
        assert_eq!(json["User"], "1234:1234");
        assert_eq!(
            json["HostConfig"]["PortBindings"]["8888/tcp"][0],
            serde_json::json!({"HostIp": "127.0.0.1", "HostPort": "8890"})
        );
        assert_eq!(json["HostConfig"]["DeviceRequests"][0]["Count"], -1);
        assert_eq!(json["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
        assert_eq!(json["HostConfig"]["SecurityOpt"], serde_json::json!(["no-new-privileges:true"]));
        // The image's tini is PID 1; an engine init on top would make it warn and nest.
        assert!(json["HostConfig"]["Init"].is_null());
        assert!(json["HostConfig"]["UsernsMode"].is_null());
        assert_eq!(json["Env"], serde_json::json!(["JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token"]));
        assert!(json["Cmd"].is_null() && json["Tty"].is_null() && json["OpenStdin"].is_null());
        let (cpu_only, base) = plan_with(CALLER, GpuAttach::None, GpuForm::DeviceRequest);
        let json = serde_json::to_value(cpu_only.create_body(token())).unwrap();
        assert_eq!(
            json["Env"],
            serde_json::json!([
                "JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token",
                "NVIDIA_VISIBLE_DEVICES=void"
            ])
        );
        assert!(json["HostConfig"]["DeviceRequests"].is_null());
        assert_eq!(json["HostConfig"]["Mounts"][1]["Target"], TOKEN_MOUNT);
        assert_eq!(json["HostConfig"]["Mounts"][1]["ReadOnly"], true);
        assert_eq!(json["Labels"][labels::WORKDIR], base.display().to_string());
        assert_eq!(json["Labels"][labels::TOKEN_FILE], "/state/tokens/x");
        assert_eq!(plan.url("abc"), "http://127.0.0.1:8890/lab?token=abc");
        assert_eq!(lab_url("0.0.0.0".parse().unwrap(), 9000, "t"), "http://127.0.0.1:9000/lab?token=t");
    }

    #[test]
    fn a_command_gets_the_same_container_without_server_parts() {
        let (plan, base) = plan_with(CALLER, GpuAttach::None, GpuForm::DeviceRequest);
        let cmd = vec!["python".to_string(), "-V".to_string()];
        let json = serde_json::to_value(plan.create_body(Role::Command { cmd: &cmd, tty: true })).unwrap();
        assert_eq!(json["Cmd"], serde_json::json!(["python", "-V"]));
        assert_eq!(
            (json["Tty"].clone(), json["OpenStdin"].clone()),
            (serde_json::json!(true), serde_json::json!(true))
        );
        assert_eq!(json["User"], "1234:1234");
        assert_eq!(json["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
        assert_eq!(json["HostConfig"]["Mounts"].as_array().unwrap().len(), 1, "the folder, no token");
        assert_eq!(json["HostConfig"]["Mounts"][0]["Source"], base.display().to_string());
        assert!(json["HostConfig"]["PortBindings"].is_null() && json["ExposedPorts"].is_null());
        assert_eq!(json["Labels"], serde_json::json!({}), "not a server: ps must not list it");
        assert_eq!(json["Env"], serde_json::json!(["NVIDIA_VISIBLE_DEVICES=void"]));
    }

    #[test]
    fn podman_body_carries_keep_id_and_cdi_devices() {
        let keep_id = UserMapping { keep_id: true, ..CALLER };
        let (plan, base) = plan_with(keep_id, GpuAttach::Devices(vec!["0".into()]), GpuForm::Cdi);
        let json = plan.libpod_body(token());
        assert_eq!(json["name"], plan.name);
        assert_eq!(json["user"], "1234:1234");
        assert_eq!(json["userns"], serde_json::json!({"nsmode": "keep-id"}));
        assert_eq!(json["devices"], serde_json::json!([{"path": "nvidia.com/gpu=0"}]));
        assert_eq!(
            json["portmappings"],
            serde_json::json!([{"host_ip": "127.0.0.1", "host_port": 8890, "container_port": 8888, "protocol": "tcp"}])
        );
        assert_eq!(json["cap_drop"], serde_json::json!(["ALL"]));
        assert_eq!(
            (json["no_new_privileges"].clone(), json["init"].clone()),
            (serde_json::json!(true), serde_json::Value::Null)
        );
        assert_eq!(json["mounts"][0]["source"], base.display().to_string());
        assert_eq!(
            json["mounts"][1],
            serde_json::json!({"destination": TOKEN_MOUNT, "source": "/state/tokens/x", "type": "bind", "options": ["rbind", "ro"]})
        );
        assert_eq!(json["env"], serde_json::json!({"JUPYTER_TOKEN_FILE": TOKEN_MOUNT}));
        assert_eq!(json["labels"][labels::GPUS], "device=0");
        // The same plan through Docker's API: keep-id as UsernsMode, GPUs in the CDI driver's form.
        let docker = serde_json::to_value(plan.create_body(token())).unwrap();
        assert_eq!(docker["HostConfig"]["UsernsMode"], "keep-id");
        assert_eq!(docker["HostConfig"]["DeviceRequests"][0]["Driver"], "cdi");
        let cmd = vec!["true".to_string()];
        let command = plan.libpod_body(Role::Command { cmd: &cmd, tty: false });
        assert!(command["name"].is_null() && command["portmappings"].is_null());
        assert_eq!(
            (command["command"].clone(), command["stdin"].clone()),
            (serde_json::json!(["true"]), serde_json::json!(true))
        );
    }
}
