//! The engine's API over ssh: `docker system dial-stdio` connections on the master, pooled for
//! bollard's requests and ours.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::errors::ssh_error;
use super::target::SshTarget;
use crate::base::error::Error;

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
    ) -> std::io::Result<crate::base::http::Answer> {
        let request = crate::base::http::request(method, path, &[], body)?;
        let response = send(&self.target, self.pool.clone(), request).await.map_err(std::io::Error::other)?;
        crate::base::http::answer(response).await
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
    let stream = dial(target).await?;
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
        // The stderr reader may still be copying the last lines: it drops its handle at the end.
        let stderr = &self.stderr;
        crate::base::poll::until(Duration::from_secs(1), Duration::from_millis(10), || async {
            (Arc::strong_count(stderr) == 1).then_some(())
        })
        .await;
        let said = self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ssh_error(&target.display(), code, &said)
    }
}

/// One connection to the remote engine: `docker system dial-stdio` over the master.
pub async fn dial(target: &SshTarget) -> std::io::Result<SshStream> {
    // Not killed with its handle: an upgraded connection (attach, exec) outlives the HTTP
    // exchange; ssh ends by itself once the stream's pipes close.
    let mut child = target
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
                sink.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("ssh without pipes"));
    };
    Ok(SshStream { io: tokio::io::join(stdout, stdin), child, stderr })
}
