//! Slurm clusters: a one-node Slurm (tests/support/slurm.sh) whose login node is the loopback
//! sshd (tests/support/sshd.sh). A lab as a job, run by the node's Docker, reached through the
//! login node; a pending job's reason; Ctrl-C while pending and while running; a one-minute time
//! limit; Slurm's refusals; Apptainer's command line through a stand-in that records it (no
//! Apptainer can be installed here). Needs root (the fixtures), the Docker engine and the lab
//! image.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dimtensor_up::for_tests::labels;

use crate::support::*;

const REMOTE_HOME: &str = "/home/dtu-remote";
const REMOTE_UID: u32 = 4331;

fn cluster() -> Option<Workstation> {
    let ws = workstation()?;
    fixture(
        "Slurm tests",
        "run tests/support/slurm.sh start (tests/run.sh does, as root)",
        "DTU_SKIP_SLURM",
        env_var("DTU_SLURM_NODE"),
    )?;
    Some(ws)
}

/// The laptop, with the login node `box` in its settings (jobs run the node's Docker).
fn laptop(name: &str, ws: &Workstation, settings: &str) -> Sandbox {
    let sb = Sandbox::laptop(name, ws);
    let config = format!("[slurm.box]\nruntime = \"docker\"\n{settings}");
    std::fs::write(sb.root.join("config.toml"), config).unwrap();
    sb
}

/// The lab jobs in the queue (any user's: the cluster is the tests' own).
fn lab_jobs() -> Vec<String> {
    let out = Command::new("squeue").args(["-h", "-o", "%i %j %T"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("dimtensor-up-"))
        .map(str::to_string)
        .collect()
}

fn until_no_lab_jobs(limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    while Instant::now() < end && !lab_jobs().is_empty() {
        std::thread::sleep(Duration::from_millis(500));
    }
    lab_jobs()
}

fn slurm(args: &[&str]) {
    assert!(Command::new("bash").arg("tests/support/slurm.sh").args(args).status().unwrap().success());
}

/// The node drained until dropped (a failing test leaves it back in service).
struct Drained;

impl Drained {
    fn now() -> Drained {
        slurm(&["drain"]);
        Drained
    }
}

impl Drop for Drained {
    fn drop(&mut self) {
        slurm(&["resume"]);
    }
}

/// `jupyter` against the cluster in the foreground: the child, its URL once printed (None if it
/// exited first), and its stderr.
fn spawn_job(sb: &Sandbox, extra: &[&str]) -> (Child, StderrWatch) {
    let mut args = vec!["--host", "ssh://box", "jupyter", "--variant", "base", "--no-browser"];
    args.extend_from_slice(extra);
    let mut child = sb.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let watch = StderrWatch::of(&mut child);
    (child, watch)
}

fn url_of(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next().map(|l| l.unwrap()).unwrap_or_default()
}

#[test]
fn a_lab_runs_as_a_job_on_the_node_and_ctrl_c_cancels_it() {
    let _engine = engine_test!();
    let Some(ws) = cluster() else { return };
    let sb = laptop("slurmlab", &ws, "time = \"10m\"\n");
    let (mut child, stderr) = spawn_job(&sb, &[]);
    let url = url_of(&mut child);
    let seen = stderr.until("JupyterLab runs in job", Duration::from_secs(5));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}\n{seen}");
    assert!(seen.contains("submitted job ") && seen.contains("time limit 00:10:00"), "{seen}");
    let jobs = lab_jobs();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(jobs[0].ends_with("RUNNING"), "{jobs:?}");
    // The browser's URL goes laptop → login node → node; the kernel runs dimtensor there.
    let (output, error) = run_in_kernel(&url, "import dimtensor, numpy as np; print(dimtensor.DimArray(np.array([1.5]), dimtensor.units.m / dimtensor.units.s))");
    assert_eq!(error, None);
    assert!(output.contains("m/s"), "{output}");
    let saved = jupyter_client(&url, "save", &["work/from-the-node.ipynb"]);
    assert_eq!(saved["work/from-the-node.ipynb"]["status"], 201, "{saved}");
    let folder = Sandbox::remote_folder(&seen);
    assert!(folder.starts_with(REMOTE_HOME), "{seen}");
    assert_eq!(owner(&folder.join("from-the-node.ipynb")), REMOTE_UID, "the file is the cluster user's");
    // The token is on no command line of the cluster.
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(token_of(&url)));
    let listed = sb.run(&["--host", "ssh://box", "ps", "--json"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows[0]["state"], "RUNNING", "{rows}");
    assert_eq!(rows[0]["node"], "dtu-node1", "{rows}");

    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    assert!(stderr.until("cancelling job", Duration::from_secs(1)).contains("cancelling job"));
    assert!(until_no_lab_jobs(Duration::from_secs(30)).is_empty(), "Ctrl-C cancels the job");
    let containers = docker(&["ps", "-aq", "--filter", &format!("label={}", labels::WORKDIR)]);
    assert!(!containers.contains(&format!("{}", folder.display())), "no container left");
    assert!(folder.join("from-the-node.ipynb").exists(), "files stay");
}

#[test]
fn a_pending_job_says_why_ctrl_c_cancels_it_and_a_resumed_node_starts_it() {
    let _engine = engine_test!();
    let Some(ws) = cluster() else { return };
    let sb = laptop("slurmwait", &ws, "");
    let drained = Drained::now();
    let (mut child, stderr) = spawn_job(&sb, &[]);
    let seen = stderr.until("pending (ReqNodeNotAvail", Duration::from_secs(60));
    assert!(seen.contains("pending (ReqNodeNotAvail"), "{seen}");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130));
    assert!(lab_jobs().is_empty(), "Ctrl-C while pending cancels the job");

    // Pending, then the node comes back: the job starts, --detach leaves it running.
    let (mut child, stderr) = spawn_job(&sb, &["--detach"]);
    let seen = stderr.until("pending", Duration::from_secs(60));
    assert!(seen.contains("pending"), "{seen}");
    drop(drained);
    let url = url_of(&mut child);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(120)), Some(0));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(lab_jobs().len(), 1);
    let again = sb.run(&["--host", "ssh://box", "stop"]).ok();
    again.says("cancelled job ");
    assert!(until_no_lab_jobs(Duration::from_secs(30)).is_empty(), "stop cancels the job");
}

#[test]
fn a_time_limit_ends_the_lab_with_slurms_reason() {
    let _engine = engine_test!();
    let Some(ws) = cluster() else { return };
    let sb = laptop("slurmtime", &ws, "");
    let (mut child, stderr) = spawn_job(&sb, &["--time", "1m"]);
    let url = url_of(&mut child);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let warned = stderr.until("left: save your work", Duration::from_secs(30));
    assert!(warned.contains("left: save your work"), "{warned}");
    let ended = stderr.until("JupyterLab stopped", Duration::from_secs(150));
    assert!(ended.contains("reached its time limit of 00:01:00") && ended.contains("TIMEOUT"), "{ended}");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(0));
    assert!(lab_jobs().is_empty());
}

#[test]
fn bad_cluster_input_is_one_error_and_nothing_that_cannot_start_is_submitted() {
    let _engine = engine_test!();
    let Some(ws) = cluster() else { return };
    let sb = laptop("slurmbad", &ws, "");
    let run = |args: &[&str]| {
        let mut all = vec!["jupyter", "--variant", "base", "--no-browser", "--detach"];
        all.extend_from_slice(args);
        sb.run(&all)
    };
    // A login node without Slurm: the login whose PATH has no tools.
    let out = run(&["--host", "ssh://box-noclient", "--slurm"]);
    out.user_error(3);
    out.says("no Slurm on ");
    for (args, says, hint) in [
        (
            &["--partition", "nope"][..],
            "invalid partition",
            "partitions here: debug* (max 30:00), gpu (max 10:00), physics (max 10:00)",
        ),
        (&["--partition", "debug", "--time", "2h"][..], "time limit", "ask for less with --time"),
        (&["--partition", "physics", "--account", "chemistry", "--time", "5m"][..], "account", "--account"),
    ] {
        let mut all = vec!["--host", "ssh://box"];
        all.extend_from_slice(args);
        let out = run(&all);
        out.user_error(2);
        out.says("error: Slurm refused the job: ");
        assert!(out.stderr.to_lowercase().contains(says), "{}", out.stderr);
        out.says(hint);
        assert!(lab_jobs().is_empty(), "nothing submitted: {args:?}");
    }
    // No container runtime on the node (the settings ask for one it does not have).
    std::fs::write(sb.root.join("config.toml"), "[slurm.box]\nruntime = \"singularity\"\n").unwrap();
    let out = run(&["--host", "ssh://box"]);
    out.user_error(5);
    out.says("no container runtime on node ");
    assert!(until_no_lab_jobs(Duration::from_secs(30)).is_empty());
    assert!(sb.token_files().is_empty());
}

#[test]
fn apptainer_is_called_as_intended_on_the_node() {
    let _engine = engine_test!();
    let Some(ws) = cluster() else { return };
    // A stand-in `apptainer` that only the job's PATH has: it records its arguments and waits.
    let standin = tempdir("apptainer-standin");
    let record = standin.join("args");
    std::fs::write(
        standin.join("apptainer"),
        format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\nexec sleep 300\n", record.display()),
    )
    .unwrap();
    std::fs::set_permissions(standin.join("apptainer"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    std::fs::set_permissions(&standin, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // The image as the login node would have converted it.
    let cache = tempdir("sif-cache");
    std::fs::write(cache.join("dimtensor_jupyter-ml-5.2.0.sif"), "stand-in").unwrap();
    Command::new("chmod").args(["-R", "a+rwX"]).arg(&cache).status().unwrap();
    let sb = laptop("slurmsif", &ws, "");
    std::fs::write(
        sb.root.join("config.toml"),
        format!("[slurm.box]\nruntime = \"apptainer\"\nimage-cache = \"{}\"\n", cache.display()),
    )
    .unwrap();
    let export = format!("--sbatch-arg=--export=ALL,PATH={}:/usr/bin:/bin", standin.display());
    let out = sb.run(&[
        "--host", "ssh://box", "jupyter", "--variant", "ml", "--gpus", "1", "--partition", "gpu", "--time",
        "5m", "--no-browser", "--timeout", "5", &export,
    ]);
    out.user_error(5);
    out.says("did not answer within 5 s");
    out.says("cancelling job");
    assert!(until_no_lab_jobs(Duration::from_secs(30)).is_empty());
    let args = std::fs::read_to_string(&record).unwrap();
    let args: Vec<&str> = args.lines().collect();
    for expected in ["exec", "--containall", "--cleanenv", "--writable-tmpfs", "--no-home", "--nv"] {
        assert!(args.contains(&expected), "{expected} in {args:?}");
    }
    let folder = Sandbox::remote_folder(&out.stderr);
    assert!(args.contains(&format!("{}:/home/dimtensor/work", folder.display()).as_str()), "{args:?}");
    assert!(
        args.iter().any(|a| a.starts_with(&format!("{REMOTE_HOME}/.local/share/dimtensor-up/tokens/"))
            && a.ends_with(":/run/secrets/jupyter_token:ro")),
        "{args:?}"
    );
    assert!(args.contains(&"XLA_PYTHON_CLIENT_PREALLOCATE=false"), "{args:?}");
    assert!(args.contains(&cache.join("dimtensor_jupyter-ml-5.2.0.sif").to_str().unwrap()), "{args:?}");
    assert!(args.iter().any(|a| a.starts_with("--port=") && a[7..].parse::<u16>().is_ok()), "{args:?}");
}
