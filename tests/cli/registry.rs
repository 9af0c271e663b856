//! A real registry: TLS from a test CA, a login, the release workflow's tags as manifest lists
//! (tests/support/registry.sh, as root; DTU_SKIP_REGISTRY says why not): credentials, refusals,
//! --pull policies, newer images, Ctrl-C mid-download, a registry that is down. Needs the Docker
//! engine.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

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
    let found = match (
        env_var("DTU_REGISTRY"),
        env_var("DTU_REGISTRY_USER"),
        env_var("DTU_REGISTRY_PASSWORD"),
        env_var("DTU_REGISTRY_CONTAINER"),
    ) {
        (Some(repo), Some(user), Some(password), Some(container)) => {
            Some(TestRegistry { repo, user, password, container })
        }
        _ => None,
    };
    fixture(
        "registry tests",
        "run tests/support/registry.sh start (tests/run.sh does, as root)",
        "DTU_SKIP_REGISTRY",
        found,
    )
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

/// Pull through the launcher from a real registry with TLS and a login: credentials from the
/// docker config and from a credential helper, refusals, --pull policies, the newer-image line,
/// digests in `variants` and `ps`, Ctrl-C mid-download, a registry that is down, and the
/// architecture picked from the manifest list.
#[test]
fn images_come_from_a_real_registry_with_tls_and_a_login() {
    let _engine = engine_test!();
    let Some(reg) = test_registry() else { return };
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
