//! The one HTTP/1.1 client (hyper) for what bollard does not speak: Podman's own API, `/_ping`'s
//! headers, and the readiness probe. Over any stream: the engine's unix socket, plain tcp, or an
//! ssh dial-stdio connection. Content-Length and chunked bodies are honoured; a body cut short is
//! an error, never a shorter answer.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// An answer: status, headers, and the whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The headers as lines of `Name: value`.
    pub fn head(&self) -> String {
        self.headers
            .iter()
            .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or_default()))
            .collect()
    }
}

/// A request with a JSON `body` (empty when None).
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> std::io::Result<hyper::Request<Full<Bytes>>> {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request =
        hyper::Request::builder().method(method).uri(path).header("Content-Type", "application/json");
    // HTTP/1.1 needs a Host; the engine's sockets take any name.
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request = request.header("Host", "d");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::new(Bytes::from(payload))).map_err(io_error)
}

/// The whole answer: a body shorter than it said is an error.
pub async fn answer(response: hyper::Response<hyper::body::Incoming>) -> std::io::Result<Answer> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.map_err(io_error)?.to_bytes().to_vec();
    Ok(Answer { status, headers, body })
}

/// One request on `stream`, its answer read to the end. `body` is sent as JSON.
pub async fn exchange(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> std::io::Result<Answer> {
    let request = request(method, path, headers, body)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(io_error)?;
    // The connection runs beside the request; it ends with the stream.
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let answered = match sender.send_request(request).await {
        Ok(response) => answer(response).await,
        Err(e) => Err(io_error(e)),
    };
    driver.abort();
    answered
}

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    let kind = match std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>()) {
        Some(io) => io.kind(),
        None => std::io::ErrorKind::InvalidData,
    };
    std::io::Error::new(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers one request on an in-memory stream with `raw`, then closes.
    async fn answered_with(raw: &'static [u8]) -> std::io::Result<Answer> {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let _ = server.read(&mut buf).await;
            let _ = server.write_all(raw).await;
            let _ = server.shutdown().await;
        });
        exchange(client, "GET", "/_ping", &[], None).await
    }

    #[tokio::test]
    async fn plain_chunked_and_cut_answers() {
        let plain =
            answered_with(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nApi-Version: 1.41\r\n\r\n{}")
                .await
                .unwrap();
        assert_eq!((plain.status, plain.body.as_slice()), (201, b"{}".as_slice()));
        assert!(plain.head().contains("api-version: 1.41\n"), "{}", plain.head());
        let chunked = answered_with(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!(chunked.body, b"{\"a\":1}".to_vec());
        // A body shorter than its Content-Length, or a chunk cut off: errors, not short answers.
        assert!(answered_with(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}").await.is_err());
        assert!(answered_with(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"a\":")
            .await
            .is_err());
        assert!(answered_with(b"garbage").await.is_err());
    }
}
