//! `dimtensor-up jupyter`: settings → lab (image, GPUs, port, container, ready) → URL → browser,
//! then the server held in the foreground until Ctrl-C (or left running with --detach).

use serde_json::json;

use crate::base::error::Result;
use crate::base::reporter::Reporter;
use crate::engine::Engine;
use crate::lab::start::{LabStart, StartOptions, Started};
use crate::spec::cli::{GlobalArgs, JupyterArgs};

pub async fn run(global: &GlobalArgs, args: JupyterArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet || args.json, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    let cwd = crate::base::sys::current_dir()?;
    // Every flag is validated before the engine is touched or a question asked (over ssh, the
    // paths are checked on the remote once it answers).
    if crate::cluster::Cluster::wanted(global.host.as_deref(), global.slurm, &config) {
        return run_as_job(global, &args, &config, &cwd, &reporter).await;
    }
    let prechecked = crate::plan::settings::precheck(global.host.as_deref(), &args.lab, &config, &cwd)?;
    let engine = Engine::connect(global.host.as_deref()).await?;
    let settings = match crate::lab::wizard::wanted(&args.lab, &config) {
        true => {
            let mut answers = crate::lab::wizard::ask(&args.lab, &config, &engine, &cwd).await?;
            if engine.host.ssh().is_some() {
                // The folder question is about this machine; over ssh the remote folder stands.
                answers.workdir = args.lab.workdir.clone();
            }
            // The answers are new flags: settled as such.
            crate::plan::settings::on_engine(&engine, &answers, &config, &cwd, &reporter).await?
        }
        false => prechecked.on(&engine, &args.lab, &config, &cwd, &reporter).await?,
    };

    if let Some(warning) = settings.exposure_warning() {
        reporter.warn(warning);
    }
    // Ctrl-C or SIGTERM at any point before the server is handed over removes what was
    // created; one signal future for the whole run, so no signal falls between two of them.
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    let options = StartOptions {
        pull: args.source.pull.or(config.pull).unwrap_or_default(),
        build: args.source.build,
        named: args.lab.variant.filter(|v| *v != crate::spec::catalog::Variant::Auto),
        timeout: std::time::Duration::from_secs(args.timeout),
        new_token: args.new_token,
    };
    let started = LabStart::new(&engine, &settings, &config, &options, &reporter).run(stop.as_mut()).await?;
    if settings.user_packages {
        report_hand_installed(&engine, &started, &reporter).await;
    }
    let remote = engine.host.ssh().map(|t| t.display());
    if args.detach && remote.is_some() {
        // The tunnel ends with this process: the server stays, `open` forwards it again.
        report_detached_remote(&started, &args, &reporter, &engine.endpoint.address.to_string());
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
    crate::lab::serve::serve(&engine, started, stop, owns, &reporter).await
}

/// The job's flags, every one checked before the cluster is asked. `--gpus` counts GPUs as the
/// cluster does (`a100:1`): read as such; the rest as for any lab.
fn job_flags(
    global: &GlobalArgs,
    args: &JupyterArgs,
    config: &crate::spec::config::Config,
    cwd: &std::path::Path,
) -> Result<crate::cluster::JobFlags> {
    let mut lab = args.lab.clone();
    let gpus = lab.gpus.take().map(|text| crate::plan::slurm::JobGpus::parse(&text)).transpose()?;
    crate::plan::settings::precheck(global.host.as_deref(), &lab, config, cwd)?;
    let time =
        args.job.time.as_deref().map(|t| crate::base::units::parse_duration(t, "--time")).transpose()?;
    Ok(crate::cluster::JobFlags {
        gpus,
        partition: args.job.partition.clone(),
        time,
        account: args.job.account.clone(),
        sbatch_args: args.job.sbatch_args.clone(),
        timeout: std::time::Duration::from_secs(args.timeout),
        new_token: args.new_token,
    })
}

/// `--slurm`: the lab as a job on the cluster's nodes; this folder's running job is re-used.
async fn run_as_job(
    global: &GlobalArgs,
    args: &JupyterArgs,
    config: &crate::spec::config::Config,
    cwd: &std::path::Path,
    reporter: &Reporter,
) -> Result<u8> {
    use crate::cluster::{self, Cluster};
    let flags = job_flags(global, args, config, cwd)?;
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    let cluster = Cluster::connect(global.host.as_deref(), config).await?;
    let workdir = args.lab.workdir.as_deref();
    let (folder, existing) = cluster::job_for_folder(&cluster, workdir).await?;
    let (lab, owns) = match existing {
        Some(job) if job.state == crate::plan::slurm::JobState::Running => {
            reporter.note(format!("JupyterLab already runs for this folder as job {}", job.job));
            (cluster::reopen(&cluster, &job, &folder, reporter).await?, false)
        }
        Some(job) => {
            return Err(crate::base::error::Error::usage(format!(
                "this folder's lab is already job {} ({})",
                job.job,
                job.state.word().to_lowercase()
            ))
            .hint("`dimtensor-up ps --slurm` shows it; `dimtensor-up stop --slurm` cancels it"))
        }
        None => {
            let lab =
                cluster::start(&cluster, &args.lab, &flags, config, cwd, reporter, stop.as_mut()).await?;
            (lab, true)
        }
    };
    reporter.note(format!(
        "JupyterLab runs in job {} on {}, reached through {}",
        lab.job,
        lab.node,
        cluster.target.display()
    ));
    if args.json {
        let value = json!({"url": lab.url, "job": lab.job, "node": lab.node, "workdir": lab.workdir});
        println!("{value}");
    } else {
        println!("{}", lab.url);
    }
    let port = lab.tunnel.local().1;
    let hand_off = (!args.no_browser).then(|| crate::lab::browser::open_url(&lab.url, port, reporter));
    if args.detach {
        if let Some(hand_off) = hand_off {
            hand_off.settled().await;
        }
        let host = global.host.as_deref().unwrap_or_default();
        reporter.note(format!(
            "job {} keeps running until its time limit; `dimtensor-up open --host {host} --slurm` opens it again, `dimtensor-up stop --host {host} --slurm` cancels it",
            lab.job
        ));
        if let Some(file) = lab.token_file {
            file.keep();
        }
        return Ok(0);
    }
    reporter.note(match owns {
        true => "JupyterLab runs until Ctrl-C, which cancels the job; your files stay on the cluster.",
        false => "the tunnel stays open until Ctrl-C; the job keeps running after it.",
    });
    let _hand_off = hand_off;
    cluster::serve(&cluster, lab, owns, reporter, stop).await
}

/// Once per start: what `pip install` in the lab added, kept for this folder but listed in no
/// project file.
async fn report_hand_installed(engine: &Engine, started: &Started, reporter: &Reporter) {
    let Some(packages) = crate::lab::hand_installed(engine, &started.server.id).await else { return };
    if packages.is_empty() {
        reporter.detail("`pip install` in the lab keeps packages for this folder (none so far)");
        return;
    }
    reporter.note(format!(
        "{} package(s) installed by hand in this folder's lab are kept: {}; to make them part of the project, run `pip freeze --user >> requirements.txt` in the lab's terminal (--no-user-packages starts without them)",
        packages.len(),
        packages.join(", ")
    ));
}

/// The URL (or JSON) on stdout first, then the browser.
fn report(
    started: &Started,
    args: &JupyterArgs,
    reporter: &Reporter,
) -> Option<crate::lab::browser::HandOff> {
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
    (!args.no_browser).then(|| crate::lab::browser::open_url(&started.url, started.server.port, reporter))
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
