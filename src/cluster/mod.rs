//! Floor 5: a lab as a Slurm job on a cluster whose login node is reached over ssh (`--slurm`,
//! or a `[slurm."HOST"]` table in the settings): the login node (`connect`); the job checked with
//! `sbatch --test-only` before anything is submitted, the queue shown while it waits, the lab's
//! node and port read from the job's status file, the browser's way in through the one ssh
//! connection (laptop → login node → node) (`start`); held, and cancelled on Ctrl-C (`serve`);
//! the user's lab jobs (`jobs`). The pure parts (the sbatch line, the node's script, Slurm's
//! words) are `plan/slurm.rs`; nothing here runs on the login node but Slurm's own commands,
//! `cat`, `mkdir`, `rm` and (for Apptainer) `apptainer pull`.

pub mod connect;
pub mod jobs;
pub mod serve;
pub mod start;

pub use connect::Cluster;
pub use jobs::{cancel, job_for_folder, jobs, reopen};
pub use serve::serve;
pub use start::{start, JobFlags};
