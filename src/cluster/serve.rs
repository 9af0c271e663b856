//! Holding a job's lab in the foreground: Ctrl-C, the job's end in Slurm's words, a warning
//! before the time limit, a dropped tunnel opened again.

use std::time::{Duration, Instant};

use super::connect::Cluster;
use super::start::ClusterLab;
use crate::base::error::Result;
use crate::base::reporter::Reporter;

/// The time limit's warning comes this long before it.
const WARN_BEFORE_END: u64 = 600;

/// Holds a job's lab in the foreground: until Ctrl-C (which cancels the job when `owns`), or the
/// job's end, said with Slurm's reason; one warning ten minutes before its time limit; a dropped
/// tunnel opened again.
pub async fn serve(
    cluster: &Cluster,
    mut lab: ClusterLab,
    owns: bool,
    reporter: &Reporter,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Result<u8> {
    let mut warned = false;
    let mut next_look = Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => {
                if owns {
                    reporter.always(format!("cancelling job {} (JupyterLab on {})", lab.job, lab.node));
                    cluster.cancel(&lab.job).await;
                }
                // A job left running keeps its token file; a cancelled one's goes.
                if let Some(file) = lab.token_file.take().filter(|_| !owns) {
                    file.keep();
                }
                cluster.target.close_master().await;
                return Ok(0);
            }
            why = lab.tunnel.ended() => {
                reporter.warn(format!("the SSH tunnel to {} dropped ({why}); opening it again", cluster.target.display()));
                tokio::time::sleep(Duration::from_millis(500)).await;
                lab.tunnel.reopen().await?;
            }
            _ = tokio::time::sleep_until(next_look.into()) => {
                next_look = Instant::now() + Duration::from_secs(5);
                match cluster.status_of(&lab.job).await? {
                    None => {
                        let how = cluster.how_it_ended(&lab.job).await;
                        reporter.always(format!("JupyterLab stopped: {how}; your files are in {} on {}", lab.workdir.display(), cluster.target.display()));
                        return Ok(0);
                    }
                    Some(status) => {
                        if let Some(left) = status.time_left.filter(|l| *l <= WARN_BEFORE_END && !warned) {
                            warned = true;
                            reporter.warn(format!(
                                "job {} has {} left: save your work; Slurm stops the lab at its time limit",
                                lab.job,
                                crate::plan::slurm::slurm_time(left)
                            ));
                        }
                    }
                }
            }
        }
    }
}
