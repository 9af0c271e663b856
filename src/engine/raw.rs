//! A plain HTTP/1.1 request to the engine, for Podman's own API (bollard speaks only Docker's)
//! and for `/_ping`'s headers. One request per connection (`Connection: close`), so the answer
//! ends at EOF.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ssh::SshTarget;
use super::Endpoint;

/// Sends one request and returns the status code and the body.
pub async fn request(
    endpoint: &Endpoint,
    ssh: Option<&SshTarget>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, Vec<u8>)> {
    request_with_head(endpoint, ssh, method, path, body).await.map(|(status, _, body)| (status, body))
}

/// `request`, with the answer's head (status line and headers) too. Over the engine's socket,
/// plain tcp, or (for an ssh:// engine) a dial-stdio connection of its own.
pub async fn request_with_head(
    endpoint: &Endpoint,
    ssh: Option<&SshTarget>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    if let Some(target) = ssh {
        return exchange(&mut target.dial().await?.io, method, path, body).await;
    }
    let address = endpoint.address.as_str();
    if let Some(socket) = address.strip_prefix("unix://") {
        #[cfg(unix)]
        return exchange(tokio::net::UnixStream::connect(socket).await?, method, path, body).await;
    }
    if let Some(host) = address.strip_prefix("tcp://").filter(|_| endpoint.tls_dir.is_none()) {
        return exchange(tokio::net::TcpStream::connect(host).await?, method, path, body).await;
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("plain requests go over a unix socket, plain tcp or ssh, not {address}"),
    ))
}

/// One request on `stream`, read to its end.
pub async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(payload.as_bytes()).await?;
    stream.flush().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    parse_response(&answer)
}

/// Splits an HTTP/1.1 answer into its status, head and body, undoing chunked encoding.
pub fn parse_response(answer: &[u8]) -> std::io::Result<(u16, String, Vec<u8>)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no HTTP header"))?;
    let original_head = String::from_utf8_lossy(&answer[..split]).to_string();
    let head = original_head.to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no HTTP status"))?;
    let mut body = &answer[split + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return Ok((status, original_head, body.to_vec()));
    }
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or_else(|| bad("a cut chunk"))?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad("a bad chunk size"))?;
        body = &body[line_end + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[(size + 2).min(body.len())..];
    }
    Ok((status, original_head, out))
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
        let (status, head, body) = parse_response(plain).unwrap();
        assert_eq!((status, body), (201, b"{}".to_vec()));
        assert!(head.contains("Content-Length: 2"));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap().2, b"{\"a\":1}".to_vec());
        assert!(parse_response(b"garbage").is_err());
    }
}
