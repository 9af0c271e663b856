//! The image variants: one table that every command reads.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::platform::Arch;

/// The default registry repository; `config set registry …` overrides it.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/marcoloco23/dimtensor";
/// The dimtensor release the images pin (docker/requirements/*.txt).
pub const DIMTENSOR_VERSION: &str = "5.2.0";
pub const DEFAULT_PYTHON_IMAGE: &str = "python:3.11-slim-bookworm";

/// What `jupyter --variant` names: the environment JupyterLab runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// the lab that fits this machine: a GPU lab with usable GPUs, else the largest without CUDA
    Auto,
    /// dimtensor and numpy only: small, for laptops
    Base,
    /// torch and jax (with CUDA 12 where the platform has it)
    Ml,
    /// every dimtensor integration, torch and jax
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
}
