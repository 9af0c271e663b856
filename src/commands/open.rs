//! `dimtensor-up open`: the URL of a running server, in the browser again.

use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::spec::cli::{GlobalArgs, TargetArgs};

pub async fn run(global: &GlobalArgs, args: TargetArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    if crate::cluster::Cluster::wanted(global.host.as_deref(), global.slurm, &config) {
        return open_job(global, &args, &config, &reporter).await;
    }
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let server = crate::lab::target(&engine, args.name.as_deref(), args.workdir.as_deref()).await?;
    if !server.running() {
        return Err(Error::new(
            Kind::Container,
            format!("{} is not running ({})", server.name, server.state),
        )
        .hint("start it with `dimtensor-up jupyter` in its folder"));
    }
    let token = crate::lab::token(&engine, &server).await?;
    // Over ssh, this machine's end of the tunnel takes the port the lab's URL had.
    let kept = crate::lab::address::kept(&engine, std::path::Path::new(&server.workdir));
    let Some(tunnel) = crate::lab::tunnel::open_tunnel(&engine, server.port, kept.map(|k| k.port)).await?
    else {
        let url = crate::lab::url(&server, &token);
        println!("{url}");
        if !args.no_browser {
            crate::lab::browser::open_url(&url, server.port, &reporter).settled().await;
        }
        return Ok(0);
    };
    // Over ssh: this machine's end of the tunnel, held until Ctrl-C; the server keeps running.
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    let (local, port) = tunnel.local();
    let timeout = std::time::Duration::from_secs(60);
    crate::lab::wait_ready(&engine, &server.id, local, port, &token, timeout).await?;
    let url = tunnel.url(&token);
    println!("{url}");
    // The hand-off runs beside the forwarding, which outlasts it.
    let _hand_off = (!args.no_browser).then(|| crate::lab::browser::open_url(&url, port, &reporter));
    reporter.note(format!(
        "forwarding {} from {} until Ctrl-C; the server keeps running after it",
        server.name,
        tunnel.host()
    ));
    let started = crate::lab::start::Started { server, token, url, reused: true, tunnel: Some(tunnel) };
    crate::lab::serve::serve(&engine, started, stop.as_mut(), false, &reporter).await
}

/// `open --slurm`: this folder's running lab job, through the login node until Ctrl-C; the job
/// keeps running after it.
async fn open_job(
    global: &GlobalArgs,
    args: &TargetArgs,
    config: &crate::spec::config::Config,
    reporter: &Reporter,
) -> Result<u8> {
    use crate::cluster;
    let cluster = cluster::Cluster::connect(global.host.as_deref(), config).await?;
    let (folder, job) = cluster::job_for_folder(&cluster, args.workdir.as_deref()).await?;
    let job = job.ok_or_else(|| {
        Error::usage(format!("no lab job for {} on the cluster", folder.display()))
            .hint("`dimtensor-up jupyter --slurm` starts one; `dimtensor-up ps --slurm` lists them")
    })?;
    let stop = crate::base::error::stop_signal();
    tokio::pin!(stop);
    let lab = cluster::reopen(&cluster, &job, &folder, reporter).await?;
    println!("{}", lab.url);
    let port = lab.tunnel.local().1;
    let _hand_off = (!args.no_browser).then(|| crate::lab::browser::open_url(&lab.url, port, reporter));
    reporter.note("the tunnel stays open until Ctrl-C; the job keeps running after it.");
    cluster::serve(&cluster, lab, false, reporter, stop).await
}
