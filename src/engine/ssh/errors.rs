//! What ssh's failures mean, in the user's terms with a hint (ssh's exit code and what it said).

use crate::base::error::{Error, Kind};

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
pub fn ssh_error(host: &str, code: Option<i32>, stderr: &str) -> Error {
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
