//! A GPU workstation over ssh: the laptop (the test user without the docker group) reaches the
//! engine only through an sshd on loopback (tests/support/sshd.sh, as root; DTU_SKIP_SSH says why
//! not): a remote lab opened here, tunnels, detach and reopen, ssh faults, the remote's GPUs and
//! paths. Needs the Docker engine; the GPU stub engine for `--gpus auto`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dimtensor_up::for_tests::labels;

use crate::support::*;

const REMOTE_HOME: &str = "/home/dtu-remote";
const REMOTE_UID: u32 = 4331;

fn remote_labs(folder: &Path) -> Vec<String> {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={}={}", labels::WORKDIR, folder.display()),
        "--format",
        "{{.Names}} {{.State}}",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn a_remote_lab_opens_here_through_ssh_survives_a_killed_tunnel_and_ctrl_c_cleans_up() {
    let _engine = engine_test!();
    let Some(ws) = workstation() else { return };
    let sb = Sandbox::laptop("sshlab", &ws);
    // The laptop's 8888 is taken: the tunnel takes the next free port.
    let held = TcpListener::bind("127.0.0.1:8888").ok();
    let mut child = sb
        .cmd(&["--host", "ssh://box", "jupyter", "--variant", "base", "--no-browser", "--pull", "never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().expect("a URL line").unwrap();
    let stderr = wait_for_stderr(&mut child, "until Ctrl-C");
    if held.is_some() {
        assert_ne!(port_of(&url), 8888, "{url}");
    }
    let folder = Sandbox::remote_folder(&stderr);
    assert!(folder.to_string_lossy().starts_with(&format!("{REMOTE_HOME}/dimtensor-up/work-")), "{stderr}");
    // The folder is the remote's: the laptop user cannot even see it.
    let peek = sb.cmd(&["config", "path"]).output().unwrap();
    assert!(peek.status.success());
    let laptop_sees = Command::new("setpriv")
        .args([
            &format!("--reuid={TEST_UID}"),
            &format!("--regid={TEST_UID}"),
            "--clear-groups",
            "test",
            "-e",
        ])
        .arg(&folder)
        .status()
        .unwrap();
    assert!(!laptop_sees.success(), "the remote folder is not visible to the laptop user");

    let check = jupyter_client_check(&url);
    assert_eq!(
        (check["status_with_token"].as_u64(), check["status_without_token"].as_u64()),
        (Some(200), Some(403)),
        "{check}"
    );
    assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{check}");
    let written = folder.join("from-jupyter.txt");
    assert_eq!(owner(&written), REMOTE_UID, "files belong to the remote user");
    let labs = remote_labs(&folder);
    assert_eq!(labs.len(), 1);
    let name = labs[0].split(' ').next().unwrap().to_string();

    // The ssh connection that carries the tunnel is killed: said, opened again, the server untouched.
    let tunnel: Vec<String> = sb.ssh_processes().into_iter().filter(|l| l.contains("[mux]")).collect();
    assert_eq!(tunnel.len(), 1, "{tunnel:?}");
    let pid = tunnel[0].split_whitespace().next().unwrap().to_string();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    let start = Instant::now();
    while http_status(port_of(&url), "/api/status", Some(token_of(&url))) != Some(200) {
        assert!(start.elapsed() < Duration::from_secs(30), "the tunnel came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(remote_labs(&folder).len(), 1, "the server was untouched");

    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    assert!(remote_labs(&folder).is_empty(), "Ctrl-C stops and removes the remote container");
    assert!(written.exists(), "its files stay");
    let tokens: Vec<String> = std::fs::read_dir(format!("{REMOTE_HOME}/.local/share/dimtensor-up/tokens"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    assert!(!tokens.iter().any(|t| t.starts_with(&name)), "no token file left on the remote: {tokens:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(sb.ssh_processes().is_empty(), "no ssh left: {:?}", sb.ssh_processes());
    drop(held);
}

#[test]
fn a_detached_remote_lab_is_reopened_and_reused_through_ssh() {
    let _engine = engine_test!();
    let Some(ws) = workstation() else { return };
    let sb = Sandbox::laptop("sshdetach", &ws);
    let out = sb
        .run(&[
            "--host", "ssh://box", "jupyter", "--variant", "base", "--detach", "--no-browser", "--pull",
            "never",
        ])
        .ok();
    assert!(out.stdout.is_empty(), "no URL that would not work: {}", out.stdout);
    out.says("dimtensor-up open --host ssh://box");
    let folder = Sandbox::remote_folder(&out.stderr);
    assert_eq!(remote_labs(&folder).len(), 1);
    let ps = sb.run(&["--host", "ssh://box", "ps"]).ok();
    assert!(ps.stdout.contains(&folder.display().to_string()), "{}", ps.stdout);

    // `open` holds a tunnel until Ctrl-C; the server keeps running.
    for args in [
        vec!["--host", "ssh://box", "open", "--no-browser"],
        vec!["--host", "ssh://box", "jupyter", "--variant", "base", "--no-browser"],
    ] {
        let mut child = sb.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let url = BufReader::new(child.stdout.take().unwrap()).lines().next().expect("a URL").unwrap();
        assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200), "{args:?}");
        signal(&child, "INT");
        assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0), "{args:?}");
        assert_eq!(
            remote_labs(&folder),
            vec![format!("{} running", remote_labs(&folder)[0].split(' ').next().unwrap())],
            "{args:?}"
        );
    }
    sb.run(&["--host", "ssh://box", "stop"]).ok();
    assert!(remote_labs(&folder).is_empty());
}

#[test]
fn ssh_faults_are_one_line_errors_with_hints() {
    let _engine = engine_test!();
    let Some(ws) = workstation() else { return };
    let sb = Sandbox::laptop("sshfaults", &ws);
    let cases: [(&[&str], Option<&str>, &str, i32); 8] = [
        (&["--host", "ssh://box", "ps"], Some("/nonexistent"), "ssh is not installed", 3),
        (&["--host", "ssh://box-down", "ps"], None, "cannot reach box-down", 3),
        (&["--host", "ssh://box-refused", "ps"], None, "refused the SSH login", 3),
        (&["--host", "ssh://box-unknown", "ps"], None, "host key of box-unknown is not known", 3),
        (&["--host", "ssh://box-noclient", "ps"], None, "has no docker command", 3),
        (&["--host", "ssh://box-nodocker", "ps"], None, "refused your user", 3),
        (
            &[
                "--host", "ssh://box", "jupyter", "--variant", "base", "--workdir", "/srv/nowhere",
                "--no-browser", "--pull", "never",
            ],
            None,
            "/srv/nowhere on box does not exist",
            2,
        ),
        (&["--host", "ssh://me:pw@box", "ps"], None, "holds a password", 2),
    ];
    for (args, path, says, code) in cases {
        let mut cmd = sb.cmd(args);
        if let Some(path) = path {
            cmd.env("PATH", path);
        }
        let out = Out::from(cmd.output().unwrap());
        out.user_error(code);
        out.says(says);
    }
    assert!(sb.leftovers().is_empty());
}

#[test]
fn the_remote_decides_gpus_and_compose_writes_remote_paths() {
    let _engine = engine_test!();
    let Some(ws) = workstation() else { return };
    let sb = Sandbox::laptop("sshgpu", &ws);
    // The laptop has no nvidia-smi; the workstation has (a stub of) one GPU.
    let doctor = sb.run(&["--host", "ssh://box", "doctor", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    assert_eq!(report["gpu"]["host"]["driver_version"], "550.54.15", "{report}");
    assert!(
        report["engine"]["data_root_free_bytes"].as_u64().is_some_and(|b| b > 0),
        "the remote's disk: {report}"
    );
    let out = sb.run(&[
        "--host", "ssh://box", "jupyter", "--variant", "base", "--gpus", "device=1", "--no-browser",
        "--pull", "never",
    ]);
    out.user_error(7);
    out.says("GPU 1 does not exist on this machine (it has 0)");

    let out = sb
        .run(&[
            "--host", "ssh://box", "compose", "--variant", "base", "--gpus", "none", "--up", "--no-browser",
        ])
        .ok();
    let folder = Sandbox::remote_folder(&out.stderr);
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(yaml.contains(&format!("source: {}", folder.display())), "{yaml}");
    assert!(
        yaml.contains("DIMTENSOR_UID")
            && std::fs::read_to_string(sb.work.join(".env"))
                .unwrap()
                .contains(&format!("DIMTENSOR_UID={REMOTE_UID}"))
    );
    out.says("dimtensor-up open --host ssh://box");
    assert_eq!(remote_labs(&folder).len(), 1, "compose started it on the remote");
    sb.run(&["--host", "ssh://box", "stop"]).ok();
    assert!(remote_labs(&folder).is_empty());
}

#[test]
fn gpus_auto_attaches_the_workstations_gpus() {
    let _engine = engine_test!();
    let Some(ws) = workstation() else { return };
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::laptop("sshgpuauto", &ws);
    // `box-gpu`: a login whose docker reaches the GPU stub engine, with a stub nvidia-smi and the
    // stub NVIDIA hook on its PATH. A GPU-capable image there (jupyter-base, tagged ml).
    let ml = "ghcr.io/marcoloco23/dimtensor:ml";
    docker_on(&gpu_host, &["tag", "ghcr.io/marcoloco23/dimtensor:jupyter-base", ml]);
    let gpus = |host: &str| {
        let args = [
            "--host",
            host,
            "run",
            "ml",
            "--pull",
            "never",
            "--",
            "sh",
            "-c",
            "echo ${NVIDIA_VISIBLE_DEVICES:-unset}",
        ];
        sb.run(&args)
    };
    // The laptop has no NVIDIA driver, the workstation has: auto attaches its GPUs there. The
    // engine's NVIDIA driver sets NVIDIA_VISIBLE_DEVICES from the request (all); on the CPU it
    // would be `void`.
    assert!(Command::new("sh").args(["-c", "command -v nvidia-smi"]).output().unwrap().stdout.is_empty());
    let out = gpus("ssh://box-gpu").ok();
    assert_eq!(out.stdout.trim(), "all", "GPUs attached: {}", out.stderr);
    docker_on(&gpu_host, &["rmi", ml]);
}

#[test]
fn over_ssh_the_workstations_driver_decides_not_the_laptops() {
    let _engine = engine_test!();
    let Some(ws) = workstation() else { return };
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::laptop("sshold", &ws);
    // `box-olddriver`: the GPU stub engine (its NVIDIA hook works) behind a login whose
    // nvidia-smi reports a driver older than CUDA 12 needs; the laptop's own stub is new enough.
    let laptop_path = format!("{}:{}", sb.path.clone().unwrap(), StubSmi::ONE.path());
    let run = |args: &[&str]| Out::from(sb.cmd(args).env("PATH", &laptop_path).output().unwrap());
    let doctor = run(&["--host", "ssh://box-olddriver", "doctor", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    assert_eq!(report["gpu"]["host"]["driver_version"], "470.256.02", "{report}");
    let before = docker_on(&gpu_host, &["ps", "-aq"]);
    let out = run(&[
        "--host", "ssh://box-olddriver", "jupyter", "--variant", "ml", "--gpus", "all", "--detach",
        "--no-browser", "--pull", "never",
    ]);
    out.user_error(7);
    out.says("error: --gpus all cannot work with the ml lab: the NVIDIA driver 470.256.02 is older than CUDA 12.8 needs (525.60.13 or newer)");
    assert!(!out.stderr.contains("pull") && !out.stderr.contains("build"), "{}", out.stderr);
    assert_eq!(docker_on(&gpu_host, &["ps", "-aq"]), before, "nothing created on the workstation");
}
