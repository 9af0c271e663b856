//! Floor 2 (its `model` on floor 1): finding and connecting to the engine, as the docker CLI does:
//! `--host`, then DOCKER_HOST, then the active docker context; with none of them, the first
//! engine that answers among the usual sockets (discover.rs). Which address (endpoint.rs) is
//! decided purely; what kind of engine answered lives in model.rs; ssh in ssh/; registry
//! credentials in registry.rs.

pub mod discover;
pub mod endpoint;
pub mod model;
pub mod raw;
pub mod registry;
pub mod ssh;

use std::path::PathBuf;

use model::Vm;

use bollard::Docker;

pub use endpoint::{
    docker_cli_config, docker_config_dir, is_remote, resolve_from_env, Address, Endpoint, Source,
};

use crate::base::error::{api_status, io_kind, Error, Kind, Result};
use discover::ConnectProblem;

/// Requests fail after this many seconds (a pull or build streams and is not bound by it).
const REQUEST_TIMEOUT_SECS: u64 = 600;

/// A connected engine, its address and the API version agreed on.
pub struct Engine {
    pub docker: Docker,
    pub endpoint: Endpoint,
    /// Who answered (product, version, API version), read while connecting.
    pub identity: model::Identity,
    /// The machine the engine runs on, as far as its files, users and GPUs go.
    pub host: EngineHost,
    /// The sockets discovery tried, in order (empty when the address was named).
    pub tried: Vec<discover::Tried>,
    /// `docker info`, asked once per run (the GPU decision, the default user and doctor use it).
    info: tokio::sync::OnceCell<bollard::models::SystemInfo>,
    model: tokio::sync::OnceCell<model::EngineModel>,
}

impl Engine {
    pub async fn connect(host_flag: Option<&str>) -> Result<Engine> {
        let endpoint = resolve_from_env(host_flag)?;
        if endpoint.source != Source::Default {
            return Self::connect_to(endpoint).await;
        }
        Self::discover().await
    }

    /// The first of the usual sockets whose engine answers. A socket that is missing, refuses
    /// or may not be used (a user outside the `docker` group) is passed over for the next.
    pub async fn discover() -> Result<Engine> {
        let env = |k: &str| std::env::var(k).ok();
        let uid = crate::base::sys::UserSpec::caller().map(|u| u.uid);
        let os = discover::ClientOs::this();
        let candidates = discover::candidates(os, &discover::Places::here(&env, uid))
            .into_iter()
            // A laptop VM that was never set up is not tried (nor listed in the error).
            .filter(|c| match (c.label, &c.endpoint.address) {
                (discover::Label::Vm(vm), Address::Unix(path)) if vm != Vm::DockerDesktop => {
                    std::path::Path::new(path).parent().is_some_and(|dir| dir.exists())
                }
                _ => true,
            });
        let mut failed: Vec<(discover::Candidate, ConnectProblem)> = Vec::new();
        for candidate in candidates {
            match Self::try_connect(candidate.endpoint.clone()).await {
                Ok(mut engine) => {
                    engine.tried = failed
                        .iter()
                        .map(|(c, p)| discover::Tried {
                            address: c.endpoint.address.to_string(),
                            label: c.label.to_string(),
                            problem: Some(p.describe().into()),
                        })
                        .chain(std::iter::once(discover::Tried {
                            address: candidate.endpoint.address.to_string(),
                            label: candidate.label.to_string(),
                            problem: None,
                        }))
                        .collect();
                    return Ok(engine);
                }
                Err((_, problem)) => failed.push((candidate, problem)),
            }
        }
        let podman_installed = crate::base::sys::find_on_path(&["podman"]).is_some();
        let mut err = Error::new(Kind::Engine, "no container engine answers on this machine");
        for (candidate, problem) in &failed {
            err = err.cause(format!(
                "{} ({}): {}",
                candidate.endpoint.address,
                candidate.label,
                problem.describe()
            ));
        }
        Err(err.hint(discover::nothing_answered_hint(&failed, podman_installed)))
    }

    pub async fn connect_to(endpoint: Endpoint) -> Result<Engine> {
        Self::try_connect(endpoint).await.map_err(|(err, _)| err)
    }

    async fn try_connect(endpoint: Endpoint) -> Result<Engine, (Error, ConnectProblem)> {
        let ssh = endpoint.ssh().map_err(|e| (e, ConnectProblem::Other))?;
        let fail = |e: bollard::errors::Error| (connect_error(&endpoint, &e), ConnectProblem::of(&e));
        // Who answers, from one `GET /_ping`. Over ssh this goes first anyway: if ssh or the
        // remote's docker fails, ssh's own words make the error.
        let ping = match &ssh {
            Some(target) => Some(preflight(target).await.map_err(|e| (e, ConnectProblem::Other))?),
            None => match raw::request(&endpoint, None, "GET", "/_ping", None).await {
                Ok(answer) => Some(answer.head()),
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported => None,
                Err(e) => {
                    let err = match &endpoint.address {
                        Address::Unix(path) if e.kind() == std::io::ErrorKind::NotFound => {
                            bollard::errors::Error::SocketNotFoundError(path.clone())
                        }
                        _ => bollard::errors::Error::IOError { err: e },
                    };
                    return Err(fail(err));
                }
            },
        };
        let identity = ping.as_deref().and_then(model::Identity::from_ping);
        let version = identity.as_ref().and_then(model::Identity::client_version);
        let docker = client_for(&endpoint, ssh.as_ref(), version.as_ref()).map_err(fail)?;
        let (docker, identity) = match (version, identity) {
            (Some(_), Some(identity)) => (docker, identity),
            // Where /_ping could not be read (TLS): agree on the version the usual way.
            _ => {
                let docker = docker.negotiate_version().await.map_err(fail)?;
                let version = docker.version().await.map_err(fail)?;
                (docker, model::Identity::from_version(&version))
            }
        };
        let host = match ssh {
            Some(target) => EngineHost::Ssh {
                http: ssh::SshHttp::new(target.clone()),
                target,
                user: tokio::sync::OnceCell::new(),
            },
            None if endpoint.is_local() => EngineHost::Local,
            None => EngineHost::Elsewhere,
        };
        Ok(Engine {
            docker,
            endpoint,
            identity,
            host,
            tried: Vec::new(),
            info: tokio::sync::OnceCell::new(),
            model: tokio::sync::OnceCell::new(),
        })
    }

    /// The engine's `docker info`, fetched on first use.
    pub async fn info(&self) -> Result<&bollard::models::SystemInfo> {
        self.info
            .get_or_try_init(|| async {
                self.docker.info().await.map_err(|e| self.fail("reading the engine's info", e))
            })
            .await
    }

    /// The memory of the engine's machine (a VM's, for Docker Desktop and podman machine).
    pub async fn memory(&self) -> Result<Option<u64>> {
        Ok(self.info().await?.mem_total.filter(|m| *m > 0).map(|m| m as u64))
    }

    /// The platform the engine runs containers for (`docker info`: OSType, Architecture).
    pub async fn platform(&self) -> Result<crate::spec::catalog::Arch> {
        let info = self.info().await?;
        crate::spec::catalog::Arch::from_engine(
            info.os_type.as_deref().unwrap_or_default(),
            info.architecture.as_deref().unwrap_or_default(),
        )
    }

    /// What kind of engine this is (model.rs decides everything that follows from it).
    pub async fn model(&self) -> Result<&model::EngineModel> {
        self.model
            .get_or_try_init(|| async {
                let rootless = match self.identity.product {
                    model::Product::Docker => model::docker_says_rootless(self.info().await?),
                    // Podman's Docker API does not say it. Its socket on this machine belongs to
                    // the user it runs as; elsewhere its own API says (a slower request).
                    model::Product::Podman => match self.local_socket_owner() {
                        Some(uid) => uid != 0,
                        None => {
                            let info =
                                self.libpod_json("GET", "/libpod/info", None).await?.unwrap_or_default();
                            info.pointer("/host/security/rootless").and_then(|v| v.as_bool()).unwrap_or(false)
                        }
                    },
                };
                let over_ssh = self.host.ssh().is_some();
                let socket = match &self.endpoint.address {
                    Address::Unix(path) => Some(path.clone()),
                    _ => None,
                };
                let vm = match self.identity.product {
                    model::Product::Docker => {
                        let info = self.info().await?;
                        let (os, name) = (info.operating_system.as_deref(), info.name.as_deref());
                        model::Vm::detect(self.identity.product, socket.as_deref(), os, name)
                    }
                    model::Product::Podman => {
                        model::Vm::detect(self.identity.product, socket.as_deref(), None, None)
                    }
                };
                let mut model =
                    model::EngineModel::new(&self.identity, rootless, self.endpoint.is_local(), over_ssh);
                // A VM is a laptop's engine: over ssh or tcp the socket path means nothing here.
                model.vm = vm.filter(|_| self.endpoint.is_local());
                Ok(model)
            })
            .await
    }

    fn local_socket_owner(&self) -> Option<u32> {
        let Address::Unix(path) = &self.endpoint.address else { return None };
        crate::base::sys::file_uid(path)
    }

    /// A request to Podman's own API (what its Docker API cannot express), decoded as JSON.
    /// The inner error is Podman's answer to a refused request: its status and message.
    pub async fn libpod_json(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<std::result::Result<serde_json::Value, (u16, String)>> {
        let answer =
            raw::request(&self.endpoint, self.host.ssh_http(), method, &format!("/v4.0.0{path}"), body)
                .await
                .map_err(|e| {
                    Error::new(
                        Kind::Engine,
                        format!("cannot reach Podman's API at {}", self.endpoint.described()),
                    )
                    .cause(e)
                    .hint("check that the Podman service still runs")
                })?;
        let value: serde_json::Value =
            serde_json::from_slice(&answer.body).unwrap_or(serde_json::Value::Null);
        if answer.status >= 400 {
            let message = value.get("message").and_then(|m| m.as_str()).unwrap_or("no message");
            return Ok(Err((answer.status, message.to_string())));
        }
        Ok(Ok(value))
    }

    /// Wraps an engine error with what was being done.
    pub fn fail(&self, doing: &str, err: bollard::errors::Error) -> Error {
        if let Some((_, message)) = api_status(&err) {
            return Error::new(Kind::Engine, format!("{doing}: {}", crate::base::error::first_line(message)));
        }
        connect_error(&self.endpoint, &err).cause(format!("while {doing}"))
    }
}

fn client_for(
    endpoint: &Endpoint,
    ssh: Option<&ssh::SshTarget>,
    version: Option<&bollard::ClientVersion>,
) -> std::result::Result<Docker, bollard::errors::Error> {
    let version = version.unwrap_or(bollard::API_DEFAULT_VERSION);
    let addr = endpoint.address.to_string();
    if let Some(target) = ssh {
        return Ok(ssh::docker_client(target.clone(), REQUEST_TIMEOUT_SECS, version));
    }
    if let Address::Unix(_) = &endpoint.address {
        #[cfg(unix)]
        return Docker::connect_with_unix(&addr, REQUEST_TIMEOUT_SECS, version);
    }
    if let Address::Npipe(_pipe) = &endpoint.address {
        #[cfg(windows)]
        return Docker::connect_with_named_pipe(_pipe, REQUEST_TIMEOUT_SECS, version);
    }
    match &endpoint.tls_dir {
        Some(dir) => {
            let tcp = addr.replacen("tcp://", "https://", 1);
            Docker::connect_with_ssl(
                &tcp,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                REQUEST_TIMEOUT_SECS,
                version,
            )
        }
        None => Docker::connect_with_http(&addr, REQUEST_TIMEOUT_SECS, version),
    }
}

/// `GET /_ping` over one dial-stdio connection: the answer's head, or ssh's failure, worded.
async fn preflight(target: &ssh::SshTarget) -> Result<String> {
    let stream = ssh::transport::dial(target).await.map_err(ssh::ssh_missing)?;
    let (io, failed) = stream.split();
    match crate::base::http::exchange(io, "GET", "/_ping", &[], None).await {
        Ok(answer) if answer.status == 200 => Ok(answer.head()),
        Ok(answer) => Err(Error::new(
            Kind::Engine,
            format!("the engine on {} answered {}", target.display(), answer.status),
        )
        .cause(String::from_utf8_lossy(&answer.body).trim().to_string())
        .hint(format!("run `ssh {} docker version` to see what goes wrong", target.display()))),
        Err(_) => Err(failed.failure(target).await),
    }
}

/// Where the engine runs, for what lies outside its API: the files its bind mounts name, the
/// user who owns them, the GPUs and NVIDIA tools.
pub enum EngineHost {
    /// This machine.
    Local,
    /// Another machine, reached through the user's ssh (requests of our own pooled in `http`).
    Ssh { target: ssh::SshTarget, http: ssh::SshHttp, user: tokio::sync::OnceCell<ssh::RemoteUser> },
    /// A tcp:// engine: nothing is known beyond its API.
    Elsewhere,
}

impl EngineHost {
    pub fn ssh(&self) -> Option<&ssh::SshTarget> {
        match self {
            EngineHost::Ssh { target, .. } => Some(target),
            _ => None,
        }
    }

    fn ssh_http(&self) -> Option<&ssh::SshHttp> {
        match self {
            EngineHost::Ssh { http, .. } => Some(http),
            _ => None,
        }
    }

    /// The remote user's IDs and home, with the folder that stands for `local` there as it
    /// resolves (created first if `create`; None when it does not exist): one round trip, and
    /// the user is then known for the rest of the run.
    pub async fn remote_user_and_folder(
        &self,
        local: &std::path::Path,
        create: bool,
    ) -> Result<Option<(&ssh::RemoteUser, Option<PathBuf>)>> {
        let EngineHost::Ssh { target, user, .. } = self else { return Ok(None) };
        let text = target.run(&ssh::who_am_i_and_folder_for(local, create), None).await?;
        let who = ssh::remote_user_in(target, &text)?;
        let folder = text.lines().nth(3).map(str::trim).filter(|l| l.starts_with('/')).map(PathBuf::from);
        let _ = user.set(who);
        Ok(user.get().map(|u| (u, folder)))
    }

    /// The remote user (IDs and home), asked once.
    pub async fn remote_user(&self) -> Result<Option<&ssh::RemoteUser>> {
        let EngineHost::Ssh { target, user, .. } = self else { return Ok(None) };
        let user = user
            .get_or_try_init(|| async {
                ssh::remote_user_in(target, &target.run(ssh::WHO_AM_I, None).await?)
            })
            .await?;
        Ok(Some(user))
    }

    /// The user whose folders are mounted, on the engine's machine.
    pub async fn caller(&self) -> Result<Option<crate::base::sys::UserSpec>> {
        Ok(match self {
            EngineHost::Local => crate::base::sys::UserSpec::caller(),
            EngineHost::Ssh { .. } => {
                self.remote_user().await?.map(|u| crate::base::sys::UserSpec { uid: u.uid, gid: u.gid })
            }
            EngineHost::Elsewhere => None,
        })
    }

    /// The NVIDIA driver and GPUs of the engine's machine, and where its container toolkit is;
    /// (None, None) where that machine cannot be asked.
    pub async fn probe_gpus(&self) -> (Option<crate::gpu::HostGpuState>, Option<String>) {
        use crate::gpu;
        match self {
            EngineHost::Local => {
                (Some(gpu::probe_host()), crate::base::sys::find_on_path(&gpu::CONTAINER_TOOLKIT))
            }
            EngineHost::Ssh { target, .. } => match target
                .run(&crate::gpu::probe::remote_script(), None)
                .await
            {
                Ok(text) => {
                    let probe = crate::gpu::probe::split_remote(&text);
                    let mut state = gpu::host_state(probe.smi.as_deref(), &probe.proc_version);
                    state.listing = probe.listing.as_deref().and_then(gpu::parse_nvidia_smi_list);
                    (Some(state), probe.toolkit)
                }
                Err(e) => (Some(gpu::HostGpuState { problem: Some(e.message), ..Default::default() }), None),
            },
            EngineHost::Elsewhere => (None, None),
        }
    }
}

/// Turns a failed connection into the error a user can act on.
pub fn connect_error(endpoint: &Endpoint, err: &bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    use std::io::ErrorKind as K;
    let at = endpoint.described();
    let unix = matches!(endpoint.address, Address::Unix(_));
    let start_docker = if cfg!(target_os = "linux") {
        "start Docker (`sudo systemctl start docker`, or Docker Desktop), or point --host / DOCKER_HOST at a running engine"
    } else {
        "start Docker Desktop, or point --host / DOCKER_HOST at a running engine"
    };
    match err {
        B::SocketNotFoundError(path) => Error::new(Kind::Engine, format!("no Docker engine at {at}"))
            .cause(format!("the socket {path} does not exist"))
            .hint(start_docker),
        B::CertPathError { .. } | B::CertParseError { .. } | B::CertMultipleKeys { .. } | B::NoNativeCertsError { .. } | B::LoadNativeCertsErrors { .. } => {
            Error::new(Kind::Engine, format!("cannot set up TLS for {at}"))
                .caused_by(err)
                .hint("DOCKER_CERT_PATH (or the context's TLS folder) must hold ca.pem, cert.pem and key.pem")
        }
        _ => match io_kind(err) {
            Some(K::PermissionDenied) => Error::new(Kind::Engine, format!("permission denied on {at}"))
                .caused_by(err)
                .hint(if unix { "add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker" } else { "check that you may use this engine" }),
            Some(K::ConnectionRefused) => Error::new(Kind::Engine, format!("the Docker engine at {at} refused the connection"))
                .caused_by(err)
                .hint(if unix { "the socket exists but nothing listens: start Docker (or remove the stale socket)" } else { start_docker }),
            Some(K::NotFound) => Error::new(Kind::Engine, format!("no Docker engine at {at}"))
                .caused_by(err)
                .hint(start_docker),
            Some(K::InvalidData) if endpoint.tls_dir.is_some() => tls_failed(&at, err),
            _ if is_tls_error(err) => tls_failed(&at, err),
            _ => Error::new(Kind::Engine, format!("cannot talk to the Docker engine at {at}"))
                .caused_by(err)
                .hint(start_docker),
        },
    }
}

fn tls_failed(at: &str, err: &bollard::errors::Error) -> Error {
    Error::new(Kind::Engine, format!("TLS handshake with {at} failed"))
        .caused_by(err)
        .hint("check DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, and that the engine listens with TLS on that port")
}

fn is_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if crate::base::error::EngineSays::Tls.in_message(&e.to_string()) {
            return true;
        }
        next = e.source();
    }
    false
}
