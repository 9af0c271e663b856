//! The sandbox a test runs the CLI in (its own settings, state and work folder, as the non-root
//! test user when the tests run as root; a laptop for the ssh workstation) and the CLI's output.

use dimtensor_up::for_tests::labels;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::*;

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
            &format!("label={}=true", labels::MANAGED),
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
        Out::from(self.cmd(&all).env("PATH", StubSmi::ONE.path_with_hook()).output().unwrap())
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
