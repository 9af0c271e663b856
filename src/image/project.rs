//! The project image: the lab image plus the project's own packages (spec/project.rs), built through
//! whatever engine is in use from a generated Dockerfile. Named by a key of (lab image, files,
//! platform): unchanged files mean no build call at all. pip installs into the lab's venv held
//! to the lab's constraints, so numpy, torch, jax and dimtensor stay as the lab was tested; the
//! credentials it needs (pip.conf, PIP_INDEX_URL, netrc, the CA bundle) reach the one RUN as a
//! bind mount from the build context, never a layer, the history or the image's config.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::base::error::{api_status, Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::engine::Engine;
use crate::image::{stream_build, BuildFailed, Follow};
use crate::spec::catalog::Platforms;
use crate::spec::config::Config;
use crate::spec::project::{PipFailure, ProjectEnv};

/// Where project images are named: `dimtensor-up-project/<folder>:<key>`.
pub const REPOSITORY: &str = "dimtensor-up-project";
/// The tags that pin the exact lab image a project image is built `FROM` (by its ID).
pub const BASE_REPOSITORY: &str = "dimtensor-up-project/base";

/// Labels on a project image (and the lab image it was built on, by ID).
pub mod labels {
    pub const FOLDER: &str = "org.dimtensor-up.project-folder";
    pub const KEY: &str = "org.dimtensor-up.project-key";
    /// `name=hash` of each file used, space-separated: what changed between two builds.
    pub const FILES: &str = crate::spec::naming::labels::PROJECT_FILES;
    pub const LAB_IMAGE: &str = "org.dimtensor-up.lab-image";
}

/// The generated Dockerfile: the exact lab image (pinned by a tag that names its ID), one RUN
/// with the project's files and the credentials mounted from the context, the lab's user after.
fn dockerfile(base: &str) -> String {
    format!(
        "FROM {base}\n\
         USER 0:0\n\
         RUN --mount=type=bind,source=project,target=/tmp/project \\\n    \
         --mount=type=cache,target=/var/cache/pip,sharing=locked \\\n    \
         sh /tmp/project/install.sh\n\
         USER 1000:1000\n"
    )
}

/// The RUN's script: credentials from the mounted context, then pip into the venv, constrained
/// by the lab's pins (PIP_CONSTRAINT, set in the image). No prompt: a wrong password fails.
const INSTALL_SH: &str = r#"set -eu
cd /tmp/project
secrets=/tmp/project/secrets
if [ -s "$secrets/pip.conf" ]; then export PIP_CONFIG_FILE="$secrets/pip.conf"; fi
if [ -s "$secrets/netrc" ]; then export NETRC="$secrets/netrc"; fi
if [ -s "$secrets/ca-bundle.crt" ]; then export PIP_CERT="$secrets/ca-bundle.crt"; fi
if [ -s "$secrets/pip.env" ]; then . "$secrets/pip.env"; fi
export PIP_USER=0 PIP_CACHE_DIR=/var/cache/pip PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
# pip says why an index gave nothing (a 401, a TLS failure) only in its verbose log: those lines
# are printed on failure. The log goes with the RUN, not into the layer.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pip install --require-virtualenv --log "$log" -r requirements.txt || {
  status=$?
  grep -o 'Could not fetch URL .*' "$log" | sort -u | head -n 3 || true
  exit "$status"
}
"#;

/// pip settings taken from the environment into the build (the index and its credentials).
const PIP_VARIABLES: &[&str] = &["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST"];

/// The lab image for `env`'s project: `lab_ref` when the project has no files, else its project
/// image, built when its key is new.
pub async fn ensure(
    engine: &Engine,
    lab_ref: &str,
    env: &ProjectEnv,
    workdir: &Path,
    platforms: Platforms,
    config: &Config,
    reporter: &Reporter,
) -> Result<String> {
    for note in &env.notes {
        reporter.note(note);
    }
    if env.is_empty() {
        return Ok(lab_ref.to_string());
    }
    let lab_id = image_id(engine, lab_ref)
        .await?
        .ok_or_else(|| Error::new(Kind::Image, format!("{lab_ref} is not here")).hint("dimtensor-up pull"))?;
    let key = env.key(&lab_id, platforms.images.platform());
    let reference = format!("{REPOSITORY}/{}:{key}", crate::spec::naming::folder_slug(workdir));
    if image_id(engine, &reference).await?.is_some() {
        reporter.note(format!("packages from {}: {reference} (unchanged)", env.summary()));
        return Ok(reference);
    }
    let why = what_changed(engine, workdir, env, &lab_id).await;
    reporter.note(format!("packages from {}: building {reference} ({why})", env.summary()));
    let base =
        format!("{BASE_REPOSITORY}:{}", lab_id.trim_start_matches("sha256:").get(..16).unwrap_or(&lab_id));
    crate::image::tag(engine, lab_ref, &base).await?;
    let secrets = Secrets::gather(config)?;
    let requirements = env.requirements()?;
    let dockerfile = dockerfile(&base);
    let mut files: Vec<(String, &[u8])> = vec![
        ("Dockerfile".into(), dockerfile.as_bytes()),
        ("project/install.sh".into(), INSTALL_SH.as_bytes()),
        ("project/requirements.txt".into(), requirements.as_bytes()),
    ];
    for (path, text) in env.context_files() {
        files.push((format!("project/{path}"), text.as_bytes()));
    }
    for (name, data) in &secrets.files {
        files.push((format!("project/secrets/{name}"), data.as_slice()));
    }
    let context = crate::image::tar_of(files)?;
    let image_labels = HashMap::from([
        (labels::FOLDER.to_string(), workdir.display().to_string()),
        (labels::KEY.to_string(), key.clone()),
        (labels::FILES.to_string(), env.files_label()),
        (labels::LAB_IMAGE.to_string(), lab_id.clone()),
    ]);
    let mut options = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&reference)
        .labels(&image_labels)
        .rm(true)
        .forcerm(true);
    options = crate::image::with_builder(options, engine.model().await?.builder());
    if let Some(platform) = platforms.explicit() {
        options = options.platform(platform);
    }
    let started = std::time::Instant::now();
    let log = stream_build(engine, options.build(), context, &reference, Follow::Log, reporter)
        .await
        .map_err(|failed| install_error(failed, &reference, env))?;
    let installed = log
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("Successfully installed "))
        .map(|list| format!("installed {}", list.trim()))
        .unwrap_or_else(|| match log.is_empty() || log.iter().any(|l| l.contains("Using cache")) {
            // The same files were built on this lab before (another folder, or a removed tag).
            true => "its layer came from the engine's build cache".into(),
            false => "nothing new to install (the lab has it all)".into(),
        });
    reporter.note(format!("built {reference} in {:.0} s: {installed}", started.elapsed().as_secs_f64()));
    Ok(reference)
}

async fn image_id(engine: &Engine, reference: &str) -> Result<Option<String>> {
    match engine.docker.inspect_image(reference).await {
        Ok(image) => Ok(image.id),
        Err(e) if api_status(&e).is_some_and(|(c, _)| c == 404) => Ok(None),
        Err(e) => Err(engine.fail("inspecting an image", e)),
    }
}

/// Why a build is needed, compared with this folder's newest project image.
async fn what_changed(engine: &Engine, workdir: &Path, env: &ProjectEnv, lab_id: &str) -> String {
    use bollard::query_parameters::ListImagesOptionsBuilder;
    let filters = HashMap::from([("label", vec![format!("{}={}", labels::FOLDER, workdir.display())])]);
    let images = engine
        .docker
        .list_images(Some(ListImagesOptionsBuilder::default().filters(&filters).build()))
        .await
        .unwrap_or_default();
    let Some(previous) = images.iter().max_by_key(|i| i.created) else {
        return "first build for this folder".into();
    };
    let before: HashMap<&str, &str> = previous
        .labels
        .get(labels::FILES)
        .map(|f| f.split(' ').filter_map(|p| p.split_once('=')).collect())
        .unwrap_or_default();
    let mut changed: Vec<String> = Vec::new();
    for (name, hash) in env.file_hashes() {
        match before.get(name.as_str()) {
            Some(old) if *old == hash => {}
            Some(_) => changed.push(format!("{name} changed")),
            None => changed.push(format!("{name} is new")),
        }
    }
    if previous.labels.get(labels::LAB_IMAGE).is_some_and(|old| old != lab_id) {
        changed.push("the lab image changed".into());
    }
    match changed.is_empty() {
        true => "the extras, groups or platform changed".into(),
        false => changed.join(", "),
    }
}

/// The credentials pip needs, as files for the build context (mounted into the one RUN).
struct Secrets {
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Secrets {
    fn gather(config: &Config) -> Result<Secrets> {
        let mut files = Vec::new();
        let read = |path: &Path| std::fs::read(path).ok().filter(|d| !d.is_empty());
        let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
        let pip_conf = std::env::var_os("PIP_CONFIG_FILE").map(PathBuf::from).or_else(|| {
            let config_home = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".config")));
            [config_home.map(|c| c.join("pip/pip.conf")), home.as_ref().map(|h| h.join(".pip/pip.conf"))]
                .into_iter()
                .flatten()
                .find(|p| p.is_file())
        });
        if let Some(data) = pip_conf.as_deref().and_then(read) {
            files.push(("pip.conf", data));
        }
        let netrc = std::env::var_os("NETRC").map(PathBuf::from).or_else(|| home.map(|h| h.join(".netrc")));
        if let Some(data) = netrc.as_deref().and_then(read) {
            files.push(("netrc", data));
        }
        let variables: String = PIP_VARIABLES
            .iter()
            .filter_map(|v| std::env::var(v).ok().filter(|x| !x.is_empty()).map(|x| (v, x)))
            .map(|(v, x)| format!("export {v}={}\n", crate::base::sys::sh_quote(&x)))
            .collect();
        if !variables.is_empty() {
            files.push(("pip.env", variables.into_bytes()));
        }
        if let Some(ca) = crate::image::BuildOptions::new(config, None, None, None)?.ca_cert {
            let data = std::fs::read(&ca)
                .map_err(|e| Error::usage(format!("cannot read CA bundle {}", ca.display())).cause(e))?;
            files.push(("ca-bundle.crt", data));
        }
        Ok(Secrets { files })
    }
}

/// A failed project build in the user's terms: pip's reason, with a hint.
fn install_error(failed: BuildFailed, reference: &str, env: &ProjectEnv) -> Error {
    let BuildFailed::Step { log, .. } = &failed else { return failed.into_error(reference) };
    let files = env.summary();
    let pip_lines = |err: Error| {
        log.iter()
            .filter(|l| {
                l.trim_start().starts_with("ERROR:")
                    || l.contains("The user requested")
                    || l.contains(" depends on ")
            })
            .take(8)
            .fold(err, |e, l| e.cause(format!("pip: {}", l.trim())))
    };
    match PipFailure::of(log) {
        PipFailure::Conflict { requirement, from, pin } => {
            let from = from.map(|f| format!(" (from {f})")).unwrap_or_default();
            Error::new(Kind::Image, format!("`{requirement}`{from} conflicts with the lab's {pin}"))
                .cause(format!("the project's packages ({files}) cannot be installed on this lab"))
                .hint(format!("the lab pins {pin}, as dimtensor was tested with it: loosen the requirement in {files}, or pick another lab with --variant (dimtensor-up variants)"))
        }
        PipFailure::NotFound(name) => pip_lines(Error::new(Kind::Image, format!("no package `{name}` on the package index")))
            .hint(format!("check the name in {files} (pypi.org/project/{name}), or the index (PIP_INDEX_URL, pip.conf)")),
        PipFailure::Unauthorized(line) => Error::new(Kind::Image, "the package index refused the credentials")
            .cause(format!("pip: {line}"))
            .hint("check the user and password in PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, pip.conf or ~/.netrc"),
        PipFailure::Unreachable(line) => Error::new(Kind::Image, "the package index cannot be reached")
            .cause(format!("pip: {line}"))
            .hint("offline, or behind a proxy? set HTTPS_PROXY, and PIP_CERT for a corporate CA; or start the plain lab: --no-requirements"),
        PipFailure::Other(line) => pip_lines(Error::new(
            Kind::Image,
            format!("installing the project's packages failed{}", if line.is_empty() { String::new() } else { format!(": {line}") }),
        ))
        .hint(format!("pip's log is above; fix {files}, or start the plain lab: --no-requirements")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dockerfile_names_no_secret_and_runs_as_the_labs_user() {
        let text = super::dockerfile("dimtensor-up-project/base:0123456789abcdef");
        assert!(text.starts_with("FROM dimtensor-up-project/base:0123456789abcdef\n"));
        assert!(text.ends_with("USER 1000:1000\n"));
        // Credentials are files in the mounted context; the RUN's text (docker history) names none.
        assert!(!text.contains("PIP_INDEX_URL") && !text.contains("netrc"));
        assert!(super::INSTALL_SH.contains("PIP_NO_INPUT=1"));
    }
}
