//! `dimtensor-up compose`: the `jupyter` launch plan written as compose.yaml + .env (the file
//! it plans, `plan_file`), and with `--up` brought up and answering (`bring_up`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::engine::model::{GpuForm, UserMapping};
use crate::engine::Engine;
use crate::gpu;
use crate::plan::compose::{default_output, merge_env_file, render, strong_token_in};
use crate::plan::generated::{self, Replace};
use crate::plan::settings::LabSettings;
use crate::plan::settings::Prechecked;
use crate::plan::LaunchPlan;
use crate::spec::catalog::{Arch, Variant};
use crate::spec::cli::{ComposeArgs, GlobalArgs};
use crate::spec::config::Config;

/// Where the files go: `-o` (or ./compose.yaml), its folder (which must exist), and `.env`
/// beside it.
struct Paths {
    output: PathBuf,
    compose_dir: PathBuf,
    env: PathBuf,
}

fn paths(cwd: &Path, output: Option<&Path>) -> Result<Paths> {
    let output = output.map(|o| cwd.join(o)).unwrap_or_else(|| default_output(cwd));
    let compose_dir = output.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf());
    let compose_dir = std::fs::canonicalize(&compose_dir).map_err(|_| {
        Error::usage(format!("folder {} does not exist", compose_dir.display()))
            .hint("create it, or choose another -o")
    })?;
    let output = compose_dir.join(output.file_name().ok_or_else(|| Error::usage("-o needs a file name"))?);
    let env = compose_dir.join(".env");
    Ok(Paths { output, compose_dir, env })
}

/// Pure: whether the file depends on the engine: `auto` (lab, GPUs, user), --up, the wizard,
/// over ssh (the file's paths are the remote's, checked there), or a project image to build.
/// Otherwise the file is written without asking one. The settings settled before it decide.
fn needs_engine(args: &ComposeArgs, prechecked: &Prechecked, wizard: bool) -> bool {
    let Prechecked::Here(settings) = prechecked else { return true };
    !settings.project.is_empty()
        || args.up
        || wizard
        || settings.variant == Variant::Auto
        || settings.gpus == gpu::GpuRequest::Auto
        || settings.user.is_none()
}

/// The file planned: the launch plan it writes down and what `--up` needs of it.
struct Planned {
    plan: LaunchPlan,
    settings: LabSettings,
    user: UserMapping,
    /// What writing compose.yaml does to the one there.
    replace: Replace,
}

pub async fn run(global: &GlobalArgs, args: ComposeArgs) -> Result<u8> {
    if let Some(variant) = args.example {
        if variant == Variant::Auto {
            return Err(Error::usage("--example needs a lab").hint("one of base, ml, full"));
        }
        print!("{}", crate::plan::compose::example(variant));
        return Ok(0);
    }
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let cwd = crate::base::sys::current_dir()?;
    let paths = paths(&cwd, args.output.as_deref())?;
    let wizard = crate::lab::wizard::wanted(&args.lab, &config);
    // Flags are checked before anything is touched or asked.
    // (The work folder is the compose file's folder by default: `.` from there.)
    let prechecked =
        crate::plan::settings::precheck(global.host.as_deref(), &args.lab, &config, &paths.compose_dir)?;
    let engine = match needs_engine(&args, &prechecked, wizard) {
        true => Some(Engine::connect(global.host.as_deref()).await?),
        false => None,
    };
    let writing = Writing {
        engine: engine.as_ref(),
        args: &args,
        config: &config,
        paths: &paths,
        wizard,
        reporter: &reporter,
    };
    let planned = plan_file(&writing, prechecked).await?;
    let yaml = render(&planned.plan, &paths.compose_dir, &header(&planned.plan));
    // Keep an existing token when overwriting with --force: open browsers keep working.
    let existing_env = std::fs::read_to_string(&paths.env).unwrap_or_default();
    let token = strong_token_in(&existing_env).unwrap_or_else(crate::lab::token::new_token);
    let env = merge_env_file(&existing_env, &token, planned.user.user);
    crate::base::state::write_secret_file(&paths.env, &env, 0o600)?;
    generated::write(&paths.output, &generated::with_checksum(&yaml), planned.replace, &reporter)?;
    reporter.note(format!(
        "wrote {} and {} (token inside, mode 600)",
        paths.output.display(),
        paths.env.display()
    ));
    match (args.up, engine) {
        (true, Some(engine)) => bring_up(&engine, &planned, &paths.output, &token, &args, &reporter).await,
        _ => {
            println!("{}", paths.output.display());
            Ok(0)
        }
    }
}

/// What a run of `compose` works with, for the steps that plan its file.
struct Writing<'a> {
    engine: Option<&'a Engine>,
    args: &'a ComposeArgs,
    config: &'a Config,
    paths: &'a Paths,
    wizard: bool,
    reporter: &'a Reporter,
}

/// The settings, settled on the engine where one is asked, into the plan the file writes down.
async fn plan_file(w: &Writing<'_>, prechecked: Prechecked) -> Result<Planned> {
    let settings = file_settings(w, prechecked).await?;
    // compose.yaml by the rule for generated files; .env is merged (your lines and token stay).
    let replace =
        generated::check(&w.paths.output, w.args.force, "keep your edits, or -o to write elsewhere")?;
    let (settings, plan, user) = match w.engine {
        Some(engine) => plan_on_engine(engine, settings, w.config, w.reporter).await?,
        None => {
            let (plan, user) = plan_without_engine(&settings, w.config, w.reporter)?;
            (settings, plan, user)
        }
    };
    Ok(Planned { plan, settings, user, replace })
}

/// The lab's settings for the file: those settled before the engine was asked, the wizard's
/// answers where it asked, or, over ssh, the remote's. Relative --workdir, --data and -v are
/// taken from the compose file's folder, as compose does.
async fn file_settings(w: &Writing<'_>, prechecked: Prechecked) -> Result<LabSettings> {
    let Writing { engine, args, config, paths, wizard, reporter } = *w;
    let compose_dir = &paths.compose_dir;
    let settings = match (engine, prechecked) {
        (Some(engine), _) if wizard => {
            let mut lab = crate::lab::wizard::ask(&args.lab, config, engine, compose_dir).await?;
            if engine.host.ssh().is_none() {
                lab.workdir.get_or_insert_with(|| compose_dir.clone());
            }
            // Over ssh the answers' paths are the remote's, checked there.
            crate::plan::settings::on_engine(engine, &lab, config, compose_dir, reporter).await?
        }
        // Over ssh the file's paths are the remote's (checked there, the work folder by default
        // the remote one that stands for this folder); the files themselves are written here.
        (Some(engine), Prechecked::Remote) => {
            crate::plan::settings::on_engine(engine, &args.lab, config, compose_dir, reporter).await?
        }
        (_, Prechecked::Here(settings)) => *settings,
        (None, Prechecked::Remote) => unreachable!("over ssh the engine is always asked (needs_engine)"),
    };
    if let Some(warning) = settings.exposure_warning() {
        reporter.warn(warning);
    }
    Ok(settings)
}

/// Explicit lab, GPUs and user: written down without asking an engine.
fn plan_without_engine(
    settings: &LabSettings,
    config: &Config,
    reporter: &Reporter,
) -> Result<(LaunchPlan, UserMapping)> {
    let lab = settings.variant;
    let cuda = crate::image::cuda_need(lab.lab_image(), settings.platform.unwrap_or(Arch::Amd64));
    let decision = gpu::decide(&settings.gpus, None, &Default::default(), cuda.as_ref(), lab.name())?;
    if let Some(note) = decision.note() {
        reporter.note(note);
    }
    let user = UserMapping { user: settings.user, keep_id: false };
    let port = settings.port.unwrap_or(crate::spec::ports::FIRST_PORT);
    let image_ref = settings.image().reference(config.registry());
    let mut plan = LaunchPlan::new(settings, image_ref, port, user, decision.attach, GpuForm::DeviceRequest);
    plan.platform = settings.platform.map(Arch::platform);
    Ok((plan, user))
}

/// The lab settled on the engine, as `jupyter` settles it: `auto`, the GPUs, the user mapping,
/// the port, the project image (built here; the file names it by its tag), /dev/shm.
async fn plan_on_engine(
    engine: &Engine,
    settings: LabSettings,
    config: &Config,
    reporter: &Reporter,
) -> Result<(LabSettings, LaunchPlan, UserMapping)> {
    let (settings, platforms, decision) = crate::lab::fit::settle_lab(engine, settings, reporter).await?;
    let model = engine.model().await?;
    let user = model.user_mapping(settings.user, engine.host.caller().await?);
    // Compose speaks the Docker API: the GPU request must be one this engine honours there.
    let gpu_form = match decision.attach {
        gpu::GpuAttach::None => GpuForm::DeviceRequest,
        _ => model.docker_api_gpu_form(crate::engine::model::DockerApiClient::Compose)?,
    };
    // As `jupyter` picks it: --port, else the first free one from 8888.
    let port = crate::lab::start::pick_port(
        engine,
        settings.port,
        None,
        settings.listen,
        crate::spec::ports::FIRST_PORT,
        &[],
    )
    .await?;
    let mut image_ref = settings.image().reference(config.registry());
    if !settings.project.is_empty() {
        let policy = config.pull.unwrap_or_default();
        let (lab_ref, _) =
            crate::image::ensure(engine, settings.image(), platforms, config, policy, false, reporter)
                .await?;
        image_ref = crate::image::project::ensure(
            engine, &lab_ref, &settings.project, &settings.workdir, platforms, config, reporter,
        )
        .await?;
    } else {
        for note in &settings.project.notes {
            reporter.note(note);
        }
    }
    let mut plan = LaunchPlan::new(&settings, image_ref, port, user, decision.attach, gpu_form);
    plan.platform = platforms.explicit();
    plan.ca_bundle = plan.ca_bundle.filter(|_| model.sees_every_host_file());
    let engine_memory = engine.memory().await?;
    plan.shm_size.get_or_insert(crate::plan::default_shm_size(engine_memory));
    Ok((settings, plan, user))
}

/// The comment at the top of the file: what it is, how to start and stop it, its URL.
fn header(plan: &LaunchPlan) -> String {
    format!(
        "JupyterLab with dimtensor ({} variant), written by dimtensor-up {}.\nStart: docker compose up -d   Stop: docker compose down (your files and the `jupyter-settings` volume stay)\nURL:   http://{}:{}/lab?token=<JUPYTER_TOKEN from .env>\nThe token is in .env beside this file (mode 600): keep .env out of version control.",
        plan.variant.name(),
        env!("CARGO_PKG_VERSION"),
        crate::spec::ports::connect_host(plan.listen),
        plan.host_port
    )
}

/// `--up`: `docker compose up -d`, then the service's JupyterLab answering, then the URL.
async fn bring_up(
    engine: &Engine,
    planned: &Planned,
    file: &Path,
    token: &str,
    args: &ComposeArgs,
    reporter: &Reporter,
) -> Result<u8> {
    let port = planned.plan.host_port;
    let timeout = Duration::from_secs(args.timeout);
    crate::plan::compose::up(&engine.endpoint, file, reporter)?;
    let server = wait_for_service(engine, &planned.settings.workdir, timeout).await?;
    if let Some(tunnel) = crate::lab::tunnel::open_tunnel(engine, port, None).await? {
        // Ready, seen through a tunnel that ends with this process: `open` forwards it again.
        let (local, local_port) = tunnel.local();
        crate::lab::wait_ready(engine, &server.id, local, local_port, token, timeout).await?;
        reporter.note(format!(
            "JupyterLab runs on {} (its 127.0.0.1:{port}); open it here with: dimtensor-up open --host {}",
            tunnel.host(),
            engine.endpoint.address
        ));
        return Ok(0);
    }
    crate::lab::wait_ready(engine, &server.id, planned.settings.listen, port, token, timeout).await?;
    let url = planned.plan.url(token);
    println!("{url}");
    if !args.no_browser {
        crate::lab::browser::open_url(&url, port, reporter).settled().await;
    }
    Ok(0)
}

async fn wait_for_service(
    engine: &crate::engine::Engine,
    workdir: &Path,
    timeout: Duration,
) -> Result<crate::lab::Server> {
    let running = crate::base::poll::until_ok(timeout, Duration::from_millis(200), || async {
        Ok::<_, Error>(crate::lab::for_workdir(engine, workdir).await?.filter(crate::lab::Server::running))
    })
    .await?;
    running.ok_or_else(|| {
        Error::new(Kind::Container, "the compose service did not start").hint("see `docker compose logs`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn compose_args(flags: &[&str]) -> ComposeArgs {
        let argv = [&["dimtensor-up", "compose"], flags].concat();
        match crate::spec::cli::Cli::parse_from(argv).command {
            crate::spec::cli::Command::Compose(args) => args,
            _ => unreachable!("a compose command line"),
        }
    }

    #[test]
    fn the_engine_is_asked_only_where_the_file_depends_on_it() {
        let (_dir, folder) = crate::base::state::test_folder();
        let here = |args: &ComposeArgs, config: &Config| {
            Prechecked::Here(Box::new(LabSettings::resolve(&args.lab, config, &folder).unwrap()))
        };
        let explicit = compose_args(&["--variant", "base", "--gpus", "none", "--user", "1000:1000"]);
        let none = Config::default();
        assert!(!needs_engine(&explicit, &here(&explicit, &none), false), "everything named: no engine");
        assert!(needs_engine(&explicit, &Prechecked::Remote, false), "over ssh the paths are the remote's");
        assert!(needs_engine(&explicit, &here(&explicit, &none), true), "the wizard asks the engine");
        let up = compose_args(&["--variant", "base", "--gpus", "none", "--user", "1000:1000", "--up"]);
        assert!(needs_engine(&up, &here(&up, &none), false));
        for missing in [
            compose_args(&["--gpus", "none", "--user", "1000:1000"]),
            compose_args(&["--variant", "base", "--user", "1000:1000"]),
            compose_args(&["--variant", "base", "--gpus", "auto", "--user", "1000:1000"]),
            compose_args(&["--variant", "base", "--gpus", " auto ", "--user", "1000:1000"]),
            compose_args(&["--variant", "base", "--gpus", "none"]),
        ] {
            assert!(needs_engine(&missing, &here(&missing, &none), false), "{missing:?}");
        }
        // The settings file counts as naming them.
        let settings =
            Config { variant: Some(Variant::Ml), gpus: Some(gpu::GpuRequest::All), ..Default::default() };
        let user_only = compose_args(&["--user", "1:1"]);
        assert!(!needs_engine(&user_only, &here(&user_only, &settings), false));
        let auto = compose_args(&["--user", "1:1", "--gpus", "auto"]);
        assert!(needs_engine(&auto, &here(&auto, &settings), false));
        // A project image is built there.
        std::fs::write(folder.join("requirements.txt"), "tabulate\n").unwrap();
        assert!(needs_engine(&explicit, &here(&explicit, &none), false), "a project image is built there");
    }

    #[test]
    fn the_file_goes_where_o_says_and_env_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        let p = paths(&cwd, None).unwrap();
        assert_eq!((p.output.clone(), p.env.clone()), (cwd.join("compose.yaml"), cwd.join(".env")));
        std::fs::create_dir(cwd.join("lab")).unwrap();
        let p = paths(&cwd, Some(Path::new("lab/x.yaml"))).unwrap();
        assert_eq!((p.output, p.compose_dir.clone()), (cwd.join("lab/x.yaml"), cwd.join("lab")));
        let err = paths(&cwd, Some(Path::new("missing/x.yaml"))).err().unwrap();
        assert!(err.message.contains("does not exist") && err.hint.is_some(), "{err:?}");
    }
}
