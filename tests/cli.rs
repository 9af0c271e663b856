//! The CLI as users run it. Transcript snapshots need nothing; the rest runs against the real
//! Docker engine (tests/run.sh prepares it: images, the GPU stub engine, the Python client).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dimtensor-up");
/// The non-root user the launcher is run as when the tests run as root.
const TEST_UID: u32 = 4321;

/// Engine tests run one at a time: they share ports and the engine's container list.
static ENGINE: Mutex<()> = Mutex::new(());

fn engine_lock() -> MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|p| p.into_inner())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A throwaway home for one test: its own settings file, state folder and work folder, owned by
/// the user the launcher runs as.
struct Sandbox {
    root: PathBuf,
    work: PathBuf,
    as_test_user: bool,
    /// The user the launcher runs as (when the tests run as root).
    test_uid: u32,
    /// Another engine than the default one (tests/support/engines.sh): DOCKER_HOST for the
    /// launcher, and the address the test's own checks use.
    host: Option<String>,
    /// The launcher runs without the docker group (it cannot use the rootful socket).
    without_docker_group: bool,
    /// XDG_RUNTIME_DIR for the launcher (where rootless engines put their sockets).
    runtime_dir: Option<PathBuf>,
    /// PATH for the launcher (the laptop's `ssh`), when not the tests' own.
    path: Option<String>,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        Self::with_work(name, "work")
    }
    fn with_work(name: &str, work_name: &str) -> Sandbox {
        Self::for_user(name, work_name, TEST_UID)
    }
    fn for_user(name: &str, work_name: &str, test_uid: u32) -> Sandbox {
        let root = tempdir(name);
        let work = root.join(work_name);
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        let sb = Sandbox {
            root,
            work,
            as_test_user: is_root(),
            test_uid,
            host: None,
            without_docker_group: false,
            runtime_dir: None,
            path: None,
        };
        if sb.as_test_user {
            let status = Command::new("chown")
                .args(["-R", &format!("{test_uid}:{test_uid}")])
                .arg(&sb.root)
                .status()
                .unwrap();
            assert!(status.success());
        }
        sb
    }
    /// A sandbox whose launcher talks to `engine` (tests/support/engines.sh), as the engine's user.
    fn on_engine(name: &str, engine: &OtherEngine) -> Sandbox {
        let mut sb = Self::new(name);
        sb.host = Some(engine.host.clone());
        sb.runtime_dir = Some(PathBuf::from(&engine.runtime_dir));
        sb
    }
    fn uid(&self) -> u32 {
        if self.as_test_user {
            self.test_uid
        } else {
            std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap()
        }
    }
    /// The CLI, as the test user, in the work folder, with a recording $BROWSER.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = if self.as_test_user {
            let docker_gid = std::fs::read_to_string("/etc/group")
                .unwrap()
                .lines()
                .find(|l| l.starts_with("docker:"))
                .and_then(|l| l.split(':').nth(2).map(str::to_string))
                .expect("a docker group");
            let groups = if self.without_docker_group {
                "--clear-groups".to_string()
            } else {
                format!("--groups={docker_gid}")
            };
            let mut c = Command::new("/usr/bin/setpriv");
            c.args([
                &format!("--reuid={}", self.test_uid),
                &format!("--regid={}", self.test_uid),
                &groups,
                "--",
                BIN,
            ]);
            c
        } else {
            Command::new(BIN)
        };
        cmd.args(args)
            .current_dir(&self.work)
            .env("DIMTENSOR_UP_CONFIG", self.root.join("config.toml"))
            .env("DIMTENSOR_UP_STATE_DIR", self.root.join("state"))
            .env("HOME", &self.root)
            .env("NO_COLOR", "1")
            .env("BROWSER", self.browser_stub())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null());
        if let Some(host) = &self.host {
            cmd.env("DOCKER_HOST", host);
        }
        if let Some(dir) = &self.runtime_dir {
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        cmd
    }
    /// The docker CLI against this sandbox's engine.
    fn docker(&self, args: &[&str]) -> String {
        match &self.host {
            Some(host) => docker_on(host, args),
            None => docker(args),
        }
    }
    /// A $BROWSER that records the address it is given, then fetches it as a browser would and
    /// records where it was redirected. With `hold` in the sandbox it waits for `go` first (the
    /// test then tries the address as another user).
    fn browser_stub(&self) -> PathBuf {
        let stub = self.root.join("browser-stub");
        if !stub.exists() {
            let root = self.root.display();
            std::fs::write(
                &stub,
                format!(
                    "#!/bin/sh\necho \"$1\" >> '{root}/opened.txt'\nif [ -e '{root}/hold' ]; then\n  for _ in $(seq 1 200); do [ -e '{root}/go' ] && break; sleep 0.1; done\nfi\ncurl -s -o /dev/null -w '%{{http_code}} %{{redirect_url}}\\n' \"$1\" >> '{root}/redirects.tmp'\nmv '{root}/redirects.tmp' '{root}/redirects.txt'\n"
                ),
            )
            .unwrap();
            std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        stub
    }
    /// The addresses the browser stub was given (checked to carry no token), and where fetching
    /// each led: the URLs the browser ended up at.
    fn opened(&self) -> Vec<String> {
        let given = std::fs::read_to_string(self.root.join("opened.txt")).unwrap_or_default();
        for address in given.lines() {
            assert!(
                !address.contains("token"),
                "the token must not be on the browser's command line: {address}"
            );
            assert!(address.starts_with("http://127.0.0.1:") && address.contains("/open/"), "{address}");
        }
        let redirects = self.root.join("redirects.txt");
        // The stub writes its result just after the launcher's answer: give it a moment.
        for _ in 0..50 {
            let n = std::fs::read_to_string(&redirects).map(|t| t.lines().count()).unwrap_or(0);
            if n >= given.lines().count() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::fs::read_to_string(&redirects)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let (status, location) = line.split_once(' ').unwrap_or((line, ""));
                assert_eq!(status, "303", "the hand-off answers with a redirect: {line}");
                location.to_string()
            })
            .collect()
    }
    /// `jupyter` on the small lab image, detached, no browser, never pulling, plus `extra`.
    fn start_base_lab(&self, extra: &[&str]) -> Out {
        let mut args = vec!["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
        args.extend_from_slice(extra);
        self.run(&args)
    }
    fn run(&self, args: &[&str]) -> Out {
        Out::from(self.cmd(args).output().unwrap())
    }
    /// The servers `ps` lists for this sandbox's folder.
    fn servers_here(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["ps", "--json"]).ok();
        let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let wanted = std::fs::canonicalize(&self.work).unwrap().display().to_string();
        list.as_array().unwrap().iter().filter(|s| s["workdir"] == wanted.as_str()).cloned().collect()
    }
    /// The name of this folder's server; fails the test when there is none.
    fn container_name(&self) -> String {
        let servers = self.servers_here();
        assert_eq!(servers.len(), 1, "one server for {}: {servers:?}", self.work.display());
        servers[0]["name"].as_str().unwrap().to_string()
    }
    /// Managed containers (any state) belonging to folders in this sandbox.
    fn leftovers(&self) -> Vec<String> {
        let root = self.root.display().to_string();
        self.docker(&[
            "ps",
            "-a",
            "--filter",
            "label=org.dimtensor-up.managed=true",
            "--format",
            "{{.Names}}\t{{.Label \"org.dimtensor-up.workdir\"}}",
        ])
        .lines()
        .filter(|l| l.split('\t').nth(1).is_some_and(|w| w.starts_with(&root)))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
    }
    /// Token files the sandbox's state folder still holds.
    fn token_files(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("state/tokens"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| !n.ends_with(".html"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = match self.root.join(".ssh/config").exists() {
            true => self.run(&["--host", "ssh://box", "stop"]),
            false => self.run(&["stop"]),
        };
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    }
}

impl Out {
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// Asserts that stderr holds `text`, showing all of stderr when it does not.
    fn says(&self, text: &str) {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{}", self.stderr);
    }
    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }
    /// A user error: one `error:` line with a hint, a non-zero exit, no panic.
    /// Progress notes may come first; the error is one `error:` line, then causes, then a hint.
    fn user_error(&self, code: i32) {
        assert_eq!(self.code, code, "stderr:\n{}", self.stderr);
        let errors: Vec<usize> = self
            .stderr
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("error: "))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(errors.len(), 1, "one error line:\n{}", self.stderr);
        let after: Vec<&str> = self.stderr.lines().skip(errors[0] + 1).collect();
        assert!(after.last().is_some_and(|l| l.starts_with("hint: ")), "ends with a hint:\n{}", self.stderr);
        assert!(
            after.iter().all(|l| l.starts_with("  Caused by: ")
                || l.starts_with("hint: ")
                || l.starts_with("  [")
                || l.starts_with("Usage:")
                || l.is_empty()
                || l.starts_with("  tip:")),
            "only causes and a hint after the error:\n{}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{}",
            self.stderr
        );
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// stdout and stderr of a docker command (`docker logs` passes the container's stderr through).
fn docker_all(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn token_of(url: &str) -> &str {
    url.split("token=").nth(1).expect("a tokenized URL")
}
fn port_of(url: &str) -> u16 {
    url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap()
}

/// The Python client (tests/support/jupyter_client.py) against a running server.
fn jupyter_client_check(url: &str) -> serde_json::Value {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let base = format!("http://127.0.0.1:{}", port_of(url));
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/jupyter_client.py"))
        .args([&base, token_of(url), "check"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn http_status(port: u16, path: &str, token: Option<&str>) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token.map(|t| format!("Authorization: token {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n").ok()?;
    let mut head = String::new();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).ok()?;
    head.push_str(&String::from_utf8_lossy(&buf[..n]));
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a foreground `jupyter` and returns once it printed its URL.
fn spawn_foreground(sb: &Sandbox, extra: &[&str]) -> (Child, String) {
    let mut args = vec!["jupyter", "--variant", "base", "--no-browser", "--pull", "never"];
    args.extend_from_slice(extra);
    let mut child = sb.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().expect("a URL line").unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn signal(child: &Child, sig: &str) {
    // The CLI runs under setpriv (which execs), so the child's pid is the CLI's.
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

fn snapshot_filters(text: &str) -> String {
    text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

// ---------------------------------------------------------------- transcripts (no engine)

#[test]
fn help_transcripts() {
    let commands = [
        "", "jupyter", "run", "build", "pull", "compose", "hub", "ps", "open", "logs", "stop", "doctor",
        "variants", "config", "completions",
    ];
    for name in commands {
        let mut args: Vec<&str> = name.split_whitespace().collect();
        args.push("--help");
        let out = Command::new(BIN).args(&args).env("NO_COLOR", "1").output().unwrap();
        assert!(out.status.success());
        let snap = if name.is_empty() { "help".to_string() } else { format!("help_{name}") };
        insta::assert_snapshot!(snap, snapshot_filters(&String::from_utf8_lossy(&out.stdout)));
    }
}

#[test]
fn version_prints_name_and_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("dimtensor-up {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn error_transcripts() {
    let sb = Sandbox::new("errors");
    let cases: [(&str, &[&str], i32); 10] = [
        ("bad_variant", &["jupyter", "--variant", "gpu"], 2),
        ("bad_gpus", &["jupyter", "--gpus", "lots"], 2),
        ("bad_port", &["jupyter", "--port", "70000"], 2),
        ("missing_workdir", &["jupyter", "--workdir", "no-such-folder"], 2),
        ("bad_volume", &["jupyter", "-v", "relative-only"], 2),
        ("bad_user", &["jupyter", "--user", "alice"], 2),
        ("bad_listen", &["jupyter", "--listen", "everywhere"], 2),
        ("unknown_setting", &["config", "set", "colour", "red"], 2),
        ("bad_platform", &["jupyter", "--platform", "linux/s390x"], 2),
        ("hub_auto_lab", &["hub", "--labs", "auto"], 2),
    ];
    for (name, args, code) in cases {
        let out = sb.run(args);
        assert_eq!(out.code, code, "{name}: {}", out.stderr);
        out.user_error(code);
        let text = out.stderr.replace(&sb.work.display().to_string(), "[WORK]");
        insta::assert_snapshot!(format!("error_{name}"), text);
    }
}

#[test]
fn unreachable_engine_names_the_socket_without_panicking() {
    let sb = Sandbox::new("nosock");
    let out = Out::from(sb.cmd(&["ps"]).env("DOCKER_HOST", "unix:///tmp/none.sock").output().unwrap());
    out.user_error(3);
    out.says("unix:///tmp/none.sock (from DOCKER_HOST)");
    insta::assert_snapshot!("error_unreachable_engine", out.stderr);
    let refused = Out::from(sb.cmd(&["doctor"]).env("DOCKER_HOST", "tcp://127.0.0.1:1").output().unwrap());
    refused.user_error(3);
    refused.says("refused");
}

#[test]
fn malformed_config_is_an_error_naming_file_and_line() {
    let sb = Sandbox::new("badconfig");
    std::fs::write(sb.root.join("config.toml"), "variant = \"base\"\ngpus = = 1\n").unwrap();
    let out = sb.run(&["config", "show"]);
    out.user_error(6);
    out.says("config.toml, line 2");
    // The file is left as it was.
    assert_eq!(
        std::fs::read_to_string(sb.root.join("config.toml")).unwrap(),
        "variant = \"base\"\ngpus = = 1\n"
    );
}

#[test]
fn config_set_show_and_path() {
    let sb = Sandbox::new("config");
    sb.run(&["config", "set", "variant", "base"]).ok();
    sb.run(&["config", "set", "gpus", "none"]).ok();
    let show = sb.run(&["config", "show"]).ok();
    assert!(
        show.stdout.contains("variant = \"base\"") && show.stdout.contains("gpus = \"none\""),
        "{}",
        show.stdout
    );
    assert_eq!(
        sb.run(&["config", "path"]).ok().stdout.trim(),
        sb.root.join("config.toml").display().to_string()
    );
    sb.run(&["config", "set", "pull", "sometimes"]).user_error(2);
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("jupyter"), "{shell}");
    }
}

#[test]
fn embedded_build_context_matches_the_files_on_disk() {
    // Every file the Dockerfile needs is embedded (src/image.rs), and nothing is stale.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut on_disk = Vec::new();
    for dir in ["docker/requirements/amd64", "docker/requirements/arm64", "docker/jupyter", "notebooks"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            on_disk.push(format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    let source = std::fs::read_to_string(root.join("src/image.rs")).unwrap();
    for path in on_disk {
        assert!(
            source.contains(&format!("\"{path}\","))
                && source.contains(&format!("include_str!(\"../{path}\")")),
            "{path} is not embedded in src/image.rs"
        );
    }
}

// ---------------------------------------------------------------- real engine

#[test]
fn doctor_reports_the_real_engine() {
    let _g = engine_lock();
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
fn doctor_with_gpu_stubs_says_usable() {
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("doctorgpu");
    let out = sb.on_gpu_engine(&gpu_host, &["doctor", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["gpu"]["usable"], true, "{}", out.stdout);
    assert_eq!(report["gpu"]["host"]["driver_version"], "550.54.15");
    assert_eq!(report["engine"]["chosen_by"], "--host");
}

#[test]
fn jupyter_start_talk_reuse_stop_as_a_non_root_user() {
    let _g = engine_lock();
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
    let _g = engine_lock();
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
    let _g = engine_lock();
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
    let _g = engine_lock();
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
    let _g = engine_lock();
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
    let _g = engine_lock();
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
    let _g = engine_lock();
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
    let _g = engine_lock();
    let sb = Sandbox::with_work("awkward", "a b:c $d é");
    let url = sb.start_base_lab(&[]).ok().last_line().to_string();
    let check = jupyter_client_check(&url);
    assert_eq!(check["contents_put"], 201, "{check}");
    assert!(sb.work.join("from-jupyter.txt").exists());
}

#[test]
fn a_container_that_exits_at_start_fails_with_its_log_and_is_removed() {
    let _g = engine_lock();
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
    let _g = engine_lock();
    let sb = Sandbox::new("timeout");
    let out = sb.start_base_lab(&["--timeout", "0"]);
    out.user_error(5);
    out.says("did not answer within 0 s");
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "nothing left behind");
}

#[test]
fn a_missing_image_offline_with_a_failing_build_explains_itself() {
    let _g = engine_lock();
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
    let _g = engine_lock();
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
fn gpus_all_on_an_engine_with_the_nvidia_hook_sends_the_device_request() {
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("gpu");
    let out = sb
        .on_gpu_engine(
            &gpu_host,
            &["jupyter", "--variant", "base", "--gpus", "all", "--detach", "--no-browser", "--pull", "never"],
        )
        .ok();
    let url = out.last_line().to_string();
    let name = sb.container_name_on(&gpu_host);
    let requests = docker_on(&gpu_host, &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &name]);
    assert_eq!(
        requests,
        r#"[{"Driver":"","Count":-1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":{}}]"#
    );
    assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200));
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
    // device=0 is sent as DeviceIDs.
    let out = sb
        .on_gpu_engine(
            &gpu_host,
            &[
                "jupyter", "--variant", "base", "--gpus", "device=0", "--detach", "--no-browser", "--pull",
                "never",
            ],
        )
        .ok();
    assert!(out.last_line().contains("token="));
    let requests = docker_on(
        &gpu_host,
        &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &sb.container_name_on(&gpu_host)],
    );
    assert!(requests.contains(r#""DeviceIDs":["0"]"#), "{requests}");
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
}

#[test]
fn gpus_all_on_an_engine_without_the_hook_is_an_error_not_a_cpu_fallback() {
    let _g = engine_lock();
    let sb = Sandbox::new("nogpu");
    // The host looks like it has a GPU (stub nvidia-smi); the main engine has no NVIDIA hook.
    let out = Out::from(
        sb.cmd(&[
            "jupyter", "--variant", "base", "--gpus", "all", "--detach", "--no-browser", "--pull", "never",
        ])
        .env("PATH", stub_smi_path())
        .output()
        .unwrap(),
    );
    out.user_error(7);
    out.says("cannot give this container GPUs");
    out.says("NVIDIA Container Toolkit");
    assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "nothing left behind");
    // auto on the same machine runs on CPU and says why.
    let auto = Out::from(
        sb.cmd(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"])
            .env("PATH", stub_smi_path())
            .output()
            .unwrap(),
    )
    .ok();
    auto.says("running on CPU: the base variant has no CUDA libraries");
}

#[test]
fn the_wizard_asks_on_a_terminal_and_never_without_one() {
    let _g = engine_lock();
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
    plain.says("--variant full (every integration, torch + jax with CUDA 12");
}

#[test]
fn run_mounts_the_folder_and_passes_the_exit_code() {
    let _g = engine_lock();
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

// ---------------------------------------------------------------- compose

fn compose_bin() -> String {
    std::env::var("DTU_COMPOSE").unwrap_or_else(|_| "docker-compose".into())
}

fn validate_against_schema(file: &Path) {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/compose-spec.json");
    let code = "import json,sys,yaml,jsonschema; jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))";
    let out = Command::new(python).args(["-c", code]).arg(file).arg(schema).output().unwrap();
    assert!(
        out.status.success(),
        "{} fails the compose-spec schema: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let config = Command::new(compose_bin())
        .arg("-f")
        .arg(file)
        .args(["config", "-q"])
        .env("JUPYTER_TOKEN", "x")
        .env("DIMTENSOR_UID", "1")
        .env("DIMTENSOR_GID", "1")
        .output()
        .unwrap();
    assert!(
        config.status.success(),
        "docker compose config rejects {}: {}",
        file.display(),
        String::from_utf8_lossy(&config.stderr)
    );
}

#[test]
fn compose_examples_in_the_repo_are_fresh_and_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose");
    for name in ["docker-compose.base.yml", "docker-compose.ml.yml", "docker-compose.jupyter.yml"] {
        let path = root.join(name);
        let variant = name.split('.').nth(1).unwrap();
        let out = Command::new(BIN).args(["compose", "--example", variant]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let fresh = String::from_utf8_lossy(&out.stdout).to_string();
        if std::env::var_os("DIMTENSOR_UP_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            fresh,
            "{name} is stale: rerun with DIMTENSOR_UP_BLESS=1"
        );
        validate_against_schema(&path);
    }
}

#[test]
fn compose_up_serves_the_folder_and_down_keeps_files_and_volume() {
    let _g = engine_lock();
    // The pid keeps the compose project (and its volume) this run's own.
    let sb = Sandbox::with_work("compose", &format!("proj{} $x:y é", std::process::id()));
    let out = Out::from(
        sb.cmd(&[
            "compose", "--variant", "base", "--gpus", "none", "--up", "--no-browser", "--timeout", "120",
        ])
        .env("PATH", tools_path())
        .output()
        .unwrap(),
    )
    .ok();
    let url = out.last_line().to_string();
    let compose_file = sb.work.join("compose.yaml");
    let env_file = sb.work.join(".env");
    validate_against_schema(&compose_file);
    // And with nothing but the generated .env to fill in the variables.
    let config = Command::new(compose_bin())
        .arg("-f")
        .arg(&compose_file)
        .args(["config", "-q"])
        .env_remove("JUPYTER_TOKEN")
        .env_remove("DIMTENSOR_UID")
        .env_remove("DIMTENSOR_GID")
        .output()
        .unwrap();
    assert!(config.status.success(), "{}", String::from_utf8_lossy(&config.stderr));
    let yaml = std::fs::read_to_string(&compose_file).unwrap();
    assert!(!yaml.contains(token_of(&url)), "no literal token in the compose file");
    assert!(yaml.contains("127.0.0.1:") && yaml.contains("$$x"), "{yaml}");
    assert!(std::fs::read_to_string(&env_file)
        .unwrap()
        .contains(&format!("JUPYTER_TOKEN={}", token_of(&url))));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&env_file).unwrap().permissions()) & 0o777,
        0o600
    );
    let check = jupyter_client_check(&url);
    assert_eq!(check["status_with_token"], 200, "{check}");
    assert!(sb.work.join("from-jupyter.txt").exists(), "the container sees the folder");
    // The container is hardened as `jupyter`'s is, and the token is not in `docker inspect`.
    let name = sb.container_name();
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapDrop}} {{.Config.User}}",
            &name
        ]),
        format!("[\"no-new-privileges:true\"] [\"ALL\"] {0}:{0}", sb.uid())
    );
    assert!(!docker(&["inspect", &name]).contains(token_of(&url)));
    // An existing file is not overwritten without --force.
    let (yaml_before, env_before) =
        (std::fs::read(&compose_file).unwrap(), std::fs::read(&env_file).unwrap());
    Out::from(sb.cmd(&["compose", "--variant", "base", "--gpus", "none"]).output().unwrap()).user_error(2);
    assert_eq!(
        (std::fs::read(&compose_file).unwrap(), std::fs::read(&env_file).unwrap()),
        (yaml_before, env_before)
    );
    let project = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"com.docker.compose.project\"}}",
        &sb.container_name(),
    ]);
    let down = Command::new(compose_bin())
        .arg("-f")
        .arg(&compose_file)
        .arg("down")
        .current_dir(&sb.work)
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(sb.work.join("from-jupyter.txt").exists() && compose_file.exists() && env_file.exists());
    assert!(
        docker(&["volume", "ls", "-q"]).lines().any(|v| v == format!("{project}_jupyter-settings")),
        "the settings volume stays"
    );
    docker(&["volume", "rm", &format!("{project}_jupyter-settings")]);
}

#[test]
fn compose_gpu_file_carries_the_device_request_on_an_engine_with_the_hook() {
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("composegpu");
    let out = Out::from(
        sb.cmd(&[
            "--host", &gpu_host, "compose", "--variant", "base", "--gpus", "all", "--up", "--no-browser",
        ])
        .env("PATH", format!("{}:{}", gpu_path(), tools_path()))
        .output()
        .unwrap(),
    )
    .ok();
    assert!(out.last_line().contains("token="), "{}", out.stderr);
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(yaml.contains("driver: nvidia") && yaml.contains("count: all"), "{yaml}");
    let name = sb.container_name_on(&gpu_host);
    let requests = docker_on(&gpu_host, &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &name]);
    assert!(requests.contains(r#""Driver":"nvidia","Count":-1"#), "{requests}");
    let down = Command::new(compose_bin())
        .arg("-f")
        .arg(sb.work.join("compose.yaml"))
        .args(["down", "-v"])
        .env("DOCKER_HOST", &gpu_host)
        .output()
        .unwrap();
    assert!(down.status.success());
}

// ---------------------------------------------------------------- GPU stub engine

/// The engine started by tests/support/gpu-engine.sh (DTU_GPU_DOCKER_HOST). Without it the GPU
/// stub tests fail, unless DTU_SKIP_GPU_STUB says why they cannot run here.
fn gpu_engine() -> Option<String> {
    match std::env::var("DTU_GPU_DOCKER_HOST") {
        Ok(h) if !h.is_empty() => Some(h),
        _ => {
            let why = std::env::var("DTU_SKIP_GPU_STUB").unwrap_or_default();
            assert!(
                !why.is_empty(),
                "set DTU_GPU_DOCKER_HOST (tests/support/gpu-engine.sh start), or DTU_SKIP_GPU_STUB=<reason>"
            );
            eprintln!("SKIPPED GPU stub test: {why}");
            None
        }
    }
}

/// PATH with a stub nvidia-smi (and the stub hook, as the NVIDIA toolkit puts it on PATH).
fn gpu_path() -> String {
    format!("/run/dimtensor-up-gpu/bin:{}", stub_smi_path())
}

fn stub_smi_path() -> String {
    let dir = std::env::temp_dir().join("dtu-stub-nvidia-smi");
    std::fs::create_dir_all(&dir).unwrap();
    let smi = dir.join("nvidia-smi");
    std::fs::write(&smi, "#!/bin/sh\n# stub: one GPU, as nvidia-smi --query-gpu prints it\necho '0, NVIDIA Stub GPU, 550.54.15, 81559'\n").unwrap();
    std::fs::set_permissions(&smi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

fn tools_path() -> String {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = Path::new(&python).parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn docker_on(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker").arg("-H").arg(host).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Sandbox {
    /// The CLI against the GPU stub engine, with the stub nvidia-smi and hook on PATH.
    fn on_gpu_engine(&self, host: &str, args: &[&str]) -> Out {
        let mut all = vec!["--host", host];
        all.extend_from_slice(args);
        Out::from(self.cmd(&all).env("PATH", gpu_path()).output().unwrap())
    }
    fn container_name_on(&self, host: &str) -> String {
        let out = Out::from(self.cmd(&["--host", host, "ps", "--json"]).output().unwrap()).ok();
        let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let wanted = std::fs::canonicalize(&self.work).unwrap().display().to_string();
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["workdir"] == wanted.as_str())
            .map(|s| s["name"].as_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------- builds

#[test]
fn a_ca_bundle_handed_to_the_build_stays_out_of_every_layer() {
    let _g = engine_lock();
    ca_bundle_stays_out_of_the_layers(&Sandbox::new("cabundle"));
}

/// Rootless Docker builds with BuildKit, Podman with Buildah (the engine model's classic
/// builder): the same Dockerfile, the same guarantee for the CA bundle, and the image works.
#[test]
fn rootless_engines_build_the_embedded_dockerfile() {
    let _g = engine_lock();
    for engine in other_engines().iter().filter(|e| e.name.starts_with("rootless")) {
        ca_bundle_stays_out_of_the_layers(&Sandbox::on_engine(
            &format!("build-{}", engine.name.replace(' ', "-")),
            engine,
        ));
    }
}

fn ca_bundle_stays_out_of_the_layers(sb: &Sandbox) {
    let marker = format!("dimtensor-up-ca-marker-{}", std::process::id());
    let system = ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let bundle = sb.root.join("corporate-bundle.pem");
    std::fs::write(&bundle, format!("{}\n# {marker}\n", std::fs::read_to_string(system).unwrap())).unwrap();
    std::fs::write(sb.root.join("config.toml"), "registry = \"dtu-ca-test/dimtensor\"\n").unwrap();
    let out = sb.run(&["build", "base", "--ca-cert", bundle.to_str().unwrap()]).ok();
    out.says("using the CA bundle");
    let mut save = Command::new("docker");
    if let Some(host) = &sb.host {
        save.args(["-H", host]);
    }
    let saved = save.args(["save", "dtu-ca-test/dimtensor:base"]).output().unwrap();
    assert!(saved.status.success() && saved.stdout.len() > 1_000_000);
    let contains = |needle: &[u8]| saved.stdout.windows(needle.len()).any(|w| w == needle);
    // The search does read the layers (both engines save them uncompressed): the pinned set
    // the Dockerfile copies in is found.
    assert!(contains(b"dimtensor==5.2.0 \\\n    --hash=sha256:"), "the layers are not searchable");
    assert!(!contains(marker.as_bytes()), "the CA bundle is in a layer");
    assert!(!sb.docker(&["history", "--no-trunc", "dtu-ca-test/dimtensor:base"]).contains(&marker));
    let probe = [
        "run",
        "--rm",
        "dtu-ca-test/dimtensor:base",
        "python",
        "-c",
        "import dimtensor, numpy; print(numpy.__version__)",
    ];
    assert_eq!(sb.docker(&probe), "1.26.4", "the built image works");
    sb.docker(&["rmi", "dtu-ca-test/dimtensor:base", "dtu-ca-test/dimtensor:base-5.2.0"]);
}

#[test]
fn a_failing_build_names_the_step_and_shows_its_log() {
    let _g = engine_lock();
    let sb = Sandbox::new("badbuild");
    std::fs::write(sb.root.join("config.toml"), "registry = \"dtu-fail-test/dimtensor\"\n").unwrap();
    let out = sb.run(&["build", "base", "--dimtensor-version", "0.0.0.dev0"]);
    out.user_error(4);
    out.says("building dtu-fail-test/dimtensor:base failed");
    out.says("step: [base 6/7]");
    // The hash-locked build refuses a version the lock does not have (docker/pip-install.sh).
    out.says("dimtensor 0.0.0.dev0 is not the version locked");
    assert!(docker(&["images", "-q", "dtu-fail-test/dimtensor"]).is_empty());
}

// ---------------------------------------------------------------- interruptions and faults

/// Waits until the child printed `needle` on stderr (returns the text seen).
fn wait_for_stderr(child: &mut Child, needle: &str) -> String {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains(needle) {
            break;
        }
        line.clear();
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    seen
}

#[test]
fn ctrl_c_during_a_build_stops_it_and_tags_nothing() {
    let _g = engine_lock();
    interrupt_a_build(&Sandbox::new("ctrlcbuild"), &[]);
    if let Some(ws) = workstation() {
        interrupt_a_build(&Sandbox::laptop("sshbuild", &ws), &["--host", "ssh://box"]);
    }
}

fn interrupt_a_build(sb: &Sandbox, host: &[&str]) {
    std::fs::write(sb.root.join("config.toml"), "registry = \"dtu-ctrlc-test/dimtensor\"\n").unwrap();
    let args: Vec<&str> = host.iter().copied().chain(["build", "base", "--no-cache"]).collect();
    let mut child = sb.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_stderr(&mut child, "[base 2/7]");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130), "{host:?}");
    // The engine stopped too: nothing is tagged, not even a while later.
    std::thread::sleep(Duration::from_secs(5));
    assert!(docker(&["images", "-q", "dtu-ctrlc-test/dimtensor"]).is_empty(), "{host:?}");
}

#[test]
fn ctrl_c_during_a_pull_stops_it() {
    let _g = engine_lock();
    interrupt_a_hanging_pull(&Sandbox::new("ctrlcpull"), &[]);
    if let Some(ws) = workstation() {
        interrupt_a_hanging_pull(&Sandbox::laptop("sshpull", &ws), &["--host", "ssh://box"]);
    }
}

fn interrupt_a_hanging_pull(sb: &Sandbox, host: &[&str]) {
    // A registry on loopback that accepts connections and never answers: the pull hangs.
    let registry = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = registry.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = registry.incoming().take(4).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(conns);
    });
    std::fs::write(sb.root.join("config.toml"), format!("registry = \"127.0.0.1:{port}/dimtensor\"\n"))
        .unwrap();
    let args: Vec<&str> = host.iter().copied().chain(["pull", "base"]).collect();
    let mut child = sb.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_stderr(&mut child, "pulling");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the pull is hanging as intended {host:?}");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(130), "{host:?}");
    drop(held);
}

#[test]
fn a_restarted_engine_ends_the_foreground_server_cleanly_and_the_next_start_works() {
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("restart");
    let mut child = sb
        .cmd(&[
            "--host", &gpu_host, "jupyter", "--variant", "base", "--gpus", "none", "--no-browser", "--pull",
            "never",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    assert!(url.contains("token="));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/gpu-engine.sh");
    assert!(Command::new("bash").args([script, "stop"]).status().unwrap().success());
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let out = Command::new("bash").args([script, "start"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(matches!(code, Some(c) if c != 0), "the CLI reports the stopped server: {code:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("error: ") && !stderr.contains("panicked"), "{stderr}");
    // The stopped container is replaced by a fresh server.
    let again = Out::from(
        sb.cmd(&[
            "--host", &gpu_host, "jupyter", "--variant", "base", "--gpus", "none", "--detach",
            "--no-browser", "--pull", "never",
        ])
        .output()
        .unwrap(),
    )
    .ok();
    let new_url = again.last_line().to_string();
    assert_eq!(http_status(port_of(&new_url), "/api/status", Some(token_of(&new_url))), Some(200));
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
}

#[test]
fn listening_beyond_loopback_is_allowed_with_a_warning() {
    let _g = engine_lock();
    let sb = Sandbox::new("listen");
    let out = sb
        .run(&[
            "jupyter", "--variant", "base", "--listen", "0.0.0.0", "--detach", "--no-browser", "--pull",
            "never",
        ])
        .ok();
    out.says("warning: --listen 0.0.0.0 makes JupyterLab reachable from other machines");
    assert!(out.last_line().starts_with("http://127.0.0.1:"), "a URL a local browser can open");
    let ports = docker(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &sb.container_name()]);
    assert!(ports.contains("\"HostIp\":\"0.0.0.0\""), "{ports}");
}

#[test]
fn tls_and_permission_failures_name_the_address_with_a_hint() {
    let sb = Sandbox::new("tls");
    let certs = sb.root.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=dimtensor-up-test",
            "-keyout",
        ])
        .arg(certs.join("key.pem"))
        .arg("-out")
        .arg(certs.join("cert.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::copy(certs.join("cert.pem"), certs.join("ca.pem")).unwrap();
    // An engine address that answers in plain HTTP: the TLS handshake fails.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in plain.incoming().take(4).flatten() {
            use std::io::{Read, Write};
            let _ = conn.read(&mut [0u8; 1024]);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let tls = |cert_path: &Path| {
        Out::from(
            sb.cmd(&["ps"])
                .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", cert_path)
                .output()
                .unwrap(),
        )
    };
    let out = tls(&certs);
    out.user_error(3);
    assert!(
        out.stderr
            .contains(&format!("error: TLS handshake with tcp://127.0.0.1:{port} (from DOCKER_HOST) failed")),
        "{}",
        out.stderr
    );
    let out = tls(Path::new("/nonexistent-certs"));
    out.user_error(3);
    out.says("cannot set up TLS");
    out.says("/nonexistent-certs/ca.pem");
    if is_root() {
        // A user outside the docker group.
        let out = Out::from(
            Command::new("setpriv")
                .args([
                    &format!("--reuid={TEST_UID}"),
                    &format!("--regid={TEST_UID}"),
                    "--clear-groups",
                    BIN,
                    "ps",
                ])
                .env("NO_COLOR", "1")
                .env_remove("DOCKER_HOST")
                .env("HOME", &sb.root)
                // No rootless engine of this user's either (the discovery test has those).
                .env("XDG_RUNTIME_DIR", sb.root.join("no-runtime-dir"))
                .output()
                .unwrap(),
        );
        out.user_error(3);
        out.says("unix:///var/run/docker.sock (rootful Docker): permission denied");
        out.says("docker group");
    }
}

// ---------------------------------------------------------------- other engines

/// An engine of tests/support/engines.sh.
struct OtherEngine {
    name: &'static str,
    host: String,
    runtime_dir: String,
}

/// Rootless Docker, rootless Podman and rootful Podman, as tests/support/engines.sh started them;
/// none (with the reason printed) where DTU_SKIP_OTHER_ENGINES says why they are not there.
fn other_engines() -> Vec<OtherEngine> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(runtime_dir) = var("DTU_ENGINES_RUNTIME_DIR") else {
        let why = var("DTU_SKIP_OTHER_ENGINES");
        assert!(
            why.is_some(),
            "run tests/support/engines.sh start (tests/run.sh does), or set DTU_SKIP_OTHER_ENGINES=<reason>"
        );
        eprintln!("SKIPPED other engines: {}", why.unwrap());
        return vec![];
    };
    [
        ("rootless Docker", "DTU_ROOTLESS_DOCKER_HOST"),
        ("rootless Podman", "DTU_ROOTLESS_PODMAN_HOST"),
        ("rootful Podman", "DTU_ROOTFUL_PODMAN_HOST"),
    ]
    .into_iter()
    .map(|(name, key)| OtherEngine {
        name,
        host: var(key).unwrap_or_else(|| panic!("{key} is set by tests/support/engines.sh")),
        runtime_dir: runtime_dir.clone(),
    })
    .collect()
}

/// Code run in a kernel of the server at `url`: (output, error).
fn run_in_kernel(url: &str, code: &str) -> (String, Option<String>) {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let base = format!("http://127.0.0.1:{}", port_of(url));
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/jupyter_client.py"))
        .args([&base, token_of(url), "kernel", code])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["output"].as_str().unwrap_or_default().to_string(), v["error"].as_str().map(str::to_string))
}

fn owner(path: &Path) -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap())
}

#[test]
fn every_engine_keeps_files_the_users_serves_on_loopback_and_reuses() {
    let _g = engine_lock();
    for engine in other_engines() {
        let sb = Sandbox::on_engine(&format!("eng-{}", engine.name.replace(' ', "-")), &engine);
        let mine = sb.work.join("mine.txt");
        std::fs::write(&mine, "mine\n").unwrap();
        std::fs::set_permissions(&mine, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        if sb.as_test_user {
            std::os::unix::fs::chown(&mine, Some(sb.uid()), Some(sb.uid())).unwrap();
        }
        let out = sb.start_base_lab(&[]).ok();
        let url = out.last_line().to_string();
        let what = format!("{}: {}", engine.name, out.stderr);

        let check = jupyter_client_check(&url);
        assert_eq!(
            (check["status_with_token"].as_u64(), check["status_without_token"].as_u64()),
            (Some(200), Some(403)),
            "{what} {check}"
        );
        assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{what} {check}");
        let written = sb.work.join("from-jupyter.txt");
        assert_eq!(owner(&written), sb.uid(), "{what}: a file JupyterLab writes is the user's");
        // The user's own file (mode 600) is readable and writable from the kernel.
        let (output, error) = run_in_kernel(
            &url,
            "p = '/home/dimtensor/work/mine.txt'\nprint(open(p).read().strip())\nopen(p, 'a').write('and the kernel\\n')\nopen('/home/dimtensor/work/from-kernel.txt', 'w').write('x')",
        );
        assert_eq!((output.trim(), error), ("mine", None), "{what}");
        assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine\nand the kernel\n", "{what}");
        assert_eq!((owner(&mine), owner(&sb.work.join("from-kernel.txt"))), (sb.uid(), sb.uid()), "{what}");

        let name = sb.container_name();
        let ports = sb.docker(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &name]);
        assert!(ports.contains("\"HostIp\":\"127.0.0.1\"") && !ports.contains("0.0.0.0"), "{what}: {ports}");
        assert!(!sb.docker(&["inspect", &name]).contains(token_of(&url)), "{what}: inspect shows no token");

        let again = sb.start_base_lab(&[]).ok();
        assert_eq!(again.last_line(), url, "{what}: reuse");
        again.says("already runs");
        sb.run(&["stop"]).ok();
        assert!(sb.leftovers().is_empty(), "{what}: stop removes the container");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "written by the contents API\n");

        // kill -9 of a foreground launcher, then a new start reuses the server it left.
        let (mut child, url) = spawn_foreground(&sb, &[]);
        signal(&child, "KILL");
        wait_exit(&mut child, Duration::from_secs(10));
        assert_eq!(sb.start_base_lab(&[]).ok().last_line(), url, "{what}: reuse after kill -9");
        sb.run(&["stop"]).ok();
        assert!(sb.leftovers().is_empty() && sb.token_files().is_empty(), "{what}");
    }
}

#[test]
fn compose_up_works_on_every_engine() {
    let _g = engine_lock();
    for engine in other_engines() {
        let sb = Sandbox::on_engine(&format!("engc-{}", engine.name.replace(' ', "-")), &engine);
        let out = Out::from(
            sb.cmd(&["compose", "--variant", "base", "--gpus", "none", "--up", "--no-browser"])
                .env("PATH", tools_path())
                .output()
                .unwrap(),
        )
        .ok();
        let url = out.last_line().to_string();
        let what = format!("{}: {}", engine.name, out.stderr);
        let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
        assert_eq!(yaml.contains("userns_mode: keep-id"), engine.name == "rootless Podman", "{what}\n{yaml}");
        assert_eq!(http_status(port_of(&url), "/api/status", Some(token_of(&url))), Some(200), "{what}");
        let (_, error) = run_in_kernel(&url, "open('/home/dimtensor/work/compose.txt', 'w').write('x')");
        assert_eq!(error, None, "{what}");
        assert_eq!(owner(&sb.work.join("compose.txt")), sb.uid(), "{what}");
        let compose = std::env::var("DTU_COMPOSE").unwrap_or_else(|_| "docker-compose".into());
        let down = Command::new(compose)
            .args(["-f", "compose.yaml", "down"])
            .current_dir(&sb.work)
            .env("DOCKER_HOST", &engine.host)
            .output()
            .unwrap();
        assert!(down.status.success(), "{what}: {}", String::from_utf8_lossy(&down.stderr));
        assert!(sb.leftovers().is_empty(), "{what}");
        assert!(sb.work.join("compose.txt").exists(), "{what}: down keeps files");
    }
}

#[test]
fn podman_gets_gpus_through_cdi_and_never_silently_without() {
    let _g = engine_lock();
    let Some(podman) = other_engines().into_iter().find(|e| e.name == "rootless Podman") else { return };
    let sb = Sandbox::on_engine("podmangpu", &podman);
    let run = |gpus: &str| {
        Out::from(
            sb.cmd(&[
                "run",
                "jupyter-base",
                "--gpus",
                gpus,
                "--pull",
                "never",
                "--",
                "sh",
                "-c",
                "echo ${DTU_CDI_DEVICE:-none} ${NVIDIA_VISIBLE_DEVICES:-unset}",
            ])
            .env("PATH", stub_smi_path())
            .output()
            .unwrap(),
        )
    };
    // The stand-in CDI spec marks the devices it was asked for (tests/support/engines.sh).
    assert_eq!(run("all").ok().stdout.trim(), "all unset", "Podman got nvidia.com/gpu=all");
    assert_eq!(run("device=0").ok().stdout.trim(), "0 unset");
    assert_eq!(run("none").ok().stdout.trim(), "none void");
    let doctor = Out::from(sb.cmd(&["doctor", "--json"]).env("PATH", stub_smi_path()).output().unwrap()).ok();
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    assert_eq!(
        (report["engine"]["product"].as_str(), report["engine"]["rootless"].as_bool()),
        (Some("podman"), Some(true))
    );
    assert_eq!(report["gpu"]["engine"]["form"], "cdi");
    assert_eq!(report["gpu"]["usable"], true, "{}", doctor.stdout);
    // A GPU index the host does not have is an error before Podman is asked.
    run("device=3").user_error(7);
    assert!(sb.leftovers().is_empty());
}

#[test]
fn discovery_passes_over_a_socket_the_user_may_not_use() {
    let _g = engine_lock();
    let engines = other_engines();
    if engines.is_empty() || !is_root() {
        return;
    }
    let mut sb = Sandbox::new("discover");
    sb.without_docker_group = true;
    sb.runtime_dir = Some(PathBuf::from(&engines[0].runtime_dir));
    let report = |sb: &Sandbox| -> serde_json::Value {
        serde_json::from_str(&sb.run(&["doctor", "--json"]).ok().stdout).unwrap()
    };
    let r = report(&sb);
    assert_eq!(r["engine"]["address"], engines[0].host, "rootless Docker: {r}");
    assert_eq!(r["engine"]["chosen_by"], "default");
    assert_eq!(r["engine"]["tried"][0]["address"], "unix:///var/run/docker.sock");
    assert_eq!(r["engine"]["tried"][0]["problem"], "permission denied");
    assert_eq!(
        (r["engine"]["product"].as_str(), r["engine"]["rootless"].as_bool()),
        (Some("docker"), Some(true))
    );
    let text = sb.run(&["doctor"]).ok().stdout;
    assert!(
        text.contains("tried       unix:///var/run/docker.sock (rootful Docker): permission denied"),
        "{text}"
    );

    // Only Podman's socket in the runtime folder: Podman is found, and said to be rootless.
    let only_podman = sb.root.join("xdg");
    std::fs::create_dir_all(only_podman.join("podman")).unwrap();
    std::os::unix::fs::symlink(
        engines[1].host.trim_start_matches("unix://"),
        only_podman.join("podman/podman.sock"),
    )
    .unwrap();
    Command::new("chown").args(["-R", &format!("{TEST_UID}:{TEST_UID}")]).arg(&only_podman).status().unwrap();
    sb.runtime_dir = Some(only_podman);
    let r = report(&sb);
    assert_eq!(
        (r["engine"]["product"].as_str(), r["engine"]["rootless"].as_bool()),
        (Some("podman"), Some(true)),
        "{r}"
    );

    // Nothing usable: one error naming each socket, and the hint that fits (the docker group).
    sb.runtime_dir = Some(sb.root.join("empty"));
    let out = sb.run(&["ps"]);
    out.user_error(3);
    out.says("no container engine answers");
    out.says("unix:///var/run/docker.sock (rootful Docker): permission denied");
    out.says("docker group");
}

#[test]
fn twenty_simultaneous_starts_from_two_users_all_get_their_own_port() {
    let _g = engine_lock();
    let other_uid = TEST_UID + 7;
    let boxes: Vec<Sandbox> = (0..20)
        .map(|i| {
            Sandbox::for_user(&format!("many{i}"), "work", if i % 2 == 0 { TEST_UID } else { other_uid })
        })
        .collect();
    for (i, sb) in boxes.iter().enumerate() {
        std::fs::write(sb.work.join(format!("marker-{i}.txt")), "x").unwrap();
    }
    let args = ["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
    // Twenty folders, and two extra starts racing in the first one.
    let children: Vec<Child> = boxes
        .iter()
        .map(|sb| sb.cmd(&args))
        .chain([boxes[0].cmd(&args), boxes[0].cmd(&args)])
        .map(|mut c| c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let outs: Vec<Out> = children.into_iter().map(|c| Out::from(c.wait_with_output().unwrap())).collect();
    let failed: Vec<&str> = outs.iter().filter(|o| o.code != 0).map(|o| o.stderr.as_str()).collect();
    assert!(failed.is_empty(), "every start succeeds: {failed:?}");
    let urls: Vec<&str> = outs.iter().map(Out::last_line).collect();
    assert_eq!((urls[20], urls[21]), (urls[0], urls[0]), "one server for the first folder");
    let mut ports: Vec<u16> = urls[..20].iter().map(|u| port_of(u)).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 20, "twenty distinct ports: {urls:?}");
    for (i, url) in urls[..20].iter().enumerate() {
        let path = format!("/api/contents/work/marker-{i}.txt");
        assert_eq!(
            http_status(port_of(url), &path, Some(token_of(url))),
            Some(200),
            "server {i} serves its own folder"
        );
    }
    for sb in &boxes {
        assert_eq!(sb.servers_here().len(), 1, "{}", sb.work.display());
    }
}

// ---------------------------------------------------------------- a GPU workstation over ssh

/// The "remote workstation" of tests/support/sshd.sh (the same engine, reached only through ssh).
struct Workstation {
    port: String,
    keys: PathBuf,
    host_key: String,
}

fn workstation() -> Option<Workstation> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("DTU_SSH_PORT"), var("DTU_SSH_KEYS"), var("DTU_SSH_HOST_KEY")) {
        (Some(port), Some(keys), Some(host_key)) if is_root() => {
            Some(Workstation { port, keys: PathBuf::from(keys), host_key })
        }
        _ => {
            let why = var("DTU_SKIP_SSH");
            assert!(
                why.is_some(),
                "run tests/support/sshd.sh start (tests/run.sh does, as root), or set DTU_SKIP_SSH=<reason>"
            );
            eprintln!("SKIPPED ssh tests: {}", why.unwrap());
            None
        }
    }
}

const REMOTE_HOME: &str = "/home/dtu-remote";
const REMOTE_UID: u32 = 4331;

impl Sandbox {
    /// The laptop: the test user *without* the docker group (every engine call provably goes
    /// through ssh), with its own ssh config naming the workstation `box` (and hosts for each
    /// fault), and an `ssh` on PATH that reads that config (ssh itself reads the passwd home's).
    fn laptop(name: &str, ws: &Workstation) -> Sandbox {
        let mut sb = Sandbox::new(name);
        sb.without_docker_group = true;
        sb.runtime_dir = Some(sb.root.join("xdg"));
        let ssh_dir = sb.root.join(".ssh");
        let bin = sb.root.join("bin");
        std::fs::create_dir_all(&ssh_dir).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        for key in ["client", "client-noclient", "client-gpu"] {
            std::fs::copy(ws.keys.join(key), ssh_dir.join(key)).unwrap();
        }
        let known_hosts =
            format!("[127.0.0.1]:{0} {1}\n[localhost]:{0} {1}\n[127.1]:{0} {1}\n", ws.port, ws.host_key);
        std::fs::write(ssh_dir.join("known_hosts"), known_hosts).unwrap();
        // Aliases for the same user@host:port share ssh's master connection (ControlPath %C):
        // the one whose key changes the remote PATH names the host differently.
        let host = |alias: &str, user: &str, key: &str, port: &str, known: &str| {
            let name = match alias {
                "box-noclient" => "localhost",
                "box-gpu" => "127.1",
                _ => "127.0.0.1",
            };
            format!("Host {alias}\n  HostName {name}\n  Port {port}\n  User {user}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n", ssh_dir.join(key).display())
        };
        let known = ssh_dir.join("known_hosts").display().to_string();
        let config = [
            host("box", "dtu-remote", "client", &ws.port, &known),
            host("box-noclient", "dtu-remote", "client-noclient", &ws.port, &known),
            host("box-gpu", "dtu-remote", "client-gpu", &ws.port, &known),
            host("box-nodocker", "dtu-nodocker", "client", &ws.port, &known),
            host("box-refused", "root", "client", &ws.port, &known),
            host("box-unknown", "dtu-remote", "client", &ws.port, "/dev/null"),
            host("box-down", "dtu-remote", "client", "1", &known),
        ]
        .concat();
        std::fs::write(ssh_dir.join("config"), config).unwrap();
        std::fs::write(
            bin.join("ssh"),
            format!("#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n", ssh_dir.join("config").display()),
        )
        .unwrap();
        std::fs::set_permissions(bin.join("ssh"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        Command::new("chown").args(["-R", &format!("{TEST_UID}:{TEST_UID}")]).arg(&sb.root).status().unwrap();
        for file in ["client", "client-noclient", "client-gpu", "config"] {
            std::fs::set_permissions(ssh_dir.join(file), std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        sb.path = Some(format!("{}:{}", bin.display(), tools_path()));
        sb
    }
    /// The remote folder that stands for this sandbox's work folder (from the launcher's note).
    fn remote_folder(stderr: &str) -> PathBuf {
        let start =
            stderr.find("working in ").expect("the launcher says where it works") + "working in ".len();
        PathBuf::from(stderr[start..].split(" on ").next().unwrap())
    }
    /// ssh processes of this sandbox's laptop still running.
    fn ssh_processes(&self) -> Vec<String> {
        // The master's title names its control socket in the sandbox; the others, the sandbox's
        // ssh config.
        let config = self.root.display().to_string();
        let out = Command::new("ps").args(["-eo", "pid,args"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&config) && l.contains("ssh") && !l.contains("ps -eo"))
            .map(str::to_string)
            .collect()
    }
}

fn remote_labs(folder: &Path) -> Vec<String> {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=org.dimtensor-up.workdir={}", folder.display()),
        "--format",
        "{{.Names}} {{.State}}",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn a_remote_lab_opens_here_through_ssh_survives_a_killed_tunnel_and_ctrl_c_cleans_up() {
    let Some(ws) = workstation() else { return };
    let _g = engine_lock();
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
    let Some(ws) = workstation() else { return };
    let _g = engine_lock();
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
    let Some(ws) = workstation() else { return };
    let _g = engine_lock();
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
    let Some(ws) = workstation() else { return };
    let _g = engine_lock();
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
    let Some(ws) = workstation() else { return };
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
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
fn the_browser_gets_a_one_shot_address_that_only_its_user_can_follow() {
    let _g = engine_lock();
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
fn auto_fits_the_engines_platform_and_bad_platforms_are_refused() {
    let _g = engine_lock();
    let sb = Sandbox::new("platform");
    let variants = sb.run(&["variants"]).ok();
    assert!(variants.stdout.starts_with("images for linux/amd64"), "{}", variants.stdout);
    let json: serde_json::Value = serde_json::from_str(&sb.run(&["variants", "--json"]).ok().stdout).unwrap();
    let base = json.as_array().unwrap().iter().find(|r| r["name"] == "jupyter-base").unwrap().clone();
    assert_eq!((base["platform"].as_str(), base["present"].as_bool()), (Some("linux/amd64"), Some(true)));
    for bad in
        [vec!["jupyter", "--platform", "linux/s390x"], vec!["config", "set", "platform", "windows/amd64"]]
    {
        let out = sb.run(&bad);
        out.user_error(2);
        assert!(out.stderr.contains("linux/amd64 and linux/arm64"), "{}", out.stderr);
    }
    // Explicit variants still win over auto, and `jupyter` still names the full lab.
    let out = sb.run(&["compose", "--variant", "jupyter", "--gpus", "none", "--user", "1000:1000"]).ok();
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(yaml.contains("dimtensor:jupyter\n") && !yaml.contains("platform:"), "{yaml}\n{}", out.stderr);
    assert!(!out.stderr.contains("lab: "), "no auto line for an explicit lab: {}", out.stderr);
}

/// The registry name tests/arm64.sh built the arm64 images under; None (with the reason
/// printed) where DTU_SKIP_ARM64 says why they were not built.
fn arm64_registry() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let registry = var("DTU_ARM64_REGISTRY");
    if registry.is_none() {
        let why = var("DTU_SKIP_ARM64");
        assert!(
            why.is_some(),
            "run tests/arm64.sh (tests/run.sh does, as root), or set DTU_SKIP_ARM64=<reason>"
        );
        eprintln!("SKIPPED arm64 under emulation: {}", why.unwrap());
    }
    registry
}

#[test]
fn an_arm64_lab_runs_under_emulation_through_the_launcher() {
    let Some(registry) = arm64_registry() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("arm64");
    std::fs::write(sb.root.join("config.toml"), format!("registry = \"{registry}\"\n")).unwrap();
    // auto for arm64 without a GPU: the full lab, whose torch is CPU-only there. Written down.
    let out = sb.run(&["compose", "--platform", "linux/arm64", "--gpus", "none"]).ok();
    out.says("running linux/arm64 images on a linux/amd64 engine");
    out.says("lab: full (every integration, torch + jax for CPU");
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(yaml.contains("    platform: linux/arm64\n") && yaml.contains(":jupyter\n"), "{yaml}");
    std::fs::remove_file(sb.work.join("compose.yaml")).unwrap();
    std::fs::remove_file(sb.work.join(".env")).unwrap();

    // The small lab starts emulated, answers with its token, and its kernel runs dimtensor.
    let out = sb
        .run(&[
            "jupyter", "--platform", "linux/arm64", "--variant", "base", "--detach", "--no-browser",
            "--pull", "never", "--timeout", "300",
        ])
        .ok();
    let url = out.last_line().to_string();
    let check = jupyter_client_check(&url);
    assert_eq!(check["kernel_error"], serde_json::Value::Null, "{check}");
    assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{check}");
    let name = sb.container_name();
    assert_eq!(sb.docker(&["exec", &name, "uname", "-m"]).trim(), "aarch64");
    // Its own tag: the amd64 image under the default name is untouched.
    let native = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Architecture}}",
        "ghcr.io/marcoloco23/dimtensor:jupyter-base",
    ]);
    assert_eq!(native.trim(), "amd64");
    sb.run(&["stop"]).ok();
}

/// tests/support/hub_client.py against a hub: `args` after the hub's URL.
fn hub_client(hub: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/hub_client.py"))
        .arg(hub)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Python Jupyter client against a lab at `base` (a hub user's /user/NAME) with `token`.
fn lab_client(base: &str, token: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/jupyter_client.py"))
        .args([base, token])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Removes a hub test's containers, volumes and network when the test ends, passed or not:
/// `stop` keeps accounts and homes on purpose, and a failed test must not leave a hub running.
struct HubCleanup {
    host: Option<String>,
    project: String,
}

impl Drop for HubCleanup {
    fn drop(&mut self) {
        let on = |args: &[&str]| match &self.host {
            Some(h) => docker_on(h, args),
            None => docker(args),
        };
        let labs = on(&["ps", "-aq", "--filter", &format!("name={}", self.project)]);
        for id in labs.lines().filter(|l| !l.is_empty()) {
            on(&["rm", "-f", id]);
        }
        for v in on(&["volume", "ls", "-q", "--filter", &format!("name={}", self.project)]).lines() {
            on(&["volume", "rm", "-f", v]);
        }
        on(&["network", "rm", &self.project]);
    }
}

/// The compose project `dimtensor-up hub` wrote into `dir`.
fn hub_project(dir: &Path) -> String {
    let yaml = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    yaml.lines().find_map(|l| l.strip_prefix("name: ").map(str::to_string)).unwrap()
}

#[test]
fn a_hub_gives_each_user_a_lab_of_their_own_that_outlives_the_hub() {
    let _g = engine_lock();
    let sb = Sandbox::new("hub");
    let hub_dir = sb.work.join("dimtensor-hub");
    let out = sb
        .run(&[
            "hub", "--labs", "base", "--gpus", "none", "--up", "--no-browser", "--pull", "never",
            "--timeout", "300",
        ])
        .ok();
    let url = out.last_line().to_string();
    assert!(url.starts_with("http://127.0.0.1:80") && url.ends_with("/hub/"), "{url}\n{}", out.stderr);
    let hub = url.trim_end_matches("/hub/").to_string();
    let project = hub_project(&hub_dir);
    let _cleanup = HubCleanup { host: None, project: project.clone() };
    validate_against_schema(&hub_dir.join("compose.yaml"));
    let password_file = hub_dir.join("admin-password");
    let meta = std::fs::metadata(&password_file).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
    let admin_password = std::fs::read_to_string(&password_file).unwrap().trim().to_string();
    assert!(admin_password.len() >= 32);
    let inspect = sb.docker(&["inspect", &project]);
    assert!(!inspect.contains(&admin_password), "the admin password is not in the container's config");
    assert!(inspect.contains("\"HostIp\": \"127.0.0.1\""), "loopback only");

    // Two users sign up; they can sign in only once the admin authorizes them.
    for user in ["alice", "bob"] {
        hub_client(&hub, &["signup", user, &format!("{user}-password-1")]);
    }
    assert_eq!(hub_client(&hub, &["token", "alice", "alice-password-1"])["token"], serde_json::Value::Null);
    for user in ["alice", "bob"] {
        let authorized = hub_client(&hub, &["authorize", "admin", &admin_password, user]);
        assert!(authorized["status"].as_u64().unwrap() < 400, "{authorized}");
    }
    let token = |user: &str| -> String {
        let t = hub_client(&hub, &["token", user, &format!("{user}-password-1")]);
        t["token"].as_str().unwrap_or_else(|| panic!("{user} signs in: {t}")).to_string()
    };
    let (alice, bob) = (token("alice"), token("bob"));

    // Each spawns a lab through the hub and reaches it with their own credentials.
    let alice_lab = hub_client(&hub, &["spawn", "alice", &alice, "base"]);
    let bob_lab = hub_client(&hub, &["spawn", "bob", &bob, "base"]);
    let (alice_url, bob_url) = (alice_lab["url"].as_str().unwrap(), bob_lab["url"].as_str().unwrap());
    eprintln!("spawn to ready: alice {} s, bob {} s", alice_lab["ready_s"], bob_lab["ready_s"]);
    let check = lab_client(alice_url, &alice, &["check"]);
    assert_eq!(check["kernel_error"], serde_json::Value::Null, "{check}");
    assert!(check["kernel_output"].as_str().unwrap().starts_with("[1.5] m/s 5.2.0"), "{check}");
    assert_eq!(check["contents_put"], 201, "{check}");
    assert_eq!(check["status_without_token"], 403, "{check}");
    // Neither reaches the other's lab, files or server.
    let other = hub_client(&hub, &["get", &bob, "/user/alice/api/contents/work/from-jupyter.txt"]);
    assert_ne!(other["status"], 200, "bob reads alice's file: {other}");
    let own = hub_client(&hub, &["get", &bob, "/user/bob/api/contents/work/from-jupyter.txt"]);
    assert_eq!(own["status"], 404, "bob's folder is his own: {own}");
    let stop_other = hub_client(&hub, &["stop", "alice", &bob]);
    assert!(matches!(stop_other["status"].as_u64(), Some(403 | 404)), "bob stops alice's lab: {stop_other}");
    assert!(bob_url.ends_with("/user/bob"));

    // ps knows the hub; a second start is refused.
    let ps = sb.run(&["ps", "--json"]).ok();
    assert!(ps.stdout.contains("\"variant\": \"hub\""), "{}", ps.stdout);
    let twice = sb.run(&["hub", "--labs", "base", "--gpus", "none", "--up", "--no-browser"]);
    twice.user_error(2);
    assert!(twice.stderr.contains("already runs"), "{}", twice.stderr);
    let port = hub.rsplit(':').next().unwrap();
    let taken = sb.run(&["hub", "--dir", "other-hub", "--labs", "base", "--gpus", "none", "--port", port]);
    taken.user_error(2);
    assert!(taken.stderr.contains("is taken") && !sb.work.join("other-hub").exists(), "{}", taken.stderr);
    let logs = sb.run(&["logs", &project]).ok();
    assert!(logs.stdout.contains("JupyterHub") || logs.stderr.contains("JupyterHub"), "the hub's log");

    // Stop: the hub and both labs go, the accounts and homes stay.
    let stopped = sb.run(&["stop", &project]).ok();
    stopped.says("and 2 running lab(s)");
    assert_eq!(sb.docker(&["ps", "-aq", "--filter", "label=org.dimtensor-up.hub"]).trim(), "", "no lab left");
    let network = sb.docker(&["network", "ls", "-q", "--filter", &format!("name=^{project}$")]);
    assert!(network.trim().is_empty(), "the hub's network is gone (each takes an address pool)");

    // A hand-edited config is kept unless --force (then saved as .bak).
    let config = hub_dir.join("jupyterhub_config.py");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("# my own setting\n");
    std::fs::write(&config, &text).unwrap();
    let refused = sb.run(&["hub", "--labs", "base", "--gpus", "none"]);
    refused.user_error(2);
    assert!(refused.stderr.contains("was edited"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text, "the edited file is untouched");
    sb.run(&["hub", "--labs", "base", "--gpus", "none", "--force"]).ok();
    assert_eq!(std::fs::read_to_string(hub_dir.join("jupyterhub_config.py.bak")).unwrap(), text);

    // Started again: alice signs in with her password and finds her file.
    let again =
        sb.run(&["hub", "--labs", "base", "--gpus", "none", "--up", "--no-browser", "--timeout", "300"]).ok();
    let hub = again.last_line().trim_end_matches("/hub/").to_string();
    let alice = token("alice");
    let lab = hub_client(&hub, &["spawn", "alice", &alice, "base"]);
    let kept = hub_client(&hub, &["get", &alice, "/user/alice/api/contents/work/from-jupyter.txt"]);
    assert_eq!(kept["status"], 200, "alice's file outlived the hub: {kept} {lab}");
    sb.run(&["stop", &project]).ok();
}

#[test]
fn kubernetes_values_follow_the_variant_table_and_the_charts_schema() {
    let sb = Sandbox::new("z2jh");
    let out = sb.run(&["hub", "--kubernetes", "--dir", "k8s", "--gpus-per-user", "2"]).ok();
    let path = sb.work.join("k8s/config.yaml");
    assert_eq!(out.last_line(), path.display().to_string());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(
            "# Install: helm upgrade --cleanup-on-fail --install dimtensor-hub jupyterhub/jupyterhub"
        ),
        "{text}"
    );
    // The chart validates its merged values; these are an override, so the schema's `required`
    // lists (met by the chart's defaults) are left out, and everything else is checked.
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/z2jh-values.schema.json");
    let code = r#"
import json, sys, yaml, jsonschema
def strip(node):
    if isinstance(node, dict):
        node.pop("required", None)
        for v in node.values(): strip(v)
    elif isinstance(node, list):
        for v in node: strip(v)
schema = json.load(open(sys.argv[2])); strip(schema)
values = yaml.safe_load(open(sys.argv[1]))
jsonschema.validate(values, schema)
print(json.dumps(values))
"#;
    let run = Command::new(python).args(["-c", code]).arg(&path).arg(schema).output().unwrap();
    assert!(
        run.status.success(),
        "the values fail the chart's schema: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let values: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let profiles = values["singleuser"]["profileList"].as_array().unwrap();
    let slugs: Vec<&str> = profiles.iter().map(|p| p["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["base", "ml", "ml-gpu", "full", "full-gpu"], "CUDA labs get a GPU profile");
    for p in profiles {
        let image = p["kubespawner_override"]["image"].as_str().unwrap();
        assert!(image.ends_with("-5.2.0"), "pinned: {image}");
    }
    assert_eq!(profiles[2]["kubespawner_override"]["extra_resource_limits"]["nvidia.com/gpu"], "2");
    assert_eq!(values["singleuser"]["allowPrivilegeEscalation"], false);
    assert_eq!(values["proxy"]["service"]["type"], "ClusterIP");
    // A re-run replaces its own file; an edited one is kept unless --force.
    sb.run(&["hub", "--kubernetes", "--dir", "k8s"]).ok();
    std::fs::write(&path, format!("{text}# mine\n")).unwrap();
    sb.run(&["hub", "--kubernetes", "--dir", "k8s"]).user_error(2);
    sb.run(&["hub", "--kubernetes", "--dir", "k8s", "--force"]).ok();
    assert!(std::fs::read_to_string(sb.work.join("k8s/config.yaml.bak")).unwrap().ends_with("# mine\n"));
    // Bad flags: one line, a hint, nothing written.
    for bad in [vec!["hub", "--labs", "auto"], vec!["hub", "--gpus", "lots"], vec!["hub", "--port", "0"]] {
        sb.run(&bad).user_error(2);
    }
    assert!(!sb.work.join("dimtensor-hub").exists(), "nothing written for bad flags");
}

#[test]
fn a_hub_gpu_profile_reaches_the_engine_as_a_device_request() {
    let Some(gpu_host) = gpu_engine() else { return };
    let _g = engine_lock();
    let sb = Sandbox::new("hub-gpu");
    // The small lab has no CUDA: `--gpus all` asks for its GPU profile explicitly, as
    // `jupyter --variant base --gpus all` does (the stub engine attaches, the CPU runs).
    let out = sb
        .on_gpu_engine(
            &gpu_host,
            &[
                "hub", "--labs", "base", "--gpus", "all", "--up", "--no-browser", "--pull", "never",
                "--timeout", "300",
            ],
        )
        .ok();
    out.says("profiles: base, base-gpu");
    let hub = out.last_line().trim_end_matches("/hub/").to_string();
    let hub_dir = sb.work.join("dimtensor-hub");
    let project = hub_project(&hub_dir);
    let _cleanup = HubCleanup { host: Some(gpu_host.clone()), project: project.clone() };
    let admin_password = std::fs::read_to_string(hub_dir.join("admin-password")).unwrap().trim().to_string();
    hub_client(&hub, &["signup", "carol", "carol-password-1"]);
    hub_client(&hub, &["authorize", "admin", &admin_password, "carol"]);
    let token =
        hub_client(&hub, &["token", "carol", "carol-password-1"])["token"].as_str().unwrap().to_string();
    let lab = hub_client(&hub, &["spawn", "carol", &token, "base-gpu"]);
    let url = lab["url"].as_str().unwrap_or_else(|| panic!("the GPU profile starts: {lab}"));
    let requests = docker_on(
        &gpu_host,
        &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &format!("{project}-carol")],
    );
    assert!(requests.contains("\"Count\":-1") && requests.contains("\"gpu\""), "{requests}");
    let check = lab_client(url, &token, &["check"]);
    assert_eq!(check["kernel_error"], serde_json::Value::Null, "{check}");
    let stopped = Out::from(sb.cmd(&["--host", &gpu_host, "stop", &project]).output().unwrap()).ok();
    stopped.says("and 1 running lab(s)");
}

// ---------------------------------------------------------------- a real registry (TLS + auth)

/// The test registry (tests/support/registry.sh): TLS from a test CA on a Docker network of the
/// tests' own, htpasswd auth, the images under the release workflow's tags as manifest lists.
struct TestRegistry {
    /// `HOST:PORT/dimtensor`, what `config set registry` takes.
    repo: String,
    user: String,
    password: String,
    container: String,
}

fn test_registry() -> Option<TestRegistry> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("DTU_REGISTRY"),
        var("DTU_REGISTRY_USER"),
        var("DTU_REGISTRY_PASSWORD"),
        var("DTU_REGISTRY_CONTAINER"),
    ) {
        (Some(repo), Some(user), Some(password), Some(container)) => {
            Some(TestRegistry { repo, user, password, container })
        }
        _ => {
            let why = var("DTU_SKIP_REGISTRY");
            assert!(
                why.is_some(),
                "run tests/support/registry.sh start (tests/run.sh does, as root), or set DTU_SKIP_REGISTRY=<reason>"
            );
            eprintln!("SKIPPED registry tests: {}", why.unwrap());
            None
        }
    }
}

impl TestRegistry {
    fn host(&self) -> &str {
        self.repo.split('/').next().unwrap()
    }
    /// A sandbox using this registry, logged in the way `docker login` leaves it (or not).
    fn sandbox(&self, name: &str, docker_config: Option<serde_json::Value>) -> Sandbox {
        let sb = Sandbox::new(name);
        std::fs::write(sb.root.join("config.toml"), format!("registry = \"{}\"\n", self.repo)).unwrap();
        if let Some(config) = docker_config {
            std::fs::create_dir_all(sb.root.join(".docker")).unwrap();
            std::fs::write(sb.root.join(".docker/config.json"), config.to_string()).unwrap();
        }
        sb
    }
    fn login(&self, user: &str, password: &str) -> serde_json::Value {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        serde_json::json!({"auths": {self.host(): {"auth": auth}}})
    }
    /// The docker CLI as the publisher (root, with its own login).
    fn publisher(&self, args: &[&str]) -> String {
        let dir = std::env::temp_dir().join(format!("dtu-publisher-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        if !dir.join("config.json").exists() {
            let mut login = Command::new("docker")
                .env("DOCKER_CONFIG", &dir)
                .args(["login", "-u", &self.user, "--password-stdin", self.host()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            use std::io::Write;
            login.stdin.take().unwrap().write_all(self.password.as_bytes()).unwrap();
            assert!(login.wait().unwrap().success(), "the publisher logs in");
        }
        let out = Command::new("docker").env("DOCKER_CONFIG", &dir).args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    /// Publishes a newer `tag`: the current one plus a layer of `ballast_mb` random MB (a layer no
    /// engine here has). The local tag keeps pointing where it did.
    fn publish_newer(&self, tag: &str, ballast_mb: u32) {
        let reference = format!("{}:{tag}", self.repo);
        let before = docker(&["image", "inspect", "--format", "{{.Id}}", &reference]);
        let dir = tempdir(&format!("newer-{tag}"));
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM {reference}\nUSER 0\nRUN head -c {ballast_mb}M /dev/urandom > /opt/ballast\nUSER 1000\n"),
        )
        .unwrap();
        // The classic builder: BuildKit's cache would keep the new layer after the image is gone.
        let built = Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &reference, dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
        self.publisher(&["push", "-q", &reference]);
        let newer = docker(&["image", "inspect", "--format", "{{.Id}}", &reference]);
        if before.is_empty() {
            docker(&["rmi", &reference]);
        } else {
            docker(&["tag", &before, &reference]);
            docker(&["rmi", &newer]);
        }
    }
    fn local_id(&self, tag: &str) -> String {
        docker(&["image", "inspect", "--format", "{{.Id}}", &format!("{}:{tag}", self.repo)])
    }
    fn forget_local(&self) {
        for line in docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", &self.repo]).lines() {
            docker(&["rmi", "-f", line]);
        }
        docker(&["image", "prune", "-f"]);
    }
}

/// A fresh folder of this test run's own, `dtu-NAME-PID` in the temporary folder.
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dtu-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Pull through the launcher from a real registry with TLS and a login: credentials from the
/// docker config and from a credential helper, refusals, --pull policies, the newer-image line,
/// digests in `variants` and `ps`, Ctrl-C mid-download, a registry that is down, and the
/// architecture picked from the manifest list.
#[test]
fn images_come_from_a_real_registry_with_tls_and_a_login() {
    let Some(reg) = test_registry() else { return };
    let _g = engine_lock();
    reg.forget_local();

    // No login, then a wrong password: one error line each, with the hint to log in.
    let anonymous = reg.sandbox("reg-anon", None).run(&["pull", "base"]);
    anonymous.user_error(4);
    anonymous.says("no basic auth credentials");
    anonymous.says("hint: log in to the registry");
    let wrong =
        reg.sandbox("reg-wrong", Some(reg.login(&reg.user, "not-the-password"))).run(&["pull", "base"]);
    wrong.user_error(4);
    wrong.says("unauthorized");

    // The login `docker login` wrote: pulled, with its digest in `variants`.
    let sb = reg.sandbox("reg-login", Some(reg.login(&reg.user, &reg.password)));
    let pulled = sb.run(&["pull", "jupyter-base"]).ok();
    pulled.says(&format!("pulled {}:jupyter-base (sha256:", reg.repo));
    let digest = docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .RepoDigests 0}}",
        &format!("{}:jupyter-base", reg.repo),
    ]);
    let short = &digest.split('@').nth(1).unwrap()[..19];
    let variants = sb.run(&["variants"]).ok();
    let row = variants.stdout.lines().find(|l| l.starts_with("jupyter-base ")).unwrap().to_string();
    assert!(row.contains(short), "variants shows the digest {short}: {row}");

    // A credential helper named for the registry, as `credHelpers` in config.json says.
    let helper_sb =
        reg.sandbox("reg-helper", Some(serde_json::json!({"credHelpers": {reg.host(): "dtutest"}})));
    let bin = helper_sb.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-dtutest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\necho \"$host\" >> '{}'\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"{}\"}}' \"$host\"\n",
            helper_sb.root.join("asked.txt").display(),
            reg.user,
            reg.password
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut helper_sb = helper_sb;
    helper_sb.path = Some(format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
    helper_sb.run(&["pull", "base"]).ok().says("pulled");
    assert_eq!(std::fs::read_to_string(helper_sb.root.join("asked.txt")).unwrap().trim(), reg.host());

    // A newer image in the registry: `jupyter` says so in one line and starts the local one.
    let before = reg.local_id("jupyter-base");
    reg.publish_newer("jupyter-base", 64);
    let out = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "missing"]).ok();
    out.says(&format!("the registry has a newer {}:jupyter-base", reg.repo));
    out.says("`dimtensor-up pull jupyter-base` updates it");
    assert_eq!(reg.local_id("jupyter-base"), before, "the start did not wait for a download");
    let ps = sb.run(&["ps"]).ok();
    assert!(ps.stdout.contains(short), "ps shows the running image's digest {short}:\n{}", ps.stdout);
    sb.run(&["stop"]).ok();
    // `pull` updates it (only the new layer travels), and the next start has nothing to say.
    let update = sb.run(&["pull", "jupyter-base"]).ok();
    let (mb, layers) = downloaded_mb(&update);
    assert!((67..=68).contains(&mb) && layers == 1, "64 MiB of random bytes, about 67 MB: {}", update.stderr);
    assert_ne!(reg.local_id("jupyter-base"), before);
    let again = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser"]).ok();
    assert!(!again.stderr.contains("newer"), "{}", again.stderr);
    sb.run(&["stop"]).ok();
    sb.run(&["pull", "jupyter-base"]).ok().says("is up to date");

    // Ctrl-C in the middle of a download: exit 130, the local image is untouched, and a second
    // pull completes.
    let current = reg.local_id("jupyter-base");
    reg.publish_newer("jupyter-base", 400);
    let mut child =
        sb.cmd(&["pull", "jupyter-base"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_stderr(&mut child, "pulling");
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130), "interrupted mid-pull");
    assert_eq!(reg.local_id("jupyter-base"), current, "the interrupted pull left the local image as it was");
    let resumed = sb.run(&["pull", "jupyter-base"]).ok();
    let (mb, layers) = downloaded_mb(&resumed);
    assert!((419..=421).contains(&mb) && layers == 1, "400 MiB, about 420 MB: {}", resumed.stderr);

    // --pull always asks the registry first; --pull never does not (the registry is down
    // meanwhile), and with the registry down `always` is an error that leaves nothing behind.
    sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "always"])
        .ok()
        .says("is up to date");
    sb.run(&["stop"]).ok();
    docker(&["stop", &reg.container]);
    let never = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"]);
    let _ = sb.run(&["stop"]);
    let always = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "always"]);
    let down = sb.run(&["pull", "base"]);
    docker(&["start", &reg.container]);
    wait_for_registry(&reg);
    never.ok();
    always.user_error(4);
    assert!(sb.servers_here().is_empty(), "no container left by the refused start");
    down.user_error(4);
    down.says("hint: the registry cannot be reached");
    // Missing and the registry down: built from the embedded Dockerfile instead (cached layers).
    reg.forget_local();
    docker(&["stop", &reg.container]);
    let built = sb.run(&["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "missing"]);
    docker(&["start", &reg.container]);
    built.ok().says("building it from the built-in Dockerfile instead");
    sb.run(&["stop"]).ok();
    reg.forget_local();
    wait_for_registry(&reg);

    // One tag, two architectures: --platform picks from the manifest list.
    if arm64_registry().is_some() {
        sb.run(&["pull", "--platform", "linux/arm64", "base"]).ok();
        let arch =
            docker(&["image", "inspect", "--format", "{{.Architecture}}", &format!("{}:base", reg.repo)]);
        assert_eq!(arch, "arm64");
    }
    reg.forget_local();
}

/// The MB and layers a pull's line says it downloaded.
fn downloaded_mb(out: &Out) -> (u64, u64) {
    let line = out.stderr.lines().find(|l| l.starts_with("pulled ")).expect("a pulled line");
    let numbers: Vec<u64> = line
        .split(": ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

fn wait_for_registry(reg: &TestRegistry) {
    for _ in 0..50 {
        let code = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-k",
                &format!("https://{}/v2/", reg.host()),
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&code.stdout) == "401" {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the test registry did not come back");
}
