//! CDI specs (Podman's way to GPUs): the spec folders, the one that declares NVIDIA GPUs, and the
//! driver a spec was written for.

/// The CDI kind of NVIDIA GPUs (what `nvidia-ctk cdi generate` writes).
pub const CDI_KIND: &str = "nvidia.com/gpu";

/// Where CDI specs live (the CDI specification's static and dynamic folders).
pub const CDI_SPEC_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

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
                        crate::base::error::first_line(&e.to_string())
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
