//! The cluster's login node over ssh: the probe (Slurm there, the user, the architecture,
//! $SCRATCH, Apptainer), the host's settings, and the remote commands the job needs.

use std::path::PathBuf;

use crate::base::error::{Error, Kind, Result};
use crate::base::sys::sh_quote_path;
use crate::engine::ssh::{RemoteUser, SshTarget};
use crate::plan::slurm::{ended_line, sbatch_refusal, JobRequest, JobStatus, NodeSays, SQUEUE_FORMAT};
use crate::spec::config::{Config, SlurmHost};

/// The login node, and what one probe learnt of it.
pub struct Cluster {
    pub target: SshTarget,
    /// `ssh://…` as given: the key of the kept address and of the settings' table.
    pub address: String,
    pub user: RemoteUser,
    pub arch: crate::spec::catalog::Arch,
    /// $SCRATCH (or $WORK) where the cluster has one.
    pub scratch: Option<String>,
    /// Apptainer or Singularity on the login node (it converts the image once, there).
    pub login_runtime: Option<String>,
    pub settings: SlurmHost,
}

/// The jobs' status files and logs, below the cluster user's home.
pub(super) const JOB_FILES: &str = ".local/share/dimtensor-up/slurm";

/// The marker lines of the probe.
const PROBE: &str = r#"id -u; id -g; printf '%s\n' "$HOME"
command -v sbatch >/dev/null 2>&1 && echo SLURM || echo NO-SLURM
uname -m
printf 'SCRATCH %s\n' "${SCRATCH:-${WORK:-}}"
for r in apptainer singularity; do command -v "$r" >/dev/null 2>&1 && { echo "RUNTIME $r"; break; }; done
true"#;

impl Cluster {
    /// Whether `--host` names a cluster: `--slurm`, or a settings table for its host.
    pub fn wanted(host: Option<&str>, slurm_flag: bool, config: &Config) -> bool {
        slurm_flag || host.and_then(|h| settings_for(h, config)).is_some()
    }

    pub async fn connect(host: Option<&str>, config: &Config) -> Result<Cluster> {
        let Some(address) = host.filter(|h| h.starts_with("ssh://")) else {
            return Err(Error::usage(
                "--slurm needs the cluster's login node: --host ssh://[user@]login-node",
            )
            .hint("a Slurm cluster is reached over ssh, as a GPU workstation is"));
        };
        let endpoint = crate::engine::resolve_from_env(Some(address))?;
        let target = endpoint.ssh()?.expect("an ssh:// address gives an ssh target");
        let text = target.run(PROBE, None).await?;
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        if lines.contains(&"NO-SLURM") {
            return Err(Error::new(
                Kind::Engine,
                format!("no Slurm on {} (sbatch not found)", target.display()),
            )
            .hint(
                "--slurm needs the login node of a Slurm cluster; leave it out to run on the machine itself",
            ));
        }
        let user = crate::engine::ssh::remote_user_in(&target, &text)?;
        let arch =
            crate::spec::catalog::Arch::from_engine("linux", lines.get(4).copied().unwrap_or_default())
                .map_err(|e| {
                    e.hint(format!(
                        "the nodes behind {} need linux/amd64 or linux/arm64 for the lab images",
                        target.display()
                    ))
                })?;
        let field = |key: &str| lines.iter().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string());
        let settings = settings_for(address, config).cloned().unwrap_or_default();
        if let Some(runtime) =
            settings.runtime.as_deref().filter(|r| !crate::plan::slurm::RUNTIMES.contains(r))
        {
            return Err(Error::new(
                Kind::Config,
                format!("unknown container runtime `{runtime}` in the settings for {address}"),
            )
            .hint(format!("runtime is one of {}", crate::plan::slurm::RUNTIMES.join(", "))));
        }
        Ok(Cluster {
            settings,
            address: address.to_string(),
            scratch: field("SCRATCH ").filter(|s| !s.is_empty()),
            login_runtime: field("RUNTIME "),
            target,
            user,
            arch,
        })
    }

    /// Where the jobs' status files and logs live (the home folder is shared with the nodes on
    /// every cluster this is for).
    pub(super) fn state_dir(&self) -> PathBuf {
        self.user.home.join(JOB_FILES)
    }

    /// What job `job`'s script said last (its status file).
    pub(super) async fn node_says(&self, job: &str) -> Result<NodeSays> {
        let file = self.state_dir().join(format!("{job}.status"));
        let said = self.target.run(&format!("cat {} 2>/dev/null; true", sh_quote_path(&file)), None).await?;
        Ok(NodeSays::parse(&said))
    }

    /// sbatch's refusal, with the partitions and their limits for the hint.
    pub(super) async fn refusal(&self, said: &str, request: &JobRequest) -> Error {
        let partitions =
            self.target.run("sinfo -h -o '%P %l' 2>/dev/null; true", None).await.unwrap_or_default();
        sbatch_refusal(said, request, &partitions)
    }

    /// Runs `script` on the login node; its output and exit status, whatever the status.
    pub(super) async fn run_status(&self, script: &str, stdin: Option<&[u8]>) -> Result<(i32, String)> {
        let out = self.target.run(&format!("{{ {script}\n}} 2>&1; echo \"@exit $?\""), stdin).await?;
        let (body, code) = out.trim_end().rsplit_once("@exit ").unwrap_or((&out, "1"));
        Ok((code.trim().parse().unwrap_or(1), body.to_string()))
    }

    pub(super) async fn status_of(&self, job: &str) -> Result<Option<JobStatus>> {
        let line = self
            .target
            .run(&format!("squeue -h -j {job} -o '{SQUEUE_FORMAT}' 2>/dev/null; true"), None)
            .await?;
        Ok(JobStatus::parse(&line))
    }

    /// How a job that left the queue ended, in Slurm's words.
    pub(super) async fn how_it_ended(&self, job: &str) -> String {
        let said = self.target.run(&format!("scontrol show job -o {job} 2>/dev/null; true"), None).await;
        said.ok().as_deref().and_then(ended_line).unwrap_or_else(|| "the job has ended".into())
    }

    pub(super) async fn log_tail(&self, job: &str) -> String {
        let log = self.state_dir().join(format!("{job}.log"));
        self.target
            .run(&format!("tail -n 15 {} 2>/dev/null; true", sh_quote_path(&log)), None)
            .await
            .unwrap_or_default()
    }

    pub(super) async fn cancel(&self, job: &str) {
        let _ = self.target.run(&format!("scancel {job}"), None).await;
    }
}

/// The settings table for `ssh://[user@]host[:port]`: by the address as written, else its host.
fn settings_for<'a>(address: &str, config: &'a Config) -> Option<&'a SlurmHost> {
    let target = SshTarget::parse(address, "--host").ok()?;
    let host_port = target.port.map(|p| format!("{}:{p}", target.host));
    let user_host_port =
        target.user.as_ref().map(|u| format!("{u}@{}", host_port.as_deref().unwrap_or(&target.host)));
    // The most precise key first: user@host:port, host:port, then host.
    let found = [user_host_port.as_deref(), host_port.as_deref(), Some(target.host.as_str())]
        .into_iter()
        .flatten()
        .find_map(|key| config.slurm.get(key));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_settings_are_found_by_the_most_precise_key() {
        let table = |key: &str, partition: &str| {
            (key.to_string(), SlurmHost { partition: Some(partition.into()), ..Default::default() })
        };
        let config = Config {
            slurm: [
                table("login", "by-host"),
                table("login:2222", "by-port"),
                table("ana@login:2222", "by-user"),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let partition = |address: &str| settings_for(address, &config).and_then(|s| s.partition.clone());
        assert_eq!(partition("ssh://ana@login:2222").as_deref(), Some("by-user"));
        assert_eq!(partition("ssh://bo@login:2222").as_deref(), Some("by-port"));
        assert_eq!(partition("ssh://login/").as_deref(), Some("by-host"));
        assert_eq!(partition("ssh://ana@login").as_deref(), Some("by-host"));
        assert_eq!(partition("ssh://other"), None);
        assert_eq!(partition("not an address"), None);
    }
}
