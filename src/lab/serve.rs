//! Holding a lab in the foreground: until Ctrl-C (the run's one signal future), until the
//! server stops, and through dropped SSH tunnels, which are opened again a bounded number of
//! times.

use super::start::Started;
use crate::engine::Engine;
use crate::error::{Error, Kind, Result};
use crate::reporter::Reporter;
use crate::tunnel::Tunnel;

/// Over ssh, the laptop's end of `remote_port`; None for an engine on this machine.
pub async fn open_tunnel(engine: &Engine, remote_port: u16, prefer: Option<u16>) -> Result<Option<Tunnel>> {
    match engine.host.ssh() {
        Some(target) => Ok(Some(Tunnel::open(target, remote_port, prefer).await?)),
        None => Ok(None),
    }
}

/// How often a dropped SSH tunnel is opened again before giving up.
const TUNNEL_RETRIES: u32 = 5;

/// Foreground: holds the server (and its tunnel) until Ctrl-C or until the server stops. `owns`:
/// this run started it, so Ctrl-C stops and removes it (files stay); otherwise it keeps running.
/// A dropped tunnel is said and opened again, a bounded number of times; the server and its
/// files are never touched for it.
pub async fn serve(
    engine: &Engine,
    mut started: Started,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    owns: bool,
    reporter: &Reporter,
) -> Result<u8> {
    use bollard::query_parameters::WaitContainerOptions;
    use futures_util::StreamExt;
    let server = started.server.clone();
    let token_file = server.token_file.as_deref();
    let mut wait = engine.docker.wait_container(&server.id, None::<WaitContainerOptions>);
    // The lab's own lines about memory, said as they come (a kernel killed for memory otherwise
    // looks like a crash in the browser).
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let follow = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(true)
        .since(since as i32)
        .build();
    let mut log = engine.docker.logs(&server.id, Some(follow));
    let mut log_open = true;
    let mut drops = 0;
    loop {
        let tunnel_ended = async {
            match started.tunnel.as_mut() {
                Some(t) => t.ended().await,
                None => std::future::pending().await,
            }
        };
        let log_line = async {
            match log_open {
                true => log.next().await,
                false => std::future::pending().await,
            }
        };
        tokio::select! {
            item = log_line => match item {
                Some(Ok(chunk)) => {
                    for line in chunk.to_string().lines() {
                        if let Some(what) = line.trim().strip_prefix(super::OUT_OF_MEMORY_LINE) {
                            reporter.warn(format!("out of memory in the lab: {what}; --memory gives it more"));
                        }
                    }
                }
                // The log ended or failed: the wait below says what happened to the container.
                _ => log_open = false,
            },
            _ = &mut stop => {
                if owns {
                    // Said even with -q and --json: the server goes away here.
                    reporter.always(format!("stopping JupyterLab ({})", server.name));
                    super::remove(engine, &server.id, token_file).await?;
                }
                drop(started.tunnel.take());
                if let Some(target) = engine.host.ssh() {
                    target.close_master().await;
                }
                return Ok(0);
            }
            result = wait.next() => {
                let code = super::exit_code(&result);
                // Over ssh a broken wait may be the connection, not the container: look again
                // (a few times: a new ssh connection may be on its way).
                if code.is_none() && engine.host.ssh().is_some() && super::still_running(engine, &server.id).await {
                    wait = engine.docker.wait_container(&server.id, None::<WaitContainerOptions>);
                    continue;
                }
                let reason = super::stop_reason(engine, &server.id).await;
                if owns {
                    let _ = super::remove(engine, &server.id, token_file).await;
                }
                if let Some(reason) = reason {
                    let note = reason.into_outcome(server.idle_timeout)?;
                    reporter.always(note);
                    return Ok(0);
                }
                let detail = match (code, result) {
                    (Some(code), _) => format!("exit code {code}"),
                    (None, Some(Err(e))) => e.to_string(),
                    (None, _) => "the engine closed the connection".into(),
                };
                return Err(Error::new(Kind::Container, format!("JupyterLab stopped ({detail})"))
                    .hint("`dimtensor-up jupyter` starts it again; your files are in the folder"));
            }
            why = tunnel_ended => {
                let tunnel = started.tunnel.as_mut().expect("a tunnel ended");
                drops += 1;
                if drops > TUNNEL_RETRIES {
                    return Err(Error::new(Kind::Engine, format!("lost the SSH tunnel to {} {TUNNEL_RETRIES} times", tunnel.host()))
                        .cause(why)
                        .hint("the server and its files on the remote are untouched: `dimtensor-up open --host …` connects again"));
                }
                reporter.warn(format!(
                    "the SSH tunnel to {} dropped ({why}); opening it again ({drops} of {TUNNEL_RETRIES})",
                    tunnel.host()
                ));
                tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(drops))).await;
                let before = tunnel.local_port;
                match tunnel.reopen().await {
                    Ok(()) if tunnel.local_port != before => {
                        started.url = tunnel.url(&started.token);
                        println!("{}", started.url);
                    }
                    Ok(()) => reporter.note(format!("the tunnel is back on 127.0.0.1:{before}")),
                    Err(e) => reporter.warn(format!("the tunnel did not open: {}", e.message)),
                }
            }
        }
    }
}
