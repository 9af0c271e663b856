//! `dimtensor-up run <image> [-- CMD…]`: like `docker run --rm`, with the folder mounted at
//! /home/dimtensor/work, the caller's UID and the exit code passed through.

use std::io::IsTerminal;

use bollard::container::AttachContainerResults;
use bollard::query_parameters::AttachContainerOptionsBuilder;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::base::error::{Error, Result};
use crate::spec::cli::{GlobalArgs, LabArgs, RunArgs};

use crate::base::reporter::Reporter;
use crate::lab::CreateFailure;
use crate::plan::{LaunchPlan, Role};
use crate::spec::catalog::Platforms;

pub async fn run(global: &GlobalArgs, args: RunArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let cwd = crate::base::sys::current_dir()?;
    // The same settings rules as `jupyter`, for the parts `run` has.
    let lab = LabArgs {
        workdir: args.workdir.clone(),
        gpus: args.gpus.clone(),
        user: args.user.clone(),
        // A command runs the image as it is: no project image, no lab's packages volume.
        no_requirements: true,
        no_user_packages: true,
        ..Default::default()
    };
    let prechecked = crate::plan::settings::precheck(global.host.as_deref(), &lab, &config, &cwd)?;
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let settings = prechecked.on(&engine, &lab, &config, &cwd, &reporter).await?;
    let policy = args.source.pull.or(config.pull).unwrap_or_default();
    let platforms = Platforms::new(engine.platform().await?, settings.platform);
    let (image_ref, _) =
        crate::image::ensure(&engine, args.image, platforms, &config, policy, args.source.build, &reporter)
            .await?;
    let spec = args.image.spec();
    let decision = crate::lab::fit::decide_on(
        &engine,
        &settings.gpus,
        crate::image::cuda_need(args.image, platforms.images).as_ref(),
        spec.tag,
    )
    .await?;
    if let Some(note) = decision.note() {
        reporter.detail(note);
    }
    let model = engine.model().await?;
    let user = model.user_mapping(settings.user, engine.host.caller().await?);
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // The same plan as `jupyter` (mounts, user mapping, GPUs, hardening); only the role differs.
    let plan = LaunchPlan::new(&settings, image_ref, 0, user, decision.attach, model.gpu_form());
    let id = match crate::lab::create(&engine, &plan, Role::Command { cmd: &args.command, tty }).await {
        Ok(id) => id,
        Err(CreateFailure::Refused(message)) => return Err(crate::lab::start::start_error(&message)),
        Err(CreateFailure::Failed(e)) => return Err(e),
        Err(CreateFailure::NameTaken) => unreachable!("a command container has no name"),
    };
    // From here on every way out removes the container (`docker run --rm`).
    let result = attach_and_wait(&engine, &id, tty).await;
    let _ = crate::lab::remove(&engine, &id, None).await;
    result
}

/// Streams the container's output, feeds it stdin, and returns its exit code.
async fn attach_and_wait(engine: &crate::engine::Engine, id: &str, interactive: bool) -> Result<u8> {
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    let options =
        AttachContainerOptionsBuilder::default().stdin(true).stdout(true).stderr(true).stream(true).build();
    let AttachContainerResults { mut output, mut input } = engine
        .docker
        .attach_container(id, Some(options))
        .await
        .map_err(|e| engine.fail("attaching to the container", e))?;
    if let Err(e) =
        engine.docker.start_container(id, None::<bollard::query_parameters::StartContainerOptions>).await
    {
        return Err(crate::lab::start::start_error(&crate::base::error::engine_message(&e)));
    }
    let raw = interactive.then(RawMode::enable);
    // stdin is read on a plain thread: a blocking read there never holds up the exit.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdin, &mut buf) {
            if n == 0 || tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if input.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = input.shutdown().await;
    });
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let interrupted = loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(bollard::container::LogOutput::StdErr { message })) => {
                    let _ = stderr.write_all(&message).await;
                    let _ = stderr.flush().await;
                }
                Some(Ok(out)) => {
                    let _ = stdout.write_all(&out.into_bytes()).await;
                    let _ = stdout.flush().await;
                }
                Some(Err(_)) | None => break false,
            },
            // In a TTY, Ctrl-C is a byte for the container; SIGTERM/SIGHUP still end the run.
            _ = &mut stop => break true,
        }
    };
    drop(raw);
    if interrupted {
        return Err(Error::interrupted());
    }
    let mut wait = engine.docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    let code = crate::lab::exit_code(&wait.next().await).unwrap_or(1);
    Ok(code.clamp(0, 255) as u8)
}

/// The terminal in raw mode while attached to a container's TTY (the container echoes).
#[cfg(unix)]
struct RawMode(Option<rustix::termios::Termios>);

#[cfg(unix)]
impl RawMode {
    fn enable() -> RawMode {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let stdin = rustix::stdio::stdin();
        let Ok(original) = tcgetattr(stdin) else { return RawMode(None) };
        let mut raw = original.clone();
        raw.make_raw();
        let _ = tcsetattr(stdin, OptionalActions::Now, &raw);
        RawMode(Some(original))
    }
}

#[cfg(unix)]
impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(original) = &self.0 {
            let _ = rustix::termios::tcsetattr(
                rustix::stdio::stdin(),
                rustix::termios::OptionalActions::Now,
                original,
            );
        }
    }
}

#[cfg(not(unix))]
struct RawMode;

#[cfg(not(unix))]
impl RawMode {
    fn enable() -> RawMode {
        RawMode
    }
}
