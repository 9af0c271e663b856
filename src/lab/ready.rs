//! Readiness: JupyterLab is up when `/api/status` answers 200 to its token (the one HTTP
//! client, base/http.rs, over a TCP connection).

use std::time::Duration;

use tokio::net::TcpStream;

/// Poll interval; the benchmark polls a bare `docker run` the same way.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The status code of `GET path` with the token, or None when nothing answers yet.
pub async fn http_status(host: &str, port: u16, path: &str, token: Option<&str>) -> Option<u16> {
    let request = async {
        let stream = TcpStream::connect((host.trim_matches(['[', ']']), port)).await.ok()?;
        let auth = token.map(|t| format!("token {t}"));
        // The Host a browser sends: Jupyter refuses names it does not know as its own.
        let host_header = format!("{host}:{port}");
        let mut headers = vec![("Host", host_header.as_str())];
        headers.extend(auth.as_deref().map(|a| ("Authorization", a)));
        crate::base::http::exchange(stream, "GET", path, &headers, None).await.ok().map(|a| a.status)
    };
    tokio::time::timeout(Duration::from_secs(2), request).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        assert!(server.await.unwrap().to_lowercase().contains("authorization: token tok\r\n"));
        drop(tokio::net::TcpListener::bind(("127.0.0.1", port)).await);
        assert_eq!(http_status("127.0.0.1", port, "/api/status", None).await, None);
        // Something that is not HTTP (an ssh server on the port) is not an answer.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        });
        assert_eq!(http_status("127.0.0.1", port, "/api/status", None).await, None);
    }
}
