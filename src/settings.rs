//! One settings model for `jupyter` and `compose`: flags and the settings file, validated before
//! the engine is touched, then turned into a launch plan.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{ImageId, Variant};
use crate::cli::LabArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::gpu::{GpuAttach, GpuRequest};

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
    pub variant: Variant,
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
        let variant = args.variant.or(config.variant).unwrap_or(Variant::Jupyter);
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
        let workdir = existing_dir(args.workdir.as_deref().unwrap_or(Path::new(".")), base, "--workdir")?;
        let mut mounts =
            vec![BindMount { source: workdir.clone(), target: WORK_MOUNT.into(), read_only: false }];
        if let Some(data) = &args.data {
            mounts.push(BindMount {
                source: existing_dir(data, base, "--data")?,
                target: DATA_MOUNT.into(),
                read_only: false,
            });
        }
        for spec in &args.volumes {
            let mount = parse_volume(spec, base)?;
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
        Ok(LabSettings { variant, gpus, port: args.port, listen, workdir, mounts, user })
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

fn existing_dir(path: &Path, base: &Path, flag: &str) -> Result<PathBuf> {
    let full = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    match std::fs::canonicalize(&full) {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(p) => Err(Error::usage(format!("{flag} {} is not a folder", p.display())).hint("give a folder")),
        Err(_) => Err(Error::usage(format!("{flag} {} does not exist", full.display())).hint(format!(
            "create it first (mkdir -p {}): dimtensor-up never lets Docker create it as root",
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
pub fn parse_volume(spec: &str, base: &Path) -> Result<BindMount> {
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
    let host_path = expand_home(host);
    let full = if host_path.is_absolute() { host_path } else { base.join(host_path) };
    let source = std::fs::canonicalize(&full).map_err(|_| {
        Error::usage(format!("volume source {} does not exist", full.display()))
            .hint("create it first: dimtensor-up never lets Docker create it as root")
    })?;
    Ok(BindMount { source, target: target.trim_end_matches('/').to_string(), read_only })
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), directories::BaseDirs::new()) {
        (Some(rest), Some(dirs)) => dirs.home_dir().join(rest),
        _ => PathBuf::from(path),
    }
}

/// A settled launch: what `jupyter` asks the engine for and `compose` writes down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchPlan {
    pub name: String,
    pub image_ref: String,
    pub variant: Variant,
    pub listen: IpAddr,
    pub host_port: u16,
    pub mounts: Vec<BindMount>,
    pub user: Option<UserSpec>,
    pub gpu: GpuAttach,
    pub labels: BTreeMap<String, String>,
}

impl LaunchPlan {
    pub fn new(
        settings: &LabSettings,
        image_ref: String,
        host_port: u16,
        user: Option<UserSpec>,
        gpu: GpuAttach,
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
            labels,
        }
    }

    /// The Engine API body for `POST /containers/create`. The token reaches Jupyter as a
    /// read-only file: not an image layer, not an environment variable `docker inspect` shows.
    pub fn create_body(&self, token_file: &Path) -> bollard::models::ContainerCreateBody {
        use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
        let mut labels = self.labels.clone();
        labels.insert(labels::TOKEN_FILE.into(), token_file.display().to_string());
        let mut mounts = self.engine_mounts();
        mounts.push(Mount {
            target: Some(TOKEN_MOUNT.into()),
            source: Some(token_file.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        });
        let port_key = format!("{CONTAINER_PORT}/tcp");
        ContainerCreateBody {
            image: Some(self.image_ref.clone()),
            user: self.user.map(|u| u.render()),
            env: Some(self.env().into_iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels.into_iter().collect()),
            exposed_ports: Some(vec![port_key.clone()]),
            working_dir: Some(WORK_MOUNT.into()),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                port_bindings: Some(
                    [(
                        port_key,
                        Some(vec![PortBinding {
                            host_ip: Some(self.listen.to_string()),
                            host_port: Some(self.host_port.to_string()),
                        }]),
                    )]
                    .into_iter()
                    .collect(),
                ),
                device_requests: self.gpu.device_request().map(|d| vec![d]),
                // Jupyter needs no capability and never escalates; an init reaps kernels' children.
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges:true".into()]),
                init: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The container's environment: where the token is, and no GPU when none was decided.
    pub fn env(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("JUPYTER_TOKEN_FILE", TOKEN_MOUNT)];
        env.extend(self.gpu.env());
        env
    }

    /// The bind mounts as Engine API mounts (the Mounts API: any character in a path works).
    pub fn engine_mounts(&self) -> Vec<bollard::models::Mount> {
        use bollard::models::{Mount, MountType};
        self.mounts
            .iter()
            .map(|m| Mount {
                target: Some(m.target.clone()),
                source: Some(m.source.display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(m.read_only),
                ..Default::default()
            })
            .collect()
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
        assert_eq!(s.image(), ImageId::Jupyter);
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
        let m = parse_volume(&format!("{}:/data:ro", odd.display()), &base).unwrap();
        assert_eq!((m.source, m.target.as_str(), m.read_only), (odd.clone(), "/data", true));
        let m = parse_volume("a:b c$d-é:/x/", &base).unwrap();
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

    #[test]
    fn create_body_is_loopback_nonroot_and_token_free() {
        let base = tmp();
        let args = LabArgs { user: Some("1234:1234".into()), ..Default::default() };
        let s = LabSettings::resolve(
            &LabArgs { variant: Some(Variant::Base), ..args.clone() },
            &Config::default(),
            &base,
        )
        .unwrap();
        let plan = LaunchPlan::new(&s, "img:jupyter-base".into(), 8890, s.user, GpuAttach::All);
        let body = plan.create_body(Path::new("/state/tokens/x"));
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["User"], "1234:1234");
        assert_eq!(
            json["HostConfig"]["PortBindings"]["8888/tcp"][0],
            serde_json::json!({"HostIp": "127.0.0.1", "HostPort": "8890"})
        );
        assert_eq!(json["HostConfig"]["DeviceRequests"][0]["Count"], -1);
        assert_eq!(json["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
        assert_eq!(json["HostConfig"]["SecurityOpt"], serde_json::json!(["no-new-privileges:true"]));
        assert_eq!(json["Env"], serde_json::json!(["JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token"]));
        let cpu_only = LaunchPlan::new(&s, "img:jupyter-base".into(), 8890, s.user, GpuAttach::None);
        let json = serde_json::to_value(cpu_only.create_body(Path::new("/state/tokens/x"))).unwrap();
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
        assert_eq!(plan.url("abc"), "http://127.0.0.1:8890/lab?token=abc");
        assert_eq!(lab_url("0.0.0.0".parse().unwrap(), 9000, "t"), "http://127.0.0.1:9000/lab?token=t");
    }
}
