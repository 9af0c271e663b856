//! The command line, parsed purely (no system access) before anything runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::spec::catalog::{ImageId, PullPolicy, Variant};

/// One command from a fresh machine to a JupyterLab with dimtensor (unit-aware tensors), on Docker.
#[derive(Debug, Parser)]
#[command(name = "dimtensor-up", version, propagate_version = true, disable_help_subcommand = true)]
#[command(
    after_help = "Start here: `dimtensor-up jupyter` in the folder you want to work in.\nSomething off? `dimtensor-up doctor` checks Docker, GPUs and ports."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Where the engine runs: ssh://[user@]host[:port] for another machine, or unix://PATH,
    /// tcp://HOST:PORT, npipe://PATH [default: DOCKER_HOST, the docker context, else the first
    /// engine found on this machine]
    #[arg(long, global = true, value_name = "ADDR", help_heading = "Global options")]
    pub host: Option<String>,
    /// Print only results and errors
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = "Global options")]
    pub quiet: bool,
    /// Say more: each decision and the images used (there is no -v for this: -v is --volume, as
    /// in docker run)
    #[arg(long, global = true, help_heading = "Global options")]
    pub verbose: bool,
    /// The --host is a Slurm cluster's login node: labs run as jobs on its nodes (implied when
    /// the settings have a `[slurm."HOST"]` table for it)
    #[arg(long, global = true, help_heading = "Global options")]
    pub slurm: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start JupyterLab with dimtensor on your folder and open it in the browser
    Jupyter(JupyterArgs),
    /// Run a command (default: python) in a dimtensor image with your folder mounted
    Run(RunArgs),
    /// Build images from the Dockerfile built into dimtensor-up
    Build(BuildArgs),
    /// Pull images from the registry
    Pull(PullArgs),
    /// Write a compose file (and its .env) for a JupyterLab that stays up
    Compose(ComposeArgs),
    /// Write (and start) a JupyterHub with one lab per user, or Zero to JupyterHub values
    ///
    /// The hub's labs run the plain lab images: a project's requirements.txt or pyproject.toml
    /// and kept `pip install`s are for `jupyter` and `compose`. Each user's work/ folder is a
    /// volume of their own; saving anywhere else in their lab is refused, not lost.
    Hub(HubArgs),
    /// List the JupyterLab servers that dimtensor-up started
    Ps(PsArgs),
    /// Open a running server's URL in the browser again
    Open(TargetArgs),
    /// Print this folder's lab URL, the same across stop and start (for VS Code, PyCharm)
    Url(UrlArgs),
    /// Show a server's logs
    Logs(LogsArgs),
    /// Stop servers (your files and volumes stay)
    Stop(StopArgs),
    /// Remove images dimtensor-up made that nothing uses any more (older project images first)
    Prune(PruneArgs),
    /// Check Docker, GPUs, images and ports, and say what is wrong
    Doctor(JsonArgs),
    /// List the image variants, with what is present locally
    Variants(JsonArgs),
    /// Show or change the settings file
    Config(ConfigArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct JsonArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// How the JupyterLab container is laid out: shared by `jupyter` and `compose`.
#[derive(Debug, Args, Clone, Default)]
pub struct LabArgs {
    /// Which lab: base (dimtensor and numpy), ml (adds PyTorch and JAX, for GPUs), full (adds
    /// every dimtensor integration), or auto [default: auto, or the wizard's answer]
    #[arg(long, value_enum)]
    pub variant: Option<Variant>,
    /// Image platform, e.g. linux/arm64 [default: the engine's]
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// GPUs: auto, all, none, a count N, or device=ID[,ID...]
    #[arg(long, value_name = "GPUS")]
    pub gpus: Option<String>,
    /// Host port [default: the first free one from 8888]
    #[arg(long)]
    pub port: Option<u16>,
    /// Host address to bind [default: 127.0.0.1]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Folder mounted at /home/dimtensor/work [default: the current folder]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Data folder mounted at /home/dimtensor/data
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Extra bind mount HOST:CONTAINER[:ro] (repeatable)
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    pub volumes: Vec<String>,
    /// Run as UID:GID [default: yours on a rootful Linux engine]
    #[arg(long, value_name = "UID:GID")]
    pub user: Option<String>,
    /// The project's packages: a requirements file or pyproject.toml, installed into a project
    /// image on the lab (repeatable) [default: requirements.txt and pyproject.toml in the work
    /// folder]
    #[arg(long = "requirements", value_name = "FILE")]
    pub requirements: Vec<PathBuf>,
    /// Ignore the project's requirements.txt and pyproject.toml: the plain lab
    #[arg(long, conflicts_with = "requirements")]
    pub no_requirements: bool,
    /// Also install this optional-dependencies extra of pyproject.toml (repeatable)
    #[arg(long, value_name = "NAME")]
    pub extra: Vec<String>,
    /// Also install this [dependency-groups] group of pyproject.toml (repeatable)
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,
    /// Start without the packages installed by hand in the lab (`pip install`); they stay kept
    #[arg(long)]
    pub no_user_packages: bool,
    /// An environment variable in the lab, KEY=VALUE (repeatable); e.g. -e
    /// XLA_PYTHON_CLIENT_PREALLOCATE=true gives JAX back its 75 % of GPU memory
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Size of /dev/shm (PyTorch DataLoader workers) [default: a quarter of the engine's memory,
    /// 256m to 8g]
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Memory limit of the lab, e.g. 16g [default: none]
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Stop the lab after this long without activity, e.g. 2h (idle kernels are shut down first,
    /// busy ones never; the container goes, its GPUs are free, files stay)
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
}

impl LabArgs {
    pub fn project_flags(&self) -> crate::spec::project::ProjectFlags {
        crate::spec::project::ProjectFlags {
            files: self.requirements.clone(),
            ignore: self.no_requirements,
            extras: self.extra.clone(),
            groups: self.group.clone(),
        }
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct ImageSourceArgs {
    /// When to pull the image
    #[arg(long, value_enum)]
    pub pull: Option<PullPolicy>,
    /// Build the image from the built-in Dockerfile, even if present
    #[arg(long, conflicts_with = "pull")]
    pub build: bool,
}

#[derive(Debug, Args)]
pub struct JupyterArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    #[command(flatten)]
    pub source: ImageSourceArgs,
    /// Print the URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Return once JupyterLab answers, and leave it running
    #[arg(short, long)]
    pub detach: bool,
    /// Seconds to wait for JupyterLab to answer
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout: u64,
    /// Print url, port, token, container, variant, workdir and gpus as JSON
    #[arg(long)]
    pub json: bool,
    /// A new token: the URL this folder's lab had (kept across stop and start for editors)
    /// stops working
    #[arg(long)]
    pub new_token: bool,
    #[command(flatten)]
    pub job: JobArgs,
}

/// What a Slurm job asks for (`--slurm`); `--gpus N` (or TYPE:N) counts the job's GPUs.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Slurm job (--slurm)")]
pub struct JobArgs {
    /// The partition [default: the host's settings, else the cluster's default]
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
    /// The time limit, e.g. 4h or 90m [default: the host's settings, else the partition's]
    #[arg(long, value_name = "DURATION")]
    pub time: Option<String>,
    /// The account the job is charged to
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Another sbatch option, as written, e.g. --sbatch-arg=--qos=short (repeatable)
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UrlArgs {
    /// The lab of this folder [default: the current folder]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Print url, port, token, running and workdir as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Image to run
    #[arg(value_enum)]
    pub image: ImageId,
    /// Folder mounted at /home/dimtensor/work [default: the current folder]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// GPUs: auto, all, none, a count N, or device=ID[,ID...]
    #[arg(long, value_name = "GPUS")]
    pub gpus: Option<String>,
    /// Run as UID:GID [default: yours on a rootful Linux engine]
    #[arg(long, value_name = "UID:GID")]
    pub user: Option<String>,
    #[command(flatten)]
    pub source: ImageSourceArgs,
    /// The command and its arguments [default: python]
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Images to build
    #[arg(value_enum, required_unless_present = "all")]
    pub images: Vec<ImageId>,
    /// Build every image
    #[arg(long, conflicts_with = "images")]
    pub all: bool,
    /// Do not use the build cache
    #[arg(long)]
    pub no_cache: bool,
    /// Target platform, e.g. linux/arm64 [default: the engine's]
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// dimtensor version to install; the builds are hash-locked, so only the locked one (5.2.0)
    #[arg(long, value_name = "V")]
    pub dimtensor_version: Option<String>,
    /// Base image [default: python:3.11-slim-bookworm]
    #[arg(long, value_name = "REF")]
    pub python_image: Option<String>,
    /// CA bundle for PyPI behind a TLS-inspecting proxy [default: PIP_CERT, SSL_CERT_FILE or REQUESTS_CA_BUNDLE]
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Images to pull
    #[arg(value_enum, required = true)]
    pub images: Vec<ImageId>,
    /// Platform to pull, e.g. linux/arm64 [default: the engine's]
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct ComposeArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Compose file to write [default: ./compose.yaml]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite an existing compose file
    #[arg(long)]
    pub force: bool,
    /// Then run `docker compose up -d`, wait for JupyterLab and open it
    #[arg(long)]
    pub up: bool,
    /// With --up: print the URL instead of opening a browser
    #[arg(long, requires = "up")]
    pub no_browser: bool,
    /// With --up: seconds to wait for JupyterLab to answer
    #[arg(long, default_value_t = 180, value_name = "SECS", requires = "up")]
    pub timeout: u64,
    /// Print the repository's compose/ example for a variant (how those files are made)
    #[arg(long, hide = true, value_enum, exclusive = true)]
    pub example: Option<Variant>,
}

#[derive(Debug, Args)]
pub struct HubArgs {
    /// Folder for the hub's files [default: ./dimtensor-hub]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Labs offered, comma-separated [default: base,ml,full]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LABS")]
    pub labs: Vec<Variant>,
    /// GPU profiles: auto, all, none, N or device=ID[,ID...]; repeat for several [default: auto]
    #[arg(long, value_name = "GPUS")]
    pub gpus: Vec<String>,
    /// Host port [default: the first free one from 8000]
    #[arg(long, conflicts_with = "kubernetes")]
    pub port: Option<u16>,
    /// Host address to bind [default: 127.0.0.1]
    #[arg(long, value_name = "ADDR", conflicts_with = "kubernetes")]
    pub listen: Option<String>,
    /// Replace files you edited (the old ones are kept as .bak)
    #[arg(long)]
    pub force: bool,
    /// Then start the hub (`docker compose up -d`), wait for it and open it
    #[arg(long, conflicts_with = "kubernetes")]
    pub up: bool,
    /// With --up: print the URL instead of opening a browser
    #[arg(long, requires = "up")]
    pub no_browser: bool,
    /// With --up: seconds to wait for the hub to answer
    #[arg(long, default_value_t = 300, value_name = "SECS", requires = "up")]
    pub timeout: u64,
    /// With --up: when to pull the hub and lab images
    #[arg(long, value_enum, requires = "up")]
    pub pull: Option<PullPolicy>,
    /// Write Zero to JupyterHub values (config.yaml) for a Kubernetes cluster instead
    #[arg(long)]
    pub kubernetes: bool,
    /// With --kubernetes: GPUs each GPU profile requests
    #[arg(long, default_value_t = 1, value_name = "N", requires = "kubernetes")]
    pub gpus_per_user: u32,
    /// In GPU profiles, give each user's lab one GPU of its own: the next free one (a user gets
    /// theirs back while it is free); none free is a spawn error naming who holds them
    #[arg(long, conflicts_with = "kubernetes")]
    pub one_gpu_each: bool,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Container name (see `dimtensor-up ps`)
    #[arg(conflicts_with = "workdir")]
    pub name: Option<String>,
    /// The server started for this folder [default: the current folder]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Print the URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Container name (see `dimtensor-up ps`) [default: the current folder's server]
    pub name: Option<String>,
    /// Keep following the log
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Container name (see `dimtensor-up ps`)
    #[arg(conflicts_with_all = ["workdir", "all"])]
    pub name: Option<String>,
    /// The server started for this folder [default: the current folder]
    #[arg(long, value_name = "DIR", conflicts_with = "all")]
    pub workdir: Option<PathBuf>,
    /// Stop every server dimtensor-up started
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// List what would be removed, and how much, without removing anything
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the settings in effect
    Show,
    /// Print the settings file's path
    Path,
    /// Set one setting (keys: see `config show`)
    Set { key: String, value: String },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
