//! An ssh address (`ssh://[user@]host[:port]`, parsed once) and its one master connection: the
//! private control folder, `run` of a remote command, port forwards asked of the master.

use std::path::PathBuf;
use std::process::Stdio;

use super::errors::{parse_master_pid, ssh_error, ssh_missing, ssh_program};
use crate::base::error::{Error, Kind, Result};

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

    pub(super) fn command(&self, remote: &str) -> tokio::process::Command {
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
        Err(ssh_error(&self.display(), out.status.code(), &String::from_utf8_lossy(&out.stderr)))
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
}
