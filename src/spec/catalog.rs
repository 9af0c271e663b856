//! The image variants: one table that every command reads.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::base::error::{Error, Kind, Result};

/// The default registry repository; `config set registry …` overrides it.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/marcoloco23/dimtensor";
/// The dimtensor release the images pin (docker/requirements/*.txt).
pub const DIMTENSOR_VERSION: &str = "5.2.0";
pub const DEFAULT_PYTHON_IMAGE: &str = "python:3.11-slim-bookworm";

/// What `jupyter --variant` names: the environment JupyterLab runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// picked for this machine: ml or full when it has a usable NVIDIA GPU, else the largest
    /// lab without the GPU libraries
    Auto,
    /// dimtensor and numpy: a small download (~0.7 GB), for laptops
    Base,
    /// adds PyTorch and JAX, with CUDA 12 for NVIDIA GPUs on x86-64 (~9 GB)
    Ml,
    /// adds every dimtensor integration to the ml lab (~10 GB)
    #[value(alias = "jupyter")]
    #[serde(alias = "jupyter")]
    Full,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Auto => "auto",
            Variant::Base => "base",
            Variant::Ml => "ml",
            Variant::Full => "full",
        }
    }
    /// The JupyterLab image of a lab; `auto` is settled into a lab before an image is chosen.
    pub fn lab_image(self) -> ImageId {
        match self {
            Variant::Base => ImageId::JupyterBase,
            Variant::Ml => ImageId::JupyterMl,
            Variant::Full => ImageId::Jupyter,
            Variant::Auto => unreachable!("`--variant auto` is settled into a lab before its image is used"),
        }
    }
    /// What the lab holds on `arch`, in a few words.
    pub fn contents(self, arch: Arch) -> &'static str {
        let cuda = self != Variant::Auto && self.lab_image().spec().has_cuda(arch);
        match (self, cuda) {
            (Variant::Auto, _) => "the lab that fits this machine",
            (Variant::Base, _) => "dimtensor + numpy",
            (Variant::Ml, true) => "torch + jax with CUDA 12",
            (Variant::Ml, false) => "torch + jax for CPU",
            (Variant::Full, true) => "every integration, torch + jax with CUDA 12",
            (Variant::Full, false) => "every integration, torch + jax for CPU",
        }
    }
    /// The memory a lab wants for JupyterLab and a notebook of its stack: torch and jax each take
    /// about a GiB on import, before any data.
    pub fn memory_wanted(self) -> u64 {
        const GIB: u64 = 1 << 30;
        match self {
            Variant::Auto | Variant::Base => 2 * GIB,
            Variant::Ml | Variant::Full => 8 * GIB,
        }
    }
    /// The distinct labs, smallest first (`auto` picks among them, the wizard lists them).
    pub const LABS: [Variant; 3] = [Variant::Base, Variant::Ml, Variant::Full];
}

/// Every image the project builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageId {
    Base,
    Ml,
    Full,
    Jupyter,
    JupyterBase,
    JupyterMl,
    // JupyterHub for `dimtensor-up hub` (not a lab).
    Hub,
}

pub struct ImageSpec {
    pub id: ImageId,
    /// The tag in the registry repository, and the local tag.
    pub tag: &'static str,
    /// Dockerfile stage.
    pub target: &'static str,
    /// For JupyterLab images, the stage it is put on (build arg JUPYTER_ON).
    pub jupyter_on: Option<&'static str>,
    /// The platforms where it carries CUDA libraries (torch and/or jax): worth attaching GPUs to.
    /// On arm64 PyPI's torch is CPU-only; only ml's jax brings CUDA there.
    pub cuda_on: &'static [Arch],
    pub summary: &'static str,
    pub for_whom: &'static str,
    /// Uncompressed sizes (decimal GB, as `docker images` shows them) measured on linux/amd64
    /// and linux/arm64 (docker/README.md, "Sizes"); empty where not measured (shown as "?").
    pub approx_size: [&'static str; 2],
}

impl ImageSpec {
    pub fn has_cuda(&self, arch: Arch) -> bool {
        self.cuda_on.contains(&arch)
    }
    pub fn size_on(&self, arch: Arch) -> &'static str {
        let size = match arch {
            Arch::Amd64 => self.approx_size[0],
            Arch::Arm64 => self.approx_size[1],
        };
        if size.is_empty() {
            "? GB"
        } else {
            size
        }
    }
}

pub const IMAGES: [ImageSpec; 7] = [
    ImageSpec {
        id: ImageId::Base,
        tag: "base",
        target: "base",
        jupyter_on: None,
        cuda_on: &[],
        summary: "dimtensor + numpy<2 on Python 3.11",
        for_whom: "scripts and CI on any machine",
        approx_size: ["0.3 GB", "0.3 GB"],
    },
    ImageSpec {
        id: ImageId::Ml,
        tag: "ml",
        target: "ml",
        jupyter_on: None,
        cuda_on: &[Arch::Amd64, Arch::Arm64],
        summary: "base + torch and jax with CUDA 12",
        for_whom: "GPU training and differentiable physics",
        approx_size: ["8.3 GB", "6.2 GB"],
    },
    ImageSpec {
        id: ImageId::Full,
        tag: "full",
        target: "full",
        jupyter_on: None,
        cuda_on: &[Arch::Amd64],
        summary: "base + every dimtensor integration (dimtensor[all])",
        for_whom: "everything, when disk is no object",
        approx_size: ["9.6 GB", "2.7 GB"],
    },
    ImageSpec {
        id: ImageId::Jupyter,
        tag: "jupyter",
        target: "jupyter",
        jupyter_on: Some("full"),
        cuda_on: &[Arch::Amd64],
        summary: "JupyterLab on full",
        for_whom: "notebooks with every integration",
        approx_size: ["9.8 GB", "2.9 GB"],
    },
    ImageSpec {
        id: ImageId::JupyterBase,
        tag: "jupyter-base",
        target: "jupyter",
        jupyter_on: Some("base"),
        cuda_on: &[],
        summary: "JupyterLab on base",
        for_whom: "a small lab for laptops",
        approx_size: ["0.7 GB", "0.8 GB"],
    },
    ImageSpec {
        id: ImageId::JupyterMl,
        tag: "jupyter-ml",
        target: "jupyter",
        jupyter_on: Some("ml"),
        cuda_on: &[Arch::Amd64, Arch::Arm64],
        summary: "JupyterLab on ml",
        for_whom: "a GPU lab without the integrations",
        approx_size: ["8.8 GB", "6.7 GB"],
    },
    ImageSpec {
        id: ImageId::Hub,
        tag: "hub",
        target: "hub",
        jupyter_on: None,
        cuda_on: &[],
        summary: "JupyterHub + DockerSpawner + NativeAuthenticator",
        for_whom: "`dimtensor-up hub`: one lab per user on a shared machine",
        approx_size: ["0.4 GB", "0.5 GB"],
    },
];

impl ImageId {
    pub fn spec(self) -> &'static ImageSpec {
        IMAGES.iter().find(|s| s.id == self).expect("every ImageId is in IMAGES")
    }
    pub fn tag(self) -> &'static str {
        self.spec().tag
    }
    /// `<registry>:<tag>`: the reference pulled, built and started.
    pub fn reference(self, registry: &str) -> String {
        format!("{registry}:{}", self.tag())
    }
    /// `<registry>:<tag>-<dimtensor version>`: the pinned alias.
    pub fn versioned_reference(self, registry: &str, dimtensor_version: &str) -> String {
        format!("{registry}:{}-{dimtensor_version}", self.tag())
    }
}

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
                Kind::Engine,
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
                Kind::Engine,
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

/// When `jupyter`, `run`, `compose --up` and `hub` pull an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Always pull first
    Always,
    /// Pull when not present locally, build when the pull fails
    #[default]
    Missing,
    /// Never pull: use a local image or build one
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lab_has_its_own_jupyter_image() {
        let images: std::collections::HashSet<ImageId> =
            Variant::LABS.iter().map(|v| v.lab_image()).collect();
        assert_eq!(images.len(), Variant::LABS.len(), "one row per distinct lab");
        for v in Variant::LABS {
            assert_eq!(v.lab_image().spec().target, "jupyter");
        }
        assert_eq!(
            Variant::Full.lab_image().reference(DEFAULT_REGISTRY),
            "ghcr.io/marcoloco23/dimtensor:jupyter"
        );
        // `jupyter` (the old name of the full lab) still works, in flags and in the settings file.
        assert_eq!(<Variant as clap::ValueEnum>::from_str("jupyter", false).unwrap(), Variant::Full);
        assert_eq!(
            toml::from_str::<std::collections::HashMap<String, Variant>>("v = \"jupyter\"").unwrap()["v"],
            Variant::Full
        );
        assert_eq!(Variant::Base.lab_image().versioned_reference("r", "5.2.0"), "r:jupyter-base-5.2.0");
    }

    #[test]
    fn cuda_and_sizes_follow_the_platform() {
        // PyPI's aarch64 torch is CPU-only: on arm64 the full lab carries no CUDA, ml's jax does.
        assert!(ImageId::Jupyter.spec().has_cuda(Arch::Amd64));
        assert!(!ImageId::Jupyter.spec().has_cuda(Arch::Arm64));
        assert!(ImageId::JupyterMl.spec().has_cuda(Arch::Arm64));
        assert!(!ImageId::JupyterBase.spec().has_cuda(Arch::Amd64));
        for spec in &IMAGES {
            for arch in [Arch::Amd64, Arch::Arm64] {
                assert!(
                    spec.size_on(arch).ends_with(" GB"),
                    "{:?} {arch:?}: {}",
                    spec.id,
                    spec.size_on(arch)
                );
            }
        }
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
    fn emulation_is_said_only_when_the_platforms_differ() {
        assert_eq!(Platforms::new(Arch::Amd64, None).emulation_note(), None);
        assert_eq!(Platforms::new(Arch::Amd64, Some(Arch::Amd64)).emulation_note(), None);
        let note = Platforms::new(Arch::Amd64, Some(Arch::Arm64)).emulation_note().unwrap();
        assert!(note.contains("linux/arm64 images on a linux/amd64 engine"), "{note}");
    }
}
