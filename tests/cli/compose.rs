//! Compose files: the examples in compose/ are fresh and valid against the compose-spec schema,
//! `compose --up` serves the folder and `down` keeps files and volume, and the GPU file carries the
//! device request. Needs the Docker engine, Docker Compose and the Python test tools
//! (DTU_COMPOSE, DTU_TEST_PYTHON; tests/run.sh), and the GPU stub engine for the GPU file.

use std::path::Path;
use std::process::Command;

use crate::support::*;

#[test]
fn compose_examples_in_the_repo_are_fresh_and_valid() {
    let _engine = engine_test!();
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
    let _engine = engine_test!();
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
    // The rule for generated files: a file as written is replaced (the token in .env kept), an
    // edited one only with --force, and then kept as compose.yaml.bak.
    let env_before = std::fs::read(&env_file).unwrap();
    sb.run(&["compose", "--variant", "base", "--gpus", "none"]).ok();
    assert_eq!(std::fs::read(&env_file).unwrap(), env_before, "the token stays");
    let edited = format!("{}# mine\n", std::fs::read_to_string(&compose_file).unwrap());
    std::fs::write(&compose_file, &edited).unwrap();
    let out = Out::from(sb.cmd(&["compose", "--variant", "base", "--gpus", "none"]).output().unwrap());
    out.user_error(2);
    out.says("was edited since dimtensor-up wrote it");
    assert_eq!(std::fs::read_to_string(&compose_file).unwrap(), edited);
    sb.run(&["compose", "--variant", "base", "--gpus", "none", "--force"]).ok().says("compose.yaml.bak");
    assert_eq!(std::fs::read_to_string(sb.work.join("compose.yaml.bak")).unwrap(), edited);
    assert_eq!(std::fs::read(&env_file).unwrap(), env_before, "the token stays");
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
    let _engine = engine_test!();
    let Some(gpu_host) = gpu_engine() else { return };
    let sb = Sandbox::new("composegpu");
    let out = Out::from(
        sb.cmd(&[
            "--host", &gpu_host, "compose", "--variant", "base", "--gpus", "all", "--up", "--no-browser",
        ])
        .env("PATH", format!("{}:{}", StubSmi::ONE.path_with_hook(), tools_path()))
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
