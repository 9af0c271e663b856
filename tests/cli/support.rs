//! What every area's tests share: the sandbox a test runs the CLI in (its own settings, state and
//! work folder, as the non-root test user when the tests run as root), the CLI's output, helpers
//! for the engine and the Jupyter server, the fixtures tests/run.sh sets up (the GPU stub engine,
//! the other engines, the ssh workstation, the arm64 images), and the one check every engine
//! test starts with: whether an engine answers at all.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dimtensor-up");
/// The non-root user the launcher is run as when the tests run as root.
pub const TEST_UID: u32 = 4321;

/// Engine tests run one at a time: they share ports and the engine's container list.
static ENGINE: Mutex<()> = Mutex::new(());

pub fn engine_lock() -> MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

// ---------------------------------------------------------------- is there an engine at all

/// Why no engine test can run here: None when the Docker engine answers `docker info` (asked
/// once per run), else the reason.
fn no_engine() -> Option<&'static str> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        match Command::new("docker").arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(status) if status.success() => None,
            Ok(_) => Some("no Docker engine answers (docker info failed)".to_string()),
            Err(e) => Some(format!("no Docker engine answers (docker info cannot run: {e})")),
        }
    })
    .as_deref()
}

/// Whether a test of `group` (its module's GROUP) returns at once for want of an engine. Where
/// no engine answers, a plain `cargo test` passes and says, once per group, why those tests did
/// not run; with DTU_REQUIRE_ENGINE=1 (tests/run.sh, CI) the missing engine fails the test instead.
/// Where an engine answers, nothing is skipped.
pub fn skip_without_engine(group: &'static str) -> bool {
    let Some(why) = no_engine() else { return false };
    if env_var("DTU_REQUIRE_ENGINE").is_some_and(|v| v != "0") {
        panic!("{group}: {why}, and DTU_REQUIRE_ENGINE is set: these tests must run");
    }
    static SAID: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if !said.contains(&group) {
        said.push(group);
        // Straight to stderr, in one write, on a line of its own: the test harness shows a
        // passing test's eprintln! to nobody, and may have just written `test NAME ... `.
        let line = format!("\nskipped: {group}: {why}; tests/run.sh runs them\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    true
}

/// An environment variable that is set and not empty.
pub fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// A fixture tests/run.sh sets up, `found` from the environment it exported. Without it the
/// tests that need it fail (`how` says how to set it up), unless `skip_var` says why it cannot be
/// there: then they are skipped, with that reason printed.
pub fn fixture<T>(what: &str, how: &str, skip_var: &str, found: Option<T>) -> Option<T> {
    if found.is_some() {
        return found;
    }
    let why = env_var(skip_var);
    assert!(why.is_some(), "{how}, or set {skip_var}=<reason>");
    eprintln!("SKIPPED {what}: {}", why.unwrap());
    None
}

// ---------------------------------------------------------------- the sandbox and the output

/// A throwaway home for one test: its own settings file, state folder and work folder, owned by
/// the user the launcher runs as.
pub struct Sandbox {
    pub root: PathBuf,
    pub work: PathBuf,
    pub as_test_user: bool,
    /// The user the launcher runs as (when the tests run as root).
    pub test_uid: u32,
    /// Another engine than the default one (tests/support/engines.sh): DOCKER_HOST for the
    /// launcher, and the address the test's own checks use.
    pub host: Option<String>,
    /// The launcher runs without the docker group (it cannot use the rootful socket).
    pub without_docker_group: bool,
    /// XDG_RUNTIME_DIR for the launcher (where rootless engines put their sockets).
    pub runtime_dir: Option<PathBuf>,
    /// PATH for the launcher (the laptop's `ssh`), when not the tests' own.
    pub path: Option<String>,
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        Self::with_work(name, "work")
    }
    pub fn with_work(name: &str, work_name: &str) -> Sandbox {
        Self::for_user(name, work_name, TEST_UID)
    }
    pub fn for_user(name: &str, work_name: &str, test_uid: u32) -> Sandbox {
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
    pub fn on_engine(name: &str, engine: &OtherEngine) -> Sandbox {
        let mut sb = Self::new(name);
        sb.host = Some(engine.host.clone());
        sb.runtime_dir = Some(PathBuf::from(&engine.runtime_dir));
        sb
    }
    pub fn uid(&self) -> u32 {
        if self.as_test_user {
            self.test_uid
        } else {
            std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap()
        }
    }
    /// The CLI, as the test user, in the work folder, with a recording $BROWSER.
    pub fn cmd(&self, args: &[&str]) -> Command {
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
    pub fn docker(&self, args: &[&str]) -> String {
        match &self.host {
            Some(host) => docker_on(host, args),
            None => docker(args),
        }
    }
    /// A $BROWSER that records the address it is given, then fetches it as a browser would and
    /// records where it was redirected. With `hold` in the sandbox it waits for `go` first (the
    /// test then tries the address as another user).
    pub fn browser_stub(&self) -> PathBuf {
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
    pub fn opened(&self) -> Vec<String> {
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
    pub fn start_base_lab(&self, extra: &[&str]) -> Out {
        let mut args = vec!["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
        args.extend_from_slice(extra);
        self.run(&args)
    }
    /// `compose --up` of the small lab, no GPUs, no browser (the compose CLI from the test tools).
    pub fn compose_up(&self) -> Out {
        let args = ["compose", "--variant", "base", "--gpus", "none", "--up", "--no-browser"];
        Out::from(self.cmd(&args).env("PATH", tools_path()).output().unwrap())
    }
    pub fn run(&self, args: &[&str]) -> Out {
        Out::from(self.cmd(args).output().unwrap())
    }
    /// The servers `ps` lists for this sandbox's folder.
    pub fn servers_here(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["ps", "--json"]).ok();
        let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let wanted = std::fs::canonicalize(&self.work).unwrap().display().to_string();
        list.as_array().unwrap().iter().filter(|s| s["workdir"] == wanted.as_str()).cloned().collect()
    }
    /// The name of this folder's server; fails the test when there is none.
    pub fn container_name(&self) -> String {
        let servers = self.servers_here();
        assert_eq!(servers.len(), 1, "one server for {}: {servers:?}", self.work.display());
        servers[0]["name"].as_str().unwrap().to_string()
    }
    /// Managed containers (any state) belonging to folders in this sandbox.
    pub fn leftovers(&self) -> Vec<String> {
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
    pub fn token_files(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("state/tokens"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| !n.ends_with(".html"))
                    .collect()
            })
            .unwrap_or_default()
    }

    // The GPU stub engine (tests/support/gpu-engine.sh).
    /// The CLI against the GPU stub engine, with the stub nvidia-smi and hook on PATH.
    pub fn on_gpu_engine(&self, host: &str, args: &[&str]) -> Out {
        let mut all = vec!["--host", host];
        all.extend_from_slice(args);
        Out::from(self.cmd(&all).env("PATH", gpu_path()).output().unwrap())
    }
    pub fn container_name_on(&self, host: &str) -> String {
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

    // A GPU workstation over ssh (tests/support/sshd.sh).
    /// The laptop: the test user *without* the docker group (every engine call provably goes
    /// through ssh), with its own ssh config naming the workstation `box` (and hosts for each
    /// fault), and an `ssh` on PATH that reads that config (ssh itself reads the passwd home's).
    pub fn laptop(name: &str, ws: &Workstation) -> Sandbox {
        let mut sb = Sandbox::new(name);
        sb.without_docker_group = true;
        sb.runtime_dir = Some(sb.root.join("xdg"));
        let ssh_dir = sb.root.join(".ssh");
        let bin = sb.root.join("bin");
        std::fs::create_dir_all(&ssh_dir).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        for key in ["client", "client-noclient", "client-gpu", "client-olddriver"] {
            std::fs::copy(ws.keys.join(key), ssh_dir.join(key)).unwrap();
        }
        let known_hosts = format!(
            "[127.0.0.1]:{0} {1}\n[localhost]:{0} {1}\n[127.1]:{0} {1}\n[127.0.1]:{0} {1}\n",
            ws.port, ws.host_key
        );
        std::fs::write(ssh_dir.join("known_hosts"), known_hosts).unwrap();
        // Aliases for the same user@host:port share ssh's master connection (ControlPath %C):
        // the one whose key changes the remote PATH names the host differently.
        let host = |alias: &str, user: &str, key: &str, port: &str, known: &str| {
            let name = match alias {
                "box-noclient" => "localhost",
                "box-gpu" => "127.1",
                "box-olddriver" => "127.0.1",
                _ => "127.0.0.1",
            };
            format!("Host {alias}\n  HostName {name}\n  Port {port}\n  User {user}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n", ssh_dir.join(key).display())
        };
        let known = ssh_dir.join("known_hosts").display().to_string();
        let config = [
            host("box", "dtu-remote", "client", &ws.port, &known),
            host("box-noclient", "dtu-remote", "client-noclient", &ws.port, &known),
            host("box-gpu", "dtu-remote", "client-gpu", &ws.port, &known),
            host("box-olddriver", "dtu-remote", "client-olddriver", &ws.port, &known),
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
        for file in ["client", "client-noclient", "client-gpu", "client-olddriver", "config"] {
            std::fs::set_permissions(ssh_dir.join(file), std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        sb.path = Some(format!("{}:{}", bin.display(), tools_path()));
        sb
    }
    /// The remote folder that stands for this sandbox's work folder (from the launcher's note).
    pub fn remote_folder(stderr: &str) -> PathBuf {
        let start =
            stderr.find("working in ").expect("the launcher says where it works") + "working in ".len();
        PathBuf::from(stderr[start..].split(" on ").next().unwrap())
    }
    /// ssh processes of this sandbox's laptop still running.
    pub fn ssh_processes(&self) -> Vec<String> {
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

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = match self.root.join(".ssh/config").exists() {
            true => self.run(&["--host", "ssh://box", "stop"]),
            false => self.run(&["stop"]),
        };
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
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
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// Asserts that stderr holds `text`, showing all of stderr when it does not.
    pub fn says(&self, text: &str) {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{}", self.stderr);
    }
    pub fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }
    /// A user error: one `error:` line with a hint, a non-zero exit, no panic.
    /// Progress notes may come first; the error is one `error:` line, then causes, then a hint.
    pub fn user_error(&self, code: i32) {
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

/// A fresh folder of this test run's own, `dtu-NAME-PID` in the temporary folder.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dtu-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------- the engine, the server, the CLI

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// stdout and stderr of a docker command (`docker logs` passes the container's stderr through).
pub fn docker_all(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn docker_on(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker").arg("-H").arg(host).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn token_of(url: &str) -> &str {
    url.split("token=").nth(1).expect("a tokenized URL")
}
pub fn port_of(url: &str) -> u16 {
    url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap()
}

/// The Python client (tests/support/jupyter_client.py) against a running server.
pub fn jupyter_client_check(url: &str) -> serde_json::Value {
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

/// Code run in a kernel of the server at `url`: (output, error).
pub fn run_in_kernel(url: &str, code: &str) -> (String, Option<String>) {
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

/// The Python client's `save` or `files` action against the server at `url` (its JSON).
pub fn jupyter_client(url: &str, action: &str, paths: &[&str]) -> serde_json::Value {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let base = format!("http://127.0.0.1:{}", port_of(url));
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/jupyter_client.py"))
        .args([&base, token_of(url), action])
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn http_status(port: u16, path: &str, token: Option<&str>) -> Option<u16> {
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
pub fn spawn_foreground(sb: &Sandbox, extra: &[&str]) -> (Child, String) {
    let mut args = vec!["jupyter", "--variant", "base", "--no-browser", "--pull", "never"];
    args.extend_from_slice(extra);
    let mut child = sb.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().expect("a URL line").unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

pub fn signal(child: &Child, sig: &str) {
    // The CLI runs under setpriv (which execs), so the child's pid is the CLI's.
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// Waits until the child printed `needle` on stderr (returns the text seen).
pub fn wait_for_stderr(child: &mut Child, needle: &str) -> String {
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

/// A child's stderr read on a thread, line by line, for tests that wait for several lines.
pub struct StderrWatch {
    lines: std::sync::mpsc::Receiver<String>,
}

impl StderrWatch {
    pub fn of(child: &mut Child) -> StderrWatch {
        let err = BufReader::new(child.stderr.take().expect("stderr piped"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in err.lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StderrWatch { lines }
    }
    /// The lines until one holds `needle` (that one included), or all seen within `limit`.
    pub fn until(&self, needle: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        let mut seen = String::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if line.contains(needle) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        seen
    }
}

pub fn owner(path: &Path) -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap())
}

pub fn tools_path() -> String {
    let python = std::env::var("DTU_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = Path::new(&python).parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

pub fn compose_bin() -> String {
    std::env::var("DTU_COMPOSE").unwrap_or_else(|_| "docker-compose".into())
}

pub fn validate_against_schema(file: &Path) {
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

// ---------------------------------------------------------------- fixtures of tests/run.sh

/// The engine started by tests/support/gpu-engine.sh (DTU_GPU_DOCKER_HOST). Without it the GPU
/// stub tests fail, unless DTU_SKIP_GPU_STUB says why they cannot run here.
pub fn gpu_engine() -> Option<String> {
    fixture(
        "GPU stub test",
        "set DTU_GPU_DOCKER_HOST (tests/support/gpu-engine.sh start)",
        "DTU_SKIP_GPU_STUB",
        env_var("DTU_GPU_DOCKER_HOST"),
    )
}

/// PATH with a stub nvidia-smi (and the stub hook, as the NVIDIA toolkit puts it on PATH).
pub fn gpu_path() -> String {
    format!("/run/dimtensor-up-gpu/bin:{}", stub_smi_path())
}

pub fn stub_smi_path() -> String {
    stub_smi_path_with("550.54.15")
}

/// `nvidia-smi -L` of the MIG stub: GPU 0 split into two slices.
pub const STUB_MIG_LIST: &str = "GPU 0: NVIDIA Stub GPU (UUID: GPU-00000000-1111-2222-3333-444444444444)\n  MIG 3g.40gb     Device  0: (UUID: MIG-aaaaaaaa-1111-2222-3333-444444444444)\n  MIG 1g.10gb     Device  1: (UUID: MIG-bbbbbbbb-1111-2222-3333-444444444444)\n";

/// PATH with a stub nvidia-smi whose GPU is split into MIG slices (`-L` lists them), and the
/// stub NVIDIA hook.
pub fn stub_smi_path_mig() -> String {
    let dir = std::env::temp_dir().join("dtu-stub-nvidia-smi-mig");
    std::fs::create_dir_all(&dir).unwrap();
    let smi = dir.join("nvidia-smi");
    std::fs::write(&smi, format!("#!/bin/sh\n# stub: one GPU in two MIG slices\nif [ \"$1\" = -L ]; then printf '%s' '{STUB_MIG_LIST}'; exit 0; fi\necho '0, NVIDIA Stub GPU, 550.54.15, 81559'\n")).unwrap();
    std::fs::set_permissions(&smi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("/run/dimtensor-up-gpu/bin:{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// PATH with a stub nvidia-smi that reports two GPUs, and the stub NVIDIA hook.
pub fn stub_smi_path_two_gpus() -> String {
    let dir = std::env::temp_dir().join("dtu-stub-nvidia-smi-two");
    std::fs::create_dir_all(&dir).unwrap();
    let smi = dir.join("nvidia-smi");
    std::fs::write(&smi, "#!/bin/sh\n# stub: two GPUs, as nvidia-smi --query-gpu prints them\nif [ \"$1\" = -L ]; then printf 'GPU 0: NVIDIA Stub GPU (UUID: GPU-0)\\nGPU 1: NVIDIA Stub GPU (UUID: GPU-1)\\n'; exit 0; fi\necho '0, NVIDIA Stub GPU, 550.54.15, 81559'\necho '1, NVIDIA Stub GPU, 550.54.15, 81559'\n").unwrap();
    std::fs::set_permissions(&smi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("/run/dimtensor-up-gpu/bin:{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// PATH with a stub nvidia-smi that reports one GPU on NVIDIA driver `driver`.
pub fn stub_smi_path_with(driver: &str) -> String {
    let dir = std::env::temp_dir().join(format!("dtu-stub-nvidia-smi-{driver}"));
    std::fs::create_dir_all(&dir).unwrap();
    let smi = dir.join("nvidia-smi");
    std::fs::write(&smi, format!("#!/bin/sh\n# stub: one GPU, as nvidia-smi --query-gpu prints it\necho '0, NVIDIA Stub GPU, {driver}, 81559'\n")).unwrap();
    std::fs::set_permissions(&smi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// An engine of tests/support/engines.sh.
pub struct OtherEngine {
    pub name: &'static str,
    pub host: String,
    pub runtime_dir: String,
}

/// Rootless Docker, rootless Podman and rootful Podman, as tests/support/engines.sh started them;
/// none (with the reason printed) where DTU_SKIP_OTHER_ENGINES says why they are not there.
pub fn other_engines() -> Vec<OtherEngine> {
    let Some(runtime_dir) = fixture(
        "other engines",
        "run tests/support/engines.sh start (tests/run.sh does)",
        "DTU_SKIP_OTHER_ENGINES",
        env_var("DTU_ENGINES_RUNTIME_DIR"),
    ) else {
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
        host: env_var(key).unwrap_or_else(|| panic!("{key} is set by tests/support/engines.sh")),
        runtime_dir: runtime_dir.clone(),
    })
    .collect()
}

/// The "remote workstation" of tests/support/sshd.sh (the same engine, reached only through ssh).
pub struct Workstation {
    port: String,
    keys: PathBuf,
    host_key: String,
}

/// The workstation tests/support/sshd.sh set up (as root); None (with the reason printed) where
/// DTU_SKIP_SSH says why it is not there.
pub fn workstation() -> Option<Workstation> {
    let found = match (env_var("DTU_SSH_PORT"), env_var("DTU_SSH_KEYS"), env_var("DTU_SSH_HOST_KEY")) {
        (Some(port), Some(keys), Some(host_key)) if is_root() => {
            Some(Workstation { port, keys: PathBuf::from(keys), host_key })
        }
        _ => None,
    };
    fixture(
        "ssh tests",
        "run tests/support/sshd.sh start (tests/run.sh does, as root)",
        "DTU_SKIP_SSH",
        found,
    )
}

/// The registry name tests/arm64.sh built the arm64 images under; None (with the reason
/// printed) where DTU_SKIP_ARM64 says why they were not built.
pub fn arm64_registry() -> Option<String> {
    fixture(
        "arm64 under emulation",
        "run tests/arm64.sh (tests/run.sh does, as root)",
        "DTU_SKIP_ARM64",
        env_var("DTU_ARM64_REGISTRY"),
    )
}
