//! Floor 4: images. Find locally, pull, or build from the Dockerfile embedded in the binary; the
//! project image on top (`project`).

pub mod project;

use std::collections::HashMap;
use std::path::PathBuf;

use futures_util::StreamExt;

use crate::base::error::first_line;
use crate::base::error::{api_status, Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::engine::model::Builder;
use crate::engine::Engine;
use crate::spec::catalog::PullPolicy;
use crate::spec::catalog::{Arch, Platforms};
use crate::spec::catalog::{ImageId, DEFAULT_PYTHON_IMAGE, DIMTENSOR_VERSION};
use crate::spec::config::Config;

/// The build context, embedded so an installed `dimtensor-up` builds without a checkout.
/// `tests/cli/transcripts.rs` checks this list against docker/ and notebooks/ on disk.
pub const CONTEXT_FILES: &[(&str, &str)] = &[
    ("docker/Dockerfile", include_str!("../../docker/Dockerfile")),
    ("docker/pip-install.sh", include_str!("../../docker/pip-install.sh")),
    (
        "docker/jupyter/jupyter_server_config.json",
        include_str!("../../docker/jupyter/jupyter_server_config.json"),
    ),
    (
        "docker/jupyter/jupyter_server_config.py",
        include_str!("../../docker/jupyter/jupyter_server_config.py"),
    ),
    ("docker/jupyter/overrides.json", include_str!("../../docker/jupyter/overrides.json")),
    ("docker/ca/README.md", include_str!("../../docker/ca/README.md")),
    ("docker/wheels/.gitkeep", include_str!("../../docker/wheels/.gitkeep")),
    ("docker/requirements/amd64/base.txt", include_str!("../../docker/requirements/amd64/base.txt")),
    ("docker/requirements/amd64/ml.txt", include_str!("../../docker/requirements/amd64/ml.txt")),
    ("docker/requirements/amd64/full.txt", include_str!("../../docker/requirements/amd64/full.txt")),
    (
        "docker/requirements/amd64/jupyter-base.txt",
        include_str!("../../docker/requirements/amd64/jupyter-base.txt"),
    ),
    (
        "docker/requirements/amd64/jupyter-ml.txt",
        include_str!("../../docker/requirements/amd64/jupyter-ml.txt"),
    ),
    (
        "docker/requirements/amd64/jupyter-full.txt",
        include_str!("../../docker/requirements/amd64/jupyter-full.txt"),
    ),
    ("docker/requirements/amd64/hub.txt", include_str!("../../docker/requirements/amd64/hub.txt")),
    ("docker/requirements/arm64/hub.txt", include_str!("../../docker/requirements/arm64/hub.txt")),
    ("docker/requirements/arm64/base.txt", include_str!("../../docker/requirements/arm64/base.txt")),
    ("docker/requirements/arm64/ml.txt", include_str!("../../docker/requirements/arm64/ml.txt")),
    ("docker/requirements/arm64/full.txt", include_str!("../../docker/requirements/arm64/full.txt")),
    (
        "docker/requirements/arm64/jupyter-base.txt",
        include_str!("../../docker/requirements/arm64/jupyter-base.txt"),
    ),
    (
        "docker/requirements/arm64/jupyter-ml.txt",
        include_str!("../../docker/requirements/arm64/jupyter-ml.txt"),
    ),
    (
        "docker/requirements/arm64/jupyter-full.txt",
        include_str!("../../docker/requirements/arm64/jupyter-full.txt"),
    ),
    ("notebooks/01-units-basics.ipynb", include_str!("../../notebooks/01-units-basics.ipynb")),
    ("notebooks/02-torch-gpu.ipynb", include_str!("../../notebooks/02-torch-gpu.ipynb")),
    ("notebooks/03-plotting.ipynb", include_str!("../../notebooks/03-plotting.ipynb")),
];

/// What `image`'s CUDA libraries need of the driver, read from its lock (None: it has none).
pub fn cuda_need(image: ImageId, arch: Arch) -> Option<crate::gpu::CudaNeed> {
    let spec = image.spec();
    let lock = match spec.jupyter_on {
        Some(on) => {
            format!("docker/requirements/{}/jupyter-{on}.txt", arch.platform().trim_start_matches("linux/"))
        }
        None => format!(
            "docker/requirements/{}/{}.txt",
            arch.platform().trim_start_matches("linux/"),
            spec.target
        ),
    };
    let text = CONTEXT_FILES.iter().find(|(path, _)| *path == lock)?.1;
    crate::gpu::CudaNeed::from_lock(text)
}

pub struct BuildOptions {
    pub no_cache: bool,
    pub platform: Option<String>,
    pub dimtensor_version: String,
    pub python_image: String,
    pub ca_cert: Option<PathBuf>,
}

impl BuildOptions {
    /// Flags over settings over defaults; the CA bundle from --ca-cert or the usual variables.
    pub fn new(
        config: &Config,
        dimtensor_version: Option<String>,
        python_image: Option<String>,
        ca_cert: Option<PathBuf>,
    ) -> Result<BuildOptions> {
        let ca_cert = ca_cert.or_else(|| {
            ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
                .iter()
                .find_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()).map(PathBuf::from))
        });
        if let Some(ca) = &ca_cert {
            if !ca.is_file() {
                return Err(Error::usage(format!("CA bundle {} does not exist", ca.display())).hint(
                    "pass --ca-cert with a PEM file, or unset PIP_CERT / SSL_CERT_FILE / REQUESTS_CA_BUNDLE",
                ));
            }
        }
        Ok(BuildOptions {
            no_cache: false,
            platform: None,
            dimtensor_version: dimtensor_version
                .or(config.dimtensor_version.clone())
                .unwrap_or_else(|| DIMTENSOR_VERSION.into()),
            python_image: python_image
                .or(config.python_image.clone())
                .unwrap_or_else(|| DEFAULT_PYTHON_IMAGE.into()),
            ca_cert,
        })
    }
}

/// The context tar: the embedded files, plus the CA bundle at docker/ca/ca-bundle.crt (the
/// Dockerfile bind-mounts it for pip; it is sent to the engine, never written into a layer).
pub fn context_tar(ca_bundle: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut files: Vec<(String, &[u8])> =
        CONTEXT_FILES.iter().map(|(path, text)| (path.to_string(), text.as_bytes())).collect();
    if let Some(bundle) = ca_bundle {
        files.push(("docker/ca/ca-bundle.crt".into(), bundle));
    }
    tar_of(files)
}

/// A build context: files by path (scripts `*.sh` executable), with no owner or time in them.
pub fn tar_of<'a>(files: impl IntoIterator<Item = (String, &'a [u8])>) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let fail = |e: std::io::Error| Error::new(Kind::Image, "cannot assemble the build context").cause(e);
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(if path.ends_with(".sh") { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, &path, data).map_err(fail)?;
    }
    builder.into_inner().map_err(fail)
}

/// Build arguments for one image, proxies included (predefined build args, kept out of history).
pub fn build_args(image: ImageId, opts: &BuildOptions) -> HashMap<String, String> {
    let mut args = HashMap::from([
        ("DIMTENSOR_VERSION".to_string(), opts.dimtensor_version.clone()),
        ("PYTHON_IMAGE".to_string(), opts.python_image.clone()),
    ]);
    if let Some(on) = image.spec().jupyter_on {
        args.insert("JUPYTER_ON".into(), on.into());
    }
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] {
        if let Ok(v) = std::env::var(var) {
            args.insert(var.into(), v);
        }
    }
    args
}

/// Whether `reference` is here for the wanted architecture (one local tag holds one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Missing,
    Present,
    /// Here, but built or pulled for another architecture (its name as the engine says it).
    OtherArch(String),
}

impl Presence {
    /// A local image's presence for `arch`, from the architecture its inspect names.
    pub fn of(image_architecture: Option<&str>, arch: Arch) -> Presence {
        match image_architecture {
            Some(a) if Arch::from_engine("", a).ok() != Some(arch) => Presence::OtherArch(a.to_string()),
            _ => Presence::Present,
        }
    }
}

pub async fn presence(engine: &Engine, reference: &str, arch: Arch) -> Result<Presence> {
    match engine.docker.inspect_image(reference).await {
        Ok(image) => Ok(Presence::of(image.architecture.as_deref(), arch)),
        Err(e) if api_status(&e).is_some_and(|(c, _)| c == 404) => Ok(Presence::Missing),
        Err(e) => Err(engine.fail("inspecting an image", e)),
    }
}

/// The build request for `image`: the embedded Dockerfile's stage, its build args, and the
/// builder the engine model names.
fn build_options(
    image: ImageId,
    reference: &str,
    opts: &BuildOptions,
    builder: Builder,
) -> bollard::query_parameters::BuildImageOptions {
    use bollard::query_parameters::BuildImageOptionsBuilder;
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile("docker/Dockerfile")
        .t(reference)
        .target(image.spec().target)
        .buildargs(&build_args(image, opts))
        .nocache(opts.no_cache)
        .rm(true);
    options = with_builder(options, builder);
    if let Some(p) = &opts.platform {
        options = options.platform(p);
    }
    options.build()
}

/// The builder the engine model names, on a build request.
pub fn with_builder(
    options: bollard::query_parameters::BuildImageOptionsBuilder,
    builder: Builder,
) -> bollard::query_parameters::BuildImageOptionsBuilder {
    use bollard::query_parameters::BuilderVersion;
    match builder {
        Builder::BuildKit => options
            .version(BuilderVersion::BuilderBuildKit)
            .session(&format!("dimtensor-up-{}", crate::base::state::random_hex(8))),
        // Podman builds with Buildah, which reads the same RUN --mount forms.
        Builder::Classic => options.version(BuilderVersion::BuilderV1),
    }
}

/// Builds `image` (and, through the same build, tags `<ref>` and `<ref>-<dimtensor version>`).
pub async fn build(
    engine: &Engine,
    image: ImageId,
    registry: &str,
    opts: &BuildOptions,
    reporter: &Reporter,
) -> Result<()> {
    let reference = image.reference(registry);
    let ca = match &opts.ca_cert {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| Error::usage(format!("cannot read CA bundle {}", path.display())).cause(e))?,
        ),
        None => None,
    };
    let context = context_tar(ca.as_deref())?;
    let options = build_options(image, &reference, opts, engine.model().await?.builder());
    reporter.note(format!(
        "building {reference} (target {}{})",
        image.spec().target,
        image.spec().jupyter_on.map(|o| format!(" on {o}")).unwrap_or_default()
    ));
    stream_build(engine, options, context, &reference, Follow::Steps, reporter)
        .await
        .map_err(|failed| failed.into_error(&reference))?;
    let versioned = image.versioned_reference(registry, &opts.dimtensor_version);
    tag(engine, &reference, &versioned).await?;
    reporter.note(format!("built {reference} and {versioned}"));
    Ok(())
}

/// A build that failed: the engine's error, or the builder's message with the failed step's log.
pub enum BuildFailed {
    Engine(Error),
    Step { message: String, step: Option<String>, log: Vec<String> },
}

impl BuildFailed {
    /// The error of a failed build: the step, the builder's message, the step's last log lines.
    pub fn into_error(self, reference: &str) -> Error {
        match self {
            BuildFailed::Engine(err) => err,
            BuildFailed::Step { message, step, log } => {
                let mut err = Error::new(Kind::Image, format!("building {reference} failed"));
                if let Some(step) = step {
                    err = err.cause(format!("step: {step}"));
                }
                err = err.cause(first_line(&message));
                for line in log.iter().skip(log.len().saturating_sub(15)) {
                    err = err.cause(format!("| {line}"));
                }
                err.hint("the step's log is above; offline? pip needs PyPI (behind a proxy: --ca-cert FILE, HTTPS_PROXY)")
            }
        }
    }
}

/// What a build shows while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Each step: on the spinner (a terminal), else a line each.
    Steps,
    /// The running step's log (pip's lines) on the spinner; nothing when not a terminal.
    Log,
}

/// Sends one build to the engine and follows it until the engine tags `reference`; returns the
/// build's last log lines. Dropping the future (Ctrl-C) closes the
/// request, and the engine cancels the build: nothing is tagged.
pub async fn stream_build(
    engine: &Engine,
    options: bollard::query_parameters::BuildImageOptions,
    context: Vec<u8>,
    reference: &str,
    follow: Follow,
    reporter: &Reporter,
) -> std::result::Result<Vec<String>, BuildFailed> {
    let spinner = reporter.spinner(format!("building {reference}"));
    let show = |lines: Vec<String>| {
        for line in lines {
            match (reporter.is_tty(), follow) {
                (true, _) => spinner.set_message(line),
                (false, Follow::Steps) => reporter.note(format!("  {line}")),
                (false, Follow::Log) => {}
            }
        }
    };
    // What the tag names before the build: a progress stream that breaks off (the engine's last
    // lines cut mid-message) after the build tagged a new image still counts as built.
    let before = image_id(engine, reference).await;
    let mut progress = BuildProgress::default();
    let mut stream = engine.docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                // The classic builder streams its output as text: each step, then its log.
                if let Some(text) = info.stream.as_deref() {
                    show(progress.classic_text(text));
                }
                if let Some(bollard::models::BuildInfoAux::BuildKit(status)) = info.aux {
                    let steps = progress.update(&status);
                    match follow {
                        Follow::Steps => show(steps),
                        Follow::Log => show(progress.last_log().last().cloned().into_iter().collect()),
                    }
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                spinner.finish_and_clear();
                let log = progress.failed_log_tail();
                return Err(BuildFailed::Step { message: error, step: progress.failed_step, log });
            }
            Err(other) => {
                spinner.finish_and_clear();
                let after = image_id(engine, reference).await;
                if api_status(&other).is_none() && after.is_some() && after != before {
                    reporter.detail(format!(
                        "the build's progress stream broke off ({other}) after it tagged {reference}"
                    ));
                    return Ok(progress.last_log());
                }
                return Err(BuildFailed::Engine(engine.fail(&format!("building {reference}"), other)));
            }
        }
    }
    spinner.finish_and_clear();
    Ok(progress.last_log())
}

/// The ID of the local image `reference` names, if any.
async fn image_id(engine: &Engine, reference: &str) -> Option<String> {
    engine.docker.inspect_image(reference).await.ok().and_then(|image| image.id)
}

/// Tags the local image `source` as `target` too.
pub async fn tag(engine: &Engine, source: &str, target: &str) -> Result<()> {
    use bollard::query_parameters::TagImageOptionsBuilder;
    let (repo, tag) = target.rsplit_once(':').expect("a reference has a tag");
    engine
        .docker
        .tag_image(source, Some(TagImageOptionsBuilder::default().repo(repo).tag(tag).build()))
        .await
        .map_err(|e| engine.fail(&format!("tagging {target}"), e))
}

/// A step's log lines kept for its error (pip's conflict report is some 20 lines).
const LOG_LINES_KEPT: usize = 60;

/// Turns BuildKit status updates into step lines; keeps each step's last log lines.
#[derive(Default)]
struct BuildProgress {
    announced: std::collections::HashSet<String>,
    logs: HashMap<String, Vec<String>>,
    failed_step: Option<String>,
    failed_digest: Option<String>,
    /// The build's last log lines, whatever step wrote them.
    tail: Vec<String>,
}

impl BuildProgress {
    fn update(&mut self, status: &bollard::moby::buildkit::v1::StatusResponse) -> Vec<String> {
        let mut lines = Vec::new();
        for v in &status.vertexes {
            if !v.error.is_empty() && self.failed_step.is_none() {
                self.failed_step = Some(v.name.clone());
                self.failed_digest = Some(v.digest.clone());
            }
            if v.started.is_some()
                && !v.name.starts_with("[internal]")
                && self.announced.insert(v.digest.clone())
            {
                lines.push(format!("{}{}", v.name, if v.cached { " (cached)" } else { "" }));
            }
        }
        for log in &status.logs {
            let lines: Vec<String> = String::from_utf8_lossy(&log.msg).lines().map(str::to_string).collect();
            self.keep_in_tail(&lines);
            let entry = self.logs.entry(log.vertex.clone()).or_default();
            entry.extend(lines);
            let excess = entry.len().saturating_sub(LOG_LINES_KEPT);
            entry.drain(..excess);
        }
        lines
    }
    /// The classic builder's text: step lines announce steps; the rest is the current step's log.
    fn classic_text(&mut self, text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            // Buildah: "[2/3] STEP 4/9: RUN …" (multi-stage) or "STEP 1/5: FROM …"; Docker: "Step 1/5 : …".
            let step = line
                .trim_start_matches(|c: char| c == '[' || c == ']' || c == '/' || c.is_ascii_digit())
                .trim_start();
            if step.starts_with("STEP ") || step.starts_with("Step ") {
                self.failed_step = Some(line.to_string());
                self.failed_digest = Some(line.to_string());
                lines.push(line.to_string());
            } else if let Some(step) = self.failed_digest.clone() {
                self.keep_in_tail(&[line.to_string()]);
                let entry = self.logs.entry(step.clone()).or_default();
                entry.push(line.to_string());
                let excess = entry.len().saturating_sub(LOG_LINES_KEPT);
                entry.drain(..excess);
            }
        }
        lines
    }
    /// The build's last log lines, of every step.
    fn last_log(&self) -> Vec<String> {
        self.tail.clone()
    }

    fn keep_in_tail(&mut self, lines: &[String]) {
        self.tail.extend(lines.iter().cloned());
        let excess = self.tail.len().saturating_sub(LOG_LINES_KEPT);
        self.tail.drain(..excess);
    }

    fn failed_log_tail(&self) -> Vec<String> {
        self.failed_digest.as_ref().and_then(|d| self.logs.get(d)).cloned().unwrap_or_default()
    }
}

/// What a finished pull did, for its one line.
#[derive(Debug, Default, PartialEq)]
struct PullSummary {
    /// The digest the registry gave for the tag (a multi-arch list's, for those).
    digest: Option<String>,
    downloaded_bytes: u64,
    downloaded_layers: usize,
    layers_here: usize,
    /// The engine said the local image already was the registry's.
    up_to_date: bool,
}

impl PullSummary {
    /// Folds one status message of the pull stream in (`layer_total`: the layer's size as its
    /// download progress said it).
    fn record(&mut self, status: &str, layer_total: Option<u64>) {
        if let Some(digest) = status.strip_prefix("Digest: ") {
            self.digest = Some(digest.trim().to_string());
        } else if status.starts_with("Status: Image is up to date") {
            self.up_to_date = true;
        } else if status == "Already exists" {
            self.layers_here += 1;
        } else if status == "Download complete" {
            self.downloaded_layers += 1;
            self.downloaded_bytes += layer_total.unwrap_or(0);
        }
    }

    fn line(&self, reference: &str) -> String {
        let digest = self
            .digest
            .as_deref()
            .map(|d| format!(" ({})", crate::engine::registry::short_digest(d)))
            .unwrap_or_default();
        if self.up_to_date {
            return format!("{reference} is up to date{digest}");
        }
        if self.downloaded_layers == 0 {
            return format!("pulled {reference}{digest}: nothing to download, its layers were here");
        }
        format!(
            "pulled {reference}{digest}: {} downloaded in {} layer(s), {} already here",
            crate::base::reporter::human_bytes(self.downloaded_bytes),
            self.downloaded_layers,
            self.layers_here
        )
    }
}

/// Pulls `reference` for `arch` (a multi-arch tag gives that architecture) with the user's
/// registry login: a bar per layer on a terminal, one line at the end otherwise.
pub async fn pull(engine: &Engine, reference: &str, arch: Arch, reporter: &Reporter) -> Result<()> {
    use bollard::query_parameters::CreateImageOptionsBuilder;
    let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    let credentials = crate::engine::registry::credentials_for(reference, reporter).await?;
    reporter.note(format!("pulling {reference} ({})", arch.platform()));
    let bars = indicatif::MultiProgress::new();
    let mut layers: HashMap<String, (indicatif::ProgressBar, Option<u64>)> = HashMap::new();
    let mut summary = PullSummary::default();
    let mut stream = engine.docker.create_image(
        Some(
            CreateImageOptionsBuilder::default().from_image(repo).tag(tag).platform(arch.platform()).build(),
        ),
        None,
        credentials,
    );
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                let _ = bars.clear();
                return Err(pull_error(reference, &e));
            }
        };
        let Some(status) = info.status else { continue };
        let Some(id) = info.id.filter(|id| !id.is_empty() && !status.starts_with("Pulling from")) else {
            summary.record(&status, None);
            continue;
        };
        let (bar, total) =
            layers.entry(id.clone()).or_insert_with(|| (bars.add(reporter.bytes_bar(id.clone())), None));
        if let Some((Some(cur), Some(len))) = info.progress_detail.map(|d| (d.current, d.total)) {
            if status == "Downloading" {
                *total = Some(len.max(0) as u64);
            }
            bar.set_length(len.max(0) as u64);
            bar.set_position(cur.max(0) as u64);
        }
        summary.record(&status, *total);
        if status == "Pull complete" || status == "Already exists" {
            bar.finish_and_clear();
        }
    }
    let _ = bars.clear();
    reporter.note(summary.line(reference));
    Ok(())
}

/// The registry's digest for `reference` when it differs from the one the local image was pulled
/// by (None: the same, built here, or the registry did not answer). Quiet and best effort: it
/// runs beside a start and is dropped when the start is faster.
pub async fn newer_in_registry(docker: bollard::Docker, reference: String) -> Option<String> {
    let local = docker.inspect_image(&reference).await.ok()?.repo_digests.unwrap_or_default();
    let repository = crate::engine::registry::repository_of(&reference);
    // Built here: nothing to compare, no request to send.
    crate::engine::registry::pulled_digest(&local, repository)?;
    let quiet = Reporter::new(true, false);
    let credentials = crate::engine::registry::credentials_for(&reference, &quiet).await.ok()?;
    let remote = docker.inspect_registry_image(&reference, credentials).await.ok()?.descriptor.digest?;
    match crate::engine::registry::freshness(&local, repository, &remote) {
        crate::engine::registry::Freshness::Newer(digest) => Some(digest),
        _ => None,
    }
}

fn pull_error(reference: &str, err: &bollard::errors::Error) -> Error {
    use crate::base::error::EngineSays;
    let text = crate::base::error::engine_message(err);
    let base = Error::new(Kind::Image, format!("cannot pull {reference}")).cause(first_line(&text));
    match EngineSays::of(&text) {
        EngineSays::RegistryLogin => {
            let login = crate::engine::registry::login_command(crate::engine::registry::host_of(reference));
            base.hint(format!("log in to the registry (`{login}`; its credential helpers count too), or build the image: dimtensor-up build"))
        }
        EngineSays::NotInRegistry => base.hint("the registry has no such image; build it: dimtensor-up build, or set another registry with `dimtensor-up config set registry …`"),
        EngineSays::RegistryUnreachable => {
            base.hint("the registry cannot be reached (offline?); build the image locally: dimtensor-up build")
        }
        _ => base.hint("build the image locally instead: dimtensor-up build"),
    }
}

/// How an image came to be there, said on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Local,
    Pulled,
    Built,
}

/// local image → pull → build, as the policy and --build say, for `platforms.images`.
pub async fn ensure(
    engine: &Engine,
    image: ImageId,
    platforms: Platforms,
    config: &Config,
    policy: PullPolicy,
    force_build: bool,
    reporter: &Reporter,
) -> Result<(String, Source)> {
    let reference = image.reference(config.registry());
    let arch = platforms.images;
    let build_opts = || {
        let mut opts = BuildOptions::new(config, None, None, None)?;
        opts.platform = platforms.explicit().map(str::to_string);
        Ok::<_, Error>(opts)
    };
    if force_build {
        build(engine, image, config.registry(), &build_opts()?, reporter).await?;
        return Ok((reference, Source::Built));
    }
    let present = match presence(engine, &reference, arch).await? {
        Presence::Present => true,
        Presence::Missing => false,
        Presence::OtherArch(other) => {
            reporter.note(format!(
                "the local {reference} is for linux/{other}; getting the {} one (it replaces that tag)",
                arch.platform()
            ));
            false
        }
    };
    match policy {
        PullPolicy::Always => {
            pull(engine, &reference, arch, reporter).await?;
            Ok((reference, Source::Pulled))
        }
        PullPolicy::Missing | PullPolicy::Never if present => {
            reporter.detail(format!("using the local image {reference}"));
            Ok((reference, Source::Local))
        }
        PullPolicy::Missing => match pull(engine, &reference, arch, reporter).await {
            Ok(()) => Ok((reference, Source::Pulled)),
            Err(pull_err) => {
                reporter
                    .note(format!("{}; building it from the built-in Dockerfile instead", pull_err.message));
                build(engine, image, config.registry(), &build_opts()?, reporter)
                    .await
                    .map_err(|e| e.cause(format!("(before that: {})", pull_err.message)))?;
                Ok((reference, Source::Built))
            }
        },
        PullPolicy::Never => {
            reporter.note(format!("{reference} is not present and --pull never: building it"));
            build(engine, image, config.registry(), &build_opts()?, reporter).await?;
            Ok((reference, Source::Built))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pulls_statuses_become_its_line() {
        let mut s = super::PullSummary::default();
        for (status, total) in [
            ("Pulling from dimtensor", None),
            ("Already exists", None),
            ("Already exists", None),
            ("Pulling fs layer", None),
            ("Downloading", Some(250_000_000)),
            ("Download complete", Some(250_000_000)),
            ("Extracting", Some(250_000_000)),
            ("Pull complete", Some(250_000_000)),
            ("Digest: sha256:0123456789abcdef", None),
            ("Status: Downloaded newer image for r/d:base", None),
        ] {
            s.record(status, total);
        }
        assert_eq!(
            s.line("r/d:base"),
            "pulled r/d:base (sha256:0123456789ab): 250 MB downloaded in 1 layer(s), 2 already here"
        );
        // The engine lists no layers when it has the image under another name.
        let mut here = super::PullSummary::default();
        here.record("Status: Downloaded newer image for r/d:base", None);
        assert_eq!(here.line("r/d:base"), "pulled r/d:base: nothing to download, its layers were here");
        let mut same = super::PullSummary::default();
        same.record("Digest: sha256:0123456789abcdef", None);
        same.record("Status: Image is up to date for r/d:base", None);
        assert_eq!(same.line("r/d:base"), "r/d:base is up to date (sha256:0123456789ab)");
    }

    #[test]
    fn classic_build_text_becomes_steps_and_logs() {
        let mut p = super::BuildProgress::default();
        let lines = p.classic_text(
            "[1/2] STEP 1/9: FROM python AS base\n[1/2] STEP 2/9: RUN pip-install\nCollecting numpy\n",
        );
        assert_eq!(lines, ["[1/2] STEP 1/9: FROM python AS base", "[1/2] STEP 2/9: RUN pip-install"]);
        assert_eq!(p.failed_step.as_deref(), Some("[1/2] STEP 2/9: RUN pip-install"));
        assert_eq!(p.failed_log_tail(), ["Collecting numpy"]);
        assert_eq!(p.classic_text("Step 1/5 : FROM x\n"), ["Step 1/5 : FROM x"]);
    }
}
