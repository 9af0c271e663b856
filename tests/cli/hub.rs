//! The hub: a JupyterHub on the engine giving each user a lab of their own (and a GPU profile on
//! the GPU stub engine), and the values for the Kubernetes chart. Needs the Docker engine with the
//! hub image and the Python test tools (tests/run.sh).

use std::path::Path;
use std::process::Command;

use dimtensor_up::for_tests::labels;

use crate::support::*;

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

/// A hub `hub --up` started in the sandbox's folder (on `host`, else the default engine): its
/// address, files and admin password, removed when the test ends.
struct RunningHub {
    /// http://127.0.0.1:PORT, without /hub/.
    url: String,
    dir: std::path::PathBuf,
    project: String,
    admin_password: String,
    _cleanup: HubCleanup,
}

impl RunningHub {
    fn of(out: &Out, sb: &Sandbox, host: Option<&str>) -> RunningHub {
        let dir = sb.work.join("dimtensor-hub");
        let project = hub_project(&dir);
        let admin_password = std::fs::read_to_string(dir.join("admin-password")).unwrap().trim().to_string();
        RunningHub {
            url: out.last_line().trim_end_matches("/hub/").to_string(),
            _cleanup: HubCleanup { host: host.map(str::to_string), project: project.clone() },
            dir,
            project,
            admin_password,
        }
    }
    /// A user who signed up and whom the admin authorized; their API token.
    fn user(&self, name: &str) -> String {
        let password = format!("{name}-password-1");
        hub_client(&self.url, &["signup", name, &password]);
        hub_client(&self.url, &["authorize", "admin", &self.admin_password, name]);
        let t = hub_client(&self.url, &["token", name, &password]);
        t["token"].as_str().unwrap_or_else(|| panic!("{name} signs in: {t}")).to_string()
    }
}

#[test]
fn a_hub_gives_each_user_a_lab_of_their_own_that_outlives_the_hub() {
    let _engine = engine_test!();
    let sb = Sandbox::new("hub");
    let out = sb
        .run(&[
            "hub", "--labs", "base", "--gpus", "none", "--up", "--no-browser", "--pull", "never",
            "--timeout", "300",
        ])
        .ok();
    let url = out.last_line().to_string();
    assert!(url.starts_with("http://127.0.0.1:80") && url.ends_with("/hub/"), "{url}\n{}", out.stderr);
    let running = RunningHub::of(&out, &sb, None);
    let (hub, hub_dir, project) = (running.url.clone(), running.dir.clone(), running.project.clone());
    validate_against_schema(&hub_dir.join("compose.yaml"));
    let meta = std::fs::metadata(hub_dir.join("admin-password")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
    let admin_password = running.admin_password.clone();
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
    // Saves land in the user's own volume; elsewhere in the lab they are refused, not lost.
    let saved = lab_client(alice_url, &alice, &["save", "work/hub-kept.ipynb", "home.ipynb"]);
    assert_eq!(
        (saved["work/hub-kept.ipynb"]["status"].as_u64(), saved["home.ipynb"]["status"].as_u64()),
        (Some(201), Some(403)),
        "{saved}"
    );
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
    assert!(
        taken.stderr.contains("is already in use by dimtensor-up server")
            && !sb.work.join("other-hub").exists(),
        "{}",
        taken.stderr
    );
    let logs = sb.run(&["logs", &project]).ok();
    assert!(logs.stdout.contains("JupyterHub") || logs.stderr.contains("JupyterHub"), "the hub's log");

    // Stop: the hub and both labs go, the accounts and homes stay.
    let stopped = sb.run(&["stop", &project]).ok();
    stopped.says("and 2 running lab(s)");
    assert_eq!(
        sb.docker(&["ps", "-aq", "--filter", &format!("label={}", labels::HUB)]).trim(),
        "",
        "no lab left"
    );
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
    let _engine = engine_test!();
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
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
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
    let running = RunningHub::of(&out, &sb, Some(&gpu_host));
    let project = running.project.clone();
    let token = running.user("carol");
    let lab = hub_client(&running.url, &["spawn", "carol", &token, "base-gpu"]);
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

#[test]
fn one_gpu_each_gives_every_user_a_gpu_of_their_own_and_says_who_holds_them() {
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("hub-gpu-each");
    let out = Out::from(
        sb.cmd(&[
            "--host", &gpu_host, "hub", "--labs", "base", "--gpus", "all", "--one-gpu-each", "--up",
            "--no-browser", "--pull", "never", "--timeout", "300",
        ])
        .env("PATH", StubSmi { gpus: 2, ..StubSmi::ONE }.path_with_hook())
        .output()
        .unwrap(),
    )
    .ok();
    out.says("profiles: base, base-gpu");
    let running = RunningHub::of(&out, &sb, Some(&gpu_host));
    let (hub, project) = (running.url.clone(), running.project.clone());
    let tokens: std::collections::HashMap<&str, String> =
        ["alice", "bob", "carol"].into_iter().map(|user| (user, running.user(user))).collect();
    let spawn = |user: &str| hub_client(&hub, &["spawn", user, &tokens[user], "base-gpu"]);
    let stop = |user: &str| hub_client(&hub, &["stop", user, &tokens[user]]);
    let gpu_of = |user: &str| {
        docker_on(
            &gpu_host,
            &["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", &format!("{project}-{user}")],
        )
    };
    for (user, gpu) in [("alice", "0"), ("bob", "1")] {
        let lab = spawn(user);
        assert!(lab["url"].is_string(), "{user} gets a lab: {lab}");
        assert!(gpu_of(user).contains(&format!(r#""DeviceIDs":["{gpu}"]"#)), "{user}: {}", gpu_of(user));
    }
    // Both GPUs are held: the third user is told by whom.
    let refused = spawn("carol");
    assert!(refused["url"].is_null(), "{refused}");
    assert!(
        refused["body"]
            .as_str()
            .unwrap_or_default()
            .contains("all 2 GPUs are in use (GPU 0: alice, GPU 1: bob)"),
        "{refused}"
    );
    // A user gets their own GPU back while it is free, even when another is free first.
    stop("alice");
    stop("bob");
    assert!(spawn("bob")["url"].is_string());
    assert!(gpu_of("bob").contains(r#""DeviceIDs":["1"]"#), "bob keeps GPU 1: {}", gpu_of("bob"));
    assert!(spawn("carol")["url"].is_string());
    assert!(gpu_of("carol").contains(r#""DeviceIDs":["0"]"#), "carol: {}", gpu_of("carol"));
}
