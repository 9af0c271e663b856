//! Starting a folder's lab, as a small state machine: each state says what exists (and so what
//! an interruption or a failure must remove), each step returns the next state. `jupyter` drives
//! it with the run's one Ctrl-C future.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::address::KeptAddress;
use super::token::{new_token, TokenFile};
use super::{by_name, CreateFailure, Server};
use crate::base::error::{first_line, Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::engine::model::UserMapping;
use crate::engine::Engine;
use crate::gpu::{self, GpuAttach, GpuDecision, GpuReason};
use crate::lab::tunnel::Tunnel;
use crate::plan::settings::LabSettings;
use crate::plan::{LaunchPlan, Role};
use crate::spec::catalog::{PullPolicy, Variant};
use crate::spec::config::Config;
use crate::spec::ports::{self, PortLock, FIRST_PORT, PORT_RANGE};

/// A lab that answers: started by this run, or found running and reused.
pub struct Started {
    pub server: Server,
    pub token: String,
    pub url: String,
    pub reused: bool,
    /// Over ssh: the laptop's end of the server's port.
    pub tunnel: Option<Tunnel>,
}

/// How `jupyter` wants its lab.
pub struct StartOptions {
    pub pull: PullPolicy,
    pub build: bool,
    /// The lab named with --variant (not `auto`): a reused server of another lab is warned about.
    pub named: Option<Variant>,
    pub timeout: Duration,
    /// --new-token: a new token instead of the one this folder's lab had (its old URL stops
    /// working).
    pub new_token: bool,
}

/// Where a start stands.
enum State {
    /// Nothing made yet: is there a server for this folder, else settle the lab, image and token.
    Look,
    /// Choosing a port and asking the engine for the container (retries: port clashes and the
    /// GPU fallback).
    Create {
        tries: u32,
        clashed: Vec<u16>,
    },
    /// The container runs: waiting for JupyterLab to answer.
    Created {
        id: String,
        port: u16,
    },
    /// Another dimtensor-up holds this folder's name: waiting for its server (then, if it is
    /// gone, another try with the counts so far).
    OtherStart {
        tries: u32,
        clashed: Vec<u16>,
    },
    Done(Box<Started>),
}

/// A state without its data: what the run loop keeps while a step has the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Look,
    Create,
    Created,
    OtherStart,
    Done,
}

impl State {
    fn phase(&self) -> Phase {
        match self {
            State::Look => Phase::Look,
            State::Create { .. } => Phase::Create,
            State::Created { .. } => Phase::Created,
            State::OtherStart { .. } => Phase::OtherStart,
            State::Done(_) => Phase::Done,
        }
    }
}

impl Phase {
    /// Whether an interruption here leaves this start's container behind. `in_flight`: a create
    /// request has been sent and not answered yet (the container may exist, its ID not yet
    /// known; before the request is sent, the name may be another start's).
    fn leaves_on_interrupt(self, in_flight: bool) -> bool {
        match self {
            Phase::Create => in_flight,
            Phase::Created => true,
            _ => false,
        }
    }
    /// Whether a failure here leaves this start's container behind (a refused create removes
    /// its own).
    fn leaves_on_failure(self) -> bool {
        self == Phase::Created
    }
}

/// What the steps share once the lab is settled.
struct Prepared {
    settings: LabSettings,
    image_ref: String,
    user: UserMapping,
    gpu: GpuDecision,
    token: String,
    token_file: TokenFile,
    /// The address this folder's lab had last (its port is preferred, its token taken again).
    kept: Option<KeptAddress>,
    newer_check: Option<tokio::task::JoinHandle<Option<String>>>,
}

/// A start of the lab for `settings` on `engine`.
pub struct LabStart<'a> {
    engine: &'a Engine,
    settings: &'a LabSettings,
    config: &'a Config,
    options: &'a StartOptions,
    reporter: &'a Reporter,
    name: String,
    prepared: Option<Prepared>,
    told_about_the_other_start: bool,
    /// A create request is out: set just before it is sent, cleared when it is answered.
    create_in_flight: bool,
    /// Until when a name held without a container is waited for (from the first try to create).
    give_up_waiting: Option<Instant>,
}

const WAITING_FOR_THE_OTHER_START: &str =
    "another dimtensor-up is starting JupyterLab in this folder; waiting for it";

/// Starts retried after a port clash or a refused GPU request.
const MAX_RETRIES: u32 = 5;

impl<'a> LabStart<'a> {
    pub fn new(
        engine: &'a Engine,
        settings: &'a LabSettings,
        config: &'a Config,
        options: &'a StartOptions,
        reporter: &'a Reporter,
    ) -> LabStart<'a> {
        LabStart {
            engine,
            settings,
            config,
            options,
            reporter,
            name: settings.container_name(),
            prepared: None,
            told_about_the_other_start: false,
            create_in_flight: false,
            give_up_waiting: None,
        }
    }

    /// Runs the start to its end. On `stop` (Ctrl-C, SIGTERM) or a failure, what this start made
    /// is removed: the state says what that is.
    pub async fn run(mut self, mut stop: Pin<&mut impl Future<Output = ()>>) -> Result<Started> {
        let mut state = State::Look;
        loop {
            if let State::Done(started) = state {
                return Ok(*started);
            }
            let phase = state.phase();
            let outcome = tokio::select! {
                next = self.step(state) => next,
                _ = &mut stop => Err(Error::interrupted()),
            };
            match outcome {
                Ok(next) => state = next,
                Err(err) => {
                    let leaves = match err.kind {
                        Kind::Interrupted => phase.leaves_on_interrupt(self.create_in_flight),
                        _ => phase.leaves_on_failure(),
                    };
                    if leaves {
                        self.reporter.note("removing the half-started container");
                        let _ = super::remove(self.engine, &self.name, None).await;
                    }
                    return Err(err);
                }
            }
        }
    }

    async fn step(&mut self, state: State) -> Result<State> {
        match state {
            State::Look => self.look().await,
            State::Create { tries, clashed } => self.create(tries, clashed).await,
            State::Created { id, port } => self.wait_until_ready(id, port).await,
            State::OtherStart { tries, clashed } => self.wait_for_the_other_start(tries, clashed).await,
            State::Done(started) => Ok(State::Done(started)),
        }
    }

    /// A server for this folder runs → reuse it; else settle the lab, its image and a token.
    async fn look(&mut self) -> Result<State> {
        let (engine, reporter) = (self.engine, self.reporter);
        if let Some(server) = self.existing_server().await? {
            return self.reuse(server).await.map(|s| State::Done(Box::new(s)));
        }
        // A server for this folder started another way (`dimtensor-up compose --up`) counts too.
        if let Some(other) = super::for_workdir(engine, &self.settings.workdir).await?.filter(Server::running)
        {
            return self.reuse(other).await.map(|s| State::Done(Box::new(s)));
        }
        // The lab and its GPUs are settled before any image is fetched: a refusal costs no download.
        let (settings, platforms, gpu) =
            crate::lab::fit::settle_lab(engine, self.settings.clone(), reporter).await?;
        let policy = self.options.pull;
        let (image_ref, source) = crate::image::ensure(
            engine,
            settings.image(),
            platforms,
            self.config,
            policy,
            self.options.build,
            reporter,
        )
        .await?;
        reporter.detail(format!("image {image_ref} ({source:?})"));
        // Beside the start, never in its way: does the registry have a newer image for the tag?
        let newer_check = (source == crate::image::Source::Local && policy == PullPolicy::Missing)
            .then(|| tokio::spawn(crate::image::newer_in_registry(engine.docker.clone(), image_ref.clone())));
        // The project's own packages: a project image on this lab (built only when new).
        let image_ref = crate::image::project::ensure(
            engine, &image_ref, &settings.project, &settings.workdir, platforms, self.config, reporter,
        )
        .await?;
        let model = engine.model().await?;
        let user = model.user_mapping(settings.user, engine.host.caller().await?);
        // The token (and port) this folder's lab had: an editor holding its URL keeps working.
        let kept =
            (!self.options.new_token).then(|| super::address::kept(engine, &settings.workdir)).flatten();
        let token = kept.as_ref().map(|k| k.token.clone()).unwrap_or_else(new_token);
        // A token file per start (two starts racing in one folder never share one), removed on
        // any failure or interruption until the server is handed over.
        let file_name = format!("{}-{}", self.name, crate::base::state::random_hex(4));
        let token_file = TokenFile::write_for(engine, &file_name, &token).await?;
        self.prepared =
            Some(Prepared { settings, image_ref, user, gpu, token, token_file, kept, newer_check });
        // Waiting for a name another start holds is bounded from here (a pull or build before
        // this does not count against it).
        self.give_up_waiting = Some(Instant::now() + self.options.timeout);
        Ok(State::Create { tries: 0, clashed: Vec::new() })
    }

    /// One create-and-start; a refusal decides the next try.
    async fn create(&mut self, tries: u32, mut clashed: Vec<u16>) -> Result<State> {
        if tries == MAX_RETRIES {
            return Err(Error::new(
                Kind::Container,
                format!("JupyterLab could not be started in {MAX_RETRIES} tries (ports kept being taken)"),
            )
            .hint("run `dimtensor-up ps` to see what runs, then try again"));
        }
        let engine = self.engine;
        let model = engine.model().await?;
        let p = self.prepared.as_mut().expect("the lab is settled before a container is made");
        // From choosing a port until the engine has bound it, no other start on this machine
        // chooses one (an engine elsewhere refuses a taken port, and the next one is tried).
        let port_lock = match model.local {
            true => Some(PortLock::acquire().await),
            false => None,
        };
        // Over ssh the kept port is this machine's end of the tunnel, preferred there.
        let prefer = p.kept.as_ref().filter(|_| model.local).map(|k| k.port);
        let port =
            pick_port(engine, p.settings.port, prefer, p.settings.listen, FIRST_PORT, &clashed).await?;
        let mut plan = LaunchPlan::new(
            &p.settings,
            p.image_ref.clone(),
            port,
            p.user,
            p.gpu.attach.clone(),
            model.gpu_form(),
        );
        plan.ca_bundle = plan.ca_bundle.filter(|_| model.sees_every_host_file());
        let engine_memory = engine.memory().await?;
        plan.shm_size.get_or_insert(crate::plan::default_shm_size(engine_memory));
        let role = Role::Lab { token_file: p.token_file.path() };
        self.create_in_flight = true;
        let attempt = create_and_start(engine, &plan, role).await;
        self.create_in_flight = false;
        let refusal = match attempt {
            Ok(id) => {
                drop(port_lock);
                self.reporter.note(format!(
                    "starting JupyterLab ({}) on {}:{port}",
                    p.settings.variant.name(),
                    p.settings.listen
                ));
                return Ok(State::Created { id, port });
            }
            Err(Attempt::NameTaken) => {
                drop(port_lock);
                return Ok(State::OtherStart { tries, clashed });
            }
            Err(Attempt::Failed(e)) => return Err(e),
            Err(Attempt::Refused(message)) => message,
        };
        match next_try(&refusal, &p.settings, &p.gpu.attach) {
            NextTry::OtherPort => {
                self.reporter.detail(format!("port {port} was taken meanwhile; trying the next one"));
                clashed.push(port);
            }
            NextTry::WithoutGpus => {
                p.gpu = GpuDecision {
                    attach: GpuAttach::None,
                    reason: GpuReason::EngineRefused(first_line(&refusal).to_string()),
                };
                if let Some(note) = p.gpu.note() {
                    self.reporter.note(note);
                }
            }
            NextTry::GiveUp(GiveUp::PortTaken) => {
                return Err(port_taken_error(engine, p.settings.listen, port).await)
            }
            NextTry::GiveUp(GiveUp::Start) => return Err(start_error(&refusal)),
        }
        Ok(State::Create { tries: tries + 1, clashed })
    }

    /// The container runs: the tunnel (over ssh), then JupyterLab's answer with the token.
    async fn wait_until_ready(&mut self, id: String, port: u16) -> Result<State> {
        let engine = self.engine;
        let p = self.prepared.take().expect("the lab is settled before a container is made");
        let tunnel = super::tunnel::open_tunnel(engine, port, p.kept.as_ref().map(|k| k.port)).await?;
        let (listen, reached_at) = match &tunnel {
            Some(t) => t.local(),
            None => (p.settings.listen, port),
        };
        let spinner = self.reporter.spinner("waiting for JupyterLab to answer");
        let ready = super::wait_ready(engine, &id, listen, reached_at, &p.token, self.options.timeout).await;
        spinner.finish_and_clear();
        ready?;
        let server = by_name(engine, &self.name)
            .await?
            .ok_or_else(|| Error::new(Kind::Container, "the container disappeared while starting"))?;
        p.token_file.keep();
        if let Some(check) = p.newer_check {
            tell_if_newer(check, &p.image_ref, p.settings.image(), self.reporter).await;
        }
        let address = KeptAddress { listen, port: reached_at, token: p.token };
        if let Some(old) = p.kept.filter(|k| k.port != reached_at && p.settings.port.is_none()) {
            self.reporter.note(format!(
                "this folder's lab moved from port {} (taken now) to {reached_at}: an editor connected to its old URL needs the new one",
                old.port
            ));
        }
        self.keep_address(&address);
        let url = address.url();
        Ok(State::Done(Box::new(Started { url, server, token: address.token, reused: false, tunnel })))
    }

    /// The next start of this folder's lab takes this address again (`dimtensor-up url` prints
    /// it). Not kept is no failure of the start: the next one makes a new token and says so.
    fn keep_address(&self, address: &KeptAddress) {
        if let Err(e) = super::address::keep(self.engine, &self.settings.workdir, address) {
            self.reporter.warn(format!("the lab's URL was not kept for its next start: {e}"));
        }
    }

    /// Another start holds this folder's name: its server once it runs, else a new try.
    async fn wait_for_the_other_start(&mut self, tries: u32, clashed: Vec<u16>) -> Result<State> {
        if !std::mem::replace(&mut self.told_about_the_other_start, true) {
            self.reporter.note(WAITING_FOR_THE_OTHER_START);
        }
        match wait_for_named(self.engine, &self.name, self.options.timeout).await? {
            Some(server) => self.reuse(server).await.map(|s| State::Done(Box::new(s))),
            // Gone, or not visible yet: the engine reserves the name before the container can be
            // inspected, so a create still in flight elsewhere looks the same.
            None if self.give_up_waiting.is_some_and(|limit| Instant::now() < limit) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(State::Create { tries, clashed })
            }
            None => Err(Error::new(
                Kind::Container,
                format!("the name {} stayed taken without a container behind it", self.name),
            )
            .hint("run `dimtensor-up ps`, then `dimtensor-up stop` and try again")),
        }
    }

    /// This folder's container: running → re-use; being started by another dimtensor-up → wait
    /// for it; stopped (an engine restart, an earlier failure) → removed, so a fresh one is made.
    async fn existing_server(&mut self) -> Result<Option<Server>> {
        let engine = self.engine;
        let Some(existing) = by_name(engine, &self.name).await? else { return Ok(None) };
        if existing.running() {
            return Ok(Some(existing));
        }
        if existing.state.is_starting() {
            self.told_about_the_other_start = true;
            self.reporter.note(WAITING_FOR_THE_OTHER_START);
            return wait_for_named(engine, &self.name, self.options.timeout).await;
        }
        self.reporter
            .detail(format!("removing the stopped container {} (left by an earlier run)", self.name));
        super::remove(engine, &existing.id, existing.token_file.as_deref()).await?;
        Ok(None)
    }

    async fn reuse(&self, server: Server) -> Result<Started> {
        let (engine, settings, reporter) = (self.engine, self.settings, self.reporter);
        if self.options.new_token {
            return Err(Error::usage("this folder's JupyterLab already runs, with its token")
                .hint("stop it first (`dimtensor-up stop`), then start it with --new-token"));
        }
        let differs = self.options.named.is_some_and(|v| server.variant.name() != v.name())
            || settings.port.is_some_and(|p| p != server.port)
            || server.listen != settings.listen;
        if differs {
            reporter.warn(format!(
                "this folder's server already runs ({} on {}:{}); `dimtensor-up stop` first to start it differently",
                server.variant, server.listen, server.port
            ));
        }
        if !server.listen.is_loopback() {
            reporter.warn(format!("this server listens on {}: other machines can reach it", server.listen));
        }
        // The project's files changed since it started: it runs the packages it was built with.
        if server.project_files != settings.project.files_label() {
            let now = match settings.project.summary() {
                s if s.is_empty() => "none".to_string(),
                s => s,
            };
            reporter.warn(format!(
                "this folder's server runs with other project files than now ({now}); `dimtensor-up stop`, then start again to use them"
            ));
        }
        let token = super::token(engine, &server).await?;
        let kept = super::address::kept(engine, &settings.workdir);
        let tunnel = super::tunnel::open_tunnel(engine, server.port, kept.map(|k| k.port)).await?;
        let (listen, port) = match &tunnel {
            Some(t) => t.local(),
            None => (server.listen, server.port),
        };
        super::wait_ready(engine, &server.id, listen, port, &token, self.options.timeout).await?;
        reporter.note(format!("JupyterLab already runs for this folder ({})", server.name));
        let address = KeptAddress { listen, port, token };
        self.keep_address(&address);
        Ok(Started { url: address.url(), server, token: address.token, reused: true, tunnel })
    }
}

/// How one create-and-start went.
enum Attempt {
    NameTaken,
    /// The engine refused the container at create or start (it is removed again).
    Refused(String),
    Failed(Error),
}

/// Creates and starts the container; a container the engine would not start is removed.
async fn create_and_start(
    engine: &Engine,
    plan: &LaunchPlan,
    role: Role<'_>,
) -> std::result::Result<String, Attempt> {
    let id = match super::create(engine, plan, role).await {
        Ok(id) => id,
        Err(CreateFailure::NameTaken) => return Err(Attempt::NameTaken),
        Err(CreateFailure::Refused(message)) => return Err(Attempt::Refused(message)),
        Err(CreateFailure::Failed(e)) => return Err(Attempt::Failed(e)),
    };
    if let Err(e) =
        engine.docker.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>).await
    {
        let message = crate::base::error::engine_message(&e);
        super::remove(engine, &id, None).await.map_err(Attempt::Failed)?;
        return Err(Attempt::Refused(message));
    }
    Ok(id)
}

/// What the engine's refusal of a container means for the next try.
#[derive(Debug, PartialEq, Eq)]
enum NextTry {
    /// The port we chose was taken meanwhile (by a program outside the port lock's reach).
    OtherPort,
    /// `--gpus auto` chose GPUs the engine cannot attach after all: run on the CPU, as auto
    /// promises; an explicit request never falls back.
    WithoutGpus,
    GiveUp(GiveUp),
}

#[derive(Debug, PartialEq, Eq)]
enum GiveUp {
    /// The user's own --port is taken.
    PortTaken,
    Start,
}

fn next_try(message: &str, settings: &LabSettings, attach: &GpuAttach) -> NextTry {
    use crate::base::error::EngineSays;
    match EngineSays::of(message) {
        EngineSays::PortTaken => match settings.port {
            None => NextTry::OtherPort,
            Some(_) => NextTry::GiveUp(GiveUp::PortTaken),
        },
        EngineSays::NoGpuSupport if settings.gpus == gpu::GpuRequest::Auto && *attach != GpuAttach::None => {
            NextTry::WithoutGpus
        }
        _ => NextTry::GiveUp(GiveUp::Start),
    }
}

/// Says the registry's newer image in one line when the check finished during the start.
async fn tell_if_newer(
    check: tokio::task::JoinHandle<Option<String>>,
    image_ref: &str,
    image: crate::spec::catalog::ImageId,
    reporter: &Reporter,
) {
    if !check.is_finished() {
        check.abort();
        return;
    }
    if let Ok(Some(digest)) = check.await {
        reporter.note(format!(
            "the registry has a newer {image_ref} ({}); this start uses the local one, `dimtensor-up pull {}` updates it",
            crate::engine::registry::short_digest(&digest),
            image.tag()
        ));
    }
}

/// Why a container did not start, as the user should read it.
pub fn start_error(message: &str) -> Error {
    if crate::base::error::EngineSays::of(message) == crate::base::error::EngineSays::NoGpuSupport {
        return gpu::engine_gpu_error(message);
    }
    Error::new(Kind::Container, "the container did not start")
        .cause(first_line(message))
        .hint("`dimtensor-up doctor` checks the setup")
}

/// Waits for another start of this folder's container. None: it is gone (that start failed, or
/// it was a creation abandoned by a killed dimtensor-up), so the caller creates its own.
async fn wait_for_named(engine: &Engine, name: &str, timeout: Duration) -> Result<Option<Server>> {
    /// A start takes well under a second from create to running; longer means abandoned.
    const ABANDONED_AFTER: Duration = Duration::from_secs(10);
    let start = Instant::now();
    let found = crate::base::poll::until_ok(timeout, Duration::from_millis(100), || async {
        match by_name(engine, name).await? {
            None => Ok(Some(None)),
            Some(s) if s.running() => Ok(Some(Some(s))),
            Some(s) if s.state.has_ended() || start.elapsed() > ABANDONED_AFTER => {
                super::remove(engine, &s.id, s.token_file.as_deref()).await?;
                Ok(Some(None))
            }
            Some(_) => Ok(None),
        }
    })
    .await?;
    found.ok_or_else(|| {
        Error::new(Kind::Container, format!("the other start of {name} did not finish"))
            .hint("run `dimtensor-up ps`, then `dimtensor-up stop` and try again")
    })
}

/// `wanted` (--port), checked; else `prefer` or the first free port from `first` that no running
/// server of ours holds and that did not just clash (`clashed`: the engine can hold a port the bind probe
/// cannot see). Labs start from 8888, hubs from 8000.
pub async fn pick_port(
    engine: &Engine,
    wanted: Option<u16>,
    prefer: Option<u16>,
    listen: IpAddr,
    first: u16,
    clashed: &[u16],
) -> Result<u16> {
    // Only an engine on this machine binds ports this machine can probe; elsewhere the engine
    // refuses a taken port and the next one is tried.
    let probe_here = engine.model().await?.local;
    let is_free = |p: u16| !probe_here || ports::port_is_free(listen, p);
    if let Some(port) = wanted {
        if is_free(port) {
            return Ok(port);
        }
        return Err(port_taken_error(engine, listen, port).await);
    }
    let servers = super::list(engine).await?;
    let mut taken: Vec<u16> = servers.iter().filter(|s| s.running()).map(|s| s.port).collect();
    taken.extend_from_slice(clashed);
    ports::choose_port(prefer, first, &taken, &is_free).ok_or_else(|| {
        Error::usage(format!("no free port from {first} to {} on {listen}", first + PORT_RANGE - 1))
            .hint("pass --port N with a free port, or stop servers you no longer need (dimtensor-up ps)")
    })
}

async fn port_taken_error(engine: &Engine, listen: IpAddr, port: u16) -> Error {
    let holder = match super::list(engine).await {
        Ok(servers) => servers
            .into_iter()
            .find(|s| s.running() && s.port == port)
            .map(|s| format!("dimtensor-up server {} (folder {})", s.name, s.workdir)),
        Err(_) => None,
    };
    let holder =
        holder.or_else(|| ports::process_holding_port(port)).unwrap_or_else(|| "another program".into());
    Error::usage(format!("port {port} on {listen} is already in use by {holder}"))
        .hint("pick another with --port, or leave --port out to take the first free one")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::cli::LabArgs;

    fn settings(port: Option<u16>, gpus: &str) -> LabSettings {
        let args = LabArgs { port, gpus: Some(gpus.into()), ..Default::default() };
        LabSettings::resolve(&args, &Config::default(), &std::env::temp_dir()).unwrap()
    }

    #[test]
    fn a_taken_port_moves_on_unless_the_user_chose_it() {
        let clash = "driver failed programming external connectivity: Bind for 127.0.0.1:8888 failed: port is already allocated";
        assert_eq!(next_try(clash, &settings(None, "auto"), &GpuAttach::None), NextTry::OtherPort);
        assert_eq!(
            next_try(clash, &settings(Some(9000), "auto"), &GpuAttach::None),
            NextTry::GiveUp(GiveUp::PortTaken)
        );
        // Podman (rootlessport) words it differently.
        let podman = "rootlessport listen tcp 127.0.0.1:8888: bind: address already in use";
        assert_eq!(next_try(podman, &settings(None, "none"), &GpuAttach::None), NextTry::OtherPort);
    }

    #[test]
    fn only_auto_falls_back_to_the_cpu() {
        let no_driver = "could not select device driver \"\" with capabilities: [[gpu]]";
        assert_eq!(next_try(no_driver, &settings(None, "auto"), &GpuAttach::All), NextTry::WithoutGpus);
        assert_eq!(
            next_try(no_driver, &settings(None, "all"), &GpuAttach::All),
            NextTry::GiveUp(GiveUp::Start)
        );
        let cdi = "unresolvable CDI devices nvidia.com/gpu=all";
        assert_eq!(next_try(cdi, &settings(None, "auto"), &GpuAttach::All), NextTry::WithoutGpus);
        assert_eq!(
            next_try("no such image", &settings(None, "auto"), &GpuAttach::All),
            NextTry::GiveUp(GiveUp::Start)
        );
    }

    #[test]
    fn what_each_state_leaves_behind() {
        assert!(!Phase::Look.leaves_on_interrupt(true) && !Phase::Look.leaves_on_failure());
        let other = State::OtherStart { tries: 1, clashed: vec![] }.phase();
        assert!(!other.leaves_on_interrupt(true) && !other.leaves_on_failure());
        // A create request in flight may have made the container: an interruption removes it;
        // before it is sent the name may be another start's; a refusal has removed its own.
        let create = State::Create { tries: 0, clashed: vec![] }.phase();
        assert!(create.leaves_on_interrupt(true) && !create.leaves_on_interrupt(false));
        assert!(!create.leaves_on_failure());
        let created = State::Created { id: "id".into(), port: 8888 }.phase();
        assert!(created.leaves_on_interrupt(false) && created.leaves_on_failure());
    }
}
