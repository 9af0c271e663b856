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
                .hint("use auto, all, none, a count such as 2, or device=0,1 (GPU indexes, UUIDs, MIG UUIDs or GPU:MIG such as 0:1)")
        };
        let t = text.trim();
        Ok(match t {
            "auto" => GpuRequest::Auto,
            "all" => GpuRequest::All,
            "none" | "0" => GpuRequest::None,
            _ if t.starts_with("device=") => {
                let ids: Vec<String> =
                    t["device=".len()..].split(',').map(|s| s.trim().to_string()).collect();
                if ids.iter().any(|id| {
                    id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
                }) {
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

/// What a lab's CUDA libraries need of the NVIDIA driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CudaNeed {
    /// The CUDA runtime the lab's wheels carry, "12.8".
    pub cuda: String,
    /// The oldest driver that runs it.
    pub min_driver: &'static str,
}

/// The oldest driver per CUDA major version: NVIDIA's CUDA compatibility table ("CUDA Toolkit
/// 11.x, 12.x, and 13.x Driver Version Ranges", https://docs.nvidia.com/deploy/cuda-compatibility/
/// minor-version-compatibility.html; the exact Linux versions from the CUDA Toolkit release
/// notes' table "CUDA Toolkit and Minimum Required Driver Version for CUDA Minor Version
/// Compatibility"). Within a major version, minor version compatibility runs a newer runtime on
/// an older driver of the same family.
const MIN_DRIVER_FOR_CUDA_MAJOR: &[(u32, &str)] = &[(11, "450.80.02"), (12, "525.60.13"), (13, "580.65.06")];

/// The driver each CUDA toolkit release shipped with (the release notes' table "CUDA Toolkit and
/// Corresponding Driver Versions", Linux): the newest CUDA a driver supports in full.
const TOOLKIT_DRIVERS: &[(&str, &str)] = &[
    ("13.0", "580.65.06"),
    ("12.9", "575.51.03"),
    ("12.8", "570.26"),
    ("12.6", "560.28.03"),
    ("12.5", "555.42.02"),
    ("12.4", "550.54.14"),
    ("12.3", "545.23.06"),
    ("12.2", "535.54.03"),
    ("12.1", "530.30.02"),
    ("12.0", "525.60.13"),
    ("11.8", "520.61.05"),
];

/// A dotted driver version as numbers, for comparing ("550.54.15" → [550, 54, 15]).
fn version_numbers(text: &str) -> Vec<u32> {
    text.trim().split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

impl CudaNeed {
    /// From a lab's lock: the CUDA runtime wheel (`nvidia-cuda-runtime-cu12==12.8.90`, or CUDA
    /// 13's `nvidia-cuda-runtime==13.0.48`); None for a lab without one.
    pub fn from_lock(lock: &str) -> Option<CudaNeed> {
        let version = lock.lines().find_map(|line| {
            let rest = line.strip_prefix("nvidia-cuda-runtime")?;
            let rest = rest
                .strip_prefix("-cu")
                .map(|r| r.trim_start_matches(|c: char| c.is_ascii_digit()))
                .unwrap_or(rest);
            let version = rest.strip_prefix("==")?;
            Some(version.split([' ', ';', '\\']).next().unwrap_or("").to_string())
        })?;
        let mut parts = version.split('.');
        let (major, minor) = (parts.next()?.parse::<u32>().ok()?, parts.next()?.parse::<u32>().ok()?);
        let min_driver = MIN_DRIVER_FOR_CUDA_MAJOR.iter().find(|(m, _)| *m == major)?.1;
        Some(CudaNeed { cuda: format!("{major}.{minor}"), min_driver })
    }

    /// Whether `driver` runs this CUDA.
    pub fn met_by(&self, driver: &str) -> bool {
        version_numbers(driver) >= version_numbers(self.min_driver)
    }

    /// Why `driver` cannot run this CUDA, in words (None: it can).
    pub fn refusal(&self, driver: &str) -> Option<String> {
        (!self.met_by(driver)).then(|| {
            format!(
                "the NVIDIA driver {driver} is older than CUDA {} needs ({} or newer)",
                self.cuda, self.min_driver
            )
        })
    }
}

/// The newest CUDA `driver` supports in full (what nvidia-smi's header calls "CUDA Version").
pub fn cuda_of_driver(driver: &str) -> Option<&'static str> {
    let have = version_numbers(driver);
    TOOLKIT_DRIVERS.iter().find(|(_, needs)| have >= version_numbers(needs)).map(|(cuda, _)| *cuda)
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
    /// `nvidia-smi -L`: the GPUs' UUIDs and the MIG devices (None: it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<GpuListing>,
}

/// What `nvidia-smi -L` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GpuListing {
    /// (index, UUID) of each GPU.
    pub gpus: Vec<(u32, String)>,
    pub mig: Vec<MigDevice>,
}

/// A MIG slice of a GPU (A100/H100/H200 partitions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigDevice {
    pub gpu: u32,
    pub index: u32,
    /// "3g.40gb".
    pub profile: String,
    /// "MIG-…".
    pub uuid: String,
}

impl MigDevice {
    /// The `GPU:MIG` index form NVIDIA's tools take ("0:1").
    pub fn index_name(&self) -> String {
        format!("{}:{}", self.gpu, self.index)
    }
}

/// Parses `nvidia-smi -L`:
/// `GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-…)` then, per MIG slice,
/// `  MIG 3g.40gb     Device  0: (UUID: MIG-…)`.
/// None when it lists no GPU (it did not run as asked).
pub fn parse_nvidia_smi_list(text: &str) -> Option<GpuListing> {
    let uuid_of =
        |line: &str| line.split("(UUID: ").nth(1).map(|r| r.trim_end_matches(')').trim().to_string());
    let mut listing = GpuListing::default();
    let mut current: Option<u32> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("GPU ") {
            let index = rest.split(':').next().and_then(|i| i.trim().parse().ok());
            if let (Some(index), Some(uuid)) = (index, uuid_of(trimmed)) {
                listing.gpus.push((index, uuid));
                current = Some(index);
            }
        } else if let (Some(rest), Some(gpu)) = (trimmed.strip_prefix("MIG "), current) {
            let profile = rest.split_whitespace().next().unwrap_or("").to_string();
            let index = rest
                .split("Device")
                .nth(1)
                .and_then(|d| d.split(':').next())
                .and_then(|i| i.trim().parse().ok());
            if let (Some(index), Some(uuid)) = (index, uuid_of(trimmed)) {
                listing.mig.push(MigDevice { gpu, index, profile, uuid });
            }
        }
    }
    (!listing.gpus.is_empty()).then_some(listing)
}

impl GpuListing {
    /// Every name `--gpus device=` may use here: indexes, GPU UUIDs, `GPU:MIG` and MIG UUIDs.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.gpus.iter().flat_map(|(i, u)| [i.to_string(), u.clone()]).collect();
        names.extend(self.mig.iter().flat_map(|m| [m.index_name(), m.uuid.clone()]));
        names
    }
    /// The CDI device name for `id`: `nvidia-ctk cdi generate` names devices by index (`0`,
    /// `0:1`) unless told otherwise, so UUIDs become their index.
    pub fn cdi_name(&self, id: &str) -> String {
        if let Some((index, _)) = self.gpus.iter().find(|(_, u)| u == id) {
            return index.to_string();
        }
        match self.mig.iter().find(|m| m.uuid == id) {
            Some(m) => m.index_name(),
            None => id.to_string(),
        }
    }
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
    /// The driver that spec was generated for (the version in its libcuda.so path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdi_spec_driver: Option<String>,
    /// Spec files that could not be read or parsed, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdi_unreadable: Vec<String>,
}

impl Default for EngineGpuState {
    fn default() -> Self {
        EngineGpuState {
            form: GpuForm::DeviceRequest,
            nvidia_runtime: false,
            cdi_spec_dirs: vec![],
            toolkit_on_path: None,
            nvidia_cdi_spec: None,
            cdi_spec_driver: None,
            cdi_unreadable: vec![],
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

/// What the CDI spec folders hold for NVIDIA GPUs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CdiScan {
    /// The first spec that declares `nvidia.com/gpu`.
    pub spec: Option<String>,
    /// The driver it was generated for.
    pub spec_driver: Option<String>,
    /// Spec files that could not be read or parsed: "path (why)".
    pub unreadable: Vec<String>,
}

/// Reads the CDI specs under `dirs`: the first that declares NVIDIA GPUs, and each that cannot
/// be read (named, never skipped in silence: Podman refuses those too).
pub fn scan_cdi_specs(dirs: &[&str]) -> CdiScan {
    let mut scan = CdiScan::default();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if !path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                continue;
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    scan.unreadable.push(format!("{} ({})", path.display(), e.kind()));
                    continue;
                }
            };
            let value = match serde_norway::from_str::<serde_norway::Value>(&text) {
                Ok(value) => value,
                Err(e) => {
                    scan.unreadable.push(format!(
                        "{} ({})",
                        path.display(),
                        crate::error::first_line(&e.to_string())
                    ));
                    continue;
                }
            };
            if scan.spec.is_none() && value.get("kind").and_then(|k| k.as_str()) == Some(CDI_KIND) {
                scan.spec = Some(path.display().to_string());
                scan.spec_driver = spec_driver_version(&value);
            }
        }
    }
    scan
}

/// The driver a spec was generated for: `nvidia-ctk cdi generate` mounts the driver's libraries
/// by their versioned names (`/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15`).
pub fn spec_driver_version(spec: &serde_norway::Value) -> Option<String> {
    use serde_norway::Value;
    match spec {
        Value::String(text) => ["libcuda.so.", "libnvidia-ml.so."].iter().find_map(|lib| {
            let version = text.rsplit_once(lib)?.1;
            (version.contains('.') && version.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| version.to_string())
        }),
        Value::Sequence(items) => items.iter().find_map(spec_driver_version),
        Value::Mapping(map) => map.values().find_map(spec_driver_version),
        _ => None,
    }
}

/// Warnings about Podman's CDI specs before GPUs are attached through them: a spec written for
/// another driver than the loaded one (its library paths no longer exist), and unreadable specs.
pub fn cdi_warnings(host: Option<&HostGpuState>, engine: &EngineGpuState) -> Vec<String> {
    let mut warnings = Vec::new();
    if engine.form != GpuForm::Cdi {
        return warnings;
    }
    if let (Some(loaded), Some(spec_driver), Some(spec)) = (
        host.and_then(|h| h.driver_version.as_deref()),
        engine.cdi_spec_driver.as_deref(),
        engine.nvidia_cdi_spec.as_deref(),
    ) {
        if loaded != spec_driver {
            warnings.push(format!(
                "the CDI spec {spec} was generated for NVIDIA driver {spec_driver}, and driver {loaded} is loaded: GPUs may fail to attach; regenerate it: sudo nvidia-ctk cdi generate --output={spec}"
            ));
        }
    }
    for file in &engine.cdi_unreadable {
        warnings
            .push(format!("the CDI spec {file} cannot be read: Podman fails on it too; fix or remove it"));
    }
    warnings
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
            let mut state = host_state(Some(&String::from_utf8_lossy(&out.stdout)), &proc_text);
            state.listing = std::process::Command::new("nvidia-smi")
                .arg("-L")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| parse_nvidia_smi_list(&String::from_utf8_lossy(&o.stdout)));
            state
        }
        Ok(out) => HostGpuState {
            listing: None,
            driver_version: proc_version,
            gpus: vec![],
            problem: Some(format!(
                "nvidia-smi failed: {}",
                String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").trim()
            )),
        },
        Err(_) => HostGpuState {
            listing: None,
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
        return HostGpuState {
            driver_version: proc_version,
            gpus: vec![],
            problem: Some(problem.into()),
            listing: None,
        };
    };
    let (driver, gpus) = parse_nvidia_smi_csv(csv);
    let problem = gpus.is_empty().then(|| "nvidia-smi lists no GPU".to_string());
    HostGpuState { driver_version: driver.or(proc_version), gpus, problem, listing: None }
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
    let scan = match (form, local) {
        (GpuForm::Cdi, true) => scan_cdi_specs(&CDI_SPEC_DIRS),
        (GpuForm::Cdi, false) => {
            CdiScan { spec: Some("(on the engine's host)".into()), ..Default::default() }
        }
        (GpuForm::DeviceRequest, _) => CdiScan::default(),
    };
    EngineGpuState {
        form,
        nvidia_runtime,
        cdi_spec_dirs,
        toolkit_on_path,
        nvidia_cdi_spec: scan.spec,
        cdi_spec_driver: scan.spec_driver,
        cdi_unreadable: scan.unreadable,
    }
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
    cuda: Option<&CudaNeed>,
    variant: &str,
) -> Result<GpuDecision> {
    // The driver against the lab's CUDA, where both are known (before any download).
    let too_old = match (host.and_then(|h| h.driver_version.as_deref()), cuda) {
        (Some(driver), Some(need)) => need.refusal(driver),
        _ => None,
    };
    match request {
        GpuRequest::None => Ok(GpuDecision::none()),
        GpuRequest::Auto => {
            let why_not = if cuda.is_none() {
                Some(format!(
                    "the {variant} variant has no CUDA libraries (use --variant ml or full for GPU work)"
                ))
            } else if let Some(reason) = host.filter(|h| !h.has_driver()).map(HostGpuState::why_unusable) {
                Some(reason)
            } else if let Some(reason) = too_old {
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
            if let (Some(why), Some(need)) = (too_old, cuda) {
                return Err(Error::new(
                    Kind::Gpu,
                    format!("--gpus {} cannot work with the {variant} lab: {why}", attach.describe()),
                )
                .cause(format!("the {variant} lab carries CUDA {} (torch and jax wheels); NVIDIA's CUDA compatibility table says {} or newer", need.cuda, need.min_driver))
                .hint("update the NVIDIA driver (https://www.nvidia.com/drivers, or your distribution's package), or run on the CPU: --gpus none"));
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
            // Podman's CDI names go by index: a UUID (a MIG slice's too) becomes its index.
            let attach = match (attach, engine.form, host.and_then(|h| h.listing.as_ref())) {
                (GpuAttach::Devices(ids), GpuForm::Cdi, Some(listing)) => {
                    GpuAttach::Devices(ids.iter().map(|id| listing.cdi_name(id)).collect())
                }
                (attach, _, _) => attach,
            };
            let reason = match cuda {
                Some(_) => GpuReason::Requested,
                None => GpuReason::RequestedWithoutCuda { variant: variant.to_string() },
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
            // With `nvidia-smi -L` every name is checked (MIG slices too); without, the indexes.
            let (known, shown) = match &host.listing {
                Some(listing) => (listing.names(), listing_text(listing)),
                None => {
                    let indexes: Vec<String> = host.gpus.iter().map(|g| g.index.to_string()).collect();
                    (indexes.clone(), indexes.join(", "))
                }
            };
            let unknown = |id: &&String| match host.listing {
                Some(_) => !known.contains(id),
                None => id.chars().all(|c| c.is_ascii_digit()) && !known.contains(id),
            };
            match ids.iter().find(unknown) {
                Some(missing) => Err(Error::new(
                    Kind::Gpu,
                    format!("GPU {missing} does not exist on this machine (it has {shown})"),
                )
                .hint("see `nvidia-smi -L` for the indexes, UUIDs and MIG devices")),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// The GPUs and MIG slices of a listing, for messages: "0 (GPU-…), 0:1 (MIG 3g.40gb, MIG-…)".
pub fn listing_text(listing: &GpuListing) -> String {
    let gpus = listing.gpus.iter().map(|(i, u)| format!("{i} ({u})"));
    let mig = listing.mig.iter().map(|m| format!("{} (MIG {}, {})", m.index_name(), m.profile, m.uuid));
    gpus.chain(mig).collect::<Vec<_>>().join(", ")
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
        HostGpuState { driver_version: driver, gpus, problem: None, listing: None }
    }
    fn cuda12() -> CudaNeed {
        CudaNeed { cuda: "12.8".into(), min_driver: "525.60.13" }
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
        let dir = tempfile::tempdir().unwrap();
        let scan = |name: &str, text: &str| {
            let _ = std::fs::remove_dir_all(dir.path().join("d"));
            std::fs::create_dir_all(dir.path().join("d")).unwrap();
            std::fs::write(dir.path().join("d").join(name), text).unwrap();
            scan_cdi_specs(&[dir.path().join("d").to_str().unwrap()]).spec.is_some()
        };
        assert!(scan("a.yaml", "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n"));
        assert!(scan("a.json", r#"{"cdiVersion":"0.6.0","kind":"nvidia.com/gpu","devices":[]}"#));
        assert!(!scan("a.yaml", "kind: vendor.com/fpga\n"));
        assert!(!scan("a.yaml", "not: [yaml"));
    }

    #[test]
    fn podman_needs_a_cdi_spec_for_gpus() {
        let podman = |spec: Option<&str>| EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: spec.map(str::to_string),
            ..Default::default()
        };
        let d = decide(&GpuRequest::Auto, Some(&host_with(1)), &podman(None), Some(&cuda12()), "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::None);
        assert!(d.note().unwrap().contains("nvidia-ctk cdi generate"));
        let err =
            decide(&GpuRequest::All, Some(&host_with(1)), &podman(None), Some(&cuda12()), "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert!(err.hint.unwrap().contains("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"));
        let spec = podman(Some("/etc/cdi/nvidia.yaml"));
        assert_eq!(
            decide(&GpuRequest::Auto, Some(&host_with(1)), &spec, Some(&cuda12()), "ml").unwrap().attach,
            GpuAttach::All
        );
        // The Docker form is unaffected by CDI specs.
        assert!(!EngineGpuState { nvidia_cdi_spec: Some("x".into()), ..Default::default() }.supports_gpus());
    }

    #[test]
    fn auto_attaches_only_when_everything_fits() {
        let d = decide(&GpuRequest::Auto, Some(&host_with(2)), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::All);
        assert_eq!(d.why_cpu(), None);
        let no_driver = HostGpuState {
            problem: Some("no NVIDIA driver (nvidia-smi not found)".into()),
            ..Default::default()
        };
        let d = decide(&GpuRequest::Auto, Some(&no_driver), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(d.attach, GpuAttach::None);
        assert_eq!(d.why_cpu().unwrap(), "no NVIDIA driver (nvidia-smi not found)");
        assert!(d.note().unwrap().contains("nvidia-smi not found"));
        let none =
            decide(&GpuRequest::None, Some(&host_with(1)), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(none.why_cpu().unwrap(), "--gpus none");
        let d =
            decide(&GpuRequest::Auto, Some(&host_with(1)), &EngineGpuState::default(), Some(&cuda12()), "ml")
                .unwrap();
        assert!(d.note().unwrap().contains("NVIDIA Container Toolkit"));
        let d = decide(&GpuRequest::Auto, Some(&host_with(1)), &engine_ok(), None, "base").unwrap();
        assert!(d.note().unwrap().contains("base variant has no CUDA"));
        // A remote engine: no host verdict, the engine's word counts.
        assert_eq!(
            decide(&GpuRequest::Auto, None, &engine_ok(), Some(&cuda12()), "ml").unwrap().attach,
            GpuAttach::All
        );
    }

    #[test]
    fn explicit_requests_never_fall_back_to_cpu() {
        let none = HostGpuState {
            problem: Some("no NVIDIA driver (nvidia-smi not found)".into()),
            ..Default::default()
        };
        let err = decide(&GpuRequest::All, Some(&none), &engine_ok(), Some(&cuda12()), "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert!(err.hint.unwrap().contains("--gpus none"));
        assert!(
            decide(&GpuRequest::Count(3), Some(&host_with(2)), &engine_ok(), Some(&cuda12()), "ml").is_err()
        );
        assert!(decide(
            &GpuRequest::Devices(vec!["5".into()]),
            Some(&host_with(2)),
            &engine_ok(),
            Some(&cuda12()),
            "ml"
        )
        .is_err());
        let d = decide(
            &GpuRequest::Devices(vec!["1".into()]),
            Some(&host_with(2)),
            &EngineGpuState::default(),
            Some(&cuda12()),
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

    #[test]
    fn the_labs_cuda_comes_from_its_lock_and_the_driver_is_held_to_it() {
        let lock = "jax-cuda12-plugin==0.7.1 \\\n    --hash=sha256:aa\nnvidia-cuda-runtime-cu12==12.8.90 \\\n    --hash=sha256:bb\n";
        assert_eq!(CudaNeed::from_lock(lock), Some(cuda12()));
        assert_eq!(
            CudaNeed::from_lock("nvidia-cuda-runtime==13.0.48 ; sys_platform == 'linux'\n")
                .unwrap()
                .min_driver,
            "580.65.06"
        );
        assert_eq!(CudaNeed::from_lock("numpy==1.26.4\n"), None);
        let need = cuda12();
        assert!(need.met_by("525.60.13") && need.met_by("550.54.15") && need.met_by("1000.1"));
        assert!(!need.met_by("525.60.12") && !need.met_by("470.256.02"));
        assert_eq!(cuda_of_driver("550.54.15"), Some("12.4"));
        assert_eq!(cuda_of_driver("580.159.04"), Some("13.0"));
        assert_eq!(cuda_of_driver("470.256.02"), None);
    }

    #[test]
    fn an_old_driver_refuses_an_explicit_request_and_sends_auto_to_the_cpu() {
        let mut old = host_with(1);
        old.driver_version = Some("470.256.02".into());
        let err = decide(&GpuRequest::All, Some(&old), &engine_ok(), Some(&cuda12()), "ml").unwrap_err();
        assert_eq!(err.kind, Kind::Gpu);
        assert_eq!(err.message, "--gpus all cannot work with the ml lab: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer)");
        assert!(err.hint.unwrap().contains("--gpus none"));
        let auto = decide(&GpuRequest::Auto, Some(&old), &engine_ok(), Some(&cuda12()), "ml").unwrap();
        assert_eq!(auto.attach, GpuAttach::None);
        assert_eq!(
            auto.note().unwrap(),
            "running on CPU: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer)"
        );
        // A lab without CUDA asks nothing of the driver.
        assert!(decide(&GpuRequest::All, Some(&old), &engine_ok(), None, "base").is_ok());
    }

    /// `nvidia-smi -L` on an A100 split into MIG slices (the format NVIDIA's MIG user guide shows).
    const MIG_LIST: &str = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)\n  MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)\n  MIG 1g.5gb      Device  1: (UUID: MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-0b1b2c3c-1111-2222-3333-444455556666)\n";

    #[test]
    fn mig_slices_are_listed_named_and_checked() {
        let listing = parse_nvidia_smi_list(MIG_LIST).unwrap();
        // Output that lists no GPU (a stub, an error) is no listing: indexes are checked as before.
        assert_eq!(parse_nvidia_smi_list("0, NVIDIA Stub GPU, 550.54.15, 81559\n"), None);
        assert_eq!(listing.gpus.len(), 2);
        assert_eq!(
            listing.mig[1],
            MigDevice {
                gpu: 0,
                index: 1,
                profile: "1g.5gb".into(),
                uuid: "MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d".into()
            }
        );
        let mut host = host_with(2);
        host.listing = Some(listing.clone());
        for id in [
            "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
            "0:1",
            "1",
            "GPU-0b1b2c3c-1111-2222-3333-444455556666",
        ] {
            let request = GpuRequest::parse(&format!("device={id}")).unwrap();
            let d = decide(&request, Some(&host), &engine_ok(), Some(&cuda12()), "ml").unwrap();
            // Docker's device request takes the names as they are.
            assert_eq!(d.attach, GpuAttach::Devices(vec![id.to_string()]));
        }
        let err = decide(
            &GpuRequest::parse("device=MIG-nope").unwrap(),
            Some(&host),
            &engine_ok(),
            Some(&cuda12()),
            "ml",
        )
        .unwrap_err();
        assert!(
            err.message.starts_with("GPU MIG-nope does not exist on this machine (it has 0 (GPU-5d5ba0d6"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("0:1 (MIG 1g.5gb, MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d)"),
            "{}",
            err.message
        );
        // Podman's CDI names go by index.
        let cdi = EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: Some("/etc/cdi/nvidia.yaml".into()),
            ..Default::default()
        };
        let d = decide(
            &GpuRequest::parse(
                "device=MIG-cba663e8-9bed-5b7f-b6fe-a73fbbd8bc3d,GPU-0b1b2c3c-1111-2222-3333-444455556666",
            )
            .unwrap(),
            Some(&host),
            &cdi,
            Some(&cuda12()),
            "ml",
        )
        .unwrap();
        assert_eq!(d.attach.cdi_names(), ["nvidia.com/gpu=0:1", "nvidia.com/gpu=1"]);
    }

    #[test]
    fn a_cdi_spec_for_another_driver_and_an_unreadable_one_are_said() {
        // The shape `nvidia-ctk cdi generate` writes (trimmed).
        let spec = "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\ncontainerEdits:\n  mounts:\n  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\n    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nvidia.yaml"), spec).unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a spec").unwrap();
        let scan = scan_cdi_specs(&[dir.path().to_str().unwrap()]);
        assert_eq!(scan.spec.as_deref(), Some(dir.path().join("nvidia.yaml").to_str().unwrap()));
        assert_eq!(scan.spec_driver.as_deref(), Some("550.54.15"));
        assert_eq!(scan.unreadable.len(), 1, "{:?}", scan.unreadable);
        assert!(scan.unreadable[0].starts_with(dir.path().join("broken.yaml").to_str().unwrap()));
        let engine = EngineGpuState {
            form: GpuForm::Cdi,
            nvidia_cdi_spec: scan.spec.clone(),
            cdi_spec_driver: scan.spec_driver.clone(),
            cdi_unreadable: scan.unreadable.clone(),
            ..Default::default()
        };
        let mut host = host_with(1);
        host.driver_version = Some("570.86.10".into());
        let warnings = cdi_warnings(Some(&host), &engine);
        assert_eq!(warnings.len(), 2);
        assert!(
            warnings[0].contains("generated for NVIDIA driver 550.54.15, and driver 570.86.10 is loaded"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("sudo nvidia-ctk cdi generate --output="), "{}", warnings[0]);
        assert!(warnings[1].contains("broken.yaml") && warnings[1].contains("cannot be read"));
        host.driver_version = Some("550.54.15".into());
        assert_eq!(cdi_warnings(Some(&host), &engine).len(), 1, "the same driver: only the unreadable file");
        assert!(cdi_warnings(Some(&host), &engine_ok()).is_empty(), "Docker's GPU requests use no spec");
    }
}
