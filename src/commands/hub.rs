//! `dimtensor-up hub`: a JupyterHub for a shared machine (compose project with DockerSpawner),
//! or Zero to JupyterHub values for a cluster, from the variant table and the GPU rules.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::engine::model::GpuForm;
use crate::engine::Engine;
use crate::gpu::{GpuAttach, GpuRequest};
use crate::plan::generated;
use crate::plan::hub::{self, HubPlan, Profile};
use crate::spec::catalog::{Arch, Platforms};
use crate::spec::catalog::{ImageId, Variant, DIMTENSOR_VERSION};
use crate::spec::cli::{GlobalArgs, HubArgs};
use crate::spec::config::Config;

/// The flags, checked before anything is touched.
struct HubFlags {
    dir: PathBuf,
    labs: Vec<Variant>,
    gpus: Vec<GpuRequest>,
    listen: IpAddr,
}

fn check_flags(args: &HubArgs, config: &Config, cwd: &Path) -> Result<HubFlags> {
    if args.labs.contains(&Variant::Auto) {
        return Err(Error::usage("--labs names labs, not auto").hint("one or more of base, ml, full"));
    }
    let mut labs = if args.labs.is_empty() { Variant::LABS.to_vec() } else { args.labs.clone() };
    labs.dedup();
    let gpus = match args.gpus.is_empty() {
        true => vec![GpuRequest::Auto],
        false => args.gpus.iter().map(|g| GpuRequest::parse(g)).collect::<Result<Vec<_>>>()?,
    };
    crate::plan::settings::check_port(args.port)?;
    let listen = crate::plan::settings::listen_address(args.listen.as_deref(), config)?;
    let dir = cwd.join(args.dir.clone().unwrap_or_else(|| PathBuf::from("dimtensor-hub")));
    Ok(HubFlags { dir, labs, gpus, listen })
}

pub async fn run(global: &GlobalArgs, args: HubArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let cwd = crate::base::sys::current_dir()?;
    let flags = check_flags(&args, &config, &cwd)?;
    if args.kubernetes {
        let pinned = |lab: Variant| lab.lab_image().versioned_reference(config.registry(), DIMTENSOR_VERSION);
        return write_kubernetes(&args, &flags, &pinned, &reporter);
    }
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let plan = plan_hub(&engine, &flags, &config, &args, &reporter).await?;
    write_files(&plan, args.force, &reporter)?;
    if !args.up {
        println!("{}", plan.dir.join(hub::COMPOSE_FILE).display());
        return Ok(0);
    }
    bring_up(&engine, &plan, &config, &args, &reporter).await
}

/// The hub this machine gets: its profiles (labs × GPUs that can start here), port, the
/// engine's socket and the user the spawner runs labs as.
async fn plan_hub(
    engine: &Engine,
    flags: &HubFlags,
    config: &Config,
    args: &HubArgs,
    reporter: &Reporter,
) -> Result<HubPlan> {
    let crate::engine::Address::Unix(socket) = engine.endpoint.address.clone() else {
        return Err(Error::usage(format!(
            "the hub mounts its engine's socket; {} is not a socket on this machine",
            engine.endpoint.address
        ))
        .hint("run `dimtensor-up hub` on the machine that runs the engine (over ssh: ssh there first)"));
    };
    let model = engine.model().await?;
    let arch = Platforms::new(engine.platform().await?, None).images;
    if let Some(running) = crate::lab::for_workdir(engine, &flags.dir).await?.filter(|s| s.running()) {
        return Err(Error::usage(format!(
            "the hub for {} already runs ({} on {}:{})",
            flags.dir.display(),
            running.name,
            running.listen,
            running.port
        ))
        .hint(format!(
            "open http://{}:{}/hub/, or stop it first: dimtensor-up stop {}",
            running.listen, running.port, running.name
        )));
    }
    let (gpu_requests, machine_gpus) = gpu_profiles(engine, flags, arch, reporter).await?;
    let gpu_form = match gpu_requests.iter().any(|(_, a)| *a != GpuAttach::None) {
        // DockerSpawner speaks the Docker API: the GPU request must be one the engine honours there.
        true => model.docker_api_gpu_form(crate::engine::model::DockerApiClient::DockerSpawner)?,
        false => GpuForm::DeviceRequest,
    };
    let pinned = |lab: Variant| lab.lab_image().versioned_reference(config.registry(), DIMTENSOR_VERSION);
    let mut profiles = hub::profiles(&flags.labs, &gpu_requests, &pinned);
    if args.one_gpu_each {
        if machine_gpus.is_empty() {
            return Err(Error::new(
                Kind::Gpu,
                "--one-gpu-each needs the machine's GPUs, and none were found",
            )
            .hint("check `dimtensor-up doctor` (nvidia-smi must list them), or leave --one-gpu-each out"));
        }
        for profile in profiles.iter_mut().filter(|p| p.gpus != GpuAttach::None) {
            profile.gpu_pool = machine_gpus.clone();
            profile.display = format!("{} with one GPU of its own", profile.lab.name());
        }
    }
    let port =
        crate::lab::start::pick_port(engine, args.port, None, flags.listen, hub::FIRST_PORT, &[]).await?;
    let user = model.user_mapping(None, engine.host.caller().await?);
    let socket_group = match user.user {
        Some(u) if u.uid != 0 && !user.keep_id => crate::base::sys::file_gid(&socket),
        _ => None,
    };
    let plan = HubPlan {
        project: hub::project_for(&flags.dir),
        dir: flags.dir.clone(),
        hub_image: ImageId::Hub.reference(config.registry()),
        listen: flags.listen,
        port,
        profiles,
        engine_socket: socket,
        user,
        socket_group,
        gpu_form,
        shm_size: crate::plan::default_shm_size(engine.memory().await?),
    };
    if !flags.listen.is_loopback() {
        reporter.warn(format!(
            "the hub listens on {}: other machines can reach its login page; put it behind TLS (a reverse proxy such as Caddy or Traefik) before exposing it",
            flags.listen
        ));
    }
    Ok(plan)
}

/// `--up`: the images, `docker compose up -d`, the hub answering; on Ctrl-C or a failure the
/// half-started hub container goes (its volumes and the files stay).
async fn bring_up(
    engine: &Engine,
    plan: &HubPlan,
    config: &Config,
    args: &HubArgs,
    reporter: &Reporter,
) -> Result<u8> {
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    let started = tokio::select! {
        r = start(engine, plan, config, args, reporter) => r,
        _ = &mut stop => Err(Error::interrupted()),
    };
    if let Err(err) = started {
        // The last log lines are kept in the error before the container goes.
        if let Some(hub) = crate::lab::by_name(engine, &plan.project).await? {
            let err = match err.kind {
                Kind::Interrupted => err,
                _ => crate::lab::with_log_tail(err, engine, &hub.id, 8).await,
            };
            reporter.note("removing the half-started hub");
            crate::lab::remove(engine, &hub.id, None).await?;
            return Err(err);
        }
        return Err(err);
    }
    let url = plan.url();
    println!("{url}");
    reporter.note(format!(
        "JupyterHub runs; sign in as `{}` with the password in {} (mode 600). Others sign up at {url}signup and you authorize them at {url}authorize.",
        hub::ADMIN,
        plan.dir.join(hub::ADMIN_PASSWORD_FILE).display()
    ));
    if !args.no_browser {
        crate::lab::browser::open_url(&url, plan.port, reporter).settled().await;
    }
    Ok(0)
}

/// One (lab, GPUs) pair per lab and request that can start here; explicit requests that cannot
/// are errors (as for `jupyter`), `auto` without usable GPUs offers CPU profiles and says why.
async fn gpu_profiles(
    engine: &Engine,
    flags: &HubFlags,
    arch: Arch,
    reporter: &Reporter,
) -> Result<(Vec<(Variant, GpuAttach)>, Vec<String>)> {
    // The machine is asked once (nvidia-smi, the engine's info), whatever the number of profiles.
    let facts = match flags.gpus.iter().all(|r| *r == GpuRequest::None) {
        true => None,
        false => Some(crate::lab::fit::GpuFacts::of(engine).await?),
    };
    let machine_gpus: Vec<String> = facts
        .as_ref()
        .and_then(|f| f.host.as_ref())
        .map(|h| h.gpus.iter().map(|g| g.index.to_string()).collect())
        .unwrap_or_default();
    let mut pairs = Vec::new();
    for request in &flags.gpus {
        let Some(facts) = &facts else { break };
        for &lab in &flags.labs {
            let need = crate::image::cuda_need(lab.lab_image(), arch);
            let cuda = need.is_some();
            let decision = facts.decide(request, need.as_ref(), lab.name())?;
            match (&decision.attach, decision.why_cpu()) {
                (GpuAttach::None, Some(why)) if *request == GpuRequest::Auto && cuda => {
                    reporter.note(format!("no GPU profile for {}: {why}", lab.name()))
                }
                (GpuAttach::None, _) => {}
                (attach, _) => {
                    if let Some(note) = decision.note().filter(|_| !cuda) {
                        reporter.note(note);
                    }
                    pairs.push((lab, attach.clone()));
                }
            }
        }
    }
    Ok((pairs, machine_gpus))
}

/// What a user who keeps an edited hub file does instead of --force.
const KEEP_HUB_EDITS: &str = "keep your edits (start it with `docker compose up -d` there)";

fn write_files(plan: &HubPlan, force: bool, reporter: &Reporter) -> Result<()> {
    let compose = plan.dir.join(hub::COMPOSE_FILE);
    let config = plan.dir.join(hub::CONFIG_FILE);
    let replace = [
        generated::check(&compose, force, KEEP_HUB_EDITS)?,
        generated::check(&config, force, KEEP_HUB_EDITS)?,
    ];
    std::fs::create_dir_all(&plan.dir)
        .map_err(|e| Error::usage(format!("cannot create {}", plan.dir.display())).cause(e))?;
    let header = format!(
        "JupyterHub for this machine, written by dimtensor-up {} (`dimtensor-up hub`).\nStart: docker compose up -d   Stop: dimtensor-up stop {} (accounts and homes stay in volumes)\nURL:   {}  (admin: `{}`, password in ./{})",
        env!("CARGO_PKG_VERSION"),
        plan.project,
        plan.url(),
        hub::ADMIN,
        hub::ADMIN_PASSWORD_FILE
    );
    generated::write(&compose, &plan.compose_yaml(&header), replace[0], reporter)?;
    generated::write(&config, &plan.jupyterhub_config(), replace[1], reporter)?;
    let password = plan.dir.join(hub::ADMIN_PASSWORD_FILE);
    if !password.exists() {
        crate::base::state::write_secret_file(
            &password,
            &format!("{}\n", crate::base::state::random_hex(16)),
            0o600,
        )?;
    }
    reporter.note(format!(
        "wrote {} and {} ({} profiles: {})",
        compose.display(),
        config.display(),
        plan.profiles.len(),
        plan.profiles.iter().map(|p| p.slug.as_str()).collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}

/// The images, then `docker compose up -d`, then the hub's health endpoint.
async fn start(
    engine: &Engine,
    plan: &HubPlan,
    config: &Config,
    args: &HubArgs,
    reporter: &Reporter,
) -> Result<()> {
    let platforms = Platforms::new(engine.platform().await?, None);
    let policy = args.pull.or(config.pull).unwrap_or_default();
    let timeout = args.timeout;
    let mut images = vec![ImageId::Hub];
    for p in &plan.profiles {
        if !images.contains(&p.lab.lab_image()) {
            images.push(p.lab.lab_image());
        }
    }
    for image in images {
        crate::image::ensure(engine, image, platforms, config, policy, false, reporter).await?;
        // The hub and its labs use the pinned tag, which a build or a pull of the plain one also sets.
        let versioned = image.versioned_reference(config.registry(), DIMTENSOR_VERSION);
        if crate::image::presence(engine, &versioned, platforms.images).await?
            != crate::image::Presence::Present
        {
            crate::image::tag(engine, &image.reference(config.registry()), &versioned).await?;
        }
    }
    crate::plan::compose::up(&engine.endpoint, &plan.dir.join(hub::COMPOSE_FILE), reporter)?;
    let spinner = reporter.spinner("waiting for JupyterHub to answer");
    let host = crate::spec::ports::connect_host(plan.listen);
    let healthy =
        crate::base::poll::until(Duration::from_secs(timeout), Duration::from_millis(200), || async {
            (crate::lab::ready::http_status(&host, plan.port, "/hub/health", None).await == Some(200))
                .then_some(())
        })
        .await;
    spinner.finish_and_clear();
    healthy.ok_or_else(|| {
        Error::new(Kind::Container, format!("JupyterHub did not answer within {timeout} s"))
            .hint("its last log lines are above; a slow machine: --timeout SECS")
    })
}

/// Pure: the GPU profiles of a cluster. Its GPU nodes are amd64 with the NVIDIA device plugin:
/// `auto` gives the CUDA labs a GPU profile; an explicit request gives every lab one.
fn kubernetes_gpu_pairs(flags: &HubFlags) -> Vec<(Variant, GpuAttach)> {
    let mut pairs = Vec::new();
    for request in &flags.gpus {
        for &lab in &flags.labs {
            let cuda = lab.lab_image().spec().has_cuda(Arch::Amd64);
            match request {
                GpuRequest::None => {}
                GpuRequest::Auto if !cuda => {}
                _ => pairs.push((lab, GpuAttach::All)),
            }
        }
    }
    pairs.dedup();
    pairs
}

fn write_kubernetes(
    args: &HubArgs,
    flags: &HubFlags,
    pinned: &dyn Fn(Variant) -> String,
    reporter: &Reporter,
) -> Result<u8> {
    let profiles: Vec<Profile> = hub::profiles(&flags.labs, &kubernetes_gpu_pairs(flags), pinned);
    let path = flags.dir.join(hub::K8S_VALUES_FILE);
    let replace = generated::check(&path, args.force, "keep your edits (pass it to helm as it is)")?;
    std::fs::create_dir_all(&flags.dir)
        .map_err(|e| Error::usage(format!("cannot create {}", flags.dir.display())).cause(e))?;
    let header = format!(
        "Zero to JupyterHub values, written by dimtensor-up {} (`dimtensor-up hub --kubernetes`).\nInstall: helm upgrade --cleanup-on-fail --install dimtensor-hub jupyterhub/jupyterhub \\\n           --repo https://hub.jupyter.org/helm-chart/ --namespace dimtensor --create-namespace \\\n           --values {}\nThe proxy is a ClusterIP service: reach it with `kubectl -n dimtensor port-forward svc/proxy-public 8080:80`,\nor expose it through an ingress with TLS. Sign up as `{}` first (admins are authorized at sign-up),\nthen authorize the others' sign-ups at /hub/authorize.",
        env!("CARGO_PKG_VERSION"),
        hub::K8S_VALUES_FILE,
        hub::ADMIN
    );
    generated::write(&path, &hub::z2jh_values(&profiles, args.gpus_per_user, &header), replace, reporter)?;
    reporter.note(format!("wrote {} ({} profiles)", path.display(), profiles.len()));
    println!("{}", path.display());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn hub_args(flags: &[&str]) -> HubArgs {
        let argv = [&["dimtensor-up", "hub"], flags].concat();
        match crate::spec::cli::Cli::parse_from(argv).command {
            crate::spec::cli::Command::Hub(args) => args,
            _ => unreachable!("a hub command line"),
        }
    }

    fn flags(args: &[&str]) -> Result<HubFlags> {
        check_flags(&hub_args(args), &Config::default(), Path::new("/work"))
    }

    #[test]
    fn flags_are_checked_before_anything_is_touched() {
        let all = flags(&[]).unwrap();
        assert_eq!(all.labs, Variant::LABS.to_vec());
        assert_eq!((all.gpus, all.dir), (vec![GpuRequest::Auto], PathBuf::from("/work/dimtensor-hub")));
        assert!(all.listen.is_loopback());
        let some = flags(&["--labs", "base", "--labs", "base", "--gpus", "none", "--dir", "h"]).unwrap();
        assert_eq!((some.labs, some.dir), (vec![Variant::Base], PathBuf::from("/work/h")));
        for bad in
            [&["--labs", "auto"][..], &["--gpus", "lots"], &["--port", "0"], &["--listen", "localhost"]]
        {
            let err = flags(bad).err().unwrap();
            assert_eq!(err.kind, Kind::Usage, "{bad:?}");
            assert!(err.hint.is_some(), "{bad:?}");
        }
    }

    #[test]
    fn a_cluster_gets_gpu_profiles_for_cuda_labs_or_every_lab_when_asked() {
        let auto = flags(&[]).unwrap();
        let cuda: Vec<Variant> = kubernetes_gpu_pairs(&auto).into_iter().map(|(lab, _)| lab).collect();
        assert_eq!(cuda, vec![Variant::Ml, Variant::Full], "amd64: base has no CUDA");
        let all = flags(&["--gpus", "all"]).unwrap();
        assert_eq!(kubernetes_gpu_pairs(&all).len(), 3);
        assert!(kubernetes_gpu_pairs(&flags(&["--gpus", "none"]).unwrap()).is_empty());
    }
}
