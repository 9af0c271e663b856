//! A lab as a Slurm job on a cluster whose login node is reached over ssh (`--slurm`, or a
//! `[slurm."HOST"]` table in the settings): checked with `sbatch --test-only` before anything is
//! submitted, the queue shown while it waits, the lab's node and port read from the job's status
//! file, the browser's way in through the one ssh connection (laptop → login node → node), and
//! the job cancelled on Ctrl-C. The pure parts (the sbatch line, the node's script, Slurm's
//! words) are `slurm.rs`; nothing here runs on the login node but Slurm's own commands, `cat`,
//! `mkdir`, `rm` and (for Apptainer) `apptainer pull`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::LabArgs;
use crate::config::{Config, SlurmHost};
use crate::engine::ssh::{RemoteFolders, RemoteUser, SshTarget};
use crate::error::{Error, Kind, Result};
use crate::lab::address::KeptAddress;
use crate::lab::token::TokenFile;
use crate::reporter::Reporter;
use crate::slurm::{ended_line, sbatch_refusal, JobRequest, JobStatus, NodeLab, NodeSays, SQUEUE_FORMAT};
use crate::sys::{sh_quote, sh_quote_path};
use crate::tunnel::Tunnel;

/// The login node, and what one probe learnt of it.
pub struct Cluster {
    pub target: SshTarget,
    /// `ssh://…` as given: the key of the kept address and of the settings' table.
    pub address: String,
    pub user: RemoteUser,
    pub arch: crate::catalog::Arch,
    /// $SCRATCH (or $WORK) where the cluster has one.
    pub scratch: Option<String>,
    /// Apptainer or Singularity on the login node (it converts the image once, there).
    pub login_runtime: Option<String>,
    pub settings: SlurmHost,
}

/// The jobs' status files and logs, below the cluster user's home.
const JOB_FILES: &str = ".local/share/dimtensor-up/slurm";

/// The marker lines of the probe.
const PROBE: &str = r#"id -u; id -g; printf '%s\n' "$HOME"
command -v sbatch >/dev/null 2>&1 && echo SLURM || echo NO-SLURM
uname -m
printf 'SCRATCH %s\n' "${SCRATCH:-${WORK:-}}"
for r in apptainer singularity; do command -v "$r" >/dev/null 2>&1 && { echo "RUNTIME $r"; break; }; done
true"#;

impl Cluster {
    /// Whether `--host` names a cluster: `--slurm`, or a settings table for its host.
    pub fn wanted(host: Option<&str>, slurm_flag: bool, config: &Config) -> bool {
        slurm_flag || host.and_then(|h| settings_for(h, config)).is_some()
    }

    pub async fn connect(host: Option<&str>, config: &Config) -> Result<Cluster> {
        let Some(address) = host.filter(|h| h.starts_with("ssh://")) else {
            return Err(Error::usage(
                "--slurm needs the cluster's login node: --host ssh://[user@]login-node",
            )
            .hint("a Slurm cluster is reached over ssh, as a GPU workstation is"));
        };
        let endpoint = crate::engine::resolve_from_env(Some(address))?;
        let target = endpoint.ssh()?.expect("an ssh:// address gives an ssh target");
        let text = target.run(PROBE, None).await?;
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        if lines.contains(&"NO-SLURM") {
            return Err(Error::new(
                Kind::Engine,
                format!("no Slurm on {} (sbatch not found)", target.display()),
            )
            .hint(
                "--slurm needs the login node of a Slurm cluster; leave it out to run on the machine itself",
            ));
        }
        let user = crate::engine::ssh::remote_user_in(&target, &text)?;
        let arch = match lines.get(4).copied() {
            Some("aarch64" | "arm64") => crate::catalog::Arch::Arm64,
            _ => crate::catalog::Arch::Amd64,
        };
        let field = |key: &str| lines.iter().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string());
        let settings = settings_for(address, config).cloned().unwrap_or_default();
        if let Some(runtime) = settings.runtime.as_deref().filter(|r| !crate::slurm::RUNTIMES.contains(r)) {
            return Err(Error::new(
                Kind::Config,
                format!("unknown container runtime `{runtime}` in the settings for {address}"),
            )
            .hint(format!("runtime is one of {}", crate::slurm::RUNTIMES.join(", "))));
        }
        Ok(Cluster {
            settings,
            address: address.to_string(),
            scratch: field("SCRATCH ").filter(|s| !s.is_empty()),
            login_runtime: field("RUNTIME "),
            target,
            user,
            arch,
        })
    }

    /// Where the jobs' status files and logs live (the home folder is shared with the nodes on
    /// every cluster this is for).
    fn state_dir(&self) -> PathBuf {
        self.user.home.join(JOB_FILES)
    }

    /// What job `job`'s script said last (its status file).
    async fn node_says(&self, job: &str) -> Result<NodeSays> {
        let file = self.state_dir().join(format!("{job}.status"));
        let said = self.target.run(&format!("cat {} 2>/dev/null; true", sh_quote_path(&file)), None).await?;
        Ok(NodeSays::parse(&said))
    }

    /// sbatch's refusal, with the partitions and their limits for the hint.
    async fn refusal(&self, said: &str, request: &JobRequest) -> Error {
        let partitions =
            self.target.run("sinfo -h -o '%P %l' 2>/dev/null; true", None).await.unwrap_or_default();
        sbatch_refusal(said, request, &partitions)
    }

    /// Runs `script` on the login node; its output and exit status, whatever the status.
    async fn run_status(&self, script: &str, stdin: Option<&[u8]>) -> Result<(i32, String)> {
        let out = self.target.run(&format!("{{ {script}\n}} 2>&1; echo \"@exit $?\""), stdin).await?;
        let (body, code) = out.trim_end().rsplit_once("@exit ").unwrap_or((&out, "1"));
        Ok((code.trim().parse().unwrap_or(1), body.to_string()))
    }

    async fn status_of(&self, job: &str) -> Result<Option<JobStatus>> {
        let line = self
            .target
            .run(&format!("squeue -h -j {job} -o '{SQUEUE_FORMAT}' 2>/dev/null; true"), None)
            .await?;
        Ok(JobStatus::parse(&line))
    }

    /// How a job that left the queue ended, in Slurm's words.
    async fn how_it_ended(&self, job: &str) -> String {
        let said = self.target.run(&format!("scontrol show job -o {job} 2>/dev/null; true"), None).await;
        said.ok().as_deref().and_then(ended_line).unwrap_or_else(|| "the job has ended".into())
    }

    async fn log_tail(&self, job: &str) -> String {
        let log = self.state_dir().join(format!("{job}.log"));
        self.target
            .run(&format!("tail -n 15 {} 2>/dev/null; true", sh_quote_path(&log)), None)
            .await
            .unwrap_or_default()
    }

    async fn cancel(&self, job: &str) {
        let _ = self.target.run(&format!("scancel {job}"), None).await;
    }
}

/// The settings table for `ssh://[user@]host[:port]`: by the address as written, else its host.
fn settings_for<'a>(address: &str, config: &'a Config) -> Option<&'a SlurmHost> {
    let bare = address.trim_start_matches("ssh://").trim_end_matches('/');
    let host = bare.rsplit_once('@').map_or(bare, |(_, h)| h);
    config
        .slurm
        .get(bare)
        .or_else(|| config.slurm.get(host))
        .or_else(|| host.rsplit_once(':').and_then(|(h, _)| config.slurm.get(h)))
}

/// What `jupyter --slurm` asks of the job (flags over the host's settings).
pub struct JobFlags {
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

/// The time limit's warning comes this long before it.
const WARN_BEFORE_END: u64 = 600;

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
    let target = &cluster.target;
    // The work folder on the cluster's shared file system, as for a workstation over ssh.
    let text = target.run(&crate::engine::ssh::who_am_i_and_folder_for(cwd, true), None).await?;
    let mut args = lab_args.clone();
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
    let gpus = args.gpus.take().or_else(|| cluster.settings.gpus.clone()).filter(|g| g != "none" && g != "0");
    let folders = RemoteFolders { target, home: cluster.user.home.clone(), known };
    let mut settings = crate::settings::LabSettings::resolve_in(&args, config, &cluster.user.home, &folders)?;
    let request = JobRequest {
        name: settings.container_name(),
        partition: flags.partition.clone().or_else(|| cluster.settings.partition.clone()),
        time: flags.time.or(cluster.settings.time.map(|s| s.0)),
        gpus,
        gpu_flag: cluster.settings.gpu_flag.unwrap_or_default(),
        account: flags.account.clone().or_else(|| cluster.settings.account.clone()),
        extra: cluster.settings.sbatch_args.iter().chain(&flags.sbatch_args).cloned().collect(),
    };
    // The lab from what the job asks for: a GPU job gets a GPU lab.
    let outlook = match request.wants_gpus() {
        true => crate::fit::GpuOutlook::Usable,
        false => crate::fit::GpuOutlook::Unusable("the job asks for no GPUs (--gpus N asks for some)".into()),
    };
    if settings.variant == crate::catalog::Variant::Auto {
        reporter.note(crate::fit::auto_lab_line(cluster.arch, &outlook));
        settings.variant = crate::fit::auto_lab(cluster.arch, &outlook);
    }
    let image_ref =
        settings.image().versioned_reference(config.registry(), crate::catalog::DIMTENSOR_VERSION);
    let sif = sif_for(cluster, &image_ref, reporter).await?;

    // Checked by Slurm before anything is submitted: partition, time limit, account, GPUs.
    let state = cluster.state_dir();
    let log = state.join("%j.log");
    target.run(&format!("mkdir -p {0} && chmod 700 {0}", sh_quote_path(&state)), None).await?;
    let name = format!("{}-{}", request.name, crate::state::random_hex(4));
    // The token and local port this folder's lab had: an editor's URL keeps working.
    let kept = crate::lab::address::kept_at(&cluster.address, &settings.workdir).filter(|_| !flags.new_token);
    let kept_port = kept.as_ref().map(|k| k.port);
    let token = kept.map(|k| k.token).unwrap_or_else(crate::lab::token::new_token);
    let token_file = TokenFile::write_remote(target, &cluster.user.home, &name, &token).await?;
    let user = crate::engine::model::UserMapping {
        user: Some(crate::sys::UserSpec { uid: cluster.user.uid, gid: cluster.user.gid }),
        keep_id: false,
    };
    let attach = if request.wants_gpus() { crate::gpu::GpuAttach::All } else { crate::gpu::GpuAttach::None };
    let mut plan = crate::plan::LaunchPlan::new(
        &settings,
        image_ref.clone(),
        0,
        user,
        attach,
        crate::engine::model::GpuForm::DeviceRequest,
    );
    plan.ca_bundle = None;
    let runtimes: Vec<&str> = match cluster.settings.runtime.as_deref() {
        Some(one) => vec![one],
        None => crate::slurm::RUNTIMES.to_vec(),
    };
    let node_lab = NodeLab {
        plan: &plan,
        token_file: token_file.path(),
        sif: &sif,
        state_dir: &state,
        gpus: request.wants_gpus(),
        runtimes: &runtimes,
    };
    let script = node_lab.script();
    let sbatch = |test_only: bool| {
        let args: Vec<String> = request.sbatch_args(&log, test_only).iter().map(|a| sh_quote(a)).collect();
        format!("sbatch {}", args.join(" "))
    };
    let (code, said) = cluster.run_status(&sbatch(true), Some(script.as_bytes())).await?;
    // Nodes drained or busy now is no refusal: the job waits for them, and the queue says why.
    if code != 0 && !crate::slurm::only_unavailable_now(&said) {
        return Err(cluster.refusal(&said, &request).await);
    }
    let (code, said) = cluster.run_status(&sbatch(false), Some(script.as_bytes())).await?;
    let job = said.trim().lines().last().unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
    if code != 0 || job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
        return Err(cluster.refusal(&said, &request).await);
    }
    reporter.note(format!(
        "submitted job {job} ({}{}) on {}",
        request.partition.as_deref().map(|p| format!("partition {p}, ")).unwrap_or_default(),
        request
            .time
            .map(crate::slurm::slurm_time)
            .map(|t| format!("time limit {t}"))
            .unwrap_or_else(|| "the partition's time limit".into()),
        target.display()
    ));
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

/// The SIF the node's Apptainer runs: converted once on the login node, where it has Apptainer
/// (a node without it runs the image through its Podman or Docker instead).
async fn sif_for(cluster: &Cluster, image_ref: &str, reporter: &Reporter) -> Result<PathBuf> {
    let (dir, why) = crate::slurm::sif_cache(
        cluster.settings.image_cache.as_deref(),
        cluster.scratch.as_deref(),
        &cluster.user.home,
    );
    let sif = dir.join(crate::slurm::sif_name(image_ref));
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
    // Without a terminal, a line when the state or Slurm's reason changes (not each second).
    let mut told = (String::new(), String::new());
    let (node, port) = loop {
        let status = cluster.status_of(job).await?;
        if let Some(status) = status.as_ref().filter(|s| s.pending()) {
            let line = status.waiting_line(job);
            let now = (status.state.clone(), status.reason.clone());
            if now != told && !reporter.is_tty() {
                reporter.note(&line);
            }
            spinner.set_message(line);
            told = now;
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        // Running, or gone already: what the job's script said.
        let ended = |what: String| async move {
            let mut err = Error::new(Kind::Container, what);
            for line in cluster.log_tail(job).await.lines().filter(|l| !l.trim().is_empty()) {
                err = err.cause(line.to_string());
            }
            err.hint(format!("the job's log is in ~/{JOB_FILES} on the cluster"))
        };
        match (cluster.node_says(job).await?, &status) {
            (NodeSays::Running { port, host }, _) => {
                break (status.and_then(|s| s.node).unwrap_or(host), port);
            }
            (NodeSays::NoRuntime { host }, _) => {
                spinner.finish_and_clear();
                let tried =
                    cluster.settings.runtime.clone().unwrap_or_else(|| crate::slurm::RUNTIMES.join(", "));
                return Err(Error::new(Kind::Container, format!("no container runtime on node {host}: none of {tried} is installed there"))
                    .hint("ask the cluster's admins which container runtime the nodes have (Apptainer usually), or pick a --partition whose nodes have one"));
            }
            (NodeSays::NoImage { path }, _) => {
                spinner.finish_and_clear();
                return Err(Error::new(Kind::Image, format!("the node has Apptainer but no image at {path}"))
                    .hint("the login node has no Apptainer to convert it: run `apptainer pull` of the lab image into that file on a node"));
            }
            (NodeSays::Ended(why), _) => {
                spinner.finish_and_clear();
                return Err(ended(format!("JupyterLab in job {job} stopped ({why})")).await);
            }
            (NodeSays::Starting, None) => {
                spinner.finish_and_clear();
                let how = cluster.how_it_ended(job).await;
                return Err(ended(format!("job {job} ended before JupyterLab answered: {how}")).await);
            }
            (NodeSays::Starting, Some(status)) => spinner.set_message(format!(
                "job {job} running on {}: starting JupyterLab",
                status.node.as_deref().unwrap_or("its node")
            )),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    spinner.finish_and_clear();
    let address = node_address(cluster, &node).await;
    let tunnel = Tunnel::open_to(&cluster.target, &address, port, prefer).await?;
    let (_, local) = tunnel.local();
    let ready = crate::poll::until(timeout, Duration::from_millis(250), || async {
        (crate::ready::http_status("127.0.0.1", local, "/api/status", Some(token)).await == Some(200))
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
async fn node_address(cluster: &Cluster, node: &str) -> String {
    let said = cluster
        .target
        .run(&format!("scontrol show node -o {} 2>/dev/null; true", sh_quote(node)), None)
        .await;
    said.ok()
        .and_then(|s| s.split_whitespace().find_map(|kv| kv.strip_prefix("NodeAddr=")).map(str::to_string))
        .unwrap_or_else(|| node.to_string())
}

/// Holds a job's lab in the foreground: until Ctrl-C (which cancels the job when `owns`), or the
/// job's end, said with Slurm's reason; one warning ten minutes before its time limit; a dropped
/// tunnel opened again.
pub async fn serve(
    cluster: &Cluster,
    mut lab: ClusterLab,
    owns: bool,
    reporter: &Reporter,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<u8> {
    let mut warned = false;
    let mut next_look = Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => {
                if owns {
                    reporter.always(format!("cancelling job {} (JupyterLab on {})", lab.job, lab.node));
                    cluster.cancel(&lab.job).await;
                }
                // A job left running keeps its token file; a cancelled one's goes.
                if let Some(file) = lab.token_file.take().filter(|_| !owns) {
                    file.keep();
                }
                cluster.target.close_master().await;
                return Ok(0);
            }
            why = lab.tunnel.ended() => {
                reporter.warn(format!("the SSH tunnel to {} dropped ({why}); opening it again", cluster.target.display()));
                tokio::time::sleep(Duration::from_millis(500)).await;
                lab.tunnel.reopen().await?;
            }
            _ = tokio::time::sleep_until(next_look.into()) => {
                next_look = Instant::now() + Duration::from_secs(5);
                match cluster.status_of(&lab.job).await? {
                    None => {
                        let how = cluster.how_it_ended(&lab.job).await;
                        reporter.always(format!("JupyterLab stopped: {how}; your files are in {} on {}", lab.workdir.display(), cluster.target.display()));
                        return Ok(0);
                    }
                    Some(status) => {
                        if let Some(left) = status.time_left.filter(|l| *l <= WARN_BEFORE_END && !warned) {
                            warned = true;
                            reporter.warn(format!(
                                "job {} has {} left: save your work; Slurm stops the lab at its time limit",
                                lab.job,
                                crate::slurm::slurm_time(left)
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// A lab job of this folder (`open`, `stop`), or of any folder (`ps`, `stop --all`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LabJob {
    pub job: String,
    pub name: String,
    pub state: String,
    pub node: Option<String>,
    pub time_left: Option<String>,
}

/// The user's lab jobs (named `dimtensor-up-…`) on the cluster.
pub async fn jobs(cluster: &Cluster) -> Result<Vec<LabJob>> {
    let said = cluster
        .target
        .run(
            "squeue --me -h -o '%i|%j|%T|%N|%L' 2>/dev/null || squeue -u \"$USER\" -h -o '%i|%j|%T|%N|%L'",
            None,
        )
        .await?;
    Ok(said
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().splitn(5, '|').collect();
            let [job, name, state, node, left] = f.as_slice() else { return None };
            name.starts_with("dimtensor-up-").then(|| LabJob {
                job: job.to_string(),
                name: name.to_string(),
                state: state.to_string(),
                node: Some(node.to_string()).filter(|n| !n.is_empty() && !n.starts_with('(')),
                time_left: Some(left.to_string()).filter(|l| !l.is_empty()),
            })
        })
        .collect())
}

/// The job of this folder's lab (`--workdir`, else the folder that stands for the current one).
pub async fn job_for_folder(cluster: &Cluster, workdir: Option<&Path>) -> Result<(PathBuf, Option<LabJob>)> {
    let folder = match workdir {
        Some(w) => w.to_path_buf(),
        None => {
            let cwd = crate::sys::current_dir()?;
            crate::engine::ssh::default_remote_folder(&cluster.user.home, &cwd)
        }
    };
    let name = crate::naming::container_name_for(&folder);
    // A job that is finishing (cancelled, ended) is no lab any more.
    let job = jobs(cluster).await?.into_iter().find(|j| j.name == name && j.state != "COMPLETING");
    Ok((folder, job))
}

/// Cancels lab jobs and removes their token files; the work folders stay.
pub async fn cancel(cluster: &Cluster, jobs: &[LabJob], reporter: &Reporter) -> Result<()> {
    for job in jobs {
        cluster.cancel(&job.job).await;
        let tokens = crate::lab::token::remote_token_dir(&cluster.user.home);
        let pattern = format!("{}/{}-*", sh_quote_path(&tokens), job.name);
        let _ = cluster.target.run(&format!("rm -f -- {pattern}"), None).await;
        reporter.always(format!("cancelled job {} ({}; files kept)", job.job, job.name));
    }
    Ok(())
}

/// A running lab job's way in again (`open`, `jupyter` for a folder whose job runs): its port
/// from the status file, its token from the kept address, a tunnel through the login node.
pub async fn reopen(
    cluster: &Cluster,
    job: &LabJob,
    folder: &Path,
    reporter: &Reporter,
) -> Result<ClusterLab> {
    let NodeSays::Running { port, host } = cluster.node_says(&job.job).await? else {
        return Err(Error::new(
            Kind::Container,
            format!("job {} has no JupyterLab running yet ({})", job.job, job.state),
        )
        .hint("wait until `dimtensor-up ps --slurm` shows it running"));
    };
    let kept = crate::lab::address::kept_at(&cluster.address, folder).ok_or_else(|| {
        Error::new(Kind::Container, format!("the token of job {} is not kept on this machine", job.job))
            .hint("it was started from another machine: `dimtensor-up stop --slurm` there, or cancel it and start it here")
    })?;
    let node = job.node.clone().unwrap_or(host);
    let address = node_address(cluster, &node).await;
    let tunnel = Tunnel::open_to(&cluster.target, &address, port, Some(kept.port)).await?;
    let url = tunnel.url(&kept.token);
    reporter.note(format!(
        "job {} runs on {node}{}",
        job.job,
        job.time_left.as_deref().map(|t| format!(", {t} left")).unwrap_or_default()
    ));
    Ok(ClusterLab {
        job: job.job.clone(),
        node,
        url,
        token_file: None,
        tunnel,
        workdir: folder.to_path_buf(),
    })
}
