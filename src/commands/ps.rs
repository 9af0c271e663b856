//! `dimtensor-up ps`: the servers dimtensor-up started.

use crate::base::error::Result;
use crate::spec::cli::{GlobalArgs, PsArgs};

pub async fn run(global: &GlobalArgs, args: PsArgs) -> Result<u8> {
    let (config, _) = crate::spec::config::load()?;
    if crate::cluster::Cluster::wanted(global.host.as_deref(), global.slurm, &config) {
        return jobs(global, &args, &config).await;
    }
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let servers = crate::lab::list(&engine).await?;
    // A stopped lab says why, where it can: killed for memory, or idle.
    let mut reasons = Vec::new();
    for s in &servers {
        reasons.push(match s.state {
            crate::lab::ContainerState::Running => None,
            _ => crate::lab::stop_reason(&engine, &s.id).await,
        });
    }
    // The image each server runs, by the registry digest it was pulled by (or built here).
    let mut digests = Vec::new();
    for s in &servers {
        let repo_digests = match engine.docker.inspect_image(&s.image_id).await {
            Ok(image) => image.repo_digests.unwrap_or_default(),
            Err(_) => vec![],
        };
        let repository = crate::engine::registry::repository_of(&s.image);
        digests.push(crate::engine::registry::pulled_digest(&repo_digests, repository).map(str::to_string));
    }
    if args.json {
        let rows: Vec<serde_json::Value> = servers
            .iter()
            .zip(&digests)
            .zip(&reasons)
            .map(|((s, digest), reason)| {
                let mut row = serde_json::to_value(s).expect("servers serialise");
                row["image_digest"] = serde_json::json!(digest);
                row["stopped_because"] = serde_json::json!(reason.as_ref().map(|r| r.short()));
                row
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
        return Ok(0);
    }
    if servers.is_empty() {
        crate::base::reporter::Reporter::new(global.quiet, global.verbose)
            .note("no dimtensor-up servers (start one with `dimtensor-up jupyter`)");
        return Ok(0);
    }
    println!(
        "{:<40} {:<9} {:<8} {:<21} {:<6} {:<19} FOLDER",
        "NAME", "STATE", "VARIANT", "ADDRESS", "GPUS", "IMAGE DIGEST"
    );
    for ((s, digest), reason) in servers.iter().zip(&digests).zip(&reasons) {
        let state = match reason {
            Some(reason) => format!("{} ({})", s.state, reason.short()),
            None => s.state.to_string(),
        };
        println!(
            "{:<40} {:<9} {:<8} {:<21} {:<6} {:<19} {}",
            s.name,
            state,
            s.variant,
            format!("{}:{}", s.listen, s.port),
            s.gpus,
            crate::engine::registry::shown_digest(digest.as_deref()),
            s.workdir
        );
    }
    Ok(0)
}

/// `ps --slurm`: the lab jobs on the cluster, with their node and time left.
async fn jobs(global: &GlobalArgs, args: &PsArgs, config: &crate::spec::config::Config) -> Result<u8> {
    let cluster = crate::cluster::Cluster::connect(global.host.as_deref(), config).await?;
    let jobs = crate::cluster::jobs(&cluster).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&jobs).expect("json"));
        return Ok(0);
    }
    println!("{:<10} {:<11} {:<14} {:<12} NAME", "JOB", "STATE", "NODE", "TIME LEFT");
    for j in &jobs {
        println!(
            "{:<10} {:<11} {:<14} {:<12} {}",
            j.job,
            j.state.word().to_lowercase(),
            j.node.as_deref().unwrap_or("-"),
            j.time_left.map(crate::plan::slurm::slurm_time).as_deref().unwrap_or("-"),
            j.name
        );
    }
    Ok(0)
}
