//! Plain requests to the engine for what bollard does not speak (Podman's own API, `/_ping`'s
//! headers), through the one HTTP client (base/http.rs): over the engine's socket, plain tcp, or, for
//! an ssh:// engine, pooled dial-stdio connections.

use super::endpoint::{Address, Endpoint};
use super::ssh::SshHttp;
use crate::base::http::{exchange, Answer};

/// Sends one request and returns the whole answer.
pub async fn request(
    endpoint: &Endpoint,
    ssh: Option<&SshHttp>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<Answer> {
    if let Some(ssh) = ssh {
        return ssh.exchange(method, path, body).await;
    }
    match &endpoint.address {
        #[cfg(unix)]
        Address::Unix(socket) => {
            exchange(tokio::net::UnixStream::connect(socket).await?, method, path, &[], body).await
        }
        // Plain HTTP only where the address says so: an https:// engine speaks TLS.
        Address::Tcp(url) if endpoint.tls_dir.is_none() && !url.starts_with("https://") => {
            let host = endpoint.address.host_port().unwrap_or_default();
            exchange(tokio::net::TcpStream::connect(host).await?, method, path, &[], body).await
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("plain requests go over a unix socket, plain tcp or ssh, not {other}"),
        )),
    }
}
