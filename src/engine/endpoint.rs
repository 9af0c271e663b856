//! Which engine to talk to, decided without touching the network, as the docker CLI decides
//! it: `--host`, then DOCKER_HOST, then the active docker context (its meta.json and TLS
//! folder); with none of them, the platform's default (and discovery, discover.rs).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ssh;
use crate::base::error::{Error, Kind, Result};

/// Where an engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A socket on this machine (its path).
    Unix(String),
    /// A named pipe on this machine (`//./pipe/NAME`).
    Npipe(String),
    /// `tcp://HOST:PORT`, or an `http://`/`https://` URL: nothing is known beyond the API.
    Tcp(String),
    /// `ssh://[user@]host[:port]`: the engine of another machine, through the user's ssh.
    Ssh(String),
}

impl Address {
    /// An address as DOCKER_HOST, --host and contexts write it; None for an unknown form.
    pub fn parse(text: &str) -> Option<Address> {
        if let Some(path) = text.strip_prefix("unix://") {
            return Some(Address::Unix(path.to_string()));
        }
        if text.starts_with('/') {
            return Some(Address::Unix(text.to_string()));
        }
        if let Some(pipe) = text.strip_prefix("npipe://") {
            return Some(Address::Npipe(pipe.to_string()));
        }
        if text.starts_with("ssh://") {
            return Some(Address::Ssh(text.trim_end_matches('/').to_string()));
        }
        ["tcp://", "http://", "https://"]
            .iter()
            .any(|s| text.starts_with(s))
            .then(|| Address::Tcp(text.to_string()))
    }
    /// The engine runs on this machine (so host GPU checks and disk checks mean something).
    pub fn is_local(&self) -> bool {
        matches!(self, Address::Unix(_) | Address::Npipe(_))
    }
    /// `HOST:PORT` of a tcp address.
    pub fn host_port(&self) -> Option<&str> {
        let Address::Tcp(url) = self else { return None };
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        Some(rest.trim_end_matches('/'))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix://{path}"),
            Address::Npipe(pipe) => write!(f, "npipe://{pipe}"),
            Address::Tcp(url) | Address::Ssh(url) => f.write_str(url),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How the address was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    DockerHost,
    Context(String),
    /// Nothing named one: the platform's default, or discovery among the usual sockets.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("--host"),
            Source::DockerHost => f.write_str("DOCKER_HOST"),
            Source::Context(name) => write!(f, "context {name}"),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub address: Address,
    /// How the address was chosen, for messages.
    pub source: Source,
    /// TLS material (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, or the context's TLS folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_dir: Option<PathBuf>,
}

impl Endpoint {
    /// Whether the engine runs on this machine (so host GPU checks and disk checks mean something).
    pub fn is_local(&self) -> bool {
        self.address.is_local()
    }
    /// The ssh target of an ssh:// address, ready to use: its control folder, and batch mode
    /// unless a terminal can answer ssh's prompts.
    pub fn ssh(&self) -> Result<Option<ssh::SshTarget>> {
        let Address::Ssh(url) = &self.address else { return Ok(None) };
        use std::io::IsTerminal;
        let mut target = ssh::SshTarget::parse(url, &self.source.to_string())?;
        target.control_dir = crate::base::state::private_dir("ssh")?;
        target.batch = !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal());
        Ok(Some(target))
    }
    pub fn described(&self) -> String {
        format!("{} (from {})", self.address, self.source)
    }
}

pub fn platform_default() -> Address {
    if cfg!(windows) {
        Address::Npipe("//./pipe/docker_engine".into())
    } else {
        Address::Unix("/var/run/docker.sock".into())
    }
}

/// Whether the engine named by --host / DOCKER_HOST / the context is reached over ssh (its
/// paths are then the remote's, checked after connecting).
pub fn is_remote(host_flag: Option<&str>) -> Result<bool> {
    Ok(matches!(resolve_from_env(host_flag)?.address, Address::Ssh(_)))
}

/// Resolves the engine address without touching the network. `env` reads variables; `docker_dir`
/// is the docker CLI's config folder (DOCKER_CONFIG or ~/.docker).
pub fn resolve(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    docker_dir: &Path,
) -> Result<Endpoint> {
    let tls_from_env = || -> Option<PathBuf> {
        let verify = env("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty() && v != "0");
        verify.then(|| env("DOCKER_CERT_PATH").map(PathBuf::from).unwrap_or_else(|| docker_dir.to_path_buf()))
    };
    if let Some(host) = flag.filter(|h| !h.is_empty()) {
        return Ok(Endpoint {
            address: normalize(host, &Source::Flag)?,
            source: Source::Flag,
            tls_dir: tls_from_env(),
        });
    }
    if let Some(host) = env("DOCKER_HOST").filter(|h| !h.is_empty()) {
        return Ok(Endpoint {
            address: normalize(&host, &Source::DockerHost)?,
            source: Source::DockerHost,
            tls_dir: tls_from_env(),
        });
    }
    let context = match env("DOCKER_CONTEXT").filter(|c| !c.is_empty()) {
        Some(name) => Some(name),
        None => current_context(docker_dir)?,
    };
    if let Some(name) = context.filter(|n| n != "default") {
        return context_endpoint(&name, docker_dir);
    }
    Ok(Endpoint { address: platform_default(), source: Source::Default, tls_dir: None })
}

fn normalize(host: &str, source: &Source) -> Result<Address> {
    let address = Address::parse(host).ok_or_else(|| {
        Error::usage(format!("{source} has an unknown address `{host}`")).hint(
            "use unix:///path/to/docker.sock, ssh://[user@]HOST, tcp://HOST:PORT or npipe:////./pipe/NAME",
        )
    })?;
    if let Address::Ssh(url) = &address {
        ssh::SshTarget::parse(url, &source.to_string())?;
    }
    Ok(address)
}

/// The docker CLI's settings, `config.json` in `docker_dir` (its context and registry logins);
/// None when there is no readable file. Malformed JSON is an error naming the file.
pub fn docker_cli_config(docker_dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = docker_dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::new(Kind::Config, format!("cannot read the docker CLI settings {}", path.display())).cause(e)
    })
}

fn current_context(docker_dir: &Path) -> Result<Option<String>> {
    let json = docker_cli_config(docker_dir)
        .map_err(|e| e.hint("fix the JSON, or pass --host / set DOCKER_HOST to skip it"))?;
    Ok(json.and_then(|j| j.get("currentContext").and_then(|v| v.as_str()).map(str::to_string)))
}

/// Finds a context by the name stored in its meta.json (the folder name is a digest of it).
fn context_endpoint(name: &str, docker_dir: &Path) -> Result<Endpoint> {
    let meta_root = docker_dir.join("contexts").join("meta");
    let not_found = || {
        Error::new(Kind::Engine, format!("docker context `{name}` does not exist"))
            .hint("list contexts with `docker context ls`, or pass --host")
    };
    let entries = std::fs::read_dir(&meta_root).map_err(|_| not_found())?;
    for entry in entries.flatten() {
        let meta = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if json.get("Name").and_then(|v| v.as_str()) != Some(name) {
            continue;
        }
        let host = json.pointer("/Endpoints/docker/Host").and_then(|v| v.as_str()).ok_or_else(|| {
            Error::new(Kind::Engine, format!("docker context `{name}` has no docker endpoint"))
                .hint("pass --host")
        })?;
        let tls = docker_dir.join("contexts").join("tls").join(entry.file_name()).join("docker");
        let source = Source::Context(name.to_string());
        return Ok(Endpoint {
            address: normalize(host, &source)?,
            source,
            tls_dir: tls.is_dir().then_some(tls),
        });
    }
    Err(not_found())
}

/// `resolve` with this process's environment and docker CLI folder.
pub fn resolve_from_env(host_flag: Option<&str>) -> Result<Endpoint> {
    resolve(host_flag, &|k| std::env::var(k).ok(), &docker_config_dir())
}

/// The docker CLI's config folder.
pub fn docker_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(dir);
    }
    directories::BaseDirs::new()
        .map(|b| b.home_dir().join(".docker"))
        .unwrap_or_else(|| PathBuf::from(".docker"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn docker_dir_with_context(name: &str, host: &str, current: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("contexts/meta/3f0a9e");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(meta.join("meta.json"), format!(r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#)).unwrap();
        if current {
            std::fs::write(
                dir.path().join("config.json"),
                format!(r#"{{"auths":{{}},"currentContext":"{name}"}}"#),
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn flag_wins_over_everything() {
        let dir = docker_dir_with_context("remote", "tcp://10.0.0.9:2376", true);
        let ep = resolve(Some("unix:///tmp/x.sock"), &env_of(&[("DOCKER_HOST", "tcp://h:1")]), dir.path())
            .unwrap();
        assert_eq!(
            (ep.address.to_string().as_str(), ep.source.to_string().as_str()),
            ("unix:///tmp/x.sock", "--host")
        );
    }

    #[test]
    fn docker_host_then_tls_settings() {
        let ep = resolve(
            None,
            &env_of(&[
                ("DOCKER_HOST", "tcp://h:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
            ]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(ep.address.to_string(), "tcp://h:2376");
        assert_eq!(ep.source.to_string(), "DOCKER_HOST");
        assert_eq!(ep.tls_dir, Some(PathBuf::from("/certs")));
        let plain = resolve(
            None,
            &env_of(&[("DOCKER_HOST", "tcp://h:2375"), ("DOCKER_TLS_VERIFY", "0")]),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(plain.tls_dir, None);
    }

    #[test]
    fn current_context_from_config_json() {
        let dir = docker_dir_with_context("colima", "unix:///home/u/.colima/docker.sock", true);
        let ep = resolve(None, &env_of(&[]), dir.path()).unwrap();
        assert_eq!(ep.address.to_string(), "unix:///home/u/.colima/docker.sock");
        assert_eq!(ep.source.to_string(), "context colima");
    }

    #[test]
    fn docker_context_env_picks_a_context_and_default_means_platform_default() {
        let dir = docker_dir_with_context("colima", "unix:///c.sock", false);
        assert_eq!(
            resolve(None, &env_of(&[("DOCKER_CONTEXT", "colima")]), dir.path()).unwrap().address.to_string(),
            "unix:///c.sock"
        );
        let ep = resolve(None, &env_of(&[("DOCKER_CONTEXT", "default")]), dir.path()).unwrap();
        assert_eq!(
            (ep.address.to_string().as_str(), ep.source.to_string().as_str()),
            (platform_default().to_string().as_str(), "default")
        );
    }

    #[test]
    fn unknown_context_and_bad_addresses_are_errors_with_hints() {
        let dir = docker_dir_with_context("colima", "unix:///c.sock", false);
        let err = resolve(None, &env_of(&[("DOCKER_CONTEXT", "nope")]), dir.path()).unwrap_err();
        assert!(err.message.contains("`nope` does not exist") && err.hint.is_some());
        let err = resolve(Some("docker.example:2375"), &env_of(&[]), dir.path()).unwrap_err();
        assert_eq!(err.kind, Kind::Usage);
        let ssh = resolve(Some("ssh://me@box:2222/"), &env_of(&[]), dir.path()).unwrap();
        assert_eq!((ssh.address.to_string().as_str(), ssh.is_local()), ("ssh://me@box:2222", false));
        let err = resolve(Some("ssh://me:secret@box"), &env_of(&[]), dir.path()).unwrap_err();
        assert!(err.message.contains("password") && err.hint.is_some(), "{err:?}");
    }

    #[test]
    fn an_ssh_context_is_an_ssh_engine() {
        let dir = docker_dir_with_context("box", "ssh://ana@gpu-box", true);
        let ep = resolve(None, &env_of(&[]), dir.path()).unwrap();
        assert_eq!(
            (ep.address.to_string().as_str(), ep.source.to_string().as_str()),
            ("ssh://ana@gpu-box", "context box")
        );
        assert!(!ep.is_local());
    }

    #[test]
    fn no_settings_means_platform_default() {
        let ep = resolve(None, &env_of(&[]), Path::new("/nonexistent")).unwrap();
        assert_eq!(ep.address, platform_default());
        assert!(ep.is_local());
    }

    #[test]
    fn malformed_docker_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
        let err = resolve(None, &env_of(&[]), dir.path()).unwrap_err();
        assert!(err.message.contains("config.json"), "{}", err.message);
    }
}
