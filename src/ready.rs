//! Readiness: JupyterLab is up when `/api/status` answers 200 to its token. A bare HTTP/1.1
//! request over a TCP stream: no HTTP client crate for one GET.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Poll interval; the benchmark polls a bare `docker run` the same way.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The status code of `GET path` with the token, or None when nothing answers yet.
pub async fn http_status(host: &str, port: u16, path: &str, token: Option<&str>) -> Option<u16> {
    let request = async {
        let mut stream = TcpStream::connect((host.trim_matches(['[', ']']), port)).await.ok()?;
        let auth = token.map(|t| format!("Authorization: token {t}\r\n")).unwrap_or_default();
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Connection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let mut len = 0;
        while len < 12 {
            let n = stream.read(&mut head[len..]).await.ok()?;
            if n == 0 {
                break;
            }
            len += n;
        }
        parse_status_line(&head[..len])
    };
    tokio::time::timeout(Duration::from_secs(2), request).await.ok().flatten()
}

fn parse_status_line(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let mut parts = text.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.1 403 Forbidden"), Some(403));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[tokio::test]
    async fn reads_the_status_from_a_real_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await.unwrap();
            req
        });
        assert_eq!(http_status("127.0.0.1", port, "/api/status", Some("tok")).await, Some(200));
        assert!(server.await.unwrap().contains("Authorization: token tok\r\n"));
        drop(tokio::net::TcpListener::bind(("127.0.0.1", port)).await);
        assert_eq!(http_status("127.0.0.1", port, "/api/status", None).await, None);
    }
}
