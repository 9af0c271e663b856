//! `dimtensor-up jupyter`: settings → image → GPU → port → container → ready → URL.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use crate::cli::{GlobalArgs, JupyterArgs};
use crate::config::Config;
use crate::engine::Engine;
use crate::error::{Error, Kind, Result};
use crate::gpu::{self, GpuAttach, GpuDecision};
use crate::lab::{self, CreateFailure, Server};
use crate::port_lock::PortLock;
use crate::reporter::Reporter;
use crate::settings::{self, LabSettings, LaunchPlan, Role};
use crate::token::TokenFile;
use crate::tunnel::Tunnel;

pub async fn run(global: &GlobalArgs, args: JupyterArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet || args.json, global.verbose);
    let (config, _) = super::load_config()?;
    let cwd = super::current_dir()?;
    // Every flag is validated before the engine is touched or a question asked (over ssh, the
    // paths are checked on the remote once it answers).
    super::precheck_lab_settings(global, &args.lab, &config, &cwd)?;
    let engine = super::connect(global).await?;
    let lab_args = match crate::wizard::wanted(&args.lab, &config) {
        true => {
            let mut answers = crate::wizard::ask(&args.lab, &config, &engine, &cwd).await?;
            if engine.host.ssh().is_some() {
                // The folder question is about this machine; over ssh the remote folder stands.
                answers.workdir = args.lab.workdir.clone();
            }
            answers
        }
        false => args.lab.clone(),
    };
    let settings = super::lab_settings(&engine, &lab_args, &config, &cwd, &reporter).await?;

    if let Some(warning) = settings.exposure_warning() {
        reporter.warn(warning);
    }
    // Ctrl-C or SIGTERM at any point before the server is handed over removes what was
    // created; one signal future for the whole run, so no signal falls between two of them.
    let stop = crate::error::stop_signal();
    tokio::pin!(stop);
    let mut created: Option<String> = None;
    let outcome = tokio::select! {
        r = start(&engine, &settings, &config, &args, &reporter, &mut created) => r,
        _ = &mut stop => Err(Error::interrupted()),
    };
    let started = match outcome {
        Ok(s) => s,
        Err(err) => {
            if let Some(name) = created.take() {
                reporter.note("removing the half-started container");
                let _ = lab::remove(&engine, &name, None).await;
            }
            return Err(err);
        }
    };
    let remote = engine.host.ssh().map(|t| t.display());
    if args.detach && remote.is_some() {
        // The tunnel ends with this process: the server stays, `open` forwards it again.
        report_detached_remote(&started, &args, &reporter, &engine.endpoint.address);
        return Ok(0);
    }
    let hand_off = report(&started, &args, &reporter);
    if args.detach || (started.reused && remote.is_none()) {
        if let Some(hand_off) = hand_off {
            hand_off.settled().await;
        }
        return Ok(0);
    }
    let owns = !started.reused;
    reporter.note(match (owns, &remote) {
        (true, None) => {
            "JupyterLab runs until Ctrl-C (or run with --detach); your files stay in the folder.".to_string()
        }
        (true, Some(host)) => {
            format!("JupyterLab runs on {host} until Ctrl-C (or run with --detach); your files stay there.")
        }
        (false, _) => "the tunnel stays open until Ctrl-C; the server keeps running after it.".to_string(),
    });
    serve(&engine, started, stop, owns, &reporter).await
}

pub struct Started {
    pub server: Server,
    pub token: String,
    pub url: String,
    pub reused: bool,
    /// Over ssh: the laptop's end of the server's port.
    pub tunnel: Option<Tunnel>,
}

async fn start(
    engine: &Engine,
    settings: &LabSettings,
    config: &Config,
    args: &JupyterArgs,
    reporter: &Reporter,
    created: &mut Option<String>,
) -> Result<Started> {
    let name = settings.container_name();
    let timeout = Duration::from_secs(args.timeout);
    if let Some(server) = existing_server(engine, &name, timeout, reporter).await? {
        return reuse(engine, server, settings, args, reporter, timeout).await;
    }
    // A server for this folder started another way (`dimtensor-up compose --up`) counts too.
    if let Some(other) = lab::for_workdir(engine, &settings.workdir).await?.filter(Server::running) {
        return reuse(engine, other, settings, args, reporter, timeout).await;
    }

    // The lab and its GPUs are settled before any image is fetched: a refusal costs no download.
    let (settled, platforms, mut gpu) = super::settle_lab(engine, settings.clone(), reporter).await?;
    let settings = &settled;
    let policy = args.source.pull.or(config.pull).unwrap_or_default();
    let (image_ref, source) = crate::image::ensure(
        engine,
        settings.image(),
        platforms,
        config,
        policy,
        args.source.build,
        reporter,
    )
    .await?;
    reporter.detail(format!("image {image_ref} ({source:?})"));
    // Beside the start, never in its way: does the registry have a newer image for the tag?
    let newer_check = (source == crate::image::Source::Local && policy == crate::cli::PullPolicy::Missing)
        .then(|| tokio::spawn(crate::image::newer_in_registry(engine.docker.clone(), image_ref.clone())));

    let model = engine.model().await?;
    let user = model.user_mapping(settings.user, engine.host.caller().await?);
    let token = crate::token::new_token();
    // A token file per start (two starts racing in one folder never share one), removed on any
    // failure or interruption until the server is handed over.
    let token_file =
        TokenFile::write_for(engine, &format!("{name}-{}", crate::token::random_hex(4)), &token).await?;
    let role = Role::Lab { token_file: token_file.path() };
    let mut clashed_ports = Vec::new();
    // Port clashes and the GPU fallback retry a few times; waiting for another start of this
    // folder's server is bounded by the readiness timeout instead.
    let mut retries = 0;
    let give_up_waiting = std::time::Instant::now() + timeout;
    let mut told_about_the_other_start = false;
    loop {
        if retries == MAX_RETRIES {
            return Err(Error::new(
                Kind::Container,
                format!("JupyterLab could not be started in {MAX_RETRIES} tries (ports kept being taken)"),
            )
            .hint("run `dimtensor-up ps` to see what runs, then try again"));
        }
        // From choosing a port until the engine has bound it, no other start on this machine
        // chooses one (an engine elsewhere refuses a taken port, and the next one is tried).
        let port_lock = match model.local {
            true => Some(PortLock::acquire().await),
            false => None,
        };
        let port = pick_port(engine, settings, &clashed_ports).await?;
        let plan =
            LaunchPlan::new(settings, image_ref.clone(), port, user, gpu.attach.clone(), model.gpu_form());
        // Known before the request is sent: an interruption while it is in flight still cleans up.
        *created = Some(name.clone());
        let refusal = match create_and_start(engine, &plan, role).await {
            Ok(id) => {
                drop(port_lock);
                reporter.note(format!(
                    "starting JupyterLab ({}) on {}:{port}",
                    settings.variant.name(),
                    settings.listen
                ));
                let tunnel = open_tunnel(engine, port).await?;
                let (listen, reached_at) = match &tunnel {
                    Some(t) => t.local(),
                    None => (settings.listen, port),
                };
                let spinner = reporter.spinner("waiting for JupyterLab to answer");
                let ready = lab::wait_ready(engine, &id, listen, reached_at, &token, timeout).await;
                spinner.finish_and_clear();
                ready?;
                let server = lab::by_name(engine, &name)
                    .await?
                    .ok_or_else(|| Error::new(Kind::Container, "the container disappeared while starting"))?;
                token_file.keep();
                if let Some(check) = newer_check {
                    tell_if_newer(check, &image_ref, settings.image(), reporter).await;
                }
                let url = settings::lab_url(listen, reached_at, &token);
                return Ok(Started { url, server, token, reused: false, tunnel });
            }
            Err(Attempt::NameTaken) => {
                *created = None;
                drop(port_lock);
                if !std::mem::replace(&mut told_about_the_other_start, true) {
                    reporter.note(WAITING_FOR_THE_OTHER_START);
                }
                match wait_for_named(engine, &name, timeout).await? {
                    Some(server) => return reuse(engine, server, settings, args, reporter, timeout).await,
                    // Gone, or not visible yet: the engine reserves the name before the container
                    // can be inspected, so a create still in flight elsewhere looks the same.
                    None if std::time::Instant::now() < give_up_waiting => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    None => {
                        return Err(Error::new(
                            Kind::Container,
                            format!("the name {name} stayed taken without a container behind it"),
                        )
                        .hint("run `dimtensor-up ps`, then `dimtensor-up stop` and try again"))
                    }
                }
            }
            Err(Attempt::Failed(e)) => {
                *created = None;
                return Err(e);
            }
            Err(Attempt::Refused(message)) => {
                *created = None;
                message
            }
        };
        match next_try(&refusal, settings, &gpu.attach) {
            NextTry::OtherPort => {
                reporter.detail(format!("port {port} was taken meanwhile; trying the next one"));
                clashed_ports.push(port);
            }
            NextTry::WithoutGpus => {
                reporter.note(format!(
                    "running on CPU: the engine cannot attach GPUs ({})",
                    crate::engine::first_line(&refusal)
                ));
                gpu = GpuDecision { attach: GpuAttach::None, note: None };
            }
            NextTry::GiveUp(GiveUp::PortTaken) => {
                return Err(port_taken_error(engine, settings.listen, port).await)
            }
            NextTry::GiveUp(GiveUp::Start) => return Err(start_error(&refusal)),
        }
        retries += 1;
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
    let id = match lab::create(engine, plan, role).await {
        Ok(id) => id,
        Err(CreateFailure::NameTaken) => return Err(Attempt::NameTaken),
        Err(CreateFailure::Refused(message)) => return Err(Attempt::Refused(message)),
        Err(CreateFailure::Failed(e)) => return Err(Attempt::Failed(e)),
    };
    if let Err(e) =
        engine.docker.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>).await
    {
        let message = crate::error::engine_message(&e);
        lab::remove(engine, &id, None).await.map_err(Attempt::Failed)?;
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
    if is_port_clash(message) {
        return match settings.port {
            None => NextTry::OtherPort,
            Some(_) => NextTry::GiveUp(GiveUp::PortTaken),
        };
    }
    if gpu::is_engine_gpu_error(message)
        && settings.gpus == gpu::GpuRequest::Auto
        && *attach != GpuAttach::None
    {
        return NextTry::WithoutGpus;
    }
    NextTry::GiveUp(GiveUp::Start)
}

const WAITING_FOR_THE_OTHER_START: &str =
    "another dimtensor-up is starting JupyterLab in this folder; waiting for it";

/// Starts retried after a port clash or a refused GPU request.
const MAX_RETRIES: u32 = 5;

/// Says the registry's newer image in one line when the check finished during the start.
async fn tell_if_newer(
    check: tokio::task::JoinHandle<Option<String>>,
    image_ref: &str,
    image: crate::catalog::ImageId,
    reporter: &Reporter,
) {
    if !check.is_finished() {
        check.abort();
        return;
    }
    if let Ok(Some(digest)) = check.await {
        reporter.note(format!(
            "the registry has a newer {image_ref} ({}); this start uses the local one, `dimtensor-up pull {}` updates it",
            crate::registry::short_digest(&digest),
            image.tag()
        ));
    }
}

/// Why a container did not start, as the user should read it.
pub fn start_error(message: &str) -> Error {
    if gpu::is_engine_gpu_error(message) {
        return gpu::engine_gpu_error(message);
    }
    Error::new(Kind::Container, "the container did not start")
        .cause(crate::engine::first_line(message))
        .hint("`dimtensor-up doctor` checks the setup")
}

/// This folder's container: running → re-use; being started by another dimtensor-up → wait for
/// it; stopped (an engine restart, an earlier failure) → removed, so a fresh one is made.
async fn existing_server(
    engine: &Engine,
    name: &str,
    timeout: Duration,
    reporter: &Reporter,
) -> Result<Option<Server>> {
    let Some(existing) = lab::by_name(engine, name).await? else { return Ok(None) };
    match existing.state.as_str() {
        "running" => Ok(Some(existing)),
        "created" | "restarting" => {
            reporter.note(WAITING_FOR_THE_OTHER_START);
            wait_for_named(engine, name, timeout).await
        }
        _ => {
            reporter.detail(format!("removing the stopped container {name} (left by an earlier run)"));
            lab::remove(engine, &existing.id, existing.token_file.as_deref()).await?;
            Ok(None)
        }
    }
}

fn is_port_clash(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("port is already allocated") || m.contains("address already in use")
}

/// Waits for another start of this folder's container. None: it is gone (that start failed, or
/// it was a creation abandoned by a killed dimtensor-up), so the caller creates its own.
async fn wait_for_named(engine: &Engine, name: &str, timeout: Duration) -> Result<Option<Server>> {
    /// A start takes well under a second from create to running; longer means abandoned.
    const ABANDONED_AFTER: Duration = Duration::from_secs(10);
    let start = std::time::Instant::now();
    loop {
        match lab::by_name(engine, name).await? {
            None => return Ok(None),
            Some(s) if s.running() => return Ok(Some(s)),
            Some(s) if s.state == "exited" || s.state == "dead" || start.elapsed() > ABANDONED_AFTER => {
                lab::remove(engine, &s.id, s.token_file.as_deref()).await?;
                return Ok(None);
            }
            Some(_) => {}
        }
        if start.elapsed() >= timeout {
            return Err(Error::new(Kind::Container, format!("the other start of {name} did not finish"))
                .hint("run `dimtensor-up ps`, then `dimtensor-up stop` and try again"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reuse(
    engine: &Engine,
    server: Server,
    settings: &LabSettings,
    args: &JupyterArgs,
    reporter: &Reporter,
    timeout: Duration,
) -> Result<Started> {
    let named = args.lab.variant.filter(|v| *v != crate::catalog::Variant::Auto);
    let differs = named.is_some_and(|v| server.variant != v.name())
        || settings.port.is_some_and(|p| p != server.port)
        || server.listen_ip() != settings.listen;
    if differs {
        reporter.warn(format!(
            "this folder's server already runs ({} on {}:{}); `dimtensor-up stop` first to start it differently",
            server.variant, server.listen, server.port
        ));
    }
    if !server.listen_ip().is_loopback() {
        reporter.warn(format!("this server listens on {}: other machines can reach it", server.listen));
    }
    let token = lab::token(engine, &server).await?;
    let tunnel = open_tunnel(engine, server.port).await?;
    let (listen, port) = match &tunnel {
        Some(t) => t.local(),
        None => (server.listen_ip(), server.port),
    };
    lab::wait_ready(engine, &server.id, listen, port, &token, timeout).await?;
    reporter.note(format!("JupyterLab already runs for this folder ({})", server.name));
    Ok(Started { url: settings::lab_url(listen, port, &token), server, token, reused: true, tunnel })
}

/// The URL (or JSON) on stdout first, then the browser.
fn report(started: &Started, args: &JupyterArgs, reporter: &Reporter) -> Option<crate::browser::HandOff> {
    if args.json {
        let s = &started.server;
        let value = json!({
            "url": started.url, "port": s.port, "token": started.token, "container": s.name,
            "variant": s.variant, "workdir": s.workdir, "gpus": s.gpus, "reused": started.reused,
        });
        println!("{value}");
    } else {
        println!("{}", started.url);
    }
    (!args.no_browser).then(|| crate::browser::open_url(&started.url, started.server.port, reporter))
}

/// Over ssh, the laptop's end of `remote_port`; None for an engine on this machine.
pub async fn open_tunnel(engine: &Engine, remote_port: u16) -> Result<Option<Tunnel>> {
    match engine.host.ssh() {
        Some(target) => Ok(Some(Tunnel::open(target, remote_port).await?)),
        None => Ok(None),
    }
}

/// How often a dropped SSH tunnel is opened again before giving up.
const TUNNEL_RETRIES: u32 = 5;

/// Foreground: holds the server (and its tunnel) until Ctrl-C or until the server stops. `owns`:
/// this run started it, so Ctrl-C stops and removes it (files stay); otherwise it keeps running.
/// A dropped tunnel is said and opened again, a bounded number of times; the server and its
/// files are never touched for it.
pub async fn serve(
    engine: &Engine,
    mut started: Started,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    owns: bool,
    reporter: &Reporter,
) -> Result<u8> {
    use bollard::query_parameters::WaitContainerOptions;
    use futures_util::StreamExt;
    let server = started.server.clone();
    let token_file = server.token_file.as_deref();
    let mut wait = engine.docker.wait_container(&server.id, None::<WaitContainerOptions>);
    let mut drops = 0;
    loop {
        let tunnel_ended = async {
            match started.tunnel.as_mut() {
                Some(t) => t.ended().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => {
                if owns {
                    eprintln!("stopping JupyterLab ({})", server.name);
                    lab::remove(engine, &server.id, token_file).await?;
                }
                drop(started.tunnel.take());
                if let Some(target) = engine.host.ssh() {
                    target.close_master().await;
                }
                return Ok(0);
            }
            result = wait.next() => {
                let code = lab::exit_code(&result);
                // Over ssh a broken wait may be the connection, not the container: look again
                // (a few times: a new ssh connection may be on its way).
                if code.is_none() && engine.host.ssh().is_some() && lab::still_running(engine, &server.id).await {
                    wait = engine.docker.wait_container(&server.id, None::<WaitContainerOptions>);
                    continue;
                }
                if owns {
                    let _ = lab::remove(engine, &server.id, token_file).await;
                }
                let detail = match (code, result) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(Err(e))) => e.to_string(),
                    (None, _) => "the engine closed the connection".into(),
                };
                return Err(Error::new(Kind::Container, format!("JupyterLab stopped ({detail})"))
                    .hint("`dimtensor-up jupyter` starts it again; your files are in the folder"));
            }
            why = tunnel_ended => {
                let tunnel = started.tunnel.as_mut().expect("a tunnel ended");
                drops += 1;
                if drops > TUNNEL_RETRIES {
                    return Err(Error::new(Kind::Engine, format!("lost the SSH tunnel to {} {TUNNEL_RETRIES} times", tunnel.host()))
                        .cause(why)
                        .hint("the server and its files on the remote are untouched: `dimtensor-up open --host …` connects again"));
                }
                reporter.warn(format!(
                    "the SSH tunnel to {} dropped ({why}); opening it again ({drops} of {TUNNEL_RETRIES})",
                    tunnel.host()
                ));
                tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(drops))).await;
                let before = tunnel.local_port;
                match tunnel.reopen().await {
                    Ok(()) if tunnel.local_port != before => {
                        started.url = tunnel.url(&started.token);
                        println!("{}", started.url);
                    }
                    Ok(()) => reporter.note(format!("the tunnel is back on 127.0.0.1:{before}")),
                    Err(e) => reporter.warn(format!("the tunnel did not open: {}", e.message)),
                }
            }
        }
    }
}

/// `--detach` over ssh: the server stays on the remote; the URL needs a tunnel, which `open` holds.
fn report_detached_remote(started: &Started, args: &JupyterArgs, reporter: &Reporter, host: &str) {
    let s = &started.server;
    if args.json {
        let value = json!({
            "url": null, "remote_port": s.port, "container": s.name, "variant": s.variant,
            "workdir": s.workdir, "gpus": s.gpus, "reused": started.reused,
        });
        println!("{value}");
    }
    reporter.note(format!(
        "JupyterLab keeps running on the remote (its 127.0.0.1:{}); open it here with: dimtensor-up open --host {host}",
        s.port
    ));
}

/// `--port`, checked; else the first free port from 8888 that no running server of ours holds
/// and that did not just clash (`clashed`: the engine can hold a port the bind probe cannot see).
pub async fn pick_port(engine: &Engine, settings: &LabSettings, clashed: &[u16]) -> Result<u16> {
    // Only an engine on this machine binds ports this machine can probe; elsewhere the engine
    // refuses a taken port and the next one is tried.
    let probe_here = engine.model().await?.local;
    let is_free = |p: u16| !probe_here || settings::port_is_free(settings.listen, p);
    if let Some(port) = settings.port {
        if is_free(port) {
            return Ok(port);
        }
        return Err(port_taken_error(engine, settings.listen, port).await);
    }
    let servers = lab::list(engine).await?;
    let mut taken: Vec<u16> = servers.iter().filter(|s| s.running()).map(|s| s.port).collect();
    taken.extend_from_slice(clashed);
    settings::choose_port(&taken, &is_free).ok_or_else(|| {
        Error::usage(format!(
            "no free port from {} to {} on {}",
            settings::FIRST_PORT,
            settings::FIRST_PORT + settings::PORT_RANGE - 1,
            settings.listen
        ))
        .hint("pass --port N with a free port, or stop servers you no longer need (dimtensor-up ps)")
    })
}

async fn port_taken_error(engine: &Engine, listen: IpAddr, port: u16) -> Error {
    let holder = match lab::list(engine).await {
        Ok(servers) => servers
            .into_iter()
            .find(|s| s.running() && s.port == port)
            .map(|s| format!("dimtensor-up server {} (folder {})", s.name, s.workdir)),
        Err(_) => None,
    };
    let holder = holder.or_else(|| process_holding_port(port)).unwrap_or_else(|| "another program".into());
    Error::usage(format!("port {port} on {listen} is already in use by {holder}"))
        .hint("pick another with --port, or leave --port out to take the first free one")
}

/// The process listening on a TCP port (Linux: /proc/net/tcp* inode → /proc/PID/fd).
fn process_holding_port(port: u16) -> Option<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9
                && f[3] == "0A"
                && f[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) == Some(port)
            {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| inodes.contains(&l.to_string_lossy().to_string()))
            {
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some(format!("{} (pid {})", comm.trim(), entry.file_name().to_string_lossy()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::LabArgs;

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
}
