//! Holding a lab in the foreground: until Ctrl-C (the run's one signal future), until the
//! server stops, and through dropped SSH tunnels, which are opened again a bounded number of
//! times.

use bollard::query_parameters::WaitContainerOptions;
use futures_util::StreamExt;

use super::start::Started;
use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::engine::Engine;

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
    let server = started.server.clone();
    let mut wait = engine.docker.wait_container(&server.id, None::<WaitContainerOptions>);
    let mut log = memory_lines(engine, &server.id);
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
                Some(Ok(chunk)) => say_memory_lines(&chunk.to_string(), reporter),
                // The log ended or failed: the wait below says what happened to the container.
                _ => log_open = false,
            },
            _ = &mut stop => return stopped_here(engine, &mut started, owns, reporter).await,
            result = wait.next() => {
                let code = super::exit_code(&result);
                // Over ssh a broken wait may be the connection, not the container: look again
                // (a few times: a new ssh connection may be on its way).
                if code.is_none() && engine.host.ssh().is_some() && super::still_running(engine, &server.id).await {
                    wait = engine.docker.wait_container(&server.id, None::<WaitContainerOptions>);
                    continue;
                }
                return stopped_by_itself(engine, &server, owns, code, result, reporter).await;
            }
            why = tunnel_ended => {
                drops += 1;
                reopen_tunnel(&mut started, drops, why, reporter).await?;
            }
        }
    }
}

/// The lab's own lines from now on (it says kernels killed for memory there).
fn memory_lines(
    engine: &Engine,
    id: &str,
) -> impl futures_util::Stream<Item = std::result::Result<bollard::container::LogOutput, bollard::errors::Error>>
{
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let follow = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(true)
        .since(since as i32)
        .build();
    engine.docker.logs(id, Some(follow))
}

/// A kernel killed for memory, said as it happens: in the browser it looks like a crash.
fn say_memory_lines(chunk: &str, reporter: &Reporter) {
    for line in chunk.lines() {
        if let Some(what) = line.trim().strip_prefix(super::OUT_OF_MEMORY_LINE) {
            reporter.warn(format!("out of memory in the lab: {what}; --memory gives it more"));
        }
    }
}

/// Ctrl-C: a lab this run started is stopped and removed (its files stay); one it reused runs on.
async fn stopped_here(engine: &Engine, started: &mut Started, owns: bool, reporter: &Reporter) -> Result<u8> {
    let server = &started.server;
    if owns {
        // Said even with -q and --json: the server goes away here.
        reporter.always(format!("stopping JupyterLab ({})", server.name));
        super::remove(engine, &server.id, server.token_file.as_deref()).await?;
    }
    drop(started.tunnel.take());
    if let Some(target) = engine.host.ssh() {
        target.close_master().await;
    }
    Ok(0)
}

/// The container stopped without a Ctrl-C: why, in the user's terms (an idle timeout or the
/// memory limit is an outcome, anything else an error).
async fn stopped_by_itself(
    engine: &Engine,
    server: &super::Server,
    owns: bool,
    code: Option<i64>,
    result: Option<std::result::Result<bollard::models::ContainerWaitResponse, bollard::errors::Error>>,
    reporter: &Reporter,
) -> Result<u8> {
    let reason = super::stop_reason(engine, &server.id).await;
    if owns {
        let _ = super::remove(engine, &server.id, server.token_file.as_deref()).await;
    }
    if let Some(reason) = reason {
        reporter.always(reason.into_outcome(server.idle_timeout)?);
        return Ok(0);
    }
    let detail = match (code, result) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(Err(e))) => e.to_string(),
        (None, _) => "the engine closed the connection".into(),
    };
    Err(Error::new(Kind::Container, format!("JupyterLab stopped ({detail})"))
        .hint("`dimtensor-up jupyter` starts it again; your files are in the folder"))
}

/// The `drops`th dropped tunnel, opened again after a pause that grows; past TUNNEL_RETRIES an
/// error. A new local port is printed as the new URL.
async fn reopen_tunnel(started: &mut Started, drops: u32, why: String, reporter: &Reporter) -> Result<()> {
    let tunnel = started.tunnel.as_mut().expect("a tunnel ended");
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
    Ok(())
}
