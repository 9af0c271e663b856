//! GPU detection and the decision whether to attach GPUs. The probes capture command output and
//! files; the parsers and the decision are pure so they are tested without a GPU.

use serde::Serialize;

use crate::engine::model::{EngineModel, GpuForm};
use crate::error::{Error, Kind, Result};

/// The CDI kind of NVIDIA GPUs (what `nvidia-ctk cdi generate` writes).
pub const CDI_KIND: &str = "nvidia.com/gpu";

/// What the user asked for with `--gpus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuRequest {
    Auto,
    All,
    None,
    Count(u32),
    Devices(Vec<String>),
}

impl GpuRequest {
    pub fn parse(text: &str) -> Result<GpuRequest> {
        let bad = || {
            Error::usage(format!("invalid --gpus value `{text}`"))
                .hint("use auto, all, none, a count such as 2, or device=0,1 (GPU indexes or UUIDs)")
        };
        let t = text.trim();
        Ok(match t {
            "auto" => GpuRequest::Auto,
            "all" => GpuRequest::All,
            "none" | "0" => GpuRequest::None,
            _ if t.starts_with("device=") => {
                let ids: Vec<String> =
                    t["device=".len()..].split(',').map(|s| s.trim().to_string()).collect();
                if ids
                    .iter()
                    .any(|id| id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                {
                    return Err(bad());
                }
                GpuRequest::Devices(ids)
            }
            _ => match t.parse::<u32>() {
                Ok(n) => GpuRequest::Count(n),
                Err(_) => return Err(bad()),
            },
        })
    }
    /// The text `parse` takes back (the settings file keeps it).
    pub fn text(&self) -> String {
        match self {
            GpuRequest::Auto => "auto".into(),
            GpuRequest::All => "all".into(),
            GpuRequest::None => "none".into(),
            GpuRequest::Count(n) => n.to_string(),
            GpuRequest::Devices(ids) => format!("device={}", ids.join(",")),
        }
    }
}

/// What gets attached: the Engine API's DeviceRequest, as `docker run --gpus` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuAttach {
    None,
    All,
    Count(u32),
    Devices(Vec<String>),
}

impl GpuAttach {
    /// The Engine API's DeviceRequest: `docker run --gpus` for the NVIDIA toolkit, or the CDI
    /// driver's form (Docker 25+, Podman 5.5+) with CDI device names.
    pub fn device_request(&self, form: GpuForm) -> Option<bollard::models::DeviceRequest> {
        if *self == GpuAttach::None {
            return None;
        }
        if form == GpuForm::Cdi {
            return Some(bollard::models::DeviceRequest {
                driver: Some("cdi".into()),
                device_ids: Some(self.cdi_names()),
                ..Default::default()
            });
        }
        let (count, ids) = match self {
            GpuAttach::None => return None,
            GpuAttach::All => (Some(-1), None),
            GpuAttach::Count(n) => (Some(i64::from(*n)), None),
            GpuAttach::Devices(ids) => (None, Some(ids.clone())),
        };
        Some(bollard::models::DeviceRequest {
            driver: Some(String::new()),
            count,
            device_ids: ids,
            capabilities: Some(vec![vec!["gpu".to_string()]]),
            options: Some(Default::default()),
        })
    }
    /// CDI device names (`nvidia.com/gpu=all`, `nvidia.com/gpu=0`); a count takes the first N
    /// indexes, since CDI has no "any N".
    pub fn cdi_names(&self) -> Vec<String> {
        let name = |id: &str| format!("{CDI_KIND}={id}");
        match self {
            GpuAttach::None => vec![],
            GpuAttach::All => vec![name("all")],
            GpuAttach::Count(n) => (0..*n).map(|i| name(&i.to_string())).collect(),
            GpuAttach::Devices(ids) => ids.iter().map(|id| name(id)).collect(),
        }
    }
    /// No GPU decided: `NVIDIA_VISIBLE_DEVICES=void`, since the GPU images set it to `all`, which an
    /// nvidia *default* runtime would honour without any device request.
    pub fn env(&self) -> Option<(&'static str, &'static str)> {
        (*self == GpuAttach::None).then_some(("NVIDIA_VISIBLE_DEVICES", "void"))
    }
    pub fn describe(&self) -> String {
        match self {
            GpuAttach::None => "none".into(),
            GpuAttach::All => "all".into(),
            GpuAttach::Count(n) => n.to_string(),
            GpuAttach::Devices(ids) => format!("device={}", ids.join(",")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostGpu {
    pub name: String,
    pub index: u32,
    pub memory_mib: Option<u64>,
}

/// The host side: an NVIDIA driver and its GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostGpuState {
    pub driver_version: Option<String>,
    pub gpus: Vec<HostGpu>,
    /// Why no driver was found, when none was.
    pub problem: Option<String>,
}

impl HostGpuState {
    pub fn has_driver(&self) -> bool {
        self.driver_version.is_some() && !self.gpus.is_empty()
    }
    /// Why no GPU can be used here, in words.
    fn why_unusable(&self) -> String {
        self.problem.clone().unwrap_or_else(|| "no NVIDIA GPU found".into())
    }
}

/// The engine side: can it run a container with a GPU request in the form it takes?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineGpuState {
    /// How GPU requests reach this engine (the engine model's word).
    pub form: GpuForm,
    /// The engine lists an `nvidia` runtime.
    pub nvidia_runtime: bool,
    /// CDI spec folders the engine reads (API 1.45+), when any exist.
    pub cdi_spec_dirs: Vec<String>,
    /// The NVIDIA container hook (what registers the engine's `nvidia` device driver) or
    /// nvidia-ctk is on PATH on this machine (only meaningful for a local engine).
    pub toolkit_on_path: Option<String>,
    /// A CDI spec file that defines `nvidia.com/gpu` devices (looked for on this machine only;
    /// a remote engine's is taken on trust).
    pub nvidia_cdi_spec: Option<String>,
}

impl Default for EngineGpuState {
    fn default() -> Self {
        EngineGpuState {
            form: GpuForm::DeviceRequest,
            nvidia_runtime: false,
            cdi_spec_dirs: vec![],
            toolkit_on_path: None,
            nvidia_cdi_spec: None,
        }
    }
}

/// Where CDI specs live (the CDI specification's static and dynamic folders).
pub const CDI_SPEC_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

impl EngineGpuState {
    pub fn supports_gpus(&self) -> bool {
        match self.form {
            GpuForm::DeviceRequest => {
                self.nvidia_runtime || !self.cdi_spec_dirs.is_empty() || self.toolkit_on_path.is_some()
            }
            GpuForm::Cdi => self.nvidia_cdi_spec.is_some(),
        }
    }
    /// Why this engine cannot take GPUs, with what fixes it.
    fn why_unsupported(&self) -> &'static str {
        match self.form {
            GpuForm::DeviceRequest => {
                "the Docker engine has no NVIDIA runtime (install the NVIDIA Container Toolkit)"
            }
            GpuForm::Cdi => "Podman finds no CDI spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi (create it: sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)",
        }
    }
}

/// Whether a CDI spec (YAML or JSON) declares the NVIDIA GPU kind.
pub fn is_nvidia_cdi_spec(text: &str) -> bool {
    serde_norway::from_str::<serde_norway::Value>(text)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(|k| k == CDI_KIND))
        .unwrap_or(false)
}

/// The first CDI spec under `dirs` that declares NVIDIA GPUs.
pub fn find_nvidia_cdi_spec(dirs: &[&str]) -> Option<String> {
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let spec_file = path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
            if spec_file && std::fs::read_to_string(&path).is_ok_and(|t| is_nvidia_cdi_spec(&t)) {
                return Some(path.display().to_string());
            }
        }
    }
    None
}

/// Parses `nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits`.
pub fn parse_nvidia_smi_csv(output: &str) -> (Option<String>, Vec<HostGpu>) {
    let mut driver = None;
    let mut gpus = Vec::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < 4 {
            continue;
        }
        let Ok(index) = fields[0].parse::<u32>() else {
            continue;
        };
        driver.get_or_insert_with(|| fields[2].to_string());
        gpus.push(HostGpu { index, name: fields[1].to_string(), memory_mib: fields[3].parse().ok() });
    }
    (driver, gpus)
}

/// Parses /proc/driver/nvidia/version: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  …".
pub fn parse_proc_driver_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version:"))?;
    line.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
}

/// What `nvidia-smi` is asked (the CSV `parse_nvidia_smi_csv` reads), here and over ssh.
pub const NVIDIA_SMI_QUERY: [&str; 2] =
    ["--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"];
/// The NVIDIA container tools whose presence says the engine's machine can attach GPUs (the
/// hook registers Docker's `nvidia` device driver; nvidia-ctk writes CDI specs).
pub const CONTAINER_TOOLKIT: [&str; 2] = ["nvidia-container-runtime-hook", "nvidia-ctk"];
/// The loaded NVIDIA kernel module's version (`parse_proc_driver_version` reads it).
pub const PROC_DRIVER_VERSION: &str = "/proc/driver/nvidia/version";

/// Runs the host probes: nvidia-smi first, /proc/driver/nvidia/version as a fallback for the driver.
pub fn probe_host() -> HostGpuState {
    let smi = std::process::Command::new("nvidia-smi").args(NVIDIA_SMI_QUERY).output();
    let proc_text = std::fs::read_to_string(PROC_DRIVER_VERSION).unwrap_or_default();
    let proc_version = parse_proc_driver_version(&proc_text);
    match smi {
        Ok(out) if out.status.success() => {
            host_state(Some(&String::from_utf8_lossy(&out.stdout)), &proc_text)
        }
        Ok(out) => HostGpuState {
            driver_version: proc_version,
            gpus: vec![],
            problem: Some(format!(
                "nvidia-smi failed: {}",
                String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").trim()
            )),
        },
        Err(_) => HostGpuState {
            driver_version: proc_version.clone(),
            gpus: vec![],
            problem: Some(if proc_version.is_some() {
                "the NVIDIA driver is loaded but nvidia-smi is not on PATH".into()
            } else {
                "no NVIDIA driver (nvidia-smi not found)".into()
            }),
        },
    }
}

/// The GPU state of a machine probed remotely: nvidia-smi's CSV when it ran, the driver file.
pub fn host_state(smi_csv: Option<&str>, proc_version_text: &str) -> HostGpuState {
    let proc_version = parse_proc_driver_version(proc_version_text);
    let Some(csv) = smi_csv else {
        let problem = match &proc_version {
            Some(_) => "the NVIDIA driver is loaded but nvidia-smi does not run there",
            None => "no NVIDIA driver (nvidia-smi not found)",
        };
        return HostGpuState { driver_version: proc_version, gpus: vec![], problem: Some(problem.into()) };
    };
    let (driver, gpus) = parse_nvidia_smi_csv(csv);
    let problem = gpus.is_empty().then(|| "nvidia-smi lists no GPU".to_string());
    HostGpuState { driver_version: driver.or(proc_version), gpus, problem }
}

/// Reads the engine's GPU support out of `docker info`; `toolkit` is where the NVIDIA container
/// tools were found on the engine's machine; for a CDI engine on this machine, the CDI specs.
pub fn engine_state(
    info: Option<&bollard::models::SystemInfo>,
    model: &EngineModel,
    toolkit: Option<String>,
) -> EngineGpuState {
    let local = model.local;
    let nvidia_runtime = info.and_then(|i| i.runtimes.as_ref()).is_some_and(|r| r.contains_key("nvidia"));
    let cdi_spec_dirs = info
        .and_then(|i| i.cdi_spec_dirs.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| std::path::Path::new(d).is_dir() || !local)
        .collect();
    let toolkit_on_path = toolkit;
    let form = model.gpu_form();
    let nvidia_cdi_spec = match (form, local) {
        (GpuForm::Cdi, true) => find_nvidia_cdi_spec(&CDI_SPEC_DIRS),
        (GpuForm::Cdi, false) => Some("(on the engine's host)".into()),
        (GpuForm::DeviceRequest, _) => None,
    };
    EngineGpuState { form, nvidia_runtime, cdi_spec_dirs, toolkit_on_path, nvidia_cdi_spec }
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
    variant_gpu_capable: bool,
    variant: &str,
) -> Result<GpuDecision> {
    match request {
        GpuRequest::None => Ok(GpuDecision::none()),
        GpuRequest::Auto => {
            let why_not = if !variant_gpu_capable {
                Some(format!(
                    "the {variant} variant has no CUDA libraries (use --variant ml or full for GPU work)"
                ))
            } else if let Some(reason) = host.filter(|h| !h.has_driver()).map(HostGpuState::why_unusable) {
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
            // Podman would refuse the CDI names at create; say what to do before that.
            if engine.form == GpuForm::Cdi && !engine.supports_gpus() {
                return Err(Error::new(
                    Kind::Gpu,
                    format!("--gpus {} asked for GPUs, but Podman has no CDI spec for NVIDIA GPUs", attach.describe()),
                )
                .cause("no file in /etc/cdi or /var/run/cdi declares nvidia.com/gpu")
                .hint("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml (then `nvidia-ctk cdi list`), or pass --gpus none"));
            }
            let reason = match variant_gpu_capable {
                true => GpuReason::Requested,
                false => GpuReason::RequestedWithoutCuda { variant: variant.to_string() },
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
            let known: Vec<String> = host.gpus.iter().map(|g| g.index.to_string()).collect();
            match ids.iter().find(|id| id.chars().all(|c| c.is_ascii_digit()) && !known.contains(id)) {
                Some(missing) => Err(Error::new(
                    Kind::Gpu,
                    format!("GPU {missing} does not exist on this machine (it has {})", known.join(", ")),
                )
                .hint("see `nvidia-smi -L` for the indexes")),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The engine cannot give this container GPUs (`error::EngineSays::NoGpuSupport`).
pub fn engine_gpu_error(message: &str) -> Error {
    Error::new(Kind::Gpu, "the engine cannot give this container GPUs")
        .cause(crate::error::first_line(message))
        .hint("install the NVIDIA Container Toolkit and restart Docker (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/install-guide.html), or pass --gpus none")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMI_TWO: &str =
        "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559\n1, NVIDIA H100 80GB HBM3, 550.54.15, 81559\n";

    fn host_with(n: usize) -> HostGpuState {
        let (driver, gpus) = parse_nvidia_smi_csv(&SMI_TWO.lines().take(n).collect::<Vec<_>>().join("\n"));
        HostGpuState { driver_version: driver, gpus, problem: None }
    }
    fn engine_ok() -> EngineGpuState {
        EngineGpuState { nvidia_runtime: true, ..Default::default() }
    }

    #[test]
    fn parses_nvidia_smi_csv() {
        let (driver, gpus) = parse_nvidia_smi_csv(SMI_TWO);
        assert_eq!(driver.as_deref(), Some("550.54.15"));
        assert_eq!(gpus.len(), 2);
        assert_eq!(
            gpus[1],
            HostGpu { index: 1, name: "NVIDIA H100 80GB HBM3".into(), memory_mib: Some(81559) }
        );
        assert_eq!(
            parse_nvidia_smi_csv(
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"
            ),
            (None, vec![])
        );
        assert_eq!(parse_nvidia_smi_csv("0, Tesla T4, 535.104.05, [N/A]").1[0].memory_mib, None);
    }

    #[test]
    fn parses_output_captured_on_a_real_h100() {
        let (driver, gpus) =
            parse_nvidia_smi_csv(include_str!("../tests/data/gpu/h100-nvidia-smi-query.csv"));
        assert_eq!(driver.as_deref(), Some("580.159.04"));
        assert_eq!(
            gpus,
            vec![HostGpu { index: 0, name: "NVIDIA H100 80GB HBM3".into(), memory_mib: Some(81559) }]
        );
        let proc_text = include_str!("../tests/data/gpu/h100-proc-driver-nvidia-version.txt");
        assert_eq!(parse_proc_driver_version(proc_text).as_deref(), Some("580.159.04"));
    }

    #[test]
    fn remote_probe_output_becomes_a_host_state() {
        let h = host_state(Some(SMI_TWO), "");
        assert_eq!((h.driver_version.as_deref(), h.gpus.len(), h.problem), (Some("550.54.15"), 2, None));
        let none = host_state(None, "");
        assert!(!none.has_driver() && none.problem.unwrap().contains("nvidia-smi not found"));
    }

    #[test]
    fn parses_proc_driver_version() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(parse_proc_driver_version(text).as_deref(), Some("550.54.15"));
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)\n";
        assert_eq!(parse_proc_driver_version(open).as_deref(), Some("560.35.03"));
        assert_eq!(parse_proc_driver_version("garbage"), None);
    }

    #[test]
    fn parses_gpu_requests() {
        assert_eq!(GpuRequest::parse("auto").unwrap(), GpuRequest::Auto);
        assert_eq!(GpuRequest::parse("2").unwrap(), GpuRequest::Count(2));
        assert_eq!(GpuRequest::parse("0").unwrap(), GpuRequest::None);
        assert_eq!(
            GpuRequest::parse("device=0,GPU-3a2b").unwrap(),
            GpuRequest::Devices(vec!["0".into(), "GPU-3a2b".into()])
        );
        for bad in ["some", "-1", "device=", "device=0,,1", "device=a b", ""] {
            let err = GpuRequest::parse(bad).unwrap_err();
            assert_eq!(err.kind, Kind::Usage, "{bad}");
        }
    }

    #[test]
    fn device_requests_match_docker_run_gpus() {
        let all = GpuAttach::All.device_request(GpuForm::DeviceRequest).unwrap();
        assert_eq!((all.count, all.device_ids.clone()), (Some(-1), None));
        assert_eq!(all.capabilities, Some(vec![vec!["gpu".to_string()]]));
        let ids =
            GpuAttach::Devices(vec!["0".into(), "2".into()]).device_request(GpuForm::DeviceRequest).unwrap();
        assert_eq!((ids.count, ids.device_ids), (None, Some(vec!["0".into(), "2".into()])));
        assert!(GpuAttach::None.device_request(GpuForm::DeviceRequest).is_none());
        let cdi = GpuAttach::All.device_request(GpuForm::Cdi).unwrap();
        assert_eq!(
            (cdi.driver.as_deref(), cdi.device_ids),
            (Some("cdi"), Some(vec!["nvidia.com/gpu=all".into()]))
        );
    }

    #[test]
    fn cdi_names_for_each_request() {
        assert_eq!(GpuAttach::All.cdi_names(), ["nvidia.com/gpu=all"]);
        assert_eq!(GpuAttach::Count(2).cdi_names(), ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]);
        assert_eq!(GpuAttach::Devices(vec!["GPU-3a".into()]).cdi_names(), ["nvidia.com/gpu=GPU-3a"]);
        assert!(GpuAttach::None.cdi_names().is_empty());
    }

    #[test]
    fn recognises_nvidia_cdi_specs() {
        assert!(is_nvidia_cdi_spec("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n"));
        assert!(is_nvidia_cdi_spec(r#"{"cdiVersion":"0.6.0","kind":"nvidia.com/gpu","devices":[]}"#));
        assert!(!is_nvidia_cdi_spec("kind: vendor.com/fpga\n"));
        assert!(!is_nvidia_cdi_spec("not: [yaml"));
    }

    #[test]
    fn podman_needs_a_cdi_spec_for_gpus() {
        let podman = |spec: Option<&str>| EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: spec.map(str::to_string),
            ..Default::default()
        };
        let d = decide(&GpuRequest::Auto, Some(&host_with(1)), &podman(None), true, "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::None);
        assert!(d.note().unwrap().contains("nvidia-ctk cdi generate"));
        let err = decide(&GpuRequest::All, Some(&host_with(1)), &podman(None), true, "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert!(err.hint.unwrap().contains("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"));
        let spec = podman(Some("/etc/cdi/nvidia.yaml"));
        assert_eq!(
            decide(&GpuRequest::Auto, Some(&host_with(1)), &spec, true, "ml").unwrap().attach,
            GpuAttach::All
        );
        // The Docker form is unaffected by CDI specs.
        assert!(!EngineGpuState { nvidia_cdi_spec: Some("x".into()), ..Default::default() }.supports_gpus());
    }

    #[test]
    fn auto_attaches_only_when_everything_fits() {
        let d = decide(&GpuRequest::Auto, Some(&host_with(2)), &engine_ok(), true, "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::All);
        assert_eq!(d.why_cpu(), None);
        let no_driver = HostGpuState {
            problem: Some("no NVIDIA driver (nvidia-smi not found)".into()),
            ..Default::default()
        };
        let d = decide(&GpuRequest::Auto, Some(&no_driver), &engine_ok(), true, "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::None);
        assert_eq!(d.why_cpu().unwrap(), "no NVIDIA driver (nvidia-smi not found)");
        assert!(d.note().unwrap().contains("nvidia-smi not found"));
        let none = decide(&GpuRequest::None, Some(&host_with(1)), &engine_ok(), true, "ml").unwrap();
        assert_eq!(none.why_cpu().unwrap(), "--gpus none");
        let d =
            decide(&GpuRequest::Auto, Some(&host_with(1)), &EngineGpuState::default(), true, "ml").unwrap();
        assert!(d.note().unwrap().contains("NVIDIA Container Toolkit"));
        let d = decide(&GpuRequest::Auto, Some(&host_with(1)), &engine_ok(), false, "base").unwrap();
        assert!(d.note().unwrap().contains("base variant has no CUDA"));
        // A remote engine: no host verdict, the engine's word counts.
        assert_eq!(decide(&GpuRequest::Auto, None, &engine_ok(), true, "ml").unwrap().attach, GpuAttach::All);
    }

    #[test]
    fn explicit_requests_never_fall_back_to_cpu() {
        let none = HostGpuState {
            problem: Some("no NVIDIA driver (nvidia-smi not found)".into()),
            ..Default::default()
        };
        let err = decide(&GpuRequest::All, Some(&none), &engine_ok(), true, "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert!(err.hint.unwrap().contains("--gpus none"));
        assert!(decide(&GpuRequest::Count(3), Some(&host_with(2)), &engine_ok(), true, "ml").is_err());
        assert!(decide(
            &GpuRequest::Devices(vec!["5".into()]),
            Some(&host_with(2)),
            &engine_ok(),
            true,
            "ml"
        )
        .is_err());
        let d = decide(
            &GpuRequest::Devices(vec!["1".into()]),
            Some(&host_with(2)),
            &EngineGpuState::default(),
            true,
            "ml",
        )
        .unwrap();
        assert_eq!(d.attach, GpuAttach::Devices(vec!["1".into()]));
    }

    #[test]
    fn a_refusal_by_the_engine_is_said_as_running_on_cpu() {
        let d =
            GpuDecision { attach: GpuAttach::None, reason: GpuReason::EngineRefused("no runtime".into()) };
        assert_eq!(d.note().unwrap(), "running on CPU: the engine cannot attach GPUs (no runtime)");
        assert_eq!(GpuDecision::none().note(), None);
    }
}
