//! Starting a lab as a job: its settings and request, the SIF, the node's script from the
//! `LaunchPlan`, `sbatch --test-only` then the job, the queue, the node's port, the tunnel.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::connect::{Cluster, JOB_FILES};
use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::base::sys::{sh_quote, sh_quote_path};
use crate::engine::ssh::RemoteFolders;
use crate::lab::address::KeptAddress;
use crate::lab::token::TokenFile;
use crate::lab::tunnel::Tunnel;
use crate::plan::slurm::{JobGpus, JobRequest, NodeLab, NodeSays};
use crate::spec::cli::LabArgs;
use crate::spec::config::Config;

/// What `jupyter --slurm` asks of the job (flags over the host's settings).
pub struct JobFlags {
    /// `--gpus`, where given: GPUs as the cluster counts them (Some(None): none asked for);
    /// else the host's `gpus` setting decides.
    pub gpus: Option<Option<JobGpus>>,
    pub partition: Option<String>,
    pub time: Option<u64>,
    pub account: Option<String>,
    pub sbatch_args: Vec<String>,
    /// How long JupyterLab may take to answer once the job runs (the queue is not counted).
    pub timeout: Duration,
    /// --new-token: not the token this folder's lab had.
    pub new_token: bool,
}

/// A lab in a running job, its way in from here, and what to hand to `serve`.
pub struct ClusterLab {
    pub job: String,
    pub node: String,
    pub url: String,
    pub token_file: Option<TokenFile>,
    pub tunnel: Tunnel,
    pub workdir: PathBuf,
}

/// Submits the lab's job, waits for it in the queue, then for JupyterLab; on Ctrl-C or any
/// failure the job is cancelled and the token file removed. The status line updates in place on
/// a terminal and is printed when it changes otherwise.
pub async fn start(
    cluster: &Cluster,
    lab_args: &LabArgs,
    flags: &JobFlags,
    config: &Config,
    cwd: &Path,
    reporter: &Reporter,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<ClusterLab> {
    let (settings, request) = job_settings(cluster, lab_args, flags, config, cwd, reporter).await?;
    let image_ref =
        settings.image().versioned_reference(config.registry(), crate::spec::catalog::DIMTENSOR_VERSION);
    let sif = sif_for(cluster, &image_ref, reporter).await?;
    let state = cluster.state_dir();
    cluster.target.run(&format!("mkdir -p {0} && chmod 700 {0}", sh_quote_path(&state)), None).await?;
    // The token and local port this folder's lab had: an editor's URL keeps working.
    let kept = crate::lab::address::kept_at(&cluster.address, &settings.workdir).filter(|_| !flags.new_token);
    let kept_port = kept.as_ref().map(|k| k.port);
    let token = kept.map(|k| k.token).unwrap_or_else(crate::lab::token::new_token);
    let name = format!("{}-{}", request.name, crate::base::state::random_hex(4));
    let token_file = TokenFile::write_remote(&cluster.target, &cluster.user.home, &name, &token).await?;
    let script = node_script(cluster, &settings, &request, image_ref, &sif, &token_file, &state);
    let job = submit(cluster, &request, &state, &script, reporter).await?;
    // From here a Ctrl-C or a failure cancels the job.
    let waited = tokio::select! {
        waited = wait_for_lab(cluster, &job, &token, flags.timeout, kept_port, reporter) => waited,
        _ = &mut stop => Err(Error::interrupted()),
    };
    match waited {
        Ok((node, tunnel)) => {
            let url = tunnel.url(&token);
            let (listen, port) = tunnel.local();
            let kept = KeptAddress { listen, port, token };
            if let Err(e) = crate::lab::address::keep_at(&cluster.address, &settings.workdir, &kept) {
                reporter.warn(format!("the lab's URL was not kept for its next start: {e}"));
            }
            Ok(ClusterLab { job, node, url, token_file: Some(token_file), tunnel, workdir: settings.workdir })
        }
        Err(e) => {
            reporter.always(format!("cancelling job {job}"));
            cluster.cancel(&job).await;
            drop(token_file);
            Err(e)
        }
    }
}

/// The lab's settings on the cluster (its work folder on the shared file system, as for a
/// workstation over ssh) and the job that asks for it. A GPU job gets a GPU lab.
async fn job_settings(
    cluster: &Cluster,
    lab_args: &LabArgs,
    flags: &JobFlags,
    config: &Config,
    cwd: &Path,
    reporter: &Reporter,
) -> Result<(crate::plan::settings::LabSettings, JobRequest)> {
    let target = &cluster.target;
    let mut args = lab_args.clone();
    // The job's GPUs are the job's (`flags.gpus`), not a container's request.
    args.gpus = None;
    let gpus = match &flags.gpus {
        Some(given) => given.clone(),
        None => cluster.settings.gpus.as_deref().map(JobGpus::parse).transpose()?.flatten(),
    };
    let text = target.run(&crate::engine::ssh::who_am_i_and_folder_for(cwd, true), None).await?;
    let mut known = Vec::new();
    if args.workdir.is_none() {
        let folder = text.lines().nth(3).map(str::trim).filter(|l| l.starts_with('/')).map(PathBuf::from);
        let folder = folder.ok_or_else(|| {
            Error::new(Kind::Engine, format!("cannot create the work folder on {}", target.display()))
                .hint("check that your home folder there is writable, or pass --workdir")
        })?;
        reporter.note(format!("working in {} on {}", folder.display(), target.display()));
        known.push(folder.clone());
        args.workdir = Some(folder);
    }
    let folders = RemoteFolders { target, home: cluster.user.home.clone(), known };
    let mut settings =
        crate::plan::settings::LabSettings::resolve_in(&args, config, &cluster.user.home, &folders)?;
    let request = JobRequest {
        name: settings.container_name(),
        partition: flags.partition.clone().or_else(|| cluster.settings.partition.clone()),
        time: flags.time.or(cluster.settings.time.map(|s| s.0)),
        gpus,
        gpu_flag: cluster.settings.gpu_flag.unwrap_or_default(),
        account: flags.account.clone().or_else(|| cluster.settings.account.clone()),
        extra: cluster.settings.sbatch_args.iter().chain(&flags.sbatch_args).cloned().collect(),
    };
    let outlook = match request.wants_gpus() {
        true => crate::lab::fit::GpuOutlook::Usable,
        false => {
            crate::lab::fit::GpuOutlook::Unusable("the job asks for no GPUs (--gpus N asks for some)".into())
        }
    };
    if settings.variant == crate::spec::catalog::Variant::Auto {
        reporter.note(crate::lab::fit::auto_lab_line(cluster.arch, &outlook));
        settings.variant = crate::lab::fit::auto_lab(cluster.arch, &outlook);
    }
    Ok((settings, request))
}

/// The job's script: the lab from the same `LaunchPlan` as `jupyter`'s container, run by the
/// node's Apptainer (the SIF) or its Podman/Docker, as the cluster user.
fn node_script(
    cluster: &Cluster,
    settings: &crate::plan::settings::LabSettings,
    request: &JobRequest,
    image_ref: String,
    sif: &Path,
    token_file: &TokenFile,
    state: &Path,
) -> String {
    let user = crate::engine::model::UserMapping {
        user: Some(crate::base::sys::UserSpec { uid: cluster.user.uid, gid: cluster.user.gid }),
        keep_id: false,
    };
    let attach = if request.wants_gpus() { crate::gpu::GpuAttach::All } else { crate::gpu::GpuAttach::None };
    let mut plan = crate::plan::LaunchPlan::new(
        settings,
        image_ref,
        0,
        user,
        attach,
        crate::engine::model::GpuForm::DeviceRequest,
    );
    plan.ca_bundle = None;
    let runtimes: Vec<&str> = match cluster.settings.runtime.as_deref() {
        Some(one) => vec![one],
        None => crate::plan::slurm::RUNTIMES.to_vec(),
    };
    NodeLab {
        plan: &plan,
        token_file: token_file.path(),
        sif,
        state_dir: state,
        gpus: request.wants_gpus(),
        runtimes: &runtimes,
    }
    .script()
}

/// `sbatch --test-only` first (Slurm's refusals said with hints, nothing submitted), then the
/// job itself: its ID.
async fn submit(
    cluster: &Cluster,
    request: &JobRequest,
    state: &Path,
    script: &str,
    reporter: &Reporter,
) -> Result<String> {
    let log = state.join("%j.log");
    let sbatch = |test_only: bool| {
        let args: Vec<String> = request.sbatch_args(&log, test_only).iter().map(|a| sh_quote(a)).collect();
        format!("sbatch {}", args.join(" "))
    };
    let (code, said) = cluster.run_status(&sbatch(true), Some(script.as_bytes())).await?;
    // Nodes drained or busy now is no refusal: the job waits for them, and the queue says why.
    if code != 0 && !crate::plan::slurm::only_unavailable_now(&said) {
        return Err(cluster.refusal(&said, request).await);
    }
    let (code, said) = cluster.run_status(&sbatch(false), Some(script.as_bytes())).await?;
    let job = said.trim().lines().last().unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
    if code != 0 || job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
        return Err(cluster.refusal(&said, request).await);
    }
    reporter.note(format!(
        "submitted job {job} ({}{}) on {}",
        request.partition.as_deref().map(|p| format!("partition {p}, ")).unwrap_or_default(),
        request
            .time
            .map(crate::plan::slurm::slurm_time)
            .map(|t| format!("time limit {t}"))
            .unwrap_or_else(|| "the partition's time limit".into()),
        cluster.target.display()
    ));
    Ok(job)
}

/// The SIF the node's Apptainer runs: converted once on the login node, where it has Apptainer
/// (a node without it runs the image through its Podman or Docker instead).
async fn sif_for(cluster: &Cluster, image_ref: &str, reporter: &Reporter) -> Result<PathBuf> {
    let (dir, why) = crate::plan::slurm::sif_cache(
        cluster.settings.image_cache.as_deref(),
        cluster.scratch.as_deref(),
        &cluster.user.home,
    );
    let sif = dir.join(crate::plan::slurm::sif_name(image_ref));
    let Some(runtime) = &cluster.login_runtime else { return Ok(sif) };
    let (d, s) = (sh_quote_path(&dir), sh_quote_path(&sif));
    if cluster.target.run(&format!("test -f {s} && echo HAVE; true"), None).await?.trim() == "HAVE" {
        return Ok(sif);
    }
    reporter.note(format!("converting {image_ref} to {} with {runtime}, once ({why})", sif.display()));
    let spinner = reporter.spinner(format!("{runtime} pull"));
    let script = format!(
        "mkdir -p {d} && APPTAINER_CACHEDIR={d}/.cache SINGULARITY_CACHEDIR={d}/.cache {runtime} pull {s}.tmp docker://{} && mv -f {s}.tmp {s}",
        sh_quote(image_ref)
    );
    let (code, said) = cluster.run_status(&script, None).await?;
    spinner.finish_and_clear();
    if code != 0 {
        return Err(Error::new(Kind::Image, format!("{runtime} could not convert {image_ref}"))
            .cause(said.trim().lines().last().unwrap_or("").to_string())
            .hint("check the login node's network and quota; `image-cache` in the host's settings names another folder"));
    }
    Ok(sif)
}

/// While the job is pending: the one line that updates (without a terminal, a line when the
/// state or Slurm's reason changes). No deadline: a queue can take hours, and Ctrl-C cancels.
async fn wait_in_queue(
    cluster: &Cluster,
    job: &str,
    spinner: &indicatif::ProgressBar,
    reporter: &Reporter,
) -> Result<()> {
    let told = std::cell::RefCell::new(None);
    crate::base::poll::watch_ok(Duration::from_millis(500), || async {
        let Some(status) = cluster.status_of(job).await?.filter(|s| s.pending()) else { return Ok(Some(())) };
        let line = status.waiting_line(job);
        let now = Some((status.state, status.reason));
        if *told.borrow() != now && !reporter.is_tty() {
            reporter.note(&line);
        }
        spinner.set_message(line);
        *told.borrow_mut() = now;
        Ok(None)
    })
    .await
}

/// Once the job runs: what its script says, until it names the node's port (or `timeout`).
async fn wait_for_node(
    cluster: &Cluster,
    job: &str,
    timeout: Duration,
    spinner: &indicatif::ProgressBar,
) -> Result<(String, u16)> {
    let found = crate::base::poll::until_ok(timeout, Duration::from_millis(500), || async {
        let status = cluster.status_of(job).await?;
        if status.as_ref().is_some_and(|s| s.pending()) {
            return Ok(None);
        }
        let ended = |what: String| async move {
            let mut err = Error::new(Kind::Container, what);
            for line in cluster.log_tail(job).await.lines().filter(|l| !l.trim().is_empty()) {
                err = err.cause(line.to_string());
            }
            err.hint(format!("the job's log is in ~/{JOB_FILES} on the cluster"))
        };
        match (cluster.node_says(job).await?, &status) {
            (NodeSays::Running { port, host }, _) => Ok(Some((status.and_then(|s| s.node).unwrap_or(host), port))),
            (NodeSays::NoRuntime { host }, _) => {
                let tried = cluster
                    .settings
                    .runtime
                    .clone()
                    .unwrap_or_else(|| crate::plan::slurm::RUNTIMES.join(", "));
                Err(Error::new(Kind::Container, format!("no container runtime on node {host}: none of {tried} is installed there"))
                    .hint("ask the cluster's admins which container runtime the nodes have (Apptainer usually), or pick a --partition whose nodes have one"))
            }
            (NodeSays::NoImage { path }, _) => Err(Error::new(Kind::Image, format!("the node has Apptainer but no image at {path}"))
                .hint("the login node has no Apptainer to convert it: run `apptainer pull` of the lab image into that file on a node")),
            (NodeSays::Ended(why), _) => Err(ended(format!("JupyterLab in job {job} stopped ({why})")).await),
            (NodeSays::Starting, None) => {
                let how = cluster.how_it_ended(job).await;
                Err(ended(format!("job {job} ended before JupyterLab answered: {how}")).await)
            }
            (NodeSays::Starting, Some(status)) => {
                spinner.set_message(format!(
                    "job {job} running on {}: starting JupyterLab",
                    status.node.as_deref().unwrap_or("its node")
                ));
                Ok(None)
            }
        }
    })
    .await?;
    found.ok_or_else(|| {
        Error::new(
            Kind::Container,
            format!("JupyterLab in job {job} did not start within {} s", timeout.as_secs()),
        )
        .hint(format!("the job's log is in ~/{JOB_FILES} on the cluster; --timeout waits longer"))
    })
}

/// The queue, then the lab: the waiting line while pending, the status file once running, the
/// tunnel to the node's port, JupyterLab's answer to the token.
async fn wait_for_lab(
    cluster: &Cluster,
    job: &str,
    token: &str,
    timeout: Duration,
    prefer: Option<u16>,
    reporter: &Reporter,
) -> Result<(String, Tunnel)> {
    let spinner = reporter.spinner(format!("job {job} submitted"));
    let found = match wait_in_queue(cluster, job, &spinner, reporter).await {
        Ok(()) => wait_for_node(cluster, job, timeout, &spinner).await,
        Err(e) => Err(e),
    };
    spinner.finish_and_clear();
    let (node, port) = found?;
    let address = node_address(cluster, &node).await;
    let tunnel = Tunnel::open_to(&cluster.target, &address, port, prefer).await?;
    let (_, local) = tunnel.local();
    let ready = crate::base::poll::until(timeout, Duration::from_millis(250), || async {
        (crate::lab::ready::http_status("127.0.0.1", local, "/api/status", Some(token)).await == Some(200))
            .then_some(())
    })
    .await;
    if ready.is_none() {
        return Err(Error::new(
            Kind::Container,
            format!("JupyterLab in job {job} did not answer within {} s", timeout.as_secs()),
        )
        .hint(format!("the job's log is in ~/{JOB_FILES} on the cluster; --timeout waits longer")));
    }
    Ok((node, tunnel))
}

/// Where the login node reaches a node: its NodeAddr (names are not always resolvable).
pub(super) async fn node_address(cluster: &Cluster, node: &str) -> String {
    let said = cluster
        .target
        .run(&format!("scontrol show node -o {} 2>/dev/null; true", sh_quote(node)), None)
        .await;
    said.ok()
        .and_then(|s| s.split_whitespace().find_map(|kv| kv.strip_prefix("NodeAddr=")).map(str::to_string))
        .unwrap_or_else(|| node.to_string())
}
