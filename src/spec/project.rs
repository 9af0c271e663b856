//! The research project's own environment: the files in the work folder that list its packages
//! (requirements.txt, pyproject.toml), read where the work folder is, turned into one
//! requirements text for a project image on top of the lab, and keyed by their contents. Pure
//! apart from reading the files through `sys::Folders`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::error::{Error, Result};
use crate::base::sys::Folders;

/// What the command line says about the project's files.
#[derive(Debug, Clone, Default)]
pub struct ProjectFlags {
    /// `--requirements FILE`: these files instead of the ones found in the work folder.
    pub files: Vec<PathBuf>,
    /// `--no-requirements`: the plain lab.
    pub ignore: bool,
    /// `--extra NAME`: pyproject.toml's `[project.optional-dependencies]` groups.
    pub extras: Vec<String>,
    /// `--group NAME`: pyproject.toml's `[dependency-groups]`.
    pub groups: Vec<String>,
}

/// One file the project image installs from, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvFile {
    /// As the user knows it: relative to the work folder where it lies inside it.
    pub shown: String,
    pub kind: FileKind,
    pub text: String,
    /// Files a requirements file names with -r/-c (relative to it), read too.
    pub includes: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FileKind {
    Requirements,
    Pyproject,
}

/// The project's environment: the files used, what was chosen in them, and one line for each
/// file found that cannot be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectEnv {
    pub files: Vec<EnvFile>,
    pub extras: Vec<String>,
    pub groups: Vec<String>,
    /// Lines about files that are not used (environment.yml, uv.lock, …) and why.
    pub notes: Vec<String>,
}

/// Files the labs cannot use, with what to do instead.
const UNUSABLE: &[(&str, &str)] = &[
    ("environment.yml", "the labs have no conda; list its pip packages in requirements.txt"),
    ("environment.yaml", "the labs have no conda; list its pip packages in requirements.txt"),
    ("uv.lock", "export it for pip: uv export --no-hashes --format requirements-txt -o requirements.txt"),
    (
        "pylock.toml",
        "export it for pip as requirements.txt (uv export --format requirements-txt, pip freeze)",
    ),
    ("Pipfile", "export it: pipenv requirements > requirements.txt"),
    ("poetry.lock", "export it: poetry export -f requirements.txt -o requirements.txt"),
];

impl ProjectEnv {
    /// The work folder's files (or the flags' files), read through `folders`.
    pub fn find(
        flags: &ProjectFlags,
        workdir: &Path,
        base: &Path,
        folders: &dyn Folders,
    ) -> Result<ProjectEnv> {
        let mut env =
            ProjectEnv { extras: flags.extras.clone(), groups: flags.groups.clone(), ..Default::default() };
        if flags.ignore || !folders.checks() {
            return Ok(env);
        }
        let named = !flags.files.is_empty();
        let candidates: Vec<PathBuf> = match named {
            true => {
                flags.files.iter().map(|f| if f.is_absolute() { f.clone() } else { base.join(f) }).collect()
            }
            false => vec![workdir.join("requirements.txt"), workdir.join("pyproject.toml")],
        };
        for path in candidates {
            let shown = path
                .strip_prefix(workdir)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.display().to_string());
            let Some(text) = folders.read(&path) else {
                if named {
                    return Err(Error::usage(format!(
                        "--requirements {}{} does not exist",
                        path.display(),
                        folders.place()
                    ))
                    .hint("give a requirements.txt or pyproject.toml that exists"));
                }
                continue;
            };
            let kind = match path.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".toml")) {
                true => FileKind::Pyproject,
                false => FileKind::Requirements,
            };
            let mut file = EnvFile { shown, kind, text, includes: Vec::new() };
            match kind {
                FileKind::Pyproject => {
                    // A pyproject.toml that lists no dependencies (a tool's settings only) is not
                    // a project environment; one that names them under [tool.poetry] gets a line.
                    if pyproject_requirements(&file, &env.extras, &env.groups)?.is_empty() && !named {
                        if file.text.contains("[tool.poetry") {
                            env.notes.push(format!("{} lists its packages under [tool.poetry], which is not read: export them (poetry export -f requirements.txt -o requirements.txt)", file.shown));
                        }
                        continue;
                    }
                }
                FileKind::Requirements => {
                    file.includes = read_includes(&path, &file.text, folders)?;
                }
            }
            env.files.push(file);
        }
        if !named {
            for (name, instead) in UNUSABLE {
                if folders.read(&workdir.join(name)).is_some() {
                    env.notes.push(format!("{name} is not used: {instead}"));
                }
            }
        }
        if env.files.iter().all(|f| f.kind != FileKind::Pyproject)
            && (!env.extras.is_empty() || !env.groups.is_empty())
        {
            return Err(Error::usage("--extra and --group pick groups of a pyproject.toml, and none is used")
                .hint("add a pyproject.toml with a [project] table to the work folder, or name it with --requirements"));
        }
        Ok(env)
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The one line that says which files the lab's packages come from.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.files.iter().map(|f| f.shown.clone()).collect();
        for extra in &self.extras {
            parts.push(format!("extra `{extra}`"));
        }
        for group in &self.groups {
            parts.push(format!("group `{group}`"));
        }
        parts.join(", ")
    }

    /// The requirements text pip installs: each requirements file by its name in the build
    /// context (`files/N/NAME`, so its -r includes resolve), then pyproject's chosen lists.
    pub fn requirements(&self) -> Result<String> {
        let mut out = String::new();
        for (i, file) in self.files.iter().enumerate() {
            match file.kind {
                FileKind::Requirements => out.push_str(&format!("-r files/{i}/{}\n", file_name(&file.shown))),
                FileKind::Pyproject => {
                    for line in pyproject_requirements(file, &self.extras, &self.groups)? {
                        out.push_str(&line);
                        out.push('\n');
                    }
                }
            }
        }
        Ok(out)
    }

    /// The files that go into the build context beside the requirements text, by context path.
    pub fn context_files(&self) -> Vec<(String, &str)> {
        let mut files = Vec::new();
        for (i, file) in self.files.iter().enumerate() {
            files.push((format!("files/{i}/{}", file_name(&file.shown)), file.text.as_str()));
            for (name, text) in &file.includes {
                files.push((format!("files/{i}/{name}"), text.as_str()));
            }
        }
        files
    }

    /// A stable hash of each file used (name → hash), for "what changed" between builds.
    pub fn file_hashes(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .map(|f| {
                let mut bytes = f.text.clone().into_bytes();
                for (name, text) in &f.includes {
                    bytes.extend(name.as_bytes());
                    bytes.extend(text.as_bytes());
                }
                (f.shown.clone(), format!("{:016x}", crate::spec::naming::fnv1a(&bytes)))
            })
            .collect()
    }

    /// `name=hash` of each file used, space-separated (a label of the image and of the lab).
    pub fn files_label(&self) -> String {
        self.file_hashes().into_iter().map(|(n, h)| format!("{n}={h}")).collect::<Vec<_>>().join(" ")
    }

    /// The project image's key: the lab image, the platform, the files and the choices in them.
    /// Unchanged, the image is reused without asking the builder.
    pub fn key(&self, lab_image_id: &str, platform: &str) -> String {
        let mut text = format!("project-image v1\n{lab_image_id}\n{platform}\n");
        for (name, hash) in self.file_hashes() {
            text.push_str(&format!("{name}={hash}\n"));
        }
        text.push_str(&format!("extras={}\ngroups={}\n", self.extras.join(","), self.groups.join(",")));
        format!("{:016x}", crate::spec::naming::fnv1a(text.as_bytes()))
    }
}

fn file_name(shown: &str) -> String {
    Path::new(shown)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "requirements.txt".into())
}

/// Files a requirements file includes with -r/-c (relative paths, one level of folders deep).
fn read_includes(path: &Path, text: &str, folders: &dyn Folders) -> Result<Vec<(String, String)>> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let named = ["-r", "--requirement", "-c", "--constraint"].iter().find_map(|flag| {
            let rest = line.strip_prefix(flag)?;
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            (rest.starts_with([' ', '\t']) || line.contains('=')).then(|| rest.trim().to_string())
        });
        let Some(name) = named.filter(|n| !n.is_empty()) else { continue };
        if name.contains("://") || Path::new(&name).is_absolute() || name.split('/').any(|c| c == "..") {
            return Err(Error::usage(format!(
                "{} includes `{name}`: only files beside it can be used",
                path.display()
            ))
            .hint("name the file relative to the requirements file, in its folder"));
        }
        let Some(included) = folders.read(&dir.join(&name)) else {
            return Err(Error::usage(format!("{} includes `{name}`, which does not exist", path.display()))
                .hint("create it, or remove the line"));
        };
        found.push((name, included));
    }
    Ok(found)
}

/// pyproject.toml's `[project].dependencies`, the chosen extras and dependency groups.
fn pyproject_requirements(file: &EnvFile, extras: &[String], groups: &[String]) -> Result<Vec<String>> {
    let table: toml::Table = toml::from_str(&file.text).map_err(|e| {
        let at = e.span().map(|s| file.text[..s.start].lines().count().max(1));
        Error::usage(format!(
            "{}{} cannot be read: {}",
            file.shown,
            at.map(|l| format!(" line {l}")).unwrap_or_default(),
            e.message()
        ))
        .hint("fix the TOML (a missing quote or bracket?), or start without it: --no-requirements")
    })?;
    let bad = |what: &str| {
        Error::usage(format!("{}: {what} must be a list of requirement strings", file.shown))
            .hint("e.g. dependencies = [\"pint>=0.24\", \"xarray\"]")
    };
    let strings = |value: &toml::Value, what: &str| -> Result<Vec<String>> {
        value
            .as_array()
            .ok_or_else(|| bad(what))?
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(what)))
            .collect()
    };
    let project = table.get("project").and_then(|p| p.as_table());
    let mut out = match project.and_then(|p| p.get("dependencies")) {
        Some(deps) => strings(deps, "[project].dependencies")?,
        None => Vec::new(),
    };
    let optional = project.and_then(|p| p.get("optional-dependencies")).and_then(|o| o.as_table());
    for extra in extras {
        match optional.and_then(|o| o.get(extra)) {
            Some(list) => out.extend(strings(list, &format!("[project.optional-dependencies].{extra}"))?),
            None => {
                let known: Vec<&String> = optional.map(|o| o.keys().collect()).unwrap_or_default();
                return Err(Error::usage(format!(
                    "--extra {extra}: {} has no such optional-dependencies group",
                    file.shown
                ))
                .hint(format!("its extras: {}", list_or_none(&known))));
            }
        }
    }
    let declared = table.get("dependency-groups").and_then(|g| g.as_table());
    for group in groups {
        out.extend(dependency_group(declared, group, file, 0)?);
    }
    Ok(out)
}

/// One `[dependency-groups]` list (PEP 735), `{include-group = "…"}` entries expanded.
fn dependency_group(
    declared: Option<&toml::Table>,
    group: &str,
    file: &EnvFile,
    depth: u32,
) -> Result<Vec<String>> {
    let Some(list) = declared.and_then(|d| d.get(group)).and_then(|l| l.as_array()) else {
        let known: Vec<&String> = declared.map(|d| d.keys().collect()).unwrap_or_default();
        return Err(Error::usage(format!(
            "--group {group}: {} has no such [dependency-groups] entry",
            file.shown
        ))
        .hint(format!("its groups: {}", list_or_none(&known))));
    };
    if depth > 8 {
        return Err(Error::usage(format!(
            "{}: [dependency-groups] include each other in a loop",
            file.shown
        ))
        .hint("remove the cycle of include-group entries"));
    }
    let mut out = Vec::new();
    for entry in list {
        match (entry.as_str(), entry.get("include-group").and_then(|g| g.as_str())) {
            (Some(requirement), _) => out.push(requirement.to_string()),
            (None, Some(included)) => out.extend(dependency_group(declared, included, file, depth + 1)?),
            _ => {
                return Err(Error::usage(format!("{}: [dependency-groups].{group} has an entry that is neither a requirement nor an include-group", file.shown))
                    .hint("see PEP 735"))
            }
        }
    }
    Ok(out)
}

fn list_or_none(names: &[&String]) -> String {
    match names.is_empty() {
        true => "none".into(),
        false => names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
    }
}

/// pip's reason for a failed install, from its output: a requirement that conflicts with a
/// pin of the lab, or pip's own last error line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipFailure {
    /// `requirement` (with `from`: the package that asks for it) against the lab's `pin`.
    Conflict {
        requirement: String,
        from: Option<String>,
        pin: String,
    },
    NotFound(String),
    Unauthorized(String),
    Unreachable(String),
    Other(String),
}

impl PipFailure {
    pub fn of(log: &[String]) -> PipFailure {
        let trimmed: Vec<&str> = log.iter().map(|l| l.trim()).collect();
        let pins: Vec<&str> =
            trimmed.iter().filter_map(|l| l.strip_prefix("The user requested (constraint) ")).collect();
        for pin in &pins {
            let name = requirement_name(pin);
            let asked = trimmed.iter().find_map(|l| {
                if let Some(req) = l.strip_prefix("The user requested ") {
                    return (!req.starts_with("(constraint)") && requirement_name(req) == name)
                        .then(|| (req.to_string(), None));
                }
                let (who, req) = l.split_once(" depends on ")?;
                (requirement_name(req) == name).then(|| (req.to_string(), Some(who.to_string())))
            });
            if let Some((requirement, from)) = asked {
                return PipFailure::Conflict { requirement, from, pin: pin.to_string() };
            }
        }
        let last_error = trimmed
            .iter()
            .rev()
            .find(|l| l.starts_with("ERROR: "))
            .map(|l| l.trim_start_matches("ERROR: ").to_string());
        // The index's answers pip gave up on (install.sh prints them from pip's log).
        let refused = |l: &&&str| {
            l.contains("401 Client Error")
                || l.contains("403 Client Error")
                || l.contains("HTTP error 401")
                || l.contains("HTTP error 403")
        };
        if let Some(line) = trimmed.iter().find(refused) {
            return PipFailure::Unauthorized(line.to_string());
        }
        if let Some(line) =
            trimmed.iter().find(|l| l.starts_with("ERROR: No matching distribution found for "))
        {
            let unreachable = trimmed.iter().find(|l| {
                l.contains("Failed to establish a new connection")
                    || l.contains("SSLError")
                    // An index that answers "no such project" was reached.
                    || (l.contains("Could not fetch URL") && !l.contains("404 Client Error"))
            });
            let name = line.trim_start_matches("ERROR: No matching distribution found for ").to_string();
            return match unreachable {
                Some(reason) => PipFailure::Unreachable(reason.to_string()),
                None => PipFailure::NotFound(name),
            };
        }
        PipFailure::Other(last_error.unwrap_or_default())
    }
}

/// The distribution name a requirement or pin is about, normalised (PEP 503).
fn requirement_name(requirement: &str) -> String {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(requirement.len());
    requirement[..end].to_ascii_lowercase().replace(['_', '.'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Files(HashMap<PathBuf, String>);
    impl Folders for Files {
        fn check(&self, path: &Path) -> crate::base::sys::FolderCheck {
            crate::base::sys::FolderCheck::Folder(path.to_path_buf())
        }
        fn home(&self) -> Option<PathBuf> {
            None
        }
        fn place(&self) -> String {
            String::new()
        }
        fn read(&self, path: &Path) -> Option<String> {
            self.0.get(path).cloned()
        }
    }

    fn folder(files: &[(&str, &str)]) -> Files {
        Files(files.iter().map(|(n, t)| (Path::new("/w").join(n), t.to_string())).collect())
    }

    fn find(files: &[(&str, &str)], flags: ProjectFlags) -> Result<ProjectEnv> {
        ProjectEnv::find(&flags, Path::new("/w"), Path::new("/w"), &folder(files))
    }

    const PYPROJECT: &str = r#"
[project]
name = "study"
dependencies = ["pint>=0.24", "xarray"]
[project.optional-dependencies]
plots = ["seaborn"]
[dependency-groups]
test = ["pytest"]
dev = [{include-group = "test"}, "ruff"]
"#;

    #[test]
    fn the_work_folders_files_become_one_requirements_text() {
        let env = find(
            &[
                ("requirements.txt", "tabulate\n-r more.txt\n"),
                ("more.txt", "six\n"),
                ("pyproject.toml", PYPROJECT),
            ],
            ProjectFlags { extras: vec!["plots".into()], groups: vec!["dev".into()], ..Default::default() },
        )
        .unwrap();
        assert_eq!(env.summary(), "requirements.txt, pyproject.toml, extra `plots`, group `dev`");
        assert_eq!(
            env.requirements().unwrap(),
            "-r files/0/requirements.txt\npint>=0.24\nxarray\nseaborn\npytest\nruff\n"
        );
        let files: Vec<String> = env.context_files().into_iter().map(|(p, _)| p).collect();
        assert_eq!(files, ["files/0/requirements.txt", "files/0/more.txt", "files/1/pyproject.toml"]);
        assert!(env.notes.is_empty());
    }

    #[test]
    fn the_key_changes_with_any_input_and_only_then() {
        let env = find(&[("requirements.txt", "tabulate\n")], ProjectFlags::default()).unwrap();
        let key = env.key("sha256:aa", "linux/amd64");
        assert_eq!(
            key,
            find(&[("requirements.txt", "tabulate\n")], ProjectFlags::default())
                .unwrap()
                .key("sha256:aa", "linux/amd64")
        );
        assert_ne!(key, env.key("sha256:bb", "linux/amd64"));
        assert_ne!(key, env.key("sha256:aa", "linux/arm64"));
        assert_ne!(
            key,
            find(&[("requirements.txt", "tabulate==0.9\n")], ProjectFlags::default())
                .unwrap()
                .key("sha256:aa", "linux/amd64")
        );
        // An included file counts too.
        let a =
            find(&[("requirements.txt", "-r b.txt\n"), ("b.txt", "six\n")], ProjectFlags::default()).unwrap();
        let b = find(&[("requirements.txt", "-r b.txt\n"), ("b.txt", "six==1\n")], ProjectFlags::default())
            .unwrap();
        assert_ne!(a.key("i", "p"), b.key("i", "p"));
    }

    #[test]
    fn unusable_files_get_a_line_and_ignoring_means_none() {
        let env = find(
            &[
                ("environment.yml", "name: x\n"),
                ("uv.lock", ""),
                ("pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
            ],
            ProjectFlags::default(),
        )
        .unwrap();
        assert!(env.is_empty());
        assert_eq!(env.notes.len(), 2);
        assert!(
            env.notes[0].starts_with("environment.yml is not used: the labs have no conda"),
            "{:?}",
            env.notes
        );
        let poetry = find(
            &[("pyproject.toml", "[tool.poetry.dependencies]\npython = \"^3.11\"\n")],
            ProjectFlags::default(),
        )
        .unwrap();
        assert!(poetry.notes[0].contains("[tool.poetry]"));
        let ignored =
            find(&[("requirements.txt", "six\n")], ProjectFlags { ignore: true, ..Default::default() })
                .unwrap();
        assert!(ignored.is_empty());
    }

    #[test]
    fn bad_files_and_flags_are_usage_errors_with_the_line() {
        let err = find(
            &[("pyproject.toml", "[project]\nname = \"x\ndependencies = []\n")],
            ProjectFlags::default(),
        )
        .unwrap_err();
        assert!(err.message.starts_with("pyproject.toml line 2 cannot be read"), "{}", err.message);
        let err = find(
            &[("pyproject.toml", PYPROJECT)],
            ProjectFlags { extras: vec!["gpu".into()], ..Default::default() },
        )
        .unwrap_err();
        assert_eq!(err.message, "--extra gpu: pyproject.toml has no such optional-dependencies group");
        assert_eq!(err.hint.as_deref(), Some("its extras: plots"));
        let err = find(
            &[("pyproject.toml", PYPROJECT)],
            ProjectFlags { groups: vec!["docs".into()], ..Default::default() },
        )
        .unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("its groups: dev, test"));
        let err =
            find(&[], ProjectFlags { files: vec!["reqs.txt".into()], ..Default::default() }).unwrap_err();
        assert!(err.message.starts_with("--requirements /w/reqs.txt"));
        let err = find(&[("requirements.txt", "-r ../secret.txt\n")], ProjectFlags::default()).unwrap_err();
        assert!(err.message.contains("only files beside it"));
        let err = find(
            &[("requirements.txt", "six\n")],
            ProjectFlags { extras: vec!["x".into()], ..Default::default() },
        )
        .unwrap_err();
        assert!(err.message.starts_with("--extra and --group"));
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn pips_conflict_output_names_the_requirement_and_the_pin() {
        // pip 24's words for a direct and a transitive conflict with a constraint.
        let direct = lines("ERROR: Cannot install numpy>=2 because these package versions have conflicting dependencies.\n\nThe conflict is caused by:\n    The user requested numpy>=2\n    The user requested (constraint) numpy==1.26.4\n\nTo fix this you could try to:\nERROR: ResolutionImpossible: for help visit https://pip.pypa.io/");
        assert_eq!(
            PipFailure::of(&direct),
            PipFailure::Conflict { requirement: "numpy>=2".into(), from: None, pin: "numpy==1.26.4".into() }
        );
        let transitive = lines("The conflict is caused by:\n    opencv-python 4.12.0.88 depends on numpy<2.3.0 and >=2; python_version >= \"3.9\"\n    The user requested (constraint) numpy==1.26.4\n");
        assert_eq!(
            PipFailure::of(&transitive),
            PipFailure::Conflict {
                requirement: "numpy<2.3.0 and >=2; python_version >= \"3.9\"".into(),
                from: Some("opencv-python 4.12.0.88".into()),
                pin: "numpy==1.26.4".into()
            }
        );
        let missing = lines("ERROR: Could not find a version that satisfies the requirement no-such-pkg-xyz (from versions: none)\nERROR: No matching distribution found for no-such-pkg-xyz");
        assert_eq!(PipFailure::of(&missing), PipFailure::NotFound("no-such-pkg-xyz".into()));
        let mut answered = missing.clone();
        answered.push("Could not fetch URL https://pypi.org/simple/no-such-pkg-xyz/: 404 Client Error: Not Found for url: https://pypi.org/simple/no-such-pkg-xyz/ - skipping".into());
        assert_eq!(PipFailure::of(&answered), PipFailure::NotFound("no-such-pkg-xyz".into()));
        let offline = lines("WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(\"Failed to establish a new connection: [Errno 111] Connection refused\")'\nERROR: No matching distribution found for six");
        assert!(matches!(PipFailure::of(&offline), PipFailure::Unreachable(_)));
        // pip 24 on a wrong password: nothing but "no versions"; install.sh adds the log's line.
        let refused = lines("ERROR: Could not find a version that satisfies the requirement dtu-private==1.0 (from versions: none)\nERROR: No matching distribution found for dtu-private==1.0\nCould not fetch URL http://ana:****@172.17.0.1:18555/simple/dtu-private/: 401 Client Error: Unauthorized for url: http://172.17.0.1:18555/simple/dtu-private/ - skipping");
        assert!(matches!(PipFailure::of(&refused), PipFailure::Unauthorized(_)));
    }
}
