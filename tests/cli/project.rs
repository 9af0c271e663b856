//! The researcher's own environment: nothing saved from the lab is lost (every place the file
//! browser offers, through stop, kill -9 and an engine restart), the project's requirements.txt
//! built into a project image once (PyPI, and a private index with a password), the packages
//! installed by hand kept per folder, pip's failures and Ctrl-C leaving nothing, the same on
//! rootless Podman and over ssh, and compose. Needs the Docker engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// A tiny package from PyPI that no lab has.
const FROM_PYPI: &str = "pyjokes==0.8.3";

fn write_as(path: &Path, text: &str, uid: u32) {
    std::fs::write(path, text).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

/// A wheel of module `name` (tests/support/private_index.py), in `folder`, owned by `uid`.
fn wheel(folder: &Path, name: &str, uid: u32) -> PathBuf {
    std::fs::create_dir_all(folder).unwrap();
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/private_index.py"))
        .args(["wheel", &folder.display().to_string(), name, "1.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(folder).status().unwrap();
    path
}

/// `pip install` of a wheel in the work folder, as `%pip install` does it in a notebook.
fn pip_install_in_lab(url: &str, wheel_in_container: &str) {
    let (output, error) = run_in_kernel(
        url,
        &format!("import subprocess, sys\nr = subprocess.run([sys.executable, '-m', 'pip', 'install', '{wheel_in_container}'], capture_output=True, text=True)\nprint(r.returncode, r.stdout[-300:], r.stderr[-300:])"),
    );
    assert!(output.starts_with("0 "), "pip install in the lab: {output} {error:?}");
}

/// What the lab's kernel can import, a line each: "name: lab" (the image's), "name: kept (mine)"
/// (the packages volume, owned by the user), or "name: missing".
fn imports(url: &str, modules: &[&str]) -> String {
    let code = modules
        .iter()
        .map(|m| format!("try:\n    import {m}\n    f = {m}.__file__\n    print('{m}:', ('kept (mine)' if os.stat(f).st_uid == os.getuid() else 'kept (not mine)') if f.startswith('/home/dimtensor/.packages/') else 'lab')\nexcept ImportError:\n    print('{m}: missing')\n"))
        .collect::<String>();
    let (output, error) = run_in_kernel(url, &format!("import os\n{code}"));
    assert_eq!(error, None, "{output}");
    output.trim().to_string()
}

/// The build's one line: what pip installed, or (the same files built before on this engine,
/// as in an earlier test run) the engine's build cache.
fn installed_or_cached(out: &Out, package: &str) {
    let line = out.stderr.lines().find(|l| l.starts_with("built dimtensor-up-project/")).unwrap_or_default();
    assert!(
        line.ends_with(&format!("installed {package}"))
            || line.ends_with("its layer came from the engine's build cache"),
        "{}",
        out.stderr
    );
}

/// The project images built for a folder.
fn project_images(sb: &Sandbox, folder: &str) -> Vec<String> {
    let filter = format!("label=org.dimtensor-up.project-folder={folder}");
    sb.docker(&["images", "--filter", &filter, "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap().display().to_string()
}

#[test]
fn nothing_saved_from_the_lab_is_lost() {
    let _engine = engine_test!();
    let sb = Sandbox::new("saves");
    let data = sb.root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    Command::new("chown").args([&format!("{0}:{0}", sb.uid())]).arg(&data).status().unwrap();
    let data_flag = data.display().to_string();
    let url = sb.start_base_lab(&["--data", &data_flag]).ok().last_line().to_string();

    let saved = jupyter_client(
        &url,
        "save",
        &["work/kept.ipynb", "data/kept.ipynb", "home.ipynb", "notebooks/01-units-basics.ipynb"],
    );
    // The file browser opens in the user's folder: "New notebook" there is kept.
    assert_eq!(saved["first_view"], "work", "{saved}");
    assert_eq!(saved["new_notebook"]["status"], 201, "{saved}");
    assert_eq!(saved["new_notebook"]["path"], "work/Untitled.ipynb", "{saved}");
    assert_eq!(
        (saved["work/kept.ipynb"]["status"].as_u64(), saved["data/kept.ipynb"]["status"].as_u64()),
        (Some(201), Some(201))
    );
    // Above it, the container's own files: refused at save, saying why and where to save.
    for refused in ["home.ipynb", "notebooks/01-units-basics.ipynb"] {
        assert_eq!(saved[refused]["status"], 403, "{saved}");
        let message = saved[refused]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("Not saved: /{refused} is inside the container"))
                && message.contains("work/"),
            "{message}"
        );
    }
    // An example opens read-only (JupyterLab then offers Save As, and never autosaves it).
    let files = jupyter_client(&url, "files", &["notebooks/01-units-basics.ipynb", "work/kept.ipynb"]);
    assert_eq!(files["notebooks/01-units-basics.ipynb"]["writable"], false, "{files}");
    assert_eq!(files["work/kept.ipynb"]["writable"], true, "{files}");
    for file in [sb.work.join("kept.ipynb"), sb.work.join("Untitled.ipynb"), data.join("kept.ipynb")] {
        assert_eq!(owner(&file), sb.uid(), "{} is the user's", file.display());
    }

    let kept = ["work/kept.ipynb", "work/Untitled.ipynb", "data/kept.ipynb"];
    let all_there = |url: &str, after: &str| {
        let files = jupyter_client(url, "files", &kept);
        for path in kept {
            assert_eq!(files[path]["status"], 200, "{path} after {after}: {files}");
        }
    };
    // stop says only what is true, and the files are there after it.
    let stop = sb.run(&["stop"]).ok();
    stop.says(&format!("(files in {} kept", canonical(&sb.work)));
    let url = sb.start_base_lab(&["--data", &data_flag]).ok().last_line().to_string();
    all_there(&url, "stop and start");
    // kill -9 of the container.
    sb.docker(&["kill", "-s", "KILL", &sb.container_name()]);
    let url = sb.start_base_lab(&["--data", &data_flag]).ok().last_line().to_string();
    all_there(&url, "kill -9 and start");
    sb.run(&["stop"]).ok();

    // An engine restart: the GPU stub engine's (the main engine runs the other tests).
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("saves-restart");
    let start = |sb: &Sandbox| {
        sb.on_gpu_engine(
            &gpu_host,
            &[
                "jupyter", "--variant", "base", "--gpus", "none", "--detach", "--no-browser", "--pull",
                "never",
            ],
        )
        .ok()
        .last_line()
        .to_string()
    };
    let url = start(&sb);
    let saved = jupyter_client(&url, "save", &["work/kept.ipynb"]);
    assert_eq!(saved["work/kept.ipynb"]["status"], 201, "{saved}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/gpu-engine.sh");
    assert!(Command::new("bash").args([script, "stop"]).status().unwrap().success());
    let restarted = Command::new("bash").args([script, "start"]).output().unwrap();
    assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    let url = start(&sb);
    let files = jupyter_client(&url, "files", &["work/kept.ipynb", "work/Untitled.ipynb"]);
    assert_eq!(
        (files["work/kept.ipynb"]["status"].as_u64(), files["work/Untitled.ipynb"]["status"].as_u64()),
        (Some(200), Some(200)),
        "after an engine restart: {files}"
    );
    sb.on_gpu_engine(&gpu_host, &["stop"]).ok();
}

#[test]
fn the_projects_packages_are_built_once_and_hand_installs_are_kept() {
    let _engine = engine_test!();
    let sb = Sandbox::new("project");
    let uid = sb.uid();
    let folder = canonical(&sb.work);
    write_as(&sb.work.join("requirements.txt"), &format!("{FROM_PYPI}\n"), uid);
    write_as(&sb.work.join("environment.yml"), "name: study\n", uid);
    wheel(&sb.work.join("wheels"), "dtu_hand", uid);

    let first = sb.start_base_lab(&[]).ok();
    first.says("environment.yml is not used: the labs have no conda");
    first.says("packages from requirements.txt: building dimtensor-up-project/");
    first.says("(first build for this folder)");
    installed_or_cached(&first, "pyjokes-0.8.3");
    let url = first.last_line().to_string();
    assert_eq!(imports(&url, &["pyjokes"]), "pyjokes: lab");
    pip_install_in_lab(&url, "/home/dimtensor/work/wheels/dtu_hand-1.0-py3-none-any.whl");
    // Kept in the folder's packages volume, owned by the user, behind the lab's packages.
    assert_eq!(imports(&url, &["dtu_hand"]), "dtu_hand: kept (mine)");
    let images = project_images(&sb, &folder);
    assert_eq!(images.len(), 1, "{images:?}");
    let history = sb.docker(&["history", "--no-trunc", &images[0]]);
    assert!(history.contains("sh /tmp/project/install.sh"), "{history}");

    let stop = sb.run(&["stop"]).ok();
    stop.says("packages installed by hand kept in volume dimtensor-up-packages-");
    // Unchanged files: no build call; the hand-installed package is still there, and said once.
    let second = sb.start_base_lab(&[]).ok();
    second.says("packages from requirements.txt: dimtensor-up-project/");
    second.says("(unchanged)");
    assert!(!second.stderr.contains("building"), "{}", second.stderr);
    second.says("1 package(s) installed by hand in this folder's lab are kept: dtu_hand 1.0");
    second.says("pip freeze --user >> requirements.txt");
    let url = second.last_line().to_string();
    assert_eq!(imports(&url, &["pyjokes", "dtu_hand"]), "pyjokes: lab\ndtu_hand: kept (mine)");
    sb.run(&["stop"]).ok();

    // Without the packages installed by hand: the project's still there, the hand-installed not.
    let url = sb.start_base_lab(&["--no-user-packages"]).ok().last_line().to_string();
    let seen = imports(&url, &["pyjokes", "dtu_hand"]);
    assert!(seen.starts_with("pyjokes: lab") && seen.ends_with("dtu_hand: missing"), "{seen}");
    sb.run(&["stop"]).ok();

    // A changed file: a running lab says it runs the old packages; after a stop, one rebuild,
    // saying what changed.
    let url = sb.start_base_lab(&[]).ok().last_line().to_string();
    write_as(&sb.work.join("requirements.txt"), &format!("{FROM_PYPI}\n# pinned for the paper\n"), uid);
    let reused = sb.start_base_lab(&[]).ok();
    assert_eq!(reused.last_line(), url);
    reused.says("runs with other project files than now (requirements.txt)");
    sb.run(&["stop"]).ok();
    let changed = sb.start_base_lab(&["--no-user-packages"]).ok();
    changed.says("(requirements.txt changed)");
    assert_eq!(project_images(&sb, &folder).len(), 2);
    sb.run(&["stop"]).ok();

    // compose: the project image by its tag, and the same packages volume.
    let out = sb.compose_up().ok();
    out.says("(unchanged)");
    let yaml = std::fs::read_to_string(sb.work.join("compose.yaml")).unwrap();
    assert!(
        yaml.contains("image: dimtensor-up-project/") && yaml.contains("name: dimtensor-up-packages-"),
        "{yaml}"
    );
    let seen = imports(out.last_line(), &["pyjokes", "dtu_hand"]);
    assert!(seen.starts_with("pyjokes: lab") && seen.ends_with("dtu_hand: kept (mine)"), "{seen}");
    sb.run(&["stop"]).ok();

    // prune: the older project image goes (the dry run lists it first), the newest stays.
    let dry = sb.run(&["prune", "--dry-run"]).ok();
    assert!(dry.stdout.contains(&format!("would remove {}", images[0])), "{}", dry.stdout);
    assert_eq!(project_images(&sb, &folder).len(), 2, "a dry run removes nothing");
    let pruned = sb.run(&["prune"]).ok();
    assert!(pruned.stdout.contains(&format!("removed {}", images[0])), "{}", pruned.stdout);
    let left = project_images(&sb, &folder);
    assert!(left.len() == 1 && left[0] != images[0], "{left:?}");
    assert!(
        !sb.docker(&["images", "-q", "python:3.11-slim-bookworm"]).is_empty(),
        "prune leaves others' images"
    );
}

/// A private index (tests/support/private_index.py) on the engine's bridge address, for builds.
struct PrivateIndex {
    child: Child,
    url_with: Box<dyn Fn(&str) -> String>,
    host: String,
}

impl PrivateIndex {
    fn start(wheels: &Path) -> PrivateIndex {
        let host = bridge_gateway();
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/private_index.py"))
            .args(["serve", &host, "0", "ana", "s3cret-index-pw", &wheels.display().to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        let port = line.trim().strip_prefix("ready ").expect("the index listens").to_string();
        let at = host.clone();
        PrivateIndex {
            child,
            url_with: Box::new(move |password| format!("http://ana:{password}@{at}:{port}/simple/")),
            host,
        }
    }
    /// The launcher with this index (and `password`) as pip's only index.
    fn cmd(&self, sb: &Sandbox, password: &str, args: &[&str]) -> Command {
        let mut cmd = sb.cmd(args);
        cmd.env("PIP_INDEX_URL", (self.url_with)(password)).env("PIP_TRUSTED_HOST", &self.host);
        cmd
    }
}

/// This machine's address on the engine's default bridge, where a build container reaches it. A
/// daemon's first start may name only the bridge's subnet: its gateway is then the subnet's first
/// address, as Docker assigns it.
fn bridge_gateway() -> String {
    let gateway =
        docker(&["network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"]);
    if !gateway.is_empty() {
        return gateway;
    }
    let subnet = docker(&["network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"]);
    let network: std::net::Ipv4Addr = subnet
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("the bridge's subnet: {subnet:?}"));
    std::net::Ipv4Addr::from(u32::from(network) + 1).to_string()
}

impl Drop for PrivateIndex {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn bad_requirements_a_wrong_password_and_ctrl_c_leave_nothing() {
    let _engine = engine_test!();
    let sb = Sandbox::new("project-errors");
    let uid = sb.uid();
    let folder = canonical(&sb.work);
    let base_lab = ["jupyter", "--variant", "base", "--detach", "--no-browser", "--pull", "never"];
    let requirements = sb.work.join("requirements.txt");

    let cases = [
        (
            "numpy>=2\n",
            "error: `numpy>=2` conflicts with the lab's numpy==1.26.4",
            "loosen the requirement in requirements.txt",
        ),
        (
            "no-such-package-dtu-4321\n",
            "error: no package `no-such-package-dtu-4321` on the package index",
            "check the name in requirements.txt",
        ),
    ];
    for (text, error, hint) in cases {
        write_as(&requirements, text, uid);
        let out = sb.run(&base_lab);
        out.user_error(4);
        out.says(error);
        out.says(hint);
        assert!(
            sb.leftovers().is_empty() && project_images(&sb, &folder).is_empty(),
            "{text}: nothing is left"
        );
    }

    // A private index with a password: pip's settings from the environment reach the build,
    // and none of it reaches the image.
    let wheels = sb.root.join("index");
    wheel(&wheels, "dtu_private", uid);
    wheel(&wheels, "dtu_slow", uid);
    let index = PrivateIndex::start(&wheels);
    write_as(&requirements, "dtu_private==1.0\n", uid);
    let out = Out::from(index.cmd(&sb, "s3cret-index-pw", &base_lab).output().unwrap()).ok();
    installed_or_cached(&out, "dtu_private-1.0");
    assert!(!out.stderr.contains("s3cret-index-pw"), "{}", out.stderr);
    assert_eq!(imports(out.last_line(), &["dtu_private"]), "dtu_private: lab");
    let built = project_images(&sb, &folder);
    assert_eq!(built.len(), 1);
    for view in
        [sb.docker(&["history", "--no-trunc", &built[0]]), sb.docker(&["image", "inspect", &built[0]])]
    {
        assert!(!view.contains("s3cret-index-pw") && !view.contains("PIP_INDEX_URL"), "{view}");
    }
    let layers = Command::new("sh")
        .args(["-c", &format!("docker save {} | grep -a -c s3cret-index-pw || true", built[0])])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&layers.stdout).trim(), "0", "the password is in no layer");
    sb.run(&["stop"]).ok();

    write_as(&requirements, "dtu_private==1.0\n# again\n", uid);
    let out = Out::from(index.cmd(&sb, "wrong-pw", &base_lab).output().unwrap());
    out.user_error(4);
    out.says("error: the package index refused the credentials");
    out.says("401 Client Error: Unauthorized");
    assert!(!out.stderr.contains("wrong-pw"), "pip's log masks the password: {}", out.stderr);
    assert!(sb.leftovers().is_empty() && project_images(&sb, &folder) == built, "nothing is left");

    // Ctrl-C while pip waits for the index: exit 130, nothing tagged, no container, the
    // previous project image still there.
    write_as(&requirements, "dtu_slow==1.0\n", uid);
    let mut child = index
        .cmd(&sb, "s3cret-index-pw", &base_lab)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_stderr(&mut child, "building dimtensor-up-project/");
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130));
    assert!(sb.leftovers().is_empty(), "no container");
    assert_eq!(project_images(&sb, &folder), built, "nothing tagged; the previous image stays");
}

#[test]
fn rootless_podman_and_ssh_build_the_project_and_keep_hand_installs() {
    let _engine = engine_test!();
    for engine in other_engines().into_iter().filter(|e| e.name == "rootless Podman") {
        let sb = Sandbox::on_engine("project-podman", &engine);
        let uid = sb.uid();
        write_as(&sb.work.join("requirements.txt"), &format!("{FROM_PYPI}\n"), uid);
        wheel(&sb.work.join("wheels"), "dtu_hand", uid);
        let first = sb.start_base_lab(&[]).ok();
        installed_or_cached(&first, "pyjokes-0.8.3");
        let url = first.last_line().to_string();
        let saved = jupyter_client(&url, "save", &["work/kept.ipynb", "home.ipynb"]);
        assert_eq!(
            (saved["work/kept.ipynb"]["status"].as_u64(), saved["home.ipynb"]["status"].as_u64()),
            (Some(201), Some(403)),
            "rootless Podman: {saved}"
        );
        assert_eq!(owner(&sb.work.join("kept.ipynb")), uid, "rootless Podman: a save is the user's");
        pip_install_in_lab(&url, "/home/dimtensor/work/wheels/dtu_hand-1.0-py3-none-any.whl");
        sb.run(&["stop"]).ok();
        let again = sb.start_base_lab(&[]).ok();
        again.says("(unchanged)");
        let seen = imports(again.last_line(), &["pyjokes", "dtu_hand"]);
        assert!(
            seen.starts_with("pyjokes: lab") && seen.ends_with("dtu_hand: kept (mine)"),
            "rootless Podman: {seen}"
        );
        sb.run(&["stop"]).ok();
    }

    let Some(ws) = workstation() else { return };
    let sb = Sandbox::laptop("project-ssh", &ws);
    // The project's files are the remote's: a folder of the remote user there.
    let remote = PathBuf::from(format!("/home/dtu-remote/project-{}", std::process::id()));
    std::fs::create_dir_all(&remote).unwrap();
    let remote_uid = 4331;
    write_as(&remote.join("requirements.txt"), &format!("{FROM_PYPI}\n"), remote_uid);
    wheel(&remote.join("wheels"), "dtu_hand", remote_uid);
    Command::new("chown").args([&format!("{remote_uid}:{remote_uid}")]).arg(&remote).status().unwrap();
    let workdir = remote.display().to_string();
    let start = || {
        let mut child = sb
            .cmd(&[
                "--host", "ssh://box", "jupyter", "--variant", "base", "--no-browser", "--pull", "never",
                "--workdir", &workdir,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let url = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()))
            .next()
            .expect("a URL")
            .unwrap();
        let stderr = wait_for_stderr(&mut child, "until Ctrl-C");
        (child, url, stderr)
    };
    let (mut child, url, stderr) = start();
    assert!(stderr.contains("installed pyjokes-0.8.3") || stderr.contains("build cache"), "{stderr}");
    let saved = jupyter_client(&url, "save", &["work/kept.ipynb", "home.ipynb"]);
    assert_eq!(
        (saved["work/kept.ipynb"]["status"].as_u64(), saved["home.ipynb"]["status"].as_u64()),
        (Some(201), Some(403)),
        "over ssh: {saved}"
    );
    assert_eq!(owner(&remote.join("kept.ipynb")), remote_uid, "over ssh: a save is the remote user's");
    pip_install_in_lab(&url, "/home/dimtensor/work/wheels/dtu_hand-1.0-py3-none-any.whl");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    let (mut child, url, stderr) = start();
    assert!(stderr.contains("(unchanged)") && stderr.contains("installed by hand"), "{stderr}");
    let seen = imports(&url, &["pyjokes", "dtu_hand"]);
    assert!(seen.starts_with("pyjokes: lab") && seen.ends_with("dtu_hand: kept (mine)"), "over ssh: {seen}");
    signal(&child, "INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(0));
    let _ = std::fs::remove_dir_all(&remote);
}
