//! A lab as a Slurm job, as pure values: the job's request and its `sbatch` command line, the
//! script that runs on the node (Apptainer or Singularity where the node has it, else its Podman
//! or Docker, from the same `LaunchPlan` as `jupyter`), and what Slurm's tools print (`squeue`,
//! `scontrol`, `sinfo`, `sbatch`'s refusals) in the user's terms. The I/O around them (ssh to the
//! login node, the queue, the tunnel to the node) is `cluster/`.

use std::path::{Path, PathBuf};

use crate::base::error::{Error, Kind};
use crate::base::sys::{sh_quote, sh_quote_path};
use crate::plan::{hardening, LaunchPlan};
use crate::spec::naming::{CONTAINER_PORT, HOME, TOKEN_MOUNT, WORK_MOUNT};

pub use crate::spec::config::GpuFlag;

/// What the job asks Slurm for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobRequest {
    /// The job's name: the lab's container name, so `ps` and `stop` find it.
    pub name: String,
    pub partition: Option<String>,
    /// The time limit in seconds (None: the partition's default).
    pub time: Option<u64>,
    /// GPUs as Slurm counts them (None: the job asks for none).
    pub gpus: Option<JobGpus>,
    pub gpu_flag: GpuFlag,
    pub account: Option<String>,
    /// `--sbatch-arg` values, passed through as written.
    pub extra: Vec<String>,
}

impl JobRequest {
    /// `sbatch`'s arguments. The script comes on stdin; `--test-only` asks Slurm whether it would
    /// take the job without submitting it. The job's output goes to `log` (`%j` is its ID).
    pub fn sbatch_args(&self, log: &Path, test_only: bool) -> Vec<String> {
        let mut args = vec![
            "--parsable".to_string(),
            format!("--job-name={}", self.name),
            format!("--output={}", log.display()),
            "--nodes=1".into(),
            "--ntasks=1".into(),
        ];
        args.extend(self.partition.as_ref().map(|p| format!("--partition={p}")));
        args.extend(self.time.map(|t| format!("--time={}", slurm_time(t))));
        args.extend(self.account.as_ref().map(|a| format!("--account={a}")));
        args.extend(self.gpus.as_ref().map(|g| match self.gpu_flag {
            GpuFlag::Gres => format!("--gres=gpu:{}", g.text()),
            GpuFlag::Gpus => format!("--gpus={}", g.text()),
        }));
        args.extend(self.extra.iter().cloned());
        if test_only {
            args.push("--test-only".into());
        }
        args
    }

    pub fn wants_gpus(&self) -> bool {
        self.gpus.is_some()
    }
}

/// GPUs per job as a cluster counts them: a count (`2`) or a typed gres (`a100:2`), from
/// `--gpus` or the host's `gpus` setting, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobGpus {
    kind: Option<String>,
    count: u32,
}

impl JobGpus {
    /// None for `none` or a count of 0.
    pub fn parse(text: &str) -> crate::base::error::Result<Option<JobGpus>> {
        let t = text.trim();
        if t == "none" {
            return Ok(None);
        }
        let (kind, count) = match t.rsplit_once(':') {
            Some((kind, count)) => (Some(kind), count),
            None => (None, t),
        };
        let kind_ok = kind.is_none_or(|k| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        });
        match count.parse::<u32>() {
            Ok(count) if kind_ok => {
                Ok((count > 0).then(|| JobGpus { kind: kind.map(str::to_string), count }))
            }
            _ => Err(Error::usage(format!("invalid --gpus value `{text}` for a Slurm job")).hint(
                "use a count such as 1, a typed count as the cluster's gres names it (a100:1), or none",
            )),
        }
    }
    /// As sbatch takes it.
    pub fn text(&self) -> String {
        match &self.kind {
            Some(kind) => format!("{kind}:{}", self.count),
            None => self.count.to_string(),
        }
    }
}

/// Seconds as Slurm writes a time limit: `D-HH:MM:SS`, or `HH:MM:SS` under a day.
pub fn slurm_time(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => hms,
        d => format!("{d}-{hms}"),
    }
}

/// A time as Slurm prints one (`squeue`'s %L and %M, `sinfo`'s %l): `MM:SS`, `HH:MM:SS`,
/// `D-HH:MM:SS` (or a bare number of minutes, as `--time` takes it). `Some(None)`: no limit
/// (`UNLIMITED`, `infinite`); None: not a time.
pub fn parse_slurm_time(text: &str) -> Option<Option<u64>> {
    let text = text.trim();
    if matches!(text.to_ascii_lowercase().as_str(), "unlimited" | "infinite" | "not_set") {
        return Some(None);
    }
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let seconds = match (text.contains('-'), parts.as_slice()) {
        (false, [minutes]) => minutes * 60,
        (true, [hours]) => hours * 3600,
        (true, [hours, minutes]) => hours * 3600 + minutes * 60,
        (false, [minutes, seconds]) => minutes * 60 + seconds,
        (_, [hours, minutes, seconds]) => hours * 3600 + minutes * 60 + seconds,
        _ => return None,
    };
    Some(Some(days * 86_400 + seconds))
}

/// A job's state, as Slurm's `squeue` (%T) and `scontrol` (JobState=) name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Configuring,
    Requeued,
    Resizing,
    Suspended,
    Running,
    /// Ended, its node still cleaning up: no lab any more.
    Completing,
    Timeout,
    Preempted,
    NodeFail,
    Cancelled,
    OutOfMemory,
    /// Any other word Slurm has (COMPLETED, FAILED, BOOT_FAIL, …), kept as it said it.
    Other(String),
}

impl JobState {
    /// Every state with a word of its own, for `parse`: `word` is the one table of them.
    const NAMED: [JobState; 12] = [
        JobState::Pending,
        JobState::Configuring,
        JobState::Requeued,
        JobState::Resizing,
        JobState::Suspended,
        JobState::Running,
        JobState::Completing,
        JobState::Timeout,
        JobState::Preempted,
        JobState::NodeFail,
        JobState::Cancelled,
        JobState::OutOfMemory,
    ];
    pub fn parse(word: &str) -> JobState {
        let word = word.trim();
        JobState::NAMED
            .into_iter()
            .find(|state| state.word() == word)
            .unwrap_or_else(|| JobState::Other(word.to_string()))
    }
    /// Slurm's own word.
    pub fn word(&self) -> &str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Configuring => "CONFIGURING",
            JobState::Requeued => "REQUEUED",
            JobState::Resizing => "RESIZING",
            JobState::Suspended => "SUSPENDED",
            JobState::Running => "RUNNING",
            JobState::Completing => "COMPLETING",
            JobState::Timeout => "TIMEOUT",
            JobState::Preempted => "PREEMPTED",
            JobState::NodeFail => "NODE_FAIL",
            JobState::Cancelled => "CANCELLED",
            JobState::OutOfMemory => "OUT_OF_MEMORY",
            JobState::Other(word) => word,
        }
    }
    /// Waiting for its node, or held: the job has not started its script.
    pub fn pending(&self) -> bool {
        matches!(
            self,
            JobState::Pending
                | JobState::Configuring
                | JobState::Requeued
                | JobState::Resizing
                | JobState::Suspended
        )
    }
    /// Still the scheduler's: waiting, starting, running or finishing.
    pub fn live(&self) -> bool {
        self.pending() || matches!(self, JobState::Running | JobState::Completing)
    }
}

impl serde::Serialize for JobState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

/// Where a job stands: one line of `squeue -h -o SQUEUE_FORMAT`, for the wait, `ps` and `open`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobStatus {
    pub job: String,
    pub name: String,
    pub state: JobState,
    /// Slurm's reason while pending (`Resources`, `Priority`, `ReqNodeNotAvail, …`).
    #[serde(skip)]
    pub reason: String,
    /// Time waited (pending) or run (running), as Slurm prints it.
    #[serde(skip)]
    pub elapsed: String,
    pub node: Option<String>,
    #[serde(serialize_with = "time_left_text")]
    pub time_left: Option<u64>,
}

fn time_left_text<S: serde::Serializer>(left: &Option<u64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match left {
        Some(left) => s.serialize_some(&slurm_time(*left)),
        None => s.serialize_none(),
    }
}

/// `squeue -h -o SQUEUE_FORMAT`: job, name, state, reason, time used, time left, node (the
/// reason, which may hold commas and spaces, never a `|`).
pub const SQUEUE_FORMAT: &str = "%i|%j|%T|%r|%M|%L|%N";

impl JobStatus {
    pub fn parse(line: &str) -> Option<JobStatus> {
        let f: Vec<&str> = line.trim().splitn(7, '|').collect();
        let [job, name, state, reason, elapsed, left, node] = f.as_slice() else { return None };
        if state.is_empty() {
            return None;
        }
        Some(JobStatus {
            job: job.to_string(),
            name: name.to_string(),
            state: JobState::parse(state),
            reason: reason.to_string(),
            elapsed: elapsed.to_string(),
            time_left: parse_slurm_time(left).flatten(),
            node: Some(node.trim()).filter(|n| !n.is_empty() && !n.starts_with('(')).map(str::to_string),
        })
    }
    pub fn pending(&self) -> bool {
        self.state.pending()
    }
    /// The one line that updates while the job waits.
    pub fn waiting_line(&self, job: &str) -> String {
        let reason = match self.reason.as_str() {
            "None" | "" => String::new(),
            r => format!(" ({})", reason_words(r)),
        };
        format!("job {job} {}{reason}, waited {}", self.state.word().to_lowercase(), self.elapsed)
    }
}

/// Slurm's most common pending reasons, in words (the code stays for searching).
fn reason_words(reason: &str) -> String {
    let code = reason.split(',').next().unwrap_or(reason).trim();
    let words = match code {
        "Resources" => "waiting for free resources",
        "Priority" => "other jobs come first",
        "ReqNodeNotAvail" => "the nodes it needs are not available (drained or down)",
        "PartitionTimeLimit" => "its time limit is over the partition's",
        "QOSMaxJobsPerUserLimit" | "AssocMaxJobsLimit" => "you have as many jobs as allowed",
        "BeginTime" => "its start time has not come",
        "Dependency" => "waiting for another job",
        _ => return reason.to_string(),
    };
    format!("{code}: {words}")
}

/// How a job ended, from `scontrol show job -o ID` (JobState= and Reason=), for the line that
/// says so; None while it still runs or when Slurm no longer knows it.
pub fn ended_line(scontrol: &str) -> Option<String> {
    let field =
        |key: &str| scontrol.split_whitespace().find_map(|kv| kv.strip_prefix(key)).map(str::to_string);
    let state = field("JobState=")?;
    let reason = field("Reason=")
        .filter(|r| r != "None")
        .map(|r| format!(", Slurm's reason: {r}"))
        .unwrap_or_default();
    let limit = field("TimeLimit=").map(|t| format!(" of {t}")).unwrap_or_default();
    let state = JobState::parse(&state);
    Some(match &state {
        s if s.live() => return None,
        JobState::Timeout => {
            format!("the job reached its time limit{limit} and Slurm ended it (TIMEOUT{reason})")
        }
        JobState::Preempted => format!("Slurm preempted the job for another (PREEMPTED{reason})"),
        JobState::NodeFail => format!("the job's node failed (NODE_FAIL{reason})"),
        JobState::Cancelled => format!("the job was cancelled (CANCELLED{reason})"),
        JobState::OutOfMemory => format!("the job ran out of its memory (OUT_OF_MEMORY{reason})"),
        other => format!("the job ended ({}{reason})", other.word()),
    })
}

/// `sbatch`'s refusal (of `--test-only` or the submission) as one error with a hint; nothing was
/// submitted. `partitions` is `sinfo -h -o '%P %l'` (names and time limits) for the hints.
pub fn sbatch_refusal(said: &str, request: &JobRequest, partitions: &str) -> Error {
    let message = said
        .lines()
        .map(|l| l.trim().trim_start_matches("sbatch: error: ").trim())
        .rfind(|l| !l.is_empty() && !l.starts_with("sbatch: "))
        .unwrap_or("sbatch refused the job")
        .to_string();
    let lower = message.to_lowercase();
    let listed: Vec<String> = partitions
        .lines()
        .filter_map(|l| {
            let (name, limit) = l.trim().split_once(' ')?;
            Some(format!("{name} (max {})", limit.trim()))
        })
        .collect();
    let hint = if lower.contains("invalid partition") {
        format!("partitions here: {}", listed.join(", "))
    } else if lower.contains("time limit") {
        format!(
            "ask for less with --time (the partitions' limits: {}), or pick another --partition",
            listed.join(", ")
        )
    } else if lower.contains("account") {
        "check the account name (`sacctmgr show assoc user=$USER` lists yours), or leave --account out for your default".into()
    } else if lower.contains("generic resource") || lower.contains("gres") || lower.contains("gpu") {
        format!(
            "this partition may have no GPUs, or counts them the other way: try --partition with GPUs, or `gpu-flag = \"{}\"` in the host's settings",
            match request.gpu_flag {
                GpuFlag::Gres => "gpus",
                GpuFlag::Gpus => "gres",
            }
        )
    } else {
        "the message is Slurm's; `--sbatch-arg` passes other options as written".into()
    };
    Error::new(Kind::Usage, format!("Slurm refused the job: {message}")).hint(hint)
}

/// Whether `sbatch --test-only` refused only because no node can run the job at this moment
/// (drained, down or busy): the submission itself is then accepted and waits, saying why.
pub fn only_unavailable_now(said: &str) -> bool {
    let said = said.to_lowercase();
    said.contains("requested node configuration is not available") || said.contains("nodes are busy")
}

/// What the node's script said last in its status file (`say` in `NodeLab::script`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSays {
    /// Nothing yet, or `starting RUNTIME`.
    Starting,
    /// `running RUNTIME PORT HOST`: JupyterLab listens on the node's PORT.
    Running { port: u16, host: String },
    /// `no-runtime HOST`: none of the runtimes tried is on the node.
    NoRuntime { host: String },
    /// `no-image PATH`: Apptainer, but no SIF at PATH.
    NoImage { path: String },
    /// `exited CODE` or `failed WHY`: the lab ended, or never started.
    Ended(String),
}

impl NodeSays {
    pub fn parse(text: &str) -> NodeSays {
        let text = text.trim();
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        match (word, rest.split_whitespace().collect::<Vec<_>>().as_slice()) {
            ("running", [_runtime, port, host, ..]) => match port.parse() {
                Ok(port) => NodeSays::Running { port, host: host.to_string() },
                Err(_) => NodeSays::Ended(format!("it reported port {port}")),
            },
            ("no-runtime", _) => NodeSays::NoRuntime { host: rest.to_string() },
            ("no-image", _) => NodeSays::NoImage { path: rest.to_string() },
            ("exited" | "failed", _) => NodeSays::Ended(rest.to_string()),
            _ => NodeSays::Starting,
        }
    }
}

/// Which container runtime runs the lab on the node, first found wins.
pub const RUNTIMES: [&str; 4] = ["apptainer", "singularity", "podman", "docker"];

/// What the node needs to start the lab, besides the plan.
pub struct NodeLab<'a> {
    pub plan: &'a LaunchPlan,
    /// The token file on the shared file system (0644 in a 0700 folder).
    pub token_file: &'a Path,
    /// Apptainer's image: a SIF converted once on the login node.
    pub sif: &'a Path,
    /// Folder of the job's status files (`<job ID>.status`).
    pub state_dir: &'a Path,
    pub gpus: bool,
    /// The runtimes tried on the node, in order (the host's `runtime` setting, else RUNTIMES).
    pub runtimes: &'a [&'a str],
}

impl NodeLab<'_> {
    /// The batch script: a free port on the node, the first runtime found, the lab in the
    /// foreground (so the job lives as long as the lab), the status file at each step; SIGTERM
    /// (scancel, the time limit) stops the container.
    pub fn script(&self) -> String {
        let status = format!("{}/\"$SLURM_JOB_ID\".status", sh_quote_path(self.state_dir));
        let name = format!("{}-\"$SLURM_JOB_ID\"", sh_quote(&self.plan.name));

        let apptainer = self.apptainer_args().iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ");
        let engine = self.engine_args().iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ");
        let runtimes = self.runtimes.join(" ");
        let sif = sh_quote_path(self.sif);
        format!(
            r#"#!/bin/bash
# JupyterLab with dimtensor as a Slurm job, written by dimtensor-up (`dimtensor-up ps --slurm`).
say() {{ printf '%s\n' "$*" >{status}.tmp && mv -f {status}.tmp {status}; }}
name={name}
port=
for _ in $(seq 1 200); do
  p=$(( (RANDOM * 32768 + RANDOM) % 40000 + 20000 ))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {{ port=$p; break; }}
done
[ -n "$port" ] || {{ say "failed no free port on $(hostname)"; exit 1; }}
runtime=
for r in {runtimes}; do command -v "$r" >/dev/null 2>&1 && {{ runtime=$r; break; }}; done
[ -n "$runtime" ] || {{ say "no-runtime $(hostname)"; exit 3; }}
say "starting $runtime"
gpu_flags=()
case "$runtime" in
  apptainer|singularity)
    [ -f {sif} ] || {{ say "no-image {sif}"; exit 4; }}
    {nv}
    "$runtime" {apptainer} &
    ;;
  *)
    # The job's GPUs as the node numbers them (CUDA_VISIBLE_DEVICES may count inside its cgroup).
    gpus=${{SLURM_JOB_GPUS:-${{CUDA_VISIBLE_DEVICES:-}}}}
    if [ -n "$gpus" ] && [ "$gpus" != NoDevFiles ]; then
      if [ "$runtime" = docker ]; then gpu_flags=(--gpus "\"device=$gpus\"");
      else for i in ${{gpus//,/ }}; do gpu_flags+=(--device "nvidia.com/gpu=$i"); done; fi
    fi
    "$runtime" {engine} &
    ;;
esac
child=$!
stop() {{
  case "$runtime" in docker|podman) "$runtime" stop -t 10 "$name" >/dev/null 2>&1 ;; esac
  kill -TERM "$child" 2>/dev/null; wait "$child"; say "exited stopped"; exit 0
}}
trap stop TERM INT
say "running $runtime $port $(hostname)"
wait "$child"
code=$?
say "exited $code"
exit "$code"
"#,
            nv = if self.gpus { r#"gpu_flags=(--nv)"# } else { ":" },
        )
    }

    /// `apptainer exec …` (Singularity takes the same): isolated from the host's home, its
    /// `~/.local` and environment (`--containall --cleanenv`; the image's own environment stays),
    /// a writable overlay for what Jupyter writes outside the mounts, the folders bound, the
    /// token as a file, GPUs with `--nv`, and JupyterLab on the node's free port.
    pub fn apptainer_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["exec", "--containall", "--cleanenv", "--writable-tmpfs", "--no-home"]
            .map(String::from)
            .to_vec();
        args.push(GPU_FLAGS.into());
        for m in self.plan.all_mounts() {
            let ro = if m.read_only { ":ro" } else { "" };
            args.extend(["--bind".into(), format!("{}:{}{ro}", m.source.display(), m.target)]);
        }
        args.extend(["--bind".into(), format!("{}:{TOKEN_MOUNT}:ro", self.token_file.display())]);
        for (key, value) in self.plan.env() {
            args.extend(["--env".into(), format!("{key}={value}")]);
        }
        args.extend(["--env".into(), "PYTHONNOUSERSITE=1".into()]);
        args.extend(["--pwd".into(), WORK_MOUNT.into(), self.sif.display().to_string()]);
        args.extend(jupyter_command(PORT));
        args
    }

    /// `docker run …` / `podman run …` from the plan: the same mounts, user, environment,
    /// hardening and /dev/shm as `jupyter`'s container, published on the node's port.
    pub fn engine_args(&self) -> Vec<String> {
        let plan = self.plan;
        let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "--name".into(), NAME.into()];
        args.extend(["--publish".into(), format!("{PORT}:{CONTAINER_PORT}")]);
        args.push(GPU_FLAGS.into());
        if let Some(user) = plan.user.user {
            args.extend(["--user".into(), format!("{}:{}", user.uid, user.gid)]);
        }
        for m in plan.all_mounts() {
            let ro = if m.read_only { ",readonly" } else { "" };
            args.extend([
                "--mount".into(),
                format!("type=bind,source={},target={}{ro}", m.source.display(), m.target),
            ]);
        }
        args.extend([
            "--mount".into(),
            format!("type=bind,source={},target={TOKEN_MOUNT},readonly", self.token_file.display()),
        ]);
        for (key, value) in plan.env() {
            args.extend(["--env".into(), format!("{key}={value}")]);
        }
        for opt in hardening::security_opt() {
            args.extend(["--security-opt".into(), opt.into()]);
        }
        args.extend(["--cap-drop".into(), hardening::CAP_DROP.into()]);
        if let Some(shm) = plan.shm_size {
            args.extend(["--shm-size".into(), shm.to_string()]);
        }
        if let Some(memory) = plan.memory {
            args.extend(["--memory".into(), memory.to_string()]);
        }
        for (key, value) in &plan.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        args.push(plan.image_ref.clone());
        args
    }
}

/// Stand-ins in the argument lists for what only the node knows, spliced in unquoted.
const PORT: &str = "@PORT@";
const NAME: &str = "@NAME@";
const GPU_FLAGS: &str = "@GPU_FLAGS@";

fn shell_word(arg: &str) -> String {
    match arg {
        GPU_FLAGS => r#""${gpu_flags[@]}""#.into(),
        NAME => r#""$name""#.into(),
        _ if arg.contains(PORT) => arg.split(PORT).map(sh_quote).collect::<Vec<_>>().join(r#""$port""#),
        _ => sh_quote(arg),
    }
}

/// JupyterLab as the image starts it, on `port` (Apptainer shares the node's network).
fn jupyter_command(port: &str) -> Vec<String> {
    vec![
        "jupyter".into(),
        "lab".into(),
        "--ip=0.0.0.0".into(),
        format!("--port={port}"),
        "--no-browser".into(),
        format!("--ServerApp.root_dir={HOME}"),
    ]
}

/// Where the SIF files go: the setting, else $SCRATCH (or $WORK) where the cluster has one, else
/// the home folder's cache. Home folders on clusters have small quotas (apptainer#1225).
pub fn sif_cache(setting: Option<&Path>, scratch: Option<&str>, home: &Path) -> (PathBuf, &'static str) {
    match (setting, scratch.filter(|s| !s.is_empty())) {
        (Some(dir), _) => (dir.to_path_buf(), "your image-cache setting"),
        (None, Some(scratch)) => (Path::new(scratch).join("dimtensor-up/images"), "$SCRATCH"),
        (None, None) => {
            (home.join(".cache/dimtensor-up/images"), "no $SCRATCH here; image-cache sets another place")
        }
    }
}

/// The SIF file name for an image reference (`ghcr.io/x/dimtensor:ml-5.2.0` →
/// `dimtensor_ml-5.2.0.sif`).
pub fn sif_name(image_ref: &str) -> String {
    let last = image_ref.rsplit('/').next().unwrap_or(image_ref);
    format!("{}.sif", last.replace([':', '@'], "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_becomes_sbatch_arguments() {
        let request = JobRequest {
            name: "dimtensor-up-proj-1234".into(),
            partition: Some("gpu".into()),
            time: Some(2 * 3600),
            gpus: JobGpus::parse("a100:2").unwrap(),
            gpu_flag: GpuFlag::Gres,
            account: Some("physics".into()),
            extra: vec!["--qos=short".into()],
        };
        let log = Path::new("/home/ada/.local/share/dimtensor-up/slurm/%j.log");
        assert_eq!(
            request.sbatch_args(log, true),
            [
                "--parsable",
                "--job-name=dimtensor-up-proj-1234",
                "--output=/home/ada/.local/share/dimtensor-up/slurm/%j.log",
                "--nodes=1",
                "--ntasks=1",
                "--partition=gpu",
                "--time=02:00:00",
                "--account=physics",
                "--gres=gpu:a100:2",
                "--qos=short",
                "--test-only"
            ]
        );
        let gpus = JobRequest {
            gpu_flag: GpuFlag::Gpus,
            gpus: JobGpus::parse(" 1 ").unwrap(),
            ..Default::default()
        };
        assert!(gpus.sbatch_args(log, false).contains(&"--gpus=1".to_string()));
        assert!(gpus.wants_gpus() && request.wants_gpus());
        assert_eq!(JobGpus::parse("0").unwrap(), None);
        assert_eq!(JobGpus::parse("none").unwrap(), None);
        assert_eq!(JobGpus::parse("a100:0").unwrap(), None);
        for bad in ["all", "auto", ":2", "a100:", "a 100:1"] {
            assert!(JobGpus::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_times_both_ways() {
        assert_eq!(slurm_time(90), "00:01:30");
        assert_eq!(slurm_time(26 * 3600 + 5), "1-02:00:05");
        assert_eq!(parse_slurm_time("30"), Some(Some(1800)));
        assert_eq!(parse_slurm_time("05:10"), Some(Some(310)));
        assert_eq!(parse_slurm_time("1:00:00"), Some(Some(3600)));
        assert_eq!(parse_slurm_time("2-00:00:00"), Some(Some(2 * 86_400)));
        assert_eq!(parse_slurm_time("1-12"), Some(Some(86_400 + 12 * 3600)));
        assert_eq!(parse_slurm_time("UNLIMITED"), Some(None));
        assert_eq!(parse_slurm_time("soon"), None);
    }

    #[test]
    fn squeue_lines_and_the_waiting_line() {
        let pending =
            JobStatus::parse("42|dimtensor-up-a|PENDING|ReqNodeNotAvail, UnavailableNodes:node1|0:07|10:00|")
                .unwrap();
        assert!(pending.pending() && pending.node.is_none());
        assert_eq!(
            pending.waiting_line("42"),
            "job 42 pending (ReqNodeNotAvail: the nodes it needs are not available (drained or down)), waited 0:07"
        );
        let running = JobStatus::parse("43|dimtensor-up-b|RUNNING|None|1:02|58:58|node1\n").unwrap();
        assert!(!running.pending());
        assert_eq!((running.node.as_deref(), running.time_left), (Some("node1"), Some(58 * 60 + 58)));
        assert_eq!(
            (running.job.as_str(), running.name.as_str(), &running.state),
            ("43", "dimtensor-up-b", &JobState::Running)
        );
        assert_eq!(JobStatus::parse(""), None);
        assert_eq!(JobState::parse("COMPLETED"), JobState::Other("COMPLETED".into()));
        for state in JobState::NAMED {
            assert_eq!(JobState::parse(state.word()), state, "each word parses back");
        }
        assert!(JobState::Completing.live() && !JobState::Completing.pending());
        let json = serde_json::to_value(&running).unwrap();
        assert_eq!((json["state"].as_str(), json["time_left"].as_str()), (Some("RUNNING"), Some("00:58:58")));
    }

    #[test]
    fn how_a_job_ended_in_words() {
        let timeout =
            "JobId=7 JobName=x JobState=TIMEOUT Reason=TimeLimit Dependency=(null) TimeLimit=00:01:00";
        assert_eq!(
            ended_line(timeout).unwrap(),
            "the job reached its time limit of 00:01:00 and Slurm ended it (TIMEOUT, Slurm's reason: TimeLimit)"
        );
        assert!(ended_line("JobState=PREEMPTED Reason=None").unwrap().starts_with("Slurm preempted the job"));
        assert!(ended_line("JobState=NODE_FAIL Reason=NodeDown").unwrap().contains("node failed"));
        assert_eq!(ended_line("JobState=RUNNING Reason=None"), None);
    }

    #[test]
    fn refusals_keep_slurms_words_and_add_a_hint() {
        let request = JobRequest::default();
        let partitions = "debug* 30:00\ngpu 10:00\n";
        let bad = sbatch_refusal(
            "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified",
            &request,
            partitions,
        );
        assert_eq!(
            bad.message,
            "Slurm refused the job: Batch job submission failed: Invalid partition name specified"
        );
        assert_eq!(bad.hint.as_deref(), Some("partitions here: debug* (max 30:00), gpu (max 10:00)"));
        let long = sbatch_refusal(
            "sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)",
            &request,
            partitions,
        );
        assert!(long.hint.unwrap().starts_with("ask for less with --time"));
        assert!(only_unavailable_now(
            "sbatch: error: Batch job submission failed: Requested node configuration is not available"
        ));
        assert!(!only_unavailable_now("sbatch: error: invalid partition specified: nope"));
        let account = sbatch_refusal(
            "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified",
            &request,
            partitions,
        );
        assert!(account.hint.unwrap().contains("--account"));
    }

    #[test]
    fn the_status_file_in_the_scripts_words() {
        assert_eq!(NodeSays::parse(""), NodeSays::Starting);
        assert_eq!(NodeSays::parse("starting docker\n"), NodeSays::Starting);
        assert_eq!(
            NodeSays::parse("running docker 41234 node1\n"),
            NodeSays::Running { port: 41234, host: "node1".into() }
        );
        assert_eq!(NodeSays::parse("no-runtime node1"), NodeSays::NoRuntime { host: "node1".into() });
        assert_eq!(NodeSays::parse("no-image /s/x.sif"), NodeSays::NoImage { path: "/s/x.sif".into() });
        assert_eq!(NodeSays::parse("exited 125"), NodeSays::Ended("125".into()));
        assert_eq!(
            NodeSays::parse("failed no free port on node1"),
            NodeSays::Ended("no free port on node1".into())
        );
        assert_eq!(NodeSays::parse("running docker x node1"), NodeSays::Ended("it reported port x".into()));
    }

    #[test]
    fn the_sif_cache_avoids_the_home_quota_where_it_can() {
        let home = Path::new("/home/ada");
        assert_eq!(
            sif_cache(None, Some("/scratch/ada"), home).0,
            Path::new("/scratch/ada/dimtensor-up/images")
        );
        assert_eq!(sif_cache(None, None, home).0, Path::new("/home/ada/.cache/dimtensor-up/images"));
        assert_eq!(sif_cache(Some(Path::new("/data/sif")), Some("/s"), home).0, Path::new("/data/sif"));
        assert_eq!(
            sif_name("ghcr.io/marcoloco23/dimtensor:jupyter-ml-5.2.0"),
            "dimtensor_jupyter-ml-5.2.0.sif"
        );
    }
}
