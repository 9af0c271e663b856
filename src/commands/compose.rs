//! `dimtensor-up compose`: the `jupyter` launch plan written as compose.yaml + .env.

use std::path::Path;
use std::time::Duration;

use crate::catalog::Arch;
use crate::catalog::Variant;
use crate::cli::{ComposeArgs, GlobalArgs};
use crate::compose::{default_output, merge_env_file, render, strong_token_in};
use crate::engine::model::{GpuForm, UserMapping};
use crate::error::{Error, Kind, Result};
use crate::gpu;
use crate::plan::LaunchPlan;
use crate::reporter::Reporter;
use crate::settings::LabSettings;

pub async fn run(global: &GlobalArgs, args: ComposeArgs) -> Result<u8> {
    if let Some(variant) = args.example {
        if variant == crate::catalog::Variant::Auto {
            return Err(Error::usage("--example needs a lab").hint("one of base, ml, full"));
        }
        print!("{}", crate::compose::example(variant));
        return Ok(0);
    }
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::config::load()?;
    let cwd = crate::sys::current_dir()?;
    let output = args.output.clone().map(|o| cwd.join(o)).unwrap_or_else(|| default_output(&cwd));
    let compose_dir = output.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.clone());
    let compose_dir = std::fs::canonicalize(&compose_dir).map_err(|_| {
        Error::usage(format!("folder {} does not exist", compose_dir.display()))
            .hint("create it, or choose another -o")
    })?;
    let output = compose_dir.join(output.file_name().ok_or_else(|| Error::usage("-o needs a file name"))?);
    let env_path = compose_dir.join(".env");
    // The engine is asked only where the file depends on it: `auto` (lab, GPUs, user), --up,
    // or over ssh (the file's paths are the remote's, checked there).
    let remote = crate::engine::is_remote(global.host.as_deref())?;
    let wizard = crate::wizard::wanted(&args.lab, &config);
    let gpus_explicit = match (&args.lab.gpus, &config.gpus) {
        (Some(flag), _) => flag != "auto",
        (None, Some(setting)) => *setting != gpu::GpuRequest::Auto,
        (None, None) => false,
    };
    let needs_engine = remote
        || args.up
        || wizard
        || args.lab.variant.or(config.variant).unwrap_or(Variant::Auto) == Variant::Auto
        || !gpus_explicit
        || args.lab.user.is_none();
    // Flags are checked before anything is touched or asked.
    crate::settings::precheck(global.host.as_deref(), &args.lab, &config, &compose_dir)?;
    let engine = match needs_engine {
        true => Some(crate::engine::Engine::connect(global.host.as_deref()).await?),
        false => None,
    };
    // Relative --workdir/--data/-v are taken from the compose file's folder, like compose does.
    let mut lab = match (wizard, &engine) {
        (true, Some(engine)) => crate::wizard::ask(&args.lab, &config, engine, &compose_dir).await?,
        _ => args.lab.clone(),
    };
    // Over ssh the file's paths are the remote's (checked there, the work folder by default the
    // remote one that stands for this folder); the files themselves are written here.
    if lab.workdir.is_none() && !remote {
        lab.workdir = Some(compose_dir.clone());
    }
    let settings = match (&engine, remote) {
        (Some(engine), true) => {
            crate::settings::on_engine(engine, &lab, &config, &compose_dir, &reporter).await?
        }
        _ => LabSettings::resolve(&lab, &config, &compose_dir)?,
    };
    if let Some(warning) = settings.exposure_warning() {
        reporter.warn(warning);
    }
    for path in [&output, &env_path] {
        if path.exists() && !args.force {
            return Err(Error::usage(format!("{} exists", path.display()))
                .hint("pass --force to overwrite it, or -o to write elsewhere"));
        }
    }

    let (settings, platform, decision) = match &engine {
        Some(engine) => {
            let (settings, platforms, decision) = crate::fit::settle_lab(engine, settings, &reporter).await?;
            (settings, platforms.explicit(), decision)
        }
        // Explicit lab, GPUs and user: written down without asking an engine.
        None => {
            let lab = settings.variant;
            let cuda = lab.lab_image().spec().has_cuda(settings.platform.unwrap_or(Arch::Amd64));
            let decision = gpu::decide(&settings.gpus, None, &Default::default(), cuda, lab.name())?;
            if let Some(note) = decision.note() {
                reporter.note(note);
            }
            let platform = settings.platform.map(Arch::platform);
            (settings, platform, decision)
        }
    };
    let variant = settings.variant;
    let attach = decision.attach;
    let model = match &engine {
        Some(engine) => Some(engine.model().await?.clone()),
        None => None,
    };
    let user = match (&model, &engine) {
        (Some(model), Some(engine)) => model.user_mapping(settings.user, engine.host.caller().await?),
        _ => UserMapping { user: settings.user, keep_id: false },
    };
    // Compose speaks the Docker API: the GPU request must be one this engine honours there.
    let gpu_form = match &model {
        Some(model) if attach != gpu::GpuAttach::None => {
            model.docker_api_gpu_form(crate::engine::model::DockerApiClient::Compose)?
        }
        _ => GpuForm::DeviceRequest,
    };
    // As `jupyter` picks it: --port, else the first free one from 8888 (8888 without an engine).
    let port = match &engine {
        Some(engine) => {
            crate::lab::start::pick_port(
                engine,
                settings.port,
                settings.listen,
                crate::ports::FIRST_PORT,
                &[],
            )
            .await?
        }
        None => settings.port.unwrap_or(crate::ports::FIRST_PORT),
    };
    let image_ref = settings.image().reference(config.registry());
    let mut plan = LaunchPlan::new(&settings, image_ref, port, user, attach, gpu_form);
    plan.platform = platform;
    let header = format!(
        "JupyterLab with dimtensor ({} variant), written by dimtensor-up {}.\nStart: docker compose up -d   Stop: docker compose down (your files and the `jupyter-settings` volume stay)\nURL:   http://{}:{port}/lab?token=<JUPYTER_TOKEN from .env>\nThe token is in .env beside this file (mode 600): keep .env out of version control.",
        variant.name(), env!("CARGO_PKG_VERSION"), crate::ports::connect_host(settings.listen)
    );
    let yaml = render(&plan, &compose_dir, &header);
    // Keep an existing token when overwriting with --force: open browsers keep working.
    let existing_env = std::fs::read_to_string(&env_path).unwrap_or_default();
    let token = strong_token_in(&existing_env).unwrap_or_else(crate::lab::token::new_token);
    crate::state::write_secret_file(&env_path, &merge_env_file(&existing_env, &token, user.user), 0o600)?;
    crate::state::write_atomic(&output, &yaml, 0o644, Kind::Usage)?;
    reporter.note(format!("wrote {} and {} (token inside, mode 600)", output.display(), env_path.display()));
    if !args.up {
        println!("{}", output.display());
        return Ok(0);
    }
    let engine = engine.expect("--up connects");
    crate::compose::up(&engine.endpoint, &output, &reporter)?;
    let server = wait_for_service(&engine, &settings.workdir, Duration::from_secs(args.timeout)).await?;
    let timeout = Duration::from_secs(args.timeout);
    if let Some(tunnel) = crate::lab::serve::open_tunnel(&engine, port).await? {
        // Ready, seen through a tunnel that ends with this process: `open` forwards it again.
        let (local, local_port) = tunnel.local();
        crate::lab::wait_ready(&engine, &server.id, local, local_port, &token, timeout).await?;
        reporter.note(format!(
            "JupyterLab runs on {} (its 127.0.0.1:{port}); open it here with: dimtensor-up open --host {}",
            tunnel.host(),
            engine.endpoint.address
        ));
        return Ok(0);
    }
    crate::lab::wait_ready(&engine, &server.id, settings.listen, port, &token, timeout).await?;
    let url = plan.url(&token);
    println!("{url}");
    if !args.no_browser {
        crate::browser::open_url(&url, port, &reporter).settled().await;
    }
    Ok(0)
}

async fn wait_for_service(
    engine: &crate::engine::Engine,
    workdir: &Path,
    timeout: Duration,
) -> Result<crate::lab::Server> {
    let running = crate::poll::until_ok(timeout, Duration::from_millis(200), || async {
        Ok::<_, Error>(crate::lab::for_workdir(engine, workdir).await?.filter(crate::lab::Server::running))
    })
    .await?;
    running.ok_or_else(|| {
        Error::new(Kind::Container, "the compose service did not start").hint("see `docker compose logs`")
    })
}
