//! The image variants: one table that every command reads.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The default registry repository; `config set registry …` overrides it.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/marcoloco23/dimtensor";
/// The dimtensor release the images pin (docker/requirements/*.txt).
pub const DIMTENSOR_VERSION: &str = "5.2.0";
pub const DEFAULT_PYTHON_IMAGE: &str = "python:3.11-slim-bookworm";

/// What `jupyter --variant` names: the environment JupyterLab runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// dimtensor and numpy only: small, for laptops
    Base,
    /// torch and jax with CUDA: for GPU work
    Ml,
    /// every dimtensor integration
    Full,
    /// JupyterLab on full (the default)
    Jupyter,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Base => "base",
            Variant::Ml => "ml",
            Variant::Full => "full",
            Variant::Jupyter => "jupyter",
        }
    }
    /// The JupyterLab image for this variant.
    pub fn lab_image(self) -> ImageId {
        match self {
            Variant::Base => ImageId::JupyterBase,
            Variant::Ml => ImageId::JupyterMl,
            Variant::Full | Variant::Jupyter => ImageId::Jupyter,
        }
    }
    pub const ALL: [Variant; 4] = [Variant::Base, Variant::Ml, Variant::Full, Variant::Jupyter];
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
}

pub struct ImageSpec {
    pub id: ImageId,
    /// The tag in the registry repository, and the local tag.
    pub tag: &'static str,
    /// Dockerfile stage.
    pub target: &'static str,
    /// For JupyterLab images, the stage it is put on (build arg JUPYTER_ON).
    pub jupyter_on: Option<&'static str>,
    /// Carries CUDA-enabled torch (and jax for ml): worth attaching GPUs to.
    pub gpu_capable: bool,
    pub summary: &'static str,
    pub for_whom: &'static str,
    /// Uncompressed size measured on linux/amd64 (docker/README.md, "Sizes").
    pub approx_size: &'static str,
}

pub const IMAGES: [ImageSpec; 6] = [
    ImageSpec {
        id: ImageId::Base,
        tag: "base",
        target: "base",
        jupyter_on: None,
        gpu_capable: false,
        summary: "dimtensor + numpy<2 on Python 3.11",
        for_whom: "scripts and CI on any machine",
        approx_size: "0.2 GB",
    },
    ImageSpec {
        id: ImageId::Ml,
        tag: "ml",
        target: "ml",
        jupyter_on: None,
        gpu_capable: true,
        summary: "base + torch and jax with CUDA 12",
        for_whom: "GPU training and differentiable physics",
        approx_size: "7.8 GB",
    },
    ImageSpec {
        id: ImageId::Full,
        tag: "full",
        target: "full",
        jupyter_on: None,
        gpu_capable: true,
        summary: "base + every dimtensor integration (dimtensor[all])",
        for_whom: "everything, when disk is no object",
        approx_size: "8.9 GB",
    },
    ImageSpec {
        id: ImageId::Jupyter,
        tag: "jupyter",
        target: "jupyter",
        jupyter_on: Some("full"),
        gpu_capable: true,
        summary: "JupyterLab on full",
        for_whom: "notebooks with every integration",
        approx_size: "9.1 GB",
    },
    ImageSpec {
        id: ImageId::JupyterBase,
        tag: "jupyter-base",
        target: "jupyter",
        jupyter_on: Some("base"),
        gpu_capable: false,
        summary: "JupyterLab on base",
        for_whom: "a small lab for laptops",
        approx_size: "0.6 GB",
    },
    ImageSpec {
        id: ImageId::JupyterMl,
        tag: "jupyter-ml",
        target: "jupyter",
        jupyter_on: Some("ml"),
        gpu_capable: true,
        summary: "JupyterLab on ml",
        for_whom: "a GPU lab without the integrations",
        approx_size: "8.1 GB",
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
    fn every_variant_has_a_jupyter_image() {
        for v in Variant::ALL {
            assert_eq!(v.lab_image().spec().target, "jupyter");
        }
        assert_eq!(
            Variant::Jupyter.lab_image().reference(DEFAULT_REGISTRY),
            "ghcr.io/marcoloco23/dimtensor:jupyter"
        );
        assert_eq!(Variant::Base.lab_image().versioned_reference("r", "5.2.0"), "r:jupyter-base-5.2.0");
    }
}
