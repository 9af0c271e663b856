//! Finding and connecting to the engine, as the docker CLI does: `--host`, then DOCKER_HOST,
//! then the active docker context; with none of them, the first engine that answers among the
//! usual sockets (discover.rs). What kind of engine it is lives in model.rs.

pub mod discover;
pub mod model;
pub mod raw;
pub mod ssh;

use std::path::{Path, PathBuf};

use bollard::Docker;
use serde::Serialize;

use crate::error::{api_status, io_kind, Error, Kind, Result};

/// Requests fail after this many seconds (a pull or build streams and is not bound by it).
const REQUEST_TIMEOUT_SECS: u64 = 600;

/// Where an engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A socket on this machine (its path).
    Unix(String),
    /// A named pipe on this machine (`//./pipe/NAME`).
    Npipe(String),
    /// `tcp://HOST:PORT`, or an `http://`/`https://` URL: nothing is known beyond the API.
    Tcp(String),
    /// `ssh://[user@]host[:port]`: the engine of another machine, through the user's ssh.
    Ssh(String),
}

impl Address {
    /// An address as DOCKER_HOST, --host and contexts write it; None for an unknown form.
    pub fn parse(text: &str) -> Option<Address> {
        if let Some(path) = text.strip_prefix("unix://") {
            return Some(Address::Unix(path.to_string()));
        }
        if text.starts_with('/') {
            return Some(Address::Unix(text.to_string()));
        }
        if let Some(pipe) = text.strip_prefix("npipe://") {
            return Some(Address::Npipe(pipe.to_string()));
        }
        if text.starts_with("ssh://") {
            return Some(Address::Ssh(text.trim_end_matches('/').to_string()));
        }
        ["tcp://", "http://", "https://"]
            .iter()
            .any(|s| text.starts_with(s))
            .then(|| Address::Tcp(text.to_string()))
    }
    /// The engine runs on this machine (so host GPU checks and disk checks mean something).
    pub fn is_local(&self) -> bool {
        matches!(self, Address::Unix(_) | Address::Npipe(_))
    }
    /// `HOST:PORT` of a tcp address.
    pub fn host_port(&self) -> Option<&str> {
        let Address::Tcp(url) = self else { return None };
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        Some(rest.trim_end_matches('/'))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix://{path}"),
            Address::Npipe(pipe) => write!(f, "npipe://{pipe}"),
            Address::Tcp(url) | Address::Ssh(url) => f.write_str(url),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How the address was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    DockerHost,
    Context(String),
    /// Nothing named one: the platform's default, or discovery among the usual sockets.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("--host"),
            Source::DockerHost => f.write_str("DOCKER_HOST"),
            Source::Context(name) => write!(f, "context {name}"),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: Address,
    /// How the address was chosen, for messages.
    pub source: Source,
    /// TLS material (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, or the context's TLS folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_dir: Option<PathBuf>,
}

impl Endpoint {
    /// Whether the engine runs on this machine (so host GPU checks and disk checks mean something).
    pub fn is_local(&self) -> bool {
        self.address.is_local()
    }
    /// The ssh target of an ssh:// address, ready to use: its control folder, and batch mode
    /// unless a terminal can answer ssh's prompts.
    pub fn ssh(&self) -> Result<Option<ssh::SshTarget>> {
        let Address::Ssh(url) = &self.address else { return Ok(None) };
        use std::io::IsTerminal;
        let mut target = ssh::SshTarget::parse(url, &self.source.to_string())?;
        target.control_dir = crate::state::private_dir("ssh")?;
        target.batch = !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal());
        Ok(Some(target))
    }
    pub fn described(&self) -> String {
        format!("{} (from {})", self.address, self.source)
    }
}

pub fn platform_default() -> Address {
    if cfg!(windows) {
        Address::Npipe("//./pipe/docker_engine".into())
    } else {
        Address::Unix("/var/run/docker.sock".into())
    }
}

/// Whether the engine named by --host / DOCKER_HOST / the context is reached over ssh (its
/// paths are then the remote's, checked after connecting).
pub fn is_remote(host_flag: Option<&str>) -> Result<bool> {
    Ok(matches!(resolve_from_env(host_flag)?.address, Address::Ssh(_)))
}

/// Resolves the engine address without touching the network. `env` reads variables; `docker_dir`
/// is the docker CLI's config folder (DOCKER_CONFIG or ~/.docker).
pub fn resolve(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    docker_dir: &Path,
) -> Result<Endpoint> {
    let tls_from_env = || -> Option<PathBuf> {
        let verify = env("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty() && v != "0");
        verify.then(|| env("DOCKER_CERT_PATH").map(PathBuf::from).unwrap_or_else(|| docker_dir.to_path_buf()))
    };
    if let Some(host) = flag.filter(|h| !h.is_empty()) {
        return Ok(Endpoint {
            address: normalize(host, &Source::Flag)?,
            source: Source::Flag,
            tls_dir: tls_from_env(),
        });
    }
    if let Some(host) = env("DOCKER_HOST").filter(|h| !h.is_empty()) {
        return Ok(Endpoint {
            address: normalize(&host, &Source::DockerHost)?,
            source: Source::DockerHost,
            tls_dir: tls_from_env(),
        });
    }
    let context = match env("DOCKER_CONTEXT").filter(|c| !c.is_empty()) {
        Some(name) => Some(name),
        None => current_context(docker_dir)?,
    };
    if let Some(name) = context.filter(|n| n != "default") {
        return context_endpoint(&name, docker_dir);
    }
    Ok(Endpoint { address: platform_default(), source: Source::Default, tls_dir: None })
}

fn normalize(host: &str, source: &Source) -> Result<Address> {
    let address = Address::parse(host).ok_or_else(|| {
        Error::usage(format!("{source} has an unknown address `{host}`")).hint(
            "use unix:///path/to/docker.sock, ssh://[user@]HOST, tcp://HOST:PORT or npipe:////./pipe/NAME",
        )
    })?;
    if let Address::Ssh(url) = &address {
        ssh::SshTarget::parse(url, &source.to_string())?;
    }
    Ok(address)
}

/// The docker CLI's settings, `config.json` in `docker_dir` (its context and registry logins);
/// None when there is no readable file. Malformed JSON is an error naming the file.
pub fn docker_cli_config(docker_dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = docker_dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::new(Kind::Config, format!("cannot read the docker CLI settings {}", path.display())).cause(e)
    })
}

fn current_context(docker_dir: &Path) -> Result<Option<String>> {
    let json = docker_cli_config(docker_dir)
        .map_err(|e| e.hint("fix the JSON, or pass --host / set DOCKER_HOST to skip it"))?;
    Ok(json.and_then(|j| j.get("currentContext").and_then(|v| v.as_str()).map(str::to_string)))
}

/// Finds a context by the name stored in its meta.json (the folder name is a digest of it).
fn context_endpoint(name: &str, docker_dir: &Path) -> Result<Endpoint> {
    let meta_root = docker_dir.join("contexts").join("meta");
    let not_found = || {
        Error::new(Kind::Engine, format!("docker context `{name}` does not exist"))
            .hint("list contexts with `docker context ls`, or pass --host")
    };
    let entries = std::fs::read_dir(&meta_root).map_err(|_| not_found())?;
    for entry in entries.flatten() {
        let meta = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if json.get("Name").and_then(|v| v.as_str()) != Some(name) {
            continue;
        }
        let host = json.pointer("/Endpoints/docker/Host").and_then(|v| v.as_str()).ok_or_else(|| {
            Error::new(Kind::Engine, format!("docker context `{name}` has no docker endpoint"))
                .hint("pass --host")
        })?;
        let tls = docker_dir.join("contexts").join("tls").join(entry.file_name()).join("docker");
        let source = Source::Context(name.to_string());
        return Ok(Endpoint {
            address: normalize(host, &source)?,
            source,
            tls_dir: tls.is_dir().then_some(tls),
        });
    }
    Err(not_found())
}

/// `resolve` with this process's environment and docker CLI folder.
pub fn resolve_from_env(host_flag: Option<&str>) -> Result<Endpoint> {
    resolve(host_flag, &|k| std::env::var(k).ok(), &docker_config_dir())
}

/// The docker CLI's config folder.
pub fn docker_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(dir);
    }
    directories::BaseDirs::new()
        .map(|b| b.home_dir().join(".docker"))
        .unwrap_or_else(|| PathBuf::from(".docker"))
}

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
        let uid = crate::sys::UserSpec::caller().map(|u| u.uid);
        let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
        let candidates =
            discover::candidates(discover::ClientOs::this(), home, discover::runtime_dir(&env, uid));
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
        let podman_installed = crate::sys::find_on_path(&["podman"]).is_some();
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

    /// The platform the engine runs containers for (`docker info`: OSType, Architecture).
    pub async fn platform(&self) -> Result<crate::catalog::Arch> {
        let info = self.info().await?;
        crate::catalog::Arch::from_engine(
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
                let desktop = match self.identity.product {
                    model::Product::Docker => model::is_docker_desktop(self.info().await?),
                    model::Product::Podman => false,
                };
                let mut model =
                    model::EngineModel::new(&self.identity, rootless, self.endpoint.is_local(), over_ssh);
                model.desktop = desktop;
                Ok(model)
            })
            .await
    }

    fn local_socket_owner(&self) -> Option<u32> {
        let Address::Unix(path) = &self.endpoint.address else { return None };
        crate::sys::file_uid(path)
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
            return Error::new(Kind::Engine, format!("{doing}: {}", crate::error::first_line(message)));
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
    let stream = target.dial().await.map_err(ssh::ssh_missing)?;
    let (io, failed) = stream.split();
    match crate::http::exchange(io, "GET", "/_ping", &[], None).await {
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
    pub async fn caller(&self) -> Result<Option<crate::sys::UserSpec>> {
        Ok(match self {
            EngineHost::Local => crate::sys::UserSpec::caller(),
            EngineHost::Ssh { .. } => {
                self.remote_user().await?.map(|u| crate::sys::UserSpec { uid: u.uid, gid: u.gid })
            }
            EngineHost::Elsewhere => None,
        })
    }

    /// The NVIDIA driver and GPUs of the engine's machine, and where its container toolkit is;
    /// (None, None) where that machine cannot be asked.
    pub async fn probe_gpus(&self) -> (Option<crate::gpu::HostGpuState>, Option<String>) {
        use crate::gpu;
        match self {
            EngineHost::Local => (Some(gpu::probe_host()), crate::sys::find_on_path(&gpu::CONTAINER_TOOLKIT)),
            EngineHost::Ssh { target, .. } => match target.run(&ssh::gpu_probe(), None).await {
                Ok(text) => {
                    let (smi, proc_version, toolkit) = ssh::split_gpu_probe(&text);
                    (Some(gpu::host_state(smi.as_deref(), &proc_version)), toolkit)
                }
                Err(e) => (Some(gpu::HostGpuState { problem: Some(e.message), ..Default::default() }), None),
            },
            EngineHost::Elsewhere => (None, None),
        }
    }
}

/// Why a socket did not answer, as discovery weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectProblem {
    Missing,
    PermissionDenied,
    Refused,
    Other,
}

impl ConnectProblem {
    pub fn of(err: &bollard::errors::Error) -> ConnectProblem {
        use std::io::ErrorKind as K;
        match (err, io_kind(err)) {
            (bollard::errors::Error::SocketNotFoundError(_), _) | (_, Some(K::NotFound)) => {
                ConnectProblem::Missing
            }
            (_, Some(K::PermissionDenied)) => ConnectProblem::PermissionDenied,
            (_, Some(K::ConnectionRefused)) => ConnectProblem::Refused,
            _ => ConnectProblem::Other,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            ConnectProblem::Missing => "no socket",
            ConnectProblem::PermissionDenied => "permission denied",
            ConnectProblem::Refused => "nothing listens",
            ConnectProblem::Other => "no answer",
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
        if crate::error::EngineSays::Tls.in_message(&e.to_string()) {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn docker_dir_with_context(name: &str, host: &str, current: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("contexts/meta/3f0a9e");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(meta.join("meta.json"), format!(r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#)).unwrap();
        if current {
            std::fs::write(
                dir.path().join("config.json"),
                format!(r#"{{"auths":{{}},"currentContext":"{name}"}}"#),
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn flag_wins_over_everything() {
        let dir = docker_dir_with_context("remote", "tcp://10.0.0.9:2376", true);
        let ep = resolve(Some("unix:///tmp/x.sock"), &env_of(&[("DOCKER_HOST", "tcp://h:1")]), dir.path())
            .unwrap();
        assert_eq!(
            (ep.address.to_string().as_str(), ep.source.to_string().as_str()),
            ("unix:///tmp/x.sock", "--host")
        );
    }

    #[test]
    fn docker_host_then_tls_settings() {
        let ep = resolve(
            None,
            &env_of(&[
                ("DOCKER_HOST", "tcp://h:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
            ]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(ep.address.to_string(), "tcp://h:2376");
        assert_eq!(ep.source.to_string(), "DOCKER_HOST");
        assert_eq!(ep.tls_dir, Some(PathBuf::from("/certs")));
        let plain = resolve(
            None,
            &env_of(&[("DOCKER_HOST", "tcp://h:2375"), ("DOCKER_TLS_VERIFY", "0")]),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(plain.tls_dir, None);
    }

    #[test]
    fn current_context_from_config_json() {
        let dir = docker_dir_with_context("colima", "unix:///home/u/.colima/docker.sock", true);
        let ep = resolve(None, &env_of(&[]), dir.path()).unwrap();
        assert_eq!(ep.address.to_string(), "unix:///home/u/.colima/docker.sock");
        assert_eq!(ep.source.to_string(), "context colima");
    }

    #[test]
    fn docker_context_env_picks_a_context_and_default_means_platform_default() {
        let dir = docker_dir_with_context("colima", "unix:///c.sock", false);
        assert_eq!(
            resolve(None, &env_of(&[("DOCKER_CONTEXT", "colima")]), dir.path()).unwrap().address.to_string(),
            "unix:///c.sock"
        );
        let ep = resolve(None, &env_of(&[("DOCKER_CONTEXT", "default")]), dir.path()).unwrap();
        assert_eq!(
            (ep.address.to_string().as_str(), ep.source.to_string().as_str()),
            (platform_default().to_string().as_str(), "default")
        );
    }

    #[test]
    fn unknown_context_and_bad_addresses_are_errors_with_hints() {
        let dir = docker_dir_with_context("colima", "unix:///c.sock", false);
        let err = resolve(None, &env_of(&[("DOCKER_CONTEXT", "nope")]), dir.path()).unwrap_err();
        assert!(err.message.contains("`nope` does not exist") && err.hint.is_some());
        let err = resolve(Some("docker.example:2375"), &env_of(&[]), dir.path()).unwrap_err();
        assert_eq!(err.kind, Kind::Usage);
        let ssh = resolve(Some("ssh://me@box:2222/"), &env_of(&[]), dir.path()).unwrap();
        assert_eq!((ssh.address.to_string().as_str(), ssh.is_local()), ("ssh://me@box:2222", false));
        let err = resolve(Some("ssh://me:secret@box"), &env_of(&[]), dir.path()).unwrap_err();
        assert!(err.message.contains("password") && err.hint.is_some(), "{err:?}");
    }

    #[test]
    fn an_ssh_context_is_an_ssh_engine() {
        let dir = docker_dir_with_context("box", "ssh://ana@gpu-box", true);
        let ep = resolve(None, &env_of(&[]), dir.path()).unwrap();
        assert_eq!(
            (ep.address.to_string().as_str(), ep.source.to_string().as_str()),
            ("ssh://ana@gpu-box", "context box")
        );
        assert!(!ep.is_local());
    }

    #[test]
    fn no_settings_means_platform_default() {
        let ep = resolve(None, &env_of(&[]), Path::new("/nonexistent")).unwrap();
        assert_eq!(ep.address, platform_default());
        assert!(ep.is_local());
    }

    #[test]
    fn malformed_docker_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
        let err = resolve(None, &env_of(&[]), dir.path()).unwrap_err();
        assert!(err.message.contains("config.json"), "{}", err.message);
    }
}
