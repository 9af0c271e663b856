//! The user's lab jobs: listed (`ps`), found for a folder, cancelled (`stop`), reopened (`open`).

use std::path::{Path, PathBuf};

use super::connect::Cluster;
use super::start::{node_address, ClusterLab};
use crate::base::error::{Error, Kind, Result};
use crate::base::reporter::Reporter;
use crate::base::sys::sh_quote_path;
use crate::lab::tunnel::Tunnel;
use crate::plan::slurm::{JobState, JobStatus, NodeSays, SQUEUE_FORMAT};

/// The user's lab jobs (named `dimtensor-up-…`) on the cluster: for `ps`, `open` and `stop`.
pub async fn jobs(cluster: &Cluster) -> Result<Vec<JobStatus>> {
    let said = cluster
        .target
        .run(
            &format!("squeue --me -h -o '{SQUEUE_FORMAT}' 2>/dev/null || squeue -u \"$USER\" -h -o '{SQUEUE_FORMAT}'"),
            None,
        )
        .await?;
    Ok(said.lines().filter_map(JobStatus::parse).filter(|j| j.name.starts_with("dimtensor-up-")).collect())
}

/// The job of this folder's lab (`--workdir`, else the folder that stands for the current one).
pub async fn job_for_folder(
    cluster: &Cluster,
    workdir: Option<&Path>,
) -> Result<(PathBuf, Option<JobStatus>)> {
    let folder = match workdir {
        Some(w) => w.to_path_buf(),
        None => {
            let cwd = crate::base::sys::current_dir()?;
            crate::engine::ssh::default_remote_folder(&cluster.user.home, &cwd)
        }
    };
    let name = crate::spec::naming::container_name_for(&folder);
    // A job that is finishing (cancelled, ended) is no lab any more.
    let job = jobs(cluster).await?.into_iter().find(|j| j.name == name && j.state != JobState::Completing);
    Ok((folder, job))
}

/// Cancels lab jobs and removes their token files; the work folders stay.
pub async fn cancel(cluster: &Cluster, jobs: &[JobStatus], reporter: &Reporter) -> Result<()> {
    for job in jobs {
        cluster.cancel(&job.job).await;
        let tokens = crate::lab::token::remote_token_dir(&cluster.user.home);
        let pattern = format!("{}/{}-*", sh_quote_path(&tokens), job.name);
        let _ = cluster.target.run(&format!("rm -f -- {pattern}"), None).await;
        reporter.always(format!("cancelled job {} ({}; files kept)", job.job, job.name));
    }
    Ok(())
}

/// A running lab job's way in again (`open`, `jupyter` for a folder whose job runs): its port
/// from the status file, its token from the kept address, a tunnel through the login node.
pub async fn reopen(
    cluster: &Cluster,
    job: &JobStatus,
    folder: &Path,
    reporter: &Reporter,
) -> Result<ClusterLab> {
    let NodeSays::Running { port, host } = cluster.node_says(&job.job).await? else {
        return Err(Error::new(
            Kind::Container,
            format!("job {} has no JupyterLab running yet ({})", job.job, job.state.word()),
        )
        .hint("wait until `dimtensor-up ps --slurm` shows it running"));
    };
    let kept = crate::lab::address::kept_at(&cluster.address, folder).ok_or_else(|| {
        Error::new(Kind::Container, format!("the token of job {} is not kept on this machine", job.job))
            .hint("it was started from another machine: `dimtensor-up stop --slurm` there, or cancel it and start it here")
    })?;
    let node = job.node.clone().unwrap_or(host);
    let address = node_address(cluster, &node).await;
    let tunnel = Tunnel::open_to(&cluster.target, &address, port, Some(kept.port)).await?;
    let url = tunnel.url(&kept.token);
    reporter.note(format!(
        "job {} runs on {node}{}",
        job.job,
        job.time_left.map(|t| format!(", {} left", crate::plan::slurm::slurm_time(t))).unwrap_or_default()
    ));
    Ok(ClusterLab {
        job: job.job.clone(),
        node,
        url,
        token_file: None,
        tunnel,
        workdir: folder.to_path_buf(),
    })
}
