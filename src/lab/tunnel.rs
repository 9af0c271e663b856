//! The laptop's end of a remote JupyterLab: a port on this machine's 127.0.0.1 forwarded over ssh
//! to the port the container publishes on the remote's 127.0.0.1.
//!
//! The forwarding is asked of the ssh master connection that already carries the engine's
//! requests (`ssh -O forward`): no second log-in, and it ends when that connection ends, which
//! the tunnel watches for. It is cancelled when the tunnel is dropped.

use std::net::IpAddr;
use std::time::Duration;

use crate::base::error::{Error, Kind, Result};
use crate::base::sys::process_alive;
use crate::engine::ssh::SshTarget;
use crate::engine::Engine;
use crate::spec::ports::{choose_port, port_is_free, FIRST_PORT};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

pub struct Tunnel {
    target: SshTarget,
    pub local_port: u16,
    /// Where the remote end is, as the ssh server resolves it: its own 127.0.0.1, or a cluster
    /// node's address (laptop → login node → node).
    remote_host: String,
    pub remote_port: u16,
    /// The master connection's process: the tunnel lives as long as it does.
    master: u32,
    /// The forwarding still stands in that connection (cancelled on drop).
    standing: bool,
}

impl Tunnel {
    /// Forwards `prefer` (the port this lab's URL had) where it is free, else the first free local
    /// port from 8888 (ports that turn out to be taken are skipped), to `remote_port` on the
    /// remote's loopback.
    pub async fn open(target: &SshTarget, remote_port: u16, prefer: Option<u16>) -> Result<Tunnel> {
        Self::open_to(target, "127.0.0.1", remote_port, prefer).await
    }

    /// `open`, to `remote_host:remote_port` as the ssh server reaches it.
    pub async fn open_to(
        target: &SshTarget,
        remote_host: &str,
        remote_port: u16,
        prefer: Option<u16>,
    ) -> Result<Tunnel> {
        let mut skipped = Vec::new();
        loop {
            let local_port = choose_port(prefer, FIRST_PORT, &skipped, &|p| port_is_free(LOOPBACK, p))
                .ok_or_else(|| {
                    Error::new(Kind::Usage, "no free port on 127.0.0.1 for the SSH tunnel")
                        .hint("stop servers you no longer need (dimtensor-up ps)")
                })?;
            match Self::start(target, local_port, remote_host, remote_port).await? {
                Some(tunnel) => return Ok(tunnel),
                // Taken between the check and ssh's bind: the next one.
                None => skipped.push(local_port),
            }
        }
    }

    /// Opens it again after the connection dropped, on the same local port where it is free.
    pub async fn reopen(&mut self) -> Result<()> {
        let again =
            match Self::start(&self.target, self.local_port, &self.remote_host, self.remote_port).await? {
                Some(tunnel) => tunnel,
                None => Self::open_to(&self.target, &self.remote_host, self.remote_port, None).await?,
            };
        // The old forwarding went with the old connection: nothing to cancel (a cancel by the same
        // ports would end the new one).
        self.standing = false;
        *self = again;
        Ok(())
    }

    /// None when the local port was taken.
    async fn start(
        target: &SshTarget,
        local_port: u16,
        remote_host: &str,
        remote_port: u16,
    ) -> Result<Option<Tunnel>> {
        let master = target.master_pid().await?;
        match target.control("forward", &forwarding(local_port, remote_host, remote_port)).await {
            Ok(_) => Ok(Some(Tunnel {
                target: target.clone(),
                local_port,
                remote_host: remote_host.to_string(),
                remote_port,
                master,
                standing: true,
            })),
            Err(said) if said.contains("forwarding failed") || said.contains("in use") => Ok(None),
            Err(said) => {
                Err(Error::new(Kind::Engine, format!("the SSH tunnel to {} did not open", target.display()))
                    .cause(said)
                    .hint(format!(
                        "check that `ssh -L {local_port}:{remote_host}:{remote_port} {}` works",
                        target.display()
                    )))
            }
        }
    }

    /// Resolves when the ssh connection that carries the tunnel has ended (killed, the network
    /// lost), with why.
    pub async fn ended(&mut self) -> String {
        let master = self.master;
        crate::base::poll::watch(Duration::from_millis(250), || async move {
            (!process_alive(master)).then_some(())
        })
        .await;
        format!("the ssh connection (process {}) ended", self.master)
    }

    pub fn host(&self) -> String {
        self.target.display()
    }

    /// Where a browser on this machine reaches the server: 127.0.0.1 and the local port.
    pub fn local(&self) -> (IpAddr, u16) {
        (LOOPBACK, self.local_port)
    }

    pub fn url(&self, token: &str) -> String {
        crate::spec::ports::lab_url(LOOPBACK, self.local_port, token)
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        if !self.standing {
            return;
        }
        // Best effort, and quick: the master answers at once (or is gone, and the port with it).
        let _ =
            std::process::Command::new(crate::engine::ssh::ssh_program())
                .args(self.target.control_args(
                    "cancel",
                    &forwarding(self.local_port, &self.remote_host, self.remote_port),
                ))
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
    }
}

fn forwarding(local_port: u16, remote_host: &str, remote_port: u16) -> Vec<String> {
    vec!["-L".into(), format!("127.0.0.1:{local_port}:{remote_host}:{remote_port}")]
}

/// Over ssh, the laptop's end of `remote_port`; None for an engine on this machine.
pub async fn open_tunnel(engine: &Engine, remote_port: u16, prefer: Option<u16>) -> Result<Option<Tunnel>> {
    match engine.host.ssh() {
        Some(target) => Ok(Some(Tunnel::open(target, remote_port, prefer).await?)),
        None => Ok(None),
    }
}
