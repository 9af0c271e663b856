//! What kind of engine answered, and everything that follows from it: one place that knows
//! Docker from Podman and rootful from rootless. Launch plans, GPU decisions, compose files and
//! builds consult it; nothing else looks at the engine's product or rootless state.

use serde::Serialize;

use crate::base::sys::UserSpec;

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
    /// Reached over the user's ssh: its bind mounts name the remote's folders, and the caller is
    /// the remote user.
    pub over_ssh: bool,
    /// This machine is Linux (elsewhere, Docker Desktop maps file ownership itself).
    pub linux_client: bool,
    /// The laptop VM the engine runs in (Docker Desktop, OrbStack, Colima, ...): bind mounts
    /// reach it through the VM's file sharing (docker/README.md, "Docker Desktop").
    pub vm: Option<Vm>,
}

/// The VMs that laptops run engines in. Each shares the user's folders into its VM its own way,
/// which decides who the container must run as for files to stay the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vm {
    DockerDesktop,
    OrbStack,
    Colima,
    RancherDesktop,
    Lima,
    PodmanMachine,
}

impl Vm {
    pub fn name(self) -> &'static str {
        match self {
            Vm::DockerDesktop => "Docker Desktop",
            Vm::OrbStack => "OrbStack",
            Vm::Colima => "Colima",
            Vm::RancherDesktop => "Rancher Desktop",
            Vm::Lima => "Lima",
            Vm::PodmanMachine => "podman machine",
        }
    }

    /// Which VM, from the engine's socket path (where each puts it) and `docker info`'s
    /// OperatingSystem and Name (Docker Desktop and OrbStack say themselves; Lima's VMs are
    /// named `lima-<instance>`, Colima's `colima[-<profile>]`). A socket a context names counts
    /// as much as one discovery found.
    pub fn detect(
        product: Product,
        socket: Option<&str>,
        os: Option<&str>,
        name: Option<&str>,
    ) -> Option<Vm> {
        let socket = socket.unwrap_or("");
        let name = name.unwrap_or("");
        if product == Product::Podman {
            let machine =
                socket.contains("/containers/podman/machine/") || socket.contains("podman-machine-");
            return machine.then_some(Vm::PodmanMachine);
        }
        match os.unwrap_or("") {
            "Docker Desktop" => return Some(Vm::DockerDesktop),
            "OrbStack" => return Some(Vm::OrbStack),
            _ => {}
        }
        if socket.contains("/.orbstack/") {
            Some(Vm::OrbStack)
        } else if socket.contains("/.colima/") || name == "colima" || name.starts_with("colima-") {
            Some(Vm::Colima)
        } else if socket.contains("/.rd/") || name == "lima-rancher-desktop" {
            Some(Vm::RancherDesktop)
        } else if socket.contains("/.lima/") || name.starts_with("lima-") {
            Some(Vm::Lima)
        } else {
            None
        }
    }

    /// What its file sharing does with ownership, for `doctor`.
    pub fn file_sharing(self) -> &'static str {
        match self {
            Vm::DockerDesktop | Vm::OrbStack => "its file sharing gives files written in the lab to you",
            Vm::Colima | Vm::RancherDesktop | Vm::Lima => {
                "its VM user has your UID, so the lab runs as your UID:GID"
            }
            Vm::PodmanMachine => {
                "rootless Podman in its VM as your UID, so the lab runs as you under keep-id"
            }
        }
    }
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

/// What speaks the engine's Docker API for us where GPUs must go through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerApiClient {
    Compose,
    DockerSpawner,
}

/// Who answered: product, version and Engine API version. Read off the `/_ping` answer's headers
/// (one quick request; Podman's `/version` takes over half a second), else off `/version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub product: Product,
    pub version: String,
    pub api_version: String,
}

impl Identity {
    /// From the head of a `GET /_ping` answer: `Api-Version: 1.41`, `Server: Docker/20.10.24
    /// (linux)` or `Server: Libpod/4.3.1 (linux)` with `Libpod-Api-Version`.
    pub fn from_ping(head: &str) -> Option<Identity> {
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let api_version = header("Api-Version")?;
        let server = header("Server").unwrap_or_default();
        let (name, version) =
            server.split_whitespace().next().unwrap_or("").split_once('/').unwrap_or(("", ""));
        let podman = header("Libpod-Api-Version").is_some() || name.eq_ignore_ascii_case("libpod");
        let version = match (podman, header("Libpod-Api-Version")) {
            (true, Some(v)) if version.is_empty() => v,
            _ => version.to_string(),
        };
        Some(Identity {
            product: if podman { Product::Podman } else { Product::Docker },
            version,
            api_version,
        })
    }

    /// From `docker version` (where `/_ping` could not be read, as over TLS).
    pub fn from_version(version: &bollard::models::SystemVersion) -> Identity {
        let podman = version.components.iter().flatten().any(|c| c.name.to_lowercase().contains("podman"))
            || version.platform.as_ref().is_some_and(|p| p.name.to_lowercase().contains("podman"));
        Identity {
            product: if podman { Product::Podman } else { Product::Docker },
            version: version.version.clone().unwrap_or_default(),
            api_version: version.api_version.clone().unwrap_or_default(),
        }
    }

    /// The API version to speak: the engine's, or bollard's newest where the engine is newer.
    pub fn client_version(&self) -> Option<bollard::ClientVersion> {
        let (major, minor) = self.api_version.split_once('.')?;
        let theirs = (major.parse::<usize>().ok()?, minor.parse::<usize>().ok()?);
        let ours = bollard::API_DEFAULT_VERSION;
        let (major_version, minor_version) = theirs.min((ours.major_version, ours.minor_version));
        Some(bollard::ClientVersion { major_version, minor_version })
    }
}

/// Docker's own word on rootless (`docker info`'s security options; Podman's Docker API does not
/// say it, see `Engine::model`).
pub fn docker_says_rootless(info: &bollard::models::SystemInfo) -> bool {
    info.security_options.iter().flatten().any(|o| o.split(',').any(|kv| kv == "name=rootless"))
}

impl EngineModel {
    /// Whether any file of this machine can be bind-mounted (a local engine outside a VM; Docker
    /// Desktop shares only some folders): the CA bundle is mounted only then.
    pub fn sees_every_host_file(&self) -> bool {
        self.local && self.vm.is_none()
    }

    pub fn new(identity: &Identity, rootless: bool, local: bool, over_ssh: bool) -> EngineModel {
        EngineModel {
            product: identity.product,
            version: identity.version.clone(),
            rootless,
            local,
            over_ssh,
            linux_client: cfg!(target_os = "linux"),
            vm: None,
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
    /// - over ssh the same rules, with the remote user as the caller;
    /// - laptop VMs (`Vm`): Docker Desktop (macOS, Windows) and OrbStack give files to the user
    ///   whatever UID writes them: the image's user; Colima, Lima and Rancher Desktop run their VM
    ///   as a user with the caller's UID, whose mounts show the caller's files as that user: the
    ///   caller's UID:GID; podman machine runs rootless Podman as that user: the caller's UID:GID
    ///   under `keep-id`;
    /// - engines elsewhere: the image's user; the caller's UID is not theirs.
    ///
    /// `caller` is the user who owns the mounted folders, on the engine's machine.
    pub fn user_mapping(&self, explicit: Option<UserSpec>, caller: Option<UserSpec>) -> UserMapping {
        let keep_id = self.product == Product::Podman && self.rootless;
        if explicit.is_some() {
            return UserMapping { user: explicit, keep_id };
        }
        match self.vm {
            Some(Vm::PodmanMachine) => return UserMapping { user: caller, keep_id: true },
            Some(Vm::Colima | Vm::Lima | Vm::RancherDesktop) => return UserMapping { user: caller, keep_id },
            Some(Vm::OrbStack) => return UserMapping { user: None, keep_id: false },
            Some(Vm::DockerDesktop) | None => {}
        }
        let knows_the_caller = (self.local && self.linux_client) || self.over_ssh;
        if !knows_the_caller {
            return UserMapping { user: None, keep_id: false };
        }
        // Rootless Docker and Docker Desktop for Linux map the caller to container root (Desktop's
        // VM runs its engine in a user namespace); another UID there is a sub-UID on the host.
        let user = match (self.product, self.rootless || self.vm == Some(Vm::DockerDesktop)) {
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

    /// `compose_gpu_form`, or the error that says why GPUs cannot go through the Docker API here.
    pub fn docker_api_gpu_form(&self, through: DockerApiClient) -> crate::base::error::Result<GpuForm> {
        use crate::base::error::{Error, Kind};
        self.compose_gpu_form().ok_or_else(|| {
            let (what, hint) = match through {
                DockerApiClient::Compose => (
                    "from a compose file",
                    "`dimtensor-up jupyter` gives Podman containers GPUs through CDI; or write the file with --gpus none",
                ),
                DockerApiClient::DockerSpawner => (
                    "through its Docker API, which DockerSpawner uses",
                    "pass --gpus none for CPU profiles only, or use Docker / Podman 5.5+",
                ),
            };
            Error::new(Kind::Gpu, format!("{} cannot take GPUs {what}", self.describe()))
                .cause("Podman before 5.5 drops GPU requests made through its Docker API")
                .hint(hint)
        })
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

    fn model(product: Product, rootless: bool) -> EngineModel {
        EngineModel {
            product,
            version: "1.0".into(),
            rootless,
            local: true,
            over_ssh: false,
            linux_client: true,
            vm: None,
        }
    }

    const CALLER: Option<UserSpec> = Some(UserSpec { uid: 1001, gid: 1002 });

    #[test]
    fn reads_who_answered_from_the_ping_headers() {
        let docker = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n";
        let id = Identity::from_ping(docker).unwrap();
        assert_eq!(
            (id.product, id.version.as_str(), id.api_version.as_str()),
            (Product::Docker, "20.10.24+dfsg1", "1.41")
        );
        let podman = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\nServer: Libpod/4.3.1 (linux)\r\n";
        let id = Identity::from_ping(podman).unwrap();
        assert_eq!((id.product, id.version.as_str()), (Product::Podman, "4.3.1"));
        assert_eq!(id.client_version().map(|v| (v.major_version, v.minor_version)), Some((1, 41)));
        let newer = Identity { api_version: "1.99".into(), ..id };
        assert_eq!(newer.client_version().unwrap().minor_version, bollard::API_DEFAULT_VERSION.minor_version);
        assert_eq!(Identity::from_ping("HTTP/1.1 200 OK\r\n"), None);
        let model = EngineModel::new(&Identity::from_ping(podman).unwrap(), true, true, false);
        assert_eq!(model.describe(), "Podman 4.3.1, rootless");
    }

    #[test]
    fn reads_product_from_docker_version_and_rootless_from_docker_info() {
        let version = |name: &str| SystemVersion {
            version: Some("4.3.1".into()),
            components: Some(vec![ComponentVersion {
                name: name.into(),
                version: "4.3.1".into(),
                details: None,
            }]),
            ..Default::default()
        };
        assert_eq!(Identity::from_version(&version("Podman Engine")).product, Product::Podman);
        assert_eq!(Identity::from_version(&version("Engine")).product, Product::Docker);
        let info = SystemInfo {
            security_options: Some(vec!["name=seccomp,profile=default".into(), "name=rootless".into()]),
            ..Default::default()
        };
        assert!(docker_says_rootless(&info) && !docker_says_rootless(&SystemInfo::default()));
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
        // Docker Desktop on macOS and Windows: its file sharing gives the files to the user
        // whatever the container's UID, so the image's own non-root user runs.
        let desktop =
            EngineModel { linux_client: false, vm: Some(Vm::DockerDesktop), ..model(Product::Docker, false) };
        assert_eq!(desktop.user_mapping(None, CALLER).user, None);
        // Docker Desktop for Linux maps the caller to container root, as rootless Docker does.
        let desktop_linux = EngineModel { vm: Some(Vm::DockerDesktop), ..model(Product::Docker, false) };
        assert_eq!(desktop_linux.user_mapping(None, CALLER).user, Some(UserSpec { uid: 0, gid: 0 }));
        // Over ssh the caller is the remote user, whose folders are mounted.
        let ssh = EngineModel { local: false, over_ssh: true, ..model(Product::Docker, false) };
        assert_eq!(ssh.user_mapping(None, CALLER), UserMapping { user: CALLER, keep_id: false });
    }

    #[test]
    fn each_laptop_vm_is_told_by_its_socket_or_its_info() {
        let docker = |socket, os, name| Vm::detect(Product::Docker, Some(socket), Some(os), Some(name));
        assert_eq!(
            docker("/var/run/docker.sock", "Docker Desktop", "docker-desktop"),
            Some(Vm::DockerDesktop)
        );
        assert_eq!(docker("/var/run/docker.sock", "OrbStack", "orbstack"), Some(Vm::OrbStack));
        assert_eq!(docker("/Users/ada/.orbstack/run/docker.sock", "Ubuntu", "x"), Some(Vm::OrbStack));
        assert_eq!(docker("/Users/ada/.colima/work/docker.sock", "Ubuntu 24.04", "x"), Some(Vm::Colima));
        assert_eq!(docker("/var/run/docker.sock", "Ubuntu 24.04", "colima-work"), Some(Vm::Colima));
        assert_eq!(docker("/Users/ada/.rd/docker.sock", "Alpine", "x"), Some(Vm::RancherDesktop));
        assert_eq!(
            docker("/var/run/docker.sock", "Alpine", "lima-rancher-desktop"),
            Some(Vm::RancherDesktop)
        );
        assert_eq!(docker("/Users/ada/.lima/docker/sock/docker.sock", "Ubuntu", "x"), Some(Vm::Lima));
        assert_eq!(docker("/var/run/docker.sock", "Debian GNU/Linux 12 (bookworm)", "box"), None);
        let podman = |socket| Vm::detect(Product::Podman, Some(socket), None, None);
        assert_eq!(
            podman("/Users/ada/.local/share/containers/podman/machine/podman.sock"),
            Some(Vm::PodmanMachine)
        );
        assert_eq!(
            podman("/var/folders/x/T/podman/podman-machine-default-api.sock"),
            Some(Vm::PodmanMachine)
        );
        assert_eq!(podman("/run/user/1000/podman/podman.sock"), None);
    }

    #[test]
    fn files_stay_the_users_in_every_laptop_vm() {
        let mac = |product, rootless, vm| EngineModel {
            linux_client: false,
            vm: Some(vm),
            ..model(product, rootless)
        };
        let me = Some(UserSpec { uid: 501, gid: 20 });
        // Their file sharing gives files to the user: the image's own user.
        for vm in [Vm::DockerDesktop, Vm::OrbStack] {
            assert_eq!(
                mac(Product::Docker, false, vm).user_mapping(None, me),
                UserMapping { user: None, keep_id: false }
            );
        }
        // A VM user with the caller's UID: the caller's UID:GID.
        for vm in [Vm::Colima, Vm::Lima, Vm::RancherDesktop] {
            assert_eq!(
                mac(Product::Docker, false, vm).user_mapping(None, me),
                UserMapping { user: me, keep_id: false }
            );
        }
        // Rootless Podman in the VM as that user: keep-id maps it to itself.
        let machine = mac(Product::Podman, true, Vm::PodmanMachine);
        assert_eq!(machine.user_mapping(None, me), UserMapping { user: me, keep_id: true });
        let every =
            [Vm::DockerDesktop, Vm::OrbStack, Vm::Colima, Vm::RancherDesktop, Vm::Lima, Vm::PodmanMachine];
        assert!(every.iter().all(|vm| !mac(Product::Docker, false, *vm).sees_every_host_file()));
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
