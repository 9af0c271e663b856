//! Engines on another machine over the user's own `ssh`: ~/.ssh/config, ProxyJump, the agent,
//! known_hosts and prompts behave as in their terminal. The engine is reached the way the docker
//! CLI reaches it, through `docker system dial-stdio` on the remote; one ssh master connection
//! (ControlMaster, in a private folder) carries the requests, remote commands and probes, and
//! the JupyterLab port is forwarded by an ssh process of its own, so that losing it is visible.
//!
//! Why not bollard's `ssh` feature: it starts a new master per connection, cannot take prompts
//! and says little when ssh fails; here every failure becomes an error with a hint.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::error::{Error, Kind, Result};
use crate::sys::sh_quote;

/// `ssh://[user@]host[:port]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Where the master connection's socket lives (private to the user).
    pub control_dir: PathBuf,
    /// No terminal to prompt on: ssh must not ask (BatchMode).
    pub batch: bool,
}

impl SshTarget {
    /// Parses the address; `control_dir` and `batch` are filled in by the caller.
    pub fn parse(address: &str, source: &str) -> Result<SshTarget> {
        let bad = |why: &str| {
            Error::usage(format!("{source} has an invalid ssh address `{address}`: {why}"))
                .hint("use ssh://[user@]host[:port], or a Host alias from ~/.ssh/config: ssh://box")
        };
        let rest = address.strip_prefix("ssh://").ok_or_else(|| bad("it must start with ssh://"))?;
        if rest.contains('/') && !rest.ends_with('/') {
            return Err(bad("a path is not part of an ssh address"));
        }
        let rest = rest.trim_end_matches('/');
        let (user, host_port) = match rest.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => {
                return Err(Error::usage(format!("{source} holds a password")).hint(
                    "never put a password in the address: use a key (ssh-copy-id) or let ssh ask for it",
                ))
            }
            Some((user, host_port)) => (Some(user.to_string()), host_port),
            None => (None, rest),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port.parse::<u16>().map_err(|_| bad("the port is not a number"))?;
                (host.trim_matches(['[', ']']).to_string(), Some(port))
            }
            _ => (host_port.trim_matches(['[', ']']).to_string(), None),
        };
        if host.is_empty()
            || host.starts_with('-')
            || user.as_deref().is_some_and(|u| u.is_empty() || u.starts_with('-'))
        {
            return Err(bad("no host"));
        }
        Ok(SshTarget { user, host, port, control_dir: PathBuf::new(), batch: true })
    }

    /// "user@host" or "host", for messages.
    pub fn display(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// Options every ssh call shares: the master connection, keep-alives, and batch mode where
    /// nobody can answer a prompt.
    fn common_args(&self) -> Vec<String> {
        let mut args =
            vec!["-o".into(), "ServerAliveInterval=5".into(), "-o".into(), "ServerAliveCountMax=3".into()];
        if self.batch {
            args.extend(["-o".into(), "BatchMode=yes".into()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".into(), port.to_string()]);
        }
        if let Some(user) = &self.user {
            args.extend(["-l".into(), user.clone()]);
        }
        args
    }

    /// The arguments of `ssh` for running `remote` (one shell command line) over the master.
    pub fn command_args(&self, remote: &str) -> Vec<String> {
        let mut args = vec![
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            format!("ControlPath={}/%C", self.control_dir.display()),
            "-o".into(),
            "ControlPersist=60".into(),
            "-T".into(),
        ];
        args.extend(self.common_args());
        args.extend(["--".into(), self.host.clone(), remote.into()]);
        args
    }

    /// The arguments of a control request to the master (`ssh -O forward|cancel|check|exit`),
    /// with `extra` options such as a forwarding.
    pub fn control_args(&self, operation: &str, extra: &[String]) -> Vec<String> {
        let mut args = vec![
            "-o".into(),
            format!("ControlPath={}/%C", self.control_dir.display()),
            "-O".into(),
            operation.into(),
        ];
        args.extend_from_slice(extra);
        args.extend(self.common_args());
        args.extend(["--".into(), self.host.clone()]);
        args
    }

    /// Runs a control request; what the master answered (ssh prints it on stderr), or why not.
    pub async fn control(&self, operation: &str, extra: &[String]) -> std::result::Result<String, String> {
        let out = tokio::process::Command::new(ssh_program())
            .args(self.control_args(operation, extra))
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        let said =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        match out.status.success() {
            true => Ok(said),
            false => Err(said.trim().to_string()),
        }
    }

    /// The master connection's process, started if there is none (a first login may prompt).
    pub async fn master_pid(&self) -> Result<u32> {
        let said = match self.control("check", &[]).await {
            Ok(said) => said,
            // None (it ended, or never was): a command makes one.
            Err(_) => {
                self.run("true", None).await?;
                self.control("check", &[]).await.map_err(|e| {
                    Error::new(Kind::Engine, format!("no ssh master connection to {}", self.display()))
                        .cause(e)
                })?
            }
        };
        parse_master_pid(&said).ok_or_else(|| {
            Error::new(Kind::Engine, format!("cannot read the ssh master's process for {}", self.display()))
                .cause(said.trim().to_string())
                .hint("check that your ssh supports ControlMaster (OpenSSH does)")
        })
    }

    fn command(&self, remote: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(ssh_program());
        cmd.args(self.command_args(remote)).kill_on_drop(true);
        cmd
    }

    /// Runs a shell command line on the remote; stdout on success, else an error naming it.
    pub async fn run(&self, remote: &str, stdin: Option<&[u8]>) -> Result<String> {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .command(remote)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(ssh_missing)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .await
                .map_err(|e| Error::new(Kind::Engine, "ssh stopped reading").cause(e))?;
        }
        let out =
            child.wait_with_output().await.map_err(|e| Error::new(Kind::Engine, "ssh failed").cause(e))?;
        self.outcome(out)
    }

    /// A finished remote command: its stdout, or what failed, worded.
    fn outcome(&self, out: std::process::Output) -> Result<String> {
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(ssh_error(self, out.status.code(), &String::from_utf8_lossy(&out.stderr)))
    }

    /// Ends the master connection (after Ctrl-C: nothing of ours stays behind).
    pub async fn close_master(&self) {
        let _ = self.control("exit", &[]).await;
    }

    /// `run` for synchronous callers (checking the settings' paths).
    pub fn run_blocking(&self, remote: &str) -> Result<String> {
        let out = std::process::Command::new(ssh_program())
            .args(self.command_args(remote))
            .stdin(Stdio::null())
            .output()
            .map_err(ssh_missing)?;
        self.outcome(out)
    }

    /// One connection to the remote engine: `docker system dial-stdio` over the master.
    pub async fn dial(&self) -> std::io::Result<SshStream> {
        // Not killed with its handle: an upgraded connection (attach, exec) outlives the HTTP
        // exchange; ssh ends by itself once the stream's pipes close.
        let mut child = self
            .command("docker system dial-stdio")
            .kill_on_drop(false)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("ssh without pipes"));
        };
        Ok(SshStream { io: tokio::io::join(stdout, stdin), child, stderr })
    }
}

/// A bollard client whose requests travel over `docker system dial-stdio`: idle connections are
/// kept for the next request; a connection busy with a stream (logs, wait, attach) is left to it.
pub fn docker_client(target: SshTarget, timeout: u64, version: &bollard::ClientVersion) -> bollard::Docker {
    let target = Arc::new(target);
    let pool = Arc::new(Mutex::new(Vec::new()));
    let transport = move |request| {
        let (target, pool) = (target.clone(), pool.clone());
        async move { send(&target, pool, request).await }
    };
    bollard::Docker::connect_with_custom_transport(transport, Some("http://docker.invalid"), timeout, version)
        .expect("a custom transport needs no set-up")
}

type Pool<B> = Arc<Mutex<Vec<hyper::client::conn::http1::SendRequest<B>>>>;

/// Requests of our own (Podman's API) over pooled dial-stdio connections, as bollard's travel:
/// an idle connection is reused, a dead one replaced.
#[derive(Clone)]
pub struct SshHttp {
    target: Arc<SshTarget>,
    pool: Pool<http_body_util::Full<hyper::body::Bytes>>,
}

impl SshHttp {
    pub fn new(target: SshTarget) -> SshHttp {
        SshHttp { target: Arc::new(target), pool: Arc::new(Mutex::new(Vec::new())) }
    }

    pub async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> std::io::Result<crate::http::Answer> {
        let request = crate::http::request(method, path, &[], body)?;
        let response = send(&self.target, self.pool.clone(), request).await.map_err(std::io::Error::other)?;
        crate::http::answer(response).await
    }
}

async fn send<B>(
    target: &SshTarget,
    pool: Pool<B>,
    mut request: hyper::Request<B>,
) -> std::result::Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Origin form on the wire ("GET /v1.41/_ping"), as the docker CLI sends it.
    let path = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    *request.uri_mut() =
        path.parse().map_err(|e: hyper::http::uri::InvalidUri| std::io::Error::other(e.to_string()))?;
    request.headers_mut().insert(hyper::header::HOST, hyper::header::HeaderValue::from_static("docker"));
    let idle = {
        let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
        std::iter::from_fn(|| idle.pop()).find(|s| s.is_ready())
    };
    let (mut sender, response) = match idle {
        Some(mut sender) => {
            // An idle connection can be dead without knowing it yet (the ssh connection was
            // lost): a request it could not send goes out again on a fresh one.
            match sender.try_send_request(request).await {
                Ok(response) => (sender, response),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => {
                        let mut fresh = connect(target).await?;
                        let response = fresh.send_request(unsent).await?;
                        (fresh, response)
                    }
                    None => return Err(failed.into_error().into()),
                },
            }
        }
        None => {
            let mut fresh = connect(target).await?;
            let response = fresh.send_request(request).await?;
            (fresh, response)
        }
    };
    tokio::spawn(async move {
        if sender.ready().await.is_ok() {
            pool.lock().unwrap_or_else(|p| p.into_inner()).push(sender);
        }
    });
    Ok(response)
}

/// A new HTTP/1 connection over dial-stdio.
async fn connect<B>(
    target: &SshTarget,
) -> std::result::Result<hyper::client::conn::http1::SendRequest<B>, bollard::errors::Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = target.dial().await?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream.io)).await?;
    tokio::spawn(connection.with_upgrades());
    Ok(sender)
}

/// A dial-stdio connection: the ssh child's stdout and stdin as one stream; ssh ends once they
/// are closed.
pub struct SshStream {
    pub io: tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
    pub child: tokio::process::Child,
    /// What ssh (and the remote docker CLI) said on stderr, for errors.
    pub stderr: Arc<Mutex<String>>,
}

/// What is left of a dial-stdio connection once its stream is handed to an HTTP client: the
/// ssh process and what it said, to word a failure.
pub struct SshProcess {
    child: tokio::process::Child,
    stderr: Arc<Mutex<String>>,
}

impl SshStream {
    /// The stream, and the ssh process behind it.
    pub fn split(
        self,
    ) -> (tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>, SshProcess) {
        (self.io, SshProcess { child: self.child, stderr: self.stderr })
    }
}

impl SshProcess {
    /// Why the connection failed, once ssh has exited: its exit code and what it said.
    pub async fn failure(mut self, target: &SshTarget) -> Error {
        let code = tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .ok()
            .and_then(|s| s.ok())
            .and_then(|s| s.code());
        // The stderr reader may still be copying the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let said = self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ssh_error(target, code, &said)
    }
}

/// The user's own ssh, from PATH (as the docker CLI and compose run it).
pub fn ssh_program() -> &'static str {
    "ssh"
}

/// Why ssh could not be run at all.
pub fn ssh_missing(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        return Error::new(Kind::Engine, "ssh is not installed")
            .cause(e)
            .hint("install an OpenSSH client (`sudo apt-get install openssh-client`; on Windows, the OpenSSH Client feature)");
    }
    Error::new(Kind::Engine, "cannot run ssh").cause(e).hint("check that `ssh` runs in this terminal")
}

/// What failed, from ssh's exit code and its last words: the error a user can act on.
pub fn ssh_error(target: &SshTarget, code: Option<i32>, stderr: &str) -> Error {
    let host = target.display();
    let said = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .unwrap_or("")
        .to_string();
    let lower = stderr.to_lowercase();
    let (message, hint) = if lower.contains("host key verification failed")
        || lower.contains("no ed25519 host key is known")
    {
        (
            format!("the host key of {host} is not known"),
            format!("connect once with `ssh {host}` in a terminal to check and accept its key (no terminal here, so ssh could not ask)"),
        )
    } else if lower.contains("permission denied (") || lower.contains("too many authentication failures") {
        (
            format!("{host} refused the SSH login"),
            format!("check that `ssh {host}` logs in (a key in ssh-agent or ~/.ssh/config); passwords are asked only in a terminal"),
        )
    } else if lower.contains("could not resolve hostname")
        || lower.contains("connection refused")
        || lower.contains("connection timed out")
        || lower.contains("no route to host")
        || lower.contains("network is unreachable")
        || lower.contains("connection closed by")
    {
        (
            format!("cannot reach {host} over SSH"),
            format!("check the name and port, and that `ssh {host}` works"),
        )
    } else if code == Some(127) || lower.contains("command not found") || lower.contains("docker: not found")
    {
        (
            format!("{host} has no docker command"),
            "install Docker's CLI on the remote (dimtensor-up talks to its engine through `docker system dial-stdio`), or put it on the PATH of non-interactive logins".into(),
        )
    } else if lower.contains("permission denied") && lower.contains("docker") {
        (
            format!("the Docker engine on {host} refused your user"),
            format!("on {host}: `sudo usermod -aG docker $USER` (then log in again), or use rootless Docker there"),
        )
    } else if lower.contains("cannot connect to the docker daemon")
        || lower.contains("no such file or directory")
    {
        (
            format!("no Docker engine answers on {host}"),
            format!("start Docker on {host} (`sudo systemctl start docker`)"),
        )
    } else {
        (format!("ssh to {host} failed"), format!("run `ssh {host} docker version` to see what goes wrong"))
    };
    let mut err = Error::new(Kind::Engine, message);
    if !said.is_empty() {
        err = err.cause(said);
    }
    if let Some(code) = code {
        err = err.cause(format!("ssh exited with code {code}"));
    }
    err.hint(hint)
}

/// The PID in `ssh -O check`'s answer: "Master running (pid=4242)".
pub fn parse_master_pid(said: &str) -> Option<u32> {
    let start = said.find("pid=")? + 4;
    said[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The remote user: numeric IDs and home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

pub const WHO_AM_I: &str = "id -u; id -g; printf '%s\\n' \"$HOME\"";

/// The remote user out of WHO_AM_I's output (the first three lines), or why not.
pub fn remote_user_in(target: &SshTarget, text: &str) -> Result<RemoteUser> {
    parse_who_am_i(text).ok_or_else(|| {
        Error::new(Kind::Engine, format!("cannot read the user of {}", target.display()))
            .cause(text.trim().to_string())
            .hint("the remote login shell must be a POSIX shell")
    })
}

pub fn parse_who_am_i(text: &str) -> Option<RemoteUser> {
    let mut lines = text.lines().map(str::trim);
    let uid = lines.next()?.parse().ok()?;
    let gid = lines.next()?.parse().ok()?;
    let home = lines.next().filter(|h| h.starts_with('/'))?;
    Some(RemoteUser { uid, gid, home: PathBuf::from(home) })
}

/// One remote command for the GPU probe: nvidia-smi's CSV, the driver version file and where
/// the NVIDIA container tools are, between markers (the same probes as on this machine).
pub fn gpu_probe() -> String {
    use crate::gpu::{CONTAINER_TOOLKIT, NVIDIA_SMI_QUERY, PROC_DRIVER_VERSION};
    format!(
        "nvidia-smi {} 2>/dev/null || echo NO-SMI; echo ---; cat {PROC_DRIVER_VERSION} 2>/dev/null; echo ---; command -v {} 2>/dev/null | head -n 1; echo ---; nvidia-smi -L 2>/dev/null",
        NVIDIA_SMI_QUERY.join(" "),
        CONTAINER_TOOLKIT.join(" ")
    )
}

/// The probe's output in parts.
pub struct GpuProbe {
    /// nvidia-smi's CSV, where it ran.
    pub smi: Option<String>,
    pub proc_version: String,
    pub toolkit: Option<String>,
    /// `nvidia-smi -L`, where it ran.
    pub listing: Option<String>,
}

/// Splits the probe's output.
pub fn split_gpu_probe(text: &str) -> GpuProbe {
    let mut parts = text.splitn(4, "---\n");
    let smi = parts.next().unwrap_or("").to_string();
    let proc_version = parts.next().unwrap_or("").to_string();
    let toolkit = parts.next().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let listing = parts.next().filter(|l| !l.trim().is_empty()).map(str::to_string);
    let smi = (!smi.trim().is_empty() && !smi.contains("NO-SMI")).then_some(smi);
    GpuProbe { smi, proc_version, toolkit, listing }
}

/// The remote's folders, for the settings' paths (bind mounts name them).
pub struct RemoteFolders<'a> {
    pub target: &'a SshTarget,
    pub home: PathBuf,
    /// Folders already known to exist there, as they resolve (no need to ask again).
    pub known: Vec<PathBuf>,
}

impl crate::sys::Folders for RemoteFolders<'_> {
    fn check(&self, path: &Path) -> crate::sys::FolderCheck {
        use crate::sys::FolderCheck;
        if self.known.iter().any(|k| k == path) {
            return FolderCheck::Folder(path.to_path_buf());
        }
        let q = sh_quote(&path.to_string_lossy());
        let probe = format!(
            "if [ -d {q} ]; then cd -- {q} && pwd -P; elif [ -e {q} ]; then echo NOT-A-FOLDER; else echo MISSING; fi"
        );
        // A short call over the master connection, from settings code that is not async.
        match tokio::task::block_in_place(|| self.target.run_blocking(&probe)) {
            Ok(out) => match out.trim() {
                "MISSING" | "" => FolderCheck::Missing,
                "NOT-A-FOLDER" => FolderCheck::NotAFolder(path.to_path_buf()),
                real => FolderCheck::Folder(PathBuf::from(real)),
            },
            Err(_) => FolderCheck::Missing,
        }
    }
    fn home(&self) -> Option<PathBuf> {
        Some(self.home.clone())
    }
    fn place(&self) -> String {
        format!(" on {}", self.target.display())
    }
    fn read(&self, path: &Path) -> Option<String> {
        let q = sh_quote(&path.to_string_lossy());
        // A marker first: an empty file and a missing one differ.
        let probe = format!(
            "if [ -f {q} ]; then printf F; head -c {} -- {q}; else printf M; fi",
            crate::sys::READ_LIMIT
        );
        let out = tokio::task::block_in_place(|| self.target.run_blocking(&probe)).ok()?;
        out.strip_prefix('F').map(str::to_string)
    }
}

/// The folder on the remote that stands for a local one: persistent, named after it.
pub fn default_remote_folder(home: &Path, local: &Path) -> PathBuf {
    home.join(DEFAULT_FOLDERS).join(default_folder_name(local))
}

/// Where on the remote, below the home folder, the folders that stand for local ones live.
const DEFAULT_FOLDERS: &str = "dimtensor-up";

fn default_folder_name(local: &Path) -> String {
    crate::naming::container_name_for(local).trim_start_matches("dimtensor-up-").to_string()
}

/// One remote command: who the remote user is (WHO_AM_I), and the folder that stands for
/// `local` as it resolves (a fourth line; none when it does not exist), created first if `create`.
pub fn who_am_i_and_folder_for(local: &Path, create: bool) -> String {
    let folder = format!("\"$HOME\"/{DEFAULT_FOLDERS}/{}", sh_quote(&default_folder_name(local)));
    let mkdir = if create { format!("mkdir -p -- {folder} && ") } else { String::new() };
    format!("{WHO_AM_I}; {mkdir}cd -- {folder} 2>/dev/null && pwd -P; true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &str) -> Result<SshTarget> {
        SshTarget::parse(a, "--host")
    }

    #[test]
    fn parses_ssh_addresses() {
        let t = parse("ssh://ana@gpu-box:2222").unwrap();
        assert_eq!((t.user.as_deref(), t.host.as_str(), t.port), (Some("ana"), "gpu-box", Some(2222)));
        let t = parse("ssh://box").unwrap();
        assert_eq!((t.user, t.host.as_str(), t.port), (None, "box", None));
        assert_eq!(parse("ssh://[::1]:22").unwrap().host, "::1");
        assert_eq!(parse("ssh://me@box/").unwrap().display(), "me@box");
        assert!(parse("ssh://me:secret@box").unwrap_err().message.contains("password"));
        for bad in ["ssh://", "ssh://box/var/run", "ssh://box:port", "ssh://-oProxyCommand=x", "ssh://@box"] {
            assert_eq!(parse(bad).unwrap_err().kind, Kind::Usage, "{bad}");
        }
    }

    #[test]
    fn command_lines_use_the_master_and_never_prompt_without_a_terminal() {
        let mut t = parse("ssh://ana@box:2222").unwrap();
        t.control_dir = PathBuf::from("/run/u/ssh");
        let args = t.command_args("docker system dial-stdio");
        let line = args.join(" ");
        assert!(line.contains("ControlMaster=auto") && line.contains("ControlPath=/run/u/ssh/%C"), "{line}");
        assert!(
            line.contains("BatchMode=yes") && line.contains("-p 2222") && line.contains("-l ana"),
            "{line}"
        );
        assert!(line.ends_with("-- box docker system dial-stdio"), "{line}");
        t.batch = false;
        assert!(!t.command_args("true").join(" ").contains("BatchMode"));
        let forward =
            t.control_args("forward", &["-L".into(), "127.0.0.1:8890:127.0.0.1:8888".into()]).join(" ");
        assert!(
            forward.starts_with("-o ControlPath=/run/u/ssh/%C -O forward -L 127.0.0.1:8890:127.0.0.1:8888"),
            "{forward}"
        );
        assert!(forward.ends_with("-- box"), "{forward}");
        assert_eq!(parse_master_pid("Master running (pid=4242)\r\n"), Some(4242));
        assert_eq!(parse_master_pid("Control socket connect(/x): No such file"), None);
    }

    #[test]
    fn ssh_failures_become_errors_with_hints() {
        let t = parse("ssh://ana@box").unwrap();
        let cases = [
            (Some(255), "Host key verification failed.\n", "host key"),
            (Some(255), "ana@box: Permission denied (publickey).\n", "refused the SSH login"),
            (Some(255), "ssh: connect to host box port 22: Connection refused\n", "cannot reach"),
            (Some(255), "ssh: Could not resolve hostname box: Name or service not known\n", "cannot reach"),
            (Some(127), "bash: line 1: docker: command not found\n", "no docker command"),
            (Some(1), "failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: permission denied\n", "refused your user"),
        ];
        for (code, stderr, says) in cases {
            let err = ssh_error(&t, code, stderr);
            assert!(err.message.contains(says), "{stderr} -> {}", err.message);
            assert!(err.hint.is_some() && err.causes[0] == stderr.trim(), "{err:?}");
        }
    }

    #[test]
    fn remote_facts_are_parsed() {
        assert_eq!(
            parse_who_am_i("1001\n1002\n/home/ana\n"),
            Some(RemoteUser { uid: 1001, gid: 1002, home: PathBuf::from("/home/ana") })
        );
        assert_eq!(parse_who_am_i("garbage"), None);
        let probe = split_gpu_probe(
            "0, NVIDIA H100, 550.54.15, 81559\n---\nNVRM version: x\n---\n/usr/bin/nvidia-ctk\n---\nGPU 0: NVIDIA H100 (UUID: GPU-1)\n",
        );
        assert_eq!(probe.smi.as_deref(), Some("0, NVIDIA H100, 550.54.15, 81559\n"));
        assert!(probe.proc_version.contains("NVRM"));
        assert_eq!(probe.toolkit.as_deref(), Some("/usr/bin/nvidia-ctk"));
        assert_eq!(probe.listing.as_deref(), Some("GPU 0: NVIDIA H100 (UUID: GPU-1)\n"));
        let none = split_gpu_probe("NO-SMI\n---\n---\n---\n");
        assert_eq!(
            (none.smi, none.proc_version, none.toolkit, none.listing),
            (None, String::new(), None, None)
        );
        let probe = gpu_probe();
        assert!(probe.starts_with("nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits 2>/dev/null || echo NO-SMI"), "{probe}");
        assert!(
            probe.contains("cat /proc/driver/nvidia/version")
                && probe.contains("command -v nvidia-container-runtime-hook nvidia-ctk"),
            "{probe}"
        );
        let script = who_am_i_and_folder_for(Path::new("/Users/ana/My Project"), true);
        assert!(
            script.contains("mkdir -p -- \"$HOME\"/dimtensor-up/my-project-")
                && script.ends_with("&& pwd -P; true"),
            "{script}"
        );
        assert!(!who_am_i_and_folder_for(Path::new("/x"), false).contains("mkdir"));
        let folder = default_remote_folder(Path::new("/home/ana"), Path::new("/Users/ana/My Project"));
        assert!(
            folder.to_string_lossy().starts_with("/home/ana/dimtensor-up/my-project-"),
            "{}",
            folder.display()
        );
    }
}
