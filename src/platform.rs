//! The platform the engine runs containers for, and the lab that fits a machine: pure decisions
//! over what `docker info` says (OSType, Architecture), the GPU outlook and the variant table.

use serde::Serialize;

use crate::catalog::Variant;
use crate::error::{Error, Result};

/// The architectures the images are built for (the release workflow pushes both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// The OCI platform string the engine takes (`--platform`).
    pub fn platform(self) -> &'static str {
        match self {
            Arch::Amd64 => "linux/amd64",
            Arch::Arm64 => "linux/arm64",
        }
    }

    /// From `docker info` (OSType, Architecture) or an image's inspect (Os, Architecture):
    /// the engines say `x86_64`/`aarch64` (Docker) or `amd64`/`arm64` (Podman, images).
    pub fn from_engine(os_type: &str, architecture: &str) -> Result<Arch> {
        if !os_type.is_empty() && os_type != "linux" {
            return Err(Error::new(
                crate::error::Kind::Engine,
                format!("the engine runs {os_type} containers; the dimtensor images are Linux images"),
            )
            .hint(
                "switch Docker Desktop to Linux containers (its tray menu: \"Switch to Linux containers…\")",
            ));
        }
        match architecture {
            "x86_64" | "amd64" => Ok(Arch::Amd64),
            "aarch64" | "arm64" => Ok(Arch::Arm64),
            other => Err(Error::new(
                crate::error::Kind::Engine,
                format!("the engine runs {other} containers; the images are built for linux/amd64 and linux/arm64"),
            )
            .hint("use an amd64 or arm64 machine, or --platform linux/amd64 where the engine emulates it (QEMU)")),
        }
    }

    /// `--platform` / `config set platform`: `linux/arm64`, `arm64`, `linux/arm64/v8`, ….
    pub fn parse(text: &str) -> Result<Arch> {
        let mut parts = text.trim().split('/');
        let (os, arch) = match (parts.next(), parts.next()) {
            (Some(os), Some(arch)) => (os, arch),
            (Some(arch), None) => ("linux", arch),
            _ => ("", ""),
        };
        let variant_ok = match parts.next() {
            None => true,
            Some(v) => arch.ends_with("arm64") && v == "v8",
        };
        match (os, arch, variant_ok && parts.next().is_none()) {
            ("linux", "amd64" | "x86_64", true) => Ok(Arch::Amd64),
            ("linux", "arm64" | "aarch64", true) => Ok(Arch::Arm64),
            _ => Err(Error::usage(format!("invalid platform `{text}`"))
                .hint("the images are built for linux/amd64 and linux/arm64")),
        }
    }
}

/// The engine's platform and the one the images are wanted for (`--platform`, else the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Platforms {
    pub engine: Arch,
    pub images: Arch,
}

impl Platforms {
    pub fn new(engine: Arch, requested: Option<Arch>) -> Platforms {
        Platforms { engine, images: requested.unwrap_or(engine) }
    }
    /// The platform to name to the engine: only a foreign one (the engine's own is its default).
    pub fn explicit(self) -> Option<&'static str> {
        (self.engine != self.images).then(|| self.images.platform())
    }
    /// A line to say when the images run under emulation on this engine.
    pub fn emulation_note(self) -> Option<String> {
        (self.engine != self.images).then(|| {
            format!(
                "running {} images on a {} engine: emulated (QEMU), several times slower than native",
                self.images.platform(),
                self.engine.platform()
            )
        })
    }
}

/// Whether the lab may use GPUs on this machine, as the GPU rules decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuOutlook {
    /// GPUs can be attached (or were asked for explicitly).
    Usable,
    /// No GPU will be attached; why (for the line that explains the choice).
    Unusable(String),
}

impl GpuOutlook {
    /// The outlook a GPU decision for a lab with CUDA gives.
    pub fn of(decision: &crate::gpu::GpuDecision) -> GpuOutlook {
        match decision.why_cpu() {
            None => GpuOutlook::Usable,
            Some(why) => GpuOutlook::Unusable(why),
        }
    }
}

/// `--variant auto`: with usable GPUs the largest lab that has CUDA on this platform; without,
/// the largest lab that carries no CUDA libraries here (arm64: full, its torch is CPU-only;
/// amd64: base, since PyPI has no CPU-only torch for x86-64).
pub fn auto_lab(arch: Arch, gpu: &GpuOutlook) -> Variant {
    let wants_cuda = *gpu == GpuOutlook::Usable;
    // LABS runs from the smallest to the largest lab; every platform has a lab without CUDA.
    Variant::LABS
        .into_iter()
        .rev()
        .find(|v| v.lab_image().spec().has_cuda(arch) == wants_cuda)
        .unwrap_or(Variant::Base)
}

/// The one line that says which lab `auto` chose, why, and how to pick another.
pub fn auto_lab_line(arch: Arch, gpu: &GpuOutlook) -> String {
    let chosen = auto_lab(arch, gpu);
    let spec = chosen.lab_image().spec();
    let why = match gpu {
        GpuOutlook::Usable => "GPUs are usable here".to_string(),
        GpuOutlook::Unusable(reason) if chosen == Variant::Base => format!(
            "no usable GPU ({reason}), and torch for {} comes only with CUDA libraries",
            arch.platform()
        ),
        GpuOutlook::Unusable(reason) => format!("no usable GPU ({reason})"),
    };
    let others: Vec<String> = Variant::LABS
        .into_iter()
        .filter(|v| *v != chosen)
        .map(|v| {
            format!("--variant {} ({}, ~{})", v.name(), v.contents(arch), v.lab_image().spec().size_on(arch))
        })
        .collect();
    format!(
        "lab: {} ({}, ~{} for {}): {why}; or {}",
        chosen.name(),
        chosen.contents(arch),
        spec.size_on(arch),
        arch.platform(),
        others.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_gpu() -> GpuOutlook {
        GpuOutlook::Unusable("nvidia-smi not found".into())
    }

    #[test]
    fn engines_name_their_architecture_two_ways() {
        assert_eq!(Arch::from_engine("linux", "x86_64").unwrap(), Arch::Amd64);
        assert_eq!(Arch::from_engine("linux", "aarch64").unwrap(), Arch::Arm64);
        assert_eq!(Arch::from_engine("linux", "arm64").unwrap(), Arch::Arm64);
        assert_eq!(Arch::from_engine("", "amd64").unwrap(), Arch::Amd64);
        let windows = Arch::from_engine("windows", "x86_64").unwrap_err();
        assert!(windows.message.contains("windows containers"), "{}", windows.message);
        assert!(windows.hint.unwrap().contains("Linux containers"));
        let s390 = Arch::from_engine("linux", "s390x").unwrap_err();
        assert!(s390.message.contains("s390x"));
    }

    #[test]
    fn platform_flags_parse_like_dockers() {
        for (text, arch) in [
            ("linux/arm64", Arch::Arm64),
            ("arm64", Arch::Arm64),
            ("linux/arm64/v8", Arch::Arm64),
            ("linux/amd64", Arch::Amd64),
            ("amd64", Arch::Amd64),
        ] {
            assert_eq!(Arch::parse(text).unwrap(), arch, "{text}");
        }
        for bad in ["windows/amd64", "linux/arm/v7", "linux/amd64/v8", "", "linux/arm64/v8/x"] {
            assert!(Arch::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_picks_the_largest_lab_that_fits() {
        assert_eq!(auto_lab(Arch::Amd64, &no_gpu()), Variant::Base);
        assert_eq!(auto_lab(Arch::Arm64, &no_gpu()), Variant::Full);
        assert_eq!(auto_lab(Arch::Amd64, &GpuOutlook::Usable), Variant::Full);
        // On arm64 only ml carries CUDA (jax's plugin); PyPI's aarch64 torch is CPU-only.
        assert_eq!(auto_lab(Arch::Arm64, &GpuOutlook::Usable), Variant::Ml);
    }

    #[test]
    fn the_auto_line_says_what_why_and_how_else() {
        let amd = auto_lab_line(Arch::Amd64, &no_gpu());
        assert!(amd.starts_with("lab: base ("), "{amd}");
        assert!(amd.contains("nvidia-smi not found"), "{amd}");
        assert!(amd.contains("comes only with CUDA"), "{amd}");
        assert!(amd.contains("--variant full (") && amd.contains("--variant ml ("), "{amd}");
        let arm = auto_lab_line(Arch::Arm64, &no_gpu());
        assert!(arm.starts_with("lab: full (") && arm.contains("for linux/arm64"), "{arm}");
        assert!(!arm.contains("comes only with CUDA"), "{arm}");
        assert!(arm.contains("--variant base ("), "{arm}");
        let gpu = auto_lab_line(Arch::Amd64, &GpuOutlook::Usable);
        assert!(gpu.starts_with("lab: full (") && gpu.contains("GPUs are usable"), "{gpu}");
    }

    #[test]
    fn emulation_is_said_only_when_the_platforms_differ() {
        assert_eq!(Platforms::new(Arch::Amd64, None).emulation_note(), None);
        assert_eq!(Platforms::new(Arch::Amd64, Some(Arch::Amd64)).emulation_note(), None);
        let note = Platforms::new(Arch::Amd64, Some(Arch::Arm64)).emulation_note().unwrap();
        assert!(note.contains("linux/arm64 images on a linux/amd64 engine"), "{note}");
    }
}
