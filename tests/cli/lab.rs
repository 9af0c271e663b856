//! The real engine: a lab's whole life as users live it (start, talk to it, reuse, stop, Ctrl-C,
//! kill -9), JSON output, ports, awkward folders, failures at start-up, the wizard, `run`, and the
//! browser hand-off. Needs the Docker engine with the base and jupyter-base images and the Python
//! Jupyter client (tests/run.sh).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn doctor_reports_the_real_engine() {
    let _engine = engine_test!();
    let sb = Sandbox::new("doctor");
    let out = sb.run(&["doctor", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["engine"]["reachable"], true);
    assert_eq!(report["engine"]["server_version"], docker(&["version", "--format", "{{.Server.Version}}"]));
    assert_eq!(
        report["engine"]["server_api_version"],
        docker(&["version", "--format", "{{.Server.APIVersion}}"])
    );
    assert_eq!(report["engine"]["chosen_by"], "default");
    // Without nvidia-smi (this CI machine), doctor must say no, with the reason.
    let verdict = report["gpu"]["verdict"].as_str().unwrap();
    if Command::new("nvidia-smi").output().is_err() {
        assert!(verdict.starts_with("GPU usable: no because no NVIDIA driver"), "{verdict}");
        // What `jupyter` would start here, by the same rule and verdict.
        assert!(report["auto_lab"].as_str().unwrap().starts_with("lab: base ("), "{report}");
    }
    assert_eq!(report["engine"]["docker_desktop"], false);
    assert_eq!(report["images"]["jupyter-base"], true);
    let text = sb.run(&["doctor"]).ok();
    assert!(text.stdout.contains(verdict), "{}", text.stdout);
}

#[test]
fn jupyter_start_talk_reuse_stop_as_a_non_root_user() {
    let _engine = engine_test!();
    let sb = Sandbox::with_work("lab", "My Project");
    std::fs::write(sb.work.join("keep.txt"), "mine\n").unwrap();
    let started = Instant::now();
    let out = sb.run(&["jupyter", "--variant", "base", "--detach", "--pull", "never"]).ok();
    let url = out.last_line().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/lab?token="), "{url}");
    let token = token_of(&url);
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()), "128+ bits of hex: {url}");
    assert!(!out.stderr.contains(token), "the token only on the URL line: {}", out.stderr);
    assert_eq!(sb.opened(), vec![url.clone()], "the $BROWSER stub was led to the URL");
    eprintln!("started in {:?}", started.elapsed());

    let check = jupyter_client_check(&url);
    assert_eq!(check["status_with_token"], 200);
    assert_eq!(check["status_without_token"], 403, "{check}");
    assert_eq!(check["kernel_error"], serde_json::Value::Null, "{check}");
    assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{check}");
    assert_eq!(check["contents_put"], 201);
    let written = sb.work.join("from-jupyter.txt");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "written by the contents API\n");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&written).unwrap()),
        sb.uid(),
        "the file belongs to the user"
    );

    let name = sb.container_name();
    let ports = docker(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &name]);
    assert!(ports.contains("\"HostIp\":\"127.0.0.1\""), "{ports}");
    let inspect = docker(&["inspect", &name]);
    assert!(!inspect.contains(token_of(&url)), "docker inspect must not show the token");
    assert!(docker(&["inspect", "-f", "{{.Config.User}}", &name]).starts_with(&format!("{}:", sb.uid())));
    assert_eq!(
        docker(&["inspect", "-f", "{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapDrop}}", &name]),
        "[\"no-new-privileges:true\"] [\"ALL\"]"
    );
    let logs = sb.run(&["logs"]).ok();
    let engine_log = docker_all(&["logs", &name]);
    assert!(engine_log.contains("Jupyter Server") && logs.stdout.contains("Jupyter Server"), "{engine_log}");
    assert!(!logs.stdout.contains(token) && !engine_log.contains(token), "logs must not show the token");
    assert!(!sb.run(&["ps", "--json"]).ok().stdout.contains(token), "ps must not show the token");

    // A second start in the same folder hands back the same server.
    let again = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser"]).ok();
    assert_eq!(again.last_line(), url);
    again.says("already runs");
    assert_eq!(sb.run(&["open", "--no-browser"]).ok().last_line(), url);
    let ps = sb.run(&["ps"]).ok();
    assert!(ps.stdout.contains(&name) && ps.stdout.contains("My Project"), "{}", ps.stdout);

    sb.run(&["stop"]).ok();
    assert!(sb.leftovers().is_empty(), "stop removes the container");
    assert!(sb.token_files().is_empty(), "and its token file");
    assert_eq!(std::fs::read_to_string(sb.work.join("keep.txt")).unwrap(), "mine\n");
    assert!(written.exists(), "stop keeps the files");
}

#[test]
fn json_output_has_the_fields_scripts_need() {
    let _engine = engine_test!();
    let sb = Sandbox::new("json");
    let out = sb.run(&["jupyter", "--variant", "base", "--detach", "--json", "--pull", "never"]).ok();
    let v: serde_json::Value = serde_json::from_str(out.last_line()).unwrap();
    for key in ["url", "port", "token", "container", "variant", "workdir", "gpus"] {
        assert!(!v[key].is_null(), "{key} in {v}");
    }
    assert_eq!(v["variant"], "base");
    assert_eq!(v["gpus"], "none");
    assert_eq!(
        http_status(v["port"].as_u64().unwrap() as u16, "/api/status", v["token"].as_str()),
        Some(200)
    );
}

#[test]
fn ctrl_c_in_the_foreground_stops_and_removes_the_server_and_keeps_files() {
    let _engine = engine_test!();
    let sb = Sandbox::new("ctrlc");
    let (mut child, url) = spawn_foreground(&sb, &[]);
    assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200));
    assert_eq!(sb.leftovers(), vec![sb.container_name()]);
    std::fs::write(sb.work.join("notes.txt"), "kept").unwrap();
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    assert!(sb.leftovers().is_empty(), "the container is removed");
    assert!(sb.token_files().is_empty(), "and its token file");
    assert_eq!(std::fs::read_to_string(sb.work.join("notes.txt")).unwrap(), "kept");
}

#[test]
fn kill_9_then_a_new_run_reuses_the_server() {
    let _engine = engine_test!();
    let sb = Sandbox::new("kill9");
    let (mut child, url) = spawn_foreground(&sb, &[]);
    signal(&child, "KILL");
    wait_exit(&mut child, Duration::from_secs(10));
    let again = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser"]).ok();
    assert_eq!(again.last_line(), url, "the same server and token");
    assert_eq!(sb.leftovers().len(), 1, "one container for the folder");
}

#[test]
fn ctrl_c_during_the_readiness_wait_leaves_no_container() {
    let _engine = engine_test!();
    let sb = Sandbox::new("ctrlcwait");
    // A lab image whose server never answers: the CLI is certainly in its readiness wait.
    let slow = slow_lab_image(&sb, "dtu-slow-test/dimtensor");
    let mut child = sb
        .cmd(&["jupyter", "--variant", "base", "--no-browser", "--pull", "never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("starting JupyterLab") {
        line.clear();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sb.leftovers().len(), 1, "the container exists while the CLI waits");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130));
    assert!(sb.leftovers().is_empty(), "the half-started container is removed");
    assert!(sb.token_files().is_empty(), "and its token file");
    docker(&["rmi", &slow]);
}

/// Tags, under `registry`, a jupyter-base whose command sleeps instead of serving, and points the
/// sandbox's settings at that registry.
fn slow_lab_image(sb: &Sandbox, registry: &str) -> String {
    let tag = format!("{registry}:jupyter-base");
    let source = docker(&["create", "ghcr.io/marcoloco23/dimtensor:jupyter-base"]);
    docker(&["commit", "--change", "CMD [\"sleep\", \"600\"]", &source, &tag]);
    docker(&["rm", &source]);
    std::fs::write(sb.root.join("config.toml"), format!("registry = \"{registry}\"\n")).unwrap();
    tag
}

#[test]
fn concurrent_starts_in_one_folder_make_one_server_and_two_folders_make_two() {
    let _engine = engine_test!();
    let a = Sandbox::new("concA");
    let b = Sandbox::new("concB");
    let args = ["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
    let spawned: Vec<Child> = vec![a.cmd(&args), a.cmd(&args), b.cmd(&args)]
        .into_iter()
        .map(|mut c| c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let outs: Vec<Out> = spawned.into_iter().map(|c| Out::from(c.wait_with_output().unwrap()).ok()).collect();
    assert_eq!(outs[0].last_line(), outs[1].last_line(), "one server for one folder");
    assert_ne!(port_of(outs[0].last_line()), port_of(outs[2].last_line()), "two folders, two ports");
    assert_ne!(token_of(outs[0].last_line()), token_of(outs[2].last_line()));
    assert_eq!(a.servers_here().len(), 1, "one server for folder A");
    assert_eq!(b.servers_here().len(), 1, "one server for folder B");
}

#[test]
fn a_held_port_is_named_and_nothing_is_left_behind() {
    let _engine = engine_test!();
    let sb = Sandbox::new("port");
    let other = Sandbox::new("portholder");
    // A port held by a program of the same user (whose processes the CLI may look into): named.
    let hold = "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(120)";
    let mut holder = if sb.as_test_user {
        let mut c = Command::new("/usr/bin/setpriv");
        c.args([
            &format!("--reuid={TEST_UID}"),
            &format!("--regid={TEST_UID}"),
            "--clear-groups",
            "python3",
            "-c",
            hold,
        ]);
        c
    } else {
        let mut c = Command::new("python3");
        c.args(["-c", hold]);
        c
    }
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let port = BufReader::new(holder.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let out = sb.start_base_lab(&["--port", &port]);
    out.user_error(2);
    out.says(&format!("port {port} on 127.0.0.1 is already in use by python3 (pid "));
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty());
    let _ = holder.kill();
    let _ = holder.wait();
    // A port held by another dimtensor-up server: named with its folder.
    let url = other.start_base_lab(&[]).ok().last_line().to_string();
    let taken = port_of(&url).to_string();
    let out = sb.start_base_lab(&["--port", &taken]);
    out.user_error(2);
    out.says(&format!("in use by dimtensor-up server {}", other.container_name()));
    // Without --port the next free one from 8888 is taken.
    let free = port_of(sb.start_base_lab(&[]).ok().last_line());
    assert!((8888..8988).contains(&free) && free.to_string() != taken, "{free}");
}

#[test]
fn awkward_folder_names_work() {
    let _engine = engine_test!();
    let sb = Sandbox::with_work("awkward", "a b:c $d é");
    let url = sb.start_base_lab(&[]).ok().last_line().to_string();
    let check = jupyter_client_check(&url);
    assert_eq!(check["contents_put"], 201, "{check}");
    assert!(sb.work.join("from-jupyter.txt").exists());
}

#[test]
fn a_container_that_exits_at_start_fails_with_its_log_and_is_removed() {
    let _engine = engine_test!();
    let sb = Sandbox::new("exits");
    // --user 0:0 with a read-only... simpler: a port the server cannot bind inside is not possible;
    // an image whose server exits: the base image (no JupyterLab) under the jupyter-base name.
    let fake = "dimtensor-up-test/exits:jupyter-base";
    docker(&["tag", "ghcr.io/marcoloco23/dimtensor:base", fake]);
    std::fs::write(sb.root.join("config.toml"), "registry = \"dimtensor-up-test/exits\"\n").unwrap();
    let out = sb.start_base_lab(&["--timeout", "30"]);
    out.user_error(5);
    out.says("exited during start-up");
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "nothing left behind");
    docker(&["rmi", fake]);
}

#[test]
fn readiness_timeout_fails_and_removes_the_container() {
    let _engine = engine_test!();
    let sb = Sandbox::new("timeout");
    let out = sb.start_base_lab(&["--timeout", "0"]);
    out.user_error(5);
    out.says("did not answer within 0 s");
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "nothing left behind");
}

#[test]
fn a_missing_image_offline_with_a_failing_build_explains_itself() {
    let _engine = engine_test!();
    let sb = Sandbox::new("offline");
    std::fs::write(
        sb.root.join("config.toml"),
        "registry = \"127.0.0.1:1/nowhere\"\npython-image = \"127.0.0.1:1/no-such-base:1\"\n",
    )
    .unwrap();
    let out = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser"]);
    out.user_error(4);
    // First the pull fails, then the build from the embedded Dockerfile (its base is unreachable).
    out.says("cannot pull 127.0.0.1:1/nowhere:jupyter-base; building it");
    out.says("error: building 127.0.0.1:1/nowhere:jupyter-base failed");
    out.says("127.0.0.1:1/no-such-base:1");
    let pull = sb.run(&["pull", "base"]);
    pull.user_error(4);
    pull.says("error: cannot pull 127.0.0.1:1/nowhere:base");
    pull.says("hint: the registry cannot be reached (offline?)");
}

#[test]
fn every_bad_input_is_one_error_with_a_hint_and_touches_nothing() {
    let _engine = engine_test!();
    let sb = Sandbox::new("badinputs");
    std::fs::write(sb.work.join("data.csv"), "x\n1\n").unwrap();
    let file = sb.work.join("data.csv").display().to_string();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["jupyter", "--variant", "huge"], 2),
        (vec!["jupyter", "--gpus", "-1"], 2),
        (vec!["jupyter", "--gpus", "device="], 2),
        (vec!["jupyter", "--port", "0"], 2),
        (vec!["jupyter", "--port", "http"], 2),
        (vec!["jupyter", "--listen", "localhost:80"], 2),
        (vec!["jupyter", "--user", "1000"], 2),
        (vec!["jupyter", "--workdir", "missing"], 2),
        (vec!["jupyter", "--workdir", &file], 2),
        (vec!["jupyter", "--data", "/nonexistent/data"], 2),
        (vec!["jupyter", "-v", "nocolon"], 2),
        (vec!["jupyter", "-v", ".:relative/path"], 2),
        (vec!["jupyter", "-v", "/nonexistent:/data"], 2),
        (vec!["jupyter", "-v", ".:/home/dimtensor/work"], 2),
        (vec!["jupyter", "--pull", "sometimes"], 2),
        (vec!["jupyter", "--host", "docker.example:2375"], 2),
        (vec!["jupyter", "--host", "ssh://me:secret@box"], 2),
        (vec!["jupyter", "--variant", "base", "--gpus", "all", "--pull", "never"], 7),
        (vec!["stop", "no-such-server"], 2),
        (vec!["open", "--workdir", "missing"], 2),
        (vec!["build", "--ca-cert", "/nonexistent.pem", "base"], 2),
        (vec!["compose", "--port", "0"], 2),
    ];
    for (args, code) in &cases {
        let out = sb.run(args);
        assert_eq!(out.code, *code, "{args:?}: {}", out.stderr);
        out.user_error(*code);
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout: {}", out.stdout);
    }
    assert!(sb.leftovers().is_empty(), "no container left behind");
    assert!(sb.token_files().is_empty(), "no token file left behind");
    assert!(!sb.root.join("config.toml").exists(), "no settings file written");
    assert_eq!(std::fs::read_dir(&sb.work).unwrap().count(), 1, "nothing written in the folder");
    assert_eq!(std::fs::read_to_string(sb.work.join("data.csv")).unwrap(), "x\n1\n");
}

#[test]
fn the_wizard_asks_on_a_terminal_and_never_without_one() {
    let _engine = engine_test!();
    let sb = Sandbox::new("wizard");
    // `script` gives the CLI (as the test user, like every other run) a pseudo-terminal. Without
    // a GPU on amd64 the small lab fits this machine: it is pre-selected, Enter takes it.
    let cmd = sb.cmd(&["jupyter", "--detach", "--no-browser", "--pull", "never"]);
    let cli = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script
        .args(["-qec", &cli, "/dev/null"])
        .current_dir(&sb.work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script.spawn().unwrap();
    // Read the terminal as it fills; answer each question once it is on screen.
    let screen = std::sync::Arc::new(Mutex::new(String::new()));
    let reader = {
        let screen = screen.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let answer = |child: &mut Child, question: &str, keys: &[u8]| {
        let start = Instant::now();
        while !screen.lock().unwrap().contains(question) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no question `{question}`:\n{}",
                screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(keys).unwrap();
        stdin.flush().unwrap();
    };
    answer(&mut child, "Which JupyterLab?", b"\r");
    // The folder question: Enter takes the current folder.
    answer(&mut child, "Folder to work in", b"\r");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(120)), Some(0), "{}", screen.lock().unwrap());
    reader.join().unwrap();
    let text = screen.lock().unwrap().clone();
    assert!(text.contains("local"), "the list says which images are local: {text}");
    assert!(text.contains("sizes for linux/amd64"), "{text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("~") && l.contains(" GB")).collect();
    for lab in ["base ", "ml ", "full "] {
        assert!(rows.iter().any(|r| r.contains(lab)), "a row for {lab}: {text}");
    }
    assert!(!text.contains("jupyter  "), "no separate row for the old name of full: {text}");
    let marked: Vec<&&str> = rows.iter().filter(|r| r.contains("fits this machine")).collect();
    assert!(!marked.is_empty() && marked.iter().all(|r| r.contains("base ")), "{text}");
    assert!(!text.contains("GPUs"), "no GPU question without a usable GPU: {text}");
    assert!(text.contains("token="), "{text}");
    let ps = sb.run(&["ps", "--json"]).ok();
    assert!(ps.stdout.contains("\"variant\": \"base\""), "{}", ps.stdout);
    assert_eq!(sb.servers_here()[0]["variant"], "base");
    // No terminal: no question, the default variant (in a folder of its own).
    let plain_sb = Sandbox::new("nowizard");
    let plain = plain_sb.run(&["jupyter", "--detach", "--no-browser", "--pull", "never"]).ok();
    assert!(!plain.stderr.contains("Which JupyterLab?") && !plain.stdout.contains("Which JupyterLab?"));
    // `auto` on amd64 without a GPU: the small lab, said in one line with how to pick another.
    assert_eq!(plain_sb.servers_here()[0]["variant"], "base");
    plain.says("lab: base (dimtensor + numpy");
    plain.says("; or --variant ml (~8.8 GB), full (~9.8 GB)");
}

#[test]
fn run_mounts_the_folder_and_passes_the_exit_code() {
    let _engine = engine_test!();
    let sb = Sandbox::new("run");
    let out = sb.run(&[
        "run",
        "base",
        "--pull",
        "never",
        "--",
        "python",
        "-c",
        "import dimtensor, numpy, os; open('from-run.txt','w').write(numpy.__version__); raise SystemExit(3)",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(std::fs::read_to_string(sb.work.join("from-run.txt")).unwrap().starts_with("1."));
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(sb.work.join("from-run.txt")).unwrap()),
        sb.uid()
    );
    let echo =
        sb.run(&["run", "base", "--pull", "never", "--", "python", "-c", "print('hello from base')"]).ok();
    assert_eq!(echo.stdout.trim(), "hello from base");
    // No GPU decided: void, so an nvidia default runtime hands the container no GPUs anyway.
    let env = sb
        .run(&[
            "run", "base", "--gpus", "none", "--pull", "never", "--", "printenv", "NVIDIA_VISIBLE_DEVICES",
        ])
        .ok();
    assert_eq!(env.stdout.trim(), "void");
}

#[test]
fn the_browser_gets_a_one_shot_address_that_only_its_user_can_follow() {
    let _engine = engine_test!();
    let sb = Sandbox::new("handoff");
    // The stub browser waits for `go`: meanwhile the test tries the address itself.
    std::fs::write(sb.root.join("hold"), "").unwrap();
    let mut child = sb
        .cmd(&["jupyter", "--variant", "base", "--detach", "--pull", "never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let given = sb.root.join("opened.txt");
    let start = Instant::now();
    while !std::fs::read_to_string(&given).is_ok_and(|t| t.ends_with('\n')) {
        assert!(start.elapsed() < Duration::from_secs(120), "the browser was never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let address = std::fs::read_to_string(&given).unwrap().trim().to_string();
    assert!(!address.contains("token"), "{address}");
    let (port, path) = address.trim_start_matches("http://127.0.0.1:").split_once('/').unwrap();
    let port: u16 = port.parse().unwrap();
    let path = format!("/{path}");
    assert_eq!(http_status(port, "/open/guess", None), Some(404), "another path gets nothing");
    if sb.as_test_user {
        // The test runs as root, the launcher as the test user: another user is turned away.
        assert_eq!(http_status(port, &path, None), Some(403), "another user's connection");
    }
    std::fs::write(sb.root.join("go"), "").unwrap();
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{stdout}");
    let url = stdout.lines().last().unwrap().to_string();
    assert!(url.contains("/lab?token="), "{url}");
    assert_eq!(sb.opened(), vec![url], "the browser's own fetch was led to the URL");
    // One shot: once followed, the address answers no more.
    assert_eq!(http_status(port, &path, None), None, "the hand-off is over");
}

#[test]
fn a_folders_lab_keeps_its_url_across_stop_and_start_for_editors() {
    let _engine = engine_test!();
    let sb = Sandbox::new("editor");
    let none = sb.run(&["url"]);
    none.user_error(2);
    none.says("no lab has run for");
    let url = sb.start_base_lab(&[]).ok().last_line().to_string();
    assert_eq!(sb.run(&["url"]).ok().stdout.trim(), url);
    sb.run(&["stop"]).ok();

    // Stopped: the URL an editor holds is still printed, and the lab is said to be stopped.
    let stopped = sb.run(&["url", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(stopped.stdout.trim()).unwrap();
    assert_eq!((v["url"].as_str(), v["running"].as_bool()), (Some(url.as_str()), Some(false)), "{v}");
    assert_eq!(
        sb.run(&["url"]).ok().stderr.trim(),
        "the lab is not running: `dimtensor-up jupyter` starts it again at this URL"
    );
    let kept: Vec<_> = std::fs::read_dir(sb.root.join("state/addresses")).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&kept[0].metadata().unwrap().permissions()) & 0o777,
        0o600
    );

    // Started again: the same URL answers with its token.
    let again = sb.start_base_lab(&[]).ok();
    assert_eq!(again.last_line(), url);
    assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200));
    let busy = sb.start_base_lab(&["--new-token"]);
    busy.user_error(2);
    busy.says("already runs, with its token");
    sb.run(&["stop"]).ok();

    // --new-token: the old URL is refused, the new one is kept from now on.
    let fresh = sb.start_base_lab(&["--new-token"]).ok().last_line().to_string();
    assert_ne!(token_of(&fresh), token_of(&url));
    assert_eq!(http_status(port_of(&fresh), "/api/status", Some(token_of(&url))), Some(403));
    assert_eq!(http_status(port_of(&fresh), "/api/status", Some(token_of(&fresh))), Some(200));
    assert_eq!(sb.run(&["url"]).ok().stdout.trim(), fresh);
    sb.run(&["stop"]).ok();

    // Its port taken by another program: the lab moves, keeps its token, and says so.
    let holder = std::net::TcpListener::bind(("127.0.0.1", port_of(&fresh))).unwrap();
    let moved = sb.start_base_lab(&[]).ok();
    moved.says(&format!("this folder's lab moved from port {} (taken now)", port_of(&fresh)));
    assert_eq!(token_of(moved.last_line()), token_of(&fresh));
    assert_ne!(port_of(moved.last_line()), port_of(&fresh));
    drop(holder);
    sb.run(&["stop"]).ok();
    assert!(sb.leftovers().is_empty());
}
