//! Registries: credentials as the docker CLI finds them (the user's config.json: `credHelpers`,
//! then `credsStore`, then `auths`), and what a registry's digest for a tag says about the local
//! image. Pure decisions over the config's text and the digests; the credential helper run and
//! the file read are the edges.

use bollard::auth::DockerCredentials;
use serde_json::Value;

use crate::base::error::{Error, Kind, Result};

/// Docker Hub's key in config.json and the server URL its credential helpers know.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The registry host of an image reference (`ghcr.io/o/i:t` → `ghcr.io`; `python:3` → Docker Hub).
pub fn host_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => match first
        {
            "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY,
            _ => first,
        },
        _ => DOCKER_HUB_KEY,
    }
}

/// The command that logs in to a registry host (`host_of`'s answer; Docker Hub's needs no name).
pub fn login_command(host: &str) -> String {
    match host {
        DOCKER_HUB_KEY => "docker login".to_string(),
        _ => format!("docker login {host}"),
    }
}

/// The repository of a reference, without tag or digest (`host/o/i:t` → `host/o/i`).
pub fn repository_of(reference: &str) -> &str {
    let without_digest = reference.split_once('@').map_or(reference, |(r, _)| r);
    match without_digest.rsplit_once(':') {
        // A colon after the last slash is a tag; before it, a registry port.
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// Where the credentials for a registry come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSource {
    /// Stored in config.json itself (`docker login` without a helper).
    Inline(Login),
    /// A credential helper, `docker-credential-<name>`.
    Helper(String),
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Password { username: String, password: String },
    IdentityToken(String),
}

/// The docker CLI's order: a per-registry helper, else the store for all, else `auths`.
pub fn auth_source(config: &Value, host: &str) -> Result<AuthSource> {
    if let Some(helper) = config["credHelpers"].as_object().and_then(|h| {
        h.iter().find(|(key, _)| normalize_key(key) == normalize_key(host)).and_then(|(_, v)| v.as_str())
    }) {
        return Ok(AuthSource::Helper(helper.to_string()));
    }
    if let Some(store) = config["credsStore"].as_str().filter(|s| !s.is_empty()) {
        return Ok(AuthSource::Helper(store.to_string()));
    }
    let Some(entry) = config["auths"]
        .as_object()
        .and_then(|a| a.iter().find(|(key, _)| normalize_key(key) == normalize_key(host)).map(|(_, v)| v))
    else {
        return Ok(AuthSource::Anonymous);
    };
    if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
        return Ok(AuthSource::Inline(Login::IdentityToken(token.to_string())));
    }
    match entry["auth"].as_str().filter(|a| !a.is_empty()) {
        None => Ok(AuthSource::Anonymous),
        Some(encoded) => {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())));
            let (username, password) = decoded.ok_or_else(|| {
                Error::new(
                    Kind::Usage,
                    format!("the stored login for {host} in the docker config is not base64 `user:password`"),
                )
                .hint(format!("log in again: {}", login_command(host)))
            })?;
            Ok(AuthSource::Inline(Login::Password { username, password }))
        }
    }
}

/// config.json keys may carry a scheme and a path (`https://ghcr.io/v1/`); hosts compare without.
fn normalize_key(key: &str) -> &str {
    if key == DOCKER_HUB_KEY {
        return key;
    }
    let bare = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    bare.split('/').next().unwrap_or(bare)
}

/// A credential helper's answer to `get` (`{"ServerURL", "Username", "Secret"}`); the username
/// `<token>` marks an identity token.
pub fn login_from_helper(output: &str) -> Option<Login> {
    let v: Value = serde_json::from_str(output).ok()?;
    let (user, secret) = (v["Username"].as_str()?, v["Secret"].as_str()?);
    if secret.is_empty() {
        return None;
    }
    Some(if user == "<token>" {
        Login::IdentityToken(secret.to_string())
    } else {
        Login::Password { username: user.to_string(), password: secret.to_string() }
    })
}

impl Login {
    fn credentials(self, host: &str) -> DockerCredentials {
        let serveraddress = Some(host.to_string());
        match self {
            Login::Password { username, password } => DockerCredentials {
                username: Some(username),
                password: Some(password),
                serveraddress,
                ..Default::default()
            },
            Login::IdentityToken(token) => {
                DockerCredentials { identitytoken: Some(token), serveraddress, ..Default::default() }
            }
        }
    }
}

/// The credentials to send for `reference`, read from the user's docker config on this machine
/// (also for a remote engine, as the docker CLI does). None: pull anonymously. A helper that is
/// missing or fails is said once, and the pull goes on anonymously.
pub async fn credentials_for(
    reference: &str,
    reporter: &crate::base::reporter::Reporter,
) -> Result<Option<DockerCredentials>> {
    let host = host_of(reference);
    let Some(config) = crate::engine::docker_cli_config(&crate::engine::docker_config_dir())
        .map_err(|e| e.hint("fix the JSON (`docker login` writes it), or log in again"))?
    else {
        return Ok(None);
    };
    let login = match auth_source(&config, host)? {
        AuthSource::Anonymous => None,
        AuthSource::Inline(login) => Some(login),
        AuthSource::Helper(name) => ask_helper(&name, host, reporter).await,
    };
    Ok(login.map(|l| l.credentials(host)))
}

async fn ask_helper(name: &str, host: &str, reporter: &crate::base::reporter::Reporter) -> Option<Login> {
    use tokio::io::AsyncWriteExt;
    let program = format!("docker-credential-{name}");
    let child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            reporter.note(format!("the docker config names the credential helper {program}, which cannot run ({e}); pulling without a login"));
            return None;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes()).await;
    }
    let out = child.wait_with_output().await.ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "credentials not found" is the helper's way of saying: no login for this registry.
        reporter.detail(format!("{program}: {} (pulling without a login)", stdout.trim()));
        return None;
    }
    login_from_helper(&stdout)
}

/// What the registry's digest for a tag says about the local image of that tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Current,
    /// The registry has another image for the tag (its digest).
    Newer(String),
    /// The local image has no digest from this repository (built here): nothing to compare.
    Unknown,
}

/// The digests in a local image's `RepoDigests` (`repo@sha256:…`) that are `repository`'s.
fn digests_from<'a>(local_repo_digests: &'a [String], repository: &'a str) -> impl Iterator<Item = &'a str> {
    local_repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .filter(move |(repo, _)| *repo == repository)
        .map(|(_, digest)| digest)
}

pub fn freshness(local_repo_digests: &[String], repository: &str, remote_digest: &str) -> Freshness {
    let mine: Vec<&str> = digests_from(local_repo_digests, repository).collect();
    if mine.is_empty() {
        Freshness::Unknown
    } else if mine.contains(&remote_digest) {
        Freshness::Current
    } else {
        Freshness::Newer(remote_digest.to_string())
    }
}

/// The digest a local image was pulled by, from this repository (None: built here).
pub fn pulled_digest<'a>(local_repo_digests: &'a [String], repository: &'a str) -> Option<&'a str> {
    digests_from(local_repo_digests, repository).next()
}

/// How `ps` and `variants` name a local image: the registry digest it was pulled by (what a
/// registry and `docker pull IMAGE@DIGEST` know), or `-` (built here; Docker 20.10 also keeps
/// none for an image pulled for a foreign platform).
pub fn shown_digest(pulled: Option<&str>) -> String {
    pulled.map_or_else(|| "-".to_string(), short_digest)
}

/// `sha256:` and 12 hex digits, as `docker images` shortens IDs.
pub fn short_digest(digest: &str) -> String {
    let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("{algo}:{}", &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_and_repositories_of_references() {
        assert_eq!(host_of("ghcr.io/marcoloco23/dimtensor:base"), "ghcr.io");
        assert_eq!(host_of("172.29.213.2:5000/dimtensor:base"), "172.29.213.2:5000");
        assert_eq!(host_of("localhost/dimtensor:base"), "localhost");
        assert_eq!(host_of("python:3.11"), DOCKER_HUB_KEY);
        assert_eq!(host_of("library/python:3.11"), DOCKER_HUB_KEY);
        assert_eq!(host_of("docker.io/library/python"), DOCKER_HUB_KEY);
        assert_eq!(login_command(host_of("python:3.11")), "docker login");
        assert_eq!(login_command(host_of("r:5000/d:base")), "docker login r:5000");
        assert_eq!(repository_of("172.29.213.2:5000/dimtensor:base"), "172.29.213.2:5000/dimtensor");
        assert_eq!(repository_of("172.29.213.2:5000/dimtensor"), "172.29.213.2:5000/dimtensor");
        assert_eq!(repository_of("ghcr.io/o/i@sha256:ab"), "ghcr.io/o/i");
    }

    #[test]
    fn credentials_come_from_a_helper_the_store_or_the_file_in_the_clis_order() {
        let file = json!({"auths": {"https://ghcr.io/v1/": {"auth": "dXNlcjpwYTpzcw=="}}});
        assert_eq!(
            auth_source(&file, "ghcr.io").unwrap(),
            AuthSource::Inline(Login::Password { username: "user".into(), password: "pa:ss".into() })
        );
        assert_eq!(auth_source(&file, "quay.io").unwrap(), AuthSource::Anonymous);
        let token = json!({"auths": {"ghcr.io": {"identitytoken": "tok"}}});
        assert_eq!(
            auth_source(&token, "ghcr.io").unwrap(),
            AuthSource::Inline(Login::IdentityToken("tok".into()))
        );
        // With a store, `auths` entries are empty placeholders and the store answers.
        let store = json!({"credsStore": "desktop", "auths": {"ghcr.io": {}}});
        assert_eq!(auth_source(&store, "ghcr.io").unwrap(), AuthSource::Helper("desktop".into()));
        let helpers = json!({"credsStore": "desktop", "credHelpers": {"ghcr.io": "gh"}});
        assert_eq!(auth_source(&helpers, "ghcr.io").unwrap(), AuthSource::Helper("gh".into()));
        assert_eq!(auth_source(&helpers, "quay.io").unwrap(), AuthSource::Helper("desktop".into()));
        assert_eq!(auth_source(&json!({}), "ghcr.io").unwrap(), AuthSource::Anonymous);
        let bad = json!({"auths": {"ghcr.io": {"auth": "not base64!"}}});
        let err = auth_source(&bad, "ghcr.io").unwrap_err();
        assert!(err.hint.as_deref().unwrap().contains("docker login ghcr.io"), "{err:?}");
    }

    #[test]
    fn helper_answers_become_logins() {
        assert_eq!(
            login_from_helper(r#"{"ServerURL":"ghcr.io","Username":"u","Secret":"s"}"#),
            Some(Login::Password { username: "u".into(), password: "s".into() })
        );
        assert_eq!(
            login_from_helper(r#"{"ServerURL":"ghcr.io","Username":"<token>","Secret":"t"}"#),
            Some(Login::IdentityToken("t".into()))
        );
        assert_eq!(login_from_helper("credentials not found in native keychain"), None);
    }

    #[test]
    fn the_registrys_digest_against_the_local_image() {
        let repo = "r:5000/dimtensor";
        let local =
            vec!["r:5000/dimtensor@sha256:aaa".to_string(), "ghcr.io/x/dimtensor@sha256:ccc".to_string()];
        assert_eq!(freshness(&local, repo, "sha256:aaa"), Freshness::Current);
        assert_eq!(freshness(&local, repo, "sha256:bbb"), Freshness::Newer("sha256:bbb".into()));
        assert_eq!(freshness(&[], repo, "sha256:bbb"), Freshness::Unknown, "built here");
        assert_eq!(pulled_digest(&local, "ghcr.io/x/dimtensor"), Some("sha256:ccc"));
        assert_eq!(pulled_digest(&local, "other"), None);
        assert_eq!(short_digest("sha256:0123456789abcdef"), "sha256:0123456789ab");
    }
}
