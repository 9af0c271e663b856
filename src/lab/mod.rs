//! Floor 4: running labs. Finding servers by label, their tokens, logs and removal (here);
//! starting one (`start`), holding it in the foreground (`serve`), readiness (`ready`), the ssh
//! tunnel (`tunnel`), the browser (`browser`), the lab that fits the machine (`fit`), the wizard's
//! questions (`wizard`), the address a folder's lab keeps across restarts (`address`), tokens.

pub mod address;
pub mod browser;
pub mod fit;
pub mod ready;
pub mod serve;
pub mod start;
pub mod token;
pub mod tunnel;
pub mod wizard;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use crate::base::error::{api_status, EngineSays, Error, Kind, Result};
use crate::engine::model::CreateApi;
use crate::engine::ssh::RemoteFolders;
use crate::engine::Engine;
use crate::lab::ready::{http_status, POLL_INTERVAL};
use crate::plan::{LaunchPlan, Role};
use crate::spec::config::Config;
use crate::spec::naming::{labels, TOKEN_MOUNT};
use crate::spec::ports::{connect_host, lab_url};

#[derive(Debug, Clone, Serialize)]
pub struct Server {
    pub name: String,
    pub id: String,
    pub state: ContainerState,
    pub image: String,
    /// The image the container runs (`image` may have moved to a newer one since).
    pub image_id: String,
    pub variant: ServerKind,
    pub workdir: String,
    pub listen: IpAddr,
    pub port: u16,
    pub gpus: String,
    #[serde(skip)]
    pub token_file: Option<PathBuf>,
    /// Started by `docker compose` from a generated file.
    pub compose_project: Option<String>,
    /// The project files its image was built from (`name=hash …`; empty: the plain lab).
    #[serde(skip)]
    pub project_files: String,
    /// `--idle-timeout` in seconds.
    pub idle_timeout: Option<u64>,
}

/// A container's state, as the engines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// Podman's extra states (stopped, configured, …), or none given.
    Other,
}

impl ContainerState {
    pub fn parse(text: &str) -> ContainerState {
        match text.to_ascii_lowercase().as_str() {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "removing" => ContainerState::Removing,
            "exited" | "stopped" => ContainerState::Exited,
            "dead" => ContainerState::Dead,
            _ => ContainerState::Other,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Other => "unknown",
        }
    }
    /// Another start is bringing it up.
    pub fn is_starting(self) -> bool {
        matches!(self, ContainerState::Created | ContainerState::Restarting)
    }
    /// It will not run again by itself.
    pub fn has_ended(self) -> bool {
        matches!(self, ContainerState::Exited | ContainerState::Dead)
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Server {
    pub fn running(&self) -> bool {
        self.state == ContainerState::Running
    }
}

/// What a server is, from its variant label: a lab of a variant, or a hub (which stops its
/// users' labs with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKind {
    Lab(String),
    Hub,
}

impl ServerKind {
    fn parse(label: &str) -> ServerKind {
        match label {
            "hub" => ServerKind::Hub,
            variant => ServerKind::Lab(variant.to_string()),
        }
    }
    pub fn name(&self) -> &str {
        match self {
            ServerKind::Lab(variant) => variant,
            ServerKind::Hub => "hub",
        }
    }
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for ServerKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

fn from_labels(
    name: String,
    id: String,
    state: ContainerState,
    (image, image_id): (String, String),
    l: &HashMap<String, String>,
) -> Server {
    let get = |k: &str| l.get(k).cloned().unwrap_or_default();
    Server {
        name,
        id,
        state,
        image,
        image_id,
        variant: ServerKind::parse(&get(labels::VARIANT)),
        workdir: get(labels::WORKDIR),
        listen: l.get(labels::LISTEN).and_then(|a| a.parse().ok()).unwrap_or(IpAddr::from([127, 0, 0, 1])),
        port: get(labels::PORT).parse().unwrap_or(0),
        gpus: get(labels::GPUS),
        token_file: l.get(labels::TOKEN_FILE).map(PathBuf::from),
        compose_project: l.get("com.docker.compose.project").cloned(),
        project_files: l.get(labels::PROJECT_FILES).cloned().unwrap_or_default(),
        idle_timeout: l.get(labels::IDLE_TIMEOUT).and_then(|t| t.parse().ok()),
    }
}

/// The containers, running or not, with the label `key=value`.
async fn labelled(engine: &Engine, key: &str, value: &str) -> Result<Vec<bollard::models::ContainerSummary>> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let filters = HashMap::from([("label", vec![format!("{key}={value}")])]);
    engine
        .docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
        .await
        .map_err(|e| engine.fail("listing containers", e))
}

/// Every container dimtensor-up manages, running or not.
pub async fn list(engine: &Engine) -> Result<Vec<Server>> {
    let containers = labelled(engine, labels::MANAGED, "true").await?;
    let mut servers: Vec<Server> = containers
        .into_iter()
        .map(|c| {
            let name = c
                .names
                .unwrap_or_default()
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default();
            let state = ContainerState::parse(&c.state.map(|s| s.to_string()).unwrap_or_default());
            from_labels(
                name,
                c.id.unwrap_or_default(),
                state,
                (c.image.unwrap_or_default(), c.image_id.unwrap_or_default()),
                &c.labels.unwrap_or_default(),
            )
        })
        .collect();
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(servers)
}

/// The managed container with this name, if any.
pub async fn by_name(engine: &Engine, name: &str) -> Result<Option<Server>> {
    match engine.docker.inspect_container(name, None).await {
        Ok(c) => {
            let config = c.config.unwrap_or_default();
            let l = config.labels.unwrap_or_default();
            if l.get(labels::MANAGED).map(String::as_str) != Some("true") {
                return Ok(None);
            }
            let state = ContainerState::parse(
                &c.state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_default(),
            );
            Ok(Some(from_labels(
                name.to_string(),
                c.id.unwrap_or_default(),
                state,
                (config.image.unwrap_or_default(), c.image.unwrap_or_default()),
                &l,
            )))
        }
        Err(e) if crate::base::error::api_status(&e).is_some_and(|(c, _)| c == 404) => Ok(None),
        Err(e) => Err(engine.fail("inspecting a container", e)),
    }
}

/// Whether the container still runs, asking every second for up to 5 s while the engine does
/// not answer; false when it has stopped, is gone, or the engine stays silent.
pub async fn still_running(engine: &Engine, id: &str) -> bool {
    let answer = crate::base::poll::until(Duration::from_secs(4), Duration::from_secs(1), || async {
        match engine.docker.inspect_container(id, None).await {
            Ok(c) => Some(c.state.and_then(|s| s.running) == Some(true)),
            Err(e) if api_status(&e).is_some() => Some(false),
            Err(_) => None,
        }
    })
    .await;
    answer.unwrap_or(false)
}

/// The server for a folder: the one whose label names it (compose-started ones included).
pub async fn for_workdir(engine: &Engine, workdir: &Path) -> Result<Option<Server>> {
    let wanted = workdir.display().to_string();
    Ok(list(engine).await?.into_iter().filter(|s| s.workdir == wanted).max_by_key(|s| s.running()))
}

/// The token: from the token file dimtensor-up wrote, else read inside the container (compose).
pub async fn token(engine: &Engine, server: &Server) -> Result<String> {
    // Over ssh the label names the remote's file: the container's own copy is read instead.
    let local_file = server.token_file.as_deref().filter(|_| engine.host.ssh().is_none());
    if let Some(t) = local_file.and_then(token::read_token_file) {
        return Ok(t);
    }
    let out = exec_output(engine, &server.id, vec!["cat".into(), TOKEN_MOUNT.into()]).await?;
    let token = out.trim().to_string();
    if token.is_empty() {
        return Err(Error::new(Kind::Container, format!("cannot read the token of {}", server.name))
            .hint("stop it and start it again"));
    }
    Ok(token)
}

async fn exec_output(engine: &Engine, id: &str, cmd: Vec<String>) -> Result<String> {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let exec = engine
        .docker
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(false),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| engine.fail("running a command in the container", e))?;
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } = engine
        .docker
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| engine.fail("running a command in the container", e))?
    {
        while let Some(Ok(chunk)) = output.next().await {
            text.push_str(&chunk.to_string());
        }
    }
    Ok(text)
}

pub fn url(server: &Server, token: &str) -> String {
    lab_url(server.listen, server.port, token)
}

/// Polls `/api/status` with the token until 200, watching the container: fails with its last
/// log lines when it exits, or when `timeout` passes.
pub async fn wait_ready(
    engine: &Engine,
    id: &str,
    listen: IpAddr,
    port: u16,
    token: &str,
    timeout: Duration,
) -> Result<()> {
    let host = connect_host(listen);
    let last_check = std::cell::Cell::new(Instant::now());
    let ready = crate::base::poll::until_ok(timeout, POLL_INTERVAL, || async {
        if http_status(&host, port, "/api/status", Some(token)).await == Some(200) {
            return Ok(Some(()));
        }
        // The container is looked at every half second: one that exited fails the wait at once.
        if last_check.get().elapsed() >= Duration::from_millis(500) {
            last_check.set(Instant::now());
            let state = engine
                .docker
                .inspect_container(id, None)
                .await
                .map_err(|e| engine.fail("watching the container", e))?
                .state
                .unwrap_or_default();
            if state.running != Some(true) {
                let code = state.exit_code.unwrap_or(-1);
                let err = Error::new(
                    Kind::Container,
                    format!("JupyterLab exited during start-up (exit code {code})"),
                );
                let err = with_log_tail(err, engine, id, 12).await;
                return Err(err.hint("the container's log is above; `dimtensor-up doctor` checks the setup"));
            }
        }
        Ok(None)
    })
    .await?;
    if ready.is_none() {
        let err =
            Error::new(Kind::Container, format!("JupyterLab did not answer within {} s", timeout.as_secs()));
        let err = with_log_tail(err, engine, id, 12).await;
        return Err(err.hint("raise --timeout on a slow machine; the container's log is above"));
    }
    Ok(())
}

/// `err` with the container's last `lines` log lines as its causes (`| line`).
pub async fn with_log_tail(mut err: Error, engine: &Engine, id: &str, lines: usize) -> Error {
    for line in log_tail(engine, id, lines).await {
        err = err.cause(format!("| {line}"));
    }
    err
}

/// The container's last log lines, with tokens masked.
pub async fn log_tail(engine: &Engine, id: &str, lines: usize) -> Vec<String> {
    use bollard::query_parameters::LogsOptionsBuilder;
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&lines.to_string()).build();
    let mut stream = engine.docker.logs(id, Some(opts));
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        out.extend(chunk.to_string().lines().map(mask_tokens));
    }
    let excess = out.len().saturating_sub(lines);
    out.drain(..excess);
    out
}

/// Why a lab's container stopped, where it says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The engine killed it for memory (`State.OOMKilled`): its limit, where one was set.
    OutOfMemory { limit: Option<u64> },
    /// The server shut itself down after `--idle-timeout` without activity.
    Idle,
}

impl StopReason {
    /// Pure: from the container's inspect facts and its log's last lines.
    pub fn of(oom_killed: bool, limit: Option<u64>, log_tail: &[String]) -> Option<StopReason> {
        // The image's idle watcher says so as it stops the lab: first, since an engine keeps
        // OOMKilled once any process of the container was, a kernel earlier on included.
        if log_tail.iter().any(|l| l.starts_with(IDLE_LINE)) {
            return Some(StopReason::Idle);
        }
        oom_killed.then(|| StopReason::OutOfMemory { limit: limit.filter(|l| *l > 0) })
    }
    /// A few words for `ps`.
    pub fn short(&self) -> &'static str {
        match self {
            StopReason::OutOfMemory { .. } => "out of memory",
            StopReason::Idle => "idle",
        }
    }
    /// The error (memory) or the note (idle) a foreground `jupyter` ends with.
    pub fn into_outcome(self, idle_timeout: Option<u64>) -> std::result::Result<String, Error> {
        match self {
            StopReason::Idle => Ok(format!(
                "JupyterLab stopped itself after {} without activity (--idle-timeout): its GPUs are free, your files are in the folder",
                idle_timeout.map(crate::base::units::duration_text).unwrap_or_else(|| "a while".into())
            )),
            StopReason::OutOfMemory { limit } => Err(Error::new(
                Kind::Container,
                format!(
                    "JupyterLab was killed for lack of memory ({})",
                    match limit {
                        Some(l) => format!("its limit is {}", crate::base::units::size_text(l)),
                        None => "the engine's machine ran out".into(),
                    }
                ),
            )
            .hint("give it more: --memory 16g (Docker Desktop: Settings > Resources > Memory), or load less data at once")),
        }
    }
}

/// Why the container `id` stopped, asked of the engine before it is removed.
pub async fn stop_reason(engine: &Engine, id: &str) -> Option<StopReason> {
    let inspect = engine.docker.inspect_container(id, None).await.ok()?;
    let oom = inspect.state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
    let limit = inspect.host_config.as_ref().and_then(|h| h.memory).map(|m| m.max(0) as u64);
    StopReason::of(oom, limit, &log_tail(engine, id, 20).await)
}

/// The prefix of the lab's own log lines about memory (docker/jupyter/jupyter_server_config.py).
pub const OUT_OF_MEMORY_LINE: &str = "dimtensor-up: out of memory: ";
/// The line the lab's idle watcher writes as it stops the lab (the same file).
const IDLE_LINE: &str = "dimtensor-up: idle for ";

/// The log line the lab's server config writes at start (docker/jupyter/jupyter_server_config.py).
const HAND_INSTALLED: &str = "dimtensor-up: installed by hand: ";

/// The packages installed by hand in the lab's kept packages volume, as its server said at
/// start ("name version"); None from an image that does not say.
pub async fn hand_installed(engine: &Engine, id: &str) -> Option<Vec<String>> {
    use bollard::query_parameters::LogsOptionsBuilder;
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
    let mut stream = engine.docker.logs(id, Some(opts));
    // The line comes before the server's first request: the start of the log.
    let mut seen = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        for line in chunk.to_string().lines() {
            if let Some(rest) = line.trim().strip_prefix(HAND_INSTALLED) {
                let names = rest.split_once(": ").map(|(_, n)| n).unwrap_or("");
                return Some(names.split(", ").filter(|n| !n.is_empty()).map(str::to_string).collect());
            }
            seen += 1;
        }
        if seen > 400 {
            break;
        }
    }
    None
}

/// Replaces `token=…` values so logs never show a token.
pub fn mask_tokens(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("token=") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
        if end > 0 {
            out.push('…');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A container's exit code from an item of `wait_container`: bollard reports a non-zero exit as
/// an error that carries the code. None: the wait itself failed, or the stream ended.
pub fn exit_code(
    item: &Option<std::result::Result<bollard::models::ContainerWaitResponse, bollard::errors::Error>>,
) -> Option<i64> {
    match item {
        Some(Ok(r)) => Some(r.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(*code),
        _ => None,
    }
}

/// Why the engine did not take a container.
#[derive(Debug)]
pub enum CreateFailure {
    /// The name is in use (another start of the same folder's server got there first).
    NameTaken,
    /// The engine refused it; its message decides whether another try makes sense.
    Refused(String),
    Failed(Error),
}

/// Creates the container for `role` through the API the engine model names (Podman's own API
/// for Podman: its Docker API drops GPU requests). Returns the container's ID.
/// Only a server (Role::Lab) gets a name: its folder's.
pub async fn create(
    engine: &Engine,
    plan: &LaunchPlan,
    role: Role<'_>,
) -> std::result::Result<String, CreateFailure> {
    use bollard::query_parameters::CreateContainerOptionsBuilder;
    let model = engine.model().await.map_err(CreateFailure::Failed)?;
    match model.create_api() {
        CreateApi::Docker => {
            let mut opts = CreateContainerOptionsBuilder::default();
            // A server is named after its folder (so a second start finds it); a command is not.
            if let Role::Lab { .. } = role {
                opts = opts.name(&plan.name);
            }
            match engine.docker.create_container(Some(opts.build()), plan.create_body(role)).await {
                Ok(r) => Ok(r.id),
                Err(e) => match api_status(&e) {
                    Some((409, _)) => Err(CreateFailure::NameTaken),
                    Some((_, message)) => Err(CreateFailure::Refused(message.to_string())),
                    None => Err(CreateFailure::Failed(engine.fail("creating the container", e))),
                },
            }
        }
        CreateApi::Libpod => {
            match engine.libpod_json("POST", "/libpod/containers/create", Some(&plan.libpod_body(role))).await
            {
                Ok(Ok(answer)) => Ok(answer["Id"].as_str().unwrap_or_default().to_string()),
                Ok(Err((_, message))) if EngineSays::of(&message) == EngineSays::NameInUse => {
                    Err(CreateFailure::NameTaken)
                }
                Ok(Err((_, message))) => Err(CreateFailure::Refused(message)),
                Err(e) => Err(CreateFailure::Failed(e)),
            }
        }
    }
}

/// The labs the hub of `hub_dir` spawned for its users (their homes are volumes and stay).
pub async fn hub_labs(engine: &Engine, hub_dir: &str) -> Result<Vec<String>> {
    Ok(labelled(engine, labels::HUB, hub_dir).await?.into_iter().filter_map(|c| c.id).collect())
}

/// Removes a hub's network once nothing is attached to it (each takes one of the engine's
/// address pools; left behind, a machine that tries many hubs runs out of them). A network
/// still in use or already gone is left as it is.
pub async fn remove_unused_network(engine: &Engine, name: &str) -> Result<()> {
    match engine.docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e)
            if crate::base::error::api_status(&e).is_some_and(|(c, _)| c == 404 || c == 403 || c == 409) =>
        {
            Ok(())
        }
        Err(e) => Err(engine.fail("removing the hub's network", e)),
    }
}

/// Stops and removes a container and its token file; host files and volumes are never touched.
pub async fn remove(engine: &Engine, server_id: &str, token_file: Option<&Path>) -> Result<()> {
    use bollard::query_parameters::{RemoveContainerOptionsBuilder, StopContainerOptionsBuilder};
    let _ = engine
        .docker
        .stop_container(server_id, Some(StopContainerOptionsBuilder::default().t(10).build()))
        .await;
    match engine
        .docker
        .remove_container(
            server_id,
            Some(RemoveContainerOptionsBuilder::default().force(true).v(false).build()),
        )
        .await
    {
        Ok(()) => {}
        Err(e) if crate::base::error::api_status(&e).is_some_and(|(c, _)| c == 404 || c == 409) => {}
        Err(e) => return Err(engine.fail("removing the container", e)),
    }
    if let Some(path) = token_file {
        token::remove(path, engine.host.ssh());
    }
    Ok(())
}

/// The server named, or the one for --workdir (default: the current folder).
pub async fn target(
    engine: &Engine,
    name: Option<&str>,
    workdir: Option<&std::path::Path>,
) -> Result<Server> {
    if let Some(name) = name {
        return by_name(engine, name).await?.ok_or_else(|| {
            Error::usage(format!("no dimtensor-up server named `{name}`"))
                .hint("see `dimtensor-up ps` for the names")
        });
    }
    let dir = target_folder(engine, workdir).await?;
    for_workdir(engine, &dir).await?.ok_or_else(|| {
        Error::usage(format!("no dimtensor-up server for {}", dir.display()))
            .hint("start one with `dimtensor-up jupyter`, or see `dimtensor-up ps`")
    })
}

/// The work folder a command means: --workdir, else the current folder (over ssh: the remote
/// folder it stands for).
pub async fn target_folder(engine: &Engine, workdir: Option<&std::path::Path>) -> Result<PathBuf> {
    let cwd = crate::base::sys::current_dir()?;
    Ok(match (engine.host.ssh(), workdir) {
        // Over ssh: --workdir on the remote, or the remote folder this one stands for.
        (Some(target), Some(w)) => {
            let user = engine.host.remote_user().await?.expect("an ssh engine has a remote user");
            let folders = RemoteFolders { target, home: user.home.clone(), known: vec![] };
            let args = crate::spec::cli::LabArgs { workdir: Some(w.to_path_buf()), ..Default::default() };
            crate::plan::settings::LabSettings::resolve_in(&args, &Config::default(), &user.home, &folders)?
                .workdir
        }
        (Some(_), None) => match engine.host.remote_user_and_folder(&cwd, false).await? {
            Some((_, Some(folder))) => folder,
            Some((user, None)) => crate::engine::ssh::default_remote_folder(&user.home, &cwd),
            None => unreachable!("an ssh engine has a remote user"),
        },
        _ => {
            let dir = workdir.map(|w| cwd.join(w)).unwrap_or(cwd);
            std::fs::canonicalize(&dir).map_err(|_| {
                Error::usage(format!("folder {} does not exist", dir.display()))
                    .hint("give an existing folder with --workdir")
            })?
        }
    })
}

#[cfg(test)]
mod stop_reason_tests {
    use super::StopReason;

    #[test]
    fn a_stop_says_why_from_the_engine_and_the_log() {
        let idle = ["dimtensor-up: idle for 61 s (--idle-timeout 3 s): stopping the lab".to_string()];
        assert_eq!(StopReason::of(false, None, &idle), Some(StopReason::Idle));
        // A kernel killed for memory earlier leaves OOMKilled set: the log's idle line decides.
        assert_eq!(StopReason::of(true, Some(1 << 30), &idle), Some(StopReason::Idle));
        assert_eq!(
            StopReason::of(true, Some(1 << 30), &[]),
            Some(StopReason::OutOfMemory { limit: Some(1 << 30) })
        );
        assert_eq!(StopReason::of(false, Some(0), &[]), None);
        let err = StopReason::OutOfMemory { limit: Some(1 << 30) }.into_outcome(None).unwrap_err();
        assert_eq!(err.message, "JupyterLab was killed for lack of memory (its limit is 1g)");
        assert!(StopReason::Idle.into_outcome(Some(1800)).unwrap().contains("after 30m without activity"));
    }
}

#[cfg(test)]
mod tests {
    use super::mask_tokens;

    #[test]
    fn masks_tokens_in_log_lines() {
        assert_eq!(
            mask_tokens("http://127.0.0.1:8888/lab?token=abc123 x"),
            "http://127.0.0.1:8888/lab?token=… x"
        );
        assert_eq!(mask_tokens("a token=1&token=2"), "a token=…&token=…");
        assert_eq!(mask_tokens("no secrets"), "no secrets");
    }
}
