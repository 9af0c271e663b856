//! What `nvidia-smi` and /proc/driver/nvidia/version print, parsed into the host's facts. Pure.

use super::facts::{GpuListing, HostGpu, HostGpuState, MigDevice};

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

/// The GPUs and MIG slices of a listing, for messages: "0 (GPU-…), 0:1 (MIG 3g.40gb, MIG-…)".
pub fn listing_text(listing: &GpuListing) -> String {
    let gpus = listing.gpus.iter().map(|(i, u)| format!("{i} ({u})"));
    let mig = listing.mig.iter().map(|m| format!("{} (MIG {}, {})", m.index_name(), m.profile, m.uuid));
    gpus.chain(mig).collect::<Vec<_>>().join(", ")
}
