//! A lab's CUDA against the NVIDIA driver: the minimum drivers per CUDA version, from NVIDIA's
//! compatibility tables. Pure.

use serde::Serialize;

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
