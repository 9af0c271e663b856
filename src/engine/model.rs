//! What kind of engine answered, and everything that follows from it: one place that knows
//! Docker from Podman and rootful from rootless. Launch plans, GPU decisions, compose files and
//! builds consult it; nothing else looks at the engine's product or rootless state.

use serde::Serialize;

use crate::settings::UserSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    Docker,
    Podman,
}

impl Product {
    pub fn name(self) -> &'static str {
        match self {
            Product::Docker => "Docker",
            Product::Podman => "Podman",
        }
    }
}

/// A description of the connected engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineModel {
    pub product: Product,
    pub version: String,
    /// Runs as an ordinary user: container root is that user, other UIDs are sub-UIDs.
    pub rootless: bool,
    /// Runs on this machine, so its bind mounts name this machine's folders and the caller's
    /// UID means something to it.
    pub local: bool,
    /// This machine is Linux (elsewhere, Docker Desktop maps file ownership itself).
    pub linux_client: bool,
}

/// Who the container runs as, and how its user namespace maps to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserMapping {
    /// None: the image's own user.
    pub user: Option<UserSpec>,
    /// Podman's `keep-id`: the caller's UID is the same number inside the container.
    pub keep_id: bool,
}

/// How a GPU request reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GpuForm {
    /// Docker's DeviceRequests (`docker run --gpus`), served by the NVIDIA Container Toolkit.
    DeviceRequest,
    /// CDI device names (`nvidia.com/gpu=all`), from a spec `nvidia-ctk cdi generate` writes.
    Cdi,
}

/// Which create endpoint takes the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CreateApi {
    /// `POST /containers/create` (Docker's Engine API).
    Docker,
    /// `POST /libpod/containers/create`: Podman's Docker API accepts GPU requests and drops them
    /// silently (4.x), while its own API takes CDI devices; one path for every Podman container.
    Libpod,
}

/// How images are built from the embedded Dockerfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    /// BuildKit through the engine's session endpoint (cache, secret and bind mounts).
    BuildKit,
    /// The engine's classic build endpoint; Podman runs it with Buildah, which understands the
    /// same RUN --mount forms.
    Classic,
}

impl EngineModel {
    /// Reads the model off `docker version` and `docker info`. `libpod_rootless` is Podman's own
    /// word (its Docker API does not say), None for Docker.
    pub fn new(
        version: &bollard::models::SystemVersion,
        info: &bollard::models::SystemInfo,
        libpod_rootless: Option<bool>,
        local: bool,
    ) -> EngineModel {
        let podman = version.components.iter().flatten().any(|c| c.name.to_lowercase().contains("podman"))
            || version.platform.as_ref().is_some_and(|p| p.name.to_lowercase().contains("podman"));
        let docker_rootless =
            info.security_options.iter().flatten().any(|o| o.split(',').any(|kv| kv == "name=rootless"));
        EngineModel {
            product: if podman { Product::Podman } else { Product::Docker },
            version: version.version.clone().unwrap_or_default(),
            rootless: libpod_rootless.unwrap_or(docker_rootless),
            local,
            linux_client: cfg!(target_os = "linux"),
        }
    }

    /// "Podman 4.3.1, rootless".
    pub fn describe(&self) -> String {
        format!(
            "{} {}, {}",
            self.product.name(),
            self.version,
            if self.rootless { "rootless" } else { "rootful" }
        )
    }

    /// Who the container runs as when the user gave no --user, so that files written in the
    /// mounted folder belong to the caller and the caller's files are readable and writable:
    /// - rootful engines: the caller's UID:GID;
    /// - rootless Docker: container root, which is the caller on the host (any other UID would
    ///   be a sub-UID that cannot write the folder);
    /// - rootless Podman: the caller's UID:GID under `keep-id`, which maps it to itself;
    /// - engines elsewhere (or Docker Desktop): the image's user; the caller's UID is not theirs.
    pub fn user_mapping(&self, explicit: Option<UserSpec>, caller: Option<UserSpec>) -> UserMapping {
        let keep_id = self.product == Product::Podman && self.rootless;
        if explicit.is_some() {
            return UserMapping { user: explicit, keep_id };
        }
        if !self.local || !self.linux_client {
            return UserMapping { user: None, keep_id: false };
        }
        let user = match (self.product, self.rootless) {
            (Product::Docker, true) => Some(UserSpec { uid: 0, gid: 0 }),
            _ => caller,
        };
        UserMapping { user, keep_id }
    }

    pub fn gpu_form(&self) -> GpuForm {
        match self.product {
            Product::Docker => GpuForm::DeviceRequest,
            Product::Podman => GpuForm::Cdi,
        }
    }

    pub fn create_api(&self) -> CreateApi {
        match self.product {
            Product::Docker => CreateApi::Docker,
            Product::Podman => CreateApi::Libpod,
        }
    }

    pub fn builder(&self) -> Builder {
        match self.product {
            Product::Docker => Builder::BuildKit,
            Product::Podman => Builder::Classic,
        }
    }

    /// Whether a compose file can carry a GPU request to this engine: compose speaks the Docker
    /// API, whose GPU requests Podman drops silently before 5.5 (it honours CDI requests since).
    pub fn compose_gpu_form(&self) -> Option<GpuForm> {
        match self.product {
            Product::Docker => Some(GpuForm::DeviceRequest),
            Product::Podman if version_at_least(&self.version, (5, 5)) => Some(GpuForm::Cdi),
            Product::Podman => None,
        }
    }

    /// The hint for starting this kind of engine's API socket.
    pub fn product_hint(product: Product) -> &'static str {
        match product {
            Product::Docker => "start Docker (`sudo systemctl start docker`, or Docker Desktop)",
            Product::Podman => "start Podman's API socket: `systemctl --user enable --now podman.socket` (rootless) or `sudo systemctl enable --now podman.socket`",
        }
    }
}

/// Whether a dotted version ("5.5.2", "4.3.1+ds1") is at least `major.minor`.
pub fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    let got_major = parts.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let got_minor = parts.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    (got_major, got_minor) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{SystemInfo, SystemVersion, SystemVersionComponents as ComponentVersion};

    fn version(components: &[&str], v: &str) -> SystemVersion {
        SystemVersion {
            version: Some(v.into()),
            components: Some(
                components
                    .iter()
                    .map(|n| ComponentVersion { name: n.to_string(), version: v.into(), details: None })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn model(product: Product, rootless: bool) -> EngineModel {
        EngineModel { product, version: "1.0".into(), rootless, local: true, linux_client: true }
    }

    const CALLER: Option<UserSpec> = Some(UserSpec { uid: 1001, gid: 1002 });

    #[test]
    fn reads_product_and_rootless_from_the_engine() {
        let rootless_info = SystemInfo {
            security_options: Some(vec!["name=seccomp,profile=default".into(), "name=rootless".into()]),
            ..Default::default()
        };
        let docker =
            EngineModel::new(&version(&["Engine", "containerd"], "20.10.24"), &rootless_info, None, true);
        assert_eq!((docker.product, docker.rootless), (Product::Docker, true));
        assert_eq!(docker.describe(), "Docker 20.10.24, rootless");
        let rootful = EngineModel::new(&version(&["Engine"], "28.0.1"), &SystemInfo::default(), None, true);
        assert!(!rootful.rootless);
        // Podman's Docker API says nothing of rootless; its own API does.
        let podman = EngineModel::new(
            &version(&["Podman Engine", "Conmon"], "4.3.1"),
            &SystemInfo::default(),
            Some(true),
            true,
        );
        assert_eq!((podman.product, podman.rootless), (Product::Podman, true));
        assert_eq!(podman.describe(), "Podman 4.3.1, rootless");
    }

    #[test]
    fn files_stay_the_callers_on_every_engine() {
        let root = Some(UserSpec { uid: 0, gid: 0 });
        assert_eq!(
            model(Product::Docker, false).user_mapping(None, CALLER),
            UserMapping { user: CALLER, keep_id: false }
        );
        assert_eq!(
            model(Product::Docker, true).user_mapping(None, CALLER),
            UserMapping { user: root, keep_id: false }
        );
        assert_eq!(
            model(Product::Podman, true).user_mapping(None, CALLER),
            UserMapping { user: CALLER, keep_id: true }
        );
        assert_eq!(
            model(Product::Podman, false).user_mapping(None, CALLER),
            UserMapping { user: CALLER, keep_id: false }
        );
        let explicit = Some(UserSpec { uid: 7, gid: 7 });
        assert_eq!(model(Product::Docker, true).user_mapping(explicit, CALLER).user, explicit);
        assert!(model(Product::Podman, true).user_mapping(explicit, CALLER).keep_id);
    }

    #[test]
    fn remote_engines_and_docker_desktop_keep_the_images_user() {
        let remote = EngineModel { local: false, ..model(Product::Docker, false) };
        assert_eq!(remote.user_mapping(None, CALLER), UserMapping { user: None, keep_id: false });
        let desktop = EngineModel { linux_client: false, ..model(Product::Docker, false) };
        assert_eq!(desktop.user_mapping(None, CALLER).user, None);
    }

    #[test]
    fn gpu_create_and_build_paths_follow_the_product() {
        let docker = model(Product::Docker, true);
        let podman = model(Product::Podman, true);
        assert_eq!(
            (docker.gpu_form(), docker.create_api(), docker.builder()),
            (GpuForm::DeviceRequest, CreateApi::Docker, Builder::BuildKit)
        );
        assert_eq!(
            (podman.gpu_form(), podman.create_api(), podman.builder()),
            (GpuForm::Cdi, CreateApi::Libpod, Builder::Classic)
        );
    }

    #[test]
    fn compose_gpus_on_podman_need_5_5() {
        let old = EngineModel { version: "4.3.1".into(), ..model(Product::Podman, true) };
        assert_eq!(old.compose_gpu_form(), None);
        let new = EngineModel { version: "5.5.0".into(), ..model(Product::Podman, true) };
        assert_eq!(new.compose_gpu_form(), Some(GpuForm::Cdi));
        assert_eq!(model(Product::Docker, false).compose_gpu_form(), Some(GpuForm::DeviceRequest));
        assert!(version_at_least("4.10.0", (4, 9)) && !version_at_least("4.3.1+ds1", (5, 5)));
        assert!(!version_at_least("", (1, 0)));
    }
}
