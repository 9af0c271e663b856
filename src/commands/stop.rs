//! `dimtensor-up stop`: stops and removes servers. Host files and named volumes stay.

use crate::base::error::Result;
use crate::base::reporter::Reporter;
use crate::spec::cli::{GlobalArgs, StopArgs};

pub async fn run(global: &GlobalArgs, args: StopArgs) -> Result<u8> {
    let reporter = Reporter::new(global.quiet, global.verbose);
    let (config, _) = crate::spec::config::load()?;
    if crate::cluster::Cluster::wanted(global.host.as_deref(), global.slurm, &config) {
        return cancel_jobs(global, &args, &config, &reporter).await;
    }
    let engine = crate::engine::Engine::connect(global.host.as_deref()).await?;
    let servers = if args.all {
        crate::lab::list(&engine).await?
    } else {
        vec![crate::lab::target(&engine, args.name.as_deref(), args.workdir.as_deref()).await?]
    };
    if servers.is_empty() {
        reporter.note("no dimtensor-up servers to stop");
    }
    for s in servers {
        if let Some(project) = &s.compose_project {
            reporter.note(format!("{} belongs to compose project `{project}`: removing the container; `docker compose up -d` brings it back", s.name));
        }
        // A hub stops its users' labs as it exits; any it leaves are removed after it.
        let labs = match s.variant == crate::lab::ServerKind::Hub {
            true => crate::lab::hub_labs(&engine, &s.workdir).await?,
            false => vec![],
        };
        crate::lab::remove(&engine, &s.id, s.token_file.as_deref()).await?;
        if s.variant == crate::lab::ServerKind::Hub {
            for id in crate::lab::hub_labs(&engine, &s.workdir).await? {
                crate::lab::remove(&engine, &id, None).await?;
            }
            if let Some(project) = &s.compose_project {
                crate::lab::remove_unused_network(&engine, project).await?;
            }
            reporter.note(format!(
                "stopped the hub {} and {} running lab(s) (accounts and user folders stay in volumes; `dimtensor-up hub --up` starts it again)",
                s.name,
                labs.len()
            ));
            continue;
        }
        // Only what is true: the folder is the host's, the packages volume if there is one.
        let volume = crate::spec::naming::packages_volume_for(std::path::Path::new(&s.workdir));
        let packages = match engine.docker.inspect_volume(&volume).await {
            Ok(_) => format!("; packages installed by hand kept in volume {volume}"),
            Err(_) => String::new(),
        };
        reporter.note(format!("stopped {} (files in {} kept{packages})", s.name, s.workdir));
    }
    Ok(0)
}

/// `stop --slurm`: cancels this folder's lab job (or, with --all, every lab job); files stay.
async fn cancel_jobs(
    global: &GlobalArgs,
    args: &StopArgs,
    config: &crate::spec::config::Config,
    reporter: &Reporter,
) -> Result<u8> {
    use crate::cluster;
    let cluster = cluster::Cluster::connect(global.host.as_deref(), config).await?;
    let jobs = match (args.all, &args.name) {
        (true, _) => cluster::jobs(&cluster).await?,
        (false, Some(name)) => {
            cluster::jobs(&cluster).await?.into_iter().filter(|j| &j.name == name || &j.job == name).collect()
        }
        (false, None) => {
            cluster::job_for_folder(&cluster, args.workdir.as_deref()).await?.1.into_iter().collect()
        }
    };
    if jobs.is_empty() && !args.all {
        return Err(crate::base::error::Error::usage("no lab job for this folder on the cluster")
            .hint("`dimtensor-up ps --slurm` lists the lab jobs"));
    }
    cluster::cancel(&cluster, &jobs, reporter).await?;
    Ok(0)
}
